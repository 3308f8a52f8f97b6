//! Who may hold a connection: pending handshakes and keyed connections, as two budgets.
//!
//! In: accepted connections (by source address), handshake progress and ends. Out: admit,
//! possibly naming a pending handshake to drop to make room, or refuse with the limit reached.
//! Pure bookkeeping: no I/O, no clock, no logging.
//!
//! Anyone who reaches the port can open handshakes, so they get a budget of their own
//! (`max_pending_handshakes`, `max_pending_per_source`), apart from the connections that
//! proved the key (`max_connections`). When the pending budget is full, a handshake that has
//! not yet proved the key is dropped for the newcomer (OpenSSH's `MaxStartups` in spirit): the
//! oldest one from the source that holds the most. A flood then cycles through its own
//! slots; a cluster node's connection, the only one from its address, is not dropped while
//! the flood comes from fewer addresses than the budget, and once its first flight carries a
//! valid PSK binder it is never dropped for a keyless one. A source over its own share is
//! refused instead, so one host cannot push everyone else's handshakes out.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::task::{Poll, Waker};

/// The budgets, from [`Limits`](crate::limits::Limits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    /// `max_pending_handshakes`.
    pub pending: usize,
    /// `max_pending_per_source`.
    pub per_source: usize,
    /// `max_connections`: connections past the handshake.
    pub keyed: usize,
}

/// Where a connection comes from, for the per-source share: an IPv4 address, or the /64 an
/// IPv6 address belongs to (one host usually owns a whole /64). IPv4-mapped IPv6 addresses
/// (the dual-stack listener's view of IPv4 peers) count as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// An IPv4 address.
    V4([u8; 4]),
    /// The first 64 bits of an IPv6 address.
    V6Net([u8; 8]),
}

impl SourceKey {
    /// The key of a peer address.
    pub fn of(peer: SocketAddr) -> SourceKey {
        match peer.ip() {
            IpAddr::V4(v4) => SourceKey::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey::V4(v4.octets()),
                None => {
                    let o = v6.octets();
                    SourceKey::V6Net([o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]])
                }
            },
        }
    }
}

/// Why a connection was not let in, or was let go; each names the limit, for the log and for
/// the operator who reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The source already has its share of pending handshakes.
    PerSource {
        /// Pending handshakes from that source.
        open: usize,
        /// `max_pending_per_source`.
        max: usize,
    },
    /// Every pending slot holds a connection that proved the key; none may be dropped.
    Pending {
        /// Pending handshakes.
        open: usize,
        /// `max_pending_handshakes`.
        max: usize,
    },
    /// The keyed connections are at their bound.
    Keyed {
        /// Connections past the handshake.
        open: usize,
        /// `max_connections`.
        max: usize,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::PerSource { open, max } => write!(
                f,
                "{open} handshakes from this source in progress, limit {max} \
                 (max_pending_per_source)"
            ),
            Refusal::Pending { open, max } => write!(
                f,
                "{open} handshakes in progress, all with the key, limit {max} \
                 (max_pending_handshakes)"
            ),
            Refusal::Keyed { open, max } => write!(
                f,
                "{open} connections signed on or signing on, limit {max} (max_connections)"
            ),
        }
    }
}

/// What a connection task keeps of its place in the budgets: it learns through `evicted`
/// when it is dropped to make room, and reports through `proved` that its peer holds the key.
pub struct Ticket {
    table: Rc<RefCell<Admission>>,
    state: TicketState,
    /// Tripped when this pending handshake is dropped to make room for a newer one.
    pub evicted: Tripwire,
    /// Set (by the TLS layer) once the peer's PSK binder verified.
    pub proved: Rc<Cell<bool>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TicketState {
    Pending(u64),
    Keyed,
    Gone,
}

impl Ticket {
    /// The handshake completed: the connection moves to the keyed budget, unless that is full.
    pub fn handshake_done(&mut self) -> Result<(), Refusal> {
        let TicketState::Pending(id) = self.state else {
            return Ok(());
        };
        let result = self.table.borrow_mut().handshake_done(id);
        self.state = if result.is_ok() {
            TicketState::Keyed
        } else {
            TicketState::Gone
        };
        result
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut table = self.table.borrow_mut();
        match self.state {
            TicketState::Pending(id) => table.forget_pending(id),
            TicketState::Keyed => table.keyed = table.keyed.saturating_sub(1),
            TicketState::Gone => {}
        }
    }
}

/// The outcome of [`Admission::admit`].
pub enum Admitted {
    /// In, as a pending handshake; `dropped` is the older handshake to end (its `evicted`
    /// tripwire is already tripped), with how many were pending, for the log.
    In {
        /// The newcomer's place.
        ticket: Ticket,
        /// Whether an older handshake was dropped to make room.
        dropped: bool,
    },
    /// Out, for this reason.
    Refused(Refusal),
}

/// A one-shot signal from the table to a connection task: "you were dropped".
#[derive(Clone, Default)]
pub struct Tripwire(Rc<TripInner>);

#[derive(Default)]
struct TripInner {
    tripped: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Tripwire {
    /// Trips it and wakes the task waiting in [`tripped`](Self::tripped).
    pub fn trip(&self) {
        self.0.tripped.set(true);
        if let Some(w) = self.0.waker.borrow_mut().take() {
            w.wake();
        }
    }

    /// Whether it was tripped.
    pub fn is_tripped(&self) -> bool {
        self.0.tripped.get()
    }

    /// Waits until it is tripped.
    pub async fn tripped(&self) {
        poll_fn(|cx| {
            if self.0.tripped.get() {
                Poll::Ready(())
            } else {
                *self.0.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// Both budgets and every pending handshake, oldest first.
pub struct Admission {
    budgets: Budgets,
    pending: BTreeMap<u64, Pending>,
    per_source: HashMap<SourceKey, usize>,
    keyed: usize,
    next: u64,
}

struct Pending {
    source: SourceKey,
    evicted: Tripwire,
    proved: Rc<Cell<bool>>,
}

impl Admission {
    /// An empty table with these budgets, shared by the listener and the connection tasks.
    pub fn new(budgets: Budgets) -> Rc<RefCell<Admission>> {
        Rc::new(RefCell::new(Admission {
            budgets,
            pending: BTreeMap::new(),
            per_source: HashMap::new(),
            keyed: 0,
            next: 0,
        }))
    }

    /// A new connection from `source`: refused when the keyed budget or the source's share is
    /// full; otherwise admitted, after dropping a keyless pending handshake if the pending
    /// budget is full (see `victim`; when every pending one proved the key, the oldest of
    /// all: a real key holder finishes in one round trip, so the oldest is the likeliest
    /// replay).
    pub fn admit(table: &Rc<RefCell<Admission>>, source: SourceKey) -> Admitted {
        let mut t = table.borrow_mut();
        if t.keyed >= t.budgets.keyed {
            return Admitted::Refused(Refusal::Keyed {
                open: t.keyed,
                max: t.budgets.keyed,
            });
        }
        let from_source = t.per_source.get(&source).copied().unwrap_or(0);
        if from_source >= t.budgets.per_source {
            return Admitted::Refused(Refusal::PerSource {
                open: from_source,
                max: t.budgets.per_source,
            });
        }
        let mut dropped = false;
        if t.pending.len() >= t.budgets.pending {
            let victim = t.victim();
            match victim {
                Some(id) => {
                    if let Some(p) = t.pending.get(&id) {
                        p.evicted.trip();
                    }
                    t.forget_pending(id);
                    dropped = true;
                }
                None => {
                    return Admitted::Refused(Refusal::Pending {
                        open: t.pending.len(),
                        max: t.budgets.pending,
                    })
                }
            }
        }
        let id = t.next;
        t.next += 1;
        let evicted = Tripwire::default();
        let proved = Rc::new(Cell::new(false));
        t.pending.insert(
            id,
            Pending {
                source,
                evicted: evicted.clone(),
                proved: proved.clone(),
            },
        );
        *t.per_source.entry(source).or_insert(0) += 1;
        drop(t);
        Admitted::In {
            ticket: Ticket {
                table: table.clone(),
                state: TicketState::Pending(id),
                evicted,
                proved,
            },
            dropped,
        }
    }

    /// Handshakes in progress.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Connections past the handshake.
    pub fn keyed(&self) -> usize {
        self.keyed
    }

    /// The budgets in force.
    pub fn budgets(&self) -> Budgets {
        self.budgets
    }

    /// The pending handshake to drop: one that has not proved the key, from the source
    /// holding the most pending handshakes, the oldest of those; only when every one proved
    /// the key, the oldest of all. Dropping from the heaviest source first means a flood
    /// spread over fewer sources than the budget never displaces a source with one
    /// handshake in progress (a cluster node), however slow its first flight is to arrive
    /// (a lost segment costs a retransmission timeout).
    fn victim(&self) -> Option<u64> {
        let weight = |p: &Pending| self.per_source.get(&p.source).copied().unwrap_or(0);
        let mut best: Option<(usize, u64)> = None;
        // Oldest first, so among equally heavy sources the oldest wins.
        for (id, p) in &self.pending {
            if p.proved.get() {
                continue;
            }
            let w = weight(p);
            if best.is_none_or(|(bw, _)| w > bw) {
                best = Some((w, *id));
            }
        }
        best.map(|(_, id)| id)
            .or_else(|| self.pending.keys().next().copied())
    }

    fn handshake_done(&mut self, id: u64) -> Result<(), Refusal> {
        self.forget_pending(id);
        if self.keyed >= self.budgets.keyed {
            return Err(Refusal::Keyed {
                open: self.keyed,
                max: self.budgets.keyed,
            });
        }
        self.keyed += 1;
        Ok(())
    }

    fn forget_pending(&mut self, id: u64) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        if let Some(n) = self.per_source.get_mut(&p.source) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&p.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budgets(pending: usize, per_source: usize, keyed: usize) -> Budgets {
        Budgets {
            pending,
            per_source,
            keyed,
        }
    }

    fn v4(last: u8) -> SourceKey {
        SourceKey::V4([127, 0, 0, last])
    }

    fn admit(t: &Rc<RefCell<Admission>>, s: SourceKey) -> (Ticket, bool) {
        match Admission::admit(t, s) {
            Admitted::In { ticket, dropped } => (ticket, dropped),
            Admitted::Refused(r) => panic!("refused: {r}"),
        }
    }

    fn refusal(t: &Rc<RefCell<Admission>>, s: SourceKey) -> Refusal {
        match Admission::admit(t, s) {
            Admitted::In { .. } => panic!("admitted"),
            Admitted::Refused(r) => r,
        }
    }

    #[test]
    fn a_full_pending_budget_drops_the_oldest_keyless_handshake() {
        let t = Admission::new(budgets(3, 10, 10));
        let (a, _) = admit(&t, v4(2));
        let (b, _) = admit(&t, v4(3));
        let (c, _) = admit(&t, v4(4));
        let (d, dropped) = admit(&t, v4(5));
        assert!(dropped);
        // Every source holds one: the oldest goes.
        assert!(a.evicted.is_tripped());
        assert!(!b.evicted.is_tripped() && !c.evicted.is_tripped() && !d.evicted.is_tripped());
        assert_eq!(t.borrow().pending(), 3);
        // The dropped task ends later; its ticket must not free anyone else's place.
        drop(a);
        assert_eq!(t.borrow().pending(), 3);
    }

    #[test]
    fn a_handshake_that_proved_the_key_is_never_dropped_for_a_keyless_one() {
        let t = Admission::new(budgets(2, 10, 10));
        let (keyed, _) = admit(&t, v4(9));
        keyed.proved.set(true);
        let (flood1, _) = admit(&t, v4(2));
        let (flood2, dropped) = admit(&t, v4(3));
        assert!(dropped);
        assert!(!keyed.evicted.is_tripped());
        assert!(flood1.evicted.is_tripped());
        let (_flood3, _) = admit(&t, v4(4));
        assert!(flood2.evicted.is_tripped());
        assert!(!keyed.evicted.is_tripped());
    }

    #[test]
    fn the_heaviest_source_loses_a_handshake_first_so_a_lone_one_survives() {
        // A flood from 3 sources against a budget of 8.
        let t = Admission::new(budgets(8, 10, 10));
        // A cluster node's handshake whose first flight is late.
        let (lone, _) = admit(&t, v4(100));
        let mut flood = Vec::new();
        for i in 0..1000u32 {
            if let Admitted::In { ticket, .. } = Admission::admit(&t, v4((i % 3) as u8 + 2)) {
                flood.push(ticket);
            }
            assert!(
                !lone.evicted.is_tripped(),
                "dropped after {i} flood connections"
            );
        }
    }

    #[test]
    fn when_every_pending_handshake_proved_the_key_the_oldest_goes() {
        let t = Admission::new(budgets(2, 10, 10));
        let (a, _) = admit(&t, v4(2));
        let (b, _) = admit(&t, v4(3));
        a.proved.set(true);
        b.proved.set(true);
        let (_c, dropped) = admit(&t, v4(4));
        assert!(dropped && a.evicted.is_tripped() && !b.evicted.is_tripped());
    }

    #[test]
    fn a_source_over_its_share_is_refused_and_others_are_not() {
        let t = Admission::new(budgets(10, 2, 10));
        let _a = admit(&t, v4(2));
        let b = admit(&t, v4(2));
        assert_eq!(refusal(&t, v4(2)), Refusal::PerSource { open: 2, max: 2 });
        let _c = admit(&t, v4(3));
        drop(b);
        let _d = admit(&t, v4(2));
    }

    #[test]
    fn keyed_connections_have_their_own_budget() {
        let t = Admission::new(budgets(10, 10, 1));
        let (mut a, _) = admit(&t, v4(2));
        let (mut b, _) = admit(&t, v4(3));
        assert_eq!(a.handshake_done(), Ok(()));
        assert_eq!(t.borrow().pending(), 1);
        assert_eq!(t.borrow().keyed(), 1);
        // A second key holder finishing meanwhile is over the bound.
        assert_eq!(b.handshake_done(), Err(Refusal::Keyed { open: 1, max: 1 }));
        drop(b);
        assert_eq!((t.borrow().pending(), t.borrow().keyed()), (0, 1));
        // New connections are refused at accept while it is full, and admitted once not.
        assert_eq!(refusal(&t, v4(4)), Refusal::Keyed { open: 1, max: 1 });
        drop(a);
        assert_eq!(t.borrow().keyed(), 0);
        let _c = admit(&t, v4(4));
    }

    #[test]
    fn ipv6_sources_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: SocketAddr = "[2001:db8:1:2:aaaa::1]:5000".parse().unwrap();
        let b: SocketAddr = "[2001:db8:1:2:bbbb::9]:5001".parse().unwrap();
        let c: SocketAddr = "[2001:db8:1:3::1]:5000".parse().unwrap();
        assert_eq!(SourceKey::of(a), SourceKey::of(b));
        assert_ne!(SourceKey::of(a), SourceKey::of(c));
        let mapped: SocketAddr = "[::ffff:127.0.0.5]:1".parse().unwrap();
        let plain: SocketAddr = "127.0.0.5:2".parse().unwrap();
        assert_eq!(SourceKey::of(mapped), SourceKey::of(plain));
    }

    #[test]
    fn a_flood_from_many_sources_never_holds_more_than_the_budget() {
        let t = Admission::new(budgets(8, 3, 4));
        let mut held = Vec::new();
        for i in 0..500u32 {
            if let Admitted::In { ticket, .. } = Admission::admit(&t, v4((i % 19) as u8 + 2)) {
                held.push(ticket);
            }
            held.retain(|tk| !tk.evicted.is_tripped());
            assert!(t.borrow().pending() <= 8);
            assert_eq!(held.len(), t.borrow().pending());
        }
        // A key holder arriving now gets in, proves the key, and survives the next flood.
        let (mut keyed, _) = admit(&t, v4(100));
        keyed.proved.set(true);
        for i in 0..100u32 {
            let _ = Admission::admit(&t, v4((i % 19) as u8 + 2));
        }
        assert!(!keyed.evicted.is_tripped());
        assert_eq!(keyed.handshake_done(), Ok(()));
    }
}
