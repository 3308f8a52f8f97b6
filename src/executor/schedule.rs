//! How operations move: which one runs next on a resource, timeouts, cancels, recurring
//! re-arming, duplicate merging and bounds (protocol.md 11.1-11.4).

use std::time::Duration;

use log::{debug, info};

use super::operation::Operation;
use super::operation::{Ending, FirstRun, Now, OpId, Run, State};
use super::request::ExecRequest;
use super::{journal, Effect, Executor};
use crate::agents::{self, Prepared};
use crate::agents::{ExecStatus, OpResult};
use crate::logging::escaped;

impl Executor {
    /// Starts the next operation of `rsc_id` if it is idle and one is due; returns whether one
    /// was started. Due are: recurring operations whose interval has passed (earliest first),
    /// then the head of the queue once its start delay is over (it holds up the rest).
    pub(super) fn dispatch_next(&mut self, rsc_id: &str, now: Now) -> bool {
        // Whatever happens, look at this resource again when it next changes or comes due.
        self.timetable.touch(rsc_id);
        let Some(rsc) = self.resources.get(rsc_id) else {
            return false;
        };
        if rsc.running.is_some() {
            return false;
        }
        let queued = rsc
            .pending
            .front()
            .and_then(|id| match self.ops.get(id)?.state {
                State::Queued { ready_at } if ready_at <= now.mono => Some((ready_at, *id, true)),
                _ => None,
            });
        let recurring = rsc
            .recurring
            .iter()
            .filter_map(|id| match self.ops.get(id)?.state {
                State::Waiting { due } if due <= now.mono => Some((due, *id, false)),
                _ => None,
            })
            .min_by_key(|c| c.0);
        // A recurring run that came due while the resource was busy goes before the queue,
        // as the original's services layer starts its blocked runs first.
        let (_, op, from_queue) = match (queued, recurring) {
            (_, Some(r)) => r,
            (Some(q), None) => q,
            (None, None) => return false,
        };
        self.start(rsc_id, op, from_queue, now);
        true
    }

    fn start(&mut self, rsc_id: &str, id: OpId, from_queue: bool, now: Now) {
        let (Some(rsc), Some(op)) = (self.resources.get_mut(rsc_id), self.ops.get_mut(&id)) else {
            return;
        };
        rsc.running = Some(id);
        if from_queue {
            rsc.pending.pop_front();
            if op.is_recurring() {
                rsc.recurring.push(id);
            }
            op.first_run = Some(FirstRun {
                run_time: now.epoch,
                queue_time_ms: millis(now.mono.saturating_duration_since(op.queued_at)),
            });
        }
        op.has_run = true;
        #[cfg(feature = "class-systemd")]
        let op_timeout_ms = op.timeout_ms;
        let deadline =
            (op.timeout_ms > 0).then(|| now.mono + Duration::from_millis(u64::from(op.timeout_ms)));
        if let Some(at) = deadline {
            self.timetable.add_deadline(at, id);
        }
        let kill_agent_only = op
            .params
            .iter()
            .any(|(k, v)| k == "CRM_meta_on_fail" && v == "block");
        debug!(
            "rsc={rsc_id} op={}_{} call={} starts",
            op.action, op.interval_ms, op.call_id
        );
        let prepared =
            self.agents
                .prepare(&rsc.def, rsc_id, &op.action, op.interval_ms, &op.params);
        let mapping = match &prepared {
            Prepared::Run { mapping, .. } => *mapping,
            Prepared::Finished(_) => agents::Mapping::Ocf,
            #[cfg(feature = "class-systemd")]
            Prepared::Unit { .. } => agents::Mapping::Ocf,
        };
        // A unit action is bounded by the shell (its timeout plus the original's grace), not
        // by a kill: no deadline of ours.
        #[cfg(feature = "class-systemd")]
        let deadline = match (&prepared, deadline) {
            (Prepared::Unit { .. }, Some(at)) => {
                self.timetable.remove_deadline(at, id);
                None
            }
            (_, d) => d,
        };
        op.set_state(State::Running(Run {
            started: now.mono,
            pid: None,
            deadline,
            ending: None,
            kill_agent_only,
            mapping,
            reported: false,
        }));
        match prepared {
            Prepared::Run { invocation, .. } => {
                self.children += 1;
                self.effects.push(Effect::Spawn { op: id, invocation });
            }
            Prepared::Finished(result) => self.finish_run(id, result, false, now),
            #[cfg(feature = "class-systemd")]
            Prepared::Unit {
                action,
                agent,
                or_else,
            } => self.effects.push(Effect::RunUnit {
                op: id,
                action,
                agent,
                timeout_ms: op_timeout_ms,
                or_else,
            }),
        }
    }

    /// Reports a finished run, then re-arms a recurring operation for `interval` after now, or
    /// forgets the operation.
    pub(super) fn finish_run(&mut self, id: OpId, result: OpResult, ran: bool, now: Now) {
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let (exec_ms, pid) = match &op.state {
            State::Running(run) => {
                if let Some(at) = run.deadline {
                    self.timetable.remove_deadline(at, id);
                }
                (
                    millis(now.mono.saturating_duration_since(run.started)),
                    run.pid,
                )
            }
            _ => (0, None),
        };
        let status = result.status;
        let reported = matches!(&op.state, State::Running(Run { reported: true, .. }));
        let event = if reported {
            // Already notified (and logged) when it was cancelled.
            None
        } else {
            log_end(op, pid, &result, exec_ms);
            op.conclude(result, exec_ms, ran, now)
        };
        let keep = op.is_recurring() && status != ExecStatus::Cancelled && !op.rsc_deleted;
        if keep {
            let due = now.mono + op.interval();
            op.set_state(State::Waiting { due });
        }
        let to = op.audience;
        let rsc_id = op.rsc_id.clone();
        self.timetable.touch(&rsc_id);
        if let Some(rsc) = self.resources.get_mut(&rsc_id) {
            if rsc.running == Some(id) {
                rsc.running = None;
            }
            if !keep {
                rsc.recurring.retain(|o| *o != id);
            }
        }
        if !keep {
            self.ops.remove(&id);
        }
        if let Some(event) = event {
            self.effects.push(Effect::Notify {
                audience: to,
                event,
            });
        }
    }

    /// Ends an operation that is not running (queued, or recurring and waiting) as cancelled,
    /// reporting the rc of its last run.
    pub(super) fn end_idle(&mut self, id: OpId, now: Now) {
        let Some(op) = self.ops.get(&id) else {
            return;
        };
        if matches!(op.state, State::Running(_)) {
            return;
        }
        if let Some(rsc) = self.resources.get_mut(&op.rsc_id) {
            rsc.pending.retain(|o| *o != id);
            rsc.recurring.retain(|o| *o != id);
        }
        let result = OpResult {
            rc: op.last_rc,
            status: ExecStatus::Cancelled,
            exit_reason: None,
            output: None,
        };
        self.finish_run(id, result, false, now);
    }

    /// Asks for a running operation to be killed; its end is reported when the child is reaped.
    pub(super) fn kill(&mut self, id: OpId, ending: Ending) {
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let State::Running(run) = &mut op.state else {
            return;
        };
        if run.ending.is_some() {
            return;
        }
        run.ending = Some(ending);
        if let Some(pid) = run.pid {
            let group = !run.kill_agent_only;
            self.effects.push(Effect::Kill { op: id, pid, group });
        }
    }

    /// Cancels a running operation: kills its agent and reports it cancelled at once, so the
    /// notification precedes the reply of the request that cancelled it, as in the original
    /// (which waits for the killed agent before replying). The child's end then only frees the
    /// resource.
    pub(super) fn cancel_running(&mut self, id: OpId, now: Now) {
        self.kill(id, Ending::Cancelled);
        let Some(op) = self.ops.get_mut(&id) else {
            return;
        };
        let State::Running(run) = &mut op.state else {
            return;
        };
        if run.reported {
            return;
        }
        run.reported = true;
        let exec_ms = millis(now.mono.saturating_duration_since(run.started));
        let pid = run.pid;
        let result = OpResult {
            rc: crate::agents::result::ocf::OK,
            status: ExecStatus::Cancelled,
            exit_reason: None,
            output: None,
        };
        let to = op.audience;
        log_end(op, pid, &result, exec_ms);
        if let Some(event) = op.conclude(result, exec_ms, true, now) {
            self.effects.push(Effect::Notify {
                audience: to,
                event,
            });
        }
    }

    /// Kills every run whose timeout has passed (SIGKILL at once, no grace period: 11.4).
    pub(super) fn time_out_late(&mut self, now: Now) {
        for id in self.timetable.take_late(now.mono) {
            let late = self.ops.get(&id).is_some_and(|o| {
                matches!(&o.state, State::Running(Run { deadline: Some(d), ending: None, .. }) if *d <= now.mono)
            });
            if !late {
                continue;
            }
            if let Some(op) = self.ops.get(&id) {
                // Worded as the original's line for an agent killed at its timeout.
                let key = journal::op_key(&op.rsc_id, &op.action, op.interval_ms);
                let after = crate::agents::readable_interval(u64::from(op.timeout_ms));
                match &op.state {
                    State::Running(Run { pid: Some(pid), .. }) => info!(
                        "Resource agent {}[{pid}] timed out after {after}",
                        escaped(&key)
                    ),
                    _ => info!("{} timed out after {after}", escaped(&key)),
                }
            }
            self.kill(id, Ending::TimedOut);
        }
    }

    /// Works out when `rsc_id` can next start something: now, later, or only when its running
    /// operation ends (then it is touched again).
    pub(super) fn reschedule(&mut self, rsc_id: &str, now: Now) {
        let Some(rsc) = self.resources.get(rsc_id) else {
            self.timetable.forget(rsc_id);
            return;
        };
        if rsc.running.is_some() {
            self.timetable.forget(rsc_id);
            return;
        }
        let head = rsc
            .pending
            .front()
            .and_then(|id| match self.ops.get(id)?.state {
                State::Queued { ready_at } => Some(ready_at),
                _ => None,
            });
        let recurring = rsc
            .recurring
            .iter()
            .filter_map(|id| match self.ops.get(id)?.state {
                State::Waiting { due } => Some(due),
                _ => None,
            })
            .min();
        match head.into_iter().chain(recurring).min() {
            Some(at) => self.timetable.schedule(rsc_id, at, now.mono),
            None => self.timetable.forget(rsc_id),
        }
    }

    /// Cancels every recurring operation of a resource, queued, waiting or running.
    pub(super) fn cancel_all_recurring(&mut self, rsc_id: &str, now: Now) {
        let Some(rsc) = self.resources.get(rsc_id) else {
            return;
        };
        let running = rsc.running;
        let ids: Vec<OpId> = rsc
            .recurring
            .iter()
            .chain(rsc.pending.iter())
            .copied()
            .filter(|id| self.ops.get(id).is_some_and(|o| o.is_recurring()))
            .collect();
        for id in ids {
            if Some(id) == running {
                self.cancel_running(id, now);
            } else {
                self.end_idle(id, now);
            }
        }
    }

    /// A recurring exec that repeats one we have (same resource, action and interval) is
    /// merged into it: it takes the new call id and user data, notifies its next result
    /// whatever it is, and runs at once if it was waiting (11.3).
    pub(super) fn merge_duplicate(&mut self, req: &ExecRequest, now: Now) -> bool {
        let (rsc_id, action, call_id) = (req.rsc_id.as_str(), req.action.as_str(), req.call_id);
        let Some(rsc) = self.resources.get(rsc_id) else {
            return false;
        };
        let found = rsc
            .pending
            .iter()
            .chain(rsc.recurring.iter())
            .copied()
            .find(|id| {
                self.ops.get(id).is_some_and(|o| {
                    o.action.eq_ignore_ascii_case(action) && o.interval_ms == req.interval_ms
                })
            });
        let Some(op) = found.and_then(|id| self.ops.get_mut(&id)) else {
            return false;
        };
        info!(
            "rsc={rsc_id} op={action}_{} call={call_id} merged into call {}",
            req.interval_ms, op.call_id
        );
        op.call_id = call_id;
        op.user_data = req.user_data.clone();
        op.last_notified = None;
        if let State::Waiting { due } = &mut op.state {
            *due = now.mono;
        }
        self.timetable.touch(rsc_id);
        true
    }

    /// Why a new operation cannot be accepted, if a bound forbids it.
    pub(super) fn over_bound(&self, op: &super::operation::Operation) -> Option<String> {
        let queued: usize = self.resources.iter().map(|r| r.pending.len()).sum();
        if queued >= self.limits.max_queued_operations {
            return Some(format!(
                "executor queue is full: {queued} operations queued, limit {} (max_queued_operations)",
                self.limits.max_queued_operations
            ));
        }
        if op.is_recurring() {
            let recurring = self.ops.values().filter(|o| o.is_recurring()).count();
            if recurring >= self.limits.max_recurring_operations {
                return Some(format!(
                    "too many recurring operations: {recurring}, limit {} (max_recurring_operations)",
                    self.limits.max_recurring_operations
                ));
            }
        }
        None
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Logs the end of a run of `op` as the original does (see [`journal`]).
fn log_end(op: &Operation, pid: Option<u32>, result: &OpResult, exec_ms: u64) {
    journal::log_finished(&journal::Ended {
        rsc_id: &op.rsc_id,
        action: &op.action,
        call_id: op.call_id,
        pid,
        result,
        exec_ms,
        queue_ms: op.first_run.map_or(0, |f| f.queue_time_ms),
    });
}
