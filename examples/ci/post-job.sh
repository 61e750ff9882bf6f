#!/usr/bin/env bash
# Posts one CI pipeline's job to BuildTrace: the job's objects are the files of a build output
# folder, each by its SHA-256, so the report says which outputs the pipeline added, removed or
# changed since the last successful one. Needs bash, find, sha256sum, awk, gzip and curl.
#
#   examples/ci/post-job.sh OUTPUT_DIR JOB_ID [STARTED_MS]
#
# OUTPUT_DIR  the folder the build filled (e.g. dist)
# JOB_ID      a number that grows with each pipeline: $CI_PIPELINE_IID (GitLab),
#             $GITHUB_RUN_NUMBER (GitHub), $BUILD_NUMBER (Jenkins)
# STARTED_MS  when the build started, in ms since the epoch (date +%s%3N); the job's latency is
#             the time since then. Without it the latency is 0.
#
# Environment: BUILDTRACE_URL (the service, http:// or https://), BUILDTRACE_TOKEN (a token with
# the ingest scope, when the service checks tokens), BUILDTRACE_PROJECT (default: default).
# Prints the service's answer; exits non-zero when the job was not stored (curl --fail).
#
# The same in one line, with the buildtrace binaries instead of curl (plain http:// only; copy
# buildtrace and buildtrace-full side by side), once the job's JSON is in job.json:
#   buildtrace post job.json            # BUILDTRACE_URL, BUILDTRACE_TOKEN from the environment
set -euo pipefail

dir=${1:?usage: post-job.sh OUTPUT_DIR JOB_ID [STARTED_MS]}
job_id=${2:?usage: post-job.sh OUTPUT_DIR JOB_ID [STARTED_MS]}
started_ms=${3:-}
: "${BUILDTRACE_URL:?set BUILDTRACE_URL to the service, e.g. http://127.0.0.1:8080}"
project=${BUILDTRACE_PROJECT:-default}
latency_ms=0
if [[ -n "$started_ms" ]]; then latency_ms=$(($(date +%s%3N) - started_ms)); fi

# {"path/in/dir":"sha256:<hex>",...}, paths sorted; " and \ escaped for JSON.
state=$(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum |
  awk 'BEGIN { printf "{" }
       { hash = $1; path = substr($0, length($1) + 3); sub(/^\.\//, "", path)
         gsub(/\\/, "\\\\", path); gsub(/"/, "\\\"", path)
         printf "%s\"%s\":\"sha256:%s\"", (NR > 1 ? "," : ""), path, hash }
       END { printf "}" }')

printf '{"job_id":%s,"project":"%s","timestamp":"%s","latency_ms":%s,"state":%s}' \
  "$job_id" "$project" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$latency_ms" "$state" |
  gzip -c |
  curl -fsS --retry 3 -X POST "$BUILDTRACE_URL/process" \
    ${BUILDTRACE_TOKEN:+-H "Authorization: Bearer $BUILDTRACE_TOKEN"} \
    -H 'Content-Type: application/json' -H 'Content-Encoding: gzip' --data-binary @-
echo
