#!/usr/bin/env bash
# The all-in-one run command: installs what Overcast needs, builds it,
# prepares $OVERCAST_HOME (default /var/lib/overcast), bootstraps the
# `eucalyptus` admin account and its credentials, and runs the cloud in the
# foreground (Ctrl-C stops it).  Today the cloud is Walrus, the S3 store;
# the other components join here as they land.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
export OVERCAST_HOME=${OVERCAST_HOME:-/var/lib/overcast}
bash "$top/scripts/deps.sh"
bash "$top/scripts/build.sh" dev >/dev/null
bin="$top/build/dev"

mkdir -p "$OVERCAST_HOME/etc"
chmod 0700 "$OVERCAST_HOME"
[ -f "$OVERCAST_HOME/etc/overcast.conf" ] || install -m 0644 "$top/etc/overcast.conf" "$OVERCAST_HOME/etc/overcast.conf"
eucarc=$("$bin/euca-compat/overcast-admin" --home "$OVERCAST_HOME" bootstrap)

cat <<MSG
Overcast all-in-one
  home:        $OVERCAST_HOME
  config:      $OVERCAST_HOME/etc/overcast.conf
  credentials: $eucarc  (source it), and $OVERCAST_HOME/admin/aws-config + aws-credentials
Try, in another shell:
  source $eucarc
  aws --endpoint-url "\$S3_URL" s3 mb s3://demo
  aws --endpoint-url "\$S3_URL" s3 ls
MSG
exec "$bin/walrus/overcast-walrus" --home "$OVERCAST_HOME"
