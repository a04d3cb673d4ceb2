"""EC2 images on the CLC, read from Walrus, driven by awscli v2, boto3 and
boto2 (SigV2): RegisterImage (Eucalyptus bundles and plain raw/qcow2
objects), DescribeImages (ids, owners, executable-by, filters, pagination),
DeregisterImage, Describe/Modify/ResetImageAttribute, launch permissions
across accounts, DryRun and the error cases.

Bundles are made here the way euca-bundle-image makes them (euca2ools is
not packaged in Debian 12): the image tarred, gzipped, encrypted with
AES-128-CBC under a random key and IV (`openssl enc`), split into parts
`<name>.part.NN`, the key and IV encrypted with RSA for the cloud's and the
user's certificates, and a manifest whose signature is `openssl dgst -sha1
-sign` over `<machine_configuration>…</machine_configuration><image>…
</image>` serialized without whitespace, exactly as euca2ools signs it.
The signing certificate goes to the CLC with IAM UploadSigningCertificate.

Accounts: who=1 is the admin user of `eucalyptus`, who=2 user2 of
`testacct2`, who=3 user3 of `testacct3`.  Every test uses fresh names.
"""

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import time
import uuid

import botocore.exceptions
import pytest

AMI = re.compile(r"^ami-[0-9a-f]{17}$")
AKI = re.compile(r"^aki-[0-9a-f]{17}$")
ARI = re.compile(r"^ari-[0-9a-f]{17}$")
QCOW2_MAGIC = b"QFI\xfb"


# --------------------------------------------------------------------------
# helpers

def uname(prefix="img"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def fails(code, fn, *args, **kw):
    """Calls fn, which must fail with the EC2 error `code`; returns the message."""
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(*args, **kw)
    assert ei.value.response["Error"]["Code"] == code, ei.value.response
    msg = ei.value.response["Error"]["Message"]
    assert msg
    return msg


def s3(cloud, who):
    """boto3 S3 on Walrus as account `who` (1, 2 or 3)."""
    if who == 3:
        return cloud.client(1, access_key=cloud.ak3, secret_key=cloud.sk3)
    return cloud.client(who)


def acct(cloud, who):
    return {1: cloud.acct1, 2: cloud.acct2, 3: cloud.acct3}[who]


def new_bucket(cloud, who):
    name = uname("imgb")
    s3(cloud, who).create_bucket(Bucket=name)
    return name


def put(cloud, who, bucket, key, data, acl=None):
    kw = {"ACL": acl} if acl else {}
    s3(cloud, who).put_object(Bucket=bucket, Key=key, Body=data, **kw)


def raw_image(size=64 * 1024, noise=64):
    """A raw disk: an MBR-looking first sector, some random bytes (so that
    bundles of it do not compress to nothing), then zeros."""
    head = bytearray(512)
    head[510:512] = b"\x55\xaa"
    return bytes(head) + os.urandom(noise) + b"\0" * (size - 512 - noise)


def qcow2_image(tmp_path):
    """A real qcow2 from qemu-img when installed, else a version-3 header."""
    if shutil.which("qemu-img"):
        path = str(tmp_path / "disk.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", path, "16M"], check=True)
        with open(path, "rb") as f:
            return f.read()
    hdr = QCOW2_MAGIC + (3).to_bytes(4, "big") + b"\0" * 12 + (16).to_bytes(4, "big")
    hdr += (16 << 20).to_bytes(8, "big")
    return hdr + b"\0" * (4096 - len(hdr))


def db_row(cloud, image_id):
    """The CLC's stored row, for what the API does not show (format, manifest)."""
    path = os.path.join(cloud.home, "clc", "clc.db")
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        row = con.execute("SELECT * FROM images WHERE id = ?", (image_id,)).fetchone()
        return dict(row) if row else None
    finally:
        con.close()


def call_raw(ec2, method, extra, **kw):
    """Calls a boto3 EC2 method with form parameters added (or removed, value
    None) that this botocore's model lacks (RegisterImage's ImageType
    extension and TagSpecification, DescribeImages' MaxResults/NextToken).
    Returns (parsed result, raw response XML)."""
    raw = {}

    def add(params, **_):
        for k, v in extra.items():
            if v is None:
                params["body"].pop(k, None)
            else:
                params["body"][k] = v

    def grab(http_response, **_):
        raw["xml"] = http_response.content

    op = "".join(w.capitalize() for w in method.split("_"))
    ec2.meta.events.register("before-call.ec2.%s" % op, add, unique_id="raw-add")
    ec2.meta.events.register("after-call.ec2.%s" % op, grab, unique_id="raw-grab")
    try:
        return getattr(ec2, method)(**kw), raw.get("xml")
    finally:
        ec2.meta.events.unregister("before-call.ec2.%s" % op, unique_id="raw-add")
        ec2.meta.events.unregister("after-call.ec2.%s" % op, unique_id="raw-grab")


def register(ec2, **kw):
    """register_image, with the Overcast extension ImageType=machine|kernel|
    ramdisk and TagSpecification.N (Tags={k: v}) added to the form."""
    extra = {}
    if "ImageType" in kw:
        extra["ImageType"] = kw.pop("ImageType")
    for i, (k, v) in enumerate(sorted(kw.pop("Tags", {}).items()), 1):
        extra["TagSpecification.1.ResourceType"] = "image"
        extra["TagSpecification.1.Tag.%d.Key" % i] = k
        extra["TagSpecification.1.Tag.%d.Value" % i] = v
    if kw.get("Name", "") is None:
        kw["Name"] = "placeholder"
        extra["Name"] = None
    return call_raw(ec2, "register_image", extra, **kw)[0]


def describe_page(ec2, max_results, token=None, **kw):
    """One DescribeImages page: (image ids, nextToken or None)."""
    extra = {"MaxResults": str(max_results)}
    if token is not None:
        extra["NextToken"] = token
    r, xml = call_raw(ec2, "describe_images", extra, **kw)
    m = re.search(rb"<nextToken>([^<]*)</nextToken>", xml or b"")
    return [i["ImageId"] for i in r["Images"]], m.group(1).decode() if m else None


def register_plain(cloud, who, name=None, data=None, **kw):
    bucket = new_bucket(cloud, who)
    key = "disks/%s.img" % uuid.uuid4().hex[:8]
    put(cloud, who, bucket, key, data if data is not None else raw_image())
    r = register(cloud.ec2(who), ImageLocation="%s/%s" % (bucket, key),
                 Name=name or uname(), **kw)
    return r["ImageId"], bucket, key


def one_image(ec2, image_id):
    r = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert len(r) == 1, r
    return r[0]


def ids_of(resp):
    return sorted(i["ImageId"] for i in resp["Images"])


# --------------------------------------------------------------------------
# bundles, euca2ools style

def openssl(*args, data=None):
    p = subprocess.run(["openssl"] + list(args), input=data, capture_output=True)
    if p.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), p.stderr.decode()))
    return p.stdout


class Signer:
    """An RSA key and a self-signed certificate (openssl req -x509)."""

    def __init__(self, tmp, cn):
        self.key = os.path.join(tmp, "%s-key.pem" % cn)
        self.cert = os.path.join(tmp, "%s-cert.pem" % cn)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        self.key, "-out", self.cert, "-days", "30", "-subj", "/CN=%s" % cn],
                       check=True, capture_output=True)
        with open(self.cert) as f:
            self.pem = f.read()

    def encrypt_hex(self, data):
        return openssl("pkeyutl", "-encrypt", "-certin", "-inkey", self.cert, data=data).hex()

    def sign_hex(self, text):
        return openssl("dgst", "-sha1", "-sign", self.key, data=text).hex()


def make_bundle(image, name, user, signer, cloud_signer, account, arch="x86_64",
                itype="machine", kernel=None, ramdisk=None, part_size=4096,
                edit_signed=None):
    """Returns (manifest bytes, [(part file name, bytes)]).  edit_signed, when
    given, changes the <image> text after it was signed (tampering)."""
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w", format=tarfile.GNU_FORMAT) as t:
        info = tarfile.TarInfo(name)
        info.size = len(image)
        info.mtime = int(time.time())
        t.addfile(info, io.BytesIO(image))
    tar = tbuf.getvalue()
    key_hex, iv_hex = os.urandom(16).hex(), os.urandom(16).hex()
    enc = openssl("enc", "-e", "-aes-128-cbc", "-K", key_hex, "-iv", iv_hex,
                  data=gzip.compress(tar))
    parts = [("%s.part.%02d" % (name, i // part_size), enc[i:i + part_size])
             for i in range(0, len(enc), part_size)]
    mc = "<machine_configuration><architecture>%s</architecture>" % arch
    if kernel:
        mc += "<kernel_id>%s</kernel_id>" % kernel
    if ramdisk:
        mc += "<ramdisk_id>%s</ramdisk_id>" % ramdisk
    if itype == "machine":
        mc += ("<block_device_mapping>"
               "<mapping><device>sda2</device><virtual>ephemeral0</virtual></mapping>"
               "<mapping><device>sda1</device><virtual>ami</virtual></mapping>"
               "<mapping><device>/dev/sda1</device><virtual>root</virtual></mapping>"
               "<mapping><device>sda3</device><virtual>swap</virtual></mapping>"
               "</block_device_mapping>")
    mc += "</machine_configuration>"
    img = ("<image><name>%s</name><user>%s</user>"
           "<digest algorithm=\"SHA1\">%s</digest><size>%d</size>"
           "<bundled_size>%d</bundled_size><type>%s</type>"
           "<ec2_encrypted_key algorithm=\"AES-128-CBC\">%s</ec2_encrypted_key>"
           "<user_encrypted_key algorithm=\"AES-128-CBC\">%s</user_encrypted_key>"
           "<ec2_encrypted_iv>%s</ec2_encrypted_iv>"
           "<user_encrypted_iv>%s</user_encrypted_iv>"
           "<parts count=\"%d\">"
           % (name, account, hashlib.sha1(tar).hexdigest(), len(image), len(enc), itype,
              cloud_signer.encrypt_hex(key_hex.encode()), user.encrypt_hex(key_hex.encode()),
              cloud_signer.encrypt_hex(iv_hex.encode()), user.encrypt_hex(iv_hex.encode()),
              len(parts)))
    for i, (fname, data) in enumerate(parts):
        img += ("<part index=\"%d\"><filename>%s</filename>"
                "<digest algorithm=\"SHA1\">%s</digest></part>"
                % (i, fname, hashlib.sha1(data).hexdigest()))
    img += "</parts></image>"
    sig = signer.sign_hex((mc + img).encode())
    if edit_signed:
        img = edit_signed(img)
    manifest = ("<manifest><version>2007-10-10</version><bundler><name>euca2ools</name>"
                "<version>3.4.1</version><release>0</release></bundler>%s%s"
                "<signature>%s</signature></manifest>" % (mc, img, sig))
    return manifest.encode(), parts


def upload_bundle(cloud, who, bucket, prefix, name, manifest, parts, skip_parts=()):
    for fname, data in parts:
        if fname not in skip_parts:
            put(cloud, who, bucket, "%s/%s" % (prefix, fname), data)
    key = "%s/%s.manifest.xml" % (prefix, name)
    put(cloud, who, bucket, key, manifest)
    return "%s/%s" % (bucket, key)


@pytest.fixture(scope="module")
def pki(cloud, tmp_path_factory):
    """Keys: the cloud's, user2's (certificate uploaded for testacct2), a
    stranger's (never uploaded) and user3's (uploaded, then used for the
    inactive-certificate case)."""
    tmp = str(tmp_path_factory.mktemp("pki"))
    keys = {
        "cloud": Signer(tmp, "cloud"),
        "user2": Signer(tmp, "user2"),
        "stranger": Signer(tmp, "stranger"),
        "user3": Signer(tmp, "user3"),
    }
    # awscli for one account, boto3 for the other.
    cloud.iamcli("iam", "upload-signing-certificate", "--certificate-body",
                 "file://%s" % keys["user2"].cert, profile="user2")
    c = cloud.iam(3).upload_signing_certificate(CertificateBody=keys["user3"].pem)
    keys["user3_id"] = c["Certificate"]["CertificateId"]
    return keys


def bundle_location(cloud, pki, who=2, signer="user2", itype="machine", name=None, **kw):
    """Makes, uploads and returns (location, manifest bytes, name) of a bundle."""
    name = name or ("%s.img" % uname("bdl"))
    user = pki["user2" if who == 2 else "user3"]
    manifest, parts = make_bundle(raw_image(40 * 1024, 12 * 1024), name, user, pki[signer],
                                  pki["cloud"], acct(cloud, who), itype=itype, **kw)
    bucket = new_bucket(cloud, who)
    loc = upload_bundle(cloud, who, bucket, "bundles", name, manifest, parts)
    return loc, manifest, name


# --------------------------------------------------------------------------
# RegisterImage: plain objects

def test_register_raw_and_qcow2_boto3(cloud, tmp_path):
    ec2 = cloud.ec2(2)
    raw_id, bucket, key = register_plain(cloud, 2, name="raw (test) " + uuid.uuid4().hex[:6],
                                         Description="a raw disk")
    q_id, q_bucket, q_key = register_plain(cloud, 2, data=qcow2_image(tmp_path),
                                           Architecture="arm64", RootDeviceName="/dev/vda")
    assert AMI.match(raw_id) and AMI.match(q_id) and raw_id != q_id

    img = one_image(ec2, raw_id)
    assert img["ImageLocation"] == "%s/%s" % (bucket, key)
    assert img["State"] == "available"
    assert img["OwnerId"] == cloud.acct2
    assert img["Public"] is False
    assert img["ImageType"] == "machine"
    assert img["Architecture"] == "x86_64"
    assert img["Description"] == "a raw disk"
    assert img["Name"].startswith("raw (test) ")
    assert img["RootDeviceType"] == "instance-store"
    assert img["RootDeviceName"] == "/dev/sda1"
    assert img["VirtualizationType"] == "hvm"
    assert img["Hypervisor"]
    assert img["BlockDeviceMappings"] == []
    assert "KernelId" not in img and "RamdiskId" not in img
    created = time.mktime(time.strptime(img["CreationDate"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(created - time.mktime(time.gmtime())) < 600

    q = one_image(ec2, q_id)
    assert q["Architecture"] == "arm64" and q["RootDeviceName"] == "/dev/vda"

    # The format is the CLC's to know (the NC uses it): from the first bytes.
    assert db_row(cloud, raw_id)["format"] == "raw"
    assert db_row(cloud, q_id)["format"] == "qcow2"
    head = s3(cloud, 2).head_object(Bucket=bucket, Key=key)
    assert db_row(cloud, raw_id)["size_bytes"] == head["ContentLength"]
    assert db_row(cloud, raw_id)["digest"] == head["ETag"].strip('"')


def test_register_kernel_ramdisk_and_machine(cloud):
    ec2 = cloud.ec2(2)
    aki, _, _ = register_plain(cloud, 2, ImageType="kernel")
    ari, _, _ = register_plain(cloud, 2, ImageType="ramdisk")
    assert AKI.match(aki) and ARI.match(ari)
    assert one_image(ec2, aki)["ImageType"] == "kernel"
    assert one_image(ec2, ari)["ImageType"] == "ramdisk"

    # eki-/eri-/emi- spellings are accepted and mapped to the AWS prefixes.
    ami, _, _ = register_plain(cloud, 2, KernelId="eki-" + aki[4:], RamdiskId="eri-" + ari[4:])
    img = one_image(ec2, "emi-" + ami[4:])
    assert img["ImageId"] == ami
    assert img["KernelId"] == aki and img["RamdiskId"] == ari
    assert img["VirtualizationType"] == "paravirtual"

    bucket = new_bucket(cloud, 2)
    put(cloud, 2, bucket, "d.img", raw_image())
    loc = "%s/d.img" % bucket
    # A machine image is no kernel; unknown and malformed ids are refused.
    fails("InvalidParameterValue", ec2.register_image, ImageLocation=loc, Name=uname(),
          KernelId=ami)
    fails("InvalidAMIID.NotFound", ec2.register_image, ImageLocation=loc, Name=uname(),
          KernelId="aki-0123456789abcdef0")
    fails("InvalidParameterValue", ec2.register_image, ImageLocation=loc, Name=uname(),
          RamdiskId="ari-xyz")
    fails("InvalidParameterCombination", register, ec2, ImageLocation=loc, Name=uname(),
          ImageType="kernel", KernelId=aki)
    fails("InvalidParameterValue", register, ec2, ImageLocation=loc, Name=uname(),
          ImageType="disk")
    # Another account's private kernel is not one this account may launch.
    b3 = new_bucket(cloud, 3)
    put(cloud, 3, b3, "d.img", raw_image())
    fails("InvalidAMIID.NotFound", cloud.ec2(3).register_image, ImageLocation="%s/d.img" % b3,
          Name=uname(), KernelId=aki)


def test_register_errors(cloud):
    ec2 = cloud.ec2(2)
    bucket = new_bucket(cloud, 2)
    put(cloud, 2, bucket, "disk.img", raw_image())
    put(cloud, 2, bucket, "empty.img", b"")
    loc = "%s/disk.img" % bucket

    fails("InvalidParameterValue", ec2.register_image, ImageLocation="%s/nope.img" % bucket,
          Name=uname())
    fails("InvalidParameterValue", ec2.register_image, ImageLocation="nobucket-%s/x.img"
          % uuid.uuid4().hex[:8], Name=uname())
    fails("InvalidParameterValue", ec2.register_image, ImageLocation="just-a-bucket",
          Name=uname())
    fails("InvalidParameterValue", ec2.register_image,
          ImageLocation="%s/empty.img" % bucket, Name=uname())
    fails("MissingParameter", register, ec2, ImageLocation=loc, Name=None)
    fails("InvalidAMIName.Malformed", ec2.register_image, ImageLocation=loc, Name="ab")
    fails("InvalidAMIName.Malformed", ec2.register_image, ImageLocation=loc, Name="a*b*c")
    fails("InvalidParameterValue", ec2.register_image, ImageLocation=loc, Name=uname(),
          Architecture="sparc")
    fails("InvalidParameterValue", ec2.register_image, ImageLocation=loc, Name=uname(),
          VirtualizationType="pv")
    fails("InvalidParameterValue", ec2.register_image, ImageLocation=loc, Name=uname(),
          RootDeviceName="sda1")

    name = uname("dup")
    first = ec2.register_image(ImageLocation=loc, Name=name)["ImageId"]
    msg = fails("InvalidAMIName.Duplicate", ec2.register_image, ImageLocation=loc, Name=name)
    assert first in msg
    # Names are per account: another account may use the same one.
    b3 = new_bucket(cloud, 3)
    put(cloud, 3, b3, "disk.img", raw_image())
    other = cloud.ec2(3).register_image(ImageLocation="%s/disk.img" % b3, Name=name)
    assert AMI.match(other["ImageId"])


def test_register_someone_elses_object(cloud):
    """who=3 may not register who=2's private object, until it is readable."""
    bucket = new_bucket(cloud, 2)
    put(cloud, 2, bucket, "private.img", raw_image())
    loc = "%s/private.img" % bucket
    ec2_3 = cloud.ec2(3)
    fails("AuthFailure", ec2_3.register_image, ImageLocation=loc, Name=uname())
    fails("UnauthorizedOperation", ec2_3.register_image, ImageLocation=loc, Name=uname(),
          DryRun=True)
    assert ec2_3.describe_images(Owners=["self"],
                                 Filters=[{"Name": "manifest-location",
                                           "Values": [loc]}])["Images"] == []
    # A public-read object may be registered by anyone.
    put(cloud, 2, bucket, "shared.img", raw_image(), acl="public-read")
    r = ec2_3.register_image(ImageLocation="%s/shared.img" % bucket, Name=uname())
    assert one_image(ec2_3, r["ImageId"])["OwnerId"] == cloud.acct3
    # The eucalyptus account may use any object, as Walrus lets it read any.
    r = cloud.ec2(1).register_image(ImageLocation=loc, Name=uname())
    assert one_image(cloud.ec2(1), r["ImageId"])["OwnerId"] == cloud.acct1


def test_register_dry_run_and_tags(cloud):
    ec2 = cloud.ec2(2)
    bucket = new_bucket(cloud, 2)
    put(cloud, 2, bucket, "disk.img", raw_image())
    name = uname("dry")
    fails("DryRunOperation", ec2.register_image, ImageLocation="%s/disk.img" % bucket,
          Name=name, DryRun=True)
    assert ec2.describe_images(Filters=[{"Name": "name", "Values": [name]}])["Images"] == []
    r = register(ec2, ImageLocation="%s/disk.img" % bucket, Name=name,
                 Tags={"team": "blue", "tier": "1"})
    img = one_image(ec2, r["ImageId"])
    assert sorted((t["Key"], t["Value"]) for t in img["Tags"]) == \
        [("team", "blue"), ("tier", "1")]


# --------------------------------------------------------------------------
# RegisterImage: bundles

def test_register_bundle_awscli(cloud, pki):
    loc, manifest, name = bundle_location(cloud, pki)
    p = cloud.ec2cli("ec2", "register-image", "--image-location", loc, "--name", name,
                     "--description", "bundled", profile="user2")
    image_id = json.loads(p.stdout)["ImageId"]
    assert AMI.match(image_id)
    p = cloud.ec2cli("ec2", "describe-images", "--image-ids", image_id, profile="user2")
    img = json.loads(p.stdout)["Images"][0]
    assert img["Name"] == name
    assert img["ImageLocation"] == loc
    assert img["ImageType"] == "machine"
    assert img["Architecture"] == "x86_64"
    assert img["RootDeviceType"] == "instance-store"
    assert sorted((m["DeviceName"], m["VirtualName"]) for m in img["BlockDeviceMappings"]) == \
        [("/dev/sda2", "ephemeral0"), ("/dev/sda3", "swap")]
    row = db_row(cloud, image_id)
    assert row["format"] == "bundle"
    assert row["manifest"].encode() == manifest
    assert row["size_bytes"] == 40 * 1024


def test_register_bundle_default_name_boto2(cloud, pki):
    """Without Name the manifest's image name is used (boto2 may omit it)."""
    loc, _, name = bundle_location(cloud, pki)
    c2 = cloud.boto2_ec2(2)
    img = c2.register_image(image_location=loc)
    assert AMI.match(img)
    i = c2.get_all_images(image_ids=[img])[0]
    assert i.name == name and i.location == loc
    assert [(d, b.ephemeral_name) for d, b in sorted(i.block_device_mapping.items())] == \
        [("/dev/sda2", "ephemeral0"), ("/dev/sda3", "swap")]


def test_register_bundle_kernel_defaults_boto3(cloud, pki):
    ec2 = cloud.ec2(2)
    kloc, _, _ = bundle_location(cloud, pki, itype="kernel", kernel="true")
    rloc, _, _ = bundle_location(cloud, pki, itype="ramdisk", ramdisk="true")
    aki = ec2.register_image(ImageLocation=kloc, Name=uname())["ImageId"]
    ari = ec2.register_image(ImageLocation=rloc, Name=uname())["ImageId"]
    assert AKI.match(aki) and ARI.match(ari)
    # A machine bundle naming them (Eucalyptus spelling) gets them as defaults.
    loc, _, _ = bundle_location(cloud, pki, arch="i386", kernel="eki-" + aki[4:],
                                ramdisk="eri-" + ari[4:])
    ami = ec2.register_image(ImageLocation=loc, Name=uname())["ImageId"]
    img = one_image(ec2, ami)
    assert img["KernelId"] == aki and img["RamdiskId"] == ari
    assert img["Architecture"] == "i386"
    assert img["VirtualizationType"] == "paravirtual"
    # ImageType must agree with the manifest.
    loc2, _, _ = bundle_location(cloud, pki)
    fails("InvalidParameterCombination", register, ec2, ImageLocation=loc2,
          Name=uname(), ImageType="kernel")


def test_register_bundle_errors(cloud, pki):
    ec2 = cloud.ec2(2)
    # Signed by a key whose certificate the account never uploaded.
    loc, _, _ = bundle_location(cloud, pki, signer="stranger")
    assert "signature" in fails("InvalidManifest", ec2.register_image, ImageLocation=loc,
                                Name=uname())

    # The part list changed after signing.
    def tamper(img):
        return re.sub(r"(<part index=\"1\"><filename>[^<]*</filename>"
                      r"<digest algorithm=\"SHA1\">)[0-9a-f]{40}", r"\g<1>" + "0" * 40, img)
    loc, manifest, _ = bundle_location(cloud, pki, edit_signed=tamper)
    assert b"0" * 40 in manifest
    fails("InvalidManifest", ec2.register_image, ImageLocation=loc, Name=uname())

    # A part is missing.
    name = "%s.img" % uname("miss")
    manifest, parts = make_bundle(raw_image(40 * 1024, 12 * 1024), name, pki["user2"],
                                  pki["user2"], pki["cloud"], cloud.acct2)
    assert len(parts) >= 2
    bucket = new_bucket(cloud, 2)
    loc = upload_bundle(cloud, 2, bucket, "b", name, manifest, parts,
                        skip_parts={parts[-1][0]})
    assert parts[-1][0] in fails("InvalidManifest", ec2.register_image, ImageLocation=loc,
                                 Name=uname())

    # No manifest there, and a manifest that is not one.
    fails("InvalidManifest", ec2.register_image,
          ImageLocation="%s/b/none.manifest.xml" % bucket, Name=uname())
    put(cloud, 2, bucket, "junk.manifest.xml", b"<manifest><version>")
    fails("InvalidManifest", ec2.register_image,
          ImageLocation="%s/junk.manifest.xml" % bucket, Name=uname())
    put(cloud, 2, bucket, "xxe.manifest.xml",
        b'<!DOCTYPE m [<!ENTITY x SYSTEM "file:///etc/passwd">]><manifest>&x;</manifest>')
    fails("InvalidManifest", ec2.register_image, ImageLocation="%s/xxe.manifest.xml" % bucket,
          Name=uname())


def test_register_bundle_certificate_must_be_active(cloud, pki):
    iam, ec2 = cloud.iam(3), cloud.ec2(3)
    loc, _, _ = bundle_location(cloud, pki, who=3, signer="user3")
    iam.update_signing_certificate(CertificateId=pki["user3_id"], Status="Inactive")
    try:
        fails("InvalidManifest", ec2.register_image, ImageLocation=loc, Name=uname())
    finally:
        iam.update_signing_certificate(CertificateId=pki["user3_id"], Status="Active")
    r = ec2.register_image(ImageLocation=loc, Name=uname())
    assert AMI.match(r["ImageId"])
    # user2's valid bundle is still not user3's to register (someone else's bucket).
    loc2, _, _ = bundle_location(cloud, pki)
    fails("AuthFailure", ec2.register_image, ImageLocation=loc2, Name=uname())


# --------------------------------------------------------------------------
# DescribeImages

def test_describe_ids_owners_filters(cloud):
    ec2 = cloud.ec2(2)
    tag = uname("t")
    a, _, _ = register_plain(cloud, 2, name=uname("alpha"), Description="first one")
    b, _, _ = register_plain(cloud, 2, name=uname("beta"), Architecture="i386")
    k, _, _ = register_plain(cloud, 2, ImageType="kernel")
    ec2.create_tags(Resources=[a, b, k], Tags=[{"Key": "suite", "Value": tag}])
    ec2.create_tags(Resources=[a], Tags=[{"Key": "color", "Value": "red"}])
    mine = [{"Name": "tag:suite", "Values": [tag]}]

    def find(*filters, **kw):
        return ids_of(ec2.describe_images(Filters=mine + list(filters), **kw))

    assert find() == sorted([a, b, k])
    assert find({"Name": "architecture", "Values": ["i386"]}) == [b]
    assert find({"Name": "image-type", "Values": ["kernel"]}) == [k]
    assert find({"Name": "image-type", "Values": ["machine"]}) == sorted([a, b])
    assert find({"Name": "name", "Values": ["alpha-*"]}) == [a]
    assert find({"Name": "name", "Values": ["bet?-*"]}) == [b]
    assert find({"Name": "description", "Values": ["first*"]}) == [a]
    assert find({"Name": "image-id", "Values": [b]}) == [b]
    assert find({"Name": "is-public", "Values": ["false"]}) == sorted([a, b, k])
    assert find({"Name": "is-public", "Values": ["true"]}) == []
    assert find({"Name": "owner-id", "Values": [cloud.acct2]}) == sorted([a, b, k])
    assert find({"Name": "state", "Values": ["available"]}) == sorted([a, b, k])
    assert find({"Name": "root-device-type", "Values": ["instance-store"]}) == sorted([a, b, k])
    assert find({"Name": "root-device-type", "Values": ["ebs"]}) == []
    assert find({"Name": "root-device-name", "Values": ["/dev/sda1"]}) == sorted([a, b, k])
    assert find({"Name": "virtualization-type", "Values": ["hvm"]}) == sorted([a, b, k])
    assert find({"Name": "tag:color", "Values": ["red"]}) == [a]
    assert find({"Name": "tag-key", "Values": ["color"]}) == [a]
    assert find({"Name": "tag-value", "Values": ["re*"]}) == [a]
    assert find({"Name": "platform", "Values": ["windows"]}) == []
    loc = one_image(ec2, a)["ImageLocation"]
    assert find({"Name": "manifest-location", "Values": [loc]}) == [a]
    hv = one_image(ec2, a)["Hypervisor"]
    assert find({"Name": "hypervisor", "Values": [hv]}) == sorted([a, b, k])
    # Several values of one filter are alternatives; several filters all apply.
    assert find({"Name": "image-id", "Values": [a, k]},
                {"Name": "image-type", "Values": ["machine"]}) == [a]
    fails("InvalidParameterValue", ec2.describe_images,
          Filters=[{"Name": "no-such-filter", "Values": ["x"]}])

    # Owners.
    assert ids_of(ec2.describe_images(Owners=["self"], Filters=mine)) == sorted([a, b, k])
    assert ids_of(ec2.describe_images(Owners=[cloud.acct2], Filters=mine)) == sorted([a, b, k])
    assert ids_of(ec2.describe_images(Owners=["amazon"], Filters=mine)) == []
    assert ids_of(ec2.describe_images(Owners=[cloud.acct3], Filters=mine)) == []
    # ExecutableBy self covers own images.
    assert ids_of(ec2.describe_images(ExecutableUsers=["self"], Filters=mine)) == \
        sorted([a, b, k])
    assert ids_of(ec2.describe_images(ExecutableUsers=["all"], Filters=mine)) == []

    # Ids: both spellings, malformed and unknown.
    assert ids_of(ec2.describe_images(ImageIds=["emi-" + a[4:], k])) == sorted([a, k])
    fails("InvalidAMIID.Malformed", ec2.describe_images, ImageIds=["ami-nothex"])
    fails("InvalidAMIID.Malformed", ec2.describe_images, ImageIds=["sg-0123456789abcdef0"])
    assert "ami-0123456789abcdef0" in fails("InvalidAMIID.NotFound", ec2.describe_images,
                                            ImageIds=[a, "ami-0123456789abcdef0"])
    # Another account sees none of them and cannot name them.
    ec2_3 = cloud.ec2(3)
    assert ids_of(ec2_3.describe_images(Filters=mine)) == []
    fails("InvalidAMIID.NotFound", ec2_3.describe_images, ImageIds=[a])
    # Its own view of tags: none (tags belong to the account that set them).
    fails("DryRunOperation", ec2.describe_images, ImageIds=[a], DryRun=True)


def test_describe_pagination(cloud):
    """MaxResults/NextToken (this botocore and awscli predate them for
    DescribeImages, so the form parameters are added to boto3's call)."""
    ec2 = cloud.ec2(3)
    tag = uname("page")
    made = [register_plain(cloud, 3)[0] for _ in range(7)]
    ec2.create_tags(Resources=made, Tags=[{"Key": "page", "Value": tag}])
    flt = [{"Name": "tag:page", "Values": [tag]}]
    ids1, tok = describe_page(ec2, 5, Filters=flt)
    assert len(ids1) == 5 and tok
    ids2, tok2 = describe_page(ec2, 5, tok, Filters=flt)
    assert len(ids2) == 2 and tok2 is None
    assert sorted(ids1 + ids2) == sorted(made) and len(set(ids1 + ids2)) == 7
    assert ids1 == sorted(ids1) and max(ids1) < min(ids2)
    # Pages of 5 through everything the account sees.
    seen, tok = [], None
    for _ in range(100):
        ids, tok = describe_page(ec2, 5, tok)
        seen += ids
        if not tok:
            break
    assert len(seen) == len(set(seen)) and set(made) <= set(seen)
    assert sorted(seen) == ids_of(ec2.describe_images())

    fails("InvalidParameterCombination", describe_page, ec2, 5, ImageIds=[made[0]])
    fails("InvalidParameterValue", describe_page, ec2, 4)
    fails("InvalidParameterValue", describe_page, ec2, 5, "garbage")
    # A token is bound to its account.
    fails("InvalidParameterValue", describe_page, cloud.ec2(2), 5, describe_page(ec2, 5)[1])


# --------------------------------------------------------------------------
# launch permissions, attributes, deregistration

def test_launch_permissions_across_accounts(cloud):
    """who=1 shares with who=2's account; who=3 still cannot see the image."""
    ec2_1, ec2_2, ec2_3 = cloud.ec2(1), cloud.ec2(2), cloud.ec2(3)
    img, _, _ = register_plain(cloud, 1)
    fails("InvalidAMIID.NotFound", ec2_2.describe_images, ImageIds=[img])

    ec2_1.modify_image_attribute(ImageId=img, LaunchPermission={
        "Add": [{"UserId": cloud.acct2}]})
    lp = ec2_1.describe_image_attribute(ImageId=img, Attribute="launchPermission")
    assert lp["ImageId"] == img
    assert lp["LaunchPermissions"] == [{"UserId": cloud.acct2}]

    assert one_image(ec2_2, img)["OwnerId"] == cloud.acct1
    assert img in ids_of(ec2_2.describe_images(ExecutableUsers=["self"]))
    assert img in ids_of(ec2_2.describe_images(Owners=[cloud.acct1]))
    assert img not in ids_of(ec2_2.describe_images(Owners=["self"]))
    assert img in ids_of(ec2_1.describe_images(ExecutableUsers=[cloud.acct2]))
    assert img not in ids_of(ec2_1.describe_images(ExecutableUsers=[cloud.acct3]))
    # Seeing is not owning.
    fails("AuthFailure", ec2_2.modify_image_attribute, ImageId=img,
          LaunchPermission={"Add": [{"UserId": cloud.acct3}]})
    fails("UnauthorizedOperation", ec2_2.modify_image_attribute, ImageId=img,
          LaunchPermission={"Add": [{"UserId": cloud.acct3}]}, DryRun=True)
    fails("AuthFailure", ec2_2.deregister_image, ImageId=img)
    fails("AuthFailure", ec2_2.describe_image_attribute, ImageId=img,
          Attribute="launchPermission")
    fails("AuthFailure", ec2_2.reset_image_attribute, ImageId=img,
          Attribute="launchPermission")
    # who=3 still sees nothing.
    fails("InvalidAMIID.NotFound", ec2_3.describe_images, ImageIds=[img])
    assert img not in ids_of(ec2_3.describe_images())
    fails("InvalidAMIID.NotFound", ec2_3.modify_image_attribute, ImageId=img,
          LaunchPermission={"Add": [{"UserId": cloud.acct3}]})
    fails("InvalidAMIID.NotFound", ec2_3.deregister_image, ImageId=img)

    # Public: everyone sees it.
    ec2_1.modify_image_attribute(ImageId=img, LaunchPermission={"Add": [{"Group": "all"}]})
    assert one_image(ec2_3, img)["Public"] is True
    assert img in ids_of(ec2_3.describe_images(ExecutableUsers=["all"]))
    assert img in ids_of(ec2_3.describe_images(
        Filters=[{"Name": "is-public", "Values": ["true"]}]))
    lp = ec2_1.describe_image_attribute(ImageId=img, Attribute="launchPermission")
    assert {"Group": "all"} in lp["LaunchPermissions"]

    # Removal, then reset.
    ec2_1.modify_image_attribute(ImageId=img, LaunchPermission={
        "Remove": [{"Group": "all"}]})
    fails("InvalidAMIID.NotFound", ec2_3.describe_images, ImageIds=[img])
    assert one_image(ec2_2, img)["ImageId"] == img
    ec2_1.reset_image_attribute(ImageId=img, Attribute="launchPermission")
    fails("InvalidAMIID.NotFound", ec2_2.describe_images, ImageIds=[img])
    assert ec2_1.describe_image_attribute(ImageId=img, Attribute="launchPermission")[
        "LaunchPermissions"] == []

    # Bad items.
    fails("InvalidAMIAttributeItemValue", ec2_1.modify_image_attribute, ImageId=img,
          LaunchPermission={"Add": [{"UserId": "12345"}]})
    fails("InvalidAMIAttributeItemValue", ec2_1.modify_image_attribute, ImageId=img,
          LaunchPermission={"Add": [{"UserId": "999999999999"}]})
    fails("InvalidAMIAttributeItemValue", ec2_1.modify_image_attribute, ImageId=img,
          LaunchPermission={"Add": [{"Group": "everyone"}]})


def test_launch_permissions_awscli_flat_form(cloud):
    img, _, _ = register_plain(cloud, 2)
    cloud.ec2cli("ec2", "modify-image-attribute", "--image-id", img, "--attribute",
                 "launchPermission", "--operation-type", "add", "--user-ids", cloud.acct3,
                 profile="user2")
    p = cloud.ec2cli("ec2", "describe-images", "--image-ids", img, profile="user3")
    assert json.loads(p.stdout)["Images"][0]["ImageId"] == img
    cloud.ec2cli("ec2", "modify-image-attribute", "--image-id", img, "--launch-permission",
                 "Remove=[{UserId=%s}]" % cloud.acct3, profile="user2")
    p = cloud.ec2cli("ec2", "describe-images", "--image-ids", img, profile="user3",
                     check=False)
    assert p.returncode != 0 and "InvalidAMIID.NotFound" in p.stderr


def test_image_attributes(cloud):
    ec2 = cloud.ec2(2)
    aki, _, _ = register_plain(cloud, 2, ImageType="kernel")
    img, _, _ = register_plain(cloud, 2, KernelId=aki, Description="before")
    d = ec2.describe_image_attribute(ImageId=img, Attribute="description")
    assert d["ImageId"] == img and d["Description"] == {"Value": "before"}
    ec2.modify_image_attribute(ImageId=img, Description={"Value": "after"})
    assert one_image(ec2, img)["Description"] == "after"
    cloud.ec2cli("ec2", "modify-image-attribute", "--image-id", img, "--attribute",
                 "description", "--value", "via cli", profile="user2")
    assert ec2.describe_image_attribute(ImageId=img, Attribute="description")[
        "Description"] == {"Value": "via cli"}
    assert ec2.describe_image_attribute(ImageId=img, Attribute="kernel")[
        "KernelId"] == {"Value": aki}
    assert ec2.describe_image_attribute(ImageId=img, Attribute="ramdisk")["RamdiskId"] == {}
    assert ec2.describe_image_attribute(ImageId=img, Attribute="productCodes")[
        "ProductCodes"] == []
    assert ec2.describe_image_attribute(ImageId=img, Attribute="blockDeviceMapping")[
        "BlockDeviceMappings"] == []
    # Kernel and ramdisk are read-only; attributes are checked.
    fails("InvalidParameterValue", ec2.modify_image_attribute, ImageId=img,
          Attribute="kernel", Value=aki)
    fails("InvalidParameterValue", ec2.describe_image_attribute, ImageId=img,
          Attribute="colour")
    fails("InvalidParameterValue", ec2.reset_image_attribute, ImageId=img,
          Attribute="description")
    fails("MissingParameter", ec2.modify_image_attribute, ImageId=img)
    fails("InvalidParameterValue", ec2.modify_image_attribute, ImageId=img,
          Description={"Value": "x" * 256})
    fails("DryRunOperation", ec2.modify_image_attribute, ImageId=img,
          Description={"Value": "dry"}, DryRun=True)
    assert one_image(ec2, img)["Description"] == "via cli"
    fails("InvalidAMIID.Malformed", ec2.describe_image_attribute, ImageId="ami-12",
          Attribute="description")


def test_deregister(cloud):
    ec2 = cloud.ec2(2)
    img, _, _ = register_plain(cloud, 2)
    ec2.create_tags(Resources=[img], Tags=[{"Key": "k", "Value": "v"}])
    fails("DryRunOperation", ec2.deregister_image, ImageId=img, DryRun=True)
    assert one_image(ec2, img)["ImageId"] == img
    fails("InvalidAMIID.NotFound", cloud.ec2(3).deregister_image, ImageId=img)
    ec2.deregister_image(ImageId=img)
    fails("InvalidAMIID.NotFound", ec2.describe_images, ImageIds=[img])
    fails("InvalidAMIID.NotFound", ec2.deregister_image, ImageId=img)
    assert ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [img]}])["Tags"] == []
    assert db_row(cloud, img) is None


# --------------------------------------------------------------------------
# boto2 (SigV2), the euca2ools-era client

def test_boto2_images(cloud):
    import boto.exception
    c2 = cloud.boto2_ec2(2)
    bucket = new_bucket(cloud, 2)
    put(cloud, 2, bucket, "b2.img", raw_image())
    name = uname("boto2")
    img = c2.register_image(name=name, description="from boto2",
                            image_location="%s/b2.img" % bucket, architecture="x86_64")
    assert AMI.match(img)
    got = c2.get_all_images(image_ids=[img])
    assert len(got) == 1
    i = got[0]
    assert i.id == img and i.name == name and i.description == "from boto2"
    assert i.location == "%s/b2.img" % bucket
    assert i.state == "available" and i.ownerId == cloud.acct2
    assert i.is_public is False and i.architecture == "x86_64" and i.type == "machine"
    assert i.root_device_type == "instance-store"
    assert img in [x.id for x in c2.get_all_images(owners=["self"],
                                                    filters={"name": name})]
    # Flat launch permission form (Attribute/OperationType/UserId.N).
    assert c2.modify_image_attribute(img, attribute="launchPermission", operation="add",
                                     user_ids=[cloud.acct3])
    attr = c2.get_image_attribute(img, attribute="launchPermission")
    assert attr.attrs.get("user_ids") == [cloud.acct3]
    assert one_image(cloud.ec2(3), img)["ImageId"] == img
    assert c2.modify_image_attribute(img, attribute="launchPermission", operation="add",
                                     groups=["all"])
    assert c2.get_all_images(image_ids=[img])[0].is_public is True
    assert c2.reset_image_attribute(img, attribute="launchPermission")
    fails("InvalidAMIID.NotFound", cloud.ec2(3).describe_images, ImageIds=[img])
    with pytest.raises(boto.exception.EC2ResponseError) as ei:
        c2.register_image(name=name, image_location="%s/b2.img" % bucket)
    assert ei.value.error_code == "InvalidAMIName.Duplicate"
    with pytest.raises(boto.exception.EC2ResponseError) as ei:
        c2.get_all_images(image_ids=["ami-0123456789abcdef0"])
    assert ei.value.error_code == "InvalidAMIID.NotFound"
    assert c2.deregister_image(img)
    assert c2.get_all_images(owners=["self"], filters={"name": name}) == []
