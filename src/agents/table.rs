//! An agent look-up held in memory, for the tests of the executor and the dispatcher: no
//! file is looked at.

use std::path::PathBuf;

use super::{missing, Definition, Lookup, Mapping, Prepared};
use crate::process::Invocation;

/// Agents by `(class, provider, type)`; any other is missing, as an absent OCF agent is.
#[derive(Debug, Default, Clone)]
pub struct Table {
    agents: Vec<(String, Option<String>, String)>,
}

impl Table {
    /// A table holding one agent.
    pub fn with(mut self, class: &str, provider: Option<&str>, agent: &str) -> Table {
        self.agents
            .push((class.into(), provider.map(Into::into), agent.into()));
        self
    }
}

impl Lookup for Table {
    fn prepare(
        &self,
        def: &Definition,
        _rsc_id: &str,
        action: &str,
        _interval_ms: u32,
        params: &[(String, String)],
    ) -> Prepared {
        let known = self
            .agents
            .iter()
            .any(|(c, p, a)| *c == def.class && *p == def.provider && *a == def.agent);
        if !known {
            return Prepared::Finished(missing(&def.agent));
        }
        Prepared::Run {
            invocation: Invocation {
                program: PathBuf::from(format!("/agents/{}", def.agent)),
                args: vec![action.to_string()],
                env: params.to_vec(),
                user: None,
            },
            mapping: Mapping::Ocf,
        }
    }
}
