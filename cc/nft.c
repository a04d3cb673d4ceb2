/*
 * nft.c - rendering and applying the CC's nftables table (nft.h).
 */
#include "cc/nft.h"

#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

#define P(...)                                                   \
    do {                                                         \
        if (oc_buf_printf(out, __VA_ARGS__) != OC_OK)            \
            return OC_ENOMEM;                                    \
    } while (0)

static const struct cc_net_group *group_by_id(const struct cc_net_model *m, const char *id)
{
    for (size_t i = 0; i < m->ngroups; i++)
        if (strcmp(m->groups[i].id, id) == 0)
            return &m->groups[i];
    return NULL;
}

/* "22" or "80-443" */
static void port_range(int from, int to, char out[16])
{
    if (from == to)
        snprintf(out, 16, "%d", from);
    else
        snprintf(out, 16, "%d-%d", from, to);
}

static int render_rule(const struct cc_net_model *m, const struct cc_rule *r,
                       struct oc_buf *out)
{
    char src[40], ports[16];

    if (r->src_group[0]) {
        const struct cc_net_group *g = group_by_id(m, r->src_group);

        if (!g) {
            /* No instance of that group here yet: nothing can come from it. */
            P("\t\t# %s: source group %s has no network here\n", r->proto, r->src_group);
            return OC_OK;
        }
        snprintf(src, sizeof(src), "ip saddr %s ", g->cidr);
    } else if (strcmp(r->cidr, "0.0.0.0/0") == 0) {
        src[0] = '\0';
    } else {
        snprintf(src, sizeof(src), "ip saddr %s ", r->cidr);
    }
    if (!strcmp(r->proto, "tcp") || !strcmp(r->proto, "udp")) {
        port_range(r->from_port, r->to_port, ports);
        P("\t\t%s%s dport %s accept\n", src, r->proto, ports);
    } else if (!strcmp(r->proto, "icmp")) {
        P("\t\t%sip protocol icmp", src);
        if (r->from_port >= 0)
            P(" icmp type %d", r->from_port);
        if (r->from_port >= 0 && r->to_port >= 0)
            P(" icmp code %d", r->to_port);
        P(" accept\n");
    } else {
        P("\t\t%saccept\n", src[0] ? src : "ip saddr 0.0.0.0/0 ");
    }
    return OC_OK;
}

int cc_nft_render(const struct cc_net_model *m, struct oc_buf *out)
{
    P("table ip %s {\n", m->table);

    P("\tchain prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
    if (m->md_ip && m->md_ip[0])
        P("\t\tiifname \"%s\" ip daddr 169.254.169.254 tcp dport 80 dnat to %s:%u\n",
          m->bridge, m->md_ip, m->md_port);
    for (size_t i = 0; i < m->neips; i++)
        P("\t\tip daddr %s dnat to %s\n", m->eips[i].public_ip, m->eips[i].private_ip);
    P("\t}\n");

    P("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
    for (size_t i = 0; i < m->neips; i++)
        P("\t\tip saddr %s ip daddr != %s snat to %s\n", m->eips[i].private_ip, m->subnet,
          m->eips[i].public_ip);
    P("\t}\n");

    P("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
    P("\t\tct state established,related accept\n");
    P("\t\tct state invalid drop\n");
    for (size_t i = 0; i < m->ngroups; i++)
        P("\t\tip daddr %s jump g-%s\n", m->groups[i].cidr, m->groups[i].id);
    P("\t}\n");

    for (size_t i = 0; i < m->ngroups; i++) {
        const struct cc_net_group *g = &m->groups[i];

        P("\tchain g-%s {\n", g->id);
        P("\t\tip saddr %s accept\n", g->cidr);
        for (size_t k = 0; k < g->nrules; k++) {
            int rc = render_rule(m, &g->rules[k], out);

            if (rc)
                return rc;
        }
        P("\t\tdrop\n\t}\n");
    }
    P("}\n");
    return OC_OK;
}

int cc_nft_run(const char *cmds, struct oc_buf *out, struct oc_err *err)
{
    struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
    int rc = OC_OK;

    if (!ctx)
        return oc_err_set(err, OC_ENOMEM, "nftables: cannot make a context");
    if (nft_ctx_buffer_output(ctx) != 0 || nft_ctx_buffer_error(ctx) != 0) {
        nft_ctx_free(ctx);
        return oc_err_set(err, OC_ENOMEM, "nftables: cannot buffer output");
    }
    if (nft_run_cmd_from_buffer(ctx, cmds) != 0) {
        const char *e = nft_ctx_get_error_buffer(ctx);
        size_t n = e ? strlen(e) : 0;

        while (n && (e[n - 1] == '\n' || e[n - 1] == ' '))
            n--;
        rc = oc_err_set(err, OC_EIO, "nftables refused the transaction: %.*s", (int)(n > 400 ? 400 : n),
                        e ? e : "");
    } else if (out) {
        const char *o = nft_ctx_get_output_buffer(ctx);

        if (o && oc_buf_puts(out, o) != OC_OK)
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    nft_ctx_free(ctx);
    return rc;
}

int cc_nft_apply(const char *table, const char *text, struct oc_err *err)
{
    struct oc_buf cmds = { 0 };
    int rc;

    if (oc_buf_printf(&cmds, "add table ip %s\ndelete table ip %s\n%s", table, table, text)) {
        oc_buf_free(&cmds);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    rc = cc_nft_run(cmds.data, NULL, err);
    oc_buf_free(&cmds);
    return rc;
}

int cc_nft_remove(const char *table, struct oc_err *err)
{
    char cmds[256];

    snprintf(cmds, sizeof(cmds), "add table ip %s\ndelete table ip %s\n", table, table);
    return cc_nft_run(cmds, NULL, err);
}
