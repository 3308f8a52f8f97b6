//! A received message, typed: one variant per operation the protocol defines.
//!
//! In: the XML tree of one frame. Out: a [`Request`] whose fields are what the operation
//! needs, each optional where a peer may leave it out; deciding what a missing field means
//! (which `lrmd_rc`) is the dispatcher's job, so the rules live in one place. Unknown
//! operations stay values (`Op::Unknown(name)`) and get a reply that names them. Parsing
//! never fails on a well-formed XML document: every request gets an answer.

use super::names::{
    attr, op, ATTRIBUTES, LRMD_ALERT, LRMD_IPC_MSG, LRMD_IPC_PROXY, LRMD_RSC, PARAM,
};
use super::proxy::ProxyOp;
use super::xml::Element;

/// One request from a client.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `lrmd_remote_msg_id`, echoed in the reply (0 when absent).
    pub msg_id: u64,
    /// `lrmd_callopt` bits.
    pub call_options: u32,
    /// `lrmd_clientname`, if this request carries one.
    pub client_name: Option<String>,
    /// What is asked.
    pub op: Op,
}

/// The operations of protocol.md section 9.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Sign-on.
    Register {
        /// `lrmd_protocol_version`.
        protocol_version: Option<String>,
        /// `lrmd_is_ipc_provider="true"`.
        is_ipc_provider: bool,
    },
    /// Keepalive.
    Poke,
    /// Watchdog check (never answered).
    Check {
        /// `lrmd_watchdog`, the cluster's `stonith-watchdog-timeout`.
        watchdog: Option<String>,
    },
    /// Register a resource.
    RscRegister(ResourceSpec),
    /// Resource details.
    RscInfo {
        /// Resource id.
        rsc_id: Option<String>,
    },
    /// Forget a resource.
    RscUnregister {
        /// Resource id.
        rsc_id: Option<String>,
    },
    /// Run an action.
    RscExec(ExecSpec),
    /// Cancel an action.
    RscCancel {
        /// Resource id.
        rsc_id: Option<String>,
        /// Action name.
        action: Option<String>,
        /// Interval in ms.
        interval_ms: u32,
    },
    /// List recurring actions, of one resource or of all.
    GetRecurring {
        /// Resource id, if only one.
        rsc_id: Option<String>,
    },
    /// Run an alert agent.
    AlertExec(AlertSpec),
    /// A proxied IPC message from the cluster.
    IpcFwd(ProxyMessage),
    /// Anything else, kept by name for the log and the reply.
    Unknown(String),
}

/// A resource as registered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceSpec {
    /// `lrmd_rsc_id`.
    pub rsc_id: Option<String>,
    /// `lrmd_class`.
    pub class: Option<String>,
    /// `lrmd_provider` (OCF only).
    pub provider: Option<String>,
    /// `lrmd_type`.
    pub agent: Option<String>,
}

/// An action to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecSpec {
    /// `lrmd_rsc_id`.
    pub rsc_id: Option<String>,
    /// `lrmd_rsc_action`.
    pub action: Option<String>,
    /// `lrmd_rsc_interval` in ms; 0 is one-shot.
    pub interval_ms: u32,
    /// `lrmd_timeout` on `lrmd_rsc` in ms; 0 means no timer.
    pub timeout_ms: u32,
    /// `lrmd_rsc_start_delay` in ms.
    pub start_delay_ms: u32,
    /// `lrmd_rsc_userdata_str`, echoed back.
    pub user_data: Option<String>,
    /// Agent parameters in document order.
    pub params: Vec<(String, String)>,
}

/// An alert to run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertSpec {
    /// `lrmd_alert_id`.
    pub alert_id: Option<String>,
    /// `lrmd_alert_path`.
    pub path: Option<String>,
    /// `lrmd_timeout` in ms.
    pub timeout_ms: u32,
    /// `CRM_alert_*` variables.
    pub params: Vec<(String, String)>,
}

/// A proxy message from the cluster (protocol.md 16.4).
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyMessage {
    /// `lrmd_ipc_op`: response, event, destroy, shutdown_ack, shutdown_nack.
    pub op: ProxyOp,
    /// `lrmd_ipc_session`.
    pub session: Option<String>,
    /// `lrmd_ipc_msg_id`.
    pub msg_id: Option<u32>,
    /// The relayed message inside `lrmd_ipc_msg`.
    pub inner: Option<Element>,
}

impl Request {
    /// Types a parsed message. Missing or non-numeric numbers read as 0, as `atoi` does in
    /// the original; the dispatcher checks required fields.
    pub fn from_xml(root: &Element) -> Request {
        let op_name = root.attr(attr::OP).unwrap_or("");
        let op = if root.name == LRMD_IPC_PROXY && (op_name == op::IPC_FWD || op_name.is_empty()) {
            Op::IpcFwd(ProxyMessage::from_xml(root))
        } else {
            Op::from_xml(op_name, root)
        };
        Request {
            msg_id: number_u64(root.attr(attr::REMOTE_MSG_ID)),
            call_options: number(root.attr(attr::CALL_OPTIONS)),
            client_name: root.attr(attr::CLIENT_NAME).map(str::to_string),
            op,
        }
    }

    /// The operation name as it appeared on the wire, for logs.
    pub fn op_name(&self) -> &str {
        match &self.op {
            Op::Register { .. } => op::REGISTER,
            Op::Poke => op::POKE,
            Op::Check { .. } => op::CHECK,
            Op::RscRegister(_) => op::RSC_REGISTER,
            Op::RscInfo { .. } => op::RSC_INFO,
            Op::RscUnregister { .. } => op::RSC_UNREGISTER,
            Op::RscExec(_) => op::RSC_EXEC,
            Op::RscCancel { .. } => op::RSC_CANCEL,
            Op::GetRecurring { .. } => op::GET_RECURRING,
            Op::AlertExec(_) => op::ALERT_EXEC,
            Op::IpcFwd(_) => op::IPC_FWD,
            Op::Unknown(name) => name,
        }
    }
}

impl Op {
    fn from_xml(name: &str, root: &Element) -> Op {
        let rsc = root.find(LRMD_RSC);
        let rsc_attr = |a: &str| rsc.and_then(|r| r.attr(a)).map(str::to_string);
        match name {
            op::REGISTER => Op::Register {
                protocol_version: root.attr(attr::PROTOCOL_VERSION).map(str::to_string),
                is_ipc_provider: root.attr(attr::IS_IPC_PROVIDER) == Some("true"),
            },
            op::POKE => Op::Poke,
            op::CHECK => Op::Check {
                watchdog: root
                    .find(super::names::LRMD_OP_ELEMENT)
                    .and_then(|e| e.attr(attr::WATCHDOG))
                    .map(str::to_string),
            },
            op::RSC_REGISTER => Op::RscRegister(ResourceSpec {
                rsc_id: rsc_attr(attr::RSC_ID),
                class: rsc_attr(attr::CLASS),
                provider: rsc_attr(attr::PROVIDER),
                agent: rsc_attr(attr::TYPE),
            }),
            op::RSC_INFO => Op::RscInfo {
                rsc_id: rsc_attr(attr::RSC_ID),
            },
            op::RSC_UNREGISTER => Op::RscUnregister {
                rsc_id: rsc_attr(attr::RSC_ID),
            },
            op::RSC_EXEC => Op::RscExec(ExecSpec {
                rsc_id: rsc_attr(attr::RSC_ID),
                action: rsc_attr(attr::RSC_ACTION),
                interval_ms: number(rsc.and_then(|r| r.attr(attr::RSC_INTERVAL))),
                timeout_ms: number(rsc.and_then(|r| r.attr(attr::TIMEOUT))),
                start_delay_ms: number(rsc.and_then(|r| r.attr(attr::RSC_START_DELAY))),
                user_data: rsc_attr(attr::RSC_USERDATA),
                params: rsc.map(parameters).unwrap_or_default(),
            }),
            op::RSC_CANCEL => Op::RscCancel {
                rsc_id: rsc_attr(attr::RSC_ID),
                action: rsc_attr(attr::RSC_ACTION),
                interval_ms: number(rsc.and_then(|r| r.attr(attr::RSC_INTERVAL))),
            },
            op::GET_RECURRING => Op::GetRecurring {
                rsc_id: rsc_attr(attr::RSC_ID),
            },
            op::ALERT_EXEC => {
                let alert = root.find(LRMD_ALERT);
                let a = |n: &str| alert.and_then(|e| e.attr(n)).map(str::to_string);
                Op::AlertExec(AlertSpec {
                    alert_id: a(attr::ALERT_ID),
                    path: a(attr::ALERT_PATH),
                    timeout_ms: number(alert.and_then(|e| e.attr(attr::TIMEOUT))),
                    params: alert.map(parameters).unwrap_or_default(),
                })
            }
            other => Op::Unknown(other.to_string()),
        }
    }
}

impl ProxyMessage {
    /// The text of the relayed message, for the local client (empty if there is none).
    pub fn inner_text(&self) -> Vec<u8> {
        self.inner.as_ref().map(super::encode).unwrap_or_default()
    }

    fn from_xml(root: &Element) -> ProxyMessage {
        ProxyMessage {
            op: ProxyOp::parse(root.attr(attr::IPC_OP)),
            session: root.attr(attr::IPC_SESSION).map(str::to_string),
            msg_id: root
                .attr(attr::IPC_MSG_ID)
                .and_then(|v| v.trim().parse().ok()),
            inner: root
                .child(LRMD_IPC_MSG)
                .and_then(|m| m.elements().next())
                .cloned(),
        }
    }
}

/// Parameters of an `lrmd_rsc` or `lrmd_alert`: the attributes of its `attributes` child, then
/// `param` children for names that start with a digit (protocol.md 6.8).
fn parameters(el: &Element) -> Vec<(String, String)> {
    let Some(attrs) = el.child(ATTRIBUTES) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = attrs.attrs.clone();
    for p in attrs.children_named(PARAM) {
        if let (Some(n), Some(v)) = (p.attr("name"), p.attr("value")) {
            out.push((n.to_string(), v.to_string()));
        }
    }
    out
}

/// Reads a number as C's `atoi`-style readers do: leading digits, else 0. Values too large
/// saturate instead of wrapping.
fn number_u64(text: Option<&str>) -> u64 {
    let Some(t) = text else { return 0 };
    let digits: String = t.trim().chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u64>() {
        Ok(v) => v,
        Err(_) if !digits.is_empty() => u64::MAX,
        Err(_) => 0,
    }
}

/// [`number_u64`] for 32-bit fields (intervals, timeouts, call options).
fn number(text: Option<&str>) -> u32 {
    u32::try_from(number_u64(text)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::xml;

    fn req(text: &str) -> Request {
        Request::from_xml(&xml::parse(text.as_bytes(), &xml::Limits::default()).unwrap())
    }

    #[test]
    fn captured_register_is_typed() {
        let r = req(
            r#"<lrmd_command t="lrmd" lrmd_op="register" lrmd_clientname="pacemaker-remote-10.213.0.2:3121" lrmd_protocol_version="1.1" lrmd_is_ipc_provider="true" lrmd_remote_msg_id="63" lrmd_remote_msg_type="request"/>"#,
        );
        assert_eq!(r.msg_id, 63);
        assert_eq!(
            r.client_name.as_deref(),
            Some("pacemaker-remote-10.213.0.2:3121")
        );
        assert_eq!(
            r.op,
            Op::Register {
                protocol_version: Some("1.1".into()),
                is_ipc_provider: true
            }
        );
    }

    #[test]
    fn captured_exec_is_typed_with_every_parameter() {
        let r = req(
            r#"<lrmd_command __name__="lrmd_command" t="lrmd" lrmd_async_id="a41e" lrmd_op="lrmd_rsc_exec" lrmd_timeout="20000" lrmd_callopt="4" lrmd_remote_msg_id="129" lrmd_remote_msg_type="request"><lrmd_calldata><lrmd_rsc lrmd_origin="lrmd_api_exec" lrmd_rsc_id="proto-p1" lrmd_rsc_action="start" lrmd_rsc_userdata_str="8:18:0:aa" lrmd_rsc_interval="0" lrmd_timeout="20000" lrmd_rsc_start_delay="0"><attributes CRM_meta_name="start" secret="s3cr3t"><param name="1st" value="x"/></attributes></lrmd_rsc></lrmd_calldata></lrmd_command>"#,
        );
        assert_eq!(r.call_options, 4);
        let Op::RscExec(e) = r.op else { panic!() };
        assert_eq!(e.rsc_id.as_deref(), Some("proto-p1"));
        assert_eq!(
            (e.interval_ms, e.timeout_ms, e.start_delay_ms),
            (0, 20000, 0)
        );
        assert_eq!(e.user_data.as_deref(), Some("8:18:0:aa"));
        let names: Vec<_> = e.params.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["CRM_meta_name", "secret", "1st"]);
    }

    #[test]
    fn unknown_and_empty_ops_stay_values() {
        assert_eq!(
            req(r#"<lrmd_command lrmd_op="frobnicate"/>"#).op,
            Op::Unknown("frobnicate".into())
        );
        assert_eq!(req(r#"<lrmd_command/>"#).op, Op::Unknown(String::new()));
    }

    #[test]
    fn numbers_read_like_atoi_and_saturate() {
        assert_eq!(number(Some("12abc")), 12);
        assert_eq!(number(Some("x")), 0);
        assert_eq!(number(Some("99999999999")), u32::MAX);
        assert_eq!(number_u64(None), 0);
    }

    #[test]
    fn proxy_messages_keep_the_inner_xml() {
        let r = req(
            r#"<lrmd_ipc_proxy lrmd_ipc_op="response" lrmd_ipc_session="s1" lrmd_ipc_msg_id="2" lrmd_op="ipc_fwd" lrmd_remote_msg_id="79" lrmd_remote_msg_type="request"><lrmd_ipc_msg><cib_common_callback_worker cib_op="register"/></lrmd_ipc_msg></lrmd_ipc_proxy>"#,
        );
        let Op::IpcFwd(p) = r.op else { panic!() };
        assert_eq!(
            (&p.op, p.session.as_deref(), p.msg_id),
            (&ProxyOp::Response, Some("s1"), Some(2))
        );
        assert_eq!(
            p.inner.map(|e| e.name.clone()),
            Some("cib_common_callback_worker".to_string())
        );
    }

    #[test]
    fn check_reads_the_watchdog_value() {
        let r = req(
            r#"<lrmd_command lrmd_op="lrmd_check"><lrmd_calldata><lrmd_op lrmd_watchdog="10s"/></lrmd_calldata></lrmd_command>"#,
        );
        assert_eq!(
            r.op,
            Op::Check {
                watchdog: Some("10s".into())
            }
        );
    }
}
