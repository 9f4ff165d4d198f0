// The stateful `Engine` of the built package, end to end: one organisation, three customers on two
// plans, a month of events (June 2025) sent through every ingestion path, then current, projected
// and past usage checked against arithmetic worked by hand in the comments, and an export/import
// round trip. Needs pkg/ (bash scripts/build.sh); run with `node --test tests/node/`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../pkg/index.js';

// ---------------------------------------------------------------------------------------------
// The organisation
// ---------------------------------------------------------------------------------------------
//
// Taxes (precedence per fee: charge > plan > customer > organisation default):
//   vat_org 20 % (applied_to_organization), cust_tax 10 %, plan_tax 5 %, charge_tax 2 %.
//
// Plan "starter" (EUR, monthly, no plan tax):
//   c_api      api_requests (count, filter key region ∈ eu|us|apac), standard 1.00/request,
//              filters: region=eu 2.00 ("EU"), region=us 3.00; charge tax charge_tax
//   c_storage  storage (sum of gb), graduated: 0–10 at 0 + 0 flat, 11–∞ at 0.50 + 1.00 flat
//   c_seats    seats (unique count of user_id), standard 5.00/seat
//   c_cpu      cpu_peak (max of cores), package: 3.00 per started 4 cores
// Plan "growth" (EUR, monthly, plan tax plan_tax):
//   g_payments payments (sum of amount), percentage 1.5 % + 0.10/event, first 2 events free;
//              charge tax charge_tax
//   g_compute  compute (sum of hours), standard 0.20/hour, pricing_group_keys [cloud]
//   g_storage  storage, standard 0.10/gb (0.20 later, to test frozen past periods)
//
// Customers and subscriptions (all calendar billing):
//   cus_a UTC, no tax                          → sub_a on starter since 2025-06-01
//   cus_b America/New_York (UTC−4 in summer), cust_tax → sub_b on starter since 2025-05-01 local
//   cus_c UTC, cust_tax (beaten by plan_tax)   → sub_c on growth since 2025-03-01
//
// Charges_usage lists charges by metric name, case-insensitively: "API requests", "CPU peak",
// "Seats", "Storage" for starter; "Compute hours", "Payments", "Storage" for growth.

// The instant everything below happens at: 2025-06-15 02:00 UTC, 2025-06-14 22:00 in New York.
const NOW = '2025-06-15T02:00:00Z';

/** Unix seconds of an ISO instant (Lago's event timestamps). */
const ts = (iso) => Date.parse(iso) / 1000;
const ev = (transaction_id, external_subscription_id, code, at, properties) =>
  ({ transaction_id, external_subscription_id, code, timestamp: ts(at), properties });

const growthPlan = (storagePrice) => ({
  code: 'growth', name: 'Growth', interval: 'monthly', amount_cents: 5000, amount_currency: 'EUR',
  pay_in_advance: false, tax_codes: ['plan_tax'],
  charges: [
    { code: 'g_payments', billable_metric_code: 'payments', charge_model: 'percentage', tax_codes: ['charge_tax'],
      properties: { rate: '1.5', fixed_amount: '0.1', free_units_per_events: 2 } },
    { code: 'g_compute', billable_metric_code: 'compute', charge_model: 'standard',
      properties: { amount: '0.2', pricing_group_keys: ['cloud'] } },
    { code: 'g_storage', billable_metric_code: 'storage', charge_model: 'standard', properties: { amount: storagePrice } },
  ],
});

/** The organisation without events; `plans` holds what upsertPlan answered. */
function organisation() {
  const engine = new Engine();
  engine.upsertTax({ code: 'vat_org', name: 'VAT', rate: '20', applied_to_organization: true });
  engine.upsertTax({ code: 'cust_tax', rate: '10' });
  engine.upsertTax({ code: 'plan_tax', rate: '5' });
  engine.upsertTax({ code: 'charge_tax', rate: '2' });
  engine.upsertBillableMetric({ code: 'api_requests', name: 'API requests', aggregation_type: 'count_agg',
    filters: [{ key: 'region', values: ['eu', 'us', 'apac'] }] });
  engine.upsertBillableMetric({ code: 'storage', name: 'Storage', aggregation_type: 'sum_agg', field_name: 'gb' });
  engine.upsertBillableMetric({ code: 'seats', name: 'Seats', aggregation_type: 'unique_count_agg', field_name: 'user_id' });
  engine.upsertBillableMetric({ code: 'cpu_peak', name: 'CPU peak', aggregation_type: 'max_agg', field_name: 'cores' });
  engine.upsertBillableMetric({ code: 'payments', name: 'Payments', aggregation_type: 'sum_agg', field_name: 'amount' });
  engine.upsertBillableMetric({ code: 'compute', name: 'Compute hours', aggregation_type: 'sum_agg', field_name: 'hours' });
  const starter = engine.upsertPlan({
    code: 'starter', name: 'Starter', interval: 'monthly', amount_cents: 1000, amount_currency: 'EUR', pay_in_advance: false,
    charges: [
      { code: 'c_api', billable_metric_code: 'api_requests', charge_model: 'standard', properties: { amount: '1' },
        tax_codes: ['charge_tax'],
        filters: [
          { values: { region: ['eu'] }, properties: { amount: '2' }, invoice_display_name: 'EU' },
          { values: { region: ['us'] }, properties: { amount: '3' } },
        ] },
      { code: 'c_storage', billable_metric_code: 'storage', charge_model: 'graduated', properties: { graduated_ranges: [
        { from_value: 0, to_value: 10, per_unit_amount: '0', flat_amount: '0' },
        { from_value: 11, to_value: null, per_unit_amount: '0.5', flat_amount: '1' },
      ] } },
      { code: 'c_seats', billable_metric_code: 'seats', charge_model: 'standard', properties: { amount: '5' } },
      { code: 'c_cpu', billable_metric_code: 'cpu_peak', charge_model: 'package',
        properties: { amount: '3', package_size: 4, free_units: 0 } },
    ],
  });
  const growth = engine.upsertPlan(growthPlan('0.1'));
  engine.upsertCustomer({ external_id: 'cus_a', name: 'Alice' });
  engine.upsertCustomer({ external_id: 'cus_b', name: 'Bob', timezone: 'America/New_York', tax_codes: ['cust_tax'] });
  engine.upsertCustomer({ external_id: 'cus_c', name: 'Carol', tax_codes: ['cust_tax'] });
  engine.upsertSubscription({ external_id: 'sub_a', external_customer_id: 'cus_a', plan_code: 'starter',
    billing_time: 'calendar', subscription_at: '2025-06-01T00:00:00Z' }, '2025-06-01T00:00:00Z');
  // Midnight of 2025-05-01 in New York.
  engine.upsertSubscription({ external_id: 'sub_b', external_customer_id: 'cus_b', plan_code: 'starter',
    billing_time: 'calendar', subscription_at: '2025-05-01T04:00:00Z' }, new Date('2025-05-01T04:00:00Z'));
  engine.upsertSubscription({ external_id: 'sub_c', external_customer_id: 'cus_c', plan_code: 'growth',
    billing_time: 'calendar', subscription_at: '2025-03-01T00:00:00Z' }, '2025-03-01T00:00:00Z');
  return { engine, plans: { starter, growth } };
}

// sub_a's API requests, sent as one batch: 3 eu, 2 us, 1 apac (no filter: default bucket), 2 with no region.
const SUB_A_BATCH = [
  ev('a-api-1', 'sub_a', 'api_requests', '2025-06-02T10:00:00Z', { region: 'eu' }),
  ev('a-api-2', 'sub_a', 'api_requests', '2025-06-03T10:00:00Z', { region: 'eu' }),
  ev('a-api-3', 'sub_a', 'api_requests', '2025-06-04T10:00:00Z', { region: 'eu' }),
  ev('a-api-4', 'sub_a', 'api_requests', '2025-06-05T10:00:00Z', { region: 'us' }),
  ev('a-api-5', 'sub_a', 'api_requests', '2025-06-06T10:00:00Z', { region: 'us' }),
  ev('a-api-6', 'sub_a', 'api_requests', '2025-06-07T10:00:00Z', { region: 'apac' }),
  ev('a-api-7', 'sub_a', 'api_requests', '2025-06-08T10:00:00Z', {}),
  ev('a-api-8', 'sub_a', 'api_requests', '2025-06-09T10:00:00Z', {}),
];
// sub_a's other events, one ingestEvent each.
const SUB_A_SINGLE = [
  ev('a-st-1', 'sub_a', 'storage', '2025-06-02T00:00:00Z', { gb: 4 }),
  ev('a-st-2', 'sub_a', 'storage', '2025-06-03T00:00:00Z', { gb: '6.5' }),
  ev('a-st-3', 'sub_a', 'storage', '2025-06-04T00:00:00Z', { gb: 'abc' }), // not a number: dropped
  ev('a-st-4', 'sub_a', 'storage', '2025-06-05T00:00:00Z', { gb: 5 }),
  ev('a-st-5', 'sub_a', 'storage', '2025-06-25T00:00:00Z', { gb: 2 }), // future, inside June: counts
  ev('a-st-6', 'sub_a', 'storage', '2025-07-01T00:00:00Z', { gb: 100 }), // after June 30 23:59:59: does not
  ev('a-se-1', 'sub_a', 'seats', '2025-06-02T00:00:00Z', { user_id: 'u1' }),
  ev('a-se-2', 'sub_a', 'seats', '2025-06-03T00:00:00Z', { user_id: 'u2' }),
  ev('a-se-3', 'sub_a', 'seats', '2025-06-04T00:00:00Z', { user_id: 'u3' }),
  ev('a-se-4', 'sub_a', 'seats', '2025-06-05T00:00:00Z', { user_id: 'u4', operation_type: 'remove' }), // leading remove: ignored
  ev('a-se-5', 'sub_a', 'seats', '2025-06-10T00:00:00Z', { user_id: 'u2', operation_type: 'remove' }),
  ev('a-se-6', 'sub_a', 'seats', '2025-06-11T00:00:00Z', { user_id: 'u1', operation_type: 'add' }), // repeated add
  ev('shared-1', 'sub_a', 'cpu_peak', '2025-06-02T00:00:00Z', { cores: 3 }),
  ev('a-cpu-2', 'sub_a', 'cpu_peak', '2025-06-03T00:00:00Z', { cores: 9 }),
  ev('a-cpu-3', 'sub_a', 'cpu_peak', '2025-06-04T00:00:00Z', { cores: '7.5' }),
  ev('a-unk-1', 'sub_a', 'no_such_metric', '2025-06-04T00:00:00Z', { cores: 1000 }), // unknown code: stored, ignored
];
// sub_b's events, as NDJSON text (New York: June is 2025-06-01T04:00Z … 2025-07-01T03:59:59Z).
const SUB_B_BULK = [
  ev('b-api-0', 'sub_b', 'api_requests', '2025-06-01T03:00:00Z', { region: 'eu' }), // May 31 23:00 local: May
  ev('b-api-1', 'sub_b', 'api_requests', '2025-06-10T12:00:00Z', { region: 'eu' }),
  ev('b-api-2', 'sub_b', 'api_requests', '2025-06-12T12:00:00Z', { region: 'eu' }),
  ev('b-api-3', 'sub_b', 'api_requests', '2025-06-12T13:00:00Z', { region: 'eu' }),
  ev('b-api-4', 'sub_b', 'api_requests', '2025-07-01T02:00:00Z', { region: 'us' }), // June 30 22:00 local: June
  ev('b-st-1', 'sub_b', 'storage', '2025-06-05T12:00:00Z', { gb: 7 }),
  ev('b-se-1', 'sub_b', 'seats', '2025-06-05T12:00:00Z', { user_id: 'u1' }),
  ev('b-se-2', 'sub_b', 'seats', '2025-06-06T12:00:00Z', { user_id: 'u2' }),
  ev('b-se-3', 'sub_b', 'seats', '2025-06-20T12:00:00Z', { user_id: 'u3' }),
  ev('shared-1', 'sub_b', 'cpu_peak', '2025-06-05T12:00:00Z', { cores: 14 }), // same transaction_id as sub_a's
];
// sub_c's events: storage and compute in March–May (closed periods), then June.
const SUB_C_SINGLE = [
  ev('c-st-3', 'sub_c', 'storage', '2025-03-10T00:00:00Z', { gb: 10 }),
  ev('c-st-4', 'sub_c', 'storage', '2025-04-10T00:00:00Z', { gb: 20 }),
  ev('c-st-5', 'sub_c', 'storage', '2025-05-10T00:00:00Z', { gb: 30 }),
  ev('c-co-5', 'sub_c', 'compute', '2025-05-10T00:00:00Z', { hours: 5, cloud: 'aws' }),
  ev('c-pay-1', 'sub_c', 'payments', '2025-06-02T00:00:00Z', { amount: 100 }),
  ev('c-pay-2', 'sub_c', 'payments', '2025-06-03T00:00:00Z', { amount: 200 }),
  ev('c-pay-3', 'sub_c', 'payments', '2025-06-04T00:00:00Z', { amount: 300 }),
  ev('c-pay-4', 'sub_c', 'payments', '2025-06-05T00:00:00Z', { amount: 'n/a' }), // dropped
  ev('c-co-1', 'sub_c', 'compute', '2025-06-02T00:00:00Z', { hours: 10, cloud: 'aws' }),
  ev('c-co-2', 'sub_c', 'compute', '2025-06-03T00:00:00Z', { hours: '5.5', cloud: 'aws' }),
  ev('c-co-3', 'sub_c', 'compute', '2025-06-04T00:00:00Z', { hours: 4, cloud: 'gcp' }),
  ev('c-co-4', 'sub_c', 'compute', '2025-06-05T00:00:00Z', { hours: '1.5' }), // no cloud: group {cloud: null}
  ev('c-st-6', 'sub_c', 'storage', '2025-06-05T00:00:00Z', { gb: 50 }),
];
const EVENTS_TOTAL = SUB_A_BATCH.length + SUB_A_SINGLE.length + SUB_B_BULK.length + SUB_C_SINGLE.length; // 8 + 16 + 10 + 13

/** The organisation with all the events above, ingested at NOW. */
function loaded() {
  const org = organisation();
  const { engine } = org;
  engine.ingestBatch(SUB_A_BATCH, NOW);
  for (const event of SUB_A_SINGLE) engine.ingestEvent(event, NOW);
  engine.ingestBulk(SUB_B_BULK.map((e) => JSON.stringify(e)).join('\n') + '\n', new Date(NOW));
  for (const event of SUB_C_SINGLE) engine.ingestEvent(event, NOW);
  return org;
}

const query = (customer, subscription, extra = {}) =>
  ({ external_customer_id: customer, external_subscription_id: subscription, now: NOW, ...extra });

function lagoError(fn) {
  try {
    fn();
  } catch (error) {
    assert.equal(error.name, 'LagoError');
    return error;
  }
  assert.fail('expected a thrown LagoError');
}

/** The fields of a thrown LagoError that carry Lago's body. */
const body = (error) => ({ status: error.status, code: error.code, error_details: error.error_details });

/** A usage line's figures, for compact comparisons. */
const figures = (line) => ({ units: line.units, events_count: line.events_count, amount_cents: line.amount_cents });
const projection = (line) => ({ projected_units: line.projected_units, projected_amount_cents: line.projected_amount_cents });
const byCode = (usage) => Object.fromEntries(usage.charges_usage.map((c) => [c.charge.code ?? c.billable_metric.code, c]));
const byGroup = (charge) => Object.fromEntries(charge.grouped_usage.map((g) => [String(g.grouped_by.cloud), g]));

// ---------------------------------------------------------------------------------------------
// Ingestion
// ---------------------------------------------------------------------------------------------

test('events come in one by one, in batches and as NDJSON; unknown codes are stored', () => {
  const { engine } = organisation();
  assert.equal(engine.eventsCount, 0);
  const batch = engine.ingestBatch(SUB_A_BATCH, NOW);
  assert.equal(batch.length, 8);
  assert.deepEqual(batch.map((e) => e.transaction_id), SUB_A_BATCH.map((e) => e.transaction_id));
  assert.equal(engine.eventsCount, 8);

  for (const event of SUB_A_SINGLE) engine.ingestEvent(event, NOW);
  assert.equal(engine.eventsCount, 24);
  // An event of no metric is accepted (Lago stores it and never aggregates it).
  const unknown = engine.ingestEvent(ev('a-unk-2', 'sub_a', 'no_such_metric', '2025-06-04T00:00:00.123Z', {}), NOW);
  assert.equal(unknown.code, 'no_such_metric');
  assert.equal(unknown.external_subscription_id, 'sub_a');
  assert.equal(unknown.timestamp, '2025-06-04T00:00:00.123Z');
  assert.equal(unknown.created_at, '2025-06-15T02:00:00Z');
  assert.equal(engine.eventsCount, 25);

  const stored = engine.ingestBulk(SUB_B_BULK.map((e) => JSON.stringify(e)).join('\n') + '\n\n', NOW);
  assert.equal(stored, 10);
  assert.equal(engine.eventsCount, 35);
  // A JSON array text is read too.
  assert.equal(engine.ingestBulk(JSON.stringify(SUB_C_SINGLE), NOW), 13);
  assert.equal(engine.eventsCount, 35 + 13);
  assert.equal(EVENTS_TOTAL, 47);
});

test('ingestBulk reads UTF-8 bytes as it reads a string; other inputs are a 400', () => {
  const { engine } = loaded();
  const lines = [
    ev('u-1', 'sub_z', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 2, note: 'café ☕' }),
    ev('u-2', 'sub_z', 'cpu_peak', '2025-06-20T00:00:01Z', { cores: 3 }),
  ].map((e) => JSON.stringify(e)).join('\n');
  assert.equal(engine.ingestBulk(Buffer.from(lines, 'utf8'), NOW), 2);
  // The same lines again as a string: both are duplicates of what the bytes stored.
  const error = lagoError(() => engine.ingestBulk(lines, NOW));
  assert.deepEqual(error.error_details, { 0: { transaction_id: ['value_already_exist'] }, 1: { transaction_id: ['value_already_exist'] } });
  // The non-ASCII property came through the bytes intact.
  const exported = JSON.stringify(engine.export());
  assert.ok(exported.includes('"note":"café ☕"'), 'the UTF-8 property is stored as written');
  assert.deepEqual(body(lagoError(() => engine.ingestBulk(new Uint8Array([0x7b, 0xff, 0x7d]), NOW))),
    { status: 400, code: 'bad_request', error_details: { body: ['the bulk text is not UTF-8'] } });
  assert.deepEqual(body(lagoError(() => engine.ingestBulk(42, NOW))),
    { status: 400, code: 'bad_request', error_details: { body: ['the bulk text must be a string or a Uint8Array'] } });
  assert.equal(engine.eventsCount, EVENTS_TOTAL + 2);
});

test('ingestBulk calls on one engine read only their own text (the buffer is reused, shorter texts after longer)', () => {
  const line = (i, note) => JSON.stringify(ev(`r-${i}`, 'sub_z', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 1, note }));
  const texts = [
    Array.from({ length: 40 }, (_, i) => line(i, 'x'.repeat(100))).join('\n'),
    line(100, 'é'),
    Buffer.from(line(101, 'ü ☕'), 'utf8'),
    line(102, 'a'),
    // Past the size the engine keeps its buffer at (4 MiB): given back, then grown again.
    Array.from({ length: 30_000 }, (_, i) => line(1000 + i, 'y'.repeat(150))).join('\n'),
    line(103, 'b'),
  ];
  const reused = loaded().engine;
  const counts = texts.map((text) => reused.ingestBulk(text, NOW));
  assert.deepEqual(counts, [40, 1, 1, 1, 30_000, 1]);
  // The same lines as one text into a fresh engine: the same events, in the same order.
  const whole = texts.map((text) => (typeof text === 'string' ? text : Buffer.from(text).toString('utf8'))).join('\n');
  const reference = loaded().engine;
  assert.equal(reference.ingestBulk(whole, NOW), 30_044);
  assert.equal(JSON.stringify(reused.export()), JSON.stringify(reference.export()));
  const exported = JSON.stringify(reused.export());
  for (const note of ['"note":"é"', '"note":"ü ☕"', '"note":"a"', '"note":"b"']) assert.ok(exported.includes(note), note);
});

test('ingestBulk encodes a string as its UTF-8 bytes, whatever the characters and where they are', () => {
  const notes = ['é', 'ascii then é', 'é then ascii', '☕'.repeat(40), 'emoji 🚀 pair', 'lone \ud800 surrogate', 'x'.repeat(5000) + 'ü'];
  const lines = notes.map((note, i) => JSON.stringify(ev(`n-${i}`, 'sub_z', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 1, note })));
  // JSON.stringify escapes the lone surrogate; put it back raw (both encoders write U+FFFD).
  lines[5] = lines[5].replace('\\ud800', '\ud800');
  assert.ok(lines[5].includes('\ud800'));
  // Non-ASCII first, last, alone: the encoder's first pass stops at different places.
  for (const text of [lines.join('\n'), lines.slice().reverse().join('\n'), lines[0], lines[3]]) {
    const fromString = loaded().engine, fromBytes = loaded().engine;
    const count = fromString.ingestBulk(text, NOW);
    assert.equal(fromBytes.ingestBulk(Buffer.from(text, 'utf8'), NOW), count);
    assert.equal(JSON.stringify(fromString.export()), JSON.stringify(fromBytes.export()));
    const firstNote = JSON.parse(text.split('\n')[0]).properties.note.replace('\ud800', '\ufffd');
    assert.ok(JSON.stringify(fromString.export()).includes(JSON.stringify(firstNote)));
  }
});

test('ingestBulk with skipDuplicates stores each new key once, from its first line', () => {
  const { engine } = loaded();
  const line = (tx, cores) => JSON.stringify(ev(tx, 'sub_z', 'cpu_peak', '2025-06-20T00:00:00Z', { cores }));
  assert.equal(engine.ingestBulk(line('k-1', 1), NOW), 1);
  const text = [line('k-1', 2), line('k-2', 3), line('k-2', 4), line('k-3', 5)].join('\n');
  // By Lago's rule the text is refused, also with skipDuplicates false or no options: the second
  // k-2 repeats the first (k-1, already stored, is named once the text itself has no repeat).
  const refused = { 2: { transaction_id: ['value_already_exist'] } };
  for (const options of [undefined, null, {}, { skipDuplicates: false }]) {
    assert.deepEqual(lagoError(() => engine.ingestBulk(text, NOW, options)).error_details, refused);
  }
  assert.equal(engine.eventsCount, EVENTS_TOTAL + 1);
  assert.equal(engine.ingestBulk(text, NOW, { skipDuplicates: true }), 2);
  assert.equal(engine.ingestBulk(text, NOW, { skipDuplicates: true }), 0, 'the same text again adds nothing');
  assert.equal(engine.eventsCount, EVENTS_TOTAL + 3);
  const stored = engine.export().events.filter((e) => e.external_subscription_id === 'sub_z')
    .map((e) => `${e.transaction_id}:${e.properties.cores}`).sort();
  assert.deepEqual(stored, ['k-1:1', 'k-2:3', 'k-3:5']);
  // Another bad line still refuses the text, named alone.
  assert.deepEqual(lagoError(() => engine.ingestBulk(`${line('k-4', 1)}\n${line('k-1', 1)}\n{"code":"x"}`, NOW, { skipDuplicates: true })).error_details,
    { 2: { transaction_id: ['value_is_mandatory'] } });
  assert.equal(engine.eventsCount, EVENTS_TOTAL + 3);
  for (const options of [42, 'yes', { skipDuplicates: 'true' }, { skipDuplicates: 1 }]) {
    assert.deepEqual(body(lagoError(() => engine.ingestBulk(line('k-5', 1), NOW, options))),
      { status: 400, code: 'bad_request', error_details: { body: ['the options must be an object whose skipDuplicates is a boolean'] } }, JSON.stringify(options));
  }
});

test('dedup is per (external_subscription_id, transaction_id); a duplicate changes nothing', () => {
  const { engine } = loaded();
  // 'shared-1' is stored for sub_a (3 cores) and for sub_b (14 cores): both count (see the usage tests).
  assert.equal(engine.eventsCount, EVENTS_TOTAL);
  const before = engine.currentUsage(query('cus_a', 'sub_a'));
  const error = lagoError(() => engine.ingestEvent(ev('shared-1', 'sub_a', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 99 }), NOW));
  assert.deepEqual(body(error), { status: 422, code: 'validation_errors', error_details: { transaction_id: ['value_already_exist'] } });
  assert.equal(engine.eventsCount, EVENTS_TOTAL);
  assert.deepEqual(engine.currentUsage(query('cus_a', 'sub_a')), before);
  // A third subscription id takes the same transaction id.
  engine.ingestEvent(ev('shared-1', 'sub_c', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 1 }), NOW);
  assert.equal(engine.eventsCount, EVENTS_TOTAL + 1);
});

test('a batch or a bulk text is all or nothing, errors keyed by index', () => {
  const { engine } = loaded();
  const before = engine.currentUsage(query('cus_a', 'sub_a'));
  const fresh1 = ev('x-1', 'sub_a', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 50 });
  const fresh2 = ev('x-2', 'sub_a', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 60 });
  const stored = ev('a-cpu-2', 'sub_a', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 70 });

  // One event already stored: the batch is refused and its two new events are not stored.
  let error = lagoError(() => engine.ingestBatch([fresh1, fresh2, stored], NOW));
  assert.deepEqual(body(error), { status: 422, code: 'validation_errors', error_details: { 2: { transaction_id: ['value_already_exist'] } } });
  // Twice the same key inside one batch: the later one is the duplicate.
  error = lagoError(() => engine.ingestBatch([fresh1, { ...fresh1, properties: { cores: 1 } }], NOW));
  assert.deepEqual(error.error_details, { 1: { transaction_id: ['value_already_exist'] } });
  // A bulk line that is not JSON, and one with an ISO timestamp (Lago wants Unix seconds).
  const text = [JSON.stringify(fresh1), '{not json', JSON.stringify({ ...fresh2, timestamp: '2025-06-20T00:00:00Z' })].join('\n');
  error = lagoError(() => engine.ingestBulk(text, NOW));
  assert.deepEqual(error.error_details, { 1: { event: ['invalid_json'] }, 2: { timestamp: ['invalid_format'] } });
  assert.equal(engine.eventsCount, EVENTS_TOTAL);
  assert.deepEqual(engine.currentUsage(query('cus_a', 'sub_a')), before);

  // Nothing of the refused requests was kept: the same new events go through now.
  assert.equal(engine.ingestBatch([fresh1, fresh2], NOW).length, 2);
  assert.equal(engine.eventsCount, EVENTS_TOTAL + 2);
});

// ---------------------------------------------------------------------------------------------
// Current usage
// ---------------------------------------------------------------------------------------------

test('current usage of a UTC customer: every charge model, organisation default tax', () => {
  const { engine } = loaded();
  const usage = engine.currentUsage(query('cus_a', 'sub_a')).customer_usage;
  assert.equal(usage.from_datetime, '2025-06-01T00:00:00Z');
  assert.equal(usage.to_datetime, '2025-06-30T23:59:59Z');
  assert.equal(usage.issuing_date, '2025-06-30');
  assert.equal(usage.currency, 'EUR');
  assert.equal(usage.lago_invoice_id, null);
  assert.deepEqual(usage.charges_usage.map((c) => c.charge.code), ['c_api', 'c_cpu', 'c_seats', 'c_storage']);
  const c = byCode(usage);

  // API requests: EU 3 × 2.00 = 6.00; US 2 × 3.00 = 6.00; default bucket (apac + 2 without
  // region) 3 × 1.00 = 3.00. Charge: 8 requests, 15.00.
  assert.deepEqual(figures(c.c_api), { units: '8.0', events_count: 8, amount_cents: 1500 });
  assert.deepEqual(c.c_api.filters.map((f) => [f.invoice_display_name, f.values, f.units, f.amount_cents]), [
    ['EU', { region: ['eu'] }, '3.0', 600],
    [null, { region: ['us'] }, '2.0', 600],
    [null, null, '3.0', 300],
  ]);
  assert.deepEqual(c.c_api.grouped_usage, []);
  assert.equal(c.c_api.billable_metric.code, 'api_requests');

  // CPU peak: max(3, 9, 7.5) = 9 cores → ceil(9 / 4) = 3 packages × 3.00 = 9.00; 3 events.
  assert.deepEqual(figures(c.c_cpu), { units: '9.0', events_count: 3, amount_cents: 900 });

  // Seats: u1 add, u2 add, u3 add, u4 remove (leading remove: nothing), u2 remove, u1 add again
  // (no double count) → u1 and u3 = 2 seats × 5.00 = 10.00; events_count is the count itself.
  assert.deepEqual(figures(c.c_seats), { units: '2.0', events_count: 2, amount_cents: 1000 });

  // Storage: 4 + 6.5 + 5 + 2 (June 25, in the future but inside June) = 17.5 gb; "abc" and the
  // July 1st event are left out → 4 events. Graduated: 10 gb free, then 7.5 × 0.50 + 1.00 flat
  // = 4.75.
  assert.deepEqual(figures(c.c_storage), { units: '17.5', events_count: 4, amount_cents: 475 });
  assert.equal(c.c_storage.total_aggregated_units, '17.5');

  // Σ = 1500 + 900 + 1000 + 475 = 3875 (the unknown metric's event adds nothing).
  // Taxes: c_api has charge_tax: 1500 × 2 % = 30; the others fall to the organisation's
  // vat_org: (900 + 1000 + 475) × 20 % = 475. 30 + 475 = 505; total 3875 + 505 = 4380.
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [3875, 505, 4380]);
});

test('current usage of a New York customer: local period, customer tax', () => {
  const { engine } = loaded();
  const usage = engine.currentUsage(query('cus_b', 'sub_b')).customer_usage;
  // June 1 00:00 EDT … June 30 23:59:59 EDT; the issuing date is the UTC date of that end.
  assert.equal(usage.from_datetime, '2025-06-01T04:00:00Z');
  assert.equal(usage.to_datetime, '2025-07-01T03:59:59Z');
  assert.equal(usage.issuing_date, '2025-07-01');
  const c = byCode(usage);

  // API requests: the eu event at 2025-06-01T03:00Z is May 31 locally (left out); the us event at
  // 2025-07-01T02:00Z is June 30 locally (in). EU 3 × 2.00 = 6.00, US 1 × 3.00 = 3.00, default 0.
  assert.deepEqual(figures(c.c_api), { units: '4.0', events_count: 4, amount_cents: 900 });
  assert.deepEqual(c.c_api.filters.map(figures), [
    { units: '3.0', events_count: 3, amount_cents: 600 },
    { units: '1.0', events_count: 1, amount_cents: 300 },
    { units: '0.0', events_count: 0, amount_cents: 0 },
  ]);
  // CPU peak: 14 cores (its transaction id is also sub_a's) → ceil(14 / 4) = 4 × 3.00 = 12.00.
  assert.deepEqual(figures(c.c_cpu), { units: '14.0', events_count: 1, amount_cents: 1200 });
  // Seats: u1, u2, u3 (June 20, future) = 3 × 5.00 = 15.00.
  assert.deepEqual(figures(c.c_seats), { units: '3.0', events_count: 3, amount_cents: 1500 });
  // Storage: 7 gb, all inside the free tier → 0.
  assert.deepEqual(figures(c.c_storage), { units: '7.0', events_count: 1, amount_cents: 0 });

  // Σ = 900 + 1200 + 1500 + 0 = 3600. Taxes: c_api charge_tax 900 × 2 % = 18; the others take the
  // customer's cust_tax (before the organisation's default): (1200 + 1500 + 0) × 10 % = 270.
  // 18 + 270 = 288; total 3888.
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [3600, 288, 3888]);
});

test('current usage with plan and charge taxes, a percentage and a grouped charge', () => {
  const { engine } = loaded();
  const usage = engine.currentUsage(query('cus_c', 'sub_c')).customer_usage;
  assert.equal(usage.from_datetime, '2025-06-01T00:00:00Z');
  assert.deepEqual(usage.charges_usage.map((c) => c.charge.code), ['g_compute', 'g_payments', 'g_storage']);
  const c = byCode(usage);

  // Compute, per cloud at 0.20/hour: aws 10 + 5.5 = 15.5 h → 3.10; gcp 4 h → 0.80; no cloud
  // 1.5 h → 0.30. Charge: 21 h, 4.20.
  assert.deepEqual(figures(c.g_compute), { units: '21.0', events_count: 4, amount_cents: 420 });
  const groups = byGroup(c.g_compute);
  assert.deepEqual(Object.keys(groups).sort(), ['aws', 'gcp', 'null']);
  assert.deepEqual(groups.aws.grouped_by, { cloud: 'aws' });
  assert.deepEqual(groups.null.grouped_by, { cloud: null });
  assert.deepEqual(figures(groups.aws), { units: '15.5', events_count: 2, amount_cents: 310 });
  assert.deepEqual(figures(groups.gcp), { units: '4.0', events_count: 1, amount_cents: 80 });
  assert.deepEqual(figures(groups.null), { units: '1.5', events_count: 1, amount_cents: 30 });

  // Payments: 100 + 200 + 300 = 600 ("n/a" dropped, 3 events). The first 2 events are free:
  // free units = 100 + 200 = 300, free events = 2. (600 − 300) × 1.5 % = 4.50, plus
  // (3 − 2) × 0.10 = 0.10 → 4.60.
  assert.deepEqual(figures(c.g_payments), { units: '600.0', events_count: 3, amount_cents: 460 });
  // Storage (June only): 50 gb × 0.10 = 5.00.
  assert.deepEqual(figures(c.g_storage), { units: '50.0', events_count: 1, amount_cents: 500 });

  // Σ = 420 + 460 + 500 = 1380.
  // Taxes, summed unrounded over fees then rounded once: g_payments has charge_tax (over the plan's):
  // 460 × 2 % = 9.2; g_compute and g_storage take plan_tax (over the customer's cust_tax):
  // 310 × 5 % = 15.5, 80 × 5 % = 4, 30 × 5 % = 1.5, 500 × 5 % = 25. Σ = 55.2 → 55 (rounding
  // each fee first would give 9 + 16 + 4 + 2 + 25 = 56). Total 1380 + 55 = 1435.
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [1380, 55, 1435]);
});

test('current usage filters: charge id and code, metric code, group, skip_grouping, apply_taxes', () => {
  const { engine, plans } = loaded();
  const only = (q) => engine.currentUsage(q).customer_usage;

  // By charge id: c_cpu alone, 900; vat_org 20 % → 180.
  const cpuId = plans.starter.charges.find((c) => c.code === 'c_cpu').lago_id;
  let usage = only(query('cus_a', 'sub_a', { charge_id: cpuId }));
  assert.deepEqual(usage.charges_usage.map((c) => c.charge.code), ['c_cpu']);
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [900, 180, 1080]);
  // The charge id wins over a charge code.
  usage = only(query('cus_a', 'sub_a', { charge_id: cpuId, charge_code: 'c_seats' }));
  assert.deepEqual(usage.charges_usage.map((c) => c.charge.code), ['c_cpu']);

  // By charge code: c_api alone, 1500; charge_tax 2 % → 30.
  usage = only(query('cus_a', 'sub_a', { charge_code: 'c_api' }));
  assert.deepEqual(usage.charges_usage.map((c) => c.charge.code), ['c_api']);
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [1500, 30, 1530]);

  // By metric code: c_storage, 475; 475 × 20 % = 95.
  usage = only(query('cus_a', 'sub_a', { billable_metric_code: 'storage' }));
  assert.deepEqual(usage.charges_usage.map((c) => c.charge.code), ['c_storage']);
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [475, 95, 570]);

  // Group: only the aws compute events, 15.5 h × 0.20 = 3.10; 310 × 5 % = 15.5 → 16.
  usage = only(query('cus_c', 'sub_c', { charge_code: 'g_compute', group: { cloud: 'aws' } }));
  assert.deepEqual(figures(usage.charges_usage[0]), { units: '15.5', events_count: 2, amount_cents: 310 });
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents], [310, 16]);
  // Several values: aws or gcp, 15.5 + 4 = 19.5 h → 3.90; 390 × 5 % = 19.5 → 20.
  usage = only(query('cus_c', 'sub_c', { charge_code: 'g_compute', group: { cloud: ['aws', 'gcp'] } }));
  assert.deepEqual(figures(usage.charges_usage[0]), { units: '19.5', events_count: 3, amount_cents: 390 });
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents], [390, 20]);

  // skip_grouping: one line for all clouds, 21 h × 0.20 = 4.20.
  usage = only(query('cus_c', 'sub_c', { charge_code: 'g_compute', skip_grouping: true }));
  assert.deepEqual(figures(usage.charges_usage[0]), { units: '21.0', events_count: 4, amount_cents: 420 });
  assert.deepEqual(usage.charges_usage[0].grouped_usage, []);

  // apply_taxes=false: no taxes, total = amount.
  usage = only(query('cus_a', 'sub_a', { apply_taxes: false }));
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [3875, 0, 3875]);

  // A filter that matches no charge of the plan.
  assert.deepEqual(body(lagoError(() => only(query('cus_a', 'sub_a', { charge_code: 'g_compute' })))),
    { status: 404, code: 'charge_not_found', error_details: undefined });
});

test('current usage errors: unknown customer 404, no active subscription 405', () => {
  const { engine } = loaded();
  const failure = (q) => {
    const error = lagoError(() => engine.currentUsage(q));
    return [error.status, error.error, error.code];
  };
  assert.deepEqual(failure(query('nobody', 'sub_a')), [404, 'Not Found', 'customer_not_found']);
  assert.deepEqual(failure(query('nobody', undefined)), [404, 'Not Found', 'customer_not_found']);
  const notAllowed = [405, 'Method Not Allowed', 'no_active_subscription'];
  assert.deepEqual(failure(query('cus_a', 'sub_b')), notAllowed); // another customer's subscription
  assert.deepEqual(failure(query('cus_a', undefined)), notAllowed); // no subscription asked
  assert.deepEqual(failure(query('cus_a', 'sub_zzz')), notAllowed); // unknown subscription
  const terminated = engine.terminateSubscription('sub_a', '2025-06-15T03:00:00Z');
  assert.equal(terminated.status, 'terminated');
  assert.equal(terminated.terminated_at, '2025-06-15T03:00:00Z');
  assert.deepEqual(failure(query('cus_a', 'sub_a')), notAllowed);
  assert.equal(lagoError(() => engine.projectedUsage(query('cus_a', 'sub_a'))).code, 'no_active_subscription');
});

// ---------------------------------------------------------------------------------------------
// Projected usage
// ---------------------------------------------------------------------------------------------

test('projected usage of a UTC customer: ratio 15/30', () => {
  const { engine } = loaded();
  const usage = engine.projectedUsage(query('cus_a', 'sub_a')).customer_projected_usage;
  // The current figures are unchanged.
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [3875, 505, 4380]);
  assert.equal(usage.lago_invoice_id, null);
  // NOW is June 15 02:00 UTC: days begun 15 (today included) of 30 → ratio 0.5; each line
  // projects to round(units / 0.5, 2) and is priced again.
  const c = byCode(usage);
  assert.equal(c.api_requests.total_aggregated_units, undefined);
  assert.equal(c.api_requests.charge.code, undefined);
  // API requests, filter buckets only (the default bucket is not projected):
  // EU 3 / 0.5 = 6 × 2.00 = 12.00; US 2 / 0.5 = 4 × 3.00 = 12.00 → 10 units, 24.00.
  assert.deepEqual(projection(c.api_requests), { projected_units: '10.0', projected_amount_cents: 2400 });
  assert.deepEqual(c.api_requests.filters.map(projection), [
    { projected_units: '6.0', projected_amount_cents: 1200 },
    { projected_units: '4.0', projected_amount_cents: 1200 },
    { projected_units: '0.0', projected_amount_cents: 0 },
  ]);
  // CPU peak: 9 / 0.5 = 18 → ceil(18 / 4) = 5 × 3.00 = 15.00.
  assert.deepEqual(projection(c.cpu_peak), { projected_units: '18.0', projected_amount_cents: 1500 });
  // Seats: 2 / 0.5 = 4 × 5.00 = 20.00.
  assert.deepEqual(projection(c.seats), { projected_units: '4.0', projected_amount_cents: 2000 });
  // Storage: 17.5 / 0.5 = 35 → 10 free, 25 × 0.50 + 1.00 = 13.50.
  assert.deepEqual(projection(c.storage), { projected_units: '35.0', projected_amount_cents: 1350 });
  // 2400 + 1500 + 2000 + 1350 = 7250.
  assert.equal(usage.projected_amount_cents, 7250);
});

test('projected usage of a New York customer: ratio 14/30 in local days', () => {
  const { engine } = loaded();
  const usage = engine.projectedUsage(query('cus_b', 'sub_b')).customer_projected_usage;
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [3600, 288, 3888]);
  // NOW is June 14 22:00 in New York: 14 days begun of 30 → ratio 14/30; units × 30/14.
  const c = byCode(usage);
  // API requests: EU 3 × 30/14 = 6.428… → 6.43 × 2.00 = 12.86; US 1 × 30/14 = 2.142… → 2.14
  // × 3.00 = 6.42. Charge: 6.43 + 2.14 = 8.57 units, 12.86 + 6.42 = 19.28.
  assert.deepEqual(c.api_requests.filters.map(projection), [
    { projected_units: '6.43', projected_amount_cents: 1286 },
    { projected_units: '2.14', projected_amount_cents: 642 },
    { projected_units: '0.0', projected_amount_cents: 0 },
  ]);
  assert.deepEqual(projection(c.api_requests), { projected_units: '8.57', projected_amount_cents: 1928 });
  // CPU peak: 14 × 30/14 = 30 → ceil(30 / 4) = 8 × 3.00 = 24.00.
  assert.deepEqual(projection(c.cpu_peak), { projected_units: '30.0', projected_amount_cents: 2400 });
  // Seats: 3 × 30/14 = 6.428… → 6.43 × 5.00 = 32.15.
  assert.deepEqual(projection(c.seats), { projected_units: '6.43', projected_amount_cents: 3215 });
  // Storage: 7 × 30/14 = 15 → 10 free, 5 × 0.50 + 1.00 = 3.50.
  assert.deepEqual(projection(c.storage), { projected_units: '15.0', projected_amount_cents: 350 });
  // 1928 + 2400 + 3215 + 350 = 7893.
  assert.equal(usage.projected_amount_cents, 7893);
});

test('projected usage of a percentage and a grouped charge', () => {
  const { engine } = loaded();
  const usage = engine.projectedUsage(query('cus_c', 'sub_c')).customer_projected_usage;
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [1380, 55, 1435]);
  const c = byCode(usage);
  // Ratio 15/30 = 0.5. Compute, each group on its own: aws 15.5 / 0.5 = 31 × 0.20 = 6.20;
  // gcp 8 × 0.20 = 1.60; no cloud 3 × 0.20 = 0.60 → 42 units, 8.40.
  const groups = byGroup(c.compute);
  assert.deepEqual(projection(groups.aws), { projected_units: '31.0', projected_amount_cents: 620 });
  assert.deepEqual(projection(groups.gcp), { projected_units: '8.0', projected_amount_cents: 160 });
  assert.deepEqual(projection(groups.null), { projected_units: '3.0', projected_amount_cents: 60 });
  assert.deepEqual(projection(c.compute), { projected_units: '42.0', projected_amount_cents: 840 });
  // Payments: the percentage amount is scaled, not re-priced, and its projection does not deduct
  // free units (free events still skip the fixed fee): 600 × 1.5 % + (3 − 2) × 0.10 = 9.10,
  // / 0.5 = 18.20. Units 600 / 0.5 = 1200.
  assert.deepEqual(projection(c.payments), { projected_units: '1200.0', projected_amount_cents: 1820 });
  // Storage: 50 / 0.5 = 100 × 0.10 = 10.00.
  assert.deepEqual(projection(c.storage), { projected_units: '100.0', projected_amount_cents: 1000 });
  // 840 + 1820 + 1000 = 3660.
  assert.equal(usage.projected_amount_cents, 3660);
});

// ---------------------------------------------------------------------------------------------
// Past usage
// ---------------------------------------------------------------------------------------------

const pastQuery = (extra = {}) => ({ external_customer_id: 'cus_c', external_subscription_id: 'sub_c', now: NOW, ...extra });
/** [from_datetime, amount, taxes, total, [[charge code, units, amount]…]] per period. */
const periods = (answer) => answer.usage_periods.map((p) => [p.from_datetime, p.amount_cents, p.taxes_amount_cents,
  p.total_amount_cents, p.charges_usage.map((c) => [c.charge.code, c.units, c.amount_cents])]);

// sub_c's closed periods at NOW (plan_tax 5 % on compute and storage):
//   May   storage 30 gb × 0.10 = 3.00, compute aws 5 h × 0.20 = 1.00 → 400; tax 20; total 420
//   April storage 20 gb × 0.10 = 2.00 → 200; tax 10; total 210
//   March storage 10 gb × 0.10 = 1.00 → 100; tax 5; total 105
const MAY = ['2025-05-01T00:00:00Z', 400, 20, 420, [['g_compute', '5.0', 100], ['g_storage', '30.0', 300]]];
const APRIL = ['2025-04-01T00:00:00Z', 200, 10, 210, [['g_storage', '20.0', 200]]];
const MARCH = ['2025-03-01T00:00:00Z', 100, 5, 105, [['g_storage', '10.0', 100]]];

test('past usage: closed periods newest first, paginated, by metric', () => {
  const { engine } = loaded();
  let answer = engine.pastUsage(pastQuery());
  assert.deepEqual(periods(answer), [MAY, APRIL, MARCH]);
  assert.deepEqual(answer.meta, { current_page: 1, next_page: null, prev_page: null, total_pages: 1, total_count: 3 });
  const may = answer.usage_periods[0];
  assert.equal(may.to_datetime, '2025-05-31T23:59:59Z');
  assert.equal(may.issuing_date, '2025-05-31');
  assert.equal(typeof may.lago_invoice_id, 'string');
  // Only charges with something billed are listed (May has no payments).
  assert.equal(byGroup(may.charges_usage[0]).aws.units, '5.0');

  answer = engine.pastUsage(pastQuery({ per_page: 2 }));
  assert.deepEqual(periods(answer), [MAY, APRIL]);
  assert.deepEqual(answer.meta, { current_page: 1, next_page: 2, prev_page: null, total_pages: 2, total_count: 3 });
  answer = engine.pastUsage(pastQuery({ per_page: 2, page: 2 }));
  assert.deepEqual(periods(answer), [MARCH]);
  assert.deepEqual(answer.meta, { current_page: 2, next_page: null, prev_page: 1, total_pages: 2, total_count: 3 });
  // periods_count is the page size.
  answer = engine.pastUsage(pastQuery({ periods_count: 1 }));
  assert.deepEqual(periods(answer), [MAY]);
  assert.deepEqual(answer.meta, { current_page: 1, next_page: 2, prev_page: null, total_pages: 3, total_count: 3 });

  // Only the compute charge; the period totals stay those of the whole period.
  answer = engine.pastUsage(pastQuery({ billable_metric_code: 'compute' }));
  assert.deepEqual(periods(answer), [
    [...MAY.slice(0, 4), [['g_compute', '5.0', 100]]], [...APRIL.slice(0, 4), []], [...MARCH.slice(0, 4), []],
  ]);

  // sub_b (New York) closed May: the eu request of May 31 23:00 local, 1 × 2.00 = 2.00; charge_tax
  // 2 % = 4 → 204.
  answer = engine.pastUsage({ external_customer_id: 'cus_b', external_subscription_id: 'sub_b', now: NOW });
  assert.deepEqual(periods(answer), [['2025-05-01T04:00:00Z', 200, 4, 204, [['c_api', '1.0', 200]]]]);
  assert.equal(answer.usage_periods[0].to_datetime, '2025-06-01T03:59:59Z');
  // sub_a started in June: nothing closed yet.
  answer = engine.pastUsage({ external_customer_id: 'cus_a', external_subscription_id: 'sub_a', now: NOW });
  assert.deepEqual(answer, { usage_periods: [], meta: { current_page: 0, next_page: null, prev_page: null, total_pages: 0, total_count: 0 } });
  // Another customer's subscription: an empty list too.
  assert.deepEqual(engine.pastUsage({ ...pastQuery(), external_customer_id: 'cus_a' }).usage_periods, []);

  assert.deepEqual(body(lagoError(() => engine.pastUsage({ external_customer_id: 'cus_c', now: NOW }))),
    { status: 422, code: 'validation_errors', error_details: { external_subscription_id: ['value_is_mandatory'] } });
  assert.deepEqual(body(lagoError(() => engine.pastUsage(pastQuery({ billable_metric_code: 'nope' })))),
    { status: 404, code: 'billable_metric_not_found', error_details: undefined });
});

test('a closed period keeps its amounts after the price changes; the current one reprices', () => {
  const { engine } = loaded();
  assert.deepEqual(periods(engine.pastUsage(pastQuery())), [MAY, APRIL, MARCH]);
  const storageOnly = query('cus_c', 'sub_c', { charge_code: 'g_storage' });
  assert.equal(engine.currentUsage(storageOnly).customer_usage.amount_cents, 500);

  // Storage goes from 0.10 to 0.20 per gb.
  const plan = engine.upsertPlan(growthPlan('0.2'));
  assert.deepEqual(plan.charges.find((c) => c.code === 'g_storage').properties, { amount: '0.2' });
  // The closed periods are unchanged…
  assert.deepEqual(periods(engine.pastUsage(pastQuery())), [MAY, APRIL, MARCH]);
  // …and so is May after a late event for it (it is billed).
  engine.ingestEvent(ev('c-st-late', 'sub_c', 'storage', '2025-05-20T00:00:00Z', { gb: 1 }), NOW);
  assert.deepEqual(periods(engine.pastUsage(pastQuery())), [MAY, APRIL, MARCH]);

  // June uses the new price: storage 50 gb × 0.20 = 10.00.
  assert.equal(engine.currentUsage(storageOnly).customer_usage.amount_cents, 1000);
  // Whole June: 420 + 460 + 1000 = 1880. Taxes 9.2 + (310 + 80 + 30) × 5 % = 21 + 1000 × 5 % = 50
  // → 80.2 → 80; total 1960.
  const usage = engine.currentUsage(query('cus_c', 'sub_c')).customer_usage;
  assert.deepEqual([usage.amount_cents, usage.taxes_amount_cents, usage.total_amount_cents], [1880, 80, 1960]);
});

// ---------------------------------------------------------------------------------------------
// Export / import
// ---------------------------------------------------------------------------------------------

test('export → import gives the same export and the same answers', () => {
  const { engine } = loaded();
  engine.upsertPlan(growthPlan('0.2')); // freezes sub_b's May and sub_c's March–May
  const state = engine.export();
  assert.equal(state.format, 'usage-calc/1');
  assert.equal(state.events.length, EVENTS_TOTAL);

  const copies = [Engine.import(state), Engine.import(JSON.stringify(state))];
  const questions = (e) => [
    e.eventsCount,
    ...[['cus_a', 'sub_a'], ['cus_b', 'sub_b'], ['cus_c', 'sub_c']].flatMap(([c, s]) => [
      e.currentUsage(query(c, s)),
      e.projectedUsage(query(c, s)),
      e.pastUsage({ external_customer_id: c, external_subscription_id: s, now: NOW }),
    ]),
    e.currentUsage(query('cus_c', 'sub_c', { charge_code: 'g_compute', group: { cloud: 'gcp' } })),
  ];
  const answers = questions(engine);
  for (const copy of copies) {
    assert.deepEqual(copy.export(), state);
    assert.deepEqual(questions(copy), answers);
  }

  // The copies keep working like the original: the same new event (a duplicate of a stored one is
  // still refused), the same change of price, the same answers.
  const late = ev('after-import', 'sub_a', 'cpu_peak', '2025-06-20T00:00:00Z', { cores: 21 });
  for (const e of [engine, ...copies]) {
    e.ingestEvent(late, NOW);
    assert.equal(lagoError(() => e.ingestEvent(SUB_A_SINGLE[0], NOW)).code, 'validation_errors');
    e.upsertPlan(growthPlan('0.3'));
  }
  // CPU peak of sub_a is now 21 cores → ceil(21 / 4) = 6 × 3.00 = 18.00.
  const cpu = (e) => e.currentUsage(query('cus_a', 'sub_a', { charge_code: 'c_cpu' })).customer_usage.amount_cents;
  assert.equal(cpu(engine), 1800);
  const after = questions(engine);
  for (const copy of copies) {
    assert.equal(cpu(copy), 1800);
    assert.deepEqual(questions(copy), after);
    assert.deepEqual(copy.export(), engine.export());
  }

  assert.deepEqual(body(lagoError(() => Engine.import({ ...state, format: 'usage-calc/0' }))),
    { status: 422, code: 'validation_errors', error_details: { format: ['value_is_invalid'] } });
});
