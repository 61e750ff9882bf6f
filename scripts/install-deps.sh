#!/usr/bin/env bash
# Installs the Debian 12 packages BuildTrace needs to build, test, fuzz and benchmark.
# Idempotent: packages already present are skipped, so it is cheap to run every time. Optional
# groups of packages for one check each are named as arguments (below).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev      # Beast/Asio: HTTP server and client
  libsimdjson-dev       # On-Demand JSON parsing of job states
  libssl-dev            # SHA-256 (EVP)
  libsqlite3-dev        # the embedded metrics warehouse
  zlib1g-dev            # gzip request bodies (Content-Encoding: gzip)
  libcli11-dev          # command line
  libcurl4-openssl-dev  # S3, GCS and BigQuery over HTTPS (SigV4 signing)
  libpq-dev postgresql  # the PostgreSQL warehouse, and the server its tests start
  libhiredis-dev redis-server  # the Redis Streams analysis queue, and the server its tests start
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev  # fuzzers and sanitizer builds (scripts/fuzz.sh, sanitize.sh)
  lld                   # LLVM's linker, for every build (CMakeLists.txt: 2-3x faster links)
  clang-format          # the tree's formatting, checked by scripts/check-format.sh
  llvm-14               # llvm-symbolizer-14, which clang's sanitizers use to name file and line
  curl sqlite3 time
  prometheus            # promtool: e2e_metrics_test lints GET /metrics with `promtool check metrics`
)
# Optional groups, named as arguments: `deploy` for scripts/check-deploy.sh, `ceph` for
# scripts/s3-interop.sh, `browser` for scripts/ui-test.sh, `bench` for bench/run.sh.
for group in "$@"; do
  case $group in
    deploy)
      packages+=(docker-compose)  # `docker-compose config` checks deploy/compose without a daemon
      # Node.js and npm run the deploy files' validators (deploy/check); any Node.js 18 or later
      command -v npm >/dev/null || packages+=(nodejs npm)
      ;;
    # Ceph's monitor, OSD and RADOS Gateway, the real S3 server scripts/s3-interop.sh runs
    ceph) packages+=(ceph-mon ceph-osd radosgw) ;;
    browser)
      # Headless Chromium (/usr/lib/chromium/chromium), driven by playwright-core (tests/browser),
      # which cannot download browsers here; Node.js and npm run the tests, any Node.js 18 or later
      packages+=(chromium)
      command -v npm >/dev/null || packages+=(nodejs npm)
      ;;
    # wrk (C, epoll) drives the GET load; nginx serves the same answer's bytes as a static file,
    # the floor the 16-client figure is compared with
    bench) packages+=(wrk nginx-light) ;;
    *) echo "install-deps.sh: unknown group $group (known: deploy, ceph, browser, bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo apt-get update -q >/dev/null
  # prometheus's and nginx's packages start their servers (ports 9090 and 80) unless Debian's
  # policy-rc.d hook says no; only promtool, and nginx started by bench/run.sh on a port of its
  # own, are wanted, so deny daemon starts during this install where no policy exists.
  if [[ " ${missing[*]} " =~ " "(prometheus|nginx-light)" " && ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
