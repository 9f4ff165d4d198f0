//! Coupons and applied coupons, kept as Lago's API has them. They never change usage: Lago
//! applies them on invoices, which the engine does not issue.

use super::entities::{scalar_text, text_column, CREATED_AT};
use super::{render, Engine, ENTITIES_MAX};
use crate::error::{Error, ErrorDetails, Result};
use crate::json::{self, object};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A coupon (`POST /coupons`).
#[derive(Debug, Clone, PartialEq)]
pub struct Coupon {
    /// Engine-made id.
    pub lago_id: String,
    /// Unique code.
    pub code: String,
    /// When it was deleted (applied coupons stay readable).
    pub terminated_at: Option<DateTime<Utc>>,
    /// The JSON it was built from.
    pub input: Map<String, Value>,
}

/// A coupon applied to a customer (`POST /applied_coupons`).
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedCoupon {
    /// Engine-made id.
    pub lago_id: String,
    /// The coupon's code.
    pub coupon_code: String,
    /// The customer's external id.
    pub external_customer_id: String,
    /// When it was removed from the customer.
    pub terminated_at: Option<DateTime<Utc>>,
    /// The JSON it was built from (overrides of the coupon's amounts and frequency).
    pub input: Map<String, Value>,
}

/// An exported coupon or application: id, input, termination.
type Entry = (String, Map<String, Value>, Option<DateTime<Utc>>);

fn text<'a>(input: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    input
        .get(key)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
}

fn one_of(input: &Map<String, Value>, key: &str, allowed: &[&str], errors: &mut ErrorDetails) {
    match input.get(key) {
        None | Some(Value::Null) => errors.add(key, "value_is_mandatory"),
        Some(Value::String(name)) if allowed.contains(&name.as_str()) => {}
        Some(_) => errors.add(key, "value_is_invalid"),
    }
}

fn non_negative_integer(input: &Map<String, Value>, key: &str, errors: &mut ErrorDetails) {
    match input.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::Number(n)) if n.as_u64().is_some() => {}
        Some(_) => errors.add(key, "value_is_invalid"),
    }
}

fn rate(input: &Map<String, Value>, key: &str, errors: &mut ErrorDetails) {
    let text = match input.get(key) {
        None | Some(Value::Null) => return,
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return errors.add(key, "value_is_invalid"),
    };
    match text.parse::<rust_decimal::Decimal>() {
        Ok(rate) if rate >= rust_decimal::Decimal::ZERO => {}
        _ => errors.add(key, "value_is_invalid"),
    }
}

/// Lago's coupon rules: name, code, type with its amount or rate, frequency with its duration,
/// expiration with its date.
fn validate_coupon(input: &Map<String, Value>) -> Result<()> {
    let mut errors = ErrorDetails::default();
    for key in ["name", "code"] {
        if text(input, key).is_none() {
            errors.add(key, "value_is_mandatory");
        }
    }
    one_of(
        input,
        "coupon_type",
        &["fixed_amount", "percentage"],
        &mut errors,
    );
    one_of(
        input,
        "frequency",
        &["once", "recurring", "forever"],
        &mut errors,
    );
    one_of(
        input,
        "expiration",
        &["no_expiration", "time_limit"],
        &mut errors,
    );
    non_negative_integer(input, "amount_cents", &mut errors);
    non_negative_integer(input, "frequency_duration", &mut errors);
    rate(input, "percentage_rate", &mut errors);
    match text(input, "coupon_type") {
        Some("fixed_amount") => {
            if input.get("amount_cents").is_none_or(Value::is_null) {
                errors.add("amount_cents", "value_is_mandatory");
            }
            if text(input, "amount_currency").is_none() {
                errors.add("amount_currency", "value_is_mandatory");
            } else if crate::money::Currency::from_code(
                text(input, "amount_currency").unwrap_or(""),
            )
            .is_none()
            {
                errors.add("amount_currency", "value_is_invalid");
            }
        }
        Some("percentage") if input.get("percentage_rate").is_none_or(Value::is_null) => {
            errors.add("percentage_rate", "value_is_mandatory");
        }
        _ => {}
    }
    if text(input, "frequency") == Some("recurring")
        && input.get("frequency_duration").is_none_or(Value::is_null)
    {
        errors.add("frequency_duration", "value_is_mandatory");
    }
    if text(input, "expiration") == Some("time_limit") {
        match text(input, "expiration_at") {
            None => errors.add("expiration_at", "value_is_mandatory"),
            Some(at) if DateTime::parse_from_rfc3339(at).is_err() => {
                errors.add("expiration_at", "invalid_date")
            }
            Some(_) => {}
        }
    }
    errors.into_result()
}

/// `applies_to.<key>` as lago-api keeps it: a list of texts (numbers and booleans as their
/// text); strong parameters drop a list holding anything else, so that is none.
fn codes(input: &Map<String, Value>, key: &str) -> Vec<Value> {
    let items = input
        .get("applies_to")
        .and_then(|a| a.get(key))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    items
        .iter()
        .map(scalar_text)
        .collect::<Option<Vec<Value>>>()
        .unwrap_or_default()
}

/// The application's value of `key` when set, else the coupon's (a function, not a closure
/// inlined at each of its five uses).
#[inline(never)]
fn override_or_coupon(applied: &AppliedCoupon, coupon: Option<&Coupon>, key: &str) -> Value {
    applied
        .input
        .get(key)
        .filter(|v| !v.is_null())
        .cloned()
        .or_else(|| coupon.and_then(|c| c.input.get(key).cloned()))
        .unwrap_or(Value::Null)
}

fn field(input: &Map<String, Value>, key: &str) -> Value {
    input.get(key).cloned().unwrap_or(Value::Null)
}

/// A currency as lago-api renders it: a known ISO code, else null (a percentage coupon's
/// currency is not checked on input, and Lago never renders one outside `Currency`).
fn currency_json(value: Value) -> Value {
    match &value {
        Value::String(code) if crate::money::Currency::from_code(code).is_some() => value,
        _ => Value::Null,
    }
}

/// A datetime column: the text when it is an RFC 3339 instant (the only form the emulator
/// reads), null otherwise (lago-api casts anything else to NULL).
fn datetime_column(input: &Map<String, Value>, key: &str) -> Value {
    match input.get(key) {
        Some(Value::String(at)) if DateTime::parse_from_rfc3339(at).is_ok() => {
            Value::String(at.clone())
        }
        _ => Value::Null,
    }
}

/// A rate as Rails renders its BigDecimal column (`"5"` → `"5.0"`); null when absent.
fn rate_json(value: &Value) -> Value {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Value::Null,
    };
    text.parse::<rust_decimal::Decimal>()
        .map_or(Value::Null, crate::rating::decimal_json)
}

/// `CouponObject`.
pub fn coupon_json(coupon: &Coupon) -> Value {
    let input = &coupon.input;
    let plan_codes = codes(input, "plan_codes");
    let metric_codes = codes(input, "billable_metric_codes");
    object! {
        "lago_id": json::text(&coupon.lago_id),
        "name": field(input, "name"),
        "code": json::text(&coupon.code),
        "description": text_column(input, "description"),
        "coupon_type": field(input, "coupon_type"),
        "amount_cents": field(input, "amount_cents"),
        "amount_currency": currency_json(field(input, "amount_currency")),
        "reusable": Value::from(input.get("reusable").and_then(Value::as_bool).unwrap_or(true)),
        "limited_plans": Value::from(!plan_codes.is_empty()),
        "plan_codes": Value::Array(plan_codes),
        "limited_billable_metrics": Value::from(!metric_codes.is_empty()),
        "billable_metric_codes": Value::Array(metric_codes),
        "percentage_rate": rate_json(&field(input, "percentage_rate")),
        "frequency": field(input, "frequency"),
        "frequency_duration": field(input, "frequency_duration"),
        "expiration": field(input, "expiration"),
        "expiration_at": datetime_column(input, "expiration_at"),
        "created_at": field(input, CREATED_AT),
        "terminated_at": coupon.terminated_at.map_or(Value::Null, render::datetime),
    }
}

impl Engine {
    fn live_coupon(&self, code: &str) -> Result<&Coupon> {
        self.coupons
            .get(code)
            .filter(|c| c.terminated_at.is_none())
            .ok_or_else(|| Error::not_found("coupon"))
    }

    /// `POST /coupons` (a code in use is `value_already_exist`) or `PUT /coupons/{code}`
    /// (`update` names the code; the body's fields replace the stored ones).
    pub fn save_coupon(&mut self, input: &Value, update: Option<&str>) -> Result<Value> {
        let input = input.as_object().ok_or_else(|| {
            Error::BadRequest("param is missing or the value is empty: coupon".into())
        })?;
        let (merged, lago_id) = match update {
            Some(code) => {
                let coupon = self.live_coupon(code)?;
                let mut merged = coupon.input.clone();
                for (key, value) in input {
                    if key != CREATED_AT {
                        merged.insert(key.clone(), value.clone());
                    }
                }
                merged.insert("code".into(), json::text(code));
                (merged, coupon.lago_id.clone())
            }
            None => {
                let code = text(input, "code").unwrap_or("");
                if self.live_coupon(code).is_ok() {
                    return Err(Error::invalid("code", "value_already_exist"));
                }
                if self.coupons.len() >= ENTITIES_MAX {
                    return Err(Error::invalid("base", "too_many_records"));
                }
                let mut merged = input.clone();
                let at = self.clock.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
                merged.insert(CREATED_AT.into(), render::datetime(at));
                (merged, self.make_id("coupon"))
            }
        };
        validate_coupon(&merged)?;
        let coupon = Coupon {
            lago_id,
            code: text(&merged, "code").unwrap_or_default().to_string(),
            terminated_at: None,
            input: merged,
        };
        let out = coupon_json(&coupon);
        self.coupons.insert(coupon.code.clone(), coupon);
        Ok(out)
    }

    /// `GET /coupons/{code}`.
    pub fn coupon(&self, code: &str) -> Result<Value> {
        self.live_coupon(code).map(coupon_json)
    }

    /// Every coupon not deleted, by code (render with [`coupon_json`]).
    pub fn coupons(&self) -> Vec<&Coupon> {
        self.coupons
            .values()
            .filter(|c| c.terminated_at.is_none())
            .collect()
    }

    /// `DELETE /coupons/{code}`: the coupon ends at `now`, and so do its applications.
    pub fn delete_coupon(&mut self, code: &str, now: DateTime<Utc>) -> Result<Value> {
        self.live_coupon(code)?;
        self.observe(now);
        for applied in self.applied_coupons.iter_mut() {
            if applied.coupon_code == code && applied.terminated_at.is_none() {
                applied.terminated_at = Some(now);
            }
        }
        let coupon = self
            .coupons
            .get_mut(code)
            .ok_or_else(|| Error::not_found("coupon"))?;
        coupon.terminated_at = Some(now);
        Ok(coupon_json(coupon))
    }

    /// `POST /applied_coupons`: the customer and coupon must exist; a coupon that is not
    /// reusable applies once per customer.
    pub fn apply_coupon(&mut self, input: &Value) -> Result<Value> {
        let input = input.as_object().ok_or_else(|| {
            Error::BadRequest("param is missing or the value is empty: applied_coupon".into())
        })?;
        let customer_id = text(input, "external_customer_id")
            .unwrap_or("")
            .to_string();
        if !self.customers.contains_key(&customer_id) {
            return Err(Error::not_found("customer"));
        }
        let coupon_code = text(input, "coupon_code").unwrap_or("").to_string();
        let coupon = self.live_coupon(&coupon_code)?;
        let reusable = coupon
            .input
            .get("reusable")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let applied_before = self
            .applied_coupons
            .iter()
            .any(|a| a.coupon_code == coupon_code && a.external_customer_id == customer_id);
        if applied_before && !reusable {
            return Err(Error::invalid("coupon", "coupon_is_not_reusable"));
        }
        let mut errors = ErrorDetails::default();
        non_negative_integer(input, "amount_cents", &mut errors);
        non_negative_integer(input, "frequency_duration", &mut errors);
        rate(input, "percentage_rate", &mut errors);
        if let Some(frequency) = input.get("frequency").filter(|v| !v.is_null()) {
            if !matches!(frequency.as_str(), Some("once" | "recurring" | "forever")) {
                errors.add("frequency", "value_is_invalid");
            }
        }
        errors.into_result()?;
        if self.applied_coupons.len() >= ENTITIES_MAX {
            return Err(Error::invalid("base", "too_many_records"));
        }
        let mut stored = input.clone();
        let at = self.clock.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        stored.insert(CREATED_AT.into(), render::datetime(at));
        let applied = AppliedCoupon {
            lago_id: self.make_id("applied_coupon"),
            coupon_code,
            external_customer_id: customer_id,
            terminated_at: None,
            input: stored,
        };
        let out = self.applied_coupon_json(&applied);
        self.applied_coupons.push(applied);
        Ok(out)
    }

    /// `AppliedCouponObject`: the application's overrides, else the coupon's values.
    pub fn applied_coupon_json(&self, applied: &AppliedCoupon) -> Value {
        let coupon = self.coupons.get(&applied.coupon_code);
        let from_coupon = |key: &str| override_or_coupon(applied, coupon, key);
        let amount_cents = from_coupon("amount_cents");
        let frequency_duration = from_coupon("frequency_duration");
        let percentage_rate = rate_json(&from_coupon("percentage_rate"));
        object! {
            "lago_id": json::text(&applied.lago_id),
            "lago_coupon_id": json::text_or_null(coupon.map(|c| c.lago_id.as_str())),
            "coupon_code": json::text(&applied.coupon_code),
            "coupon_name": coupon.map_or(Value::Null, |c| field(&c.input, "name")),
            "coupon_status": Value::from(if coupon.is_some_and(|c| c.terminated_at.is_none()) { "active" } else { "terminated" }),
            "coupon_deleted_at": coupon.and_then(|c| c.terminated_at).map_or(Value::Null, render::datetime),
            "lago_customer_id": json::text_or_null(self.customers.get(&applied.external_customer_id).map(|c| c.lago_id.as_str())),
            "external_customer_id": json::text(&applied.external_customer_id),
            "status": Value::from(if applied.terminated_at.is_none() { "active" } else { "terminated" }),
            "amount_cents": amount_cents.clone(),
            "amount_cents_remaining": amount_cents,
            "amount_currency": currency_json(from_coupon("amount_currency")),
            "percentage_rate": percentage_rate,
            "frequency": from_coupon("frequency"),
            "frequency_duration": frequency_duration.clone(),
            "frequency_duration_remaining": frequency_duration,
            "expiration_at": coupon.map_or(Value::Null, |c| datetime_column(&c.input, "expiration_at")),
            "created_at": field(&applied.input, CREATED_AT),
            "terminated_at": applied.terminated_at.map_or(Value::Null, render::datetime),
            "credits": Value::Array(Vec::new()),
        }
    }

    /// Applied coupons, oldest first, optionally of one customer, one status and some codes.
    pub fn applied_coupons(
        &self,
        external_customer_id: Option<&str>,
        status: Option<&str>,
        coupon_codes: &[String],
    ) -> Vec<&AppliedCoupon> {
        self.applied_coupons
            .iter()
            .filter(|a| external_customer_id.is_none_or(|c| a.external_customer_id == c))
            .filter(|a| match status {
                Some("active") => a.terminated_at.is_none(),
                Some("terminated") => a.terminated_at.is_some(),
                _ => true,
            })
            .filter(|a| coupon_codes.is_empty() || coupon_codes.contains(&a.coupon_code))
            .collect()
    }

    /// `DELETE /customers/{id}/applied_coupons/{lago_id}`: the application ends at `now`.
    pub fn remove_applied_coupon(
        &mut self,
        external_customer_id: &str,
        lago_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Value> {
        if !self.customers.contains_key(external_customer_id) {
            return Err(Error::not_found("customer"));
        }
        self.observe(now);
        let applied = self
            .applied_coupons
            .iter_mut()
            .find(|a| {
                a.lago_id == lago_id
                    && a.external_customer_id == external_customer_id
                    && a.terminated_at.is_none()
            })
            .ok_or_else(|| Error::not_found("applied_coupon"))?;
        applied.terminated_at = Some(now);
        let applied = applied.clone();
        Ok(self.applied_coupon_json(&applied))
    }

    /// Coupons and applied coupons for an export.
    pub(super) fn coupons_export(&self) -> Value {
        let entry =
            |lago_id: &str, input: &Map<String, Value>, terminated: Option<DateTime<Utc>>| {
                object! {
                    "lago_id": json::text(lago_id),
                    "input": Value::Object(input.clone()),
                    "terminated_at": terminated.map_or(Value::Null, render::datetime_exact),
                }
            };
        object! {
            "coupons": self.coupons.values().map(|c| entry(&c.lago_id, &c.input, c.terminated_at)).collect(),
            "applied_coupons": self.applied_coupons.iter().map(|a| entry(&a.lago_id, &a.input, a.terminated_at)).collect(),
        }
    }

    /// Reads [`Engine::coupons_export`] back.
    pub(super) fn coupons_import(&mut self, state: &Map<String, Value>) -> Result<()> {
        let entries = |key: &str| -> Result<Vec<Entry>> {
            let items = match state.get(key) {
                None | Some(Value::Null) => return Ok(Vec::new()),
                Some(Value::Array(items)) => items,
                Some(_) => return Err(Error::invalid(key, "value_is_invalid")),
            };
            items
                .iter()
                .map(|item| {
                    let lago_id = item.get("lago_id").and_then(Value::as_str);
                    let input = item.get("input").and_then(Value::as_object);
                    let terminated = match item.get("terminated_at") {
                        None | Some(Value::Null) => None,
                        Some(at) => Some(
                            at.as_str()
                                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                                .ok_or_else(|| Error::invalid(key, "value_is_invalid"))?
                                .with_timezone(&Utc),
                        ),
                    };
                    match (lago_id, input) {
                        (Some(id), Some(input)) => Ok((id.to_string(), input.clone(), terminated)),
                        _ => Err(Error::invalid(key, "value_is_invalid")),
                    }
                })
                .collect()
        };
        for (lago_id, input, terminated_at) in entries("coupons")? {
            validate_coupon(&input)?;
            let code = text(&input, "code").unwrap_or_default().to_string();
            self.coupons.insert(
                code.clone(),
                Coupon {
                    lago_id,
                    code,
                    terminated_at,
                    input,
                },
            );
        }
        for (lago_id, input, terminated_at) in entries("applied_coupons")? {
            let coupon_code = text(&input, "coupon_code").unwrap_or_default().to_string();
            let external_customer_id = text(&input, "external_customer_id")
                .unwrap_or_default()
                .to_string();
            self.applied_coupons.push(AppliedCoupon {
                lago_id,
                coupon_code,
                external_customer_id,
                terminated_at,
                input,
            });
        }
        Ok(())
    }
}
