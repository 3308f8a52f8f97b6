//! Replies and notifications, built with the attributes in the order the original writes
//! them (protocol.md 9), so captures of both daemons compare line by line.
//!
//! In: values from the dispatcher. Out: XML elements ready for `wire`. Escaping is the XML
//! writer's job; nothing here concatenates markup.

use super::names::{attr, msg_type, op, origin, LRMD_NOTIFY, LRMD_REPLY};
use super::xml::Element;

/// A reply body: `lrmd_origin`, `lrmd_rc`, `lrmd_callid`, then whatever the caller adds, then
/// the remote-message attributes from [`addressed_reply`].
pub fn reply(origin: &str, rc: i32, call_id: u32) -> Element {
    Element::new(LRMD_REPLY)
        .with_attr(attr::ORIGIN, origin)
        .with_attr(attr::RC, rc)
        .with_attr(attr::CALL_ID, call_id)
}

/// Ends a reply with the id of the request it answers; clients match replies only by it.
pub fn addressed_reply(mut body: Element, msg_id: u64) -> Element {
    body.set_attr(attr::REMOTE_MSG_ID, msg_id);
    body.set_attr(attr::REMOTE_MSG_TYPE, msg_type::REPLY);
    body
}

/// Ends a notification: id 0, type `notify`.
pub fn addressed_notify(mut body: Element) -> Element {
    body.set_attr(attr::REMOTE_MSG_ID, 0);
    body.set_attr(attr::REMOTE_MSG_TYPE, msg_type::NOTIFY);
    body
}

/// The sign-on reply (protocol.md 9.2).
pub struct SignonReply<'a> {
    /// 0, or -71 for a too-old client.
    pub rc: i32,
    /// The call id this request consumed.
    pub call_id: u32,
    /// The id we gave the connection.
    pub client_id: &'a str,
    /// Seconds since start.
    pub uptime_s: u64,
    /// `PCMK_node_start_state`, if set.
    pub node_start_state: Option<&'a str>,
}

impl SignonReply<'_> {
    /// The reply as the original writes it, plus the 2.1.6+/2.1.7+ additions and our
    /// implementation marker (clients ignore attributes they do not know).
    pub fn to_xml(&self) -> Element {
        let mut el = reply(origin::SIGNON, self.rc, self.call_id)
            .with_attr(attr::OP, op::REGISTER)
            .with_attr(attr::CLIENT_ID, self.client_id)
            .with_attr(attr::PROTOCOL_VERSION, super::names::PROTOCOL_VERSION)
            .with_attr(attr::UPTIME, self.uptime_s);
        if let Some(state) = self.node_start_state {
            el.set_attr(attr::NODE_START_STATE, state);
        }
        el.with_attr(attr::IMPLEMENTATION, env!("CARGO_PKG_VERSION"))
    }
}

/// The notification sent to every client after register, unregister and poke.
pub fn generic_notify(rc: i32, call_id: u32, op_name: &str, rsc_id: Option<&str>) -> Element {
    let mut el = Element::new(LRMD_NOTIFY)
        .with_attr(attr::ORIGIN, origin::GENERIC_NOTIFY)
        .with_attr(attr::RC, rc)
        .with_attr(attr::CALL_ID, call_id)
        .with_attr(attr::OP, op_name);
    if let Some(id) = rsc_id {
        el.set_attr(attr::RSC_ID, id);
    }
    el
}

/// Tells existing clients that another one completed a handshake (protocol.md 13).
pub fn new_client_notify() -> Element {
    Element::new(LRMD_NOTIFY)
        .with_attr(attr::ORIGIN, origin::NEW_CLIENT)
        .with_attr(attr::OP, op::NEW_CLIENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(el: &Element) -> String {
        el.to_string()
    }

    #[test]
    fn register_reply_matches_the_capture() {
        let r = SignonReply {
            rc: 0,
            call_id: 1,
            client_id: "a41eded1-2674-4dcc-bfb9-bbf930178967",
            uptime_s: 5,
            node_start_state: None,
        };
        let t = text(&addressed_reply(r.to_xml(), 63));
        let captured = r#"<lrmd_reply lrmd_origin="process_lrmd_signon" lrmd_rc="0" lrmd_callid="1" lrmd_op="register" lrmd_clientid="a41eded1-2674-4dcc-bfb9-bbf930178967" lrmd_protocol_version="1.1""#;
        assert!(t.starts_with(captured), "{t}");
        assert!(
            t.ends_with(r#" lrmd_remote_msg_id="63" lrmd_remote_msg_type="reply"/>"#),
            "{t}"
        );
    }

    #[test]
    fn generic_notify_matches_the_capture() {
        let n = addressed_notify(generic_notify(0, 3, op::RSC_REGISTER, Some("fake1")));
        assert_eq!(
            text(&n),
            r#"<lrmd_notify lrmd_origin="send_generic_notify" lrmd_rc="0" lrmd_callid="3" lrmd_op="lrmd_rsc_register" lrmd_rsc_id="fake1" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"/>"#
        );
        let n = addressed_notify(new_client_notify());
        assert_eq!(
            text(&n),
            r#"<lrmd_notify lrmd_origin="notify_of_new_client" lrmd_op="lrmd_rsc_new_client" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"/>"#
        );
    }

    #[test]
    fn generic_reply_matches_the_capture() {
        let r = addressed_reply(reply(origin::MESSAGE, 0, 3), 65);
        assert_eq!(
            text(&r),
            r#"<lrmd_reply lrmd_origin="process_lrmd_message" lrmd_rc="0" lrmd_callid="3" lrmd_remote_msg_id="65" lrmd_remote_msg_type="reply"/>"#
        );
    }
}
