#!/usr/bin/env bash
# The one test command: installs what it needs, builds (dev and ASan/UBSan),
# and runs every suite.  Ends with "N passed, N failed" over all suites and
# exits non-zero if anything failed or could not run.
#   FUZZ_SECONDS   seconds per fuzz target (default 20)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
total_pass=0; total_fail=0
summary=()

bash scripts/deps.sh --test || { echo "FAIL: could not install dependencies"; echo "0 passed, 1 failed"; exit 1; }
for kind in dev asan; do
    if ! bash scripts/build.sh "$kind"; then
        echo "FAIL: $kind build"; echo "0 passed, 1 failed"; exit 1
    fi
done

# Runs one suite, echoing its output, and adds its closing "N passed, N failed".
suite() {
    local name=$1; shift
    local log; log=$(mktemp)
    echo "=== $name"
    "$@" 2>&1 | tee "$log"
    local rc=${PIPESTATUS[0]}
    local line; line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
    local p=0 f=0
    if [ -n "$line" ]; then
        p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or failed to run
    if [ -z "$line" ] && [ "$rc" -eq 0 ]; then f=1; echo "FAIL: $name printed no result line"; fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    summary+=("$name: $p passed, $f failed")
    rm -f "$log"
}

suite "unit (dev)" build/dev/tests/unit/unit-tests
suite "unit (asan+ubsan)" env ASAN_OPTIONS=detect_leaks=1 build/asan/tests/unit/unit-tests
suite "integration (asan daemon)" env OVERCAST_BUILD="$top/build/asan" bash tests/integration/run.sh
suite "fuzz" env FUZZ_OUT="$top/build/fuzz" bash tests/fuzz/run.sh

echo "=== summary"
printf '  %s\n' "${summary[@]}"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
