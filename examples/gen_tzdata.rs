//! Generates `src/period/tzdata.bin`, the compact time-zone table behind `usage_calc::period::tz`.
//!
//!     cargo run --example gen_tzdata --locked
//!
//! Input: chrono-tz (a dev-dependency only; the pinned version in `Cargo.toml`). Its transition
//! tables are not public API, so they are read from its prebuilt source
//! (`src/prebuilt/timezones.rs`, located with `cargo metadata`); every name it accepts comes from
//! `chrono_tz::TZ_VARIANTS`. The equivalence test (`tests/tz.rs`) then checks the result against
//! chrono-tz itself.
//!
//! Only the total UTC offset of each span is kept (abbreviations and the standard/DST split are
//! not used by the engine), and a transition that does not change the total offset is dropped.
//! Format (varint = unsigned LEB128, zigzag for signed values):
//!
//! ```text
//! "TZD2"
//! varint name_count, varint table_count
//! name_count × { u8 len, len bytes (UTF-8), varint table }   // "UTC" first, then sorted
//! table_count × { varint byte_len, then byte_len bytes:
//!     varint offset_count, offset_count × zigzag seconds       // offset 0 = before the first transition
//!     varint transition_count,
//!     transition_count × { varint time, u8 offset }            // time: zigzag delta from the
//! }                                                            // previous instant (0 for the first),
//!                                                              // ×2 in quarter hours, or ×2+1 in seconds
//! ```

use std::collections::{BTreeMap, HashMap};
use std::process::Command;

/// One zone: the offset before the first transition, then (instant, offset after).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct Spans {
    first: i64,
    rest: Vec<(i64, i64)>,
}

fn prebuilt_source() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .output()
        .expect("run cargo metadata");
    assert!(out.status.success(), "cargo metadata failed");
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let manifest = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "chrono-tz")
        .and_then(|p| p["manifest_path"].as_str())
        .expect("chrono-tz in the dependency graph")
        .to_string();
    let dir = std::path::Path::new(&manifest).parent().expect("crate dir");
    std::fs::read_to_string(dir.join("src/prebuilt/timezones.rs")).expect("read timezones.rs")
}

/// The integer after `key` in `line` (e.g. `utc_offset: -18000,`).
fn field(line: &str, key: &str) -> Option<i64> {
    let at = line.find(key)? + key.len();
    let digits: String = line[at..]
        .trim_start()
        .chars()
        .take_while(|c| *c == '-' || c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

fn parse(source: &str) -> (HashMap<String, String>, HashMap<String, Spans>) {
    // Variant identifier -> IANA name, from `pub fn name(self)`.
    let mut names = HashMap::new();
    let name_fn = source.find("pub fn name(self)").expect("fn name");
    for line in source[name_fn..].lines().skip(2) {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("Tz::") else {
            break;
        };
        let (ident, name) = rest.split_once(" => \"").expect("name arm");
        names.insert(ident.to_string(), name.trim_end_matches("\",").to_string());
    }
    // Variant identifier -> spans, from `impl TimeSpans for Tz`.
    let mut spans = HashMap::new();
    let impl_at = source
        .find("impl TimeSpans for Tz")
        .expect("impl TimeSpans");
    let mut current: Option<(String, Vec<(i64, i64)>)> = None;
    let (mut utc, mut dst) = (None, None);
    for line in source[impl_at..].lines() {
        let line = line.trim();
        if let Some(ident) = line
            .strip_prefix("Tz::")
            .and_then(|r| r.strip_suffix(" => {"))
        {
            current = Some((ident.to_string(), Vec::new()));
            (utc, dst) = (None, None);
        } else if line.starts_with('(') && line.contains("FixedTimespan {") {
            let at: i64 = line[1..line.find(',').expect("comma")]
                .parse()
                .expect("instant");
            let total = field(line, "utc_offset:").expect("utc_offset")
                + field(line, "dst_offset:").expect("dst_offset");
            current.as_mut().expect("in an arm").1.push((at, total));
        } else if line.starts_with("utc_offset:") {
            utc = field(line, "utc_offset:");
        } else if line.starts_with("dst_offset:") {
            dst = field(line, "dst_offset:");
        } else if line == "rest: REST" {
            let (ident, rest) = current.take().expect("in an arm");
            let first = utc.expect("first utc") + dst.expect("first dst");
            spans.insert(ident, Spans { first, rest });
        }
    }
    (names, spans)
}

/// Drops transitions that keep the total offset.
fn compact(spans: &Spans) -> Spans {
    let mut rest = Vec::new();
    let mut last = spans.first;
    let mut prev_at = i64::MIN;
    for &(at, offset) in &spans.rest {
        assert!(at > prev_at, "transitions in order");
        prev_at = at;
        if offset != last {
            rest.push((at, offset));
            last = offset;
        }
    }
    Spans {
        first: spans.first,
        rest,
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn encode(spans: &Spans) -> Vec<u8> {
    let mut offsets = vec![spans.first];
    for &(_, o) in &spans.rest {
        if !offsets.contains(&o) {
            offsets.push(o);
        }
    }
    assert!(offsets.len() <= 256);
    let mut out = Vec::new();
    varint(&mut out, offsets.len() as u64);
    for &o in &offsets {
        varint(&mut out, zigzag(o));
    }
    varint(&mut out, spans.rest.len() as u64);
    let mut prev = 0i64;
    for &(at, o) in &spans.rest {
        let delta = at - prev;
        prev = at;
        if delta % 900 == 0 {
            varint(&mut out, zigzag(delta / 900) << 1);
        } else {
            varint(&mut out, (zigzag(delta) << 1) | 1);
        }
        out.push(offsets.iter().position(|&x| x == o).expect("listed") as u8);
    }
    out
}

fn main() {
    let source = prebuilt_source();
    let (idents, spans) = parse(&source);
    // Every name chrono-tz accepts, with its spans.
    let by_name: BTreeMap<String, Spans> = idents
        .iter()
        .map(|(ident, name)| (name.clone(), compact(&spans[ident])))
        .collect();
    for tz in chrono_tz::TZ_VARIANTS.iter() {
        assert!(by_name.contains_key(tz.name()), "{} parsed", tz.name());
        assert!(
            tz.name().parse::<chrono_tz::Tz>().is_ok(),
            "{} parses",
            tz.name()
        );
    }
    assert_eq!(by_name.len(), chrono_tz::TZ_VARIANTS.len());
    let utc = by_name.get("UTC").expect("UTC");
    assert!(
        utc.first == 0 && utc.rest.is_empty(),
        "UTC has no transitions"
    );

    let mut order: Vec<&String> = vec![by_name.keys().find(|n| *n == "UTC").expect("UTC")];
    order.extend(by_name.keys().filter(|n| *n != "UTC"));

    let mut tables: Vec<Vec<u8>> = Vec::new();
    let mut table_of: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut out = b"TZD2".to_vec();
    let mut names_part = Vec::new();
    for name in &order {
        let bytes = encode(&by_name[*name]);
        let next = tables.len();
        let index = *table_of.entry(bytes.clone()).or_insert(next);
        if index == next {
            tables.push(bytes);
        }
        assert!(name.len() < 256);
        names_part.push(name.len() as u8);
        names_part.extend_from_slice(name.as_bytes());
        varint(&mut names_part, index as u64);
    }
    varint(&mut out, order.len() as u64);
    varint(&mut out, tables.len() as u64);
    out.extend_from_slice(&names_part);
    for table in &tables {
        varint(&mut out, table.len() as u64);
        out.extend_from_slice(table);
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/period/tzdata.bin");
    std::fs::write(&path, &out).expect("write tzdata.bin");
    println!(
        "{} names, {} tables, {} transitions kept, {} bytes -> {}",
        order.len(),
        tables.len(),
        by_name.values().map(|s| s.rest.len()).sum::<usize>(),
        out.len(),
        path.display()
    );
}
