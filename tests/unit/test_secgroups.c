/* Unit tests for clc/secgroups.c: CIDR and protocol/port parsing, the
 * IpPermissions parameter parser (legacy flat form included), name checks,
 * and the storage helpers on a scratch clc.db. */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <string.h>

#include "clc/clc.h"
#include "clc/schema.h"
#include "clc/secgroups.h"
#include "common/arena.h"
#include "common/db.h"
#include "common/query.h"

static const char *cidr(struct oc_arena *a, const char *text)
{
    return clc_sg_cidr_normalize(a, text, NULL);
}

OC_TEST(sg_cidr_ipv4)
{
    struct oc_arena *a = oc_arena_new();
    int v6 = -1;

    CHECK_STR(clc_sg_cidr_normalize(a, "10.0.0.0/8", &v6), "10.0.0.0/8");
    CHECK_INT(v6, 0);
    CHECK_STR(cidr(a, "10.1.2.3/8"), "10.0.0.0/8");
    CHECK_STR(cidr(a, "192.168.77.129/25"), "192.168.77.128/25");
    CHECK_STR(cidr(a, "192.168.1.77/32"), "192.168.1.77/32");
    CHECK_STR(cidr(a, "203.0.113.9/0"), "0.0.0.0/0");
    CHECK_STR(cidr(a, "0.0.0.0/0"), "0.0.0.0/0");
    CHECK_STR(cidr(a, "255.255.255.255/31"), "255.255.255.254/31");
    CHECK_STR(cidr(a, "172.16.5.4/12"), "172.16.0.0/12");
    CHECK(cidr(a, "10.0.0.1/33") == NULL);
    CHECK(cidr(a, "300.1.1.1/8") == NULL);
    CHECK(cidr(a, "256.0.0.0/8") == NULL);
    CHECK(cidr(a, "10.0.0.1") == NULL);
    CHECK(cidr(a, "10.0.0.0/") == NULL);
    CHECK(cidr(a, "/8") == NULL);
    CHECK(cidr(a, "10.0.0/8") == NULL);
    CHECK(cidr(a, "10.0.0.0.0/8") == NULL);
    CHECK(cidr(a, "10..0.0/8") == NULL);
    CHECK(cidr(a, "010.0.0.0/8") == NULL);
    CHECK(cidr(a, "10.0.0.0/08") == NULL);
    CHECK(cidr(a, "10.0.0.0/-1") == NULL);
    CHECK(cidr(a, "10.0.0.0/8 ") == NULL);
    CHECK(cidr(a, " 10.0.0.0/8") == NULL);
    CHECK(cidr(a, "a.b.c.d/8") == NULL);
    CHECK(cidr(a, "") == NULL);
    CHECK(cidr(a, NULL) == NULL);
    oc_arena_free(a);
}

OC_TEST(sg_cidr_ipv6)
{
    struct oc_arena *a = oc_arena_new();
    int v6 = -1;

    CHECK_STR(clc_sg_cidr_normalize(a, "2001:db8::1/32", &v6), "2001:db8::/32");
    CHECK_INT(v6, 1);
    CHECK_STR(cidr(a, "::/0"), "::/0");
    CHECK_STR(cidr(a, "2001:DB8:0:0:0:0:0:1/128"), "2001:db8::1/128");
    CHECK_STR(cidr(a, "2001:db8:abcd:12ff::/56"), "2001:db8:abcd:1200::/56");
    CHECK(cidr(a, "2001:db8::/129") == NULL);
    CHECK(cidr(a, "2001:db8:::1/64") == NULL);
    CHECK(cidr(a, "2001:db8::1") == NULL);
    oc_arena_free(a);
}

OC_TEST(sg_protocols)
{
    struct oc_arena *a = oc_arena_new();

    CHECK_STR(clc_sg_protocol_normalize(a, "tcp"), "tcp");
    CHECK_STR(clc_sg_protocol_normalize(a, "TCP"), "tcp");
    CHECK_STR(clc_sg_protocol_normalize(a, "Udp"), "udp");
    CHECK_STR(clc_sg_protocol_normalize(a, "icmp"), "icmp");
    CHECK_STR(clc_sg_protocol_normalize(a, "icmpv6"), "icmpv6");
    CHECK_STR(clc_sg_protocol_normalize(a, "6"), "tcp");
    CHECK_STR(clc_sg_protocol_normalize(a, "17"), "udp");
    CHECK_STR(clc_sg_protocol_normalize(a, "1"), "icmp");
    CHECK_STR(clc_sg_protocol_normalize(a, "58"), "icmpv6");
    CHECK_STR(clc_sg_protocol_normalize(a, "all"), "-1");
    CHECK_STR(clc_sg_protocol_normalize(a, "-1"), "-1");
    CHECK_STR(clc_sg_protocol_normalize(a, "50"), "50");
    CHECK_STR(clc_sg_protocol_normalize(a, "0"), "0");
    CHECK_STR(clc_sg_protocol_normalize(a, "255"), "255");
    CHECK(clc_sg_protocol_normalize(a, "256") == NULL);
    CHECK(clc_sg_protocol_normalize(a, "06") == NULL);
    CHECK(clc_sg_protocol_normalize(a, "-2") == NULL);
    CHECK(clc_sg_protocol_normalize(a, "sctp") == NULL);
    CHECK(clc_sg_protocol_normalize(a, "") == NULL);
    oc_arena_free(a);
}

/* Ports: returns "from/to" or "ERR:<code>". */
static const char *ports(struct oc_arena *a, const char *proto, const char *from,
                         const char *to)
{
    struct clc_sg_perr pe = { 0 };
    int f = 99, t = 99;

    if (clc_sg_ports_parse(a, proto, from, to, &f, &t, &pe))
        return oc_arena_printf(a, "ERR:%s", pe.code);
    return oc_arena_printf(a, "%d/%d", f, t);
}

OC_TEST(sg_ports)
{
    struct oc_arena *a = oc_arena_new();

    CHECK_STR(ports(a, "tcp", "22", "22"), "22/22");
    CHECK_STR(ports(a, "udp", "0", "65535"), "0/65535");
    CHECK_STR(ports(a, "tcp", "1000", "2000"), "1000/2000");
    CHECK_STR(ports(a, "tcp", "22", NULL), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "tcp", NULL, NULL), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "tcp", "", "22"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "tcp", "100", "50"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "tcp", "0", "65536"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "tcp", "-1", "-1"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "tcp", "abc", "22"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "tcp", "22", "2x"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "udp", "999999", "999999"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "icmp", NULL, NULL), "-1/-1");
    CHECK_STR(ports(a, "icmp", "8", "0"), "8/0");
    CHECK_STR(ports(a, "icmp", "8", "-1"), "8/-1");
    CHECK_STR(ports(a, "icmp", "-1", "-1"), "-1/-1");
    CHECK_STR(ports(a, "icmp", "-1", "0"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "icmp", "256", "0"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "icmp", "3", "256"), "ERR:InvalidParameterValue");
    CHECK_STR(ports(a, "icmpv6", "128", "0"), "128/0");
    CHECK_STR(ports(a, "-1", "22", "22"), "-1/-1");
    CHECK_STR(ports(a, "-1", NULL, NULL), "-1/-1");
    CHECK_STR(ports(a, "50", "1", "2"), "-1/-1");
    oc_arena_free(a);
}

/* A query from "name=value" strings, as the front door would decode it. */
static struct oc_query make_query(struct oc_arena *a, const char *const *pairs)
{
    struct oc_query q = { 0 };
    size_t n = 0;

    while (pairs[n])
        n++;
    q.items = oc_arena_calloc(a, n + 1, sizeof(*q.items));
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(pairs[i], '=');

        q.items[i].name = oc_arena_strndup(a, pairs[i], (size_t)(eq - pairs[i]));
        q.items[i].value = oc_arena_strdup(a, eq + 1);
        q.items[i].has_value = 1;
    }
    q.n = n;
    return q;
}

static int parse(struct oc_arena *a, const char *const *pairs, struct clc_sg_perm **perms,
                 size_t *n, struct clc_sg_perr *pe)
{
    struct oc_query q = make_query(a, pairs);

    pe->code = pe->msg = NULL;
    return clc_sg_perms_parse(a, &q, perms, n, pe);
}

OC_TEST(sg_perms_awscli_shorthand)
{
    struct oc_arena *a = oc_arena_new();
    static const char *const q[] = {
        "Action=AuthorizeSecurityGroupIngress", "GroupName=web",
        "IpPermissions.1.IpProtocol=tcp", "IpPermissions.1.FromPort=22",
        "IpPermissions.1.ToPort=22", "IpPermissions.1.IpRanges.1.CidrIp=10.9.8.7/8",
        NULL,
    };
    struct clc_sg_perm *p = NULL;
    struct clc_sg_perr pe;
    size_t n = 0;

    CHECK_INT(parse(a, q, &p, &n, &pe), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(p[0].protocol, "tcp");
        CHECK_INT(p[0].from_port, 22);
        CHECK_INT(p[0].to_port, 22);
        CHECK_INT(p[0].npeers, 1);
        CHECK_STR(p[0].peers[0].cidr, "10.0.0.0/8");
        CHECK_STR(p[0].peers[0].description, "");
        CHECK(p[0].peers[0].group_name == NULL);
    }
    oc_arena_free(a);
}

OC_TEST(sg_perms_many_sorted)
{
    struct oc_arena *a = oc_arena_new();
    /* Indexes out of order and sparse, as clients may send them. */
    static const char *const q[] = {
        "IpPermissions.3.IpProtocol=-1",
        "IpPermissions.3.Groups.2.GroupId=sg-0123456789abcdef0",
        "IpPermissions.3.Groups.1.GroupName=other",
        "IpPermissions.3.Groups.1.UserId=123456789012",
        "IpPermissions.3.Groups.1.Description=peers",
        "IpPermissions.1.IpProtocol=UDP",
        "IpPermissions.1.FromPort=53",
        "IpPermissions.1.ToPort=53",
        "IpPermissions.1.IpRanges.2.CidrIp=192.168.0.0/16",
        "IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8",
        "IpPermissions.1.IpRanges.1.Description=dns in",
        "IpPermissions.1.Ipv6Ranges.1.CidrIpv6=2001:db8::5/64",
        "IpPermissions.1.Groups.1.VpcId=vpc-ignored",
        "IpPermissions.1.Groups.1.GroupName=dns",
        NULL,
    };
    struct clc_sg_perm *p = NULL;
    struct clc_sg_perr pe;
    size_t n = 0;

    CHECK_INT(parse(a, q, &p, &n, &pe), 0);
    CHECK_INT(n, 2);
    if (n != 2) {
        oc_arena_free(a);
        return;
    }
    CHECK_STR(p[0].protocol, "udp");
    CHECK_INT(p[0].from_port, 53);
    CHECK_INT(p[0].npeers, 4);
    if (p[0].npeers == 4) {
        CHECK_STR(p[0].peers[0].cidr, "10.0.0.0/8");
        CHECK_STR(p[0].peers[0].description, "dns in");
        CHECK_STR(p[0].peers[1].cidr, "192.168.0.0/16");
        CHECK_STR(p[0].peers[2].cidr, "2001:db8::/64");
        CHECK_INT(p[0].peers[2].ipv6, 1);
        CHECK(p[0].peers[3].cidr == NULL);
        CHECK_STR(p[0].peers[3].group_name, "dns");
    }
    CHECK_STR(p[1].protocol, "-1");
    CHECK_INT(p[1].from_port, -1);
    CHECK_INT(p[1].to_port, -1);
    CHECK_INT(p[1].npeers, 2);
    if (p[1].npeers == 2) {
        CHECK_STR(p[1].peers[0].group_name, "other");
        CHECK_STR(p[1].peers[0].user_id, "123456789012");
        CHECK_STR(p[1].peers[0].description, "peers");
        CHECK_STR(p[1].peers[1].group_id, "sg-0123456789abcdef0");
        CHECK(p[1].peers[1].user_id == NULL);
    }
    oc_arena_free(a);
}

/* Expect a parse failure with this AWS code. */
static void parse_fails(const char *const *q, const char *code, int line)
{
    struct oc_arena *a = oc_arena_new();
    struct clc_sg_perm *p = NULL;
    struct clc_sg_perr pe;
    size_t n = 0;

    if (parse(a, q, &p, &n, &pe) != -1)
        oc_test_fail(__FILE__, line, "parse succeeded, expected %s", code);
    else if (!pe.code || strcmp(pe.code, code) != 0 || !pe.msg || !*pe.msg)
        oc_test_fail(__FILE__, line, "got %s (%s), expected %s", pe.code ? pe.code : "-",
                     pe.msg ? pe.msg : "-", code);
    oc_arena_free(a);
}

OC_TEST(sg_perms_errors)
{
    static const char *const none[] = { "GroupName=x", NULL };
    static const char *const no_proto[] = {
        "IpPermissions.1.FromPort=22", "IpPermissions.1.ToPort=22",
        "IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8", NULL,
    };
    static const char *const bad_proto[] = {
        "IpPermissions.1.IpProtocol=sctp", "IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8", NULL,
    };
    static const char *const no_peer[] = {
        "IpPermissions.1.IpProtocol=tcp", "IpPermissions.1.FromPort=22",
        "IpPermissions.1.ToPort=22", NULL,
    };
    static const char *const bad_cidr[] = {
        "IpPermissions.1.IpProtocol=tcp", "IpPermissions.1.FromPort=22",
        "IpPermissions.1.ToPort=22", "IpPermissions.1.IpRanges.1.CidrIp=10.0.0.1/33", NULL,
    };
    static const char *const bad_cidr2[] = {
        "IpPermissions.1.IpProtocol=-1", "IpPermissions.1.IpRanges.1.CidrIp=300.1.1.1/8", NULL,
    };
    static const char *const v6_in_v4[] = {
        "IpPermissions.1.IpProtocol=-1", "IpPermissions.1.IpRanges.1.CidrIp=::/0", NULL,
    };
    static const char *const bad_ports[] = {
        "IpPermissions.1.IpProtocol=tcp", "IpPermissions.1.FromPort=80",
        "IpPermissions.1.ToPort=79", "IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8", NULL,
    };
    static const char *const second_bad[] = {
        "IpPermissions.1.IpProtocol=-1", "IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8",
        "IpPermissions.2.IpProtocol=tcp", "IpPermissions.2.IpRanges.1.CidrIp=10.0.0.0/8", NULL,
    };
    static const char *const bad_index[] = {
        "IpPermissions.x.IpProtocol=tcp", NULL,
    };
    static const char *const zero_index[] = {
        "IpPermissions.0.IpProtocol=tcp", NULL,
    };
    static const char *const bad_sub_index[] = {
        "IpPermissions.1.IpProtocol=-1", "IpPermissions.1.IpRanges.01.CidrIp=10.0.0.0/8", NULL,
    };
    static const char *const group_no_name[] = {
        "IpPermissions.1.IpProtocol=-1", "IpPermissions.1.Groups.1.UserId=123456789012", NULL,
    };
    static const char *const range_no_cidr[] = {
        "IpPermissions.1.IpProtocol=-1", "IpPermissions.1.IpRanges.1.Description=x", NULL,
    };
    static const char *const prefix_list[] = {
        "IpPermissions.1.IpProtocol=-1", "IpPermissions.1.PrefixListIds.1.PrefixListId=pl-1",
        NULL,
    };
    static const char *const bad_desc[] = {
        "IpPermissions.1.IpProtocol=-1", "IpPermissions.1.IpRanges.1.CidrIp=10.0.0.0/8",
        "IpPermissions.1.IpRanges.1.Description=tab\there", NULL,
    };
    static const char *const flat_no_proto[] = { "CidrIp=10.0.0.0/8", NULL };
    static const char *const flat_owner_only[] = { "SourceSecurityGroupOwnerId=123456789012",
                                                   NULL };
    static const char *const flat_no_peer[] = { "IpProtocol=tcp", "FromPort=1", "ToPort=2",
                                                NULL };
    static const char *const flat_bad_cidr[] = { "IpProtocol=tcp", "FromPort=1", "ToPort=2",
                                                 "CidrIp=1.2.3.4", NULL };

    parse_fails(none, "MissingParameter", __LINE__);
    parse_fails(no_proto, "MissingParameter", __LINE__);
    parse_fails(bad_proto, "InvalidParameterValue", __LINE__);
    parse_fails(no_peer, "MissingParameter", __LINE__);
    parse_fails(bad_cidr, "InvalidParameterValue", __LINE__);
    parse_fails(bad_cidr2, "InvalidParameterValue", __LINE__);
    parse_fails(v6_in_v4, "InvalidParameterValue", __LINE__);
    parse_fails(bad_ports, "InvalidParameterValue", __LINE__);
    parse_fails(second_bad, "InvalidParameterValue", __LINE__);
    parse_fails(bad_index, "InvalidParameterValue", __LINE__);
    parse_fails(zero_index, "InvalidParameterValue", __LINE__);
    parse_fails(bad_sub_index, "InvalidParameterValue", __LINE__);
    parse_fails(group_no_name, "MissingParameter", __LINE__);
    parse_fails(range_no_cidr, "MissingParameter", __LINE__);
    parse_fails(prefix_list, "InvalidPrefixListId.NotFound", __LINE__);
    parse_fails(bad_desc, "InvalidParameterValue", __LINE__);
    parse_fails(flat_no_proto, "MissingParameter", __LINE__);
    parse_fails(flat_owner_only, "MissingParameter", __LINE__);
    parse_fails(flat_no_peer, "MissingParameter", __LINE__);
    parse_fails(flat_bad_cidr, "InvalidParameterValue", __LINE__);
}

OC_TEST(sg_perms_legacy_flat)
{
    struct oc_arena *a = oc_arena_new();
    static const char *const cidr_form[] = {
        "GroupName=web", "IpProtocol=tcp", "FromPort=80", "ToPort=81",
        "CidrIp=172.16.9.1/12", NULL,
    };
    /* boto2's authorize(src_group=...) without ports: tcp, udp and icmp. */
    static const char *const group_form[] = {
        "GroupName=web", "SourceSecurityGroupName=app",
        "SourceSecurityGroupOwnerId=210987654321", NULL,
    };
    static const char *const group_proto[] = {
        "GroupName=web", "IpProtocol=icmp", "FromPort=8", "ToPort=-1",
        "SourceSecurityGroupName=app", NULL,
    };
    struct clc_sg_perm *p = NULL;
    struct clc_sg_perr pe;
    size_t n = 0;

    CHECK_INT(parse(a, cidr_form, &p, &n, &pe), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(p[0].protocol, "tcp");
        CHECK_INT(p[0].from_port, 80);
        CHECK_INT(p[0].to_port, 81);
        CHECK_INT(p[0].npeers, 1);
        CHECK_STR(p[0].peers[0].cidr, "172.16.0.0/12");
    }
    CHECK_INT(parse(a, group_form, &p, &n, &pe), 0);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(p[0].protocol, "tcp");
        CHECK_INT(p[0].from_port, 0);
        CHECK_INT(p[0].to_port, 65535);
        CHECK_STR(p[1].protocol, "udp");
        CHECK_STR(p[2].protocol, "icmp");
        CHECK_INT(p[2].from_port, -1);
        for (int i = 0; i < 3; i++) {
            CHECK_INT(p[i].npeers, 1);
            CHECK_STR(p[i].peers[0].group_name, "app");
            CHECK_STR(p[i].peers[0].user_id, "210987654321");
            CHECK(p[i].peers[0].cidr == NULL);
        }
    }
    CHECK_INT(parse(a, group_proto, &p, &n, &pe), 0);
    CHECK_INT(n, 1);
    if (n == 1) {
        CHECK_STR(p[0].protocol, "icmp");
        CHECK_INT(p[0].from_port, 8);
        CHECK_INT(p[0].to_port, -1);
        CHECK_STR(p[0].peers[0].group_name, "app");
        CHECK(p[0].peers[0].user_id == NULL);
    }
    oc_arena_free(a);
}

OC_TEST(sg_names_and_ids)
{
    struct oc_arena *a = oc_arena_new();
    struct clc_sg_perr pe;
    char long_name[300];

    memset(long_name, 'x', sizeof(long_name));
    long_name[255] = '\0';
    CHECK_INT(clc_sg_name_check(a, "GroupName", "web servers (prod) #1", &pe), 0);
    CHECK_INT(clc_sg_name_check(a, "GroupName", long_name, &pe), 0);
    long_name[255] = 'x';
    long_name[256] = '\0';
    CHECK_INT(clc_sg_name_check(a, "GroupName", long_name, &pe), -1);
    CHECK_STR(pe.code, "InvalidParameterValue");
    CHECK_INT(clc_sg_name_check(a, "GroupName", "", &pe), -1);
    CHECK_STR(pe.code, "MissingParameter");
    CHECK_INT(clc_sg_name_check(a, "GroupName", "sg-12345678", &pe), -1);
    CHECK_STR(pe.code, "InvalidParameterValue");
    CHECK_INT(clc_sg_name_check(a, "GroupDescription", "sg-is fine here", &pe), 0);
    CHECK_INT(clc_sg_name_check(a, "GroupName", "caf\xc3\xa9", &pe), -1);
    CHECK_INT(clc_sg_name_check(a, "GroupName", "new\nline", &pe), -1);

    CHECK(clc_sg_id_valid("sg-12345678"));
    CHECK(clc_sg_id_valid("sg-0123456789abcdef0"));
    CHECK(!clc_sg_id_valid("sg-1234567"));
    CHECK(!clc_sg_id_valid("sg-0123456789ABCDEF0"));
    CHECK(!clc_sg_id_valid("sg-0123456789abcdefg"));
    CHECK(!clc_sg_id_valid("xg-12345678"));
    CHECK(!clc_sg_id_valid("default"));
    CHECK(!clc_sg_id_valid(NULL));
    oc_arena_free(a);
}

OC_TEST(sg_default_group_and_rules_load)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_err err = { 0 };
    struct oc_db *db = NULL;
    struct clc_sg_rule *rules = NULL;
    const struct oc_migration *migs;
    const char *gid = NULL, *gname = NULL;
    size_t nmig, n = 0;
    int in_use = -1;
    char path[512];

    snprintf(path, sizeof(path), "%s/secgroups.db", oc_test_tmpdir());
    migs = clc_schema(&nmig);
    CHECK_INT(oc_db_open(path, migs, nmig, &db, &err), 0);
    if (!db) {
        oc_arena_free(a);
        return;
    }
    CHECK_INT(oc_db_begin(db, &err), 0);
    CHECK_INT(clc_secgroup_create_default(db, "111122223333", &err), 0);
    /* Idempotent: a second call keeps the one group. */
    CHECK_INT(clc_secgroup_create_default(db, "111122223333", &err), 0);
    CHECK_INT(clc_secgroup_create_default(db, "444455556666", &err), 0);
    CHECK_INT(oc_db_commit(db, &err), 0);

    CHECK_INT(clc_secgroup_resolve(db, a, "111122223333", "default", &gid, &gname, &err), 0);
    CHECK(clc_sg_id_valid(gid));
    CHECK_STR(gname, "default");
    CHECK_INT(clc_secgroup_resolve(db, a, "111122223333", gid, NULL, &gname, &err), 0);
    CHECK_STR(gname, "default");
    /* Another account's group is not found, even by id. */
    CHECK_INT(clc_secgroup_resolve(db, a, "444455556666", gid, NULL, NULL, &err),
              OC_ENOTFOUND);
    CHECK_INT(clc_secgroup_resolve(db, a, "111122223333", "nope", NULL, NULL, &err),
              OC_ENOTFOUND);

    CHECK_INT(clc_secgroup_rules_load(db, a, gid, &rules, &n, &err), 0);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_INT(rules[0].egress, 0);
        CHECK_STR(rules[0].protocol, "-1");
        CHECK_STR(rules[0].src_group_id, gid);
        CHECK_STR(rules[0].src_group_name, "default");
        CHECK_STR(rules[0].src_account_id, "111122223333");
        CHECK_STR(rules[0].cidr, "");
        CHECK(strncmp(rules[0].rule_id, "sgr-", 4) == 0);
        CHECK_INT(rules[1].egress, 1);
        CHECK_STR(rules[1].protocol, "-1");
        CHECK_INT(rules[1].from_port, -1);
        CHECK_INT(rules[1].to_port, -1);
        CHECK_STR(rules[1].cidr, "0.0.0.0/0");
        CHECK_STR(rules[1].src_group_id, "");
        CHECK(strcmp(rules[0].rule_id, rules[1].rule_id) != 0);
    }
    CHECK_INT(clc_secgroup_rules_load(db, a, "sg-00000000", &rules, &n, &err), 0);
    CHECK_INT(n, 0);

    /* In use while a live instance is in the group, not once it is
     * terminated. */
    CHECK_INT(clc_secgroup_in_use_by_instances(db, gid, &in_use, &err), 0);
    CHECK_INT(in_use, 0);
    CHECK_INT(oc_db_run(db, "INSERT INTO reservations (id, account_id, created)"
                            " VALUES ('r-1', '111122223333', 0)", NULL, &err, ""), 0);
    CHECK_INT(oc_db_run(db, "INSERT INTO instances (id, reservation_id, account_id,"
                            " launch_index, image_id, instance_type, cluster, state,"
                            " state_time, launch_time) VALUES ('i-1', 'r-1', '111122223333',"
                            " 0, 'ami-1', 'm1.small', 'z', 'running', 0, 0)", NULL, &err, ""), 0);
    CHECK_INT(oc_db_run(db, "INSERT INTO instance_groups VALUES ('i-1', ?, 'web')", NULL, &err,
                        "s", gid), 0);
    CHECK_INT(clc_secgroup_in_use_by_instances(db, gid, &in_use, &err), 0);
    CHECK_INT(in_use, 1);
    CHECK_INT(oc_db_run(db, "UPDATE instances SET state = 'terminated'", NULL, &err, ""), 0);
    CHECK_INT(clc_secgroup_in_use_by_instances(db, gid, &in_use, &err), 0);
    CHECK_INT(in_use, 0);
    oc_db_close(db);
    oc_arena_free(a);
}
