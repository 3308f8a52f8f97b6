//! bzip2 (feature `bzip2`): compressed frame payloads from cluster nodes (protocol.md 6.4) and
//! Pacemaker 2.x IPC payloads to and from node tools (libqb-ipc.md 7.4).
//!
//! In: text to compress under a size bound, or a compressed payload and the size its header
//! promises. Out: bytes, or `None`/an error. Never produces or reads more than the caller's
//! bound, whatever the peer's header says. Inflation goes in steps of a bounded output size
//! ([`Inflater`]), so a caller on the event loop can let others run between steps.

use ::bzip2::{Action, Compress, Compression, Decompress, Status};

/// Pacemaker's parameters for IPC compression: block size 4 (x100k), work factor 20.
#[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
const BLOCK_SIZE: u32 = 4;
#[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
const WORK_FACTOR: u32 = 20;

/// Output room the first compression attempt gets: compressed XML is rarely larger than a
/// quarter of the text, and the room grows (up to the caller's bound) when it is.
#[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
const FIRST_COMPRESS_ROOM: usize = 16 * 1024;

/// Output one step of [`decompress`] produces: the buffer grows in steps this size, so a
/// lying header costs memory only as fast as real output arrives.
const DECOMPRESS_STEP: usize = 1024 * 1024;

/// Compresses `text` into at most `max` bytes; `None` if it does not fit (the sender then
/// fails with EMSGSIZE, as Pacemaker does). Only the IPC proxy sends compressed data. The
/// output buffer starts small and doubles as needed, so a call costs what it produces, not
/// `max`.
#[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
pub(crate) fn compress(text: &[u8], max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(max.min(FIRST_COMPRESS_ROOM.max(text.len() / 4)));
    let mut c = Compress::new(Compression::new(BLOCK_SIZE), WORK_FACTOR);
    loop {
        let done = usize::try_from(c.total_in()).ok()?;
        let before = out.len();
        match c.compress_vec(&text[done..], &mut out, Action::Finish) {
            Ok(Status::StreamEnd) if c.total_in() == text.len() as u64 => return Some(out),
            // Not finished: the output room was used up. Grow it, never past `max`.
            Ok(Status::FinishOk) if out.len() == out.capacity() && out.len() < max => {
                let room = out.capacity().saturating_mul(2).clamp(out.len() + 1, max);
                out.reserve_exact(room - out.len());
            }
            // Not finished, room left: call again, as long as it makes progress.
            Ok(Status::FinishOk) if out.len() > before => {}
            _ => return None,
        }
    }
}

/// Inflates `data`, which must give exactly `expected` bytes. The output grows as real
/// output arrives, and inflation stops one byte past `expected`, so a lying header costs no
/// more memory than the caller's limit already allowed.
pub(crate) fn decompress(data: &[u8], expected: usize) -> Result<Vec<u8>, String> {
    let mut inflater = Inflater::new(expected);
    // Each step produces at least one byte or ends, so `expected + 2` steps always suffice.
    for _ in 0..=expected / DECOMPRESS_STEP + 2 {
        if let Some(text) = inflater.step(data, DECOMPRESS_STEP)? {
            return Ok(text);
        }
    }
    Err("inflation did not finish".into())
}

/// One bzip2 payload being inflated, a bounded piece per [`step`](Inflater::step): the
/// decompressor keeps its place, the caller keeps the compressed bytes.
pub(crate) struct Inflater {
    stream: Decompress,
    expected: usize,
    out: Vec<u8>,
}

impl Inflater {
    /// Ready to inflate a payload that must give exactly `expected` bytes. Allocates
    /// nothing for the output yet; the decompressor takes its state (up to about 3.6 MB for
    /// 900 kB blocks) when the stream's first block header arrives.
    pub(crate) fn new(expected: usize) -> Self {
        Inflater {
            stream: Decompress::new(false),
            expected,
            out: Vec::new(),
        }
    }

    /// Bytes inflated so far.
    #[cfg_attr(not(feature = "ipc-proxy"), allow(dead_code))]
    pub(crate) fn produced(&self) -> usize {
        self.out.len()
    }

    /// Inflates at most `slice` more bytes from `data`, the whole compressed payload (the
    /// same slice every call). `Ok(None)`: call again; `Ok(Some(text))`: exactly `expected`
    /// bytes. Errors name what was wrong: corrupt data, a stream that ends early or gives more
    /// than `expected`.
    pub(crate) fn step(&mut self, data: &[u8], slice: usize) -> Result<Option<Vec<u8>>, String> {
        let limit = self.expected.saturating_add(1);
        let len = self.out.len();
        let want = len.saturating_add(slice.max(1)).min(limit);
        if want > self.out.capacity() {
            // Doubling, never past the limit: no more than twice what was produced.
            let cap = self.out.capacity().saturating_mul(2).clamp(want, limit);
            self.out.reserve_exact(cap - len);
        }
        self.out.resize(want, 0);
        let consumed = usize::try_from(self.stream.total_in()).unwrap_or(usize::MAX);
        let rest = data.get(consumed..).unwrap_or_default();
        let before = self.stream.total_out();
        let status = self.stream.decompress(rest, &mut self.out[len..]);
        let produced = usize::try_from(self.stream.total_out() - before).unwrap_or(usize::MAX);
        self.out.truncate(len + produced);
        let status = status.map_err(|e| e.to_string())?;
        if self.out.len() > self.expected {
            return Err(format!(
                "inflates to more than the {} bytes its header says",
                self.expected
            ));
        }
        match status {
            Status::StreamEnd if self.out.len() == self.expected => {
                Ok(Some(std::mem::take(&mut self.out)))
            }
            Status::StreamEnd => Err(format!(
                "inflates to {} bytes, header says {}",
                self.out.len(),
                self.expected
            )),
            // Progress: call again.
            _ if produced > 0 || self.stream.total_in() as usize > consumed => Ok(None),
            // No progress with output room left: the input ran out before the stream's end.
            _ => Err(format!(
                "stream ends early, after {} of {} bytes",
                self.out.len(),
                self.expected
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> Vec<u8> {
        b"<cib>".iter().cycle().take(n).copied().collect()
    }

    #[test]
    fn round_trip_and_bounds() {
        let text = text(300_000);
        let c = compress(&text, 10_000).unwrap();
        assert!(c.len() < 10_000);
        assert_eq!(decompress(&c, text.len()).unwrap(), text);
        assert!(decompress(&c, text.len() - 1).is_err());
        assert!(decompress(&c, text.len() + 1).is_err());
        assert!(compress(&text, 20).is_none());
        assert!(decompress(b"not bzip2", 5).is_err());
        assert!(decompress(&c[..c.len() / 2], text.len()).is_err());
        assert!(decompress(b"", 5).is_err());
    }

    #[test]
    fn compress_grows_its_buffer_only_as_needed() {
        // Random-looking text barely compresses: the first room (a quarter) is too small.
        let mut x = 12345u32;
        let noisy: Vec<u8> = (0..200_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (x >> 16) as u8
            })
            .collect();
        let c = compress(&noisy, 400_000).unwrap();
        assert!(c.len() > 200_000 / 4);
        assert_eq!(decompress(&c, noisy.len()).unwrap(), noisy);
        // Small text, large bound: the buffer stays small.
        let c = compress(b"<x/>", 10 << 20).unwrap();
        assert!(c.capacity() <= FIRST_COMPRESS_ROOM);
    }

    #[test]
    fn inflates_in_bounded_slices() {
        let text = text(1_000_000);
        let c = compress(&text, 1 << 20).unwrap();
        let mut inf = Inflater::new(text.len());
        let mut steps = 0;
        let out = loop {
            let before = inf.produced();
            steps += 1;
            if let Some(t) = inf.step(&c, 64 * 1024).unwrap() {
                break t;
            }
            assert!(inf.produced() - before <= 64 * 1024);
            assert!(inf.out.capacity() <= 2 * inf.produced().max(64 * 1024));
        };
        assert_eq!(out, text);
        assert!(steps >= 1_000_000 / (64 * 1024), "{steps}");
    }

    #[test]
    fn a_bomb_stops_one_byte_past_its_claim() {
        // 20 MiB of one byte compresses to a few kB; a header claiming 1 MiB stops there.
        let big = vec![b'a'; 20 << 20];
        let c = compress(&big, 1 << 20).unwrap();
        assert!(c.len() < 64 * 1024, "{}", c.len());
        let mut inf = Inflater::new(1 << 20);
        let err = loop {
            match inf.step(&c, 256 * 1024) {
                Ok(None) => assert!(inf.produced() <= (1 << 20) + 1),
                Ok(Some(_)) => panic!("a bomb must not pass"),
                Err(e) => break e,
            }
        };
        assert!(err.contains("more than the 1048576 bytes"), "{err}");
    }
}
