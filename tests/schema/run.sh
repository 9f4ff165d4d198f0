#!/usr/bin/env bash
# Schema-driven robustness check of the REST shim with schemathesis, against Lago's own OpenAPI
# file (../shared/reference/lago-openapi.yaml, read in place: AGPL reference data, never copied
# here). Not part of CI or scripts/test.sh; run it by hand (~4 min warm). It runs pkg/ as it is
# (built only when missing): after a change under src/, run `bash scripts/build.sh` first.
#
#   bash tests/schema/run.sh                   # both passes, fixed seed
#   MAX_EXAMPLES=200 SEED=7 bash tests/schema/run.sh
#   BASELINE_UPDATE=1 bash tests/schema/run.sh # merge new failures into baseline.json (then
#                                              # give each new entry its "reason" by hand)
#
# Two passes, each on a fresh shim (frozen clock, fixed key): `empty` (DEMO=0, ids are whatever
# schemathesis generates or creates) and `demo` (the demo organisation, ids from demo.toml), every
# check (`--checks all`), all phases (examples, coverage, fuzzing, stateful). A failure listed in
# baseline.json (a documented deviation from Lago, a defect of the spec, or an open bug, each
# with its reason) is reported but accepted; anything else, a shim that died or a 5xx in its log
# fails the script. Reports (JSON, NDJSON, shim logs) go to $OUT.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

ST_VERSION=4.32.5
VENV=${ST_VENV:-/tmp/usage-calc-st-venv}
SPEC=${SPEC:-$PWD/../shared/reference/lago-openapi.yaml}
MAX_EXAMPLES=${MAX_EXAMPLES:-100}
SEED=${SEED:-1}
OUT=${OUT:-/tmp/usage-calc-schema}
BASELINE=$PWD/tests/schema/baseline.json
KEY=schema_check_key
NOW=2025-06-15T12:00:00Z

[ -f "$SPEC" ] || die "Lago's OpenAPI file not found at $SPEC (set SPEC=…)"

step "schemathesis $ST_VERSION in $VENV"
if [ "$("$VENV/bin/st" --version 2>/dev/null)" != "st, version $ST_VERSION" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi
"$VENV/bin/st" --version

if [ ! -f pkg/usage_calc_bg.wasm ]; then
  step "build pkg/ (missing)"
  bash scripts/build.sh
fi

rm -rf "$OUT"
mkdir -p "$OUT"
SHIM_PID=""
stop_shim() {
  if [ -n "$SHIM_PID" ] && kill -0 "$SHIM_PID" 2>/dev/null; then
    kill "$SHIM_PID"
    wait "$SHIM_PID" 2>/dev/null || true
  fi
  SHIM_PID=""
}
trap 'rc_=$?; set +e; stop_shim; (exit "$rc_"); _summary' EXIT

failed=()
# run_pass NAME DEMO CONFIG
run_pass() {
  local name=$1 demo=$2 config=$PWD/$3 log="$OUT/$1-shim.log" url="" rc=0 i
  step "pass $name: shim (DEMO=$demo) + st run"
  PORT=0 DEMO=$demo LAGO_API_KEY=$KEY EMULATOR_NOW=$NOW node www/shim/server.mjs >"$log" 2>&1 &
  SHIM_PID=$!
  for i in $(seq 1 100); do
    url=$(grep -o 'http://[0-9.]*:[0-9]*' "$log" | head -1 || true)
    [ -n "$url" ] && break
    kill -0 "$SHIM_PID" 2>/dev/null || die "shim exited at start: $(cat "$log")"
    sleep 0.1
  done
  [ -n "$url" ] || die "shim printed no URL: $(cat "$log")"
  echo "shim $url (pid $SHIM_PID)"
  local update=()
  [ -n "${BASELINE_UPDATE:-}" ] && update=(--baseline-update)
  # From $OUT: schemathesis keeps a crash cache (.schemathesis/) in its working directory.
  (cd "$OUT" && timeout 900 "$VENV/bin/st" --config-file "$config" run "$SPEC" \
    --url "$url/api/v1" -H "Authorization: Bearer $KEY" \
    --checks all --max-examples "$MAX_EXAMPLES" --seed "$SEED" \
    --workers 1 --generation-database none \
    --request-timeout 10 --max-response-time 5 \
    --baseline "$BASELINE" "${update[@]}" \
    --no-color --report json,ndjson --report-dir "$OUT/$name" \
    >"$OUT/$name.txt" 2>&1) || rc=$?
  sed -n '/^=* SUMMARY =*$/,$p' "$OUT/$name.txt"
  [ "$rc" -eq 0 ] || failed+=("$name: schemathesis exit $rc (details: $OUT/$name.txt)")
  if ! kill -0 "$SHIM_PID" 2>/dev/null; then
    failed+=("$name: the shim died (log: $log)")
  fi
  # The shim logs `<time> <method> <path> <status> <ms>ms <bytes>B` per request.
  local errors
  errors=$(awk '$4 ~ /^5[0-9][0-9]$/' "$log" | head -5)
  [ -z "$errors" ] || failed+=("$name: 5xx in the shim log: $errors")
  echo "requests answered: $(grep -c 'ms [0-9]*B$' "$log" || true)"
  stop_shim
}

run_pass empty 0 tests/schema/empty.toml
run_pass demo 1 tests/schema/demo.toml

step "verdict"
if [ ${#failed[@]} -gt 0 ]; then
  printf '%s\n' "${failed[@]}" >&2
  exit 1
fi
echo "no failure outside $BASELINE (reports in $OUT)"
