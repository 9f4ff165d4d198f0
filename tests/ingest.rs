//! Event ingestion: Lago's rules for one event, a batch and bulk text, with the exact error JSON.

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;
use usage_calc::engine::ingest::*;
use usage_calc::error::Error;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 10, 0, 0).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn event(fields: Value) -> Value {
    let mut base = json!({
        "transaction_id": "tx_1",
        "external_subscription_id": "sub_1",
        "code": "api_calls",
    });
    for (key, value) in fields.as_object().unwrap() {
        base[key] = value.clone();
    }
    base
}

/// The `error_details` of a failed parse.
fn details(result: usage_calc::error::Result<impl std::fmt::Debug>) -> Value {
    let error = result.expect_err("expected an error");
    let body = error.to_json();
    assert_eq!(body["status"], 422, "{body}");
    assert_eq!(body["code"], "validation_errors");
    body["error_details"].clone()
}

/// JSON from text, so numbers keep their exact text (`json!` goes through `f64`).
fn j(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn timestamp_of(value: Value) -> DateTime<Utc> {
    parse_event(&event(json!({ "timestamp": value })), now())
        .unwrap()
        .timestamp
}

fn timestamp_error(value: Value) -> Value {
    details(parse_event(&event(json!({ "timestamp": value })), now()))
}

// ---------------------------------------------------------------------------------------------
// One event
// ---------------------------------------------------------------------------------------------

#[test]
fn it_reads_a_full_event() {
    let input = j(r#"{
        "transaction_id": "tx_123",
        "external_subscription_id": "sub_1",
        "code": "api_calls",
        "timestamp": 1751328000,
        "properties": {"region": "eu", "value": "12.5", "n": 1.50},
        "precise_total_amount_cents": "12.345",
        "unknown": [1, 2]
    }"#);
    let parsed = parse_event(&input, now()).unwrap();
    assert_eq!(&*parsed.transaction_id, "tx_123");
    assert_eq!(&*parsed.external_subscription_id, "sub_1");
    assert_eq!(&*parsed.code, "api_calls");
    assert_eq!(parsed.timestamp, at("2025-07-01T00:00:00Z"));
    assert_eq!(
        Value::Object(parsed.properties.to_map()),
        j(r#"{"region": "eu", "value": "12.5", "n": 1.50}"#)
    );
    assert_eq!(parsed.property_text("n").as_deref(), Some("1.50"));
    assert_eq!(
        parsed.precise_total_amount_cents,
        Some(Decimal::from_str("12.345").unwrap())
    );
}

#[test]
fn it_applies_the_defaults() {
    let parsed = parse_event(&json!({"transaction_id": "t", "code": "c"}), now()).unwrap();
    assert_eq!(&*parsed.external_subscription_id, "");
    assert_eq!(parsed.timestamp, now());
    assert!(parsed.properties.is_empty());
    assert_eq!(parsed.precise_total_amount_cents, None);

    let nulls = json!({
        "transaction_id": "t", "code": "c", "external_subscription_id": null,
        "timestamp": null, "properties": null, "precise_total_amount_cents": null,
    });
    let parsed = parse_event(&nulls, now()).unwrap();
    assert_eq!(&*parsed.external_subscription_id, "");
    assert_eq!(parsed.timestamp, now());
    assert!(parsed.properties.is_empty());
    assert_eq!(parsed.precise_total_amount_cents, None);
}

#[test]
fn it_requires_a_transaction_id_and_a_code() {
    for blank in [json!(null), json!(""), json!("   ")] {
        let input = event(json!({"transaction_id": blank, "code": blank}));
        assert_eq!(
            details(parse_event(&input, now())),
            json!({"transaction_id": ["value_is_mandatory"], "code": ["value_is_mandatory"]})
        );
    }
    let missing = json!({"external_subscription_id": "sub_1"});
    assert_eq!(
        details(parse_event(&missing, now())),
        json!({"transaction_id": ["value_is_mandatory"], "code": ["value_is_mandatory"]})
    );
}

#[test]
fn it_takes_numbers_by_their_text_as_identifiers() {
    let input = j(r#"{"transaction_id": 12, "external_subscription_id": 1.50, "code": -3e2}"#);
    let parsed = parse_event(&input, now()).unwrap();
    assert_eq!(&*parsed.transaction_id, "12");
    assert_eq!(&*parsed.external_subscription_id, "1.50");
    // serde_json's text of a number writes the exponent as `e+`/`e-`.
    assert_eq!(&*parsed.code, "-3e+2");
}

#[test]
fn it_rejects_identifiers_of_other_types() {
    for bad in [json!(true), json!([1]), json!({"a": 1}), json!({})] {
        let input = event(json!({
            "transaction_id": bad, "external_subscription_id": bad, "code": bad,
        }));
        assert_eq!(
            details(parse_event(&input, now())),
            json!({
                "transaction_id": ["value_is_invalid"],
                "external_subscription_id": ["value_is_invalid"],
                "code": ["value_is_invalid"],
            }),
            "{bad}"
        );
    }
}

#[test]
fn it_keeps_an_empty_subscription_id() {
    let parsed = parse_event(&event(json!({"external_subscription_id": ""})), now()).unwrap();
    assert_eq!(&*parsed.external_subscription_id, "");
}

#[test]
fn it_rejects_properties_that_are_not_an_object() {
    for bad in [json!("x"), json!(1), json!([]), json!(true)] {
        assert_eq!(
            details(parse_event(&event(json!({"properties": bad})), now())),
            json!({"properties": ["value_is_invalid"]})
        );
    }
}

#[test]
fn it_reads_the_precise_amount_as_an_exact_decimal() {
    let cents = |value: Value| {
        parse_event(&event(json!({"precise_total_amount_cents": value})), now())
            .map(|e| e.precise_total_amount_cents)
    };
    let d = |text: &str| Some(Decimal::from_str(text).unwrap());
    assert_eq!(cents(json!("0.1")).unwrap(), d("0.1"));
    assert_eq!(cents(j("0.1")).unwrap(), d("0.1"));
    assert_eq!(cents(j("1e3")).unwrap(), d("1000"));
    assert_eq!(cents(j("12.50")).unwrap(), d("12.5"));
    assert_eq!(cents(json!("-7")).unwrap(), d("-7"));
    assert_eq!(
        cents(json!("")).unwrap(),
        None,
        "Rails casts a blank string to nil"
    );
    for bad in [
        json!("abc"),
        json!("NaN"),
        json!("Infinity"),
        json!(true),
        json!({}),
    ] {
        assert_eq!(
            details(cents(bad.clone())),
            json!({"precise_total_amount_cents": ["value_is_invalid"]}),
            "{bad}"
        );
    }
    for bad in [j("1e400"), json!("123456789012345678901234567890123")] {
        assert_eq!(
            details(cents(bad)),
            json!({"precise_total_amount_cents": ["value_is_out_of_range"]})
        );
    }
}

#[test]
fn it_reports_every_error_of_an_event_in_field_order() {
    let input = json!({
        "precise_total_amount_cents": "x",
        "properties": 3,
        "timestamp": "2025-01-01T00:00:00Z",
        "code": "",
        "external_subscription_id": false,
        "transaction_id": null,
    });
    let found = details(parse_event(&input, now()));
    assert_eq!(
        found,
        json!({
            "transaction_id": ["value_is_mandatory"],
            "external_subscription_id": ["value_is_invalid"],
            "code": ["value_is_mandatory"],
            "timestamp": ["invalid_format"],
            "properties": ["value_is_invalid"],
            "precise_total_amount_cents": ["value_is_invalid"],
        })
    );
    let keys: Vec<&String> = found.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "transaction_id",
            "external_subscription_id",
            "code",
            "timestamp",
            "properties",
            "precise_total_amount_cents"
        ]
    );
}

#[test]
fn a_single_event_that_is_not_an_object_is_a_bad_request() {
    for bad in [json!([]), json!("x"), json!(null), json!(1)] {
        let error = parse_event(&bad, now()).unwrap_err();
        assert!(matches!(error, Error::BadRequest(_)), "{bad}");
        assert_eq!(error.to_json()["status"], 400);
    }
}

// ---------------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------------

#[test]
fn it_reads_unix_seconds_as_numbers_and_strings() {
    let expected = at("2023-11-14T22:13:20Z");
    assert_eq!(timestamp_of(json!(1_700_000_000)), expected);
    assert_eq!(timestamp_of(json!("1700000000")), expected);
    assert_eq!(timestamp_of(json!(" 1700000000 ")), expected);
    assert_eq!(timestamp_of(json!("+1700000000")), expected);
    assert_eq!(timestamp_of(json!("1700000000.")), expected);
    assert_eq!(timestamp_of(json!(0)), at("1970-01-01T00:00:00Z"));
    assert_eq!(timestamp_of(json!("-0")), at("1970-01-01T00:00:00Z"));
}

#[test]
fn it_keeps_fractional_seconds_to_the_microsecond() {
    assert_eq!(
        timestamp_of(j("1700000000.5")),
        at("2023-11-14T22:13:20.5Z")
    );
    assert_eq!(
        timestamp_of(json!("1700000000.123456")),
        at("2023-11-14T22:13:20.123456Z")
    );
    // The 7th digit rounds half up (away from zero), like Postgres' timestamp(6).
    assert_eq!(
        timestamp_of(json!("1700000000.1234565")),
        at("2023-11-14T22:13:20.123457Z")
    );
    assert_eq!(
        timestamp_of(json!("1700000000.1234564999999999999999999999999")),
        at("2023-11-14T22:13:20.123456Z")
    );
    assert_eq!(
        timestamp_of(json!("1700000000.9999995")),
        at("2023-11-14T22:13:21Z")
    );
    assert_eq!(
        timestamp_of(j("1700000000.1234567890123456789")),
        at("2023-11-14T22:13:20.123457Z")
    );
    assert_eq!(timestamp_of(json!(".5")), at("1970-01-01T00:00:00.5Z"));
    assert_eq!(
        timestamp_of(json!("0.0000005")),
        at("1970-01-01T00:00:00.000001Z")
    );
    assert_eq!(timestamp_of(json!("0.0000004")), at("1970-01-01T00:00:00Z"));
}

#[test]
fn it_reads_negative_epochs_down_to_year_zero() {
    assert_eq!(timestamp_of(json!(-1)), at("1969-12-31T23:59:59Z"));
    assert_eq!(
        timestamp_of(json!("-0.0000005")),
        at("1969-12-31T23:59:59.999999Z")
    );
    assert_eq!(
        timestamp_of(json!(-62_167_219_200_i64)),
        at("0000-01-01T00:00:00Z")
    );
    assert_eq!(
        timestamp_of(j("253402300799.999999")),
        at("9999-12-31T23:59:59.999999Z")
    );
}

#[test]
fn it_reads_exponents_exactly() {
    // Exponent notation is decimal text too (BigDecimal reads it): exact, never via f64.
    let number = j;
    assert_eq!(timestamp_of(number("1.7e9")), at("2023-11-14T22:13:20Z"));
    assert_eq!(timestamp_of(json!("1.7E+9")), at("2023-11-14T22:13:20Z"));
    assert_eq!(
        timestamp_of(number("17000000001234565e-7")),
        at("2023-11-14T22:13:20.123457Z")
    );
    assert_eq!(
        timestamp_of(number("0e999999999")),
        at("1970-01-01T00:00:00Z")
    );
    assert_eq!(timestamp_of(number("1e-400")), at("1970-01-01T00:00:00Z"));
    assert_eq!(
        timestamp_of(json!("5e-99999999999999999999999")),
        at("1970-01-01T00:00:00Z")
    );
}

#[test]
fn it_rejects_timestamps_that_are_not_unix_seconds() {
    let number = j;
    for bad in [
        json!("2025-01-01T00:00:00Z"),
        json!("2025-01-01"),
        json!(""),
        json!("  "),
        json!("abc"),
        json!("NaN"),
        json!("Infinity"),
        json!("0x10"),
        json!("1_700_000_000"),
        json!("1.2.3"),
        json!("--1"),
        json!("1e"),
        json!("e5"),
        json!("."),
        json!(true),
        json!({}),
        json!([1_700_000_000]),
        json!(253_402_300_800_i64),
        json!(-62_167_219_201_i64),
        json!("99999999999999999999999999"),
        number("1e400"),
        json!("1e99999999999999999999"),
        json!(i64::MAX),
        json!(u64::MAX),
    ] {
        assert_eq!(
            timestamp_error(bad.clone()),
            json!({"timestamp": ["invalid_format"]}),
            "{bad}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Batches
// ---------------------------------------------------------------------------------------------

#[test]
fn it_parses_a_batch_in_order() {
    let batch = json!([
        event(json!({"transaction_id": "a"})),
        event(json!({"transaction_id": "b", "timestamp": "1700000000"})),
    ]);
    let events = parse_batch(&batch, now(), BATCH_MAX).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(&*events[0].transaction_id, "a");
    assert_eq!(events[1].timestamp, at("2023-11-14T22:13:20Z"));
}

#[test]
fn it_bounds_the_batch() {
    let error_of = |value: Value, max: usize| parse_batch(&value, now(), max).unwrap_err();
    assert_eq!(
        error_of(json!([]), BATCH_MAX),
        Error::invalid("events", "no_events")
    );
    assert_eq!(
        details(parse_batch(&json!([]), now(), BATCH_MAX)),
        json!({"events": ["no_events"]})
    );
    let many = Value::Array(
        (0..=BATCH_MAX)
            .map(|i| event(json!({"transaction_id": i})))
            .collect(),
    );
    assert_eq!(
        error_of(many.clone(), BATCH_MAX),
        Error::invalid("events", "too_many_events")
    );
    assert_eq!(
        parse_batch(&many, now(), BATCH_MAX + 1).unwrap().len(),
        BATCH_MAX + 1
    );
    for bad in [json!({}), json!(null), json!("x")] {
        assert_eq!(
            error_of(bad, BATCH_MAX),
            Error::invalid("events", "invalid_type")
        );
    }
}

#[test]
fn a_batch_is_all_or_nothing_with_every_bad_index() {
    let batch = json!([
        event(json!({})),
        event(json!({"timestamp": "2025-01-01T00:00:00Z", "transaction_id": "t2"})),
        event(json!({"transaction_id": "t3"})),
        "not an event",
        event(json!({"code": null, "transaction_id": "t5", "properties": []})),
    ]);
    let error = parse_batch(&batch, now(), BATCH_MAX).unwrap_err();
    assert!(matches!(error, Error::Indexed(_)));
    assert_eq!(
        error.to_json(),
        json!({
            "status": 422,
            "error": "Unprocessable Entity",
            "code": "validation_errors",
            "error_details": {
                "1": {"timestamp": ["invalid_format"]},
                "3": {"event": ["invalid_type"]},
                "4": {"code": ["value_is_mandatory"], "properties": ["value_is_invalid"]},
            },
        })
    );
}

#[test]
fn it_rejects_duplicates_inside_a_batch() {
    let batch = json!([
        event(json!({"transaction_id": "t"})),
        event(json!({"transaction_id": "t", "external_subscription_id": "sub_2"})),
        event(json!({"transaction_id": "u"})),
        event(json!({"transaction_id": "t"})),
        event(json!({"transaction_id": "t", "timestamp": "bad"})),
    ]);
    assert_eq!(
        details(parse_batch(&batch, now(), BATCH_MAX)),
        json!({
            "3": {"transaction_id": ["value_already_exist"]},
            "4": {"transaction_id": ["value_already_exist"], "timestamp": ["invalid_format"]},
        })
    );
    // A number and a string with the same text are the same transaction.
    let batch = json!([
        event(json!({"transaction_id": 7})),
        event(json!({"transaction_id": "7"})),
    ]);
    assert_eq!(
        details(parse_batch(&batch, now(), BATCH_MAX)),
        json!({"1": {"transaction_id": ["value_already_exist"]}})
    );
    // Without a subscription, the empty subscription is the key.
    let batch = json!([
        {"transaction_id": "t", "code": "c"},
        {"transaction_id": "t", "code": "c", "external_subscription_id": ""},
    ]);
    assert_eq!(
        details(parse_batch(&batch, now(), BATCH_MAX)),
        json!({"1": {"transaction_id": ["value_already_exist"]}})
    );
}

#[test]
fn duplicates_are_found_around_failed_items() {
    // The first holder of a key may itself be invalid; events after failures still count.
    let batch = json!([
        event(json!({"transaction_id": "a", "timestamp": "bad"})),
        event(json!({"transaction_id": "b"})),
        [],
        event(json!({"transaction_id": "a"})),
        event(json!({"transaction_id": "b", "code": ""})),
        event(json!({"transaction_id": "c"})),
        event(json!({"transaction_id": "b"})),
        event(json!({"transaction_id": "c", "external_subscription_id": "other"})),
    ]);
    assert_eq!(
        details(parse_batch(&batch, now(), BATCH_MAX)),
        json!({
            "0": {"timestamp": ["invalid_format"]},
            "2": {"event": ["invalid_type"]},
            "3": {"transaction_id": ["value_already_exist"]},
            "4": {"transaction_id": ["value_already_exist"], "code": ["value_is_mandatory"]},
            "6": {"transaction_id": ["value_already_exist"]},
        })
    );
}

#[test]
fn bulk_duplicates_compare_decoded_text() {
    // "tx\u0031" is "tx1": escaped and plain spellings are one key.
    let text = concat!(
        r#"{"transaction_id":"tx1","external_subscription_id":"s","code":"c"}"#,
        "\n",
        r#"{"transaction_id":"tx\u0031","external_subscription_id":"s","code":"c"}"#,
        "\n",
        r#"{"transaction_id":"tx1","external_subscription_id":"\u0073","code":"c"}"#,
        "\n",
        r#"{"transaction_id":"tx1","external_subscription_id":"s2","code":"c"}"#,
    );
    assert_eq!(
        details(parse_bulk(text, now())),
        json!({
            "1": {"transaction_id": ["value_already_exist"]},
            "2": {"transaction_id": ["value_already_exist"]},
        })
    );
    let lines = format!("{LINE}\n").repeat(3_000);
    let Error::Indexed(items) = parse_bulk(&lines, now()).unwrap_err() else {
        panic!("expected indexed errors");
    };
    assert_eq!(items.len(), 1_000, "the first 1,000 bad events");
    assert_eq!(items.first().map(|(index, _)| *index), Some(1));
    assert_eq!(items.last().map(|(index, _)| *index), Some(1_000));
}

// ---------------------------------------------------------------------------------------------
// Bulk text
// ---------------------------------------------------------------------------------------------

const LINE: &str = r#"{"transaction_id":"tx_1","external_subscription_id":"sub_1","code":"api_calls","timestamp":1751328000,"properties":{"region":"eu","value":"12.5"}}"#;

#[test]
fn it_reads_ndjson_skipping_blank_lines() {
    let text = format!(
        "\n{LINE}\r\n   \n{}\n\t\n{}",
        r#"{"transaction_id":"tx_2","code":"c","timestamp":"1751328000.5","properties":{"n":1.50}}"#,
        r#"  {"transaction_id":"tx_3","code":"c","precise_total_amount_cents":"0.001"}  "#,
    );
    let events = parse_bulk(&text, now()).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(&*events[0].transaction_id, "tx_1");
    assert_eq!(&*events[0].external_subscription_id, "sub_1");
    assert_eq!(events[0].timestamp, at("2025-07-01T00:00:00Z"));
    assert_eq!(
        Value::Object(events[0].properties.to_map()),
        json!({"region": "eu", "value": "12.5"})
    );
    assert_eq!(events[1].timestamp, at("2025-07-01T00:00:00.5Z"));
    assert_eq!(events[1].property_text("n").as_deref(), Some("1.50"));
    assert_eq!(events[2].timestamp, now());
    assert_eq!(
        events[2].precise_total_amount_cents,
        Some(Decimal::from_str("0.001").unwrap())
    );
}

#[test]
fn bulk_and_single_parsing_agree() {
    let lines = [
        LINE,
        r#"{"transaction_id":12,"external_subscription_id":3.10,"code":"c\u00e9","timestamp":1.7e9,"properties":{"a":{"b":[1,2.50,null,true]}},"precise_total_amount_cents":1e2,"extra":{"x":1}}"#,
        r#"{"transaction_id":"esc\"aped\n","code":"c","timestamp":"-1.5","properties":{}}"#,
        r#"{"transaction_id":"t","code":"c","code":"last wins"}"#,
    ];
    for line in lines {
        let value: Value = serde_json::from_str(line).unwrap();
        let single = parse_event(&value, now()).unwrap();
        let bulk = parse_bulk(line, now()).unwrap();
        assert_eq!(bulk, vec![single], "{line}");
    }
    let bulk = parse_bulk(lines[3], now()).unwrap();
    assert_eq!(&*bulk[0].code, "last wins");
}

#[test]
fn bulk_errors_are_keyed_by_event_index() {
    let text = format!(
        "{LINE}\n\n{}\n{}\n{}\n\n{}\n{}\n{}\n",
        "{not json",
        r#"{"transaction_id":"tx_1","external_subscription_id":"sub_1","code":"c"}"#,
        "[1, 2]",
        r#"{"transaction_id":"ok","code":"c","timestamp":"2025-01-01"}"#,
        r#"{"transaction_id":"ok2","code":"c"} trailing"#,
        "42",
    );
    assert_eq!(
        details(parse_bulk(&text, now())),
        json!({
            "1": {"event": ["invalid_json"]},
            "2": {"transaction_id": ["value_already_exist"]},
            "3": {"event": ["invalid_type"]},
            "4": {"timestamp": ["invalid_format"]},
            "5": {"event": ["invalid_json"]},
            "6": {"event": ["invalid_type"]},
        })
    );
}

#[test]
fn it_reads_a_json_array_in_bulk() {
    let text = format!(
        "  \n[{LINE},\n {}\n]\n",
        r#"{"transaction_id":"tx_2","code":"c"}"#
    );
    let events = parse_bulk(&text, now()).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(&*events[1].transaction_id, "tx_2");

    let text = format!(r#"[{LINE}, 5, {LINE}, {{"code": "c"}}, [], "x", null]"#);
    assert_eq!(
        details(parse_bulk(&text, now())),
        json!({
            "1": {"event": ["invalid_type"]},
            "2": {"transaction_id": ["value_already_exist"]},
            "3": {"transaction_id": ["value_is_mandatory"]},
            "4": {"event": ["invalid_type"]},
            "5": {"event": ["invalid_type"]},
            "6": {"event": ["invalid_type"]},
        })
    );
    for bad in [
        format!("[{LINE}"),
        format!("[{LINE}] x"),
        "[{,}]".to_string(),
    ] {
        let error = parse_bulk(&bad, now()).unwrap_err();
        assert!(matches!(error, Error::BadRequest(_)), "{bad}: {error:?}");
    }
}

#[test]
fn bulk_text_without_events_is_rejected() {
    for text in ["", "\n\n  \r\n", "[]", " [ ] "] {
        assert_eq!(
            parse_bulk(text, now()).unwrap_err(),
            Error::invalid("events", "no_events"),
            "{text:?}"
        );
    }
}

#[test]
fn bulk_text_is_bounded() {
    let huge = " ".repeat(usage_calc::limits::REQUEST_BYTES_MAX + 1);
    let error = parse_bulk(&huge, now()).unwrap_err();
    assert!(matches!(error, Error::BadRequest(_)));
    assert_eq!(error.to_json()["status"], 400);
}

#[test]
fn bulk_errors_stop_after_a_thousand() {
    let text = "x\n".repeat(5_000);
    let Error::Indexed(items) = parse_bulk(&text, now()).unwrap_err() else {
        panic!("expected indexed errors");
    };
    assert_eq!(items.len(), 1_000);
    assert_eq!(items[999].0, 999);
}

// ---------------------------------------------------------------------------------------------
// Hostile input never panics
// ---------------------------------------------------------------------------------------------

#[test]
fn hostile_input_never_panics() {
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_object = format!(
        r#"{{"transaction_id":"t","code":"c","properties":{}1{}}}"#,
        r#"{"a":"#.repeat(10_000),
        "}".repeat(10_000)
    );
    let deep_ignored = format!(
        r#"{{"transaction_id":"t","code":"c","x":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let deep_id = format!(
        r#"{{"transaction_id":{}1{},"code":"c"}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let long = "9".repeat(1_000_000);
    let long_string = format!(
        r#"{{"transaction_id":"{}","code":"c"}}"#,
        "x".repeat(1_000_000)
    );
    let texts = [
        deep_array.clone(),
        deep_object.clone(),
        deep_ignored.clone(),
        deep_id,
        format!(r#"{{"transaction_id":"t","code":"c","timestamp":{long}}}"#),
        format!(r#"{{"transaction_id":"t","code":"c","timestamp":"0.{long}"}}"#),
        format!(r#"{{"transaction_id":"t","code":"c","timestamp":1e{long}}}"#),
        format!(r#"{{"transaction_id":"t","code":"c","timestamp":1e-{long}}}"#),
        format!(r#"{{"transaction_id":{long},"code":"c","precise_total_amount_cents":{long}}}"#),
        r#"{"transaction_id":"t","code":"c","timestamp":1e400,"precise_total_amount_cents":"NaN"}"#
            .to_string(),
        r#"{"transaction_id":"t","code":"c","timestamp":-1e400,"precise_total_amount_cents":-1e400}"#
            .to_string(),
        r#"{"$serde_json::private::Number":"1"}"#.to_string(),
        r#"{"transaction_id":{"$serde_json::private::Number":"x"},"code":"c"}"#.to_string(),
        long_string,
        "\u{feff}".to_string(),
        "\0".to_string(),
        "{\"transaction_id\":\"\\ud800\",\"code\":\"c\"}".to_string(),
        format!("[{}]", deep_object),
        format!("[{}]", deep_ignored),
        "[".to_string(),
        "]".to_string(),
        "{".to_string(),
    ];
    for text in &texts {
        let _ = parse_bulk(text, now());
        if let Ok(value) = serde_json::from_str::<Value>(text) {
            let _ = parse_event(&value, now());
            let _ = parse_batch(&Value::Array(vec![value]), now(), BATCH_MAX);
        }
    }
    let value: Value = serde_json::from_str(&texts[4]).unwrap();
    assert_eq!(
        details(parse_event(&value, now())),
        json!({"timestamp": ["invalid_format"]})
    );
    assert_eq!(
        parse_bulk(&texts[5], now()).unwrap()[0].timestamp,
        at("1970-01-01T00:00:01Z")
    );
    assert_eq!(
        details(parse_bulk(&texts[0], now())),
        json!({"0": {"event": ["invalid_type"]}}),
        "a deep array inside a line is not an event"
    );
    assert_eq!(
        details(parse_bulk(&texts[1], now())),
        json!({"0": {"event": ["invalid_json"]}}),
        "past serde_json's nesting limit"
    );
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

#[test]
fn it_prints_lagos_event_json() {
    let input = event(j(r#"{
        "timestamp": "1750003200.1239",
        "properties": {"value": "12.5", "n": 1.50},
        "precise_total_amount_cents": "1200.50"
    }"#));
    let parsed = parse_event(&input, now()).unwrap();
    let body = event_json(
        &parsed,
        "lago-1",
        Some("sub-uuid"),
        Some(at("2025-06-15T10:00:00.987Z")),
    );
    assert_eq!(
        body,
        json!({
            "lago_id": "lago-1",
            "transaction_id": "tx_1",
            "lago_customer_id": null,
            "code": "api_calls",
            "timestamp": "2025-06-15T16:00:00.123Z",
            "precise_total_amount_cents": "1200.5",
            "properties": j(r#"{"value": "12.5", "n": 1.50}"#),
            "lago_subscription_id": "sub-uuid",
            "external_subscription_id": "sub_1",
            "created_at": "2025-06-15T10:00:00Z",
        })
    );
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "lago_id",
            "transaction_id",
            "lago_customer_id",
            "code",
            "timestamp",
            "precise_total_amount_cents",
            "properties",
            "lago_subscription_id",
            "external_subscription_id",
            "created_at"
        ]
    );
    assert_eq!(body["properties"]["n"].to_string(), "1.50");

    let bare = parse_event(&json!({"transaction_id": "t", "code": "c"}), now()).unwrap();
    let body = event_json(&bare, "lago-2", None, Some(now()));
    assert_eq!(body["precise_total_amount_cents"], Value::Null);
    assert_eq!(body["lago_subscription_id"], Value::Null);
    assert_eq!(body["external_subscription_id"], Value::Null);
    assert_eq!(body["timestamp"], "2025-06-15T10:00:00.000Z");
    assert_eq!(body["properties"], json!({}));
}

// ---------------------------------------------------------------------------------------------
// Speed (native, release): cargo test --release --test ingest -- --ignored --nocapture
// ---------------------------------------------------------------------------------------------

#[test]
#[ignore = "benchmark"]
fn bench_parse_bulk() {
    // 1M typical lines, in 4 texts of 250k (each under REQUEST_BYTES_MAX).
    let chunks = 4;
    let per_chunk = 250_000;
    let texts: Vec<String> = (0..chunks)
        .map(|chunk| {
            let mut text = String::with_capacity(per_chunk * 160);
            for i in chunk * per_chunk..(chunk + 1) * per_chunk {
                text.push_str(&format!(
                    r#"{{"transaction_id":"tx_{i}","external_subscription_id":"sub_{}","code":"api_calls","timestamp":{},"properties":{{"region":"eu","value":"12.5"}}}}"#,
                    i % 100,
                    1_751_328_000 + i
                ));
                text.push('\n');
            }
            text
        })
        .collect();
    let count = chunks * per_chunk;
    for round in 0..3 {
        let mut elapsed = std::time::Duration::ZERO;
        let mut parsed = 0;
        for text in &texts {
            let started = std::time::Instant::now();
            let events = parse_bulk(text, now()).unwrap();
            elapsed += started.elapsed(); // freeing the events is not parsing
            parsed += events.len();
        }
        assert_eq!(parsed, count);
        println!(
            "round {round}: {} ns/event",
            elapsed.as_nanos() / count as u128
        );
    }
}

#[test]
fn bulk_reads_csv_with_a_header_row() {
    let text = "transaction_id,external_subscription_id,code,timestamp,properties.region,gb\n\
                t1,sub,storage,1749981600,eu,12.5\n\
                \"t,2\",sub,storage,1749981601,,\"3\"\"\"\n\
                \n\
                t3,sub,storage,,us,1\n";
    let events = parse_bulk(text, now()).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(&*events[0].transaction_id, "t1");
    assert_eq!(events[0].timestamp, at("2025-06-15T10:00:00Z"));
    assert_eq!(events[0].property_text("region").as_deref(), Some("eu"));
    assert_eq!(events[0].property_text("gb").as_deref(), Some("12.5"));
    // Quoted cells keep their commas and doubled quotes; an empty cell is an absent property.
    assert_eq!(&*events[1].transaction_id, "t,2");
    assert_eq!(events[1].property_text("region"), None);
    assert_eq!(events[1].property_text("gb").as_deref(), Some("3\""));
    // No timestamp: `now`, as for JSON events.
    assert_eq!(events[2].timestamp, now());
}

#[test]
fn bulk_csv_errors_are_keyed_by_row() {
    let text = "transaction_id,external_subscription_id,code,timestamp\nt1,sub,calls,yesterday\nt1,sub,calls,1\n";
    let Error::Indexed(items) = parse_bulk(text, now()).unwrap_err() else {
        panic!("expected indexed errors");
    };
    assert_eq!(items[0].0, 0);
    assert_eq!(items[0].1.codes("timestamp"), vec!["invalid_format"]);
    // A header without transaction_id is not CSV: the line is read as (invalid) NDJSON.
    let Error::Indexed(items) = parse_bulk("code,timestamp\ncalls,1\n", now()).unwrap_err() else {
        panic!("expected indexed errors");
    };
    assert_eq!(items.len(), 2);
}
