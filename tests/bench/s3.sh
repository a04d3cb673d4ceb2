#!/bin/bash
# tests/bench/s3.sh - S3 benchmark of overcast-walrus against baselines
# (issue 2, "Benchmark").  Not a pass/fail test: it prints figures and ratios.
#
# In one run, on loopback only, it starts:
#   overcast-walrus   the server under test (its own temporary home), with
#                     overcast-clc beside it for signature checks
#   s3rver            npm s3rver, baseline for PUT (and GET), own directory
#   nginx             static files (open_file_cache, sendfile, no access log):
#                     baseline for GET of the same bytes
#   mhd_hello         a trivial libmicrohttpd server: wrk's own ceiling
# and measures with wrk (keep-alive) on presigned URLs (SigV4, UNSIGNED-PAYLOAD
# for PUT, so no client signs per request):
#   4 KiB PUT ops/s   (wrk + put.lua cycling over 1000 presigned PUT URLs)
#   4 KiB GET ops/s   (wrk on one presigned GET URL; nginx on the same file)
#   64 MiB GET MB/s   (wrk, 2 connections)
#   64 MiB PUT MB/s   (curl -T of a presigned PUT URL, median of 5)
#   dd of 64 MiB with conv=fsync to the same filesystem: large-PUT baseline
#
# CPU placement: the machine has 2 cores.  By default every server runs on
# CPU 1 and wrk (one thread) on CPU 0, so client and server never steal each
# other's core and each server gets the same single core (nginx runs 1
# worker).  PIN=0 runs everything unpinned (wrk 2 threads, nginx 2 workers).
#
# Environment: OVERCAST_BUILD (build dir with walrus/overcast-walrus and
# clc/overcast-clc; default: the source tree, then
# /tmp/build-tests), DURATION (wrk seconds per run, default 10), CONNS
# (wrk connections for small requests, default 32), PIN (1/0),
# PERF_OUT (a file: perf record -g of overcast-walrus during the run PERF_RUN
# names: put or get, default put).
# Everything it starts is killed by PID on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
PIN=${PIN:-1}
WARMUP=2

die() { echo "s3.sh: $*" >&2; exit 1; }

for t in wrk nginx curl gcc node npm pkg-config dd taskset; do
    command -v "$t" >/dev/null || die "$t is required"
done
"$py" -c 'import boto3' 2>/dev/null || die "python3-boto3 is required"

build=""
for d in ${OVERCAST_BUILD:-} "$src" /tmp/build-tests; do
    if [ -x "$d/walrus/overcast-walrus" ]; then build=$d; break; fi
done
[ -n "$build" ] || die "overcast-walrus not built (set OVERCAST_BUILD)"
walrus=$build/walrus/overcast-walrus
clc=$build/clc/overcast-clc
if ldd "$walrus" | grep -q 'libasan\|libubsan'; then
    echo "WARNING: $walrus is a sanitizer build; figures will be low" >&2
fi

work=$(mktemp -d /tmp/overcast-bench.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$PIN" = 1 ]; then
    srv_pin=(taskset -c 1)
    cli_pin=(taskset -c 0)
    wrk_threads=1
    nginx_workers=1
    placement="servers on CPU 1, wrk (1 thread) on CPU 0"
else
    srv_pin=()
    cli_pin=()
    wrk_threads=2
    nginx_workers=2
    placement="unpinned (wrk 2 threads, nginx 2 workers)"
fi

free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {   # wait_port PORT PID NAME
    local i
    for i in $(seq 1 200); do
        if ! kill -0 "$2" 2>/dev/null; then
            die "$3 exited during start-up (see $work/$3.log)"
        fi
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    die "$3 not listening on port $1"
}

# ---- data: the same bytes for every server
mkdir -p "$work/www/bench" "$work/s3rver" "$work/home"
head -c 4096 /dev/urandom > "$work/www/bench/small"
head -c $((64 * 1024 * 1024)) /dev/urandom > "$work/www/bench/large"
small=$work/www/bench/small
large=$work/www/bench/large
# nginx workers run as an unprivileged user: they must be able to read these.
chmod 755 "$work" "$work/www" "$work/www/bench"
chmod 644 "$small" "$large"

# ---- load generator ceiling: mhd_hello
gcc -O2 -o "$work/mhd_hello" "$here/mhd_hello.c" $(pkg-config --cflags --libs libmicrohttpd) \
    || die "cannot build mhd_hello.c"
mhd_port=$(free_port)
"${srv_pin[@]}" "$work/mhd_hello" "$mhd_port" "$nginx_workers" > "$work/mhd_hello.log" 2>&1 &
pids+=($!)
wait_port "$mhd_port" $! mhd_hello

# ---- nginx
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<EOF
worker_processes $nginx_workers;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 10000000;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 60s;
    open_file_cache_min_uses 1;
    open_file_cache_errors on;
    default_type application/octet-stream;
    client_body_temp_path $work/nginx/body;
    server {
        listen 127.0.0.1:$nginx_port;
        root $work/www;
        location / { }
    }
}
EOF
"${srv_pin[@]}" nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" > "$work/nginx.log" 2>&1 &
pids+=($!)
wait_port "$nginx_port" $! nginx

# ---- s3rver (npm, installed into tests/bench/node_modules, gitignored)
if [ ! -x "$here/node_modules/.bin/s3rver" ]; then
    (cd "$here" && npm ci --no-audit --no-fund >/dev/null 2>&1) || die "npm ci for s3rver failed"
fi
s3rver_port=$(free_port)
"${srv_pin[@]}" node "$here/node_modules/s3rver/bin/s3rver.js" -d "$work/s3rver" \
    -a 127.0.0.1 -p "$s3rver_port" --silent --configure-bucket bench > "$work/s3rver.log" 2>&1 &
pids+=($!)
wait_port "$s3rver_port" $! s3rver
s3rver_ep=http://127.0.0.1:$s3rver_port
S3RVER_KEY=S3RVER      # s3rver's built-in credentials

# ---- overcast-clc (Walrus checks signatures through it; keys cached 30 s)
"$clc" --home "$work/home" bootstrap > "$work/bootstrap.log" 2>&1 || die "bootstrap failed"
clc_port=$(free_port)
"${srv_pin[@]}" "$clc" --home "$work/home" --port "$clc_port" --bind 127.0.0.1 \
    > "$work/clc.log" 2>&1 &
pids+=($!)
wait_port "$clc_port" $! clc

# ---- overcast-walrus
eval "$(grep -E '^(export )?AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)=' "$work/home/admin/eucarc" \
        | sed 's/^export //')"
ak=$AWS_ACCESS_KEY_ID
sk=$AWS_SECRET_ACCESS_KEY
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
walrus_port=$(free_port)
OVERCAST_CLC_URL=http://127.0.0.1:$clc_port "${srv_pin[@]}" "$walrus" --home "$work/home" \
    --port "$walrus_port" --bind 127.0.0.1 > "$work/walrus.log" 2>&1 &
walrus_pid=$!
pids+=($walrus_pid)
wait_port "$walrus_port" $walrus_pid walrus
walrus_ep=http://127.0.0.1:$walrus_port
"$py" "$here/presign.py" "$walrus_ep" "$ak" "$sk" mkbucket bench || die "create bucket failed"

presign() {  # presign ENDPOINT AK SK METHOD KEY
    "$py" "$here/presign.py" "$1" "$2" "$3" url "$4" bench "$5"
}
put_file() {  # put_file URL FILE: fails unless 200
    local code
    code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -T "$2" "$1")
    [ "$code" = 200 ] || die "PUT $2 -> $code"
}
for ep in walrus s3rver; do
    if [ $ep = walrus ]; then e=$walrus_ep; a=$ak; s=$sk; else e=$s3rver_ep; a=$S3RVER_KEY; s=$S3RVER_KEY; fi
    put_file "$(presign "$e" "$a" "$s" PUT small)" "$small"
    put_file "$(presign "$e" "$a" "$s" PUT large)" "$large"
done
w_get_small=$(presign "$walrus_ep" "$ak" "$sk" GET small)
w_get_large=$(presign "$walrus_ep" "$ak" "$sk" GET large)
w_put_large=$(presign "$walrus_ep" "$ak" "$sk" PUT large-put)
r_get_small=$(presign "$s3rver_ep" $S3RVER_KEY $S3RVER_KEY GET small)
r_get_large=$(presign "$s3rver_ep" $S3RVER_KEY $S3RVER_KEY GET large)
r_put_large=$(presign "$s3rver_ep" $S3RVER_KEY $S3RVER_KEY PUT large-put)
"$py" "$here/presign.py" "$walrus_ep" "$ak" "$sk" paths PUT bench small-put- 1000 \
    > "$work/walrus-put-paths"
"$py" "$here/presign.py" "$s3rver_ep" $S3RVER_KEY $S3RVER_KEY paths PUT bench small-put- 1000 \
    > "$work/s3rver-put-paths"
yes "/x" | head -1000 > "$work/mhd-put-paths"

# Every URL must really work before it is measured.
check_get() {  # check_get URL FILE
    curl -s --noproxy '*' "$1" | cmp -s - "$2" || die "GET $1 does not return $2"
}
check_get "$w_get_small" "$small"
check_get "$w_get_large" "$large"
check_get "$r_get_small" "$small"
check_get "$r_get_large" "$large"
check_get "http://127.0.0.1:$nginx_port/bench/small" "$small"
check_get "http://127.0.0.1:$nginx_port/bench/large" "$large"

# ---- measurement helpers
# run_wrk NAME CONNS URL [LUA PATHS_FILE]: prints requests/s; warns on errors.
run_wrk() {
    local name=$1 conns=$2 url=$3
    local args=(-t"$wrk_threads" -c"$conns" --timeout 10s)
    local tail=()
    if [ $# -ge 5 ]; then
        args+=(-s "$4")
        tail=(-- "$5")
    fi
    "${cli_pin[@]}" wrk "${args[@]}" -d"${WARMUP}s" "$url" "${tail[@]}" > /dev/null 2>&1
    "${cli_pin[@]}" wrk "${args[@]}" -d"${DURATION}s" "$url" "${tail[@]}" \
        > "$work/wrk-$name.txt" 2>&1
    local rps bad
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk-$name.txt")
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$work/wrk-$name.txt")
    if [ -z "$rps" ]; then
        cat "$work/wrk-$name.txt" >&2
        echo "s3.sh: wrk $name failed" >&2
        echo 0
        return
    fi
    if [ -n "$bad" ] && [ "$bad" -gt 0 ]; then
        echo "WARNING: $name: $bad non-2xx responses (figure invalid)" >&2
    fi
    if grep -q 'Socket errors' "$work/wrk-$name.txt"; then
        echo "NOTE: $name: $(grep 'Socket errors' "$work/wrk-$name.txt")" >&2
    fi
    echo "$rps"
}
# PERF_OUT: a CPU profile of overcast-walrus during one of its wrk runs.
perf_pid=""
perf_start() {  # perf_start THIS: profiles when THIS is the run PERF_RUN names
    [ -n "${PERF_OUT:-}" ] && [ "${PERF_RUN:-put}" = "$1" ] || return 0
    perf record -g -p "$walrus_pid" -o "$PERF_OUT" -- sleep "$((DURATION + WARMUP))" \
        > /dev/null 2>&1 &
    perf_pid=$!
}
perf_end() { if [ -n "$perf_pid" ]; then wait "$perf_pid"; perf_pid=""; fi; }
mbps() { awk -v r="$1" 'BEGIN {printf "%.1f", r * 64 * 1048576 / 1e6}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}'; }
# put_large_mbps URL: median MB/s of 5 sequential curl -T uploads of $large.
put_large_mbps() {
    local i t code out
    for i in 1 2 3 4 5; do
        out=$("${cli_pin[@]}" curl -s --noproxy '*' -o /dev/null -w '%{http_code} %{time_total}' \
              -T "$large" "$1")
        code=${out% *}
        t=${out#* }
        [ "$code" = 200 ] || die "large PUT -> $code"
        awk -v t="$t" 'BEGIN {printf "%.1f\n", 64 * 1048576 / 1e6 / t}'
    done | sort -n | sed -n 3p
}
dd_mbps() {
    local i
    for i in 1 2 3 4 5; do
        # Same filesystem as the object store; source bytes are in the page cache.
        dd if="$large" of="$work/home/dd.out" bs=1M conv=fsync 2>&1 \
            | awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") print $(i - 1)}' \
            | awk '{printf "%.1f\n", 64 * 1048576 / 1e6 / $1}'
        rm -f "$work/home/dd.out"
    done | sort -n | sed -n 3p
}

echo "overcast-walrus: $walrus"
echo "placement: $placement; wrk ${DURATION}s per run after ${WARMUP}s warm-up," \
     "$CONNS connections for 4 KiB, 2 for 64 MiB"
echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

echo "--- 4 KiB PUT (presigned SigV4, keep-alive)"
ceiling_put=$(run_wrk mhd-put "$CONNS" "http://127.0.0.1:$mhd_port" "$here/put.lua" "$work/mhd-put-paths")
echo "wrk ceiling (mhd_hello)     $ceiling_put req/s"
r_put=$(run_wrk s3rver-put "$CONNS" "$s3rver_ep" "$here/put.lua" "$work/s3rver-put-paths")
echo "s3rver                      $r_put PUT/s"
perf_start put
w_put=$(run_wrk walrus-put "$CONNS" "$walrus_ep" "$here/put.lua" "$work/walrus-put-paths")
perf_end
echo "overcast-walrus             $w_put PUT/s"
kill -0 $walrus_pid 2>/dev/null || die "overcast-walrus died (see $work/walrus.log)"
# The PUTs really stored put.lua's body.
for i in $(seq 1 256); do printf '0123456789abcdef'; done > "$work/put-body"
check_get "$(presign "$walrus_ep" "$ak" "$sk" GET small-put-0)" "$work/put-body"

echo "--- 4 KiB GET (presigned SigV4, keep-alive)"
ceiling_get=$(run_wrk mhd-get "$CONNS" "http://127.0.0.1:$mhd_port/")
echo "wrk ceiling (mhd_hello)     $ceiling_get req/s"
n_get=$(run_wrk nginx-get "$CONNS" "http://127.0.0.1:$nginx_port/bench/small")
echo "nginx                       $n_get GET/s"
r_get=$(run_wrk s3rver-get "$CONNS" "$r_get_small")
echo "s3rver                      $r_get GET/s"
perf_start get
w_get=$(run_wrk walrus-get "$CONNS" "$w_get_small")
perf_end
echo "overcast-walrus             $w_get GET/s"

echo "--- 64 MiB GET (2 connections)"
n_getl=$(mbps "$(run_wrk nginx-getl 2 "http://127.0.0.1:$nginx_port/bench/large")")
echo "nginx                       $n_getl MB/s"
r_getl=$(mbps "$(run_wrk s3rver-getl 2 "$r_get_large")")
echo "s3rver                      $r_getl MB/s"
w_getl=$(mbps "$(run_wrk walrus-getl 2 "$w_get_large")")
echo "overcast-walrus             $w_getl MB/s"

echo "--- 64 MiB PUT (curl -T, median of 5)"
dd_rate=$(dd_mbps)
echo "dd bs=1M conv=fsync         $dd_rate MB/s"
r_putl=$(put_large_mbps "$r_put_large")
echo "s3rver                      $r_putl MB/s"
w_putl=$(put_large_mbps "$w_put_large")
echo "overcast-walrus             $w_putl MB/s"
check_get "$(presign "$walrus_ep" "$ak" "$sk" GET large-put)" "$large"
# The large-PUT target.  A PUT must compute the MD5 of every byte for its
# ETag (one serial stream: it cannot be split over cores) and copy the
# bytes through a socket; dd does neither.  So the fair target is a share
# of what this CPU's MD5 allows: 0.8 x min(1, MD5 rate / dd rate).
md5_rate=$(openssl speed -evp md5 -bytes 1048576 -seconds 2 2>/dev/null \
           | awk '/^md5/ {sub(/k$/, "", $2); printf "%.1f", $2 * 1000 / 1e6}')
put_target=$(awk -v m="${md5_rate:-0}" -v d="$dd_rate" \
             'BEGIN {r = (d > 0) ? m / d : 1; if (r > 1) r = 1; printf "%.2f", 0.8 * r}')
echo "MD5 (openssl, 1 core)       $md5_rate MB/s  -> large-PUT target 0.8 x min(1, md5/dd)"
kill -0 $walrus_pid 2>/dev/null || die "overcast-walrus died (see $work/walrus.log)"

echo
echo "CEILING wrk_put $ceiling_put wrk_get $ceiling_get (req/s against mhd_hello; figures near it are client-bound)"
echo "INFO s3_get_small_vs_s3rver $(ratio "$w_get" "$r_get")"
echo "INFO s3_get_large_vs_s3rver $(ratio "$w_getl" "$r_getl")"
echo "INFO s3_put_large_vs_s3rver $(ratio "$w_putl" "$r_putl")"
echo "RATIO s3_put_vs_s3rver $(ratio "$w_put" "$r_put") (target >= 15)"
echo "RATIO s3_get_small_vs_nginx $(ratio "$w_get" "$n_get") (target >= 0.8)"
echo "RATIO s3_get_large_vs_nginx $(ratio "$w_getl" "$n_getl") (target >= 0.95)"
echo "RATIO s3_put_large_vs_dd $(ratio "$w_putl" "$dd_rate") (target >= $put_target)"
