#!/usr/bin/env bash
# THE test command: tool set-up, lints, Rust tests (incl. proptest), wasm build, Node tests, fault rounds,
# conformance fixtures. Fails fast; prints each runner's own summary lines, then a step table.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "setup"
bash scripts/setup.sh

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy (native, all targets)"
cargo clippy --all-targets --locked -- -D warnings

step "cargo clippy (wasm32)"
cargo clippy --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test"
cargo test --locked

step "build pkg/"
bash scripts/build.sh

step "node --test tests/node/"
node --test tests/node/   # Node 20 needs the directory; globs need Node 21+

step "faults: the shim killed and restarted 10 times under events, batches and clock changes"
node tests/faults/run.mjs --kills 10

step "browser: the pricing simulator in Debian's Chromium (playwright-core)"
node tests/browser/simulator.mjs

step "Python client (lago-python-client against the shim)"
.venv/bin/python tests/python/test_client.py

step "conformance fixtures"
if [ -f tests/conformance.mjs ]; then
  node tests/conformance.mjs tests/fixtures
else
  echo "SKIP: tests/conformance.mjs does not exist yet"
fi
