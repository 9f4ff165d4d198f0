//! `latest_agg`: the value of the most recent numeric event of the window.
//!
//! ## Semantics
//! * The event with the greatest timestamp wins; ties go to the last ingested (Lago orders by
//!   `timestamp DESC, created_at DESC`).
//! * A negative value gives 0; no event gives 0. `count` is the number of numeric events.
//! * Grouped: each group's own latest event. Presentation breakdowns: one row per pricing group
//!   (its latest event, with its presentation values and its raw value), or a single row for the
//!   whole bucket when there is no pricing group.
//!
//! ## Incremental
//! [`LatestState::add`] per numeric event of the window, in any order: keeps the greatest
//! `(timestamp, ingestion sequence)`.
//!
//! ## Lago reference
//! `app/services/billable_metrics/aggregations/latest_service.rb`, `PostgresStore#last`,
//! `#grouped_last`.

use super::{
    group_values, partition, AggregationParams, AggregationResult, Breakdown, GroupResult, Row,
    Store,
};
use crate::error::Result;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

/// Running state of a latest: add each numeric event of the window once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatestState {
    /// `(timestamp, ingestion sequence, value)` of the latest event so far.
    pub latest: Option<(DateTime<Utc>, u64, Decimal)>,
    /// Numeric events added.
    pub events_count: u64,
}

impl LatestState {
    /// Adds one numeric event; `sequence` orders events with the same timestamp (ingestion).
    pub fn add(&mut self, timestamp: DateTime<Utc>, sequence: u64, value: Decimal) {
        let newer = self
            .latest
            .is_none_or(|(ts, seq, _)| (timestamp, sequence) >= (ts, seq));
        if newer {
            self.latest = Some((timestamp, sequence, value));
        }
        self.events_count = self.events_count.saturating_add(1);
    }

    /// The raw value of the latest event (`None` without events).
    pub fn raw_value(&self) -> Option<Decimal> {
        self.latest.map(|(_, _, value)| value)
    }

    /// The units: the latest value, negative values and no event giving 0.
    pub fn units(&self) -> Decimal {
        self.raw_value().unwrap_or_default().max(Decimal::ZERO)
    }

    /// The aggregation result of this state.
    pub fn result(&self) -> AggregationResult {
        AggregationResult {
            aggregation: self.units(),
            count: self.events_count,
            ..AggregationResult::default()
        }
    }
}

fn fold(rows: &[Row]) -> LatestState {
    let mut state = LatestState::default();
    for row in rows {
        let sequence = u64::try_from(row.seq).unwrap_or(u64::MAX);
        state.add(row.event.timestamp, sequence, row.number());
    }
    state
}

/// Ungrouped latest.
pub(crate) fn aggregate(store: &Store, _params: &AggregationParams) -> Result<AggregationResult> {
    let rows = store.select(&store.window(true))?;
    Ok(fold(&rows).result())
}

/// One result per pricing group; one `null` group when there are no events.
pub(crate) fn aggregate_groups(
    store: &Store,
    params: &AggregationParams,
) -> Result<Vec<GroupResult>> {
    let rows = store.select(&store.window(true))?;
    super::per_group(rows, &params.grouped_by, |rows| Ok(fold(rows).result()))
}

/// One row per pricing group (or one for the bucket): the latest event's `keys` and raw value.
pub(crate) fn breakdowns(
    store: &Store,
    params: &AggregationParams,
    keys: &[String],
) -> Result<Vec<Breakdown>> {
    let rows = store.select(&store.window(true))?;
    let mut out = Vec::new();
    for (_, rows) in partition(rows, &params.grouped_by) {
        // Rows are in (timestamp, ingestion) order: the last one is the latest.
        if let Some(row) = rows.last() {
            out.push(Breakdown {
                groups: group_values(keys, &row.key(keys)),
                value: row.number(),
            });
        }
    }
    Ok(out)
}
