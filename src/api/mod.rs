//! Lago's REST API over an [`Engine`]: one route table, Lago's JSON bodies, status codes and
//! errors. [`handle`] is what the Node shim and the browser call, so both run this very code.
//!
//! It never panics on any input and reads no clock: `now` comes with each request.

mod handlers;
pub mod query;

use crate::engine::Engine;
use crate::error::Error;
use crate::json::object;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Largest request body accepted, in bytes (a 100-event batch is about 30 KB); above it: 413.
pub const BODY_MAX_BYTES: usize = 1024 * 1024;

/// An HTTP request as the shim received it.
#[derive(Debug, Default, Clone)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The raw path before `?`, still percent-encoded.
    pub path: String,
    /// The raw query string without `?`.
    pub query: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body text.
    pub body: String,
}

impl Request {
    /// A JSON request with `Authorization: Bearer <api_key>`.
    pub fn json(method: &str, path: &str, query: &str, api_key: &str, body: String) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            query: query.into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {api_key}")),
                ("content-type".into(), "application/json".into()),
            ],
            body,
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// The answer: status, headers and JSON text.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// JSON text (empty for a preflight).
    pub body: String,
}

/// GET, POST, PUT or DELETE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Post,
    Put,
    Delete,
}

/// What a handler gets: path parameters (decoded), query, body, `now` and the request's host.
pub(crate) struct Call<'a> {
    pub params: Vec<String>,
    pub query: Map<String, Value>,
    pub body: Value,
    pub now: DateTime<Utc>,
    pub host: &'a str,
    pub api_key: &'a str,
}

impl Call<'_> {
    /// The path parameter at `index` (routes guarantee it exists).
    pub fn param(&self, index: usize) -> &str {
        self.params.get(index).map_or("", String::as_str)
    }
}

/// An endpoint's function: most answer a JSON value; a `Text` one answers JSON text it already
/// has (current usage, served from the engine's cache).
#[derive(Clone, Copy)]
enum Handler {
    J(fn(&mut Engine, &Call) -> crate::error::Result<Value>),
    Text(fn(&mut Engine, &Call) -> crate::error::Result<crate::engine::UsageText>),
}

/// A route: method, path pattern under `/api/v1` (`{}` is one path segment), handler.
struct Route(Method, &'static str, Handler);

use handlers as h;
use Handler::{Text, J};
use Method::{Delete, Get, Post, Put};

/// The route table: every endpoint the emulator answers, in one place.
const ROUTES: &[Route] = &[
    Route(Post, "/customers", J(h::create_customer)),
    Route(Get, "/customers", J(h::list_customers)),
    Route(Get, "/customers/{}", J(h::get_customer)),
    Route(Delete, "/customers/{}", J(h::delete_customer)),
    Route(Get, "/customers/{}/current_usage", Text(h::current_usage)),
    Route(Get, "/customers/{}/projected_usage", J(h::projected_usage)),
    Route(Get, "/customers/{}/past_usage", J(h::past_usage)),
    Route(
        Get,
        "/customers/{}/applied_coupons",
        J(h::customer_applied_coupons),
    ),
    Route(
        Delete,
        "/customers/{}/applied_coupons/{}",
        J(h::remove_applied_coupon),
    ),
    Route(
        Get,
        "/customers/{}/subscriptions",
        J(h::customer_subscriptions),
    ),
    Route(Post, "/customers/{}/checkout_url", J(h::checkout_url)),
    Route(Get, "/customers/{}/portal_url", J(h::portal_url)),
    Route(Post, "/billable_metrics", J(h::create_metric)),
    Route(Get, "/billable_metrics", J(h::list_metrics)),
    Route(Get, "/billable_metrics/{}", J(h::get_metric)),
    Route(Put, "/billable_metrics/{}", J(h::update_metric)),
    Route(Delete, "/billable_metrics/{}", J(h::delete_metric)),
    Route(Post, "/plans", J(h::create_plan)),
    Route(Get, "/plans", J(h::list_plans)),
    Route(Get, "/plans/{}", J(h::get_plan)),
    Route(Put, "/plans/{}", J(h::update_plan)),
    Route(Delete, "/plans/{}", J(h::delete_plan)),
    Route(Post, "/taxes", J(h::create_tax)),
    Route(Get, "/taxes", J(h::list_taxes)),
    Route(Get, "/taxes/{}", J(h::get_tax)),
    Route(Put, "/taxes/{}", J(h::update_tax)),
    Route(Delete, "/taxes/{}", J(h::delete_tax)),
    Route(Post, "/subscriptions", J(h::create_subscription)),
    Route(Get, "/subscriptions", J(h::list_subscriptions)),
    Route(Get, "/subscriptions/{}", J(h::get_subscription)),
    Route(Put, "/subscriptions/{}", J(h::update_subscription)),
    Route(Delete, "/subscriptions/{}", J(h::terminate_subscription)),
    Route(Get, "/subscriptions/{}/charges", J(h::subscription_charges)),
    Route(
        Get,
        "/subscriptions/{}/charges/{}",
        J(h::subscription_charge),
    ),
    Route(Post, "/events", J(h::create_event)),
    Route(Post, "/events/batch", J(h::create_events)),
    Route(Get, "/events", J(h::list_events)),
    Route(Get, "/events/{}", J(h::get_event)),
    Route(Post, "/coupons", J(h::create_coupon)),
    Route(Get, "/coupons", J(h::list_coupons)),
    Route(Get, "/coupons/{}", J(h::get_coupon)),
    Route(Put, "/coupons/{}", J(h::update_coupon)),
    Route(Delete, "/coupons/{}", J(h::delete_coupon)),
    Route(Post, "/applied_coupons", J(h::apply_coupon)),
    Route(Get, "/applied_coupons", J(h::list_applied_coupons)),
    Route(Put, "/organizations", J(h::update_organization)),
];

/// Answers one request. Routes live under `/api/v1` (as Lago's) and need `api_key` as
/// `Authorization: Bearer <key>` (an empty key refuses every request); `/portal/customers/{id}/usage`
/// is the customer portal's read, guarded by the token `portal_url` hands out instead.
pub fn handle(
    engine: &mut Engine,
    api_key: &str,
    request: &Request,
    now: DateTime<Utc>,
) -> Response {
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" | "HEAD" => Get,
        "POST" => Post,
        "PUT" | "PATCH" => Put,
        "DELETE" => Delete,
        "OPTIONS" => return preflight(),
        _ => return error_response(404, route_not_found()),
    };
    if request.body.len() > BODY_MAX_BYTES {
        return error_response(
            413,
            object! {"status": Value::from(413), "error": Value::from("Payload Too Large")},
        );
    }
    let Some(segments) = segments(&request.path) else {
        return error_response(404, route_not_found());
    };
    let (segments, portal) = match segments.first().map(String::as_str) {
        Some("api") if segments.get(1).map(String::as_str) == Some("v1") => (&segments[2..], false),
        Some("portal") => (&segments[1..], true),
        _ => return error_response(404, route_not_found()),
    };
    let Some(query) = query::parse(&request.query) else {
        return lago_error(&Error::BadRequest(
            "the query string is not valid percent-encoding".into(),
        ));
    };
    if portal {
        return handlers::portal(engine, api_key, segments, &query, now)
            .map_or_else(|e| lago_error(&e), ok_response);
    }
    // Lago's catch-all route answers before authentication.
    let Some((&Route(_, _, handler), params)) = route(method, segments) else {
        return error_response(404, route_not_found());
    };
    if !authorized(request.header("authorization"), api_key) {
        return error_response(
            401,
            object! {"status": Value::from(401), "error": Value::from("Unauthorized")},
        );
    }
    let body = match body_json(method, request) {
        Ok(body) => body,
        Err(error) => return lago_error(&error),
    };
    engine.observe(now);
    let call = Call {
        params,
        query,
        body,
        now,
        host: request.header("host").unwrap_or("127.0.0.1:3000"),
        api_key,
    };
    match handler {
        J(f) => f(engine, &call).map_or_else(|e| lago_error(&e), |v| ok_text(v.to_string())),
        Text(f) => match f(engine, &call) {
            Ok(usage) => cacheable(&usage, engine.generation()),
            Err(e) => lago_error(&e),
        },
    }
}

/// The path's segments after the leading `/`, each percent-decoded (`%2F` stays inside its
/// segment); `None` for a broken escape.
fn segments(path: &str) -> Option<Vec<String>> {
    let path = path.strip_prefix('/')?;
    let path = path.strip_suffix('/').unwrap_or(path);
    path.split('/')
        .map(|segment| query::percent_decode(segment, false))
        .collect()
}

fn route(method: Method, segments: &[String]) -> Option<(&'static Route, Vec<String>)> {
    let matches = |pattern: &str| {
        let mut parts = pattern.trim_start_matches('/').split('/');
        let same = segments.iter().all(|segment| match parts.next() {
            Some("{}") => !segment.is_empty(),
            Some(literal) => literal == segment,
            None => false,
        });
        same && parts.next().is_none()
    };
    let entry = ROUTES
        .iter()
        .find(|Route(m, pattern, _)| *m == method && matches(pattern))?;
    let params = entry
        .1
        .trim_start_matches('/')
        .split('/')
        .zip(segments)
        .filter(|(part, _)| *part == "{}")
        .map(|(_, segment)| segment.clone())
        .collect();
    Some((entry, params))
}

/// `Bearer <key>` compared in constant time (no early exit on the first differing byte).
fn authorized(header: Option<&str>, api_key: &str) -> bool {
    let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
        return false;
    };
    !api_key.is_empty() && constant_time_eq(given.trim().as_bytes(), api_key.as_bytes())
}

/// Equal bytes, in time that depends only on the lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for i in 0..a.len().max(b.len()) {
        diff |= a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

/// The request body as JSON: an object for POST/PUT (Rails' `ParameterMissing` is handled by
/// the handler naming its root key), null otherwise.
fn body_json(method: Method, request: &Request) -> crate::error::Result<Value> {
    if !matches!(method, Post | Put) || request.body.trim().is_empty() {
        return Ok(Value::Null);
    }
    if let Some(kind) = request.header("content-type") {
        let kind = kind
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !(kind == "application/json" || kind.ends_with("+json")) {
            return Err(Error::BadRequest(format!(
                "the body must be application/json, not {kind}"
            )));
        }
    }
    crate::rating::parse_request(&request.body)
}

/// Lago's catch-all route (`not_found_error(resource: 'resource')`).
fn route_not_found() -> Value {
    object! {"status": Value::from(404), "error": Value::from("Not Found"), "code": Value::from("resource_not_found")}
}

const JSON_HEADERS: [(&str, &str); 2] = [
    ("content-type", "application/json; charset=utf-8"),
    ("access-control-allow-origin", "*"),
];

fn headers(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    JSON_HEADERS
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

fn ok_response(body: Value) -> Response {
    ok_text(body.to_string())
}

/// The header naming how long an answer holds: `<generation> <from> <to>` (Unix ms). A server
/// in front may answer the same request again while `Engine::generation` and its clock agree.
pub const CACHE_HEADER: &str = "x-usage-calc-valid";

fn cacheable(usage: &crate::engine::UsageText, generation: u64) -> Response {
    let mut response = ok_text(usage.text.to_string());
    let validity = format!(
        "{generation} {} {}",
        usage.from.timestamp_millis(),
        usage.to.timestamp_millis()
    );
    response.headers.push((CACHE_HEADER.into(), validity));
    response
}

fn ok_text(body: String) -> Response {
    Response {
        status: 200,
        headers: headers(&[]),
        body,
    }
}

fn error_response(status: u16, body: Value) -> Response {
    Response {
        status,
        headers: headers(&[]),
        body: body.to_string(),
    }
}

/// Lago's error JSON; a 400 is Rails' `{"status":400,"error":"BadRequest: …"}`.
fn lago_error(error: &Error) -> Response {
    let body = match error {
        Error::BadRequest(message) => {
            object! {"status": Value::from(400), "error": Value::String(format!("BadRequest: {message}"))}
        }
        other => other.to_json(),
    };
    error_response(error.status(), body)
}

/// CORS preflight: the page may be served from another origin than the shim.
fn preflight() -> Response {
    Response {
        status: 204,
        headers: headers(&[
            (
                "access-control-allow-methods",
                "GET, POST, PUT, DELETE, OPTIONS",
            ),
            (
                "access-control-allow-headers",
                "authorization, content-type",
            ),
            ("access-control-max-age", "600"),
        ]),
        body: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_keys_whatever_their_length() {
        assert!(constant_time_eq(b"key", b"key"));
        assert!(!constant_time_eq(b"key", b"kez"));
        assert!(!constant_time_eq(b"key", b"key2"));
        assert!(!constant_time_eq(b"", b"k"));
    }

    #[test]
    fn every_route_pattern_is_reachable() {
        for Route(method, pattern, _) in ROUTES {
            let segments: Vec<String> = pattern
                .trim_start_matches('/')
                .split('/')
                .map(|p| {
                    if p == "{}" {
                        "x".to_string()
                    } else {
                        p.to_string()
                    }
                })
                .collect();
            let (found, _) = route(*method, &segments).unwrap_or_else(|| panic!("{pattern}"));
            // The first route matching the pattern's own shape is that route: none is shadowed.
            assert_eq!(found.1, *pattern);
        }
    }
}
