//! # dynamic
//! ## What it charges
//! What the events say they cost: each event carries `precise_total_amount_cents`.
//! ## Properties
//! None but grouping keys. Needs a `sum_agg` metric.
//! ## Formula
//! `amount = Σ precise_total_amount_cents ÷ subunit_to_unit` of the plan currency, and 0 when the
//! metric's units are 0 (even if the events carry cents). `unit_amount = amount ÷ units`.
//! ## Example
//! 20 units, 40.2 cents in EUR: 0.402.
//! ## Lago reference
//! `app/services/charge_models/dynamic_service.rb`

use super::{Aggregation, AmountDetails, Context, Priced};
use crate::error::Result;
use crate::money::div_or_zero;
use rust_decimal::Decimal;

/// Prices the aggregation.
pub fn apply(aggregation: &Aggregation, ctx: &Context) -> Result<Priced> {
    let amount = if aggregation.units.is_zero() {
        Decimal::ZERO
    } else {
        div_or_zero(
            aggregation.precise_total_amount_cents,
            ctx.currency.subunit(),
        )?
    };
    Priced::per_unit(amount, aggregation.unit_divisor(), AmountDetails::Empty)
}
