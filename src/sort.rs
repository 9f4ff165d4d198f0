//! Stable sorting through one shared, non-generic merge sort, for code size.
//!
//! Every `slice::sort_by` call with its own element type and closure gets its own copy of the
//! standard library's driftsort (3–6 KB of WebAssembly each). The sorts that are not on a hot path
//! go through here instead: the order is computed once on indices by [`stable_order`] (a single
//! copy in the binary, the comparison behind a `dyn`), then applied by swaps. A stable sort's
//! result is fully determined by the comparison, so these give exactly what `sort_by`,
//! `sort_by_key` and `sort` give. Hot sorts (ingestion, running aggregates,
//! the event walk) keep the standard library's; the event walks' time keys, which come in
//! arrival order, go through [`sort_mostly_in_order`].

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

/// As `v.sort_by(compare)`.
pub fn sort_by<T>(v: &mut [T], mut compare: impl FnMut(&T, &T) -> Ordering) {
    let order = {
        let items: &[T] = v;
        stable_order(
            items.len(),
            &mut |a, b| match (items.get(a), items.get(b)) {
                (Some(x), Some(y)) => compare(x, y),
                _ => Ordering::Equal,
            },
        )
    };
    permute(v, order);
}

/// As `v.sort_by_key(key)`.
pub fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// As `v.sort()`.
pub fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// As `v.sort_by_key(time)` for a time key: one shared copy of the standard library's (unstable)
/// sort, on `(time, position)` pairs. The pairs are all distinct, so the unstable sort gives the
/// stable order. For the event walks, which are hot: this sorts the keys in place, without a
/// comparison behind a `dyn`.
pub fn sort_by_time<T>(v: &mut [T], time: impl Fn(&T) -> DateTime<Utc>) {
    let mut keys: Vec<(DateTime<Utc>, usize)> = v
        .iter()
        .enumerate()
        .map(|(position, item)| (time(item), position))
        .collect();
    sort_time_keys(&mut keys);
    permute(v, keys.into_iter().map(|(_, position)| position).collect());
}

#[inline(never)]
fn sort_time_keys(keys: &mut Vec<(DateTime<Utc>, usize)>) {
    sort_mostly_in_order(keys, |&key| key);
}

/// Sorts by `key`, which must be distinct (so the order is the stable one): fast when most
/// items are in order already, as events are in arrival order (a few arrive late). The items
/// that break the order are taken out and [`merge_late`]: one pass and a small sort. Past an
/// eighth out of order, one full sort. For small items: each is moved twice, where the standard
/// sort's merges move whole runs (40-byte items sorted slower this way; the running percentage
/// values keep their late ones apart as they come instead).
fn sort_mostly_in_order<T: Copy, K: Ord>(v: &mut Vec<T>, key: impl Fn(&T) -> K) {
    if v.is_sorted_by_key(&key) {
        return;
    }
    let n = v.len();
    let mut in_order: Vec<T> = Vec::with_capacity(n);
    let mut late: Vec<T> = Vec::new();
    for item in v.drain(..) {
        match in_order.last() {
            Some(last) if key(&item) < key(last) => late.push(item),
            _ => in_order.push(item),
        }
    }
    *v = in_order;
    if late.len() > n / 8 {
        v.append(&mut late);
        v.sort_unstable_by_key(&key);
        return;
    }
    merge_late(v, &mut late, key);
}

/// Puts `late` into `items`, which is sorted by `key` (distinct keys): `late` sorted alone, then
/// merged in from the back, each item moved at most once. `late` is left empty.
pub fn merge_late<T: Copy, K: Ord>(items: &mut Vec<T>, late: &mut Vec<T>, key: impl Fn(&T) -> K) {
    if late.is_empty() {
        return;
    }
    late.sort_unstable_by_key(&key);
    // `items[..from]` are the kept items not yet placed, `items[..to]` the slots not yet
    // written; the larger of the last kept one and the last late one goes last.
    let mut from = items.len();
    items.extend_from_slice(late);
    let mut to = items.len();
    for &value in late.iter().rev() {
        while let Some(&kept) = from.checked_sub(1).and_then(|at| items.get(at)) {
            if key(&kept) < key(&value) {
                break;
            }
            from -= 1;
            to -= 1;
            if let Some(slot) = items.get_mut(to) {
                *slot = kept;
            }
        }
        to -= 1;
        if let Some(slot) = items.get_mut(to) {
            *slot = value;
        }
    }
    late.clear();
}

/// The stable order of `0..n` under `compare` (bottom-up merge sort): position `k` of the result
/// is the index of the item that belongs at `k`.
fn stable_order(n: usize, compare: &mut dyn FnMut(usize, usize) -> Ordering) -> Vec<usize> {
    let mut src: Vec<usize> = (0..n).collect();
    let mut dst = src.clone();
    let mut width = 1usize;
    while width < n {
        let mut start = 0;
        while start < n {
            let mid = start.saturating_add(width).min(n);
            let end = mid.saturating_add(width).min(n);
            let (mut i, mut j) = (start, mid);
            for slot in dst.iter_mut().take(end).skip(start) {
                let take_left = match (src.get(i), src.get(j)) {
                    (Some(&left), Some(&right)) if i < mid && j < end => {
                        compare(left, right) != Ordering::Greater
                    }
                    _ => i < mid,
                };
                let from = if take_left { &mut i } else { &mut j };
                if let Some(&index) = src.get(*from) {
                    *slot = index;
                }
                *from += 1;
            }
            start = end;
        }
        std::mem::swap(&mut src, &mut dst);
        width = width.saturating_mul(2);
    }
    src
}

/// Moves the item at `order[k]` to `k` for every `k` (a permutation of `0..v.len()`), by
/// following its cycles.
fn permute<T>(v: &mut [T], mut order: Vec<usize>) {
    for start in 0..order.len() {
        let mut k = start;
        while let Some(from) = order.get(k).copied() {
            if let Some(done) = order.get_mut(k) {
                *done = k;
            }
            if from == start || from >= v.len() || k >= v.len() {
                break;
            }
            v.swap(k, from);
            k = from;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small fixed-seed generator (xorshift).
    fn numbers(seed: u64, n: usize, modulo: u64) -> Vec<u64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % modulo
            })
            .collect()
    }

    #[test]
    fn same_result_as_the_standard_stable_sorts() {
        for (seed, n, modulo) in [(1, 0, 5), (2, 1, 5), (3, 2, 2), (4, 17, 4), (5, 1000, 10)] {
            // (key, original position): equal keys must keep their order.
            let items: Vec<(u64, usize)> = numbers(seed, n, modulo)
                .into_iter()
                .enumerate()
                .map(|(i, k)| (k, i))
                .collect();
            let mut ours = items.clone();
            sort_by_key(&mut ours, |&(k, _)| k);
            let mut theirs = items.clone();
            theirs.sort_by_key(|&(k, _)| k);
            assert_eq!(ours, theirs);

            let mut ours = items.clone();
            sort_by(&mut ours, |a, b| {
                b.0.cmp(&a.0).then(a.1.cmp(&b.1).reverse())
            });
            let mut theirs = items.clone();
            theirs.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1).reverse()));
            assert_eq!(ours, theirs);

            let mut ours: Vec<String> = items.iter().map(|(k, _)| k.to_string()).collect();
            let mut theirs = ours.clone();
            sort(&mut ours);
            theirs.sort();
            assert_eq!(ours, theirs);

            let at = |k: u64| DateTime::<Utc>::from_timestamp(k as i64, 0).unwrap_or_default();
            let mut ours = items.clone();
            sort_by_time(&mut ours, |&(k, _)| at(k));
            let mut theirs = items.clone();
            theirs.sort_by_key(|&(k, _)| at(k));
            assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn mostly_in_order_sorts_like_the_standard_sort() {
        // In order but for a share of late items (none, a few, past the full-sort bound), at
        // the start, the middle and the end; one very early item makes all others "late".
        for (seed, n, late_in) in [
            (1, 0, 1),
            (2, 1, 1),
            (3, 2, 1),
            (4, 50, 0),
            (5, 1000, 50),
            (6, 1000, 3),
            (7, 1000, 1000),
        ] {
            let mut keys: Vec<(u64, usize)> = (0..n).map(|i| (i as u64 * 10, i)).collect();
            for (i, r) in numbers(seed, n, 1_000_000).into_iter().enumerate() {
                if late_in > 0 && r % late_in == 0 {
                    if let Some(key) = keys.get_mut(i) {
                        key.0 = key.0.saturating_sub(r % 500);
                    }
                }
            }
            if let Some(first) = keys.first_mut() {
                first.0 += if seed == 7 { 1_000_000 } else { 0 };
            }
            let mut ours = keys.clone();
            sort_mostly_in_order(&mut ours, |&k| k);
            let mut theirs = keys.clone();
            theirs.sort();
            assert_eq!(ours, theirs, "seed {seed}");
        }
    }
}
