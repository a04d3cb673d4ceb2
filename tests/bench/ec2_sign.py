#!/usr/bin/python3
"""Signs one EC2 Query request with SigV4 (botocore) and prints a wrk Lua
script that replays it: POST, the same form body and headers every time.
A SigV4 signature stays valid for the 15-minute skew window, so wrk needs
no per-request signing.

usage: ec2_sign.py ENDPOINT AK SK ACTION [Name=Value ...]
"""
import sys
import urllib.parse

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main():
    ep, ak, sk, action = sys.argv[1:5]
    params = [("Action", action), ("Version", "2016-11-15")]
    for kv in sys.argv[5:]:
        k, v = kv.split("=", 1)
        params.append((k, v))
    body = urllib.parse.urlencode(params)
    req = AWSRequest(method="POST", url=ep + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(ak, sk), "ec2", "us-east-1").add_auth(req)
    print('wrk.method = "POST"')
    print("wrk.body = %s" % lua_str(body))
    for k, v in req.headers.items():
        if k.lower() in ("host", "content-length"):
            continue
        print("wrk.headers[%s] = %s" % (lua_str(k), lua_str(v)))


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    main()
