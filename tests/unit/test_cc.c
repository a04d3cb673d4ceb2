/*
 * test_cc.c - the cluster controller's pure logic: placement policies and
 * the private address plan.  Nodes, instances and real VMs are tested by
 * tests/integration/test_cc.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc/addr.h"
#include "cc/netstate.h"
#include "cc/sched.h"
#include "common/fsutil.h"
#include "tests/unit/harness.h"

static struct cc_capacity node(unsigned cores, unsigned mem, int up)
{
    struct cc_capacity c = { up, cores, mem, 100 };

    return c;
}

OC_TEST(cc_sched_policies)
{
    struct cc_capacity n[3] = { node(2, 2048, 1), node(4, 4096, 1), node(1, 512, 1) };
    struct cc_need small = { 1, 256, 1 }, big = { 3, 1024, 1 }, huge = { 8, 256, 1 };
    enum cc_policy p;
    size_t cur = (size_t)-1;

    CHECK(cc_policy_parse("greedy", &p) == 0 && p == CC_GREEDY);
    CHECK(cc_policy_parse("ROUNDROBIN", &p) == 0 && p == CC_ROUNDROBIN);
    CHECK(cc_policy_parse("PowerSave", &p) == 0 && p == CC_POWERSAVE);
    CHECK(cc_policy_parse("RANDOM", &p) != 0);

    /* GREEDY: the first that fits, always. */
    CHECK_INT(cc_sched_pick(CC_GREEDY, n, 3, &small, &cur), 0);
    CHECK_INT(cc_sched_pick(CC_GREEDY, n, 3, &small, &cur), 0);
    CHECK_INT(cc_sched_pick(CC_GREEDY, n, 3, &big, &cur), 1);
    CHECK_INT(cc_sched_pick(CC_GREEDY, n, 3, &huge, &cur), -1);

    /* ROUNDROBIN: the next after the last used that fits. */
    cur = (size_t)-1;
    CHECK_INT(cc_sched_pick(CC_ROUNDROBIN, n, 3, &small, &cur), 0);
    CHECK_INT(cc_sched_pick(CC_ROUNDROBIN, n, 3, &small, &cur), 1);
    CHECK_INT(cc_sched_pick(CC_ROUNDROBIN, n, 3, &small, &cur), 2);
    CHECK_INT(cc_sched_pick(CC_ROUNDROBIN, n, 3, &small, &cur), 0);
    CHECK_INT(cc_sched_pick(CC_ROUNDROBIN, n, 3, &big, &cur), 1);   /* skips what cannot */
    CHECK_INT(cc_sched_pick(CC_ROUNDROBIN, n, 3, &big, &cur), 1);
    CHECK_INT((int)cur, 1);
    CHECK_INT(cc_sched_pick(CC_ROUNDROBIN, n, 3, &huge, &cur), -1);
    CHECK_INT((int)cur, 1);                                          /* unchanged */

    /* POWERSAVE: the fullest node that still fits. */
    CHECK_INT(cc_sched_pick(CC_POWERSAVE, n, 3, &small, &cur), 2);
    n[2].mem_free_mb = 128;
    CHECK_INT(cc_sched_pick(CC_POWERSAVE, n, 3, &small, &cur), 0);
    CHECK_INT(cc_sched_pick(CC_POWERSAVE, n, 3, &big, &cur), 1);

    /* A node that is down never fits. */
    n[0].up = 0;
    CHECK_INT(cc_sched_pick(CC_GREEDY, n, 3, &small, &cur), 1);
    CHECK_INT(cc_sched_pick(CC_GREEDY, n, 0, &small, &cur), -1);
}

OC_TEST(cc_sched_packs_until_full)
{
    /* Placing one at a time and taking the capacity, as cluster.c does:
     * POWERSAVE fills the fuller node (1: 3 cores) before touching the other;
     * ROUNDROBIN alternates until node 1 is full. */
    struct cc_need one = { 1, 256, 1 };
    enum cc_policy pol[2] = { CC_POWERSAVE, CC_ROUNDROBIN };
    const char *want[2] = { "1110000", "0101010" };

    for (int p = 0; p < 2; p++) {
        struct cc_capacity n[2] = { node(4, 4096, 1), node(3, 4096, 1) };
        char got[8] = "";
        size_t cur = (size_t)-1;

        for (int k = 0; k < 7; k++) {
            int i = cc_sched_pick(pol[p], n, 2, &one, &cur);

            if (i < 0)
                break;
            got[k] = (char)('0' + i);
            n[i].cores_free -= 1;
        }
        CHECK_STR(got, want[p]);
        CHECK_INT(cc_sched_pick(pol[p], n, 2, &one, &cur), -1);
    }
}

OC_TEST(cc_address_plan)
{
    struct cc_plan p;
    struct cc_network n;
    struct oc_err err = { 0 };
    char ip[16], mac[18];
    uint32_t a;
    unsigned idx;

    CHECK_INT(cc_plan_init(&p, "10.101.0.0", "255.255.0.0", 32, &err), OC_OK);
    CHECK_INT(p.networks, 2048);
    CHECK_INT(cc_plan_network(&p, 3, &n), OC_OK);
    cc_ip_str(n.base, ip);
    CHECK_STR(ip, "10.101.0.96");
    cc_ip_str(n.gateway, ip);
    CHECK_STR(ip, "10.101.0.97");
    cc_ip_str(n.first, ip);
    CHECK_STR(ip, "10.101.0.98");
    cc_ip_str(n.last, ip);
    CHECK_STR(ip, "10.101.0.126");
    cc_ip_str(n.broadcast, ip);
    CHECK_STR(ip, "10.101.0.127");
    CHECK_INT(n.prefix, 27);
    CHECK_INT(cc_plan_network(&p, 2048, &n), OC_EINVAL);

    CHECK_INT(cc_ip_parse("10.101.0.100", &a), OC_OK);
    CHECK_INT(cc_plan_index_of(&p, a, &idx), 0);
    CHECK_INT(idx, 3);
    CHECK_INT(cc_ip_parse("10.101.0.97", &a), OC_OK);   /* a gateway is no instance's */
    CHECK_INT(cc_plan_index_of(&p, a, &idx), -1);
    CHECK_INT(cc_ip_parse("10.102.0.5", &a), OC_OK);
    CHECK_INT(cc_plan_index_of(&p, a, &idx), -1);

    CHECK_INT(cc_ip_parse("10.101.3.4", &a), OC_OK);
    cc_mac_of_ip(a, mac);
    CHECK_STR(mac, "d0:0d:0a:65:03:04");

    CHECK_INT(cc_plan_init(&p, "10.101.0.1", "255.255.0.0", 32, &err), OC_EINVAL);
    CHECK_INT(cc_plan_init(&p, "10.101.0.0", "255.0.255.0", 32, &err), OC_EINVAL);
    CHECK_INT(cc_plan_init(&p, "10.101.0.0", "255.255.255.0", 24, &err), OC_EINVAL);
    CHECK_INT(cc_plan_init(&p, "10.101.0.0", "255.255.255.0", 512, &err), OC_EINVAL);
    CHECK_INT(cc_plan_init(&p, "10.101.0.0", "255.255.255.0", 4, &err), OC_EINVAL);
    CHECK_INT(cc_plan_init(&p, "nonsense", "255.255.255.0", 32, &err), OC_EINVAL);
    CHECK_INT(cc_ip_parse("10.1.2.3; drop", &a), OC_EINVAL);
}

OC_TEST(cc_netstate_rules_and_addresses)
{
    char dir[4000];
    struct cc_netstate *ns = NULL;
    struct cc_rule ok[5] = {
        { "tcp", 22, 22, "0.0.0.0/0", "", 0 },
        { "udp", 53, 53, "10.0.0.0/8", "", 1 },   /* egress, given among the ingress ones */
        { "icmp", -1, -1, "", "sg-00000002", 0 },
        { "all", 5, 7, "10.1.0.0/16", "", 0 },
        { "47", 1, 2, "", "sg-00000002", 1 },      /* a protocol number: no ports */
    };
    int filtered = -1;
    struct cc_rule *got = NULL;
    struct cc_eip *eips = NULL;
    char(*groups)[64] = NULL;
    size_t n = 0;
    uint64_t g;
    struct oc_err err = { 0 };

    snprintf(dir, sizeof(dir), "%s/netstate", oc_test_tmpdir());
    CHECK_INT(oc_mkdirs(dir, 0700, &err), OC_OK);
    CHECK_INT(cc_netstate_open(dir, "192.0.2.10-192.0.2.12, 192.0.2.11 198.51.100.7", &ns, &err),
              OC_OK);
    if (!ns)
        return;
    g = cc_netstate_generation(ns);
    /* Never configured: no rules, egress not filtered. */
    CHECK_INT(cc_netstate_rules(ns, "sg-00000009", &got, &n, &filtered, &err), OC_OK);
    CHECK_INT(n, 0);
    CHECK_INT(filtered, 0);
    free(got);
    CHECK_INT(cc_netstate_configure(ns, "sg-00000001", ok, 5, 1, &err), OC_OK);
    CHECK(cc_netstate_generation(ns) > g);
    CHECK_INT(cc_netstate_rules(ns, "sg-00000001", &got, &n, &filtered, &err), OC_OK);
    CHECK_INT(n, 5);
    CHECK_INT(filtered, 1);
    if (n == 5) {
        /* Ingress first, then egress, each in the order given. */
        CHECK_STR(got[0].cidr, "0.0.0.0/0");
        CHECK_STR(got[1].src_group, "sg-00000002");
        CHECK_INT(got[2].from_port, -1);   /* ports mean nothing for "all" */
        CHECK_INT(got[0].egress + got[1].egress + got[2].egress, 0);
        CHECK(got[3].egress && got[4].egress);
        CHECK_STR(got[3].proto, "udp");
        CHECK_STR(got[4].proto, "47");
        CHECK_INT(got[4].from_port, -1);
        CHECK_INT(got[4].to_port, -1);
    }
    free(got);
    /* Egress not filtered again (a caller that says nothing of it): the
     * rules are the ones given, the flag says they do not filter. */
    CHECK_INT(cc_netstate_configure(ns, "sg-00000003", ok, 1, 0, &err), OC_OK);
    CHECK_INT(cc_netstate_rules(ns, "sg-00000003", &got, &n, &filtered, &err), OC_OK);
    CHECK_INT(n, 1);
    CHECK_INT(filtered, 0);
    free(got);
    /* A group configured with no rules at all still counts. */
    CHECK_INT(cc_netstate_configure(ns, "sg-00000004", NULL, 0, 1, &err), OC_OK);
    CHECK_INT(cc_netstate_rules(ns, "sg-00000004", &got, &n, &filtered, &err), OC_OK);
    CHECK_INT(n, 0);
    CHECK_INT(filtered, 1);
    free(got);
    CHECK_INT(cc_netstate_groups(ns, &groups, &n, &err), OC_OK);
    CHECK_INT(n, 3);
    if (n == 3) {
        CHECK_STR(groups[0], "sg-00000001");
        CHECK_STR(groups[2], "sg-00000004");
    }
    free(groups);

#define BADRULE(...)                                                              \
    do {                                                                          \
        struct cc_rule b_[1] = { __VA_ARGS__ };                                   \
        CHECK_INT(cc_netstate_configure(ns, "sg-00000001", b_, 1, 1, &err), OC_EINVAL); \
    } while (0)
    BADRULE({ "gre", 0, 0, "0.0.0.0/0", "", 0 });
    BADRULE({ "256", 0, 0, "0.0.0.0/0", "", 1 });
    BADRULE({ "06", 0, 0, "0.0.0.0/0", "", 1 });
    BADRULE({ "-1", 0, 0, "0.0.0.0/0", "", 1 });
    BADRULE({ "tcp", 80, 79, "0.0.0.0/0", "", 0 });
    BADRULE({ "tcp", 0, 70000, "0.0.0.0/0", "", 0 });
    BADRULE({ "tcp", 1, 2, "10.0.0.1/8", "", 0 });          /* host bits */
    BADRULE({ "tcp", 1, 2, "10.0.0.0/8;drop", "", 1 });
    BADRULE({ "tcp", 1, 2, "", "", 1 });                     /* neither */
    BADRULE({ "tcp", 1, 2, "10.0.0.0/8", "sg-1", 0 });       /* both */
    BADRULE({ "udp", 1, 2, "", "sg-1}", 1 });
#undef BADRULE
    CHECK_INT(cc_netstate_configure(ns, "SG-BAD", ok, 1, 1, &err), OC_EINVAL);
    /* A refused change leaves the old rules. */
    CHECK_INT(cc_netstate_rules(ns, "sg-00000001", &got, &n, &filtered, &err), OC_OK);
    CHECK_INT(n, 5);
    CHECK_INT(filtered, 1);
    free(got);

    CHECK_INT(cc_netstate_eips(ns, &eips, &n, &err), OC_OK);
    CHECK_INT(n, 4);   /* .10 .11 .12 and 198.51.100.7, the duplicate once */
    free(eips);
    CHECK_INT(cc_netstate_assign(ns, "192.0.2.11", "i-00000001", "10.101.0.34", &err), OC_OK);
    CHECK_INT(cc_netstate_assign(ns, "192.0.2.11", "i-00000001", "10.101.0.34", &err), OC_OK);
    CHECK_INT(cc_netstate_assign(ns, "192.0.2.11", "i-00000002", "10.101.0.35", &err),
              OC_EEXIST);
    CHECK_INT(cc_netstate_assign(ns, "192.0.2.13", "i-00000002", "10.101.0.35", &err),
              OC_EINVAL);
    /* One per instance: a second address replaces the first. */
    CHECK_INT(cc_netstate_assign(ns, "198.51.100.7", "i-00000001", "10.101.0.34", &err), OC_OK);
    CHECK_INT(cc_netstate_unassign(ns, "192.0.2.11", &err), OC_ENOTFOUND);
    CHECK_INT(cc_netstate_assign(ns, "192.0.2.10", "i-00000002", "10.101.0.35", &err), OC_OK);
    cc_netstate_forget_instance(ns, "i-00000002");
    CHECK_INT(cc_netstate_unassign(ns, "192.0.2.10", &err), OC_ENOTFOUND);
    CHECK_INT(cc_netstate_unassign(ns, "198.51.100.7", &err), OC_OK);
    cc_netstate_close(ns);

    /* Everything survives a restart; a bad range is refused. */
    CHECK_INT(cc_netstate_open(dir, "192.0.2.10-192.0.2.12", &ns, &err), OC_OK);
    CHECK_INT(cc_netstate_rules(ns, "sg-00000001", &got, &n, &filtered, &err), OC_OK);
    CHECK_INT(n, 5);
    CHECK_INT(filtered, 1);
    if (n == 5)
        CHECK(got[4].egress);
    free(got);
    cc_netstate_close(ns);
    ns = NULL;
    CHECK_INT(cc_netstate_open(dir, "192.0.2.12-192.0.2.10", &ns, &err), OC_EINVAL);
    CHECK_INT(cc_netstate_open(dir, "10.0.0.0-10.2.0.0", &ns, &err), OC_EINVAL);
}

OC_TEST(cc_macmap_parse_rules)
{
    struct cc_plan p;
    struct cc_static_addr *m = NULL;
    size_t n = 0;
    struct oc_err err = { 0 };

    CHECK_INT(cc_plan_init(&p, "10.102.0.0", "255.255.255.0", 32, &err), OC_OK);
    CHECK_INT(cc_macmap_parse(&p, "02:00:0A:66:00:0A=10.102.0.10, 02:00:0a:66:00:0b=10.102.0.11",
                              &m, &n, &err), OC_OK);
    CHECK_INT(n, 2);
    CHECK_STR(m[0].mac, "02:00:0a:66:00:0a");
    CHECK_INT(m[1].ip, (10u << 24) | (102u << 16) | 11u);
    free(m);
    CHECK_INT(cc_macmap_parse(&p, "  ", &m, &n, &err), OC_OK);
    CHECK_INT(n, 0);
    free(m);
    /* Outside the subnet, the network or broadcast address, multicast MAC,
     * duplicates, malformed. */
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00:0a=10.103.0.10", &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00:0a=10.102.0.0", &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00:0a=10.102.0.255", &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "01:00:0a:66:00:0a=10.102.0.10", &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00:0a=10.102.0.10 02:00:0a:66:00:0b=10.102.0.10",
                          &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00:0a=10.102.0.10 02:00:0A:66:00:0a=10.102.0.11",
                          &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00=10.102.0.10", &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00:0g=10.102.0.10", &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00:0a", &m, &n, &err) != OC_OK);
    CHECK(cc_macmap_parse(&p, "02:00:0a:66:00:0a=10.102.0.1000000000000", &m, &n, &err) !=
          OC_OK);
    CHECK(m == NULL);
}
