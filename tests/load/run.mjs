#!/usr/bin/env node
// Load: the shim (a child process) under autocannon, mixed event posts and usage reads, then a
// reconciliation: every acknowledged event is stored once and priced, nothing else is.
//
//   node tests/load/run.mjs [--seconds 60] [--connections 64]
//
// Prints a table and one line `load: seconds=… connections=… requests=… errors=… non2xx=…
// events_acked=… events_stored=… units_match=… rss_start_mb=… rss_peak_mb=… rss_end_mb=…`;
// exits non-zero when anything is lost, doubled, or answered with an error.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { numberOption, startShim } from '../lib/child-shim.mjs';

const args = process.argv.slice(2);
const SECONDS = numberOption(args, 'seconds', 60);
const CONNECTIONS = numberOption(args, 'connections', 64);
const KEY = 'load_key';
const NOW = '2025-06-20T12:00:00Z';

/** Resident memory of a process, in MB (Linux). */
function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024;
}

async function api(url, method, path, body) {
  const response = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
  return json;
}

async function setup(url) {
  const { billable_metric: metric } = await api(url, 'POST', '/billable_metrics',
    { billable_metric: { name: 'Units', code: 'units', aggregation_type: 'sum_agg', field_name: 'value' } });
  await api(url, 'POST', '/plans', { plan: { name: 'Load', code: 'load', interval: 'monthly', amount_cents: 0,
    amount_currency: 'EUR', pay_in_advance: false,
    charges: [{ billable_metric_id: metric.lago_id, charge_model: 'standard', properties: { amount: '0.01' } }] } });
  await api(url, 'POST', '/subscriptions', { subscription: { external_customer_id: 'load', plan_code: 'load',
    external_id: 'sub_load', subscription_at: '2025-06-01T00:00:00Z' } });
}

async function main() {
  const { child, url } = await startShim({ PORT: '0', DEMO: '0', LAGO_API_KEY: KEY, EMULATOR_NOW: NOW }, { showStderr: true });
  await setup(url);
  const rssStart = rssMb(child.pid);
  let rssPeak = rssStart;
  const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, rssMb(child.pid)); }, 500);

  // Each posted event gets a fresh id `t<n>` and the value (n % 9) + 1.
  let next = 0;
  const acked = new Set();
  const valueOf = (id) => (id % 9) + 1;
  const usagePath = '/api/v1/customers/load/current_usage?external_subscription_id=sub_load';
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    requests: [
      {
        method: 'POST',
        path: '/api/v1/events',
        setupRequest(request, context) {
          const id = next++;
          context.id = id;
          const event = { transaction_id: `t${id}`, external_subscription_id: 'sub_load', code: 'units',
            timestamp: 1_750_000_000 + (id % 86_400), properties: { value: String(valueOf(id)) } };
          return { ...request, body: JSON.stringify({ event }) };
        },
        onResponse(status, _body, context) {
          if (status === 200) acked.add(context.id);
        },
      },
      { method: 'GET', path: usagePath },
    ],
  });
  clearInterval(sampler);

  // Reconcile: every acknowledged event stored, each stored event one that was sent, none twice.
  // Requests still in flight when the load stopped were processed but not counted by autocannon:
  // they may be stored without an acknowledgement (at most one per connection).
  const usage = (await api(url, 'GET', '/customers/load/current_usage?external_subscription_id=sub_load')).customer_usage;
  const storedIds = [];
  for (let page = 1; ; page++) {
    const { events, meta } = await api(url, 'GET', `/events?per_page=100000&page=${page}`);
    storedIds.push(...events.map((e) => Number(e.transaction_id.slice(1))));
    if (!meta.next_page) break;
  }
  const stored = new Set(storedIds);
  const lost = [...acked].filter((id) => !stored.has(id)).length;
  const unknown = storedIds.filter((id) => !(id < next)).length;
  const doubled = storedIds.length - stored.size;
  const unacked = storedIds.length - acked.size + lost;
  const storedUnits = storedIds.reduce((sum, id) => sum + valueOf(id), 0);
  const units = Number(usage.charges_usage[0].units);
  const cents = usage.amount_cents;
  const rssEnd = rssMb(child.pid);
  child.kill('SIGTERM');

  const errors = result.errors + result.timeouts;
  const reconciled = lost === 0 && unknown === 0 && doubled === 0 && unacked <= CONNECTIONS
    && units === storedUnits && cents === storedUnits;
  const ok = errors === 0 && result.non2xx === 0 && reconciled;
  const rows = [
    ['duration / connections', `${SECONDS} s / ${CONNECTIONS}`],
    ['requests (events + usage reads)', `${result.requests.total} (${Math.round(result.requests.average)}/s)`],
    ['latency p50 / p99', `${result.latency.p50} ms / ${result.latency.p99} ms`],
    ['errors, timeouts, non-2xx', `${result.errors}, ${result.timeouts}, ${result.non2xx}`],
    ['events sent / acknowledged / stored', `${next} / ${acked.size} / ${storedIds.length}`],
    ['lost / doubled / stored unacknowledged', `${lost} / ${doubled} / ${unacked} (in flight at the stop)`],
    ['units stored / billed', `${storedUnits} / ${units} (${cents} cents at 0.01)`],
    ['shim RSS start / peak / end', `${rssStart.toFixed(0)} / ${rssPeak.toFixed(0)} / ${rssEnd.toFixed(0)} MB`],
  ];
  for (const [name, value] of rows) console.log(`${name.padEnd(34)} ${value}`);
  console.log(`load: seconds=${SECONDS} connections=${CONNECTIONS} requests=${result.requests.total} errors=${errors} `
    + `non2xx=${result.non2xx} events_acked=${acked.size} events_stored=${storedIds.length} lost=${lost} doubled=${doubled} reconciled=${reconciled} `
    + `rss_start_mb=${rssStart.toFixed(0)} rss_peak_mb=${rssPeak.toFixed(0)} rss_end_mb=${rssEnd.toFixed(0)}`);
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
