//! Wall-clock time in the forms logs and notifications need.
//!
//! `std` gives seconds since the epoch but no local calendar time; log lines follow the
//! system's time zone like every other daemon's, so we ask libc.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch; what `lrmd_run_time` and `lrmd_rcchange_time` carry.
pub fn epoch_seconds() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(_) => 0,
    }
}

/// Local time as `Mon DD HH:MM:SS`, the prefix of Pacemaker's and syslog's log lines.
pub fn local_syslog_stamp() -> String {
    local_stamp(epoch_seconds(), None)
}

/// Local time as `Mon DD HH:MM:SS.mmm`, the prefix of our log file lines: Pacemaker's own log
/// files carry milliseconds too, and operators correlate them with the cluster's.
pub fn local_stamp_millis() -> String {
    let (secs, millis) = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(_) => (0, 0),
    };
    local_stamp(secs, Some(millis))
}

// The libc crate marks musl's `time_t` deprecated for its coming 64-bit change; the value is a
// plain conversion of the epoch seconds either way.
#[allow(deprecated)]
fn local_stamp(epoch: i64, millis: Option<u32>) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let now: libc::time_t = epoch as libc::time_t;
    // SAFETY: a zeroed `tm` is a valid output buffer; localtime_r is thread-safe and only
    // writes into it. We check its return value before reading.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return String::from("??? ?? ??:??:??");
        }
        tm
    };
    let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???");
    let seconds = format!(
        "{month} {:>2} {:02}:{:02}:{:02}",
        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
    );
    match millis {
        Some(ms) => format!("{seconds}.{ms:03}"),
        None => seconds,
    }
}

/// The host name, for log lines.
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its whole length, which we pass.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::from("localhost");
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
