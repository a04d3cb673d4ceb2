#!/usr/bin/python3
"""Runs the AWS SDK for JavaScript v3 suite (js/test.mjs) against a fresh
overcast-walrus: starts the daemon with walrus_harness, runs `node --test`
with the endpoint and keys in its environment, stops the daemon and exits
with node's status.  Installs js/node_modules with `npm ci` when missing."""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import walrus_harness as wh  # noqa: E402

JS = os.path.join(HERE, "js")


def main():
    node = shutil.which("node")
    if not node:
        print("FATAL: node is not installed", file=sys.stderr)
        return 3
    if not os.path.isdir(os.path.join(JS, "node_modules", "@aws-sdk", "client-s3")):
        npm = shutil.which("npm")
        if not npm:
            print("FATAL: npm is not installed and js/node_modules is missing", file=sys.stderr)
            return 3
        p = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS)
        if p.returncode != 0:
            print("FATAL: npm ci failed", file=sys.stderr)
            return 3
    tmp = tempfile.mkdtemp(prefix="overcast-js-")
    try:
        env = wh.start_env(tmp)
    except wh.HarnessError as e:
        print("FATAL: cannot start the CLC and Walrus: %s" % e, file=sys.stderr)
        return 3
    rc = 1
    try:
        penv = wh.clean_env({"OVERCAST_S3_ENDPOINT": env.endpoint,
                             "OVERCAST_S3_ACCESS_KEY": env.ak1,
                             "OVERCAST_S3_SECRET_KEY": env.sk1,
                             "NODE_NO_WARNINGS": "1"})
        p = subprocess.run([node, "--test", "--test-reporter=tap", "test.mjs"], cwd=JS,
                           env=penv, timeout=600)
        rc = p.returncode
    finally:
        alive = env.walrus.alive()
        try:
            env.shutdown()
        except wh.HarnessError as e:
            print(e, file=sys.stderr)
            rc = rc or 1
        if rc != 0 or not alive:
            wh.print_log(env.walrus)
            if not alive:
                print("overcast-walrus died during the JS tests", file=sys.stderr)
                rc = rc or 1
        if rc == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("test home kept in %s" % tmp, file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
