#!/usr/bin/env bash
# Builds every libFuzzer target in tests/fuzz/ (fuzz_*.c) with clang
# (-fsanitize=fuzzer,address,undefined) and runs each for a bounded time on
# its seed corpus (tests/fuzz/corpus/<name>/, name = file name without
# "fuzz_").  New inputs found go to a scratch directory, not into git.
#   FUZZ_SECONDS   seconds per target (default 20)
#   FUZZ_OUT       build/scratch directory (default build/fuzz)
#   FUZZ_ONLY      run only these targets (names without "fuzz_", space-separated)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
secs=${FUZZ_SECONDS:-20}
out=${FUZZ_OUT:-$top/build/fuzz}
mkdir -p "$out"

command -v clang >/dev/null || { echo "FAIL: clang is not installed (apt-get install clang libclang-rt-14-dev)"; exit 1; }

# Everything but the programs' main() files (and overcast-admin, whose
# files call each other).
srcs=$(grep -L '^int main(' "$top"/common/*.c "$top"/walrus/*.c "$top"/clc/*.c \
           "$top"/euca-compat/*.c "$top"/nc/*.c "$top"/cc/*.c 2>/dev/null |
       grep -v -e '/euca-compat/admin[a-z_]*\.c$')
# libarchive for euca-compat/bundle.c, libvirt for nc/, libnftables and
# libnl for cc/ (linked into every target with the rest).
pkgs="libmicrohttpd libcurl libcrypto libxml-2.0 sqlite3 libarchive libvirt libnftables libnl-route-3.0 libnl-3.0 jansson"
cflags="-g -O1 -std=gnu11 -D_GNU_SOURCE -I$top $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -lz -lpthread"

# Compile the library once (instrumented for coverage but without a main).
mkdir -p "$out/obj"
objs=()
# Headers are not tracked per object: any header newer than an object
# rebuilds it (a changed struct must never meet stale code).
newest_h=$(ls -t "$top"/*/*.h | head -1)
for s in $srcs; do
    o="$out/obj/$(basename "$(dirname "$s")")_$(basename "$s" .c).o"
    if [ ! -f "$o" ] || [ "$s" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then
        clang $cflags -fsanitize=fuzzer-no-link,address,undefined -c "$s" -o "$o"
    fi
    objs+=("$o")
done

passed=0; failed=0
for t in "$here"/fuzz_*.c; do
    name=$(basename "$t" .c); name=${name#fuzz_}
    if [ -n "${FUZZ_ONLY:-}" ] && [[ " $FUZZ_ONLY " != *" $name "* ]]; then continue; fi
    bin="$out/fuzz_$name"
    clang $cflags -fsanitize=fuzzer,address,undefined "$t" "${objs[@]}" $libs -o "$bin"
    corpus="$here/corpus/$name"
    if [ ! -d "$corpus" ] || [ -z "$(ls -A "$corpus")" ]; then
        echo "FAIL fuzz_$name: no seed corpus in tests/fuzz/corpus/$name"
        failed=$((failed+1)); continue
    fi
    work="$out/work_$name"; rm -rf "$work"; mkdir -p "$work"
    echo "== fuzz_$name for ${secs}s"
    if (cd "$out" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 "$work" "$corpus" > "$out/fuzz_$name.log" 2>&1); then
        echo "ok   fuzz_$name ($(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$out/fuzz_$name.log" | grep -o '[0-9]*$') runs)"
        passed=$((passed+1))
    else
        echo "FAIL fuzz_$name: see $out/fuzz_$name.log"; tail -40 "$out/fuzz_$name.log"
        failed=$((failed+1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
