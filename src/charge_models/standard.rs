//! # standard
//! ## What it charges
//! A fixed price per unit.
//! ## Properties
//! `amount` (decimal string).
//! ## Formula
//! `amount = units × amount`; `unit_amount = amount ÷ (full_units_number or units)`.
//! A prorated charge passes prorated units and divides by the full units.
//! ## Example
//! 10 units × "5.12345" = 51.2345.
//! ## Lago reference
//! `app/services/charge_models/standard_service.rb`

use super::fields::{decimal_or, valid_amount, Properties};
use super::{Aggregation, AmountDetails, Priced};
use crate::error::{ErrorDetails, Result};
use crate::money::mul;
use rust_decimal::Decimal;

/// Parsed standard properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Standard {
    /// Price of one unit.
    pub amount: Decimal,
}

impl Standard {
    /// Reads `amount` (Lago's default `"0"` when absent).
    pub fn parse(props: &Properties) -> Result<Self> {
        Ok(Standard {
            amount: decimal_or(props, "amount", Decimal::ZERO, "invalid_amount")?,
        })
    }

    /// Prices the aggregation.
    pub fn apply(&self, aggregation: &Aggregation) -> Result<Priced> {
        let amount = mul(aggregation.units, self.amount)?;
        Priced::per_unit(amount, aggregation.unit_divisor(), AmountDetails::Empty)
    }
}

/// Lago's `Charges::Validators::StandardService`.
pub fn validate(props: &Properties, errors: &mut ErrorDetails) {
    if !valid_amount(props.get("amount"), false) {
        errors.add("amount", "invalid_amount");
    }
}
