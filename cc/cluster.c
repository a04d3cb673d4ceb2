/*
 * cluster.c - nodes, placement, addresses and instances (see cluster.h).
 *
 * One mutex guards everything in memory; calls to nodes are made with it
 * released.  Every change is written through to cc.db before it is
 * visible, so what a restarted CC loads is what it had answered.
 */
#include "cc/cluster.h"

#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/db.h"
#include "common/fsutil.h"
#include "common/icall.h"
#include "common/log.h"
#include "common/xml.h"

#define NC_VERSION "2026-11-01"
#define TERMINATED_KEEP_S 3600

struct node {
    struct cc_node_info info;
    int polled;                 /* totals known */
    uint64_t nc_used_mb;        /* memory the node said its instances cost, last poll */
};

struct inst {
    struct cc_instance_info info;
    unsigned vcpus, mem_mb, disk_gb, ephemeral_gb, swap_mb;
    uint32_t ip;
    /* The node has reported it running (or pending) in a poll whose
     * ncDescribeResource followed: its memory is in nc_used_mb.  Until
     * then it is charged what its type gives it. */
    int seen;
};

struct cc_cluster {
    struct cc_config cfg;
    char *dir, *bridge, *ak, *sk, *region;
    struct cc_plan plan;
    struct oc_db *db;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct node *nodes;
    size_t nnodes;
    struct inst *insts;
    size_t ninsts, cap_insts;
    size_t rr_cursor;
    uint64_t cache_max_mb;      /* NC_CACHE_MAX_MB pushed to the nodes; 0 = none */
    pthread_t poller;
    int polling, stop;
};

static const struct oc_migration migrations[] = {
    { 1, "CREATE TABLE nodes (name TEXT PRIMARY KEY, host TEXT NOT NULL, port INTEGER NOT NULL,"
         "  registered INTEGER NOT NULL);"
         "CREATE TABLE networks (group_id TEXT PRIMARY KEY, idx INTEGER NOT NULL UNIQUE);"
         "CREATE TABLE instances (id TEXT PRIMARY KEY, node TEXT NOT NULL,"
         "  reservation_id TEXT NOT NULL, owner_id TEXT NOT NULL, group_id TEXT NOT NULL,"
         "  ip INTEGER NOT NULL UNIQUE, mac TEXT NOT NULL, instance_type TEXT NOT NULL,"
         "  image_id TEXT NOT NULL, vcpus INTEGER NOT NULL, mem_mb INTEGER NOT NULL,"
         "  disk_gb INTEGER NOT NULL, ephemeral_gb INTEGER NOT NULL, swap_mb INTEGER NOT NULL,"
         "  launch_index INTEGER NOT NULL, state TEXT NOT NULL, state_reason TEXT NOT NULL,"
         "  launch_time INTEGER NOT NULL, state_time INTEGER NOT NULL);" },
    /* Properties the admin API changed (ccSetProperty): they win over
     * overcast.conf from then on. */
    { 2, "CREATE TABLE properties (name TEXT PRIMARY KEY, value TEXT NOT NULL);" },
    /* Every security group of an instance, space separated, the first
     * (group_id, its network's) first; '' in older rows: group_id alone. */
    { 3, "ALTER TABLE instances ADD COLUMN groups TEXT NOT NULL DEFAULT '';" },
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int live(const struct inst *i)
{
    return strcmp(i->info.state, "terminated") != 0;
}

static struct node *find_node(struct cc_cluster *c, const char *name)
{
    for (size_t k = 0; k < c->nnodes; k++)
        if (strcmp(c->nodes[k].info.name, name) == 0)
            return &c->nodes[k];
    return NULL;
}

static struct inst *find_inst(struct cc_cluster *c, const char *id)
{
    for (size_t k = 0; k < c->ninsts; k++)
        if (strcmp(c->insts[k].info.id, id) == 0)
            return &c->insts[k];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* persistence (locked) */

/* "sg-a sg-b": an instance's groups as cc.db keeps them. */
static void groups_join(const struct cc_instance_info *i, char *out, size_t len)
{
    size_t at = 0;

    out[0] = '\0';
    for (unsigned k = 0; k < i->ngroups && at < len; k++)
        at += (size_t)snprintf(out + at, len - at, "%s%s", k ? " " : "", i->groups[k]);
}

/* The reverse; an empty text is group_id alone (rows older than groups). */
static void groups_split(struct cc_instance_info *i, const char *text)
{
    const char *p = text;

    i->ngroups = 0;
    while (*p && i->ngroups < CC_MAX_GROUPS) {
        size_t n = strcspn(p, " ");

        if (n && n < CC_NAME_MAX) {
            memcpy(i->groups[i->ngroups], p, n);
            i->groups[i->ngroups++][n] = '\0';
        }
        p += n;
        p += strspn(p, " ");
    }
    if (!i->ngroups || strcmp(i->groups[0], i->group_id) != 0) {
        snprintf(i->groups[0], CC_NAME_MAX, "%s", i->group_id);
        i->ngroups = 1;
    }
}

static int save_inst(struct cc_cluster *c, const struct inst *i, struct oc_err *err)
{
    char groups[CC_MAX_GROUPS * CC_NAME_MAX];
    sqlite3_stmt *st;
    int rc;

    if (!live(i)) {
        st = oc_db_prepare(c->db, "DELETE FROM instances WHERE id = ?1", err);
        if (!st)
            return OC_EDB;
        sqlite3_bind_text(st, 1, i->info.id, -1, SQLITE_STATIC);
    } else {
        st = oc_db_prepare(c->db,
                           "INSERT OR REPLACE INTO instances VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                           " ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
                           err);
        if (!st)
            return OC_EDB;
        sqlite3_bind_text(st, 1, i->info.id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, i->info.node, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, i->info.reservation_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, i->info.owner_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, i->info.group_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 6, i->ip);
        sqlite3_bind_text(st, 7, i->info.mac, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, i->info.instance_type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, i->info.image_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 10, (int)i->vcpus);
        sqlite3_bind_int(st, 11, (int)i->mem_mb);
        sqlite3_bind_int(st, 12, (int)i->disk_gb);
        sqlite3_bind_int(st, 13, (int)i->ephemeral_gb);
        sqlite3_bind_int(st, 14, (int)i->swap_mb);
        sqlite3_bind_int(st, 15, (int)i->info.launch_index);
        sqlite3_bind_text(st, 16, i->info.state, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 17, i->info.state_reason, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 18, i->info.launch_time);
        sqlite3_bind_int64(st, 19, i->info.state_time);
        groups_join(&i->info, groups, sizeof(groups));
        sqlite3_bind_text(st, 20, groups, -1, SQLITE_TRANSIENT);
    }
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OC_OK : oc_db_fail(c->db, err, "saving an instance");
}

static void set_state(struct cc_cluster *c, struct inst *i, const char *state, const char *reason)
{
    struct oc_err err = { 0 };
    int changed = strcmp(i->info.state, state) != 0;

    if (changed)
        oc_log(OC_LOG_INFO, "%s on %s: %s -> %s%s%s", i->info.id, i->info.node, i->info.state,
               state, reason && *reason ? ": " : "", reason ? reason : "");
    snprintf(i->info.state, sizeof(i->info.state), "%s", state);
    snprintf(i->info.state_reason, sizeof(i->info.state_reason), "%s", reason ? reason : "");
    i->info.state_time = now_s();
    if (save_inst(c, i, &err) != OC_OK)
        oc_log(OC_LOG_ERROR, "%s: %s", i->info.id, err.msg);
    if (changed && c->cfg.on_state)
        c->cfg.on_state(c->cfg.on_state_ctx, &i->info);
    if (!live(i) && c->cfg.on_terminated)
        c->cfg.on_terminated(c->cfg.on_terminated_ctx, i->info.id);
}

static int load(struct cc_cluster *c, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(c->db, "SELECT value FROM properties"
                                            " WHERE name = 'SCHEDPOLICY'", err);

    if (!st)
        return OC_EDB;
    if (sqlite3_step(st) == SQLITE_ROW &&
        cc_policy_parse((const char *)sqlite3_column_text(st, 0), &c->cfg.policy) != 0)
        oc_log(OC_LOG_WARN, "cc.db: ignoring an unknown SCHEDPOLICY");
    sqlite3_reset(st);
    st = oc_db_prepare(c->db, "SELECT value FROM properties WHERE name = 'NC_CACHE_MAX_MB'",
                       err);
    if (!st)
        return OC_EDB;
    if (sqlite3_step(st) == SQLITE_ROW)
        c->cache_max_mb = strtoull((const char *)sqlite3_column_text(st, 0), NULL, 10);
    sqlite3_reset(st);
    st = oc_db_prepare(c->db, "SELECT name, host, port FROM nodes ORDER BY registered, name",
                       err);
    if (!st)
        return OC_EDB;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct node *nn = realloc(c->nodes, (c->nnodes + 1) * sizeof(*nn));

        if (!nn) {
            sqlite3_reset(st);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
        c->nodes = nn;
        memset(&nn[c->nnodes], 0, sizeof(*nn));
        snprintf(nn[c->nnodes].info.name, CC_NAME_MAX, "%s", sqlite3_column_text(st, 0));
        snprintf(nn[c->nnodes].info.host, 256, "%s", sqlite3_column_text(st, 1));
        nn[c->nnodes].info.port = (unsigned)sqlite3_column_int(st, 2);
        c->nnodes++;
    }
    sqlite3_reset(st);
    st = oc_db_prepare(c->db, "SELECT id, node, reservation_id, owner_id, group_id, ip, mac,"
                              " instance_type, image_id, vcpus, mem_mb, disk_gb, ephemeral_gb,"
                              " swap_mb, launch_index, state, state_reason, launch_time,"
                              " state_time, groups FROM instances ORDER BY launch_time, id",
                       err);
    if (!st)
        return OC_EDB;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct inst *i;

        if (c->ninsts == c->cap_insts) {
            size_t cap = c->cap_insts ? c->cap_insts * 2 : 64;
            struct inst *ni = realloc(c->insts, cap * sizeof(*ni));

            if (!ni) {
                sqlite3_reset(st);
                return oc_err_set(err, OC_ENOMEM, "out of memory");
            }
            c->insts = ni;
            c->cap_insts = cap;
        }
        i = &c->insts[c->ninsts++];
        memset(i, 0, sizeof(*i));
#define COL(k, dst) snprintf(dst, sizeof(dst), "%s", (const char *)sqlite3_column_text(st, k))
        COL(0, i->info.id);
        COL(1, i->info.node);
        COL(2, i->info.reservation_id);
        COL(3, i->info.owner_id);
        COL(4, i->info.group_id);
        i->ip = (uint32_t)sqlite3_column_int64(st, 5);
        COL(6, i->info.mac);
        COL(7, i->info.instance_type);
        COL(8, i->info.image_id);
        i->vcpus = (unsigned)sqlite3_column_int(st, 9);
        i->mem_mb = (unsigned)sqlite3_column_int(st, 10);
        i->disk_gb = (unsigned)sqlite3_column_int(st, 11);
        i->ephemeral_gb = (unsigned)sqlite3_column_int(st, 12);
        i->swap_mb = (unsigned)sqlite3_column_int(st, 13);
        i->info.launch_index = (unsigned)sqlite3_column_int(st, 14);
        COL(15, i->info.state);
        COL(16, i->info.state_reason);
#undef COL
        i->info.launch_time = sqlite3_column_int64(st, 17);
        i->info.state_time = sqlite3_column_int64(st, 18);
        {
            const char *g = (const char *)sqlite3_column_text(st, 19);

            groups_split(&i->info, g ? g : "");
        }
        cc_ip_str(i->ip, i->info.private_ip);
    }
    sqlite3_reset(st);
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* calling nodes (unlocked) */

/* A call to a node's API (common/icall.h). */
static int ncall(struct cc_cluster *c, const char *host, unsigned port, const char *action,
                 const struct oc_kv *p, size_t n, struct oc_icall *out, struct oc_err *err)
{
    char url[300];
    struct oc_icall_target t = { url, c->ak, c->sk, c->region, "nc", NC_VERSION, 15000 };

    snprintf(url, sizeof(url), "http://%s:%u", host, port);
    return oc_icall(&t, action, p, n, out, err);
}

static int ncall_err(const struct oc_icall *r, const char *node, const char *action,
                     struct oc_err *err)
{
    char who[80];

    snprintf(who, sizeof(who), "node %s", node);
    return oc_icall_err(r, who, action, NULL, 0, err);
}

/* ------------------------------------------------------------------ */
/* capacity (locked) */

static void capacity(struct cc_cluster *c, size_t k, struct cc_capacity *cap)
{
    const struct node *nd = &c->nodes[k];
    unsigned cores = 0;
    uint64_t mem = 0, disk = 0;

    for (size_t j = 0; j < c->ninsts; j++) {
        const struct inst *i = &c->insts[j];

        if (!live(i) || strcmp(i->info.node, nd->info.name) != 0)
            continue;
        disk += (uint64_t)i->disk_gb + i->ephemeral_gb + (i->swap_mb + 1023) / 1024;
        if (strcmp(i->info.state, "stopped") != 0) {
            cores += i->vcpus;
            if (!i->seen)
                mem += i->mem_mb;
        }
    }
    /* Memory is what the node measures (a MacroComponent fork costs its
     * private pages, its template once) plus what it has not yet seen. */
    mem += nd->nc_used_mb;
    cap->up = nd->info.up && nd->polled;
    cap->cores_free = cores >= nd->info.cores_total ? 0 : nd->info.cores_total - cores;
    cap->mem_free_mb = mem >= nd->info.mem_total_mb ? 0 : nd->info.mem_total_mb - mem;
    cap->disk_free_gb = disk >= nd->info.disk_total_gb ? 0 : nd->info.disk_total_gb - disk;
}

static void refresh_free(struct cc_cluster *c)
{
    for (size_t k = 0; k < c->nnodes; k++) {
        struct cc_capacity cap;
        unsigned n = 0;

        capacity(c, k, &cap);
        c->nodes[k].info.cores_free = cap.cores_free;
        c->nodes[k].info.mem_free_mb = cap.mem_free_mb;
        c->nodes[k].info.disk_free_gb = cap.disk_free_gb;
        for (size_t j = 0; j < c->ninsts; j++)
            if (live(&c->insts[j]) && strcmp(c->insts[j].info.node, c->nodes[k].info.name) == 0)
                n++;
        c->nodes[k].info.instances = n;
    }
}

/* ------------------------------------------------------------------ */
/* nodes */

/* Asks one node for its resources and instances; updates the cluster. */
static void poll_node(struct cc_cluster *c, const char *name, const char *host, unsigned port)
{
    struct oc_icall res = { 0 }, ins = { 0 };
    struct oc_err err = { 0 };
    struct node *nd;
    uint64_t push_cache = 0;
    int ok;

    /* Instances first: whatever they list, the resource answer after them
     * has counted. */
    ok = ncall(c, host, port, "ncDescribeInstances", NULL, 0, &ins, &err) == OC_OK &&
         ins.status == 200 &&
         ncall(c, host, port, "ncDescribeResource", NULL, 0, &res, &err) == OC_OK &&
         res.status == 200;
    pthread_mutex_lock(&c->mu);
    nd = find_node(c, name);
    if (nd && ok) {
        xmlNodePtr set = oc_xml_child(ins.root, "instanceSet");

        if (!nd->info.up)
            oc_log(OC_LOG_INFO, "node %s (%s:%u) is up", name, host, port);
        nd->info.up = 1;
        nd->polled = 1;
        nd->info.failures = 0;
        nd->info.cores_total = (unsigned)oc_icall_num(res.root, "coresTotal");
        nd->info.mem_total_mb = oc_icall_num(res.root, "memoryTotalMiB");
        nd->info.disk_total_gb = oc_icall_num(res.root, "diskTotalGiB");
        {
            uint64_t free_mb = oc_icall_num(res.root, "memoryFreeMiB");

            nd->nc_used_mb = free_mb >= nd->info.mem_total_mb ? 0
                                                              : nd->info.mem_total_mb - free_mb;
        }
        nd->info.cache_max_mb = oc_icall_num(res.root, "cacheMaxMiB");
        nd->info.cache_used_mb = oc_icall_num(res.root, "cacheUsedMiB");
        if (c->cache_max_mb && nd->info.cache_max_mb != c->cache_max_mb)
            push_cache = c->cache_max_mb;
        oc_icall_text(res.root, "hypervisor", nd->info.hypervisor, sizeof(nd->info.hypervisor));
        /* Repair what events missed: the node is the truth of what runs. */
        for (xmlNodePtr it = set ? oc_xml_child(set, "item") : NULL; it;
             it = oc_xml_next(it, "item")) {
            char id[CC_ID_MAX], state[16], reason[256];
            struct inst *i;

            oc_icall_text(it, "instanceId", id, sizeof(id));
            oc_icall_text(oc_xml_child(it, "instanceState"), "name", state, sizeof(state));
            oc_icall_text(it, "stateReason", reason, sizeof(reason));
            i = find_inst(c, id);
            if (i && live(i) && strcmp(i->info.node, name) == 0 &&
                strcmp(i->info.state, state) != 0)
                set_state(c, i, state, reason);
            if (i && strcmp(i->info.node, name) == 0)
                i->seen = strcmp(state, "stopped") != 0;
        }
    } else if (nd) {
        nd->info.failures++;
        if (nd->info.up && nd->info.failures >= (c->cfg.down_after ? c->cfg.down_after : 3)) {
            nd->info.up = 0;
            oc_log(OC_LOG_WARN, "node %s (%s:%u) is down: %s", name, host, port,
                   err.msg[0] ? err.msg : "it does not answer");
        }
    }
    refresh_free(c);
    pthread_mutex_unlock(&c->mu);
    oc_icall_free(&res);
    oc_icall_free(&ins);
    if (push_cache) {
        char v[24];
        struct oc_kv p[2] = { { "Name", "NC_CACHE_MAX_MB", 1 }, { "Value", v, 1 } };

        snprintf(v, sizeof(v), "%llu", (unsigned long long)push_cache);
        memset(&err, 0, sizeof(err));
        if (ncall(c, host, port, "ncSetProperty", p, 2, &res, &err) != OC_OK ||
            res.status != 200)
            oc_log(OC_LOG_WARN, "node %s: NC_CACHE_MAX_MB %s not taken: %s", name, v,
                   err.msg[0] ? err.msg : "refused");
        else
            oc_log(OC_LOG_INFO, "node %s: image cache limit set to %s MiB", name, v);
        oc_icall_free(&res);
    }
}

void cc_cluster_poll(struct cc_cluster *c)
{
    struct cc_node_info *list = NULL;
    size_t n = 0;

    if (cc_nodes(c, &list, &n) != OC_OK)
        return;
    for (size_t k = 0; k < n; k++)
        poll_node(c, list[k].name, list[k].host, list[k].port);
    free(list);
}

static void *poller_main(void *arg)
{
    struct cc_cluster *c = arg;

    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec until;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += c->cfg.poll_s;
        while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &until) == 0)
            ;
        if (c->stop)
            break;
        pthread_mutex_unlock(&c->mu);
        cc_cluster_poll(c);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n < CC_NAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") == n;
}

int cc_node_register(struct cc_cluster *c, const char *name, const char *host, unsigned port,
                     struct oc_err *err)
{
    sqlite3_stmt *st;
    struct node *nd, *nn;
    int rc;

    if (!valid_name(name) || !valid_name(host) || port < 1 || port > 65535)
        return oc_err_set(err, OC_EINVAL, "node name, host or port is malformed");
    pthread_mutex_lock(&c->mu);
    nd = find_node(c, name);
    if (nd) {
        int same = strcmp(nd->info.host, host) == 0 && nd->info.port == port;

        pthread_mutex_unlock(&c->mu);
        return same ? OC_OK : oc_err_set(err, OC_EEXIST, "node %s is registered at %s:%u", name,
                                         nd->info.host, nd->info.port);
    }
    st = oc_db_prepare(c->db, "INSERT INTO nodes VALUES (?1, ?2, ?3, ?4)", err);
    if (!st) {
        pthread_mutex_unlock(&c->mu);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, (int)port);
    sqlite3_bind_int64(st, 4, now_s());
    rc = sqlite3_step(st) == SQLITE_DONE ? OC_OK : oc_db_fail(c->db, err, "registering a node");
    sqlite3_reset(st);
    nn = rc ? NULL : realloc(c->nodes, (c->nnodes + 1) * sizeof(*nn));
    if (!rc && !nn)
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    if (!rc) {
        c->nodes = nn;
        memset(&nn[c->nnodes], 0, sizeof(*nn));
        snprintf(nn[c->nnodes].info.name, CC_NAME_MAX, "%s", name);
        snprintf(nn[c->nnodes].info.host, 256, "%s", host);
        nn[c->nnodes].info.port = port;
        c->nnodes++;
        oc_log(OC_LOG_INFO, "node %s registered at %s:%u", name, host, port);
    }
    pthread_mutex_unlock(&c->mu);
    if (!rc)
        poll_node(c, name, host, port);   /* usable at once when it answers */
    return rc;
}

int cc_node_deregister(struct cc_cluster *c, const char *name, struct oc_err *err)
{
    sqlite3_stmt *st;
    struct node *nd;
    int rc = OC_OK;

    pthread_mutex_lock(&c->mu);
    nd = find_node(c, name);
    if (!nd) {
        pthread_mutex_unlock(&c->mu);
        return oc_err_set(err, OC_ENOTFOUND, "no node %s", name);
    }
    refresh_free(c);
    if (nd->info.instances) {
        pthread_mutex_unlock(&c->mu);
        return oc_err_set(err, OC_ECONFLICT, "node %s still has %u instance(s)", name,
                          nd->info.instances);
    }
    st = oc_db_prepare(c->db, "DELETE FROM nodes WHERE name = ?1", err);
    if (!st)
        rc = OC_EDB;
    else {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = oc_db_fail(c->db, err, "deregistering a node");
        sqlite3_reset(st);
    }
    if (!rc) {
        size_t k = (size_t)(nd - c->nodes);

        memmove(&c->nodes[k], &c->nodes[k + 1], (c->nnodes - k - 1) * sizeof(*c->nodes));
        c->nnodes--;
        oc_log(OC_LOG_INFO, "node %s deregistered", name);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int cc_set_property(struct cc_cluster *c, const char *name, const char *value,
                    struct oc_err *err)
{
    enum cc_policy p;
    int rc;

    if (strcmp(name, "NC_CACHE_MAX_MB") == 0) {
        char *end;
        unsigned long long mb = strtoull(value, &end, 10);

        if (!*value || *end || mb < 1 || mb > (1ULL << 40))
            return oc_err_set(err, OC_EINVAL, "NC_CACHE_MAX_MB must be a number of MiB");
        pthread_mutex_lock(&c->mu);
        rc = oc_db_run(c->db, "INSERT OR REPLACE INTO properties (name, value)"
                              " VALUES ('NC_CACHE_MAX_MB', ?1)", NULL, err, "i",
                       (long long)mb);
        if (rc == OC_OK)
            c->cache_max_mb = mb;
        pthread_mutex_unlock(&c->mu);
        /* Every node now (the poll pushes it where it differs). */
        if (rc == OC_OK)
            cc_cluster_poll(c);
        return rc;
    }
    if (strcmp(name, "SCHEDPOLICY") != 0)
        return oc_err_set(err, OC_EINVAL, "no property %s can change while the cluster runs",
                          name);
    if (cc_policy_parse(value, &p) != 0)
        return oc_err_set(err, OC_EINVAL, "SCHEDPOLICY must be GREEDY, ROUNDROBIN or "
                          "POWERSAVE");
    pthread_mutex_lock(&c->mu);
    rc = oc_db_run(c->db, "INSERT OR REPLACE INTO properties (name, value) VALUES (?1, ?2)",
                   NULL, err, "ss", name, cc_policy_name(p));
    if (rc == OC_OK) {
        oc_log(OC_LOG_INFO, "SCHEDPOLICY %s -> %s", cc_policy_name(c->cfg.policy),
               cc_policy_name(p));
        c->cfg.policy = p;
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

enum cc_policy cc_policy(struct cc_cluster *c)
{
    enum cc_policy p;

    pthread_mutex_lock(&c->mu);
    p = c->cfg.policy;
    pthread_mutex_unlock(&c->mu);
    return p;
}

int cc_nodes(struct cc_cluster *c, struct cc_node_info **out, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    refresh_free(c);
    *out = calloc(c->nnodes + 1, sizeof(**out));
    if (!*out) {
        pthread_mutex_unlock(&c->mu);
        return OC_ENOMEM;
    }
    for (size_t k = 0; k < c->nnodes; k++)
        (*out)[k] = c->nodes[k].info;
    *n = c->nnodes;
    pthread_mutex_unlock(&c->mu);
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* networks and addresses (locked) */

static int group_network(struct cc_cluster *c, const char *group, unsigned *idx,
                         struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(c->db, "SELECT idx FROM networks WHERE group_id = ?1", err);
    unsigned char *used;
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *idx = (unsigned)sqlite3_column_int(st, 0);
        sqlite3_reset(st);
        return OC_OK;
    }
    sqlite3_reset(st);
    used = calloc(c->plan.networks, 1);
    if (!used)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    st = oc_db_prepare(c->db, "SELECT idx FROM networks", err);
    if (!st) {
        free(used);
        return OC_EDB;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int k = sqlite3_column_int(st, 0);

        if (k >= 0 && (unsigned)k < c->plan.networks)
            used[k] = 1;
    }
    sqlite3_reset(st);
    /* Network 0 holds nothing but the CC's own gateway for the cluster. */
    for (*idx = 1; *idx < c->plan.networks && used[*idx]; (*idx)++)
        ;
    free(used);
    if (*idx >= c->plan.networks)
        return oc_err_set(err, OC_ETOOBIG, "no network left for security group %s", group);
    st = oc_db_prepare(c->db, "INSERT INTO networks VALUES (?1, ?2)", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, group, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, (int)*idx);
    rc = sqlite3_step(st) == SQLITE_DONE ? OC_OK : oc_db_fail(c->db, err, "saving a network");
    sqlite3_reset(st);
    return rc;
}

int cc_instance_by_ip(struct cc_cluster *c, const char *ip, char id[CC_ID_MAX])
{
    uint32_t a;
    int rc = OC_ENOTFOUND;

    if (cc_ip_parse(ip, &a) != OC_OK)
        return OC_ENOTFOUND;
    pthread_mutex_lock(&c->mu);
    for (size_t k = 0; k < c->ninsts && rc; k++)
        if (live(&c->insts[k]) && c->insts[k].ip == a) {
            snprintf(id, CC_ID_MAX, "%s", c->insts[k].info.id);
            rc = OC_OK;
        }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int cc_group_network(struct cc_cluster *c, const char *group_id, char cidr[20], char gw[16],
                     struct oc_err *err)
{
    sqlite3_stmt *st;
    struct cc_network net;
    char base[16];
    int idx = -1;

    pthread_mutex_lock(&c->mu);
    st = oc_db_prepare(c->db, "SELECT idx FROM networks WHERE group_id = ?1", err);
    if (!st) {
        pthread_mutex_unlock(&c->mu);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        idx = sqlite3_column_int(st, 0);
    sqlite3_reset(st);
    pthread_mutex_unlock(&c->mu);
    if (idx < 0 || cc_plan_network(&c->plan, (unsigned)idx, &net) != OC_OK)
        return oc_err_set(err, OC_ENOTFOUND, "group %s has no network yet", group_id);
    cc_ip_str(net.base, base);
    snprintf(cidr, 20, "%s/%u", base, net.prefix);
    cc_ip_str(net.gateway, gw);
    return OC_OK;
}

static int ip_taken(struct cc_cluster *c, uint32_t ip)
{
    for (size_t k = 0; k < c->ninsts; k++)
        if (live(&c->insts[k]) && c->insts[k].ip == ip)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* instances */

/* A new zeroed slot at the end, or NULL (out of memory). */
static struct inst *add_inst(struct cc_cluster *c)
{
    struct inst *i;

    if (c->ninsts == c->cap_insts) {
        size_t cap = c->cap_insts ? c->cap_insts * 2 : 64;
        struct inst *ni = realloc(c->insts, cap * sizeof(*ni));

        if (!ni)
            return NULL;
        c->insts = ni;
        c->cap_insts = cap;
    }
    i = &c->insts[c->ninsts++];
    memset(i, 0, sizeof(*i));
    return i;
}

/* Locked: forgets terminated instances past the keep time. */
static void purge(struct cc_cluster *c)
{
    int64_t cutoff = now_s() - TERMINATED_KEEP_S;
    size_t w = 0;

    for (size_t k = 0; k < c->ninsts; k++)
        if (live(&c->insts[k]) || c->insts[k].info.state_time > cutoff)
            c->insts[w++] = c->insts[k];
    c->ninsts = w;
}

static int place_all(struct cc_cluster *c, const struct cc_run_request *req, size_t first,
                     struct oc_err *err)
{
    struct cc_capacity *caps = calloc(c->nnodes + 1, sizeof(*caps));
    struct cc_need need = { req->vcpus, req->mem_mb,
                            (uint64_t)req->disk_gb + req->ephemeral_gb +
                                (req->swap_mb + 1023) / 1024 };
    struct cc_network net;
    unsigned idx = 0;
    uint32_t next;
    size_t only = (size_t)-1;   /* clones: the source's node */
    int rc;

    if (!caps)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    if (!c->cfg.static_map && ((rc = group_network(c, req->group_id, &idx, err)) ||
                               (rc = cc_plan_network(&c->plan, idx, &net)) != OC_OK)) {
        free(caps);
        return rc ? rc : oc_err_set(err, OC_EINTERNAL, "bad network index");
    }
    next = c->cfg.static_map ? 0 : net.first;
    if (req->clone_of[0]) {
        /* Clones share their source's memory: they go on its node. */
        const struct inst *src = find_inst(c, req->clone_of);

        if (!src || strcmp(src->info.state, "running") != 0) {
            free(caps);
            return oc_err_set(err, src ? OC_ECONFLICT : OC_ENOTFOUND,
                              "instance %s is not running in this cluster", req->clone_of);
        }
        for (only = 0; only < c->nnodes; only++)
            if (strcmp(c->nodes[only].info.name, src->info.node) == 0)
                break;
        if (only == c->nnodes) {
            free(caps);
            return oc_err_set(err, OC_ENOTFOUND, "the node of %s is gone", req->clone_of);
        }
    }
    for (size_t k = 0; k < req->n; k++) {
        struct inst *i = &c->insts[first + k];
        int pick;

        for (size_t j = 0; j < c->nnodes; j++)
            capacity(c, j, &caps[j]);
        if (only < c->nnodes) {
            pick = cc_fits(&caps[only], &need) ? (int)only : -1;
        } else {
            pick = cc_sched_pick(c->cfg.policy, caps, c->nnodes, &need, &c->rr_cursor);
        }
        if (pick < 0) {
            free(caps);
            return oc_err_set(err, OC_ETOOBIG, "the cluster cannot fit %zu instance(s) of "
                                               "%u cores, %u MiB", req->n, req->vcpus,
                              req->mem_mb);
        }
        if (c->cfg.static_map) {
            /* STATIC: the first pair of VNET_MACMAP nobody holds. */
            while (next < c->cfg.static_n && ip_taken(c, c->cfg.static_map[next].ip))
                next++;
            if (next == c->cfg.static_n) {
                free(caps);
                return oc_err_set(err, OC_ETOOBIG, "VNET_MACMAP has no address left");
            }
            i->ip = c->cfg.static_map[next].ip;
            snprintf(i->info.mac, sizeof(i->info.mac), "%s", c->cfg.static_map[next].mac);
            next++;
        } else {
            while (next <= net.last && ip_taken(c, next))
                next++;
            if (next > net.last) {
                free(caps);
                return oc_err_set(err, OC_ETOOBIG, "the network of %s has no address left",
                                  req->group_id);
            }
            i->ip = next++;
            cc_mac_of_ip(i->ip, i->info.mac);
        }
        snprintf(i->info.node, sizeof(i->info.node), "%s", c->nodes[pick].info.name);
        cc_ip_str(i->ip, i->info.private_ip);
        snprintf(i->info.state, sizeof(i->info.state), "pending");   /* now it counts */
    }
    free(caps);
    return OC_OK;
}

int cc_run(struct cc_cluster *c, const struct cc_run_request *req, struct cc_instance_info *out,
           struct oc_err *err)
{
    size_t first;
    int rc = OC_OK;

    if (!req->n)
        return oc_err_set(err, OC_EINVAL, "no instances");
    pthread_mutex_lock(&c->mu);
    purge(c);
    for (size_t k = 0; k < req->n; k++)
        if (find_inst(c, req->ids[k])) {
            pthread_mutex_unlock(&c->mu);
            return oc_err_set(err, OC_EEXIST, "instance %s exists", req->ids[k]);
        }
    first = c->ninsts;
    for (size_t k = 0; k < req->n && !rc; k++) {
        struct inst *i = add_inst(c);

        if (!i) {
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
            break;
        }
        snprintf(i->info.id, sizeof(i->info.id), "%s", req->ids[k]);
        snprintf(i->info.reservation_id, sizeof(i->info.reservation_id), "%s",
                 req->reservation_id);
        snprintf(i->info.owner_id, sizeof(i->info.owner_id), "%s", req->owner_id);
        snprintf(i->info.group_id, sizeof(i->info.group_id), "%s", req->group_id);
        for (size_t g = 0; g < req->ngroups && g < CC_MAX_GROUPS; g++)
            snprintf(i->info.groups[g], CC_NAME_MAX, "%s", req->groups[g]);
        i->info.ngroups = req->ngroups > CC_MAX_GROUPS ? CC_MAX_GROUPS : (unsigned)req->ngroups;
        if (!i->info.ngroups || strcmp(i->info.groups[0], req->group_id) != 0) {
            snprintf(i->info.groups[0], CC_NAME_MAX, "%s", req->group_id);
            i->info.ngroups = 1;
        }
        snprintf(i->info.instance_type, sizeof(i->info.instance_type), "%s",
                 req->instance_type);
        snprintf(i->info.image_id, sizeof(i->info.image_id), "%s", req->image.id);
        /* Not counted until placed: a half-placed request must not hold capacity. */
        snprintf(i->info.state, sizeof(i->info.state), "terminated");
        i->info.launch_index = req->launch_index + (unsigned)k;
        i->info.launch_time = i->info.state_time = now_s();
        i->vcpus = req->vcpus;
        i->mem_mb = req->mem_mb;
        i->disk_gb = req->disk_gb;
        i->ephemeral_gb = req->ephemeral_gb;
        i->swap_mb = req->swap_mb;
    }
    if (!rc && (rc = oc_db_begin(c->db, err)) == OC_OK) {
        rc = place_all(c, req, first, err);
        for (size_t k = 0; k < req->n && !rc; k++)
            rc = save_inst(c, &c->insts[first + k], err);
        if (rc)
            oc_db_rollback(c->db);
        else
            rc = oc_db_commit(c->db, err);
    }
    if (rc) {
        c->ninsts = first;   /* all or nothing */
        pthread_mutex_unlock(&c->mu);
        return rc;
    }
    for (size_t k = 0; k < req->n; k++)
        out[k] = c->insts[first + k].info;
    refresh_free(c);
    pthread_mutex_unlock(&c->mu);

    /* Each node is asked in turn; it answers "pending" at once. */
    for (size_t k = 0; k < req->n; k++) {
        struct cc_instance_info *o = &out[k];
        struct oc_err nerr = { 0 };
        struct oc_icall r;
        char vc[16], mem[16], disk[16], eph[16], swap[16], li[16];
        struct oc_kv p[24];
        size_t np = 0;
        char host[256];
        unsigned port = 0;
        struct node *nd;

        pthread_mutex_lock(&c->mu);
        nd = find_node(c, o->node);
        snprintf(host, sizeof(host), "%s", nd ? nd->info.host : "");
        port = nd ? nd->info.port : 0;
        pthread_mutex_unlock(&c->mu);
        snprintf(vc, sizeof(vc), "%u", req->vcpus);
        snprintf(mem, sizeof(mem), "%u", req->mem_mb);
        snprintf(disk, sizeof(disk), "%u", req->disk_gb);
        snprintf(eph, sizeof(eph), "%u", req->ephemeral_gb);
        snprintf(swap, sizeof(swap), "%u", req->swap_mb);
        snprintf(li, sizeof(li), "%u", o->launch_index);
#define P(n, v) (p[np].name = (n), p[np].value = (v), p[np].has_value = 1, np++)
        P("InstanceId", o->id);
        P("ReservationId", req->reservation_id);
        P("OwnerId", req->owner_id);
        P("LaunchIndex", li);
        P("InstanceType", req->instance_type);
        P("VCpus", vc);
        P("MemoryMiB", mem);
        P("DiskGiB", disk);
        P("EphemeralGiB", eph);
        P("SwapMiB", swap);
        P("ImageId", req->image.id);
        P("ImageLocation", req->image.location);
        P("ImageDigest", req->image.digest);
        if (req->kernel.id[0]) {
            P("KernelId", req->kernel.id);
            P("KernelLocation", req->kernel.location);
            P("KernelDigest", req->kernel.digest);
        }
        if (req->ramdisk.id[0]) {
            P("RamdiskId", req->ramdisk.id);
            P("RamdiskLocation", req->ramdisk.location);
            P("RamdiskDigest", req->ramdisk.digest);
        }
        if (req->mc_ready[0])
            P("MacroComponentReady", req->mc_ready);
        if (req->clone_of[0])
            P("CloneOf", req->clone_of);
        P("MacAddress", o->mac);
        P("Bridge", c->bridge);
#undef P
        rc = ncall(c, host, port, "ncRunInstance", p, np, &r, &nerr);
        if (rc == OC_OK && r.status != 200)
            rc = ncall_err(&r, o->node, "ncRunInstance", &nerr);
        oc_icall_free(&r);
        if (rc) {
            struct inst *i;
            char reason[256];

            snprintf(reason, sizeof(reason), "Server.InternalError: %.220s", nerr.msg);
            pthread_mutex_lock(&c->mu);
            i = find_inst(c, o->id);
            if (i)
                set_state(c, i, "terminated", reason);
            if (i)
                *o = i->info;
            refresh_free(c);
            pthread_mutex_unlock(&c->mu);
        }
    }
    return OC_OK;
}

static const char *const op_actions[] = {
    [CC_OP_TERMINATE] = "ncTerminateInstance", [CC_OP_STOP] = "ncStopInstance",
    [CC_OP_START] = "ncStartInstance",         [CC_OP_REBOOT] = "ncRebootInstance",
};

/* Where an instance runs; OC_ENOTFOUND when the CC does not know it. */
static int locate(struct cc_cluster *c, const char *id, char *node, char *host, unsigned *port,
                  char *state, struct oc_err *err)
{
    struct inst *i;
    struct node *nd;

    pthread_mutex_lock(&c->mu);
    i = find_inst(c, id);
    nd = i ? find_node(c, i->info.node) : NULL;
    if (i) {
        snprintf(node, CC_NAME_MAX, "%s", i->info.node);
        snprintf(state, 16, "%s", i->info.state);
    }
    if (nd) {
        snprintf(host, 256, "%s", nd->info.host);
        *port = nd->info.port;
    }
    pthread_mutex_unlock(&c->mu);
    if (!i)
        return oc_err_set(err, OC_ENOTFOUND, "the cluster has no instance %s", id);
    if (!nd)
        return oc_err_set(err, OC_EIO, "instance %s's node %s is not registered", id, node);
    return OC_OK;
}

int cc_instance_resize(struct cc_cluster *c, const char *id, const char *type,
                       unsigned vcpus, unsigned mem_mb, struct oc_err *err)
{
    struct inst *i;
    int rc = OC_OK;

    if (!*type || strlen(type) >= sizeof(i->info.instance_type) || vcpus < 1 || mem_mb < 1)
        return oc_err_set(err, OC_EINVAL, "an instance type needs a name, vCPUs and memory");
    pthread_mutex_lock(&c->mu);
    i = find_inst(c, id);
    if (!i || !live(i)) {
        rc = oc_err_set(err, OC_ENOTFOUND, "the cluster has no instance %s", id);
    } else if (strcmp(i->info.state, "stopped") != 0) {
        rc = oc_err_set(err, OC_ECONFLICT, "instance %s is %s, not stopped", id,
                        i->info.state);
    } else {
        snprintf(i->info.instance_type, sizeof(i->info.instance_type), "%s", type);
        i->vcpus = vcpus;
        i->mem_mb = mem_mb;
        rc = save_inst(c, i, err);
        if (rc == OC_OK)
            oc_log(OC_LOG_INFO, "%s: now %s (%u vCPUs, %u MiB)", id, type, vcpus, mem_mb);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* START: the node must have room for the instance as it is now (a stopped
 * instance gave its cores and memory back, and its type may have changed);
 * vcpus and mem receive its size for the node. */
static int start_fits(struct cc_cluster *c, const char *id, char vcpus[12], char mem[12],
                      struct oc_err *err)
{
    struct inst *i;
    int rc = OC_OK;

    pthread_mutex_lock(&c->mu);
    i = find_inst(c, id);
    if (i && strcmp(i->info.state, "stopped") == 0) {
        size_t k;
        struct cc_capacity cap = { 0 };

        for (k = 0; k < c->nnodes; k++)
            if (strcmp(c->nodes[k].info.name, i->info.node) == 0)
                break;
        if (k < c->nnodes)
            capacity(c, k, &cap);
        if (k == c->nnodes || cap.cores_free < i->vcpus || cap.mem_free_mb < i->mem_mb)
            rc = oc_err_set(err, OC_ETOOBIG, "node %s has no room to start %s (%u vCPUs, %u "
                            "MiB): %u vCPUs and %llu MiB are free", i->info.node, id,
                            i->vcpus, i->mem_mb, cap.cores_free,
                            (unsigned long long)cap.mem_free_mb);
    }
    if (i) {
        snprintf(vcpus, 12, "%u", i->vcpus);
        snprintf(mem, 12, "%u", i->mem_mb);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int cc_instance_op(struct cc_cluster *c, enum cc_op op, const char *id, char prev[16],
                   char cur[16], struct oc_err *err)
{
    char node[CC_NAME_MAX], host[256], state[16], vcpus[12] = "", mem[12] = "";
    struct oc_kv p[] = { { "InstanceId", id, 1 }, { "VCpus", vcpus, 1 },
                         { "MemoryMiB", mem, 1 } };
    unsigned port = 0;
    struct oc_icall r;
    int rc;

    if ((rc = locate(c, id, node, host, &port, state, err)))
        return rc;
    if (op == CC_OP_START && (rc = start_fits(c, id, vcpus, mem, err)))
        return rc;
    if (op == CC_OP_TERMINATE && strcmp(state, "terminated") == 0) {
        snprintf(prev, 16, "terminated");
        snprintf(cur, 16, "terminated");
        return OC_OK;
    }
    rc = ncall(c, host, port, op_actions[op], p, op == CC_OP_START ? 3 : 1, &r, err);
    if (rc == OC_OK && r.status != 200)
        rc = ncall_err(&r, node, op_actions[op], err);
    if (rc == OC_ENOTFOUND && op == CC_OP_TERMINATE) {
        /* The node has forgotten it (terminated long ago, or lost): it is gone. */
        struct inst *i;

        pthread_mutex_lock(&c->mu);
        i = find_inst(c, id);
        snprintf(prev, 16, "%s", i ? i->info.state : "terminated");
        if (i)
            set_state(c, i, "terminated", "Server.InternalError: the node has no such VM");
        refresh_free(c);
        pthread_mutex_unlock(&c->mu);
        snprintf(cur, 16, "terminated");
        oc_icall_free(&r);
        return OC_OK;
    }
    if (rc == OC_OK) {
        struct inst *i;

        oc_icall_text(oc_xml_child(r.root, "previousState"), "name", prev, 16);
        oc_icall_text(oc_xml_child(r.root, "currentState"), "name", cur, 16);
        if (op == CC_OP_REBOOT) {
            snprintf(prev, 16, "%s", state);
            snprintf(cur, 16, "%s", state);
        }
        pthread_mutex_lock(&c->mu);
        i = find_inst(c, id);
        if (i && cur[0] && strcmp(i->info.state, cur) != 0 && live(i))
            set_state(c, i, cur, "");
        /* Started again: its memory counts in full until the node reports it. */
        if (i && op == CC_OP_START)
            i->seen = 0;
        refresh_free(c);
        pthread_mutex_unlock(&c->mu);
    }
    oc_icall_free(&r);
    return rc;
}

int cc_drop_image(struct cc_cluster *c, const char *image_id, unsigned *told,
                  struct oc_err *err)
{
    struct oc_kv p[] = { { "ImageId", image_id, 1 } };
    struct cc_node_info *nodes = NULL;
    size_t n = 0;

    *told = 0;
    if (cc_nodes(c, &nodes, &n) != OC_OK)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        struct oc_icall r;
        struct oc_err nerr = { 0 };
        int rc = ncall(c, nodes[k].host, nodes[k].port, "ncDropImage", p, 1, &r, &nerr);

        if (rc == OC_OK && r.status != 200)
            rc = ncall_err(&r, nodes[k].name, "ncDropImage", &nerr);
        oc_icall_free(&r);
        if (rc)
            oc_log(OC_LOG_WARN, "image %s: node %s was not told it is gone: %s", image_id,
                   nodes[k].name, nerr.msg);
        else
            (*told)++;
    }
    free(nodes);
    return OC_OK;
}

int cc_console(struct cc_cluster *c, const char *id, struct oc_buf *b64, struct oc_err *err)
{
    char node[CC_NAME_MAX], host[256], state[16];
    struct oc_kv p[] = { { "InstanceId", id, 1 } };
    unsigned port = 0;
    struct oc_icall r;
    int rc;

    if ((rc = locate(c, id, node, host, &port, state, err)))
        return rc;
    rc = ncall(c, host, port, "ncGetConsoleOutput", p, 1, &r, err);
    if (rc == OC_OK && r.status != 200)
        rc = ncall_err(&r, node, "ncGetConsoleOutput", err);
    if (rc == OC_OK) {
        char *t = oc_xml_text(oc_xml_child(r.root, "output"));

        if (!t || oc_buf_puts(b64, t) != OC_OK)
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        xmlFree(t);
    }
    oc_icall_free(&r);
    return rc;
}

int cc_instances(struct cc_cluster *c, struct cc_instance_info **out, size_t *n)
{
    pthread_mutex_lock(&c->mu);
    purge(c);
    *out = calloc(c->ninsts + 1, sizeof(**out));
    if (!*out) {
        pthread_mutex_unlock(&c->mu);
        return OC_ENOMEM;
    }
    for (size_t k = 0; k < c->ninsts; k++) {
        struct node *nd = find_node(c, c->insts[k].info.node);

        (*out)[k] = c->insts[k].info;
        (*out)[k].node_up = nd && nd->info.up;
    }
    *n = c->ninsts;
    pthread_mutex_unlock(&c->mu);
    return OC_OK;
}

int cc_node_event(struct cc_cluster *c, const char *node, const char *id, const char *state,
                  const char *reason, int64_t when, uint64_t seq, struct oc_err *err)
{
    static const char *const states[] = { "pending", "running", "shutting-down", "terminated",
                                          "stopping", "stopped", "crashed" };
    struct inst *i;
    int known = 0;

    for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
        known |= strcmp(states[k], state) == 0;
    if (!known)
        return oc_err_set(err, OC_EINVAL, "state %.20s is unknown", state);
    pthread_mutex_lock(&c->mu);
    i = find_inst(c, id);
    if (!i || strcmp(i->info.node, node) != 0) {
        pthread_mutex_unlock(&c->mu);
        return oc_err_set(err, OC_ENOTFOUND, "node %s has no instance %s here", node, id);
    }
    oc_log(OC_LOG_DEBUG, "event %" PRIu64 " from %s: %s %s at %" PRId64, seq, node, id, state,
           when);
    if (live(i) && strcmp(i->info.state, state) != 0)
        set_state(c, i, state, reason);
    refresh_free(c);
    pthread_mutex_unlock(&c->mu);
    return OC_OK;
}

/* ------------------------------------------------------------------ */

int cc_cluster_open(const struct cc_config *cfg, struct cc_cluster **out, struct oc_err *err)
{
    struct cc_cluster *c = calloc(1, sizeof(*c));
    char path[4200];
    int rc;

    if (!c)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->cfg = *cfg;
    c->cfg.static_map = NULL;     /* a copy of its own, below */
    c->rr_cursor = (size_t)-1;
    c->dir = strdup(cfg->dir);
    c->bridge = strdup(cfg->bridge ? cfg->bridge : "");
    c->ak = strdup(cfg->access_key_id ? cfg->access_key_id : "");
    c->sk = strdup(cfg->secret_key ? cfg->secret_key : "");
    c->region = strdup(cfg->region ? cfg->region : "us-east-1");
    if (!c->dir || !c->bridge || !c->ak || !c->sk || !c->region) {
        cc_cluster_close(c);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    c->cfg.dir = c->dir;
    c->cfg.bridge = c->bridge;
    if (cfg->static_map) {
        struct cc_static_addr *m = malloc((cfg->static_n + 1) * sizeof(*m));

        if (!m) {
            cc_cluster_close(c);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
        memcpy(m, cfg->static_map, cfg->static_n * sizeof(*m));
        c->cfg.static_map = m;
    }
    if ((rc = cc_plan_init(&c->plan, cfg->subnet, cfg->netmask, cfg->addrs_per_net, err)) ||
        (rc = oc_mkdirs(cfg->dir, 0700, err))) {
        cc_cluster_close(c);
        return rc;
    }
    snprintf(path, sizeof(path), "%s/cc.db", cfg->dir);
    if ((rc = oc_db_open(path, migrations, sizeof(migrations) / sizeof(migrations[0]), &c->db,
                         err)) ||
        (rc = load(c, err))) {
        cc_cluster_close(c);
        return rc;
    }
    if (cfg->poll_s) {
        /* Nodes remembered from cc.db are asked once before the cluster
         * answers anyone: a restarted CC places at once, as it did before
         * it stopped (placement needs every node's totals). */
        if (c->nnodes)
            cc_cluster_poll(c);
        if (pthread_create(&c->poller, NULL, poller_main, c) != 0) {
            cc_cluster_close(c);
            return oc_err_set(err, OC_EINTERNAL, "cannot start the poller");
        }
        c->polling = 1;
    }
    *out = c;
    return OC_OK;
}

void cc_cluster_close(struct cc_cluster *c)
{
    if (!c)
        return;
    if (c->polling) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->poller, NULL);
    }
    oc_db_close(c->db);
    free(c->nodes);
    free(c->insts);
    if (c->sk)
        memset(c->sk, 0, strlen(c->sk));
    free(c->dir);
    free(c->bridge);
    free((void *)c->cfg.static_map);
    free(c->ak);
    free(c->sk);
    free(c->region);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
