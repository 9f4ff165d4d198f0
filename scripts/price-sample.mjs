// Prices a sample plan with the built engine (for now: prints the engine version).
// Run via `bash scripts/run.sh`, which builds pkg/ first.
import { existsSync } from 'node:fs';

const entry = new URL('../pkg/index.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('price-sample: pkg/index.js not found; the package is not built. Run: bash scripts/build.sh');
  process.exit(1);
}
let engine;
try {
  engine = await import(entry.href);
} catch (err) {
  console.error('price-sample: could not load pkg/index.js; rebuild with: bash scripts/build.sh');
  throw err;
}

console.log(`usage-calc engine ${engine.version()}`);
