"""Several hosts simulated on one: the CLC and Walrus, two cluster
controllers (two availability zones, each its own process, home,
configuration and data-plane namespace) and three node controllers (two in
zone-a, one in zone-b), every guest a real TCG VM (cloud_harness.py).

Checked:
  - instances land in the zone asked for, and spread over zone-a's nodes
    by its policy (ROUNDROBIN: two instances, two nodes);
  - without a zone, the CLC picks one that has capacity;
  - a NC killed with -9: its cluster marks the node down and the CLC shows
    its instance as impaired (DescribeInstanceStatus), not gone; the other
    instances keep running and answering; the NC restarted re-adopts its
    VM and the instance is ok again;
  - everything terminates cleanly.
"""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloud_harness as ch  # noqa: E402
import nc_harness as nh  # noqa: E402
from test_instances import instances, wait_console, wait_state  # noqa: E402


@pytest.fixture(scope="module")
def cloud():
    yield from ch.cloud_fixture(zones=(("zone-a", 2, "ROUNDROBIN"), ("zone-b", 1, "GREEDY")))


def node_of(cloud, iid):
    """The node an instance's cluster placed it on (the CC's own answer)."""
    for cl in cloud.clusters:
        items = cloud.cc_api(cl).call("ccDescribeInstances").get("instancesSet")
        items = items if isinstance(items, list) else []
        for it in items:
            if it["instanceId"] == iid:
                return cl, it["node"]
    return None, None


def status(ec2, iid):
    st = ec2.describe_instance_status(InstanceIds=[iid], IncludeAllInstances=True)
    return st["InstanceStatuses"][0]


def test_zones_placement_and_a_dead_node(cloud):
    ec2 = cloud.env.ec2(2)
    zones = {z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    assert {"zone-a", "zone-b"} <= zones

    a = ec2.run_instances(ImageId=cloud.image, MinCount=2, MaxCount=2,
                          Placement={"AvailabilityZone": "zone-a"})["Instances"]
    b = ec2.run_instances(ImageId=cloud.image, MinCount=1, MaxCount=1,
                          Placement={"AvailabilityZone": "zone-b"})["Instances"]
    ids_a = [i["InstanceId"] for i in a]
    ib = b[0]["InstanceId"]
    assert all(i["Placement"]["AvailabilityZone"] == "zone-a" for i in a)
    assert b[0]["Placement"]["AvailabilityZone"] == "zone-b"
    assert all(i["PrivateIpAddress"].startswith("10.101.") for i in a)
    assert b[0]["PrivateIpAddress"].startswith("10.102.")
    wait_state(ec2, ids_a + [ib], "running")
    nodes_a = {node_of(cloud, i)[1] for i in ids_a}
    assert nodes_a == {"zone-a-node1", "zone-a-node2"}, nodes_a
    assert node_of(cloud, ib)[1] == "zone-b-node1"
    for iid in ids_a + [ib]:
        wait_console(ec2, iid, r"^GUEST-IID %s" % iid)

    # zone-b's one node has 2 cores and runs one instance: a request for
    # two in zone-b does not fit, and nothing is left of it.
    with pytest.raises(Exception) as e:
        ec2.run_instances(ImageId=cloud.image, MinCount=2, MaxCount=2,
                          Placement={"AvailabilityZone": "zone-b"})
    assert "InsufficientInstanceCapacity" in str(e.value)
    assert len(instances(ec2)) == 3

    # Kill zone-a's node that runs ids_a[0].
    cl, node = node_of(cloud, ids_a[0])
    victim = next(n for n in cl.ncs if n.name == node)
    other = next(i for i in ids_a if node_of(cloud, i)[1] != node)
    victim.kill()
    deadline = time.time() + 60
    while time.time() < deadline and status(ec2, ids_a[0])["SystemStatus"]["Status"] != "impaired":
        time.sleep(1)
    st = status(ec2, ids_a[0])
    assert st["SystemStatus"]["Status"] == "impaired", st
    # Not silently dropped: still listed, in its last known state.
    assert instances(ec2, InstanceIds=[ids_a[0]])[0]["State"]["Name"] == "running"
    # The rest keep running and answering.
    for iid in (other, ib):
        assert status(ec2, iid)["SystemStatus"]["Status"] == "ok"
        text = ec2.get_console_output(InstanceId=iid)["Output"]
        assert "GUEST-IID %s" % iid in text

    # The node comes back (re-adopting its VM): ok again.
    victim.start()
    deadline = time.time() + 60
    while time.time() < deadline and status(ec2, ids_a[0])["SystemStatus"]["Status"] != "ok":
        time.sleep(1)
    assert status(ec2, ids_a[0])["SystemStatus"]["Status"] == "ok"

    all_ids = ids_a + [ib]
    ec2.terminate_instances(InstanceIds=all_ids)
    wait_state(ec2, all_ids, "terminated")
    deadline = time.time() + 60
    while time.time() < deadline and any(nh.domain_exists(i) for i in all_ids):
        time.sleep(1)
    assert not any(nh.domain_exists(i) for i in all_ids)
