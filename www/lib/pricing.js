// "Usage as numbers": each charge priced by the engine's stateless `buildChargeUsage` on the
// units typed for its metric (fees, amount_details, cents), and the taxes by the engine too.
// The only JS arithmetic is on *units* (a metric's total minus its filter buckets) and the Σ
// of integer cents (BigInt), never on prices.
import { buildChargeUsage, validateCharge, isValidAmount, Engine } from '../../pkg/index.js';
import { cleanProperties, filterSignature, planInput, rangesKey } from './scenario.js';
import { compareDecimal, isDecimal, subDecimal, sumCents } from './decimal.js';
import { currencyInfo } from './money.js';

/** The metric of a charge (or a stand-in so a dangling code still renders). */
export function metricOf(scenario, code) {
  return scenario.metrics.find((m) => m.code === code) ?? { code, name: code, aggregation_type: 'sum_agg', field_name: 'value', filters: [] };
}

/** The taxes codes a charge's fees carry: its own, else the plan's (Lago's precedence). */
export function taxCodesOf(plan, charge) {
  return charge.tax_codes && charge.tax_codes.length ? charge.tax_codes : plan.tax_codes || [];
}

/** "aws=3, gcp=2" → [{value:'aws', units:'3'}, …] (junk entries are reported, not dropped). */
export function parseGroupSplit(text) {
  const entries = [];
  const errors = [];
  for (const part of String(text || '').split(',')) {
    if (!part.trim()) continue;
    const [value, units] = part.split('=').map((x) => (x ?? '').trim());
    if (!value || !isDecimal(units)) errors.push(part.trim());
    else entries.push({ value, units });
  }
  return { entries, errors };
}

/** Does this charge model read the events count (fixed fee per event, free events)? */
export const readsEventsCount = (model) => model === 'percentage';

/**
 * The `buildChargeUsage` input of one charge of `plan` on the numbers of `scenario`, plus the
 * notes the page shows next to it (what numbers mode cannot express).
 */
export function chargeUsageInput(scenario, plan, charge) {
  const metric = metricOf(scenario, charge.billable_metric_code);
  const n = scenario.numbers;
  const notes = [];
  const total = n.units[metric.code] ?? '0';
  let properties = cleanProperties(charge.properties);
  if (charge.charge_model === 'percentage' && (properties.per_transaction_min_amount || properties.per_transaction_max_amount)) {
    properties = { ...properties };
    delete properties.per_transaction_min_amount;
    delete properties.per_transaction_max_amount;
    notes.push('per-transaction min/max need each transaction\'s amount: ignored here, applied in Events mode');
  }
  if (charge.charge_model === 'percentage' && Number(properties.free_units_per_events) > 0) {
    notes.push(`the first ${properties.free_units_per_events} events are free: here only their fixed fees (their amounts need events; Events mode frees those too)`);
  }
  const eventsCount = metric.aggregation_type === 'count_agg' && /^\d+$/.test(String(total).trim())
    ? Number(total) : Number(n.events[metric.code] ?? 0) || 0;
  const input = {
    charge_model: charge.charge_model, properties, currency: plan.amount_currency,
    aggregation_type: metric.aggregation_type, pay_in_advance: !!charge.pay_in_advance, prorated: !!charge.prorated,
    units: total, events_count: eventsCount,
  };
  if (charge.charge_model === 'dynamic') input.precise_total_amount_cents = n.dynamic[metric.code] ?? '0';
  // Filters: each filter bucket's units are typed; the default bucket holds the rest.
  if (charge.filters.length) {
    let rest = total;
    input.filters = charge.filters.map((f) => {
      const units = n.filters[metric.code]?.[filterSignature(f.values)] ?? '0';
      rest = subDecimal(rest, units) ?? rest;
      return {
        values: f.values, properties: f.properties ? cleanProperties(f.properties) : properties, units,
        invoice_display_name: f.invoice_display_name || null,
      };
    });
    if (compareDecimal(rest, '0') < 0) {
      return { error: { field: 'units', message: `the filters' units exceed ${metric.code}'s total (${total})` }, notes };
    }
    input.units = rest;
  }
  // Pricing groups: "value=units" pairs on the first key; the rest is the group without a value.
  const keys = properties.pricing_group_keys || properties.grouped_by;
  if (Array.isArray(keys) && keys.length && (n.groups[metric.code] || '').trim()) {
    const { entries, errors } = parseGroupSplit(n.groups[metric.code]);
    if (errors.length) return { error: { field: 'groups', message: `unreadable group split: ${errors.join(', ')}` }, notes };
    if (keys.length > 1) notes.push(`numbers mode splits on "${keys[0]}" only; other keys need events`);
    let rest = input.units;
    const groups = entries.map((e) => {
      rest = subDecimal(rest, e.units) ?? rest;
      return { grouped_by: Object.fromEntries(keys.map((k, i) => [k, i === 0 ? e.value : null])), units: e.units };
    });
    if (compareDecimal(rest, '0') < 0) return { error: { field: 'groups', message: 'the groups\' units exceed the total' }, notes };
    if (compareDecimal(rest, '0') > 0) groups.push({ grouped_by: Object.fromEntries(keys.map((k) => [k, null])), units: rest });
    input.groups = groups;
    if (input.filters) notes.push('groups and filters together need events: the split applies to the default bucket');
  }
  if (charge.charge_model === 'percentage') {
    // Numbers mode has no event amounts: say so (an empty running total), so free events waive
    // only their fixed fees instead of the engine asking for per-event amounts.
    for (const part of [input, ...(input.filters ?? []), ...(input.groups ?? [])]) part.running_total = [];
  }
  return { input, notes };
}

/**
 * Taxes of a set of priced lines, rounded once as the engine's usage does
 * (Σ over fees and rates of amount × rate, half-up once): one engine call per distinct tax set
 * (`standard` at one minor unit per unit, so the engine's own tax code does the math).
 */
export function taxesOf(lines, plan, scenario) {
  const info = currencyInfo(plan.amount_currency);
  const sets = new Map();
  for (const line of lines) {
    if (!line.usage) continue;
    const codes = taxCodesOf(plan, line.charge);
    if (!codes.length) continue;
    const key = [...codes].sort().join(',');
    const set = sets.get(key) ?? { codes, cents: 0n };
    set.cents += BigInt(line.usage.amount_cents);
    sets.set(key, set);
  }
  let taxes = 0n;
  const breakdown = [];
  const missing = [];
  for (const { codes, cents } of sets.values()) {
    const rates = [];
    for (const code of codes) {
      const tax = scenario.taxes.find((t) => t.code === code);
      if (!tax) missing.push(code); else rates.push({ code, rate: tax.rate });
    }
    if (!rates.length || cents === 0n) continue;
    const usage = chargeUsage({
      charge_model: 'standard', properties: { amount: minorUnitAmount(info.exponent) },
      units: cents.toString(), currency: plan.amount_currency, taxes: rates,
    });
    taxes += BigInt(usage.taxes_amount_cents);
    breakdown.push({ codes, base_cents: cents.toString(), taxes_cents: usage.taxes_amount_cents });
  }
  return { taxes_cents: taxes, breakdown, missing: [...new Set(missing)], roundedOnce: sets.size <= 1 };
}

const minorUnitAmount = (exponent) => (exponent === 0 ? '1' : `0.${'0'.repeat(exponent - 1)}1`);

/** `buildChargeUsage`, remembered per input: moving one slider re-prices one charge, not all. */
const memo = new Map();
function chargeUsage(input) {
  const key = JSON.stringify(input);
  let hit = memo.get(key);
  if (!hit) {
    try { hit = { usage: buildChargeUsage(input) }; } catch (e) { hit = { error: e }; }
    if (memo.size >= 2000) memo.clear();
    memo.set(key, hit);
  }
  if (hit.error) throw hit.error;
  return hit.usage;
}

/** Prices `plan` on the scenario's numbers: `{lines, amount_cents, taxes_cents, total_cents, …}`. */
export function priceNumbers(scenario, plan) {
  const lines = plan.charges.map((charge, index) => {
    const { input, error, notes } = chargeUsageInput(scenario, plan, charge);
    if (error) return { index, charge, error, notes };
    try {
      return { index, charge, input, usage: chargeUsage(input), notes };
    } catch (e) {
      const details = e.error_details && typeof e.error_details === 'object'
        ? Object.entries(e.error_details).map(([field, codes]) => `${field}: ${[].concat(codes).map(describeCode).join(', ')}`).join('; ')
        : e.message;
      return { index, charge, input, notes, error: { field: null, message: `cannot be priced: ${details} (see the plan)`, details: e.error_details } };
    }
  });
  const amount = sumCents(lines.filter((l) => l.usage).map((l) => l.usage.amount_cents));
  const taxes = taxesOf(lines, plan, scenario);
  return {
    plan, currency: plan.amount_currency, lines,
    amount_cents: amount, taxes_cents: taxes.taxes_cents, total_cents: amount + taxes.taxes_cents,
    taxes, complete: lines.every((l) => l.usage),
  };
}

// ---------------------------------------------------------------------------------------------
// Validation: the engine's errors, keyed by the builder's field paths
// ---------------------------------------------------------------------------------------------

let validationEngine = null;

/**
 * Errors of plan `p` as `Map(path → [messages])`. Field errors come from `validateCharge`
 * (per charge and per filter) and `isValidAmount` (per tier cell, so a bad cell is pointed at);
 * plan-level errors (currency, interval, codes, taxes, metric references) from `upsertPlan` on
 * a scratch engine holding the scenario's metrics and taxes.
 */
export function validatePlan(scenario, p) {
  const plan = scenario.plans[p];
  const errors = new Map();
  const add = (path, message) => errors.set(path, [...(errors.get(path) || []), message]);
  const base = `plans.${p}`;
  const checkProperties = (model, properties, aggregation, path) => {
    // Tier cells first (isValidAmount per cell), so a bad cell is pointed at, not just its table.
    const key = rangesKey(model);
    let cellErrors = 0;
    if (key && Array.isArray(properties[key])) {
      properties[key].forEach((range, r) => {
        for (const field of ['per_unit_amount', 'flat_amount', 'rate']) {
          if (field in range && !isValidAmount(range[field])) { add(`${path}.${key}.${r}.${field}`, 'invalid_amount'); cellErrors++; }
        }
      });
    }
    const result = validateCharge({
      charge_model: model, properties: cleanProperties(properties), billable_metric: { aggregation_type: aggregation },
    });
    if (!result.valid) {
      for (const [field, codes] of Object.entries(result.error.error_details || {})) {
        if (cellErrors && ['per_unit_amount', 'flat_amount', 'rate'].includes(field) && key) continue; // shown on the cells
        add(fieldPath(model, path, field), codes.join(', '));
      }
    }
  };
  plan.charges.forEach((c, i) => {
    const metric = scenario.metrics.find((m) => m.code === c.billable_metric_code);
    const path = `${base}.charges.${i}`;
    if (!metric) add(`${path}.billable_metric_code`, 'billable_metric_not_found');
    checkProperties(c.charge_model, c.properties, metric?.aggregation_type ?? 'sum_agg', `${path}.properties`);
    c.filters.forEach((f, j) => {
      if (f.properties) checkProperties(c.charge_model, f.properties, metric?.aggregation_type ?? 'sum_agg', `${path}.filters.${j}.properties`);
      if (!Object.keys(f.values || {}).length) add(`${path}.filters.${j}.values`, 'value_is_mandatory');
    });
  });
  // Plan level, through the engine's own upsert (the same checks Lago's POST /plans makes).
  try {
    validationEngine ??= new Engine();
    for (const t of scenario.taxes) if (t.code) try { validationEngine.upsertTax({ code: t.code, name: t.name || t.code, rate: t.rate }); } catch (e) { add(`taxes`, `${t.code}: ${e.message}`); }
    for (const m of scenario.metrics) if (m.code) try { validationEngine.upsertBillableMetric(metricInput(m)); } catch (e) { add('metrics', `${m.code}: ${e.message}`); }
    validationEngine.upsertPlan({ ...planInput(plan), code: plan.code || '' });
  } catch (e) {
    const details = e.error_details;
    if (details && typeof details === 'object') {
      for (const [field, codes] of Object.entries(details)) {
        const m = /^charges\[(\d+)\](?:\.filters\[(\d+)\])?\.(.+)$/.exec(field);
        let path;
        if (m) {
          const c = plan.charges[Number(m[1])];
          const inner = m[2] !== undefined ? `${base}.charges.${m[1]}.filters.${m[2]}.properties` : `${base}.charges.${m[1]}.properties`;
          path = ['code', 'billable_metric_id', 'billable_metric_code', 'charge_model', 'min_amount_cents', 'tax_codes', 'invoice_display_name'].includes(m[3])
            ? `${base}.charges.${m[1]}.${m[3] === 'billable_metric_id' ? 'billable_metric_code' : m[3]}`
            : fieldPath(c?.charge_model, inner, m[3]);
        } else {
          path = `${base}.${field}`;
        }
        for (const code of [].concat(codes)) if (!(errors.get(path) || []).includes(code)) add(path, code);
      }
    } else if (e.code === 'tax_not_found') {
      add(`${base}.tax_codes`, 'tax_not_found');
    } else {
      add(`${base}.plan`, e.code ? `${e.code}` : e.message);
    }
  }
  // A tier table does not repeat "invalid_amount" when one of its cells already says it.
  for (const [path, messages] of errors) {
    if (!/_ranges$/.test(path) || ![...errors.keys()].some((k) => k.startsWith(`${path}.`))) continue;
    const rest = messages.flatMap((m) => m.split(', ')).filter((code) => code !== 'invalid_amount');
    if (rest.length) errors.set(path, [...new Set(rest)]); else errors.delete(path);
  }
  return errors;
}

/** Lago's error codes in words (the code stays visible: it is what the API answers). */
const CODE_TEXT = {
  invalid_amount: 'not a valid amount',
  invalid_rate: 'not a valid rate',
  invalid_fixed_amount: 'not a valid amount',
  invalid_graduated_ranges: 'tiers must start at 0, follow each other without gaps and end open',
  invalid_volume_ranges: 'tiers must start at 0, follow each other without gaps and end open',
  invalid_graduated_percentage_ranges: 'tiers must start at 0, follow each other without gaps and end open',
  invalid_package_size: 'a whole number of units above 0',
  invalid_free_units: 'a whole number of units, 0 or more',
  invalid_free_units_per_events: 'a whole number of events, 0 or more',
  invalid_free_units_per_total_aggregation: 'not a valid amount',
  invalid_per_transaction_min_amount: 'not a valid amount',
  invalid_per_transaction_max_amount: 'not a valid amount (and not below the min)',
  invalid_aggregation_type_or_charge_model: 'this charge model does not go with the metric\'s aggregation',
  value_is_mandatory: 'required',
  value_is_invalid: 'not a valid value',
  value_already_exist: 'already used',
  billable_metric_not_found: 'no such billable metric',
  tax_not_found: 'a tax code that does not exist',
};
/** "not a valid amount (invalid_amount)" for a Lago error code. */
export const describeCode = (code) => (CODE_TEXT[code] ? `${CODE_TEXT[code]} (${code})` : code);

/** Where a property error of `field` is shown: tier errors go to the tiers table. */
function fieldPath(model, propertiesPath, field) {
  const key = rangesKey(model);
  if (key && ['per_unit_amount', 'flat_amount', 'rate', 'from_value', 'to_value', key].includes(field)) return `${propertiesPath}.${key}`;
  return `${propertiesPath}.${field}`;
}

/** The engine's `upsertBillableMetric` input of a scenario metric. */
export function metricInput(m) {
  return {
    code: m.code, name: m.name || m.code, aggregation_type: m.aggregation_type,
    field_name: m.aggregation_type === 'count_agg' ? null : (m.field_name || null),
    filters: (m.filters || []).filter((f) => f.key).map((f) => ({ key: f.key, values: f.values })),
  };
}
