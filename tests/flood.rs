//! A keyless flood against the real binary: at least 500 half-open TLS connections from 19
//! loopback source addresses (127.0.0.2 to 127.0.0.20, so a per-source share alone cannot stop
//! it), held for 60 s by tests/interop/flood.py, against a daemon with the built-in limits and
//! one with the smallest board's (armv7-small) at the same time. Meanwhile a client holding the
//! key signs on 10 times to each, and must succeed every time within 2 s. Also measured and
//! bounded: log lines a minute and RSS under the flood.
//!
//! Needs python3 (CI installs it). Every process started here is stopped by its pid.
// Tests may unwrap: a panic is a failed test (clippy.toml covers #[test] bodies only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The flood tool, in the source tree.
const FLOOD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/flood.py");
/// How long the flood holds its connections.
const FLOOD_SECONDS: u64 = 60;
/// Keyed sign-ons per daemon during the flood, and the most each may take.
const SIGNONS: usize = 10;
const SIGNON_LIMIT: Duration = Duration::from_secs(2);
/// "A few hundred lines a minute" at most, under the flood (sign-ons included).
const MAX_LOG_LINES_PER_MINUTE: usize = 300;

/// One flood.py run, stopped by its pid when dropped.
struct Flood {
    child: Child,
    report: std::path::PathBuf,
}

impl Flood {
    fn start(target: std::net::SocketAddr, scratch: &Scratch, tag: &str) -> Flood {
        let report = scratch.path(&format!("flood-{tag}.json"));
        let child = Command::new("python3")
            .arg(FLOOD)
            .arg(target.ip().to_string())
            .arg(target.port().to_string())
            .args(["--connections", "500", "--sources", "127.0.0.2-127.0.0.20"])
            .args(["--seconds", &FLOOD_SECONDS.to_string(), "--rate", "200"])
            .arg("--report")
            .arg(&report)
            .stdin(Stdio::null())
            .stdout(fs::File::create(scratch.path(&format!("flood-{tag}.out"))).unwrap())
            .stderr(fs::File::create(scratch.path(&format!("flood-{tag}.err"))).unwrap())
            .spawn()
            .expect("python3 runs (CI installs it)");
        Flood { child, report }
    }

    /// Waits for the end of the run and returns its JSON report.
    fn finish(mut self) -> String {
        let done = poll_until(Duration::from_secs(FLOOD_SECONDS + 60), || {
            self.child.try_wait().unwrap()
        });
        assert!(
            done.is_some_and(|s| s.success()),
            "flood.py failed: {done:?}"
        );
        fs::read_to_string(&self.report).unwrap()
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A number from the flood report's JSON.
fn field(report: &str, name: &str) -> u64 {
    let at = report.find(&format!("\"{name}\": ")).expect(name) + name.len() + 4;
    report[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Signs on once with the key; the time it took, or why it failed.
fn timed_signon(d: &Daemon, n: usize) -> Result<Duration, String> {
    let t = Instant::now();
    let name = format!("keyed-{n}");
    let done = async_io::block_on(with_deadline(SIGNON_LIMIT, async {
        let mut c = connect(d.addr, &d.key).await.map_err(|e| e.to_string())?;
        let reply = c
            .request(register(&name, false))
            .await
            .map_err(|e| e.to_string())?;
        let _ = c.close().await;
        match reply.attr("lrmd_rc") {
            Some("0") => Ok(()),
            other => Err(format!("sign-on answered rc {other:?}")),
        }
    }));
    match done {
        Some(Ok(())) => Ok(t.elapsed()),
        Some(Err(e)) => Err(e),
        None => Err(format!("not signed on within {SIGNON_LIMIT:?}")),
    }
}

#[test]
fn keyless_flood_of_500_handshakes_for_60_s_never_keeps_a_key_holder_out() {
    let scratch = Scratch::new("flood");
    // The built-in limits, and the smallest board's (board/armv7-small.toml).
    let daemons = [
        ("built-in", Daemon::start(&[])),
        (
            "armv7-small",
            Daemon::start(&[
                "max_connections=4",
                "max_pending_handshakes=24",
                "max_pending_per_source=3",
                "max_message_bytes=524288",
                "max_outbound_bytes=1048576",
            ]),
        ),
    ];
    let floods: Vec<Flood> = daemons
        .iter()
        .map(|(tag, d)| Flood::start(d.addr, &scratch, tag))
        .collect();
    // Let the flood ramp up (500 connections at 200 a second), then count from there.
    std::thread::sleep(Duration::from_secs(3));
    let start = Instant::now();
    let lines_before: Vec<usize> = daemons
        .iter()
        .map(|(_, d)| d.log().lines().count())
        .collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); daemons.len()];
    let mut failures: Vec<String> = Vec::new();
    let mut rss_max = vec![0u64; daemons.len()];
    // Spread the sign-ons over the flood: one per daemon every 5 s.
    for n in 0..SIGNONS {
        for (i, (tag, d)) in daemons.iter().enumerate() {
            match timed_signon(d, n) {
                Ok(t) => times[i].push(t),
                Err(e) => failures.push(format!("{tag} #{n}: {e}")),
            }
            rss_max[i] = rss_max[i].max(d.status_kb("VmRSS"));
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    let window = start.elapsed();
    let lines_after: Vec<usize> = daemons
        .iter()
        .map(|(_, d)| d.log().lines().count())
        .collect();
    let reports: Vec<String> = floods.into_iter().map(Flood::finish).collect();

    for (i, (tag, d)) in daemons.iter().enumerate() {
        let mut sorted = times[i].clone();
        sorted.sort();
        let per_minute = (lines_after[i] - lines_before[i]) as f64 * 60.0 / window.as_secs_f64();
        let r = &reports[i];
        println!(
            "{tag}: keyed sign-ons {}/{SIGNONS}, median {:?}, max {:?}; flood opened {} \
             connections ({} held at most), {} ended by a busy alert; {per_minute:.0} log \
             lines a minute; VmRSS at most {} kB, VmHWM {} kB",
            times[i].len(),
            sorted.get(sorted.len() / 2),
            sorted.last(),
            field(r, "opened"),
            field(r, "max_held"),
            field(r, "alert_user_canceled"),
            rss_max[i],
            d.status_kb("VmHWM"),
        );
        assert!(
            field(r, "opened") >= 500,
            "{tag}: the flood never reached 500 connections: {r}"
        );
        assert!(
            per_minute <= MAX_LOG_LINES_PER_MINUTE as f64,
            "{tag}: {per_minute:.0} log lines a minute under the flood:\n{}",
            d.log()
        );
        assert!(rss_max[i] < 64 * 1024, "{tag}: VmRSS {} kB", rss_max[i]);
        assert!(
            !d.log().contains("wrong key"),
            "{tag}: a refusal was called a key problem"
        );
        d.assert_serves();
    }
    assert!(failures.is_empty(), "keyed sign-ons failed: {failures:?}");
}
