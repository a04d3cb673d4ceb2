"""A whole cloud for end-to-end tests, every part real: Walrus and the CLC
(walrus_harness.start_env), one or more cluster controllers each with its
data plane (MANAGED-NOVLAN) in a network namespace of its own, and node
controllers whose VM bridges are joined to their CC's bridge by veths, all
on this host's libvirtd with TCG guests.  A second namespace per cluster
plays the outside world on the CC's public interface.

Traffic goes only between these namespaces and the guests.  Everything is
named by tag (pid and salt) and removed by name on teardown.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import nc_harness as nh
import walrus_harness as wh

PUBLIC = "192.0.2.10-192.0.2.20"
IMAGE_BUCKET = "cloud-images"


def sh(*cmd, check=True, timeout=60):
    return nh.run(*cmd, check=check, timeout=timeout)


class Net:
    """The namespaces, bridges and veths of this test, all named by tag."""

    def __init__(self, salt=0, nodes=2):
        # Two clusters may be up at once: salt keeps them apart.
        t = (os.getpid() * 4 + salt) % 100000
        self.ns_cc, self.ns_out = "occ%d" % t, "oco%d" % t
        self.cc_bridge = "ocbc%d" % t
        self.node_bridges = ["ocb%d%d" % (k + 1, t) for k in range(nodes)]
        self.vhost = ["ocv%d%d" % (k + 1, t) for k in range(nodes)]   # root-side ends
        self.vcc = ["ocw%d%d" % (k + 1, t) for k in range(nodes)]     # CC-side ends
        self.pub_cc, self.pub_out = "ocp%d" % t, "ocq%d" % t
        self.made = False

    def up(self, pub_prefix="192.0.2"):
        self.made = True
        sh("ip", "netns", "add", self.ns_cc)
        sh("ip", "netns", "add", self.ns_out)
        sh("ip", "-n", self.ns_cc, "link", "set", "lo", "up")
        sh("ip", "-n", self.ns_out, "link", "set", "lo", "up")
        # The CC's bridge exists before the CC: the node links join it.
        sh("ip", "-n", self.ns_cc, "link", "add", self.cc_bridge, "type", "bridge")
        for br, vh, vc in zip(self.node_bridges, self.vhost, self.vcc):
            sh("ip", "link", "add", br, "type", "bridge")
            sh("ip", "link", "set", br, "up")
            sh("ip", "link", "add", vh, "type", "veth", "peer", "name", vc)
            sh("ip", "link", "set", vh, "master", br, "up")
            sh("ip", "link", "set", vc, "netns", self.ns_cc)
            sh("ip", "-n", self.ns_cc, "link", "set", vc, "master", self.cc_bridge, "up")
        sh("ip", "link", "add", self.pub_cc, "type", "veth", "peer", "name", self.pub_out)
        sh("ip", "link", "set", self.pub_cc, "netns", self.ns_cc)
        sh("ip", "link", "set", self.pub_out, "netns", self.ns_out)
        sh("ip", "-n", self.ns_cc, "addr", "add", pub_prefix + ".1/24", "dev", self.pub_cc)
        sh("ip", "-n", self.ns_cc, "link", "set", self.pub_cc, "up")
        sh("ip", "-n", self.ns_out, "addr", "add", pub_prefix + ".2/24", "dev", self.pub_out)
        sh("ip", "-n", self.ns_out, "link", "set", self.pub_out, "up")

    def down(self):
        if not self.made:
            return
        for name in self.vhost + self.node_bridges:
            sh("ip", "link", "del", name, check=False)
        # Deleting a namespace deletes what is inside it (the CC's bridge,
        # the veth ends, its nft table).
        sh("ip", "netns", "del", self.ns_cc, check=False)
        sh("ip", "netns", "del", self.ns_out, check=False)

    def nft_table(self):
        p = sh("ip", "netns", "exec", self.ns_cc, "nft", "list", "table", "ip", "overcast",
               check=False)
        return p.stdout if p.returncode == 0 else None

    def outside_get(self, ip, port, timeout=3):
        """What a client in the outside namespace reads from ip:port ('' when
        it cannot connect)."""
        code = ("import socket, sys\n"
                "s = socket.create_connection((sys.argv[1], int(sys.argv[2])), %d)\n"
                "s.settimeout(%d)\n"
                "data = b''\n"
                "while True:\n"
                "    d = s.recv(4096)\n"
                "    if not d: break\n"
                "    data += d\n"
                "sys.stdout.write(data.decode('utf-8', 'replace'))\n" % (timeout, timeout))
        p = subprocess.run(["ip", "netns", "exec", self.ns_out, sys.executable, "-c", code, ip,
                            str(port)], capture_output=True, text=True, timeout=timeout + 20)
        return p.stdout




class Cluster:
    """One zone: a CC with its data plane and its NCs."""

    def __init__(self, cloud, zone, salt, nodes, policy="ROUNDROBIN", subnet="10.101.0.0",
                 public=PUBLIC, pub_prefix="192.0.2"):
        self.cloud, self.zone, self.nodes_n = cloud, zone, nodes
        self.net = Net(salt, nodes)
        self.policy, self.subnet, self.public, self.pub_prefix = policy, subnet, public, pub_prefix
        self.cc = None
        self.ncs = []
        self.md_ip = subnet.rsplit(".", 2)[0] + ".0.1"

    def cc_env(self):
        env = self.cloud.env
        return {
            "OVERCAST_CLC_URL": env.clc.endpoint, "OVERCAST_SCHEDPOLICY": self.policy,
            "OVERCAST_VNET_MODE": "MANAGED-NOVLAN", "OVERCAST_VNET_NETNS": self.net.ns_cc,
            "OVERCAST_VNET_BRIDGE": self.net.cc_bridge,
            "OVERCAST_VNET_PUBINTERFACE": self.net.pub_cc,
            "OVERCAST_VNET_SUBNET": self.subnet, "OVERCAST_VNET_NETMASK": "255.255.0.0",
            "OVERCAST_VNET_ADDRSPERNET": "32", "OVERCAST_VNET_PUBLICIPS": self.public,
            "OVERCAST_VNET_METADATA_IP": self.md_ip, "OVERCAST_VNET_METADATA_PORT": "8776",
            "OVERCAST_CC_METADATA_URL": env.clc.endpoint, "OVERCAST_CC_EVENT_URL": env.clc.endpoint,
            "OVERCAST_CC_NAME": self.zone, "OVERCAST_CC_POLL_INTERVAL": "2",
            "OVERCAST_CC_NODE_DOWN_AFTER": "2"}

    def start(self):
        env = self.cloud.env
        self.net.up(self.pub_prefix)
        # Each CC keeps its own state: a home of its own, with the CC key.
        self.home = os.path.join(self.cloud.tmp, "cc-" + self.zone)
        os.makedirs(os.path.join(self.home, "cc"), exist_ok=True)
        shutil.copy(os.path.join(env.home, "cc", "clc-credentials"),
                    os.path.join(self.home, "cc", "clc-credentials"))
        self.cc = nh.Cc(self.home, env=self.cc_env())
        self.cc.start()
        env.clc.register_cluster(self.zone, "127.0.0.1", self.cc.port)
        for k in range(self.nodes_n):
            name = "%s-node%d" % (self.zone, k + 1)
            home = os.path.join(self.cloud.tmp, name)
            os.makedirs(os.path.join(home, "nc"), exist_ok=True)
            for f in ("clc-credentials", "cloud-pk.pem"):
                shutil.copy(os.path.join(env.home, "nc", f), os.path.join(home, "nc", f))
            n = nh.Nc(home, env={
                "OVERCAST_NC_NAME": name, "OVERCAST_CLC_URL": env.clc.endpoint,
                "OVERCAST_WALRUS_URL": env.endpoint, "OVERCAST_HYPERVISOR": "qemu",
                "OVERCAST_NC_SHUTDOWN_TIMEOUT": "3", "OVERCAST_NC_MAX_CORES": "2",
                "OVERCAST_NC_MAX_MEM_MB": "1024", "OVERCAST_NC_MAX_DISK_GB": "50",
                "OVERCAST_CC_URL": self.cc.endpoint,
                "OVERCAST_NC_BRIDGE": self.net.node_bridges[k], **self.cloud.nc_env})
            n.name = name
            n.start()
            self.ncs.append(n)
            self.cloud.cc_api(self).call("ccRegisterNode", NodeName=name, Host="127.0.0.1",
                                         Port=n.port)

    def stop(self):
        for n in self.ncs:
            if n.alive():
                n.stop()
            sys.stderr.write("\n--- overcast-nc (%s) log tail ---\n%s\n" % (n.name, n.log_tail(3000)))
        if self.cc is not None:
            if self.cc.alive():
                self.cc.stop()
            sys.stderr.write("\n--- overcast-cc (%s) log tail ---\n%s\n"
                             % (self.zone, self.cc.log_tail(4000)))
        self.net.down()


class Cloud:
    """CLC + Walrus + clusters, and the test guest registered as images."""

    def __init__(self, zones=(("zone-a", 2),), clc_env=None, nc_env=None):
        """zones: (name, number of nodes[, SCHEDPOLICY]) per cluster;
        nc_env: settings every node controller gets on top of the test's."""
        self.tmp = tempfile.mkdtemp(prefix="overcast-cloud-")
        # MacroComponent template RAM: tmpfs, a directory of this cloud.
        self.ram_dir = tempfile.mkdtemp(prefix="overcast-mc-", dir="/dev/shm")
        self.nc_env = dict({"OVERCAST_NC_MC_RAM_DIR": self.ram_dir}, **(nc_env or {}))
        self.libvirtd = nh.Libvirtd()
        self.env = None
        self.clusters = []
        self.zones = zones
        self.clc_env = dict({"OVERCAST_CLC_POLL_INTERVAL": "2",
                             "OVERCAST_CLC_LAUNCH_GRACE": "60"}, **(clc_env or {}))

    def cc_api(self, cl):
        clc = wh.parse_shell_vars(os.path.join(self.env.home, "clc", "component-credentials"))
        return nh.NcClient(cl.cc.endpoint, clc["AWS_ACCESS_KEY_ID"],
                           clc["AWS_SECRET_ACCESS_KEY"], service="cc")

    def start(self):
        for tool in ("dnsmasq", "nft", "ip"):
            if not shutil.which(tool):
                raise nh.HarnessError("%s is missing (apt-get install dnsmasq-base nftables "
                                      "iproute2)" % tool)
        self.libvirtd.ensure()
        self.guest = nh.guest_dir()
        self.env = wh.start_env(self.tmp, clc_env=self.clc_env)
        for k, (zone, nodes, *policy) in enumerate(self.zones):
            cl = Cluster(self, zone, k, nodes, policy=policy[0] if policy else "ROUNDROBIN",
                         subnet="10.%d.0.0" % (101 + k),
                         public="192.0.%d.10-192.0.%d.20" % (2 + k, 2 + k),
                         pub_prefix="192.0.%d" % (2 + k))
            self.clusters.append(cl)
            cl.start()
        self.register_images()
        return self

    def register_images(self):
        """kernel, ramdisk and machine image through Walrus and RegisterImage,
        as a user would (the admin account, shared with everyone)."""
        s3 = self.env.client(1)
        s3.create_bucket(Bucket=IMAGE_BUCKET)
        for name in ("vmlinuz", "initrd.img", "rootdisk.img"):
            with open(os.path.join(self.guest, name), "rb") as f:
                s3.put_object(Bucket=IMAGE_BUCKET, Key=name, Body=f.read())
        ec2 = self.env.ec2(1)
        tag = hashlib.md5(self.tmp.encode()).hexdigest()[:6]
        self.kernel = register(ec2, "kernel", "%s/vmlinuz" % IMAGE_BUCKET, "kernel-" + tag)
        self.ramdisk = register(ec2, "ramdisk", "%s/initrd.img" % IMAGE_BUCKET, "ramdisk-" + tag)
        self.image = register(ec2, "machine", "%s/rootdisk.img" % IMAGE_BUCKET, "guest-" + tag,
                              KernelId=self.kernel, RamdiskId=self.ramdisk)
        for iid in (self.kernel, self.ramdisk, self.image):
            ec2.modify_image_attribute(ImageId=iid, LaunchPermission={"Add": [{"Group": "all"}]})

    def stop(self):
        leftover = []
        try:
            leftover = [d for d in running_domains() if d.startswith("i-") and
                        self.owns(d)]
            for d in leftover:
                nh.destroy_domain(d)
            # MacroComponent forks (and templates being built) are QEMUs
            # of our nodes, killed by pid; a fork left running is a leftover.
            for cl in self.clusters:
                for n in cl.ncs:
                    for pid, name in nh.qemu_pids(os.path.join(n.home, "nc")):
                        if name.startswith("i-"):
                            leftover.append(name)
                    nh.kill_qemus(os.path.join(n.home, "nc"))
            for cl in self.clusters:
                cl.stop()
            if self.env is not None:
                sys.stderr.write("\n--- overcast-clc log tail ---\n%s\n"
                                 % self.env.clc.log_tail(6000))
                self.env.shutdown()
            reports = self.sanitizer_reports()
        finally:
            self.libvirtd.stop()
            shutil.rmtree(self.tmp, ignore_errors=True)
            shutil.rmtree(self.ram_dir, ignore_errors=True)
        if reports:
            raise AssertionError("sanitizer reports in daemon logs:\n%s" % "\n".join(reports))
        return leftover

    def sanitizer_reports(self):
        """Lines of ASan/LSan/UBSan reports in every daemon's log (the
        sanitizer build of the suite runs these daemons), and a CC's word
        that its dnsmasq crashed (a signal other than the SIGKILL/SIGTERM
        tests send on purpose)."""
        daemons = [self.env.clc, self.env.walrus] if self.env else []
        for cl in self.clusters:
            daemons += ([cl.cc] if cl.cc else []) + cl.ncs
        found = []
        for d in daemons:
            for line in d.log_tail(1 << 22).splitlines():
                if "Sanitizer" in line or "runtime error:" in line:
                    found.append("%s: %s" % (d.NAME, line))
                if nh.dnsmasq_crashes(line):
                    found.append("%s: %s" % (d.NAME, line))
        return found[:40]

    def owns(self, domain):
        """Whether a libvirt domain is an instance of this cloud's nodes."""
        for cl in self.clusters:
            for n in cl.ncs:
                if os.path.isdir(os.path.join(n.home, "nc", "instances", domain)):
                    return True
        return False


def cloud_fixture(**kw):
    """The body of a module fixture: a started Cloud, stopped afterwards;
    domains it had to destroy fail the test that left them."""
    c = Cloud(**kw)
    leftover = []
    try:
        c.start()
        yield c
    finally:
        leftover = c.stop()
    assert not leftover, "domains left behind: %s" % leftover


def running_domains():
    p = subprocess.run(["virsh", "-c", "qemu:///system", "list", "--name"], capture_output=True,
                       text=True, timeout=60)
    return [l.strip() for l in p.stdout.splitlines() if l.strip()]


def register(ec2, kind, location, name, extra=None, **kw):
    """RegisterImage with the ImageType extension (kernel, ramdisk, machine)
    and any other extension parameters in extra (MacroComponent=...)."""
    def add(params, **_):
        params["body"]["ImageType"] = kind
        params["body"].update(extra or {})

    ec2.meta.events.register("before-call.ec2.RegisterImage", add, unique_id="img-kind")
    try:
        return ec2.register_image(ImageLocation=location, Name=name, **kw)["ImageId"]
    finally:
        ec2.meta.events.unregister("before-call.ec2.RegisterImage", unique_id="img-kind")
