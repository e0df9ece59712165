//! What each attack saw: how many of its calls or connections ended which way.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Outcomes of one attack, counted by name ("closed by the server", "Unavailable", ...).
#[derive(Debug)]
pub struct Tally {
    pub name: &'static str,
    outcomes: Mutex<BTreeMap<String, u64>>,
}

impl Tally {
    pub fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Self {
            name,
            outcomes: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn add(&self, outcome: impl Into<String>) {
        // A poisoned lock only loses a count of a benchmark that is failing anyway.
        if let Ok(mut outcomes) = self.outcomes.lock() {
            *outcomes.entry(outcome.into()).or_default() += 1;
        }
    }

    pub fn outcomes(&self) -> BTreeMap<String, u64> {
        self.outcomes
            .lock()
            .map(|outcomes| outcomes.clone())
            .unwrap_or_default()
    }
}
