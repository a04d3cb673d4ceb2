#!/bin/bash
# tests/bench/ec2.sh - EC2 Query API benchmark of overcast-clc (issue 3,
# "Benchmark").  Not a pass/fail test: it prints figures and ratios.
#
# In one run, on loopback only, it starts:
#   overcast-clc + overcast-walrus   the servers under test (own temporary home);
#                                    the account gets 20 security groups (each
#                                    with rules and a tag) and 20 images
#                                    registered from Walrus objects
#   mhd_hello                        a trivial libmicrohttpd server: the
#                                    baseline ("a libmicrohttpd hello-world")
# and measures requests/s with wrk (keep-alive, CONNS connections) replaying
# one SigV4-signed POST each (valid for the 15-minute skew window):
#   DescribeSecurityGroups (all 21 groups of the account, full XML)
#   DescribeImages (Owner=self: 20 images)
# Every replayed request is checked to answer 200 with the expected items
# before it is measured.
#
# Replaying one request makes every answer after the first come from the
# CLC's answer cache (clc/cache.h, valid until clc.db changes): that is the
# polling client's case, and RATIO ec2_describe_vs_mhd measures it.  The
# CLC is then restarted on the same home with CLC_DESCRIBE_CACHE=0 and the
# same requests measured again: RATIO ec2_describe_uncached_vs_mhd is the
# cost of building each answer from SQLite.
#
# CPU placement: servers on CPU 1, wrk (1 thread) on CPU 0 (PIN=0: unpinned).
# Environment: OVERCAST_BUILD, DURATION (default 10), CONNS (default 32), PIN,
# PERF_OUT (a file: perf record of the CLC during the DescribeSecurityGroups
# run PERF_RUN names, cached or uncached (default)).
# Everything it starts is killed by PID on exit.
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
PIN=${PIN:-1}
WARMUP=2

die() { echo "ec2.sh: $*" >&2; exit 1; }
for t in wrk curl gcc pkg-config taskset; do
    command -v "$t" >/dev/null || die "$t is required"
done
"$py" -c 'import boto3' 2>/dev/null || die "python3-boto3 is required"

build=""
for d in ${OVERCAST_BUILD:-} "$src" /tmp/build-tests; do
    if [ -x "$d/clc/overcast-clc" ]; then build=$d; break; fi
done
[ -n "$build" ] || die "overcast-clc not built (set OVERCAST_BUILD)"
clc=$build/clc/overcast-clc
walrus=$build/walrus/overcast-walrus
if ldd "$clc" | grep -q 'libasan\|libubsan'; then
    echo "WARNING: $clc is a sanitizer build; figures will be low" >&2
fi

work=$(mktemp -d /tmp/overcast-ec2bench.XXXXXX)
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$PIN" = 1 ]; then
    srv_pin=(taskset -c 1); cli_pin=(taskset -c 0); wrk_threads=1; mhd_threads=1
    placement="servers on CPU 1, wrk (1 thread) on CPU 0"
else
    srv_pin=(); cli_pin=(); wrk_threads=2; mhd_threads=2
    placement="unpinned (wrk 2 threads)"
fi

free_port() {
    "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {   # wait_port PORT PID NAME
    local i
    for i in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || die "$3 exited during start-up (see $work/$3.log)"
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    die "$3 not listening on port $1"
}

# ---- baseline
gcc -O2 -o "$work/mhd_hello" "$here/mhd_hello.c" $(pkg-config --cflags --libs libmicrohttpd) \
    || die "cannot build mhd_hello.c"
mhd_port=$(free_port)
"${srv_pin[@]}" "$work/mhd_hello" "$mhd_port" "$mhd_threads" > "$work/mhd_hello.log" 2>&1 &
pids+=($!)
wait_port "$mhd_port" $! mhd_hello

# ---- overcast
mkdir -p "$work/home"
"$clc" --home "$work/home" bootstrap > "$work/bootstrap.log" 2>&1 || die "bootstrap failed"
clc_port=$(free_port)
walrus_port=$(free_port)
start_clc() {  # start_clc LOGNAME [VAR=VALUE ...]
    local log=$1; shift
    env OVERCAST_WALRUS_URL=http://127.0.0.1:$walrus_port "$@" "${srv_pin[@]}" "$clc" \
        --home "$work/home" --port "$clc_port" --bind 127.0.0.1 > "$work/$log.log" 2>&1 &
    clc_pid=$!
    pids+=($clc_pid)
    wait_port "$clc_port" $clc_pid "$log"
}
start_clc clc
OVERCAST_CLC_URL=http://127.0.0.1:$clc_port "${srv_pin[@]}" "$walrus" --home "$work/home" \
    --port "$walrus_port" --bind 127.0.0.1 > "$work/walrus.log" 2>&1 &
pids+=($!)
wait_port "$walrus_port" $! walrus
eval "$(grep -E '^(export )?AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)=' "$work/home/admin/eucarc" \
        | sed 's/^export //')"
ak=$AWS_ACCESS_KEY_ID
sk=$AWS_SECRET_ACCESS_KEY
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
ec2_ep=http://127.0.0.1:$clc_port
s3_ep=http://127.0.0.1:$walrus_port

# The account's resources: 20 groups with rules and tags, 20 images.
"$py" - "$ec2_ep" "$s3_ep" "$ak" "$sk" <<'PY' || die "cannot create the benchmark's resources"
import sys, boto3
from botocore.config import Config
ec2_ep, s3_ep, ak, sk = sys.argv[1:5]
kw = dict(region_name="us-east-1", aws_access_key_id=ak, aws_secret_access_key=sk,
          config=Config(retries={"max_attempts": 1}))
ec2 = boto3.client("ec2", endpoint_url=ec2_ep, **kw)
s3 = boto3.client("s3", endpoint_url=s3_ep, **kw)
for i in range(20):
    g = ec2.create_security_group(GroupName="bench-%02d" % i, Description="bench group %d" % i)
    ec2.authorize_security_group_ingress(GroupId=g["GroupId"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "10.%d.0.0/16" % i}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 443,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ec2.create_tags(Resources=[g["GroupId"]], Tags=[{"Key": "Name", "Value": "bench%d" % i}])
s3.create_bucket(Bucket="bench-images")
for i in range(20):
    s3.put_object(Bucket="bench-images", Key="disk-%02d.img" % i, Body=b"\0" * 4096)
    ec2.register_image(ImageLocation="bench-images/disk-%02d.img" % i, Name="bench-%02d" % i,
                       Architecture="x86_64")
assert len(ec2.describe_security_groups()["SecurityGroups"]) == 21
assert len(ec2.describe_images(Owners=["self"])["Images"]) == 20
PY

"$py" "$here/ec2_sign.py" "$ec2_ep" "$ak" "$sk" DescribeSecurityGroups > "$work/dsg.lua"
"$py" "$here/ec2_sign.py" "$ec2_ep" "$ak" "$sk" DescribeImages Owner.1=self > "$work/dimg.lua"

# The replayed requests must really answer what they claim.
check_replay() {  # check_replay LUA EXPECTED_ITEMS ITEM_TAG
    "$py" - "$ec2_ep" "$1" "$2" "$3" <<'PY' || die "replayed request $1 does not work"
import re, sys, urllib.request
ep, lua, want, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
text = open(lua).read()
unq = lambda s: s.encode().decode("unicode_escape")
body = unq(re.search(r'wrk.body = "(.*)"', text).group(1))
hdrs = {unq(k): unq(v) for k, v in re.findall(r'wrk.headers\["(.*?)"\] = "(.*)"', text)}
req = urllib.request.Request(ep + "/", data=body.encode(), headers=hdrs, method="POST")
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
resp = opener.open(req, timeout=10).read().decode()
n = resp.count("<%s>" % tag)
if n != want:
    sys.exit("expected %d <%s> in the answer, got %d:\n%s" % (want, tag, n, resp[:2000]))
PY
}
check_replay "$work/dsg.lua" 21 ownerId
check_replay "$work/dimg.lua" 20 imageId

run_wrk() {  # run_wrk NAME URL [LUA]: prints requests/s
    local name=$1 url=$2
    local args=(-t"$wrk_threads" -c"$CONNS" --timeout 10s)
    [ $# -ge 3 ] && args+=(-s "$3")
    "${cli_pin[@]}" wrk "${args[@]}" -d"${WARMUP}s" "$url" > /dev/null 2>&1
    "${cli_pin[@]}" wrk "${args[@]}" -d"${DURATION}s" "$url" > "$work/wrk-$name.txt" 2>&1
    local rps bad
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk-$name.txt")
    bad=$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$work/wrk-$name.txt")
    if [ -z "$rps" ]; then
        cat "$work/wrk-$name.txt" >&2
        echo 0
        return
    fi
    if [ -n "$bad" ] && [ "$bad" -gt 0 ]; then
        echo "WARNING: $name: $bad non-2xx responses (figure invalid)" >&2
    fi
    echo "$rps"
}
# PERF_OUT: a CPU profile (perf record -g) of the CLC during the
# DescribeSecurityGroups run PERF_RUN names (cached or uncached).
perf_pid=""
perf_start() {  # perf_start WANTED THIS
    [ -n "${PERF_OUT:-}" ] && [ "$1" = "$2" ] || return 0
    perf record -g -p "$clc_pid" -o "$PERF_OUT" -- sleep "$((DURATION + WARMUP))" \
        > /dev/null 2>&1 &
    perf_pid=$!
}
perf_end() { if [ -n "$perf_pid" ]; then wait "$perf_pid"; perf_pid=""; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}'; }

echo "overcast-clc: $clc"
echo "placement: $placement; wrk ${DURATION}s per run after ${WARMUP}s warm-up, $CONNS connections"
echo "cores: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
mhd=$(run_wrk mhd "http://127.0.0.1:$mhd_port/")
echo "mhd_hello (4 KiB GET)             $mhd req/s"
perf_start "${PERF_RUN:-uncached}" cached
dsg=$(run_wrk dsg "$ec2_ep/" "$work/dsg.lua")
perf_end
echo "DescribeSecurityGroups (21)       $dsg req/s"
dimg=$(run_wrk dimg "$ec2_ep/" "$work/dimg.lua")
echo "DescribeImages Owner=self (20)    $dimg req/s"
kill -0 $clc_pid 2>/dev/null || die "overcast-clc died (see $work/clc.log)"

# ---- the same requests with the answer cache off
kill "$clc_pid"; wait "$clc_pid" 2>/dev/null
start_clc clc-nocache OVERCAST_CLC_DESCRIBE_CACHE=0
check_replay "$work/dsg.lua" 21 ownerId
check_replay "$work/dimg.lua" 20 imageId
perf_start "${PERF_RUN:-uncached}" uncached
dsg0=$(run_wrk dsg0 "$ec2_ep/" "$work/dsg.lua")
perf_end
echo "DescribeSecurityGroups, no cache  $dsg0 req/s"
dimg0=$(run_wrk dimg0 "$ec2_ep/" "$work/dimg.lua")
echo "DescribeImages, no cache          $dimg0 req/s"
kill -0 $clc_pid 2>/dev/null || die "overcast-clc died (see $work/clc-nocache.log)"
min() { awk -v a="$1" -v b="$2" 'BEGIN {print (a < b) ? a : b}'; }
echo
echo "INFO ec2_describe_security_groups_vs_mhd $(ratio "$dsg" "$mhd")"
echo "INFO ec2_describe_images_vs_mhd $(ratio "$dimg" "$mhd")"
echo "INFO ec2_describe_security_groups_uncached_vs_mhd $(ratio "$dsg0" "$mhd")"
echo "INFO ec2_describe_images_uncached_vs_mhd $(ratio "$dimg0" "$mhd")"
echo "RATIO ec2_describe_vs_mhd $(ratio "$(min "$dsg" "$dimg")" "$mhd") (target >= 0.5)"
echo "RATIO ec2_describe_uncached_vs_mhd $(ratio "$(min "$dsg0" "$dimg0")" "$mhd") (target >= 0.5)"
