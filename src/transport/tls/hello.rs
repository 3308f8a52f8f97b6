//! ClientHello, ServerHello/HelloRetryRequest and EncryptedExtensions: parsing and encoding
//! (RFC 8446 §4.1.2-§4.1.4, §4.2, §4.3.1).
//!
//! In: handshake message bodies (untrusted). Out: borrowed views with the fields we act on,
//! including where the PSK binders start (the binder covers everything before them).
//! Checks only what a parser can check alone; policy lives in server.rs and client.rs.
//! Never panics, and allocates only in proportion to bytes actually present.

use super::codec::{
    begin_vec, end_vec, ext, handshake, handshake_message, put_extension, put_u16, u16_list,
    Reader, LEGACY_VERSION, TLS13,
};
use super::error::Error;
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
use super::error::Malformed;

/// SHA-256("HelloRetryRequest"): the ServerHello.random that marks a retry (RFC 8446 §4.1.3).
pub(super) const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// One KeyShareEntry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct KeyShare<'a> {
    pub(super) group: u16,
    pub(super) key: &'a [u8],
}

/// One PskIdentity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PskIdentity<'a> {
    pub(super) identity: &'a [u8],
    pub(super) obfuscated_ticket_age: u32,
}

/// The pre_shared_key extension of a ClientHello.
#[derive(Debug)]
pub(super) struct OfferedPsk<'a> {
    pub(super) identities: Vec<PskIdentity<'a>>,
    pub(super) binders: Vec<&'a [u8]>,
    /// Offset in the ClientHello *body* where the binders list (with its length) starts.
    pub(super) binders_offset: usize,
}

/// The fields of a ClientHello that a PSK-only TLS 1.3 peer acts on.
#[derive(Debug, Default)]
pub(super) struct ClientHello<'a> {
    pub(super) random: &'a [u8],
    pub(super) session_id: &'a [u8],
    pub(super) cipher_suites: Vec<u16>,
    pub(super) compression_methods: &'a [u8],
    pub(super) supported_versions: Vec<u16>,
    pub(super) supported_groups: Vec<u16>,
    pub(super) key_shares: Option<Vec<KeyShare<'a>>>,
    pub(super) psk_modes: Option<&'a [u8]>,
    pub(super) psk: Option<OfferedPsk<'a>>,
    pub(super) early_data: bool,
    pub(super) cookie: Option<&'a [u8]>,
    pub(super) record_size_limit: Option<u16>,
}

/// Parses a ClientHello body (the handshake header already removed).
pub(super) fn parse_client_hello(body: &[u8]) -> Result<ClientHello<'_>, Error> {
    let mut r = Reader::new(body);
    let _legacy_version = r.u16("client_hello version")?;
    let mut hello = ClientHello {
        random: r.take(32, "client_hello random")?,
        session_id: r.vec8("client_hello session_id")?,
        ..ClientHello::default()
    };
    if hello.session_id.len() > 32 {
        return Err(Error::decode("client_hello session_id (over 32 bytes)"));
    }
    hello.cipher_suites = u16_list(r.vec16("client_hello cipher_suites")?, "cipher_suites")?;
    hello.compression_methods = r.vec8("client_hello compression_methods")?;
    if hello.cipher_suites.is_empty() || hello.compression_methods.is_empty() {
        return Err(Error::decode("client_hello (empty suites or compression)"));
    }
    // A hello without extensions is a pre-TLS 1.3 client; the server reports the version.
    if r.is_empty() {
        return Ok(hello);
    }
    let extensions_len = usize::from(r.u16("client_hello extensions")?);
    if body.len() - r.position() != extensions_len {
        return Err(Error::decode("client_hello extensions length"));
    }
    let mut seen = Vec::new();
    // Each turn consumes at least four bytes, so this ends with the body.
    while !r.is_empty() {
        let typ = r.u16("extension type")?;
        let data_start = r.position() + 2;
        let data = r.vec16("extension data")?;
        seen.push(typ);
        match typ {
            ext::SUPPORTED_VERSIONS => {
                let mut d = Reader::new(data);
                hello.supported_versions = u16_list(d.vec8("supported_versions")?, "versions")?;
                d.finish("supported_versions")?;
            }
            ext::SUPPORTED_GROUPS => {
                let mut d = Reader::new(data);
                hello.supported_groups = u16_list(d.vec16("supported_groups")?, "groups")?;
                d.finish("supported_groups")?;
            }
            ext::KEY_SHARE => hello.key_shares = Some(parse_key_shares(data)?),
            ext::PSK_KEY_EXCHANGE_MODES => {
                let mut d = Reader::new(data);
                let modes = d.vec8("psk_key_exchange_modes")?;
                d.finish("psk_key_exchange_modes")?;
                if modes.is_empty() {
                    return Err(Error::decode("psk_key_exchange_modes (empty)"));
                }
                hello.psk_modes = Some(modes);
            }
            ext::PRE_SHARED_KEY => {
                // RFC 8446 §4.2.11: it must be the last extension.
                if !r.is_empty() {
                    return Err(Error::illegal("pre_shared_key position (not last)"));
                }
                hello.psk = Some(parse_offered_psk(data, data_start)?);
            }
            ext::EARLY_DATA => {
                if !data.is_empty() {
                    return Err(Error::decode("early_data"));
                }
                hello.early_data = true;
            }
            ext::COOKIE => {
                let mut d = Reader::new(data);
                hello.cookie = Some(d.vec16("cookie")?);
                d.finish("cookie")?;
            }
            ext::RECORD_SIZE_LIMIT => {
                let mut d = Reader::new(data);
                let limit = d.u16("record_size_limit")?;
                d.finish("record_size_limit")?;
                // RFC 8449 §4: values below 64 are illegal.
                if limit < 64 {
                    return Err(Error::illegal("record_size_limit (below 64)"));
                }
                hello.record_size_limit = Some(limit);
            }
            _ => {}
        }
    }
    reject_duplicates(seen)?;
    Ok(hello)
}

fn parse_key_shares(data: &[u8]) -> Result<Vec<KeyShare<'_>>, Error> {
    let mut d = Reader::new(data);
    let list = d.vec16("key_share list")?;
    d.finish("key_share")?;
    let mut r = Reader::new(list);
    let mut shares: Vec<KeyShare<'_>> = Vec::new();
    while !r.is_empty() {
        let group = r.u16("key_share group")?;
        let key = r.vec16("key_share key")?;
        if key.is_empty() {
            return Err(Error::decode("key_share key (empty)"));
        }
        // RFC 8446 §4.2.8: one share per group.
        if shares.iter().any(|s| s.group == group) {
            return Err(Error::illegal("key_share (two shares for one group)"));
        }
        shares.push(KeyShare { group, key });
    }
    Ok(shares)
}

fn parse_offered_psk(data: &[u8], data_start: usize) -> Result<OfferedPsk<'_>, Error> {
    let mut d = Reader::new(data);
    let identities_raw = d.vec16("psk identities")?;
    let binders_offset = data_start + d.position();
    let binders_raw = d.vec16("psk binders")?;
    d.finish("pre_shared_key")?;

    let mut identities = Vec::new();
    let mut r = Reader::new(identities_raw);
    while !r.is_empty() {
        let identity = r.vec16("psk identity")?;
        let obfuscated_ticket_age = r.u32("psk ticket age")?;
        if identity.is_empty() {
            return Err(Error::decode("psk identity (empty)"));
        }
        identities.push(PskIdentity {
            identity,
            obfuscated_ticket_age,
        });
    }
    let mut binders = Vec::new();
    let mut r = Reader::new(binders_raw);
    while !r.is_empty() {
        let binder = r.vec8("psk binder")?;
        // RFC 8446 §4.2.11: PskBinderEntry<32..255>.
        if binder.len() < 32 {
            return Err(Error::decode("psk binder (shorter than 32)"));
        }
        binders.push(binder);
    }
    if identities.is_empty() || identities.len() != binders.len() {
        return Err(Error::illegal(
            "pre_shared_key (identity and binder counts differ)",
        ));
    }
    Ok(OfferedPsk {
        identities,
        binders,
        binders_offset,
    })
}

fn reject_duplicates(mut types: Vec<u16>) -> Result<(), Error> {
    types.sort_unstable();
    if types.windows(2).any(|w| w.first() == w.get(1)) {
        return Err(Error::illegal("extensions (one type appears twice)"));
    }
    Ok(())
}

/// What a client puts in its ClientHello.
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
pub(super) struct ClientHelloParams<'a> {
    pub(super) random: &'a [u8; 32],
    pub(super) session_id: &'a [u8],
    pub(super) suites: &'a [u16],
    pub(super) groups: &'a [u16],
    pub(super) shares: &'a [KeyShare<'a>],
    pub(super) modes: &'a [u8],
    pub(super) cookie: Option<&'a [u8]>,
    pub(super) identity: &'a [u8],
}

/// Encodes a ClientHello message with a zeroed 32-byte binder at its very end.
///
/// Returns the message and the offset (in the message) where the binders list starts; the
/// caller hashes everything before it and writes the binder over the last 32 bytes.
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
pub(super) fn encode_client_hello(p: &ClientHelloParams<'_>) -> (Vec<u8>, usize) {
    let mut body = Vec::with_capacity(256);
    put_u16(&mut body, LEGACY_VERSION);
    body.extend_from_slice(p.random);
    let v = begin_vec(&mut body, 1);
    body.extend_from_slice(p.session_id);
    end_vec(&mut body, v);
    let v = begin_vec(&mut body, 2);
    p.suites.iter().for_each(|s| put_u16(&mut body, *s));
    end_vec(&mut body, v);
    body.extend_from_slice(&[1, 0]); // compression_methods: null only

    let extensions = begin_vec(&mut body, 2);
    put_extension(&mut body, ext::SUPPORTED_VERSIONS, &[2, 0x03, 0x04]);
    if !p.groups.is_empty() {
        let mut data = Vec::new();
        let v = begin_vec(&mut data, 2);
        p.groups.iter().for_each(|g| put_u16(&mut data, *g));
        end_vec(&mut data, v);
        put_extension(&mut body, ext::SUPPORTED_GROUPS, &data);
        let mut data = Vec::new();
        let v = begin_vec(&mut data, 2);
        for share in p.shares {
            put_u16(&mut data, share.group);
            let k = begin_vec(&mut data, 2);
            data.extend_from_slice(share.key);
            end_vec(&mut data, k);
        }
        end_vec(&mut data, v);
        put_extension(&mut body, ext::KEY_SHARE, &data);
    }
    if let Some(cookie) = p.cookie {
        let mut data = Vec::new();
        let v = begin_vec(&mut data, 2);
        data.extend_from_slice(cookie);
        end_vec(&mut data, v);
        put_extension(&mut body, ext::COOKIE, &data);
    }
    let mut modes = vec![0u8];
    modes.extend_from_slice(p.modes);
    modes[0] = p.modes.len() as u8;
    put_extension(&mut body, ext::PSK_KEY_EXCHANGE_MODES, &modes);

    // pre_shared_key goes last (RFC 8446 §4.2.11).
    put_u16(&mut body, ext::PRE_SHARED_KEY);
    let psk = begin_vec(&mut body, 2);
    let ids = begin_vec(&mut body, 2);
    let id = begin_vec(&mut body, 2);
    body.extend_from_slice(p.identity);
    end_vec(&mut body, id);
    body.extend_from_slice(&0u32.to_be_bytes()); // obfuscated_ticket_age: 0 for external PSKs
    end_vec(&mut body, ids);
    let binders_offset = body.len();
    body.extend_from_slice(&[0, 33, 32]);
    body.extend_from_slice(&[0; 32]);
    end_vec(&mut body, psk);
    end_vec(&mut body, extensions);

    let message = handshake_message(handshake::CLIENT_HELLO, &body);
    (message, binders_offset + super::codec::HANDSHAKE_HEADER_LEN)
}

/// A ServerHello or HelloRetryRequest as a client sees it.
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
#[derive(Debug, Default)]
pub(super) struct ServerHello<'a> {
    pub(super) legacy_version: u16,
    pub(super) is_retry: bool,
    pub(super) session_id: &'a [u8],
    pub(super) cipher_suite: u16,
    pub(super) compression: u8,
    pub(super) supported_version: Option<u16>,
    /// ServerHello: the server's share. HelloRetryRequest: the selected group, empty key.
    pub(super) key_share: Option<KeyShare<'a>>,
    pub(super) selected_identity: Option<u16>,
    pub(super) cookie: Option<&'a [u8]>,
}

/// Parses a ServerHello body; a HelloRetryRequest is recognised by its random.
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
pub(super) fn parse_server_hello(body: &[u8]) -> Result<ServerHello<'_>, Error> {
    let mut r = Reader::new(body);
    let mut hello = ServerHello {
        legacy_version: r.u16("server_hello version")?,
        ..ServerHello::default()
    };
    hello.is_retry = r.take(32, "server_hello random")? == HELLO_RETRY_RANDOM;
    hello.session_id = r.vec8("server_hello session_id")?;
    hello.cipher_suite = r.u16("server_hello cipher_suite")?;
    hello.compression = r.u8("server_hello compression")?;
    // A TLS 1.2 ServerHello may end here; the client then reports the version.
    if r.is_empty() {
        return Ok(hello);
    }
    let extensions = r.vec16("server_hello extensions")?;
    r.finish("server_hello")?;
    let mut r = Reader::new(extensions);
    let mut seen = Vec::new();
    while !r.is_empty() {
        let typ = r.u16("extension type")?;
        let mut d = Reader::new(r.vec16("extension data")?);
        seen.push(typ);
        match typ {
            ext::SUPPORTED_VERSIONS => hello.supported_version = Some(d.u16("supported_version")?),
            ext::KEY_SHARE if hello.is_retry => {
                hello.key_share = Some(KeyShare {
                    group: d.u16("selected_group")?,
                    key: &[],
                })
            }
            ext::KEY_SHARE => {
                let group = d.u16("key_share group")?;
                let key = d.vec16("key_share key")?;
                hello.key_share = Some(KeyShare { group, key });
            }
            ext::PRE_SHARED_KEY if !hello.is_retry => {
                hello.selected_identity = Some(d.u16("selected_identity")?)
            }
            ext::COOKIE if hello.is_retry => hello.cookie = Some(d.vec16("cookie")?),
            // RFC 8446 §4.1.3: only extensions the client offered may appear.
            other => return Err(Error::Malformed(Malformed::UnsupportedExtension(other))),
        }
        d.finish("server_hello extension")?;
    }
    reject_duplicates(seen)?;
    Ok(hello)
}

/// Encodes a ServerHello; `key_share` is `None` in psk_ke mode.
pub(super) fn encode_server_hello(
    random: &[u8; 32],
    session_id: &[u8],
    suite: u16,
    key_share: Option<KeyShare<'_>>,
    selected_identity: u16,
) -> Vec<u8> {
    let mut extensions = Vec::new();
    put_extension(
        &mut extensions,
        ext::SUPPORTED_VERSIONS,
        &TLS13.to_be_bytes(),
    );
    if let Some(share) = key_share {
        let mut data = Vec::new();
        put_u16(&mut data, share.group);
        let v = begin_vec(&mut data, 2);
        data.extend_from_slice(share.key);
        end_vec(&mut data, v);
        put_extension(&mut extensions, ext::KEY_SHARE, &data);
    }
    put_extension(
        &mut extensions,
        ext::PRE_SHARED_KEY,
        &selected_identity.to_be_bytes(),
    );
    server_hello_message(random, session_id, suite, &extensions)
}

/// Encodes a HelloRetryRequest asking for a share in `group` (no cookie: we keep state).
pub(super) fn encode_hello_retry(session_id: &[u8], suite: u16, group: u16) -> Vec<u8> {
    let mut extensions = Vec::new();
    put_extension(
        &mut extensions,
        ext::SUPPORTED_VERSIONS,
        &TLS13.to_be_bytes(),
    );
    put_extension(&mut extensions, ext::KEY_SHARE, &group.to_be_bytes());
    server_hello_message(&HELLO_RETRY_RANDOM, session_id, suite, &extensions)
}

fn server_hello_message(random: &[u8; 32], session_id: &[u8], suite: u16, exts: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(80 + exts.len());
    put_u16(&mut body, LEGACY_VERSION);
    body.extend_from_slice(random);
    let v = begin_vec(&mut body, 1);
    body.extend_from_slice(session_id);
    end_vec(&mut body, v);
    put_u16(&mut body, suite);
    body.push(0);
    let v = begin_vec(&mut body, 2);
    body.extend_from_slice(exts);
    end_vec(&mut body, v);
    handshake_message(handshake::SERVER_HELLO, &body)
}

/// EncryptedExtensions: record_size_limit when the client sent one (RFC 8449 §4; 2^14 + 1
/// counts the inner content type), as the original server does; otherwise empty.
pub(super) fn encode_encrypted_extensions(record_size_limit: bool) -> Vec<u8> {
    let mut extensions = Vec::new();
    if record_size_limit {
        put_extension(
            &mut extensions,
            ext::RECORD_SIZE_LIMIT,
            &16385u16.to_be_bytes(),
        );
    }
    let mut body = Vec::new();
    let v = begin_vec(&mut body, 2);
    body.extend_from_slice(&extensions);
    end_vec(&mut body, v);
    handshake_message(handshake::ENCRYPTED_EXTENSIONS, &body)
}

/// Parses EncryptedExtensions as our client sees them; returns the server's
/// record_size_limit. We offer neither early_data nor SNI, so only harmless extensions pass.
#[cfg(any(feature = "client-tools", feature = "_test-support", test))]
pub(super) fn parse_encrypted_extensions(body: &[u8]) -> Result<Option<u16>, Error> {
    let mut r = Reader::new(body);
    let extensions = r.vec16("encrypted_extensions")?;
    r.finish("encrypted_extensions")?;
    let mut r = Reader::new(extensions);
    let mut limit = None;
    let mut seen = Vec::new();
    while !r.is_empty() {
        let typ = r.u16("extension type")?;
        let data = r.vec16("extension data")?;
        seen.push(typ);
        match typ {
            ext::RECORD_SIZE_LIMIT => {
                let mut d = Reader::new(data);
                let value = d.u16("record_size_limit")?;
                d.finish("record_size_limit")?;
                if value < 64 {
                    return Err(Error::illegal("record_size_limit (below 64)"));
                }
                limit = Some(value);
            }
            // A server may list its groups for later connections (RFC 8446 §4.2.7).
            ext::SUPPORTED_GROUPS => {}
            other => return Err(Error::Malformed(Malformed::UnsupportedExtension(other))),
        }
    }
    reject_duplicates(seen)?;
    Ok(limit)
}

#[cfg(test)]
mod tests;
