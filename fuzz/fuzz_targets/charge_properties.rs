//! Arbitrary JSON into every rating entry point that parses charge properties: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| usage_calc::fuzzing::charge_properties(data));
