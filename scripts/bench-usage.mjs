#!/usr/bin/env node
// Usage-engine figures: bulk ingestion rate (NDJSON parsed in WASM) and current-usage latency for
// one subscription with a 10-charge plan, at 1k and at N events in the period.
//   node scripts/bench-usage.mjs [N=1000000]
import { Engine } from '../pkg/index.js';

const N = Number(process.argv[2] ?? 1_000_000);
const NOW = '2025-06-20T12:00:00Z';
const june = Date.parse('2025-06-01T00:00:00Z') / 1000;

function setup() {
  const e = new Engine();
  const charges = [];
  for (let i = 0; i < 10; i++) {
    const type = ['count_agg', 'sum_agg', 'max_agg', 'latest_agg'][i % 4];
    e.upsertBillableMetric({ code: `m${i}`, aggregation_type: type, field_name: 'value' });
    charges.push({ code: `c${i}`, billable_metric_code: `m${i}`, charge_model: 'graduated', properties: {
      graduated_ranges: [{ from_value: 0, to_value: 1000, per_unit_amount: '0.01', flat_amount: '1' },
        { from_value: 1001, to_value: null, per_unit_amount: '0.005', flat_amount: '0' }] } });
  }
  e.upsertPlan({ code: 'p', interval: 'monthly', amount_currency: 'EUR', charges });
  e.upsertCustomer({ external_id: 'c' });
  e.upsertSubscription({ external_id: 's', external_customer_id: 'c', plan_code: 'p', started_at: '2025-01-01T00:00:00Z' }, NOW);
  return e;
}

function lines(from, count) {
  let text = '';
  for (let i = from; i < from + count; i++) {
    text += `{"transaction_id":"tx_${i}","external_subscription_id":"s","code":"m${i % 10}","timestamp":${june + (i % 1_500_000)},"properties":{"region":"eu","value":"${(i % 97) + 0.5}"}}\n`;
  }
  return text;
}

function usageMicros(e, rounds = 2000) {
  const query = { external_customer_id: 'c', external_subscription_id: 's', now: NOW };
  e.currentUsage(query); // builds the running states
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) e.currentUsage(query);
  return Number(process.hrtime.bigint() - start) / 1000 / rounds;
}

const small = setup();
small.ingestBulk(lines(0, 1000), NOW);
const at1k = usageMicros(small);

const rssBefore = process.memoryUsage().rss;
const big = setup();
const chunk = 100_000;
let ingestNs = 0n;
for (let from = 0; from < N; from += chunk) {
  const text = lines(from, Math.min(chunk, N - from));
  const start = process.hrtime.bigint();
  big.ingestBulk(text, NOW);
  ingestNs += process.hrtime.bigint() - start;
}
const rate = N / (Number(ingestNs) / 1e9);
const atN = usageMicros(big);
const rssGrowth = process.memoryUsage().rss - rssBefore;
console.log(`bulk ingestion (NDJSON in WASM): ${Math.round(rate).toLocaleString('en')} events/s over ${N.toLocaleString('en')} events`);
console.log(`currentUsage, 10 charges: ${at1k.toFixed(1)} µs at 1k events, ${atN.toFixed(1)} µs at ${N.toLocaleString('en')} events (${(atN / at1k).toFixed(2)}x)`);
console.log(`memory: RSS grew ${(rssGrowth / 2 ** 20).toFixed(0)} MiB over ${N.toLocaleString('en')} events → ≈ ${Math.round(rssGrowth / N)} bytes per stored event`);
