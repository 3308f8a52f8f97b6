//! Registered resources and the operations each one holds.
//!
//! In: register and unregister requests. Out: the resource definitions agents are built from,
//! and per resource the order in which its operations wait. One operation runs per resource at
//! a time (protocol.md 11.1); the registry is bounded by `max_resources`.

use std::collections::{BTreeMap, VecDeque};

use super::request::OnClientLoss;
use crate::agents::Definition;
use crate::handles::OpId;

/// One registered resource.
#[derive(Debug, Clone)]
pub struct Resource {
    /// Its id.
    pub id: String,
    /// Its agent.
    pub def: Definition,
    /// What becomes of its recurring operations when clients leave.
    pub on_client_loss: OnClientLoss,
    /// Operations waiting to run, in arrival order.
    pub pending: VecDeque<OpId>,
    /// Recurring operations that have run and wait for their next interval, or run now.
    pub recurring: Vec<OpId>,
    /// The operation whose agent runs now.
    pub running: Option<OpId>,
}

/// All registered resources, by id.
#[derive(Debug, Default)]
pub struct Registry {
    by_id: BTreeMap<String, Resource>,
}

impl Registry {
    /// One resource.
    pub fn get(&self, id: &str) -> Option<&Resource> {
        self.by_id.get(id)
    }

    /// One resource, to change.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Resource> {
        self.by_id.get_mut(id)
    }

    /// Adds a resource (the caller checked the bound and removed any old definition).
    pub fn insert(&mut self, id: String, def: Definition, on_client_loss: OnClientLoss) {
        self.by_id.insert(
            id.clone(),
            Resource {
                id,
                def,
                on_client_loss,
                pending: VecDeque::new(),
                recurring: Vec::new(),
                running: None,
            },
        );
    }

    /// Removes a resource; its operations are the caller's to finish.
    pub fn remove(&mut self, id: &str) -> Option<Resource> {
        self.by_id.remove(id)
    }

    /// How many resources are registered.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Every resource, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.by_id.values()
    }

    /// Every resource id.
    pub fn ids(&self) -> Vec<String> {
        self.by_id.keys().cloned().collect()
    }
}
