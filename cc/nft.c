/*
 * nft.c - rendering and applying the CC's nftables table (nft.h).
 */
#include "cc/nft.h"

#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define P(...)                                                   \
    do {                                                         \
        if (oc_buf_printf(out, __VA_ARGS__) != OC_OK)            \
            return OC_ENOMEM;                                    \
    } while (0)

static long group_by_id(const struct cc_net_model *m, const char *id)
{
    for (size_t i = 0; i < m->ngroups; i++)
        if (strcmp(m->groups[i].id, id) == 0)
            return (long)i;
    return -1;
}

static int host_has_extra(const struct cc_net_host *h, size_t gi)
{
    for (unsigned x = 0; x < h->nextra; x++)
        if (h->extra[x] == gi)
            return 1;
    return 0;
}

/* Whether some instance has group gi besides its first: then its members
 * are a set (its network and those instances), not its network alone. */
static int has_extra_members(const struct cc_net_model *m, size_t gi)
{
    for (size_t h = 0; h < m->nhosts; h++)
        if (host_has_extra(&m->hosts[h], gi))
            return 1;
    return 0;
}

/* The members of group gi as an address expression: "@m-<id>", its
 * network, or "" when it has none here. */
static void members(const struct cc_net_model *m, size_t gi, char out[80])
{
    const struct cc_net_group *g = &m->groups[gi];

    if (has_extra_members(m, gi))
        snprintf(out, 80, "@m-%s", g->id);
    else if (g->has_net)
        snprintf(out, 80, "%s", g->cidr);
    else
        out[0] = '\0';
}

/* Whether a group lets everything out: a rule of all traffic to anywhere. */
static int egress_all(const struct cc_net_group *g)
{
    for (size_t k = 0; k < g->nrules; k++)
        if (g->rules[k].egress && strcmp(g->rules[k].proto, "all") == 0 &&
            !g->rules[k].src_group[0] && strcmp(g->rules[k].cidr, "0.0.0.0/0") == 0)
            return 1;
    return 0;
}

/* "22" or "80-443" */
static void port_range(int from, int to, char out[16])
{
    if (from == to)
        snprintf(out, 16, "%d", from);
    else
        snprintf(out, 16, "%d-%d", from, to);
}

/*
 * One rule.  Ingress: traffic from its peer (source) to the chain's
 * instances, accepted.  Egress: traffic from them to its peer
 * (destination), allowed on (return: the destination's ingress still
 * decides).  hosts: "" for every instance of the chain's network, else
 * "ip daddr ..." / "ip saddr ..." for those of them that have the rule's
 * group besides their first.
 */
static int render_rule(const struct cc_net_model *m, const struct cc_rule *r,
                       const char *hosts, struct oc_buf *out)
{
    const char *peer_dir = r->egress ? "daddr" : "saddr";
    const char *verdict = r->egress ? "return" : "accept";
    char peer[100], ports[16], who[80];

    if (r->src_group[0]) {
        long gi = group_by_id(m, r->src_group);

        if (gi >= 0)
            members(m, (size_t)gi, who);
        if (gi < 0 || !who[0]) {
            /* No instance of that group here yet: nothing can come from
             * it, nothing can go to it. */
            P("\t\t# %s: %s group %s has no instance here\n", r->proto,
              r->egress ? "destination" : "source", r->src_group);
            return OC_OK;
        }
        snprintf(peer, sizeof(peer), "ip %s %s ", peer_dir, who);
    } else if (strcmp(r->cidr, "0.0.0.0/0") == 0) {
        peer[0] = '\0';
    } else {
        snprintf(peer, sizeof(peer), "ip %s %s ", peer_dir, r->cidr);
    }
    if (!strcmp(r->proto, "tcp") || !strcmp(r->proto, "udp")) {
        port_range(r->from_port, r->to_port, ports);
        P("\t\t%s%s%s dport %s %s\n", hosts, peer, r->proto, ports, verdict);
    } else if (!strcmp(r->proto, "icmp")) {
        P("\t\t%s%sip protocol icmp", hosts, peer);
        if (r->from_port >= 0)
            P(" icmp type %d", r->from_port);
        if (r->from_port >= 0 && r->to_port >= 0)
            P(" icmp code %d", r->to_port);
        P(" %s\n", verdict);
    } else if (strcmp(r->proto, "all") != 0) {
        P("\t\t%s%sip protocol %s %s\n", hosts, peer, r->proto, verdict);
    } else if (hosts[0] || peer[0]) {
        P("\t\t%s%s%s\n", hosts, peer, verdict);
    } else {
        P("\t\tip %s 0.0.0.0/0 %s\n", peer_dir, verdict);
    }
    return OC_OK;
}

/* "ip daddr 10.101.0.35 " or "ip daddr { 10.101.0.35, 10.101.0.36 } ":
 * the instances of network group net that also have group gi ("" when
 * none). */
static int hosts_with(const struct cc_net_model *m, size_t net, size_t gi, const char *dir,
                      struct oc_buf *out)
{
    size_t n = 0;

    oc_buf_reset(out);
    for (size_t h = 0; h < m->nhosts; h++)
        n += m->hosts[h].group == net && host_has_extra(&m->hosts[h], gi);
    if (!n)
        return OC_OK;
    P("ip %s %s", dir, n > 1 ? "{ " : "");
    n = 0;
    for (size_t h = 0; h < m->nhosts; h++)
        if (m->hosts[h].group == net && host_has_extra(&m->hosts[h], gi))
            P("%s%s", n++ ? ", " : "", m->hosts[h].ip);
    P("%s ", n > 1 ? " }" : "");
    return OC_OK;
}

/*
 * The chain of one network's instances, one direction: the rules of their
 * first group for all of them, then the rules of each other group for the
 * instances that have it; then drop.  Ingress also lets the members of
 * each of their groups in (instances of one group talk freely, as in
 * Eucalyptus).
 */
static int render_chain(const struct cc_net_model *m, size_t net, int egress, struct oc_buf *out)
{
    const struct cc_net_group *g = &m->groups[net];
    struct oc_buf hosts = { 0 };
    char who[80];
    int rc = OC_OK;

    P("\tchain %s-%s {\n", egress ? "e" : "g", g->id);
    /* The network's own group first (its rules are for all of them), then
     * the others in the model's order. */
    for (size_t step = 0; step <= m->ngroups && rc == OC_OK; step++) {
        size_t gi = step == 0 ? net : step - 1;

        if (step > 0 && gi == net)
            continue;
        if (gi == net) {
            oc_buf_reset(&hosts);
        } else {
            if ((rc = hosts_with(m, net, gi, egress ? "saddr" : "daddr", &hosts)))
                break;
            if (!hosts.len)
                continue;
        }
        if (!egress) {
            members(m, gi, who);
            if (oc_buf_printf(out, "\t\t%sip saddr %s accept\n", hosts.len ? hosts.data : "",
                              who) != OC_OK) {
                rc = OC_ENOMEM;
                break;
            }
        }
        for (size_t k = 0; k < m->groups[gi].nrules && rc == OC_OK; k++)
            if (m->groups[gi].rules[k].egress == egress)
                rc = render_rule(m, &m->groups[gi].rules[k], hosts.len ? hosts.data : "", out);
    }
    oc_buf_free(&hosts);
    if (rc)
        return rc;
    P("\t\tdrop\n\t}\n");
    return OC_OK;
}

int cc_nft_render(const struct cc_net_model *m, struct oc_buf *out)
{
    P("table ip %s {\n", m->table);

    /* Elastic IPs live in two maps, so assigning one is an element, not a
     * rule: the update is two elements whatever the table's size. */
    P("\tmap eip_dnat {\n\t\ttype ipv4_addr : ipv4_addr\n\t\tflags interval\n");
    for (size_t i = 0; i < m->neips; i++)
        P("%s%s : %s", i ? ", " : "\t\telements = { ", m->eips[i].public_ip,
          m->eips[i].private_ip);
    P("%s\t}\n", m->neips ? " }\n" : "");
    P("\tmap eip_snat {\n\t\ttype ipv4_addr : ipv4_addr\n\t\tflags interval\n");
    for (size_t i = 0; i < m->neips; i++)
        P("%s%s : %s", i ? ", " : "\t\telements = { ", m->eips[i].private_ip,
          m->eips[i].public_ip);
    P("%s\t}\n", m->neips ? " }\n" : "");

    /* The members of each group that some instances have besides their
     * first: its network and those instances (an instance joins a set as
     * an element, not as a rule). */
    for (size_t gi = 0; m->filter && gi < m->ngroups; gi++) {
        const struct cc_net_group *g = &m->groups[gi];
        size_t n = 0;

        if (!has_extra_members(m, gi))
            continue;
        P("\tset m-%s {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\telements = { ", g->id);
        if (g->has_net) {
            P("%s", g->cidr);
            n++;
        }
        for (size_t h = 0; h < m->nhosts; h++)
            if (host_has_extra(&m->hosts[h], gi))
                P("%s%s", n++ ? ", " : "", m->hosts[h].ip);
        P(" }\n\t}\n");
    }

    P("\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
    if (m->md_ip && m->md_ip[0])
        P("\t\tiifname \"%s\" ip daddr 169.254.169.254 tcp dport 80 dnat to %s:%u\n",
          m->bridge, m->md_ip, m->md_port);
    P("\t\tdnat to ip daddr map @eip_dnat\n");
    P("\t}\n");

    P("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
    P("\t\tip daddr != %s snat to ip saddr map @eip_snat\n", m->subnet);
    P("\t}\n");

    /* Replies pass first, whatever the rules (security groups are
     * stateful); then what an instance starts is checked against its
     * groups' egress rules (e-: "return" when allowed, else drop), then
     * what reaches an instance against their ingress rules (g-). */
    P("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
    P("\t\tct state established,related accept\n");
    P("\t\tct state invalid drop\n");
    for (size_t i = 0; m->filter && i < m->ngroups; i++)
        if (m->groups[i].has_net && !egress_all(&m->groups[i]))
            P("\t\tip saddr %s jump e-%s\n", m->groups[i].cidr, m->groups[i].id);
    for (size_t i = 0; m->filter && i < m->ngroups; i++)
        if (m->groups[i].has_net)
            P("\t\tip daddr %s jump g-%s\n", m->groups[i].cidr, m->groups[i].id);
    P("\t}\n");

    for (size_t i = 0; m->filter && i < m->ngroups; i++) {
        int rc;

        if (!m->groups[i].has_net)
            continue;
        if ((rc = render_chain(m, i, 0, out)))
            return rc;
        if (!egress_all(&m->groups[i]) && (rc = render_chain(m, i, 1, out)))
            return rc;
    }
    P("}\n");
    return OC_OK;
}

struct cc_nft {
    struct nft_ctx *ctx;
};

int cc_nft_new(struct cc_nft **out, struct oc_err *err)
{
    struct cc_nft *n = calloc(1, sizeof(*n));

    *out = NULL;
    if (!n || !(n->ctx = nft_ctx_new(NFT_CTX_DEFAULT))) {
        free(n);
        return oc_err_set(err, OC_ENOMEM, "nftables: cannot make a context");
    }
    if (nft_ctx_buffer_output(n->ctx) != 0 || nft_ctx_buffer_error(n->ctx) != 0) {
        cc_nft_free(n);
        return oc_err_set(err, OC_ENOMEM, "nftables: cannot buffer output");
    }
    *out = n;
    return OC_OK;
}

void cc_nft_free(struct cc_nft *n)
{
    if (!n)
        return;
    nft_ctx_free(n->ctx);
    free(n);
}

int cc_nft_exec(struct cc_nft *n, const char *cmds, struct oc_buf *out, struct oc_err *err)
{
    /* Both buffers are read after every run: libnftables rewinds them. */
    int failed = nft_run_cmd_from_buffer(n->ctx, cmds) != 0;
    const char *o = nft_ctx_get_output_buffer(n->ctx);
    const char *e = nft_ctx_get_error_buffer(n->ctx);

    if (failed) {
        size_t len = e ? strlen(e) : 0;

        while (len && (e[len - 1] == '\n' || e[len - 1] == ' '))
            len--;
        return oc_err_set(err, OC_EIO, "nftables refused the transaction: %.*s",
                          (int)(len > 400 ? 400 : len), e ? e : "");
    }
    if (out && o && oc_buf_puts(out, o) != OC_OK)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    return OC_OK;
}

int cc_nft_run(const char *cmds, struct oc_buf *out, struct oc_err *err)
{
    struct cc_nft *n;
    int rc = cc_nft_new(&n, err);

    if (rc == OC_OK)
        rc = cc_nft_exec(n, cmds, out, err);
    cc_nft_free(n);
    return rc;
}

int cc_nft_apply(struct cc_nft *n, const char *table, const char *text, struct oc_err *err)
{
    struct oc_buf cmds = { 0 };
    int rc;

    if (oc_buf_printf(&cmds, "add table ip %s\ndelete table ip %s\n%s", table, table, text)) {
        oc_buf_free(&cmds);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    rc = n ? cc_nft_exec(n, cmds.data, NULL, err) : cc_nft_run(cmds.data, NULL, err);
    oc_buf_free(&cmds);
    return rc;
}

int cc_nft_remove(const char *table, struct oc_err *err)
{
    char cmds[256];

    snprintf(cmds, sizeof(cmds), "add table ip %s\ndelete table ip %s\n", table, table);
    return cc_nft_run(cmds, NULL, err);
}

/* ------------------------------------------------------------------ */
/* incremental updates */

/* One line of a rendered table: [p, p + n), without the newline. */
struct line {
    const char *p;
    size_t n;
};

enum { B_CHAIN, B_MAP, B_SET };

struct block {
    int kind;                     /* B_CHAIN, B_MAP or B_SET */
    struct line name;
    struct line head[3];          /* "type ..." (and a map's "flags ...") */
    size_t nhead;
    struct line *items;           /* rules, a map's elements ("k : v"), a set's */
    size_t nitems;
};

struct doc {
    struct block *b;
    size_t n;
    struct line *pool;            /* every item, blocks point into it */
    size_t npool;
};

static void doc_free(struct doc *d)
{
    free(d->b);
    free(d->pool);
}

static int starts(const struct line *l, const char *pfx)
{
    size_t k = strlen(pfx);

    return l->n >= k && memcmp(l->p, pfx, k) == 0;
}

static int same(const struct line *a, const struct line *b)
{
    return a->n == b->n && memcmp(a->p, b->p, a->n) == 0;
}

/* The first of the document's first @n blocks named like @like. */
static const struct block *find_block_n(const struct doc *d, size_t n,
                                        const struct block *like)
{
    for (size_t i = 0; i < n; i++)
        if (d->b[i].kind == like->kind && same(&d->b[i].name, &like->name))
            return &d->b[i];
    return NULL;
}

/* Splits cc_nft_render()'s text into blocks; -1 when it is not in that
 * shape (then only a full replace will do). */
static int doc_parse(const char *text, struct doc *d)
{
    size_t cap = 1, ncap = 8;
    struct block *cur = NULL;
    const char *p = text;

    memset(d, 0, sizeof(*d));
    for (const char *q = text; *q; q++)
        cap += (*q == '\n' || *q == ',');
    d->pool = calloc(cap, sizeof(*d->pool));
    d->b = calloc(ncap, sizeof(*d->b));
    if (!d->pool || !d->b)
        return -1;
    while (*p) {
        const char *e = strchr(p, '\n');
        struct line l = { p, e ? (size_t)(e - p) : strlen(p) };

        p = e ? e + 1 : p + l.n;
        if (starts(&l, "table ") || (l.n == 1 && l.p[0] == '}'))
            continue;
        if (!cur) {
            int kind = starts(&l, "\tmap ") ? B_MAP : starts(&l, "\tset ") ? B_SET : B_CHAIN;
            size_t skip = kind == B_CHAIN ? 7 : 5;

            if (kind == B_CHAIN && !starts(&l, "\tchain "))
                return -1;
            if (l.n < skip + 3 || memcmp(l.p + l.n - 2, " {", 2) != 0)
                return -1;
            if (d->n == ncap) {
                struct block *nb = realloc(d->b, 2 * ncap * sizeof(*nb));

                if (!nb)
                    return -1;
                d->b = nb;
                ncap *= 2;
            }
            cur = &d->b[d->n++];
            memset(cur, 0, sizeof(*cur));
            cur->kind = kind;
            cur->name.p = l.p + skip;
            cur->name.n = l.n - skip - 2;   /* " {" */
            cur->items = d->pool + d->npool;
            /* A name declared twice is not render()'s shape. */
            if (find_block_n(d, d->n - 1, cur))
                return -1;
            continue;
        }
        if (l.n == 2 && l.p[0] == '\t' && l.p[1] == '}') {
            cur = NULL;
            continue;
        }
        if (!starts(&l, "\t\t"))
            return -1;
        l.p += 2;
        l.n -= 2;
        if (starts(&l, "type ") || starts(&l, "flags ")) {
            if (cur->nhead == 3)
                return -1;
            cur->head[cur->nhead++] = l;
        } else if (cur->kind != B_CHAIN && starts(&l, "elements = { ")) {
            const char *x = l.p + 13, *end = l.p + l.n - 2;   /* " }" */

            while (x < end) {
                const char *c = memchr(x, ',', (size_t)(end - x));
                size_t n = c ? (size_t)(c - x) : (size_t)(end - x);

                if (d->npool == cap)
                    return -1;
                d->pool[d->npool].p = x;
                d->pool[d->npool++].n = n;
                cur->nitems++;
                x += n + (c ? 2 : 0);
            }
        } else if (!starts(&l, "#")) {
            if (d->npool == cap)
                return -1;
            d->pool[d->npool++] = l;
            cur->nitems++;
        }
    }
    return cur ? -1 : 0;
}

static const struct block *find_block(const struct doc *d, const struct block *like)
{
    return find_block_n(d, d->n, like);
}

static int items_equal(const struct block *a, const struct block *b)
{
    if (a->nitems != b->nitems)
        return 0;
    for (size_t i = 0; i < a->nitems; i++)
        if (!same(&a->items[i], &b->items[i]))
            return 0;
    return 1;
}

static int heads_equal(const struct block *a, const struct block *b)
{
    if (a->nhead != b->nhead)
        return 0;
    for (size_t i = 0; i < a->nhead; i++)
        if (!same(&a->head[i], &b->head[i]))
            return 0;
    return 1;
}

/* The key of a map element "k : v". */
static struct line elem_key(const struct line *e)
{
    const char *c = memmem(e->p, e->n, " : ", 3);
    struct line k = { e->p, c ? (size_t)(c - e->p) : e->n };

    return k;
}

static int has_item(const struct block *b, const struct line *l)
{
    for (size_t i = 0; i < b->nitems; i++)
        if (same(&b->items[i], l))
            return 1;
    return 0;
}

#define C(...)                                                   \
    do {                                                         \
        if (oc_buf_printf(cmds, __VA_ARGS__) != OC_OK)           \
            goto nomem;                                          \
    } while (0)

int cc_nft_update(const char *table, const char *old_text, const char *new_text,
                  struct oc_buf *cmds)
{
    struct doc o = { 0 }, n = { 0 };
    int rc = 1;

    if (doc_parse(old_text, &o) || doc_parse(new_text, &n))
        goto out;
    /* Maps and base chains are the skeleton: any change there, or one
     * gone, is a full replace (it never happens while the CC runs).  Sets
     * come and go with the groups that need them; a set whose type
     * changed is a replace too. */
    for (size_t i = 0; i < n.n; i++) {
        const struct block *ob = find_block(&o, &n.b[i]);

        if ((n.b[i].kind == B_MAP || n.b[i].nhead) && n.b[i].kind != B_SET &&
            (!ob || !heads_equal(ob, &n.b[i])))
            goto out;
        if (ob && !heads_equal(ob, &n.b[i]))
            goto out;
        /* A new set's declaration must say what it is. */
        if (!ob && n.b[i].kind == B_SET && !n.b[i].nhead)
            goto out;
    }
    for (size_t i = 0; i < o.n; i++)
        if ((o.b[i].kind == B_MAP || (o.b[i].kind == B_CHAIN && o.b[i].nhead)) &&
            !find_block(&n, &o.b[i]))
            goto out;
    /* 1. new sets, 2. new chains, 3. flush changed chains and refill them,
     * 4. map and set elements, 5. chains gone, 6. sets gone (nothing
     * refers to them after 3 and 5). */
    for (size_t i = 0; i < n.n; i++) {
        const struct block *nb = &n.b[i];

        if (nb->kind != B_SET || find_block(&o, nb))
            continue;
        C("add set ip %s %.*s {", table, (int)nb->name.n, nb->name.p);
        for (size_t k = 0; k < nb->nhead; k++)
            C(" %.*s;", (int)nb->head[k].n, nb->head[k].p);
        C(" }\n");
    }
    for (size_t i = 0; i < n.n; i++)
        if (n.b[i].kind == B_CHAIN && !find_block(&o, &n.b[i]))
            C("add chain ip %s %.*s\n", table, (int)n.b[i].name.n, n.b[i].name.p);
    for (size_t i = 0; i < n.n; i++) {
        const struct block *nb = &n.b[i], *ob = find_block(&o, nb);

        if (nb->kind != B_CHAIN || (ob && items_equal(ob, nb)))
            continue;
        if (ob)
            C("flush chain ip %s %.*s\n", table, (int)nb->name.n, nb->name.p);
        for (size_t k = 0; k < nb->nitems; k++)
            C("add rule ip %s %.*s %.*s\n", table, (int)nb->name.n, nb->name.p,
              (int)nb->items[k].n, nb->items[k].p);
    }
    for (size_t i = 0; i < n.n; i++) {
        const struct block *nb = &n.b[i], *ob = find_block(&o, nb);
        static const struct block none = { 0 };

        if (nb->kind == B_CHAIN)
            continue;
        if (!ob)
            ob = &none;
        for (size_t k = 0; k < ob->nitems; k++)
            if (!has_item(nb, &ob->items[k])) {
                struct line key = elem_key(&ob->items[k]);

                C("delete element ip %s %.*s { %.*s }\n", table, (int)nb->name.n, nb->name.p,
                  (int)key.n, key.p);
            }
        for (size_t k = 0; k < nb->nitems; k++)
            if (!has_item(ob, &nb->items[k]))
                C("add element ip %s %.*s { %.*s }\n", table, (int)nb->name.n, nb->name.p,
                  (int)nb->items[k].n, nb->items[k].p);
    }
    for (size_t i = 0; i < o.n; i++)
        if (o.b[i].kind == B_CHAIN && !find_block(&n, &o.b[i]))
            C("flush chain ip %s %.*s\ndelete chain ip %s %.*s\n", table,
              (int)o.b[i].name.n, o.b[i].name.p, table, (int)o.b[i].name.n, o.b[i].name.p);
    for (size_t i = 0; i < o.n; i++)
        if (o.b[i].kind == B_SET && !find_block(&n, &o.b[i]))
            C("delete set ip %s %.*s\n", table, (int)o.b[i].name.n, o.b[i].name.p);
    rc = 0;
    goto out;
nomem:
    rc = -1;
out:
    doc_free(&o);
    doc_free(&n);
    return rc;
}
