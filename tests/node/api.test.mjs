// The JS API of the built package: hand-worked prices, Lago's errors as thrown objects, and no
// input that can kill the module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as engine from '../../pkg/index.js';

const graduated = {
  graduated_ranges: [
    { from_value: 0, to_value: 10, per_unit_amount: '10', flat_amount: '2' },
    { from_value: 11, to_value: 20, per_unit_amount: '5', flat_amount: '3' },
    { from_value: 21, to_value: null, per_unit_amount: '1', flat_amount: '0' },
  ],
};

function lagoError(fn) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('expected a thrown LagoError');
}

test('it prices a graduated charge tier by tier', () => {
  // 25 units: 10 × 10 + 2, then 11..20 → 10 × 5 + 3, then 21..25 → 5 × 1 = 160
  const result = engine.priceCharge({ charge_model: 'graduated', properties: graduated, units: 25 });
  assert.equal(result.amount, '160.0');
  assert.equal(result.unit_amount, '6.4');
  assert.deepEqual(result.amount_details.graduated_ranges.map((r) => r.units), ['10.0', '10.0', '5.0']);
  assert.deepEqual(result.amount_details.graduated_ranges.map((r) => r.total_with_flat_amount), ['102.0', '53.0', '5.0']);
});

test('it takes JSON text as well as objects', () => {
  const text = JSON.stringify({ charge_model: 'standard', properties: { amount: '0.1' }, units: '3' });
  assert.equal(engine.priceCharge(text).amount, '0.3');
  // A JS number is read from its JSON text, so 0.1 stays exactly 0.1.
  assert.equal(engine.priceCharge({ charge_model: 'standard', properties: { amount: 0.1 }, units: 3 }).amount, '0.3');
});

test('it rounds fees half up once, truncates unit cents, and knows currency exponents', () => {
  // 3 × 0.005 = 0.015 EUR → 1.5 cents → 2 (half up); unit 0.005 → 0.5 cents → 0 (truncated)
  const eur = engine.buildFee({ charge_model: 'standard', properties: { amount: '0.005' }, units: 3, currency: 'EUR' });
  assert.deepEqual([eur.amount_cents, eur.unit_amount_cents, eur.precise_amount_cents], [2, 0, '1.5']);
  // JPY has no subunit: 3 × 0.5 = 1.5 → 2 yen
  const jpy = engine.buildFee({ charge_model: 'standard', properties: { amount: '0.5' }, units: 3, currency: 'JPY' });
  assert.equal(jpy.amount_cents, 2);
  // BHD has 3 decimals: 1 × 1.2345 → 1.235 → 1235 fils
  const bhd = engine.buildFee({ charge_model: 'standard', properties: { amount: '1.2345' }, units: 1, currency: 'BHD' });
  assert.equal(bhd.amount_cents, 1235);
  assert.deepEqual(engine.currency('KWD'), { code: 'KWD', exponent: 3, subunit_to_unit: 1000 });
});

test('it sums rounded fee cents per filter and per group, and adds taxes once', () => {
  const usage = engine.buildChargeUsage({
    charge_model: 'standard',
    properties: { amount: '0.005' },
    groups: [
      { grouped_by: { region: 'eu' }, units: 3, events_count: 3 }, // 1.5 cents → 2
      { grouped_by: { region: 'us' }, units: 3, events_count: 3 }, // 1.5 cents → 2
    ],
    taxes: [{ rate: '20' }],
  });
  assert.equal(usage.amount_cents, 4); // not round(3 cents) = 3
  assert.equal(usage.events_count, 6);
  assert.equal(usage.grouped_usage.length, 2);
  assert.equal(usage.taxes_amount_cents, 1); // 4 × 20% = 0.8 → 1
  assert.equal(usage.total_amount_cents, 5);
});

test('invalid properties throw a LagoError carrying status, code and error_details', () => {
  const error = lagoError(() => engine.priceCharge({ charge_model: 'package', properties: { amount: '10', package_size: 0 }, units: 5 }));
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'LagoError');
  assert.equal(error.status, 422);
  assert.equal(error.error, 'Unprocessable Entity');
  assert.equal(error.code, 'validation_errors');
  assert.deepEqual(error.error_details, { package_size: ['invalid_package_size'] });
});

test('per-transaction min/max needs every event\'s amount: a missing one is an error, not 0', () => {
  const charge = { charge_model: 'percentage', properties: { rate: '1', per_transaction_min_amount: '1' } };
  const error = lagoError(() => engine.buildChargeUsage({ ...charge, units: '1000', events_count: 3 }));
  assert.equal(error.status, 422);
  assert.deepEqual(error.error_details, { per_event_amounts: ['value_is_mandatory'] });
  // With them: 1 % of 100, 200 and 700 is 1, 2 and 7, each at least 1.00 → 10.00.
  const usage = engine.buildChargeUsage({ ...charge, units: '1000', per_event_amounts: ['100', '200', '700'] });
  assert.equal(usage.amount_cents, 1000);
  // The free edition ignores min/max, so it needs no amounts.
  const free = engine.buildChargeUsage({ ...charge, units: '1000', events_count: 3, premium: false });
  assert.equal(free.amount_cents, 1000);
  // Free events need the amounts too, or an explicit running total (here: none known, so only the
  // first two events' fixed fees of 0.10 are waived: 1 % of 1000 + 0.10 × 1 = 10.10).
  const freeEvents = { charge_model: 'percentage', properties: { rate: '1', fixed_amount: '0.1', free_units_per_events: 2 } };
  assert.deepEqual(lagoError(() => engine.buildChargeUsage({ ...freeEvents, units: '1000', events_count: 3 })).error_details,
    { per_event_amounts: ['value_is_mandatory'] });
  assert.equal(engine.buildChargeUsage({ ...freeEvents, units: '1000', events_count: 3, running_total: [] }).amount_cents, 1010);
});

test('validateCharge reports every error with Lago codes, in order', () => {
  const result = engine.validateCharge({
    charge_model: 'percentage',
    properties: { rate: '-1', fixed_amount: 2, free_units_per_total_aggregation: 'x' },
  });
  assert.equal(result.valid, false);
  assert.deepEqual(result.error.error_details, {
    rate: ['invalid_rate'],
    fixed_amount: ['invalid_fixed_amount'],
    free_units_per_total_aggregation: ['invalid_free_units_per_total_aggregation'],
  });
  assert.deepEqual(engine.validateCharge({ charge_model: 'standard', properties: { amount: '1' } }), { valid: true, error: null });
});

test('numbers past Decimal range are a 422 naming the field, never a wrong number', () => {
  const huge = lagoError(() => engine.priceCharge({ charge_model: 'standard', properties: { amount: '1' }, units: '1e400' }));
  assert.deepEqual([huge.status, huge.error_details], [422, { units: ['value_is_out_of_range'] }]);
  const digits = lagoError(() => engine.priceCharge({ charge_model: 'standard', properties: { amount: '1234567890123456789012345678901234567890' }, units: 1 }));
  assert.deepEqual(digits.error_details, { amount: ['value_is_out_of_range'] });
  const product = lagoError(() => engine.priceCharge({ charge_model: 'standard', properties: { amount: '79228162514264337593543950335' }, units: 10 }));
  assert.deepEqual(product.error_details, { amount: ['value_is_out_of_range'] });
  // 10^17 cents is past what a JS number holds exactly.
  const cents = lagoError(() => engine.buildFee({ charge_model: 'standard', properties: { amount: '1000000000000000' }, units: 1 }));
  assert.deepEqual(cents.error_details, { amount_cents: ['value_is_out_of_range'] });
});

test('malformed input is a 400, and the module keeps answering afterwards', () => {
  for (const bad of ['{"charge_model":', 'not json', 42, null, [1, 2]]) {
    const error = lagoError(() => engine.priceCharge(bad));
    assert.equal(error.status, 400, JSON.stringify(bad));
    assert.equal(error.code, 'bad_request');
  }
  assert.equal(engine.priceCharge({ charge_model: 'standard', properties: { amount: '2' }, units: 2 }).amount, '4.0');
});

test('no generated input kills the module (every failure is a LagoError)', () => {
  // A deterministic pseudo-random walk over hostile values for every field.
  let seed = 42;
  const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pick = (items) => items[Math.floor(next() * items.length)];
  const values = [null, true, 0, -1, 1.5, 1e308, -1e308, '', 'x', '1e400', '-0', '0.0000000000000000000000000000001',
    '99999999999999999999999999999', [], {}, [1, 'a', null], { from_value: 'a' }, '10', 3, '2.5'];
  const models = ['standard', 'graduated', 'graduated_percentage', 'package', 'percentage', 'volume', 'dynamic', 'custom', 'nope', 7];
  const keys = ['amount', 'graduated_ranges', 'graduated_percentage_ranges', 'volume_ranges', 'package_size', 'free_units',
    'rate', 'fixed_amount', 'free_units_per_events', 'free_units_per_total_aggregation', 'per_transaction_min_amount',
    'per_transaction_max_amount', 'pricing_group_keys'];
  const fns = [engine.priceCharge, engine.buildFee, engine.buildChargeUsage, engine.payInAdvanceFee, engine.estimateInstant,
    engine.validateCharge, engine.trueUp, engine.rangeDetail, engine.pricingUnitUsage, engine.pricingUnitToFiat];
  for (let i = 0; i < 3000; i += 1) {
    const properties = {};
    for (const key of keys) if (next() < 0.3) properties[key] = pick(values);
    if (next() < 0.3) properties.graduated_ranges = [{ from_value: pick(values), to_value: pick(values), per_unit_amount: pick(values), flat_amount: pick(values) }];
    const input = { charge_model: pick(models), properties, units: pick(values), events_count: pick(values),
      per_event_amounts: next() < 0.3 ? [pick(values), pick(values)] : undefined, groups: next() < 0.1 ? [{ grouped_by: {}, units: pick(values) }] : undefined,
      currency: next() < 0.2 ? pick(['JPY', 'XXX', 5]) : undefined, event: pick(values), events_before: [pick(values)],
      min_amount_cents: pick(values), charges_duration_days: pick(values), billed_days: pick(values), range: pick(values),
      amount: pick(values), conversion_rate: pick(values), amount_cents: pick(values), premium: next() < 0.5 };
    const fn = pick(fns);
    try {
      fn(input);
    } catch (error) {
      assert.equal(error.name, 'LagoError', `${fn.name}(${JSON.stringify(input)}) threw ${error}`);
      assert.ok([400, 422].includes(error.status));
    }
  }
  assert.equal(engine.priceCharge({ charge_model: 'standard', properties: { amount: '1' }, units: 1 }).amount, '1.0');
});

test('metric rounding applies to units before pricing', () => {
  const input = { charge_model: 'standard', properties: { amount: '2' }, units: '10.41' };
  assert.equal(engine.priceCharge({ ...input, rounding_function: 'ceil', rounding_precision: 0 }).amount, '22.0');
  assert.equal(engine.priceCharge({ ...input, rounding_function: 'floor', rounding_precision: 1 }).amount, '20.8');
  assert.equal(engine.priceCharge({ ...input, rounding_function: 'round', rounding_precision: -1 }).amount, '20.0');
  assert.equal(engine.priceCharge({ ...input, units: '10.45', rounding_function: 'round', rounding_precision: 1 }).amount, '21.0');
});

test('percentage free units come from the per-event values when no running total is given', () => {
  // 4+4+4+4+10 = 26 units, the first 15 free: the running total stops at 16 (the first past 15),
  // so 3 events are free. (26 − 15) × 1% + (5 − 3) × 5 = 10.11
  const result = engine.priceCharge({
    charge_model: 'percentage',
    properties: { rate: '1', fixed_amount: '5', free_units_per_total_aggregation: '15' },
    units: 26,
    per_event_amounts: [4, 4, 4, 4, 10],
  });
  assert.equal(result.amount, '10.11');
  assert.equal(result.count, 5);
  assert.equal(result.amount_details.free_events, 3);
});
