// The scenario: everything the page shows is computed from this one plain object, and the
// object lives in the URL (`#s=` + base64url(deflate-raw(JSON))), so a link reproduces the page.
// Uploaded event files are the one thing a link cannot carry (they stay in the tab).
//
// Shape (v1):
//   taxes    [{code, name, rate}]                              the organisation's tax catalogue
//   metrics  [{code, name, aggregation_type, field_name, filters: [{key, values}]}]
//   plans    [{code, name, interval, amount_currency, amount_cents, pay_in_advance, tax_codes,
//              charges: [{code, billable_metric_code, charge_model, properties, filters,
//                         pay_in_advance, prorated, invoice_display_name, min_amount_cents, tax_codes}]}]
//   active   index of the plan being edited and priced
//   compare  plan indices priced side by side (2–3)
//   mode     'numbers' | 'events'
//   numbers  {units: {metric: "120"}, events: {metric: "40"}, filters: {metric: {sig: "12"}},
//             groups: {metric: "aws=3, gcp=2"}, dynamic: {metric: "1234"}}
//   events   {start: "2025-06-01", now_day, subscription, seed, synthetic: {metric: {per_day, trend, min, max}}}

export const SCENARIO_VERSION = 1;
export const CHARGE_MODELS = ['standard', 'graduated', 'volume', 'package', 'percentage', 'graduated_percentage', 'dynamic', 'custom'];
export const INTERVALS = ['weekly', 'monthly', 'quarterly', 'semiannual', 'yearly'];
export const AGGREGATIONS = ['count_agg', 'sum_agg', 'max_agg', 'unique_count_agg', 'latest_agg', 'weighted_sum_agg'];
export const MAX_PLANS = 3;
/** The subscription the simulator creates (events for other ids are stored, never counted). */
export const DEFAULT_SUBSCRIPTION = 'sim';
export const SIM_CUSTOMER = 'sim_customer';

const tier = (from_value, to_value, per_unit_amount, flat_amount) => ({ from_value, to_value, per_unit_amount, flat_amount });

/** Lago's properties of a fresh charge of `model`. */
export function defaultProperties(model) {
  switch (model) {
    case 'standard': return { amount: '1' };
    case 'graduated': return { graduated_ranges: [tier(0, 100, '0', '0'), tier(100, null, '0.1', '0')] };
    case 'volume': return { volume_ranges: [tier(0, 100, '1', '0'), tier(100, null, '0.5', '0')] };
    case 'package': return { amount: '1', package_size: 100, free_units: 0 };
    case 'percentage': return { rate: '1' };
    case 'graduated_percentage':
      return { graduated_percentage_ranges: [{ from_value: 0, to_value: null, rate: '1', flat_amount: '0' }] };
    case 'custom': return { custom_properties: {} };
    default: return {};
  }
}

/** The ranges key of a tiered model, or null. */
export function rangesKey(model) {
  return { graduated: 'graduated_ranges', volume: 'volume_ranges', graduated_percentage: 'graduated_percentage_ranges' }[model] ?? null;
}

/** The demo scenario a fresh page opens with (the shim's demo organisation, two plans). */
export function defaultScenario() {
  const today = new Date();
  const start = `${today.getUTCFullYear()}-${String(today.getUTCMonth() + 1).padStart(2, '0')}-01`;
  return {
    v: SCENARIO_VERSION,
    taxes: [{ code: 'vat', name: 'VAT', rate: '20' }],
    metrics: [
      { code: 'api_calls', name: 'API calls', aggregation_type: 'count_agg', field_name: null,
        filters: [{ key: 'region', values: ['eu', 'us'] }] },
      { code: 'storage_gb', name: 'Storage', aggregation_type: 'max_agg', field_name: 'gb', filters: [] },
      { code: 'sms', name: 'SMS', aggregation_type: 'sum_agg', field_name: 'messages', filters: [] },
      { code: 'payments', name: 'Payments', aggregation_type: 'sum_agg', field_name: 'amount', filters: [] },
    ],
    plans: [
      { code: 'growth', name: 'Growth', interval: 'monthly', amount_currency: 'EUR', amount_cents: 4900,
        pay_in_advance: false, tax_codes: ['vat'],
        charges: [
          charge('api_calls', 'api_calls', 'standard', { amount: '0.002' }, [
            { values: { region: ['eu'] }, properties: { amount: '0.003' }, invoice_display_name: 'API calls (EU)' }]),
          charge('storage', 'storage_gb', 'graduated', { graduated_ranges: [
            tier(0, 10, '0', '0'), tier(10, 100, '0.5', '1'), tier(100, null, '0.25', '0')] }),
          charge('sms', 'sms', 'package', { amount: '2', package_size: 100, free_units: 100 }),
          charge('payments', 'payments', 'percentage', { rate: '1.5', fixed_amount: '0.25', free_units_per_events: 3 }),
        ] },
      { code: 'starter', name: 'Starter', interval: 'monthly', amount_currency: 'EUR', amount_cents: 1900,
        pay_in_advance: false, tax_codes: ['vat'],
        charges: [
          charge('api_calls', 'api_calls', 'standard', { amount: '0.004' }),
          charge('storage', 'storage_gb', 'standard', { amount: '0.6' }),
          charge('sms', 'sms', 'standard', { amount: '0.03' }),
          charge('payments', 'payments', 'percentage', { rate: '2.5' }),
        ] },
    ],
    active: 0,
    compare: [0, 1],
    mode: 'numbers',
    numbers: {
      units: { api_calls: '120000', storage_gb: '140', sms: '2350', payments: '18500' },
      events: { payments: '220' },
      filters: { api_calls: { [filterSignature({ region: ['eu'] })]: '30000' } },
      groups: {},
      dynamic: {},
    },
    events: {
      start, now_day: 15, subscription: DEFAULT_SUBSCRIPTION, seed: 1,
      synthetic: {
        api_calls: { per_day: 400, trend: '2', min: 1, max: 1 },
        storage_gb: { per_day: 4, trend: '1', min: 20, max: 140 },
        sms: { per_day: 30, trend: '0', min: 1, max: 5 },
        payments: { per_day: 8, trend: '0', min: 20, max: 180 },
      },
    },
  };
}

export function charge(code, metric, model, properties, filters = []) {
  return {
    code, billable_metric_code: metric, charge_model: model, properties, filters,
    pay_in_advance: false, prorated: false, invoice_display_name: null, min_amount_cents: 0, tax_codes: [],
  };
}

/** A stable key of a filter's values (the numbers mode keys units per filter by it). */
export function filterSignature(values) {
  const keys = Object.keys(values || {}).sort();
  return keys.map((k) => `${k}=${[].concat(values[k]).map(String).sort().join('|')}`).join(';');
}

/** "region: eu, us; tier: gold" ↔ {region: ['eu','us'], tier: ['gold']}. */
export function parseFilterValues(text) {
  const out = {};
  for (const part of String(text || '').split(';')) {
    const [key, ...rest] = part.split(':');
    if (!key || !key.trim()) continue;
    out[key.trim()] = rest.join(':').split(',').map((v) => v.trim()).filter(Boolean);
  }
  return out;
}
export function filterValuesText(values) {
  return Object.entries(values || {}).map(([k, v]) => `${k}: ${[].concat(v).join(', ')}`).join('; ');
}

/** Fills what an older or hand-edited scenario lacks; never throws on junk. */
export function normalizeScenario(input) {
  const base = defaultScenario();
  const s = input && typeof input === 'object' ? input : {};
  const out = {
    v: SCENARIO_VERSION,
    taxes: Array.isArray(s.taxes) ? s.taxes.map((t) => ({ code: str(t.code), name: t.name ?? null, rate: str(t.rate ?? '0') })) : base.taxes,
    metrics: Array.isArray(s.metrics) ? s.metrics.map(normalizeMetric) : base.metrics,
    plans: Array.isArray(s.plans) && s.plans.length ? s.plans.slice(0, MAX_PLANS).map(normalizePlan) : base.plans,
    active: 0,
    compare: [],
    mode: s.mode === 'events' ? 'events' : 'numbers',
    numbers: {
      units: obj(s.numbers?.units), events: obj(s.numbers?.events), filters: obj(s.numbers?.filters),
      groups: obj(s.numbers?.groups), dynamic: obj(s.numbers?.dynamic),
    },
    events: { ...base.events, ...obj(s.events) },
  };
  out.events.synthetic = obj(s.events?.synthetic ?? base.events.synthetic);
  out.active = clampIndex(s.active, out.plans.length);
  out.compare = Array.isArray(s.compare)
    ? [...new Set(s.compare.map((i) => clampIndex(i, out.plans.length)))].slice(0, MAX_PLANS) : [];
  if (!out.events.subscription) out.events.subscription = DEFAULT_SUBSCRIPTION;
  return out;
}

function normalizeMetric(m) {
  return {
    code: str(m?.code), name: m?.name ?? null, aggregation_type: AGGREGATIONS.includes(m?.aggregation_type) ? m.aggregation_type : 'sum_agg',
    field_name: m?.field_name ?? null,
    filters: Array.isArray(m?.filters) ? m.filters.map((f) => ({ key: str(f.key), values: (f.values || []).map(String) })) : [],
  };
}

function normalizePlan(p) {
  return {
    code: str(p?.code), name: p?.name ?? '', interval: p?.interval ?? 'monthly', amount_currency: p?.amount_currency ?? 'EUR',
    amount_cents: p?.amount_cents ?? 0, pay_in_advance: !!p?.pay_in_advance,
    tax_codes: Array.isArray(p?.tax_codes) ? p.tax_codes.map(String) : [],
    charges: Array.isArray(p?.charges) ? p.charges.map(normalizeCharge) : [],
  };
}

function normalizeCharge(c) {
  return {
    code: c?.code ?? null, billable_metric_code: str(c?.billable_metric_code), charge_model: c?.charge_model ?? 'standard',
    properties: obj(c?.properties),
    filters: Array.isArray(c?.filters) ? c.filters.map((f) => ({
      values: obj(f.values), properties: f.properties ? obj(f.properties) : null, invoice_display_name: f.invoice_display_name ?? null,
    })) : [],
    pay_in_advance: !!c?.pay_in_advance, prorated: !!c?.prorated, invoice_display_name: c?.invoice_display_name ?? null,
    min_amount_cents: c?.min_amount_cents ?? 0, tax_codes: Array.isArray(c?.tax_codes) ? c.tax_codes.map(String) : [],
  };
}

const str = (v) => (v === null || v === undefined ? '' : String(v));
const obj = (v) => (v && typeof v === 'object' && !Array.isArray(v) ? structuredClone(v) : {});
const clampIndex = (i, n) => (Number.isInteger(i) && i >= 0 && i < n ? i : 0);

// ---------------------------------------------------------------------------------------------
// Lago JSON: import a `GET /plans/{code}` body, export a plan back
// ---------------------------------------------------------------------------------------------

/**
 * Reads a Lago plan body (`{plan: {...}}` as `GET /plans/{code}` answers, or the bare plan) into
 * the scenario. Returns `{plan, taxes, newMetrics, notes}`; throws an Error with a readable
 * message when the text is not a plan.
 */
export function importLagoPlan(text, scenario) {
  let body;
  try { body = JSON.parse(text); } catch (e) { throw new Error(`not JSON: ${e.message}`); }
  const plan = body && typeof body === 'object' && body.plan && typeof body.plan === 'object' ? body.plan : body;
  if (!plan || typeof plan !== 'object' || Array.isArray(plan)) throw new Error('expected {"plan": {...}} or a plan object');
  if (!plan.code) throw new Error('the plan has no "code"');
  const notes = [];
  const taxes = [];
  const addTax = (t) => {
    if (!t || !t.code) return;
    const known = scenario.taxes.find((x) => x.code === t.code) ?? taxes.find((x) => x.code === t.code);
    if (known && String(known.rate) !== String(t.rate)) {
      notes.push(`tax "${t.code}": the file says ${t.rate} %, the scenario keeps ${known.rate} %`);
    } else if (!known) {
      taxes.push({ code: String(t.code), name: t.name ?? null, rate: String(t.rate ?? '0') });
    }
  };
  (plan.taxes || []).forEach(addTax);
  const planTaxCodes = [...new Set([...(plan.tax_codes || []), ...(plan.taxes || []).map((t) => t.code)])].map(String);
  const metricCodes = new Set(scenario.metrics.map((m) => m.code));
  const newMetrics = [];
  const charges = (plan.charges || []).map((c, i) => {
    const metric = c.billable_metric_code ?? c.billable_metric?.code ?? c.billable_metric_id;
    if (!metric) throw new Error(`charges[${i}] has no billable_metric_code`);
    (c.taxes || []).forEach(addTax);
    if (!metricCodes.has(metric)) {
      metricCodes.add(metric);
      const filters = new Map();
      for (const f of c.filters || []) {
        for (const [key, values] of Object.entries(f.values || {})) {
          const set = filters.get(key) ?? new Set();
          [].concat(values).filter((v) => v !== '__ALL_FILTER_VALUES__').forEach((v) => set.add(String(v)));
          filters.set(key, set);
        }
      }
      newMetrics.push({
        code: String(metric), name: c.billable_metric?.name ?? String(metric),
        aggregation_type: c.billable_metric?.aggregation_type ?? 'sum_agg',
        field_name: c.billable_metric?.field_name ?? 'value',
        filters: [...filters].map(([key, set]) => ({ key, values: [...set] })),
      });
    }
    return normalizeCharge({
      ...c, billable_metric_code: metric,
      tax_codes: c.tax_codes ?? (c.taxes || []).map((t) => t.code),
    });
  });
  if (newMetrics.length) {
    notes.push(`Lago's plan body does not describe its billable metrics: ${newMetrics.map((m) => m.code).join(', ')} `
      + 'were added as sum_agg over the property "value"; check them under Billable metrics');
  }
  return {
    plan: normalizePlan({ ...plan, tax_codes: planTaxCodes, charges }),
    taxes, newMetrics, notes,
  };
}

/** Drops null/empty optional keys from charge properties (what Lago's API would store). */
export function cleanProperties(properties) {
  const out = {};
  for (const [k, v] of Object.entries(properties || {})) {
    if (v === null || v === undefined || v === '') continue;
    if (Array.isArray(v) && v.length === 0 && k === 'pricing_group_keys') continue;
    out[k] = v;
  }
  return out;
}

/** The plan as the engine's `upsertPlan` (and Lago's `POST /plans`' `plan`) takes it. */
export function planInput(plan) {
  return {
    code: plan.code, name: plan.name || plan.code, interval: plan.interval, amount_currency: plan.amount_currency,
    amount_cents: plan.amount_cents, pay_in_advance: plan.pay_in_advance, tax_codes: plan.tax_codes,
    charges: plan.charges.map((c) => ({
      code: c.code || null, billable_metric_code: c.billable_metric_code, charge_model: c.charge_model,
      properties: cleanProperties(c.properties),
      filters: c.filters.map((f) => ({
        values: f.values, properties: f.properties ? cleanProperties(f.properties) : cleanProperties(c.properties),
        invoice_display_name: f.invoice_display_name || null,
      })),
      pay_in_advance: c.pay_in_advance, prorated: c.prorated, invoice_display_name: c.invoice_display_name || null,
      min_amount_cents: c.min_amount_cents, tax_codes: c.tax_codes.length ? c.tax_codes : null,
    })),
  };
}

/**
 * `{plan: {...}}` in the shape `GET /plans/{code}` answers (minus Lago's ids and dates), with
 * each charge's and the plan's `taxes` spelled out, so the import above reads it back as is.
 */
export function exportLagoPlan(plan, scenario) {
  const taxesOf = (codes) => codes.map((code) => scenario.taxes.find((t) => t.code === code))
    .filter(Boolean).map((t) => ({ code: t.code, name: t.name || t.code, rate: Number(t.rate) }));
  const input = planInput(plan);
  return {
    plan: {
      ...input,
      charges: input.charges.map((c, i) => ({ ...c, tax_codes: undefined, taxes: taxesOf(plan.charges[i].tax_codes) })),
      tax_codes: undefined,
      taxes: taxesOf(plan.tax_codes),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// URL
// ---------------------------------------------------------------------------------------------

const b64url = (bytes) => {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
};
const unb64url = (text) => {
  const bin = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};

async function pipe(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

/** `s=<deflated>` (or `j=<plain>` where CompressionStream is missing) for the location hash. */
export async function encodeScenario(scenario) {
  const json = new TextEncoder().encode(JSON.stringify(scenario));
  if (typeof CompressionStream === 'function') {
    return `s=${b64url(await pipe(json, new CompressionStream('deflate-raw')))}`;
  }
  return `j=${b64url(json)}`;
}

/** The scenario of a location hash, or null (no scenario, or one that does not decode). */
export async function decodeScenario(hash) {
  const params = new URLSearchParams(String(hash || '').replace(/^#/, ''));
  try {
    if (params.has('s')) {
      const bytes = await pipe(unb64url(params.get('s')), new DecompressionStream('deflate-raw'));
      return normalizeScenario(JSON.parse(new TextDecoder().decode(bytes)));
    }
    if (params.has('j')) return normalizeScenario(JSON.parse(new TextDecoder().decode(unb64url(params.get('j')))));
  } catch {
    return null;
  }
  return null;
}
