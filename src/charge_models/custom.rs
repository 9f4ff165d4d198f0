//! # custom
//! ## What it charges
//! The amount a custom aggregator computed for the period.
//! ## Properties
//! `custom_properties`, passed to the aggregator. Needs a `custom_agg` metric.
//! ## Formula
//! `amount = custom_aggregation.amount` (0 when absent); `unit_amount = amount ÷ units`.
//! ## Example
//! Custom amount 20 over 10 units: 20, unit_amount 2.
//! ## Lago reference
//! `app/services/charge_models/custom_service.rb`

use super::{Aggregation, AmountDetails, Priced};
use crate::error::Result;
use rust_decimal::Decimal;

/// Prices the aggregation.
pub fn apply(aggregation: &Aggregation) -> Result<Priced> {
    let amount = aggregation.custom_amount.unwrap_or(Decimal::ZERO);
    Priced::per_unit(amount, aggregation.unit_divisor(), AmountDetails::Empty)
}
