//! Usage as Lago's JSON: `V1::Customers::UsageSerializer` / `ChargeUsageSerializer`, their
//! projected variants, and the past-usage periods. Decimals are strings in Ruby's `"4.0"` form,
//! cents and counts integers, instants `2025-06-30T23:59:59Z`.

use super::json_text::JsonText;
use super::projection::{Projection, Projector};
use super::usage::{BucketUsage, ChargeUsage, FeeLine, Usage};
use crate::aggregations::{Breakdown, GroupValues};
use crate::charge_models::ChargeModel;
use crate::error::Result;
use crate::money::{add, sum};
use crate::period::boundaries::truncate_to_second;
use crate::period::text;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::Value;

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
    Value::String(datetime_text(at))
}

fn datetime_text(at: DateTime<Utc>) -> String {
    text::instant_text(truncate_to_second(at), text::Fraction::None)
}

/// RFC 3339 with microseconds, for exports that must read back exactly.
pub fn datetime_exact(at: DateTime<Utc>) -> Value {
    Value::String(text::instant_text(at, text::Fraction::Micros))
}

/// Room reserved for a usage answer's text: a 10-charge plan writes about 8 KB.
const TEXT_BYTES: usize = 16 * 1024;

/// The usage envelope (without its root key). `lago_invoice_id` is null for current usage.
pub fn usage_json(usage: &Usage, shape: Shape, lago_invoice_id: Option<&str>) -> Result<Value> {
    value_of(&usage_text(usage, shape, lago_invoice_id)?)
}

/// A `Value` of JSON text this module wrote (for the engine's `Value` API).
pub fn value_of(text: &str) -> Result<Value> {
    // Unreachable: the writer only writes JSON.
    serde_json::from_str(text).map_err(|e| crate::error::Error::BadRequest(e.to_string()))
}

/// [`usage_json`] as JSON text, written directly (what the API and the JS package return).
pub fn usage_text(usage: &Usage, shape: Shape, lago_invoice_id: Option<&str>) -> Result<String> {
    let mut out = JsonText::with_capacity(TEXT_BYTES);
    write_usage(&mut out, usage, shape, lago_invoice_id)?;
    Ok(out.into_string())
}

/// `{"<root>": <usage>}` as JSON text.
pub fn usage_text_in(root: &'static str, usage: &Usage, shape: Shape) -> Result<String> {
    let mut out = JsonText::with_capacity(TEXT_BYTES);
    out.open_object().key(root);
    write_usage(&mut out, usage, shape, None)?;
    out.close_object();
    Ok(out.into_string())
}

fn write_usage(
    out: &mut JsonText,
    usage: &Usage,
    shape: Shape,
    lago_invoice_id: Option<&str>,
) -> Result<()> {
    let total = add(usage.amount_cents, usage.taxes_amount_cents)?;
    // The charges first: the envelope shows their projected total before them.
    let mut charges = JsonText::with_capacity(TEXT_BYTES);
    charges.open_array();
    let mut projected_total = Decimal::ZERO;
    for (index, charge) in usage.charges.iter().enumerate() {
        let projector = match shape {
            Shape::Current => None,
            Shape::Projected(projectors) => projectors.0.get(index),
        };
        let projected = write_charge(&mut charges, charge, usage, projector)?;
        projected_total = add(projected_total, projected)?;
    }
    charges.close_array();
    out.open_object();
    out.key("from_datetime")
        .string(&datetime_text(usage.window.from));
    out.key("to_datetime")
        .string(&datetime_text(usage.window.to));
    out.key("issuing_date")
        .string(&text::date_text(usage.boundaries.issuing_date));
    out.key("currency").string(usage.currency.code);
    out.key("amount_cents")
        .cents(usage.amount_cents, "amount_cents")?;
    if matches!(shape, Shape::Projected(_)) {
        out.key("projected_amount_cents")
            .cents(projected_total, "projected_amount_cents")?;
    }
    out.key("total_amount_cents")
        .cents(total, "total_amount_cents")?;
    out.key("taxes_amount_cents")
        .cents(usage.taxes_amount_cents, "taxes_amount_cents")?;
    out.key("lago_invoice_id").optional_string(lago_invoice_id);
    out.key("charges_usage").raw(&charges.into_string());
    out.close_object();
    Ok(())
}

/// One `charges_usage[]` entry; returns its projected cents (0 for current usage).
fn write_charge(
    out: &mut JsonText,
    usage: &ChargeUsage,
    whole: &Usage,
    projector: Option<&Projector>,
) -> Result<Decimal> {
    let charge = usage.charge;
    let metric = usage.metric;
    let all: Vec<(&FeeLine, &ChargeModel)> = lines_with_model(&usage.buckets).collect();
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
    out.open_object();
    write_totals(out, &all, usage, whole, projection.as_ref())?;
    out.key("charge").open_object();
    out.key("lago_id").string(&charge.lago_id);
    if projector.is_none() {
        out.key("code").string(&charge.code);
    }
    out.key("charge_model").string(charge.model.name());
    out.key("invoice_display_name")
        .optional_string(charge.invoice_display_name.as_deref());
    out.close_object();
    out.key("billable_metric").open_object();
    out.key("lago_id").string(&metric.lago_id);
    out.key("name").string(&metric.name);
    out.key("code").string(&metric.code);
    out.key("aggregation_type").string(&metric.aggregation_name);
    out.close_object();
    out.key("filters").open_array();
    if !charge.filters.is_empty() {
        write_filters(out, &usage.buckets, None, usage, whole, projector)?;
    }
    out.close_array();
    out.key("grouped_usage");
    write_grouped(out, usage, whole, projector)?;
    let plain = charge.filters.is_empty() && charge.group_keys.is_empty();
    let breakdowns: Vec<&Breakdown> = if plain {
        all.iter().flat_map(|(l, _)| l.breakdowns.iter()).collect()
    } else {
        Vec::new()
    };
    out.key("presentation_breakdowns");
    write_breakdowns(out, &breakdowns);
    out.close_object();
    Ok(projection.map(|p| p.amount_cents).unwrap_or_default())
}

fn lines_with_model<'u>(
    buckets: impl IntoIterator<Item = &'u BucketUsage<'u>>,
) -> impl Iterator<Item = (&'u FeeLine, &'u ChargeModel)> {
    buckets
        .into_iter()
        .flat_map(|b| b.lines.iter().map(move |l| (l, b.model)))
}

/// units, total_aggregated_units (current usage only), events_count, amount_cents,
/// amount_currency, pricing_unit_details; then the projection's members for projected usage.
fn write_totals(
    out: &mut JsonText,
    lines: &[(&FeeLine, &ChargeModel)],
    usage: &ChargeUsage,
    whole: &Usage,
    projection: Option<&Projection>,
) -> Result<()> {
    let units = sum(lines.iter().map(|(l, _)| l.fee.units)).map_err(|e| e.in_field("units"))?;
    let aggregated = sum(lines
        .iter()
        .map(|(l, _)| l.fee.total_aggregated_units.unwrap_or(l.fee.units)))
    .map_err(|e| e.in_field("total_aggregated_units"))?;
    let amount_cents = sum(lines.iter().map(|(l, _)| l.fee.amount_cents))
        .map_err(|e| e.in_field("amount_cents"))?;
    out.key("units").decimal(units);
    if projection.is_none() {
        out.key("total_aggregated_units").decimal(aggregated);
    }
    out.key("events_count")
        .integer(lines.iter().map(|(l, _)| l.fee.events_count).sum::<u64>());
    out.key("amount_cents")
        .cents(amount_cents, "amount_cents")?;
    out.key("amount_currency").string(whole.currency.code);
    out.key("pricing_unit_details");
    match &usage.charge.pricing_unit {
        None => {
            out.null();
        }
        Some(unit) => {
            let pu_cents = sum(lines
                .iter()
                .filter_map(|(l, _)| l.fee.pricing_unit_usage.as_ref())
                .map(|u| u.amount_cents))?;
            out.open_object();
            out.key("amount_cents")
                .cents(pu_cents, "pricing_unit_amount_cents")?;
            out.key("short_name")
                .optional_string(unit.applied.short_name.as_deref());
            out.key("conversion_rate")
                .decimal(unit.applied.conversion_rate);
            if let Some(projection) = projection {
                out.key("projected_amount_cents").cents(
                    projection.pricing_unit_amount_cents.unwrap_or_default(),
                    "projected_pricing_unit_amount_cents",
                )?;
            }
            out.close_object();
        }
    }
    if let Some(projection) = projection {
        out.key("projected_units").decimal(projection.units);
        out.key("projected_amount_cents")
            .cents(projection.amount_cents, "projected_amount_cents")?;
        let rows: Vec<&Breakdown> = projection.breakdowns.iter().collect();
        out.key("projected_presentation_breakdowns");
        write_breakdowns(out, &rows);
    }
    Ok(())
}

/// `filters[]` entries: one per bucket, restricted to one group's lines when `group` is set.
fn write_filters(
    out: &mut JsonText,
    buckets: &[BucketUsage],
    group: Option<&GroupValues>,
    usage: &ChargeUsage,
    whole: &Usage,
    projector: Option<&Projector>,
) -> Result<()> {
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
        let projection = match projector {
            None => None,
            // The default bucket is not projected (Lago projects charge-filter fees only).
            Some(_) if bucket.filter.is_none() => Some(Projection::default()),
            Some(projector) => Some(projector.project(lines.iter().copied())?),
        };
        out.open_object();
        write_totals(out, &lines, usage, whole, projection.as_ref())?;
        out.key("invoice_display_name").optional_string(
            bucket
                .filter
                .and_then(|f| f.invoice_display_name.as_deref()),
        );
        out.key("values");
        match bucket.filter {
            None => {
                out.null();
            }
            Some(filter) => {
                out.open_object();
                for (key, values) in &filter.values.0 {
                    out.key_text(key).open_array();
                    for value in values {
                        out.string(value);
                    }
                    out.close_array();
                }
                out.close_object();
            }
        }
        out.key("presentation_breakdowns");
        write_lines_breakdowns(out, &lines);
        out.close_object();
    }
    Ok(())
}

/// `grouped_usage[]`: lines with the same `grouped_by` across buckets, summed.
fn write_grouped(
    out: &mut JsonText,
    usage: &ChargeUsage,
    whole: &Usage,
    projector: Option<&Projector>,
) -> Result<()> {
    let mut groups: Vec<&GroupValues> = Vec::new();
    for line in usage.lines() {
        if let Some(group) = &line.grouped_by {
            if !group.is_empty() && !groups.contains(&group) {
                groups.push(group);
            }
        }
    }
    out.open_array();
    for group in groups {
        let lines: Vec<(&FeeLine, &ChargeModel)> = lines_with_model(&usage.buckets)
            .filter(|(l, _)| l.grouped_by.as_ref() == Some(group))
            .collect();
        let projection = match projector {
            None => None,
            Some(projector) => Some(projector.project(lines.iter().copied())?),
        };
        out.open_object();
        write_totals(out, &lines, usage, whole, projection.as_ref())?;
        out.key("grouped_by");
        write_group(out, group);
        out.key("filters").open_array();
        if !usage.charge.filters.is_empty() {
            write_filters(out, &usage.buckets, Some(group), usage, whole, projector)?;
        }
        out.close_array();
        out.key("presentation_breakdowns");
        write_lines_breakdowns(out, &lines);
        out.close_object();
    }
    out.close_array();
    Ok(())
}

/// `{key: value|null}`.
fn write_group(out: &mut JsonText, group: &GroupValues) {
    out.open_object();
    for (key, value) in group {
        out.key_text(key).optional_string(value.as_deref());
    }
    out.close_object();
}

/// The presentation breakdowns of a set of lines.
fn write_lines_breakdowns(out: &mut JsonText, lines: &[(&FeeLine, &ChargeModel)]) {
    let rows: Vec<&Breakdown> = lines
        .iter()
        .flat_map(|(l, _)| l.breakdowns.iter())
        .collect();
    write_breakdowns(out, &rows);
}

fn write_breakdowns(out: &mut JsonText, rows: &[&Breakdown]) {
    out.open_array();
    for row in rows {
        out.open_object();
        out.key("presentation_by");
        write_group(out, &row.groups);
        out.key("units").decimal(row.value);
        out.close_object();
    }
    out.close_array();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Instants as chrono's `format` writes them, across years (with a sign outside 0–9999),
    /// fractions of a second dropped.
    #[test]
    fn instants_as_chrono_writes_them() {
        let seconds = [
            -62_167_219_200i64 - 86_400,
            -62_167_219_200,
            -1,
            0,
            951_782_400,
            1_751_327_999,
            1_750_420_800,
            253_402_300_799,
            253_402_300_800,
            1_000_000_000_000,
        ];
        for second in seconds {
            for nanos in [0, 999_999_999] {
                let at = DateTime::from_timestamp(second, nanos).unwrap();
                assert_eq!(
                    datetime_text(at),
                    truncate_to_second(at)
                        .format("%Y-%m-%dT%H:%M:%SZ")
                        .to_string()
                );
            }
        }
    }
}
