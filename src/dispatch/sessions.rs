//! IPC proxy sessions (feature `ipc-proxy`): which local tool talks, through which cluster
//! connection, to which cluster service (protocol.md 16).
//!
//! In: local clients connecting and leaving. Out: the session each belongs to. Pure
//! bookkeeping, bounded by the IPC server's client cap; no I/O.

use std::collections::BTreeMap;

use crate::handles::{ConnId, IpcClientId};

/// One proxied local client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The session id (a UUID) the cluster knows it by.
    pub id: String,
    /// The local client.
    pub local: IpcClientId,
    /// The cluster service it reaches (`cib_shm` is proxied as `cib_rw`).
    pub server: String,
    /// The cluster connection that relays it: the newest provider when it connected.
    pub provider: ConnId,
    /// `proxy-<service>-<pid>-<first 8 chars of id>`.
    pub client_name: String,
    /// The local user's name, or `#unprivileged`.
    pub user: String,
    /// The IPC ids of the relayed requests awaiting a response, oldest first (at most
    /// `IPC_RELAY_MAX_PENDING_PER_SESSION`).
    pub pending: std::collections::VecDeque<u32>,
}

/// Every session, by id and by local client.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: BTreeMap<String, Session>,
    by_local: BTreeMap<IpcClientId, String>,
}

impl Sessions {
    /// Adds a session.
    pub fn insert(&mut self, session: Session) {
        self.by_local.insert(session.local, session.id.clone());
        self.by_id.insert(session.id.clone(), session);
    }

    /// The session of a local client.
    pub fn by_local(&mut self, local: IpcClientId) -> Option<&mut Session> {
        let id = self.by_local.get(&local)?;
        self.by_id.get_mut(id)
    }

    /// A session by its id.
    pub fn get(&mut self, id: &str) -> Option<&mut Session> {
        self.by_id.get_mut(id)
    }

    /// Removes a local client's session.
    pub fn remove_local(&mut self, local: IpcClientId) -> Option<Session> {
        let id = self.by_local.remove(&local)?;
        self.by_id.remove(&id)
    }

    /// The local clients relayed by `provider`.
    pub fn of_provider(&self, provider: ConnId) -> Vec<IpcClientId> {
        self.by_id
            .values()
            .filter(|s| s.provider == provider)
            .map(|s| s.local)
            .collect()
    }

    /// How many sessions exist.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// What the cluster calls a local service: `cib_shm` shares the read-write handler.
pub fn proxied_name(service: &str) -> &str {
    match service {
        "cib_shm" => "cib_rw",
        other => other,
    }
}
