//! The protocol core: request → rule → replies and notifications, one arm per operation
//! (protocol.md 8, 9, 13, 15 and 16).
//!
//! In: typed requests with the connection they came from, connection and disconnection
//! events, and the daemon's own events (SIGTERM, children). Out: [`Action`]s for the shell to
//! carry out. No I/O happens here: time and randomness are passed in, what the machine looks
//! like is asked of a [`Host`], and every message comes from `proto`, so every rule is
//! testable without a socket. Rooms: `action` (what the shell is asked to do), `signon`
//! (clients arriving, sign-on, who may do what), `clients` (who is connected and how far),
//! `resources` (the executor's operations), `proxy` and `sessions` (local tools, feature
//! `ipc-proxy`), `watchdog` (`lrmd_check`), `error` (refusals and their rc), `host` (what is
//! asked of the machine).

mod action;
pub mod clients;
pub mod error;
mod host;
#[cfg(feature = "ipc-proxy")]
pub mod proxy;
mod resources;
pub mod schemas;
pub mod sessions;
mod signon;
pub mod watchdog;

use std::fmt;
use std::time::Instant;

use log::{debug, info};

use crate::executor::{Executor, Now};
use crate::proto::names::rc;
use crate::proto::proxy::{self as proxy_msg, ProxyOp};
use crate::proto::reply::{self, addressed_notify};
use crate::proto::request::ProxyMessage;
use crate::proto::xml::Element;
use crate::proto::{Op, Request};
pub use action::Action;
use action::{answer, encoded, event, Call};
use clients::{uuid_v4, Clients, ConnId, Origin};
use error::Refused;
pub use host::{FixedHost, Host};
use sessions::Sessions;
pub use signon::version_at_least;
use signon::Permission;
use watchdog::Verdict;

/// Where the daemon is in its life: Serving → Draining → Stopped (starting is the shell's
/// business, before a dispatcher exists). Changed only through `set_lifecycle`, which logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    /// Normal service.
    Serving,
    /// SIGTERM seen, `shutdown_req` sent; waiting for the cluster to move resources away.
    Draining,
    /// An exit action was returned.
    Stopped,
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Lifecycle::Serving => "serving",
            Lifecycle::Draining => "draining",
            Lifecycle::Stopped => "stopped",
        })
    }
}

/// Settings the rules need; fixed at start.
#[derive(Debug, Clone, Default)]
pub struct DispatchSettings {
    /// `PCMK_node_start_state`.
    pub node_start_state: Option<String>,
    /// `SBD_WATCHDOG_TIMEOUT` in ms.
    pub sbd_timeout_ms: Option<u64>,
    /// Alert agents running at once.
    pub max_alerts: usize,
    /// Our highest installed CIB schema (`pacemaker-X.Y`), sent in the schema transfer's
    /// request; `None` turns schema transfer off (protocol.md 17).
    pub schema_version: Option<String>,
}

/// The protocol core shared by every connection.
pub struct Dispatcher {
    clients: Clients,
    next_call_id: u32,
    started: Instant,
    settings: DispatchSettings,
    lifecycle: Lifecycle,
    host: Box<dyn Host>,
    executor: Executor,
    #[cfg_attr(not(feature = "alerts"), allow(dead_code))]
    alert_sequence: u64,
    alerts_running: usize,
    /// Schema transfers started, to make each session id unique.
    #[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
    schema_fetches: u64,
    sessions: Sessions,
}

impl Dispatcher {
    /// A dispatcher with no clients; `started` is the daemon's start, for `uptime`.
    pub fn new(
        settings: DispatchSettings,
        executor: Executor,
        host: Box<dyn Host>,
        started: Instant,
    ) -> Self {
        Dispatcher {
            clients: Clients::default(),
            next_call_id: 0,
            started,
            settings,
            lifecycle: Lifecycle::Serving,
            host,
            executor,
            alert_sequence: 0,
            alerts_running: 0,
            schema_fetches: 0,
            sessions: Sessions::default(),
        }
    }

    /// The clients table, for the shell's bookkeeping and for tests.
    pub fn clients(&self) -> &Clients {
        &self.clients
    }

    /// The SIGTRAP state summary, built from what the core holds: the daemon's state, each
    /// client (at most `max_items`) with peer, name and stage, the local clients and relayed
    /// sessions, then the executor's resources and bounds.
    pub fn summary(&self, max_items: usize) -> Vec<String> {
        let local = self.clients.iter().filter(|c| c.is_local()).count();
        let mut lines = vec![format!(
            "daemon {}; clients: {} ({} over TCP, {} local IPC); relayed IPC sessions: {}; \
             alert agents running: {}",
            self.lifecycle,
            self.clients.len(),
            self.clients.len() - local,
            local,
            self.sessions.len(),
            self.alerts_running,
        )];
        for c in self.clients.iter().take(max_items) {
            lines.push(format!(
                "client {} from {} as {}: {}{}",
                c.conn,
                crate::logging::escaped(&c.peer),
                c.name.as_deref().map_or_else(
                    || String::from("(unnamed)"),
                    |n| format!("'{}'", crate::logging::escaped(n))
                ),
                c.stage,
                if c.is_local() { " (local IPC)" } else { "" }
            ));
        }
        if self.clients.len() > max_items {
            lines.push(format!(
                "... and {} more clients",
                self.clients.len() - max_items
            ));
        }
        lines.extend(self.executor.summary(max_items));
        lines
    }

    /// Where the daemon is in its life.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    /// Moves the daemon to `next`, with a line naming both states.
    fn set_lifecycle(&mut self, next: Lifecycle) {
        if next != self.lifecycle {
            info!("daemon: {} -> {next}", self.lifecycle);
            self.lifecycle = next;
        }
    }

    /// A client completed its TLS handshake. Other clients hear of it only when its first
    /// request shows it is not a `check` session (see [`clients::DIAGNOSTIC_CLIENT_NAME`]).
    pub fn connected(&mut self, conn: ConnId, peer: String, random: [u8; 16]) {
        let id = uuid_v4(random);
        info!("{conn} from {peer}: TLS handshake complete, client id {id}");
        self.clients.add(conn, id, peer);
    }

    /// A client went away, for whatever reason (protocol.md 13). A local client takes with
    /// it the recurring operations it created on resources registered with "drop recurring".
    /// When a cluster connection leaves and it was the last client of any kind (local
    /// clients of the `lrmd` service and proxied tools of other connections count, as in
    /// the original; the tools it relayed are closed with it), every recurring operation of
    /// those resources is cancelled.
    pub fn disconnected(&mut self, conn: ConnId, now: Now) -> Vec<Action> {
        let Some(client) = self.clients.remove(conn) else {
            return Vec::new();
        };
        match client.origin {
            Origin::Local(_) => self.executor.client_gone(conn, now),
            Origin::Remote => {
                let tools_left = self.sessions_not_of(conn);
                if self.clients.is_empty() && tools_left == 0 {
                    self.executor.clients_gone(now);
                }
            }
        }
        info!(
            "{conn} ({}) disconnected{}",
            client.name.as_deref().unwrap_or("unnamed"),
            if client.is_provider() {
                "; it was an IPC provider"
            } else {
                ""
            }
        );
        let mut out = Vec::new();
        self.drain_executor(&mut out);
        #[cfg(feature = "ipc-proxy")]
        if client.is_provider() {
            self.drop_sessions_of(conn, &mut out);
        }
        if self.lifecycle == Lifecycle::Draining && self.clients.providers().next().is_none() {
            self.set_lifecycle(Lifecycle::Stopped);
            out.push(Action::Exit {
                code: crate::exitcode::OK,
                why: String::from("the cluster has disconnected after the shutdown request"),
            });
        }
        out
    }

    /// Proxied local tools relayed by a connection other than `provider`.
    fn sessions_not_of(&self, provider: ConnId) -> usize {
        self.sessions.len() - self.sessions.of_provider(provider).len()
    }

    /// SIGTERM or SIGINT: with no cluster connected, exit now; otherwise ask the cluster to
    /// move resources away and stop accepting connections (protocol.md 15, as 2.1.6+ does).
    pub fn shutdown_requested(&mut self) -> Vec<Action> {
        match self.lifecycle {
            Lifecycle::Serving => {}
            Lifecycle::Draining => {
                info!("shutdown already in progress, waiting for the cluster to disconnect");
                return Vec::new();
            }
            Lifecycle::Stopped => return Vec::new(),
        }
        let Some(provider) = self.clients.providers().last() else {
            self.set_lifecycle(Lifecycle::Stopped);
            return vec![Action::Exit {
                code: crate::exitcode::OK,
                why: String::from("shutdown requested and no cluster is connected"),
            }];
        };
        info!("shutdown requested: asking the cluster ({provider}) to stop this node's resources");
        self.set_lifecycle(Lifecycle::Draining);
        vec![
            event(provider, &proxy_msg::shutdown_req()),
            Action::StopListening,
        ]
    }

    /// One request from `conn`.
    pub fn handle(&mut self, conn: ConnId, req: Request, now: Now) -> Vec<Action> {
        let call = Call {
            conn,
            msg_id: req.msg_id,
            call_id: self.next_call_id(),
            options: req.call_options,
        };
        let mut out = Vec::new();
        self.note_sender(conn, &req, &mut out);
        match self.local_permission(conn, &req) {
            Permission::Granted => {}
            Permission::Ignored => return out,
            Permission::Refused => {
                out.push(answer(
                    call,
                    reply::generic(Refused::NotPermitted.rc(), call.call_id),
                ));
                return out;
            }
        }
        debug!(
            "{conn} request {} msg_id={} call={}",
            req.op_name(),
            req.msg_id,
            call.call_id
        );
        match req.op {
            Op::Register {
                protocol_version,
                is_ipc_provider,
            } => self.register(call, protocol_version, is_ipc_provider, now, &mut out),
            Op::Poke => self.poke(call, &mut out),
            // Never answered, in any version (protocol.md 9.8); it still used a call id.
            Op::Check { watchdog } => self.check_watchdog(watchdog.as_deref(), &mut out),
            Op::RscRegister(spec) => self.rsc_register(call, spec, now, &mut out),
            Op::RscInfo { rsc_id } => self.rsc_info(call, rsc_id, &mut out),
            Op::RscUnregister { rsc_id } => self.rsc_unregister(call, rsc_id, now, &mut out),
            Op::RscExec(spec) => self.rsc_exec(call, spec, now, &mut out),
            Op::RscCancel {
                rsc_id,
                action,
                interval_ms,
            } => self.rsc_cancel(call, (rsc_id, action, interval_ms), now, &mut out),
            Op::GetRecurring { rsc_id } => self.get_recurring(call, rsc_id, &mut out),
            Op::AlertExec(spec) => self.alert_exec(call, spec, &mut out),
            Op::IpcFwd(msg) => self.ipc_forward(call, msg, &mut out),
            Op::Unknown(name) => self.unknown(call, &name, &mut out),
        }
        // Whatever became due (an exec just queued, say) starts after the reply is queued.
        self.executor.poll(now);
        self.drain_executor(&mut out);
        out
    }

    /// Call ids come from one counter for every request processed, from 1, wrapping to 1.
    fn next_call_id(&mut self) -> u32 {
        self.next_call_id = match self.next_call_id.checked_add(1) {
            Some(n) if n <= i32::MAX as u32 => n,
            _ => 1,
        };
        self.next_call_id
    }

    /// `lrmd_check` (protocol.md 9.8): never answered; a cluster relying on a watchdog this
    /// node lacks makes the daemon exit 100.
    fn check_watchdog(&mut self, requested: Option<&str>, out: &mut Vec<Action>) {
        let host = &self.host;
        match watchdog::verdict(requested, self.settings.sbd_timeout_ms, || {
            host.sbd_running()
        }) {
            // The cluster checks on every proxied tool session: log only what matters.
            Verdict::Fine(why) => debug!("watchdog check: {why}"),
            Verdict::Fatal(why) => {
                self.set_lifecycle(Lifecycle::Stopped);
                out.push(Action::Exit {
                    code: crate::exitcode::FATAL,
                    why,
                });
            }
        }
    }

    /// A proxy message from the cluster. Every one is answered with rc 0 (protocol.md 16.4);
    /// the shutdown answers steer the drain, the rest belongs to the IPC proxy.
    fn ipc_forward(&mut self, call: Call, msg: ProxyMessage, out: &mut Vec<Action>) {
        let conn = call.conn;
        out.push(answer(call, reply::generic(rc::OK, call.call_id)));
        match msg.op {
            ProxyOp::ShutdownAck => {
                info!("cluster acknowledged the shutdown request; waiting for it to stop resources and disconnect");
            }
            ProxyOp::ShutdownNack => {
                info!("cluster refused the shutdown request (node in maintenance?); exiting now");
                self.set_lifecycle(Lifecycle::Stopped);
                out.push(Action::Exit {
                    code: crate::exitcode::OK,
                    why: String::from("the cluster refused to drain this node"),
                });
            }
            #[cfg(feature = "ipc-proxy")]
            _ => self.proxy_to_local(conn, msg, out),
            #[cfg(not(feature = "ipc-proxy"))]
            other => {
                // No local IPC sessions exist in this build: tell the cluster to forget the
                // session, as the original does for a session it does not know.
                debug!("{conn} proxy message '{other}' for unknown session");
                if let Some(session) = msg.session {
                    out.push(event(conn, &proxy_msg::destroy(&session)));
                }
            }
        }
    }

    fn notify_others_unless_diagnostic(&self, from: ConnId, body: Element, out: &mut Vec<Action>) {
        if self.clients.get(from).is_some_and(|c| c.is_diagnostic()) {
            return;
        }
        let payload = encoded(&addressed_notify(body));
        for to in self.clients.listeners() {
            out.push(Action::Send {
                to,
                payload: payload.clone(),
                reply: false,
            });
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests make their own clock"
)]
mod tests;
