//! IANA time zones from a compact table: the engine's `Tz`, a drop-in for `chrono_tz::Tz`.
//!
//! The table (`tzdata.bin`: 159,250 bytes, 22,624 gzipped; chrono-tz's tables put about 860,000
//! bytes, 140,000 gzipped, into the `.wasm`) is generated from chrono-tz by
//! `cargo run --example gen_tzdata` (format in that file); `tests/tz.rs` checks that every name
//! chrono-tz accepts parses here and gives the same UTC offsets and the same local → UTC results
//! (`Single`/`Ambiguous`/`None`). Only total UTC offsets are kept (no abbreviations).
//!
//! A zone's transitions are decoded on first use and kept for the life of the module; the name
//! index is built on the first lookup. The decoder never panics: data it cannot read gives UTC.

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use chrono::{
    FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};

static DATA: &[u8] = include_bytes!("tzdata.bin");

/// An IANA time zone (any name chrono-tz 0.10 accepts, links included, case-sensitive).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tz(u16);

/// The error for a name that is not a known IANA zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseError;

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failed to parse timezone")
    }
}

impl std::error::Error for ParseError {}

impl Tz {
    /// Coordinated Universal Time (the first name of the table, no transitions).
    pub const UTC: Tz = Tz(0);

    /// The IANA name this zone was parsed from (`""` only if the table were unreadable).
    pub fn name(self) -> &'static str {
        index()
            .names
            .get(usize::from(self.0))
            .map_or("", |entry| entry.name)
    }

    /// Every zone of the table, in name order after `UTC`.
    pub fn all() -> impl Iterator<Item = Tz> {
        (0..index().names.len()).filter_map(|i| u16::try_from(i).ok().map(Tz))
    }

    /// The UNIX instants (seconds) at which this zone's UTC offset changes, in order (for tests).
    pub fn transitions(self) -> impl Iterator<Item = i64> {
        self.table().rest.iter().map(|&(at, _)| at)
    }

    fn table(self) -> &'static Table {
        static EMPTY: Table = Table {
            first: 0,
            rest: Vec::new(),
        };
        let index = index();
        let Some(entry) = index.names.get(usize::from(self.0)) else {
            return &EMPTY;
        };
        match (
            index.tables.get(entry.table),
            index.decoded.get(entry.table),
        ) {
            (Some(&(start, end)), Some(cell)) => {
                cell.get_or_init(|| decode_table(DATA.get(start..end).unwrap_or(&[])))
            }
            _ => &EMPTY,
        }
    }

    /// Total UTC offset (seconds) at the UNIX instant `at`.
    fn offset_at(self, at: i64) -> i32 {
        if self == Tz::UTC {
            return 0;
        }
        let table = self.table();
        let after = table.rest.partition_point(|&(t, _)| t <= at);
        match after.checked_sub(1).and_then(|i| table.rest.get(i)) {
            Some(&(_, offset)) => offset,
            None => table.first,
        }
    }
}

impl Default for Tz {
    fn default() -> Self {
        Tz::UTC
    }
}

impl fmt::Debug for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Tz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Tz {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let names = &index().names;
        if names.first().is_some_and(|entry| entry.name == s) {
            return Ok(Tz::UTC);
        }
        let rest = names.get(1..).unwrap_or(&[]);
        let found = rest
            .binary_search_by(|entry| entry.name.cmp(s))
            .map_err(|_| ParseError)?;
        u16::try_from(found + 1).map(Tz).map_err(|_| ParseError)
    }
}

/// The offset of a [`Tz`] at some instant.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TzOffset {
    tz: Tz,
    fixed: FixedOffset,
}

impl TzOffset {
    fn new(tz: Tz, seconds: i32) -> Self {
        TzOffset {
            tz,
            fixed: FixedOffset::east_opt(seconds).unwrap_or_else(|| Utc.fix()),
        }
    }
}

impl Offset for TzOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl TimeZone for Tz {
    type Offset = TzOffset;

    fn from_offset(offset: &Self::Offset) -> Self {
        offset.tz
    }

    /// As chrono-tz: the offset at local midnight, else at 23:59:59, an ambiguous one taken early.
    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<Self::Offset> {
        use chrono::LocalResult::{Ambiguous, None, Single};
        let earliest = self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN));
        let late = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
        let latest = self.offset_from_local_datetime(&local.and_time(late));
        match (earliest, latest) {
            (result @ Single(_), _) | (_, result @ Single(_)) => result,
            (Ambiguous(offset, _), _) | (_, Ambiguous(offset, _)) => Single(offset),
            (None, None) => None,
        }
    }

    /// chrono-tz's algorithm: a binary search over the local-time spans, then a look at both
    /// neighbours for an overlap.
    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<Self::Offset> {
        let at = local.and_utc().timestamp();
        if *self == Tz::UTC {
            return MappedLocalTime::Single(TzOffset::new(*self, 0));
        }
        let table = self.table();
        let spans = table.rest.len() + 1;
        let contains = |i: usize| table.local_span(i).cmp(at) == std::cmp::Ordering::Equal;
        let single = |i: usize| MappedLocalTime::Single(TzOffset::new(*self, table.offset(i)));
        let pair = |a: usize, b: usize| {
            MappedLocalTime::Ambiguous(
                TzOffset::new(*self, table.offset(a)),
                TzOffset::new(*self, table.offset(b)),
            )
        };
        let (mut start, mut end) = (0usize, spans);
        let found = loop {
            let mid = start + (end - start) / 2;
            if mid == end {
                break None;
            }
            match table.local_span(mid).cmp(at) {
                std::cmp::Ordering::Less => start = mid + 1,
                std::cmp::Ordering::Greater => end = mid,
                std::cmp::Ordering::Equal => break Some(mid),
            }
        };
        match found {
            None => MappedLocalTime::None,
            Some(0) if spans == 1 => single(0),
            Some(0) if contains(1) => pair(0, 1),
            Some(0) => single(0),
            Some(i) if contains(i - 1) => pair(i - 1, i),
            Some(i) if i == spans - 1 => single(i),
            Some(i) if contains(i + 1) => pair(i, i + 1),
            Some(i) => single(i),
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> Self::Offset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> Self::Offset {
        TzOffset::new(*self, self.offset_at(utc.and_utc().timestamp()))
    }
}

/// One zone's spans: the offset before the first transition, then (UNIX instant, offset from
/// then on), instants increasing.
struct Table {
    first: i32,
    rest: Vec<(i64, i32)>,
}

impl Table {
    /// The offset of span `i` (span 0 is before the first transition).
    fn offset(&self, i: usize) -> i32 {
        match i.checked_sub(1) {
            None => self.first,
            Some(j) => self.rest.get(j).map_or(self.first, |&(_, offset)| offset),
        }
    }

    /// Span `i` in local time: from its start instant plus its own offset to the next start plus
    /// its own offset (chrono-tz's `local_span`).
    fn local_span(&self, i: usize) -> Span {
        let own = i64::from(self.offset(i));
        let begin = i
            .checked_sub(1)
            .and_then(|j| self.rest.get(j))
            .map(|&(t, _)| t.saturating_add(own));
        let end = self.rest.get(i).map(|&(t, _)| t.saturating_add(own));
        Span { begin, end }
    }
}

/// `[begin, end)` in local seconds, open where `None`.
struct Span {
    begin: Option<i64>,
    end: Option<i64>,
}

impl Span {
    /// chrono-tz's `Span::cmp`: `Less` if the span is wholly before `x`, `Equal` if it holds it.
    fn cmp(&self, x: i64) -> std::cmp::Ordering {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match (self.begin, self.end) {
            (Some(a), Some(b)) if a <= x && x < b => Equal,
            (Some(a), Some(b)) if a <= x && b <= x => Less,
            (Some(_), Some(_)) => Greater,
            (Some(a), None) if a <= x => Equal,
            (Some(_), None) => Greater,
            (None, Some(b)) if b <= x => Less,
            (None, Some(_)) | (None, None) => Equal,
        }
    }
}

struct NameEntry {
    name: &'static str,
    table: usize,
}

struct Index {
    names: Vec<NameEntry>,
    /// Byte range of each table in `DATA`.
    tables: Vec<(usize, usize)>,
    decoded: Vec<OnceLock<Table>>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        read_index(DATA).unwrap_or_else(|| Index {
            names: vec![NameEntry {
                name: "UTC",
                table: 0,
            }],
            tables: Vec::new(),
            decoded: Vec::new(),
        })
    })
}

/// A cursor over the table bytes; every read is checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b < 0x80 {
                return Some(value);
            }
        }
        None
    }

    fn signed(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some(unzigzag(v))
    }

    fn size(&mut self) -> Option<usize> {
        usize::try_from(self.varint()?).ok()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }
}

fn unzigzag(v: u64) -> i64 {
    // (v >> 1) fits in i64; the sign comes from the low bit.
    let half = i64::try_from(v >> 1).unwrap_or(i64::MAX);
    if v & 1 == 0 {
        half
    } else {
        -half - 1
    }
}

fn read_index(data: &'static [u8]) -> Option<Index> {
    let mut r = Reader { bytes: data, at: 0 };
    if r.take(4)? != b"TZD2" {
        return None;
    }
    let name_count = r.size()?;
    let table_count = r.size()?;
    let mut names = Vec::with_capacity(name_count.min(4096));
    for _ in 0..name_count {
        let len = usize::from(r.byte()?);
        let name = std::str::from_utf8(r.take(len)?).ok()?;
        let table = r.size()?;
        if table >= table_count {
            return None;
        }
        names.push(NameEntry { name, table });
    }
    let mut tables = Vec::with_capacity(table_count.min(4096));
    for _ in 0..table_count {
        let len = r.size()?;
        let start = r.at;
        r.take(len)?;
        tables.push((start, r.at));
    }
    let decoded = (0..tables.len()).map(|_| OnceLock::new()).collect();
    Some(Index {
        names,
        tables,
        decoded,
    })
}

fn decode_table(bytes: &[u8]) -> Table {
    read_table(bytes).unwrap_or(Table {
        first: 0,
        rest: Vec::new(),
    })
}

fn read_table(bytes: &[u8]) -> Option<Table> {
    let mut r = Reader { bytes, at: 0 };
    let offset_count = r.size()?;
    let mut offsets = Vec::with_capacity(offset_count.min(256));
    for _ in 0..offset_count {
        offsets.push(i32::try_from(r.signed()?).ok()?);
    }
    let first = *offsets.first()?;
    let count = r.size()?;
    let mut rest = Vec::with_capacity(count.min(bytes.len()));
    let mut at = 0i64;
    for _ in 0..count {
        let code = r.varint()?;
        let delta = if code & 1 == 0 {
            unzigzag(code >> 1).checked_mul(900)?
        } else {
            unzigzag(code >> 1)
        };
        at = at.checked_add(delta)?;
        let offset = *offsets.get(usize::from(r.byte()?))?;
        rest.push((at, offset));
    }
    Some(Table { first, rest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_is_first_and_has_no_transitions() {
        assert_eq!(Tz::UTC.name(), "UTC");
        assert_eq!("UTC".parse::<Tz>(), Ok(Tz::UTC));
        assert!(Tz::UTC.table().rest.is_empty());
        assert_eq!(Tz::UTC.table().first, 0);
    }

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for tz in Tz::all() {
            assert_eq!(tz.name().parse::<Tz>(), Ok(tz));
        }
        assert!("america/new_york".parse::<Tz>().is_err());
        assert!("".parse::<Tz>().is_err());
        assert_eq!(
            "America/New_York".parse::<Tz>().map(Tz::name),
            Ok("America/New_York")
        );
    }

    #[test]
    fn garbage_tables_do_not_panic() {
        for bytes in [
            &[][..],
            &[0xff; 12][..],
            &[2, 1, 0, 5, 0x81][..],
            &[1, 0, 1, 0, 9][..],
        ] {
            let _ = decode_table(bytes);
        }
        let table = decode_table(&[1, 0, 1, 0, 9]);
        assert!(table.rest.is_empty());
    }
}
