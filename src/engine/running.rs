//! Running aggregates: per (subscription, charge, bucket, pricing group, window) states updated
//! as events arrive, so current usage of count, sum, max, latest and unique count charges does
//! not grow with the number of events.
//!
//! A state is built by one pass over the stored events the first time a query needs it, then
//! each ingested event of that subscription and code is folded in once. A unique count folds
//! events in time order: one arriving older than the last of its value marks the state stale,
//! and the next query rebuilds it from the events. An ungrouped sum whose charge needs running
//! totals or per-event values (percentage free units, per-transaction min/max) keeps its values
//! and sorts them by time when asked; for per-transaction min/max it also keeps the sum of every
//! event's clamped price, so a query reads the free prefix only, and what it derives (running
//! totals, the paid events' price) is kept until the next value arrives. Weighted sums, recurring and prorated metrics,
//! presentation breakdowns, group filters by value and pay-in-advance are left to the event
//! walk in `aggregations::aggregate`. The configuration changing clears every state.

use super::fast_hash::{FastBuild, FastHasher};
use super::model::{Charge, Subscription};
use crate::aggregations::count::CountState;
use crate::aggregations::latest::LatestState;
use crate::aggregations::max::MaxState;
use crate::aggregations::sum::{self, SumState};
use crate::aggregations::unique_count::{self, UniqueCountState};
use crate::aggregations::{
    empty_group, group_values, pg, text, AggregationParams, AggregationResult, AggregationType,
    EventFilter, FreeUnits, GroupResult, RawKey,
};
use crate::charge_models::percentage::{self, EventPrice};
use crate::domain::event::{same_bytes, Event, Properties};
use crate::domain::event_log::Events;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::cell::RefCell;
use std::collections::hash_map::Entry as Slot;
use std::collections::HashMap;
use std::hash::Hasher;

/// Windows kept per cache: one per (subscription, charge, bucket) in practice; bounded so that
/// a client asking for many windows cannot grow memory without end.
const STATES_MAX: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    subscription: String,
    charge: String,
    bucket: usize,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// A hash of the bucket's event filter and pricing group keys as this query has them: a
    /// `group` restriction or `skip_grouping` makes another state (the entry keeps both, and a
    /// hash collision is answered by the event walk).
    shape: u64,
}

#[derive(Debug, Clone)]
enum State {
    Count(CountState),
    Sum(SumState),
    Max(MaxState),
    Latest(LatestState),
    UniqueCount(UniqueCountState),
    /// A sum that also keeps each value in time order (percentage free units, per-transaction
    /// min/max).
    SumValues(SumState, OrderedValues),
}

/// Values with their position in time, sorted lazily: events mostly arrive in order, so the
/// few late ones are kept aside until a query merges them in.
#[derive(Debug, Clone, Default)]
struct OrderedValues {
    /// The values in time order (then ingestion order), but for `late`.
    items: Vec<TimedValue>,
    /// Values that came before the last of `items` in that order (a late event): merged into
    /// `items` by the next query.
    late: Vec<TimedValue>,
    /// Σ of every value's per-transaction price, once a query asked for that price: each new
    /// value then adds its own, so a query reads the free prefix only.
    priced: Option<(EventPrice, Decimal)>,
    /// What the last query derived from the sorted values (running totals, the paid events'
    /// price), kept until a value arrives.
    derived: Option<Box<Derived>>,
}

/// The figures a query reads from sorted values, for one charge's free units and price.
#[derive(Debug, Clone)]
struct Derived {
    free_units: FreeUnits,
    price: Option<EventPrice>,
    running_total: Vec<Decimal>,
    paid_events_price: Option<Decimal>,
}

/// A value, its event's time and ingestion sequence.
type TimedValue = (DateTime<Utc>, u64, Decimal);

fn order_key(&(time, sequence, _): &TimedValue) -> (DateTime<Utc>, u64) {
    (time, sequence)
}

impl OrderedValues {
    fn push(&mut self, timestamp: DateTime<Utc>, sequence: u64, value: Decimal) {
        let item = (timestamp, sequence, value);
        let in_order = self
            .items
            .last()
            .is_none_or(|last| order_key(last) <= order_key(&item));
        if in_order {
            self.items.push(item);
        } else {
            self.late.push(item);
        }
        self.derived = None;
        if let Some((price, total)) = self.priced {
            // An overflow drops the total: the next query sums again and reports it.
            self.priced = price
                .amount(value)
                .and_then(|amount| crate::money::add(total, amount))
                .ok()
                .map(|total| (price, total));
        }
    }

    /// Σ of the prices of every value, kept for the next queries.
    fn priced_total(&mut self, price: EventPrice) -> Result<Decimal> {
        match self.priced {
            Some((kept, total)) if kept == price => Ok(total),
            _ => {
                let total = price.total(self.values())?;
                self.priced = Some((price, total));
                Ok(total)
            }
        }
    }

    /// Sorts the values and derives what a query with these free units and this price reads,
    /// unless the last query already did.
    fn derive(&mut self, free_units: FreeUnits, price: Option<EventPrice>) -> Result<()> {
        self.merge_late();
        let fresh = self
            .derived
            .as_ref()
            .is_some_and(|d| d.free_units == free_units && d.price == price);
        if fresh {
            return Ok(());
        }
        let paid_events_price = match price {
            Some(price) => {
                let total = self.priced_total(price)?;
                Some(percentage::paid_price_from_total(
                    price,
                    free_units.per_events,
                    free_units.per_total_aggregation,
                    self.values(),
                    total,
                )?)
            }
            None => None,
        };
        self.derived = Some(Box::new(Derived {
            free_units,
            price,
            running_total: sum::running_total(self.values(), free_units, None)?,
            paid_events_price,
        }));
        Ok(())
    }

    /// Puts the late values in their places ([`crate::sort::merge_late`]: each value moved at
    /// most once). The standard sort of all of them (mostly in order, but a late value every
    /// fifty) took 12 ms of a first usage at 1M events in WASM.
    fn merge_late(&mut self) {
        crate::sort::merge_late(&mut self.items, &mut self.late, order_key);
    }

    fn values(&self) -> impl Iterator<Item = Decimal> + Clone + '_ {
        self.items
            .iter()
            .chain(&self.late)
            .map(|&(_, _, value)| value)
    }
}

#[derive(Debug, Clone)]
struct Entry {
    code: String,
    field: String,
    filter: std::sync::Arc<EventFilter>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    /// Events of the subscription and code seen so far (the next one's ingestion sequence).
    seen: u64,
    /// The pricing group keys (none: one state for the whole bucket).
    keys: Vec<String>,
    /// The empty state of this aggregation.
    initial: State,
    /// One state per pricing group.
    groups: Groups,
    /// A unique count got an event out of time order: rebuild before the next answer.
    stale: bool,
}

/// An entry's states, one per pricing group (one, under the empty key, when ungrouped), found
/// from an event's property texts as it has them: a group's owned key is made once, when the
/// group appears, not per event.
#[derive(Debug, Clone, Default)]
struct Groups {
    /// Each group's raw property values and state, in the order the groups appeared.
    items: Vec<(RawKey, State)>,
    /// Hash of a group's texts → its positions in `items` (more than one on a hash collision).
    by_hash: HashMap<u64, Vec<usize>, FastBuild>,
}

impl Groups {
    fn clear(&mut self) {
        self.items.clear();
        self.by_hash.clear();
    }

    /// The state of the group of an event with these properties, made from `initial` if new.
    fn state(
        &mut self,
        keys: &[String],
        properties: &Properties,
        initial: &State,
    ) -> Option<&mut State> {
        if keys.is_empty() {
            if self.items.is_empty() {
                self.items.push((Vec::new(), initial.fresh()));
            }
            return self.items.first_mut().map(|(_, state)| state);
        }
        let mut hasher = FastHasher::default();
        for key in keys {
            match text::property_bytes(properties, key) {
                Some(text) => {
                    hasher.write_u8(1);
                    hasher.write(&text);
                }
                None => hasher.write_u8(0),
            }
        }
        let positions = self.by_hash.entry(hasher.finish()).or_default();
        let items = &self.items;
        let found = positions.iter().copied().find(|&at| {
            items
                .get(at)
                .is_some_and(|(raw, _)| same_group(raw, keys, properties))
        });
        let at = match found {
            Some(at) => at,
            None => {
                let raw: RawKey = keys
                    .iter()
                    .map(|key| text::property_text(properties, key))
                    .collect();
                positions.push(self.items.len());
                self.items.push((raw, initial.fresh()));
                self.items.len() - 1
            }
        };
        self.items.get_mut(at).map(|(_, state)| state)
    }
}

/// True when an event with these properties belongs to the group of raw values `raw`.
fn same_group(raw: &RawKey, keys: &[String], properties: &Properties) -> bool {
    raw.len() == keys.len()
        && raw.iter().zip(keys).all(|(value, key)| {
            match (value, text::property_bytes(properties, key)) {
                (Some(value), Some(text)) => same_bytes(value.as_bytes(), &text),
                (None, None) => true,
                _ => false,
            }
        })
}

impl State {
    /// The same aggregation, empty.
    fn fresh(&self) -> State {
        match self {
            State::Count(_) => State::Count(CountState::default()),
            State::Sum(_) => State::Sum(SumState::default()),
            State::Max(_) => State::Max(MaxState::default()),
            State::Latest(_) => State::Latest(LatestState::default()),
            State::UniqueCount(_) => State::UniqueCount(UniqueCountState::default()),
            State::SumValues(..) => State::SumValues(SumState::default(), OrderedValues::default()),
        }
    }

    /// What the event walk gives for this bucket or group.
    fn result(&self, params: &AggregationParams, grouped: bool) -> Result<AggregationResult> {
        Ok(match self {
            State::Count(state) => state.result(params)?,
            State::Sum(state) => state.result(params, &Vec::new())?,
            State::Max(state) => state.result(),
            State::Latest(state) => state.result(),
            State::UniqueCount(state) => unique_count::running_result(state.units(), grouped),
            State::SumValues(state, ordered) => {
                // As `sum::aggregate` gives it, from what `Entry::result` derived first.
                let mut result = state.result(params, &Vec::new())?;
                if let Some(derived) = &ordered.derived {
                    result.running_total = derived.running_total.clone();
                    result.paid_events_price = derived.paid_events_price;
                }
                if params.with_per_event_values && result.paid_events_price.is_none() {
                    result.per_event_values = ordered.values().collect();
                }
                result
            }
        })
    }
}

impl Entry {
    /// Folds the stored events of the subscription and code (a unique count in time order).
    fn build(&mut self, events: Events) -> Result<()> {
        build_together(std::slice::from_mut(self), events)
            .pop()
            .unwrap_or(Ok(()))
    }

    fn add(&mut self, event: &Event) -> Result<()> {
        let sequence = self.seen;
        self.seen += 1;
        self.fold(event, sequence)
    }

    fn fold(&mut self, event: &Event, sequence: u64) -> Result<()> {
        if event.timestamp < self.from || event.timestamp > self.to {
            return Ok(());
        }
        if !self.filter.matches(&event.properties) {
            return Ok(());
        }
        // Count and unique count take every event; the others only those with a number.
        let value = match self.initial {
            State::Count(_) | State::UniqueCount(_) => None,
            _ => match text::numeric_value(&event.properties, &self.field)? {
                Some(value) => Some(value),
                None => return Ok(()),
            },
        };
        let Some(state) = self
            .groups
            .state(&self.keys, &event.properties, &self.initial)
        else {
            return Ok(());
        };
        match (state, value) {
            (State::Count(state), _) => state.add(),
            (State::UniqueCount(state), _) => {
                if !state.add_event(&event.properties, &self.field, event.timestamp, sequence) {
                    self.stale = true;
                }
            }
            (State::Sum(state), Some(value)) => {
                state.add(value, event.precise_total_amount_cents)?
            }
            (State::SumValues(state, ordered), Some(value)) => {
                state.add(value, event.precise_total_amount_cents)?;
                ordered.push(event.timestamp, sequence, value);
            }
            (State::Max(state), Some(value)) => state.add(value),
            (State::Latest(state), Some(value)) => state.add(event.timestamp, sequence, value),
            (_, None) => {}
        }
        Ok(())
    }

    /// The bucket's result, rebuilt first if stale; `None` when the bucket's shape is not the
    /// entry's (another shape under the same hash: the event walk answers).
    fn answer(
        &mut self,
        params: &AggregationParams,
        events: Events,
    ) -> Result<Option<AggregationResult>> {
        if self.filter != params.filter || self.keys != params.grouped_by {
            return Ok(None);
        }
        if self.stale {
            self.build(events)?;
        }
        self.result(params).map(Some)
    }

    /// The bucket's result: one state, or one group per state (as `aggregate` orders and sums
    /// them), with the metric's rounding.
    fn result(&mut self, params: &AggregationParams) -> Result<AggregationResult> {
        for (_, state) in &mut self.groups.items {
            if let State::SumValues(_, ordered) = state {
                let price = params.event_price.filter(|_| params.with_per_event_values);
                ordered.derive(params.free_units, price)?;
            }
        }
        let rounding = params.metric.rounding;
        if self.keys.is_empty() {
            let state = self
                .groups
                .items
                .first()
                .map_or(&self.initial, |(_, state)| state);
            let mut result = state.result(params, false)?;
            if let Some(rounding) = rounding {
                crate::aggregations::apply_rounding(&mut result, rounding)?;
            }
            return Ok(result);
        }
        if self.groups.items.len() > crate::limits::GROUPS_MAX {
            return Err(crate::error::Error::invalid(
                "grouped_by",
                "too_many_groups",
            ));
        }
        // In raw key order, as a map by raw key gave them: groups that print alike (a missing
        // value and an empty one) keep that order through the stable sort below.
        let mut items: Vec<&(RawKey, State)> = self.groups.items.iter().collect();
        crate::sort::sort_by(&mut items, |a, b| a.0.cmp(&b.0));
        let mut groups = Vec::with_capacity(items.len().max(1));
        for (raw, state) in items {
            let mut result = state.result(params, true)?;
            if let Some(rounding) = rounding {
                crate::aggregations::apply_rounding(&mut result, rounding)?;
            }
            groups.push(GroupResult {
                grouped_by: group_values(&self.keys, raw),
                result,
            });
        }
        if groups.is_empty() {
            groups.push(empty_group(&self.keys));
        }
        crate::sort::sort_by(&mut groups, |a, b| a.grouped_by.cmp(&b.grouped_by));
        Ok(AggregationResult {
            aggregation: crate::money::sum(groups.iter().map(|g| g.result.aggregation))?,
            count: groups.iter().map(|g| g.result.count).sum(),
            groups: Some(groups),
            ..AggregationResult::default()
        })
    }
}

/// Folds the stored events of one subscription and code into each of `entries` from empty, in
/// one walk: each event is read once while its properties are in cache, not once per entry.
/// Unique counts fold in time order, after one sort shared by all of them. An entry whose fold
/// fails stops folding and gets its error (one outcome per entry, in order).
fn build_together(entries: &mut [Entry], events: Events) -> Vec<Result<()>> {
    let mut outcomes: Vec<Result<()>> = entries.iter().map(|_| Ok(())).collect();
    let mut in_arrival = Vec::with_capacity(entries.len());
    let mut in_time = Vec::new();
    for (entry, outcome) in entries.iter_mut().zip(outcomes.iter_mut()) {
        entry.seen = 0;
        entry.groups.clear();
        entry.stale = false;
        if matches!(entry.initial, State::UniqueCount(_)) {
            in_time.push((entry, outcome));
        } else {
            in_arrival.push((entry, outcome));
        }
    }
    if !in_arrival.is_empty() {
        for segment in events.slices() {
            for event in segment {
                for (entry, outcome) in in_arrival.iter_mut() {
                    if outcome.is_ok() {
                        if let Err(error) = entry.add(event) {
                            **outcome = Err(error);
                        }
                    }
                }
            }
        }
    }
    if !in_time.is_empty() {
        let mut order: Vec<usize> = (0..events.len()).collect();
        crate::sort::sort_by_time(&mut order, |&i| {
            events
                .get(i)
                .map_or(DateTime::<Utc>::MIN_UTC, |event| event.timestamp)
        });
        for i in order {
            let Some(event) = events.get(i) else {
                continue;
            };
            for (entry, outcome) in in_time.iter_mut() {
                if outcome.is_ok() {
                    if let Err(error) = entry.fold(event, i as u64) {
                        **outcome = Err(error);
                    }
                }
            }
        }
        for (entry, _) in in_time.iter_mut() {
            entry.seen = events.len() as u64;
            // Folded in time order: current.
            entry.stale = false;
        }
    }
    outcomes
}

/// Metric code → keys of the entries that fold its events.
type CodeRoutes = HashMap<String, Vec<Key>, FastBuild>;

/// The states kept between queries.
#[derive(Debug, Default)]
pub struct RunningCache {
    entries: RefCell<HashMap<Key, Entry, FastBuild>>,
    /// Subscription → code → keys of the entries that fold its events.
    routes: RefCell<HashMap<String, CodeRoutes, FastBuild>>,
}

fn shape_hash(filter: &EventFilter, grouped_by: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = FastHasher::default();
    filter.hash(&mut hasher);
    grouped_by.hash(&mut hasher);
    hasher.finish()
}

/// True when one state per bucket gives exactly what the event walk gives.
fn kept_incrementally(params: &AggregationParams) -> Option<State> {
    let simple = params.grouped_by_values.is_none()
        && params.presentation_by.is_empty()
        && !params.charge.prorated
        && !params.charge.pay_in_advance
        && params.cached_aggregations.is_empty()
        && params.pay_in_advance_event.is_none()
        && !params.metric.recurring;
    if !simple {
        return None;
    }
    // Running totals and per-event values: an ungrouped sum keeps its values in time order.
    if params.free_units.wanted() || params.with_per_event_values {
        let ungrouped_sum =
            params.grouped_by.is_empty() && params.metric.aggregation_type == AggregationType::Sum;
        return ungrouped_sum
            .then(|| State::SumValues(SumState::default(), OrderedValues::default()));
    }
    match params.metric.aggregation_type {
        AggregationType::Count => Some(State::Count(CountState::default())),
        AggregationType::Sum => Some(State::Sum(SumState::default())),
        AggregationType::Max => Some(State::Max(MaxState::default())),
        AggregationType::Latest => Some(State::Latest(LatestState::default())),
        AggregationType::UniqueCount => Some(State::UniqueCount(UniqueCountState::default())),
        _ => None,
    }
}

/// The key of a bucket's state in this query.
fn key_of(
    subscription: &Subscription,
    charge: &Charge,
    bucket: usize,
    params: &AggregationParams,
) -> Key {
    Key {
        subscription: subscription.external_id.clone(),
        charge: charge.lago_id.clone(),
        bucket,
        from: params.window.from,
        to: params.window.to,
        shape: shape_hash(&params.filter, &params.grouped_by),
    }
}

/// A bucket's entry, not built yet.
fn empty_entry(charge: &Charge, params: &AggregationParams, initial: State) -> Entry {
    Entry {
        code: charge.metric_code.clone(),
        field: params.metric.field_name.clone().unwrap_or_default(),
        filter: params.filter.clone(),
        from: pg::floor_ms(params.window.from),
        to: params.window.to,
        seen: 0,
        keys: params.grouped_by.clone(),
        initial,
        groups: Groups::default(),
        stale: false,
    }
}

/// A bucket a query asks the cache for: its charge, index and aggregation.
pub type Need<'a> = (&'a Charge, usize, &'a AggregationParams);

impl RunningCache {
    /// The result of a bucket from its running state (built from `events` on first use), or
    /// `None` when this aggregation is not kept incrementally.
    #[cfg(test)]
    fn result(
        &self,
        subscription: &Subscription,
        charge: &Charge,
        bucket: usize,
        params: &AggregationParams,
        events: &[Event],
    ) -> Result<Option<AggregationResult>> {
        let mut answer = Ok(None);
        let needs = [(charge, bucket, params)];
        self.results(subscription, &needs, Events::from(events), |_, result| {
            answer = result
        });
        answer
    }

    /// Answers each of these buckets, all of one metric code, with its index in `needs` and its
    /// result from its running state, or `None` when its aggregation is not kept incrementally.
    /// The missing states are built together, in one walk over `events` (the subscription's
    /// events of that code): each event is read once, not once per bucket. A state whose build
    /// fails is not kept: its bucket gets the error, and the next query builds it again.
    pub fn results(
        &self,
        subscription: &Subscription,
        needs: &[Need<'_>],
        events: Events,
        mut answer: impl FnMut(usize, Result<Option<AggregationResult>>),
    ) {
        let mut entries = self.entries.borrow_mut();
        // Buckets whose state is kept: answered now (one hash of the key, as warm queries are
        // many); the missing ones after they are built.
        let mut missing = Vec::new();
        let kept_before = entries.len();
        for (at, &(charge, bucket, params)) in needs.iter().enumerate() {
            let Some(initial) = kept_incrementally(params) else {
                answer(at, Ok(None));
                continue;
            };
            let key = key_of(subscription, charge, bucket, params);
            match entries.get_mut(&key) {
                Some(entry) => answer(at, entry.answer(params, events)),
                // Full: the buckets not kept yet walk the events.
                None if kept_before + missing.len() >= STATES_MAX => answer(at, Ok(None)),
                None => missing.push((at, key, empty_entry(charge, params, initial))),
            }
        }
        if missing.is_empty() {
            return;
        }
        let (keys, mut built): (Vec<(usize, Key)>, Vec<Entry>) = missing
            .into_iter()
            .map(|(at, key, entry)| ((at, key), entry))
            .unzip();
        let outcomes = build_together(&mut built, events);
        for (((at, key), mut entry), outcome) in keys.into_iter().zip(built).zip(outcomes) {
            let Some(&(_, _, params)) = needs.get(at) else {
                continue;
            };
            if let Err(error) = outcome {
                answer(at, Err(error));
                continue;
            }
            answer(at, entry.answer(params, events));
            // (A bucket asked twice is kept and routed once.)
            if let Slot::Vacant(slot) = entries.entry(key) {
                self.route(slot.key(), &entry.code);
                slot.insert(entry);
            }
        }
    }

    /// Routes the events of the entry's subscription and code to the entry `key`.
    fn route(&self, key: &Key, code: &str) {
        self.routes
            .borrow_mut()
            .entry(key.subscription.clone())
            .or_default()
            .entry(code.to_string())
            .or_default()
            .push(key.clone());
    }

    /// Folds a newly stored event into the states that track its subscription and code.
    pub fn add(&self, event: &Event) -> Result<()> {
        let routes = self.routes.borrow();
        let Some(keys) = routes
            .get(&*event.external_subscription_id)
            .and_then(|codes| codes.get(&*event.code))
        else {
            return Ok(());
        };
        let mut entries = self.entries.borrow_mut();
        for key in keys {
            if let Some(entry) = entries.get_mut(key) {
                entry.add(event)?;
            }
        }
        Ok(())
    }

    /// Forgets every state (the configuration changed).
    pub fn clear(&self) {
        self.entries.borrow_mut().clear();
        self.routes.borrow_mut().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregations::filters::FilterValues;
    use crate::aggregations::{aggregate, BillableMetric, Rounding, RoundingFunction, Window};
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        /// Values pushed mostly in time order, with late ones and ties on the time, read by
        /// queries in between: after each merge, every value pushed so far in (time, sequence)
        /// order, as a sort of them all gives.
        #[test]
        fn late_values_merge_into_time_order(
            rounds in prop::collection::vec(
                prop::collection::vec((0_i64..40, -3_i64..3), 0..60),
                1..5,
            )
        ) {
            let mut ordered = OrderedValues::default();
            let mut all: Vec<TimedValue> = Vec::new();
            let mut clock = 0;
            for round in rounds {
                for (step, lateness) in round {
                    clock += step % 4;
                    let at = DateTime::from_timestamp(clock + lateness.min(0) * 10, 0)
                        .unwrap_or_default();
                    let item = (at, all.len() as u64, Decimal::from(step));
                    ordered.push(item.0, item.1, item.2);
                    all.push(item);
                }
                ordered.merge_late();
                let mut expected = all.clone();
                expected.sort_by_key(order_key);
                prop_assert!(ordered.late.is_empty());
                prop_assert_eq!(&ordered.items, &expected);
            }
        }
    }

    fn event(n: usize, seconds: i64, properties: serde_json::Value) -> Event {
        Event {
            transaction_id: format!("t{n}").into(),
            external_subscription_id: "s".into(),
            code: "m".into(),
            timestamp: DateTime::from_timestamp(seconds, 0).unwrap(),
            properties: properties.as_object().unwrap().clone().into(),
            precise_total_amount_cents: None,
        }
    }

    /// The running state, fed in two halves (built, then incremental), equals the event walk.
    #[test]
    fn running_states_equal_the_event_walk() {
        let values = ["3", "x", "-2", "7.5", "7.5", "", "1e3", "4", "5"];
        let clouds = ["aws", "gcp", "aws", "aws", "gcp", "", "-", "aws", "gcp"];
        let times = [100, 200, 200, 50, 300, 250, 260, 400, 150];
        // Unique counts also read `operation_type` (absent = add).
        let operations = [
            None,
            None,
            Some("remove"),
            None,
            Some("add"),
            Some("remove"),
            None,
            None,
            None,
        ];
        let events: Vec<Event> = (0..values.len())
            .map(|i| {
                let mut properties = json!({"v": values[i], "cloud": clouds[i]});
                if clouds[i] == "-" {
                    properties.as_object_mut().unwrap().remove("cloud");
                }
                if let Some(operation) = operations[i] {
                    properties["operation_type"] = json!(operation);
                }
                event(i, times[i], properties)
            })
            .collect();
        let window = window(100, 300);
        let rounding = [
            None,
            Some(Rounding {
                function: RoundingFunction::Ceil,
                precision: 0,
            }),
        ];
        for aggregation_type in KEPT_AGGREGATIONS {
            for rounding in rounding {
                let metric = BillableMetric {
                    aggregation_type,
                    field_name: Some("v".into()),
                    recurring: false,
                    rounding,
                    filters: Vec::new(),
                };
                // Ungrouped in the aws bucket; grouped by cloud (with an event missing the key
                // and one with it empty: two raw groups that both print null) in the default one.
                // And ungrouped with free units and per-event values (percentage charges).
                let cases = [
                    (Vec::new(), false),
                    (vec!["cloud".to_string()], false),
                    (Vec::new(), true),
                ];
                for (grouped_by, per_event) in cases {
                    let mut params = AggregationParams::new(metric.clone(), window);
                    params.with_per_event_values = per_event;
                    if per_event {
                        params.free_units.per_events = 2;
                    }
                    // (The per-event case reads every cloud: its values arrive out of order.)
                    if grouped_by.is_empty() && !per_event {
                        std::sync::Arc::make_mut(&mut params.filter).matching =
                            FilterValues(vec![("cloud".into(), vec!["aws".into()])]);
                    }
                    params.grouped_by = grouped_by.clone();
                    let walked = aggregate(&events, &params).unwrap();
                    let running = fed_in_two_halves(&params, &events);
                    // Per-event values are kept for sums only; the others walk the events.
                    let kept = !per_event || aggregation_type == AggregationType::Sum;
                    assert_eq!(
                        running,
                        kept.then_some(walked),
                        "{aggregation_type:?} {rounding:?} {grouped_by:?} {per_event}"
                    );
                }
            }
        }
    }

    /// Grouped states equal the event walk with many groups, one or two keys, and group values
    /// missing, null, empty, numbers (as Postgres prints them), booleans and objects; unique
    /// counts with removes and events out of time order (fed after the first query, they make
    /// the state rebuild).
    #[test]
    fn grouped_running_states_equal_the_event_walk() {
        let group_values: Vec<Option<serde_json::Value>> = vec![
            None,
            Some(json!(null)),
            Some(json!("")),
            Some(serde_json::from_str("1e3").unwrap()),
            Some(serde_json::from_str("1000").unwrap()),
            Some(json!(5)),
            Some(json!("5")),
            Some(json!(true)),
            Some(json!({"b": [1, 2], "a": "x"})),
            Some(json!("a long group value, kept as shared text")),
        ];
        let events: Vec<Event> = (0..400)
            .map(|i| {
                let mut properties = json!({
                    "v": if i % 13 == 0 { "x".to_string() } else { (i % 11).to_string() },
                });
                // Unique count values: strings, a number and its text (one value), null and
                // missing (one value).
                match i % 29 {
                    0 => {}
                    1 => properties["u"] = json!(5),
                    2 => properties["u"] = json!("5"),
                    3 => properties["u"] = json!(null),
                    _ => properties["u"] = json!(format!("user{}", i % 23)),
                }
                let g = match group_values.get(i % 10).cloned().flatten() {
                    Some(value) if i % 3 == 0 => Some(value),
                    Some(_) => Some(json!(format!("k{}", i % 37))),
                    None => None,
                };
                if let Some(g) = g {
                    properties["g"] = g;
                }
                if i % 4 != 3 {
                    properties["h"] = json!(["a", "b", ""][i % 3]);
                }
                if i % 5 == 1 {
                    properties["operation_type"] = json!("remove");
                }
                // Out of time order, and some outside the window.
                event(i, 50 + ((i * 7919) % 1_100) as i64, properties)
            })
            .collect();
        let window = window(100, 1_000);
        for aggregation_type in KEPT_AGGREGATIONS {
            let field = if aggregation_type == AggregationType::UniqueCount {
                "u"
            } else {
                "v"
            };
            let metric = BillableMetric {
                aggregation_type,
                field_name: Some(field.into()),
                recurring: false,
                rounding: None,
                filters: Vec::new(),
            };
            for grouped_by in [vec!["g"], vec!["g", "h"], vec!["h", "g"]] {
                let mut params = AggregationParams::new(metric.clone(), window);
                params.with_per_event_values = false;
                params.grouped_by = grouped_by.iter().map(|k| k.to_string()).collect();
                let walked = aggregate(&events, &params).unwrap();
                assert!(walked.groups.as_ref().is_some_and(|g| g.len() > 20));
                let running = fed_in_two_halves(&params, &events);
                assert_eq!(running, Some(walked), "{aggregation_type:?} {grouped_by:?}");
            }
        }
    }

    /// Percentage with per-transaction min/max priced from the kept total and free prefix equals
    /// the price of the event walk's full values: free events, free units (the crossing event
    /// paying on its remainder), both, neither; values arriving out of time order, a negative
    /// one, and events added after the first query (the total grows with them).
    #[test]
    fn kept_per_transaction_prices_equal_the_event_walk() {
        use crate::charge_models::percentage::Percentage;
        use crate::charge_models::Context;
        let values = ["3", "12", "-2", "7.5", "0.4", "90", "1e3", "4", "5", "31"];
        let times = [100, 200, 200, 50, 300, 250, 260, 120, 150, 110];
        let events: Vec<Event> = (0..values.len())
            .map(|i| event(i, times[i], json!({"v": values[i]})))
            .collect();
        let window = window(0, 1_000);
        let metric = BillableMetric {
            aggregation_type: AggregationType::Sum,
            field_name: Some("v".into()),
            recurring: false,
            rounding: None,
            filters: Vec::new(),
        };
        let free = [
            (0, "0"),
            (3, "0"),
            (0, "10"),
            (2, "10"),
            (4, "1"),
            (20, "0"),
        ];
        let min_max = [
            (Some("0.5"), Some("3")),
            (Some("0.5"), None),
            (None, Some("3")),
        ];
        for (free_events, free_amount) in free {
            for (min, max) in min_max {
                let percentage = Percentage {
                    rate: Decimal::from(12),
                    fixed_amount: "0.2".parse().unwrap(),
                    free_units_per_events: free_events,
                    free_units_per_total_aggregation: free_amount.parse().unwrap(),
                    per_transaction_min_amount: min.map(|m| m.parse().unwrap()),
                    per_transaction_max_amount: max.map(|m| m.parse().unwrap()),
                };
                let mut params = AggregationParams::new(metric.clone(), window);
                params.free_units.per_events = free_events;
                params.free_units.per_total_aggregation =
                    percentage.free_units_per_total_aggregation;
                params.event_price = percentage.event_price();
                let walked = aggregate(&events, &params).unwrap();
                let running = fed_in_two_halves(&params, &events).unwrap();
                let case = format!("{free_events} {free_amount} {min:?} {max:?}");
                assert!(running.paid_events_price.is_some(), "{case}");
                assert!(running.per_event_values.is_empty(), "{case}");
                let ctx = Context::default();
                let expected = percentage.apply(&walked.to_charge_aggregation(), &ctx);
                let got = percentage.apply(&running.to_charge_aggregation(), &ctx);
                assert_eq!(got.unwrap(), expected.unwrap(), "{case}");
            }
        }
    }

    /// Buckets of one code built together by `results` (one walk; unique counts on one shared
    /// sort) equal the event walk: two charges on the metric, each with a filtered bucket, a
    /// grouped default bucket and an ungrouped one with per-event values, every aggregation;
    /// built from all the events, or from the first four and fed the others. A bucket whose
    /// build fails (a sum overflowing) is left out and reports the walk's error, the others
    /// unharmed.
    #[test]
    fn unique_counts_built_together_equal_the_event_walk() {
        // A value removed after it was added, the remove arriving first: none of it is left.
        // Two unique-count buckets and a count on the code, built together.
        let events = vec![
            event(0, 300, json!({"v": "u", "operation_type": "remove"})),
            event(1, 200, json!({"v": "u"})),
            event(2, 250, json!({"v": "w"})),
        ];
        let window = window(100, 1_000);
        let params: Vec<AggregationParams> = [AggregationType::UniqueCount, AggregationType::Count]
            .into_iter()
            .chain([AggregationType::UniqueCount])
            .map(|aggregation_type| {
                let metric = metric_on(aggregation_type, "v");
                let mut params = AggregationParams::new(metric, window);
                params.with_per_event_values = false;
                params
            })
            .collect();
        let charges: Vec<Charge> = (0..params.len())
            .map(|n| {
                let mut charge = test_charge();
                charge.lago_id = format!("c{n}");
                charge
            })
            .collect();
        let needs: Vec<Need<'_>> = charges
            .iter()
            .zip(&params)
            .map(|(c, p)| (c, 0, p))
            .collect();
        let cache = RunningCache::default();
        cache.results(
            &test_subscription(),
            &needs,
            Events::from(events.as_slice()),
            |_, _| {},
        );
        for &(charge, bucket, params) in &needs {
            let walked = aggregate(&events, params).unwrap();
            let running = cache
                .result(&test_subscription(), charge, bucket, params, &events)
                .unwrap();
            assert_eq!(running, Some(walked), "{}", charge.lago_id);
        }
        let unique = aggregate(&events, &params[0]).unwrap();
        assert_eq!(unique.aggregation, Decimal::ONE, "only w is left");
    }

    #[test]
    fn buckets_built_together_equal_the_event_walk() {
        let events: Vec<Event> = (0..300)
            .map(|i| {
                let mut properties = json!({
                    "v": if i % 13 == 0 { "x".to_string() } else { (i % 11).to_string() },
                    "cloud": (["aws", "gcp", "", "azure"][i % 4]),
                });
                if i % 7 == 0 {
                    properties.as_object_mut().unwrap().remove("cloud");
                }
                if i % 5 == 1 {
                    properties["operation_type"] = json!("remove");
                }
                event(i, 50 + ((i * 7919) % 1_100) as i64, properties)
            })
            .collect();
        let window = window(100, 1_000);
        let aggregations = KEPT_AGGREGATIONS;
        let mut buckets = Vec::new();
        for (n, aggregation_type) in aggregations.into_iter().enumerate() {
            let metric = metric_on(aggregation_type, "v");
            // Two charges of each aggregation, the second on another cloud.
            for (charge, cloud) in [("a", "aws"), ("b", "gcp")] {
                let mut filtered = AggregationParams::new(metric.clone(), window);
                filtered.with_per_event_values = false;
                std::sync::Arc::make_mut(&mut filtered.filter).matching =
                    FilterValues(vec![("cloud".into(), vec![cloud.into()])]);
                let mut grouped = AggregationParams::new(metric.clone(), window);
                grouped.with_per_event_values = false;
                grouped.grouped_by = vec!["cloud".into()];
                let mut per_event = AggregationParams::new(metric.clone(), window);
                per_event.with_per_event_values = true;
                per_event.free_units.per_events = 2;
                for (bucket, params) in [filtered, grouped, per_event].into_iter().enumerate() {
                    buckets.push((format!("{charge}{n}"), bucket, params));
                }
            }
        }
        let charges: Vec<Charge> = buckets
            .iter()
            .map(|(id, _, _)| {
                let mut charge = test_charge();
                charge.lago_id = id.clone();
                charge
            })
            .collect();
        let needs: Vec<Need<'_>> = buckets
            .iter()
            .zip(&charges)
            .map(|((_, bucket, params), charge)| (charge, *bucket, params))
            .collect();
        for split in [events.len(), 4] {
            let cache = RunningCache::default();
            let (first, rest) = events.split_at(split);
            cache.results(&test_subscription(), &needs, Events::from(first), |_, _| {});
            // Every kept bucket (per-event values are kept for sums only) is built.
            assert_eq!(cache.entries.borrow().len(), 22);
            for e in rest {
                cache.add(e).unwrap();
            }
            for &(charge, bucket, params) in &needs {
                let walked = aggregate(&events, params).unwrap();
                let running = cache
                    .result(&test_subscription(), charge, bucket, params, &events)
                    .unwrap();
                let kept = !params.with_per_event_values
                    || params.metric.aggregation_type == AggregationType::Sum;
                let case = format!("{} {bucket} {split}", charge.lago_id);
                assert_eq!(running, kept.then_some(walked), "{case}");
            }
        }
        // A sum that overflows, built with a count: the sum reports the walk's error.
        let huge = Decimal::MAX.to_string();
        let events: Vec<Event> = (0..3)
            .map(|i| event(i, 200, json!({"v": huge, "cloud": "aws"})))
            .collect();
        let metric = |aggregation_type| metric_on(aggregation_type, "v");
        let mut sum = AggregationParams::new(metric(AggregationType::Sum), window);
        sum.with_per_event_values = false;
        let mut count = AggregationParams::new(metric(AggregationType::Count), window);
        count.with_per_event_values = false;
        let charge = test_charge();
        let cache = RunningCache::default();
        let needs = [(&charge, 0, &sum), (&charge, 1, &count)];
        let walked = aggregate(&events, &sum).map(Some);
        assert!(walked.is_err());
        let counted = Some(aggregate(&events, &count).unwrap());
        let mut together = vec![None, None];
        cache.results(
            &test_subscription(),
            &needs,
            Events::from(events.as_slice()),
            |at, result| together[at] = Some(result),
        );
        assert_eq!(cache.entries.borrow().len(), 1);
        assert_eq!(together.pop().unwrap().unwrap().unwrap(), counted);
        let sum_result = together.pop().unwrap().unwrap();
        assert_eq!(format!("{sum_result:?}"), format!("{walked:?}"));
        // The next query builds it again, alone, and reports it again.
        let running = cache.result(&test_subscription(), &charge, 0, &sum, &events);
        assert_eq!(format!("{running:?}"), format!("{walked:?}"));
    }

    /// The running result of a bucket built from the first four events, then fed the others
    /// one by one (`None`: not kept incrementally).
    fn fed_in_two_halves(
        params: &AggregationParams,
        events: &[Event],
    ) -> Option<AggregationResult> {
        let cache = RunningCache::default();
        let subscription = test_subscription();
        let charge = test_charge();
        let (first, rest) = events.split_at(4);
        cache
            .result(&subscription, &charge, 0, params, first)
            .unwrap();
        for e in rest {
            cache.add(e).unwrap();
        }
        cache
            .result(&subscription, &charge, 0, params, events)
            .unwrap()
    }

    fn test_subscription() -> Subscription {
        crate::engine::model::Subscription::parse(
            json!({"external_id": "s", "external_customer_id": "c", "plan_code": "p"})
                .as_object()
                .unwrap(),
            "id".into(),
            DateTime::from_timestamp(0, 0).unwrap(),
        )
        .unwrap()
    }

    /// A metric of this aggregation on property `field`, without rounding or filters.
    fn metric_on(aggregation_type: AggregationType, field: &str) -> BillableMetric {
        BillableMetric {
            aggregation_type,
            field_name: Some(field.into()),
            recurring: false,
            rounding: None,
            filters: Vec::new(),
        }
    }

    /// The aggregations kept as running states.
    const KEPT_AGGREGATIONS: [AggregationType; 5] = [
        AggregationType::Count,
        AggregationType::Sum,
        AggregationType::Max,
        AggregationType::Latest,
        AggregationType::UniqueCount,
    ];

    /// A 30-day window from `from` to `to` seconds, in UTC.
    fn window(from: i64, to: i64) -> Window {
        Window {
            from: DateTime::from_timestamp(from, 0).unwrap(),
            to: DateTime::from_timestamp(to, 0).unwrap(),
            charges_duration_days: Some(30),
            timezone: crate::period::tz::Tz::UTC,
        }
    }

    fn test_charge() -> Charge {
        let metric = crate::engine::model::Metric::parse(
            json!({"code": "m", "aggregation_type": "sum_agg", "field_name": "v"})
                .as_object()
                .unwrap(),
            "mid".into(),
        )
        .unwrap();
        let lookup = |_: &str| Some(&metric);
        let units = |_: &str| None;
        let id = |kind: &str, i: usize| format!("{kind}{i}");
        let ctx = crate::engine::model::PlanContext {
            premium: true,
            metric: &lookup,
            pricing_unit: &units,
            id: &id,
        };
        let plan = crate::engine::model::Plan::parse(
            json!({"code": "p", "interval": "monthly", "amount_currency": "EUR",
                "charges": [{"billable_metric_code": "m", "charge_model": "standard", "properties": {"amount": "1"}}]})
            .as_object()
            .unwrap(),
            "pid".into(),
            &ctx,
        )
        .unwrap();
        plan.charges[0].clone()
    }
}
