#!/usr/bin/env bash
# Builds the libFuzzer targets under fuzz/ with clang 14 into ./build-fuzz and runs each from its
# seed corpus (fuzz/corpus/<target>/) for a fixed number of runs or seconds, whichever ends first.
# Exits non-zero on any crash, leak or sanitizer report. FUZZ_RUNS and FUZZ_SECONDS override the
# budget; naming targets runs only those (scripts/fuzz.sh diff_fuzzer). As many run at once as
# there are cores; BUILD_ONLY=1 builds them without running any.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
runs=${FUZZ_RUNS:-20000}
seconds=${FUZZ_SECONDS:-30}
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=(job_body_fuzzer request_target_fuzzer pseudo_hash_fuzzer backend_url_fuzzer
           diff_fuzzer s3_xml_fuzzer content_encoding_fuzzer tokens_file_fuzzer pubsub_push_fuzzer
           request_log_fuzzer)
fi

generator=() generator_args=()
command -v ninja >/dev/null && generator=(-G Ninja)
[[ -f "$build_dir/CMakeCache.txt" ]] || generator_args=("${generator[@]}")
CC=clang-14 CXX=clang++-14 cmake -S . -B "$build_dir" "${generator_args[@]}" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILDTRACE_FUZZ=ON -DBUILDTRACE_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
[[ "${BUILD_ONLY:-0}" == 1 ]] && exit 0  # scripts/test.sh builds ahead in the background
# One target per core at a time (each fuzzer runs on one thread); each one's outcome is printed
# in the targets' order once all have ended.
fuzz_one() {  # fuzz_one TARGET: runs it; its output goes to its log
  local work="$build_dir/fuzz-work/$1"
  # New inputs go to a scratch corpus in the build dir; the seeds in the tree are only read.
  mkdir -p "$work/corpus" "$work/artifacts"
  "$build_dir/fuzz/$1" -runs="$runs" -max_total_time="$seconds" -max_len=8192 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 \
    "$work/corpus" "fuzz/corpus/$1" >"$work/log" 2>&1
}
declare -A pid_of
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= $(nproc))); do wait -n || true; done
  fuzz_one "$t" &
  pid_of[$t]=$!
done
failed=()
for t in "${targets[@]}"; do
  work="$build_dir/fuzz-work/$t"
  echo "== $t: up to $runs runs or ${seconds}s"
  if wait "${pid_of[$t]}"; then
    grep -E '^(Done|stat::number_of_executed_units)' "$work/log" | tail -1 || true
  else
    tail -n 40 "$work/log"
    echo "== $t FAILED (log: $work/log; reproducer in $work/artifacts/)"
    failed+=("$t")
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]} (of ${#targets[@]} targets)"
  exit 1
fi
echo "fuzz: OK: ${#targets[@]} targets, each $runs runs or ${seconds}s, no crash, leak or sanitizer report"
