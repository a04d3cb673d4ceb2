"""Harness for node-controller tests with real VMs: libvirtd, a test network,
the test guest, overcast-nc, and a SigV4 client for its internal API.

Everything made here is cleaned up by name or PID: the bridge and network
namespace, dnsmasq, libvirt domains of the instances the tests made, and
libvirtd/virtlogd when this harness started them.  Guest traffic never
leaves the bridge and the namespace (the bridge has no address in the root
namespace).
"""

import base64
import glob
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import walrus_harness as wh

NC_VERSION = "2026-11-01"
VIRSH = ["virsh", "-q", "-c", "qemu:///system"]


class HarnessError(Exception):
    pass


def run(*cmd, check=True, timeout=60):
    p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise HarnessError("%s failed (%d): %s%s" % (" ".join(cmd), p.returncode, p.stdout,
                                                     p.stderr))
    return p


def new_instance_id():
    return "i-" + secrets.token_hex(9)[:17]


def new_mac():
    return "d0:0d:" + ":".join("%02x" % b for b in secrets.token_bytes(4))


# --------------------------------------------------------------------------
# libvirtd

class Libvirtd:
    """Uses a running libvirtd or starts one (and only then stops it)."""

    def __init__(self):
        self.pids = []

    def answers(self):
        return run(*VIRSH, "version", check=False, timeout=30).returncode == 0

    def ensure(self):
        for exe in ("libvirtd", "virtlogd", "virsh", "qemu-system-x86_64", "qemu-img"):
            if run("sh", "-c", "command -v %s" % exe, check=False).returncode != 0:
                raise HarnessError("%s is missing: apt-get install libvirt-daemon-system "
                                   "libvirt-clients qemu-system-x86 qemu-utils" % exe)
        if self.answers():
            return
        # Without udev /dev/kvm is root:root 0600, and libvirt then spends
        # ~50 s per domain start probing it, even for TCG guests.
        if os.path.exists("/dev/kvm"):
            run("chgrp", "kvm", "/dev/kvm", check=False)
            os.chmod("/dev/kvm", 0o660)
        for daemon, pidfile in (("virtlogd", "/run/virtlogd.pid"),
                                ("libvirtd", "/run/libvirtd.pid")):
            running = False
            if os.path.exists(pidfile):
                try:
                    os.kill(int(open(pidfile).read().strip()), 0)
                    running = True
                except (ValueError, OSError):
                    pass
            if not running:
                run(daemon, "-d")
                deadline = time.time() + 10
                while not os.path.exists(pidfile) and time.time() < deadline:
                    time.sleep(0.05)
                self.pids.append(int(open(pidfile).read().strip()))
        deadline = time.time() + 90   # the first start probes QEMU (~12 s)
        while time.time() < deadline:
            if self.answers():
                return
            time.sleep(0.5)
        raise HarnessError("libvirtd does not answer on qemu:///system")

    def stop(self):
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        self.pids = []


def capture_domain(iid, inst_dir):
    """The libvirt domain XML of a running instance, its instance directory
    and its root overlay's backing file: a template for virsh baselines."""
    import json
    xml = run(*VIRSH, "dumpxml", "--inactive", iid).stdout
    info = run("qemu-img", "info", "-U", "--output=json", os.path.join(inst_dir, "root.qcow2")).stdout
    return xml, inst_dir, json.loads(info)["backing-filename"]


def virsh_clone(template, workdir, name, keep_mac=False):
    """A copy of a captured domain under another name with its own overlay,
    console file and MAC (the template's with keep_mac: a DHCP server that
    knows only that MAC then serves the copy), written to workdir/name/domain.xml and ready for
    `virsh create` (the overlay is made here, before any clock starts:
    virsh does not make it).  Returns (xml path, console path)."""
    import re
    xml, src_dir, base = template
    d = os.path.join(workdir, name)
    os.makedirs(d)
    overlay = os.path.join(d, "root.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, overlay, "1G")
    console = os.path.join(d, "console.log")
    xml = xml.replace(src_dir + "/root.qcow2", overlay)
    xml = xml.replace(src_dir + "/console.log", console)
    xml = re.sub(r"<name>[^<]*</name>", "<name>%s</name>" % name, xml, count=1)
    xml = re.sub(r"<uuid>[^<]*</uuid>", "", xml)
    if not keep_mac:
        xml = re.sub(r"<mac address='[^']*'/>", "<mac address='%s'/>" % new_mac(), xml)
    path = os.path.join(d, "domain.xml")
    with open(path, "w") as f:
        f.write(xml)
    return path, console


def destroy_domain(name):
    """Ends a libvirt domain by name if it exists (cleanup)."""
    run(*VIRSH, "destroy", name, check=False)


def qemu_alive(pid, name):
    """A live QEMU of ours: its command line names the VM (guest=<name>,)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                return False
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return ("guest=%s," % name).encode() in f.read()
    except (OSError, IndexError):
        return False


def qemu_pids(nc_dir, pool=False):
    """(pid, name) of every QEMU the node's MacroComponent driver started
    that runs: forks in instances/ (name = the instance id; the QEMU itself
    runs under instances/<id>/qemu.name when it came from the pool) and
    templates being built in templates/; with pool, also its pre-started
    QEMUs in mcpool/."""
    out = []
    for pidfile in glob.glob(os.path.join(nc_dir, "instances", "*", "qemu.pid")) + \
            glob.glob(os.path.join(nc_dir, "templates", "*", "qemu.pid")) + \
            (glob.glob(os.path.join(nc_dir, "mcpool", "*", "qemu.pid")) if pool else []):
        d = os.path.dirname(pidfile)
        base = os.path.basename(d)
        name = base if base.startswith(("i-", "mcpool-")) else "mc-" + base.split(".")[0]
        runs_as = name
        if os.path.exists(os.path.join(d, "qemu.name")):
            runs_as = open(os.path.join(d, "qemu.name")).read().strip()
        try:
            pid = int(open(pidfile).read().strip() or 0)
        except (OSError, ValueError):
            continue
        if qemu_alive(pid, runs_as):
            out.append((pid, name))
    return out


def kill_qemus(nc_dir):
    """Kills, by pid, every QEMU qemu_pids(pool=True) finds; returns how
    many forks and templates (not pool QEMUs) there were."""
    found = qemu_pids(nc_dir, pool=True)
    for pid, _ in found:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists("/proc/%d" % p) and
                                         open("/proc/%d/stat" % p).read().rsplit(")", 1)[1]
                                         .split()[0] not in "ZX" for p, _ in found):
        time.sleep(0.1)
    return len([n for _, n in found if not n.startswith("mcpool-")])


def domain_exists(name):
    return run(*VIRSH, "domstate", name, check=False).returncode == 0


# --------------------------------------------------------------------------
# network: a bridge with no address, optionally DHCP from a namespace

class TestNet:
    SUBNET = "10.213.%d"

    def __init__(self, dhcp=True):
        tag = os.getpid() % 100000
        self.bridge = "ocbr%d" % tag
        self.ns = "ocns%d" % tag
        self.veth_host = "ocvh%d" % tag
        self.veth_ns = "ocvn%d" % tag
        self.dhcp = dhcp
        self.dnsmasq = None
        self.dir = None
        self.net = self.SUBNET % (tag % 200 + 20)

    def up(self, workdir):
        self.dir = workdir
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "link", "set", self.bridge, "up")
        if not self.dhcp:
            return
        run("ip", "netns", "add", self.ns)
        run("ip", "link", "add", self.veth_host, "type", "veth", "peer", "name", self.veth_ns)
        run("ip", "link", "set", self.veth_host, "master", self.bridge, "up")
        run("ip", "link", "set", self.veth_ns, "netns", self.ns)
        run("ip", "-n", self.ns, "link", "set", "lo", "up")
        run("ip", "-n", self.ns, "addr", "add", "%s.1/24" % self.net, "dev", self.veth_ns)
        run("ip", "-n", self.ns, "link", "set", self.veth_ns, "up")
        log = open(os.path.join(workdir, "dnsmasq.log"), "ab")
        self.dnsmasq = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "dnsmasq", "--keep-in-foreground",
             "--conf-file=/dev/null", "--port=0", "--interface=%s" % self.veth_ns,
             "--bind-interfaces", "--dhcp-authoritative", "--log-dhcp", "--no-ping",
             "--dhcp-range=%s.10,%s.250,255.255.255.0,1h" % (self.net, self.net),
             "--dhcp-leasefile=%s" % os.path.join(workdir, "dnsmasq.leases"),
             "--pid-file=%s" % os.path.join(workdir, "dnsmasq.pid")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()

    def down(self):
        if self.dnsmasq is not None:
            self.dnsmasq.terminate()
            try:
                self.dnsmasq.wait(10)
            except subprocess.TimeoutExpired:
                self.dnsmasq.kill()
                self.dnsmasq.wait()
            self.dnsmasq = None
        if self.dhcp:
            run("ip", "netns", "del", self.ns, check=False)
            run("ip", "link", "del", self.veth_host, check=False)
        run("ip", "link", "del", self.bridge, check=False)


# --------------------------------------------------------------------------
# the test guest

def guest_dir():
    d = os.environ.get("OVERCAST_GUEST_DIR") or os.path.join(wh.SRCDIR, "build", "guest")
    script = os.path.join(wh.SRCDIR, "tests", "guest", "build.sh")
    if not os.access(script, os.X_OK):
        raise HarnessError("%s is missing" % script)
    p = subprocess.run([script, d], capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise HarnessError("guest build failed:\n%s%s" % (p.stdout, p.stderr))
    for f in ("vmlinuz", "initrd.img", "rootdisk.img", "disk.img"):
        if not os.path.exists(os.path.join(d, f)):
            raise HarnessError("guest build made no %s in %s" % (f, d))
    return d


# --------------------------------------------------------------------------
# the daemon and its client

class Nc(wh.Daemon):
    NAME = "overcast-nc"
    SUBDIR = "nc"


def dnsmasq_crashes(log_text):
    """A CC log's lines saying its dnsmasq died of a signal other than the
    SIGKILL and SIGTERM tests send on purpose: a crash, which the CC
    survives by restarting it but which is never a pass."""
    found = []
    for line in log_text.splitlines():
        m = re.search(r"dnsmasq was killed by signal (\d+)", line)
        if m and int(m.group(1)) not in (signal.SIGKILL, signal.SIGTERM):
            found.append(line)
    return found


class Cc(wh.Daemon):
    NAME = "overcast-cc"
    SUBDIR = "cc"


class NcError(Exception):
    def __init__(self, status, code, message):
        Exception.__init__(self, "%s %s: %s" % (status, code, message))
        self.status, self.code, self.message = status, code, message


def _strip(tag):
    return tag.split("}", 1)[-1]


def xml_to_dict(e):
    """<a><b>1</b><c><item>..</item></c></a> -> {"b": "1", "c": [..]}."""
    kids = list(e)
    if not kids:
        return e.text or ""
    if all(_strip(k.tag) == "item" for k in kids):
        return [xml_to_dict(k) for k in kids]
    return {_strip(k.tag): xml_to_dict(k) for k in kids}


class NcClient:
    """Signs like a CC: SigV4, service "nc", form POSTs.  With service="cc"
    it is a CLC calling a cluster controller."""

    def __init__(self, endpoint, ak, sk, service="nc"):
        self.endpoint = endpoint
        self.creds = Credentials(ak, sk)
        self.service = service

    def raw(self, action, params=None, sign=True):
        body = urllib.parse.urlencode(dict({"Action": action, "Version": NC_VERSION},
                                           **(params or {})))
        headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
        if sign:
            req = AWSRequest(method="POST", url=self.endpoint + "/", data=body, headers=headers)
            SigV4Auth(self.creds, self.service, wh.REGION).add_auth(req)
            headers = dict(req.headers)
        r = requests.post(self.endpoint + "/", data=body, headers=headers, timeout=60)
        return r.status_code, ET.fromstring(r.content)

    def call(self, action, **params):
        status, root = self.raw(action, {k: str(v) for k, v in params.items()})
        if status != 200:
            err = root.find("Errors/Error")
            raise NcError(status, err.findtext("Code"), err.findtext("Message"))
        return xml_to_dict(root)

    def describe(self, iid=None):
        kw = {"InstanceId.1": iid} if iid else {}
        items = self.call("ncDescribeInstances", **kw)["instanceSet"]
        items = items if isinstance(items, list) else []
        return {i["instanceId"]: i for i in items}

    def state(self, iid):
        d = self.describe(iid)
        return d[iid]["instanceState"]["name"] if iid in d else None

    def wait_state(self, iid, want, timeout=120):
        deadline = time.time() + timeout
        seen = None
        while time.time() < deadline:
            seen = self.state(iid)
            if seen == want:
                return self.describe(iid)[iid]
            if seen in ("terminated",) and want != "terminated":
                raise HarnessError("%s went %s: %s" % (iid, seen,
                                                       self.describe(iid)[iid]["stateReason"]))
            time.sleep(0.2)
        raise HarnessError("%s is %s, not %s, after %ds" % (iid, seen, want, timeout))

    def console(self, iid):
        out = self.call("ncGetConsoleOutput", InstanceId=iid)["output"]
        return base64.b64decode(out).decode("utf-8", "replace")

    def wait_console(self, iid, marker, timeout=180, count=1):
        deadline = time.time() + timeout
        text = ""
        while time.time() < deadline:
            # Whole lines only: the guest may be half-way through the last one.
            text = self.console(iid)
            text = text[:text.rfind("\n") + 1]
            if text.count(marker) >= count:
                return text
            time.sleep(0.5)
        raise HarnessError("%s: %r (x%d) not on the console after %ds; console ends:\n%s"
                           % (iid, marker, count, timeout, text[-3000:]))


# --------------------------------------------------------------------------
# a stand-in CC that records ccNodeEvent calls

class EventSink:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                with sink.lock:
                    sink.events.append({k: v[0] for k, v in form.items()})
                    sink.events[-1]["_auth"] = self.headers.get("Authorization", "")
                body = (b'<ccNodeEventResponse><requestId>x</requestId>'
                        b'<return>true</return></ccNodeEventResponse>')
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def states(self, iid):
        with self.lock:
            return [e["State"] for e in self.events if e.get("InstanceId") == iid]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class OutsideHost:
    """A TCP listener inside a namespace the test made (ns) that answers
    OUTSIDE-SERVED to whoever connects; stopped by its pid."""

    CODE = ("import socket, sys\n"
            "s = socket.socket()\n"
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            "s.bind((sys.argv[1], int(sys.argv[2])))\n"
            "s.listen(16)\n"
            "print('READY', flush=True)\n"
            "while True:\n"
            "    c, a = s.accept()\n"
            "    try:\n"
            "        c.sendall(b'OUTSIDE-SERVED\\n')\n"
            "    finally:\n"
            "        c.close()\n")

    def __init__(self, ns, ip, port):
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", self.CODE,
                                      ip, str(port)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "READY"

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
