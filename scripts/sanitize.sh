#!/usr/bin/env bash
# Runs the tests under sanitizers, each build in its own folder:
# - build-asan: AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer, any report
#   fatal, over the unit and end-to-end tests and the embedded backends' tests; the tests of the
#   cloud backends (S3, GCS, BigQuery, PostgreSQL: emulators and servers) only with
#   SANITIZE_ALL=1, to keep CI within its time budget;
# - build-tsan: ThreadSanitizer over the concurrency tests (file store, store and warehouse
#   conformance, end to end).
# `scripts/sanitize.sh asan` or `scripts/sanitize.sh tsan` runs one of them. Exits non-zero on any
# failure or sanitizer report; the last line says which.
set -euo pipefail
cd "$(dirname "$0")/.."
which=("$@")
((${#which[@]})) || which=(asan tsan)

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
configure() {  # configure BUILD_DIR SANITIZER (the generator only when the folder is new)
  local g=()
  [[ -f "$1/CMakeCache.txt" ]] || g=("${generator[@]}")
  cmake -S . -B "$1" "${g[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBUILDTRACE_SANITIZE="$2" -DBUILDTRACE_BENCH=OFF >/dev/null
}

# halt_on_error: the first report fails the test (and a server started by an end-to-end test
# aborts, which the test sees).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# Tests of the concurrent paths, and the binaries that hold them.
tsan_tests='Concurrent|E2eConcurrency'
tsan_targets=(file_state_store_test sqlite_warehouse_test e2e_test)
asan_targets=(core_test backends_test service_test http_test http_client_test file_state_store_test
              sqlite_warehouse_test job_generator_test simulate_test e2e_test)
[[ "${SANITIZE_ALL:-0}" == 1 ]] && asan_targets=(all)

results=()
status=0
run() {  # run NAME COMMAND...: records the outcome without stopping at the first failure
  local name=$1 start=$SECONDS
  shift
  if "$@"; then
    results+=("$name ok ($((SECONDS - start))s)")
  else
    results+=("$name FAILED ($((SECONDS - start))s)")
    status=1
  fi
}
asan() {
  configure build-asan address
  cmake --build build-asan -j "$(nproc)" --target "${asan_targets[@]}"
  # Binaries outside asan_targets show up as "<name>_NOT_BUILT" tests.
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -E '_NOT_BUILT$' --no-tests=error
}
tsan() {
  configure build-tsan thread
  cmake --build build-tsan -j "$(nproc)" --target "${tsan_targets[@]}"
  ctest --test-dir build-tsan --output-on-failure -j "$(nproc)" -R "$tsan_tests" --no-tests=error
}
for w in "${which[@]}"; do
  case $w in
    asan) run "ASan+UBSan (build-asan, ${#asan_targets[@]} test targets)" asan ;;
    tsan) run "TSan (build-tsan, concurrency tests)" tsan ;;
    *) echo "unknown sanitizer run: $w (asan or tsan)" >&2; exit 2 ;;
  esac
done
summary=$(IFS=';'; echo "${results[*]}")
if ((status)); then
  echo "sanitize: FAILED: ${summary//;/, }"
else
  echo "sanitize: OK: ${summary//;/, }"
fi
exit "$status"
