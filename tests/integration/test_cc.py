"""overcast-cc with two real overcast-nc nodes (one libvirtd, TCG VMs) on a
test bridge: node registration and health, placement policies, capacity
reserved at placement (no overcommit under concurrent requests), private
addresses and MACs from the group's network, events from the nodes, the
CC's own restart, and who may call.

Networking inside the guests (the CC's dnsmasq, bridges and nftables) is
not exercised here yet: guests boot with oc.nonet-free kernels and simply
wait for DHCP; what is checked is what the CC decided and the nodes did.
"""

import hashlib
import os
import shutil
import sys
import tempfile
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nc_harness as nh  # noqa: E402
import walrus_harness as wh  # noqa: E402

BUCKET = "cc-images"


class Cluster:
    pass


def _nc_env(c, home, name):
    return {"OVERCAST_NC_NAME": name, "OVERCAST_CLC_URL": c.env.clc.endpoint, "OVERCAST_WALRUS_URL": c.env.endpoint,
            "OVERCAST_HYPERVISOR": "qemu", "OVERCAST_NC_SHUTDOWN_TIMEOUT": "2",
            "OVERCAST_NC_MAX_CORES": "2", "OVERCAST_NC_MAX_MEM_MB": "1024",
            "OVERCAST_NC_MAX_DISK_GB": "50", "OVERCAST_CC_URL": c.cc.endpoint}


def start_cc(c, policy):
    c.cc = nh.Cc(c.env.home, port=c.cc_port, env={
        "OVERCAST_CLC_URL": c.env.clc.endpoint, "OVERCAST_SCHEDPOLICY": policy,
        "OVERCAST_VNET_BRIDGE": c.net.bridge, "OVERCAST_CC_POLL_INTERVAL": "1",
        "OVERCAST_CC_NODE_DOWN_AFTER": "2", "OVERCAST_VNET_SUBNET": "10.101.0.0",
        "OVERCAST_VNET_NETMASK": "255.255.0.0", "OVERCAST_VNET_ADDRSPERNET": "32",
        "OVERCAST_VNET_PUBLICIPS": "192.0.2.10-192.0.2.20",
        "OVERCAST_CC_EVENT_URL": c.sink.url, "OVERCAST_CC_NAME": "zone-test"})
    c.cc.start()


@pytest.fixture(scope="module")
def cl():
    c = Cluster()
    c.tmp = tempfile.mkdtemp(prefix="overcast-cc-")
    c.libvirtd = nh.Libvirtd()
    c.net = nh.TestNet(dhcp=False)
    c.env = c.cc = None
    c.sink = nh.EventSink()
    c.ncs = []
    c.made = []
    try:
        c.libvirtd.ensure()
        c.guest = nh.guest_dir()
        c.env = wh.start_env(c.tmp)
        c.net.up(c.tmp)
        c.cc_port = wh.free_port()
        start_cc(c, "ROUNDROBIN")
        # Two nodes: the bootstrap's home, and a second home with the same
        # node key and cloud key (as an administrator copies them).
        home2 = os.path.join(c.tmp, "home2")
        os.makedirs(os.path.join(home2, "nc"))
        for f in ("clc-credentials", "cloud-pk.pem"):
            shutil.copy(os.path.join(c.env.home, "nc", f), os.path.join(home2, "nc", f))
        for k, home in enumerate((c.env.home, home2)):
            n = nh.Nc(home, env=_nc_env(c, home, "node%d" % (k + 1)))
            n.start()
            c.ncs.append(n)
        clc = wh.parse_shell_vars(os.path.join(c.env.home, "clc", "component-credentials"))
        c.api = nh.NcClient(c.cc.endpoint, clc["AWS_ACCESS_KEY_ID"],
                            clc["AWS_SECRET_ACCESS_KEY"], service="cc")
        s3 = c.env.client(1)
        s3.create_bucket(Bucket=BUCKET)
        c.images = {}
        blank = b"\0" * (1 << 20)
        for name, data in (("blank.img", blank),) + tuple(
                (n, open(os.path.join(c.guest, n), "rb").read())
                for n in ("vmlinuz", "initrd.img", "rootdisk.img")):
            s3.put_object(Bucket=BUCKET, Key=name, Body=data)
            c.images[name] = ("%s/%s" % (BUCKET, name), hashlib.md5(data).hexdigest())
        for k, n in enumerate(c.ncs):
            c.api.call("ccRegisterNode", NodeName="node%d" % (k + 1), Host="127.0.0.1",
                       Port=n.port)
        yield c
    finally:
        if c.cc is not None and c.cc.alive() and c.made:
            for iid in c.made:
                try:
                    c.api.call("ccTerminateInstances", **{"InstanceId.1": iid})
                except Exception:
                    pass
            deadline = time.time() + 60
            while time.time() < deadline and any(nh.domain_exists(i) for i in c.made):
                time.sleep(0.5)
        leftover = [i for i in c.made if nh.domain_exists(i)]
        for iid in leftover:
            nh.destroy_domain(iid)
        for n in c.ncs:
            if n.alive():
                n.stop()
        crashes = []
        if c.cc is not None:
            if c.cc.alive():
                c.cc.stop()
            sys.stderr.write("\n--- overcast-cc log tail ---\n%s\n" % c.cc.log_tail(4000))
            crashes = nh.dnsmasq_crashes(c.cc.log_tail(1 << 22))
        if c.env is not None:
            c.env.shutdown()
        c.sink.close()
        c.net.down()
        c.libvirtd.stop()
        shutil.rmtree(c.tmp, ignore_errors=True)
        assert not leftover, "domains left behind: %s" % leftover
        assert not crashes, "dnsmasq crashed: %s" % crashes


def run(c, n=1, group="sg-aaaa0001", image="blank.img", kernel=False, **kw):
    ids = [nh.new_instance_id() for _ in range(n)]
    c.made.extend(ids)
    loc, dig = c.images[image]
    p = {"ReservationId": "r-" + nh.secrets.token_hex(9)[:17], "OwnerId": "123456789012",
         "InstanceType": "t2.nano", "VCpus": 1, "MemoryMiB": 128, "DiskGiB": 1,
         "GroupId": group, "ImageId": "emi-" + hashlib.md5(image.encode()).hexdigest()[:8],
         "ImageLocation": loc, "ImageDigest": dig}
    if kernel:
        for pfx, name, kind in (("Kernel", "vmlinuz", "eki"), ("Ramdisk", "initrd.img", "eri")):
            loc, dig = c.images[name]
            p[pfx + "Id"] = "%s-%s" % (kind, hashlib.md5(name.encode()).hexdigest()[:8])
            p[pfx + "Location"] = loc
            p[pfx + "Digest"] = dig
    for k, iid in enumerate(ids):
        p["InstanceId.%d" % (k + 1)] = iid
    p.update(kw)
    r = c.api.call("ccRunInstances", **p)
    items = r["instancesSet"]
    return {i["instanceId"]: i for i in (items if isinstance(items, list) else [])}


def describe(c):
    items = c.api.call("ccDescribeInstances")["instancesSet"]
    return {i["instanceId"]: i for i in (items if isinstance(items, list) else [])}


def nodes(c):
    items = c.api.call("ccDescribeNodes")["nodeSet"]
    return {n["nodeName"]: n for n in (items if isinstance(items, list) else [])}


def wait(c, iids, state, timeout=90):
    deadline = time.time() + timeout
    d = {}
    while time.time() < deadline:
        d = describe(c)
        if all(d.get(i, {}).get("state") == state for i in iids):
            return d
        time.sleep(0.3)
    raise AssertionError("not all %s: %s" % (state, {i: d.get(i, {}).get("state")
                                                      for i in iids}))


def terminate_all(c, iids):
    for iid in iids:
        c.api.call("ccTerminateInstances", **{"InstanceId.1": iid})
    wait(c, iids, "terminated")
    for iid in iids:
        assert not nh.domain_exists(iid)


# --------------------------------------------------------------------------

def test_nodes_registered_and_up(cl):
    n = nodes(cl)
    assert set(n) == {"node1", "node2"}
    for v in n.values():
        assert v["state"] == "up"
        assert v["coresTotal"] == "2" and v["memoryTotalMiB"] == "1024"
    res = cl.api.call("ccDescribeResources")
    assert res["coresTotal"] == "4"
    # The same node again is fine; the same name elsewhere is not.
    cl.api.call("ccRegisterNode", NodeName="node1", Host="127.0.0.1", Port=cl.ncs[0].port)
    with pytest.raises(nh.NcError) as e:
        cl.api.call("ccRegisterNode", NodeName="node1", Host="127.0.0.1", Port=1)
    assert e.value.code == "InvalidParameterValue"


def test_roundrobin_addresses_and_a_real_boot(cl):
    got = run(cl, 2, group="sg-0000000a", image="rootdisk.img", kernel=True)
    a, b = sorted(got, key=lambda i: int(got[i]["launchIndex"]))
    assert {got[a]["node"], got[b]["node"]} == {"node1", "node2"}
    # Network 1 of 10.101.0.0/16 by 32: gateway .33, instances from .34.
    assert (got[a]["privateIpAddress"], got[b]["privateIpAddress"]) == ("10.101.0.34",
                                                                         "10.101.0.35")
    assert got[a]["macAddress"] == "d0:0d:0a:65:00:22"
    d = wait(cl, [a, b], "running")
    assert d[a]["nodeState"] == "up"
    # The NC got the MAC and the bridge the CC chose, and boots the guest.
    xml = nh.run(*nh.VIRSH, "dumpxml", a).stdout
    assert "d0:0d:0a:65:00:22" in xml and cl.net.bridge in xml
    deadline = time.time() + 120
    out = ""
    while time.time() < deadline and "GUEST-BOOT" not in out:
        out = nh.base64.b64decode(cl.api.call("ccGetConsoleOutput", InstanceId=a)["output"]) \
            .decode(errors="replace")
        time.sleep(1)
    assert "GUEST-BOOT" in out
    # Another group gets another network.
    other = run(cl, 1, group="sg-0000000b")
    (o,) = other
    assert other[o]["privateIpAddress"] == "10.101.0.66"
    terminate_all(cl, [a, b, o])
    # Every change the CC learned went on to the CLC's event URL, in order,
    # named by cluster and node, signed with the CC's key for service clc.
    deadline = time.time() + 30
    while time.time() < deadline and "terminated" not in cl.sink.states(a):
        time.sleep(0.2)
    assert cl.sink.states(a)[-2:] == ["shutting-down", "terminated"], cl.sink.states(a)
    assert "running" in cl.sink.states(a)
    with cl.sink.lock:
        mine = [e for e in cl.sink.events if e.get("InstanceId") == a]
    assert all(e["Action"] == "clcInstanceEvent" and e["ClusterName"] == "zone-test" and
               e["Node"] == got[a]["node"] and "/clc/aws4_request" in e["_auth"] for e in mine)
    seqs = [int(e["Sequence"]) for e in mine]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # Addresses come back: the group's next instance gets .34 again.
    again = run(cl, 1, group="sg-0000000a")
    (g,) = again
    assert again[g]["privateIpAddress"] == "10.101.0.34"
    terminate_all(cl, [g])


def test_capacity_all_or_nothing_and_no_overcommit(cl):
    before = set(describe(cl))
    with pytest.raises(nh.NcError) as e:
        run(cl, 5)
    assert (e.value.status, e.value.code) == (500, "InsufficientInstanceCapacity")
    assert set(describe(cl)) == before   # nothing left behind
    # Six requests at once for four cores: exactly four win.
    results = []

    def one():
        try:
            results.append(("ok", run(cl, 1)))
        except nh.NcError as err:
            results.append((err.code, None))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r[0] for r in results)
    assert codes == ["InsufficientInstanceCapacity"] * 2 + ["ok"] * 4, codes
    won = [i for r in results if r[1] for i in r[1]]
    d = wait(cl, won, "running")
    per_node = {}
    for i in won:
        per_node[d[i]["node"]] = per_node.get(d[i]["node"], 0) + 1
    assert per_node == {"node1": 2, "node2": 2}
    assert all(n["coresFree"] == "0" for n in nodes(cl).values())
    terminate_all(cl, won)
    assert all(n["coresFree"] == "2" for n in nodes(cl).values())


def test_node_down_and_back(cl):
    got = run(cl, 2)
    ids = list(got)
    wait(cl, ids, "running")
    on2 = [i for i in ids if got[i]["node"] == "node2"]
    cl.ncs[1].kill()
    deadline = time.time() + 30
    while time.time() < deadline and nodes(cl)["node2"]["state"] != "down":
        time.sleep(0.5)
    assert nodes(cl)["node2"]["state"] == "down"
    d = describe(cl)
    for i in on2:   # reported as such, not dropped
        assert d[i]["nodeState"] == "down" and d[i]["state"] == "running"
    # Nothing is placed on a down node.
    more = run(cl, 1)
    assert [v["node"] for v in more.values()] == ["node1"]
    cl.ncs[1].start()   # re-adopts its VM
    deadline = time.time() + 30
    while time.time() < deadline and nodes(cl)["node2"]["state"] != "up":
        time.sleep(0.5)
    assert nodes(cl)["node2"]["state"] == "up"
    assert describe(cl)[on2[0]]["state"] == "running"
    terminate_all(cl, ids + list(more))


def test_policies_greedy_and_powersave_and_cc_restart(cl):
    cl.cc.stop()
    start_cc(cl, "GREEDY")
    assert set(nodes(cl)) == {"node1", "node2"}   # the CC remembers its nodes
    g = run(cl, 2)
    assert [v["node"] for v in g.values()] == ["node1", "node1"]
    cl.cc.stop()
    start_cc(cl, "POWERSAVE")
    d = describe(cl)
    assert all(d[i]["state"] in ("pending", "running") for i in g)   # and its instances
    wait(cl, list(g), "running")
    terminate_all(cl, [list(g)[0]])
    # node1 has one core free, node2 two: POWERSAVE packs onto node1.
    p = run(cl, 1)
    assert [v["node"] for v in p.values()] == ["node1"]
    q = run(cl, 1)
    assert [v["node"] for v in q.values()] == ["node2"]
    terminate_all(cl, [list(g)[1]] + list(p) + list(q))
    cl.cc.stop()
    start_cc(cl, "ROUNDROBIN")


def test_group_rules_and_elastic_ips(cl):
    cl.api.call("ccConfigureNetwork", GroupId="sg-0000000c", **{
        "Rule.1.Protocol": "tcp", "Rule.1.FromPort": 22, "Rule.1.ToPort": 22,
        "Rule.1.CidrIp": "0.0.0.0/0",
        "Rule.2.Protocol": "icmp", "Rule.2.FromPort": -1, "Rule.2.ToPort": -1,
        "Rule.2.SourceGroupId": "sg-0000000d"})
    with pytest.raises(nh.NcError) as e:
        cl.api.call("ccConfigureNetwork", GroupId="sg-0000000c", **{
            "Rule.1.Protocol": "tcp", "Rule.1.FromPort": 22, "Rule.1.ToPort": 22,
            "Rule.1.CidrIp": "0.0.0.0/0; flush ruleset"})
    assert e.value.code == "InvalidParameterValue"
    got = run(cl, 1, group="sg-0000000c")
    (iid,) = got
    net = cl.api.call("ccDescribeNetworks")
    groups = {g["groupId"]: g for g in net["groupSet"]}
    g = groups["sg-0000000c"]
    assert [r["protocol"] for r in g["ruleSet"]] == ["tcp", "icmp"]   # the refused change
    import ipaddress
    cidr = ipaddress.ip_network(g["cidr"])
    assert cidr.prefixlen == 27 and ipaddress.ip_address(g["gateway"]) == cidr[1]
    assert ipaddress.ip_address(got[iid]["privateIpAddress"]) == cidr[2]
    addrs = {a["publicIp"]: a for a in net["addressSet"]}
    assert len(addrs) == 11
    cl.api.call("ccAssignAddress", PublicIp="192.0.2.15", InstanceId=iid)
    assert describe(cl)[iid]["ipAddress"] == "192.0.2.15"
    with pytest.raises(nh.NcError) as e:
        cl.api.call("ccAssignAddress", PublicIp="198.51.100.1", InstanceId=iid)
    assert e.value.code == "InvalidParameterValue"
    with pytest.raises(nh.NcError) as e:
        cl.api.call("ccAssignAddress", PublicIp="192.0.2.16", InstanceId=nh.new_instance_id())
    assert e.value.code == "InvalidInstanceID.NotFound"
    # Terminating the instance lets its address go.
    terminate_all(cl, [iid])
    net = cl.api.call("ccDescribeNetworks")
    assert {a["publicIp"]: a for a in net["addressSet"]}["192.0.2.15"]["instanceId"] == ""
    with pytest.raises(nh.NcError) as e:
        cl.api.call("ccUnassignAddress", PublicIp="192.0.2.15")
    assert e.value.code == "InvalidAddress.NotFound"


def test_who_may_call(cl):
    admin = nh.NcClient(cl.cc.endpoint, cl.env.ak1, cl.env.sk1, service="cc")
    with pytest.raises(nh.NcError) as e:
        admin.call("ccDescribeNodes")
    assert (e.value.status, e.value.code) == (403, "AccessDenied")
    ncreds = wh.parse_shell_vars(os.path.join(cl.env.home, "nc", "clc-credentials"))
    node = nh.NcClient(cl.cc.endpoint, ncreds["AWS_ACCESS_KEY_ID"],
                       ncreds["AWS_SECRET_ACCESS_KEY"], service="cc")
    with pytest.raises(nh.NcError) as e:
        node.call("ccRunInstances", ReservationId="r-1")
    assert e.value.code == "AccessDenied"
    with pytest.raises(nh.NcError) as e:
        cl.api.call("ccNodeEvent", NodeName="node1", InstanceId="i-00000001", State="running")
    assert e.value.code == "AccessDenied"
    with pytest.raises(nh.NcError) as e:
        node.call("ccNodeEvent", NodeName="node1", InstanceId="i-00000001", State="flying")
    assert e.value.code == "InvalidParameterValue"
