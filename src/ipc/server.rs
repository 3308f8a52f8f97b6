//! The IPC server: publishes each service name, admits clients at accept by who they are and
//! how many slots they and everyone hold, runs one task per client on the daemon's executor,
//! and is the daemon's handle for sending and disconnecting.
//!
//! In: the configuration, an acceptor, and calls from the proxy. Out: `IpcEvent`s in the
//! daemon's mailbox. Never publishes a name someone else holds (a name squatted by a local
//! user is tried again later), and on shutdown leaves no socket file, directory or control
//! file behind.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::net::UnixStream;
use std::rc::{Rc, Weak};

use async_executor::{LocalExecutor, Task};
use async_io::{Async, Timer};
use futures_lite::future;

use super::admission::Policy;
use super::budget::Budget;
use super::channel::Outgoing;
use super::client::{Acceptor, Cred, IpcClientId, IpcEvent};
use super::config::{IpcConfig, SocketMode, WMEM_MAX_PATH};
use super::conn::{ClientLink, Conn, Intake};
use super::error::{holder_text, CloseReason, IpcError, StartError};
use super::handshake::{handshake, Identities};
use super::listener::{accept_loop, Published};
use super::pcmk::{Encoder, FLAG_SERVER_EVENT};
use super::qb;
use crate::limits;
use crate::logging::Source;
use crate::mailbox::Mailbox;
use crate::sys::ipc_socket::{peer_cred, peer_groups, proc_groups, send_nosignal, Ucred};
use crate::sys::users::effective_uid;
use crate::sys::users::{group_id, user_ids, user_name};

/// The user Pacemaker's daemons run as; its clients are privileged (libqb-ipc.md 6.3).
const CLUSTER_USER: &str = "hacluster";
/// The group whose members may use the services (its gid is also hacluster's primary group
/// on Pacemaker installations; that is used if the group itself is missing).
const CLUSTER_GROUP: &str = "haclient";
/// `lrmd_ipc_user` for a uid the user database does not know (protocol.md 16.3).
const UNKNOWN_USER: &str = "#unprivileged";

/// Where a client is in its life, as the server sees it.
enum Phase {
    /// Accepted; the handshake runs. The daemon does not know this client yet.
    Handshaking,
    /// `Connected` was reported; responses and events may be queued.
    Ready(Rc<ClientLink>),
}

struct Entry {
    service: &'static str,
    cred: Cred,
    phase: Phase,
    /// The client's task; dropping it tears the connection down. `None` once the task has
    /// ended by itself and been detached.
    task: Option<Task<()>>,
}

#[derive(Default)]
struct State {
    clients: HashMap<IpcClientId, Entry>,
    /// One accept task per name; dropping one closes the listener and removes its file.
    listeners: Vec<Task<()>>,
    stopped: bool,
}

/// The running server. Dropping it shuts it down.
pub struct IpcServer {
    ex: Rc<LocalExecutor<'static>>,
    cfg: Rc<IpcConfig>,
    acceptor: Rc<dyn Acceptor>,
    events: Mailbox<IpcEvent>,
    ids: Identities,
    policy: Policy,
    budget: Rc<Budget>,
    me: Weak<IpcServer>,
    next_client: Cell<u64>,
    next_event: Cell<u32>,
    /// Refused sockets waiting for their handshake before we close them.
    lingering: Rc<Cell<usize>>,
    state: RefCell<State>,
}

impl IpcServer {
    /// Checks `cfg`, publishes every service name and starts accepting on `ex`. Fails,
    /// naming the service, if a name is already published by a cluster process (root or
    /// hacluster: a full cluster stack runs here); nothing stays published then. A name held
    /// by any other local user is logged with the holder and tried again every
    /// `cfg.name_retry`, while the rest is served.
    pub fn start(
        ex: &Rc<LocalExecutor<'static>>,
        cfg: IpcConfig,
        acceptor: Rc<dyn Acceptor>,
        events: Mailbox<IpcEvent>,
    ) -> Result<Rc<IpcServer>, StartError> {
        let mut cfg = cfg;
        cfg.check().map_err(StartError::Config)?;
        let wmem_max = std::fs::read_to_string(WMEM_MAX_PATH)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok());
        if let Some(lowered) = wmem_max.and_then(|w| cfg.fit_kernel(w)) {
            log::info!(
                "ipc: offering clients at most {lowered} bytes per message: \
                 {WMEM_MAX_PATH} is {}; raise it to offer more",
                wmem_max.unwrap_or(0)
            );
        }
        let hacluster = user_ids(CLUSTER_USER);
        let haclient = group_id(CLUSTER_GROUP).or(hacluster.map(|h| h.1));
        if haclient.is_none() {
            log::warn!(
                "ipc: neither group {CLUSTER_GROUP} nor user {CLUSTER_USER} found; \
                 only root clients can connect"
            );
        }
        let ids = Identities {
            euid: effective_uid(),
            hacluster_uid: hacluster.map(|h| h.0),
            haclient_gid: haclient,
        };
        let policy = Policy {
            max_clients: cfg.max_clients,
            per_uid: cfg.max_clients_per_uid,
            root_reserve: cfg.root_reserve,
            hacluster_uid: ids.hacluster_uid,
            haclient_gid: ids.haclient_gid,
        };
        let (all, per_uid) = cfg.inflate_budget();
        let budget = Budget::new(all, per_uid);
        let mode = cfg.socket_mode.resolve();
        let mut published = Vec::with_capacity(cfg.services.len());
        let mut squatted = Vec::new();
        for &service in &cfg.services {
            // On failure the names published so far are released as `published` drops.
            match Published::new(service, &mode) {
                Ok(p) => published.push((service, p)),
                Err(StartError::NameTaken { holder, .. })
                    if !held_by_cluster(holder.as_ref(), &ids) =>
                {
                    log::warn!(
                        "ipc: name {service} is taken by {}, not a cluster process (root or \
                         {CLUSTER_USER}): serving the cluster without it, trying again every {} s",
                        holder_text(holder.as_ref()),
                        cfg.name_retry.as_secs_f32()
                    );
                    squatted.push(service);
                }
                Err(e) => return Err(e),
            }
        }
        let server = Rc::new_cyclic(|me: &Weak<IpcServer>| IpcServer {
            ex: ex.clone(),
            cfg: Rc::new(cfg),
            acceptor,
            events,
            ids,
            policy,
            budget,
            me: me.clone(),
            next_client: Cell::new(1),
            next_event: Cell::new(1),
            lingering: Rc::new(Cell::new(0)),
            state: RefCell::new(State::default()),
        });
        for (service, p) in published {
            let task = ex.spawn(serve_name(server.me.clone(), service, p));
            server.state.borrow_mut().listeners.push(task);
            log::info!("ipc: serving {service}");
        }
        for service in squatted {
            let task = ex.spawn(reclaim_name(server.me.clone(), service, mode.clone()));
            server.state.borrow_mut().listeners.push(task);
        }
        Ok(server)
    }

    /// Queues `xml` as the response to request `id` (same libqb id, libqb-ipc.md 7.3). An id
    /// above every request the client sent is refused: a 2.1.5 client would abort on it.
    pub fn send_response(
        &self,
        client: IpcClientId,
        id: u32,
        xml: &[u8],
        flags: u32,
    ) -> Result<(), IpcError> {
        let link = self.link(client)?;
        let last = link.last_request.get();
        if id == 0 || id > last {
            return Err(IpcError::NoSuchRequest { id, last });
        }
        let parts = link
            .encoder
            .get()
            .encode(id, flags, xml)
            .map_err(IpcError::Encode)?;
        link.last_response.set(link.last_response.get().max(id));
        self.queue(client, &link.responses, parts)
    }

    /// Queues `xml` as a server event, numbered by our own counter.
    pub fn send_event(&self, client: IpcClientId, xml: &[u8]) -> Result<(), IpcError> {
        let link = self.link(client)?;
        let id = self.next_event.get();
        // libqb reads ids as signed 32-bit and keeps the negative ones for itself: wrap
        // within 1..=i32::MAX.
        self.next_event
            .set(if id >= i32::MAX as u32 { 1 } else { id + 1 });
        let parts = link
            .encoder
            .get()
            .encode(id, FLAG_SERVER_EVENT, xml)
            .map_err(IpcError::Encode)?;
        self.queue(client, &link.events, parts)
    }

    /// Ends a client's connection: what is queued goes out if it can without waiting, then
    /// the zero-length goodbye, then sockets and files go. Reports `Closed`.
    pub fn disconnect(&self, client: IpcClientId) {
        self.end(client, CloseReason::Disconnected);
    }

    /// Clients that completed the handshake and have not closed.
    pub fn client_count(&self) -> usize {
        let st = self.state.borrow();
        st.clients
            .values()
            .filter(|e| matches!(e.phase, Phase::Ready(_)))
            .count()
    }

    /// Stops accepting, closes every client (reporting `Closed`), removes every file.
    pub fn shutdown(&self) {
        let (listeners, clients) = {
            let mut st = self.state.borrow_mut();
            st.stopped = true;
            (
                std::mem::take(&mut st.listeners),
                std::mem::take(&mut st.clients),
            )
        };
        drop(listeners);
        for (id, entry) in clients {
            self.report_closed(id, &entry, CloseReason::Shutdown);
            // Dropping the task drops its connection, which tears it down.
            drop(entry);
        }
    }

    fn link(&self, client: IpcClientId) -> Result<Rc<ClientLink>, IpcError> {
        match self.state.borrow().clients.get(&client).map(|e| &e.phase) {
            Some(Phase::Ready(link)) => Ok(link.clone()),
            _ => Err(IpcError::UnknownClient(client)),
        }
    }

    fn queue(
        &self,
        client: IpcClientId,
        queue: &Mailbox<Outgoing>,
        parts: Outgoing,
    ) -> Result<(), IpcError> {
        let weight = parts.iter().map(Vec::len).sum();
        queue.push(parts, weight).map_err(|full| {
            let why = CloseReason::SlowReader {
                queued: full.queued,
                max: full.max,
            };
            self.end(client, why);
            IpcError::QueueFull {
                queued: full.queued,
                max: full.max,
            }
        })
    }

    fn end(&self, client: IpcClientId, why: CloseReason) {
        let entry = self.state.borrow_mut().clients.remove(&client);
        if let Some(entry) = entry {
            match why {
                CloseReason::Disconnected | CloseReason::Shutdown => log::info!(
                    "ipc: closing {} client {} ({client}): {why}",
                    entry.service,
                    entry.cred
                ),
                _ => crate::limited!(
                    Source::LocalClient,
                    log::Level::Warn,
                    "ipc: closing {} client {} ({client}): {why}",
                    entry.service,
                    entry.cred
                ),
            }
            self.report_closed(client, &entry, why);
            drop(entry);
        }
    }

    fn report_closed(&self, client: IpcClientId, entry: &Entry, why: CloseReason) {
        if let Phase::Ready(_) = entry.phase {
            // Weight 0: never refused, so the daemon always learns that a client is gone.
            let _ = self.events.push(IpcEvent::Closed { client, why }, 0);
        }
    }

    /// A new setup socket on `service`: who connected is taken from the socket itself (uid,
    /// gid, pid and supplementary groups as at `connect`), then the client is admitted by
    /// the policy (haclient gate, per-uid share, root's reserve, the cap) or refused at once,
    /// before it holds a slot or gets a handshake deadline.
    fn admit(&self, service: &'static str, stream: Async<UnixStream>) {
        if self.state.borrow().stopped {
            return;
        }
        let cred = match peer_cred(&stream) {
            Ok(c) => Cred {
                pid: c.pid,
                uid: c.uid,
                gid: c.gid,
            },
            Err(e) => {
                crate::limited!(
                    Source::LocalClient,
                    log::Level::Warn,
                    "ipc: dropping a {service} connection: no peer credentials: {e}"
                );
                return;
            }
        };
        let groups = match peer_groups(&stream) {
            Ok(g) => Some(g),
            // A kernel before 4.13: read them now, while the process waits in connect.
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => proc_groups(cred.pid),
            Err(_) => None,
        };
        let (held, held_by_uid) = {
            let st = self.state.borrow();
            let mine = st.clients.values().filter(|e| e.cred.uid == cred.uid);
            (st.clients.len(), mine.count())
        };
        if let Err(why) = self
            .policy
            .admit(&cred, groups.as_deref(), held, held_by_uid)
        {
            crate::limited!(
                Source::LocalClient,
                log::Level::Warn,
                "ipc: refusing a new {service} client {cred}: {why}"
            );
            self.refuse_at_accept(stream, why.errno());
            return;
        }
        let id = IpcClientId(self.next_client.get());
        self.next_client.set(id.0 + 1);
        let task = self
            .ex
            .spawn(run_client(self.me.clone(), id, service, cred, stream));
        let entry = Entry {
            service,
            cred,
            phase: Phase::Handshaking,
            task: Some(task),
        };
        self.state.borrow_mut().clients.insert(id, entry);
    }

    /// Refuses a client at accept with `code`: the refusal goes out at once (a fresh socket
    /// takes it whole, and a libqb 2.0.6 client would otherwise wait for ever), then the
    /// socket is closed once the client's 24-byte handshake is read, so the close cannot
    /// reset the connection before the client reads the refusal. If the handshake is not in
    /// yet, the socket lingers up to `IPC_REFUSAL_LINGER`, a bounded number at a time.
    fn refuse_at_accept(&self, stream: Async<UnixStream>, code: i32) {
        let _ = send_nosignal(&stream, &qb::encode_refusal(code));
        let mut request = [0u8; qb::CONNECTION_REQUEST_LEN];
        match stream.get_ref().read(&mut request) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            // In already, or the client is gone: nothing to wait for.
            _ => return,
        }
        let count = self.lingering.clone();
        if count.get() >= limits::IPC_MAX_LINGERING_REFUSALS {
            return;
        }
        count.set(count.get() + 1);
        self.ex
            .spawn(async move {
                let wait = async {
                    let _ = stream.readable().await;
                };
                future::or(wait, async {
                    Timer::after(limits::IPC_REFUSAL_LINGER).await;
                })
                .await;
                let _ = stream.get_ref().read(&mut request);
                count.set(count.get() - 1);
            })
            .detach();
    }

    /// Bytes of the shared inflation budget held now (tests, diagnostics).
    pub fn inflation_held(&self) -> usize {
        self.budget.held()
    }

    /// The handshake is done: expose the client and report it.
    fn ready(&self, id: IpcClientId, negotiated: usize, cred: Cred) -> Option<Rc<ClientLink>> {
        let link = Rc::new(ClientLink {
            // Until the first request says otherwise (Framing's default is readable by both).
            encoder: Cell::new(Encoder::new(
                self.cfg.framing.unwrap_or_default(),
                self.cfg.threshold(negotiated),
                negotiated,
            )),
            responses: Mailbox::new(self.cfg.max_outbound_bytes),
            events: Mailbox::new(self.cfg.max_outbound_bytes),
            last_request: Cell::new(0),
            last_response: Cell::new(0),
        });
        let service = {
            let mut st = self.state.borrow_mut();
            let entry = st.clients.get_mut(&id)?;
            entry.phase = Phase::Ready(link.clone());
            entry.service
        };
        let privileged = cred.uid == 0 || Some(cred.uid) == self.ids.hacluster_uid;
        let user = user_name(cred.uid).unwrap_or_else(|| UNKNOWN_USER.into());
        // Every crm_mon opens several of these: debug, not notice, or the log drowns.
        log::debug!(
            "ipc: {service} client {cred} ({id}) connected as {user}, {negotiated}-byte buffer"
        );
        let connected = IpcEvent::Connected {
            client: id,
            service,
            cred,
            user,
            privileged,
        };
        let _ = self.events.push(connected, 0);
        Some(link)
    }

    /// The client's task ended by itself: forget it. Its task handle is detached, not
    /// dropped, because this runs inside that very task.
    fn finish(&self, id: IpcClientId, why: CloseReason) {
        let entry = self.state.borrow_mut().clients.remove(&id);
        if let Some(mut entry) = entry {
            if let Some(task) = entry.task.take() {
                task.detach();
            }
            self.report_closed(id, &entry, why);
        }
    }
}

/// Whether the process holding a name we need is part of a cluster stack (root or
/// hacluster, as Pacemaker's own daemons run): then this host runs the full stack, or a
/// second remote daemon, and we must not serve. Anyone else is a squatter (libqb-ipc.md 3.1:
/// abstract names belong to whoever binds first, and `/tmp` is world-writable). A holder we
/// cannot identify (bound, not listening) is no working cluster daemon either.
fn held_by_cluster(holder: Option<&Ucred>, ids: &Identities) -> bool {
    holder.is_some_and(|h| h.uid == 0 || Some(h.uid) == ids.hacluster_uid)
}

/// Accepts on one published name for as long as the server lives.
async fn serve_name(me: Weak<IpcServer>, service: &'static str, p: Published) {
    let admit = |stream| match me.upgrade() {
        Some(server) => {
            server.admit(service, stream);
            true
        }
        None => false,
    };
    accept_loop(service, &p.listener, admit).await;
}

/// A name a local user squats: tried again every `name_retry` until it is free, then served.
/// Exiting instead would let any local user take the node away from its cluster (exit 100 is
/// not restarted by systemd, and a restart would only meet the squatter again).
async fn reclaim_name(me: Weak<IpcServer>, service: &'static str, mode: SocketMode) {
    loop {
        let Some(retry) = me.upgrade().map(|s| s.cfg.name_retry) else {
            return;
        };
        Timer::after(retry).await;
        let Some(server) = me.upgrade() else { return };
        match Published::new(service, &mode) {
            Ok(p) => {
                log::info!("ipc: serving {service} (the name is free again)");
                drop(server);
                serve_name(me, service, p).await;
                return;
            }
            Err(StartError::NameTaken { holder, .. }) => {
                let cluster = held_by_cluster(holder.as_ref(), &server.ids);
                crate::limited!(
                    Source::LocalClient,
                    log::Level::Warn,
                    "ipc: name {service} still taken by {}{}; trying again in {} s",
                    holder_text(holder.as_ref()),
                    if cluster {
                        ", now a cluster process"
                    } else {
                        ""
                    },
                    retry.as_secs_f32()
                );
            }
            Err(e) => crate::limited!(
                Source::LocalClient,
                log::Level::Warn,
                "ipc: {e}; trying again in {} s",
                retry.as_secs_f32()
            ),
        }
    }
}

impl Drop for IpcServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One client's whole life: handshake, then serving, then telling the server it ended.
async fn run_client(
    me: Weak<IpcServer>,
    id: IpcClientId,
    service: &'static str,
    cred: Cred,
    stream: Async<UnixStream>,
) {
    let Some(server) = me.upgrade() else { return };
    let (cfg, acceptor, ids) = (server.cfg.clone(), server.acceptor.clone(), server.ids);
    drop(server);
    let est = match handshake(stream, cred, service, &cfg, acceptor.as_ref(), &ids).await {
        Ok(est) => est,
        Err(e) => {
            crate::limited!(
                Source::LocalClient,
                e.level(),
                "ipc: {service} client {cred} ({id}) not connected: {e}"
            );
            if let Some(server) = me.upgrade() {
                server.finish(id, CloseReason::ClientClosed);
            }
            return;
        }
    };
    let Some(server) = me.upgrade() else { return };
    let Some(link) = server.ready(id, est.negotiated, est.cred) else {
        return;
    };
    let daemon = server.events.clone();
    let intake = Intake {
        grant: server.budget.grant(est.cred.uid),
        slice: cfg.inflate_slice,
        framing: cfg.framing,
        max_message: cfg.max_message,
    };
    drop(server);
    let conn = Conn::new(id, service, est, link, daemon, intake);
    // `serve` drops the connection (closing sockets, removing files) before it returns.
    let why = conn.serve().await;
    if let Some(server) = me.upgrade() {
        server.finish(id, why);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_or_hacluster_holding_a_name_means_a_cluster_stack() {
        let ids = Identities {
            euid: 0,
            hacluster_uid: Some(91),
            haclient_gid: Some(90),
        };
        let holder = |uid| Ucred {
            pid: 5,
            uid,
            gid: 0,
        };
        assert!(held_by_cluster(Some(&holder(0)), &ids));
        assert!(held_by_cluster(Some(&holder(91)), &ids));
        // A haclient member or anyone else is a squatter, as is a holder we cannot name.
        assert!(!held_by_cluster(Some(&holder(1000)), &ids));
        assert!(!held_by_cluster(None, &ids));
    }
}
