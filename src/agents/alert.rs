//! Alert agents (feature `alerts`): `lrmd_alert_exec` runs an executable with the
//! `CRM_alert_*` variables the cluster sends, as user `hacluster` (protocol.md 9.9, 12.8).
//!
//! In: the alert's path and variables, the daemon's sequence counter, and the uid and gid of
//! `hacluster` (looked up by the caller). Out: the command to run. Pure: it checks nothing on
//! disk; the outcome is only logged, and no notification is ever sent for an alert.

use std::path::PathBuf;

use crate::process::Invocation;

/// The user alert agents run as; its primary group (`haclient` on Debian) goes with it.
pub const ALERT_USER: &str = "hacluster";

/// The command of one alert: `path` run as `user` with the variables the request carries (those
/// the environment can hold) and the sequence counter.
pub fn invocation(
    path: &str,
    params: &[(String, String)],
    sequence: u64,
    user: (u32, u32),
) -> Invocation {
    let mut env: Vec<(String, String)> = params
        .iter()
        .filter(|(k, v)| !k.is_empty() && !k.contains(['=', '\0']) && !v.contains('\0'))
        .cloned()
        .collect();
    // The original exports the counter under both names (2.1.5 keeps the legacy one).
    env.push((
        String::from("CRM_alert_node_sequence"),
        sequence.to_string(),
    ));
    env.push((
        String::from("CRM_notify_node_sequence"),
        sequence.to_string(),
    ));
    Invocation {
        program: PathBuf::from(path),
        args: Vec::new(),
        env,
        user: Some(user),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_export_their_variables_and_the_sequence() {
        let params = vec![
            ("CRM_alert_kind".into(), "node".into()),
            ("bad=".into(), "x".into()),
        ];
        let inv = invocation(
            "/usr/share/pacemaker/alerts/alert_file.sh",
            &params,
            3,
            (990, 990),
        );
        assert!(inv.args.is_empty());
        assert_eq!(
            inv.env,
            [
                ("CRM_alert_kind".to_string(), "node".to_string()),
                ("CRM_alert_node_sequence".into(), "3".into()),
                ("CRM_notify_node_sequence".into(), "3".into()),
            ]
        );
        assert_eq!(inv.user, Some((990, 990)));
    }
}
