//! # package
//! ## What it charges
//! A price per started package of units, after free units.
//! ## Properties
//! `amount` (price per package), `package_size` (integer > 0), `free_units` (integer ≥ 0).
//! ## Formula
//! `paid = units − free_units`; `amount = ceil(paid ÷ package_size) × amount` (0 when paid < 0);
//! `unit_amount = amount ÷ paid` (paid units, not total units).
//! ## Example
//! 121 units, size 10, 100 per package: 13 packages = 1300; unit_amount 1300/121.
//! ## Lago reference
//! `app/services/charge_models/package_service.rb`

use super::fields::{decimal_or, json_integer, valid_amount, Properties};
use super::{Aggregation, AmountDetails, Priced};
use crate::error::{Error, ErrorDetails, Result};
use crate::json::object;
use crate::money::{div_or_zero, mul, sub};
use crate::number::ruby_decimal;
use crate::rating::decimal_json;
use rust_decimal::Decimal;
use serde_json::Value;

/// Parsed package properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// Price of one package.
    pub amount: Decimal,
    /// Units per package (> 0).
    pub package_size: Decimal,
    /// Units given free each period, per bucket and group.
    pub free_units: Decimal,
}

/// Lago's package breakdown.
#[derive(Debug, Clone, PartialEq)]
pub struct Details {
    /// Free units applied.
    pub free_units: Decimal,
    /// Units paid for.
    pub paid_units: Decimal,
    /// Package size (0 in Lago's hard-coded zero-units breakdown).
    pub per_package_size: Decimal,
    /// Price of one package.
    pub per_package_unit_amount: Decimal,
}

impl Details {
    /// Lago's stored JSON.
    pub fn to_json(&self) -> Value {
        object! {
            "free_units": decimal_json(self.free_units),
            "paid_units": decimal_json(self.paid_units),
            "per_package_size": integer_json(self.per_package_size),
            "per_package_unit_amount": decimal_json(self.per_package_unit_amount),
        }
    }
}

fn integer_json(value: Decimal) -> Value {
    i64::try_from(value).map_or_else(|_| Value::String(ruby_decimal(value)), Value::from)
}

impl Package {
    /// Reads the properties (Lago's defaults: size 1, free 0, amount 0).
    pub fn parse(props: &Properties) -> Result<Self> {
        let package_size = decimal_or(props, "package_size", Decimal::ONE, "invalid_package_size")?;
        if package_size <= Decimal::ZERO {
            return Err(Error::invalid("package_size", "invalid_package_size"));
        }
        Ok(Package {
            amount: decimal_or(props, "amount", Decimal::ZERO, "invalid_amount")?,
            package_size,
            free_units: decimal_or(props, "free_units", Decimal::ZERO, "invalid_free_units")?,
        })
    }

    /// Number of packages paid for (`ceil`, a started package counts in full).
    pub fn packages(&self, paid_units: Decimal) -> Result<Decimal> {
        if paid_units <= Decimal::ZERO {
            return Ok(Decimal::ZERO);
        }
        Ok(div_or_zero(paid_units, self.package_size)?.ceil())
    }

    /// Prices the aggregation.
    pub fn apply(&self, aggregation: &Aggregation) -> Result<Priced> {
        let units = aggregation.units;
        let paid_units = sub(units, self.free_units)?;
        let amount = mul(self.packages(paid_units)?, self.amount)?;
        let details = if units.is_zero() {
            // Lago reports fixed zeros here, whatever the properties.
            Details {
                free_units: Decimal::ZERO,
                paid_units: Decimal::ZERO,
                per_package_size: Decimal::ZERO,
                per_package_unit_amount: Decimal::ZERO,
            }
        } else {
            Details {
                free_units: self.free_units,
                paid_units: paid_units.max(Decimal::ZERO),
                per_package_size: self.package_size,
                per_package_unit_amount: self.amount,
            }
        };
        let divisor = paid_units.max(Decimal::ZERO);
        Priced::per_unit(amount, divisor, AmountDetails::Package(details))
    }
}

/// Lago's `Charges::Validators::PackageService`.
pub fn validate(props: &Properties, errors: &mut ErrorDetails) {
    if !valid_amount(props.get("amount"), false) {
        errors.add("amount", "invalid_amount");
    }
    if json_integer(props.get("package_size")).is_none_or(|size| size <= 0) {
        errors.add("package_size", "invalid_package_size");
    }
    if json_integer(props.get("free_units")).is_none_or(|free| free < 0) {
        errors.add("free_units", "invalid_free_units");
    }
}
