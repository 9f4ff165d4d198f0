//! The events of an organisation, kept per subscription and metric code in ingestion order.
//!
//! Lago's Postgres store has a unique index on `(organization, external_subscription_id,
//! transaction_id)`; here each subscription id keeps the set of its transaction ids. Ordered maps
//! keep exports deterministic.

use super::fast_hash::FastBuild;
use crate::domain::event::Event;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The events of one `external_subscription_id`.
#[derive(Debug, Clone, Default)]
struct SubscriptionEvents {
    transaction_ids: HashSet<Arc<str>, FastBuild>,
    by_code: BTreeMap<String, Vec<Event>>,
}

/// Every stored event.
#[derive(Debug, Clone, Default)]
pub struct EventStore {
    subscriptions: BTreeMap<String, SubscriptionEvents>,
    len: usize,
}

impl EventStore {
    /// True when this subscription already has an event with this transaction id.
    pub fn contains(&self, external_subscription_id: &str, transaction_id: &str) -> bool {
        self.subscriptions
            .get(external_subscription_id)
            .is_some_and(|s| s.transaction_ids.contains(transaction_id))
    }

    /// Stores an event the caller checked is not a duplicate.
    pub fn insert(&mut self, event: Event) {
        let subscription = match self.subscriptions.get_mut(&*event.external_subscription_id) {
            Some(subscription) => subscription,
            None => self
                .subscriptions
                .entry(event.external_subscription_id.to_string())
                .or_default(),
        };
        subscription
            .transaction_ids
            .insert(Arc::clone(&event.transaction_id));
        match subscription.by_code.get_mut(&*event.code) {
            Some(events) => events.push(event),
            None => {
                subscription
                    .by_code
                    .insert(event.code.to_string(), vec![event]);
            }
        }
        self.len += 1;
    }

    /// The events of a subscription and metric code, in ingestion order.
    pub fn events(&self, external_subscription_id: &str, code: &str) -> &[Event] {
        self.subscriptions
            .get(external_subscription_id)
            .and_then(|s| s.by_code.get(code))
            .map_or(&[], Vec::as_slice)
    }

    /// Finds an event by transaction id (the first subscription holding it).
    pub fn find(&self, transaction_id: &str) -> Option<&Event> {
        self.subscriptions
            .values()
            .filter(|s| s.transaction_ids.contains(transaction_id))
            .flat_map(|s| s.by_code.values().flatten())
            .find(|e| *e.transaction_id == *transaction_id)
    }

    /// Every event, by subscription, then code, then ingestion order.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.subscriptions
            .values()
            .flat_map(|s| s.by_code.values().flatten())
    }

    /// Number of stored events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
