#!/usr/bin/env bash
# The performance table of docs/PERFORMANCE.md, for this machine, in one command from a clean
# checkout: installs what is missing, builds Release into build-release/, generates the jobs
# under bench/data/, measures, and prints one table with each target and both sides' figures
# (progress goes to stderr). About 5 minutes on 2 cores after the build, most of it the original
# design's Python diff at 1M and 4M objects (bench/reference_diff.py).
# Usage: bench/run.sh            BENCH_TMPDIR=/some/disk bench/run.sh  (default: bench/data)
set -euo pipefail
cd "$(dirname "$0")/.."
export LC_ALL=C

log() { echo "run.sh: $*" >&2; }
die() { log "$*"; exit 1; }
source scripts/start_server.sh

data=bench/data
mkdir -p "$data"
work=$(mktemp -d "${BENCH_TMPDIR:-$PWD/$data}/run.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n $server_pid ]]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# wrk (C, epoll) drives the GET load: it costs the shared cores far less than a client of ours.
# nginx serves the 16-client figure's floor (static_floor, below).
scripts/install-deps.sh bench
log "building Release into build-release/ (the service and the benchmark programs)"
BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh buildtrace make_job_pair parse_floor \
  disk_limits load analysis_benchmark core_benchmark >"$work/build.log" 2>&1 ||
  { tail -40 "$work/build.log" >&2; die "the build failed (above)"; }
bin=build-release/buildtrace
tools=build-release/bench

log "generating 4 000 000-, 1 000 000- and 100 000-object job pairs under $data/"
m_prev=$data/1m-prev.json m_cur=$data/1m-cur.json m_shuf=$data/1m-cur-shuffled.json
k_prev=$data/100k-prev.json k_cur=$data/100k-cur.json
g_prev=$data/4m-prev.json g_cur=$data/4m-cur.json
"$tools/make_job_pair" 1000000 "$m_prev" "$m_cur"
"$tools/make_job_pair" 1000000 "$m_prev" "$m_shuf" --shuffle
"$tools/make_job_pair" 100000 "$k_prev" "$k_cur"
"$tools/make_job_pair" 4000000 "$g_prev" "$g_cur"

# --- helpers ---------------------------------------------------------------------------------
calc() { awk "BEGIN { printf \"$1\", $2 }"; }  # calc FORMAT EXPRESSIONS
ratio() {  # A B: "A/Bx", from two numbers or expressions
  [[ -n $1 && -n $2 ]] || { echo "n/a"; return; }
  awk "BEGIN { b = $2; if (b > 0) printf \"%.2fx\", ($1) / b; else printf \"n/a\" }"
}
mib() { calc "%.0f MiB" "$1 / 1024"; }  # KiB -> "N MiB"
field() {  # KEY "k=v k=v ...": the value of KEY
  awk -v k="$1=" '{ for (i = 1; i <= NF; i++) if (index($i, k) == 1) { print substr($i, length(k) + 1); exit } }' <<<"$2"
}
size_of() { stat -c %s "$1"; }
wrk_get() {  # URL CONNECTIONS THREADS [wrk options...]: wrk's percentiles as "p50_ms=.. p99_ms=.. requests=.."
  wrk -t"$3" -c"$2" -d3s --latency "${@:4}" "$1" | awk '
    function to_ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
      return v
    }
    $1 == "50%" { p50 = to_ms($2) }
    $1 == "99%" { p99 = to_ms($2) }
    / requests in / { n = $1 }
    /Non-2xx/ { errors = $NF }
    END { printf "p50_ms=%s p99_ms=%s requests=%s errors=%d\n", p50, p99, n, errors }'
}

# measure N CMD...: runs CMD N times (exit status 0 or 1 is success: `diff` says 1 when the jobs
# differ) and sets median_s (wall, from our own clock), peak_kib (largest peak RSS) and faults
# (minor page faults of the median run's neighbourhood: the smallest count seen).
measure() {
  local n=$1 times=() rss=() minor=() t0 t1 status
  shift
  for ((i = 0; i < n; i++)); do
    t0=$(date +%s%N)
    status=0
    /usr/bin/time -f '%R %M' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || status=$?
    t1=$(date +%s%N)
    ((status <= 1)) || { cat "$work/stderr" >&2; die "$* failed with status $status"; }
    times+=("$(((t1 - t0) / 1000))")
    read -r f m < <(tail -1 "$work/time")
    rss+=("$m") minor+=("$f")
  done
  median_s=$(calc "%.3f" "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((n + 1) / 2))p") / 1e6")
  peak_kib=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)
  faults=$(printf '%s\n' "${minor[@]}" | sort -n | head -1)
}

# median X...: the median of the numbers given.
median() { printf '%s\n' "$@" | sort -g | sed -n "$((($# + 1) / 2))p"; }

# versus_python PREV CUR ROUNDS: the original design against buildtrace diff on one pair,
# interleaved (each round runs the Python reference once, then the diff three times), so that both
# sides meet the same load on this shared machine, where a few seconds apart the same program may
# take 1.3x as long. Sets py_s (median of the rounds), py_kib (largest peak RSS), bt_s (median of
# the rounds' medians) and bt_kib (largest peak RSS).
versus_python() {
  local py=() bt=()
  py_kib=0 bt_kib=0
  for ((round = 0; round < $3; round++)); do
    measure 1 "$python" bench/reference_diff.py "$1" "$2"
    py+=("$median_s")
    py_kib=$((peak_kib > py_kib ? peak_kib : py_kib))
    measure 3 "$bin" diff "$1" "$2" --format json
    bt+=("$median_s")
    bt_kib=$((peak_kib > bt_kib ? peak_kib : bt_kib))
  done
  py_s=$(median "${py[@]}") bt_s=$(median "${bt[@]}")
}

# --- (1) and (2): buildtrace diff against the parse floor ------------------------------------
log "(1)+(2) buildtrace diff and the parse floor on the 1M pair, 5 runs each"
input_same=$(($(size_of "$m_prev") + $(size_of "$m_cur")))
input_shuf=$(($(size_of "$m_prev") + $(size_of "$m_shuf")))
measure 5 "$bin" diff "$m_prev" "$m_cur" --format json
diff_same=$median_s rss_same=$peak_kib
measure 5 "$bin" diff "$m_prev" "$m_shuf" --format json
diff_shuf=$median_s rss_shuf=$peak_kib
measure 5 "$tools/parse_floor" "$m_prev" "$m_cur"
floor_same=$median_s
measure 5 "$tools/parse_floor" "$m_prev" "$m_shuf"
floor_shuf=$median_s
measure 5 "$bin" diff "$k_prev" "$k_cur" --format json
diff_100k=$median_s
# The original design (bench/reference_diff.py: json.load, set-based diff, sentences).
python=$(command -v python3) || die "python3 is needed for the reference (bench/reference_diff.py)"
log "(1) the original design's diff in Python on the 1M pair against buildtrace diff, 5 rounds interleaved"
versus_python "$m_prev" "$m_cur" 5
python_same=$py_s python_rss=$py_kib diff_same_vs=$bt_s
log "(1) the 4M pair: buildtrace diff and the parse floor, 3 runs each; the Python reference, 3 rounds interleaved"
input_4m=$(($(size_of "$g_prev") + $(size_of "$g_cur")))
measure 3 "$bin" diff "$g_prev" "$g_cur" --format json
diff_4m=$median_s rss_4m=$peak_kib
measure 3 "$tools/parse_floor" "$g_prev" "$g_cur"
floor_4m=$median_s
versus_python "$g_prev" "$g_cur" 3
python_4m=$py_s diff_4m_vs=$bt_s
# What each technique buys (docs/PERFORMANCE.md): the same diff with huge pages off, with flat
# states parsed by simdjson like any other, with its inputs read from pipes instead of mapped,
# and, when BENCH_BASELINE names an older build of
# buildtrace, that build.
log "(6) the 1M diff without huge pages, without the flat-state scan, from pipes, and BENCH_BASELINE=${BENCH_BASELINE:-unset}"
measure 5 "$bin" diff "$m_prev" "$m_cur" --format json
t_all=$median_s rss_all=$peak_kib faults_all=$faults
measure 5 env BUILDTRACE_HUGE_PAGES=0 "$bin" diff "$m_prev" "$m_cur" --format json
t_nohuge=$median_s rss_nohuge=$peak_kib faults_nohuge=$faults
measure 5 env BUILDTRACE_FLAT_STATES=0 "$bin" diff "$m_prev" "$m_cur" --format json
t_noflat=$median_s rss_noflat=$peak_kib faults_noflat=$faults
measure 5 bash -c '"$0" diff <(cat "$1") <(cat "$2") --format json' "$bin" "$m_prev" "$m_cur"
t_pipe=$median_s rss_pipe=$peak_kib faults_pipe=$faults
if [[ -n ${BENCH_BASELINE:-} ]]; then
  measure 5 "$BENCH_BASELINE" diff "$m_prev" "$m_cur" --format json
  t_base=$median_s rss_base=$peak_kib faults_base=$faults
fi

# --- (3), (4), (5): the server, two identical rounds on fresh projects -----------------------
# Each round posts the same jobs under its own project names, so nothing is cached from round 1.
# Each round also measures the disk's own limits (bench/disk_limits), in the folder the server
# writes to, just before its POSTs: shared disks drift, so each ratio compares like with like.
with_project() {  # SRC PROJECT DST: the job in SRC, renamed into PROJECT
  sed '1s/"project":"bench"/"project":"'"$2"'"/' "$1" >"$3"
  head -c 200 "$3" | grep -q "\"project\":\"$2\"" || die "$1 does not start with project bench"
}
# (4)'s 1M POST: the median of this many requests a round (one request is one sample of a shared
# disk's mood).
large_posts=5
# (3)'s first 1M report: the median of this many, each on a project of its own (the first report
# of a pair is one request; one request is one sample of a shared machine's mood).
first_reports=3
for r in 1 2; do
  with_project "$k_prev" "r$r-report" "$work/r$r-100k-prev.json"
  with_project "$k_cur" "r$r-report" "$work/r$r-100k-cur.json"
  for i in $(seq "$large_posts"); do with_project "$m_prev" "r$r-large$i" "$work/r$r-1m-$i.json"; done
  for i in $(seq "$first_reports"); do
    with_project "$m_prev" "r$r-big$i" "$work/r$r-1m-prev-$i.json"
    with_project "$m_cur" "r$r-big$i" "$work/r$r-1m-cur-$i.json"
  done
  with_project "$m_prev" "r$r-gzip" "$work/r$r-1m-gzip.json"
  gzip -c "$work/r$r-1m-gzip.json" >"$work/r$r-1m.json.gz"
done

mkdir "$work/server"
# Without background analysis, so that (3)'s first GET /report computes the comparison (with
# workers it may find it kept already); bench/analysis_benchmark measures the analysis.
start_server "$work" "$bin" --data-dir "$work/server" --analysis-workers 0
vm() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$server_pid/status"; }  # KiB
declare -A R  # results by "round.name"
R[0.rss]=$(vm VmRSS)

post() {  # FILE [curl options...]: prints "HTTP_CODE SECONDS"
  local file=$1
  shift
  curl -sS -o "$work/answer" -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' \
    "$@" --data-binary "@$file" "$url/process"
}
expect_2xx() {  # WHAT "CODE SECONDS"
  [[ ${2%% *} == 2* ]] || { head -c 400 "$work/answer" >&2; echo >&2; die "$1 answered HTTP ${2%% *}"; }
}

# static_floor FILE [GZFILE]: wrk's percentiles with 16 clients for FILE's bytes served as a static
# file by nginx (sendfile, no application code): what this machine's cores and loopback allow for
# an answer of that size, the floor of the 16-client figure. With GZFILE, clients that send
# Accept-Encoding: gzip and nginx sending GZFILE's bytes (gzip_static), the floor of the gzip row.
static_floor() {
  local dir=$work/nginx port pid out user="" accept=()
  rm -rf "$dir" && mkdir -p "$dir/root" "$dir/tmp" && cp "$1" "$dir/root/answer"
  if [[ -n ${2:-} ]]; then
    cp "$2" "$dir/root/answer.gz"
    accept=(-H 'Accept-Encoding: gzip')
  fi
  port=$(free_port)
  (($(id -u) == 0)) && user="user root;"  # its workers read a folder only root may open
  cat >"$dir/nginx.conf" <<CONF
daemon off; worker_processes auto; $user pid $dir/nginx.pid; error_log $dir/error.log;
events { worker_connections 256; }
http {
  access_log off; sendfile on; tcp_nopush on; default_type application/json; gzip_static on;
  client_body_temp_path $dir/tmp; proxy_temp_path $dir/tmp; fastcgi_temp_path $dir/tmp;
  uwsgi_temp_path $dir/tmp; scgi_temp_path $dir/tmp;
  server { listen 127.0.0.1:$port; root $dir/root; }
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" 2>>"$dir/error.log" &
  pid=$!
  for _ in $(seq 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/answer" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/error.log" >&2; die "nginx did not start"; }
    sleep 0.1  # polling for nginx to listen, not synchronisation of a test
  done
  if ((${#accept[@]} > 0)); then  # nginx must send the gzip bytes, or the floor is the other one
    [[ $(curl -sS "${accept[@]}" -o /dev/null -w '%{size_download}' "http://127.0.0.1:$port/answer") == "$(size_of "$2")" ]] ||
      die "nginx did not send $2 to a client accepting gzip"
  fi
  out=$(wrk_get "http://127.0.0.1:$port/answer" 16 2 "${accept[@]}")
  kill -TERM "$pid" && wait "$pid" || true
  echo "$out"
}

server_round() {
  local r=$1 out
  log "round $r: (3) GET /report on the 100k pair"
  out=$(post "$work/r$r-100k-prev.json") || die "POST of 100k job 1 failed"
  expect_2xx "POST of 100k job 1" "$out"
  out=$(post "$work/r$r-100k-cur.json") || die "POST of 100k job 2 failed"
  expect_2xx "POST of 100k job 2" "$out"
  out=$(curl -sS -o "$work/answer" -w '%{http_code} %{time_total}' \
    "$url/report/2?project=r$r-report") || die "the first GET /report/2 failed"
  expect_2xx "the first GET /report/2" "$out"
  R[$r.first]=$(calc %.3f "${out#* }")
  # A comparison of 100 000 objects or more is kept just after its first answer (the report
  # service's keeper): the repeated-report figures start once it is, so that none of their
  # requests computes it again. Each try is a request, which answers whether it was kept.
  for ((try = 1; ; try++)); do
    curl -sS -o /dev/null -D "$work/headers" "$url/report/2?project=r$r-report" ||
      die "GET /report/2 failed"
    grep -qi '^BuildTrace-Analysis: precomputed' "$work/headers" && break
    ((try < 100)) || die "the 100k comparison was not kept after 100 requests"
  done
  R[$r.get1]=$(wrk_get "$url/report/2?project=r$r-report" 1 1)
  R[$r.get16]=$(wrk_get "$url/report/2?project=r$r-report" 16 2)
  # The same with limit=100: an answer a tenth the size, to tell serving from moving bytes.
  R[$r.get16small]=$(wrk_get "$url/report/2?project=r$r-report&limit=100" 16 2)
  curl -sS -o "$work/answer-100k" "$url/report/2?project=r$r-report"
  R[$r.size]=$(size_of "$work/answer-100k")
  R[$r.sizesmall]=$(curl -sS -o /dev/null -w '%{size_download}' \
    "$url/report/2?project=r$r-report&limit=100")
  R[$r.get16floor]=$(static_floor "$work/answer-100k")
  # The same answer to clients that take gzip (browsers, curl --compressed, Python's requests).
  curl -sS -H 'Accept-Encoding: gzip' -o "$work/answer-100k.gz" "$url/report/2?project=r$r-report"
  gunzip -c "$work/answer-100k.gz" | cmp -s - "$work/answer-100k" ||
    die "the gzip answer does not hold the answer's bytes"
  R[$r.sizegz]=$(size_of "$work/answer-100k.gz")
  R[$r.get16gz]=$(wrk_get "$url/report/2?project=r$r-report" 16 2 -H 'Accept-Encoding: gzip')
  R[$r.get16gzfloor]=$(static_floor "$work/answer-100k" "$work/answer-100k.gz")
  log "round $r: (3) the first GET /report on the 1M pair ($first_reports projects), and the server's peak RSS during them"
  for i in $(seq "$first_reports"); do
    for j in prev cur; do
      out=$(post "$work/r$r-1m-$j-$i.json") || die "POST of 1M job $j $i failed"
      expect_2xx "POST of 1M job $j $i" "$out"
    done
  done
  R[$r.before_big]=$(vm VmRSS)
  echo 5 >"/proc/$server_pid/clear_refs"  # resets VmHWM to the current RSS
  local firsts=()
  for i in $(seq "$first_reports"); do
    out=$(curl -sS -o "$work/answer" -w '%{http_code} %{time_total}' \
      "$url/report/2?project=r$r-big$i") || die "the first GET /report/2 on 1M failed"
    expect_2xx "the first GET /report/2 on 1M" "$out"
    firsts+=("${out#* }")
  done
  R[$r.first_big]=$(calc %.3f "$(median "${firsts[@]}")") R[$r.hwm_big]=$(vm VmHWM)
  log "round $r: (4) POST /process, small jobs and one 1M job"
  R[$r.small]=$("$tools/load" post-small "$url" --clients 4 --requests 200 --jobs-per-request 10 \
    --objects 100 --first-job-id 1 --project "r$r-small" --max-seconds 30)
  local large=()
  for i in $(seq "$large_posts"); do
    out=$(post "$work/r$r-1m-$i.json") || die "POST of the 1M job failed"
    expect_2xx "POST of the 1M job" "$out"
    large+=("${out#* }")
  done
  R[$r.large]=$(calc %.3f "$(median "${large[@]}")")
  out=$(post "$work/r$r-1m.json.gz" -H 'Content-Encoding: gzip') || out="transport-error 0"
  R[$r.gzip_code]=${out%% *} R[$r.gzip]=$(calc %.3f "${out#* }")
  R[$r.hwm]=$(vm VmHWM) R[$r.rss]=$(vm VmRSS)
  # The yardstick after the POSTs, not before: disk_limits deletes the thousands of files its
  # create cycles made, and for about 30 s ext4 then skips those inodes one by one whenever it
  # allocates one (recently_deleted: 35-40 % of the server's cycles in a small-job load started
  # right after it), which would charge its own clean-up to the POSTs measured against it.
  log "round $r: disk limits in $work"
  out=$("$tools/disk_limits" "$work")
  R[$r.creates]=$(field durable_creates_per_s "$out") R[$r.write]=$(field write_MB_per_s "$out")
}
server_round 1
server_round 2
kill -TERM "$server_pid"
wait "$server_pid" || log "the server exited with status $? on SIGTERM"
server_pid=""

# --- the table -------------------------------------------------------------------------------
log "done"
ms() { awk -v x="$1" 'BEGIN { printf(x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x) }'; }
lat() {  # "load output" -> "p50 A, p99 B ms, n=N", with errors when there were some
  local e
  e=$(field errors "$1")
  printf 'p50 %s, p99 %s ms, n=%s' "$(ms "$(field p50_ms "$1")")" "$(ms "$(field p99_ms "$1")")" \
    "$(field requests "$1")"
  ((e == 0)) || printf ', %s errors' "$e"
}
small_rate() { calc "%.0f jobs/s" "$(field jobs_per_s "$1")"; }
large_mb_s() { calc "%.1f" "$(size_of "$work/r1-1m-1.json") / 1e6 / $1"; }
gzip_cell() {  # ROUND
  local code=${R[$1.gzip_code]}
  if [[ $code == 2* ]]; then
    calc "%.1f MB/s (%.1f on the wire)" \
      "$(size_of "$work/r$1-1m-gzip.json") / 1e6 / ${R[$1.gzip]}, $(size_of "$work/r$1-1m.json.gz") / 1e6 / ${R[$1.gzip]}"
  else
    echo "gzip: not supported (HTTP $code)"
  fi
}
row() { printf '%-45s %-30s %-30s %-32s %-13s %s\n' "$@"; }

echo "BuildTrace bench/run.sh, $(date -u '+%Y-%m-%d %H:%M UTC'): $(nproc) cores" \
  "$(lscpu | sed -n 's/^Model name: *//p'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
  "$(uname -sr), $(c++ --version | head -1), Release"
echo "Data: bench/make_job_pair (10 % of objects change); 1M pair $(calc %.1f "$input_same / 1048576") MiB," \
  "100k pair $(calc %.1f "($(size_of "$k_prev") + $(size_of "$k_cur")) / 1048576") MiB." \
  "Server data and disk limits on $(df -T "$work" | awk 'NR == 2 { print $2 }') ($work)." \
  "Load: wrk for GET, bench/load (ours, Boost.Beast) for POST."
echo
row "figure" "round 1" "round 2" "compared with" "ratio" "target"
vs_floor() { row "$1" "$2 s" "" "(2) parse floor $3 s" "$(ratio "$2" "$3")" "$4"; }  # LABEL T FLOOR TARGET
vs_python() {  # LABEL T PYTHON: medians of rounds interleaved with the Python design's runs
  row "$1" "$2 s" "" "Python design $3 s" "$(ratio "$3" "$2") faster" ">= 40x"
}
vs_input() {  # LABEL PEAK_KIB INPUT_BYTES
  row "$1" "$(mib "$2")" "" "input $(calc "%.0f MiB" "$3 / 1048576")" "$(ratio "$2 * 1024" "$3")" "<= 1.5x"
}
vs_floor "(1) diff 1M same order, wall (median of 5)" "$diff_same" "$floor_same" "<= 2x"
vs_python "(1) diff 1M, vs the original (interleaved)" "$diff_same_vs" "$python_same"
vs_floor "(1) diff 1M shuffled, wall (median of 5)" "$diff_shuf" "$floor_shuf" "<= 4x"
vs_input "(1) diff 1M same order, peak RSS" "$rss_same" "$input_same"
vs_input "(1) diff 1M shuffled, peak RSS" "$rss_shuf" "$input_shuf"
vs_floor "(1) diff 4M, wall (median of 3)" "$diff_4m" "$floor_4m" "<= 2x"
vs_python "(1) diff 4M, vs the original (interleaved)" "$diff_4m_vs" "$python_4m"
vs_input "(1) diff 4M, peak RSS" "$rss_4m" "$input_4m"
row "(2) parse floor 1M, same / shuffled order" "$floor_same s / $floor_shuf s" "" \
  "simdjson On-Demand, mapped" "" ""
row "(2) Python design 1M, peak RSS" "$(mib "$python_rss")" "" \
  "input $(calc "%.0f MiB" "$input_same / 1048576")" "$(ratio "$python_rss * 1024" "$input_same")" ""
row "(3) GET /report 1M, first (median of $first_reports)" "${R[1.first_big]} s" "${R[2.first_big]} s" "diff 1M $diff_same s" \
  "$(ratio "${R[1.first_big]}" "$diff_same") / $(ratio "${R[2.first_big]}" "$diff_same")" "<= 1.2x"
row "(3) ... server peak RSS during it" "$(mib "${R[1.hwm_big]}")" "$(mib "${R[2.hwm_big]}")" \
  "states $(calc "%.0f MiB" "$input_same / 1048576") (+$(mib "${R[1.before_big]}") before)" \
  "$(ratio "(${R[1.hwm_big]} - ${R[1.before_big]}) * 1024" "$input_same") / $(ratio "(${R[2.hwm_big]} - ${R[2.before_big]}) * 1024" "$input_same")" "<= 2x"
row "(3) GET /report 100k, first request" "${R[1.first]} s" "${R[2.first]} s" "diff 100k $diff_100k s" \
  "$(ratio "${R[1.first]}" "$diff_100k")" "<= 1.2x"
row "(3) GET /report 100k again, 1 client" "$(lat "${R[1.get1]}")" "$(lat "${R[2.get1]}")" "" "" "p99 < 5 ms"
row "(3) GET /report 100k again, 16 clients" "$(lat "${R[1.get16]}")" "$(lat "${R[2.get16]}")" \
  "answer $(calc "%.0f KB" "${R[1.size]} / 1000")" "" "p99 < 5 ms"
row "(3) ... 16 clients, the same bytes by nginx" "$(lat "${R[1.get16floor]}")" \
  "$(lat "${R[2.get16floor]}")" "a static file: the floor" "" ""
row "(3) ... 16 clients, Accept-Encoding: gzip" "$(lat "${R[1.get16gz]}")" "$(lat "${R[2.get16gz]}")" \
  "answer $(calc "%.0f KB" "${R[1.sizegz]} / 1000") gzipped" "" "p99 < 5 ms"
row "(3) ... 16 clients, gzip bytes by nginx" "$(lat "${R[1.get16gzfloor]}")" \
  "$(lat "${R[2.get16gzfloor]}")" "gzip_static: the floor" "" ""
row "(3) ... 16 clients, limit=100" "$(lat "${R[1.get16small]}")" "$(lat "${R[2.get16small]}")" \
  "answer $(calc "%.0f KB" "${R[1.sizesmall]} / 1000")" "" "p99 < 5 ms"
row "(4) POST small jobs (100 obj, 10/req, 4 cl.)" "$(small_rate "${R[1.small]}")" \
  "$(small_rate "${R[2.small]}")" "$(calc "%.0f / %.0f" "${R[1.creates]}, ${R[2.creates]}") durable creates/s" \
  "$(ratio "$(field jobs_per_s "${R[1.small]}")" "${R[1.creates]}") / $(ratio "$(field jobs_per_s "${R[2.small]}")" "${R[2.creates]}")" \
  ">= 0.5x"
row "(4) POST small jobs, latency per request" "$(lat "${R[1.small]}")" "$(lat "${R[2.small]}")" "" "" ""
row "(4) POST one 1M job ($(calc "%.1f MB" "$(size_of "$work/r1-1m-1.json") / 1e6"), median of $large_posts)" \
  "$(large_mb_s "${R[1.large]}") MB/s (${R[1.large]} s)" "$(large_mb_s "${R[2.large]}") MB/s (${R[2.large]} s)" \
  "$(calc "%.0f / %.0f" "${R[1.write]}, ${R[2.write]}") MB/s write bandwidth" \
  "$(ratio "$(large_mb_s "${R[1.large]}")" "${R[1.write]}") / $(ratio "$(large_mb_s "${R[2.large]}")" "${R[2.write]}")" \
  ">= 0.3x"
row "(4) POST one 1M job, Content-Encoding: gzip" "$(gzip_cell 1)" "$(gzip_cell 2)" \
  "$(calc "%.1f MB gzipped" "$(size_of "$work/r1-1m.json.gz") / 1e6")" "" "accepted"
row "(5) server peak RSS (VmHWM) since start" "$(mib "${R[1.hwm]}")" "$(mib "${R[2.hwm]}")" \
  "" "" "bounded"
row "(5) server RSS (VmRSS) after the round" "$(mib "${R[1.rss]}")" "$(mib "${R[2.rss]}")" \
  "$(mib "${R[0.rss]}") at start, keep 160 MiB" "$(ratio "${R[2.rss]}" "${R[1.rss]}")" "<= start+160 MiB, no growth"

echo
row "(6) diff 1M same order, median of 5" "wall" "peak RSS" "minor page faults" "" ""
row "    as built (mapped, huge pages, packed)" "$t_all s" "$(mib "$rss_all")" "$faults_all" "" ""
row "    BUILDTRACE_HUGE_PAGES=0" "$t_nohuge s" "$(mib "$rss_nohuge")" "$faults_nohuge" \
  "$(ratio "$t_nohuge" "$t_all")" ""
row "    BUILDTRACE_FLAT_STATES=0 (simdjson walk)" "$t_noflat s" "$(mib "$rss_noflat")" \
  "$faults_noflat" "$(ratio "$t_noflat" "$t_all")" ""
row "    inputs from pipes (read, not mapped)" "$t_pipe s" "$(mib "$rss_pipe")" "$faults_pipe" \
  "$(ratio "$t_pipe" "$t_all")" ""
if [[ -n ${BENCH_BASELINE:-} ]]; then
  row "    BENCH_BASELINE" "$t_base s" "$(mib "$rss_base")" "$faults_base" \
    "$(ratio "$t_base" "$t_all")" ""
fi

# Background analysis and the job index (docs/PERFORMANCE.md, "Background analysis"): the first
# and the kept report and the jobs page at 1 000 / 10 000 / 100 000 jobs (flat: within 1.2x),
# and the time from POST to report ready under a steady small-job load.
log "analysis benchmark (about a minute, most of it storing 100 000 jobs)"
echo
BENCH_TMPDIR="$work" "$tools/analysis_benchmark"
