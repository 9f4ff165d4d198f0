//! Billing-period boundaries, exact to Lago's `Subscriptions::DatesService`.
//!
//! ## The one internal convention
//!
//! **A period is the closed interval `[from, to]` of UTC instants, both ends included, and `to`
//! keeps Lago's microsecond: local 23:59:59.999999 in the customer timezone** (or the exact
//! `terminated_at` / `started_at` when clamped to them). These are the values Lago filters
//! events with (`timestamp <= to_datetime`), so an event at 23:59:59.5 local belongs to the
//! period. Nothing is truncated inside the engine; [`json`] drops the fraction of a second at
//! the edge, because Lago's API prints `…T23:59:59Z`.
//!
//! Calendar work (anchors, month-end clamping, period starts and ends) is done on local dates in
//! the customer's timezone ([`interval`]), and only then converted to UTC ([`zone`]).
//!
//! ## Layout
//!
//! * [`interval`]: period starts/ends/lengths per interval, calendar vs anniversary;
//! * [`boundaries`](mod@boundaries): the dates service (subscription, charges and fixed-charges
//!   windows, `next_end_of_period`, `issuing_date`) in current-usage or billing mode;
//! * [`proration`]: elapsed days and the projection ratio;
//! * [`zone`]: local dates ↔ UTC instants;
//! * [`json`]: the JSON entry point with Lago's key names.
//!
//! Out of scope: the previous invoice's `charges_to_datetime` after a timezone change (it needs
//! invoices), and a subscription's successor (upgrade/downgrade) at termination: a terminated
//! subscription is treated as having none.

pub mod boundaries;
pub mod interval;
pub mod json;
pub mod proration;
pub mod text;
pub mod tz;
pub mod zone;

use crate::period::tz::Tz;
use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{Error, Result};

pub use boundaries::boundaries;
pub use interval::Interval;
pub use json::boundaries_json;
pub use proration::{date_diff_with_timezone, days_elapsed, period_days_total, period_ratio};

pub use crate::limits::PERIODS_MAX;

/// Which period the reference instant selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The period holding the reference (current and projected usage).
    CurrentUsage,
    /// The reference is the invoicing instant: in arrears the period that just ended; in advance
    /// the subscription period starting and the charges period that just ended.
    Billing,
}

impl Mode {
    /// Parses `"current_usage"` or `"billing"`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "current_usage" => Some(Mode::CurrentUsage),
            "billing" => Some(Mode::Billing),
            _ => None,
        }
    }
}

/// Lago `subscription.billing_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BillingTime {
    /// Periods follow the calendar (ISO weeks, months, quarters, half years, years).
    Calendar,
    /// Periods start on the anniversary of `subscription_at`.
    Anniversary,
}

impl BillingTime {
    /// Parses `"calendar"` or `"anniversary"`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "calendar" => Some(BillingTime::Calendar),
            "anniversary" => Some(BillingTime::Anniversary),
            _ => None,
        }
    }
}

/// Everything the boundaries depend on. Time is an argument: nothing here reads a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeriodInput {
    /// Current usage or billing.
    pub mode: Mode,
    /// Now (current usage) or the invoicing instant (billing).
    pub reference: DateTime<Utc>,
    /// The plan's interval.
    pub interval: Interval,
    /// The plan's subscription fee is paid in advance.
    pub pay_in_advance: bool,
    /// Yearly/semiannual plan billing its charges monthly.
    pub bill_charges_monthly: bool,
    /// Yearly/semiannual plan billing its fixed charges monthly.
    pub bill_fixed_charges_monthly: bool,
    /// Calendar or anniversary periods.
    pub billing_time: BillingTime,
    /// The anniversary anchor (day, month, weekday read in `timezone`).
    pub subscription_at: DateTime<Utc>,
    /// When the subscription became active; no boundary precedes it.
    pub started_at: DateTime<Utc>,
    /// `Some` when the subscription's status is terminated, with the termination instant.
    pub terminated_at: Option<DateTime<Utc>>,
    /// The customer's applicable timezone.
    pub timezone: Tz,
}

/// The boundaries of one period (Lago's dates service), each end inclusive at the microsecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Boundaries {
    /// Subscription period start (clamped to the local midnight of `started_at`).
    pub from_datetime: DateTime<Utc>,
    /// Subscription period end (clamped to a reached termination, and to `started_at`).
    pub to_datetime: DateTime<Utc>,
    /// Charges period start (clamped to `started_at`). `None` in billing mode for a yearly or
    /// semiannual plan billing only fixed charges monthly, outside its first month.
    pub charges_from_datetime: Option<DateTime<Utc>>,
    /// Charges period end (clamped to `terminated_at`, and to `started_at`). `None` with
    /// `charges_from_datetime`.
    pub charges_to_datetime: Option<DateTime<Utc>>,
    /// Days of the whole charges period, even when the subscription covers part of it.
    pub charges_duration_days: u32,
    /// Fixed-charges period start. `None` for a yearly or semiannual plan billing only charges
    /// monthly, outside its first month.
    pub fixed_charges_from_datetime: Option<DateTime<Utc>>,
    /// Fixed-charges period end.
    pub fixed_charges_to_datetime: Option<DateTime<Utc>>,
    /// Days of the whole fixed-charges period.
    pub fixed_charges_duration_days: u32,
    /// End of the subscription period holding the reference's local date.
    pub next_end_of_period: DateTime<Utc>,
    /// The usage `issuing_date`: `next_end_of_period`'s date in UTC (the day after the local
    /// date for a customer west of UTC).
    pub issuing_date: NaiveDate,
}

/// A closed window `[from, to]` of instants, `to` included (see the module convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First instant.
    pub from: DateTime<Utc>,
    /// Last instant, included.
    pub to: DateTime<Utc>,
}

impl Period {
    /// True when `instant` is inside the window, both ends included.
    pub fn contains(&self, instant: DateTime<Utc>) -> bool {
        self.from <= instant && instant <= self.to
    }
}

impl Boundaries {
    /// The subscription period.
    pub fn subscription_period(&self) -> Period {
        Period {
            from: self.from_datetime,
            to: self.to_datetime,
        }
    }

    /// The charges period, when this cycle has one.
    pub fn charges_period(&self) -> Option<Period> {
        Some(Period {
            from: self.charges_from_datetime?,
            to: self.charges_to_datetime?,
        })
    }
}

/// Every charges period of the subscription from the one holding `start` (never before
/// `started_at`) to the one holding `reference`, oldest first, each computed in current-usage
/// mode (so with its clamps to `started_at` and `terminated_at`). Each period starts at the
/// local midnight after the previous one's last day. The list stops after the period a
/// termination ends. The last element is in progress when its `charges_to_datetime`
/// is after `reference`; past usage keeps only the ones before it.
///
/// Errors with `periods: too_many_periods` past [`PERIODS_MAX`].
pub fn periods_between(
    input: &PeriodInput,
    start: DateTime<Utc>,
    reference: DateTime<Utc>,
) -> Result<Vec<Boundaries>> {
    let mut periods = Vec::new();
    let mut cursor = start.max(input.started_at);
    while cursor <= reference {
        if periods.len() >= PERIODS_MAX {
            return Err(Error::invalid("periods", "too_many_periods"));
        }
        let current = boundaries(&PeriodInput {
            mode: Mode::CurrentUsage,
            reference: cursor,
            ..*input
        })?;
        let Some(charges_to) = current.charges_to_datetime else {
            break;
        };
        periods.push(current);
        if input.terminated_at.is_some_and(|at| charges_to >= at) {
            break;
        }
        // The next period opens at the local midnight after this one's last day (not at
        // `charges_to` + 1µs: where DST ends at midnight, the repeated hour after Lago's
        // 23:59:59.999999 belongs to no period).
        let next_date = zone::local_date(charges_to, input.timezone)
            .succ_opt()
            .ok_or_else(zone::out_of_range)?;
        let next = zone::start_of_day(next_date, input.timezone)?;
        if next <= cursor {
            break;
        }
        cursor = next;
    }
    Ok(periods)
}
