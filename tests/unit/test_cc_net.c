/*
 * test_cc_net.c - the cluster's data plane renderers against golden files:
 * the nftables table (cc/nft.c) and dnsmasq's hosts and options files
 * (cc/dhcp.c).  The golden table is also loaded by the real nft in the
 * integration tests; here the point is that the same model always gives
 * the same bytes and that every rule shape renders as reviewed.
 * Regenerate after a reviewed change with OC_GOLDEN_UPDATE=1.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc/dhcp.h"
#include "cc/nft.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "tests/unit/harness.h"

/* Every ingress rule shape; egress as a new group has it (all traffic
 * anywhere: no egress chain at all). */
static const struct cc_rule rules_web[] = {
    { "tcp", 22, 22, "0.0.0.0/0", "", 0 },
    { "tcp", 80, 443, "192.0.2.0/24", "", 0 },
    { "udp", 53, 53, "10.0.0.0/8", "", 0 },
    { "icmp", -1, -1, "0.0.0.0/0", "", 0 },
    { "icmp", 8, -1, "198.51.100.7/32", "", 0 },
    { "icmp", 3, 4, "0.0.0.0/0", "", 0 },
    { "tcp", 5432, 5432, "", "sg-db000001", 0 },
    { "all", -1, -1, "", "sg-gone0001", 0 },
    { "all", -1, -1, "203.0.113.0/24", "", 0 },
    { "all", -1, -1, "0.0.0.0/0", "", 1 },
};
static const struct cc_rule rules_db[] = {
    { "all", -1, -1, "0.0.0.0/0", "", 1 },
};

static void model(struct cc_net_model *m, struct cc_net_group g[2], struct cc_net_host h[3],
                  struct cc_eip e[1])
{
    memset(m, 0, sizeof(*m));
    memset(g, 0, 2 * sizeof(*g));
    memset(h, 0, 3 * sizeof(*h));
    memset(e, 0, sizeof(*e));
    m->table = "overcast";
    m->bridge = "ocbr0";
    m->filter = 1;
    m->pubif = "ocpub0";
    m->subnet = "10.101.0.0/16";
    m->md_ip = "10.101.0.1";
    m->md_port = 8776;
    snprintf(g[0].id, sizeof(g[0].id), "sg-web00001");
    g[0].index = 1;
    snprintf(g[0].cidr, sizeof(g[0].cidr), "10.101.0.32/27");
    snprintf(g[0].gateway, sizeof(g[0].gateway), "10.101.0.33");
    snprintf(g[0].netmask, sizeof(g[0].netmask), "255.255.255.224");
    snprintf(g[0].broadcast, sizeof(g[0].broadcast), "10.101.0.63");
    g[0].prefix = 27;
    g[0].has_net = 1;
    g[0].rules = rules_web;
    g[0].nrules = sizeof(rules_web) / sizeof(rules_web[0]);
    snprintf(g[1].id, sizeof(g[1].id), "sg-db000001");
    g[1].index = 3;
    snprintf(g[1].cidr, sizeof(g[1].cidr), "10.101.0.96/27");
    snprintf(g[1].gateway, sizeof(g[1].gateway), "10.101.0.97");
    snprintf(g[1].netmask, sizeof(g[1].netmask), "255.255.255.224");
    snprintf(g[1].broadcast, sizeof(g[1].broadcast), "10.101.0.127");
    g[1].prefix = 27;
    g[1].has_net = 1;
    g[1].rules = rules_db;
    g[1].nrules = 1;
    m->groups = g;
    m->ngroups = 2;
    snprintf(h[0].id, sizeof(h[0].id), "i-00000001");
    snprintf(h[0].mac, sizeof(h[0].mac), "d0:0d:0a:65:00:22");
    snprintf(h[0].ip, sizeof(h[0].ip), "10.101.0.34");
    h[0].group = 0;
    snprintf(h[1].id, sizeof(h[1].id), "i-00000002");
    snprintf(h[1].mac, sizeof(h[1].mac), "d0:0d:0a:65:00:23");
    snprintf(h[1].ip, sizeof(h[1].ip), "10.101.0.35");
    h[1].group = 0;
    snprintf(h[2].id, sizeof(h[2].id), "i-00000003");
    snprintf(h[2].mac, sizeof(h[2].mac), "d0:0d:0a:65:00:62");
    snprintf(h[2].ip, sizeof(h[2].ip), "10.101.0.98");
    h[2].group = 1;
    m->hosts = h;
    m->nhosts = 3;
    snprintf(e[0].public_ip, sizeof(e[0].public_ip), "192.0.2.10");
    snprintf(e[0].instance_id, sizeof(e[0].instance_id), "i-00000001");
    snprintf(e[0].private_ip, sizeof(e[0].private_ip), "10.101.0.34");
    m->eips = e;
    m->neips = 1;
}

/* Compares text with tests/unit/golden/name (or writes it when asked). */
static void golden(const char *name, const struct oc_buf *text)
{
    char path[1024], *want = NULL;
    size_t len = 0;
    struct oc_err err = { 0 };

    snprintf(path, sizeof(path), "%s/tests/unit/golden/%s", OC_TEST_SRCDIR, name);
    if (getenv("OC_GOLDEN_UPDATE")) {
        CHECK_INT(oc_write_file_atomic(path, text->data, text->len, 0644, &err), OC_OK);
        return;
    }
    CHECK_INT(oc_read_file(path, 1 << 20, &want, &len, &err), OC_OK);
    if (want) {
        CHECK_STR(text->data ? text->data : "", want);
        free(want);
    }
}

OC_TEST(cc_nft_render_golden)
{
    struct cc_net_model m;
    struct cc_net_group g[2];
    struct cc_net_host h[3];
    struct cc_eip e[1];
    struct oc_buf a = { 0 }, b = { 0 };

    model(&m, g, h, e);
    CHECK_INT(cc_nft_render(&m, &a), OC_OK);
    golden("cc_nft_table.nft", &a);
    /* The same model, the same bytes. */
    CHECK_INT(cc_nft_render(&m, &b), OC_OK);
    CHECK_STR(a.data, b.data);
    oc_buf_free(&a);
    oc_buf_free(&b);

    /* No metadata address, no elastic IPs, no groups: a whole table with
     * empty maps (the redirect is gone, not half there). */
    m.md_ip = "";
    m.neips = 0;
    m.ngroups = 0;
    m.nhosts = 0;
    CHECK_INT(cc_nft_render(&m, &a), OC_OK);
    golden("cc_nft_empty.nft", &a);
    CHECK(strstr(a.data, "169.254.169.254") == NULL);
    CHECK(strstr(a.data, "elements") == NULL);
    oc_buf_free(&a);
}

/*
 * The files must mean to dnsmasq what they say: every line is handed to the
 * real dnsmasq's syntax check (as dhcp-host= and dhcp-option= lines of a
 * configuration file; the hosts and options files use the same syntax),
 * and so are the dhcp-range lines of dnsmasq.conf.
 * A line dnsmasq rejects is logged and dropped on SIGHUP, and dnsmasq 2.90
 * then crashes on a later reload, so a bad line is a real failure.
 */
static void dnsmasq_accepts(const char *kind, const struct oc_buf *lines, const char *prefix)
{
    char path[512], cmd[1200];
    struct oc_buf conf = { 0 };
    const char *p = lines->data ? lines->data : "";
    struct oc_err err = { 0 };
    int status;

    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);

        CHECK_INT(oc_buf_printf(&conf, "%s%.*s\n", prefix, (int)n, p), OC_OK);
        p += n + (nl != NULL);
    }
    snprintf(path, sizeof(path), "%s/dnsmasq-%s.conf", oc_test_tmpdir(), kind);
    CHECK_INT(oc_write_file_atomic(path, conf.data ? conf.data : "", conf.len, 0600, &err), OC_OK);
    snprintf(cmd, sizeof(cmd), "dnsmasq --test --conf-file=%s >/dev/null 2>&1", path);
    status = system(cmd);
    if (status != 0) {
        snprintf(cmd, sizeof(cmd), "dnsmasq --test --conf-file=%s", path);
        fprintf(stderr, "dnsmasq rejects the rendered %s lines (is dnsmasq installed?):\n%s",
                kind, conf.data ? conf.data : "");
        CHECK_INT(system(cmd), 0);
    }
    CHECK_INT(status, 0);
    oc_buf_free(&conf);
}

OC_TEST(cc_dhcp_render_golden_and_dnsmasq_accepts_it)
{
    struct cc_net_model m;
    struct cc_net_group g[2];
    struct cc_net_host h[3];
    struct cc_eip e[1];
    struct oc_buf hosts = { 0 }, opts = { 0 }, ranges = { 0 };

    model(&m, g, h, e);
    CHECK_INT(cc_dhcp_render_hosts(&m, &hosts), OC_OK);
    CHECK_INT(cc_dhcp_render_opts(&m, &opts), OC_OK);
    CHECK_INT(cc_dhcp_render_ranges(&m, 3600, &ranges), OC_OK);
    golden("cc_dnsmasq.hosts", &hosts);
    golden("cc_dnsmasq.opts", &opts);
    golden("cc_dnsmasq.ranges", &ranges);
    /* No tag on a host (dnsmasq 2.90 crashes reloading tagged hosts,
     * dhcp.h): the range of its address tags it. */
    CHECK(strstr(hosts.data, "set:") == NULL);
    CHECK(opts.len > 0 && hosts.len > 0 && ranges.len > 0);
    dnsmasq_accepts("dhcp-host", &hosts, "dhcp-host=");
    dnsmasq_accepts("dhcp-option", &opts, "dhcp-option=");
    dnsmasq_accepts("dhcp-range", &ranges, "");   /* already configuration lines */
    oc_buf_free(&hosts);
    oc_buf_free(&opts);
    oc_buf_free(&ranges);
}

/* Changes become the commands for the change alone. */
OC_TEST(cc_nft_update_commands)
{
    struct cc_net_model m;
    struct cc_net_group g[2];
    struct cc_net_host h[3];
    struct cc_eip e[2];
    struct oc_buf a = { 0 }, b = { 0 }, cmds = { 0 };
    static const struct cc_rule one[] = { { "udp", 9000, 9001, "0.0.0.0/0", "", 0 },
                                          { "all", -1, -1, "0.0.0.0/0", "", 1 } };

    model(&m, g, h, e);
    CHECK_INT(cc_nft_render(&m, &a), OC_OK);

    /* The same table: nothing to do. */
    CHECK_INT(cc_nft_update("overcast", a.data, a.data, &cmds), 0);
    CHECK_INT(cmds.len, 0);

    /* Another elastic IP: two elements, no rule touched. */
    snprintf(e[1].public_ip, sizeof(e[1].public_ip), "192.0.2.11");
    snprintf(e[1].instance_id, sizeof(e[1].instance_id), "i-00000003");
    snprintf(e[1].private_ip, sizeof(e[1].private_ip), "10.101.0.98");
    m.neips = 2;
    CHECK_INT(cc_nft_render(&m, &b), OC_OK);
    CHECK_INT(cc_nft_update("overcast", a.data, b.data, &cmds), 0);
    CHECK_STR(cmds.data, "add element ip overcast eip_dnat { 192.0.2.11 : 10.101.0.98 }\n"
                         "add element ip overcast eip_snat { 10.101.0.98 : 192.0.2.11 }\n");
    oc_buf_reset(&cmds);
    /* And back: deleted by key. */
    CHECK_INT(cc_nft_update("overcast", b.data, a.data, &cmds), 0);
    CHECK_STR(cmds.data, "delete element ip overcast eip_dnat { 192.0.2.11 }\n"
                         "delete element ip overcast eip_snat { 10.101.0.98 }\n");
    oc_buf_reset(&cmds);
    m.neips = 1;

    /* A group's rules change: that chain alone is flushed and refilled. */
    g[1].rules = one;
    g[1].nrules = 2;
    oc_buf_reset(&b);
    CHECK_INT(cc_nft_render(&m, &b), OC_OK);
    CHECK_INT(cc_nft_update("overcast", a.data, b.data, &cmds), 0);
    CHECK_STR(cmds.data, "flush chain ip overcast g-sg-db000001\n"
                         "add rule ip overcast g-sg-db000001 ip saddr 10.101.0.96/27 accept\n"
                         "add rule ip overcast g-sg-db000001 udp dport 9000-9001 accept\n"
                         "add rule ip overcast g-sg-db000001 drop\n");
    oc_buf_reset(&cmds);

    /* A group goes (its last instance ended): forward is refilled first,
     * then the chain is deleted; web's source-group rule becomes a comment
     * (its chain is refilled without it). */
    m.ngroups = 1;
    m.nhosts = 2;
    oc_buf_reset(&b);
    CHECK_INT(cc_nft_render(&m, &b), OC_OK);
    CHECK_INT(cc_nft_update("overcast", a.data, b.data, &cmds), 0);
    CHECK(strstr(cmds.data, "flush chain ip overcast forward\n") != NULL);
    CHECK(strstr(cmds.data, "add rule ip overcast forward ip daddr 10.101.0.96/27") == NULL);
    CHECK(strstr(cmds.data, "flush chain ip overcast g-sg-db000001\n"
                            "delete chain ip overcast g-sg-db000001\n") != NULL);
    CHECK(strstr(cmds.data, "delete chain") > strstr(cmds.data, "add rule ip overcast forward"));
    CHECK(strstr(cmds.data, "tcp dport 5432") == NULL);
    oc_buf_reset(&cmds);
    /* And comes back: the chain is added before anything jumps to it. */
    CHECK_INT(cc_nft_update("overcast", b.data, a.data, &cmds), 0);
    CHECK(strncmp(cmds.data, "add chain ip overcast g-sg-db000001\n", 36) == 0);
    oc_buf_reset(&cmds);

    /* A base chain's rules change (the metadata address): it is refilled
     * like any chain.  Text not in the renderer's shape: whole replace. */
    m.ngroups = 2;
    m.nhosts = 3;
    m.md_ip = "10.101.0.2";
    oc_buf_reset(&b);
    CHECK_INT(cc_nft_render(&m, &b), OC_OK);
    CHECK_INT(cc_nft_update("overcast", a.data, b.data, &cmds), 0);
    CHECK(strstr(cmds.data, "flush chain ip overcast prerouting") != NULL);
    oc_buf_reset(&cmds);
    CHECK_INT(cc_nft_update("overcast", "garbage", a.data, &cmds), 1);
    /* A chain declared twice, or a header without " {" (found by
     * fuzz_cc_net): not the renderer's shape either. */
    CHECK_INT(cc_nft_update("overcast", a.data,
                            "table ip overcast {\n\tchain x {\n\t\taccept\n\t}\n"
                            "\tchain x {\n\t\tdrop\n\t}\n}\n", &cmds), 1);
    CHECK_INT(cc_nft_update("overcast", a.data, "table ip overcast {\n\tchain \n}\n", &cmds), 1);
    oc_buf_free(&a);
    oc_buf_free(&b);
    oc_buf_free(&cmds);
}

/* STATIC: one network, no group chains, the router as the gateway option. */
OC_TEST(cc_static_render)
{
    struct cc_net_model m;
    struct cc_net_group g[2];
    struct cc_net_host h[3];
    struct cc_eip e[1];
    struct oc_buf t = { 0 }, o = { 0 };

    model(&m, g, h, e);
    m.filter = 0;
    m.ngroups = 1;
    snprintf(g[0].id, sizeof(g[0].id), "static");
    CHECK_INT(cc_nft_render(&m, &t), OC_OK);
    CHECK(strstr(t.data, "jump") == NULL && strstr(t.data, "chain g-") == NULL);
    CHECK(strstr(t.data, "169.254.169.254") != NULL);
    m.nhosts = 2;
    CHECK_INT(cc_dhcp_render_opts(&m, &o), OC_OK);
    CHECK_STR(o.data, "tag:n1,option:router,10.101.0.33\ntag:n1,option:netmask,255.255.255.224\n"
                      "tag:n1,28,10.101.0.63\n");
    oc_buf_free(&t);
    oc_buf_free(&o);
}

/* ------------------------------------------------------------------ */
/* several groups per instance, and egress */

/*
 * web (network 1) and db (network 3) have instances of their own; mon has
 * none first, only as a further group.  i-1 is in web, db and mon; i-2 in
 * web and mon; i-3 in web alone; i-4 in db and web.
 */
static const struct cc_rule multi_web[] = {
    { "tcp", 22, 22, "0.0.0.0/0", "", 0 },
    { "tcp", 8080, 8080, "", "sg-mon00001", 0 },
    { "tcp", 443, 443, "0.0.0.0/0", "", 1 },
    { "udp", 53, 53, "10.0.0.0/8", "", 1 },
    { "all", -1, -1, "", "sg-db000001", 1 },
    { "icmp", 8, -1, "198.51.100.0/24", "", 1 },
    { "47", -1, -1, "203.0.113.0/24", "", 1 },
};
static const struct cc_rule multi_db[] = {
    { "tcp", 5432, 5432, "", "sg-web00001", 0 },
    { "all", -1, -1, "0.0.0.0/0", "", 1 },
};
static const struct cc_rule multi_mon[] = {
    { "tcp", 9100, 9100, "192.0.2.0/24", "", 0 },
    { "udp", 514, 514, "192.0.2.5/32", "", 1 },
    { "all", -1, -1, "", "sg-gone0002", 1 },
};

static void multi_model(struct cc_net_model *m, struct cc_net_group g[3],
                        struct cc_net_host h[4], struct cc_eip e[1])
{
    struct cc_net_group two[2];
    struct cc_net_host three[3];

    model(m, two, three, e);
    memset(g, 0, 3 * sizeof(*g));
    memset(h, 0, 4 * sizeof(*h));
    g[0] = two[0];
    g[0].rules = multi_web;
    g[0].nrules = sizeof(multi_web) / sizeof(multi_web[0]);
    g[1] = two[1];
    g[1].rules = multi_db;
    g[1].nrules = sizeof(multi_db) / sizeof(multi_db[0]);
    snprintf(g[2].id, sizeof(g[2].id), "sg-mon00001");
    g[2].rules = multi_mon;
    g[2].nrules = sizeof(multi_mon) / sizeof(multi_mon[0]);
    m->groups = g;
    m->ngroups = 3;
    for (int k = 0; k < 4; k++) {
        snprintf(h[k].id, sizeof(h[k].id), "i-0000000%d", k + 1);
        snprintf(h[k].ip, sizeof(h[k].ip), "10.101.0.%d", k < 3 ? 34 + k : 98);
        snprintf(h[k].mac, sizeof(h[k].mac), "d0:0d:0a:65:00:%02x", k < 3 ? 34 + k : 98);
    }
    h[0].extra[0] = 1;          /* i-1: web, db, mon */
    h[0].extra[1] = 2;
    h[0].nextra = 2;
    h[1].extra[0] = 2;          /* i-2: web, mon */
    h[1].nextra = 1;
    h[3].group = 1;             /* i-4: db, web */
    h[3].extra[0] = 0;
    h[3].nextra = 1;
    m->hosts = h;
    m->nhosts = 4;
}

OC_TEST(cc_nft_render_groups_and_egress_golden)
{
    struct cc_net_model m;
    struct cc_net_group g[3];
    struct cc_net_host h[4];
    struct cc_eip e[1];
    struct oc_buf a = { 0 }, hosts = { 0 }, opts = { 0 }, ranges = { 0 };

    multi_model(&m, g, h, e);
    CHECK_INT(cc_nft_render(&m, &a), OC_OK);
    golden("cc_nft_groups.nft", &a);
    if (!a.data)
        return;
    /* What the golden file shows, said plainly: */
    /* web's egress is filtered (its chain exists); db's is everything, and
     * so is that of every instance in db's network (a union of rules). */
    CHECK(strstr(a.data, "ip saddr 10.101.0.32/27 jump e-sg-web00001\n") != NULL);
    CHECK(strstr(a.data, "e-sg-db000001") == NULL);
    CHECK(strstr(a.data, "e-sg-mon00001") == NULL && strstr(a.data, "g-sg-mon00001") == NULL);
    /* Members of a group are its network and its instances elsewhere. */
    CHECK(strstr(a.data, "\tset m-sg-mon00001 {\n\t\ttype ipv4_addr\n\t\tflags interval\n"
                         "\t\telements = { 10.101.0.34, 10.101.0.35 }\n\t}\n") != NULL);
    CHECK(strstr(a.data, "elements = { 10.101.0.32/27, 10.101.0.98 }") != NULL);
    /* mon's rules hold for its two instances in web's network only. */
    CHECK(strstr(a.data, "\t\tip daddr { 10.101.0.34, 10.101.0.35 } ip saddr 192.0.2.0/24 tcp "
                         "dport 9100 accept\n") != NULL);
    CHECK(strstr(a.data, "\t\tip saddr { 10.101.0.34, 10.101.0.35 } ip daddr 192.0.2.5/32 udp "
                         "dport 514 return\n") != NULL);
    /* i-1 has db too: everything out, for it alone. */
    CHECK(strstr(a.data, "\t\tip saddr 10.101.0.34 return\n") != NULL);
    /* Egress peers: CIDRs, members, protocol numbers. */
    CHECK(strstr(a.data, "\t\tip daddr @m-sg-db000001 return\n") != NULL);
    CHECK(strstr(a.data, "\t\tip daddr 203.0.113.0/24 ip protocol 47 return\n") != NULL);
    /* Networks and DHCP are the first groups' only. */
    CHECK_INT(cc_dhcp_render_hosts(&m, &hosts), OC_OK);
    CHECK_INT(cc_dhcp_render_opts(&m, &opts), OC_OK);
    CHECK_INT(cc_dhcp_render_ranges(&m, 3600, &ranges), OC_OK);
    CHECK(hosts.data && strstr(hosts.data, "d0:0d:0a:65:00:62,10.101.0.98,i-00000004\n"));
    CHECK(opts.data && strstr(opts.data, "tag:n0,") == NULL);
    CHECK_STR(ranges.data, "dhcp-range=set:n1,10.101.0.32,static,255.255.255.224,3600\n"
                           "dhcp-range=set:n3,10.101.0.96,static,255.255.255.224,3600\n");
    oc_buf_free(&a);
    oc_buf_free(&hosts);
    oc_buf_free(&opts);
    oc_buf_free(&ranges);
}

/* A group gains and loses members elsewhere, and its egress changes:
 * sets come, change by elements and go; chains are refilled. */
OC_TEST(cc_nft_update_sets)
{
    struct cc_net_model m;
    struct cc_net_group g[3];
    struct cc_net_host h[4];
    struct cc_eip e[1];
    struct oc_buf a = { 0 }, b = { 0 }, cmds = { 0 };

    multi_model(&m, g, h, e);
    CHECK_INT(cc_nft_render(&m, &a), OC_OK);
    /* i-2 leaves (terminated): mon's set loses an element. */
    h[1] = h[2];
    h[2] = h[3];
    m.nhosts = 3;
    CHECK_INT(cc_nft_render(&m, &b), OC_OK);
    CHECK_INT(cc_nft_update("overcast", a.data, b.data, &cmds), 0);
    CHECK(cmds.data && strstr(cmds.data, "delete element ip overcast m-sg-mon00001 "
                                         "{ 10.101.0.35 }\n") != NULL);
    CHECK(cmds.data && strstr(cmds.data, "add set") == NULL);
    oc_buf_reset(&cmds);
    /* Nobody has db besides its first any more: its set goes, after the
     * chains that named it are refilled. */
    h[0].nextra = 0;
    oc_buf_reset(&b);
    CHECK_INT(cc_nft_render(&m, &b), OC_OK);
    CHECK(strstr(b.data, "m-sg-db000001") == NULL && strstr(b.data, "m-sg-mon00001") == NULL);
    CHECK_INT(cc_nft_update("overcast", a.data, b.data, &cmds), 0);
    CHECK(cmds.data && strstr(cmds.data, "delete set ip overcast m-sg-db000001\n") != NULL);
    CHECK(cmds.data && strstr(cmds.data, "delete set") > strstr(cmds.data, "flush chain"));
    oc_buf_reset(&cmds);
    /* And back: the set is declared before any rule names it. */
    CHECK_INT(cc_nft_update("overcast", b.data, a.data, &cmds), 0);
    {
        static const char decl[] = "add set ip overcast m-sg-db000001 { type ipv4_addr; "
                                    "flags interval; }\n";

        CHECK(cmds.data && strncmp(cmds.data, decl, sizeof(decl) - 1) == 0);
        CHECK(cmds.data && strstr(cmds.data, "add element ip overcast m-sg-db000001 "
                                             "{ 10.101.0.34 }\n") != NULL);
    }
    oc_buf_free(&a);
    oc_buf_free(&b);
    oc_buf_free(&cmds);
}

/* ------------------------------------------------------------------ */
/* the real kernel: every rendered table loads, and every change applies */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The table's listing with its blocks sorted: chains an update added
 * list after the others, which is no difference that matters. */
static char *listing(const char *table)
{
    struct oc_buf out = { 0 }, sorted = { 0 };
    struct oc_err err = { 0 };
    char cmd[96], **blocks = NULL, *p, *res = NULL;
    size_t n = 0;

    snprintf(cmd, sizeof(cmd), "list table ip %s\n", table);
    if (cc_nft_run(cmd, &out, &err) != OC_OK || !out.data) {
        oc_test_fail(__FILE__, __LINE__, "listing: %s", err.msg);
        oc_buf_free(&out);
        return NULL;
    }
    /* Blocks start at a line "\t<kind> <name> {" and end at "\t}". */
    for (p = out.data; (p = strstr(p, "\n\t")) && p[2] != '}';) {
        char *end = strstr(p + 1, "\n\t}\n"), **nb;

        if (!end)
            break;
        nb = realloc(blocks, (n + 1) * sizeof(*nb));
        if (!nb)
            break;
        blocks = nb;
        blocks[n++] = strndup(p + 1, (size_t)(end + 4 - (p + 1)));
        p = end + 3;
    }
    qsort(blocks, n, sizeof(*blocks), cmp_str);
    for (size_t k = 0; k < n; k++) {
        if (oc_buf_puts(&sorted, blocks[k]) != OC_OK)
            break;
    }
    for (size_t k = 0; k < n; k++)
        free(blocks[k]);
    free(blocks);
    oc_buf_free(&out);
    res = sorted.data ? strdup(sorted.data) : strdup("");
    oc_buf_free(&sorted);
    return res;
}

/* Loads from, changes it to to with cc_nft_update's commands, and checks
 * that the kernel then holds what loading to whole gives. */
static void update_is_replace(const char *from, const char *to, const char *what)
{
    struct oc_buf cmds = { 0 };
    struct oc_err err = { 0 };
    char *changed, *whole;

    if (cc_nft_apply(NULL, "overcast", from, &err) != OC_OK) {
        oc_test_fail(__FILE__, __LINE__, "%s: loading: %s", what, err.msg);
        return;
    }
    CHECK_INT(cc_nft_update("overcast", from, to, &cmds), 0);
    if (cmds.len && cc_nft_run(cmds.data, NULL, &err) != OC_OK)
        oc_test_fail(__FILE__, __LINE__, "%s: the change does not apply: %s\n%s", what,
                     err.msg, cmds.data);
    changed = listing("overcast");
    CHECK_INT(cc_nft_apply(NULL, "overcast", to, &err), OC_OK);
    whole = listing("overcast");
    if (changed && whole && strcmp(changed, whole) != 0)
        oc_test_fail(__FILE__, __LINE__, "%s: changed:\n%s\nwhole:\n%s", what, changed, whole);
    free(changed);
    free(whole);
    oc_buf_free(&cmds);
}

struct kernel_job {
    int skipped;
};

static void *kernel_thread(void *arg)
{
    struct kernel_job *job = arg;
    struct cc_net_model m;
    struct cc_net_group g[3];
    struct cc_net_host h[4];
    struct cc_eip e[1];
    struct oc_buf texts[5] = { { 0 } };
    struct oc_err err = { 0 };

    /* A network namespace of this thread's own: the host's tables are
     * never touched, and it goes when the thread ends. */
    if (unshare(CLONE_NEWNET) != 0) {
        job->skipped = errno;
        return NULL;
    }
    multi_model(&m, g, h, e);
    CHECK_INT(cc_nft_render(&m, &texts[0]), OC_OK);          /* groups and egress */
    model(&m, g, h, e);
    CHECK_INT(cc_nft_render(&m, &texts[1]), OC_OK);          /* the classic table */
    multi_model(&m, g, h, e);
    h[0].nextra = 0;                                          /* db and mon shrink */
    h[1].nextra = 0;
    g[0].nrules = 2;                                          /* web: no egress rule */
    CHECK_INT(cc_nft_render(&m, &texts[2]), OC_OK);
    multi_model(&m, g, h, e);
    m.neips = 0;
    m.md_ip = "";
    h[3].nextra = 0;
    CHECK_INT(cc_nft_render(&m, &texts[3]), OC_OK);
    m.ngroups = 0;
    m.nhosts = 0;
    CHECK_INT(cc_nft_render(&m, &texts[4]), OC_OK);          /* empty */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            char what[32];

            if (i == j || !texts[i].data || !texts[j].data)
                continue;
            snprintf(what, sizeof(what), "table %d -> %d", i, j);
            update_is_replace(texts[i].data, texts[j].data, what);
        }
    CHECK_INT(cc_nft_remove("overcast", &err), OC_OK);
    for (int i = 0; i < 5; i++)
        oc_buf_free(&texts[i]);
    return NULL;
}

OC_TEST(cc_nft_tables_load_and_updates_apply_in_the_kernel)
{
    struct kernel_job job = { 0 };
    pthread_t t;

    CHECK_INT(pthread_create(&t, NULL, kernel_thread, &job), 0);
    pthread_join(t, NULL);
    /* Not a skip: the suite runs as root, and a check that did not run is
     * not a pass. */
    if (job.skipped)
        fprintf(stderr, "cc_nft kernel check could not run: unshare: %s (needs root)\n",
                strerror(job.skipped));
    CHECK_INT(job.skipped, 0);
}
