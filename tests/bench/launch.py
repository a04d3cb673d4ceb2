"""The body of tests/bench/launch.sh (read its header)."""

import http.client
import os
import statistics
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import cloud_harness as ch  # noqa: E402
import nc_harness as nh  # noqa: E402
from ec2_sign import sign  # noqa: E402
from nc_launch import MARK, wait_file  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))


class StatePoller:
    """Instance states by DescribeInstances, cheaply: one SigV4-signed
    request per set of ids, signed once and sent again on one keep-alive
    connection (a signature stays valid for the 15-minute skew window; it
    is redone after 5 minutes).  The CLC checks the signature of every
    request as usual.  boto3 signs, builds and parses every call in
    Python: polled every 10 ms that is a third of a core, taken from the
    QEMU being started on this 2-core machine, and the baseline's client
    (waiting on virsh) pays nothing of the kind."""

    def __init__(self, env, who):
        self.ak, self.sk = env.keys(who)
        self.endpoint = env.clc.endpoint
        self.url = urllib.parse.urlsplit(env.clc.endpoint)
        self.conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=30)
        self.signed = {}

    def _request(self, ids):
        key = tuple(ids)
        hit = self.signed.get(key)
        if hit and time.time() - hit[0] < 300:
            return hit[1], hit[2]
        body, headers = sign(self.endpoint, self.ak, self.sk, "DescribeInstances",
                             [("InstanceId.%d" % (k + 1), i) for k, i in enumerate(ids)])
        self.signed[key] = (time.time(), body, headers)
        return body, headers

    def states(self, ids):
        """{instance id: state name} for ids."""
        body, headers = self._request(ids)
        self.conn.request("POST", "/", body=body, headers=headers)
        r = self.conn.getresponse()
        text = r.read()
        if r.status != 200:
            raise RuntimeError("DescribeInstances: %d %s" % (r.status, text[:300]))
        out = {}
        for item in ET.fromstring(text).iter():
            if item.tag.endswith("}instancesSet"):
                for inst in item:
                    iid = inst.find("{*}instanceId").text
                    out[iid] = inst.find("{*}instanceState/{*}name").text
        return out


class Bench:
    def __init__(self):
        # One node with room for 11 small guests (256 MiB, one vCPU each).
        self.cloud = ch.Cloud(zones=(("zone-a", 1),), nc_env={
            "OVERCAST_NC_MAX_CORES": "16", "OVERCAST_NC_MAX_MEM_MB": "8192",
            "OVERCAST_NC_MAX_DISK_GB": "500",
            "OVERCAST_LOGLEVEL": "WARN"}, clc_env={"OVERCAST_LOGLEVEL": "WARN"})
        self.baseline_doms = []

    def start(self):
        self.cloud.start()
        self.ec2 = self.cloud.env.ec2(2)
        self.poller = StatePoller(self.cloud.env, 2)
        self.node = self.cloud.clusters[0].ncs[0]

    def state(self, iid):
        return self.poller.states([iid])[iid]

    def run(self):
        """(seconds to running, id) of one RunInstances."""
        t0 = time.time()
        iid = self.ec2.run_instances(ImageId=self.cloud.image, MinCount=1, MaxCount=1,
                                     InstanceType="t1.micro")["Instances"][0]["InstanceId"]
        while True:
            s = self.state(iid)
            if s == "running":
                return time.time() - t0, t0, iid
            if s == "terminated":
                raise RuntimeError("%s terminated" % iid)
            time.sleep(0.01)

    def console(self, iid):
        return os.path.join(self.node.home, "nc", "instances", iid, "console.log")

    def terminate(self, ids):
        self.ec2.terminate_instances(InstanceIds=ids)
        deadline = time.time() + 120
        while time.time() < deadline and any(nh.domain_exists(i) for i in ids):
            time.sleep(0.1)

    def virsh(self, template, name, wait_up):
        path, console = nh.virsh_clone(template, self.cloud.tmp, name, keep_mac=True)
        self.baseline_doms.append(name)
        t0 = time.time()
        nh.run(*nh.VIRSH, "create", path)
        t_run = time.time() - t0
        t_up = wait_file(console, MARK, t0) if wait_up else None
        return t_run, t_up

    def stop(self):
        for name in self.baseline_doms:
            nh.destroy_domain(name)
        left = [i["InstanceId"] for r in self.ec2.describe_instances()["Reservations"]
                for i in r["Instances"] if i["State"]["Name"] != "terminated"] \
            if self.cloud.env else []
        if left:
            self.terminate(left)
        self.cloud.stop()


def main():
    b = Bench()
    try:
        b.start()
        t, t0, iid = b.run()
        up = wait_file(b.console(iid), MARK, t0)
        print("warm-up launch (image fetched into the cache): running %.2f s, GUEST-UP %.2f s"
              % (t, up))
        template = nh.capture_domain(iid, os.path.join(b.node.home, "nc", "instances", iid))
        # Stopped, the warm-up instance keeps its MAC and address in the
        # CC's DHCP server: the virsh copies (same MAC) get DHCP the same way.
        b.ec2.stop_instances(InstanceIds=[iid])
        while b.state(iid) != "stopped":
            time.sleep(0.2)
        oc_run, oc_up, vr_run, vr_up = [], [], [], []
        for r in range(ROUNDS):
            for which in ((0, 1) if r % 2 == 0 else (1, 0)):
                if which == 0:
                    t, t0, iid = b.run()
                    oc_run.append(t)
                    oc_up.append(wait_file(b.console(iid), MARK, t0))
                    b.terminate([iid])
                else:
                    name = "ocbench-%d-%d" % (os.getpid(), r)
                    tr, tu = b.virsh(template, name, True)
                    nh.destroy_domain(name)
                    vr_run.append(tr)
                    vr_up.append(tu)
            print("round %d: overcast running %.3f s, GUEST-UP %.2f s | virsh create "
                  "returned %.3f s, GUEST-UP %.2f s" % (r + 1, oc_run[-1], oc_up[-1],
                                                        vr_run[-1], vr_up[-1]))
        # 10 virsh create one after the other, to the last returned.
        s0 = time.time()
        names = []
        for k in range(10):
            names.append("ocbench-seq-%d-%d" % (os.getpid(), k))
            b.virsh(template, names[-1], False)
        seq = time.time() - s0
        for n in names:
            nh.destroy_domain(n)
        # 10 RunInstances at once, to the last running.  Each thread only
        # calls RunInstances; one poller (StatePoller) asks about all of
        # them every 20 ms.  (Ten threads each polling every 10 ms kept a
        # whole core busy signing and parsing in Python, a core the launches
        # and the guests need: the client, not the cloud, was measured.)
        launched, errors, lock = {}, [], threading.Lock()

        def one(k):
            try:
                t = time.time()
                iid = b.ec2.run_instances(ImageId=b.cloud.image, MinCount=1, MaxCount=1,
                                          InstanceType="t1.micro")["Instances"][0]["InstanceId"]
                with lock:
                    launched[iid] = t
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=one, args=(k,)) for k in range(10)]
        c0 = time.time()
        for th in threads:
            th.start()
        running = {}
        deadline = c0 + 300
        while len(running) < 10 and not errors and time.time() < deadline:
            with lock:
                ids = [i for i in launched if i not in running]
            if ids:
                for iid, st in b.poller.states(ids).items():
                    if st == "running":
                        running[iid] = time.time()
                    elif st == "terminated":
                        errors.append(RuntimeError("%s terminated" % iid))
            time.sleep(0.02)
        for th in threads:
            th.join()
        conc = max(running.values()) - c0 if running else float("inf")
        if errors or len(running) != 10:
            raise RuntimeError("concurrent launches failed: %s (%d running)"
                               % (errors, len(running)))
        results = [(running[i] - launched[i], launched[i], i) for i in running]
        b.terminate([r[2] for r in results])
        m = statistics.median
        print("overcast: RunInstances -> running %.3f s, -> GUEST-UP %.2f s (medians of %d)"
              % (m(oc_run), m(oc_up), ROUNDS))
        print("virsh:    create returned %.3f s, GUEST-UP %.2f s (medians of %d)"
              % (m(vr_run), m(vr_up), ROUNDS))
        each = sorted(r[0] for r in results)
        print("10 at once: last running after %.2f s (each: first %.2f, median %.2f s); "
              "10 virsh create in a row: %.2f s" % (conc, each[0], m(each), seq))
        print("RATIO run_to_running_vs_virsh %.3f (target <= 1.1)" % (m(oc_run) / m(vr_run)))
        print("RATIO run_to_guestup_vs_virsh %.3f (info)" % (m(oc_up) / m(vr_up)))
        print("RATIO run10_concurrent_vs_sequential %.3f (target <= 0.5)" % (conc / seq))
    finally:
        b.stop()


if __name__ == "__main__":
    main()
