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


def sign(ep, ak, sk, action, params=()):
    """(form body, headers) of one SigV4-signed EC2 Query POST to ep; the
    pair may be sent again for the 15-minute skew window."""
    body = urllib.parse.urlencode([("Action", action), ("Version", "2016-11-15")] + list(params))
    req = AWSRequest(method="POST", url=ep + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(ak, sk), "ec2", "us-east-1").add_auth(req)
    return body, dict(req.headers)


def main():
    ep, ak, sk, action = sys.argv[1:5]
    body, headers = sign(ep, ak, sk, action, [kv.split("=", 1) for kv in sys.argv[5:]])
    print('wrk.method = "POST"')
    print("wrk.body = %s" % lua_str(body))
    for k, v in headers.items():
        if k.lower() in ("host", "content-length"):
            continue
        print("wrk.headers[%s] = %s" % (lua_str(k), lua_str(v)))


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


if __name__ == "__main__":
    main()
