#!/bin/bash
# tests/bench/fork.sh - MacroComponent fork against cold boot (issue 7,
# "Benchmark").  Not a pass/fail test: it prints figures and ratios.
#
# One run starts libvirtd (if none runs), the CLC, Walrus, one CC with its
# data plane in a network namespace and one NC (tests/integration/
# cloud_harness.py: loopback and test namespaces only), registers the test
# guest twice (an ordinary image and a MacroComponent one), warms both up
# (image cache filled, template built), and measures under TCG, through the
# public API (boto3 RunInstances), one at a time, ROUNDS each, alternating:
#   cold  RunInstances -> "GUEST-UP ip=" on the instance's console file
#   fork  RunInstances -> the fork's first console line after resume
# then memory, 10 instances of each, idle (5 s after each one's console
# shows "GUEST-UP ip=", forks and cold VMs alike):
#   guest RAM  PSS of the mapping that holds guest memory (the template's
#              RAM file, MAP_PRIVATE, for a fork; QEMU's anonymous RAM for
#              a cold VM), from /proc/<pid>/smaps
#   process    PSS of the whole QEMU process
#   host       MemAvailable before the 10 were started minus after
# Ends with
#   RATIO fork_vs_coldboot <v> (target <= 0.02)
#   RATIO fork_mem_vs_cold <v> (target <= 0.05)
#   RATIO fork_pss_vs_cold <v> (info)
#   RATIO fork_host_delta_vs_cold <v> (info)
# Environment: OVERCAST_BUILD (default build/dev), ROUNDS (default 5).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# The development build unless told otherwise.
export OVERCAST_BUILD=${OVERCAST_BUILD:-$(cd "$here/../.." && pwd)/build/dev}
exec /usr/bin/python3 "$here/fork.py" "$@"
