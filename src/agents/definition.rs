//! What a resource is, as far as running it goes: its class, provider and type.
//!
//! In: the fields of `lrmd_rsc_register`, checked present by the dispatcher. Out: the value the
//! executor keeps per resource and hands back to the agent lookup at each run. Pure.

/// What a resource is: the agent that manages it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// `lrmd_class`: ocf, lsb, service, nagios, systemd, stonith, or anything else.
    pub class: String,
    /// `lrmd_provider` (OCF only).
    pub provider: Option<String>,
    /// `lrmd_type`: the agent's name.
    pub agent: String,
}

impl Definition {
    /// Whether `other` names the same agent: class, provider and type compared ignoring
    /// case, an absent provider equal only to an absent one (as the original compares).
    pub fn same_agent(&self, other: &Definition) -> bool {
        let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
        eq(&self.class, &other.class)
            && eq(&self.agent, &other.agent)
            && match (&self.provider, &other.provider) {
                (Some(a), Some(b)) => eq(a, b),
                (None, None) => true,
                _ => false,
            }
    }
}
