//! The fuzz targets' committed inputs (seeds, and any crash found, kept as a regression) run
//! through the same entry points as `cargo fuzz`: none may panic.

use std::path::Path;
use usage_calc::fuzzing;

fn inputs(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seeds in {}", dir.display());
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn api_handle_seeds_do_not_panic_and_survive_the_snapshot() {
    let mut engine = fuzzing::organisation();
    for input in inputs("api_handle") {
        fuzzing::api_request(&mut engine, &input);
        assert!(fuzzing::survives_snapshot(&mut engine));
    }
}

#[test]
fn charge_properties_seeds_do_not_panic() {
    for input in inputs("charge_properties") {
        fuzzing::charge_properties(&input);
    }
}

#[test]
fn ingest_bulk_seeds_do_not_panic() {
    let mut engine = fuzzing::organisation();
    for input in inputs("ingest_bulk") {
        fuzzing::ingest_text(&mut engine, &input);
    }
}

#[test]
fn ingest_bulk_seeds_read_alike_by_both_readers() {
    for input in inputs("ingest_bulk") {
        assert!(
            fuzzing::readers_agree(&input),
            "{}",
            String::from_utf8_lossy(&input)
        );
    }
}

#[test]
fn state_import_seeds_do_not_panic() {
    for input in inputs("state_import") {
        fuzzing::import_state(&input);
    }
}
