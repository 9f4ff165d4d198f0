//! The arithmetic Lago's numbers go through on their way: Postgres `numeric` division, Ruby's
//! `Integer#fdiv` (a Float) carried into `BigDecimal`, `BigDecimal#ceil(n)`, and the calendar
//! helpers (`Utils::Datetime.date_diff_with_timezone`, `DATE(ts AT TIME ZONE tz)`).
//!
//! Nothing here uses floating-point arithmetic: where Lago goes through a Float, the value is
//! rebuilt from the correctly rounded `f64` that Rust's parser gives and printed back with the
//! shortest round-trip digits, which is what Ruby's `BigDecimal(float, 0)` keeps.

use crate::error::{Error, Result};
use crate::number::parse_decimal_str;
use crate::period::tz::Tz;
use chrono::{DateTime, NaiveDate, Offset, TimeZone, Timelike, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

/// Seconds in a day.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// Postgres' `NUMERIC_MIN_SIG_DIGITS`: a quotient keeps at least this many significant digits.
const PG_MIN_SIG_DIGITS: i64 = 16;

/// `a / b` as Postgres computes `numeric / numeric`: the quotient rounded half away from zero at
/// the scale `select_div_scale` picks (at least 16 significant digits, and never fewer fraction
/// digits than either operand's display scale `a_dscale` / `b_dscale`). Division by zero is an
/// error, as in Postgres.
pub fn pg_div(a: Decimal, a_dscale: u32, b: Decimal, b_dscale: u32) -> Result<Decimal> {
    if b.is_zero() {
        return Err(Error::overflow());
    }
    if a.is_zero() {
        return Ok(Decimal::ZERO);
    }
    let (weight_a, first_a) = base10000_lead(a);
    let (weight_b, first_b) = base10000_lead(b);
    let mut quotient_weight = weight_a - weight_b;
    if first_a <= first_b {
        quotient_weight -= 1;
    }
    let rscale = (PG_MIN_SIG_DIGITS - quotient_weight * 4)
        .max(i64::from(a_dscale))
        .max(i64::from(b_dscale))
        .max(0);
    let quotient = a.checked_div(b).ok_or_else(Error::overflow)?;
    let places = u32::try_from(rscale.min(28)).unwrap_or(28);
    Ok(quotient.round_dp_with_strategy(places, RoundingStrategy::MidpointAwayFromZero))
}

/// Weight (power of 10000) and value of the leading base-10000 digit of a non-zero decimal, as
/// Postgres stores `numeric`.
fn base10000_lead(value: Decimal) -> (i64, u128) {
    let mantissa = value.mantissa().unsigned_abs();
    let digit_count = i64::try_from(mantissa.to_string().len()).unwrap_or(1);
    let exponent10 = digit_count - 1 - i64::from(value.scale());
    let weight = exponent10.div_euclid(4);
    // The leading base-10000 digit holds this many decimal digits (1 to 4).
    let lead_digits = exponent10 - weight * 4 + 1;
    let first = if digit_count >= lead_digits {
        mantissa / 10u128.pow(u32::try_from(digit_count - lead_digits).unwrap_or(0))
    } else {
        mantissa * 10u128.pow(u32::try_from(lead_digits - digit_count).unwrap_or(0))
    };
    (weight, first)
}

/// `numerator.fdiv(denominator)` carried into `BigDecimal` the way Ruby does when a Float meets a
/// BigDecimal (`BigDecimal * Float`, `Float#to_s` in SQL): the nearest `f64`, written with the
/// shortest digits that read back as it.
pub fn float_ratio(numerator: i64, denominator: i64) -> Result<Decimal> {
    if denominator == 0 {
        return Err(Error::overflow());
    }
    let exact = Decimal::from(numerator)
        .checked_div(Decimal::from(denominator))
        .ok_or_else(Error::overflow)?;
    through_f64(exact)
}

/// The value of the `f64` nearest to `value`, in its shortest round-trip digits.
pub fn through_f64(value: Decimal) -> Result<Decimal> {
    // 28 significant digits are far more than needed to find the nearest f64 of a ratio of small
    // integers (its distance to a rounding midpoint is far above 1e-28 relative).
    let float: f64 = value.to_string().parse().map_err(|_| Error::overflow())?;
    parse_decimal_str(&format!("{float}")).map_err(|_| Error::overflow())
}

/// `BigDecimal#ceil(places)`.
pub fn ceil_dp(value: Decimal, places: u32) -> Decimal {
    value.round_dp_with_strategy(places.min(28), RoundingStrategy::ToPositiveInfinity)
}

/// `ts.floor(3)`: Lago's event stores floor the lower bound to milliseconds.
pub fn floor_ms(ts: DateTime<Utc>) -> DateTime<Utc> {
    let nanos = ts.nanosecond() - ts.nanosecond() % 1_000_000;
    ts.with_nanosecond(nanos).unwrap_or(ts)
}

/// `Time#ceil`: up to the next whole second unless already whole.
pub fn ceil_second(ts: DateTime<Utc>) -> DateTime<Utc> {
    if ts.nanosecond() == 0 {
        return ts;
    }
    let whole = ts.with_nanosecond(0).unwrap_or(ts);
    whole
        .checked_add_signed(chrono::TimeDelta::seconds(1))
        .unwrap_or(whole)
}

/// `DATE(ts::timestamptz AT TIME ZONE tz)`: the calendar day of an instant in the customer's zone.
pub fn local_date(ts: DateTime<Utc>, tz: Tz) -> NaiveDate {
    ts.with_timezone(&tz).date_naive()
}

/// Whole days between two local dates (`DATE − DATE` in Postgres).
pub fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    to.signed_duration_since(from).num_days()
}

/// `Utils::Datetime.date_diff_with_timezone(from, to, tz)`: the number of calendar days the
/// interval touches, counting both ends (`to` at local midnight is moved one second later, the
/// UTC-offset change between both ends is compensated, then `ceil` of days).
pub fn date_diff_with_timezone(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> i64 {
    let to_local = to.with_timezone(&tz);
    let at_midnight = to_local.time() == chrono::NaiveTime::MIN;
    let to = if at_midnight {
        to.checked_add_signed(chrono::TimeDelta::seconds(1))
            .unwrap_or(to)
    } else {
        to
    };
    let offset_seconds = |ts: DateTime<Utc>| -> i64 {
        i64::from(
            tz.offset_from_utc_datetime(&ts.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    };
    let offset = offset_seconds(from) - offset_seconds(to);
    let span = to.signed_duration_since(from);
    let nanos = i128::from(span.num_seconds()) * 1_000_000_000 + i128::from(span.subsec_nanos())
        - i128::from(offset) * 1_000_000_000;
    let day = i128::from(SECONDS_PER_DAY) * 1_000_000_000;
    let days = nanos.div_euclid(day) + i128::from(nanos.rem_euclid(day) != 0);
    i64::try_from(days).unwrap_or(0)
}

/// Seconds between two instants, exact to the nanosecond, as Postgres' `EXTRACT(EPOCH FROM b − a)`.
pub fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> Decimal {
    let span = to.signed_duration_since(from);
    let nanos = i128::from(span.num_seconds()) * 1_000_000_000 + i128::from(span.subsec_nanos());
    Decimal::try_from_i128_with_scale(nanos, 9)
        .map(|d| d.normalize())
        .unwrap_or(Decimal::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        parse_decimal_str(text).unwrap()
    }

    #[test]
    fn it_divides_with_postgres_scale() {
        // 7200 / 2678400 keeps 20 fraction digits.
        assert_eq!(
            pg_div(d("7200"), 6, d("2678400"), 0).unwrap(),
            d("0.00268817204301075269")
        );
        assert_eq!(
            pg_div(d("6"), 0, d("31"), 0).unwrap(),
            d("0.19354838709677419355")
        );
        assert_eq!(pg_div(d("31"), 0, d("31"), 0).unwrap(), Decimal::ONE);
        // 1/3: weights equal, first digit 1 <= 3 → 20 places.
        assert_eq!(
            pg_div(d("1"), 0, d("3"), 0).unwrap(),
            d("0.33333333333333333333")
        );
        // 100000/3: quotient weight 1 → 12 places.
        assert_eq!(
            pg_div(d("100000"), 0, d("3"), 0).unwrap(),
            d("33333.333333333333")
        );
        assert!(pg_div(Decimal::ONE, 0, Decimal::ZERO, 0).is_err());
    }

    #[test]
    fn it_goes_through_a_float_like_ruby() {
        assert_eq!(float_ratio(17, 31).unwrap(), d("0.5483870967741935"));
        assert_eq!(float_ratio(31, 31).unwrap(), Decimal::ONE);
        assert_eq!(float_ratio(1, 3).unwrap(), d("0.3333333333333333"));
    }

    #[test]
    fn it_counts_days_like_lago() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let utc = Tz::UTC;
        assert_eq!(
            date_diff_with_timezone(at("2023-05-01T00:00:00Z"), at("2023-05-31T23:59:59Z"), utc),
            31
        );
        assert_eq!(
            date_diff_with_timezone(at("2023-05-15T00:00:00Z"), at("2023-05-31T23:59:59Z"), utc),
            17
        );
        assert_eq!(
            date_diff_with_timezone(at("2023-05-01T00:00:00Z"), at("2023-06-01T00:00:00Z"), utc),
            32
        );
    }

    #[test]
    fn it_rounds_instants_like_ruby_time() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(
            ceil_second(at("2023-08-31T23:59:59.999Z")),
            at("2023-09-01T00:00:00Z")
        );
        assert_eq!(
            ceil_second(at("2023-08-31T23:59:59Z")),
            at("2023-08-31T23:59:59Z")
        );
        assert_eq!(
            floor_ms(at("2023-08-01T00:00:00.1234Z")),
            at("2023-08-01T00:00:00.123Z")
        );
    }
}
