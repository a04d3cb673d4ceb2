"""The web console, served by the CLC at /console, against a whole cloud
(cloud_harness: Walrus, CLC, a CC and a node running real TCG guests).

What is checked:
  - the static files and their content types, nothing outside console/;
  - the session (requests): a wrong password or secret is refused
    (AuthFailure); the session cookie is HttpOnly, SameSite=Strict; a Query,
    IAM, admin or S3 call with the cookie but without (or with a wrong)
    X-Overcast-Csrf token is refused (403 AccessDenied), with the token it
    works;
    the admin API refuses a non-admin with AccessDenied; after logout the
    cookie no longer works;
  - the console in a real browser (console/console.test.mjs: Debian's
    chromium through playwright-core): sign in with a password made by
    IAM CreateLoginProfile, launch the test guest and see it reach
    running, read its console output, create and download a key pair,
    upload an object with progress and download the same bytes, log out;
    the session cookie is invisible to scripts (document.cookie, HttpOnly);
    as admin create an account and a user, download its credentials, see
    the node.  Screenshots of every page go to $OVERCAST_ARTIFACTS/console
    (or tests/integration/artifacts/console).

node, npm (when console/node_modules is missing) and /usr/bin/chromium
are required: their absence fails the test, it never skips.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloud_harness as ch  # noqa: E402
import nc_harness as nh  # noqa: E402
import walrus_harness as wh  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
JS = os.path.join(HERE, "console")
CHROMIUM = "/usr/bin/chromium"
ZONE = "zone-a"
PASSWORD = "Console-pw-1"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def artifacts_dir():
    base = os.environ.get("OVERCAST_ARTIFACTS") or os.path.join(HERE, "artifacts")
    return os.path.join(base, "console")


def require_tools():
    """node, chromium, and npm when node_modules must be installed: fail
    loudly (pytest.fail, never skip), then npm ci if needed."""
    node = shutil.which("node")
    if not node:
        pytest.fail("node is not installed (scripts/deps.sh --test installs nodejs)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("%s is missing (apt-get install chromium; scripts/deps.sh --test)" % CHROMIUM)
    if not os.path.isdir(os.path.join(JS, "node_modules", "playwright-core")):
        npm = shutil.which("npm")
        if not npm:
            pytest.fail("npm is not installed and tests/integration/console/node_modules is "
                        "missing")
        p = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True,
                           text=True, timeout=600)
        if p.returncode != 0:
            pytest.fail("npm ci in %s failed:\n%s%s" % (JS, p.stdout, p.stderr))
    return node


@pytest.fixture(scope="module")
def node():
    return require_tools()


@pytest.fixture(scope="module")
def cloud(node):
    yield from ch.cloud_fixture(zones=((ZONE, 1),))


def delegated_iam(env, account):
    """boto3 IAM as the eucalyptus admin acting on another account
    (DelegateAccount, the Eucalyptus extension)."""
    iam = env.iam(1)

    def add(params, **_):
        params["body"]["DelegateAccount"] = account

    iam.meta.events.register("before-call.iam", add)
    return iam


@pytest.fixture(scope="module")
def user(cloud):
    """user2 of testacct2 with a console password (IAM CreateLoginProfile)."""
    iam = delegated_iam(cloud.env, "testacct2")
    iam.create_login_profile(UserName="user2", Password=PASSWORD)
    return {"account": "testacct2", "user": "user2", "password": PASSWORD}


def local(tag):
    return tag.rsplit("}", 1)[-1]


def xml_find(body, name):
    """Text of the first element with this local name ('' if none)."""
    root = ET.fromstring(body)
    for el in root.iter():
        if local(el.tag) == name:
            return (el.text or "").strip()
    return None


def error_code(r):
    try:
        return xml_find(r.content, "Code")
    except ET.ParseError:
        return None


class Session:
    """A browser's view of the console: a cookie jar and the CSRF token."""

    def __init__(self, base):
        self.base = base
        self.http = requests.Session()
        self.http.trust_env = False
        self.csrf = None
        self.login_response = None

    def login(self, **fields):
        r = self.http.post(self.base + "/console/api/login", data=fields, timeout=30)
        if r.status_code == 200:
            self.csrf = xml_find(r.content, "CsrfToken")
        self.login_response = r
        return r

    def headers(self, token=True):
        h = dict(FORM)
        if token is True and self.csrf:
            h["X-Overcast-Csrf"] = self.csrf
        elif isinstance(token, str):
            h["X-Overcast-Csrf"] = token
        return h

    def query(self, path, action, version, token=True, **params):
        data = dict(Action=action, Version=version, **params)
        return self.http.post(self.base + path, data=data, headers=self.headers(token), timeout=60)

    def ec2(self, action, token=True, **params):
        return self.query("/services/compute", action, "2016-11-15", token, **params)

    def iam(self, action, token=True, **params):
        return self.query("/services/Euare", action, "2010-05-08", token, **params)

    def admin(self, action, token=True, **params):
        return self.query("/services/Empyrean", action, "eucalyptus", token, **params)

    def s3(self, method, path, token=True, **kw):
        h = {}
        if token is True and self.csrf:
            h["X-Overcast-Csrf"] = self.csrf
        elif isinstance(token, str):
            h["X-Overcast-Csrf"] = token
        return self.http.request(method, self.base + "/services/objectstorage" + path, headers=h,
                                 timeout=60, **kw)


def test_static_files(cloud):
    base = cloud.env.clc.endpoint
    for path in ("/console", "/console/", "/console/index.html"):
        r = requests.get(base + path, timeout=30)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        assert r.headers["Content-Type"].startswith("text/html"), (path, r.headers)
        assert "app.js" in r.text
    for name, ctype in (("app.js", "javascript"), ("api.js", "javascript"),
                        ("style.css", "text/css")):
        r = requests.get(base + "/console/" + name, timeout=30)
        assert r.status_code == 200 and ctype in r.headers["Content-Type"], (name, r.headers)
        with open(os.path.join(wh.SRCDIR, "console", name), "rb") as f:
            assert r.content == f.read()
    assert requests.get(base + "/console/no-such-file.js", timeout=30).status_code == 404
    # Nothing outside console/ (raw paths: requests would normalise them).
    for raw in ("/console/../README.md", "/console/%2e%2e/README.md",
                "/console/..%2fREADME.md", "/console/%2e%2e%2fclc%2fapi.c"):
        st, _, body = wh.curl("--path-as-is", base + raw)
        assert st in (400, 403, 404), (raw, st, body[:200])


def test_session_and_csrf(cloud, user):
    env = cloud.env
    base = env.clc.endpoint

    # A wrong password, an unknown user, a wrong secret: AuthFailure, no cookie.
    for fields in ({"Account": "testacct2", "UserName": "user2", "Password": "wrong"},
                   {"Account": "testacct2", "UserName": "nobody", "Password": PASSWORD},
                   {"Account": "no-such-account", "UserName": "user2", "Password": PASSWORD},
                   {"AccessKeyId": env.ak2, "SecretAccessKey": "x" * 40}):
        s = Session(base)
        r = s.login(**fields)
        assert r.status_code == 403, (fields, r.status_code, r.text)
        assert error_code(r) == "AuthFailure", r.text
        assert "oc_session" not in r.headers.get("Set-Cookie", ""), r.headers

    s = Session(base)
    r = s.login(Account="testacct2", UserName="user2", Password=PASSWORD)
    assert r.status_code == 200, r.text
    assert xml_find(r.content, "AccountName") == "testacct2"
    assert xml_find(r.content, "AccountId") == env.acct2
    assert xml_find(r.content, "UserName") == "user2"
    assert xml_find(r.content, "IsAdmin") == "false"
    assert s.csrf and len(s.csrf) >= 16, r.text
    cookie = r.headers.get("Set-Cookie", "")
    attrs = [a.strip().lower() for a in cookie.split(";")]
    assert attrs[0].startswith("oc_session=") and len(attrs[0]) > len("oc_session=") + 16, cookie
    assert "httponly" in attrs, cookie
    assert "samesite=strict" in attrs, cookie
    assert "path=/" in attrs, cookie

    # The account's 12-digit id works as well as its name.
    s_id = Session(base)
    assert s_id.login(Account=env.acct2, UserName="user2", Password=PASSWORD).status_code == 200

    # A reload: the cookie alone answers who is signed in, same token.
    r = s.http.get(base + "/console/api/session", timeout=30)
    assert r.status_code == 200, r.text
    assert xml_find(r.content, "CsrfToken") == s.csrf
    assert xml_find(r.content, "UserName") == "user2"

    # EC2 with the cookie: refused without the token or with a wrong one
    # (403 AccessDenied in every API, docs/console.md).
    for token in (False, "0" * len(s.csrf), s.csrf[:-1]):
        r = s.ec2("DescribeInstances", token=token)
        assert r.status_code == 403, (token, r.status_code, r.text)
        assert error_code(r) == "AccessDenied", r.text
        assert local(ET.fromstring(r.content).tag) == "Response", r.text
    r = s.ec2("DescribeInstances")
    assert r.status_code == 200, r.text
    assert local(ET.fromstring(r.content).tag) == "DescribeInstancesResponse"
    r = s.ec2("DescribeKeyPairs")
    assert r.status_code == 200, r.text

    # IAM: AccessDenied without the token.
    r = s.iam("GetUser", token=False)
    assert r.status_code == 403 and error_code(r) == "AccessDenied", r.text
    assert local(ET.fromstring(r.content).tag) == "ErrorResponse", r.text
    r = s.iam("GetUser")
    assert r.status_code == 200, r.text
    assert xml_find(r.content, "UserName") == "user2"

    # The admin API: not for this user even with the token.
    r = s.admin("DescribeServices")
    assert r.status_code == 403 and error_code(r) == "AccessDenied", r.text

    # S3 through the CLC: GETs need the token too.
    r = s.s3("GET", "/", token=False)
    assert r.status_code == 403, (r.status_code, r.text)
    r = s.s3("GET", "/")
    assert r.status_code == 200 and b"ListAllMyBucketsResult" in r.content, r.text
    r = s.s3("PUT", "/console-csrf-check", token=False)
    assert r.status_code == 403, r.text
    assert s.s3("PUT", "/console-csrf-check").status_code == 200
    r = s.s3("PUT", "/console-csrf-check/a%20b/c.txt", data=b"hello console")
    assert r.status_code == 200, r.text
    r = s.s3("GET", "/console-csrf-check/a%20b/c.txt")
    assert r.status_code == 200 and r.content == b"hello console"
    assert env.client(2).get_object(Bucket="console-csrf-check",
                                    Key="a b/c.txt")["Body"].read() == b"hello console"
    r = s.s3("GET", "/console-csrf-check?list-type=2&prefix=a%20")
    assert r.status_code == 200 and b"<Key>a b/c.txt</Key>" in r.content, r.text
    assert s.s3("DELETE", "/console-csrf-check/a%20b/c.txt").status_code == 204
    assert s.s3("DELETE", "/console-csrf-check").status_code == 204
    r = s.s3("GET", "/console-csrf-check")
    assert r.status_code == 404 and error_code(r) == "NoSuchBucket", r.text

    # The token without the cookie is nothing.
    bare = requests.post(base + "/services/compute", data={
        "Action": "DescribeInstances", "Version": "2016-11-15"},
        headers=dict(FORM, **{"X-Overcast-Csrf": s.csrf}), timeout=30)
    assert bare.status_code in (401, 403), bare.text

    # An access key signs in too.
    k = Session(base)
    r = k.login(AccessKeyId=env.ak2, SecretAccessKey=env.sk2)
    assert r.status_code == 200 and xml_find(r.content, "UserName") == "user2", r.text
    assert k.ec2("DescribeInstances").status_code == 200

    # Logout: the cookie stops working at once, for every API.
    r = s.http.post(base + "/console/api/logout", headers={"X-Overcast-Csrf": s.csrf}, timeout=30)
    assert r.status_code == 200, r.text
    assert local(ET.fromstring(r.content).tag) == "LogoutResponse"
    # (An ended session answers 401 AuthFailure, docs/console.md.)
    r = s.http.get(base + "/console/api/session", timeout=30)
    assert r.status_code in (401, 403) and error_code(r) == "AuthFailure", r.text
    old = Session(base)
    old.csrf = s.csrf
    old.http.headers["Cookie"] = attrs[0]     # the old cookie, even if the jar dropped it
    r = old.ec2("DescribeInstances")
    assert r.status_code in (401, 403) and error_code(r) == "AuthFailure", r.text
    r = old.iam("GetUser")
    assert r.status_code in (401, 403), r.text
    assert old.s3("GET", "/").status_code in (401, 403)
    # Other sessions of the same user live on.
    assert s_id.ec2("DescribeInstances").status_code == 200
    assert k.ec2("DescribeInstances").status_code == 200


def cleanup_instances(cloud):
    """Terminate what the browser run left (a failed run) and wait until
    the domains are gone, so the cloud fixture finds nothing behind."""
    ec2 = cloud.env.ec2(2)
    ids = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
           for i in r["Instances"] if i["State"]["Name"] != "terminated"]
    if ids:
        ec2.terminate_instances(InstanceIds=ids)
    deadline = time.time() + 180
    while time.time() < deadline:
        live = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
                for i in r["Instances"] if i["State"]["Name"] != "terminated"]
        if not live and not any(nh.domain_exists(i) for i in ids):
            return
        time.sleep(2)
    raise AssertionError("instances still not terminated: %s" % live)


def test_console_in_browser(cloud, user, node):
    env = cloud.env
    art = artifacts_dir()
    if os.path.isdir(art):
        shutil.rmtree(art)
    os.makedirs(art)
    run_env = wh.clean_env({
        "OC_CONSOLE_URL": env.clc.endpoint + "/console/",
        "OC_ACCOUNT": user["account"], "OC_USER": user["user"],
        "OC_PASSWORD": user["password"],
        "OC_ADMIN_AK": env.ak1, "OC_ADMIN_SK": env.sk1,
        "OC_IMAGE_ID": cloud.image,
        "OC_NODE_NAME": cloud.clusters[0].ncs[0].name,
        "OC_ARTIFACTS": art,
        "OC_CHROMIUM": CHROMIUM,
        "NODE_NO_WARNINGS": "1",
    })
    try:
        p = subprocess.run([node, "console.test.mjs"], cwd=JS, env=run_env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=1800)
        sys.stdout.write(p.stdout)
        with open(os.path.join(art, "console-test.log"), "w") as f:
            f.write(p.stdout)
        assert p.returncode == 0, "the browser test failed (screenshots in %s):\n%s" \
            % (art, p.stdout[-6000:])
    finally:
        cleanup_instances(cloud)

    shots = sorted(f for f in os.listdir(art) if f.endswith(".png"))
    for want in ("dashboard", "instances", "console-output", "keypairs", "groups", "images",
                 "addresses", "bucket-objects", "logged-out", "accounts", "services", "nodes",
                 "properties"):
        assert any(want in f for f in shots), (want, shots)
    with open(os.path.join(art, "state.json")) as f:
        state = json.load(f)

    # The credential bundle built in the browser is a zip any tool reads.
    with zipfile.ZipFile(os.path.join(art, "download-%s-alice-credentials.zip"
                                      % state["account"])) as z:
        assert z.testzip() is None
        names = z.namelist()
        for n in ("eucarc", "aws-config", "aws-credentials", "cloud-cert.pem"):
            assert n in names, names
        certs = [n for n in names if n.endswith("-cert.pem") and n != "cloud-cert.pem"]
        pks = [n for n in names if n.endswith("-pk.pem")]
        assert len(certs) == 1 and len(pks) == 1, names
        rc = z.read("eucarc").decode()
        assert "export EC2_URL=%s/services/compute" % env.clc.endpoint in rc, rc
        akid = re.search(r"^export AWS_ACCESS_KEY_ID=(\S+)$", rc, re.M).group(1)
        assert "aws_access_key_id = %s" % akid in z.read("aws-credentials").decode()
        assert z.read(certs[0]).startswith(b"-----BEGIN CERTIFICATE-----")
        assert b"PRIVATE KEY-----" in z.read(pks[0])
        assert z.read("cloud-cert.pem").startswith(b"-----BEGIN CERTIFICATE-----")

    # What the browser did is what the APIs now say.
    ec2 = env.ec2(2)
    inst = ec2.describe_instances(InstanceIds=[state["iid"]])["Reservations"][0]["Instances"][0]
    assert inst["State"]["Name"] == "terminated"
    assert inst["KeyName"] == state["key"]
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == [state["key"]]
    iam = delegated_iam(env, state["account"])
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["alice"]
    keys = iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]
    assert len(keys) >= 2 and all(k["Status"] == "Inactive" for k in keys), keys
    with pytest.raises(Exception) as e:
        iam.get_login_profile(UserName="alice")
    assert "NoSuchEntity" in str(e.value)
    # The disabled user cannot sign in.
    s = Session(env.clc.endpoint)
    tag = state["account"].rsplit("-", 1)[1]
    r = s.login(Account=state["account"], UserName="alice", Password="Alice-pw-" + tag)
    assert r.status_code == 403 and error_code(r) == "AuthFailure", r.text

