"""s3cmd (Debian) against overcast-walrus, with SigV4 and with --signature-v2.

s3cmd silently falls back from SigV4 to SigV2 on some errors, so every call
runs with --debug and the SigV4 runs assert that no fallback happened and
that AWS4-HMAC-SHA256 was really used.
"""

import os
import pytest

from conftest import unique
from s3util import make_file, multipart_etag_file, read, sha256_file, xml_code
from walrus_harness import curl

MiB = 1024 * 1024


def run(env, sigv2, *args, check=True):
    p = env.s3cmd("--debug", *args, sigv2=sigv2, check=check)
    if not sigv2:
        assert "Falling back to signature v2" not in p.stderr, \
            "s3cmd fell back to SigV2:\n" + p.stderr[-3000:]
    return p


def assert_scheme(p, sigv2):
    # s3cmd's debug log names the signature it used.
    if sigv2:
        assert "Using signature v2" in p.stderr, p.stderr[-2000:]
        assert "Using signature v4" not in p.stderr, p.stderr[-2000:]
    else:
        assert "Using signature v4" in p.stderr, p.stderr[-2000:]
        assert "AWS4-HMAC-SHA256" in p.stderr, p.stderr[-2000:]


@pytest.fixture(params=[False, True], ids=["sigv4", "sigv2"])
def sigv2(request):
    return request.param


@pytest.fixture
def s3cmd_bucket(s3env, sigv2):
    name = unique("s3cmd")
    p = run(s3env, sigv2, "mb", "s3://%s" % name)
    assert_scheme(p, sigv2)
    yield name
    run(s3env, sigv2, "del", "--recursive", "--force", "s3://%s" % name, check=False)
    run(s3env, sigv2, "rb", "s3://%s" % name, check=False)


def test_put_get_ls_del(s3env, sigv2, s3cmd_bucket, tmp_path):
    b = s3cmd_bucket
    src = make_file(tmp_path, "file one.txt", 100000, 301)
    p = run(s3env, sigv2, "put", src, "s3://%s/dir/file one.txt" % b)
    assert_scheme(p, sigv2)
    p = run(s3env, sigv2, "ls", "s3://%s/" % b)
    assert "DIR" in p.stdout and "s3://%s/dir/" % b in p.stdout, p.stdout
    p = run(s3env, sigv2, "ls", "s3://%s/dir/" % b)
    assert "s3://%s/dir/file one.txt" % b in p.stdout and "100000" in p.stdout, p.stdout
    p = run(s3env, sigv2, "ls")
    assert "s3://%s" % b in p.stdout
    p = run(s3env, sigv2, "la")
    assert "s3://%s/dir/" % b in p.stdout, p.stdout
    dst = str(tmp_path / "back.txt")
    run(s3env, sigv2, "get", "s3://%s/dir/file one.txt" % b, dst)
    assert read(dst) == read(src)
    p = run(s3env, sigv2, "info", "s3://%s/dir/file one.txt" % b)
    import hashlib
    assert hashlib.md5(read(src)).hexdigest() in p.stdout, p.stdout
    run(s3env, sigv2, "cp", "s3://%s/dir/file one.txt" % b, "s3://%s/copy" % b)
    run(s3env, sigv2, "get", "--force", "s3://%s/copy" % b, dst)
    assert read(dst) == read(src)
    run(s3env, sigv2, "del", "s3://%s/dir/file one.txt" % b)
    p = run(s3env, sigv2, "ls", "s3://%s/dir/" % b)
    assert "file one.txt" not in p.stdout
    p = run(s3env, sigv2, "get", "--force", "s3://%s/dir/file one.txt" % b, dst, check=False)
    assert p.returncode != 0 and ("404" in p.stderr or "NoSuchKey" in p.stderr), p.stderr[-500:]


def test_multipart(s3env, sigv2, s3cmd_bucket, tmp_path):
    b = s3cmd_bucket
    src = make_file(tmp_path, "big.bin", 12 * MiB, 302)
    p = run(s3env, sigv2, "put", "--multipart-chunk-size-mb=5", src, "s3://%s/big.bin" % b)
    assert "?uploads" in p.stderr, "s3cmd did not start a multipart upload"
    h = s3env.client().head_object(Bucket=b, Key="big.bin")
    assert h["ETag"] == multipart_etag_file(src, 5 * MiB)
    assert h["ContentLength"] == 12 * MiB
    dst = str(tmp_path / "big.back")
    run(s3env, sigv2, "get", "s3://%s/big.bin" % b, dst)
    assert sha256_file(dst) == sha256_file(src)


def test_signurl(s3env, sigv2, s3cmd_bucket, tmp_path):
    b = s3cmd_bucket
    src = make_file(tmp_path, "s.bin", 5000, 303)
    run(s3env, sigv2, "put", src, "s3://%s/signed key" % b)
    p = run(s3env, sigv2, "signurl", "s3://%s/signed key" % b, "+600")
    url = p.stdout.strip().splitlines()[-1]
    assert "Signature=" in url, url
    status, _, body = curl(url)
    assert status == 200 and body == read(src), body[:300]
    # The object itself stays private.
    status, _, body = curl(url.split("?")[0])
    assert status == 403 and xml_code(body) == "AccessDenied"
    # An expired signature.
    p = run(s3env, sigv2, "signurl", "s3://%s/signed key" % b, "+0")
    url = p.stdout.strip().splitlines()[-1]
    import time
    time.sleep(1.5)
    status, _, body = curl(url)
    assert status == 403 and xml_code(body) == "AccessDenied", body[:300]


def test_acl_public(s3env, sigv2, s3cmd_bucket, tmp_path):
    b = s3cmd_bucket
    src = make_file(tmp_path, "p.bin", 300, 304)
    run(s3env, sigv2, "put", "--acl-public", src, "s3://%s/pub" % b)
    status, _, body = curl("%s/%s/pub" % (s3env.endpoint, b))
    assert status == 200 and body == read(src)
    run(s3env, sigv2, "setacl", "--acl-private", "s3://%s/pub" % b)
    status, _, body = curl("%s/%s/pub" % (s3env.endpoint, b))
    assert status == 403


def test_rb_not_empty(s3env, sigv2, tmp_path):
    name = unique("s3cmd")
    run(s3env, sigv2, "mb", "s3://%s" % name)
    src = make_file(tmp_path, "f", 10, 305)
    run(s3env, sigv2, "put", src, "s3://%s/f" % name)
    p = run(s3env, sigv2, "rb", "s3://%s" % name, check=False)
    assert p.returncode != 0 and "BucketNotEmpty" in p.stderr, p.stderr[-500:]
    run(s3env, sigv2, "del", "s3://%s/f" % name)
    run(s3env, sigv2, "rb", "s3://%s" % name)
    p = run(s3env, sigv2, "ls", "s3://%s" % name, check=False)
    assert p.returncode != 0 and "NoSuchBucket" in p.stderr, p.stderr[-500:]


def test_sync(s3env, sigv2, s3cmd_bucket, tmp_path):
    b = s3cmd_bucket
    up = tmp_path / "up"
    for i, name in enumerate(["a", "d/b", "d/e/c"]):
        make_file(up, name, 1000 + i, 310 + i)
    run(s3env, sigv2, "sync", str(up) + "/", "s3://%s/s/" % b)
    down = tmp_path / "down"
    os.makedirs(down)
    run(s3env, sigv2, "sync", "s3://%s/s/" % b, str(down) + "/")
    for name in ["a", "d/b", "d/e/c"]:
        assert read(up / name) == read(down / name)
