//! Why a peer's certificate was refused (X.509 mode, tls-x509.md §3, §6), in words that name
//! the certificate, the reason and the setting to check.
//!
//! In: what the certificate check found. Out: one `Display` line for the daemon's log; the
//! strings inside are the peer's and are escaped when shown. Always compiled, so the error
//! type and its explanations do not depend on the `tls-x509` feature; only that feature
//! builds these values.

use std::fmt;

/// Why a client certificate was refused, with what an operator needs to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The certificate's subject, if it could be read.
    pub subject: Option<String>,
    /// What was wrong.
    pub reason: Reason,
    /// `PCMK_ca_file` as configured (path and where it was set), for the message.
    pub ca_file: String,
    /// `PCMK_crl_file` likewise, if set.
    pub crl_file: Option<String>,
}

/// The ways a client certificate fails, each with its own advice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The client sent an empty certificate list.
    NoCertificate,
    /// No CA of `PCMK_ca_file` issued it: the wrong CA.
    UnknownIssuer {
        /// The issuer named in the certificate.
        issuer: String,
    },
    /// Past its end of validity.
    Expired {
        /// Its end of validity, seconds since the epoch.
        not_after: i64,
        /// Our clock at the check.
        now: i64,
    },
    /// Before its start of validity.
    NotYetValid {
        /// Its start of validity.
        not_before: i64,
        /// Our clock at the check.
        now: i64,
    },
    /// Listed in `PCMK_crl_file`.
    Revoked {
        /// Its serial number in hex.
        serial: String,
    },
    /// A CA of the same name is configured, but its key did not sign this certificate: the
    /// wrong CA too.
    BadSignature {
        /// The issuer named in the certificate.
        issuer: String,
    },
    /// The bytes are not a certificate we can parse.
    Malformed,
    /// The other way round: the client refused our certificate with this alert during the
    /// handshake (the cluster checks ours against its own PCMK_ca_file, tls-x509.md §3).
    OursRefused {
        /// The alert it sent; `None` when it just closed the connection after our
        /// certificate, as Pacemaker's client does when it does not trust it (measured with
        /// 3.0.3).
        alert: Option<super::error::AlertDescription>,
        /// Our certificate's subject.
        ours: String,
        /// `PCMK_cert_file` as configured.
        cert_file: String,
    },
    /// Anything else the path check found (a CA used as end entity, a broken constraint,
    /// an algorithm we lack), as webpki names it.
    Other(String),
}

impl Rejection {
    /// The rejection for a client that sent no certificate at all.
    pub fn no_certificate(ca_file: &str, crl_file: Option<&str>) -> Self {
        Self {
            subject: None,
            reason: Reason::NoCertificate,
            ca_file: ca_file.to_string(),
            crl_file: crl_file.map(str::to_string),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.subject {
            Some(s) => format!("client certificate '{}'", crate::logging::escaped(s)),
            None => String::from("client certificate"),
        };
        let ca = &self.ca_file;
        match &self.reason {
            Reason::NoCertificate => write!(
                f,
                "the client sent no certificate, but X.509 mode (PCMK_ca_file, PCMK_cert_file \
                 and PCMK_key_file set here) requires one, issued by a CA in {ca}: set \
                 PCMK_ca_file, PCMK_cert_file and PCMK_key_file on the cluster nodes as well \
                 (a node without them uses the authentication key, which this node no longer \
                 accepts)"
            ),
            Reason::UnknownIssuer { issuer } => write!(
                f,
                "{who} refused: wrong CA: it was issued by '{}', which is not one of the \
                 CAs in {ca}; the cluster nodes' certificates must come from a CA in this \
                 node's PCMK_ca_file",
                crate::logging::escaped(issuer)
            ),
            Reason::Expired { not_after, now } => write!(
                f,
                "{who} refused: expired on {} (this node's clock says {}); renew the cluster \
                 node's certificate (its PCMK_cert_file), and check the clocks",
                format_time(*not_after),
                format_time(*now)
            ),
            Reason::NotYetValid { not_before, now } => write!(
                f,
                "{who} refused: not valid before {} (this node's clock says {}); check this \
                 node's clock",
                format_time(*not_before),
                format_time(*now)
            ),
            Reason::Revoked { serial } => write!(
                f,
                "{who} refused: revoked: serial {serial} is listed in {}; give that cluster \
                 node a new certificate (its PCMK_cert_file)",
                self.crl_file.as_deref().unwrap_or("(unset)")
            ),
            Reason::BadSignature { issuer } => write!(
                f,
                "{who} refused: wrong CA: its issuer is named '{}' like a CA in {ca}, but \
                 that CA did not sign it (another CA of the same name did); the cluster \
                 nodes' certificates must come from a CA in this node's PCMK_ca_file",
                crate::logging::escaped(issuer)
            ),
            Reason::Malformed => write!(f, "{who} refused: it is not a valid X.509 certificate"),
            Reason::OursRefused {
                alert,
                ours,
                cert_file,
            } => {
                let how = match alert {
                    Some(a) => format!(
                        "refused our certificate '{}' (alert {a})",
                        crate::logging::escaped(ours)
                    ),
                    None => format!(
                        "closed the connection after our certificate '{}' without a word, as \
                         Pacemaker's client does when it does not trust it",
                        crate::logging::escaped(ours)
                    ),
                };
                write!(
                    f,
                    "the client {how}; ours is {cert_file}: the cluster nodes' PCMK_ca_file must \
                     hold the CA that issued it, and it must be valid; a cluster node without \
                     X.509 settings (using the authentication key) refuses any certificate"
                )
            }
            Reason::Other(why) => write!(f, "{who} refused: {why} (checked against {ca})"),
        }
    }
}

/// `seconds` since the epoch as `YYYY-MM-DD HH:MM:SS UTC`, for log lines.
pub fn format_time(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Days to a civil date (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_time(4_102_444_800), "2100-01-01 00:00:00 UTC");
        assert_eq!(format_time(-1), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn each_reason_names_the_certificate_the_cause_and_the_setting() {
        let base = Rejection {
            subject: Some(String::from("CN=node1,O=x")),
            reason: Reason::Malformed,
            ca_file: String::from("/etc/pacemaker/ca.pem (PCMK_ca_file in the environment)"),
            crl_file: Some(String::from(
                "/etc/pacemaker/crl.pem (PCMK_crl_file in the environment)",
            )),
        };
        let with = |reason| {
            Rejection {
                reason,
                ..base.clone()
            }
            .to_string()
        };
        let wrong = with(Reason::UnknownIssuer {
            issuer: String::from("CN=Other CA"),
        });
        assert!(
            wrong.contains("'CN=node1,O=x'") && wrong.contains("wrong CA"),
            "{wrong}"
        );
        assert!(
            wrong.contains("'CN=Other CA'")
                && wrong.contains("CAs in /etc/pacemaker/ca.pem (PCMK_ca_file in the environment)"),
            "{wrong}"
        );
        let expired = with(Reason::Expired {
            not_after: 1_580_515_200,
            now: 1_800_000_000,
        });
        assert!(
            expired.contains("expired on 2020-02-01 00:00:00 UTC")
                && expired.contains("PCMK_cert_file"),
            "{expired}"
        );
        let revoked = with(Reason::Revoked {
            serial: String::from("1006"),
        });
        assert!(
            revoked.contains("serial 1006")
                && revoked.contains("listed in /etc/pacemaker/crl.pem (PCMK_crl_file"),
            "{revoked}"
        );
        let closed = with(Reason::OursRefused {
            alert: None,
            ours: String::from("CN=remote-node"),
            cert_file: String::from("/n.pem (PCMK_cert_file in the environment)"),
        });
        assert!(
            closed.contains("closed the connection after our certificate 'CN=remote-node'")
                && closed.contains("/n.pem (PCMK_cert_file"),
            "{closed}"
        );
        let ours = with(Reason::OursRefused {
            alert: Some(super::super::error::AlertDescription::UnknownCa),
            ours: String::from("CN=remote-node"),
            cert_file: String::from("/n.pem (PCMK_cert_file in the environment)"),
        });
        assert!(
            ours.contains("refused our certificate 'CN=remote-node'")
                && ours.contains("unknown_ca (48)"),
            "{ours}"
        );
        let none = Rejection::no_certificate("/ca.pem", None).to_string();
        assert!(
            none.contains("sent no certificate") && none.contains("PCMK_cert_file"),
            "{none}"
        );
        let control = Rejection {
            subject: Some(String::from("CN=a\nb\u{1b}[31m")),
            ..base.clone()
        }
        .to_string();
        assert!(
            !control.contains('\n') && !control.contains('\u{1b}'),
            "{control:?}"
        );
    }
}
