//! Local calendar dates ↔ UTC instants in the customer's timezone, the way ActiveSupport does it.
//!
//! ## Lago reference
//!
//! `customer_timezone_shift` in `app/services/subscriptions/dates_service.rb`
//! (`date.in_time_zone(tz)`, `.end_of_day`, `.utc`) and ActiveSupport's `TimeWithZone`:
//! a wall-clock time that does not exist (a spring-forward gap) is moved forward one hour at a
//! time until it does; an ambiguous one (fall back) takes the earlier instant, the DST reading.

use crate::period::tz::Tz;
use chrono::{
    DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
};

use crate::error::{Error, Result};

/// Longest run of wall-clock hours a zone ever skipped (Pacific/Apia dropped 2011-12-30): 24,
/// with margin.
const GAP_HOURS_MAX: u32 = 48;

/// The date shown on a wall clock in `tz` at `instant`.
pub fn local_date(instant: DateTime<Utc>, tz: Tz) -> NaiveDate {
    instant.with_timezone(&tz).date_naive()
}

/// The instant the wall clock in `tz` shows `local` (gap: moved forward by whole hours; overlap:
/// the earlier instant).
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>> {
    let mut wall = local;
    for _ in 0..=GAP_HOURS_MAX {
        match tz.from_local_datetime(&wall) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => {
                return Ok(at.with_timezone(&Utc))
            }
            LocalResult::None => {
                wall = wall
                    .checked_add_signed(TimeDelta::hours(1))
                    .ok_or_else(out_of_range)?;
            }
        }
    }
    Err(out_of_range())
}

/// Local midnight opening `date` in `tz`, in UTC (Lago `customer_timezone_shift(date)`).
pub fn start_of_day(date: NaiveDate, tz: Tz) -> Result<DateTime<Utc>> {
    local_to_utc(date.and_time(NaiveTime::MIN), tz)
}

/// Local 23:59:59.999999 closing `date` in `tz`, in UTC (Lago
/// `customer_timezone_shift(date, end_of_day: true)`).
pub fn end_of_day(date: NaiveDate, tz: Tz) -> Result<DateTime<Utc>> {
    let time = NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).ok_or_else(out_of_range)?;
    local_to_utc(date.and_time(time), tz)
}

/// The error for a date outside chrono's range.
pub(crate) fn out_of_range() -> Error {
    Error::overflow().in_field("billing_period")
}
