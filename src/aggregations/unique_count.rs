//! `unique_count_agg`: distinct values of a property, with add/remove operations.
//!
//! ## Semantics
//! * The distinct key is the property's text (`1` and `"1"` are the same value); events without
//!   the property are not dropped: together they are one more value (SQL `NULL`).
//! * Each event's operation is `properties.operation_type` (text), `"add"` when absent or null.
//! * Per value, in timestamp order, an event contributes 0 when its operation equals the previous
//!   event's (the first event's "previous" is `"remove"`), else +1 for `"add"` and −1 for any
//!   other operation. A value counts the sum of its contributions: 1 while its last effective
//!   operation is an add; a leading remove is ignored, repeated adds count once.
//! * Non-recurring: the window; recurring: all history up to `to` (values added in earlier
//!   periods and never removed still count).
//! * `count` is the unique count itself. Pay-in-advance in current usage: the period's peak as
//!   for sum, from the cached rows.
//! * Running totals: `[1, …, n]`; per-event values: 1 per event of the window.
//!
//! ## Incremental
//! [`UniqueCountState::add`] per event in scope, O(log values), as long as each value's events
//! arrive in timestamp order (ties: ingestion order). An event older than the last one seen for
//! its value is refused (`false`): the caller re-aggregates that bucket from the slice.
//!
//! ## Lago reference
//! `app/services/billable_metrics/aggregations/unique_count_service.rb`,
//! `app/services/events/stores/postgres/unique_count_query.rb` (`operation_value_sql`).

use super::{
    cached_in_window, count_of, empty_group, group_values, in_advance_current_usage, one_to,
    partition, text, AggregationParams, AggregationResult, Breakdown, GroupResult, GroupValues,
    Row, Select, Store,
};
use crate::domain::event::PropertyLookup;
use crate::engine::fast_hash::FastBuild;
use crate::error::Result;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::HashMap;

/// The operation Lago assumes when `operation_type` is absent.
pub const ADD: &str = "add";

/// The operation that takes a value away (any operation other than `add` does).
pub const REMOVE: &str = "remove";

#[derive(Debug, Clone, PartialEq, Eq)]
struct ValueState {
    last: (DateTime<Utc>, u64),
    previous_operation: Operation,
}

/// A value's last operation: no text kept for the usual two.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Operation {
    Add,
    Remove,
    Other(Box<[u8]>),
}

impl Operation {
    fn of(operation: &[u8]) -> Operation {
        if operation == ADD.as_bytes() {
            Operation::Add
        } else if operation == REMOVE.as_bytes() {
            Operation::Remove
        } else {
            Operation::Other(operation.into())
        }
    }

    fn is(&self, operation: &[u8]) -> bool {
        match self {
            Operation::Add => operation == ADD.as_bytes(),
            Operation::Remove => operation == REMOVE.as_bytes(),
            Operation::Other(text) => **text == *operation,
        }
    }

    /// [`contribution`] of `operation` after this one.
    fn contribution(&self, operation: &[u8]) -> i64 {
        operation_value(self.is(operation), operation)
    }
}

/// Running state of a unique count: add the events in scope in timestamp order per value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UniqueCountState {
    /// By the value's text as bytes (compared, never printed), hashed: values are many.
    values: HashMap<Box<[u8]>, ValueState, FastBuild>,
    /// The events without the value (SQL `NULL`), together one more value.
    missing: Option<ValueState>,
    total: i64,
}

impl UniqueCountState {
    /// Adds one event: its property `value`'s text (`None` when missing or null), its
    /// `operation`'s text, and its position in time. Returns `false`, changing nothing, when the
    /// event is older than the last one added for the same value. Borrowed: a value's text is
    /// copied only the first time it is seen.
    pub fn add(
        &mut self,
        value: Option<&[u8]>,
        operation: &[u8],
        timestamp: DateTime<Utc>,
        sequence: u64,
    ) -> bool {
        let position = (timestamp, sequence);
        let seen = match value {
            Some(value) => self.values.get_mut(value),
            None => self.missing.as_mut(),
        };
        // A value seen before is updated in place (no new text when the operation repeats, as
        // it mostly does).
        if let Some(state) = seen {
            if position < state.last {
                return false;
            }
            self.total += state.previous_operation.contribution(operation);
            state.last = position;
            if !state.previous_operation.is(operation) {
                state.previous_operation = Operation::of(operation);
            }
            return true;
        }
        self.total += Operation::Remove.contribution(operation);
        let state = ValueState {
            last: position,
            previous_operation: Operation::of(operation),
        };
        match value {
            Some(value) => {
                self.values.insert(value.into(), state);
            }
            None => self.missing = Some(state),
        }
        true
    }

    /// [`UniqueCountState::add`] of an event by its properties: `field`'s text, and
    /// `COALESCE(properties->>'operation_type', 'add')`.
    pub fn add_event<P: PropertyLookup + ?Sized>(
        &mut self,
        properties: &P,
        field: &str,
        timestamp: DateTime<Utc>,
        sequence: u64,
    ) -> bool {
        let value = text::property_bytes(properties, field);
        let operation = text::property_bytes(properties, "operation_type");
        let operation = operation.as_deref().unwrap_or(ADD.as_bytes());
        self.add(value.as_deref(), operation, timestamp, sequence)
    }

    /// The unique count so far.
    pub fn units(&self) -> Decimal {
        Decimal::from(self.total)
    }
}

/// `operation_value_sql`: 0 when repeating the previous operation, else +1 (add) / −1 (other).
pub fn contribution(previous_operation: &str, operation: &str) -> i64 {
    operation_value(previous_operation == operation, operation.as_bytes())
}

/// [`contribution`], given whether `operation` repeats the previous one.
fn operation_value(repeated: bool, operation: &[u8]) -> i64 {
    if repeated {
        0
    } else if operation == ADD.as_bytes() {
        1
    } else {
        -1
    }
}

/// `COALESCE(properties->>'operation_type', 'add')`.
pub(crate) fn operation(row: &Row) -> String {
    row.text("operation_type")
        .unwrap_or_else(|| ADD.to_string())
}

fn fold(rows: &[Row], field: &str) -> Decimal {
    let mut state = UniqueCountState::default();
    for row in rows {
        let sequence = u64::try_from(row.seq).unwrap_or(u64::MAX);
        // Rows come in (timestamp, ingestion) order, so no add is refused.
        let added = state.add_event(&row.event.properties, field, row.event.timestamp, sequence);
        debug_assert!(added);
    }
    state.units()
}

fn scope<'p>(store: &Store<'p>, params: &AggregationParams) -> Select<'p> {
    store.window_or_history(false, params.metric.recurring)
}

/// The unique count of the bucket or group, without proration (shared with the prorated variant);
/// `window_events` is the number of the window's events of the bucket or group (per-event values).
pub(crate) fn base(
    store: &Store,
    params: &AggregationParams,
    rows: &[Row],
    group: &GroupValues,
    grouped: bool,
    window_events: usize,
) -> Result<AggregationResult> {
    let total = fold(rows, store.field());
    // Ungrouped results are ceiled to 5 places (a no-op on whole counts); groups are not.
    let total = if grouped {
        total
    } else {
        super::pg::ceil_dp(total, 5)
    };
    let mut result = AggregationResult {
        aggregation: total,
        ..AggregationResult::default()
    };
    if params.in_advance_current_usage() {
        in_advance_current_usage(&mut result, total, cached_in_window(params, group))?;
    }
    // Grouped: the group's raw count; ungrouped: the (possibly adjusted) aggregation.
    result.count = count_of(if grouped { total } else { result.aggregation });
    if params.free_units.wanted() {
        // Ungrouped: over the raw count; grouped: over the (possibly adjusted) aggregation.
        result.running_total = one_to(if grouped { result.aggregation } else { total })?;
    }
    if params.with_per_event_values {
        result.per_event_values = vec![Decimal::ONE; window_events];
    }
    Ok(result)
}

/// The ungrouped result of a unique count kept as a running state (no pay-in-advance, free
/// units or per-event values): what [`base`] gives for those.
pub(crate) fn running_result(total: Decimal, grouped: bool) -> AggregationResult {
    // Ungrouped results are ceiled to 5 places; groups are not.
    let aggregation = if grouped {
        total
    } else {
        super::pg::ceil_dp(total, 5)
    };
    AggregationResult {
        aggregation,
        count: count_of(aggregation),
        ..AggregationResult::default()
    }
}

/// The number of the window's events (any property, any operation) of the bucket.
pub(crate) fn window_events(store: &Store, params: &AggregationParams) -> Result<usize> {
    if !params.with_per_event_values {
        return Ok(0);
    }
    Ok(store.select(&store.window(false))?.len())
}

/// Ungrouped unique count.
pub(crate) fn aggregate(store: &Store, params: &AggregationParams) -> Result<AggregationResult> {
    let rows = store.select(&scope(store, params))?;
    let events = window_events(store, params)?;
    base(store, params, &rows, &Vec::new(), false, events)
}

/// One result per pricing group; one `null` group when there are no events.
pub(crate) fn aggregate_groups(
    store: &Store,
    params: &AggregationParams,
) -> Result<Vec<GroupResult>> {
    base_groups(store, params)
}

/// Grouped unique counts without proration, keyed by printed group.
pub(crate) fn base_groups(store: &Store, params: &AggregationParams) -> Result<Vec<GroupResult>> {
    let rows = store.select(&scope(store, params))?;
    let groups = partition(rows, &params.grouped_by);
    if groups.is_empty() {
        return Ok(vec![empty_group(&params.grouped_by)]);
    }
    let window = store.index(&store.window(false), &params.grouped_by)?;
    groups
        .into_iter()
        .map(|(raw, rows)| {
            let grouped_by = group_values(&params.grouped_by, &raw);
            let events = window.rows(&grouped_by).len();
            let result = base(store, params, &rows, &grouped_by, true, events)?;
            Ok(GroupResult { grouped_by, result })
        })
        .collect()
}

/// Unique count per combination of `keys`.
pub(crate) fn breakdowns(
    store: &Store,
    params: &AggregationParams,
    keys: &[String],
) -> Result<Vec<Breakdown>> {
    let rows = store.select(&scope(store, params))?;
    Ok(partition(rows, keys)
        .into_iter()
        .map(|(raw, rows)| Breakdown {
            groups: group_values(keys, &raw),
            value: fold(&rows, store.field()),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_remove_is_ignored_and_repeated_adds_count_once() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut state = UniqueCountState::default();
        let (add, remove) = (ADD.as_bytes(), REMOVE.as_bytes());
        let a = Some(&b"a"[..]);
        assert!(state.add(a, remove, at("2024-01-01T00:00:00Z"), 0));
        assert!(state.add(a, add, at("2024-01-02T00:00:00Z"), 1));
        assert!(state.add(a, add, at("2024-01-03T00:00:00Z"), 2));
        assert!(state.add(None, add, at("2024-01-03T00:00:00Z"), 3));
        assert_eq!(state.units(), Decimal::from(2));
        assert!(state.add(a, remove, at("2024-01-04T00:00:00Z"), 4));
        assert_eq!(state.units(), Decimal::ONE);
        assert!(!state.add(a, add, at("2024-01-01T12:00:00Z"), 5));
        assert_eq!(state.units(), Decimal::ONE);
        // Any other operation takes the value away, and repeats of it count once.
        assert!(state.add(None, b"delete", at("2024-01-05T00:00:00Z"), 6));
        assert!(state.add(None, b"delete", at("2024-01-06T00:00:00Z"), 7));
        assert_eq!(state.units(), Decimal::ZERO);
    }
}
