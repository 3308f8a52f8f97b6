//! The X.509 settings (`PCMK_ca_file`, `PCMK_cert_file`, `PCMK_key_file`, `PCMK_crl_file`):
//! whether they switch this node to certificates, and where each path came from.
//!
//! In: the environment and the settings file, through [`Sources`]. Out: `Some(X509Settings)`
//! when the original would use X.509, plus warnings for settings that look meant but do
//! nothing. Files are not opened here; the TLS layer loads them and names the setting in
//! every error (tls-x509.md §1, §2).

use std::path::PathBuf;

use super::Sources;

/// One file setting: the path and where it was found, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSetting {
    /// The path as configured.
    pub path: PathBuf,
    /// The variable that gave it (`PCMK_ca_file`, `HA_ca_file` or `CIB_ca_file`).
    pub name: String,
    /// Where that variable was set (`environment`, `/etc/default/pacemaker:12`).
    pub origin: String,
}

impl std::fmt::Display for FileSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        if self.origin == "environment" {
            write!(f, "{path} ({} in the environment)", self.name)
        } else {
            write!(f, "{path} ({} at {})", self.name, self.origin)
        }
    }
}

/// The files of X.509 mode; present only when all three required settings are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X509Settings {
    /// Trusted CAs, the only ones a client certificate may chain to (tls-x509.md §3).
    pub ca_file: FileSetting,
    /// Our certificate (and any intermediates), sent to the cluster.
    pub cert_file: FileSetting,
    /// The private key of `cert_file`, unencrypted.
    pub key_file: FileSetting,
    /// Revoked client certificates; optional (tls-x509.md §4).
    pub crl_file: Option<FileSetting>,
}

/// The four settings by their base name, required ones first.
const REQUIRED: [&str; 3] = ["ca_file", "cert_file", "key_file"];
const OPTIONAL: &str = "crl_file";

/// Looks a setting up as the original does (tls-x509.md §1): `PCMK_x`, else `HA_x`; when
/// that is unset or empty, `CIB_x` (the name Pacemaker's clients use, which the daemon's
/// library also honours). Empty values count as unset.
fn lookup(sources: &Sources<'_>, base: &str) -> Option<FileSetting> {
    let pcmk = format!("PCMK_{base}");
    let found = sources
        .lookup(&pcmk)
        .filter(|f| !f.value.is_empty())
        .map(|f| (f, pcmk.clone()))
        .or_else(|| {
            let cib = format!("CIB_{base}");
            sources
                .lookup(&cib)
                .filter(|f| !f.value.is_empty())
                .map(|f| (f, cib))
        })?;
    let (f, name) = found;
    // `origin` is "environment HA_ca_file" or "FILE:LINE"; keep the variable that matched.
    let (name, origin) = match f.origin.strip_prefix("environment ") {
        Some(var) => (var.to_string(), String::from("environment")),
        None => (name, f.origin),
    };
    Some(FileSetting {
        path: PathBuf::from(f.value),
        name,
        origin,
    })
}

/// Decides the mode: `Some` when the CA, certificate and key files are all set, exactly
/// when the original switches to X.509; warnings for partial or stray settings, which the
/// original ignores silently.
pub fn load(sources: &Sources<'_>) -> (Option<X509Settings>, Vec<String>) {
    let mut warnings = Vec::new();
    let [ca, cert, key] = REQUIRED.map(|base| lookup(sources, base));
    let crl = lookup(sources, OPTIONAL);
    match (ca, cert, key) {
        (Some(ca_file), Some(cert_file), Some(key_file)) => (
            Some(X509Settings {
                ca_file,
                cert_file,
                key_file,
                crl_file: crl,
            }),
            warnings,
        ),
        (ca, cert, key) => {
            let set: Vec<&FileSetting> = [&ca, &cert, &key].into_iter().flatten().collect();
            if !set.is_empty() {
                let missing: Vec<String> = REQUIRED
                    .iter()
                    .zip([&ca, &cert, &key])
                    .filter(|(_, s)| s.is_none())
                    .map(|(base, _)| format!("PCMK_{base}"))
                    .collect();
                let named: Vec<&str> = set.iter().map(|s| s.name.as_str()).collect();
                warnings.push(format!(
                    "{} set but {} not: X.509 mode needs PCMK_ca_file, PCMK_cert_file and \
                     PCMK_key_file together, so this node uses the authentication key (PSK), \
                     as Pacemaker does",
                    named.join(", "),
                    missing.join(" and ")
                ));
            }
            if let Some(crl) = crl {
                warnings.push(format!(
                    "{} is set but X.509 mode is off (it needs PCMK_ca_file, PCMK_cert_file and \
                     PCMK_key_file): ignored",
                    crl.name
                ));
            }
            (None, warnings)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::envfile::EnvFile;
    use std::collections::HashMap;

    fn settings(env: &[(&str, &str)], file: &str) -> (Option<X509Settings>, Vec<String>) {
        let map: HashMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |k: &str| map.get(k).cloned();
        let mut sources = Sources::env_only(&lookup);
        sources.file = Some((
            PathBuf::from("/etc/default/pacemaker"),
            EnvFile::parse(file),
        ));
        load(&sources)
    }

    #[test]
    fn all_three_switch_x509_on() {
        let file = "PCMK_ca_file=/c/ca.pem\nPCMK_cert_file=/c/n.pem\nPCMK_key_file=/c/n.key\n";
        let (s, w) = settings(&[], file);
        let s = s.unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(s.ca_file.path, PathBuf::from("/c/ca.pem"));
        assert_eq!(s.ca_file.origin, "/etc/default/pacemaker:1");
        assert_eq!(s.key_file.name, "PCMK_key_file");
        assert!(s.crl_file.is_none());
        assert_eq!(
            s.cert_file.to_string(),
            "/c/n.pem (PCMK_cert_file at /etc/default/pacemaker:2)"
        );
    }

    #[test]
    fn ha_and_cib_names_are_fallbacks_and_the_environment_wins() {
        let env = [
            ("HA_ca_file", "/e/ca.pem"),
            ("CIB_cert_file", "/e/n.pem"),
            ("PCMK_key_file", "/e/n.key"),
            ("PCMK_crl_file", "/e/crl.pem"),
        ];
        let (s, _) = settings(&env, "PCMK_key_file=/f/n.key\n");
        let s = s.unwrap();
        assert_eq!(
            (s.ca_file.name.as_str(), s.ca_file.origin.as_str()),
            ("HA_ca_file", "environment")
        );
        assert_eq!(s.cert_file.name, "CIB_cert_file");
        assert_eq!(s.key_file.path, PathBuf::from("/e/n.key"));
        assert_eq!(s.crl_file.unwrap().path, PathBuf::from("/e/crl.pem"));
    }

    #[test]
    fn partial_settings_keep_psk_and_say_why() {
        let (s, w) = settings(
            &[("PCMK_ca_file", "/ca.pem"), ("PCMK_crl_file", "/crl")],
            "",
        );
        assert!(s.is_none());
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("PCMK_ca_file set but PCMK_cert_file and PCMK_key_file not"),
            "{}",
            w[0]
        );
        assert!(
            w[1].contains("PCMK_crl_file is set but X.509 mode is off"),
            "{}",
            w[1]
        );
    }

    #[test]
    fn empty_values_count_as_unset() {
        let env = [
            ("PCMK_ca_file", ""),
            ("PCMK_cert_file", "/n.pem"),
            ("PCMK_key_file", "/n.key"),
        ];
        let (s, w) = settings(&env, "");
        assert!(s.is_none());
        assert_eq!(w.len(), 1);
        let (s, w) = settings(&[], "");
        assert!(s.is_none() && w.is_empty());
    }
}
