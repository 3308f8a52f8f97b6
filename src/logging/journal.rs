//! Whether our stderr is journald's stream (systemd sets `JOURNAL_STREAM=<dev>:<inode>` for a
//! service whose stderr goes to the journal). Then stderr lines carry their priority and the
//! syslog sink stays off, so each line is stored once (systemd.exec(5), `JOURNAL_STREAM`).

use std::os::unix::fs::MetadataExt;

/// True when stderr is the stream systemd described in `JOURNAL_STREAM`; a stale variable
/// inherited by a child whose stderr was redirected does not match and gives false.
pub fn stderr_is_journal() -> bool {
    let Ok(value) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::fs::metadata("/proc/self/fd/2") else {
        return false;
    };
    matches_stream(&value, meta.dev(), meta.ino())
}

/// Parses `<dev>:<inode>` (both decimal) and compares it with a descriptor's identity.
fn matches_stream(value: &str, dev: u64, ino: u64) -> bool {
    let Some((d, i)) = value.trim().split_once(':') else {
        return false;
    };
    d.parse::<u64>() == Ok(dev) && i.parse::<u64>() == Ok(ino)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_exact_dev_and_inode_match() {
        assert!(matches_stream("8:1234", 8, 1234));
        assert!(!matches_stream("8:1235", 8, 1234));
        assert!(!matches_stream("9:1234", 8, 1234));
        assert!(!matches_stream("garbage", 8, 1234));
        assert!(!matches_stream("", 8, 1234));
    }
}
