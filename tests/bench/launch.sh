#!/bin/bash
# tests/bench/launch.sh - instance launch through the whole cloud (issue 6,
# "Benchmark").  Not a pass/fail test: it prints figures and ratios.
#
# One run starts libvirtd (if none runs), the CLC, Walrus, one CC with its
# data plane in a network namespace and one NC (tests/integration/
# cloud_harness.py, loopback and test namespaces only), registers the test
# guest, and measures under TCG:
#   overcast  RunInstances (boto3) -> "running" in DescribeInstances (polled
#             every 10 ms by a SigV4 request signed once and sent again on a
#             keep-alive connection: boto3 polling costs a third of a core
#             in Python, which the QEMU being started needs), and ->
#             "GUEST-UP ip=" on the instance's console
#             file; image already cached (a warm-up launch fills the cache)
#   baseline  `virsh create` of the same domain XML the NC generated (a
#             copy with another name, overlay made beforehand) -> returned,
#             and -> "GUEST-UP ip=" on its console
# one at a time (ROUNDS each, alternating order, medians); then 10
# RunInstances at once (10 threads) until the last is running, against 10
# `virsh create` one after the other until the last returns.  Ends with
#   RATIO run_to_running_vs_virsh <v> (target <= 1.1)
#   RATIO run_to_guestup_vs_virsh <v> (info)
#   RATIO run10_concurrent_vs_sequential <v> (target <= 0.5)
# Environment: OVERCAST_BUILD (default build/dev), ROUNDS (default 5).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# The development build unless told otherwise.
export OVERCAST_BUILD=${OVERCAST_BUILD:-$(cd "$here/../.." && pwd)/build/dev}
exec /usr/bin/python3 "$here/launch.py" "$@"
