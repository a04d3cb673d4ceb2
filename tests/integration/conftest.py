"""pytest fixtures: one overcast-clc and one overcast-walrus for the session.

The session fixture `s3env` (also available as `cloud`) makes a temporary
OVERCAST_HOME, runs `overcast-clc bootstrap`, starts the CLC, creates a
second and a third account through its IAM API with overcast-admin, starts
overcast-walrus (authenticating through the CLC) and yields a
walrus_harness.Env.  At the end it stops the daemon with SIGTERM; if
any test failed, or the daemon died, its log is printed.
"""

import os
import shutil
import sys
import tempfile
import uuid

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import walrus_harness as wh  # noqa: E402


def _require_tools():
    """Missing tools fail loudly: a suite that skips proves nothing."""
    missing = []
    for exe in (wh.AWS, wh.S3CMD, wh.CURL):
        if not os.access(exe, os.X_OK):
            missing.append(exe)
    import importlib.util
    if importlib.util.find_spec("boto3") is None:
        missing.append("python3-boto3 (run with /usr/bin/python3)")
    if missing:
        pytest.exit("required tools missing: %s" % ", ".join(missing), returncode=3)


_failed = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        _failed.append(item.nodeid)


@pytest.fixture(scope="session")
def s3env():
    _require_tools()
    tmp = tempfile.mkdtemp(prefix="overcast-it-")
    env = None
    try:
        env = wh.start_env(tmp)
    except wh.HarnessError as e:
        pytest.exit("cannot start the CLC and Walrus: %s" % e, returncode=3)
    yield env
    died = not env.walrus.alive() or not env.clc.alive()
    rc = None
    try:
        rc = env.shutdown()
    except wh.HarnessError as e:
        sys.stderr.write("%s\n" % e)
        died = True
    if died or _failed or os.environ.get("OVERCAST_SHOW_LOG"):
        wh.print_log(env.clc)
        wh.print_log(env.walrus)
        sys.stderr.write("overcast-walrus exit status after SIGTERM: %s%s\n"
                         % (rc, " (a daemon had died during the tests)" if died else ""))
    if os.environ.get("OVERCAST_KEEP_TMP") or _failed:
        sys.stderr.write("test home kept in %s\n" % tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def cloud(s3env):
    """The same session: CLC (EC2, IAM) and Walrus (S3) on loopback."""
    return s3env


@pytest.fixture(autouse=True)
def _check_alive(request):
    yield
    if "s3env" in request.fixturenames or "cloud" in request.fixturenames:
        env = request.getfixturevalue("s3env")
        assert env.walrus.alive(), "overcast-walrus died during this test:\n" + \
            env.walrus.log_tail(4000)
        assert env.clc.alive(), "overcast-clc died during this test:\n" + \
            env.clc.log_tail(4000)


def unique(prefix="b"):
    """A fresh valid bucket name."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:16])


@pytest.fixture
def bucket(s3env):
    """A fresh bucket owned by account 1, emptied and removed afterwards."""
    name = unique("it")
    s3env.client().create_bucket(Bucket=name)
    yield name
    cleanup_bucket(s3env, name)


def cleanup_bucket(s3env, name):
    c = s3env.client()
    try:
        for page in c.get_paginator("list_multipart_uploads").paginate(Bucket=name):
            for u in page.get("Uploads", []):
                c.abort_multipart_upload(Bucket=name, Key=u["Key"], UploadId=u["UploadId"])
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                try:
                    c.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
                except Exception:  # e.g. a key XML 1.0 cannot carry: one by one
                    for k in keys:
                        c.delete_object(Bucket=name, Key=k["Key"])
        c.delete_bucket(Bucket=name)
    except Exception as e:  # cleanup must not hide the test's own result
        sys.stderr.write("cleanup of bucket %s: %s\n" % (name, e))
