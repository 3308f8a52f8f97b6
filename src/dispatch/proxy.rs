//! The IPC proxy's rules (feature `ipc-proxy`, protocol.md 16): local tools' sessions relayed
//! to the cluster as `lrmd_ipc_proxy` messages, and the cluster's answers delivered back.
//! A local request that cannot be relayed (too large once wrapped, or no room in the
//! cluster connection's outbox) is refused here, so a local client can never make us overflow
//! or close the cluster link: a CIB request gets a CIB reply carrying the errno (cibadmin:
//! "Call cib_query failed: Message too long"), any other client is closed ("Transport endpoint
//! is not connected"; attrd_updater takes any reply to an update for success).

use std::rc::Rc;

use log::{debug, info, warn};

use super::sessions::{proxied_name, Session};
use super::{encoded, event, Action, Dispatcher};
use crate::handles::{ConnId, IpcClientId};
use crate::limits::{IPC_RELAY_MAX_ESCAPE_COST, IPC_RELAY_MAX_PENDING_PER_SESSION};
use crate::proto::names::rc;
use crate::proto::proxy::{self as msg, ProxyOp, Relayed, CLIENT_RESPONSE};
use crate::proto::request::ProxyMessage;
use crate::proto::schemas as schema_msg;
use crate::proto::xml::{Element, Node};

/// The local id of our own schema transfer session: no local client ever has it (the IPC
/// server counts up from 1).
pub const SCHEMA_FETCH: IpcClientId = IpcClientId(u64::MAX);

/// Services a local client may open, and the one that is always refused.
pub const SERVICES: &[&str] = &[
    "lrmd",
    "cib_ro",
    "cib_rw",
    "cib_shm",
    "attrd",
    "stonith-ng",
    "crmd",
    "pacemakerd",
];

impl Dispatcher {
    /// Whether a local client may connect to `service` (negative errno to refuse): never to
    /// `pacemakerd`, and to the cluster's services only while a cluster connection relays them.
    pub fn ipc_accept(&self, service: &str) -> Result<(), i32> {
        match service {
            "pacemakerd" => Err(rc::EREMOTEIO),
            "lrmd" => Ok(()),
            _ if self.clients.providers().next().is_none() => {
                info!("refusing local client of {service}: no cluster connection to relay it");
                Err(rc::EREMOTEIO)
            }
            _ => Ok(()),
        }
    }

    /// A local client connected to a proxied service: a session bound to the newest provider,
    /// announced to it.
    pub fn ipc_connected(
        &mut self,
        local: IpcClientId,
        service: &str,
        pid: u32,
        user: &str,
        random: [u8; 16],
    ) -> Vec<Action> {
        let Some(provider) = self.clients.providers().last() else {
            // The provider left between accept and now: the shell closes the client.
            return vec![Action::IpcDisconnect { local }];
        };
        let id = crate::dispatch::clients::uuid_v4(random);
        let server = proxied_name(service).to_string();
        let client_name = format!("proxy-{service}-{pid}-{}", &id[..8]);
        debug!("local client {client_name} (user {user}) via {provider}");
        let note = msg::new_session(&server, &id);
        self.sessions.insert(Session {
            id,
            local,
            server,
            provider,
            client_name,
            user: user.to_string(),
            pending: std::collections::VecDeque::new(),
        });
        vec![event(provider, &note)]
    }

    /// One whole message from a local client of a proxied service, relayed as is, whatever
    /// its size (the shell uses [`ipc_relay`](Self::ipc_relay), which bounds it).
    pub fn ipc_request(
        &mut self,
        local: IpcClientId,
        msg_id: u32,
        flags: u32,
        message: Element,
    ) -> Vec<Action> {
        match self.ipc_relay(local, msg_id, flags, message, usize::MAX) {
            Relay::Send { to, payload, .. } => vec![Action::Send {
                to,
                payload,
                reply: false,
            }],
            Relay::Done(actions) => actions,
        }
    }

    /// One whole message from a local client of a proxied service, wrapped for the cluster.
    /// If the wrapped text would be longer than `max_text` (what a frame of
    /// `max_message_bytes` carries), the request is refused with -EMSGSIZE and nothing is
    /// relayed: the cluster would refuse the frame and close the link.
    pub fn ipc_relay(
        &mut self,
        local: IpcClientId,
        msg_id: u32,
        flags: u32,
        message: Element,
        max_text: usize,
    ) -> Relay {
        let Some(session) = self.sessions.by_local(local) else {
            return Relay::Done(vec![Action::IpcDisconnect { local }]);
        };
        let refusal = Refusal::of(msg_id, flags, &message);
        if session.pending.len() >= IPC_RELAY_MAX_PENDING_PER_SESSION {
            crate::limited!(
                crate::logging::Source::LocalClient,
                log::Level::Warn,
                "not relaying request {msg_id} of local client {}: {} of its requests already \
                 await the cluster's response, at most {IPC_RELAY_MAX_PENDING_PER_SESSION}; \
                 refused with -EAGAIN",
                session.client_name,
                session.pending.len()
            );
            return Relay::Done(refusal.actions(local, -libc::EAGAIN));
        }
        let cost = escape_cost(&message);
        if cost > IPC_RELAY_MAX_ESCAPE_COST {
            crate::limited!(
                crate::logging::Source::LocalClient,
                log::Level::Warn,
                "not relaying request {msg_id} of local client {}: escaping it would cost the \
                 cluster {cost} character moves, at most {IPC_RELAY_MAX_ESCAPE_COST}; refused \
                 with -EMSGSIZE",
                session.client_name
            );
            return Relay::Done(refusal.actions(local, -libc::EMSGSIZE));
        }
        let relay = Relayed {
            session: &session.id,
            client_name: &session.client_name,
            user: &session.user,
            msg_id,
            flags,
        };
        let payload = encoded(&relay.wrap(message));
        if payload.len() > max_text {
            crate::limited!(
                crate::logging::Source::LocalClient,
                log::Level::Warn,
                "not relaying request {msg_id} of local client {}: {} bytes once wrapped for \
                 the cluster, at most {max_text} (max_message_bytes); refused with -EMSGSIZE",
                session.client_name,
                payload.len()
            );
            return Relay::Done(refusal.actions(local, -libc::EMSGSIZE));
        }
        session.pending.push_back(msg_id);
        Relay::Send {
            to: session.provider,
            payload,
            refusal,
        }
    }

    /// A relay the shell could not queue (the cluster connection's outbox has no room for
    /// it): the client is told, with `errno`, instead of waiting for a reply that will never
    /// come.
    pub fn ipc_relay_refused(
        &mut self,
        local: IpcClientId,
        refusal: &Refusal,
        errno: i32,
    ) -> Vec<Action> {
        if let Some(session) = self.sessions.by_local(local) {
            if let Some(at) = session.pending.iter().rposition(|&id| id == refusal.msg_id) {
                session.pending.remove(at);
            }
        }
        refusal.actions(local, errno)
    }

    /// A local client left: the cluster is told to end its side of the session.
    pub fn ipc_closed(&mut self, local: IpcClientId) -> Vec<Action> {
        let Some(session) = self.sessions.remove_local(local) else {
            return Vec::new();
        };
        if self.clients.get(session.provider).is_none() {
            return Vec::new();
        }
        vec![event(session.provider, &msg::destroy(&session.id))]
    }

    /// Ends the sessions a departing provider relayed (protocol.md 13).
    pub(super) fn drop_sessions_of(&mut self, provider: ConnId, out: &mut Vec<Action>) {
        for local in self.sessions.of_provider(provider) {
            if local == SCHEMA_FETCH {
                self.sessions.remove_local(local);
                warn!("{provider} left before answering the schema transfer; schema files left as they were");
                continue;
            }
            if let Some(s) = self.sessions.remove_local(local) {
                info!(
                    "closing local client {}: its cluster connection is gone",
                    s.client_name
                );
            }
            out.push(Action::IpcDisconnect { local });
        }
    }

    /// Schema transfer (protocol.md 17): a provider that signed on with 1.2 or later is asked,
    /// on a read-only CIB session of our own, for the schema files later than our newest. A
    /// fetch still waiting is abandoned (the original kills its fetch child).
    pub(super) fn fetch_schemas(&mut self, provider: ConnId, out: &mut Vec<Action>) {
        let Some(after) = self.settings.schema_version.clone() else {
            info!("{provider} offers schema transfer, but we know no installed schema; skipped");
            return;
        };
        if let Some(old) = self.sessions.remove_local(SCHEMA_FETCH) {
            info!(
                "abandoning the schema transfer still waiting for {}",
                old.provider
            );
            if self.clients.get(old.provider).is_some() {
                out.push(event(old.provider, &msg::destroy(&old.id)));
            }
        }
        self.schema_fetches = self.schema_fetches.wrapping_add(1);
        let mut seed = [0u8; 16];
        seed[..8].copy_from_slice(&provider.0.to_le_bytes());
        seed[8..].copy_from_slice(&self.schema_fetches.to_le_bytes());
        let id = crate::dispatch::clients::uuid_v4(seed);
        let client_name = format!("pcmk-remoted-schemas-{}", &id[..8]);
        info!("{provider}: fetching schema files later than {after} from the cluster");
        out.push(event(provider, &msg::new_session(schema_msg::SERVICE, &id)));
        let relay = Relayed {
            session: &id,
            client_name: &client_name,
            user: "root",
            msg_id: 1,
            flags: CLIENT_RESPONSE,
        };
        let request = schema_msg::request(&after, 1, &client_name);
        out.push(event(provider, &relay.wrap(request)));
        self.sessions.insert(Session {
            id,
            local: SCHEMA_FETCH,
            server: schema_msg::SERVICE.to_string(),
            provider,
            client_name,
            user: "root".to_string(),
            pending: std::collections::VecDeque::from([1]),
        });
    }

    /// The cluster's message for our schema transfer session: an answer ends it.
    fn schema_answer(&mut self, conn: ConnId, message: ProxyMessage, out: &mut Vec<Action>) {
        match message.op {
            ProxyOp::Response => {}
            ProxyOp::Destroy => {
                self.sessions.remove_local(SCHEMA_FETCH);
                warn!("{conn} ended the schema transfer session before answering; schema files left as they were");
                return;
            }
            _ => return,
        }
        let Some(session) = self.sessions.remove_local(SCHEMA_FETCH) else {
            return;
        };
        out.push(event(conn, &msg::destroy(&session.id)));
        let Some(inner) = message.inner else {
            warn!("{conn} answered the schema transfer with no message; schema files left as they were");
            return;
        };
        let offered = match schema_msg::files(&inner) {
            Ok(f) => f,
            Err(e) => {
                warn!("{conn} schema transfer failed ({e:?}); schema files left as they were");
                return;
            }
        };
        match super::schemas::accept(offered) {
            Ok(files) if files.is_empty() => {
                info!("{conn} schema transfer: the cluster has no schema later than ours");
                out.push(Action::WriteSchemas { files });
            }
            Ok(files) => {
                info!("{conn} schema transfer: {} files accepted", files.len());
                out.push(Action::WriteSchemas { files });
            }
            Err(why) => warn!(
                "{conn} schema transfer refused: the answer carries {why}; schema files left as they were"
            ),
        }
    }

    /// A proxy message from the cluster for a session (protocol.md 16.4).
    pub(super) fn proxy_to_local(
        &mut self,
        conn: ConnId,
        message: ProxyMessage,
        out: &mut Vec<Action>,
    ) {
        let op = &message.op;
        let session_id = message.session.clone().unwrap_or_default();
        let Some(session) = self.sessions.get(&session_id) else {
            debug!("{conn} proxy '{op}' for unknown session {session_id}; telling it to forget it");
            out.push(event(conn, &msg::destroy(&session_id)));
            return;
        };
        let local = session.local;
        if local == SCHEMA_FETCH {
            self.schema_answer(conn, message, out);
            return;
        }
        let text = message.inner_text();
        match op {
            ProxyOp::Response => {
                let id = take_pending(&mut session.pending, message.msg_id, conn);
                out.push(Action::IpcResponse {
                    local,
                    id,
                    payload: Rc::new(text),
                });
            }
            ProxyOp::Event => out.push(Action::IpcEvent {
                local,
                payload: Rc::new(text),
            }),
            ProxyOp::Destroy => out.push(Action::IpcDisconnect { local }),
            other => warn!("{conn} unknown proxy operation '{other}' for session {session_id}"),
        }
    }
}

/// The id a response is delivered under: the one it names, forgotten from the session's
/// pending requests; without one, the oldest pending request's (responses come in order).
fn take_pending(
    pending: &mut std::collections::VecDeque<u32>,
    got: Option<u32>,
    conn: ConnId,
) -> u32 {
    match got {
        Some(got) => {
            if let Some(at) = pending.iter().position(|&id| id == got) {
                pending.remove(at);
            } else {
                let waiting = pending
                    .front()
                    .map_or_else(|| "none".to_string(), u32::to_string);
                warn!("{conn} response for IPC request {got}, which no request awaits (oldest waiting: {waiting}); delivering as {got}");
            }
            got
        }
        None => pending.pop_front().unwrap_or(0),
    }
}

/// What serializing `message` costs Pacemaker: per attribute value and text, the characters
/// its escaping function replaces, times the value's length (each replacement shifts the rest
/// of the value). Walks the tree with an explicit stack.
fn escape_cost(message: &Element) -> u64 {
    fn cost(value: &str) -> u64 {
        let special = value
            .bytes()
            .filter(|&b| matches!(b, b'<' | b'>' | b'"' | b'\'' | b'&') || b < 0x20 || b == 0x7f)
            .count() as u64;
        special.saturating_mul(value.len() as u64 + 5 * special)
    }
    let mut total: u64 = 0;
    let mut stack = vec![message];
    while let Some(el) = stack.pop() {
        for (_, value) in &el.attrs {
            total = total.saturating_add(cost(value));
        }
        for child in &el.children {
            match child {
                Node::Element(e) => stack.push(e),
                Node::Text(t) => total = total.saturating_add(cost(t)),
            }
        }
    }
    total
}

/// What becomes of one local request (see [`Dispatcher::ipc_relay`]).
#[derive(Debug)]
pub enum Relay {
    /// Queue `payload` for the provider `to`, if its outbox has room; otherwise call
    /// [`Dispatcher::ipc_relay_refused`] with `refusal`.
    Send {
        /// The cluster connection that relays the session.
        to: ConnId,
        /// The wrapped request, within the frame bound.
        payload: Rc<Vec<u8>>,
        /// How to refuse it, should it not be queued.
        refusal: Refusal,
    },
    /// Decided here: carry out these actions (a refusal, or closing an unknown client).
    Done(Vec<Action>),
}

/// How to tell a local client that its request was not relayed, taken from the request
/// before it is wrapped (so the request itself need not be kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    msg_id: u32,
    /// The client waits for a response to this request (`FLAG_CLIENT_RESPONSE`).
    sync: bool,
    /// A CIB request's operation and call id: the CIB client library matches its reply by
    /// call id and reports the reply's `cib_rc`.
    cib: Option<(String, String)>,
}

impl Refusal {
    fn of(msg_id: u32, flags: u32, message: &Element) -> Refusal {
        let cib = (message.attr("t") == Some("cib")).then(|| {
            let field = |name| message.attr(name).unwrap_or("").to_string();
            (field("cib_op"), field("cib_callid"))
        });
        Refusal {
            msg_id,
            sync: flags & CLIENT_RESPONSE != 0,
            cib,
        }
    }

    /// The actions that refuse the request with `errno`: a CIB reply with `cib_rc` (as the
    /// response to a synchronous call, as an event otherwise, as the CIB manager answers),
    /// or closing any other client: Pacemaker's own `nack` would read as success to
    /// attrd_updater and leave an asynchronous caller waiting.
    fn actions(&self, local: IpcClientId, errno: i32) -> Vec<Action> {
        let Some((op, callid)) = &self.cib else {
            return vec![Action::IpcDisconnect { local }];
        };
        let payload = encoded(&msg::cib_refusal(op, callid, errno));
        if self.sync {
            vec![Action::IpcResponse {
                local,
                id: self.msg_id,
                payload,
            }]
        } else {
            vec![Action::IpcEvent { local, payload }]
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "tests make their own clock"
)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::dispatch::DispatchSettings;
    use crate::executor::{ExecLimits, Executor, Now};
    use crate::proto::{xml, Request};

    const REGISTER: &str = r#"<lrmd_command t="lrmd" lrmd_op="register" lrmd_clientname="pacemaker-remote-10.213.0.2:3121" lrmd_protocol_version="1.1" lrmd_is_ipc_provider="true" lrmd_remote_msg_id="63" lrmd_remote_msg_type="request"/>"#;

    fn parse(text: &str) -> Element {
        xml::parse(text.as_bytes(), &xml::Limits::default()).unwrap()
    }

    /// A dispatcher with small executor limits and the given settings, nobody connected.
    fn dispatcher(settings: DispatchSettings) -> Dispatcher {
        let executor = Executor::new(
            ExecLimits {
                max_resources: 8,
                max_queued_operations: 8,
                max_recurring_operations: 8,
                max_children: 8,
            },
            Box::new(crate::agents::table::Table::default()),
        );
        Dispatcher::new(
            settings,
            executor,
            Box::new(crate::dispatch::FixedHost::default()),
            Instant::now(),
        )
    }

    fn now() -> Now {
        Now {
            mono: Instant::now(),
            epoch: 1_700_000_000,
        }
    }

    /// A dispatcher with one signed-on provider (conn 1) and a local cib_rw client 7.
    fn with_session() -> Dispatcher {
        let mut d = dispatcher(DispatchSettings::default());
        d.connected(ConnId(1), "peer".into(), [1; 16]);
        d.handle(ConnId(1), Request::from_xml(&parse(REGISTER)), now());
        d.ipc_connected(IpcClientId(7), "cib_rw", 4242, "root", [0xab; 16]);
        d
    }

    /// The CIB reply refusing a request: (IPC response id, or None for an event; cib_rc).
    fn cib_refusal(actions: &[Action]) -> Option<(Option<u32>, String)> {
        actions.iter().find_map(|a| {
            let (id, payload) = match a {
                Action::IpcResponse {
                    local: IpcClientId(7),
                    id,
                    payload,
                } => (Some(*id), payload),
                Action::IpcEvent {
                    local: IpcClientId(7),
                    payload,
                } => (None, payload),
                _ => return None,
            };
            let e = parse(std::str::from_utf8(payload).unwrap());
            assert_eq!(e.attr("cib_callid"), Some("12"));
            (e.name == "cib-reply").then(|| (id, e.attr("cib_rc").unwrap_or("").to_string()))
        })
    }

    #[test]
    fn a_request_that_fits_is_relayed_with_its_size_checked_once_wrapped() {
        let mut d = with_session();
        let query = parse(r#"<cib_command t="cib" cib_op="cib_query" cib_callid="2"/>"#);
        let Relay::Send { to, payload, .. } = d.ipc_relay(IpcClientId(7), 3, 0x200, query, 1000)
        else {
            panic!("not relayed");
        };
        assert_eq!(to, ConnId(1));
        assert!(payload.len() <= 1000);
        assert_eq!(d.sessions.by_local(IpcClientId(7)).unwrap().pending, [3]);
    }

    /// The session id `with_session` makes, and a cluster response to request `id` (with no
    /// `lrmd_ipc_msg_id` when `id` is None).
    fn response(d: &mut Dispatcher, id: Option<u32>, mark: &str) -> Vec<Action> {
        let session = "abababab-abab-4bab-abab-abababababab";
        let id = id.map_or_else(String::new, |i| format!(r#" lrmd_ipc_msg_id="{i}""#));
        let text = format!(
            r#"<lrmd_ipc_proxy lrmd_ipc_op="response" lrmd_ipc_session="{session}"{id} lrmd_op="ipc_fwd"><lrmd_ipc_msg><cib-reply mark="{mark}"/></lrmd_ipc_msg></lrmd_ipc_proxy>"#
        );
        let now = Now {
            mono: Instant::now(),
            epoch: 1_700_000_000,
        };
        d.handle(ConnId(1), Request::from_xml(&parse(&text)), now)
    }

    fn delivered(out: &[Action]) -> Vec<(u32, String)> {
        out.iter()
            .filter_map(|a| match a {
                Action::IpcResponse { id, payload, .. } => {
                    let e = parse(std::str::from_utf8(payload).unwrap());
                    Some((*id, e.attr("mark").unwrap_or("").to_string()))
                }
                _ => None,
            })
            .collect()
    }

    /// A dispatcher knowing schema `pacemaker-3.9`, and what signing on provider 1 with
    /// protocol `version` sent it.
    fn signed_on_with(version: &str) -> (Dispatcher, Vec<Action>) {
        let mut d = dispatcher(DispatchSettings {
            schema_version: Some("pacemaker-3.9".into()),
            ..DispatchSettings::default()
        });
        d.connected(ConnId(1), "peer".into(), [1; 16]);
        let register = REGISTER.replace(r#"version="1.1""#, &format!(r#"version="{version}""#));
        let out = d.handle(ConnId(1), Request::from_xml(&parse(&register)), now());
        (d, out)
    }

    fn texts(out: &[Action]) -> Vec<String> {
        out.iter()
            .filter_map(|a| match a {
                Action::Send { payload, .. } => Some(String::from_utf8(payload.to_vec()).unwrap()),
                _ => None,
            })
            .collect()
    }

    /// The cluster's answer on our schema session, its `lrmd_ipc_msg` holding `inner`.
    fn schema_answer(d: &mut Dispatcher, inner: &str) -> Vec<Action> {
        let session = d.sessions.by_local(SCHEMA_FETCH).unwrap().id.clone();
        let text = format!(
            r#"<lrmd_ipc_proxy lrmd_ipc_op="response" lrmd_ipc_session="{session}" lrmd_ipc_msg_id="1" lrmd_op="ipc_fwd"><lrmd_ipc_msg>{inner}</lrmd_ipc_msg></lrmd_ipc_proxy>"#
        );
        let now = Now {
            mono: Instant::now(),
            epoch: 1_700_000_000,
        };
        d.handle(ConnId(1), Request::from_xml(&parse(&text)), now)
    }

    fn written(out: &[Action]) -> Option<Vec<(String, String)>> {
        out.iter().find_map(|a| match a {
            Action::WriteSchemas { files } => Some(
                files
                    .iter()
                    .map(|f| (f.name.clone(), f.content.clone()))
                    .collect(),
            ),
            _ => None,
        })
    }

    #[test]
    fn a_1_1_provider_hears_1_1_and_is_not_asked_for_schemas() {
        let (d, out) = signed_on_with("1.1");
        let sent = texts(&out);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert!(sent[0].contains(r#"lrmd_protocol_version="1.1""#));
        assert!(d.sessions.of_provider(ConnId(1)).is_empty());
    }

    #[test]
    fn a_1_2_provider_is_asked_and_the_accepted_files_are_written() {
        let (mut d, out) = signed_on_with("1.2");
        let sent = texts(&out);
        assert_eq!(sent.len(), 3, "{sent:?}");
        assert!(sent[0].contains(r#"lrmd_protocol_version="1.2""#));
        assert!(
            sent[1].contains(r#"lrmd_ipc_op="new" lrmd_ipc_server="cib_ro""#),
            "{}",
            sent[1]
        );
        assert!(sent[2].contains(r#"lrmd_ipc_op="request""#));
        assert!(
            sent[2].contains(r#"lrmd_ipc_msg_flags="768""#),
            "{}",
            sent[2]
        );
        assert!(
            sent[2].contains(
                r#"<cib_command t="cib" cib_op="cib_schemas" cib_callid="1" cib_callopt="4096""#
            ),
            "{}",
            sent[2]
        );
        assert!(sent[2].contains(r#"<schema version="pacemaker-3.9"/>"#));
        let out = schema_answer(
            &mut d,
            r#"<cib-reply t="cib" cib_op="cib_schemas" cib_rc="0"><cib_calldata><schemas><schema version="pacemaker-3.10"><file path="pacemaker-3.10.rng"><![CDATA[<grammar/>]]></file><file path="../../etc/cron.d/x"><![CDATA[evil]]></file></schema></schemas></cib_calldata></cib-reply>"#,
        );
        assert_eq!(
            written(&out),
            Some(vec![("pacemaker-3.10.rng".into(), "<grammar/>".into())])
        );
        assert!(
            texts(&out)
                .iter()
                .any(|t| t.contains(r#"lrmd_ipc_op="destroy""#)),
            "{:?}",
            texts(&out)
        );
        assert!(
            d.sessions.by_local(SCHEMA_FETCH).is_none(),
            "the session ends"
        );
        // A second answer finds no session: nothing is written.
        let again = r#"<lrmd_ipc_proxy lrmd_ipc_op="response" lrmd_ipc_session="x" lrmd_ipc_msg_id="1" lrmd_op="ipc_fwd"/>"#;
        let now = Now {
            mono: Instant::now(),
            epoch: 1_700_000_000,
        };
        let out = d.handle(ConnId(1), Request::from_xml(&parse(again)), now);
        assert_eq!(written(&out), None);
    }

    #[test]
    fn hostile_or_failed_answers_write_nothing_and_keep_the_link() {
        for inner in [
            r#"<cib-reply cib_rc="-13"/>"#,
            r#"<cib-reply cib_rc="0"><cib_calldata><nothing/></cib_calldata></cib-reply>"#,
            "",
        ] {
            let (mut d, _) = signed_on_with("1.2");
            let out = schema_answer(&mut d, inner);
            assert_eq!(written(&out), None, "{inner}");
            assert!(d.sessions.by_local(SCHEMA_FETCH).is_none());
            assert!(!out.iter().any(|a| matches!(a, Action::Exit { .. })));
        }
        // Too many files: the whole answer is refused.
        let many: String = (0..=crate::limits::SCHEMA_MAX_FILES)
            .map(|i| format!(r#"<file path="f{i}">x</file>"#))
            .collect();
        let (mut d, _) = signed_on_with("1.2");
        let out = schema_answer(
            &mut d,
            &format!(
                r#"<cib-reply cib_rc="0"><schemas><schema>{many}</schema></schemas></cib-reply>"#
            ),
        );
        assert_eq!(written(&out), None);
    }

    #[test]
    fn a_provider_leaving_mid_transfer_ends_it_quietly() {
        let (mut d, _) = signed_on_with("1.2");
        let mut out = Vec::new();
        d.drop_sessions_of(ConnId(1), &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert!(d.sessions.by_local(SCHEMA_FETCH).is_none());
    }

    #[test]
    fn several_requests_in_flight_each_get_their_own_response() {
        let mut d = with_session();
        for id in [3, 4, 5] {
            let q = parse(r#"<cib_command t="cib" cib_op="cib_query"/>"#);
            assert!(matches!(
                d.ipc_relay(IpcClientId(7), id, 0, q, 10_000),
                Relay::Send { .. }
            ));
        }
        assert_eq!(
            d.sessions.by_local(IpcClientId(7)).unwrap().pending,
            [3, 4, 5]
        );
        // Answered out of order, by id: each under its own id, and forgotten.
        assert_eq!(
            delivered(&response(&mut d, Some(4), "b")),
            [(4, "b".into())]
        );
        assert_eq!(d.sessions.by_local(IpcClientId(7)).unwrap().pending, [3, 5]);
        // Without an id, the oldest one waiting.
        assert_eq!(delivered(&response(&mut d, None, "a")), [(3, "a".into())]);
        assert_eq!(
            delivered(&response(&mut d, Some(5), "c")),
            [(5, "c".into())]
        );
        assert!(d
            .sessions
            .by_local(IpcClientId(7))
            .unwrap()
            .pending
            .is_empty());
        // A response nobody awaits is still delivered under its id, and forgets nothing.
        assert_eq!(
            delivered(&response(&mut d, Some(9), "x")),
            [(9, "x".into())]
        );
    }

    #[test]
    fn a_session_with_too_many_requests_in_flight_is_refused_eagain() {
        let mut d = with_session();
        let limit = u32::try_from(IPC_RELAY_MAX_PENDING_PER_SESSION).unwrap();
        for id in 0..limit {
            let q = parse(r#"<cib_command t="cib" cib_op="cib_query"/>"#);
            assert!(matches!(
                d.ipc_relay(IpcClientId(7), id, 0, q, 10_000),
                Relay::Send { .. }
            ));
        }
        let q = parse(r#"<cib_command t="cib" cib_op="cib_query" cib_callid="12"/>"#);
        let Relay::Done(out) = d.ipc_relay(IpcClientId(7), limit, 0x200, q, 10_000) else {
            panic!("relayed past the bound");
        };
        assert_eq!(cib_refusal(&out), Some((Some(limit), "-11".into())));
        assert_eq!(
            d.sessions.by_local(IpcClientId(7)).unwrap().pending.len(),
            IPC_RELAY_MAX_PENDING_PER_SESSION
        );
        // Once one is answered, the next goes again.
        response(&mut d, Some(0), "a");
        let q = parse(r#"<cib_command t="cib" cib_op="cib_query"/>"#);
        assert!(matches!(
            d.ipc_relay(IpcClientId(7), limit, 0, q, 10_000),
            Relay::Send { .. }
        ));
    }

    #[test]
    fn a_request_that_expands_past_the_frame_bound_is_refused_emsgsize() {
        let mut d = with_session();
        // Quotes in a single-quoted value come back as &quot;: six bytes for one.
        let text = format!(
            r#"<cib_command t="cib" cib_op="cib_query" cib_callid="12" x='{}'/>"#,
            "\"".repeat(1000)
        );
        assert!(text.len() < 1100);
        let out = match d.ipc_relay(IpcClientId(7), 4, 0x200, parse(&text), 5000) {
            Relay::Done(out) => out,
            Relay::Send { payload, .. } => panic!("relayed {} bytes", payload.len()),
        };
        assert_eq!(cib_refusal(&out), Some((Some(4), "-90".into())));
        assert!(out.iter().all(|a| !matches!(a, Action::Send { .. })));
        // Nothing waits for a reply from the cluster; the next request still goes.
        assert!(d
            .sessions
            .by_local(IpcClientId(7))
            .unwrap()
            .pending
            .is_empty());
        let small = parse(r#"<cib_command t="cib" cib_op="cib_query"/>"#);
        assert!(matches!(
            d.ipc_relay(IpcClientId(7), 5, 0, small, 5000),
            Relay::Send { .. }
        ));
    }

    #[test]
    fn a_relay_the_outbox_refused_is_answered_with_the_errno_and_forgotten() {
        let mut d = with_session();
        // An asynchronous CIB call: its reply, and so its refusal, is an event.
        let query = parse(r#"<cib_command t="cib" cib_op="cib_query" cib_callid="12"/>"#);
        let Relay::Send { refusal, .. } = d.ipc_relay(IpcClientId(7), 6, 0, query, usize::MAX)
        else {
            panic!("not relayed");
        };
        let out = d.ipc_relay_refused(IpcClientId(7), &refusal, -libc::EAGAIN);
        assert_eq!(cib_refusal(&out), Some((None, "-11".into())));
        assert!(d
            .sessions
            .by_local(IpcClientId(7))
            .unwrap()
            .pending
            .is_empty());
    }

    #[test]
    fn a_refused_request_of_another_service_closes_its_client() {
        let mut d = with_session();
        let update = parse(&format!(
            r#"<create_attrd_op t="attrd" task="update" attr_value='{}'/>"#,
            "\"".repeat(1000)
        ));
        let out = match d.ipc_relay(IpcClientId(7), 2, 0x200, update, 5000) {
            Relay::Done(out) => out,
            Relay::Send { .. } => panic!("relayed"),
        };
        assert!(matches!(
            out[..],
            [Action::IpcDisconnect {
                local: IpcClientId(7)
            }]
        ));
    }

    #[test]
    fn a_request_that_would_keep_the_cluster_escaping_is_refused() {
        // 40 000 quotes in a 40 000-byte value: 1.6e9 character moves for Pacemaker, though
        // the wrapped request is small next to the frame bound.
        let mut d = with_session();
        let text = format!(
            r#"<cib_command t="cib" cib_op="cib_query" cib_callid="12" x='{}'/>"#,
            "\"".repeat(40_000)
        );
        let out = match d.ipc_relay(IpcClientId(7), 4, 0x200, parse(&text), usize::MAX) {
            Relay::Done(out) => out,
            Relay::Send { .. } => panic!("relayed"),
        };
        assert_eq!(cib_refusal(&out), Some((Some(4), "-90".into())));
        // Long plain values cost nothing; a few quotes in a long value are fine too.
        let plain = format!(
            r#"<cib_command t="cib" cib_callid="12" x="{}" y='a"b'/>"#,
            "a".repeat(1 << 20)
        );
        assert!(matches!(
            d.ipc_relay(IpcClientId(7), 5, 0x200, parse(&plain), usize::MAX),
            Relay::Send { .. }
        ));
        assert_eq!(
            escape_cost(&parse(r#"<a x='"&lt;'><b>&amp;</b></a>"#)),
            2 * 12 + 6
        );
    }

    #[test]
    fn an_unknown_local_client_is_closed() {
        let mut d = with_session();
        let q = parse("<x/>");
        assert!(matches!(
            d.ipc_relay(IpcClientId(8), 1, 0, q, usize::MAX),
            Relay::Done(a) if matches!(a[..], [Action::IpcDisconnect { local: IpcClientId(8) }])
        ));
    }
}
