//! Property tests of the pricing laws (STYLE rule 10), against the crate's public API.
//!
//! Every law comes from `/work/shared/spec/lago-charge-models.md`: §3 standard, §4 graduated,
//! §5 graduated_percentage, §6 package, §7 percentage, §9 rounding, §12 grouping, §14 volume.
//! Properties are built the way Lago's API takes them: amounts as JSON strings, range bounds as
//! JSON numbers, `package_size`/`free_units` as JSON integers. Decimals are generated from
//! integers with a scale, so every value is exact.
//!
//! Volume is deliberately NOT tested for monotonicity: all units move to the cheaper tier at a
//! boundary, so the amount can drop (e.g. `0–10 @2, 11–∞ @1`: 10 units = 20, 11 units = 11).
//! Its law here is "amount = units × matched tier price + matched tier flat" instead.

use proptest::prelude::*;
use proptest::sample::select;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Map, Value};
use usage_calc::charge_models::grouped::{self, Group};
use usage_calc::charge_models::package::Package;
use usage_calc::charge_models::{
    self, Aggregation, AmountDetails, ChargeModel, Context, Priced, ValidationContext,
};
use usage_calc::error::Error;
use usage_calc::fees::{self, AppliedPricingUnit};
use usage_calc::money::{round_half_up, to_cents, Currency};

// ---------------------------------------------------------------------------------------------
// Configuration and small helpers
// ---------------------------------------------------------------------------------------------

/// Cases per property test. 256 keeps the whole file well under the time budget in debug mode.
const CASES: u32 = 256;

/// No regression files: this suite must not write next to the sources.
fn config() -> ProptestConfig {
    let mut config = ProptestConfig::with_cases(CASES);
    config.failure_persistence = None;
    config
}

fn dec(mantissa: i64, scale: u32) -> Decimal {
    Decimal::new(mantissa, scale)
}

/// A JSON number holding exactly the decimal's text (serde_json's `arbitrary_precision`).
fn json_number(value: Decimal) -> Value {
    serde_json::from_str(&value.normalize().to_string()).expect("a decimal is a JSON number")
}

/// A Lago amount: a JSON string.
fn json_amount(value: Decimal) -> Value {
    Value::String(value.to_string())
}

fn object(entries: Vec<(&str, Value)>) -> Map<String, Value> {
    entries
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

/// Parses a model, after checking Lago's validator accepts the properties (so the generators
/// only produce well-formed input).
fn valid_model(name: &str, props: &Map<String, Value>) -> ChargeModel {
    let ctx = ValidationContext {
        premium: true,
        aggregation_type: Some("sum_agg".to_string()),
    };
    let errors = charge_models::validate(name, props, &ctx);
    assert!(
        errors.is_empty(),
        "generator produced invalid {name} properties {props:?}: {errors:?}"
    );
    ChargeModel::parse(name, props).unwrap_or_else(|e| panic!("{name} {props:?}: {e}"))
}

fn price(model: &ChargeModel, aggregation: &Aggregation) -> Priced {
    model
        .apply(aggregation, &Context::default())
        .unwrap_or_else(|e| panic!("{} on {aggregation:?}: {e}", model.name()))
}

fn amount_of(model: &ChargeModel, units: Decimal) -> Decimal {
    price(model, &Aggregation::of_units(units)).amount
}

// ---------------------------------------------------------------------------------------------
// Tiers
// ---------------------------------------------------------------------------------------------

/// One tier as the test sees it, independent of the crate's `Range`.
#[derive(Debug, Clone, PartialEq)]
struct Tier {
    from: Decimal,
    /// `None` = ∞ (last tier only).
    to: Option<Decimal>,
    /// `per_unit_amount`, or `rate` in percent for graduated_percentage.
    price: Decimal,
    flat: Decimal,
}

/// The two tier conventions of §4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Integer tiers `0–a, a+1–b, b+1–∞`.
    PlusOne,
    /// Decimal tiers `0–x, x–y, y–∞`.
    Adjacent,
}

fn tiers_json(tiers: &[Tier], price_key: &str) -> Value {
    Value::Array(
        tiers
            .iter()
            .map(|tier| {
                Value::Object(object(vec![
                    ("from_value", json_number(tier.from)),
                    ("to_value", tier.to.map_or(Value::Null, json_number)),
                    (price_key, json_amount(tier.price)),
                    ("flat_amount", json_amount(tier.flat)),
                ]))
            })
            .collect(),
    )
}

fn graduated(tiers: &[Tier]) -> ChargeModel {
    let props = object(vec![(
        "graduated_ranges",
        tiers_json(tiers, "per_unit_amount"),
    )]);
    valid_model("graduated", &props)
}

fn graduated_percentage(tiers: &[Tier]) -> ChargeModel {
    let props = object(vec![(
        "graduated_percentage_ranges",
        tiers_json(tiers, "rate"),
    )]);
    valid_model("graduated_percentage", &props)
}

fn volume(tiers: &[Tier]) -> ChargeModel {
    let props = object(vec![(
        "volume_ranges",
        tiers_json(tiers, "per_unit_amount"),
    )]);
    valid_model("volume", &props)
}

/// A per-unit price or flat fee: up to 10⁶ with 0–4 decimals.
fn money() -> impl Strategy<Value = Decimal> {
    (0i64..1_000_000, 0u32..5).prop_map(|(m, s)| dec(m, s))
}

/// Non-negative units: up to 10⁷ with 0–3 decimals.
fn units() -> impl Strategy<Value = Decimal> {
    (0i64..10_000_000, 0u32..4).prop_map(|(m, s)| dec(m, s))
}

/// Builds tiers from widths: each tier starts at the previous `to` (+1 for `PlusOne`).
fn build_tiers(layout: Layout, specs: Vec<(Decimal, Decimal, Decimal)>) -> Vec<Tier> {
    let last = specs.len() - 1;
    let mut from = Decimal::ZERO;
    let mut tiers = Vec::with_capacity(specs.len());
    for (index, (width, price, flat)) in specs.into_iter().enumerate() {
        let to = (index < last).then(|| from + width);
        tiers.push(Tier {
            from,
            to,
            price,
            flat,
        });
        if let Some(to) = to {
            from = match layout {
                Layout::PlusOne => to + Decimal::ONE,
                Layout::Adjacent => to,
            };
        }
    }
    tiers
}

/// `0–a, a+1–b, b+1–∞`, 1 to 5 tiers, integer widths ≥ 1.
fn plus_one_tiers() -> impl Strategy<Value = Vec<Tier>> {
    let width = (1i64..2_000).prop_map(Decimal::from);
    prop::collection::vec((width, money(), money()), 1..=5)
        .prop_map(|specs| build_tiers(Layout::PlusOne, specs))
}

/// `0–x, x–y, y–∞`, 1 to 5 tiers, decimal widths > 0.
fn adjacent_tiers() -> impl Strategy<Value = Vec<Tier>> {
    let width = (1i64..200_000, 0u32..4).prop_map(|(m, s)| dec(m, s));
    prop::collection::vec((width, money(), money()), 1..=5)
        .prop_map(|specs| build_tiers(Layout::Adjacent, specs))
}

fn any_tiers() -> impl Strategy<Value = (Layout, Vec<Tier>)> {
    prop_oneof![
        plus_one_tiers().prop_map(|tiers| (Layout::PlusOne, tiers)),
        adjacent_tiers().prop_map(|tiers| (Layout::Adjacent, tiers)),
    ]
}

/// Units anywhere, or close to one of the tiers' bounds (where the laws are most fragile).
fn units_for(tiers: &[Tier]) -> BoxedStrategy<Decimal> {
    let bounds: Vec<Decimal> = tiers
        .iter()
        .flat_map(|tier| [Some(tier.from), tier.to])
        .flatten()
        .collect();
    let offsets = vec![
        dec(-1, 0),
        dec(-5, 1),
        dec(-1, 3),
        Decimal::ZERO,
        dec(1, 3),
        dec(5, 1),
        dec(1, 0),
    ];
    prop_oneof![
        2 => units(),
        3 => (select(bounds), select(offsets)).prop_map(|(b, o)| (b + o).max(Decimal::ZERO)),
    ]
    .boxed()
}

/// A non-negative step: none, small, or large.
fn delta() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::ZERO),
        (1i64..1_000, 0u32..4).prop_map(|(m, s)| dec(m, s)),
        units(),
    ]
}

/// A tier list with a units value suited to it and a non-negative step.
fn tiered_case() -> impl Strategy<Value = (Layout, Vec<Tier>, Decimal, Decimal)> {
    any_tiers().prop_flat_map(|(layout, tiers)| {
        let units = units_for(&tiers);
        (Just(layout), Just(tiers), units, delta())
    })
}

fn plus_one_case() -> impl Strategy<Value = (Vec<Tier>, Decimal)> {
    plus_one_tiers().prop_flat_map(|tiers| {
        let units = units_for(&tiers);
        (Just(tiers), units)
    })
}

// ---------------------------------------------------------------------------------------------
// Independent reference implementations (written from the spec, not from `src/`)
// ---------------------------------------------------------------------------------------------

/// §4, literally: walk the tiers in order; `effective = to` once units reach it; a tier holds
/// `effective` (from 0), `effective − from` (adjacent model) or `effective − from + 1`; its flat
/// fee is due whenever it is visited; stop after the tier whose `to` is ∞ or ≥ units.
fn reference_graduated(tiers: &[Tier], units: Decimal) -> Decimal {
    let adjacent = tiers.len() >= 2 && tiers.windows(2).all(|w| w[0].to == Some(w[1].from));
    let mut total = Decimal::ZERO;
    for tier in tiers {
        let effective = match tier.to {
            Some(to) if units >= to => to,
            _ => units,
        };
        let tier_units = if tier.from.is_zero() {
            effective
        } else if adjacent {
            effective - tier.from
        } else {
            effective - tier.from + Decimal::ONE
        };
        total += tier_units * tier.price + tier.flat;
        if tier.to.is_none_or(|to| to >= units) {
            break;
        }
    }
    total
}

/// The same amount by capacity, valid for well-formed layouts only: with `lower` the previous
/// tier's `to` (0 for the first), a tier holds `clamp(units − lower, 0, to − lower)` units and
/// is entered (its flat fee due) when it is the first or `units > lower`.
fn capacity_graduated(tiers: &[Tier], units: Decimal) -> Decimal {
    let mut total = Decimal::ZERO;
    let mut lower = Decimal::ZERO;
    for (index, tier) in tiers.iter().enumerate() {
        if index > 0 && units <= lower {
            break;
        }
        let capacity = tier.to.map(|to| to - lower);
        let mut held = (units - lower).max(Decimal::ZERO);
        if let Some(capacity) = capacity {
            held = held.min(capacity);
        }
        total += held * tier.price + tier.flat;
        lower = tier.to.unwrap_or(lower);
    }
    total
}

/// §14: the first tier (sorted by `from`) with `from ≤ ceil(n)` and `n ≤ to`.
fn reference_volume_tier(tiers: &[Tier], n: Decimal) -> &Tier {
    let mut sorted: Vec<&Tier> = tiers.iter().collect();
    sorted.sort_by_key(|tier| tier.from);
    sorted
        .into_iter()
        .find(|tier| tier.from <= n.ceil() && tier.to.is_none_or(|to| n <= to))
        .expect("well-formed volume tiers cover every non-negative n")
}

/// §9: `amount.round(exponent)` half away from zero, × `subunit_to_unit`.
fn reference_cents(amount: Decimal, currency: Currency) -> Decimal {
    amount.round_dp_with_strategy(currency.exponent, RoundingStrategy::MidpointAwayFromZero)
        * Decimal::from(currency.subunit_to_unit)
}

fn graduated_details(priced: &Priced) -> &[charge_models::graduated::RangeDetail] {
    match &priced.amount_details {
        AmountDetails::Graduated(details) => details,
        other => panic!("graduated returned {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Non-tiered models
// ---------------------------------------------------------------------------------------------

fn standard(amount: Decimal) -> ChargeModel {
    valid_model("standard", &object(vec![("amount", json_amount(amount))]))
}

fn package(amount: Decimal, package_size: i64, free_units: i64) -> ChargeModel {
    valid_model(
        "package",
        &object(vec![
            ("amount", json_amount(amount)),
            ("package_size", Value::from(package_size)),
            ("free_units", Value::from(free_units)),
        ]),
    )
}

/// Percentage with a rate and a fixed fee per event, no free units, no min/max.
fn percentage(rate: Decimal, fixed_amount: Decimal) -> ChargeModel {
    valid_model(
        "percentage",
        &object(vec![
            ("rate", json_amount(rate)),
            ("fixed_amount", json_amount(fixed_amount)),
        ]),
    )
}

/// Any model with well-formed properties, for the grouping law.
fn any_model() -> impl Strategy<Value = ChargeModel> {
    prop_oneof![
        money().prop_map(standard),
        (money(), 1i64..100, 0i64..50).prop_map(|(a, size, free)| package(a, size, free)),
        any_tiers().prop_map(|(_, tiers)| graduated(&tiers)),
        any_tiers().prop_map(|(_, tiers)| graduated_percentage(&tiers)),
        plus_one_tiers().prop_map(|tiers| volume(&tiers)),
        (money(), money()).prop_map(|(rate, fixed)| percentage(rate, fixed)),
    ]
}

fn currency() -> impl Strategy<Value = Currency> {
    select(
        ["EUR", "USD", "JPY", "BHD", "KWD", "CLF"]
            .iter()
            .map(|code| Currency::from_code(code).expect("known currency"))
            .collect::<Vec<_>>(),
    )
}

// ---------------------------------------------------------------------------------------------
// Laws 1–7 and 9 (proptest)
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    // Law 1: monotone non-decreasing in units (non-negative units, non-negative prices).

    #[test]
    fn standard_is_monotone_in_units(amount in money(), low in units(), step in delta()) {
        let model = standard(amount);
        prop_assert!(amount_of(&model, low) <= amount_of(&model, low + step));
    }

    #[test]
    fn package_is_monotone_in_units(
        amount in money(),
        package_size in 1i64..100,
        free_units in 0i64..50,
        low in prop_oneof![units(), (0i64..500).prop_map(Decimal::from)],
        step in delta(),
    ) {
        let model = package(amount, package_size, free_units);
        prop_assert!(amount_of(&model, low) <= amount_of(&model, low + step));
    }

    #[test]
    fn graduated_is_monotone_in_units((layout, tiers, low, step) in tiered_case()) {
        let model = graduated(&tiers);
        let (a, b) = (amount_of(&model, low), amount_of(&model, low + step));
        prop_assert!(a <= b, "{layout:?}: {low} units = {a} > {} units = {b}", low + step);
    }

    #[test]
    fn graduated_percentage_is_monotone_in_units((layout, tiers, low, step) in tiered_case()) {
        let model = graduated_percentage(&tiers);
        let (a, b) = (amount_of(&model, low), amount_of(&model, low + step));
        prop_assert!(a <= b, "{layout:?}: {low} units = {a} > {} units = {b}", low + step);
    }

    #[test]
    fn percentage_without_free_units_or_min_max_is_monotone_in_units(
        rate in money(),
        fixed_amount in money(),
        events_count in 0u64..20,
        low in units(),
        step in delta(),
    ) {
        let model = percentage(rate, fixed_amount);
        let at = |units| {
            let aggregation = Aggregation { events_count, ..Aggregation::of_units(units) };
            price(&model, &aggregation).amount
        };
        prop_assert!(at(low) <= at(low + step));
    }

    #[test]
    fn volume_prices_every_unit_at_the_matched_tier((tiers, units) in plus_one_case()) {
        let tier = reference_volume_tier(&tiers, units);
        let priced = price(&volume(&tiers), &Aggregation::of_units(units));
        prop_assert_eq!(priced.amount, units * tier.price + tier.flat, "matched {:?}", tier);
    }

    // Law 2: the amount is the sum of its tiers; the tiers' units add up to the units.

    #[test]
    fn graduated_amount_is_the_sum_of_its_amount_details((layout, tiers, low, step) in tiered_case()) {
        let units = low + step;
        let priced = price(&graduated(&tiers), &Aggregation::of_units(units));
        let details = graduated_details(&priced);
        prop_assert!(!details.is_empty() && details.len() <= tiers.len());
        let total: Decimal = details.iter().map(|d| d.total_with_flat_amount).sum();
        prop_assert_eq!(priced.amount, total);
        // The spec's telescoping makes this hold for fractional units in the "+1" layout too:
        // a tier from a+1 holds min(units, to) − a.
        let tier_units: Decimal = details.iter().map(|d| d.units).sum();
        prop_assert_eq!(tier_units, units, "{:?} layout", layout);
        for detail in details {
            prop_assert!(detail.units >= Decimal::ZERO, "negative tier units in {detail:?}");
        }
    }

    // Law 3: graduated = Σ independently computed per-tier prices.

    #[test]
    fn graduated_equals_the_sum_of_independent_per_tier_prices(
        (layout, tiers, low, step) in tiered_case()
    ) {
        let units = low + step;
        let amount = amount_of(&graduated(&tiers), units);
        prop_assert_eq!(amount, reference_graduated(&tiers, units), "§4 walk, {:?}", layout);
        prop_assert_eq!(amount, capacity_graduated(&tiers, units), "by capacity, {:?}", layout);
    }

    // Law 4: grouped = Σ groups, and fee cents are rounded per group.

    #[test]
    fn grouped_is_the_sum_of_its_groups_rounded_per_group(
        model in any_model(),
        group_specs in prop::collection::vec((units(), 0u64..5), 1..8),
        currency in currency(),
    ) {
        let groups: Vec<Group> = group_specs
            .iter()
            .enumerate()
            .map(|(index, &(units, events_count))| Group {
                grouped_by: object(vec![("region", Value::from(format!("r{index}")))]),
                aggregation: Aggregation { events_count, ..Aggregation::of_units(units) },
            })
            .collect();
        let ctx = Context::default();
        let together = grouped::apply(&model, &groups, &ctx).expect("grouped prices");
        prop_assert_eq!(together.len(), groups.len());
        let mut amount_total = Decimal::ZERO;
        let mut cents_total = Decimal::ZERO;
        let mut reference_cents_total = Decimal::ZERO;
        for (group, priced) in groups.iter().zip(&together) {
            let alone = price(&model, &group.aggregation);
            prop_assert_eq!(priced, &alone);
            amount_total += alone.amount;
            let units = group.aggregation.units;
            let fee = fees::build(priced.clone(), &group.aggregation, units, currency, None)
                .expect("fee builds");
            prop_assert_eq!(fee.amount_cents, reference_cents(alone.amount, currency));
            prop_assert!(fee.amount_cents.fract().is_zero(), "whole subunits: {fee:?}");
            cents_total += fee.amount_cents;
            reference_cents_total += reference_cents(alone.amount, currency);
        }
        let summed: Decimal = together.iter().map(|p| p.amount).sum();
        prop_assert_eq!(summed, amount_total);
        prop_assert_eq!(cents_total, reference_cents_total);
        // Rounding per group moves each fee by at most half a subunit (and the total by half).
        let rounded_once = to_cents(amount_total, currency).expect("cents");
        let slack = Decimal::from(groups.len() + 1) / Decimal::TWO;
        prop_assert!((cents_total - rounded_once).abs() <= slack);
    }

    // Law 5: zero units.

    #[test]
    fn tiered_models_charge_only_the_first_tier_flat_fee_at_zero_units(
        (_, tiers) in any_tiers(),
        volume_tiers in plus_one_tiers(),
    ) {
        let zero = Aggregation::of_units(Decimal::ZERO);
        prop_assert_eq!(price(&graduated(&tiers), &zero).amount, tiers[0].flat);
        prop_assert_eq!(price(&graduated_percentage(&tiers), &zero).amount, tiers[0].flat);
        prop_assert_eq!(price(&volume(&volume_tiers), &zero).amount, volume_tiers[0].flat);
        // §8: the "before" side of a pay-in-advance event owes no flat fee yet.
        let before = Context { exclude_event: true, ..Context::default() };
        for model in [graduated(&tiers), graduated_percentage(&tiers)] {
            prop_assert_eq!(model.apply(&zero, &before).expect("prices").amount, Decimal::ZERO);
        }
    }

    #[test]
    fn untiered_models_charge_nothing_at_zero_units(
        amount in money(),
        package_size in 1i64..100,
        free_units in 0i64..50,
        rate in money(),
        fixed_amount in money(),
        events_count in 0u64..20,
    ) {
        let zero = Aggregation { events_count, ..Aggregation::of_units(Decimal::ZERO) };
        for model in [
            standard(amount),
            package(amount, package_size, free_units),
            percentage(rate, fixed_amount),
        ] {
            prop_assert_eq!(price(&model, &zero).amount, Decimal::ZERO, "{}", model.name());
        }
    }

    // Law 6: rounding.

    #[test]
    fn rounding_half_up_is_idempotent(mantissa in any::<i64>(), scale in 0u32..=18, places in 0u32..=8) {
        let once = round_half_up(dec(mantissa, scale), places);
        prop_assert_eq!(round_half_up(once, places), once);
        prop_assert!(once.scale() <= places);
    }

    #[test]
    fn to_cents_keeps_an_amount_already_whole_in_cents(
        cents in -1_000_000_000_000i64..1_000_000_000_000,
        currency in currency(),
    ) {
        let amount = Decimal::from(cents) / currency.subunit();
        prop_assert_eq!(to_cents(amount, currency).expect("cents"), Decimal::from(cents));
    }

    #[test]
    fn half_up_rounds_every_half_away_from_zero(k in 0i64..1_000_000_000_000) {
        let half = dec(5, 1);
        prop_assert_eq!(round_half_up(Decimal::from(k) + half, 0), Decimal::from(k + 1));
        prop_assert_eq!(round_half_up(-(Decimal::from(k) + half), 0), -Decimal::from(k + 1));
    }

    #[test]
    fn half_up_differs_from_bankers_rounding_exactly_at_even_midpoints(
        mantissa in any::<i64>(),
        scale in 0u32..=12,
        places in 0u32..=6,
    ) {
        let x = dec(mantissa, scale);
        let half_up = round_half_up(x, places);
        let bankers = x.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven);
        let shifted = x * Decimal::from(10i64.pow(places));
        let midpoint = shifted.fract().abs() == dec(5, 1);
        let even_below = (shifted.trunc() % Decimal::TWO).is_zero();
        prop_assert_eq!(half_up != bankers, midpoint && even_below, "x = {}, places = {}", x, places);
    }

    // Law 7: the package count covers the paid units, and no more than one package over.

    #[test]
    fn package_count_covers_the_paid_units(
        package_size in 1i64..10_000,
        paid_mantissa in 1i64..1_000_000_000,
        paid_scale in 0u32..4,
    ) {
        let paid = dec(paid_mantissa, paid_scale);
        let props = object(vec![
            ("amount", json_amount(Decimal::ONE)),
            ("package_size", Value::from(package_size)),
            ("free_units", Value::from(0)),
        ]);
        let ChargeModel::Package(model) = valid_model("package", &props) else {
            panic!("package parses to ChargeModel::Package");
        };
        let model: Package = model;
        let size = Decimal::from(package_size);
        let packages = model.packages(paid).expect("packages");
        prop_assert!(packages.fract().is_zero());
        prop_assert!(packages * size >= paid, "{packages} × {size} < {paid}");
        prop_assert!((packages - Decimal::ONE) * size < paid, "one package too many for {paid}");
        prop_assert_eq!(model.packages(-paid).expect("packages"), Decimal::ZERO);
        prop_assert_eq!(model.packages(Decimal::ZERO).expect("packages"), Decimal::ZERO);
    }
}

// ---------------------------------------------------------------------------------------------
// Law 8: exhaustive small domain (STYLE rule 10)
// ---------------------------------------------------------------------------------------------

/// Every 3-tier integer layout Lago's validator accepts with bounds in 0..=10 — first tier from
/// 0 or 1, each next tier from the previous `to` or `to + 1`, `to > from` — which includes every
/// "+1" layout `0–a, a+1–b, b+1–∞`, the adjacent ones and the mixed ones (§ Surprises 1) — and
/// every whole units value 0..=30: graduated equals the §4 reference. Tier prices differ by
/// powers of ten so any unit or flat fee put in the wrong tier changes the amount.
#[test]
fn graduated_matches_the_reference_on_every_small_three_tier_layout() {
    let prices = [dec(1, 0), dec(100, 0), dec(10_000, 0)];
    let flats = [dec(5, 1), dec(5, 2), dec(5, 3)];
    let tier = |index: usize, from: i64, to: Option<i64>| Tier {
        from: Decimal::from(from),
        to: to.map(Decimal::from),
        price: prices[index],
        flat: flats[index],
    };
    let mut layouts = 0;
    let mut plus_one_layouts = 0;
    for from1 in 0..=1 {
        for to1 in from1 + 1..=10 {
            for from2 in [to1, to1 + 1] {
                for to2 in from2 + 1..=10 {
                    for from3 in [to2, to2 + 1] {
                        if from3 > 10 {
                            continue;
                        }
                        let tiers = [
                            tier(0, from1, Some(to1)),
                            tier(1, from2, Some(to2)),
                            tier(2, from3, None),
                        ];
                        let model = graduated(&tiers);
                        for units in 0..=30 {
                            let units = Decimal::from(units);
                            assert_eq!(
                                amount_of(&model, units),
                                reference_graduated(&tiers, units),
                                "{units} units over {tiers:?}"
                            );
                        }
                        layouts += 1;
                        if from1 == 0 && from2 == to1 + 1 && from3 == to2 + 1 {
                            plus_one_layouts += 1;
                        }
                    }
                }
            }
        }
    }
    // 0–a, a+1–b, b+1–∞ with 1 ≤ a, a+2 ≤ b ≤ 9: Σ_{a=1}^{7} (8 − a) = 28.
    assert_eq!(plus_one_layouts, 28);
    assert!(layouts > plus_one_layouts);
}

// ---------------------------------------------------------------------------------------------
// Law 9: arithmetic never panics
// ---------------------------------------------------------------------------------------------

const E20: i128 = 100_000_000_000_000_000_000;

/// Any decimal of magnitude ≤ 10²⁰, from whole numbers to 28 decimals.
fn huge() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        (-E20..=E20, 0u32..=28).prop_map(|(m, s)| Decimal::from_i128_with_scale(m, s)),
        (-E20..=E20).prop_map(|m| Decimal::from_i128_with_scale(m, 0)),
        select(vec![E20, -E20, 1, -1, 0]).prop_map(|m| Decimal::from_i128_with_scale(m, 0)),
    ]
}

/// Any non-negative decimal ≤ 10²⁰.
fn huge_positive() -> impl Strategy<Value = Decimal> {
    huge().prop_map(|d| d.abs())
}

/// Tier lists with widths up to 10¹⁹ and prices up to 10²⁰ (`+1` integer bounds).
fn huge_tiers() -> impl Strategy<Value = Vec<Tier>> {
    let width = (1i128..=E20 / 10).prop_map(|m| Decimal::from_i128_with_scale(m, 0));
    prop::collection::vec((width, huge_positive(), huge_positive()), 1..=5)
        .prop_map(|specs| build_tiers(Layout::PlusOne, specs))
}

/// `(model name, properties)`, unvalidated.
fn huge_props() -> impl Strategy<Value = (&'static str, Map<String, Value>)> {
    let optional = || prop::option::of(huge_positive());
    prop_oneof![
        huge_positive().prop_map(|a| ("standard", object(vec![("amount", json_amount(a))]))),
        (huge_positive(), huge_positive(), huge_positive()).prop_map(|(a, size, free)| {
            let size = size.max(Decimal::ONE).trunc();
            let props = object(vec![
                ("amount", json_amount(a)),
                ("package_size", json_number(size)),
                ("free_units", json_number(free.trunc())),
            ]);
            ("package", props)
        }),
        huge_tiers().prop_map(|t| (
            "graduated",
            object(vec![(
                "graduated_ranges",
                tiers_json(&t, "per_unit_amount")
            )])
        )),
        huge_tiers().prop_map(|t| (
            "graduated_percentage",
            object(vec![(
                "graduated_percentage_ranges",
                tiers_json(&t, "rate")
            )])
        )),
        huge_tiers().prop_map(|t| (
            "volume",
            object(vec![("volume_ranges", tiers_json(&t, "per_unit_amount"))])
        )),
        (
            huge_positive(),
            huge_positive(),
            0u64..4,
            optional(),
            optional(),
            optional()
        )
            .prop_map(|(rate, fixed, n, a, min, max)| {
                let mut props = object(vec![
                    ("rate", json_amount(rate)),
                    ("fixed_amount", json_amount(fixed)),
                ]);
                if n > 0 {
                    props.insert("free_units_per_events".into(), Value::from(n));
                }
                for (key, value) in [
                    ("free_units_per_total_aggregation", a),
                    ("per_transaction_min_amount", min),
                    ("per_transaction_max_amount", max),
                ] {
                    if let Some(value) = value {
                        props.insert(key.into(), json_amount(value));
                    }
                }
                ("percentage", props)
            }),
    ]
}

fn huge_aggregation() -> impl Strategy<Value = Aggregation> {
    (
        huge(),
        prop::option::of(huge()),
        any::<u64>(),
        prop::collection::vec(huge(), 0..6),
    )
        .prop_map(|(units, full_units_number, events_count, values)| {
            let running_total = values
                .iter()
                .scan(Decimal::ZERO, |total, value| {
                    *total = total.checked_add(*value)?;
                    Some(*total)
                })
                .collect();
            Aggregation {
                units,
                full_units_number,
                events_count,
                running_total,
                per_event_values: values,
                ..Aggregation::default()
            }
        })
}

fn allowed(result: &Result<(), Error>) -> bool {
    matches!(
        result,
        Ok(()) | Err(Error::Overflow { .. }) | Err(Error::Validation(_))
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn pricing_huge_values_returns_a_result_and_never_panics(
        (name, props) in huge_props(),
        aggregation in huge_aggregation(),
        premium in any::<bool>(),
        prorated in any::<bool>(),
        conversion_rate in prop::option::of(huge_positive()),
        currency in currency(),
    ) {
        let model = match ChargeModel::parse(name, &props) {
            Ok(model) => model,
            Err(error) => {
                prop_assert!(allowed(&Err(error.clone())), "{name} parse: {error:?}");
                return Ok(());
            }
        };
        let ctx = Context { premium, prorated, ..Context::default() };
        let priced = match model.apply(&aggregation, &ctx) {
            Ok(priced) => priced,
            Err(error) => {
                prop_assert!(allowed(&Err(error.clone())), "{name} apply: {error:?}");
                return Ok(());
            }
        };
        let pricing_unit = conversion_rate.map(|conversion_rate| AppliedPricingUnit {
            conversion_rate,
            short_name: None,
        });
        let fee = fees::build(priced, &aggregation, aggregation.units, currency, pricing_unit.as_ref())
            .map(|_| ());
        prop_assert!(allowed(&fee), "{name} fee: {fee:?}");
    }
}
