#!/bin/bash
# tests/bench/nc-launch.sh - node controller launch benchmark (issue 4,
# "Benchmark").  Not a pass/fail test: it prints figures and ratios.
#
# In one run, on loopback and a test bridge only (tests/integration/
# nc_harness.py makes and removes them), it starts libvirtd (if none runs),
# overcast-clc + overcast-walrus + overcast-nc with the test guest
# (tests/guest/) stored in Walrus, then measures, under TCG:
#   overcast  ncRunInstance -> "running" (ncDescribeInstances polled every
#             10 ms) and -> "GUEST-UP ip=" on the serial console (the
#             console file polled every 20 ms), image already cached (one
#             warm-up launch fills the cache), overlay creation included
#   baseline  `virsh create` of the same domain XML the NC generated (a
#             copy with another name, its own pre-made overlay and console
#             file) -> returned, and -> "GUEST-UP ip=" on its console
# one at a time (ROUNDS each, medians), then 4 overcast launches at once
# against 4 one after the other.  Ends with
#   RATIO nc_launch_vs_virsh <v> (target <= 1.1)          to GUEST-UP
#   RATIO nc_running_vs_virsh <v> (info)                  to running/returned
#   RATIO nc_launch4_concurrent_vs_sequential <v> (target <= 1)
# Environment: OVERCAST_BUILD (default build/dev), ROUNDS (default 5; the order alternates per round).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# The development build unless told otherwise.
export OVERCAST_BUILD=${OVERCAST_BUILD:-$(cd "$here/../.." && pwd)/build/dev}
exec /usr/bin/python3 "$here/nc_launch.py" "$@"
