//! Executor rules on an injected clock: no sockets, no children, no files, no sleeping. Agents
//! come from a table in memory; their "runs" are simulated by reporting exits.

use std::time::{Duration, Instant};

use super::*;
use crate::agents::table::Table;
use crate::process::{Captured, ChildExit, Finished};

struct Clock {
    base: Instant,
}

impl Clock {
    fn at(&self, ms: u64) -> Now {
        Now {
            mono: self.base + Duration::from_millis(ms),
            epoch: 1_700_000_000 + (ms / 1000) as i64,
        }
    }
}

fn executor(limits: ExecLimits) -> (Executor, Clock) {
    let agents = Table::default().with("ocf", Some("test"), "Dummy");
    (
        Executor::new(limits, Box::new(agents)),
        Clock {
            base: Instant::now(),
        },
    )
}

fn roomy() -> ExecLimits {
    ExecLimits {
        max_resources: 100,
        max_queued_operations: 100,
        max_recurring_operations: 100,
        max_children: 100,
    }
}

fn dummy() -> Definition {
    Definition {
        class: "ocf".into(),
        provider: Some("test".into()),
        agent: "Dummy".into(),
    }
}

const KEEP: OnClientLoss = OnClientLoss::KeepRecurring;
const CLIENT: ConnId = ConnId(1);

/// An exec of `action` on `rsc` by [`CLIENT`], with call id 0 (set with [`call`]), every
/// result notified to everyone.
fn exec_spec(rsc: &str, action: &str, interval_ms: u32) -> ExecRequest {
    ExecRequest {
        client: CLIENT,
        call_id: 0,
        rsc_id: rsc.into(),
        action: action.into(),
        interval_ms,
        timeout_ms: 20_000,
        start_delay_ms: 0,
        user_data: Some(format!("{action}-{interval_ms}")),
        params: vec![("CRM_meta_timeout".into(), "20000".into())],
        audience: Recipients::Everyone,
        reporting: Reporting::Every,
    }
}

/// `req` with call id `id`.
fn call(req: ExecRequest, id: u32) -> ExecRequest {
    ExecRequest { call_id: id, ..req }
}

/// `req` notifying changes only.
fn changes_only(req: ExecRequest) -> ExecRequest {
    ExecRequest {
        reporting: Reporting::ChangesOnly,
        ..req
    }
}

/// Spawns found in the effects, as (op, program name).
fn spawns(effects: &[Effect]) -> Vec<OpId> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Spawn { op, .. } => Some(*op),
            _ => None,
        })
        .collect()
}

fn events(effects: &[Effect]) -> Vec<ExecEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Notify { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

fn exited(code: i32) -> Finished {
    Finished {
        exit: ChildExit::Code(code),
        stdout: Captured::default(),
        stderr: Captured::default(),
    }
}

/// Queues an exec, polls, and returns the op that was spawned for it.
fn run(ex: &mut Executor, spec: ExecRequest, id: u32, now: Now) -> OpId {
    assert_eq!(ex.exec(changes_only(call(spec, id)), now), Ok(()));
    ex.poll(now);
    let effects = ex.take_effects();
    let s = spawns(&effects);
    assert_eq!(s.len(), 1, "{effects:?}");
    ex.spawned(s[0], 1000 + id);
    s[0]
}

#[test]
fn a_one_shot_op_reports_its_times() {
    let (mut ex, clock) = executor(roomy());
    assert_eq!(
        ex.register("r1", dummy(), OnClientLoss::DropRecurring, clock.at(0)),
        Ok(())
    );
    let op = run(&mut ex, exec_spec("r1", "start", 0), 5, clock.at(0));
    ex.child_finished(op, exited(0), clock.at(30));
    let ev = events(&ex.take_effects());
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(
        (e.call_id, e.result.rc, e.result.status),
        (5, 0, ExecStatus::Done)
    );
    assert_eq!(
        (e.run_time, e.exec_time_ms, e.queue_time_ms, e.rcchange_time),
        (1_700_000_000, 30, 0, 0)
    );
    assert_eq!(e.user_data.as_deref(), Some("start-0"));
}

#[test]
fn a_start_delay_holds_the_whole_queue() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let mut delayed = exec_spec("r1", "start", 0);
    delayed.start_delay_ms = 1000;
    ex.exec(call(delayed, 1), clock.at(0)).unwrap();
    ex.exec(call(exec_spec("r1", "monitor", 0), 2), clock.at(0))
        .unwrap();
    ex.poll(clock.at(0));
    assert!(spawns(&ex.take_effects()).is_empty());
    assert_eq!(ex.next_wakeup(clock.at(0).mono), Some(clock.at(1000).mono));
    ex.poll(clock.at(1000));
    let s = spawns(&ex.take_effects());
    assert_eq!(s.len(), 1);
    ex.spawned(s[0], 77);
    ex.child_finished(s[0], exited(0), clock.at(1010));
    let effects = ex.take_effects();
    assert_eq!(events(&effects)[0].queue_time_ms, 1000);
    // The monitor waited behind it: queue time counts the delay and the start's run.
    let s = spawns(&effects);
    assert_eq!(s.len(), 1, "the next op starts when the first finishes");
    ex.spawned(s[0], 78);
    ex.child_finished(s[0], exited(7), clock.at(1020));
    let e = &events(&ex.take_effects())[0];
    assert_eq!(
        (e.queue_time_ms, e.result.rc, e.rcchange_time),
        (1010, 7, 1_700_000_001)
    );
}

#[test]
fn one_op_at_a_time_per_resource_and_resources_in_parallel() {
    let (mut ex, clock) = executor(roomy());
    for r in ["r1", "r2"] {
        ex.register(r, dummy(), KEEP, clock.at(0)).unwrap();
    }
    ex.exec(call(exec_spec("r1", "start", 0), 1), clock.at(0))
        .unwrap();
    ex.exec(call(exec_spec("r1", "monitor", 0), 2), clock.at(0))
        .unwrap();
    ex.exec(call(exec_spec("r2", "start", 0), 3), clock.at(0))
        .unwrap();
    ex.poll(clock.at(0));
    assert_eq!(spawns(&ex.take_effects()).len(), 2);
}

#[test]
fn recurring_runs_again_an_interval_after_it_finished_and_notifies_changes_only() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let op = run(&mut ex, exec_spec("r1", "monitor", 10_000), 7, clock.at(0));
    ex.child_finished(op, exited(0), clock.at(50));
    assert_eq!(
        events(&ex.take_effects()).len(),
        1,
        "the first result is notified"
    );
    // Next run is due 10 s after the previous one finished, not after it started.
    assert_eq!(
        ex.next_wakeup(clock.at(50).mono),
        Some(clock.at(10_050).mono)
    );
    ex.poll(clock.at(10_049));
    assert!(spawns(&ex.take_effects()).is_empty());
    ex.poll(clock.at(10_050));
    let s = spawns(&ex.take_effects());
    assert_eq!(s, [op]);
    ex.child_finished(op, exited(0), clock.at(10_060));
    assert!(
        events(&ex.take_effects()).is_empty(),
        "an unchanged result is not notified"
    );
    ex.poll(clock.at(20_060));
    assert_eq!(spawns(&ex.take_effects()), [op]);
    ex.child_finished(op, exited(7), clock.at(20_070));
    let ev = events(&ex.take_effects());
    assert_eq!(ev.len(), 1, "a changed result is");
    let e = &ev[0];
    // Later runs report zeros for the run and exec times (protocol.md 11.7).
    assert_eq!(
        (e.result.rc, e.run_time, e.exec_time_ms, e.queue_time_ms),
        (7, 0, 0, 0)
    );
    assert_eq!(e.rcchange_time, 1_700_000_020);
    assert_eq!(e.call_id, 7);
}

#[test]
fn a_duplicate_recurring_exec_is_merged_and_runs_at_once() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let op = run(&mut ex, exec_spec("r1", "monitor", 10_000), 7, clock.at(0));
    ex.child_finished(op, exited(0), clock.at(50));
    ex.take_effects();
    let mut again = exec_spec("r1", "MONITOR", 10_000);
    again.user_data = Some("new".into());
    assert_eq!(
        ex.exec(changes_only(call(again, 9)), clock.at(1000)),
        Ok(())
    );
    ex.poll(clock.at(1000));
    assert_eq!(
        spawns(&ex.take_effects()),
        [op],
        "merged into the existing op, run now"
    );
    ex.child_finished(op, exited(0), clock.at(1010));
    let ev = events(&ex.take_effects());
    assert_eq!(ev.len(), 1, "notified although unchanged");
    assert_eq!(
        (ev[0].call_id, ev[0].user_data.as_deref()),
        (9, Some("new"))
    );
    assert_eq!(ex.recurring(Some("r1")).unwrap()[0].ops.len(), 1);
}

#[test]
fn stop_cancels_every_recurring_op_first() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let op = run(&mut ex, exec_spec("r1", "monitor", 10_000), 7, clock.at(0));
    ex.child_finished(op, exited(0), clock.at(50));
    ex.take_effects();
    assert_eq!(
        ex.exec(call(exec_spec("r1", "stop", 0), 8), clock.at(100)),
        Ok(())
    );
    let ev = events(&ex.take_effects());
    assert_eq!(ev.len(), 1, "the cancel is notified before the stop runs");
    assert_eq!(
        (ev[0].call_id, ev[0].result.status, ev[0].result.rc),
        (7, ExecStatus::Cancelled, 0)
    );
    assert!(ex.recurring(Some("r1")).unwrap()[0].ops.is_empty());
}

#[test]
fn a_timeout_kills_the_group_and_reports_status_2() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let mut spec = exec_spec("r1", "start", 0);
    spec.timeout_ms = 1500;
    let op = run(&mut ex, spec, 3, clock.at(0));
    assert_eq!(ex.next_wakeup(clock.at(0).mono), Some(clock.at(1500).mono));
    ex.poll(clock.at(1499));
    assert!(ex.take_effects().is_empty());
    ex.poll(clock.at(1500));
    assert_eq!(
        ex.take_effects(),
        [Effect::Kill {
            op,
            pid: 1003,
            group: true
        }]
    );
    assert_eq!(
        ex.next_wakeup(clock.at(1500).mono),
        None,
        "no busy loop while it dies"
    );
    let finished = Finished {
        exit: ChildExit::Signal(9),
        stdout: Captured::default(),
        stderr: Captured {
            bytes: b"half done\n".to_vec(),
            discarded: 0,
        },
    };
    ex.child_finished(op, finished, clock.at(1501));
    let e = &events(&ex.take_effects())[0];
    assert_eq!(
        (e.result.rc, e.result.status, e.exec_time_ms),
        (1, ExecStatus::Timeout, 1501)
    );
    assert_eq!(
        e.result.exit_reason.as_deref(),
        Some("Resource agent did not complete within 1.500s")
    );
    assert_eq!(e.result.output.as_deref(), Some("half done\n"));
}

#[test]
fn on_fail_block_kills_only_the_agent() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let mut spec = exec_spec("r1", "start", 0);
    spec.timeout_ms = 100;
    spec.params
        .push(("CRM_meta_on_fail".into(), "block".into()));
    let op = run(&mut ex, spec, 3, clock.at(0));
    ex.poll(clock.at(100));
    assert_eq!(
        ex.take_effects(),
        [Effect::Kill {
            op,
            pid: 1003,
            group: false
        }]
    );
}

#[test]
fn cancel_rules() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let mon = run(&mut ex, exec_spec("r1", "monitor", 10_000), 2, clock.at(0));
    ex.child_finished(mon, exited(7), clock.at(10));
    ex.take_effects();
    // Idle recurring: cancelled at once with the rc of its last run.
    assert_eq!(ex.cancel("r1", "monitor", 10_000, clock.at(20)), Ok(()));
    let e = &events(&ex.take_effects())[0];
    assert_eq!(
        (e.result.status, e.result.rc, e.exec_time_ms, e.run_time),
        (ExecStatus::Cancelled, 7, 0, 0)
    );
    assert_eq!(
        ex.cancel("r1", "monitor", 10_000, clock.at(30)),
        Err(Error::NoSuchOperation)
    );
    // A running one-shot cannot be cancelled; a queued one can.
    let start = run(&mut ex, exec_spec("r1", "start", 0), 3, clock.at(40));
    ex.exec(call(exec_spec("r1", "monitor", 0), 4), clock.at(40))
        .unwrap();
    assert_eq!(
        ex.cancel("r1", "start", 0, clock.at(41)),
        Err(Error::NoSuchOperation)
    );
    assert_eq!(ex.cancel("r1", "monitor", 0, clock.at(41)), Ok(()));
    assert_eq!(events(&ex.take_effects())[0].call_id, 4);
    ex.child_finished(start, exited(0), clock.at(50));
    ex.take_effects();
    // A running recurring op is killed and reported cancelled at once (before the reply, as
    // the original does); its reaping later is silent but frees the resource.
    let mon = run(&mut ex, exec_spec("r1", "monitor", 5000), 5, clock.at(60));
    assert_eq!(ex.cancel("r1", "monitor", 5000, clock.at(70)), Ok(()));
    let effects = ex.take_effects();
    assert_eq!(
        effects[0],
        Effect::Kill {
            op: mon,
            pid: 1005,
            group: true
        }
    );
    let e = &events(&effects)[0];
    assert_eq!(
        (e.result.status, e.result.rc, e.exec_time_ms),
        (ExecStatus::Cancelled, 0, 10)
    );
    assert_eq!(
        ex.cancel("r1", "monitor", 5000, clock.at(72)),
        Err(Error::NoSuchOperation)
    );
    ex.exec(call(exec_spec("r1", "stop", 0), 6), clock.at(73))
        .unwrap();
    ex.poll(clock.at(73));
    assert!(
        spawns(&ex.take_effects()).is_empty(),
        "the resource stays busy until the kill lands"
    );
    ex.child_finished(
        mon,
        Finished {
            exit: ChildExit::Signal(9),
            ..exited(0)
        },
        clock.at(75),
    );
    let effects = ex.take_effects();
    assert!(events(&effects).is_empty());
    assert_eq!(spawns(&effects).len(), 1, "then the stop runs");
    assert_eq!(
        ex.cancel("nope", "monitor", 0, clock.at(80)),
        Err(Error::UnknownResource)
    );
}

#[test]
fn unregister_cancels_queued_ops_and_lets_a_running_one_shot_finish() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let start = run(&mut ex, exec_spec("r1", "start", 0), 2, clock.at(0));
    ex.exec(call(exec_spec("r1", "monitor", 0), 3), clock.at(0))
        .unwrap();
    assert_eq!(ex.unregister("r1", clock.at(5)), Unregistered::Finishing);
    let e = &events(&ex.take_effects())[0];
    assert_eq!(
        (e.call_id, e.result.status, e.rsc_deleted),
        (3, ExecStatus::Cancelled, true)
    );
    assert!(ex.info("r1").is_none());
    ex.child_finished(start, exited(0), clock.at(10));
    let e = &events(&ex.take_effects())[0];
    assert_eq!(
        (e.call_id, e.result.status, e.rsc_deleted),
        (2, ExecStatus::Done, true)
    );
    assert_eq!(
        ex.unregister("r1", clock.at(20)),
        Unregistered::NotRegistered,
        "unknown resources unregister fine"
    );
}

#[test]
fn the_children_bound_makes_operations_wait() {
    let (mut ex, clock) = executor(ExecLimits {
        max_children: 1,
        ..roomy()
    });
    for r in ["r1", "r2"] {
        ex.register(r, dummy(), KEEP, clock.at(0)).unwrap();
    }
    ex.exec(call(exec_spec("r1", "start", 0), 1), clock.at(0))
        .unwrap();
    ex.exec(call(exec_spec("r2", "start", 0), 2), clock.at(0))
        .unwrap();
    ex.poll(clock.at(0));
    let s = spawns(&ex.take_effects());
    assert_eq!(s.len(), 1);
    // Only the running op's timeout is a deadline; the waiting op does not spin the timer.
    assert_eq!(
        ex.next_wakeup(clock.at(0).mono),
        Some(clock.at(20_000).mono)
    );
    ex.spawned(s[0], 10);
    ex.child_finished(s[0], exited(0), clock.at(100));
    let effects = ex.take_effects();
    assert_eq!(
        spawns(&effects).len(),
        1,
        "the second starts when a slot frees"
    );
}

#[test]
fn bounds_refuse_clearly_and_keep_what_was_accepted() {
    let (mut ex, clock) = executor(ExecLimits {
        max_resources: 1,
        max_queued_operations: 1,
        max_recurring_operations: 1,
        max_children: 0,
    });
    assert_eq!(ex.register("r1", dummy(), KEEP, clock.at(0)), Ok(()));
    assert_eq!(
        ex.register("r2", dummy(), KEEP, clock.at(0)),
        Err(Error::TooManyResources {
            registered: 1,
            max: 1
        })
    );
    assert_eq!(
        ex.register("r1", dummy(), KEEP, clock.at(0)),
        Ok(()),
        "re-registering is fine"
    );
    assert_eq!(
        ex.exec(call(exec_spec("r1", "start", 0), 1), clock.at(0)),
        Ok(())
    );
    assert_eq!(
        ex.exec(call(exec_spec("r1", "stop", 0), 2), clock.at(0)),
        Ok(())
    );
    let e = &events(&ex.take_effects())[0];
    assert_eq!((e.call_id, e.result.status), (2, ExecStatus::Error));
    assert!(e
        .result
        .exit_reason
        .as_deref()
        .unwrap()
        .contains("max_queued_operations"));
    assert_eq!(
        ex.cancel("r1", "start", 0, clock.at(1)),
        Ok(()),
        "the accepted op is still there"
    );
}

#[test]
fn losing_the_last_client_drops_recurring_ops_of_drop_recurring_resources() {
    let (mut ex, clock) = executor(roomy());
    ex.register("keep", dummy(), KEEP, clock.at(0)).unwrap();
    ex.register("drop", dummy(), OnClientLoss::DropRecurring, clock.at(0))
        .unwrap();
    for (i, r) in ["keep", "drop"].into_iter().enumerate() {
        let op = run(
            &mut ex,
            exec_spec(r, "monitor", 5000),
            i as u32 + 1,
            clock.at(0),
        );
        ex.child_finished(op, exited(0), clock.at(5));
    }
    ex.take_effects();
    ex.clients_gone(clock.at(10));
    let ev = events(&ex.take_effects());
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].rsc_id.as_str(), ev[0].result.status),
        ("drop", ExecStatus::Cancelled)
    );
    assert_eq!(ex.recurring(Some("keep")).unwrap()[0].ops.len(), 1);
}

#[test]
fn results_go_to_the_requester_only_with_call_option_2() {
    let (mut ex, clock) = executor(roomy());
    ex.register("r1", dummy(), KEEP, clock.at(0)).unwrap();
    let mine = ExecRequest {
        client: ConnId(9),
        audience: Recipients::Originator,
        ..call(exec_spec("r1", "start", 0), 1)
    };
    ex.exec(mine, clock.at(0)).unwrap();
    ex.poll(clock.at(0));
    let op = spawns(&ex.take_effects())[0];
    ex.child_finished(op, exited(0), clock.at(1));
    let effects = ex.take_effects();
    assert!(
        matches!(
            &effects[..],
            [Effect::Notify {
                audience: Audience::Only(ConnId(9)),
                ..
            }]
        ),
        "{effects:?}"
    );
}

#[test]
fn missing_agents_finish_without_running_and_keep_rcchange() {
    let (mut ex, clock) = executor(roomy());
    let def = Definition {
        class: "ocf".into(),
        provider: Some("test".into()),
        agent: "Nope".into(),
    };
    ex.register("m1", def, KEEP, clock.at(0)).unwrap();
    ex.exec(call(exec_spec("m1", "monitor", 0), 1), clock.at(0))
        .unwrap();
    ex.poll(clock.at(0));
    let effects = ex.take_effects();
    assert!(spawns(&effects).is_empty());
    let e = &events(&effects)[0];
    assert_eq!(
        (e.result.rc, e.result.status, e.rcchange_time),
        (5, ExecStatus::NotInstalled, 0)
    );
    assert_eq!(
        e.result.exit_reason.as_deref(),
        Some("Nope: No such file or directory")
    );
}
