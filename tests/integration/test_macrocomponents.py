"""MacroComponents through the public API: boto3 -> CLC -> CC -> NC, where
the node forks a booted template VM copy-on-write instead of booting
(nc/mc.c), with the CC's real dnsmasq and metadata redirect
(cloud_harness.py).

What is checked:
  - RegisterImage with MacroComponent=true, DescribeImageAttribute and
    ModifyImageAttribute of macroComponent (and their refusals);
  - RunInstances x5 of the image: all running; each console shows it
    resumed from the template's ready point (the template's boot id, no
    boot of its own), its own DHCP address (= DescribeInstances), its own
    instance id from the metadata service;
  - forks are independent: what one writes to its memory (/tmp) and disk
    is not seen by a fork started after it;
  - terminate: every fork goes, each alone;
  - CloneInstances of a running fork: the clones start from its memory as
    it is (what its user data left), each with its own NIC, address, id
    and memory; the source runs on; refusals;
  - DeregisterImage with forks running: they run on, the node keeps the
    template until the last is gone, then removes it, its RAM file and
    its pool.
"""

import glob
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloud_harness as ch  # noqa: E402
import nc_harness as nh  # noqa: E402
import walrus_harness as wh  # noqa: E402
from test_instances import instances, wait_state, wait_console  # noqa: E402

ZONE = "zone-mc"


@pytest.fixture(scope="module")
def cloud():
    # One node with room for the forks: they are charged their private
    # pages, but each still takes a core of the node's count.
    yield from ch.cloud_fixture(zones=((ZONE, 1),), nc_env={
        "OVERCAST_NC_MAX_CORES": "8", "OVERCAST_NC_MAX_MEM_MB": "4096"})


def query(cloud, params, who=1):
    """A raw EC2 Query call (for the attribute boto3's model does not know)."""
    ak, sk = cloud.env.keys(who)
    body = dict({"Version": "2016-11-15"}, **params)
    req = AWSRequest(method="POST", url=cloud.env.clc.endpoint + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(ak, sk), "ec2", wh.REGION).add_auth(req)
    p = req.prepare()
    r = requests.post(p.url, data=p.body, headers=dict(p.headers), timeout=30)
    return r.status_code, r.text


def node_controller(cloud):
    """The zone's node as the admin API (DescribeNodeControllers) shows it."""
    ak, sk = cloud.env.keys(1)
    body = {"Action": "DescribeNodeControllers", "Version": "eucalyptus", "ByPartition": ZONE}
    req = AWSRequest(method="POST", url=cloud.env.clc.endpoint + "/services/Empyrean",
                     data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials(ak, sk), "euca", wh.REGION).add_auth(req)
    p = req.prepare()
    r = requests.post(p.url, data=p.body, headers=dict(p.headers), timeout=60)
    assert r.status_code == 200, r.text
    items = ET.fromstring(r.content).findall("{*}nodeControllers/{*}item")
    assert len(items) == 1, r.text
    node = {e.tag.split("}")[1]: e.text for e in items[0]}
    node["instances"] = sorted(e.text for e in items[0].findall(".//{*}instanceId"))
    return node


def mc_attr(cloud, image_id):
    st, text = query(cloud, {"Action": "DescribeImageAttribute", "ImageId": image_id,
                             "Attribute": "macroComponent"})
    assert st == 200, text
    return re.search(r"<macroComponent><value>([^<]*)</value>", text).group(1)


@pytest.fixture(scope="module")
def mc_image(cloud):
    ec2 = cloud.env.ec2(1)
    iid = ch.register(ec2, "machine", "%s/rootdisk.img" % ch.IMAGE_BUCKET, "mc-guest",
                      extra={"MacroComponent": "true"}, KernelId=cloud.kernel,
                      RamdiskId=cloud.ramdisk)
    ec2.modify_image_attribute(ImageId=iid, LaunchPermission={"Add": [{"Group": "all"}]})
    return iid


def test_image_attribute(cloud, mc_image):
    ec2 = cloud.env.ec2(1)
    assert mc_attr(cloud, mc_image) == "MC-READY"
    assert mc_attr(cloud, cloud.image) == "false"
    # boto3 sends it with its own model: Attribute + Value.
    ec2.modify_image_attribute(ImageId=cloud.image, Attribute="macroComponent", Value="+30")
    assert mc_attr(cloud, cloud.image) == "+30"
    ec2.modify_image_attribute(ImageId=cloud.image, Attribute="macroComponent", Value="false")
    assert mc_attr(cloud, cloud.image) == "false"
    for bad in ("MC READY", "+0", "+99999", ""):
        with pytest.raises(ClientError) as e:
            ec2.modify_image_attribute(ImageId=cloud.image, Attribute="macroComponent",
                                       Value=bad)
        assert e.value.response["Error"]["Code"] in ("InvalidParameterValue",
                                                     "MissingParameter"), bad
    with pytest.raises(ClientError) as e:
        ec2.modify_image_attribute(ImageId=cloud.kernel, Attribute="macroComponent",
                                   Value="true")
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    # Only the owner changes it.
    with pytest.raises(ClientError) as e:
        cloud.env.ec2(2).modify_image_attribute(ImageId=mc_image, Attribute="macroComponent",
                                                Value="false")
    assert e.value.response["Error"]["Code"] in ("AuthFailure", "InvalidAMIID.Unavailable",
                                                 "UnauthorizedOperation")
    assert mc_attr(cloud, mc_image) == "MC-READY"
    with pytest.raises(ClientError) as e:
        ch.register(ec2, "kernel", "%s/vmlinuz" % ch.IMAGE_BUCKET, "mc-kernel",
                    extra={"MacroComponent": "true"})
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"


def node_home(cloud):
    return cloud.clusters[0].ncs[0].home


def template_boot_id(cloud):
    """The boot ids the node's templates printed at their ready point."""
    ids = set()
    tdir = os.path.join(node_home(cloud), "nc", "templates")
    for key in os.listdir(tdir):
        if key.endswith(".tmp"):
            continue
        text = open(os.path.join(tdir, key, "console.log"), errors="replace").read()
        m = re.search(r"^MC-READY boot=(\S+)", text, re.M)
        if m:
            ids.add(m.group(1))
    return ids


def test_run_five_forks(cloud, mc_image):
    ec2 = cloud.env.ec2(2)
    r = ec2.run_instances(ImageId=mc_image, MinCount=5, MaxCount=5, InstanceType="t1.micro")
    ids = [i["InstanceId"] for i in r["Instances"]]
    assert all(i["State"]["Name"] == "pending" for i in r["Instances"])
    wait_state(ec2, ids, "running", timeout=300)
    boot_ids = template_boot_id(cloud)
    assert len(boot_ids) == 1, boot_ids
    by_id = {i["InstanceId"]: i for i in instances(ec2, InstanceIds=ids)}
    ips = set()
    for iid in ids:
        m, text = wait_console(ec2, iid, r"^GUEST-IID (\S+)\s*$", timeout=300)
        assert m.group(1) == iid, text[-2000:]
        assert "GUEST-BOOT" not in text, "%s booted instead of resuming" % iid
        resumed = re.search(r"^MC-RESUMED boot=(\S+)", text, re.M)
        assert resumed and resumed.group(1) in boot_ids, text[-2000:]
        ip = re.search(r"^GUEST-UP ip=(\S+)\s*$", text, re.M).group(1)
        assert ip == by_id[iid]["PrivateIpAddress"], (ip, by_id[iid])
        ips.add(ip)
    assert len(ips) == 5
    # Five forks, one template, no libvirt domain: QEMUs of the node's own.
    forks = [n for _, n in nh.qemu_pids(os.path.join(node_home(cloud), "nc"))]
    assert sorted(forks) == sorted(ids)
    assert not [d for d in ch.running_domains() if d in ids]
    # The cluster places by what the forks cost (the node's measure: private
    # pages, the template once), not by 5 x 256 MiB; cores stay as given.
    deadline, node = time.time() + 60, None
    while time.time() < deadline:
        node = node_controller(cloud)
        if int(node["memoryFreeMiB"]) > 4096 - 2 * 256:
            break
        time.sleep(1)
    assert int(node["memoryFreeMiB"]) > 4096 - 2 * 256, node
    assert node["coresFree"] == "3" and node["instances"] == sorted(ids), node

    # Terminate one: the others run on.
    ec2.terminate_instances(InstanceIds=ids[:1])
    wait_state(ec2, ids[:1], "terminated", timeout=120)
    assert {i["State"]["Name"] for i in instances(ec2, InstanceIds=ids[1:])} == {"running"}
    ec2.terminate_instances(InstanceIds=ids[1:])
    wait_state(ec2, ids[1:], "terminated", timeout=120)
    assert not nh.qemu_pids(os.path.join(node_home(cloud), "nc"))


WRITER = """#!/bin/sh
echo secret-of-the-writer > /tmp/mark
printf 'WRITER-DISK' | dd of=/dev/vda bs=512 seek=40000 conv=notrunc 2>/dev/null
sync
echo WRITER-DONE
"""

READER = """#!/bin/sh
if [ -e /tmp/mark ]; then echo "READER-SAW-MEM $(cat /tmp/mark)"; else echo READER-MEM-CLEAN; fi
echo 3 > /proc/sys/vm/drop_caches
d=$(dd if=/dev/vda bs=512 skip=40000 count=1 2>/dev/null | head -c 11)
if [ "$d" = WRITER-DISK ]; then echo READER-SAW-DISK; else echo READER-DISK-CLEAN; fi
"""


def test_forks_are_independent(cloud, mc_image):
    ec2 = cloud.env.ec2(2)
    w = ec2.run_instances(ImageId=mc_image, MinCount=1, MaxCount=1, InstanceType="t1.micro",
                          UserData=WRITER)["Instances"][0]["InstanceId"]
    wait_console(ec2, w, r"^WRITER-DONE", timeout=300)
    rd = ec2.run_instances(ImageId=mc_image, MinCount=1, MaxCount=1, InstanceType="t1.micro",
                           UserData=READER)["Instances"][0]["InstanceId"]
    _, text = wait_console(ec2, rd, r"^READER-DISK-(CLEAN|SAW)", timeout=300)
    assert re.search(r"^READER-MEM-CLEAN", text, re.M), text[-1500:]
    assert re.search(r"^READER-DISK-CLEAN", text, re.M), text[-1500:]
    ec2.terminate_instances(InstanceIds=[w, rd])
    wait_state(ec2, [w, rd], "terminated", timeout=120)


SOURCE_UD = """#!/bin/sh
echo before-clone > /tmp/mark
echo SRC-READY
"""


def test_clone_instances(cloud, mc_image):
    ec2 = cloud.env.ec2(2)
    src = ec2.run_instances(ImageId=mc_image, MinCount=1, MaxCount=1, InstanceType="t1.micro",
                            UserData=SOURCE_UD)["Instances"][0]["InstanceId"]
    wait_console(ec2, src, r"^SRC-READY", timeout=300)
    st, text = query(cloud, {"Action": "CloneInstances", "InstanceId": src, "Count": "2"}, who=2)
    assert st == 200, text
    clones = re.findall(r"<instanceId>(i-[0-9a-f]+)</instanceId>", text)
    assert len(clones) == 2 and src not in clones, text
    assert "<reservationId>r-" in text
    wait_state(ec2, clones, "running", timeout=300)
    by_id = {i["InstanceId"]: i for i in instances(ec2, InstanceIds=clones + [src])}
    ips = {by_id[src]["PrivateIpAddress"]}
    for iid in clones:
        m, text = wait_console(ec2, iid, r"^MC-MARK (\S+)\s*$", timeout=300)
        # It started from the source as it was (its /tmp/mark), not from
        # the template, and never booted.
        assert re.search(r"^MC-CLONED nic=\S+ inherited=before-clone", text, re.M), text[-2000:]
        assert "GUEST-BOOT" not in text and "MC-RESUMED" not in text
        # Its own address, id and memory: what it wrote is what it reads.
        ip = re.findall(r"^GUEST-UP ip=(\S+)\s*$", text, re.M)[-1]
        assert ip == by_id[iid]["PrivateIpAddress"], (ip, by_id[iid])
        assert re.findall(r"^GUEST-IID (\S+)\s*$", text, re.M)[-1] == iid
        assert m.group(1) == iid
        assert by_id[iid]["ImageId"] == mc_image
        assert by_id[iid]["InstanceType"] == "t1.micro"
        ips.add(ip)
    assert len(ips) == 3
    # The source was only paused: it runs on, with nothing of the clones.
    _, text = wait_console(ec2, src, r"^SRC-READY", timeout=10)
    assert "MC-CLONED" not in text
    assert {i["State"]["Name"] for i in instances(ec2, InstanceIds=[src])} == {"running"}
    # Refusals.
    st, text = query(cloud, {"Action": "CloneInstances", "InstanceId": "i-0123456789abcdef0"},
                     who=2)
    assert st == 400 and "InvalidInstanceID.NotFound" in text, text
    st, text = query(cloud, {"Action": "CloneInstances", "InstanceId": src, "Count": "0"}, who=2)
    assert st == 400 and "InvalidParameterValue" in text, text
    st, text = query(cloud, {"Action": "CloneInstances", "InstanceId": src}, who=1)
    assert st == 400 and "InvalidInstanceID.NotFound" in text, text   # not the owner
    # The admin CLI reaches it too (as the owner, with the owner's keys).
    ak, sk = cloud.env.keys(2)
    p = subprocess.run([os.path.join(wh.build_dir(), "euca-compat", "overcast-admin"),
                        "--home", cloud.env.home, "--url",
                        cloud.env.ec2_endpoint.rstrip("/") + "/services/Euare",
                        "clone-instances", src, "1"], capture_output=True, text=True,
                       timeout=300, env=wh.clean_env({"AWS_ACCESS_KEY_ID": ak,
                                                      "AWS_SECRET_ACCESS_KEY": sk}))
    assert p.returncode == 0, p.stdout + p.stderr
    cli = re.findall(r"^INSTANCE\t(i-[0-9a-f]+)$", p.stdout, re.M)
    assert len(cli) == 1 and cli[0] not in clones + [src], p.stdout
    m, text = wait_console(ec2, cli[0], r"^MC-MARK (\S+)\s*$", timeout=300)
    assert m.group(1) == cli[0] and "inherited=before-clone" in text
    clones += cli
    ec2.terminate_instances(InstanceIds=clones + [src])
    wait_state(ec2, clones + [src], "terminated", timeout=120)


def test_deregister_keeps_forks_then_removes_template(cloud, mc_image):
    # Last in this module: it deregisters the image.
    ec2 = cloud.env.ec2(2)
    ids = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=mc_image, MinCount=2, MaxCount=2, InstanceType="t1.micro")["Instances"]]
    wait_state(ec2, ids, "running", timeout=300)
    for iid in ids:
        wait_console(ec2, iid, r"^GUEST-IID ", timeout=300)
    tdir = os.path.join(node_home(cloud), "nc", "templates")
    # The image's template (clone templates of an earlier test stand on it:
    # they go with it).
    keys = [k for k in os.listdir(tdir) if not k.endswith(".tmp") and
            not os.path.exists(os.path.join(tdir, k, "parent"))]
    assert len(keys) == 1
    cloud.env.ec2(1).deregister_image(ImageId=mc_image)
    # The node was told: the template is doomed, and stays while forks use it.
    assert os.path.exists(os.path.join(tdir, keys[0], "doomed"))
    time.sleep(6)   # more than a sweep
    assert {i["State"]["Name"] for i in instances(ec2, InstanceIds=ids)} == {"running"}
    assert os.path.isdir(os.path.join(tdir, keys[0]))
    ec2.terminate_instances(InstanceIds=ids[:1])
    wait_state(ec2, ids[:1], "terminated", timeout=120)
    time.sleep(6)
    assert os.path.isdir(os.path.join(tdir, keys[0]))
    assert {i["State"]["Name"] for i in instances(ec2, InstanceIds=ids[1:])} == {"running"}
    ec2.terminate_instances(InstanceIds=ids[1:])
    wait_state(ec2, ids[1:], "terminated", timeout=120)
    deadline = time.time() + 30
    while time.time() < deadline and os.path.isdir(os.path.join(tdir, keys[0])):
        time.sleep(0.5)
    assert not os.path.isdir(os.path.join(tdir, keys[0]))
    assert not os.path.exists(os.path.join(cloud.ram_dir, keys[0] + ".ram"))
    assert not [k for k in os.listdir(tdir) if not k.endswith(".tmp")]
    # Its pool went with it.
    assert not glob.glob(os.path.join(node_home(cloud), "nc", "mcpool", "mcpool-%s-*" % keys[0]))
