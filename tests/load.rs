//! Load: many resources with a 1 s recurring monitor each, over one cluster connection.
//!
//! In: the daemon binary (or a running daemon named by `PCMKR_LOAD_ADDR`) and a no-op agent
//! that logs each run. Out: pass or fail on missed, duplicate or stray runs, zombies, fd,
//! memory and CPU bounds, and the figures, printed and appended to `PCMKR_LOAD_REPORT` as one
//! JSON line. Never kills a process it did not start.
//
// Knobs: PCMKR_LOAD_SECONDS (60), PCMKR_LOAD_RESOURCES (each test's own: 1000 or 200),
// PCMKR_LOAD_MAX_CHILDREN (128), PCMKR_LOAD_PHASE_LIMIT (300 s), PCMKR_LOAD_KEEP (copy the
// agents' log there). An external daemon also needs PCMKR_LOAD_KEY, PCMKR_LOAD_PID,
// PCMKR_LOAD_AGENT_DIR and PCMKR_LOAD_LABEL (bench/load-report.md shows how the original was
// run); its failed checks are printed, not asserted.
//
// The agent stamps each run with /proc/uptime (CLOCK_BOOTTIME, 10 ms steps) because reading a
// file is a shell builtin: a `date` per run would double the processes this test starts.
// Runs are seen in that log, not in notifications: with call option 4 only the first result
// and changes are notified (protocol.md 11.3).
// Tests may unwrap: a panic is a failed test (clippy.toml covers #[test] bodies only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{poke, sign_on, with_deadline, Daemon, Scratch, BINARY};
use pcmk_remoted::client::Client;
use pcmk_remoted::proto::names::{attr, op, ATTRIBUTES, LRMD_CALLDATA, LRMD_COMMAND, LRMD_RSC};
use pcmk_remoted::proto::xml::Element;

/// The monitor interval.
const INTERVAL_MS: u64 = 1000;
/// Longest allowed time between the starts of two runs of one resource: the interval, the
/// run itself, and slack for a loaded 2-core CI machine. Longer means a run was missed.
const MAX_GAP_MS: u64 = INTERVAL_MS + 1500;
/// Shortest allowed time between two runs of one resource. The interval counts from the end
/// of a run (11.3), so anything clearly under it is a duplicate run.
const MIN_GAP_MS: u64 = 900;
/// Mean lateness per cycle (run time plus scheduling) still counted as keeping up; it sets
/// the lowest acceptable number of runs per resource.
const MAX_MEAN_LAG_MS: u64 = 500;
/// Bound on the daemon's resident memory, with the limits below.
const RSS_CAP_KIB: u64 = 64 * 1024;
/// The daemon's own CPU over the run, in percent of one core. A spinning loop shows 100.
const CPU_CAP_PCT: f64 = 75.0;
/// The daemon's CPU once everything is cancelled, over [`IDLE_WINDOW`]: a spinning loop shows
/// the whole window.
const IDLE_CPU_CAP_S: f64 = 0.10;
const IDLE_WINDOW: Duration = Duration::from_secs(2);
/// Agents the daemon may run at once (its default; `PCMKR_LOAD_MAX_CHILDREN` to try others);
/// also bounds its children and pipes.
const MAX_CHILDREN: u64 = 128;
/// Keepalive while the monitors run, as the cluster's connection monitor does (more often).
const POKE_EVERY: Duration = Duration::from_secs(5);
/// Longest answer to a poke: the cluster fails the connection after 10 s (protocol.md 13).
const POKE_LIMIT_MS: u64 = 5000;
/// Deadline for each request/reply phase of 1,000 requests, in seconds (the original pays
/// Nagle on each; `PCMKR_LOAD_PHASE_LIMIT` to give it longer).
const PHASE_LIMIT_S: u64 = 300;
/// OCF provider directory name of the no-op agent.
const PROVIDER: &str = "pcmkrload";
const AGENT: &str = "noop";

/// One load at a time: two would share the machine's cores and spoil each other's figures.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The load asked of the daemon: 1,000 resources, each monitored every second.
#[test]
fn thousand_recurring_monitors_run_on_time_without_leaks() {
    load(1000);
}

/// A fifth of that load, for a quicker run by hand (`cargo test --test load -- --ignored two`).
#[test]
#[ignore = "the thousand-resource test covers it; this one is for quick runs by hand"]
fn two_hundred_recurring_monitors_run_on_time_without_leaks() {
    load(200);
}

/// Runs `resources` monitors (unless `PCMKR_LOAD_RESOURCES` says otherwise) and checks them.
fn load(resources: u64) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let seconds = env_number("PCMKR_LOAD_SECONDS", 60).max(5);
    let n = env_number("PCMKR_LOAD_RESOURCES", resources).max(1) as usize;
    let wall = Instant::now();
    let load_before = loadavg();
    let scratch = Scratch::new("load");
    let log = scratch.path("runs.log");
    let t = target(&scratch, &log);
    let ids: Vec<String> = (0..n).map(|i| format!("load-{i:04}")).collect();
    let mut tally = Tally::new(&ids);
    let mut checks = Checks::default();

    let fd_base = settled_fds(&t);
    let rss_start = status_kib(t.pid, "VmRSS").unwrap_or(0);
    let stop = Arc::new(AtomicBool::new(false));
    let sampling_limit = Duration::from_secs(seconds) + 5 * phase_limit();
    let (samples, sampling) = sampler(t.pid, stop.clone(), sampling_limit);

    let mut c = common::run(
        common::STEP,
        "sign-on",
        sign_on(t.addr, &t.key, "pcmkr-load-cluster", true),
    );
    let mut p = Phases::default();
    start_monitors(&mut c, &ids, &mut tally, &mut p);
    run_monitors(
        &mut c,
        &mut tally,
        t.pid,
        Duration::from_secs(seconds),
        &mut p,
    );
    stop_monitors(&mut c, &ids, &mut tally, &mut checks, &mut p);

    // Nothing may run once everything is cancelled, and the daemon must go idle.
    let log_len = fs::metadata(&log).map_or(0, |m| m.len());
    let idle0 = cpu_of(t.pid);
    std::thread::sleep(IDLE_WINDOW);
    let idle_cpu_s = ticks_to_s(cpu_of(t.pid).own_ticks - idle0.own_ticks);
    let log_len_after = fs::metadata(&log).map_or(0, |m| m.len());
    if log_len_after != log_len {
        checks.fail(
            "runs after everything was cancelled",
            format!("agent log grew from {log_len} to {log_len_after} bytes"),
        );
    }
    let no_children = common::poll_until(Duration::from_secs(5), || {
        (children_of(t.pid).0 == 0).then_some(())
    });
    if no_children.is_none() {
        let (all, zombies) = children_of(t.pid);
        checks.fail(
            "children left",
            format!("{all} children ({zombies:?} zombies) 5 s after everything ended"),
        );
    }
    let _ = close(c);
    stop.store(true, Ordering::SeqCst);
    sampling.join().unwrap();
    let rss_end = status_kib(t.pid, "VmRSS").unwrap_or(0);
    let fd_end = common::poll_until(Duration::from_secs(5), || {
        let now = settled_fds(&t);
        (now == fd_base).then_some(now)
    })
    .unwrap_or_else(|| fd_count(t.pid));

    if let Ok(keep) = std::env::var("PCMKR_LOAD_KEEP") {
        // For a closer look at a failure: the scratch directory goes when the test ends.
        fs::copy(&log, &keep).unwrap_or_else(|e| panic!("cannot copy the run log to {keep}: {e}"));
    }
    let (runs, junk) = read_runs(&log, &tally);
    if !junk.is_empty() {
        checks.fail("agent log lines not understood", format!("{junk:?}"));
    }
    let r = check_runs(&runs, &ids, &p, &mut checks);
    check_notifications(&tally, p.poke_ms.len(), &mut checks);
    let samples = samples.lock().unwrap();
    let own = t.own.is_some();
    let s = check_process(&samples, own, fd_base, fd_end, &mut checks);
    if own && fd_end != fd_base {
        let list = t.own.as_ref().map(|d| d.fd_list());
        checks.fail(
            "fd leak",
            format!("{fd_base} fds before, {fd_end} after: {list:?}"),
        );
    }
    let window_s = (p.t_end - p.t0) as f64 / 1000.0;
    let cpu_s = ticks_to_s(p.cpu1.own_ticks - p.cpu0.own_ticks);
    let agents_cpu_s = ticks_to_s(p.cpu1.children_ticks - p.cpu0.children_ticks);
    let cpu_pct = 100.0 * cpu_s / window_s;
    if own && cpu_pct > CPU_CAP_PCT {
        checks.fail(
            "daemon CPU",
            format!("{cpu_pct:.1}% of one core over the run, cap {CPU_CAP_PCT}%"),
        );
    }
    let poke_max = p.poke_ms.iter().max().copied().unwrap_or(0);
    if poke_max > POKE_LIMIT_MS {
        checks.fail(
            "keepalive answered late",
            format!("a poke took {poke_max} ms, limit {POKE_LIMIT_MS} ms"),
        );
    }
    if own && idle_cpu_s > IDLE_CPU_CAP_S {
        checks.fail(
            "CPU while idle",
            format!("{idle_cpu_s:.2} s in {IDLE_WINDOW:?} with nothing to do"),
        );
    }

    let mut j = Json::default();
    j.text("label", &t.label);
    j.text("binary", if own { BINARY } else { "external" });
    j.num("resources", n);
    j.num("interval_ms", INTERVAL_MS);
    j.num("seconds", seconds);
    j.num("window_ms", p.t_end - p.t0);
    j.num("runs_total", r.total);
    j.float("runs_per_s", r.total as f64 / window_s, 1);
    j.num("runs_per_rsc_min", r.counts.first().copied().unwrap_or(0));
    j.num("runs_per_rsc_median", percentile(&r.counts, 0.5));
    j.num("runs_per_rsc_max", r.counts.last().copied().unwrap_or(0));
    j.num("runs_expected_min", r.expected.0);
    j.num("runs_expected_max", r.expected.1);
    j.num("gap_min_ms", r.min_gap.0);
    j.num("gap_max_ms", r.max_gap.0);
    j.num("lag_median_ms", percentile(&r.lags, 0.5));
    j.num("lag_p99_ms", percentile(&r.lags, 0.99));
    j.num("rss_start_kib", rss_start);
    j.num("rss_peak_kib", s.rss_peak);
    j.num("rss_end_kib", rss_end);
    j.num("fd_base", fd_base);
    j.num("fd_peak", s.fd_peak);
    j.num("fd_end", fd_end);
    j.num("children_peak", s.children_peak);
    j.num("zombies_peak_transient", s.zombies_peak);
    j.float("cpu_s", cpu_s, 2);
    j.float("cpu_pct", cpu_pct, 1);
    j.float("cpu_us_per_run", cpu_s * 1e6 / r.total.max(1) as f64, 0);
    j.float("agents_cpu_s", agents_cpu_s, 2);
    j.float("idle_cpu_s", idle_cpu_s, 2);
    j.num("register_ms", p.register_ms);
    j.num("exec_ms", p.exec_ms);
    j.num("exec_rtt_median_us", percentile(&p.exec_rtt_us, 0.5));
    j.num(
        "exec_rtt_max_us",
        p.exec_rtt_us.last().copied().unwrap_or(0),
    );
    j.num("cancel_ms", p.cancel_ms);
    j.num("cancel_rtt_median_us", percentile(&p.cancel_rtt_us, 0.5));
    j.num("cancel_rtt_p99_us", percentile(&p.cancel_rtt_us, 0.99));
    j.num(
        "cancel_rtt_max_us",
        p.cancel_rtt_us.last().copied().unwrap_or(0),
    );
    j.num("unregister_ms", p.unregister_ms);
    j.num("poke_max_ms", poke_max);
    j.num("notifications", tally.total);
    j.float("loadavg_before", load_before, 2);
    j.float("loadavg_after", loadavg(), 2);
    j.float("wall_s", wall.elapsed().as_secs_f64(), 1);
    j.num("failed_checks", checks.total());
    let report = j.finish();
    println!("load: {report}");
    println!(
        "load: window uptime {}..{} ms; longest gap {} ms ({}); shortest {} ms ({})",
        p.t0, p.t_end, r.max_gap.0, r.max_gap.1, r.min_gap.0, r.min_gap.1
    );
    if let Ok(path) = std::env::var("PCMKR_LOAD_REPORT") {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("cannot write {path}: {e}"));
        writeln!(f, "{report}").unwrap();
    }
    if own {
        assert!(checks.total() == 0, "failed checks:\n{}", checks.summary());
    } else if checks.total() > 0 {
        println!(
            "load: failed checks on {} (reported, not fatal for an external daemon):\n{}",
            t.label,
            checks.summary()
        );
    }
}

// ---- the phases

/// Times and readings taken along the way.
#[derive(Default)]
struct Phases {
    register_ms: u64,
    exec_ms: u64,
    cancel_ms: u64,
    unregister_ms: u64,
    /// The measuring window, uptime ms: from the last exec reply to the first cancel.
    t0: u64,
    t_end: u64,
    cpu0: Cpu,
    cpu1: Cpu,
    poke_ms: Vec<u64>,
    /// Uptime ms at which each resource's cancel was answered.
    cancelled_at: Vec<u64>,
    /// Round trips of the execs (the monitors ramping up) and of the cancels (under full
    /// load), sorted.
    exec_rtt_us: Vec<u64>,
    cancel_rtt_us: Vec<u64>,
}

/// Registers every resource, then starts every monitor, as the controller does: one request
/// at a time, each waiting for its reply.
fn start_monitors(c: &mut Client, ids: &[String], tally: &mut Tally, p: &mut Phases) {
    let phase = Instant::now();
    let regs = common::run(phase_limit(), "register phase", async {
        one_by_one(c, ids.iter().map(|id| rsc_register(id)), tally, false).await
    });
    p.register_ms = ms(phase.elapsed());
    println!(
        "load: {} resources registered in {} ms",
        ids.len(),
        p.register_ms
    );
    for (id, (rc, _, _)) in ids.iter().zip(&regs) {
        assert_eq!(*rc, 0, "{id}: lrmd_rsc_register refused");
    }
    let phase = Instant::now();
    let execs = common::run(phase_limit(), "exec phase", async {
        let requests = ids.iter().enumerate().map(|(i, id)| monitor(id, i));
        one_by_one(c, requests, tally, true).await
    });
    p.exec_ms = ms(phase.elapsed());
    p.exec_rtt_us = sorted(execs.iter().map(|e| e.2));
    println!("load: {} monitors started in {} ms", ids.len(), p.exec_ms);
}

/// Lets the monitors run for `run_for`, reading notifications all the time and poking every
/// [`POKE_EVERY`] as the cluster's connection monitor does.
fn run_monitors(c: &mut Client, tally: &mut Tally, pid: u32, run_for: Duration, p: &mut Phases) {
    p.t0 = uptime_ms();
    p.cpu0 = cpu_of(pid);
    let deadline = Instant::now() + run_for;
    common::run(run_for + phase_limit(), "run phase", async {
        let mut next_poke = Instant::now() + POKE_EVERY;
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            if now >= next_poke {
                let sent = Instant::now();
                let reply = c.request(poke()).await.expect("poke reply");
                assert_eq!(rc_of(&reply), 0, "poke refused");
                p.poke_ms.push(ms(sent.elapsed()));
                next_poke += POKE_EVERY;
                continue;
            }
            match with_deadline(deadline.min(next_poke) - now, c.next_notification()).await {
                Some(Ok(note)) => tally.account(&note),
                Some(Err(e)) => panic!("connection failed during the run: {e}"),
                None => {}
            }
        }
    });
    p.t_end = uptime_ms();
    p.cpu1 = cpu_of(pid);
}

/// Cancels every monitor, unregisters every resource, and waits for the notifications.
fn stop_monitors(
    c: &mut Client,
    ids: &[String],
    tally: &mut Tally,
    checks: &mut Checks,
    p: &mut Phases,
) {
    let phase = Instant::now();
    let cancels = common::run(phase_limit(), "cancel phase", async {
        one_by_one(c, ids.iter().map(|id| cancel(id)), tally, false).await
    });
    p.cancel_ms = ms(phase.elapsed());
    println!(
        "load: {} monitors cancelled in {} ms",
        ids.len(),
        p.cancel_ms
    );
    let phase = Instant::now();
    let unregs = common::run(phase_limit(), "unregister phase", async {
        one_by_one(c, ids.iter().map(|id| unregister(id)), tally, false).await
    });
    p.unregister_ms = ms(phase.elapsed());
    p.cancelled_at = cancels.iter().map(|c| c.1).collect();
    p.cancel_rtt_us = sorted(cancels.iter().map(|c| c.2));
    for (id, (rc, _, _)) in ids.iter().zip(&cancels) {
        if *rc != 0 {
            checks.fail("cancel refused", format!("{id}: rc {rc}"));
        }
    }
    for (id, (rc, _, _)) in ids.iter().zip(&unregs) {
        // EINPROGRESS: a run was still being killed (protocol.md 9.7).
        if *rc != 0 && *rc != -115 {
            checks.fail("unregister refused", format!("{id}: rc {rc}"));
        }
    }
    let n = ids.len();
    common::run(Duration::from_secs(30), "last notifications", async {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until
            && (tally.cancels.iter().sum::<u32>() < n as u32 || tally.unregisters < n)
        {
            let left = until.saturating_duration_since(Instant::now());
            if let Some(Ok(note)) = with_deadline(left, c.next_notification()).await {
                tally.account(&note);
            }
        }
    });
}

/// Sends `requests` one after the other and returns (rc, uptime ms when the reply arrived,
/// round trip in µs) for each. With `execs`, the k-th reply's rc is the k-th resource's call id, recorded before
/// its first result can be looked at.
async fn one_by_one(
    c: &mut Client,
    requests: impl Iterator<Item = Element>,
    tally: &mut Tally,
    execs: bool,
) -> Vec<(i64, u64, u64)> {
    let mut out = Vec::new();
    for (k, r) in requests.enumerate() {
        let sent = Instant::now();
        let reply = c.request(r).await.expect("reply");
        let rtt = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
        let rc = rc_of(&reply);
        out.push((rc, uptime_ms(), rtt));
        if execs {
            assert!(rc > 0, "exec {k} refused with rc {rc}");
            tally.call_ids[k] = Some(rc.to_string());
        }
        // Notifications that came with the replies.
        while let Some(Ok(n)) = with_deadline(Duration::ZERO, c.next_notification()).await {
            tally.account(&n);
        }
    }
    out
}

/// Closes the client with a deadline (close_notify), ignoring a peer that is already gone.
fn close(c: Client) -> Option<()> {
    async_io::block_on(with_deadline(common::STEP, async {
        let _ = c.close().await;
    }))
}

// ---- requests, as the 2.1.5 controller words them (protocol.md 9.3-9.7)

fn command(op_name: &str, callopt: u32, timeout_ms: u32, rsc: Element) -> Element {
    Element::new(LRMD_COMMAND)
        .with_attr(attr::T, "lrmd")
        .with_attr(attr::OP, op_name)
        .with_attr(attr::TIMEOUT, timeout_ms)
        .with_attr(attr::CALL_OPTIONS, callopt)
        .with_child(Element::new(LRMD_CALLDATA).with_child(rsc))
}

fn rsc_register(id: &str) -> Element {
    let rsc = Element::new(LRMD_RSC)
        .with_attr(attr::RSC_ID, id)
        .with_attr(attr::CLASS, "ocf")
        .with_attr(attr::PROVIDER, PROVIDER)
        .with_attr(attr::TYPE, AGENT);
    command(op::RSC_REGISTER, 3, 0, rsc)
}

fn monitor(id: &str, n: usize) -> Element {
    let params = Element::new(ATTRIBUTES)
        .with_attr("CRM_meta_interval", INTERVAL_MS)
        .with_attr("CRM_meta_name", "monitor")
        .with_attr("CRM_meta_on_node", "load-node")
        .with_attr("CRM_meta_on_node_uuid", "load-node")
        .with_attr("CRM_meta_timeout", 20000)
        .with_attr("crm_feature_set", "3.16.2");
    let rsc = Element::new(LRMD_RSC)
        .with_attr(attr::RSC_ID, id)
        .with_attr(attr::RSC_ACTION, "monitor")
        .with_attr(attr::RSC_USERDATA, format!("{n}:1:0:pcmkr-load-test"))
        .with_attr(attr::RSC_INTERVAL, INTERVAL_MS)
        .with_attr(attr::TIMEOUT, 20000)
        .with_attr(attr::RSC_START_DELAY, 0)
        .with_child(params);
    command(op::RSC_EXEC, 4, 20000, rsc)
}

fn cancel(id: &str) -> Element {
    let rsc = Element::new(LRMD_RSC)
        .with_attr(attr::RSC_ID, id)
        .with_attr(attr::RSC_ACTION, "monitor")
        .with_attr(attr::RSC_INTERVAL, INTERVAL_MS);
    command(op::RSC_CANCEL, 0, 0, rsc)
}

fn unregister(id: &str) -> Element {
    let rsc = Element::new(LRMD_RSC).with_attr(attr::RSC_ID, id);
    command(op::RSC_UNREGISTER, 0, 0, rsc)
}

fn rc_of(reply: &Element) -> i64 {
    reply
        .attr(attr::RC)
        .and_then(|v| v.parse().ok())
        .unwrap_or(i64::MIN)
}

// ---- notifications

/// What the notifications said, per resource.
#[derive(Default)]
struct Tally {
    index: HashMap<String, usize>,
    /// Exec results other than cancellations.
    results: Vec<u32>,
    /// Cancellation results.
    cancels: Vec<u32>,
    /// Call id each resource's monitor got.
    call_ids: Vec<Option<String>>,
    registers: usize,
    unregisters: usize,
    pokes: usize,
    total: usize,
    /// Anything unexpected, with enough to find it in the daemon's log.
    odd: Vec<String>,
}

impl Tally {
    fn new(ids: &[String]) -> Tally {
        Tally {
            index: ids.iter().cloned().zip(0..).collect(),
            results: vec![0; ids.len()],
            cancels: vec![0; ids.len()],
            call_ids: vec![None; ids.len()],
            ..Tally::default()
        }
    }

    fn account(&mut self, n: &Element) {
        self.total += 1;
        let rsc = n.attr(attr::RSC_ID).unwrap_or("");
        match n.attr(attr::OP) {
            Some(op::RSC_EXEC) => {
                let Some(&i) = self.index.get(rsc) else {
                    self.odd
                        .push(format!("result for unknown resource {rsc:?}"));
                    return;
                };
                let (rc, status) = (n.attr(attr::EXEC_RC), n.attr(attr::EXEC_OP_STATUS));
                let call = n.attr(attr::CALL_ID).map(str::to_string);
                if call != self.call_ids[i] {
                    self.odd.push(format!(
                        "{rsc}: result with call id {call:?}, the exec got {:?}",
                        self.call_ids[i]
                    ));
                }
                if status == Some("1") {
                    self.cancels[i] += 1;
                } else {
                    self.results[i] += 1;
                    if (rc, status) != (Some("0"), Some("0")) {
                        self.odd.push(format!(
                            "{rsc}: result rc={rc:?} status={status:?} reason={:?} output={:?}",
                            n.attr(attr::RSC_EXIT_REASON),
                            n.attr(attr::RSC_OUTPUT)
                        ));
                    }
                }
            }
            Some(op::RSC_REGISTER) => self.registers += 1,
            Some(op::RSC_UNREGISTER) => self.unregisters += 1,
            Some(op::POKE) => self.pokes += 1,
            other => self.odd.push(format!("unexpected notification {other:?}")),
        }
    }
}

fn check_notifications(tally: &Tally, pokes: usize, checks: &mut Checks) {
    for (id, &i) in &tally.index {
        if tally.results[i] != 1 {
            checks.fail(
                "results notified (callopt 4: exactly the first)",
                format!("{id}: {}", tally.results[i]),
            );
        }
        if tally.cancels[i] != 1 {
            checks.fail(
                "cancellations notified (exactly 1)",
                format!("{id}: {}", tally.cancels[i]),
            );
        }
    }
    let n = tally.index.len();
    if tally.registers != n || tally.unregisters != n {
        checks.fail(
            "generic notifications",
            format!(
                "{} register, {} unregister, expected {n} each",
                tally.registers, tally.unregisters
            ),
        );
    }
    if tally.pokes != pokes {
        checks.fail(
            "poke notifications",
            format!("{} for {pokes} pokes", tally.pokes),
        );
    }
    for odd in &tally.odd {
        checks.fail("unexpected notification", odd.clone());
    }
}

// ---- the agent and its log

/// Writes the no-op agent: one `O_APPEND` line per run, `<resource> <action> <uptime>`.
fn write_agent(dir: &Path, log: &Path) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let file = dir.join(AGENT);
    let script = format!(
        "#!/bin/sh\n\
         # pcmk-remoted load test agent: log the run, succeed.\n\
         read up idle < /proc/uptime\n\
         echo \"$OCF_RESOURCE_INSTANCE $1 $up\" >> '{}'\n\
         exit 0\n",
        log.display()
    );
    fs::write(&file, script).unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
    file
}

/// Run start times (uptime ms) per resource, in order, and lines that made no sense.
fn read_runs(log: &Path, tally: &Tally) -> (Vec<Vec<u64>>, Vec<String>) {
    let text = fs::read_to_string(log).unwrap_or_default();
    let mut runs = vec![Vec::new(); tally.results.len()];
    let mut bad = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let index = f.first().and_then(|r| tally.index.get(*r));
        match (index, f.get(1), f.get(2).and_then(|t| parse_uptime(t))) {
            (Some(&i), Some(&"monitor"), Some(t)) if f.len() == 3 => runs[i].push(t),
            _ if bad.len() < 20 => bad.push(line.to_string()),
            _ => {}
        }
    }
    for r in &mut runs {
        r.sort_unstable();
    }
    (runs, bad)
}

/// What the runs looked like.
struct RunFigures {
    total: u64,
    /// Runs per resource in the window, sorted.
    counts: Vec<u64>,
    /// The accepted range of runs per resource.
    expected: (u64, u64),
    /// Start-to-start times minus the interval, sorted.
    lags: Vec<u64>,
    min_gap: (u64, String),
    max_gap: (u64, String),
}

fn check_runs(runs: &[Vec<u64>], ids: &[String], p: &Phases, checks: &mut Checks) -> RunFigures {
    let (t0, t_end) = (p.t0, p.t_end);
    let window = t_end - t0;
    let expected = (
        window / (INTERVAL_MS + MAX_MEAN_LAG_MS),
        // Starts an interval apart fit at most window/interval + 1 times (10 ms clock steps).
        window / (INTERVAL_MS - 10) + 1,
    );
    let mut f = RunFigures {
        total: 0,
        counts: Vec::new(),
        expected,
        lags: Vec::new(),
        min_gap: (u64::MAX, String::new()),
        max_gap: (0, String::new()),
    };
    for (r, id) in runs.iter().zip(ids) {
        let count = r.iter().filter(|&&x| x >= t0 && x < t_end).count() as u64;
        f.counts.push(count);
        f.total += count;
        if count < expected.0 || count > expected.1 {
            checks.fail(
                "runs per resource out of range",
                format!("{id}: {count} in {window} ms, expected {expected:?}"),
            );
        }
        // Every gap up to the window's end, the last one up to the end itself, so a monitor
        // that silently stopped shows as one long gap.
        let mut edges: Vec<u64> = r.iter().copied().filter(|&x| x < t_end).collect();
        if edges.is_empty() {
            checks.fail("missed runs (gap over 2.5 s)", format!("{id}: never ran"));
            continue;
        }
        edges.push(t_end);
        let last = edges.len() - 2;
        for (k, w) in edges.windows(2).enumerate() {
            let (gap, at) = (w[1] - w[0], format!("{id} at uptime {} ms", w[1]));
            if gap > f.max_gap.0 {
                f.max_gap = (gap, at.clone());
            }
            if gap > MAX_GAP_MS {
                let end = if k == last { " (end of window)" } else { "" };
                checks.fail(
                    "missed runs (gap over 2.5 s)",
                    format!("{id}: {gap} ms from {} to {}{end}", w[0], w[1]),
                );
            }
            if k == last {
                continue;
            }
            f.lags.push(gap.saturating_sub(INTERVAL_MS));
            if gap < f.min_gap.0 {
                f.min_gap = (gap, at);
            }
            if gap < MIN_GAP_MS {
                checks.fail(
                    "duplicate runs (gap under 0.9 s)",
                    format!("{id}: {gap} ms from {} to {}", w[0], w[1]),
                );
            }
        }
    }
    // The agent stamps its start; a start after the cancel's reply (plus the 10 ms clock step
    // and the reply's way to us) ran after its cancel.
    for ((r, id), &at) in runs.iter().zip(ids).zip(&p.cancelled_at) {
        for &x in r.iter().filter(|&&x| x > at + 50) {
            checks.fail(
                "runs after their cancel",
                format!("{id} ran at {x}, cancel answered at {at}"),
            );
        }
    }
    f.counts.sort_unstable();
    f.lags.sort_unstable();
    f
}

// ---- the daemon as /proc shows it

/// Where the test runs: a daemon it started, or one named by the environment.
struct Target {
    addr: SocketAddr,
    key: Vec<u8>,
    pid: u32,
    label: String,
    own: Option<Daemon>,
    /// The agent file we wrote into an external daemon's agent directory, removed at the end.
    foreign_agent: Option<PathBuf>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Some(f) = &self.foreign_agent {
            let _ = fs::remove_file(f);
        }
    }
}

fn target(scratch: &Scratch, log: &Path) -> Target {
    if let Ok(addr) = std::env::var("PCMKR_LOAD_ADDR") {
        // An external daemon (the original, say), already running: we only measure it. Its
        // agent directory must be on its OCF path and named after our provider.
        let need = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is needed"));
        let dir = PathBuf::from(need("PCMKR_LOAD_AGENT_DIR"));
        assert_eq!(
            dir.file_name().and_then(|n| n.to_str()),
            Some(PROVIDER),
            "PCMKR_LOAD_AGENT_DIR must be <ocf ra path>/{PROVIDER}"
        );
        let agent = write_agent(&dir, log);
        return Target {
            addr: addr.parse().unwrap(),
            key: fs::read(need("PCMKR_LOAD_KEY")).unwrap(),
            pid: need("PCMKR_LOAD_PID").parse().unwrap(),
            label: std::env::var("PCMKR_LOAD_LABEL").unwrap_or_else(|_| "external".into()),
            own: None,
            foreign_agent: Some(agent),
        };
    }
    let ocf_root = scratch.path("ocf");
    let ra_path = ocf_root.join("resource.d");
    write_agent(&ra_path.join(PROVIDER), log);
    let daemon = Daemon::options()
        .limit("max_resources=2000")
        .limit("max_recurring_operations=2000")
        .limit("max_queued_operations=4000")
        .limit(&format!("max_children={}", max_children()))
        .limit("max_output_bytes=65536")
        .env("PCMK_remoted_ocf_root", ocf_root.to_str().unwrap())
        .env("PCMK_remoted_ocf_ra_path", ra_path.to_str().unwrap())
        .start();
    let profile = if BINARY.contains("/release/") {
        "release"
    } else {
        "debug"
    };
    Target {
        addr: daemon.addr,
        key: daemon.key.clone(),
        pid: daemon.pid(),
        label: format!("pcmk-remoted {profile}"),
        own: Some(daemon),
        foreign_agent: None,
    }
}

#[derive(Clone, Copy, Default)]
struct Cpu {
    own_ticks: u64,
    children_ticks: u64,
}

fn cpu_of(pid: u32) -> Cpu {
    stat_of(pid).expect("daemon /proc stat").2
}

/// (state, ppid, cpu) from /proc/<pid>/stat.
fn stat_of(pid: u32) -> Option<(char, u32, Cpu)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; fields resume after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    // After the name: state (field 3), ppid (4), ... utime (14), stime, cutime, cstime (17).
    Some((
        f.first()?.chars().next()?,
        u32::try_from(num(1)?).ok()?,
        Cpu {
            own_ticks: num(11)? + num(12)?,
            children_ticks: num(13)? + num(14)?,
        },
    ))
}

fn ticks_to_s(ticks: u64) -> f64 {
    static TICK: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let per_s = *TICK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    });
    ticks as f64 / per_s
}

fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(&format!("{field}:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Open fds once the daemon is set up and quiet: after a fresh client was served (so lazily
/// made ones count) and the count held still for 300 ms. Listening sockets (TCP, local IPC)
/// are part of it, whatever their number.
fn settled_fds(t: &Target) -> usize {
    if let Some(d) = &t.own {
        d.assert_serves();
    }
    let mut last = fd_count(t.pid);
    let mut same = 0;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(100));
        let now = fd_count(t.pid);
        same = if now == last { same + 1 } else { 0 };
        last = now;
        if same == 3 {
            break;
        }
    }
    last
}

/// The daemon's children: how many, and the pids of those that are zombies.
fn children_of(pid: u32) -> (usize, Vec<u32>) {
    let mut all = 0;
    let mut zombies = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Some(child) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        if let Some((state, ppid, _)) = stat_of(child) {
            if ppid == pid {
                all += 1;
                if state == 'Z' {
                    zombies.push(child);
                }
            }
        }
    }
    (all, zombies)
}

/// The 1-minute load average: how busy the machine was, for reading the figures.
fn loadavg() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

struct Sample {
    at_ms: u64,
    rss_kib: u64,
    fds: usize,
    children: usize,
    zombies: Vec<u32>,
}

/// Samples the daemon every second until stopped (or `limit` passes).
fn sampler(
    pid: u32,
    stop: Arc<AtomicBool>,
    limit: Duration,
) -> (Arc<Mutex<Vec<Sample>>>, std::thread::JoinHandle<()>) {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let out = samples.clone();
    let handle = std::thread::spawn(move || {
        let start = Instant::now();
        while !stop.load(Ordering::SeqCst) && start.elapsed() < limit {
            let (children, zombies) = children_of(pid);
            let s = Sample {
                at_ms: uptime_ms(),
                rss_kib: status_kib(pid, "VmRSS").unwrap_or(0),
                fds: fd_count(pid),
                children,
                zombies,
            };
            out.lock().unwrap().push(s);
            // Short steps, so a stop is seen quickly.
            for _ in 0..10 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    (samples, handle)
}

struct ProcessFigures {
    rss_peak: u64,
    fd_peak: usize,
    children_peak: usize,
    zombies_peak: usize,
}

fn check_process(
    samples: &[Sample],
    own: bool,
    fd_base: usize,
    fd_end: usize,
    checks: &mut Checks,
) -> ProcessFigures {
    let f = ProcessFigures {
        rss_peak: samples.iter().map(|s| s.rss_kib).max().unwrap_or(0),
        fd_peak: samples.iter().map(|s| s.fds).max().unwrap_or(0),
        children_peak: samples.iter().map(|s| s.children).max().unwrap_or(0),
        zombies_peak: samples.iter().map(|s| s.zombies.len()).max().unwrap_or(0),
    };
    // A zombie is normal between an exit and the SIGCHLD that reaps it; one still there a
    // second later was never reaped.
    for w in samples.windows(2) {
        for z in w[1].zombies.iter().filter(|z| w[0].zombies.contains(z)) {
            checks.fail(
                "zombies not reaped within a second",
                format!("pid {z} at uptime {} and {} ms", w[0].at_ms, w[1].at_ms),
            );
        }
    }
    if !own {
        return f;
    }
    if f.rss_peak >= RSS_CAP_KIB {
        checks.fail(
            "VmRSS over the cap",
            format!("peak {} KiB, cap {RSS_CAP_KIB} KiB", f.rss_peak),
        );
    }
    // The listener, one client, two pipes per running agent, and a little slack.
    let max_children = max_children() as usize;
    let fd_bound = fd_base + 1 + 2 * max_children + 8;
    if f.fd_peak > fd_bound {
        checks.fail(
            "fds over their bound",
            format!("peak {}, bound {fd_bound} (end {fd_end})", f.fd_peak),
        );
    }
    if f.children_peak > max_children {
        checks.fail(
            "children over max_children",
            format!("{} at once, max_children {max_children}", f.children_peak),
        );
    }
    f
}

// ---- small things

/// Failed checks by kind: how many, and the first few for the report.
#[derive(Default)]
struct Checks {
    kinds: Vec<(&'static str, usize, Vec<String>)>,
}

impl Checks {
    fn fail(&mut self, kind: &'static str, detail: String) {
        let i = match self.kinds.iter().position(|k| k.0 == kind) {
            Some(i) => i,
            None => {
                self.kinds.push((kind, 0, Vec::new()));
                self.kinds.len() - 1
            }
        };
        let k = &mut self.kinds[i];
        k.1 += 1;
        if k.2.len() < 5 {
            k.2.push(detail);
        }
    }

    fn total(&self) -> usize {
        self.kinds.iter().map(|k| k.1).sum()
    }

    fn summary(&self) -> String {
        let lines: Vec<String> = self
            .kinds
            .iter()
            .map(|(kind, n, first)| format!("{kind}: {n}, first: {}", first.join("; ")))
            .collect();
        lines.join("\n")
    }
}

/// One flat JSON object, written by hand: the values are numbers and plain labels.
#[derive(Default)]
struct Json(Vec<String>);

impl Json {
    fn num(&mut self, k: &str, v: impl std::fmt::Display) {
        self.0.push(format!("\"{k}\":{v}"));
    }
    fn float(&mut self, k: &str, v: f64, decimals: usize) {
        let v = if v.is_finite() { v } else { -1.0 };
        self.0.push(format!("\"{k}\":{v:.decimals$}"));
    }
    fn text(&mut self, k: &str, v: &str) {
        let v = v.replace('\\', "\\\\").replace('"', "\\\"");
        self.0.push(format!("\"{k}\":\"{v}\""));
    }
    fn finish(self) -> String {
        format!("{{{}}}", self.0.join(","))
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

fn phase_limit() -> Duration {
    Duration::from_secs(env_number("PCMKR_LOAD_PHASE_LIMIT", PHASE_LIMIT_S))
}

fn max_children() -> u64 {
    env_number("PCMKR_LOAD_MAX_CHILDREN", MAX_CHILDREN).max(1)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Seconds since boot in ms, from the same source the agent uses.
fn uptime_ms() -> u64 {
    let text = fs::read_to_string("/proc/uptime").unwrap();
    let first = text.split_whitespace().next().unwrap_or("");
    parse_uptime(first).unwrap_or_else(|| panic!("cannot read /proc/uptime: {text:?}"))
}

/// "3826.81" → 3826810.
fn parse_uptime(s: &str) -> Option<u64> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<3}");
    Some(whole.parse::<u64>().ok()? * 1000 + frac.get(..3)?.parse::<u64>().ok()?)
}

fn sorted(values: impl Iterator<Item = u64>) -> Vec<u64> {
    let mut v: Vec<u64> = values.collect();
    v.sort_unstable();
    v
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
