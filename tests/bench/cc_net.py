"""The driver of tests/bench/cc-net.sh (read that first)."""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import nc_harness as nh  # noqa: E402
import walrus_harness as wh  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "30"))
INSTANCES, GROUPS = 100, 10


class StandInNode:
    """Answers ncDescribeResource, ncDescribeInstances, ncRunInstance and
    ncTerminateInstance like a node with room for everything, without VMs."""

    def __init__(self):
        self.running = set()
        node = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                f = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(n).decode()).items()}
                a = f.get("Action", "")
                if a == "ncDescribeResource":
                    inner = ("<coresTotal>1000</coresTotal><memoryTotalMiB>1000000</memoryTotalMiB>"
                             "<diskTotalGiB>100000</diskTotalGiB><hypervisor>qemu</hypervisor>")
                elif a == "ncDescribeInstances":
                    inner = "<instanceSet>%s</instanceSet>" % "".join(
                        "<item><instanceId>%s</instanceId><instanceState><name>running</name>"
                        "</instanceState><stateReason/></item>" % i for i in sorted(node.running))
                elif a == "ncRunInstance":
                    node.running.add(f["InstanceId"])
                    inner = "<instance><instanceId>%s</instanceId></instance>" % f["InstanceId"]
                elif a == "ncTerminateInstance":
                    node.running.discard(f.get("InstanceId"))
                    inner = ("<previousState><name>running</name></previousState>"
                             "<currentState><name>terminated</name></currentState>")
                else:
                    inner = ""
                body = ("<%sResponse><requestId>x</requestId>%s</%sResponse>"
                        % (a, inner, a)).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_address[1]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def sh(*cmd, check=True):
    return nh.run(*cmd, check=check)


def main():
    tag = os.getpid() % 100000
    ns, br, pub, peer = "ocbn%d" % tag, "ocbb%d" % tag, "ocbp%d" % tag, "ocbq%d" % tag
    tmp = tempfile.mkdtemp(prefix="overcast-ccnet-bench-")
    env = cc = node = None
    made_ns = False
    try:
        env = wh.start_env(tmp)
        sh("ip", "netns", "add", ns)
        made_ns = True
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "add", pub, "type", "veth", "peer", "name", peer)
        sh("ip", "-n", ns, "link", "set", pub, "up")
        sh("ip", "-n", ns, "link", "set", peer, "up")
        node = StandInNode()
        cc = nh.Cc(env.home, port=wh.free_port(), env={
            "OVERCAST_CLC_URL": env.clc.endpoint, "OVERCAST_VNET_MODE": "MANAGED-NOVLAN",
            "OVERCAST_VNET_NETNS": ns, "OVERCAST_VNET_BRIDGE": br,
            "OVERCAST_VNET_PUBINTERFACE": pub, "OVERCAST_VNET_SUBNET": "10.101.0.0",
            "OVERCAST_VNET_NETMASK": "255.255.0.0", "OVERCAST_VNET_ADDRSPERNET": "32",
            "OVERCAST_VNET_PUBLICIPS": "198.18.0.1-198.18.1.250",
            "OVERCAST_VNET_METADATA_IP": "10.101.0.1", "OVERCAST_CC_POLL_INTERVAL": "60",
            "OVERCAST_LOGLEVEL": "DEBUG"})
        cc.start()
        clc = wh.parse_shell_vars(os.path.join(env.home, "clc", "component-credentials"))
        api = nh.NcClient(cc.endpoint, clc["AWS_ACCESS_KEY_ID"], clc["AWS_SECRET_ACCESS_KEY"],
                          service="cc")
        api.call("ccRegisterNode", NodeName="bench", Host="127.0.0.1", Port=node.port)
        insts = []
        per = INSTANCES // GROUPS
        for g in range(GROUPS):
            gid = "sg-bench%04d" % g
            rules = {"GroupId": gid}
            for k in range(5):
                rules.update({"Rule.%d.Protocol" % (k + 1): "tcp",
                              "Rule.%d.FromPort" % (k + 1): 1000 + k,
                              "Rule.%d.ToPort" % (k + 1): 1000 + k,
                              "Rule.%d.CidrIp" % (k + 1): "192.0.2.0/24"})
            api.call("ccConfigureNetwork", **rules)
            p = {"ReservationId": "r-bench%04d" % g, "InstanceType": "t2.nano", "VCpus": 1,
                 "MemoryMiB": 128, "DiskGiB": 1, "GroupId": gid, "ImageId": "emi-00000001",
                 "ImageLocation": "b/k", "ImageDigest": "0" * 32}
            for k in range(per):
                p["InstanceId.%d" % (k + 1)] = "i-%08x" % (g * 1000 + k + 1)
            items = api.call("ccRunInstances", **p)["instancesSet"]
            insts += [(i["instanceId"], i["privateIpAddress"], gid) for i in items]
        assert len(insts) == INSTANCES

        def table():
            return sh("ip", "netns", "exec", ns, "nft", "list", "table", "ip", "overcast").stdout

        t = table()
        assert t.count("jump g-sg-bench") == GROUPS and t.count("tcp dport 100") == GROUPS * 5, t
        # 50 elastic IPs in place too.
        for k in range(50):
            api.call("ccAssignAddress", PublicIp="198.18.0.%d" % (k + 1), InstanceId=insts[k][0])

        log_mark = os.path.getsize(cc.logpath)
        eip_t, sg_t = [], []
        for r in range(ROUNDS):
            iid, priv, gid = insts[50 + r % 50]
            eip = "198.18.1.%d" % (r + 1)
            t0 = time.perf_counter()
            api.call("ccAssignAddress", PublicIp=eip, InstanceId=iid)
            eip_t.append(time.perf_counter() - t0)
            assert "%s : %s" % (eip, priv) in table()
            api.call("ccUnassignAddress", PublicIp=eip)
            rules = {"GroupId": gid}
            for k in range(6):
                rules.update({"Rule.%d.Protocol" % (k + 1): "tcp",
                              "Rule.%d.FromPort" % (k + 1): 1000 + k if k < 5 else 20000 + r,
                              "Rule.%d.ToPort" % (k + 1): 1000 + k if k < 5 else 20000 + r,
                              "Rule.%d.CidrIp" % (k + 1): "192.0.2.0/24"})
            t0 = time.perf_counter()
            api.call("ccConfigureNetwork", **rules)
            sg_t.append(time.perf_counter() - t0)
            assert "tcp dport %d accept" % (20000 + r) in table()

        # The fixed cost of a call (signing, HTTP, verifying): a cheap read.
        call_t = []
        for r in range(ROUNDS):
            t0 = time.perf_counter()
            api.call("ccDescribeNodes")
            call_t.append(time.perf_counter() - t0)

        # Baseline: inside the namespace, a table of the same size, one
        # `nft add rule` process per round.
        base = sh("ip", "netns", "exec", ns, "nft", "list", "table", "ip", "overcast").stdout
        base = base.replace("table ip overcast", "table ip ocbase", 1)
        base = re.sub(r"\n\t\t[^\n]*(169\.254\.169\.254|map @eip)[^\n]*", "", base)
        with open(os.path.join(tmp, "base.nft"), "w") as f:
            f.write(base)
        code = r"""
import subprocess, sys, time, statistics
subprocess.run(["nft", "-f", sys.argv[1]], check=True)
ts = []
for r in range(int(sys.argv[2])):
    cmd = ["nft", "add", "rule", "ip", "ocbase", "prerouting", "ip", "daddr",
           "198.18.1.%d" % (r + 1), "dnat", "to", "10.101.0.%d" % (r + 40)]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    ts.append(time.perf_counter() - t0)
subprocess.run(["nft", "delete", "table", "ip", "ocbase"], check=True)
print(statistics.median(ts))
"""
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code,
                              os.path.join(tmp, "base.nft"), str(ROUNDS)],
                             capture_output=True, text=True, check=True).stdout
        nft_med = float(out.strip())
        eip_med, sg_med = statistics.median(eip_t), statistics.median(sg_t)
        print("cores: %d; %d instances in %d groups (5 rules each), 50 elastic IPs in place; "
              "%d rounds, medians" % (os.cpu_count(), INSTANCES, GROUPS, ROUNDS))
        print("ccAssignAddress -> DNAT live      %.2f ms" % (eip_med * 1000))
        print("ccConfigureNetwork -> rule live   %.2f ms" % (sg_med * 1000))
        print("nft add rule (one process)        %.2f ms" % (nft_med * 1000))
        print("ccDescribeNodes (a call's floor)  %.2f ms" % (statistics.median(call_t) * 1000))
        # Where the CC's time goes (its DEBUG lines for the measured syncs).
        phases = {}
        with open(cc.logpath, errors="replace") as f:
            f.seek(log_mark)
            for line in f:
                m = re.search(r"data plane: sync ([\d.]+) ms \(model ([\d.]+), links ([\d.]+), "
                              r"table \w+ ([\d.]+), dhcp ([\d.]+)\)", line)
                if m:
                    for k, v in zip(("sync", "model", "links", "table", "dhcp"), m.groups()):
                        phases.setdefault(k, []).append(float(v))
        if phases:
            print("inside the CC, medians: " + ", ".join(
                "%s %.2f ms" % (k, statistics.median(v)) for k, v in phases.items()))
        print()
        print("RATIO cc_eip_live_vs_nft %.3f (info)" % (eip_med / nft_med))
        print("RATIO cc_sg_live_vs_nft %.3f (info)" % (sg_med / nft_med))
        print("RATIO cc_rule_live_vs_nft %.3f (target <= 2)" % (max(eip_med, sg_med) / nft_med))
    finally:
        if cc is not None:
            cc.stop()
            if os.environ.get("KEEPLOG"):
                shutil.copy(cc.logpath, os.environ["KEEPLOG"])
        if node is not None:
            node.close()
        if env is not None:
            env.shutdown()
        if made_ns:
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
