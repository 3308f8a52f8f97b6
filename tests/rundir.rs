//! The real binary on a box whose `/run` starts empty (no systemd-tmpfiles, a container): a
//! heartbeat agent that keeps its state in `/run/resource-agents` still starts, as with the
//! original, and its end is logged as the original logs it. The daemon runs in its own mount
//! namespace with a fresh tmpfs on `/run`, so the host's `/run` is never touched.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod scripts;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pcmk_remoted::proto::names::{attr, op, ATTRIBUTES, LRMD_CALLDATA, LRMD_COMMAND};
use pcmk_remoted::proto::names::{LRMD_NOTIFY, LRMD_RSC};
use pcmk_remoted::proto::xml::Element;

use common::{free_port, poll_until, random_bytes, run, sign_on, with_deadline, Scratch};
use common::{BINARY, STEP};

/// The installed heartbeat Dummy agent (resource-agents), which keeps a state file in
/// `$HA_RSCTMP`, `/run/resource-agents`.
const DUMMY: &str = "/usr/lib/ocf/resource.d/heartbeat/Dummy";

struct Boxed {
    child: Child,
    log: std::path::PathBuf,
}

impl Boxed {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Boxed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(name: &str, data: Element) -> Element {
    Element::new(LRMD_COMMAND)
        .with_attr(attr::T, "lrmd")
        .with_attr(attr::OP, name)
        .with_attr(attr::CALL_OPTIONS, 0)
        .with_child(Element::new(LRMD_CALLDATA).with_child(data))
}

#[test]
fn heartbeat_agent_keeps_state_under_an_empty_run() {
    if let Some(what) = scripts::missing(&["unshare", "mount"], &[DUMMY]) {
        if scripts::skip_or_fail(&what) {
            return;
        }
    }
    let scratch = Scratch::new("rundir");
    let key = random_bytes(4096);
    let key_path = scratch.path("authkey");
    std::fs::write(&key_path, &key).unwrap();
    let log = scratch.path("p.log");
    let port = free_port();
    let script = format!(
        "set -e; mount --make-rprivate /; mount -t tmpfs -o mode=0755 pcmkr-run /run; \
         exec {BINARY} --port {port} --address 127.0.0.1 --sysconfig none --authkey {key} \
              --no-local-ipc --logfile {log}",
        key = key_path.display(),
        log = log.display(),
    );
    let child = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("PCMK_logfile", "none")
        .env("PCMK_logfacility", "none")
        .env("PCMK_debug", "yes")
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(scratch.path("stderr")).unwrap())
        .spawn()
        .unwrap();
    let d = Boxed { child, log };
    poll_until(STEP, || d.log().contains("listening on").then_some(()))
        .unwrap_or_else(|| panic!("daemon did not start:\n{}", d.log()));
    assert!(
        d.log().contains("created /run/resource-agents"),
        "{}",
        d.log()
    );

    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let note = run(Duration::from_secs(30), "Dummy start", async {
        let mut c = sign_on(addr, &key, "pacemaker-remote-127.0.0.1:3121", true).await;
        let rsc = Element::new(LRMD_RSC)
            .with_attr(attr::RSC_ID, "dummy1")
            .with_attr(attr::CLASS, "ocf")
            .with_attr(attr::PROVIDER, "heartbeat")
            .with_attr(attr::TYPE, "Dummy");
        let reply = c.request(command(op::RSC_REGISTER, rsc)).await.unwrap();
        assert_eq!(reply.attr(attr::RC), Some("0"));
        let exec = Element::new(LRMD_RSC)
            .with_attr(attr::ORIGIN, "lrmd_api_exec")
            .with_attr(attr::RSC_ID, "dummy1")
            .with_attr(attr::RSC_ACTION, "start")
            .with_attr(attr::RSC_INTERVAL, 0)
            .with_attr(attr::TIMEOUT, 20_000)
            .with_attr(attr::RSC_START_DELAY, 0)
            .with_child(Element::new(ATTRIBUTES));
        let reply = c.request(command(op::RSC_EXEC, exec)).await.unwrap();
        let call = reply.attr(attr::RC).unwrap().to_string();
        let start = Instant::now();
        loop {
            let left = Duration::from_secs(25).saturating_sub(start.elapsed());
            let n = with_deadline(left, c.next_notification())
                .await
                .expect("a result within 25 s")
                .unwrap();
            if n.name == LRMD_NOTIFY
                && n.attr(attr::OP) == Some(op::RSC_EXEC)
                && n.attr(attr::CALL_ID) == Some(call.as_str())
            {
                return n;
            }
        }
    });
    assert_eq!(
        (note.attr(attr::EXEC_RC), note.attr(attr::EXEC_OP_STATUS)),
        (Some("0"), Some("0")),
        "Dummy start under an empty /run; log:\n{}",
        d.log()
    );
    let ended = poll_until(STEP, || {
        d.log()
            .lines()
            .find(|l| l.contains("dummy1 start (call ") && l.contains(") exited with status 0"))
            .map(str::to_string)
    });
    assert!(ended.is_some(), "no end line in:\n{}", d.log());
}
