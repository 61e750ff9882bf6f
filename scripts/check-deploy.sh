#!/usr/bin/env bash
# Validates the deploy files (Dockerfile, deploy/): a step of scripts/test.sh. Docker cannot run
# on the CI machines, so each file is checked with the tool that knows its format, and what a
# container would need is checked against the binary built natively by the same script:
# - Dockerfile: dockerfilelint and dockerfile-utils (npm) lint it; deploy/check/validate.mjs
#   checks its stages (build, then runtime, on debian:12-slim; a non-root USER, a HEALTHCHECK on
#   /healthz, SIGTERM) and lists each stage's packages. The buildtrace binary is built natively by
#   scripts/build.sh, as the build stage does; every header and library that build read (ninja's
#   deps log and link inputs) must come from the build stage's packages, their dependencies or
#   the base image's, and every shared library `ldd` finds in the binary from the runtime
#   stage's, so neither stage can lack one. Then the binary runs with the runtime stage's
#   environment, answers /healthz on 0.0.0.0 and exits 0 within 8 s of SIGTERM.
# - deploy/kubernetes/*.yaml and deploy/cloudrun/service.yaml: every object against its schema
#   (npm's kubernetes-models and @kubernetes-models/knative), plus probes, security contexts and
#   the references between objects (validate.mjs).
# - deploy/compose/docker-compose.yml: `docker-compose config` (Debian's docker-compose; no
#   daemon needed) with deploy/compose/example.env.
# - deploy/systemd/buildtrace.service: `systemd-analyze verify` with ExecStart pointed at the
#   built binary; any warning fails.
# Each check is also run on a broken copy, which must fail, so a check that stopped checking is
# seen. The npm packages are installed from deploy/check/package-lock.json into
# deploy/check/node_modules (about 20 s the first time). Exit status 0 when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

log() { echo "check-deploy.sh: $*" >&2; }
build_dir=${BUILD_DIR:-build}
binary=$build_dir/buildtrace
failures=0
fail() { log "FAILED: $*"; failures=$((failures + 1)); }

scripts/install-deps.sh deploy
[[ -x $binary && -x $build_dir/buildtrace-full ]] || scripts/build.sh buildtrace
if ! cmp -s deploy/check/package-lock.json deploy/check/node_modules/.installed-lock 2>/dev/null; then
  npm ci --prefix deploy/check --no-audit --no-fund --loglevel=error >&2
  cp deploy/check/package-lock.json deploy/check/node_modules/.installed-lock
fi
bin=deploy/check/node_modules/.bin
work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -KILL "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# expect_failure NAME PATTERN COMMAND...: the check, run on a broken copy, must fail, and say
# PATTERN (an extended regular expression), so that it failed for that fault and no other.
expect_failure() {
  local name=$1 pattern=$2
  shift 2
  if "$@" >"$work/negative.out" 2>&1; then
    fail "the check of $name passed a broken copy: $*"
  elif ! grep -qE "$pattern" "$work/negative.out"; then
    fail "the check of $name failed on a broken copy, but not with /$pattern/: $(head -c 600 "$work/negative.out")"
  fi
}

# --- Helpers ------------------------------------------------------------------------------------
# closure PACKAGES...: the packages of the Dependencies of PACKAGES and of apt (which
# debian:12-slim has, with what it depends on), recursively, one a line.
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" apt 2>/dev/null |
    sed -n 's/^\([a-z0-9][a-z0-9+.-]*\)\(:[a-z0-9]*\)\?$/\1/p' | sort -u
}
# files_covered WHAT PACKAGES... (paths on stdin): every path belongs to a package of the closure
# of PACKAGES; says which do not, and why. A file is found in dpkg's lists under its own name, its
# resolved name or its name with /usr/ added or taken away (Debian 12 merged /lib into /usr/lib,
# while dpkg still lists many files under /lib).
files_covered() {
  local what=$1
  shift
  local allowed=$work/allowed.txt paths=$work/paths.txt
  closure "$@" >"$allowed"
  sort -u >"$paths"
  [[ -s $paths ]] || { log "$what: no files to check"; return 1; }
  # path, then its candidate names, tab-separated
  xargs -d '\n' realpath -m <"$paths" | paste "$paths" "$paths" - >"$work/candidates.txt"
  awk -F'\t' -v what="$what" -v allowed="$allowed" -v candidates="$work/candidates.txt" '
    function variants(name, out) {  # name, with /usr added or taken away
      out[name] = 1
      if (substr(name, 1, 5) == "/usr/") out[substr(name, 5)] = 1; else out["/usr" name] = 1
    }
    BEGIN {
      while ((getline line < allowed) > 0) ok[line] = 1
      while ((getline line < candidates) > 0) {
        split(line, f, "\t"); n = split(f[2] "\t" f[3], names, "\t")
        order[++count] = f[1]
        for (i = 1; i <= n; i++) { delete v; variants(names[i], v); for (name in v) wanted[name] = wanted[name] SUBSEP f[1] }
      }
    }
    FNR == 1 { package = FILENAME; sub(/.*\//, "", package); sub(/\.list$/, "", package); sub(/:.*/, "", package) }
    ($0 in wanted) {
      k = split(wanted[$0], owners_of, SUBSEP)
      for (i = 2; i <= k; i++) if (!(owners_of[i] in owner)) owner[owners_of[i]] = package
    }
    END {
      bad = 0
      for (i = 1; i <= count; i++) {
        p = order[i]
        if (!(p in owner)) { print "check-deploy.sh: " what ": " p " belongs to no Debian package" > "/dev/stderr"; bad = 1 }
        else if (!(owner[p] in ok)) { print "check-deploy.sh: " what ": " p " comes from " owner[p] ", which the stage does not install" > "/dev/stderr"; bad = 1 }
      }
      exit bad
    }' /var/lib/dpkg/info/*.list
}
# The libraries ldd resolves for the two binaries (the front and the full one it runs): the
# runtime stage must provide each.
runtime_libraries() {
  ldd "$binary" "$build_dir/buildtrace-full" | sed -n 's/^[[:space:]]*[^ ]* => \(\/[^ ]*\) .*/\1/p'
}
# What the build of the binaries read from the system: every header (ninja's deps log of their
# objects) and every library they link. The build stage must provide each.
build_inputs() {
  local objects target
  for target in buildtrace buildtrace-full; do
    mapfile -t objects < <(ninja -C "$build_dir" -t inputs "$target" | grep '\.o$')
    ninja -C "$build_dir" -t deps "${objects[@]}" | sed -n 's/^    \(\/usr\/.*\)/\1/p'
    ninja -C "$build_dir" -t inputs "$target" | grep '^/usr/'
  done
}
stage_packages() { # stage_packages NAME: the packages stage NAME installs (validate.mjs)
  node deploy/check/validate.mjs dockerfile "${2:-Dockerfile}" "$1"
}
# --- Dockerfile ---------------------------------------------------------------------------------
lint_dockerfile() {
  "$bin/dockerfilelint" "$1" >"$work/dockerfilelint.out" 2>&1 || { cat "$work/dockerfilelint.out" >&2; return 1; }
  "$bin/dockerfile-utils" lint "$1" >&2
}
lint_dockerfile Dockerfile || fail "Dockerfile: the linters found problems (above)"
runtime_packages=$(stage_packages runtime) || fail "Dockerfile (above)"
build_packages=$(stage_packages build) || fail "Dockerfile (above)"
sed 's/^EXPOSE 8080$/EXPOSE http/' Dockerfile >"$work/Dockerfile.bad-expose"
expect_failure "dockerfilelint" "Invalid Port Exposed" "$bin/dockerfilelint" "$work/Dockerfile.bad-expose"
expect_failure "dockerfile-utils" "Invalid containerPort" "$bin/dockerfile-utils" lint "$work/Dockerfile.bad-expose"
sed 's/^USER 10001:10001$/USER root/' Dockerfile >"$work/Dockerfile.root"
expect_failure "Dockerfile stages" "non-root USER" stage_packages runtime "$work/Dockerfile.root"
sed 's|^COPY --from=build /out/buildtrace /out/buildtrace-full |COPY --from=build /out/buildtrace |' \
  Dockerfile >"$work/Dockerfile.one-binary"
expect_failure "Dockerfile stages" "must copy /out/buildtrace-full" stage_packages runtime \
  "$work/Dockerfile.one-binary"

# The packages exist in Debian 12; the build stage provides every header and library the native
# build of the binary used, the runtime stage every library the binary loads.
# shellcheck disable=SC2086 # one package a word
for p in $build_packages $runtime_packages; do
  apt-cache show "$p" >/dev/null 2>&1 || fail "Dockerfile: a stage installs $p, which Debian 12 does not have"
done
build_inputs >"$work/build-inputs.txt"
runtime_libraries >"$work/runtime-libraries.txt"
grep -q '/boost/' "$work/build-inputs.txt" || fail "ninja names no Boost header among the build's inputs"
grep -q '/libpq\.so' "$work/runtime-libraries.txt" || fail "ldd names no libpq among the binary's libraries"
# shellcheck disable=SC2086
files_covered "the build stage" $build_packages <"$work/build-inputs.txt" ||
  fail "Dockerfile: the build stage lacks what the native build used (above)"
# shellcheck disable=SC2086
files_covered "the runtime stage" $runtime_packages <"$work/runtime-libraries.txt" ||
  fail "Dockerfile: the runtime stage lacks libraries (above)"
# shellcheck disable=SC2086
expect_failure "the runtime libraries" "libpq.* comes from libpq5" files_covered "the runtime stage" \
  $(grep -vx libpq5 <<<"$runtime_packages") <"$work/runtime-libraries.txt"
# shellcheck disable=SC2086
expect_failure "the build's inputs" "boost.* comes from libboost1.81-dev" files_covered "the build stage" \
  $(grep -vx libboost1.81-dev <<<"$build_packages") <"$work/build-inputs.txt"


# The binary with the runtime stage's environment: listens on every interface (the image's
# BUILDTRACE_HOST), answers /healthz, and stops on SIGTERM within BUILDTRACE_SHUTDOWN_TIMEOUT.
image_env=()
while read -r assignment; do image_env+=("$assignment"); done < <(
  sed -n '/^FROM debian:12-slim AS runtime/,$p' Dockerfile | sed -n '/^ENV /,/[^\\]$/p' |
    tr ' \\' '\n\n' | grep -E '^[A-Z_]+=' | grep -v '^PORT=')
mkdir "$work/data"
binary_path=$(realpath "$binary")
(
  cd "$work" && exec env "${image_env[@]}" BUILDTRACE_DATA_DIR="$work/data" \
    BUILDTRACE_ALLOW_UNAUTHENTICATED=true "$binary_path" serve --port 0 >serve.out 2>serve.log
) &
server_pid=$!
url=""
for _ in $(seq 100); do
  url=$(sed -n '1s|^buildtrace listening on http://[^:]*:\([0-9]*\) .*|http://127.0.0.1:\1|p' "$work/serve.out" 2>/dev/null)
  [[ -n $url ]] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1 # polling for the address line, not synchronisation of a test
done
if [[ -z $url ]]; then
  fail "the binary with the image's environment (${image_env[*]}) did not start: $(tail -3 "$work/serve.log")"
else
  grep -q '^buildtrace listening on http://0\.0\.0\.0:' "$work/serve.out" ||
    fail "with the image's environment the server listens on $(head -1 "$work/serve.out"), not 0.0.0.0"
  health=$(curl -fsS "$url/healthz") || fail "GET /healthz with the image's environment failed"
  [[ ${health:-} == '{"status":"ok"}' ]] || fail "GET /healthz answered ${health:-nothing}"
  kill -TERM "$server_pid" 2>/dev/null || fail "the server died before SIGTERM: $(tail -3 "$work/serve.log")"
  stopped=0
  for _ in $(seq 80); do # the image's BUILDTRACE_SHUTDOWN_TIMEOUT, 8 s
    kill -0 "$server_pid" 2>/dev/null || { stopped=1; break; }
    sleep 0.1
  done
  if ((stopped)); then
    exit_status=0
    wait "$server_pid" || exit_status=$?
    ((exit_status == 0)) || fail "after SIGTERM the server exited with status $exit_status"
  else
    fail "the server did not stop within 8 s of SIGTERM"
  fi
  server_pid=""
fi

# --- Kubernetes and Cloud Run -------------------------------------------------------------------
manifests=(deploy/kubernetes/*.yaml deploy/cloudrun/service.yaml)
node deploy/check/validate.mjs manifests "${manifests[@]}" >&2 || fail "the manifests (above)"
# broken_manifests NAME FILE SED: the manifests with one fault, SED applied to FILE, in $work/NAME
broken_manifests() {
  mkdir "$work/$1"
  cp deploy/kubernetes/*.yaml "$work/$1/"
  sed -i "$3" "$work/$1/$2"
  expect_failure "the Kubernetes manifests ($1)" "$4" node deploy/check/validate.mjs manifests "$work/$1"/*.yaml
}
broken_manifests hpa-target hpa.yaml '/kind: Deployment/{n;s/name: buildtrace$/name: buildtrace-typo/}' \
  "scales Deployment buildtrace-typo"
broken_manifests readiness deployment.yaml 's|path: /readyz|path: /ready|' "readiness probe must ask /readyz"
broken_manifests root-fs worker.yaml 's/readOnlyRootFilesystem: true/readOnlyRootFilesystem: false/' \
  "buildtrace-worker.*readOnlyRootFilesystem"
broken_manifests port-type deployment.yaml 's/containerPort: 8080/containerPort: "8080"/' \
  "containerPort must be integer"
sed 's/containerConcurrency: 40/containerConcurrency: forty/' deploy/cloudrun/service.yaml >"$work/run.yaml"
expect_failure "the Cloud Run service" "containerConcurrency must be integer" node deploy/check/validate.mjs manifests "$work/run.yaml"

# --- Docker Compose -----------------------------------------------------------------------------
compose_config() {
  docker-compose --project-directory deploy/compose --env-file deploy/compose/example.env -f "$1" config -q
}
compose_config deploy/compose/docker-compose.yml || fail "deploy/compose/docker-compose.yml (above)"
sed 's/condition: service_healthy/condition: service_ready/' deploy/compose/docker-compose.yml \
  >"$work/compose.yml"
expect_failure "the compose file" "service_ready" compose_config "$work/compose.yml"

# --- systemd ------------------------------------------------------------------------------------
verify_unit() { # any line from systemd-analyze (an unknown key is only a warning to it) fails
  local unit=$1 out
  out=$(systemd-analyze verify "$unit" 2>&1) && [[ -z $out ]] || { echo "$out" >&2; return 1; }
}
sed "s|/usr/local/bin/buildtrace|$(realpath "$binary")|" deploy/systemd/buildtrace.service \
  >"$work/buildtrace.service"
verify_unit "$work/buildtrace.service" || fail "deploy/systemd/buildtrace.service (above)"
sed 's/^ProtectHome=yes$/ProtectHomes=yes/' "$work/buildtrace.service" >"$work/bad.service"
expect_failure "the systemd unit" "ProtectHomes" verify_unit "$work/bad.service"

if ((failures)); then
  log "$failures check(s) failed"
  exit 1
fi
log "Dockerfile (build stage against the native build, runtime stage against ldd), the image's environment," \
  "${#manifests[@]} manifests, the compose file and the systemd unit: all valid"
