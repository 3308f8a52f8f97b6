//! A bounded queue between tasks on our one thread: producers never wait, the consumer does.
//!
//! Outbound messages for a connection and events for the daemon loop travel through these.
//! Each item has a weight (bytes, or 1); a push that would pass the bound is refused and
//! leaves the queue as it was, so the caller decides what a full queue means (for a
//! connection: the peer stopped reading, and it is disconnected).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// The push was refused: the queue holds `queued` of at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    /// Weight already queued.
    pub queued: usize,
    /// The bound.
    pub max: usize,
}

struct Inner<T> {
    items: VecDeque<(T, usize)>,
    weight: usize,
    max: usize,
    closed: bool,
    waker: Option<Waker>,
}

/// One consumer, any number of producers on the same thread; clones share the queue.
pub struct Mailbox<T> {
    inner: Rc<RefCell<Inner<T>>>,
}

impl<T> Clone for Mailbox<T> {
    fn clone(&self) -> Self {
        Mailbox {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Mailbox<T> {
    /// An empty mailbox holding at most `max` weight.
    pub fn new(max: usize) -> Self {
        Mailbox {
            inner: Rc::new(RefCell::new(Inner {
                items: VecDeque::new(),
                weight: 0,
                max,
                closed: false,
                waker: None,
            })),
        }
    }

    /// Queues `item` unless that would pass the bound. A single item heavier than the whole
    /// bound is still accepted into an empty queue, so one large message is never refused
    /// for its size alone (frame sizes are bounded elsewhere).
    pub fn push(&self, item: T, weight: usize) -> Result<(), Full> {
        let mut inner = self.inner.borrow_mut();
        if inner.weight > 0 && inner.weight.saturating_add(weight) > inner.max {
            return Err(Full {
                queued: inner.weight,
                max: inner.max,
            });
        }
        inner.weight = inner.weight.saturating_add(weight);
        inner.items.push_back((item, weight));
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
        Ok(())
    }

    /// Whether a push of `weight` would be accepted now (the same rule as [`push`](Self::push)),
    /// so a producer can keep a large item instead of handing over a copy to try.
    pub fn fits(&self, weight: usize) -> bool {
        let inner = self.inner.borrow();
        inner.weight == 0 || inner.weight.saturating_add(weight) <= inner.max
    }

    /// Waits for the next item; `None` once the mailbox is closed and empty.
    pub async fn recv(&self) -> Option<T> {
        poll_fn(|cx| {
            let mut inner = self.inner.borrow_mut();
            if let Some((item, weight)) = inner.items.pop_front() {
                inner.weight -= weight;
                return Poll::Ready(Some(item));
            }
            if inner.closed {
                return Poll::Ready(None);
            }
            inner.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Waits until the mailbox is closed. Shares the consumer's wake-up slot, so the consumer
    /// must not wait in [`recv`](Self::recv) at the same time.
    pub async fn closed(&self) {
        poll_fn(|cx| {
            let mut inner = self.inner.borrow_mut();
            if inner.closed {
                return Poll::Ready(());
            }
            inner.waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Takes the next item if there is one, without waiting.
    pub fn try_recv(&self) -> Option<T> {
        let mut inner = self.inner.borrow_mut();
        let (item, weight) = inner.items.pop_front()?;
        inner.weight -= weight;
        Some(item)
    }

    /// Wakes the consumer and makes `recv` return `None` once drained.
    pub fn close(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.closed = true;
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }

    /// Weight currently queued.
    pub fn weight(&self) -> usize {
        self.inner.borrow().weight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_refuses_and_keeps_what_was_queued() {
        let m = Mailbox::new(10);
        m.push("a", 6).unwrap();
        assert_eq!(m.push("b", 6), Err(Full { queued: 6, max: 10 }));
        m.push("c", 4).unwrap();
        assert_eq!(m.try_recv(), Some("a"));
        assert_eq!(m.try_recv(), Some("c"));
        assert_eq!(m.try_recv(), None);
        m.push("big", 100).unwrap();
        assert_eq!(m.weight(), 100);
    }

    #[test]
    fn recv_waits_and_ends_after_close() {
        let m = Mailbox::new(10);
        let m2 = m.clone();
        let got = futures_lite::future::block_on(async {
            m2.push(1, 1).unwrap();
            m2.close();
            let a = m.recv().await;
            let b = m.recv().await;
            (a, b)
        });
        assert_eq!(got, (Some(1), None));
    }
}
