//! `service:` resources (feature `class-service`): an LSB script if `/etc/init.d/<type>`
//! exists, else a systemd unit (not in this build), else LSB anyway, which then reports the
//! missing script (protocol.md 12.1).

use super::{Paths, Prepared};

pub(super) fn prepare(paths: &Paths, rsc_id: &str, agent: &str, action: &str) -> Prepared {
    #[cfg(feature = "class-lsb")]
    {
        super::lsb::prepare(paths, rsc_id, agent, action)
    }
    #[cfg(not(feature = "class-lsb"))]
    {
        let _ = (paths, rsc_id, agent, action);
        Prepared::Finished(super::not_built("lsb"))
    }
}
