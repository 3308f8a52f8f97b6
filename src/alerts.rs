//! Alert agents (feature `alerts`): `lrmd_alert_exec` runs an executable with the
//! `CRM_alert_*` variables the cluster sends, as user `hacluster` (protocol.md 9.9, 12.8).
//!
//! In: the request's alert data and the daemon's sequence counter. Out: an invocation, or
//! the negative errno the reply carries. The outcome is only logged: no notification is ever
//! sent for an alert.

use std::path::PathBuf;

use crate::agents::{Invocation, Mapping};
use crate::proto::names::rc;
use crate::proto::request::AlertSpec;

/// The user alert agents run as; its primary group (`haclient` on Debian) goes with it.
pub const ALERT_USER: &str = "hacluster";

/// Builds the invocation of one alert, or the reply's error code: EINVAL for a missing id or
/// path, or for a missing `hacluster` user, as the original answers.
pub fn prepare(spec: &AlertSpec, sequence: u64) -> Result<Invocation, i32> {
    let (Some(_id), Some(path)) = (&spec.alert_id, &spec.path) else {
        return Err(rc::EINVAL);
    };
    let Some(user) = crate::sys::process::user_ids(ALERT_USER) else {
        log::error!("cannot run alerts: no user '{ALERT_USER}' on this node");
        return Err(rc::EINVAL);
    };
    let mut env: Vec<(String, String)> = spec
        .params
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
    Ok(Invocation {
        program: PathBuf::from(path),
        args: Vec::new(),
        env,
        mapping: Mapping::Ocf,
        user: Some(user),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_export_their_variables_and_the_sequence() {
        let spec = AlertSpec {
            alert_id: Some("a1".into()),
            path: Some("/usr/share/pacemaker/alerts/alert_file.sh".into()),
            timeout_ms: 5000,
            params: vec![
                ("CRM_alert_kind".into(), "node".into()),
                ("bad=".into(), "x".into()),
            ],
        };
        match prepare(&spec, 3) {
            Ok(inv) => {
                assert!(inv.args.is_empty());
                assert!(inv.env.contains(&("CRM_alert_kind".into(), "node".into())));
                assert!(inv
                    .env
                    .contains(&("CRM_alert_node_sequence".into(), "3".into())));
                assert!(inv
                    .env
                    .contains(&("CRM_notify_node_sequence".into(), "3".into())));
                assert_eq!(inv.env.len(), 3);
                assert!(inv.user.is_some());
            }
            // A build host without the hacluster user answers as the original would.
            Err(code) => assert_eq!(code, rc::EINVAL),
        }
        let missing = AlertSpec { path: None, ..spec };
        assert_eq!(prepare(&missing, 1).err(), Some(rc::EINVAL));
    }
}
