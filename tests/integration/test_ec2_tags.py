"""EC2 tags on the CLC: CreateTags, DeleteTags, DescribeTags and
TagSpecification, driven by boto3, awscli v2 and boto2 (SigV2), on the
resources this issue has (security groups, key pairs), with the error
codes, limits, filters, pagination, DryRun and two-account isolation EC2
documents.

Accounts: who=1 is the admin user of `eucalyptus`, who=2 user2 of
`testacct2`, who=3 user3 of `testacct3`.  Every test makes its own
resources with fresh names and deletes them at the end.
"""

import json
import uuid
import xml.etree.ElementTree as ET

import botocore.exceptions
import pytest


# --------------------------------------------------------------------------
# helpers

def uname(prefix="tags"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def fails(code, fn, *args, **kw):
    """Calls fn, which must fail with the EC2 error `code`; returns the message."""
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



def new_group(ec2, **kw):
    name = uname("grp")
    r = ec2.create_security_group(GroupName=name, Description="tag tests", **kw)
    return name, r["GroupId"]


def drop_group(ec2, gid):
    try:
        ec2.delete_security_group(GroupId=gid)
    except botocore.exceptions.ClientError:
        pass


def new_keypair(ec2):
    name = uname("kp")
    r = ec2.create_key_pair(KeyName=name)
    assert r["KeyPairId"].startswith("key-"), r
    return name, r["KeyPairId"]


def drop_keypair(ec2, name):
    try:
        ec2.delete_key_pair(KeyName=name)
    except botocore.exceptions.ClientError:
        pass


def tags_of(ec2, rid):
    """{key: value} of one resource as DescribeTags reports it."""
    out = {}
    for page in ec2.get_paginator("describe_tags").paginate(
            Filters=[{"Name": "resource-id", "Values": [rid]}]):
        for t in page["Tags"]:
            assert t["ResourceId"] == rid
            out[t["Key"]] = t["Value"]
    return out


def as_dict(tags):
    return {t["Key"]: t["Value"] for t in tags or []}


# --------------------------------------------------------------------------
# boto3

def test_create_describe_delete_on_security_group(cloud):
    ec2 = cloud.ec2(2)
    name, gid = new_group(ec2)
    try:
        r = ec2.create_tags(Resources=[gid], Tags=[{"Key": "Name", "Value": "web tier"},
                                                    {"Key": "env", "Value": "prod"},
                                                    {"Key": "empty", "Value": ""}])
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert tags_of(ec2, gid) == {"Name": "web tier", "env": "prod", "empty": ""}
        d = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [gid]}])
        assert {t["ResourceType"] for t in d["Tags"]} == {"security-group"}
        # The group itself carries them (tagSet in DescribeSecurityGroups).
        g = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]
        assert as_dict(g.get("Tags")) == {"Name": "web tier", "env": "prod", "empty": ""}

        # CreateTags on an existing key replaces its value.
        ec2.create_tags(Resources=[gid], Tags=[{"Key": "env", "Value": "staging"}])
        assert tags_of(ec2, gid)["env"] == "staging"

        # DeleteTags: a value that does not match leaves the tag alone.
        ec2.delete_tags(Resources=[gid], Tags=[{"Key": "env", "Value": "prod"}])
        assert "env" in tags_of(ec2, gid)
        ec2.delete_tags(Resources=[gid], Tags=[{"Key": "env", "Value": "staging"}])
        assert "env" not in tags_of(ec2, gid)
        # An empty value deletes only tags whose value is empty.
        ec2.delete_tags(Resources=[gid], Tags=[{"Key": "Name", "Value": ""},
                                               {"Key": "empty", "Value": ""}])
        assert tags_of(ec2, gid) == {"Name": "web tier"}
        # A key alone deletes whatever the value.
        ec2.delete_tags(Resources=[gid], Tags=[{"Key": "Name"}])
        assert tags_of(ec2, gid) == {}
    finally:
        drop_group(ec2, gid)


def test_delete_without_tags_removes_all(cloud):
    ec2 = cloud.ec2(2)
    _, g1 = new_group(ec2)
    _, g2 = new_group(ec2)
    try:
        ec2.create_tags(Resources=[g1, g2], Tags=[{"Key": "a", "Value": "1"},
                                                  {"Key": "b", "Value": "2"}])
        assert tags_of(ec2, g1) == {"a": "1", "b": "2"}
        assert tags_of(ec2, g2) == {"a": "1", "b": "2"}
        ec2.delete_tags(Resources=[g1])
        assert tags_of(ec2, g1) == {}
        assert tags_of(ec2, g2) == {"a": "1", "b": "2"}
    finally:
        drop_group(ec2, g1)
        drop_group(ec2, g2)


def test_deleting_a_group_drops_its_tags(cloud):
    ec2 = cloud.ec2(2)
    _, gid = new_group(ec2)
    ec2.create_tags(Resources=[gid], Tags=[{"Key": "gone", "Value": "soon"}])
    assert tags_of(ec2, gid) == {"gone": "soon"}
    ec2.delete_security_group(GroupId=gid)
    assert tags_of(ec2, gid) == {}


def test_tags_on_key_pairs(cloud):
    ec2 = cloud.ec2(2)
    name, kid = new_keypair(ec2)
    try:
        ec2.create_tags(Resources=[kid], Tags=[{"Key": "owner", "Value": "ops"}])
        d = ec2.describe_tags(Filters=[{"Name": "resource-type", "Values": ["key-pair"]},
                                       {"Name": "resource-id", "Values": [kid]}])
        assert [(t["ResourceId"], t["ResourceType"], t["Key"], t["Value"])
                for t in d["Tags"]] == [(kid, "key-pair", "owner", "ops")]
        kp = ec2.describe_key_pairs(KeyNames=[name])["KeyPairs"][0]
        assert as_dict(kp.get("Tags")) == {"owner": "ops"}
        # Tag filters on DescribeKeyPairs.
        found = ec2.describe_key_pairs(Filters=[{"Name": "tag:owner", "Values": ["o?s"]}])
        assert name in [k["KeyName"] for k in found["KeyPairs"]]
        found = ec2.describe_key_pairs(Filters=[{"Name": "tag:owner", "Values": ["dev"]}])
        assert name not in [k["KeyName"] for k in found["KeyPairs"]]
    finally:
        drop_keypair(ec2, name)
    # Gone with the key pair.
    assert tags_of(ec2, kid) == {}


def test_tag_specification_on_create(cloud):
    ec2 = cloud.ec2(2)
    name, gid = new_group(ec2, TagSpecifications=[{
        "ResourceType": "security-group",
        "Tags": [{"Key": "Name", "Value": "from spec"}, {"Key": "team", "Value": ""}]}])
    try:
        assert tags_of(ec2, gid) == {"Name": "from spec", "team": ""}
    finally:
        drop_group(ec2, gid)
    # A type the call does not create, and reserved keys, are refused and
    # nothing is created.
    bad = uname("grp")
    fails("InvalidParameterValue", ec2.create_security_group, GroupName=bad,
          Description="x", TagSpecifications=[{"ResourceType": "instance",
                                               "Tags": [{"Key": "a", "Value": "b"}]}])
    fails("InvalidParameterValue", ec2.create_security_group, GroupName=bad,
          Description="x", TagSpecifications=[{"ResourceType": "security-group",
                                               "Tags": [{"Key": "aws:x", "Value": "b"}]}])
    fails("InvalidGroup.NotFound", ec2.describe_security_groups, GroupNames=[bad])


def test_describe_tags_filters(cloud):
    ec2 = cloud.ec2(2)
    mark = uuid.uuid4().hex[:8]
    _, g1 = new_group(ec2)
    _, g2 = new_group(ec2)
    try:
        ec2.create_tags(Resources=[g1], Tags=[{"Key": "role-" + mark, "Value": "web"},
                                              {"Key": "cost-" + mark, "Value": "a*b"}])
        ec2.create_tags(Resources=[g2], Tags=[{"Key": "role-" + mark, "Value": "db"}])

        def rows(*filters):
            f = [{"Name": n, "Values": v} for n, v in filters]
            return sorted((t["ResourceId"], t["Key"], t["Value"])
                          for t in ec2.describe_tags(Filters=f)["Tags"])

        assert rows(("key", ["role-" + mark])) == sorted(
            [(g1, "role-" + mark, "web"), (g2, "role-" + mark, "db")])
        assert rows(("key", ["*-" + mark]), ("value", ["w*"])) == [(g1, "role-" + mark, "web")]
        assert rows(("key", ["*-" + mark]), ("value", ["web", "db"])) == sorted(
            [(g1, "role-" + mark, "web"), (g2, "role-" + mark, "db")])
        # `\*` is a literal star.
        assert rows(("value", ["a\\*b"]), ("key", ["*" + mark])) == [(g1, "cost-" + mark, "a*b")]
        assert rows(("value", ["a\\*c"]), ("key", ["*" + mark])) == []
        assert rows(("resource-id", [g2]), ("key", ["*" + mark])) == [(g2, "role-" + mark, "db")]
        assert rows(("resource-type", ["key-pair"]), ("key", ["*" + mark])) == []
        # Filters on the resources themselves.
        ids = lambda *f: sorted(g["GroupId"] for g in ec2.describe_security_groups(  # noqa
            Filters=[{"Name": n, "Values": v} for n, v in f])["SecurityGroups"])
        assert ids(("tag:role-" + mark, ["web"])) == [g1]
        assert ids(("tag:role-" + mark, ["*"])) == sorted([g1, g2])
        assert ids(("tag-key", ["cost-" + mark])) == [g1]
        assert ids(("tag-key", ["role-" + mark]), ("tag-value", ["d?"])) == [g2]
        # Unknown filter names.
        msg = fails("InvalidParameterValue", ec2.describe_tags,
                    Filters=[{"Name": "bogus-name", "Values": ["x"]}])
        assert "bogus-name" in msg
    finally:
        drop_group(ec2, g1)
        drop_group(ec2, g2)


def test_describe_tags_pagination(cloud):
    ec2 = cloud.ec2(3)
    _, gid = new_group(ec2)
    try:
        want = {"k%02d" % i: "v%d" % i for i in range(12)}
        ec2.create_tags(Resources=[gid], Tags=[{"Key": k, "Value": v} for k, v in want.items()])
        f = [{"Name": "resource-id", "Values": [gid]}]
        pages = list(ec2.get_paginator("describe_tags").paginate(
            Filters=f, PaginationConfig={"PageSize": 5}))
        assert [len(p["Tags"]) for p in pages] == [5, 5, 2]
        got = [(t["Key"], t["Value"]) for p in pages for t in p["Tags"]]
        assert len(got) == len(set(got)) == 12
        assert dict(got) == want
        assert "NextToken" not in pages[-1] or not pages[-1]["NextToken"]

        first = ec2.describe_tags(Filters=f, MaxResults=5)
        tok = first["NextToken"]
        # Tokens are bound to the account and to the action.
        fails("InvalidParameterValue", cloud.ec2(2).describe_tags, Filters=f, MaxResults=5,
              NextToken=tok)
        fails("InvalidParameterValue", ec2.describe_security_groups, MaxResults=5,
              NextToken=tok)
        mid = len(tok) // 2
        tampered = tok[:mid] + ("A" if tok[mid] != "A" else "B") + tok[mid + 1:]
        fails("InvalidParameterValue", ec2.describe_tags, Filters=f, MaxResults=5,
              NextToken=tampered)
        raw = unchecked(cloud, 3)
        fails("InvalidParameterValue", raw.describe_tags, MaxResults=4)
        fails("InvalidParameterValue", raw.describe_tags, MaxResults=1001)
        assert len(ec2.describe_tags(Filters=f, MaxResults=1000)["Tags"]) == 12
    finally:
        drop_group(ec2, gid)


def test_not_found_and_invalid_ids(cloud):
    ec2 = cloud.ec2(2)
    tag = [{"Key": "k", "Value": "v"}]
    msg = fails("InvalidGroup.NotFound", ec2.create_tags,
                Resources=["sg-0123456789abcdef0"], Tags=tag)
    assert "sg-0123456789abcdef0" in msg
    fails("InvalidKeyPair.NotFound", ec2.create_tags,
          Resources=["key-0123456789abcdef0"], Tags=tag)
    fails("InvalidAMIID.NotFound", ec2.create_tags, Resources=["ami-0123abcd"], Tags=tag)
    fails("InvalidAMIID.NotFound", ec2.create_tags, Resources=["emi-0123abcd"], Tags=tag)
    fails("InvalidInstanceID.NotFound", ec2.create_tags, Resources=["i-0123456789abcdef0"],
          Tags=tag)
    fails("InvalidID", ec2.create_tags, Resources=["vol-0123abcd"], Tags=tag)
    fails("InvalidID", ec2.create_tags, Resources=["not-an-id"], Tags=tag)
    fails("InvalidGroup.NotFound", ec2.delete_tags, Resources=["sg-0123456789abcdef0"])


def test_all_or_nothing_and_limits(cloud):
    ec2 = cloud.ec2(2)
    _, gid = new_group(ec2)
    try:
        # One missing resource: nothing is tagged.
        fails("InvalidGroup.NotFound", ec2.create_tags,
              Resources=[gid, "sg-0123456789abcdef0"], Tags=[{"Key": "k", "Value": "v"}])
        assert tags_of(ec2, gid) == {}
        fails("InvalidParameterValue", ec2.create_tags, Resources=[gid],
              Tags=[{"Key": "aws:reserved", "Value": "v"}])
        fails("InvalidParameterValue", ec2.create_tags, Resources=[gid],
              Tags=[{"Key": "k" * 129, "Value": "v"}])
        fails("InvalidParameterValue", ec2.create_tags, Resources=[gid],
              Tags=[{"Key": "k", "Value": "v" * 257}])
        # 128 characters of key and 256 of value are fine, even multi-byte ones.
        ec2.create_tags(Resources=[gid], Tags=[{"Key": "\u00e9" * 128, "Value": "\u20ac" * 256}])
        assert tags_of(ec2, gid) == {"\u00e9" * 128: "\u20ac" * 256}
        # 50 tags per resource, counting those it already has.
        ec2.create_tags(Resources=[gid],
                        Tags=[{"Key": "t%d" % i, "Value": str(i)} for i in range(49)])
        assert len(tags_of(ec2, gid)) == 50
        fails("TagLimitExceeded", ec2.create_tags, Resources=[gid],
              Tags=[{"Key": "one-more", "Value": "x"}])
        assert len(tags_of(ec2, gid)) == 50
        ec2.create_tags(Resources=[gid], Tags=[{"Key": "t0", "Value": "replaced"}])
        assert tags_of(ec2, gid)["t0"] == "replaced"
    finally:
        drop_group(ec2, gid)


def test_dry_run(cloud):
    ec2 = cloud.ec2(2)
    _, gid = new_group(ec2)
    try:
        fails("DryRunOperation", ec2.create_tags, Resources=[gid],
              Tags=[{"Key": "dry", "Value": "run"}], DryRun=True)
        assert tags_of(ec2, gid) == {}
        ec2.create_tags(Resources=[gid], Tags=[{"Key": "wet", "Value": "run"}])
        fails("DryRunOperation", ec2.delete_tags, Resources=[gid], DryRun=True)
        assert tags_of(ec2, gid) == {"wet": "run"}
        # DryRun on something that would fail answers the failure.
        fails("InvalidGroup.NotFound", ec2.create_tags, Resources=["sg-0123456789abcdef0"],
              Tags=[{"Key": "dry", "Value": "run"}], DryRun=True)
    finally:
        drop_group(ec2, gid)


def test_two_account_isolation(cloud):
    a, b = cloud.ec2(2), cloud.ec2(3)
    name, gid = new_group(a)
    kname, kid = new_keypair(a)
    try:
        a.create_tags(Resources=[gid, kid], Tags=[{"Key": "secret", "Value": "a"}])
        # B cannot tag, untag, or see A's resources or tags.
        fails("InvalidGroup.NotFound", b.create_tags, Resources=[gid],
              Tags=[{"Key": "x", "Value": "y"}])
        fails("InvalidKeyPair.NotFound", b.create_tags, Resources=[kid],
              Tags=[{"Key": "x", "Value": "y"}])
        fails("InvalidGroup.NotFound", b.delete_tags, Resources=[gid])
        fails("InvalidKeyPair.NotFound", b.delete_tags, Resources=[kid],
              Tags=[{"Key": "secret"}])
        assert tags_of(b, gid) == {}
        seen = b.describe_tags(Filters=[{"Name": "key", "Values": ["secret"]}])["Tags"]
        assert gid not in [t["ResourceId"] for t in seen]
        assert kid not in [t["ResourceId"] for t in seen]
        # A still has them all.
        assert tags_of(a, gid) == {"secret": "a"}
        assert tags_of(a, kid) == {"secret": "a"}
    finally:
        drop_group(a, gid)
        drop_keypair(a, kname)


# --------------------------------------------------------------------------
# awscli v2

def test_awscli_tags(cloud):
    ec2 = cloud.ec2(2)
    _, gid = new_group(ec2)
    try:
        cloud.ec2cli("ec2", "create-tags", "--resources", gid,
                     "--tags", "Key=Name,Value=cli group", "Key=stage,Value=",
                     profile="user2")
        out = json.loads(cloud.ec2cli("ec2", "describe-tags", "--filters",
                                      "Name=resource-id,Values=" + gid,
                                      profile="user2").stdout)
        assert sorted((t["Key"], t["Value"], t["ResourceType"]) for t in out["Tags"]) == \
            [("Name", "cli group", "security-group"), ("stage", "", "security-group")]
        # awscli's own pagination (--page-size) walks our tokens.
        out = json.loads(cloud.ec2cli("ec2", "describe-tags", "--page-size", "5",
                                      "--filters", "Name=resource-id,Values=" + gid,
                                      profile="user2").stdout)
        assert len(out["Tags"]) == 2
        cloud.ec2cli("ec2", "delete-tags", "--resources", gid, "--tags", "Key=Name,Value=wrong",
                     profile="user2")
        assert tags_of(ec2, gid) == {"Name": "cli group", "stage": ""}
        cloud.ec2cli("ec2", "delete-tags", "--resources", gid, "--tags", "Key=Name",
                     profile="user2")
        assert tags_of(ec2, gid) == {"stage": ""}
        p = cloud.ec2cli("ec2", "create-tags", "--resources", "sg-0123456789abcdef0",
                         "--tags", "Key=a,Value=b", profile="user2", check=False)
        assert p.returncode != 0
        assert "InvalidGroup.NotFound" in p.stderr
        p = cloud.ec2cli("ec2", "describe-tags", "--filters", "Name=nope,Values=x",
                         profile="user2", check=False)
        assert p.returncode != 0 and "InvalidParameterValue" in p.stderr
    finally:
        drop_group(ec2, gid)


def test_raw_xml_shape(cloud):
    """The DescribeTags document as EC2 writes it: tagSet/item with
    resourceId, resourceType, key, value (value present even when empty)."""
    ec2 = cloud.ec2(2)
    _, gid = new_group(ec2)
    captured = {}

    def keep(http_response, **kw):
        captured["body"] = http_response.content

    try:
        ec2.create_tags(Resources=[gid], Tags=[{"Key": "e", "Value": ""}])
        ec2.meta.events.register("after-call.ec2.DescribeTags", keep)
        ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [gid]}])
        root = ET.fromstring(captured["body"])
        ns = root.tag[1:].split("}")[0]
        assert root.tag == "{%s}DescribeTagsResponse" % ns
        assert ns.startswith("http://ec2.amazonaws.com/doc/")
        assert root.find("{%s}requestId" % ns).text
        items = root.findall("{%s}tagSet/{%s}item" % (ns, ns))
        assert len(items) == 1
        assert [c.tag.split("}")[1] for c in items[0]] == ["resourceId", "resourceType", "key",
                                                           "value"]
        assert items[0].find("{%s}value" % ns) is not None
    finally:
        drop_group(ec2, gid)


# --------------------------------------------------------------------------
# boto2 (SigV2)

def test_boto2_tags(cloud):
    ec2 = cloud.ec2(2)
    _, gid = new_group(ec2)
    conn = cloud.boto2_ec2(2)
    try:
        assert conn.create_tags([gid], {"Name": "boto2", "flag": ""})
        tags = conn.get_all_tags(filters={"resource-id": gid})
        assert sorted((t.name, t.value, t.res_type) for t in tags) == \
            [("Name", "boto2", "security-group"), ("flag", "", "security-group")]
        assert conn.delete_tags([gid], {"Name": None})
        assert [t.name for t in conn.get_all_tags(filters={"resource-id": gid})] == ["flag"]
        import boto.exception
        with pytest.raises(boto.exception.EC2ResponseError) as ei:
            conn.create_tags(["sg-0123456789abcdef0"], {"a": "b"})
        assert ei.value.error_code == "InvalidGroup.NotFound"
    finally:
        drop_group(ec2, gid)
