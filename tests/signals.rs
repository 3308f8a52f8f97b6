//! Signals an operator (or a stray script) sends to the real binary: the ones the original
//! daemon catches (USR1, USR2, TRAP, HUP) and ones whose default action would end a process
//! (ALRM, QUIT, PWR, XCPU, ...). The daemon keeps serving through all of them; only TERM and
//! INT stop it, and the log names each signal it received.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;

#[test]
fn usr1_and_usr2_change_verbosity_and_the_daemon_keeps_serving() {
    let d = Daemon::options().start();
    d.signal("USR1");
    d.wait_log("SIGUSR1: log verbosity raised to debug", STEP);
    // At debug, a client's sign-on is logged; at notice it is not.
    d.assert_serves();
    d.signal("USR1");
    d.wait_log("raised to trace", STEP);
    d.signal("USR2");
    d.signal("USR2");
    d.wait_log("SIGUSR2: log verbosity lowered to notice", STEP);
    d.assert_serves();
}

#[test]
fn signals_that_would_end_a_process_are_logged_and_ignored() {
    let mut d = Daemon::options().start();
    for sig in [
        "TRAP", "HUP", "PIPE", "ALRM", "QUIT", "PWR", "XCPU", "VTALRM", "PROF", "IO",
    ] {
        d.signal(sig);
        assert_eq!(
            d.wait_exit(Duration::from_millis(100)),
            None,
            "SIG{sig} ended it"
        );
    }
    d.wait_log("SIGALRM received and ignored", STEP);
    d.wait_log("SIGQUIT received and ignored", STEP);
    d.wait_log(
        "SIGHUP: log files reopened; the authentication key will be re-read",
        STEP,
    );
    d.assert_serves();
    d.signal("TERM");
    let status = d.wait_exit(STEP).expect("SIGTERM did not stop it");
    assert_eq!(status.code(), Some(0));
    d.wait_log("SIGTERM", STEP);
}

#[test]
fn trap_writes_a_state_summary_to_the_log() {
    let d = Daemon::options().limit("max_children=3").start();
    let client = d.client("summary-client");
    d.signal("TRAP");
    d.wait_log("SIGTRAP: end of state summary", STEP);
    let log = d.log();
    let summary: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.contains("SIGTRAP: state summary follows"))
        .take_while(|l| !l.contains("SIGTRAP: end of state summary"))
        .collect();
    let text = summary.join("\n");
    for needle in [
        "TCP connections open: 1",
        "clients: 1 (1 over TCP, 0 local IPC)",
        "as 'summary-client': introduced",
        "resources: 0 of ",
        "agents running 0 of 3",
        "limits: max_children=3;",
    ] {
        assert!(
            text.contains(needle),
            "no {needle:?} in the summary:\n{text}"
        );
    }
    assert!(summary.len() < 40, "more than one screen:\n{text}");
    drop(client);
    d.assert_serves();
}
