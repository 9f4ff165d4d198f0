//! One function per endpoint of the route table: read the call, ask the engine, wrap the answer
//! in Lago's root key.

use super::Call;
use crate::engine::coupons::coupon_json;
use crate::engine::entities::{metric_json, tax_json};
use crate::engine::{pagination_meta, Engine};
use crate::error::{Error, Result};
use crate::json::{self, object};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Lago's default page size.
const PER_PAGE_DEFAULT: usize = 100;

/// The body's root object (`{"customer": {…}}`), else Rails' `ParameterMissing` (400).
fn root<'a>(call: &'a Call, key: &str) -> Result<&'a Value> {
    call.body
        .get(key)
        .filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        .ok_or_else(|| Error::BadRequest(format!("param is missing or the value is empty: {key}")))
}

fn text<'a>(call: &'a Call, key: &str) -> Option<&'a str> {
    call.query
        .get(key)
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
}

/// `key[]=a&key[]=b` (or a single `key=a`) as a list.
fn list(call: &Call, key: &str) -> Vec<String> {
    match call.query.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(one)) if !one.is_empty() => vec![one.clone()],
        _ => Vec::new(),
    }
}

/// Rails' `to_i` on a page parameter: anything unreadable or below 1 is the default.
fn positive(call: &Call, key: &str, default: usize) -> usize {
    text(call, key)
        .and_then(|t| t.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(default)
}

/// Lago's `page` and `per_page` of a list request.
fn page_of(call: &Call) -> (usize, usize) {
    (
        positive(call, "page", 1),
        positive(call, "per_page", PER_PAGE_DEFAULT),
    )
}

/// `{<plural>: rows, meta}` for one page of `total` items.
fn page_json(
    plural: &str,
    rows: Vec<Value>,
    (page, per_page): (usize, usize),
    total: usize,
) -> Value {
    object! { plural: Value::Array(rows), "meta": pagination_meta(page, total.div_ceil(per_page), total) }
}

/// `{<plural>: [page of items], meta}` with Lago's `page` / `per_page`; only the page's items are
/// rendered.
fn paginated<T>(call: &Call, plural: &str, items: Vec<T>, render: impl Fn(T) -> Value) -> Value {
    let (page, per_page) = page_of(call);
    let total = items.len();
    let rows: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(render)
        .collect();
    page_json(plural, rows, (page, per_page), total)
}

fn wrap(key: &str, value: Value) -> Value {
    object! { key: value }
}

/// The body's root object with `field` set from the path (`PUT /plans/{code}`); a different
/// value in the body would rename the entity, which the emulator refuses.
fn with_key(call: &Call, root_key: &str, field: &str) -> Result<Value> {
    let mut object = root(call, root_key)?
        .as_object()
        .cloned()
        .unwrap_or_default();
    match object.get(field).and_then(Value::as_str) {
        Some(given) if given != call.param(0) => {
            return Err(Error::invalid(field, "value_is_invalid"))
        }
        _ => {}
    }
    object.insert(field.into(), json::text(call.param(0)));
    Ok(Value::Object(object))
}

// ---------------------------------------------------------------------------------------------
// Customers and usage
// ---------------------------------------------------------------------------------------------

pub(super) fn create_customer(engine: &mut Engine, call: &Call) -> Result<Value> {
    let customer = engine.upsert_customer(root(call, "customer")?)?;
    Ok(wrap("customer", customer))
}

pub(super) fn list_customers(engine: &mut Engine, call: &Call) -> Result<Value> {
    let search = text(call, "search_term").map(str::to_lowercase);
    let countries = list(call, "countries");
    let currencies = list(call, "currencies");
    let account_types = list(call, "account_type");
    let matches = |c: &Value, key: &str, allowed: &[String]| {
        allowed.is_empty()
            || c[key]
                .as_str()
                .is_some_and(|v| allowed.iter().any(|a| a == v))
    };
    let filtered = !(search.is_none()
        && countries.is_empty()
        && currencies.is_empty()
        && account_types.is_empty());
    if !filtered {
        let customers = engine.customers();
        return Ok(paginated(call, "customers", customers, |c| {
            engine.customer_json(c)
        }));
    }
    // The filters read the rendered customer (its defaults included).
    let customers: Vec<Value> = engine
        .customers()
        .into_iter()
        .map(|c| engine.customer_json(c))
        .filter(|c| matches(c, "country", &countries))
        .filter(|c| matches(c, "currency", &currencies))
        .filter(|c| matches(c, "account_type", &account_types))
        .filter(|c| {
            search.as_ref().is_none_or(|term| {
                [
                    "external_id",
                    "name",
                    "email",
                    "firstname",
                    "lastname",
                    "legal_name",
                ]
                .iter()
                .any(|k| {
                    c[*k]
                        .as_str()
                        .is_some_and(|v| v.to_lowercase().contains(term))
                })
            })
        })
        .collect();
    Ok(paginated(call, "customers", customers, |c| c))
}

pub(super) fn get_customer(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("customer", engine.customer(call.param(0))?))
}

pub(super) fn delete_customer(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap(
        "customer",
        engine.delete_customer(call.param(0), call.now)?,
    ))
}

/// The usage query: the query string plus the customer from the path and `now`.
fn usage_query(call: &Call) -> Value {
    let mut query = call.query.clone();
    query.insert("external_customer_id".into(), json::text(call.param(0)));
    query.insert("now".into(), Value::String(call.now.to_rfc3339()));
    Value::Object(query)
}

pub(super) fn current_usage(engine: &mut Engine, call: &Call) -> Result<crate::engine::UsageText> {
    engine.current_usage_text(&usage_query(call))
}

pub(super) fn projected_usage(engine: &mut Engine, call: &Call) -> Result<Value> {
    engine.projected_usage(&usage_query(call))
}

pub(super) fn past_usage(engine: &mut Engine, call: &Call) -> Result<Value> {
    engine.past_usage(&usage_query(call))
}

pub(super) fn customer_applied_coupons(engine: &mut Engine, call: &Call) -> Result<Value> {
    engine.customer(call.param(0))?;
    let coupons = engine.applied_coupons(
        Some(call.param(0)),
        text(call, "status"),
        &list(call, "coupon_code"),
    );
    Ok(paginated(call, "applied_coupons", coupons, |a| {
        engine.applied_coupon_json(a)
    }))
}

pub(super) fn remove_applied_coupon(engine: &mut Engine, call: &Call) -> Result<Value> {
    let applied = engine.remove_applied_coupon(call.param(0), call.param(1), call.now)?;
    Ok(wrap("applied_coupon", applied))
}

pub(super) fn customer_subscriptions(engine: &mut Engine, call: &Call) -> Result<Value> {
    engine.customer(call.param(0))?;
    let subscriptions = engine.subscriptions(
        Some(call.param(0)),
        text(call, "plan_code"),
        &list(call, "status"),
    );
    Ok(paginated(call, "subscriptions", subscriptions, |s| {
        engine.subscription_json(s)
    }))
}

/// No payment provider exists here, so Lago's answer is always this 422.
pub(super) fn checkout_url(engine: &mut Engine, call: &Call) -> Result<Value> {
    engine.customer(call.param(0))?;
    Err(Error::invalid("base", "no_linked_payment_provider"))
}

pub(super) fn portal_url(engine: &mut Engine, call: &Call) -> Result<Value> {
    engine.customer(call.param(0))?;
    let token = portal_token(call.api_key, call.param(0));
    let id = percent_encode(call.param(0));
    let url = format!("http://{}/?customer={id}&token={token}", call.host);
    Ok(object! {"customer": object! {"portal_url": Value::String(url)}})
}

/// A per-customer token: HMAC-SHA256 of the customer's id keyed by the API key (first 16 bytes,
/// hex), so a portal link shows one customer and cannot be turned into another's.
fn portal_token(api_key: &str, external_customer_id: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(api_key.as_bytes()) else {
        return String::new();
    };
    mac.update(b"portal\0");
    mac.update(external_customer_id.as_bytes());
    mac.finalize().into_bytes()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `GET /portal/customers/{id}/usage?token=…`: the customer and, per active subscription, its
/// current and projected usage (projected null when the organisation has it off).
pub(super) fn portal(
    engine: &mut Engine,
    api_key: &str,
    segments: &[String],
    query: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Value> {
    let [kind, id, usage] = segments else {
        return Err(Error::NotFound("resource_not_found".into()));
    };
    if kind != "customers" || usage != "usage" {
        return Err(Error::NotFound("resource_not_found".into()));
    }
    let token = query.get("token").and_then(Value::as_str).unwrap_or("");
    let expected = portal_token(api_key, id);
    if api_key.is_empty()
        || expected.is_empty()
        || !super::constant_time_eq(token.as_bytes(), expected.as_bytes())
    {
        return Err(Error::not_found("customer"));
    }
    engine.observe(now);
    let customer = engine.customer(id)?;
    let ids: Vec<String> = engine
        .subscriptions(Some(id), None, &[])
        .iter()
        .map(|s| s.external_id.clone())
        .collect();
    let mut subscriptions = Vec::new();
    for external_id in ids {
        let query = object! {
            "external_customer_id": json::text(id),
            "external_subscription_id": json::text(&external_id),
            "now": Value::String(now.to_rfc3339()),
        };
        let current = engine.current_usage(&query)?;
        let projected = engine.projected_usage(&query).ok();
        let subscription = engine.subscription(&external_id)?;
        subscriptions.push(object! {
            "external_id": Value::String(external_id),
            "plan_code": subscription["plan_code"].clone(),
            "current_usage": current["customer_usage"].clone(),
            "projected_usage": projected.map_or(Value::Null, |p| p["customer_projected_usage"].clone()),
        });
    }
    Ok(
        object! {"customer": customer, "subscriptions": Value::Array(subscriptions), "now": Value::String(now.to_rfc3339())},
    )
}

// ---------------------------------------------------------------------------------------------
// Billable metrics, plans, taxes
// ---------------------------------------------------------------------------------------------

/// A creation refuses a code already in use (only customers and subscriptions are upserts).
fn refuse_taken(engine: &Engine, kind: &str, input: &Value, field: &str) -> Result<()> {
    let key = input.get(field).and_then(Value::as_str).unwrap_or("");
    if !key.is_empty() && engine.exists(kind, key) {
        return Err(Error::invalid(field, "value_already_exist"));
    }
    Ok(())
}

fn require(engine: &Engine, kind: &str, key: &str) -> Result<()> {
    if engine.exists(kind, key) {
        Ok(())
    } else {
        Err(Error::not_found(kind))
    }
}

pub(super) fn create_metric(engine: &mut Engine, call: &Call) -> Result<Value> {
    let input = root(call, "billable_metric")?;
    refuse_taken(engine, "billable_metric", input, "code")?;
    Ok(wrap("billable_metric", engine.upsert_metric(input)?))
}

pub(super) fn list_metrics(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(paginated(
        call,
        "billable_metrics",
        engine.metrics(),
        metric_json,
    ))
}

pub(super) fn get_metric(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("billable_metric", engine.metric(call.param(0))?))
}

pub(super) fn update_metric(engine: &mut Engine, call: &Call) -> Result<Value> {
    require(engine, "billable_metric", call.param(0))?;
    let input = with_key(call, "billable_metric", "code")?;
    Ok(wrap("billable_metric", engine.upsert_metric(&input)?))
}

pub(super) fn delete_metric(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap(
        "billable_metric",
        engine.delete_metric(call.param(0))?,
    ))
}

pub(super) fn create_plan(engine: &mut Engine, call: &Call) -> Result<Value> {
    let input = root(call, "plan")?;
    refuse_taken(engine, "plan", input, "code")?;
    Ok(wrap("plan", engine.upsert_plan(input)?))
}

pub(super) fn list_plans(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(paginated(call, "plans", engine.plans(), |p| {
        engine.plan_json(p)
    }))
}

pub(super) fn get_plan(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("plan", engine.plan(call.param(0))?))
}

pub(super) fn update_plan(engine: &mut Engine, call: &Call) -> Result<Value> {
    require(engine, "plan", call.param(0))?;
    let input = with_key(call, "plan", "code")?;
    Ok(wrap("plan", engine.upsert_plan(&input)?))
}

pub(super) fn delete_plan(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("plan", engine.delete_plan(call.param(0))?))
}

pub(super) fn create_tax(engine: &mut Engine, call: &Call) -> Result<Value> {
    let input = root(call, "tax")?;
    refuse_taken(engine, "tax", input, "code")?;
    Ok(wrap("tax", engine.upsert_tax(input)?))
}

pub(super) fn list_taxes(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(paginated(call, "taxes", engine.taxes(), tax_json))
}

pub(super) fn get_tax(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("tax", engine.tax(call.param(0))?))
}

pub(super) fn update_tax(engine: &mut Engine, call: &Call) -> Result<Value> {
    require(engine, "tax", call.param(0))?;
    let input = with_key(call, "tax", "code")?;
    Ok(wrap("tax", engine.upsert_tax(&input)?))
}

pub(super) fn delete_tax(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("tax", engine.delete_tax(call.param(0))?))
}

/// `PUT /organizations`: the organisation's settings (timezone, premium integrations).
pub(super) fn update_organization(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap(
        "organization",
        engine.configure(root(call, "organization")?)?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Subscriptions
// ---------------------------------------------------------------------------------------------

pub(super) fn create_subscription(engine: &mut Engine, call: &Call) -> Result<Value> {
    let input = root(call, "subscription")?;
    Ok(wrap(
        "subscription",
        engine.upsert_subscription(input, call.now)?,
    ))
}

pub(super) fn list_subscriptions(engine: &mut Engine, call: &Call) -> Result<Value> {
    let subscriptions = engine.subscriptions(
        text(call, "external_customer_id"),
        text(call, "plan_code"),
        &list(call, "status"),
    );
    Ok(paginated(call, "subscriptions", subscriptions, |s| {
        engine.subscription_json(s)
    }))
}

pub(super) fn get_subscription(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("subscription", engine.subscription(call.param(0))?))
}

/// `PUT /subscriptions/{id}`: name, ending_at, subscription_at.
pub(super) fn update_subscription(engine: &mut Engine, call: &Call) -> Result<Value> {
    require(engine, "subscription", call.param(0))?;
    let given = root(call, "subscription")?
        .as_object()
        .cloned()
        .unwrap_or_default();
    let mut input = Map::new();
    for key in ["name", "ending_at", "subscription_at"] {
        if let Some(value) = given.get(key) {
            input.insert(key.into(), value.clone());
        }
    }
    input.insert("external_id".into(), json::text(call.param(0)));
    let subscription = engine.upsert_subscription(&Value::Object(input), call.now)?;
    Ok(wrap("subscription", subscription))
}

pub(super) fn terminate_subscription(engine: &mut Engine, call: &Call) -> Result<Value> {
    let subscription = engine.terminate_subscription(call.param(0), call.now)?;
    Ok(wrap("subscription", subscription))
}

pub(super) fn subscription_charges(engine: &mut Engine, call: &Call) -> Result<Value> {
    let charges = engine.subscription_charges(call.param(0), text(call, "subscription_status"))?;
    Ok(paginated(call, "charges", charges, |c| c))
}

pub(super) fn subscription_charge(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap(
        "charge",
        engine.subscription_charge(call.param(0), call.param(1))?,
    ))
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

pub(super) fn create_event(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap(
        "event",
        engine.ingest_event(root(call, "event")?, call.now)?,
    ))
}

pub(super) fn create_events(engine: &mut Engine, call: &Call) -> Result<Value> {
    let events = call.body.get("events").ok_or_else(|| {
        Error::BadRequest("param is missing or the value is empty: events".into())
    })?;
    Ok(wrap("events", engine.ingest_batch(events, call.now)?))
}

fn instant(call: &Call, key: &str) -> Result<Option<DateTime<Utc>>> {
    text(call, key)
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| Error::invalid(key, "invalid_date"))
        })
        .transpose()
}

/// `GET /events`: newest first, by subscription, code and timestamp range.
pub(super) fn list_events(engine: &mut Engine, call: &Call) -> Result<Value> {
    let (page, per_page) = page_of(call);
    let filter = crate::engine::EventQuery {
        external_subscription_id: text(call, "external_subscription_id"),
        code: text(call, "code"),
        from: instant(call, "timestamp_from")?,
        to: instant(call, "timestamp_to")?,
    };
    let (events, total) = engine.events_page(&filter, page, per_page);
    Ok(page_json("events", events, (page, per_page), total))
}

pub(super) fn get_event(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("event", engine.event(call.param(0))?))
}

// ---------------------------------------------------------------------------------------------
// Coupons
// ---------------------------------------------------------------------------------------------

pub(super) fn create_coupon(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap(
        "coupon",
        engine.save_coupon(root(call, "coupon")?, None)?,
    ))
}

pub(super) fn list_coupons(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(paginated(call, "coupons", engine.coupons(), coupon_json))
}

pub(super) fn get_coupon(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap("coupon", engine.coupon(call.param(0))?))
}

pub(super) fn update_coupon(engine: &mut Engine, call: &Call) -> Result<Value> {
    let input = root(call, "coupon")?;
    Ok(wrap(
        "coupon",
        engine.save_coupon(input, Some(call.param(0)))?,
    ))
}

pub(super) fn delete_coupon(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap(
        "coupon",
        engine.delete_coupon(call.param(0), call.now)?,
    ))
}

pub(super) fn apply_coupon(engine: &mut Engine, call: &Call) -> Result<Value> {
    Ok(wrap(
        "applied_coupon",
        engine.apply_coupon(root(call, "applied_coupon")?)?,
    ))
}

pub(super) fn list_applied_coupons(engine: &mut Engine, call: &Call) -> Result<Value> {
    let coupons = engine.applied_coupons(
        text(call, "external_customer_id"),
        text(call, "status"),
        &list(call, "coupon_code"),
    );
    Ok(paginated(call, "applied_coupons", coupons, |a| {
        engine.applied_coupon_json(a)
    }))
}
