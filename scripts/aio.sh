#!/usr/bin/env bash
# The all-in-one run command: installs what Overcast needs, builds it,
# prepares $OVERCAST_HOME (default /var/lib/overcast), bootstraps the
# `eucalyptus` admin account and the component credentials, and runs the
# cloud controller and Walrus until Ctrl-C (or SIGTERM) stops both.  The
# cluster and node controllers join here as they land.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export OVERCAST_HOME=${OVERCAST_HOME:-/var/lib/overcast}
bash "$top/scripts/deps.sh"
bash "$top/scripts/build.sh" dev >/dev/null
bin="$top/build/dev"

mkdir -p "$OVERCAST_HOME/etc"
chmod 0700 "$OVERCAST_HOME"
[ -f "$OVERCAST_HOME/etc/overcast.conf" ] || install -m 0644 "$top/etc/overcast.conf" "$OVERCAST_HOME/etc/overcast.conf"
eucarc=$("$bin/clc/overcast-clc" --home "$OVERCAST_HOME" bootstrap)

pids=()
stop() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap stop EXIT INT TERM
"$bin/clc/overcast-clc" --home "$OVERCAST_HOME" & pids+=($!)
"$bin/walrus/overcast-walrus" --home "$OVERCAST_HOME" & pids+=($!)

cat <<MSG
Overcast all-in-one
  home:        $OVERCAST_HOME
  config:      $OVERCAST_HOME/etc/overcast.conf
  credentials: $eucarc  (source it), and $OVERCAST_HOME/admin/aws-config + aws-credentials
Try, in another shell:
  source $eucarc
  aws --endpoint-url "\$EC2_URL" ec2 describe-availability-zones
  aws --endpoint-url "\$EC2_URL" ec2 create-key-pair --key-name demo
  aws --endpoint-url "\$EUARE_URL" iam list-users
  aws --endpoint-url "\$S3_URL" s3 mb s3://demo
MSG
# Either daemon exiting stops the other.
wait -n "${pids[@]}"
