//! Period boundaries per interval, on calendar dates already read in the customer's timezone.
//!
//! ## The rule
//!
//! A plan interval is a step of `n` months (monthly 1, quarterly 3, semiannual 6, yearly 12) or
//! of 7 days (weekly). An [`Anchor`] fixes where periods start:
//!
//! * anniversary billing: the day, month and weekday of `subscription_at` in the customer
//!   timezone;
//! * calendar billing: the 1st of January, a Monday. Calendar periods are anniversary periods
//!   with that anchor (ISO weeks, months, quarters, half years, years).
//!
//! The *anniversary of a month* is the anchor day clamped to the month's length (anchor 31 →
//! Feb 28, Apr 30; anchor Feb 29 → Feb 28 in a common year). A period starts on an anniversary
//! of a *billing month* (a month `k·n` months from the anchor month) and ends the day before the
//! next one, so an anniversary always opens a period and never also closes the previous one:
//! anchor 31 monthly gives Jan 31–Feb 27, Feb 28–Mar 30, Mar 31–Apr 29, Apr 30–May 30.
//! Weekly periods start on the anchor weekday and last 7 days.
//!
//! ## Lago reference
//!
//! `app/services/subscriptions/dates/{weekly,monthly,quarterly,semiannual,yearly}_service.rb`
//! (`previous_anniversary_day`, `next_anniversary`, `compute_to_date`, `compute_base_date`,
//! `compute_duration`) and `build_date` / `last_day_of_month?` in `dates_service.rb`.

use chrono::{Datelike, Days, Months, NaiveDate, Weekday};

/// A plan's billing interval (Lago `plan.interval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Interval {
    /// Seven days.
    Weekly,
    /// One month.
    Monthly,
    /// Three months.
    Quarterly,
    /// Six months.
    Semiannual,
    /// Twelve months.
    Yearly,
}

impl Interval {
    /// Parses Lago's interval name (`"weekly"` … `"yearly"`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "weekly" => Some(Interval::Weekly),
            "monthly" => Some(Interval::Monthly),
            "quarterly" => Some(Interval::Quarterly),
            "semiannual" => Some(Interval::Semiannual),
            "yearly" => Some(Interval::Yearly),
            _ => None,
        }
    }

    /// Lago's name for the interval.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Weekly => "weekly",
            Interval::Monthly => "monthly",
            Interval::Quarterly => "quarterly",
            Interval::Semiannual => "semiannual",
            Interval::Yearly => "yearly",
        }
    }

    /// Months per period, or `None` for weekly.
    pub fn months_count(self) -> Option<u32> {
        match self {
            Interval::Weekly => None,
            Interval::Monthly => Some(1),
            Interval::Quarterly => Some(3),
            Interval::Semiannual => Some(6),
            Interval::Yearly => Some(12),
        }
    }
}

/// Where periods start: a day of month, a month and a weekday, all in the customer timezone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    day: u32,
    month: u32,
    weekday: Weekday,
    anniversary: bool,
}

impl Anchor {
    /// Calendar billing: periods start on the 1st (of January for multi-month intervals), weeks on
    /// Monday.
    pub fn calendar() -> Self {
        Anchor {
            day: 1,
            month: 1,
            weekday: Weekday::Mon,
            anniversary: false,
        }
    }

    /// Anniversary billing anchored on `subscription_date` (the local date of `subscription_at`).
    pub fn anniversary(subscription_date: NaiveDate) -> Self {
        Anchor {
            day: subscription_date.day(),
            month: subscription_date.month(),
            weekday: subscription_date.weekday(),
            anniversary: true,
        }
    }

    /// The anchor's day of month (1..=31).
    pub fn day(&self) -> u32 {
        self.day
    }

    /// The anchor's month (1..=12).
    pub fn month(&self) -> u32 {
        self.month
    }

    /// True for anniversary billing.
    pub fn is_anniversary(&self) -> bool {
        self.anniversary
    }

    /// The anniversary in month `month` of `year`: the anchor day clamped to the month's length.
    pub fn anniversary_in(&self, year: i32, month: u32) -> Option<NaiveDate> {
        let day = self.day.min(days_in_month(year, month)?);
        NaiveDate::from_ymd_opt(year, month, day)
    }

    /// True when periods of `months_count` months start in `month`.
    fn is_billing_month(&self, months_count: u32, month: u32) -> bool {
        months_count != 0 && (month + 12 - self.month) % months_count == 0
    }
}

/// Number of days in `month` of `year`, `None` outside chrono's range.
pub fn days_in_month(year: i32, month: u32) -> Option<u32> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    let next = first.checked_add_months(Months::new(1))?;
    u32::try_from(next.signed_duration_since(first).num_days()).ok()
}

/// True when `date` is the last day of its month.
pub fn is_last_day_of_month(date: NaiveDate) -> bool {
    days_in_month(date.year(), date.month()) == Some(date.day())
}

/// Steps `(year, month)` by `delta` months.
fn shift_month(year: i32, month: u32, delta: i32) -> Option<(i32, u32)> {
    let index = i64::from(year) * 12 + i64::from(month) - 1 + i64::from(delta);
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
    Some((year, month))
}

/// First day of the period holding `date` (Lago `previous_anniversary_day`, or
/// `beginning_of_{week,month,quarter,half_year,year}` for calendar billing).
pub fn period_start(interval: Interval, anchor: &Anchor, date: NaiveDate) -> Option<NaiveDate> {
    let Some(months_count) = interval.months_count() else {
        let back =
            (date.weekday().num_days_from_monday() + 7 - anchor.weekday.num_days_from_monday()) % 7;
        return date.checked_sub_days(Days::new(u64::from(back)));
    };
    let (year, month) = (date.year(), date.month());
    if anchor.is_billing_month(months_count, month) {
        let anniversary = anchor.anniversary_in(year, month)?;
        if date >= anniversary {
            return Some(anniversary);
        }
    }
    // The previous billing month is at most `months_count` months back.
    (1..=months_count)
        .filter_map(|back| shift_month(year, month, -i32::try_from(back).ok()?))
        .find(|&(_, m)| anchor.is_billing_month(months_count, m))
        .and_then(|(y, m)| anchor.anniversary_in(y, m))
}

/// First day of the period after the one starting on `start` (Lago `next_anniversary`).
pub fn next_period_start(
    interval: Interval,
    anchor: &Anchor,
    start: NaiveDate,
) -> Option<NaiveDate> {
    match interval.months_count() {
        None => start.checked_add_days(Days::new(7)),
        Some(months_count) => {
            let delta = i32::try_from(months_count).ok()?;
            let (year, month) = shift_month(start.year(), start.month(), delta)?;
            anchor.anniversary_in(year, month)
        }
    }
}

/// Last day of the period holding `date` (Lago `compute_to_date`).
pub fn period_end(interval: Interval, anchor: &Anchor, date: NaiveDate) -> Option<NaiveDate> {
    let start = period_start(interval, anchor, date)?;
    next_period_start(interval, anchor, start)?.pred_opt()
}

/// Days in the whole period holding `date`, even when the subscription covers only part of it
/// (Lago `compute_duration` / `charges_duration_in_days`).
pub fn period_days(interval: Interval, anchor: &Anchor, date: NaiveDate) -> Option<u32> {
    let start = period_start(interval, anchor, date)?;
    let next = next_period_start(interval, anchor, start)?;
    u32::try_from(next.signed_duration_since(start).num_days()).ok()
}

/// The date billing mode looks back to (Lago `compute_base_date`): one interval before the
/// billing date, the period holding it being the one just billed.
///
/// Months are subtracted the Rails way (`date - 1.month` clamps to the month's end). For
/// anniversary billing, a billing date on a clamped anniversary (the last day of a month shorter
/// than the anchor day) steps back to the previous month's anniversary instead, so Feb 28 with
/// anchor 31 looks back to Jan 31 and not Jan 28.
pub fn billing_base_date(
    interval: Interval,
    anchor: &Anchor,
    billing_date: NaiveDate,
) -> Option<NaiveDate> {
    let Some(months_count) = interval.months_count() else {
        return billing_date.checked_sub_days(Days::new(7));
    };
    let back = billing_date.checked_sub_months(Months::new(months_count))?;
    if anchor.is_anniversary()
        && is_last_day_of_month(billing_date)
        && billing_date.day() < anchor.day()
    {
        return anchor.anniversary_in(back.year(), back.month());
    }
    Some(back)
}

/// True when `date` lies in the first month of its multi-month period (Lago
/// `first_month_in_yearly_period?` / `first_month_in_semiannual_period?`): the monthly period
/// holding `date` starts in a billing month of `interval`.
pub fn is_first_month_of_period(interval: Interval, anchor: &Anchor, date: NaiveDate) -> bool {
    let Some(months_count) = interval.months_count() else {
        return true;
    };
    period_start(Interval::Monthly, anchor, date)
        .is_some_and(|start| anchor.is_billing_month(months_count, start.month()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn anchor_31_walks_the_month_ends() {
        let anchor = Anchor::anniversary(date(2022, 1, 31));
        let starts: Vec<_> = [
            date(2022, 2, 27),
            date(2022, 2, 28),
            date(2022, 3, 30),
            date(2022, 3, 31),
            date(2022, 4, 30),
        ]
        .iter()
        .map(|&d| period_start(Interval::Monthly, &anchor, d).unwrap())
        .collect();
        assert_eq!(
            starts,
            [
                date(2022, 1, 31),
                date(2022, 2, 28),
                date(2022, 2, 28),
                date(2022, 3, 31),
                date(2022, 4, 30)
            ]
        );
        assert_eq!(
            period_end(Interval::Monthly, &anchor, date(2022, 1, 31)),
            Some(date(2022, 2, 27))
        );
        assert_eq!(
            period_end(Interval::Monthly, &anchor, date(2022, 4, 30)),
            Some(date(2022, 5, 30))
        );
    }

    #[test]
    fn calendar_quarters_and_halves() {
        let anchor = Anchor::calendar();
        assert_eq!(
            period_start(Interval::Quarterly, &anchor, date(2022, 5, 17)),
            Some(date(2022, 4, 1))
        );
        assert_eq!(
            period_end(Interval::Semiannual, &anchor, date(2022, 8, 1)),
            Some(date(2022, 12, 31))
        );
        assert_eq!(
            period_days(Interval::Yearly, &anchor, date(2020, 6, 1)),
            Some(366)
        );
    }

    #[test]
    fn days_in_month_handles_leap_years() {
        assert_eq!(days_in_month(2024, 2), Some(29));
        assert_eq!(days_in_month(2100, 2), Some(28));
        assert_eq!(days_in_month(2022, 12), Some(31));
        assert_eq!(days_in_month(2022, 13), None);
    }
}
