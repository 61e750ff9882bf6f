#!/usr/bin/env bash
# Configures and builds BuildTrace into ./build (BUILD_TYPE=Release|Debug|RelWithDebInfo).
# With target names (e.g. scripts/build.sh buildtrace) builds only those and what they need;
# without, every target, tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
build_type=${BUILD_TYPE:-RelWithDebInfo}
build_dir=${BUILD_DIR:-build}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="$build_type" >/dev/null
fi
targets=()
(($#)) && targets=(--target "$@")
cmake --build "$build_dir" -j "$(nproc)" "${targets[@]}"
