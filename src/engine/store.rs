//! The events of an organisation, kept per subscription and metric code in ingestion order.
//!
//! Lago's Postgres store has a unique index on `(organization, external_subscription_id,
//! transaction_id)`; here each subscription id keeps the set of its transaction ids. Ordered maps
//! keep exports deterministic.
//!
//! A bulk text's events come in runs of one subscription: claiming and storing look the
//! subscription up once per run, not once per event.

use super::fast_hash::{hash_text, HashedBuild};
use crate::domain::event::{same_text, Event, TransactionId};
use crate::domain::event_log::{EventLog, Events};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Codes of a subscription searched one by one (lengths compared first: codes differ in length
/// more often than not); past them, a binary search.
const CODES_SCANNED: usize = 16;

/// The transaction ids of a subscription, by their hash. A table of ids would hash them again
/// each time it grows, reading every id (each its own allocation): in WASM that rehash, waiting
/// on memory, took a tenth of a bulk ingestion. This one moves the hashes, and reads an id only
/// when its hash is already there.
#[derive(Debug, Clone, Default)]
struct TransactionIds {
    by_hash: HashMap<u64, TransactionId, HashedBuild>,
    /// Ids whose hash another id of the subscription has (possible, never seen in practice).
    collided: Vec<TransactionId>,
}

impl TransactionIds {
    /// Adds an id: false when it is there already.
    fn insert(&mut self, id: &TransactionId) -> bool {
        self.insert_hashed(hash_text(id), id)
    }

    /// Adds ids in order, pushing to `new` whether each was. The hashes come first: the inserts
    /// that follow are short and independent, and the processor overlaps their waits on the
    /// table's memory (at a million ids, far past the caches).
    fn insert_each<'a>(
        &mut self,
        ids: impl Iterator<Item = &'a TransactionId> + Clone,
        new: &mut Vec<bool>,
    ) {
        let hashes: Vec<u64> = ids.clone().map(|id| hash_text(id)).collect();
        new.extend(
            ids.zip(hashes)
                .map(|(id, hash)| self.insert_hashed(hash, id)),
        );
    }

    fn contains(&self, id: &str) -> bool {
        self.contains_hashed(hash_text(id), id)
    }

    fn remove(&mut self, id: &str) {
        self.remove_with(id, hash_text);
    }

    fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    // The same, given the hash function (tests make every id collide).

    fn insert_hashed(&mut self, hash: u64, id: &TransactionId) -> bool {
        match self.by_hash.entry(hash) {
            Entry::Vacant(slot) => {
                slot.insert(id.clone());
                true
            }
            Entry::Occupied(held) => {
                if same_text(held.get(), id) || self.collided.iter().any(|c| same_text(c, id)) {
                    return false;
                }
                self.collided.push(id.clone());
                true
            }
        }
    }

    fn contains_hashed(&self, hash: u64, id: &str) -> bool {
        self.by_hash.get(&hash).is_some_and(|held| {
            same_text(held, id) || self.collided.iter().any(|c| same_text(c, id))
        })
    }

    fn remove_with(&mut self, id: &str, hash_of: impl Fn(&str) -> u64) {
        if let Some(at) = self.collided.iter().position(|c| same_text(c, id)) {
            self.collided.swap_remove(at);
            return;
        }
        let hash = hash_of(id);
        if self
            .by_hash
            .get(&hash)
            .is_some_and(|held| same_text(held, id))
        {
            self.by_hash.remove(&hash);
            // An id that shared the hash takes its place (every collided id has a held one).
            if let Some(at) = self.collided.iter().position(|c| hash_of(c) == hash) {
                let moved = self.collided.swap_remove(at);
                self.by_hash.insert(hash, moved);
            }
        }
    }
}

/// The events of one `external_subscription_id`.
#[derive(Debug, Clone, Default)]
struct SubscriptionEvents {
    transaction_ids: TransactionIds,
    /// By metric code, sorted by code. A subscription's events name a few codes: a short list
    /// searched in order costs less per event than a tree's string comparisons.
    by_code: Vec<(Box<str>, EventLog)>,
}

impl SubscriptionEvents {
    /// Where a code is, or where it goes.
    fn position(&self, code: &str) -> Result<usize, usize> {
        if self.by_code.len() <= CODES_SCANNED {
            let found = self
                .by_code
                .iter()
                .position(|(c, _)| c.len() == code.len() && same_text(c, code));
            if let Some(at) = found {
                return Ok(at);
            }
            return Err(self.by_code.partition_point(|(c, _)| **c < *code));
        }
        self.by_code.binary_search_by(|(c, _)| (**c).cmp(code))
    }

    fn events(&self, code: &str) -> Events<'_> {
        self.position(code)
            .ok()
            .and_then(|at| self.by_code.get(at))
            .map_or_else(Events::default, |(_, log)| log.events())
    }

    fn push(&mut self, event: Event) {
        match self.position(&event.code) {
            Ok(at) => {
                // Always there: `position` found it.
                if let Some((_, events)) = self.by_code.get_mut(at) {
                    events.push(event);
                }
            }
            Err(at) => {
                let code = Box::from(&*event.code);
                let mut log = EventLog::default();
                log.push(event);
                self.by_code.insert(at, (code, log));
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Event> {
        self.by_code.iter().flat_map(|(_, log)| log.events().iter())
    }
}

/// True when two shared texts are equal (the events of one text share their subscription id).
fn same_shared(a: &Arc<str>, b: &Arc<str>) -> bool {
    Arc::ptr_eq(a, b) || same_text(a, b)
}

/// The runs of consecutive events with one subscription id.
fn subscription_runs(events: &[Event]) -> impl Iterator<Item = &[Event]> {
    events.chunk_by(|a, b| same_shared(&a.external_subscription_id, &b.external_subscription_id))
}

/// Every stored event.
#[derive(Debug, Clone, Default)]
pub struct EventStore {
    subscriptions: BTreeMap<Arc<str>, SubscriptionEvents>,
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
        let subscription = self.subscription_mut(&event.external_subscription_id);
        subscription.transaction_ids.insert(&event.transaction_id);
        subscription.push(event);
        self.len += 1;
    }

    /// Claims the transaction ids of a batch whose keys are distinct, all or none: `Err` with
    /// the indexes of the events whose key is already stored, and nothing claimed.
    pub fn claim(&mut self, events: &[Event]) -> Result<(), Vec<usize>> {
        let claimed = self.claim_each(events);
        let taken: Vec<usize> = (0..events.len())
            .filter(|&index| !claimed.get(index).copied().unwrap_or(false))
            .collect();
        if taken.is_empty() {
            return Ok(());
        }
        for (event, claimed) in events.iter().zip(claimed) {
            if claimed {
                self.give_back(event);
            }
        }
        Err(taken)
    }

    /// Claims the transaction ids of a batch, keeping in `events` only those whose key was not
    /// stored: of events repeating a key, the first.
    pub fn claim_new(&mut self, events: &mut Vec<Event>) {
        let mut claimed = self.claim_each(events).into_iter();
        events.retain(|_| claimed.next().unwrap_or(false));
    }

    /// Claims each event's transaction id in order: whether it was new.
    fn claim_each(&mut self, events: &[Event]) -> Vec<bool> {
        let mut claimed = Vec::with_capacity(events.len());
        for run in subscription_runs(events) {
            let Some(first) = run.first() else {
                continue;
            };
            let subscription = self.subscription_mut(&first.external_subscription_id);
            subscription
                .transaction_ids
                .insert_each(run.iter().map(|event| &event.transaction_id), &mut claimed);
        }
        claimed
    }

    /// A subscription's events, made when it has none.
    fn subscription_mut(&mut self, id: &Arc<str>) -> &mut SubscriptionEvents {
        self.subscriptions.entry(Arc::clone(id)).or_default()
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
            subscription.transaction_ids.remove(&event.transaction_id);
            // A subscription only the refused batch named leaves no trace.
            if subscription.transaction_ids.is_empty() && subscription.by_code.is_empty() {
                self.subscriptions.remove(id);
            }
        }
    }

    /// Stores events whose transaction ids [`claim`](Self::claim) took, in order.
    pub fn push_claimed(&mut self, events: Vec<Event>) {
        self.len += events.len();
        // Runs measured first, then each event moved once: a `Peekable` moved each one through
        // its peeked slot too.
        let runs: Vec<usize> = subscription_runs(&events).map(<[Event]>::len).collect();
        let mut events = events.into_iter();
        for length in runs {
            let Some(first) = events.as_slice().first() else {
                break;
            };
            let id = Arc::clone(&first.external_subscription_id);
            let subscription = self.subscription_mut(&id);
            for event in events.by_ref().take(length) {
                subscription.push(event);
            }
        }
    }

    /// The events of a subscription and metric code, in ingestion order.
    pub fn events(&self, external_subscription_id: &str, code: &str) -> Events<'_> {
        self.subscriptions
            .get(external_subscription_id)
            .map_or_else(Events::default, |s| s.events(code))
    }

    /// Finds an event by transaction id (the first subscription holding it).
    pub fn find(&self, transaction_id: &str) -> Option<&Event> {
        self.subscriptions
            .values()
            .filter(|s| s.transaction_ids.contains(transaction_id))
            .flat_map(SubscriptionEvents::iter)
            .find(|e| *e.transaction_id == *transaction_id)
    }

    /// Every event, by subscription, then code, then ingestion order.
    pub fn iter(&self) -> impl Iterator<Item = &Event> {
        self.subscriptions
            .values()
            .flat_map(SubscriptionEvents::iter)
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
    use proptest::prelude::*;
    use std::collections::HashSet;

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
        store.push_claimed(batch.into());
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

    #[test]
    fn events_stay_by_subscription_then_code_with_many_codes() {
        let mut store = EventStore::default();
        let tagged = |subscription: &str, code: String, transaction: String| Event {
            code: code.into(),
            ..event(subscription, &transaction)
        };
        // Interleaved subscriptions (runs of one and two); 13 codes, then 20: first scanned,
        // then past CODES_SCANNED searched.
        assert!((13..20).contains(&CODES_SCANNED));
        let mut batch = Vec::new();
        for n in (0..40).rev() {
            let code = format!("c{}", n % if n < 20 { 40 } else { 13 });
            batch.push(tagged("b", code.clone(), format!("t{n}")));
            if n % 3 == 0 {
                batch.push(tagged("a", code.clone(), format!("t{n}")));
                batch.push(tagged("a", code, format!("u{n}")));
            }
        }
        batch.push(tagged("b", "c0".into(), "t39".into())); // a repeat: not claimed
        let mut claimed = batch.clone();
        store.claim_new(&mut claimed);
        assert_eq!(claimed.len(), batch.len() - 1);
        store.push_claimed(claimed);
        assert_eq!(store.len(), batch.len() - 1);

        let mut expected: Vec<&Event> = batch.iter().take(batch.len() - 1).collect();
        // Stable: ingestion order within a subscription and code.
        expected.sort_by(|x, y| {
            (&*x.external_subscription_id, &*x.code).cmp(&(&*y.external_subscription_id, &*y.code))
        });
        assert!(store.iter().eq(expected.iter().copied()));
        for code in ["c0", "c7", "c12", "c19"] {
            let held = store.events("b", code);
            assert!(!held.is_empty() && held.iter().all(|e| *e.code == *code));
        }
        assert!(store.events("b", "c20").is_empty() && store.events("c", "c0").is_empty());
        assert_eq!(
            store.find("u3").map(|e| &*e.external_subscription_id),
            Some("a")
        );
    }

    #[test]
    fn transaction_ids_with_one_hash_are_told_apart() {
        let same = |_: &str| 7;
        let mut ids = TransactionIds::default();
        let [a, b, c]: [TransactionId; 3] = ["a".into(), "b".into(), "c".into()];
        assert!(ids.insert_hashed(7, &a) && ids.insert_hashed(7, &b) && ids.insert_hashed(7, &c));
        assert!(!ids.insert_hashed(7, &b) && !ids.insert_hashed(7, &a));
        assert!(["a", "b", "c"].iter().all(|id| ids.contains_hashed(7, id)));
        assert!(!ids.contains_hashed(7, "d") && !ids.contains_hashed(8, "a"));
        ids.remove_with("a", same); // the held one: a collided one takes its place
        assert!(!ids.contains_hashed(7, "a"));
        assert!(ids.contains_hashed(7, "b") && ids.contains_hashed(7, "c"));
        ids.remove_with("c", same);
        ids.remove_with("d", same);
        assert!(ids.contains_hashed(7, "b") && !ids.contains_hashed(7, "c"));
        ids.remove_with("b", same);
        assert!(ids.is_empty() && ids.collided.is_empty());
        assert!(ids.insert(&a) && ids.contains("a") && !ids.insert(&a));
        ids.remove("a");
        assert!(ids.is_empty() && !ids.contains("a"));
    }

    #[test]
    fn a_run_of_ids_is_inserted_in_order() {
        let mut ids = TransactionIds::default();
        let [a, b, c]: [TransactionId; 3] = ["a".into(), "b".into(), "c".into()];
        assert!(ids.insert(&b));
        let mut new = vec![true];
        ids.insert_each([&a, &b, &c, &a, &c].into_iter(), &mut new);
        assert_eq!(new, [true, true, false, true, false, false]);
        ids.insert_each(std::iter::empty(), &mut new);
        assert_eq!(new.len(), 6);
        assert!(["a", "b", "c"].iter().all(|id| ids.contains(id)));
    }

    #[derive(Debug, Clone)]
    enum Step {
        Insert(u16),
        Contains(u16),
        Remove(u16),
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        // Up to 300 ids: several growths of the table, removals among many.
        let step = prop_oneof![
            4 => (0..300_u16).prop_map(Step::Insert),
            2 => (0..300_u16).prop_map(Step::Contains),
            1 => (0..300_u16).prop_map(Step::Remove),
        ];
        prop::collection::vec(step, 0..1500)
    }

    fn follows_a_set(steps: &[Step], hash_of: impl Fn(&str) -> u64) {
        let mut ids = TransactionIds::default();
        let mut model = HashSet::new();
        for step in steps {
            match *step {
                Step::Insert(n) => {
                    let id = format!("{n}");
                    let shared: TransactionId = id.as_str().into();
                    assert_eq!(ids.insert_hashed(hash_of(&id), &shared), model.insert(id));
                }
                Step::Contains(n) => {
                    let id = format!("{n}");
                    assert_eq!(ids.contains_hashed(hash_of(&id), &id), model.contains(&id));
                }
                Step::Remove(n) => {
                    let id = format!("{n}");
                    ids.remove_with(&id, &hash_of);
                    model.remove(&id);
                }
            }
            let len = ids.by_hash.len() + ids.collided.len();
            assert_eq!((len, ids.is_empty()), (model.len(), model.is_empty()));
        }
        assert!(model.iter().all(|id| ids.contains_hashed(hash_of(id), id)));
    }

    proptest! {
        #[test]
        fn transaction_ids_follow_a_set(steps in steps()) {
            follows_a_set(&steps, hash_text);
        }

        #[test]
        fn transaction_ids_with_few_hashes_follow_a_set(steps in steps()) {
            // Four hashes, each shared by many ids; then one for all.
            follows_a_set(&steps, |id| hash_text(id) & (0xC000_0000 << 32));
            follows_a_set(&steps, |_| 7);
        }
    }
}
