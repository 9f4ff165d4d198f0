//! The transaction ids of one subscription (Lago's unique index on `(organization,
//! external_subscription_id, transaction_id)`).
//!
//! A bulk ingestion inserts one id per event, most of them new and random (UUIDs); at a million
//! ids the set is far past the caches and an insert costs its waits on memory. A general hash
//! table (hashbrown) waited twice per new id, on its control bytes and then on its bucket. Here a
//! new id reads one run of slots, mostly inside one 64-byte line, and is appended to a list:
//!
//! - `slots`: open addressing with linear probing over a power of two of 8-byte slots, each an
//!   id's fingerprint (the high 32 bits of its hash) above its index + 1 in `ids` (0: empty). A
//!   slot's home is its fingerprint's top bits, so growing moves slots without reading an id, and
//!   writes the new slots nearly in order.
//! - `ids`: the ids in insertion order. An id's text is read only when its fingerprint matches.
//!
//! Per id: 8 bytes of `ids` (16 native) and 8 bytes per slot at a load between a quarter and a
//! half, when both lists are full; the ids' texts are the events'.

use super::fast_hash::hash_text;
use crate::domain::event::same_text;
use std::sync::Arc;

/// Slots of a table's first allocation: one 64-byte line.
const FIRST_SLOTS: usize = 8;

/// A table holds at most this many eighths of its slots (more, and runs of linear probing
/// lengthen).
const MAX_LOAD_EIGHTHS: usize = 4;

const EMPTY: u64 = 0;

/// The ids of a subscription. A slot's index is 32 bits: past `INDEXED` ids (a parameter so
/// that tests get there), ids are kept in a list searched one by one.
#[derive(Debug, Clone, Default)]
pub(super) struct TransactionIds<const INDEXED: usize = { u32::MAX as usize }> {
    slots: Vec<u64>,
    ids: Vec<Arc<str>>,
    /// Ids past the first `INDEXED`: only a native build with four billion ids of one
    /// subscription gets here.
    beyond: Vec<Arc<str>>,
}

/// Where an id is, or the empty slot where it would go.
enum Place {
    Held(usize),
    Free(usize),
}

fn fingerprint(hash: u64) -> u32 {
    (hash >> 32) as u32
}

fn slot_fingerprint(slot: u64) -> u32 {
    (slot >> 32) as u32
}

/// The index in `ids` + 1 (0 in an empty slot).
fn slot_position(slot: u64) -> u32 {
    slot as u32
}

/// Where a fingerprint's run starts: its top bits, as many as the table's size has.
fn home(fingerprint: u32, slots: usize) -> usize {
    let bits = slots.trailing_zeros();
    (u64::from(fingerprint) << 32)
        .checked_shr(64 - bits)
        .unwrap_or(0) as usize
}

impl<const INDEXED: usize> TransactionIds<INDEXED> {
    /// Adds an id: false when it is there already.
    pub(super) fn insert(&mut self, id: &Arc<str>) -> bool {
        self.insert_hashed(hash_text(id), id)
    }

    /// Adds ids in order, pushing to `new` whether each was. The hashes come first: the inserts
    /// that follow are short and independent, and the processor overlaps their waits on memory.
    pub(super) fn insert_each<'a>(
        &mut self,
        ids: impl Iterator<Item = &'a Arc<str>> + Clone,
        new: &mut Vec<bool>,
    ) {
        let hashes: Vec<u64> = ids.clone().map(|id| hash_text(id)).collect();
        new.extend(
            ids.zip(hashes)
                .map(|(id, hash)| self.insert_hashed(hash, id)),
        );
    }

    pub(super) fn contains(&self, id: &str) -> bool {
        self.contains_hashed(hash_text(id), id)
    }

    pub(super) fn remove(&mut self, id: &str) {
        self.remove_with(id, hash_text);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.beyond.is_empty()
    }

    // The same, given the hash (tests make ids collide).

    pub(super) fn insert_hashed(&mut self, hash: u64, id: &Arc<str>) -> bool {
        let fingerprint = fingerprint(hash);
        let free = match self.find(fingerprint, id) {
            Some(Place::Held(_)) => return false,
            Some(Place::Free(at)) => Some(at),
            None => None,
        };
        if self.in_beyond(id) {
            return false;
        }
        let index = self.ids.len();
        let position = u32::try_from(index + 1).ok().filter(|_| index < INDEXED);
        let Some(position) = position else {
            self.beyond.push(Arc::clone(id));
            return true;
        };
        let free = match free {
            Some(at) if index < self.slots.len() / 8 * MAX_LOAD_EIGHTHS => Some(at),
            _ => {
                self.grow();
                self.free_slot(fingerprint)
            }
        };
        match free.and_then(|at| self.slots.get_mut(at)) {
            Some(slot) => {
                *slot = u64::from(fingerprint) << 32 | u64::from(position);
                self.ids.push(Arc::clone(id));
            }
            // Never: a grown table has free slots.
            None => self.beyond.push(Arc::clone(id)),
        }
        true
    }

    pub(super) fn contains_hashed(&self, hash: u64, id: &str) -> bool {
        matches!(self.find(fingerprint(hash), id), Some(Place::Held(_))) || self.in_beyond(id)
    }

    pub(super) fn remove_with(&mut self, id: &str, hash_of: impl Fn(&str) -> u64) {
        if let Some(at) = self.beyond.iter().position(|held| same_text(held, id)) {
            self.beyond.swap_remove(at);
            return;
        }
        let Some(Place::Held(at)) = self.find(fingerprint(hash_of(id)), id) else {
            return;
        };
        let Some(index) = self.id_index(at) else {
            return;
        };
        self.vacate(at);
        self.ids.swap_remove(index);
        // The last id took the removed one's index: its slot follows.
        let Some(moved) = self.ids.get(index) else {
            return;
        };
        let moved_fingerprint = fingerprint(hash_of(moved));
        let (Ok(from), Ok(to)) = (u32::try_from(self.ids.len() + 1), u32::try_from(index + 1))
        else {
            return;
        };
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = home(moved_fingerprint, self.slots.len());
        for _ in 0..self.slots.len() {
            match self.slots.get_mut(at) {
                Some(slot) if slot_position(*slot) == from => {
                    *slot = u64::from(moved_fingerprint) << 32 | u64::from(to);
                    return;
                }
                Some(slot) if *slot != EMPTY => at = (at + 1) & mask,
                _ => return,
            }
        }
    }

    /// Searches the id's run of slots. `None` when there are no slots.
    fn find(&self, fingerprint: u32, id: &str) -> Option<Place> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = home(fingerprint, self.slots.len());
        // Bounded, though an empty slot always ends the run (the load stays below 1).
        for _ in 0..self.slots.len() {
            let slot = *self.slots.get(at)?;
            if slot == EMPTY {
                return Some(Place::Free(at));
            }
            if slot_fingerprint(slot) == fingerprint
                && self
                    .id_index(at)
                    .and_then(|index| self.ids.get(index))
                    .is_some_and(|held| same_text(held, id))
            {
                return Some(Place::Held(at));
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// The first empty slot of a fingerprint's run.
    fn free_slot(&self, fingerprint: u32) -> Option<usize> {
        let mask = self.slots.len().wrapping_sub(1);
        let mut at = home(fingerprint, self.slots.len());
        for _ in 0..self.slots.len() {
            if *self.slots.get(at)? == EMPTY {
                return Some(at);
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// The index in `ids` of the id a slot holds.
    fn id_index(&self, at: usize) -> Option<usize> {
        let position = slot_position(*self.slots.get(at)?);
        (position as usize).checked_sub(1)
    }

    fn in_beyond(&self, id: &str) -> bool {
        !self.beyond.is_empty() && self.beyond.iter().any(|held| same_text(held, id))
    }

    /// Twice the slots; the slots move by their fingerprint alone.
    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(FIRST_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY; size]);
        for slot in old.into_iter().filter(|&slot| slot != EMPTY) {
            if let Some(at) = self.free_slot(slot_fingerprint(slot)) {
                if let Some(free) = self.slots.get_mut(at) {
                    *free = slot;
                }
            }
        }
    }

    /// Empties a slot, moving back the slots after it in the run that may go there (backward
    /// shift deletion: a run never has a hole between a slot and its home).
    fn vacate(&mut self, mut hole: usize) {
        let size = self.slots.len();
        let mask = size.wrapping_sub(1);
        let mut next = (hole + 1) & mask;
        for _ in 0..size {
            let Some(&slot) = self.slots.get(next) else {
                return;
            };
            if slot == EMPTY {
                break;
            }
            let home = home(slot_fingerprint(slot), size);
            // The slot may move back to the hole when the hole is not before its home.
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                if let Some(emptied) = self.slots.get_mut(hole) {
                    *emptied = slot;
                }
                hole = next;
            }
            next = (next + 1) & mask;
        }
        if let Some(emptied) = self.slots.get_mut(hole) {
            *emptied = EMPTY;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    impl<const INDEXED: usize> TransactionIds<INDEXED> {
        /// Every id has one slot, reachable from its home without an empty slot between.
        fn check(&self, hash_of: impl Fn(&str) -> u64) {
            let size = self.slots.len();
            assert!(size == 0 || size.is_power_of_two());
            assert!(self.ids.len() <= size / 8 * MAX_LOAD_EIGHTHS);
            let mut seen = vec![false; self.ids.len()];
            for (at, &slot) in self.slots.iter().enumerate() {
                if slot == EMPTY {
                    continue;
                }
                let index = self.id_index(at).unwrap();
                assert!(!std::mem::replace(&mut seen[index], true));
                let fingerprint = fingerprint(hash_of(&self.ids[index]));
                assert_eq!(slot_fingerprint(slot), fingerprint);
                let mut from = home(fingerprint, size);
                while from != at {
                    assert_ne!(self.slots[from], EMPTY);
                    from = (from + 1) % size;
                }
            }
            assert!(seen.iter().all(|&seen| seen));
        }

        fn len(&self) -> usize {
            self.ids.len() + self.beyond.len()
        }
    }

    fn same(_: &str) -> u64 {
        7
    }

    #[test]
    fn transaction_ids_with_one_hash_are_told_apart() {
        let mut ids = TransactionIds::<{ u32::MAX as usize }>::default();
        let [a, b, c]: [Arc<str>; 3] = ["a".into(), "b".into(), "c".into()];
        assert!(ids.insert_hashed(7, &a) && ids.insert_hashed(7, &b) && ids.insert_hashed(7, &c));
        assert!(!ids.insert_hashed(7, &b) && !ids.insert_hashed(7, &a));
        assert!(["a", "b", "c"].iter().all(|id| ids.contains_hashed(7, id)));
        assert!(!ids.contains_hashed(7, "d") && !ids.contains_hashed(8 << 32, "a"));
        ids.remove_with("a", same);
        ids.check(same);
        assert!(!ids.contains_hashed(7, "a"));
        assert!(ids.contains_hashed(7, "b") && ids.contains_hashed(7, "c"));
        ids.remove_with("c", same);
        ids.remove_with("d", same);
        assert!(ids.contains_hashed(7, "b") && !ids.contains_hashed(7, "c"));
        ids.remove_with("b", same);
        assert!(ids.is_empty() && ids.slots.iter().all(|&slot| slot == EMPTY));
        assert!(ids.insert(&a) && ids.contains("a") && !ids.insert(&a));
        ids.remove("a");
        assert!(ids.is_empty() && !ids.contains("a"));
    }

    #[test]
    fn an_empty_table_holds_nothing() {
        let mut ids = TransactionIds::<{ u32::MAX as usize }>::default();
        assert!(ids.is_empty() && !ids.contains("") && !ids.contains("a"));
        ids.remove("a");
        assert!(ids.is_empty() && ids.slots.is_empty());
        let empty: Arc<str> = "".into();
        assert!(ids.insert(&empty) && ids.contains("") && !ids.contains("a"));
        ids.remove("");
        assert!(ids.is_empty() && !ids.contains(""));
    }

    #[test]
    fn every_id_is_found_after_many_growths() {
        let mut ids = TransactionIds::<{ u32::MAX as usize }>::default();
        let all: Vec<Arc<str>> = (0..100_000).map(|n| format!("id-{n}").into()).collect();
        for (n, id) in all.iter().enumerate() {
            assert!(ids.insert(id));
            if n.is_power_of_two() {
                ids.check(hash_text);
            }
        }
        assert!(ids.slots.len() >= 100_000 * 8 / MAX_LOAD_EIGHTHS);
        ids.check(hash_text);
        assert!(all.iter().all(|id| ids.contains(id) && !ids.insert(id)));
        assert!((0..1000).all(|n| !ids.contains(&format!("id-x{n}"))));
        assert_eq!(ids.len(), all.len());
    }

    #[test]
    fn a_removed_id_comes_back() {
        let mut ids = TransactionIds::<{ u32::MAX as usize }>::default();
        let all: Vec<Arc<str>> = (0..50).map(|n| format!("{n}").into()).collect();
        all.iter().for_each(|id| assert!(ids.insert(id)));
        for id in all.iter().step_by(3) {
            ids.remove(id);
            assert!(!ids.contains(id));
        }
        ids.check(hash_text);
        for (n, id) in all.iter().enumerate() {
            assert_eq!(ids.contains(id), n % 3 != 0);
            assert_eq!(ids.insert(id), n % 3 == 0);
        }
        ids.check(hash_text);
        assert_eq!(ids.len(), all.len());
    }

    /// A hash whose fingerprint is `home` in the top 3 bits (a table of 8 slots) and `n` below.
    fn at_home(home: u64, n: u64) -> u64 {
        (home << 61 | n << 32) | 0xdead
    }

    #[test]
    fn removing_an_id_keeps_the_runs_through_its_slot() {
        let mut ids = TransactionIds::<{ u32::MAX as usize }>::default();
        let hash_of = |id: &str| match id {
            "a" => at_home(7, 1),
            "b" => at_home(7, 2),
            "c" => at_home(0, 3),
            "d" => at_home(1, 4),
            _ => at_home(3, 5),
        };
        let all: Vec<Arc<str>> = ["a", "b", "c", "d"].map(Arc::from).into();
        for id in &all {
            assert!(ids.insert_hashed(hash_of(id), id));
        }
        // a at 7, b wrapped to 0, c at 1 (past its home), d at 2 (past its home).
        assert_eq!(ids.slots.len(), 8);
        let held: Vec<u32> = ids.slots.iter().map(|&s| slot_position(s)).collect();
        assert_eq!(held, [2, 3, 4, 0, 0, 0, 0, 1]);
        ids.remove_with("a", hash_of);
        ids.check(hash_of);
        // b to 7, c to 0 (its home), d to 1 (its home); d takes a's index.
        let held: Vec<u32> = ids.slots.iter().map(|&s| slot_position(s)).collect();
        assert_eq!(held, [3, 1, 0, 0, 0, 0, 0, 2]);
        assert!(["b", "c", "d"]
            .iter()
            .all(|id| ids.contains_hashed(hash_of(id), id)));
        assert!(!ids.contains_hashed(hash_of("a"), "a"));
        ids.remove_with("c", hash_of);
        ids.check(hash_of);
        assert!(["b", "d"]
            .iter()
            .all(|id| ids.contains_hashed(hash_of(id), id)));
        assert!(ids.insert_hashed(hash_of("a"), &all[0]));
        assert!(ids.insert_hashed(hash_of("c"), &all[2]));
        ids.check(hash_of);
        assert!(all.iter().all(|id| ids.contains_hashed(hash_of(id), id)));
    }

    #[test]
    fn ids_sharing_a_fingerprint_are_told_apart() {
        // Equal fingerprints, different low bits: the table keeps only the fingerprint.
        let hash_of = |id: &str| (5 << 32) | id.len() as u64;
        let mut ids = TransactionIds::<{ u32::MAX as usize }>::default();
        let all: Vec<Arc<str>> = (0..20).map(|n| "x".repeat(n).into()).collect();
        for id in &all {
            assert!(ids.insert_hashed(hash_of(id), id));
        }
        ids.check(hash_of);
        assert!(all.iter().all(|id| !ids.insert_hashed(hash_of(id), id)));
        for id in all.iter().step_by(2) {
            ids.remove_with(id, hash_of);
        }
        ids.check(hash_of);
        for (n, id) in all.iter().enumerate() {
            assert_eq!(ids.contains_hashed(hash_of(id), id), n % 2 == 1);
        }
    }

    #[test]
    fn ids_past_the_indexed_ones_are_kept() {
        let mut ids = TransactionIds::<3>::default();
        let all: Vec<Arc<str>> = (0..6).map(|n| format!("{n}").into()).collect();
        all.iter().for_each(|id| assert!(ids.insert(id)));
        assert_eq!((ids.ids.len(), ids.beyond.len()), (3, 3));
        assert!(all.iter().all(|id| ids.contains(id) && !ids.insert(id)));
        ids.remove("4");
        ids.remove("1");
        assert!(!ids.contains("4") && !ids.contains("1"));
        assert!(ids.insert(&all[1]) && ids.contains("1"));
        ids.check(hash_text);
        assert_eq!(ids.len(), 5);
    }

    #[test]
    fn a_run_of_ids_is_inserted_in_order() {
        let mut ids = TransactionIds::<{ u32::MAX as usize }>::default();
        let [a, b, c]: [Arc<str>; 3] = ["a".into(), "b".into(), "c".into()];
        assert!(ids.insert(&b));
        let mut new = vec![true];
        ids.insert_each([&a, &b, &c, &a, &c].into_iter(), &mut new);
        assert_eq!(new, [true, true, false, true, false, false]);
        ids.insert_each(std::iter::empty(), &mut new);
        assert_eq!(new.len(), 6);
        ids.check(hash_text);
        assert_eq!(ids.len(), 3);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Insert(u16),
        Contains(u16),
        Remove(u16),
    }

    fn steps() -> impl Strategy<Value = Vec<Step>> {
        // Up to 300 ids: tables of up to 1024 slots, removals from full runs.
        let step = prop_oneof![
            4 => (0..300_u16).prop_map(Step::Insert),
            2 => (0..300_u16).prop_map(Step::Contains),
            1 => (0..300_u16).prop_map(Step::Remove),
        ];
        prop::collection::vec(step, 0..1500)
    }

    fn follows_a_set<const INDEXED: usize>(steps: &[Step], hash_of: impl Fn(&str) -> u64) {
        let mut ids = TransactionIds::<INDEXED>::default();
        let mut model = HashSet::new();
        for step in steps {
            match *step {
                Step::Insert(n) => {
                    let id = format!("{n}");
                    let shared: Arc<str> = id.as_str().into();
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
            assert_eq!((ids.len(), ids.is_empty()), (model.len(), model.is_empty()));
        }
        ids.check(&hash_of);
        assert!(model.iter().all(|id| ids.contains_hashed(hash_of(id), id)));
    }

    proptest! {
        #[test]
        fn transaction_ids_follow_a_set(steps in steps()) {
            follows_a_set::<{ u32::MAX as usize }>(&steps, hash_text);
        }

        #[test]
        fn transaction_ids_with_few_hashes_follow_a_set(steps in steps()) {
            // Four fingerprints (two homes), each with many ids; and one hash for all.
            follows_a_set::<{ u32::MAX as usize }>(&steps, |id| hash_text(id) & (0xC000_0000 << 32));
            follows_a_set::<{ u32::MAX as usize }>(&steps, |_| 7);
        }

        #[test]
        fn transaction_ids_past_the_indexed_follow_a_set(steps in steps()) {
            follows_a_set::<40>(&steps, hash_text);
        }
    }
}
