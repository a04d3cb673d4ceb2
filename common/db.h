/*
 * db.h - SQLite helpers: open in WAL mode with a busy timeout, numbered
 * migrations applied in one place, a prepared-statement cache keyed by SQL
 * text, and transactions.  One struct oc_db per thread or guarded by the
 * caller; the statement cache is not thread-safe.
 */
#ifndef OC_DB_H
#define OC_DB_H

#include <stdint.h>
#include <sqlite3.h>
#include "common/err.h"

struct oc_db;

struct oc_migration {
    int version;          /* 1, 2, 3, ... strictly increasing */
    const char *sql;      /* may hold several statements */
};

/* How long a statement waits for a lock another connection holds. */
#define OC_DB_BUSY_MS 10000

/* Opens (creating) path, sets WAL, synchronous=FULL, foreign_keys=ON,
 * busy_timeout, and applies migrations not yet applied, each in a
 * transaction, recording them in PRAGMA user_version. */
int oc_db_open(const char *path, const struct oc_migration *migs, size_t nmigs,
               struct oc_db **out, struct oc_err *err) OC_WUR;
void oc_db_close(struct oc_db *db);
sqlite3 *oc_db_handle(struct oc_db *db);
/* Cached prepared statement, reset and with bindings cleared.  sql must have
 * static storage (a literal): the cache matches on its address before its
 * text, so a freed and reused buffer would find the wrong statement. */
sqlite3_stmt *oc_db_prepare(struct oc_db *db, const char *sql, struct oc_err *err);
int oc_db_exec(struct oc_db *db, const char *sql, struct oc_err *err) OC_WUR;
/* Runs a statement (a literal, see oc_db_prepare) whose first row's first
 * column is an integer, e.g. "PRAGMA page_count"; OC_EDB when it has no row. */
int oc_db_int(struct oc_db *db, const char *sql, int64_t *out, struct oc_err *err) OC_WUR;
int oc_db_begin(struct oc_db *db, struct oc_err *err) OC_WUR;     /* BEGIN IMMEDIATE */
int oc_db_commit(struct oc_db *db, struct oc_err *err) OC_WUR;
void oc_db_rollback(struct oc_db *db);
/*
 * Runs a statement that returns no rows, binding ?1, ?2, ... from the
 * arguments as `types` says: 's' text (const char *, NULL binds NULL),
 * 'i' integer (long long), 'b' blob (const void *, size_t; NULL binds
 * NULL).  *changes (may be NULL) receives the rows changed.  A constraint
 * violation is OC_EEXIST.  sql must be
 * a literal (see oc_db_prepare).
 */
int oc_db_run(struct oc_db *db, const char *sql, int *changes, struct oc_err *err,
              const char *types, ...) OC_WUR;
/* Turns a SQLite result into OC_EDB with the message in err. */
int oc_db_fail(struct oc_db *db, struct oc_err *err, const char *what);

/*
 * A pool of connections to one database for servers whose requests run on
 * many threads: a request takes a connection, uses it alone and gives it
 * back (an open transaction is rolled back).  The pool grows to the number
 * of requests in flight.  oc_dbpool_new applies the migrations once.
 */
struct oc_dbpool;
int oc_dbpool_new(const char *path, const struct oc_migration *migs, size_t nmigs,
                  struct oc_dbpool **out, struct oc_err *err) OC_WUR;
void oc_dbpool_free(struct oc_dbpool *p);
struct oc_db *oc_dbpool_get(struct oc_dbpool *p, struct oc_err *err);
void oc_dbpool_put(struct oc_dbpool *p, struct oc_db *db);

#endif
