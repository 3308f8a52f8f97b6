//! The protocol core: request → rule → replies and notifications, one arm per operation
//! (protocol.md 8, 9, 13, 15 and 16).
//!
//! In: typed requests with the connection they came from, connection and disconnection
//! events, and the daemon's own events (SIGTERM, children). Out: [`Action`]s for the shell to
//! carry out. No I/O happens here: time and randomness are passed in, what the machine looks
//! like is asked of a [`Host`], and every message comes from `proto`, so every rule is
//! testable without a socket. Rooms: `clients` (who is connected and how far), `sessions`
//! (proxied local tools), `resources` (the executor's operations), `proxy` (feature
//! `ipc-proxy`), `watchdog` (`lrmd_check`), `error` (refusals and their rc).

pub mod clients;
pub mod error;
#[cfg(feature = "ipc-proxy")]
pub mod proxy;
mod resources;
pub mod sessions;
pub mod watchdog;

use std::fmt;
use std::rc::Rc;
use std::time::Instant;

use log::{debug, info, warn};

use crate::executor::{Executor, Now, OpId};
use crate::handles::IpcClientId;
use crate::process::Invocation;
use crate::proto::names::{self, op, rc};
use crate::proto::proxy::{self as proxy_msg, ProxyOp};
use crate::proto::reply::{self, addressed_notify, addressed_reply, SignonReply};
use crate::proto::request::ProxyMessage;
use crate::proto::xml::Element;
use crate::proto::{Op, Request};
use clients::{uuid_v4, Clients, ConnId, Origin, Privilege, Stage};
use error::{rc_of, Refused};
use sessions::Sessions;
use watchdog::Verdict;

/// Something the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Queue this XML payload (without its NUL) for one connection.
    Send {
        /// The connection.
        to: ConnId,
        /// Serialized once and shared by every recipient of a notification.
        payload: Rc<Vec<u8>>,
        /// It answers the request being handled (local IPC clients get it as the response
        /// to that request; everything else is an event).
        reply: bool,
    },
    /// Stop accepting new connections (draining for shutdown).
    StopListening,
    /// Start an agent for the executor.
    Spawn {
        /// The operation it runs for.
        op: OpId,
        /// What to run.
        invocation: Invocation,
    },
    /// Send SIGKILL to an agent (and its process group, unless `group` is false).
    Kill {
        /// Its pid.
        pid: u32,
        /// The whole group.
        group: bool,
    },
    /// Start an alert agent; its end is only logged.
    SpawnAlert {
        /// The alert's id, for the log.
        id: String,
        /// What to run.
        invocation: Invocation,
        /// Timeout in ms; 0 for none.
        timeout_ms: u32,
    },
    /// Deliver the response to local IPC request `id`.
    IpcResponse {
        /// The local client.
        local: IpcClientId,
        /// The IPC request it answers.
        id: u32,
        /// The XML text.
        payload: Rc<Vec<u8>>,
    },
    /// Deliver an event to a local IPC client.
    IpcEvent {
        /// The local client.
        local: IpcClientId,
        /// The XML text.
        payload: Rc<Vec<u8>>,
    },
    /// Close a local IPC client.
    IpcDisconnect {
        /// The local client.
        local: IpcClientId,
    },
    /// End the process with this status.
    Exit {
        /// Exit status.
        code: i32,
        /// Why, for the log.
        why: String,
    },
}

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

/// What the rules ask of the machine they run on. The shell answers by looking
/// (`daemon::host`), and may cache; tests answer from a table.
pub trait Host {
    /// Whether an sbd daemon runs here (`lrmd_check`, protocol.md 9.8); asked only when the
    /// cluster relies on watchdog fencing.
    fn sbd_running(&self) -> bool;
    /// The uid and gid of `user`, if it exists (alert agents run as `hacluster`).
    fn user_ids(&self, user: &str) -> Option<(u32, u32)>;
}

/// A [`Host`] with fixed answers, for tests and fuzzers: nothing is looked at.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedHost {
    /// The answer to [`Host::sbd_running`].
    pub sbd_running: bool,
    /// The answer to [`Host::user_ids`], whoever is asked for.
    pub user: Option<(u32, u32)>,
}

impl Host for FixedHost {
    fn sbd_running(&self) -> bool {
        self.sbd_running
    }

    fn user_ids(&self, _user: &str) -> Option<(u32, u32)> {
        self.user
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
            sessions: Sessions::default(),
        }
    }

    /// The clients table, for the shell's bookkeeping and for tests.
    pub fn clients(&self) -> &Clients {
        &self.clients
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

    /// A local client of the executor's IPC service connected.
    pub fn local_connected(
        &mut self,
        conn: ConnId,
        peer: String,
        privilege: Privilege,
        random: [u8; 16],
    ) {
        let id = uuid_v4(random);
        info!(
            "{conn} {peer}: local executor client, id {id}{}",
            match privilege {
                Privilege::Full => "",
                Privilege::SignOnOnly => ", unprivileged",
            }
        );
        self.clients.add_local(conn, id, peer, privilege);
    }

    /// Local clients that are neither root nor hacluster may only sign on and poke; anything
    /// else is refused with EACCES, and `lrmd_check` silently (protocol.md 9.1). A local
    /// client may not become an IPC provider. Cluster connections may do anything.
    fn local_permission(&self, conn: ConnId, req: &Request) -> Permission {
        let Some(Origin::Local(privilege)) = self.clients.get(conn).map(|c| c.origin) else {
            return Permission::Granted;
        };
        match (&req.op, privilege) {
            (
                Op::Register {
                    is_ipc_provider: true,
                    ..
                },
                _,
            ) => {
                warn!("{conn} local client asked to relay IPC; refused");
                Permission::Refused
            }
            (Op::Register { .. } | Op::Poke | Op::Unknown(_), _) => Permission::Granted,
            (_, Privilege::Full) => Permission::Granted,
            (Op::Check { .. }, Privilege::SignOnOnly) => Permission::Ignored,
            (_, Privilege::SignOnOnly) => {
                warn!(
                    "{conn} unprivileged local client may not use {}; refused",
                    req.op_name()
                );
                Permission::Refused
            }
        }
    }

    /// Call ids come from one counter for every request processed, from 1, wrapping to 1.
    fn next_call_id(&mut self) -> u32 {
        self.next_call_id = match self.next_call_id.checked_add(1) {
            Some(n) if n <= i32::MAX as u32 => n,
            _ => 1,
        };
        self.next_call_id
    }

    /// Records the client's name from its first request that has one, and on its first
    /// request tells the other clients about it, unless it is a `check` session.
    fn note_sender(&mut self, conn: ConnId, req: &Request, out: &mut Vec<Action>) {
        let Some(client) = self.clients.get_mut(conn) else {
            return;
        };
        if client.name.is_none() {
            client.name.clone_from(&req.client_name);
        }
        if client.stage != Stage::Connected {
            return;
        }
        let diagnostic = client.is_diagnostic();
        self.clients.set_stage(conn, Stage::Introduced);
        if diagnostic {
            info!("{conn} is a diagnostic session; other clients are not told about it");
            return;
        }
        let payload = encoded(&addressed_notify(reply::new_client_notify()));
        for other in self.clients.listeners().filter(|&c| c != conn) {
            out.push(Action::Send {
                to: other,
                payload: payload.clone(),
                reply: false,
            });
        }
    }

    /// `register`, the sign-on (protocol.md 8, 9.2): the protocol version is checked, and the
    /// reply carries the client's id and our uptime.
    fn register(
        &mut self,
        call: Call,
        version: Option<String>,
        is_ipc_provider: bool,
        now: Now,
        out: &mut Vec<Action>,
    ) {
        let conn = call.conn;
        let uptime_s = now.mono.saturating_duration_since(self.started).as_secs();
        if self.clients.get(conn).is_none() {
            return;
        }
        let result = match version.as_deref() {
            Some(v) if version_at_least(v, names::MIN_PROTOCOL_VERSION) => Ok(()),
            other => {
                warn!(
                    "{conn} signs on with protocol version {} but we need at least {}; refusing",
                    other.unwrap_or("(none)"),
                    names::MIN_PROTOCOL_VERSION
                );
                Err(Refused::OldProtocol)
            }
        };
        if result.is_ok() && is_ipc_provider {
            self.clients.set_stage(conn, Stage::Relaying);
        }
        let Some(client) = self.clients.get(conn) else {
            return;
        };
        if result.is_ok() {
            info!(
                "{conn} signed on as '{}' (protocol {}{})",
                client.name.as_deref().unwrap_or(""),
                version.as_deref().unwrap_or("?"),
                if client.is_provider() {
                    ", IPC provider"
                } else {
                    ""
                }
            );
        }
        let body = SignonReply {
            rc: rc_of(result),
            call_id: call.call_id,
            client_id: &client.client_id,
            uptime_s,
            node_start_state: self.settings.node_start_state.as_deref(),
        }
        .to_xml();
        out.push(answer(call, body));
    }

    /// `lrmd_rsc_poke`, the keepalive: answered, and notified to every named client.
    fn poke(&mut self, call: Call, out: &mut Vec<Action>) {
        out.push(answer(call, reply::generic(rc::OK, call.call_id)));
        let note = reply::generic_notify(rc::OK, call.call_id, op::POKE, None);
        self.notify_others_unless_diagnostic(call.conn, note, out);
    }

    /// An operation we do not know: EOPNOTSUPP (protocol.md 9.10).
    fn unknown(&mut self, call: Call, name: &str, out: &mut Vec<Action>) {
        let e = Refused::UnknownOperation;
        warn!(
            "{} sent unknown operation '{name}'; answering EOPNOTSUPP",
            call.conn
        );
        out.push(answer(call, reply::generic(e.rc(), call.call_id)));
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

/// Whether a local client may make the request in hand.
enum Permission {
    /// Go ahead.
    Granted,
    /// Refuse with EACCES.
    Refused,
    /// Drop it without an answer (an unprivileged `lrmd_check`).
    Ignored,
}

/// The request being handled: who sent it, the id its reply must carry, the call id it took,
/// and its call option bits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Call {
    conn: ConnId,
    msg_id: u64,
    call_id: u32,
    options: u32,
}

/// The reply to `call`, whose body `proto` built.
pub(super) fn answer(call: Call, body: Element) -> Action {
    Action::Send {
        to: call.conn,
        payload: encoded(&addressed_reply(body, call.msg_id)),
        reply: true,
    }
}

/// A whole message for `to` that answers no request (a notification, a proxy message).
pub(super) fn event(to: ConnId, message: &Element) -> Action {
    Action::Send {
        to,
        payload: encoded(message),
        reply: false,
    }
}

/// A message's text, serialized once and shared by its recipients.
pub(super) fn encoded(message: &Element) -> Rc<Vec<u8>> {
    Rc::new(crate::proto::encode(message))
}

/// Compares dotted versions numerically, as the original does ("1.10" is above "1.9").
pub fn version_at_least(have: &str, need: &str) -> bool {
    let parse = |v: &str| -> Option<Vec<u64>> {
        v.trim().split('.').map(|p| p.parse::<u64>().ok()).collect()
    };
    match (parse(have), parse(need)) {
        (Some(h), Some(n)) => {
            let len = h.len().max(n.len());
            let at = |v: &Vec<u64>, i: usize| v.get(i).copied().unwrap_or(0);
            (0..len)
                .map(|i| at(&h, i).cmp(&at(&n, i)))
                .find(|o| o.is_ne())
                .is_none_or(|o| o.is_gt())
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests make their own clock"
)]
mod tests;
