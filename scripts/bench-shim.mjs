#!/usr/bin/env node
// HTTP benchmark of the REST shim (not a test): requests/s and p99 latency of
//   GET /api/v1/customers/{id}/current_usage?external_subscription_id=…
// on the shim, against a bare node:http hello world on the same machine in the same run.
//
//   node scripts/bench-shim.mjs [duration_s=10] [connections=16] [rounds=3]   (needs pkg/: scripts/build.sh)
//   SHIM_NODE_FLAGS='--no-turbo-inline-js-wasm-calls' node scripts/bench-shim.mjs   (node flags for the shim)
//
// Each server runs in its own child process (so autocannon, in this process, does not share its
// event loop); each gets a 2 s warm-up, then `duration_s` measured at `connections` connections.
// The shim runs as it ships (`node www/shim/server.mjs`, access log on, written to a temporary
// file), started empty (DEMO=0) with a frozen clock, then given through its own API: a customer,
// a plan of five charges (standard with filters, graduated, package, percentage, volume) and
// EVENTS events in the current period. Prints the machine, a table, the ratio shim / hello
// (target >= 60 %) and one summary line:
//   bench-shim: rps=<n> p99_ms=<n> hello_rps=<n> hello_p99_ms=<n> ratio=<n>
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

// A child mode: the bare hello world (JSON, like the shim's answers).
if (process.argv[2] === '--hello') {
  const body = Buffer.from('{"hello":"world"}');
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
    res.end(body);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`));
} else {
  await main();
}

async function main() {
  const DURATION_S = Number(process.argv[2] ?? 10);
  const CONNECTIONS = Number(process.argv[3] ?? 16);
  const WARMUP_S = 2;
  const ROUNDS = Number(process.argv[4] ?? 3);
  const EVENTS = 3000;
  const KEY = 'bench-key';
  const NOW = '2026-11-15T12:00:00Z';
  const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

  const cpus = os.cpus();
  console.log(`machine: ${cpus[0]?.model?.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.platform()} ${os.release()}; Node ${process.version}`);
  console.log(`load: autocannon, ${CONNECTIONS} connections, ${WARMUP_S} s warm-up, then ${ROUNDS} alternating rounds of ${DURATION_S} s per server (median round)\n`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-shim-'));
  const children = [];
  const stopAll = () => { for (const child of children) child.kill(); };
  process.once('exit', stopAll);

  try {
    // (a) the hello world
    const hello = await startServer([fileURLToPath(import.meta.url), '--hello'], {}, path.join(tmp, 'hello.log'), children);
    // (b) the shim, empty, frozen clock
    const shimFlags = (process.env.SHIM_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
    if (shimFlags.length) console.log(`shim node flags: ${shimFlags.join(' ')}`);
    const shim = await startServer([...shimFlags, path.join(ROOT, 'www/shim/server.mjs')],
      { PORT: '0', HOST: '127.0.0.1', DEMO: '0', LAGO_API_KEY: KEY, EMULATOR_NOW: NOW }, path.join(tmp, 'shim.log'), children);
    const usagePath = await loadOrganisation(shim, KEY, EVENTS);

    // The answer must be right before it is fast.
    const check = await fetch(`${shim}${usagePath}`, { headers: { authorization: `Bearer ${KEY}` } });
    const usage = await check.json();
    if (check.status !== 200) throw new Error(`current_usage answered ${check.status}: ${JSON.stringify(usage)}`);
    const cu = usage.customer_usage;
    const events = cu.charges_usage.reduce((n, line) => n + line.events_count, 0);
    console.log(`shim org: 1 customer, plan of ${cu.charges_usage.length} charges, ${events} events in the period; `
      + `current usage ${cu.amount_cents} + ${cu.taxes_amount_cents} tax = ${cu.total_amount_cents} cents, `
      + `${Buffer.byteLength(JSON.stringify(usage))} bytes\n`);

    // Alternate the two servers for ROUNDS rounds and keep each one's median round: the
    // machine's drift (other work, CPU frequency) then hits both alike.
    const hellos = [];
    const shims = [];
    for (let round = 0; round < ROUNDS; round++) {
      hellos.push(await measure(`${hello}/`, {}, round === 0 ? WARMUP_S : 0, DURATION_S, CONNECTIONS));
      shims.push(await measure(`${shim}${usagePath}`, { authorization: `Bearer ${KEY}` }, round === 0 ? WARMUP_S : 0, DURATION_S, CONNECTIONS));
    }
    const median = (results) => [...results].sort((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)];
    const helloResult = median(hellos);
    const shimResult = median(shims);
    console.log(`rounds (req/s): hello ${hellos.map((r) => r.rps.toFixed(0)).join(', ')}; shim ${shims.map((r) => r.rps.toFixed(0)).join(', ')}\n`);
    const shimChild = children[1];
    if (shimChild.exitCode !== null || shimChild.signalCode !== null) {
      console.log(`\nTHE SHIM DIED under load (exit ${shimChild.exitCode}, signal ${shimChild.signalCode}); its stderr is above. `
        + 'Figures below are not a measurement.\n');
      process.exitCode = 2;
    }

    const ratio = shimResult.rps / helloResult.rps;
    const row = (name, r) => `| ${name.padEnd(26)} | ${r.rps.toFixed(0).padStart(7)} | ${r.p50.toFixed(0).padStart(6)} | ${r.p99.toFixed(0).padStart(6)} | ${String(r.total).padStart(8)} | ${String(r.bad).padStart(6)} |`;
    console.log('| server                     |   req/s | p50 ms | p99 ms | requests | failed |');
    console.log('|----------------------------|--------:|-------:|-------:|---------:|-------:|');
    console.log(row('node:http hello world', helloResult));
    console.log(row('shim GET current_usage', shimResult));
    console.log(`\nratio shim / hello: ${(ratio * 100).toFixed(1)} % (target >= 60 %: ${ratio >= 0.6 ? 'met' : 'NOT met'})`);
    console.log(`bench-shim: rps=${shimResult.rps.toFixed(0)} p99_ms=${shimResult.p99} hello_rps=${helloResult.rps.toFixed(0)} hello_p99_ms=${helloResult.p99} ratio=${ratio.toFixed(3)}`);
    if (!process.exitCode && (shimResult.bad || helloResult.bad)) process.exitCode = 1;
  } finally {
    stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Starts a server child (stdout to a file, read for its address); resolves to its origin. */
async function startServer(args, env, logPath, children) {
  const out = fs.openSync(logPath, 'w');
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, 'inherit'] });
  fs.closeSync(out);
  children.push(child);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${args.join(' ')} exited with ${child.exitCode}`);
    const match = fs.readFileSync(logPath, 'utf8').match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    if (match) return match[1];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${args.join(' ')} printed no address in 20 s`);
}

/** The benchmark organisation, through the shim's API; returns the current_usage path. */
async function loadOrganisation(origin, key, eventsTotal) {
  const call = async (method, route, body) => {
    const response = await fetch(`${origin}/api/v1${route}`, {
      method, body: JSON.stringify(body),
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    });
    const json = await response.json();
    if (response.status !== 200) throw new Error(`${method} ${route} → ${response.status}: ${JSON.stringify(json)}`);
    return json;
  };
  await call('POST', '/taxes', { tax: { code: 'vat', name: 'VAT', rate: '20', applied_to_organization: true } });
  const metrics = [
    { code: 'api_calls', name: 'API calls', aggregation_type: 'count_agg', filters: [{ key: 'region', values: ['eu', 'us', 'apac'] }] },
    { code: 'storage_gb', name: 'Storage', aggregation_type: 'max_agg', field_name: 'gb' },
    { code: 'sms', name: 'SMS', aggregation_type: 'sum_agg', field_name: 'messages' },
    { code: 'payments', name: 'Payments', aggregation_type: 'sum_agg', field_name: 'amount' },
    { code: 'compute', name: 'Compute hours', aggregation_type: 'sum_agg', field_name: 'hours' },
  ];
  const ids = {};
  for (const billable_metric of metrics) ids[billable_metric.code] = (await call('POST', '/billable_metrics', { billable_metric })).billable_metric.lago_id;
  await call('POST', '/plans', { plan: {
    code: 'bench', name: 'Bench', interval: 'monthly', amount_cents: 4900, amount_currency: 'EUR', pay_in_advance: false,
    charges: [
      { billable_metric_id: ids.api_calls, charge_model: 'standard', properties: { amount: '0.002' }, filters: [
        { values: { region: ['eu'] }, properties: { amount: '0.003' } },
        { values: { region: ['us'] }, properties: { amount: '0.0025' } }] },
      { billable_metric_id: ids.storage_gb, charge_model: 'graduated', properties: { graduated_ranges: [
        { from_value: 0, to_value: 10, per_unit_amount: '0', flat_amount: '0' },
        { from_value: 11, to_value: null, per_unit_amount: '0.5', flat_amount: '1' }] } },
      { billable_metric_id: ids.sms, charge_model: 'package', properties: { amount: '2', package_size: 100, free_units: 100 } },
      { billable_metric_id: ids.payments, charge_model: 'percentage', properties: { rate: '1.5', fixed_amount: '0.25', free_units_per_events: 3 } },
      { billable_metric_id: ids.compute, charge_model: 'volume', properties: { volume_ranges: [
        { from_value: 0, to_value: 100, per_unit_amount: '0.12', flat_amount: '0' },
        { from_value: 101, to_value: null, per_unit_amount: '0.1', flat_amount: '0' }] } },
    ] } });
  await call('POST', '/customers', { customer: { external_id: 'bench_customer', name: 'Bench', currency: 'EUR' } });
  await call('POST', '/subscriptions', { subscription: { external_id: 'bench_sub', external_customer_id: 'bench_customer',
    plan_code: 'bench', billing_time: 'calendar', subscription_at: '2026-11-01T00:00:00Z' } });
  // Events spread over 2026-11-01 .. 2026-11-15 12:00 (before the frozen clock), 100 per batch.
  const from_s = Date.parse('2026-11-01T00:00:00Z') / 1000;
  const span_s = Date.parse('2026-11-15T12:00:00Z') / 1000 - from_s;
  const codes = ['api_calls', 'api_calls', 'api_calls', 'storage_gb', 'sms', 'payments', 'compute'];
  for (let start = 0; start < eventsTotal; start += 100) {
    const events = [];
    for (let i = start; i < Math.min(start + 100, eventsTotal); i += 1) {
      const code = codes[i % codes.length];
      const properties = { region: ['eu', 'us', 'apac'][i % 3], gb: (i * 7) % 140, messages: 10 + (i % 80), amount: `${5 + (i % 400)}.${i % 100}`, hours: 1 + (i % 9) };
      events.push({ transaction_id: `bench_${i}`, external_subscription_id: 'bench_sub', code,
        timestamp: from_s + Math.floor((span_s * i) / eventsTotal), properties });
    }
    await call('POST', '/events/batch', { events });
  }
  return '/api/v1/customers/bench_customer/current_usage?external_subscription_id=bench_sub';
}

/** Warm-up, then the measured autocannon run: mean req/s, p50/p99 latency (ms), failures. */
async function measure(url, headers, warmupS, durationS, connections) {
  if (warmupS > 0) await autocannon({ url, headers, connections, duration: warmupS });
  const r = await autocannon({ url, headers, connections, duration: durationS });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    total: r.requests.total,
    bad: r.non2xx + r.errors + r.timeouts,
  };
}
