"""The body of tests/bench/fork.sh (read its header)."""

import os
import re
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import cloud_harness as ch  # noqa: E402
import nc_harness as nh  # noqa: E402
from nc_launch import MARK, wait_file  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "5"))


def first_line(path, t0, timeout=120):
    """Seconds from t0 until the file holds a whole line."""
    deadline = t0 + timeout
    while time.time() < deadline:
        try:
            with open(path, "rb") as f:
                if b"\n" in f.read(65536):
                    return time.time() - t0
        except OSError:
            pass
        time.sleep(0.001)
    raise RuntimeError("%s: no console line" % path)


def wait_marker(path, marker, t0, timeout=600):
    """Seconds from t0 until marker is on the console; a guest that panics
    (a TCG boot on an overloaded host can) ends the run at once."""
    deadline = t0 + timeout
    while time.time() < deadline:
        try:
            with open(path, "rb") as f:
                text = f.read()
            if marker.encode() in text:
                return time.time() - t0
            if b"Kernel panic" in text:
                raise RuntimeError("%s: the guest panicked:\n%s" % (
                    path, text[-800:].decode(errors="replace")))
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("%s: %r never appeared" % (path, marker))


def mem_available_kb():
    for line in open("/proc/meminfo"):
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    raise RuntimeError("no MemAvailable")


def smaps(pid, mem_kb=256 * 1024):
    """(whole-process PSS kB, guest RAM PSS kB).  Guest RAM is the mapping
    of mem_kb (up to 4 MiB more for alignment): the template's RAM file in
    a fork, anonymous memory in a libvirt VM.  (The largest mapping is not
    it: under TCG that can be QEMU's translation cache, 1 GiB by default.)"""
    total = 0
    guest = None
    size = pss = 0
    with open("/proc/%d/smaps" % pid) as f:
        lines = f.readlines() + ["0-0 end\n"]
    for line in lines:
        if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
            if mem_kb <= size <= mem_kb + 4096 and guest is None:
                guest = pss
            size = pss = 0
        elif line.startswith("Size:"):
            size = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
            total += pss
    if guest is None:
        raise RuntimeError("pid %d: no guest RAM mapping of %d kB" % (pid, mem_kb))
    return total, guest


def libvirt_pid(name):
    return int(open("/run/libvirt/qemu/%s.pid" % name).read().strip())


class Bench:
    def __init__(self):
        self.cloud = ch.Cloud(zones=(("zone-a", 1),), nc_env={
            "OVERCAST_NC_MAX_CORES": "32", "OVERCAST_NC_MAX_MEM_MB": "16384",
            "OVERCAST_NC_MAX_DISK_GB": "1000",
            "OVERCAST_LOGLEVEL": "WARN"}, clc_env={"OVERCAST_LOGLEVEL": "WARN"})

    def start(self):
        self.cloud.start()
        self.ec2 = self.cloud.env.ec2(2)
        self.node = self.cloud.clusters[0].ncs[0]
        self.mc_image = ch.register(self.cloud.env.ec2(1), "machine",
                                    "%s/rootdisk.img" % ch.IMAGE_BUCKET, "bench-mc",
                                    extra={"MacroComponent": "true"},
                                    KernelId=self.cloud.kernel, RamdiskId=self.cloud.ramdisk)
        self.cloud.env.ec2(1).modify_image_attribute(
            ImageId=self.mc_image, LaunchPermission={"Add": [{"Group": "all"}]})

    def run(self, image, n=1):
        t0 = time.time()
        r = self.ec2.run_instances(ImageId=image, MinCount=n, MaxCount=n,
                                   InstanceType="t1.micro")
        return t0, [i["InstanceId"] for i in r["Instances"]]

    def states(self, ids):
        return {i["InstanceId"]: i["State"]["Name"]
                for r in self.ec2.describe_instances(InstanceIds=ids)["Reservations"]
                for i in r["Instances"]}

    def wait_running(self, ids, timeout=600):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.states(ids)
            if all(v == "running" for v in s.values()):
                return
            if any(v == "terminated" for v in s.values()):
                raise RuntimeError("terminated: %s" % s)
            time.sleep(0.2)
        raise RuntimeError("not running: %s" % self.states(ids))

    def console(self, iid):
        return os.path.join(self.node.home, "nc", "instances", iid, "console.log")

    def terminate(self, ids):
        self.ec2.terminate_instances(InstanceIds=ids)
        deadline = time.time() + 180
        while time.time() < deadline and any(v != "terminated"
                                             for v in self.states(ids).values()):
            time.sleep(0.2)

    def stop(self):
        if self.cloud.env:
            try:
                left = [i for i, s in self.states([]).items() if s != "terminated"]
                if left:
                    self.terminate(left)
            except Exception as e:  # the cloud goes anyway
                print("cleanup: %s" % e)
        self.cloud.stop()

    def idle_ten(self, image, fork):
        """Memory of 10 idle instances: lists of (process PSS, guest PSS) kB,
        and the host's MemAvailable drop in kB."""
        before = mem_available_kb()
        _, ids = self.run(image, 10)
        self.wait_running(ids)
        # Both kinds are measured from the same point of their guest's work
        # (its address taken; the instance id and user data follow at once).
        # Forks used to be measured from MC-RESEEDED, before their DHCP: a
        # fork whose networking was slow would have been measured before
        # it had written those pages.
        for iid in ids:
            wait_marker(self.console(iid), MARK, time.time())
        time.sleep(5)   # idle
        after = mem_available_kb()
        per = []
        for iid in ids:
            if fork:
                pid = int(open(os.path.join(self.node.home, "nc", "instances", iid,
                                            "qemu.pid")).read())
            else:
                pid = libvirt_pid(iid)
            total, guest = smaps(pid)
            per.append((total, guest))
        self.terminate(ids)
        return per, before - after


def main():
    b = Bench()
    try:
        b.start()
        # Warm-up: the image cache for both, the template for the fork.
        t0, (cold,) = b.run(b.cloud.image)
        up = wait_file(b.console(cold), MARK, t0, timeout=300)
        t1, (fork,) = b.run(b.mc_image)
        b.wait_running([fork])
        print("warm-up: cold boot GUEST-UP %.2f s (image fetched); first fork running "
              "after %.2f s (template built)" % (up, time.time() - t1))
        b.terminate([cold, fork])
        cold_t, fork_t = [], []
        for r in range(ROUNDS):
            for which in ((0, 1) if r % 2 == 0 else (1, 0)):
                if which == 0:
                    t0, (iid,) = b.run(b.cloud.image)
                    cold_t.append(wait_file(b.console(iid), MARK, t0, timeout=300))
                else:
                    t0, (iid,) = b.run(b.mc_image)
                    fork_t.append(first_line(b.console(iid), t0))
                    # It must really be a resumed fork that comes up.
                    wait_file(b.console(iid), MARK, t0, timeout=300)
                    text = open(b.console(iid), errors="replace").read()
                    assert "MC-RESUMED" in text and "GUEST-BOOT" not in text, text[-500:]
                b.terminate([iid])
            print("round %d: cold boot -> GUEST-UP %.3f s | fork -> first console line "
                  "%.3f s" % (r + 1, cold_t[-1], fork_t[-1]))
        m = statistics.median
        fork_mem, fork_host = b.idle_ten(b.mc_image, True)
        cold_mem, cold_host = b.idle_ten(b.cloud.image, False)
        tmpl = sum(os.stat(os.path.join(b.cloud.ram_dir, f)).st_blocks * 512
                   for f in os.listdir(b.cloud.ram_dir))
        fp, fg = m(x[0] for x in fork_mem), m(x[1] for x in fork_mem)
        cp, cg = m(x[0] for x in cold_mem), m(x[1] for x in cold_mem)
        print("latency (medians of %d): cold boot %.3f s, fork %.3f s" % (ROUNDS, m(cold_t),
                                                                          m(fork_t)))
        print("10 idle, per instance (medians): fork guest RAM PSS %.1f MiB, process PSS "
              "%.1f MiB | cold guest RAM PSS %.1f MiB, process PSS %.1f MiB"
              % (fg / 1024, fp / 1024, cg / 1024, cp / 1024))
        print("10 idle, host MemAvailable drop: forks %.1f MiB, cold %.1f MiB; template RAM "
              "file (charged once) %.1f MiB" % (fork_host / 1024, cold_host / 1024,
                                                tmpl / 2**20))
        print("RATIO fork_vs_coldboot %.4f (target <= 0.02)" % (m(fork_t) / m(cold_t)))
        print("RATIO fork_mem_vs_cold %.4f (target <= 0.05)" % (fg / cg))
        print("RATIO fork_pss_vs_cold %.4f (info)" % (fp / cp))
        print("RATIO fork_host_delta_vs_cold %.4f (info)" % (fork_host / max(cold_host, 1)))
    finally:
        b.stop()


if __name__ == "__main__":
    main()
