"""awscli v2 (`aws s3api` and `aws s3`) against a real overcast-walrus.

Every S3 operation of issue 2 is driven through the Debian awscli v2, so the
requests are exactly what that client signs and sends.
"""

import json
import os
from datetime import datetime, timedelta

import pytest

from conftest import cleanup_bucket, unique
from s3util import (aws_error, aws_json, data, etag, make_file, md5b64, multipart_etag,
                    multipart_etag_file, read, sha256, sha256_file, write)

MiB = 1024 * 1024


def api(env, *args, profile="default"):
    return aws_json(env.aws("s3api", *args, profile=profile))


def api_err(env, *args, profile="default"):
    return aws_error(env.aws("s3api", *args, profile=profile, check=False))


# ---------------------------------------------------------------- buckets

def test_create_list_head_location_delete(s3env):
    name = unique("cli")
    api(s3env, "create-bucket", "--bucket", name)
    names = [b["Name"] for b in api(s3env, "list-buckets")["Buckets"]]
    assert name in names
    lb = api(s3env, "list-buckets")
    assert lb["Owner"]["ID"], lb
    assert s3env.aws("s3api", "head-bucket", "--bucket", name).returncode == 0
    loc = api(s3env, "get-bucket-location", "--bucket", name)
    assert loc.get("LocationConstraint") in (None, ""), loc
    api(s3env, "delete-bucket", "--bucket", name)
    assert api_err(s3env, "head-bucket", "--bucket", name) == "404"
    assert name not in [b["Name"] for b in api(s3env, "list-buckets")["Buckets"]]


def test_list_buckets_scoped_to_account(s3env):
    name = unique("cli")
    api(s3env, "create-bucket", "--bucket", name)
    try:
        mine = [b["Name"] for b in api(s3env, "list-buckets", profile="user2")["Buckets"]]
        assert name not in mine
    finally:
        api(s3env, "delete-bucket", "--bucket", name)


@pytest.mark.parametrize("bad", [
    "ab",                      # too short
    "a" * 64,                  # too long
    "UpperCase-bucket",        # upper case
    "under_score",             # underscore
    "-leading-dash",
    "trailing-dash-",
    "double..dots",
    "192.168.10.20",           # formatted like an IP address
])
def test_create_bucket_bad_name(s3env, bad):
    assert api_err(s3env, "create-bucket", "--bucket=" + bad) == "InvalidBucketName"


def test_create_bucket_already_exists(s3env):
    name = unique("cli")
    api(s3env, "create-bucket", "--bucket", name)
    try:
        assert api_err(s3env, "create-bucket", "--bucket", name) == "BucketAlreadyOwnedByYou"
        assert api_err(s3env, "create-bucket", "--bucket", name,
                       profile="user2") == "BucketAlreadyExists"
    finally:
        api(s3env, "delete-bucket", "--bucket", name)


def test_missing_bucket(s3env):
    name = unique("nope")
    assert api_err(s3env, "head-bucket", "--bucket", name) == "404"
    assert api_err(s3env, "list-objects-v2", "--bucket", name) == "NoSuchBucket"
    assert api_err(s3env, "get-bucket-location", "--bucket", name) == "NoSuchBucket"
    assert api_err(s3env, "delete-bucket", "--bucket", name) == "NoSuchBucket"
    assert api_err(s3env, "put-object", "--bucket", name, "--key", "k") == "NoSuchBucket"


def test_head_bucket_other_account(s3env, bucket):
    assert api_err(s3env, "head-bucket", "--bucket", bucket, profile="user2") == "403"


def test_delete_bucket_not_empty(s3env, tmp_path):
    name = unique("cli")
    api(s3env, "create-bucket", "--bucket", name)
    f = write(tmp_path / "f", b"x")
    api(s3env, "put-object", "--bucket", name, "--key", "k", "--body", f)
    assert api_err(s3env, "delete-bucket", "--bucket", name) == "BucketNotEmpty"
    api(s3env, "delete-object", "--bucket", name, "--key", "k")
    api(s3env, "delete-bucket", "--bucket", name)
    assert api_err(s3env, "head-bucket", "--bucket", name) == "404"


# ---------------------------------------------------------------- objects

def test_put_head_get_metadata(s3env, bucket, tmp_path):
    body = data(3000, 1)
    f = write(tmp_path / "in", body)
    r = api(s3env, "put-object", "--bucket", bucket, "--key", "meta/obj.bin", "--body", f,
            "--content-type", "application/x-test", "--cache-control", "max-age=60",
            "--content-disposition", "attachment; filename=\"x.bin\"",
            "--content-language", "en-GB", "--content-encoding", "identity",
            "--expires", "2030-01-01T00:00:00Z",
            "--metadata", json.dumps({"Color": "blue", "x-y": "Z z"}))
    assert r["ETag"] == etag(body)
    h = api(s3env, "head-object", "--bucket", bucket, "--key", "meta/obj.bin")
    assert h["ContentLength"] == 3000
    assert h["ETag"] == etag(body)
    assert h["ContentType"] == "application/x-test"
    assert h["CacheControl"] == "max-age=60"
    assert h["ContentDisposition"] == "attachment; filename=\"x.bin\""
    assert h["ContentLanguage"] == "en-GB"
    assert h["ContentEncoding"] == "identity"
    assert "2030-01-01" in str(h.get("Expires")), h
    assert h["Metadata"] == {"color": "blue", "x-y": "Z z"}
    assert h.get("LastModified")
    out = str(tmp_path / "out")
    g = api(s3env, "get-object", "--bucket", bucket, "--key", "meta/obj.bin", out)
    assert read(out) == body
    assert g["ContentType"] == "application/x-test"
    assert g["Metadata"] == {"color": "blue", "x-y": "Z z"}
    assert g["ETag"] == etag(body)


def test_put_odd_key_names(s3env, bucket, tmp_path):
    keys = ["dir/sub dir/\u00fc file+plus&amp=eq.txt", "a%2Fb", "semi;colon,comma",
            "~tilde!*'()", "trailing/", "(paren) [bracket] {brace}", "x" * 900]
    for i, k in enumerate(keys):
        body = data(100 + i, i)
        api(s3env, "put-object", "--bucket", bucket, "--key", k,
            "--body", write(tmp_path / ("in%d" % i), body))
        out = str(tmp_path / ("out%d" % i))
        api(s3env, "get-object", "--bucket", bucket, "--key", k, out)
        assert read(out) == body, k
    listed = [o["Key"] for o in api(s3env, "list-objects-v2", "--bucket", bucket)["Contents"]]
    assert sorted(listed) == sorted(keys)


def test_put_content_md5(s3env, bucket, tmp_path):
    body = b"hello content-md5\n"
    f = write(tmp_path / "in", body)
    r = api(s3env, "put-object", "--bucket", bucket, "--key", "md5ok", "--body", f,
            "--content-md5", md5b64(body))
    assert r["ETag"] == etag(body)
    # Well-formed digest of other bytes: BadDigest, and nothing is stored.
    assert api_err(s3env, "put-object", "--bucket", bucket, "--key", "md5bad", "--body", f,
                   "--content-md5", md5b64(b"other")) == "BadDigest"
    assert api_err(s3env, "head-object", "--bucket", bucket, "--key", "md5bad") == "404"
    # Not a 16-byte base64 digest at all: InvalidDigest.
    assert api_err(s3env, "put-object", "--bucket", bucket, "--key", "md5bad", "--body", f,
                   "--content-md5", "bm90IGFuIG1kNQ==") == "InvalidDigest"
    # A failed overwrite leaves the old object alone.
    assert api_err(s3env, "put-object", "--bucket", bucket, "--key", "md5ok", "--body", f,
                   "--content-md5", md5b64(b"other")) == "BadDigest"
    assert api(s3env, "head-object", "--bucket", bucket, "--key", "md5ok")["ETag"] == etag(body)


def test_empty_object(s3env, bucket, tmp_path):
    f = write(tmp_path / "in", b"")
    r = api(s3env, "put-object", "--bucket", bucket, "--key", "empty", "--body", f)
    assert r["ETag"] == etag(b"")
    out = str(tmp_path / "out")
    g = api(s3env, "get-object", "--bucket", bucket, "--key", "empty", out)
    assert g["ContentLength"] == 0 and read(out) == b""


@pytest.fixture
def thousand(s3env, bucket, tmp_path):
    body = data(1000, 7)
    api(s3env, "put-object", "--bucket", bucket, "--key", "r", "--body",
        write(tmp_path / "in", body))
    return bucket, body


@pytest.mark.parametrize("rng,start,end", [
    ("bytes=0-9", 0, 9),
    ("bytes=10-10", 10, 10),
    ("bytes=990-", 990, 999),
    ("bytes=-5", 995, 999),
    ("bytes=-1000", 0, 999),
    ("bytes=-5000", 0, 999),        # suffix longer than the object: whole object
    ("bytes=995-2000", 995, 999),   # end past the end is clamped
])
def test_get_range(s3env, thousand, tmp_path, rng, start, end):
    bucket, body = thousand
    out = str(tmp_path / "out")
    g = api(s3env, "get-object", "--bucket", bucket, "--key", "r", "--range", rng, out)
    assert read(out) == body[start:end + 1]
    assert g["ContentLength"] == end - start + 1
    assert g["ContentRange"] == "bytes %d-%d/1000" % (start, end)


@pytest.mark.parametrize("rng", ["bytes=1000-", "bytes=1000-1100", "bytes=5000-6000"])
def test_get_range_unsatisfiable(s3env, thousand, tmp_path, rng):
    bucket, _ = thousand
    assert api_err(s3env, "get-object", "--bucket", bucket, "--key", "r", "--range", rng,
                   str(tmp_path / "out")) == "InvalidRange"


def test_get_conditionals(s3env, thousand, tmp_path):
    bucket, body = thousand
    out = str(tmp_path / "out")
    tag = etag(body)
    g = api(s3env, "get-object", "--bucket", bucket, "--key", "r", "--if-match", tag, out)
    assert read(out) == body
    assert api_err(s3env, "get-object", "--bucket", bucket, "--key", "r", "--if-match",
                   '"0123456789abcdef0123456789abcdef"', out) == "PreconditionFailed"
    assert api_err(s3env, "get-object", "--bucket", bucket, "--key", "r", "--if-none-match",
                   tag, out) == "304"
    api(s3env, "get-object", "--bucket", bucket, "--key", "r", "--if-none-match",
        '"0123456789abcdef0123456789abcdef"', out)
    assert read(out) == body
    lm = g["LastModified"]
    lm_dt = datetime.strptime(lm, "%Y-%m-%dT%H:%M:%S%z") if "T" in lm else None
    assert lm_dt is not None, lm
    assert api_err(s3env, "get-object", "--bucket", bucket, "--key", "r",
                   "--if-modified-since", lm_dt.isoformat(), out) == "304"
    earlier = (lm_dt - timedelta(days=1)).isoformat()
    api(s3env, "get-object", "--bucket", bucket, "--key", "r", "--if-modified-since",
        earlier, out)
    assert read(out) == body
    # The same conditions on HEAD.
    assert api_err(s3env, "head-object", "--bucket", bucket, "--key", "r", "--if-match",
                   '"0123456789abcdef0123456789abcdef"') == "412"
    assert api_err(s3env, "head-object", "--bucket", bucket, "--key", "r",
                   "--if-none-match", tag) == "304"


def test_missing_key(s3env, bucket, tmp_path):
    assert api_err(s3env, "get-object", "--bucket", bucket, "--key", "nope",
                   str(tmp_path / "o")) == "NoSuchKey"
    assert api_err(s3env, "head-object", "--bucket", bucket, "--key", "nope") == "404"
    # Deleting a missing key is not an error in S3.
    api(s3env, "delete-object", "--bucket", bucket, "--key", "nope")


def test_overwrite_and_delete(s3env, bucket, tmp_path):
    for i in range(3):
        body = data(5000 + i, 100 + i)
        api(s3env, "put-object", "--bucket", bucket, "--key", "ow",
            "--body", write(tmp_path / "in", body))
        out = str(tmp_path / "out")
        api(s3env, "get-object", "--bucket", bucket, "--key", "ow", out)
        assert read(out) == body
    api(s3env, "delete-object", "--bucket", bucket, "--key", "ow")
    assert api_err(s3env, "head-object", "--bucket", bucket, "--key", "ow") == "404"


def test_copy_object_copy_and_replace(s3env, bucket, tmp_path):
    body = data(20000, 3)
    api(s3env, "put-object", "--bucket", bucket, "--key", "src", "--body",
        write(tmp_path / "in", body), "--content-type", "text/x-src",
        "--metadata", json.dumps({"origin": "source"}))
    # COPY (the default): bytes, content type and metadata all come along.
    r = api(s3env, "copy-object", "--bucket", bucket, "--key", "dst-copy",
            "--copy-source", "%s/src" % bucket)
    assert r["CopyObjectResult"]["ETag"] == etag(body)
    h = api(s3env, "head-object", "--bucket", bucket, "--key", "dst-copy")
    assert h["ContentType"] == "text/x-src"
    assert h["Metadata"] == {"origin": "source"}
    assert h["ETag"] == etag(body)
    out = str(tmp_path / "out")
    api(s3env, "get-object", "--bucket", bucket, "--key", "dst-copy", out)
    assert read(out) == body
    # Explicit COPY ignores metadata given in the request.
    api(s3env, "copy-object", "--bucket", bucket, "--key", "dst-copy2", "--copy-source",
        "%s/src" % bucket, "--metadata-directive", "COPY")
    h = api(s3env, "head-object", "--bucket", bucket, "--key", "dst-copy2")
    assert h["Metadata"] == {"origin": "source"}
    # REPLACE: the request's headers win.
    api(s3env, "copy-object", "--bucket", bucket, "--key", "dst-repl",
        "--copy-source", "%s/src" % bucket, "--metadata-directive", "REPLACE",
        "--content-type", "text/x-new", "--metadata", json.dumps({"new": "yes"}))
    h = api(s3env, "head-object", "--bucket", bucket, "--key", "dst-repl")
    assert h["ContentType"] == "text/x-new"
    assert h["Metadata"] == {"new": "yes"}
    assert h["ETag"] == etag(body)
    # Copy onto itself with REPLACE changes metadata in place.
    api(s3env, "copy-object", "--bucket", bucket, "--key", "src",
        "--copy-source", "%s/src" % bucket, "--metadata-directive", "REPLACE",
        "--metadata", json.dumps({"origin": "self"}))
    h = api(s3env, "head-object", "--bucket", bucket, "--key", "src")
    assert h["Metadata"] == {"origin": "self"}
    api(s3env, "get-object", "--bucket", bucket, "--key", "src", out)
    assert read(out) == body


def test_copy_object_across_buckets_and_errors(s3env, bucket, tmp_path):
    other = unique("cli")
    api(s3env, "create-bucket", "--bucket", other)
    try:
        body = data(1234, 9)
        api(s3env, "put-object", "--bucket", bucket, "--key", "a b/src+1",
            "--body", write(tmp_path / "in", body))
        api(s3env, "copy-object", "--bucket", other, "--key", "copied",
            "--copy-source", "%s/a b/src+1" % bucket)
        out = str(tmp_path / "out")
        api(s3env, "get-object", "--bucket", other, "--key", "copied", out)
        assert read(out) == body
        assert api_err(s3env, "copy-object", "--bucket", other, "--key", "x",
                       "--copy-source", "%s/missing" % bucket) == "NoSuchKey"
        assert api_err(s3env, "copy-object", "--bucket", other, "--key", "x",
                       "--copy-source", "%s/k" % unique("nope")) == "NoSuchBucket"
        # Account 2 may not copy account 1's private object into its own bucket.
        b2 = unique("cli2")
        api(s3env, "create-bucket", "--bucket", b2, profile="user2")
        try:
            assert api_err(s3env, "copy-object", "--bucket", b2, "--key", "stolen",
                           "--copy-source", "%s/a b/src+1" % bucket,
                           profile="user2") == "AccessDenied"
        finally:
            api(s3env, "delete-bucket", "--bucket", b2, profile="user2")
    finally:
        cleanup_bucket(s3env, other)


# ---------------------------------------------------------------- listings

LIST_KEYS = ["docs/readme.txt", "docs/x/y.txt", "photos/2020/feb/b.jpg",
             "photos/2020/jan/a.jpg", "photos/2021/c.jpg", "photos/d.jpg", "top.txt", "zeta"]


@pytest.fixture(scope="module")
def listing_bucket(s3env, tmp_path_factory):
    name = unique("list")
    c = s3env.client()
    c.create_bucket(Bucket=name)
    for i, k in enumerate(LIST_KEYS):
        c.put_object(Bucket=name, Key=k, Body=data(10 + i, i))
    yield name
    cleanup_bucket(s3env, name)


def _keys(r):
    return [o["Key"] for o in r.get("Contents", [])]


def _prefixes(r):
    return [p["Prefix"] for p in r.get("CommonPrefixes", [])]


def test_list_v2_plain(s3env, listing_bucket):
    # --no-paginate: awscli's merged pages drop KeyCount, StartAfter, EncodingType.
    r = api(s3env, "list-objects-v2", "--bucket", listing_bucket, "--no-paginate")
    assert _keys(r) == LIST_KEYS
    assert r["KeyCount"] == len(LIST_KEYS)
    for i, o in enumerate(r["Contents"]):
        assert o["Size"] == 10 + LIST_KEYS.index(o["Key"])
        assert o["ETag"] == etag(data(10 + LIST_KEYS.index(o["Key"]), LIST_KEYS.index(o["Key"])))
        assert o["LastModified"]


def test_list_v2_prefix_delimiter(s3env, listing_bucket):
    r = api(s3env, "list-objects-v2", "--bucket", listing_bucket, "--prefix", "photos/",
            "--delimiter", "/", "--no-paginate")
    assert _keys(r) == ["photos/d.jpg"]
    assert _prefixes(r) == ["photos/2020/", "photos/2021/"]
    assert r["KeyCount"] == 3
    r = api(s3env, "list-objects-v2", "--bucket", listing_bucket, "--delimiter", "/",
            "--no-paginate")
    assert _keys(r) == ["top.txt", "zeta"]
    assert _prefixes(r) == ["docs/", "photos/"]
    assert r["KeyCount"] == 4
    r = api(s3env, "list-objects-v2", "--bucket", listing_bucket, "--prefix", "nothing/",
            "--no-paginate")
    assert _keys(r) == [] and r.get("KeyCount") == 0
    r = api(s3env, "list-objects-v2", "--bucket", listing_bucket, "--prefix", "pho")
    assert _keys(r) == [k for k in LIST_KEYS if k.startswith("pho")]


def test_list_v2_paging_tokens(s3env, listing_bucket):
    seen, token, pages = [], None, 0
    while True:
        args = ["list-objects-v2", "--bucket", listing_bucket, "--max-keys", "3",
                "--no-paginate"]
        if token:
            args += ["--continuation-token", token]
        r = api(s3env, *args)
        pages += 1
        assert r["KeyCount"] == len(_keys(r)) <= 3
        assert r["MaxKeys"] == 3
        seen += _keys(r)
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        token = r["NextContinuationToken"]
        assert pages < 10
    assert seen == LIST_KEYS and pages == 3


def test_list_v2_paging_with_delimiter_counts_prefixes(s3env, listing_bucket):
    seen, token = [], None
    for _ in range(10):
        args = ["list-objects-v2", "--bucket", listing_bucket, "--max-keys", "1",
                "--delimiter", "/", "--no-paginate"]
        if token:
            args += ["--continuation-token", token]
        r = api(s3env, *args)
        assert r["KeyCount"] == 1
        seen += _prefixes(r) + _keys(r)
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert seen == ["docs/", "photos/", "top.txt", "zeta"]


def test_list_v2_start_after_and_autopaginate(s3env, listing_bucket):
    r = api(s3env, "list-objects-v2", "--bucket", listing_bucket, "--start-after",
            "photos/2020/jan/a.jpg", "--no-paginate")
    assert _keys(r) == LIST_KEYS[4:]
    assert r.get("StartAfter") == "photos/2020/jan/a.jpg"
    # awscli follows the tokens itself with --page-size.
    r = api(s3env, "list-objects-v2", "--bucket", listing_bucket, "--page-size", "2")
    assert _keys(r) == LIST_KEYS


def test_list_v2_max_keys_zero(s3env, listing_bucket):
    r = api(s3env, "list-objects-v2", "--bucket", listing_bucket, "--max-keys", "0",
            "--no-paginate")
    assert _keys(r) == [] and r.get("KeyCount") == 0


def test_list_v1(s3env, listing_bucket):
    r = api(s3env, "list-objects", "--bucket", listing_bucket)
    assert _keys(r) == LIST_KEYS
    r = api(s3env, "list-objects", "--bucket", listing_bucket, "--prefix", "docs/",
            "--delimiter", "/")
    assert _keys(r) == ["docs/readme.txt"] and _prefixes(r) == ["docs/x/"]
    seen, marker = [], None
    for _ in range(10):
        args = ["list-objects", "--bucket", listing_bucket, "--max-keys", "3", "--no-paginate"]
        if marker:
            args += ["--marker", marker]
        r = api(s3env, *args)
        seen += _keys(r)
        if not r["IsTruncated"]:
            break
        marker = r.get("NextMarker") or _keys(r)[-1]
    assert seen == LIST_KEYS
    # With a delimiter NextMarker must be given (it may be a prefix).
    seen, marker = [], None
    for _ in range(10):
        args = ["list-objects", "--bucket", listing_bucket, "--max-keys", "1",
                "--delimiter", "/", "--no-paginate"]
        if marker:
            args += ["--marker", marker]
        r = api(s3env, *args)
        seen += _prefixes(r) + _keys(r)
        if not r["IsTruncated"]:
            break
        assert r.get("NextMarker"), r
        marker = r["NextMarker"]
    assert seen == ["docs/", "photos/", "top.txt", "zeta"]
    r = api(s3env, "list-objects", "--bucket", listing_bucket, "--page-size", "3")
    assert _keys(r) == LIST_KEYS


def test_list_encoding_type_url(s3env, bucket):
    from urllib.parse import unquote_plus
    c = s3env.client()
    keys = ["a b/c+d&e.txt", "p%q/r", "\u00e9t\u00e9/\u00fc", "x<y>z"]
    for k in keys:
        c.put_object(Bucket=bucket, Key=k, Body=b"1")
    # Explicit --encoding-type: awscli leaves the encoded names alone.
    for op in ("list-objects-v2", "list-objects"):
        r = api(s3env, op, "--bucket", bucket, "--encoding-type", "url", "--no-paginate")
        assert r.get("EncodingType") == "url", r
        raw = _keys(r)
        assert sorted(unquote_plus(k) for k in raw) == sorted(keys), raw
        assert not any(ch in k for k in raw for ch in " &<>"), raw
        r = api(s3env, op, "--bucket", bucket, "--encoding-type", "url", "--delimiter", "/",
                "--no-paginate")
        assert sorted(unquote_plus(p) for p in _prefixes(r)) == sorted(
            ["a b/", "p%q/", "\u00e9t\u00e9/"]), r
    # Without the option awscli asks for url encoding itself and decodes it.
    r = api(s3env, "list-objects-v2", "--bucket", bucket)
    assert sorted(_keys(r)) == sorted(keys)


def test_list_object_versions_unversioned(s3env, listing_bucket):
    r = api(s3env, "list-object-versions", "--bucket", listing_bucket)
    vs = r.get("Versions", [])
    assert [v["Key"] for v in vs] == LIST_KEYS
    for v in vs:
        assert v["VersionId"] == "null" and v["IsLatest"] is True
        assert v["Size"] == 10 + LIST_KEYS.index(v["Key"])
    assert not r.get("DeleteMarkers")
    r = api(s3env, "list-object-versions", "--bucket", listing_bucket, "--prefix", "photos/",
            "--delimiter", "/")
    assert [v["Key"] for v in r.get("Versions", [])] == ["photos/d.jpg"]
    assert _prefixes(r) == ["photos/2020/", "photos/2021/"]


def test_delete_objects(s3env, bucket, tmp_path):
    f = write(tmp_path / "in", b"z")
    for k in ("d1", "d2", "d3", "d4"):
        api(s3env, "put-object", "--bucket", bucket, "--key", k, "--body", f)
    r = api(s3env, "delete-objects", "--bucket", bucket, "--delete",
            json.dumps({"Objects": [{"Key": "d1"}, {"Key": "d2"}, {"Key": "never-was"}],
                        "Quiet": False}))
    assert sorted(d["Key"] for d in r.get("Deleted", [])) == ["d1", "d2", "never-was"]
    assert not r.get("Errors")
    r = api(s3env, "delete-objects", "--bucket", bucket, "--delete",
            json.dumps({"Objects": [{"Key": "d3"}], "Quiet": True}))
    assert not r.get("Deleted") and not r.get("Errors")
    left = _keys(api(s3env, "list-objects-v2", "--bucket", bucket))
    assert left == ["d4"]


def test_delete_objects_other_account(s3env, bucket, tmp_path):
    api(s3env, "put-object", "--bucket", bucket, "--key", "keep", "--body",
        write(tmp_path / "in", b"k"))
    p = s3env.aws("s3api", "delete-objects", "--bucket", bucket, "--delete",
                  json.dumps({"Objects": [{"Key": "keep"}]}), profile="user2", check=False)
    if p.returncode == 0:
        r = aws_json(p)
        assert not r.get("Deleted"), r
        assert [e["Code"] for e in r.get("Errors", [])] == ["AccessDenied"], r
    else:
        assert aws_error(p) == "AccessDenied"
    assert _keys(api(s3env, "list-objects-v2", "--bucket", bucket)) == ["keep"]


# ---------------------------------------------------------------- multipart

def _mpu_json(tmp_path, parts):
    path = tmp_path / "mpu.json"
    path.write_text(json.dumps({"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]}))
    return "file://%s" % path


def _upload_parts(env, bucket, key, uid, bodies, tmp_path):
    tags = []
    for i, b in enumerate(bodies, 1):
        r = api(env, "upload-part", "--bucket", bucket, "--key", key, "--upload-id", uid,
                "--part-number", str(i), "--body", write(tmp_path / ("p%d" % i), b))
        assert r["ETag"] == etag(b)
        tags.append((i, r["ETag"]))
    return tags


def test_multipart_full_cycle(s3env, bucket, tmp_path):
    key = "mp/big object"
    r = api(s3env, "create-multipart-upload", "--bucket", bucket, "--key", key,
            "--content-type", "application/x-mp", "--metadata", json.dumps({"m": "1"}))
    uid = r["UploadId"]
    assert r["Key"] == key and r["Bucket"] == bucket
    ups = api(s3env, "list-multipart-uploads", "--bucket", bucket)
    assert [(u["Key"], u["UploadId"]) for u in ups["Uploads"]] == [(key, uid)]
    bodies = [data(5 * MiB, 11), data(5 * MiB + 7, 12), data(12345, 13)]
    tags = _upload_parts(s3env, bucket, key, uid, bodies, tmp_path)
    # Re-uploading a part replaces it.
    bodies[1] = data(5 * MiB + 9, 14)
    tags[1] = (2, api(s3env, "upload-part", "--bucket", bucket, "--key", key, "--upload-id",
                      uid, "--part-number", "2", "--body",
                      write(tmp_path / "p2b", bodies[1]))["ETag"])
    lp = api(s3env, "list-parts", "--bucket", bucket, "--key", key, "--upload-id", uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp["Parts"]] == \
        [(n, e, len(b)) for (n, e), b in zip(tags, bodies)]
    # Paged list-parts.
    lp = api(s3env, "list-parts", "--bucket", bucket, "--key", key, "--upload-id", uid,
             "--max-parts", "2", "--no-paginate")
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2] and lp["IsTruncated"]
    lp = api(s3env, "list-parts", "--bucket", bucket, "--key", key, "--upload-id", uid,
             "--part-number-marker", str(lp["NextPartNumberMarker"]), "--no-paginate")
    assert [p["PartNumber"] for p in lp["Parts"]] == [3] and not lp["IsTruncated"]
    # The object is not visible before completion.
    assert api_err(s3env, "head-object", "--bucket", bucket, "--key", key) == "404"
    r = api(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
            "--upload-id", uid, "--multipart-upload", _mpu_json(tmp_path, tags))
    assert r["ETag"] == multipart_etag(bodies)
    h = api(s3env, "head-object", "--bucket", bucket, "--key", key)
    assert h["ETag"] == multipart_etag(bodies)
    assert h["ContentLength"] == sum(map(len, bodies))
    assert h["ContentType"] == "application/x-mp"
    assert h["Metadata"] == {"m": "1"}
    out = str(tmp_path / "out")
    api(s3env, "get-object", "--bucket", bucket, "--key", key, out)
    assert sha256_file(out) == sha256(b"".join(bodies))
    # A range across the part boundary.
    api(s3env, "get-object", "--bucket", bucket, "--key", key, "--range",
        "bytes=%d-%d" % (5 * MiB - 10, 5 * MiB + 9), out)
    assert read(out) == b"".join(bodies)[5 * MiB - 10:5 * MiB + 10]
    assert not api(s3env, "list-multipart-uploads", "--bucket", bucket).get("Uploads")
    assert api_err(s3env, "list-parts", "--bucket", bucket, "--key", key, "--upload-id",
                   uid) == "NoSuchUpload"


def test_multipart_upload_part_copy(s3env, bucket, tmp_path):
    src = data(11 * MiB, 21)
    s3env.client().put_object(Bucket=bucket, Key="copysrc", Body=src)
    key = "mp-copied"
    uid = api(s3env, "create-multipart-upload", "--bucket", bucket, "--key", key)["UploadId"]
    r1 = api(s3env, "upload-part-copy", "--bucket", bucket, "--key", key, "--upload-id", uid,
             "--part-number", "1", "--copy-source", "%s/copysrc" % bucket,
             "--copy-source-range", "bytes=0-%d" % (6 * MiB - 1))
    assert r1["CopyPartResult"]["ETag"] == etag(src[:6 * MiB])
    r2 = api(s3env, "upload-part-copy", "--bucket", bucket, "--key", key, "--upload-id", uid,
             "--part-number", "2", "--copy-source", "%s/copysrc" % bucket,
             "--copy-source-range", "bytes=%d-%d" % (6 * MiB, 11 * MiB - 1))
    tail = b"tail part written by upload-part"
    r3 = api(s3env, "upload-part", "--bucket", bucket, "--key", key, "--upload-id", uid,
             "--part-number", "3", "--body", write(tmp_path / "t", tail))
    # A whole-object copy part (no range).
    tags = [(1, r1["CopyPartResult"]["ETag"]), (2, r2["CopyPartResult"]["ETag"]),
            (3, r3["ETag"])]
    r = api(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
            "--upload-id", uid, "--multipart-upload", _mpu_json(tmp_path, tags))
    expect = [src[:6 * MiB], src[6 * MiB:], tail]
    assert r["ETag"] == multipart_etag(expect)
    out = str(tmp_path / "out")
    api(s3env, "get-object", "--bucket", bucket, "--key", key, out)
    assert sha256_file(out) == sha256(b"".join(expect))


def test_multipart_upload_part_copy_bad_range(s3env, bucket):
    s3env.client().put_object(Bucket=bucket, Key="small", Body=b"0123456789")
    uid = api(s3env, "create-multipart-upload", "--bucket", bucket, "--key", "k")["UploadId"]
    assert api_err(s3env, "upload-part-copy", "--bucket", bucket, "--key", "k", "--upload-id",
                   uid, "--part-number", "1", "--copy-source", "%s/small" % bucket,
                   "--copy-source-range", "bytes=5-100") in ("InvalidRange", "InvalidArgument")
    api(s3env, "abort-multipart-upload", "--bucket", bucket, "--key", "k", "--upload-id", uid)


def test_multipart_errors(s3env, bucket, tmp_path):
    key = "mp-err"
    uid = api(s3env, "create-multipart-upload", "--bucket", bucket, "--key", key)["UploadId"]
    bodies = [data(5 * MiB, 31), data(5 * MiB, 32), data(100, 33)]
    tags = _upload_parts(s3env, bucket, key, uid, bodies, tmp_path)
    # Wrong ETag for part 2.
    bad = list(tags)
    bad[1] = (2, '"0123456789abcdef0123456789abcdef"')
    assert api_err(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
                   "--upload-id", uid, "--multipart-upload",
                   _mpu_json(tmp_path, bad)) == "InvalidPart"
    # A part that was never uploaded.
    assert api_err(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
                   "--upload-id", uid, "--multipart-upload",
                   _mpu_json(tmp_path, tags + [(4, tags[0][1])])) == "InvalidPart"
    # Not ascending.
    assert api_err(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
                   "--upload-id", uid, "--multipart-upload",
                   _mpu_json(tmp_path, [tags[1], tags[0], tags[2]])) == "InvalidPartOrder"
    # The failed completions changed nothing: the upload still completes.
    assert len(api(s3env, "list-parts", "--bucket", bucket, "--key", key, "--upload-id",
                   uid)["Parts"]) == 3
    assert api_err(s3env, "head-object", "--bucket", bucket, "--key", key) == "404"
    # Completing with a subset is allowed (parts 1 and 3).
    r = api(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
            "--upload-id", uid, "--multipart-upload",
            _mpu_json(tmp_path, [tags[0], tags[2]]))
    assert r["ETag"] == multipart_etag([bodies[0], bodies[2]])
    out = str(tmp_path / "out")
    api(s3env, "get-object", "--bucket", bucket, "--key", key, out)
    assert read(out) == bodies[0] + bodies[2]


def test_multipart_entity_too_small(s3env, bucket, tmp_path):
    key = "mp-small"
    uid = api(s3env, "create-multipart-upload", "--bucket", bucket, "--key", key)["UploadId"]
    bodies = [data(1024, 41), data(1024, 42)]
    tags = _upload_parts(s3env, bucket, key, uid, bodies, tmp_path)
    assert api_err(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
                   "--upload-id", uid, "--multipart-upload",
                   _mpu_json(tmp_path, tags)) == "EntityTooSmall"
    # A single small part is fine: it is the last one.
    r = api(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
            "--upload-id", uid, "--multipart-upload", _mpu_json(tmp_path, tags[1:]))
    assert r["ETag"] == multipart_etag(bodies[1:])


def test_multipart_abort(s3env, bucket, tmp_path):
    key = "mp-abort"
    uid = api(s3env, "create-multipart-upload", "--bucket", bucket, "--key", key)["UploadId"]
    _upload_parts(s3env, bucket, key, uid, [data(1000, 51)], tmp_path)
    api(s3env, "abort-multipart-upload", "--bucket", bucket, "--key", key, "--upload-id", uid)
    assert not api(s3env, "list-multipart-uploads", "--bucket", bucket).get("Uploads")
    assert api_err(s3env, "list-parts", "--bucket", bucket, "--key", key, "--upload-id",
                   uid) == "NoSuchUpload"
    assert api_err(s3env, "upload-part", "--bucket", bucket, "--key", key, "--upload-id", uid,
                   "--part-number", "1", "--body", write(tmp_path / "x", b"x")) == "NoSuchUpload"
    assert api_err(s3env, "complete-multipart-upload", "--bucket", bucket, "--key", key,
                   "--upload-id", uid, "--multipart-upload",
                   _mpu_json(tmp_path, [(1, etag(b"x"))])) == "NoSuchUpload"
    assert api_err(s3env, "abort-multipart-upload", "--bucket", bucket, "--key", key,
                   "--upload-id", uid) == "NoSuchUpload"
    assert api_err(s3env, "head-object", "--bucket", bucket, "--key", key) == "404"


def test_list_multipart_uploads_prefix_and_paging(s3env, bucket):
    ids = {}
    for k in ("u/a", "u/b", "u/b", "v/c"):
        uid = api(s3env, "create-multipart-upload", "--bucket", bucket, "--key", k)["UploadId"]
        ids.setdefault(k, []).append(uid)
    r = api(s3env, "list-multipart-uploads", "--bucket", bucket, "--prefix", "u/")
    assert sorted(u["Key"] for u in r["Uploads"]) == ["u/a", "u/b", "u/b"]
    seen, km, um = [], None, None
    for _ in range(10):
        args = ["list-multipart-uploads", "--bucket", bucket, "--max-uploads", "1",
                "--no-paginate"]
        if km:
            args += ["--key-marker", km, "--upload-id-marker", um]
        r = api(s3env, *args)
        seen += [(u["Key"], u["UploadId"]) for u in r.get("Uploads", [])]
        if not r["IsTruncated"]:
            break
        km, um = r["NextKeyMarker"], r["NextUploadIdMarker"]
    assert sorted(seen) == sorted((k, u) for k, us in ids.items() for u in us)
    assert [k for k, _ in seen] == ["u/a", "u/b", "u/b", "v/c"]


# ---------------------------------------------------------------- ACLs

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def _grants(acl):
    owner = acl["Owner"]["ID"]
    out = set()
    for g in acl["Grants"]:
        ge = g["Grantee"]
        if ge["Type"] == "CanonicalUser":
            out.add(("owner" if ge["ID"] == owner else ge["ID"], g["Permission"]))
        else:
            out.add((ge["URI"], g["Permission"]))
    return out


CANNED = {
    "private": {("owner", "FULL_CONTROL")},
    "public-read": {("owner", "FULL_CONTROL"), (ALL_USERS, "READ")},
    "public-read-write": {("owner", "FULL_CONTROL"), (ALL_USERS, "READ"), (ALL_USERS, "WRITE")},
    "authenticated-read": {("owner", "FULL_CONTROL"), (AUTH_USERS, "READ")},
}


@pytest.mark.parametrize("canned", sorted(CANNED))
def test_bucket_acl_canned(s3env, bucket, canned):
    api(s3env, "put-bucket-acl", "--bucket", bucket, "--acl", canned)
    acl = api(s3env, "get-bucket-acl", "--bucket", bucket)
    assert _grants(acl) == CANNED[canned]
    owner = api(s3env, "list-buckets")["Owner"]["ID"]
    assert acl["Owner"]["ID"] == owner


@pytest.mark.parametrize("canned", ["private", "public-read", "authenticated-read"])
def test_object_acl_canned(s3env, bucket, tmp_path, canned):
    f = write(tmp_path / "in", b"acl")
    api(s3env, "put-object", "--bucket", bucket, "--key", "o", "--body", f)
    assert _grants(api(s3env, "get-object-acl", "--bucket", bucket, "--key", "o")) == \
        CANNED["private"]
    api(s3env, "put-object-acl", "--bucket", bucket, "--key", "o", "--acl", canned)
    assert _grants(api(s3env, "get-object-acl", "--bucket", bucket, "--key", "o")) == \
        CANNED[canned]
    # Canned ACL given with the PUT itself.
    api(s3env, "put-object", "--bucket", bucket, "--key", "o2", "--body", f, "--acl", canned)
    assert _grants(api(s3env, "get-object-acl", "--bucket", bucket, "--key", "o2")) == \
        CANNED[canned]


def test_acl_errors(s3env, bucket, tmp_path):
    assert api_err(s3env, "get-object-acl", "--bucket", bucket, "--key", "nope") == "NoSuchKey"
    assert api_err(s3env, "get-bucket-acl", "--bucket", unique("nope")) == "NoSuchBucket"
    assert api_err(s3env, "get-bucket-acl", "--bucket", bucket,
                   profile="user2") == "AccessDenied"
    assert api_err(s3env, "put-bucket-acl", "--bucket", bucket, "--acl", "public-read",
                   profile="user2") == "AccessDenied"
    api(s3env, "put-object", "--bucket", bucket, "--key", "o", "--body",
        write(tmp_path / "in", b"acl"))
    assert api_err(s3env, "put-object-acl", "--bucket", bucket, "--key", "o", "--acl",
                   "public-read", profile="user2") == "AccessDenied"


def test_create_bucket_with_acl(s3env):
    name = unique("cli")
    api(s3env, "create-bucket", "--bucket", name, "--acl", "public-read")
    try:
        assert _grants(api(s3env, "get-bucket-acl", "--bucket", name)) == CANNED["public-read"]
    finally:
        api(s3env, "delete-bucket", "--bucket", name)


# ---------------------------------------------------------------- aws s3

def test_s3_cp_small_up_and_down(s3env, bucket, tmp_path):
    src = make_file(tmp_path, "small.txt", 4321, 61)
    s3env.aws("s3", "cp", src, "s3://%s/dir/small.txt" % bucket)
    dst = str(tmp_path / "back.txt")
    s3env.aws("s3", "cp", "s3://%s/dir/small.txt" % bucket, dst)
    assert read(dst) == read(src)
    h = api(s3env, "head-object", "--bucket", bucket, "--key", "dir/small.txt")
    assert h["ContentType"] == "text/plain"   # guessed by aws s3 cp


def test_s3_cp_20mib_multipart(s3env, bucket, tmp_path):
    src = make_file(tmp_path, "big.bin", 20 * MiB, 62)
    p = s3env.aws("s3", "cp", src, "s3://%s/big.bin" % bucket)
    assert "upload:" in p.stdout
    h = api(s3env, "head-object", "--bucket", bucket, "--key", "big.bin")
    # awscli's default multipart_chunksize is 8 MiB: 8 + 8 + 4.
    assert h["ETag"].endswith('-3"'), h["ETag"]
    assert h["ETag"] == multipart_etag_file(src, 8 * MiB)
    assert h["ContentLength"] == 20 * MiB
    dst = str(tmp_path / "big.back")
    s3env.aws("s3", "cp", "s3://%s/big.bin" % bucket, dst)
    assert sha256_file(dst) == sha256_file(src)


def test_s3_cp_s3_to_s3_large(s3env, bucket, tmp_path):
    """Server-side copy of a 20 MiB object: awscli uses UploadPartCopy (and
    first asks GetObjectTagging, to carry tags over)."""
    src = make_file(tmp_path, "big.bin", 20 * MiB, 63)
    s3env.aws("s3", "cp", src, "s3://%s/big.bin" % bucket)
    s3env.aws("s3", "cp", "s3://%s/big.bin" % bucket, "s3://%s/big.copy" % bucket)
    dst = str(tmp_path / "big.back")
    s3env.aws("s3", "cp", "s3://%s/big.copy" % bucket, dst)
    assert sha256_file(dst) == sha256_file(src)


def test_s3_sync_ls_rm(s3env, bucket, tmp_path):
    up = tmp_path / "up"
    files = {"a.txt": 100, "sub/b.bin": 70000, "sub/deeper/c.bin": 1, "sp ace/d e.txt": 33}
    for i, (name, size) in enumerate(files.items()):
        make_file(up, name, size, 70 + i)
    p = s3env.aws("s3", "sync", str(up), "s3://%s/tree" % bucket)
    assert p.stdout.count("upload:") == len(files)
    ls = s3env.aws("s3", "ls", "--recursive", "s3://%s/tree/" % bucket).stdout
    for name in files:
        assert "tree/" + name in ls, ls
    top = s3env.aws("s3", "ls", "s3://%s/tree/" % bucket).stdout
    assert "PRE sub/" in top and "PRE sp ace/" in top and "a.txt" in top
    buckets = s3env.aws("s3", "ls").stdout
    assert bucket in buckets
    # A second sync transfers nothing; a changed file is sent again.
    p = s3env.aws("s3", "sync", str(up), "s3://%s/tree" % bucket)
    assert "upload:" not in p.stdout, p.stdout
    make_file(up, "sub/b.bin", 70001, 99)
    p = s3env.aws("s3", "sync", str(up), "s3://%s/tree" % bucket)
    assert p.stdout.count("upload:") == 1, p.stdout
    down = tmp_path / "down"
    s3env.aws("s3", "sync", "s3://%s/tree" % bucket, str(down))
    for name in files:
        assert read(up / name) == read(down / name), name
    p = s3env.aws("s3", "rm", "--recursive", "s3://%s/tree" % bucket)
    assert p.stdout.count("delete:") == len(files)
    assert not api(s3env, "list-objects-v2", "--bucket", bucket).get("Contents")


def test_s3_mb_rb(s3env, tmp_path):
    name = unique("mb")
    s3env.aws("s3", "mb", "s3://%s" % name)
    s3env.aws("s3", "cp", make_file(tmp_path, "f", 10, 1), "s3://%s/f" % name)
    p = s3env.aws("s3", "rb", "s3://%s" % name, check=False)
    assert p.returncode != 0 and "BucketNotEmpty" in p.stderr
    s3env.aws("s3", "rb", "--force", "s3://%s" % name)
    assert api_err(s3env, "head-bucket", "--bucket", name) == "404"


def test_bootstrap_aws_profile_works(s3env):
    """The profile files written by `overcast-admin bootstrap` work as they are."""
    import configparser
    home = s3env.home
    cfg, creds = os.path.join(home, "admin", "aws-config"), os.path.join(home, "admin",
                                                                         "aws-credentials")
    assert os.path.exists(cfg) and os.path.exists(creds)
    cp = configparser.ConfigParser()
    cp.read(creds)
    profile = cp.sections()[0]
    import subprocess
    import walrus_harness as wh
    env = wh.clean_env({"AWS_CONFIG_FILE": cfg, "AWS_SHARED_CREDENTIALS_FILE": creds,
                        "AWS_PAGER": "", "HOME": s3env.tmp})
    name = unique("boot")
    s3env.client().create_bucket(Bucket=name)
    try:
        p = subprocess.run([wh.AWS, "--endpoint-url", s3env.endpoint, "--profile", profile,
                            "s3", "ls"], capture_output=True, text=True, env=env, timeout=60)
        assert p.returncode == 0, p.stderr
        assert name in p.stdout
    finally:
        s3env.client().delete_bucket(Bucket=name)
