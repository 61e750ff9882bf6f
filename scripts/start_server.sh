# Sourced by bench/run.sh, scripts/soak.sh, scripts/ui-test.sh and scripts/s3-interop.sh (not run
# on its own).

# A loopback port that was free a moment ago (the kernel's choice for port 0), for a server that
# cannot be told to take port 0 itself; its caller retries or fails if another process takes it.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server WORK BINARY [SERVE_ARGS...]: starts `BINARY serve --port 0 SERVE_ARGS...` in the
# background, its standard output in WORK/serve.out and its log in WORK/serve.log, and waits for
# the line that names its address. Sets server_pid and url (http://HOST:PORT). Calls the caller's
# die (with the log) if the server exits first or prints no address within 10 s.
start_server() {
  local work=$1 binary=$2
  shift 2
  : >"$work/serve.out"  # so that the first look for the address never races the redirection
  "$binary" serve --port 0 "$@" >"$work/serve.out" 2>"$work/serve.log" &
  server_pid=$!
  url=""
  for _ in $(seq 100); do
    url=$(sed -n '1s|^buildtrace listening on \(http://[^ ]*\) .*|\1|p' "$work/serve.out")
    [[ -n $url ]] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; die "the server did not start"; }
    sleep 0.1  # polling for the address line, not synchronisation of a test
  done
  die "the server printed no address within 10 s"
}
