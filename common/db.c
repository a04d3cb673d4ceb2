/*
 * db.c - SQLite with WAL, migrations and a statement cache.
 */
#include "common/db.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DB_CACHE_MAX 128

struct db_cached {
    const char *key;       /* the caller's pointer: SQL is nearly always a literal */
    char *sql;
    sqlite3_stmt *stmt;
};

struct oc_db {
    sqlite3 *h;
    struct db_cached cache[DB_CACHE_MAX];
    size_t ncache;
};

int oc_db_fail(struct oc_db *db, struct oc_err *err, const char *what)
{
    return oc_err_set(err, OC_EDB, "%s: %s", what, db ? sqlite3_errmsg(db->h) : "no database");
}

int oc_db_exec(struct oc_db *db, const char *sql, struct oc_err *err)
{
    char *msg = NULL;

    if (sqlite3_exec(db->h, sql, NULL, NULL, &msg) != SQLITE_OK) {
        oc_err_set(err, OC_EDB, "%s", msg ? msg : sqlite3_errmsg(db->h));
        sqlite3_free(msg);
        return OC_EDB;
    }
    return OC_OK;
}

static int db_migrate(struct oc_db *db, const struct oc_migration *migs, size_t n,
                      struct oc_err *err)
{
    int64_t v = 0;
    int cur, rc;

    rc = oc_db_int(db, "PRAGMA user_version", &v, err);
    if (rc)
        return rc;
    cur = (int)v;
    for (size_t i = 0; i < n; i++) {
        char pragma[64];

        if (migs[i].version <= cur)
            continue;
        rc = oc_db_begin(db, err);
        if (rc)
            return rc;
        rc = oc_db_exec(db, migs[i].sql, err);
        if (rc == OC_OK) {
            snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", migs[i].version);
            rc = oc_db_exec(db, pragma, err);
        }
        if (rc) {
            oc_db_rollback(db);
            return rc;
        }
        rc = oc_db_commit(db, err);
        if (rc)
            return rc;
        cur = migs[i].version;
    }
    return OC_OK;
}

int oc_db_open(const char *path, const struct oc_migration *migs, size_t nmigs,
               struct oc_db **out, struct oc_err *err)
{
    struct oc_db *db = calloc(1, sizeof(*db));
    int rc;

    if (!db)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    if (sqlite3_open_v2(path, &db->h,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        rc = oc_err_set(err, OC_EDB, "open %s: %s", path,
                        db->h ? sqlite3_errmsg(db->h) : "out of memory");
        oc_db_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db->h, OC_DB_BUSY_MS);
    sqlite3_extended_result_codes(db->h, 1);
    rc = oc_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                        " PRAGMA foreign_keys=ON;", err);
    if (rc == OC_OK && migs)
        rc = db_migrate(db, migs, nmigs, err);
    if (rc) {
        oc_db_close(db);
        return rc;
    }
    *out = db;
    return OC_OK;
}

void oc_db_close(struct oc_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->ncache; i++) {
        sqlite3_finalize(db->cache[i].stmt);
        free(db->cache[i].sql);
    }
    sqlite3_close(db->h);
    free(db);
}

sqlite3 *oc_db_handle(struct oc_db *db)
{
    return db->h;
}

sqlite3_stmt *oc_db_prepare(struct oc_db *db, const char *sql, struct oc_err *err)
{
    sqlite3_stmt *st;

    /* Pointer match first (string literals), text match as the fallback. */
    for (size_t i = 0; i < db->ncache; i++) {
        if (db->cache[i].key == sql) {
            st = db->cache[i].stmt;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    for (size_t i = 0; i < db->ncache; i++) {
        if (strcmp(db->cache[i].sql, sql) == 0) {
            st = db->cache[i].stmt;
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return st;
        }
    }
    if (sqlite3_prepare_v3(db->h, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        oc_db_fail(db, err, "prepare");
        return NULL;
    }
    if (db->ncache == DB_CACHE_MAX) {
        /* Evict the oldest entry that is not being stepped (a caller may be
         * iterating one statement while preparing another); caches this
         * large mean a caller builds SQL dynamically. */
        size_t v = 0;

        while (v < db->ncache && sqlite3_stmt_busy(db->cache[v].stmt))
            v++;
        if (v == db->ncache) {
            sqlite3_finalize(st);
            oc_err_set(err, OC_EINTERNAL, "too many statements in use at once");
            return NULL;
        }
        sqlite3_finalize(db->cache[v].stmt);
        free(db->cache[v].sql);
        memmove(&db->cache[v], &db->cache[v + 1], sizeof(db->cache[0]) * (db->ncache - v - 1));
        db->ncache--;
    }
    db->cache[db->ncache].sql = strdup(sql);
    if (!db->cache[db->ncache].sql) {
        sqlite3_finalize(st);
        oc_err_set(err, OC_ENOMEM, "out of memory");
        return NULL;
    }
    db->cache[db->ncache].stmt = st;
    db->cache[db->ncache].key = sql;
    db->ncache++;
    return st;
}

int oc_db_int(struct oc_db *db, const char *sql, int64_t *out, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, sql, err);
    int src;

    if (!st)
        return OC_EDB;
    src = sqlite3_step(st);
    if (src == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return src == SQLITE_ROW ? OC_OK : oc_db_fail(db, err, sql);
}

int oc_db_begin(struct oc_db *db, struct oc_err *err)
{
    return oc_db_exec(db, "BEGIN IMMEDIATE", err);
}

int oc_db_commit(struct oc_db *db, struct oc_err *err)
{
    return oc_db_exec(db, "COMMIT", err);
}

void oc_db_rollback(struct oc_db *db)
{
    sqlite3_exec(db->h, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- connection pool ---- */

struct oc_dbpool {
    char *path;
    pthread_mutex_t lock;
    struct oc_db **idle;
    size_t nidle, cap;
};

int oc_dbpool_new(const char *path, const struct oc_migration *migs, size_t nmigs,
                  struct oc_dbpool **out, struct oc_err *err)
{
    struct oc_dbpool *p = calloc(1, sizeof(*p));
    struct oc_db *first = NULL;
    int rc;

    if (!p || !(p->path = strdup(path))) {
        free(p);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    /* The first connection applies the migrations; later ones only open. */
    rc = oc_db_open(path, migs, nmigs, &first, err);
    if (rc) {
        oc_dbpool_free(p);
        return rc;
    }
    oc_dbpool_put(p, first);
    *out = p;
    return OC_OK;
}

void oc_dbpool_free(struct oc_dbpool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nidle; i++)
        oc_db_close(p->idle[i]);
    free(p->idle);
    free(p->path);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

struct oc_db *oc_dbpool_get(struct oc_dbpool *p, struct oc_err *err)
{
    struct oc_db *db = NULL;

    pthread_mutex_lock(&p->lock);
    if (p->nidle)
        db = p->idle[--p->nidle];
    pthread_mutex_unlock(&p->lock);
    if (db)
        return db;
    if (oc_db_open(p->path, NULL, 0, &db, err) != OC_OK)
        return NULL;
    return db;
}

void oc_dbpool_put(struct oc_dbpool *p, struct oc_db *db)
{
    if (!db)
        return;
    /* A transaction left open would hold the write lock or pin an old
     * snapshot of the WAL for the next user. */
    if (!sqlite3_get_autocommit(db->h))
        oc_db_rollback(db);
    pthread_mutex_lock(&p->lock);
    if (p->nidle == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 8;
        struct oc_db **n = realloc(p->idle, cap * sizeof(*n));

        if (!n) {
            pthread_mutex_unlock(&p->lock);
            oc_db_close(db);
            return;
        }
        p->idle = n;
        p->cap = cap;
    }
    p->idle[p->nidle++] = db;
    pthread_mutex_unlock(&p->lock);
}

int oc_db_run(struct oc_db *db, const char *sql, int *changes, struct oc_err *err,
              const char *types, ...)
{
    sqlite3_stmt *st = oc_db_prepare(db, sql, err);
    va_list ap;
    int rc;

    if (!st)
        return OC_EDB;
    if ((int)strlen(types) != sqlite3_bind_parameter_count(st))
        return oc_err_set(err, OC_EINTERNAL, "oc_db_run: %zu values for %d parameters: %s",
                          strlen(types), sqlite3_bind_parameter_count(st), sql);
    va_start(ap, types);
    for (int k = 0; types[k]; k++) {
        if (types[k] == 's') {
            const char *v = va_arg(ap, const char *);

            if (v)
                sqlite3_bind_text(st, k + 1, v, -1, SQLITE_TRANSIENT);
        } else if (types[k] == 'i') {
            sqlite3_bind_int64(st, k + 1, (sqlite3_int64)va_arg(ap, long long));
        } else {
            const void *v = va_arg(ap, const void *);
            size_t n = va_arg(ap, size_t);

            if (v)
                sqlite3_bind_blob(st, k + 1, v, (int)n, SQLITE_TRANSIENT);
        }
    }
    va_end(ap);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return oc_err_set(err, OC_EEXIST, "%s", sqlite3_errmsg(db->h));
    if (rc != SQLITE_DONE)
        return oc_db_fail(db, err, "write");
    if (changes)
        *changes = sqlite3_changes(db->h);
    return OC_OK;
}
