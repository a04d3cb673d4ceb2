#!/bin/bash
# Runs every integration suite against real overcast-walrus daemons:
#   1. the Python suite (awscli v2, boto3, s3cmd, curl) with pytest,
#   2. the AWS SDK for JavaScript v3 suite (node --test),
#   3. the crash test (kill -9 during PUTs, restart, verify),
# and ends with one line "N passed, N failed" summing all three.
#
# The daemon comes from $OVERCAST_BUILD (a build directory holding
# walrus/overcast-walrus and euca-compat/overcast-admin); without it the
# source tree and /tmp/build-tests are tried.  Missing tools are an error,
# never a skip.  Extra arguments go to pytest (e.g. -k multipart).
#
# Environment: CRASH_ROUNDS (default 4), CRASH_SEED, SKIP_CRASH=1, SKIP_JS=1.
set -u
export PYTHONDONTWRITEBYTECODE=1
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
out=$(mktemp -d /tmp/overcast-it-run.XXXXXX)
trap 'rm -rf "$out"' EXIT

fatal() { echo "run.sh: FATAL: $*" >&2; echo "0 passed, 1 failed"; exit 2; }

# Required tools: fail loudly.
for t in /usr/bin/aws /usr/bin/s3cmd /usr/bin/curl "$py"; do
    [ -x "$t" ] || fatal "$t is missing (apt-get install awscli s3cmd curl python3)"
done
/usr/bin/aws --version 2>&1 | grep -q '^aws-cli/2\.' || fatal "/usr/bin/aws is not awscli v2"
"$py" -c 'import boto3, botocore' 2>/dev/null || fatal "boto3 missing for $py (apt-get install python3-boto3)"
"$py" -c 'import pytest' 2>/dev/null || fatal "pytest missing for $py (apt-get install python3-pytest)"
if [ -z "${SKIP_JS:-}" ]; then
    command -v node >/dev/null || fatal "node is missing (apt-get install nodejs npm)"
    command -v npm >/dev/null || fatal "npm is missing"
fi
"$py" -c "import sys; sys.path.insert(0, '$here'); import walrus_harness as w; print('daemon:', w.build_dir())" \
    || fatal "no overcast-walrus build (set OVERCAST_BUILD)"

passed=0
failed=0
status=0

# ---- 1. pytest
echo "=== python suite (pytest) ==="
(cd "$here" && "$py" -m pytest -q -p no:cacheprovider --junitxml="$out/pytest.xml" "$@")
rc=$?
if [ -f "$out/pytest.xml" ]; then
    read -r p f < <("$py" - "$out/pytest.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = sum(int(s.get("tests", 0)) for s in suites)
bad = sum(int(s.get(k, 0)) for s in suites for k in ("failures", "errors", "skipped"))
print(t - bad, bad)
EOF
    )
    # A crash of pytest itself after writing the report still counts.
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
else
    p=0; f=1
fi
echo "python suite: $p passed, $f failed (pytest exit $rc)"
passed=$((passed + p)); failed=$((failed + f))
[ "$rc" -eq 0 ] || status=1

# ---- 2. node
if [ -z "${SKIP_JS:-}" ]; then
    echo "=== JavaScript suite (@aws-sdk/client-s3, node --test) ==="
    "$py" "$here/run_js.py" 2>&1 | tee "$out/node.log"
    rc=${PIPESTATUS[0]}
    p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$out/node.log" | tail -1)
    f=$(awk '/^# (fail|cancelled) [0-9]+$/ {n += $3} END {print n + 0}' "$out/node.log")
    p=${p:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # nothing ran is a failure
    echo "JavaScript suite: $p passed, $f failed (exit $rc)"
    passed=$((passed + p)); failed=$((failed + f))
    [ "$rc" -eq 0 ] || status=1
fi

# ---- 3. crash test
if [ -z "${SKIP_CRASH:-}" ]; then
    echo "=== crash test ==="
    seedarg=()
    [ -n "${CRASH_SEED:-}" ] && seedarg=(--seed "$CRASH_SEED")
    "$py" "$here/../crash/crash_test.py" --self-test --rounds "${CRASH_ROUNDS:-4}" "${seedarg[@]}"
    rc=$?
    if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || status=1
exit $status
