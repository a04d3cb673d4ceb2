/*
 * clusters.c - the registry of cluster controllers (see clusters.h).
 */
#include "clc/clusters.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clc/api.h"
#include "clc/clc.h"

/* Zone names as AWS and Eucalyptus use them: letters, digits, '-', '_'. */
static int zone_ok(const char *zone)
{
    size_t n = strlen(zone);

    if (n < 1 || n > 64)
        return 0;
    return strspn(zone, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

int clc_cluster_register(struct oc_db *db, const char *zone, const char *host, int port,
                         struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (!zone_ok(zone))
        return oc_err_set(err, OC_EINVAL, "zone name '%s' must be 1 to 64 letters, digits, "
                          "'-' or '_'", zone);
    if (!host || !*host || strlen(host) > 253)
        return oc_err_set(err, OC_EINVAL, "cluster host must be 1 to 253 characters");
    if (port < 1 || port > 65535)
        return oc_err_set(err, OC_EINVAL, "cluster port %d is not a port number", port);
    st = oc_db_prepare(db, "INSERT INTO clusters (name, zone, host, port, state, created)"
                           " VALUES (?1, ?1, ?2, ?3, 'available', ?4)"
                           " ON CONFLICT (name) DO UPDATE SET host = ?2, port = ?3", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, port);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, "register cluster");
}

int clc_cluster_deregister(struct oc_db *db, const char *zone, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "DELETE FROM clusters WHERE name = ?", err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, zone, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return oc_db_fail(db, err, "deregister cluster");
    if (sqlite3_changes(oc_db_handle(db)) == 0)
        return oc_err_set(err, OC_ENOTFOUND, "no cluster serves zone '%s'", zone);
    return OC_OK;
}

static void cluster_row(struct oc_arena *a, sqlite3_stmt *st, struct clc_cluster *c)
{
    c->name = oc_arena_strdup(a, (const char *)sqlite3_column_text(st, 0));
    c->endpoint = oc_arena_printf(a, "http://%s:%d", (const char *)sqlite3_column_text(st, 1),
                                  sqlite3_column_int(st, 2));
}

int clc_clusters_list(struct oc_db *db, struct oc_arena *a, struct clc_cluster **out,
                      size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT name, host, port FROM clusters ORDER BY name",
                                     err);
    size_t cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (!st)
        return OC_EDB;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            struct clc_cluster *nc = oc_arena_calloc(a, cap ? 2 * cap : 4, sizeof(*nc));

            if (!nc) {
                sqlite3_reset(st);
                return oc_err_set(err, OC_ENOMEM, "out of memory");
            }
            if (*n)
                memcpy(nc, *out, *n * sizeof(*nc));
            *out = nc;
            cap = cap ? 2 * cap : 4;
        }
        cluster_row(a, st, &(*out)[(*n)++]);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, "list clusters");
}

int clc_cluster_get(struct oc_db *db, struct oc_arena *a, const char *name,
                    struct clc_cluster *out, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT name, host, port FROM clusters WHERE name = ?",
                                     err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        cluster_row(a, st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return OC_OK;
    if (rc == SQLITE_DONE)
        return oc_err_set(err, OC_ENOTFOUND, "no cluster serves zone '%s'", name);
    return oc_db_fail(db, err, "find a cluster");
}

int clc_cc_call(struct clc *c, const struct clc_cluster *cl, const char *action,
                const struct oc_kv *p, size_t n, struct oc_icall *out, char *code,
                struct oc_err *err)
{
    struct oc_icall_target t = { cl->endpoint, NULL, NULL, NULL, "cc", CLC_CC_VERSION, 60000 };
    char who[96];
    int rc;

    if (code)
        code[0] = '\0';
    if ((rc = clc_component_key(c, &t.access_key_id, &t.secret, err)))
        return rc;
    t.region = oc_config_get(clc_config(c), "REGION", "us-east-1");
    if ((rc = oc_icall(&t, action, p, n, out, err))) {
        oc_err_set(err, OC_EIO, "cluster %s (%s): %s: %s", cl->name, cl->endpoint, action,
                   err->msg);
        return OC_EIO;
    }
    if (out->status >= 200 && out->status < 300)
        return OC_OK;
    snprintf(who, sizeof(who), "cluster %s", cl->name);
    rc = oc_icall_err(out, who, action, code, 64, err);
    oc_icall_free(out);
    return rc;
}
