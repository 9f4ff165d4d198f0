//! The boundaries of one billing period: Lago's `Subscriptions::DatesService`, for every interval.
//!
//! ## What it computes
//!
//! From a reference instant (now for current usage, the invoicing instant for billing) it
//! returns the subscription period (`from`/`to`), the charges period (`charges_from`/`to` and
//! its length in days), the fixed-charges period, and the end of the period holding the
//! reference (`next_end_of_period`, whose UTC date is the usage `issuing_date`).
//!
//! ## Rule
//!
//! All calendar work happens on local dates in the customer timezone ([`super::interval`]):
//!
//! * `billing_date` = the reference's local date; `base_date` = `billing_date` in current-usage
//!   mode, else one interval earlier ([`interval::billing_base_date`]).
//! * subscription period: the one holding `billing_date` when the plan is paid in advance or the
//!   subscription is terminated (in arrears), else the one holding `base_date`;
//! * charges period: the one holding `billing_date` when terminated; else the subscription
//!   period in arrears, the one holding `base_date` in advance. Yearly and semiannual plans with
//!   `bill_charges_monthly` (fixed charges: `bill_fixed_charges_monthly`) take it from the
//!   monthly rule instead, and in billing mode leave it empty outside the months it is billed;
//! * starts are local midnight, ends local 23:59:59.999999, both in UTC; `from` is clamped to
//!   the local midnight of `started_at`, `charges_from` to `started_at` itself; `to` to the
//!   (rounded) termination and `charges_to` to `terminated_at`, then both to `started_at`.
//!
//! ## Lago reference
//!
//! `app/services/subscriptions/dates_service.rb` (`from_datetime`, `to_datetime`,
//! `charges_from_datetime`, `charges_to_datetime`, `next_end_of_period`,
//! `charges_duration_in_days`) and `dates/*_service.rb`; `Subscription#terminated_at?`.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};

use super::interval::{self, Anchor, Interval};
use super::zone::{self, out_of_range};
use super::{BillingTime, Boundaries, Mode, PeriodInput};
use crate::error::Result;

/// Computes every boundary of the period `input.reference` falls in (see the module doc).
pub fn boundaries(input: &PeriodInput) -> Result<Boundaries> {
    let dates = Dates::new(input);
    let reference = input.reference;

    let from_date = dates.subscription_start_date(input.interval, reference)?;
    let from_datetime = dates.clamp_from(zone::start_of_day(from_date, input.timezone)?)?;
    let to_date = dates.end(input.interval, from_date)?;
    let to_datetime = dates.clamp_to(zone::end_of_day(to_date, input.timezone)?);

    let charges = dates.charge_window(input.bill_charges_monthly)?;
    let fixed_charges = dates.charge_window(input.bill_fixed_charges_monthly)?;
    let fill_charges = dates.fills(input.bill_charges_monthly, input.bill_fixed_charges_monthly);
    let fill_fixed = dates.fills_fixed();

    let next_end_date = dates.end(input.interval, dates.billing_date)?;
    let next_end_of_period = zone::end_of_day(next_end_date, input.timezone)?;

    Ok(Boundaries {
        from_datetime,
        to_datetime,
        charges_from_datetime: fill_charges.then_some(charges.from_datetime),
        charges_to_datetime: fill_charges.then_some(charges.to_datetime),
        charges_duration_days: charges.days,
        fixed_charges_from_datetime: fill_fixed.then_some(fixed_charges.from_datetime),
        fixed_charges_to_datetime: fill_fixed.then_some(fixed_charges.to_datetime),
        fixed_charges_duration_days: fixed_charges.days,
        next_end_of_period,
        issuing_date: next_end_of_period.date_naive(),
    })
}

/// One charges window, clamped, with the length of its whole period.
struct ChargeWindow {
    from_datetime: DateTime<Utc>,
    to_datetime: DateTime<Utc>,
    days: u32,
}

/// The state Lago's dates service derives once from the subscription and the reference.
struct Dates<'a> {
    input: &'a PeriodInput,
    anchor: Anchor,
    /// The reference's date in the customer timezone.
    billing_date: NaiveDate,
}

impl<'a> Dates<'a> {
    fn new(input: &'a PeriodInput) -> Self {
        let anchor = match input.billing_time {
            BillingTime::Calendar => Anchor::calendar(),
            BillingTime::Anniversary => {
                Anchor::anniversary(zone::local_date(input.subscription_at, input.timezone))
            }
        };
        Dates {
            input,
            anchor,
            billing_date: zone::local_date(input.reference, input.timezone),
        }
    }

    /// First day of the period of `interval` holding `date`.
    fn start(&self, interval: Interval, date: NaiveDate) -> Result<NaiveDate> {
        interval::period_start(interval, &self.anchor, date).ok_or_else(out_of_range)
    }

    /// Last day of the period of `interval` holding `date`.
    fn end(&self, interval: Interval, date: NaiveDate) -> Result<NaiveDate> {
        interval::period_end(interval, &self.anchor, date).ok_or_else(out_of_range)
    }

    /// Lago `base_date`.
    fn base_date(&self, interval: Interval) -> Result<NaiveDate> {
        match self.input.mode {
            Mode::CurrentUsage => Ok(self.billing_date),
            Mode::Billing => interval::billing_base_date(interval, &self.anchor, self.billing_date)
                .ok_or_else(out_of_range),
        }
    }

    /// Lago `subscription.terminated_at?(billing_at)`: terminated, at or before `billing_at`,
    /// both rounded to the second.
    fn terminated_by(&self, billing_at: DateTime<Utc>) -> bool {
        self.input.terminated_at.is_some_and(|terminated_at| {
            round_to_second(terminated_at) <= round_to_second(billing_at)
        })
    }

    /// Lago `compute_from_date`.
    fn subscription_start_date(
        &self,
        interval: Interval,
        billing_at: DateTime<Utc>,
    ) -> Result<NaiveDate> {
        let terminated_in_arrears = self.terminated_by(billing_at) && !self.input.pay_in_advance;
        if self.input.pay_in_advance || terminated_in_arrears {
            self.start(interval, self.billing_date)
        } else {
            self.start(interval, self.base_date(interval)?)
        }
    }

    /// Lago `compute_charges_from_date` (without the monthly delegation).
    fn charges_from_date(
        &self,
        interval: Interval,
        billing_at: DateTime<Utc>,
    ) -> Result<NaiveDate> {
        if self.terminated_by(billing_at) {
            self.start(interval, self.billing_date)
        } else if !self.input.pay_in_advance {
            self.subscription_start_date(interval, billing_at)
        } else {
            self.start(interval, self.base_date(interval)?)
        }
    }

    /// True for the intervals that can bill (fixed) charges monthly.
    fn has_monthly_option(&self) -> bool {
        matches!(self.input.interval, Interval::Yearly | Interval::Semiannual)
    }

    /// The charges window; `monthly` is the plan's bill-monthly flag for that kind of charge.
    ///
    /// Monthly windows come from a nested monthly dates service that Lago builds with the
    /// billing *date*, which Ruby turns back into an instant at 00:00 UTC: a termination later
    /// that day does not count as "terminated" there.
    fn charge_window(&self, monthly: bool) -> Result<ChargeWindow> {
        let (interval, billing_at) = if monthly && self.has_monthly_option() {
            let midnight_utc = self.billing_date.and_time(NaiveTime::MIN).and_utc();
            (Interval::Monthly, midnight_utc)
        } else {
            (self.input.interval, self.input.reference)
        };
        let from_date = self.charges_from_date(interval, billing_at)?;
        let to_date = self.end(interval, from_date)?;
        let days =
            interval::period_days(interval, &self.anchor, from_date).ok_or_else(out_of_range)?;

        let tz = self.input.timezone;
        let started_at = self.input.started_at;
        let from_datetime = zone::start_of_day(from_date, tz)?.max(started_at);
        let mut to_datetime = zone::end_of_day(to_date, tz)?;
        if let Some(terminated_at) = self.input.terminated_at {
            if terminated_at <= to_datetime {
                to_datetime = terminated_at;
            }
        }
        Ok(ChargeWindow {
            from_datetime,
            to_datetime: to_datetime.max(started_at),
            days,
        })
    }

    /// Lago `should_fill_charges_boundaries?`.
    fn fills(&self, charges_monthly: bool, fixed_charges_monthly: bool) -> bool {
        if !self.has_monthly_option() || self.input.mode == Mode::CurrentUsage || charges_monthly {
            return true;
        }
        !fixed_charges_monthly || self.is_first_month()
    }

    /// Lago `should_fill_fixed_charges_boundaries?` (no current-usage exception there).
    fn fills_fixed(&self) -> bool {
        if !self.has_monthly_option() || self.input.bill_fixed_charges_monthly {
            return true;
        }
        !self.input.bill_charges_monthly || self.is_first_month()
    }

    /// Lago `first_month_in_yearly_period?` / `first_month_in_semiannual_period?`.
    fn is_first_month(&self) -> bool {
        interval::is_first_month_of_period(self.input.interval, &self.anchor, self.billing_date)
    }

    /// `from_datetime` never starts before the local day `started_at` falls on.
    fn clamp_from(&self, from_datetime: DateTime<Utc>) -> Result<DateTime<Utc>> {
        let started_at = self.input.started_at;
        if from_datetime >= started_at {
            return Ok(from_datetime);
        }
        zone::start_of_day(
            zone::local_date(started_at, self.input.timezone),
            self.input.timezone,
        )
    }

    /// `to_datetime` stops at a termination already reached, never before `started_at`.
    fn clamp_to(&self, to_datetime: DateTime<Utc>) -> DateTime<Utc> {
        let mut to_datetime = to_datetime;
        if let Some(terminated_at) = self.input.terminated_at {
            let terminated_at = round_to_second(terminated_at);
            if self.terminated_by(self.input.reference) && to_datetime > terminated_at {
                to_datetime = terminated_at;
            }
        }
        to_datetime.max(self.input.started_at)
    }
}

/// Ruby `Time#round`: to the nearest second, halves up.
pub(crate) fn round_to_second(instant: DateTime<Utc>) -> DateTime<Utc> {
    let truncated = truncate_to_second(instant);
    if instant.timestamp_subsec_nanos() >= 500_000_000 {
        truncated
            .checked_add_signed(TimeDelta::seconds(1))
            .unwrap_or(truncated)
    } else {
        truncated
    }
}

/// Drops the fraction of a second (what Lago's ISO 8601 output and `Time#to_s` show).
pub fn truncate_to_second(instant: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(instant.timestamp(), 0).unwrap_or(instant)
}
