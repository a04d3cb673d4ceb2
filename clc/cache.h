/*
 * cache.h - what makes repeated Describe calls cheap without ever serving
 * stale data (clc/cache.c).
 *
 * struct clc_dbgen   the generation of clc.db: a number that changes after
 *                    every committed write to the file, by any connection
 *                    of any process (this daemon's handlers, `overcast-clc
 *                    bootstrap` or `register-cluster` run beside it, the
 *                    sqlite3 shell).  It watches with a connection of its
 *                    own that never writes: SQLite's PRAGMA data_version on
 *                    a connection changes whenever another connection has
 *                    committed, so no write path has to remember to bump
 *                    anything.
 *
 * struct clc_rcache  answers of read-only actions, keyed by the caller and
 *                    the request's parameters, each valid only for the
 *                    generation it was computed in.  LRU, bounded in
 *                    entries and bytes.  The requestId inside the stored
 *                    document is replaced by the new request's on the way
 *                    out.
 *
 * Correctness rests on one order: read the generation before the handler
 * reads anything, store the answer under that generation.  A write
 * committed before the read is in the handler's snapshot; a write committed
 * after it changes the generation, so the entry is never served again.
 *
 * The front door (clc/api.c) owns both; the identity store ties its cached
 * principals to the generation too (clc/identity.c).
 */
#ifndef CLC_CACHE_H
#define CLC_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct oc_query;
struct oc_principal;

/* ---- the generation of clc.db ---- */

struct clc_dbgen;

int clc_dbgen_open(const char *db_path, struct clc_dbgen **out, struct oc_err *err) OC_WUR;
void clc_dbgen_free(struct clc_dbgen *g);
/* The current generation (>= 1), checked against the file now; 0 when the
 * check failed (0 never matches anything cached). */
uint64_t clc_dbgen_now(struct clc_dbgen *g);
/* Whether the check reads the mapped WAL-index header (1) or runs
 * PRAGMA data_version (0, when the database is not in WAL mode). */
int clc_dbgen_mapped(const struct clc_dbgen *g);

/* ---- the answer cache ---- */

#define CLC_RCACHE_DEFAULT "32M,4096"

struct clc_rcache;

struct clc_rcache_stats {
    uint64_t hits, misses, stores;
    size_t entries, bytes;          /* now */
    size_t max_entries, max_bytes;  /* configured */
};

/*
 * Parses CLC_DESCRIBE_CACHE: "BYTES[,ENTRIES]", BYTES a decimal number
 * with an optional K, M or G suffix (powers of 1024), ENTRIES a decimal
 * number (default 4096).  "0" (or either bound 0) turns the cache off:
 * *max_bytes and *max_entries are then 0.
 */
int clc_rcache_conf(const char *text, size_t *max_bytes, size_t *max_entries,
                    struct oc_err *err) OC_WUR;
/* NULL *out (and OC_OK) when either bound is 0: the cache is off. */
int clc_rcache_new(size_t max_bytes, size_t max_entries, struct clc_rcache **out,
                   struct oc_err *err) OC_WUR;
/* After every lent document has been returned (the HTTP server stopped). */
void clc_rcache_free(struct clc_rcache *c);

/*
 * The cache key of a request: the API, the caller (account, user, admin
 * flag) and every parameter but the signature's own (X-Amz-*, Signature*,
 * AWSAccessKeyId, Timestamp, Expires), sorted by name (stable, so repeated
 * names keep their order), each length-prefixed so no two lists share a
 * key.  Appended to key.
 */
int clc_rcache_key(int api, const struct oc_principal *who, const struct oc_query *params,
                   struct oc_buf *key) OC_WUR;
/* A document lent by clc_rcache_get: send doc[0..len) as it is, then hand
 * entry to clc_rcache_return (it survives eviction until then). */
struct clc_rcache_lend {
    const char *doc;
    size_t len;
    void *entry;
};

/*
 * A hit of generation gen: the stored document with request_id in place of
 * the one it was made with.  With lend, and when no other request is
 * sending that entry's document, the id is written into the stored
 * document itself and the document is lent (*lend filled): returns 2.
 * Otherwise it is copied, appended to out: returns 1.  0 on a miss (an
 * entry of another generation is dropped).
 */
int clc_rcache_get(struct clc_rcache *c, const struct oc_buf *key, uint64_t gen,
                   const char *request_id, struct oc_buf *out, struct clc_rcache_lend *lend);
/* Gives back a lent document (a void * for use as a release callback). */
void clc_rcache_return(void *entry);
/* Stores a success document made under generation gen for request_id (which
 * it must contain as <requestId>…</requestId>); documents too big for the
 * cache, or without that element, are not stored. */
void clc_rcache_put(struct clc_rcache *c, const struct oc_buf *key, uint64_t gen,
                    const char *request_id, const char *doc, size_t len);
void clc_rcache_stats(struct clc_rcache *c, struct clc_rcache_stats *out);

#endif
