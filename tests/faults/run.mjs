#!/usr/bin/env node
// Faults: the shim with `STATE_FILE`, killed (-9) again and again at random moments while single
// events, batches and clock changes pour in, and restarted on the same files each time. After
// every restart: each acknowledged event is stored, each stored event was sent, a batch is
// stored whole or not at all, the usage totals add up over every earlier round, the clock is the
// last one set, and no `.tmp` file is left.
//
//   node tests/faults/run.mjs [--kills 100] [--seed N]
//
// Prints a table and one line `faults: kills=… sigterms=… … lost=0 …`; exits non-zero on any
// violation, each printed with its round and the seed (the seed replays the same choices: kill
// delays, batch sizes, compaction periods; where a kill lands still depends on timing).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { mulberry32 } from '../../www/lib/random.js';
import { numberOption, startShim as startChild } from '../lib/child-shim.mjs';

const args = process.argv.slice(2);
const KILLS = numberOption(args, 'kills', 100);
const SEED = numberOption(args, 'seed', Math.floor(Math.random() * 2 ** 31));
// Round r's events take hour r of June, before the clock (June 20-29): at most 400 rounds.
if (!(Number.isInteger(KILLS) && KILLS >= 1 && KILLS <= 400)) {
  console.error('--kills: a whole number from 1 to 400');
  process.exit(2);
}
const KEY = 'faults_key';
const START_NOW = '2025-06-20T12:00:00Z';
const USAGE = '/api/v1/customers/acme/current_usage?external_subscription_id=sub_acme';

// The same seed gives the same kill moments, batch sizes and compaction periods.
const random = mulberry32(SEED);
const between = (low, high) => low + Math.floor(random() * (high - low + 1));
/** Journal lines between snapshots: short periods often, so that kills land in compactions. */
const compactLines = () => [2, 3, 5, 20, 100][between(0, 4)];

const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-'));
const STATE = path.join(DIR, 'state.json');
const JOURNAL = `${STATE}.journal`;
const TMP_FILES = [`${STATE}.tmp`, `${JOURNAL}.tmp`];

/** The shim on the state files; the first start sets the clock, a restart takes the state's. */
const startShim = (compact_lines, first = false) => startChild({ PORT: '0', DEMO: '0', LAGO_API_KEY: KEY, STATE_FILE: STATE,
  STATE_COMPACT_LINES: String(compact_lines), EMULATOR_NOW: first ? START_NOW : null });

async function call(url, method, route, body) {
  const response = await fetch(url + route, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, text };
}

async function must(url, method, route, body) {
  const response = await call(url, method, route, body);
  if (response.status !== 200) throw new Error(`${method} ${route}: ${response.status} ${response.text}`);
  return response.body;
}

async function setup(url) {
  await must(url, 'POST', '/api/v1/billable_metrics', { billable_metric: { code: 'units', name: 'Units',
    aggregation_type: 'sum_agg', field_name: 'value' } });
  await must(url, 'POST', '/api/v1/plans', { plan: { code: 'metered', name: 'Metered', interval: 'monthly',
    amount_cents: 0, amount_currency: 'EUR',
    charges: [{ billable_metric_code: 'units', charge_model: 'standard', properties: { amount: '0.01' } }] } });
  await must(url, 'POST', '/api/v1/customers', { customer: { external_id: 'acme', name: 'Acme' } });
  await must(url, 'POST', '/api/v1/subscriptions', { subscription: { external_id: 'sub_acme',
    external_customer_id: 'acme', plan_code: 'metered', billing_time: 'calendar', subscription_at: '2025-06-01T00:00:00Z' } });
}

// Round r's events are stamped within hour r of June (so a round is listed alone by its time
// range); the clock stays in June 20-29, after every event, in the same billing period.
const JUNE_1 = Date.parse('2025-06-01T00:00:00Z') / 1000;
const hourOf = (round) => ({
  from: new Date((JUNE_1 + round * 3600) * 1000).toISOString(),
  to: new Date((JUNE_1 + round * 3600 + 3599) * 1000).toISOString(),
});
const valueOf = (sequence) => (sequence % 9) + 1;

/** What was sent and acknowledged in one round. */
function newRound(round) {
  return { round, sequence: 0, sent: new Map(), acknowledged: new Set(), batches: [] };
}

function nextEvent(state, prefix) {
  const sequence = state.sequence++;
  const transaction_id = `r${state.round}-${prefix}-${sequence}`;
  state.sent.set(transaction_id, valueOf(sequence));
  return { transaction_id, external_subscription_id: 'sub_acme', code: 'units',
    timestamp: JUNE_1 + state.round * 3600 + (sequence % 3600), properties: { value: String(valueOf(sequence)) } };
}

/** Posts until the process dies: single events, batches of 1-100, now and then a clock change. */
async function pour(url, state, clock, worker, stop) {
  for (let n = 0; !stop.now; n += 1) {
    try {
      if (worker === 0 && n % 25 === 24) {
        const at = new Date((Date.parse('2025-06-20T00:00:00Z') / 1000 + between(0, 9 * 86400)) * 1000).toISOString();
        clock.in_flight.push(at);
        const response = await call(url, 'POST', '/__emulator/clock', { now: at });
        if (response.status !== 200) throw new Error(`clock: ${response.status} ${response.text}`);
        clock.acknowledged = at;
        clock.in_flight = [];
      } else if (worker % 2 === 1) {
        const events = Array.from({ length: between(1, 100) }, () => nextEvent(state, `b${worker}`));
        const batch = { ids: events.map((event) => event.transaction_id), acknowledged: false };
        state.batches.push(batch);
        const response = await call(url, 'POST', '/api/v1/events/batch', { events });
        if (response.status !== 200) throw new Error(`batch: ${response.status} ${response.text}`);
        batch.acknowledged = true;
        for (const id of batch.ids) state.acknowledged.add(id);
      } else {
        const event = nextEvent(state, `s${worker}`);
        const response = await call(url, 'POST', '/api/v1/events', { event });
        if (response.status !== 200) throw new Error(`event: ${response.status} ${response.text}`);
        state.acknowledged.add(event.transaction_id);
      }
    } catch (error) {
      if (stop.now) return; // the connection died with the process: not acknowledged
      throw error;
    }
  }
}

/** Every stored transaction id in a range of time (or all), page by page. */
async function storedIds(url, range) {
  const ids = [];
  const window = range ? `&timestamp_from=${range.from}&timestamp_to=${range.to}` : '';
  for (let page = 1; ; page += 1) {
    const { events, meta } = await must(url, 'GET', `/api/v1/events?per_page=10000&page=${page}${window}`);
    ids.push(...events.map((event) => event.transaction_id));
    if (!meta.next_page) return ids;
  }
}

async function main() {
  const violations = [];
  const fail = (round, text) => violations.push(`round ${round} (seed ${SEED}): ${text}`);
  const totals = { kills: 0, sigterms: 0, sent: 0, acknowledged: 0, stored: 0, in_flight_stored: 0,
    batches: 0, batches_cut: 0, compaction_hits: 0, torn_tails: 0, clock_changes_in_flight: 0 };
  let expected = { events: 0, units: 0 };
  const clock = { acknowledged: START_NOW, in_flight: [] };
  const started = performance.now();

  // Looked at as soon as the shim listens: later, a compaction may be writing its `.tmp` files.
  const leftovers = (round) => {
    for (const file of TMP_FILES) if (fs.existsSync(file)) fail(round, `${path.basename(file)} left after the restart`);
  };
  let shim = await startShim(compactLines(), true);
  leftovers(0);
  await setup(shim.url);
  let previous = null;
  for (let round = 0; round <= KILLS; round += 1) {
    // The state as the last round left it.
    if (previous) {
      const stored = await storedIds(shim.url, hourOf(previous.round));
      const storedSet = new Set(stored);
      if (storedSet.size !== stored.length) fail(round, `${stored.length - storedSet.size} events stored twice`);
      const lost = [...previous.acknowledged].filter((id) => !storedSet.has(id));
      if (lost.length) fail(round, `${lost.length} acknowledged events lost, such as ${lost[0]}`);
      const unknown = stored.filter((id) => !previous.sent.has(id));
      if (unknown.length) fail(round, `${unknown.length} stored events never sent, such as ${unknown[0]}`);
      for (const batch of previous.batches) {
        const kept = batch.ids.filter((id) => storedSet.has(id)).length;
        if (kept !== 0 && kept !== batch.ids.length) fail(round, `a batch of ${batch.ids.length} stored in part (${kept})`);
        if (!batch.acknowledged) totals.batches_cut += 1;
      }
      totals.batches += previous.batches.length;
      totals.sent += previous.sent.size;
      totals.acknowledged += previous.acknowledged.size;
      totals.stored += stored.length;
      totals.in_flight_stored += stored.length - previous.acknowledged.size + lost.length;
      expected = { events: expected.events + storedSet.size,
        units: expected.units + stored.reduce((sum, id) => sum + previous.sent.get(id), 0) };
    }
    // Every earlier round still whole, and billed: the usage's count and units.
    const usage = (await must(shim.url, 'GET', USAGE)).customer_usage.charges_usage[0];
    if (usage.events_count !== expected.events || Number(usage.units) !== expected.units) {
      fail(round, `usage ${usage.events_count} events / ${usage.units} units, expected ${expected.events} / ${expected.units}`);
    }
    const now = (await must(shim.url, 'GET', '/__emulator/clock')).now;
    const clocks = [clock.acknowledged, ...clock.in_flight].map((at) => Date.parse(at));
    if (!clocks.includes(Date.parse(now))) fail(round, `clock ${now}, expected ${clock.acknowledged}`);
    if (clock.in_flight.length) totals.clock_changes_in_flight += Date.parse(now) !== Date.parse(clock.acknowledged) ? 1 : 0;
    clock.acknowledged = now;
    clock.in_flight = [];
    if (round === KILLS) break;

    // Pour, then kill at a random moment (one stop in ten a SIGTERM, which must lose nothing).
    const state = newRound(round);
    const stop = { now: false };
    const workers = [0, 1, 2, 3].map((worker) => pour(shim.url, state, clock, worker, stop));
    await new Promise((resolve) => setTimeout(resolve, between(20, 400)));
    const graceful = random() < 0.1;
    stop.now = true; // before the signal: a request that fails from here on died with the process
    shim.child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    const exit = await shim.exited;
    await Promise.all(workers);
    if (graceful) {
      totals.sigterms += 1;
      if (exit.code !== 0) fail(round, `SIGTERM: exit ${exit.code ?? exit.signal}: ${shim.stderr()}`);
    } else {
      totals.kills += 1;
      if (TMP_FILES.some((file) => fs.existsSync(file))) totals.compaction_hits += 1;
      const journal = fs.readFileSync(JOURNAL);
      if (journal.length && journal.at(-1) !== 0x0a) totals.torn_tails += 1;
    }
    previous = state;
    shim = await startShim(compactLines());
    leftovers(round + 1);
  }
  // Finally, every event of every round, listed at once.
  const all = await storedIds(shim.url);
  if (all.length !== expected.events || new Set(all).size !== all.length) {
    fail(KILLS, `${all.length} events listed (${new Set(all).size} distinct), expected ${expected.events}`);
  }
  shim.child.kill('SIGTERM');
  await shim.exited;
  if (violations.length === 0) fs.rmSync(DIR, { recursive: true, force: true });
  else console.log(`state files kept in ${DIR}`);

  const seconds = (performance.now() - started) / 1000;
  const lost = violations.filter((text) => text.includes('lost')).length;
  const rows = [
    ['stops: kill -9 / SIGTERM', `${totals.kills} / ${totals.sigterms} (seed ${SEED}, ${seconds.toFixed(0)} s)`],
    ['kills inside a compaction (its .tmp files left)', `${totals.compaction_hits}`],
    ['kills that cut a journal line', `${totals.torn_tails}`],
    ['events sent / acknowledged / stored', `${totals.sent} / ${totals.acknowledged} / ${totals.stored}`],
    ['stored without acknowledgement', `${totals.in_flight_stored} (in flight at the kill)`],
    ['batches sent / cut by the kill', `${totals.batches} / ${totals.batches_cut}, none stored in part`],
    ['clock changes in flight that landed', `${totals.clock_changes_in_flight}`],
    ['usage after the last restart', `${expected.events} events, ${expected.units} units`],
    ['violations', `${violations.length}`],
  ];
  for (const [name, value] of rows) console.log(`${name.padEnd(48)} ${value}`);
  for (const text of violations) console.log(`  ${text}`);
  console.log(`faults: kills=${totals.kills} sigterms=${totals.sigterms} compaction_hits=${totals.compaction_hits} `
    + `torn_tails=${totals.torn_tails} sent=${totals.sent} acknowledged=${totals.acknowledged} stored=${totals.stored} `
    + `lost=${lost} violations=${violations.length} seed=${SEED}`);
  process.exit(violations.length ? 1 : 0);
}

main().catch((error) => {
  console.error(`seed ${SEED} (state files in ${DIR}):`, error);
  process.exit(1);
});
