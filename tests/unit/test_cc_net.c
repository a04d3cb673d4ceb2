/*
 * test_cc_net.c - the cluster's data plane renderers against golden files:
 * the nftables table (cc/nft.c) and dnsmasq's hosts and options files
 * (cc/dhcp.c).  The golden table is also loaded by the real nft in the
 * integration tests; here the point is that the same model always gives
 * the same bytes and that every rule shape renders as reviewed.
 * Regenerate after a reviewed change with OC_GOLDEN_UPDATE=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc/dhcp.h"
#include "cc/nft.h"
#include "common/buf.h"
#include "common/fsutil.h"
#include "tests/unit/harness.h"

static const struct cc_rule rules_web[] = {
    { "tcp", 22, 22, "0.0.0.0/0", "" },
    { "tcp", 80, 443, "192.0.2.0/24", "" },
    { "udp", 53, 53, "10.0.0.0/8", "" },
    { "icmp", -1, -1, "0.0.0.0/0", "" },
    { "icmp", 8, -1, "198.51.100.7/32", "" },
    { "icmp", 3, 4, "0.0.0.0/0", "" },
    { "tcp", 5432, 5432, "", "sg-db000001" },
    { "all", -1, -1, "", "sg-gone0001" },
    { "all", -1, -1, "203.0.113.0/24", "" },
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
    g[0].rules = rules_web;
    g[0].nrules = sizeof(rules_web) / sizeof(rules_web[0]);
    snprintf(g[1].id, sizeof(g[1].id), "sg-db000001");
    g[1].index = 3;
    snprintf(g[1].cidr, sizeof(g[1].cidr), "10.101.0.96/27");
    snprintf(g[1].gateway, sizeof(g[1].gateway), "10.101.0.97");
    snprintf(g[1].netmask, sizeof(g[1].netmask), "255.255.255.224");
    snprintf(g[1].broadcast, sizeof(g[1].broadcast), "10.101.0.127");
    g[1].prefix = 27;
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

OC_TEST(cc_dhcp_render_golden)
{
    struct cc_net_model m;
    struct cc_net_group g[2];
    struct cc_net_host h[3];
    struct cc_eip e[1];
    struct oc_buf hosts = { 0 }, opts = { 0 };

    model(&m, g, h, e);
    CHECK_INT(cc_dhcp_render_hosts(&m, &hosts), OC_OK);
    CHECK_INT(cc_dhcp_render_opts(&m, &opts), OC_OK);
    golden("cc_dnsmasq.hosts", &hosts);
    golden("cc_dnsmasq.opts", &opts);
    oc_buf_free(&hosts);
    oc_buf_free(&opts);
}

/* Changes become the commands for the change alone. */
OC_TEST(cc_nft_update_commands)
{
    struct cc_net_model m;
    struct cc_net_group g[2];
    struct cc_net_host h[3];
    struct cc_eip e[2];
    struct oc_buf a = { 0 }, b = { 0 }, cmds = { 0 };
    static const struct cc_rule one = { "udp", 9000, 9001, "0.0.0.0/0", "" };

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
    g[1].rules = &one;
    g[1].nrules = 1;
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
                      "tag:n1,option:broadcast,10.101.0.63\n");
    oc_buf_free(&t);
    oc_buf_free(&o);
}
