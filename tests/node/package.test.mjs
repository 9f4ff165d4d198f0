// The built npm package (pkg/) as a consumer sees it: `npm pack` it, install the tarball into an
// empty project, import it from plain Node ESM and type-check an import with tsc.
// Needs pkg/ (bash scripts/build.sh); run with `node --test tests/node/`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const pkgDir = join(root, 'pkg');
// The `version = "..."` of Cargo.toml's [package] table.
const cargoVersion = (() => {
  let inPackage = false;
  for (const line of readFileSync(join(root, 'Cargo.toml'), 'utf8').split('\n').map((l) => l.trim())) {
    if (line.startsWith('[')) inPackage = line === '[package]';
    const m = inPackage && line.match(/^version\s*=\s*"([^"]+)"/);
    if (m) return m[1];
  }
  throw new Error('no [package] version in Cargo.toml');
})();

// Run a command; on a non-zero exit, a timeout or a spawn error, throw with everything we know.
function run(cmd, args, { cwd, timeout = 120_000 } = {}) {
  const r = spawnSync(cmd, args, { cwd, timeout, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    throw new Error(`\`${cmd} ${args.join(' ')}\` in ${cwd} failed ` +
      `(status ${r.status}, signal ${r.signal}${r.error ? `, ${r.error.message}` : ''})\n` +
      `--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  }
  return r.stdout;
}

let tmp, app, packed;

before(() => {
  assert.ok(existsSync(join(pkgDir, 'package.json')), 'pkg/ is not built: run `bash scripts/build.sh`');
  tmp = mkdtempSync(join(tmpdir(), 'usage-calc-pack-'));
  // --json prints [{ filename, files: [{ path }] }] on stdout (npm's warnings go to stderr).
  [packed] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', tmp], { cwd: pkgDir }));
  app = join(tmp, 'app');
  run('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ type: 'module' }));
  // The tarball has no dependencies, so nothing needs the network.
  run('npm', ['install', '--no-audit', '--no-fund', '--offline', join(tmp, packed.filename)], { cwd: app });
}, { timeout: 180_000 });

after(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

test('the tarball holds the package files and no Rust sources', () => {
  const paths = packed.files.map((f) => f.path).sort();
  for (const f of ['package.json', 'index.js', 'index.d.ts', 'usage_calc.js', 'usage_calc.d.ts',
    'usage_calc_bg.wasm']) {
    assert.ok(paths.includes(f), `${f} missing from the tarball: ${paths.join(', ')}`);
  }
  const leaked = paths.filter((p) => p.startsWith('src/') || p.endsWith('.rs') || p.startsWith('Cargo.'));
  assert.deepEqual(leaked, [], 'Rust sources leaked into the tarball');
  assert.equal(packed.name, 'usage-calc');
  assert.equal(packed.version, cargoVersion);
});

test('plain Node ESM imports the installed package without calling init', { timeout: 60_000 }, () => {
  writeFileSync(join(app, 'main.mjs'),
    "import { version } from 'usage-calc';\nconsole.log(JSON.stringify({ version: version() }));\n");
  const out = run(process.execPath, ['main.mjs'], { cwd: app, timeout: 30_000 });
  assert.deepEqual(JSON.parse(out.trim()), { version: cargoVersion });
});

// The Engine's declared input and output types, used the way a consumer would; the
// `@ts-expect-error` lines fail the check if a type degrades to `any` or loses a field.
const engineCheck = `
import { Engine } from 'usage-calc';
import type { PlanInput, EventInput, UsageQuery, CurrentUsageResponse, ProjectedUsageResponse,
  PastUsageResponse, EngineState } from 'usage-calc';
const engine = new Engine({ timezone: 'UTC' });
engine.upsertTax({ code: 'vat', rate: '20', applied_to_organization: true });
engine.upsertBillableMetric({ code: 'gb', aggregation_type: 'sum_agg', field_name: 'gb' });
const plan: PlanInput = { code: 'p', interval: 'monthly', amount_currency: 'EUR', charges: [
  { billable_metric_code: 'gb', charge_model: 'standard', properties: { amount: '0.5' } }] };
engine.upsertPlan(plan);
engine.upsertSubscription({ external_id: 's', external_customer_id: 'c', plan_code: 'p' }, new Date());
const event: EventInput = { transaction_id: 't', external_subscription_id: 's', code: 'gb', timestamp: 1749945600, properties: { gb: 3 } };
engine.ingestEvent(event, '2025-06-15T00:00:00Z');
engine.ingestBatch([event], new Date());
const stored: number = engine.ingestBulk('{}', new Date()) + engine.eventsCount;
const query: UsageQuery = { external_customer_id: 'c', external_subscription_id: 's', now: '2025-06-15T00:00:00Z', group: { region: ['eu'] } };
const current: CurrentUsageResponse = engine.currentUsage(query);
const cents: number = current.customer_usage.charges_usage[0].filters[0].amount_cents;
const values: Record<string, string[]> | null = current.customer_usage.charges_usage[0].filters[0].values;
const projected: ProjectedUsageResponse = engine.projectedUsage(query);
const projectedUnits: string = projected.customer_projected_usage.charges_usage[0].projected_units;
const past: PastUsageResponse = engine.pastUsage({ external_subscription_id: 's', now: new Date(), per_page: 2 });
const next: number | null = past.meta.next_page;
const state: EngineState = engine.export();
const again: Engine = Engine.import(state);
// @ts-expect-error amount_cents is a number
const wrong: string = current.customer_usage.amount_cents;
// @ts-expect-error projected lines have no total_aggregated_units
projected.customer_projected_usage.charges_usage[0].total_aggregated_units;
// @ts-expect-error the format is a literal
const badState: EngineState = { ...state, format: 'other' };
// @ts-expect-error a usage query needs now
engine.currentUsage({ external_customer_id: 'c', external_subscription_id: 's' });
export { stored, cents, values, projectedUnits, next, again, wrong, badState };
`;

test('the package types resolve under tsc --strict, module nodenext', { timeout: 120_000 }, () => {
  writeFileSync(join(app, 'check.ts'),
    "import { version } from 'usage-calc';\nconst v: string = version();\nexport const major: number = Number(v.split('.')[0]);\n"
    + engineCheck);
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  assert.ok(existsSync(tsc), 'node_modules/.bin/tsc missing: run `bash scripts/setup.sh`');
  run(tsc, ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', 'check.ts'],
    { cwd: app, timeout: 90_000 });
});
