//! Who may hold an IPC client slot, decided at accept from what the kernel says about the
//! connecting process, before the client may send a byte or hold a slot for its handshake.
//!
//! In: the peer's uid, gid and supplementary groups (taken from the socket at connect time)
//! and how many slots are held, in all and by that uid. Out: admit, or a refusal that knows
//! its errno. Pure: no I/O, no clock.

use std::fmt;

use super::client::Cred;

/// The bounds and the identities the rules need, fixed at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Slots in all (`limits::IPC_MAX_CLIENTS`).
    pub max_clients: usize,
    /// Slots one uid other than root may hold (`limits::IPC_MAX_CLIENTS_PER_UID`).
    pub per_uid: usize,
    /// Slots only root may take (`limits::IPC_ROOT_RESERVE`).
    pub root_reserve: usize,
    /// `hacluster`'s uid: Pacemaker's own user, always let in.
    pub hacluster_uid: Option<u32>,
    /// `haclient`'s gid: its members are let in (libqb-ipc.md 6.3).
    pub haclient_gid: Option<u32>,
}

/// Why a client was refused at accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not root, not `hacluster`, and `haclient` is neither its group nor, as far as the
    /// kernel could tell, one of its supplementary groups.
    Unprivileged {
        /// Whether the supplementary groups were known (a kernel without `SO_PEERGROUPS`
        /// and a process already gone leave them unknown, which counts as "not a member").
        groups_known: bool,
    },
    /// Every slot is taken.
    Full {
        /// Slots held.
        held: usize,
        /// The bound.
        max: usize,
    },
    /// This uid holds its whole share.
    UidShare {
        /// Slots the uid holds.
        held: usize,
        /// The share.
        max: usize,
    },
    /// Only the slots kept for root are left.
    RootReserve {
        /// Slots held.
        held: usize,
        /// Slots anyone but root may use.
        max: usize,
    },
}

impl Refusal {
    /// The negative errno the handshake refusal carries: EACCES for who the client is (what
    /// the original's file permissions give such a user), EAGAIN for a bound that frees up.
    pub fn errno(&self) -> i32 {
        match self {
            Refusal::Unprivileged { .. } => -libc::EACCES,
            Refusal::Full { .. } | Refusal::UidShare { .. } | Refusal::RootReserve { .. } => {
                -libc::EAGAIN
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unprivileged { groups_known: true } => {
                write!(f, "not root and not in group haclient")
            }
            Refusal::Unprivileged {
                groups_known: false,
            } => write!(
                f,
                "not root, haclient is not its primary group, and its other groups are unknown"
            ),
            Refusal::Full { held, max } => {
                write!(f, "{held} clients connected or connecting, at most {max}")
            }
            Refusal::UidShare { held, max } => write!(
                f,
                "its user holds {held} clients, at most {max} per user (root excepted)"
            ),
            Refusal::RootReserve { held, max } => write!(
                f,
                "{held} clients connected or connecting; the last slots above {max} are kept for root"
            ),
        }
    }
}

impl Policy {
    /// Whether the peer may use the services at all: root, `hacluster`, or a member of
    /// `haclient` (primary or supplementary group). `groups` is `None` when unknown.
    pub fn allowed(&self, cred: &Cred, groups: Option<&[u32]>) -> Result<(), Refusal> {
        if cred.uid == 0 || Some(cred.uid) == self.hacluster_uid {
            return Ok(());
        }
        let Some(haclient) = self.haclient_gid else {
            return Err(Refusal::Unprivileged {
                groups_known: groups.is_some(),
            });
        };
        if cred.gid == haclient || groups.is_some_and(|g| g.contains(&haclient)) {
            return Ok(());
        }
        Err(Refusal::Unprivileged {
            groups_known: groups.is_some(),
        })
    }

    /// Whether a new client may take a slot now: allowed at all, and within the bounds given
    /// `held` slots in all and `held_by_uid` by its uid.
    pub fn admit(
        &self,
        cred: &Cred,
        groups: Option<&[u32]>,
        held: usize,
        held_by_uid: usize,
    ) -> Result<(), Refusal> {
        self.allowed(cred, groups)?;
        if held >= self.max_clients {
            return Err(Refusal::Full {
                held,
                max: self.max_clients,
            });
        }
        if cred.uid == 0 {
            return Ok(());
        }
        let others = self.max_clients.saturating_sub(self.root_reserve);
        if held >= others {
            return Err(Refusal::RootReserve { held, max: others });
        }
        if held_by_uid >= self.per_uid {
            return Err(Refusal::UidShare {
                held: held_by_uid,
                max: self.per_uid,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HACLIENT: u32 = 90;
    const HACLUSTER: u32 = 91;

    fn policy() -> Policy {
        Policy {
            max_clients: 10,
            per_uid: 3,
            root_reserve: 2,
            hacluster_uid: Some(HACLUSTER),
            haclient_gid: Some(HACLIENT),
        }
    }

    fn cred(uid: u32, gid: u32) -> Cred {
        Cred { pid: 7, uid, gid }
    }

    #[test]
    fn who_is_allowed() {
        let p = policy();
        assert_eq!(p.allowed(&cred(0, 0), None), Ok(()));
        assert_eq!(p.allowed(&cred(HACLUSTER, 5), Some(&[])), Ok(()));
        assert_eq!(p.allowed(&cred(1000, HACLIENT), None), Ok(()));
        assert_eq!(p.allowed(&cred(1000, 1000), Some(&[4, HACLIENT])), Ok(()));
        assert_eq!(
            p.allowed(&cred(1000, 1000), Some(&[4, 24])),
            Err(Refusal::Unprivileged { groups_known: true })
        );
        // Groups unknown: only the primary group counts.
        assert_eq!(
            p.allowed(&cred(1000, 1000), None),
            Err(Refusal::Unprivileged {
                groups_known: false
            })
        );
        // No haclient group on this host: only root and hacluster.
        let none = Policy {
            haclient_gid: None,
            ..policy()
        };
        assert!(none
            .allowed(&cred(1000, HACLIENT), Some(&[HACLIENT]))
            .is_err());
        assert_eq!(none.allowed(&cred(0, 0), None), Ok(()));
    }

    #[test]
    fn unprivileged_is_refused_even_with_free_slots_and_with_eacces() {
        let r = policy()
            .admit(&cred(1000, 1000), Some(&[]), 0, 0)
            .unwrap_err();
        assert_eq!(r.errno(), -libc::EACCES);
    }

    #[test]
    fn per_uid_share_n_plus_one() {
        let p = policy();
        let member = cred(1000, HACLIENT);
        assert_eq!(p.admit(&member, None, 2, 2), Ok(()));
        let r = p.admit(&member, None, 3, 3).unwrap_err();
        assert_eq!(r, Refusal::UidShare { held: 3, max: 3 });
        assert_eq!(r.errno(), -libc::EAGAIN);
        // Another member still gets in.
        assert_eq!(p.admit(&cred(1001, HACLIENT), None, 3, 0), Ok(()));
        // hacluster has a share like anyone but root.
        assert!(p.admit(&cred(HACLUSTER, HACLIENT), None, 3, 3).is_err());
    }

    #[test]
    fn root_reserve_n_plus_one() {
        let p = policy();
        let member = cred(1001, HACLIENT);
        // 8 = 10 - 2 slots for everyone; the 9th and 10th are root's.
        assert_eq!(p.admit(&member, None, 7, 0), Ok(()));
        assert_eq!(
            p.admit(&member, None, 8, 0),
            Err(Refusal::RootReserve { held: 8, max: 8 })
        );
        assert_eq!(p.admit(&cred(0, 0), None, 8, 0), Ok(()));
        assert_eq!(p.admit(&cred(0, 0), None, 9, 9), Ok(()));
        assert_eq!(
            p.admit(&cred(0, 0), None, 10, 10),
            Err(Refusal::Full { held: 10, max: 10 })
        );
    }

    #[test]
    fn refusals_read_well() {
        let r = Refusal::RootReserve {
            held: 112,
            max: 112,
        };
        assert!(r.to_string().contains("kept for root"));
        let r = Refusal::UidShare { held: 32, max: 32 };
        assert!(r.to_string().contains("32 per user"));
    }
}
