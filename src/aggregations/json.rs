//! The aggregation API on JSON: a fixture case's `input` in, its `expected` keys out.
//!
//! Three request shapes, told apart by their keys:
//!
//! * **aggregation** (`metric`, `window`, `events`, …) → `aggregation`, `count`, and the other
//!   result fields that apply (`current_usage_units`, `full_units_number`, `variation`,
//!   `total_aggregated_units`, `recurring_updated_at`, `precise_total_amount_cents` for dynamic
//!   charges, `running_total`, `per_event_values` / `per_event_prorated_values`, `groups`,
//!   `breakdowns`), plus `<key>_round5` for each decimal (half-up to 5 places);
//! * **rounding** (`units`, `rounding_function`, `rounding_precision`) → `units`;
//! * **charge filters** (`billable_metric_filters`, `charge_filters`, `target`) →
//!   `matching_filters`, `ignored_filters`; with `metric`/`events` too, the target bucket is then
//!   aggregated (`target: null` is the default bucket).
//!
//! Decimals are written as strings (`"48.0"`), counts as integers, instants in RFC 3339.

use super::filters::{matching_and_ignored, ChargeFilter, EventFilter, FilterValues, MetricFilter};
use super::{
    aggregate, AggregationParams, AggregationResult, AggregationType, BillableMetric, Breakdown,
    CachedAggregation, ChargeSettings, FreeUnits, GroupResult, GroupValues, InAdvance,
    PayInAdvanceEvent, Rounding, RoundingFunction, UsageContext, Window,
};
use crate::domain::event::Event;
use crate::error::{Error, Result};
use crate::json::{self, object};
use crate::money::round_half_up;
use crate::number::{decimal_from_json, ruby_decimal, NumError};
use crate::period::tz::Tz;
use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// Runs one aggregation request (see the module documentation for the shapes).
pub fn aggregate_json(request: &Value) -> Result<Value> {
    let input = request
        .as_object()
        .ok_or_else(|| Error::BadRequest("the request must be a JSON object".to_string()))?;
    if input.contains_key("metric") {
        return aggregation(input);
    }
    if input.contains_key("charge_filters") {
        let bucket = bucket(input)?;
        return Ok(bucket_json(&bucket));
    }
    if input.contains_key("units") {
        return rounding(input);
    }
    Err(Error::invalid("metric", "value_is_mandatory"))
}

fn aggregation(input: &Map<String, Value>) -> Result<Value> {
    let metric = metric(object(input, "metric")?)?;
    let window = window(input)?;
    let mut params = AggregationParams::new(metric, window);
    params.filter = std::sync::Arc::new(if input.contains_key("charge_filters") {
        bucket(input)?
    } else {
        EventFilter {
            matching: filter_values(input.get("matching_filters"), "matching_filters")?,
            ignored: filter_list(input.get("ignored_filters"), "ignored_filters")?,
        }
    });
    params.grouped_by = match input.get("grouped_by") {
        Some(keys) => strings(Some(keys), "grouped_by")?,
        None => strings(input.get("pricing_group_keys"), "pricing_group_keys")?,
    };
    params.grouped_by_values = group_values_opt(input.get("grouped_by_values"))?;
    params.presentation_by = strings(input.get("presentation_by"), "presentation_by")?;
    let options = input.get("options").and_then(Value::as_object);
    params.free_units = free_units(options)?;
    let option_flag = |key: &str| options.and_then(|o| o.get(key)).and_then(Value::as_bool);
    let current_usage = match input.get("context").and_then(Value::as_str) {
        Some(context) => context == "current_usage",
        None => option_flag("is_current_usage").unwrap_or(false),
    };
    params.context = if current_usage {
        UsageContext::CurrentUsage
    } else {
        UsageContext::Billing
    };
    params.charge = ChargeSettings {
        prorated: flag(input, "charge_prorated")?,
        pay_in_advance: flag(input, "charge_pay_in_advance")?
            || option_flag("is_pay_in_advance").unwrap_or(false),
        dynamic: input.get("charge_model").and_then(Value::as_str) == Some("dynamic"),
    };
    params.cached_aggregations = cached_aggregations(input)?;
    params.has_previous_subscription = flag(input, "subscription_has_previous_subscription")?;
    let trigger = input
        .get("pay_in_advance_event")
        .or_else(|| input.get("event"));
    if let Some(trigger) = trigger.filter(|v| !v.is_null()) {
        let item = trigger
            .as_object()
            .ok_or_else(|| Error::invalid("pay_in_advance_event", "value_is_invalid"))?;
        params.pay_in_advance_event = Some(PayInAdvanceEvent {
            event: event(usize::MAX, item)?,
            persisted: item
                .get("persisted")
                .and_then(Value::as_bool)
                .unwrap_or(true),
        });
    }
    let events = events(input.get("events"))?;
    let result = aggregate(&events, &params)?;
    Ok(result_json(&result, params.charge.dynamic))
}

fn rounding(input: &Map<String, Value>) -> Result<Value> {
    let units = decimal(input.get("units"), "units")?;
    let rounding = rounding_of(input)?;
    let units = match rounding {
        Some(rounding) => rounding.apply(units).map_err(|e| e.in_field("units"))?,
        None => units,
    };
    Ok(object! { "units": Value::String(ruby_decimal(units)) })
}

// --------------------------------------------------------------------------------------------
// Charge filters
// --------------------------------------------------------------------------------------------

fn bucket(input: &Map<String, Value>) -> Result<EventFilter> {
    let metric_filters = metric_filters(input.get("billable_metric_filters"))?;
    let Some(Value::Array(items)) = input.get("charge_filters") else {
        return Err(Error::invalid("charge_filters", "value_is_invalid"));
    };
    if items.len() > crate::limits::FILTERS_MAX {
        return Err(Error::invalid("charge_filters", "too_many_filters"));
    }
    let mut filters = Vec::with_capacity(items.len());
    for (position, item) in items.iter().enumerate() {
        let item = item
            .as_object()
            .ok_or_else(|| Error::invalid("charge_filters", "value_is_invalid"))?;
        let id = item.get("id").map(scalar_text).unwrap_or_default();
        let position = i64::try_from(position).unwrap_or(i64::MAX);
        let created_rank = item
            .get("created")
            .and_then(Value::as_i64)
            .unwrap_or(position);
        filters.push(ChargeFilter {
            id,
            created_rank,
            values: filter_values(item.get("values"), "charge_filters")?,
        });
    }
    let target = match input.get("target") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t == "default" => None,
        Some(target) => {
            let id = scalar_text(target);
            let found = filters.iter().position(|f| f.id == id);
            Some(found.ok_or_else(|| Error::invalid("target", "value_is_invalid"))?)
        }
    };
    Ok(matching_and_ignored(&metric_filters, &filters, target))
}

fn bucket_json(bucket: &EventFilter) -> Value {
    object! {
        "matching_filters": filter_values_json(&bucket.matching),
        "ignored_filters": bucket.ignored.iter().map(filter_values_json).collect(),
    }
}

fn filter_values_json(values: &FilterValues) -> Value {
    Value::Object(
        values
            .0
            .iter()
            .map(|(key, values)| (key.clone(), json::texts(values)))
            .collect(),
    )
}

/// `{key: [values]}` or `[{key, values}]` (a metric's declared filters).
fn metric_filters(value: Option<&Value>) -> Result<Vec<MetricFilter>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let key = item.get("key").map(scalar_text).unwrap_or_default();
                let values = strings(item.get("values"), "filters")?;
                Ok(MetricFilter { key, values })
            })
            .collect(),
        Some(other) => Ok(filter_values(Some(other), "filters")?
            .0
            .into_iter()
            .map(|(key, values)| MetricFilter { key, values })
            .collect()),
    }
}

/// `{key: [values]}`, values read as text.
fn filter_values(value: Option<&Value>, field: &str) -> Result<FilterValues> {
    match value {
        None | Some(Value::Null) => Ok(FilterValues::default()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(key, values)| {
                let values = match values {
                    Value::Array(_) => strings(Some(values), field)?,
                    scalar => vec![scalar_text(scalar)],
                };
                Ok((key.clone(), values))
            })
            .collect::<Result<Vec<_>>>()
            .map(FilterValues),
        Some(_) => Err(Error::invalid(field, "value_is_invalid")),
    }
}

fn filter_list(value: Option<&Value>, field: &str) -> Result<Vec<FilterValues>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| filter_values(Some(item), field))
            .collect(),
        Some(_) => Err(Error::invalid(field, "value_is_invalid")),
    }
}

// --------------------------------------------------------------------------------------------
// Inputs
// --------------------------------------------------------------------------------------------

pub(crate) fn metric(input: &Map<String, Value>) -> Result<BillableMetric> {
    let name = input
        .get("aggregation_type")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("aggregation_type", "value_is_mandatory"))?;
    let aggregation_type = AggregationType::parse(name)
        .ok_or_else(|| Error::invalid("aggregation_type", "value_is_invalid"))?;
    let field_name = match input.get("field_name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(Error::invalid("field_name", "value_is_invalid")),
    };
    Ok(BillableMetric {
        aggregation_type,
        field_name,
        recurring: flag(input, "recurring")?,
        rounding: rounding_of(input)?,
        filters: metric_filters(input.get("filters"))?,
    })
}

fn rounding_of(input: &Map<String, Value>) -> Result<Option<Rounding>> {
    let function = match input.get("rounding_function") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(name)) if name.is_empty() => return Ok(None),
        Some(Value::String(name)) => RoundingFunction::parse(name)
            .ok_or_else(|| Error::invalid("rounding_function", "value_is_invalid"))?,
        Some(_) => return Err(Error::invalid("rounding_function", "value_is_invalid")),
    };
    let precision = match input.get("rounding_precision") {
        None | Some(Value::Null) => 0,
        Some(value) => value
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| Error::invalid("rounding_precision", "value_is_invalid"))?,
    };
    Ok(Some(Rounding {
        function,
        precision,
    }))
}

fn window(input: &Map<String, Value>) -> Result<Window> {
    let window = object(input, "window")?;
    let from = instant(window.get("from"), "window.from")?;
    let to = instant(window.get("to"), "window.to")?;
    if to < from {
        return Err(Error::invalid("window.to", "value_is_invalid"));
    }
    let charges_duration_days = match window.get("charges_duration_days") {
        None | Some(Value::Null) => None,
        Some(days) => Some(
            days.as_u64()
                .and_then(|d| u32::try_from(d).ok())
                .filter(|d| *d > 0)
                .ok_or_else(|| Error::invalid("charges_duration_days", "value_is_invalid"))?,
        ),
    };
    let zone = window
        .get("timezone")
        .or_else(|| input.get("timezone"))
        .and_then(Value::as_str);
    let timezone = match zone {
        None => Tz::UTC,
        Some(name) => name
            .parse::<Tz>()
            .map_err(|_| Error::invalid("timezone", "invalid_timezone"))?,
    };
    Ok(Window {
        from,
        to,
        charges_duration_days,
        timezone,
    })
}

fn events(value: Option<&Value>) -> Result<Vec<Event>> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Error::invalid("events", "value_is_invalid")),
    };
    if items.len() > super::EVENTS_MAX {
        return Err(Error::invalid("events", "too_many_events"));
    }
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let item = item
                .as_object()
                .ok_or_else(|| Error::invalid("events", "value_is_invalid"))?;
            event(index, item)
        })
        .collect()
}

/// One event; without a `transaction_id`, events of the list get their position and the
/// pay-in-advance event (`index = usize::MAX`) none, so it is matched by time and properties.
fn event(index: usize, item: &Map<String, Value>) -> Result<Event> {
    let properties = match item.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(Error::invalid("properties", "value_is_invalid")),
    };
    let precise = match item.get("precise_total_amount_cents") {
        None | Some(Value::Null) => None,
        value => Some(decimal(value, "precise_total_amount_cents")?),
    };
    let default_id = if index == usize::MAX {
        String::new()
    } else {
        format!("#{index}")
    };
    Ok(Event {
        transaction_id: item
            .get("transaction_id")
            .map_or(default_id, scalar_text)
            .into(),
        external_subscription_id: item
            .get("external_subscription_id")
            .map(scalar_text)
            .unwrap_or_default()
            .into(),
        code: item.get("code").map(scalar_text).unwrap_or_default().into(),
        timestamp: instant(item.get("timestamp"), "timestamp")?,
        properties: properties.into(),
        precise_total_amount_cents: precise,
    })
}

fn free_units(options: Option<&Map<String, Value>>) -> Result<FreeUnits> {
    let Some(options) = options else {
        return Ok(FreeUnits::default());
    };
    let per_events = match options.get("free_units_per_events") {
        None | Some(Value::Null) => 0,
        Some(value) => {
            let number = decimal(Some(value), "free_units_per_events")?.trunc();
            u64::try_from(number)
                .map_err(|_| Error::invalid("free_units_per_events", "value_is_invalid"))?
        }
    };
    let per_total_aggregation = match options.get("free_units_per_total_aggregation") {
        None | Some(Value::Null) => Decimal::ZERO,
        value => decimal(value, "free_units_per_total_aggregation")?,
    };
    Ok(FreeUnits {
        per_events,
        per_total_aggregation,
    })
}

fn cached_aggregations(input: &Map<String, Value>) -> Result<Vec<CachedAggregation>> {
    let mut rows = Vec::new();
    if let Some(row) = input.get("cached_aggregation").filter(|v| !v.is_null()) {
        rows.push(cached_aggregation(row)?);
    }
    match input.get("cached_aggregations") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                rows.push(cached_aggregation(item)?);
            }
        }
        Some(_) => return Err(Error::invalid("cached_aggregations", "value_is_invalid")),
    }
    Ok(rows)
}

fn cached_aggregation(value: &Value) -> Result<CachedAggregation> {
    const FIELD: &str = "cached_aggregation";
    let row = value
        .as_object()
        .ok_or_else(|| Error::invalid(FIELD, "value_is_invalid"))?;
    let optional = |key: &str| -> Result<Option<Decimal>> {
        match row.get(key) {
            None | Some(Value::Null) => Ok(None),
            value => decimal(value, key).map(Some),
        }
    };
    let presentation_breakdowns = match row.get("presentation_breakdowns") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                Ok(Breakdown {
                    groups: group_values_opt(item.get("groups"))?.unwrap_or_default(),
                    value: decimal(item.get("value"), "presentation_breakdowns")?,
                })
            })
            .collect::<Result<Vec<_>>>()?,
        _ => Vec::new(),
    };
    Ok(CachedAggregation {
        timestamp: instant(row.get("timestamp"), "cached_aggregation.timestamp")?,
        grouped_by: group_values_opt(row.get("grouped_by"))?.unwrap_or_default(),
        current_aggregation: optional("current_aggregation")?.unwrap_or_default(),
        max_aggregation: optional("max_aggregation")?,
        max_aggregation_with_proration: optional("max_aggregation_with_proration")?,
        presentation_breakdowns,
        event_transaction_id: row.get("event_transaction_id").map(scalar_text),
    })
}

/// `{key: value|null}` as group values (values read as text).
fn group_values_opt(value: Option<&Value>) -> Result<Option<GroupValues>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(
            map.iter()
                .map(|(key, value)| {
                    let text = match value {
                        Value::Null => None,
                        other => Some(scalar_text(other)),
                    };
                    (key.clone(), text)
                })
                .collect(),
        )),
        Some(_) => Err(Error::invalid("grouped_by", "value_is_invalid")),
    }
}

fn object<'a>(input: &'a Map<String, Value>, field: &str) -> Result<&'a Map<String, Value>> {
    match input.get(field) {
        Some(Value::Object(map)) => Ok(map),
        None | Some(Value::Null) => Err(Error::invalid(field, "value_is_mandatory")),
        Some(_) => Err(Error::invalid(field, "value_is_invalid")),
    }
}

fn flag(input: &Map<String, Value>, field: &str) -> Result<bool> {
    match input.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(flag)) => Ok(*flag),
        Some(_) => Err(Error::invalid(field, "value_is_invalid")),
    }
}

fn strings(value: Option<&Value>, field: &str) -> Result<Vec<String>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => Ok(items.iter().map(scalar_text).collect()),
        Some(_) => Err(Error::invalid(field, "value_is_invalid")),
    }
}

/// A scalar as Ruby's `to_s` (strings as they are, numbers by their text).
fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn decimal(value: Option<&Value>, field: &str) -> Result<Decimal> {
    match value {
        None | Some(Value::Null) => Err(Error::invalid(field, "value_is_mandatory")),
        Some(value) => decimal_from_json(value).map_err(|e| match e {
            NumError::Invalid => Error::invalid(field, "value_is_invalid"),
            NumError::OutOfRange => Error::invalid(field, "value_is_out_of_range"),
        }),
    }
}

/// An RFC 3339 instant, or Unix seconds (possibly fractional) as Lago's events take them.
fn instant(value: Option<&Value>, field: &str) -> Result<DateTime<Utc>> {
    let invalid = || Error::invalid(field, "invalid_format");
    match value {
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| {
                let seconds = crate::number::parse_decimal_str(text).map_err(|_| invalid())?;
                from_unix(seconds).ok_or_else(invalid)
            }),
        Some(number @ Value::Number(_)) => {
            let seconds = decimal_from_json(number).map_err(|_| invalid())?;
            from_unix(seconds).ok_or_else(invalid)
        }
        None | Some(Value::Null) => Err(Error::invalid(field, "value_is_mandatory")),
        Some(_) => Err(invalid()),
    }
}

fn from_unix(seconds: Decimal) -> Option<DateTime<Utc>> {
    let whole = seconds.floor();
    let nanos = seconds
        .checked_sub(whole)?
        .checked_mul(Decimal::from(1_000_000_000))?
        .trunc();
    DateTime::from_timestamp(i64::try_from(whole).ok()?, u32::try_from(nanos).ok()?)
}

// --------------------------------------------------------------------------------------------
// Output
// --------------------------------------------------------------------------------------------

fn decimal_json(out: &mut Map<String, Value>, key: &str, value: Decimal) {
    out.insert(key.to_string(), Value::String(ruby_decimal(value)));
    out.insert(
        format!("{key}_round5"),
        Value::String(ruby_decimal(round_half_up(value, 5))),
    );
}

fn decimals_json(values: &[Decimal]) -> Value {
    Value::Array(
        values
            .iter()
            .map(|v| Value::String(ruby_decimal(*v)))
            .collect(),
    )
}

/// A list of decimals under its names, with its `_round5` twin.
fn decimal_list_json(out: &mut Map<String, Value>, keys: &[&str], values: &[Decimal]) {
    let rounded: Vec<Decimal> = values.iter().map(|v| round_half_up(*v, 5)).collect();
    for key in keys {
        out.insert((*key).to_string(), decimals_json(values));
        out.insert(format!("{key}_round5"), decimals_json(&rounded));
    }
}

fn breakdowns_json(breakdowns: &[Breakdown]) -> Value {
    Value::Array(
        breakdowns
            .iter()
            .map(|b| object! { "groups": groups_json(&b.groups), "value": Value::String(ruby_decimal(b.value)) })
            .collect(),
    )
}

fn in_advance_json(out: &mut Map<String, Value>, in_advance: &InAdvance) {
    decimal_json(out, "pay_in_advance_aggregation", in_advance.aggregation);
    let state = [
        ("current_aggregation", in_advance.current_aggregation),
        ("max_aggregation", in_advance.max_aggregation),
        ("units_applied", in_advance.units_applied),
        (
            "max_aggregation_with_proration",
            in_advance.max_aggregation_with_proration,
        ),
    ];
    for (key, value) in state {
        if let Some(value) = value {
            decimal_json(out, key, value);
        }
    }
    if let Some(cents) = in_advance.precise_total_amount_cents {
        decimal_json(out, "pay_in_advance_precise_total_amount_cents", cents);
    }
    let breakdowns = breakdowns_json(&in_advance.breakdowns);
    out.insert("pay_in_advance_breakdowns".to_string(), breakdowns);
}

fn groups_json(values: &GroupValues) -> Value {
    Value::Object(
        values
            .iter()
            .map(|(key, value)| (key.clone(), json::text_or_null(value.as_deref())))
            .collect(),
    )
}

fn result_json(result: &AggregationResult, dynamic: bool) -> Value {
    let mut out = Map::new();
    decimal_json(&mut out, "aggregation", result.aggregation);
    out.insert("count".to_string(), Value::from(result.count));
    let optional = [
        ("current_usage_units", result.current_usage_units),
        ("full_units_number", result.full_units_number),
        ("total_aggregated_units", result.total_aggregated_units),
        ("variation", result.variation),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            decimal_json(&mut out, key, value);
        }
    }
    if let Some(at) = result.recurring_updated_at {
        out.insert(
            "recurring_updated_at".to_string(),
            Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        );
    }
    if dynamic {
        let cents = result.precise_total_amount_cents.unwrap_or_default();
        out.insert(
            "precise_total_amount_cents".to_string(),
            Value::String(ruby_decimal(cents)),
        );
    }
    out.insert(
        "running_total".to_string(),
        decimals_json(&result.running_total),
    );
    // Lago's names (`per_event_aggregation.event_aggregation`) and ours.
    let per_event = ["per_event_values", "event_aggregation"];
    decimal_list_json(&mut out, &per_event, &result.per_event_values);
    if let Some(prorated) = &result.per_event_prorated_values {
        let keys = ["per_event_prorated_values", "event_prorated_aggregation"];
        decimal_list_json(&mut out, &keys, prorated);
    }
    out.insert(
        "breakdowns".to_string(),
        breakdowns_json(&result.breakdowns),
    );
    if let Some(in_advance) = &result.pay_in_advance {
        in_advance_json(&mut out, in_advance);
    }
    if let Some(groups) = &result.groups {
        let groups: Vec<Value> = groups.iter().map(|g| group_json(g, dynamic)).collect();
        out.insert("groups".to_string(), Value::Array(groups));
    }
    Value::Object(out)
}

fn group_json(group: &GroupResult, dynamic: bool) -> Value {
    let mut out = Map::new();
    out.insert("grouped_by".to_string(), groups_json(&group.grouped_by));
    if let Value::Object(fields) = result_json(&group.result, dynamic) {
        out.extend(fields);
    }
    Value::Object(out)
}
