//! The engine's compact time-zone table (`usage_calc::period::tz::Tz`) against chrono-tz, the
//! crate it is generated from (`cargo run --example gen_tzdata`): every name, the UTC offset at
//! every transition ±1 s and on a grid from 1800 to 2200 plus far-out instants, and local → UTC
//! (`Single`/`Ambiguous`/`None`) for wall times around every transition and at grid midnights.

use chrono::{DateTime, LocalResult, NaiveDateTime, Offset, TimeZone};
use usage_calc::period::tz::Tz;

fn naive(at: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(at, 0).map(|d| d.naive_utc())
}

fn ours_utc(tz: Tz, at: &NaiveDateTime) -> i32 {
    tz.offset_from_utc_datetime(at).fix().local_minus_utc()
}

fn theirs_utc(tz: chrono_tz::Tz, at: &NaiveDateTime) -> i32 {
    tz.offset_from_utc_datetime(at).fix().local_minus_utc()
}

type Local = LocalResult<(i64, i32)>;

fn ours_local(tz: Tz, at: &NaiveDateTime) -> Local {
    tz.from_local_datetime(at)
        .map(|d| (d.timestamp(), d.offset().fix().local_minus_utc()))
}

fn theirs_local(tz: chrono_tz::Tz, at: &NaiveDateTime) -> Local {
    tz.from_local_datetime(at)
        .map(|d| (d.timestamp(), d.offset().fix().local_minus_utc()))
}

/// A small fixed-seed generator (xorshift64*), for jitter.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn every_chrono_tz_name_parses_to_the_same_name() {
    for theirs in chrono_tz::TZ_VARIANTS.iter() {
        let ours: Tz = theirs.name().parse().expect("known here");
        assert_eq!(ours.name(), theirs.name());
        assert_eq!(format!("{ours:?}"), format!("{theirs:?}"));
    }
    assert_eq!(Tz::all().count(), chrono_tz::TZ_VARIANTS.len());
    for bad in [
        "",
        "utc",
        "Europe/paris",
        "Europe/Paris ",
        "Mars/Olympus",
        "GMT+1",
    ] {
        assert_eq!(
            bad.parse::<Tz>().is_ok(),
            bad.parse::<chrono_tz::Tz>().is_ok(),
            "{bad:?}"
        );
    }
}

#[test]
fn utc_offsets_match_chrono_tz() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (from, to) = (-5_364_662_400i64, 7_258_118_400i64); // 1800 .. 2200
    let mut far = vec![
        NaiveDateTime::MIN,
        NaiveDateTime::MAX,
        naive(-62_135_596_800).expect("year 1"),
        naive(32_503_680_000).expect("year 3000"),
    ];
    far.extend(
        [-1_000_000_000_000i64, 1_000_000_000_000]
            .iter()
            .filter_map(|&t| naive(t)),
    );
    for theirs in chrono_tz::TZ_VARIANTS.iter() {
        let ours: Tz = theirs.name().parse().expect("known");
        let mut instants: Vec<i64> = ours.transitions().flat_map(|t| [t - 1, t, t + 1]).collect();
        let mut at = from;
        while at < to {
            instants.push(at + (rng.next() % 86_400) as i64);
            at += 45 * 86_400;
        }
        for at in instants
            .iter()
            .filter_map(|&t| naive(t))
            .chain(far.iter().copied())
        {
            assert_eq!(
                ours_utc(ours, &at),
                theirs_utc(*theirs, &at),
                "{} at {at}",
                theirs.name()
            );
        }
    }
}

#[test]
fn local_times_match_chrono_tz() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let deltas = [
        -7200i64, -3601, -3600, -1801, -1800, -60, -1, 0, 1, 60, 1799, 1800, 3599, 3600, 7200,
    ];
    for theirs in chrono_tz::TZ_VARIANTS.iter() {
        let ours: Tz = theirs.name().parse().expect("known");
        let mut walls: Vec<i64> = Vec::new();
        for t in ours.transitions() {
            for side in [t - 1, t] {
                let offset = naive(side).map_or(0, |at| i64::from(theirs_utc(*theirs, &at)));
                walls.extend(deltas.iter().map(|d| t + offset + d));
            }
        }
        // Local midnights and random wall times, 1850 .. 2100.
        let mut day = -3_786_825_600i64;
        while day < 4_102_444_800 {
            walls.push(day);
            walls.push(day + (rng.next() % 86_400) as i64);
            day += 61 * 86_400;
        }
        for at in walls.iter().filter_map(|&t| naive(t)) {
            assert_eq!(
                ours_local(ours, &at),
                theirs_local(*theirs, &at),
                "{} at local {at}",
                theirs.name()
            );
        }
    }
}
