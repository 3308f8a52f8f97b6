//! X.509 mode end to end (docs/tls-x509.md): the real daemon started with `PCMK_ca_file`,
//! `PCMK_cert_file`, `PCMK_key_file` (and `PCMK_crl_file`), certificates made at test time
//! by `tests/pcmk3/x509-certs` with the openssl command-line tool, and clients that present
//! good, wrong-CA, expired, not-yet-valid, revoked and no certificates. Each refusal must
//! be one log line naming the certificate, the reason and the setting to check; the good
//! client signs on as a cluster node does. `gnutls-cli` plays the cluster's TLS library.
//!
//! A missing openssl or gnutls-cli skips its tests ("skipped: ... not found"), unless
//! PCMKR_REQUIRE_INTEROP=1, where it fails.
// Test helpers panic on setup failures; that is a failed test, as intended.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use common::{as_request, poll_until, register, xml_bytes, Daemon, Options, Scratch, STEP};
use pcmk_remoted::proto::names::attr;
use pcmk_remoted::proto::xml::{self, Element};
use pcmk_remoted::wire::{deframer, Deframer};

/// Finds `name` on PATH, or reports the skip (or fails under PCMKR_REQUIRE_INTEROP=1).
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("PCMKR_REQUIRE_INTEROP").as_deref() != Ok("1"),
            "{name} not found and PCMKR_REQUIRE_INTEROP=1"
        );
        println!("skipped: {name} not found");
    }
    found
}

/// The certificates of `tests/pcmk3/x509-certs`, in a directory removed at the end.
struct Certs {
    dir: Scratch,
}

impl Certs {
    fn make() -> Option<Certs> {
        tool("openssl")?;
        let dir = Scratch::new("x509");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pcmk3/x509-certs");
        let status = Command::new("bash")
            .arg(&script)
            .arg(&dir.dir)
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "{} failed", script.display());
        Some(Certs { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path(name)
    }

    fn path_str(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }

    /// Daemon options for X.509 mode with `crl` (a file name here) as PCMK_crl_file.
    fn daemon_options(&self, crl: Option<&str>) -> Options {
        let mut o = Daemon::options()
            .env("PCMK_ca_file", &self.path_str("ca.pem"))
            .env("PCMK_cert_file", &self.path_str("node.pem"))
            .env("PCMK_key_file", &self.path_str("node.key"));
        if let Some(crl) = crl {
            o = o.env("PCMK_crl_file", &self.path_str(crl));
        }
        o
    }

    fn daemon(&self) -> Daemon {
        self.daemon_options(Some("crl.pem")).start()
    }

    /// A TLS 1.3 client trusting ca.pem, presenting `who`.pem (or nothing).
    fn client_config(&self, who: Option<&str>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots);
        let config = match who {
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{name}.pem")))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key = PrivateKeyDer::from_pem_file(self.path(&format!("{name}.key"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }
}

type Stream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// Connects and completes the client side of the handshake (in TLS 1.3 the server checks
/// our certificate after that, so a refusal shows on the first read).
fn connect(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> io::Result<Stream> {
    let tcp = TcpStream::connect_timeout(&addr, STEP)?;
    tcp.set_read_timeout(Some(STEP))?;
    tcp.set_write_timeout(Some(STEP))?;
    let name = ServerName::try_from("remote-node").unwrap();
    let conn = rustls::ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    // Each turn moves handshake bytes or fails; the socket timeouts bound it.
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Signs on as a cluster node: the header and the body as separate records, as the C
/// client sends them; returns the reply.
fn sign_on(stream: &mut Stream) -> io::Result<Element> {
    let request = as_request(register("x509-cluster-node", true), 1);
    let (header, payload) = deframer::encode(1, &xml_bytes(&request));
    stream.write_all(&header)?;
    stream.flush()?;
    stream.write_all(&payload)?;
    stream.flush()?;
    let mut deframer = Deframer::new(1 << 20);
    let mut buf = vec![0u8; 16 * 1024];
    // Each turn reads at least one byte or fails; the read timeout bounds it.
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut input = &buf[..n];
        while !input.is_empty() {
            let (used, frame) = deframer.feed(input).map_err(io::Error::other)?;
            input = &input[used..];
            if let Some(frame) = frame {
                return xml::parse(&frame.payload, &Default::default()).map_err(io::Error::other);
            }
        }
    }
}

/// The connection with `who`'s certificate must be refused; returns the error the client
/// saw. The daemon says nothing before the sign-on, so the first read shows the alert.
fn refused(daemon: &Daemon, certs: &Certs, who: Option<&str>) -> String {
    let mut stream = match connect(daemon.addr, certs.client_config(who)) {
        Ok(s) => s,
        Err(e) => return e.to_string(),
    };
    match stream.read(&mut [0u8; 64]) {
        Ok(0) => String::from("closed without an alert"),
        Ok(n) => panic!("{who:?} was accepted: {n} bytes arrived"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn good_client_certificates_sign_on() {
    let Some(certs) = Certs::make() else { return };
    let d = certs.daemon();
    let line = d.wait_log("listening on", STEP);
    assert!(
        line.contains("X.509: our certificate 'O=pcmkr test,CN=remote-node'")
            && line.contains("client certificates required")
            && line.contains("PCMK_crl_file"),
        "{line}"
    );
    // ECDSA and RSA keys; and a certificate for serverAuth only, which GnuTLS accepts from
    // a client too (tls-x509.md §3).
    for who in ["cluster", "rsa-client", "server-eku"] {
        let mut stream = connect(d.addr, certs.client_config(Some(who))).unwrap();
        let reply = sign_on(&mut stream).unwrap_or_else(|e| panic!("{who}: {e}\n{}", d.log()));
        assert_eq!(reply.attr(attr::RC), Some("0"), "{who}: {reply:?}");
        assert!(reply.attr(attr::CLIENT_ID).is_some(), "{who}");
    }
    assert!(!d.log().contains("refused"), "{}", d.log());
    // Which certificate got in is logged.
    d.wait_log(
        "client certificate 'O=pcmkr test,CN=node1' (issued by 'CN=pcmkr test CA,O=pcmkr test', serial",
        STEP,
    );
    // No key is read in X.509 mode, so none is asked for.
    assert!(!d.log().contains("authkey"), "{}", d.log());
}

#[test]
fn wrong_ca_is_refused_naming_the_certificate_and_the_setting() {
    let Some(certs) = Certs::make() else { return };
    let d = certs.daemon();
    let seen = refused(&d, &certs, Some("wrong-ca"));
    assert!(seen.contains("UnknownCA"), "client saw: {seen}");
    let line = d.wait_log("wrong CA", STEP);
    assert!(
        line.contains("client certificate 'O=pcmkr test,CN=node1' refused: wrong CA")
            && line.contains("issued by 'CN=pcmkr other CA,O=pcmkr test'")
            && line.contains(&format!(
                "{} (PCMK_ca_file in the environment)",
                certs.path_str("ca.pem")
            )),
        "{line}"
    );
    // Another CA with exactly our CA's name is the wrong CA as well.
    let seen = refused(&d, &certs, Some("impostor"));
    assert!(seen.contains("UnknownCA"), "client saw: {seen}");
    let line = d.wait_log("did not sign it", STEP);
    assert!(
        line.contains("wrong CA") && line.contains("PCMK_ca_file"),
        "{line}"
    );
}

#[test]
fn expired_and_not_yet_valid_certificates_are_refused_with_their_dates() {
    let Some(certs) = Certs::make() else { return };
    let d = certs.daemon();
    let seen = refused(&d, &certs, Some("expired"));
    assert!(seen.contains("CertificateExpired"), "client saw: {seen}");
    let line = d.wait_log("expired on", STEP);
    assert!(
        line.contains("client certificate 'O=pcmkr test,CN=expired-node1' refused")
            && line.contains("expired on 2020-02-01 00:00:00 UTC")
            && line.contains("PCMK_cert_file"),
        "{line}"
    );
    refused(&d, &certs, Some("future"));
    let line = d.wait_log("not valid before", STEP);
    assert!(
        line.contains("'O=pcmkr test,CN=future-node1'") && line.contains("2099-01-01"),
        "{line}"
    );
}

#[test]
fn revoked_certificate_is_refused_naming_the_crl() {
    let Some(certs) = Certs::make() else { return };
    let d = certs.daemon();
    let seen = refused(&d, &certs, Some("revoked"));
    assert!(seen.contains("CertificateRevoked"), "client saw: {seen}");
    let line = d.wait_log("revoked:", STEP);
    assert!(
        line.contains("client certificate 'O=pcmkr test,CN=revoked-node1' refused: revoked")
            && line.contains(&format!(
                "is listed in {} (PCMK_crl_file in the environment)",
                certs.path_str("crl.pem")
            )),
        "{line}"
    );
    // The others still get in.
    let mut stream = connect(d.addr, certs.client_config(Some("cluster"))).unwrap();
    assert_eq!(sign_on(&mut stream).unwrap().attr(attr::RC), Some("0"));
}

#[test]
fn crls_are_read_as_gnutls_reads_them() {
    let Some(certs) = Certs::make() else { return };
    // Past its next update: still used (revoked stays out, the rest get in).
    let d = certs.daemon_options(Some("stale-crl.pem")).start();
    refused(&d, &certs, Some("revoked"));
    d.wait_log("revoked:", STEP);
    let mut stream = connect(d.addr, certs.client_config(Some("cluster"))).unwrap();
    assert_eq!(sign_on(&mut stream).unwrap().attr(attr::RC), Some("0"));
    drop(d);
    // Another CA's list, and no list: nobody is revoked; without PCMK_crl_file neither.
    for crl in [Some("other-crl.pem"), Some("empty-crl.pem"), None] {
        let d = certs.daemon_options(crl).start();
        for who in ["cluster", "revoked"] {
            let mut stream = connect(d.addr, certs.client_config(Some(who))).unwrap();
            let reply = sign_on(&mut stream).unwrap_or_else(|e| panic!("{crl:?} {who}: {e}"));
            assert_eq!(reply.attr(attr::RC), Some("0"));
        }
    }
}

#[test]
fn client_without_certificate_is_refused_and_told_what_to_set() {
    let Some(certs) = Certs::make() else { return };
    let d = certs.daemon();
    let seen = refused(&d, &certs, None);
    assert!(seen.contains("CertificateRequired"), "client saw: {seen}");
    let line = d.wait_log("sent no certificate", STEP);
    assert!(
        line.contains("PCMK_cert_file") && line.contains("on the cluster nodes"),
        "{line}"
    );
}

#[test]
fn a_client_closing_after_our_certificate_is_taken_as_refusing_it() {
    let Some(certs) = Certs::make() else { return };
    let d = certs.daemon();
    // What Pacemaker's client does when it does not trust our certificate: it closes the
    // connection after our flight, without an alert (measured with 3.0.3).
    let mut tcp = TcpStream::connect_timeout(&d.addr, STEP).unwrap();
    tcp.set_read_timeout(Some(STEP)).unwrap();
    let name = ServerName::try_from("remote-node").unwrap();
    let mut conn =
        rustls::ClientConnection::new(certs.client_config(Some("cluster")), name).unwrap();
    conn.write_tls(&mut tcp).unwrap();
    let mut flight = [0u8; 4096];
    let n = tcp.read(&mut flight).unwrap();
    assert!(n > 0, "no server flight");
    drop(tcp);
    let line = d.wait_log("closed the connection after our certificate", STEP);
    assert!(
        line.contains("'O=pcmkr test,CN=remote-node'") && line.contains("PCMK_cert_file"),
        "{line}"
    );
}

#[test]
fn psk_clients_are_refused_in_x509_mode() {
    let Some(certs) = Certs::make() else { return };
    let d = certs.daemon();
    // Our own PSK client (what `check` uses) has the daemon's key file, but X.509 mode does
    // not take keys at all, as the original (tls-x509.md §7).
    let result = common::run(STEP * 2, "psk client", common::connect(d.addr, &d.key));
    assert!(result.is_err(), "a PSK client got in");
    let line = d.wait_log("TLS handshake failed", STEP);
    assert!(!line.contains("refused: wrong CA"), "{line}");
}

#[test]
fn gnutls_with_pacemakers_settings_connects() {
    let Some(certs) = Certs::make() else { return };
    let Some(gnutls) = tool("gnutls-cli") else {
        return;
    };
    let d = certs.daemon();
    // What Pacemaker's client sets in X.509 mode: priority "NORMAL" (PCMK_tls_priorities
    // unset), its CA, certificate and key; no host-name check (gnutls-cli checks one, so the
    // test certificate carries 127.0.0.1).
    let run = |who: &str, ca: &str| {
        let mut child = Command::new(&gnutls)
            .args(["--priority", "NORMAL", "-p", &d.addr.port().to_string()])
            .arg("--x509cafile")
            .arg(certs.path(ca))
            .arg("--x509certfile")
            .arg(certs.path(&format!("{who}.pem")))
            .arg("--x509keyfile")
            .arg(certs.path(&format!("{who}.key")))
            .arg("127.0.0.1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Closing stdin ends gnutls-cli once the handshake is done.
        drop(child.stdin.take());
        let done = poll_until(Duration::from_secs(20), || child.try_wait().unwrap());
        if done.is_none() {
            let _ = child.kill();
        }
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    let out = run("cluster", "ca.pem");
    assert!(out.contains("Handshake was completed"), "{out}");
    assert!(out.contains("TLS1.3"), "{out}");
    d.wait_log("TLS handshake complete", STEP);
    run("expired", "ca.pem");
    d.wait_log("expired on 2020-02-01", STEP);
    // The cluster checks our certificate against its own CA file: one from another CA
    // refuses it, and our log says so.
    run("cluster", "other-ca.pem");
    let line = d.wait_log("refused our certificate", STEP);
    assert!(
        line.contains("'O=pcmkr test,CN=remote-node'")
            && line.contains("PCMK_cert_file")
            && line.contains("cluster nodes' PCMK_ca_file"),
        "{line}"
    );
}

/// Starts the daemon in X.509 mode with `env` over the good settings; it must exit 100
/// (Pacemaker's CRM_EX_FATAL, as the original) and log `needle`.
fn start_fails(certs: &Certs, env: &[(&str, String)], needle: &str) -> String {
    let scratch = Scratch::new("x509-start");
    let log = scratch.path("stderr");
    let mut cmd = Command::new(common::BINARY);
    cmd.args([
        "--port",
        "1",
        "--address",
        "127.0.0.1",
        "--sysconfig",
        "none",
    ])
    .env("PCMK_logfile", "none")
    .env("PCMK_logfacility", "none")
    .env("PCMK_remoted_local_ipc", "no")
    .env("PCMK_ca_file", certs.path("ca.pem"))
    .env("PCMK_cert_file", certs.path("node.pem"))
    .env("PCMK_key_file", certs.path("node.key"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let status = poll_until(Duration::from_secs(10), || child.try_wait().unwrap());
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let Some(status) = status else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("daemon kept running with {env:?}:\n{text}");
    };
    assert_eq!(status.code(), Some(100), "{env:?}:\n{text}");
    let line = text
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} for {env:?}:\n{text}"))
        .to_string();
    assert!(line.contains("exiting"), "{line}");
    line
}

#[test]
fn unusable_files_stop_the_start_with_the_setting_named() {
    let Some(certs) = Certs::make() else { return };
    let dir = &certs.dir;
    std::fs::write(dir.path("garbage.pem"), "garbage\n").unwrap();
    let der = Command::new("openssl")
        .args(["x509", "-outform", "der", "-in"])
        .arg(certs.path("ca.pem"))
        .output()
        .unwrap()
        .stdout;
    std::fs::write(dir.path("ca.der"), der).unwrap();
    let status = Command::new("openssl")
        .args(["pkey", "-aes256", "-passout", "pass:secret", "-in"])
        .arg(certs.path("node.key"))
        .arg("-out")
        .arg(dir.path("encrypted.key"))
        .status()
        .unwrap();
    assert!(status.success());
    let p = |n: &str| certs.path_str(n);

    let line = start_fails(
        &certs,
        &[("PCMK_ca_file", p("missing.pem"))],
        "PCMK_ca_file",
    );
    assert!(
        line.contains("cannot read it") && line.contains("missing.pem"),
        "{line}"
    );
    let line = start_fails(
        &certs,
        &[("PCMK_ca_file", p("garbage.pem"))],
        "PCMK_ca_file",
    );
    assert!(line.contains("not a PEM file"), "{line}");
    let line = start_fails(&certs, &[("PCMK_ca_file", p("ca.der"))], "PCMK_ca_file");
    assert!(line.contains("binary DER"), "{line}");
    let line = start_fails(
        &certs,
        &[("PCMK_cert_file", p("node.key"))],
        "PCMK_cert_file",
    );
    assert!(line.contains("holds no certificate"), "{line}");
    let line = start_fails(
        &certs,
        &[("PCMK_key_file", p("cluster.key"))],
        "PCMK_key_file",
    );
    assert!(
        line.contains("does not belong to the certificate"),
        "{line}"
    );
    let line = start_fails(
        &certs,
        &[("PCMK_key_file", p("encrypted.key"))],
        "PCMK_key_file",
    );
    assert!(line.contains("encrypted"), "{line}");
    let line = start_fails(
        &certs,
        &[("PCMK_crl_file", p("missing-crl.pem"))],
        "PCMK_crl_file",
    );
    assert!(line.contains("cannot read it"), "{line}");
    let line = start_fails(
        &certs,
        &[("PCMK_crl_file", p("garbage.pem"))],
        "PCMK_crl_file",
    );
    assert!(line.contains("not a PEM file"), "{line}");
    // The HA_ name works and is the one named.
    let line = start_fails(
        &certs,
        &[("HA_crl_file", p("missing-crl.pem"))],
        "HA_crl_file",
    );
    assert!(line.contains("cannot read it"), "{line}");
}

#[test]
fn partial_settings_keep_psk_with_a_warning() {
    let Some(certs) = Certs::make() else { return };
    let d = Daemon::options()
        .env("PCMK_ca_file", &certs.path_str("ca.pem"))
        .env("PCMK_cert_file", &certs.path_str("node.pem"))
        .start();
    d.wait_log(
        "X.509 mode needs PCMK_ca_file, PCMK_cert_file and PCMK_key_file",
        STEP,
    );
    assert!(d.log().contains("(TLS-PSK, Pacemaker Remote protocol)"));
    d.assert_serves();
}
