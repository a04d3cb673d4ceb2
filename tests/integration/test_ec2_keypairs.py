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


# ---------------------------------------------------------------------------
# more forms, formats and cases


def ssh_blob(line):
    return base64.b64decode(line.split()[1])


def md5_colon_of_spki_der(der):
    return ":".join("%02x" % b for b in hashlib.md5(der).digest())


def rsa_fp_from_pub(path):
    """AWS's imported-RSA fingerprint, computed with ssh-keygen and openssl."""
    pkcs8 = run("ssh-keygen", "-e", "-m", "PKCS8", "-f", str(path))
    return md5_colon_of_spki_der(run("openssl", "pkey", "-pubin", "-outform", "DER",
                                     data=pkcs8))


@pytest.mark.parametrize("form", ["rfc4716", "pkcs8", "pem", "der_b64"])
def test_import_other_documented_forms(cloud, tmp_path, form):
    """AWS takes OpenSSH lines, base64 DER and RFC 4716 files; PEM too here."""
    key = tmp_path / "id"
    run("ssh-keygen", "-t", "rsa", "-b", "2048", "-N", "", "-q", "-f", str(key))
    pub = "%s.pub" % key
    if form == "rfc4716":
        material = run("ssh-keygen", "-e", "-f", pub)
        assert material.startswith(b"---- BEGIN SSH2 PUBLIC KEY ----")
    elif form == "pkcs8":
        material = run("ssh-keygen", "-e", "-m", "PKCS8", "-f", pub)
    elif form == "pem":
        material = run("ssh-keygen", "-e", "-m", "PEM", "-f", pub)
        assert material.startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    else:
        der = run("openssl", "pkey", "-pubin", "-outform", "DER",
                  data=run("ssh-keygen", "-e", "-m", "PKCS8", "-f", pub))
        material = base64.b64encode(der)
    name = uname()
    out = cloud.ec2().import_key_pair(KeyName=name, PublicKeyMaterial=material)
    assert out["KeyFingerprint"] == rsa_fp_from_pub(pub)
    d = cloud.ec2().describe_key_pairs(KeyPairIds=[out["KeyPairId"]],
                                       IncludePublicKey=True)["KeyPairs"][0]
    assert d["KeyName"] == name
    assert ssh_blob(d["PublicKey"]) == ssh_blob(open(pub).read())
    cloud.ec2().delete_key_pair(KeyPairId=out["KeyPairId"])


def test_import_refuses_other_key_types_and_sizes(cloud, tmp_path):
    ec2 = cloud.ec2()
    for kind in ("ecdsa", "dsa"):
        key = tmp_path / kind
        run("ssh-keygen", "-t", kind, "-N", "", "-q", "-f", str(key))
        with pytest.raises(ClientError) as e:
            ec2.import_key_pair(KeyName=uname(), PublicKeyMaterial=open("%s.pub" % key,
                                                                          "rb").read())
        assert code_of(e) == "InvalidKey.Format", kind
    # RSA below 1024 bits (ssh-keygen refuses to make one; openssl does not).
    small = tmp_path / "small.pem"
    run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:768",
        "-out", str(small))
    pem = run("openssl", "pkey", "-in", str(small), "-pubout")
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=uname(), PublicKeyMaterial=pem)
    assert code_of(e) == "InvalidKey.Format"
    # A private key is not a public key.
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=uname(), PublicKeyMaterial=small.read_bytes())
    assert code_of(e) == "InvalidKey.Format"


def test_import_duplicate_and_dry_run(cloud, tmp_path):
    ec2 = cloud.ec2()
    key = tmp_path / "id"
    run("ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-f", str(key))
    material = open("%s.pub" % key, "rb").read()
    name = uname()
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material, DryRun=True)
    assert code_of(e) == "DryRunOperation"
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(KeyNames=[name])
    assert code_of(e) == "InvalidKeyPair.NotFound"
    assert e.value.response["Error"]["Message"] == "The key pair '%s' does not exist" % name
    ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material)
    with pytest.raises(ClientError) as e:
        ec2.import_key_pair(KeyName=name, PublicKeyMaterial=material)
    assert code_of(e) == "InvalidKeyPair.Duplicate"
    assert e.value.response["Error"]["Message"] == "The keypair '%s' already exists." % name
    # A created key may not take an imported key's name either.
    with pytest.raises(ClientError) as e:
        ec2.create_key_pair(KeyName=name)
    assert code_of(e) == "InvalidKeyPair.Duplicate"
    ec2.delete_key_pair(KeyName=name)


def test_describe_shape_awscli(cloud):
    """The raw JSON awscli prints: every documented field, and publicKey only
    when asked for."""
    name = uname()
    created = json.loads(cloud.ec2cli("ec2", "create-key-pair", "--key-name", name,
                                      "--key-type", "ed25519").stdout)
    plain = json.loads(cloud.ec2cli("ec2", "describe-key-pairs", "--key-names",
                                    name).stdout)["KeyPairs"]
    assert len(plain) == 1
    k = plain[0]
    assert k["KeyPairId"] == created["KeyPairId"]
    assert k["KeyFingerprint"] == created["KeyFingerprint"]
    assert k["KeyType"] == "ed25519"
    assert "PublicKey" not in k
    assert k["CreateTime"].endswith(("Z", "+00:00"))
    full = json.loads(cloud.ec2cli("ec2", "describe-key-pairs", "--key-pair-ids",
                                   created["KeyPairId"], "--include-public-key").stdout)
    pub = full["KeyPairs"][0]["PublicKey"]
    assert pub.startswith("ssh-ed25519 ")
    assert base64.b64encode(hashlib.sha256(ssh_blob(pub)).digest()).decode() == \
        created["KeyFingerprint"]
    cloud.ec2cli("ec2", "delete-key-pair", "--key-pair-id", created["KeyPairId"])
    r = cloud.ec2cli("ec2", "describe-key-pairs", "--key-names", name, check=False)
    assert r.returncode != 0 and "InvalidKeyPair.NotFound" in r.stderr
    # Deleting a name that does not exist succeeds, as on AWS.
    cloud.ec2cli("ec2", "delete-key-pair", "--key-name", name)


def test_delete_answer_xml(cloud):
    """Neither awscli 2.9 nor boto3 1.26 model DeleteKeyPair's answer, so the
    document is read raw: <return>true</return> and, when a key pair went,
    its <keyPairId>."""
    conn = cloud.boto2_ec2(1)
    name = uname()
    kid = cloud.ec2().create_key_pair(KeyName=name)["KeyPairId"]
    resp = conn.make_request("DeleteKeyPair", {"KeyName": name})
    body = resp.read().decode()
    assert resp.status == 200, body
    assert "<DeleteKeyPairResponse xmlns=\"http://ec2.amazonaws.com/doc/" in body
    assert "<return>true</return>" in body
    assert "<keyPairId>%s</keyPairId>" % kid in body
    resp = conn.make_request("DeleteKeyPair", {"KeyName": name})
    body = resp.read().decode()
    assert resp.status == 200 and "<return>true</return>" in body, body
    assert "<keyPairId>" not in body
    resp = conn.make_request("DeleteKeyPair", {"KeyPairId": kid})
    body = resp.read().decode()
    assert resp.status == 400 and "<Code>InvalidKeyPair.NotFound</Code>" in body, body


def test_tag_filters(cloud):
    ec2 = cloud.ec2()
    tag = uuid.uuid4().hex[:8]
    a = ec2.create_key_pair(KeyName="tf-a-" + tag, TagSpecifications=[
        {"ResourceType": "key-pair", "Tags": [{"Key": "env-" + tag, "Value": "prod"}]}])
    b = ec2.create_key_pair(KeyName="tf-b-" + tag)
    ec2.create_tags(Resources=[b["KeyPairId"]], Tags=[{"Key": "owner", "Value": "v-" + tag}])

    def ids(*filters):
        return sorted(k["KeyPairId"] for k in ec2.describe_key_pairs(
            Filters=list(filters))["KeyPairs"])

    assert ids({"Name": "tag-key", "Values": ["env-" + tag]}) == [a["KeyPairId"]]
    assert ids({"Name": "tag-value", "Values": ["v-" + tag]}) == [b["KeyPairId"]]
    assert ids({"Name": "tag:owner", "Values": ["v-" + tag[:4] + "*"]}) == [b["KeyPairId"]]
    # Filters are ANDed, values within one filter ORed.
    assert ids({"Name": "key-name", "Values": ["tf-a-" + tag, "tf-b-" + tag]}) == \
        sorted([a["KeyPairId"], b["KeyPairId"]])
    assert ids({"Name": "key-name", "Values": ["tf-a-" + tag, "tf-b-" + tag]},
               {"Name": "tag-key", "Values": ["owner"]}) == [b["KeyPairId"]]
    assert ids({"Name": "key-name", "Values": ["tf-?-" + tag + "?"]}) == []
    d = ec2.describe_key_pairs(KeyPairIds=[b["KeyPairId"]])["KeyPairs"][0]
    assert d["Tags"] == [{"Key": "owner", "Value": "v-" + tag}]
    ec2.delete_key_pair(KeyPairId=a["KeyPairId"])
    ec2.delete_key_pair(KeyPairId=b["KeyPairId"])
    assert not [t for t in ec2.describe_tags()["Tags"]
                if t["ResourceId"] in (a["KeyPairId"], b["KeyPairId"])]


def test_bad_names_and_params(cloud):
    ec2 = cloud.ec2()
    for bad in ("café-" + uuid.uuid4().hex[:6], "x" * 256):
        with pytest.raises(ClientError) as e:
            ec2.create_key_pair(KeyName=bad)
        assert code_of(e) == "InvalidParameterValue", bad
    with pytest.raises(ClientError) as e:
        ec2.create_key_pair(KeyName=uname(), KeyFormat="pkcs12")
    assert code_of(e) == "InvalidParameterValue"
    # 255 printable ASCII characters is the limit, spaces included.
    name = ("a b-" + uuid.uuid4().hex)[:20] + "x" * 235
    assert len(name) == 255
    k = ec2.create_key_pair(KeyName=name)
    assert ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]["KeyPairId"] == \
        k["KeyPairId"]
    ec2.delete_key_pair(KeyName=name)


def test_missing_parameters_boto2(cloud):
    """boto2 signs with SigV2 and lets us leave required parameters out."""
    conn = cloud.boto2_ec2(1)
    for action, params in (("CreateKeyPair", {}), ("ImportKeyPair", {"KeyName": uname()}),
                           ("ImportKeyPair", {"PublicKeyMaterial": "AAAA"}),
                           ("DeleteKeyPair", {})):
        resp = conn.make_request(action, params)
        body = resp.read().decode()
        assert resp.status == 400, (action, body)
        assert "<Code>MissingParameter</Code>" in body, (action, body)


def test_import_plain_text_material_boto2(cloud, tmp_path):
    """A key sent without the base64 wrapping is taken as it is."""
    key = tmp_path / "id"
    run("ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-f", str(key))
    line = open("%s.pub" % key).read().strip()
    conn = cloud.boto2_ec2(1)
    name = uname()
    resp = conn.make_request("ImportKeyPair", {"KeyName": name, "PublicKeyMaterial": line})
    body = resp.read().decode()
    assert resp.status == 200, body
    want = base64.b64encode(hashlib.sha256(ssh_blob(line)).digest()).decode()
    assert "<keyFingerprint>%s</keyFingerprint>" % want in body
    # boto2's own import sends base64, as the API asks.
    key2 = tmp_path / "id2"
    run("ssh-keygen", "-t", "rsa", "-N", "", "-q", "-f", str(key2))
    kp = conn.import_key_pair(uname(), open("%s.pub" % key2, "rb").read())
    assert kp.fingerprint == rsa_fp_from_pub("%s.pub" % key2)
    assert conn.delete_key_pair(kp.name)
    assert conn.delete_key_pair(name)


def _ppk_fields(text):
    lines = text.splitlines()
    fields, i = {}, 0
    while i < len(lines):
        k, v = lines[i].split(": ", 1)
        if k.endswith("-Lines"):
            n = int(v)
            fields[k] = base64.b64decode("".join(lines[i + 1:i + 1 + n]))
            i += 1 + n
        else:
            fields[k] = v
            i += 1
    return fields


def _wire_strings(blob):
    out, p = [], 0
    while p < len(blob):
        n = int.from_bytes(blob[p:p + 4], "big")
        out.append(blob[p + 4:p + 4 + n])
        p += 4 + n
    assert p == len(blob)
    return out


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_create_ppk(cloud, kind):
    """KeyFormat=ppk: PuTTY's version 2 file, checked field by field here
    (MAC per PuTTY's documentation, the private numbers against the public
    key describe returns)."""
    import hmac
    name = uname()
    out = cloud.ec2().create_key_pair(KeyName=name, KeyType=kind, KeyFormat="ppk")
    f = _ppk_fields(out["KeyMaterial"])
    alg = "ssh-rsa" if kind == "rsa" else "ssh-ed25519"
    assert f["PuTTY-User-Key-File-2"] == alg
    assert f["Encryption"] == "none"
    pub = cloud.ec2().describe_key_pairs(KeyNames=[name],
                                         IncludePublicKey=True)["KeyPairs"][0]["PublicKey"]
    assert f["Public-Lines"] == ssh_blob(pub)
    mackey = hashlib.sha1(b"putty-private-key-file-mac-key").digest()
    data = b"".join(len(x).to_bytes(4, "big") + x for x in (
        alg.encode(), b"none", f["Comment"].encode(), f["Public-Lines"], f["Private-Lines"]))
    assert f["Private-MAC"] == hmac.new(mackey, data, hashlib.sha1).hexdigest()
    priv = _wire_strings(f["Private-Lines"])
    if kind == "rsa":
        _, e, n = (int.from_bytes(x, "big") for x in _wire_strings(ssh_blob(pub)))
        d, p, q, iqmp = (int.from_bytes(x, "big") for x in priv)
        assert p * q == n
        assert (e * d) % ((p - 1) * (q - 1) // __import__("math").gcd(p - 1, q - 1)) == 1
        assert (iqmp * q) % p == 1
        # The fingerprint is still AWS's (SHA-1 of the PKCS#8 DER of this key).
    else:
        assert len(priv) == 1 and len(priv[0]) == 32
        # PKCS#8 wrapping of the seed; openssl derives the public key from it.
        der = bytes.fromhex("302e020100300506032b657004220420") + priv[0]
        spki = run("openssl", "pkey", "-inform", "DER", "-pubout", "-outform", "DER", data=der)
        assert spki[-32:] == _wire_strings(ssh_blob(pub))[1]
    cloud.ec2().delete_key_pair(KeyName=name)


def test_isolation_of_imports_and_ids(cloud, tmp_path):
    key = tmp_path / "id"
    run("ssh-keygen", "-t", "ed25519", "-N", "", "-q", "-f", str(key))
    material = open("%s.pub" % key, "rb").read()
    one, two = cloud.ec2(1), cloud.ec2(2)
    name = uname()
    k1 = one.import_key_pair(KeyName=name, PublicKeyMaterial=material)
    # The same key under the same name in another account: no Duplicate.
    k2 = two.import_key_pair(KeyName=name, PublicKeyMaterial=material)
    assert k1["KeyFingerprint"] == k2["KeyFingerprint"]
    assert k1["KeyPairId"] != k2["KeyPairId"]
    # Account 2 neither sees nor filters to nor tags account 1's key.
    assert [k["KeyPairId"] for k in two.describe_key_pairs(Filters=[
        {"Name": "fingerprint", "Values": [k1["KeyFingerprint"]]}])["KeyPairs"]] == \
        [k2["KeyPairId"]]
    with pytest.raises(ClientError) as e:
        two.create_tags(Resources=[k1["KeyPairId"]], Tags=[{"Key": "x", "Value": "y"}])
    assert code_of(e) == "InvalidKeyPair.NotFound"
    with pytest.raises(ClientError) as e:
        two.delete_key_pair(KeyPairId=k1["KeyPairId"], DryRun=True)
    assert code_of(e) == "InvalidKeyPair.NotFound"
    two.delete_key_pair(KeyPairId=k2["KeyPairId"])
    assert one.describe_key_pairs(KeyPairIds=[k1["KeyPairId"]])["KeyPairs"][0]["KeyName"] == \
        name
    one.delete_key_pair(KeyPairId=k1["KeyPairId"])


def test_describe_never_stale_after_an_outside_write(cloud):
    """Describe answers are cached until clc.db changes; a commit by another
    process (here the sqlite3 module, as an operator's shell would) must show
    in the very next answer, and a repeated answer carries its own requestId."""
    import sqlite3
    name = uname()
    ec2 = cloud.ec2()
    ec2.create_key_pair(KeyName=name)
    first = ec2.describe_key_pairs(KeyNames=[name])
    again = ec2.describe_key_pairs(KeyNames=[name])
    assert first["KeyPairs"] == again["KeyPairs"]
    assert first["ResponseMetadata"]["RequestId"] != again["ResponseMetadata"]["RequestId"]
    db = sqlite3.connect(os.path.join(cloud.clc.home, "clc", "clc.db"), timeout=30)
    with db:
        n = db.execute("UPDATE keypairs SET fingerprint = 'ab:cd' WHERE name = ?",
                       (name,)).rowcount
    assert n == 1
    d = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]
    assert d["KeyFingerprint"] == "ab:cd"
    with db:
        db.execute("DELETE FROM keypairs WHERE name = ?", (name,))
    db.close()
    with pytest.raises(ClientError) as e:
        ec2.describe_key_pairs(KeyNames=[name])
    assert code_of(e) == "InvalidKeyPair.NotFound"
