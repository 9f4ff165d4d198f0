//! Arbitrary text into bulk ingestion (NDJSON, JSON array, CSV), then a current usage: no input
//! may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usage_calc::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::with_shared_organisation(|engine| fuzzing::ingest_text(engine, data));
});
