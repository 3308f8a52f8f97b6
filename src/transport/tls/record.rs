//! The record layer (RFC 8446 §5): bounded input buffer, header checks, record protection,
//! sequence numbers, the middlebox ChangeCipherSpec rules, and record output.
//!
//! In: raw bytes from the socket; sealers/openers chosen by the key schedule.
//! Out: one inbound record at a time (type + plaintext), and protected records to send.
//! Never buffers more than `READ_CAPACITY` input bytes, never merges two outbound payloads
//! into one record, and never decrypts a record whose outer type is not application_data.

use super::codec::{content, LEGACY_VERSION};
use super::error::{AlertDescription, Error, Malformed};

/// Largest plaintext fragment (RFC 8446 §5.1).
pub(super) const MAX_FRAGMENT_LEN: usize = 16384;
/// Largest protected record body (RFC 8446 §5.2).
pub(super) const MAX_CIPHERTEXT_LEN: usize = MAX_FRAGMENT_LEN + 256;
const HEADER_LEN: usize = 5;
/// Two full records: enough to never stall, small enough for an embedded board.
pub(super) const READ_CAPACITY: usize = 2 * (HEADER_LEN + MAX_CIPHERTEXT_LEN);

/// Seals TLSInnerPlaintext into a complete record (header included).
pub(super) trait Seal: Send + Sync {
    fn seal(&mut self, inner_type: u8, payload: &[u8], seq: u64) -> Result<Vec<u8>, Error>;
}

/// Opens a protected record body in place; returns the inner type and the unpadded content.
pub(super) trait Open: Send + Sync {
    fn open<'a>(&mut self, payload: &'a mut [u8], seq: u64) -> Result<(u8, &'a [u8]), Error>;
}

/// What one inbound record carried; its content is in the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Inbound {
    /// A well-formed middlebox-compatibility ChangeCipherSpec, already checked and dropped.
    ChangeCipherSpec,
    /// An alert; `fatal` follows the level byte, though TLS 1.3 treats every alert but
    /// close_notify and user_canceled as fatal.
    Alert(AlertDescription),
    Handshake,
    ApplicationData,
}

/// Whether a dummy ChangeCipherSpec from the peer is acceptable now (RFC 8446 §5, D.4):
/// only after the first ClientHello and before the peer's Finished, and only once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CcsWindow {
    NotYet,
    Open,
    Seen,
    Closed,
}

pub(super) struct RecordLayer {
    input: Vec<u8>,
    start: usize,
    opener: Option<Box<dyn Open>>,
    read_seq: u64,
    read_epoch: u32,
    sealer: Option<Box<dyn Seal>>,
    write_seq: u64,
    outgoing: Vec<u8>,
    ccs: CcsWindow,
    /// Bytes of rejected 0-RTT data we may still drop (RFC 8446 §4.2.10).
    early_data_skip: usize,
    /// Largest plaintext we put in one record; lowered by the peer's record_size_limit.
    max_fragment: usize,
    /// The peer sent close_notify: any further record is an error (RFC 8446 §6.1), checked
    /// before decryption.
    peer_closed: bool,
}

impl RecordLayer {
    pub(super) fn new() -> Self {
        Self {
            input: Vec::new(),
            start: 0,
            opener: None,
            read_seq: 0,
            read_epoch: 0,
            sealer: None,
            write_seq: 0,
            outgoing: Vec::new(),
            ccs: CcsWindow::NotYet,
            early_data_skip: 0,
            max_fragment: MAX_FRAGMENT_LEN,
            peer_closed: false,
        }
    }

    /// Room left for raw input.
    pub(super) fn read_capacity(&self) -> usize {
        READ_CAPACITY - (self.input.len() - self.start)
    }

    /// Buffers as much of `bytes` as fits; returns how many were taken.
    pub(super) fn read_tls(&mut self, bytes: &[u8]) -> usize {
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
        let n = bytes.len().min(self.read_capacity());
        self.input.extend_from_slice(bytes.get(..n).unwrap_or(&[]));
        n
    }

    /// Takes the next complete record, decrypting it if a read key is set.
    ///
    /// The plaintext goes into `out` (cleared first). `Ok(None)` means "need more bytes".
    pub(super) fn next_record(&mut self, out: &mut Vec<u8>) -> Result<Option<Inbound>, Error> {
        // Each turn consumes one record, so the loop ends when the buffer runs dry.
        loop {
            let avail = self.input.get(self.start..).unwrap_or(&[]);
            let [typ, major, _minor, len_hi, len_lo, ..] = *avail else {
                return Ok(None);
            };
            if self.peer_closed {
                return Err(Error::unexpected("record after close_notify"));
            }
            if !(content::CHANGE_CIPHER_SPEC..=content::APPLICATION_DATA).contains(&typ) {
                return Err(Error::Malformed(Malformed::UnknownRecordType(typ)));
            }
            if major != 3 {
                return Err(Error::unexpected("record version (not 3.x)"));
            }
            let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
            let protected = typ == content::APPLICATION_DATA && self.opener.is_some();
            let max = if protected {
                MAX_CIPHERTEXT_LEN
            } else {
                MAX_FRAGMENT_LEN
            };
            if len > max {
                return Err(Error::Malformed(Malformed::RecordOverflow { len, max }));
            }
            if avail.len() < HEADER_LEN + len {
                return Ok(None);
            }
            let body = self.start + HEADER_LEN..self.start + HEADER_LEN + len;
            self.start = body.end;
            out.clear();

            if typ != content::APPLICATION_DATA {
                out.extend_from_slice(self.input.get(body).unwrap_or(&[]));
                return self.plain_record(typ, out).map(Some);
            }
            let Some(opener) = self.opener.as_mut() else {
                if self.take_early_data_skip(len) {
                    continue;
                }
                return Err(Error::unexpected("application data before keys are set"));
            };
            let seq = self.read_seq;
            let sealed = self.input.get_mut(body).unwrap_or(&mut []);
            let inner = match opener.open(sealed, seq) {
                Ok((inner, plain)) => {
                    out.extend_from_slice(plain);
                    Ok(inner)
                }
                Err(err) => Err(err),
            };
            match inner {
                Ok(inner) => {
                    self.read_seq = next_seq(seq)?;
                    self.early_data_skip = 0;
                    return protected_record(inner, out).map(Some);
                }
                Err(Error::Malformed(Malformed::BadRecordMac))
                    if self.take_early_data_skip(len) =>
                {
                    continue
                }
                Err(err) => return Err(err),
            }
        }
    }

    fn plain_record(&mut self, typ: u8, body: &[u8]) -> Result<Inbound, Error> {
        match typ {
            content::CHANGE_CIPHER_SPEC => {
                if body != [1] {
                    return Err(Error::unexpected("change_cipher_spec content"));
                }
                if self.ccs != CcsWindow::Open {
                    return Err(Error::unexpected("change_cipher_spec (stray or repeated)"));
                }
                self.ccs = CcsWindow::Seen;
                Ok(Inbound::ChangeCipherSpec)
            }
            // After the handshake every record is protected (RFC 8446 §5); before it, a peer
            // that could not derive keys may still tell us why in plaintext.
            content::ALERT if self.ccs == CcsWindow::Closed => {
                Err(Error::unexpected("plaintext alert after the handshake"))
            }
            content::ALERT => parse_alert(body),
            // Handshake records after keys are in use must be protected (RFC 8446 §5).
            _ if self.opener.is_some() => Err(Error::unexpected("plaintext handshake record")),
            _ => Ok(Inbound::Handshake),
        }
    }

    fn take_early_data_skip(&mut self, len: usize) -> bool {
        if self.early_data_skip >= len {
            self.early_data_skip -= len;
            true
        } else {
            false
        }
    }

    /// Starts reading with a new key; counts key changes so callers can check alignment.
    pub(super) fn set_opener(&mut self, opener: Box<dyn Open>) {
        self.opener = Some(opener);
        self.read_seq = 0;
        self.read_epoch = self.read_epoch.wrapping_add(1);
    }

    /// The peer sent close_notify.
    pub(super) fn mark_peer_closed(&mut self) {
        self.peer_closed = true;
    }

    pub(super) fn read_epoch(&self) -> u32 {
        self.read_epoch
    }

    pub(super) fn set_sealer(&mut self, sealer: Box<dyn Seal>) {
        self.sealer = Some(sealer);
        self.write_seq = 0;
    }

    pub(super) fn write_seq(&self) -> u64 {
        self.write_seq
    }

    /// The first ClientHello has gone by: a dummy ChangeCipherSpec may now arrive.
    pub(super) fn open_ccs_window(&mut self) {
        if self.ccs == CcsWindow::NotYet {
            self.ccs = CcsWindow::Open;
        }
    }

    /// The peer's Finished has arrived: no more ChangeCipherSpec.
    pub(super) fn close_ccs_window(&mut self) {
        self.ccs = CcsWindow::Closed;
    }

    /// Allows dropping up to `bytes` of undecryptable records (0-RTT data we rejected).
    pub(super) fn skip_early_data(&mut self, bytes: usize) {
        self.early_data_skip = bytes;
    }

    pub(super) fn max_fragment(&self) -> usize {
        self.max_fragment
    }

    /// Honours the peer's record_size_limit (RFC 8449 §4; the limit counts the inner type).
    pub(super) fn limit_fragment(&mut self, record_size_limit: u16) {
        let limit = usize::from(record_size_limit).saturating_sub(1);
        self.max_fragment = limit.clamp(63, MAX_FRAGMENT_LEN);
    }

    /// Queues a handshake message, split into as many records as its size needs.
    pub(super) fn write_handshake(&mut self, message: &[u8]) -> Result<(), Error> {
        for chunk in message.chunks(self.max_fragment.max(1)) {
            self.write_record(content::HANDSHAKE, chunk)?;
        }
        Ok(())
    }

    /// Queues exactly one application_data record.
    pub(super) fn write_application_data(&mut self, data: &[u8]) -> Result<(), Error> {
        self.write_record(content::APPLICATION_DATA, data)
    }

    /// Queues the middlebox-compatibility ChangeCipherSpec, always in plaintext (RFC 8446 D.4).
    pub(super) fn write_ccs(&mut self) {
        self.put_header(content::CHANGE_CIPHER_SPEC, 1);
        self.outgoing.push(1);
    }

    /// Queues an alert, protected when a write key is set. close_notify is a warning, the
    /// rest fatal (RFC 8446 §6).
    pub(super) fn write_alert(&mut self, alert: AlertDescription) -> Result<(), Error> {
        let level = if alert == AlertDescription::CloseNotify {
            1
        } else {
            2
        };
        self.write_record(content::ALERT, &[level, alert.to_u8()])
    }

    fn write_record(&mut self, typ: u8, payload: &[u8]) -> Result<(), Error> {
        match self.sealer.as_mut() {
            None => {
                self.put_header(typ, payload.len());
                self.outgoing.extend_from_slice(payload);
            }
            Some(sealer) => {
                let record = sealer.seal(typ, payload, self.write_seq)?;
                self.write_seq = next_seq(self.write_seq)?;
                self.outgoing.extend_from_slice(&record);
            }
        }
        Ok(())
    }

    fn put_header(&mut self, typ: u8, len: usize) {
        self.outgoing.push(typ);
        self.outgoing
            .extend_from_slice(&LEGACY_VERSION.to_be_bytes());
        self.outgoing
            .extend_from_slice(&(len.min(usize::from(u16::MAX)) as u16).to_be_bytes());
    }

    pub(super) fn outgoing(&self) -> &[u8] {
        &self.outgoing
    }

    pub(super) fn consume_outgoing(&mut self, n: usize) {
        let n = n.min(self.outgoing.len());
        self.outgoing.drain(..n);
    }
}

/// Interprets the inner content type of a decrypted record.
fn protected_record(inner: u8, body: &[u8]) -> Result<Inbound, Error> {
    match inner {
        content::ALERT => parse_alert(body),
        content::HANDSHAKE => Ok(Inbound::Handshake),
        content::APPLICATION_DATA => Ok(Inbound::ApplicationData),
        _ => Err(Error::unexpected("inner content type in protected record")),
    }
}

fn parse_alert(body: &[u8]) -> Result<Inbound, Error> {
    match *body {
        [1 | 2, description] => Ok(Inbound::Alert(AlertDescription::from_u8(description))),
        _ => Err(Error::decode("alert")),
    }
}

/// Sequence numbers never wrap (RFC 8446 §5.3); at 2^64 records the connection stops.
fn next_seq(seq: u64) -> Result<u64, Error> {
    seq.checked_add(1)
        .ok_or(Error::crypto("record sequence number exhausted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer_with(bytes: &[u8]) -> RecordLayer {
        let mut layer = RecordLayer::new();
        assert_eq!(layer.read_tls(bytes), bytes.len());
        layer
    }

    #[test]
    fn plaintext_handshake_record_is_returned() {
        let mut layer = layer_with(&[22, 3, 1, 0, 2, 0xaa, 0xbb]);
        let mut out = Vec::new();
        assert_eq!(
            layer.next_record(&mut out).unwrap(),
            Some(Inbound::Handshake)
        );
        assert_eq!(out, [0xaa, 0xbb]);
        assert_eq!(layer.next_record(&mut out).unwrap(), None);
    }

    #[test]
    fn partial_record_waits() {
        let mut layer = layer_with(&[22, 3, 3, 0, 3, 1]);
        let mut out = Vec::new();
        assert_eq!(layer.next_record(&mut out).unwrap(), None);
        layer.read_tls(&[2, 3]);
        assert_eq!(
            layer.next_record(&mut out).unwrap(),
            Some(Inbound::Handshake)
        );
    }

    #[test]
    fn http_request_is_unknown_record_type() {
        let mut layer = layer_with(b"GET / HTTP/1.1\r\n");
        let err = layer.next_record(&mut Vec::new()).unwrap_err();
        assert_eq!(err.alert(), Some(AlertDescription::UnexpectedMessage));
    }

    #[test]
    fn oversized_plaintext_record_is_overflow() {
        let mut layer = layer_with(&[22, 3, 3, 0x40, 0x01]);
        let err = layer.next_record(&mut Vec::new()).unwrap_err();
        assert_eq!(err.alert(), Some(AlertDescription::RecordOverflow));
    }

    #[test]
    fn ccs_only_inside_window_and_once() {
        let ccs = [20, 3, 3, 0, 1, 1];
        let mut layer = layer_with(&ccs);
        assert!(
            layer.next_record(&mut Vec::new()).is_err(),
            "before ClientHello"
        );

        let mut layer = layer_with(&[ccs, ccs].concat());
        layer.open_ccs_window();
        assert_eq!(
            layer.next_record(&mut Vec::new()).unwrap(),
            Some(Inbound::ChangeCipherSpec)
        );
        assert!(layer.next_record(&mut Vec::new()).is_err(), "second one");
    }

    #[test]
    fn ccs_with_wrong_content_is_rejected() {
        let mut layer = layer_with(&[20, 3, 3, 0, 1, 2]);
        layer.open_ccs_window();
        assert!(layer.next_record(&mut Vec::new()).is_err());
    }

    #[test]
    fn input_is_bounded() {
        let mut layer = RecordLayer::new();
        let big = vec![23u8; READ_CAPACITY + 100];
        assert_eq!(layer.read_tls(&big), READ_CAPACITY);
        assert_eq!(layer.read_capacity(), 0);
    }

    #[test]
    fn writes_plain_records_with_tls12_version() {
        let mut layer = RecordLayer::new();
        layer.write_ccs();
        layer
            .write_alert(AlertDescription::ProtocolVersion)
            .unwrap();
        assert_eq!(
            layer.outgoing(),
            &[20, 3, 3, 0, 1, 1, 21, 3, 3, 0, 2, 2, 70]
        );
    }
}
