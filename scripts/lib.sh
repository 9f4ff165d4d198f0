# shellcheck shell=bash
# Shared set-up for the scripts in this folder; source it, do not run it.
# - cd to the repo root, so relative paths (Cargo.lock, pkg/, node_modules/) work from anywhere;
# - PATH: cargo-installed tools first, then npm's node_modules/.bin AHEAD of /usr/bin, so npm's
#   binaryen wasm-opt (v132) wins over Debian's v108, which silently produces broken wasm;
# - step "name": prints a header with the elapsed time; on exit, how long each step took
#   (a table in the top-level script, one line in scripts it starts).
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PWD/node_modules/.bin:$PATH"

_script=$(basename "$0")
_depth=${_USAGE_CALC_DEPTH:-0}
export _USAGE_CALC_DEPTH=$((_depth + 1))
_now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); } # bash 5 µs clock, no fork
_fmt() { printf '%d.%ds' $(($1 / 1000)) $(($1 % 1000 / 100)); }
_t0=$(_now_ms)
_names=() _times=()
_step=""
_step_t=0

_end_step() {
  [ -n "$_step" ] || return 0
  _names+=("$_step")
  _times+=("$(_fmt $(($(_now_ms) - _step_t)))")
  _step=""
}
step() {
  _end_step
  _step=$*
  _step_t=$(_now_ms)
  printf '\n=== [%s +%s] %s\n' "$_script" "$(_fmt $((_step_t - _t0)))" "$*"
}
_summary() {
  local rc=$? failed=$_step total i line=""
  _end_step
  total=$(_fmt $(($(_now_ms) - _t0)))
  if [ "$rc" -ne 0 ]; then
    printf '\n=== [%s] FAILED (exit %d) after %s in step: %s\n' "$_script" "$rc" "$total" "${failed:-?}" >&2
  elif [ "$_depth" -gt 0 ]; then
    for i in "${!_names[@]}"; do line+="${line:+; }${_names[i]} ${_times[i]}"; done
    printf '=== [%s] OK in %s (%s)\n' "$_script" "$total" "$line"
  else
    printf '\n=== [%s] step times:\n' "$_script"
    for i in "${!_names[@]}"; do printf '%8s  %s\n' "${_times[i]}" "${_names[i]}"; done
    printf '=== [%s] OK in %s\n' "$_script" "$total"
  fi
}
trap _summary EXIT

die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

# wasm-pack --mode no-install silently SKIPS wasm-opt when none is in PATH, and happily uses
# Debian's broken v108, so check the one we will get.
check_wasm_opt() {
  local out ver
  out=$(wasm-opt --version 2>/dev/null) || die "wasm-opt not found in PATH (run: bash scripts/setup.sh)"
  ver=$(printf '%s\n' "$out" | sed -n 's/^wasm-opt version \([0-9][0-9]*\).*/\1/p')
  if [ -z "$ver" ] || [ "$ver" -lt 120 ]; then
    die "wasm-opt at $(command -v wasm-opt) is '$out'; need >= 120 (npm binaryen). Never use Debian's binaryen."
  fi
  echo "wasm-opt $ver at $(command -v wasm-opt)"
}
