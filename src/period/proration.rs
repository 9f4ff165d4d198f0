//! How far into its period a subscription is: elapsed days and the projection ratio.
//!
//! ## Rule
//!
//! Days are counted on the customer's wall clock, the current day included: with `from` = local
//! midnight of the 1st, any instant on the 15th counts 15 days. Lago gets there with
//! `ceil((to − from − Δoffset) / 1 day)`, where `Δoffset` is the customer-timezone UTC offset at
//! `from` minus the one at `to` (so a DST change inside the period does not add or lose a day),
//! and one second is added to a `to` that is exactly midnight UTC so that it counts its own day.
//!
//! The projection ratio is elapsed days over the period's days, 1 once the period is over and
//! 0 before it starts. Lago computes it as a binary float (`Integer#fdiv`) and turns it into a
//! decimal through its shortest round-trip string (`11/31` → `0.3548387096774194`), which is what
//! [`period_ratio`] returns, without any float arithmetic.
//!
//! ## Lago reference
//!
//! `Utils::Datetime.date_diff_with_timezone` (`app/services/utils/datetime.rb`) and
//! `period_ratio` in `app/services/fees/projection_service.rb`.

use std::str::FromStr;

use crate::period::tz::Tz;
use chrono::{DateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use rust_decimal::Decimal;

use super::boundaries::truncate_to_second;
use super::zone::out_of_range;
use crate::error::Result;

/// Microseconds in a day.
const DAY_MICROS: i64 = 86_400_000_000;

/// Whole days from `from` to `to` on the wall clock of `tz`, the partial last day counted (Lago
/// `Utils::Datetime.date_diff_with_timezone`). Negative when `to` is before `from`.
pub fn date_diff_with_timezone(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> Result<i64> {
    let mut to = to;
    // `to == to.beginning_of_day` on the customer's wall clock (local midnight).
    let local = to.with_timezone(&tz);
    if local.num_seconds_from_midnight() == 0 && local.nanosecond() == 0 {
        to = to
            .checked_add_signed(TimeDelta::seconds(1))
            .ok_or_else(out_of_range)?;
    }
    let from_offset = i64::from(
        tz.offset_from_utc_datetime(&from.naive_utc())
            .fix()
            .local_minus_utc(),
    );
    let to_offset = i64::from(
        tz.offset_from_utc_datetime(&to.naive_utc())
            .fix()
            .local_minus_utc(),
    );
    let elapsed_micros = to
        .signed_duration_since(from)
        .num_microseconds()
        .ok_or_else(out_of_range)?;
    let offset_micros = (from_offset - to_offset)
        .checked_mul(1_000_000)
        .ok_or_else(out_of_range)?;
    let micros = elapsed_micros
        .checked_sub(offset_micros)
        .ok_or_else(out_of_range)?;
    Ok(ceil_div(micros, DAY_MICROS))
}

/// Days of the period `[from, to]` already begun at `now`, the current day included, on the
/// wall clock of `tz`: 0 before the period, its total once it is over.
///
/// `from`/`to` are read at whole seconds, as Lago reads them back from the fee's properties.
pub fn days_elapsed(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<u32> {
    let (from, to) = (truncate_to_second(from), truncate_to_second(to));
    if now < from {
        return Ok(0);
    }
    let end = if now >= to { to } else { now };
    let days = date_diff_with_timezone(from, end, tz)?;
    Ok(u32::try_from(days.max(0)).unwrap_or(u32::MAX))
}

/// Days in the period `[from, to]` on the wall clock of `tz` (its `total_days` for projections).
pub fn period_days_total(from: DateTime<Utc>, to: DateTime<Utc>, tz: Tz) -> Result<u32> {
    let days = date_diff_with_timezone(truncate_to_second(from), truncate_to_second(to), tz)?;
    Ok(u32::try_from(days.max(0)).unwrap_or(u32::MAX))
}

/// Lago's projection ratio at `now` for the period `[from, to]`: 1 once `now` reaches `to`, 0
/// before `from`, else elapsed days (current day included) over total days, clamped to [0, 1],
/// as the shortest decimal of the nearest binary float.
pub fn period_ratio(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    tz: Tz,
) -> Result<Decimal> {
    let (from_s, to_s) = (truncate_to_second(from), truncate_to_second(to));
    if now >= to_s {
        return Ok(Decimal::ONE);
    }
    if now < from_s {
        return Ok(Decimal::ZERO);
    }
    let total = date_diff_with_timezone(from_s, to_s, tz)?;
    let passed = date_diff_with_timezone(from_s, now, tz)?;
    Ok(fdiv_as_decimal(passed, total))
}

/// `numerator.fdiv(denominator).clamp(0.0, 1.0)` read back through Ruby's `Float#to_s`.
fn fdiv_as_decimal(numerator: i64, denominator: i64) -> Decimal {
    if numerator <= 0 || denominator <= 0 {
        return Decimal::ZERO;
    }
    if numerator >= denominator {
        return Decimal::ONE;
    }
    nearest_f64_bits(numerator.unsigned_abs(), denominator.unsigned_abs())
        .and_then(|bits| Decimal::from_str(&f64::from_bits(bits).to_string()).ok())
        .unwrap_or_else(|| Decimal::from(numerator) / Decimal::from(denominator))
}

/// The IEEE-754 bits of the double nearest to `p / q` for `0 < p < q < 2^32` (ties to even),
/// found with integer arithmetic only.
fn nearest_f64_bits(p: u64, q: u64) -> Option<u64> {
    const HIDDEN: u128 = 1 << 52;
    if p == 0 || p >= q || q >= 1 << 32 {
        return None;
    }
    let (p, q) = (u128::from(p), u128::from(q));
    // Smallest shift putting the quotient in [2^52, 2^53): p/q ≥ 2^-32, so shift ≤ 85.
    let shift = (52..=90u32).find(|&k| (p << k) / q >= HIDDEN)?;
    let scaled = p << shift;
    let (mut mantissa, remainder) = (scaled / q, scaled % q);
    let twice = remainder * 2;
    if twice > q || (twice == q && mantissa % 2 == 1) {
        mantissa += 1;
    }
    let mut shift = shift;
    if mantissa == HIDDEN * 2 {
        mantissa = HIDDEN;
        shift -= 1;
    }
    // value = mantissa · 2^-shift = (mantissa / 2^52) · 2^(52 - shift)
    let biased_exponent = u64::from(1023 + 52 - shift);
    let fraction = u64::try_from(mantissa - HIDDEN).ok()?;
    Some((biased_exponent << 52) | fraction)
}

/// ⌈a / b⌉ for b > 0.
fn ceil_div(a: i64, b: i64) -> i64 {
    let quotient = a.div_euclid(b);
    if a.rem_euclid(b) == 0 {
        quotient
    } else {
        quotient + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_decimal_of_the_float_ratio() {
        assert_eq!(fdiv_as_decimal(11, 31).to_string(), "0.3548387096774194");
        assert_eq!(fdiv_as_decimal(15, 30).to_string(), "0.5");
        assert_eq!(fdiv_as_decimal(3, 31).to_string(), "0.0967741935483871");
        assert_eq!(fdiv_as_decimal(1, 3).to_string(), "0.3333333333333333");
        assert_eq!(fdiv_as_decimal(2, 3).to_string(), "0.6666666666666666");
        assert_eq!(fdiv_as_decimal(1, 366).to_string(), "0.00273224043715847");
        assert_eq!(fdiv_as_decimal(365, 366).to_string(), "0.9972677595628415");
        assert_eq!(fdiv_as_decimal(31, 31), Decimal::ONE);
    }

    #[test]
    fn ceil_div_rounds_towards_positive_infinity() {
        assert_eq!(ceil_div(1, 10), 1);
        assert_eq!(ceil_div(10, 10), 1);
        assert_eq!(ceil_div(0, 10), 0);
        assert_eq!(ceil_div(-1, 10), 0);
        assert_eq!(ceil_div(-11, 10), -1);
    }
}
