#!/bin/bash
# tests/bench/cc-net.sh - cluster controller data plane benchmark (issue 5,
# "Benchmark").  Not a pass/fail test: it prints figures and ratios.
#
# In one run it starts overcast-clc + overcast-walrus (for the CC's
# credentials) and overcast-cc in VNET_MODE=MANAGED-NOVLAN inside a network
# namespace this script makes (bridge, public veth), with 100 instances in
# 10 security groups (5 ingress rules each) placed on a stand-in node that
# answers the NC API without VMs: what is measured is the CC's path from an
# API call to its rule being live in the kernel, not instances.  Then:
#   overcast  ccAssignAddress -> returned (the CC syncs the data plane before
#             it answers: the DNAT rule is live then, checked with `nft list`
#             after each call, untimed); ccConfigureNetwork adding one rule
#             to a group -> returned (the same)
#   baseline  one `nft add rule` of the same DNAT rule (a process, like the
#             CC's alternative of shelling out), run inside the same
#             namespace against a table of the same size
# ROUNDS of each (default 30), medians.  Ends with
#   RATIO cc_eip_live_vs_nft <v> (info)
#   RATIO cc_sg_live_vs_nft <v> (info)
#   RATIO cc_rule_live_vs_nft <v> (target <= 2)     the slower of the two
# Environment: OVERCAST_BUILD, ROUNDS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
exec /usr/bin/python3 "$here/cc_net.py" "$@"
