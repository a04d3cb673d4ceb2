"""EC2 key pairs through awscli, boto3 and boto2 (SigV2) against overcast-clc.

Fingerprints are checked against values computed here with openssl and
ssh-keygen, the way AWS documents them, never against our own output.
"""

import base64
import hashlib
import json
import os
import subprocess
import uuid

import pytest
from botocore.exceptions import ClientError


def uname(prefix="kp"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def run(*cmd, data=None):
    p = subprocess.run(list(cmd), input=data, capture_output=True, check=True)
    return p.stdout


def test_create_rsa_returns_a_working_private_key(cloud, tmp_path):
    name = uname()
    out = json.loads(cloud.ec2cli("ec2", "create-key-pair", "--key-name", name).stdout)
    pem = tmp_path / "k.pem"
    pem.write_text(out["KeyMaterial"])
    os.chmod(pem, 0o600)
    assert out["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    run("openssl", "rsa", "-in", str(pem), "-check", "-noout")
    # AWS: SHA-1 of the DER PKCS#8 private key.
    der = run("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", str(pem), "-outform", "DER")
    want = ":".join("%02x" % b for b in hashlib.sha1(der).digest())
    assert out["KeyFingerprint"] == want
    assert out["KeyPairId"].startswith("key-") and len(out["KeyPairId"]) == 21
    # The stored public half is the private key's.
    pub = run("ssh-keygen", "-y", "-f", str(pem)).decode().split()[:2]
    d = cloud.ec2().describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"][0]
    assert d["PublicKey"].split()[:2] == pub
    assert d["KeyType"] == "rsa" and d["KeyFingerprint"] == want
    cloud.ec2().delete_key_pair(KeyName=name)


def test_create_ed25519(cloud, tmp_path):
    name = uname()
    out = cloud.ec2().create_key_pair(KeyName=name, KeyType="ed25519")
    pem = tmp_path / "e.pem"
    pem.write_text(out["KeyMaterial"])
    os.chmod(pem, 0o600)
    pub = run("ssh-keygen", "-y", "-f", str(pem)).decode().split()
    assert pub[0] == "ssh-ed25519"
    blob = base64.b64decode(pub[1])
    assert out["KeyFingerprint"] == base64.b64encode(hashlib.sha256(blob).digest()).decode()
    cloud.ec2().delete_key_pair(KeyPairId=out["KeyPairId"])


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_import_ssh_keygen_keys(cloud, tmp_path, kind):
    key = tmp_path / "id"
    run("ssh-keygen", "-t", kind, "-N", "", "-q", "-f", str(key), "-C", "me@host")
    name = uname()
    out = json.loads(cloud.ec2cli("ec2", "import-key-pair", "--key-name", name,
                                  "--public-key-material", "fileb://%s.pub" % key).stdout)
    pubtext = (tmp_path / "id.pub").read_text().split()
    if kind == "rsa":
        pkcs8 = run("ssh-keygen", "-e", "-m", "PKCS8", "-f", "%s.pub" % key)
        der = run("openssl", "rsa", "-pubin", "-outform", "DER", data=pkcs8)
        want = ":".join("%02x" % b for b in hashlib.md5(der).digest())
    else:
        want = base64.b64encode(hashlib.sha256(base64.b64decode(pubtext[1])).digest()).decode()
    assert out["KeyFingerprint"] == want
    d = cloud.ec2().describe_key_pairs(KeyNames=[name], IncludePublicKey=True)["KeyPairs"][0]
    assert d["PublicKey"].split()[:2] == pubtext[:2]
    assert d["KeyType"] == kind
    cloud.ec2().delete_key_pair(KeyName=name)


def test_errors(cloud, tmp_path):
    ec2 = cloud.ec2()
    name = uname()
    ec2.create_key_pair(KeyName=name)
    with pytest.raises(ClientError) as e:
        ec2.create_key_pair(KeyName=name)
    assert code_of(e) == "InvalidKeyPair.Duplicate"
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=uname(), PublicKeyMaterial=b"ssh-dss AAAAB3NzaC1kc3M=")
    assert code_of(e) == "InvalidKey.Format"
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=uname(), PublicKeyMaterial=b"garbage")
    assert code_of(e) == "InvalidKey.Format"
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(KeyNames=["no-such-" + name])
    assert code_of(e) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(KeyPairIds=["key-0123456789abcdef0"])
    assert code_of(e) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as e:
        ec2.create_key_pair(KeyName="x" * 256)
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.create_key_pair(KeyName=uname(), KeyType="dsa")
    assert code_of(e) == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
    assert code_of(e) == "InvalidParameterValue"
    # Deleting an unknown name succeeds, as on AWS.
    ec2.delete_key_pair(KeyName="no-such-" + name)
    ec2.delete_key_pair(KeyName=name)


def test_dry_run(cloud):
    ec2 = cloud.ec2()
    name = uname()
    with pytest.raises(ClientError) as e:
        ec2.create_key_pair(KeyName=name, DryRun=True)
    assert code_of(e) == "DryRunOperation"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert not [k for k in ec2.describe_key_pairs()["KeyPairs"] if k["KeyName"] == name]
    ec2.create_key_pair(KeyName=name)
    with pytest.raises(ClientError) as e:
        ec2.delete_key_pair(KeyName=name, DryRun=True)
    assert code_of(e) == "DryRunOperation"
    assert ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"]
    ec2.delete_key_pair(KeyName=name)


def test_filters_and_tags(cloud):
    ec2 = cloud.ec2()
    tag = uuid.uuid4().hex[:8]
    a = ec2.create_key_pair(KeyName="flt-a-" + tag, TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "red-" + tag}]}])
    b = ec2.create_key_pair(KeyName="flt-b-" + tag, KeyType="ed25519")
    assert a["Tags"] == [{"Key": "team", "Value": "red-" + tag}]

    def names(**kw):
        return sorted(k["KeyName"] for k in ec2.describe_key_pairs(**kw)["KeyPairs"])

    assert names(Filters=[{"Name": "key-name", "Values": ["flt-?-" + tag]}]) == \
        ["flt-a-" + tag, "flt-b-" + tag]
    assert names(Filters=[{"Name": "key-name", "Values": ["flt-*-" + tag]},
                          {"Name": "key-type", "Values": ["ed25519"]}]) == ["flt-b-" + tag]
    assert names(Filters=[{"Name": "tag:team", "Values": ["red-*"]},
                          {"Name": "key-name", "Values": ["*" + tag]}]) == ["flt-a-" + tag]
    assert names(Filters=[{"Name": "fingerprint", "Values": [a["KeyFingerprint"]]}]) == \
        ["flt-a-" + tag]
    assert names(Filters=[{"Name": "key-pair-id", "Values": [b["KeyPairId"]]}]) == \
        ["flt-b-" + tag]
    ec2.delete_key_pair(KeyName="flt-a-" + tag)
    ec2.delete_key_pair(KeyName="flt-b-" + tag)
    # Tags go with the key pair.
    assert not [t for t in ec2.describe_tags()["Tags"] if t["ResourceId"] == a["KeyPairId"]]


def test_account_isolation(cloud):
    one, two = cloud.ec2(1), cloud.ec2(2)
    name = uname()
    k1 = one.create_key_pair(KeyName=name)
    # Same name in another account is a different key pair.
    k2 = two.create_key_pair(KeyName=name)
    assert k1["KeyPairId"] != k2["KeyPairId"]
    assert [k["KeyPairId"] for k in two.describe_key_pairs(KeyNames=[name])["KeyPairs"]] == \
        [k2["KeyPairId"]]
    with pytest.raises(ClientError) as e:
        two.describe_key_pairs(KeyPairIds=[k1["KeyPairId"]])
    assert code_of(e) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as e:
        two.delete_key_pair(KeyPairId=k1["KeyPairId"])
    assert code_of(e) == "InvalidKeyPair.NotFound"
    two.delete_key_pair(KeyName=name)
    # Account 1's key survived account 2's delete of the same name.
    assert one.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]["KeyPairId"] == \
        k1["KeyPairId"]
    assert not [k for k in cloud.ec2(3).describe_key_pairs()["KeyPairs"]
                if k["KeyPairId"] == k1["KeyPairId"]]
    one.delete_key_pair(KeyName=name)


def test_boto2_sigv2(cloud):
    conn = cloud.boto2_ec2(2)
    name = uname()
    kp = conn.create_key_pair(name)
    assert kp.material.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert name in [k.name for k in conn.get_all_key_pairs()]
    got = conn.get_all_key_pairs(keynames=[name])[0]
    assert got.fingerprint == kp.fingerprint
    assert conn.delete_key_pair(name)
    assert name not in [k.name for k in conn.get_all_key_pairs()]
