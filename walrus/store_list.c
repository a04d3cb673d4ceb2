/*
 * store_list.c - ListObjects over the (bucket, key) primary key.
 *
 * The listing walks the key range in byte order from max(prefix, after).
 * When a key rolls up into a common prefix, the prefix is emitted once and
 * the cursor seeks straight to the first key past every key that starts
 * with it (the prefix with its last byte incremented), so a directory of a
 * million keys costs one index seek, not a million rows.  A prefix that is
 * not after the marker (the marker is that prefix, or a key inside it) is
 * skipped the same way.  The whole page is read in one read transaction.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "walrus/store.h"

#include <stdlib.h>
#include <string.h>

#include "walrus/store_priv.h"

#define LIST_COLS "SELECT key, size, etag, mtime_ms, owner FROM objects WHERE bucket = ?1"

/* memcmp order with the shorter string first on a tie, as SQLite's BINARY. */
static int bytecmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);

    if (c)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/*
 * The least string greater than every string starting with s[0..n): s with
 * trailing 0xff bytes dropped and the last remaining byte incremented.
 * NULL when s is all 0xff (nothing sorts after its range).
 */
static char *prefix_successor(struct oc_arena *a, const char *s, size_t n, size_t *outlen)
{
    char *r;

    while (n && (unsigned char)s[n - 1] == 0xff)
        n--;
    if (!n)
        return NULL;
    r = oc_arena_strndup(a, s, n);
    r[n - 1] = (char)((unsigned char)r[n - 1] + 1);
    *outlen = n;
    return r;
}

static struct wal_list_entry *list_push(struct oc_arena *a, struct wal_list_result *out,
                                        size_t *cap)
{
    if (out->n == *cap) {
        size_t ncap = *cap ? 2 * *cap : 64;
        struct wal_list_entry *n = oc_arena_calloc(a, ncap, sizeof(*n));

        if (out->n)
            memcpy(n, out->entries, out->n * sizeof(*n));
        out->entries = n;
        *cap = ncap;
    }
    return &out->entries[out->n++];
}

static sqlite3_stmt *list_seek(struct oc_db *db, const char *bucket, const char *from,
                               size_t fromlen, int inclusive, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, inclusive ? LIST_COLS " AND key >= ?2 ORDER BY key"
                                                   : LIST_COLS " AND key > ?2 ORDER BY key",
                                     err);

    if (!st)
        return NULL;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, from, (int)fromlen, SQLITE_STATIC);
    return st;
}

static int list_bucket_exists(struct oc_db *db, const char *bucket, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT 1 FROM buckets WHERE name = ?1", err);
    int src;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src == SQLITE_DONE)
        return oc_err_set(err, OC_ENOTFOUND, "no bucket %s", bucket);
    if (src != SQLITE_ROW)
        return oc_db_fail(db, err, "list");
    return OC_OK;
}

static int list_walk(struct oc_db *db, struct oc_arena *a, const struct wal_list_params *p,
                     struct wal_list_result *out, struct oc_err *err)
{
    const char *prefix = p->prefix ? p->prefix : "";
    const char *delim = p->delimiter && *p->delimiter ? p->delimiter : NULL;
    size_t plen = strlen(prefix), dlen = delim ? strlen(delim) : 0;
    size_t alen = p->after ? strlen(p->after) : 0, cap = 0;
    sqlite3_stmt *st;
    int src;

    if (p->after && bytecmp(p->after, alen, prefix, plen) >= 0)
        st = list_seek(db, p->bucket, p->after, alen, 0, err);
    else
        st = list_seek(db, p->bucket, prefix, plen, 1, err);
    if (!st)
        return OC_EDB;

    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        size_t klen = (size_t)sqlite3_column_bytes(st, 0);
        struct wal_list_entry *e;

        if (klen < plen || memcmp(k, prefix, plen) != 0)
            break;          /* past the prefix's range */
        if (delim && klen - plen >= dlen) {
            const char *d = memmem(k + plen, klen - plen, delim, dlen);

            if (d) {
                size_t cplen = (size_t)(d - k) + dlen, succlen = 0;
                char *cp = oc_arena_strndup(a, k, cplen), *succ;

                if (!p->after || bytecmp(cp, cplen, p->after, alen) > 0) {
                    if (out->n == p->max_keys) {
                        out->truncated = 1;
                        break;
                    }
                    e = list_push(a, out, &cap);
                    e->is_prefix = 1;
                    e->key = cp;
                }
                succ = prefix_successor(a, cp, cplen, &succlen);
                sqlite3_reset(st);
                if (!succ) {
                    src = SQLITE_DONE;
                    break;
                }
                st = list_seek(db, p->bucket, succ, succlen, 1, err);
                if (!st)
                    return OC_EDB;
                continue;
            }
        }
        if (out->n == p->max_keys) {
            out->truncated = 1;
            break;
        }
        e = list_push(a, out, &cap);
        e->key = oc_arena_strndup(a, k, klen);
        e->size = (uint64_t)sqlite3_column_int64(st, 1);
        wal_col_copy(e->etag, sizeof(e->etag), st, 2);
        e->mtime_ms = sqlite3_column_int64(st, 3);
        wal_col_copy(e->owner, sizeof(e->owner), st, 4);
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return oc_db_fail(db, err, "list objects");
    return OC_OK;
}

int wal_object_list(struct wal_store *s, struct oc_arena *a, const struct wal_list_params *p,
                    struct wal_list_result *out, struct oc_err *err)
{
    struct oc_db *db;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!p->bucket)
        return oc_err_set(err, OC_EINVAL, "bucket is required");
    db = wal_reader_get(s, err);
    if (!db)
        return OC_EDB;
    /* One snapshot for the bucket check and every seek of the page. */
    rc = oc_db_exec(db, "BEGIN", err);
    if (rc == OC_OK)
        rc = list_bucket_exists(db, p->bucket, err);
    if (rc == OC_OK)
        rc = list_walk(db, a, p, out, err);
    if (out->n)
        out->last = out->entries[out->n - 1].key;
    wal_reader_put(s, db);
    return rc;
}
