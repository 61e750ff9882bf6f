#!/usr/bin/env bash
# Times `buildtrace diff` on two generated jobs of N objects (default 1 000 000), in a Release
# build: median wall time and peak RSS of 5 runs, for same-order and shuffled inputs.
# Usage: bench/diff_1m.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
scripts/install-deps.sh
BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh >/dev/null
bin=build-release/buildtrace
data=bench/data
mkdir -p "$data"
build-release/bench/make_job_pair "$n" "$data/prev.json" "$data/cur.json"
build-release/bench/make_job_pair "$n" "$data/prev.json" "$data/cur-shuffled.json" --shuffle

measure() {  # prints "median_seconds peak_rss_kib" over 5 runs
  local times=() rss=()
  for _ in 1 2 3 4 5; do
    local out
    # diff exits 1 when the jobs differ, as they do here
    out=$( { /usr/bin/time -f '%e %M' "$bin" diff "$data/prev.json" "$1" --format json \
             >/dev/null || [[ $? -eq 1 ]]; } 2>&1 | tail -1)
    times+=("${out% *}")
    rss+=("${out#* }")
  done
  printf '%s %s\n' "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)" \
                   "$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)"
}

size=$(( $(stat -c %s "$data/prev.json") + $(stat -c %s "$data/cur.json") ))
echo "objects: $n, input: $((size / 1048576)) MiB (both files), machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
printf '%-12s %10s %14s %16s\n' order median_s peak_rss_MiB rss/input
for order in same shuffled; do
  file="$data/cur.json"; [[ $order == shuffled ]] && file="$data/cur-shuffled.json"
  read -r t kib < <(measure "$file")
  printf '%-12s %10s %14s %16s\n' "$order" "$t" "$((kib / 1024))" \
         "$(awk -v k="$kib" -v s="$size" 'BEGIN { printf "%.2f", k * 1024 / s }')"
done
