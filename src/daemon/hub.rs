//! The hub the connection tasks share, and the shell that carries out the dispatcher's actions:
//! queueing messages for connections, spawning and killing agents, alert agents, and events for
//! the daemon loop.
//!
//! In: [`Action`]s from the dispatcher. Out: bytes queued for connections, children started,
//! signals sent. It decides nothing about the protocol; it never holds a borrow across an await.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Timer;
use futures_lite::future;
use log::{debug, info, warn};

use crate::dispatch::{Action, Dispatcher};
use crate::executor::{Now, OpId};
use crate::handles::ConnId;
use crate::limits::Limits;
use crate::mailbox::Mailbox;
use crate::process::Invocation;
use crate::process::{self, Reaper};
use crate::transport::tls;
use crate::wire;

/// Extra time alerts get to finish at exit, beyond their own timeout (the original's 5 s).
const ALERT_DRAIN_GRACE: Duration = Duration::from_secs(5);

/// Events for the daemon loop that connections and the dispatcher raise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Close the listener: we are draining.
    StopListening,
    /// Exit the process.
    Exit {
        /// Exit status.
        code: i32,
        /// Why, for the log.
        why: String,
    },
}

/// What every connection task shares: the protocol core, the outboxes, and the settings.
pub struct Hub {
    /// The protocol core.
    pub dispatcher: RefCell<Dispatcher>,
    /// Children we started and not yet reaped; SIGCHLD polls it.
    pub reaper: Rc<Reaper>,
    /// Wakes the executor's timer task when something may have changed its next deadline.
    pub kick: Mailbox<()>,
    ex: Rc<LocalExecutor<'static>>,
    alerts: Cell<usize>,
    alert_drain_until: Cell<Option<Instant>>,
    /// The local IPC server and its clients.
    #[cfg(feature = "ipc-proxy")]
    pub(crate) ipc: super::bridge::BridgeState,
    outboxes: RefCell<HashMap<ConnId, Mailbox<Rc<Vec<u8>>>>>,
    /// The connection to systemd for `systemd:` resources.
    #[cfg(feature = "class-systemd")]
    units: Rc<super::units::Units>,
    /// Events for the daemon loop.
    pub control: Mailbox<Control>,
    /// Bounds.
    pub limits: Limits,
    /// TLS server settings, including the key lookup.
    pub tls: Arc<tls::ServerConfig>,
    /// `TCP_USER_TIMEOUT` for accepted sockets, from sbd's watchdog timeout.
    pub user_timeout_ms: Option<u32>,
    /// Where schema transfer writes the files fetched from the cluster.
    schema_dir: std::path::PathBuf,
    next_conn: Cell<u64>,
    open: Cell<usize>,
}

impl Hub {
    /// A hub around `dispatcher`; tasks it starts (agents) run on `ex`.
    pub fn new(
        dispatcher: Dispatcher,
        limits: Limits,
        tls: Arc<tls::ServerConfig>,
        user_timeout_ms: Option<u32>,
        schema_dir: std::path::PathBuf,
        ex: Rc<LocalExecutor<'static>>,
    ) -> Rc<Hub> {
        #[cfg(feature = "class-systemd")]
        let units = super::units::Units::for_daemon(&ex);
        Rc::new(Hub {
            dispatcher: RefCell::new(dispatcher),
            reaper: Reaper::new(),
            kick: Mailbox::new(1),
            ex,
            alerts: Cell::new(0),
            alert_drain_until: Cell::new(None),
            #[cfg(feature = "ipc-proxy")]
            ipc: Default::default(),
            outboxes: RefCell::new(HashMap::new()),
            #[cfg(feature = "class-systemd")]
            units,
            control: Mailbox::new(usize::MAX),
            limits,
            tls,
            user_timeout_ms,
            schema_dir,
            next_conn: Cell::new(1),
            open: Cell::new(0),
        })
    }

    /// TCP connections open now, handshaking ones included.
    pub fn open_connections(&self) -> usize {
        self.open.get()
    }

    /// Carries out the dispatcher's actions, and those they lead to, in order. Never holds a
    /// borrow across an await.
    pub fn perform(self: &Rc<Self>, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        // Each action is handled once; spawn failures add at most the actions of finishing
        // that operation, so the queue drains.
        while let Some(action) = queue.pop_front() {
            match action {
                #[cfg(feature = "ipc-proxy")]
                Action::Send { to, payload, reply } if self.route_local(to, &payload, reply) => {}
                Action::Send { to, payload, .. } => self.queue_for(to, payload),
                Action::StopListening => {
                    let _ = self.control.push(Control::StopListening, 1);
                }
                Action::Exit { code, why } => {
                    let _ = self.control.push(Control::Exit { code, why }, 1);
                }
                Action::Spawn { op, invocation } => {
                    queue.extend(self.spawn_agent(op, &invocation));
                }
                Action::SpawnAlert {
                    id,
                    invocation,
                    timeout_ms,
                } => self.spawn_alert(id, &invocation, timeout_ms),
                #[cfg(feature = "ipc-proxy")]
                Action::IpcResponse { local, id, payload } => {
                    self.ipc_send(local, Some(id), &payload)
                }
                #[cfg(feature = "ipc-proxy")]
                Action::IpcEvent { local, payload } => self.ipc_send(local, None, &payload),
                #[cfg(feature = "ipc-proxy")]
                Action::IpcDisconnect { local } => self.ipc_disconnect(local),
                // Without the proxy no local client exists, so these never arise.
                #[cfg(not(feature = "ipc-proxy"))]
                Action::IpcResponse { .. }
                | Action::IpcEvent { .. }
                | Action::IpcDisconnect { .. } => {}
                Action::WriteSchemas { files } => {
                    super::schemas::replace_in_background(self.schema_dir.clone(), files)
                }
                #[cfg(feature = "class-systemd")]
                Action::RunUnit {
                    op,
                    action,
                    agent,
                    timeout_ms,
                    or_else,
                } => self.run_unit(op, action, agent, timeout_ms, or_else),
                Action::Kill { pid, group } => {
                    // A reaped agent's pid may already be someone else's: its end is on the
                    // way to the executor, there is nothing left to kill.
                    if !self.reaper.holds(pid) {
                        continue;
                    }
                    let sent = if group {
                        crate::sys::process::kill_group(pid, libc::SIGKILL)
                    } else {
                        crate::sys::process::kill_one(pid, libc::SIGKILL)
                    };
                    if let Err(e) = sent {
                        debug!("kill {}{pid}: {e}", if group { "-" } else { "" });
                    }
                }
            }
        }
        let _ = self.kick.push((), 1);
    }

    fn queue_for(&self, to: ConnId, payload: Rc<Vec<u8>>) {
        let outbox = self.outboxes.borrow().get(&to).cloned();
        let Some(outbox) = outbox else {
            debug!("{to} is gone; message dropped");
            return;
        };
        let Some(payload) = super::conn::fit_outgoing(to, payload, self.limits.max_message_bytes)
        else {
            return;
        };
        let weight = payload.len() + wire::HEADER_LEN;
        if let Err(full) = outbox.push(payload, weight) {
            warn!(
                "{to} is not reading: {} bytes queued, limit {} (max_outbound_bytes); disconnecting it",
                full.queued, full.max
            );
            // Later messages for it are dropped quietly; its task sees the close even while
            // blocked in a write, and ends.
            self.outboxes.borrow_mut().remove(&to);
            outbox.close();
        }
    }

    /// Queues a request relayed for a local client, but only within its share of the outbox
    /// (`max_outbound_bytes / IPC_RELAY_OUTBOX_DIVISOR`), so relays can never overflow it:
    /// the rest stays for our own replies and notifications, and the connection is only ever
    /// dropped for what the cluster does. A refused relay changes nothing here.
    #[cfg(feature = "ipc-proxy")]
    pub(crate) fn relay(&self, to: ConnId, payload: Rc<Vec<u8>>) -> Result<(), RelayRefused> {
        let outbox = self.outboxes.borrow().get(&to).cloned();
        let Some(outbox) = outbox else {
            return Err(RelayRefused::Gone);
        };
        let weight = payload.len() + wire::HEADER_LEN;
        relay_fits(outbox.weight(), weight, self.limits.max_outbound_bytes)?;
        // Within the share, which is within the bound: the push cannot be refused.
        let _ = outbox.push(payload, weight);
        Ok(())
    }

    /// Starts an alert agent and a task that enforces its timeout and logs how it ended.
    fn spawn_alert(self: &Rc<Self>, id: String, invocation: &Invocation, timeout_ms: u32) {
        let (pid, finished) =
            match process::spawn(&self.reaper, invocation, self.limits.max_output_bytes) {
                Ok(started) => started,
                Err(e) => {
                    // The original has already answered 0 at this point too; it only logs.
                    warn!(
                        "could not send alert {id}: cannot run {}: {e}",
                        invocation.program.display()
                    );
                    self.dispatcher.borrow_mut().alert_finished();
                    return;
                }
            };
        let grace = Duration::from_millis(u64::from(timeout_ms)) + ALERT_DRAIN_GRACE;
        let until = Instant::now() + grace;
        self.alerts.set(self.alerts.get() + 1);
        self.alert_drain_until.set(Some(
            self.alert_drain_until.get().map_or(until, |u| u.max(until)),
        ));
        let hub = self.clone();
        self.ex
            .spawn(async move {
                let limit = async {
                    if timeout_ms == 0 {
                        future::pending::<()>().await;
                    }
                    Timer::after(Duration::from_millis(u64::from(timeout_ms))).await;
                };
                let mut finished = std::pin::pin!(finished);
                let done = future::or(async { Some((&mut finished).await) }, async {
                    limit.await;
                    None
                })
                .await;
                let done = match done {
                    Some(d) => d,
                    None => {
                        let _ = crate::sys::process::kill_group(pid, libc::SIGKILL);
                        warn!(
                            "could not send alert {id}: Alert agent did not complete within {}",
                            crate::agents::readable_interval(timeout_ms.into())
                        );
                        finished.await
                    }
                };
                match done.exit {
                    process::ChildExit::Code(0) => debug!("alert {id} [{pid}] completed"),
                    process::ChildExit::Code(n) => {
                        info!("alert {id} [{pid}] completed but exited with status {n}")
                    }
                    process::ChildExit::Signal(s) => {
                        info!("alert {id} [{pid}] ended by signal {s}")
                    }
                }
                hub.alerts.set(hub.alerts.get().saturating_sub(1));
                hub.dispatcher.borrow_mut().alert_finished();
            })
            .detach();
    }

    /// Waits for running alert agents, as the original does at exit: up to the longest alert
    /// timeout plus 5 s.
    pub async fn drain_alerts(&self) {
        let Some(until) = self.alert_drain_until.get() else {
            return;
        };
        // Bounded by `until`.
        while self.alerts.get() > 0 && Instant::now() < until {
            Timer::after(Duration::from_millis(20)).await;
        }
    }

    /// Starts an agent and a task that reports its end; returns the dispatcher's actions.
    fn spawn_agent(self: &Rc<Self>, op: OpId, invocation: &Invocation) -> Vec<Action> {
        match process::spawn(&self.reaper, invocation, self.limits.max_output_bytes) {
            Ok((pid, finished)) => {
                debug!("{op} runs {} as pid {pid}", invocation.program.display());
                let hub = self.clone();
                self.ex
                    .spawn(async move {
                        let finished = finished.await;
                        let actions =
                            hub.dispatcher
                                .borrow_mut()
                                .child_finished(op, finished, now());
                        hub.perform(actions);
                    })
                    .detach();
                self.dispatcher.borrow_mut().child_spawned(op, pid)
            }
            Err(e) => {
                warn!("{op}: cannot run {}: {e}", invocation.program.display());
                self.dispatcher
                    .borrow_mut()
                    .child_spawn_failed(op, &e, now())
            }
        }
    }

    /// Carries out a unit action in a task of its own; its end goes to the dispatcher.
    #[cfg(feature = "class-systemd")]
    fn run_unit(
        self: &Rc<Self>,
        op: OpId,
        action: String,
        agent: String,
        timeout_ms: u32,
        or_else: Option<crate::agents::OpResult>,
    ) {
        let hub = self.clone();
        self.ex
            .spawn(async move {
                let (result, rescheduled) = hub
                    .units
                    .run_for(&action, &agent, timeout_ms, or_else)
                    .await;
                let actions =
                    hub.dispatcher
                        .borrow_mut()
                        .unit_finished(op, result, rescheduled, now());
                hub.perform(actions);
            })
            .detach();
    }

    /// Bounds for parsing one message from a peer, cluster or local.
    pub fn xml_limits(&self) -> crate::proto::xml::Limits {
        crate::proto::xml::Limits {
            max_bytes: self.limits.max_message_bytes,
            max_depth: self.limits.max_xml_depth,
            max_attrs: self.limits.max_xml_attributes,
            max_elements: self.limits.max_xml_elements,
            ..crate::proto::xml::Limits::default()
        }
    }

    /// A fresh connection handle; never reused while the daemon runs.
    pub fn new_conn_id(&self) -> ConnId {
        let id = ConnId(self.next_conn.get());
        self.next_conn.set(id.0 + 1);
        id
    }

    /// Starts routing messages for `conn` into `outbox`.
    pub fn attach(&self, conn: ConnId, outbox: Mailbox<Rc<Vec<u8>>>) {
        self.outboxes.borrow_mut().insert(conn, outbox);
    }

    /// Stops routing messages for `conn`.
    pub fn detach(&self, conn: ConnId) {
        self.outboxes.borrow_mut().remove(&conn);
    }

    /// Tells every connection to finish what it has queued and close.
    pub fn close_all(&self) {
        for outbox in self.outboxes.borrow().values() {
            outbox.close();
        }
    }
}

/// Why a relayed request was not queued.
#[cfg(feature = "ipc-proxy")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelayRefused {
    /// The cluster connection is gone.
    Gone,
    /// Relays already fill their share of the outbox.
    Full {
        /// Bytes queued for the connection.
        queued: usize,
        /// What relays may fill.
        share: usize,
    },
}

/// Whether a relay of `weight` bytes fits the relays' share of an outbox bounded by
/// `max_outbound` that holds `queued` bytes (of relays or anything else).
#[cfg(feature = "ipc-proxy")]
fn relay_fits(queued: usize, weight: usize, max_outbound: usize) -> Result<(), RelayRefused> {
    let share = max_outbound / crate::limits::IPC_RELAY_OUTBOX_DIVISOR;
    if queued.saturating_add(weight) > share {
        return Err(RelayRefused::Full { queued, share });
    }
    Ok(())
}

/// Counts a connection as open from accept until its task ends, so the connection cap holds
/// even for a burst accepted before any task has run.
pub struct OpenGuard(Rc<Hub>);

impl OpenGuard {
    /// Counts one more open connection.
    pub fn new(hub: &Rc<Hub>) -> OpenGuard {
        hub.open.set(hub.open.get() + 1);
        OpenGuard(hub.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.set(self.0.open.get().saturating_sub(1));
    }
}

/// The executor's clock reading: monotonic for durations, epoch seconds for timestamps.
pub fn now() -> Now {
    Now {
        mono: Instant::now(),
        epoch: crate::sys::time::epoch_seconds(),
    }
}

#[cfg(all(test, feature = "ipc-proxy"))]
mod tests {
    use super::*;

    #[test]
    fn relays_fill_at_most_their_share_of_the_outbox() {
        // 48 MiB outbox: relays up to 24 MiB, however they come.
        let max = 48 << 20;
        assert_eq!(relay_fits(0, 24 << 20, max), Ok(()));
        assert_eq!(
            relay_fits(0, (24 << 20) + 1, max),
            Err(RelayRefused::Full {
                queued: 0,
                share: 24 << 20
            })
        );
        assert_eq!(relay_fits(20 << 20, 4 << 20, max), Ok(()));
        assert!(relay_fits((20 << 20) + 1, 4 << 20, max).is_err());
        // The share is always below the bound at which the connection would be dropped.
        assert!(relay_fits(max - 1, 1, max).is_err());
    }
}
