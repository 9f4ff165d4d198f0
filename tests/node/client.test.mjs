// The REST emulator (www/shim/server.mjs) driven by Lago's official JavaScript client
// (lago-javascript-client 1.53.0), every response checked against Lago's OpenAPI file
// (tests/node/openapi.mjs). The shim starts empty (DEMO=0) on an ephemeral port with a frozen
// clock; the organisation below is built through the API, usage is checked in cents worked by
// hand, then every error status the API has. Run: `node --test tests/node/client.test.mjs`
// (needs pkg/ from scripts/build.sh). The deviations from the spec seen on the way are printed
// at the end as a markdown table.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client, getLagoError } from 'lago-javascript-client';
import * as usageCalc from '../../pkg/index.js';
import { createShim } from '../../www/shim/server.mjs';
import { responseErrors, deviations, deviationsMarkdown } from './openapi.mjs';

const KEY = 'usage-calc-test-key';
/** The API's body limit, read where the shim reads it (Lago's 1 MiB otherwise). */
const BODY_MAX_BYTES = typeof usageCalc.apiBodyMaxBytes === 'function' ? usageCalc.apiBodyMaxBytes() : 1_048_576;

// ---------------------------------------------------------------------------------------------
// The organisation (all built through the API; the clock is frozen at NOW)
// ---------------------------------------------------------------------------------------------
//
// NOW = 2026-11-15T12:00:00Z. November 2026 has 30 days; the calendar period holding NOW is
// 2026-11-01T00:00:00Z … 2026-11-30T23:59:59Z, issuing date 2026-11-30, and the projection ratio
// is ceil(14.5 days) / 30 = 15/30 = 0.5 exactly (the current day counts as passed).
//
// Taxes: vat_20 20 % (attached to acme through tax_codes); org_10 10 % applied to the
// organisation (the default for customers without taxes: globex); temp_tax (deleted).
//
// Metrics:            aggregation          charge in plan "pro" (EUR, monthly, 10.00 fee)
//   api_calls   "API calls"      count_agg  graduated: 0–10 at 1.00, 11–∞ at 0.50 (no flat)
//   compute     "Compute hours"  sum(hours) standard 0.10/h; filters region=eu 0.20, region=us 0.30
//               (metric filter region ∈ eu|us|apac)
//   payments    "Payments"       sum(amount) percentage 2 % + 0.30 per event
//   storage_gb  "Storage"        sum(gb)    package: 5.00 per started 10 GB
// charges_usage lists them by metric name, case-insensitively: API calls, Compute hours,
// Payments, Storage.
//
// Events of sub_acme in November:
//   api_calls  14 events (1 single + 13 in a batch)
//   compute    eu 3 + 4.5, us 2, no region 5, apac 1 (apac has no charge filter: default bucket)
//   payments   100 + 50.25
//   storage_gb 12 + "13.5" (a numeric string)
//
// Current usage (worked by hand):
//   api_calls  graduated on 14: 10 × 1.00 + 4 × 0.50 = 12.00                → 1200
//   compute    eu 7.5 × 0.20 = 1.50 (150), us 2 × 0.30 = 0.60 (60),
//              default (5 + 1) × 0.10 = 0.60 (60); units 15.5                 →  270
//   payments   150.25 × 2 % = 3.005, + 2 events × 0.30 = 0.60 → 3.605,
//              rounded half-up once per fee: 360.5 cents                      →  361
//   storage_gb 25.5 GB → ceil(25.5 / 10) = 3 packages × 5.00 = 15.00         → 1500
//   amount 1200 + 270 + 361 + 1500 = 3331; taxes 3331 × 20 % = 666.2 → 666; total 3997
//
// Projected usage (ratio 0.5; projected_units = round(units / 0.5, 2)):
//   api_calls  28.0: 10 × 1.00 + 18 × 0.50 = 19.00                          → 1900
//   compute    per filter (default bucket not projected): eu 15.0 × 0.20 = 3.00 (300),
//              us 4.0 × 0.30 = 1.20 (120), default 0; line 19.0 units      →  420
//   payments   percentage = current amount / ratio = 3.605 / 0.5 = 7.21; units 300.5 → 721
//   storage_gb 51.0 → ceil(5.1) = 6 packages × 5.00 = 30.00                 → 3000
//   projected_amount_cents 1900 + 420 + 721 + 3000 = 6041 (amount, taxes as current usage)
//
// globex (no tax of its own → org_10) on pro as sub_globex: 3 api_calls → 3 × 1.00 = 300,
// taxes 30, total 330; then terminated.
//
// Past usage: the clock moves to 2026-12-03T00:00:00Z, closing November: one period with
// acme's 3331 / 666 / 3997. A December event (1 api_call) is December's current usage:
// 100, taxes 20, total 120.

const NOW = '2026-11-15T12:00:00Z';
const DECEMBER = '2026-12-03T00:00:00Z';
const ts = (iso) => Date.parse(iso) / 1000;
/** Event timestamps as lago-api renders them (`iso8601(3)`: milliseconds). */
const ms = (iso) => iso.replace(/Z$/, '.000Z');

// ---------------------------------------------------------------------------------------------
// The shim and the capture of every response
// ---------------------------------------------------------------------------------------------

let shim;
let origin;
const failures = [];
const checked = [];

/** Checks one /api/v1 response against the spec; failures are collected, not thrown. */
function check(method, url, status, text) {
  const { pathname } = new URL(url);
  if (!pathname.startsWith('/api/v1')) return;
  const result = responseErrors(method, url, status, text);
  checked.push({ method, pathname, status, operation: result.operation });
  for (const e of result.errors) failures.push(`${result.operation} ${method} ${pathname} → ${status}: ${e.pointer || '/'} ${e.message}`);
}

/** fetch for the Lago client: every response is captured and validated centrally. */
async function capturingFetch(url, init = {}) {
  const response = await fetch(url, init);
  check(init.method ?? 'GET', String(url), response.status, await response.clone().text());
  return response;
}

/** Direct HTTP (malformed bodies, the clock): also validated when it is an /api/v1 call. */
async function raw(method, path, { body, key = KEY, headers = {} } = {}) {
  const response = await fetch(`${origin}${path}`, {
    method,
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body,
  });
  const text = await response.text();
  check(method, `${origin}${path}`, response.status, text);
  let json = null;
  try {
    json = JSON.parse(text);
  } catch { /* asserted by the caller */ }
  return { status: response.status, json, text };
}

const client = (key = KEY) => Client(key, { baseUrl: `${origin}/api/v1`, customFetch: capturingFetch });
let lago;

/** The error body of a rejected client call, with its status asserted. */
async function lagoError(promise, status, code) {
  let thrown;
  try {
    await promise;
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown, `expected HTTP ${status}, the call succeeded`);
  assert.equal(thrown.status, status, `HTTP status (body ${JSON.stringify(thrown.error)})`);
  const body = await getLagoError(thrown);
  assert.equal(body.status, status);
  if (code !== undefined) assert.equal(body.code, code);
  return body;
}

async function setClock(body) {
  const r = await raw('POST', '/__emulator/clock', { body: JSON.stringify(body) });
  assert.equal(r.status, 200, r.text);
  return r.json;
}

/** A test whose responses must all conform (a failure names the operation and pointer). */
function step(name, fn) {
  test(name, async () => {
    const start = failures.length;
    await fn();
    assert.deepEqual(failures.slice(start), [], 'responses that do not conform to the OpenAPI file');
  });
}

before(async () => {
  // Empty (no demo), any free port, the clock frozen at NOW; no access log in the test output.
  shim = await createShim({ port: 0, host: '127.0.0.1', demo: false, apiKey: KEY, emulatorNow: NOW, log: () => {} });
  origin = shim.url;
  lago = client();
});

after(async () => {
  await shim?.close();
});

// ---------------------------------------------------------------------------------------------
// The clock
// ---------------------------------------------------------------------------------------------

step('the emulator clock is frozen at NOW, and its endpoint needs the key', async () => {
  assert.equal((await raw('GET', '/__emulator/clock', { key: null })).status, 401);
  assert.equal((await raw('GET', '/__emulator/clock', { key: 'wrong' })).status, 401);
  const set = await setClock({ now: NOW });
  assert.equal(Date.parse(set.now), Date.parse(NOW));
  const got = await raw('GET', '/__emulator/clock');
  assert.equal(got.status, 200);
  assert.equal(Date.parse(got.json.now), Date.parse(NOW));
  assert.equal(got.json.mode, 'fixed');
  const bad = await raw('POST', '/__emulator/clock', { body: JSON.stringify({ now: 'tomorrow' }) });
  assert.equal(bad.status, 422);
});

// ---------------------------------------------------------------------------------------------
// Set-up through the API
// ---------------------------------------------------------------------------------------------

const metricIds = {};

step('taxes: create, find, list, update, delete', async () => {
  const vat = (await lago.taxes.createTax({ tax: { name: 'VAT 20', code: 'vat_20', rate: '20', applied_to_organization: false } })).data.tax;
  assert.equal(vat.code, 'vat_20');
  assert.equal(vat.rate, 20); // a number in responses, a string in input
  assert.equal(vat.applied_to_organization, false);
  const org = (await lago.taxes.createTax({ tax: { name: 'Org 10', code: 'org_10', rate: '10', applied_to_organization: true } })).data.tax;
  assert.equal(org.applied_to_organization, true);
  await lago.taxes.createTax({ tax: { name: 'Temp', code: 'temp_tax', rate: '5.5' } });

  const found = (await lago.taxes.findTax('vat_20')).data.tax;
  assert.equal(found.lago_id, vat.lago_id);
  const updated = (await lago.taxes.updateTax('temp_tax', { tax: { name: 'Temporary', rate: '7.5' } })).data.tax;
  assert.equal(updated.name, 'Temporary');
  assert.equal(updated.rate, 7.5);

  const list = (await lago.taxes.findAllTaxes({ page: 1, per_page: 10 })).data;
  assert.deepEqual(list.taxes.map((t) => t.code).sort(), ['org_10', 'temp_tax', 'vat_20']);
  assert.deepEqual(list.meta, { current_page: 1, next_page: null, prev_page: null, total_pages: 1, total_count: 3 });

  const deleted = (await lago.taxes.destroyTax('temp_tax')).data.tax;
  assert.equal(deleted.code, 'temp_tax');
  await lagoError(lago.taxes.findTax('temp_tax'), 404, 'tax_not_found');
  assert.equal((await lago.taxes.findAllTaxes({})).data.meta.total_count, 2);
});

step('billable metrics: count, sums, one with a filter; find, list, update, delete', async () => {
  const create = async (billable_metric) => (await lago.billableMetrics.createBillableMetric({ billable_metric })).data.billable_metric;
  const calls = await create({ name: 'API calls', code: 'api_calls', aggregation_type: 'count_agg' });
  const compute = await create({
    name: 'Compute hours', code: 'compute', aggregation_type: 'sum_agg', field_name: 'hours',
    filters: [{ key: 'region', values: ['eu', 'us', 'apac'] }],
  });
  const payments = await create({ name: 'Payments', code: 'payments', aggregation_type: 'sum_agg', field_name: 'amount' });
  const storage = await create({ name: 'Storage', code: 'storage_gb', aggregation_type: 'sum_agg', field_name: 'gb' });
  const temp = await create({ name: 'Temp', code: 'temp_metric', aggregation_type: 'max_agg', field_name: 'v' });
  Object.assign(metricIds, { calls: calls.lago_id, compute: compute.lago_id, payments: payments.lago_id, storage: storage.lago_id });

  assert.equal(calls.aggregation_type, 'count_agg');
  assert.equal(calls.recurring, false);
  assert.equal(compute.field_name, 'hours');
  assert.deepEqual(compute.filters.map(({ key, values }) => ({ key, values })), [{ key: 'region', values: ['eu', 'us', 'apac'] }]);

  const found = (await lago.billableMetrics.findBillableMetric('compute')).data.billable_metric;
  assert.equal(found.lago_id, compute.lago_id);
  const updated = (await lago.billableMetrics.updateBillableMetric('temp_metric', { billable_metric: { name: 'Temporary' } })).data.billable_metric;
  assert.equal(updated.name, 'Temporary');
  assert.equal(updated.lago_id, temp.lago_id);

  // Pagination: 5 metrics, 2 per page → 3 pages; the pages are disjoint and cover all.
  const pages = [];
  for (const page of [1, 2, 3]) pages.push((await lago.billableMetrics.findAllBillableMetrics({ page, per_page: 2 })).data);
  assert.deepEqual(pages.map((p) => p.billable_metrics.length), [2, 2, 1]);
  assert.deepEqual(pages[0].meta, { current_page: 1, next_page: 2, prev_page: null, total_pages: 3, total_count: 5 });
  assert.deepEqual(pages[1].meta, { current_page: 2, next_page: 3, prev_page: 1, total_pages: 3, total_count: 5 });
  assert.deepEqual(pages[2].meta, { current_page: 3, next_page: null, prev_page: 2, total_pages: 3, total_count: 5 });
  assert.deepEqual(pages.flatMap((p) => p.billable_metrics.map((m) => m.code)).sort(),
    ['api_calls', 'compute', 'payments', 'storage_gb', 'temp_metric']);

  assert.equal((await lago.billableMetrics.destroyBillableMetric('temp_metric')).data.billable_metric.code, 'temp_metric');
  await lagoError(lago.billableMetrics.findBillableMetric('temp_metric'), 404, 'billable_metric_not_found');
});

const proPlan = () => ({
  name: 'Pro', code: 'pro', interval: 'monthly', amount_cents: 1000, amount_currency: 'EUR', pay_in_advance: false,
  charges: [
    { billable_metric_id: metricIds.calls, code: 'calls', charge_model: 'graduated', properties: { graduated_ranges: [
      { from_value: 0, to_value: 10, per_unit_amount: '1', flat_amount: '0' },
      { from_value: 11, to_value: null, per_unit_amount: '0.5', flat_amount: '0' },
    ] } },
    { billable_metric_id: metricIds.compute, code: 'compute', charge_model: 'standard', properties: { amount: '0.10' },
      filters: [
        { invoice_display_name: 'EU', properties: { amount: '0.20' }, values: { region: ['eu'] } },
        { invoice_display_name: 'US', properties: { amount: '0.30' }, values: { region: ['us'] } },
      ] },
    { billable_metric_id: metricIds.payments, code: 'payments', charge_model: 'percentage', properties: { rate: '2', fixed_amount: '0.30' } },
    { billable_metric_id: metricIds.storage, code: 'storage', charge_model: 'package', properties: { amount: '5', package_size: 10, free_units: 0 } },
  ],
});

step('plans: graduated + standard with filters + percentage + package; find, list, update, delete', async () => {
  const plan = (await lago.plans.createPlan({ plan: proPlan() })).data.plan;
  assert.equal(plan.code, 'pro');
  assert.equal(plan.amount_cents, 1000);
  assert.deepEqual(plan.charges.map((c) => c.charge_model).sort(), ['graduated', 'package', 'percentage', 'standard']);
  const compute = plan.charges.find((c) => c.charge_model === 'standard');
  assert.equal(compute.billable_metric_code, 'compute');
  assert.equal(compute.lago_billable_metric_id, metricIds.compute);
  assert.deepEqual(compute.filters.map((f) => f.values), [{ region: ['eu'] }, { region: ['us'] }]);

  await lago.plans.createPlan({ plan: { name: 'Temp', code: 'temp_plan', interval: 'weekly', amount_cents: 0, amount_currency: 'EUR', pay_in_advance: false } });
  const updated = (await lago.plans.updatePlan('temp_plan', { plan: { name: 'Temporary' } })).data.plan;
  assert.equal(updated.name, 'Temporary');
  assert.equal((await lago.plans.findPlan('pro')).data.plan.lago_id, plan.lago_id);
  const list = (await lago.plans.findAllPlans({ page: 1, per_page: 1 })).data;
  assert.equal(list.plans.length, 1);
  assert.deepEqual(list.meta, { current_page: 1, next_page: 2, prev_page: null, total_pages: 2, total_count: 2 });
  assert.equal((await lago.plans.destroyPlan('temp_plan')).data.plan.code, 'temp_plan');
  await lagoError(lago.plans.findPlan('temp_plan'), 404, 'plan_not_found');
});

step('customers: create (an upsert), find, list with pagination, delete', async () => {
  const acme = (await lago.customers.createCustomer({ customer: { external_id: 'acme', name: 'Acme', currency: 'EUR', tax_codes: ['vat_20'] } })).data.customer;
  assert.equal(acme.external_id, 'acme');
  assert.equal(acme.applicable_timezone, 'UTC');
  assert.deepEqual(acme.taxes.map((t) => t.code), ['vat_20']);
  // POST again = update of the same customer (same lago_id), still 200.
  const again = (await lago.customers.createCustomer({ customer: { external_id: 'acme', name: 'Acme Corp' } })).data.customer;
  assert.equal(again.lago_id, acme.lago_id);
  assert.equal(again.name, 'Acme Corp');
  assert.deepEqual(again.taxes.map((t) => t.code), ['vat_20'], 'an update keeps the keys it does not give');

  for (const id of ['globex', 'initech', 'p1', 'p2']) await lago.customers.createCustomer({ customer: { external_id: id, name: id } });
  assert.equal((await lago.customers.findCustomer('globex')).data.customer.name, 'globex');

  // 5 customers, 2 per page.
  const pages = [];
  for (const page of [1, 2, 3]) pages.push((await lago.customers.findAllCustomers({ page, per_page: 2 })).data);
  assert.deepEqual(pages.map((p) => p.customers.length), [2, 2, 1]);
  assert.deepEqual(pages[1].meta, { current_page: 2, next_page: 3, prev_page: 1, total_pages: 3, total_count: 5 });
  assert.deepEqual(pages[2].meta, { current_page: 3, next_page: null, prev_page: 2, total_pages: 3, total_count: 5 });
  assert.deepEqual(pages.flatMap((p) => p.customers.map((c) => c.external_id)).sort(), ['acme', 'globex', 'initech', 'p1', 'p2']);

  const deleted = (await lago.customers.destroyCustomer('initech')).data.customer;
  assert.equal(deleted.external_id, 'initech');
  await lagoError(lago.customers.findCustomer('initech'), 404, 'customer_not_found');
  assert.equal((await lago.customers.findAllCustomers({})).data.meta.total_count, 4);
});

step('subscriptions: create, find, list; an unknown plan is a 404', async () => {
  const create = async (subscription) => (await lago.subscriptions.createSubscription({ subscription })).data.subscription;
  const acme = await create({ external_customer_id: 'acme', plan_code: 'pro', external_id: 'sub_acme', billing_time: 'calendar', subscription_at: '2026-11-01T00:00:00Z' });
  assert.equal(acme.status, 'active');
  assert.equal(acme.plan_code, 'pro');
  assert.equal(acme.external_customer_id, 'acme');
  assert.equal(acme.started_at, '2026-11-01T00:00:00Z');
  assert.equal(acme.billing_time, 'calendar');
  await create({ external_customer_id: 'globex', plan_code: 'pro', external_id: 'sub_globex', billing_time: 'calendar', subscription_at: '2026-11-01T00:00:00Z' });

  assert.equal((await lago.subscriptions.findSubscription('sub_acme', {})).data.subscription.lago_id, acme.lago_id);
  const list = (await lago.subscriptions.findAllSubscriptions({ page: 1, per_page: 10 })).data;
  assert.deepEqual(list.subscriptions.map((s) => s.external_id).sort(), ['sub_acme', 'sub_globex']);
  assert.equal(list.meta.total_count, 2);
  const mine = (await lago.customers.findAllCustomerSubscriptions('acme', {})).data;
  assert.deepEqual(mine.subscriptions.map((s) => s.external_id), ['sub_acme']);

  await lagoError(create({ external_customer_id: 'acme', plan_code: 'nope', external_id: 'sub_x' }), 404, 'plan_not_found');
});

step('GET /subscriptions/{id}/charges lists the plan\'s charges, paginated', async () => {
  const all = (await lago.subscriptions.findAllSubscriptionCharges('sub_acme', { page: 1, per_page: 10 })).data;
  assert.deepEqual(all.charges.map((c) => c.billable_metric_code).sort(), ['api_calls', 'compute', 'payments', 'storage_gb']);
  assert.deepEqual(all.meta, { current_page: 1, next_page: null, prev_page: null, total_pages: 1, total_count: 4 });
  const graduated = all.charges.find((c) => c.charge_model === 'graduated');
  assert.equal(graduated.properties.graduated_ranges[1].per_unit_amount, '0.5');
  const page2 = (await lago.subscriptions.findAllSubscriptionCharges('sub_acme', { page: 2, per_page: 3 })).data;
  assert.equal(page2.charges.length, 1);
  assert.deepEqual(page2.meta, { current_page: 2, next_page: null, prev_page: 1, total_pages: 2, total_count: 4 });
  const one = (await lago.subscriptions.findSubscriptionCharge('sub_acme', 'storage', {})).data.charge;
  assert.equal(one.charge_model, 'package');
  await lagoError(lago.subscriptions.findAllSubscriptionCharges('nope', {}), 404, 'subscription_not_found');
  await lagoError(lago.subscriptions.findSubscriptionCharge('sub_acme', 'nope', {}), 404, 'charge_not_found');
});

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

const at = (day, hour = 10) => ts(`2026-11-${String(day).padStart(2, '0')}T${String(hour).padStart(2, '0')}:00:00Z`);
const event = (transaction_id, code, timestamp, properties) => ({ transaction_id, external_subscription_id: 'sub_acme', code, timestamp, properties });

step('events: one, a batch, duplicates (single and in a batch, all or nothing), defaults', async () => {
  const one = (await lago.events.createEvent({ event: event('call_1', 'api_calls', at(2)) })).data.event;
  assert.equal(one.transaction_id, 'call_1');
  assert.equal(one.timestamp, ms('2026-11-02T10:00:00Z'));
  assert.equal(one.external_subscription_id, 'sub_acme');

  const batch = [];
  for (let i = 2; i <= 14; i += 1) batch.push(event(`call_${i}`, 'api_calls', at(2 + (i % 10), i % 12)));
  batch.push(
    event('cp_1', 'compute', at(3), { region: 'eu', hours: 3 }),
    event('cp_2', 'compute', at(4), { region: 'eu', hours: '4.5' }),
    event('cp_3', 'compute', String(at(5)), { region: 'us', hours: 2 }), // timestamp as a string
    event('cp_4', 'compute', at(6), { hours: 5 }),
    event('cp_5', 'compute', at(7), { region: 'apac', hours: 1 }),
    event('pay_1', 'payments', at(8), { amount: 100 }),
    event('pay_2', 'payments', at(9), { amount: '50.25' }),
    event('st_1', 'storage_gb', at(10), { gb: 12 }),
    event('st_2', 'storage_gb', at(11), { gb: '13.5' }),
  );
  const created = (await lago.events.createBatchEvents({ events: batch })).data.events;
  assert.equal(created.length, 22);
  assert.deepEqual(created.map((e) => e.transaction_id), batch.map((e) => e.transaction_id));

  // A repeated transaction id is refused (Postgres event store).
  const dup = await lagoError(lago.events.createEvent({ event: event('call_1', 'api_calls', at(3)) }), 422, 'validation_errors');
  assert.deepEqual(dup.error_details, { transaction_id: ['value_already_exist'] });
  // A batch with one duplicate (index 1) is refused whole: call_15 is not stored.
  const dupBatch = await lagoError(lago.events.createBatchEvents({ events: [event('call_15', 'api_calls', at(3)), event('call_3', 'api_calls', at(3))] }), 422, 'validation_errors');
  assert.deepEqual(dupBatch.error_details, { 1: { transaction_id: ['value_already_exist'] } });
  await lagoError(lago.events.findEvent('call_15'), 404, 'event_not_found');
  // An unreadable timestamp.
  const bad = await lagoError(lago.events.createEvent({ event: event('bad_ts', 'api_calls', 'yesterday') }), 422, 'validation_errors');
  assert.deepEqual(bad.error_details, { timestamp: ['invalid_format'] });

  // No timestamp: the event happens at the (frozen) emulator clock. An unknown code is stored
  // and ignored by usage.
  const untimed = (await lago.events.createEvent({ event: { transaction_id: 'untimed', external_subscription_id: 'sub_acme', code: 'not_a_metric' } })).data.event;
  assert.equal(untimed.timestamp, ms(NOW));

  // globex: 3 api calls.
  await lago.events.createBatchEvents({ events: [1, 2, 3].map((i) => ({ ...event(`g_${i}`, 'api_calls', at(i + 1)), external_subscription_id: 'sub_globex' })) });
});

step('GET /events and GET /events/{transaction_id}', async () => {
  const found = (await lago.events.findEvent('pay_2')).data.event;
  assert.equal(found.code, 'payments');
  assert.equal(found.timestamp, ms('2026-11-09T10:00:00Z'));
  assert.deepEqual(found.properties, { amount: '50.25' });
  assert.equal(found.external_subscription_id, 'sub_acme');

  // sub_acme has 14 api_calls events: 5 per page → 3 pages.
  const page = (await lago.events.findAllEvents({ external_subscription_id: 'sub_acme', code: 'api_calls', page: 3, per_page: 5 })).data;
  assert.equal(page.events.length, 4);
  assert.ok(page.events.every((e) => e.code === 'api_calls' && e.external_subscription_id === 'sub_acme'));
  assert.deepEqual(page.meta, { current_page: 3, next_page: null, prev_page: 2, total_pages: 3, total_count: 14 });
  // All events: 24 of sub_acme (call_1, the batch of 22, the untimed one) + 3 of sub_globex.
  assert.equal((await lago.events.findAllEvents({ per_page: 1 })).data.meta.total_count, 27);
});

// ---------------------------------------------------------------------------------------------
// Usage
// ---------------------------------------------------------------------------------------------

const byCode = (lines) => Object.fromEntries(lines.map((l) => [l.billable_metric.code, l]));

step('current usage of acme, cents worked by hand (see the header)', async () => {
  const usage = (await lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'sub_acme' })).data.customer_usage;
  assert.equal(usage.from_datetime, '2026-11-01T00:00:00Z');
  assert.equal(usage.to_datetime, '2026-11-30T23:59:59Z');
  assert.equal(usage.issuing_date, '2026-11-30');
  assert.equal(usage.currency, 'EUR');
  assert.equal(usage.lago_invoice_id, null);
  assert.equal(usage.amount_cents, 3331);
  assert.equal(usage.taxes_amount_cents, 666); // 3331 × 20 % = 666.2
  assert.equal(usage.total_amount_cents, 3997);
  // Sorted by metric name, case-insensitively.
  assert.deepEqual(usage.charges_usage.map((l) => l.billable_metric.code), ['api_calls', 'compute', 'payments', 'storage_gb']);

  const c = byCode(usage.charges_usage);
  assert.deepEqual([c.api_calls.units, c.api_calls.events_count, c.api_calls.amount_cents], ['14.0', 14, 1200]);
  assert.deepEqual([c.compute.units, c.compute.events_count, c.compute.amount_cents], ['15.5', 5, 270]);
  assert.deepEqual([c.payments.units, c.payments.events_count, c.payments.amount_cents], ['150.25', 2, 361]);
  assert.deepEqual([c.storage_gb.units, c.storage_gb.events_count, c.storage_gb.amount_cents], ['25.5', 2, 1500]);
  assert.equal(c.api_calls.charge.charge_model, 'graduated');
  assert.equal(c.api_calls.amount_currency, 'EUR');
  assert.deepEqual(c.api_calls.filters, []);
  assert.deepEqual(c.api_calls.grouped_usage, []);

  // Filters of compute: eu, us (creation order), then the default bucket (values null).
  assert.deepEqual(c.compute.filters.map((f) => [f.values, f.units, f.events_count, f.amount_cents, f.invoice_display_name]), [
    [{ region: ['eu'] }, '7.5', 2, 150, 'EU'],
    [{ region: ['us'] }, '2.0', 1, 60, 'US'],
    [null, '6.0', 2, 60, null],
  ]);

  // apply_taxes=false: no taxes.
  const untaxed = (await lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'sub_acme', apply_taxes: false })).data.customer_usage;
  assert.deepEqual([untaxed.amount_cents, untaxed.taxes_amount_cents, untaxed.total_amount_cents], [3331, 0, 3331]);
  // One metric only: 1200, taxes 240, total 1440.
  const calls = (await lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'sub_acme', billable_metric_code: 'api_calls' })).data.customer_usage;
  assert.deepEqual(calls.charges_usage.map((l) => l.billable_metric.code), ['api_calls']);
  assert.deepEqual([calls.amount_cents, calls.taxes_amount_cents, calls.total_amount_cents], [1200, 240, 1440]);
});

step('current usage of globex uses the organisation tax (10 %)', async () => {
  const usage = (await lago.customers.findCustomerCurrentUsage('globex', { external_subscription_id: 'sub_globex' })).data.customer_usage;
  // 3 calls in the first tier: 3 × 1.00 = 300; 10 % → 30.
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [300, 30, 330]);
  assert.equal(byCode(usage.charges_usage).compute.amount_cents, 0);
});

step('projected usage of acme at ratio 15/30 (see the header)', async () => {
  const usage = (await lago.customers.findCustomerProjectedUsage('acme', { external_subscription_id: 'sub_acme' })).data.customer_projected_usage;
  assert.equal(usage.from_datetime, '2026-11-01T00:00:00Z');
  assert.equal(usage.to_datetime, '2026-11-30T23:59:59Z');
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [3331, 666, 3997]);
  assert.equal(usage.projected_amount_cents, 6041);
  const c = byCode(usage.charges_usage);
  assert.deepEqual([c.api_calls.projected_units, c.api_calls.projected_amount_cents], ['28.0', 1900]);
  assert.deepEqual([c.compute.projected_units, c.compute.projected_amount_cents], ['19.0', 420]);
  assert.deepEqual([c.payments.projected_units, c.payments.projected_amount_cents], ['300.5', 721]);
  assert.deepEqual([c.storage_gb.projected_units, c.storage_gb.projected_amount_cents], ['51.0', 3000]);
  assert.deepEqual(c.compute.filters.map((f) => [f.values, f.projected_units, f.projected_amount_cents]), [
    [{ region: ['eu'] }, '15.0', 300],
    [{ region: ['us'] }, '4.0', 120],
    [null, '0.0', 0],
  ]);
  assert.ok(!('total_aggregated_units' in c.api_calls), 'projected lines have no total_aggregated_units');
});

step('coupons and applied coupons: CRUD; usage does not change', async () => {
  const coupon = (await lago.coupons.createCoupon({ coupon: {
    name: 'Ten off', code: 'ten_off', coupon_type: 'fixed_amount', amount_cents: 1000, amount_currency: 'EUR',
    reusable: true, frequency: 'once', expiration: 'no_expiration',
  } })).data.coupon;
  assert.equal(coupon.code, 'ten_off');
  assert.equal(coupon.amount_cents, 1000);
  assert.equal(coupon.limited_plans, false);
  const pct = (await lago.coupons.createCoupon({ coupon: {
    name: 'Five pct', code: 'five_pct', coupon_type: 'percentage', percentage_rate: '5', reusable: false,
    frequency: 'recurring', frequency_duration: 3, expiration: 'time_limit', expiration_at: '2027-01-01T00:00:00Z',
  } })).data.coupon;
  assert.equal(pct.coupon_type, 'percentage');
  assert.equal(pct.frequency_duration, 3);
  assert.equal((await lago.coupons.findCoupon('ten_off')).data.coupon.lago_id, coupon.lago_id);
  assert.equal((await lago.coupons.updateCoupon('five_pct', { coupon: { name: 'Five percent' } })).data.coupon.name, 'Five percent');
  const list = (await lago.coupons.findAllCoupons({ page: 1, per_page: 1 })).data;
  assert.deepEqual(list.meta, { current_page: 1, next_page: 2, prev_page: null, total_pages: 2, total_count: 2 });

  const applied = (await lago.appliedCoupons.applyCoupon({ applied_coupon: { external_customer_id: 'acme', coupon_code: 'ten_off' } })).data.applied_coupon;
  assert.equal(applied.coupon_code, 'ten_off');
  assert.equal(applied.external_customer_id, 'acme');
  assert.equal(applied.status, 'active');
  assert.equal(applied.amount_cents, 1000);
  const all = (await lago.appliedCoupons.findAllAppliedCoupons({ external_customer_id: 'acme' })).data;
  assert.deepEqual(all.applied_coupons.map((a) => a.lago_id), [applied.lago_id]);
  const mine = (await lago.customers.findAllCustomerAppliedCoupons('acme', {})).data;
  assert.deepEqual(mine.applied_coupons.map((a) => a.lago_id), [applied.lago_id]);
  await lagoError(lago.appliedCoupons.applyCoupon({ applied_coupon: { external_customer_id: 'acme', coupon_code: 'nope' } }), 404, 'coupon_not_found');

  // Coupons apply on invoices, never on current usage.
  const usage = (await lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'sub_acme' })).data.customer_usage;
  assert.equal(usage.amount_cents, 3331);

  const removed = (await lago.customers.deleteAppliedCoupon('acme', applied.lago_id)).data.applied_coupon;
  assert.equal(removed.lago_id, applied.lago_id);
  assert.equal(removed.status, 'terminated');
  assert.equal(removed.terminated_at, NOW);
  await lagoError(lago.customers.deleteAppliedCoupon('acme', '00000000-0000-4000-8000-000000000000'), 404, 'applied_coupon_not_found');
  await lagoError(lago.customers.deleteAppliedCoupon('nobody', applied.lago_id), 404, 'customer_not_found');

  assert.equal((await lago.coupons.destroyCoupon('five_pct')).data.coupon.code, 'five_pct');
  await lagoError(lago.coupons.findCoupon('five_pct'), 404, 'coupon_not_found');
});

step('a coupon\'s percentage_rate is rendered as Lago\'s BigDecimal string ("5.0")', async () => {
  // lago-api stores percentage_rate as a decimal and Rails renders BigDecimal#to_s: "5.0".
  const created = (await lago.coupons.createCoupon({ coupon: {
    name: 'Rate', code: 'rate_check', coupon_type: 'percentage', percentage_rate: '5', reusable: true,
    frequency: 'once', expiration: 'no_expiration',
  } })).data.coupon;
  assert.equal(created.percentage_rate, '5.0');
});

step('portal_url and checkout_url', async () => {
  const portal = (await lago.customers.getCustomerPortalUrl('acme')).data.customer;
  assert.match(portal.portal_url, /^https?:\/\/\S+$/);
  await lagoError(lago.customers.getCustomerPortalUrl('nobody'), 404, 'customer_not_found');
  // acme has no payment provider: Lago answers 422 base: no_linked_payment_provider.
  const checkout = await lagoError(lago.customers.generateCustomerCheckoutUrl('acme'), 422, 'validation_errors');
  assert.deepEqual(checkout.error_details, { base: ['no_linked_payment_provider'] });
  await lagoError(lago.customers.generateCustomerCheckoutUrl('nobody'), 404, 'customer_not_found');
});

step('terminating a subscription: 200 terminated, then usage is a 405 no_active_subscription', async () => {
  const terminated = (await lago.subscriptions.destroySubscription('sub_globex', {})).data.subscription;
  assert.equal(terminated.status, 'terminated');
  assert.equal(terminated.terminated_at, NOW);
  await lagoError(lago.customers.findCustomerCurrentUsage('globex', { external_subscription_id: 'sub_globex' }), 405, 'no_active_subscription');
  await lagoError(lago.customers.findCustomerProjectedUsage('globex', { external_subscription_id: 'sub_globex' }), 405, 'no_active_subscription');
  // Another customer's subscription is not active *for acme*.
  await lagoError(lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'sub_globex' }), 405, 'no_active_subscription');
  await lagoError(lago.subscriptions.destroySubscription('nope', {}), 404, 'subscription_not_found');
});

step('past usage: the clock moves into December, closing November', async () => {
  // Before: no closed period yet.
  const none = (await lago.customers.findAllCustomerPastUsage('acme', { external_subscription_id: 'sub_acme' })).data;
  assert.deepEqual(none.usage_periods, []);
  assert.deepEqual(none.meta, { current_page: 0, next_page: null, prev_page: null, total_pages: 0, total_count: 0 });

  assert.equal(Date.parse((await setClock({ now: DECEMBER })).now), Date.parse(DECEMBER));
  const past = (await lago.customers.findAllCustomerPastUsage('acme', { external_subscription_id: 'sub_acme', periods_count: 2 })).data;
  assert.equal(past.usage_periods.length, 1);
  const [november] = past.usage_periods;
  assert.equal(november.from_datetime, '2026-11-01T00:00:00Z');
  assert.equal(november.to_datetime, '2026-11-30T23:59:59Z');
  assert.deepEqual([november.amount_cents, november.taxes_amount_cents, november.total_amount_cents], [3331, 666, 3997]);
  const c = byCode(november.charges_usage);
  assert.deepEqual(Object.keys(c).sort(), ['api_calls', 'compute', 'payments', 'storage_gb']);
  assert.deepEqual([c.api_calls.amount_cents, c.compute.amount_cents, c.payments.amount_cents, c.storage_gb.amount_cents], [1200, 270, 361, 1500]);
  assert.deepEqual(past.meta, { current_page: 1, next_page: null, prev_page: null, total_pages: 1, total_count: 1 });

  const onlyPayments = (await lago.customers.findAllCustomerPastUsage('acme', { external_subscription_id: 'sub_acme', billable_metric_code: 'payments' })).data;
  assert.deepEqual(onlyPayments.usage_periods[0].charges_usage.map((l) => [l.billable_metric.code, l.amount_cents]), [['payments', 361]]);
  await lagoError(lago.customers.findAllCustomerPastUsage('acme', { external_subscription_id: 'sub_acme', billable_metric_code: 'nope' }), 404, 'billable_metric_not_found');

  // December's current usage starts empty; one call on Dec 2 → 1 × 1.00 = 100, taxes 20.
  await lago.events.createEvent({ event: event('dec_1', 'api_calls', ts('2026-12-02T08:00:00Z')) });
  const december = (await lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'sub_acme' })).data.customer_usage;
  assert.equal(december.from_datetime, '2026-12-01T00:00:00Z');
  assert.equal(december.to_datetime, '2026-12-31T23:59:59Z');
  assert.deepEqual([december.amount_cents, december.taxes_amount_cents, december.total_amount_cents], [100, 20, 120]);
  assert.equal(byCode(december.charges_usage).storage_gb.units, '0.0');

  // The clock also advances and returns to real time.
  assert.equal(Date.parse((await setClock({ advance_seconds: 3600 })).now), Date.parse('2026-12-03T01:00:00Z'));
  const real = await setClock({ real: true });
  assert.ok(Math.abs(Date.parse(real.now) - Date.now()) < 60_000, `real clock: ${real.now}`);
  await setClock({ now: DECEMBER });
});

// ---------------------------------------------------------------------------------------------
// Every error status
// ---------------------------------------------------------------------------------------------

step('401: no key (the client sends no header), a wrong key', async () => {
  const none = await lagoError(client('').customers.findAllCustomers({}), 401);
  assert.deepEqual(none, { status: 401, error: 'Unauthorized' });
  const wrong = await lagoError(client('not-the-key').customers.findCustomer('acme'), 401);
  assert.deepEqual(wrong, { status: 401, error: 'Unauthorized' });
  assert.equal((await raw('GET', '/api/v1/customers', { headers: { Authorization: 'Bearer' }, key: null })).status, 401);
});

step('404 <resource>_not_found on every kind of record', async () => {
  await lagoError(lago.customers.findCustomer('nobody'), 404, 'customer_not_found');
  await lagoError(lago.customers.destroyCustomer('nobody'), 404, 'customer_not_found');
  await lagoError(lago.customers.findCustomerCurrentUsage('nobody', { external_subscription_id: 'sub_acme' }), 404, 'customer_not_found');
  await lagoError(lago.customers.findCustomerProjectedUsage('initech', { external_subscription_id: 'sub_acme' }), 404, 'customer_not_found');
  await lagoError(lago.subscriptions.findSubscription('nope', {}), 404, 'subscription_not_found');
  await lagoError(lago.plans.findPlan('nope'), 404, 'plan_not_found');
  await lagoError(lago.billableMetrics.findBillableMetric('nope'), 404, 'billable_metric_not_found');
  await lagoError(lago.taxes.findTax('nope'), 404, 'tax_not_found');
  await lagoError(lago.coupons.findCoupon('nope'), 404, 'coupon_not_found');
  await lagoError(lago.events.findEvent('nope'), 404, 'event_not_found');
  await lagoError(lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'sub_acme', charge_code: 'nope' }), 404, 'charge_not_found');
});

step('422 validation_errors with error_details naming the field', async () => {
  const noId = await lagoError(lago.customers.createCustomer({ customer: { name: 'No id' } }), 422, 'validation_errors');
  assert.deepEqual(noId.error_details, { external_id: ['value_is_mandatory'] });
  const taken = await lagoError(lago.billableMetrics.createBillableMetric({ billable_metric: { name: 'Again', code: 'api_calls', aggregation_type: 'count_agg' } }), 422, 'validation_errors');
  assert.deepEqual(taken.error_details, { code: ['value_already_exist'] });
  const noField = await lagoError(lago.billableMetrics.createBillableMetric({ billable_metric: { name: 'S', code: 's', aggregation_type: 'sum_agg' } }), 422, 'validation_errors');
  assert.deepEqual(noField.error_details, { field_name: ['value_is_mandatory'] });
  const noSub = await lagoError(lago.customers.findAllCustomerPastUsage('acme', {}), 422, 'validation_errors');
  assert.deepEqual(noSub.error_details, { external_subscription_id: ['value_is_mandatory'] });
  // A package of size 0 names the charge's property.
  const pkg = await lagoError(lago.plans.createPlan({ plan: { ...proPlan(), code: 'bad', charges: [
    { billable_metric_id: metricIds.storage, charge_model: 'package', properties: { amount: '5', package_size: 0 } }] } }), 422, 'validation_errors');
  const fields = Object.keys(pkg.error_details);
  assert.ok(fields.some((f) => f.includes('package_size')), `error_details ${JSON.stringify(pkg.error_details)}`);
});

step('405 no_active_subscription (customer exists, subscription not active for it)', async () => {
  await lagoError(lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'nope' }), 405, 'no_active_subscription');
  await lagoError(lago.customers.findCustomerProjectedUsage('acme', { external_subscription_id: 'nope' }), 405, 'no_active_subscription');
});

step('400: a body that is not JSON, and a body without its root key', async () => {
  const malformed = await raw('POST', '/api/v1/customers', { body: '{"customer": {"external_id": ' });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.json.status, 400);
  const rootless = await raw('POST', '/api/v1/customers', { body: '{}' });
  assert.equal(rootless.status, 400);
  assert.match(rootless.json.error, /customer/);
});

step('404 for a route that does not exist (lago-api: resource_not_found from its catch-all route)', async () => {
  const r = await raw('GET', '/api/v1/not_a_route');
  assert.equal(r.status, 404);
  assert.deepEqual(r.json, { status: 404, error: 'Not Found', code: 'resource_not_found' });
});

step('413 for a body over the size limit; a body of exactly the limit is accepted', async () => {
  // JSON whitespace pads the body to the byte, so no field length limit is involved.
  const padded = (id, bytes) => {
    const json = JSON.stringify({ customer: { external_id: id } });
    return json.slice(0, -1) + ' '.repeat(bytes - json.length) + '}';
  };
  const atLimit = await raw('POST', '/api/v1/customers', { body: padded('at_limit', BODY_MAX_BYTES) });
  assert.equal(atLimit.status, 200, atLimit.text.slice(0, 200));
  assert.equal(atLimit.json.customer.external_id, 'at_limit');
  const over = await raw('POST', '/api/v1/customers', { body: padded('over_limit', BODY_MAX_BYTES + 1) });
  assert.equal(over.status, 413);
  assert.equal(over.json.status, 413);
  await lagoError(lago.customers.findCustomer('over_limit'), 404, 'customer_not_found');
});

step('403 projected_usage_not_enabled once the organisation turns the integration off', async () => {
  // PUT /organizations is Lago's updateOrganization (outside the filtered spec); the emulator
  // reads the organisation's `premium_integrations` there (Lago sets them by licence).
  const off = await lago.organizations.updateOrganization({ organization: { premium_integrations: ['granular_lifetime_usage'] } });
  assert.equal(off.status, 200);
  const forbidden = await lagoError(lago.customers.findCustomerProjectedUsage('acme', { external_subscription_id: 'sub_acme' }), 403, 'projected_usage_not_enabled');
  assert.deepEqual(forbidden, { status: 403, error: 'Forbidden', code: 'projected_usage_not_enabled' });
  // Current usage does not need it (December: 1 call → 100).
  assert.equal((await lago.customers.findCustomerCurrentUsage('acme', { external_subscription_id: 'sub_acme' })).data.customer_usage.amount_cents, 100);
  await lago.organizations.updateOrganization({ organization: { premium_integrations: ['projected_usage', 'granular_lifetime_usage'] } });
  const back = (await lago.customers.findCustomerProjectedUsage('acme', { external_subscription_id: 'sub_acme' })).data.customer_projected_usage;
  assert.equal(back.amount_cents, 100);
});

// ---------------------------------------------------------------------------------------------
// Every response was validated; the deviations seen
// ---------------------------------------------------------------------------------------------

test('every /api/v1 response went through the OpenAPI validator', () => {
  // The deviations table first, so it is printed whatever fails below (it goes in the README).
  console.log(`\nOpenAPI deviations seen (${checked.length} responses validated):\n\n${deviationsMarkdown()}\n`);
  assert.ok(checked.length >= 120, `only ${checked.length} responses`);
  const statuses = new Set(checked.map((c) => c.status));
  for (const s of [200, 400, 401, 403, 404, 405, 413, 422]) assert.ok(statuses.has(s), `no ${s} seen`);
  assert.ok(deviations().every((d) => d.reason), 'every deviation has a reason');
  assert.deepEqual(failures, [], 'non-conforming responses (also failed in their own test)');
});
