// The benchmark's workload, shared by the engine (WASM and native), the JS peer and its
// recompute-from-events variant: an organisation with 10 billable metrics, one plan of 10 charges
// over them, one customer and one subscription, and a deterministic NDJSON stream of realistic
// Lago events for that subscription.
//
// The stream (see `generateNdjson`):
// * `transaction_id` uuid-like, `external_subscription_id`, `code`, `timestamp` in Unix seconds
//   (an integer JSON number), 2–3 properties per event (decimals as strings, integers as numbers,
//   as Lago clients send them);
// * time moves forward across June 1–20 2025 with up to a minute of jitter; 2% of the events
//   arrive late (up to 6 hours behind), and 0.05% belong to the previous period (late May) and so
//   must not count in June's usage;
// * 0.05% of the lines are client retries: an exact copy of a recent line (same transaction id),
//   which Lago refuses as a duplicate and which must be counted once.
import { mulberry32 as rng } from '../../www/lib/random.js';

export const NOW = '2025-06-20T12:00:00Z';
export const CUSTOMER = 'acme_corp';
export const SUBSCRIPTION = 'sub_acme_pro_2025';
export const PLAN = 'pro_usage';
export const REGION_VALUES = ['eu', 'us', 'ap'];

const JUNE_1 = Date.parse('2025-06-01T00:00:00Z') / 1000;
const SPAN = Date.parse(NOW) / 1000 - JUNE_1 - 6 * 3600; // events up to ~6 h before NOW

// metric code → [aggregation_type, field_name, weight in the stream]
export const METRICS = {
  api_calls: ['count_agg', null, 0.30],
  messages: ['count_agg', null, 0.12],
  tokens: ['sum_agg', 'tokens', 0.12],
  compute_ms: ['sum_agg', 'ms', 0.12],
  payments: ['sum_agg', 'amount', 0.08],
  active_users: ['unique_count_agg', 'user_id', 0.08],
  storage_gb: ['sum_agg', 'gb', 0.06],
  bandwidth_mb: ['sum_agg', 'mb', 0.06],
  seats: ['max_agg', 'seats', 0.03],
  gpu_level: ['latest_agg', 'level', 0.03],
};

/** Lago bodies (inner objects) of the billable metrics. */
export function metricBodies() {
  return Object.entries(METRICS).map(([code, [aggregation_type, field_name]]) => ({
    code,
    name: code.replace(/_/g, ' '),
    aggregation_type,
    ...(field_name ? { field_name } : {}),
    filters: [{ key: 'region', values: REGION_VALUES }],
  }));
}

/**
 * The plan: 10 charges — standard (with region filters), graduated (with a region filter),
 * volume, package, percentage (free events, per-transaction min/max), unique count, max, a
 * graduated charge with a pricing group (`model`), latest, and a 5-tier graduated count.
 */
export function planBody() {
  return {
    code: PLAN,
    name: 'Pro (usage)',
    interval: 'monthly',
    amount_cents: 0,
    amount_currency: 'EUR',
    pay_in_advance: false,
    charges: [
      {
        code: 'api_calls', billable_metric_code: 'api_calls', charge_model: 'standard',
        properties: { amount: '0.001' },
        filters: [
          { values: { region: ['eu'] }, properties: { amount: '0.0012' } },
          { values: { region: ['us'] }, properties: { amount: '0.0009' } },
        ],
      },
      {
        code: 'storage_gb', billable_metric_code: 'storage_gb', charge_model: 'graduated',
        properties: { graduated_ranges: [
          { from_value: 0, to_value: 100, per_unit_amount: '0.10', flat_amount: '0' },
          { from_value: 101, to_value: 1000, per_unit_amount: '0.08', flat_amount: '1' },
          { from_value: 1001, to_value: null, per_unit_amount: '0.05', flat_amount: '5' },
        ] },
        filters: [
          { values: { region: ['eu'] }, properties: { graduated_ranges: [
            { from_value: 0, to_value: 500, per_unit_amount: '0.12', flat_amount: '2' },
            { from_value: 501, to_value: null, per_unit_amount: '0.07', flat_amount: '0' },
          ] } },
        ],
      },
      {
        code: 'compute_ms', billable_metric_code: 'compute_ms', charge_model: 'volume',
        properties: { volume_ranges: [
          { from_value: 0, to_value: 1000000, per_unit_amount: '0.00001', flat_amount: '0' },
          { from_value: 1000001, to_value: 10000000, per_unit_amount: '0.000008', flat_amount: '5' },
          { from_value: 10000001, to_value: null, per_unit_amount: '0.000005', flat_amount: '20' },
        ] },
      },
      {
        code: 'bandwidth_mb', billable_metric_code: 'bandwidth_mb', charge_model: 'package',
        properties: { amount: '5', package_size: 1000, free_units: 100 },
      },
      {
        code: 'payments', billable_metric_code: 'payments', charge_model: 'percentage',
        properties: {
          rate: '1.2', fixed_amount: '0.10', free_units_per_events: 100,
          per_transaction_min_amount: '0.25', per_transaction_max_amount: '3.00',
        },
      },
      {
        code: 'active_users', billable_metric_code: 'active_users', charge_model: 'standard',
        properties: { amount: '0.50' },
      },
      {
        code: 'seats', billable_metric_code: 'seats', charge_model: 'standard',
        properties: { amount: '8' },
      },
      {
        code: 'tokens', billable_metric_code: 'tokens', charge_model: 'graduated',
        properties: {
          pricing_group_keys: ['model'],
          graduated_ranges: [
            { from_value: 0, to_value: 1000000, per_unit_amount: '0.000002', flat_amount: '0' },
            { from_value: 1000001, to_value: null, per_unit_amount: '0.0000015', flat_amount: '0' },
          ],
        },
      },
      {
        code: 'gpu_level', billable_metric_code: 'gpu_level', charge_model: 'standard',
        properties: { amount: '20' },
      },
      {
        code: 'messages', billable_metric_code: 'messages', charge_model: 'graduated',
        properties: { graduated_ranges: [
          { from_value: 0, to_value: 1000, per_unit_amount: '0', flat_amount: '0' },
          { from_value: 1001, to_value: 10000, per_unit_amount: '0.01', flat_amount: '0' },
          { from_value: 10001, to_value: 50000, per_unit_amount: '0.008', flat_amount: '0' },
          { from_value: 50001, to_value: 200000, per_unit_amount: '0.005', flat_amount: '10' },
          { from_value: 200001, to_value: null, per_unit_amount: '0.003', flat_amount: '50' },
        ] },
        filters: [{ values: { region: ['us'] }, properties: { graduated_ranges: [
          { from_value: 0, to_value: 5000, per_unit_amount: '0.012', flat_amount: '0' },
          { from_value: 5001, to_value: null, per_unit_amount: '0.006', flat_amount: '0' },
        ] } }],
      },
    ],
  };
}

/** Everything the engine is set up with (the native binary reads the same JSON). */
export function setupBodies() {
  return {
    now: NOW,
    metrics: metricBodies(),
    plan: planBody(),
    customer: { external_id: CUSTOMER, name: 'Acme Corp', currency: 'EUR', timezone: 'UTC' },
    subscription: {
      external_id: SUBSCRIPTION, external_customer_id: CUSTOMER, plan_code: PLAN,
      started_at: '2025-01-01T00:00:00Z', subscription_at: '2025-01-01T00:00:00Z',
      billing_time: 'calendar',
    },
    query: { external_customer_id: CUSTOMER, external_subscription_id: SUBSCRIPTION, now: NOW },
  };
}

/** Sets up a package `Engine` (JS API) with the workload's organisation. */
export function setupEngine(Engine) {
  const s = setupBodies();
  const engine = new Engine();
  for (const metric of s.metrics) engine.upsertBillableMetric(metric);
  engine.upsertPlan(s.plan);
  engine.upsertCustomer(s.customer);
  engine.upsertSubscription(s.subscription, s.now);
  return engine;
}


const ENDPOINTS = ['/v1/charges', '/v1/customers', '/v1/invoices', '/v1/refunds', '/v1/events'];
const CHANNELS = ['sms', 'email', 'push', 'whatsapp'];
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-sonnet', 'llama-3-70b'];
const REGION_WEIGHTS = [['eu', 0.45], ['us', 0.4], ['ap', 0.15]];

/**
 * `n` NDJSON lines (each `\n`-terminated, duplicates included: the text has `n` lines).
 * Returns `{ text, duplicates, previousPeriod, late }`.
 */
export function generateNdjson(n, seed = 20261121) {
  const random = rng(seed);
  const codes = Object.keys(METRICS);
  const cumulative = [];
  let acc = 0;
  for (const code of codes) cumulative.push((acc += METRICS[code][2]));
  const pick = (list) => list[Math.floor(random() * list.length)];
  const region = () => {
    const r = random();
    return r < REGION_WEIGHTS[0][1] ? 'eu' : r < REGION_WEIGHTS[0][1] + REGION_WEIGHTS[1][1] ? 'us' : 'ap';
  };
  const hex = (digits) => {
    let s = '';
    while (s.length < digits) s += Math.floor(random() * 0x100000000).toString(16).padStart(8, '0');
    return s.slice(0, digits);
  };
  const recent = []; // ring of recent lines, for client retries
  const parts = [];
  let duplicates = 0, previousPeriod = 0, late = 0;
  for (let i = 0; i < n; i++) {
    if (i > 10 && random() < 0.0005) {
      parts.push(recent[Math.floor(random() * recent.length)]);
      duplicates++;
      continue;
    }
    const r = random();
    let c = 0;
    while (c < codes.length - 1 && r >= cumulative[c]) c++;
    const code = codes[c];
    let ts = JUNE_1 + Math.floor((i / n) * SPAN) + Math.floor(random() * 60);
    const lateness = random();
    if (lateness < 0.0005) {
      ts = JUNE_1 - 1 - Math.floor(random() * 3 * 86400); // belongs to May
      previousPeriod++;
    } else if (lateness < 0.0205) {
      ts = Math.max(JUNE_1, ts - Math.floor(random() * 6 * 3600));
      late++;
    }
    let props;
    switch (code) {
      case 'api_calls': props = `{"region":"${region()}","endpoint":"${pick(ENDPOINTS)}"}`; break;
      case 'messages': props = `{"region":"${region()}","channel":"${pick(CHANNELS)}"}`; break;
      case 'tokens': props = `{"model":"${pick(MODELS)}","tokens":${1 + Math.floor(random() * 4000)},"region":"${region()}"}`; break;
      case 'compute_ms': props = `{"region":"${region()}","ms":${1 + Math.floor(random() * 2000)}}`; break;
      case 'payments': props = `{"amount":"${(1 + random() * 499).toFixed(2)}","region":"${region()}"}`; break;
      case 'active_users': props = `{"user_id":"usr_${Math.floor(random() * 5000)}","region":"${region()}"}`; break;
      case 'storage_gb': props = `{"region":"${region()}","gb":"${(random() * 2).toFixed(3)}"}`; break;
      case 'bandwidth_mb': props = `{"region":"${region()}","mb":"${(random() * 50).toFixed(2)}"}`; break;
      case 'seats': props = `{"seats":${1 + Math.floor(random() * 40)},"region":"${region()}"}`; break;
      case 'gpu_level': props = `{"level":"${(random() * 8).toFixed(1)}","region":"${region()}"}`; break;
    }
    const tx = `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
    const line = `{"transaction_id":"${tx}","external_subscription_id":"${SUBSCRIPTION}","code":"${code}","timestamp":${ts},"properties":${props}}\n`;
    parts.push(line);
    if (recent.length < 2000) recent.push(line);
    else recent[i % 2000] = line;
  }
  return { text: parts.join(''), duplicates, previousPeriod, late };
}

/**
 * Splits NDJSON text into chunks of about `bytes` bytes, at line ends (cheap: one indexOf per
 * chunk). Returns the chunk strings.
 */
export function chunkLines(text, bytes) {
  const chunks = [];
  let start = 0;
  while (start < text.length) {
    let end = start + bytes;
    if (end >= text.length) end = text.length;
    else {
      const nl = text.indexOf('\n', end);
      end = nl === -1 ? text.length : nl + 1;
    }
    chunks.push(text.slice(start, end));
    start = end;
  }
  return chunks;
}
