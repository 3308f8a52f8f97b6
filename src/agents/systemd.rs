//! `systemd:<unit>` resources: the vocabulary, pure. Unit names, the D-Bus calls each action
//! makes and in which order, the runtime drop-in, how replies and unit states become OCF
//! results, the follow-up monitors that wait for a start or stop, meta-data and the agent
//! list, all as the original (Pacemaker 2.1.5, Debian 12's) does them. Nothing here talks to
//! the bus or touches a file: [`Op`] returns the next [`Call`] and file [`Effect`]s, and the
//! shell carries them out with `crate::dbus` and feeds the replies back.
//!
//! What the original sends, per action (bus name `org.freedesktop.systemd1`, manager object
//! `/org/freedesktop/systemd1`, interface `org.freedesktop.systemd1.Manager`; one private
//! system-bus connection, made on first use and remade when found closed; no `Subscribe`, no
//! `AddMatch` in 2.1.5):
//! - every action but meta-data: `LoadUnit(s unit) → o path` first, where `unit` is the
//!   normalised name ([`unit_name`]); an error reply or a reply that is not one object path
//!   ends the action with (1, error, "No DBus object found for systemd unit <agent>");
//! - `monitor`, `status`: `org.freedesktop.DBus.Properties.Get(s
//!   "org.freedesktop.systemd1.Unit", s "ActiveState") → v(s)` on that path ([`verdict`]);
//! - `start`: write the drop-in ([`DropIn`]), `Reload()` (reply only logged, not awaited),
//!   then `StartUnit(s unit, s "replace") → o job`;
//! - `stop`: remove the drop-in, `Reload()` if it existed, then `StopUnit(s unit, s
//!   "replace") → o job`;
//! - `restart`: `RestartUnit(s unit, s "replace")`; any other action: (3, error, "Action X not
//!   implemented for systemd resources") after `LoadUnit`;
//! - meta-data: `LoadUnit` (with the template instance) and `Get(Unit, "Description")`, no
//!   result codes involved ([`metadata`]);
//! - the agent list: `ListUnitFiles() → a(ss)` ([`agent_list`]); `ListUnits` is never used;
//! - `service:` resolution: `LoadUnit`, then `Get(Unit, "LoadState")`: "loaded" or "masked"
//!   means the unit exists ([`unit_exists`]).
//!
//! A D-Bus call waits for the operation's timeout; the whole action is bounded by its
//! timeout plus [`TIMER_GRACE`], after which it ends with (1, timeout, "<action> action for
//! systemd unit <agent> did not complete in time") — also what a failed property read comes
//! to, since the original then never finishes the action. A job accepted by `StartUnit` or
//! `StopUnit` is only success so far: the executor then runs follow-up monitors until the
//! unit is up or down ([`follow_up`]), and reports the real action once, with the times of
//! the first run. Pacemaker 3.x waits for `JobRemoved` instead (`AddMatch` on the manager's
//! signals, `Subscribe`, then the job's result "done", "timeout" or another word); that is
//! not what Debian 12's cluster nodes run.

use std::path::PathBuf;
use std::time::Duration;

use super::result::ocf as rc;
use crate::dbus::{CallError, Message, Value};

/// systemd's well-known bus name.
pub const SYSTEMD_BUS_NAME: &str = "org.freedesktop.systemd1";
/// The manager object.
pub const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
/// The manager interface.
pub const MANAGER_INTERFACE: &str = "org.freedesktop.systemd1.Manager";
/// The unit interface, whose properties we read.
pub const UNIT_INTERFACE: &str = "org.freedesktop.systemd1.Unit";
/// The standard properties interface.
pub const PROPERTIES_INTERFACE: &str = "org.freedesktop.DBus.Properties";

/// Added to an action's timeout for the timer that ends it (the original's 5 s, of unstated
/// reason).
pub const TIMER_GRACE: Duration = Duration::from_secs(5);

/// Unit types the original manages; other names get `.service` appended.
const EXTENSIONS: [&str; 5] = [".service", ".socket", ".mount", ".timer", ".path"];

/// Where runtime drop-ins live (lost at reboot, as the cluster's state is).
pub const DROP_IN_ROOT: &str = "/run/systemd/system";
/// The drop-in's file name inside `<unit>.d/`.
pub const DROP_IN_FILE: &str = "50-pacemaker.conf";

/// The managed extension `name` ends with (after its last dot), if any.
fn extension(name: &str) -> Option<&'static str> {
    let dot = name.rfind('.')?;
    EXTENSIONS.iter().copied().find(|e| *e == &name[dot..])
}

/// The unit the original addresses for agent `agent`: `foo` is `foo.service`; names with a
/// managed extension are kept, except that a template with no instance (`foo@.service`)
/// gets the instance `pacemaker`; `foo@` alone becomes `foo@pacemaker.service` only when
/// `with_instance` (existence checks and meta-data), else `foo@.service`. An unknown
/// extension is part of the name (`foo.bar` is `foo.bar.service`). Empty: none.
pub fn unit_name(agent: &str, with_instance: bool) -> Option<String> {
    if agent.is_empty() {
        return None;
    }
    if let Some(ext) = extension(agent) {
        let stem = &agent[..agent.len() - ext.len()];
        return Some(if stem.ends_with('@') {
            format!("{stem}pacemaker{ext}")
        } else {
            agent.to_string()
        });
    }
    Some(if with_instance && agent.ends_with('@') {
        format!("{agent}pacemaker.service")
    } else {
        format!("{agent}.service")
    })
}

/// One D-Bus call to systemd (or to the bus for its properties), as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `Manager.LoadUnit(s) → o`: the unit's object, loading it if needed.
    LoadUnit(String),
    /// `Properties.Get(s "org.freedesktop.systemd1.Unit", s property) → v` on a unit object.
    GetUnitProperty {
        /// The unit's object path.
        path: String,
        /// `ActiveState`, `LoadState` or `Description`.
        property: &'static str,
    },
    /// `Manager.StartUnit(s unit, s "replace") → o job`.
    StartUnit(String),
    /// `Manager.StopUnit(s unit, s "replace") → o job`.
    StopUnit(String),
    /// `Manager.RestartUnit(s unit, s "replace") → o job`.
    RestartUnit(String),
    /// `Manager.Reload()`: re-read unit files (after a drop-in changed).
    Reload,
    /// `Manager.ListUnitFiles() → a(ss)`.
    ListUnitFiles,
}

impl Call {
    /// The message to send.
    pub fn message(&self) -> Message {
        let manager = |member: &str| {
            Message::method_call(SYSTEMD_BUS_NAME, MANAGER_PATH, MANAGER_INTERFACE, member)
        };
        let job = |member: &str, unit: &str| {
            manager(member).with_body(vec![Value::str(unit), Value::str("replace")])
        };
        match self {
            Call::LoadUnit(unit) => manager("LoadUnit").with_body(vec![Value::str(unit)]),
            Call::GetUnitProperty { path, property } => {
                Message::method_call(SYSTEMD_BUS_NAME, path, PROPERTIES_INTERFACE, "Get")
                    .with_body(vec![Value::str(UNIT_INTERFACE), Value::str(property)])
            }
            Call::StartUnit(unit) => job("StartUnit", unit),
            Call::StopUnit(unit) => job("StopUnit", unit),
            Call::RestartUnit(unit) => job("RestartUnit", unit),
            Call::Reload => manager("Reload"),
            Call::ListUnitFiles => manager("ListUnitFiles"),
        }
    }
}

/// The runtime drop-in written before a start and removed before a stop: it orders the unit
/// before the cluster daemons, so at shutdown systemd stops it only after them, and (for
/// services) turns off `Restart=`, so systemd never restarts it behind the cluster's back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropIn {
    /// The directory, created with mode 0755 and its parents.
    pub dir: PathBuf,
    /// The file, written with mode 0644.
    pub file: PathBuf,
    /// Its content.
    pub content: String,
}

impl DropIn {
    /// The drop-in for `agent`. Location as Pacemaker 3.x (`<unit>.d/`, which systemd reads
    /// for every unit type); 2.1.5 used `<agent>.service.d/`, a directory systemd never
    /// reads when the agent already ends in `.service` or names another type. Content as
    /// 2.1.5 (description naming the agent, a final empty line), with the `[Service]` part
    /// only for services, as 3.x, since other unit types have no such section.
    pub fn for_agent(agent: &str) -> Option<DropIn> {
        let unit = unit_name(agent, false)?;
        let dir = PathBuf::from(format!("{DROP_IN_ROOT}/{unit}.d"));
        let mut content = format!(
            "[Unit]\nDescription=Cluster Controlled {agent}\n\
             Before=pacemaker.service pacemaker_remote.service\n"
        );
        if unit.ends_with(".service") {
            content.push_str("\n[Service]\nRestart=no\n");
        }
        content.push('\n');
        Some(DropIn {
            file: dir.join(DROP_IN_FILE),
            dir,
            content,
        })
    }
}

/// File work the shell does before the next call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write the drop-in; if that worked, send [`Call::Reload`] (its reply is only logged).
    /// A failure is logged and the action goes on, as in the original.
    WriteDropIn(DropIn),
    /// Remove the drop-in file; if it existed, send [`Call::Reload`]. A missing file is fine.
    RemoveDropIn(PathBuf),
}

/// What an action comes to (rc, execution status, exit reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Finished with an OCF rc.
    Done {
        /// OCF rc.
        rc: i32,
        /// Execution status.
        status: Status,
        /// Exit reason.
        reason: Option<String>,
    },
    /// The unit is between states (`activating`, `deactivating`): the original's rc 193
    /// (unknown) with status "pending" (-1), which the executor either retries (follow-ups)
    /// or reports as is (a recurring monitor).
    Pending,
    /// The original would leave the action unfinished (a property read failed) until its
    /// timer, at the operation's timeout plus [`TIMER_GRACE`]: the shell reports
    /// [`Outcome::timed_out`] then, never earlier, so timing matches.
    Stalled,
}

/// The execution statuses systemd actions end with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Still in progress: only [`Outcome::Pending`] becomes this.
    Pending,
    /// It ran; see the rc.
    Done,
    /// Could not be carried out.
    Error,
    /// The caller gave no action or no agent: never retried.
    ErrorFatal,
    /// Did not finish in time.
    Timeout,
    /// The unit does not exist.
    NotInstalled,
}

impl Outcome {
    fn done(rc: i32, status: Status, reason: Option<String>) -> Outcome {
        Outcome::Done { rc, status, reason }
    }

    /// Success with no reason.
    pub fn ok() -> Outcome {
        Outcome::done(rc::OK, Status::Done, None)
    }

    /// No connection to the bus (or systemd not there).
    pub fn no_bus() -> Outcome {
        Outcome::done(
            rc::UNKNOWN_ERROR,
            Status::Error,
            Some("No DBus connection".into()),
        )
    }

    /// The action's timer (its timeout plus [`TIMER_GRACE`]) ran out.
    pub fn timed_out(action: &str, agent: &str) -> Outcome {
        Outcome::done(
            rc::UNKNOWN_ERROR,
            Status::Timeout,
            Some(format!(
                "{action} action for systemd unit {agent} did not complete in time"
            )),
        )
    }
}

impl Outcome {
    /// The executor's result. `Pending` is the original's rc 193 with execution status
    /// "pending" (-1), as a monitor of a unit between states reports it; `Stalled` never
    /// reaches here (the shell's timer turns it into a timeout).
    pub fn into_result(self, action: &str, agent: &str) -> crate::agents::OpResult {
        use crate::agents::ExecStatus;
        let (rc, status, reason) = match self {
            Outcome::Done { rc, status, reason } => (rc, status, reason),
            Outcome::Pending => (PENDING_RC, Status::Pending, None),
            Outcome::Stalled => {
                return Outcome::timed_out(action, agent).into_result(action, agent)
            }
        };
        let status = match status {
            Status::Pending => ExecStatus::Pending,
            Status::Done => ExecStatus::Done,
            Status::Error => ExecStatus::Error,
            Status::ErrorFatal => ExecStatus::ErrorFatal,
            Status::Timeout => ExecStatus::Timeout,
            Status::NotInstalled => ExecStatus::NotInstalled,
        };
        crate::agents::OpResult {
            rc,
            status,
            exit_reason: reason,
            output: None,
        }
    }
}

/// The original's rc for a unit between states.
const PENDING_RC: i32 = 193;

/// `ActiveState` → result, as the original maps it: `active` and `reloading` are running,
/// `activating` and `deactivating` pending, anything else (`inactive`, `failed`, ...) not
/// running with the state as the exit reason.
pub fn verdict(active_state: &str) -> Outcome {
    match active_state {
        "active" | "reloading" => Outcome::ok(),
        "activating" | "deactivating" => Outcome::Pending,
        other => Outcome::done(rc::NOT_RUNNING, Status::Done, Some(other.to_string())),
    }
}

/// An error reply to a start, stop or restart: a unit that cannot exist is "not installed"
/// (and a stop of it succeeds: nothing to stop); anything else is a generic error.
fn method_error(action: &str, agent: &str, error: &CallError) -> Outcome {
    if let CallError::Error { name, .. } = error {
        let missing = [
            "org.freedesktop.systemd1.InvalidName",
            "org.freedesktop.systemd1.LoadFailed",
            "org.freedesktop.systemd1.NoSuchUnit",
        ];
        if missing.iter().any(|m| name.contains(m)) {
            if action.eq_ignore_ascii_case("stop") {
                return Outcome::ok();
            }
            return Outcome::done(
                rc::NOT_INSTALLED,
                Status::NotInstalled,
                Some(format!("systemd unit {agent} not found")),
            );
        }
    }
    Outcome::done(
        rc::UNKNOWN_ERROR,
        Status::Error,
        Some("Unable to invoke systemd DBus method".into()),
    )
}

/// The one object path a reply carries, if that is all it carries.
fn one_path(reply: &Message) -> Option<&str> {
    match reply.body.as_slice() {
        [Value::Path(p)] => Some(p),
        _ => None,
    }
}

/// What to do next in an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Carry out `effects`, send `call`, and give its reply to `op`.
    Call {
        /// The action, waiting for the reply.
        op: Op,
        /// File work first.
        effects: Vec<Effect>,
        /// Then this call.
        call: Call,
    },
    /// The action is over.
    Finished(Outcome),
}

/// One systemd action (not meta-data) in flight, named by what it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Waiting for `LoadUnit`'s object path.
    AwaitUnitPath {
        /// The action.
        action: String,
        /// The agent as configured.
        agent: String,
    },
    /// Waiting for the unit's `ActiveState` (monitor, status).
    AwaitActiveState,
    /// Waiting for the job that `StartUnit`, `StopUnit` or `RestartUnit` queued.
    AwaitJob {
        /// The action.
        action: String,
        /// The agent as configured.
        agent: String,
    },
}

impl Op {
    /// Starts `action` of `agent` (the original checks only that both are given).
    pub fn start(action: &str, agent: &str) -> Next {
        let Some(unit) = unit_name(agent, false) else {
            return Next::Finished(Outcome::done(
                rc::NOT_CONFIGURED,
                Status::ErrorFatal,
                Some("Bug in action caller".into()),
            ));
        };
        Next::Call {
            op: Op::AwaitUnitPath {
                action: action.to_string(),
                agent: agent.to_string(),
            },
            effects: Vec::new(),
            call: Call::LoadUnit(unit),
        }
    }

    /// Takes the reply to the call this state waits for.
    pub fn on_reply(self, reply: Result<Message, CallError>) -> Next {
        match self {
            // LoadUnit: anything but one object path ends the action.
            Op::AwaitUnitPath { action, agent } => {
                let path = reply.as_ref().ok().and_then(one_path).map(str::to_string);
                let Some(path) = path else {
                    return Next::Finished(Outcome::done(
                        rc::UNKNOWN_ERROR,
                        Status::Error,
                        Some(format!("No DBus object found for systemd unit {agent}")),
                    ));
                };
                Op::act(action, agent, path)
            }
            // Properties.Get: a string in a variant, nothing else. Otherwise the original
            // never finishes the action; its timer does.
            Op::AwaitActiveState => Next::Finished(match reply.as_ref().map(|m| &m.body[..]) {
                Ok([Value::Variant(v)]) => match &**v {
                    Value::Str(state) => verdict(state),
                    _ => Outcome::Stalled,
                },
                _ => Outcome::Stalled,
            }),
            // The job was queued (or not): success here only means "accepted".
            Op::AwaitJob { action, agent } => Next::Finished(match reply {
                Err(e) => method_error(&action, &agent, &e),
                Ok(m) if one_path(&m).is_some() => Outcome::ok(),
                Ok(_) => Outcome::done(
                    rc::OK,
                    Status::Done,
                    Some("systemd DBus method had unexpected reply".into()),
                ),
            }),
        }
    }

    /// The action proper, once the unit's object is known.
    fn act(action: String, agent: String, path: String) -> Next {
        // Drop-ins and job calls take the unit name; `agent` is not empty here.
        let unit = unit_name(&agent, false).unwrap_or_default();
        let (effects, call) = match action.as_str() {
            "monitor" | "status" => {
                return Next::Call {
                    op: Op::AwaitActiveState,
                    effects: Vec::new(),
                    call: Call::GetUnitProperty {
                        path,
                        property: "ActiveState",
                    },
                }
            }
            "start" => (
                DropIn::for_agent(&agent)
                    .map(Effect::WriteDropIn)
                    .into_iter()
                    .collect(),
                Call::StartUnit(unit),
            ),
            "stop" => (
                DropIn::for_agent(&agent)
                    .map(|d| Effect::RemoveDropIn(d.file))
                    .into_iter()
                    .collect(),
                Call::StopUnit(unit),
            ),
            "restart" => (Vec::new(), Call::RestartUnit(unit)),
            other => {
                return Next::Finished(Outcome::done(
                    rc::UNIMPLEMENT_FEATURE,
                    Status::Error,
                    Some(format!(
                        "Action {other} not implemented for systemd resources"
                    )),
                ))
            }
        };
        Next::Call {
            op: Op::AwaitJob { action, agent },
            effects,
            call,
        }
    }
}

/// After a start or stop, what the executor does next (the original's executor, for the
/// systemd class only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    /// Report this for the real action (start or stop), with the first run's times.
    Report(Outcome),
    /// Run a `monitor` after `delay`, with `timeout` as its timeout, and call
    /// [`follow_up`] with its outcome.
    Monitor {
        /// Start delay.
        delay: Duration,
        /// What is left of the real action's timeout.
        timeout: Duration,
    },
}

/// A start or stop that went on with follow-up monitors: the original reports the last
/// follow-up's start delay as the operation's own (its timeout it puts back), and counts an
/// rc change whenever one run's rc (the job's acceptance, 0, then each follow-up's, before
/// a start's or stop's "not running" is mapped) differs from the run before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rescheduled {
    /// The last follow-up's start delay.
    pub start_delay_ms: u32,
    /// Some follow-up's rc differed from the run before it.
    pub rc_changed: bool,
}

impl Outcome {
    /// The rc this outcome reports before any start/stop mapping (`Stalled`: none).
    pub fn raw_rc(&self) -> Option<i32> {
        match self {
            Outcome::Done { rc, .. } => Some(*rc),
            Outcome::Pending => Some(PENDING_RC),
            Outcome::Stalled => None,
        }
    }
}

/// Whether `outcome` of `action` is only the queued job, to be confirmed by monitors.
pub fn needs_follow_up(action: &str, outcome: &Outcome) -> bool {
    (action.eq_ignore_ascii_case("start") || action.eq_ignore_ascii_case("stop"))
        && matches!(outcome, Outcome::Done { rc: 0, .. })
}

/// The next step of a start or stop whose job was accepted: `outcome` is the last result
/// (the job's acceptance, or the last follow-up monitor's), `elapsed` the time since the
/// real action first ran, `timeout` its original timeout. Pending, and a stop whose unit is
/// still running, go again; a start whose unit is not running fails (rc 1, reason the
/// state), a stop whose unit is not running succeeds. Each retry waits a tenth of the
/// timeout, at most 2 s (half of what is left when that is less); when no retry fits in what
/// is left, the action times out.
pub fn follow_up(
    action: &str,
    first: bool,
    outcome: Outcome,
    elapsed: Duration,
    timeout: Duration,
) -> FollowUp {
    let stop = action.eq_ignore_ascii_case("stop");
    let again = first
        || match &outcome {
            Outcome::Pending => true,
            Outcome::Done { rc: 0, .. } => stop,
            _ => false,
        };
    if !again {
        return FollowUp::Report(match outcome {
            Outcome::Done {
                rc: rc::NOT_RUNNING,
                status: Status::Done,
                reason,
            } => {
                if stop {
                    Outcome::done(rc::OK, Status::Done, reason)
                } else {
                    Outcome::done(rc::UNKNOWN_ERROR, Status::Done, reason)
                }
            }
            other => other,
        });
    }
    // Milliseconds, signed, as the original counts them.
    let timeout_ms = timeout.as_millis() as i64;
    let left = timeout_ms - elapsed.as_millis() as i64;
    let mut delay = timeout_ms / 10;
    if delay >= left && left > 20 {
        delay = left / 2;
    }
    delay = delay.min(2000);
    if delay < left {
        return FollowUp::Monitor {
            delay: Duration::from_millis(delay.max(0) as u64),
            timeout: Duration::from_millis(left as u64),
        };
    }
    FollowUp::Report(Outcome::done(
        rc::UNKNOWN_ERROR,
        Status::Timeout,
        Some(
            "Investigate reason for timeout, and adjust configured operation timeout if \
             necessary"
                .into(),
        ),
    ))
}

/// Whether a `LoadState` means the unit exists (`service:` resolution).
pub fn unit_exists(load_state: &str) -> bool {
    matches!(load_state, "loaded" | "masked")
}

/// The agent list from a `ListUnitFiles` reply: each file's base name when its extension is
/// managed, `.service` taken off, sorted without regard to ASCII case (ties keep the
/// reverse of the reply's order, as the original builds its list backwards). Entries that
/// are not `(ss)` are skipped; duplicates stay.
pub fn agent_list(reply: &Message) -> Vec<String> {
    let Some(Value::Array(_, entries)) = reply.body.first() else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .iter()
        .rev()
        .filter_map(|e| match e {
            Value::Struct(fields) => fields.first().and_then(Value::as_str),
            _ => None,
        })
        .filter_map(|path| {
            let ext = extension(path)?;
            let base = path.rsplit('/').next().unwrap_or(path);
            Some(if ext == ".service" {
                base[..base.len() - ext.len()].to_string()
            } else {
                base.to_string()
            })
        })
        .collect();
    names.sort_by(|a, b| {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    });
    names
}

/// The meta-data the original gives for a systemd agent: `agent` as given, and the unit's
/// `Description` when it could be read (`None`: "Systemd unit file for <agent>" when
/// `LoadUnit` failed; the original prints "(null)" when only the property read failed, which
/// `Some("(null)")` reproduces).
pub fn metadata(agent: &str, description: Option<&str>) -> String {
    let desc = description.map_or_else(
        || format!("Systemd unit file for {agent}"),
        |d| d.to_string(),
    );
    format!(
        "<?xml version=\"1.0\"?>\n\
         <!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n\
         <resource-agent name=\"{agent}\" version=\"0.1\">\n\
         \x20 <version>1.1</version>\n\
         \x20 <longdesc lang=\"en\">\n\
         \x20   {}\n\
         \x20 </longdesc>\n\
         \x20 <shortdesc lang=\"en\">systemd unit file for {agent}</shortdesc>\n\
         \x20 <parameters/>\n\
         \x20 <actions>\n\
         \x20   <action name=\"start\"     timeout=\"100\" />\n\
         \x20   <action name=\"stop\"      timeout=\"100\" />\n\
         \x20   <action name=\"status\"    timeout=\"100\" />\n\
         \x20   <action name=\"monitor\"   timeout=\"100\" interval=\"60\"/>\n\
         \x20   <action name=\"meta-data\" timeout=\"5\"   />\n\
         \x20 </actions>\n\
         \x20 <special tag=\"systemd\"/>\n\
         </resource-agent>\n",
        escape_description(&desc)
    )
}

/// The original's escaping of the description (2.1.5's `crm_xml_escape`): the five XML
/// specials as entities, a tab as four spaces, newline and carriage return as `\n` and `\r`,
/// other control characters as `\` and three octal digits; it stops escaping at the first
/// non-ASCII character and copies the rest as is.
fn escape_description(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if !c.is_ascii() {
            out.push_str(&text[i..]);
            break;
        }
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '&' => out.push_str("&amp;"),
            '\t' => out.push_str("    "),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if !(' '..='~').contains(&c) => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_as_the_original_accepts_them() {
        // (agent, for an action, for an existence check or meta-data)
        let t = [
            ("foo", "foo.service", "foo.service"),
            ("foo.service", "foo.service", "foo.service"),
            ("foo.socket", "foo.socket", "foo.socket"),
            ("foo.mount", "foo.mount", "foo.mount"),
            ("foo.timer", "foo.timer", "foo.timer"),
            ("foo.path", "foo.path", "foo.path"),
            ("foo@bar", "foo@bar.service", "foo@bar.service"),
            ("foo@bar.service", "foo@bar.service", "foo@bar.service"),
            ("foo@", "foo@.service", "foo@pacemaker.service"),
            (
                "foo@.service",
                "foo@pacemaker.service",
                "foo@pacemaker.service",
            ),
            (
                "foo@.socket",
                "foo@pacemaker.socket",
                "foo@pacemaker.socket",
            ),
            ("foo.bar", "foo.bar.service", "foo.bar.service"),
            ("foo.target", "foo.target.service", "foo.target.service"),
            (".service", ".service", ".service"),
        ];
        for (agent, action, lookup) in t {
            assert_eq!(unit_name(agent, false).as_deref(), Some(action), "{agent}");
            assert_eq!(unit_name(agent, true).as_deref(), Some(lookup), "{agent}");
        }
        assert_eq!(unit_name("", true), None);
    }

    #[test]
    fn calls_as_messages() {
        let m = Call::StartUnit("foo.service".into()).message();
        assert_eq!(m.header.destination.as_deref(), Some(SYSTEMD_BUS_NAME));
        assert_eq!(m.header.path.as_deref(), Some(MANAGER_PATH));
        assert_eq!(m.header.interface.as_deref(), Some(MANAGER_INTERFACE));
        assert_eq!(m.header.member.as_deref(), Some("StartUnit"));
        assert_eq!(m.body, [Value::str("foo.service"), Value::str("replace")]);
        let m = Call::GetUnitProperty {
            path: "/org/freedesktop/systemd1/unit/foo_2eservice".into(),
            property: "ActiveState",
        }
        .message();
        assert_eq!(m.header.interface.as_deref(), Some(PROPERTIES_INTERFACE));
        assert_eq!(
            m.body,
            [Value::str(UNIT_INTERFACE), Value::str("ActiveState")]
        );
        for c in [
            Call::LoadUnit("a.service".into()),
            Call::StopUnit("a.service".into()),
            Call::RestartUnit("a.service".into()),
            Call::Reload,
            Call::ListUnitFiles,
        ] {
            assert!(c.message().encode(1).is_ok(), "{c:?}");
        }
    }

    #[test]
    fn the_drop_in() {
        let d = DropIn::for_agent("nfs-server").unwrap_or_else(|| panic!("none"));
        assert_eq!(
            d.file,
            PathBuf::from("/run/systemd/system/nfs-server.service.d/50-pacemaker.conf")
        );
        assert_eq!(
            d.content,
            "[Unit]\nDescription=Cluster Controlled nfs-server\n\
             Before=pacemaker.service pacemaker_remote.service\n\n\
             [Service]\nRestart=no\n\n"
        );
        let d = DropIn::for_agent("foo.service").unwrap_or_else(|| panic!("none"));
        assert_eq!(d.dir, PathBuf::from("/run/systemd/system/foo.service.d"));
        let d = DropIn::for_agent("foo.socket").unwrap_or_else(|| panic!("none"));
        assert_eq!(d.dir, PathBuf::from("/run/systemd/system/foo.socket.d"));
        assert!(!d.content.contains("[Service]"));
        assert_eq!(DropIn::for_agent(""), None);
    }

    fn path_reply(p: &str) -> Result<Message, CallError> {
        Ok(Message::method_return(&crate::dbus::Header::default())
            .with_body(vec![Value::Path(p.into())]))
    }

    fn state_reply(s: &str) -> Result<Message, CallError> {
        Ok(Message::method_return(&crate::dbus::Header::default())
            .with_body(vec![Value::Variant(Box::new(Value::str(s)))]))
    }

    fn error(name: &str) -> Result<Message, CallError> {
        Err(CallError::Error {
            name: name.into(),
            message: "x".into(),
        })
    }

    fn expect_call(next: Next) -> (Op, Vec<Effect>, Call) {
        match next {
            Next::Call { op, effects, call } => (op, effects, call),
            Next::Finished(o) => panic!("finished early: {o:?}"),
        }
    }

    fn done(rc: i32, status: Status, reason: Option<&str>) -> Outcome {
        Outcome::Done {
            rc,
            status,
            reason: reason.map(str::to_string),
        }
    }

    const UNIT_PATH: &str = "/org/freedesktop/systemd1/unit/foo_2eservice";

    #[test]
    fn a_monitor_reads_active_state() {
        let (op, effects, call) = expect_call(Op::start("monitor", "foo"));
        assert_eq!(call, Call::LoadUnit("foo.service".into()));
        assert!(effects.is_empty());
        let (op, _, call) = expect_call(op.clone().on_reply(path_reply(UNIT_PATH)));
        assert_eq!(
            call,
            Call::GetUnitProperty {
                path: UNIT_PATH.into(),
                property: "ActiveState"
            }
        );
        let t = [
            ("active", Outcome::ok()),
            ("reloading", Outcome::ok()),
            ("activating", Outcome::Pending),
            ("deactivating", Outcome::Pending),
            ("inactive", done(7, Status::Done, Some("inactive"))),
            ("failed", done(7, Status::Done, Some("failed"))),
        ];
        for (state, want) in t {
            assert_eq!(
                op.clone().on_reply(state_reply(state)),
                Next::Finished(want),
                "{state}"
            );
        }
        // A failed read leaves the action to its timer.
        let stalled = Outcome::Stalled;
        assert_eq!(
            op.clone()
                .on_reply(error("org.freedesktop.DBus.Error.NoReply")),
            Next::Finished(stalled.clone())
        );
        assert_eq!(
            op.on_reply(Ok(Message::method_return(&crate::dbus::Header::default())
                .with_body(vec![Value::Variant(Box::new(Value::U32(1)))]))),
            Next::Finished(stalled)
        );
    }

    #[test]
    fn a_unit_between_states_is_pending_as_the_original_reports_it() {
        let r = Outcome::Pending.into_result("monitor", "foo");
        assert_eq!((r.rc, r.status.code(), r.exit_reason), (193, -1, None));
        let r = Outcome::Stalled.into_result("monitor", "foo");
        assert_eq!((r.rc, r.status.code()), (1, 2));
        assert_eq!(
            r.exit_reason.as_deref(),
            Some("monitor action for systemd unit foo did not complete in time")
        );
    }

    #[test]
    fn start_and_stop_write_and_remove_the_drop_in() {
        let (op, _, _) = expect_call(Op::start("start", "foo"));
        let (op, effects, call) = expect_call(op.on_reply(path_reply(UNIT_PATH)));
        assert_eq!(call, Call::StartUnit("foo.service".into()));
        assert!(matches!(&effects[..], [Effect::WriteDropIn(d)] if d.content.contains("foo")));
        let job = path_reply("/org/freedesktop/systemd1/job/7");
        assert_eq!(op.clone().on_reply(job), Next::Finished(Outcome::ok()));
        assert_eq!(
            op.clone()
                .on_reply(error("org.freedesktop.systemd1.NoSuchUnit")),
            Next::Finished(done(
                5,
                Status::NotInstalled,
                Some("systemd unit foo not found")
            ))
        );
        assert_eq!(
            op.on_reply(error("org.freedesktop.DBus.Error.AccessDenied")),
            Next::Finished(done(
                1,
                Status::Error,
                Some("Unable to invoke systemd DBus method")
            ))
        );

        let (op, _, _) = expect_call(Op::start("stop", "foo"));
        let (op, effects, call) = expect_call(op.on_reply(path_reply(UNIT_PATH)));
        assert_eq!(call, Call::StopUnit("foo.service".into()));
        assert_eq!(
            effects,
            [Effect::RemoveDropIn(PathBuf::from(
                "/run/systemd/system/foo.service.d/50-pacemaker.conf"
            ))]
        );
        // A stop of a unit that cannot exist succeeds.
        assert_eq!(
            op.on_reply(error("org.freedesktop.systemd1.LoadFailed")),
            Next::Finished(Outcome::ok())
        );
    }

    #[test]
    fn load_unit_failures_and_other_actions() {
        let (op, _, _) = expect_call(Op::start("start", "bad name"));
        let want = Next::Finished(done(
            1,
            Status::Error,
            Some("No DBus object found for systemd unit bad name"),
        ));
        assert_eq!(
            op.clone()
                .on_reply(error("org.freedesktop.systemd1.InvalidName")),
            want
        );
        assert_eq!(
            op.on_reply(Ok(Message::method_return(&crate::dbus::Header::default()))),
            want
        );
        let (op, _, _) = expect_call(Op::start("promote", "foo"));
        assert_eq!(
            op.on_reply(path_reply(UNIT_PATH)),
            Next::Finished(done(
                3,
                Status::Error,
                Some("Action promote not implemented for systemd resources")
            ))
        );
        let (op, _, _) = expect_call(Op::start("restart", "foo"));
        let (_, effects, call) = expect_call(op.on_reply(path_reply(UNIT_PATH)));
        assert_eq!(call, Call::RestartUnit("foo.service".into()));
        assert!(effects.is_empty());
        assert!(matches!(
            Op::start("start", ""),
            Next::Finished(Outcome::Done { rc: 6, .. })
        ));
    }

    #[test]
    fn follow_up_monitors_confirm_a_start_or_stop() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        assert!(needs_follow_up("start", &Outcome::ok()));
        assert!(needs_follow_up("stop", &Outcome::ok()));
        assert!(!needs_follow_up("monitor", &Outcome::ok()));
        assert!(!needs_follow_up(
            "start",
            &done(5, Status::NotInstalled, None)
        ));
        let again = |delay, timeout| FollowUp::Monitor { delay, timeout };
        // (action, first, outcome, elapsed, timeout, expected)
        let t = [
            (
                "start",
                true,
                Outcome::ok(),
                ms(5),
                s(20),
                again(s(2), ms(19_995)),
            ),
            (
                "start",
                false,
                Outcome::Pending,
                s(1),
                s(10),
                again(s(1), s(9)),
            ),
            (
                "start",
                false,
                Outcome::ok(),
                s(3),
                s(20),
                FollowUp::Report(Outcome::ok()),
            ),
            (
                "start",
                false,
                done(7, Status::Done, Some("failed")),
                s(3),
                s(20),
                FollowUp::Report(done(1, Status::Done, Some("failed"))),
            ),
            (
                "stop",
                false,
                Outcome::ok(),
                s(3),
                s(20),
                again(s(2), s(17)),
            ),
            (
                "stop",
                false,
                done(7, Status::Done, Some("inactive")),
                s(3),
                s(20),
                FollowUp::Report(done(0, Status::Done, Some("inactive"))),
            ),
            // Little time left: half of it, then nothing.
            (
                "start",
                false,
                Outcome::Pending,
                ms(19_900),
                s(20),
                again(ms(50), ms(100)),
            ),
            (
                "start",
                false,
                Outcome::Pending,
                ms(19_990),
                s(20),
                FollowUp::Report(done(
                    1,
                    Status::Timeout,
                    Some(
                        "Investigate reason for timeout, and adjust configured operation \
                         timeout if necessary",
                    ),
                )),
            ),
        ];
        for (action, first, outcome, elapsed, timeout, want) in t {
            assert_eq!(
                follow_up(action, first, outcome.clone(), elapsed, timeout),
                want,
                "{action} {outcome:?} {elapsed:?}"
            );
        }
    }

    #[test]
    fn the_agent_list() {
        let entry = |p: &str| Value::Struct(vec![Value::str(p), Value::str("enabled")]);
        let reply =
            Message::method_return(&crate::dbus::Header::default()).with_body(vec![Value::Array(
                "(ss)".into(),
                vec![
                    entry("/lib/systemd/system/zeta.service"),
                    entry("/lib/systemd/system/Alpha.socket"),
                    entry("/etc/systemd/system/getty@.service"),
                    entry("/lib/systemd/system/multi-user.target"),
                    entry("/lib/systemd/system/beta.timer"),
                    entry("/lib/systemd/system/-.mount"),
                    entry("/lib/systemd/system/cups.path"),
                    entry("/lib/systemd/system/dev-sda.device"),
                    entry("/lib/systemd/system/zeta.service"),
                ],
            )]);
        assert_eq!(
            agent_list(&reply),
            [
                "-.mount",
                "Alpha.socket",
                "beta.timer",
                "cups.path",
                "getty@",
                "zeta",
                "zeta"
            ]
        );
        assert!(agent_list(&Message::method_return(&crate::dbus::Header::default())).is_empty());
        assert!(unit_exists("loaded") && unit_exists("masked"));
        assert!(!unit_exists("not-found") && !unit_exists("error"));
    }

    #[test]
    fn meta_data_as_the_original_writes_it() {
        let m = metadata("foo", Some("A <b> & \"c\"\tx\ny"));
        assert_eq!(
            m,
            "<?xml version=\"1.0\"?>\n\
             <!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n\
             <resource-agent name=\"foo\" version=\"0.1\">\n  <version>1.1</version>\n  \
             <longdesc lang=\"en\">\n    A &lt;b&gt; &amp; &quot;c&quot;    x\\ny\n  \
             </longdesc>\n  <shortdesc lang=\"en\">systemd unit file for foo</shortdesc>\n  \
             <parameters/>\n  <actions>\n    \
             <action name=\"start\"     timeout=\"100\" />\n    \
             <action name=\"stop\"      timeout=\"100\" />\n    \
             <action name=\"status\"    timeout=\"100\" />\n    \
             <action name=\"monitor\"   timeout=\"100\" interval=\"60\"/>\n    \
             <action name=\"meta-data\" timeout=\"5\"   />\n  </actions>\n  \
             <special tag=\"systemd\"/>\n</resource-agent>\n"
        );
        assert!(metadata("foo", None).contains("    Systemd unit file for foo\n"));
        // Escaping stops at the first non-ASCII character; control characters in octal.
        assert_eq!(escape_description("a<\u{1}é<b"), "a&lt;\\001é<b");
    }
}
