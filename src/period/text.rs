//! Dates and instants as text, written by hand.
//!
//! These give exactly what chrono's `format` gives for the strftime patterns the engine used
//! (`%Y-%m-%d`, `%Y-%m-%dT%H:%M:%SZ`, and the same with `%.3f` or `%.6f` before the `Z`), without
//! chrono's format-string parser and writer in the `.wasm`. As in chrono: `%Y` is zero-padded to
//! four digits, with a sign and at least four digits outside 0..=9999 (`-0001`, `+10000`); `%S`
//! of a leap second is `60`; `%.3f` and `%.6f` truncate the nanoseconds.

use crate::number::{self, DIGITS_MAX};
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};

/// The digits of an instant's fraction of a second after the seconds (none, `%.3f`, `%.6f`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fraction {
    /// `%Y-%m-%dT%H:%M:%SZ`.
    None,
    /// `%Y-%m-%dT%H:%M:%S%.3fZ` (milliseconds).
    Millis,
    /// `%Y-%m-%dT%H:%M:%S%.6fZ` (microseconds).
    Micros,
}

/// `date.format("%Y-%m-%d")`.
pub fn date_text(date: NaiveDate) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, date);
    out
}

/// `at.format("%Y-%m-%dT%H:%M:%S[%.3f|%.6f]Z")`.
pub fn instant_text(at: DateTime<Utc>, fraction: Fraction) -> String {
    let mut out = String::with_capacity(27);
    push_date(&mut out, at.date_naive());
    out.push('T');
    let time = at.time();
    push_digits(&mut out, time.hour(), 2);
    out.push(':');
    push_digits(&mut out, time.minute(), 2);
    out.push(':');
    push_digits(
        &mut out,
        time.second() + time.nanosecond() / 1_000_000_000,
        2,
    );
    match fraction {
        Fraction::None => {}
        Fraction::Millis => {
            out.push('.');
            push_digits(&mut out, time.nanosecond() / 1_000_000 % 1_000, 3);
        }
        Fraction::Micros => {
            out.push('.');
            push_digits(&mut out, time.nanosecond() / 1_000 % 1_000_000, 6);
        }
    }
    out.push('Z');
    out
}

fn push_date(out: &mut String, date: NaiveDate) {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        out.push(if year < 0 { '-' } else { '+' });
    }
    push_digits(out, year.unsigned_abs(), 4);
    out.push('-');
    push_digits(out, date.month(), 2);
    out.push('-');
    push_digits(out, date.day(), 2);
}

/// `value` in decimal, zero-padded to at least `width` digits.
fn push_digits(out: &mut String, value: u32, width: usize) {
    let mut buffer = [0u8; DIGITS_MAX];
    let digits = number::digits(u128::from(value), &mut buffer);
    for _ in digits.len()..width {
        out.push('0');
    }
    out.push_str(digits);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, NaiveTime, TimeDelta};

    fn check(at: NaiveDateTime) {
        let utc = at.and_utc();
        assert_eq!(date_text(at.date()), at.format("%Y-%m-%d").to_string());
        for (fraction, pattern) in [
            (Fraction::None, "%Y-%m-%dT%H:%M:%SZ"),
            (Fraction::Millis, "%Y-%m-%dT%H:%M:%S%.3fZ"),
            (Fraction::Micros, "%Y-%m-%dT%H:%M:%S%.6fZ"),
        ] {
            assert_eq!(instant_text(utc, fraction), utc.format(pattern).to_string());
        }
    }

    #[test]
    fn same_text_as_chronos_format() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let seconds = (next() % 600_000_000_000) as i64 - 300_000_000_000;
            let nanos = (next() % 1_000_000_000) as u32;
            if let Some(at) = DateTime::from_timestamp(seconds, nanos) {
                check(at.naive_utc());
            }
        }
        for year in [
            -262_143, -10_000, -1_000, -1, 0, 1, 9, 99, 999, 1_000, 9_999, 10_000, 262_142,
        ] {
            for (month, day) in [(1, 1), (2, 28), (12, 31)] {
                if let Some(date) = NaiveDate::from_ymd_opt(year, month, day) {
                    check(date.and_time(NaiveTime::MIN));
                    check(
                        date.and_hms_nano_opt(23, 59, 59, 999_999_999)
                            .unwrap_or_default(),
                    );
                    // A leap second: `%S` is 60.
                    check(
                        date.and_hms_nano_opt(23, 59, 59, 1_234_567_891)
                            .unwrap_or_default(),
                    );
                }
            }
        }
        let start = NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap_or_default()
            .and_time(NaiveTime::MIN);
        for step in 0..2_000 {
            check(start + TimeDelta::nanoseconds(step * 987_654_321_123));
        }
    }
}
