#!/usr/bin/env bash
# Runs the dashboard's browser tests (tests/browser/dashboard.test.mjs) in headless Chromium: a
# step of scripts/test.sh, not in CTest. Installs what it needs (scripts/install-deps.sh browser:
# Debian's chromium, Node.js and npm; playwright-core from tests/browser/package-lock.json into
# tests/browser/node_modules with `npm ci`), starts two servers from $BUILD_DIR/buildtrace (default
# build) on free ports with their store and warehouse in a temporary folder: one open, one with
# --auth-tokens-file (a token with ingest,read on every project, and one with read on another
# project only). Both get the same data: `buildtrace simulate` (project demo, 12 jobs of 200
# objects, seed 7) and a hand-made project xss of two jobs whose object IDs are markup. Then
# `node --test tests/browser/` with the servers' URLs and tokens in BUILDTRACE_UI_*. Full-page
# screenshots go to $UI_SCREENSHOTS (default build/ui-screenshots; scripts/screenshots.sh
# regenerates docs/screenshots). Arguments go to `node --test` (e.g. --test-name-pattern=zoom).
# The servers are stopped on exit, and their logs printed on failure. Exit status 0 when every
# test passed.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

log() { echo "ui-test.sh: $*" >&2; }
die() { log "FAILED: $*"; exit 1; }
build_dir=${BUILD_DIR:-build}
binary=$build_dir/buildtrace
export UI_SCREENSHOTS=${UI_SCREENSHOTS:-build/ui-screenshots}

scripts/install-deps.sh browser
[[ -x /usr/lib/chromium/chromium ]] || die "no /usr/lib/chromium/chromium after installing chromium"
[[ -x $binary && -x $binary-full ]] || scripts/build.sh buildtrace
[[ -x $binary && -x $binary-full ]] || die "no server binaries at $binary and $binary-full"
if ! cmp -s tests/browser/package-lock.json tests/browser/node_modules/.installed-lock 2>/dev/null; then
  npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >&2 ||
    die "npm ci in tests/browser failed"
  cp tests/browser/package-lock.json tests/browser/node_modules/.installed-lock
fi

server_pid="" url=""  # set by start_server
# shellcheck source=scripts/start_server.sh disable=SC1091  # followed with shellcheck -x
source scripts/start_server.sh
work=$(mktemp -d /tmp/bt-ui-XXXXXX)
server_pids=()
status_on_exit() {
  local status=$? pid dir
  for pid in "${server_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((status != 0)); then
    for dir in "$work"/open "$work"/auth; do
      [[ -s $dir/serve.log ]] || continue
      echo "---- last lines of the $(basename "$dir") server's log ----" >&2
      tail -n 20 "$dir/serve.log" >&2
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap status_on_exit EXIT
trap 'exit 130' INT TERM

# The tokens: one for seeding and signing in (every project), one for another project only.
token=$(openssl rand -hex 32)
other_token=$(openssl rand -hex 32)
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
printf 'sha256:%s ingest,read\nsha256:%s read other\n' "$(hash "$token")" "$(hash "$other_token")" \
  >"$work/tokens"

# serve NAME [ARGS...]: a server with its store and warehouse in $work/NAME; sets url.
serve() {
  local name=$1
  shift
  mkdir -p "$work/$name"
  start_server "$work/$name" "$binary" --store "file://$work/$name/states" \
    --warehouse "sqlite://$work/$name/metrics.db" "$@"
  server_pids+=("$server_pid")
}
serve open
open_url=$url
serve auth --auth-tokens-file "$work/tokens"
auth_url=$url
log "servers: $open_url (open), $auth_url (access control)"

# The hand-made project: job 1 has the <img> ID, job 2 moves it and adds the <script> ID and one
# with quotes, so the second job's page lists and draws them as added and moved.
xss_jobs() {
  python3 - "$(date -u -d '-2 min' +%Y-%m-%dT%H:%M:%SZ)" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" <<'EOF'
import json, sys
img, script, quote = '"><img src=x onerror=alert(1)>', '<script>alert(1)</script>', "x' onfocus='alert(3)"
first = {"door_a": "door_10_20_5_5", img: "window_40_20_5_5", "wall_b": "wall_0_0_100_2"}
second = {"door_a": "door_10_20_5_5", img: "window_60_30_5_5", script: "door_30_20_5_5",
          quote: "beam_70_5_10_2"}
print(json.dumps([
    {"job_id": 1, "project": "xss", "timestamp": sys.argv[1], "latency_ms": 1200, "state": first,
     "metadata": {"branch": "<script>alert(2)</script>"}},
    {"job_id": 2, "project": "xss", "timestamp": sys.argv[2], "latency_ms": 1500, "state": second,
     "metadata": {"branch": "\"><img src=x onerror=alert(2)>"}},
]))
EOF
}
xss_jobs >"$work/xss.json"
# seed URL: the same data on each server (the token is ignored by the open one)
seed() {
  BUILDTRACE_TOKEN=$token "$binary" simulate --url "$1" --project demo --jobs 12 --objects 200 \
    --seed 7 >"$work/simulate.out" 2>&1 || { cat "$work/simulate.out" >&2; die "simulate on $1 failed"; }
  curl -fsS --max-time 10 -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    --data-binary @"$work/xss.json" "$1/process" >"$work/process.out" ||
    die "POST /process of the xss project to $1 failed: $(cat "$work/process.out")"
}
seed "$open_url"
seed "$auth_url"
log "seeded both servers: project demo (12 jobs), project xss (2 jobs)"

start=$SECONDS
if ! BUILDTRACE_UI_URL=$open_url BUILDTRACE_UI_AUTH_URL=$auth_url BUILDTRACE_UI_TOKEN=$token \
  BUILDTRACE_UI_OTHER_TOKEN=$other_token BUILDTRACE_UI_PROJECT=demo BUILDTRACE_UI_XSS_PROJECT=xss \
  timeout 600 node --test --test-concurrency=1 "$@" tests/browser/; then
  die "browser tests failed (above; screenshots of the pages that loaded in $UI_SCREENSHOTS)"
fi
log "browser tests passed in $((SECONDS - start)) s; screenshots in $UI_SCREENSHOTS"
