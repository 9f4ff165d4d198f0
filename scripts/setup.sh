#!/usr/bin/env bash
# Idempotent tool set-up for a fresh or warm Debian machine: installs only what is missing or
# at the wrong version, from the cargo/npm/apt registries only (GitHub is unreachable here).
# Cold: ~4 min (two `cargo install`s); warm: ~1 s.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WASM_PACK_VERSION=0.15.1
# The CLI must equal the wasm-bindgen crate in Cargo.lock exactly (wasm-bindgen checks the schema).
WB_VERSION=$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
[ -n "$WB_VERSION" ] || die "no wasm-bindgen package in Cargo.lock"

is_ver() { [ "$("$1" --version 2>/dev/null)" = "$1 $2" ]; }
# apt_need PKG...: apt-get install the packages that are not installed yet (we run as root).
apt_need() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
}

step "prerequisites"
for c in rustup cargo node npm; do command -v "$c" >/dev/null || die "$c not found; install it first"; done
# System packages: Debian's Chromium for the browser test (playwright-core downloads no browser),
# python3-venv for the Python-client test.
apt_need chromium python3-venv

step "rust: wasm32 target, rustfmt, clippy"
installed=$(rustup component list --installed)
grep -q '^rust-std-wasm32-unknown-unknown$' <<<"$installed" || rustup target add wasm32-unknown-unknown
grep -q '^rustfmt-' <<<"$installed" || rustup component add rustfmt
grep -q '^clippy-' <<<"$installed" || rustup component add clippy

step "wasm-pack $WASM_PACK_VERSION"
is_ver wasm-pack "$WASM_PACK_VERSION" || cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked --force
is_ver wasm-pack "$WASM_PACK_VERSION" || die "wasm-pack in PATH is not $WASM_PACK_VERSION: $(command -v wasm-pack)"

step "wasm-bindgen-cli $WB_VERSION"
if ! is_ver wasm-bindgen "$WB_VERSION"; then
  # --locked can fail when the CLI's lockfile pins a crate the registry mirror lacks
  # (0.2.130 -> webpki-roots 1.0.11); then resolve afresh.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --locked --force ||
    cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
fi
is_ver wasm-bindgen "$WB_VERSION" || die "wasm-bindgen in PATH is not $WB_VERSION: $(command -v wasm-bindgen)"

step "npm dev tools (binaryen wasm-opt, typescript)"
stamp=node_modules/.setup-stamp
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/tsc ] ||
  [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  npm ci --no-audit --no-fund
  echo "$lock_hash" >"$stamp"
fi
check_wasm_opt

step "python venv (.venv: lago-python-client for the client test)"
PY_CLIENT=lago-python-client==1.55.0
if ! .venv/bin/python -c 'import lago_python_client' 2>/dev/null; then
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check "$PY_CLIENT"
fi
