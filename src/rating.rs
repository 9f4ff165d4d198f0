//! The rating API on JSON: what `src/wasm.rs` exposes to JavaScript, also usable natively.
//!
//! Every function takes a request object with Lago's field names and returns Lago-shaped JSON:
//! decimals as strings (`"12.0"`), cents and counts as integers. Bad input is an `Error`, never a
//! panic.

use crate::charge_models::grouped::{self, Group};
use crate::charge_models::prorated_graduated::ProratedEvent;
use crate::charge_models::{
    self, fields, percentage, Aggregation, ChargeModel, Context, Priced, ValidationContext,
};
use crate::error::{Error, ErrorDetails, Result};
use crate::fees::{self, AppliedPricingUnit, Fee, FeeContext, PricingUnitUsage, TrueUpInput};
use crate::input::Input;
use crate::json::{self, fields, object};
use crate::limits::{FILTERS_MAX, PER_EVENT_VALUES_MAX};
use crate::money::{add, div_or_zero, mul, round_half_up, sum, Currency};
use crate::number::{decimal_from_json, is_json_integer, ruby_decimal};
use crate::pay_in_advance::{self, InAdvanceEvent};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// The largest integer JavaScript represents exactly; cents beyond it would be silently wrong.
const JS_SAFE_INTEGER_MAX: i64 = 9_007_199_254_740_991;

/// A charge as a request describes it: the model, how to compute, and in what currency.
struct ChargeSpec {
    model: ChargeModel,
    props: fields::Properties,
    ctx: Context,
    aggregation_type: String,
    pricing_unit: Option<AppliedPricingUnit>,
    pay_in_advance: bool,
    rounding: Option<MetricRounding>,
}

/// A billable metric's `rounding_function` and `rounding_precision`, applied to units before
/// pricing (not to pay-in-advance events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricRounding {
    Round(i32),
    Ceil(i32),
    Floor(i32),
}

fn parse_rounding(input: &Input) -> Result<Option<MetricRounding>> {
    let Some(function) = input.str("rounding_function")? else {
        return Ok(None);
    };
    let precision = match input.decimal("rounding_precision")? {
        None => 0,
        Some(p) if p.fract().is_zero() && p.abs() <= Decimal::from(28) => i32::try_from(p)
            .map_err(|_| Error::invalid("rounding_precision", "value_is_invalid"))?,
        Some(_) => return Err(Error::invalid("rounding_precision", "value_is_invalid")),
    };
    Ok(Some(match function {
        "round" => MetricRounding::Round(precision),
        "ceil" => MetricRounding::Ceil(precision),
        "floor" => MetricRounding::Floor(precision),
        _ => return Err(Error::invalid("rounding_function", "value_is_invalid")),
    }))
}

/// Ruby's `round(p)` (half up), `ceil(p)` and `floor(p)`; a negative precision rounds to tens,
/// hundreds, ….
fn round_metric_units(units: Decimal, rounding: Option<MetricRounding>) -> Result<Decimal> {
    use rust_decimal::RoundingStrategy::{
        MidpointAwayFromZero, ToNegativeInfinity, ToPositiveInfinity,
    };
    let Some(rounding) = rounding else {
        return Ok(units);
    };
    let (precision, strategy) = match rounding {
        MetricRounding::Round(p) => (p, MidpointAwayFromZero),
        MetricRounding::Ceil(p) => (p, ToPositiveInfinity),
        MetricRounding::Floor(p) => (p, ToNegativeInfinity),
    };
    if precision >= 0 {
        return Ok(units.round_dp_with_strategy(precision.unsigned_abs(), strategy));
    }
    let step = Decimal::from(10_i64.pow(precision.unsigned_abs().min(18)));
    let scaled = div_or_zero(units, step)?.round_dp_with_strategy(0, strategy);
    mul(scaled, step)
}

impl ChargeSpec {
    /// The same charge priced with other properties (a filter's, which replace the charge's).
    fn with_properties(&self, props: fields::Properties) -> Result<ChargeSpec> {
        Ok(ChargeSpec {
            model: ChargeModel::parse(self.model.name(), &props)?,
            props,
            ctx: self.ctx,
            aggregation_type: self.aggregation_type.clone(),
            pricing_unit: self.pricing_unit.clone(),
            pay_in_advance: self.pay_in_advance,
            rounding: self.rounding,
        })
    }
}

fn parse_charge(input: &Input) -> Result<ChargeSpec> {
    let name = input
        .str("charge_model")?
        .ok_or_else(|| Error::invalid("charge_model", "value_is_mandatory"))?;
    let props = input.object("properties")?.cloned().unwrap_or_default();
    let model = ChargeModel::parse(name, &props)?;
    let currency = Currency::parse_or_default(input.str("currency")?)?;
    let ctx = Context {
        premium: input.bool_or("premium", true)?,
        prorated: input.bool_or("prorated", false)?,
        currency,
        exclude_event: false,
    };
    let pricing_unit = match input.object("applied_pricing_unit")? {
        None => None,
        Some(unit) => {
            let unit = Input(unit);
            let rate = unit.required_decimal("conversion_rate")?;
            if rate <= Decimal::ZERO {
                return Err(Error::invalid("conversion_rate", "value_is_invalid"));
            }
            Some(AppliedPricingUnit {
                conversion_rate: rate,
                short_name: unit.str("short_name")?.map(str::to_string),
            })
        }
    };
    Ok(ChargeSpec {
        model,
        props,
        ctx,
        aggregation_type: input
            .str("aggregation_type")?
            .unwrap_or("sum_agg")
            .to_string(),
        pricing_unit,
        pay_in_advance: input.bool_or("pay_in_advance", false)?,
        rounding: parse_rounding(input)?,
    })
}

/// Reads an aggregation from the fields of `input` (the request itself, a group or a filter).
fn parse_aggregation(input: &Input, spec: &ChargeSpec) -> Result<Aggregation> {
    let units = round_metric_units(input.decimal_or_zero("units")?, spec.rounding)?;
    let per_event_values = input.decimals("per_event_amounts")?.unwrap_or_default();
    // Without an explicit count, each per-event value is one event.
    let events_count = match input.get("events_count") {
        None => per_event_values.len() as u64,
        Some(_) => input.count("events_count")?,
    };
    let prorated_events = match (
        input.decimals("per_event_full_units")?,
        input.decimals("per_event_prorated_units")?,
    ) {
        (None, None) => None,
        (Some(full), Some(prorated)) if full.len() == prorated.len() => Some(
            full.into_iter()
                .zip(prorated)
                .map(|(full, prorated)| ProratedEvent { full, prorated })
                .collect(),
        ),
        _ => {
            return Err(Error::invalid(
                "per_event_prorated_units",
                "value_is_invalid",
            ))
        }
    };
    let given_running_total = input.decimals("running_total")?;
    // Per-transaction min/max prices each event on its own, and free events are the first N
    // events' amounts: without every event's amount (or, for free events, the running total)
    // the answer would be wrong rather than an error, so the amounts are required then.
    if let ChargeModel::Percentage(props) = &spec.model {
        let per_transaction = spec.ctx.premium
            && (props.per_transaction_min_amount.is_some()
                || props.per_transaction_max_amount.is_some());
        let free_events = props.free_units_per_events > 0 && given_running_total.is_none();
        if (per_transaction || free_events) && per_event_values.len() as u64 != events_count {
            return Err(Error::invalid("per_event_amounts", "value_is_mandatory"));
        }
    }
    let running_total = match (given_running_total, &spec.model) {
        (Some(totals), _) => totals,
        (None, ChargeModel::Percentage(props)) => {
            percentage::running_total(&spec.aggregation_type, props, &per_event_values, units)?
        }
        (None, _) => Vec::new(),
    };
    let custom_amount = match input.object("custom_aggregation")? {
        Some(custom) => Input(custom).decimal("amount")?,
        None => None,
    };
    Ok(Aggregation {
        units,
        full_units_number: input.decimal("full_units_number")?,
        current_usage_units: input.decimal("current_usage_units")?,
        total_aggregated_units: input.decimal("total_aggregated_units")?,
        events_count,
        running_total,
        per_event_values,
        paid_events_price: None,
        prorated_events,
        precise_total_amount_cents: input.decimal_or_zero("precise_total_amount_cents")?,
        custom_amount,
    })
}

fn parse_groups(input: &Input, spec: &ChargeSpec) -> Result<Option<Vec<Group>>> {
    let Some(items) = input.array("groups")? else {
        return Ok(None);
    };
    items
        .iter()
        .map(|item| {
            let group = Input::of(item)?;
            Ok(Group {
                grouped_by: group.object("grouped_by")?.cloned().unwrap_or_default(),
                aggregation: parse_aggregation(&group, spec)?,
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

pub(crate) fn decimal_json(value: Decimal) -> Value {
    Value::String(ruby_decimal(value))
}

fn optional_decimal_json(value: Option<Decimal>) -> Value {
    value.map_or(Value::Null, decimal_json)
}

/// Cents as a JSON integer: whole, and within what JavaScript represents exactly.
pub(crate) fn cents_json(value: Decimal, field: &str) -> Result<Value> {
    whole_cents(value, field).map(Value::from)
}

/// Cents as the integer JSON shows: whole, and within what JavaScript represents exactly.
pub(crate) fn whole_cents(value: Decimal, field: &str) -> Result<i64> {
    let whole =
        i64::try_from(value.trunc()).map_err(|_| Error::invalid(field, "value_is_out_of_range"))?;
    if whole.abs() > JS_SAFE_INTEGER_MAX || !value.fract().is_zero() {
        return Err(Error::invalid(field, "value_is_out_of_range"));
    }
    Ok(whole)
}

fn priced_json(priced: &Priced, aggregation: &Aggregation) -> Value {
    object! {
        "units": decimal_json(aggregation.units),
        "full_units_number": optional_decimal_json(aggregation.full_units_number),
        "total_aggregated_units": optional_decimal_json(aggregation.total_aggregated_units),
        "count": Value::from(aggregation.events_count),
        "amount": decimal_json(priced.amount),
        "unit_amount": decimal_json(priced.unit_amount),
        "amount_details": priced.amount_details.to_json(),
    }
}

/// Prices a charge on given units (or on `groups`, each priced on its own).
pub fn price_charge(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let spec = parse_charge(&input)?;
    let Some(groups) = parse_groups(&input, &spec)? else {
        let aggregation = parse_aggregation(&input, &spec)?;
        let priced = spec
            .model
            .apply(&aggregation, &spec.ctx)
            .map_err(|e| e.in_field("amount"))?;
        let mut out = priced_json(&priced, &aggregation);
        out["charge_model"] = Value::from(spec.model.name());
        return Ok(out);
    };
    let results =
        grouped::apply(&spec.model, &groups, &spec.ctx).map_err(|e| e.in_field("amount"))?;
    let grouped_results: Vec<Value> = groups
        .iter()
        .zip(&results)
        .map(|(group, priced)| {
            let mut out = priced_json(priced, &group.aggregation);
            out["grouped_by"] = Value::Object(group.grouped_by.clone());
            out
        })
        .collect();
    let amount = sum(results.iter().map(|p| p.amount)).map_err(|e| e.in_field("amount"))?;
    let units = sum(groups.iter().map(|g| g.aggregation.units)).map_err(|e| e.in_field("units"))?;
    Ok(object! {
        "charge_model": Value::from(spec.model.name()),
        "units": decimal_json(units),
        "count": Value::from(groups.iter().map(|g| g.aggregation.events_count).sum::<u64>()),
        "amount": decimal_json(amount),
        "amount_details": object! {},
        "grouped_results": Value::Array(grouped_results),
    })
}

fn fee_context(input: &Input, default: FeeContext) -> Result<FeeContext> {
    match input.str("context")? {
        None => Ok(default),
        Some("current_usage") => Ok(FeeContext::CurrentUsage),
        Some("invoice") => Ok(FeeContext::Invoice),
        Some(_) => Err(Error::invalid("context", "value_is_invalid")),
    }
}

fn pricing_unit_json(usage: &PricingUnitUsage) -> Result<Value> {
    Ok(object! {
        "amount_cents": cents_json(usage.amount_cents, "pricing_unit_amount_cents")?,
        "precise_amount_cents": decimal_json(usage.precise_amount_cents),
        "unit_amount_cents": cents_json(usage.unit_amount_cents, "pricing_unit_unit_amount_cents")?,
        "precise_unit_amount": decimal_json(usage.precise_unit_amount),
        "conversion_rate": decimal_json(usage.conversion_rate),
    })
}

fn fee_json(fee: &Fee, currency: Currency) -> Result<Value> {
    Ok(object! {
        "units": decimal_json(fee.units),
        "events_count": Value::from(fee.events_count),
        "amount_cents": cents_json(fee.amount_cents, "amount_cents")?,
        "amount_currency": Value::from(currency.code),
        "precise_amount_cents": decimal_json(fee.precise_amount_cents),
        "unit_amount_cents": cents_json(fee.unit_amount_cents, "unit_amount_cents")?,
        "precise_unit_amount": decimal_json(fee.precise_unit_amount),
        "total_aggregated_units": optional_decimal_json(fee.total_aggregated_units),
        "amount_details": fee.amount_details.to_json(),
        "pricing_unit_usage": match &fee.pricing_unit_usage {
            Some(usage) => pricing_unit_json(usage)?,
            None => Value::Null,
        },
    })
}

fn fee_for(spec: &ChargeSpec, aggregation: &Aggregation, context: FeeContext) -> Result<Fee> {
    let priced = spec
        .model
        .apply(aggregation, &spec.ctx)
        .map_err(|e| e.in_field("amount"))?;
    let units = fees::shown_units(aggregation, spec.ctx.prorated, spec.pay_in_advance, context);
    fees::build(
        priced,
        aggregation,
        units,
        spec.ctx.currency,
        spec.pricing_unit.as_ref(),
    )
}

/// Builds one usage line (fee) in cents from a charge and an aggregation.
pub fn build_fee(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let spec = parse_charge(&input)?;
    if input.get("groups").is_some() {
        return Err(Error::invalid(
            "groups",
            "use_build_charge_usage_for_groups",
        ));
    }
    let aggregation = parse_aggregation(&input, &spec)?;
    let fee = fee_for(
        &spec,
        &aggregation,
        fee_context(&input, FeeContext::Invoice)?,
    )?;
    fee_json(&fee, spec.ctx.currency)
}

/// A fee with the group it prices (`None` when the charge is not grouped).
type GroupFee = (Option<Map<String, Value>>, Fee);

/// One priced bucket of a charge (a filter, or the default bucket): its fees, one per group.
struct Bucket {
    values: Value,
    invoice_display_name: Value,
    fees: Vec<GroupFee>,
}

fn bucket_fees(input: &Input, spec: &ChargeSpec, context: FeeContext) -> Result<Vec<GroupFee>> {
    match parse_groups(input, spec)? {
        None => Ok(vec![(
            None,
            fee_for(spec, &parse_aggregation(input, spec)?, context)?,
        )]),
        Some(groups) => groups
            .iter()
            .map(|g| {
                Ok((
                    Some(g.grouped_by.clone()),
                    fee_for(spec, &g.aggregation, context)?,
                ))
            })
            .collect(),
    }
}

/// Totals of a set of fees, as Lago's charge usage serializer sums them.
fn totals_json(fees: &[&Fee], spec: &ChargeSpec) -> Result<Map<String, Value>> {
    let units = sum(fees.iter().map(|f| f.units)).map_err(|e| e.in_field("units"))?;
    let amount_cents =
        sum(fees.iter().map(|f| f.amount_cents)).map_err(|e| e.in_field("amount_cents"))?;
    let mut out = fields! {
        "units": decimal_json(units),
        "events_count": Value::from(fees.iter().map(|f| f.events_count).sum::<u64>()),
        "amount_cents": cents_json(amount_cents, "amount_cents")?,
        "amount_currency": Value::from(spec.ctx.currency.code),
    };
    let pricing_unit_details = match &spec.pricing_unit {
        None => Value::Null,
        Some(unit) => {
            let pu_cents = sum(fees
                .iter()
                .filter_map(|f| f.pricing_unit_usage.as_ref())
                .map(|u| u.amount_cents))?;
            object! {
                "amount_cents": cents_json(pu_cents, "pricing_unit_amount_cents")?,
                "short_name": json::text_or_null(unit.short_name.as_deref()),
                "conversion_rate": decimal_json(unit.conversion_rate),
            }
        }
    };
    out.insert("pricing_unit_details".into(), pricing_unit_details);
    Ok(out)
}

/// Builds a charge's usage line in cents: one fee per filter bucket and group (the default
/// bucket last), their totals, optional taxes, and the spending-minimum true-up on invoices.
pub fn build_charge_usage(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let spec = parse_charge(&input)?;
    let context = fee_context(&input, FeeContext::CurrentUsage)?;
    let filters = input
        .array("filters")?
        .map(Vec::as_slice)
        .unwrap_or_default();
    if filters.len() > FILTERS_MAX {
        return Err(Error::invalid("filters", "too_many_filters"));
    }
    let mut buckets = Vec::new();
    for filter in filters {
        let filter_input = Input::of(filter)?;
        let props = filter_input.object("properties")?.unwrap_or(&spec.props);
        let filter_spec = spec.with_properties(props.clone())?;
        buckets.push(Bucket {
            values: filter_input.get("values").cloned().unwrap_or(object! {}),
            invoice_display_name: filter_input
                .get("invoice_display_name")
                .cloned()
                .unwrap_or(Value::Null),
            fees: bucket_fees(&filter_input, &filter_spec, context)?,
        });
    }
    buckets.push(Bucket {
        values: Value::Null,
        invoice_display_name: Value::Null,
        fees: bucket_fees(&input, &spec, context)?,
    });

    let all_fees: Vec<&Fee> = buckets
        .iter()
        .flat_map(|b| b.fees.iter().map(|(_, f)| f))
        .collect();
    let mut out = totals_json(&all_fees, &spec)?;
    let filters_json = if filters.is_empty() {
        Vec::new()
    } else {
        buckets
            .iter()
            .map(|bucket| {
                let fees: Vec<&Fee> = bucket.fees.iter().map(|(_, f)| f).collect();
                let mut entry = totals_json(&fees, &spec)?;
                entry.insert("values".into(), bucket.values.clone());
                entry.insert(
                    "invoice_display_name".into(),
                    bucket.invoice_display_name.clone(),
                );
                Ok(Value::Object(entry))
            })
            .collect::<Result<Vec<_>>>()?
    };
    out.insert("filters".into(), Value::Array(filters_json));
    out.insert(
        "grouped_usage".into(),
        Value::Array(grouped_usage(&buckets, &spec)?),
    );
    let fees_json = all_fees
        .iter()
        .map(|f| fee_json(f, spec.ctx.currency))
        .collect::<Result<Vec<_>>>()?;
    out.insert("fees".into(), Value::Array(fees_json));
    insert_taxes(&input, &mut out, &all_fees)?;
    let true_up = charge_true_up(&input, &spec, &all_fees, context)?;
    out.insert(
        "true_up_fee".into(),
        match true_up {
            Some(fee) => fee_json(&fee, spec.ctx.currency)?,
            None => Value::Null,
        },
    );
    Ok(Value::Object(out))
}

/// Fees with the same `grouped_by` across buckets, summed (Lago's `grouped_usage`).
fn grouped_usage(buckets: &[Bucket], spec: &ChargeSpec) -> Result<Vec<Value>> {
    let mut keys: Vec<&Map<String, Value>> = Vec::new();
    for bucket in buckets {
        for (grouped_by, _) in &bucket.fees {
            if let Some(key) = grouped_by {
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys.into_iter()
        .map(|key| {
            let fees: Vec<&Fee> = buckets
                .iter()
                .flat_map(|b| b.fees.iter())
                .filter(|(g, _)| g.as_ref() == Some(key))
                .map(|(_, f)| f)
                .collect();
            let mut entry = totals_json(&fees, spec)?;
            entry.insert("grouped_by".into(), Value::Object(key.clone()));
            Ok(Value::Object(entry))
        })
        .collect()
}

/// `taxes: [{rate}]`: Lago sums `amount_cents × rate ÷ 100` over fees and taxes unrounded and
/// rounds once, half up.
fn insert_taxes(input: &Input, out: &mut Map<String, Value>, fees: &[&Fee]) -> Result<()> {
    let Some(taxes) = input.array("taxes")? else {
        return Ok(());
    };
    let mut rates = Vec::new();
    for tax in taxes {
        rates.push(Input::of(tax)?.required_decimal("rate")?);
    }
    let mut taxes_total = Decimal::ZERO;
    for fee in fees {
        for rate in &rates {
            taxes_total = add(
                taxes_total,
                div_or_zero(mul(fee.amount_cents, *rate)?, Decimal::ONE_HUNDRED)?,
            )?;
        }
    }
    let taxes_amount_cents = round_half_up(taxes_total, 0);
    let amount_cents = sum(fees.iter().map(|f| f.amount_cents))?;
    out.insert(
        "taxes_amount_cents".into(),
        cents_json(taxes_amount_cents, "taxes_amount_cents")?,
    );
    out.insert(
        "total_amount_cents".into(),
        cents_json(add(amount_cents, taxes_amount_cents)?, "total_amount_cents")?,
    );
    Ok(())
}

fn charge_true_up(
    input: &Input,
    spec: &ChargeSpec,
    all_fees: &[&Fee],
    context: FeeContext,
) -> Result<Option<Fee>> {
    let min_amount_cents = input.decimal_or_zero("min_amount_cents")?;
    if min_amount_cents <= Decimal::ZERO || context != FeeContext::Invoice {
        return Ok(None);
    }
    let (used, used_precise) = match &spec.pricing_unit {
        None => (
            sum(all_fees.iter().map(|f| f.amount_cents))?,
            sum(all_fees.iter().map(|f| f.precise_amount_cents))?,
        ),
        Some(_) => {
            let usages: Vec<&PricingUnitUsage> = all_fees
                .iter()
                .filter_map(|f| f.pricing_unit_usage.as_ref())
                .collect();
            (
                sum(usages.iter().map(|u| u.amount_cents))?,
                sum(usages.iter().map(|u| u.precise_amount_cents))?,
            )
        }
    };
    let true_up_input = TrueUpInput {
        min_amount_cents,
        used_amount_cents: used,
        used_precise_amount_cents: used_precise,
        charges_duration_days: days(input, "charges_duration_days")?,
        billed_days: days(input, "billed_days")?,
    };
    fees::true_up(
        &true_up_input,
        spec.ctx.currency,
        spec.pricing_unit.as_ref(),
    )
}

fn days(input: &Input, key: &str) -> Result<u32> {
    let count = input.count(key)?;
    if count == 0 {
        return Err(Error::invalid(key, "value_is_mandatory"));
    }
    u32::try_from(count).map_err(|_| Error::invalid(key, "value_is_out_of_range"))
}

/// The spending-minimum true-up on its own.
pub fn true_up(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let currency = Currency::parse_or_default(input.str("currency")?)?;
    let pricing_unit = match input.object("applied_pricing_unit")? {
        Some(unit) => Some(AppliedPricingUnit {
            conversion_rate: Input(unit).required_decimal("conversion_rate")?,
            short_name: Input(unit).str("short_name")?.map(str::to_string),
        }),
        None => None,
    };
    let true_up_input = TrueUpInput {
        min_amount_cents: input.required_decimal("min_amount_cents")?,
        used_amount_cents: input.decimal_or_zero("used_amount_cents")?,
        used_precise_amount_cents: match input.decimal("used_precise_amount_cents")? {
            Some(precise) => precise,
            None => input.decimal_or_zero("used_amount_cents")?,
        },
        charges_duration_days: days(&input, "charges_duration_days")?,
        billed_days: days(&input, "billed_days")?,
    };
    match fees::true_up(&true_up_input, currency, pricing_unit.as_ref())? {
        None => Ok(object! {
            "true_up": Value::Bool(false),
            "fee": Value::Null,
        }),
        Some(fee) => Ok(object! {
            "true_up": Value::Bool(true),
            "fee": fee_json(&fee, currency)?,
        }),
    }
}

fn in_advance_event(value: &Value, key: &str) -> Result<InAdvanceEvent> {
    if let Value::Object(event) = value {
        let event = Input(event);
        return Ok(InAdvanceEvent {
            value: event.decimal("value")?.unwrap_or(Decimal::ONE),
            precise_total_amount_cents: event.decimal_or_zero("precise_total_amount_cents")?,
        });
    }
    match decimal_from_json(value) {
        Ok(number) => Ok(InAdvanceEvent {
            value: number,
            precise_total_amount_cents: Decimal::ZERO,
        }),
        Err(_) => Err(Error::invalid(key, "value_is_invalid")),
    }
}

/// The fee of one pay-in-advance event, given the period's earlier events (or the two costs).
pub fn pay_in_advance_fee(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let currency = Currency::parse_or_default(input.str("currency")?)?;
    let fee = if let Some(cost_with) = input.decimal("cost_including_event")? {
        let units = input
            .decimal("pay_in_advance_units")?
            .unwrap_or(Decimal::ONE);
        pay_in_advance::fee_from_costs(
            cost_with,
            input.decimal_or_zero("cost_excluding_event")?,
            units,
            currency,
        )?
    } else {
        let spec = parse_charge(&input)?;
        let event = in_advance_event(
            input
                .get("event")
                .ok_or_else(|| Error::invalid("event", "value_is_mandatory"))?,
            "event",
        )?;
        let before = input
            .array("events_before")?
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|v| in_advance_event(v, "events_before"))
            .collect::<Result<Vec<_>>>()?;
        if before.len() > PER_EVENT_VALUES_MAX {
            return Err(Error::invalid("events_before", "too_many_values"));
        }
        pay_in_advance::fee(
            &spec.model,
            &spec.ctx,
            &spec.aggregation_type,
            &before,
            &event,
        )
        .map_err(|e| e.in_field("amount"))?
    };
    Ok(object! {
        "units": decimal_json(fee.units),
        "events_count": Value::from(1),
        "amount_cents": cents_json(fee.amount_cents, "amount_cents")?,
        "amount_currency": Value::from(currency.code),
        "precise_amount_cents": decimal_json(fee.precise_amount_cents),
        "unit_amount": decimal_json(fee.unit_amount),
        "unit_amount_cents": cents_json(fee.unit_amount_cents, "unit_amount_cents")?,
        "amount_details": fee.amount_details,
    })
}

/// Lago's instant estimate of one event's fee (standard and percentage only).
pub fn estimate_instant(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let spec = parse_charge(&input)?;
    let units =
        round_metric_units(input.decimal_or_zero("units")?, spec.rounding)?.max(Decimal::ZERO);
    let amount = match &spec.model {
        ChargeModel::Standard(model) => mul(units, model.amount)?,
        ChargeModel::Percentage(model) => model.estimate_instant(units)?,
        _ => {
            return Err(Error::invalid(
                "charge_model",
                "invalid_charge_model_for_estimate",
            ))
        }
    };
    Ok(object! {
        "units": decimal_json(units),
        "amount": decimal_json(amount),
    })
}

/// One tier of a graduated or graduated_percentage charge, in isolation.
pub fn range_detail(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let range = input
        .get("range")
        .ok_or_else(|| Error::invalid("range", "value_is_mandatory"))?;
    let total_units = input.decimal_or_zero("total_units")?;
    match input.str("charge_model")? {
        Some("graduated_percentage") => {
            let props = object! {
                "graduated_percentage_ranges": Value::Array(vec![range.clone()]),
            };
            let model = charge_models::graduated_percentage::GraduatedPercentage::parse(
                props.as_object().unwrap_or(&Map::new()),
            )?;
            let detail =
                charge_models::graduated_percentage::range_detail(&model.ranges[0], total_units)?;
            Ok(detail.to_json())
        }
        _ => {
            let props = object! {
                "graduated_ranges": Value::Array(vec![range.clone()]),
            };
            let model = charge_models::graduated::Graduated::parse(
                props.as_object().unwrap_or(&Map::new()),
            )?;
            let adjacent = input.bool_or("adjacent_model", false)?;
            let detail =
                charge_models::graduated::range_detail(&model.ranges[0], total_units, adjacent)?;
            Ok(detail.to_json())
        }
    }
}

/// Pricing-unit amounts from a model's output in pricing units (Lago's `build_from_fiat_amounts`).
pub fn pricing_unit_usage(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let usage = PricingUnitUsage::build(
        input.required_decimal("amount")?,
        input.decimal_or_zero("unit_amount")?,
        input.required_decimal("conversion_rate")?,
    )?;
    pricing_unit_json(&usage)
}

/// Pricing-unit cents to currency cents (Lago's `to_fiat_currency_cents`).
pub fn pricing_unit_to_fiat(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let currency = Currency::parse_or_default(input.str("currency")?)?;
    let amount_cents = input.required_decimal("amount_cents")?;
    let usage = PricingUnitUsage {
        amount_cents,
        precise_amount_cents: input
            .decimal("precise_amount_cents")?
            .unwrap_or(amount_cents),
        unit_amount_cents: input.decimal_or_zero("unit_amount_cents")?,
        precise_unit_amount: Decimal::ZERO,
        conversion_rate: input.required_decimal("conversion_rate")?,
    };
    let fiat = usage.to_fiat(currency)?;
    Ok(object! {
        "amount_cents": cents_json(fiat.amount_cents, "amount_cents")?,
        "precise_amount_cents": decimal_json(fiat.precise_amount_cents),
        "unit_amount_cents": decimal_json(fiat.unit_amount_cents),
        "precise_unit_amount": decimal_json(fiat.precise_unit_amount),
    })
}

/// Validates a charge as Lago does: the model's property validators, then the charge rules
/// that need the metric, pay-in-advance, proration and the spending minimum.
pub fn validate_charge(request: &Value) -> Result<Value> {
    let input = Input::of(request)?;
    let name = input
        .str("charge_model")?
        .ok_or_else(|| Error::invalid("charge_model", "value_is_mandatory"))?;
    let props = input.object("properties")?.cloned().unwrap_or_default();
    let aggregation_type = match input.object("billable_metric")? {
        Some(metric) => Input(metric).str("aggregation_type")?.map(str::to_string),
        None => input.str("aggregation_type")?.map(str::to_string),
    };
    let ctx = ValidationContext {
        premium: input.bool_or("premium", true)?,
        aggregation_type: aggregation_type.clone(),
    };
    let mut errors = charge_models::validate(name, &props, &ctx);
    charge_rules(
        &input,
        name,
        aggregation_type.as_deref(),
        ctx.premium,
        &mut errors,
    )?;
    Ok(if errors.is_empty() {
        object! {
            "valid": Value::Bool(true),
            "error": Value::Null,
        }
    } else {
        object! {
            "valid": Value::Bool(false),
            "error": Error::Validation(errors).to_json(),
        }
    })
}

/// Every validation error of a plan's charge (properties and charge rules), for the engine.
pub(crate) fn charge_errors(
    charge: &Map<String, Value>,
    aggregation_type: &str,
    recurring: bool,
    premium: bool,
) -> Result<ErrorDetails> {
    let input = Input(charge);
    let name = input
        .str("charge_model")?
        .ok_or_else(|| Error::invalid("charge_model", "value_is_mandatory"))?;
    let props = input.object("properties")?.cloned().unwrap_or_default();
    let ctx = ValidationContext {
        premium,
        aggregation_type: Some(aggregation_type.to_string()),
    };
    let mut errors = charge_models::validate(name, &props, &ctx);
    let mut with_metric = charge.clone();
    with_metric.insert("recurring".into(), Value::Bool(recurring));
    charge_rules(
        &Input(&with_metric),
        name,
        Some(aggregation_type),
        premium,
        &mut errors,
    )?;
    Ok(errors)
}

/// Lago's `Charge` model validations beyond the properties.
fn charge_rules(
    input: &Input,
    name: &str,
    aggregation_type: Option<&str>,
    premium: bool,
    errors: &mut ErrorDetails,
) -> Result<()> {
    let pay_in_advance = input.bool_or("pay_in_advance", false)?;
    let prorated = input.bool_or("prorated", false)?;
    let payable_in_advance = |agg: &str| {
        matches!(
            agg,
            "count_agg" | "sum_agg" | "unique_count_agg" | "custom_agg"
        )
    };
    if pay_in_advance
        && (name == "volume" || aggregation_type.is_some_and(|a| !payable_in_advance(a)))
    {
        errors.add("pay_in_advance", "invalid_aggregation_type_or_charge_model");
    }
    if name == "dynamic" && aggregation_type.is_some_and(|a| a != "sum_agg") {
        errors.add("charge_model", "invalid_aggregation_type_or_charge_model");
    }
    if name == "custom" && aggregation_type.is_some_and(|a| a != "custom_agg") {
        errors.add("charge_model", "invalid_aggregation_type_or_charge_model");
    }
    if name == "graduated_percentage" && !premium {
        errors.add(
            "charge_model",
            "graduated_percentage_requires_premium_license",
        );
    }
    if prorated {
        let recurring = input.bool_or("recurring", true)?;
        let metric_ok = recurring
            && aggregation_type.is_none_or(|a| matches!(a, "sum_agg" | "unique_count_agg"));
        let model_ok = if pay_in_advance {
            name == "standard"
        } else {
            matches!(name, "standard" | "volume" | "graduated")
        };
        if !metric_ok || !model_ok {
            errors.add("prorated", "invalid_billable_metric_or_charge_model");
        }
    }
    if let Some(min) = input.get("min_amount_cents") {
        match decimal_from_json(min) {
            Ok(min_cents) if min_cents < Decimal::ZERO || !is_json_integer(min) => {
                errors.add("min_amount_cents", "value_is_invalid");
            }
            Ok(min_cents) if min_cents > Decimal::ZERO && pay_in_advance => {
                errors.add("min_amount_cents", "not_compatible_with_pay_in_advance");
            }
            Ok(_) => {}
            Err(_) => errors.add("min_amount_cents", "value_is_invalid"),
        }
    }
    Ok(())
}

/// Lago's `DecimalAmountService`: is `value` a valid amount (a string, finite, ≥ 0, or > 0)?
pub fn is_valid_amount(value: &Value, positive: bool) -> bool {
    fields::valid_amount(Some(value), positive)
}

/// A currency's code, exponent and subunit, or a 422 for an unknown code.
pub fn currency(code: &str) -> Result<Value> {
    let currency =
        Currency::from_code(code).ok_or_else(|| Error::invalid("currency", "value_is_invalid"))?;
    Ok(object! {
        "code": Value::from(currency.code),
        "exponent": Value::from(currency.exponent),
        "subunit_to_unit": Value::from(currency.subunit_to_unit),
    })
}

/// Parses request text into JSON, bounded in size; a syntax error is a 400.
pub fn parse_request(text: &str) -> Result<Value> {
    if text.len() > crate::limits::REQUEST_BYTES_MAX {
        return Err(Error::invalid("body", "value_is_too_long"));
    }
    serde_json::from_str(text).map_err(|e| Error::BadRequest(format!("invalid JSON: {e}")))
}
