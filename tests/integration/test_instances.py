"""Instances through every layer: awscli and boto3 -> CLC -> CC -> NC ->
libvirt/QEMU (TCG) guests, with the CC's data plane (dnsmasq, nftables,
the metadata redirect) in a network namespace (cloud_harness.py).

What is checked:
  - RunInstances of the registered test guest (kernel, ramdisk, machine
    image through Walrus), two instances with user data, a key pair, a
    security group and tags: pending at once, then running;
  - each guest's console (GetConsoleOutput, base64 of the real serial
    console) shows its DHCP address = DescribeInstances' private IP, its
    instance id and its user data, both read from the CLC's metadata
    service through the CC's proxy;
  - the metadata service answers EC2's paths (listings, public key,
    identity document) to the CC's key and to nobody else;
  - filters, tags, pagination, DescribeInstanceStatus, attributes;
  - reboot (a second boot on the console), stop and start;
  - an elastic IP: the outside namespace reaches the guest through it, not
    after DisassociateAddress;
  - kill -9 of the CLC: DescribeInstances is the same after a restart, the
    guests keep running and terminate cleanly;
  - terminate: the domains go, the instances show terminated;
  - refusals: bad image, type, counts, user data, capacity, zone, with
    nothing left behind;
  - several security groups per instance (names and ids, in order, a
    group named twice counted once, at most five): groupSet, filters,
    metadata, DependencyViolation for a group in any position; the
    outside reaches the guest on a port only its second group allows;
  - egress: RevokeSecurityGroupEgress of the default rule (all traffic to
    0.0.0.0/0) on both groups stops the guest's own connection to a host
    in the test's outside namespace, while replies to what is let in still
    pass and a reboot still gets DHCP and the metadata; an egress rule of
    the second group restores it.
"""

import base64
import json
import os
import re
import subprocess
import sys
import time

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

ZONE = "zone-a"


@pytest.fixture(scope="module")
def cloud():
    yield from ch.cloud_fixture(zones=((ZONE, 2),))


def fails(code, fn, *a, **kw):
    with pytest.raises(ClientError) as e:
        fn(*a, **kw)
    assert e.value.response["Error"]["Code"] == code, e.value.response
    return e.value


def instances(ec2, **kw):
    out = []
    for res in ec2.describe_instances(**kw)["Reservations"]:
        out.extend(res["Instances"])
    return out


def wait_state(ec2, ids, want, timeout=300):
    deadline = time.time() + timeout
    seen = {}
    while time.time() < deadline:
        seen = {i["InstanceId"]: i["State"]["Name"] for i in instances(ec2, InstanceIds=ids)}
        if all(seen.get(i) == want for i in ids):
            return
        time.sleep(1)
    raise AssertionError("wanted %s for %s, have %s" % (want, ids, seen))


def console(ec2, iid):
    # botocore decodes EC2's base64 (its after-call handler for
    # GetConsoleOutput); the raw answer is checked in test_console_raw.
    return ec2.get_console_output(InstanceId=iid).get("Output", "")


def wait_console(ec2, iid, pattern, timeout=300, count=1):
    """The count-th match of pattern on the console."""
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        # Whole lines only: the guest may be half-way through the last one.
        text = console(ec2, iid)
        text = text[:text.rfind("\n") + 1]
        found = list(re.finditer(pattern, text, re.M))
        if len(found) >= count:
            return found[count - 1], text
        time.sleep(2)
    raise AssertionError("%s: /%s/ x%d not on the console after %ds; it ends:\n%s"
                         % (iid, pattern, count, timeout, text[-3000:]))


def metadata(cloud, iid, path, key=None):
    """GET /services/metadata/<iid><path> signed as the CC's proxy signs."""
    home = cloud.env.home
    k = key or wh.parse_shell_vars(os.path.join(home, "cc", "clc-credentials"))
    url = "%s/services/metadata/%s%s" % (cloud.env.clc.endpoint, iid, path)
    req = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials(k["AWS_ACCESS_KEY_ID"], k["AWS_SECRET_ACCESS_KEY"]), "metadata",
              wh.REGION).add_auth(req)
    r = requests.get(url, headers=dict(req.headers), timeout=30)
    return r.status_code, r.content


SERVER_UD = """#!/bin/sh
printf '#!/bin/sh\\necho GUEST-NC-SERVED\\n' > /tmp/served
chmod +x /tmp/served
nc -ll -p 8080 -e /tmp/served &
echo GUEST-LISTENING
"""


def test_refusals_leave_nothing_behind(cloud):
    ec2 = cloud.env.ec2(2)
    before = instances(ec2)
    fails("InvalidAMIID.NotFound", ec2.run_instances, ImageId="ami-00000000000000000",
          MinCount=1, MaxCount=1)
    fails("InvalidAMIID.NotFound", ec2.run_instances, ImageId=cloud.kernel, MinCount=1,
          MaxCount=1)
    fails("InvalidParameterValue", ec2.run_instances, ImageId=cloud.image, MinCount=1,
          MaxCount=1, InstanceType="x9.huge")
    fails("InvalidParameterValue", ec2.run_instances, ImageId=cloud.image, MinCount=3,
          MaxCount=2)
    fails("InvalidParameterValue", ec2.run_instances, ImageId=cloud.image, MinCount=1,
          MaxCount=1, UserData="x" * 17000)
    fails("InvalidKeyPair.NotFound", ec2.run_instances, ImageId=cloud.image, MinCount=1,
          MaxCount=1, KeyName="no-such-key")
    fails("InvalidGroup.NotFound", ec2.run_instances, ImageId=cloud.image, MinCount=1,
          MaxCount=1, SecurityGroups=["no-such-group"])
    fails("InvalidParameterValue", ec2.run_instances, ImageId=cloud.image, MinCount=1,
          MaxCount=1, Placement={"AvailabilityZone": "zone-nowhere"})
    fails("DryRunOperation", ec2.run_instances, ImageId=cloud.image, MinCount=1, MaxCount=1,
          DryRun=True)
    # Two nodes of 2 cores each: 5 one-core instances never fit, and the
    # CLC keeps nothing of the attempt.
    e = fails("InsufficientInstanceCapacity", ec2.run_instances, ImageId=cloud.image,
              MinCount=5, MaxCount=5, InstanceType="m1.small")
    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert instances(ec2) == before
    fails("InvalidInstanceID.NotFound", ec2.describe_instances,
          InstanceIds=["i-0123456789abcdef0"])
    fails("InvalidInstanceID.NotFound", ec2.terminate_instances,
          InstanceIds=["i-0123456789abcdef0"])


def test_two_instances_end_to_end(cloud):
    env = cloud.env
    ec2 = env.ec2(2)
    kp = ec2.create_key_pair(KeyName="e2e-key")
    sg = ec2.create_security_group(GroupName="e2e-web", Description="e2e")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    res = ec2.run_instances(ImageId=cloud.image, MinCount=2, MaxCount=2, InstanceType="m1.small",
                            KeyName="e2e-key", SecurityGroups=["e2e-web"], UserData=SERVER_UD,
                            ClientToken="e2e-token-1",
                            TagSpecifications=[{"ResourceType": "instance",
                                                "Tags": [{"Key": "Name", "Value": "e2e"}]}])
    ids = [i["InstanceId"] for i in res["Instances"]]
    assert len(ids) == 2 and res["OwnerId"] == env.acct2
    assert res["Groups"] == [{"GroupId": sg, "GroupName": "e2e-web"}]
    for i in res["Instances"]:
        assert i["State"] == {"Code": 0, "Name": "pending"}
        assert i["ImageId"] == cloud.image and i["KernelId"] == cloud.kernel
        assert i["RamdiskId"] == cloud.ramdisk and i["KeyName"] == "e2e-key"
        assert i["Placement"]["AvailabilityZone"] == ZONE
        assert i["PrivateIpAddress"].startswith("10.101.")
        assert {"Key": "Name", "Value": "e2e"} in i["Tags"]
    assert sorted(i["AmiLaunchIndex"] for i in res["Instances"]) == [0, 1]
    # The same ClientToken answers the same reservation, launching nothing.
    again = ec2.run_instances(ImageId=cloud.image, MinCount=2, MaxCount=2,
                              ClientToken="e2e-token-1")
    assert again["ReservationId"] == res["ReservationId"]
    assert sorted(i["InstanceId"] for i in again["Instances"]) == sorted(ids)

    wait_state(ec2, ids, "running")
    by_id = {i["InstanceId"]: i for i in instances(ec2, InstanceIds=ids)}
    for iid in ids:
        m, text = wait_console(ec2, iid, r"^GUEST-UP ip=(\S+)")
        assert m.group(1) == by_id[iid]["PrivateIpAddress"], text[-2000:]
        m, text = wait_console(ec2, iid, r"^GUEST-IID (\S+)")
        assert m.group(1) == iid, text[-2000:]
        m, _ = wait_console(ec2, iid, r"^GUEST-USERDATA-B64 (\S+)")
        assert base64.b64decode(m.group(1)).decode() == SERVER_UD
        wait_console(ec2, iid, r"^GUEST-LISTENING")

    # The awscli sees the same (and decodes the console itself).
    out = json.loads(env.ec2cli("ec2", "describe-instances", "--instance-ids", ids[0],
                                profile="user2").stdout)
    assert out["Reservations"][0]["Instances"][0]["State"]["Name"] == "running"
    out = json.loads(env.ec2cli("ec2", "get-console-output", "--instance-id", ids[0],
                                profile="user2").stdout)
    assert "GUEST-IID %s" % ids[0] in out["Output"]

    # Filters, tags, pagination.
    assert {i["InstanceId"] for i in instances(ec2, Filters=[
        {"Name": "tag:Name", "Values": ["e2e"]},
        {"Name": "instance-state-name", "Values": ["running"]}])} == set(ids)
    one = by_id[ids[0]]
    assert [i["InstanceId"] for i in instances(ec2, Filters=[
        {"Name": "private-ip-address", "Values": [one["PrivateIpAddress"]]}])] == [ids[0]]
    assert {i["InstanceId"] for i in instances(ec2, Filters=[
        {"Name": "instance.group-name", "Values": ["e2e-web"]},
        {"Name": "key-name", "Values": ["e2e-key"]},
        {"Name": "image-id", "Values": [cloud.image]}])} == set(ids)
    assert instances(ec2, Filters=[{"Name": "instance-state-name", "Values": ["stopped"]}]) == []
    ec2.create_tags(Resources=[ids[1]], Tags=[{"Key": "role", "Value": "second"}])
    assert [i["InstanceId"] for i in instances(ec2, Filters=[
        {"Name": "tag:role", "Values": ["sec*"]}])] == [ids[1]]
    page = ec2.describe_instances(MaxResults=5)
    assert "NextToken" not in page
    # Another account sees none of them.
    assert not any(i["InstanceId"] in ids for i in instances(env.ec2(1)))
    fails("InvalidInstanceID.NotFound", env.ec2(1).terminate_instances, InstanceIds=[ids[0]])

    st = ec2.describe_instance_status(InstanceIds=ids)["InstanceStatuses"]
    assert {s["InstanceId"] for s in st} == set(ids)
    assert all(s["SystemStatus"]["Status"] == "ok" and s["InstanceState"]["Name"] == "running"
               for s in st)
    ud = ec2.describe_instance_attribute(InstanceId=ids[0], Attribute="userData")
    assert base64.b64decode(ud["UserData"]["Value"]).decode() == SERVER_UD
    assert ec2.describe_instance_attribute(InstanceId=ids[0], Attribute="instanceType")[
        "InstanceType"]["Value"] == "m1.small"

    # The metadata service: EC2's paths, to the CC's key only.
    iid = ids[0]
    assert metadata(cloud, iid, "/latest/meta-data/instance-id") == (200, iid.encode())
    status, listing = metadata(cloud, iid, "/latest/meta-data/")
    keys = listing.decode().split("\n")
    for k in ("ami-id", "instance-id", "local-ipv4", "mac", "placement/", "public-keys/",
              "block-device-mapping/", "reservation-id", "security-groups", "kernel-id"):
        assert k in keys, keys
    assert metadata(cloud, iid, "/latest/meta-data/local-ipv4")[1].decode() == \
        one["PrivateIpAddress"]
    assert metadata(cloud, iid, "/2009-04-04/meta-data/placement/availability-zone")[1] == \
        ZONE.encode()
    assert metadata(cloud, iid, "/latest/meta-data/public-keys/")[1] == b"0=e2e-key"
    pub = metadata(cloud, iid, "/latest/meta-data/public-keys/0/openssh-key")[1].decode()
    assert pub.startswith("ssh-rsa ")
    assert metadata(cloud, iid, "/latest/meta-data/security-groups")[1] == b"e2e-web"
    status, doc = metadata(cloud, iid, "/latest/dynamic/instance-identity/document")
    doc = json.loads(doc)
    assert doc["instanceId"] == iid and doc["accountId"] == env.acct2
    assert doc["availabilityZone"] == ZONE and doc["privateIp"] == one["PrivateIpAddress"]
    assert metadata(cloud, iid, "/latest/meta-data/no-such-key")[0] == 404
    assert metadata(cloud, "i-0123456789abcdef0", "/latest/meta-data/instance-id")[0] == 404
    user = {"AWS_ACCESS_KEY_ID": env.ak2, "AWS_SECRET_ACCESS_KEY": env.sk2}
    assert metadata(cloud, iid, "/latest/meta-data/instance-id", key=user)[0] == 403

    # Reboot: the guest boots a second time.
    ec2.reboot_instances(InstanceIds=[ids[1]])
    wait_console(ec2, ids[1], r"^GUEST-UP ip=", count=2)

    # Stop and start: the disk stays, the instance boots again.
    # Starting a running instance changes nothing (EC2 answers its state).
    r = ec2.start_instances(InstanceIds=[ids[1]])["StartingInstances"][0]
    assert r["CurrentState"]["Name"] == r["PreviousState"]["Name"] == "running"
    r = ec2.stop_instances(InstanceIds=[ids[1]])["StoppingInstances"][0]
    assert r["PreviousState"]["Name"] == "running"
    wait_state(ec2, [ids[1]], "stopped")
    ec2.modify_instance_attribute(InstanceId=ids[1], DisableApiTermination={"Value": True})
    # A new type while stopped: it starts with the type's memory (the VM
    # the node defines says so, and so does the guest's kernel).
    fails("IncorrectInstanceState", ec2.modify_instance_attribute, InstanceId=ids[0],
          InstanceType={"Value": "c1.medium"})
    ec2.modify_instance_attribute(InstanceId=ids[1], InstanceType={"Value": "c1.medium"})
    ec2.start_instances(InstanceIds=[ids[1]])
    wait_state(ec2, [ids[1]], "running")
    wait_console(ec2, ids[1], r"^GUEST-UP ip=", count=3)
    assert instances(ec2, InstanceIds=[ids[1]])[0]["InstanceType"] == "c1.medium"
    xml = nh.run(*nh.VIRSH, "dumpxml", ids[1]).stdout
    assert re.search(r"<memory unit='KiB'>524288</memory>", xml), xml[:600]
    m, _ = wait_console(ec2, ids[1], r"Memory: \d+K/(\d+)K available", count=3)
    assert 400 * 1024 < int(m.group(1)) <= 512 * 1024, m.group(0)
    fails("OperationNotPermitted", ec2.terminate_instances, InstanceIds=[ids[1]])
    ec2.modify_instance_attribute(InstanceId=ids[1], DisableApiTermination={"Value": False})

    # Terminate: the VMs go, the instances stay visible as terminated.
    r = ec2.terminate_instances(InstanceIds=ids)["TerminatingInstances"]
    assert {x["InstanceId"] for x in r} == set(ids)
    wait_state(ec2, ids, "terminated")
    deadline = time.time() + 60
    while time.time() < deadline and any(nh.domain_exists(i) for i in ids):
        time.sleep(1)
    assert not any(nh.domain_exists(i) for i in ids)
    assert metadata(cloud, iid, "/latest/meta-data/instance-id")[0] == 404
    # The group is free again.
    ec2.delete_security_group(GroupId=sg)
    ec2.delete_key_pair(KeyName=kp["KeyName"])


def test_elastic_ip_end_to_end(cloud):
    env = cloud.env
    ec2 = env.ec2(2)
    cl = cloud.clusters[0]
    sg = ec2.create_security_group(GroupName="eip-web", Description="eip")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
         "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}])
    iid = ec2.run_instances(ImageId=cloud.image, MinCount=1, MaxCount=1,
                            SecurityGroupIds=[sg], UserData=SERVER_UD)["Instances"][0]["InstanceId"]
    wait_state(ec2, [iid], "running")
    wait_console(ec2, iid, r"^GUEST-LISTENING")

    a = ec2.allocate_address(Domain="standard")
    ip = a["PublicIp"]
    assert ip.startswith("192.0.2.") and a["AllocationId"].startswith("eipalloc-")
    assert [x["PublicIp"] for x in ec2.describe_addresses()["Addresses"]] == [ip]
    fails("AuthFailure", env.ec2(1).associate_address, PublicIp=ip, InstanceId=iid)
    assert "GUEST-NC-SERVED" not in cl.net.outside_get(ip, 8080)
    assoc = ec2.associate_address(PublicIp=ip, InstanceId=iid)["AssociationId"]
    assert assoc.startswith("eipassoc-")
    assert "GUEST-NC-SERVED" in cl.net.outside_get(ip, 8080)
    inst = instances(ec2, InstanceIds=[iid])[0]
    assert inst["PublicIpAddress"] == ip
    assert [i["InstanceId"] for i in instances(ec2, Filters=[
        {"Name": "ip-address", "Values": [ip]}])] == [iid]
    d = ec2.describe_addresses(PublicIps=[ip])["Addresses"][0]
    assert d["InstanceId"] == iid and d["AssociationId"] == assoc
    assert metadata(cloud, iid, "/latest/meta-data/public-ipv4")[1] == ip.encode()

    ec2.disassociate_address(PublicIp=ip)
    assert "GUEST-NC-SERVED" not in cl.net.outside_get(ip, 8080)
    assert "PublicIpAddress" not in instances(ec2, InstanceIds=[iid])[0]
    ec2.release_address(PublicIp=ip)
    assert ec2.describe_addresses()["Addresses"] == []
    fails("InvalidAddress.NotFound", ec2.describe_addresses, PublicIps=[ip])
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, [iid], "terminated")
    fails("IncorrectInstanceState", ec2.stop_instances, InstanceIds=[iid])


def test_clc_kill9_restart(cloud):
    env = cloud.env
    ec2 = env.ec2(2)
    ids = [i["InstanceId"] for i in ec2.run_instances(ImageId=cloud.image, MinCount=2,
                                                      MaxCount=2)["Instances"]]
    wait_state(ec2, ids, "running")
    before = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    env.clc.kill()
    env.clc.start()
    after = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    assert after == before
    for iid in ids:
        assert nh.domain_exists(iid)
        wait_console(ec2, iid, r"^GUEST-IID %s" % iid)
    ec2.terminate_instances(InstanceIds=ids)
    wait_state(ec2, ids, "terminated")
    deadline = time.time() + 60
    while time.time() < deadline and any(nh.domain_exists(i) for i in ids):
        time.sleep(1)
    assert not any(nh.domain_exists(i) for i in ids)


# ---------------------------------------------------------------------------
# several security groups per instance, and egress

OUT_IP, OUT_PORT = "192.0.2.2", 9090

# Serves 8080 and, each round, connects to the outside host.
GROUPS_UD = """#!/bin/sh
printf '#!/bin/sh\\necho GUEST-NC-SERVED\\n' > /tmp/served
chmod +x /tmp/served
nc -ll -p 8080 -e /tmp/served &
echo GUEST-LISTENING
n=0
while :; do
    n=$((n + 1))
    if echo x | nc -w 2 OUT_HOST OUT_PORT 2>/dev/null | grep -q OUTSIDE-SERVED; then r=ok; else r=fail; fi
    echo "GUEST-OUT $n $r"
    sleep 1
done
""".replace("OUT_HOST", OUT_IP).replace("OUT_PORT", str(OUT_PORT))


def wait_out(ec2, iid, want, after=0, timeout=180):
    """Two rounds in a row of the guest's connection to the outside host,
    found on the console after offset `after`, with result want; the
    console's length then."""
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        text = console(ec2, iid)
        text = text[:text.rfind("\n") + 1]
        seen = re.findall(r"^GUEST-OUT \d+ (ok|fail)\s*$", text[after:], re.M)
        if seen[-2:] == [want, want]:
            return len(text)
        time.sleep(2)
    raise AssertionError("%s: wanted two '%s' after offset %d, saw %s" % (iid, want, after,
                                                                       seen[-6:]))


def test_several_groups_and_egress(cloud):
    env = cloud.env
    ec2 = env.ec2(2)
    cl = cloud.clusters[0]
    cc = cloud.cc_api(cl)
    a = ec2.create_security_group(GroupName="multi-a", Description="first")["GroupId"]
    b = ec2.create_security_group(GroupName="multi-b", Description="second")["GroupId"]
    # Only the second group lets the outside in.
    ec2.authorize_security_group_ingress(GroupId=b, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
         "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}])
    extra = [ec2.create_security_group(GroupName="multi-x%d" % k, Description="x")["GroupId"]
             for k in range(4)]
    before = instances(ec2)
    # Six distinct groups are one too many; nothing is left of the attempt.
    fails("SecurityGroupsPerInstanceLimitExceeded", ec2.run_instances, ImageId=cloud.image,
          MinCount=1, MaxCount=1, SecurityGroupIds=[a, b] + extra)
    fails("InvalidGroup.NotFound", ec2.run_instances, ImageId=cloud.image, MinCount=1,
          MaxCount=1, SecurityGroups=["multi-a", "no-such-group"])
    assert instances(ec2) == before
    for g in extra:
        ec2.delete_security_group(GroupId=g)

    out = nh.OutsideHost(cl.net.ns_out, OUT_IP, OUT_PORT)
    ip = None
    try:
        # Names first, then ids, in order; b named twice counts once.
        res = ec2.run_instances(ImageId=cloud.image, MinCount=1, MaxCount=1,
                                SecurityGroups=["multi-a", "multi-b"], SecurityGroupIds=[b],
                                UserData=GROUPS_UD)
        iid = res["Instances"][0]["InstanceId"]
        want = [{"GroupId": a, "GroupName": "multi-a"}, {"GroupId": b, "GroupName": "multi-b"}]
        assert res["Groups"] == want
        assert res["Instances"][0]["SecurityGroups"] == want
        inst = instances(ec2, InstanceIds=[iid])[0]
        assert inst["SecurityGroups"] == want
        for name, value in (("instance.group-name", "multi-b"), ("group-id", b),
                            ("instance.group-id", a), ("group-name", "multi-a")):
            assert [i["InstanceId"] for i in instances(ec2, Filters=[
                {"Name": name, "Values": [value]}])] == [iid], name
        # In use in any position: neither group can go.
        for g in (a, b):
            fails("DependencyViolation", ec2.delete_security_group, GroupId=g)
        # The cluster has both groups, egress included; the network is a's.
        nets = {g["groupId"]: g for g in cc.call("ccDescribeNetworks")["groupSet"]}
        assert "cidr" in nets[a] and "cidr" not in nets[b]
        import ipaddress
        assert ipaddress.ip_address(inst["PrivateIpAddress"]) in ipaddress.ip_network(
            nets[a]["cidr"])
        for g in (a, b):
            assert nets[g]["egress"] == "rules"
            assert [(r["protocol"], r.get("cidrIp")) for r in nets[g]["egressRuleSet"]] == \
                [("all", "0.0.0.0/0")]
        assert [(r["protocol"], r["fromPort"]) for r in nets[b]["ruleSet"]] == [("tcp", "8080")]

        wait_state(ec2, [iid], "running")
        wait_console(ec2, iid, r"^GUEST-LISTENING")
        assert metadata(cloud, iid, "/latest/meta-data/security-groups")[1] == \
            b"multi-a\nmulti-b"
        # An elastic IP: the guest's connections leave from it, and the
        # outside comes in through it, on the port b allows.
        ip = ec2.allocate_address(Domain="standard")["PublicIp"]
        ec2.associate_address(PublicIp=ip, InstanceId=iid)
        assert "GUEST-NC-SERVED" in cl.net.outside_get(ip, 8080)
        at = wait_out(ec2, iid, "ok")

        # Revoking the default egress rule of both groups: nothing the
        # guest starts gets out (one group alone would still let it).
        everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        ec2.revoke_security_group_egress(GroupId=a, IpPermissions=everything)
        wait_out(ec2, iid, "ok", after=at, timeout=60)
        ec2.revoke_security_group_egress(GroupId=b, IpPermissions=everything)
        at = wait_out(ec2, iid, "fail", after=at)
        nets = {g["groupId"]: g for g in cc.call("ccDescribeNetworks")["groupSet"]}
        assert nets[a]["egress"] == nets[b]["egress"] == "rules"
        assert not nets[a]["egressRuleSet"] and not nets[b]["egressRuleSet"]
        # What is let in is still answered (replies are not egress).
        assert "GUEST-NC-SERVED" in cl.net.outside_get(ip, 8080)
        # DHCP and the metadata service do not depend on egress rules.
        ec2.reboot_instances(InstanceIds=[iid])
        m, text = wait_console(ec2, iid, r"^GUEST-UP ip=(\S+)", count=2)
        assert m.group(1) == inst["PrivateIpAddress"]
        wait_console(ec2, iid, r"^GUEST-IID %s" % iid, count=2)
        at = wait_out(ec2, iid, "fail", after=len(text))

        # An egress rule of the second group lets it out again, to there.
        ec2.authorize_security_group_egress(GroupId=b, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": OUT_PORT, "ToPort": OUT_PORT,
             "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}])
        wait_out(ec2, iid, "ok", after=at)
        ec2.terminate_instances(InstanceIds=[iid])
        wait_state(ec2, [iid], "terminated")
    finally:
        out.stop()
        if ip:
            ec2.release_address(PublicIp=ip)
    # Free again once the instance is gone.
    ec2.delete_security_group(GroupId=a)
    ec2.delete_security_group(GroupId=b)
