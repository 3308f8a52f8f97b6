//! One requested action and its life: Queued → Running → Done, with recurring operations going
//! back to Waiting between runs, plus the bookkeeping its notifications report. Every change of
//! [`State`] goes through [`Operation::set_state`], which logs it.
//!
//! In: an exec request, then the executor's transitions. Out: the values of its notification.
//! Times are passed in; nothing here reads a clock.

use std::fmt;
use std::time::{Duration, Instant};

use super::event::{Audience, ExecEvent};
use super::request::Reporting;
use crate::agents::{ExecStatus, OpResult};
pub use crate::handles::{ConnId, Now, OpId};

/// Where an operation is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// In its resource's queue; may not run before `ready_at` (start delay).
    Queued {
        /// End of the start delay.
        ready_at: Instant,
    },
    /// Its agent runs (or is being started).
    Running(Run),
    /// A recurring operation between runs.
    Waiting {
        /// When the next run is due.
        due: Instant,
    },
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Queued { .. } => "queued",
            State::Running(_) => "running",
            State::Waiting { .. } => "waiting for its interval",
        })
    }
}

/// A run in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// When it was dispatched.
    pub started: Instant,
    /// The agent's pid, once spawned.
    pub pid: Option<u32>,
    /// When it times out, if it has a timeout.
    pub deadline: Option<Instant>,
    /// Why it is being killed, if it is.
    pub ending: Option<Ending>,
    /// Kill only the agent, not its group (`CRM_meta_on_fail=block`).
    pub kill_agent_only: bool,
    /// How to read the agent's exit.
    pub mapping: crate::agents::Mapping,
    /// Its result was already notified (cancelled while running); the child's end is silent.
    pub reported: bool,
}

/// Why the executor ends a run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The timeout expired.
    TimedOut,
    /// A cancel (or unregister, or stop) asked for it.
    Cancelled,
}

/// One exec request, from queueing to its last notification.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Handle.
    pub id: OpId,
    /// The call id clients know it by (the latest, after a duplicate merge).
    pub call_id: u32,
    /// The client that asked.
    pub client: ConnId,
    /// Resource id.
    pub rsc_id: String,
    /// Action as sent.
    pub action: String,
    /// Interval in ms; 0 for one-shot.
    pub interval_ms: u32,
    /// Timeout in ms; 0 for none.
    pub timeout_ms: u32,
    /// Start delay in ms.
    pub start_delay_ms: u32,
    /// Opaque client data.
    pub user_data: Option<String>,
    /// Parameters in request order.
    pub params: Vec<(String, String)>,
    /// Who hears its results.
    pub audience: Audience,
    /// Which of its results are notified.
    pub reporting: Reporting,
    /// Where it is; changed only through [`set_state`](Self::set_state).
    pub state: State,
    /// When it was queued (for the queue time of its first run).
    pub queued_at: Instant,
    /// Filled for the first run only; later runs of a recurring op report zeros (11.7).
    pub first_run: Option<FirstRun>,
    /// Set once a run has been dispatched (`lrmd_get_recurring` lists only these).
    pub has_run: bool,
    /// rc of the previous run, for `lrmd_rcchange_time` (starts at 0, "ok").
    pub last_rc: i32,
    /// Epoch seconds of the last rc change, 0 if none.
    pub rcchange_time: i64,
    /// The (rc, status) last notified, for "notify changes only".
    pub last_notified: Option<(i32, ExecStatus)>,
    /// The resource was unregistered while this operation lived.
    pub rsc_deleted: bool,
}

/// Timing of the first run of an operation, reported once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirstRun {
    /// Epoch seconds at dispatch.
    pub run_time: i64,
    /// Milliseconds from queueing to dispatch.
    pub queue_time_ms: u64,
}

impl Operation {
    /// Moves it to `next`, with a trace line naming both states.
    pub fn set_state(&mut self, next: State) {
        log::trace!(
            "rsc={} op={}_{} call={}: {} -> {next}",
            self.rsc_id,
            self.action,
            self.interval_ms,
            self.call_id,
            self.state
        );
        self.state = next;
    }

    /// Whether it repeats.
    pub fn is_recurring(&self) -> bool {
        self.interval_ms > 0
    }

    /// Whether it matches a cancel request: same interval, action compared ignoring case.
    pub fn matches(&self, action: &str, interval_ms: u32) -> bool {
        self.interval_ms == interval_ms && self.action.eq_ignore_ascii_case(action)
    }

    /// The interval as a duration.
    pub fn interval(&self) -> Duration {
        Duration::from_millis(u64::from(self.interval_ms))
    }

    /// Records `result` and builds its notification, or `None` when "notify changes only"
    /// suppresses it. Cancellations are always notified. Only results of an agent that ran
    /// (`ran`) move the rc change time, as in the original, where results known before any
    /// process starts (agent missing, class unknown) skip that bookkeeping.
    pub fn conclude(
        &mut self,
        result: OpResult,
        exec_time_ms: u64,
        ran: bool,
        now: Now,
    ) -> Option<ExecEvent> {
        if ran && result.status != ExecStatus::Cancelled {
            if result.rc != self.last_rc {
                self.rcchange_time = now.epoch;
            }
            self.last_rc = result.rc;
        }
        let pair = (result.rc, result.status);
        if self.reporting == Reporting::ChangesOnly
            && self.is_recurring()
            && result.status != ExecStatus::Cancelled
            && self.last_notified == Some(pair)
        {
            // Reported times belong to the first run only, whether or not it was notified.
            self.first_run = None;
            return None;
        }
        self.last_notified = Some(pair);
        let first = self.first_run.take();
        Some(ExecEvent {
            call_id: self.call_id,
            rsc_id: self.rsc_id.clone(),
            action: self.action.clone(),
            interval_ms: self.interval_ms,
            timeout_ms: self.timeout_ms,
            start_delay_ms: self.start_delay_ms,
            result,
            rsc_deleted: self.rsc_deleted,
            run_time: first.map_or(0, |f| f.run_time),
            rcchange_time: self.rcchange_time,
            exec_time_ms: if first.is_some() { exec_time_ms } else { 0 },
            queue_time_ms: first.map_or(0, |f| f.queue_time_ms),
            user_data: self.user_data.clone(),
            params: self.params.clone(),
        })
    }
}
