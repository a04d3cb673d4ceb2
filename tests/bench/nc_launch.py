"""The body of tests/bench/nc-launch.sh (read its header)."""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import nc_harness as nh  # noqa: E402
import walrus_harness as wh  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))
MARK = "GUEST-UP ip="


def wait_file(path, marker, t0, timeout=300):
    deadline = t0 + timeout
    while time.time() < deadline:
        try:
            with open(path, "rb") as f:
                if marker.encode() in f.read():
                    return time.time() - t0
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("%s: %r never appeared" % (path, marker))


class Bench:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="overcast-ncbench-")
        self.libvirtd = nh.Libvirtd()
        self.net = nh.TestNet(dhcp=True)
        self.env = self.nc = None
        self.made = []
        self.baseline_doms = []

    def start(self):
        self.libvirtd.ensure()
        self.guest = nh.guest_dir()
        self.env = wh.start_env(self.tmp)
        self.net.up(self.tmp)
        self.nc = nh.Nc(self.env.home, env={
            "OVERCAST_CLC_URL": self.env.clc.endpoint,
            "OVERCAST_WALRUS_URL": self.env.endpoint,
            "OVERCAST_LIBVIRT_URI": "qemu:///system", "OVERCAST_HYPERVISOR": "qemu",
            "OVERCAST_NC_MAX_CORES": "16", "OVERCAST_NC_MAX_MEM_MB": "8192",
            "OVERCAST_NC_MAX_DISK_GB": "100", "OVERCAST_LOGLEVEL": "WARN"})
        self.nc.start()
        cc = wh.parse_shell_vars(os.path.join(self.env.home, "cc", "clc-credentials"))
        self.api = nh.NcClient(self.nc.endpoint, cc["AWS_ACCESS_KEY_ID"],
                               cc["AWS_SECRET_ACCESS_KEY"])
        s3 = self.env.client(1)
        s3.create_bucket(Bucket="bench")
        self.img = {}
        for name in ("vmlinuz", "initrd.img", "rootdisk.img"):
            with open(os.path.join(self.guest, name), "rb") as f:
                data = f.read()
            s3.put_object(Bucket="bench", Key=name, Body=data)
            import hashlib
            self.img[name] = ("bench/" + name, hashlib.md5(data).hexdigest())

    def params(self, iid):
        p = {"InstanceId": iid, "InstanceType": "t2.nano", "VCpus": 1, "MemoryMiB": 256,
             "DiskGiB": 1, "MacAddress": nh.new_mac(), "Bridge": self.net.bridge,
             "ImageId": "emi-0000000a", "ImageLocation": self.img["rootdisk.img"][0],
             "ImageDigest": self.img["rootdisk.img"][1],
             "KernelId": "eki-0000000b", "KernelLocation": self.img["vmlinuz"][0],
             "KernelDigest": self.img["vmlinuz"][1],
             "RamdiskId": "eri-0000000c", "RamdiskLocation": self.img["initrd.img"][0],
             "RamdiskDigest": self.img["initrd.img"][1]}
        return p

    def console(self, iid):
        return os.path.join(self.env.home, "nc", "instances", iid, "console.log")

    def nc_launch(self):
        """(seconds to running, seconds to GUEST-UP, id)."""
        iid = nh.new_instance_id()
        self.made.append(iid)
        t0 = time.time()
        self.api.call("ncRunInstance", **self.params(iid))
        while self.api.state(iid) != "running":
            if self.api.state(iid) == "terminated":
                raise RuntimeError("%s terminated: %s" % (iid, self.api.describe(iid)))
            time.sleep(0.01)
        t_run = time.time() - t0
        t_up = wait_file(self.console(iid), MARK, t0)
        return t_run, t_up, iid

    def terminate(self, iid):
        self.api.call("ncTerminateInstance", InstanceId=iid)
        deadline = time.time() + 60
        while self.api.state(iid) != "terminated" and time.time() < deadline:
            time.sleep(0.05)

    def capture(self, iid):
        """The domain XML the NC made for iid, and its overlay's base."""
        return nh.capture_domain(iid, os.path.join(self.env.home, "nc", "instances", iid))

    def virsh_launch(self, template, n):
        """virsh create of the NC's domain XML, renamed, own overlay and console."""
        name = "ocbench-%d-%d" % (os.getpid(), n)
        path, console = nh.virsh_clone(template, self.tmp, name)
        self.baseline_doms.append(name)
        t0 = time.time()
        nh.run(*nh.VIRSH, "create", path)
        t_run = time.time() - t0
        t_up = wait_file(console, MARK, t0)
        nh.destroy_domain(name)
        return t_run, t_up

    def stop(self):
        for iid in self.made:
            try:
                self.api.call("ncTerminateInstance", InstanceId=iid)
            except Exception:
                pass
        deadline = time.time() + 60
        while time.time() < deadline and any(nh.domain_exists(i) for i in self.made):
            time.sleep(0.2)
        for name in self.made + self.baseline_doms:
            nh.destroy_domain(name)
        if self.nc is not None:
            self.nc.stop()
        if self.env is not None:
            self.env.shutdown()
        self.net.down()
        self.libvirtd.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    b = Bench()
    try:
        b.start()
        # Warm-up: fills the image cache and QEMU's first-start costs.
        _, t, iid = b.nc_launch()
        print("warm-up launch (image fetched into the cache): %.2f s to GUEST-UP" % t)
        template = b.capture(iid)
        b.terminate(iid)   # nothing else runs while launches are timed
        nc_run, nc_up, vr_run, vr_up = [], [], [], []
        for r in range(ROUNDS):
            # Alternate which goes first, so neither always follows the other.
            for which in ((0, 1) if r % 2 == 0 else (1, 0)):
                if which == 0:
                    tr, tu, iid = b.nc_launch()
                    b.terminate(iid)
                    nc_run.append(tr)
                    nc_up.append(tu)
                else:
                    tr, tu = b.virsh_launch(template, r)
                    vr_run.append(tr)
                    vr_up.append(tu)
            print("round %d: overcast running %.3f s, GUEST-UP %.2f s | virsh create "
                  "returned %.3f s, GUEST-UP %.2f s" % (r + 1, nc_run[-1], nc_up[-1],
                                                        vr_run[-1], vr_up[-1]))
        seq_t0 = time.time()
        for _ in range(4):
            _, _, iid = b.nc_launch()
        seq = time.time() - seq_t0
        for iid in b.made[-4:]:
            b.terminate(iid)
        results = []
        conc_t0 = time.time()
        threads = [threading.Thread(target=lambda: results.append(b.nc_launch()))
                   for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        conc = time.time() - conc_t0
        if len(results) != 4:
            raise RuntimeError("a concurrent launch failed")
        for r in results:
            b.terminate(r[2])
        m = statistics.median
        print("overcast: running %.3f s, GUEST-UP %.2f s (medians of %d)"
              % (m(nc_run), m(nc_up), ROUNDS))
        print("virsh:    returned %.3f s, GUEST-UP %.2f s (medians of %d)"
              % (m(vr_run), m(vr_up), ROUNDS))
        print("4 launches to GUEST-UP: one after another %.2f s, at once %.2f s" % (seq, conc))
        print("RATIO nc_launch_vs_virsh %.3f (target <= 1.1)" % (m(nc_up) / m(vr_up)))
        print("RATIO nc_running_vs_virsh %.3f (info)" % (m(nc_run) / m(vr_run)))
        print("RATIO nc_launch4_concurrent_vs_sequential %.3f (target <= 1)" % (conc / seq))
    finally:
        b.stop()


if __name__ == "__main__":
    main()
