//! `demo`: the daemon for real on loopback, with a generated development key, checked end to
//! end by the built-in client. For a first look on a new machine; never for production (the
//! key is written to a temporary directory).

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::DemoArgs;
use crate::config::authkey::KeySource;
use crate::exitcode;

/// Starts the daemon as a child on 127.0.0.1, checks it, then serves until interrupted (or
/// stops it at once with `--once`). Returns the exit status.
pub fn run(args: &DemoArgs) -> i32 {
    let dir = std::env::temp_dir().join(format!("pcmk-remoted-demo-{}", std::process::id()));
    let key = dir.join("authkey");
    if let Err(e) = make_key(&dir, &key) {
        eprintln!(
            "demo: cannot create a development key in {}: {e}",
            dir.display()
        );
        return exitcode::FATAL;
    }
    println!(
        "demo: development key {} (4096 random bytes)",
        key.display()
    );
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("demo: cannot find our own executable: {e}");
            return exitcode::FATAL;
        }
    };
    let port = args.port.to_string();
    let key_arg = key.display().to_string();
    let daemon = Command::new(exe)
        .args([
            "--address",
            "127.0.0.1",
            "--port",
            &port,
            "--authkey",
            &key_arg,
        ])
        .args(["--sysconfig", "none", "--no-local-ipc"])
        .env("PCMK_logfile", "none")
        .env("PCMK_logfacility", "none")
        .stdin(Stdio::null())
        .spawn();
    let mut daemon = match daemon {
        Ok(c) => c,
        Err(e) => {
            eprintln!("demo: cannot start the daemon: {e}");
            return exitcode::FATAL;
        }
    };
    println!("demo: daemon started, pid {}", daemon.id());
    let report = wait_and_check(&mut daemon, args.port, &key);
    let ok = match report {
        Ok(text) => {
            println!("{text}");
            println!(
                "demo: check it again from another shell with:\n  {} check 127.0.0.1 --port {} --authkey {}",
                std::env::args().next().unwrap_or_default(),
                args.port,
                key.display()
            );
            true
        }
        Err(msg) => {
            println!("demo: FAILED: {msg}");
            false
        }
    };
    let code = if args.once || !ok {
        stop(&mut daemon)
    } else {
        println!(
            "demo: serving on 127.0.0.1:{}; press Ctrl-C to stop",
            args.port
        );
        daemon
            .wait()
            .map(|s| s.code().unwrap_or(0))
            .unwrap_or(exitcode::FATAL)
    };
    let _ = fs::remove_dir_all(&dir);
    if ok {
        code
    } else {
        exitcode::CHECK_FAILED
    }
}

fn make_key(dir: &Path, key: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut bytes = vec![0u8; 4096];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    fs::write(key, &bytes)?;
    fs::set_permissions(key, fs::Permissions::from_mode(0o600))
}

/// Retries the check for a few seconds while the daemon starts listening.
fn wait_and_check(daemon: &mut Child, port: u16, key: &Path) -> Result<String, String> {
    let source = KeySource::Explicit(key.to_path_buf());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(status)) = daemon.try_wait() {
            return Err(format!("the daemon exited early ({status})"));
        }
        match crate::check::check("127.0.0.1", port, &source, Duration::from_secs(5)) {
            Ok(report) => return Ok(report),
            Err(f) if f.code == exitcode::CHECK_UNREACHABLE && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(f) => return Err(f.message),
        }
    }
}

/// Stops the daemon child with SIGTERM; with no cluster connected it exits at once.
fn stop(daemon: &mut Child) -> i32 {
    crate::sys::process::terminate(daemon.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = daemon.try_wait() {
            return status.code().unwrap_or(exitcode::FATAL);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    exitcode::FATAL
}
