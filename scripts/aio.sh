#!/usr/bin/env bash
# The all-in-one cloud on this host.
#
#   scripts/aio.sh [start]   install what is needed, build, start everything
#   scripts/aio.sh stop      stop everything, remove the namespaces, bridges
#                            and the nft table it made
#   scripts/aio.sh status    which daemons run
#
# start: installs the Debian packages (scripts/deps.sh), builds, starts
# libvirtd if it is not running, prepares $OVERCAST_HOME (default
# /var/lib/overcast), bootstraps the `eucalyptus` admin account and the
# component credentials, and starts Walrus, the CLC, one CC (zone
# ${REGION}a) and one NC in the background (logs and pid files in
# $OVERCAST_HOME/log and $OVERCAST_HOME/run).  The cluster's data plane
# (MANAGED-NOVLAN: bridge, dnsmasq, nftables, the metadata redirect) lives
# in the network namespace "overcast"; the NC's VMs plug into the host
# bridge "ocnode0", joined to the namespace's bridge by a veth.  Elastic
# IPs (192.0.2.10-50, a documentation range) arrive from a second
# namespace, "overcast-out", that plays the outside world.  Nothing on the
# host's own interfaces, addresses or routes changes.  Then it builds the
# test guest (tests/guest/build.sh) and registers it, through Walrus, as a
# kernel, a ramdisk and a machine image, like any user would, and prints
# what to type next.  Running it again is safe: what runs is left alone,
# what exists is kept.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export OVERCAST_HOME=${OVERCAST_HOME:-/var/lib/overcast}
H=$OVERCAST_HOME
NS=overcast
NS_OUT=overcast-out
bin="$top/build/dev"
cmd=${1:-start}

log() { echo "aio: $*"; }
die() { echo "aio: ERROR: $*" >&2; exit 1; }

pidof_daemon() {   # the pid of a daemon we started, if it still runs
    local f="$H/run/$1.pid" p
    [ -f "$f" ] || return 1
    p=$(cat "$f")
    [ -n "$p" ] && [ -d "/proc/$p" ] && grep -q "overcast-$1" "/proc/$p/cmdline" 2>/dev/null \
        && echo "$p"
}

stop_daemon() {
    local p
    if p=$(pidof_daemon "$1"); then
        kill -TERM "$p"
        for _ in $(seq 1 100); do [ -d "/proc/$p" ] || break; sleep 0.1; done
        [ -d "/proc/$p" ] && kill -KILL "$p"
        log "stopped overcast-$1 ($p)"
    fi
    rm -f "$H/run/$1.pid"
}

net_down() {
    ip link del ocvh0 2>/dev/null || true
    ip link del ocnode0 2>/dev/null || true
    # Deleting a namespace deletes what is inside it: the CC's bridge, the
    # veth ends and its nft table.
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "$NS_OUT" 2>/dev/null || true
}

case "$cmd" in
stop)
    # The NC first (its VMs keep running: terminate instances before
    # stopping if you want them gone), then the CC (it removes its table
    # and stops dnsmasq), the CLC and Walrus.
    for d in nc cc clc walrus; do stop_daemon "$d"; done
    net_down
    exit 0
    ;;
status)
    for d in walrus clc cc nc; do
        if p=$(pidof_daemon "$d"); then echo "overcast-$d running ($p)"; else echo "overcast-$d stopped"; fi
    done
    exit 0
    ;;
start) ;;
*) die "usage: $0 [start|stop|status]" ;;
esac

[ "$(id -u)" = 0 ] || die "run as root (it manages libvirt, namespaces and nftables)"
bash "$top/scripts/deps.sh"
bash "$top/scripts/build.sh" dev >/dev/null
mkdir -p "$H/etc" "$H/log" "$H/run"
chmod 0700 "$H"

region=us-east-1
zone=${region}a
if [ ! -f "$H/etc/overcast.conf" ]; then
    install -m 0644 "$top/etc/overcast.conf" "$H/etc/overcast.conf"
    cat >> "$H/etc/overcast.conf" <<CONF

# ---- written by scripts/aio.sh: everything on this host ----
CC_NAME="$zone"
CC_URL="http://127.0.0.1:8774"
CC_EVENT_URL="http://127.0.0.1:8773"
CC_METADATA_URL="http://127.0.0.1:8773"
VNET_MODE="MANAGED-NOVLAN"
VNET_NETNS="$NS"
VNET_BRIDGE="ocbr0"
VNET_PUBINTERFACE="ocpub0"
VNET_PUBLICIPS="192.0.2.10-192.0.2.50"
VNET_METADATA_IP="10.101.0.1"
NC_NAME="node1"
NC_BRIDGE="ocnode0"
CONF
    log "wrote $H/etc/overcast.conf"
fi

# libvirtd (and virtlogd, which QEMU's console logs go through): use the
# running ones, else start them.
if [ ! -S /run/libvirt/virtlogd-sock ]; then
    if command -v systemctl >/dev/null && systemctl start virtlogd 2>/dev/null; then :;
    else virtlogd -d; fi
fi
if ! virsh -c qemu:///system version >/dev/null 2>&1; then
    if command -v systemctl >/dev/null && systemctl start libvirtd 2>/dev/null; then :;
    else libvirtd -d; fi
    for _ in $(seq 1 50); do virsh -c qemu:///system version >/dev/null 2>&1 && break; sleep 0.2; done
    virsh -c qemu:///system version >/dev/null 2>&1 || die "libvirtd does not answer"
fi

# The network: namespace, bridges, veths (kept when they exist).
if ! ip netns list | grep -qw "^$NS"; then
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip -n "$NS" link add ocbr0 type bridge
    ip link add ocnode0 type bridge
    ip link set ocnode0 up
    ip link add ocvh0 type veth peer name ocvc0
    ip link set ocvh0 master ocnode0 up
    ip link set ocvc0 netns "$NS"
    ip -n "$NS" link set ocvc0 master ocbr0 up
    ip netns add "$NS_OUT"
    ip -n "$NS_OUT" link set lo up
    ip link add ocpub0 type veth peer name ocout0
    ip link set ocpub0 netns "$NS"
    ip link set ocout0 netns "$NS_OUT"
    ip -n "$NS" addr add 192.0.2.1/24 dev ocpub0
    ip -n "$NS" link set ocpub0 up
    ip -n "$NS_OUT" addr add 192.0.2.2/24 dev ocout0
    ip -n "$NS_OUT" link set ocout0 up
    log "network namespaces $NS and $NS_OUT, bridges ocbr0 (in $NS) and ocnode0"
fi

eucarc=$("$bin/clc/overcast-clc" --home "$H" bootstrap)
"$bin/clc/overcast-clc" --home "$H" register-cluster "$zone" 127.0.0.1 8774 >/dev/null

start_daemon() {   # name, port
    local p
    if p=$(pidof_daemon "$1"); then log "overcast-$1 already running ($p)"; return; fi
    setsid "$bin/$1/overcast-$1" --home "$H" >>"$H/log/$1.log" 2>&1 < /dev/null &
    echo $! > "$H/run/$1.pid"
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$2") 2>/dev/null && { log "overcast-$1 on port $2"; return; }
        [ -d "/proc/$(cat "$H/run/$1.pid")" ] || break
        sleep 0.1
    done
    tail -20 "$H/log/$1.log" >&2
    die "overcast-$1 did not start (log: $H/log/$1.log)"
}
start_daemon clc 8773
start_daemon walrus 8780
start_daemon cc 8774
start_daemon nc 8775

# The node joins its cluster, through the admin API as an administrator would.
set -a; . "$eucarc"; set +a
"$bin/euca-compat/overcast-admin" --home "$H" register-node "$zone" node1 127.0.0.1 8775 \
    || die "the node did not register with its cluster"

# A console password for the admin user (kept in admin/console-password).
if [ ! -s "$H/admin/console-password" ]; then
    pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=' | head -c 20)
    login_profile() {   # action: CreateLoginProfile or UpdateLoginProfile
        curl -sf --aws-sigv4 "aws:amz:$region:iam" \
            --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
            --data-urlencode "Action=$1" --data-urlencode "Version=2010-05-08" \
            --data-urlencode "UserName=admin" --data-urlencode "Password=$pw" "$EUARE_URL" \
            >/dev/null
    }
    login_profile CreateLoginProfile || login_profile UpdateLoginProfile \
        || die "cannot set the console password"
    (umask 077; echo "$pw" > "$H/admin/console-password")
fi

# The test guest as images, through Walrus and RegisterImage.
ec2q() {   # Query call as the admin (curl signs SigV4); prints the answer
    curl -sf --aws-sigv4 "aws:amz:$region:ec2" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
        --data "$1" "$EC2_URL"
}
image_id() {       # the id of the admin's image named $1, if registered
    ec2q "Action=DescribeImages&Version=2016-11-15&Owner.1=self&Filter.1.Name=name&Filter.1.Value.1=$1" \
        | sed -n 's:.*<imageId>\([^<]*\)</imageId>.*:\1:p' | head -1
}
if [ -z "$(image_id overcast-guest)" ]; then
    guest="$top/build/guest"
    "$top/tests/guest/build.sh" "$guest" >/dev/null
    aws --endpoint-url "$S3_URL" s3 mb s3://overcast-images >/dev/null 2>&1 || true
    for f in vmlinuz initrd.img rootdisk.img; do
        aws --endpoint-url "$S3_URL" s3 cp --only-show-errors "$guest/$f" "s3://overcast-images/$f"
    done
    register() {   # type location name [extra]
        ec2q "Action=RegisterImage&Version=2016-11-15&ImageType=$1&ImageLocation=$2&Name=$3${4:-}" \
            | sed -n 's:.*<imageId>\([^<]*\)</imageId>.*:\1:p'
    }
    aki=$(image_id overcast-guest-kernel); [ -n "$aki" ] || aki=$(register kernel overcast-images/vmlinuz overcast-guest-kernel)
    ari=$(image_id overcast-guest-ramdisk); [ -n "$ari" ] || ari=$(register ramdisk overcast-images/initrd.img overcast-guest-ramdisk)
    ami=$(register machine overcast-images/rootdisk.img overcast-guest "&KernelId=$aki&RamdiskId=$ari")
    [ -n "$aki" ] && [ -n "$ari" ] && [ -n "$ami" ] || die "registering the test guest failed"
    for i in "$aki" "$ari" "$ami"; do
        ec2q "Action=ModifyImageAttribute&Version=2016-11-15&ImageId=$i&LaunchPermission.Add.1.Group=all" >/dev/null
    done
    log "registered the test guest: $ami (kernel $aki, ramdisk $ari)"
fi
ami=$(image_id overcast-guest)

cat <<MSG

Overcast all-in-one is running (zone $zone).
  home:        $H        config: $H/etc/overcast.conf
  logs:        $H/log/   stop:   $0 stop
  credentials: $eucarc  (source it), and $H/admin/aws-config + aws-credentials
  console:     http://127.0.0.1:8773/console/  account eucalyptus, user admin,
               password in $H/admin/console-password

Next, in a shell (eucarc fills in --endpoint-url for the aws command):
  source $eucarc
  aws ec2 run-instances --image-id $ami --instance-type m1.small --count 1
  aws ec2 describe-instances
  aws ec2 get-console-output --instance-id <the i-... id>

Elastic IPs (192.0.2.10-50) are reached from the namespace $NS_OUT, e.g.
  ip netns exec $NS_OUT ping -c1 <public ip>
MSG
