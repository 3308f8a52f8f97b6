//! The resource operations of protocol.md 9.3-9.7 and 9.9: requests to the executor, and the
//! executor's results back to clients, in the order the original sends them.

use std::io;

use log::{debug, warn};

use std::rc::Rc;

use super::{send, Action, Dispatcher};
use crate::agents::Definition;
use crate::executor::{Audience, ExecEvent};
use crate::executor::{Effect, Now, OpId};
use crate::handles::ConnId;
use crate::process::Finished;
use crate::proto::names::{
    attr, op, origin, rc, ATTRIBUTES, LRMD_NOTIFY, LRMD_RSC, LRMD_RSC_OP, PARAM,
};
use crate::proto::reply::{self, addressed_notify, addressed_reply};
use crate::proto::request::AlertSpec;
use crate::proto::xml::{self, Element, Style};
use crate::proto::Op;

/// EAGAIN: a bound was reached; the cluster may retry.
#[cfg_attr(not(feature = "alerts"), allow(dead_code))]
const EAGAIN: i32 = -11;

impl Dispatcher {
    /// One resource operation; replies and notifications go into `out` in wire order.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn resource_op(
        &mut self,
        conn: ConnId,
        msg_id: u64,
        call_id: u32,
        call_options: u32,
        request: Op,
        now: Now,
        out: &mut Vec<Action>,
    ) {
        let generic = |rc: i32| reply::reply(origin::MESSAGE, rc, call_id);
        match request {
            Op::RscRegister(spec) => {
                let def = match (&spec.class, &spec.agent) {
                    (Some(class), Some(agent)) => Some(Definition {
                        class: class.clone(),
                        provider: spec.provider.clone(),
                        agent: agent.clone(),
                    }),
                    _ => None,
                };
                let rc = self
                    .executor
                    .register(spec.rsc_id.as_deref(), def, call_options, now);
                self.drain_executor(out);
                out.push(send(conn, addressed_reply(generic(rc), msg_id)));
                if rc == rc::OK {
                    let note = reply::generic_notify(
                        rc,
                        call_id,
                        op::RSC_REGISTER,
                        spec.rsc_id.as_deref(),
                    );
                    self.notify_others_unless_diagnostic(conn, note, out);
                }
            }
            Op::RscInfo { rsc_id } => {
                let body = match self.executor.info(rsc_id.as_deref()) {
                    Some(rsc) => {
                        let mut el = reply::reply(origin::RSC_INFO, rc::OK, call_id)
                            .with_attr(attr::RSC_ID, &rsc.id)
                            .with_attr(attr::CLASS, &rsc.def.class);
                        if let Some(p) = &rsc.def.provider {
                            el.set_attr(attr::PROVIDER, p);
                        }
                        el.with_attr(attr::TYPE, &rsc.def.agent)
                    }
                    None => reply::reply(origin::RSC_INFO, rc::ENODEV, call_id),
                };
                out.push(send(conn, addressed_reply(body, msg_id)));
            }
            Op::RscUnregister { rsc_id } => {
                let rc = self.executor.unregister(rsc_id.as_deref(), now);
                // Cancelled operations are reported first, then the reply (protocol.md 9.7).
                self.drain_executor(out);
                out.push(send(conn, addressed_reply(generic(rc), msg_id)));
                if rc == rc::OK || rc == rc::EINPROGRESS {
                    let note =
                        reply::generic_notify(rc, call_id, op::RSC_UNREGISTER, rsc_id.as_deref());
                    self.notify_others_unless_diagnostic(conn, note, out);
                }
            }
            Op::RscExec(spec) => {
                let rc = self.executor.exec(conn, call_id, spec, call_options, now);
                // A stop's cancellations come before the reply; its own result after.
                self.drain_executor(out);
                out.push(send(conn, addressed_reply(generic(rc), msg_id)));
            }
            Op::RscCancel {
                rsc_id,
                action,
                interval_ms,
            } => {
                let rc =
                    self.executor
                        .cancel(rsc_id.as_deref(), action.as_deref(), interval_ms, now);
                self.drain_executor(out);
                out.push(send(conn, addressed_reply(generic(rc), msg_id)));
            }
            Op::GetRecurring { rsc_id } => {
                let body = match self.executor.recurring(rsc_id.as_deref()) {
                    Ok(lists) => {
                        let mut el = reply::reply(origin::GET_RECURRING, rc::OK, call_id);
                        for list in lists {
                            let mut rsc =
                                Element::new(LRMD_RSC).with_attr(attr::RSC_ID, &list.rsc_id);
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
                    Err(rc) => reply::reply(origin::GET_RECURRING, rc, call_id),
                };
                out.push(send(conn, addressed_reply(body, msg_id)));
            }
            other => {
                warn!(
                    "{conn} request {other:?} reached the resource handler; answering EOPNOTSUPP"
                );
                out.push(send(conn, addressed_reply(generic(rc::EOPNOTSUPP), msg_id)));
            }
        }
    }

    /// `lrmd_alert_exec`: answered 0 once the alert agent is started (or while draining, without
    /// running it); its outcome is only logged (protocol.md 9.9).
    pub(super) fn alert_exec(
        &mut self,
        conn: ConnId,
        msg_id: u64,
        call_id: u32,
        spec: AlertSpec,
        out: &mut Vec<Action>,
    ) {
        let rc = self.start_alert(conn, spec, out);
        out.push(send(
            conn,
            addressed_reply(reply::reply(origin::MESSAGE, rc, call_id), msg_id),
        ));
    }

    #[cfg(feature = "alerts")]
    fn start_alert(&mut self, conn: ConnId, spec: AlertSpec, out: &mut Vec<Action>) -> i32 {
        if spec.alert_id.is_none() || spec.path.is_none() {
            return rc::EINVAL;
        }
        if self.lifecycle != super::Lifecycle::Serving {
            debug!("{conn} alert {:?} not run: shutting down", spec.alert_id);
            return rc::OK;
        }
        if self.alerts_running >= self.settings.max_alerts {
            warn!(
                "{conn} alert {:?} refused: {} alerts running, limit {} (max_children)",
                spec.alert_id, self.alerts_running, self.settings.max_alerts
            );
            return EAGAIN;
        }
        self.alert_sequence += 1;
        let (Some(id), Some(path)) = (&spec.alert_id, &spec.path) else {
            return rc::EINVAL;
        };
        let user = crate::agents::alert::ALERT_USER;
        let Some(ids) = crate::sys::process::user_ids(user) else {
            // The original answers EINVAL too.
            log::error!("cannot run alerts: no user '{user}' on this node");
            return rc::EINVAL;
        };
        let invocation =
            crate::agents::alert::invocation(path, &spec.params, self.alert_sequence, ids);
        log::info!("executing alert {id} for {conn}");
        self.alerts_running += 1;
        out.push(Action::SpawnAlert {
            id: id.clone(),
            invocation,
            timeout_ms: spec.timeout_ms,
        });
        rc::OK
    }

    #[cfg(not(feature = "alerts"))]
    fn start_alert(&mut self, conn: ConnId, spec: AlertSpec, _out: &mut Vec<Action>) -> i32 {
        warn!(
            "{conn} alert {:?} refused: alerts are not supported in this build (feature alerts)",
            spec.alert_id
        );
        rc::EOPNOTSUPP
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
