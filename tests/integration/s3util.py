"""Small helpers shared by the integration tests (no fixtures here)."""

import base64
import hashlib
import json
import os
import random
import re


def data(n, seed=0):
    """n deterministic pseudo-random bytes."""
    return random.Random(seed).randbytes(n)


def write(path, content):
    with open(path, "wb") as f:
        f.write(content)
    return str(path)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def md5hex(b):
    return hashlib.md5(b).hexdigest()


def md5b64(b):
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def etag(b):
    return '"%s"' % md5hex(b)


def multipart_etag(parts):
    """ETag of a completed multipart upload: "md5(md5(p1)||md5(p2)...)-N"."""
    cat = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"%s-%d"' % (hashlib.md5(cat).hexdigest(), len(parts))


def multipart_etag_file(path, chunk):
    parts = []
    with open(path, "rb") as f:
        for c in iter(lambda: f.read(chunk), b""):
            parts.append(c)
    return multipart_etag(parts)


def aws_json(p):
    out = p.stdout.strip()
    return json.loads(out) if out else {}


ERR_RE = re.compile(r"An error occurred \(([^)]+)\)")


def aws_error(p):
    """The error code of a failed aws-cli call ("NoSuchKey", "404", ...)."""
    assert p.returncode != 0, "expected failure, got success: %s" % p.stdout
    m = ERR_RE.search(p.stderr)
    assert m, "no error code in aws stderr: %r" % p.stderr
    return m.group(1)


def xml_code(body):
    """<Code> of an S3 error body."""
    m = re.search(rb"<Code>([^<]*)</Code>", body)
    return m.group(1).decode() if m else None


def boto_code(excinfo):
    e = excinfo.value
    return e.response.get("Error", {}).get("Code")


def boto_status(excinfo):
    return excinfo.value.response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def make_file(dirpath, name, size, seed=0):
    path = os.path.join(str(dirpath), name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        rnd = random.Random(seed)
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(rnd.randbytes(n))
            left -= n
    return path
