#!/usr/bin/env node
// Conformance runner: replays Lago's golden cases (tests/fixtures/*, format in
// tests/fixtures/README.md) through the built npm package in pkg/, the artifact users get.
//   node tests/conformance.mjs FILE_OR_DIR... [--verbose]
// Prints a line per level, every failure with its first differing field, and ends with
// "N passed, M failed, K skipped"; exits 1 when any case fails.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'pkg', 'index.js'))) {
  console.error('conformance: pkg/ is not built; run `bash scripts/build.sh` first');
  process.exit(2);
}
const engine = await import(join(root, 'pkg', 'index.js'));

// Cases whose expected value contradicts a rule of ../shared/spec: reported as skipped with the
// rule. Keyed by "file::case name".
const DISPUTED = JSON.parse(readFileSync(join(root, 'tests', 'disputed.json'), 'utf8'));

// ---------- decimals, compared as numbers ----------
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const isNumeric = (v) => typeof v === 'number' || (typeof v === 'string' && DECIMAL.test(v.trim()));
/** [sign, digits BigInt, scale] of a decimal text. */
function parseDecimal(v) {
  let text = String(v).trim();
  let exp = 0;
  const e = text.search(/[eE]/);
  if (e >= 0) { exp = Number(text.slice(e + 1)); text = text.slice(0, e); }
  const neg = text.startsWith('-');
  text = text.replace(/^[+-]/, '');
  const [whole, frac = ''] = text.split('.');
  let digits = BigInt((whole || '0') + frac);
  let scale = frac.length - exp;
  if (scale < 0) { digits *= 10n ** BigInt(-scale); scale = 0; }
  return { neg: neg && digits !== 0n, digits, scale };
}
function canonical(v) {
  let { neg, digits, scale } = parseDecimal(v);
  while (scale > 0 && digits % 10n === 0n) { digits /= 10n; scale -= 1; }
  return `${neg ? '-' : ''}${digits}e-${scale}`;
}
function roundHalfUp(v, places) {
  const { neg, digits, scale } = parseDecimal(v);
  if (scale <= places) return canonical(v);
  const factor = 10n ** BigInt(scale - places);
  let q = digits / factor;
  if ((digits % factor) * 2n >= factor) q += 1n;
  return canonical(`${neg ? '-' : ''}${q}e-${places}`);
}

// ---------- structural comparison: returns null or the first difference ----------
function diff(expected, got, path, opts = {}) {
  const rounded = opts.rounded?.[path];
  if (expected === undefined) return null; // the case does not check this field
  if (expected === '<present>') return got === null || got === undefined ? { path, expected, got } : null;
  if (expected === null) return got === null || got === undefined ? null : { path, expected, got };
  if (isNumeric(expected) && isNumeric(got)) {
    const a = rounded !== undefined ? roundHalfUp(expected, rounded) : canonical(expected);
    const b = rounded !== undefined ? roundHalfUp(got, rounded) : canonical(got);
    return a === b ? null : { path, expected, got };
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(got)) return { path, expected, got };
    const extraAllowed = opts.extraAllowed?.includes(path);
    if (!extraAllowed && got.length !== expected.length) return { path: `${path}.length`, expected: expected.length, got: got.length };
    // Lists compare as multisets: each expected item must match a distinct item.
    const used = new Set();
    for (const [i, item] of expected.entries()) {
      let firstMiss = null;
      const at = got.findIndex((candidate, j) => {
        if (used.has(j)) return false;
        const d = diff(item, candidate, `${path}[${i}]`, opts);
        if (d && !firstMiss) firstMiss = d;
        return !d;
      });
      if (at < 0) return firstMiss ?? { path: `${path}[${i}]`, expected: item, got: undefined };
      used.add(at);
    }
    return null;
  }
  if (typeof expected === 'object') {
    if (got === null || typeof got !== 'object' || Array.isArray(got)) return { path, expected, got };
    for (const key of Object.keys(expected)) {
      const d = diff(expected[key], got[key], path ? `${path}.${key}` : key, opts);
      if (d) return d;
    }
    // A breakdown must have exactly Lago's keys; other objects are checked on what the case names.
    if (/(^|\.)amount_details(_json)?$/.test(path)) {
      const extra = Object.keys(got).filter((k) => !(k in expected));
      if (extra.length) return { path: `${path}.${extra[0]}`, expected: undefined, got: got[extra[0]] };
    }
    return null;
  }
  return expected === got ? null : { path, expected, got };
}

// ---------- inputs ----------
const AGGREGATION_FIELDS = ['units', 'full_units_number', 'current_usage_units', 'total_aggregated_units',
  'events_count', 'running_total', 'per_event_amounts', 'per_event_full_units', 'per_event_prorated_units',
  'precise_total_amount_cents', 'custom_aggregation', 'groups', 'filters'];
function chargeInput(c) {
  const input = { charge_model: c.charge_model, properties: c.properties ?? {} };
  for (const [from, to] of [['premium', 'premium'], ['prorated', 'prorated'], ['currency', 'currency'],
    ['aggregation', 'aggregation_type'], ['applied_pricing_unit', 'applied_pricing_unit'], ['context', 'context'],
    ['rounding_function', 'rounding_function'], ['rounding_precision', 'rounding_precision'], ['pay_in_advance', 'pay_in_advance']]) {
    if (c[from] !== undefined) input[to] = c[from];
  }
  for (const key of AGGREGATION_FIELDS) if (c[key] !== undefined) input[key] = c[key];
  return input;
}

/** Runs `fn` and returns its result, or Lago's error body when it throws one. */
function attempt(fn) {
  try { return fn(); } catch (error) {
    if (error && error.status) return { thrown: { status: error.status, code: error.code, error_details: error.error_details } };
    throw error;
  }
}

// Valid base properties per model, for the shared validation examples (charge_model "*").
const VALID_PROPERTIES = {
  standard: { amount: '10' },
  graduated: { graduated_ranges: [{ from_value: 0, to_value: null, per_unit_amount: '1', flat_amount: '0' }] },
  volume: { volume_ranges: [{ from_value: 0, to_value: null, per_unit_amount: '1', flat_amount: '0' }] },
  package: { amount: '10', package_size: 10, free_units: 0 },
  percentage: { rate: '1' },
  graduated_percentage: { graduated_percentage_ranges: [{ from_value: 0, to_value: null, rate: '1', flat_amount: '0' }] },
};

function checkValidation(expected, got) {
  if (got.thrown) return { path: 'error', expected, got: got.thrown };
  if (expected.valid === true) return got.valid ? null : { path: 'valid', expected: true, got: got.error };
  if (got.valid) return { path: 'valid', expected: false, got: true };
  const details = got.error.error_details;
  for (const [field, codes] of Object.entries(expected.errors_include ?? {})) {
    for (const code of codes) {
      if (!(details[field] ?? []).includes(code)) return { path: `error_details.${field}`, expected: code, got: details[field] ?? details };
    }
  }
  if (expected.error_keys_exact_order) {
    const keys = Object.keys(details).filter((k) => expected.error_keys_exact_order.includes(k));
    if (keys.join() !== expected.error_keys_exact_order.join()) return { path: 'error_details (order)', expected: expected.error_keys_exact_order, got: keys };
  }
  return null;
}

const LEVELS = {
  charge_model: priceLevel,
  calculate_price: priceLevel,
  grouped(c) {
    const got = attempt(() => engine.priceCharge(chargeInput(c)));
    const { groups, ...rest } = c.expected;
    return diff(rest, got, '', rounding(c)) ?? diff(groups, got.grouped_results, 'groups', rounding(c));
  },
  range_detail(c) {
    const got = attempt(() => engine.rangeDetail({ charge_model: c.charge_model, range: c.range, total_units: c.total_units, adjacent_model: c.adjacent_model }));
    return diff(c.expected.range_detail, got, 'range_detail');
  },
  estimate_instant(c) {
    const got = attempt(() => engine.estimateInstant(chargeInput(c)));
    return diff(c.expected, got, '');
  },
  fee(c) {
    const got = attempt(() => engine.buildFee(chargeInput(c)));
    const { amount_details_json, ...rest } = c.expected;
    return diff(rest, got, '', rounding(c)) ?? diff(amount_details_json, got.amount_details, 'amount_details_json');
  },
  scenario_current_usage(c) {
    const input = chargeInput(c);
    if (c.expected.total_amount_cents_with_20pct_tax !== undefined) input.taxes = [{ rate: '20' }];
    const got = attempt(() => engine.buildChargeUsage(input));
    const { total_amount_cents_with_20pct_tax: total, groups, filters, ...rest } = c.expected;
    return diff(rest, got, '', rounding(c))
      ?? diff(total, got.total_amount_cents, 'total_amount_cents_with_20pct_tax')
      ?? diff(stripUngivenCounts(groups, c.groups), got.grouped_usage, 'groups')
      ?? diff(filters, got.filters, 'filters', { extraAllowed: ['filters'] }); // + the default bucket
  },
  pay_in_advance(c) {
    if (c.cost_including_event !== undefined) {
      const got = attempt(() => engine.payInAdvanceFee({ cost_including_event: c.cost_including_event,
        cost_excluding_event: c.cost_excluding_event, pay_in_advance_units: c.pay_in_advance_units, currency: c.currency }));
      const { count, ...rest } = c.expected;
      return diff(rest, got, '') ?? diff(count, got.events_count, 'count');
    }
    const seen = [];
    const amounts = [];
    for (const [i, step] of c.steps.entries()) {
      const event = { value: step.event_value, precise_total_amount_cents: step.event_precise_total_amount_cents ?? '0' };
      // Earlier events: as listed, else the sequence's previous steps, unless the step says the
      // period already held more (then one prior event carries that running total).
      let before = step.events_before ? step.events_before.map((value) => ({ value })) : [...seen];
      const seenTotal = before.reduce((total, e) => total + Number(e.value), 0);
      if (!step.events_before && step.running_total_before !== undefined && Number(step.running_total_before) !== seenTotal) {
        before = [{ value: step.running_total_before }];
      }
      const got = attempt(() => engine.payInAdvanceFee({ ...chargeInput(c), events_before: before, event }));
      const { amount_details_json, ...rest } = step.expected;
      const d = diff(rest, got, `steps[${i}]`) ?? diff(amount_details_json, got.amount_details, `steps[${i}].amount_details_json`);
      if (d) return d;
      amounts.push(got.amount_cents);
      seen.push(event);
    }
    return diff(c.expected.steps_amount_cents, amounts, 'steps_amount_cents');
  },
  true_up(c) {
    if (c.properties) {
      const got = attempt(() => engine.buildChargeUsage({ ...chargeInput(c), context: 'invoice',
        min_amount_cents: c.min_amount_cents, charges_duration_days: c.charges_duration_days, billed_days: c.billed_days }));
      if (got.thrown) return { path: 'error', expected: c.expected, got: got.thrown };
      const fees = [...got.fees, ...(got.true_up_fee ? [got.true_up_fee] : [])];
      const pick = (key) => fees.map((f) => f[key]);
      return diff(c.expected.true_up, got.true_up_fee !== null, 'true_up')
        ?? diff(c.expected.fees_amount_cents, pick('amount_cents'), 'fees_amount_cents')
        ?? diff(c.expected.fees_precise_amount_cents, pick('precise_amount_cents'), 'fees_precise_amount_cents')
        ?? diff(c.expected.fees_unit_amount_cents, pick('unit_amount_cents'), 'fees_unit_amount_cents')
        ?? diff(c.expected.fees_precise_unit_amount, pick('precise_unit_amount'), 'fees_precise_unit_amount');
    }
    const got = attempt(() => engine.trueUp({ min_amount_cents: c.min_amount_cents, used_amount_cents: c.used_amount_cents,
      used_precise_amount_cents: c.used_precise_amount_cents, charges_duration_days: c.charges_duration_days,
      billed_days: c.billed_days, currency: c.currency }));
    const { true_up, ...rest } = c.expected;
    return diff(true_up, got.true_up, 'true_up') ?? diff(rest, got.fee ?? {}, 'fee');
  },
  validation(c) {
    if (c.charge_model !== '*') {
      const rules = {};
      for (const key of ['pay_in_advance', 'prorated', 'recurring', 'min_amount_cents']) if (c[key] !== undefined) rules[key] = c[key];
      const got = attempt(() => engine.validateCharge({ charge_model: c.charge_model, properties: c.properties,
        premium: c.premium ?? true, aggregation_type: c.billable_metric_aggregation ?? c.aggregation, ...rules }));
      return checkValidation(c.expected, got);
    }
    for (const [model, base] of Object.entries(VALID_PROPERTIES)) {
      const got = attempt(() => engine.validateCharge({ charge_model: model, properties: { ...base, ...c.properties_extra }, premium: true }));
      const d = checkValidation(c.expected, got);
      if (d) return { ...d, path: `${model}: ${d.path}` };
    }
    return null;
  },
  decimal_amount(c) {
    const got = engine.isValidAmount(c.input, c.method === 'valid_positive_amount');
    return diff(c.expected.result, got, 'result');
  },
  pricing_unit_usage_build(c) {
    const got = attempt(() => engine.pricingUnitUsage({ amount: c.amount, unit_amount: c.unit_amount, conversion_rate: c.conversion_rate }));
    return diff(c.expected, got, '');
  },
  count_agg: aggregationLevel,
  sum_agg: aggregationLevel,
  max_agg: aggregationLevel,
  unique_count_agg: aggregationLevel,
  latest_agg: aggregationLevel,
  weighted_sum_agg: aggregationLevel,
  rounding: aggregationLevel,
  prorated_sum: aggregationLevel,
  prorated_unique_count: aggregationLevel,
  charge_filters: aggregationLevel,
  weekly: periodLevel,
  monthly: periodLevel,
  quarterly: periodLevel,
  semiannual: periodLevel,
  yearly: periodLevel,
  current_usage: currentUsageCase,
  errors: currentUsageCase,
  filters_params: currentUsageCase,
  past_usage: pastUsageCase,
  projection_service: projectionCase,
  http(c) {
    return c.expected.customer_projected_usage !== undefined
      ? usageHttp(c, 'projected_usage', 'customer_projected_usage')
      : usageHttp(c, 'current_usage', 'customer_usage');
  },
  serialization() {
    return { skip: 'Lago-internal objects: feeds Fee records to a serializer directly (the same JSON shapes are checked through currentUsage/projectedUsage)' };
  },
  pricing_unit_to_fiat(c) {
    const got = attempt(() => engine.pricingUnitToFiat({ amount_cents: c.amount_cents, precise_amount_cents: c.precise_amount_cents,
      unit_amount_cents: c.unit_amount_cents, conversion_rate: c.conversion_rate, currency: c.currency }));
    return diff(c.expected, got, '');
  },
};

// ---------- usage scenarios: a whole setup replayed through the Engine ----------
const SUB = 'sub';
const CUS = 'cus';
const unix = (iso) => String(Date.parse(iso) / 1000);

/** An Engine loaded with a case's plan, metrics, charges, taxes, customer, subscription and
 * events; returns it with the plan's charges (for `<id of c1>` placeholders). */
function scenario(input) {
  const e = new engine.Engine({ premium: true, premium_integrations: input.org_premium_integrations ?? [] });
  for (const tax of input.taxes ?? []) {
    e.upsertTax({ code: tax.code, rate: tax.rate, applied_to_organization: tax.applied_to === 'billing_entity' });
  }
  const metrics = input.billable_metrics ?? [];
  for (const m of metrics) e.upsertBillableMetric({ name: m.code, ...m });
  const plan = e.upsertPlan({ code: 'plan', name: 'plan', interval: 'monthly', amount_currency: 'EUR', ...input.plan, charges: input.charges ?? [] });
  if (!input.customer_belongs_to_other_org) {
    e.upsertCustomer({ external_id: CUS, timezone: input.customer_timezone ?? 'UTC' });
  }
  const now = input.now;
  if (input.subscription) {
    const s = input.subscription;
    e.upsertSubscription({ external_id: SUB, external_customer_id: input.customer_belongs_to_other_org ? 'other' : CUS,
      plan_code: 'plan', subscription_at: s.subscription_at ?? s.started_at, ...s }, now);
  }
  (input.events ?? []).forEach((ev, i) => {
    e.ingestEvent({ transaction_id: `tx${i}`, external_subscription_id: SUB, code: ev.code,
      timestamp: unix(ev.timestamp), properties: ev.properties ?? {} }, now);
  });
  return { e, charges: plan.charges };
}

/** A case's query with placeholders resolved (`<sub>`, `<id of c1>`, `<lago id of charge_a>`). */
function usageQuery(input, charges, query) {
  const q = { external_customer_id: CUS, external_subscription_id: SUB, now: input.now };
  if (input.apply_taxes !== undefined) q.apply_taxes = input.apply_taxes;
  for (const [key, value] of Object.entries(query ?? {})) {
    const id = typeof value === 'string' && value.match(/^<(?:lago )?id of (.+)>$/);
    q[key] = id ? charges.find((c) => c.code === id[1])?.lago_id : value === '<sub>' ? SUB : value;
  }
  return q;
}

function thrownBody(got) {
  const t = got.thrown;
  return { http_status: t.status, code: t.code, body: { status: t.status, error: { 404: 'Not Found', 405: 'Method Not Allowed', 403: 'Forbidden', 422: 'Unprocessable Entity' }[t.status], code: t.code } };
}

/** Number of Lago fees behind a charge's usage: one per filter bucket and group. */
function feesOf(charge) {
  if (charge.grouped_usage.length) return charge.grouped_usage.flatMap((g) => (g.filters.length ? g.filters : [g]));
  return charge.filters.length ? charge.filters : [charge];
}

/** `charges_usage[0]`, `charges_usage[metric_a]`, `filters[aws,usa]`, `a.b` selectors. */
function select(value, key) {
  let m = key.match(/^(\w+)\[(.+)\]$/);
  if (m && Array.isArray(value?.[m[1]])) {
    const list = value[m[1]];
    if (/^\d+$/.test(m[2])) return list[Number(m[2])];
    if (m[1] === 'filters') {
      const wanted = m[2].split(',');
      return list.find((f) => f.values && Object.values(f.values).flat().join(',') === wanted.join(','));
    }
    return list.find((c) => c.billable_metric?.code === m[2] || c.charge?.code === m[2]);
  }
  return key.split('.').reduce((v, k) => v?.[k], value);
}
function diffSelected(expected, got, path) {
  if (expected === null || typeof expected !== 'object' || Array.isArray(expected)) return diff(expected, got, path);
  for (const [key, value] of Object.entries(expected)) {
    const d = diffSelected(value, select(got, key), path ? `${path}.${key}` : key);
    if (d) return d;
  }
  return null;
}

/** An http case goes through the REST emulator (`Engine.handle`), as a client would call it:
 * `GET /api/v1/customers/{id}/<current|projected>_usage?<query>` with the Bearer key. */
function usageHttp(c, route, root) {
  const { e, charges } = scenario(c.input);
  const { external_customer_id: customer, now, ...query } = usageQuery(c.input, charges, c.input.query);
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) search.append(`${key}[${k}]`, String(v));
    } else if (value !== undefined) search.append(key, String(value));
  }
  e.setApiKey('conformance');
  const response = e.handle({ method: 'GET', path: `/api/v1/customers/${encodeURIComponent(customer)}/${route}`,
    query: search.toString(), headers: { authorization: 'Bearer conformance' } }, now);
  const got = JSON.parse(response.body);
  const { http_status: status, ...rest } = c.expected;
  if (response.status !== 200) {
    return diffSelected({ http_status: status, ...rest }, { http_status: response.status, code: got.code, body: got }, '');
  }
  const body = got[root];
  const view = { http_status: 200, [root]: body, ...body,
    charges_usage_count: body.charges_usage.length,
    amount_cents_sorted: body.charges_usage.map((u) => u.amount_cents).sort((a, b) => a - b) };
  return diffSelected({ http_status: status, ...rest }, view, '');
}

function currentUsageCase(c) {
  if (c.input.tax_provider) return { skip: 'Lago-internal objects: mocked Anrok/Avalara tax-provider results (no provider is emulated)' };
  if (c.input.window) return windowCase(c);
  if (c.input.subscription === null) {
    const { e } = scenario(c.input);
    const got = attempt(() => e.currentUsage({ external_customer_id: CUS, external_subscription_id: SUB, now: '2025-06-15T00:00:00Z' }));
    if (!got.thrown) return { path: 'http_status', expected: c.expected.http_status, got: 200 };
    return diff({ code: c.expected.code, http_status: c.expected.http_status }, thrownBody(got), '');
  }
  const { e, charges } = scenario(c.input);
  const got = attempt(() => e.currentUsage(usageQuery(c.input, charges, c.input.usage_filters)));
  if (got.thrown) return diff({ code: c.expected.code }, thrownBody(got), '');
  const u = got.customer_usage;
  const fees = u.charges_usage.flatMap(feesOf);
  const view = { ...u, fees_count: fees.length, from_date: u.from_datetime.slice(0, 10), to_date: u.to_datetime.slice(0, 10),
    fee_units: fees.map((f) => f.units), fee_grouped_by: fees.map((f) => f.grouped_by ?? {}),
    charge_codes_in_fees: [...new Set(u.charges_usage.map((x) => x.charge.code))] };
  return diff(c.expected, view, '');
}

/** A Fees::ChargeService case over a fixed window: a subscription whose current period is that
 * window (started at its first instant, calendar monthly), queried inside it. */
function windowCase(c) {
  const { input } = c;
  const types = input.aggregation_types ?? [input.billable_metric.aggregation_type];
  for (const type of types) {
    if (type === 'custom_agg') continue; // needs Lago's sandboxed Ruby aggregator
    const metric = { code: 'bm', ...input.billable_metric, aggregation_type: type };
    if (metric.aggregation_type !== 'count_agg') metric.field_name ??= 'value';
    const { e } = scenario({
      now: input.window.from, customer_timezone: input.customer_timezone,
      plan: { interval: 'monthly', amount_currency: 'EUR' },
      subscription: { billing_time: 'calendar', started_at: input.window.from, status: 'active' },
      billable_metrics: [metric],
      charges: [{ code: 'c', billable_metric_code: 'bm', ...input.charge }],
      events: (input.events ?? []).map((ev) => ({ code: 'bm', ...ev })),
    });
    const u = e.currentUsage({ external_customer_id: CUS, external_subscription_id: SUB, now: input.window.from }).customer_usage;
    const charge = u.charges_usage[0];
    const fees = feesOf(charge);
    const byValue = (v) => charge.filters.find((f) => (v === null ? f.values === null : f.values?.region?.[0] === v));
    const view = { fees_count: fees.length, fee_amount_cents: fees[0].amount_cents, fee_units: fees[0].units,
      europe_fee_breakdowns: byValue('europe')?.presentation_breakdowns, usa_fee_breakdowns: byValue('usa')?.presentation_breakdowns,
      default_bucket_fee_breakdowns: byValue(null)?.presentation_breakdowns };
    const d = diff(c.expected, view, '');
    if (d) return { ...d, path: `${type}: ${d.path}` };
  }
  return null;
}

function pastUsageCase(c) {
  if (c.input.fees || c.input.invoice_subscriptions) {
    return { skip: 'Lago-internal objects: invoice rows given as data (InvoiceSubscription, Fee); past usage is checked by the engine scenario tests' };
  }
  const e = new engine.Engine();
  const got = attempt(() => e.pastUsage({ external_customer_id: CUS, now: '2025-06-15T00:00:00Z', ...c.input.query }));
  return diff(c.expected, got.thrown ? { http_status: got.thrown.status, error_details: got.thrown.error_details } : { http_status: 200, ...got }, '');
}

function projectionCase(c) {
  const { input } = c;
  if (c.expected.period_ratio) {
    const [passed, total] = c.expected.period_ratio.split('/').map(Number);
    const got = engine.periodRatio({ from_datetime: input.fee.properties.from_datetime, to_datetime: input.fee.properties.to_datetime,
      now: input.now, timezone: input.customer_timezone });
    return diff({ days_passed: passed, total_days: total }, got, '');
  }
  return { skip: 'Lago-internal objects: a Fee record fed to Fees::ProjectionService directly (projection is checked through projectedUsage)' };
}

// `<key>_round5` in expected: the spec compared `<key>` after rounding half-up to 5 places.
function aggregationLevel(c) {
  const got = attempt(() => engine.aggregate(c.input));
  const expected = {};
  const rounded = {};
  for (const [key, value] of Object.entries(c.expected)) {
    const base = key.endsWith('_round5') ? key.slice(0, -'_round5'.length) : key;
    expected[base] = value;
    if (base !== key) rounded[base] = 5;
  }
  return diff(expected, got, '', { rounded });
}

function periodLevel(c) {
  const got = attempt(() => engine.billingPeriod(c.input));
  return diff(c.expected, got, '');
}

function rounding(c) { return { rounded: c.compare_rounded ?? {} }; }

function priceLevel(c) {
  const got = attempt(() => engine.priceCharge(chargeInput(c)));
  const { amount_details_subset: subset, ...rest } = c.expected;
  return diff(rest, got, '', rounding(c))
    ?? diff(subset, got.amount_details, 'amount_details_subset');
}

// A scenario's inputs are aggregation results: a group that gives no events_count cannot be
// checked for one, so that key is left out of the comparison for it.
function stripUngivenCounts(expectedGroups, inputGroups) {
  if (!expectedGroups) return expectedGroups;
  return expectedGroups.map((group) => {
    const input = inputGroups?.find((g) => JSON.stringify(g.grouped_by) === JSON.stringify(group.grouped_by));
    if (input?.events_count !== undefined || input?.per_event_amounts) return group;
    const { events_count, ...rest } = group;
    return rest;
  });
}

// ---------- driver ----------
function collect(paths) {
  const files = [];
  for (const p of paths) {
    const abs = resolve(p);
    if (statSync(abs).isDirectory()) {
      for (const name of readdirSync(abs).sort()) {
        const child = join(abs, name);
        if (statSync(child).isDirectory() || name.endsWith('.json')) files.push(...collect([child]));
      }
    } else files.push(abs);
  }
  return files;
}

const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const targets = args.filter((a) => !a.startsWith('--'));
if (!targets.length) { console.error('usage: node tests/conformance.mjs FILE_OR_DIR... [--verbose]'); process.exit(2); }

const byLevel = new Map();
const failures = [];
const skips = [];
for (const file of collect(targets)) {
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const cases = Array.isArray(data) ? data : data.cases ?? [];
  const rel = relative(process.cwd(), file);
  for (const c of cases) {
    const level = c.level ?? c.topic ?? 'unknown';
    const tally = byLevel.get(level) ?? { passed: 0, failed: 0, skipped: 0 };
    byLevel.set(level, tally);
    const disputed = DISPUTED[`${file.split('/').pop()}::${c.name}`];
    const handler = LEVELS[level];
    let reason = null;
    if (disputed) reason = `disputed: ${disputed}`;
    else if (c.lago_internal) reason = 'lago_internal: feeds objects that exist only inside Lago';
    else if (!handler) reason = `no runner for level/topic "${level}" yet`;
    if (reason) { tally.skipped += 1; skips.push(`${rel} :: ${c.name}: ${reason}`); continue; }
    let d;
    try { d = handler(c); } catch (error) { d = { path: '(exception)', expected: 'no exception', got: String(error?.stack ?? error) }; }
    if (d?.skip) { tally.skipped += 1; skips.push(`${rel} :: ${c.name}: ${d.skip}`); continue; }
    if (d) { tally.failed += 1; failures.push({ rel, name: c.name, ...d }); }
    else { tally.passed += 1; if (verbose) console.log(`ok ${rel} :: ${c.name}`); }
  }
}

const show = (v) => (v === undefined ? 'undefined' : JSON.stringify(v));
console.log(`${'level'.padEnd(28)} ${'passed'.padStart(6)} ${'failed'.padStart(6)} ${'skipped'.padStart(7)}`);
for (const [level, t] of [...byLevel].sort()) {
  console.log(`${level.padEnd(28)} ${String(t.passed).padStart(6)} ${String(t.failed).padStart(6)} ${String(t.skipped).padStart(7)}`);
}
for (const s of skips) console.log(`SKIP ${s}`);
for (const f of failures) console.log(`FAIL ${f.rel} :: ${f.name}\n     at ${f.path}: expected ${show(f.expected)}, got ${show(f.got)}`);
const total = (k) => [...byLevel.values()].reduce((n, t) => n + t[k], 0);
console.log(`${total('passed')} passed, ${total('failed')} failed, ${total('skipped')} skipped`);
process.exit(total('failed') > 0 ? 1 : 0);
