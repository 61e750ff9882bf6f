#!/usr/bin/env bash
# The first GET /report of many projects, for comparing builds side by side: for each round and
# each BINARY in turn (interleaved, so both see the same machine), starts `BINARY serve` with
# background analysis off on a fresh data folder, posts the same pair of generated jobs
# (make_job_pair) under PROJECTS projects, then asks each project's second job's report once,
# and prints the median and quartiles of those requests' time and the server's page faults per
# report. The figures of docs/PERFORMANCE.md's "kept parsers" row came from
#   bench/first_reports.sh /tmp/before/buildtrace build/buildtrace
# (a build from 2026-12-07 on is two files: copy buildtrace-full beside buildtrace.)
# Usage: bench/first_reports.sh BINARY [BINARY...]   (OBJECTS=100000 PROJECTS=20 ROUNDS=2)
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C
log() { echo "first_reports.sh: $*" >&2; }
die() { log "$*"; exit 1; }
source scripts/start_server.sh
(($#)) || die "usage: bench/first_reports.sh BINARY [BINARY...]"
objects=${OBJECTS:-100000}
projects=${PROJECTS:-20}
rounds=${ROUNDS:-2}
build_dir=${BUILD_DIR:-build}
[[ -x $build_dir/bench/make_job_pair ]] || scripts/build.sh make_job_pair >/dev/null

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$build_dir/bench/make_job_pair" "$objects" "$work/prev.json" "$work/cur.json"
for ((p = 0; p < projects; ++p)); do # the generated jobs' project is "bench"
  sed '1s/"project":"bench"/"project":"p'$p'"/' "$work/prev.json" >"$work/p$p-1.json"
  sed '1s/"project":"bench"/"project":"p'$p'"/' "$work/cur.json" >"$work/p$p-2.json"
done

for ((round = 1; round <= rounds; ++round)); do
  for binary in "$@"; do
    rm -rf "$work/data" && mkdir "$work/data"
    start_server "$work" "$binary" --data-dir "$work/data" --analysis-workers 0
    for ((p = 0; p < projects; ++p)); do
      for j in 1 2; do
        code=$(curl -sS -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
          --data-binary "@$work/p$p-$j.json" "$url/process")
        [[ $code == 202 ]] || die "POST of p$p job $j answered $code"
      done
    done
    faults_before=$(awk '{ print $10 }' "/proc/$server_pid/stat")
    for ((p = 0; p < projects; ++p)); do
      curl -sS -f -o /dev/null -w '%{time_total}\n' "$url/report/2?project=p$p"
    done | sort -n >"$work/times"
    faults_after=$(awk '{ print $10 }' "/proc/$server_pid/stat")
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=""
    awk -v round="$round" -v binary="$binary" -v faults=$((faults_after - faults_before)) '
      { t[NR] = $1 * 1000 }
      END { printf "round %d %s: first report median %.1f ms (quartiles %.1f-%.1f), %d page faults a report\n",
                   round, binary, t[int((NR + 1) / 2)], t[int((NR + 3) / 4)], t[int((3 * NR + 3) / 4)], faults / NR }' \
      "$work/times"
  done
done
