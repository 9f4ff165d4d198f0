//! Billable-metric aggregations: events of a window → the units a charge model prices.
//!
//! Lago reference: `app/services/billable_metrics/aggregations/*`,
//! `app/services/billable_metrics/prorated_aggregations/*`, and the Postgres event store
//! (`app/services/events/stores/postgres_store.rb`, `postgres/unique_count_query.rb`,
//! `postgres/weighted_sum_query.rb`) that does the actual work in SQL.
//!
//! ## Entry points
//!
//! * [`aggregate`]`(events, &params)` — pure, over a slice: the result of one bucket (charge
//!   filter or default) of one charge, optionally split by pricing group keys.
//! * [`aggregate_json`] — the same on a JSON request (a fixture case's `input`).
//! * Incremental states, for running aggregates that do not grow with the event count:
//!   [`count::CountState`], [`sum::SumState`], [`max::MaxState`], [`latest::LatestState`],
//!   [`unique_count::UniqueCountState`]. Running totals, per-event values, weighted sums and the
//!   prorated aggregations depend on the order of the whole window and are computed by
//!   [`aggregate`] only.
//! * [`filters::matching_and_ignored`] — a charge filter's bucket.
//!
//! ## Conventions (one per concept, matching the Postgres store)
//!
//! * The window is `[from, to]`, both ends inclusive; `from` is floored to the millisecond first.
//!   Recurring sum and unique count have no lower bound.
//! * Events are ordered by timestamp, ties by their position in the slice (ingestion order,
//!   Lago's `created_at`).
//! * A property is read as text, like `properties->>'key'` ([`text`]); sum, max, latest and
//!   weighted sum keep only events whose text passes `^-?\d+(\.\d+)?$` — the others count
//!   nowhere, not even in `count`.
//! * Groups are keyed by the raw text of each key (`None` for a missing key); an empty string and
//!   a missing key are different groups that both print as `null`.
//! * The caller passes the events of one subscription (by `external_subscription_id`) and one
//!   metric code; nothing here filters on them.

pub mod count;
pub mod filters;
pub mod in_advance;
pub(crate) mod json;
pub mod latest;
pub mod max;
pub mod pg;
pub mod prorated_sum;
pub mod prorated_unique_count;
pub mod rounding;
pub mod sum;
pub mod text;
pub mod unique_count;
pub mod weighted_sum;

pub use filters::{ChargeFilter, EventFilter, FilterValues, MetricFilter};
pub use in_advance::InAdvance;
pub use json::aggregate_json;
pub use rounding::{Rounding, RoundingFunction};

use crate::charge_models::percentage::EventPrice;
use crate::charge_models::prorated_graduated::ProratedEvent;
use crate::charge_models::Aggregation;
use crate::domain::event::{Event, PropertyValue};
use crate::domain::event_log::Events;
use crate::error::{Error, Result};
use crate::period::tz::Tz;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Events in one aggregation call: bounds the work of a request (Lago pages through millions).
pub const EVENTS_MAX: usize = 10_000_000;

/// Pricing group keys plus presentation keys: far above Lago's real use (a handful).
pub const GROUP_KEYS_MAX: usize = 32;

/// The aggregation types Lago supports (custom_agg needs Lago's Ruby sandbox and is not here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregationType {
    /// `count_agg`: number of events.
    Count,
    /// `sum_agg`: Σ of a numeric property.
    Sum,
    /// `max_agg`: largest numeric value.
    Max,
    /// `unique_count_agg`: distinct values, with add/remove operations.
    UniqueCount,
    /// `latest_agg`: the most recent numeric value (negative → 0).
    Latest,
    /// `weighted_sum_agg`: time-weighted level over the period.
    WeightedSum,
}

impl AggregationType {
    /// Lago's name (`count_agg`, …).
    pub fn parse(name: &str) -> Option<AggregationType> {
        match name {
            "count_agg" => Some(AggregationType::Count),
            "sum_agg" => Some(AggregationType::Sum),
            "max_agg" => Some(AggregationType::Max),
            "unique_count_agg" => Some(AggregationType::UniqueCount),
            "latest_agg" => Some(AggregationType::Latest),
            "weighted_sum_agg" => Some(AggregationType::WeightedSum),
            _ => None,
        }
    }

    /// True when the aggregation reads `field_name` (all but count).
    pub fn needs_field(self) -> bool {
        self != AggregationType::Count
    }
}

/// What Lago's `BillableMetric` contributes to an aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct BillableMetric {
    /// How events are aggregated.
    pub aggregation_type: AggregationType,
    /// The property aggregated (unused by count).
    pub field_name: Option<String>,
    /// Carried across periods (sum, unique count: no lower bound; weighted sum: initial level).
    pub recurring: bool,
    /// Applied to the units before pricing.
    pub rounding: Option<Rounding>,
    /// Declared filters (what `__ALL_FILTER_VALUES__` expands to).
    pub filters: Vec<MetricFilter>,
}

/// The aggregation window and the period it belongs to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// First instant (inclusive).
    pub from: DateTime<Utc>,
    /// Last instant (inclusive), usually local 23:59:59.999999.
    pub to: DateTime<Utc>,
    /// Days of the full billing period (`charges_duration`): weighted sum and proration divide by
    /// it. When absent, the number of days the window touches.
    pub charges_duration_days: Option<u32>,
    /// The customer's time zone (proration counts local days).
    pub timezone: Tz,
}

impl Window {
    /// The period length in days used for weighted sums and proration.
    pub fn duration_days(&self) -> i64 {
        match self.charges_duration_days {
            Some(days) => i64::from(days),
            None => pg::date_diff_with_timezone(self.from, self.to, self.timezone),
        }
    }
}

/// How the charge is billed, as far as aggregation cares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChargeSettings {
    /// `prorated: true` (recurring sum / unique count only).
    pub prorated: bool,
    /// `pay_in_advance: true`.
    pub pay_in_advance: bool,
    /// The `dynamic` charge model (sums `precise_total_amount_cents`).
    pub dynamic: bool,
}

/// Where the aggregation is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UsageContext {
    /// Invoicing (Lago's default).
    #[default]
    Billing,
    /// The current-usage endpoints (`is_current_usage`).
    CurrentUsage,
}

/// The percentage model's free units, which ask the aggregator for running totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FreeUnits {
    /// `free_units_per_events` (N).
    pub per_events: u64,
    /// `free_units_per_total_aggregation` (A).
    pub per_total_aggregation: Decimal,
}

impl FreeUnits {
    /// Running totals are built only when N or A is set.
    pub fn wanted(&self) -> bool {
        self.per_events > 0 || !self.per_total_aggregation.is_zero()
    }
}

/// Group key → value (`None` prints as `null`), in the key order of `grouped_by`.
pub type GroupValues = Vec<(String, Option<String>)>;

/// A `CachedAggregation` row Lago keeps per charge (pay-in-advance state and the end-of-period
/// level of recurring weighted sums).
#[derive(Debug, Clone, PartialEq)]
pub struct CachedAggregation {
    /// When the state was recorded.
    pub timestamp: DateTime<Utc>,
    /// The pricing group it belongs to (empty when the charge is not grouped).
    pub grouped_by: GroupValues,
    /// Running total after the event.
    pub current_aggregation: Decimal,
    /// Peak of the running total in the period.
    pub max_aggregation: Option<Decimal>,
    /// Peak with proration applied (prorated pay-in-advance).
    pub max_aggregation_with_proration: Option<Decimal>,
    /// Presentation breakdowns stored with the level (recurring weighted sum).
    pub presentation_breakdowns: Vec<Breakdown>,
    /// The event whose pay-in-advance fee wrote the row.
    pub event_transaction_id: Option<String>,
}

/// Everything one aggregation needs besides the events.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregationParams {
    /// The billable metric.
    pub metric: Arc<BillableMetric>,
    /// The window.
    pub window: Window,
    /// The bucket (charge filter or default) the events must belong to.
    pub filter: Arc<EventFilter>,
    /// Pricing group keys (`pricing_group_keys` / `grouped_by`): one result per distinct tuple.
    pub grouped_by: Vec<String>,
    /// Restrict to one group (`grouped_by_values`, pay-in-advance and `group[k]=v` filters).
    pub grouped_by_values: Option<GroupValues>,
    /// `presentation_group_keys`: informational breakdowns only.
    pub presentation_by: Vec<String>,
    /// How the charge is billed.
    pub charge: ChargeSettings,
    /// Invoicing or current usage.
    pub context: UsageContext,
    /// Percentage free units (running totals).
    pub free_units: FreeUnits,
    /// Cached aggregation rows of this charge/bucket (pay-in-advance, recurring weighted sum).
    pub cached_aggregations: Vec<CachedAggregation>,
    /// The subscription replaced a previous one with the same external id (upgrade/downgrade).
    pub has_previous_subscription: bool,
    /// Compute per-event values (percentage min/max, prorated graduated).
    pub with_per_event_values: bool,
    /// Percentage per-transaction min/max: what each event costs, so that running aggregates
    /// can keep the total instead of handing over every value.
    pub event_price: Option<EventPrice>,
    /// The event whose pay-in-advance fee is being computed (Lago's `filters[:event]`): adds
    /// [`AggregationResult::pay_in_advance`] and turns rounding off.
    pub pay_in_advance_event: Option<PayInAdvanceEvent>,
}

/// The event that triggers a pay-in-advance fee.
#[derive(Debug, Clone, PartialEq)]
pub struct PayInAdvanceEvent {
    /// The event.
    pub event: Event,
    /// Stored with the others (Lago's billing flow; it is then aggregated with them, added to the
    /// slice when missing), or not (`false`: Lago's fee estimate, where only sum running totals
    /// take its value in).
    pub persisted: bool,
}

impl AggregationParams {
    /// Parameters for `metric` over `window`: default bucket, no grouping, in-arrears invoicing.
    pub fn new(metric: impl Into<Arc<BillableMetric>>, window: Window) -> Self {
        AggregationParams {
            metric: metric.into(),
            window,
            filter: Arc::default(),
            grouped_by: Vec::new(),
            grouped_by_values: None,
            presentation_by: Vec::new(),
            charge: ChargeSettings::default(),
            context: UsageContext::Billing,
            free_units: FreeUnits::default(),
            cached_aggregations: Vec::new(),
            has_previous_subscription: false,
            with_per_event_values: true,
            event_price: None,
            pay_in_advance_event: None,
        }
    }

    fn is_current_usage(&self) -> bool {
        self.context == UsageContext::CurrentUsage
    }

    /// Pay-in-advance charges billed on the billing date (no triggering event, not current
    /// usage) bill the full, unprorated units.
    fn bills_full_amount(&self) -> bool {
        self.charge.pay_in_advance
            && self.context == UsageContext::Billing
            && self.pay_in_advance_event.is_none()
    }

    fn in_advance_current_usage(&self) -> bool {
        self.charge.pay_in_advance && self.is_current_usage()
    }
}

/// A presentation breakdown row: `{groups: {key: value}, value}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Breakdown {
    /// Pricing and presentation key values.
    pub groups: GroupValues,
    /// The aggregated value of that combination.
    pub value: Decimal,
}

/// The result of one aggregation (Lago's `BillableMetrics::Aggregations::BaseService::Result`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AggregationResult {
    /// Units given to the charge model (prorated units for prorated charges). With groups, the
    /// Σ of the groups' aggregations.
    pub aggregation: Decimal,
    /// Events count (`events_count` of the fee): events aggregated, or the unique count. With
    /// groups, the Σ of the groups' counts.
    pub count: u64,
    /// Units shown in current usage when they differ (pay-in-advance, prorated; count sets it).
    pub current_usage_units: Option<Decimal>,
    /// Units before proration (prorated charges).
    pub full_units_number: Option<Decimal>,
    /// Weighted sum: the level at the end of the period.
    pub total_aggregated_units: Option<Decimal>,
    /// Weighted sum: Σ of the window's event values.
    pub variation: Option<Decimal>,
    /// Recurring weighted sum: the instant its end-of-period level is cached under.
    pub recurring_updated_at: Option<DateTime<Utc>>,
    /// Dynamic charges: Σ of the events' `precise_total_amount_cents`.
    pub precise_total_amount_cents: Option<Decimal>,
    /// Percentage free units: cumulative values (empty unless asked for).
    pub running_total: Vec<Decimal>,
    /// Each event's value in timestamp order (Lago's `per_event_aggregation`); empty when
    /// `paid_events_price` is set.
    pub per_event_values: Vec<Decimal>,
    /// Percentage min/max per transaction: what the events after the free prefix pay
    /// ([`AggregationParams::event_price`]), when the running aggregates kept it.
    pub paid_events_price: Option<Decimal>,
    /// Prorated charges: each event's prorated value, parallel to `per_event_values`.
    pub per_event_prorated_values: Option<Vec<Decimal>>,
    /// Presentation breakdowns (empty without `presentation_by`).
    pub breakdowns: Vec<Breakdown>,
    /// One result per pricing group, when `grouped_by` is set.
    pub groups: Option<Vec<GroupResult>>,
    /// The pay-in-advance aggregation of [`AggregationParams::pay_in_advance_event`].
    pub pay_in_advance: Option<InAdvance>,
}

/// The result of one pricing group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupResult {
    /// Key → value of the group (`None` = `null`).
    pub grouped_by: GroupValues,
    /// Its aggregation (never has groups itself).
    pub result: AggregationResult,
}

impl AggregationResult {
    /// The charge-model input of this result (of one group when grouped).
    pub fn to_charge_aggregation(&self) -> Aggregation {
        Aggregation::from(self)
    }

    fn empty() -> Self {
        AggregationResult {
            current_usage_units: Some(Decimal::ZERO),
            ..AggregationResult::default()
        }
    }
}

impl From<&AggregationResult> for Aggregation {
    fn from(result: &AggregationResult) -> Aggregation {
        let prorated_events = result.per_event_prorated_values.as_ref().map(|prorated| {
            result
                .per_event_values
                .iter()
                .zip(prorated)
                .map(|(full, prorated)| ProratedEvent {
                    full: *full,
                    prorated: *prorated,
                })
                .collect()
        });
        Aggregation {
            units: result.aggregation,
            full_units_number: result.full_units_number,
            current_usage_units: result.current_usage_units,
            total_aggregated_units: result.total_aggregated_units,
            events_count: result.count,
            running_total: result.running_total.clone(),
            per_event_values: result.per_event_values.clone(),
            paid_events_price: result.paid_events_price,
            prorated_events,
            precise_total_amount_cents: result.precise_total_amount_cents.unwrap_or_default(),
            custom_amount: None,
        }
    }
}

/// Aggregates `events` for one bucket of one charge.
///
/// Events may come in any order; ties on the timestamp keep the slice order (ingestion order).
pub fn aggregate(events: &[Event], params: &AggregationParams) -> Result<AggregationResult> {
    aggregate_events(Events::from(events), params)
}

/// [`aggregate`] over stored events (a log's segments).
pub fn aggregate_events(events: Events, params: &AggregationParams) -> Result<AggregationResult> {
    validate(events, params)?;
    let store = Store::new(events, params);
    let in_advance = match &params.pay_in_advance_event {
        Some(trigger) => in_advance::compute(&store, params, &trigger.event)?,
        None => None,
    };
    let mut result = if params.grouped_by.is_empty() {
        aggregate_one(&store, params)?
    } else {
        let mut groups = aggregate_groups(&store, params)?;
        crate::sort::sort_by(&mut groups, |a, b| a.grouped_by.cmp(&b.grouped_by));
        AggregationResult {
            groups: Some(groups),
            breakdowns: breakdowns(&store, params)?,
            ..AggregationResult::default()
        }
    };
    let rounding = params
        .metric
        .rounding
        .filter(|_| params.pay_in_advance_event.is_none());
    if let Some(rounding) = rounding {
        match result.groups.as_mut() {
            Some(groups) => {
                for group in groups.iter_mut() {
                    apply_rounding(&mut group.result, rounding)?;
                }
            }
            None => apply_rounding(&mut result, rounding)?,
        }
    }
    if let Some(groups) = &result.groups {
        if groups.len() > crate::limits::GROUPS_MAX {
            return Err(Error::invalid("grouped_by", "too_many_groups"));
        }
        result.aggregation = crate::money::sum(groups.iter().map(|g| g.result.aggregation))?;
        result.count = groups.iter().map(|g| g.result.count).sum();
    }
    if let Some(in_advance) = in_advance {
        if params.charge.prorated && result.groups.is_none() {
            result.full_units_number = in_advance.full_units;
        }
        result.pay_in_advance = Some(in_advance);
    }
    Ok(result)
}

fn aggregate_one(store: &Store, params: &AggregationParams) -> Result<AggregationResult> {
    use AggregationType::*;
    let mut result = match (params.metric.aggregation_type, params.charge.prorated) {
        (Count, _) => count::aggregate(store, params)?,
        (Sum, false) => sum::aggregate(store, params)?,
        (Sum, true) => prorated_sum::aggregate(store, params)?,
        (Max, _) => max::aggregate(store, params)?,
        (UniqueCount, false) => unique_count::aggregate(store, params)?,
        (UniqueCount, true) => prorated_unique_count::aggregate(store, params)?,
        (Latest, _) => latest::aggregate(store, params)?,
        (WeightedSum, _) => weighted_sum::aggregate(store, params)?,
    };
    if !params.presentation_by.is_empty() && result.breakdowns.is_empty() {
        result.breakdowns = breakdowns(store, params)?;
    }
    Ok(result)
}

fn aggregate_groups(store: &Store, params: &AggregationParams) -> Result<Vec<GroupResult>> {
    use AggregationType::*;
    match (params.metric.aggregation_type, params.charge.prorated) {
        (Count, _) => count::aggregate_groups(store, params),
        (Sum, false) => sum::aggregate_groups(store, params),
        (Sum, true) => prorated_sum::aggregate_groups(store, params),
        (Max, _) => max::aggregate_groups(store, params),
        (UniqueCount, false) => unique_count::aggregate_groups(store, params),
        (UniqueCount, true) => prorated_unique_count::aggregate_groups(store, params),
        (Latest, _) => latest::aggregate_groups(store, params),
        (WeightedSum, _) => weighted_sum::aggregate_groups(store, params),
    }
}

/// Presentation breakdowns: the aggregation per `grouped_by + presentation_by` combination.
fn breakdowns(store: &Store, params: &AggregationParams) -> Result<Vec<Breakdown>> {
    if params.presentation_by.is_empty() {
        return Ok(Vec::new());
    }
    use AggregationType::*;
    let keys = uniq_keys(&params.grouped_by, &params.presentation_by);
    match params.metric.aggregation_type {
        Count => count::breakdowns(store, &keys),
        Sum if params.charge.prorated => sum::breakdowns(store, &keys, false),
        Sum => sum::breakdowns(store, &keys, params.metric.recurring),
        Max => max::breakdowns(store, &keys),
        UniqueCount => unique_count::breakdowns(store, params, &keys),
        Latest => latest::breakdowns(store, params, &keys),
        WeightedSum => weighted_sum::breakdowns(store, params, &keys),
    }
}

/// `(grouped_by + presentation_by).uniq`.
fn uniq_keys(grouped_by: &[String], presentation_by: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for key in grouped_by.iter().chain(presentation_by) {
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    keys
}

/// `ApplyRoundingService` on the aggregation, the full units and the current-usage units.
pub(crate) fn apply_rounding(result: &mut AggregationResult, rounding: Rounding) -> Result<()> {
    result.aggregation = rounding.apply(result.aggregation)?;
    if let Some(units) = result.full_units_number {
        result.full_units_number = Some(rounding.apply(units)?);
    }
    if let Some(units) = result.current_usage_units {
        result.current_usage_units = Some(rounding.apply(units)?);
    }
    Ok(())
}

fn validate(events: Events, params: &AggregationParams) -> Result<()> {
    if events.len() > EVENTS_MAX {
        return Err(Error::invalid("events", "too_many_events"));
    }
    if params.window.to < params.window.from {
        return Err(Error::invalid("window.to", "value_is_invalid"));
    }
    let metric = &params.metric;
    if metric.aggregation_type.needs_field()
        && metric.field_name.as_deref().is_none_or(str::is_empty)
    {
        return Err(Error::invalid("field_name", "value_is_mandatory"));
    }
    if params.grouped_by.len() + params.presentation_by.len() > GROUP_KEYS_MAX {
        return Err(Error::invalid("grouped_by", "too_many_keys"));
    }
    if params.filter.ignored.len() > crate::limits::FILTERS_MAX {
        return Err(Error::invalid("ignored_filters", "too_many_filters"));
    }
    let needs_duration =
        params.charge.prorated || metric.aggregation_type == AggregationType::WeightedSum;
    if needs_duration && params.window.duration_days() < 1 {
        return Err(Error::invalid("charges_duration_days", "value_is_invalid"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The event store: selection of events, as Lago's PostgresStore#events builds its scope.
// ---------------------------------------------------------------------------------------------

/// A group key as Postgres groups it: the raw text of each key (`None` = SQL `NULL`).
pub(crate) type RawKey = Vec<Option<String>>;

/// One selected event.
#[derive(Debug, Clone)]
pub(crate) struct Row<'a> {
    pub event: &'a Event,
    /// Position in the caller's slice (ingestion order).
    pub seq: usize,
    /// The metric field's value when the selection is numeric.
    pub value: Option<Decimal>,
}

impl Row<'_> {
    /// The numeric value (0 for non-numeric selections, which never read it).
    pub fn number(&self) -> Decimal {
        self.value.unwrap_or_default()
    }

    /// The raw group key of this event for `keys`.
    pub fn key(&self, keys: &[String]) -> RawKey {
        keys.iter()
            .map(|k| text::property_text(&self.event.properties, k))
            .collect()
    }

    /// `properties->>field`.
    pub fn text(&self, field: &str) -> Option<String> {
        text::property_text(&self.event.properties, field)
    }
}

/// Which events a query reads.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Select<'p> {
    /// Inclusive lower bound (`None`: all history).
    pub lower: Option<DateTime<Utc>>,
    /// Inclusive upper bound.
    pub upper: DateTime<Utc>,
    /// Keep only events whose field passes the numeric check.
    pub numeric: bool,
    /// Restrict to one group (overrides the request's `grouped_by_values`).
    pub restrict: Option<&'p GroupValues>,
}

/// The events of one request, sorted once, with the request's bucket and bounds.
pub(crate) struct Store<'a> {
    sorted: Vec<(usize, &'a Event)>,
    params: &'a AggregationParams,
    /// Lower bound of the window (`from` floored to milliseconds).
    pub from: DateTime<Utc>,
    /// Upper bound of the window.
    pub to: DateTime<Utc>,
}

impl<'a> Store<'a> {
    fn new(events: Events<'a>, params: &'a AggregationParams) -> Self {
        let mut sorted: Vec<(usize, &Event)> = events.iter().enumerate().collect();
        if let Some(trigger) = params.pay_in_advance_event.as_ref().filter(|t| t.persisted) {
            let stored = events.iter().any(|e| same_event(e, &trigger.event));
            if !stored {
                sorted.push((events.len(), &trigger.event));
            }
        }
        // By time, then index: the indexes grow with the position.
        crate::sort::sort_by_time(&mut sorted, |(_, event)| event.timestamp);
        Store {
            sorted,
            params,
            from: pg::floor_ms(params.window.from),
            to: params.window.to,
        }
    }

    /// The metric's field name ("" for count, which never reads it).
    pub fn field(&self) -> &'a str {
        self.params.metric.field_name.as_deref().unwrap_or("")
    }

    /// The window `[from, to]`.
    pub fn window(&self, numeric: bool) -> Select<'a> {
        Select {
            lower: Some(self.from),
            upper: self.to,
            numeric,
            restrict: None,
        }
    }

    /// The window, or all history up to `to` for recurring sum / unique count.
    pub fn window_or_history(&self, numeric: bool, recurring: bool) -> Select<'a> {
        Select {
            lower: if recurring { None } else { Some(self.from) },
            ..self.window(numeric)
        }
    }

    /// Selected events, in timestamp order.
    pub fn select(&self, select: &Select) -> Result<Vec<Row<'a>>> {
        let restrict = select.restrict.or(self.params.grouped_by_values.as_ref());
        let mut rows = Vec::new();
        for &(seq, event) in &self.sorted {
            if event.timestamp > select.upper {
                break;
            }
            if select.lower.is_some_and(|lower| event.timestamp < lower) {
                continue;
            }
            if !self.params.filter.matches(&event.properties) {
                continue;
            }
            if restrict.is_some_and(|values| !in_group(event, values)) {
                continue;
            }
            let value = if select.numeric {
                match text::numeric_value(&event.properties, self.field())? {
                    Some(value) => Some(value),
                    None => continue,
                }
            } else {
                None
            };
            rows.push(Row { event, seq, value });
        }
        Ok(rows)
    }
}

/// The same stored event: by transaction id when it has one, else by time and properties.
fn same_event(a: &Event, b: &Event) -> bool {
    if b.transaction_id.is_empty() {
        a.timestamp == b.timestamp && a.properties == b.properties
    } else {
        a.transaction_id == b.transaction_id
    }
}

/// `apply_grouped_by_values`: a present value must be the property's JSON string
/// (`properties @> {"k": "v"}`); an absent or empty one matches a missing, null or empty property.
fn in_group(event: &Event, values: &GroupValues) -> bool {
    values.iter().all(|(key, value)| match value.as_deref() {
        Some(value) if !value.is_empty() => {
            matches!(event.properties.get(key), Some(PropertyValue::String(s)) if &**s == value)
        }
        _ => text::property_text(&event.properties, key)
            .unwrap_or_default()
            .is_empty(),
    })
}

/// No group restriction: overrides the request's `grouped_by_values`.
pub(crate) static ANY_GROUP: GroupValues = Vec::new();

/// Rows indexed by the group whose `grouped_by_values` selects them, so that per-group reads
/// (running totals, per-event values) cost one pass in all rather than one pass per group.
pub(crate) struct GroupIndex<'a> {
    rows: BTreeMap<RawKey, Vec<Row<'a>>>,
}

impl<'a> GroupIndex<'a> {
    /// The rows `grouped_by_values = group` selects, in timestamp order.
    pub fn rows(&self, group: &GroupValues) -> &[Row<'a>] {
        let key: RawKey = group
            .iter()
            .map(|(_, v)| v.clone().filter(|s| !s.is_empty()))
            .collect();
        self.rows.get(&key).map_or(&[], Vec::as_slice)
    }
}

impl<'a> Store<'a> {
    /// `select` without the request's group restriction, indexed by the group of `keys` each
    /// row belongs to under [`in_group`]'s rule (a row of no group, e.g. a number where a string
    /// is required, is left out).
    pub fn index(&self, select: &Select, keys: &[String]) -> Result<GroupIndex<'a>> {
        let select = Select {
            restrict: Some(&ANY_GROUP),
            ..*select
        };
        let mut rows: BTreeMap<RawKey, Vec<Row<'a>>> = BTreeMap::new();
        for row in self.select(&select)? {
            if let Some(key) = containment_key(row.event, keys) {
                rows.entry(key).or_default().push(row);
            }
        }
        Ok(GroupIndex { rows })
    }
}

/// The group values whose `in_group` test this event passes: a non-empty JSON string keeps its
/// value, an empty, null or missing property is `None`, anything else matches no group.
fn containment_key(event: &Event, keys: &[String]) -> Option<RawKey> {
    keys.iter()
        .map(|key| match event.properties.get(key) {
            Some(PropertyValue::String(s)) if !s.is_empty() => Some(Some(s.to_string())),
            _ => {
                let text = text::property_text(&event.properties, key).unwrap_or_default();
                text.is_empty().then_some(None)
            }
        })
        .collect()
}

/// Splits rows by raw group key, each group in timestamp order.
pub(crate) fn partition<'a>(rows: Vec<Row<'a>>, keys: &[String]) -> BTreeMap<RawKey, Vec<Row<'a>>> {
    let mut groups: BTreeMap<RawKey, Vec<Row<'a>>> = BTreeMap::new();
    for row in rows {
        groups.entry(row.key(keys)).or_default().push(row);
    }
    groups
}

/// `build_groups`: raw values to the printed group (empty strings become `null`).
pub(crate) fn group_values(keys: &[String], raw: &RawKey) -> GroupValues {
    keys.iter()
        .cloned()
        .zip(raw.iter().map(|v| v.clone().filter(|s| !s.is_empty())))
        .collect()
}

/// Lago's `empty_results`: one group with every key `null` and nothing in it.
/// One result per pricing group of `rows` (folded by `fold`), or one all-`null` group when there
/// are no rows, as Lago's grouped aggregations answer.
pub(crate) fn per_group<'a>(
    rows: Vec<Row<'a>>,
    keys: &[String],
    fold: impl Fn(&[Row<'a>]) -> Result<AggregationResult>,
) -> Result<Vec<GroupResult>> {
    let groups = partition(rows, keys);
    if groups.is_empty() {
        return Ok(vec![empty_group(keys)]);
    }
    groups
        .into_iter()
        .map(|(raw, rows)| {
            Ok(GroupResult {
                grouped_by: group_values(keys, &raw),
                result: fold(&rows)?,
            })
        })
        .collect()
}

pub(crate) fn empty_group(keys: &[String]) -> GroupResult {
    GroupResult {
        grouped_by: keys.iter().map(|k| (k.clone(), None)).collect(),
        result: AggregationResult::empty(),
    }
}

/// Order-insensitive equality of two group value lists (Lago compares hashes).
pub(crate) fn same_group(a: &GroupValues, b: &GroupValues) -> bool {
    a.len() == b.len() && a.iter().all(|pair| b.contains(pair))
}

/// `find_cached_aggregation`: the latest row of the group with a timestamp in `[from, to]`.
pub(crate) fn cached_in_window<'p>(
    params: &'p AggregationParams,
    group: &GroupValues,
) -> Option<&'p CachedAggregation> {
    cached_in_window_excluding(params, group, None)
}

/// The same, leaving out the row an event wrote itself (`excluding` its transaction id).
pub(crate) fn cached_in_window_excluding<'p>(
    params: &'p AggregationParams,
    group: &GroupValues,
    excluding: Option<&str>,
) -> Option<&'p CachedAggregation> {
    let window = params.window;
    params
        .cached_aggregations
        .iter()
        .enumerate()
        .filter(|(_, c)| c.timestamp >= window.from && c.timestamp <= window.to)
        .filter(|(_, c)| same_group(&c.grouped_by, group))
        .filter(|(_, c)| excluding.is_none_or(|id| c.event_transaction_id.as_deref() != Some(id)))
        .max_by(|a, b| a.1.timestamp.cmp(&b.1.timestamp).then(a.0.cmp(&b.0)))
        .map(|(_, c)| c)
}

/// `handle_in_advance_current_usage`: the peak of the period rather than the current total —
/// `total − cached.current + cached.max` when a cached row exists — and the current total as
/// current-usage units, both at least 0.
pub(crate) fn in_advance_current_usage(
    result: &mut AggregationResult,
    total: Decimal,
    cached: Option<&CachedAggregation>,
) -> Result<()> {
    use crate::money::{add, sub};
    let aggregation = match cached {
        Some(row) => add(
            sub(total, row.current_aggregation)?,
            row.max_aggregation.unwrap_or_default(),
        )?,
        None => total,
    };
    result.aggregation = aggregation.max(Decimal::ZERO);
    result.current_usage_units = Some(total.max(Decimal::ZERO));
    Ok(())
}

/// `[1, 2, …, n]` (count and unique count running totals; empty for n ≤ 0).
pub(crate) fn one_to(n: Decimal) -> Result<Vec<Decimal>> {
    let last = n.floor();
    if last < Decimal::ONE {
        return Ok(Vec::new());
    }
    let last = u64::try_from(last).unwrap_or(u64::MAX);
    if last > crate::limits::PER_EVENT_VALUES_MAX as u64 {
        return Err(Error::invalid("running_total", "too_many_values"));
    }
    Ok((1..=last).map(Decimal::from).collect())
}

/// An events count from a decimal count (unique count): truncated, never below 0.
pub(crate) fn count_of(value: Decimal) -> u64 {
    u64::try_from(value.trunc().max(Decimal::ZERO)).unwrap_or(u64::MAX)
}

/// An events count from a row count.
pub(crate) fn count_rows(rows: usize) -> u64 {
    u64::try_from(rows).unwrap_or(u64::MAX)
}
