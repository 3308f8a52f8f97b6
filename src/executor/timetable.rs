//! When each resource can next start something, and when each run times out: ordered sets,
//! so an event costs O(log n) however many resources are registered.
//!
//! In: "this resource changed" (touch), start times, deadlines. Out: the resources that may
//! start now, earliest-due first (so a shortage of child slots delays them fairly, in the order
//! they fell due), the runs that are late, and the next instant anything is due. It knows
//! nothing of operations' rules; the executor asks it and decides.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use super::operation::OpId;

/// Pending times of the executor.
#[derive(Debug, Default)]
pub(super) struct Timetable {
    /// Resources whose state changed since the executor last looked at them.
    dirty: BTreeSet<String>,
    /// Resources that may start something now, by when they became able to.
    ready: BTreeSet<(Instant, String)>,
    ready_at: HashMap<String, Instant>,
    /// Resources that may start something later, by when.
    wakeups: BTreeSet<(Instant, String)>,
    wakeup_at: HashMap<String, Instant>,
    /// Runs with a timeout, by deadline. Entries may be stale; the executor checks.
    deadlines: BTreeSet<(Instant, OpId)>,
}

impl Timetable {
    /// Marks a resource for a fresh look at the next poll.
    pub(super) fn touch(&mut self, rsc: &str) {
        if !self.dirty.contains(rsc) {
            self.dirty.insert(rsc.to_string());
        }
    }

    /// Resources to look at now.
    pub(super) fn take_dirty(&mut self) -> Vec<String> {
        std::mem::take(&mut self.dirty).into_iter().collect()
    }

    /// Records that `rsc` can start something from `at` (ready now if `at <= now`).
    pub(super) fn schedule(&mut self, rsc: &str, at: Instant, now: Instant) {
        self.forget(rsc);
        if at <= now {
            self.ready.insert((at, rsc.to_string()));
            self.ready_at.insert(rsc.to_string(), at);
        } else {
            self.wakeups.insert((at, rsc.to_string()));
            self.wakeup_at.insert(rsc.to_string(), at);
        }
    }

    /// Drops whatever is recorded for `rsc` (busy, idle, or gone).
    pub(super) fn forget(&mut self, rsc: &str) {
        if let Some(t) = self.ready_at.remove(rsc) {
            self.ready.remove(&(t, rsc.to_string()));
        }
        if let Some(t) = self.wakeup_at.remove(rsc) {
            self.wakeups.remove(&(t, rsc.to_string()));
        }
    }

    /// Moves the resources whose time has come to the dirty set.
    pub(super) fn wake(&mut self, now: Instant) {
        while let Some((t, rsc)) = self.wakeups.first().cloned() {
            if t > now {
                break;
            }
            self.wakeups.remove(&(t, rsc.clone()));
            self.wakeup_at.remove(&rsc);
            self.dirty.insert(rsc);
        }
    }

    /// The resource that has waited longest to start something.
    pub(super) fn pop_ready(&mut self) -> Option<String> {
        let (t, rsc) = self.ready.pop_first()?;
        if self.ready_at.get(&rsc) == Some(&t) {
            self.ready_at.remove(&rsc);
        }
        Some(rsc)
    }

    /// Records a run's deadline.
    pub(super) fn add_deadline(&mut self, at: Instant, op: OpId) {
        self.deadlines.insert((at, op));
    }

    /// Drops a deadline whose run ended, so no timer fires for it.
    pub(super) fn remove_deadline(&mut self, at: Instant, op: OpId) {
        self.deadlines.remove(&(at, op));
    }

    /// Runs whose deadline has passed (possibly stale entries).
    pub(super) fn take_late(&mut self, now: Instant) -> Vec<OpId> {
        let mut late = Vec::new();
        while let Some(&(t, op)) = self.deadlines.first() {
            if t > now {
                break;
            }
            self.deadlines.remove(&(t, op));
            late.push(op);
        }
        late
    }

    /// The next instant something becomes due, if any.
    pub(super) fn next_wakeup(&self) -> Option<Instant> {
        let wake = self.wakeups.first().map(|(t, _)| *t);
        let deadline = self.deadlines.first().map(|(t, _)| *t);
        match (wake, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Resources waiting for a child slot.
    #[cfg(test)]
    pub(super) fn ready_len(&self) -> usize {
        self.ready.len()
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests make their own clock"
)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn resources_become_ready_in_the_order_they_fell_due() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let mut t = Timetable::default();
        t.schedule("late", at(30), at(0));
        t.schedule("early", at(10), at(0));
        t.schedule("now", at(0), at(0));
        assert_eq!(t.next_wakeup(), Some(at(10)));
        t.wake(at(40));
        let mut woken = t.take_dirty();
        woken.sort();
        assert_eq!(woken, ["early", "late"]);
        t.schedule("late", at(30), at(40));
        t.schedule("early", at(10), at(40));
        let order: Vec<_> = std::iter::from_fn(|| t.pop_ready()).collect();
        assert_eq!(order, ["now", "early", "late"]);
        // Rescheduling replaces, never duplicates.
        t.schedule("x", at(5), at(40));
        t.schedule("x", at(6), at(40));
        assert_eq!(t.ready_len(), 1);
        t.forget("x");
        assert_eq!(t.pop_ready(), None);
    }

    #[test]
    fn deadlines_come_out_once_in_order() {
        let t0 = Instant::now();
        let mut t = Timetable::default();
        t.add_deadline(t0 + Duration::from_millis(20), OpId(2));
        t.add_deadline(t0 + Duration::from_millis(10), OpId(1));
        assert_eq!(t.take_late(t0 + Duration::from_millis(15)), [OpId(1)]);
        assert_eq!(t.next_wakeup(), Some(t0 + Duration::from_millis(20)));
        assert_eq!(t.take_late(t0 + Duration::from_millis(25)), [OpId(2)]);
        assert_eq!(t.next_wakeup(), None);
    }
}
