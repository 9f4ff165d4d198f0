#!/usr/bin/env node
// Instructions per event in WASM, counted by valgrind: a figure that does not move with the load
// of the machine, for comparing two builds of the package (timings on a shared 2-core machine
// move by 20–40 % from one run to the next). Measured spread over repeated runs: ~1 % for the
// ingestion, ~5 % for the first usage (a difference of two differences, the smaller term).
// Instructions are not time: a change that saves memory reads (one walk instead of several)
// shows in the benchmark's time, not here.
//
//   node tests/bench/instructions.mjs [--events N] [--pkg DIR] [--only ingest|usage|warm]
//
// Runs Node under `valgrind --tool=callgrind` with V8's optimising compiler only (no Liftoff, no
// tier-up, one thread), so the same build executes the same machine code every time. Each phase
// is run with 1 and with 3 repetitions, and the difference, halved, is one repetition's cost:
// Node's start, the file read and the module's compilation cancel out. Phases:
//   ingest       a fresh engine, the benchmark's NDJSON ingested in 32 KB chunks
//                (skipDuplicates), the engine freed;
//   first usage  the same, then the first currentUsage (the running states built from the events);
//   warm usage   one engine with 1,000 events and its first usage, then 100 currentUsage calls
//                per repetition (the answer's text written and parsed by JSON.parse each time).
// Counts are instructions of the x86-64 code V8 generated, not WASM instructions: compare builds
// with each other, not with the native figures. About a minute per 50k events.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateNdjson } from './workload.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
};
const N = Number(option('--events', 50_000));
const PKG = resolve(option('--pkg', join(ROOT, 'pkg')));
// `--only ingest|usage|warm`: that phase alone (the first usage needs the ingestion's count).
const ONLY = option('--only', '');

// currentUsage calls per repetition of the warm phase.
const WARM_CALLS = 100;

// The measured program: `phase` is "ingest", "usage" or "warm".
const CHILD = `
const [pkg, file, phase, reps] = process.argv.slice(2);
const { readFileSync } = await import('node:fs');
const { default: init, Engine } = await import(pkg + '/usage_calc.js');
const { setupEngine, setupBodies, chunkLines } = await import(${JSON.stringify(join(ROOT, 'tests', 'bench', 'workload.mjs'))});
await init({ module_or_path: readFileSync(pkg + '/usage_calc_bg.wasm') });
const s = setupBodies();
const chunks = [...chunkLines(readFileSync(file, 'utf8'), 32768)];
if (phase === 'warm') {
  const engine = setupEngine(Engine);
  engine.ingestBulk(readFileSync(file, 'utf8'), s.now, { skipDuplicates: true });
  engine.currentUsage(s.query);
  for (let call = 0; call < ${WARM_CALLS} * Number(reps); call++) engine.currentUsage(s.query);
  process.exit(0);
}
for (let rep = 0; rep < Number(reps); rep++) {
  const engine = setupEngine(Engine);
  for (const chunk of chunks) engine.ingestBulk(chunk, s.now, { skipDuplicates: true });
  if (phase === 'usage') engine.currentUsage(s.query);
  engine.free();
}
`;

const dir = mkdtempSync(join(tmpdir(), 'usage-calc-instructions-'));
try {
  const events = join(dir, 'events.ndjson');
  const smallEvents = join(dir, 'events-1k.ndjson');
  const child = join(dir, 'child.mjs');
  writeFileSync(events, generateNdjson(N).text);
  writeFileSync(smallEvents, generateNdjson(1_000).text);
  writeFileSync(child, CHILD);
  // callgrind's summary line is on stderr: the shell joins it to stdout.
  const count = (phase, reps) => {
    const file = phase === 'warm' ? smallEvents : events;
    const result = execFileSync(
      'sh',
      ['-c', 'valgrind --tool=callgrind --callgrind-out-file=/dev/null --smc-check=all "$@" 2>&1',
        'sh', process.execPath, '--no-liftoff', '--no-wasm-tier-up', '--single-threaded',
        child, PKG, file, phase, String(reps)],
      { encoding: 'utf8', maxBuffer: 1 << 26 },
    );
    const match = result.match(/I\s+refs:\s+([\d,]+)/);
    if (!match) throw new Error(`no instruction count in valgrind's output:\n${result}`);
    return Number(match[1].replaceAll(',', ''));
  };
  const perRep = (phase) => (count(phase, 3) - count(phase, 1)) / 2;
  const ingest = ONLY === 'warm' ? NaN : perRep('ingest');
  const usage = ONLY === 'usage' || !ONLY ? perRep('usage') - ingest : NaN;
  const warm = ONLY === 'warm' || !ONLY ? perRep('warm') / WARM_CALLS : NaN;
  console.log(`pkg: ${PKG}; ${N.toLocaleString('en-US')} events`);
  console.log(`ingest (with the engine's free): ${Math.round(ingest / N).toLocaleString('en-US')} instructions/event`);
  console.log(`first usage: ${Math.round(usage / N).toLocaleString('en-US')} instructions/event`);
  console.log(`warm usage (1k events): ${Math.round(warm).toLocaleString('en-US')} instructions/call`);
  console.log(`instructions: ingest_per_event=${Math.round(ingest / N)} first_usage_per_event=${Math.round(usage / N)} warm_usage_per_call=${Math.round(warm)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
