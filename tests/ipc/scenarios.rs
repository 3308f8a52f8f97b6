//! The interop scenarios: real Pacemaker 2.1.5 tools and a libqb/crm_ipc C client against
//! our server, all inside a network namespace of our own.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::server::canned_cib;
use crate::support::{build_probe, have, run_with_deadline, Netns, Output, TestServer, TestUser};

struct Ctx {
    ns: Netns,
    probe: Result<PathBuf, String>,
}

type Scenario = fn(&Ctx) -> Result<String, String>;

const TOOL_LIMIT: Duration = Duration::from_secs(15);

fn tool(ctx: &Ctx, program: &str, args: &[&str]) -> Result<Output, String> {
    let mut c = ctx.ns.cmd(program);
    c.args(args);
    run_with_deadline(c, TOOL_LIMIT)
}

fn as_user(ctx: &Ctx, user: &str, program: &str, args: &[&str]) -> Result<Output, String> {
    let mut c = ctx.ns.cmd("runuser");
    c.args(["-u", user, "--", program]).args(args);
    run_with_deadline(c, TOOL_LIMIT)
}

fn probe(ctx: &Ctx, args: &[&str]) -> Result<Output, String> {
    let p = ctx.probe.as_ref().map_err(Clone::clone)?;
    let mut c = ctx.ns.cmd(p.to_str().unwrap_or_default());
    c.args(args);
    run_with_deadline(c, TOOL_LIMIT)
}

fn raw(ctx: &Ctx, case: &str, service: &str, env: &[(&str, &str)]) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut c = ctx.ns.cmd(exe.to_str().unwrap_or_default());
    c.args(["--raw-client", case, service]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run_with_deadline(c, TOOL_LIMIT)?;
    // The last line: a "stranger" helper it starts prints its own first.
    let line = out
        .stdout
        .lines()
        .rfind(|l| l.starts_with("RESULT"))
        .unwrap_or("");
    match line.strip_prefix("RESULT ok ") {
        Some(d) => Ok(d.to_string()),
        None => Err(format!("raw {case}: {line} {}", out.stderr)),
    }
}

/// The raw client run as `user` (None: root), in the namespace.
fn raw_as(
    ctx: &Ctx,
    user: Option<&str>,
    case: &str,
    service: &str,
    env: &[(&str, String)],
) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe = exe.to_str().unwrap_or_default();
    let mut c = match user {
        Some(u) => {
            let mut c = ctx.ns.cmd("runuser");
            c.args(["-u", u, "--", exe]);
            c
        }
        None => ctx.ns.cmd(exe),
    };
    c.args(["--raw-client", case, service]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = run_with_deadline(c, Duration::from_secs(120))?;
    let line = out
        .stdout
        .lines()
        .rfind(|l| l.starts_with("RESULT"))
        .unwrap_or("");
    match line.strip_prefix("RESULT ok ") {
        Some(d) => Ok(d.to_string()),
        None => Err(format!("raw {case} as {user:?}: {line} {}", out.stderr)),
    }
}

/// Peak resident memory of a process (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn attrd_query(ctx: &Ctx) -> Result<Output, String> {
    tool(ctx, "attrd_updater", &["-Q", "-n", "probe", "-N", "node1"])
}

fn expect_value(out: &Output) -> Result<String, String> {
    if out.code == Some(0) && out.stdout.contains(r#"value="42-from-rust""#) {
        Ok(format!(
            "{} ({} ms)",
            out.stdout.trim(),
            out.elapsed.as_millis()
        ))
    } else {
        Err(format!(
            "attrd_updater exit {:?} signal {:?}: {} {}",
            out.code, out.signal, out.stdout, out.stderr
        ))
    }
}

/// Stops a server and checks it exits 0 and leaves nothing in /dev/shm.
fn finish(mut s: TestServer) -> Result<(), String> {
    let code = s.stop();
    let left = s.shm_entries();
    if code != Some(0) || !left.is_empty() {
        return Err(format!(
            "server exit {code:?}, left {left:?}; log:\n{}",
            s.log_text()
        ));
    }
    Ok(())
}

fn quiet(s: &TestServer) -> Result<(), String> {
    if s.wait_for(Duration::from_secs(3), |s| s.shm_entries().is_empty()) {
        Ok(())
    } else {
        Err(format!("left in /dev/shm: {:?}", s.shm_entries()))
    }
}

fn sc_attrd_query(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(&ctx.ns, "attrd_query", &[])?;
    let d = expect_value(&attrd_query(ctx)?)?;
    quiet(&s)?;
    let log = s.log_text();
    let req = log
        .lines()
        .find(|l| l.contains("request") && l.contains("attrd"))
        .unwrap_or("")
        .to_string();
    finish(s)?;
    Ok(format!("{d}; server saw: {}", req.trim()))
}

fn sc_handshake_fields(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(&ctx.ns, "handshake_fields", &[])?;
    let d = raw(ctx, "ok", "attrd", &[])?;
    quiet(&s)?;
    finish(s)?;
    Ok(d)
}

fn sc_cibadmin(ctx: &Ctx, nvpairs: usize) -> Result<String, String> {
    let s = TestServer::start(
        &ctx.ns,
        &format!("cibadmin-{nvpairs}"),
        &[("PCMKR_T_CIB_NVPAIRS", nvpairs.to_string())],
    )?;
    let out = tool(ctx, "cibadmin", &["-Q"])?;
    let found = out.stdout.matches(r#"name="probe-"#).count();
    let log = s.log_text();
    if out.code != Some(0) || found != nvpairs || !out.stdout.contains("<cib") {
        return Err(format!(
            "cibadmin exit {:?}, {found} of {nvpairs} options; stderr {}; log:\n{log}",
            out.code, out.stderr
        ));
    }
    let ops: Vec<String> = log
        .lines()
        .filter(|l| l.contains(" request "))
        .filter_map(|l| crate::server::attr(l, "cib_op"))
        .collect();
    quiet(&s)?;
    finish(s)?;
    let cib = canned_cib(nvpairs);
    let reply_len = cib.len() + 120;
    let compressed = compressed_len(&format!(
        r#"<cib-reply t="cib" cib_op="cib_query" cib_callid="2" cib_rc="0"><cib_calldata>{cib}</cib_calldata></cib-reply>"#
    ));
    Ok(format!(
        "ops {ops:?}; CIB of {} bytes (reply ~{reply_len}), sent as a {compressed}-byte datagram; \
         cibadmin printed {} bytes in {} ms",
        cib.len(),
        out.stdout.len(),
        out.elapsed.as_millis()
    ))
}

fn compressed_len(xml: &str) -> usize {
    pcmk_remoted::ipc::pcmk::Encoder::new(Default::default(), 131072, 524288)
        .encode(2, 0, xml.as_bytes())
        .map(|d| d[0].len())
        .unwrap_or(0)
}

fn sc_cibadmin_small(ctx: &Ctx) -> Result<String, String> {
    sc_cibadmin(ctx, 3)
}

fn sc_cibadmin_large(ctx: &Ctx) -> Result<String, String> {
    sc_cibadmin(ctx, 8000)
}

fn expect_line(out: &Output, prefix: &str) -> Result<String, String> {
    match out.stdout.lines().find(|l| l.starts_with(prefix)) {
        Some(l) if out.code == Some(0) => Ok(l.to_string()),
        _ => Err(format!(
            "exit {:?} signal {:?}: {} {}",
            out.code, out.signal, out.stdout, out.stderr
        )),
    }
}

fn sc_events(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(&ctx.ns, "events", &[])?;
    let small = expect_line(&probe(ctx, &["event", "attrd", "200", "5"])?, "EVENTS")?;
    let large = expect_line(&probe(ctx, &["event", "attrd", "400000", "3"])?, "EVENTS")?;
    if !large.contains("flags=0x10001") {
        return Err(format!("large events were not compressed: {large}"));
    }
    let req = expect_line(&probe(ctx, &["bigreq", "attrd", "300000"])?, "BIGREQ")?;
    quiet(&s)?;
    let log = s.log_text();
    let seen = log
        .lines()
        .find(|l| l.contains("op=\"bigreq\"") || (l.contains("request") && l.contains("len=3000")))
        .map(|l| l.split("xml=").next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    finish(s)?;
    Ok(format!("{small}; {large}; {req}; server: {seen}"))
}

fn sc_permissions(ctx: &Ctx) -> Result<String, String> {
    let outsider = TestUser::create("pcmkr-ipc-out", None)?;
    let member = TestUser::create("pcmkr-ipc-in", Some("haclient"))?;
    let s = TestServer::start(&ctx.ns, "permissions", &[])?;
    let out = as_user(
        ctx,
        &outsider.name,
        "attrd_updater",
        &["-Q", "-n", "probe", "-N", "node1"],
    )?;
    let inside = as_user(
        ctx,
        &member.name,
        "attrd_updater",
        &["-Q", "-n", "probe", "-N", "node1"],
    )?;
    quiet(&s)?;
    let log = s.log_text();
    finish(s)?;
    if out.code == Some(0) || out.signal.is_some() {
        return Err(format!(
            "outsider was let in: {:?} {}",
            out.code, out.stdout
        ));
    }
    let member_ok = expect_value(&inside)?;
    let outsider_seen = log
        .lines()
        .filter(|l| l.contains("user=pcmkr-ipc-out"))
        .count();
    let member_seen = log
        .lines()
        .find(|l| l.contains("user=pcmkr-ipc-in"))
        .unwrap_or("")
        .to_string();
    Ok(format!(
        "outsider: exit {:?}, {} (handshakes answered: {outsider_seen}); member: {member_ok}; {}",
        out.code,
        out.stderr.lines().last().unwrap_or("").trim(),
        member_seen.trim()
    ))
}

fn sc_refusal(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(&ctx.ns, "refusal", &[("PCMKR_T_REFUSE", "attrd".into())])?;
    let out = attrd_query(ctx)?;
    let pcmkd = probe(ctx, &["refused", "pacemakerd"]).and_then(|o| expect_line(&o, "REFUSED"));
    quiet(&s)?;
    finish(s)?;
    if out.code == Some(0) || out.signal.is_some() || out.elapsed > Duration::from_secs(5) {
        return Err(format!(
            "attrd_updater exit {:?} signal {:?} after {:?}",
            out.code, out.signal, out.elapsed
        ));
    }
    let pcmkd = pcmkd?;
    if !pcmkd.contains("errno=121") {
        return Err(format!("pacemakerd: {pcmkd}"));
    }
    Ok(format!(
        "attrd_updater exit {:?} in {} ms: {}; pacemakerd: {pcmkd}",
        out.code,
        out.elapsed.as_millis(),
        out.stderr.lines().last().unwrap_or("").trim()
    ))
}

fn sc_server_close(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(&ctx.ns, "server_close", &[])?;
    let line = expect_line(&probe(ctx, &["mainloop-close", "attrd"])?, "CLOSED")?;
    let ms: u64 = line
        .rsplit('=')
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    // A client blocked in a synchronous call: the server closes it 200 ms later.
    let sync = expect_line(&probe(ctx, &["sync-close", "attrd"])?, "SYNC-CLOSE")?;
    let sync_ms: u64 = sync
        .split_whitespace()
        .find_map(|w| w.strip_prefix("after_ms="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    quiet(&s)?;
    finish(s)?;
    // The server closes 300 ms after the request; the client must notice at once.
    if ms > 1000 || sync_ms > 1000 {
        return Err(format!("noticed late: {line}; {sync}"));
    }
    Ok(format!(
        "main loop: {line} (server closed at 300 ms); synchronous call: {sync} (closed at 200 ms)"
    ))
}

fn sc_malformed(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(
        &ctx.ns,
        "malformed",
        &[("PCMKR_T_MAX_OUTBOUND", (1 << 20).to_string())],
    )?;
    let mut details = Vec::new();
    for case in [
        "half-handshake",
        "bad-handshake",
        "truncated-header",
        "huge-size",
        "oversized",
        "bad-version",
        "vanish-mid-request",
        "vanish-response-socket",
        "stranger",
        "no-read",
    ] {
        let start = Instant::now();
        let d = raw(ctx, case, "attrd", &[])?;
        // After every bad client a real tool is still served.
        expect_value(&attrd_query(ctx)?).map_err(|e| format!("after {case}: {e}"))?;
        details.push(format!("{case}: {d} [{} ms]", start.elapsed().as_millis()));
    }
    quiet(&s)?;
    let log = s.log_text();
    finish(s)?;
    let closing: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("ipc: closing attrd client")
                || l.contains("not connected")
                || l.contains("dropped a datagram")
        })
        .collect();
    for want in [
        "handshake within",
        "bad handshake",
        "16 are needed",
        "header says 2147483647",
        "exceeds the negotiated",
        "header version 2",
        "dropped a datagram from pid",
        "cannot reach the client's response socket",
        "stopped reading",
    ] {
        if !closing.iter().any(|l| l.contains(want)) {
            return Err(format!("no log line with {want:?}; log:\n{log}"));
        }
    }
    details.push(format!("server log:\n      {}", closing.join("\n      ")));
    Ok(details.join("\n    "))
}

fn sc_framing3(ctx: &Ctx) -> Result<String, String> {
    let env = [("PCMKR_T_FRAMING", "3".to_string())];
    let s = TestServer::start(&ctx.ns, "framing3", &env)?;
    let raw_env = [("PCMKR_T_FRAMING", "3")];
    let gone = raw(ctx, "vanish-mid-multipart", "attrd", &raw_env)?;
    let ok = raw(ctx, "ok", "attrd", &raw_env)?;
    quiet(&s)?;
    finish(s)?;
    Ok(format!("{gone}; then {ok}"))
}

/// With no layout configured, clients of both layouts on one server: each is read and
/// answered in its own (libqb-ipc.md 7.2), a real 2.x tool between them.
fn sc_layouts_side_by_side(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(&ctx.ns, "layouts", &[])?;
    let v3 = raw(ctx, "ok", "attrd", &[("PCMKR_T_FRAMING", "3")])?;
    let tool = expect_value(&attrd_query(ctx)?)?;
    let v2 = raw(ctx, "ok", "attrd", &[("PCMKR_T_FRAMING", "2")])?;
    let parts = raw(
        ctx,
        "vanish-mid-multipart",
        "attrd",
        &[("PCMKR_T_FRAMING", "3")],
    )?;
    let v3_again = raw(ctx, "ok", "attrd", &[("PCMKR_T_FRAMING", "3")])?;
    let log = finish_log(s)?;
    let seen = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    let (said2, said3) = (seen("speaks the 2.x"), seen("speaks the 3.0.1+"));
    // The client that leaves mid-message is not counted: its departure can be seen before
    // its first part is read (both are on their way at once), and then no layout is told.
    if said2 < 2 || said3 < 2 {
        return Err(format!(
            "expected >= 2 clients told 2.x and >= 2 told 3.0.1+, got {said2} and {said3}; \
             log:\n{log}"
        ));
    }
    Ok(format!(
        "3.x: {v3}; tool: {tool}; 2.x: {v2}; 3.x parts: {parts}; 3.x: {v3_again}"
    ))
}

fn sc_fifty(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(&ctx.ns, "fifty", &[])?;
    // One client first: the reactor opens its timer descriptors on first use.
    expect_value(&attrd_query(ctx)?)?;
    quiet(&s)?;
    let base = s.fd_count();
    let start = Instant::now();
    let children: Vec<_> = (0..50)
        .map(|_| {
            let mut c = ctx.ns.cmd("attrd_updater");
            c.args(["-Q", "-n", "probe", "-N", "node1"]);
            std::thread::spawn(move || run_with_deadline(c, Duration::from_secs(30)))
        })
        .collect();
    let mut ok = 0;
    let mut failures = Vec::new();
    for c in children {
        match c.join() {
            Ok(Ok(out)) if expect_value(&out).is_ok() => ok += 1,
            Ok(Ok(out)) => failures.push(format!("exit {:?}: {}", out.code, out.stderr)),
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("thread panicked".into()),
        }
    }
    let elapsed = start.elapsed();
    let back = s.wait_for(Duration::from_secs(5), |s| {
        s.fd_count() == base && s.shm_entries().is_empty()
    });
    let (fds, shm) = (s.fd_count(), s.shm_entries());
    let log = s.log_text();
    finish(s)?;
    let served = log
        .lines()
        .filter(|l| l.contains("test server: request"))
        .count()
        .saturating_sub(1);
    if ok != 50 || !back {
        return Err(format!(
            "{ok}/50 answered, fds {fds} (baseline {base}), shm {shm:?}, failures {failures:?}"
        ));
    }
    Ok(format!(
        "50/50 answered in {} ms ({served} requests); fds back to {base}; /dev/shm clean",
        elapsed.as_millis()
    ))
}

fn sc_connection_cap(ctx: &Ctx) -> Result<String, String> {
    let s = TestServer::start(
        &ctx.ns,
        "cap",
        &[
            ("PCMKR_T_MAX_CLIENTS", "2".into()),
            ("PCMKR_T_ROOT_RESERVE", "0".into()),
            ("PCMKR_T_HANDSHAKE_MS", "1500".into()),
        ],
    )?;
    // Two clients that never finish their handshake hold both places for 1.5 s.
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let mut c = ctx.ns.cmd(exe.to_str().unwrap_or_default());
            c.args(["--raw-client", "half-handshake", "attrd"]);
            std::thread::spawn(move || run_with_deadline(c, TOOL_LIMIT))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let refused = attrd_query(ctx)?;
    for h in holders {
        let out = h
            .join()
            .map_err(|_| "holder thread panicked".to_string())??;
        if !out.stdout.contains("RESULT ok") {
            return Err(format!("holder: {}", out.stdout));
        }
    }
    let after = expect_value(&attrd_query(ctx)?)?;
    quiet(&s)?;
    let log = s.log_text();
    finish(s)?;
    if refused.code == Some(0) || refused.signal.is_some() {
        return Err(format!("third client was let in: {}", refused.stdout));
    }
    // Refused by the cap, not by a crash or a timeout: the server must say so.
    let Some(line) = log
        .lines()
        .find(|l| l.contains("refusing a new attrd client"))
    else {
        return Err(format!(
            "third client failed (exit {:?}) but the server never refused it: {}",
            refused.code,
            refused.stderr.trim()
        ));
    };
    Ok(format!(
        "third client: exit {:?} in {} ms, {}; server: {}; after the holders left: {after}",
        refused.code,
        refused.elapsed.as_millis(),
        refused.stderr.lines().last().unwrap_or("").trim(),
        line.trim()
    ))
}

/// A user outside haclient opens every connection it can (300, held 3 s): each is refused at
/// accept without a slot, and root's attrd_updater and a haclient member's get in at once.
fn sc_outsider_flood(ctx: &Ctx) -> Result<String, String> {
    let outsider = TestUser::create("pcmkr-ipc-flood", None)?;
    let member = TestUser::create("pcmkr-ipc-mem", Some("haclient"))?;
    let s = TestServer::start(&ctx.ns, "outsider_flood", &[])?;
    let flood = {
        let (ns, name) = (ctx.ns.name.clone(), outsider.name.clone());
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", &ns, "runuser", "-u", &name, "--"])
                .arg(exe)
                .args(["--raw-client", "hold", "attrd"])
                .env("PCMKR_T_COUNT", "300")
                .env("PCMKR_T_HOLD_MS", "3000");
            run_with_deadline(c, Duration::from_secs(60))
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let root = expect_value(&attrd_query(ctx)?)?;
    let inside = expect_value(&as_user(
        ctx,
        &member.name,
        "attrd_updater",
        &["-Q", "-n", "probe", "-N", "node1"],
    )?)?;
    let held = s.log_text();
    let flood = flood
        .join()
        .map_err(|_| "flood thread panicked".to_string())??;
    quiet(&s)?;
    let log_path = s.log.clone();
    finish(s)?;
    let log = std::fs::read_to_string(log_path).unwrap_or_default();
    let result = flood
        .stdout
        .lines()
        .rfind(|l| l.starts_with("RESULT"))
        .unwrap_or("")
        .to_string();
    // Every attempt refused with EACCES at accept; none ever reached a handshake.
    if !result.contains("accepted=0 refused=300 codes={-13: 300}") {
        return Err(format!("flood: {result} {}", flood.stderr));
    }
    if held
        .lines()
        .any(|l| l.contains("connected") && l.contains("pcmkr-ipc-flood"))
    {
        return Err("an outsider was connected".into());
    }
    let refusals = log
        .lines()
        .filter(|l| l.contains("refusing a new attrd client") && l.contains("haclient"))
        .count();
    let suppressed = log
        .lines()
        .find(|l| l.contains("similar messages from local IPC clients suppressed"))
        .unwrap_or("")
        .trim()
        .to_string();
    if refusals == 0 || refusals > 40 {
        return Err(format!("{refusals} refusal lines logged for 300 attempts"));
    }
    Ok(format!(
        "outsider: {}; root during the flood: {root}; member: {inside}; {refusals} refusal lines \
         logged, then {suppressed}",
        result.trim_start_matches("RESULT ok ")
    ))
}

/// Per-uid share and root's reserve, each at N and N+1: 6 slots, 2 per user, 2 for root.
fn sc_uid_share_and_root_reserve(ctx: &Ctx) -> Result<String, String> {
    let users: Vec<TestUser> = (1..=3)
        .map(|i| TestUser::create(&format!("pcmkr-ipc-m{i}"), Some("haclient")))
        .collect::<Result<_, _>>()?;
    let s = TestServer::start(
        &ctx.ns,
        "uid_share",
        &[
            ("PCMKR_T_MAX_CLIENTS", "6".into()),
            ("PCMKR_T_PER_UID", "2".into()),
            ("PCMKR_T_ROOT_RESERVE", "2".into()),
        ],
    )?;
    // Each holder keeps what it got until every later step is done.
    let mut holders = Vec::new();
    let mut step = |user: Option<String>, count: usize, hold_ms: u64| {
        let (ns, exe) = (ctx.ns.name.clone(), std::env::current_exe());
        let h = std::thread::spawn(move || {
            let exe = exe.map_err(|e| e.to_string())?;
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", &ns]);
            if let Some(u) = &user {
                c.args(["runuser", "-u", u, "--"]);
            }
            c.arg(exe)
                .args(["--raw-client", "hold", "attrd"])
                .env("PCMKR_T_COUNT", count.to_string())
                .env("PCMKR_T_HOLD_MS", hold_ms.to_string());
            let out = run_with_deadline(c, Duration::from_secs(30))?;
            Ok::<String, String>(
                out.stdout
                    .lines()
                    .rfind(|l| l.starts_with("RESULT"))
                    .unwrap_or("")
                    .to_string(),
            )
        });
        // Let it connect before the next step counts on it.
        std::thread::sleep(Duration::from_millis(400));
        holders.push(h);
    };
    let m = |i: usize| Some(users[i].name.clone());
    step(m(0), 3, 3000); // m1: 2 accepted, the 3rd over its share
    step(m(1), 2, 2600); // m2: 2 accepted: 4 held = 6 - 2 reserved
    step(m(2), 1, 2200); // m3: refused, only root's slots are left
    step(None, 3, 1800); // root: 2 accepted, the 7th slot does not exist
    let results: Vec<String> = holders
        .into_iter()
        .map(|h| h.join().map_err(|_| "holder panicked".to_string())?)
        .collect::<Result<_, _>>()?;
    let after = expect_value(&attrd_query(ctx)?)?;
    quiet(&s)?;
    let log = s.log_text();
    finish(s)?;
    let want = [
        "accepted=2 refused=1 codes={-11: 1}",
        "accepted=2 refused=0",
        "accepted=0 refused=1 codes={-11: 1}",
        "accepted=2 refused=1 codes={-11: 1}",
    ];
    for (got, want) in results.iter().zip(want) {
        if !got.contains(want) {
            return Err(format!("{got}: wanted {want}; all: {results:?}"));
        }
    }
    for line in ["at most 2 per user", "kept for root", "at most 6"] {
        if !log.contains(line) {
            return Err(format!("no refusal naming {line:?}; log:\n{log}"));
        }
    }
    Ok(format!(
        "member 1: {}; member 2: {}; member 3: {}; root: {}; after all left: {after}",
        results[0].trim_start_matches("RESULT ok "),
        results[1].trim_start_matches("RESULT ok "),
        results[2].trim_start_matches("RESULT ok "),
        results[3].trim_start_matches("RESULT ok ")
    ))
}

/// Runs the raw client's `bomb` case as `user`, in a thread.
fn bomb_job(
    ctx: &Ctx,
    user: &str,
    kind: &str,
    count: usize,
) -> Result<std::thread::JoinHandle<Result<Output, String>>, String> {
    let (ns, user, kind) = (ctx.ns.name.clone(), user.to_string(), kind.to_string());
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    Ok(std::thread::spawn(move || {
        let mut c = std::process::Command::new("ip");
        c.args(["netns", "exec", &ns, "runuser", "-u", &user, "--"])
            .arg(exe)
            .args(["--raw-client", "bomb", "attrd"])
            .env("PCMKR_T_KIND", kind)
            .env("PCMKR_T_COUNT", count.to_string())
            .env("PCMKR_T_BYTES", (20usize << 20).to_string());
        run_with_deadline(c, Duration::from_secs(120))
    }))
}

fn bomb_results(
    jobs: Vec<std::thread::JoinHandle<Result<Output, String>>>,
) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    for j in jobs {
        let out = j.join().map_err(|_| "bomb thread panicked".to_string())??;
        let line = out
            .stdout
            .lines()
            .rfind(|l| l.starts_with("RESULT"))
            .unwrap_or("")
            .to_string();
        if !line.starts_with("RESULT ok") {
            return Err(format!("{line} {}", out.stderr));
        }
        done.push(line.trim_start_matches("RESULT ok ").to_string());
    }
    Ok(done)
}

/// bzip2 bombs from two haclient members, several clients at once: each bomb closes its
/// client alone, a root client's pings are answered all along (the loop latency while
/// messages inflate), then valid 20 MiB messages are delivered; memory stays bounded.
fn sc_bombs(ctx: &Ctx) -> Result<String, String> {
    let users: Vec<TestUser> = (1..=2)
        .map(|i| TestUser::create(&format!("pcmkr-ipc-b{i}"), Some("haclient")))
        .collect::<Result<_, _>>()?;
    let (u1, u2) = (users[0].name.as_str(), users[1].name.as_str());
    // The pings start once the bomb clients have built their datagrams.
    let ping_env = [
        ("PCMKR_T_DELAY_MS", "1000".to_string()),
        ("PCMKR_T_HOLD_MS", "3000".to_string()),
    ];
    // Phase 1, its own server: bombs (each inflates 20 MiB and a byte, then its client is
    // closed) and oversized claims (closed before anything is inflated).
    let s = TestServer::start(&ctx.ns, "bombs", &[])?;
    let jobs = vec![
        bomb_job(ctx, u1, "lie", 15)?,
        bomb_job(ctx, u1, "lie", 15)?,
        bomb_job(ctx, u2, "lie", 15)?,
        bomb_job(ctx, u2, "lie", 15)?,
        bomb_job(ctx, u2, "over", 50)?,
    ];
    let ping1 = raw_as(ctx, None, "ping", "attrd", &ping_env)?;
    let bombs = bomb_results(jobs)?;
    let after = expect_value(&attrd_query(ctx)?)?;
    let peak1 = peak_rss_kib(s.pid);
    let lag1 = loop_lag(finish_log(s)?);
    // Phase 2, a fresh server: valid 20 MiB messages inflated and delivered (the test server
    // echoes their length).
    let s = TestServer::start(&ctx.ns, "bombs-big", &[])?;
    let jobs = vec![bomb_job(ctx, u1, "big", 2)?, bomb_job(ctx, u2, "big", 2)?];
    let ping2 = raw_as(ctx, None, "ping", "attrd", &ping_env)?;
    let bigs = bomb_results(jobs)?;
    let peak2 = peak_rss_kib(s.pid);
    let lag2 = loop_lag(finish_log(s)?);
    // Between two slices of inflation the loop serves everyone: a few ms on a quiet machine
    // (generous here, for a loaded CI runner and a debug build).
    let lag1_ms: u64 = lag1
        .strip_prefix("loop lag max ")
        .and_then(|t| t.split(' ').next()?.parse().ok())
        .unwrap_or(u64::MAX);
    if lag1_ms > 250 {
        return Err(format!(
            "the loop stalled while bombs inflated: {lag1}; pings {ping1}"
        ));
    }
    // README's bound for the IPC server under bombs (the test server adds what a delivered
    // 20 MiB message costs it).
    let peak = peak1.max(peak2);
    if peak > 256 * 1024 {
        return Err(format!("peak RSS {peak} KiB, bound 256 MiB"));
    }
    Ok(format!(
        "{}\n    root pinging meanwhile: {ping1}; server: {lag1}, peak RSS {} MiB; after: {after}\n    {}\n    root pinging meanwhile: {ping2}; server: {lag2}, peak RSS {} MiB",
        bombs.join("\n    "),
        peak1 / 1024,
        bigs.join("\n    "),
        peak2 / 1024,
    ))
}

/// Stops a server like `finish` and returns its log.
fn finish_log(s: TestServer) -> Result<String, String> {
    quiet(&s)?;
    let path = s.log.clone();
    finish(s)?;
    Ok(std::fs::read_to_string(path).unwrap_or_default())
}

/// The test server's own measure of how late its 5 ms tick ever fired.
fn loop_lag(log: String) -> String {
    log.lines()
        .find_map(|l| {
            l.split("test server: ")
                .nth(1)
                .filter(|t| t.starts_with("loop lag"))
        })
        .unwrap_or("no loop lag line")
        .to_string()
}

/// What the real tools say when the proxy refuses a request it will not relay: the test
/// server refuses every request the way the proxy does (a CIB reply with the errno from
/// `proxy::cib_refusal`, any other client closed).
fn sc_tools_see_refusals(ctx: &Ctx) -> Result<String, String> {
    let mut seen = Vec::new();
    for (errno, cib_says) in [
        ("-90", "Message too long"),
        ("-11", "Resource temporarily unavailable"),
    ] {
        let s = TestServer::start(
            &ctx.ns,
            "tools_see_refusals",
            &[("PCMKR_T_REFUSE_MSG", errno.into())],
        )?;
        for (program, args, want) in [
            ("cibadmin", &["-Q"][..], cib_says),
            ("cibadmin", &["-Q", "-s"][..], cib_says),
            ("cibadmin", &["-M", "-X", "<nvpair/>"][..], cib_says),
            (
                "attrd_updater",
                &["-n", "pcmkr", "-U", "1"][..],
                "Transport endpoint is not connected",
            ),
        ] {
            let out = tool(ctx, program, args)?;
            let said = out.stderr.lines().next().unwrap_or("").trim().to_string();
            if out.code == Some(0) || !said.contains(want) {
                return Err(format!(
                    "{program} {args:?} after a {errno} refusal: exit {:?}, {said:?}",
                    out.code
                ));
            }
            seen.push(format!("{program} {}: {said}", args.join(" ")));
        }
        finish(s)?;
    }
    Ok(seen.join("; "))
}

/// A local user squats a name before the server starts: the server starts anyway, logs the
/// squatter's pid and uid, and serves the name once it is free.
fn sc_name_squatted(ctx: &Ctx) -> Result<String, String> {
    let outsider = TestUser::create("pcmkr-ipc-squat", None)?;
    let squat = {
        let (ns, name) = (ctx.ns.name.clone(), outsider.name.clone());
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        std::thread::spawn(move || {
            let mut c = std::process::Command::new("ip");
            c.args(["netns", "exec", &ns, "runuser", "-u", &name, "--"])
                .arg(exe)
                .args(["--raw-client", "squat", "attrd"])
                .env("PCMKR_T_HOLD_MS", "1500");
            run_with_deadline(c, Duration::from_secs(20))
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let s = TestServer::start(
        &ctx.ns,
        "name_squatted",
        &[("PCMKR_T_NAME_RETRY_MS", "300".into())],
    )?;
    let during = attrd_query(ctx)?;
    let out = squat
        .join()
        .map_err(|_| "squatter thread panicked".to_string())??;
    let squatter: u32 = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("SQUATTING "))
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("squatter did not start: {}", out.stdout))?;
    let start = Instant::now();
    let mut back = None;
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(v) = expect_value(&attrd_query(ctx)?) {
            back = Some(v);
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    quiet(&s)?;
    let log = s.log_text();
    finish(s)?;
    let uid = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines()
                .find(|l| l.starts_with(&format!("{}:", outsider.name)))
                .and_then(|l| l.split(':').nth(2).map(String::from))
        })
        .unwrap_or_default();
    let line = log
        .lines()
        .find(|l| l.contains("name attrd is taken by"))
        .unwrap_or("")
        .trim()
        .to_string();
    if !line.contains(&format!("pid {squatter} uid {uid}")) {
        return Err(format!(
            "no line naming the squatter (pid {squatter} uid {uid}):\n{log}"
        ));
    }
    if during.code == Some(0) {
        return Err("a tool was answered on the squatted name".into());
    }
    let Some(back) = back else {
        return Err(format!(
            "never served attrd after the squatter left:\n{log}"
        ));
    };
    Ok(format!(
        "server up while squatted: {line}; during: attrd_updater exit {:?}; {} ms after the \
         squatter left: {back}",
        during.code,
        start.elapsed().as_millis()
    ))
}

fn sc_name_taken(ctx: &Ctx) -> Result<String, String> {
    let a = TestServer::start(&ctx.ns, "taken-a", &[("PCMKR_T_SERVICES", "crmd".into())])?;
    let b = TestServer::start(
        &ctx.ns,
        "taken-b",
        &[("PCMKR_T_SERVICES", "attrd,crmd".into())],
    );
    let msg = match b {
        Ok(_) => return Err("second server published crmd too".into()),
        Err(e) => e,
    };
    finish(a)?;
    if !msg.contains("ipc name crmd is already published") {
        return Err(msg);
    }
    let line = msg.lines().next().unwrap_or("").to_string();
    Ok(line.chars().take(160).collect())
}

/// Filesystem listeners, as with /etc/libqb/force-filesystem-sockets: run in a private mount
/// namespace with an overlay on /etc holding the flag, so the host is not touched.
fn sc_filesystem_sockets(ctx: &Ctx) -> Result<String, String> {
    if !have("unshare") {
        return Err("unshare not found".into());
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // Outside /tmp, which the script replaces with a bind mount (the target directory may live
    // under /tmp, as CI's can).
    let dir = std::path::PathBuf::from(format!("/var/tmp/pcmkr-ipc-fsmode-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for d in ["upper", "work", "tmp"] {
        std::fs::create_dir_all(dir.join(d)).map_err(|e| e.to_string())?;
    }
    // The test binary itself may live under /tmp too: run a copy.
    let exe = {
        let copy = dir.join("server");
        std::fs::copy(&exe, &copy).map_err(|e| e.to_string())?;
        copy
    };
    // The server stops when its stdin (a fifo we hold open on fd 3) closes.
    let script = format!(
        r#"set -e
mount --make-rprivate /
mount -t overlay overlay -o lowerdir=/etc,upperdir={d}/upper,workdir={d}/work /etc
mkdir -p /etc/libqb && touch /etc/libqb/force-filesystem-sockets
mount --bind {d}/tmp /tmp
mkfifo {d}/stop
exec 3<>{d}/stop
{exe} --server-mode <{d}/stop 3>&- >{d}/server.out 2>{d}/server.log &
server=$!
for i in $(seq 1 100); do grep -q READY {d}/server.out 2>/dev/null && break; sleep 0.05; done
ls -l /tmp/attrd
attrd_updater -Q -n probe -N node1
exec 3>&-
wait $server
test ! -e /tmp/attrd && echo "socket file removed at shutdown"
"#,
        d = dir.display(),
        exe = exe.display()
    );
    let mut c = ctx.ns.cmd("unshare");
    c.args(["-m", "sh", "-c", &script]);
    let out = run_with_deadline(c, Duration::from_secs(20))?;
    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    if out.code != Some(0) || !out.stdout.contains("42-from-rust") {
        return Err(format!(
            "exit {:?}: {} {}; server log:\n{log}",
            out.code, out.stdout, out.stderr
        ));
    }
    if !out.stdout.contains("socket file removed") {
        return Err(format!("socket file left behind: {}", out.stdout));
    }
    let ls = out.stdout.lines().next().unwrap_or("").to_string();
    Ok(format!(
        "listener {ls}; attrd_updater answered; socket file removed at shutdown"
    ))
}

fn prerequisites() -> Option<String> {
    if pcmk_remoted_is_root() {
        for t in ["ip", "attrd_updater", "cibadmin", "runuser", "useradd"] {
            if !have(t) {
                return Some(format!("{t} not found"));
            }
        }
        None
    } else {
        Some("not running as root (network namespaces and test users need it)".into())
    }
}

fn pcmk_remoted_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

pub fn run(args: &[String]) -> i32 {
    let require = std::env::var("PCMKR_REQUIRE_INTEROP").as_deref() == Ok("1");
    if let Some(why) = prerequisites() {
        if require {
            println!("interop: FAILED: {why} (PCMKR_REQUIRE_INTEROP=1)");
            return 1;
        }
        println!("interop: skipped: {why}");
        return 0;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(e) => {
            println!("interop: FAILED: {e}");
            return 1;
        }
    };
    let ctx = Ctx {
        ns,
        probe: build_probe(),
    };
    let scenarios: &[(&str, Scenario, bool)] = &[
        ("attrd_query", sc_attrd_query, false),
        ("handshake_fields", sc_handshake_fields, false),
        ("cibadmin_small", sc_cibadmin_small, false),
        ("cibadmin_large", sc_cibadmin_large, false),
        ("events_and_large_request", sc_events, true),
        ("permissions", sc_permissions, false),
        ("refusal", sc_refusal, true),
        ("server_close", sc_server_close, true),
        ("malformed", sc_malformed, false),
        ("framing3_parts", sc_framing3, false),
        ("layouts_side_by_side", sc_layouts_side_by_side, false),
        ("fifty_clients", sc_fifty, false),
        ("connection_cap", sc_connection_cap, false),
        ("name_taken", sc_name_taken, false),
        ("name_squatted", sc_name_squatted, false),
        ("tools_see_refusals", sc_tools_see_refusals, false),
        ("outsider_flood", sc_outsider_flood, false),
        (
            "uid_share_and_root_reserve",
            sc_uid_share_and_root_reserve,
            false,
        ),
        ("bombs", sc_bombs, false),
        ("filesystem_sockets", sc_filesystem_sockets, false),
    ];
    let mut failed = 0;
    let mut ran = 0;
    for (name, f, needs_probe) in scenarios {
        if !filters.is_empty() && !filters.iter().any(|flt| name.contains(flt.as_str())) {
            continue;
        }
        if *needs_probe {
            if let Err(e) = &ctx.probe {
                if require {
                    println!("scenario {name} ... FAILED: C probe unavailable: {e}");
                    failed += 1;
                } else {
                    println!("scenario {name} ... skipped: C probe unavailable: {e}");
                }
                continue;
            }
        }
        ran += 1;
        let start = Instant::now();
        match f(&ctx) {
            Ok(d) => println!(
                "scenario {name} ... ok ({} ms)\n    {d}",
                start.elapsed().as_millis()
            ),
            Err(e) => {
                failed += 1;
                println!("scenario {name} ... FAILED\n    {e}");
            }
        }
    }
    println!("interop: {ran} run, {failed} failed");
    i32::from(failed > 0)
}
