//! Reading decimals from JSON and writing them the way Lago (Ruby) prints them.

use crate::error::{Error, Result};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

/// Why a value is not a usable decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumError {
    /// Not a number at all (`"foo"`, `""`, `true`, `"Infinity"`).
    Invalid,
    /// A number, but past `Decimal`'s range (`1e400`, 40 integer digits).
    OutOfRange,
}

/// Room for the decimal digits of any `u128`.
pub const DIGITS_MAX: usize = 39;

/// The decimal digits of `value`, written at the end of `buffer` (a `u64` divides faster than a
/// `u128`: mantissas of amounts and counts almost always fit in one). Formatting machinery
/// (`write!`) costs more than the number on the hot paths that use this.
pub fn digits(value: u128, buffer: &mut [u8; DIGITS_MAX]) -> &str {
    let mut at = DIGITS_MAX;
    let mut push = |digit: u8| {
        at -= 1;
        if let Some(slot) = buffer.get_mut(at) {
            *slot = b'0' + digit;
        }
    };
    let mut wide = value;
    while wide > u128::from(u64::MAX) {
        push((wide % 10) as u8);
        wide /= 10;
    }
    let mut narrow = u64::try_from(wide).unwrap_or(0);
    loop {
        push((narrow % 10) as u8);
        narrow /= 10;
        if narrow == 0 {
            break;
        }
    }
    buffer
        .get(at..)
        .and_then(|digits| std::str::from_utf8(digits).ok())
        .unwrap_or("")
}

/// Parses decimal text as Ruby's `BigDecimal()` accepts it: optional sign, digits with an optional
/// fraction, optional exponent, surrounding spaces allowed.
pub fn parse_decimal_str(text: &str) -> std::result::Result<Decimal, NumError> {
    let text = text.trim();
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let unsigned = mantissa.strip_prefix(['+', '-']).unwrap_or(mantissa);
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.len() + frac_part.len() == 0 || !digits_ok(int_part) || !digits_ok(frac_part) {
        return Err(NumError::Invalid);
    }
    let exponent: i64 = match exponent {
        None => 0,
        Some(e) => {
            let body = e.strip_prefix(['+', '-']).unwrap_or(e);
            if body.is_empty() || !digits_ok(body) {
                return Err(NumError::Invalid);
            }
            e.parse().map_err(|_| NumError::OutOfRange)?
        }
    };
    let negative = mantissa.starts_with('-');
    // Leading zeros carry no value; trailing fraction zeros carry no value either.
    let int_digits = int_part.trim_start_matches('0');
    let frac_digits = frac_part.trim_end_matches('0');
    let all_digits = format!("{int_digits}{frac_digits}");
    let significant = all_digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok(Decimal::ZERO);
    }
    // value = significant × 10^(exponent − len(frac_digits)); checked, since the exponent is input
    // (i128: an i64 exponent minus a length cannot overflow it)
    let frac_len = i128::try_from(frac_digits.len()).map_err(|_| NumError::OutOfRange)?;
    let scale_shift = i128::from(exponent) - frac_len;
    let integer_len = i128::try_from(significant.len()).map_err(|_| NumError::OutOfRange)?;
    let magnitude = integer_len + scale_shift;
    if magnitude > 29 {
        return Err(NumError::OutOfRange);
    }
    if magnitude < -28 {
        // Below Decimal's smallest step (1e-28): zero, and no giant string of zeros to build.
        return Ok(Decimal::ZERO);
    }
    let mut text = String::new();
    if negative {
        text.push('-');
    }
    if scale_shift >= 0 {
        text.push_str(significant);
        text.extend(std::iter::repeat_n(
            '0',
            usize::try_from(scale_shift).unwrap_or(0),
        ));
    } else {
        let places = usize::try_from(-scale_shift).map_err(|_| NumError::OutOfRange)?;
        if places > significant.len() {
            text.push_str("0.");
            text.extend(std::iter::repeat_n('0', places - significant.len()));
            text.push_str(significant);
        } else {
            let (whole, frac) = significant.split_at(significant.len() - places);
            text.push_str(if whole.is_empty() { "0" } else { whole });
            text.push('.');
            text.push_str(frac);
        }
    }
    // Past 28 fraction digits Decimal rounds; a value that tiny is zero for money.
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_str_exact(&text))
        .map_err(|_| NumError::OutOfRange)
}

/// A decimal from a JSON string or number (numbers keep their exact text).
pub fn decimal_from_json(value: &Value) -> std::result::Result<Decimal, NumError> {
    match value {
        Value::String(text) => parse_decimal_str(text),
        Value::Number(number) => parse_decimal_str(&number.to_string()),
        _ => Err(NumError::Invalid),
    }
}

/// True when the JSON value is a number written without fraction or exponent (Ruby's `Integer`).
pub fn is_json_integer(value: &Value) -> bool {
    match value {
        Value::Number(number) => {
            let text = number.to_string();
            let body = text.strip_prefix('-').unwrap_or(&text);
            !body.is_empty() && body.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Reads an input quantity: absent or null gives `None`; a bad value is a 422 on `field`.
pub fn optional_decimal(value: Option<&Value>, field: &str) -> Result<Option<Decimal>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match decimal_from_json(v) {
            Ok(d) => Ok(Some(d)),
            Err(NumError::Invalid) => Err(Error::invalid(field, "value_is_invalid")),
            Err(NumError::OutOfRange) => Err(Error::invalid(field, "value_is_out_of_range")),
        },
    }
}

/// Writes a decimal like Ruby's `BigDecimal#to_s` under ActiveSupport: plain digits, no trailing
/// zeros, and at least one fraction digit (`100.0`, `0.0125`, `-0.5`).
pub fn ruby_decimal(value: Decimal) -> String {
    if value.is_zero() {
        return "0.0".to_string();
    }
    let text = value.normalize().to_string();
    if text.contains('.') {
        text
    } else {
        format!("{text}.0")
    }
}

/// Writes `value` as Ruby prints the Float nearest to it (`Float#to_s`): shortest round-trip
/// digits, `.0` on whole numbers, exponent form below 1e-4 and from 1e16.
pub fn ruby_float(value: Decimal) -> String {
    let float = value.to_f64().unwrap_or(0.0);
    if float == 0.0 {
        return "0.0".to_string();
    }
    let sci = format!("{float:e}"); // e.g. "-1.5e-5": shortest digits and the exponent
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if !(-4..16).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}.{rest}e{exp_sign}{:02}", exponent.abs());
    }
    let point = exponent + 1; // digits before the decimal point
    let body = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).unwrap_or(0));
        format!("0.{zeros}{digits}")
    } else {
        let point = usize::try_from(point).unwrap_or(0);
        if digits.len() <= point {
            format!("{digits}{}.0", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

/// The decimal value of the Float nearest to `value`, as Ruby would carry it into BigDecimal.
pub fn through_float(float_text: &str) -> Result<Decimal> {
    parse_decimal_str(float_text).map_err(|_| Error::overflow())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        parse_decimal_str(text).unwrap()
    }

    #[test]
    fn it_reads_what_bigdecimal_reads() {
        assert_eq!(d("15.00"), Decimal::new(15, 0));
        assert_eq!(d(".5"), Decimal::new(5, 1));
        assert_eq!(d("1e3"), Decimal::new(1000, 0));
        assert_eq!(d("-2.5E-2"), Decimal::new(-25, 3));
        assert_eq!(d(" 7 "), Decimal::new(7, 0));
        for bad in ["", "foo", "1.2.3", "Infinity", "NaN", "e5", "1e", "--1"] {
            assert_eq!(parse_decimal_str(bad), Err(NumError::Invalid), "{bad}");
        }
        assert_eq!(parse_decimal_str("1e400"), Err(NumError::OutOfRange));
        assert_eq!(
            parse_decimal_str("1234567890123456789012345678901234567890"),
            Err(NumError::OutOfRange)
        );
        assert_eq!(d("1e-400"), Decimal::ZERO);
        assert_eq!(d("1.5e-9223372036854775808"), Decimal::ZERO);
        assert_eq!(
            parse_decimal_str("1e9223372036854775807"),
            Err(NumError::OutOfRange)
        );
        assert_eq!(
            parse_decimal_str("1e99999999999999999999"),
            Err(NumError::OutOfRange)
        );
        assert_eq!(d("1e-28"), Decimal::new(1, 28));
    }

    #[test]
    fn it_prints_like_ruby() {
        assert_eq!(ruby_decimal(d("100")), "100.0");
        assert_eq!(ruby_decimal(d("0.0125000")), "0.0125");
        assert_eq!(ruby_decimal(d("-0")), "0.0");
        assert_eq!(ruby_float(d("2")), "2.0");
        assert_eq!(ruby_float(d("0.5")), "0.5");
        assert_eq!(
            ruby_float(d("66.666666666666666666666666667")),
            "66.66666666666667"
        );
        assert_eq!(ruby_float(d("0.00001")), "1.0e-05");
        assert_eq!(ruby_float(d("100000000000000000000")), "1.0e+20");
    }
}
