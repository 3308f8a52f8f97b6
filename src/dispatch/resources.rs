//! The resource operations of protocol.md 9.3-9.7 and 9.9: requests to the executor, and the
//! executor's results back to clients, in the order the original sends them.

use std::io;
use std::rc::Rc;

use log::{debug, warn};

use super::error::{rc_of, unregistered_rc, Refused};
use super::{answer, generic, Action, Call, Dispatcher};
use crate::agents::Definition;
use crate::executor::{
    self, Audience, Effect, ExecEvent, ExecRequest, OnClientLoss, Recipients, Reporting,
};
use crate::handles::{ConnId, Now, OpId};
use crate::process::Finished;
use crate::proto::names::{
    attr, callopt, op, origin, rc, ATTRIBUTES, LRMD_NOTIFY, LRMD_RSC, LRMD_RSC_OP, PARAM,
};
use crate::proto::reply::{self, addressed_notify};
use crate::proto::request::{AlertSpec, ExecSpec, ResourceSpec};
use crate::proto::xml::{self, Element, Style};

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
        out.push(answer(call, generic(rc, call.call_id)));
        if result.is_ok() {
            let note =
                reply::generic_notify(rc, call.call_id, op::RSC_REGISTER, spec.rsc_id.as_deref());
            self.notify_others_unless_diagnostic(call.conn, note, out);
        }
    }

    /// `lrmd_rsc_info`: the definition, or ENODEV for an unknown or absent id.
    pub(super) fn rsc_info(&mut self, call: Call, rsc_id: Option<String>, out: &mut Vec<Action>) {
        let body = match rsc_id.as_deref().and_then(|id| self.executor.info(id)) {
            Some(rsc) => {
                let mut el = reply::reply(origin::RSC_INFO, rc::OK, call.call_id)
                    .with_attr(attr::RSC_ID, &rsc.id)
                    .with_attr(attr::CLASS, &rsc.def.class);
                if let Some(p) = &rsc.def.provider {
                    el.set_attr(attr::PROVIDER, p);
                }
                el.with_attr(attr::TYPE, &rsc.def.agent)
            }
            None => reply::reply(
                origin::RSC_INFO,
                Refused::from(executor::Error::UnknownResource).rc(),
                call.call_id,
            ),
        };
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
        out.push(answer(call, generic(rc, call.call_id)));
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
        out.push(answer(call, generic(rc, call.call_id)));
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
        out.push(answer(call, generic(rc_of(result), call.call_id)));
    }

    /// `lrmd_get_recurring` (protocol.md 9.6): one resource's recurring operations, or all.
    pub(super) fn get_recurring(
        &mut self,
        call: Call,
        rsc_id: Option<String>,
        out: &mut Vec<Action>,
    ) {
        let body = match self.executor.recurring(rsc_id.as_deref()) {
            Ok(lists) => {
                let mut el = reply::reply(origin::GET_RECURRING, rc::OK, call.call_id);
                for list in lists {
                    let mut rsc = Element::new(LRMD_RSC).with_attr(attr::RSC_ID, &list.rsc_id);
                    for o in list.ops {
                        rsc.push(
                            Element::new(LRMD_RSC_OP)
                                .with_attr(attr::RSC_ACTION, &o.action)
                                .with_attr(attr::RSC_INTERVAL, o.interval_ms)
                                .with_attr(attr::TIMEOUT, o.timeout_ms),
                        );
                    }
                    el.push(rsc);
                }
                el
            }
            Err(e) => reply::reply(origin::GET_RECURRING, Refused::from(e).rc(), call.call_id),
        };
        out.push(answer(call, body));
    }

    /// `lrmd_alert_exec`: answered 0 once the alert agent is started (or while draining, without
    /// running it); its outcome is only logged (protocol.md 9.9).
    pub(super) fn alert_exec(&mut self, call: Call, spec: AlertSpec, out: &mut Vec<Action>) {
        let result = self.start_alert(call.conn, spec, out);
        if let Err(e) = &result {
            debug!("{} alert refused: {e}", call.conn);
        }
        out.push(answer(call, generic(rc_of(result), call.call_id)));
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
        let Some(ids) = crate::sys::process::user_ids(user) else {
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
                    // Agent output keeps Pacemaker 2.1.5's escaping: the cluster reads and logs
                    // it exactly as the original's.
                    let mut text = Vec::with_capacity(512);
                    xml::write_with(
                        &addressed_notify(exec_notify(&event)),
                        Style::Pacemaker215,
                        &mut text,
                    );
                    let payload = Rc::new(text);
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

/// The exec-complete notification, attributes in the original's order (protocol.md 9.4).
pub fn exec_notify(e: &ExecEvent) -> Element {
    let mut el = Element::new(LRMD_NOTIFY)
        .with_attr(attr::ORIGIN, origin::CMD_COMPLETE)
        .with_attr(attr::TIMEOUT, e.timeout_ms)
        .with_attr(attr::RSC_INTERVAL, e.interval_ms)
        .with_attr(attr::RSC_START_DELAY, e.start_delay_ms)
        .with_attr(attr::EXEC_RC, e.result.rc)
        .with_attr(attr::EXEC_OP_STATUS, e.result.status.code())
        .with_attr(attr::CALL_ID, e.call_id)
        .with_attr(attr::RSC_DELETED, u8::from(e.rsc_deleted))
        .with_attr(attr::RUN_TIME, e.run_time)
        .with_attr(attr::RCCHANGE_TIME, e.rcchange_time)
        .with_attr(attr::EXEC_TIME, e.exec_time_ms)
        .with_attr(attr::QUEUE_TIME, e.queue_time_ms)
        .with_attr(attr::OP, op::RSC_EXEC)
        .with_attr(attr::RSC_ID, &e.rsc_id)
        .with_attr(attr::RSC_ACTION, &e.action);
    if let Some(u) = &e.user_data {
        el.set_attr(attr::RSC_USERDATA, u);
    }
    if let Some(r) = &e.result.exit_reason {
        el.set_attr(attr::RSC_EXIT_REASON, r);
    }
    if let Some(o) = &e.result.output {
        el.set_attr(attr::RSC_OUTPUT, o);
    }
    el.with_child(parameters(&e.params))
}

/// Parameters as the original writes them: attributes of `attributes`, except names that
/// start with a digit, which XML cannot carry as attribute names (protocol.md 6.8).
fn parameters(params: &[(String, String)]) -> Element {
    let mut el = Element::new(ATTRIBUTES);
    for (name, value) in params {
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            el.push(
                Element::new(PARAM)
                    .with_attr("name", name)
                    .with_attr("value", value),
            );
        } else {
            el.set_attr(name, value);
        }
    }
    el
}
