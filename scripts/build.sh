#!/usr/bin/env bash
# Builds Overcast out of tree.
#   build.sh           build/dev  : -Wall -Wextra -Werror
#   build.sh asan      build/asan : the same plus ASan and UBSan
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-dev}
cd "$top"
if [ ! -x configure ] || [ configure.ac -nt configure ]; then
    autoreconf -fi >/dev/null 2>&1 || autoreconf -fi
fi
mkdir -p "build/$kind"
cd "build/$kind"
if [ ! -f Makefile ]; then
    case "$kind" in
        dev)  "$top/configure" -q ;;
        asan) "$top/configure" -q --enable-sanitizers ;;
        *) echo "build.sh: unknown build kind '$kind'" >&2; exit 2 ;;
    esac
fi
make -s -j"$(nproc)" all
make -s -j"$(nproc)" tests/unit/unit-tests
