//! The shell: one thread, one `LocalExecutor`, and every file descriptor, timer and child.
//!
//! In: the validated configuration. This module binds the listener, installs signal handling,
//! builds the [`hub::Hub`] around the protocol core and serves until the dispatcher asks to
//! exit. Signals arrive as bytes on a pipe (written by the handler in `sys::signal`) and
//! become events here: TERM and INT start the drain, HUP re-reads the key. The daemon's
//! states (Serving → Draining → Stopped) are the dispatcher's [`Lifecycle`]; this loop only
//! carries out what they lead to. It decides no protocol rule.
//!
//! The rooms: `conn` (the task of one cluster connection), `hub` (carries out the
//! dispatcher's actions), `bridge` (local tools, feature `ipc-proxy`), `keys` (the key file).
//!
//! [`Lifecycle`]: crate::dispatch::Lifecycle

use std::fs::File;
use std::net::TcpListener;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::{Async, Timer};
use futures_lite::{future, AsyncReadExt};
use log::{error, info, warn};

use crate::config::{Config, LogConfig};
use crate::dispatch::{DispatchSettings, Dispatcher};
use crate::executor::{ExecLimits, Executor};
use crate::sys::signal;
use crate::transport::admission::Budgets;
use crate::transport::{listener, tls};
use hub::{Control, Hub, OpenGuard};
use keys::KeyService;

#[cfg(feature = "ipc-proxy")]
mod bridge;
mod conn;
pub mod host;
pub mod hub;
pub mod keys;
pub mod schemas;
#[cfg(feature = "class-systemd")]
pub mod units;

/// Where agents and the daemon run, as the original (protocol.md 2.4).
const WORKING_DIRECTORY: &str = "/var/lib/pacemaker/cores";
/// The original's umask: group write and all "other" access masked (protocol.md 2.4).
const UMASK: u32 = 0o026;
/// How long exiting waits for connections to flush what they have queued.
const EXIT_FLUSH: Duration = Duration::from_secs(2);

/// Runs the daemon until it exits; returns the exit status.
pub fn run(config: Config) -> i32 {
    let started = Instant::now();
    prepare_process(&config.log);
    // Signals first: a SIGTERM right after "listening" must already be an event, not a kill.
    let mut handled = vec![
        signal::SIGTERM,
        signal::SIGINT,
        signal::SIGHUP,
        signal::SIGCHLD,
        signal::SIGUSR1,
        signal::SIGUSR2,
        signal::SIGTRAP,
    ];
    handled.extend_from_slice(signal::HARMLESS);
    let signals = match signal::install(&handled) {
        Ok(s) => s,
        Err(e) => {
            error!("cannot install signal handlers: {e}; exiting");
            return crate::exitcode::FATAL;
        }
    };
    let listener = match listener::bind(config.address.as_deref(), config.port) {
        Ok(l) => l,
        Err(e) => {
            error!("{e}; exiting");
            return crate::exitcode::FATAL;
        }
    };
    let keys = Arc::new(KeyService::new(
        config.key_source.clone(),
        config.limits.max_key_bytes,
    ));
    let mut tls_config = tls::ServerConfig::new(keys.clone());
    tls_config.allow_psk_ke = config.allow_psk_ke;
    // X.509 hook (tls-x509.md §1, §7): the original's three settings replace the key for
    // every connection; a file that cannot be used stops the start, as for the original.
    let tls_config = match tls_config.with_x509(config.x509.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            error!("{e}; exiting");
            return crate::exitcode::FATAL;
        }
    };
    match listener.local_addr() {
        Ok(a) => info!(
            "listening on {a} ({}, Pacemaker Remote protocol)",
            tls_config.mode()
        ),
        Err(_) => info!("listening on port {}", config.port),
    }
    if config.x509.is_none() {
        keys.preload();
    }
    let limits = &config.limits;
    let executor = Executor::new(
        ExecLimits {
            max_resources: limits.max_resources,
            max_queued_operations: limits.max_queued_operations,
            max_recurring_operations: limits.max_recurring_operations,
            max_children: limits.max_children,
        },
        Box::new(config.agent_paths.clone()),
    );
    let dispatcher = Dispatcher::new(
        DispatchSettings {
            node_start_state: config.node_start_state.clone(),
            sbd_timeout_ms: config.sbd_watchdog_timeout_ms,
            max_alerts: limits.max_children,
            schema_version: schemas::highest_installed(&config.schema_dirs.installed),
        },
        executor,
        Box::new(host::Machine::default()),
        started,
    );
    let user_timeout = config
        .sbd_watchdog_timeout_ms
        .map(|ms| u32::try_from(ms / 2).unwrap_or(u32::MAX));
    let ex = Rc::new(LocalExecutor::new());
    let hub = Hub::new(
        dispatcher,
        config.limits.clone(),
        Arc::new(tls_config),
        user_timeout,
        config.schema_dirs.fetched.clone(),
        ex.clone(),
    );
    if let Err(code) = start_ipc(&hub, &ex, &config) {
        return code;
    }
    // The line the original's tools and test suites wait for before they connect.
    info!("pcmk-remoted successfully started and accepting connections");
    let main = serve(hub, listener, signals, keys, ex.clone());
    async_io::block_on(ex.run(main))
}

/// Publishes the local services node tools use (feature `ipc-proxy`). A name another process
/// already publishes (a full cluster stack on this host) is fatal, as for the original.
#[cfg(feature = "ipc-proxy")]
fn start_ipc(hub: &Rc<Hub>, ex: &Rc<LocalExecutor<'static>>, config: &Config) -> Result<(), i32> {
    use crate::ipc::IpcConfig;
    if !config.local_ipc {
        info!("local IPC for node tools is turned off (PCMK_remoted_local_ipc=no)");
        return Ok(());
    }
    let mut cfg = IpcConfig::new(crate::dispatch::proxy::SERVICES.to_vec());
    cfg.buffer_floor = config.ipc_buffer;
    cfg.max_message = config.limits.max_message_bytes;
    cfg.framing = config.ipc_framing.into();
    bridge::start(hub, ex, cfg).map_err(|e| {
        error!(
            "cannot serve local tools: {e}; exiting (PCMK_remoted_local_ipc=no runs without them)"
        );
        crate::exitcode::FATAL
    })
}

/// Without `ipc-proxy`, node tools have nothing to connect to (README "Features").
#[cfg(not(feature = "ipc-proxy"))]
fn start_ipc(_: &Rc<Hub>, _: &Rc<LocalExecutor<'static>>, _: &Config) -> Result<(), i32> {
    info!("local IPC for node tools is not part of this build (feature ipc-proxy)");
    Ok(())
}

/// Process set-up the original does before serving: working directory, umask, and no
/// `NOTIFY_SOCKET` for agents to inherit.
fn prepare_process(log: &LogConfig) {
    std::env::remove_var("NOTIFY_SOCKET");
    std::env::set_var("PCMK_service", "pacemaker-remoted");
    // Agents log through ocf-shellfuncs, which reads these (protocol.md 2.4).
    let facility = log.syslog_facility.as_deref().unwrap_or("none");
    for var in ["PCMK_logfacility", "HA_logfacility", "HA_LOGFACILITY"] {
        std::env::set_var(var, facility);
    }
    if let Some(file) = log.files.first() {
        std::env::set_var("PCMK_logfile", file);
        std::env::set_var("HA_LOGFILE", file);
        if log.debug {
            std::env::set_var("HA_DEBUGLOG", file);
        }
    }
    crate::sys::process::cloexec_inherited_fds();
    crate::sys::process::set_umask(UMASK);
    prepare_agent_state_dir();
    if let Err(e) = std::env::set_current_dir(WORKING_DIRECTORY) {
        warn!(
            "cannot change to {WORKING_DIRECTORY}: {e}; agents will run in the current directory"
        );
    }
}

/// Where resource agents keep state between runs (`HA_RSCTMP` in ocf-shellfuncs). On a box
/// without systemd-tmpfiles, or in a container, `/run` starts empty; the original creates
/// this directory at start, and heartbeat agents fail to start without it.
const AGENT_STATE_DIR: &str = "/run/resource-agents";

fn prepare_agent_state_dir() {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let path = std::path::Path::new(AGENT_STATE_DIR);
    if path.is_dir() {
        return;
    }
    let made = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(path)
        // The umask (0026) would leave it 0751; agents of other users read their state too.
        .and_then(|()| std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)));
    match made {
        Ok(()) => info!("created {AGENT_STATE_DIR} for resource agents' state"),
        Err(e) => warn!(
            "cannot create {AGENT_STATE_DIR}: {e}; resource agents that keep state there \
             (most ocf:heartbeat agents) will fail to start"
        ),
    }
}

async fn serve(
    hub: Rc<Hub>,
    listener: TcpListener,
    signals: File,
    keys: Arc<KeyService>,
    ex: Rc<LocalExecutor<'static>>,
) -> i32 {
    let listener = match Async::new(listener) {
        Ok(l) => l,
        Err(e) => {
            error!("cannot register the listener with the event loop: {e}; exiting");
            return crate::exitcode::FATAL;
        }
    };
    ex.spawn(drive_executor(hub.clone())).detach();
    ex.spawn(report_suppressed_logs()).detach();
    let budgets = Budgets {
        pending: hub.limits.max_pending_handshakes,
        per_source: hub.limits.max_pending_per_source,
        keyed: hub.limits.max_connections,
    };
    let (server, tasks) = (hub.clone(), ex.clone());
    let accept = listener::accept_loop(listener, budgets, move |tcp, peer, ticket| {
        let open = OpenGuard::new(&server);
        tasks
            .spawn(conn::serve(server.clone(), tcp, peer, open, ticket))
            .detach();
    });
    let mut accepting = Some(ex.spawn(accept));
    let mut signals = match Async::new(signals) {
        Ok(s) => s,
        Err(e) => {
            error!("cannot watch the signal pipe: {e}; exiting");
            return crate::exitcode::FATAL;
        }
    };
    let mut sigbuf = [0u8; 64];
    loop {
        enum Event {
            Control(Option<Control>),
            Signals(usize),
        }
        let event = future::or(async { Event::Control(hub.control.recv().await) }, async {
            Event::Signals(signals.read(&mut sigbuf).await.unwrap_or(0))
        })
        .await;
        match event {
            Event::Signals(n) => {
                for &sig in &sigbuf[..n] {
                    match i32::from(sig) {
                        signal::SIGTERM | signal::SIGINT => {
                            info!("{} received: stopping", signal::name(i32::from(sig)));
                            let actions = hub.dispatcher.borrow_mut().shutdown_requested();
                            hub.perform(actions);
                        }
                        signal::SIGCHLD => {
                            hub.reaper.reap();
                            // pidone hook: as a container's PID 1, reap orphans too (after
                            // the agents, never their statuses; src/pidone.rs).
                            #[cfg(feature = "pidone")]
                            crate::pidone::reap_orphans(&hub.reaper);
                        }
                        signal::SIGHUP => {
                            crate::logging::Logger::reopen_files();
                            info!("SIGHUP: log files reopened; the authentication key will be re-read on the next handshake");
                            keys.invalidate();
                        }
                        signal::SIGUSR1 => {
                            let level = crate::logging::Logger::change_verbosity(1);
                            info!("SIGUSR1: log verbosity raised to {level}");
                        }
                        signal::SIGUSR2 => {
                            let level = crate::logging::Logger::change_verbosity(-1);
                            info!("SIGUSR2: log verbosity lowered to {level}");
                        }
                        signal::SIGTRAP => {
                            let limit = crate::limits::SUMMARY_MAX_ITEMS;
                            let lines = hub.dispatcher.borrow().summary(limit);
                            info!("SIGTRAP: state summary follows");
                            info!(
                                "TCP connections open: {} (handshaking ones included)",
                                hub.open_connections()
                            );
                            for line in lines {
                                info!("{line}");
                            }
                            info!("limits: {}", hub.limits.summary());
                            // Counts of log lines held back by the rate limit since the last
                            // report, if any.
                            crate::logging::limiter::report_suppressed();
                            info!("SIGTRAP: end of state summary");
                        }
                        other => {
                            info!(
                                "{} received and ignored (SIGTERM or SIGINT stops the daemon)",
                                signal::name(other)
                            );
                        }
                    }
                }
            }
            Event::Control(Some(Control::StopListening)) => {
                if accepting.take().is_some() {
                    info!("no longer accepting connections");
                }
            }
            Event::Control(Some(Control::Exit { code, why })) => {
                info!("exiting with status {code}: {why}");
                drop(accepting.take());
                hub.close_all();
                #[cfg(feature = "ipc-proxy")]
                hub.ipc_shutdown();
                hub.drain_alerts().await;
                let deadline = Instant::now() + EXIT_FLUSH;
                while hub.open_connections() > 0 && Instant::now() < deadline {
                    Timer::after(Duration::from_millis(10)).await;
                }
                return code;
            }
            Event::Control(None) => return crate::exitcode::OK,
        }
    }
}

/// Reports lines the log rate limits dropped, even when the flood that caused them stopped.
async fn report_suppressed_logs() {
    loop {
        Timer::after(Duration::from_secs(60)).await;
        crate::logging::limiter::report_suppressed();
    }
}

/// Runs the executor's timers: start delays, recurring intervals and timeouts. Woken by its
/// next deadline, or by a kick whenever the hub carried out actions that may have changed it.
async fn drive_executor(hub: Rc<Hub>) {
    loop {
        let wake = hub.dispatcher.borrow().next_wakeup(Instant::now());
        let timer = async {
            match wake {
                Some(at) => {
                    Timer::at(at).await;
                }
                None => future::pending::<()>().await,
            }
        };
        future::or(timer, async {
            hub.kick.recv().await;
        })
        .await;
        let actions = hub.dispatcher.borrow_mut().tick(hub::now());
        hub.perform(actions);
        // perform() kicks us; that kick is about what we just did.
        while hub.kick.try_recv().is_some() {}
    }
}
