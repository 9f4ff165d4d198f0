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
        self.push(event, true);
    }

    /// Claims the transaction ids of a batch whose keys are distinct, all or none: `Err` with
    /// the indexes of the events whose key is already stored, and nothing claimed.
    pub fn claim(&mut self, events: &[Event]) -> Result<(), Vec<usize>> {
        let mut taken = Vec::new();
        for (index, event) in events.iter().enumerate() {
            if !self.claim_one(event) {
                taken.push(index);
            }
        }
        if taken.is_empty() {
            return Ok(());
        }
        let mut taken_at = taken.iter().peekable();
        for (index, event) in events.iter().enumerate() {
            if taken_at.next_if(|&&at| at == index).is_none() {
                self.give_back(event);
            }
        }
        Err(taken)
    }

    /// Claims the transaction ids of a batch whose keys are distinct, keeping in `events` only
    /// those whose key was not stored.
    pub fn claim_new(&mut self, events: &mut Vec<Event>) {
        events.retain(|event| self.claim_one(event));
    }

    /// Claims one event's transaction id: false when its subscription already has it.
    fn claim_one(&mut self, event: &Event) -> bool {
        let id = &*event.external_subscription_id;
        let subscription = match self.subscriptions.get_mut(id) {
            Some(subscription) => subscription,
            None => self.subscriptions.entry(id.to_string()).or_default(),
        };
        subscription
            .transaction_ids
            .insert(Arc::clone(&event.transaction_id))
    }

    /// Gives back the transaction ids [`claim`](Self::claim) took for these events.
    pub fn unclaim(&mut self, events: &[Event]) {
        for event in events {
            self.give_back(event);
        }
    }

    fn give_back(&mut self, event: &Event) {
        let id = &*event.external_subscription_id;
        if let Some(subscription) = self.subscriptions.get_mut(id) {
            subscription.transaction_ids.remove(&*event.transaction_id);
            // A subscription only the refused batch named leaves no trace.
            if subscription.transaction_ids.is_empty() && subscription.by_code.is_empty() {
                self.subscriptions.remove(id);
            }
        }
    }

    /// Stores an event whose transaction id [`claim`](Self::claim) took.
    pub fn push_claimed(&mut self, event: Event) {
        self.push(event, false);
    }

    fn push(&mut self, event: Event, claim: bool) {
        let id = &*event.external_subscription_id;
        let subscription = match self.subscriptions.get_mut(id) {
            Some(subscription) => subscription,
            None => self.subscriptions.entry(id.to_string()).or_default(),
        };
        if claim {
            subscription
                .transaction_ids
                .insert(Arc::clone(&event.transaction_id));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Properties;

    fn event(subscription: &str, transaction: &str) -> Event {
        Event {
            transaction_id: transaction.into(),
            external_subscription_id: subscription.into(),
            code: "m".into(),
            timestamp: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
            properties: Properties::new(),
            precise_total_amount_cents: None,
        }
    }

    #[test]
    fn a_refused_claim_leaves_the_store_as_it_was() {
        let mut store = EventStore::default();
        store.insert(event("s", "a"));
        let batch = [event("s", "b"), event("s", "a"), event("new", "c")];
        assert_eq!(store.claim(&batch), Err(vec![1]));
        assert!(!store.contains("s", "b") && store.contains("s", "a"));
        assert!(!store.contains("new", "c"));
        assert_eq!(store.subscriptions.len(), 1);

        let batch = [event("s", "b"), event("new", "c")];
        assert_eq!(store.claim(&batch), Ok(()));
        store.unclaim(&batch);
        assert!(!store.contains("s", "b") && !store.contains("new", "c"));
        assert_eq!(store.subscriptions.len(), 1);

        assert_eq!(store.claim(&batch), Ok(()));
        for event in batch {
            store.push_claimed(event);
        }
        assert_eq!(store.len(), 3);
        assert!(store.contains("new", "c"));
        assert_eq!(store.events("new", "m").len(), 1);

        let mut batch = vec![event("s", "a"), event("s", "d"), event("other", "a")];
        store.claim_new(&mut batch);
        let kept: Vec<_> = batch
            .iter()
            .map(|e| (&*e.external_subscription_id, &*e.transaction_id))
            .collect();
        assert_eq!(kept, [("s", "d"), ("other", "a")]);
        assert!(store.contains("s", "d") && store.contains("other", "a"));
    }
}
