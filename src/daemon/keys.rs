//! The pre-shared key as the TLS handshakes ask for it: read from the key file, cached,
//! re-read after `KEY_CACHE_TIME` or on SIGHUP, with every problem logged once.
//!
//! In: the key's source (from the configuration) and the identity a handshake presents. Out:
//! the key, or nothing (the handshake then fails with `unknown_psk_identity`). Reads the file;
//! never blocks for long (the file is local and bounded by `max_key_bytes`).

use std::sync::Mutex;
use std::time::Instant;

use log::{error, info, warn};
use zeroize::Zeroizing;

use crate::config::authkey::{KeyCache, KeySource};
use crate::limits::KEY_CACHE_TIME;
use crate::transport::tls;

/// The key as handshakes ask for it: cached, re-read after [`KEY_CACHE_TIME`] or SIGHUP.
/// Only the identity Pacemaker uses, `lrmd`, is known (as in Pacemaker 3.x).
pub struct KeyService {
    cache: Mutex<KeyCache>,
}

impl KeyService {
    /// A service reading from `source`.
    pub fn new(source: KeySource, max_bytes: usize) -> Self {
        KeyService {
            cache: Mutex::new(KeyCache::new(source, max_bytes, KEY_CACHE_TIME)),
        }
    }

    /// Reads the key once at start so a missing key is reported before the first cluster
    /// connects. Like the original, a missing key is not fatal: it may be installed later.
    pub fn preload(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            match cache.current(Instant::now()) {
                Ok((_, notes)) => log_key_notes(notes),
                Err(e) => error!("{e}; connections will fail until a key is in place"),
            }
        }
    }

    /// Forces the next handshake to read the file again.
    pub fn invalidate(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.invalidate();
        }
    }
}

impl tls::PskLookup for KeyService {
    fn lookup(&self, identity: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if identity != tls::PACEMAKER_IDENTITY {
            return None;
        }
        let mut cache = self.cache.lock().ok()?;
        match cache.current(Instant::now()) {
            Ok((key, notes)) => {
                log_key_notes(notes);
                Some(Zeroizing::new(key.to_vec()))
            }
            Err(e) => {
                // Every handshake asks, keyless ones included: rate-limited with them.
                crate::limited!(
                    crate::logging::Source::KeylessPeer,
                    log::Level::Error,
                    "{e}; no connection can be accepted until a key is in place"
                );
                None
            }
        }
    }
}

fn log_key_notes(notes: Vec<String>) {
    let mut notes = notes.into_iter();
    if let Some(first) = notes.next() {
        info!("{first}");
    }
    for n in notes {
        warn!("{n}");
    }
}
