//! The dispatcher's rules, driven without sockets: requests in, actions out.

use super::clients::Privilege;
use super::*;
use crate::proto::names::DIAGNOSTIC_CLIENT_NAME;
use crate::proto::xml;

fn dispatcher() -> Dispatcher {
    let executor = Executor::new(
        crate::executor::ExecLimits {
            max_resources: 8,
            max_queued_operations: 8,
            max_recurring_operations: 8,
            max_children: 8,
        },
        Box::new(crate::agents::table::Table::default()),
    );
    Dispatcher::new(
        DispatchSettings::default(),
        executor,
        Box::new(FixedHost::default()),
        Instant::now(),
    )
}

fn now() -> Now {
    Now {
        mono: Instant::now(),
        epoch: 1_700_000_000,
    }
}

fn request(text: &str) -> Request {
    Request::from_xml(&xml::parse(text.as_bytes(), &xml::Limits::default()).unwrap())
}

/// The messages each connection receives, as text, in order.
fn sent(actions: &[Action]) -> Vec<(u64, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, payload, .. } => {
                Some((to.0, String::from_utf8(payload.to_vec()).unwrap()))
            }
            _ => None,
        })
        .collect()
}

const REGISTER: &str = r#"<lrmd_command t="lrmd" lrmd_op="register" lrmd_clientname="pacemaker-remote-10.213.0.2:3121" lrmd_protocol_version="1.1" lrmd_is_ipc_provider="true" lrmd_remote_msg_id="63" lrmd_remote_msg_type="request"/>"#;
const POKE: &str = r#"<lrmd_command __name__="lrmd_command" t="lrmd" lrmd_op="lrmd_rsc_poke" lrmd_remote_msg_id="70" lrmd_remote_msg_type="request"><lrmd_calldata><lrmd_rsc/></lrmd_calldata></lrmd_command>"#;

fn signed_on(d: &mut Dispatcher, conn: u64, text: &str) -> Vec<(u64, String)> {
    d.connected(ConnId(conn), "peer".into(), [conn as u8; 16]);
    sent(&d.handle(ConnId(conn), request(text), now()))
}

#[test]
fn register_gets_the_captured_reply_and_call_id_1() {
    let mut d = dispatcher();
    let out = signed_on(&mut d, 1, REGISTER);
    assert_eq!(out.len(), 1);
    let (to, text) = &out[0];
    assert_eq!(*to, 1);
    assert!(text.starts_with(r#"<lrmd_reply lrmd_origin="process_lrmd_signon" lrmd_rc="0" lrmd_callid="1" lrmd_op="register" lrmd_clientid="01010101-0101-4101-8101-010101010101" lrmd_protocol_version="1.1""#), "{text}");
    assert!(
        text.ends_with(r#"lrmd_remote_msg_id="63" lrmd_remote_msg_type="reply"/>"#),
        "{text}"
    );
    let c = d.clients().get(ConnId(1)).unwrap();
    assert!(c.is_provider() && c.name.is_some());
}

#[test]
fn old_or_missing_protocol_version_is_refused_with_eproto() {
    for version in ["0.9", "", "x"] {
        let mut d = dispatcher();
        let text = REGISTER.replace(
            r#"lrmd_protocol_version="1.1""#,
            &format!(r#"lrmd_protocol_version="{version}""#),
        );
        let out = signed_on(&mut d, 1, &text);
        assert!(
            out[0].1.contains(r#"lrmd_rc="-71""#),
            "{version}: {}",
            out[0].1
        );
        assert!(!d.clients().get(ConnId(1)).unwrap().is_provider());
    }
    let mut d = dispatcher();
    let text = REGISTER.replace(r#" lrmd_protocol_version="1.1""#, "");
    assert!(signed_on(&mut d, 1, &text)[0]
        .1
        .contains(r#"lrmd_rc="-71""#));
}

#[test]
fn versions_compare_numerically() {
    assert!(version_at_least("1.1", "1.0"));
    assert!(version_at_least("1", "1.0"));
    assert!(version_at_least("1.10", "1.9"));
    assert!(version_at_least("2", "1.0"));
    assert!(!version_at_least("0.9", "1.0"));
    assert!(!version_at_least("", "1.0"));
}

#[test]
fn poke_is_answered_then_notified_to_every_named_client() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    signed_on(&mut d, 2, REGISTER);
    let out = sent(&d.handle(ConnId(2), request(POKE), now()));
    assert_eq!(out.len(), 3);
    assert_eq!(out[0].0, 2);
    assert!(out[0].1.starts_with(r#"<lrmd_reply lrmd_origin="process_lrmd_message" lrmd_rc="0" lrmd_callid="3" lrmd_remote_msg_id="70""#), "{}", out[0].1);
    let notify = r#"<lrmd_notify lrmd_origin="send_generic_notify" lrmd_rc="0" lrmd_callid="3" lrmd_op="lrmd_rsc_poke" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"/>"#;
    assert_eq!(out[1], (1, notify.to_string()));
    assert_eq!(out[2], (2, notify.to_string()));
}

#[test]
fn a_new_client_is_announced_to_the_others_on_its_first_request() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    let out = signed_on(&mut d, 2, REGISTER);
    assert_eq!(out[0].0, 1);
    assert!(
        out[0].1.contains(r#"lrmd_op="lrmd_rsc_new_client""#),
        "{}",
        out[0].1
    );
    assert_eq!(out[1].0, 2);
    // Only once per connection.
    let again = sent(&d.handle(ConnId(2), request(POKE), now()));
    assert!(again.iter().all(|(_, t)| !t.contains("new_client")));
}

#[test]
fn a_check_session_is_never_announced_and_never_notifies() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    let check = REGISTER
        .replace("pacemaker-remote-10.213.0.2:3121", DIAGNOSTIC_CLIENT_NAME)
        .replace(r#" lrmd_is_ipc_provider="true""#, "");
    let out = signed_on(&mut d, 2, &check);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, 2);
    let out = sent(&d.handle(ConnId(2), request(POKE), now()));
    assert_eq!(out.len(), 1, "{out:?}");
    // And it hears nothing of the cluster's pokes.
    let out = sent(&d.handle(ConnId(1), request(POKE), now()));
    assert!(out.iter().all(|(to, _)| *to == 1), "{out:?}");
}

#[test]
fn unnamed_clients_hear_nothing() {
    let mut d = dispatcher();
    d.connected(ConnId(1), "p".into(), [1; 16]);
    signed_on(&mut d, 2, REGISTER);
    let out = sent(&d.handle(ConnId(2), request(POKE), now()));
    assert!(out.iter().all(|(to, _)| *to == 2));
}

#[test]
fn lrmd_check_is_never_answered_but_uses_a_call_id() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    let check = r#"<lrmd_command t="lrmd" lrmd_op="lrmd_check" lrmd_remote_msg_id="77" lrmd_remote_msg_type="request"><lrmd_calldata><lrmd_op/></lrmd_calldata></lrmd_command>"#;
    assert!(d.handle(ConnId(1), request(check), now()).is_empty());
    let out = sent(&d.handle(ConnId(1), request(POKE), now()));
    assert!(out[0].1.contains(r#"lrmd_callid="3""#), "{}", out[0].1);
}

#[test]
fn lrmd_check_with_a_watchdog_and_no_sbd_exits_100() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    let check = r#"<lrmd_command lrmd_op="lrmd_check" lrmd_remote_msg_id="77"><lrmd_calldata><lrmd_op lrmd_watchdog="10s"/></lrmd_calldata></lrmd_command>"#;
    let out = d.handle(ConnId(1), request(check), now());
    assert!(
        matches!(&out[..], [Action::Exit { code: 100, .. }]),
        "{out:?}"
    );
}

#[test]
fn unknown_operations_get_eopnotsupp() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    let out = sent(&d.handle(
        ConnId(1),
        request(r#"<lrmd_command lrmd_op="bogus" lrmd_remote_msg_id="9"/>"#),
        now(),
    ));
    assert_eq!(out.len(), 1);
    assert!(
        out[0].1.contains(r#"lrmd_rc="-95""#) && out[0].1.contains(r#"lrmd_remote_msg_id="9""#)
    );
}

#[test]
fn call_ids_wrap_to_1() {
    let mut d = dispatcher();
    d.next_call_id = i32::MAX as u32;
    assert_eq!(d.next_call_id(), 1);
}

#[test]
fn shutdown_without_a_cluster_exits_at_once() {
    let mut d = dispatcher();
    let out = d.shutdown_requested();
    assert!(
        matches!(&out[..], [Action::Exit { code: 0, .. }]),
        "{out:?}"
    );
}

#[test]
fn shutdown_with_a_cluster_drains_until_it_disconnects() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    let out = d.shutdown_requested();
    assert_eq!(
        sent(&out),
        [(1, r#"<lrmd_ipc_proxy lrmd_ipc_op="shutdown_req" lrmd_ipc_session="0" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"/>"#.to_string())]
    );
    assert!(out.contains(&Action::StopListening));
    assert_eq!(d.lifecycle(), Lifecycle::Draining);
    assert!(
        d.shutdown_requested().is_empty(),
        "a second SIGTERM only logs"
    );
    let ack = r#"<lrmd_ipc_proxy lrmd_ipc_op="shutdown_ack" lrmd_op="ipc_fwd" lrmd_remote_msg_id="277" lrmd_remote_msg_type="request"/>"#;
    let out = d.handle(ConnId(1), request(ack), now());
    assert!(sent(&out)[0].1.contains(r#"lrmd_rc="0""#));
    assert!(!out.iter().any(|a| matches!(a, Action::Exit { .. })));
    let out = d.disconnected(ConnId(1), now());
    assert!(
        matches!(&out[..], [Action::Exit { code: 0, .. }]),
        "{out:?}"
    );
}

#[test]
fn shutdown_nack_exits_at_once() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    d.shutdown_requested();
    let nack =
        r#"<lrmd_ipc_proxy lrmd_ipc_op="shutdown_nack" lrmd_op="ipc_fwd" lrmd_remote_msg_id="5"/>"#;
    let out = d.handle(ConnId(1), request(nack), now());
    assert!(out
        .iter()
        .any(|a| matches!(a, Action::Exit { code: 0, .. })));
}

#[cfg(feature = "ipc-proxy")]
mod proxy {
    use super::*;
    use crate::handles::IpcClientId;

    fn element(text: &str) -> Element {
        xml::parse(text.as_bytes(), &xml::Limits::default()).unwrap()
    }

    #[test]
    fn local_clients_need_a_cluster_and_never_reach_pacemakerd() {
        let mut d = dispatcher();
        assert_eq!(d.ipc_accept("cib_ro"), Err(-121));
        assert_eq!(d.ipc_accept("lrmd"), Ok(()));
        signed_on(&mut d, 1, REGISTER);
        assert_eq!(d.ipc_accept("cib_ro"), Ok(()));
        assert_eq!(d.ipc_accept("pacemakerd"), Err(-121));
    }

    #[test]
    fn a_session_is_announced_relayed_answered_and_destroyed() {
        let mut d = dispatcher();
        signed_on(&mut d, 1, REGISTER);
        signed_on(&mut d, 2, REGISTER);
        let out = sent(&d.ipc_connected(IpcClientId(7), "cib_shm", 4242, "root", [0xab; 16]));
        let session = "abababab-abab-4bab-abab-abababababab";
        assert_eq!(
            out,
            [(
                2,
                format!(
                    r#"<lrmd_ipc_proxy lrmd_ipc_op="new" lrmd_ipc_server="cib_rw" lrmd_ipc_session="{session}" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"/>"#
                )
            )],
            "bound to the newest provider"
        );
        let query = element(
            r#"<cib_command t="cib" cib_op="cib_query" cib_callid="2" cib_callopt="4352"/>"#,
        );
        let out = sent(&d.ipc_request(IpcClientId(7), 3, 0x200, query));
        assert_eq!(
            out[0].1,
            format!(
                r#"<lrmd_ipc_proxy lrmd_ipc_op="request" lrmd_ipc_session="{session}" lrmd_ipc_client="proxy-cib_shm-4242-abababab" lrmd_ipc_user="root" lrmd_ipc_msg_id="3" lrmd_ipc_msg_flags="768" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"><lrmd_ipc_msg><cib_command t="cib" cib_op="cib_query" cib_callid="2" cib_callopt="4352"/></lrmd_ipc_msg></lrmd_ipc_proxy>"#
            )
        );
        let response = format!(
            r#"<lrmd_ipc_proxy lrmd_ipc_op="response" lrmd_ipc_session="{session}" lrmd_ipc_msg_id="3" lrmd_op="ipc_fwd" lrmd_remote_msg_id="79" lrmd_remote_msg_type="request"><lrmd_ipc_msg><cib-reply cib_rc="0"/></lrmd_ipc_msg></lrmd_ipc_proxy>"#
        );
        let out = d.handle(ConnId(2), request(&response), now());
        assert!(
            sent(&out)[0].1.contains(r#"lrmd_rc="0""#),
            "every ipc_fwd is answered"
        );
        assert!(out.iter().any(|a| matches!(a, Action::IpcResponse { local: IpcClientId(7), id: 3, payload } if payload.as_slice() == br#"<cib-reply cib_rc="0"/>"#)), "{out:?}");
        let event = response.replace(r#"lrmd_ipc_op="response""#, r#"lrmd_ipc_op="event""#);
        let out = d.handle(ConnId(2), request(&event), now());
        assert!(out.iter().any(|a| matches!(
            a,
            Action::IpcEvent {
                local: IpcClientId(7),
                ..
            }
        )));
        // The tool leaves: the cluster is told.
        let out = sent(&d.ipc_closed(IpcClientId(7)));
        assert_eq!(out.len(), 1);
        assert!(out[0].1.contains(r#"lrmd_ipc_op="destroy""#) && out[0].0 == 2);
        // The cluster's own destroy for it now names an unknown session: answered with destroy.
        let destroy = format!(
            r#"<lrmd_ipc_proxy lrmd_ipc_op="destroy" lrmd_ipc_session="{session}" lrmd_op="ipc_fwd" lrmd_remote_msg_id="82" lrmd_remote_msg_type="request"/>"#
        );
        let out = sent(&d.handle(ConnId(2), request(&destroy), now()));
        assert_eq!(out.len(), 2);
        assert!(out[1].1.contains(r#"lrmd_ipc_op="destroy""#));
    }

    #[test]
    fn a_departing_provider_closes_its_sessions_only() {
        let mut d = dispatcher();
        signed_on(&mut d, 1, REGISTER);
        d.ipc_connected(IpcClientId(1), "cib_ro", 1, "root", [1; 16]);
        signed_on(&mut d, 2, REGISTER);
        d.ipc_connected(IpcClientId(2), "attrd", 2, "root", [2; 16]);
        let out = d.disconnected(ConnId(1), now());
        let closed: Vec<_> = out
            .iter()
            .filter_map(|a| match a {
                Action::IpcDisconnect { local } => Some(*local),
                _ => None,
            })
            .collect();
        assert_eq!(closed, [IpcClientId(1)]);
        assert!(
            d.ipc_closed(IpcClientId(1)).is_empty(),
            "nothing to tell a gone provider"
        );
    }
}

#[test]
fn unprivileged_local_clients_may_only_sign_on_and_poke() {
    let mut d = dispatcher();
    d.local_connected(ConnId(5), "local".into(), Privilege::SignOnOnly, [5; 16]);
    let register = REGISTER.replace(r#" lrmd_is_ipc_provider="true""#, "");
    let out = sent(&d.handle(ConnId(5), request(&register), now()));
    assert!(out[0].1.contains(r#"lrmd_rc="0""#), "{out:?}");
    let out = sent(&d.handle(ConnId(5), request(POKE), now()));
    assert!(out[0].1.contains(r#"lrmd_rc="0""#));
    let rsc = r#"<lrmd_command lrmd_op="lrmd_rsc_register" lrmd_remote_msg_id="8"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="r" lrmd_class="ocf" lrmd_provider="heartbeat" lrmd_type="Dummy"/></lrmd_calldata></lrmd_command>"#;
    let out = sent(&d.handle(ConnId(5), request(rsc), now()));
    assert!(out[0].1.contains(r#"lrmd_rc="-13""#), "{out:?}");
    let check = r#"<lrmd_command lrmd_op="lrmd_check" lrmd_remote_msg_id="9"/>"#;
    assert!(d.handle(ConnId(5), request(check), now()).is_empty());
    // A local client never becomes an IPC provider, privileged or not.
    d.local_connected(ConnId(6), "local".into(), Privilege::Full, [6; 16]);
    let out = sent(&d.handle(ConnId(6), request(REGISTER), now()));
    assert!(
        out.iter().any(|(_, t)| t.contains(r#"lrmd_rc="-13""#)),
        "{out:?}"
    );
    assert!(d.clients().providers().next().is_none());
    let out = sent(&d.handle(ConnId(6), request(rsc), now()));
    assert!(
        out[0].1.contains(r#"lrmd_rc="0""#),
        "privileged local clients may: {out:?}"
    );
}

/// A dispatcher whose executor knows one agent, `ocf:test:Dummy`.
fn with_dummy_agent() -> Dispatcher {
    let agents = crate::agents::table::Table::default().with("ocf", Some("test"), "Dummy");
    let executor = Executor::new(
        crate::executor::ExecLimits {
            max_resources: 8,
            max_queued_operations: 8,
            max_recurring_operations: 8,
            max_children: 8,
        },
        Box::new(agents),
    );
    Dispatcher::new(
        DispatchSettings::default(),
        executor,
        Box::new(FixedHost::default()),
        Instant::now(),
    )
}

const REGISTER_DROP: &str = r#"<lrmd_command lrmd_op="lrmd_rsc_register" lrmd_callopt="1" lrmd_remote_msg_id="5"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="r1" lrmd_class="ocf" lrmd_provider="test" lrmd_type="Dummy"/></lrmd_calldata></lrmd_command>"#;
const MONITOR_10S: &str = r#"<lrmd_command lrmd_op="lrmd_rsc_exec" lrmd_remote_msg_id="6"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="r1" lrmd_rsc_action="monitor" lrmd_rsc_interval="10000"/></lrmd_calldata></lrmd_command>"#;
const GET_RECURRING: &str = r#"<lrmd_command lrmd_op="lrmd_get_recurring" lrmd_remote_msg_id="7"><lrmd_calldata><lrmd_rsc/></lrmd_calldata></lrmd_command>"#;

/// Registers `r1` with "drop recurring" through `conn` and runs a 10 s monitor once.
fn with_a_recurring_monitor(d: &mut Dispatcher, conn: u64) {
    assert!(
        sent(&d.handle(ConnId(conn), request(REGISTER_DROP), now()))[0]
            .1
            .contains(r#"lrmd_rc="0""#)
    );
    let out = d.handle(ConnId(conn), request(MONITOR_10S), now());
    let op = out
        .iter()
        .find_map(|a| match a {
            Action::Spawn { op, .. } => Some(*op),
            _ => None,
        })
        .expect("the monitor starts");
    d.child_spawned(op, 4242);
    let finished = crate::process::Finished {
        exit: crate::process::ChildExit::Code(0),
        stdout: Default::default(),
        stderr: Default::default(),
    };
    d.child_finished(op, finished, now());
}

/// Whether `r1` still has a recurring operation, asked by a fresh cluster connection.
fn recurring_left(d: &mut Dispatcher) -> bool {
    signed_on(d, 99, REGISTER);
    let out = sent(&d.handle(ConnId(99), request(GET_RECURRING), now()));
    let reply = &out.iter().find(|(to, _)| *to == 99).unwrap().1;
    reply.contains("lrmd_rsc_op")
}

#[test]
fn the_last_cluster_client_leaving_drops_recurring_operations() {
    let mut d = with_dummy_agent();
    signed_on(&mut d, 1, REGISTER);
    with_a_recurring_monitor(&mut d, 1);
    d.disconnected(ConnId(1), now());
    assert!(!recurring_left(&mut d));
}

#[test]
fn a_local_executor_client_left_behind_keeps_recurring_operations() {
    // protocol.md 13: the count of every client, local ones included, must fall to none.
    let mut d = with_dummy_agent();
    signed_on(&mut d, 1, REGISTER);
    d.local_connected(ConnId(5), "local".into(), Privilege::Full, [5; 16]);
    with_a_recurring_monitor(&mut d, 1);
    d.disconnected(ConnId(1), now());
    assert!(recurring_left(&mut d), "a local client is still connected");
    // A local client leaving takes only what it created itself.
    d.disconnected(ConnId(5), now());
    assert!(recurring_left(&mut d));
}

#[test]
fn missing_fields_get_einval_and_a_missing_id_enodev_on_unregister() {
    let mut d = dispatcher();
    signed_on(&mut d, 1, REGISTER);
    let cases = [
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_register" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="r" lrmd_class="ocf"/></lrmd_calldata></lrmd_command>"#,
            "-22",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_register" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="" lrmd_class="ocf" lrmd_type="x"/></lrmd_calldata></lrmd_command>"#,
            "-22",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_exec" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="r"/></lrmd_calldata></lrmd_command>"#,
            "-22",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_exec" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="nope" lrmd_rsc_action="start"/></lrmd_calldata></lrmd_command>"#,
            "-19",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_cancel" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc lrmd_rsc_action="monitor"/></lrmd_calldata></lrmd_command>"#,
            "-22",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_cancel" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="nope" lrmd_rsc_action="monitor"/></lrmd_calldata></lrmd_command>"#,
            "-19",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_unregister" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc/></lrmd_calldata></lrmd_command>"#,
            "-19",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_unregister" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="nope"/></lrmd_calldata></lrmd_command>"#,
            "0",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_rsc_info" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc/></lrmd_calldata></lrmd_command>"#,
            "-19",
        ),
        (
            r#"<lrmd_command lrmd_op="lrmd_get_recurring" lrmd_remote_msg_id="2"><lrmd_calldata><lrmd_rsc lrmd_rsc_id="nope"/></lrmd_calldata></lrmd_command>"#,
            "-19",
        ),
    ];
    for (text, rc) in cases {
        let out = sent(&d.handle(ConnId(1), request(text), now()));
        assert!(
            out[0].1.contains(&format!(r#"lrmd_rc="{rc}""#)),
            "{text}: {}",
            out[0].1
        );
    }
}

#[cfg(feature = "alerts")]
#[test]
fn an_alert_without_its_user_gets_einval_and_runs_nothing() {
    let mut d = dispatcher();
    d.settings.max_alerts = 4;
    signed_on(&mut d, 1, REGISTER);
    let alert = r#"<lrmd_command lrmd_op="lrmd_alert_exec" lrmd_remote_msg_id="3"><lrmd_calldata><lrmd_alert lrmd_alert_id="a1" lrmd_alert_path="/bin/true" lrmd_timeout="1000"/></lrmd_calldata></lrmd_command>"#;
    let out = d.handle(ConnId(1), request(alert), now());
    assert!(sent(&out)[0].1.contains(r#"lrmd_rc="-22""#), "{out:?}");
    assert!(!out.iter().any(|a| matches!(a, Action::SpawnAlert { .. })));
}
