//! `service:` resources (feature `class-service`): an LSB script if `/etc/init.d/<type>`
//! exists, else (with `class-systemd`) a systemd unit if systemd knows it, else LSB anyway,
//! which then reports the missing script (protocol.md 12.1). Whether systemd knows the unit
//! is asked on the bus, so the shell decides that part ([`Prepared::Unit`]'s `or_else`).

use super::{Paths, Prepared};

pub(super) fn prepare(paths: &Paths, rsc_id: &str, agent: &str, action: &str) -> Prepared {
    #[cfg(feature = "class-lsb")]
    {
        let lsb = super::lsb::prepare(paths, rsc_id, agent, action);
        // Only a missing script goes on to systemd; a name that is refused (empty, or one
        // no unit can have) keeps LSB's answer.
        #[cfg(feature = "class-systemd")]
        if let Prepared::Finished(missing) = lsb {
            if missing.status != super::ExecStatus::NotInstalled || agent.contains('/') {
                return Prepared::Finished(missing);
            }
            return Prepared::Unit {
                action: action.to_string(),
                agent: agent.to_string(),
                or_else: Some(missing),
            };
        }
        lsb
    }
    #[cfg(not(feature = "class-lsb"))]
    {
        let _ = (paths, rsc_id, agent, action);
        Prepared::Finished(super::not_built("lsb"))
    }
}
