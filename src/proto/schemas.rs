//! The CIB messages of schema transfer (protocol.md 17): the `cib_schemas` request our daemon
//! relays to the cluster on a session of its own, and the files read out of the answer.
//!
//! In: our highest schema version; the cluster's answer as parsed XML. Out: the request
//! element, and the answer as a list of (name, content) pairs, in document order. Decides
//! nothing: which names and sizes are acceptable is the dispatcher's business.

use super::xml::Element;

/// The CIB operation that asks the cluster for its schema files (protocol.md 17).
pub const OP: &str = "cib_schemas";
/// The proxied service the request goes to: the read-only CIB.
pub const SERVICE: &str = "cib_ro";
/// The CIB call option of a synchronous call (the cluster answers as an IPC response).
pub const CALL_SYNC: u32 = 0x1000;

/// The `cib_schemas` request: every schema file the cluster knows later than `after`.
pub fn request(after: &str, call_id: u32, client_name: &str) -> Element {
    Element::new("cib_command")
        .with_attr("t", "cib")
        .with_attr("cib_op", OP)
        .with_attr("cib_callid", call_id)
        .with_attr("cib_callopt", CALL_SYNC)
        .with_attr("cib_clientname", client_name)
        .with_child(
            Element::new("cib_calldata")
                .with_child(Element::new("schema").with_attr("version", after)),
        )
}

/// One `<file>` of the answer, unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedFile {
    /// Its `path` attribute, as sent (`None` when absent).
    pub name: Option<String>,
    /// Its character data (CDATA in the original's answers).
    pub content: String,
}

/// Why an answer holds no files we could read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// The answer carries a non-zero `cib_rc` (the cluster refused or failed the call).
    Refused(String),
    /// No `<schemas>` element anywhere in the answer.
    NoSchemas,
}

/// The files of the cluster's answer, in document order: every `<file>` of every `<schema>`
/// inside the answer's `<schemas>`. An empty `<schemas>` means we are up to date.
pub fn files(answer: &Element) -> Result<Vec<OfferedFile>, AnswerError> {
    if let Some(rc) = answer.attr("cib_rc") {
        if rc.trim() != "0" {
            return Err(AnswerError::Refused(rc.to_string()));
        }
    }
    let schemas = answer.find("schemas").ok_or(AnswerError::NoSchemas)?;
    Ok(schemas
        .children_named("schema")
        .flat_map(|s| s.children_named("file"))
        .map(|f| OfferedFile {
            name: f.attr("path").map(str::to_string),
            content: f.text(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::xml;

    fn parse(text: &str) -> Element {
        xml::parse(text.as_bytes(), &xml::Limits::default()).unwrap()
    }

    #[test]
    fn the_request_asks_for_schemas_after_ours() {
        let r = crate::proto::encode(&request("pacemaker-3.10", 2, "pcmk-remoted"));
        assert_eq!(
            String::from_utf8(r).unwrap(),
            r#"<cib_command t="cib" cib_op="cib_schemas" cib_callid="2" cib_callopt="4096" cib_clientname="pcmk-remoted"><cib_calldata><schema version="pacemaker-3.10"/></cib_calldata></cib_command>"#
        );
    }

    #[test]
    fn files_are_read_from_cdata_in_order() {
        let a = parse(
            r#"<cib-reply t="cib" cib_op="cib_schemas" cib_rc="0"><cib_calldata><schemas><schema version="pacemaker-4.0"><file path="a-4.0.rng"><![CDATA[<grammar x="<&>"/>]]></file><file path="b-4.0.rng"><![CDATA[b]]></file></schema><schema version="pacemaker-4.1"><file><![CDATA[c]]></file></schema></schemas></cib_calldata></cib-reply>"#,
        );
        let f = files(&a).unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].name.as_deref(), Some("a-4.0.rng"));
        assert_eq!(f[0].content, r#"<grammar x="<&>"/>"#);
        assert_eq!(f[1].content, "b");
        assert_eq!(f[2].name, None);
    }

    #[test]
    fn an_empty_answer_a_refusal_and_a_malformed_one() {
        let empty =
            parse(r#"<cib-reply cib_rc="0"><cib_calldata><schemas/></cib_calldata></cib-reply>"#);
        assert_eq!(files(&empty), Ok(vec![]));
        let refused = parse(r#"<cib-reply cib_rc="-71"/>"#);
        assert_eq!(files(&refused), Err(AnswerError::Refused("-71".into())));
        let odd =
            parse(r#"<cib-reply cib_rc="0"><cib_calldata><other/></cib_calldata></cib-reply>"#);
        assert_eq!(files(&odd), Err(AnswerError::NoSchemas));
    }
}
