"""boto3 (and curl for presigned and anonymous requests) against overcast-walrus."""

import concurrent.futures
import contextlib
import datetime
import hashlib
import hmac
import os
import http.client
import socket
import time
from urllib.parse import quote, urlsplit

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from conftest import cleanup_bucket, unique
from s3util import (boto_code, boto_status, data, etag, make_file, multipart_etag,
                    multipart_etag_file, read, sha256_file, xml_code)
from walrus_harness import curl

MiB = 1024 * 1024


def raw_head(port, path):
    """HEAD over a bare socket: returns (status, whatever followed the headers)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(b"HEAD %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n"
                  % (path.encode(), port))
        buf = b""
        while True:
            got = s.recv(65536)
            if not got:
                break
            buf += got
    finally:
        s.close()
    head, _, rest = buf.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


# ---------------------------------------------------------------- transfers

def test_upload_download_file_multipart(s3env, bucket, tmp_path):
    c = s3env.client()
    src = make_file(tmp_path, "in.bin", 17 * MiB + 123, 201)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB,
                         max_concurrency=4)
    c.upload_file(src, bucket, "xfer/in.bin", Config=cfg,
                  ExtraArgs={"Metadata": {"via": "upload_file"},
                             "ContentType": "application/x-xfer"})
    h = c.head_object(Bucket=bucket, Key="xfer/in.bin")
    assert h["ETag"] == multipart_etag_file(src, 5 * MiB)
    assert h["ETag"].endswith('-4"')
    assert h["ContentLength"] == 17 * MiB + 123
    assert h["Metadata"] == {"via": "upload_file"}
    assert h["ContentType"] == "application/x-xfer"
    dst = str(tmp_path / "out.bin")
    c.download_file(bucket, "xfer/in.bin", dst, Config=cfg)   # parallel ranged GETs
    assert sha256_file(dst) == sha256_file(src)


def test_upload_download_fileobj_small(s3env, bucket, tmp_path):
    import io
    c = s3env.client()
    body = data(100000, 202)
    c.upload_fileobj(io.BytesIO(body), bucket, "small")
    out = io.BytesIO()
    c.download_fileobj(bucket, "small", out)
    assert out.getvalue() == body
    assert c.head_object(Bucket=bucket, Key="small")["ETag"] == etag(body)


def test_sigv2_client_roundtrip(s3env, bucket):
    c = s3env.client(signature_version="s3")
    body = data(70000, 203)
    r = c.put_object(Bucket=bucket, Key="v2 key+x", Body=body, Metadata={"a": "b"},
                     ContentType="text/x-v2")
    assert r["ETag"] == etag(body)
    g = c.get_object(Bucket=bucket, Key="v2 key+x", Range="bytes=5-9")
    assert g["Body"].read() == body[5:10]
    assert g["Metadata"] == {"a": "b"}
    names = [b["Name"] for b in c.list_buckets()["Buckets"]]
    assert bucket in names
    keys = [o["Key"] for o in c.list_objects(Bucket=bucket)["Contents"]]
    assert keys == ["v2 key+x"]
    c.delete_object(Bucket=bucket, Key="v2 key+x")


# ---------------------------------------------------------------- paginators

def _put_many(c, bucket, keys, body=b"k"):
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda k: c.put_object(Bucket=bucket, Key=k, Body=body), keys))


def test_paginate_list_objects_v2(s3env, bucket):
    c = s3env.client()
    keys = sorted("dir%02d/file%03d" % (i % 6, i) for i in range(53)) + ["rootkey"]
    _put_many(c, bucket, keys)
    pages = list(c.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 7}))
    assert len(pages) == 8
    got = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert got == keys
    assert all(p["KeyCount"] == len(p.get("Contents", [])) for p in pages)
    # With a delimiter, prefixes are paged too.
    pages = list(c.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 2}))
    prefixes = [x["Prefix"] for p in pages for x in p.get("CommonPrefixes", [])]
    assert prefixes == ["dir%02d/" % i for i in range(6)]
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == ["rootkey"]
    assert len(pages) == 4
    # v1 paginator.
    pages = list(c.get_paginator("list_objects").paginate(
        Bucket=bucket, Prefix="dir03/", PaginationConfig={"PageSize": 4}))
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == \
        [k for k in keys if k.startswith("dir03/")]


def test_paginate_multipart_uploads_and_parts(s3env, bucket):
    c = s3env.client()
    made = []
    for i in range(8):
        key = "mpu/%d" % (i % 5)
        made.append((key, c.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]))
    pages = list(c.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 3}))
    assert len(pages) == 3
    got = [(u["Key"], u["UploadId"]) for p in pages for u in p.get("Uploads", [])]
    assert sorted(got) == sorted(made)
    assert [k for k, _ in got] == sorted(k for k, _ in made)
    key, uid = made[0]
    for n in range(1, 13):
        c.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=b"p%d" % n)
    pages = list(c.get_paginator("list_parts").paginate(
        Bucket=bucket, Key=key, UploadId=uid, PaginationConfig={"PageSize": 5}))
    assert [pt["PartNumber"] for p in pages for pt in p.get("Parts", [])] == list(range(1, 13))
    assert len(pages) == 3
    for k, u in made:
        c.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)
    assert not c.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_list_control_character_key(s3env, bucket):
    """boto3 asks for EncodingType=url; a key XML 1.0 cannot carry must survive."""
    c = s3env.client()
    key = "ctl\x01char\x7f/\u2603"
    c.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert [o["Key"] for o in c.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    assert c.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"
    c.delete_object(Bucket=bucket, Key=key)


# ---------------------------------------------------------------- presigned

def _presign(c, op, bucket, key, expires=300):
    return c.generate_presigned_url(op, Params={"Bucket": bucket, "Key": key},
                                    ExpiresIn=expires)


@pytest.mark.parametrize("sigver", ["s3v4", "s3"])
def test_presigned_get_put_with_curl(s3env, bucket, tmp_path, sigver):
    c = s3env.client(signature_version=sigver)
    body = data(300000, 210)
    s3env.client().put_object(Bucket=bucket, Key="pre/get me", Body=body)
    url = _presign(c, "get_object", bucket, "pre/get me")
    if sigver == "s3":
        assert "Signature=" in url and "AWSAccessKeyId=" in url, url
    else:
        assert "X-Amz-Signature=" in url, url
    status, hdrs, got = curl(url)
    assert status == 200, got[:500]
    assert got == body
    # Ranged GET through the same URL.
    status, hdrs, got = curl("-H", "Range: bytes=10-19", url)
    assert status == 206 and got == body[10:20]
    # Presigned PUT with curl -T.
    src = make_file(tmp_path, "up.bin", 2 * MiB + 5, 211)
    url = _presign(c, "put_object", bucket, "pre/put me")
    status, hdrs, got = curl("-T", src, url)
    assert status == 200, got[:500]
    assert etag(read(src)) in hdrs
    g = s3env.client().get_object(Bucket=bucket, Key="pre/put me")
    assert g["Body"].read() == read(src)
    # A signature for one key does not open another.
    bad = url.replace("pre/put%20me", "pre/other").replace("pre/put me", "pre/other")
    assert bad != url
    status, _, got = curl("-T", src, bad)
    assert status == 403 and xml_code(got) == "SignatureDoesNotMatch", got[:500]
    # Nor does it survive a change of method.
    get_url = _presign(c, "get_object", bucket, "pre/get me")
    status, _, got = curl("-X", "DELETE", get_url)
    assert status == 403, got[:500]
    assert s3env.client().head_object(Bucket=bucket, Key="pre/get me")


@pytest.mark.parametrize("sigver", ["s3v4", "s3"])
def test_presigned_expired(s3env, bucket, sigver):
    c = s3env.client(signature_version=sigver)
    s3env.client().put_object(Bucket=bucket, Key="exp", Body=b"soon gone")
    url = _presign(c, "get_object", bucket, "exp", expires=1)
    put_url = _presign(c, "put_object", bucket, "exp-put", expires=1)
    time.sleep(2.5)
    status, _, got = curl(url)
    assert status == 403 and xml_code(got) == "AccessDenied", (status, got[:500])
    status, _, got = curl("-T", "/dev/null", put_url)
    assert status == 403 and xml_code(got) == "AccessDenied", (status, got[:500])


def test_presigned_wrong_secret(s3env, bucket):
    s3env.client().put_object(Bucket=bucket, Key="o", Body=b"x")
    for sv in ("s3v4", "s3"):
        c = s3env.client(signature_version=sv, secret_key="W" * 40)
        status, _, got = curl(_presign(c, "get_object", bucket, "o"))
        assert status == 403 and xml_code(got) == "SignatureDoesNotMatch", (sv, got[:300])


# ---------------------------------------------------------------- errors

def test_error_no_such_bucket_and_key(s3env, bucket):
    c = s3env.client()
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=unique("nope"), Key="k")
    assert boto_code(e) == "NoSuchBucket" and boto_status(e) == 404
    with pytest.raises(ClientError) as e:
        c.list_objects_v2(Bucket=unique("nope"))
    assert boto_code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=bucket, Key="nope")
    assert boto_code(e) == "NoSuchKey" and boto_status(e) == 404
    with pytest.raises(ClientError) as e:
        c.head_object(Bucket=bucket, Key="nope")
    assert boto_status(e) == 404


def test_error_bucket_not_empty(s3env):
    c = s3env.client()
    name = unique("bne")
    c.create_bucket(Bucket=name)
    c.put_object(Bucket=name, Key="x", Body=b"x")
    with pytest.raises(ClientError) as e:
        c.delete_bucket(Bucket=name)
    assert boto_code(e) == "BucketNotEmpty" and boto_status(e) == 409
    c.delete_object(Bucket=name, Key="x")
    c.delete_bucket(Bucket=name)


@pytest.mark.parametrize("sigver", ["s3v4", "s3"])
def test_error_signature_does_not_match(s3env, bucket, sigver):
    c = s3env.client(signature_version=sigver, secret_key="x" * 40)
    for call in (lambda: c.list_buckets(),
                 lambda: c.put_object(Bucket=bucket, Key="k", Body=b"data"),
                 lambda: c.get_object(Bucket=bucket, Key="k")):
        with pytest.raises(ClientError) as e:
            call()
        assert boto_code(e) == "SignatureDoesNotMatch" and boto_status(e) == 403
    with pytest.raises(ClientError) as e:
        s3env.client().head_object(Bucket=bucket, Key="k")
    assert boto_status(e) == 404   # nothing was written


@pytest.mark.parametrize("sigver", ["s3v4", "s3"])
def test_error_invalid_access_key(s3env, bucket, sigver):
    c = s3env.client(signature_version=sigver, access_key="AKIANOSUCHKEY0000000")
    with pytest.raises(ClientError) as e:
        c.list_buckets()
    assert boto_code(e) == "InvalidAccessKeyId" and boto_status(e) == 403
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert boto_code(e) == "InvalidAccessKeyId"


def test_inactive_key_rejected(s3env, bucket):
    ak, sk = s3env.admin.new_key("testacct2", "user2")
    c = s3env.client(access_key=ak, secret_key=sk)
    c.list_buckets()
    s3env.admin.run("set-key-status", ak, "Inactive")

    def rejected():
        try:
            c.list_buckets()
            return None
        except ClientError as ex:
            return ex
    # The daemon may cache a key for a few seconds (creds.c: 2 s); not longer.
    deadline = time.time() + 5
    err = rejected()
    while err is None and time.time() < deadline:
        time.sleep(0.25)
        err = rejected()
    try:
        assert err is not None, "an Inactive key still works after 5 s"
        assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert err.response["Error"]["Code"] in ("InvalidAccessKeyId", "AccessDenied")
    finally:
        s3env.admin.run("set-key-status", ak, "Active")
    deadline = time.time() + 5
    while rejected() is not None and time.time() < deadline:
        time.sleep(0.25)
    c.list_buckets()


def test_cross_account_access_denied(s3env, bucket):
    c1, c2 = s3env.client(1), s3env.client(2)
    c1.put_object(Bucket=bucket, Key="private", Body=b"secret bytes")
    checks = {
        "get_object": lambda: c2.get_object(Bucket=bucket, Key="private"),
        "list_objects_v2": lambda: c2.list_objects_v2(Bucket=bucket),
        "list_objects": lambda: c2.list_objects(Bucket=bucket),
        "put_object": lambda: c2.put_object(Bucket=bucket, Key="intruder", Body=b"x"),
        "delete_object": lambda: c2.delete_object(Bucket=bucket, Key="private"),
        "delete_bucket": lambda: c2.delete_bucket(Bucket=bucket),
        "get_object_acl": lambda: c2.get_object_acl(Bucket=bucket, Key="private"),
        "get_bucket_location": lambda: c2.get_bucket_location(Bucket=bucket),
        "create_multipart_upload": lambda: c2.create_multipart_upload(Bucket=bucket, Key="m"),
        "list_multipart_uploads": lambda: c2.list_multipart_uploads(Bucket=bucket),
        "copy_object": lambda: c2.copy_object(Bucket=bucket, Key="copy",
                                              CopySource={"Bucket": bucket,
                                                          "Key": "private"}),
    }
    for name, call in checks.items():
        with pytest.raises(ClientError) as e:
            call()
        assert (boto_code(e), boto_status(e)) == ("AccessDenied", 403), name
    with pytest.raises(ClientError) as e:
        c2.head_object(Bucket=bucket, Key="private")
    assert boto_status(e) == 403
    assert c1.get_object(Bucket=bucket, Key="private")["Body"].read() == b"secret bytes"
    assert [o["Key"] for o in c1.list_objects_v2(Bucket=bucket)["Contents"]] == ["private"]


def test_cross_account_upload_part_denied(s3env, bucket):
    c1, c2 = s3env.client(1), s3env.client(2)
    uid = c1.create_multipart_upload(Bucket=bucket, Key="mine")["UploadId"]
    for call in (lambda: c2.upload_part(Bucket=bucket, Key="mine", UploadId=uid, PartNumber=1,
                                        Body=b"x"),
                 lambda: c2.list_parts(Bucket=bucket, Key="mine", UploadId=uid),
                 lambda: c2.abort_multipart_upload(Bucket=bucket, Key="mine", UploadId=uid)):
        with pytest.raises(ClientError) as e:
            call()
        assert boto_code(e) == "AccessDenied"
    c1.abort_multipart_upload(Bucket=bucket, Key="mine", UploadId=uid)


def test_skewed_clock_rejected(s3env):
    past = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    st, _, body = raw_sigv4(s3env, "GET", "/", b"", s3env.ak1, s3env.sk1, when=past)
    assert st == 403 and xml_code(body) == "RequestTimeTooSkewed", body[:300]
    st, _, body = raw_sigv4(s3env, "GET", "/", b"", s3env.ak1, s3env.sk1,
                            when=datetime.datetime.utcnow() - datetime.timedelta(minutes=5))
    assert st == 200, body[:300]


def test_error_xml_shape(s3env, bucket):
    status, hdrs, body = curl("%s/%s/nope" % (s3env.endpoint, bucket))
    assert status in (403, 404)
    assert body.startswith(b"<?xml"), body[:200]
    assert b"<Error>" in body and b"<Code>" in body and b"<Message>" in body
    assert b"<RequestId>" in body
    assert "x-amz-request-id" in hdrs.lower()
    # HEAD errors have no body.
    status, body = raw_head(s3env.port, "/%s/nope" % bucket)
    assert status in (403, 404) and body == b"", body[:300]
    status, body = raw_head(s3env.port, "/%s" % unique("nope"))
    assert status in (403, 404) and body == b"", body[:300]


def test_invalid_part_names_the_part(s3env, bucket):
    c = s3env.client()
    uid = c.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    e1 = c.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1,
                       Body=data(5 * MiB, 1))["ETag"]
    e2 = c.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=2,
                       Body=data(10, 2))["ETag"]
    with pytest.raises(ClientError) as e:
        c.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=uid,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                       {"PartNumber": 7, "ETag": e2}]})
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidPart" and boto_status(e) == 400
    assert err.get("PartNumber") == "7" or "7" in err.get("Message", ""), err
    uid2 = c.create_multipart_upload(Bucket=bucket, Key="k2")["UploadId"]
    s1 = c.upload_part(Bucket=bucket, Key="k2", UploadId=uid2, PartNumber=1,
                       Body=data(1000, 3))["ETag"]
    s2 = c.upload_part(Bucket=bucket, Key="k2", UploadId=uid2, PartNumber=2,
                       Body=data(10, 4))["ETag"]
    with pytest.raises(ClientError) as e:
        c.complete_multipart_upload(
            Bucket=bucket, Key="k2", UploadId=uid2,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": s1},
                                       {"PartNumber": 2, "ETag": s2}]})
    err = e.value.response["Error"]
    assert err["Code"] == "EntityTooSmall" and boto_status(e) == 400
    # Finish the first one properly.
    r = c.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                   {"PartNumber": 2, "ETag": e2}]})
    assert r["ETag"] == multipart_etag([data(5 * MiB, 1), data(10, 2)])


def test_malformed_complete_xml(s3env, bucket):
    c = s3env.client()
    uid = c.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    with pytest.raises(ClientError) as e:
        c.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                    MultipartUpload={"Parts": []})
    assert boto_code(e) in ("MalformedXML", "InvalidRequest")
    c.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)


# ---------------------------------------------------------------- ACLs in action

def test_anonymous_public_and_private(s3env, bucket):
    c = s3env.client()
    c.put_object(Bucket=bucket, Key="pub", Body=b"public bytes", ACL="public-read")
    c.put_object(Bucket=bucket, Key="priv", Body=b"private bytes")
    status, _, body = curl("%s/%s/pub" % (s3env.endpoint, bucket))
    assert status == 200 and body == b"public bytes"
    status, _, body = curl("-H", "Range: bytes=-5", "%s/%s/pub" % (s3env.endpoint, bucket))
    assert status == 206 and body == b"bytes"
    status, _, body = curl("%s/%s/priv" % (s3env.endpoint, bucket))
    assert status == 403 and xml_code(body) == "AccessDenied"
    status, body = raw_head(s3env.port, "/%s/priv" % bucket)
    assert status == 403 and body == b"", body[:300]
    # Anonymous listing of a private bucket, and writes, are refused.
    status, _, body = curl("%s/%s" % (s3env.endpoint, bucket))
    assert status == 403 and xml_code(body) == "AccessDenied"
    status, _, body = curl("-X", "PUT", "--data-binary", "x",
                           "%s/%s/anon" % (s3env.endpoint, bucket))
    assert status == 403 and xml_code(body) == "AccessDenied"
    status, _, body = curl("-X", "DELETE", "%s/%s/pub" % (s3env.endpoint, bucket))
    assert status == 403
    # Account 2 reads the public object too, but not the private one.
    c2 = s3env.client(2)
    assert c2.get_object(Bucket=bucket, Key="pub")["Body"].read() == b"public bytes"
    with pytest.raises(ClientError) as e:
        c2.get_object(Bucket=bucket, Key="priv")
    assert boto_code(e) == "AccessDenied"
    # Making it private again closes it.
    c.put_object_acl(Bucket=bucket, Key="pub", ACL="private")
    status, _, body = curl("%s/%s/pub" % (s3env.endpoint, bucket))
    assert status == 403


def test_authenticated_read(s3env, bucket):
    c = s3env.client()
    c.put_object(Bucket=bucket, Key="authr", Body=b"for members", ACL="authenticated-read")
    assert s3env.client(2).get_object(Bucket=bucket, Key="authr")["Body"].read() == \
        b"for members"
    status, _, body = curl("%s/%s/authr" % (s3env.endpoint, bucket))
    assert status == 403 and xml_code(body) == "AccessDenied"
    # Bucket-level authenticated-read lets account 2 list but not anonymous.
    c.put_bucket_acl(Bucket=bucket, ACL="authenticated-read")
    keys = [o["Key"] for o in s3env.client(2).list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["authr"]
    status, _, body = curl("%s/%s" % (s3env.endpoint, bucket))
    assert status == 403


def test_public_read_bucket_listing(s3env, bucket):
    c = s3env.client()
    c.put_object(Bucket=bucket, Key="listed", Body=b"x")
    c.put_bucket_acl(Bucket=bucket, ACL="public-read")
    status, _, body = curl("%s/%s?list-type=2" % (s3env.endpoint, bucket))
    assert status == 200 and b"<Key>listed</Key>" in body, body[:500]
    assert [o["Key"] for o in s3env.client(2).list_objects_v2(Bucket=bucket)["Contents"]] == \
        ["listed"]
    # Reading the bucket's list does not make its private objects readable.
    status, _, body = curl("%s/%s/listed" % (s3env.endpoint, bucket))
    assert status == 403
    # Nor writable.
    with pytest.raises(ClientError) as e:
        s3env.client(2).put_object(Bucket=bucket, Key="w", Body=b"x")
    assert boto_code(e) == "AccessDenied"


def test_public_read_write_bucket(s3env, bucket):
    c = s3env.client()
    c.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    s3env.client(2).put_object(Bucket=bucket, Key="from-2", Body=b"two")
    status, _, body = curl("-X", "PUT", "--data-binary", "anon",
                           "%s/%s/from-anon" % (s3env.endpoint, bucket))
    assert status == 200, body[:300]
    keys = sorted(o["Key"] for o in c.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["from-2", "from-anon"]


# ---------------------------------------------------------------- virtual hosts

@contextlib.contextmanager
def localhost_resolver():
    """Resolve *.localhost to 127.0.0.1 inside this process."""
    real = socket.getaddrinfo

    def fake(host, *a, **kw):
        if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
            host = "127.0.0.1"
        return real(host, *a, **kw)
    socket.getaddrinfo = fake
    try:
        yield
    finally:
        socket.getaddrinfo = real


@pytest.mark.parametrize("sigver", ["s3v4", "s3"])
def test_virtual_host_addressing(s3env, bucket, sigver):
    ep = "http://s3.localhost:%d" % s3env.port
    with localhost_resolver():
        c = s3env.client(endpoint_url=ep, addressing_style="virtual", signature_version=sigver)
        body = data(5000, 220)
        c.put_object(Bucket=bucket, Key="vh/key one", Body=body)
        assert c.get_object(Bucket=bucket, Key="vh/key one")["Body"].read() == body
        # botocore signs ListObjectsV2 under SigV2 over "/bucket?list-type=2",
        # which AWS rejects too (boto/boto3#4433): use ListObjects there.
        lister = c.list_objects_v2 if sigver == "s3v4" else c.list_objects
        keys = [o["Key"] for o in lister(Bucket=bucket, Prefix="vh/")["Contents"]]
        assert keys == ["vh/key one"]
        assert c.head_bucket(Bucket=bucket)
        assert bucket in [b["Name"] for b in c.list_buckets()["Buckets"]]
        url = c.generate_presigned_url("get_object",
                                       Params={"Bucket": bucket, "Key": "vh/key one"})
    host = urlsplit(url).hostname
    assert host == "%s.s3.localhost" % bucket, url
    status, _, got = curl("--resolve", "%s:%d:127.0.0.1" % (host, s3env.port), url)
    assert status == 200 and got == body
    # Path-style requests to the bare domain still work.
    with localhost_resolver():
        c = s3env.client(endpoint_url=ep, addressing_style="path", signature_version=sigver)
        assert c.get_object(Bucket=bucket, Key="vh/key one")["Body"].read() == body


def test_virtual_host_anonymous_and_create(s3env):
    name = unique("vh")
    ep = "http://s3.localhost:%d" % s3env.port
    with localhost_resolver():
        c = s3env.client(endpoint_url=ep, addressing_style="virtual")
        c.create_bucket(Bucket=name)
        c.put_object(Bucket=name, Key="p", Body=b"vhost public", ACL="public-read")
    try:
        host = "%s.s3.localhost" % name
        status, _, got = curl("--resolve", "%s:%d:127.0.0.1" % (host, s3env.port),
                              "http://%s:%d/p" % (host, s3env.port))
        assert status == 200 and got == b"vhost public"
        # An explicit Host header against 127.0.0.1 is the same request.
        status, _, got = curl("-H", "Host: %s:%d" % (host, s3env.port),
                              "http://127.0.0.1:%d/p" % s3env.port)
        assert status == 200 and got == b"vhost public"
    finally:
        cleanup_bucket(s3env, name)


# ---------------------------------------------------------------- hand-signed requests

def _hmac(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg,
                    hashlib.sha256).digest()


def _signing_key(sk, date):
    k = _hmac(("AWS4" + sk).encode(), date)
    k = _hmac(k, "us-east-1")
    k = _hmac(k, "s3")
    return _hmac(k, "aws4_request")


def raw_sigv4(env, method, path, body, ak, sk, when=None, extra=None, payload_hash=None,
              send_body=None):
    """One SigV4 header-signed request built by hand; returns (status, headers, body)."""
    when = when or datetime.datetime.utcnow()
    amzdate = when.strftime("%Y%m%dT%H%M%SZ")
    date = amzdate[:8]
    host = "127.0.0.1:%d" % env.port
    payload_hash = payload_hash or hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-date": amzdate, "x-amz-content-sha256": payload_hash}
    headers.update(extra or {})
    signed = sorted(headers)
    canon = "\n".join([method, quote(path, safe="/~"), "",
                       "".join("%s:%s\n" % (h, headers[h]) for h in signed),
                       ";".join(signed), payload_hash])
    scope = "%s/us-east-1/s3/aws4_request" % date
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope,
                     hashlib.sha256(canon.encode()).hexdigest()])
    skey = _signing_key(sk, date)
    sig = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                "Signature=%s" % (ak, scope, ";".join(signed), sig))
    conn = http.client.HTTPConnection("127.0.0.1", env.port, timeout=60)
    try:
        payload = send_body(skey, sig, amzdate, scope) if send_body else body
        conn.request(method, quote(path, safe="/~"), body=payload, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def _chunked_body(chunks, skey, seed_sig, amzdate, scope, tamper_at=None):
    out, prev = [], seed_sig
    empty = hashlib.sha256(b"").hexdigest()
    for i, ch in enumerate(chunks + [b""]):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amzdate, scope, prev, empty,
                         hashlib.sha256(ch).hexdigest()])
        sig = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
        if i == tamper_at:
            ch = bytes([ch[0] ^ 1]) + ch[1:]
        out.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(ch), sig.encode(), ch))
        prev = sig
    return b"".join(out)


def _chunk_len(chunks):
    return sum(len(b"%x;chunk-signature=" % len(c)) + 64 + 2 + len(c) + 2
               for c in chunks + [b""])


@pytest.mark.parametrize("tamper", [None, 1])
def test_streaming_sigv4_chunked_put(s3env, bucket, tamper):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD with per-chunk signatures."""
    body = data(200000, 230)
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]
    key = "streamed-%s" % tamper
    extra = {"content-encoding": "aws-chunked",
             "x-amz-decoded-content-length": str(len(body)),
             "content-length": str(_chunk_len(chunks))}
    st, hdrs, resp = raw_sigv4(
        s3env, "PUT", "/%s/%s" % (bucket, key), b"", s3env.ak1, s3env.sk1, extra=extra,
        payload_hash="STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        send_body=lambda skey, sig, amzdate, scope: _chunked_body(chunks, skey, sig, amzdate,
                                                                  scope, tamper))
    c = s3env.client()
    if tamper is None:
        assert st == 200, resp[:300]
        g = c.get_object(Bucket=bucket, Key=key)
        assert g["Body"].read() == body
        assert g["ETag"] == etag(body)
        assert g.get("ContentEncoding") in (None, ""), g.get("ContentEncoding")
    else:
        assert st == 403 and xml_code(resp) == "SignatureDoesNotMatch", (st, resp[:300])
        with pytest.raises(ClientError):
            c.head_object(Bucket=bucket, Key=key)


def test_signed_payload_hash_mismatch(s3env, bucket):
    """x-amz-content-sha256 is checked against the body actually received."""
    st, _, resp = raw_sigv4(s3env, "PUT", "/%s/hash" % bucket, b"the real body",
                            s3env.ak1, s3env.sk1,
                            payload_hash=hashlib.sha256(b"another body").hexdigest())
    assert st in (400, 403), resp[:300]
    assert xml_code(resp) in ("XAmzContentSHA256Mismatch", "BadDigest",
                              "SignatureDoesNotMatch"), resp[:300]
    with pytest.raises(ClientError):
        s3env.client().head_object(Bucket=bucket, Key="hash")
    st, _, resp = raw_sigv4(s3env, "PUT", "/%s/hash" % bucket, b"the real body",
                            s3env.ak1, s3env.sk1)
    assert st == 200, resp[:300]
    st, _, resp = raw_sigv4(s3env, "PUT", "/%s/unsigned" % bucket, b"unsigned body",
                            s3env.ak1, s3env.sk1, payload_hash="UNSIGNED-PAYLOAD")
    assert st == 200, resp[:300]
    assert s3env.client().get_object(Bucket=bucket, Key="unsigned")["Body"].read() == \
        b"unsigned body"


# ---------------------------------------------------------------- storage behaviour

def test_overwrite_is_atomic_for_readers(s3env, bucket):
    """Readers racing an overwriter always see one whole version."""
    c = s3env.client()
    versions = [data(4 * MiB + i, 240 + i) for i in range(3)]
    digests = {hashlib.sha256(v).hexdigest(): i for i, v in enumerate(versions)}
    c.put_object(Bucket=bucket, Key="hot", Body=versions[0])
    stop = time.time() + 6
    seen, bad = [], []

    def writer():
        n = 0
        while time.time() < stop:
            n += 1
            s3env.client().put_object(Bucket=bucket, Key="hot", Body=versions[n % 3])
        return n

    def reader():
        rc = s3env.client()
        while time.time() < stop:
            g = rc.get_object(Bucket=bucket, Key="hot")
            body = g["Body"].read()
            d = hashlib.sha256(body).hexdigest()
            if d not in digests:
                bad.append((len(body), g["ContentLength"], g["ETag"]))
            else:
                seen.append(digests[d])
                if g["ETag"] != etag(versions[digests[d]]):
                    bad.append(("etag of another version", g["ETag"]))
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        w = ex.submit(writer)
        rs = [ex.submit(reader) for _ in range(3)]
        writes = w.result()
        for r in rs:
            r.result()
    assert not bad, bad[:5]
    assert writes >= 3 and len(set(seen)) >= 2, (writes, set(seen))


def _rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def test_memory_does_not_grow_with_object_size(s3env, bucket, tmp_path):
    """A 384 MiB PUT and GET must stream: the daemon's peak RSS stays far below it."""
    pid = s3env.walrus.proc.pid
    size = 384 * MiB
    src = make_file(tmp_path, "huge.bin", size, 250)
    c = s3env.client()
    put = c.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "huge"})
    status, _, body = curl("-T", src, put, timeout=600)
    assert status == 200, body[:300]
    get = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "huge"})
    out = str(tmp_path / "huge.back")
    status, _, _ = curl(get, data_out=out, timeout=600)
    assert status == 200
    assert sha256_file(out) == sha256_file(src)
    peak = _rss_kib(pid, "VmHWM")
    assert peak < 160 * 1024, "peak RSS %d KiB after a %d MiB PUT+GET" % (peak, size // MiB)
    c.delete_object(Bucket=bucket, Key="huge")


def test_oversized_requests_are_refused_not_fatal(s3env, bucket):
    """Header, URL and body limits answer with an error; the daemon lives on."""
    conn = http.client.HTTPConnection("127.0.0.1", s3env.port, timeout=30)
    try:
        conn.request("GET", "/%s/k" % bucket, headers={"X-Big": "a" * (1 << 20)})
        r = conn.getresponse()
        r.read()
        assert 400 <= r.status < 500, r.status
    except (ConnectionError, http.client.HTTPException):
        pass    # closing the connection is an acceptable refusal too
    finally:
        conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", s3env.port, timeout=30)
    try:
        conn.request("GET", "/%s/%s" % (bucket, "k" * (1 << 20)))
        r = conn.getresponse()
        r.read()
        assert 400 <= r.status < 500, r.status
    except (ConnectionError, http.client.HTTPException):
        pass
    finally:
        conn.close()
    # A key longer than S3's 1024-byte limit.
    with pytest.raises(ClientError) as e:
        s3env.client().put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")
    assert boto_code(e) == "KeyTooLongError" and boto_status(e) == 400
    # Still serving.
    s3env.client().put_object(Bucket=bucket, Key="after", Body=b"alive")
    assert s3env.client().get_object(Bucket=bucket, Key="after")["Body"].read() == b"alive"


def _object_files(home):
    """{path: bytes} of every object file under $OVERCAST_HOME/walrus/objects/."""
    out = {}
    root = os.path.join(home, "walrus", "objects")
    for d, _, names in os.walk(root):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                out[os.path.join(d, n)] = f.read()
    return out


def test_inline_limit_is_configurable(s3env, bucket):
    """By default a 1000-byte object lives inside walrus.db (no file appears);
    with WALRUS_INLINE_MAX=0 the same PUT gets a file of its own holding
    exactly its bytes, and objects stored either way read back after the
    restarts."""
    c = s3env.client()
    inline_body, file_body = b"i" * 1000, b"f" * 1000
    before = _object_files(s3env.home)
    c.put_object(Bucket=bucket, Key="inline", Body=inline_body)
    assert _object_files(s3env.home).keys() == before.keys()

    w = s3env.walrus
    w.stop()
    w.extra_env["OVERCAST_WALRUS_INLINE_MAX"] = "0"
    try:
        w.start()
        c.put_object(Bucket=bucket, Key="file", Body=file_body)
        new = {p: b for p, b in _object_files(s3env.home).items() if p not in before}
        assert list(new.values()) == [file_body], new.keys()
        assert c.get_object(Bucket=bucket, Key="inline")["Body"].read() == inline_body
    finally:
        w.stop()
        del w.extra_env["OVERCAST_WALRUS_INLINE_MAX"]
        w.start()
    assert c.get_object(Bucket=bucket, Key="file")["Body"].read() == file_body
    assert c.get_object(Bucket=bucket, Key="inline")["Body"].read() == inline_body
    # An out-of-range limit stops the daemon at start-up with a clear message.
    w.stop()
    w.extra_env["OVERCAST_WALRUS_INLINE_MAX"] = "65537"
    try:
        with pytest.raises(Exception) as exc:
            w.start()
        assert "WALRUS_INLINE_MAX" in str(exc.value)
    finally:
        w.kill()
        del w.extra_env["OVERCAST_WALRUS_INLINE_MAX"]
        w.start()



def _walrus_pages(home):
    """(page_count, freelist_count) of walrus.db, read beside the daemon."""
    import sqlite3
    path = os.path.join(home, "walrus", "walrus.db")
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        return tuple(db.execute("PRAGMA %s" % p).fetchone()[0]
                     for p in ("page_count", "freelist_count"))
    finally:
        db.close()


def test_deleted_inline_objects_give_space_back(s3env, bucket):
    """Small objects live in walrus.db.  Once deletes have freed at least
    8 MiB (2048 pages) and a quarter of it, the daemon hands the pages back
    to the filesystem on its own (no restart, no admin call): the file
    shrinks by what was freed, less at most the 2048 pages below which freed
    pages are only reused, and the objects kept read back exactly."""
    c = s3env.client()
    n, size, page = 300, 64000, 4096
    bodies = {"obj-%03d" % i: os.urandom(size) for i in range(n)}
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda kv: c.put_object(Bucket=bucket, Key=kv[0], Body=kv[1]),
                      bodies.items()))
    peak, _ = _walrus_pages(s3env.home)
    assert peak * page >= n * size, peak
    keep = sorted(bodies)[::30]
    gone = [k for k in sorted(bodies) if k not in keep]
    r = c.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": k} for k in gone], "Quiet": True})
    assert not r.get("Errors"), r["Errors"]
    want = peak - (len(gone) * size) // page + 2048 + 256
    deadline = time.monotonic() + 60
    pages, free = _walrus_pages(s3env.home)
    while (pages > want or free >= 2048) and time.monotonic() < deadline:
        time.sleep(0.2)
        pages, free = _walrus_pages(s3env.home)
    assert pages <= want and free < 2048, (peak, pages, free, want)
    assert os.path.getsize(os.path.join(s3env.home, "walrus", "walrus.db")) <= \
        (peak - 2048) * page
    for k in keep:
        assert c.get_object(Bucket=bucket, Key=k)["Body"].read() == bodies[k]
    # The store keeps working on the compacted file.
    c.put_object(Bucket=bucket, Key="after", Body=b"a" * 5000)
    assert c.get_object(Bucket=bucket, Key="after")["Body"].read() == b"a" * 5000
