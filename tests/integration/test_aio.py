"""The README's first command, scripts/aio.sh, run as a newcomer would run
it (with OVERCAST_HOME in a temporary directory), then driven with the stock
awscli through the eucarc it wrote (its `aws` helper fills --endpoint-url
in: Debian's awscli 2.9 reads no endpoint variables) and with boto3:

  register image (aio.sh did, through Walrus) -> run 2 instances with user
  data and a key pair -> running -> each console shows the guest's DHCP
  address (= DescribeInstances' private IP), its instance id and its user
  data, read from the metadata service -> tags and filters -> reboot ->
  terminate -> gone; aio.sh again is harmless; aio.sh stop removes the
  namespaces, bridges and table and stops every daemon.

It uses the all-in-one's fixed ports (8773-8776, 8780) and names (network
namespaces overcast and overcast-out, bridge ocnode0): when any of them is
taken the test fails and says so.
"""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

import boto3
import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nc_harness as nh  # noqa: E402
import walrus_harness as wh  # noqa: E402

AIO = os.path.join(wh.SRCDIR, "scripts", "aio.sh")
PORTS = (8773, 8774, 8775, 8776, 8780)
UD = "#!/bin/sh\necho AIO-USER-DATA-RAN\n"


def port_taken(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
        return True
    except OSError:
        return False


def aio(home, *args, timeout=1200):
    env = dict(os.environ, OVERCAST_HOME=home)
    return subprocess.run(["bash", AIO] + list(args), capture_output=True, text=True, env=env,
                          timeout=timeout)


def sh(home, script, check=True, timeout=300):
    """bash -c with eucarc sourced: what a user types."""
    p = subprocess.run(["bash", "-c", "set -e; source %s/admin/eucarc; %s" % (home, script)],
                       capture_output=True, text=True, timeout=timeout,
                       env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home})
    if check and p.returncode != 0:
        raise AssertionError("%s failed (%d):\n%s\n%s" % (script, p.returncode, p.stdout,
                                                          p.stderr))
    return p.stdout


def cleanup_instances(home):
    """Terminates what the test left running, then ends any domain of this
    all-in-one's node that is still there (by its name)."""
    try:
        v = wh.parse_shell_vars(os.path.join(home, "admin", "eucarc"))
        ec2 = boto3.client("ec2", endpoint_url=v["EC2_URL"], region_name=v["AWS_DEFAULT_REGION"],
                           aws_access_key_id=v["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=v["AWS_SECRET_ACCESS_KEY"])
        live = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
                for i in r["Instances"] if i["State"]["Name"] != "terminated"]
        if live:
            ec2.terminate_instances(InstanceIds=live)
    except Exception as e:  # the daemons may be down: the domains below still go
        sys.stderr.write("aio cleanup: %s\n" % e)
    inst = os.path.join(home, "nc", "instances")
    names = os.listdir(inst) if os.path.isdir(inst) else []
    deadline = time.time() + 60
    while time.time() < deadline and any(nh.domain_exists(n) for n in names):
        time.sleep(1)
    for n in names:
        nh.destroy_domain(n)


@pytest.fixture(scope="module")
def allinone():
    taken = [p for p in PORTS if port_taken(p)]
    if taken:
        pytest.fail("the all-in-one's ports %s are in use on this host" % taken)
    if subprocess.run(["ip", "netns", "pids", "overcast"], capture_output=True).returncode == 0:
        pytest.fail("a network namespace 'overcast' exists already (another all-in-one?)")
    libvirtd = nh.Libvirtd()
    libvirtd.ensure()
    home = tempfile.mkdtemp(prefix="overcast-aio-")
    started = None
    try:
        started = aio(home)
        assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
        yield home, started.stdout
    finally:
        if started is not None:
            cleanup_instances(home)
        stopped = aio(home, "stop")
        for log in ("clc", "cc", "nc", "walrus"):
            path = os.path.join(home, "log", "%s.log" % log)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    sys.stderr.write("\n--- aio %s log tail ---\n%s\n" % (log, f.read()[-2500:]))
        libvirtd.stop()
        shutil.rmtree(home, ignore_errors=True)
        assert stopped.returncode == 0, stopped.stderr


def test_allinone_with_awscli_and_boto3(allinone):
    home, out = allinone
    m = re.search(r"aws ec2 run-instances --image-id (ami-[0-9a-f]+)", out)
    assert m, out
    ami = m.group(1)
    assert "source %s/admin/eucarc" % home in out and "get-console-output" in out

    # The console answers with the password aio.sh printed where to find,
    # and the admin API sees the node aio.sh registered through it.
    assert "console-password" in out
    with open(os.path.join(home, "admin", "console-password")) as f:
        pw = f.read().strip()
    s = requests.Session()
    s.trust_env = False
    r = s.post("http://127.0.0.1:8773/console/api/login", timeout=60,
               data={"Account": "eucalyptus", "UserName": "admin", "Password": pw})
    assert r.status_code == 200, r.text
    csrf = ET.fromstring(r.content).findtext("CsrfToken")
    r = s.post("http://127.0.0.1:8773/services/Empyrean", timeout=60,
               data={"Action": "DescribeNodeControllers", "Version": "eucalyptus"},
               headers={"X-Overcast-Csrf": csrf})
    assert r.status_code == 200 and "<name>node1</name>" in r.text, r.text
    assert "<state>ENABLED</state>" in r.text, r.text

    # The image aio.sh registered, as the awscli sees it.
    imgs = json.loads(sh(home, "aws ec2 describe-images --image-ids %s" % ami))["Images"]
    assert imgs[0]["ImageType"] == "machine" and imgs[0]["KernelId"].startswith("aki-")

    # Two instances with user data and a key pair, with the stock CLI.
    sh(home, "aws ec2 create-key-pair --key-name aio-key --query KeyMaterial --output text"
             " > %s/aio-key.pem" % home)
    with open(os.path.join(home, "ud.sh"), "w") as f:
        f.write(UD)
    res = json.loads(sh(home, "aws ec2 run-instances --image-id %s --count 2 --instance-type"
                              " m1.small --key-name aio-key --user-data file://%s/ud.sh"
                              % (ami, home)))
    ids = [i["InstanceId"] for i in res["Instances"]]
    assert len(ids) == 2 and all(i["State"]["Name"] == "pending" for i in res["Instances"]), res

    v = wh.parse_shell_vars(os.path.join(home, "admin", "eucarc"))
    ec2 = boto3.client("ec2", endpoint_url=v["EC2_URL"], region_name=v["AWS_DEFAULT_REGION"],
                       aws_access_key_id=v["AWS_ACCESS_KEY_ID"],
                       aws_secret_access_key=v["AWS_SECRET_ACCESS_KEY"])
    deadline = time.time() + 300
    while time.time() < deadline:
        states = {i["InstanceId"]: i for r in ec2.describe_instances(InstanceIds=ids)[
            "Reservations"] for i in r["Instances"]}
        if all(states[i]["State"]["Name"] == "running" for i in ids):
            break
        time.sleep(1)
    assert all(states[i]["State"]["Name"] == "running" for i in ids), states

    for iid in ids:
        deadline = time.time() + 300
        text = ""
        while time.time() < deadline:
            text = json.loads(sh(home, "aws ec2 get-console-output --instance-id %s" % iid)).get(
                "Output", "")
            if "AIO-USER-DATA-RAN" in text:
                break
            time.sleep(2)
        ip = re.search(r"^GUEST-UP ip=(\S+)", text, re.M)
        assert ip and ip.group(1) == states[iid]["PrivateIpAddress"], text[-2000:]
        assert re.search(r"^GUEST-IID %s\s*$" % iid, text, re.M), text[-2000:]
        ud = re.search(r"^GUEST-USERDATA-B64 (\S+)", text, re.M)
        assert ud and base64.b64decode(ud.group(1)).decode() == UD
        assert "AIO-USER-DATA-RAN" in text

    # Tags and filters (boto3).
    ec2.create_tags(Resources=[ids[0]], Tags=[{"Key": "role", "Value": "first"}])
    got = [i["InstanceId"] for r in ec2.describe_instances(Filters=[
        {"Name": "tag:role", "Values": ["first"]},
        {"Name": "key-name", "Values": ["aio-key"]}])["Reservations"] for i in r["Instances"]]
    assert got == [ids[0]]
    got = json.loads(sh(home, "aws ec2 describe-instances --filters"
                              " Name=private-ip-address,Values=%s --query"
                              " 'Reservations[].Instances[].InstanceId'"
                              % states[ids[1]]["PrivateIpAddress"]))
    assert got == [ids[1]]

    # Reboot: a second boot on the console.
    ec2.reboot_instances(InstanceIds=[ids[1]])
    deadline = time.time() + 300
    while time.time() < deadline:
        text = ec2.get_console_output(InstanceId=ids[1])["Output"]
        if len(re.findall(r"^GUEST-UP ip=", text, re.M)) >= 2:
            break
        time.sleep(2)
    assert len(re.findall(r"^GUEST-UP ip=", text, re.M)) >= 2, text[-2000:]

    # Running aio.sh again changes nothing that runs.
    again = aio(home)
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.stdout.count("already running") == 4, again.stdout
    assert ec2.describe_instances(InstanceIds=ids)["Reservations"]

    # Terminate: gone.
    sh(home, "aws ec2 terminate-instances --instance-ids %s %s" % tuple(ids))
    deadline = time.time() + 120
    while time.time() < deadline:
        st = [i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=ids)[
            "Reservations"] for i in r["Instances"]]
        if st == ["terminated"] * 2 and not any(nh.domain_exists(i) for i in ids):
            break
        time.sleep(1)
    assert st == ["terminated"] * 2 and not any(nh.domain_exists(i) for i in ids)


def test_stop_removes_everything(allinone):
    home, _ = allinone
    p = aio(home, "stop")
    assert p.returncode == 0, p.stderr
    for port in PORTS:
        assert not port_taken(port), port
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not re.search(r"^overcast(-out)?\b", ns, re.M), ns
    assert subprocess.run(["ip", "link", "show", "ocnode0"], capture_output=True).returncode != 0
    assert "stopped" in aio(home, "status").stdout
