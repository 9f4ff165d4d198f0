//! Aggregations against Lago's golden cases (`tests/fixtures/usage/aggregations.json`), plus
//! focused tests of the rules the cases rely on.
//!
//! Every case's `input` goes through `aggregate_json`; every `expected` key is compared:
//! decimals numerically (`"48"` == `"48.0"`), `<key>_round5` as the actual `<key>` rounded half-up
//! to 5 places, instants as instants, lists of groups / breakdowns / filters as multisets.
//! Failing cases are printed with their first differing key, and the test fails with the count.
//! Cases marked `lago_internal: true` are skipped with their reason. `AGGREGATIONS_DUMP=1` prints
//! every case's actual output; `AGGREGATIONS_FIXTURE=path` runs another file of the same format.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use std::str::FromStr;
use usage_calc::aggregations::aggregate_json;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/usage/aggregations.json"
);

/// Cases whose expectation contradicts the research notes' rule (none today): name → the rule.
const DISPUTED: &[(&str, &str)] = &[];

#[test]
fn every_lago_aggregation_case_passes() {
    let path = std::env::var("AGGREGATIONS_FIXTURE").unwrap_or_else(|_| FIXTURE.to_string());
    let text = std::fs::read_to_string(path).expect("fixture file");
    let fixture: Value = serde_json::from_str(&text).expect("fixture JSON");
    let cases = fixture["cases"].as_array().expect("cases");
    let (mut passed, mut skipped, mut failed) = (0, 0, Vec::new());
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        if case["lago_internal"].as_bool() == Some(true) {
            let reason = case["reason"]
                .as_str()
                .or(case["notes"].as_str())
                .unwrap_or("");
            println!("SKIP {name}: lago_internal ({reason})");
            skipped += 1;
            continue;
        }
        if let Some((_, rule)) = DISPUTED.iter().find(|(n, _)| *n == name) {
            println!("SKIP {name}: disputed ({rule})");
            skipped += 1;
            continue;
        }
        let outcome = match aggregate_json(&case["input"]) {
            Ok(actual) => {
                if std::env::var_os("AGGREGATIONS_DUMP").is_some() {
                    println!(
                        "CASE {name}\n  expected {}\n  actual   {actual}",
                        case["expected"]
                    );
                }
                first_difference(&case["expected"], &actual, "", true)
            }
            Err(error) => Some(format!("error {error}")),
        };
        match outcome {
            None => passed += 1,
            Some(difference) => {
                println!("FAIL {name}: {difference}");
                failed.push(name.to_string());
            }
        }
    }
    println!(
        "aggregations: {passed} passed, {} failed, {skipped} skipped",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} case(s) failed: {failed:?}",
        failed.len()
    );
}

/// Keys whose lists are compared as multisets.
fn unordered(key: &str) -> bool {
    matches!(
        key,
        "groups" | "breakdowns" | "ignored_filters" | "matching_filters"
    )
}

fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::String(text) => Decimal::from_str(text)
            .or_else(|_| Decimal::from_scientific(text))
            .ok(),
        Value::Number(number) if number.to_string().contains(['.', 'e', 'E']) => {
            Decimal::from_str(&number.to_string()).ok()
        }
        _ => None,
    }
}

fn instant(value: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = value.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn round5(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(5, RoundingStrategy::MidpointAwayFromZero)
}

/// A decimal (or a list of decimals) rounded half-up to 5 places, as a JSON string (list).
fn rounded5(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(rounded5).collect()),
        other => match decimal(other) {
            Some(d) => Value::String(round5(d).to_string()),
            None => other.clone(),
        },
    }
}

/// A map whose values are scalars or lists of scalars (a group's key → value, a filter).
fn is_value_map(map: &serde_json::Map<String, Value>) -> bool {
    map.values().all(|v| match v {
        Value::Array(items) => items.iter().all(|i| !i.is_object() && !i.is_array()),
        Value::Object(_) => false,
        _ => true,
    })
}

/// The first difference between `expected` and `actual` (a JSON path and both values).
fn first_difference(expected: &Value, actual: &Value, path: &str, top: bool) -> Option<String> {
    let differ = || Some(format!("{path}: expected {expected}, got {actual}"));
    match expected {
        Value::Object(want) => {
            let Value::Object(got) = actual else {
                return differ();
            };
            if !top && is_value_map(want) && want.len() != got.len() {
                return differ();
            }
            for (key, value) in want {
                let child = format!("{path}/{key}");
                if let Some(base) = key.strip_suffix("_round5") {
                    let Some(got) = got.get(base).map(rounded5) else {
                        return Some(format!("{child}: missing {base} (expected {value})"));
                    };
                    let difference = first_difference(value, &got, &child, false);
                    if difference.is_some() {
                        return difference;
                    }
                    continue;
                }
                let Some(got_value) = got.get(key) else {
                    return Some(format!("{child}: missing (expected {value})"));
                };
                let difference = if unordered(key) || path.contains("_filters") {
                    multiset_difference(value, got_value, &child)
                } else {
                    first_difference(value, got_value, &child, false)
                };
                if difference.is_some() {
                    return difference;
                }
            }
            None
        }
        Value::Array(want) => {
            let Value::Array(got) = actual else {
                return differ();
            };
            if want.len() != got.len() {
                return differ();
            }
            want.iter()
                .zip(got)
                .enumerate()
                .find_map(|(i, (w, g))| first_difference(w, g, &format!("{path}[{i}]"), false))
        }
        Value::String(_) => {
            if let (Some(w), Some(g)) = (decimal(expected), decimal(actual)) {
                return if w != g { differ() } else { None };
            }
            if let (Some(w), Some(g)) = (instant(expected), instant(actual)) {
                return if w != g { differ() } else { None };
            }
            if expected != actual {
                differ()
            } else {
                None
            }
        }
        Value::Number(_) => {
            let same = match (decimal(expected), decimal(actual)) {
                (Some(w), Some(g)) => w == g,
                _ => expected == actual || expected.as_f64() == actual.as_f64(),
            };
            if same {
                None
            } else {
                differ()
            }
        }
        _ => {
            if expected != actual {
                differ()
            } else {
                None
            }
        }
    }
}

/// Lists compared as multisets (recursively: filter value lists are sets too); objects compared
/// key by key with the same rule.
fn multiset_difference(expected: &Value, actual: &Value, path: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Array(want), Value::Array(got)) => {
            if want.len() != got.len() {
                return Some(format!("{path}: expected {expected}, got {actual}"));
            }
            let mut used = vec![false; got.len()];
            for item in want {
                let found = got.iter().enumerate().find(|(i, candidate)| {
                    !used[*i] && multiset_difference(item, candidate, path).is_none()
                });
                match found {
                    Some((i, _)) => used[i] = true,
                    None => return Some(format!("{path}: expected {item} in {actual}")),
                }
            }
            None
        }
        (Value::Object(want), Value::Object(got)) if is_value_map(want) => {
            if want.len() != got.len() {
                return Some(format!("{path}: expected {expected}, got {actual}"));
            }
            want.iter().find_map(|(key, value)| match got.get(key) {
                Some(g) => multiset_difference(value, g, &format!("{path}/{key}")),
                None => Some(format!("{path}/{key}: missing")),
            })
        }
        _ => first_difference(expected, actual, path, false),
    }
}

// ---------------------------------------------------------------------------------------------
// Focused tests
// ---------------------------------------------------------------------------------------------

fn run(input: Value) -> Value {
    aggregate_json(&input).expect("aggregation")
}

fn metric(aggregation_type: &str, field: Option<&str>, recurring: bool) -> Value {
    json!({
        "aggregation_type": aggregation_type,
        "field_name": field,
        "recurring": recurring,
        "rounding_function": null,
        "rounding_precision": null,
    })
}

fn window() -> Value {
    json!({"from": "2024-05-01T00:00:00Z", "to": "2024-05-31T23:59:59.999999Z", "charges_duration_days": 31})
}

fn ev(ts: &str, props: Value) -> Value {
    json!({"timestamp": ts, "properties": props})
}

fn dec(value: &Value) -> Decimal {
    decimal(value).unwrap_or_else(|| panic!("not a decimal: {value}"))
}

#[test]
fn a_json_number_property_is_read_as_postgres_prints_it() {
    // 1e1 is stored by jsonb as 10 and passes the numeric check; "1e1" as a string does not.
    let out = run(json!({
        "metric": metric("sum_agg", Some("v"), false),
        "window": window(),
        "events": [
            ev("2024-05-02T00:00:00Z", json!({"v": 1e1})),
            ev("2024-05-02T00:00:00Z", json!({"v": "1e1"})),
            ev("2024-05-02T00:00:00Z", json!({"v": "+1"})),
            ev("2024-05-02T00:00:00Z", json!({"v": "-2.5"})),
        ],
    }));
    assert_eq!(dec(&out["aggregation"]), Decimal::from_str("7.5").unwrap());
    assert_eq!(out["count"], json!(2));
}

#[test]
fn an_empty_string_and_a_missing_key_are_two_null_groups() {
    let out = run(json!({
        "metric": metric("count_agg", None, false),
        "window": window(),
        "grouped_by": ["agent"],
        "events": [
            ev("2024-05-02T00:00:00Z", json!({"agent": ""})),
            ev("2024-05-02T00:00:00Z", json!({})),
            ev("2024-05-02T00:00:00Z", json!({})),
        ],
    }));
    let groups = out["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2);
    assert!(groups
        .iter()
        .all(|g| g["grouped_by"] == json!({"agent": null})));
    let mut counts: Vec<i64> = groups
        .iter()
        .map(|g| g["count"].as_i64().unwrap())
        .collect();
    counts.sort();
    assert_eq!(counts, vec![1, 2]);
}

#[test]
fn latest_breaks_timestamp_ties_by_ingestion_order() {
    let out = run(json!({
        "metric": metric("latest_agg", Some("v"), false),
        "window": window(),
        "events": [
            ev("2024-05-03T00:00:00Z", json!({"v": "7"})),
            ev("2024-05-03T00:00:00Z", json!({"v": "9"})),
            ev("2024-05-01T00:00:00Z", json!({"v": "100"})),
        ],
    }));
    assert_eq!(dec(&out["aggregation"]), Decimal::from(9));
    assert_eq!(out["count"], json!(3));
}

#[test]
fn unique_count_treats_a_missing_property_as_one_value() {
    let out = run(json!({
        "metric": metric("unique_count_agg", Some("id"), false),
        "window": window(),
        "events": [
            ev("2024-05-02T00:00:00Z", json!({"id": "a"})),
            ev("2024-05-03T00:00:00Z", json!({"id": "a"})),
            ev("2024-05-03T00:00:00Z", json!({})),
            ev("2024-05-04T00:00:00Z", json!({"other": 1})),
            ev("2024-05-05T00:00:00Z", json!({"id": "b", "operation_type": "remove"})),
        ],
    }));
    assert_eq!(dec(&out["aggregation"]), Decimal::from(2));
    assert_eq!(out["count"], json!(2));
}

#[test]
fn running_totals_stop_after_the_first_total_past_the_free_amount() {
    let out = run(json!({
        "metric": metric("sum_agg", Some("v"), false),
        "window": window(),
        "options": {"free_units_per_total_aggregation": "250"},
        "events": [
            ev("2024-05-02T00:00:00Z", json!({"v": "50"})),
            ev("2024-05-03T00:00:00Z", json!({"v": "100"})),
            ev("2024-05-04T00:00:00Z", json!({"v": "250"})),
            ev("2024-05-05T00:00:00Z", json!({"v": "400"})),
        ],
    }));
    let totals: Vec<Decimal> = out["running_total"]
        .as_array()
        .unwrap()
        .iter()
        .map(dec)
        .collect();
    assert_eq!(
        totals,
        vec![Decimal::from(50), Decimal::from(150), Decimal::from(400)]
    );
}

#[test]
fn a_weighted_sum_extends_the_last_level_to_the_end_of_the_period() {
    // 10 units from mid-period for 16 of 31 days.
    let out = run(json!({
        "metric": metric("weighted_sum_agg", Some("v"), false),
        "window": window(),
        "events": [ev("2024-05-16T00:00:00Z", json!({"v": "10"}))],
    }));
    let expected = Decimal::from(160) / Decimal::from(31);
    assert_eq!(round5(dec(&out["aggregation"])), round5(expected));
    assert_eq!(dec(&out["total_aggregated_units"]), Decimal::from(10));
}

#[test]
fn the_most_specific_filter_takes_the_events_from_the_broader_one() {
    let filters = json!([
        {"id": "cloud", "values": {"cloud": ["aws", "gcp"]}},
        {"id": "aws_eu", "values": {"cloud": ["aws"], "region": ["eu"]}},
    ]);
    let events = json!([
        ev(
            "2024-05-02T00:00:00Z",
            json!({"cloud": "aws", "region": "eu"})
        ),
        ev(
            "2024-05-02T00:00:00Z",
            json!({"cloud": "aws", "region": "us"})
        ),
        ev("2024-05-02T00:00:00Z", json!({"cloud": "gcp"})),
        ev("2024-05-02T00:00:00Z", json!({"cloud": "azure"})),
    ]);
    let count = |target: Value| {
        run(json!({
            "metric": metric("count_agg", None, false),
            "window": window(),
            "billable_metric_filters": {"cloud": ["aws", "gcp", "azure"], "region": ["eu", "us"]},
            "charge_filters": filters,
            "target": target,
            "events": events,
        }))["count"]
            .clone()
    };
    assert_eq!(count(json!("cloud")), json!(2));
    assert_eq!(count(json!("aws_eu")), json!(1));
    assert_eq!(count(Value::Null), json!(1));
}

#[test]
fn negative_rounding_precision_rounds_to_hundreds() {
    let out = run(json!({"units": "150", "rounding_function": "round", "rounding_precision": -2}));
    assert_eq!(dec(&out["units"]), Decimal::from(200));
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    for input in [
        json!([]),
        json!({"metric": {"aggregation_type": "sum_agg"}, "window": window()}),
        json!({"metric": metric("nope", None, false), "window": window()}),
        json!({"metric": metric("count_agg", None, false), "window": {"from": "x", "to": "y"}}),
        json!({"metric": metric("sum_agg", Some("v"), false), "window": window(),
               "events": [{"timestamp": "2024-05-02T00:00:00Z", "properties": {"v": "1".repeat(60)}}]}),
        json!({"units": "1", "rounding_function": "ceil", "rounding_precision": -60}),
    ] {
        assert!(aggregate_json(&input).is_err(), "{input}");
    }
}

#[test]
fn proration_counts_days_in_the_customer_time_zone() {
    // 02:00 UTC on May 26 is May 25 in New York: 7 days left of 31, not 6.
    let out = run(json!({
        "metric": metric("sum_agg", Some("v"), true),
        "charge_prorated": true,
        "window": {"from": "2023-05-01T04:00:00Z", "to": "2023-06-01T03:59:59Z",
                   "charges_duration_days": 31, "timezone": "America/New_York"},
        "events": [ev("2023-05-26T02:00:00Z", json!({"v": "31"}))],
    }));
    // 31 × (7/31 as a 20-place Postgres numeric) = 7.00000000000000000011, ceiled to 5 places:
    // Lago bills 7.00001 units here, and so does this engine.
    assert_eq!(
        dec(&out["aggregation"]),
        Decimal::from_str("7.00001").unwrap()
    );
    assert_eq!(dec(&out["full_units_number"]), Decimal::from(31));
}

#[test]
fn incremental_states_agree_with_the_slice_aggregation() {
    use usage_calc::aggregations::{
        count::CountState, latest::LatestState, max::MaxState, sum::SumState,
        unique_count::UniqueCountState,
    };
    let at = |day: u32| {
        chrono::DateTime::parse_from_rfc3339(&format!("2024-05-{day:02}T00:00:00Z"))
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let values = ["3", "-1", "7", "7", "2"];
    let ids = [Some("a"), Some("b"), Some("a"), None, Some("b")];
    let ops = ["add", "add", "remove", "add", "remove"];
    let (mut count, mut sum, mut max, mut latest) = (
        CountState::default(),
        SumState::default(),
        MaxState::default(),
        LatestState::default(),
    );
    let mut unique = UniqueCountState::default();
    let mut events = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let day = u32::try_from(i).unwrap() + 2;
        let value = Decimal::from_str(value).unwrap();
        count.add();
        sum.add(value, None).unwrap();
        max.add(value);
        latest.add(at(day), i as u64, value);
        assert!(unique.add(
            ids[i].map(str::as_bytes),
            ops[i].as_bytes(),
            at(day),
            i as u64
        ));
        let mut props = json!({"v": values[i], "operation_type": ops[i]});
        if let Some(id) = ids[i] {
            props["id"] = json!(id);
        }
        events.push(ev(&format!("2024-05-{day:02}T00:00:00Z"), props));
    }
    let slice = |kind: &str, field: &str| {
        let out = run(
            json!({"metric": metric(kind, Some(field), false), "window": window(), "events": events}),
        );
        dec(&out["aggregation"])
    };
    assert_eq!(count.units(), slice("count_agg", "v"));
    assert_eq!(sum.total, slice("sum_agg", "v"));
    assert_eq!(max.units(), slice("max_agg", "v"));
    assert_eq!(latest.units(), slice("latest_agg", "v"));
    assert_eq!(unique.units(), slice("unique_count_agg", "id"));
}

#[test]
fn a_prorated_result_converts_into_the_prorated_graduated_input() {
    use usage_calc::aggregations::{
        aggregate, AggregationParams, AggregationType, BillableMetric, ChargeSettings, Window,
    };
    use usage_calc::charge_models::Aggregation;
    use usage_calc::domain::event::Event;
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let event = |ts: &str, v: i64| Event {
        transaction_id: ts.to_string().into(),
        external_subscription_id: "sub".into(),
        code: "seats".into(),
        timestamp: at(ts),
        properties: json!({"seats": v}).as_object().unwrap().clone().into(),
        precise_total_amount_cents: None,
    };
    let metric = BillableMetric {
        aggregation_type: AggregationType::Sum,
        field_name: Some("seats".into()),
        recurring: true,
        rounding: None,
        filters: Vec::new(),
    };
    let window = Window {
        from: at("2023-09-01T00:00:00Z"),
        to: at("2023-09-30T23:59:59Z"),
        charges_duration_days: Some(30),
        timezone: usage_calc::period::tz::Tz::UTC,
    };
    let mut params = AggregationParams::new(metric, window);
    params.charge = ChargeSettings {
        prorated: true,
        ..ChargeSettings::default()
    };
    let events = [
        event("2023-08-20T00:00:00Z", 4),
        event("2023-09-21T00:00:00Z", 3),
    ];
    let result = aggregate(&events, &params).unwrap();
    let input = Aggregation::from(&result);
    assert_eq!(input.events_count, 2);
    assert_eq!(input.full_units_number, Some(Decimal::from(7)));
    let prorated = input.prorated_events.expect("prorated events");
    assert_eq!(prorated.len(), 2);
    assert_eq!(
        (prorated[0].full, prorated[0].prorated),
        (Decimal::from(4), Decimal::from(4))
    );
    // 3 seats for the last 10 days of 30, times the ratio Postgres rounds to 20 places.
    assert_eq!(prorated[1].full, Decimal::from(3));
    let third = Decimal::from_str("0.99999999999999999999").unwrap();
    assert_eq!(prorated[1].prorated, third);
    assert_eq!(input.units, Decimal::from(5));
}

/// Contexts of lago-api's aggregation specs (at the pinned commit) that the shared fixture does
/// not carry, transcribed in the same format (one case per line; property values as the specs
/// send them, dates made concrete). Source: `spec/services/billable_metrics/<name before ':'>`.
const LAGO_SPEC_CONTEXTS: &str = r#"[
{"name":"prorated_aggregations/sum_service_spec: when properties is a float","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2023-05-01T00:00:00Z","to":"2023-05-31T23:59:59Z","charges_duration_days":31},"events":[{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12}},{"timestamp":"2023-05-31T00:00:00Z","properties":{"total_count":4.5}}]},"expected":{"aggregation_round5":"9.79033"}},
{"name":"prorated_aggregations/sum_service_spec: with an event exactly on the period boundary","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2023-05-01T00:00:00Z","to":"2023-05-31T23:59:59Z","charges_duration_days":31},"events":[{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12}},{"timestamp":"2023-05-01T00:00:00Z","properties":{"total_count":10}}]},"expected":{"count":5}},
{"name":"prorated_aggregations/sum_service_spec: current usage in arrears, rounding ceil 2","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":true,"rounding_function":"ceil","rounding_precision":2},"charge_prorated":true,"window":{"from":"2023-05-01T00:00:00Z","to":"2023-05-31T23:59:59Z","charges_duration_days":31},"context":"current_usage","events":[{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12.434}}]},"expected":{"aggregation":"9.73","current_usage_units":"29.44"}},
{"name":"prorated_aggregations/sum_service_spec: .per_event_aggregation","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2023-05-01T00:00:00Z","to":"2023-05-31T23:59:59Z","charges_duration_days":31},"events":[{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12}}]},"expected":{"event_aggregation":["5","12","12"],"event_prorated_aggregation_round5":["5","2.32258","2.32258"]}},
{"name":"prorated_aggregations/sum_service_spec: .per_event_aggregation with grouped_by_values","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2023-05-01T00:00:00Z","to":"2023-05-31T23:59:59Z","charges_duration_days":31},"grouped_by_values":{"scheme":"visa"},"events":[{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5,"scheme":"visa"}},{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12}},{"timestamp":"2023-05-26T00:00:00Z","properties":{"total_count":12,"scheme":"visa"}}]},"expected":{"event_aggregation":["5","12"],"event_prorated_aggregation_round5":["5","2.32258"]}},
{"name":"prorated_aggregations/sum_service_spec: event given, above the period maximum","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2023-05-01T00:00:00Z","to":"2023-05-31T23:59:59Z","charges_duration_days":31},"events":[{"timestamp":"2023-05-29T00:00:00Z","properties":{"total_count":-6},"transaction_id":"t6"}],"pay_in_advance_event":{"timestamp":"2023-05-30T00:00:00Z","properties":{"total_count":10}},"cached_aggregation":{"timestamp":"2023-05-29T00:00:00Z","current_aggregation":"4","max_aggregation":"10","max_aggregation_with_proration":"3.2","event_transaction_id":"t6"}},"expected":{"pay_in_advance_aggregation":"0.25807"}},
{"name":"prorated_aggregations/sum_service_spec: event given, below the period maximum","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2023-05-01T00:00:00Z","to":"2023-05-31T23:59:59Z","charges_duration_days":31},"events":[{"timestamp":"2023-05-29T00:00:00Z","properties":{"total_count":-6},"transaction_id":"t6"}],"pay_in_advance_event":{"timestamp":"2023-05-30T00:00:00Z","properties":{"total_count":-2}},"cached_aggregation":{"timestamp":"2023-05-29T00:00:00Z","current_aggregation":"4","max_aggregation":"10","max_aggregation_with_proration":"3.2","event_transaction_id":"t6"}},"expected":{"pay_in_advance_aggregation":"0","units_applied":"-2"}},
{"name":"prorated_aggregations/sum_service_spec: grouped, current usage in advance with a cached row","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2023-05-01T00:00:00Z","to":"2023-05-31T23:59:59Z","charges_duration_days":31},"grouped_by":["agent_name"],"context":"current_usage","charge_pay_in_advance":true,"events":[{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5,"agent_name":"aragorn"}},{"timestamp":"2023-03-01T00:00:00Z","properties":{"total_count":2.5,"agent_name":"aragorn"}},{"timestamp":"2023-05-28T23:59:59Z","properties":{"total_count":4,"agent_name":"aragorn"}}],"cached_aggregation":{"timestamp":"2023-05-28T23:59:59Z","current_aggregation":"4","max_aggregation":"6","max_aggregation_with_proration":"3.8","grouped_by":{"agent_name":"aragorn"}}},"expected":{"groups":[{"grouped_by":{"agent_name":"aragorn"},"aggregation":"8.8","current_usage_units":"9"}]}},
{"name":"aggregations/sum_service_spec: when free_units_per_events is nil","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":false,"rounding_function":null,"rounding_precision":null},"window":{"from":"2024-05-01T00:00:00Z","to":"2024-06-01T00:00:00Z"},"events":[{"timestamp":"2024-03-01T00:00:00Z","properties":{"total_count":"2.5"}},{"timestamp":"2024-03-01T00:00:00Z","properties":{"total_count":"2.5"}},{"timestamp":"2024-05-31T00:00:00Z","properties":{"total_count":"12"}},{"timestamp":"2024-05-31T00:00:00Z","properties":{"total_count":"12"}},{"timestamp":"2024-05-31T00:00:00Z","properties":{"total_count":"12"}},{"timestamp":"2024-05-31T00:00:00Z","properties":{"total_count":"12"}}],"options":{"free_units_per_events":null,"free_units_per_total_aggregation":30}},"expected":{"running_total":["12","24","36"]}},
{"name":"aggregations/sum_service_spec: with non persisted event","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":false,"rounding_function":null,"rounding_precision":null},"window":{"from":"2024-05-01T00:00:00Z","to":"2024-06-01T00:00:00Z"},"events":[{"timestamp":"2024-03-01T00:00:00Z","properties":{"total_count":"2.5"}},{"timestamp":"2024-03-01T00:00:00Z","properties":{"total_count":"2.5"}},{"timestamp":"2024-05-31T00:00:00Z","properties":{"total_count":"12"}},{"timestamp":"2024-05-31T00:00:00Z","properties":{"total_count":"12"}}],"options":{"free_units_per_events":4,"free_units_per_total_aggregation":30,"is_pay_in_advance":true},"pay_in_advance_event":{"timestamp":"2024-05-31T12:00:00Z","properties":{"total_count":10},"persisted":false}},"expected":{"running_total":["12","24","34"]}},
{"name":"aggregations/sum_service_spec: event given, above the period maximum","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":false,"rounding_function":null,"rounding_precision":null},"window":{"from":"2024-05-01T00:00:00Z","to":"2024-06-01T00:00:00Z"},"events":[{"timestamp":"2024-05-29T00:00:00Z","properties":{"total_count":-6}}],"pay_in_advance_event":{"timestamp":"2024-05-30T00:00:00Z","properties":{"total_count":10}},"cached_aggregation":{"timestamp":"2024-05-29T00:00:00Z","current_aggregation":"4","max_aggregation":"10"}},"expected":{"pay_in_advance_aggregation":"4"}},
{"name":"aggregations/sum_service_spec: event given with a precise_total_amount_cents","input":{"metric":{"aggregation_type":"sum_agg","field_name":"total_count","recurring":false,"rounding_function":null,"rounding_precision":null},"window":{"from":"2024-05-01T00:00:00Z","to":"2024-06-01T00:00:00Z"},"events":[],"pay_in_advance_event":{"timestamp":"2024-05-30T00:00:00Z","properties":{"total_count":10},"precise_total_amount_cents":"1234.02"},"charge_model":"dynamic"},"expected":{"pay_in_advance_aggregation":"10","precise_total_amount_cents":"1234.02","pay_in_advance_precise_total_amount_cents":"1234.02"}},
{"name":"aggregations/unique_count_service_spec: current usage in advance","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z"},"context":"current_usage","charge_pay_in_advance":true,"events":[{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"p"},"transaction_id":"tp"},{"timestamp":"2022-07-14T00:00:00Z","properties":{"unique_id":"000"},"transaction_id":"t0"}],"cached_aggregation":{"timestamp":"2022-07-14T00:00:00Z","current_aggregation":"1","max_aggregation":"3","event_transaction_id":"t0"}},"expected":{"aggregation":"4"}},
{"name":"aggregations/unique_count_service_spec: event given, above the period maximum","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z"},"events":[{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"p"},"transaction_id":"tp"},{"timestamp":"2022-07-14T00:00:00Z","properties":{"unique_id":"001"},"transaction_id":"t1"}],"pay_in_advance_event":{"timestamp":"2022-07-19T00:00:00Z","properties":{"unique_id":"003"}},"cached_aggregation":{"timestamp":"2022-07-14T00:00:00Z","current_aggregation":"2","max_aggregation":"2","event_transaction_id":"t1"}},"expected":{"pay_in_advance_aggregation":"1"}},
{"name":"aggregations/unique_count_service_spec: grouped, current usage in advance","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z"},"grouped_by":["agent_name"],"context":"current_usage","charge_pay_in_advance":true,"events":[{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"aaragorn","agent_name":"aragorn"}},{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"afrodo","agent_name":"frodo"}},{"timestamp":"2022-07-14T00:00:00Z","properties":{"unique_id":"caragorn","agent_name":"aragorn"},"transaction_id":"caragorn"},{"timestamp":"2022-07-14T00:00:00Z","properties":{"unique_id":"cfrodo","agent_name":"frodo"},"transaction_id":"cfrodo"}],"cached_aggregations":[{"timestamp":"2022-07-14T00:00:00Z","current_aggregation":"1","max_aggregation":"3","grouped_by":{"agent_name":"aragorn"},"event_transaction_id":"caragorn"},{"timestamp":"2022-07-14T00:00:00Z","current_aggregation":"1","max_aggregation":"3","grouped_by":{"agent_name":"frodo"},"event_transaction_id":"cfrodo"}]},"expected":{"groups":[{"grouped_by":{"agent_name":"aragorn"},"aggregation":"4","count":2},{"grouped_by":{"agent_name":"frodo"},"aggregation":"4","count":2}]}},
{"name":"aggregations/unique_count_service_spec: presentation keys with grouped_by","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z"},"grouped_by":["agent_name"],"presentation_by":["cloud"],"events":[{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"001","agent_name":"frodo","cloud":"aws"}},{"timestamp":"2022-07-19T00:00:00Z","properties":{"unique_id":"002","agent_name":"frodo","cloud":"gcp"}},{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"003","agent_name":"aragorn","cloud":"aws"}},{"timestamp":"2022-07-19T00:00:00Z","properties":{"unique_id":"002","cloud":"gcp"}}]},"expected":{"breakdowns":[{"groups":{"agent_name":"frodo","cloud":"aws"},"value":"1"},{"groups":{"agent_name":"frodo","cloud":"gcp"},"value":"1"},{"groups":{"agent_name":"aragorn","cloud":"aws"},"value":"1"},{"groups":{"agent_name":null,"cloud":"gcp"},"value":"1"}]}},
{"name":"aggregations/weighted_sum_service_spec: when using presentation_by","input":{"metric":{"aggregation_type":"weighted_sum_agg","field_name":"value","recurring":false,"rounding_function":null,"rounding_precision":null},"window":{"from":"2023-08-01T00:00:00.000Z","to":"2023-08-31T23:59:59.999Z","charges_duration_days":31},"presentation_by":["region"],"events":[{"timestamp":"2023-08-01T00:00:00Z","properties":{"value":2,"region":"eu"}},{"timestamp":"2023-08-01T01:00:00Z","properties":{"value":3,"region":"us"}},{"timestamp":"2023-08-01T02:00:00Z","properties":{"value":-1,"region":"eu"}}]},"expected":{"breakdowns":[{"groups":{"region":"eu"},"value_round5":"1.00269"},{"groups":{"region":"us"},"value_round5":"2.99597"}]}},
{"name":"aggregations/weighted_sum_service_spec: previous subscription events with presentation_by","input":{"metric":{"aggregation_type":"weighted_sum_agg","field_name":"value","recurring":true,"rounding_function":null,"rounding_precision":null},"window":{"from":"2023-08-01T00:00:00.000Z","to":"2023-08-31T23:59:59.999Z","charges_duration_days":31},"presentation_by":["region"],"subscription_has_previous_subscription":true,"events":[{"timestamp":"2023-03-01T22:22:22Z","properties":{"value":10}},{"timestamp":"2023-08-01T00:00:00Z","properties":{"value":2,"region":"eu"}},{"timestamp":"2023-08-01T01:00:00Z","properties":{"value":3,"region":"eu"}}]},"expected":{"breakdowns":[{"groups":{"region":"eu"},"value_round5":"4.99597"},{"groups":{"region":null},"value_round5":"10"}]}},
{"name":"aggregations/weighted_sum_service_spec: grouped recurring, cached presentation breakdowns","input":{"metric":{"aggregation_type":"weighted_sum_agg","field_name":"value","recurring":true,"rounding_function":null,"rounding_precision":null},"window":{"from":"2023-08-01T00:00:00.000Z","to":"2023-08-31T23:59:59.999Z","charges_duration_days":31},"grouped_by":["agent_name"],"presentation_by":["region"],"events":[{"timestamp":"2023-08-01T00:00:00Z","properties":{"value":2,"agent_name":"aragorn","region":"eu"}},{"timestamp":"2023-08-01T01:00:00Z","properties":{"value":3,"agent_name":"frodo","region":"us"}}],"cached_aggregations":[{"grouped_by":{"agent_name":"aragorn"},"timestamp":"2023-07-31T00:00:00Z","current_aggregation":"1000","presentation_breakdowns":[]},{"grouped_by":{"agent_name":"frodo"},"timestamp":"2023-07-31T00:00:00Z","current_aggregation":"1000","presentation_breakdowns":[{"groups":{"agent_name":"frodo","region":"us"},"value":"100.0"}]}]},"expected":{"breakdowns":[{"groups":{"agent_name":"aragorn","region":"eu"},"value_round5":"2"},{"groups":{"agent_name":"frodo","region":"us"},"value_round5":"102.99597"}]}},
{"name":"aggregations/weighted_sum_service_spec: grouped recurring, previous subscription events","input":{"metric":{"aggregation_type":"weighted_sum_agg","field_name":"value","recurring":true,"rounding_function":null,"rounding_precision":null},"window":{"from":"2023-08-01T00:00:00.000Z","to":"2023-08-31T23:59:59.999Z","charges_duration_days":31},"grouped_by":["agent_name"],"subscription_has_previous_subscription":true,"events":[{"timestamp":"2023-03-01T22:22:22Z","properties":{"value":10,"agent_name":"aragorn","region":"eu"}},{"timestamp":"2023-03-01T22:22:22Z","properties":{"value":10,"agent_name":"frodo","region":"us"}}]},"expected":{"groups":[{"grouped_by":{"agent_name":"aragorn"},"aggregation":"10","count":0,"variation":"0","total_aggregated_units":"10","recurring_updated_at":"2023-08-01T00:00:00Z"},{"grouped_by":{"agent_name":"frodo"},"aggregation":"10","count":0,"variation":"0","total_aggregated_units":"10","recurring_updated_at":"2023-08-01T00:00:00Z"}]}},
{"name":"prorated_aggregations/unique_count_service_spec: added and removed the same day multiple times","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z","charges_duration_days":31},"events":[{"timestamp":"2022-07-09T01:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-09T02:00:00Z","properties":{"unique_id":"u","operation_type":"remove"}},{"timestamp":"2022-07-09T03:00:00Z","properties":{"unique_id":"u","operation_type":"add"}},{"timestamp":"2022-07-09T04:00:00Z","properties":{"unique_id":"u","operation_type":"remove"}}]},"expected":{"aggregation":"0.03226"}},
{"name":"prorated_aggregations/unique_count_service_spec: added and removed several times a day during multiple days","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z","charges_duration_days":31},"context":"current_usage","events":[{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-10T00:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-10T01:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-10T02:00:00Z","properties":{"unique_id":"u","operation_type":"remove"}},{"timestamp":"2022-07-10T03:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-12T01:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-12T02:00:00Z","properties":{"unique_id":"u","operation_type":"remove"}}]},"expected":{"aggregation":"0.12904","current_usage_units":"0"}},
{"name":"prorated_aggregations/unique_count_service_spec: current usage in advance","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z","charges_duration_days":31},"context":"current_usage","charge_pay_in_advance":true,"events":[{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-14T00:00:00Z","properties":{"unique_id":"000"},"transaction_id":"t0"}],"cached_aggregation":{"timestamp":"2022-07-14T00:00:00Z","current_aggregation":"1","max_aggregation":"1","max_aggregation_with_proration":"0.8","event_transaction_id":"t0"}},"expected":{"aggregation":"1.8","current_usage_units":"2"}},
{"name":"prorated_aggregations/unique_count_service_spec: event given, below the period maximum","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z","charges_duration_days":31},"events":[{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-14T00:00:00Z","properties":{"unique_id":"000"},"transaction_id":"t0"}],"pay_in_advance_event":{"timestamp":"2022-07-19T00:00:00Z","properties":{"unique_id":"new"}},"cached_aggregation":{"timestamp":"2022-07-14T00:00:00Z","current_aggregation":"4","max_aggregation":"7","max_aggregation_with_proration":"5.8","event_transaction_id":"t0"}},"expected":{"pay_in_advance_aggregation":"0","units_applied":"1"}},
{"name":"prorated_aggregations/unique_count_service_spec: grouped, added and removed the same day","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z","charges_duration_days":31},"grouped_by":["agent_name"],"events":[{"timestamp":"2022-07-10T00:00:00Z","properties":{"unique_id":"000","agent_name":"aragorn"}},{"timestamp":"2022-07-10T00:00:00Z","properties":{"unique_id":"000","agent_name":"frodo"}},{"timestamp":"2022-07-10T23:59:59.999999Z","properties":{"unique_id":"000","agent_name":"aragorn","operation_type":"remove"}},{"timestamp":"2022-07-10T23:59:59.999999Z","properties":{"unique_id":"000","agent_name":"frodo","operation_type":"remove"}}]},"expected":{"groups":[{"grouped_by":{"agent_name":"aragorn"},"aggregation":"0.03226"},{"grouped_by":{"agent_name":"frodo"},"aggregation":"0.03226"}]}},
{"name":"prorated_aggregations/unique_count_service_spec: .per_event_aggregation, multiple events per day","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z","charges_duration_days":31},"grouped_by_values":{"scheme":"visa"},"events":[{"timestamp":"2022-07-19T00:00:00Z","properties":{"unique_id":"property_1"}},{"timestamp":"2022-07-19T00:00:00Z","properties":{"unique_id":"rnd","scheme":"visa"}},{"timestamp":"2022-07-29T00:00:00Z","properties":{"unique_id":"111"}},{"timestamp":"2022-07-19T00:00:00Z","properties":{"unique_id":"property_1","scheme":"visa"}},{"timestamp":"2022-07-19T00:00:00Z","properties":{"unique_id":"property_1","scheme":"visa"}},{"timestamp":"2022-07-19T01:00:00Z","properties":{"unique_id":"property_1","scheme":"visa","operation_type":"remove"}},{"timestamp":"2022-07-19T02:00:00Z","properties":{"unique_id":"property_1","scheme":"visa","operation_type":"remove"}},{"timestamp":"2022-07-19T03:00:00Z","properties":{"unique_id":"property_1","scheme":"visa","operation_type":"add"}},{"timestamp":"2022-07-20T00:00:00Z","properties":{"unique_id":"property_1","scheme":"visa","operation_type":"add"}},{"timestamp":"2022-07-20T01:00:00Z","properties":{"unique_id":"property_1","scheme":"visa","operation_type":"remove"}},{"timestamp":"2022-07-20T02:00:00Z","properties":{"unique_id":"property_1","scheme":"visa","operation_type":"add"}}]},"expected":{"event_aggregation":["1","1"],"event_prorated_aggregation":["0.67742","0.67742"]}},
{"name":"prorated_aggregations/unique_count_service_spec: .per_event_aggregation, removed in the period","input":{"metric":{"aggregation_type":"unique_count_agg","field_name":"unique_id","recurring":true,"rounding_function":null,"rounding_precision":null},"charge_prorated":true,"window":{"from":"2022-07-09T00:00:00Z","to":"2022-08-08T23:59:59Z","charges_duration_days":31},"events":[{"timestamp":"2022-06-09T00:00:00Z","properties":{"unique_id":"u"}},{"timestamp":"2022-07-24T23:59:59Z","properties":{"unique_id":"u","operation_type":"remove"}}]},"expected":{"event_aggregation":["1","-1"],"event_prorated_aggregation":["0.51613","0"]}}
]"#;

#[test]
fn more_lago_spec_contexts_pass() {
    let cases: Vec<Value> = serde_json::from_str(LAGO_SPEC_CONTEXTS).expect("contexts JSON");
    let failed: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let name = case["name"].as_str().unwrap_or("?");
            let outcome = match aggregate_json(&case["input"]) {
                Ok(actual) => first_difference(&case["expected"], &actual, "", true),
                Err(error) => Some(format!("error {error}")),
            };
            outcome.map(|difference| format!("{name}: {difference}"))
        })
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
#[ignore = "scale smoke test: cargo test --release -- --ignored"]
fn a_large_grouped_window_aggregates_in_one_pass_per_read() {
    let events: Vec<Value> = (0..200_000)
        .map(|i| {
            let ts = format!("2024-05-{:02}T{:02}:{:02}:00Z", 1 + i % 30, i % 24, i % 60);
            ev(&ts, json!({"v": format!("{}", i % 7), "agent": format!("a{}", i % 5_000), "id": format!("u{}", i % 9_000)}))
        })
        .collect();
    for (kind, field) in [
        ("sum_agg", "v"),
        ("unique_count_agg", "id"),
        ("weighted_sum_agg", "v"),
        ("max_agg", "v"),
    ] {
        let started = std::time::Instant::now();
        let out = run(json!({
            "metric": metric(kind, Some(field), false),
            "window": window(),
            "grouped_by": ["agent"],
            "options": {"free_units_per_events": 3},
            "events": events,
        }));
        println!(
            "{kind}: {} groups in {:?}",
            out["groups"].as_array().unwrap().len(),
            started.elapsed()
        );
    }
    for prorated_kind in [("sum_agg", "v"), ("unique_count_agg", "id")] {
        let started = std::time::Instant::now();
        let mut m = metric(prorated_kind.0, Some(prorated_kind.1), true);
        m["recurring"] = json!(true);
        let out = run(
            json!({"metric": m, "charge_prorated": true, "window": window(), "grouped_by": ["agent"], "events": events}),
        );
        println!(
            "prorated {}: {} groups in {:?}",
            prorated_kind.0,
            out["groups"].as_array().unwrap().len(),
            started.elapsed()
        );
    }
}
