//! Application traffic secrets after the handshake, and their KeyUpdate ratchet
//! (RFC 8446 §4.6.3, §7.2).
//!
//! In: the two secrets a finished handshake produced. Out: sealers and openers for the current
//! generation. Never keeps an old generation: `next()` replaces it, and the old one is wiped.

use super::config::{CipherSuite, Negotiated};
use super::error::Error;
use super::key_schedule::TrafficSecret;
use super::record::{Open, Seal};

/// What a handshake state machine hands back after each message.
pub(super) enum Step<S> {
    /// Still handshaking, now waiting for something else.
    Continue(S),
    /// Finished: application data may flow.
    Done(Traffic),
}

/// Both directions' application traffic secrets and what was negotiated.
pub(super) struct Traffic {
    is_server: bool,
    suite: CipherSuite,
    client: TrafficSecret,
    server: TrafficSecret,
    negotiated: Negotiated,
}

impl Traffic {
    pub(super) fn new(
        is_server: bool,
        client: TrafficSecret,
        server: TrafficSecret,
        negotiated: Negotiated,
    ) -> Self {
        Self {
            is_server,
            suite: negotiated.suite,
            client,
            server,
            negotiated,
        }
    }

    pub(super) fn is_server(&self) -> bool {
        self.is_server
    }

    pub(super) fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// The opener for the peer's current generation.
    pub(super) fn peer_opener(&self) -> Result<Box<dyn Open>, Error> {
        let peer = if self.is_server {
            &self.client
        } else {
            &self.server
        };
        peer.opener(self.suite)
    }

    /// The peer sent KeyUpdate: advance its secret and return the new opener.
    pub(super) fn update_peer(&mut self) -> Result<Box<dyn Open>, Error> {
        let peer = if self.is_server {
            &mut self.client
        } else {
            &mut self.server
        };
        *peer = peer.next()?;
        peer.opener(self.suite)
    }

    /// We sent KeyUpdate: advance our secret and return the new sealer.
    pub(super) fn update_own(&mut self) -> Result<Box<dyn Seal>, Error> {
        let own = if self.is_server {
            &mut self.server
        } else {
            &mut self.client
        };
        *own = own.next()?;
        own.sealer(self.suite)
    }
}
