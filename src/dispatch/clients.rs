//! The table of connected clients: who is signed on, under which name, and who relays IPC.
//!
//! In: connect, request and disconnect events from the dispatcher. Out: the recipients of
//! each notification. Pure bookkeeping: no I/O, no protocol decisions beyond "who hears
//! what" (protocol.md 13).

use std::collections::BTreeMap;
use std::fmt;

pub use crate::handles::ConnId;
pub use crate::proto::names::DIAGNOSTIC_CLIENT_NAME;

/// Where a client connects from; fixed when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A TLS client past its handshake: it holds the key, so it may do anything.
    Remote,
    /// A local client of the executor's own IPC service (`lrmd`).
    Local(Privilege),
}

/// What a local client may do (protocol.md 9.1, CVE-2020-25654).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// Root or hacluster: everything a cluster connection may do, except relaying IPC.
    Full,
    /// Anyone else: sign on and poke only.
    SignOnOnly,
}

/// How far a client has come. Changes only forward, through [`Clients::set_stage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Connected; no request seen yet, so the others have not been told of it.
    Connected,
    /// Its first request was seen and the others were told of it (unless it is a `check`
    /// session, of which nobody is told).
    Introduced,
    /// Signed on as an IPC provider: it relays the local tools' sessions.
    Relaying,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connected => "connected",
            Stage::Introduced => "introduced",
            Stage::Relaying => "relaying IPC",
        })
    }
}

/// One connected client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// Its handle.
    pub conn: ConnId,
    /// The UUID returned in the register reply.
    pub client_id: String,
    /// Peer address, for logs.
    pub peer: String,
    /// `lrmd_clientname` from its first request that had one; unnamed clients get no
    /// notifications.
    pub name: Option<String>,
    /// Where it connects from.
    pub origin: Origin,
    /// How far it has come.
    pub stage: Stage,
}

impl Client {
    /// A `check` session: it hears nothing and is announced to nobody.
    pub fn is_diagnostic(&self) -> bool {
        self.name.as_deref() == Some(DIAGNOSTIC_CLIENT_NAME)
    }

    /// It relays the local tools' IPC.
    pub fn is_provider(&self) -> bool {
        self.stage == Stage::Relaying
    }

    /// A local client of the `lrmd` service.
    pub fn is_local(&self) -> bool {
        matches!(self.origin, Origin::Local(_))
    }
}

/// Every connected client, in connection order (oldest first).
#[derive(Debug, Default)]
pub struct Clients {
    by_conn: BTreeMap<ConnId, Client>,
}

impl Clients {
    /// Every client, oldest first (for the SIGTRAP summary).
    pub fn iter(&self) -> impl Iterator<Item = &Client> {
        self.by_conn.values()
    }

    /// Adds a client whose TLS handshake just completed.
    pub fn add(&mut self, conn: ConnId, client_id: String, peer: String) {
        self.insert(conn, client_id, peer, Origin::Remote, Stage::Connected);
    }

    /// Adds a local client of the `lrmd` IPC service. Local clients are never announced (only
    /// TLS handshakes are), so they start introduced.
    pub fn add_local(
        &mut self,
        conn: ConnId,
        client_id: String,
        peer: String,
        privilege: Privilege,
    ) {
        self.insert(
            conn,
            client_id,
            peer,
            Origin::Local(privilege),
            Stage::Introduced,
        );
    }

    fn insert(
        &mut self,
        conn: ConnId,
        client_id: String,
        peer: String,
        origin: Origin,
        stage: Stage,
    ) {
        self.by_conn.insert(
            conn,
            Client {
                conn,
                client_id,
                peer,
                name: None,
                origin,
                stage,
            },
        );
    }

    /// Moves a client to a later stage, with a debug line; never back.
    pub fn set_stage(&mut self, conn: ConnId, next: Stage) {
        if let Some(c) = self.by_conn.get_mut(&conn) {
            if next > c.stage {
                log::debug!("{conn}: {} -> {next}", c.stage);
                c.stage = next;
            }
        }
    }

    /// Removes a client; returns it if it was known.
    pub fn remove(&mut self, conn: ConnId) -> Option<Client> {
        self.by_conn.remove(&conn)
    }

    /// One client.
    pub fn get(&self, conn: ConnId) -> Option<&Client> {
        self.by_conn.get(&conn)
    }

    /// One client, to change.
    pub fn get_mut(&mut self, conn: ConnId) -> Option<&mut Client> {
        self.by_conn.get_mut(&conn)
    }

    /// Clients that receive notifications: named, and not diagnostic sessions.
    pub fn listeners(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.by_conn
            .values()
            .filter(|c| c.name.is_some() && !c.is_diagnostic())
            .map(|c| c.conn)
    }

    /// Clients that relay local IPC, oldest first; the newest gets new proxy sessions.
    pub fn providers(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.by_conn
            .values()
            .filter(|c| c.is_provider())
            .map(|c| c.conn)
    }

    /// How many clients are connected.
    pub fn len(&self) -> usize {
        self.by_conn.len()
    }

    /// No client is connected.
    pub fn is_empty(&self) -> bool {
        self.by_conn.is_empty()
    }
}

/// Formats 16 random bytes as an RFC 4122 version-4 UUID, the form of the original's client
/// ids.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_have_the_version_and_variant_bits() {
        let u = uuid_v4([0xff; 16]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
    }

    #[test]
    fn only_named_non_diagnostic_clients_listen() {
        let mut c = Clients::default();
        for i in 1..=3 {
            c.add(ConnId(i), format!("id{i}"), "peer".into());
        }
        c.get_mut(ConnId(1)).unwrap().name = Some("cluster".into());
        c.get_mut(ConnId(2)).unwrap().name = Some(DIAGNOSTIC_CLIENT_NAME.into());
        assert_eq!(c.listeners().collect::<Vec<_>>(), [ConnId(1)]);
        c.set_stage(ConnId(3), Stage::Relaying);
        c.set_stage(ConnId(3), Stage::Introduced);
        assert_eq!(
            c.get(ConnId(3)).unwrap().stage,
            Stage::Relaying,
            "never back"
        );
        assert_eq!(c.providers().collect::<Vec<_>>(), [ConnId(3)]);
        assert!(c.remove(ConnId(3)).is_some());
        assert_eq!(c.len(), 2);
    }
}
