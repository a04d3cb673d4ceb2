"""EC2-Classic security groups on the CLC, driven by awscli v2, boto3 and
boto2 (SigV2): Create/Delete/DescribeSecurityGroups and
Authorize/Revoke SecurityGroupIngress/Egress, their error codes, filters,
pagination, DryRun and two-account isolation.

Accounts: who=1 is the admin user of `eucalyptus`, who=2 user2 of
`testacct2`, who=3 user3 of `testacct3`.  Every test makes its own groups
with fresh names and deletes what it can at the end.
"""

import json
import re
import uuid
import xml.etree.ElementTree as ET

import botocore.config
import botocore.exceptions
import pytest

SG_ID = re.compile(r"^sg-[0-9a-f]{17}$")
SGR_ID = re.compile(r"^sgr-[0-9a-f]{17}$")
ALL_EGRESS = {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
              "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}


# --------------------------------------------------------------------------
# helpers

def uname(prefix="grp"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def err_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def err_msg(excinfo):
    return excinfo.value.response["Error"]["Message"]


def fails(code, fn, *args, **kw):
    """Calls fn, which must fail with the EC2 error `code`; returns the message."""
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(*args, **kw)
    assert err_code(ei) == code, ei.value.response
    assert ei.value.response["Error"]["Message"]
    return err_msg(ei)


def group(ec2, name=None, gid=None):
    if gid:
        r = ec2.describe_security_groups(GroupIds=[gid])
    else:
        r = ec2.describe_security_groups(GroupNames=[name])
    assert len(r["SecurityGroups"]) == 1
    return r["SecurityGroups"][0]


def create(ec2, name=None, desc="test group", **kw):
    name = name or uname()
    r = ec2.create_security_group(GroupName=name, Description=desc, **kw)
    assert SG_ID.match(r["GroupId"]), r
    return name, r["GroupId"]


def cleanup(ec2, *gids):
    """Best-effort delete: revoke every rule first so references go away."""
    for gid in gids:
        try:
            g = group(ec2, gid=gid)
        except botocore.exceptions.ClientError:
            continue
        if g["IpPermissions"]:
            ec2.revoke_security_group_ingress(GroupId=gid, IpPermissions=strip(g["IpPermissions"]))
        if g["IpPermissionsEgress"]:
            ec2.revoke_security_group_egress(GroupId=gid,
                                             IpPermissions=strip(g["IpPermissionsEgress"]))
    for gid in gids:
        try:
            ec2.delete_security_group(GroupId=gid)
        except botocore.exceptions.ClientError:
            pass


def strip(perms):
    """Describe output turned back into request IpPermissions."""
    out = []
    for p in perms:
        q = {"IpProtocol": p["IpProtocol"]}
        for k in ("FromPort", "ToPort"):
            if k in p:
                q[k] = p[k]
        if p.get("IpRanges"):
            q["IpRanges"] = [{"CidrIp": r["CidrIp"]} for r in p["IpRanges"]]
        if p.get("Ipv6Ranges"):
            q["Ipv6Ranges"] = [{"CidrIpv6": r["CidrIpv6"]} for r in p["Ipv6Ranges"]]
        if p.get("UserIdGroupPairs"):
            q["UserIdGroupPairs"] = [{"GroupId": u["GroupId"], "UserId": u["UserId"]}
                                     for u in p["UserIdGroupPairs"]]
        out.append(q)
    return out


def perm(g, proto, from_port=None, to_port=None, egress=False):
    """The one permission of group g with this protocol and ports, or None."""
    found = []
    for p in g["IpPermissionsEgress" if egress else "IpPermissions"]:
        if p["IpProtocol"] == proto and p.get("FromPort") == from_port and \
                p.get("ToPort") == to_port:
            found.append(p)
    assert len(found) <= 1, g
    return found[0] if found else None


def cidrs(p):
    return sorted(r["CidrIp"] for r in p.get("IpRanges", []))


def cli(cloud, *args, profile="default", check=True):
    r = cloud.ec2cli("ec2", *args, "--output", "json", profile=profile, check=False)
    if check:
        assert r.returncode == 0, "aws ec2 %s failed: %s" % (args[0], r.stderr)
        return json.loads(r.stdout) if r.stdout.strip() else {}
    return r


def cli_fails(cloud, code, *args, profile="default"):
    r = cli(cloud, *args, profile=profile, check=False)
    assert r.returncode != 0, r.stdout
    assert "(%s)" % code in r.stderr, r.stderr
    return r.stderr


def raw_response(ec2, operation, **kw):
    """Calls an operation and returns the raw XML body next to the parsed answer."""
    seen = {}

    def grab(http_response, **_):
        seen["body"] = http_response.content

    event = "after-call.ec2.%s" % operation
    ec2.meta.events.register(event, grab)
    try:
        parsed = getattr(ec2, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())(**kw)
    finally:
        ec2.meta.events.unregister(event, grab)
    return parsed, ET.fromstring(seen["body"])


def local(tag):
    return tag.split("}", 1)[-1]


# --------------------------------------------------------------------------
# the default group

@pytest.mark.parametrize("who", [1, 2, 3])
def test_default_group_exists_after_account_creation(cloud, who):
    acct = {1: cloud.acct1, 2: cloud.acct2, 3: cloud.acct3}[who]
    ec2 = cloud.ec2(who)
    g = group(ec2, "default")
    assert g["GroupName"] == "default"
    assert g["Description"] == "default group"
    assert g["OwnerId"] == acct
    assert SG_ID.match(g["GroupId"])
    # All egress; members of the group may reach each other.
    assert g["IpPermissionsEgress"] == [ALL_EGRESS]
    assert len(g["IpPermissions"]) == 1
    p = g["IpPermissions"][0]
    assert p["IpProtocol"] == "-1" and "FromPort" not in p
    assert p["UserIdGroupPairs"] == [{"UserId": acct, "GroupId": g["GroupId"],
                                      "GroupName": "default"}]
    assert p["IpRanges"] == []
    # By id too, and exactly one default per account.
    assert group(ec2, gid=g["GroupId"])["GroupName"] == "default"
    r = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]}])
    assert [x["GroupId"] for x in r["SecurityGroups"]] == [g["GroupId"]]


def test_default_groups_differ_per_account(cloud):
    ids = {group(cloud.ec2(w), "default")["GroupId"] for w in (1, 2, 3)}
    assert len(ids) == 3


def test_default_group_cannot_be_deleted_or_recreated(cloud):
    ec2 = cloud.ec2(2)
    g = group(ec2, "default")
    fails("CannotDelete", ec2.delete_security_group, GroupName="default")
    fails("CannotDelete", ec2.delete_security_group, GroupId=g["GroupId"])
    fails("InvalidGroup.Reserved", ec2.create_security_group, GroupName="default",
          Description="again")
    assert group(ec2, "default")["GroupId"] == g["GroupId"]


def test_default_group_rules_can_change(cloud):
    ec2 = cloud.ec2(3)
    ec2.authorize_security_group_ingress(GroupName="default", IpProtocol="tcp", FromPort=22,
                                         ToPort=22, CidrIp="198.51.100.0/24")
    try:
        p = perm(group(ec2, "default"), "tcp", 22, 22)
        assert p and cidrs(p) == ["198.51.100.0/24"]
    finally:
        ec2.revoke_security_group_ingress(GroupName="default", IpProtocol="tcp", FromPort=22,
                                          ToPort=22, CidrIp="198.51.100.0/24")
    assert perm(group(ec2, "default"), "tcp", 22, 22) is None


# --------------------------------------------------------------------------
# create / describe / delete with awscli

def test_awscli_create_describe_delete(cloud):
    name = uname("cli")
    out = cli(cloud, "create-security-group", "--group-name", name,
              "--description", "made by awscli")
    gid = out["GroupId"]
    assert SG_ID.match(gid)
    try:
        d = cli(cloud, "describe-security-groups", "--group-names", name)
        assert len(d["SecurityGroups"]) == 1
        g = d["SecurityGroups"][0]
        assert g["GroupId"] == gid and g["GroupName"] == name
        assert g["Description"] == "made by awscli"
        assert g["OwnerId"] == cloud.acct1
        assert g["IpPermissions"] == []
        assert g["IpPermissionsEgress"] == [ALL_EGRESS]
        assert "VpcId" not in g
        d = cli(cloud, "describe-security-groups", "--group-ids", gid)
        assert d["SecurityGroups"][0]["GroupName"] == name
        all_names = [x["GroupName"] for x in
                     cli(cloud, "describe-security-groups")["SecurityGroups"]]
        assert name in all_names and "default" in all_names
    finally:
        cli(cloud, "delete-security-group", "--group-name", name)
    cli_fails(cloud, "InvalidGroup.NotFound", "describe-security-groups", "--group-names", name)
    cli_fails(cloud, "InvalidGroup.NotFound", "describe-security-groups", "--group-ids", gid)


def test_awscli_authorize_shorthand_and_revoke(cloud):
    name = uname("cli")
    gid = cli(cloud, "create-security-group", "--group-name", name,
              "--description", "shorthand")["GroupId"]
    try:
        out = cli(cloud, "authorize-security-group-ingress", "--group-name", name,
                  "--protocol", "tcp", "--port", "22", "--cidr", "10.0.0.0/8")
        rules = out.get("SecurityGroupRules", [])
        assert len(rules) == 1 and SGR_ID.match(rules[0]["SecurityGroupRuleId"])
        assert rules[0]["GroupId"] == gid and rules[0]["IsEgress"] is False
        assert rules[0]["CidrIpv4"] == "10.0.0.0/8"
        cli(cloud, "authorize-security-group-ingress", "--group-name", name,
            "--protocol", "udp", "--port", "8000-8010", "--cidr", "192.168.5.77/24")
        cli(cloud, "authorize-security-group-ingress", "--group-id", gid,
            "--protocol", "all", "--source-group", "default")
        cli(cloud, "authorize-security-group-ingress", "--group-id", gid,
            "--protocol", "icmp", "--port", "-1", "--cidr", "0.0.0.0/0")
        g = cli(cloud, "describe-security-groups", "--group-ids", gid)["SecurityGroups"][0]
        default_id = group(cloud.ec2(1), "default")["GroupId"]
        assert cidrs(perm(g, "tcp", 22, 22)) == ["10.0.0.0/8"]
        # Normalised to the network address.
        assert cidrs(perm(g, "udp", 8000, 8010)) == ["192.168.5.0/24"]
        assert perm(g, "-1")["UserIdGroupPairs"] == [
            {"UserId": cloud.acct1, "GroupId": default_id, "GroupName": "default"}]
        assert cidrs(perm(g, "icmp", -1, -1)) == ["0.0.0.0/0"]
        assert len(g["IpPermissions"]) == 4

        err = cli_fails(cloud, "InvalidPermission.Duplicate", "authorize-security-group-ingress",
                        "--group-name", name, "--protocol", "tcp", "--port", "22",
                        "--cidr", "10.0.0.0/8")
        assert "already exists" in err
        cli(cloud, "revoke-security-group-ingress", "--group-name", name, "--protocol", "tcp",
            "--port", "22", "--cidr", "10.0.0.0/8")
        cli_fails(cloud, "InvalidPermission.NotFound", "revoke-security-group-ingress",
                  "--group-name", name, "--protocol", "tcp", "--port", "22",
                  "--cidr", "10.0.0.0/8")
        g = cli(cloud, "describe-security-groups", "--group-ids", gid)["SecurityGroups"][0]
        assert perm(g, "tcp", 22, 22) is None and len(g["IpPermissions"]) == 3
    finally:
        cleanup(cloud.ec2(1), gid)


def test_awscli_ip_permissions_json(cloud):
    ec2 = cloud.ec2(1)
    src_name, src_id = create(ec2)
    name, gid = create(ec2)
    perms = [
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 443,
         "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "web clients"},
                      {"CidrIp": "198.51.100.7/32"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
         "UserIdGroupPairs": [{"GroupName": src_name, "Description": "app tier"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0,
         "Ipv6Ranges": [{"CidrIpv6": "2001:db8:1::9/48"}]},
    ]
    try:
        out = cli(cloud, "authorize-security-group-ingress", "--group-id", gid,
                  "--ip-permissions", json.dumps(perms))
        assert len(out["SecurityGroupRules"]) == 4
        assert len({r["SecurityGroupRuleId"] for r in out["SecurityGroupRules"]}) == 4
        g = group(ec2, gid=gid)
        web = perm(g, "tcp", 80, 443)
        assert sorted(web["IpRanges"], key=lambda r: r["CidrIp"]) == [
            {"CidrIp": "198.51.100.7/32"},
            {"CidrIp": "203.0.113.0/24", "Description": "web clients"}]
        db = perm(g, "tcp", 5432, 5432)
        assert db["UserIdGroupPairs"] == [{"UserId": cloud.acct1, "GroupId": src_id,
                                           "GroupName": src_name, "Description": "app tier"}]
        icmp = perm(g, "icmp", 8, 0)
        assert icmp["Ipv6Ranges"] == [{"CidrIpv6": "2001:db8:1::/48"}]
        # Revoking matches rules without their descriptions.
        cli(cloud, "revoke-security-group-ingress", "--group-id", gid,
            "--ip-permissions", json.dumps(perms))
        assert group(ec2, gid=gid)["IpPermissions"] == []
    finally:
        cleanup(ec2, gid, src_id)


# --------------------------------------------------------------------------
# boto3: shapes, validation and errors

def test_boto3_create_returns_id_and_tags(cloud):
    ec2 = cloud.ec2(1)
    name = uname()
    r = ec2.create_security_group(
        GroupName=name, Description="tagged",
        TagSpecifications=[{"ResourceType": "security-group",
                            "Tags": [{"Key": "team", "Value": "blue"},
                                     {"Key": "env", "Value": ""}]}])
    gid = r["GroupId"]
    try:
        assert SG_ID.match(gid)
        assert sorted(r.get("Tags", []), key=lambda t: t["Key"]) == [
            {"Key": "env", "Value": ""}, {"Key": "team", "Value": "blue"}]
        g = group(ec2, name)
        assert sorted(g["Tags"], key=lambda t: t["Key"]) == [
            {"Key": "env", "Value": ""}, {"Key": "team", "Value": "blue"}]
    finally:
        ec2.delete_security_group(GroupId=gid)


def test_describe_raw_xml_shape(cloud):
    ec2 = cloud.ec2(1)
    name, gid = create(ec2, desc="raw shape")
    try:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
             "UserIdGroupPairs": [{"GroupName": "default"}]}])
        parsed, root = raw_response(ec2, "DescribeSecurityGroups", GroupIds=[gid])
        assert local(root.tag) == "DescribeSecurityGroupsResponse"
        assert root.tag.startswith("{http://ec2.amazonaws.com/doc/")
        ns = root.tag[1:].split("}")[0]
        q = lambda path: path.replace("/", "/{%s}" % ns).replace("^", "{%s}" % ns)
        assert root.find(q("^requestId")).text
        items = root.findall(q("^securityGroupInfo/item"))
        assert len(items) == 1
        item = items[0]
        assert [local(c.tag) for c in item][:4] == ["ownerId", "groupId", "groupName",
                                                   "groupDescription"]
        assert item.find(q("^groupDescription")).text == "raw shape"
        assert item.find(q("^ownerId")).text == cloud.acct1
        p = item.findall(q("^ipPermissions/item"))
        assert len(p) == 1
        assert p[0].find(q("^ipProtocol")).text == "tcp"
        assert p[0].find(q("^fromPort")).text == "22"
        assert p[0].find(q("^toPort")).text == "22"
        assert p[0].find(q("^ipRanges/item/cidrIp")).text == "10.0.0.0/8"
        pair = p[0].find(q("^groups/item"))
        assert pair.find(q("^userId")).text == cloud.acct1
        assert pair.find(q("^groupName")).text == "default"
        assert SG_ID.match(pair.find(q("^groupId")).text)
        assert p[0].find(q("^ipv6Ranges")) is not None
        assert p[0].find(q("^prefixListIds")) is not None
        e = item.findall(q("^ipPermissionsEgress/item"))
        assert len(e) == 1 and e[0].find(q("^ipProtocol")).text == "-1"
        assert e[0].find(q("^fromPort")) is None
        assert root.find(q("^nextToken")) is None
    finally:
        cleanup(ec2, gid)


def test_create_validation_errors(cloud):
    ec2 = cloud.ec2(1)
    name, gid = create(ec2)
    try:
        msg = fails("InvalidGroup.Duplicate", ec2.create_security_group, GroupName=name,
                    Description="again")
        assert msg == "The security group '%s' already exists" % name
        fails("MissingParameter", ec2.create_security_group, GroupName=uname(), Description="")
        fails("MissingParameter", ec2.create_security_group, GroupName="", Description="x")
        fails("InvalidParameterValue", ec2.create_security_group, GroupName="x" * 256,
              Description="long")
        fails("InvalidParameterValue", ec2.create_security_group, GroupName=uname(),
              Description="d" * 256)
        fails("InvalidParameterValue", ec2.create_security_group, GroupName="sg-" + uname(),
              Description="looks like an id")
        fails("InvalidParameterValue", ec2.create_security_group, GroupName=uname() + "\u00e9",
              Description="not ascii")
        fails("InvalidVpcID.NotFound", ec2.create_security_group, GroupName=uname(),
              Description="vpc", VpcId="vpc-12345678")
        # 255 characters are fine.
        long_name = ("L" + uuid.uuid4().hex) * 8
        long_name = long_name[:255]
        _, lid = create(ec2, long_name, desc="D" * 255)
        assert group(ec2, long_name)["Description"] == "D" * 255
        ec2.delete_security_group(GroupId=lid)
    finally:
        ec2.delete_security_group(GroupId=gid)


def test_delete_errors_and_dependency(cloud):
    ec2 = cloud.ec2(1)
    a_name, a_id = create(ec2)
    b_name, b_id = create(ec2)
    try:
        fails("MissingParameter", ec2.delete_security_group)
        fails("InvalidGroupId.Malformed", ec2.delete_security_group, GroupId="sg-xyz")
        fails("InvalidGroup.NotFound", ec2.delete_security_group, GroupName=uname("nope"))
        fails("InvalidGroup.NotFound", ec2.delete_security_group, GroupId="sg-0000000000000000a")
        # b's rule refers to a: a cannot go.
        ec2.authorize_security_group_ingress(GroupId=b_id, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1024,
             "UserIdGroupPairs": [{"GroupId": a_id}]}])
        msg = fails("DependencyViolation", ec2.delete_security_group, GroupId=a_id)
        assert a_id in msg
        # A group whose rule refers to itself can still be deleted.
        ec2.authorize_security_group_ingress(GroupId=b_id, IpPermissions=[
            {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": b_id}]}])
        ec2.revoke_security_group_ingress(GroupId=b_id, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1024,
             "UserIdGroupPairs": [{"GroupId": a_id}]}])
        ec2.delete_security_group(GroupName=a_name)
        fails("InvalidGroup.NotFound", group, ec2, gid=a_id)
        ec2.delete_security_group(GroupId=b_id)
        fails("InvalidGroup.NotFound", group, ec2, b_name)
    finally:
        cleanup(ec2, a_id, b_id)


def test_authorize_validation_errors(cloud):
    ec2 = cloud.ec2(1)
    name, gid = create(ec2)

    def auth(**p):
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[p])

    try:
        for bad in ("10.0.0.1/33", "300.1.1.1/8", "10.0.0.1", "10.0.0/8", "abc/8", "::/0"):
            msg = fails("InvalidParameterValue", auth, IpProtocol="tcp", FromPort=22, ToPort=22,
                        IpRanges=[{"CidrIp": bad}])
            assert bad in msg
        fails("InvalidParameterValue", auth, IpProtocol="-1",
              Ipv6Ranges=[{"CidrIpv6": "2001:db8::/129"}])
        fails("InvalidParameterValue", auth, IpProtocol="foo", IpRanges=[{"CidrIp": "10.0.0.0/8"}])
        fails("InvalidParameterValue", auth, IpProtocol="300", IpRanges=[{"CidrIp": "10.0.0.0/8"}])
        fails("InvalidParameterValue", auth, IpProtocol="tcp", FromPort=100, ToPort=50,
              IpRanges=[{"CidrIp": "10.0.0.0/8"}])
        fails("InvalidParameterValue", auth, IpProtocol="tcp", FromPort=0, ToPort=65536,
              IpRanges=[{"CidrIp": "10.0.0.0/8"}])
        fails("InvalidParameterValue", auth, IpProtocol="udp", FromPort=53,
              IpRanges=[{"CidrIp": "10.0.0.0/8"}])
        fails("InvalidParameterValue", auth, IpProtocol="icmp", FromPort=256, ToPort=0,
              IpRanges=[{"CidrIp": "10.0.0.0/8"}])
        fails("InvalidParameterValue", auth, IpProtocol="icmp", FromPort=-1, ToPort=3,
              IpRanges=[{"CidrIp": "10.0.0.0/8"}])
        fails("InvalidGroup.NotFound", auth, IpProtocol="tcp", FromPort=1, ToPort=2,
              UserIdGroupPairs=[{"GroupName": uname("nope")}])
        fails("InvalidGroupId.Malformed", auth, IpProtocol="tcp", FromPort=1, ToPort=2,
              UserIdGroupPairs=[{"GroupId": "sg-nothex!"}])
        fails("InvalidUserID.Malformed", auth, IpProtocol="tcp", FromPort=1, ToPort=2,
              UserIdGroupPairs=[{"GroupName": "default", "UserId": "not-an-account"}])
        fails("MissingParameter", ec2.authorize_security_group_ingress, GroupId=gid)
        fails("InvalidGroup.NotFound", ec2.authorize_security_group_ingress,
              GroupName=uname("nope"), IpProtocol="tcp", FromPort=1, ToPort=1,
              CidrIp="10.0.0.0/8")
        fails("InvalidGroupId.Malformed", ec2.authorize_security_group_ingress,
              GroupId="sg-1", IpProtocol="tcp", FromPort=1, ToPort=1, CidrIp="10.0.0.0/8")
        # Nothing was stored by any of the failures.
        assert group(ec2, gid=gid)["IpPermissions"] == []
    finally:
        cleanup(ec2, gid)


def test_protocols_and_ports_normalised(cloud):
    ec2 = cloud.ec2(1)
    name, gid = create(ec2)
    try:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "6", "FromPort": 0, "ToPort": 65535,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "UDP", "FromPort": 53, "ToPort": 53,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "50", "FromPort": 1, "ToPort": 2,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
        ])
        g = group(ec2, gid=gid)
        assert perm(g, "tcp", 0, 65535) is not None
        assert perm(g, "udp", 53, 53) is not None
        # Other protocols allow all ports: none are shown.
        assert perm(g, "50") is not None
        assert perm(g, "icmp", 8, -1) is not None
        assert len(g["IpPermissions"]) == 4
        # "all" is -1; the same rule by number is a duplicate.
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "all", "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
        fails("InvalidPermission.Duplicate", ec2.authorize_security_group_ingress,
              GroupId=gid, IpPermissions=[{"IpProtocol": "-1", "FromPort": 5, "ToPort": 6,
                                           "IpRanges": [{"CidrIp": "10.1.1.1/8"}]}])
        fails("InvalidPermission.Duplicate", ec2.authorize_security_group_ingress,
              GroupId=gid, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535,
                                           "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
    finally:
        cleanup(ec2, gid)


def test_authorize_is_all_or_nothing(cloud):
    ec2 = cloud.ec2(1)
    name, gid = create(ec2)
    try:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
        msg = fails("InvalidPermission.Duplicate", ec2.authorize_security_group_ingress,
                    GroupId=gid, IpPermissions=[
                        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                         "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}])
        assert "10.0.0.0/8" in msg and "already exists" in msg
        g = group(ec2, gid=gid)
        assert perm(g, "tcp", 80, 80) is None
        assert len(g["IpPermissions"]) == 1
        # The same for revoke: one missing rule keeps every other one.
        fails("InvalidPermission.NotFound", ec2.revoke_security_group_ingress,
              GroupId=gid, IpPermissions=[
                  {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                   "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
                  {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                   "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        assert cidrs(perm(group(ec2, gid=gid), "tcp", 22, 22)) == ["10.0.0.0/8"]
        # A duplicate inside one request is refused too.
        fails("InvalidPermission.Duplicate", ec2.authorize_security_group_ingress,
              GroupId=gid, IpPermissions=[
                  {"IpProtocol": "udp", "FromPort": 1, "ToPort": 1,
                   "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "10.2.0.0/8"}]}])
        assert perm(group(ec2, gid=gid), "udp", 1, 1) is None
    finally:
        cleanup(ec2, gid)


def test_legacy_flat_parameters(cloud):
    """The pre-IpPermissions form (boto3 still exposes it, euca2ools and boto2 use it)."""
    ec2 = cloud.ec2(1)
    src_name, src_id = create(ec2)
    name, gid = create(ec2)
    try:
        ec2.authorize_security_group_ingress(GroupName=name, IpProtocol="tcp", FromPort=8080,
                                             ToPort=8081, CidrIp="172.16.3.4/12")
        assert cidrs(perm(group(ec2, name), "tcp", 8080, 8081)) == ["172.16.0.0/12"]
        # A source group with no protocol: tcp, udp and icmp from that group.
        ec2.authorize_security_group_ingress(GroupName=name, SourceSecurityGroupName=src_name,
                                             SourceSecurityGroupOwnerId=cloud.acct1)
        g = group(ec2, name)
        pair = [{"UserId": cloud.acct1, "GroupId": src_id, "GroupName": src_name}]
        assert perm(g, "tcp", 0, 65535)["UserIdGroupPairs"] == pair
        assert perm(g, "udp", 0, 65535)["UserIdGroupPairs"] == pair
        assert perm(g, "icmp", -1, -1)["UserIdGroupPairs"] == pair
        ec2.revoke_security_group_ingress(GroupName=name, SourceSecurityGroupName=src_name)
        ec2.revoke_security_group_ingress(GroupName=name, IpProtocol="tcp", FromPort=8080,
                                          ToPort=8081, CidrIp="172.16.0.0/12")
        assert group(ec2, name)["IpPermissions"] == []
        fails("InvalidParameterValue", ec2.authorize_security_group_ingress, GroupName=name,
              IpProtocol="tcp", FromPort=1, ToPort=2, CidrIp="10.0.0.1/33")
    finally:
        cleanup(ec2, gid, src_id)


def test_egress_rules(cloud):
    ec2 = cloud.ec2(1)
    name, gid = create(ec2)
    try:
        assert group(ec2, gid=gid)["IpPermissionsEgress"] == [ALL_EGRESS]
        fails("InvalidPermission.Duplicate", ec2.authorize_security_group_egress, GroupId=gid,
              IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.revoke_security_group_egress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        assert group(ec2, gid=gid)["IpPermissionsEgress"] == []
        r = ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "https out"}]}])
        assert r["Return"] is True
        assert r["SecurityGroupRules"][0]["IsEgress"] is True
        g = group(ec2, gid=gid)
        assert g["IpPermissionsEgress"][0]["IpRanges"] == [
            {"CidrIp": "0.0.0.0/0", "Description": "https out"}]
        assert g["IpPermissions"] == []
        fails("InvalidPermission.NotFound", ec2.revoke_security_group_egress, GroupId=gid,
              IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        out = cli(cloud, "revoke-security-group-egress", "--group-id", gid, "--ip-permissions",
                  json.dumps([{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                               "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]))
        assert out.get("Return") is True
        assert group(ec2, gid=gid)["IpPermissionsEgress"] == []
    finally:
        cleanup(ec2, gid)


# --------------------------------------------------------------------------
# filters and pagination

def test_describe_filters(cloud):
    ec2 = cloud.ec2(1)
    tag = uuid.uuid4().hex[:10]
    web_name, web = create(ec2, "web-" + tag, desc="web tier " + tag)
    db_name, db = create(ec2, "db-" + tag, desc="database tier " + tag)
    try:
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
             "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}])
        ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5433,
             "UserIdGroupPairs": [{"GroupId": web}]},
            {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}]}])
        ec2.revoke_security_group_egress(GroupId=db, IpPermissions=[
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        ec2.authorize_security_group_egress(GroupId=db, IpPermissions=[
            {"IpProtocol": "udp", "FromPort": 123, "ToPort": 123,
             "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}])
        ec2.create_tags(Resources=[db], Tags=[{"Key": "tier-" + tag, "Value": "data"}])

        def names(*filters):
            r = ec2.describe_security_groups(Filters=[{"Name": n, "Values": v}
                                                      for n, v in filters])
            return sorted(g["GroupName"] for g in r["SecurityGroups"]
                          if g["GroupName"] in (web_name, db_name))

        def only(*filters):
            r = ec2.describe_security_groups(Filters=[{"Name": n, "Values": v}
                                                      for n, v in filters])
            return sorted(g["GroupName"] for g in r["SecurityGroups"])

        both = sorted([web_name, db_name])
        assert only(("group-name", ["*-" + tag])) == both
        assert only(("group-name", ["web-" + tag])) == [web_name]
        assert only(("group-name", ["w?b-" + tag, "nothing"])) == [web_name]
        assert only(("group-id", [db])) == [db_name]
        assert only(("description", ["database tier " + tag])) == [db_name]
        assert only(("description", ["*tier " + tag])) == both
        assert names(("owner-id", [cloud.acct1])) == both
        assert names(("owner-id", [cloud.acct2])) == []
        assert names(("vpc-id", ["*"])) == []
        assert names(("ip-permission.cidr", ["203.0.113.0/24"])) == [web_name]
        assert names(("ip-permission.ipv6-cidr", ["2001:db8::/32"])) == [db_name]
        assert names(("ip-permission.from-port", ["5432"])) == [db_name]
        assert names(("ip-permission.to-port", ["5433"])) == [db_name]
        assert names(("ip-permission.to-port", ["443"])) == [web_name]
        assert names(("ip-permission.protocol", ["tcp"])) == both
        assert names(("ip-permission.protocol", ["-1"])) == [db_name]
        assert names(("ip-permission.group-id", [web])) == [db_name]
        assert names(("ip-permission.group-name", [web_name])) == [db_name]
        assert names(("ip-permission.user-id", [cloud.acct1])) == [db_name]
        assert names(("egress.ip-permission.cidr", ["0.0.0.0/0"])) == [web_name]
        assert names(("egress.ip-permission.cidr", ["192.0.2.0/24"])) == [db_name]
        assert names(("egress.ip-permission.protocol", ["udp"])) == [db_name]
        assert names(("egress.ip-permission.from-port", ["123"])) == [db_name]
        assert names(("egress.ip-permission.to-port", ["123"])) == [db_name]
        assert names(("egress.ip-permission.group-id", ["*"])) == []
        # Filters combine: each must match.
        assert names(("ip-permission.protocol", ["tcp"]),
                     ("ip-permission.from-port", ["443"])) == [web_name]
        assert names(("ip-permission.protocol", ["udp"]),
                     ("ip-permission.from-port", ["443"])) == []
        assert only(("tag:tier-" + tag, ["data"])) == [db_name]
        assert only(("tag:tier-" + tag, ["other"])) == []
        assert only(("tag-key", ["tier-" + tag])) == [db_name]
        assert names(("tag-value", ["data"])) == [db_name]
        # Names and filters together.
        r = ec2.describe_security_groups(GroupNames=[web_name, db_name],
                                         Filters=[{"Name": "ip-permission.cidr",
                                                   "Values": ["203.0.113.0/24"]}])
        assert [g["GroupName"] for g in r["SecurityGroups"]] == [web_name]
        fails("InvalidParameterValue", ec2.describe_security_groups,
              Filters=[{"Name": "no-such-filter", "Values": ["x"]}])
        # awscli's --filters form.
        out = cli(cloud, "describe-security-groups", "--filters",
                  "Name=ip-permission.from-port,Values=443",
                  "Name=group-name,Values=*-" + tag)
        assert [g["GroupName"] for g in out["SecurityGroups"]] == [web_name]
    finally:
        cleanup(ec2, db, web)


def test_describe_names_ids_errors(cloud):
    ec2 = cloud.ec2(1)
    name, gid = create(ec2)
    try:
        r = ec2.describe_security_groups(GroupNames=[name, "default"])
        assert sorted(g["GroupName"] for g in r["SecurityGroups"]) == sorted([name, "default"])
        msg = fails("InvalidGroup.NotFound", ec2.describe_security_groups,
                    GroupNames=[name, "nope-" + name])
        assert "nope-" + name in msg
        fails("InvalidGroup.NotFound", ec2.describe_security_groups,
              GroupIds=["sg-0123456789abcdef0"])
        fails("InvalidGroupId.Malformed", ec2.describe_security_groups, GroupIds=["sg-zz"])
        fails("InvalidGroupId.Malformed", ec2.describe_security_groups, GroupIds=[name])
    finally:
        ec2.delete_security_group(GroupId=gid)


def test_pagination(cloud):
    ec2 = cloud.ec2(1)
    prefix = uname("pg")
    made = [create(ec2, "%s-%d" % (prefix, i))[1] for i in range(7)]
    flt = [{"Name": "group-name", "Values": [prefix + "-*"]}]
    try:
        p1 = ec2.describe_security_groups(Filters=flt, MaxResults=5)
        assert len(p1["SecurityGroups"]) == 5
        assert p1.get("NextToken")
        p2 = ec2.describe_security_groups(Filters=flt, MaxResults=5, NextToken=p1["NextToken"])
        assert len(p2["SecurityGroups"]) == 2
        assert not p2.get("NextToken")
        seen = [g["GroupId"] for g in p1["SecurityGroups"] + p2["SecurityGroups"]]
        assert sorted(seen) == sorted(made) and len(set(seen)) == 7
        # Stable: the same token gives the same page.
        again = ec2.describe_security_groups(Filters=flt, MaxResults=5,
                                             NextToken=p1["NextToken"])
        assert [g["GroupId"] for g in again["SecurityGroups"]] == \
            [g["GroupId"] for g in p2["SecurityGroups"]]
        # Exactly a full page: no token pointing at an empty page.
        p = ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": made[:5]}],
                                         MaxResults=5)
        assert len(p["SecurityGroups"]) == 5 and not p.get("NextToken")
        # The boto3 paginator walks every group of the account.
        pages = ec2.get_paginator("describe_security_groups").paginate(
            PaginationConfig={"PageSize": 5})
        ids = [g["GroupId"] for page in pages for g in page["SecurityGroups"]]
        assert len(ids) == len(set(ids))
        assert set(made) <= set(ids)
        total = len(ec2.describe_security_groups()["SecurityGroups"])
        assert len(ids) == total
        # awscli pages on its own too.
        out = cli(cloud, "describe-security-groups", "--filters",
                  "Name=group-name,Values=%s-*" % prefix, "--page-size", "5")
        assert sorted(g["GroupId"] for g in out["SecurityGroups"]) == sorted(made)
        # botocore refuses out-of-range MaxResults itself: let the server judge.
        raw = cloud.ec2(config=botocore.config.Config(
            parameter_validation=False, retries={"max_attempts": 1, "mode": "standard"}))
        fails("InvalidParameterValue", raw.describe_security_groups, MaxResults=4)
        fails("InvalidParameterValue", raw.describe_security_groups, MaxResults=1001)
        fails("InvalidParameterCombination", ec2.describe_security_groups,
              GroupNames=["default"], MaxResults=5)
        fails("InvalidParameterCombination", ec2.describe_security_groups,
              GroupIds=made[:1], MaxResults=5)
        fails("InvalidParameterValue", ec2.describe_security_groups, MaxResults=5,
              NextToken="not-a-token")
    finally:
        cleanup(ec2, *made)


# --------------------------------------------------------------------------
# DryRun

def test_dry_run(cloud):
    ec2 = cloud.ec2(2)
    name = uname("dry")
    fails("DryRunOperation", ec2.create_security_group, GroupName=name, Description="d",
          DryRun=True)
    fails("InvalidGroup.NotFound", group, ec2, name)
    name, gid = create(ec2, name)
    try:
        rule = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                 "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
        fails("DryRunOperation", ec2.authorize_security_group_ingress, GroupId=gid,
              IpPermissions=rule, DryRun=True)
        assert group(ec2, gid=gid)["IpPermissions"] == []
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=rule)
        fails("DryRunOperation", ec2.revoke_security_group_ingress, GroupId=gid,
              IpPermissions=rule, DryRun=True)
        assert len(group(ec2, gid=gid)["IpPermissions"]) == 1
        egress = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        fails("DryRunOperation", ec2.revoke_security_group_egress, GroupId=gid,
              IpPermissions=egress, DryRun=True)
        fails("DryRunOperation", ec2.authorize_security_group_egress, GroupId=gid,
              IpPermissions=[{"IpProtocol": "udp", "FromPort": 1, "ToPort": 1,
                              "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}], DryRun=True)
        assert group(ec2, gid=gid)["IpPermissionsEgress"] == [ALL_EGRESS]
        fails("DryRunOperation", ec2.delete_security_group, GroupId=gid, DryRun=True)
        assert group(ec2, gid=gid)["GroupName"] == name
        # Validation comes first: a bad request is refused, not dry-run approved.
        fails("InvalidGroup.NotFound", ec2.delete_security_group, GroupName=uname(),
              DryRun=True)
        fails("InvalidParameterValue", ec2.authorize_security_group_ingress, GroupId=gid,
              IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1,
                              "IpRanges": [{"CidrIp": "1.2.3.4/40"}]}], DryRun=True)
        r = cli(cloud, "delete-security-group", "--group-id", gid, "--dry-run",
                profile="user2", check=False)
        assert r.returncode != 0 and "(DryRunOperation)" in r.stderr, r.stderr
        assert group(ec2, gid=gid)["GroupName"] == name
    finally:
        cleanup(ec2, gid)


# --------------------------------------------------------------------------
# two accounts

def test_two_account_isolation(cloud):
    a, b = cloud.ec2(1), cloud.ec2(2)
    a_name, a_id = create(a)
    b_default = group(b, "default")["GroupId"]
    rule = [{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
             "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    try:
        # B sees none of A's groups...
        ids_b = {g["GroupId"] for g in b.describe_security_groups()["SecurityGroups"]}
        assert a_id not in ids_b
        assert all(g["OwnerId"] == cloud.acct2
                   for g in b.describe_security_groups()["SecurityGroups"])
        fails("InvalidGroup.NotFound", b.describe_security_groups, GroupIds=[a_id])
        fails("InvalidGroup.NotFound", b.describe_security_groups, GroupNames=[a_name])
        r = b.describe_security_groups(Filters=[{"Name": "group-id", "Values": [a_id]}])
        assert r["SecurityGroups"] == []
        # ...and cannot change or delete them.
        fails("InvalidGroup.NotFound", b.authorize_security_group_ingress, GroupId=a_id,
              IpPermissions=rule)
        fails("InvalidGroup.NotFound", b.authorize_security_group_ingress, GroupName=a_name,
              IpPermissions=rule)
        fails("InvalidGroup.NotFound", b.revoke_security_group_egress, GroupId=a_id,
              IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        fails("InvalidGroup.NotFound", b.delete_security_group, GroupId=a_id)
        fails("InvalidGroup.NotFound", b.delete_security_group, GroupName=a_name)
        assert group(a, gid=a_id)["IpPermissionsEgress"] == [ALL_EGRESS]
        # B may create a group of the same name: names are per account.
        _, b_same = create(b, a_name)
        assert b_same != a_id
        # B may name A's group as a peer only with A's account id.
        fails("InvalidGroup.NotFound", b.authorize_security_group_ingress, GroupId=b_default,
              IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                              "UserIdGroupPairs": [{"GroupId": a_id}]}])
        b.authorize_security_group_ingress(GroupId=b_same, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
             "UserIdGroupPairs": [{"GroupName": a_name, "UserId": cloud.acct1}]},
            {"IpProtocol": "tcp", "FromPort": 81, "ToPort": 81,
             "UserIdGroupPairs": [{"GroupId": a_id, "UserId": cloud.acct1}]}])
        g = group(b, gid=b_same)
        assert perm(g, "tcp", 80, 80)["UserIdGroupPairs"][0]["GroupId"] == a_id
        assert perm(g, "tcp", 80, 80)["UserIdGroupPairs"][0]["UserId"] == cloud.acct1
        assert perm(g, "tcp", 81, 81)["UserIdGroupPairs"][0]["GroupId"] == a_id
        # A's group is now in use by B's rule.
        fails("DependencyViolation", a.delete_security_group, GroupId=a_id)
        b.revoke_security_group_ingress(GroupId=b_same, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
             "UserIdGroupPairs": [{"GroupName": a_name, "UserId": cloud.acct1}]},
            {"IpProtocol": "tcp", "FromPort": 81, "ToPort": 81,
             "UserIdGroupPairs": [{"GroupId": a_id, "UserId": cloud.acct1}]}])
        b.delete_security_group(GroupId=b_same)
        # awscli with the second account's profile sees its own groups only.
        out = cli(cloud, "describe-security-groups", profile="user2")
        assert all(g["OwnerId"] == cloud.acct2 for g in out["SecurityGroups"])
        cli_fails(cloud, "InvalidGroup.NotFound", "delete-security-group", "--group-id", a_id,
                  profile="user2")
        a.delete_security_group(GroupId=a_id)
    finally:
        cleanup(a, a_id)


# --------------------------------------------------------------------------
# boto2 (SigV2)

def test_boto2_sigv2_lifecycle(cloud):
    conn = cloud.boto2_ec2(1)
    name, src_name = uname("b2"), uname("b2src")
    g = conn.create_security_group(name, "boto2 group")
    src = conn.create_security_group(src_name, "boto2 source")
    try:
        assert SG_ID.match(g.id)
        assert g.authorize(ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="10.1.2.3/16")
        # src_group without ports: boto2 sends the legacy SourceSecurityGroupName form.
        assert g.authorize(src_group=src)
        assert conn.authorize_security_group(group_name=name, ip_protocol="udp",
                                             from_port=53, to_port=53,
                                             src_security_group_name=src_name,
                                             src_security_group_owner_id=cloud.acct1)
        got = conn.get_all_security_groups(groupnames=[name])
        assert len(got) == 1
        sg = got[0]
        assert sg.id == g.id and sg.name == name and sg.description == "boto2 group"
        assert sg.owner_id == cloud.acct1
        rules = {(r.ip_protocol, r.from_port, r.to_port):
                 sorted(str(x.cidr_ip or x.group_id) for x in r.grants) for r in sg.rules}
        assert rules[("tcp", "22", "22")] == ["10.1.0.0/16"]
        assert rules[("tcp", "0", "65535")] == [src.id]
        assert rules[("udp", "0", "65535")] == [src.id]
        assert rules[("icmp", "-1", "-1")] == [src.id]
        assert rules[("udp", "53", "53")] == [src.id]
        names = [r.grants[0].name for r in sg.rules if r.grants[0].group_id]
        assert names and all(n == src_name for n in names)
        assert [(r.ip_protocol, [x.cidr_ip for x in r.grants]) for r in sg.rules_egress] == \
            [("-1", ["0.0.0.0/0"])]
        # Filters through boto2.
        f = conn.get_all_security_groups(filters={"ip-permission.cidr": "10.1.0.0/16",
                                                  "group-name": name})
        assert [x.id for x in f] == [g.id]
        # Duplicate and not-found through SigV2.
        with pytest.raises(Exception) as ei:
            g.authorize(ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="10.1.0.0/16")
        assert "InvalidPermission.Duplicate" in str(ei.value)
        assert g.revoke(src_group=src)
        assert g.revoke(ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="10.1.0.0/16")
        with pytest.raises(Exception) as ei:
            g.revoke(ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="10.1.0.0/16")
        assert "InvalidPermission.NotFound" in str(ei.value)
        # The udp rule still names src: it cannot be deleted yet.
        with pytest.raises(Exception) as ei:
            src.delete()
        assert "DependencyViolation" in str(ei.value)
        assert conn.revoke_security_group(group_name=name, ip_protocol="udp", from_port=53,
                                          to_port=53, src_security_group_name=src_name,
                                          src_security_group_owner_id=cloud.acct1)
        sg = conn.get_all_security_groups(group_ids=[g.id])[0]
        assert sg.rules == []
        assert conn.delete_security_group(name=name)
        assert conn.delete_security_group(group_id=src.id)
        with pytest.raises(Exception) as ei:
            conn.get_all_security_groups(groupnames=[name])
        assert "InvalidGroup.NotFound" in str(ei.value)
    finally:
        cleanup(cloud.ec2(1), g.id, src.id)


def test_boto2_dry_run(cloud):
    conn = cloud.boto2_ec2(2)
    name = uname("b2dry")
    with pytest.raises(Exception) as ei:
        conn.create_security_group(name, "dry", dry_run=True)
    assert "DryRunOperation" in str(ei.value)
    with pytest.raises(Exception) as ei:
        conn.get_all_security_groups(groupnames=[name])
    assert "InvalidGroup.NotFound" in str(ei.value)
