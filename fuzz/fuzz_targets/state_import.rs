//! Arbitrary text as a saved state (`Engine.import`, the shim's `STATE_FILE`): no input may
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use usage_calc::fuzzing;

fuzz_target!(|data: &[u8]| fuzzing::import_state(data));
