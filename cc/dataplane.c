/*
 * dataplane.c - one sync of the cluster's network (dataplane.h).
 */
#include "cc/dataplane.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cc/addr.h"
#include "cc/dhcp.h"
#include "cc/netif.h"
#include "cc/netmodel.h"
#include "cc/netns.h"
#include "cc/nft.h"
#include "common/log.h"

struct cc_dataplane {
    struct cc_dataplane_config cfg;
    char *dir, *netns, *bridge, *pubif, *table, *md_ip, *dnsmasq, *router;
    char subnet_cidr[24], subnet[16], netmask[16];
    struct cc_plan plan;
    struct cc_cluster *cluster;
    struct cc_netstate *net;
    struct cc_dhcp *dhcp;

    pthread_mutex_t lock;         /* one sync at a time; the fields below */
    struct oc_buf nft_last;       /* the table's text as last applied */
    struct oc_buf links_last;     /* the addresses as last made (links_key) */
    struct cc_nft *nft;           /* kept between syncs; made inside the namespace */
    int garp_fd;                  /* netif.c's packet socket, likewise */
    uint64_t applies, replaces;   /* changes applied; of them, whole replaces */

    pthread_mutex_t tlock;        /* the periodic thread */
    pthread_cond_t tcond;
    pthread_t thread;
    int thread_started, stopping;
};

/* ------------------------------------------------------------------ */
/* the model */

void cc_net_model_free(struct cc_net_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->ngroups; i++)
        free((void *)m->groups[i].rules);
    free(m->groups);
    free(m->hosts);
    free(m->eips);
    memset(m, 0, sizeof(*m));
}

/* Groups with a network first, by index; then the others, by id. */
static int cmp_group(const void *a, const void *b)
{
    const struct cc_net_group *x = a, *y = b;

    if (x->has_net != y->has_net)
        return x->has_net ? -1 : 1;
    if (!x->has_net)
        return strcmp(x->id, y->id);
    return x->index < y->index ? -1 : x->index > y->index;
}

static uint32_t ip_of(const char *s)
{
    uint32_t ip = 0;

    (void)cc_ip_parse(s, &ip);
    return ip;
}

static int cmp_host(const void *a, const void *b)
{
    uint32_t x = ip_of(((const struct cc_net_host *)a)->ip);
    uint32_t y = ip_of(((const struct cc_net_host *)b)->ip);

    return x < y ? -1 : x > y;
}

static int cmp_eip(const void *a, const void *b)
{
    uint32_t x = ip_of(((const struct cc_eip *)a)->public_ip);
    uint32_t y = ip_of(((const struct cc_eip *)b)->public_ip);

    return x < y ? -1 : x > y;
}

/* The index of group id in m, adding it (with its network) when new;
 * -1 when the cluster has no network for it. */
static long group_index(struct cc_dataplane *dp, struct cc_net_model *m, size_t cap,
                        const char *id, struct oc_err *err)
{
    struct cc_net_group *g;
    struct cc_network net;
    char cidr[20], gw[16], base[16];
    uint32_t gwip;

    for (size_t i = 0; i < m->ngroups; i++)
        if (strcmp(m->groups[i].id, id) == 0)
            return (long)i;
    if (m->ngroups >= cap || cc_group_network(dp->cluster, id, cidr, gw, err) != OC_OK ||
        cc_ip_parse(gw, &gwip) != OC_OK || gwip < dp->plan.subnet + 1)
        return -1;
    g = &m->groups[m->ngroups];
    memset(g, 0, sizeof(*g));
    snprintf(g->id, sizeof(g->id), "%s", id);
    g->has_net = 1;
    g->index = (gwip - 1 - dp->plan.subnet) / dp->plan.per_net;
    if (cc_plan_network(&dp->plan, g->index, &net) != OC_OK)
        return -1;
    cc_ip_str(net.base, base);
    snprintf(g->cidr, sizeof(g->cidr), "%s/%u", base, net.prefix & 63u);
    cc_ip_str(net.gateway, g->gateway);
    cc_ip_str(net.mask, g->netmask);
    cc_ip_str(net.broadcast, g->broadcast);
    g->prefix = net.prefix;
    return (long)m->ngroups++;
}

/* STATIC: every instance is in the one network, "group" 0, whose router
 * is VNET_ROUTER. */
static long static_group(struct cc_dataplane *dp, struct cc_net_model *m)
{
    struct cc_net_group *g = &m->groups[0];
    char bcast[16];

    if (m->ngroups)
        return 0;
    memset(g, 0, sizeof(*g));
    snprintf(g->id, sizeof(g->id), "static");
    g->has_net = 1;
    snprintf(g->cidr, sizeof(g->cidr), "%.19s", dp->subnet_cidr);
    snprintf(g->gateway, sizeof(g->gateway), "%s", dp->router);
    snprintf(g->netmask, sizeof(g->netmask), "%s", dp->netmask);
    cc_ip_str(dp->plan.subnet | ~dp->plan.netmask, bcast);
    snprintf(g->broadcast, sizeof(g->broadcast), "%s", bcast);
    g->prefix = (unsigned)__builtin_popcount(dp->plan.netmask);
    m->ngroups = 1;
    return 0;
}

/* The index of group id in m, adding it without a network when new (a
 * group some instances have besides their first). */
static long extra_group_index(struct cc_net_model *m, size_t cap, const char *id)
{
    struct cc_net_group *g;

    for (size_t i = 0; i < m->ngroups; i++)
        if (strcmp(m->groups[i].id, id) == 0)
            return (long)i;
    if (m->ngroups >= cap)
        return -1;
    g = &m->groups[m->ngroups];
    memset(g, 0, sizeof(*g));
    snprintf(g->id, sizeof(g->id), "%s", id);
    return (long)m->ngroups++;
}

/* Sorts m->groups (cmp_group) and points the hosts at the new places. */
static int sort_groups(struct cc_net_model *m)
{
    struct cc_net_group *sorted = calloc(m->ngroups ? m->ngroups : 1, sizeof(*sorted));
    unsigned *where = calloc(m->ngroups ? m->ngroups : 1, sizeof(*where));

    if (!sorted || !where) {
        free(sorted);
        free(where);
        return OC_ENOMEM;
    }
    memcpy(sorted, m->groups, m->ngroups * sizeof(*sorted));
    qsort(sorted, m->ngroups, sizeof(*sorted), cmp_group);
    /* Ids are unique in the model: the old place of each is found by id. */
    for (size_t i = 0; i < m->ngroups; i++)
        for (size_t k = 0; k < m->ngroups; k++)
            if (strcmp(m->groups[i].id, sorted[k].id) == 0) {
                where[i] = (unsigned)k;
                break;
            }
    for (size_t h = 0; h < m->nhosts; h++) {
        m->hosts[h].group = where[m->hosts[h].group];
        for (unsigned x = 0; x < m->hosts[h].nextra; x++)
            m->hosts[h].extra[x] = where[m->hosts[h].extra[x]];
    }
    memcpy(m->groups, sorted, m->ngroups * sizeof(*sorted));
    free(sorted);
    free(where);
    return OC_OK;
}

/* A group's rules from netstate; one whose egress is not filtered gets
 * the rule that says so (all traffic to anywhere). */
static int group_rules(struct cc_dataplane *dp, struct cc_net_group *g, struct oc_err *err)
{
    struct cc_rule *r = NULL, *more;
    size_t nr = 0;
    int filtered = 0, rc = cc_netstate_rules(dp->net, g->id, &r, &nr, &filtered, err);

    if (rc) {
        free(r);
        return rc;
    }
    if (!filtered) {
        if (!(more = realloc(r, (nr + 1) * sizeof(*r)))) {
            free(r);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
        r = more;
        memset(&r[nr], 0, sizeof(r[nr]));
        snprintf(r[nr].proto, sizeof(r[nr].proto), "all");
        r[nr].from_port = r[nr].to_port = -1;
        snprintf(r[nr].cidr, sizeof(r[nr].cidr), "0.0.0.0/0");
        r[nr].egress = 1;
        nr++;
    }
    g->rules = r;
    g->nrules = nr;
    return OC_OK;
}

int cc_dataplane_model(struct cc_dataplane *dp, struct cc_net_model *m, struct oc_err *err)
{
    struct cc_instance_info *inst = NULL;
    struct cc_eip *eips = NULL;
    size_t ninst = 0, neips = 0, cap;
    int rc;

    memset(m, 0, sizeof(*m));
    m->table = dp->table;
    m->bridge = dp->bridge;
    m->pubif = dp->pubif;
    m->subnet = dp->subnet_cidr;
    m->filter = !dp->cfg.static_mode;
    m->md_ip = dp->md_ip;
    m->md_port = dp->cfg.md_port;
    rc = cc_instances(dp->cluster, &inst, &ninst);
    if (rc)
        return oc_err_set(err, rc, "cannot list the cluster's instances");
    cap = ninst * CC_NET_MAX_GROUPS + 1;
    m->groups = calloc(cap, sizeof(*m->groups));
    m->hosts = calloc(ninst ? ninst : 1, sizeof(*m->hosts));
    if (!m->groups || !m->hosts) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto out;
    }
    /* First every network (an instance's first group), then the other
     * groups: a group some instances have first and others besides is
     * then known by its network. */
    for (int pass = 0; pass < 2; pass++) {
        size_t nh = 0;

        for (size_t i = 0; i < ninst; i++) {
            const struct cc_instance_info *x = &inst[i];
            struct cc_net_host *h;
            long g;

            if (strcmp(x->state, "terminated") == 0 || !x->private_ip[0] || !x->mac[0])
                continue;
            if (pass == 1) {
                /* The host pass 0 made of x, if it made one. */
                if (nh == m->nhosts || strcmp(m->hosts[nh].id, x->id) != 0)
                    continue;
                h = &m->hosts[nh++];
                /* STATIC filters nothing: other groups mean nothing there. */
                for (unsigned k = 1; !dp->cfg.static_mode && k < x->ngroups &&
                                     h->nextra < CC_NET_MAX_GROUPS - 1; k++) {
                    long e = strcmp(x->groups[k], x->group_id) == 0
                                 ? -1
                                 : extra_group_index(m, cap, x->groups[k]);

                    for (unsigned j = 0; e >= 0 && j < h->nextra; j++)
                        if (h->extra[j] == (unsigned)e)
                            e = -1;
                    if (e >= 0)
                        h->extra[h->nextra++] = (unsigned)e;
                }
                continue;
            }
            g = dp->cfg.static_mode ? static_group(dp, m)
                                    : group_index(dp, m, cap, x->group_id, err);
            if (g < 0)
                continue;
            h = &m->hosts[m->nhosts++];
            snprintf(h->id, sizeof(h->id), "%s", x->id);
            snprintf(h->mac, sizeof(h->mac), "%s", x->mac);
            snprintf(h->ip, sizeof(h->ip), "%s", x->private_ip);
            h->group = (unsigned)g;
        }
    }
    if ((rc = sort_groups(m)) != OC_OK) {
        rc = oc_err_set(err, rc, "out of memory");
        goto out;
    }
    qsort(m->hosts, m->nhosts, sizeof(*m->hosts), cmp_host);
    for (size_t i = 0; i < m->ngroups; i++)
        if ((rc = group_rules(dp, &m->groups[i], err)))
            goto out;
    rc = cc_netstate_assigned(dp->net, &eips, &neips, err);
    if (rc)
        goto out;
    m->eips = eips;
    m->neips = neips;
    eips = NULL;
    qsort(m->eips, m->neips, sizeof(*m->eips), cmp_eip);
out:
    free(inst);
    free(eips);
    if (rc)
        cc_net_model_free(m);
    return rc;
}

/* ------------------------------------------------------------------ */
/* a sync */

struct in_ns {
    struct cc_dataplane *dp;
    const struct cc_net_model *m;
    const char *nft_text;         /* NULL: the table is unchanged */
    const char *nft_cmds;         /* the change alone, or NULL: replace it whole */
    int links;                    /* make the links and addresses (else they are as last made) */
    int full;                     /* out: it was replaced whole */
    double t_links;               /* out: when the links were done */
};

static int public_of(void *ctx, uint32_t ip)
{
    return cc_netstate_is_public(ctx, ip);
}

static int sync_in_ns(void *arg, struct oc_err *err)
{
    struct in_ns *j = arg;
    struct cc_netif_scope scope = { j->dp->plan.subnet, j->dp->plan.netmask, public_of,
                                    j->dp->net, &j->dp->garp_fd };
    struct cc_dataplane *dp = j->dp;
    int rc = j->links ? cc_netif_sync(j->m, &scope, err) : OC_OK;

    j->t_links = oc_mono_ms();
    if (rc != OC_OK || !j->nft_text)
        return rc;
    if (!dp->nft && (rc = cc_nft_new(&dp->nft, err)) != OC_OK)
        return rc;
    /* The change alone when it can be said so; the whole table when not,
     * or when the change does not apply (someone edited our table: then
     * with a fresh context, whose cache is not stale). */
    if (j->nft_cmds && cc_nft_exec(dp->nft, j->nft_cmds, NULL, err) == OC_OK)
        return OC_OK;
    if (j->nft_cmds) {
        oc_warn("data plane: the table differs from what was applied (%s): replacing it",
                err->msg);
        cc_nft_free(dp->nft);
        dp->nft = NULL;
        if ((rc = cc_nft_new(&dp->nft, err)) != OC_OK)
            return rc;
    }
    j->full = 1;
    return cc_nft_apply(dp->nft, dp->table, j->nft_text, err);
}

/* What netif.c makes of a model: when it is what was last made, an
 * API-driven sync leaves the links alone (the periodic one always checks). */
static int links_key(const struct cc_net_model *m, struct oc_buf *key)
{
    int rc = oc_buf_printf(key, "%s|%s|%s|", m->bridge, m->pubif, m->md_ip);

    for (size_t i = 0; rc == OC_OK && i < m->ngroups; i++)
        if (m->groups[i].has_net)
            rc = oc_buf_printf(key, "%s/%u,", m->groups[i].gateway, m->groups[i].prefix);
    for (size_t i = 0; rc == OC_OK && i < m->neips; i++)
        rc = oc_buf_printf(key, "%s,", m->eips[i].public_ip);
    return rc;
}

static int sync_locked(struct cc_dataplane *dp, int start_dhcp, int check_links,
                       struct oc_err *err)
{
    struct cc_net_model m;
    struct oc_buf text = { 0 }, cmds = { 0 }, lkey = { 0 };
    struct in_ns j = { dp, &m, NULL, NULL, 1, 0, 0 };
    double t0 = oc_mono_ms(), t_model, t_table, t_end;
    int rc = cc_dataplane_model(dp, &m, err);

    if (rc)
        return rc;
    if (cc_nft_render(&m, &text) != OC_OK || links_key(&m, &lkey) != OC_OK) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto out;
    }
    if (!dp->nft_last.data || strcmp(dp->nft_last.data, text.data) != 0) {
        j.nft_text = text.data;
        if (dp->nft_last.data &&
            cc_nft_update(dp->table, dp->nft_last.data, text.data, &cmds) == 0 && cmds.len)
            j.nft_cmds = cmds.data;
    }
    j.links = check_links || !dp->links_last.data || strcmp(dp->links_last.data, lkey.data) != 0;
    t_model = oc_mono_ms();
    rc = cc_netns_run(dp->netns, sync_in_ns, &j, err);
    t_table = oc_mono_ms();
    if (rc)
        goto out;
    if (j.links) {
        oc_buf_reset(&dp->links_last);
        if (oc_buf_puts(&dp->links_last, lkey.data) != OC_OK) {
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (j.nft_text) {
        oc_buf_reset(&dp->nft_last);
        if (oc_buf_puts(&dp->nft_last, text.data) != OC_OK) {
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
            goto out;
        }
        dp->applies++;
        if (j.full)
            dp->replaces++;
    }
    if (start_dhcp) {
        struct cc_dhcp_config dc = { dp->dir, dp->netns, dp->bridge, dp->dnsmasq,
                                     dp->cfg.lease_s };

        rc = cc_dhcp_start(&dc, &m, &dp->dhcp, err);
    } else if (dp->dhcp) {
        rc = cc_dhcp_update(dp->dhcp, &m, err);
    }
    t_end = oc_mono_ms();
    oc_debug("data plane: sync %.2f ms (model %.2f, links%s %.2f, table %s %.2f, dhcp %.2f)",
             t_end - t0, t_model - t0, j.links ? "" : " unchanged", j.t_links - t_model,
             !j.nft_text ? "unchanged" : j.full ? "replaced" : "changed", t_table - j.t_links,
             t_end - t_table);
out:
    oc_buf_free(&text);
    oc_buf_free(&cmds);
    oc_buf_free(&lkey);
    cc_net_model_free(&m);
    return rc;
}

int cc_dataplane_sync(struct cc_dataplane *dp, struct oc_err *err)
{
    int rc;

    pthread_mutex_lock(&dp->lock);
    rc = sync_locked(dp, 0, 0, err);
    pthread_mutex_unlock(&dp->lock);
    return rc;
}

static void *periodic(void *arg)
{
    struct cc_dataplane *dp = arg;

    pthread_mutex_lock(&dp->tlock);
    while (!dp->stopping) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += dp->cfg.interval_s;
        while (!dp->stopping && pthread_cond_timedwait(&dp->tcond, &dp->tlock, &ts) != ETIMEDOUT)
            ;
        if (dp->stopping)
            break;
        pthread_mutex_unlock(&dp->tlock);
        {
            struct oc_err err = { 0 };

            pthread_mutex_lock(&dp->lock);
            if (sync_locked(dp, 0, 1, &err) != OC_OK)
                oc_warn("data plane: %s", err.msg);
            pthread_mutex_unlock(&dp->lock);
        }
        pthread_mutex_lock(&dp->tlock);
    }
    pthread_mutex_unlock(&dp->tlock);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* life */

static void dp_free(struct cc_dataplane *dp)
{
    free(dp->dir);
    free(dp->netns);
    free(dp->bridge);
    free(dp->pubif);
    free(dp->table);
    free(dp->md_ip);
    free(dp->dnsmasq);
    free(dp->router);
    oc_buf_free(&dp->nft_last);
    oc_buf_free(&dp->links_last);
    cc_nft_free(dp->nft);
    if (dp->garp_fd >= 0)
        close(dp->garp_fd);
    pthread_mutex_destroy(&dp->lock);
    pthread_mutex_destroy(&dp->tlock);
    pthread_cond_destroy(&dp->tcond);
    free(dp);
}

static int valid_table(const char *t)
{
    size_t n = strlen(t);

    return n > 0 && n < 32 && strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int remove_in_ns(void *arg, struct oc_err *err)
{
    return cc_nft_remove(arg, err);
}

int cc_dataplane_open(const struct cc_dataplane_config *cfg, struct cc_cluster *cluster,
                      struct cc_netstate *net, struct cc_dataplane **out, struct oc_err *err)
{
    struct cc_dataplane *dp = calloc(1, sizeof(*dp));
    char base[16];
    int rc;

    *out = NULL;
    if (!dp)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_init(&dp->lock, NULL);
    pthread_mutex_init(&dp->tlock, NULL);
    pthread_cond_init(&dp->tcond, NULL);
    dp->cfg = *cfg;
    dp->garp_fd = -1;
    dp->cluster = cluster;
    dp->net = net;
#define DUP(f) (dp->f = strdup(cfg->f ? cfg->f : ""))
    if (!DUP(dir) || !DUP(netns) || !DUP(bridge) || !DUP(pubif) || !DUP(table) || !DUP(md_ip) ||
        !DUP(dnsmasq) || !DUP(router)) {
        dp_free(dp);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
#undef DUP
    if (!valid_table(dp->table)) {
        dp_free(dp);
        return oc_err_set(err, OC_EINVAL, "CC_NFT_TABLE '%.40s' must be 1-31 of [a-z0-9_]",
                          dp->table);
    }
    if (!dp->bridge[0] || strlen(dp->bridge) > 15 || strchr(dp->bridge, '"') ||
        strlen(dp->pubif) > 15 || strchr(dp->pubif, '"')) {
        dp_free(dp);
        return oc_err_set(err, OC_EINVAL, "VNET_BRIDGE and VNET_PUBINTERFACE must be interface"
                          " names (1-15 characters)");
    }
    rc = cc_plan_init(&dp->plan, cfg->subnet, cfg->netmask, cfg->addrs_per_net, err);
    if (rc) {
        dp_free(dp);
        return rc;
    }
    if (dp->cfg.static_mode) {
        uint32_t r;

        if (cc_ip_parse(dp->router, &r) != OC_OK || (r & dp->plan.netmask) != dp->plan.subnet) {
            dp_free(dp);
            return oc_err_set(err, OC_EINVAL, "VNET_MODE=STATIC needs VNET_ROUTER, an address "
                              "of VNET_SUBNET/VNET_NETMASK");
        }
    }
    cc_ip_str(dp->plan.subnet, base);
    cc_ip_str(dp->plan.netmask, dp->netmask);
    snprintf(dp->subnet, sizeof(dp->subnet), "%s", base);
    snprintf(dp->subnet_cidr, sizeof(dp->subnet_cidr), "%s/%d", base,
             __builtin_popcount(dp->plan.netmask));
    pthread_mutex_lock(&dp->lock);
    rc = sync_locked(dp, 1, 1, err);
    pthread_mutex_unlock(&dp->lock);
    if (rc) {
        struct oc_err e2 = { 0 };

        if (dp->applies && cc_netns_run(dp->netns, remove_in_ns, dp->table, &e2) != OC_OK)
            oc_warn("data plane: removing table ip %s: %s", dp->table, e2.msg);
        dp_free(dp);
        return rc;
    }
    if (cfg->interval_s) {
        if (pthread_create(&dp->thread, NULL, periodic, dp) != 0) {
            cc_dataplane_close(dp);
            return oc_err_set(err, OC_EINTERNAL, "cannot start a thread");
        }
        dp->thread_started = 1;
    }
    oc_info("data plane: bridge %s%s%s, table ip %s, %s", dp->bridge,
            dp->netns[0] ? " in network namespace " : "", dp->netns, dp->table,
            dp->pubif[0] ? dp->pubif : "no public interface");
    *out = dp;
    return OC_OK;
}

void cc_dataplane_nft_text(struct cc_dataplane *dp, struct oc_buf *out)
{
    pthread_mutex_lock(&dp->lock);
    if (dp->nft_last.data && oc_buf_puts(out, dp->nft_last.data) != OC_OK)
        oc_buf_reset(out);
    pthread_mutex_unlock(&dp->lock);
}

void cc_dataplane_close(struct cc_dataplane *dp)
{
    struct oc_err err = { 0 };

    if (!dp)
        return;
    pthread_mutex_lock(&dp->tlock);
    dp->stopping = 1;
    pthread_cond_broadcast(&dp->tcond);
    pthread_mutex_unlock(&dp->tlock);
    if (dp->thread_started)
        pthread_join(dp->thread, NULL);
    cc_dhcp_stop(dp->dhcp);
    if (cc_netns_run(dp->netns, remove_in_ns, dp->table, &err) != OC_OK)
        oc_warn("data plane: removing table ip %s: %s", dp->table, err.msg);
    dp_free(dp);
}
