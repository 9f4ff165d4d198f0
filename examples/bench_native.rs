//! The native side of `tests/bench/run.mjs`: the same workload as the WASM benchmark, through the
//! crate's own API, built with the release profile the `.wasm` uses (opt-level 3, LTO).
//!
//!     cargo build --release --example bench_native --locked
//!     target/release/examples/bench_native <events.ndjson> <setup.json> <repetitions> <chunk_bytes>
//!
//! `setup.json` is `{now, metrics: [...], plan, customer, subscription, query}` (Lago bodies). Per
//! repetition: a fresh engine, the NDJSON ingested in chunks of about `chunk_bytes` bytes cut at
//! line ends (one `ingest_bulk_with_duplicates` each, skipping repeated keys, as the JS side
//! does), then the first current usage, then warm current usage. Prints one JSON object with the
//! timings in milliseconds.

// Timings are floats; no money is computed here.
#![allow(clippy::float_arithmetic)]

use serde_json::{json, Value};
use std::time::Instant;
use usage_calc::engine::{Duplicates, Engine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: bench_native <events.ndjson> <setup.json> <repetitions> <chunk_bytes>");
        std::process::exit(2);
    }
    let text = std::fs::read_to_string(&args[1]).expect("read the NDJSON file");
    let setup: Value =
        serde_json::from_str(&std::fs::read_to_string(&args[2]).expect("read setup.json"))
            .expect("setup.json is JSON");
    let repetitions: usize = args[3].parse().expect("repetitions");
    let chunk_bytes: usize = args[4].parse().expect("chunk_bytes");
    let now = chrono::DateTime::parse_from_rfc3339(setup["now"].as_str().expect("now"))
        .expect("now is RFC 3339")
        .with_timezone(&chrono::Utc);

    let mut ingest_ms = Vec::new();
    let mut first_usage_ms = Vec::new();
    let mut warm_usage_ms = Vec::new();
    let mut stored = 0;
    let mut amount_cents = Value::Null;
    let mut charges = serde_json::Map::new();
    for _ in 0..repetitions {
        let mut engine = Engine::new();
        for metric in setup["metrics"].as_array().expect("metrics") {
            engine.upsert_metric(metric).expect("metric");
        }
        engine.upsert_plan(&setup["plan"]).expect("plan");
        engine
            .upsert_customer(&setup["customer"])
            .expect("customer");
        engine
            .upsert_subscription(&setup["subscription"], now)
            .expect("subscription");

        let start = Instant::now();
        stored = 0;
        for chunk in chunks(&text, chunk_bytes) {
            stored += ingest_chunk(&mut engine, chunk, now);
        }
        ingest_ms.push(start.elapsed().as_secs_f64() * 1e3);

        let start = Instant::now();
        let usage = engine
            .current_usage(&setup["query"])
            .expect("current usage");
        first_usage_ms.push(start.elapsed().as_secs_f64() * 1e3);
        amount_cents = usage["customer_usage"]["amount_cents"].clone();
        charges.clear();
        for charge in usage["customer_usage"]["charges_usage"]
            .as_array()
            .expect("charges_usage")
        {
            charges.insert(
                charge["charge"]["code"].as_str().unwrap_or("").to_string(),
                charge["amount_cents"].clone(),
            );
        }

        // Warm queries: at least 5, and at least 200 ms in all.
        let start = Instant::now();
        let mut rounds = 0u32;
        while rounds < 5 || start.elapsed().as_millis() < 200 {
            engine
                .current_usage(&setup["query"])
                .expect("current usage");
            rounds += 1;
        }
        warm_usage_ms.push(start.elapsed().as_secs_f64() * 1e3 / f64::from(rounds));
    }
    println!(
        "{}",
        json!({
            "events_stored": stored,
            "ingest_ms": ingest_ms,
            "first_usage_ms": first_usage_ms,
            "warm_usage_ms": warm_usage_ms,
            "amount_cents": amount_cents,
            "charges": charges,
        })
    );
}

/// The text cut at line ends into pieces of about `bytes` bytes.
fn chunks(text: &str, bytes: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + bytes).min(text.len());
        if end < text.len() {
            end = text[end..].find('\n').map_or(text.len(), |at| end + at + 1);
        }
        out.push(&text[start..end]);
        start = end;
    }
    out
}

/// Ingests one chunk, skipping repeated keys. Returns the events stored. Never inlined: a
/// profiler counts the ingestion by this function's name (`--toggle-collect='*ingest_chunk*'`),
/// whatever the optimiser inlines into it.
#[inline(never)]
fn ingest_chunk(engine: &mut Engine, chunk: &str, now: chrono::DateTime<chrono::Utc>) -> usize {
    match engine.ingest_bulk_with_duplicates(chunk, now, Duplicates::Skip) {
        Ok(count) => count,
        Err(error) => panic!("ingest_bulk: {error}"),
    }
}
