"""The CLC's describe calls about the cloud itself: DescribeRegions,
DescribeAvailabilityZones (zones are registered clusters; `verbose` is
Eucalyptus's admin capacity listing), DescribeInstanceTypes (AWS shape,
filters, pagination through boto3's paginator and awscli) and
DescribeAccountAttributes, through boto3, awscli v2 and boto2 (SigV2).

Zones: the harness registers one cluster (walrus_harness.TEST_ZONE) before
the CLC starts; tests that need more register them with `overcast-clc
register-cluster` (cloud.clc.register_cluster) and deregister them after.
"""

import json
import re
import uuid

import botocore.exceptions
import pytest

import walrus_harness as wh


def fails(code, fn, *args, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(*args, **kw)
    err = ei.value.response["Error"]
    assert err["Code"] == code, ei.value.response
    assert err["Message"]
    return err["Message"]

def unchecked(cloud, who):
    """A boto3 client that leaves parameter checks to the server (botocore
    itself refuses MaxResults below the model's minimum)."""
    from botocore.config import Config
    return cloud.ec2(who, config=Config(parameter_validation=False,
                                        retries={"max_attempts": 1, "mode": "standard"}))



# --------------------------------------------------------------------------
# regions

def test_describe_regions_boto3(cloud):
    ec2 = cloud.ec2(2)
    regions = ec2.describe_regions()["Regions"]
    assert len(regions) == 1
    r = regions[0]
    assert r["RegionName"] == "us-east-1"       # the CLC's default REGION
    # The endpoint is where this client reached the region.
    assert r["Endpoint"] == "127.0.0.1:%d" % cloud.clc.port
    assert r["OptInStatus"] == "opt-in-not-required"
    assert ec2.describe_regions(RegionNames=["us-east-1"])["Regions"] == regions
    assert ec2.describe_regions(AllRegions=True)["Regions"] == regions
    msg = fails("InvalidParameterValue", ec2.describe_regions, RegionNames=["mars-north-1"])
    assert "mars-north-1" in msg
    f = lambda n, v: ec2.describe_regions(Filters=[{"Name": n, "Values": v}])["Regions"]  # noqa
    assert f("region-name", ["us-*"]) == regions
    assert f("region-name", ["eu-*"]) == []
    assert f("endpoint", ["*:%d" % cloud.clc.port]) == regions
    assert f("opt-in-status", ["opt-in-not-required"]) == regions
    fails("InvalidParameterValue", ec2.describe_regions,
          Filters=[{"Name": "no-such-filter", "Values": ["x"]}])


def test_describe_regions_awscli_and_boto2(cloud):
    out = json.loads(cloud.ec2cli("ec2", "describe-regions", profile="user2").stdout)
    assert [r["RegionName"] for r in out["Regions"]] == ["us-east-1"]
    conn = cloud.boto2_ec2(2)
    regions = conn.get_all_regions()
    assert [r.name for r in regions] == ["us-east-1"]
    # boto2 sends a Host header without the port; the endpoint echoes it.
    assert regions[0].endpoint.split(":")[0] == "127.0.0.1"


# --------------------------------------------------------------------------
# availability zones

def zone_names(ec2, **kw):
    return [z["ZoneName"] for z in ec2.describe_availability_zones(**kw)["AvailabilityZones"]]


def test_describe_zones(cloud):
    ec2 = cloud.ec2(2)
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    z = [z for z in zones if z["ZoneName"] == wh.TEST_ZONE]
    assert len(z) == 1, zones
    z = z[0]
    assert z["State"] == "available"
    assert z["RegionName"] == "us-east-1"
    assert z["ZoneType"] == "availability-zone"
    assert re.match(r"^[a-z0-9]+-az\d+$", z["ZoneId"]), z
    assert z["Messages"] == []
    assert zone_names(ec2, ZoneNames=[wh.TEST_ZONE]) == [wh.TEST_ZONE]
    assert zone_names(ec2, ZoneIds=[z["ZoneId"]]) == [wh.TEST_ZONE]
    msg = fails("InvalidParameterValue", ec2.describe_availability_zones,
                ZoneNames=["no-such-zone"])
    assert "no-such-zone" in msg
    # `verbose` is an admin word; for others it is a zone that does not exist.
    fails("InvalidParameterValue", ec2.describe_availability_zones, ZoneNames=["verbose"])
    fails("InvalidParameterValue", ec2.describe_availability_zones,
          Filters=[{"Name": "bogus", "Values": ["x"]}])


def test_zones_follow_registered_clusters(cloud):
    ec2 = cloud.ec2(3)
    extra = "zone-%s" % uuid.uuid4().hex[:6]
    assert extra not in zone_names(ec2)
    cloud.clc.register_cluster(extra, "127.0.0.1", 18774)
    try:
        assert extra in zone_names(ec2)
        assert zone_names(ec2, ZoneNames=[extra]) == [extra]
        assert sorted(zone_names(ec2, ZoneNames=[extra, wh.TEST_ZONE])) == \
            sorted([extra, wh.TEST_ZONE])
        f = lambda n, v: zone_names(ec2, Filters=[{"Name": n, "Values": v}])  # noqa
        assert f("zone-name", [extra]) == [extra]
        assert f("zone-name", [extra[:-2] + "??"]) == [extra]
        assert sorted(f("zone-name", ["zone-*"])) == sorted(
            [n for n in zone_names(ec2) if n.startswith("zone-")])
        assert f("state", ["unavailable"]) == []
        assert extra in f("state", ["available"])
        assert extra in f("region-name", ["us-east-1"])
        assert f("region-name", ["eu-west-1"]) == []
        ids = {z["ZoneName"]: z["ZoneId"]
               for z in ec2.describe_availability_zones()["AvailabilityZones"]}
        assert len(set(ids.values())) == len(ids)          # zone ids are distinct
        assert f("zone-id", [ids[extra]]) == [extra]
    finally:
        cloud.clc.command("deregister-cluster", extra)
    assert extra not in zone_names(ec2)


def test_zones_verbose_for_admin(cloud):
    ec2 = cloud.ec2(1)
    items = ec2.describe_availability_zones(ZoneNames=["verbose"])["AvailabilityZones"]
    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    names = [i["ZoneName"] for i in items]
    assert wh.TEST_ZONE in names
    at = names.index(wh.TEST_ZONE)
    head = items[at]
    assert head["State"] == ("127.0.0.1 arn:euca:eucalyptus:%s:cluster:%s/"
                                 % (wh.TEST_ZONE, wh.TEST_ZONE))
    assert items[at + 1]["ZoneName"] == "|- vm types"
    assert items[at + 1]["State"] == "free / max   cpu   ram  disk"
    seen = {}
    for it in items[at + 2:]:
        if not it["ZoneName"].startswith("|- "):
            break
        m = re.match(r"^(\d{4}) / (\d{4})  +(\d+)   +(\d+)  +(\d+)$", it["State"])
        assert m, it
        free, mx, cpu, ram, disk = map(int, m.groups())
        assert free <= mx
        seen[it["ZoneName"][3:]] = (cpu, ram, disk)
    # One line per instance type, with the figures DescribeInstanceTypes gives.
    assert set(seen) == set(types)
    for name, (cpu, ram, disk) in seen.items():
        t = types[name]
        assert cpu == t["VCpuInfo"]["DefaultVCpus"]
        assert ram == t["MemoryInfo"]["SizeInMiB"]
        assert disk == t["InstanceStorageInfo"]["TotalSizeInGB"]
    # The same through awscli, as euca-describe-availability-zones verbose.
    out = json.loads(cloud.ec2cli("ec2", "describe-availability-zones", "--zone-names",
                                  "verbose").stdout)
    assert "|- vm types" in [z["ZoneName"] for z in out["AvailabilityZones"]]


def test_zones_boto2(cloud):
    conn = cloud.boto2_ec2(2)
    zones = conn.get_all_zones()
    z = [z for z in zones if z.name == wh.TEST_ZONE]
    assert len(z) == 1 and z[0].state == "available"


# --------------------------------------------------------------------------
# instance types

def test_instance_types_shape(cloud):
    ec2 = cloud.ec2(2)
    types = ec2.describe_instance_types()["InstanceTypes"]
    names = [t["InstanceType"] for t in types]
    assert len(names) == len(set(names))
    # The SDKs' defaults exist.
    for want in ("t2.micro", "t2.small", "t2.medium", "m1.small", "m1.large", "c1.medium"):
        assert want in names
    for t in types:
        assert isinstance(t["CurrentGeneration"], bool)
        assert t["SupportedUsageClasses"] == ["on-demand"]
        assert "instance-store" in t["SupportedRootDeviceTypes"]
        assert "x86_64" in t["ProcessorInfo"]["SupportedArchitectures"]
        assert t["VCpuInfo"]["DefaultVCpus"] >= 1
        assert t["MemoryInfo"]["SizeInMiB"] >= 1
        assert t["Hypervisor"]
        assert "NetworkInfo" in t
        if t["InstanceStorageSupported"]:
            assert t["InstanceStorageInfo"]["TotalSizeInGB"] >= 1
    micro = [t for t in types if t["InstanceType"] == "t2.micro"][0]
    assert micro["CurrentGeneration"] is True
    small = [t for t in types if t["InstanceType"] == "m1.small"][0]
    assert small["CurrentGeneration"] is False


def test_instance_types_select_and_filter(cloud):
    ec2 = cloud.ec2(2)
    types = ec2.describe_instance_types()["InstanceTypes"]
    by = {t["InstanceType"]: t for t in types}
    got = ec2.describe_instance_types(InstanceTypes=["t2.micro", "m1.small"])["InstanceTypes"]
    assert sorted(t["InstanceType"] for t in got) == ["m1.small", "t2.micro"]
    assert got == [by[t["InstanceType"]] for t in got]
    msg = fails("InvalidInstanceType", ec2.describe_instance_types,
                InstanceTypes=["t2.micro", "x9.enormous"])
    assert "x9.enormous" in msg

    def names(*filters):
        return sorted(t["InstanceType"] for t in ec2.describe_instance_types(
            Filters=[{"Name": n, "Values": v} for n, v in filters])["InstanceTypes"])

    two = sorted(n for n, t in by.items() if t["VCpuInfo"]["DefaultVCpus"] == 2)
    assert two and names(("vcpu-info.default-vcpus", ["2"])) == two
    mem = by["t2.micro"]["MemoryInfo"]["SizeInMiB"]
    assert names(("memory-info.size-in-mib", [str(mem)])) == sorted(
        n for n, t in by.items() if t["MemoryInfo"]["SizeInMiB"] == mem)
    assert names(("instance-type", ["t2.*"])) == sorted(n for n in by if n.startswith("t2."))
    assert names(("instance-type", ["t2.*"]), ("vcpu-info.default-vcpus", ["1"])) == sorted(
        n for n, t in by.items() if n.startswith("t2.") and t["VCpuInfo"]["DefaultVCpus"] == 1)
    assert names(("current-generation", ["true"])) == sorted(
        n for n, t in by.items() if t["CurrentGeneration"])
    disk = by["m1.small"]["InstanceStorageInfo"]["TotalSizeInGB"]
    assert names(("instance-storage-info.total-size-in-gb", [str(disk)])) == sorted(
        n for n, t in by.items() if t.get("InstanceStorageInfo", {}).get("TotalSizeInGB") == disk)
    assert names(("instance-type", ["none-such"])) == []
    fails("InvalidParameterValue", ec2.describe_instance_types,
          Filters=[{"Name": "vcpus", "Values": ["1"]}])


def test_instance_types_pagination(cloud):
    ec2 = cloud.ec2(2)
    every = sorted(t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"])
    pages = list(ec2.get_paginator("describe_instance_types").paginate(
        PaginationConfig={"PageSize": 5}))
    sizes = [len(p["InstanceTypes"]) for p in pages]
    assert all(s == 5 for s in sizes[:-1]) and 1 <= sizes[-1] <= 5
    assert len(pages) == (len(every) + 4) // 5
    got = [t["InstanceType"] for p in pages for t in p["InstanceTypes"]]
    assert len(got) == len(set(got))
    assert sorted(got) == every
    # Filters and pages together.
    pages = list(ec2.get_paginator("describe_instance_types").paginate(
        Filters=[{"Name": "instance-type", "Values": ["m*"]}], PaginationConfig={"PageSize": 5}))
    got = sorted(t["InstanceType"] for p in pages for t in p["InstanceTypes"])
    assert got == [n for n in every if n.startswith("m")]
    raw = unchecked(cloud, 2)
    fails("InvalidParameterValue", raw.describe_instance_types, MaxResults=4)
    fails("InvalidParameterValue", raw.describe_instance_types, MaxResults=101)
    fails("InvalidParameterValue", ec2.describe_instance_types, MaxResults=5,
          NextToken="bm90IGEgdG9rZW4")
    # A token of another account is refused.
    tok = ec2.describe_instance_types(MaxResults=5)["NextToken"]
    fails("InvalidParameterValue", cloud.ec2(3).describe_instance_types, MaxResults=5,
          NextToken=tok)
    assert len(ec2.describe_instance_types(MaxResults=5, NextToken=tok)["InstanceTypes"]) == 5


def test_instance_types_awscli(cloud):
    out = json.loads(cloud.ec2cli("ec2", "describe-instance-types", "--instance-types",
                                  "t2.micro", "t2.small", profile="user2").stdout)
    assert sorted(t["InstanceType"] for t in out["InstanceTypes"]) == ["t2.micro", "t2.small"]
    every = json.loads(cloud.ec2cli("ec2", "describe-instance-types",
                                    profile="user2").stdout)["InstanceTypes"]
    paged = json.loads(cloud.ec2cli("ec2", "describe-instance-types", "--page-size", "5",
                                    profile="user2").stdout)["InstanceTypes"]
    assert sorted(t["InstanceType"] for t in paged) == sorted(t["InstanceType"] for t in every)
    p = cloud.ec2cli("ec2", "describe-instance-types", "--instance-types", "q9.none",
                     profile="user2", check=False)
    assert p.returncode != 0 and "InvalidInstanceType" in p.stderr


# --------------------------------------------------------------------------
# account attributes

ATTRS = {"supported-platforms", "default-vpc", "max-instances",
         "vpc-max-security-groups-per-interface", "max-elastic-ips", "vpc-max-elastic-ips"}


def attrs(resp):
    return {a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
            for a in resp["AccountAttributes"]}


def test_account_attributes(cloud):
    ec2 = cloud.ec2(2)
    a = attrs(ec2.describe_account_attributes())
    assert set(a) == ATTRS
    assert a["supported-platforms"] == ["EC2"]
    assert a["default-vpc"] == ["none"]
    for k in ATTRS - {"supported-platforms", "default-vpc"}:
        assert len(a[k]) == 1 and a[k][0].isdigit() and int(a[k][0]) > 0, (k, a[k])
    one = attrs(ec2.describe_account_attributes(AttributeNames=["default-vpc"]))
    assert one == {"default-vpc": ["none"]}
    two = attrs(ec2.describe_account_attributes(
        AttributeNames=["supported-platforms", "max-instances"]))
    assert set(two) == {"supported-platforms", "max-instances"}
    fails("InvalidParameterValue", ec2.describe_account_attributes,
          AttributeNames=["no-such-attribute"])
    out = json.loads(cloud.ec2cli("ec2", "describe-account-attributes", "--attribute-names",
                                  "supported-platforms", profile="user2").stdout)
    assert attrs(out) == {"supported-platforms": ["EC2"]}
    conn = cloud.boto2_ec2(2)
    got = {x.attribute_name: x.attribute_values for x in conn.describe_account_attributes()}
    assert set(got) == ATTRS
    assert got["supported-platforms"] == ["EC2"]
