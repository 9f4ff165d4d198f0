//! Lago's charge models: one file per model, one exhaustive `match` to dispatch.
//!
//! A model turns an aggregation (units, event count, running totals, per-event values) into an
//! unrounded `amount`, a `unit_amount` and Lago's `amount_details`. Nothing here rounds: fees do.

pub mod custom;
pub mod dynamic;
pub mod fields;
pub mod graduated;
pub mod graduated_percentage;
pub mod grouped;
pub mod package;
pub mod percentage;
pub mod prorated_graduated;
pub mod ranges;
pub mod standard;
pub mod volume;

use crate::error::{Error, ErrorDetails, Result};
use crate::json::object;
use crate::money::{div_or_zero, Currency};
use fields::Properties;
use rust_decimal::Decimal;
use serde_json::Value;

/// What the aggregation of a billable metric hands to a charge model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregation {
    /// Units to price (prorated units for a prorated charge).
    pub units: Decimal,
    /// Units before proration, when the charge is prorated.
    pub full_units_number: Option<Decimal>,
    /// Units shown in current usage, when they differ from `units`.
    pub current_usage_units: Option<Decimal>,
    /// Units before rounding and proration, passed through to the fee.
    pub total_aggregated_units: Option<Decimal>,
    /// Number of events aggregated.
    pub events_count: u64,
    /// Cumulative sums used by percentage free units (see `percentage`).
    pub running_total: Vec<Decimal>,
    /// Each event's value in timestamp order (percentage min/max per transaction); empty when
    /// `paid_events_price` is set.
    pub per_event_values: Vec<Decimal>,
    /// Percentage min/max per transaction: Σ of the prices of the events after the free prefix,
    /// when running aggregates kept it (for the charge's [`percentage::EventPrice`]).
    pub paid_events_price: Option<Decimal>,
    /// Each event's full and prorated value in time order, when a prorated aggregator ran.
    pub prorated_events: Option<Vec<prorated_graduated::ProratedEvent>>,
    /// Σ of the events' `precise_total_amount_cents` (dynamic).
    pub precise_total_amount_cents: Decimal,
    /// The amount a custom aggregator computed (custom).
    pub custom_amount: Option<Decimal>,
}

impl Aggregation {
    /// An aggregation of `units` and nothing else.
    pub fn of_units(units: Decimal) -> Self {
        Aggregation {
            units,
            ..Aggregation::default()
        }
    }

    /// The divisor of `unit_amount` for most models: full units when present, else units.
    pub fn unit_divisor(&self) -> Decimal {
        self.full_units_number.unwrap_or(self.units)
    }
}

/// Settings that change how a model computes, none of them a price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Context {
    /// Lago's premium licence: per-transaction min/max only apply with it.
    pub premium: bool,
    /// The charge is prorated (graduated and volume change path).
    pub prorated: bool,
    /// Plan currency (dynamic divides cents by its subunit).
    pub currency: Currency,
    /// Pricing the "before" side of a pay-in-advance event: tiered flat fees are not due at 0.
    pub exclude_event: bool,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            premium: true,
            prorated: false,
            currency: Currency::EUR,
            exclude_event: false,
        }
    }
}

/// Lago's `amount_details`, per model.
#[derive(Debug, Clone, PartialEq)]
pub enum AmountDetails {
    /// `{}`: standard, dynamic, custom, prorated graduated.
    Empty,
    /// One entry per visited tier.
    Graduated(Vec<graduated::RangeDetail>),
    /// One entry per visited tier.
    GraduatedPercentage(Vec<graduated_percentage::RangeDetail>),
    /// Free and paid units, package size and price.
    Package(package::Details),
    /// Free/paid units and events, fixed fees, min/max adjustment.
    Percentage(percentage::Details),
    /// The matched tier's flat fee and per-unit figures.
    Volume(volume::Details),
}

impl AmountDetails {
    /// The JSON Lago stores on a fee (decimals as Ruby prints them, bounds echoed as given).
    pub fn to_json(&self) -> Value {
        match self {
            AmountDetails::Empty => object! {},
            AmountDetails::Graduated(ranges) => object! {
                "graduated_ranges": ranges.iter().map(graduated::RangeDetail::to_json).collect()
            },
            AmountDetails::GraduatedPercentage(ranges) => object! {
                "graduated_percentage_ranges":
                    ranges.iter().map(graduated_percentage::RangeDetail::to_json).collect()
            },
            AmountDetails::Package(details) => details.to_json(),
            AmountDetails::Percentage(details) => details.to_json(),
            AmountDetails::Volume(details) => details.to_json(),
        }
    }
}

/// What a model returns: the amount in major units (or pricing units), unrounded.
#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    /// Amount in currency (or pricing-unit) major units.
    pub amount: Decimal,
    /// Amount per unit, by the model's divisor.
    pub unit_amount: Decimal,
    /// Lago's breakdown.
    pub amount_details: AmountDetails,
}

impl Priced {
    /// An amount with `unit_amount = amount ÷ divisor` (0 when the divisor is 0).
    pub fn per_unit(
        amount: Decimal,
        divisor: Decimal,
        amount_details: AmountDetails,
    ) -> Result<Self> {
        Ok(Priced {
            amount,
            unit_amount: div_or_zero(amount, divisor)?,
            amount_details,
        })
    }
}

/// A charge model with its properties parsed into typed values.
#[derive(Debug, Clone, PartialEq)]
pub enum ChargeModel {
    /// `amount` per unit.
    Standard(standard::Standard),
    /// Tiers, each unit priced by the tier it falls in.
    Graduated(graduated::Graduated),
    /// Tiers of percentage rates.
    GraduatedPercentage(graduated_percentage::GraduatedPercentage),
    /// Price per started package.
    Package(package::Package),
    /// Percentage of the units, plus fixed fees per event.
    Percentage(percentage::Percentage),
    /// All units priced at the tier the total falls in.
    Volume(volume::Volume),
    /// The events carry their own price.
    Dynamic,
    /// A custom aggregator computes the amount.
    Custom,
}

/// The names Lago gives the models, in its order.
pub const MODEL_NAMES: &[&str] = &[
    "standard",
    "graduated",
    "graduated_percentage",
    "package",
    "percentage",
    "volume",
    "dynamic",
    "custom",
];

impl ChargeModel {
    /// Parses properties for computing. Missing values take Lago's defaults; unreadable ones
    /// are a 422 naming the property.
    pub fn parse(name: &str, props: &Properties) -> Result<ChargeModel> {
        Ok(match name {
            "standard" => ChargeModel::Standard(standard::Standard::parse(props)?),
            "graduated" => ChargeModel::Graduated(graduated::Graduated::parse(props)?),
            "graduated_percentage" => ChargeModel::GraduatedPercentage(
                graduated_percentage::GraduatedPercentage::parse(props)?,
            ),
            "package" => ChargeModel::Package(package::Package::parse(props)?),
            "percentage" => ChargeModel::Percentage(percentage::Percentage::parse(props)?),
            "volume" => ChargeModel::Volume(volume::Volume::parse(props)?),
            "dynamic" => ChargeModel::Dynamic,
            "custom" => ChargeModel::Custom,
            _ => return Err(Error::invalid("charge_model", "value_is_invalid")),
        })
    }

    /// Lago's name for the model.
    pub fn name(&self) -> &'static str {
        match self {
            ChargeModel::Standard(_) => "standard",
            ChargeModel::Graduated(_) => "graduated",
            ChargeModel::GraduatedPercentage(_) => "graduated_percentage",
            ChargeModel::Package(_) => "package",
            ChargeModel::Percentage(_) => "percentage",
            ChargeModel::Volume(_) => "volume",
            ChargeModel::Dynamic => "dynamic",
            ChargeModel::Custom => "custom",
        }
    }

    /// Prices one aggregation (one filter bucket, one group).
    pub fn apply(&self, aggregation: &Aggregation, ctx: &Context) -> Result<Priced> {
        match self {
            ChargeModel::Standard(model) => model.apply(aggregation),
            ChargeModel::Graduated(model) => match &aggregation.prorated_events {
                Some(events) if ctx.prorated => {
                    prorated_graduated::apply(model, events, aggregation)
                }
                _ => model.apply(aggregation, ctx),
            },
            ChargeModel::GraduatedPercentage(model) => model.apply(aggregation, ctx),
            ChargeModel::Package(model) => model.apply(aggregation),
            ChargeModel::Percentage(model) => model.apply(aggregation, ctx),
            ChargeModel::Volume(model) => model.apply(aggregation, ctx),
            ChargeModel::Dynamic => dynamic::apply(aggregation, ctx),
            ChargeModel::Custom => custom::apply(aggregation),
        }
    }
}

/// What validation needs beyond the properties.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ValidationContext {
    /// Lago's premium licence (per-transaction min/max are validated only with it).
    pub premium: bool,
    /// The billable metric's aggregation type, when known (`latest_agg` rules out some models).
    pub aggregation_type: Option<String>,
}

/// Validates properties exactly as Lago's property validators do, accumulating every error.
pub fn validate(name: &str, props: &Properties, ctx: &ValidationContext) -> ErrorDetails {
    let mut errors = ErrorDetails::default();
    match name {
        "standard" => standard::validate(props, &mut errors),
        "graduated" => graduated::validate(props, &mut errors),
        "graduated_percentage" => graduated_percentage::validate(props, ctx, &mut errors),
        "package" => package::validate(props, &mut errors),
        "percentage" => percentage::validate(props, ctx, &mut errors),
        "volume" => volume::validate(props, &mut errors),
        "dynamic" | "custom" => {}
        _ => errors.add("charge_model", "value_is_invalid"),
    }
    fields::validate_group_keys(props, &mut errors);
    errors
}
