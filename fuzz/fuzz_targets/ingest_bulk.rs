//! Arbitrary text into bulk ingestion (NDJSON, JSON array, CSV), then a current usage: no input
//! may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use usage_calc::engine::Engine;
use usage_calc::fuzzing;

thread_local! {
    // One organisation across inputs (stored events accumulate), rebuilt now and then.
    static ENGINE: RefCell<(Engine, u32)> = RefCell::new((fuzzing::organisation(), 0));
}

fuzz_target!(|data: &[u8]| {
    ENGINE.with(|cell| {
        let mut state = cell.borrow_mut();
        state.1 += 1;
        if state.1 % 10_000 == 0 {
            state.0 = fuzzing::organisation();
        }
        fuzzing::ingest_text(&mut state.0, data);
    });
});
