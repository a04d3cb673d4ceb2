"""overcast-bundle-image and overcast-upload-bundle against the whole cloud
(cloud_harness.py: CLC, Walrus, a CC and a node with TCG guests).

What is checked:
  - the test guest's root disk, bundled by overcast-bundle-image with a
    user certificate registered through IAM UploadSigningCertificate,
    uploaded by overcast-upload-bundle (which creates the bucket), is
    registered with RegisterImage ImageLocation=bucket/x.manifest.xml
    (kernel and ramdisk from the manifest), launched, and boots: the
    guest's GUEST-UP marker on its console;
  - both tools show progress on stderr when asked (--progress), and take
    euca2ools' environment defaults (EC2_USER_ID, the cloud certificate
    under $OVERCAST_HOME, S3_URL and the AWS_* keys);
  - a bundle made by the euca2ools-style Python code of test_ec2_images.py
    and one made by our tool have the same manifest structure: the same
    elements and attributes in the same order;
  - the uploader refuses a part that does not match its manifest digest
    before sending anything of the bundle.
"""

import os
import re
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloud_harness as ch  # noqa: E402
import test_ec2_images as euca  # noqa: E402  (the euca2ools-style bundler)
import walrus_harness as wh  # noqa: E402
from test_instances import wait_console, wait_state  # noqa: E402

ZONE = "zone-a"


@pytest.fixture(scope="module")
def cloud():
    yield from ch.cloud_fixture(zones=((ZONE, 1),))


@pytest.fixture(scope="module")
def signer(cloud, tmp_path_factory):
    """user2's key and certificate, uploaded as a signing certificate."""
    s = euca.Signer(str(tmp_path_factory.mktemp("pki")), "bundler-user2")
    cloud.env.iam(2).upload_signing_certificate(CertificateBody=s.pem)
    return s


def tool(name):
    return os.path.join(wh.build_dir(), "euca-compat", name)


def run(name, *args, env=None, check=True):
    p = subprocess.run([tool(name)] + [str(a) for a in args], capture_output=True, text=True,
                       env=wh.clean_env(env or {}), timeout=600)
    if check and p.returncode != 0:
        raise AssertionError("%s %s failed (%d):\nstdout: %s\nstderr: %s"
                             % (name, " ".join(map(str, args)), p.returncode, p.stdout,
                                p.stderr))
    return p


def bundle(cloud, signer, image, dest, prefix, *extra):
    """overcast-bundle-image with -c/-k, the account from EC2_USER_ID and
    the cloud certificate from $OVERCAST_HOME; returns (manifest path,
    part paths, stderr)."""
    p = run("overcast-bundle-image", "-i", image, "-r", "x86_64", "-d", dest, "-p", prefix,
            "-c", signer.cert, "-k", signer.key, *extra,
            env={"EC2_USER_ID": cloud.env.acct2, "OVERCAST_HOME": cloud.env.home})
    lines = p.stdout.splitlines()
    assert lines[-1] == "Wrote manifest %s/%s.manifest.xml" % (dest, prefix), p.stdout
    parts = [l[len("Wrote "):] for l in lines[:-1]]
    assert parts == ["%s/%s.part.%02d" % (dest, prefix, i) for i in range(len(parts))]
    return "%s/%s.manifest.xml" % (dest, prefix), parts, p.stderr


def upload_env(cloud, who=2):
    ak, sk = cloud.env.keys(who)
    return {"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk, "S3_URL": cloud.env.endpoint}


def structure(xml_bytes):
    """The manifest's elements in document order as (depth, tag, attribute
    names); consecutive <part> elements count as one (the part count is
    the image's, not the format's)."""
    out = []

    def walk(e, depth):
        out.append((depth, e.tag, tuple(sorted(e.attrib))))
        for c in e:
            walk(c, depth + 1)

    walk(ET.fromstring(xml_bytes), 0)
    # Collapse the repeated part subtrees.
    collapsed, i = [], 0
    part = [(4, "part", ("index",)), (5, "filename", ()), (5, "digest", ("algorithm",))]
    while i < len(out):
        if out[i:i + 3] == part and collapsed[-3:] == part:
            i += 3
            continue
        collapsed.append(out[i])
        i += 1
    return collapsed


def test_bundle_upload_register_boot(cloud, signer, tmp_path):
    env = cloud.env
    ec2 = env.ec2(2)
    prefix = "guest-%s.img" % uuid.uuid4().hex[:8]
    dest = str(tmp_path / "bundle")
    # Small parts: the guest's 32 MiB root disk gzips to a few dozen KiB.
    manifest, parts, err = bundle(cloud, signer, os.path.join(cloud.guest, "rootdisk.img"),
                                  dest, prefix, "--kernel", cloud.kernel, "--ramdisk",
                                  cloud.ramdisk, "--part-size", "4k", "--progress")
    assert len(parts) >= 3
    assert "Bundling image 100%" in err and "Bundling image 0%" in err, err
    assert all(os.path.getsize(p) == 4096 for p in parts[:-1])
    with open(manifest, "rb") as f:
        text = f.read()
    assert b"<user>%s</user>" % env.acct2.encode() in text
    assert b"<kernel_id>%s</kernel_id>" % cloud.kernel.encode() in text

    bucket = "bundles-%s" % uuid.uuid4().hex[:8]
    p = run("overcast-upload-bundle", "-b", bucket + "/images", "-m", manifest, "--progress",
            env=upload_env(cloud))
    loc = "%s/images/%s.manifest.xml" % (bucket, prefix)
    assert p.stdout.strip() == "Uploaded %s" % loc, p.stdout
    assert "Uploading bundle 100%" in p.stderr, p.stderr
    keys = [o["Key"] for o in env.client(2).list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(keys) == sorted(["images/" + os.path.basename(x) for x in parts] +
                                  ["images/%s.manifest.xml" % prefix])

    # Kernel, ramdisk and name come from the manifest (no Name: boto3
    # insists on one, so test_ec2_images.register drops it from the form).
    image_id = euca.register(ec2, ImageLocation=loc, Name=None)["ImageId"]
    img = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    assert img["Name"] == prefix and img["ImageLocation"] == loc
    assert img["KernelId"] == cloud.kernel and img["RamdiskId"] == cloud.ramdisk
    assert img["Architecture"] == "x86_64" and img["OwnerId"] == env.acct2

    res = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="m1.small")
    iid = res["Instances"][0]["InstanceId"]
    try:
        wait_state(ec2, [iid], "running")
        inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
        m, text = wait_console(ec2, iid, r"^GUEST-UP ip=(\S+)")
        assert m.group(1) == inst["PrivateIpAddress"], text[-2000:]
        m, _ = wait_console(ec2, iid, r"^GUEST-IID (\S+)")
        assert m.group(1) == iid
    finally:
        ec2.terminate_instances(InstanceIds=[iid])
        wait_state(ec2, [iid], "terminated")


def test_manifest_structure_matches_euca2ools(cloud, signer, tmp_path):
    """Our manifest and the euca2ools-style one of test_ec2_images.py: the
    same elements, attributes and order, for machine, kernel and ramdisk
    bundles; and both register."""
    env = cloud.env
    cloud_signer = euca.Signer(str(tmp_path), "cloud-stand-in")
    image = euca.raw_image(200 * 1024, 12 * 1024)
    path = str(tmp_path / "image.raw")
    with open(path, "wb") as f:
        f.write(image)
    cases = [("machine", ["--kernel", cloud.kernel, "--ramdisk", cloud.ramdisk],
              dict(kernel=cloud.kernel, ramdisk=cloud.ramdisk)),
             ("kernel", ["--image-type", "kernel"], {}),
             ("ramdisk", ["--image-type", "ramdisk"], {})]
    for itype, args, kw in cases:
        name = "cmp-%s-%s.img" % (itype, uuid.uuid4().hex[:6])
        theirs, their_parts = euca.make_bundle(image, name, signer, signer, cloud_signer,
                                               env.acct2, itype=itype, **kw)
        dest = str(tmp_path / itype)
        manifest, ours_parts, _ = bundle(cloud, signer, path, dest, name, "--part-size", "4k",
                                         *args)
        with open(manifest, "rb") as f:
            ours = f.read()
        assert len(their_parts) > 1 and len(ours_parts) > 1
        assert structure(ours) == structure(theirs), (itype, ours, theirs)
        # Field by field where the two must agree.
        o, t = ET.fromstring(ours), ET.fromstring(theirs)
        for path_ in ("version", "machine_configuration/architecture", "image/name",
                      "image/user", "image/size", "image/type",
                      "machine_configuration/kernel_id", "machine_configuration/ramdisk_id"):
            assert (o.findtext(path_) or "") == (t.findtext(path_) or ""), path_
        mappings = lambda e: sorted((m.findtext("virtual"), m.findtext("device"))  # noqa: E731
                                    for m in e.iter("mapping"))
        assert mappings(o) == mappings(t)
        # Both are what the CLC registers (ours with the real cloud key).
        bucket = euca.new_bucket(env, 2)
        run("overcast-upload-bundle", "-b", bucket, "-m", manifest, env=upload_env(cloud))
        r = euca.register(env.ec2(2), ImageLocation="%s/%s.manifest.xml" % (bucket, name),
                          Name=name, ImageType=itype)
        want = {"machine": euca.AMI, "kernel": euca.AKI, "ramdisk": euca.ARI}[itype]
        assert want.match(r["ImageId"]), r


def test_upload_refuses_a_damaged_part(cloud, signer, tmp_path):
    image = euca.raw_image(64 * 1024, 16 * 1024)
    path = str(tmp_path / "damaged.img")
    with open(path, "wb") as f:
        f.write(image)
    manifest, parts, _ = bundle(cloud, signer, path, str(tmp_path / "b"), "damaged.img",
                                "--part-size", "4k")
    with open(parts[1], "r+b") as f:
        f.seek(100)
        b = f.read(1)
        f.seek(100)
        f.write(bytes([b[0] ^ 1]))
    bucket = "damaged-%s" % uuid.uuid4().hex[:8]
    p = run("overcast-upload-bundle", "-b", bucket, "-m", manifest, env=upload_env(cloud),
            check=False)
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"part 1 \(.*damaged\.img\.part\.01\) has SHA-1 [0-9a-f]{40}, the "
                     r"manifest says [0-9a-f]{40}: not uploaded", p.stderr), p.stderr
    assert p.stdout == ""
    # Part 0 went up, nothing after the bad one and no manifest.
    keys = [o["Key"] for o in
            cloud.env.client(2).list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["damaged.img.part.00"]
    # Another account's bucket is refused before any part is sent.
    p = run("overcast-upload-bundle", "-b", bucket, "-m", manifest, env=upload_env(cloud, 3),
            check=False)
    assert p.returncode != 0 and "bucket %s" % bucket in p.stderr, p.stderr
