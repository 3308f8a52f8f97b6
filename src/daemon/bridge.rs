//! The bridge between the IPC server and the protocol core: local tools' connections,
//! requests and departures go to the dispatcher, and its proxy actions come back as IPC
//! responses, events and disconnections (protocol.md 16).
//!
//! The `lrmd` service is the executor's own local API: its clients are dispatcher clients like
//! cluster connections, and their replies go out as the IPC response to the request being
//! handled, their notifications as IPC events.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use async_executor::LocalExecutor;
use log::{debug, warn};

use super::hub::{now, Hub, RelayRefused};
use crate::dispatch::clients::Privilege;
use crate::dispatch::proxy::Relay;
use crate::handles::{ConnId, IpcClientId};
use crate::ipc::{Cred, IpcConfig, IpcError, IpcEvent, IpcServer, StartError};
use crate::logging::Source;
use crate::mailbox::Mailbox;
use crate::proto::{xml, Request};
use crate::transport::tls;

/// The IPC side of the hub.
#[derive(Default)]
pub struct BridgeState {
    server: RefCell<Option<Rc<IpcServer>>>,
    /// Local executor clients: their dispatcher handle and their IPC handle, both ways.
    executor_clients: RefCell<HashMap<IpcClientId, ConnId>>,
    by_conn: RefCell<HashMap<ConnId, IpcClientId>>,
    /// The local executor request being handled, whose reply is an IPC response.
    current: Cell<Option<(ConnId, u32)>>,
}

/// Publishes the local services and starts relaying. An error names a service already
/// published by someone else (the caller exits 100 for `crmd`, as the original does).
pub fn start(
    hub: &Rc<Hub>,
    ex: &Rc<LocalExecutor<'static>>,
    cfg: IpcConfig,
) -> Result<(), StartError> {
    let mut cfg = cfg;
    // A local message longer than a cluster frame could not be relayed anyway.
    cfg.max_message = cfg.max_message.min(crate::limits::IPC_MAX_MESSAGE_BYTES);
    let events = Mailbox::new(cfg.max_message.saturating_mul(2));
    let gate = hub.clone();
    let acceptor = Rc::new(move |service: &str, cred: &Cred| admit(&gate, service, cred));
    let server = IpcServer::start(ex, cfg, acceptor, events.clone())?;
    *hub.ipc.server.borrow_mut() = Some(server);
    ex.spawn(pump(hub.clone(), events)).detach();
    Ok(())
}

/// Whether a client the server admitted (root, `hacluster` or `haclient`, judged at accept
/// from the socket's credentials, protocol.md 16.2) may open `service` now.
fn admit(hub: &Hub, service: &str, _cred: &Cred) -> Result<(), i32> {
    hub.dispatcher.borrow().ipc_accept(service)
}

/// Carries the IPC server's events to the dispatcher, in order, until the server stops.
async fn pump(hub: Rc<Hub>, events: Mailbox<IpcEvent>) {
    while let Some(event) = events.recv().await {
        match event {
            IpcEvent::Connected {
                client,
                service,
                cred,
                user,
                privileged,
            } => connected(&hub, client, service, cred, &user, privileged),
            IpcEvent::Request {
                client,
                id,
                flags,
                xml,
            } => request(&hub, client, id, flags, &xml),
            IpcEvent::Closed { client, why } => {
                debug!("{client} closed: {why}");
                let conn = hub.ipc.executor_clients.borrow_mut().remove(&client);
                let actions = match conn {
                    Some(conn) => {
                        hub.ipc.by_conn.borrow_mut().remove(&conn);
                        hub.dispatcher.borrow_mut().disconnected(conn, now())
                    }
                    None => hub.dispatcher.borrow_mut().ipc_closed(client),
                };
                hub.perform(actions);
            }
        }
    }
}

fn connected(
    hub: &Rc<Hub>,
    client: IpcClientId,
    service: &str,
    cred: Cred,
    user: &str,
    privileged: bool,
) {
    let Ok(random) = tls::random_16() else {
        warn!("{client}: no random bytes for a session id; closing it");
        hub.ipc_disconnect(client);
        return;
    };
    if service == "lrmd" {
        let conn = hub.new_conn_id();
        hub.ipc.executor_clients.borrow_mut().insert(client, conn);
        hub.ipc.by_conn.borrow_mut().insert(conn, client);
        hub.dispatcher.borrow_mut().local_connected(
            conn,
            format!("local {cred}"),
            if privileged {
                Privilege::Full
            } else {
                Privilege::SignOnOnly
            },
            random,
        );
        return;
    }
    debug!("{client} ({cred}, user {user}) opened {service}");
    let pid = u32::try_from(cred.pid).unwrap_or(0);
    let actions = hub
        .dispatcher
        .borrow_mut()
        .ipc_connected(client, service, pid, user, random);
    hub.perform(actions);
}

fn request(hub: &Rc<Hub>, client: IpcClientId, id: u32, flags: u32, text: &[u8]) {
    let limits = hub.xml_limits();
    let message = match xml::parse(text, &limits) {
        Ok(m) => m,
        Err(e) => {
            warn!("{client} sent invalid XML ({e}); closing it");
            hub.ipc_disconnect(client);
            return;
        }
    };
    let conn = hub.ipc.executor_clients.borrow().get(&client).copied();
    let actions = match conn {
        Some(conn) => {
            hub.ipc.current.set(Some((conn, id)));
            let actions =
                hub.dispatcher
                    .borrow_mut()
                    .handle(conn, Request::from_xml(&message), now());
            hub.perform(actions);
            hub.ipc.current.set(None);
            return;
        }
        None => relay(hub, client, id, flags, message),
    };
    hub.perform(actions);
}

/// Relays a request to the cluster within the frame bound and the relays' share of the
/// outbox; a request that does not fit is refused instead (-EMSGSIZE for its size, -EAGAIN
/// while the outbox is full, -ENOTCONN if the cluster connection is gone).
fn relay(
    hub: &Rc<Hub>,
    local: IpcClientId,
    id: u32,
    flags: u32,
    message: crate::proto::xml::Element,
) -> Vec<crate::dispatch::Action> {
    // A frame carries header, text and a NUL within max_message_bytes (protocol.md 6.1).
    let max_text = hub
        .limits
        .max_message_bytes
        .saturating_sub(crate::wire::HEADER_LEN + 1);
    let decided = hub
        .dispatcher
        .borrow_mut()
        .ipc_relay(local, id, flags, message, max_text);
    let (to, payload, refusal) = match decided {
        Relay::Send {
            to,
            payload,
            refusal,
        } => (to, payload, refusal),
        Relay::Done(actions) => return actions,
    };
    let len = payload.len();
    let errno = match hub.relay(to, payload) {
        Ok(()) => return Vec::new(),
        Err(RelayRefused::Gone) => -libc::ENOTCONN,
        Err(RelayRefused::Full { queued, share }) => {
            crate::limited!(
                Source::LocalClient,
                log::Level::Warn,
                "not relaying request {id} of local client {local}: {len} bytes do not fit \
                 the {share} bytes relays may queue for {to} ({queued} queued); refused with -EAGAIN"
            );
            -libc::EAGAIN
        }
    };
    hub.dispatcher
        .borrow_mut()
        .ipc_relay_refused(local, &refusal, errno)
}

impl Hub {
    /// Sends to a local client: a response to request `id`, or an event.
    pub(crate) fn ipc_send(&self, client: IpcClientId, id: Option<u32>, payload: &[u8]) {
        let Some(server) = self.ipc.server.borrow().clone() else {
            return;
        };
        let sent = match id {
            Some(id) => server.send_response(client, id, payload, 0),
            None => server.send_event(client, payload),
        };
        match sent {
            Ok(()) => {}
            // Gone already, or its queue overflowed (then it has been disconnected): nothing
            // waits for this message any more.
            Err(e @ (IpcError::UnknownClient(_) | IpcError::QueueFull { .. })) => {
                debug!("{client}: not delivered: {e}")
            }
            // The client waits for a reply it will never get: say so, and let it go rather
            // than hang.
            Err(e) => {
                warn!("{client}: reply not delivered, closing the client: {e}");
                server.disconnect(client);
            }
        }
    }

    /// Closes a local client.
    pub(crate) fn ipc_disconnect(&self, local: IpcClientId) {
        if let Some(server) = self.ipc.server.borrow().clone() {
            server.disconnect(local);
        }
    }

    /// Delivers a dispatcher message to a local executor client, if `to` is one: the reply
    /// to the request being handled as its IPC response, anything else as an event.
    pub(crate) fn route_local(&self, to: ConnId, payload: &[u8], reply: bool) -> bool {
        let Some(client) = self.ipc.by_conn.borrow().get(&to).copied() else {
            return false;
        };
        let id = match self.ipc.current.get() {
            Some((conn, id)) if reply && conn == to => Some(id),
            _ => None,
        };
        self.ipc_send(client, id, payload);
        true
    }

    /// Stops serving local tools (exit).
    pub(crate) fn ipc_shutdown(&self) {
        if let Some(server) = self.ipc.server.borrow_mut().take() {
            server.shutdown();
        }
    }
}
