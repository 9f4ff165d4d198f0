//! Usage as Lago's JSON: `V1::Customers::UsageSerializer` / `ChargeUsageSerializer`, their
//! projected variants, and the past-usage periods. Decimals are strings in Ruby's `"4.0"` form,
//! cents and counts integers, instants `2025-06-30T23:59:59Z`.

use super::projection::{Projection, Projector};
use super::usage::{BucketUsage, ChargeUsage, FeeLine, Usage};
use crate::aggregations::{Breakdown, GroupValues};
use crate::charge_models::ChargeModel;
use crate::error::Result;
use crate::money::{add, sum};
use crate::period::boundaries::truncate_to_second;
use crate::rating::{cents_json, decimal_json};
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

/// Renders projections too (`projected_usage`), or only current values.
#[derive(Clone, Copy)]
pub enum Shape<'p> {
    /// `customer_usage` / past usage.
    Current,
    /// `customer_projected_usage`.
    Projected(&'p Projectors<'p>),
}

/// The projector of each charge, in the usage's charge order.
pub struct Projectors<'p>(pub Vec<Projector<'p>>);

/// `2025-06-30T23:59:59Z`.
pub fn datetime(at: DateTime<Utc>) -> Value {
    Value::String(
        truncate_to_second(at)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
}

/// RFC 3339 with microseconds, for exports that must read back exactly.
pub fn datetime_exact(at: DateTime<Utc>) -> Value {
    Value::String(at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

fn date(day: NaiveDate) -> Value {
    Value::String(day.format("%Y-%m-%d").to_string())
}

/// The usage envelope (without its root key). `lago_invoice_id` is null for current usage.
pub fn usage_json(usage: &Usage, shape: Shape, lago_invoice_id: Option<&str>) -> Result<Value> {
    let total = add(usage.amount_cents, usage.taxes_amount_cents)?;
    let mut out = Map::new();
    out.insert("from_datetime".into(), datetime(usage.window.from));
    out.insert("to_datetime".into(), datetime(usage.window.to));
    out.insert("issuing_date".into(), date(usage.boundaries.issuing_date));
    out.insert("currency".into(), json!(usage.currency.code));
    out.insert(
        "amount_cents".into(),
        cents_json(usage.amount_cents, "amount_cents")?,
    );
    let mut charges = Vec::with_capacity(usage.charges.len());
    let mut projected_total = Decimal::ZERO;
    for (index, charge) in usage.charges.iter().enumerate() {
        let projector = match shape {
            Shape::Current => None,
            Shape::Projected(projectors) => projectors.0.get(index),
        };
        let (entry, projected) = charge_json(charge, usage, projector)?;
        projected_total = add(projected_total, projected)?;
        charges.push(entry);
    }
    if matches!(shape, Shape::Projected(_)) {
        out.insert(
            "projected_amount_cents".into(),
            cents_json(projected_total, "projected_amount_cents")?,
        );
    }
    out.insert(
        "total_amount_cents".into(),
        cents_json(total, "total_amount_cents")?,
    );
    out.insert(
        "taxes_amount_cents".into(),
        cents_json(usage.taxes_amount_cents, "taxes_amount_cents")?,
    );
    out.insert("lago_invoice_id".into(), json!(lago_invoice_id));
    out.insert("charges_usage".into(), Value::Array(charges));
    Ok(Value::Object(out))
}

/// One `charges_usage[]` entry, and its projected cents (0 for current usage).
fn charge_json(
    usage: &ChargeUsage,
    whole: &Usage,
    projector: Option<&Projector>,
) -> Result<(Value, Decimal)> {
    let charge = usage.charge;
    let metric = usage.metric;
    let all: Vec<(&FeeLine, &ChargeModel)> = lines_with_model(&usage.buckets).collect();
    let mut out = totals(&all, usage, whole, projector.is_some())?;
    let projection = match projector {
        None => None,
        Some(projector) => {
            // A charge with filters projects its filters' fees only, not the default bucket's.
            let has_filters = !charge.filters.is_empty();
            let projected = usage
                .buckets
                .iter()
                .filter(|b| !has_filters || b.filter.is_some());
            Some(projector.project(lines_with_model(projected))?)
        }
    };
    if let Some(projection) = &projection {
        insert_projection(&mut out, projection, usage)?;
    }
    let mut charge_json = Map::new();
    charge_json.insert("lago_id".into(), json!(charge.lago_id));
    if projector.is_none() {
        charge_json.insert("code".into(), json!(charge.code));
    }
    charge_json.insert("charge_model".into(), json!(charge.model.name()));
    charge_json.insert(
        "invoice_display_name".into(),
        json!(charge.invoice_display_name),
    );
    out.insert("charge".into(), Value::Object(charge_json));
    out.insert(
        "billable_metric".into(),
        json!({
            "lago_id": metric.lago_id,
            "name": metric.name,
            "code": metric.code,
            "aggregation_type": metric.aggregation_name,
        }),
    );
    let filters = if charge.filters.is_empty() {
        Vec::new()
    } else {
        filters_json(&usage.buckets, None, usage, whole, projector)?
    };
    out.insert("filters".into(), Value::Array(filters));
    out.insert(
        "grouped_usage".into(),
        Value::Array(grouped_json(usage, whole, projector)?),
    );
    let plain = charge.filters.is_empty() && charge.group_keys.is_empty();
    let breakdowns: Vec<&Breakdown> = if plain {
        all.iter().flat_map(|(l, _)| l.breakdowns.iter()).collect()
    } else {
        Vec::new()
    };
    out.insert(
        "presentation_breakdowns".into(),
        breakdowns_json(&breakdowns),
    );
    let projected = projection.map(|p| p.amount_cents).unwrap_or_default();
    Ok((Value::Object(out), projected))
}

fn lines_with_model<'u>(
    buckets: impl IntoIterator<Item = &'u BucketUsage<'u>>,
) -> impl Iterator<Item = (&'u FeeLine, &'u ChargeModel)> {
    buckets
        .into_iter()
        .flat_map(|b| b.lines.iter().map(move |l| (l, b.model)))
}

/// units, total_aggregated_units (current only), events_count, amount_cents, amount_currency,
/// pricing_unit_details.
fn totals(
    lines: &[(&FeeLine, &ChargeModel)],
    usage: &ChargeUsage,
    whole: &Usage,
    projected: bool,
) -> Result<Map<String, Value>> {
    let units = sum(lines.iter().map(|(l, _)| l.fee.units)).map_err(|e| e.in_field("units"))?;
    let aggregated = sum(lines
        .iter()
        .map(|(l, _)| l.fee.total_aggregated_units.unwrap_or(l.fee.units)))
    .map_err(|e| e.in_field("total_aggregated_units"))?;
    let amount_cents = sum(lines.iter().map(|(l, _)| l.fee.amount_cents))
        .map_err(|e| e.in_field("amount_cents"))?;
    let mut out = Map::new();
    out.insert("units".into(), decimal_json(units));
    if !projected {
        out.insert("total_aggregated_units".into(), decimal_json(aggregated));
    }
    out.insert(
        "events_count".into(),
        json!(lines.iter().map(|(l, _)| l.fee.events_count).sum::<u64>()),
    );
    out.insert(
        "amount_cents".into(),
        cents_json(amount_cents, "amount_cents")?,
    );
    out.insert("amount_currency".into(), json!(whole.currency.code));
    let details = match &usage.charge.pricing_unit {
        None => Value::Null,
        Some(unit) => {
            let pu_cents = sum(lines
                .iter()
                .filter_map(|(l, _)| l.fee.pricing_unit_usage.as_ref())
                .map(|u| u.amount_cents))?;
            json!({
                "amount_cents": cents_json(pu_cents, "pricing_unit_amount_cents")?,
                "short_name": unit.applied.short_name,
                "conversion_rate": decimal_json(unit.applied.conversion_rate),
            })
        }
    };
    out.insert("pricing_unit_details".into(), details);
    Ok(out)
}

fn insert_projection(
    out: &mut Map<String, Value>,
    projection: &Projection,
    usage: &ChargeUsage,
) -> Result<()> {
    out.insert("projected_units".into(), decimal_json(projection.units));
    out.insert(
        "projected_amount_cents".into(),
        cents_json(projection.amount_cents, "projected_amount_cents")?,
    );
    let rows: Vec<&Breakdown> = projection.breakdowns.iter().collect();
    out.insert(
        "projected_presentation_breakdowns".into(),
        breakdowns_json(&rows),
    );
    if usage.charge.pricing_unit.is_some() {
        if let Some(Value::Object(details)) = out.get_mut("pricing_unit_details") {
            details.insert(
                "projected_amount_cents".into(),
                cents_json(
                    projection.pricing_unit_amount_cents.unwrap_or_default(),
                    "projected_pricing_unit_amount_cents",
                )?,
            );
        }
    }
    Ok(())
}

/// `filters[]`: one entry per bucket, restricted to one group's lines when `group` is set.
fn filters_json(
    buckets: &[BucketUsage],
    group: Option<&GroupValues>,
    usage: &ChargeUsage,
    whole: &Usage,
    projector: Option<&Projector>,
) -> Result<Vec<Value>> {
    let mut out = Vec::with_capacity(buckets.len());
    for bucket in buckets {
        let lines: Vec<(&FeeLine, &ChargeModel)> = bucket
            .lines
            .iter()
            .filter(|l| group.is_none_or(|g| l.grouped_by.as_ref() == Some(g)))
            .map(|l| (l, bucket.model))
            .collect();
        if group.is_some() && lines.is_empty() {
            continue;
        }
        let mut entry = totals(&lines, usage, whole, projector.is_some())?;
        if let Some(projector) = projector {
            // The default bucket is not projected (Lago projects charge-filter fees only).
            let projection = if bucket.filter.is_none() {
                Projection::default()
            } else {
                projector.project(lines.iter().copied())?
            };
            insert_projection(&mut entry, &projection, usage)?;
        }
        entry.insert(
            "invoice_display_name".into(),
            json!(bucket.filter.and_then(|f| f.invoice_display_name.clone())),
        );
        let values = match bucket.filter {
            None => Value::Null,
            Some(filter) => Value::Object(
                filter
                    .values
                    .0
                    .iter()
                    .map(|(key, values)| (key.clone(), json!(values)))
                    .collect(),
            ),
        };
        entry.insert("values".into(), values);
        entry.insert(
            "presentation_breakdowns".into(),
            lines_breakdowns_json(&lines),
        );
        out.push(Value::Object(entry));
    }
    Ok(out)
}

/// `grouped_usage[]`: lines with the same `grouped_by` across buckets, summed.
fn grouped_json(
    usage: &ChargeUsage,
    whole: &Usage,
    projector: Option<&Projector>,
) -> Result<Vec<Value>> {
    let mut groups: Vec<&GroupValues> = Vec::new();
    for line in usage.lines() {
        if let Some(group) = &line.grouped_by {
            if !group.is_empty() && !groups.contains(&group) {
                groups.push(group);
            }
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        let lines: Vec<(&FeeLine, &ChargeModel)> = lines_with_model(&usage.buckets)
            .filter(|(l, _)| l.grouped_by.as_ref() == Some(group))
            .collect();
        let mut entry = totals(&lines, usage, whole, projector.is_some())?;
        if let Some(projector) = projector {
            let projection = projector.project(lines.iter().copied())?;
            insert_projection(&mut entry, &projection, usage)?;
        }
        entry.insert("grouped_by".into(), group_json(group));
        let filters = if usage.charge.filters.is_empty() {
            Vec::new()
        } else {
            filters_json(&usage.buckets, Some(group), usage, whole, projector)?
        };
        entry.insert("filters".into(), Value::Array(filters));
        entry.insert(
            "presentation_breakdowns".into(),
            lines_breakdowns_json(&lines),
        );
        out.push(Value::Object(entry));
    }
    Ok(out)
}

/// `{key: value|null}`.
pub fn group_json(group: &GroupValues) -> Value {
    Value::Object(
        group
            .iter()
            .map(|(key, value)| (key.clone(), json!(value)))
            .collect(),
    )
}

/// The presentation breakdowns of a set of lines.
fn lines_breakdowns_json(lines: &[(&FeeLine, &ChargeModel)]) -> Value {
    let rows: Vec<&Breakdown> = lines
        .iter()
        .flat_map(|(l, _)| l.breakdowns.iter())
        .collect();
    breakdowns_json(&rows)
}

fn breakdowns_json(rows: &[&Breakdown]) -> Value {
    Value::Array(
        rows.iter()
            .map(|b| {
                json!({
                    "presentation_by": group_json(&b.groups),
                    "units": decimal_json(b.value),
                })
            })
            .collect(),
    )
}
