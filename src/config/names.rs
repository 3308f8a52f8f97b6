//! Typo protection: settings named with our prefixes that nothing reads.
//!
//! A misspelt `PCMK_remoted_limit_max_chidlren=4` would otherwise be ignored in silence and
//! the node would run with a bound its operator believes changed. At start each unknown name
//! is warned about once, with the closest known name when there is one.

use crate::limits::TUNABLE;

/// Names under our prefixes that are read, other than `PCMK_remoted_limit_<TUNABLE>`.
pub const KNOWN: &[&str] = &[
    "PCMK_remote_port",
    "PCMK_remote_address",
    "PCMK_remote_pid1",
    "PCMK_remote_schema_directory",
    "PCMK_remoted_allow_psk_ke",
    "PCMK_remoted_ipc_framing",
    "PCMK_remoted_local_ipc",
    "PCMK_remoted_ocf_root",
    "PCMK_remoted_ocf_ra_path",
    "PCMK_remoted_lsb_dir",
    "PCMK_remoted_nagios_dir",
    "PCMK_remoted_secrets_dir",
];

/// Every known name, limits included.
fn known() -> Vec<String> {
    KNOWN
        .iter()
        .map(|n| n.to_string())
        .chain(TUNABLE.iter().map(|t| format!("PCMK_remoted_limit_{t}")))
        .collect()
}

/// One warning per distinct name under `PCMK_remote_` or `PCMK_remoted_` (or their `HA_`
/// spellings) that nothing reads, naming where it was found and the closest known name.
pub fn unknown(names: &[(String, String)]) -> Vec<String> {
    let known = known();
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for (name, origin) in names {
        let canonical = match name.strip_prefix("HA_") {
            Some(rest) => format!("PCMK_{rest}"),
            None => name.clone(),
        };
        if !canonical.starts_with("PCMK_remote_") && !canonical.starts_with("PCMK_remoted_") {
            continue;
        }
        if known.contains(&canonical) || seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        let best = known
            .iter()
            .map(|k| (distance(&canonical, k), k))
            .min()
            .filter(|(d, _)| *d <= 3);
        let shown = crate::logging::escaped(name);
        out.push(match best {
            Some((_, k)) => {
                format!("unknown setting {shown} ({origin}) is ignored; did you mean {k}?")
            }
            None => format!("unknown setting {shown} ({origin}) is ignored"),
        });
    }
    out
}

/// Edit distance (insertions, deletions, substitutions), for the suggestion.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(here).min(row[j])
            };
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<(String, String)> {
        list.iter()
            .map(|n| (n.to_string(), "environment".to_string()))
            .collect()
    }

    #[test]
    fn a_typo_is_warned_once_with_the_close_match() {
        let w = unknown(&names(&[
            "PCMK_remoted_limit_max_chidlren",
            "PCMK_remoted_limit_max_chidlren",
            "PCMK_remote_prot",
        ]));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("did you mean PCMK_remoted_limit_max_children?"),
            "{w:?}"
        );
        assert!(w[1].contains("did you mean PCMK_remote_port?"), "{w:?}");
    }

    #[test]
    fn known_and_foreign_names_pass_and_far_ones_get_no_guess() {
        let w = unknown(&names(&[
            "PCMK_remote_port",
            "HA_remote_address",
            "PCMK_remoted_limit_write_timeout_ms",
            "PCMK_logfile",
            "PATH",
        ]));
        assert!(w.is_empty(), "{w:?}");
        let w = unknown(&names(&["PCMK_remoted_something_else_entirely"]));
        assert_eq!(w.len(), 1);
        assert!(!w[0].contains("did you mean"), "{w:?}");
    }
}
