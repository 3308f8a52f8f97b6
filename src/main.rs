//! pcmk-remoted: entry point.
//!
//! Command line → logging → configuration → the daemon (default), `check` or `demo`. The
//! pipeline itself is described in `lib.rs`; exit statuses are in `exitcode.rs`.

use pcmk_remoted::cli::{self, Command};
use pcmk_remoted::config::{Config, Sources};
use pcmk_remoted::logging::Logger;
#[cfg(feature = "client-tools")]
use pcmk_remoted::{check, demo};
use pcmk_remoted::{daemon, exitcode};

fn main() {
    // Until the daemon takes over signals, a closed pipe (`--help | head`) ends us quietly, as
    // it ends other command-line tools, instead of failing a print.
    let _ = pcmk_remoted::sys::signal::reset_default(pcmk_remoted::sys::signal::SIGPIPE);
    let args: Vec<String> = std::env::args().collect();
    let program = args.first().map_or("pcmk-remoted", String::as_str);
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    let cli = match cli::parse(program, &rest) {
        Ok(c) => c,
        Err(early) => {
            // --help prints to stdout and succeeds; a usage error goes to stderr.
            if early.status.is_ok() {
                println!("{}", early.output);
                std::process::exit(exitcode::OK);
            }
            eprintln!("{}", early.output);
            eprintln!("Run '{program} --help' for the options.");
            std::process::exit(exitcode::USAGE);
        }
    };
    if cli.version {
        println!("{}", pcmk_remoted::about::version_line());
        std::process::exit(exitcode::OK);
    }
    let code = match &cli.command {
        #[cfg(feature = "client-tools")]
        Some(Command::Check(args)) => check::run(args),
        #[cfg(feature = "client-tools")]
        Some(Command::Demo(args)) => demo::run(args),
        #[cfg(not(feature = "client-tools"))]
        Some(Command::Check(_)) => without_client_tools("check"),
        #[cfg(not(feature = "client-tools"))]
        Some(Command::Demo(_)) => without_client_tools("demo"),
        None => run_daemon(&cli),
    };
    std::process::exit(code);
}

/// `check` and `demo` asked of a build without them (a small board's): say so plainly, with the
/// usage status other missing features give, instead of an unknown-command error.
#[cfg(not(feature = "client-tools"))]
fn without_client_tools(subcommand: &str) -> i32 {
    eprintln!("'{subcommand}' is not part of this build (feature client-tools)");
    exitcode::USAGE
}

fn run_daemon(cli: &cli::Cli) -> i32 {
    let logger = Logger::init(cli.verbose);
    // pidone hook: container init mode applies its environment before the settings are read.
    #[cfg(feature = "pidone")]
    let pid_one = pcmk_remoted::pidone::prepare();
    let env = |k: &str| std::env::var(k).ok();
    let (sources, mut notes) = match Sources::read(cli.sysconfig.as_deref(), &env) {
        Ok(s) => s,
        Err(e) => {
            log::error!("{e}");
            return exitcode::USAGE;
        }
    };
    let env_names: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    notes.extend(sources.unknown_names(&env_names));
    let (config, more) = match Config::load(cli, &sources) {
        Ok(c) => c,
        Err(e) => {
            log::error!("{e}");
            return exitcode::USAGE;
        }
    };
    notes.extend(more);
    notes.extend(logger.configure(&config.log));
    for n in notes {
        log::warn!("{n}");
    }
    // pidone hook: what container init mode did, now that the log files are open.
    #[cfg(feature = "pidone")]
    pid_one.log();
    log::info!(
        "{} starting (pid {}; limits: {}){}",
        pcmk_remoted::about::version_line(),
        std::process::id(),
        config.limits.summary(),
        config
            .sysconfig
            .as_ref()
            .map(|p| format!(", settings from {}", p.display()))
            .unwrap_or_default()
    );
    daemon::run(config)
}
