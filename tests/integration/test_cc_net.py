"""The cluster controller's data plane (VNET_MODE=MANAGED-NOVLAN) with real
parts: two overcast-nc "hosts" (one libvirtd, TCG guests), each with its own
VM bridge joined by a veth to the CC's bridge inside a network namespace the
test makes; the CC's dnsmasq, netlink addresses and nftables table in that
namespace; a second namespace playing the outside world on the CC's public
interface.  Traffic goes only between these namespaces and the guests.

What is checked, through guests started with ccRunInstances:
  - each guest gets exactly the address the CC chose, from the CC's dnsmasq;
  - each reads its own instance id through the 169.254.169.254 redirect and
    the CC's metadata proxy;
  - a guest of group A reaches a guest of group B on a port B allows to A's
    group and not on one it does not; revoking the rule closes it;
  - an elastic IP: the outside reaches the guest's port through it, and not
    after ccUnassignAddress;
  - dnsmasq killed: the CC starts it again with the same files and leases;
  - CC restarted: the table is removed on the clean stop and rebuilt
    identically, dnsmasq's files are identical, the guests keep working;
  - several groups per instance: a guest in groups B and C (B's network)
    is reached on the ports either group allows and on no other; a guest
    whose second group is A counts as A's member for source-group rules;
  - egress: with a group's egress filtered and no egress rule, a guest
    reaches neither the other guest nor a host in the outside namespace;
    an egress rule of its second group lets it out again; replies to
    what is let in still pass, and DHCP and the metadata redirect work
    whatever the egress rules (a reboot gets its address and id again);
  - every rendered table shape loads into the kernel (the unit goldens).

The CLC's metadata service is not part of the CC; here a stand-in on
loopback (CC_METADATA_URL) answers the proxy's signed GETs and checks that
they are signed by the CC's key for service "metadata".
"""

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nc_harness as nh  # noqa: E402
from cloud_harness import Net  # noqa: E402
import walrus_harness as wh  # noqa: E402

BUCKET = "ccnet-images"
GROUP_A = "sg-aaaa0001"
GROUP_B = "sg-bbbb0002"
PUBLIC = "192.0.2.10-192.0.2.20"
EIP = "192.0.2.10"
MD_IP = "10.101.0.1"


def sh(*cmd, check=True, timeout=60):
    return nh.run(*cmd, check=check, timeout=timeout)


class MetadataStandIn:
    """GET /services/metadata/<iid>/latest/{meta-data/instance-id,user-data}."""

    def __init__(self, cc_key):
        self.user_data = {}
        self.seen = []
        stand = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                auth = self.headers.get("Authorization", "")
                m = re.match(r"/services/metadata/(i-[0-9a-f]+)(/.*)$", self.path)
                ok = ("Credential=%s/" % cc_key) in auth and "/metadata/aws4_request" in auth
                stand.seen.append((self.path, ok))
                body, status = b"", 404
                if not ok:
                    status = 403
                elif m and m.group(2) == "/latest/meta-data/instance-id":
                    body, status = m.group(1).encode(), 200
                elif m and m.group(2) == "/latest/user-data" and m.group(1) in stand.user_data:
                    body, status = stand.user_data[m.group(1)].encode(), 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def nc_env(c, name, bridge):
    return {"OVERCAST_NC_NAME": name, "OVERCAST_CLC_URL": c.env.clc.endpoint,
            "OVERCAST_WALRUS_URL": c.env.endpoint, "OVERCAST_HYPERVISOR": "qemu",
            "OVERCAST_NC_SHUTDOWN_TIMEOUT": "2", "OVERCAST_NC_MAX_CORES": "2",
            "OVERCAST_NC_MAX_MEM_MB": "1024", "OVERCAST_NC_MAX_DISK_GB": "50",
            "OVERCAST_CC_URL": c.cc.endpoint, "OVERCAST_NC_BRIDGE": bridge}


# STATIC: the administrator's network: the CC's bridge holds the router's
# address, instances take the MAC map's pairs.
STATIC_ROUTER = "10.102.0.1"
STATIC_MAP = {"02:00:0a:66:00:0a": "10.102.0.10", "02:00:0a:66:00:0b": "10.102.0.11",
              "02:00:0a:66:00:0c": "10.102.0.12"}


def start_cc(c):
    env = {
        "OVERCAST_CLC_URL": c.env.clc.endpoint, "OVERCAST_SCHEDPOLICY": "ROUNDROBIN",
        "OVERCAST_VNET_MODE": c.mode, "OVERCAST_VNET_NETNS": c.net.ns_cc,
        "OVERCAST_VNET_BRIDGE": c.net.cc_bridge, "OVERCAST_VNET_PUBINTERFACE": c.net.pub_cc,
        "OVERCAST_VNET_SUBNET": "10.101.0.0", "OVERCAST_VNET_NETMASK": "255.255.0.0",
        "OVERCAST_VNET_ADDRSPERNET": "32", "OVERCAST_VNET_PUBLICIPS": PUBLIC,
        "OVERCAST_VNET_METADATA_IP": MD_IP, "OVERCAST_VNET_METADATA_PORT": "8776",
        "OVERCAST_CC_METADATA_URL": c.md.url, "OVERCAST_CC_POLL_INTERVAL": "2"}
    if c.mode == "STATIC":
        env.update({"OVERCAST_VNET_SUBNET": "10.102.0.0", "OVERCAST_VNET_NETMASK": "255.255.255.0",
                    "OVERCAST_VNET_ROUTER": STATIC_ROUTER,
                    "OVERCAST_VNET_METADATA_IP": STATIC_ROUTER,
                    "OVERCAST_VNET_MACMAP": " ".join("%s=%s" % kv for kv in STATIC_MAP.items())})
    c.cc = nh.Cc(c.env.home, port=c.cc_port, env=env)
    c.cc.start()


# One cluster per test, torn down before the next starts: the nodes of
# both share this host's libvirtd and count its VMs.
@pytest.fixture
def cn():
    yield from cluster("MANAGED-NOVLAN")


@pytest.fixture
def cs():
    yield from cluster("STATIC")


def cluster(mode):
    c = type("C", (), {})()
    c.mode = mode
    c.tmp = tempfile.mkdtemp(prefix="overcast-ccnet-")
    c.libvirtd = nh.Libvirtd()
    c.net = Net(1 if mode == "STATIC" else 0)
    c.env = c.cc = c.md = None
    c.ncs = []
    c.made = []
    try:
        for tool in ("dnsmasq", "nft", "ip"):
            if not shutil.which(tool):
                raise nh.HarnessError("%s is missing (apt-get install dnsmasq-base nftables "
                                      "iproute2)" % tool)
        c.libvirtd.ensure()
        c.guest = nh.guest_dir()
        c.env = wh.start_env(c.tmp)
        c.net.up()
        if mode == "STATIC":
            # The administrator's address on the network (router, metadata).
            sh("ip", "-n", c.net.ns_cc, "addr", "add", STATIC_ROUTER + "/24", "dev",
               c.net.cc_bridge)
        clc = wh.parse_shell_vars(os.path.join(c.env.home, "clc", "component-credentials"))
        cck = wh.parse_shell_vars(os.path.join(c.env.home, "cc", "clc-credentials"))
        c.md = MetadataStandIn(cck["AWS_ACCESS_KEY_ID"])
        c.cc_port = wh.free_port()
        start_cc(c)
        home2 = os.path.join(c.tmp, "home2")
        os.makedirs(os.path.join(home2, "nc"))
        for f in ("clc-credentials", "cloud-pk.pem"):
            shutil.copy(os.path.join(c.env.home, "nc", f), os.path.join(home2, "nc", f))
        for k, home in enumerate((c.env.home, home2)):
            n = nh.Nc(home, env=nc_env(c, "node%d" % (k + 1), c.net.node_bridges[k]))
            n.start()
            c.ncs.append(n)
        c.api = nh.NcClient(c.cc.endpoint, clc["AWS_ACCESS_KEY_ID"],
                            clc["AWS_SECRET_ACCESS_KEY"], service="cc")
        s3 = c.env.client(1)
        s3.create_bucket(Bucket=BUCKET)
        c.images = {}
        for name in ("vmlinuz", "initrd.img", "rootdisk.img"):
            data = open(os.path.join(c.guest, name), "rb").read()
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
            sys.stderr.write("\n--- overcast-cc log tail ---\n%s\n" % c.cc.log_tail(6000))
            crashes = nh.dnsmasq_crashes(c.cc.log_tail(1 << 22))
        if c.md is not None:
            c.md.close()
        if c.env is not None:
            c.env.shutdown()
        c.net.down()
        c.libvirtd.stop()
        shutil.rmtree(c.tmp, ignore_errors=True)
        assert not leftover, "domains left behind: %s" % leftover
        assert not crashes, "dnsmasq crashed: %s" % crashes


def run_one(c, group, user_data):
    """group: one id (GroupId), or a list of them (GroupId.N, the first
    decides the network)."""
    iid = nh.new_instance_id()
    c.made.append(iid)
    c.md.user_data[iid] = user_data
    p = {"ReservationId": "r-" + nh.secrets.token_hex(9)[:17], "OwnerId": "123456789012",
         "InstanceType": "t2.nano", "VCpus": 1, "MemoryMiB": 256, "DiskGiB": 1,
         "InstanceId.1": iid}
    if isinstance(group, str):
        p["GroupId"] = group
    else:
        p.update({"GroupId.%d" % (k + 1): g for k, g in enumerate(group)})
    for pfx, name, kind in (("Image", "rootdisk.img", "emi"), ("Kernel", "vmlinuz", "eki"),
                            ("Ramdisk", "initrd.img", "eri")):
        loc, dig = c.images[name]
        p[pfx + "Id"] = "%s-%s" % (kind, hashlib.md5(name.encode()).hexdigest()[:8])
        p[pfx + "Location"] = loc
        p[pfx + "Digest"] = dig
    item = c.api.call("ccRunInstances", **p)["instancesSet"][0]
    assert item["state"] == "pending", item
    return item


def console(c, iid):
    out = c.api.call("ccGetConsoleOutput", InstanceId=iid)["output"]
    return base64.b64decode(out).decode("utf-8", "replace")


def wait_console(c, iid, pattern, timeout=240, after=0):
    """The first match of pattern in the console text after offset `after`."""
    deadline = time.time() + timeout
    text = ""
    while time.time() < deadline:
        # Whole lines only: the guest may be half-way through the last one.
        text = console(c, iid)
        text = text[:text.rfind("\n") + 1]
        m = re.compile(pattern, re.M).search(text, after)
        if m:
            return m, text
        time.sleep(1)
    raise AssertionError("%s: /%s/ not on the console after %ds; it ends:\n%s"
                         % (iid, pattern, timeout, text[-3000:]))


SERVER_UD = """#!/bin/sh
printf '#!/bin/sh\\necho GUEST-NC-SERVED\\n' > /tmp/served
chmod +x /tmp/served
nc -ll -p 8080 -e /tmp/served &
nc -ll -p 8081 -e /tmp/served &
echo GUEST-LISTENING
"""

CLIENT_UD = """#!/bin/sh
n=0
while :; do
    n=$((n + 1))
    for p in 8080 8081; do
        if echo x | nc -w 2 %s $p 2>/dev/null | grep -q GUEST-NC-SERVED; then r=ok; else r=fail; fi
        echo "GUEST-NC $n $p $r"
    done
    sleep 1
done
"""


def dhcp_and_metadata(c, items):
    """Each guest's DHCP address is exactly the CC's, and the metadata
    service names it (through the redirect and the proxy)."""
    for it in items:
        iid = it["instanceId"]
        m, _ = wait_console(c, iid, r"^GUEST-UP ip=(\S+)")
        assert m.group(1) == it["privateIpAddress"]
        m, _ = wait_console(c, iid, r"^GUEST-IID (\S+)")
        assert m.group(1) == iid
    assert all(ok for _, ok in c.md.seen), c.md.seen


def configure(c, group, rules, egress=None):
    """Ingress rules; egress None says nothing of it (not filtered), else
    the egress rules (Egress=rules: [] lets nothing out)."""
    p = {"GroupId": group}
    for k, r in enumerate(rules, 1):
        for key, v in r.items():
            p["Rule.%d.%s" % (k, key)] = v
    if egress is not None:
        p["Egress"] = "rules"
        for k, r in enumerate(egress, 1):
            for key, v in r.items():
                p["EgressRule.%d.%s" % (k, key)] = v
    c.api.call("ccConfigureNetwork", **p)


def nc_results(text, port, after_round=0):
    return [(int(n), r) for n, p, r in re.findall(r"^GUEST-NC (\d+) (\d+) (ok|fail)\s*$", text,
                                                   re.M) if p == str(port) and int(n) > after_round]


def wait_nc(c, iid, port, want, after_round=0, timeout=120):
    """Waits for two rounds in a row after after_round with result want."""
    deadline = time.time() + timeout
    res = []
    while time.time() < deadline:
        res = nc_results(console(c, iid), port, after_round)
        tail = [r for _, r in res[-2:]]
        if len(tail) == 2 and tail == [want, want]:
            return res[-1][0]
        time.sleep(1)
    raise AssertionError("port %d: wanted %s after round %d, saw %s" % (port, want, after_round,
                                                                        res[-6:]))


def last_round(c, iid):
    res = nc_results(console(c, iid), 8080)
    return res[-1][0] if res else 0


def test_guests_addresses_metadata_groups_eip_and_restarts(cn):
    c = cn
    # B allows tcp 8080 from group A and from the outside's range; 8081 is
    # allowed to nobody.
    configure(c, GROUP_B, [
        {"Protocol": "tcp", "FromPort": 8080, "ToPort": 8080, "SourceGroupId": GROUP_A},
        {"Protocol": "tcp", "FromPort": 8080, "ToPort": 8080, "CidrIp": "192.0.2.0/24"}])
    b = run_one(c, GROUP_B, SERVER_UD)
    a = run_one(c, GROUP_A, CLIENT_UD % b["privateIpAddress"])
    assert a["node"] != b["node"], "ROUNDROBIN should use both nodes"
    assert a["privateIpAddress"].startswith("10.101.0.") and \
        b["privateIpAddress"].startswith("10.101.0.")

    # DHCP gives exactly the CC's addresses; metadata names each guest.
    dhcp_and_metadata(c, (b, a))
    assert all(ok for _, ok in c.md.seen), c.md.seen
    wait_console(c, b["instanceId"], r"^GUEST-LISTENING")

    # Group A reaches B on 8080 (allowed to A's group), not on 8081.
    wait_nc(c, a["instanceId"], 8080, "ok")
    wait_nc(c, a["instanceId"], 8081, "fail")

    # The outside reaches B through an elastic IP, and not without it.
    assert "GUEST-NC-SERVED" not in c.net.outside_get(EIP, 8080)
    c.api.call("ccAssignAddress", PublicIp=EIP, InstanceId=b["instanceId"])
    assert "GUEST-NC-SERVED" in c.net.outside_get(EIP, 8080)
    assert "GUEST-NC-SERVED" not in c.net.outside_get(EIP, 8081)

    # dnsmasq killed: started again, same files, leases kept.
    cc_dir = os.path.join(c.env.home, "cc")
    pid_file = os.path.join(cc_dir, "dnsmasq.pid")
    leases = open(os.path.join(cc_dir, "dnsmasq.leases")).read()
    for it in (a, b):
        assert it["privateIpAddress"] in leases and it["macAddress"] in leases, leases
    old = int(open(pid_file).read())
    os.kill(old, 9)
    deadline = time.time() + 30
    new = old
    while time.time() < deadline:
        try:
            new = int(open(pid_file).read())
        except (OSError, ValueError):
            new = old
        if new != old and os.path.exists("/proc/%d" % new):
            break
        time.sleep(0.3)
    assert new != old, "dnsmasq was not restarted"
    assert open(os.path.join("/proc", str(new), "comm")).read().strip() == "dnsmasq"
    after = open(os.path.join(cc_dir, "dnsmasq.leases")).read()
    for it in (a, b):
        assert it["privateIpAddress"] in after and it["macAddress"] in after, after
    assert "GUEST-NC-SERVED" in c.net.outside_get(EIP, 8080)

    # CC restarted: the table goes on a clean stop and comes back identical.
    table = c.net.nft_table()
    assert table and "%s : %s" % (EIP, b["privateIpAddress"]) in table, table
    files = {f: open(os.path.join(cc_dir, f)).read() for f in ("dnsmasq.conf", "dnsmasq.hosts", "dnsmasq.opts")}
    c.cc.stop()
    assert c.net.nft_table() is None, "the table outlived a clean stop"
    start_cc(c)
    assert c.net.nft_table() == table
    for f, text in files.items():
        assert open(os.path.join(cc_dir, f)).read() == text
    assert "GUEST-NC-SERVED" in c.net.outside_get(EIP, 8080)
    r = last_round(c, a["instanceId"])
    wait_nc(c, a["instanceId"], 8080, "ok", after_round=r)

    # Revoking A's rule closes 8080 to A (the outside's rule stays).
    configure(c, GROUP_B, [
        {"Protocol": "tcp", "FromPort": 8080, "ToPort": 8080, "CidrIp": "192.0.2.0/24"}])
    r = last_round(c, a["instanceId"])
    wait_nc(c, a["instanceId"], 8080, "fail", after_round=r)
    assert "GUEST-NC-SERVED" in c.net.outside_get(EIP, 8080)

    # Unassigning the elastic IP closes the outside's way in.
    c.api.call("ccUnassignAddress", PublicIp=EIP)
    assert "GUEST-NC-SERVED" not in c.net.outside_get(EIP, 8080)
    table = c.net.nft_table() or ""
    assert "chain g-%s" % GROUP_B in table and EIP not in table, table


def test_static_mode_mac_map_dhcp_metadata_no_filter(cs):
    """STATIC: addresses and MACs from VNET_MACMAP, served by the CC's
    dnsmasq with VNET_ROUTER as the gateway; metadata still redirected;
    no group filtering (two groups reach each other on any port)."""
    c = cs
    b = run_one(c, GROUP_B, SERVER_UD)
    a = run_one(c, GROUP_A, CLIENT_UD % b["privateIpAddress"])
    assert (b["macAddress"], b["privateIpAddress"]) == ("02:00:0a:66:00:0a", "10.102.0.10")
    assert (a["macAddress"], a["privateIpAddress"]) == ("02:00:0a:66:00:0b", "10.102.0.11")
    dhcp_and_metadata(c, (b, a))
    wait_console(c, b["instanceId"], r"^GUEST-LISTENING")
    wait_nc(c, a["instanceId"], 8080, "ok")
    wait_nc(c, a["instanceId"], 8081, "ok")
    table = c.net.nft_table() or ""
    assert "jump g-" not in table and "169.254.169.254" in table, table
    # The administrator's address is left alone; only the map's pairs are served.
    addrs = sh("ip", "-n", c.net.ns_cc, "-4", "addr", "show", "dev", c.net.cc_bridge).stdout
    assert STATIC_ROUTER + "/24" in addrs
    hosts = open(os.path.join(c.env.home, "cc", "dnsmasq.hosts")).read()
    assert hosts.count("\n") == 2 and "02:00:0a:66:00:0c" not in hosts, hosts
    # The map has three pairs: a fourth instance does not fit.
    run_one(c, GROUP_A, "")
    with pytest.raises(nh.NcError) as e:
        run_one(c, GROUP_A, "")
    assert e.value.code == "InsufficientInstanceCapacity", e.value


# ---------------------------------------------------------------------------
# several security groups per instance, and egress

GROUP_C = "sg-cccc0003"
GROUP_D = "sg-dddd0004"
OUT_IP, OUT_PORT = "192.0.2.2", 9090

SERVER3_UD = """#!/bin/sh
printf '#!/bin/sh\\necho GUEST-NC-SERVED\\n' > /tmp/served
chmod +x /tmp/served
for p in 8080 8081 8082; do nc -ll -p $p -e /tmp/served & done
echo GUEST-LISTENING
"""

# Each round: the server guest on 8080-8082, then the outside host.
CLIENT3_UD = """#!/bin/sh
n=0
while :; do
    n=$((n + 1))
    for p in 8080 8081 8082; do
        if echo x | nc -w 2 SERVER $p 2>/dev/null | grep -q SERVED; then r=ok; else r=fail; fi
        echo "GUEST-NC $n $p $r"
    done
    if echo x | nc -w 2 OUT_HOST OUT_PORT 2>/dev/null | grep -q OUTSIDE-SERVED; then r=ok; else r=fail; fi
    echo "GUEST-NC $n OUT_PORT $r"
    sleep 1
done
"""


def test_rendered_tables_load_in_a_namespace():
    """The reviewed goldens (every rule shape: several groups per
    instance, sets of members, egress chains) are tables the kernel takes,
    applied whole with nft -f inside a namespace of this test's own."""
    here = os.path.dirname(os.path.abspath(__file__))
    golden = os.path.join(here, "..", "unit", "golden")
    ns = "ocg%d" % (os.getpid() % 100000)
    sh("ip", "netns", "add", ns)
    try:
        for name in ("cc_nft_table.nft", "cc_nft_groups.nft", "cc_nft_empty.nft"):
            text = open(os.path.join(golden, name)).read()
            p = subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=text,
                               capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, (name, p.stderr)
            listed = sh("ip", "netns", "exec", ns, "nft", "list", "table", "ip",
                        "overcast").stdout
            assert "chain forward" in listed, listed
            sh("ip", "netns", "exec", ns, "nft", "delete", "table", "ip", "overcast")
    finally:
        sh("ip", "netns", "del", ns, check=False)


def test_several_groups_and_egress(cn):
    c = cn
    # B lets A's members in on 8080, C on 8081 and the outside on 8082;
    # nobody else gets anything.  A and D have no rules and say nothing of
    # egress (not filtered).
    configure(c, GROUP_A, [])
    configure(c, GROUP_D, [])
    configure(c, GROUP_B, [
        {"Protocol": "tcp", "FromPort": 8080, "ToPort": 8080, "SourceGroupId": GROUP_A}])
    configure(c, GROUP_C, [
        {"Protocol": "tcp", "FromPort": 8081, "ToPort": 8081, "SourceGroupId": GROUP_A},
        {"Protocol": "tcp", "FromPort": 8082, "ToPort": 8082, "CidrIp": "192.0.2.0/24"}])
    # The outside namespace routes the plan through the CC (no elastic IP:
    # the guests' own addresses).
    sh("ip", "-n", c.net.ns_out, "route", "add", "10.101.0.0/16", "via", "192.0.2.1")
    out = nh.OutsideHost(c.net.ns_out, OUT_IP, OUT_PORT)
    try:
        s = run_one(c, [GROUP_B, GROUP_C], SERVER3_UD)
        ud = (CLIENT3_UD.replace("SERVER", s["privateIpAddress"]).replace("OUT_HOST", OUT_IP)
              .replace("OUT_PORT", str(OUT_PORT)))
        k = run_one(c, [GROUP_D, GROUP_A], ud)
        assert [g["groupId"] for g in s["groupSet"]] == [GROUP_B, GROUP_C]
        assert s["groupId"] == GROUP_B and k["groupId"] == GROUP_D
        # The network is the first group's: C and A have none.
        nets = {g["groupId"]: g for g in c.api.call("ccDescribeNetworks")["groupSet"]}
        import ipaddress
        assert ipaddress.ip_address(s["privateIpAddress"]) in \
            ipaddress.ip_network(nets[GROUP_B]["cidr"])
        assert ipaddress.ip_address(k["privateIpAddress"]) in \
            ipaddress.ip_network(nets[GROUP_D]["cidr"])
        assert "cidr" not in nets[GROUP_C]
        table = c.net.nft_table() or ""
        assert "set m-%s" % GROUP_A in table and k["privateIpAddress"] in table, table
        assert "chain g-%s" % GROUP_C not in table, table
        dhcp_and_metadata(c, (s, k))
        wait_console(c, s["instanceId"], r"^GUEST-LISTENING")
        ki, si = k["instanceId"], s["instanceId"]

        # Either group's rule lets the client in (it is A's member through
        # its second group); what neither allows stays shut.
        wait_nc(c, ki, 8080, "ok")
        wait_nc(c, ki, 8081, "ok")
        wait_nc(c, ki, 8082, "fail")
        wait_nc(c, ki, OUT_PORT, "ok")           # egress not filtered
        assert "GUEST-NC-SERVED" in c.net.outside_get(s["privateIpAddress"], 8082)
        assert "GUEST-NC-SERVED" not in c.net.outside_get(s["privateIpAddress"], 8080)

        # Revoking C's rule closes 8081 only.
        configure(c, GROUP_C, [
            {"Protocol": "tcp", "FromPort": 8082, "ToPort": 8082, "CidrIp": "192.0.2.0/24"}])
        r = last_round(c, ki)
        wait_nc(c, ki, 8081, "fail", after_round=r)
        wait_nc(c, ki, 8080, "ok", after_round=r)

        # Egress filtered with no rule, on both of the client's groups:
        # nothing it starts leaves, not to the guest, not to the outside.
        configure(c, GROUP_D, [], egress=[])
        configure(c, GROUP_A, [], egress=[])
        r = last_round(c, ki)
        wait_nc(c, ki, OUT_PORT, "fail", after_round=r)
        wait_nc(c, ki, 8080, "fail", after_round=r)
        table = c.net.nft_table() or ""
        assert "chain e-%s" % GROUP_D in table, table
        # The server's groups let nothing out either: what it answers to
        # a connection let in still passes (replies are not egress).
        configure(c, GROUP_B, [
            {"Protocol": "tcp", "FromPort": 8080, "ToPort": 8080, "SourceGroupId": GROUP_A}],
            egress=[])
        configure(c, GROUP_C, [
            {"Protocol": "tcp", "FromPort": 8082, "ToPort": 8082, "CidrIp": "192.0.2.0/24"}],
            egress=[])
        assert "GUEST-NC-SERVED" in c.net.outside_get(s["privateIpAddress"], 8082)

        # DHCP and the metadata redirect do not depend on egress rules: a
        # reboot with nothing let out gets its address and id again.
        before = len(console(c, ki))
        c.api.call("ccRebootInstances", **{"InstanceId.1": ki})
        m, _ = wait_console(c, ki, r"^GUEST-UP ip=(\S+)", after=before)
        assert m.group(1) == k["privateIpAddress"]
        m, _ = wait_console(c, ki, r"^GUEST-IID (\S+)", after=before)
        assert m.group(1) == ki
        m, _ = wait_console(c, ki, r"^GUEST-NC 2 %d (ok|fail)" % OUT_PORT, after=before)
        assert m.group(1) == "fail"

        # An egress rule of the client's second group lets it out again,
        # to that destination only; one to B's members opens the guest.
        configure(c, GROUP_A, [], egress=[
            {"Protocol": "tcp", "FromPort": OUT_PORT, "ToPort": OUT_PORT,
             "CidrIp": "192.0.2.0/24"}])
        wait_nc(c, ki, OUT_PORT, "ok")
        wait_nc(c, ki, 8080, "fail")
        configure(c, GROUP_D, [], egress=[
            {"Protocol": "tcp", "FromPort": 8080, "ToPort": 8080, "SourceGroupId": GROUP_B}])
        wait_nc(c, ki, 8080, "ok")
        wait_nc(c, ki, 8082, "fail")
        nets = {g["groupId"]: g for g in c.api.call("ccDescribeNetworks")["groupSet"]}
        assert nets[GROUP_D]["egress"] == "rules"
        assert [r["sourceGroupId"] for r in nets[GROUP_D]["egressRuleSet"]] == [GROUP_B]
    finally:
        out.stop()
