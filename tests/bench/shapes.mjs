#!/usr/bin/env node
// Input shapes: the benchmark's workload rewritten to stress what hashing, sorting and lookups
// could do badly (sequential ids with a common suffix, every event late, a distinct value on
// every event, many subscriptions or codes), each shape's ingestion and first usage timed as a
// ratio to the workload as it is. A shape far slower per line than the others is a complexity
// bug, not noise: sequential ids once took up to 30x by 3M events (a weak hash made them share
// hashes).
//
//   node tests/bench/shapes.mjs [--events 500000] [--reps 3]
//
// Prints a table and one line `shapes: worst=<shape> worst_ratio=<n>`. Figures only: nothing
// here fails on a ratio; the run fails only when a shape stores an unexpected number of events.
import { Engine } from '../../pkg/index.js';
import { setupEngine, setupBodies, generateNdjson, chunkLines } from './workload.mjs';
import { numberOption } from '../lib/child-shim.mjs';

const args = process.argv.slice(2);
const N = numberOption(args, 'events', 500_000);
const REPS = Math.max(1, numberOption(args, 'reps', 3));
const setup = setupBodies();
const lines = generateNdjson(N).text.split('\n').filter(Boolean);

/** The workload with each event rewritten by `change(event, index)`. */
const rewritten = (change) => lines.map((line, index) => {
  const event = JSON.parse(line);
  change(event, index);
  return JSON.stringify(event);
});
const shuffled = (list) => {
  const out = [...list];
  let state = 1;
  for (let i = out.length - 1; i > 0; i -= 1) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
};
// Each shape: its lines, and the events it must store (null: whatever the workload stores).
const SHAPES = [
  ['as generated', () => lines],
  ['reverse order (every event late)', () => [...lines].reverse()],
  ['shuffled', () => shuffled(lines)],
  ['every line twice in a row', () => lines.flatMap((line) => [line, line])],
  ['sequential ids, common suffix', () => rewritten((e, i) => { e.transaction_id = `txn-${i}-2025-06-acme-production`; })],
  ['numeric ids', () => rewritten((e, i) => { e.transaction_id = String(i); })],
  ['255-byte ids', () => rewritten((e, i) => { e.transaction_id = `${i}-`.padEnd(255, 'x'); })],
  ['a distinct user_id on every event', () => rewritten((e, i) => { e.properties.user_id = `user-${i}-eu-west-1`; })],
  ['100,000 subscriptions', () => rewritten((e, i) => { e.external_subscription_id = `sub_${i % 100_000}`; })],
  ['1,000 metric codes', () => rewritten((e, i) => { e.code = `metric_${i % 1000}`; })],
];

function timeShape(text) {
  const engine = setupEngine(Engine);
  const chunks = chunkLines(text, 32 * 1024);
  let started = performance.now();
  for (const chunk of chunks) engine.ingestBulk(chunk, setup.now, { skipDuplicates: true });
  const ingest_ms = performance.now() - started;
  started = performance.now();
  engine.currentUsage(setup.query);
  const first_ms = performance.now() - started;
  const stored = engine.eventsCount;
  engine.free();
  return { ingest_ms, first_ms, stored };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const texts = SHAPES.map(([, make]) => `${make().join('\n')}\n`);
const lineCounts = texts.map((text) => text.split('\n').length - 1);
timeShape(texts[0]); // warm-up: tier-up and memory growth stay out of the figures
const runs = SHAPES.map(() => []);
for (let rep = 0; rep < REPS; rep += 1) {
  SHAPES.forEach((_, s) => runs[s].push(timeShape(texts[s])));
}
const stored = runs.map((list) => list[0].stored);
const unique = new Set(lines).size;
const problems = [];
if (stored[3] !== stored[0]) problems.push(`every line twice: ${stored[3]} stored, expected ${stored[0]}`);
stored.forEach((count, s) => { if (s >= 4 && count !== unique && count !== lines.length) problems.push(`${SHAPES[s][0]}: ${count} stored`); });

const perLine = runs.map((list, s) => median(list.map((r) => (r.ingest_ms + r.first_ms) / lineCounts[s])));
const rows = SHAPES.map(([name], s) => [
  name,
  `${median(runs[s].map((r) => r.ingest_ms)).toFixed(0)} ms`,
  `${median(runs[s].map((r) => r.first_ms)).toFixed(1)} ms`,
  String(stored[s]),
  `${(perLine[s] / perLine[0]).toFixed(2)}x`,
]);
const header = ['shape', 'ingest', 'first usage', 'stored', 'per line vs as generated'];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const print = (cells) => console.log(`| ${cells.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`);
console.log(`input shapes: ${N.toLocaleString('en-US')} workload lines each, median of ${REPS}`);
print(header);
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
rows.forEach(print);
for (const problem of problems) console.log(`  PROBLEM: ${problem}`);
const worst = perLine.reduce((at, value, s) => (value > perLine[at] ? s : at), 0);
console.log(`shapes: worst=${JSON.stringify(SHAPES[worst][0])} worst_ratio=${(perLine[worst] / perLine[0]).toFixed(2)}`);
process.exit(problems.length ? 1 : 0);
