//! Arbitrary method, path, query and body into the REST emulator: no input may panic, and the
//! organisation must survive the shim's snapshot (export, import: the same state and answers).
#![no_main]

use libfuzzer_sys::fuzz_target;
use usage_calc::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::with_shared_organisation(|engine| {
        fuzzing::api_request(engine, data);
        // One input in 16: an export and an import cost more than a request.
        if data.len() % 16 == 0 {
            assert!(fuzzing::survives_snapshot(engine), "export -> import changed the state");
        }
    });
});
