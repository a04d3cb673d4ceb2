#!/usr/bin/python3
"""Crash test for overcast-walrus: kill -9 in the middle of large PUTs,
overwrites and multipart completions, restart, and check what survived.

Each round starts writer threads that overwrite a small set of keys again
and again (large single PUTs of 8-32 MiB, small PUTs, multipart uploads),
kills the daemon with SIGKILL at a random moment while at least one large
PUT is streaming, restarts it and checks:

  * every key reads back bit-exact as one complete version that was sent for
    it (never a torn or mixed object), with the size and ETag of that version;
  * the version is one the client may legally see: an acknowledged PUT (200
    received) must not be lost or rolled back.  With concurrent writers of
    the same key, a version Q may be the final one unless some acknowledged
    PUT P of the same key *started* after Q ended (Q's 200 arrived, or, for a
    PUT still in flight at the kill, never).  Such a P is linearized after Q,
    so seeing Q would mean P was lost.  A PUT that got an error response must
    never become visible.  Times are taken on the client conservatively
    (start before sending, end after the response), so the rule can only
    allow more, never flag a correct server;
  * a key with no acknowledged PUT may be absent (or hold the previous
    round's value or any in-flight version);
  * listings agree with the objects;
  * $home/walrus/tmp is empty and the object directory holds exactly the
    files of the visible objects and of the parts of live multipart uploads
    (nothing orphaned by the crash).

Usage: crash_test.py [--rounds N] [--seed S] [--keep]
Exit status 0 when every round is clean, 1 on any violation, 3 when the
daemon cannot be started at all.
"""

import argparse
import hashlib
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import walrus_harness as wh  # noqa: E402

MiB = 1024 * 1024
BUCKET = "crash-test"
LARGE_KEYS = ["large/a", "large/b", "large/c", "large/d"]
SMALL_KEYS = ["small/a", "small/b", "small/c"]
MP_KEYS = ["mp/a", "mp/b"]
ALL_KEYS = LARGE_KEYS + SMALL_KEYS + MP_KEYS
INF = float("inf")


class Op:
    """One attempt to set a key's value."""
    __slots__ = ("key", "kind", "sha", "etag", "size", "start", "end", "status", "err",
                 "thread")

    def __init__(self, key, kind, sha, etag, size, thread):
        self.key, self.kind, self.sha, self.etag, self.size = key, kind, sha, etag, size
        self.thread = thread
        self.start = time.monotonic()
        self.end = None
        self.status = "inflight"      # acked | failed | inflight
        self.err = None

    def describe(self, t0):
        e = "-" if self.end is None else "%.3f" % (self.end - t0)
        return "%s %s %s %d bytes sha %s.. start %.3f end %s%s" % (
            self.kind, self.key, self.status, self.size, self.sha[:12], self.start - t0, e,
            " (%s)" % self.err if self.err else "")


class Prev:
    """The value a key held at the start of a round (verified after the last one)."""
    kind, status, start, end = "previous", "acked", -INF, -INF

    def __init__(self, key, sha, etag, size):
        self.key, self.sha, self.etag, self.size = key, sha, etag, size

    def describe(self, t0):
        return "previous round's value %s.." % self.sha[:12]


def multipart_etag(parts):
    cat = b"".join(hashlib.md5(p).digest() for p in parts)
    return '"%s-%d"' % (hashlib.md5(cat).hexdigest(), len(parts))


class Round:
    def __init__(self, env, rng, number, stop_event):
        self.env = env
        self.rng = rng
        self.number = number
        self.stop = stop_event
        self.ops = []
        self.lock = threading.Lock()
        self.thread_errors = []

    def record(self, op):
        with self.lock:
            self.ops.append(op)

    def client(self, read_timeout=60):
        from botocore.config import Config
        cfg = Config(signature_version="s3v4", s3={"addressing_style": "path"},
                     retries={"max_attempts": 1, "mode": "standard"},
                     connect_timeout=5, read_timeout=read_timeout)
        import boto3
        return boto3.session.Session().client(
            "s3", endpoint_url=self.env.endpoint, region_name="us-east-1",
            aws_access_key_id=self.env.ak1, aws_secret_access_key=self.env.sk1, config=cfg)

    def finish(self, op, exc):
        from botocore.exceptions import ClientError
        op.end = time.monotonic()
        if exc is None:
            op.status = "acked"
        elif isinstance(exc, ClientError):
            # The server answered: the write was refused and must not appear.
            op.status = "failed"
            op.err = "%s %s" % (exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                                exc.response.get("Error", {}).get("Code"))
        else:
            op.status = "inflight"       # connection cut by the kill: outcome unknown
            op.end = None
            op.err = type(exc).__name__

    def writer_large(self, tid, seed):
        rnd = random.Random(seed)
        c = self.client()
        while not self.stop.is_set():
            key = rnd.choice(LARGE_KEYS)
            body = rnd.randbytes(rnd.randint(8 * MiB, 32 * MiB))
            op = Op(key, "put-large", hashlib.sha256(body).hexdigest(),
                    '"%s"' % hashlib.md5(body).hexdigest(), len(body), tid)
            self.record(op)
            try:
                c.put_object(Bucket=BUCKET, Key=key, Body=body)
                self.finish(op, None)
            except Exception as e:  # noqa: BLE001 - classified in finish()
                self.finish(op, e)
                if op.status == "inflight":
                    return

    def writer_small(self, tid, seed):
        rnd = random.Random(seed)
        c = self.client()
        while not self.stop.is_set():
            key = rnd.choice(SMALL_KEYS)
            body = rnd.randbytes(rnd.randint(1, 256 * 1024))
            op = Op(key, "put-small", hashlib.sha256(body).hexdigest(),
                    '"%s"' % hashlib.md5(body).hexdigest(), len(body), tid)
            self.record(op)
            try:
                c.put_object(Bucket=BUCKET, Key=key, Body=body)
                self.finish(op, None)
            except Exception as e:  # noqa: BLE001
                self.finish(op, e)
                if op.status == "inflight":
                    return

    def writer_multipart(self, tid, seed):
        rnd = random.Random(seed)
        c = self.client()
        while not self.stop.is_set():
            key = rnd.choice(MP_KEYS)
            parts = [rnd.randbytes(5 * MiB), rnd.randbytes(5 * MiB),
                     rnd.randbytes(rnd.randint(1, 3 * MiB))]
            try:
                uid = c.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
                refs = []
                for n, p in enumerate(parts, 1):
                    e = c.upload_part(Bucket=BUCKET, Key=key, UploadId=uid, PartNumber=n,
                                      Body=p)["ETag"]
                    refs.append({"PartNumber": n, "ETag": e})
            except Exception:  # noqa: BLE001 - the object is untouched until complete
                raise              # run_thread tells a kill from a server error
            whole = b"".join(parts)
            op = Op(key, "multipart", hashlib.sha256(whole).hexdigest(), multipart_etag(parts),
                    len(whole), tid)
            self.record(op)
            try:
                c.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=uid,
                                            MultipartUpload={"Parts": refs})
                self.finish(op, None)
            except Exception as e:  # noqa: BLE001
                self.finish(op, e)
                if op.status == "inflight":
                    return

    def run_thread(self, fn, tid, seed):
        from botocore.exceptions import ClientError
        try:
            fn(tid, seed)
        except ClientError:
            # The server answered with an error: never expected from valid requests.
            self.thread_errors.append("%s: %s" % (tid, traceback.format_exc()))
        except Exception:  # noqa: BLE001
            # A cut connection is expected when the kill comes (the stop flag
            # is set right after it); anything else is a bug in the test.
            if not self.stop.wait(15):
                self.thread_errors.append("%s: %s" % (tid, traceback.format_exc()))

    def large_streaming(self):
        with self.lock:
            return sum(1 for o in self.ops if o.kind == "put-large" and o.end is None
                       and o.status == "inflight")


def allowed_versions(key, ops, prev):
    """Versions (Op or Prev) that may legally be the key's value after the crash."""
    mine = [o for o in ops if o.key == key and o.status != "failed"]
    acked = [o for o in mine if o.status == "acked"]
    cands = list(mine) + ([prev] if prev is not None else [])
    out = []
    for q in cands:
        q_end = q.end if q.status == "acked" else INF
        if any(p is not q and p.start > q_end for p in acked):
            continue
        out.append(q)
    absent_ok = prev is None and not acked
    return out, absent_ok


def walk_files(top):
    out = []
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            out.append((p, os.lstat(p).st_size))
    return out


def inline_blobs(db):
    """Sizes of the inline objects' blobs (read-only; Walrus keeps running)."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return [n for (n,) in con.execute("SELECT length(data) FROM blobs")]
    finally:
        con.close()


def check_disk(env, visible_sizes, part_sizes):
    """tmp/ empty; no data file beyond the objects and live parts."""
    problems = []
    wdir = os.path.join(env.home, "walrus")
    tmpdir = os.path.join(wdir, "tmp")
    left = walk_files(tmpdir) if os.path.isdir(tmpdir) else []
    if left:
        problems.append("tmp/ is not empty after restart: %d files, e.g. %s"
                        % (len(left), ", ".join(p for p, _ in left[:5])))
    objdir = os.path.join(wdir, "objects")
    if not os.path.isdir(objdir):
        problems.append("%s does not exist" % objdir)
        return problems
    # Every data file lives under objects/ (parts included) unless the store
    # keeps parts elsewhere; count every non-database file outside tmp/.
    files = [(p, s) for p, s in walk_files(wdir)
             if not p.startswith(tmpdir + os.sep)
             and not os.path.basename(p).startswith("walrus.db")
             and os.path.basename(p) != "lock"]
    outside = [p for p, _ in files if not p.startswith(objdir + os.sep)]
    files_in_obj = [(p, s) for p, s in files if p.startswith(objdir + os.sep)]
    # Small objects' bytes are rows of walrus.db's blobs table ("inline",
    # docs/walrus.md): they count as data beside the files.
    blobs = inline_blobs(os.path.join(wdir, "walrus.db"))
    expect_n = len(visible_sizes) + len(part_sizes)
    expect_bytes = sum(visible_sizes) + sum(part_sizes)
    got_n = len(files_in_obj) + len(blobs)
    got_bytes = sum(s for _, s in files_in_obj) + sum(blobs)
    if got_n != expect_n or got_bytes != expect_bytes:
        problems.append("objects/ holds %d files and walrus.db %d blobs, %d bytes in all, "
                        "expected %d / %d bytes (%d visible objects, %d live parts): "
                        "orphans or missing data"
                        % (len(files_in_obj), len(blobs), got_bytes, expect_n, expect_bytes,
                           len(visible_sizes), len(part_sizes)))
    if outside:
        print("  note: data files outside objects/ and tmp/: %s" % outside[:5])
    return problems


def verify(env, rnd_obj, prev_state, t0):
    """Checks after restart; returns (violations, new prev_state, stats)."""
    from botocore.exceptions import ClientError
    c = rnd_obj.client(read_timeout=10)
    violations = []
    new_state = {}
    stats = {"acked_checked": 0, "saw_inflight": 0, "absent": 0}
    visible_sizes = []
    for key in ALL_KEYS:
        prev = prev_state.get(key)
        allowed, absent_ok = allowed_versions(key, rnd_obj.ops, prev)
        try:
            g = c.get_object(Bucket=BUCKET, Key=key)
            body = g["Body"].read()
            got = hashlib.sha256(body).hexdigest()
            got_etag, got_len = g["ETag"], g["ContentLength"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "NoSuchKey":
                violations.append("%s: GET failed: %s" % (key, e))
                continue
            got = None
        except Exception as e:  # noqa: BLE001 - a short body, a reset, a timeout
            violations.append("%s: GET failed (TORN or unreadable object?): %s: %s"
                              % (key, type(e).__name__, e))
            continue
        if got is None:
            stats["absent"] += 1
            if not absent_ok:
                lost = [o for o in rnd_obj.ops if o.key == key and o.status == "acked"]
                violations.append("%s: LOST - the key is absent but %s"
                                  % (key, (lost[-1].describe(t0) if lost else
                                           prev.describe(t0))))
            continue
        match = [q for q in allowed if q.sha == got]
        if not match:
            sent = [o for o in rnd_obj.ops if o.key == key and o.sha == got]
            if sent:
                violations.append("%s: ROLLED BACK/STALE or refused version visible: %s; "
                                  "allowed were: %s" % (key, sent[0].describe(t0),
                                                        "; ".join(q.describe(t0)
                                                                  for q in allowed)))
            else:
                violations.append("%s: TORN/UNKNOWN content (%d bytes, sha %s..) matches no "
                                  "version ever sent" % (key, len(body), got[:12]))
            continue
        q = match[0]
        if got_len != q.size or len(body) != q.size:
            violations.append("%s: size %d/%d, version has %d" % (key, got_len, len(body),
                                                                   q.size))
        if got_etag != q.etag:
            violations.append("%s: ETag %s, expected %s for the version read"
                              % (key, got_etag, q.etag))
        if q.status == "acked" and q.kind != "previous":
            stats["acked_checked"] += 1
        elif q.status == "inflight":
            stats["saw_inflight"] += 1
        new_state[key] = Prev(key, q.sha, q.etag, q.size)
        visible_sizes.append(q.size)
        h = c.head_object(Bucket=BUCKET, Key=key)
        if h["ContentLength"] != q.size or h["ETag"] != q.etag:
            violations.append("%s: HEAD says %d bytes %s, GET read %d bytes %s"
                              % (key, h["ContentLength"], h["ETag"], q.size, q.etag))
    listed = {}
    for page in c.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for o in page.get("Contents", []):
            listed[o["Key"]] = (o["Size"], o["ETag"])
    expect = {k: (v.size, v.etag) for k, v in new_state.items()}
    if listed != expect:
        violations.append("listing disagrees with GETs: listed %s, read %s" % (listed, expect))
    part_sizes = []
    uploads = []
    for page in c.get_paginator("list_multipart_uploads").paginate(Bucket=BUCKET):
        uploads += page.get("Uploads", [])
    for u in uploads:
        for page in c.get_paginator("list_parts").paginate(Bucket=BUCKET, Key=u["Key"],
                                                           UploadId=u["UploadId"]):
            part_sizes += [p["Size"] for p in page.get("Parts", [])]
    violations += check_disk(env, visible_sizes, part_sizes)
    for u in uploads:
        c.abort_multipart_upload(Bucket=BUCKET, Key=u["Key"], UploadId=u["UploadId"])
    stats["uploads_left"] = len(uploads)
    return violations, new_state, stats


def plant_orphans(env, rng):
    """With the daemon stopped, leave files a crash could have left: a data
    file in objects/ that no row names and a half-written file in tmp/.  The
    restart must remove both (the check after the next restart sees them)."""
    wdir = os.path.join(env.home, "walrus")
    objdir = os.path.join(wdir, "objects")
    shards = sorted(d for d in os.listdir(objdir) if os.path.isdir(os.path.join(objdir, d)))
    planted = []
    name = "%032x" % rng.getrandbits(128)
    where = os.path.join(objdir, shards[int(name[:2], 16) % len(shards)] if shards else "",
                         name)
    with open(where, "wb") as f:
        f.write(b"orphan bytes: no row names this file")
    planted.append(where)
    tmpdir = os.path.join(wdir, "tmp")
    if os.path.isdir(tmpdir):
        where = os.path.join(tmpdir, "%032x" % rng.getrandbits(128))
        with open(where, "wb") as f:
            f.write(b"half a PUT")
        planted.append(where)
    return planted


def self_test(env, rng):
    """The checker must flag a torn object: truncate one object file while
    the daemon is down and expect verify() to report it."""
    c = Round(env, rng, 0, threading.Event()).client()
    body = rng.randbytes(3 * MiB)
    c.put_object(Bucket=BUCKET, Key=LARGE_KEYS[0], Body=body)
    prev = {LARGE_KEYS[0]: Prev(LARGE_KEYS[0], hashlib.sha256(body).hexdigest(),
                                '"%s"' % hashlib.md5(body).hexdigest(), len(body))}
    env.walrus.stop()
    victims = [p for p, sz in walk_files(os.path.join(env.home, "walrus", "objects"))
               if sz == len(body)]
    if len(victims) != 1:
        return ["self-test: expected one %d-byte object file, found %d" % (len(body),
                                                                          len(victims))]
    with open(victims[0], "r+b") as f:
        f.truncate(len(body) // 2)
    env.walrus.start()
    r = Round(env, rng, 0, threading.Event())
    v, _, _ = verify(env, r, prev, time.monotonic())
    print("self-test: the checker reported %d problem(s) for a truncated object file:" % len(v))
    for x in v:
        print("  (expected) %s" % x.splitlines()[0])
    c.delete_object(Bucket=BUCKET, Key=LARGE_KEYS[0])
    # Noticed either by the checker (torn bytes, wrong size) or by the daemon,
    # which refuses to serve an object file shorter than its row says.
    return [] if any("TORN" in x or "size" in x or "InternalError" in x for x in v) else \
        ["self-test: a truncated object file went unnoticed"]


def one_round(env, rng, number, prev_state):
    stop = threading.Event()
    r = Round(env, rng, number, stop)
    t0 = time.monotonic()
    threads = []
    plan = [("large-1", r.writer_large), ("large-2", r.writer_large),
            ("large-3", r.writer_large), ("small", r.writer_small), ("mp", r.writer_multipart)]
    for tid, fn in plan:
        t = threading.Thread(target=r.run_thread, args=(fn, tid, rng.getrandbits(64)),
                             daemon=True)
        t.start()
        threads.append(t)
    delay = rng.uniform(0.5, 7.0)
    time.sleep(delay)
    # Kill while a large PUT is streaming (wait a little for one if needed).
    deadline = time.monotonic() + 3
    while r.large_streaming() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    streaming = r.large_streaming()
    if not env.walrus.alive():
        print("  overcast-walrus had died before the kill:\n%s" % env.walrus.log_tail(3000))
    env.walrus.kill()
    t_kill = time.monotonic()
    stop.set()
    for t in threads:
        t.join(120)
    hung = [t.name for t in threads if t.is_alive()]
    acked = sum(1 for o in r.ops if o.status == "acked")
    failed = [o for o in r.ops if o.status == "failed"]
    inflight = sum(1 for o in r.ops if o.status == "inflight")
    print("round %d: killed at %.2fs with %d large PUTs streaming; %d writes: %d acknowledged, "
          "%d refused, %d in flight"
          % (number, t_kill - t0, streaming, len(r.ops), acked, len(failed), inflight))
    violations = []
    for o in failed:
        violations.append("server refused a valid write before the kill: %s" % o.describe(t0))
    violations += r.thread_errors
    if hung:
        violations.append("writer threads hung after the kill: %s" % hung)
    try:
        env.walrus.start()
    except wh.HarnessError as e:
        violations.append("restart failed: %s" % e)
        return violations, prev_state, {}
    t_ready = time.monotonic()
    print("  restarted in %.2fs" % (t_ready - t_kill - 0.0))
    v, new_state, stats = verify(env, r, prev_state, t0)
    violations += v
    print("  after restart: %d keys hold an acknowledged version, %d an in-flight one, "
          "%d absent; %d unfinished uploads" % (stats.get("acked_checked", 0),
                                                 stats.get("saw_inflight", 0),
                                                 stats.get("absent", 0),
                                                 stats.get("uploads_left", 0)))
    for v in violations:
        print("  VIOLATION: %s" % v)
    if violations:
        print("  ops of this round:")
        for o in r.ops:
            print("    %s [%s]" % (o.describe(t0), o.thread))
    return violations, new_state, stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the temporary home")
    ap.add_argument("--self-test", action="store_true",
                    help="first check that the checker flags a truncated object file")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    rng = random.Random(seed)
    print("crash test: %d rounds, seed %d (rerun with --seed %d)" % (args.rounds, seed, seed))
    tmp = tempfile.mkdtemp(prefix="overcast-crash-")
    try:
        env = wh.start_env(tmp)
    except (wh.HarnessError, OSError) as e:
        print("FATAL: cannot start overcast-walrus: %s" % e)
        return 3
    all_violations = []
    totals = {"acked_checked": 0, "saw_inflight": 0}
    try:
        env.client().create_bucket(Bucket=BUCKET)
        if args.self_test:
            all_violations += self_test(env, rng)
        state = {}
        for n in range(1, args.rounds + 1):
            v, state, stats = one_round(env, rng, n, state)
            all_violations += ["round %d: %s" % (n, x) for x in v]
            for k in totals:
                totals[k] += stats.get(k, 0)
            if not env.walrus.alive():
                break
            if n == args.rounds:
                break
            # Between rounds (daemon stopped cleanly), plant the debris of a
            # crash; the next round's checks require the restart to remove it.
            env.walrus.stop()
            planted = plant_orphans(env, rng)
            env.walrus.start()
            left = [p for p in planted if os.path.exists(p)]
            if left:
                all_violations.append("round %d: planted orphan files survived a restart: %s"
                                      % (n, left))
            else:
                print("  planted %d orphan files (objects/, tmp/); the restart removed them"
                      % len(planted))
    except Exception:  # noqa: BLE001
        all_violations.append("test aborted: %s" % traceback.format_exc())
    finally:
        try:
            env.shutdown()
        except wh.HarnessError as e:
            all_violations.append(str(e))
    if all_violations:
        wh.print_log(env.walrus, sys.stdout)
    print("crash test summary: seed %d, %d rounds, %d key checks hit an acknowledged version, "
          "%d an in-flight one, %d violations"
          % (seed, args.rounds, totals["acked_checked"], totals["saw_inflight"],
             len(all_violations)))
    for v in all_violations:
        print("  - %s" % v.splitlines()[0] if v else v)
    if args.keep or all_violations:
        print("home kept in %s" % tmp)
    else:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    print("CRASH TEST %s" % ("FAILED" if all_violations else "PASSED"))
    return 1 if all_violations else 0


if __name__ == "__main__":
    sys.exit(main())
