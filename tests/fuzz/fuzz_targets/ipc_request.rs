//! cargo-fuzz target: a local tool's request the whole way to the cluster and back to a value.
//! Parse (Pacemaker header, XML), type (`Request`, and the element the proxy relays), emit
//! (our own text for it; the relay for the cluster, bounded by a frame's size), parse again:
//! the element and its typed request are unchanged by the round trip, the relayed element is
//! the one the tool sent with the tool's id and flags, and a relay over the bound is refused
//! instead (a CIB reply with -EMSGSIZE, or the client closed).
#![no_main]

use std::time::Instant;

use pcmk_remoted::agents::Paths;
use pcmk_remoted::dispatch::proxy::Relay;
use pcmk_remoted::dispatch::{Action, DispatchSettings, Dispatcher, FixedHost};
use pcmk_remoted::executor::{ExecLimits, Executor};
use pcmk_remoted::handles::{ConnId, IpcClientId, Now};
use pcmk_remoted::ipc::pcmk::{Decoder, Framing};
use pcmk_remoted::proto::{self, xml, Request};

const REGISTER: &[u8] = br#"<lrmd_command t="lrmd" lrmd_op="register" lrmd_clientname="fuzz" lrmd_protocol_version="1.1" lrmd_is_ipc_provider="true" lrmd_remote_msg_id="1" lrmd_remote_msg_type="request"/>"#;

fn dispatcher() -> Dispatcher {
    let limits = ExecLimits {
        max_resources: 1,
        max_queued_operations: 1,
        max_recurring_operations: 1,
        max_children: 1,
    };
    let mut d = Dispatcher::new(
        DispatchSettings::default(),
        Executor::new(limits, Box::new(Paths::default())),
        Box::new(FixedHost::default()),
        Instant::now(),
    );
    let now = Now {
        mono: Instant::now(),
        epoch: 1_700_000_000,
    };
    let register = xml::parse(REGISTER, &xml::Limits::default()).expect("fixture parses");
    d.connected(ConnId(1), "fuzz".into(), [1; 16]);
    d.handle(ConnId(1), Request::from_xml(&register), now);
    d.ipc_connected(IpcClientId(7), "cib_rw", 1, "root", [2; 16]);
    d
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&sel, datagram)) = data.split_first() else {
        return;
    };
    let framing = if sel & 1 == 0 {
        Framing::Pacemaker2
    } else {
        Framing::Pacemaker3
    };
    // The frame bound, scaled down so the fuzzer reaches it.
    let max_text = 64 + usize::from(sel >> 1) * 64;
    let Ok(Some(m)) = Decoder::new(framing, 1 << 20).decode(datagram) else {
        return;
    };
    let limits = xml::Limits::default();
    let Ok(sent) = xml::parse(&m.xml, &limits) else {
        return;
    };
    // Type, emit, parse: our text for the element reads back as the same element and the
    // same typed request (escaping may lengthen it, so only the byte bound is lifted).
    let typed = Request::from_xml(&sent);
    let emitted = proto::encode(&sent);
    let unbounded = xml::Limits {
        max_bytes: usize::MAX,
        ..limits
    };
    let again = xml::parse(&emitted, &unbounded).expect("our own text parses");
    assert_eq!(again, sent);
    assert_eq!(Request::from_xml(&again), typed);
    let mut d = dispatcher();
    match d.ipc_relay(IpcClientId(7), m.id, m.flags, sent.clone(), max_text) {
        Relay::Send { to, payload, .. } => {
            assert_eq!(to, ConnId(1));
            assert!(payload.len() <= max_text);
            // The wrapper adds two levels and two elements around the tool's message.
            let wrapped = xml::Limits {
                max_depth: limits.max_depth + 2,
                max_elements: limits.max_elements + 2,
                max_bytes: usize::MAX,
                ..limits
            };
            let relay = xml::parse(&payload, &wrapped).expect("our relay parses");
            let inner = relay
                .child("lrmd_ipc_msg")
                .and_then(|m| m.elements().next())
                .expect("the relay carries the message");
            assert_eq!(inner, &sent);
            let id = m.id.to_string();
            let flags = (m.flags | proto::proxy::IPC_PROXIED).to_string();
            assert_eq!(relay.attr("lrmd_ipc_msg_id"), Some(id.as_str()));
            assert_eq!(relay.attr("lrmd_ipc_msg_flags"), Some(flags.as_str()));
        }
        Relay::Done(actions) => {
            // Refused: a CIB reply carrying -EMSGSIZE, or the client closed.
            let refused = actions.iter().any(|a| match a {
                Action::IpcDisconnect { local } => *local == IpcClientId(7),
                Action::IpcResponse { payload, .. } | Action::IpcEvent { payload, .. } => {
                    let rc = br#"cib_rc="-90""#;
                    payload.starts_with(b"<cib-reply ")
                        && payload.windows(rc.len()).any(|w| w == rc)
                }
                _ => false,
            });
            assert!(refused, "{actions:?}");
        }
    }
});
