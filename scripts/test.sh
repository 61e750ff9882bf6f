#!/usr/bin/env bash
# Installs what is missing, builds, checks the formatting (scripts/check-format.sh), and runs every
# test (unit, conformance and end-to-end) with CTest; then the deploy checks
# (scripts/check-deploy.sh), a 30-second soak of the real server with mixed traffic
# (scripts/soak.sh), the S3 store against Ceph's RADOS Gateway (scripts/s3-interop.sh), the
# dashboard in headless Chromium (scripts/ui-test.sh), the fuzzers (scripts/fuzz.sh), the
# concurrency tests under ThreadSanitizer and the whole suite again under AddressSanitizer + UBSan
# (scripts/sanitize.sh tsan, asan), each in its own build folder. The optional packages install
# during the build, and the fuzzers', TSan's and ASan's builds run in the background at nice 19
# during the tests and the checks that follow them, so the two cores stay busy. What CI runs
# (.ci/run): 1736 s on 2 cores of an AMD EPYC VM from a fresh clone of 56f6de9 (2026-12-07: build
# about 660 s, tests 199 s, deploy 47 s, soak 39 s, s3-interop 32 s, ui 36 s, then about 380 s
# waiting for the background builds, fuzzers 8 s, TSan 26 s, ASan 302 s), within the 30-minute
# budget with about 60 s to spare; it was 1974 s with every step in turn (docs/operations.md,
# "Fuzzing and sanitizers"). A fresh clone of 8c277ee took 1843 s (tests 212 s, ASan's tests
# 304 s): over the budget by 43 s, on a host whose runs vary by about 50 s. ASan's tests now run
# a process per test program instead of per test (scripts/sanitize.sh): 152 s instead of 304.
# TEST_QUICK=1 runs the tests only. The last line sums up; the exit status is non-zero if any
# step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
mkdir -p "${BUILD_DIR:-build}"
if [[ "${TEST_QUICK:-0}" != 1 ]]; then
  # The packages of the deploy, S3 interop and UI steps (Ceph, Chromium, docker-compose: mostly
  # downloads and dpkg's fsyncs) install while the build keeps the cores busy; installed during
  # those steps instead, beside the background build below, the three steps took 120 s longer.
  install_log=${BUILD_DIR:-build}/install-deps.log
  scripts/install-deps.sh deploy ceph browser >"$install_log" 2>&1 &
  installing=$!
fi
scripts/build.sh

results=()
status=0
step() {  # step NAME COMMAND...: runs every step, even after a failure, and records each outcome
  local name=$1 start=$SECONDS
  shift
  echo "== $name"
  if "$@"; then
    results+=("$name ok ($((SECONDS - start))s)")
  else
    results+=("$name FAILED ($((SECONDS - start))s)")
    status=1
  fi
}
step format scripts/check-format.sh
# Two tests per core: the suite waits on its servers (PostgreSQL, moto, Redis, the Pub/Sub
# emulator) and on fsyncs for much of its time, and uses 60 % of 2 cores at -j2 (200 s of CPU in
# 168 s); at -j4 it took 138 s. Not for the ASan run (scripts/sanitize.sh), where the checks make
# the tests CPU-bound: -j4 gained nothing there (270 s against 260 s at -j2, 2026-12-06).
tests() {
  ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(($(nproc) * 2))" --no-tests=error
}
if [[ "${TEST_QUICK:-0}" != 1 ]]; then
  wait "$installing" || echo "(installing the optional packages failed: $install_log; the steps install again)"
  # The fuzzers', TSan's and ASan's builds (nearly 1 000 s of CPU) run in the background at the
  # lowest priority while the steps below wait on their servers, disks and browser, which leave
  # a core idle for much of their time; each of the later steps builds again first (nothing left
  # to do when this build succeeded, the same error on screen when it failed).
  prebuild_log=${BUILD_DIR:-build}/prebuild.log
  { BUILD_ONLY=1 nice -n 19 scripts/fuzz.sh &&
      BUILD_ONLY=1 nice -n 19 scripts/sanitize.sh tsan asan; } >"$prebuild_log" 2>&1 &
  prebuild=$!
  step tests tests
  step deploy scripts/check-deploy.sh
  step soak env SOAK_SECONDS=30 scripts/soak.sh
  step s3-interop scripts/s3-interop.sh  # the S3 store on Ceph's RADOS Gateway (not in CTest)
  step ui scripts/ui-test.sh  # the dashboard in headless Chromium (not in CTest)
  wait "$prebuild" || echo "(the background build failed: $prebuild_log; the steps below build again)"
  step fuzzers scripts/fuzz.sh
  step tsan scripts/sanitize.sh tsan
  step asan scripts/sanitize.sh asan
else
  step tests tests
fi
summary=$(IFS=';'; echo "${results[*]}")
if ((status)); then
  echo "test.sh: FAILED: ${summary//;/, }"
else
  echo "test.sh: all passed: ${summary//;/, }"
fi
exit "$status"
