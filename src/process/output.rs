//! Bounded capture of a child's stdout and stderr.
//!
//! We keep at most `cap` bytes of each stream and count the rest, but keep reading so the
//! child never blocks on a full pipe (an agent that writes gigabytes still finishes).

/// What a child wrote on one stream.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The first `cap` bytes.
    pub bytes: Vec<u8>,
    /// How many bytes beyond the cap were read and dropped.
    pub discarded: u64,
}

impl Captured {
    /// Appends `data`, keeping at most `cap` bytes in total.
    pub fn push(&mut self, data: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.bytes.len());
        let keep = room.min(data.len());
        self.bytes.extend_from_slice(&data[..keep]);
        self.discarded += (data.len() - keep) as u64;
    }

    /// The text, with invalid UTF-8 replaced (agent output is text; the XML writer needs UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_stops_at_the_cap_and_counts_the_rest() {
        let mut c = Captured::default();
        c.push(b"hello ", 8);
        c.push(b"world", 8);
        assert_eq!(c.bytes, b"hello wo");
        assert_eq!(c.discarded, 3);
        c.push(b"more", 8);
        assert_eq!(c.discarded, 7);
    }
}
