//! The real `pcmk-remoted` binary running agents that misbehave: daemons that keep the pipes,
//! agents that hang, flood, crash, close stdout, ignore SIGTERM, vanish or cannot be executed,
//! recurring monitors and the bound on agents running at once.
//!
//! Each test builds a temporary OCF tree (and LSB directory) from `tests/fake-agents/`, starts
//! its own daemon on it, signs on as a cluster node does and checks the result the 2.1.5
//! daemon gives (executor-facts.md sections 1-3, 8, 9). Each also checks that nothing leaked:
//! no zombie child of the daemon, the daemon's descriptors back to their count, and no process
//! the test started still running (they carry a tag in their environment). Every wait is bounded.
// Tests may unwrap: a panic is a failed test (clippy.toml covers #[test] bodies only).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use pcmk_remoted::client::Client;
use pcmk_remoted::proto::names::{attr, msg_type, op, ATTRIBUTES, LRMD_CALLDATA, LRMD_COMMAND};
use pcmk_remoted::proto::names::{LRMD_NOTIFY, LRMD_RSC, PARAM};
use pcmk_remoted::proto::xml::Element;

use common::*;

/// The fake agents, in the source tree.
const FAKE_AGENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fake-agents");
/// The OCF provider directory the tests install agents under.
const PROVIDER: &str = "pcmkrtest";
/// `lrmd_callopt` on every exec: notify changes only (bit 4), as the controller sends for
/// recurring monitors.
const CALLOPT_CHANGES_ONLY: u32 = 4;
/// Execution statuses (protocol.md 10.2).
const DONE: i64 = 0;
const CANCELLED: i64 = 1;
const TIMED_OUT: i64 = 2;
const ERROR: i64 = 4;
const NOT_INSTALLED: i64 = 7;

/// Tests that measure time hold this shared; the one that pumps 2 GiB through a pipe holds it
/// exclusively, so it cannot steal the CPU from another test's deadline (2-core machines).
static TIMING: RwLock<()> = RwLock::new(());

fn timing_shared() -> RwLockReadGuard<'static, ()> {
    TIMING.read().unwrap_or_else(|e| e.into_inner())
}

fn timing_exclusive() -> RwLockWriteGuard<'static, ()> {
    TIMING.write().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------
// The rig: an agent tree, a daemon on it, a cluster-like client, and the leak checks.

/// One daemon with its own agent tree, signed on as a cluster node.
struct Rig {
    daemon: Daemon,
    tree: Scratch,
    client: Option<Client>,
    tag: String,
    idle_fds: usize,
    client_fds: usize,
    next_raw_id: u64,
    started: Instant,
}

impl Rig {
    /// A daemon with these `--limit` settings, on an empty tree.
    fn start(name: &str, limits: &[&str]) -> Rig {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "{}-{name}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let tree = Scratch::new(&format!("agents-{name}"));
        for dir in [
            format!("resource.d/{PROVIDER}"),
            String::from("lsb"),
            String::from("nagios"),
            String::from("secrets"),
            String::from("work"),
        ] {
            fs::create_dir_all(tree.path(&dir)).unwrap();
        }
        let path = |p: &str| tree.path(p).to_str().unwrap().to_string();
        let mut opts = Daemon::options()
            .env("PCMK_remoted_ocf_ra_path", &path("resource.d"))
            .env("PCMK_remoted_ocf_root", tree.dir.to_str().unwrap())
            .env("PCMK_remoted_lsb_dir", &path("lsb"))
            .env("PCMK_remoted_nagios_dir", &path("nagios"))
            .env("PCMK_remoted_secrets_dir", &path("secrets"))
            .env("PCMK_debug", "yes")
            .env("PCMKRTEST_DIR", &path("work"))
            .env("PCMKRTEST_TAG", &tag);
        for l in limits {
            opts = opts.limit(l);
        }
        let daemon = opts.start();
        let idle_fds = daemon.idle_fd_count();
        let client = run(
            STEP,
            "sign-on",
            sign_on(
                daemon.addr,
                &daemon.key,
                "pacemaker-remote-127.0.0.1:3121",
                true,
            ),
        );
        poll_until(STEP, || (daemon.socket_count() == 2).then_some(()))
            .unwrap_or_else(|| panic!("sockets after sign-on: {:?}", daemon.fd_list()));
        let client_fds = daemon.fd_count();
        Rig {
            daemon,
            tree,
            client: Some(client),
            tag,
            idle_fds,
            client_fds,
            next_raw_id: 1_000_000,
            started: Instant::now(),
        }
    }

    /// Where agents leave their notes (`$PCMKRTEST_DIR`).
    fn work(&self, name: &str) -> PathBuf {
        self.tree.path("work").join(name)
    }

    /// Copies fake agent `source` into the OCF tree as `name` with `mode`.
    fn install_ocf(&self, source: &str, name: &str, mode: u32) -> PathBuf {
        self.install(
            source,
            &self.tree.path(&format!("resource.d/{PROVIDER}")),
            name,
            mode,
        )
    }

    /// Copies fake agent `source` into the LSB directory as `name`, executable.
    fn install_lsb(&self, source: &str, name: &str) -> PathBuf {
        self.install(source, &self.tree.path("lsb"), name, 0o755)
    }

    fn install(&self, source: &str, dir: &Path, name: &str, mode: u32) -> PathBuf {
        let to = dir.join(name);
        fs::copy(Path::new(FAKE_AGENTS).join(source), &to).unwrap();
        fs::set_permissions(&to, fs::Permissions::from_mode(mode)).unwrap();
        to
    }

    fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("client is open")
    }

    /// A request through the client's own id sequence; its reply.
    fn request(&mut self, el: Element) -> Element {
        let what = el.attr(attr::OP).unwrap_or("request").to_string();
        let client = self.client();
        run(STEP, &what, client.request(el)).unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// A request whose reply we read in wire order: the reply and every message before it.
    fn request_in_order(&mut self, el: Element) -> (Element, Vec<Element>) {
        self.next_raw_id += 1;
        let id = self.next_raw_id;
        let client = self.client.as_mut().expect("client is open");
        run(STEP, "ordered request", async {
            client.send(&as_request(el, id)).await.expect("send");
            let id = id.to_string();
            let mut before = Vec::new();
            for _ in 0..1000 {
                let m = client.receive().await.expect("receive");
                if m.attr(attr::REMOTE_MSG_TYPE) == Some(msg_type::REPLY)
                    && m.attr(attr::REMOTE_MSG_ID) == Some(id.as_str())
                {
                    return (m, before);
                }
                before.push(m);
            }
            panic!("no reply among 1000 messages");
        })
    }

    /// Registers `id` as `class[:provider]:agent`; the reply must be 0.
    fn register_as(&mut self, id: &str, class: &str, provider: Option<&str>, agent: &str) {
        let mut rsc = Element::new(LRMD_RSC)
            .with_attr(attr::RSC_ID, id)
            .with_attr(attr::CLASS, class);
        if let Some(p) = provider {
            rsc.set_attr(attr::PROVIDER, p);
        }
        rsc.set_attr(attr::TYPE, agent);
        let reply = self.request(command(op::RSC_REGISTER, 0, rsc));
        assert_eq!(
            reply.attr(attr::RC),
            Some("0"),
            "register {id}: {}",
            show(&reply)
        );
    }

    /// Registers `id` as `ocf:pcmkrtest:agent`.
    fn register(&mut self, id: &str, agent: &str) {
        self.register_as(id, "ocf", Some(PROVIDER), agent);
    }

    /// Sends `lrmd_rsc_exec` with callopt 4; returns the call id from the reply.
    fn exec(
        &mut self,
        id: &str,
        action: &str,
        interval_ms: u32,
        timeout_ms: u32,
        params: &[(&str, &str)],
    ) -> String {
        let reply = self.request(exec_request(id, action, interval_ms, timeout_ms, params));
        let call = reply.attr(attr::RC).unwrap_or("").to_string();
        assert!(
            call.parse::<i64>().is_ok_and(|c| c > 0),
            "exec {id} {action}: reply {}",
            show(&reply)
        );
        call
    }

    /// The exec notifications of `calls`, waiting up to `limit` for all of them; other
    /// notifications are skipped.
    fn results(&mut self, calls: &[&str], limit: Duration) -> HashMap<String, Element> {
        let client = self.client.as_mut().expect("client is open");
        let mut got = HashMap::new();
        let start = Instant::now();
        while got.len() < calls.len() {
            let left = limit.saturating_sub(start.elapsed());
            let note = match async_io::block_on(with_deadline(left, client.next_notification())) {
                Some(Ok(n)) => n,
                Some(Err(e)) => panic!("connection failed waiting for {calls:?}: {e}"),
                None => panic!(
                    "no result for calls {:?} within {limit:?} (got {:?})",
                    calls,
                    got.keys().collect::<Vec<_>>()
                ),
            };
            if let Some(call) = exec_call(&note) {
                if calls.contains(&call) {
                    got.insert(call.to_string(), note);
                }
            }
        }
        got
    }

    /// The exec notification of `call`.
    fn result(&mut self, call: &str, limit: Duration) -> Element {
        self.results(&[call], limit).remove(call).unwrap()
    }

    /// Runs one action and returns its result and the wall time from request to result.
    fn run_action(
        &mut self,
        id: &str,
        action: &str,
        timeout_ms: u32,
        params: &[(&str, &str)],
        limit: Duration,
    ) -> (Element, Duration) {
        let t0 = Instant::now();
        let call = self.exec(id, action, 0, timeout_ms, params);
        let note = self.result(&call, limit);
        (note, t0.elapsed())
    }

    /// The daemon holds no descriptor beyond its own and our client's connection.
    fn assert_fds_settled(&self) {
        let settled = poll_until(Duration::from_secs(1), || {
            (self.daemon.fd_count() == self.client_fds).then_some(())
        });
        assert!(
            settled.is_some(),
            "daemon holds {} descriptors, {} expected: {:?}",
            self.daemon.fd_count(),
            self.client_fds,
            self.daemon.fd_list()
        );
    }

    /// Processes the test started (through the daemon) that still run, daemon excluded.
    fn leftovers(&self) -> Vec<u32> {
        tagged_processes(&self.tag, self.daemon.pid())
    }

    /// The leak checks every test ends with. `survivors` are processes the test expects to
    /// outlive their agent (they are killed here); any other one fails the test, after it too
    /// has been killed.
    fn finish(mut self, survivors: &[u32]) {
        let daemon = self.daemon.pid();
        let zombies = poll_until(Duration::from_secs(1), || {
            let z = zombie_children(daemon);
            z.is_empty().then_some(())
        });
        assert!(
            zombies.is_some(),
            "zombie children of the daemon: {:?}",
            zombie_children(daemon)
        );
        // A process killed with its group may take a moment to finish exiting on a busy
        // machine; one still there after a second was never killed.
        let _ = poll_until(Duration::from_secs(1), || {
            let left = self.leftovers();
            left.iter().all(|p| survivors.contains(p)).then_some(())
        });
        let left = self.leftovers();
        for pid in &left {
            kill(*pid);
        }
        let unexpected: Vec<String> = left
            .iter()
            .filter(|p| !survivors.contains(p))
            .map(|p| describe(*p))
            .collect();
        assert!(
            unexpected.is_empty(),
            "agent processes left running (now killed): {unexpected:?}"
        );
        self.assert_fds_settled();
        let client = self.client.take().expect("client is open");
        run(STEP, "close", client.close()).unwrap();
        let back = poll_until(STEP, || {
            (self.daemon.fd_count() == self.idle_fds).then_some(())
        });
        assert!(
            back.is_some(),
            "daemon descriptors {} after the client left, {} before: {:?}",
            self.daemon.fd_count(),
            self.idle_fds,
            self.daemon.fd_list()
        );
        eprintln!("rig {}: {:?}", self.tag, self.started.elapsed());
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        // A failed test still must not leave agents behind: kill what carries our tag.
        for pid in self.leftovers() {
            kill(pid);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Requests and results.

/// `<lrmd_command lrmd_op=op lrmd_callopt=..><lrmd_calldata>data</lrmd_calldata></lrmd_command>`,
/// as liblrmd builds it.
fn command(name: &str, callopt: u32, data: Element) -> Element {
    Element::new(LRMD_COMMAND)
        .with_attr(attr::T, "lrmd")
        .with_attr(attr::OP, name)
        .with_attr(attr::CALL_OPTIONS, callopt)
        .with_child(Element::new(LRMD_CALLDATA).with_child(data))
}

fn exec_request(
    id: &str,
    action: &str,
    interval_ms: u32,
    timeout_ms: u32,
    params: &[(&str, &str)],
) -> Element {
    let mut attrs = Element::new(ATTRIBUTES);
    for (name, value) in params {
        // Names starting with a digit cannot be XML attribute names (protocol.md 6.8).
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            attrs.push(
                Element::new(PARAM)
                    .with_attr("name", name)
                    .with_attr("value", value),
            );
        } else {
            attrs.set_attr(name, value);
        }
    }
    let rsc = Element::new(LRMD_RSC)
        .with_attr(attr::ORIGIN, "lrmd_api_exec")
        .with_attr(attr::RSC_ID, id)
        .with_attr(attr::RSC_ACTION, action)
        .with_attr(attr::RSC_INTERVAL, interval_ms)
        .with_attr(attr::TIMEOUT, timeout_ms)
        .with_attr(attr::RSC_START_DELAY, 0)
        .with_child(attrs);
    command(op::RSC_EXEC, CALLOPT_CHANGES_ONLY, rsc)
}

fn cancel_request(id: &str, action: &str, interval_ms: u32) -> Element {
    let rsc = Element::new(LRMD_RSC)
        .with_attr(attr::RSC_ID, id)
        .with_attr(attr::RSC_ACTION, action)
        .with_attr(attr::RSC_INTERVAL, interval_ms);
    command(op::RSC_CANCEL, 0, rsc)
}

/// The call id of an exec notification.
fn exec_call(note: &Element) -> Option<&str> {
    (note.name == LRMD_NOTIFY && note.attr(attr::OP) == Some(op::RSC_EXEC))
        .then(|| note.attr(attr::CALL_ID))
        .flatten()
}

fn show(el: &Element) -> String {
    String::from_utf8_lossy(&xml_bytes(el)).into_owned()
}

fn num(note: &Element, name: &str) -> i64 {
    note.attr(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {name} in {}", show(note)))
}

/// Checks rc, status and exit reason (None: the attribute must be absent).
fn assert_result(note: &Element, rc: i64, status: i64, reason: Option<&str>) {
    assert_eq!(
        (
            num(note, attr::EXEC_RC),
            num(note, attr::EXEC_OP_STATUS),
            note.attr(attr::RSC_EXIT_REASON)
        ),
        (rc, status, reason),
        "result {}",
        show(note)
    );
}

// ---------------------------------------------------------------------------------------
// Processes, from /proc.

/// State letter and parent pid of `pid`, if it exists.
fn proc_state(pid: u32) -> Option<(char, u32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses; the fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Whether `pid` runs (exists and is not a zombie: orphans may stay unreaped here when the
/// init process does not reap).
fn running(pid: u32) -> bool {
    proc_state(pid).is_some_and(|(s, _)| s != 'Z')
}

fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

fn zombie_children(parent: u32) -> Vec<u32> {
    all_pids()
        .into_iter()
        .filter(|p| proc_state(*p) == Some(('Z', parent)))
        .collect()
}

/// Running processes whose environment holds `PCMKRTEST_TAG=<tag>`, except `except`.
fn tagged_processes(tag: &str, except: u32) -> Vec<u32> {
    let needle = format!("PCMKRTEST_TAG={tag}");
    all_pids()
        .into_iter()
        .filter(|p| *p != except && running(*p))
        .filter(|p| {
            fs::read(format!("/proc/{p}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .collect()
}

fn describe(pid: u32) -> String {
    let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd: Vec<String> = cmd
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect();
    format!("{pid} {}", cmd.join(" "))
}

/// SIGKILL to one process we started.
fn kill(pid: u32) {
    let _ = pcmk_remoted::sys::process::kill_one(pid, libc::SIGKILL);
}

/// A pid an agent wrote to `path`, waiting for the file.
fn read_pid(path: &Path) -> u32 {
    poll_until(STEP, || fs::read_to_string(path).ok()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid in {}", path.display()))
}

/// Waits until `pid` no longer runs.
fn assert_gone(pid: u32, what: &str) {
    let gone = poll_until(Duration::from_secs(1), || (!running(pid)).then_some(()));
    assert!(gone.is_some(), "{what} still runs: {}", describe(pid));
}

fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1-3: agents that leave processes behind, or never finish

#[test]
fn agent_that_forks_a_daemon_is_reported_when_it_exits() {
    let _t = timing_shared();
    let mut rig = Rig::start("forks", &[]);
    rig.install_ocf("forks-daemon", "forks-daemon", 0o755);
    rig.register("r1", "forks-daemon");
    // A daemon that waited for EOF would time out at 5 s instead.
    let (note, took) = rig.run_action("r1", "start", 5000, &[], Duration::from_secs(8));
    let grandchild = read_pid(&rig.work("grandchild.pid"));
    assert_result(&note, 0, DONE, None);
    assert!(took < Duration::from_secs(1), "result after {took:?}");
    assert!(num(&note, attr::EXEC_TIME) < 500, "{}", show(&note));
    // What the agent wrote before it exited is kept; the daemon's pipes are closed although
    // the grandchild still holds the other ends.
    assert_eq!(
        note.attr(attr::RSC_OUTPUT),
        Some(format!("forked {grandchild}\\n").as_str())
    );
    assert!(
        running(grandchild),
        "the backgrounded sleep should still run"
    );
    rig.assert_fds_settled();
    rig.finish(&[grandchild]);
}

#[test]
fn timeout_kills_the_agents_whole_process_group() {
    let _t = timing_shared();
    let mut rig = Rig::start("timeout", &[]);
    rig.install_ocf("hangs", "hangs", 0o755);
    rig.register("r1", "hangs");
    let (note, took) = rig.run_action("r1", "start", 1000, &[], Duration::from_secs(4));
    assert_result(
        &note,
        1,
        TIMED_OUT,
        Some("Resource agent did not complete within 1000ms"),
    );
    let exec = num(&note, attr::EXEC_TIME);
    assert!((1000..1300).contains(&exec), "exec time {exec}");
    assert!(took < Duration::from_millis(1600), "result after {took:?}");
    // Output read before the kill is sent with the timeout (fact 18).
    assert_eq!(note.attr(attr::RSC_OUTPUT), Some("waiting\\n"));
    let agent = read_pid(&rig.work("agent.pid"));
    let child = read_pid(&rig.work("child.pid"));
    assert_gone(agent, "the agent");
    assert_gone(child, "the agent's own child");
    rig.finish(&[]);
}

#[test]
fn timeout_with_on_fail_block_kills_only_the_agent() {
    let _t = timing_shared();
    let mut rig = Rig::start("block", &[]);
    rig.install_ocf("hangs", "hangs", 0o755);
    rig.register("r1", "hangs");
    let params = [("CRM_meta_on_fail", "block"), ("CRM_meta_timeout", "1000")];
    let (note, _) = rig.run_action("r1", "start", 1000, &params, Duration::from_secs(4));
    assert_result(
        &note,
        1,
        TIMED_OUT,
        Some("Resource agent did not complete within 1000ms"),
    );
    let agent = read_pid(&rig.work("agent.pid"));
    let child = read_pid(&rig.work("child.pid"));
    assert_gone(agent, "the agent");
    // Only `kill(pid)`, not the group (fact 50): the agent's child lives on.
    std::thread::sleep(Duration::from_millis(200));
    assert!(running(child), "the agent's child was killed too");
    rig.finish(&[child]);
}

#[test]
fn agent_that_ignores_sigterm_is_killed_at_its_timeout() {
    let _t = timing_shared();
    let mut rig = Rig::start("term", &[]);
    rig.install_ocf("ignores-term", "ignores-term", 0o755);
    rig.register("r1", "ignores-term");
    let (note, took) = rig.run_action("r1", "monitor", 500, &[], Duration::from_secs(3));
    assert_result(
        &note,
        1,
        TIMED_OUT,
        Some("Resource agent did not complete within 500ms"),
    );
    // SIGKILL at the deadline, no SIGTERM grace period (facts 49, 11.4).
    let exec = num(&note, attr::EXEC_TIME);
    assert!((500..800).contains(&exec), "exec time {exec}");
    assert!(took < Duration::from_millis(1100), "result after {took:?}");
    assert_gone(read_pid(&rig.work("agent.pid")), "the agent");
    rig.finish(&[]);
}

// ---------------------------------------------------------------------------------------
// 4-5: output that is huge, or closed early

#[test]
fn agent_writing_gigabytes_completes_with_bounded_output_and_memory() {
    let _t = timing_exclusive();
    let mut rig = Rig::start("flood", &["max_output_bytes=65536"]);
    rig.install_ocf("floods", "floods", 0o755);
    rig.register("r1", "floods");
    let rss_before = rig.daemon.status_kb("VmRSS");
    let (note, took) = rig.run_action("r1", "start", 30_000, &[], Duration::from_secs(35));
    assert_result(&note, 0, DONE, None);
    // The 2.1.5 escaping sends each newline as the two characters `\n`; undo that to count bytes.
    let seen = note.attr(attr::RSC_OUTPUT).expect("output");
    let output = seen.replace("\\n", "\n");
    assert!(output.len() <= 65536, "output of {} bytes", output.len());
    assert!(output.len() >= 60_000, "output of {} bytes", output.len());
    let pattern = "0123456789abcdef\n".repeat(65536 / 17 + 1);
    assert!(
        pattern.starts_with(&output),
        "output is not the first bytes written"
    );
    let hwm = rig.daemon.status_kb("VmHWM");
    assert!(
        hwm < 64 * 1024,
        "daemon peak RSS {hwm} kB (was {rss_before} kB)"
    );
    eprintln!("2 GiB through the daemon in {took:?}; peak RSS {hwm} kB, {rss_before} kB before");
    rig.finish(&[]);
}

#[test]
fn agent_that_closes_stdout_early_is_waited_for() {
    let _t = timing_shared();
    let mut rig = Rig::start("closes", &[]);
    rig.install_ocf("closes-stdout", "closes-stdout", 0o755);
    rig.register("r1", "closes-stdout");
    let (note, _) = rig.run_action("r1", "start", 5000, &[], Duration::from_secs(6));
    assert_result(&note, 0, DONE, None);
    // EOF on stdout is not the end: the result comes at the exit, 0.3 s later.
    let exec = num(&note, attr::EXEC_TIME);
    assert!((300..1000).contains(&exec), "exec time {exec}");
    assert_eq!(note.attr(attr::RSC_OUTPUT), Some("before close\\n"));
    rig.finish(&[]);
}

// ---------------------------------------------------------------------------------------
// 7-9: agents that cannot run, vanish, or crash

#[test]
fn agent_that_is_not_executable_reports_what_the_original_child_writes() {
    let _t = timing_shared();
    let mut rig = Rig::start("noexec", &[]);
    rig.install_ocf("not-executable", "not-executable", 0o644);
    rig.register("r1", "not-executable");
    let (note, _) = rig.run_action("r1", "start", 5000, &[], STEP);
    assert_result(
        &note,
        4,
        DONE,
        Some("Child process was unable to execute file"),
    );
    // The original's child writes this line to stderr (fact 5); on the wire its newline is
    // the two characters `\n` (2.1.5 escaping), which is what our client reads back.
    assert_eq!(
        note.attr(attr::RSC_OUTPUT),
        Some("ocf-exit-reason:Child process was unable to execute file\\n")
    );
    assert!(!rig.work("not-executable.ran").exists(), "the agent ran");
    rig.finish(&[]);
}

#[test]
fn agent_deleted_while_running_succeeds_then_is_not_installed() {
    let _t = timing_shared();
    let mut rig = Rig::start("deleted", &[]);
    let path = rig.install_ocf("self-deleting", "self-deleting", 0o755);
    rig.register("r1", "self-deleting");
    let (note, _) = rig.run_action("r1", "start", 5000, &[], STEP);
    assert_result(&note, 0, DONE, None);
    assert!(!path.exists(), "the agent did not delete itself");
    // Looked up again for every run: now missing, named by its type only (facts 4, 59).
    let (note, _) = rig.run_action("r1", "monitor", 5000, &[], STEP);
    assert_result(
        &note,
        5,
        NOT_INSTALLED,
        Some("self-deleting: No such file or directory"),
    );
    rig.finish(&[]);
}

#[test]
fn agent_killed_by_its_own_signal_reports_the_signal() {
    let _t = timing_shared();
    let mut rig = Rig::start("segv", &[]);
    rig.install_ocf("segfaults", "segfaults", 0o755);
    rig.register("r1", "segfaults");
    let (note, _) = rig.run_action("r1", "monitor", 5000, &[], STEP);
    assert_result(
        &note,
        1,
        ERROR,
        Some("Resource agent interrupted by Segmentation fault signal"),
    );
    assert_eq!(note.attr(attr::RSC_OUTPUT), Some("about to crash\\n"));
    rig.finish(&[]);
}

// ---------------------------------------------------------------------------------------
// 10-11: what the daemon reads from agents, and what it gives them

#[test]
fn output_and_exit_reason_follow_the_originals_rules() {
    let _t = timing_shared();
    let mut rig = Rig::start("says", &[]);
    rig.install_ocf("says", "says", 0o755);
    rig.register("r1", "says");
    let mut say = |mode: &str, code: &str| {
        let params = [("mode", mode), ("code", code)];
        rig.run_action("r1", "monitor", 5000, &params, STEP).0
    };
    // stderr wins over stdout (fact 18); nothing is trimmed.
    let note = say("both", "0");
    assert_result(&note, 0, DONE, None);
    assert_eq!(note.attr(attr::RSC_OUTPUT), Some("to stderr\\n"));
    let note = say("stdout", "7");
    assert_result(&note, 7, DONE, None);
    assert_eq!(note.attr(attr::RSC_OUTPUT), Some("only stdout\\n"));
    // The last `ocf-exit-reason:` wins, even mid-line, up to the end of its line (fact 17).
    let note = say("last", "1");
    assert_result(&note, 1, DONE, Some("second"));
    assert_eq!(
        note.attr(attr::RSC_OUTPUT),
        Some("ocf-exit-reason:first\\nnoise ocf-exit-reason:second\\ntrailing line\\n")
    );
    // An empty last one means no reason at all, not the earlier one.
    let note = say("empty-last", "6");
    assert_result(&note, 6, DONE, None);
    // 200 bytes are cut to 128.
    let note = say("long", "2");
    assert_result(&note, 2, DONE, Some("r".repeat(128).as_str()));
    // An exit code outside the OCF set is a generic error.
    let note = say("none", "42");
    assert_result(&note, 1, DONE, None);
    assert_eq!(note.attr(attr::RSC_OUTPUT), None);
    rig.finish(&[]);
}

#[test]
fn operation_ends_and_agent_stderr_are_logged_as_the_original_logs_them() {
    let _t = timing_shared();
    let mut rig = Rig::start("says", &[]);
    rig.install_ocf("says", "says", 0o755);
    rig.register("r1", "says");
    let params = [("mode", "hostile"), ("code", "1")];
    let note = rig.run_action("r1", "start", 5000, &params, STEP).0;
    assert_result(&note, 1, DONE, None);
    let call = num(&note, attr::CALL_ID);
    let log = rig
        .daemon
        .wait_log(&format!("r1 start (call {call}, PID "), STEP);
    let line = log
        .lines()
        .find(|l| l.contains(&format!("r1 start (call {call}, PID ")))
        .unwrap();
    assert!(
        line.contains(") exited with status 1 (execution time "),
        "{line}"
    );
    // The agent's stderr: one line per line, prefixed as the original does, escaped.
    let pid = line
        .split("PID ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let prefix = format!("r1_start_0[{pid}] error output [ ");
    let log = rig.daemon.log();
    assert!(log.contains(&format!("{prefix}plain complaint ]")), "{log}");
    let hostile = log
        .lines()
        .find(|l| l.contains(&format!("{prefix}clear")))
        .unwrap();
    assert!(!hostile.contains('\u{1b}'), "{hostile}");
    rig.finish(&[]);
}

#[test]
fn agent_gets_the_originals_environment_and_process_state() {
    let _t = timing_shared();
    let mut rig = Rig::start("env", &[]);
    let program = rig.install_ocf("env-dump", "env-dump", 0o755);
    rig.register("env1", "env-dump");
    let params = [
        ("alpha", "one"),
        ("with_space", "two words"),
        ("CRM_meta_timeout", "5000"),
        ("OCF_CHECK_LEVEL", "10"),
        ("1st", "digit"),
    ];
    let (note, _) = rig.run_action("env1", "monitor", 5000, &params, STEP);
    assert_result(&note, 0, DONE, None);
    let dir = rig.work("env");
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap();

    let environ = fs::read(dir.join("environ")).unwrap();
    let env: HashMap<String, String> = environ
        .split(|b| *b == 0)
        .filter_map(|v| {
            let v = String::from_utf8_lossy(v);
            let (k, val) = v.split_once('=')?;
            Some((k.to_string(), val.to_string()))
        })
        .collect();
    let root = rig.tree.dir.to_str().unwrap().to_string();
    let expected = [
        ("OCF_ROOT", root.as_str()),
        ("OCF_RA_VERSION_MAJOR", "1"),
        ("OCF_RA_VERSION_MINOR", "1"),
        ("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:"),
        ("OCF_RESOURCE_INSTANCE", "env1"),
        ("OCF_RESOURCE_TYPE", "env-dump"),
        ("OCF_RESOURCE_PROVIDER", PROVIDER),
        ("OCF_RESKEY_alpha", "one"),
        ("OCF_RESKEY_with_space", "two words"),
        ("OCF_RESKEY_CRM_meta_timeout", "5000"),
        ("OCF_RESKEY_1st", "digit"),
        ("OCF_CHECK_LEVEL", "10"),
        ("PCMK_service", "pacemaker-remoted"),
    ];
    for (k, v) in expected {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "variable {k}");
    }
    // OCF_CHECK_LEVEL has no prefixed copy (fact 53).
    assert_eq!(env.get("OCF_RESKEY_OCF_CHECK_LEVEL"), None);
    let ocf: Vec<&String> = env.keys().filter(|k| k.starts_with("OCF_")).collect();
    assert_eq!(ocf.len(), expected.len() - 1, "OCF variables: {ocf:?}");

    // argv = [path, action]; OCF has no monitor→status mapping.
    assert_eq!(
        read("argv"),
        format!("{}\nmonitor\n", program.display()),
        "argv"
    );
    // cwd and umask as the original's logging set-up leaves them (fact 52).
    if Path::new("/var/lib/pacemaker/cores").is_dir() {
        assert_eq!(read("cwd").trim(), "/var/lib/pacemaker/cores");
    }
    if is_root() {
        assert_eq!(read("umask").trim(), "0026");
    }
    // Only stdin, stdout and stderr: nothing of the daemon's leaks into the agent.
    let fds = read("fds");
    let extra: Vec<&str> = fds
        .lines()
        .filter(|l| l.contains(" -> "))
        .filter(|l| {
            let (left, target) = l.split_once(" -> ").unwrap();
            let fd: u32 = left.rsplit(' ').next().unwrap().parse().unwrap();
            // ls's own handle on the directory it lists is not inherited.
            fd > 2 && !(target.starts_with("/proc/") && target.ends_with("/fd"))
        })
        .collect();
    assert!(
        extra.is_empty(),
        "descriptors above 2 in the agent: {extra:?}"
    );
    assert!(
        fds.lines().any(|l| l.contains(" 0 -> /dev/null")),
        "stdin is not /dev/null: {fds}"
    );
    // Its own process group.
    let stat = read("stat");
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    let pid: &str = stat.split_whitespace().next().unwrap();
    assert_eq!(fields[2], pid, "pgid != pid in {stat}");
    // SIGPIPE (13) at its default, and no signal blocked.
    let status = read("status");
    let mask = |field: &str| {
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field}"));
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    assert_eq!(
        mask("SigIgn:") & (1 << (13 - 1)),
        0,
        "SIGPIPE ignored: {status}"
    );
    assert_eq!(mask("SigBlk:"), 0, "signals blocked: {status}");
    rig.finish(&[]);
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------
// 12: LSB

#[test]
fn lsb_scripts_map_status_and_report_missing_scripts_by_path() {
    let _t = timing_shared();
    let mut rig = Rig::start("lsb", &[]);
    rig.install_lsb("lsb-script", "pcmkrtest-lsb");
    rig.register_as("l1", "lsb", None, "pcmkrtest-lsb");
    // monitor runs as `status`; status 3 ("not running") maps to 7 (fact 14).
    let (note, _) = rig.run_action("l1", "monitor", 5000, &[], STEP);
    assert_result(&note, 7, DONE, None);
    // Other actions pass 0..7 through: start 3 is "unimplemented feature".
    let (note, _) = rig.run_action("l1", "start", 5000, &[("ignored", "x")], STEP);
    assert_result(&note, 3, DONE, None);
    // The script saw `status` then `start`, and no OCF variable (fact 54).
    assert_eq!(lines(&rig.work("lsb.log")), ["status 0", "start 0"]);

    let missing = rig.tree.path("lsb").join("pcmkrtest-nosuch");
    let reason = format!("{}: No such file or directory", missing.display());
    rig.register_as("l2", "lsb", None, "pcmkrtest-nosuch");
    for action in ["monitor", "start"] {
        let (note, _) = rig.run_action("l2", action, 5000, &[], STEP);
        assert_result(&note, 5, NOT_INSTALLED, Some(reason.as_str()));
    }
    rig.finish(&[]);
}

// ---------------------------------------------------------------------------------------
// Names that would leave the agent directories

#[test]
fn names_that_leave_the_agent_directories_run_nothing() {
    let _t = timing_shared();
    let mut rig = Rig::start("traversal", &[]);
    let tree = rig.tree.dir.clone();
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    // The marker, where only a name that walks out could reach it: beside the agent
    // directories, in a directory anyone can write to (linked from inside), and hidden.
    for dir in ["outside", "open"] {
        fs::create_dir_all(tree.join(dir)).unwrap();
    }
    for dir in [tree.join("outside"), tree.join("open")] {
        rig.install("marker", &dir, "marker", 0o755);
    }
    mode(&tree.join("open"), 0o777);
    std::os::unix::fs::symlink(tree.join("open"), tree.join("resource.d/escape")).unwrap();
    rig.install_ocf("marker", ".marker", 0o755);
    // A valid CIB secret outside the secrets directory.
    fs::write(tree.join("outside/password"), "s3cr3t\n").unwrap();
    fs::write(
        tree.join("outside/password.sign"),
        "a4d80eac9ab26a4a2da04125bc2c096a\n",
    )
    .unwrap();
    let outside = tree.join("outside").display().to_string();
    let outside_marker = tree.join("outside/marker").display().to_string();
    let lsb = tree.join("lsb").display().to_string();

    let cases: Vec<(&str, &str, Option<&str>, &str, String)> = vec![
        (
            "abs-provider",
            "ocf",
            Some(&outside),
            "marker",
            "marker".into(),
        ),
        (
            "abs-type",
            "ocf",
            Some(PROVIDER),
            &outside_marker,
            outside_marker.clone(),
        ),
        (
            "dotdot-type",
            "ocf",
            Some(PROVIDER),
            "../../outside/marker",
            "../../outside/marker".into(),
        ),
        (
            "dotdot-provider",
            "ocf",
            Some(".."),
            "outside/marker",
            "outside/marker".into(),
        ),
        (
            "linked-dir",
            "ocf",
            Some("escape"),
            "marker",
            "marker".into(),
        ),
        ("hidden", "ocf", Some(PROVIDER), ".marker", ".marker".into()),
        (
            "lsb-abs",
            "lsb",
            None,
            &outside_marker,
            format!("{lsb}/{outside_marker}"),
        ),
        (
            "lsb-dotdot",
            "lsb",
            None,
            "../outside/marker",
            format!("{lsb}/../outside/marker"),
        ),
        (
            "nagios-dotdot",
            "nagios",
            None,
            "../outside/marker",
            "../outside/marker".into(),
        ),
    ];
    for (id, class, provider, agent, shown) in &cases {
        rig.register_as(id, class, *provider, agent);
        let (note, _) = rig.run_action(id, "start", 5000, &[], STEP);
        let reason = format!("{shown}: No such file or directory");
        assert_result(&note, 5, NOT_INSTALLED, Some(reason.as_str()));
    }
    // A resource id that would read a secret from outside the secrets directory: the start
    // fails as for a missing secret, and the (legitimate) agent does not run.
    rig.install_ocf("marker", "marker", 0o755);
    rig.register("../outside", "marker");
    let (note, _) = rig.run_action("../outside", "start", 5000, &[("password", "lrm://")], STEP);
    assert_result(&note, 2, DONE, Some("Unable to load CIB secrets"));
    assert!(
        !rig.work("marker-ran").exists(),
        "ran: {:?}",
        lines(&rig.work("marker-ran"))
    );
    // One log line for each refusal, naming the resource and why.
    let log = rig.daemon.log();
    for (id, ..) in &cases {
        assert!(
            log.lines()
                .any(|l| l.contains(&format!("rsc={id} ")) && l.contains("not run")),
            "no refusal logged for {id}:\n{log}"
        );
    }
    assert!(
        log.contains("open is writable by group or others"),
        "linked-dir refusal:\n{log}"
    );
    // The marker does leave its note when a request may reach it.
    rig.register("m1", "marker");
    let (note, _) = rig.run_action("m1", "start", 5000, &[], STEP);
    assert_result(&note, 0, DONE, None);
    let installed = tree.join(format!("resource.d/{PROVIDER}/marker"));
    assert_eq!(
        lines(&rig.work("marker-ran")),
        [format!("{} start", installed.display())]
    );
    rig.finish(&[]);
}

// ---------------------------------------------------------------------------------------
// 13: recurring monitors

/// Start times (ns) of the runs the `flip` agent logged.
fn runs(rig: &Rig) -> Vec<u128> {
    lines(&rig.work("runs.log"))
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn recurring_monitor_notifies_changes_only_and_cancels_before_the_reply() {
    let _t = timing_shared();
    let mut rig = Rig::start("recurring", &[]);
    rig.install_ocf("flip", "flip", 0o755);
    fs::write(rig.work("state"), "0").unwrap();
    rig.register("m1", "flip");
    let call = rig.exec("m1", "monitor", 300, 2000, &[]);
    let first = rig.result(&call, STEP);
    assert_result(&first, 0, DONE, None);
    assert_eq!(num(&first, attr::RSC_INTERVAL), 300);
    let first_runs = runs(&rig).len();

    // Same result every 300 ms: nothing is notified.
    let window = Instant::now();
    let quiet = run(
        Duration::from_secs(4),
        "quiet window",
        drain_notifications(rig.client(), Duration::from_secs(2), 10),
    );
    assert!(
        quiet.is_empty(),
        "notified without a change: {:?}",
        quiet.iter().map(show).collect::<Vec<_>>()
    );
    let window = window.elapsed();
    let during = runs(&rig).len() - first_runs;
    let expected = window.as_millis() as usize / 300;
    assert!(
        (expected.saturating_sub(2)..=expected + 1).contains(&during),
        "{during} runs in {window:?}, about {expected} expected"
    );
    // Neither duplicated nor missed: consecutive runs start about one interval apart (the
    // interval counts from the end of the previous run).
    let times = runs(&rig);
    for pair in times.windows(2) {
        let gap_ms = (pair[1] - pair[0]) / 1_000_000;
        assert!(
            (290..600).contains(&gap_ms),
            "runs {gap_ms} ms apart: {times:?}"
        );
    }

    // A changed result is notified at once (by the next run).
    fs::write(rig.work("state"), "7").unwrap();
    let flipped = Instant::now();
    let changed = rig.result(&call, Duration::from_secs(2));
    assert_result(&changed, 7, DONE, None);
    assert!(
        flipped.elapsed() < Duration::from_millis(800),
        "change notified after {:?}",
        flipped.elapsed()
    );
    // Later runs report no times (fact 25c).
    assert_eq!(num(&changed, attr::RUN_TIME), 0);

    // The cancel's notification (status 1, the last rc) precedes its reply (fact 44).
    let (reply, before) = rig.request_in_order(cancel_request("m1", "monitor", 300));
    assert_eq!(
        reply.attr(attr::RC),
        Some("0"),
        "cancel reply {}",
        show(&reply)
    );
    let cancelled: Vec<&Element> = before
        .iter()
        .filter(|n| exec_call(n) == Some(call.as_str()))
        .collect();
    assert_eq!(
        cancelled.len(),
        1,
        "before the reply: {:?}",
        before.iter().map(show).collect::<Vec<_>>()
    );
    assert_eq!(num(cancelled[0], attr::EXEC_OP_STATUS), CANCELLED);
    // No run after the cancel.
    let after_cancel = runs(&rig).len();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(runs(&rig).len(), after_cancel, "runs after the cancel");
    rig.finish(&[]);
}

/// Starts a recurring monitor whose runs take 0.6 s, waits until its second run is under way,
/// sends `request` (which must end that run), and checks that the monitor's cancel
/// notification (rc 0, status 1) arrives before the request's reply, as with the original,
/// which kills the run, waits for it and notifies before it replies (facts 37, 44, 45).
/// Returns the reply and the notification.
fn end_running_monitor(name: &str, request: fn(&str) -> Element) -> (Element, Element) {
    let mut rig = Rig::start(name, &[]);
    rig.install_ocf("flip", "flip", 0o755);
    fs::write(rig.work("state"), "0").unwrap();
    fs::write(rig.work("slow"), "0.6").unwrap();
    rig.register("m1", "flip");
    let call = rig.exec("m1", "monitor", 300, 3000, &[]);
    let first = rig.result(&call, STEP);
    assert_result(&first, 0, DONE, None);
    poll_until(STEP, || (runs(&rig).len() >= 2).then_some(())).expect("second run");
    std::thread::sleep(Duration::from_millis(100));
    let (reply, before) = rig.request_in_order(request("m1"));
    let cancelled: Vec<&Element> = before
        .iter()
        .filter(|n| exec_call(n) == Some(call.as_str()))
        .collect();
    if cancelled.is_empty() {
        let late = rig.result(&call, STEP);
        panic!(
            "the cancel notification came after the reply {}: {}",
            show(&reply),
            show(&late)
        );
    }
    let note = cancelled[0].clone();
    assert_result(&note, 0, CANCELLED, None);
    // The run was killed with its group: no run is left, and none follows.
    let count = runs(&rig).len();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(runs(&rig).len(), count, "runs after the cancel");
    rig.finish(&[]);
    (reply, note)
}

#[test]
fn cancel_of_a_running_recurring_monitor_notifies_before_the_reply() {
    let _t = timing_shared();
    let (reply, _) = end_running_monitor("cancel-running", |id| cancel_request(id, "monitor", 300));
    assert_eq!(
        reply.attr(attr::RC),
        Some("0"),
        "cancel reply {}",
        show(&reply)
    );
}

#[test]
fn stop_notifies_the_cancel_of_a_running_monitor_before_its_reply() {
    let _t = timing_shared();
    let (reply, _) =
        end_running_monitor("stop-running", |id| exec_request(id, "stop", 0, 3000, &[]));
    assert!(
        reply
            .attr(attr::RC)
            .is_some_and(|c| c.parse::<i64>().is_ok_and(|c| c > 0)),
        "stop reply {}",
        show(&reply)
    );
}

#[test]
fn unregister_notifies_the_cancel_of_a_running_monitor_before_its_reply() {
    let _t = timing_shared();
    let (reply, note) = end_running_monitor("unregister-running", |id| {
        command(
            op::RSC_UNREGISTER,
            0,
            Element::new(LRMD_RSC).with_attr(attr::RSC_ID, id),
        )
    });
    // Not the first run, so not "in progress" (fact 45); the resource is gone (fact 29).
    assert_eq!(
        reply.attr(attr::RC),
        Some("0"),
        "unregister reply {}",
        show(&reply)
    );
    assert_eq!(note.attr(attr::RSC_DELETED), Some("1"));
}

// ---------------------------------------------------------------------------------------
// 14: the bound on agents running at once

#[test]
fn max_children_bounds_agents_running_at_once() {
    let _t = timing_shared();
    let mut rig = Rig::start("children", &["max_children=2"]);
    rig.install_ocf("slow", "slow", 0o755);
    let ids = ["c1", "c2", "c3", "c4"];
    for id in ids {
        rig.register(id, "slow");
    }
    let t0 = Instant::now();
    let calls: Vec<String> = ids
        .iter()
        .map(|id| rig.exec(id, "start", 0, 5000, &[]))
        .collect();
    let refs: Vec<&str> = calls.iter().map(String::as_str).collect();
    let results = rig.results(&refs, Duration::from_secs(5));
    let took = t0.elapsed();
    let mut queue_times = Vec::new();
    for call in &calls {
        let note = &results[call];
        assert_result(note, 0, DONE, None);
        assert!(num(note, attr::EXEC_TIME) >= 500, "{}", show(note));
        queue_times.push(num(note, attr::QUEUE_TIME));
    }
    // Two ran at once, two waited for a free slot about one run's time (queue time, 11.7).
    queue_times.sort_unstable();
    assert!(
        queue_times[1] < 250 && (400..1500).contains(&queue_times[2]),
        "queue times {queue_times:?}"
    );
    assert!(
        (Duration::from_millis(1000)..Duration::from_secs(3)).contains(&took),
        "4 runs of 0.5 s two at a time took {took:?}"
    );
    // From the agents' own log: never more than two between start and end.
    let mut events: Vec<(u128, i32)> = lines(&rig.work("slow.log"))
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let t: u128 = f[2].parse().unwrap();
            (t, if f[0] == "start" { 1 } else { -1 })
        })
        .collect();
    assert_eq!(events.len(), 8, "slow.log: {events:?}");
    // Ends sort before starts at the same instant.
    events.sort_unstable();
    let mut alive = 0;
    let mut peak = 0;
    for (_, d) in &events {
        alive += d;
        peak = peak.max(alive);
    }
    assert_eq!(peak, 2, "agents alive at once: {peak}");
    rig.finish(&[]);
}
