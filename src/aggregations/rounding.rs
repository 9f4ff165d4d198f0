//! A billable metric's `rounding_function` / `rounding_precision`, applied to the aggregated units
//! before pricing (Lago `aggregations/apply_rounding_service.rb`).
//!
//! `round` is half away from zero (BigDecimal's default), `ceil` and `floor` go toward ±∞, each at
//! `precision` decimal places; a negative precision rounds to tens, hundreds… (`123.456` →
//! `round(-2)` = `100`, `ceil(-2)` = `200`). A missing precision is 0.

use crate::error::{Error, Result};
use rust_decimal::{Decimal, RoundingStrategy};

/// The rounding functions a billable metric can declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundingFunction {
    /// Half away from zero.
    Round,
    /// Toward +∞.
    Ceil,
    /// Toward −∞.
    Floor,
}

impl RoundingFunction {
    /// Lago's name (`round`, `ceil`, `floor`).
    pub fn parse(name: &str) -> Option<RoundingFunction> {
        match name {
            "round" => Some(RoundingFunction::Round),
            "ceil" => Some(RoundingFunction::Ceil),
            "floor" => Some(RoundingFunction::Floor),
            _ => None,
        }
    }

    fn strategy(self) -> RoundingStrategy {
        match self {
            RoundingFunction::Round => RoundingStrategy::MidpointAwayFromZero,
            RoundingFunction::Ceil => RoundingStrategy::ToPositiveInfinity,
            RoundingFunction::Floor => RoundingStrategy::ToNegativeInfinity,
        }
    }
}

/// A metric's rounding: the function and the number of decimal places (negative: tens…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rounding {
    /// How to round.
    pub function: RoundingFunction,
    /// Decimal places; negative rounds left of the decimal point.
    pub precision: i32,
}

impl Rounding {
    /// `units` rounded; a result past `Decimal`'s range is an overflow error.
    pub fn apply(&self, units: Decimal) -> Result<Decimal> {
        let strategy = self.function.strategy();
        if self.precision >= 0 {
            let places = u32::try_from(self.precision).unwrap_or(u32::MAX).min(28);
            return Ok(units.round_dp_with_strategy(places, strategy));
        }
        let shift = self.precision.unsigned_abs();
        let whole = self.integer_quotient(units, shift);
        // whole × 10^shift, when a Decimal holds it.
        let factor = 10i128.checked_pow(shift);
        let product = factor.and_then(|factor| whole.checked_mul(factor));
        match product {
            Some(value) => {
                Decimal::try_from_i128_with_scale(value, 0).map_err(|_| Error::overflow())
            }
            None if whole == 0 => Ok(Decimal::ZERO),
            None => Err(Error::overflow()),
        }
    }

    /// `units / 10^shift` rounded to an integer with this rounding's function, in exact integer
    /// arithmetic (`units = mantissa / 10^scale`).
    fn integer_quotient(&self, units: Decimal, shift: u32) -> i128 {
        let mantissa = units.mantissa();
        let exponent = units.scale() + shift;
        // |mantissa| < 2^96 < 10^29: past 10^38 the quotient is a small non-zero fraction.
        let Some(divisor) = 10i128.checked_pow(exponent) else {
            return match self.function {
                RoundingFunction::Round => 0,
                RoundingFunction::Ceil => i128::from(mantissa > 0),
                RoundingFunction::Floor => -i128::from(mantissa < 0),
            };
        };
        match self.function {
            RoundingFunction::Floor => mantissa.div_euclid(divisor),
            RoundingFunction::Ceil => {
                mantissa.div_euclid(divisor) + i128::from(mantissa.rem_euclid(divisor) != 0)
            }
            RoundingFunction::Round => {
                let magnitude = mantissa.abs();
                let (whole, rest) = (magnitude / divisor, magnitude % divisor);
                let whole = whole + i128::from(rest >= divisor - rest);
                if mantissa < 0 {
                    -whole
                } else {
                    whole
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn r(function: RoundingFunction, precision: i32, units: &str) -> Decimal {
        Rounding {
            function,
            precision,
        }
        .apply(Decimal::from_str(units).unwrap())
        .unwrap()
    }

    #[test]
    fn it_rounds_like_lagos_rounding_service() {
        use RoundingFunction::*;
        assert_eq!(r(Round, 2, "123.456").to_string(), "123.46");
        assert_eq!(r(Round, 0, "123.456").to_string(), "123");
        assert_eq!(r(Round, -2, "123.456").to_string(), "100");
        assert_eq!(r(Ceil, 2, "123.456").to_string(), "123.46");
        assert_eq!(r(Ceil, 0, "123.456").to_string(), "124");
        assert_eq!(r(Ceil, -2, "123.456").to_string(), "200");
        assert_eq!(r(Floor, 2, "123.456").to_string(), "123.45");
        assert_eq!(r(Floor, 0, "123.456").to_string(), "123");
        assert_eq!(r(Floor, -2, "123.456").to_string(), "100");
        assert_eq!(r(Round, 0, "-2.5").to_string(), "-3");
        assert_eq!(r(Floor, -40, "123").to_string(), "0");
        assert!(Rounding {
            function: Ceil,
            precision: -40
        }
        .apply(Decimal::ONE)
        .is_err());
    }
}
