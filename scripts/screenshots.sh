#!/usr/bin/env bash
# Regenerates the README's screenshots of the dashboard (docs/screenshots/projects.png,
# project.png, job.png, signin.png): runs the browser tests (scripts/ui-test.sh, which starts and
# seeds its own servers from $BUILD_DIR/buildtrace) with UI_SCREENSHOTS=docs/screenshots; each
# page's test saves a full-page PNG of it once the page passed its checks. Arguments go to
# scripts/ui-test.sh. Fails when any test fails (a page that failed early keeps its old PNG).
set -euo pipefail
cd "$(dirname "$0")/.."
UI_SCREENSHOTS=docs/screenshots scripts/ui-test.sh "$@"
for name in projects project job signin; do
  [[ -s docs/screenshots/$name.png ]] || { echo "screenshots.sh: no docs/screenshots/$name.png" >&2; exit 1; }
done
echo "screenshots.sh: docs/screenshots/{projects,project,job,signin}.png regenerated" >&2
