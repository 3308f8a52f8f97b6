//! The shell half of `systemd:<unit>` resources: carries out what `agents::systemd` decides.
//!
//! In: an action, the agent (unit) as configured and the operation's timeout. Out: the
//! action's [`Outcome`]. The vocabulary ([`Op`], [`follow_up`]) says which call comes next;
//! this file sends it on one system-bus connection (our `crate::dbus` client, made on first
//! use and remade when found closed, as the original does), writes and removes the runtime
//! drop-in, and bounds everything by the operation's timeout plus [`TIMER_GRACE`]. A bus that
//! is missing or goes away gives [`Outcome::no_bus`] or the call's error mapping, never a
//! hang: every call has a deadline and a closed connection fails every waiting call.
//!
//! Start and stop are carried out whole here: the job's acceptance, then monitors until the
//! unit is up or down (protocol.md §12.4), so the caller gets one outcome per action.

use std::cell::{Cell, RefCell};
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::future;

use crate::agents::systemd::{
    self as vocab, follow_up, needs_follow_up, Call, DropIn, Effect, FollowUp, Next, Op, Outcome,
    Rescheduled,
};
use crate::dbus::conn::{self, Bus, Driver};
use crate::dbus::{CallError, Value};
use crate::logging::escaped;

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

/// One connection to systemd's manager, shared by every systemd action of the daemon.
pub struct Units {
    /// The system bus's socket.
    socket: PathBuf,
    /// Prefix for the drop-in paths (`/` in the daemon; a scratch directory in tests).
    files_root: PathBuf,
    /// Starts a connection's driver on the daemon's one-thread loop.
    spawn: Rc<dyn Fn(Driver)>,
    /// The connection, once made and while it stays open.
    bus: RefCell<Option<Bus>>,
}

impl Units {
    /// Units reached through the bus at `socket`, drop-ins under `files_root`; `spawn` runs a
    /// connection's driver (e.g. `|d| ex.spawn(d).detach()`).
    pub fn new(socket: PathBuf, files_root: PathBuf, spawn: Rc<dyn Fn(Driver)>) -> Units {
        Units {
            socket,
            files_root,
            spawn,
            bus: RefCell::new(None),
        }
    }

    /// The daemon's: the system bus (`DBUS_SYSTEM_BUS_ADDRESS` or the standard socket),
    /// drop-ins under `/`, drivers on `ex`.
    pub fn for_daemon(ex: &Rc<async_executor::LocalExecutor<'static>>) -> Rc<Units> {
        let socket = crate::dbus::address::system_bus(&|k| std::env::var(k).ok())
            .unwrap_or_else(|_| PathBuf::from(crate::dbus::address::SYSTEM_BUS_SOCKET));
        let ex = Rc::clone(ex);
        Rc::new(Units::new(
            socket,
            PathBuf::from("/"),
            Rc::new(move |d| ex.spawn(d).detach()),
        ))
    }

    /// [`Units::run`] for the executor: its timeout in ms (0, none given, means the bus's
    /// default call timeout), the result as the executor's, and what the follow-ups leave
    /// in the report ([`Rescheduled`]). `or_else` is set for a `service:` resource that has no LSB script: when
    /// systemd does not know the unit either, that (the LSB answer) is the result, as the
    /// original resolves `service:` first to LSB, then systemd, then LSB anyway.
    /// `meta-data` needs the bus too, and answers the original's meta-data as output.
    pub async fn run_for(
        &self,
        action: &str,
        agent: &str,
        timeout_ms: u32,
        or_else: Option<crate::agents::OpResult>,
    ) -> (crate::agents::OpResult, Option<Rescheduled>) {
        let timeout = match timeout_ms {
            0 => crate::limits::DBUS_DEFAULT_CALL_TIMEOUT,
            ms => Duration::from_millis(u64::from(ms)),
        };
        if let Some(lsb) = or_else {
            if !self
                .exists(agent, crate::limits::DBUS_DEFAULT_CALL_TIMEOUT)
                .await
            {
                return (lsb, None);
            }
        }
        if action.eq_ignore_ascii_case("meta-data") {
            if self.bus().await.is_none() {
                return (Outcome::no_bus().into_result(action, agent), None);
            }
            let xml = self.metadata(agent, timeout).await;
            let mut result = Outcome::ok().into_result(action, agent);
            result.output = Some(xml);
            return (result, None);
        }
        let rescheduled = Cell::new(None);
        let outcome = self.run(action, agent, timeout, &rescheduled).await;
        (outcome.into_result(action, agent), rescheduled.get())
    }

    /// The open connection, or a new one; `None` when the bus cannot be reached.
    async fn bus(&self) -> Option<Bus> {
        let current = self.bus.borrow().clone();
        if let Some(bus) = current {
            if bus.is_connected() {
                return Some(bus);
            }
        }
        let spawn = Rc::clone(&self.spawn);
        match conn::open(&self.socket, move |d| spawn(d)).await {
            Ok(bus) => {
                *self.bus.borrow_mut() = Some(bus.clone());
                Some(bus)
            }
            Err(e) => {
                crate::limited!(
                    crate::logging::Source::Agent,
                    log::Level::Warn,
                    "cannot reach systemd on the system bus: {e}"
                );
                *self.bus.borrow_mut() = None;
                None
            }
        }
    }

    /// Carries out `action` of `agent` within `timeout` (plus [`TIMER_GRACE`], as the
    /// original's timer): one outcome, after the follow-up monitors for a start or stop.
    /// `rescheduled` holds the last follow-up's delay and whether the rc changed, if any ran.
    pub async fn run(
        &self,
        action: &str,
        agent: &str,
        timeout: Duration,
        rescheduled: &Cell<Option<Rescheduled>>,
    ) -> Outcome {
        let deadline = Instant::now() + timeout + vocab::TIMER_GRACE;
        let work = async {
            let began = Instant::now();
            let first = self.once(action, agent, timeout).await;
            if !needs_follow_up(action, &first) {
                return first;
            }
            let mut outcome = first;
            let mut is_first = true;
            let mut last_rc = outcome.raw_rc();
            let mut rc_changed = false;
            loop {
                match follow_up(action, is_first, outcome, began.elapsed(), timeout) {
                    FollowUp::Report(o) => return o,
                    FollowUp::Monitor { delay, timeout } => {
                        rescheduled.set(Some(Rescheduled {
                            start_delay_ms: millis(delay),
                            rc_changed,
                        }));
                        Timer::after(delay).await;
                        outcome = self.once("monitor", agent, timeout).await;
                        is_first = false;
                        let rc = outcome.raw_rc();
                        if rc != last_rc {
                            rc_changed = true;
                            rescheduled.set(Some(Rescheduled {
                                start_delay_ms: millis(delay),
                                rc_changed,
                            }));
                        }
                        last_rc = rc;
                    }
                }
            }
        };
        future::or(work, async {
            Timer::at(deadline).await;
            Outcome::timed_out(action, agent)
        })
        .await
    }

    /// One pass of the vocabulary's call sequence, without follow-ups. A stalled action
    /// (the original would never finish it) waits for the caller's timer.
    async fn once(&self, action: &str, agent: &str, timeout: Duration) -> Outcome {
        let Some(bus) = self.bus().await else {
            return Outcome::no_bus();
        };
        let mut next = Op::start(action, agent);
        loop {
            match next {
                Next::Finished(Outcome::Stalled) => return future::pending().await,
                Next::Finished(outcome) => return outcome,
                Next::Call { op, effects, call } => {
                    for effect in effects {
                        self.carry_out(&bus, effect);
                    }
                    let reply = bus.call(call.message(), timeout).await;
                    next = op.on_reply(reply);
                }
            }
        }
    }

    /// Writes or removes the drop-in; reloads systemd when the file changed. Failures are
    /// logged and the action goes on, as in the original.
    fn carry_out(&self, bus: &Bus, effect: Effect) {
        let changed = match effect {
            Effect::WriteDropIn(drop_in) => match self.write_drop_in(&drop_in) {
                Ok(()) => true,
                Err(e) => {
                    log::warn!(
                        "cannot write systemd drop-in {}: {e}",
                        escaped(&drop_in.file.to_string_lossy())
                    );
                    false
                }
            },
            Effect::RemoveDropIn(file) => match fs::remove_file(self.rooted(&file)) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => {
                    log::warn!(
                        "cannot remove systemd drop-in {}: {e}",
                        escaped(&file.to_string_lossy())
                    );
                    false
                }
            },
        };
        if changed {
            // The reply is only logged by the original; we do not wait for it.
            if let Err(e) = bus.send(&Call::Reload.message()) {
                log::warn!("cannot ask systemd to reload: {e}");
            }
        }
    }

    fn write_drop_in(&self, drop_in: &DropIn) -> io::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(self.rooted(&drop_in.dir))?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(self.rooted(&drop_in.file))?;
        file.write_all(drop_in.content.as_bytes())
    }

    fn rooted(&self, path: &Path) -> PathBuf {
        self.files_root.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// The agent list (`ListUnitFiles`), empty when systemd cannot be asked.
    pub async fn agent_list(&self, timeout: Duration) -> Vec<String> {
        let Some(bus) = self.bus().await else {
            return Vec::new();
        };
        match bus.call(Call::ListUnitFiles.message(), timeout).await {
            Ok(reply) => vocab::agent_list(&reply),
            Err(_) => Vec::new(),
        }
    }

    /// The meta-data for `agent`, with the unit's description when it can be read.
    pub async fn metadata(&self, agent: &str, timeout: Duration) -> String {
        let description = match vocab::unit_name(agent, true) {
            Some(unit) => self.property(&unit, "Description", timeout).await,
            None => Err(false),
        };
        match description {
            Ok(d) => vocab::metadata(agent, Some(&d)),
            Err(true) => vocab::metadata(agent, Some("(null)")),
            Err(false) => vocab::metadata(agent, None),
        }
    }

    /// Whether systemd knows `agent` (`service:` resolution).
    pub async fn exists(&self, agent: &str, timeout: Duration) -> bool {
        match vocab::unit_name(agent, false) {
            Some(unit) => self
                .property(&unit, "LoadState", timeout)
                .await
                .is_ok_and(|s| vocab::unit_exists(&s)),
            None => false,
        }
    }

    /// `LoadUnit` then one string property. `Err(true)`: the unit loaded but the property
    /// could not be read; `Err(false)`: no unit (or no bus).
    async fn property(
        &self,
        unit: &str,
        property: &'static str,
        timeout: Duration,
    ) -> Result<String, bool> {
        let bus = self.bus().await.ok_or(false)?;
        let reply = bus
            .call(Call::LoadUnit(unit.to_string()).message(), timeout)
            .await
            .map_err(|_| false)?;
        let path = match reply.body.as_slice() {
            [Value::Path(p)] => p.clone(),
            _ => return Err(false),
        };
        let reply: Result<_, CallError> = bus
            .call(Call::GetUnitProperty { path, property }.message(), timeout)
            .await;
        match reply.as_ref().map(|m| m.body.as_slice()) {
            Ok([Value::Variant(v)]) => v.as_str().map(str::to_string).ok_or(true),
            _ => Err(true),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    fn units(socket: &str, root: &Path) -> Units {
        Units::new(PathBuf::from(socket), root.to_path_buf(), Rc::new(|_| {}))
    }

    /// No bus at all: a clear "No DBus connection" at once, never a hang.
    #[test]
    fn missing_bus_is_a_clear_error() {
        let dir = std::env::temp_dir().join(format!("pcmkr-units-{}", std::process::id()));
        let u = units("/nonexistent/pcmkr-bus", &dir);
        let started = Instant::now();
        let outcome =
            future::block_on(u.run("start", "foo", Duration::from_secs(20), &Cell::new(None)));
        assert_eq!(outcome, Outcome::no_bus());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(future::block_on(u.agent_list(Duration::from_secs(1))).is_empty());
        assert!(!future::block_on(u.exists("foo", Duration::from_secs(1))));
        assert!(future::block_on(u.metadata("foo", Duration::from_secs(1)))
            .contains("Systemd unit file for foo"));
    }

    /// Drop-in paths land under the root given (the daemon's is `/`).
    #[test]
    fn drop_in_written_under_root() {
        let dir = std::env::temp_dir().join(format!("pcmkr-units-dropin-{}", std::process::id()));
        let u = units("/nonexistent/pcmkr-bus", &dir);
        let drop_in = DropIn::for_agent("foo").unwrap();
        u.write_drop_in(&drop_in).unwrap();
        let written = fs::read_to_string(u.rooted(&drop_in.file)).unwrap();
        assert_eq!(written, drop_in.content);
        assert!(u
            .rooted(&drop_in.file)
            .ends_with("run/systemd/system/foo.service.d/50-pacemaker.conf"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
