#!/usr/bin/env bash
# The newcomer's first command: install what is missing, build, and start the service on the
# embedded defaults (a folder as the object store, SQLite as the warehouse) on 127.0.0.1:8080.
# Extra arguments go to `buildtrace serve`, e.g. scripts/start.sh --port 9000. Builds only the
# `buildtrace` binary (a few minutes), not the tests (scripts/test.sh builds everything).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh buildtrace
exec build/buildtrace serve "$@"
