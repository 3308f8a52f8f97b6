//! Resources and their operations: queues, start delays, recurring runs, timeouts, cancels.
//!
//! In: typed requests from the dispatcher ([`request`]), and events from the shell (a child was
//! spawned, failed to spawn, finished) with the time passed in. Out: [`Effect`]s (notify,
//! spawn, kill) that the dispatcher and the shell carry out, and typed [`Error`]s. Never does
//! I/O, never reads a clock, never sees XML, TLS or a wire number: agents are found through
//! the [`agents::Lookup`] it is given. The rules are those of protocol.md 9 and 11.

pub mod event;
pub mod journal;
pub mod operation;
pub mod request;
pub mod resource;
mod timetable;

use std::collections::BTreeMap;
use std::io;
use std::time::{Duration, Instant};

use log::{debug, info, warn};

use crate::agents;
use crate::handles::ConnId;
use crate::process::{ChildExit, Finished};
pub use event::{Audience, ExecEvent};
use operation::{Ending, Operation, Run, State};
pub use operation::{Now, OpId};
pub use request::{Error, ExecRequest, OnClientLoss, Recipients, Reporting, Unregistered};
use resource::Registry;
pub use resource::Resource;

use crate::agents::result::ocf;
use crate::agents::{timeout_reason, Definition, ExecStatus, OpResult};
use timetable::Timetable;

/// Bounds on what the executor holds (README "Limits").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecLimits {
    /// Registered resources.
    pub max_resources: usize,
    /// Operations waiting in queues, over all resources.
    pub max_queued_operations: usize,
    /// Recurring operations, over all resources.
    pub max_recurring_operations: usize,
    /// Agents running at once; further operations wait for a free slot.
    pub max_children: usize,
}

/// Something the executor needs done outside itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send an exec result.
    Notify {
        /// To whom.
        audience: Audience,
        /// What.
        event: ExecEvent,
    },
    /// Start this agent, then report [`Executor::spawned`] or [`Executor::spawn_failed`].
    Spawn {
        /// The operation it runs for.
        op: OpId,
        /// What to run.
        invocation: crate::process::Invocation,
    },
    /// Carry out a `systemd:` unit action, then report [`Executor::unit_finished`].
    #[cfg(feature = "class-systemd")]
    RunUnit {
        /// The operation.
        op: OpId,
        /// The action.
        action: String,
        /// The agent (unit) as configured.
        agent: String,
        /// The operation's timeout in ms (0: none given).
        timeout_ms: u32,
        /// For `service:`: the result when systemd does not know the unit.
        or_else: Option<OpResult>,
    },
    /// Send SIGKILL; the child's end is still reported through [`Executor::child_finished`].
    Kill {
        /// The operation.
        op: OpId,
        /// The agent's pid.
        pid: u32,
        /// Its whole process group (every case but `on_fail=block`).
        group: bool,
    },
}

/// One resource's recurring operations, for `lrmd_get_recurring`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringList {
    /// Resource id.
    pub rsc_id: String,
    /// Its recurring operations that have run at least once.
    pub ops: Vec<RecurringOp>,
}

/// One recurring operation as `lrmd_get_recurring` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecurringOp {
    /// Action name.
    pub action: String,
    /// Interval in ms.
    pub interval_ms: u32,
    /// The original timeout in ms.
    pub timeout_ms: u32,
}

/// Every resource and operation on this node.
pub struct Executor {
    resources: Registry,
    ops: BTreeMap<OpId, Operation>,
    next_op: u64,
    limits: ExecLimits,
    agents: Box<dyn agents::Lookup>,
    effects: Vec<Effect>,
    children: usize,
    timetable: Timetable,
}

impl Executor {
    /// An executor with no resources, finding agents through `agents`.
    pub fn new(limits: ExecLimits, agents: Box<dyn agents::Lookup>) -> Self {
        Executor {
            resources: Registry::default(),
            ops: BTreeMap::new(),
            next_op: 1,
            limits,
            agents,
            effects: Vec::new(),
            children: 0,
            timetable: Timetable::default(),
        }
    }

    /// What to carry out since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// `lrmd_rsc_register` (protocol.md 9.3): the same definition again is accepted as is; a
    /// different one replaces the old, whose operations end as if it was unregistered.
    pub fn register(
        &mut self,
        id: &str,
        def: Definition,
        on_client_loss: OnClientLoss,
        now: Now,
    ) -> Result<(), Error> {
        if let Some(existing) = self.resources.get(id) {
            // The same agent again is ignored (its stored options stay as they were).
            if existing.def.same_agent(&def) {
                return Ok(());
            }
            info!("rsc={id} changes agent to {}; replacing it", describe(&def));
            self.unregister(id, now);
        } else if self.resources.len() >= self.limits.max_resources {
            let error = Error::TooManyResources {
                registered: self.resources.len(),
                max: self.limits.max_resources,
            };
            warn!("rsc={id} not registered: {error}");
            return Err(error);
        }
        debug!("rsc={id} registered as {}", describe(&def));
        self.resources.insert(id.to_string(), def, on_client_loss);
        Ok(())
    }

    /// `lrmd_rsc_info`.
    pub fn info(&self, id: &str) -> Option<&Resource> {
        self.resources.get(id)
    }

    /// `lrmd_rsc_unregister` (protocol.md 9.7): queued and idle recurring operations end as
    /// cancelled; a running recurring one is killed; a running one-shot finishes and reports
    /// with `rsc_deleted` ([`Unregistered::Finishing`]).
    pub fn unregister(&mut self, id: &str, now: Now) -> Unregistered {
        let Some(rsc) = self.resources.remove(id) else {
            return Unregistered::NotRegistered;
        };
        let mut answer = Unregistered::Removed;
        for op in rsc.pending.iter().chain(rsc.recurring.iter()).copied() {
            if let Some(o) = self.ops.get_mut(&op) {
                o.rsc_deleted = true;
            }
            if Some(op) != rsc.running {
                self.end_idle(op, now);
            }
        }
        if let Some(running) = rsc.running {
            if let Some(o) = self.ops.get_mut(&running) {
                o.rsc_deleted = true;
                // A one-shot op, or the first run of a recurring one, counts as "in progress".
                if !o.is_recurring() || o.first_run.is_some() {
                    answer = Unregistered::Finishing;
                }
                if o.is_recurring() {
                    self.cancel_running(running, now);
                }
            }
        }
        answer
    }

    /// `lrmd_rsc_exec` (protocol.md 9.4): queued, merged into a recurring duplicate, or, at a
    /// bound, ended at once with an error result; each is a success for the reply. Nothing
    /// starts here: the reply goes out before any result (the caller polls next).
    pub fn exec(&mut self, req: ExecRequest, now: Now) -> Result<(), Error> {
        if self.resources.get(&req.rsc_id).is_none() {
            return Err(Error::UnknownResource);
        }
        let call_id = req.call_id;
        let rsc_id = req.rsc_id.clone();
        let action = req.action.clone();
        // A stop first cancels every recurring operation of the resource (11.3).
        if action == "stop" {
            self.cancel_all_recurring(&rsc_id, now);
        }
        if req.interval_ms > 0 && self.merge_duplicate(&req, now) {
            return Ok(());
        }
        let id = OpId(self.next_op);
        self.next_op += 1;
        let mut op = Operation {
            id,
            call_id,
            client: req.client,
            rsc_id: rsc_id.clone(),
            action,
            interval_ms: req.interval_ms,
            timeout_ms: req.timeout_ms,
            start_delay_ms: req.start_delay_ms,
            user_data: req.user_data,
            params: req.params,
            audience: match req.audience {
                Recipients::Everyone => Audience::All,
                Recipients::Originator => Audience::Only(req.client),
            },
            reporting: req.reporting,
            state: State::Queued {
                ready_at: now.mono + Duration::from_millis(u64::from(req.start_delay_ms)),
            },
            queued_at: now.mono,
            first_run: None,
            has_run: false,
            last_rc: ocf::OK,
            rcchange_time: 0,
            last_notified: None,
            rsc_deleted: false,
        };
        if let Some(why) = self.over_bound(&op) {
            warn!(
                "rsc={rsc_id} op={} call={call_id} refused: {why}",
                op.action
            );
            let result = OpResult::made_up(ocf::UNKNOWN_ERROR, ExecStatus::Error, why);
            if let Some(event) = op.conclude(result, 0, false, now) {
                self.effects.push(Effect::Notify {
                    audience: op.audience,
                    event,
                });
            }
            return Ok(());
        }
        debug!(
            "rsc={rsc_id} op={}_{} call={call_id} queued",
            op.action, op.interval_ms
        );
        self.ops.insert(id, op);
        if let Some(rsc) = self.resources.get_mut(&rsc_id) {
            rsc.pending.push_back(id);
        }
        self.timetable.touch(&rsc_id);
        Ok(())
    }

    /// `lrmd_rsc_cancel` (protocol.md 9.5): a queued operation, or a recurring one whether idle
    /// or running (then killed). Idle ones are notified at once, before the reply.
    pub fn cancel(
        &mut self,
        id: &str,
        action: &str,
        interval_ms: u32,
        now: Now,
    ) -> Result<(), Error> {
        let Some(rsc) = self.resources.get(id) else {
            return Err(Error::UnknownResource);
        };
        let matches = |op: &OpId| {
            self.ops
                .get(op)
                .is_some_and(|o| o.matches(action, interval_ms))
        };
        if let Some(op) = rsc.pending.iter().copied().find(|o| matches(o)) {
            self.end_idle(op, now);
            return Ok(());
        }
        if interval_ms == 0 {
            return Err(Error::NoSuchOperation);
        }
        let Some(op) = rsc.recurring.iter().copied().find(|o| matches(o)) else {
            return Err(Error::NoSuchOperation);
        };
        if rsc.running == Some(op) {
            let dying = matches!(
                self.ops.get(&op).map(|o| &o.state),
                Some(State::Running(Run {
                    ending: Some(Ending::Cancelled),
                    ..
                }))
            );
            if dying {
                return Err(Error::NoSuchOperation);
            }
            self.cancel_running(op, now);
        } else {
            self.end_idle(op, now);
        }
        Ok(())
    }

    /// `lrmd_get_recurring`: recurring operations that have run at least once, per resource
    /// (every resource, or one).
    pub fn recurring(&self, id: Option<&str>) -> Result<Vec<RecurringList>, Error> {
        let ids = match id {
            Some(i) if self.resources.get(i).is_none() => return Err(Error::UnknownResource),
            Some(i) => vec![i.to_string()],
            None => self.resources.ids(),
        };
        Ok(ids
            .into_iter()
            .map(|rsc_id| {
                let ops = self
                    .resources
                    .get(&rsc_id)
                    .map(|r| r.recurring.clone())
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|op| self.ops.get(op))
                    .filter(|o| o.has_run)
                    .map(|o| RecurringOp {
                        action: o.action.clone(),
                        interval_ms: o.interval_ms,
                        timeout_ms: o.timeout_ms,
                    })
                    .collect();
                RecurringList { rsc_id, ops }
            })
            .collect())
    }

    /// The last cluster connection went away: recurring operations of resources registered
    /// with "drop recurring" are cancelled; resources keep running (protocol.md 13).
    pub fn clients_gone(&mut self, now: Now) {
        let ids: Vec<String> = self
            .resources
            .iter()
            .filter(|r| r.on_client_loss == OnClientLoss::DropRecurring)
            .map(|r| r.id.clone())
            .collect();
        for id in ids {
            self.cancel_all_recurring(&id, now);
        }
    }

    /// A local client left: the recurring operations it created on resources registered with
    /// "drop recurring" are cancelled (cluster clients go through [`clients_gone`]).
    ///
    /// [`clients_gone`]: Self::clients_gone
    pub fn client_gone(&mut self, client: ConnId, now: Now) {
        let ids: Vec<OpId> = self
            .ops
            .values()
            .filter(|o| o.client == client && o.is_recurring())
            .filter(|o| {
                self.resources
                    .get(&o.rsc_id)
                    .is_some_and(|r| r.on_client_loss == OnClientLoss::DropRecurring)
            })
            .map(|o| o.id)
            .collect();
        for id in ids {
            let running = self
                .ops
                .get(&id)
                .is_some_and(|o| matches!(o.state, State::Running(_)));
            if running {
                self.cancel_running(id, now);
            } else {
                self.end_idle(id, now);
            }
        }
    }

    /// Starts what is due and times out what is late; call after every change and when
    /// [`next_wakeup`](Self::next_wakeup) comes. Costs O(log n) per resource it touches.
    pub fn poll(&mut self, now: Now) {
        self.time_out_late(now);
        self.timetable.wake(now.mono);
        // Each pass starts an operation, or ends one at once (an agent that cannot run), or
        // stops: bounded by the operations there are.
        for _ in 0..=self.ops.len() {
            for id in self.timetable.take_dirty() {
                self.reschedule(&id, now);
            }
            if self.children >= self.limits.max_children {
                break;
            }
            let Some(id) = self.timetable.pop_ready() else {
                break;
            };
            self.dispatch_next(&id, now);
        }
    }

    /// When [`poll`](Self::poll) next has something to do, if ever: the earliest start delay,
    /// recurring interval or deadline. Operations already due but held by a busy resource or
    /// the children bound start when a run finishes, not on a timer.
    pub fn next_wakeup(&self, now: Instant) -> Option<Instant> {
        self.timetable.next_wakeup().map(|t| t.max(now))
    }

    /// The shell started the agent of `op` as `pid`.
    pub fn spawned(&mut self, op: OpId, pid: u32) {
        if let Some(Operation {
            state: State::Running(run),
            ..
        }) = self.ops.get_mut(&op)
        {
            run.pid = Some(pid);
            if run.ending.is_some() {
                // Cancelled or timed out before it even started: end it now.
                let group = !run.kill_agent_only;
                self.effects.push(Effect::Kill { op, pid, group });
            }
        }
    }

    /// The agent of `op` could not be started at all.
    pub fn spawn_failed(&mut self, op: OpId, error: &io::Error, now: Now) {
        self.children = self.children.saturating_sub(1);
        let mapping = match self.ops.get(&op).map(|o| &o.state) {
            Some(State::Running(run)) => run.mapping,
            _ => agents::Mapping::Ocf,
        };
        let result = agents::spawn_failure(mapping, error);
        self.finish_run(op, result, true, now);
        self.poll(now);
    }

    /// The unit action of `op` ended with `result`. A cancelled run was reported already;
    /// this only frees its resource.
    /// A start or stop that went on with follow-up monitors reports the last one's start
    /// delay as its own, and an rc change if one happened among them (`rescheduled`), as
    /// the original does.
    #[cfg(feature = "class-systemd")]
    pub fn unit_finished(
        &mut self,
        op: OpId,
        result: OpResult,
        rescheduled: Option<agents::systemd::Rescheduled>,
        now: Now,
    ) {
        if let (Some(r), Some(o)) = (rescheduled, self.ops.get_mut(&op)) {
            if !o.is_recurring() {
                o.start_delay_ms = r.start_delay_ms;
                if r.rc_changed {
                    o.rcchange_time = now.epoch;
                }
            }
        }
        let cancelled = matches!(
            self.ops.get(&op).map(|o| &o.state),
            Some(State::Running(Run {
                ending: Some(Ending::Cancelled),
                ..
            }))
        );
        let result = if cancelled {
            OpResult {
                status: ExecStatus::Cancelled,
                ..result
            }
        } else {
            result
        };
        self.finish_run(op, result, true, now);
        self.poll(now);
    }

    /// The agent of `op` ended; `finished` holds its exit and output.
    pub fn child_finished(&mut self, op: OpId, finished: Finished, now: Now) {
        self.children = self.children.saturating_sub(1);
        let Some(Operation {
            state: State::Running(run),
            timeout_ms,
            ..
        }) = self.ops.get(&op)
        else {
            return;
        };
        if let (ChildExit::Code(_), Some(pid), Some(o)) =
            (finished.exit, run.pid, self.ops.get(&op))
        {
            // The original logs the output of agents that exited on their own only.
            let key = journal::op_key(&o.rsc_id, &o.action, o.interval_ms);
            journal::log_output(&key, pid, &finished.stdout, &finished.stderr);
        }
        let result = match (run.ending, finished.exit) {
            // A run that ended on its own before the kill landed keeps its result.
            (Some(Ending::TimedOut), ChildExit::Signal(_)) => OpResult {
                output: agents::output_of(&finished),
                ..OpResult::made_up(
                    ocf::UNKNOWN_ERROR,
                    ExecStatus::Timeout,
                    timeout_reason(*timeout_ms),
                )
            },
            (Some(Ending::Cancelled), ChildExit::Signal(_)) => OpResult {
                rc: ocf::OK,
                status: ExecStatus::Cancelled,
                exit_reason: None,
                output: agents::output_of(&finished),
            },
            (Some(Ending::Cancelled), _) => OpResult {
                status: ExecStatus::Cancelled,
                ..agents::interpret(run.mapping, &finished)
            },
            (_, _) => agents::interpret(run.mapping, &finished),
        };
        self.finish_run(op, result, true, now);
        self.poll(now);
    }
}

impl Executor {
    /// Lines for the SIGTRAP state summary: counts against the bounds, then one line per
    /// resource (at most `max_items`) with its running, recurring and queued operations.
    pub fn summary(&self, max_items: usize) -> Vec<String> {
        let queued: usize = self.resources.iter().map(|r| r.pending.len()).sum();
        let recurring: usize = self.resources.iter().map(|r| r.recurring.len()).sum();
        let mut lines = vec![format!(
            "resources: {} of {} registered; agents running {} of {}; operations queued {} \
             of {}, recurring {} of {}",
            self.resources.len(),
            self.limits.max_resources,
            self.children,
            self.limits.max_children,
            queued,
            self.limits.max_queued_operations,
            recurring,
            self.limits.max_recurring_operations,
        )];
        let name = |id: &OpId| {
            self.ops
                .get(id)
                .map(|o| format!("{}_{}", o.action, o.interval_ms))
        };
        for rsc in self.resources.iter().take(max_items) {
            let running = rsc.running.and_then(|id| {
                let o = self.ops.get(&id)?;
                let pid = match &o.state {
                    State::Running(Run { pid: Some(p), .. }) => format!(", PID {p}"),
                    _ => String::new(),
                };
                Some(format!(
                    "running {}_{} (call {}{pid})",
                    o.action, o.interval_ms, o.call_id
                ))
            });
            let recurring: Vec<String> = rsc.recurring.iter().filter_map(name).collect();
            lines.push(format!(
                "resource {} ({}): {}; recurring: {}; queued: {}",
                crate::logging::escaped(&rsc.id),
                crate::logging::escaped(&describe(&rsc.def)),
                running.unwrap_or_else(|| String::from("idle")),
                if recurring.is_empty() {
                    String::from("none")
                } else {
                    crate::logging::escaped(&recurring.join(", ")).to_string()
                },
                rsc.pending.len()
            ));
        }
        if self.resources.len() > max_items {
            lines.push(format!(
                "... and {} more resources",
                self.resources.len() - max_items
            ));
        }
        lines
    }
}

fn describe(def: &Definition) -> String {
    match &def.provider {
        Some(p) => format!("{}:{p}:{}", def.class, def.agent),
        None => format!("{}:{}", def.class, def.agent),
    }
}

mod schedule;

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests make their own clock"
)]
mod tests;
