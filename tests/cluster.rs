//! Resource execution in a real Pacemaker cluster: tests/interop/e2e-executor.sh runs a
//! one-node cluster with our binary as two remote nodes (network namespaces) and drives OCF,
//! LSB, IPaddr2, live migration and a start timeout through them.
//!
//! Needs root, network namespaces and Debian's pacemaker and resource-agents packages. Where
//! something is missing it prints "skipped" and passes, unless PCMKR_REQUIRE_INTEROP=1.

mod scripts;

use std::time::Duration;

use scripts::{interop, missing, skip_or_fail, DAEMON};

/// The whole run: cluster start (~25 s), the scenario (~50 s), tear-down and cluster stop,
/// with room for a slow machine. The script bounds each of its own waits as well.
const LIMIT: Duration = Duration::from_secs(600);

/// The steps the script times; each must appear as "TIMING <step> <ms>".
const STEPS: [&str; 14] = [
    "cluster_ready",
    "join",
    "d1_start",
    "d1_recover",
    "d1_cleanup",
    "lsb_start",
    "lsb_stop",
    "ip_start",
    "ip_stop",
    "d2_start",
    "d2_migrate",
    "t1_timeout",
    "t1_cleanup",
    "teardown",
];

/// A real cluster runs Dummy (monitor failure and recovery), an LSB script, IPaddr2, a live
/// migration between our two nodes and a start that times out, all through our daemon.
#[test]
fn real_cluster_runs_resources_on_two_of_our_nodes() {
    let tools = [
        "ip",
        "corosync",
        "pacemakerd",
        "crm_mon",
        "cibadmin",
        "crm_resource",
        "crm_attribute",
        "xmllint",
        "flock",
    ];
    let agents = [
        "/usr/lib/ocf/resource.d/pacemaker/Dummy",
        "/usr/lib/ocf/resource.d/heartbeat/IPaddr2",
    ];
    if let Some(m) = missing(&tools, &agents) {
        if skip_or_fail(&m) {
            return;
        }
    }
    let out = interop("e2e-executor.sh", &[DAEMON], LIMIT);
    assert!(out.contains("PASS"), "{out}");
    for step in STEPS {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("TIMING {step} ")));
        match line {
            Some(l) => eprintln!("{l}"),
            None => panic!("missing TIMING {step}:\n{out}"),
        }
    }
}
