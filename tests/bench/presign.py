#!/usr/bin/python3
"""Presigned URLs and bucket creation for tests/bench/s3.sh (botocore).

  presign.py ENDPOINT AK SK url METHOD BUCKET KEY [v2]
      prints one presigned URL (SigV4 unless "v2"), valid for 2 hours
  presign.py ENDPOINT AK SK paths METHOD BUCKET PREFIX COUNT
      prints COUNT presigned path?query lines for keys PREFIX0..PREFIX<COUNT-1>
      (the wrk Lua script cycles through them)
  presign.py ENDPOINT AK SK mkbucket BUCKET
"""

import sys
from urllib.parse import urlsplit

import boto3
from botocore.config import Config


def client(endpoint, ak, sk, v2=False):
    cfg = Config(signature_version="s3" if v2 else "s3v4",
                 s3={"addressing_style": "path"}, retries={"max_attempts": 1})
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                          aws_access_key_id=ak, aws_secret_access_key=sk,
                                          config=cfg)


def presign(c, method, bucket, key):
    op = {"GET": "get_object", "PUT": "put_object", "HEAD": "head_object"}[method]
    return c.generate_presigned_url(op, Params={"Bucket": bucket, "Key": key},
                                    ExpiresIn=7200, HttpMethod=method)


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    endpoint, ak, sk, cmd = argv[1:5]
    rest = argv[5:]
    if cmd == "url":
        c = client(endpoint, ak, sk, v2=len(rest) > 3 and rest[3] == "v2")
        print(presign(c, rest[0], rest[1], rest[2]))
    elif cmd == "paths":
        c = client(endpoint, ak, sk)
        method, bucket, prefix, count = rest[0], rest[1], rest[2], int(rest[3])
        for i in range(count):
            u = urlsplit(presign(c, method, bucket, "%s%d" % (prefix, i)))
            print("%s?%s" % (u.path, u.query))
    elif cmd == "mkbucket":
        client(endpoint, ak, sk).create_bucket(Bucket=rest[0])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
