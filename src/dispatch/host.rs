//! What the protocol rules ask of the machine they run on, as a trait the shell implements.
//!
//! In: nothing. Out: the [`Host`] trait, answered by `daemon::host` by looking at the machine,
//! and [`FixedHost`], which answers from fixed values for tests and fuzzers.

/// What the rules ask of the machine they run on. The shell answers by looking
/// (`daemon::host`), and may cache; tests answer from a table.
pub trait Host {
    /// Whether an sbd daemon runs here (`lrmd_check`, protocol.md 9.8); asked only when the
    /// cluster relies on watchdog fencing.
    fn sbd_running(&self) -> bool;
    /// The uid and gid of `user`, if it exists (alert agents run as `hacluster`).
    fn user_ids(&self, user: &str) -> Option<(u32, u32)>;
}

/// A [`Host`] with fixed answers, for tests and fuzzers: nothing is looked at.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedHost {
    /// The answer to [`Host::sbd_running`].
    pub sbd_running: bool,
    /// The answer to [`Host::user_ids`], whoever is asked for.
    pub user: Option<(u32, u32)>,
}

impl Host for FixedHost {
    fn sbd_running(&self) -> bool {
        self.sbd_running
    }

    fn user_ids(&self, _user: &str) -> Option<(u32, u32)> {
        self.user
    }
}
