//! Money: currencies with their subunits, and the only rounding calls in the engine.

use crate::error::{Error, Result};
use rust_decimal::{Decimal, RoundingStrategy};

/// A currency as the Money gem (and so Lago) knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    /// ISO 4217 code, e.g. `EUR`.
    pub code: &'static str,
    /// Decimal places amounts are rounded to (`round(log10(subunit_to_unit))`).
    pub exponent: u32,
    /// Subunits in one unit: 100 for EUR, 1 for JPY, 1000 for BHD, 5 for MGA.
    pub subunit_to_unit: u32,
}

/// Currencies whose subunit is not 1/100 (Money gem's table); every other ISO code has 100.
const SPECIAL_SUBUNITS: &[(&str, u32, u32)] = &[
    ("BHD", 3, 1000),
    ("BIF", 0, 1),
    ("CLF", 4, 10000),
    ("CLP", 0, 1),
    ("DJF", 0, 1),
    ("GNF", 0, 1),
    ("IQD", 3, 1000),
    ("ISK", 0, 1),
    ("JOD", 3, 1000),
    ("JPY", 0, 1),
    ("KMF", 0, 1),
    ("KRW", 0, 1),
    ("KWD", 3, 1000),
    ("LYD", 3, 1000),
    ("MGA", 1, 5),
    ("MRO", 1, 5),
    ("MRU", 1, 5),
    ("OMR", 3, 1000),
    ("PYG", 0, 1),
    ("RWF", 0, 1),
    ("TND", 3, 1000),
    ("UGX", 0, 1),
    ("UYI", 0, 1),
    ("UYW", 4, 10000),
    ("VND", 0, 1),
    ("VUV", 0, 1),
    ("XAF", 0, 1),
    ("XOF", 0, 1),
    ("XPF", 0, 1),
];

/// ISO 4217 codes with two decimals (the rest of the table).
const TWO_DECIMAL_CODES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
    "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR",
    "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG",
    "HUF", "IDR", "ILS", "INR", "IRR", "JMD", "KES", "KGS", "KHR", "KPW", "KYD", "KZT", "LAK",
    "LBP", "LKR", "LRD", "LSL", "MAD", "MDL", "MKD", "MMK", "MNT", "MOP", "MUR", "MVR", "MWK",
    "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "PAB", "PEN", "PGK", "PHP",
    "PKR", "PLN", "QAR", "RON", "RSD", "RUB", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
    "SLE", "SLL", "SOS", "SRD", "SSP", "STD", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT",
    "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "USD", "UYU", "UZS", "VES", "WST", "XCD", "YER",
    "ZAR", "ZMW", "ZWL",
];

impl Currency {
    /// Looks a currency up by its ISO code (case-sensitive, as Lago stores it).
    pub fn from_code(code: &str) -> Option<Currency> {
        if let Some(&(code, exponent, subunit_to_unit)) =
            SPECIAL_SUBUNITS.iter().find(|(c, _, _)| *c == code)
        {
            return Some(Currency {
                code,
                exponent,
                subunit_to_unit,
            });
        }
        TWO_DECIMAL_CODES
            .iter()
            .find(|c| **c == code)
            .map(|code| Currency {
                code,
                exponent: 2,
                subunit_to_unit: 100,
            })
    }

    /// Parses an optional code, defaulting to EUR; an unknown code is a 422 on `currency`.
    pub fn parse_or_default(code: Option<&str>) -> Result<Currency> {
        match code {
            None => Ok(Currency::EUR),
            Some(code) => Currency::from_code(code)
                .ok_or_else(|| Error::invalid("currency", "value_is_invalid")),
        }
    }

    /// Euro, the default when no currency is given.
    pub const EUR: Currency = Currency {
        code: "EUR",
        exponent: 2,
        subunit_to_unit: 100,
    };

    /// `subunit_to_unit` as a decimal.
    pub fn subunit(&self) -> Decimal {
        Decimal::from(self.subunit_to_unit)
    }
}

/// Rounds half away from zero (Ruby's BigDecimal default, ROUND_HALF_UP), never half-even.
pub fn round_half_up(value: Decimal, places: u32) -> Decimal {
    value.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero)
}

/// Truncates toward zero, as a bigint column cast does (`unit_amount_cents`).
pub fn truncate(value: Decimal) -> Decimal {
    value.trunc()
}

/// `a × b`, or an overflow error.
pub fn mul(a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_mul(b).ok_or_else(Error::overflow)
}

/// `a + b`, or an overflow error.
pub fn add(a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_add(b).ok_or_else(Error::overflow)
}

/// `a − b`, or an overflow error.
pub fn sub(a: Decimal, b: Decimal) -> Result<Decimal> {
    a.checked_sub(b).ok_or_else(Error::overflow)
}

/// `a ÷ b`, with Lago's convention that dividing by zero gives 0 (`unit_amount` of nothing).
pub fn div_or_zero(a: Decimal, b: Decimal) -> Result<Decimal> {
    if b.is_zero() {
        return Ok(Decimal::ZERO);
    }
    a.checked_div(b).ok_or_else(Error::overflow)
}

/// `a ÷ 100` (a percentage): the same digits two places further right when the scale has room,
/// which is exact and skips a long division; else the division.
pub fn percent_of(a: Decimal) -> Result<Decimal> {
    let mut shifted = a;
    match shifted.set_scale(a.scale() + 2) {
        Ok(()) => Ok(shifted),
        Err(_) => div_or_zero(a, Decimal::ONE_HUNDRED),
    }
}

/// Σ of the values, or an overflow error.
pub fn sum<I: IntoIterator<Item = Decimal>>(values: I) -> Result<Decimal> {
    values.into_iter().try_fold(Decimal::ZERO, add)
}

/// `amount` in whole subunits, rounded once, half up, at the currency's exponent. With a subunit
/// that is not a power of ten (MGA: 5) the product can be fractional; Lago's bigint column
/// truncates it.
pub fn to_cents(amount: Decimal, currency: Currency) -> Result<Decimal> {
    Ok(truncate(mul(
        round_half_up(amount, currency.exponent),
        currency.subunit(),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scale shift gives the division's value for every mantissa and scale, the largest
    /// ones (where the scale has no room left) included.
    #[test]
    fn percent_of_equals_dividing_by_a_hundred() {
        let mantissas = [
            0i128,
            1,
            -1,
            7,
            12_345,
            -999_999_999,
            i64::MAX as i128,
            (1i128 << 96) - 1,
        ];
        for mantissa in mantissas {
            for scale in 0..=28 {
                let value = Decimal::from_i128_with_scale(mantissa, scale);
                let divided = value.checked_div(Decimal::ONE_HUNDRED).unwrap();
                assert_eq!(percent_of(value).unwrap(), divided, "{value}");
            }
        }
    }

    #[test]
    fn it_rounds_half_away_from_zero() {
        assert_eq!(round_half_up(Decimal::new(25, 3), 2), Decimal::new(3, 2));
        assert_eq!(round_half_up(Decimal::new(-25, 3), 2), Decimal::new(-3, 2));
        assert_eq!(truncate(Decimal::new(25, 1)), Decimal::new(2, 0));
    }

    #[test]
    fn it_knows_exponents() {
        assert_eq!(Currency::from_code("JPY").unwrap().exponent, 0);
        assert_eq!(Currency::from_code("BHD").unwrap().subunit_to_unit, 1000);
        assert_eq!(Currency::from_code("EUR").unwrap().exponent, 2);
        assert!(Currency::from_code("XXX").is_none());
        // 0.3 MGA → 1.5 subunits → 1, as Lago's bigint column stores it.
        let mga = Currency::from_code("MGA").unwrap();
        assert_eq!(to_cents(Decimal::new(3, 1), mga).unwrap(), Decimal::ONE);
    }
}
