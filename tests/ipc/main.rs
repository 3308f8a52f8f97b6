//! Interop tests against the real Pacemaker 2.1.5 / libqb 2.0.6 clients on this machine.
//!
//! The binary has three roles:
//! - no role argument: run the scenarios (needs root, `ip`, the Pacemaker tools); each one
//!   starts this binary as a test server inside a network namespace of our own, because
//!   abstract socket names are per namespace and the host may run a real cluster;
//! - `--server-mode`: the test server (our `IpcServer` answering with canned replies);
//! - `--raw-client <case> <service>`: a hand-made libqb client sending broken input.
//!
//! Without root or the tools, scenarios are skipped with a message, unless
//! `PCMKR_REQUIRE_INTEROP=1`, which turns a skip into a failure. Extra arguments filter
//! scenarios by name.

mod raw;
mod scenarios;
mod server;
mod support;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code = match args.get(1).map(String::as_str) {
        Some("--server-mode") => server::run(),
        Some("--raw-client") => raw::run(&args[2..]),
        _ => scenarios::run(&args[1..]),
    };
    std::process::exit(code);
}
