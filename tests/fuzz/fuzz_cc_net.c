/* libFuzzer target: the cluster controller's data-plane text parsers and
 * the table renderer:
 *   - VNET_MACMAP (cc_macmap_parse): every accepted pair is a unicast MAC
 *     and a host address of the plan;
 *   - the nftables table diff (cc_nft_update parses two texts): 0
 *     (commands), 1 (replace whole) or -1 (memory), and the diff of a text
 *     with itself is empty;
 *   - the renderer (cc_nft_render) on models decoded from the input:
 *     several groups per instance, groups without a network, ingress and
 *     egress rules of every shape.  The same model renders the same bytes,
 *     and the diff between any two rendered tables is always commands
 *     (never "replace whole"), empty between a table and itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc/addr.h"
#include "cc/netmodel.h"
#include "cc/nft.h"
#include "common/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes, read in a circle (an empty input reads zeros). */
struct rd {
    const uint8_t *p;
    size_t n, at;
};

static unsigned next(struct rd *r)
{
    if (!r->n)
        return 0;
    return r->p[r->at++ % r->n];
}

#define MAXG 6
#define MAXH 10
#define MAXR 8

struct fmodel {
    struct cc_net_model m;
    struct cc_net_group g[MAXG];
    struct cc_net_host h[MAXH];
    struct cc_rule r[MAXG][MAXR];
    struct cc_eip e[3];
};

static void decode(struct rd *rd, struct fmodel *f)
{
    static const char *const protos[] = { "tcp", "udp", "icmp", "all", "47", "0", "255" };
    static const char *const cidrs[] = { "0.0.0.0/0", "10.0.0.0/8", "192.0.2.5/32",
                                         "198.51.100.0/24" };
    unsigned ng = 1 + next(rd) % MAXG, nh = next(rd) % (MAXH + 1), nets = 0;

    memset(f, 0, sizeof(*f));
    f->m.table = "overcast";
    f->m.bridge = "ocbr0";
    f->m.filter = next(rd) % 4 != 0;
    f->m.pubif = "";
    f->m.subnet = "10.101.0.0/16";
    f->m.md_ip = next(rd) & 1 ? "10.101.0.1" : "";
    f->m.md_port = 8776;
    for (unsigned k = 0; k < ng; k++) {
        struct cc_net_group *g = &f->g[k];

        snprintf(g->id, sizeof(g->id), "sg-%08x", k + 1);
        /* Those with a network first (the model's order), the first always. */
        if (k == 0 || (k == nets && next(rd) & 1)) {
            g->has_net = 1;
            g->index = k + 1;
            snprintf(g->cidr, sizeof(g->cidr), "10.101.0.%u/27", 32 * (k + 1));
            snprintf(g->gateway, sizeof(g->gateway), "10.101.0.%u", 32 * (k + 1) + 1);
            g->prefix = 27;
            nets++;
        }
        g->nrules = next(rd) % (MAXR + 1);
        g->rules = f->r[k];
        for (size_t j = 0; j < g->nrules; j++) {
            struct cc_rule *x = &f->r[k][j];
            unsigned peer = next(rd);

            snprintf(x->proto, sizeof(x->proto), "%s", protos[next(rd) % 7]);
            x->from_port = (int)(next(rd) * 256 + next(rd)) - 1;
            x->to_port = x->from_port + (int)next(rd);
            x->egress = next(rd) & 1;
            if (peer & 1)
                snprintf(x->src_group, sizeof(x->src_group), "sg-%08x", 1 + (peer >> 1) % 8);
            else
                snprintf(x->cidr, sizeof(x->cidr), "%s", cidrs[(peer >> 1) % 4]);
        }
    }
    f->m.groups = f->g;
    f->m.ngroups = ng;
    for (unsigned k = 0; k < nh; k++) {
        struct cc_net_host *h = &f->h[k];
        unsigned net = next(rd) % nets;

        h->group = net;
        snprintf(h->id, sizeof(h->id), "i-%08x", k + 1);
        /* Sorted by address: the k-th host of the plan. */
        snprintf(h->ip, sizeof(h->ip), "10.101.%u.%u", 1 + k / 200, 2 + k % 200);
        snprintf(h->mac, sizeof(h->mac), "d0:0d:0a:65:%02x:%02x", 1 + k / 200, 2 + k % 200);
        for (unsigned x = next(rd) % CC_NET_MAX_GROUPS; x > 0; x--) {
            unsigned gi = next(rd) % ng, dup = gi == net;

            for (unsigned j = 0; j < h->nextra; j++)
                dup |= h->extra[j] == gi;
            if (!dup && h->nextra < CC_NET_MAX_GROUPS - 1)
                h->extra[h->nextra++] = gi;
        }
    }
    f->m.hosts = f->h;
    f->m.nhosts = nh;
    f->m.neips = nh ? next(rd) % 3 : 0;
    for (size_t k = 0; k < f->m.neips; k++) {
        snprintf(f->e[k].public_ip, sizeof(f->e[k].public_ip), "192.0.2.%zu", 10 + k);
        snprintf(f->e[k].private_ip, sizeof(f->e[k].private_ip), "%s", f->h[k % nh].ip);
    }
    f->m.eips = f->e;
}

static void models(const uint8_t *data, size_t size)
{
    struct rd a = { data, size / 2, 0 }, b = { data + size / 2, size - size / 2, 0 };
    static struct fmodel fa, fb;
    struct oc_buf ta = { 0 }, ta2 = { 0 }, tb = { 0 }, cmds = { 0 };

    decode(&a, &fa);
    decode(&b, &fb);
    if (cc_nft_render(&fa.m, &ta) != OC_OK || cc_nft_render(&fa.m, &ta2) != OC_OK ||
        cc_nft_render(&fb.m, &tb) != OC_OK)
        abort();
    if (strcmp(ta.data, ta2.data) != 0)
        abort();
    if (cc_nft_update("overcast", ta.data, ta.data, &cmds) != 0 || cmds.len != 0)
        abort();
    /* Between two rendered tables there are always commands: the skeleton
     * (maps, base chains) never changes, sets and chains come and go. */
    if (cc_nft_update("overcast", ta.data, tb.data, &cmds) != 0)
        abort();
    oc_buf_reset(&cmds);
    if (cc_nft_update("overcast", tb.data, ta.data, &cmds) != 0)
        abort();
    oc_buf_free(&ta);
    oc_buf_free(&ta2);
    oc_buf_free(&tb);
    oc_buf_free(&cmds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cc_plan p;
    struct cc_static_addr *m = NULL;
    struct oc_buf cmds = { 0 };
    struct oc_err err = { 0 };
    size_t n = 0, half = size / 2;
    char *a = malloc(half + 1), *b = malloc(size - half + 1);
    int rc;

    memcpy(a, data, half);
    a[half] = '\0';
    memcpy(b, data + half, size - half);
    b[size - half] = '\0';
    if (cc_plan_init(&p, "10.102.0.0", "255.255.255.0", 32, &err) != OC_OK)
        abort();
    if (cc_macmap_parse(&p, a, &m, &n, &err) == OC_OK) {
        for (size_t k = 0; k < n; k++)
            if ((m[k].ip & p.netmask) != p.subnet || strlen(m[k].mac) != 17)
                abort();
    }
    free(m);
    rc = cc_nft_update("overcast", a, b, &cmds);
    if (rc < -1 || rc > 1)
        abort();
    oc_buf_free(&cmds);
    rc = cc_nft_update("overcast", b, b, &cmds);
    if (rc == 0 && cmds.len != 0)
        abort();
    oc_buf_free(&cmds);
    free(a);
    free(b);
    models(data, size);
    return 0;
}
