#!/usr/bin/env bash
# The soak test: starts `buildtrace serve` on port 0 on a fresh data folder (embedded defaults:
# file store and SQLite), drives mixed traffic at it for SOAK_SECONDS with bench/soak (see the top
# of bench/soak.cc for the traffic and the checks), stops it with SIGTERM, and fails when any
# check failed, when the server did not exit 0, or when its log has an ERROR or WARNING line.
# Builds only `buildtrace` and `soak`, in BUILD_DIR (default build/, as scripts/test.sh leaves it:
# CI compiles nothing twice); a BUILD_DIR not configured yet is configured as Release.
# Usage: scripts/soak.sh       SOAK_SECONDS=600 scripts/soak.sh       SOAK_ARGS='--rate 300' ...
# The server's data goes to a new folder in SOAK_TMPDIR (default: BUILD_DIR), removed at the end
# unless SOAK_KEEP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

log() { echo "soak.sh: $*" >&2; }
die() { log "$*"; exit 1; }
source scripts/start_server.sh

seconds=${SOAK_SECONDS:-60}
build_dir=${BUILD_DIR:-build}
max_body=$((16 << 20))  # above the largest soak job (200k objects, about 8 MB), for the 413 cases

scripts/install-deps.sh
if [[ ! -f $build_dir/CMakeCache.txt ]]; then
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" >/dev/null
fi
if ! build_log=$(cmake --build "$build_dir" -j "$(nproc)" --target buildtrace soak 2>&1); then
  tail -40 <<<"$build_log" >&2
  die "the build of buildtrace and soak in $build_dir failed (above; is BUILDTRACE_BENCH off there?)"
fi
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[^=]*=//p' "$build_dir/CMakeCache.txt")

work=$(mktemp -d "$(realpath "${SOAK_TMPDIR:-$build_dir}")/soak.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -KILL "$server_pid" 2>/dev/null || true; wait "$server_pid" || true; fi
  if [[ ${SOAK_KEEP:-0} == 1 ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

mkdir "$work/data"
# Freed memory kept for reuse (--keep-memory) may fill during the run, as a cache does: the server
# keeps SOAK_KEEP_MEMORY_MIB (16 MiB: small, so a leak still shows) and the growth allowance
# grows by as much.
keep_mib=${SOAK_KEEP_MEMORY_MIB:-16}
start_server "$work" "$build_dir/buildtrace" --data-dir "$work/data" --max-body "$max_body" \
  --keep-memory "${keep_mib}MiB"

log "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $build_type" \
  "build in $build_dir; server $url (pid $server_pid), data in $work; $seconds s of traffic"
status=0
# shellcheck disable=SC2086  # SOAK_ARGS is a list of flags
"$build_dir/bench/soak" "$url" --server-pid "$server_pid" --seconds "$seconds" \
  --max-body "$max_body" --rss-growth-mib $((8 + keep_mib)) ${SOAK_ARGS:-} || status=$?

# The server's CPU time (user + system, in clock ticks) over its life, before it stops.
ticks=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat" 2>/dev/null || echo 0)
kill -TERM "$server_pid"
for _ in $(seq 300); do
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
exit_status=0
if kill -0 "$server_pid" 2>/dev/null; then
  log "the server did not exit within 30 s of SIGTERM"
  exit_status=timeout
else
  wait "$server_pid" || exit_status=$?
fi
server_pid=""
problems=$(grep -cE '^[^ ]+ (ERROR|WARNING) ' "$work/serve.log" || true)
log "server: exit status $exit_status after SIGTERM, $(awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { printf "%.1f", t / hz }') s of CPU, $problems ERROR/WARNING log lines," \
  "$(du -sh "$work/data" | cut -f1) of data"
if ((problems > 0)); then
  grep -E '^[^ ]+ (ERROR|WARNING) ' "$work/serve.log" | head -5 >&2
fi
if ((status != 0)) || [[ $exit_status != 0 ]] || ((problems > 0)); then
  log "FAILED (soak exit status $status, server exit status $exit_status, $problems log problems)"
  exit 1
fi
log "passed"
