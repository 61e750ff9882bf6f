# BuildTrace's container image: `buildtrace serve` (the default) or `buildtrace worker`.
#
#   docker build -t buildtrace .
#   docker run --rm -p 8080:8080 -e BUILDTRACE_ALLOW_UNAUTHENTICATED=true buildtrace
#
# Two stages on Debian 12. "build" compiles the `buildtrace` binary only (no tests) with the
# project's own script; "runtime" holds the binary and the shared libraries it links, nothing
# else. scripts/check-deploy.sh (a step of scripts/test.sh) lints this file and checks that the
# runtime stage's package list covers every library `ldd` finds in the binary built natively by
# the same script, so a library added to the build cannot be forgotten here. See
# docs/operations.md, "Deploying".

FROM debian:12-slim AS build
# Build tools and -dev packages: scripts/install-deps.sh's list, less the test servers and tools.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       build-essential cmake ninja-build pkg-config libboost1.81-dev libsimdjson-dev libssl-dev \
       libsqlite3-dev zlib1g-dev libcli11-dev libcurl4-openssl-dev libpq-dev libhiredis-dev \
       libgtest-dev libgmock-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The whole tree less what .dockerignore leaves out (build folders, data, .git).
COPY . .
RUN BUILD_TYPE=Release BUILD_DIR=/out scripts/build.sh buildtrace \
    && strip /out/buildtrace /out/buildtrace-full

FROM debian:12-slim AS runtime
# The binary's shared libraries (scripts/check-deploy.sh keeps this list complete), CA
# certificates for HTTPS to S3, GCS, BigQuery and Pub/Sub, and curl for HEALTHCHECK.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       libsimdjson14 libssl3 libsqlite3-0 zlib1g libcurl4 libpq5 libhiredis0.14 \
       ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 buildtrace \
    && useradd --system --uid 10001 --gid 10001 --no-user-group --home-dir /var/lib/buildtrace \
       --shell /usr/sbin/nologin buildtrace \
    && install -d -o buildtrace -g buildtrace -m 0750 /var/lib/buildtrace
# The front binary and the full one it runs every command but `diff` with, side by side.
COPY --from=build /out/buildtrace /out/buildtrace-full /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/buildtrace
# Listen on every interface; Cloud Run's PORT is honoured (BUILDTRACE_PORT or --port win over it).
# Requests in flight get 8 s after SIGTERM: Cloud Run kills an instance 10 s after it.
ENV BUILDTRACE_HOST=0.0.0.0 \
    BUILDTRACE_DATA_DIR=/var/lib/buildtrace \
    BUILDTRACE_SHUTDOWN_TIMEOUT=8s \
    PORT=8080
EXPOSE 8080
VOLUME ["/var/lib/buildtrace"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s --retries=3 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${BUILDTRACE_PORT:-${PORT:-8080}}/healthz" || exit 1
ENTRYPOINT ["/usr/local/bin/buildtrace"]
CMD ["serve"]
