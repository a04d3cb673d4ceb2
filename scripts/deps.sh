#!/usr/bin/env bash
# Installs the Debian 12 packages Overcast needs (awscli too: the all-in-one
# uploads its test guest with it).  `deps.sh` installs what
# building and running need; `deps.sh --test` adds the test clients and tools.
# Packages already installed are not fetched again.
set -euo pipefail
pkgs=(build-essential autoconf automake libtool pkg-config
      libmicrohttpd-dev libcurl4-openssl-dev libssl-dev libxml2-dev libsqlite3-dev
      libvirt-dev zlib1g-dev libarchive-dev libnftables-dev libnl-route-3-dev libjansson-dev sqlite3 curl ca-certificates
      libvirt-daemon-system libvirt-clients qemu-system-x86 qemu-utils dnsmasq-base nftables iproute2
      awscli)
if [ "${1:-}" = "--test" ]; then
    pkgs+=(clang libclang-rt-14-dev python3-boto3 python3-boto python3-pytest python3-requests
           s3cmd wrk nginx-light dnsmasq-base iproute2 chromium fonts-liberation)
    command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
