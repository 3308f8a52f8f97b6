//! Why a request is refused, grouped by who is at fault, and the one mapping from each reason
//! to the `lrmd_rc` the cluster sees (protocol.md 10.6).
//!
//! In: the dispatcher's own checks and the executor's [`executor::Error`]s. Out: an rc. No
//! other place in the crate turns a refusal into a number.

use std::fmt;

use crate::executor::{self, Unregistered};
use crate::proto::names::rc;

/// A request the daemon will not carry out; the reply carries [`Refused::rc`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The peer left out a field the operation needs, or sent it empty.
    Missing(&'static str),
    /// The peer asked for an operation we do not know.
    UnknownOperation,
    /// The peer signs on with a protocol version older than we speak.
    OldProtocol,
    /// The peer (a local client that is neither root nor hacluster, or a local client asking
    /// to relay IPC) may not do this.
    NotPermitted,
    /// The executor refused (an unknown resource, nothing to cancel, a bound).
    Executor(executor::Error),
    /// `max_children` alert agents already run; the cluster may retry.
    AlertsBusy {
        /// Alert agents running.
        running: usize,
        /// The bound.
        max: usize,
    },
    /// This build has no alert agents (feature `alerts`).
    AlertsNotBuilt,
    /// The user alert agents run as does not exist on this node.
    NoAlertUser,
}

impl Refused {
    /// The `lrmd_rc` of the reply: a negated errno, as the original answers each case.
    pub fn rc(&self) -> i32 {
        match self {
            Refused::Missing(_) | Refused::NoAlertUser => rc::EINVAL,
            Refused::UnknownOperation | Refused::AlertsNotBuilt => rc::EOPNOTSUPP,
            Refused::OldProtocol => rc::EPROTO,
            Refused::NotPermitted => rc::EACCES,
            Refused::AlertsBusy { .. } => rc::EAGAIN,
            Refused::Executor(e) => match e {
                executor::Error::UnknownResource => rc::ENODEV,
                executor::Error::NoSuchOperation => rc::EOPNOTSUPP,
                executor::Error::TooManyResources { .. } => rc::EAGAIN,
            },
        }
    }
}

impl From<executor::Error> for Refused {
    fn from(e: executor::Error) -> Self {
        Refused::Executor(e)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::Missing(what) => write!(f, "{what} missing"),
            Refused::UnknownOperation => f.write_str("unknown operation"),
            Refused::OldProtocol => f.write_str("protocol version too old"),
            Refused::NotPermitted => f.write_str("not permitted"),
            Refused::Executor(e) => e.fmt(f),
            Refused::AlertsBusy { running, max } => {
                write!(f, "{running} alerts running, limit {max} (max_children)")
            }
            Refused::AlertsNotBuilt => {
                f.write_str("alerts are not supported in this build (feature alerts)")
            }
            Refused::NoAlertUser => f.write_str("no user to run alerts as"),
        }
    }
}

/// The rc of a request's reply: 0 on success, or the refusal's.
pub fn rc_of(result: Result<(), Refused>) -> i32 {
    match result {
        Ok(()) => rc::OK,
        Err(e) => e.rc(),
    }
}

/// The rc of an `lrmd_rsc_unregister` reply (protocol.md 9.7).
pub fn unregistered_rc(how: Unregistered) -> i32 {
    match how {
        Unregistered::Removed | Unregistered::NotRegistered => rc::OK,
        Unregistered::Finishing => rc::EINPROGRESS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_has_the_originals_rc() {
        let cases = [
            (Refused::Missing("lrmd_rsc_id"), -22),
            (Refused::UnknownOperation, -95),
            (Refused::OldProtocol, -71),
            (Refused::NotPermitted, -13),
            (Refused::Executor(executor::Error::UnknownResource), -19),
            (Refused::Executor(executor::Error::NoSuchOperation), -95),
            (
                Refused::Executor(executor::Error::TooManyResources {
                    registered: 1,
                    max: 1,
                }),
                -11,
            ),
            (Refused::AlertsBusy { running: 1, max: 1 }, -11),
            (Refused::AlertsNotBuilt, -95),
            (Refused::NoAlertUser, -22),
        ];
        for (refusal, want) in cases {
            assert_eq!(refusal.rc(), want, "{refusal:?}");
        }
        assert_eq!(unregistered_rc(Unregistered::Finishing), -115);
        assert_eq!(rc_of(Ok(())), 0);
    }
}
