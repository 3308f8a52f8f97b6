//! Replies and notifications, built with the attributes in the order the original writes
//! them (protocol.md 9), so captures of both daemons compare line by line.
//!
//! In: values from the dispatcher. Out: XML elements ready for `wire`. Escaping is the XML
//! writer's job; nothing here concatenates markup.

use super::names::{
    attr, msg_type, op, origin, ATTRIBUTES, LRMD_NOTIFY, LRMD_REPLY, LRMD_RSC, LRMD_RSC_OP, PARAM,
};
use super::xml::{self, Element, Style};

/// A reply body: `lrmd_origin`, `lrmd_rc`, `lrmd_callid`, then whatever the caller adds, then
/// the remote-message attributes from [`addressed_reply`].
pub fn reply(origin: &str, rc: i32, call_id: u32) -> Element {
    Element::new(LRMD_REPLY)
        .with_attr(attr::ORIGIN, origin)
        .with_attr(attr::RC, rc)
        .with_attr(attr::CALL_ID, call_id)
}

/// A reply with nothing but an rc (`process_lrmd_message`), as most operations get.
pub fn generic(rc: i32, call_id: u32) -> Element {
    reply(origin::MESSAGE, rc, call_id)
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
    /// The protocol version we announce to this client (protocol.md 8).
    pub protocol_version: &'a str,
}

impl SignonReply<'_> {
    /// The reply as the original writes it, plus the 2.1.6+/2.1.7+ additions and our
    /// implementation marker (clients ignore attributes they do not know).
    pub fn to_xml(&self) -> Element {
        let mut el = reply(origin::SIGNON, self.rc, self.call_id)
            .with_attr(attr::OP, op::REGISTER)
            .with_attr(attr::CLIENT_ID, self.client_id)
            .with_attr(attr::PROTOCOL_VERSION, self.protocol_version)
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

/// A resource as `lrmd_rsc_info` reports it.
pub struct RscInfo<'a> {
    /// Its id.
    pub id: &'a str,
    /// `lrmd_class`.
    pub class: &'a str,
    /// `lrmd_provider`, OCF only.
    pub provider: Option<&'a str>,
    /// `lrmd_type`.
    pub agent: &'a str,
}

/// The `lrmd_rsc_info` reply body (protocol.md 9.3): the resource, or `Err(rc)`.
pub fn rsc_info(call_id: u32, found: Result<RscInfo<'_>, i32>) -> Element {
    match found {
        Ok(rsc) => {
            let mut el = reply(origin::RSC_INFO, 0, call_id)
                .with_attr(attr::RSC_ID, rsc.id)
                .with_attr(attr::CLASS, rsc.class);
            if let Some(p) = rsc.provider {
                el.set_attr(attr::PROVIDER, p);
            }
            el.with_attr(attr::TYPE, rsc.agent)
        }
        Err(rc) => reply(origin::RSC_INFO, rc, call_id),
    }
}

/// One recurring operation as `lrmd_get_recurring` lists it.
pub struct RecurringOp<'a> {
    /// Action name.
    pub action: &'a str,
    /// Interval in ms.
    pub interval_ms: u32,
    /// Timeout in ms.
    pub timeout_ms: u32,
}

/// The `lrmd_get_recurring` reply body (protocol.md 9.6): per resource id, its recurring
/// operations; or `Err(rc)`.
pub fn recurring<'a>(
    call_id: u32,
    found: Result<Vec<(&'a str, Vec<RecurringOp<'a>>)>, i32>,
) -> Element {
    let lists = match found {
        Ok(lists) => lists,
        Err(rc) => return reply(origin::GET_RECURRING, rc, call_id),
    };
    let mut el = reply(origin::GET_RECURRING, 0, call_id);
    for (rsc_id, ops) in lists {
        let mut rsc = Element::new(LRMD_RSC).with_attr(attr::RSC_ID, rsc_id);
        for o in ops {
            rsc.push(
                Element::new(LRMD_RSC_OP)
                    .with_attr(attr::RSC_ACTION, o.action)
                    .with_attr(attr::RSC_INTERVAL, o.interval_ms)
                    .with_attr(attr::TIMEOUT, o.timeout_ms),
            );
        }
        el.push(rsc);
    }
    el
}

/// The values of an exec-complete notification (protocol.md 9.4).
pub struct ExecComplete<'a> {
    /// The call id the exec reply returned.
    pub call_id: u32,
    /// Resource id.
    pub rsc_id: &'a str,
    /// Action, as the client sent it.
    pub action: &'a str,
    /// Interval in ms.
    pub interval_ms: u32,
    /// The original timeout in ms.
    pub timeout_ms: u32,
    /// Start delay in ms.
    pub start_delay_ms: u32,
    /// `lrmd_exec_rc`.
    pub rc: i32,
    /// `lrmd_exec_op_status`, as its number.
    pub status: i32,
    /// `lrmd_rsc_exit_reason`.
    pub exit_reason: Option<&'a str>,
    /// `lrmd_rsc_output`.
    pub output: Option<&'a str>,
    /// The resource was unregistered before the operation finished.
    pub rsc_deleted: bool,
    /// Epoch seconds of the run; 0 for later runs of a recurring operation.
    pub run_time: i64,
    /// Epoch seconds of the last rc change.
    pub rcchange_time: i64,
    /// Milliseconds the agent ran.
    pub exec_time_ms: u64,
    /// Milliseconds queued.
    pub queue_time_ms: u64,
    /// `lrmd_rsc_userdata_str`.
    pub user_data: Option<&'a str>,
    /// The parameters, echoed in full.
    pub params: &'a [(String, String)],
}

impl ExecComplete<'_> {
    /// The notification, attributes in the original's order.
    pub fn to_xml(&self) -> Element {
        let mut el = Element::new(LRMD_NOTIFY)
            .with_attr(attr::ORIGIN, origin::CMD_COMPLETE)
            .with_attr(attr::TIMEOUT, self.timeout_ms)
            .with_attr(attr::RSC_INTERVAL, self.interval_ms)
            .with_attr(attr::RSC_START_DELAY, self.start_delay_ms)
            .with_attr(attr::EXEC_RC, self.rc)
            .with_attr(attr::EXEC_OP_STATUS, self.status)
            .with_attr(attr::CALL_ID, self.call_id)
            .with_attr(attr::RSC_DELETED, u8::from(self.rsc_deleted))
            .with_attr(attr::RUN_TIME, self.run_time)
            .with_attr(attr::RCCHANGE_TIME, self.rcchange_time)
            .with_attr(attr::EXEC_TIME, self.exec_time_ms)
            .with_attr(attr::QUEUE_TIME, self.queue_time_ms)
            .with_attr(attr::OP, op::RSC_EXEC)
            .with_attr(attr::RSC_ID, self.rsc_id)
            .with_attr(attr::RSC_ACTION, self.action);
        if let Some(u) = self.user_data {
            el.set_attr(attr::RSC_USERDATA, u);
        }
        if let Some(r) = self.exit_reason {
            el.set_attr(attr::RSC_EXIT_REASON, r);
        }
        if let Some(o) = self.output {
            el.set_attr(attr::RSC_OUTPUT, o);
        }
        addressed_notify(el.with_child(parameters(self.params)))
    }

    /// The notification's text. Agent output keeps Pacemaker 2.1.5's escaping (a newline as
    /// the two characters `\n`): the cluster reads and logs it exactly as the original's.
    pub fn to_text(&self) -> Vec<u8> {
        let mut text = Vec::with_capacity(512);
        xml::write_with(&self.to_xml(), Style::Pacemaker215, &mut text);
        text
    }
}

/// Parameters as the original writes them: attributes of `attributes`, except names that
/// start with a digit, which XML cannot carry as attribute names (protocol.md 6.8).
fn parameters(params: &[(String, String)]) -> Element {
    let mut el = Element::new(ATTRIBUTES);
    for (name, value) in params {
        if name.starts_with(|c: char| c.is_ascii_digit()) {
            el.push(
                Element::new(PARAM)
                    .with_attr("name", name)
                    .with_attr("value", value),
            );
        } else {
            el.set_attr(name, value);
        }
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
            protocol_version: crate::proto::names::PROTOCOL_VERSION,
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

    #[test]
    fn exec_complete_matches_the_capture_byte_for_byte() {
        // protocol.md 9.4: a start with an exit reason and multi-line output.
        let params: Vec<(String, String)> = [
            ("CRM_meta_name", "start"),
            ("secret", "s3cr3t"),
            ("CRM_meta_on_node", "remote1"),
            ("CRM_meta_on_node_uuid", "remote1"),
            ("CRM_meta_timeout", "20000"),
            ("crm_feature_set", "3.16.1"),
            ("sleep_stop", "0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let note = ExecComplete {
            call_id: 67,
            rsc_id: "proto-p1",
            action: "start",
            interval_ms: 0,
            timeout_ms: 20000,
            start_delay_ms: 0,
            rc: 0,
            status: 0,
            exit_reason: Some("final start reason"),
            output: Some(
                "stderr line 1 from start\nocf-exit-reason:first reason\n\
                 ocf-exit-reason:final start reason\nafter reason\n",
            ),
            rsc_deleted: false,
            run_time: 1795432667,
            rcchange_time: 0,
            exec_time_ms: 29,
            queue_time_ms: 0,
            user_data: Some("8:18:0:aa0cf2ff-390e-482b-a229-75081c3fb22c"),
            params: &params,
        };
        let captured = r#"<lrmd_notify lrmd_origin="send_cmd_complete_notify" lrmd_timeout="20000" lrmd_rsc_interval="0" lrmd_rsc_start_delay="0" lrmd_exec_rc="0" lrmd_exec_op_status="0" lrmd_callid="67" lrmd_rsc_deleted="0" lrmd_run_time="1795432667" lrmd_rcchange_time="0" lrmd_exec_time="29" lrmd_queue_time="0" lrmd_op="lrmd_rsc_exec" lrmd_rsc_id="proto-p1" lrmd_rsc_action="start" lrmd_rsc_userdata_str="8:18:0:aa0cf2ff-390e-482b-a229-75081c3fb22c" lrmd_rsc_exit_reason="final start reason" lrmd_rsc_output="stderr line 1 from start\nocf-exit-reason:first reason\nocf-exit-reason:final start reason\nafter reason\n" lrmd_remote_msg_id="0" lrmd_remote_msg_type="notify"><attributes CRM_meta_name="start" secret="s3cr3t" CRM_meta_on_node="remote1" CRM_meta_on_node_uuid="remote1" CRM_meta_timeout="20000" crm_feature_set="3.16.1" sleep_stop="0"/></lrmd_notify>"#;
        assert_eq!(String::from_utf8(note.to_text()).unwrap(), captured);
    }
}
