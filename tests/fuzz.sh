#!/usr/bin/env bash
# Fuzzes every door that takes outside input (fuzz/src/lib.rs says what each target covers):
# builds the targets with cargo-fuzz (libFuzzer), seeds each corpus from the recorded
# fixtures and shipped configs, and runs each target for a fixed time. Fails on a crash
# (panic), a timeout (an input taking > 10 s) or running out of memory (> 2 GiB); the input
# is kept in fuzz/artifacts/<target>/ and the command to reproduce it is printed.
#
#   tests/fuzz.sh                   # every target for 30 s (the CI step in .ci/run)
#   tests/fuzz.sh --minutes 10      # soak: every target for 10 minutes
#   tests/fuzz.sh --seconds 5 config versions
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`; .ci/run installs it). The corpora
# grow in fuzz/corpus/<target>/ between runs (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=30
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) secs="$2"; shift 2 ;;
    --minutes) secs=$(( $2 * 60 )); shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "tests/fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(report config agent_parsers desk_answers versions)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

command -v cargo-fuzz >/dev/null || {
  echo "tests/fuzz.sh: cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2; exit 2; }

# cargo-fuzz passes unstable flags to rustc; the stable toolchain accepts them with
# RUSTC_BOOTSTRAP. No sanitizer: the code under test is safe Rust, so a memory error
# cannot happen there; panics, overflows (debug assertions on), hangs and memory blow-ups
# are what libFuzzer catches, at about twice the speed of an ASan build.
export RUSTC_BOOTSTRAP=1
build_log=$(mktemp)
if ! cargo fuzz build --fuzz-dir fuzz --sanitizer none --debug-assertions >"$build_log" 2>&1; then
  tail -60 "$build_log"; echo "tests/fuzz.sh: building the fuzz targets failed" >&2; exit 1
fi
rm -f "$build_log"
bin_dir=fuzz/target/x86_64-unknown-linux-gnu/release

dict_for() {
  case "$1" in
    config) echo "-dict=fuzz/dict/yaml.dict" ;;
    desk_answers|agent_parsers) echo "-dict=fuzz/dict/json.dict" ;;
  esac
}

failed=()
total=0
for t in "${targets[@]}"; do
  exe="$bin_dir/$t"
  [ -x "$exe" ] || { echo "tests/fuzz.sh: no target $t (targets: ${all[*]})" >&2; exit 2; }
  corpus="fuzz/corpus/$t"
  seeds=$(mktemp -d)
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  TILSYN_FUZZ_WRITE_SEEDS="$seeds" "$exe" 2>/dev/null
  log=$(mktemp)
  set +e
  # shellcheck disable=SC2046
  "$exe" "$corpus" "$seeds" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 $(dict_for "$t") >"$log" 2>&1
  rc=$?
  set -e
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  runs=${runs:-0}
  total=$(( total + runs ))
  if [ $rc -eq 0 ]; then
    printf '%-14s ok      %12s runs in %ss, corpus %s inputs\n' "$t" "$runs" "$secs" "$(ls "$corpus" | wc -l)"
  else
    failed+=("$t")
    printf '%-14s FAILED  (exit %s) after %s runs\n' "$t" "$rc" "$runs"
    grep -E 'panicked|ERROR: libFuzzer|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 || true
    tail -40 "$log"
    for a in $(sed -n 's/.*Test unit written to \(\S*\).*/\1/p' "$log"); do
      echo "reproduce: $exe $a   (then make it a regression test with the input as a fixture)"
    done
  fi
  rm -rf "$seeds" "$log"
done
echo "total: $total runs"
if [ ${#failed[@]} -gt 0 ]; then
  echo "tests/fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
