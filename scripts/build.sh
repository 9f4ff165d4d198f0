#!/usr/bin/env bash
# Build the npm package into pkg/: one release wasm build (web target), then finish-pkg.mjs turns
# it into a self-initialising ES module package for Node and browsers.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

step "wasm-pack build (release, --target web)"
check_wasm_opt
# --mode no-install: never download anything (wasm-pack would otherwise try GitHub).
# Everything after `--` goes to cargo build.
wasm-pack build --mode no-install --release --target web --out-dir pkg --out-name usage_calc -- --locked

step "finish pkg/"
node scripts/finish-pkg.mjs
