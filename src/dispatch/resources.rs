//! The resource operations of protocol.md 9.3-9.7 and 9.9: requests to the executor, and the
//! executor's results back to clients, in the order the original sends them.

use std::io;
use std::rc::Rc;

use log::{debug, warn};

use super::error::{rc_of, unregistered_rc, Refused};
use super::{answer, Action, Call, Dispatcher};
use crate::agents::Definition;
use crate::executor::{
    self, Audience, Effect, ExecEvent, ExecRequest, OnClientLoss, Recipients, Reporting,
};
use crate::handles::{ConnId, Now, OpId};
use crate::process::Finished;
use crate::proto::names::{callopt, op, rc};
use crate::proto::reply::{self, ExecComplete, RecurringOp, RscInfo};
use crate::proto::request::{AlertSpec, ExecSpec, ResourceSpec};

impl Dispatcher {
    /// `lrmd_rsc_register` (protocol.md 9.3): id, class and type are needed; a success is
    /// notified to the other clients.
    pub(super) fn rsc_register(
        &mut self,
        call: Call,
        spec: ResourceSpec,
        now: Now,
        out: &mut Vec<Action>,
    ) {
        let id = spec.rsc_id.as_deref().filter(|id| !id.is_empty());
        let result = match (id, &spec.class, &spec.agent) {
            (None, _, _) => Err(Refused::Missing("lrmd_rsc_id")),
            (_, None, _) => Err(Refused::Missing("lrmd_class")),
            (_, _, None) => Err(Refused::Missing("lrmd_type")),
            (Some(id), Some(class), Some(agent)) => {
                let def = Definition {
                    class: class.clone(),
                    provider: spec.provider.clone(),
                    agent: agent.clone(),
                };
                let on_loss = if call.options & callopt::DROP_RECURRING != 0 {
                    OnClientLoss::DropRecurring
                } else {
                    OnClientLoss::KeepRecurring
                };
                self.executor
                    .register(id, def, on_loss, now)
                    .map_err(Refused::from)
            }
        };
        // A replaced definition's operations end first (protocol.md 9.3).
        self.drain_executor(out);
        let rc = rc_of(result);
        out.push(answer(call, reply::generic(rc, call.call_id)));
        if result.is_ok() {
            let note =
                reply::generic_notify(rc, call.call_id, op::RSC_REGISTER, spec.rsc_id.as_deref());
            self.notify_others_unless_diagnostic(call.conn, note, out);
        }
    }

    /// `lrmd_rsc_info`: the definition, or ENODEV for an unknown or absent id.
    pub(super) fn rsc_info(&mut self, call: Call, rsc_id: Option<String>, out: &mut Vec<Action>) {
        let found = match rsc_id.as_deref().and_then(|id| self.executor.info(id)) {
            Some(rsc) => Ok(RscInfo {
                id: &rsc.id,
                class: &rsc.def.class,
                provider: rsc.def.provider.as_deref(),
                agent: &rsc.def.agent,
            }),
            None => Err(Refused::from(executor::Error::UnknownResource).rc()),
        };
        let body = reply::rsc_info(call.call_id, found);
        out.push(answer(call, body));
    }

    /// `lrmd_rsc_unregister` (protocol.md 9.7): cancelled operations are reported first, then
    /// the reply; an absent or empty id names no resource (ENODEV).
    pub(super) fn rsc_unregister(
        &mut self,
        call: Call,
        rsc_id: Option<String>,
        now: Now,
        out: &mut Vec<Action>,
    ) {
        let rc = match rsc_id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => unregistered_rc(self.executor.unregister(id, now)),
            None => Refused::from(executor::Error::UnknownResource).rc(),
        };
        self.drain_executor(out);
        out.push(answer(call, reply::generic(rc, call.call_id)));
        if rc == rc::OK || rc == rc::EINPROGRESS {
            let note =
                reply::generic_notify(rc, call.call_id, op::RSC_UNREGISTER, rsc_id.as_deref());
            self.notify_others_unless_diagnostic(call.conn, note, out);
        }
    }

    /// `lrmd_rsc_exec` (protocol.md 9.4): the reply carries the call id; a stop's
    /// cancellations come before it, its own result after.
    pub(super) fn rsc_exec(&mut self, call: Call, spec: ExecSpec, now: Now, out: &mut Vec<Action>) {
        let result = match (spec.rsc_id, spec.action) {
            (Some(rsc_id), Some(action)) => {
                let request = ExecRequest {
                    client: call.conn,
                    call_id: call.call_id,
                    rsc_id,
                    action,
                    interval_ms: spec.interval_ms,
                    timeout_ms: spec.timeout_ms,
                    start_delay_ms: spec.start_delay_ms,
                    user_data: spec.user_data,
                    params: spec.params,
                    audience: if call.options & callopt::NOTIFY_ORIG_ONLY != 0 {
                        Recipients::Originator
                    } else {
                        Recipients::Everyone
                    },
                    reporting: if call.options & callopt::NOTIFY_CHANGES_ONLY != 0 {
                        Reporting::ChangesOnly
                    } else {
                        Reporting::Every
                    },
                };
                self.executor.exec(request, now).map_err(Refused::from)
            }
            (None, _) => Err(Refused::Missing("lrmd_rsc_id")),
            (_, None) => Err(Refused::Missing("lrmd_rsc_action")),
        };
        self.drain_executor(out);
        // An accepted exec is answered with its call id (protocol.md 9.4).
        let rc = match result {
            Ok(()) => call.call_id as i32,
            Err(e) => e.rc(),
        };
        out.push(answer(call, reply::generic(rc, call.call_id)));
    }

    /// `lrmd_rsc_cancel` (protocol.md 9.5).
    pub(super) fn rsc_cancel(
        &mut self,
        call: Call,
        target: (Option<String>, Option<String>, u32),
        now: Now,
        out: &mut Vec<Action>,
    ) {
        let result = match target {
            (Some(id), Some(action), interval_ms) => self
                .executor
                .cancel(&id, &action, interval_ms, now)
                .map_err(Refused::from),
            (None, ..) => Err(Refused::Missing("lrmd_rsc_id")),
            (_, None, _) => Err(Refused::Missing("lrmd_rsc_action")),
        };
        self.drain_executor(out);
        out.push(answer(call, reply::generic(rc_of(result), call.call_id)));
    }

    /// `lrmd_get_recurring` (protocol.md 9.6): one resource's recurring operations, or all.
    pub(super) fn get_recurring(
        &mut self,
        call: Call,
        rsc_id: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let lists = self.executor.recurring(rsc_id.as_deref());
        let found = match &lists {
            Ok(lists) => Ok(lists
                .iter()
                .map(|list| {
                    let ops = list
                        .ops
                        .iter()
                        .map(|o| RecurringOp {
                            action: &o.action,
                            interval_ms: o.interval_ms,
                            timeout_ms: o.timeout_ms,
                        })
                        .collect();
                    (list.rsc_id.as_str(), ops)
                })
                .collect()),
            Err(e) => Err(Refused::from(*e).rc()),
        };
        let body = reply::recurring(call.call_id, found);
        out.push(answer(call, body));
    }

    /// `lrmd_alert_exec`: answered 0 once the alert agent is started (or while draining, without
    /// running it); its outcome is only logged (protocol.md 9.9).
    pub(super) fn alert_exec(&mut self, call: Call, spec: AlertSpec, out: &mut Vec<Action>) {
        let result = self.start_alert(call.conn, spec, out);
        if let Err(e) = &result {
            debug!("{} alert refused: {e}", call.conn);
        }
        out.push(answer(call, reply::generic(rc_of(result), call.call_id)));
    }

    #[cfg(feature = "alerts")]
    fn start_alert(
        &mut self,
        conn: ConnId,
        spec: AlertSpec,
        out: &mut Vec<Action>,
    ) -> Result<(), Refused> {
        let (id, path) = match (spec.alert_id, spec.path) {
            (Some(id), Some(path)) => (id, path),
            (None, _) => return Err(Refused::Missing("lrmd_alert_id")),
            (_, None) => return Err(Refused::Missing("lrmd_alert_path")),
        };
        if self.lifecycle != super::Lifecycle::Serving {
            debug!("{conn} alert {id} not run: shutting down");
            return Ok(());
        }
        if self.alerts_running >= self.settings.max_alerts {
            let e = Refused::AlertsBusy {
                running: self.alerts_running,
                max: self.settings.max_alerts,
            };
            warn!("{conn} alert {id:?} refused: {e}");
            return Err(e);
        }
        self.alert_sequence += 1;
        let user = crate::agents::alert::ALERT_USER;
        let Some(ids) = self.host.user_ids(user) else {
            // The original answers EINVAL too.
            log::error!("cannot run alerts: no user '{user}' on this node");
            return Err(Refused::NoAlertUser);
        };
        let invocation =
            crate::agents::alert::invocation(&path, &spec.params, self.alert_sequence, ids);
        log::info!("executing alert {id} for {conn}");
        self.alerts_running += 1;
        out.push(Action::SpawnAlert {
            id,
            invocation,
            timeout_ms: spec.timeout_ms,
        });
        Ok(())
    }

    #[cfg(not(feature = "alerts"))]
    fn start_alert(
        &mut self,
        conn: ConnId,
        spec: AlertSpec,
        _out: &mut Vec<Action>,
    ) -> Result<(), Refused> {
        let e = Refused::AlertsNotBuilt;
        warn!("{conn} alert {:?} refused: {e}", spec.alert_id);
        Err(e)
    }

    /// An alert agent ended (the shell logged how).
    pub fn alert_finished(&mut self) {
        self.alerts_running = self.alerts_running.saturating_sub(1);
    }

    /// The executor's pending effects as actions: results become notifications, spawns and
    /// kills go to the shell.
    pub(super) fn drain_executor(&mut self, out: &mut Vec<Action>) {
        for effect in self.executor.take_effects() {
            match effect {
                Effect::Notify { audience, event } => {
                    let payload = Rc::new(exec_complete(&event).to_text());
                    let to: Vec<ConnId> = match audience {
                        Audience::All => self.clients.listeners().collect(),
                        Audience::Only(c) => self.clients.listeners().filter(|l| *l == c).collect(),
                    };
                    if to.is_empty() {
                        debug!(
                            "rsc={} call={} result has no one to go to",
                            event.rsc_id, event.call_id
                        );
                    }
                    for conn in to {
                        out.push(Action::Send {
                            to: conn,
                            payload: payload.clone(),
                            reply: false,
                        });
                    }
                }
                Effect::Spawn { op, invocation } => out.push(Action::Spawn { op, invocation }),
                Effect::Kill { pid, group, .. } => out.push(Action::Kill { pid, group }),
                #[cfg(feature = "class-systemd")]
                Effect::RunUnit {
                    op,
                    action,
                    agent,
                    timeout_ms,
                    or_else,
                } => out.push(Action::RunUnit {
                    op,
                    action,
                    agent,
                    timeout_ms,
                    or_else,
                }),
            }
        }
    }

    /// The shell started the agent of `op`.
    pub fn child_spawned(&mut self, op: OpId, pid: u32) -> Vec<Action> {
        self.executor.spawned(op, pid);
        let mut out = Vec::new();
        self.drain_executor(&mut out);
        out
    }

    /// The shell could not start the agent of `op`.
    pub fn child_spawn_failed(&mut self, op: OpId, error: &io::Error, now: Now) -> Vec<Action> {
        self.executor.spawn_failed(op, error, now);
        let mut out = Vec::new();
        self.drain_executor(&mut out);
        out
    }

    /// The unit action of `op` ended.
    #[cfg(feature = "class-systemd")]
    pub fn unit_finished(
        &mut self,
        op: OpId,
        result: crate::agents::OpResult,
        rescheduled: Option<crate::agents::systemd::Rescheduled>,
        now: Now,
    ) -> Vec<Action> {
        self.executor.unit_finished(op, result, rescheduled, now);
        let mut out = Vec::new();
        self.drain_executor(&mut out);
        out
    }

    /// The agent of `op` ended.
    pub fn child_finished(&mut self, op: OpId, finished: Finished, now: Now) -> Vec<Action> {
        self.executor.child_finished(op, finished, now);
        let mut out = Vec::new();
        self.drain_executor(&mut out);
        out
    }

    /// Timers: starts what is due and times out what is late.
    pub fn tick(&mut self, now: Now) -> Vec<Action> {
        self.executor.poll(now);
        let mut out = Vec::new();
        self.drain_executor(&mut out);
        out
    }

    /// When [`tick`](Self::tick) next has work, after `now`.
    pub fn next_wakeup(&self, now: std::time::Instant) -> Option<std::time::Instant> {
        self.executor.next_wakeup(now)
    }
}

/// The exec-complete notification of `e` (protocol.md 9.4), as `proto` writes it.
fn exec_complete(e: &ExecEvent) -> ExecComplete<'_> {
    ExecComplete {
        call_id: e.call_id,
        rsc_id: &e.rsc_id,
        action: &e.action,
        interval_ms: e.interval_ms,
        timeout_ms: e.timeout_ms,
        start_delay_ms: e.start_delay_ms,
        rc: e.result.rc,
        status: e.result.status.code(),
        exit_reason: e.result.exit_reason.as_deref(),
        output: e.result.output.as_deref(),
        rsc_deleted: e.rsc_deleted,
        run_time: e.run_time,
        rcchange_time: e.rcchange_time,
        exec_time_ms: e.exec_time_ms,
        queue_time_ms: e.queue_time_ms,
        user_data: e.user_data.as_deref(),
        params: &e.params,
    }
}
