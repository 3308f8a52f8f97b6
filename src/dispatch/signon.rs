//! Clients arriving and signing on: who may make which request, the first request that
//! introduces a client to the others, `register` (the sign-on), the keepalive, and unknown
//! operations (protocol.md 8, 9.1, 9.2, 9.10, 13).
//!
//! In: requests from the dispatcher's `handle`. Out: replies and notifications as actions, and
//! the client's [`Stage`] moved forward. Pure.

use log::{info, warn};

use super::action::{answer, encoded, Action, Call};
use super::clients::{uuid_v4, ConnId, Origin, Privilege, Stage};
use super::error::{rc_of, Refused};
use super::Dispatcher;
use crate::handles::Now;
use crate::proto::names::{self, op, rc};
use crate::proto::reply::{self, addressed_notify, SignonReply};
use crate::proto::{Op, Request};

impl Dispatcher {
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
    pub(super) fn local_permission(&self, conn: ConnId, req: &Request) -> Permission {
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

    /// Records the client's name from its first request that has one, and on its first
    /// request tells the other clients about it, unless it is a `check` session.
    pub(super) fn note_sender(&mut self, conn: ConnId, req: &Request, out: &mut Vec<Action>) {
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
    pub(super) fn register(
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
        let fetch_schemas = result.is_ok() && is_ipc_provider && wants_schemas(version.as_deref());
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
            protocol_version: announced_version(version.as_deref()),
        }
        .to_xml();
        out.push(answer(call, body));
        #[cfg(feature = "ipc-proxy")]
        if fetch_schemas {
            self.fetch_schemas(conn, out);
        }
        #[cfg(not(feature = "ipc-proxy"))]
        let _ = fetch_schemas;
    }

    /// `lrmd_rsc_poke`, the keepalive: answered, and notified to every named client.
    pub(super) fn poke(&mut self, call: Call, out: &mut Vec<Action>) {
        out.push(answer(call, reply::generic(rc::OK, call.call_id)));
        let note = reply::generic_notify(rc::OK, call.call_id, op::POKE, None);
        self.notify_others_unless_diagnostic(call.conn, note, out);
    }

    /// An operation we do not know: EOPNOTSUPP (protocol.md 9.10).
    pub(super) fn unknown(&mut self, call: Call, name: &str, out: &mut Vec<Action>) {
        let e = Refused::UnknownOperation;
        warn!(
            "{} sent unknown operation '{name}'; answering EOPNOTSUPP",
            call.conn
        );
        out.push(answer(call, reply::generic(e.rc(), call.call_id)));
    }
}

/// Whether a local client may make the request in hand.
pub(super) enum Permission {
    /// Go ahead.
    Granted,
    /// Refuse with EACCES.
    Refused,
    /// Drop it without an answer (an unprivileged `lrmd_check`).
    Ignored,
}

/// The version we announce in the register reply (protocol.md 8): 1.2 to a client that
/// registers with 1.2 or later, 1.1 to every other, so that a cluster older than 2.1.8 never
/// hears of a version it does not know.
pub fn announced_version(client: Option<&str>) -> &'static str {
    match client {
        Some(v) if version_at_least(v, names::PROTOCOL_VERSION_SCHEMAS) => {
            names::PROTOCOL_VERSION_SCHEMAS
        }
        _ => names::PROTOCOL_VERSION,
    }
}

/// Whether a provider signing on with this version expects us to fetch the cluster's
/// schema files (protocol.md 17).
pub fn wants_schemas(client: Option<&str>) -> bool {
    client.is_some_and(|v| version_at_least(v, names::PROTOCOL_VERSION_SCHEMAS))
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
mod version_tests {
    use super::*;

    #[test]
    fn clusters_of_1_2_and_later_hear_1_2_and_older_ones_1_1() {
        assert_eq!(announced_version(Some("1.2")), "1.2");
        assert_eq!(announced_version(Some("1.10")), "1.2");
        assert_eq!(announced_version(Some("2")), "1.2");
        assert_eq!(announced_version(Some("1.1")), "1.1");
        assert_eq!(announced_version(Some("1.0")), "1.1");
        assert_eq!(announced_version(Some("garbage")), "1.1");
        assert_eq!(announced_version(None), "1.1");
        assert!(wants_schemas(Some("1.2")));
        assert!(!wants_schemas(Some("1.1")));
        assert!(!wants_schemas(None));
    }
}
