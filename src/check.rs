//! `check`: connect to a node as a cluster node would, and say what worked and what did not.
//!
//! It replaces the guides' `ssh -p 3121` trick with a real answer: name resolution, TCP,
//! the TLS-PSK handshake with our key, the sign-on with protocol version, and a round trip.
//! It signs on as a diagnostic client, which our daemon never announces to the cluster; the
//! original daemon announces every new client, which makes a connected cluster drop and
//! re-establish its connection (README "check").

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::future;
use zeroize::Zeroizing;

use crate::cli::CheckArgs;
use crate::client::{Client, ClientError};
use crate::config::authkey::{self, KeySource};
use crate::config::Sources;
use crate::exitcode;
use crate::proto::names::DIAGNOSTIC_CLIENT_NAME;
use crate::proto::names::{self, attr, op, LRMD_CALLDATA, LRMD_COMMAND, LRMD_RSC};
use crate::proto::xml::Element;
use crate::transport::{explain, tls};

/// A failed step: the exit status and what to tell the user.
#[derive(Debug)]
pub struct Failure {
    /// One of the `CHECK_*` statuses in [`exitcode`].
    pub code: i32,
    /// What failed, and what to do about it.
    pub message: String,
}

/// Runs `check` and prints its report; returns the exit status.
pub fn run(args: &CheckArgs) -> i32 {
    let env = |k: &str| std::env::var(k).ok();
    let sources = match Sources::read(None, &env) {
        Ok((s, _)) => s,
        Err(e) => {
            eprintln!("check: {e}");
            return exitcode::USAGE;
        }
    };
    let cli = crate::cli::Cli {
        port: args.port,
        authkey: args.authkey.clone(),
        sysconfig: None,
        ..Default::default()
    };
    let (config, _) = match crate::config::Config::load(&cli, &sources) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("check: {e}");
            return exitcode::USAGE;
        }
    };
    match check(
        &args.host,
        config.port,
        &config.key_source,
        Duration::from_secs(u64::from(args.timeout.max(1))),
    ) {
        Ok(report) => {
            println!("{report}");
            exitcode::OK
        }
        Err(f) => {
            println!("FAILED: {}", f.message);
            f.code
        }
    }
}

/// Checks `host:port` with the key from `key_source`; returns a printable report.
pub fn check(
    host: &str,
    port: u16,
    key_source: &KeySource,
    step: Duration,
) -> Result<String, Failure> {
    let mut lines = vec![format!("checking {host} port {port}")];
    let key =
        authkey::load(key_source, crate::limits::Limits::default().max_key_bytes).map_err(|e| {
            Failure {
                code: exitcode::USAGE,
                message: e.to_string(),
            }
        })?;
    lines.push(format!(
        "  key        {} ({} bytes), {}",
        key.path.display(),
        key.bytes.len(),
        key_origin(key_source, &key.path)
    ));
    for w in &key.warnings {
        lines.push(format!("  key note   {w}"));
    }

    let t = Instant::now();
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| Failure {
            code: exitcode::CHECK_NAME_RESOLUTION,
            message: format!("cannot resolve '{host}': {e}"),
        })?
        .collect();
    lines.push(format!(
        "  resolved   {} in {}",
        addrs
            .iter()
            .map(|a| a.ip().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        ms(t)
    ));

    let psk = Zeroizing::new(key.bytes.to_vec());
    async_io::block_on(async {
        let (tcp, addr) = connect_any(&addrs, step).await?;
        lines.push(format!("  connected  TCP {addr} in {}", ms(t)));

        let t = Instant::now();
        let cfg = Arc::new(tls::ClientConfig::new(tls::PACEMAKER_IDENTITY, psk));
        let mut client = within(step, "TLS handshake", Client::handshake(tcp, cfg))
            .await?
            .map_err(|e| match e {
                ClientError::Handshake(h) => Failure {
                    code: handshake_status(&h),
                    message: format!("TLS handshake failed: {}", explain::client_failure(&h)),
                },
                other => failure(exitcode::CHECK_FAILED, other),
            })?;
        lines.push(format!(
            "  TLS        {} with the shared key, in {}",
            client
                .negotiated()
                .map(|n| n.to_string())
                .unwrap_or_default(),
            ms(t)
        ));

        let t = Instant::now();
        let signon = Element::new(LRMD_COMMAND)
            .with_attr(attr::T, "lrmd")
            .with_attr(attr::OP, op::REGISTER)
            .with_attr(attr::CLIENT_NAME, DIAGNOSTIC_CLIENT_NAME)
            .with_attr(attr::PROTOCOL_VERSION, names::PROTOCOL_VERSION);
        let reply = within(step, "sign-on", client.request(signon))
            .await?
            .map_err(|e| match e {
                ClientError::Closed => Failure {
                    code: exitcode::CHECK_BUSY,
                    message: String::from(
                        "the node closed the connection after the handshake, before answering \
                         the sign-on: our key is right, but the node is at its limit of \
                         signed-on connections (max_connections) or stopping; its log says \
                         which",
                    ),
                },
                other => failure(exitcode::CHECK_PROTOCOL, other),
            })?;
        let rc = reply.attr(attr::RC).unwrap_or("");
        if rc == "-71" {
            return Err(Failure {
                code: exitcode::CHECK_PROTOCOL,
                message: format!(
                    "the node refused our protocol version {} (it speaks version {})",
                    names::PROTOCOL_VERSION,
                    reply.attr(attr::PROTOCOL_VERSION).unwrap_or("?")
                ),
            });
        }
        if rc != "0" || reply.attr(attr::CLIENT_ID).is_none() {
            return Err(Failure {
                code: exitcode::CHECK_PROTOCOL,
                message: format!("the node refused the sign-on (lrmd_rc={rc})"),
            });
        }
        let daemon = match reply.attr(attr::IMPLEMENTATION) {
            Some(v) => format!("pcmk-remoted {v}"),
            None => String::from(
                "Pacemaker's pacemaker-remoted (a connected cluster may have reconnected)",
            ),
        };
        lines.push(format!(
            "  signed on  protocol {}, {daemon}, in {}",
            reply.attr(attr::PROTOCOL_VERSION).unwrap_or("1.0"),
            ms(t)
        ));

        // A read-only request that no daemon announces to other clients.
        let t = Instant::now();
        let info = Element::new(LRMD_COMMAND)
            .with_attr(attr::T, "lrmd")
            .with_attr(attr::OP, op::RSC_INFO)
            .with_child(Element::new(LRMD_CALLDATA).with_child(
                Element::new(LRMD_RSC).with_attr(attr::RSC_ID, DIAGNOSTIC_CLIENT_NAME),
            ));
        within(step, "request", client.request(info))
            .await?
            .map_err(|e| failure(exitcode::CHECK_PROTOCOL, e))?;
        lines.push(format!("  round trip {}", ms(t)));
        let _ = within(Duration::from_secs(1), "close", client.close()).await;
        lines.push(format!(
            "OK: {host} port {port} is a Pacemaker Remote node that shares our key"
        ));
        Ok(lines.join("\n"))
    })
}

/// The exit status for a failed handshake: busy and "no key on the node" have their own, so
/// a script never takes them for a key mismatch.
fn handshake_status(e: &tls::HandshakeError) -> i32 {
    use tls::{AlertDescription, Error, HandshakeError, PeerAborted};
    match e {
        HandshakeError::Tls(Error::PeerAborted(PeerAborted::Alert(
            AlertDescription::UserCanceled,
        ))) => exitcode::CHECK_BUSY,
        HandshakeError::Tls(Error::PeerAborted(PeerAborted::Alert(
            AlertDescription::UnknownPskIdentity,
        ))) => exitcode::CHECK_NODE_HAS_NO_KEY,
        _ => exitcode::CHECK_TLS,
    }
}

/// Why `check` uses the key file it uses: the option, the setting, or the defaults, and
/// whether it fell back from the file named first (as the 2.1.5 daemon does).
fn key_origin(source: &KeySource, used: &std::path::Path) -> String {
    let first = source.candidates().into_iter().next();
    let fell_back = first.as_deref().is_some_and(|f| f != used);
    let env_named = ["PCMK_authkey_location", "HA_authkey_location"]
        .iter()
        .find(|v| std::env::var_os(v).is_some());
    let why = match (source, env_named) {
        (KeySource::Explicit(_), _) => String::from("given with --authkey"),
        (KeySource::Configured(p), Some(var)) => {
            format!("{var}={} in the environment", p.display())
        }
        (KeySource::Configured(p), None) => format!(
            "PCMK_authkey_location={} in the settings file (/etc/sysconfig/pacemaker or \
             /etc/default/pacemaker)",
            p.display()
        ),
        (KeySource::Default, _) => {
            String::from("the default location (no --authkey, no PCMK_authkey_location)")
        }
    };
    match (fell_back, first) {
        (true, Some(f)) => format!(
            "{why}; {} could not be used, so this is the fallback the daemon also takes",
            f.display()
        ),
        _ => why,
    }
}

fn failure(code: i32, e: ClientError) -> Failure {
    Failure {
        code,
        message: e.to_string(),
    }
}

async fn connect_any(
    addrs: &[SocketAddr],
    step: Duration,
) -> Result<(Async<TcpStream>, SocketAddr), Failure> {
    let mut last = None;
    for &addr in addrs {
        match within(step, "TCP connect", Async::<TcpStream>::connect(addr)).await {
            Ok(Ok(s)) => return Ok((s, addr)),
            Ok(Err(e)) => last = Some(connect_failure(addr, &e)),
            Err(f) => last = Some(f),
        }
    }
    Err(last.unwrap_or(Failure {
        code: exitcode::CHECK_NAME_RESOLUTION,
        message: String::from("the name resolved to no address"),
    }))
}

fn connect_failure(addr: SocketAddr, e: &io::Error) -> Failure {
    let (code, what) = match e.raw_os_error() {
        Some(libc::ECONNREFUSED) => (
            exitcode::CHECK_UNREACHABLE,
            "connection refused: nothing listens there (is the daemon running, and on this port?)",
        ),
        Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) | Some(libc::EHOSTDOWN) => (
            exitcode::CHECK_UNREACHABLE,
            "host or network unreachable: check addresses, routes and firewalls",
        ),
        _ => (exitcode::CHECK_FAILED, "connection failed"),
    };
    Failure {
        code,
        message: format!("{addr}: {what} ({e})"),
    }
}

/// Runs `fut` with a deadline; a late step is a timeout failure naming it.
async fn within<T>(
    limit: Duration,
    step: &str,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Failure> {
    let timeout = async {
        Timer::after(limit).await;
        None
    };
    future::or(async { Some(fut.await) }, timeout)
        .await
        .ok_or_else(|| Failure {
            code: exitcode::CHECK_TIMEOUT,
            message: format!("{step} did not finish within {} s", limit.as_secs()),
        })
}

fn ms(since: Instant) -> String {
    format!("{:.1} ms", since.elapsed().as_secs_f64() * 1000.0)
}
