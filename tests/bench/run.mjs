#!/usr/bin/env node
// The benchmark of issue "Prove speed and robustness".
//
//   node tests/bench/run.mjs [--quick] [--events N] [--reps R] [--no-native]
//
// Prints the machine, a table (figure, value, target, met?) and one summary line:
//   bench: ingest_events_per_s=… current_usage_ms_1m=… current_usage_ms_1k=… price_calls_per_s=…
//          wasm_native_ratio=… wasm_kb=… wasm_gzip_kb=… peer_speedup=… bytes_per_event=…
//
// Full run: 1M events, every timed figure the median of 5 repetitions (the .wasm size and the
// memory per event are single measurements: they do not vary from run to run). --quick: 200k
// events, one repetition (the summary keeps the same keys; `current_usage_ms_1m` is then measured
// at 200k events, as the table says); under 45 s on 2 cores unless the native example has to be
// rebuilt (cargo, ~30–60 s after a change in src/; the wall time is printed with and without it). Figures only: nothing here fails on a missed target; the run fails
// only when the engine, the native binary and the peers disagree on the cents.
//
// Workload (tests/bench/workload.mjs): one subscription, a plan of 10 charges (standard with
// filters, graduated with a filter, volume, package, percentage with free events and min/max,
// unique count, max, graduated with a pricing group, latest, 5-tier graduated with a filter), and
// an NDJSON stream of realistic Lago events for it (2–3 properties, out-of-order and late
// arrivals, a few from the previous period, a few duplicated lines). The text is written to a
// temporary file, which the native binary reads; the JS side uses the same text in memory.

import { Engine, priceCharge } from '../../pkg/index.js';
import init from '../../pkg/usage_calc.js';
import { setupEngine, setupBodies, generateNdjson, chunkLines } from './workload.mjs';
import { RunningPeer, RecomputePeer, engineCents, eachEvent } from './peer.mjs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir, cpus, availableParallelism, totalmem, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants as zlibConstants } from 'node:zlib';
import v8 from 'node:v8';
import vm from 'node:vm';

const started = performance.now();
const loadAtStart = loadavg()[0];
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? Number(args[at + 1]) : fallback;
};
const QUICK = flag('--quick');
const N = option('--events', QUICK ? 200_000 : 1_000_000);
const REPS = Math.max(1, option('--reps', QUICK ? 1 : 5));
const NATIVE = !flag('--no-native');
// Chunk size for ingestBulk (a call takes at most 64 MiB of text, limits::REQUEST_BYTES_MAX),
// `--chunk-kb` to try others; the native binary uses the same chunks. With skipDuplicates no chunk
// is parsed twice, and the size barely matters: on 200k events (2026-11-21, same machine, 3 reps,
// two runs each) 32 KB gave 837k–842k events/s, 256 KB 792k–841k, 1 MB 793k–806k. 32 KB (~170
// events, near Lago's 100-event batches) is what a user streaming a file would pick.
const CHUNK_BYTES = option('--chunk-kb', 32) * 1024;

// A GC between phases keeps one phase's garbage out of the next one's timing.
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const log = (...parts) => console.error(`[${((performance.now() - started) / 1000).toFixed(1)} s]`, ...parts);

// ---------------------------------------------------------------------------------------------
// The engine side: ingestion as a user of the package would do it
// ---------------------------------------------------------------------------------------------

/**
 * Ingests NDJSON text the way a user of the package would: cut at line ends into chunks under
 * the 64 MiB request limit, each ingested with `skipDuplicates` (a client retry repeating an
 * event, inside the chunk or already stored from an earlier chunk, is dropped, each key stored
 * once, as the peers' dedup set does). Any error is thrown. Returns the number stored.
 */
function ingestText(engine, text, now) {
  let stored = 0;
  for (const chunk of chunkLines(text, CHUNK_BYTES)) {
    stored += engine.ingestBulk(chunk, now, { skipDuplicates: true });
  }
  return stored;
}

/** Non-blank lines of a text (the workload has no blank line inside one). */
function countLines(text) {
  let n = 0;
  for (let at = text.indexOf('\n'); at !== -1; at = text.indexOf('\n', at + 1)) n++;
  return text.endsWith('\n') || text.length === 0 ? n : n + 1;
}

/** Median per-call time (ms) of `fn` over `samples` samples of at least `sampleMs` ms each. */
function perCall(fn, samples, sampleMs) {
  const times = [];
  for (let s = 0; s < samples; s++) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    while (calls < 3 || t - t0 < sampleMs) {
      fn();
      calls++;
      t = performance.now();
    }
    times.push((t - t0) / calls);
  }
  return median(times);
}

function sameCents(a, b) {
  if (a.amount_cents !== b.amount_cents) return false;
  const keys = Object.keys(a.charges);
  return keys.length === Object.keys(b.charges).length && keys.every((k) => a.charges[k] === b.charges[k]);
}

function describeDiff(name, a, b) {
  const lines = [`${name}: total ${a.amount_cents} vs engine ${b.amount_cents}`];
  for (const k of new Set([...Object.keys(a.charges), ...Object.keys(b.charges)])) {
    if (a.charges[k] !== b.charges[k]) lines.push(`  ${k}: ${a.charges[k]} vs engine ${b.charges[k]}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Run
// ---------------------------------------------------------------------------------------------

const setup = setupBodies();
const NOW = setup.now;
const wasm = await init(); // the instance index.js already initialised: its exports, memory included
// Read now, so that the size is that of the module this run loaded (pkg/ may be rebuilt meanwhile).
const wasmBytes = readFileSync(join(ROOT, 'pkg', 'usage_calc_bg.wasm'));
const machine = {
  cpu: cpus()[0]?.model?.trim() ?? 'unknown',
  cores: availableParallelism?.() ?? cpus().length,
  node: process.version,
  memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
  platform: `${process.platform}/${process.arch}`,
};

log(`generating ${fmt(N)} events`);
const data = generateNdjson(N);
const dir = mkdtempSync(join(tmpdir(), 'usage-calc-bench-'));
const ndjsonPath = join(dir, 'events.ndjson');
const setupPath = join(dir, 'setup.json');
writeFileSync(ndjsonPath, data.text);
writeFileSync(setupPath, JSON.stringify(setup));
const text = readFileSync(ndjsonPath, 'utf8'); // the file both sides read
const textLines = countLines(text); // counted once: the engine's calls do not need it

// Warm-up and memory pass (not timed). V8 compiles WASM with its baseline compiler first and JS
// lazily, and the first ingestion of a process also pays for fresh pages (WASM linear memory
// grows, the JS heap grows); a long-lived process pays that once. So: a small warm-up, then one
// untimed ingestion of the whole text by each side, which also measures memory — the growth of
// WASM linear memory (it never shrinks, so only a first ingestion shows it; it includes the
// store's Vec slack and one chunk's transient buffers) and, for the peers, the JS heap after a GC.
const expectedStored = N - data.duplicates;
const memory = {};
{
  const warmText = generateNdjson(20_000, 7).text;
  const engine = setupEngine(Engine);
  ingestText(engine, warmText, NOW);
  for (let i = 0; i < 5; i++) engine.currentUsage(setup.query);
  engine.free();
  for (const Peer of [RunningPeer, RecomputePeer]) {
    const peer = new Peer(setup);
    peer.ingestNdjson(warmText);
    for (let i = 0; i < 5; i++) peer.currentUsage(setup.subscription.external_id, NOW);
  }
  gc();
  const before = wasm.memory.buffer.byteLength;
  const big = setupEngine(Engine);
  const t = performance.now();
  const stored = ingestText(big, text, NOW);
  memory.firstIngestMs = performance.now() - t;
  memory.wasmGrowth = wasm.memory.buffer.byteLength - before;
  if (stored !== expectedStored) throw new Error(`engine stored ${stored} events, expected ${expectedStored}`);
  big.free();
  // One function call per peer, so that no stale reference to the previous peer survives the GC.
  const heapPerEvent = (Peer) => {
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const peer = new Peer(setup);
    peer.ingestNdjson(text);
    gc();
    return (process.memoryUsage().heapUsed - heapBefore) / peer.stored;
  };
  for (const Peer of [RunningPeer, RecomputePeer]) memory[Peer.name] = heapPerEvent(Peer);
  log(`warm-up and memory pass done (engine's first ingestion in this process: ${fmt(memory.firstIngestMs)} ms)`);
}

// 4. Native: the same ingestion + current usage through the crate's API, release binary
// (examples/bench_native.rs), built first and then run once per repetition, interleaved with the
// WASM runs so that both see the same load. Each run does 2 repetitions in a fresh process and
// the second is kept (the first pays for fresh pages, as the JS side's untimed pass does).
let nativeBinary = null, buildSeconds = null, nativeNote = '';
if (NATIVE) {
  try {
    const t = performance.now();
    execFileSync('cargo', ['build', '--release', '--example', 'bench_native', '--locked'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    buildSeconds = (performance.now() - t) / 1000;
    nativeBinary = join(ROOT, 'target', 'release', 'examples', process.platform === 'win32' ? 'bench_native.exe' : 'bench_native');
    if (!existsSync(nativeBinary)) throw new Error(`no binary at ${nativeBinary}`);
    log(`native binary built (${buildSeconds.toFixed(1)} s)`);
  } catch (error) {
    nativeNote = `native build failed: ${String(error.stderr ?? error.message).trim().split('\n').slice(-3).join(' | ')}`;
    nativeBinary = null;
    log(nativeNote);
  }
}
const native = nativeBinary ? { ingest_ms: [], first_usage_ms: [], warm_usage_ms: [] } : null;

function timeNative(rep) {
  const out = JSON.parse(execFileSync(nativeBinary, [ndjsonPath, setupPath, '2', String(CHUNK_BYTES)], { encoding: 'utf8', maxBuffer: 1 << 20 }));
  if (out.events_stored !== expectedStored) throw new Error(`native stored ${out.events_stored} events, expected ${expectedStored}`);
  const answer = { amount_cents: out.amount_cents, charges: out.charges };
  if (!sameCents(answer, engineAnswer)) throw new Error(`cents differ\n${describeDiff('native', answer, engineAnswer)}`);
  for (const key of ['ingest_ms', 'first_usage_ms', 'warm_usage_ms']) native[key].push(out[key][1]);
  log(`native rep ${rep + 1}: ingest ${fmt(out.ingest_ms[1])} ms, first usage ${fmt(out.first_usage_ms[1], 1)} ms, warm usage ${fmt(out.warm_usage_ms[1], 1)} ms`);
}

// 1, 5, 7: ingestion + first current usage — engine, running peer, recompute peer, per repetition.
// Each side runs in its own function call, so nothing of one survives into the next one's GC.
const engineIngestMs = [], engineFirstMs = [], peerIngestMs = [], peerFirstMs = [], recomputeIngestMs = [], recomputeFirstMs = [];
let engineAnswer = null, skippedSeen = null;
let bigEngine = null;

function timeEngine(rep) {
  gc();
  const engine = setupEngine(Engine);
  const t0 = performance.now();
  const stored = ingestText(engine, text, NOW);
  const t1 = performance.now();
  const usage = engine.currentUsage(setup.query);
  const t2 = performance.now();
  engineIngestMs.push(t1 - t0);
  engineFirstMs.push(t2 - t1);
  if (stored !== expectedStored) throw new Error(`engine stored ${stored} events, expected ${expectedStored}`);
  engineAnswer = engineCents(usage.customer_usage);
  skippedSeen = textLines - stored;
  log(`engine rep ${rep + 1}: ingest ${fmt(t1 - t0)} ms (${fmt(skippedSeen)} repeated lines skipped), first usage ${fmt(t2 - t1, 1)} ms`);
  if (rep === REPS - 1) bigEngine = engine; // kept for the warm current-usage figure
  else engine.free();
}

function timePeer(rep, Peer, ingestMs, firstMs) {
  gc();
  const peer = new Peer(setup);
  const t0 = performance.now();
  const stored = peer.ingestNdjson(text);
  const t1 = performance.now();
  const answer = peer.currentUsage(setup.subscription.external_id, NOW);
  const t2 = performance.now();
  ingestMs.push(t1 - t0);
  firstMs.push(t2 - t1);
  if (stored !== expectedStored) throw new Error(`${Peer.name} stored ${stored} events, expected ${expectedStored}`);
  if (!sameCents(answer, engineAnswer)) throw new Error(`cents differ\n${describeDiff(Peer.name, answer, engineAnswer)}`);
  log(`${Peer.name} rep ${rep + 1}: ingest ${fmt(t1 - t0)} ms, first usage ${fmt(t2 - t1, 1)} ms`);
}

// The least any JS peer does: read each line and JSON.parse it (the peers' own line loop),
// nothing kept. It bounds peer_speedup from the peer's side: a 10x ratio needs ours to take at
// most a tenth of the peer, whose time includes this.
const parseOnlyMs = [];
function timeParseOnly(rep) {
  gc();
  let events = 0;
  const t0 = performance.now();
  eachEvent(text, (event) => { if (event.transaction_id !== undefined) events++; });
  parseOnlyMs.push(performance.now() - t0);
  if (events !== textLines) throw new Error(`JSON.parse read ${events} events, expected ${textLines}`);
  log(`JSON.parse alone rep ${rep + 1}: ${fmt(parseOnlyMs[rep])} ms`);
}

for (let rep = 0; rep < REPS; rep++) {
  timeEngine(rep);
  if (native) timeNative(rep);
  timePeer(rep, RunningPeer, peerIngestMs, peerFirstMs);
  timePeer(rep, RecomputePeer, recomputeIngestMs, recomputeFirstMs);
  timeParseOnly(rep);
}
log(`peer cents match (running aggregates and recompute-from-events${native ? ', and native' : ''}, every repetition)`);

// 2. Warm current usage at N events (the last engine) and at 1k events.
gc();
const samples = QUICK ? 3 : Math.max(5, REPS);
const usageAtN = perCall(() => bigEngine.currentUsage(setup.query), samples, QUICK ? 100 : 300);
bigEngine.free();
bigEngine = null;
gc();
const small = setupEngine(Engine);
ingestText(small, generateNdjson(1000).text, NOW);
small.currentUsage(setup.query);
const usageAt1k = perCall(() => small.currentUsage(setup.query), samples, QUICK ? 100 : 300);
small.free();
log(`current usage: ${fmt(usageAtN, 3)} ms at ${fmt(N)} events, ${fmt(usageAt1k, 3)} ms at 1k`);

// 3. priceCharge from JS, graduated with 5 tiers.
const graduated5 = {
  charge_model: 'graduated',
  properties: { graduated_ranges: [
    { from_value: 0, to_value: 100, per_unit_amount: '0.05', flat_amount: '1' },
    { from_value: 101, to_value: 1000, per_unit_amount: '0.04', flat_amount: '0' },
    { from_value: 1001, to_value: 10000, per_unit_amount: '0.03', flat_amount: '0' },
    { from_value: 10001, to_value: 100000, per_unit_amount: '0.02', flat_amount: '0' },
    { from_value: 100001, to_value: null, per_unit_amount: '0.01', flat_amount: '0' },
  ] },
  units: '123456.5',
};
if (priceCharge(graduated5).amount !== '2346.565') throw new Error(`priceCharge: unexpected amount ${priceCharge(graduated5).amount}`);
const priceMs = perCall(() => priceCharge(graduated5), QUICK ? 1 : 5, QUICK ? 500 : 1000);
const priceCallsPerS = 1000 / priceMs;
log(`priceCharge: ${fmt(priceCallsPerS)} calls/s`);

rmSync(dir, { recursive: true, force: true });

// 6. Size of the shipped .wasm (read at start, next to the import).
const wasmKb = wasmBytes.length / 1024;
const wasmGzipKb = gzipSync(wasmBytes, { level: zlibConstants.Z_BEST_COMPRESSION }).length / 1024;

// ---------------------------------------------------------------------------------------------
// Figures
// ---------------------------------------------------------------------------------------------

const stored = expectedStored;
const engineIngest = median(engineIngestMs);
const engineFirst = median(engineFirstMs);
const engineTotal = median(engineIngestMs.map((x, i) => x + engineFirstMs[i]));
const peerTotal = median(peerIngestMs.map((x, i) => x + peerFirstMs[i]));
const recomputeTotal = median(recomputeIngestMs.map((x, i) => x + recomputeFirstMs[i]));
const ingestPerS = stored / (engineIngest / 1000);
const peerSpeedup = peerTotal / engineTotal;
const recomputeSpeedup = recomputeTotal / engineTotal;
const nativeTotal = native ? median(native.ingest_ms.map((x, i) => x + native.first_usage_ms[i])) : NaN;
const wasmNativeRatio = native ? nativeTotal / engineTotal : NaN;
const bytesPerEvent = memory.wasmGrowth / stored;
const nLabel = N >= 1_000_000 && N % 1_000_000 === 0 ? `${N / 1_000_000}M` : `${fmt(N / 1000)}k`;
const met = (ok) => (Number.isNaN(ok) ? 'n/a' : ok ? 'yes' : 'NO');

const rows = [
  [`1. ingestBulk, NDJSON in WASM, ${nLabel} events (${CHUNK_BYTES >> 10} KB chunks, skipDuplicates)`, `${fmt(ingestPerS)} events/s`, '>= 2,000,000/s', met(ingestPerS >= 2e6)],
  ['   first ingestion in a fresh process (untimed pass: memory growth, tier-up; indicative)', `${fmt(stored / (memory.firstIngestMs / 1000))} events/s`, '', ''],
  [`2. currentUsage, 10 charges, ${nLabel} events in the period (warm)`, `${fmt(usageAtN, 3)} ms`, '<= 0.1 ms', met(usageAtN <= 0.1)],
  ['   currentUsage, 1k events in the period (warm)', `${fmt(usageAt1k, 3)} ms`, '', ''],
  [`   ratio ${nLabel} / 1k`, `${fmt(usageAtN / usageAt1k, 1)}x`, '', ''],
  [`   first currentUsage after ingesting ${nLabel} (builds running states)`, `${fmt(engineFirst, 1)} ms`, '', ''],
  ['3. priceCharge from JS, graduated, 5 tiers', `${fmt(priceCallsPerS)} calls/s`, '', ''],
  ['4. WASM / native (ingest + first usage; native time ÷ WASM time)', native ? `${fmt(wasmNativeRatio, 2)}` : 'n/a', '>= 0.6', met(native ? wasmNativeRatio >= 0.6 : NaN)],
  ...(native ? [
    ['   native ingest / first usage / warm usage', `${fmt(median(native.ingest_ms))} ms / ${fmt(median(native.first_usage_ms), 1)} ms / ${fmt(median(native.warm_usage_ms), 3)} ms`, '', ''],
    ['   WASM / native, ingest only; warm usage only', `${fmt(median(native.ingest_ms) / engineIngest, 2)}; ${fmt(median(native.warm_usage_ms) / usageAtN, 2)}`, '', ''],
  ] : []),
  ['5. peer_speedup: JS + decimal.js running aggregates ÷ ours (ingest + first usage)', `${fmt(peerSpeedup, 2)}x (${fmt(peerTotal)} ms vs ${fmt(engineTotal)} ms)`, '>= 10x', met(peerSpeedup >= 10)],
  ['   recompute-from-events peer (Lago\'s way) ÷ ours', `${fmt(recomputeSpeedup, 2)}x (${fmt(recomputeTotal)} ms)`, '', ''],
  ['   peer first usage; recompute peer first usage', `${fmt(median(peerFirstMs), 2)} ms; ${fmt(median(recomputeFirstMs), 1)} ms`, '', ''],
  ['   JSON.parse of each line alone (no peer does less); its share of the running peer', `${fmt(median(parseOnlyMs))} ms; ${fmt(100 * median(parseOnlyMs) / peerTotal)} %`, '', ''],
  ['6. .wasm shipped, raw', `${fmt(wasmKb, 1)} KB`, '', ''],
  ['   .wasm gzip -9 (full time-zone data)', `${fmt(wasmGzipKb, 1)} KB`, '<= 250 KB', met(wasmGzipKb <= 250)],
  [`7. memory per stored event (WASM linear memory growth over ${nLabel})`, `${fmt(bytesPerEvent)} bytes`, '', ''],
  ['   JS heap per event: running peer (dedup Set + aggregates); recompute peer (events)', `${fmt(memory.RunningPeer)} bytes; ${fmt(memory.RecomputePeer)} bytes`, '', ''],
];

console.log(`usage-calc benchmark${QUICK ? ` (QUICK: ${nLabel} events, ${REPS} repetition${REPS > 1 ? 's' : ''} — indicative only)` : `, ${nLabel} events, median of ${REPS} repetitions`}`);
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memory}, ${machine.platform}, Node ${machine.node}; load average (1 min) ${loadAtStart.toFixed(2)} at start, ${loadavg()[0].toFixed(2)} at end (other work on the machine makes figures noisy)`);
console.log(`workload: ${fmt(N)} NDJSON lines (${fmt(text.length / 2 ** 20, 1)} MiB), ${fmt(stored)} events stored, ${data.duplicates} duplicate lines (engine: ${fmt(skippedSeen)} skipped), ${data.late} late, ${data.previousPeriod} from the previous period`);
const widths = [0, 1, 2, 3].map((c) => Math.max(...rows.map((r) => r[c].length), ['figure', 'value', 'target', 'met?'][c].length));
const line = (cells) => `| ${cells.map((cell, c) => cell.padEnd(widths[c])).join(' | ')} |`;
console.log(line(['figure', 'value', 'target', 'met?']));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
console.log(`peer cents match: engine (WASM)${native ? ', native' : ''}, running peer and recompute peer all give ${fmt(engineAnswer.amount_cents)} cents`);
if (nativeNote) console.log(nativeNote);
if (buildSeconds !== null) console.log(`native build (cargo build --release --example bench_native --locked): ${buildSeconds.toFixed(1)} s`);
const wall = (performance.now() - started) / 1000;
console.log(`wall time: ${wall.toFixed(1)} s${buildSeconds !== null ? ` (${(wall - buildSeconds).toFixed(1)} s without the native build)` : ''}`);

const num = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : 'nan');
console.log(
  `bench: ingest_events_per_s=${num(ingestPerS, 0)} current_usage_ms_1m=${num(usageAtN, 3)} current_usage_ms_1k=${num(usageAt1k, 3)} ` +
  `price_calls_per_s=${num(priceCallsPerS, 0)} wasm_native_ratio=${num(wasmNativeRatio, 2)} wasm_kb=${num(wasmKb, 1)} ` +
  `wasm_gzip_kb=${num(wasmGzipKb, 1)} peer_speedup=${num(peerSpeedup, 2)} bytes_per_event=${num(bytesPerEvent, 0)}`,
);
