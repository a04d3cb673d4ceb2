"""overcast-nc with real VMs: a real libvirtd (TCG), the test guest from
tests/guest/ stored in a real Walrus, a bridge with DHCP from a dnsmasq in a
network namespace, and the node's internal API signed like its CC.

What is proved here: direct kernel boot and disk boot, the console read
back, terminate, stop/start, reboot, two instances sharing one cached base
that stays bit-identical while both guests write their disks, a restarted
NC re-adopting running VMs, corrupted images refused and never cached,
bundles decrypted with the cloud key, capacity accounting, events pushed
to the CC, and who may call.
"""

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nc_harness as nh  # noqa: E402
import walrus_harness as wh  # noqa: E402
from test_ec2_images import make_bundle, Signer  # noqa: E402

BUCKET = "nc-images"


class Cloud:
    pass


def _md5(data):
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def nc():
    c = Cloud()
    c.tmp = tempfile.mkdtemp(prefix="overcast-nc-")
    c.libvirtd = nh.Libvirtd()
    c.net = nh.TestNet(dhcp=True)
    c.env = c.nc = c.sink = None
    c.made = []   # instance ids, for cleanup by name
    # MacroComponent template RAM lives on tmpfs, in a directory of this run.
    c.ram_dir = tempfile.mkdtemp(prefix="overcast-mc-", dir="/dev/shm")
    try:
        c.libvirtd.ensure()
        c.guest = nh.guest_dir()
        c.env = wh.start_env(c.tmp)
        c.net.up(c.tmp)
        c.sink = nh.EventSink()
        home = c.env.home
        c.nc = nh.Nc(home, env={
            "OVERCAST_CLC_URL": c.env.clc.endpoint,
            "OVERCAST_WALRUS_URL": c.env.endpoint,
            "OVERCAST_LIBVIRT_URI": "qemu:///system",
            "OVERCAST_HYPERVISOR": "qemu",
            "OVERCAST_NC_SHUTDOWN_TIMEOUT": "3",
            "OVERCAST_NC_MAX_CORES": "16",
            "OVERCAST_NC_MAX_MEM_MB": "4096",
            "OVERCAST_NC_MAX_DISK_GB": "100",
            "OVERCAST_NC_NAME": "node-test",
            "OVERCAST_CC_URL": c.sink.url,
            "OVERCAST_NC_MC_RAM_DIR": c.ram_dir, "OVERCAST_LOGLEVEL": os.environ.get("DBG_LOGLEVEL", "INFO"),
        })
        c.nc.start()
        cc = wh.parse_shell_vars(os.path.join(home, "cc", "clc-credentials"))
        c.api = nh.NcClient(c.nc.endpoint, cc["AWS_ACCESS_KEY_ID"], cc["AWS_SECRET_ACCESS_KEY"])
        # The guest's pieces as plain objects in Walrus, digests = ETags.
        s3 = c.env.client(1)
        s3.create_bucket(Bucket=BUCKET)
        c.images = {}
        for name in ("vmlinuz", "initrd.img", "rootdisk.img", "disk.img"):
            with open(os.path.join(c.guest, name), "rb") as f:
                data = f.read()
            s3.put_object(Bucket=BUCKET, Key="guest/" + name, Body=data)
            c.images[name] = ("%s/guest/%s" % (BUCKET, name), _md5(data))
        yield c
    finally:
        failed = False
        if c.nc is not None and c.nc.alive():
            for iid in c.made:
                try:
                    c.api.call("ncTerminateInstance", InstanceId=iid)
                except Exception:
                    pass
            deadline = time.time() + 60
            while time.time() < deadline and any(nh.domain_exists(i) for i in c.made):
                time.sleep(0.5)
        for iid in c.made:
            if nh.domain_exists(iid):
                failed = True
                nh.destroy_domain(iid)
        if c.env is not None:
            if nh.kill_qemus(os.path.join(c.env.home, "nc")):
                failed = True
        if c.nc is not None:
            if c.nc.alive():
                c.nc.stop()
            sys.stderr.write("\n--- overcast-nc log tail ---\n%s\n" % c.nc.log_tail(6000))
        if c.sink is not None:
            c.sink.close()
        if c.env is not None:
            c.env.shutdown()
        c.net.down()
        c.libvirtd.stop()
        shutil.rmtree(c.tmp, ignore_errors=True)
        shutil.rmtree(c.ram_dir, ignore_errors=True)
        assert not failed, "terminate left domains behind"


def image_params(c, root="rootdisk.img", kernel=True):
    loc, dig = c.images[root]
    # One id per image, as the CLC would give it.
    p = {"ImageId": "emi-" + hashlib.md5(root.encode()).hexdigest()[:8], "ImageLocation": loc,
         "ImageDigest": dig}
    if kernel:
        for pfx, name, kind in (("Kernel", "vmlinuz", "eki"), ("Ramdisk", "initrd.img", "eri")):
            loc, dig = c.images[name]
            p[pfx + "Id"] = "%s-%s" % (kind, hashlib.md5(name.encode()).hexdigest()[:8])
            p[pfx + "Location"] = loc
            p[pfx + "Digest"] = dig
    return p


def run_instance(c, image=None, **kw):
    iid = nh.new_instance_id()
    c.made.append(iid)
    p = {"InstanceId": iid, "ReservationId": "r-" + nh.secrets.token_hex(9)[:17],
         "OwnerId": "123456789012", "InstanceType": "t2.nano", "VCpus": 1, "MemoryMiB": 256,
         "DiskGiB": 1, "MacAddress": nh.new_mac(), "Bridge": c.net.bridge}
    p.update(image if image is not None else image_params(c))
    p.update(kw)
    r = c.api.call("ncRunInstance", **p)
    assert r["instance"]["instanceId"] == iid
    assert r["instance"]["instanceState"]["name"] == "pending"
    return iid


def cache_files(c):
    return sorted(glob.glob(os.path.join(c.env.home, "nc", "cache", "*")))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def backing_of(path):
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out).get("backing-filename")


def terminate(c, iid):
    r = c.api.call("ncTerminateInstance", InstanceId=iid)
    assert r["currentState"]["name"] in ("shutting-down", "terminated")
    c.api.wait_state(iid, "terminated", timeout=60)
    assert not nh.domain_exists(iid)
    assert not os.path.exists(os.path.join(c.env.home, "nc", "instances", iid))


# --------------------------------------------------------------------------

def test_kernel_boot_console_dhcp_and_shared_base(nc):
    """Two instances of one image: direct kernel boot, DHCP, one cached base
    shared by both overlays, the base unchanged after both guests wrote."""
    a = run_instance(nc)
    b = run_instance(nc)
    for iid in (a, b):
        nc.api.wait_state(iid, "running")
    for iid in (a, b):
        text = nc.api.wait_console(iid, "GUEST-DISK wrote")
        assert "GUEST-BOOT" in text
        text = nc.api.wait_console(iid, "GUEST-UP ip=%s." % nc.net.net)
    # One cache entry per image id, and both overlays back onto the same one.
    root_loc, root_dig = nc.images["rootdisk.img"]
    bases = [f for f in cache_files(nc) if root_dig in os.path.basename(f)]
    assert len(bases) == 1, cache_files(nc)
    for iid in (a, b):
        overlay = os.path.join(nc.env.home, "nc", "instances", iid, "root.qcow2")
        assert backing_of(overlay) == bases[0]
    # The guests wrote the last MiB of their disks; the base did not change.
    with open(os.path.join(nc.guest, "rootdisk.img"), "rb") as f:
        assert sha256_file(bases[0]) == hashlib.sha256(f.read()).hexdigest()
    res = nc.api.call("ncDescribeResource")
    assert int(res["coresTotal"]) == 16
    assert int(res["coresFree"]) <= 14
    assert int(res["memoryFreeMiB"]) <= 4096 - 512
    for iid in (a, b):
        terminate(nc, iid)
    # Events reached the CC in order.
    for iid in (a, b):
        states = nc.sink.states(iid)
        assert states[:2] == ["pending", "running"], states
        assert states[-1] == "terminated", states
    assert all(e["_auth"].startswith("AWS4-HMAC-SHA256") for e in nc.sink.events)


def test_disk_boot(nc):
    """Disk boot (SYSLINUX in the image), with the ephemeral and swap disks
    an instance type can add."""
    loc, dig = nc.images["disk.img"]
    iid = run_instance(nc, image={"ImageId": "emi-" + nh.secrets.token_hex(4),
                                  "ImageLocation": loc, "ImageDigest": dig},
                       EphemeralGiB=1, SwapMiB=64)
    nc.api.wait_state(iid, "running")
    nc.api.wait_console(iid, "GUEST-BOOT")
    text = nc.api.wait_console(iid, "GUEST-UP ip=")
    assert "SYSLINUX" in text
    xml = nh.run(*nh.VIRSH, "dumpxml", iid).stdout
    idir = os.path.join(nc.env.home, "nc", "instances", iid)
    for dev, name in (("vda", "root.qcow2"), ("vdb", "ephemeral.qcow2"), ("vdc", "swap.qcow2")):
        assert "<target dev='%s' bus='virtio'/>" % dev in xml
        assert os.path.join(idir, name) in xml
    info = json.loads(nh.run("qemu-img", "info", "-U", "--output=json",
                             os.path.join(idir, "swap.qcow2")).stdout)
    assert info["virtual-size"] == 64 << 20
    assert "<boot dev='hd'/>" in xml and "<kernel>" not in xml
    terminate(nc, iid)


def test_stop_start_reboot(nc):
    iid = run_instance(nc)
    nc.api.wait_state(iid, "running")
    nc.api.wait_console(iid, "GUEST-DISK wrote")
    nc.api.call("ncRebootInstance", InstanceId=iid)
    nc.api.wait_console(iid, "GUEST-BOOT", count=2)
    r = nc.api.call("ncStopInstance", InstanceId=iid)
    assert r["previousState"]["name"] == "running"
    assert r["currentState"]["name"] == "stopping"
    nc.api.wait_state(iid, "stopped", timeout=60)
    assert not nh.domain_exists(iid)
    # Stopped keeps its disk; start boots it again.
    assert os.path.exists(os.path.join(nc.env.home, "nc", "instances", iid, "root.qcow2"))
    with pytest.raises(nh.NcError) as e:
        nc.api.call("ncRebootInstance", InstanceId=iid)
    assert e.value.code == "IncorrectInstanceState"
    nc.api.call("ncStartInstance", InstanceId=iid)
    nc.api.wait_state(iid, "running")
    nc.api.wait_console(iid, "GUEST-BOOT", count=3)
    terminate(nc, iid)


def test_restart_readopts_running_vms(nc):
    a = run_instance(nc)
    nc.api.wait_state(a, "running")
    nc.api.wait_console(a, "GUEST-BOOT")
    nc.nc.kill()   # kill -9: no goodbye
    assert nh.domain_exists(a)
    nc.nc.start()
    d = nc.api.describe(a)
    assert d[a]["instanceState"]["name"] == "running"
    assert "GUEST-BOOT" in nc.api.console(a)
    # A leftover directory of an instance that never finished launching is
    # cleaned at start; it is not adopted.
    ghost = nh.new_instance_id()
    gdir = os.path.join(nc.env.home, "nc", "instances", ghost)
    os.makedirs(gdir)
    with open(os.path.join(gdir, "instance.xml"), "w") as f:
        f.write(open(os.path.join(nc.env.home, "nc", "instances", a, "instance.xml")).read()
                .replace(a, ghost).replace(">running<", ">pending<"))
    nc.nc.stop()
    nc.nc.start()
    assert nc.api.state(a) == "running"
    assert nc.api.state(ghost) is None
    assert not os.path.exists(gdir)
    terminate(nc, a)


def test_corrupt_plain_image_refused_not_cached(nc):
    s3 = nc.env.client(1)
    good = os.urandom(1 << 20)
    s3.put_object(Bucket=BUCKET, Key="bad/disk.img", Body=good)
    before = cache_files(nc)
    # The digest the CLC recorded is not what Walrus now holds.
    iid = run_instance(nc, image={"ImageId": "emi-" + nh.secrets.token_hex(4),
                                  "ImageLocation": BUCKET + "/bad/disk.img",
                                  "ImageDigest": _md5(b"something else")})
    d = nc.api.wait_state(iid, "terminated", timeout=60)
    assert "digest" in d["stateReason"].lower() or "md5" in d["stateReason"].lower(), d
    assert cache_files(nc) == before
    # A missing object says so.
    iid = run_instance(nc, image={"ImageId": "emi-" + nh.secrets.token_hex(4),
                                  "ImageLocation": BUCKET + "/no/such.img",
                                  "ImageDigest": _md5(b"x")})
    d = nc.api.wait_state(iid, "terminated", timeout=60)
    assert d["stateReason"].startswith("Server.InternalError"), d
    assert cache_files(nc) == before


def _bundle(nc, name, image_bytes, tamper_part=None, part_size=256 * 1024):
    tmp = tempfile.mkdtemp(dir=nc.tmp)
    cloud = Signer.__new__(Signer)
    cloud.cert = os.path.join(nc.env.home, "clc", "cloud-cert.pem")
    user = Signer(tmp, "bundler")
    manifest, parts = make_bundle(image_bytes, name, user, user, cloud, "123456789012",
                                  part_size=part_size)
    assert tamper_part is None or tamper_part < len(parts)
    s3 = nc.env.client(1)
    for i, (fname, data) in enumerate(parts):
        if tamper_part == i:
            data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
        s3.put_object(Bucket=BUCKET, Key="bundles/%s/%s" % (name, fname), Body=data)
    key = "bundles/%s/%s.manifest.xml" % (name, name)
    s3.put_object(Bucket=BUCKET, Key=key, Body=manifest)
    digest = manifest.decode().split('<digest algorithm="SHA1">')[1].split("<")[0]
    return "%s/%s" % (BUCKET, key), digest


def test_bundle_boots_and_tampered_bundle_refused(nc):
    with open(os.path.join(nc.guest, "rootdisk.img"), "rb") as f:
        root = f.read()
    loc, dig = _bundle(nc, "root-%s.img" % nh.secrets.token_hex(3), root)
    p = image_params(nc)
    p.update({"ImageId": "emi-" + nh.secrets.token_hex(4), "ImageLocation": loc,
              "ImageDigest": dig})
    iid = run_instance(nc, image=p)
    nc.api.wait_state(iid, "running", timeout=120)
    nc.api.wait_console(iid, "GUEST-DISK wrote")
    bases = [f for f in cache_files(nc) if dig in os.path.basename(f)]
    assert len(bases) == 1
    assert sha256_file(bases[0]) == hashlib.sha256(root).hexdigest()
    terminate(nc, iid)

    before = cache_files(nc)
    loc, dig = _bundle(nc, "bad-%s.img" % nh.secrets.token_hex(3), root, tamper_part=1,
                       part_size=4096)
    p.update({"ImageId": "emi-" + nh.secrets.token_hex(4), "ImageLocation": loc,
              "ImageDigest": dig})
    iid = run_instance(nc, image=p)
    d = nc.api.wait_state(iid, "terminated", timeout=120)
    assert "part 1" in d["stateReason"] and "digest" in d["stateReason"], d
    assert cache_files(nc) == before


def test_capacity_and_bad_requests(nc):
    with pytest.raises(nh.NcError) as e:
        run_instance(nc, VCpus=17)
    assert e.value.code in ("InvalidParameterValue", "InsufficientInstanceCapacity")
    with pytest.raises(nh.NcError) as e:
        run_instance(nc, MemoryMiB=8192)
    assert e.value.code == "InsufficientInstanceCapacity"
    assert e.value.status == 500
    for bad, code in (({"MacAddress": "ff:ff:ff:ff:ff:ff"}, "InvalidParameterValue"),
                      ({"Tap": "tap0"}, "InvalidParameterCombination"),
                      ({"ImageId": "eki-00000001"}, "InvalidParameterValue"),
                      ({"ImageLocation": "nobucket"}, "InvalidParameterValue"),
                      ({"InstanceId": "i-nothex"}, "InvalidInstanceID.Malformed")):
        with pytest.raises(nh.NcError) as e:
            run_instance(nc, **bad)
        assert e.value.code == code, (bad, e.value)
    with pytest.raises(nh.NcError) as e:
        nc.api.call("ncRunInstance", InstanceId=nh.new_instance_id())
    assert e.value.code == "MissingParameter"
    with pytest.raises(nh.NcError) as e:
        nc.api.call("ncTerminateInstance", InstanceId=nh.new_instance_id())
    assert e.value.code == "InvalidInstanceID.NotFound"
    with pytest.raises(nh.NcError) as e:
        nc.api.call("ncFlyToTheMoon")
    assert e.value.code == "InvalidAction"


def test_only_the_cc_key_is_accepted(nc):
    admin = nh.NcClient(nc.nc.endpoint, nc.env.ak1, nc.env.sk1)
    with pytest.raises(nh.NcError) as e:
        admin.call("ncDescribeResource")
    assert (e.value.status, e.value.code) == (403, "AccessDenied")
    user = nh.NcClient(nc.nc.endpoint, nc.env.ak2, nc.env.sk2)
    with pytest.raises(nh.NcError) as e:
        user.call("ncDescribeInstances")
    assert e.value.code == "AccessDenied"
    wrong = nh.NcClient(nc.nc.endpoint, nc.api.creds.access_key, "x" * 40)
    with pytest.raises(nh.NcError) as e:
        wrong.call("ncDescribeInstances")
    assert (e.value.status, e.value.code) == (401, "AuthFailure")
    status, root = nc.api.raw("ncDescribeInstances", sign=False)
    assert status == 401


def test_crashed_guest_reported_and_restartable(nc):
    """QEMU dies under a running guest (kill -9 of its process): libvirt
    reports it, the NC says crashed, and the instance can start again."""
    iid = run_instance(nc)
    nc.api.wait_state(iid, "running")
    nc.api.wait_console(iid, "GUEST-BOOT")
    with open("/run/libvirt/qemu/%s.pid" % iid) as f:
        qemu = int(f.read().strip())
    os.kill(qemu, 9)
    d = nc.api.wait_state(iid, "crashed", timeout=60)
    assert d["instanceState"]["code"] == "80"
    assert "crash" in d["stateReason"], d
    assert nc.sink.states(iid)[-1] == "crashed"
    nc.api.call("ncStartInstance", InstanceId=iid)
    nc.api.wait_state(iid, "running")
    nc.api.wait_console(iid, "GUEST-BOOT", count=2)
    terminate(nc, iid)
