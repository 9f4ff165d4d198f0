//! The organisation's entities as the engine keeps them, parsed from Lago's API bodies (the inner
//! object: `{"external_id": …}` for `POST /customers`' `{"customer": {…}}`).
//!
//! Each entity keeps the JSON it was last given (`input`), so an export is that JSON and an import
//! parses it again: one parser, no second format to keep in step.

use crate::aggregations::filters::{
    matching_and_ignored, ChargeFilter as FilterRule, EventFilter, FilterValues, ALL_FILTER_VALUES,
};
use crate::aggregations::{AggregationType, BillableMetric};
use crate::charge_models::{fields, ChargeModel};
use crate::error::{Error, ErrorDetails, Result};
use crate::fees::AppliedPricingUnit;
use crate::money::Currency;
use crate::number::{decimal_from_json, NumError};
use crate::period::interval::Interval;
use crate::period::tz::Tz;
use crate::period::BillingTime;
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use std::str::FromStr;

/// Charges per plan and filters per metric: far above real plans, low enough to bound a request.
pub const CHARGES_MAX: usize = 1_000;

/// The organisation's settings (Lago's organisation and default billing entity).
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    /// Lago's premium licence (per-transaction min/max, graduated percentage, …).
    pub premium: bool,
    /// Premium integrations turned on (`projected_usage`, `granular_lifetime_usage`, …).
    pub premium_integrations: Vec<String>,
    /// The timezone of customers that have none.
    pub timezone: Tz,
    /// The JSON it was built from.
    pub input: Map<String, Value>,
}

impl Default for Organization {
    fn default() -> Self {
        Organization {
            premium: true,
            premium_integrations: vec![
                "projected_usage".to_string(),
                "granular_lifetime_usage".to_string(),
            ],
            timezone: Tz::UTC,
            input: Map::new(),
        }
    }
}

impl Organization {
    /// `{premium, premium_integrations, timezone}`; absent keys keep their defaults.
    pub fn parse(input: &Map<String, Value>) -> Result<Organization> {
        let mut org = Organization::default();
        let mut errors = ErrorDetails::default();
        if let Some(premium) = flag(input, "premium", &mut errors) {
            org.premium = premium;
        }
        if let Some(list) = input.get("premium_integrations").filter(|v| !v.is_null()) {
            match strings(list) {
                Some(names) => org.premium_integrations = names,
                None => errors.add("premium_integrations", "value_is_invalid"),
            }
        }
        if let Some(tz) = timezone(input, "timezone", &mut errors) {
            org.timezone = tz;
        }
        errors.into_result()?;
        org.input = input.clone();
        Ok(org)
    }

    /// True when the premium integration `name` is on.
    pub fn has_integration(&self, name: &str) -> bool {
        self.premium_integrations.iter().any(|n| n == name)
    }
}

/// A customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Customer {
    /// Engine-made id.
    pub lago_id: String,
    /// The caller's id (unique).
    pub external_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Default currency (usage is in the plan's currency).
    pub currency: Option<Currency>,
    /// Own timezone (else the organisation's).
    pub timezone: Option<Tz>,
    /// Taxes applied to its fees when neither charge nor plan has any.
    pub tax_codes: Vec<String>,
    /// The JSON it was built from.
    pub input: Map<String, Value>,
}

impl Customer {
    /// Parses `POST /customers`' `customer` object.
    pub fn parse(input: &Map<String, Value>, lago_id: String) -> Result<Customer> {
        let mut errors = ErrorDetails::default();
        let external_id = required_text(input, "external_id", &mut errors);
        let name = optional_text(input, "name", &mut errors);
        let currency = currency(input, "currency", &mut errors);
        let timezone = timezone(input, "timezone", &mut errors);
        let tax_codes = codes(input, "tax_codes", &mut errors);
        errors.into_result()?;
        Ok(Customer {
            lago_id,
            external_id: external_id.unwrap_or_default(),
            name,
            currency,
            timezone,
            tax_codes,
            input: input.clone(),
        })
    }
}

/// A tax rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Tax {
    /// Engine-made id.
    pub lago_id: String,
    /// Unique code.
    pub code: String,
    /// Display name (the code when absent).
    pub name: String,
    /// Percent (`20` is 20 %).
    pub rate: Decimal,
    /// A default tax of the organisation's billing entity.
    pub applied_to_organization: bool,
    /// The JSON it was built from.
    pub input: Map<String, Value>,
}

impl Tax {
    /// Parses `POST /taxes`' `tax` object (`applied_to: "billing_entity"` is read as
    /// `applied_to_organization: true`).
    pub fn parse(input: &Map<String, Value>, lago_id: String) -> Result<Tax> {
        let mut errors = ErrorDetails::default();
        let code = required_text(input, "code", &mut errors);
        let name = optional_text(input, "name", &mut errors);
        let rate = match input.get("rate").filter(|v| !v.is_null()) {
            None => {
                errors.add("rate", "value_is_mandatory");
                None
            }
            Some(value) => match decimal_from_json(value) {
                Ok(rate) if rate >= Decimal::ZERO => Some(rate),
                Ok(_) | Err(NumError::Invalid) => {
                    errors.add("rate", "value_is_invalid");
                    None
                }
                Err(NumError::OutOfRange) => {
                    errors.add("rate", "value_is_out_of_range");
                    None
                }
            },
        };
        let applied = flag(input, "applied_to_organization", &mut errors).unwrap_or(false)
            || input.get("applied_to").and_then(Value::as_str) == Some("billing_entity");
        errors.into_result()?;
        let code = code.unwrap_or_default();
        Ok(Tax {
            lago_id,
            name: name.unwrap_or_else(|| code.clone()),
            code,
            rate: rate.unwrap_or_default(),
            applied_to_organization: applied,
            input: input.clone(),
        })
    }
}

/// A billable metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// Engine-made id.
    pub lago_id: String,
    /// Unique code; events name it.
    pub code: String,
    /// Display name (the code when absent).
    pub name: String,
    /// The name in lowercase: usage sorts charges by it.
    pub sort_name: String,
    /// Lago's aggregation name (`sum_agg`, …).
    pub aggregation_name: String,
    /// What the aggregations need.
    /// Shared with every query's aggregation parameters (cloned per bucket and query).
    pub metric: std::sync::Arc<BillableMetric>,
    /// The JSON it was built from.
    pub input: Map<String, Value>,
}

impl Metric {
    /// Parses `POST /billable_metrics`' `billable_metric` object.
    pub fn parse(input: &Map<String, Value>, lago_id: String) -> Result<Metric> {
        let mut errors = ErrorDetails::default();
        let code = required_text(input, "code", &mut errors);
        let name = optional_text(input, "name", &mut errors);
        let aggregation_name = required_text(input, "aggregation_type", &mut errors);
        if let Some(name) = &aggregation_name {
            if AggregationType::parse(name).is_none() {
                errors.add("aggregation_type", "value_is_invalid");
            }
        }
        if let Some(filters) = input.get("filters").filter(|v| !v.is_null()) {
            let valid = filters.as_array().is_some_and(|items| {
                items.len() <= CHARGES_MAX
                    && items.iter().all(|f| {
                        f.get("key").and_then(Value::as_str).is_some()
                            && f.get("values").and_then(strings).is_some()
                    })
            });
            if !valid {
                errors.add("filters", "value_is_invalid");
            }
        }
        errors.into_result()?;
        let metric = crate::aggregations::json::metric(input)?;
        if metric.aggregation_type.needs_field()
            && metric.field_name.as_deref().is_none_or(str::is_empty)
        {
            return Err(Error::invalid("field_name", "value_is_mandatory"));
        }
        let code = code.unwrap_or_default();
        let name = name.unwrap_or_else(|| code.clone());
        Ok(Metric {
            lago_id,
            sort_name: name.to_lowercase(),
            name,
            code,
            aggregation_name: aggregation_name.unwrap_or_default(),
            metric: std::sync::Arc::new(metric),
            input: input.clone(),
        })
    }
}

/// One filter of a charge: its values and the properties that price its events.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeFilterDef {
    /// Engine-made id.
    pub lago_id: String,
    /// Shown on the usage line.
    pub invoice_display_name: Option<String>,
    /// Key → values as the user set them (`__ALL_FILTER_VALUES__` kept).
    pub values: FilterValues,
    /// The filter's own properties (they replace the charge's).
    pub properties: fields::Properties,
    /// Parsed from `properties`.
    pub model: ChargeModel,
}

/// What aggregating one bucket of a charge needs besides the window, computed once when the
/// plan is parsed (a metric change parses its plans again).
#[derive(Debug, Clone, PartialEq)]
pub struct BucketRule {
    /// The bucket's events: the filter's values with `__ALL_FILTER_VALUES__` expanded to the
    /// metric's declared values, and the more specific filters left out.
    pub events: std::sync::Arc<EventFilter>,
    /// `presentation_group_keys` of the bucket's properties.
    pub presentation_by: Vec<String>,
}

/// A charge of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Charge {
    /// Engine-made id.
    pub lago_id: String,
    /// Code (unique in the plan; the metric's code when absent).
    pub code: String,
    /// The metric it prices.
    pub metric_code: String,
    /// Parsed model with the charge's properties.
    pub model: ChargeModel,
    /// The charge's properties, as given.
    pub properties: fields::Properties,
    /// Billed per event.
    pub pay_in_advance: bool,
    /// Prorated over the period.
    pub prorated: bool,
    /// Invoiced (Lago's `invoiceable`).
    pub invoiceable: bool,
    /// Spending minimum per period (invoices only; never in usage).
    pub min_amount_cents: Decimal,
    /// Shown on the usage line.
    pub invoice_display_name: Option<String>,
    /// Filters, oldest first.
    pub filters: Vec<ChargeFilterDef>,
    /// One rule per filter, in order, then the default bucket's.
    pub buckets: Vec<BucketRule>,
    /// The pricing group keys (`pricing_group_keys`, or legacy `grouped_by`).
    pub group_keys: Vec<String>,
    /// The charge's own taxes.
    pub tax_codes: Vec<String>,
    /// A pricing unit the model's amounts are in.
    pub pricing_unit: Option<ChargePricingUnit>,
}

/// `applied_pricing_unit` of a charge.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargePricingUnit {
    /// The pricing unit's code.
    pub code: String,
    /// Rate and short name for the fees.
    pub applied: AppliedPricingUnit,
}

/// A plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Engine-made id.
    pub lago_id: String,
    /// Unique code.
    pub code: String,
    /// Display name.
    pub name: String,
    /// Billing interval.
    pub interval: Interval,
    /// Subscription fee (not part of usage).
    pub amount_cents: Decimal,
    /// Currency of every fee.
    pub currency: Currency,
    /// Subscription fee paid in advance.
    pub pay_in_advance: bool,
    /// Yearly/semiannual plans billing charges monthly.
    pub bill_charges_monthly: bool,
    /// Taxes of the plan's fees when the charge has none.
    pub tax_codes: Vec<String>,
    /// Charges, in the order given.
    pub charges: Vec<Charge>,
    /// The JSON it was built from.
    pub input: Map<String, Value>,
}

/// What parsing a plan needs to know about the organisation.
pub struct PlanContext<'a> {
    /// Premium licence.
    pub premium: bool,
    /// Looks a metric up by code (or by lago id).
    pub metric: &'a dyn Fn(&str) -> Option<&'a Metric>,
    /// Short name of a pricing unit by code (`None`: unknown).
    pub pricing_unit: &'a dyn Fn(&str) -> Option<Option<String>>,
    /// Makes an id (`kind`, position) that stays the same when the same plan is parsed again.
    pub id: &'a dyn Fn(&str, usize) -> String,
}

impl Plan {
    /// Parses `POST /plans`' `plan` object. Charge errors are named `charges[i].field`.
    pub fn parse(input: &Map<String, Value>, lago_id: String, ctx: &PlanContext) -> Result<Plan> {
        let mut errors = ErrorDetails::default();
        let code = required_text(input, "code", &mut errors);
        let name = optional_text(input, "name", &mut errors);
        let interval = match required_text(input, "interval", &mut errors) {
            Some(name) => Interval::parse(&name).or_else(|| {
                errors.add("interval", "value_is_invalid");
                None
            }),
            None => None,
        };
        let currency = match input.get("amount_currency").filter(|v| !v.is_null()) {
            None => {
                errors.add("amount_currency", "value_is_mandatory");
                None
            }
            Some(_) => currency(input, "amount_currency", &mut errors),
        };
        let amount_cents = match input.get("amount_cents").filter(|v| !v.is_null()) {
            None => Decimal::ZERO,
            Some(value) => match decimal_from_json(value) {
                Ok(cents) if cents >= Decimal::ZERO && cents.fract().is_zero() => cents,
                _ => {
                    errors.add("amount_cents", "value_is_invalid");
                    Decimal::ZERO
                }
            },
        };
        let pay_in_advance = flag(input, "pay_in_advance", &mut errors).unwrap_or(false);
        let bill_charges_monthly =
            flag(input, "bill_charges_monthly", &mut errors).unwrap_or(false);
        let tax_codes = codes(input, "tax_codes", &mut errors);
        let mut charges = Vec::new();
        match input.get("charges").filter(|v| !v.is_null()) {
            None => {}
            Some(Value::Array(items)) if items.len() <= CHARGES_MAX => {
                for (index, item) in items.iter().enumerate() {
                    match parse_charge(item, index, ctx) {
                        Ok(charge) => charges.push(charge),
                        Err(Error::Validation(details)) => {
                            for (field, codes) in details.entries() {
                                for code in codes {
                                    errors.add(&format!("charges[{index}].{field}"), code);
                                }
                            }
                        }
                        Err(other) => return Err(other),
                    }
                }
            }
            Some(_) => errors.add("charges", "value_is_invalid"),
        }
        for (index, charge) in charges.iter().enumerate() {
            if charges[..index].iter().any(|c| c.code == charge.code) {
                errors.add(&format!("charges[{index}].code"), "value_already_exist");
            }
        }
        errors.into_result()?;
        let code = code.unwrap_or_default();
        Ok(Plan {
            lago_id,
            name: name.unwrap_or_else(|| code.clone()),
            code,
            interval: interval.unwrap_or(Interval::Monthly),
            amount_cents,
            currency: currency.unwrap_or(Currency::EUR),
            pay_in_advance,
            bill_charges_monthly,
            tax_codes,
            charges,
            input: input.clone(),
        })
    }
}

fn parse_charge(item: &Value, index: usize, ctx: &PlanContext) -> Result<Charge> {
    let input = item
        .as_object()
        .ok_or_else(|| Error::invalid("charge", "value_is_invalid"))?;
    let mut errors = ErrorDetails::default();
    let metric_key = optional_text(input, "billable_metric_code", &mut errors)
        .or_else(|| optional_text(input, "billable_metric_id", &mut errors));
    let metric = match &metric_key {
        None => {
            errors.add("billable_metric_id", "value_is_mandatory");
            None
        }
        Some(key) => (ctx.metric)(key).or_else(|| {
            errors.add("billable_metric_id", "billable_metric_not_found");
            None
        }),
    };
    let model_name = required_text(input, "charge_model", &mut errors);
    let properties = match input.get("properties").filter(|v| !v.is_null()) {
        None => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            errors.add("properties", "value_is_invalid");
            Map::new()
        }
    };
    let pay_in_advance = flag(input, "pay_in_advance", &mut errors).unwrap_or(false);
    let prorated = flag(input, "prorated", &mut errors).unwrap_or(false);
    let invoiceable = flag(input, "invoiceable", &mut errors).unwrap_or(true);
    let invoice_display_name = optional_text(input, "invoice_display_name", &mut errors);
    let code = optional_text(input, "code", &mut errors);
    let tax_codes = codes(input, "tax_codes", &mut errors);
    let min_amount_cents = match input.get("min_amount_cents").filter(|v| !v.is_null()) {
        None => Decimal::ZERO,
        Some(value) => decimal_from_json(value).unwrap_or_default(),
    };
    let pricing_unit = match input.get("applied_pricing_unit").filter(|v| !v.is_null()) {
        None => None,
        Some(unit) => pricing_unit(unit, ctx, &mut errors),
    };
    errors.into_result()?;
    let (Some(metric), Some(model_name)) = (metric, model_name) else {
        return Err(Error::invalid("charge_model", "value_is_mandatory"));
    };
    let rule_errors = crate::rating::charge_errors(
        input,
        &metric.aggregation_name,
        metric.metric.recurring,
        ctx.premium,
    )?;
    rule_errors.into_result()?;
    let model = ChargeModel::parse(&model_name, &properties)?;
    let filters = charge_filters(input, &model_name, &properties, metric, index, ctx)?;
    let buckets = bucket_rules(&filters, &properties, metric);
    let group_keys = fields::pricing_group_keys(&properties);
    Ok(Charge {
        lago_id: (ctx.id)("charge", index),
        code: code.unwrap_or_else(|| metric.code.clone()),
        metric_code: metric.code.clone(),
        model,
        properties,
        pay_in_advance,
        prorated,
        invoiceable,
        min_amount_cents,
        invoice_display_name,
        filters,
        buckets,
        group_keys,
        tax_codes,
        pricing_unit,
    })
}

/// The rule of each filter (older first: rank = position), then of the default bucket.
fn bucket_rules(
    filters: &[ChargeFilterDef],
    charge_properties: &fields::Properties,
    metric: &Metric,
) -> Vec<BucketRule> {
    let rules: Vec<FilterRule> = filters
        .iter()
        .enumerate()
        .map(|(rank, f)| FilterRule {
            id: f.lago_id.clone(),
            created_rank: i64::try_from(rank).unwrap_or(i64::MAX),
            values: f.values.clone(),
        })
        .collect();
    let targets = filters.iter().map(Some).chain(std::iter::once(None));
    targets
        .enumerate()
        .map(|(index, filter)| BucketRule {
            events: std::sync::Arc::new(matching_and_ignored(
                &metric.metric.filters,
                &rules,
                filter.map(|_| index),
            )),
            presentation_by: fields::presentation_keys(
                filter.map_or(charge_properties, |f| &f.properties),
            ),
        })
        .collect()
}

fn pricing_unit(
    unit: &Value,
    ctx: &PlanContext,
    errors: &mut ErrorDetails,
) -> Option<ChargePricingUnit> {
    let Some(unit) = unit.as_object() else {
        errors.add("applied_pricing_unit", "value_is_invalid");
        return None;
    };
    let code = required_text(unit, "code", errors)?;
    let Some(short_name) = (ctx.pricing_unit)(&code) else {
        errors.add("applied_pricing_unit.code", "pricing_unit_not_found");
        return None;
    };
    let rate = match unit.get("conversion_rate").map(decimal_from_json) {
        Some(Ok(rate)) if rate > Decimal::ZERO => rate,
        None => {
            errors.add("applied_pricing_unit.conversion_rate", "value_is_mandatory");
            return None;
        }
        Some(_) => {
            errors.add("applied_pricing_unit.conversion_rate", "value_is_invalid");
            return None;
        }
    };
    Some(ChargePricingUnit {
        code,
        applied: AppliedPricingUnit {
            conversion_rate: rate,
            short_name,
        },
    })
}

fn charge_filters(
    input: &Map<String, Value>,
    model_name: &str,
    charge_properties: &fields::Properties,
    metric: &Metric,
    charge_index: usize,
    ctx: &PlanContext,
) -> Result<Vec<ChargeFilterDef>> {
    let items = match input.get("filters").filter(|v| !v.is_null()) {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) if items.len() <= crate::limits::FILTERS_MAX => items,
        Some(_) => return Err(Error::invalid("filters", "value_is_invalid")),
    };
    let mut filters = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = |name: &str| format!("filters[{index}].{name}");
        let filter = item
            .as_object()
            .ok_or_else(|| Error::invalid(&field("values"), "value_is_invalid"))?;
        let values = filter_values(filter.get("values"), metric)
            .map_err(|code| Error::invalid(&field("values"), code))?;
        let properties = match filter.get("properties").filter(|v| !v.is_null()) {
            None => charge_properties.clone(),
            Some(Value::Object(map)) => map.clone(),
            Some(_) => return Err(Error::invalid(&field("properties"), "value_is_invalid")),
        };
        let details = crate::charge_models::validate(
            model_name,
            &properties,
            &crate::charge_models::ValidationContext {
                premium: ctx.premium,
                aggregation_type: Some(metric.aggregation_name.clone()),
            },
        );
        if !details.is_empty() {
            let mut named = ErrorDetails::default();
            for (key, codes) in details.entries() {
                for code in codes {
                    named.add(&field(key), code);
                }
            }
            return Err(Error::Validation(named));
        }
        let mut invoice_display_name = None;
        if let Some(name) = filter.get("invoice_display_name") {
            invoice_display_name = name.as_str().map(str::to_string);
        }
        filters.push(ChargeFilterDef {
            lago_id: (ctx.id)(&format!("filter{charge_index}"), index),
            invoice_display_name,
            model: ChargeModel::parse(model_name, &properties)?,
            values,
            properties,
        });
    }
    Ok(filters)
}

/// A filter's `values`: each key declared by the metric, each value one of the declared values
/// or `__ALL_FILTER_VALUES__`.
fn filter_values(
    value: Option<&Value>,
    metric: &Metric,
) -> std::result::Result<FilterValues, &'static str> {
    let Some(Value::Object(map)) = value else {
        return Err("value_is_invalid");
    };
    if map.is_empty() {
        return Err("value_is_invalid");
    }
    let mut out = Vec::with_capacity(map.len());
    for (key, values) in map {
        let declared = metric
            .metric
            .filters
            .iter()
            .find(|f| &f.key == key)
            .ok_or("invalid_key")?;
        let values = match values {
            Value::Array(_) => strings(values).ok_or("value_is_invalid")?,
            Value::String(text) => vec![text.clone()],
            _ => return Err("value_is_invalid"),
        };
        let known = values
            .iter()
            .all(|v| v == ALL_FILTER_VALUES || declared.values.contains(v));
        if values.is_empty() || !known {
            return Err("invalid_values");
        }
        out.push((key.clone(), values));
    }
    Ok(FilterValues(out))
}

/// Subscription states Lago knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Billed now.
    Active,
    /// Starts later.
    Pending,
    /// Ended at `terminated_at`.
    Terminated,
    /// Never started.
    Canceled,
}

impl Status {
    /// Lago's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Pending => "pending",
            Status::Terminated => "terminated",
            Status::Canceled => "canceled",
        }
    }
}

/// A subscription of a customer to a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Engine-made id.
    pub lago_id: String,
    /// The caller's id (events name it).
    pub external_id: String,
    /// Its customer.
    pub external_customer_id: String,
    /// Its plan.
    pub plan_code: String,
    /// Display name.
    pub name: Option<String>,
    /// Calendar or anniversary periods.
    pub billing_time: BillingTime,
    /// The anniversary anchor.
    pub subscription_at: DateTime<Utc>,
    /// When it started (`subscription_at` unless given).
    pub started_at: DateTime<Utc>,
    /// Planned end.
    pub ending_at: Option<DateTime<Utc>>,
    /// When it ended, for a terminated subscription.
    pub terminated_at: Option<DateTime<Utc>>,
    /// Its state.
    pub status: Status,
    /// The JSON it was built from.
    pub input: Map<String, Value>,
}

impl Subscription {
    /// Parses `POST /subscriptions`' `subscription` object. `now` is the default
    /// `subscription_at`.
    pub fn parse(
        input: &Map<String, Value>,
        lago_id: String,
        now: DateTime<Utc>,
    ) -> Result<Subscription> {
        let mut errors = ErrorDetails::default();
        let external_customer_id = required_text(input, "external_customer_id", &mut errors);
        let plan_code = required_text(input, "plan_code", &mut errors);
        let external_id = required_text(input, "external_id", &mut errors);
        let name = optional_text(input, "name", &mut errors);
        let billing_time = match optional_text(input, "billing_time", &mut errors) {
            None => BillingTime::Calendar,
            Some(name) => BillingTime::parse(&name).unwrap_or_else(|| {
                errors.add("billing_time", "value_is_invalid");
                BillingTime::Calendar
            }),
        };
        let subscription_at = instant(input, "subscription_at", &mut errors);
        let started_at = instant(input, "started_at", &mut errors);
        let ending_at = instant(input, "ending_at", &mut errors);
        let terminated_at = instant(input, "terminated_at", &mut errors);
        let status = match optional_text(input, "status", &mut errors).as_deref() {
            None | Some("active") => Status::Active,
            Some("pending") => Status::Pending,
            Some("terminated") => Status::Terminated,
            Some("canceled") => Status::Canceled,
            Some(_) => {
                errors.add("status", "value_is_invalid");
                Status::Active
            }
        };
        if status == Status::Terminated && terminated_at.is_none() {
            errors.add("terminated_at", "value_is_mandatory");
        }
        let subscription_at = subscription_at.or(started_at).unwrap_or(now);
        let started_at = started_at.unwrap_or(subscription_at);
        if ending_at.is_some_and(|end| end <= started_at) {
            errors.add("ending_at", "invalid_date");
        }
        errors.into_result()?;
        Ok(Subscription {
            lago_id,
            external_id: external_id.unwrap_or_default(),
            external_customer_id: external_customer_id.unwrap_or_default(),
            plan_code: plan_code.unwrap_or_default(),
            name,
            billing_time,
            subscription_at,
            started_at,
            ending_at,
            terminated_at,
            status,
            input: with_instant(input, "subscription_at", subscription_at),
        })
    }

    /// The termination instant when the subscription is terminated.
    pub fn terminated(&self) -> Option<DateTime<Utc>> {
        match self.status {
            Status::Terminated => self.terminated_at,
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Field readers that record errors instead of stopping at the first one.
// ---------------------------------------------------------------------------------------------

/// The input with `key` set to `at` when it was absent: a defaulted instant (`now`) must read
/// back the same after an export.
fn with_instant(input: &Map<String, Value>, key: &str, at: DateTime<Utc>) -> Map<String, Value> {
    let mut input = input.clone();
    if present(&input, key).is_none() {
        let text = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        input.insert(key.into(), Value::String(text));
    }
    input
}

fn present<'a>(input: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    input.get(key).filter(|v| !v.is_null())
}

fn required_text(
    input: &Map<String, Value>,
    key: &str,
    errors: &mut ErrorDetails,
) -> Option<String> {
    match present(input, key) {
        None => {
            errors.add(key, "value_is_mandatory");
            None
        }
        Some(Value::String(text)) if text.is_empty() => {
            errors.add(key, "value_is_mandatory");
            None
        }
        Some(_) => optional_text(input, key, errors),
    }
}

fn optional_text(
    input: &Map<String, Value>,
    key: &str,
    errors: &mut ErrorDetails,
) -> Option<String> {
    match present(input, key) {
        None => None,
        Some(Value::String(text)) if text.len() <= TEXT_BYTES_MAX => Some(text.clone()),
        Some(Value::Number(number)) => Some(number.to_string()),
        Some(_) => {
            errors.add(key, "value_is_invalid");
            None
        }
    }
}

/// Codes, names and ids: long enough for any real id, short enough to bound memory per entity.
const TEXT_BYTES_MAX: usize = 4_096;

fn flag(input: &Map<String, Value>, key: &str, errors: &mut ErrorDetails) -> Option<bool> {
    match present(input, key) {
        None => None,
        Some(Value::Bool(value)) => Some(*value),
        Some(_) => {
            errors.add(key, "value_is_invalid");
            None
        }
    }
}

fn currency(input: &Map<String, Value>, key: &str, errors: &mut ErrorDetails) -> Option<Currency> {
    let code = optional_text(input, key, errors)?;
    Currency::from_code(&code).or_else(|| {
        errors.add(key, "value_is_invalid");
        None
    })
}

fn timezone(input: &Map<String, Value>, key: &str, errors: &mut ErrorDetails) -> Option<Tz> {
    let name = optional_text(input, key, errors)?;
    Tz::from_str(&name).ok().or_else(|| {
        errors.add(key, "invalid_timezone");
        None
    })
}

fn codes(input: &Map<String, Value>, key: &str, errors: &mut ErrorDetails) -> Vec<String> {
    match present(input, key) {
        None => Vec::new(),
        Some(value) => strings(value).unwrap_or_else(|| {
            errors.add(key, "value_is_invalid");
            Vec::new()
        }),
    }
}

fn instant(
    input: &Map<String, Value>,
    key: &str,
    errors: &mut ErrorDetails,
) -> Option<DateTime<Utc>> {
    let text = optional_text(input, key, errors)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            errors.add(key, "invalid_date");
            None
        })
}

/// A JSON array of strings.
fn strings(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}
