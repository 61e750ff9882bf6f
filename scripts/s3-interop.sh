#!/usr/bin/env bash
# Runs the S3 store's interop test (tests/interop/s3_rgw_interop_test) against Ceph's RADOS
# Gateway, a production S3 that nobody patched for us: installs Ceph if missing
# (scripts/install-deps.sh ceph), starts a one-node in-memory cluster (monitor, memstore OSD,
# radosgw) in a temporary folder on free loopback ports, creates an S3 user, and runs the test
# with the endpoint and keys in BUILDTRACE_INTEROP_S3_*. Arguments go to the test binary (e.g.
# --gtest_filter=...). Every process it starts is stopped on exit; on failure the tails of the
# cluster's logs are printed. The cluster starts in 20 to 35 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}

scripts/install-deps.sh ceph
BUILD_DIR=$build_dir scripts/build.sh s3_rgw_interop_test >/dev/null

root=$(mktemp -d /tmp/bt-rgw-XXXXXX)
pids=()
cluster=""

stop_cluster() {  # SIGTERM to every process started, SIGKILL to those alive after 10 s
  local pid deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}

print_logs() {
  local log
  [[ -n $cluster ]] || return 0
  for log in "$cluster"/log/*.log "$cluster"/*.out; do
    [[ -s $log ]] || continue
    echo "---- last lines of $log ----" >&2
    tail -n 25 "$log" >&2
  done
}

finish() {
  local status=$?
  stop_cluster
  ((status == 0)) || print_logs
  rm -rf "$root"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

# free_port (scripts/start_server.sh): the start is retried with new ports if another process
# takes one meanwhile.
source scripts/start_server.sh

# The first of 20 consecutive free loopback ports, for the daemons' messenger (ms_bind_port_*),
# below the kernel's ephemeral range, so that neither the ports of free_port nor the source
# ports of outgoing connections fall in it.
free_port_range() {
  python3 - <<'EOF'
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(100):
    base = random.randrange(10000, max(low, 10100) - 20)
    sockets = []
    try:
        for port in range(base, base + 20):
            s = socket.socket()
            s.bind(("127.0.0.1", port))
            sockets.append(s)
    except OSError:
        continue
    finally:
        for s in sockets:
            s.close()
    print(base)
    break
EOF
}

# until_ok SECONDS WHAT COMMAND...: runs COMMAND every 0.2 s until it succeeds; fails after
# SECONDS, or as soon as one of the cluster's processes has exited.
until_ok() {
  local deadline=$((SECONDS + $1)) what=$2 pid
  shift 2
  until "$@" >/dev/null 2>&1; do
    for pid in "${pids[@]}"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "s3-interop: a cluster process ($pid) exited while waiting for $what" >&2
        return 1
      fi
    done
    if ((SECONDS >= deadline)); then
      echo "s3-interop: no $what within $1 s" >&2
      return 1
    fi
    sleep 0.2
  done
}

osd_is_up() { ceph -c "$cluster/ceph.conf" --connect-timeout 5 osd stat | grep -q ' 1 up'; }
s3_answers() { curl -sf --max-time 5 -o /dev/null "http://127.0.0.1:$s3_port/"; }

# Starts the cluster in $cluster; fails if any step does (a port taken meanwhile, most likely).
start_cluster() {
  local fsid conf ports
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon_port=$(free_port)
  s3_port=$(free_port)
  ports=$(free_port_range)
  mkdir -p "$cluster"/{log,run,mon,osd/osd.0,rgw}
  conf=$cluster/ceph.conf
  cat >"$conf" <<EOF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$mon_port
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_bind_port_min = $ports
ms_bind_port_max = $((ports + 19))
public_addr = 127.0.0.1
ms_bind_ipv6 = false
ms_mon_client_mode = crc
ms_client_mode = crc
osd_objectstore = memstore
memstore_device_bytes = 1073741824
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_allow_pool_size_one = true
osd_crush_chooseleaf_type = 0
run_dir = $cluster/run
log_file = $cluster/log/\$name.log
admin_socket = $cluster/run/\$name.asok
pid_file = $cluster/run/\$name.pid
mon_data = $cluster/mon/\$name
osd_data = $cluster/osd/\$name
keyring = $cluster/keyring
[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$s3_port
rgw_data = $cluster/rgw
EOF
  local ceph=(ceph -c "$conf" --connect-timeout 5)
  # Called as an if condition, where errexit is off: every step says `|| return 1` itself.
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$cluster/monmap" \
    >"$cluster/monmaptool.out" || return 1
  ceph-mon -c "$conf" --mkfs -i a --monmap "$cluster/monmap" >"$cluster/mon-mkfs.out" 2>&1 ||
    return 1
  ceph-mon -c "$conf" -i a -f >"$cluster/mon.out" 2>&1 &
  pids+=($!)
  until_ok 60 "monitor" "${ceph[@]}" mon stat || return 1
  "${ceph[@]}" osd create >"$cluster/osd-create.out" 2>&1 || return 1
  ceph-osd -c "$conf" -i 0 --mkfs >"$cluster/osd-mkfs.out" 2>&1 || return 1
  {
    "${ceph[@]}" osd crush add-bucket localhost host &&
      "${ceph[@]}" osd crush move localhost root=default &&
      "${ceph[@]}" osd crush add osd.0 1.0 host=localhost
  } >"$cluster/crush.out" 2>&1 || return 1
  ceph-osd -c "$conf" -i 0 -f >"$cluster/osd.out" 2>&1 &
  pids+=($!)
  until_ok 90 "OSD up" osd_is_up || return 1
  radosgw -c "$conf" -n client.rgw.a -f >"$cluster/rgw.out" 2>&1 &
  pids+=($!)
  until_ok 120 "answer from radosgw on port $s3_port" s3_answers || return 1
}

start=$SECONDS
for attempt in 1 2 3; do
  cluster=$root/attempt$attempt
  if start_cluster; then break; fi
  echo "s3-interop: the cluster did not start (attempt $attempt)" >&2
  print_logs
  stop_cluster
  ((attempt < 3)) || exit 1
done
echo "s3-interop: RADOS Gateway on 127.0.0.1:$s3_port after $((SECONDS - start)) s" >&2

# The test's user: fixed keys are fine, the cluster lives for this run only. RGW allows a user
# 1000 buckets by default (moto: no limit) and the test makes one per test, so a few runs with
# --gtest_repeat would reach it: 0 is no limit. (The store itself never creates buckets.)
access_key=interop-access-key
secret_key=interop-secret-key
radosgw-admin -c "$cluster/ceph.conf" user create --uid=buildtrace --display-name=buildtrace \
  --access-key="$access_key" --secret="$secret_key" --max-buckets=0 \
  >"$cluster/user-create.out" 2>&1

test_start=$SECONDS
BUILDTRACE_INTEROP_S3_ENDPOINT=http://127.0.0.1:$s3_port \
  BUILDTRACE_INTEROP_S3_ACCESS_KEY_ID=$access_key \
  BUILDTRACE_INTEROP_S3_SECRET_ACCESS_KEY=$secret_key \
  timeout 300 "$build_dir/tests/interop/s3_rgw_interop_test" "$@"  # 300 s: CTest's bound
echo "s3-interop: tests passed in $((SECONDS - test_start)) s, $((SECONDS - start)) s in all" >&2
