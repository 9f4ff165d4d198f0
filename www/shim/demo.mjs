// The demo organisation the shim starts with, so a first `GET /api/v1/customers` shows something:
// three customers on two plans that use the common charge models (standard with filters,
// graduated, package, percentage, volume), and 30 days of events up to `now`.
//
// Deterministic given `now`: values come from a seeded generator, timestamps are offsets back
// from `now`, and nothing here reads a clock.
import { mulberry32 } from '../lib/random.js';

const DAY_SECONDS = 86_400;
const EVENTS_DAYS = 30;

export const DEMO_TAXES = [{ code: 'vat', name: 'VAT', rate: '20', applied_to_organization: true }];

export const DEMO_METRICS = [
  { code: 'api_calls', name: 'API calls', aggregation_type: 'count_agg',
    filters: [{ key: 'region', values: ['eu', 'us'] }] },
  { code: 'storage_gb', name: 'Storage', aggregation_type: 'max_agg', field_name: 'gb' },
  { code: 'sms', name: 'SMS', aggregation_type: 'sum_agg', field_name: 'messages' },
  { code: 'payments', name: 'Payments', aggregation_type: 'sum_agg', field_name: 'amount' },
  { code: 'compute_hours', name: 'Compute hours', aggregation_type: 'sum_agg', field_name: 'hours' },
  { code: 'seats', name: 'Seats', aggregation_type: 'unique_count_agg', field_name: 'user_id' },
];

export const DEMO_PLANS = [
  { code: 'growth', name: 'Growth', interval: 'monthly', amount_cents: 4900, amount_currency: 'EUR',
    pay_in_advance: false,
    charges: [
      { code: 'api_calls', billable_metric_code: 'api_calls', charge_model: 'standard',
        properties: { amount: '0.002' },
        filters: [
          { values: { region: ['eu'] }, properties: { amount: '0.003' }, invoice_display_name: 'API calls (EU)' },
          { values: { region: ['us'] }, properties: { amount: '0.0025' }, invoice_display_name: 'API calls (US)' },
        ] },
      { code: 'storage', billable_metric_code: 'storage_gb', charge_model: 'graduated',
        properties: { graduated_ranges: [
          { from_value: 0, to_value: 10, per_unit_amount: '0', flat_amount: '0' },
          { from_value: 11, to_value: 100, per_unit_amount: '0.5', flat_amount: '1' },
          { from_value: 101, to_value: null, per_unit_amount: '0.25', flat_amount: '0' },
        ] } },
      { code: 'sms', billable_metric_code: 'sms', charge_model: 'package',
        properties: { amount: '2', package_size: 100, free_units: 100 } },
      { code: 'payments', billable_metric_code: 'payments', charge_model: 'percentage',
        properties: { rate: '1.5', fixed_amount: '0.25', free_units_per_events: 3 } },
      { code: 'compute', billable_metric_code: 'compute_hours', charge_model: 'volume',
        properties: { volume_ranges: [
          { from_value: 0, to_value: 100, per_unit_amount: '0.12', flat_amount: '0' },
          { from_value: 101, to_value: 500, per_unit_amount: '0.1', flat_amount: '0' },
          { from_value: 501, to_value: null, per_unit_amount: '0.08', flat_amount: '0' },
        ] } },
    ] },
  { code: 'starter', name: 'Starter', interval: 'monthly', amount_cents: 1900, amount_currency: 'EUR',
    pay_in_advance: false,
    charges: [
      { code: 'api_calls', billable_metric_code: 'api_calls', charge_model: 'standard', properties: { amount: '0.004' } },
      { code: 'seats', billable_metric_code: 'seats', charge_model: 'standard', properties: { amount: '8' } },
    ] },
];

export const DEMO_CUSTOMERS = [
  { external_id: 'acme', name: 'Acme Corp', timezone: 'UTC', currency: 'EUR' },
  { external_id: 'globex', name: 'Globex GmbH', timezone: 'Europe/Berlin', currency: 'EUR' },
  { external_id: 'initech', name: 'Initech Inc.', timezone: 'America/New_York', currency: 'EUR' },
];

/** Each demo customer's subscription: `sub_<customer>`. */
const PLAN_OF_CUSTOMER = { acme: 'growth', globex: 'growth', initech: 'starter' };

/**
 * Loads the demo organisation into an empty engine at `now` (ISO text). Subscriptions start on
 * the first day of the previous month (UTC), so past usage has a closed period.
 * Returns how many events were ingested.
 */
export function loadDemo(engine, now) {
  const now_ms = Date.parse(now);
  for (const tax of DEMO_TAXES) engine.upsertTax(tax);
  for (const metric of DEMO_METRICS) engine.upsertBillableMetric(metric);
  for (const plan of DEMO_PLANS) engine.upsertPlan(plan);
  const subscription_at = previousMonthStart(now_ms);
  let events_count = 0;
  DEMO_CUSTOMERS.forEach((customer, index) => {
    engine.upsertCustomer(customer);
    const plan_code = PLAN_OF_CUSTOMER[customer.external_id];
    const external_id = `sub_${customer.external_id}`;
    engine.upsertSubscription({ external_id, external_customer_id: customer.external_id, plan_code,
      billing_time: 'calendar', subscription_at }, now);
    // Each subscription's events go in before the next configuration change: a change freezes
    // every closed period, and events arriving later no longer count there.
    const events = demoEvents(external_id, plan_code, Math.floor(now_ms / 1000), 0x5eed + index);
    events_count += engine.ingestBulk(events.map((event) => JSON.stringify(event)).join('\n'), now);
  });
  return events_count;
}

/** Midnight UTC of the first day of the month before `now_ms`, as ISO text. */
function previousMonthStart(now_ms) {
  const now = new Date(now_ms);
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString();
}

/** A subscription's events over the `EVENTS_DAYS` days before `now_s` (Unix seconds), none after it. */
function demoEvents(external_subscription_id, plan_code, now_s, seed) {
  const random = mulberry32(seed);
  const pick = (min, max) => min + Math.floor(random() * (max - min + 1));
  const events = [];
  const add = (code, day_start_s, properties) => {
    const timestamp = day_start_s + pick(0, DAY_SECONDS - 1);
    if (timestamp > now_s) return;
    events.push({ transaction_id: `demo_${external_subscription_id}_${events.length}`,
      external_subscription_id, code, timestamp, properties });
  };
  for (let day = EVENTS_DAYS; day >= 1; day -= 1) {
    const day_start_s = now_s - day * DAY_SECONDS;
    for (let n = pick(8, 24); n > 0; n -= 1) add('api_calls', day_start_s, { region: ['eu', 'us', 'apac'][pick(0, 2)] });
    if (plan_code === 'starter') {
      if (random() < 0.2) add('seats', day_start_s, { user_id: `user_${pick(1, 9)}` });
      continue;
    }
    add('storage_gb', day_start_s, { gb: pick(5, 140) });
    add('sms', day_start_s, { messages: pick(10, 90) });
    for (let n = pick(0, 4); n > 0; n -= 1) add('payments', day_start_s, { amount: `${pick(5, 400)}.${pick(0, 99)}` });
    add('compute_hours', day_start_s, { hours: pick(4, 30) });
  }
  return events;
}

