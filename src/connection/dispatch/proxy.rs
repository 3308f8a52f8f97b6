//! The IPC proxy's rules (feature `ipc-proxy`, protocol.md 16): local tools' sessions relayed
//! to the cluster as `lrmd_ipc_proxy` messages, and the cluster's answers delivered back.

use log::{debug, info, warn};

use super::{send, Action, Dispatcher};
use crate::connection::clients::ConnId;
use crate::connection::sessions::{proxied_name, LocalId, Session};
use crate::proto::names::{attr, rc, LRMD_IPC_MSG, LRMD_IPC_PROXY};
use crate::proto::reply::addressed_notify;
use crate::proto::request::ProxyMessage;
use crate::proto::xml::Element;

/// IPC flag the proxy adds to every relayed request (protocol.md 16.3).
pub const IPC_PROXIED: u32 = 0x100;

/// Services a local client may open, and the one that is always refused.
pub const SERVICES: &[&str] = &[
    "lrmd",
    "cib_ro",
    "cib_rw",
    "cib_shm",
    "attrd",
    "stonith-ng",
    "crmd",
    "pacemakerd",
];

impl Dispatcher {
    /// Whether a local client may connect to `service` (negative errno to refuse): never to
    /// `pacemakerd`, and to the cluster's services only while a cluster connection relays them.
    pub fn ipc_accept(&self, service: &str) -> Result<(), i32> {
        match service {
            "pacemakerd" => Err(rc::EREMOTEIO),
            "lrmd" => Ok(()),
            _ if self.clients.providers().next().is_none() => {
                info!("refusing local client of {service}: no cluster connection to relay it");
                Err(rc::EREMOTEIO)
            }
            _ => Ok(()),
        }
    }

    /// A local client connected to a proxied service: a session bound to the newest provider,
    /// announced to it.
    pub fn ipc_connected(
        &mut self,
        local: LocalId,
        service: &str,
        pid: u32,
        user: &str,
        random: [u8; 16],
    ) -> Vec<Action> {
        let Some(provider) = self.clients.providers().last() else {
            // The provider left between accept and now: the shell closes the client.
            return vec![Action::IpcDisconnect { local }];
        };
        let id = crate::connection::clients::uuid_v4(random);
        let server = proxied_name(service).to_string();
        let client_name = format!("proxy-{service}-{pid}-{}", &id[..8]);
        debug!("local client {client_name} (user {user}) via {provider}");
        let note = Element::new(LRMD_IPC_PROXY)
            .with_attr(attr::IPC_OP, "new")
            .with_attr(attr::IPC_SERVER, &server)
            .with_attr(attr::IPC_SESSION, &id);
        self.sessions.insert(Session {
            id,
            local,
            server,
            provider,
            client_name,
            user: user.to_string(),
            pending: None,
        });
        vec![send(provider, addressed_notify(note))]
    }

    /// One whole message from a local client of a proxied service, relayed as is.
    pub fn ipc_request(
        &mut self,
        local: LocalId,
        msg_id: u32,
        flags: u32,
        message: Element,
    ) -> Vec<Action> {
        let Some(session) = self.sessions.by_local(local) else {
            return vec![Action::IpcDisconnect { local }];
        };
        session.pending = Some(msg_id);
        let relay = Element::new(LRMD_IPC_PROXY)
            .with_attr(attr::IPC_OP, "request")
            .with_attr(attr::IPC_SESSION, &session.id)
            .with_attr(attr::IPC_CLIENT, &session.client_name)
            .with_attr(attr::IPC_USER, &session.user)
            .with_attr(attr::IPC_MSG_ID, msg_id)
            .with_attr(attr::IPC_MSG_FLAGS, flags | IPC_PROXIED)
            .with_child(Element::new(LRMD_IPC_MSG).with_child(message));
        vec![send(session.provider, addressed_notify(relay))]
    }

    /// A local client left: the cluster is told to end its side of the session.
    pub fn ipc_closed(&mut self, local: LocalId) -> Vec<Action> {
        let Some(session) = self.sessions.remove_local(local) else {
            return Vec::new();
        };
        if self.clients.get(session.provider).is_none() {
            return Vec::new();
        }
        vec![send(
            session.provider,
            addressed_notify(destroy(&session.id)),
        )]
    }

    /// Ends the sessions a departing provider relayed (protocol.md 13).
    pub(super) fn drop_sessions_of(&mut self, provider: ConnId, out: &mut Vec<Action>) {
        for local in self.sessions.of_provider(provider) {
            if let Some(s) = self.sessions.remove_local(local) {
                info!(
                    "closing local client {}: its cluster connection is gone",
                    s.client_name
                );
            }
            out.push(Action::IpcDisconnect { local });
        }
    }

    /// A proxy message from the cluster for a session (protocol.md 16.4).
    pub(super) fn proxy_to_local(
        &mut self,
        conn: ConnId,
        msg: ProxyMessage,
        out: &mut Vec<Action>,
    ) {
        let op = msg.ipc_op.as_deref().unwrap_or("");
        let session_id = msg.session.clone().unwrap_or_default();
        let Some(session) = self.sessions.get(&session_id) else {
            debug!("{conn} proxy '{op}' for unknown session {session_id}; telling it to forget it");
            out.push(send(conn, addressed_notify(destroy(&session_id))));
            return;
        };
        let local = session.local;
        let mut text = Vec::new();
        if let Some(inner) = &msg.inner {
            crate::proto::xml::write(inner, &mut text);
        }
        match op {
            "response" => {
                let id = match (msg.msg_id, session.pending.take()) {
                    (Some(got), Some(want)) if got != want => {
                        warn!("{conn} response for IPC request {got} while {want} waits; delivering as {got}");
                        got
                    }
                    (Some(got), _) => got,
                    (None, Some(want)) => want,
                    (None, None) => 0,
                };
                out.push(Action::IpcResponse {
                    local,
                    id,
                    payload: std::rc::Rc::new(text),
                });
            }
            "event" => out.push(Action::IpcEvent {
                local,
                payload: std::rc::Rc::new(text),
            }),
            "destroy" => out.push(Action::IpcDisconnect { local }),
            other => warn!("{conn} unknown proxy operation '{other}' for session {session_id}"),
        }
    }
}

fn destroy(session: &str) -> Element {
    Element::new(LRMD_IPC_PROXY)
        .with_attr(attr::IPC_OP, "destroy")
        .with_attr(attr::IPC_SESSION, session)
}
