//! `max_agg`: the largest numeric value of the window.
//!
//! ## Semantics
//! * Only numeric events count (value and `count`); no event → 0. Recurring has no effect.
//! * Per-event values: the first event holding the maximum keeps its value, every other event 0.
//!
//! ## Incremental
//! [`MaxState::add`] per numeric event of the window: O(1), order-free.
//!
//! ## Lago reference
//! `app/services/billable_metrics/aggregations/max_service.rb`, `PostgresStore#max`,
//! `#grouped_max`.

use super::{
    group_values, partition, AggregationParams, AggregationResult, Breakdown, GroupResult, Row,
    Store,
};
use crate::error::Result;
use rust_decimal::Decimal;

/// Running state of a max: add each numeric event of the window once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MaxState {
    /// Largest value so far (`None` before the first event).
    pub max: Option<Decimal>,
    /// Numeric events added.
    pub events_count: u64,
}

impl MaxState {
    /// Adds one numeric value.
    pub fn add(&mut self, value: Decimal) {
        self.max = Some(self.max.map_or(value, |max| max.max(value)));
        self.events_count = self.events_count.saturating_add(1);
    }

    /// The units: the maximum, 0 without events.
    pub fn units(&self) -> Decimal {
        self.max.unwrap_or_default()
    }

    /// The aggregation result of this state (no per-event values).
    pub fn result(&self) -> AggregationResult {
        AggregationResult {
            aggregation: self.units(),
            count: self.events_count,
            ..AggregationResult::default()
        }
    }
}

fn fold(rows: &[Row], params: &AggregationParams) -> AggregationResult {
    let mut state = MaxState::default();
    for row in rows {
        state.add(row.number());
    }
    let mut result = state.result();
    if params.with_per_event_values {
        result.per_event_values = per_event_values(rows, state.units());
    }
    result
}

/// The first event at the maximum keeps its value; the others are 0.
fn per_event_values(rows: &[Row], max: Decimal) -> Vec<Decimal> {
    let mut seen = false;
    rows.iter()
        .map(|row| {
            let value = row.number();
            if !seen && value == max {
                seen = true;
                value
            } else {
                Decimal::ZERO
            }
        })
        .collect()
}

/// Ungrouped max.
pub(crate) fn aggregate(store: &Store, params: &AggregationParams) -> Result<AggregationResult> {
    let rows = store.select(&store.window(true))?;
    Ok(fold(&rows, params))
}

/// One result per pricing group; one `null` group when there are no events.
pub(crate) fn aggregate_groups(
    store: &Store,
    params: &AggregationParams,
) -> Result<Vec<GroupResult>> {
    let rows = store.select(&store.window(true))?;
    super::per_group(rows, &params.grouped_by, |rows| Ok(fold(rows, params)))
}

/// Max per combination of `keys`.
pub(crate) fn breakdowns(store: &Store, keys: &[String]) -> Result<Vec<Breakdown>> {
    let rows = store.select(&store.window(true))?;
    Ok(partition(rows, keys)
        .into_iter()
        .map(|(raw, rows)| {
            let mut state = MaxState::default();
            rows.iter().for_each(|row| state.add(row.number()));
            Breakdown {
                groups: group_values(keys, &raw),
                value: state.units(),
            }
        })
        .collect())
}
