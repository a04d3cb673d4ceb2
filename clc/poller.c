/*
 * poller.c - the CLC's reconciliation loop (see poller.h).
 */
#include "clc/poller.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clc/api.h"
#include "clc/instances.h"
#include "common/config.h"
#include "common/log.h"
#include "common/xml.h"

#define MAX_DIRTY 64

struct clc_poller {
    struct clc *clc;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop;
    unsigned interval, grace, keep;
    char dirty[MAX_DIRTY][65];
    size_t ndirty;
};

void clc_poller_net_dirty(struct clc *c, const char *cluster)
{
    struct clc_poller *p = clc_poller_of(c);

    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    for (size_t k = 0; k < p->ndirty; k++)
        if (strcmp(p->dirty[k], cluster) == 0)
            goto out;
    if (p->ndirty < MAX_DIRTY)
        snprintf(p->dirty[p->ndirty++], sizeof(p->dirty[0]), "%s", cluster);
out:
    pthread_mutex_unlock(&p->lock);
}

/* Whether cluster missed a rule change; clears the mark. */
static int take_dirty(struct clc_poller *p, const char *cluster)
{
    int found = 0;

    if (!p)
        return 0;
    pthread_mutex_lock(&p->lock);
    for (size_t k = 0; k < p->ndirty; k++)
        if (strcmp(p->dirty[k], cluster) == 0) {
            memmove(p->dirty[k], p->dirty[k + 1], (p->ndirty - k - 1) * sizeof(p->dirty[0]));
            p->ndirty--;
            found = 1;
            break;
        }
    pthread_mutex_unlock(&p->lock);
    return found;
}

/* What the cluster said about one instance. */
struct seen {
    char id[32], state[16], reason[256], node[64], ip[16], mac[18], up[8];
    long long launch;
    int known;                    /* clc.db has it */
};

/* What clc.db holds of a live instance of the cluster. */
struct mine {
    const char *id, *state, *node, *ip, *mac;
    int up;
    time_t launch;
};

static int load_mine(struct oc_db *db, struct oc_arena *a, const char *cluster,
                     struct mine **out, size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT id, state, launch_time, node, node_up,"
                                         " private_ip, mac FROM instances"
                                         " WHERE cluster = ? AND state <> 'terminated'", err);
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, cluster, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            struct mine *nm = oc_arena_calloc(a, cap ? 2 * cap : 16, sizeof(*nm));

            if (*n)
                memcpy(nm, *out, *n * sizeof(*nm));
            *out = nm;
            cap = cap ? 2 * cap : 16;
        }
        (*out)[*n].id = clc_col_text(a, st, 0);
        (*out)[*n].state = clc_col_text(a, st, 1);
        (*out)[*n].launch = (time_t)sqlite3_column_int64(st, 2);
        (*out)[*n].node = clc_col_text(a, st, 3);
        (*out)[*n].up = sqlite3_column_int(st, 4);
        (*out)[*n].ip = clc_col_text(a, st, 5);
        (*out)[(*n)++].mac = clc_col_text(a, st, 6);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, "instances of a cluster");
}

/* clc.db's state of id ("" when it has no such instance). */
static const char *db_state(struct oc_db *db, struct oc_arena *a, const char *id)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT state FROM instances WHERE id = ?", &err);
    const char *s = "";

    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        s = clc_col_text(a, st, 0);
    sqlite3_reset(st);
    return s;
}

static void terminate_on(struct clc *c, const struct clc_cluster *cl, struct oc_arena *a,
                         const char **ids, size_t n)
{
    struct oc_kv *p = oc_arena_calloc(a, n, sizeof(*p));
    struct oc_icall res;
    struct oc_err err = { 0 };

    if (n == 0)
        return;
    for (size_t k = 0; k < n; k++)
        p[k] = (struct oc_kv){ oc_arena_printf(a, "InstanceId.%zu", k + 1), ids[k], 1 };
    if (clc_cc_call(c, cl, "ccTerminateInstances", p, n, &res, NULL, &err) == OC_OK)
        oc_icall_free(&res);
    else
        oc_log(OC_LOG_WARN, "poller: terminating on %s: %s", cl->name, err.msg);
}

static void reconcile(struct clc *c, struct clc_poller *pl, struct oc_db *db,
                      struct oc_arena *a, const struct clc_cluster *cl, unsigned grace)
{
    struct oc_icall res;
    struct oc_err err = { 0 };
    struct seen *seen = NULL;
    struct mine *mine = NULL;
    size_t nseen = 0, nmine = 0, nkill = 0;
    const char **kill;
    xmlNodePtr set, it;
    time_t now = time(NULL);

    if (clc_cc_call(c, cl, "ccDescribeInstances", NULL, 0, &res, NULL, &err)) {
        oc_log(OC_LOG_DEBUG, "poller: %s", err.msg);
        return;
    }
    set = oc_xml_child(res.root, "instancesSet");
    for (it = set ? oc_xml_child(set, "item") : NULL; it; it = oc_xml_next(it, "item"))
        nseen++;
    seen = oc_arena_calloc(a, nseen + 1, sizeof(*seen));
    nseen = 0;
    for (it = set ? oc_xml_child(set, "item") : NULL; it; it = oc_xml_next(it, "item")) {
        struct seen *s = &seen[nseen++];

        oc_icall_text(it, "instanceId", s->id, sizeof(s->id));
        oc_icall_text(it, "state", s->state, sizeof(s->state));
        oc_icall_text(it, "stateReason", s->reason, sizeof(s->reason));
        oc_icall_text(it, "node", s->node, sizeof(s->node));
        oc_icall_text(it, "privateIpAddress", s->ip, sizeof(s->ip));
        oc_icall_text(it, "macAddress", s->mac, sizeof(s->mac));
        oc_icall_text(it, "nodeState", s->up, sizeof(s->up));
        s->launch = (long long)oc_icall_num(it, "launchTime");
    }
    oc_icall_free(&res);
    if (load_mine(db, a, cl->name, &mine, &nmine, &err)) {
        oc_log(OC_LOG_WARN, "poller: %s", err.msg);
        return;
    }
    kill = oc_arena_calloc(a, nseen + nmine + 1, sizeof(*kill));
    for (size_t k = 0; k < nmine; k++) {
        struct seen *s = NULL;
        struct clc_instance_news nw = { mine[k].id, cl->name, NULL, NULL, now, NULL, NULL,
                                        NULL, -1 };

        for (size_t j = 0; j < nseen && !s; j++)
            if (strcmp(seen[j].id, mine[k].id) == 0)
                s = &seen[j];
        if (s) {
            s->known = 1;
            if (strcmp(mine[k].state, "shutting-down") == 0 &&
                strcmp(s->state, "shutting-down") != 0 && strcmp(s->state, "terminated") != 0) {
                kill[nkill++] = mine[k].id;   /* wanted gone, still there */
                continue;
            }
            /* Nothing new: nothing written (a write would also end
             * every cached Describe answer). */
            if (strcmp(s->state, mine[k].state) == 0 && strcmp(s->node, mine[k].node) == 0 &&
                strcmp(s->ip, mine[k].ip) == 0 && strcmp(s->mac, mine[k].mac) == 0 &&
                (strcmp(s->up, "down") != 0) == mine[k].up)
                continue;
            nw.state = s->state;
            nw.reason = s->reason;
            if (strcmp(s->state, mine[k].state) == 0)
                nw.at = 0;            /* the state is not news: keep its time */
            nw.node = s->node;
            nw.private_ip = s->ip;
            nw.mac = s->mac;
            nw.node_up = strcmp(s->up, "down") != 0;
        } else if (now - mine[k].launch > (time_t)grace) {
            nw.state = "terminated";
            nw.reason = strcmp(mine[k].state, "shutting-down") == 0
                            ? "Client.UserInitiatedShutdown: User initiated shutdown"
                            : "Server.InternalError: the cluster has no record of the instance";
            if (strcmp(mine[k].state, "shutting-down") != 0)
                oc_log(OC_LOG_WARN, "poller: %s: %s is not on its cluster: terminated",
                       cl->name, mine[k].id);
        } else {
            continue;
        }
        if (clc_instance_record(db, &nw, &err))
            oc_log(OC_LOG_WARN, "poller: %s: %s", mine[k].id, err.msg);
    }
    /* Instances the cluster runs that clc.db does not want. */
    for (size_t j = 0; j < nseen; j++) {
        const char *st;

        if (seen[j].known || strcmp(seen[j].state, "terminated") == 0 ||
            strcmp(seen[j].state, "shutting-down") == 0 || now - seen[j].launch <= (time_t)grace)
            continue;
        st = db_state(db, a, seen[j].id);
        if (st && (!*st || strcmp(st, "terminated") == 0)) {
            oc_log(OC_LOG_WARN, "poller: %s runs %s, which the cloud does not hold: terminating",
                   cl->name, seen[j].id);
            kill[nkill++] = oc_arena_strdup(a, seen[j].id);
        }
    }
    terminate_on(c, cl, a, kill, nkill);
    if (take_dirty(pl, cl->name) && clc_net_push_cluster(c, db, a, cl, &err)) {
        oc_log(OC_LOG_WARN, "poller: rules on %s: %s", cl->name, err.msg);
        clc_poller_net_dirty(c, cl->name);
    }
}

static void forget_old(struct oc_db *db, unsigned keep)
{
    struct oc_err err = { 0 };
    long long before = (long long)time(NULL) - keep;
    int rc = oc_db_begin(db, &err);

    if (rc == OC_OK)
        rc = oc_db_run(db, "DELETE FROM tags WHERE resource_id IN (SELECT id FROM instances"
                           " WHERE state = 'terminated' AND state_time < ?)",
                       NULL, &err, "i", before);
    if (rc == OC_OK)
        rc = oc_db_run(db, "DELETE FROM instances WHERE state = 'terminated'"
                           " AND state_time < ?", NULL, &err, "i", before);
    if (rc == OC_OK)
        rc = oc_db_run(db, "DELETE FROM reservations WHERE NOT EXISTS (SELECT 1 FROM"
                           " instances i WHERE i.reservation_id = reservations.id)",
                       NULL, &err, "");
    if (rc == OC_OK)
        rc = oc_db_commit(db, &err);
    if (rc) {
        oc_db_rollback(db);
        oc_log(OC_LOG_WARN, "poller: forgetting terminated instances: %s", err.msg);
    }
}

static void round_with(struct clc *c, struct clc_poller *p, unsigned grace, unsigned keep)
{
    struct oc_err err = { 0 };
    struct oc_db *db = oc_dbpool_get(clc_pool(c), &err);
    struct oc_arena *a = oc_arena_new();
    struct clc_cluster *cls = NULL;
    size_t n = 0;

    if (!db || !a) {
        oc_log(OC_LOG_WARN, "poller: %s", db ? "out of memory" : err.msg);
        goto out;
    }
    if (clc_clusters_list(db, a, &cls, &n, &err)) {
        oc_log(OC_LOG_WARN, "poller: %s", err.msg);
        goto out;
    }
    for (size_t k = 0; k < n; k++)
        reconcile(c, p, db, a, &cls[k], grace);
    forget_old(db, keep);
out:
    oc_arena_free(a);
    if (db)
        oc_dbpool_put(clc_pool(c), db);
}

void clc_poller_round(struct clc *c)
{
    struct clc_poller *p = clc_poller_of(c);

    round_with(c, p, p ? p->grace : 60, p ? p->keep : 3600);
}

static void *poller_main(void *arg)
{
    struct clc_poller *p = arg;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec until;

        pthread_mutex_unlock(&p->lock);
        round_with(p->clc, p, p->grace, p->keep);
        pthread_mutex_lock(&p->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += p->interval;
        while (!p->stop && pthread_cond_timedwait(&p->cond, &p->lock, &until) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static unsigned conf_uint(struct clc *c, const char *key, unsigned def, unsigned min)
{
    const char *v = oc_config_get(clc_config(c), key, NULL);
    char *end;
    unsigned long n;

    if (!v || !*v)
        return def;
    n = strtoul(v, &end, 10);
    return *end || n < min || n > 86400 * 30 ? def : (unsigned)n;
}

int clc_poller_start(struct clc *c, struct oc_err *err)
{
    struct clc_poller *p = calloc(1, sizeof(*p));

    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    p->clc = c;
    p->interval = conf_uint(c, "CLC_POLL_INTERVAL", 5, 1);
    p->grace = conf_uint(c, "CLC_LAUNCH_GRACE", 60, 1);
    p->keep = conf_uint(c, "CLC_TERMINATED_KEEP", 3600, 0);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    clc_set_poller(c, p);
    if (pthread_create(&p->thread, NULL, poller_main, p) != 0) {
        clc_set_poller(c, NULL);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
        return oc_err_set(err, OC_EIO, "cannot start the poller thread");
    }
    return OC_OK;
}

void clc_poller_stop(struct clc_poller *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    clc_set_poller(p->clc, NULL);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}
