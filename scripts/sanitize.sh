#!/usr/bin/env bash
# Builds every test target with clang 14 under sanitizers and runs the tests, each build in its
# own folder:
# - build-asan: AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer, any report
#   fatal, over the whole suite (unit, conformance, cloud backends against their emulators and
#   servers, end to end);
# - build-tsan: ThreadSanitizer over the concurrency tests (every test named Concurrent... or
#   E2eConcurrency..., in whichever binary, the metrics outbox's worker thread tests, the
#   warehouse deadline pool, the reopening warehouse, the HTTP server's own tests, and background
#   analysis: the workers and the sweep, the in-process queue, and serve with its workers).
# Both compile at -O0 with line tables and one precompiled header (CMakeLists.txt says why). On
# 2 cores from empty folders (CI on the AMD VM, 2026-12-07): ASan about 280 s to build and 260-300 s
# to run the tests (about 0.1 s of CPU to start each of the 1 100 test processes, half of it
# LeakSanitizer's scan at exit); TSan's tests about 30 s after its build.
# `scripts/sanitize.sh asan` or `scripts/sanitize.sh tsan` runs one of them; BUILD_ONLY=1 builds
# without running the tests (scripts/test.sh builds ahead in the background that way). Exits
# non-zero on any failure or sanitizer report; the last line says which.
set -euo pipefail
cd "$(dirname "$0")/.."
which=("$@")
((${#which[@]})) || which=(asan tsan)

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
configure() {  # configure BUILD_DIR SANITIZER
  # A folder configured with another compiler (gcc, before) starts over rather than half-switch.
  if [[ -f "$1/CMakeCache.txt" ]] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++-14$' \
       "$1/CMakeCache.txt"; then
    rm -rf "$1"
  fi
  local g=()
  [[ -f "$1/CMakeCache.txt" ]] || g=("${generator[@]}")
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$1" "${g[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DBUILDTRACE_SANITIZE="$2" -DBUILDTRACE_PCH=ON -DBUILDTRACE_BENCH=OFF >/dev/null
}

# halt_on_error: the first report fails the test (and a server started by an end-to-end test
# aborts, which the test sees).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

# The tests of the concurrent paths, by name.
tsan_tests='Concurrent|E2eConcurrency|MetricsOutboxTest.TheWorker|DeadlineWarehouseTest|ReopeningWarehouseTest|HttpServerTest|ReadyzAnswersWithinTheDeadline|AnalysisTest|InprocQueue|Inproc/AnalysisQueue|E2eAnalysis'

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
# Left out of the ASan+UBSan run, on purpose: the test that uses up the process's descriptors
# (to make accept fail with EMFILE). UBSan checks a virtual call's dynamic type the first time it
# sees it with a pipe(2), which then cannot be made, and reports a valid object as having an
# "invalid vptr". The test runs in the normal build and under TSan.
# And the Pub/Sub queue against Google's emulator: about 75 s, nearly all the emulator's JVM
# starting and answering, the longest test of the run. Its code (libcurl calls and the message
# encoding) is covered under ASan by the Google API tests on the loopback fake and by
# pubsub_message_test; the queue runs against the emulator in the normal build's tests.
asan_excluded_test=HttpServerTest.AcceptOutOfDescriptorsBacksOffInsteadOfSpinning
asan_excluded_program=pubsub_queue_test
built_only() { [[ "${BUILD_ONLY:-0}" == 1 ]]; }
# The ASan+UBSan tests run each test program's tests in one process, two programs at a time: the
# same tests that ctest lists, without starting a process per test. Under ASan each start costs
# about 0.13 s of CPU (LeakSanitizer's scan at exit a quarter of it), 1 100 of them: the tests took
# 304 s through ctest and 123 s this way on 2 cores (2026-12-07). A leak or a report still fails
# the program, whose log (build-asan/asan-logs/PROGRAM.log) is shown; each program has 15 minutes.
asan_programs() {  # the test programs ctest knows in build-asan, one path per line
  ctest --test-dir build-asan -N -V | sed -n 's/^[0-9]*: Test command: \([^ ]*\).*/\1/p' |
    sort -u | grep -v "/$asan_excluded_program\$"
}
asan_program() {  # PROGRAM: all its tests but the excluded one; its log's end when it fails
  local log
  log=build-asan/asan-logs/$(basename "$1").log
  if timeout 900 "$1" --gtest_brief=1 --gtest_filter="-$asan_excluded_test" >"$log" 2>&1; then
    echo "asan: $(basename "$1"): $(grep -h '^\[  PASSED  \]' "$log")"
  else
    tail -60 "$log"
    echo "asan: $(basename "$1") FAILED (its whole log: $log)"
    return 1
  fi
}
asan_tests() {
  local programs
  programs=$(asan_programs)
  [[ -n $programs ]] || { echo "asan: ctest lists no test programs in build-asan"; return 1; }
  rm -rf build-asan/asan-logs && mkdir -p build-asan/asan-logs
  export -f asan_program
  export asan_excluded_test
  xargs -P "$(nproc)" -I{} bash -c 'asan_program "$1"' _ {} <<<"$programs"
}
# Chained with &&: run calls these as an `if` condition, where bash ignores set -e, and a failed
# build must not go on to test what was built before.
asan() {
  configure build-asan address &&
    cmake --build build-asan -j "$(nproc)" &&
    { built_only || asan_tests; }
}
# Only the test programs that hold one of those tests are built for TSan, as the normal build's
# test list names them (scripts/test.sh builds it first); without that build, every program.
tsan_targets() {
  ctest --test-dir "${BUILD_DIR:-build}" -N -V -R "$tsan_tests" 2>/dev/null |
    sed -n 's|^[0-9]*: Test command: \([^ ]*\).*|\1|p' | xargs -r -n1 basename | sort -u |
    tr '\n' ' '
}
tsan() {
  local targets
  targets=$(tsan_targets)
  configure build-tsan thread &&
    cmake --build build-tsan -j "$(nproc)" ${targets:+--target $targets} &&
    { built_only ||
      ctest --test-dir build-tsan --output-on-failure -j "$(nproc)" -R "$tsan_tests" --no-tests=error; }
}
for w in "${which[@]}"; do
  case $w in
    asan) run "ASan+UBSan (build-asan, every test)" asan ;;
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
