//! Arbitrary method, path, query and body into the REST emulator: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usage_calc::fuzzing;

fuzz_target!(|data: &[u8]| {
    fuzzing::with_shared_organisation(|engine| fuzzing::api_request(engine, data));
});
