//! Arbitrary text into bulk ingestion (NDJSON, JSON array, CSV), then a current usage: no input
//! may panic. The hand-written reader of the usual line must read every text as serde does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usage_calc::fuzzing;

fuzz_target!(|data: &[u8]| {
    assert!(fuzzing::readers_agree(data), "the fast reader and serde disagree");
    fuzzing::with_shared_organisation(|engine| fuzzing::ingest_text(engine, data));
});
