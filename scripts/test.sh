#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, conformance and end-to-end) with CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure -j "$(nproc)"
