/*
 * clusters.c - the registry of cluster controllers (see clusters.h).
 */
#include "clc/clusters.h"

#include <string.h>
#include <time.h>

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
