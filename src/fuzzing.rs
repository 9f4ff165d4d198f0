//! Entry points of the fuzz targets (`fuzz/`) and of their regression test
//! (`tests/fuzz_seeds.rs`): arbitrary bytes in, nothing out, and no input may panic.

use crate::api::{handle, Request};
use crate::engine::Engine;
use chrono::{DateTime, Utc};
use serde_json::json;
use std::cell::RefCell;

thread_local! {
    // One organisation across a fuzz run's inputs (so creations reach later reads), and the
    // inputs it has seen.
    static SHARED: RefCell<(Engine, u32)> = RefCell::new((organisation(), 0));
}

/// Runs `f` on the organisation shared by a fuzz run's inputs, rebuilt every 10,000 inputs so
/// that it cannot grow without end.
pub fn with_shared_organisation(f: impl FnOnce(&mut Engine)) {
    SHARED.with(|cell| {
        let mut shared = cell.borrow_mut();
        shared.1 += 1;
        if shared.1 % 10_000 == 0 {
            shared.0 = organisation();
        }
        f(&mut shared.0);
    });
}

/// The API key of the fuzzed organisation.
const KEY: &str = "fuzz";

/// An organisation with a metric, a plan and a subscription, so requests reach deep code.
pub fn organisation() -> Engine {
    let mut engine = Engine::new();
    let setup = [
        (
            "POST",
            "/api/v1/billable_metrics",
            json!({"billable_metric": {"name": "m", "code": "m", "aggregation_type": "sum_agg", "field_name": "v", "filters": [{"key": "r", "values": ["eu", "us"]}]}}),
        ),
        (
            "POST",
            "/api/v1/plans",
            json!({"plan": {"name": "p", "code": "p", "interval": "monthly", "amount_cents": 100, "amount_currency": "EUR", "pay_in_advance": false,
            "charges": [{"billable_metric_id": "m", "charge_model": "graduated", "properties": {"graduated_ranges": [
                {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "1"},
                {"from_value": 11, "to_value": null, "per_unit_amount": "0.5", "flat_amount": "0"}]},
                "filters": [{"values": {"r": ["eu"]}, "properties": {"graduated_ranges": [{"from_value": 0, "to_value": null, "per_unit_amount": "2", "flat_amount": "0"}]}}]}]}}),
        ),
        (
            "POST",
            "/api/v1/subscriptions",
            json!({"subscription": {"external_customer_id": "c", "plan_code": "p", "external_id": "s", "subscription_at": "2025-06-01T00:00:00Z"}}),
        ),
        (
            "POST",
            "/api/v1/events",
            json!({"event": {"transaction_id": "t", "external_subscription_id": "s", "code": "m", "timestamp": 1749945600, "properties": {"v": "3", "r": "eu"}}}),
        ),
    ];
    for (method, path, body) in setup {
        handle(
            &mut engine,
            KEY,
            &request(method, path, "", body.to_string()),
            now(),
        );
    }
    engine
}

fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_750_000_000, 0).unwrap_or_default()
}

fn request(method: &str, path: &str, query: &str, body: String) -> Request {
    Request::json(method, path, query, KEY, body)
}

/// Bytes as a request: the first byte picks the method, then the path and the query up to
/// their newlines, and the rest is the body.
pub fn api_request(engine: &mut Engine, data: &[u8]) {
    const METHODS: [&str; 6] = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\n');
    let path = parts.next().unwrap_or("");
    let path = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/api/v1/{path}")
    };
    let query = parts.next().unwrap_or("");
    let body = parts.next().unwrap_or("").to_string();
    let method = METHODS[usize::from(*first) % METHODS.len()];
    handle(engine, KEY, &request(method, &path, query, body), now());
}

/// True when the organisation survives the shim's snapshot: [`Engine::import`] of its
/// [`Engine::export`] exports the same state and answers every list and a current usage alike
/// (status and body: the engine's generation, in a header, starts again at an import).
pub fn survives_snapshot(engine: &mut Engine) -> bool {
    const READS: [(&str, &str); 9] = [
        ("/api/v1/organizations", ""),
        ("/api/v1/taxes", "per_page=1000"),
        ("/api/v1/customers", "per_page=1000"),
        ("/api/v1/billable_metrics", "per_page=1000"),
        ("/api/v1/plans", "per_page=1000"),
        ("/api/v1/subscriptions", "per_page=1000"),
        ("/api/v1/coupons", "per_page=1000"),
        ("/api/v1/events", "per_page=1000"),
        (
            "/api/v1/customers/c/current_usage",
            "external_subscription_id=s",
        ),
    ];
    let state = engine.export();
    let Ok(mut restored) = Engine::import(&state) else {
        return false;
    };
    restored.export() == state
        && READS.iter().all(|&(path, query)| {
            let read = |engine: &mut Engine| {
                let response = handle(
                    engine,
                    KEY,
                    &request("GET", path, query, String::new()),
                    now(),
                );
                (response.status, response.body)
            };
            read(engine) == read(&mut restored)
        })
}

/// Bytes as a saved state (`Engine.import`, the shim's `STATE_FILE`): imported when it is one,
/// then exported and asked a current usage. No text may panic.
pub fn import_state(data: &[u8]) {
    let Ok(state) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(mut engine) = Engine::import(&state) {
        let _ = engine.export();
        let _ = engine.current_usage(
            &json!({"external_customer_id": "c", "external_subscription_id": "s", "now": "2025-06-15T00:00:00Z"}),
        );
    }
}

/// Bytes as a charge request for every rating entry point that parses charge properties.
pub fn charge_properties(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(request) = crate::rating::parse_request(&text) else {
        return;
    };
    let _ = crate::rating::validate_charge(&request);
    let _ = crate::rating::price_charge(&request);
    let _ = crate::rating::build_charge_usage(&request);
}

/// True when the hand-written reader of the usual NDJSON line and serde read the text alike
/// (the fast reader must give serde's events and errors, or leave the line to serde).
pub fn readers_agree(data: &[u8]) -> bool {
    crate::engine::ingest::readers_agree(&String::from_utf8_lossy(data), now())
}

/// Bytes as a bulk ingestion (NDJSON, a JSON array or CSV), into the fuzzed organisation, then a
/// current usage so the running states fold what was stored. An odd length skips duplicates.
pub fn ingest_text(engine: &mut Engine, data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let duplicates = if data.len() % 2 == 1 {
        crate::engine::Duplicates::Skip
    } else {
        crate::engine::Duplicates::Refuse
    };
    let _ = engine.ingest_bulk_with_duplicates(&text, now(), duplicates);
    let _ =
        engine.current_usage(&json!({"external_customer_id": "c", "now": "2025-06-15T00:00:00Z"}));
}
