//! The JSON edge of the period module: a fixture case's `input` in, Lago's key names out.
//!
//! Input (`tests/fixtures/usage/periods.json`, `cases[].input`):
//!
//! ```json
//! { "mode": "current_usage" | "billing",
//!   "reference_instant": "2022-03-07T04:20:46.011Z",
//!   "plan": { "interval": "monthly", "pay_in_advance": false,
//!             "bill_charges_monthly": false, "bill_fixed_charges_monthly": false },
//!   "subscription": { "billing_time": "anniversary", "subscription_at": "2021-02-02T00:00:00Z",
//!                     "started_at": "2021-02-02T00:00:00Z",
//!                     "status": "terminated", "terminated_at": "2022-03-06T12:23:00Z" },
//!   "customer_timezone": "America/New_York" }
//! ```
//!
//! Timestamps are RFC 3339, with or without a fraction. `started_at` absent defaults to
//! `subscription_at`; `started_at: null` is a subscription not started yet, whose datetimes are
//! all `null` (Lago returns nil). The subscription is active unless `status` says otherwise, or,
//! without `status`, when `terminated_at` is given. A missing or null timezone is UTC.
//!
//! Output: `from_datetime`, `to_datetime`, `charges_from_datetime`, `charges_to_datetime`,
//! `charges_duration_days`, `fixed_charges_from_datetime`, `fixed_charges_to_datetime`,
//! `fixed_charges_duration_days`, `next_end_of_period`, `issuing_date`. Datetimes print as
//! `2022-03-02T00:00:00Z`, truncated to the second like Lago's API; dates as `2022-04-01`.

use std::str::FromStr;

use crate::period::tz::Tz;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::boundaries::truncate_to_second;
use super::{boundaries, BillingTime, Interval, Mode, PeriodInput};
use crate::error::{Error, Result};
use crate::json::object;

/// Computes the boundaries of a JSON request shaped like a fixture case's `input`.
pub fn boundaries_json(request: &Value) -> Result<Value> {
    let request = object(request, "request")?;
    let (input, started) = parse_input(request)?;
    let result = boundaries(&input)?;
    let when_started = |at: Option<DateTime<Utc>>| if started { datetime(at) } else { Value::Null };
    Ok(object! {
        "from_datetime": when_started(Some(result.from_datetime)),
        "to_datetime": when_started(Some(result.to_datetime)),
        "charges_from_datetime": when_started(result.charges_from_datetime),
        "charges_to_datetime": when_started(result.charges_to_datetime),
        "charges_duration_days": Value::from(result.charges_duration_days),
        "fixed_charges_from_datetime": when_started(result.fixed_charges_from_datetime),
        "fixed_charges_to_datetime": when_started(result.fixed_charges_to_datetime),
        "fixed_charges_duration_days": Value::from(result.fixed_charges_duration_days),
        "next_end_of_period": datetime(Some(result.next_end_of_period)),
        "issuing_date": Value::String(super::text::date_text(result.issuing_date)),
    })
}

/// Parses the request into a [`PeriodInput`]; the flag is false for `started_at: null`.
pub fn parse_input(request: &Map<String, Value>) -> Result<(PeriodInput, bool)> {
    let plan = object(required(request, "plan")?, "plan")?;
    let subscription = object(required(request, "subscription")?, "subscription")?;

    let mode = Mode::parse(string(request, "mode")?)
        .ok_or_else(|| Error::invalid("mode", "value_is_invalid"))?;
    let reference = timestamp(request, "reference_instant")?;
    let interval = Interval::parse(string(plan, "interval")?)
        .ok_or_else(|| Error::invalid("interval", "value_is_invalid"))?;
    let billing_time = BillingTime::parse(string(subscription, "billing_time")?)
        .ok_or_else(|| Error::invalid("billing_time", "value_is_invalid"))?;
    let subscription_at = timestamp(subscription, "subscription_at")?;
    let (started_at, started) = match subscription.get("started_at") {
        None => (subscription_at, true),
        Some(Value::Null) => (subscription_at, false),
        Some(_) => (timestamp(subscription, "started_at")?, true),
    };

    Ok((
        PeriodInput {
            mode,
            reference,
            interval,
            pay_in_advance: flag(plan, "pay_in_advance")?,
            bill_charges_monthly: flag(plan, "bill_charges_monthly")?,
            bill_fixed_charges_monthly: flag(plan, "bill_fixed_charges_monthly")?,
            billing_time,
            subscription_at,
            started_at,
            terminated_at: termination(subscription)?,
            timezone: timezone(request.get("customer_timezone"))?,
        },
        started,
    ))
}

/// `Some(terminated_at)` when the subscription is terminated.
fn termination(subscription: &Map<String, Value>) -> Result<Option<DateTime<Utc>>> {
    let terminated_at = match subscription.get("terminated_at") {
        None | Some(Value::Null) => None,
        Some(_) => Some(timestamp(subscription, "terminated_at")?),
    };
    let terminated = match subscription.get("status") {
        None | Some(Value::Null) => terminated_at.is_some(),
        Some(Value::String(status)) => match status.as_str() {
            "terminated" => true,
            "active" | "pending" | "canceled" => false,
            _ => return Err(Error::invalid("status", "value_is_invalid")),
        },
        Some(_) => return Err(Error::invalid("status", "value_is_invalid")),
    };
    match (terminated, terminated_at) {
        (false, _) => Ok(None),
        (true, Some(at)) => Ok(Some(at)),
        (true, None) => Err(Error::invalid("terminated_at", "value_is_mandatory")),
    }
}

/// The customer timezone; UTC when absent.
fn timezone(value: Option<&Value>) -> Result<Tz> {
    match value {
        None | Some(Value::Null) => Ok(Tz::UTC),
        Some(Value::String(name)) => {
            Tz::from_str(name).map_err(|_| Error::invalid("timezone", "invalid_timezone"))
        }
        Some(_) => Err(Error::invalid("timezone", "invalid_timezone")),
    }
}

fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| Error::invalid(field, "value_is_invalid"))
}

fn required<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a Value> {
    match map.get(field) {
        None | Some(Value::Null) => Err(Error::invalid(field, "value_is_mandatory")),
        Some(value) => Ok(value),
    }
}

fn string<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str> {
    required(map, field)?
        .as_str()
        .ok_or_else(|| Error::invalid(field, "value_is_invalid"))
}

/// A boolean flag, false when absent or null.
fn flag(map: &Map<String, Value>, field: &str) -> Result<bool> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(Error::invalid(field, "value_is_invalid")),
    }
}

/// An RFC 3339 timestamp, with or without a fraction of a second.
fn timestamp(map: &Map<String, Value>, field: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(string(map, field)?)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| Error::invalid(field, "invalid_date"))
}

/// `2022-03-02T00:00:00Z`, the fraction dropped; `null` for `None`.
fn datetime(at: Option<DateTime<Utc>>) -> Value {
    match at {
        Some(at) => Value::String(super::text::instant_text(
            truncate_to_second(at),
            super::text::Fraction::None,
        )),
        None => Value::Null,
    }
}
