//! The REST emulator natively: routes, Lago's bodies and statuses, and hostile requests, each
//! with the exact answer expected.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use usage_calc::api::{handle, Request, BODY_MAX_BYTES};
use usage_calc::engine::Engine;

const KEY: &str = "test_key";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-06-15T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn request(method: &str, path: &str, query: &str, body: &str) -> Request {
    let mut request = Request::json(method, path, query, KEY, body.into());
    request
        .headers
        .push(("host".into(), "127.0.0.1:3000".into()));
    request
}

fn call(engine: &mut Engine, method: &str, path: &str, query: &str, body: &str) -> (u16, Value) {
    let response = handle(engine, KEY, &request(method, path, query, body), now());
    let json = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, json)
}

fn post(engine: &mut Engine, path: &str, body: Value) -> (u16, Value) {
    call(engine, "POST", path, "", &body.to_string())
}

/// A metric, a plan (graduated 0–10 at 1.00 + flat 2, 11+ at 0.50), a customer and a
/// subscription started on June 1st.
fn organisation() -> Engine {
    let mut engine = Engine::new();
    let (status, metric) = post(
        &mut engine,
        "/api/v1/billable_metrics",
        json!({"billable_metric": {"name": "Calls", "code": "calls", "aggregation_type": "count_agg"}}),
    );
    assert_eq!(status, 200, "{metric}");
    let metric_id = metric["billable_metric"]["lago_id"].clone();
    let (status, plan) = post(
        &mut engine,
        "/api/v1/plans",
        json!({"plan": {"name": "Pro", "code": "pro", "interval": "monthly", "amount_cents": 1000,
            "amount_currency": "EUR", "pay_in_advance": false, "charges": [{
                "billable_metric_id": metric_id, "charge_model": "graduated", "code": "calls",
                "properties": {"graduated_ranges": [
                    {"from_value": 0, "to_value": 10, "per_unit_amount": "1", "flat_amount": "2"},
                    {"from_value": 11, "to_value": null, "per_unit_amount": "0.5", "flat_amount": "0"}]}}]}}),
    );
    assert_eq!(status, 200, "{plan}");
    let (status, _) = post(
        &mut engine,
        "/api/v1/customers",
        json!({"customer": {"external_id": "acme", "name": "Acme", "currency": "EUR"}}),
    );
    assert_eq!(status, 200);
    let (status, body) = post(
        &mut engine,
        "/api/v1/subscriptions",
        json!({"subscription": {"external_customer_id": "acme", "plan_code": "pro",
            "external_id": "sub_1", "subscription_at": "2025-06-01T00:00:00Z"}}),
    );
    assert_eq!(status, 200, "{body}");
    engine
}

fn events(engine: &mut Engine, count: usize) {
    let items: Vec<Value> = (0..count)
        .map(|i| {
            json!({"transaction_id": format!("tx{i}"), "external_subscription_id": "sub_1",
            "code": "calls", "timestamp": 1_749_988_800 + i})
        })
        .collect();
    for chunk in items.chunks(100) {
        let (status, body) = post(engine, "/api/v1/events/batch", json!({ "events": chunk }));
        assert_eq!(status, 200, "{body}");
    }
}

#[test]
fn current_usage_through_the_api() {
    let mut engine = organisation();
    events(&mut engine, 14);
    let (status, body) = call(
        &mut engine,
        "GET",
        "/api/v1/customers/acme/current_usage",
        "external_subscription_id=sub_1",
        "",
    );
    assert_eq!(status, 200, "{body}");
    let usage = &body["customer_usage"];
    // 10 × 1.00 + 2.00 flat + 4 × 0.50 = 14.00 EUR.
    assert_eq!(usage["amount_cents"], json!(1400));
    assert_eq!(usage["charges_usage"][0]["units"], json!("14.0"));
    assert_eq!(usage["from_datetime"], json!("2025-06-01T00:00:00Z"));
}

/// `apply_taxes` (and the other usage flags) are cast as lago-api casts them
/// (`ActiveModel::Type::Boolean`): never a 422, whatever the text; found by schemathesis
/// (`apply_taxes=null` answered 422, a status the spec does not list for usage).
#[test]
fn usage_flags_are_cast_like_rails() {
    let mut engine = organisation();
    events(&mut engine, 14);
    let (status, _) = post(
        &mut engine,
        "/api/v1/taxes",
        json!({"tax": {"name": "VAT", "code": "vat", "rate": "20", "applied_to_organization": true}}),
    );
    assert_eq!(status, 200);
    let cases = [
        ("", 280),
        ("&apply_taxes=true", 280),
        ("&apply_taxes=null", 280),
        ("&apply_taxes=yes", 280),
        ("&apply_taxes[]=false", 280),
        ("&apply_taxes=false", 0),
        ("&apply_taxes=OFF", 0),
        ("&apply_taxes=off", 0),
        ("&apply_taxes=F", 0),
        ("&apply_taxes=0", 0),
        ("&apply_taxes=", 0),
        ("&apply_taxes=null&skip_grouping=whatever", 280),
    ];
    for (path, kind) in [
        ("/api/v1/customers/acme/current_usage", "customer_usage"),
        (
            "/api/v1/customers/acme/projected_usage",
            "customer_projected_usage",
        ),
    ] {
        for (extra, taxes) in cases {
            let query = format!("external_subscription_id=sub_1{extra}");
            let (status, body) = call(&mut engine, "GET", path, &query, "");
            assert_eq!(status, 200, "{path}?{query}: {body}");
            assert_eq!(body[kind]["amount_cents"], json!(1400), "{path}?{query}");
            assert_eq!(
                body[kind]["taxes_amount_cents"],
                json!(taxes),
                "{path}?{query}"
            );
        }
    }
    // An empty group (`group=`, an empty deepObject) is no filter, not a 422; the other key
    // still applies.
    for extra in [
        "&group=",
        "&filter_by_group=",
        "&group=&filter_by_group[cloud]=aws",
    ] {
        let query = format!("external_subscription_id=sub_1{extra}");
        let (status, body) = call(
            &mut engine,
            "GET",
            "/api/v1/customers/acme/current_usage",
            &query,
            "",
        );
        assert_eq!(status, 200, "{query}: {body}");
        let units = if extra.contains("aws") { "0.0" } else { "14.0" };
        assert_eq!(
            body["customer_usage"]["charges_usage"][0]["units"],
            json!(units),
            "{query}"
        );
    }
    // `full_usage=null` is true, so it asks for the premium integration: 405, not 422.
    let (status, body) = call(
        &mut engine,
        "GET",
        "/api/v1/customers/acme/current_usage",
        "external_subscription_id=sub_1&full_usage=null",
        "",
    );
    assert_eq!(status, 405, "{body}");
    assert_eq!(body["code"], json!("full_usage_not_allowed"));
}

/// Text fields echoed from the input render as lago-api renders what strong parameters and a
/// text column keep: a list or an object is dropped (null, or no codes), a number or a boolean
/// becomes its text; a payment provider Lago does not know is null. Found by schemathesis
/// (`"description": []` and `"billable_metric_codes": [{}]` came back as given, against
/// TaxObject / CouponObject; an unknown `payment_provider` against its enum).
#[test]
fn echoed_text_fields_keep_lagos_types() {
    let mut engine = organisation();
    let (status, body) = post(
        &mut engine,
        "/api/v1/taxes",
        json!({"tax": {"name": "VAT", "code": "vat", "rate": "20", "description": []}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tax"]["description"], json!(null));
    let (_, body) = call(&mut engine, "GET", "/api/v1/taxes/vat", "", "");
    assert_eq!(body["tax"]["description"], json!(null));
    let (status, body) = post(
        &mut engine,
        "/api/v1/billable_metrics",
        json!({"billable_metric": {"name": "Seats", "code": "seats", "aggregation_type": "count_agg",
            "description": 5}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["billable_metric"]["description"], json!("5"));
    let (status, body) = post(
        &mut engine,
        "/api/v1/plans",
        json!({"plan": {"name": "Basic", "code": "basic", "interval": "monthly", "amount_cents": 0,
            "amount_currency": "EUR", "description": {"a": 1}, "invoice_display_name": true}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["plan"]["description"], json!(null));
    assert_eq!(body["plan"]["invoice_display_name"], json!("true"));
    for (codes, rendered) in [
        (json!([{}]), json!([])),
        (json!(["calls", {}]), json!([])),
        (json!(["calls", 7]), json!(["calls", "7"])),
    ] {
        let (status, body) = post(
            &mut engine,
            "/api/v1/coupons",
            json!({"coupon": {"name": "C", "code": format!("c{codes}"), "coupon_type": "fixed_amount",
                "amount_cents": 500, "amount_currency": "EUR", "frequency": "once",
                "expiration": "no_expiration", "description": ["x"],
                "applies_to": {"billable_metric_codes": codes}}}),
        );
        assert_eq!(status, 200, "{body}");
        let coupon = &body["coupon"];
        assert_eq!(coupon["billable_metric_codes"], rendered, "{codes}");
        assert_eq!(
            coupon["limited_billable_metrics"],
            json!(rendered != json!([]))
        );
        assert_eq!(coupon["description"], json!(null));
    }
    for (provider, rendered) in [
        (json!("stripe"), json!("stripe")),
        (json!("paypal"), json!(null)),
        (json!(["stripe"]), json!(null)),
    ] {
        let (status, body) = post(
            &mut engine,
            "/api/v1/customers",
            json!({"customer": {"external_id": "acme",
                "billing_configuration": {"payment_provider": provider, "document_locale": "fr"}}}),
        );
        assert_eq!(status, 200, "{body}");
        let billing = &body["customer"]["billing_configuration"];
        assert_eq!(billing["payment_provider"], rendered, "{provider}");
        assert_eq!(billing["document_locale"], json!("fr"));
    }
}

/// More echoed fields with Lago's types (found by later schemathesis passes): a metric's
/// `expression` as text, `rounding_precision` as an integer, `weighted_interval` only as
/// `seconds`; a coupon's `expiration_at` only as an instant and its currency only as a known
/// one; customer metadata as Lago's `CustomerMetadata` records (with `lago_id` and
/// `created_at`), not the input echoed.
#[test]
fn echoed_fields_keep_lagos_shapes() {
    let mut engine = organisation();
    let (status, body) = post(
        &mut engine,
        "/api/v1/billable_metrics",
        json!({"billable_metric": {"name": "Seats", "code": "seats", "aggregation_type": "count_agg",
            "expression": [{}, true], "rounding_precision": "2", "weighted_interval": "AAA"}}),
    );
    assert_eq!(status, 200, "{body}");
    let metric = &body["billable_metric"];
    assert_eq!(metric["expression"], json!(""));
    assert_eq!(metric["rounding_precision"], json!(2));
    assert_eq!(metric["weighted_interval"], json!(null));
    let (status, body) = post(
        &mut engine,
        "/api/v1/coupons",
        json!({"coupon": {"name": "C", "code": "c", "coupon_type": "fixed_amount",
            "amount_cents": 500, "amount_currency": "EUR", "frequency": "once",
            "expiration": "no_expiration", "expiration_at": {"x": 1}}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["coupon"]["expiration_at"], json!(null));
    // A percentage coupon's currency is not checked on input; an unknown one renders null.
    let (status, body) = post(
        &mut engine,
        "/api/v1/coupons",
        json!({"coupon": {"name": "P", "code": "p", "coupon_type": "percentage",
            "percentage_rate": "5", "amount_currency": "__not_in_enum__", "frequency": "once",
            "expiration": "no_expiration"}}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["coupon"]["amount_currency"], json!(null));
    let (status, body) = post(
        &mut engine,
        "/api/v1/customers",
        json!({"customer": {"external_id": "meta", "metadata": [
            {"id": "1a901a90-1a90-1a90-1a90-1a901a901a90", "key": "k", "value": "v", "display_in_invoice": true},
            {"key": "no value"}, 7,
            {"key": "n", "value": 5}]}}),
    );
    assert_eq!(status, 200, "{body}");
    let metadata = body["customer"]["metadata"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(metadata.len(), 2, "{metadata:?}");
    for row in &metadata {
        for key in [
            "lago_id",
            "key",
            "value",
            "display_in_invoice",
            "created_at",
        ] {
            assert!(!row[key].is_null(), "{key} in {row}");
        }
    }
    assert_eq!(metadata[0]["display_in_invoice"], json!(true));
    assert_eq!(metadata[1]["value"], json!("5"));
    let (_, again) = call(&mut engine, "GET", "/api/v1/customers/meta", "", "");
    assert_eq!(again["customer"]["metadata"], json!(metadata));
}

/// A customer's fields the engine does not model render with the types of lago-api's columns
/// (found by schemathesis, seed 7): texts as text (a number as its text, a list or an object as
/// null), `net_payment_term` and `invoice_grace_period` as integers, a value outside its enum
/// as null or the column's default, the shipping address and the billing configuration with
/// their known members only.
#[test]
fn customer_fields_render_with_their_column_types() {
    let mut engine = organisation();
    let (status, body) = post(
        &mut engine,
        "/api/v1/customers",
        json!({"customer": {"external_id": "typed", "tax_identification_number": 1.5,
            "firstname": -2090005073, "email": ["a@b.c"], "phone": {"n": 1}, "city": "Paris",
            "customer_type": "robot", "account_type": "partner", "finalize_zero_amount_invoice": "never",
            "net_payment_term": "\u{10fffd}",
            "shipping_address": {"city": 75, "zipcode": ["x"], "planet": "Mars"},
            "billing_configuration": {"invoice_grace_period": "3", "document_locale": 7,
                "sync": "yes", "sync_with_provider": true,
                "subscription_invoice_issuing_date_adjustment": "__not_in_enum__",
                "subscription_invoice_issuing_date_anchor": "next_period_start", "provider_payment_methods": ["card", 1],
                "unknown": 1}}}),
    );
    assert_eq!(status, 200, "{body}");
    let customer = &body["customer"];
    assert_eq!(customer["tax_identification_number"], json!("1.5"));
    assert_eq!(customer["firstname"], json!("-2090005073"));
    assert_eq!(customer["email"], json!(null));
    assert_eq!(customer["phone"], json!(null));
    assert_eq!(customer["city"], json!("Paris"));
    assert_eq!(customer["net_payment_term"], json!(null));
    // Values outside an enum (lago-api would refuse them): null, or the column's default.
    assert_eq!(customer["customer_type"], json!(null));
    assert_eq!(customer["account_type"], json!("partner"));
    assert_eq!(customer["finalize_zero_amount_invoice"], json!("inherit"));
    assert_eq!(
        customer["shipping_address"],
        json!({"city": "75", "zipcode": null})
    );
    assert_eq!(
        customer["billing_configuration"],
        json!({"invoice_grace_period": 3, "document_locale": "7",
            "subscription_invoice_issuing_date_anchor": "next_period_start",
            "subscription_invoice_issuing_date_adjustment": null, "sync_with_provider": true,
            "provider_payment_methods": null})
    );
    let (_, again) = call(&mut engine, "GET", "/api/v1/customers/typed", "", "");
    assert_eq!(&again["customer"], customer);
}

#[test]
fn lists_are_paginated_like_lago() {
    let mut engine = organisation();
    for id in ["b", "c"] {
        let (status, _) = post(
            &mut engine,
            "/api/v1/customers",
            json!({"customer": {"external_id": id}}),
        );
        assert_eq!(status, 200);
    }
    let (status, body) = call(
        &mut engine,
        "GET",
        "/api/v1/customers",
        "page=2&per_page=2",
        "",
    );
    assert_eq!(status, 200);
    assert_eq!(body["customers"][0]["external_id"], json!("c"));
    assert_eq!(
        body["meta"],
        json!({"current_page": 2, "next_page": null, "prev_page": 1, "total_pages": 2, "total_count": 3})
    );
}

#[test]
fn errors_have_lagos_bodies() {
    let mut engine = organisation();
    let no_key = Request {
        headers: Vec::new(),
        ..request("GET", "/api/v1/customers", "", "")
    };
    let response = handle(&mut engine, KEY, &no_key, now());
    assert_eq!(
        (response.status, response.body.as_str()),
        (401, r#"{"status":401,"error":"Unauthorized"}"#)
    );
    let wrong_key = Request {
        headers: vec![("authorization".into(), "Bearer test_kez".into())],
        ..request("GET", "/api/v1/customers", "", "")
    };
    assert_eq!(handle(&mut engine, KEY, &wrong_key, now()).status, 401);
    // An engine without a key refuses everything, even an empty bearer.
    assert_eq!(
        handle(
            &mut engine,
            "",
            &request("GET", "/api/v1/customers", "", ""),
            now()
        )
        .status,
        401
    );

    assert_eq!(
        call(&mut engine, "GET", "/api/v1/customers/nobody", "", ""),
        (
            404,
            json!({"status": 404, "error": "Not Found", "code": "customer_not_found"})
        )
    );
    assert_eq!(
        call(
            &mut engine,
            "GET",
            "/api/v1/customers/acme/current_usage",
            "external_subscription_id=other",
            ""
        ),
        (
            405,
            json!({"status": 405, "error": "Method Not Allowed", "code": "no_active_subscription"})
        )
    );
    assert_eq!(
        post(
            &mut engine,
            "/api/v1/customers",
            json!({"customer": {"name": "x"}})
        ),
        (
            422,
            json!({"status": 422, "error": "Unprocessable Entity", "code": "validation_errors",
            "error_details": {"external_id": ["value_is_mandatory"]}})
        )
    );
    assert_eq!(
        post(&mut engine, "/api/v1/billable_metrics", json!({"billable_metric": {"name": "Calls", "code": "calls", "aggregation_type": "count_agg"}})).1["error_details"],
        json!({"code": ["value_already_exist"]})
    );
    assert_eq!(
        call(&mut engine, "GET", "/api/v1/unknown", "", ""),
        (
            404,
            json!({"status": 404, "error": "Not Found", "code": "resource_not_found"})
        )
    );
    assert_eq!(
        call(
            &mut engine,
            "POST",
            "/api/v1/customers/acme/checkout_url",
            "",
            ""
        )
        .1["error_details"],
        json!({"base": ["no_linked_payment_provider"]})
    );
}

#[test]
fn hostile_requests_get_exact_answers() {
    let mut engine = organisation();
    let bad_request =
        |message: &str| json!({"status": 400, "error": format!("BadRequest: {message}")});
    // Malformed and truncated JSON.
    let (status, body) = call(
        &mut engine,
        "POST",
        "/api/v1/customers",
        "",
        "{\"customer\": {\"external_id\": ",
    );
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("BadRequest: invalid JSON"),
        "{body}"
    );
    // Empty body and a body without the root key: Rails' ParameterMissing.
    assert_eq!(
        call(&mut engine, "POST", "/api/v1/customers", "", ""),
        (
            400,
            bad_request("param is missing or the value is empty: customer")
        )
    );
    assert_eq!(
        call(&mut engine, "POST", "/api/v1/customers", "", "{}"),
        (
            400,
            bad_request("param is missing or the value is empty: customer")
        )
    );
    // Not an object at the root.
    assert_eq!(
        call(&mut engine, "POST", "/api/v1/customers", "", "[1,2]").0,
        400
    );
    // Wrong content type.
    let text_plain = Request {
        headers: vec![
            ("authorization".into(), format!("Bearer {KEY}")),
            ("content-type".into(), "text/plain".into()),
        ],
        ..request(
            "POST",
            "/api/v1/customers",
            "",
            r#"{"customer":{"external_id":"x"}}"#,
        )
    };
    let response = handle(&mut engine, KEY, &text_plain, now());
    assert_eq!(response.status, 400);
    assert!(response.body.contains("application/json"));
    // A body over the limit: 413 before any parsing.
    let huge = format!(
        "{{\"customer\":{{\"external_id\":\"{}\"}}}}",
        "x".repeat(BODY_MAX_BYTES)
    );
    assert_eq!(
        call(&mut engine, "POST", "/api/v1/customers", "", &huge),
        (413, json!({"status": 413, "error": "Payload Too Large"}))
    );
    // Numbers past Decimal's range, negative and fractional where integers belong.
    for amount_cents in [
        "1e400",
        "1234567890123456789012345678901234567890",
        "-5",
        "1.5",
    ] {
        let body = format!(
            r#"{{"plan":{{"name":"X","code":"x{}","interval":"monthly","amount_cents":{amount_cents},"amount_currency":"EUR","pay_in_advance":false}}}}"#,
            amount_cents.len()
        );
        let (status, body) = call(&mut engine, "POST", "/api/v1/plans", "", &body);
        assert_eq!(status, 422, "{amount_cents}: {body}");
        assert!(
            body["error_details"]["amount_cents"].is_array(),
            "{amount_cents}: {body}"
        );
    }
    // 100k events in one batch: refused whole, by the batch bound.
    let many: Vec<Value> = (0..100_000)
        .map(|i| json!({"transaction_id": i.to_string(), "external_subscription_id": "sub_1", "code": "calls"}))
        .collect();
    let body = json!({ "events": many }).to_string();
    let (status, body) = if body.len() > BODY_MAX_BYTES {
        call(&mut engine, "POST", "/api/v1/events/batch", "", &body)
    } else {
        unreachable!("100k events fit in the body limit")
    };
    assert_eq!((status, &body["status"]), (413, &json!(413)));
    // Duplicate keys: the last one wins (serde_json, as Ruby's JSON.parse).
    let (status, body) = call(
        &mut engine,
        "POST",
        "/api/v1/customers",
        "",
        r#"{"customer":{"external_id":"dup","name":"first","name":"second"}}"#,
    );
    assert_eq!((status, &body["customer"]["name"]), (200, &json!("second")));
    assert_eq!(engine.events_count(), 0);
}

#[test]
fn odd_ids_round_trip() {
    let mut engine = organisation();
    let long = "long".repeat(64);
    let ids = ["a/b", "q?x=1", "100%", "é🙂 spaced", long.as_str()];
    for id in ids {
        let (status, body) = post(
            &mut engine,
            "/api/v1/customers",
            json!({"customer": {"external_id": id}}),
        );
        assert_eq!(status, 200, "{body}");
        let encoded: String = id
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let (status, body) = call(
            &mut engine,
            "GET",
            &format!("/api/v1/customers/{encoded}"),
            "",
            "",
        );
        assert_eq!(
            (status, &body["customer"]["external_id"]),
            (200, &json!(id))
        );
    }
    // Past the id bound: a 422 naming the field, not a stored giant key.
    let (status, body) = post(
        &mut engine,
        "/api/v1/customers",
        json!({"customer": {"external_id": "x".repeat(10_000)}}),
    );
    assert_eq!(
        (status, &body["error_details"]),
        (422, &json!({"external_id": ["value_is_invalid"]}))
    );
    // An unencoded `/` splits the path: no such route. A broken escape is no route either.
    assert_eq!(
        call(&mut engine, "GET", "/api/v1/customers/a/b", "", "").0,
        404
    );
    assert_eq!(
        call(&mut engine, "GET", "/api/v1/customers/%zz", "", "").0,
        404
    );
}

#[test]
fn portal_reads_one_customer_with_its_token() {
    let mut engine = organisation();
    events(&mut engine, 3);
    let (_, body) = call(
        &mut engine,
        "GET",
        "/api/v1/customers/acme/portal_url",
        "",
        "",
    );
    let url = body["customer"]["portal_url"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("http://127.0.0.1:3000/?customer=acme&token="),
        "{url}"
    );
    let token = url.rsplit('=').next().unwrap();
    let no_auth = |query: &str| Request {
        headers: Vec::new(),
        ..request("GET", "/portal/customers/acme/usage", query, "")
    };
    let response = handle(&mut engine, KEY, &no_auth(&format!("token={token}")), now());
    assert_eq!(response.status, 200, "{}", response.body);
    let body: Value = serde_json::from_str(&response.body).unwrap();
    // 3 units: 3 × 1.00 + 2.00 flat.
    assert_eq!(
        body["subscriptions"][0]["current_usage"]["amount_cents"],
        json!(500)
    );
    assert_eq!(
        handle(&mut engine, KEY, &no_auth("token=0000"), now()).status,
        404
    );
}

#[test]
fn state_survives_export_through_the_api() {
    let mut engine = organisation();
    events(&mut engine, 12);
    let (status, coupon) = post(
        &mut engine,
        "/api/v1/coupons",
        json!({"coupon": {"name": "Welcome", "code": "welcome",
        "coupon_type": "fixed_amount", "amount_cents": 500, "amount_currency": "EUR",
        "frequency": "once", "expiration": "no_expiration"}}),
    );
    assert_eq!(status, 200, "{coupon}");
    let (status, applied) = post(
        &mut engine,
        "/api/v1/applied_coupons",
        json!({"applied_coupon": {"external_customer_id": "acme", "coupon_code": "welcome"}}),
    );
    assert_eq!(status, 200, "{applied}");
    let mut copy = Engine::import(&engine.export()).unwrap();
    assert_eq!(copy.export(), engine.export());
    let usage = |e: &mut Engine| {
        call(
            e,
            "GET",
            "/api/v1/customers/acme/current_usage",
            "external_subscription_id=sub_1",
            "",
        )
    };
    assert_eq!(usage(&mut copy), usage(&mut engine));
    let applied_id = applied["applied_coupon"]["lago_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, removed) = call(
        &mut copy,
        "DELETE",
        &format!("/api/v1/customers/acme/applied_coupons/{applied_id}"),
        "",
        "",
    );
    assert_eq!(
        (status, &removed["applied_coupon"]["status"]),
        (200, &json!("terminated"))
    );
}

#[test]
fn cached_usage_sees_every_change_and_the_next_period() {
    let mut engine = organisation();
    events(&mut engine, 3);
    let read = |engine: &mut Engine, at: &str| {
        let at = DateTime::parse_from_rfc3339(at)
            .unwrap()
            .with_timezone(&Utc);
        let request = request(
            "GET",
            "/api/v1/customers/acme/current_usage",
            "external_subscription_id=sub_1",
            "",
        );
        let response = handle(engine, KEY, &request, at);
        let body: Value = serde_json::from_str(&response.body).unwrap();
        body["customer_usage"]["amount_cents"].clone()
    };
    // 3 units: 3.00 + 2.00 flat; the same answer twice (the second from the cache).
    assert_eq!(read(&mut engine, "2025-06-15T12:00:00Z"), json!(500));
    assert_eq!(read(&mut engine, "2025-06-20T12:00:00Z"), json!(500));
    // One more event: the next read sees it.
    let (status, _) = post(
        &mut engine,
        "/api/v1/events",
        json!({"event": {"transaction_id": "late", "external_subscription_id": "sub_1", "code": "calls", "timestamp": 1_749_988_800}}),
    );
    assert_eq!(status, 200);
    assert_eq!(read(&mut engine, "2025-06-20T12:00:00Z"), json!(600));
    // A price change: the next read sees it (graduated 0–10 now at 2.00).
    let mut plan = call(&mut engine, "GET", "/api/v1/plans/pro", "", "").1["plan"].clone();
    plan["charges"][0]["properties"]["graduated_ranges"][0]["per_unit_amount"] = json!("2");
    plan["charges"][0]["billable_metric_id"] =
        plan["charges"][0]["lago_billable_metric_id"].clone();
    let (status, body) = call(
        &mut engine,
        "PUT",
        "/api/v1/plans/pro",
        "",
        &json!({ "plan": plan }).to_string(),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(read(&mut engine, "2025-06-20T12:00:00Z"), json!(1000));
    // July: a new period with no event; Lago bills the first tier's flat fee at zero units.
    assert_eq!(read(&mut engine, "2025-07-02T12:00:00Z"), json!(200));
}
