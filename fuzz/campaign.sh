#!/usr/bin/env bash
# Run recorded fuzzing campaigns: each target for 10 minutes or 1,000,000 executions, whichever
# comes first (FUZZ_SECONDS overrides the 600 s), two at a time (FUZZ_JOBS); FUZZ_MAX_LEN sets
# libFuzzer's -max_len (longer corpus inputs are cut to it: for slow targets with large seeds,
# such as logs). Build first with
# `cargo fuzz build -s none` (same CARGO_TARGET_DIR); seed with fuzz/seed.sh.
# Usage: fuzz/campaign.sh LOG_DIR TARGET...
# Each target's log is LOG_DIR/<target>.log; a crash, timeout or OOM input is written to
# fuzz/artifacts/<target>/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
logs=$1; shift
mkdir -p "$logs"
bin_dir=${CARGO_TARGET_DIR:-$here/target}/x86_64-unknown-linux-gnu/release
jobs=${FUZZ_JOBS:-2}
run_one() {
  local t=$1
  mkdir -p "$here/corpus/$t" "$here/artifacts/$t"
  # The committed seeds join the corpus (libFuzzer reads every directory given, writes the first).
  local seeds=()
  [ -d "$here/seeds/$t" ] && seeds=("$here/seeds/$t")
  local extra=()
  if [ -n "${FUZZ_MAX_LEN:-}" ]; then extra=(-max_len="$FUZZ_MAX_LEN"); fi
  "$bin_dir/$t" "${extra[@]}" -max_total_time="${FUZZ_SECONDS:-600}" -runs=1000000 -timeout=2 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/" \
    "$here/corpus/$t" "${seeds[@]}" > "$logs/$t.log" 2>&1 || echo "$t: exit $?" >> "$logs/$t.log"
  echo "$t done: $(grep -E '^(#[0-9]+.*DONE|Done )' "$logs/$t.log" | tail -1)"
}
export -f run_one
export here logs bin_dir
printf '%s\n' "$@" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
