"""The admin API (/services/Empyrean, /services/Properties), overcast-admin's
cloud commands, IAM login profiles and CreateSigningCertificate, the
credential bundle, and the console's back end on the CLC (sessions, CSRF
tokens, static files, the S3 path for sessions), all through real requests
to real daemons.

The first tests use the session's CLC and Walrus (conftest `cloud`); the
`cl` fixture adds a real overcast-cc and overcast-nc (no VMs are started:
registration, health, capacity and properties need none).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
import zipfile

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nc_harness as nh  # noqa: E402
import walrus_harness as wh  # noqa: E402

REGION = "us-east-1"
EMPYREAN_NS = "http://www.eucalyptus.com/ns/empyrean/2012-10-01/"


def uname(prefix="adm"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def strip_ns(root):
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    return root


def signed(cloud, path, service, params, who=1, creds=None, version="eucalyptus"):
    """A SigV4-signed Query POST to the CLC: (status, root, namespace)."""
    ak, sk = creds or cloud.keys(who)
    body = urllib.parse.urlencode(dict({"Version": version}, **params))
    url = cloud.ec2_endpoint.rstrip("/") + path
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=url, data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk), service,
                            REGION).add_auth(req)
    s = requests.Session()
    s.trust_env = False
    r = s.post(url, data=body, headers=dict(req.headers.items()), timeout=120)
    root = ET.fromstring(r.content)
    ns = root.tag.split("}", 1)[0][1:] if root.tag.startswith("{") else None
    return r.status_code, strip_ns(root), ns


def admin_api(cloud, action, who=1, **params):
    return signed(cloud, "/services/Empyrean", "euca", dict({"Action": action}, **params),
                  who=who)


def error_code(root):
    e = root.find("Errors/Error")
    if e is None:
        e = root.find("Error")
    return e.findtext("Code") if e is not None else None


def iam(cloud, who=1, creds=None):
    ak, sk = creds or cloud.keys(who)
    return boto3.client("iam", endpoint_url=cloud.ec2_endpoint.rstrip("/") + "/services/Euare",
                        region_name=REGION, aws_access_key_id=ak, aws_secret_access_key=sk)


def admin_cli(cloud, *args, check=True):
    exe = os.path.join(wh.build_dir(), "euca-compat", "overcast-admin")
    url = cloud.ec2_endpoint.rstrip("/") + "/services/Euare"
    env = wh.clean_env({"AWS_ACCESS_KEY_ID": cloud.ak1, "AWS_SECRET_ACCESS_KEY": cloud.sk1,
                        "S3_URL": cloud.endpoint})
    p = subprocess.run([exe, "--home", cloud.home, "--url", url] + list(args),
                       capture_output=True, text=True, env=env, timeout=120)
    if check:
        assert p.returncode == 0, "overcast-admin %s: %s%s" % (args, p.stdout, p.stderr)
    return p


def session():
    s = requests.Session()
    s.trust_env = False
    return s


def new_user_with_password(cloud, password, key=True):
    """A user of the second account with a login profile (and a key)."""
    c = iam(cloud, who=2)
    name = uname("con")
    c.create_user(UserName=name)
    c.create_login_profile(UserName=name, Password=password)
    ak = sk = None
    if key:
        k = c.create_access_key(UserName=name)["AccessKey"]
        ak, sk = k["AccessKeyId"], k["SecretAccessKey"]
    return name, ak, sk


def login(cloud, **form):
    s = session()
    r = s.post(cloud.ec2_endpoint.rstrip("/") + "/console/api/login", data=form, timeout=60)
    return s, r


# --------------------------------------------------------------------------
# IAM: login profiles and CA-issued signing certificates

def test_login_profiles_as_iam_documents(cloud):
    c = iam(cloud, who=2)
    name = uname()
    c.create_user(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.get_login_profile(UserName=name)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.create_login_profile(UserName=name, Password="short")
    assert e.value.response["Error"]["Code"] == "PasswordPolicyViolation"
    p = c.create_login_profile(UserName=name, Password="correct horse 1",
                               PasswordResetRequired=True)["LoginProfile"]
    assert p["UserName"] == name and p["PasswordResetRequired"] is True
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.create_login_profile(UserName=name, Password="another one 2")
    assert e.value.response["Error"]["Code"] == "EntityAlreadyExists"
    assert c.get_login_profile(UserName=name)["LoginProfile"]["UserName"] == name
    c.update_login_profile(UserName=name, Password="battery staple 3")
    # A user with a password cannot be deleted before it (as IAM).
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.delete_user(UserName=name)
    assert e.value.response["Error"]["Code"] == "DeleteConflict"
    c.delete_login_profile(UserName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        c.delete_login_profile(UserName=name)
    assert e.value.response["Error"]["Code"] == "NoSuchEntity"
    c.delete_user(UserName=name)
    # Another account's user is out of reach for a non-admin.
    status, root, _ = signed(cloud, "/services/Euare", "iam",
                             {"Action": "CreateLoginProfile", "UserName": "admin",
                              "Password": "whatever12", "DelegateAccount": "eucalyptus"},
                             who=2, version="2010-05-08")
    assert status == 403 and error_code(root) == "AccessDenied"


def _openssl(*args, stdin=None):
    return subprocess.run(["openssl"] + list(args), input=stdin, capture_output=True,
                          text=True, timeout=60)


def test_create_signing_certificate_is_issued_by_the_cloud(cloud, tmp_path):
    status, root, ns = admin_api(cloud, "GetCloudCertificate")
    assert status == 200 and ns == EMPYREAN_NS
    ca = root.findtext("certificate")
    assert ca.startswith("-----BEGIN CERTIFICATE-----")
    (tmp_path / "ca.pem").write_text(ca)

    name = uname()
    c = iam(cloud, who=2)
    c.create_user(UserName=name)
    status, root, _ = signed(cloud, "/services/Euare", "iam",
                             {"Action": "CreateSigningCertificate", "UserName": name},
                             who=2, version="2010-05-08")
    assert status == 200, ET.tostring(root)
    res = root.find("CreateSigningCertificateResult")
    cert = res.findtext("Certificate/CertificateBody")
    key = res.findtext("PrivateKey")
    cert_id = res.findtext("Certificate/CertificateId")
    (tmp_path / "u.pem").write_text(cert)
    (tmp_path / "k.pem").write_text(key)
    v = _openssl("verify", "-CAfile", str(tmp_path / "ca.pem"), str(tmp_path / "u.pem"))
    assert v.returncode == 0, v.stdout + v.stderr
    subj = _openssl("x509", "-noout", "-subject", "-in", str(tmp_path / "u.pem")).stdout
    assert name in subj and cloud.acct2 in subj
    m1 = _openssl("x509", "-noout", "-pubkey", "-in", str(tmp_path / "u.pem")).stdout
    m2 = _openssl("pkey", "-pubout", "-in", str(tmp_path / "k.pem")).stdout
    assert m1 and m1 == m2
    # Stored like an uploaded one (the private key is not).
    certs = c.list_signing_certificates(UserName=name)["Certificates"]
    assert [x["CertificateId"] for x in certs] == [cert_id]
    assert key.split("\n")[1] not in str(certs)
    c.delete_signing_certificate(UserName=name, CertificateId=cert_id)
    c.delete_user(UserName=name)


def test_admin_api_is_admin_only(cloud):
    for action in ("DescribeServices", "DescribeNodeControllers", "DescribeProperties",
                   "GetCloudCertificate", "RegisterService"):
        status, root, _ = admin_api(cloud, action, who=2)
        assert status == 403 and error_code(root) == "AccessDenied", (action, ET.tostring(root))
    # The same through /services/Properties.
    status, root, _ = signed(cloud, "/services/Properties", "euca",
                             {"Action": "DescribeProperties"}, who=2)
    assert status == 403 and error_code(root) == "AccessDenied"
    status, root, _ = admin_api(cloud, "NoSuchAction")
    assert status == 400 and error_code(root) == "InvalidAction"
    p = admin_cli(cloud, "describe-services", check=False)
    assert p.returncode == 0
    env = dict(os.environ)
    # overcast-admin as a non-admin: the CLC's refusal, plainly.
    exe = os.path.join(wh.build_dir(), "euca-compat", "overcast-admin")
    env = wh.clean_env({"AWS_ACCESS_KEY_ID": cloud.ak2, "AWS_SECRET_ACCESS_KEY": cloud.sk2})
    p = subprocess.run([exe, "--home", cloud.home, "--url",
                        cloud.ec2_endpoint.rstrip("/") + "/services/Euare", "describe-nodes"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1 and "AccessDenied" in p.stderr


def test_get_credentials_bundle(cloud, tmp_path):
    name = uname("cred")
    iam(cloud, who=2).create_user(UserName=name)
    out = tmp_path / "creds.zip"
    p = admin_cli(cloud, "get-credentials", "testacct2", name, str(out))
    path, akid, cert_id = p.stdout.strip().split("\t")
    assert path == str(out) and akid.startswith("AKIA")
    with zipfile.ZipFile(out) as z:
        names = sorted(z.namelist())
        z.extractall(tmp_path / "x")
    prefix = "euca2-%s-%s" % (name, cert_id[:8])
    assert names == sorted(["eucarc", "aws-config", "aws-credentials", "cloud-cert.pem",
                            prefix + "-cert.pem", prefix + "-pk.pem"])
    x = tmp_path / "x"
    v = _openssl("verify", "-CAfile", str(x / "cloud-cert.pem"), str(x / (prefix + "-cert.pem")))
    assert v.returncode == 0, v.stdout + v.stderr
    # The eucarc works as it is: source it and call EC2 and IAM.
    sh = ("set -e; . ./eucarc; test -f \"$EC2_CERT\" && test -f \"$EC2_PRIVATE_KEY\" && "
          "test -f \"$EUCALYPTUS_CERT\"; echo \"$AWS_ACCESS_KEY_ID $EC2_URL $S3_URL\"")
    r = subprocess.run(["bash", "-c", sh], cwd=x, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    ak, ec2_url, s3_url = r.stdout.split()
    assert ak == akid and ec2_url == cloud.ec2_endpoint.rstrip("/") + "/services/compute"
    assert s3_url == cloud.endpoint
    creds = (x / "aws-credentials").read_text()
    sk = creds.split("aws_secret_access_key = ")[1].split()[0]
    who = iam(cloud, creds=(akid, sk)).get_user()["User"]
    assert who["UserName"] == name
    ec2 = boto3.client("ec2", endpoint_url=ec2_url, region_name=REGION,
                       aws_access_key_id=akid, aws_secret_access_key=sk)
    assert ec2.describe_regions()["Regions"]
    # A directory works too; an existing path is refused, nothing is made
    # for a user that does not exist.
    d = tmp_path / "dir"
    admin_cli(cloud, "get-credentials", "testacct2", name, str(d))
    listed = sorted(os.listdir(d))
    assert len(listed) == 6 and set(names) - set(listed) == {prefix + "-cert.pem",
                                                             prefix + "-pk.pem"}
    assert os.stat(d / "eucarc").st_mode & 0o077 == 0
    p = admin_cli(cloud, "get-credentials", "testacct2", name, str(d), check=False)
    assert p.returncode == 1 and "exists" in p.stderr
    keys = iam(cloud, who=2).list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert len(keys) == 2
    p = admin_cli(cloud, "get-credentials", "testacct2", "nobody-" + name,
                  str(tmp_path / "n.zip"), check=False)
    assert p.returncode == 1 and "NoSuchEntity" in p.stderr
    assert not (tmp_path / "n.zip").exists()


# --------------------------------------------------------------------------
# the console's back end

def test_console_login_session_and_csrf(cloud):
    base = cloud.ec2_endpoint.rstrip("/")
    name, _, _ = new_user_with_password(cloud, "s3cret-passw0rd", key=False)
    # Wrong password, unknown user, missing fields.
    for form in ({"Account": "testacct2", "UserName": name, "Password": "wrong-password"},
                 {"Account": "testacct2", "UserName": "nobody", "Password": "s3cret-passw0rd"},
                 {"Account": "no-such-account", "UserName": name,
                  "Password": "s3cret-passw0rd"}):
        s, r = login(cloud, **form)
        assert r.status_code == 403 and error_code(ET.fromstring(r.content)) == "AuthFailure"
        assert "oc_session" not in s.cookies
    s, r = login(cloud)
    assert r.status_code == 400
    s, r = login(cloud, Account="testacct2", UserName=name, Password="s3cret-passw0rd")
    assert r.status_code == 200, r.text
    doc = ET.fromstring(r.content)
    csrf = doc.findtext("CsrfToken")
    assert doc.findtext("UserName") == name and doc.findtext("IsAdmin") == "false"
    assert doc.findtext("AccountId") == cloud.acct2 and len(csrf) == 64
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    q = {"Action": "DescribeKeyPairs", "Version": "2016-11-15"}
    # Without the token: refused.  With a wrong one: refused.  With it: the API.
    r = s.post(base + "/services/compute", data=q, timeout=60)
    assert r.status_code == 403 and error_code(ET.fromstring(r.content)) == "AccessDenied"
    r = s.post(base + "/services/compute", data=q, headers={"X-Overcast-Csrf": "0" * 64},
               timeout=60)
    assert r.status_code == 403
    r = s.post(base + "/services/compute", data=q, headers={"X-Overcast-Csrf": csrf},
               timeout=60)
    assert r.status_code == 200 and "DescribeKeyPairsResponse" in r.text
    # The session acts as its user: IAM GetUser names it, admin actions are refused.
    r = s.post(base + "/services/Euare", data={"Action": "GetUser", "Version": "2010-05-08"},
               headers={"X-Overcast-Csrf": csrf}, timeout=60)
    assert r.status_code == 200 and name in r.text
    r = s.post(base + "/services/Empyrean", data={"Action": "DescribeServices"},
               headers={"X-Overcast-Csrf": csrf}, timeout=60)
    assert r.status_code == 403 and error_code(ET.fromstring(r.content)) == "AccessDenied"
    # A page reload finds the session again.
    r = s.get(base + "/console/api/session", timeout=60)
    assert r.status_code == 200 and ET.fromstring(r.content).findtext("CsrfToken") == csrf
    # Logout needs the token, then ends the session for good.
    r = s.post(base + "/console/api/logout", timeout=60)
    assert r.status_code == 403
    old = s.cookies.get("oc_session")
    r = s.post(base + "/console/api/logout", headers={"X-Overcast-Csrf": csrf}, timeout=60)
    assert r.status_code == 200
    s2 = session()
    s2.cookies.set("oc_session", old)
    r = s2.post(base + "/services/compute", data=q, headers={"X-Overcast-Csrf": csrf},
                timeout=60)
    assert r.status_code == 401 and error_code(ET.fromstring(r.content)) == "AuthFailure"
    assert s2.get(base + "/console/api/session", timeout=60).status_code == 401
    # A deleted login profile ends live sessions at once.
    s, r = login(cloud, Account=cloud.acct2, UserName=name, Password="s3cret-passw0rd")
    assert r.status_code == 200
    csrf = ET.fromstring(r.content).findtext("CsrfToken")
    iam(cloud, who=2).delete_login_profile(UserName=name)
    r = s.post(base + "/services/compute", data=q, headers={"X-Overcast-Csrf": csrf},
               timeout=60)
    assert r.status_code == 401
    iam(cloud, who=2).delete_user(UserName=name)


def test_console_login_with_an_access_key(cloud):
    base = cloud.ec2_endpoint.rstrip("/")
    s, r = login(cloud, AccessKeyId=cloud.ak1, SecretAccessKey="x" * 40)
    assert r.status_code == 403
    s, r = login(cloud, AccessKeyId=cloud.ak1, SecretAccessKey=cloud.sk1)
    assert r.status_code == 200
    doc = ET.fromstring(r.content)
    assert doc.findtext("IsAdmin") == "true" and doc.findtext("AccountName") == "eucalyptus"
    r = s.post(base + "/services/Empyrean", data={"Action": "DescribeServices"},
               headers={"X-Overcast-Csrf": doc.findtext("CsrfToken")}, timeout=120)
    assert r.status_code == 200 and "serviceStatuses" in r.text
    # The components' internal APIs never take a session, even an admin's.
    for path, action in (("/services/Identity", "GetSigningKey"),
                         ("/services/Cluster", "clcInstanceEvent")):
        r = s.post(base + path, data={"Action": action, "Version": "2016-11-15"},
                   headers={"X-Overcast-Csrf": doc.findtext("CsrfToken")}, timeout=60)
        assert r.status_code in (401, 403), (path, r.status_code, r.text)


def test_console_static_files(cloud):
    base = cloud.ec2_endpoint.rstrip("/")
    s = session()
    r = s.get(base + "/console", allow_redirects=False, timeout=30)
    assert r.status_code == 301 and r.headers["Location"] == "/console/"
    r = s.get(base + "/console/", timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "<html" in r.text.lower()
    for bad in ("/console/../etc/passwd", "/console/%2e%2e/etc/passwd", "/console/.hidden",
                "/console/nope.js", "/console/a//b"):
        assert s.get(base + bad, timeout=30).status_code == 404, bad
    assert s.post(base + "/console/index.html", timeout=30).status_code in (404, 405)


def test_console_object_storage_path(cloud):
    base = cloud.ec2_endpoint.rstrip("/") + "/services/objectstorage"
    name, ak, sk = new_user_with_password(cloud, "bucket-passw0rd")
    s, r = login(cloud, Account="testacct2", UserName=name, Password="bucket-passw0rd")
    csrf = {"X-Overcast-Csrf": ET.fromstring(r.content).findtext("CsrfToken")}
    bucket = uname("con")
    # No session, or no token: refused before Walrus is asked.
    assert session().put(base + "/" + bucket, timeout=60).status_code == 403
    assert s.put(base + "/" + bucket, timeout=60).status_code == 403
    r = s.put(base + "/" + bucket, headers=csrf, timeout=60)
    assert r.status_code == 200, r.text
    data = os.urandom(3 * 1024 * 1024 + 17)
    key = "dir/a b+c.bin"
    enc = urllib.parse.quote(key)
    r = s.put(base + "/%s/%s" % (bucket, enc), data=data, headers=csrf, timeout=120)
    assert r.status_code == 200, r.text
    # What Walrus holds is exactly it, owned by the session's user.
    s3 = boto3.client("s3", endpoint_url=cloud.endpoint, region_name=REGION,
                      aws_access_key_id=ak, aws_secret_access_key=sk)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    r = s.get(base + "/%s/%s" % (bucket, enc), headers=csrf, timeout=120)
    assert r.status_code == 200 and r.content == data
    r = s.get(base + "/%s?list-type=2&prefix=dir/" % bucket, headers=csrf, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/xml"
    listed = [k.findtext("Key") for k in strip_ns(ET.fromstring(r.content)).iter("Contents")]
    assert listed == [key]
    r = s.get(base + "/", headers=csrf, timeout=60)
    assert r.status_code == 200 and bucket in r.text
    # S3's own errors come through as S3 errors.
    r = s.get(base + "/%s/nope" % bucket, headers=csrf, timeout=60)
    assert r.status_code == 404 and ET.fromstring(r.content).findtext("Code") == "NoSuchKey"
    r = s.get(base + "/" + bucket, headers=csrf, timeout=60)
    assert r.status_code == 200
    # Other methods are refused.
    assert s.post(base + "/" + bucket, headers=csrf, timeout=60).status_code == 405
    assert s.delete(base + "/%s/%s" % (bucket, enc), headers=csrf, timeout=60).status_code == 204
    assert s.delete(base + "/" + bucket, headers=csrf, timeout=60).status_code == 204
    # A user with no access key cannot reach the object store (said plainly).
    c = iam(cloud, who=2)
    c.delete_access_key(UserName=name, AccessKeyId=ak)
    r = s.get(base + "/", headers=csrf, timeout=60)
    assert r.status_code == 403 and "no active access key" in r.text
    c.delete_login_profile(UserName=name)
    c.delete_user(UserName=name)


# --------------------------------------------------------------------------
# services, nodes and properties with a real cluster and node

class Rig:
    pass


@pytest.fixture(scope="module")
def cl(cloud):
    c = Rig()
    c.tmp = tempfile.mkdtemp(prefix="overcast-adm-")
    c.libvirtd = nh.Libvirtd()
    c.cc = c.nc = None
    c.zone = "zadm%d" % (os.getpid() % 10000)
    try:
        c.libvirtd.ensure()
        c.cc_port = wh.free_port()
        c.cc = nh.Cc(cloud.home, port=c.cc_port, env={
            "OVERCAST_CLC_URL": cloud.clc.endpoint, "OVERCAST_SCHEDPOLICY": "ROUNDROBIN",
            "OVERCAST_CC_POLL_INTERVAL": "1", "OVERCAST_CC_NODE_DOWN_AFTER": "2",
            "OVERCAST_CC_NAME": c.zone})
        c.cc.start()
        c.nc = nh.Nc(cloud.home, env={
            "OVERCAST_NC_NAME": "admnode1", "OVERCAST_CLC_URL": cloud.clc.endpoint,
            "OVERCAST_WALRUS_URL": cloud.endpoint, "OVERCAST_HYPERVISOR": "qemu",
            "OVERCAST_NC_MAX_CORES": "2", "OVERCAST_NC_MAX_MEM_MB": "1024",
            "OVERCAST_NC_MAX_DISK_GB": "50", "OVERCAST_CC_URL": c.cc.endpoint})
        c.nc.start()
        yield c
    finally:
        if c.nc is not None and c.nc.alive():
            c.nc.stop()
        if c.cc is not None:
            if c.cc.alive():
                c.cc.stop()
            sys.stderr.write("\n--- overcast-cc log tail ---\n%s\n" % c.cc.log_tail(3000))
        admin_cli(cloud, "deregister-cluster", c.zone, check=False)
        c.libvirtd.stop()
        shutil.rmtree(c.tmp, ignore_errors=True)


def services(cloud, *args):
    out = admin_cli(cloud, "describe-services", *args).stdout
    return [l.split("\t")[1:] for l in out.splitlines() if l.startswith("SERVICE\t")]


def wait_for(fn, timeout=60):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.5)


def test_register_and_describe_services_and_nodes(cloud, cl):
    port = str(cl.cc_port)
    p = admin_cli(cloud, "register-node", cl.zone, "admnode1", "127.0.0.1",
                  str(cl.nc.port), check=False)
    assert p.returncode == 1 and "InvalidParameterValue" in p.stderr   # no such zone yet
    admin_cli(cloud, "register-cluster", cl.zone, "127.0.0.1", port)
    admin_cli(cloud, "register-node", cl.zone, "admnode1", "127.0.0.1", str(cl.nc.port))
    got = wait_for(lambda: [s for s in services(cloud) if s[0] == "node" and
                            s[1] == cl.zone and s[3] == "ENABLED"])
    assert got and got[0][2] == "admnode1", services(cloud)
    kinds = {(s[0], s[3]) for s in services(cloud)}
    assert ("cloud", "ENABLED") in kinds and ("walrus", "ENABLED") in kinds
    assert ("cluster", "ENABLED") in kinds
    ours = services(cloud, "--zone", cl.zone)
    assert {s[0] for s in ours} == {"cluster", "node"} and all(s[1] == cl.zone for s in ours)
    assert [s[2] for s in services(cloud, "--type", "node", "--zone", cl.zone)] == ["admnode1"]
    # The namespace and shape of the API itself.
    status, root, ns = admin_api(cloud, "DescribeNodeControllers", ByPartition=cl.zone)
    assert status == 200 and ns == EMPYREAN_NS and root.findtext("requestId")
    items = root.findall("nodeControllers/item")
    assert len(items) == 1
    n = items[0]
    assert n.findtext("name") == "admnode1" and n.findtext("partition") == cl.zone
    assert n.findtext("state") == "ENABLED" and n.findtext("coresTotal") == "2"
    assert n.findtext("memoryTotalMiB") == "1024"
    out = admin_cli(cloud, "describe-nodes", cl.zone).stdout.splitlines()
    assert out == ["NODE\t%s\tadmnode1\t127.0.0.1\tENABLED\t2/2\t1024/1024" % cl.zone], out


def test_a_node_that_stops_answering_is_notready(cloud, cl):
    admin_cli(cloud, "register-cluster", cl.zone, "127.0.0.1", str(cl.cc_port))
    admin_cli(cloud, "register-node", cl.zone, "admnode1", "127.0.0.1", str(cl.nc.port),
              check=False)
    cl.nc.stop()
    try:
        got = wait_for(lambda: [s for s in services(cloud, "--type", "node", "--zone", cl.zone)
                                if s[3] == "NOTREADY"])
        assert got, services(cloud)
    finally:
        cl.nc.start()
    assert wait_for(lambda: [s for s in services(cloud, "--type", "node", "--zone", cl.zone)
                             if s[3] == "ENABLED"])
    # A cluster controller that is down: NOTREADY with the reason.
    cl.cc.stop()
    try:
        status, root, _ = admin_api(cloud, "DescribeServices", ByServiceType="cluster",
                                    ByPartition=cl.zone)
        item = root.find("serviceStatuses/item")
        assert item.findtext("localState") == "NOTREADY"
        assert item.findtext("details/item/message")
    finally:
        cl.cc.start()


def test_properties_instance_types_and_scheduling_policy(cloud, cl):
    admin_cli(cloud, "register-cluster", cl.zone, "127.0.0.1", str(cl.cc_port))
    props = dict(l.split("\t")[1:3] for l in
                 admin_cli(cloud, "properties").stdout.splitlines())
    assert props["cloud.vmtypes.m1.small.cpu"] == "1"
    pol = "%s.cluster.schedulingpolicy" % cl.zone
    assert props[pol] == "ROUNDROBIN"
    sub = admin_cli(cloud, "properties", "get", "cloud.vmtypes.m1.small").stdout.splitlines()
    assert [l.split("\t")[1] for l in sub] == ["cloud.vmtypes.m1.small.cpu",
                                               "cloud.vmtypes.m1.small.memory",
                                               "cloud.vmtypes.m1.small.disk"]
    ec2 = boto3.client("ec2", endpoint_url=cloud.ec2_endpoint, region_name=REGION,
                       aws_access_key_id=cloud.ak1, aws_secret_access_key=cloud.sk1)

    def vcpus():
        t = ec2.describe_instance_types(InstanceTypes=["m1.small"])["InstanceTypes"][0]
        return t["VCpuInfo"]["DefaultVCpus"]

    old_mem = props["cloud.vmtypes.m1.small.memory"]
    try:
        out = admin_cli(cloud, "properties", "set", "cloud.vmtypes.m1.small.cpu=2").stdout
        assert out.split("\t")[1:] == ["cloud.vmtypes.m1.small.cpu", "2", "1\n"]
        assert vcpus() == 2
        for bad in ("cloud.vmtypes.m1.small.cpu=0", "cloud.vmtypes.m1.small.cpu=abc",
                    "cloud.vmtypes.nosuch.cpu=2", "no.such.property=1", pol + "=FASTEST"):
            p = admin_cli(cloud, "properties", "set", bad, check=False)
            assert p.returncode == 1 and "InvalidParameterValue" in p.stderr, bad
        assert vcpus() == 2
    finally:
        admin_cli(cloud, "properties", "set", "cloud.vmtypes.m1.small.cpu=1")
        admin_cli(cloud, "properties", "set", "cloud.vmtypes.m1.small.memory=" + old_mem)
    # The cluster switches at once and keeps it across its restart.
    admin_cli(cloud, "properties", "set", pol + "=POWERSAVE")
    assert "SCHEDPOLICY ROUNDROBIN -> POWERSAVE" in cl.cc.log_tail(20000)
    cl.cc.stop()
    cl.cc.start()
    props = dict(l.split("\t")[1:3] for l in
                 admin_cli(cloud, "properties", "get", pol).stdout.splitlines())
    assert props == {pol: "POWERSAVE"}
    # Through /services/Properties, as euctl calls it.
    status, root, _ = signed(cloud, "/services/Properties", "euca",
                             {"Action": "ModifyPropertyValue", "Name": pol,
                              "Value": "ROUNDROBIN"})
    assert status == 200 and root.findtext("oldValue") == "POWERSAVE"


def test_deregister(cloud, cl):
    admin_cli(cloud, "register-cluster", cl.zone, "127.0.0.1", str(cl.cc_port))
    admin_cli(cloud, "register-node", cl.zone, "admnode1", "127.0.0.1", str(cl.nc.port),
              check=False)
    admin_cli(cloud, "deregister-node", cl.zone, "admnode1")
    assert admin_cli(cloud, "describe-nodes", cl.zone).stdout == ""
    p = admin_cli(cloud, "deregister-node", cl.zone, "admnode1", check=False)
    assert p.returncode == 1
    admin_cli(cloud, "deregister-cluster", cl.zone)
    assert not [s for s in services(cloud) if s[1] == cl.zone]
    p = admin_cli(cloud, "deregister-cluster", cl.zone, check=False)
    assert p.returncode == 1 and "InvalidParameterValue" in p.stderr


def test_verbose_zone_listing_counts_the_nodes_capacity(cloud, cl):
    """euca-describe-availability-zones verbose: free / max per type from the
    node's reported cores, memory and disk (2 cores, 1024 MiB, 50 GiB)."""
    admin_cli(cloud, "register-cluster", cl.zone, "127.0.0.1", str(cl.cc_port))
    admin_cli(cloud, "register-node", cl.zone, "admnode1", "127.0.0.1", str(cl.nc.port),
              check=False)
    assert wait_for(lambda: [s for s in services(cloud, "--type", "node", "--zone", cl.zone)
                             if s[3] == "ENABLED"])
    ec2 = boto3.client("ec2", endpoint_url=cloud.ec2_endpoint, region_name=REGION,
                       aws_access_key_id=cloud.ak1, aws_secret_access_key=cloud.sk1)
    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    items = ec2.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
    names = [i["ZoneName"] for i in items]
    at = names.index(cl.zone)
    seen = 0
    for it in items[at + 2:]:
        if not it["ZoneName"].startswith("|- "):
            break
        t = types[it["ZoneName"][3:]]
        cpu, mem = t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"]
        disk = t["InstanceStorageInfo"]["TotalSizeInGB"]
        want = min(2 // cpu, 1024 // mem, 50 // disk)
        assert it["State"].startswith("%04d / %04d " % (want, want)), (it, t)
        seen += want > 0
    assert seen > 0   # some type fits, so the figures are not all zero


def test_credential_bundle_drives_the_bundling_tools(cloud, tmp_path):
    """As a Eucalyptus user works: get-credentials, source the eucarc, bundle a
    disk image and upload it with no other options, register it."""
    name = uname("bund")
    iam(cloud, who=2).create_user(UserName=name)
    d = tmp_path / "creds"
    admin_cli(cloud, "get-credentials", "testacct2", name, str(d))
    img = tmp_path / "disk.img"
    img.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    bucket = uname("bundles")
    tools = os.path.join(wh.build_dir(), "euca-compat")
    sh = ('set -e; . "%s/eucarc"; unset OVERCAST_HOME; '
          '"%s/overcast-bundle-image" -i "%s" -r x86_64 -d "%s/out"; '
          '"%s/overcast-upload-bundle" -b %s -m "%s/out/disk.img.manifest.xml"'
          % (d, tools, img, tmp_path, tools, bucket, tmp_path))
    env = wh.clean_env()
    r = subprocess.run(["bash", "-c", sh], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Uploaded %s/disk.img.manifest.xml" % bucket in r.stdout, r.stdout
    creds = (d / "aws-credentials").read_text()
    ak = creds.split("aws_access_key_id = ")[1].split()[0]
    sk = creds.split("aws_secret_access_key = ")[1].split()[0]
    ec2 = boto3.client("ec2", endpoint_url=cloud.ec2_endpoint, region_name=REGION,
                       aws_access_key_id=ak, aws_secret_access_key=sk)
    image = ec2.register_image(ImageLocation="%s/disk.img.manifest.xml" % bucket,
                               Name=uname("img"))["ImageId"]
    got = ec2.describe_images(ImageIds=[image])["Images"][0]
    assert got["State"] == "available" and got["OwnerId"] == cloud.acct2
    ec2.deregister_image(ImageId=image)


def test_image_cache_size_reaches_every_node_and_survives_its_restart(cloud, cl):
    admin_cli(cloud, "register-cluster", cl.zone, "127.0.0.1", str(cl.cc_port))
    admin_cli(cloud, "register-node", cl.zone, "admnode1", "127.0.0.1", str(cl.nc.port),
              check=False)
    prop = "%s.node.imagecachesize" % cl.zone

    def value():
        out = admin_cli(cloud, "properties", "get", prop).stdout.splitlines()
        return dict(l.split("\t")[1:3] for l in out).get(prop)

    assert wait_for(lambda: value() == "20480")          # NC_CACHE_MAX_MB's default
    for bad in ("0", "-5", "12x", ""):
        p = admin_cli(cloud, "properties", "set", "%s=%s" % (prop, bad), check=False)
        assert p.returncode != 0, bad
    out = admin_cli(cloud, "properties", "set", prop + "=1234").stdout
    assert out.split("\t")[1:] == [prop, "1234", "20480\n"]
    assert wait_for(lambda: value() == "1234"), value()
    assert "image cache: limit 20480 -> 1234 MiB" in cl.nc.log_tail(20000)
    # A node that restarts comes back with its configured limit; the
    # cluster gives it the property again.
    cl.nc.stop()
    cl.nc.start()
    assert wait_for(lambda: "limit 20480 -> 1234 MiB" in cl.nc.log_tail(20000), timeout=60)
    assert wait_for(lambda: value() == "1234", timeout=60), value()
    admin_cli(cloud, "properties", "set", prop + "=20480")
