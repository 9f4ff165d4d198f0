// The pricing simulator (www/) in a real browser: playwright-core driving Debian's Chromium
// (no browser download). A plain Node script: exits non-zero on failure and prints one summary
// line `browser: PASS total_cents=… reprice_ms=… upload_100k_ms=…`.
//
//   node tests/browser/simulator.mjs            (needs pkg/: bash scripts/build.sh)
//
// It serves the repo root with node:http (the page imports ../pkg/index.js), then:
//  1. builds a plan in the UI (graduated, package and percentage charges, VAT), types usage, and
//     checks the shown total against the engine's cents computed here in Node (the same
//     package: buildChargeUsage per charge, and an Engine fed events that make the same
//     usage) and against arithmetic worked by hand below;
//  2. reloads the page's shareable URL and finds the same scenario and total;
//  3. compares two plans (cheapest marked, per-charge differences);
//  4. imports a 20-charge Lago plan and times re-pricing after an input change
//     (performance.now() around the input event, forced layout included);
//  5. uploads a generated 100k-event NDJSON file and waits for the progress bar, then checks
//     the engine's current usage in Node on the same file and the same "now"; then drops a CSV;
//  6. portal mode (?customer=…&token=…) against a faked /portal endpoint (page.route);
//  7. labels on every input, keyboard reachability, no horizontal scroll at 1280 and 390 px;
//  8. no console error; screenshots to tests/out/ (SHOT_DOCS=1 also copies the demo one to
//     docs/simulator.png).
import http from 'node:http';
import { existsSync, mkdirSync } from 'node:fs';
import { readFile, copyFile } from 'node:fs/promises';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const OUT = join(ROOT, 'tests', 'out');
const EXE = process.env.CHROMIUM || '/usr/bin/chromium';
const T_START = performance.now();
const log = (...a) => { if (process.env.VERBOSE) console.log(`[${((performance.now() - T_START) / 1000).toFixed(1)}s]`, ...a); };

// The package may be mid-rebuild (another engineer rebuilds pkg/): wait and retry once.
async function importPkg() {
  for (let attempt = 0; ; attempt++) {
    try { return await import(join(ROOT, 'pkg', 'index.js')); } catch (e) {
      if (attempt) throw e;
      console.error(`pkg/ import failed (${e.message}); retrying in 30 s`);
      await new Promise((r) => setTimeout(r, 30_000));
    }
  }
}
const { buildChargeUsage, Engine } = await importPkg();

// ---------------------------------------------------------------------------------------------
// The plan the test builds, and the arithmetic by hand
// ---------------------------------------------------------------------------------------------
//
// Plan "test" (USD, monthly, VAT 20 % from the demo's tax catalogue):
//   sms       (sum of messages)  graduated  0–1,000 at $0.01 + $5 flat; 1,000–10,000 at $0.008; 10,000–∞ at $0.005
//   api_calls (count)            package    $2.50 per started 1,000 calls, 500 calls free
//   payments  (sum of amount)    percentage 1.2 % + $0.30 per payment
// Usage typed: 23,456 SMS; 123,456 API calls; $18,500 of payments in 220 payments.
//   sms:       1,000 × 0.01 + 5 = 15.00;  9,000 × 0.008 = 72.00;  13,456 × 0.005 = 67.28  → 154.28 → 15,428 ¢
//   api_calls: 123,456 − 500 = 122,956 paid → ceil(122,956 / 1,000) = 123 packages × 2.50 = 307.50 → 30,750 ¢
//   payments:  18,500 × 1.2 % = 222.00;  220 × 0.30 = 66.00                              → 288.00 → 28,800 ¢
//   usage 74,978 ¢; VAT 20 % = 14,995.6 ¢ → rounded half-up once → 14,996 ¢; total 89,974 ¢ = $899.74
const HAND = { sms: 15_428, api_calls: 30_750, payments: 28_800, usage: 74_978, taxes: 14_996, total: 89_974 };
const USAGE = { sms: '23456', api_calls: '123456', payments: '18500', payments_events: '220' };
const TEST_PLAN = {
  code: 'test', name: 'Test plan', interval: 'monthly', amount_currency: 'USD', amount_cents: 0, tax_codes: ['vat'],
  charges: [
    { code: 'sms', billable_metric_code: 'sms', charge_model: 'graduated', properties: { graduated_ranges: [
      { from_value: 0, to_value: 1000, per_unit_amount: '0.01', flat_amount: '5' },
      { from_value: 1000, to_value: 10000, per_unit_amount: '0.008', flat_amount: '0' },
      { from_value: 10000, to_value: null, per_unit_amount: '0.005', flat_amount: '0' }] } },
    { code: 'api_calls', billable_metric_code: 'api_calls', charge_model: 'package', properties: { amount: '2.5', package_size: 1000, free_units: 500 } },
    { code: 'payments', billable_metric_code: 'payments', charge_model: 'percentage', properties: { rate: '1.2', fixed_amount: '0.3' } },
  ],
};
const METRICS = [
  { code: 'api_calls', name: 'API calls', aggregation_type: 'count_agg' },
  { code: 'sms', name: 'SMS', aggregation_type: 'sum_agg', field_name: 'messages' },
  { code: 'payments', name: 'Payments', aggregation_type: 'sum_agg', field_name: 'amount' },
];

/** The engine's cents for the typed usage, two ways: stateless per charge, and an Engine fed events. */
function engineCents() {
  const aggregation = Object.fromEntries(METRICS.map((m) => [m.code, m.aggregation_type]));
  const lines = TEST_PLAN.charges.map((c) => buildChargeUsage({
    charge_model: c.charge_model, properties: c.properties, currency: 'USD', aggregation_type: aggregation[c.billable_metric_code],
    units: USAGE[c.billable_metric_code], events_count: c.billable_metric_code === 'payments' ? 220 : c.billable_metric_code === 'api_calls' ? 123456 : 0,
  }).amount_cents);
  const usage = lines.reduce((a, b) => a + b, 0);
  // Taxes the way the engine's usage rounds them: once over Σ fees × rate.
  const taxes = buildChargeUsage({ charge_model: 'standard', properties: { amount: '0.01' }, units: String(usage), currency: 'USD', taxes: [{ rate: '20' }] }).taxes_amount_cents;

  const engine = new Engine();
  engine.upsertTax({ code: 'vat', name: 'VAT', rate: '20' });
  METRICS.forEach((m) => engine.upsertBillableMetric(m));
  engine.upsertPlan(TEST_PLAN);
  engine.upsertSubscription({ external_id: 'check', external_customer_id: 'check_customer', plan_code: 'test', started_at: '2025-06-01T00:00:00Z' }, '2025-06-01T00:00:00Z');
  const ts = Date.parse('2025-06-10T00:00:00Z') / 1000;
  const events = [JSON.stringify({ transaction_id: 's', external_subscription_id: 'check', code: 'sms', timestamp: ts, properties: { messages: 23456 } })];
  for (let i = 0; i < 123456; i++) events.push(`{"transaction_id":"a${i}","external_subscription_id":"check","code":"api_calls","timestamp":${ts + (i % 86400)}}`);
  for (let i = 0; i < 220; i++) events.push(JSON.stringify({ transaction_id: `p${i}`, external_subscription_id: 'check', code: 'payments', timestamp: ts + i, properties: { amount: i < 200 ? 80 : 125 } }));
  engine.ingestBulk(events.join('\n'), '2025-06-20T00:00:00Z');
  const u = engine.currentUsage({ external_customer_id: 'check_customer', external_subscription_id: 'check', now: '2025-06-20T00:00:00Z' }).customer_usage;
  engine.free();
  return { lines, usage, taxes, total: usage + taxes, engineUsage: u };
}

/** 100,000 NDJSON events in June 2025 for subscription "sim" (the page's default id). */
function hundredThousandEvents() {
  const from = Date.parse('2025-06-01T00:00:00Z') / 1000;
  const lines = [];
  for (let i = 0; i < 100_000; i++) {
    const t = from + Math.floor((i / 100_000) * 29.5 * 86400);
    const kind = i % 10;
    if (kind < 6) lines.push(`{"transaction_id":"u${i}","external_subscription_id":"sim","code":"api_calls","timestamp":${t}}`);
    else if (kind < 9) lines.push(`{"transaction_id":"u${i}","external_subscription_id":"sim","code":"sms","timestamp":${t},"properties":{"messages":${1 + (i % 3)}}}`);
    else lines.push(`{"transaction_id":"u${i}","external_subscription_id":"sim","code":"payments","timestamp":${t},"properties":{"amount":${10 + (i % 91)}}}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The engine's usage of that file on the test plan at `now` (what the page must show). */
function engineOnFile(text, now) {
  const engine = new Engine({ premium: true, premium_integrations: ['projected_usage'] });
  engine.upsertTax({ code: 'vat', name: 'VAT', rate: '20' });
  METRICS.forEach((m) => engine.upsertBillableMetric(m));
  engine.upsertPlan(TEST_PLAN);
  engine.upsertSubscription({ external_id: 'sim', external_customer_id: 'c', plan_code: 'test', started_at: '2025-06-01T00:00:00Z' }, '2025-06-01T00:00:00Z');
  engine.ingestBulk(text, now);
  const q = { external_customer_id: 'c', external_subscription_id: 'sim', now };
  const current = engine.currentUsage(q).customer_usage;
  const projected = engine.projectedUsage(q).customer_projected_usage;
  engine.free();
  return { current, projected };
}

/** Does this engine build read CSV in ingestBulk? */
function csvSupported() {
  const e = new Engine();
  try { return e.ingestBulk('transaction_id,external_subscription_id,code,timestamp\nx,s,c,1700000000\n', '2025-01-01T00:00:00Z') === 1; } catch { return false; } finally { e.free(); }
}

/** A 20-charge plan as Lago's GET /plans/{code} answers it (ids and dates included). */
function twentyChargePlan() {
  const models = [
    (i) => ({ charge_model: 'graduated', properties: { graduated_ranges: [
      { from_value: 0, to_value: 100, per_unit_amount: '0', flat_amount: '0' },
      { from_value: 100, to_value: 1000, per_unit_amount: `0.0${i + 1}`, flat_amount: '1' },
      { from_value: 1000, to_value: null, per_unit_amount: '0.005', flat_amount: '0' }] } }),
    () => ({ charge_model: 'package', properties: { amount: '3', package_size: 100, free_units: 10 } }),
    (i) => ({ charge_model: 'standard', properties: { amount: `0.00${i + 1}` } }),
    () => ({ charge_model: 'volume', properties: { volume_ranges: [
      { from_value: 0, to_value: 500, per_unit_amount: '0.2', flat_amount: '0' },
      { from_value: 500, to_value: null, per_unit_amount: '0.1', flat_amount: '10' }] } }),
    () => ({ charge_model: 'percentage', properties: { rate: '0.75', fixed_amount: '0.05' } }),
  ];
  return { plan: {
    lago_id: '1a901a90-1a90-1a90-1a90-1a901a901a90', name: 'Twenty', code: 'twenty', interval: 'monthly', amount_cents: 9900,
    amount_currency: 'USD', created_at: '2025-01-01T00:00:00Z', pay_in_advance: false,
    charges: Array.from({ length: 20 }, (_, i) => ({
      lago_id: `c${i}`, lago_billable_metric_id: `m${i}`, billable_metric_code: `m${String(i + 1).padStart(2, '0')}`,
      code: `c${String(i + 1).padStart(2, '0')}`, created_at: '2025-01-01T00:00:00Z', invoiceable: true, pay_in_advance: false, prorated: false,
      min_amount_cents: 0, filters: [], taxes: [{ lago_id: 't', code: 'vat', name: 'VAT', rate: 20 }], ...models[i % models.length](i),
    })),
    taxes: [{ lago_id: 't', code: 'vat', name: 'VAT', rate: 20 }],
  } };
}

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png', '.svg': 'image/svg+xml' };
const server = http.createServer(async (req, res) => {
  const path = resolve(ROOT, `.${decodeURIComponent(new URL(req.url, 'http://x').pathname)}`);
  if (!path.startsWith(ROOT + sep)) { res.writeHead(403).end(); return; }
  try { res.writeHead(200, { 'content-type': TYPES[extname(path)] || 'application/octet-stream' }).end(await readFile(path)); } catch { res.writeHead(404).end(); }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const BASE = `http://127.0.0.1:${server.address().port}`;

if (!existsSync(EXE)) { console.log(`browser: SKIP (${EXE} not found)`); process.exit(0); }
mkdirSync(OUT, { recursive: true });
const browser = await chromium.launch({ executablePath: EXE, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC', acceptDownloads: true });
const consoleErrors = [];
const watch = (page, name) => {
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${name}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`${name}: ${e.message}`));
};

async function open(page, url) {
  for (let attempt = 0; ; attempt++) {
    await page.goto(url);
    await page.waitForSelector('body[data-ready]', { timeout: 30_000 });
    if (await page.getAttribute('body', 'data-ready') === '1') return;
    if (attempt) throw new Error(`the page did not start: ${await page.textContent('#fatal')}`);
    console.error('the page did not start (pkg/ mid-rebuild?); retrying in 30 s');
    await page.waitForTimeout(30_000);
  }
}
const cents = async (page, selector) => Number(await page.getAttribute(selector, 'data-cents'));
const usd = (c) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD' }).format(`${Math.trunc(c / 100)}.${String(Math.abs(c) % 100).padStart(2, '0')}`);

const summary = {};
let ok = false;
try {
  const page = await context.newPage();
  watch(page, 'simulator');
  if (process.env.VERBOSE) page.on('console', (m) => console.log('[page]', m.text()));
  await open(page, `${BASE}/www/index.html`);
  log('opened');

  // ---- 1. Build the plan through the UI -------------------------------------------------------
  await page.getByRole('button', { name: '+ New plan' }).click();
  const P = 'plans-2';
  await page.getByLabel('Plan name').fill('Test plan');
  await page.getByLabel('Plan code').fill('test');
  await page.getByLabel('Currency').fill('USD');
  await page.getByLabel('Currency').press('Tab');
  assert.ok(await page.locator(`#f-${P}-tax_codes-vat`).isChecked(), 'VAT applies to the new plan');

  const addCharge = async (metricLabel, model) => {
    const n = await page.locator('fieldset.charge').count();
    await page.getByRole('button', { name: '+ Add charge' }).click();
    const charge = page.locator(`#f-${P}-charges-${n}`);
    await charge.getByLabel('Billable metric').selectOption({ label: metricLabel });
    await charge.getByLabel('Charge model').selectOption(model);
    await page.waitForTimeout(20);
    return page.locator(`#f-${P}-charges-${n}`);
  };
  // Graduated on SMS: the default two tiers become three.
  let c = await addCharge('SMS (sms, sum_agg)', 'graduated');
  await c.getByLabel('Tier 1 to (empty: no limit)').fill('1000');
  await c.getByLabel('Tier 1 price per unit').fill('0.01');
  await c.getByLabel('Tier 1 flat fee').fill('5');
  await c.getByLabel('Tier 2 price per unit').fill('0.008');
  await c.getByRole('button', { name: '+ Add tier' }).click();
  c = page.locator(`#f-${P}-charges-0`);
  await c.getByLabel('Tier 2 to (empty: no limit)').fill('10000');
  await c.getByLabel('Tier 3 price per unit').fill('0.005');
  assert.equal(await c.getByLabel('Tier 2 from').inputValue(), '1000', 'editing "to" moved the next "from"');
  assert.equal(await c.getByLabel('Tier 3 from').inputValue(), '10000');
  // Package on API calls.
  c = await addCharge('API calls (api_calls, count_agg)', 'package');
  await c.getByLabel('Price per package').fill('2.5');
  await c.getByLabel('Package size (units)').fill('1000');
  await c.getByLabel('Free units').fill('500');
  // Percentage on payments.
  c = await addCharge('Payments (payments, sum_agg)', 'percentage');
  await c.getByLabel('Rate (%)').fill('1.2');
  await c.getByLabel('Fixed fee per event').fill('0.3');
  // A wrong value shows the engine's error next to its field, then goes away when fixed.
  await c.getByLabel('Rate (%)').fill('abc');
  const rateError = page.locator(`#e-${P}-charges-2-properties-rate`);
  assert.match(await rateError.textContent(), /invalid_rate|invalid_amount/, 'engine validation error next to the rate');
  assert.equal(await c.getByLabel('Rate (%)').getAttribute('aria-invalid'), 'true');
  await c.getByLabel('Rate (%)').fill('1.2');
  assert.equal(await rateError.textContent(), '');
  assert.match(await page.textContent('#plan-status'), /Valid plan/);
  log('plan built');

  // ---- Usage as numbers ------------------------------------------------------------------------
  await page.getByLabel(/^SMS \(sms/).fill(USAGE.sms);
  await page.getByLabel(/^API calls \(api_calls/).fill(USAGE.api_calls);
  await page.getByLabel(/^Payments \(payments/).fill(USAGE.payments);
  await page.getByLabel('Events (transactions)').fill(USAGE.payments_events);
  const engine = engineCents();
  const shown = {
    usage: await cents(page, '#usage-amount'), taxes: await cents(page, '#taxes-amount'), total: await cents(page, '#total'),
    lines: await page.$$eval('#results-body tr.charge-row', (rows) => Object.fromEntries(rows.map((r) => [r.dataset.charge, Number(r.querySelector('[data-line]').dataset.cents)]))),
  };
  assert.deepEqual(shown.lines, { sms: HAND.sms, api_calls: HAND.api_calls, payments: HAND.payments }, 'per-charge cents = hand-worked');
  assert.deepEqual(engine.lines, [HAND.sms, HAND.api_calls, HAND.payments], 'engine lines = hand-worked');
  assert.equal(shown.usage, HAND.usage);
  assert.equal(shown.taxes, HAND.taxes, 'VAT rounded half-up once');
  assert.equal(shown.total, HAND.total, 'shown total = hand-worked');
  assert.equal(shown.total, engine.total, 'shown total = engine (stateless)');
  assert.equal(engine.engineUsage.total_amount_cents, HAND.total, 'engine fed with events agrees');
  assert.equal(engine.engineUsage.taxes_amount_cents, HAND.taxes);
  assert.equal((await page.textContent('#total')).trim(), usd(HAND.total), 'formatted in the currency ($899.74)');
  summary.total_cents = shown.total;
  // The tier-by-tier explanation of the graduated charge.
  // The last input's re-price may re-render the results after the click: open until shown.
  const tierRows = 'tr.charge-row[data-charge="sms"] + tr .explain-table tbody tr';
  for (let attempt = 0; attempt < 10 && !(await page.locator(tierRows).count()); attempt++) {
    await page.getByText('How SMS is priced').click();
    await page.waitForTimeout(200);
  }
  const tiers = await page.$$eval(tierRows, (rows) => rows.map((r) => [...r.cells].map((td) => td.textContent.trim())));
  assert.deepEqual(tiers.map((r) => [r[2], r[6]]), [['1,000', '$15.00'], ['9,000', '$72.00'], ['13,456', '$67.28']], 'units and subtotal per tier');
  // The cost-against-units picture of each tiered charge, with breakpoints and the position.
  assert.equal(await page.locator('#tier-charts figure').count(), 2, 'graduated and package pictures');
  assert.ok(await page.locator('#tier-charts figure').first().locator('.break').count() >= 2);
  assert.equal(await page.locator('#tier-charts figure .marker').count(), 2);
  const noScroll = async () => page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
  await page.setViewportSize({ width: 390, height: 844 });
  assert.ok(await noScroll(), 'no horizontal scroll at 390 px (numbers)');
  await page.setViewportSize({ width: 1280, height: 900 });
  log('numbers checked');

  // ---- 2. The scenario lives in the URL ----------------------------------------------------------
  await page.waitForFunction(() => location.hash.startsWith('#s='));
  await page.evaluate(() => new Promise((r) => setTimeout(r, 300)));
  const link = page.url();
  const again = await context.newPage();
  watch(again, 'reload');
  await open(again, link);
  assert.equal(await cents(again, '#total'), HAND.total, 'reloaded link restores the total');
  assert.equal(await again.inputValue('#f-plans-2-charges-0-properties-graduated_ranges-2-per_unit_amount'), '0.005');
  await again.close();

  // ---- 3. Compare two plans ----------------------------------------------------------------------
  // Plans in different currencies get no "cheapest": put Growth in USD first.
  assert.match(await page.textContent('#compare-body'), /different currencies: no cheapest/);
  await page.getByRole('button', { name: 'Growth' }).click();
  await page.getByLabel('Currency').fill('USD');
  await page.getByLabel('Currency').press('Tab');
  await page.getByLabel('Starter').uncheck();
  const compared = await page.$$eval('.compare [data-field="total"]', (els) => els.map((e) => ({ plan: e.dataset.plan, cents: Number(e.dataset.cents) })));
  assert.deepEqual(compared.map((x) => x.plan), ['growth', 'test']);
  assert.equal(compared[1].cents, HAND.total, 'the test plan in the comparison');
  const cheapest = compared.reduce((a, b) => (b.cents < a.cents ? b : a));
  const badgeOn = await page.$eval('.compare thead .badge', (b) => b.parentElement.textContent.replace('Cheapest', '').trim());
  assert.equal(badgeOn, cheapest.plan === 'test' ? 'Test plan' : 'Growth', 'cheapest marked');
  const totalDiff = await page.$eval('.compare .total-row:nth-last-child(1) .diff', (d) => d.textContent.trim()).catch(() => null);
  const other = compared.find((x) => x !== cheapest);
  assert.equal(totalDiff, `+${usd(other.cents - cheapest.cents)}`, 'difference = other − cheapest');
  const perCharge = await page.$$eval('.compare tbody tr:not(.total-row)', (rows) => rows.length);
  assert.ok(perCharge >= 3, 'a row per charge');
  summary.compare = `${compared.map((x) => `${x.plan}:${x.cents}`).join('/')}`;
  log('compared');

  // ---- 4. Re-pricing time with 20 charges ----------------------------------------------------------
  await page.getByRole('button', { name: 'Test plan', exact: true }).click();
  await page.getByRole('button', { name: 'Remove plan' }).click();
  await page.getByRole('button', { name: 'Starter', exact: true }).click();
  await page.getByRole('button', { name: 'Remove plan' }).click(); // room for the 20-charge import
  await page.locator('#import-export summary').click();
  await page.getByLabel(/Lago plan JSON/).fill(JSON.stringify(twentyChargePlan()));
  await page.getByRole('button', { name: 'Import as a new plan' }).click();
  assert.match(await page.textContent('#lago-json-status'), /Imported "twenty" \(20 charges\)/);
  assert.equal(await page.locator('fieldset.charge').count(), 20);
  // Exported back as a Lago plan body, the same plan.
  await page.getByRole('button', { name: 'Export this plan' }).click();
  const exported = JSON.parse(await page.getByLabel(/Lago plan JSON/).inputValue()).plan;
  const source = twentyChargePlan().plan;
  assert.equal(exported.code, 'twenty');
  assert.deepEqual(exported.charges.map((x) => [x.code, x.billable_metric_code, x.charge_model, x.properties, x.taxes.map((t) => t.code)]),
    source.charges.map((x) => [x.code, x.billable_metric_code, x.charge_model, x.properties, ['vat']]), 'export = import');
  assert.deepEqual(exported.taxes.map((t) => [t.code, t.rate]), [['vat', 20]]);
  await page.getByLabel('Growth').uncheck(); // price the 20-charge plan alone (Compare off)
  const times = await page.evaluate(async () => {
    const out = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 1; i <= 20; i++) {
        const input = document.getElementById(`f-numbers-units-m${String(i).padStart(2, '0')}`);
        await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
        const t0 = performance.now();
        input.value = String(100 + i * 137 + round * 1000);
        input.dispatchEvent(new Event('input', { bubbles: true }));
        void document.body.offsetHeight; // style + layout of the new results
        out.push(performance.now() - t0);
      }
    }
    return out;
  });
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const p95 = sorted[Math.floor(sorted.length * 0.95)];
  summary.reprice_ms = median.toFixed(1);
  summary.reprice_p95_ms = p95.toFixed(1);
  summary.reprice_max_ms = sorted.at(-1).toFixed(1);
  assert.ok(median <= 16, `re-pricing 20 charges takes ${median.toFixed(1)} ms (median), over one frame`);
  assert.equal(await page.locator('#results-body tr.charge-row').count(), 20);
  log('repriced', times.map((t) => t.toFixed(1)).join(' '));

  // ---- 5. Upload 100k events ----------------------------------------------------------------------
  await page.getByLabel('Growth').check();
  if (!(await page.$eval('#import-export', (d) => d.open))) await page.locator('#import-export summary').click();
  await page.getByLabel(/Lago plan JSON/).fill(JSON.stringify({ plan: { ...TEST_PLAN, taxes: [{ code: 'vat', rate: 20 }] } }));
  await page.getByRole('button', { name: 'Import into this plan' }).click();
  assert.match(await page.textContent('#lago-json-status'), /Imported "test" \(3 charges\)/);
  await page.getByLabel('Events', { exact: true }).check();
  await page.getByLabel('Uploaded file').check();
  const file = hundredThousandEvents();
  await page.evaluate(() => {
    window.progressSeen = new Set();
    window.progressTimer = setInterval(() => window.progressSeen.add(Math.round(document.getElementById('ingest-progress').value * 100)), 5);
  });
  const t0 = Date.now();
  await page.setInputFiles('#event-file', { name: 'june.ndjson', mimeType: 'application/x-ndjson', buffer: Buffer.from(file) });
  await page.waitForSelector('#ingest-progress[data-state="done"][data-source="june.ndjson"]', { timeout: 60_000 });
  summary.upload_100k_ms = Number(await page.getAttribute('body', 'data-upload-ms')); // in the page: file chosen → usage shown
  summary.upload_wall_ms = Date.now() - t0; // plus playwright handing 8 MB to the page
  const seen = await page.evaluate(() => { clearInterval(window.progressTimer); return [...window.progressSeen].sort((a, b) => a - b); });
  assert.ok(seen.some((v) => v > 0 && v < 100), `the progress bar moved through intermediate values (${seen.join(',')})`);
  assert.equal(await page.getAttribute('body', 'data-events-ingested'), '100000');
  assert.equal(await page.$eval('#ingest-progress', (p) => p.value), 1);
  const now = await page.getAttribute('#results-body', 'data-now');
  const expected = engineOnFile(file, now);
  assert.equal(await cents(page, '#total'), expected.current.total_amount_cents, 'events total = engine on the same file');
  assert.equal(await cents(page, '#projected-amount'), expected.projected.projected_amount_cents, 'projection = engine');
  assert.ok(await page.locator('#cumulative svg .actual').count() === 1, 'cumulative picture drawn');
  assert.ok(await page.locator('#cumulative svg .pt').count() >= 25, 'a point per day');
  assert.match(await page.textContent('#subscription-ids'), /sim.*100,000 events.*counted/s);
  summary.events_total_cents = expected.current.total_amount_cents;
  log('uploaded');

  // The same kind of file as CSV (header row, one event per row), when the engine reads CSV.
  const csvText = `transaction_id,external_subscription_id,code,timestamp,messages,amount\n${file.trim().split('\n').slice(0, 3000).map((line) => {
    const e = JSON.parse(line);
    return [e.transaction_id, e.external_subscription_id, e.code, e.timestamp, e.properties?.messages ?? '', e.properties?.amount ?? ''].join(',');
  }).join('\n')}\n`;
  // Dropped on the drop zone this time (a DataTransfer built in the page, as a drag and drop sends it).
  await page.evaluate((text) => {
    const dt = new DataTransfer();
    dt.items.add(new File([text], 'june.csv', { type: 'text/csv' }));
    document.getElementById('dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, csvText);
  if (csvSupported()) {
    await page.waitForSelector('#ingest-progress[data-state="done"][data-source="june.csv"]', { timeout: 30_000 });
    const nowCsv = await page.getAttribute('#results-body', 'data-now');
    assert.equal(await cents(page, '#total'), engineOnFile(csvText, nowCsv).current.total_amount_cents, 'CSV total = engine on the same CSV');
    summary.csv = 'ok';
  } else {
    await page.waitForFunction(() => /does not read CSV/.test(document.getElementById('ingest-errors').textContent));
    summary.csv = 'unsupported-by-engine';
  }

  // ---- 7. Accessibility and widths ------------------------------------------------------------------
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => el.offsetParent !== null || el.type === 'file')
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || (el.tagName === 'BUTTON' && el.textContent.trim())))
    .map((el) => el.id || el.outerHTML.slice(0, 80)));
  assert.deepEqual(unlabelled, [], 'every control has a label');
  await page.focus('body');
  let reached = false;
  for (let i = 0; i < 60 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.id === 'f-plans-1-name');
  }
  assert.ok(reached, 'the plan name is reachable by keyboard');
  assert.ok(await noScroll(), 'no horizontal scroll at 1280 px');
  await page.evaluate(() => document.activeElement?.blur());
  await page.screenshot({ path: join(OUT, 'simulator.png'), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(100);
  assert.ok(await noScroll(), 'no horizontal scroll at 390 px');
  await page.screenshot({ path: join(OUT, 'simulator-390.png'), fullPage: false });
  await page.setViewportSize({ width: 1280, height: 900 });

  // The demo scenario in events mode (the README's picture).
  const demo = await context.newPage();
  watch(demo, 'demo');
  await open(demo, `${BASE}/www/index.html`);
  await demo.getByLabel('Events', { exact: true }).check();
  await demo.waitForSelector('#ingest-progress[data-state="done"][data-source="synthetic"]', { timeout: 30_000 });
  await demo.getByText('How Storage is priced').click();
  await demo.evaluate(() => document.activeElement?.blur());
  await demo.screenshot({ path: join(OUT, 'simulator-demo.png'), fullPage: true });
  if (process.env.SHOT_DOCS) await copyFile(join(OUT, 'simulator-demo.png'), join(ROOT, 'docs', 'simulator.png'));
  await demo.close();

  // ---- 6. Portal mode ------------------------------------------------------------------------------
  const portal = await context.newPage();
  watch(portal, 'portal');
  let calls = 0;
  await portal.route(/\/portal\/customers\/acme\/usage\?token=t0k$/, (route) => {
    calls++;
    route.fulfill({ contentType: 'application/json', body: JSON.stringify(fakePortal(calls)) });
  });
  await open(portal, `${BASE}/www/index.html?customer=acme&token=t0k&refresh=1000`);
  await portal.waitForSelector('body[data-portal="loaded"]');
  assert.equal(await portal.textContent('#portal-customer'), 'Acme Corp');
  assert.equal(await cents(portal, '.portal-total'), 1519);
  assert.equal(await cents(portal, '.portal-projected'), 3798);
  assert.ok(await portal.locator('#simulator').isHidden(), 'portal mode is read-only');
  await portal.waitForFunction(() => document.querySelector('.portal-total')?.dataset.cents === '2038', null, { timeout: 12_000 });
  summary.portal_refreshes = calls;
  await portal.close();

  // The same page served by the real shim (www/shim/server.mjs, demo organisation), opened at
  // the URL its `portal_url` answers. Skipped (and said so) when the shim cannot start.
  let shim = null;
  try {
    const { createShim } = await import(join(ROOT, 'www', 'shim', 'server.mjs'));
    shim = await createShim({ log: () => {} });
  } catch (e) {
    summary.portal_live = `skipped(${e.message.replace(/\s+/g, '_').slice(0, 60)})`;
  }
  if (shim) {
    try {
      const answer = await (await fetch(`${shim.url}/api/v1/customers/acme/portal_url`, { headers: { authorization: `Bearer ${shim.apiKey}` } })).json();
      const url = new URL(answer.customer.portal_url);
      const live = await context.newPage();
      watch(live, 'portal-live');
      await open(live, url.href);
      await live.waitForSelector('body[data-portal="loaded"]');
      const shown = await live.$$eval('[data-subscription]', (cards) => Object.fromEntries(cards.map((c) => [c.dataset.subscription, Number(c.querySelector('.portal-total').dataset.cents)])));
      const body = await (await fetch(`${shim.url}/portal/customers/acme/usage?token=${url.searchParams.get('token')}`)).json();
      const expectedTotals = Object.fromEntries(body.subscriptions.map((s) => [s.external_id, (s.current_usage.customer_usage ?? s.current_usage).total_amount_cents]));
      assert.ok(Object.keys(expectedTotals).length >= 1, 'the demo customer has a subscription');
      assert.deepEqual(shown, expectedTotals, 'portal totals = the shim\'s');
      summary.portal_live = 'ok';
      // And the simulator itself from the shim's root (/ → www/index.html, /pkg → pkg/).
      await open(live, `${shim.url}/`);
      assert.ok(await cents(live, '#total') > 0, 'the simulator works served by the shim');
      await live.close();
    } finally {
      await shim.close();
    }
  }

  assert.deepEqual(consoleErrors, [], 'no console error');
  ok = true;
} catch (e) {
  console.error(e);
  if (consoleErrors.length) console.error('console errors:', consoleErrors);
} finally {
  await browser.close();
  server.close();
}
const secs = ((performance.now() - T_START) / 1000).toFixed(1);
console.log(`browser: ${ok ? 'PASS' : 'FAIL'} ${Object.entries(summary).map(([k, v]) => `${k}=${v}`).join(' ')} console_errors=${consoleErrors.length} in ${secs}s`);
process.exit(ok ? 0 : 1);

/** What the shim's /portal/customers/{id}/usage answers (current_usage bare, as the shim sends it). */
function fakePortal(call) {
  const amount = call === 1 ? 1266 : 1698;
  const taxes = call === 1 ? 253 : 340;
  const charge = (extra) => ({ charge: { lago_id: 'ch1', code: 'calls', charge_model: 'standard', invoice_display_name: null },
    billable_metric: { lago_id: 'bm1', name: 'API calls', code: 'calls', aggregation_type: 'count_agg' }, filters: [], grouped_usage: [], presentation_breakdowns: [], ...extra });
  const period = { from_datetime: '2025-06-01T00:00:00Z', to_datetime: '2025-06-30T23:59:59Z', issuing_date: '2025-06-30', currency: 'EUR', lago_invoice_id: null };
  return {
    customer: { external_id: 'acme', name: 'Acme Corp' },
    now: '2025-06-12T10:00:00Z',
    subscriptions: [{
      external_id: 'sub_1', plan_code: 'starter',
      current_usage: { ...period, amount_cents: amount, taxes_amount_cents: taxes, total_amount_cents: amount + taxes,
        charges_usage: [charge({ units: call === 1 ? '100.0' : '134.0', events_count: 100, amount_cents: amount, amount_currency: 'EUR' })] },
      projected_usage: { ...period, amount_cents: amount, taxes_amount_cents: taxes, total_amount_cents: amount + taxes, projected_amount_cents: call === 1 ? 3798 : 5094,
        charges_usage: [charge({ units: '100.0', events_count: 100, amount_cents: amount, amount_currency: 'EUR', projected_units: '250.0', projected_amount_cents: 3798 })] },
    }],
  };
}
