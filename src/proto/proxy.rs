//! The IPC proxy's messages (protocol.md 16): the operations of `lrmd_ipc_proxy`, and every
//! proxy message we send, to the cluster or, for a refused CIB request, to the local tool.
//!
//! In: values from the dispatcher (a session id, the local client's request, an errno). Out:
//! whole messages ready for `wire`, attributes in the order the original writes them. Decides
//! nothing: when to send which is the dispatcher's business.

use std::fmt;

use super::names::{attr, LRMD_IPC_MSG, LRMD_IPC_PROXY};
use super::reply::addressed_notify;
use super::xml::Element;

/// IPC flag the proxy adds to every relayed request (protocol.md 16.3).
pub const IPC_PROXIED: u32 = 0x100;
/// IPC flag of a request whose sender waits for a response (libqb-ipc.md 7.5).
pub const CLIENT_RESPONSE: u32 = 0x200;

/// `lrmd_ipc_op`: what a proxy message is about (protocol.md 16.3-16.4, 15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyOp {
    /// We tell the cluster a local client opened a session.
    New,
    /// We relay a local client's request.
    Request,
    /// The cluster answers a relayed request.
    Response,
    /// The cluster sends a local client an event.
    Event,
    /// Either side ends a session.
    Destroy,
    /// We ask the cluster to move resources away before we stop.
    ShutdownReq,
    /// The cluster accepts the shutdown request.
    ShutdownAck,
    /// The cluster refuses it (the node is in maintenance, say).
    ShutdownNack,
    /// Anything else, kept as sent ("" when the attribute is absent), for the log.
    Other(String),
}

impl ProxyOp {
    /// Reads `lrmd_ipc_op`; an absent attribute reads as `Other("")`.
    pub fn parse(text: Option<&str>) -> ProxyOp {
        match text.unwrap_or("") {
            "new" => ProxyOp::New,
            "request" => ProxyOp::Request,
            "response" => ProxyOp::Response,
            "event" => ProxyOp::Event,
            "destroy" => ProxyOp::Destroy,
            "shutdown_req" => ProxyOp::ShutdownReq,
            "shutdown_ack" => ProxyOp::ShutdownAck,
            "shutdown_nack" => ProxyOp::ShutdownNack,
            other => ProxyOp::Other(other.to_string()),
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &str {
        match self {
            ProxyOp::New => "new",
            ProxyOp::Request => "request",
            ProxyOp::Response => "response",
            ProxyOp::Event => "event",
            ProxyOp::Destroy => "destroy",
            ProxyOp::ShutdownReq => "shutdown_req",
            ProxyOp::ShutdownAck => "shutdown_ack",
            ProxyOp::ShutdownNack => "shutdown_nack",
            ProxyOp::Other(text) => text,
        }
    }
}

impl fmt::Display for ProxyOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn proxy(op: ProxyOp) -> Element {
    Element::new(LRMD_IPC_PROXY).with_attr(attr::IPC_OP, op.as_str())
}

/// Asks the cluster to stop this node's resources before we exit (protocol.md 15).
pub fn shutdown_req() -> Element {
    addressed_notify(proxy(ProxyOp::ShutdownReq).with_attr(attr::IPC_SESSION, 0))
}

/// Tells the cluster that a local client opened `session` to its service `server`.
pub fn new_session(server: &str, session: &str) -> Element {
    addressed_notify(
        proxy(ProxyOp::New)
            .with_attr(attr::IPC_SERVER, server)
            .with_attr(attr::IPC_SESSION, session),
    )
}

/// Tells the other side to end `session` (ours ended, or theirs names one we do not know).
pub fn destroy(session: &str) -> Element {
    addressed_notify(proxy(ProxyOp::Destroy).with_attr(attr::IPC_SESSION, session))
}

/// A local client's request for the cluster (protocol.md 16.3).
pub struct Relayed<'a> {
    /// The session it belongs to.
    pub session: &'a str,
    /// `proxy-<service>-<pid>-<first 8 chars of the session>`.
    pub client_name: &'a str,
    /// The local user's name, or `#unprivileged`.
    pub user: &'a str,
    /// The local request's IPC id.
    pub msg_id: u32,
    /// Its IPC flags, as sent; [`IPC_PROXIED`] is added.
    pub flags: u32,
}

impl Relayed<'_> {
    /// The relay carrying `message`.
    pub fn wrap(&self, message: Element) -> Element {
        addressed_notify(
            proxy(ProxyOp::Request)
                .with_attr(attr::IPC_SESSION, self.session)
                .with_attr(attr::IPC_CLIENT, self.client_name)
                .with_attr(attr::IPC_USER, self.user)
                .with_attr(attr::IPC_MSG_ID, self.msg_id)
                .with_attr(attr::IPC_MSG_FLAGS, self.flags | IPC_PROXIED)
                .with_child(Element::new(LRMD_IPC_MSG).with_child(message)),
        )
    }
}

/// The CIB manager's reply to call `callid` (operation `op`) failing with `errno`, for a local
/// CIB client whose request we could not relay: what the CIB client library turns into "Call
/// <op> failed: <strerror>".
pub fn cib_refusal(op: &str, callid: &str, errno: i32) -> Element {
    Element::new("cib-reply")
        .with_attr("t", "cib")
        .with_attr("cib_op", op)
        .with_attr("cib_callid", callid)
        .with_attr("cib_rc", errno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_ops_round_trip_and_keep_the_unknown() {
        for op in [
            "new",
            "request",
            "response",
            "event",
            "destroy",
            "shutdown_req",
            "shutdown_ack",
            "shutdown_nack",
            "bogus",
        ] {
            assert_eq!(ProxyOp::parse(Some(op)).as_str(), op);
        }
        assert_eq!(ProxyOp::parse(None), ProxyOp::Other(String::new()));
    }

    #[test]
    fn messages_match_the_captures() {
        assert_eq!(
            shutdown_req().to_string(),
            r#"<lrmd_ipc_proxy lrmd_ipc_op="shutdown_req" lrmd_ipc_session="0" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"/>"#
        );
        assert_eq!(
            new_session("cib_ro", "s1").to_string(),
            r#"<lrmd_ipc_proxy lrmd_ipc_op="new" lrmd_ipc_server="cib_ro" lrmd_ipc_session="s1" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"/>"#
        );
        let relay = Relayed {
            session: "s1",
            client_name: "proxy-cib_ro-18938-69f44696",
            user: "root",
            msg_id: 3,
            flags: 0x200,
        };
        assert_eq!(
            relay.wrap(Element::new("cib_command")).to_string(),
            r#"<lrmd_ipc_proxy lrmd_ipc_op="request" lrmd_ipc_session="s1" lrmd_ipc_client="proxy-cib_ro-18938-69f44696" lrmd_ipc_user="root" lrmd_ipc_msg_id="3" lrmd_ipc_msg_flags="768" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"><lrmd_ipc_msg><cib_command/></lrmd_ipc_msg></lrmd_ipc_proxy>"#
        );
    }
}
