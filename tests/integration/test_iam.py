"""IAM ("Euare") on the CLC at /services/Euare, driven by awscli v2, boto3,
raw SigV4-signed Query requests (for Eucalyptus's account actions, which no
SDK knows) and overcast-admin.

Accounts: who=1 is the admin user of `eucalyptus`, who=2 user2 of
`testacct2`, who=3 user3 of `testacct3`.  Tests make their own users with
fresh names and delete them; they never touch the harness's own users or
keys.
"""

import datetime
import json
import os
import subprocess
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import boto3
import pytest
import requests

AWS = "/usr/bin/aws"
REGION = "us-east-1"
IAM_VERSION = "2010-05-08"
IAM_NS = "https://iam.amazonaws.com/doc/2010-05-08/"


# --------------------------------------------------------------------------
# helpers

def uname(prefix="it"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def iam_url(cloud):
    return cloud.ec2_endpoint.rstrip("/") + "/services/Euare"


def creds_of(cloud, who):
    """The harness's access key and secret for who."""
    return cloud.keys(who)


def iam_client(cloud, ak, sk):
    return boto3.client("iam", endpoint_url=iam_url(cloud), region_name=REGION,
                        aws_access_key_id=ak, aws_secret_access_key=sk)


def ec2_client(cloud, ak, sk):
    return boto3.client("ec2", endpoint_url=cloud.ec2_endpoint, region_name=REGION,
                        aws_access_key_id=ak, aws_secret_access_key=sk)


def _clean_env(ak, sk):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and not k.startswith("OVERCAST_")
           and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update({"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk,
                "AWS_DEFAULT_REGION": REGION, "AWS_PAGER": "",
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_EC2_METADATA_DISABLED": "true",
                "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    return env


PROFILES = {1: "default", 2: "user2", 3: "user3"}


def iamcli(cloud, *args, who=1, check=True):
    """`aws iam ...` against /services/Euare as who; JSON output."""
    return cloud.iamcli("iam", *args, "--output", "json", profile=PROFILES[who], check=check)


def cli_json(p):
    return json.loads(p.stdout) if p.stdout.strip() else {}


def strip_ns(root):
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]
    return root


def raw_iam(cloud, params, who=1, creds=None):
    """A SigV4-signed form POST to the IAM endpoint: (status, root element, ns)."""
    ak, sk = creds or creds_of(cloud, who)
    body = urllib.parse.urlencode(dict({"Version": IAM_VERSION}, **params))
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=iam_url(cloud), data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(ak, sk), "iam",
                            REGION).add_auth(req)
    s = requests.Session()
    s.trust_env = False
    r = s.post(req.url, data=body, headers=dict(req.headers.items()), timeout=60)
    root = ET.fromstring(r.content)
    ns = root.tag.split("}", 1)[0][1:] if root.tag.startswith("{") else None
    return r.status_code, strip_ns(root), ns


def raw_error(root):
    e = root.find("Error")
    assert e is not None, ET.tostring(root)
    return e.findtext("Code"), e.findtext("Message"), e.findtext("Type")


def err_code(exc):
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


def make_cert(days_valid=365, cn="overcast-it"):
    """A self-signed RSA certificate in PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.utcnow()
    if days_valid > 0:
        start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=days_valid)
    else:
        start, end = now - datetime.timedelta(days=10), now - datetime.timedelta(days=1)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def wait_until(fn, timeout=6.0, step=0.25):
    """Polls fn() until it returns truthy; returns its last value."""
    end = time.time() + timeout
    v = fn()
    while not v and time.time() < end:
        time.sleep(step)
        v = fn()
    return v


def ec2_auth_state(cloud, ak, sk):
    """'ok', or the error code DescribeRegions got with this key."""
    try:
        ec2_client(cloud, ak, sk).describe_regions()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def iam_auth_state(cloud, ak, sk):
    try:
        iam_client(cloud, ak, sk).get_user()
        return "ok"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]


def cleanup_user(iam, name):
    """Deletes a test user with its keys and certificates, ignoring absence."""
    try:
        for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            iam.delete_access_key(UserName=name, AccessKeyId=k["AccessKeyId"])
        for c in iam.list_signing_certificates(UserName=name)["Certificates"]:
            iam.delete_signing_certificate(UserName=name, CertificateId=c["CertificateId"])
        iam.delete_user(UserName=name)
    except botocore.exceptions.ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchEntity":
            raise


@pytest.fixture
def user2(cloud):
    """A fresh user in account 2 (testacct2), removed afterwards."""
    iam = cloud.iam(2)
    name = uname("u")
    iam.create_user(UserName=name)
    yield name
    cleanup_user(iam, name)


# --------------------------------------------------------------------------
# awscli

def test_cli_user_lifecycle(cloud):
    name = uname("cli")
    out = cli_json(iamcli(cloud, "create-user", "--user-name", name, "--path", "/it/team/"))
    u = out["User"]
    assert u["UserName"] == name
    assert u["Path"] == "/it/team/"
    assert u["Arn"] == "arn:aws:iam::%s:user/it/team/%s" % (cloud.acct1, name)
    assert u["UserId"].startswith("AIDA") and len(u["UserId"]) == 21
    created = datetime.datetime.strptime(u["CreateDate"][:19], "%Y-%m-%dT%H:%M:%S")
    assert abs((created - datetime.datetime.utcnow()).total_seconds()) < 300
    try:
        got = cli_json(iamcli(cloud, "get-user", "--user-name", name))["User"]
        assert got == u
        listed = cli_json(iamcli(cloud, "list-users", "--path-prefix", "/it/"))["Users"]
        assert [x["UserName"] for x in listed if x["UserName"] == name] == [name]
        assert all(x["Path"].startswith("/it/") for x in listed)
        other = cli_json(iamcli(cloud, "list-users", "--path-prefix", "/nothing-here/"))
        assert other.get("Users", []) == []

        p = iamcli(cloud, "create-user", "--user-name", name, check=False)
        assert p.returncode != 0 and "EntityAlreadyExists" in p.stderr
        # IAM user names are unique regardless of case.
        p = iamcli(cloud, "create-user", "--user-name", name.upper(), check=False)
        assert p.returncode != 0 and "EntityAlreadyExists" in p.stderr
    finally:
        iamcli(cloud, "delete-user", "--user-name", name)
    p = iamcli(cloud, "get-user", "--user-name", name, check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr
    p = iamcli(cloud, "delete-user", "--user-name", name, check=False)
    assert p.returncode != 0 and "NoSuchEntity" in p.stderr


def test_cli_access_keys(cloud):
    name = uname("keys")
    iamcli(cloud, "create-user", "--user-name", name, who=2)
    try:
        k1 = cli_json(iamcli(cloud, "create-access-key", "--user-name", name,
                             who=2))["AccessKey"]
        assert k1["UserName"] == name and k1["Status"] == "Active"
        assert len(k1["AccessKeyId"]) == 20 and k1["AccessKeyId"].startswith("AKIA")
        assert len(k1["SecretAccessKey"]) == 40
        k2 = cli_json(iamcli(cloud, "create-access-key", "--user-name", name,
                             who=2))["AccessKey"]
        p = iamcli(cloud, "create-access-key", "--user-name", name, who=2, check=False)
        assert p.returncode != 0 and "LimitExceeded" in p.stderr

        meta = cli_json(iamcli(cloud, "list-access-keys", "--user-name", name,
                               who=2))["AccessKeyMetadata"]
        assert sorted(m["AccessKeyId"] for m in meta) == sorted([k1["AccessKeyId"],
                                                                 k2["AccessKeyId"]])
        assert all(m["Status"] == "Active" and m["UserName"] == name for m in meta)
        assert all("SecretAccessKey" not in m for m in meta)

        iamcli(cloud, "update-access-key", "--user-name", name, "--access-key-id",
               k1["AccessKeyId"], "--status", "Inactive", who=2)
        meta = cli_json(iamcli(cloud, "list-access-keys", "--user-name", name,
                               who=2))["AccessKeyMetadata"]
        status = {m["AccessKeyId"]: m["Status"] for m in meta}
        assert status == {k1["AccessKeyId"]: "Inactive", k2["AccessKeyId"]: "Active"}

        p = iamcli(cloud, "delete-user", "--user-name", name, who=2, check=False)
        assert p.returncode != 0 and "DeleteConflict" in p.stderr

        iamcli(cloud, "delete-access-key", "--user-name", name, "--access-key-id",
               k1["AccessKeyId"], who=2)
        p = iamcli(cloud, "delete-access-key", "--user-name", name, "--access-key-id",
                   k1["AccessKeyId"], who=2, check=False)
        assert p.returncode != 0 and "NoSuchEntity" in p.stderr
        iamcli(cloud, "delete-access-key", "--user-name", name, "--access-key-id",
               k2["AccessKeyId"], who=2)
        meta = cli_json(iamcli(cloud, "list-access-keys", "--user-name", name,
                               who=2))["AccessKeyMetadata"]
        assert meta == []
    finally:
        cleanup_user(cloud.iam(2), name)
    p = iamcli(cloud, "get-user", "--user-name", name, who=2, check=False)
    assert "NoSuchEntity" in p.stderr


def test_cli_list_users_server_pages(cloud):
    """--page-size makes awscli follow IAM's Marker/IsTruncated itself."""
    iam = cloud.iam(2)
    path = "/pg%s/" % uuid.uuid4().hex[:8]
    names = sorted(uname("pg") for _ in range(5))
    for n in names:
        iam.create_user(UserName=n, Path=path)
    try:
        users = cli_json(iamcli(cloud, "list-users", "--path-prefix", path, "--page-size", "2",
                                who=2))["Users"]
        assert [u["UserName"] for u in users] == names
    finally:
        for n in names:
            cleanup_user(iam, n)


def test_cli_signing_certificates(cloud, tmp_path):
    name = uname("cert")
    iamcli(cloud, "create-user", "--user-name", name, who=2)
    pem = make_cert()
    f = tmp_path / "cert.pem"
    f.write_text(pem)
    try:
        c = cli_json(iamcli(cloud, "upload-signing-certificate", "--user-name", name,
                            "--certificate-body", "file://%s" % f, who=2))["Certificate"]
        assert c["UserName"] == name and c["Status"] == "Active"
        cid = c["CertificateId"]
        assert len(cid) >= 24 and cid.isalnum() and cid.upper() == cid
        assert c["CertificateBody"].strip() == pem.strip()

        p = iamcli(cloud, "upload-signing-certificate", "--user-name", name,
                   "--certificate-body", "file://%s" % f, who=2, check=False)
        assert p.returncode != 0 and "DuplicateCertificate" in p.stderr

        bad = tmp_path / "bad.pem"
        bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                       "-----END CERTIFICATE-----\n")
        p = iamcli(cloud, "upload-signing-certificate", "--user-name", name,
                   "--certificate-body", "file://%s" % bad, who=2, check=False)
        assert p.returncode != 0 and "MalformedCertificate" in p.stderr
        expired = tmp_path / "expired.pem"
        expired.write_text(make_cert(days_valid=0))
        p = iamcli(cloud, "upload-signing-certificate", "--user-name", name,
                   "--certificate-body", "file://%s" % expired, who=2, check=False)
        assert p.returncode != 0 and "MalformedCertificate" in p.stderr

        certs = cli_json(iamcli(cloud, "list-signing-certificates", "--user-name", name,
                                who=2))["Certificates"]
        assert [x["CertificateId"] for x in certs] == [cid]
        iamcli(cloud, "update-signing-certificate", "--user-name", name, "--certificate-id",
               cid, "--status", "Inactive", who=2)
        certs = cli_json(iamcli(cloud, "list-signing-certificates", "--user-name", name,
                                who=2))["Certificates"]
        assert certs[0]["Status"] == "Inactive"

        p = iamcli(cloud, "delete-user", "--user-name", name, who=2, check=False)
        assert p.returncode != 0 and "DeleteConflict" in p.stderr

        # Another account may not see or touch it.
        p = iamcli(cloud, "delete-signing-certificate", "--user-name", name,
                   "--certificate-id", cid, who=3, check=False)
        assert p.returncode != 0 and "NoSuchEntity" in p.stderr

        iamcli(cloud, "delete-signing-certificate", "--user-name", name, "--certificate-id",
               cid, who=2)
        certs = cli_json(iamcli(cloud, "list-signing-certificates", "--user-name", name,
                                who=2))["Certificates"]
        assert certs == []
    finally:
        cleanup_user(cloud.iam(2), name)


def test_cli_signing_certificate_limit(cloud, tmp_path):
    name = uname("cl")
    iam = cloud.iam(2)
    iam.create_user(UserName=name)
    try:
        for i in range(2):
            iam.upload_signing_certificate(UserName=name, CertificateBody=make_cert(cn="c%d" % i))
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam.upload_signing_certificate(UserName=name, CertificateBody=make_cert(cn="c3"))
        assert err_code(e.value) == ("LimitExceeded", 409)
    finally:
        cleanup_user(iam, name)


# --------------------------------------------------------------------------
# boto3

def test_boto3_get_user_defaults_to_caller(cloud):
    u = cloud.iam(2).get_user()["User"]
    assert u["UserName"] == "user2"
    assert u["Arn"] == "arn:aws:iam::%s:user/user2" % cloud.acct2
    u1 = cloud.iam(1).get_user()["User"]
    assert u1["Arn"].startswith("arn:aws:iam::%s:user/" % cloud.acct1)


def test_boto3_list_users_pagination(cloud):
    iam = cloud.iam(3)
    path = "/p%s/" % uuid.uuid4().hex[:8]
    names = sorted(uname("b3") for _ in range(5))
    for n in names:
        iam.create_user(UserName=n, Path=path)
    try:
        seen, marker, pages = [], None, 0
        while True:
            kw = {"PathPrefix": path, "MaxItems": 2}
            if marker:
                kw["Marker"] = marker
            page = iam.list_users(**kw)
            pages += 1
            assert len(page["Users"]) <= 2
            seen += [u["UserName"] for u in page["Users"]]
            if not page["IsTruncated"]:
                assert "Marker" not in page
                break
            marker = page["Marker"]
            assert marker
        assert seen == names and pages == 3
        pag = iam.get_paginator("list_users").paginate(PathPrefix=path,
                                                       PaginationConfig={"PageSize": 4})
        assert [u["UserName"] for p in pag for u in p["Users"]] == names
        # Deleting the user a marker names does not break the next page.
        first = iam.list_users(PathPrefix=path, MaxItems=1)
        iam.delete_user(UserName=first["Users"][0]["UserName"])
        rest = iam.list_users(PathPrefix=path, Marker=first["Marker"])
        assert [u["UserName"] for u in rest["Users"]] == names[1:]
    finally:
        for n in names:
            cleanup_user(iam, n)


def test_boto3_errors_and_statuses(cloud, user2):
    iam = cloud.iam(2)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.get_user(UserName="no-such-user-" + uuid.uuid4().hex[:6])
    assert err_code(e.value) == ("NoSuchEntity", 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.create_user(UserName=user2)
    assert err_code(e.value) == ("EntityAlreadyExists", 409)
    iam.create_access_key(UserName=user2)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_user(UserName=user2)
    assert err_code(e.value) == ("DeleteConflict", 409)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.update_access_key(UserName=user2, AccessKeyId="AKIA" + "X" * 16, Status="Active")
    assert err_code(e.value) == ("NoSuchEntity", 404)


def test_raw_validation_errors(cloud):
    """What SDKs would refuse before sending, the server refuses too."""
    for params, code in [
        ({"Action": "CreateUser", "UserName": "bad name!"}, "ValidationError"),
        ({"Action": "CreateUser", "UserName": "x" * 65}, "ValidationError"),
        ({"Action": "CreateUser", "UserName": uname("v"), "Path": "no-slash"},
         "ValidationError"),
        ({"Action": "CreateUser"}, "MissingParameter"),
        ({"Action": "ListUsers", "MaxItems": "0"}, "ValidationError"),
        ({"Action": "ListUsers", "MaxItems": "1001"}, "ValidationError"),
        ({"Action": "ListUsers", "MaxItems": "two"}, "ValidationError"),
        ({"Action": "UpdateAccessKey", "AccessKeyId": "AKIAXXXXXXXXXXXXXXXX",
          "Status": "Sleeping"}, "ValidationError"),
        ({"Action": "NoSuchIamAction"}, "InvalidAction"),
    ]:
        status, root, ns = raw_iam(cloud, params, who=2)
        assert root.tag == "ErrorResponse", (params, ET.tostring(root))
        assert ns == IAM_NS
        c, msg, typ = raw_error(root)
        assert (c, status) == (code, 400), (params, c, msg, status)
        assert typ == "Sender" and msg
        assert root.findtext("RequestId")


def test_raw_success_document_shape(cloud):
    status, root, ns = raw_iam(cloud, {"Action": "GetUser"}, who=2)
    assert status == 200 and ns == IAM_NS and root.tag == "GetUserResponse"
    res = root.find("GetUserResult")
    assert res.findtext("User/UserName") == "user2"
    assert res.findtext("User/Path") == "/"
    assert root.findtext("ResponseMetadata/RequestId")


# --------------------------------------------------------------------------
# keys and authentication

def test_new_key_works_then_inactive_then_deleted(cloud, user2):
    iam = cloud.iam(2)
    k = iam.create_access_key(UserName=user2)["AccessKey"]
    ak, sk = k["AccessKeyId"], k["SecretAccessKey"]
    # Works at once, for EC2 and for IAM.
    assert ec2_auth_state(cloud, ak, sk) == "ok"
    me = iam_client(cloud, ak, sk).get_user()["User"]
    assert me["UserName"] == user2
    assert me["Arn"] == "arn:aws:iam::%s:user/%s" % (cloud.acct2, user2)

    iam.update_access_key(UserName=user2, AccessKeyId=ak, Status="Inactive")
    assert wait_until(lambda: ec2_auth_state(cloud, ak, sk) == "AuthFailure")
    assert iam_auth_state(cloud, ak, sk) == "InvalidClientTokenId"

    iam.update_access_key(UserName=user2, AccessKeyId=ak, Status="Active")
    assert wait_until(lambda: ec2_auth_state(cloud, ak, sk) == "ok")

    iam.delete_access_key(UserName=user2, AccessKeyId=ak)
    assert wait_until(lambda: ec2_auth_state(cloud, ak, sk) == "AuthFailure")


def test_user_manages_own_keys_without_username(cloud, user2):
    """Without UserName the key calls act on the signing user."""
    iam = cloud.iam(2)
    k = iam.create_access_key(UserName=user2)["AccessKey"]
    own = iam_client(cloud, k["AccessKeyId"], k["SecretAccessKey"])
    k2 = own.create_access_key()["AccessKey"]
    assert k2["UserName"] == user2
    ids = sorted(m["AccessKeyId"] for m in own.list_access_keys()["AccessKeyMetadata"])
    assert ids == sorted([k["AccessKeyId"], k2["AccessKeyId"]])
    own.delete_access_key(AccessKeyId=k2["AccessKeyId"])
    # user2 of the harness does not own this key: without UserName it is not found.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        iam.delete_access_key(AccessKeyId=k["AccessKeyId"])
    assert err_code(e.value) == ("NoSuchEntity", 404)


def test_deleted_user_key_stops_working(cloud):
    iam = cloud.iam(2)
    name = uname("gone")
    iam.create_user(UserName=name)
    k = iam.create_access_key(UserName=name)["AccessKey"]
    ak, sk = k["AccessKeyId"], k["SecretAccessKey"]
    assert ec2_auth_state(cloud, ak, sk) == "ok"
    iam.delete_access_key(UserName=name, AccessKeyId=ak)
    iam.delete_user(UserName=name)
    assert wait_until(lambda: ec2_auth_state(cloud, ak, sk) == "AuthFailure")
    assert iam_auth_state(cloud, ak, sk) == "InvalidClientTokenId"


# --------------------------------------------------------------------------
# isolation between accounts

def test_isolation(cloud):
    iam1, iam2 = cloud.iam(1), cloud.iam(2)
    name = uname("iso")
    iam1.create_user(UserName=name)
    try:
        k = iam1.create_access_key(UserName=name)["AccessKey"]
        names2 = [u["UserName"] for u in iam2.list_users()["Users"]]
        assert name not in names2
        assert all(u["Arn"].startswith("arn:aws:iam::%s:" % cloud.acct2)
                   for u in iam2.list_users()["Users"])
        for call in (lambda: iam2.get_user(UserName=name),
                     lambda: iam2.delete_user(UserName=name),
                     lambda: iam2.list_access_keys(UserName=name),
                     lambda: iam2.create_access_key(UserName=name),
                     lambda: iam2.update_access_key(UserName=name, AccessKeyId=k["AccessKeyId"],
                                                    Status="Inactive"),
                     lambda: iam2.delete_access_key(UserName=name,
                                                    AccessKeyId=k["AccessKeyId"])):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call()
            assert err_code(e.value)[0] in ("NoSuchEntity", "AccessDenied")
        # The key of account 1 cannot be reached through user2's own name either.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            iam2.update_access_key(UserName="user2", AccessKeyId=k["AccessKeyId"],
                                   Status="Inactive")
        assert err_code(e.value) == ("NoSuchEntity", 404)

        # Only the admin may delegate to another account.
        for params in ({"Action": "ListUsers", "DelegateAccount": cloud.acct1},
                       {"Action": "GetUser", "UserName": name, "DelegateAccount": "eucalyptus"},
                       {"Action": "DeleteUser", "UserName": name,
                        "DelegateAccount": cloud.acct1}):
            status, root, _ = raw_iam(cloud, params, who=2)
            assert (raw_error(root)[0], status) == ("AccessDenied", 403), params
        # Naming one's own account is not delegation.
        status, root, _ = raw_iam(cloud, {"Action": "GetUser", "DelegateAccount": cloud.acct2},
                                  who=2)
        assert status == 200 and root.findtext("GetUserResult/User/UserName") == "user2"

        # Everything above left the user and key alone.
        meta = iam1.list_access_keys(UserName=name)["AccessKeyMetadata"]
        assert [(m["AccessKeyId"], m["Status"]) for m in meta] == [(k["AccessKeyId"], "Active")]
    finally:
        cleanup_user(iam1, name)


def test_non_admin_account_actions_denied(cloud):
    for params in ({"Action": "CreateAccount", "AccountName": uname("acct")},
                   {"Action": "ListAccounts"},
                   {"Action": "DeleteAccount", "AccountName": "testacct3"}):
        status, root, _ = raw_iam(cloud, params, who=2)
        assert (raw_error(root)[0], status) == ("AccessDenied", 403), params
    # testacct3 is still there.
    status, root, _ = raw_iam(cloud, {"Action": "ListAccounts"}, who=1)
    names = [m.findtext("AccountName") for m in root.findall("ListAccountsResult/Accounts/member")]
    assert "testacct3" in names


# --------------------------------------------------------------------------
# Eucalyptus account actions (admin)

def test_admin_account_lifecycle(cloud):
    acct = uname("acct")
    status, root, ns = raw_iam(cloud, {"Action": "CreateAccount", "AccountName": acct})
    assert status == 200 and ns == IAM_NS, ET.tostring(root)
    a = root.find("CreateAccountResult/Account")
    assert a.findtext("AccountName") == acct
    acct_id = a.findtext("AccountId")
    assert len(acct_id) == 12 and acct_id.isdigit()
    status, root, _ = raw_iam(cloud, {"Action": "CreateAccount", "AccountName": acct})
    assert (raw_error(root)[0], status) == ("EntityAlreadyExists", 409)

    status, root, _ = raw_iam(cloud, {"Action": "ListAccounts"})
    accts = {m.findtext("AccountName"): m.findtext("AccountId")
             for m in root.findall("ListAccountsResult/Accounts/member")}
    assert accts[acct] == acct_id
    assert accts["eucalyptus"] == cloud.acct1 and accts["testacct2"] == cloud.acct2

    # The admin acts in the new account through DelegateAccount (name or id).
    status, root, _ = raw_iam(cloud, {"Action": "CreateUser", "UserName": "alice",
                                      "DelegateAccount": acct})
    assert status == 200, ET.tostring(root)
    assert root.findtext("CreateUserResult/User/Arn") == \
        "arn:aws:iam::%s:user/alice" % acct_id
    status, root, _ = raw_iam(cloud, {"Action": "CreateAccessKey", "UserName": "alice",
                                      "DelegateAccount": acct_id})
    assert status == 200, ET.tostring(root)
    ak = root.findtext("CreateAccessKeyResult/AccessKey/AccessKeyId")
    sk = root.findtext("CreateAccessKeyResult/AccessKey/SecretAccessKey")
    alice = iam_client(cloud, ak, sk)
    assert alice.get_user()["User"]["Arn"] == "arn:aws:iam::%s:user/alice" % acct_id
    # The admin's own account does not hold alice.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cloud.iam(1).get_user(UserName="alice")
    assert err_code(e.value) == ("NoSuchEntity", 404)

    status, root, _ = raw_iam(cloud, {"Action": "DeleteAccount", "AccountName": acct})
    assert (raw_error(root)[0], status) == ("DeleteConflict", 409)
    status, root, _ = raw_iam(cloud, {"Action": "DeleteAccount", "AccountName": acct,
                                      "Recursive": "true"})
    assert status == 200, ET.tostring(root)
    assert wait_until(lambda: iam_auth_state(cloud, ak, sk) == "InvalidClientTokenId")
    status, root, _ = raw_iam(cloud, {"Action": "ListAccounts"})
    names = [m.findtext("AccountName") for m in root.findall("ListAccountsResult/Accounts/member")]
    assert acct not in names
    status, root, _ = raw_iam(cloud, {"Action": "DeleteAccount", "AccountName": acct})
    assert (raw_error(root)[0], status) == ("NoSuchEntity", 404)
    status, root, _ = raw_iam(cloud, {"Action": "ListUsers", "DelegateAccount": acct})
    assert (raw_error(root)[0], status) == ("NoSuchEntity", 404)


def test_admin_cannot_delete_eucalyptus(cloud):
    status, root, _ = raw_iam(cloud, {"Action": "DeleteAccount", "AccountName": "eucalyptus",
                                      "Recursive": "true"})
    assert (raw_error(root)[0], status) == ("DeleteConflict", 409)
    assert cloud.iam(1).get_user()["User"]


def test_empty_account_deletes_without_recursive(cloud):
    acct = uname("empty")
    status, root, _ = raw_iam(cloud, {"Action": "CreateAccount", "AccountName": acct})
    assert status == 200
    status, root, _ = raw_iam(cloud, {"Action": "DeleteAccount", "AccountName": acct})
    assert status == 200, ET.tostring(root)


# --------------------------------------------------------------------------
# overcast-admin (signed IAM calls, like any client)

def admin_fails(cloud, *args):
    with pytest.raises(Exception) as e:
        cloud.admin.run(*args)
    return str(e.value)


def test_overcast_admin_commands(cloud):
    acct = uname("adm")
    out = cloud.admin.run("create-account", acct)
    acct_id = out.split()[-1]
    assert len(acct_id) == 12 and acct_id.isdigit()
    try:
        lines = cloud.admin.run("list-accounts").splitlines()
        assert "%s\t%s" % (acct, acct_id) in lines
        assert "eucalyptus\t%s" % cloud.acct1 in lines

        cloud.admin.run("create-user", acct, "bob")
        users = cloud.admin.run("list-users", acct).splitlines()
        assert len(users) == 1
        uname_, uid, arn = users[0].split("\t")
        assert (uname_, arn) == ("bob", "arn:aws:iam::%s:user/bob" % acct_id)
        assert uid.startswith("AIDA")
        assert "EntityAlreadyExists" in admin_fails(cloud, "create-user", acct, "bob")

        ak, sk = cloud.admin.run("create-access-key", acct_id, "bob").split()[-2:]
        assert len(ak) == 20 and len(sk) == 40
        assert ec2_auth_state(cloud, ak, sk) == "ok"

        keys = [line.split("\t") for line in cloud.admin.run("list-keys").splitlines()]
        assert [acct, acct_id, "bob", ak, "Active"] in keys
        assert all(sk not in "\t".join(k) for k in keys)

        cloud.admin.run("set-key-status", ak, "Inactive")
        assert wait_until(lambda: ec2_auth_state(cloud, ak, sk) == "AuthFailure")
        keys = [line.split("\t") for line in cloud.admin.run("list-keys").splitlines()]
        assert [acct, acct_id, "bob", ak, "Inactive"] in keys
        cloud.admin.run("set-key-status", ak, "Active")
        assert wait_until(lambda: ec2_auth_state(cloud, ak, sk) == "ok")

        assert "DeleteConflict" in admin_fails(cloud, "delete-user", acct, "bob")
        assert "DeleteConflict" in admin_fails(cloud, "delete-account", acct)
        cloud.admin.run("delete-access-key", ak)
        assert "NoSuchEntity" in admin_fails(cloud, "delete-access-key", ak)
        assert wait_until(lambda: ec2_auth_state(cloud, ak, sk) == "AuthFailure")
        cloud.admin.run("delete-user", acct, "bob")
        assert cloud.admin.run("list-users", acct) == ""
        cloud.admin.run("create-user", acct, "carol")
        cloud.admin.run("delete-account", acct, "--recursive")
        assert acct not in cloud.admin.run("list-accounts")
        assert "NoSuchEntity" in admin_fails(cloud, "list-users", acct)
    finally:
        try:
            cloud.admin.run("delete-account", acct, "--recursive")
        except Exception:
            pass


def test_overcast_admin_endpoint_and_credentials(cloud):
    """It talks to the CLC (not to clc.db): a dead URL fails; EUARE_URL and
    the AWS_* variables override the eucarc."""
    home, exe = cloud.admin.home, cloud.admin.exe
    url = iam_url(cloud)

    def run(args, ak="", sk="", extra=None):
        env = _clean_env(ak, sk)
        env.update(extra or {})
        return subprocess.run([exe, "--home", home] + args, capture_output=True, text=True,
                              timeout=60, env=env)

    p = run(["--url", "http://127.0.0.1:9/services/Euare", "list-accounts"])
    assert p.returncode != 0 and "cannot reach" in p.stderr
    p = run(["list-accounts"], extra={"EUARE_URL": url})
    assert p.returncode == 0, p.stderr
    assert "eucalyptus\t%s" % cloud.acct1 in p.stdout.splitlines()
    ak, sk = creds_of(cloud, 2)
    p = run(["--url", url, "list-accounts"], ak, sk)
    assert p.returncode != 0 and "AccessDenied" in p.stderr
    p = run(["--url", url, "create-account", "x"])
    assert p.returncode != 0 and "ValidationError" in p.stderr
    p = run(["--url", url, "no-such-command"])
    assert p.returncode == 2 and "usage" in p.stderr


def test_user_name_of_64_characters(cloud):
    """IAM allows 64-character user names; they come back whole."""
    iam = cloud.iam(2)
    name = "n" * 52 + uuid.uuid4().hex[:12]
    assert len(name) == 64
    try:
        assert iam.create_user(UserName=name)["User"]["UserName"] == name
        assert iam.get_user(UserName=name)["User"]["UserName"] == name
        k = iam.create_access_key(UserName=name)["AccessKey"]
        assert k["UserName"] == name
        assert iam_client(cloud, k["AccessKeyId"], k["SecretAccessKey"]).get_user()[
            "User"]["UserName"] == name
    finally:
        cleanup_user(iam, name)
