//! One budget for the message text the IPC server holds beyond a single datagram: text
//! being inflated (with the decompressor's state), reassembled from parts, or waiting for the
//! daemon to take it. Shared by every client, with a share per uid.
//!
//! In: "may this client hold n bytes now?". Out: a [`Grant`] that gives its bytes back when
//! it shrinks or drops, or a refusal (the client then waits, unread, and asks again). Pure
//! bookkeeping on the loop's thread: no I/O, no clock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The shared budget.
#[derive(Debug)]
pub(super) struct Budget {
    total: usize,
    per_uid: usize,
    state: RefCell<Held>,
}

#[derive(Debug, Default)]
struct Held {
    all: usize,
    by_uid: HashMap<u32, usize>,
}

/// Why a grant cannot grow now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Short {
    /// Others hold the budget; it frees as their messages finish.
    Busy,
    /// More than a uid may ever hold: waiting would never help.
    Never,
}

impl Budget {
    /// A budget of `total` bytes, of which one uid may hold `per_uid`.
    pub(super) fn new(total: usize, per_uid: usize) -> Rc<Budget> {
        Rc::new(Budget {
            total,
            per_uid: per_uid.min(total),
            state: RefCell::default(),
        })
    }

    /// Bytes held now, all uids together.
    pub(super) fn held(&self) -> usize {
        self.state.borrow().all
    }

    /// An empty grant for `uid`, to be resized as its client needs.
    pub(super) fn grant(self: &Rc<Self>, uid: u32) -> Grant {
        Grant {
            budget: self.clone(),
            uid,
            bytes: 0,
        }
    }

    fn resize(&self, uid: u32, from: usize, to: usize) -> Result<(), Short> {
        let mut st = self.state.borrow_mut();
        if to <= from {
            st.all -= from - to;
            let mine = st.by_uid.entry(uid).or_default();
            *mine -= from - to;
            if *mine == 0 {
                st.by_uid.remove(&uid);
            }
            return Ok(());
        }
        if to > self.per_uid {
            return Err(Short::Never);
        }
        let more = to - from;
        let mine = st.by_uid.get(&uid).copied().unwrap_or(0);
        if st.all + more > self.total || mine + more > self.per_uid {
            return Err(Short::Busy);
        }
        st.all += more;
        *st.by_uid.entry(uid).or_default() += more;
        Ok(())
    }
}

/// What one client holds of the budget; given back as it shrinks and when it drops.
#[derive(Debug)]
pub(super) struct Grant {
    budget: Rc<Budget>,
    uid: u32,
    bytes: usize,
}

impl Grant {
    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Holds exactly `bytes` from now on. Shrinking always succeeds; growing succeeds only
    /// if the budget and the uid's share have room, and otherwise changes nothing.
    pub(super) fn resize(&mut self, bytes: usize) -> Result<(), Short> {
        self.budget.resize(self.uid, self.bytes, bytes)?;
        self.bytes = bytes;
        Ok(())
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        let _ = self.budget.resize(self.uid, self.bytes, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_and_total() {
        let b = Budget::new(100, 60);
        let mut a1 = b.grant(1000);
        let mut a2 = b.grant(1000);
        let mut root = b.grant(0);
        assert_eq!(a1.resize(40), Ok(()));
        // uid 1000's share is 60: 40 + 30 is too much, 40 + 20 fits.
        assert_eq!(a2.resize(30), Err(Short::Busy));
        assert_eq!(a2.bytes(), 0);
        assert_eq!(a2.resize(20), Ok(()));
        // Another uid gets the rest of the total, not more.
        assert_eq!(root.resize(41), Err(Short::Busy));
        assert_eq!(root.resize(40), Ok(()));
        assert_eq!(b.held(), 100);
        // Beyond a share: never.
        assert_eq!(root.resize(61), Err(Short::Never));
        // Shrinking and dropping give bytes back.
        a1.resize(10).unwrap();
        assert_eq!(b.held(), 70);
        drop(a2);
        assert_eq!(b.held(), 50);
        assert_eq!(root.resize(60), Ok(()));
        drop((a1, root));
        assert_eq!(b.held(), 0);
        assert!(b.state.borrow().by_uid.is_empty());
    }
}
