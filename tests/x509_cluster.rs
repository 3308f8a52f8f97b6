//! X.509 mode against a real Pacemaker 3.0.3 cluster: tests/pcmk3/x509-cluster runs the
//! sid-cluster root of tests/roots with PCMK_ca_file, PCMK_cert_file and PCMK_key_file in the
//! cluster's environment, our daemon and then the original 3.0.3 daemon as the remote node in
//! X.509 mode, and checks for each: the node comes online with certificates; a wrong CA and
//! a revoked cluster certificate are refused with a log line (ours naming the certificate,
//! the reason and the setting); a certificate of ours from another CA is refused by the
//! cluster. docs/tls-x509.md §10 has what it showed.
//!
//! Needs root, namespaces, openssl, flock and the sid-cluster root (built here by
//! tests/roots/build if it is not yet; that needs debootstrap and the host's Debian mirror).
//! Where something is missing it prints "skipped" and passes, unless PCMKR_REQUIRE_INTEROP=1.

mod scripts;

use std::process::{Command, Stdio};
use std::time::Duration;

use scripts::{missing, repo, skip_or_fail, Script, DAEMON};

/// Cluster start (~25 s), two daemons through four checks each (a refused connection costs
/// a controller restart, ~20 s), stop: about 4.5 minutes measured; room for a busy machine.
const LIMIT: Duration = Duration::from_secs(1200);

/// Every check the script must pass, as it names them.
const CHECKS: [(&str, &str); 10] = [
    ("cluster", "cluster_env"),
    ("ours", "online"),
    ("ours", "wrong_ca"),
    ("ours", "revoked"),
    ("ours", "ours_checked"),
    ("ours", "recovers"),
    ("original", "online"),
    ("original", "wrong_ca"),
    ("original", "revoked"),
    ("original", "ours_checked"),
];

fn missing_prerequisite() -> Option<String> {
    let tools = [
        "ip", "unshare", "nsenter", "flock", "mount", "pgrep", "openssl",
    ];
    if let Some(m) = missing(&tools, &[]) {
        return Some(m);
    }
    // Reuses a built root in well under a second; builds it otherwise.
    let out = Command::new("bash")
        .arg(repo().join("tests/roots/build"))
        .arg("sid-cluster")
        .stdin(Stdio::null())
        .output()
        .expect("run tests/roots/build");
    (!out.status.success()).then(|| {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        format!(
            "the sid-cluster root (tests/roots/build sid-cluster failed: {})",
            tail.into_iter().rev().collect::<Vec<_>>().join(" / ")
        )
    })
}

#[test]
fn pacemaker_3_0_3_cluster_in_x509_mode_with_our_node_and_the_original() {
    if let Some(m) = missing_prerequisite() {
        if skip_or_fail(&m) {
            return;
        }
    }
    let out = Script {
        path: "tests/pcmk3/x509-cluster",
        args: &[DAEMON],
        ..Script::default()
    }
    .run(LIMIT);
    assert!(out.lines().any(|l| l == "PASS"), "{out}");
    for (kind, check) in CHECKS {
        let prefix = format!("RESULT {kind} {check} pass");
        assert!(
            out.lines().any(|l| l.starts_with(&prefix)),
            "{kind}: no passing {check}:\n{out}"
        );
    }
}
