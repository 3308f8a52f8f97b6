//! The local IPC proxy and the graceful shutdown in a real Pacemaker cluster:
//! tests/interop/e2e-proxy.sh runs a one-node cluster with our binary as remote node rn1 (a
//! network namespace), runs the cluster tools inside the namespace, a promotable Stateful,
//! the haclient gate, 50 concurrent clients, misbehaving raw clients, hostile local users
//! (every IPC slot taken, bzip2 bombs, relays that expand), SIGTERM with two resources to
//! drain, and SIGTERM with no cluster.
//!
//! Needs root, network namespaces, python3, useradd and Debian's pacemaker and resource-agents
//! packages. Where something is missing it prints "skipped" and passes, unless
//! PCMKR_REQUIRE_INTEROP=1.

mod scripts;

use std::time::Duration;

use scripts::{interop, missing, skip_or_fail, Script, DAEMON};

/// The whole run: cluster start (~25 s), the scenario (~90 s, 30 of them the load and 20 the
/// misbehaving clients), tear-down and cluster stop, with room for a slow machine. The script
/// bounds each of its own waits as well.
const LIMIT: Duration = Duration::from_secs(900);

/// The steps the script times; each must appear as "TIMING <step> <ms>".
const STEPS: [&str; 21] = [
    "cluster_ready",
    "join",
    "ipc_crm_mon",
    "ipc_crm_attribute",
    "ipc_attrd_updater",
    "d0_start",
    "ipc_crm_resource",
    "ipc_cibadmin",
    "stateful_promoted",
    "users",
    "load",
    "misbehave",
    "agent_tools_while_held",
    "hostile",
    "drain_setup",
    "drain",
    "drain_moved",
    "rejoin",
    "stateful_back",
    "noclu_exit",
    "teardown",
];

/// The first missing prerequisite of the scenario.
fn missing_here() -> Option<String> {
    let tools = [
        "ip",
        "ss",
        "corosync",
        "pacemakerd",
        "crm_mon",
        "cibadmin",
        "crm_resource",
        "crm_attribute",
        "attrd_updater",
        "xmllint",
        "flock",
        "python3",
        "useradd",
        "userdel",
        "runuser",
    ];
    let agents = [
        "/usr/lib/ocf/resource.d/pacemaker/Dummy",
        "/usr/lib/ocf/resource.d/pacemaker/Stateful",
    ];
    missing(&tools, &agents)
}

/// The line of `out` starting with `prefix`, or a panic showing the output.
fn line<'a>(out: &'a str, prefix: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with {prefix:?}:\n{out}"))
}

/// Node tools work through our proxy, Stateful is promoted, the haclient gate holds, 50
/// clients for 30 s get every answer without leaking, misbehaving clients are closed alone,
/// SIGTERM drains the node without it ever showing failed, and with no cluster exits at once.
#[test]
fn real_cluster_tools_and_drain_through_our_proxy() {
    if let Some(m) = missing_here() {
        if skip_or_fail(&m) {
            return;
        }
    }
    let out = interop("e2e-proxy.sh", &[DAEMON], LIMIT);
    assert!(out.contains("PASS"), "{out}");
    assert!(
        !out.contains("EXPECTED-DIFF"),
        "our daemon must pass every check:\n{out}"
    );
    for step in STEPS {
        eprintln!("{}", line(&out, &format!("TIMING {step} ")));
    }
    let load = line(&out, "LOAD ");
    eprintln!("{load}");
    assert!(load.contains(" failed=0 "), "{load}");
    for l in out.lines().filter(|l| l.starts_with("HOSTILE")) {
        eprintln!("{l}");
    }
    let drain = line(&out, "DRAIN ");
    eprintln!("{drain}");
    assert!(
        drain.contains("exit_status=0 ") && drain.contains(" bad_samples=0 "),
        "{drain}"
    );
}

/// The same script against Debian's original 2.1.5 daemon, to show the script measures what
/// it claims: it passes there too, with its known differences (immediate exit on SIGTERM, no
/// uid in its refusal logs, SHM transport, no handshake deadline, RSS) reported as
/// EXPECTED-DIFF. Downloads the package, so it runs only when asked (`--ignored`).
#[test]
#[ignore = "downloads Debian's pacemaker-remote; run with --ignored"]
fn original_daemon_passes_the_script_with_its_known_differences() {
    if let Some(m) = missing_here() {
        if skip_or_fail(&m) {
            return;
        }
    }
    let dir = std::env::temp_dir()
        .join("pcmkr-original")
        .display()
        .to_string();
    let found = interop("original-daemon.sh", &[&dir], Duration::from_secs(300));
    let original = found.lines().last().unwrap_or_default().trim().to_string();
    let out = Script {
        path: "tests/interop/e2e-proxy.sh",
        args: &[&original],
        env: &[("PCMKR_DAEMON_KIND", "original")],
        ..Script::default()
    }
    .run(LIMIT);
    assert!(out.contains("PASS"), "{out}");
    for l in out.lines().filter(|l| l.starts_with("EXPECTED-DIFF")) {
        eprintln!("{l}");
    }
    let drain = line(&out, "DRAIN ");
    eprintln!("{drain}");
}
