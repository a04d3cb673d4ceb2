/*
 * store_multipart.c - multipart uploads: the uploads and parts tables, part
 * commits (through the committer, see store_commit.c), listing, abort, and
 * completion.
 *
 * Completion validates the client's part list against a snapshot, copies
 * the listed part files into a new data file (copy_file_range, falling back
 * to read/write) without holding any lock, then hands the file to the
 * committer, which links it, makes it durable with the batch's syncfs, and
 * in one transaction checks that every listed part still has the file that
 * was copied, writes the object row and removes the upload.  If a part was
 * replaced meanwhile the whole completion starts over.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "walrus/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/log.h"
#include "walrus/store_priv.h"

#define COMPLETE_ATTEMPTS 5
#define COPY_BUF (128 * 1024)

/* ---- create, get, abort ---- */

int wal_upload_create(struct wal_store *s, const struct wal_meta *meta,
                      char upload_id[WAL_ID_LEN + 1], struct oc_err *err)
{
    const char *hdrs[WAL_NHDR] = {
        meta->content_type, meta->content_encoding, meta->content_disposition,
        meta->content_language, meta->cache_control, meta->expires, meta->user_meta,
    };
    char owner[OC_ACCOUNT_ID_LEN + 1], acl[32];
    sqlite3_stmt *st;
    int rc, src;

    if (!meta->bucket || !meta->key || !*meta->bucket || !*meta->key)
        return oc_err_set(err, OC_EINVAL, "bucket and key are required");
    rc = wal_copy_field(owner, sizeof(owner), meta->owner, "owner", err);
    if (rc == OC_OK)
        rc = wal_copy_field(acl, sizeof(acl), meta->acl[0] ? meta->acl : "private", "acl", err);
    if (rc)
        return rc;
    oc_random_hex(upload_id, WAL_ID_LEN / 2);

    pthread_mutex_lock(&s->wlock);
    st = oc_db_prepare(s->wdb, "SELECT 1 FROM buckets WHERE name = ?1", err);
    if (!st) {
        rc = OC_EDB;
        goto unlock;
    }
    sqlite3_bind_text(st, 1, meta->bucket, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "no bucket %s", meta->bucket);
        goto unlock;
    } else if (src != SQLITE_ROW) {
        rc = oc_db_fail(s->wdb, err, "create upload");
        goto unlock;
    }
    st = oc_db_prepare(s->wdb, "INSERT INTO uploads (id, bucket, key, initiated_ms, owner, acl,"
                               " " WAL_HDR_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
                               " ?10, ?11, ?12, ?13)", err);
    if (!st) {
        rc = OC_EDB;
        goto unlock;
    }
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, meta->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, meta->key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, wal_now_ms());
    sqlite3_bind_text(st, 5, owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, acl, -1, SQLITE_STATIC);
    for (int i = 0; i < WAL_NHDR; i++) {
        if (hdrs[i])
            sqlite3_bind_text(st, 7 + i, hdrs[i], -1, SQLITE_STATIC);
    }
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        rc = oc_db_fail(s->wdb, err, "create upload");
unlock:
    pthread_mutex_unlock(&s->wlock);
    return rc;
}

/* Loads the upload row into out (strings in a) within db's current snapshot. */
static int upload_load(struct oc_db *db, struct oc_arena *a, const char *upload_id,
                       struct wal_meta *out, int64_t *initiated_ms, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT bucket, key, initiated_ms, owner, acl, "
                                         WAL_HDR_COLS " FROM uploads WHERE id = ?1", err);
    int rc = OC_OK, src;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char **hdrs[WAL_NHDR] = {
            &out->content_type, &out->content_encoding, &out->content_disposition,
            &out->content_language, &out->cache_control, &out->expires, &out->user_meta,
        };

        memset(out, 0, sizeof(*out));
        out->bucket = wal_col_dup(a, st, 0);
        out->key = wal_col_dup(a, st, 1);
        if (initiated_ms)
            *initiated_ms = sqlite3_column_int64(st, 2);
        wal_col_copy(out->owner, sizeof(out->owner), st, 3);
        wal_col_copy(out->acl, sizeof(out->acl), st, 4);
        for (int i = 0; i < WAL_NHDR; i++)
            *hdrs[i] = wal_col_dup(a, st, 5 + i);
    } else if (src == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "no upload %s", upload_id);
    } else {
        rc = oc_db_fail(db, err, "load upload");
    }
    sqlite3_reset(st);
    return rc;
}

int wal_upload_get(struct wal_store *s, struct oc_arena *a, const char *upload_id,
                   struct wal_meta *out, int64_t *initiated_ms, struct oc_err *err)
{
    struct oc_db *db = wal_reader_get(s, err);
    int rc;

    if (!db)
        return OC_EDB;
    rc = upload_load(db, a, upload_id, out, initiated_ms, err);
    wal_reader_put(s, db);
    return rc;
}

int wal_upload_abort(struct wal_store *s, const char *upload_id, struct oc_err *err)
{
    char (*ids)[WAL_ID_LEN + 1] = NULL;
    size_t nids = 0, cap = 0;
    sqlite3_stmt *st;
    int rc, src;

    pthread_mutex_lock(&s->wlock);
    rc = oc_db_begin(s->wdb, err);
    if (rc)
        goto unlock;
    st = oc_db_prepare(s->wdb, "SELECT 1 FROM uploads WHERE id = ?1", err);
    if (!st) {
        rc = OC_EDB;
        goto rollback;
    }
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "no upload %s", upload_id);
        goto rollback;
    } else if (src != SQLITE_ROW) {
        rc = oc_db_fail(s->wdb, err, "abort upload");
        goto rollback;
    }
    st = oc_db_prepare(s->wdb, "SELECT id FROM parts WHERE upload = ?1", err);
    if (!st) {
        rc = OC_EDB;
        goto rollback;
    }
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        if (nids == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            char (*n)[WAL_ID_LEN + 1] = realloc(ids, ncap * sizeof(*n));

            if (!n) {
                sqlite3_reset(st);
                rc = oc_err_set(err, OC_ENOMEM, "out of memory");
                goto rollback;
            }
            ids = n;
            cap = ncap;
        }
        wal_col_copy(ids[nids++], WAL_ID_LEN + 1, st, 0);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE) {
        rc = oc_db_fail(s->wdb, err, "abort upload");
        goto rollback;
    }
    static const char *const dels[] = {
        "DELETE FROM parts WHERE upload = ?1",
        "DELETE FROM uploads WHERE id = ?1",
    };
    for (size_t i = 0; i < 2; i++) {
        st = oc_db_prepare(s->wdb, dels[i], err);
        if (!st) {
            rc = OC_EDB;
            goto rollback;
        }
        sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        sqlite3_reset(st);
        if (src != SQLITE_DONE) {
            rc = oc_db_fail(s->wdb, err, "abort upload");
            goto rollback;
        }
    }
    rc = oc_db_commit(s->wdb, err);
    if (rc)
        goto rollback;
    pthread_mutex_unlock(&s->wlock);
    for (size_t i = 0; i < nids; i++)
        wal_file_retire(s, ids[i]);
    free(ids);
    return OC_OK;

rollback:
    oc_db_rollback(s->wdb);
unlock:
    pthread_mutex_unlock(&s->wlock);
    free(ids);
    return rc;
}

/* ---- listing ---- */

int wal_part_list(struct wal_store *s, struct oc_arena *a, const char *upload_id,
                  int marker, unsigned max, struct wal_part **parts, size_t *n,
                  int *truncated, struct oc_err *err)
{
    struct oc_db *db = wal_reader_get(s, err);
    struct wal_meta um;
    sqlite3_stmt *st;
    size_t cap = max < 1000 ? max : 1000;
    int rc, src;

    *parts = NULL;
    *n = 0;
    *truncated = 0;
    if (!db)
        return OC_EDB;
    rc = oc_db_exec(db, "BEGIN", err);
    if (rc == OC_OK)
        rc = upload_load(db, a, upload_id, &um, NULL, err);
    if (rc)
        goto done;
    st = oc_db_prepare(db, "SELECT number, size, etag, mtime_ms FROM parts"
                           " WHERE upload = ?1 AND number > ?2 ORDER BY number", err);
    if (!st) {
        rc = OC_EDB;
        goto done;
    }
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, marker);
    *parts = oc_arena_calloc(a, cap ? cap : 1, sizeof(**parts));
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct wal_part *p;

        if (*n == max) {
            *truncated = 1;
            break;
        }
        if (*n == cap) {
            struct wal_part *np = oc_arena_calloc(a, 2 * cap, sizeof(*np));

            memcpy(np, *parts, cap * sizeof(*np));
            *parts = np;
            cap *= 2;
        }
        p = &(*parts)[(*n)++];
        p->number = sqlite3_column_int(st, 0);
        p->size = (uint64_t)sqlite3_column_int64(st, 1);
        wal_col_copy(p->etag, sizeof(p->etag), st, 2);
        p->mtime_ms = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = oc_db_fail(db, err, "list parts");
done:
    wal_reader_put(s, db);
    return rc;
}

int wal_upload_list(struct wal_store *s, struct oc_arena *a, const char *bucket,
                    const char *prefix, const char *key_marker, const char *upload_id_marker,
                    unsigned max, struct wal_upload_entry **out, size_t *n, int *truncated,
                    struct oc_err *err)
{
    struct oc_db *db = wal_reader_get(s, err);
    sqlite3_stmt *st;
    size_t plen, cap = max < 1000 ? max : 1000;
    int64_t mark_init = 0;
    int rc, src, by_id = 0;

    *out = NULL;
    *n = 0;
    *truncated = 0;
    if (!db)
        return OC_EDB;
    prefix = prefix ? prefix : "";
    plen = strlen(prefix);
    if (key_marker && !*key_marker)
        key_marker = NULL;
    rc = oc_db_exec(db, "BEGIN", err);
    if (rc)
        goto done;
    st = oc_db_prepare(db, "SELECT 1 FROM buckets WHERE name = ?1", err);
    if (!st) {
        rc = OC_EDB;
        goto done;
    }
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_ROW) {
        rc = src == SQLITE_DONE ? oc_err_set(err, OC_ENOTFOUND, "no bucket %s", bucket)
                                : oc_db_fail(db, err, "list uploads");
        goto done;
    }
    /* With both markers, resume inside key_marker's uploads after the marked one. */
    if (key_marker && upload_id_marker && *upload_id_marker) {
        st = oc_db_prepare(db, "SELECT initiated_ms FROM uploads WHERE id = ?1 AND"
                               " bucket = ?2 AND key = ?3", err);
        if (!st) {
            rc = OC_EDB;
            goto done;
        }
        sqlite3_bind_text(st, 1, upload_id_marker, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, bucket, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, key_marker, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            mark_init = sqlite3_column_int64(st, 0);
            by_id = 1;
        }
        sqlite3_reset(st);
    }
#define UPL_COLS "SELECT key, id, initiated_ms, owner FROM uploads WHERE bucket = ?1"
    if (key_marker && strcmp(key_marker, prefix) >= 0 && by_id) {
        st = oc_db_prepare(db, UPL_COLS " AND (key, initiated_ms, id) > (?2, ?3, ?4)"
                                        " ORDER BY key, initiated_ms, id", err);
        if (st) {
            sqlite3_bind_text(st, 2, key_marker, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, mark_init);
            sqlite3_bind_text(st, 4, upload_id_marker, -1, SQLITE_STATIC);
        }
    } else if (key_marker && strcmp(key_marker, prefix) >= 0) {
        st = oc_db_prepare(db, UPL_COLS " AND key > ?2 ORDER BY key, initiated_ms, id", err);
        if (st)
            sqlite3_bind_text(st, 2, key_marker, -1, SQLITE_STATIC);
    } else {
        st = oc_db_prepare(db, UPL_COLS " AND key >= ?2 ORDER BY key, initiated_ms, id", err);
        if (st)
            sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    }
#undef UPL_COLS
    if (!st) {
        rc = OC_EDB;
        goto done;
    }
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    *out = oc_arena_calloc(a, cap ? cap : 1, sizeof(**out));
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        size_t klen = (size_t)sqlite3_column_bytes(st, 0);
        struct wal_upload_entry *e;

        if (klen < plen || memcmp(k, prefix, plen) != 0)
            break;
        if (*n == max) {
            *truncated = 1;
            break;
        }
        if (*n == cap) {
            struct wal_upload_entry *ne = oc_arena_calloc(a, 2 * cap, sizeof(*ne));

            memcpy(ne, *out, cap * sizeof(*ne));
            *out = ne;
            cap *= 2;
        }
        e = &(*out)[(*n)++];
        e->key = oc_arena_strndup(a, k, klen);
        wal_col_copy(e->upload_id, sizeof(e->upload_id), st, 1);
        e->initiated_ms = sqlite3_column_int64(st, 2);
        wal_col_copy(e->owner, sizeof(e->owner), st, 3);
    }
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        rc = oc_db_fail(db, err, "list uploads");
done:
    wal_reader_put(s, db);
    return rc;
}

/* ---- completion ---- */

struct cpart {
    int number;
    char id[WAL_ID_LEN + 1];
    uint64_t size;
    char etag[WAL_ETAG_LEN];
};

static int etag_equal(const char *a, const char *b)
{
    size_t alen, blen;
    const char *x = wal_etag_bare(a, &alen), *y = wal_etag_bare(b, &blen);

    return alen == blen && strncasecmp(x, y, alen) == 0;
}

/* Loads every part of the upload, ascending by number. */
static int parts_load(struct oc_db *db, struct oc_arena *a, const char *upload_id,
                      struct cpart **out, size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT number, id, size, etag FROM parts"
                                         " WHERE upload = ?1 ORDER BY number", err);
    size_t cap = 16;
    int src;

    *n = 0;
    if (!st)
        return OC_EDB;
    *out = oc_arena_calloc(a, cap, sizeof(**out));
    sqlite3_bind_text(st, 1, upload_id, -1, SQLITE_STATIC);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct cpart *p;

        if (*n == cap) {
            struct cpart *np = oc_arena_calloc(a, 2 * cap, sizeof(*np));

            memcpy(np, *out, cap * sizeof(*np));
            *out = np;
            cap *= 2;
        }
        p = &(*out)[(*n)++];
        p->number = sqlite3_column_int(st, 0);
        wal_col_copy(p->id, sizeof(p->id), st, 1);
        p->size = (uint64_t)sqlite3_column_int64(st, 2);
        wal_col_copy(p->etag, sizeof(p->etag), st, 3);
    }
    sqlite3_reset(st);
    if (src != SQLITE_DONE)
        return oc_db_fail(db, err, "load parts");
    return OC_OK;
}

/*
 * Checks the client's list against the stored parts: ascending numbers
 * first, then that each part exists with the ETag given, then the minimum
 * size of every part but the last.  used[i] receives the stored part.
 */
static int complete_validate(const struct wal_part_ref *refs, size_t nrefs,
                             const struct cpart *parts, size_t nparts,
                             const struct cpart **used, struct wal_complete_fail *fail,
                             struct oc_err *err)
{
    size_t j = 0;

    for (size_t i = 1; i < nrefs; i++) {
        if (refs[i].number <= refs[i - 1].number) {
            fail->reason = WAL_COMPLETE_INVALID_PART_ORDER;
            fail->part_number = refs[i].number;
            return oc_err_set(err, OC_EINVAL, "part %d is out of order", refs[i].number);
        }
    }
    for (size_t i = 0; i < nrefs; i++) {
        while (j < nparts && parts[j].number < refs[i].number)
            j++;
        if (j == nparts || parts[j].number != refs[i].number || !refs[i].etag ||
            !etag_equal(refs[i].etag, parts[j].etag)) {
            fail->reason = WAL_COMPLETE_INVALID_PART;
            fail->part_number = refs[i].number;
            return oc_err_set(err, OC_EINVAL, "part %d is missing or its ETag differs",
                              refs[i].number);
        }
        used[i] = &parts[j];
    }
    for (size_t i = 0; i + 1 < nrefs; i++) {
        if (used[i]->size < WAL_MIN_PART_SIZE) {
            fail->reason = WAL_COMPLETE_TOO_SMALL;
            fail->part_number = used[i]->number;
            fail->part_size = used[i]->size;
            return oc_err_set(err, OC_EINVAL, "part %d is %llu bytes, below the minimum",
                              used[i]->number, (unsigned long long)used[i]->size);
        }
    }
    return OC_OK;
}

/* "md5-of-md5s-N": MD5 over the parts' binary MD5s, as S3 computes it. */
static int complete_etag(const struct cpart **used, size_t n, char out[WAL_ETAG_LEN],
                         struct oc_err *err)
{
    struct oc_digest *d = oc_digest_new(OC_DIGEST_MD5);
    uint8_t md5[16];
    char hex[33];

    if (!d)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *bare = wal_etag_bare(used[i]->etag, &len);

        if (oc_hex_decode(bare, len, md5, sizeof(md5)) != 16) {
            oc_digest_free(d);
            return oc_err_set(err, OC_EINTERNAL, "part %d has a malformed stored ETag",
                              used[i]->number);
        }
        oc_digest_update(d, md5, sizeof(md5));
    }
    oc_digest_final(d, md5);
    oc_digest_free(d);
    oc_hex_encode(md5, sizeof(md5), hex);
    snprintf(out, WAL_ETAG_LEN, "\"%.32s-%u\"", hex, (unsigned)n);
    return OC_OK;
}

/* Appends len bytes of in to out; in-kernel copy where the filesystem allows. */
static int copy_fd(int in, int out, uint64_t len, struct oc_err *err)
{
    off_t off = 0;
    char *buf = NULL;
    int rc = OC_OK;

    while (len) {
        size_t want = len > (1u << 30) ? (1u << 30) : (size_t)len;
        ssize_t n = copy_file_range(in, &off, out, NULL, want, 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
                      errno == EINVAL))
            break;
        if (n < 0)
            return oc_err_set(err, OC_EIO, "copy_file_range: %s", strerror(errno));
        if (n == 0)
            return oc_err_set(err, OC_EIO, "part file is shorter than its record");
        len -= (uint64_t)n;
    }
    if (!len)
        return OC_OK;
    buf = malloc(COPY_BUF);
    if (!buf)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    while (len && rc == OC_OK) {
        ssize_t n = pread(in, buf, len > COPY_BUF ? COPY_BUF : (size_t)len, off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = oc_err_set(err, OC_EIO, "read part: %s", strerror(errno));
        else if (n == 0)
            rc = oc_err_set(err, OC_EIO, "part file is shorter than its record");
        else
            rc = oc_write_all(out, buf, (size_t)n, err);
        if (rc == OC_OK) {
            off += n;
            len -= (uint64_t)n;
        }
    }
    free(buf);
    return rc;
}

/* One attempt; OC_EAGAIN when a part changed underneath and it is worth retrying. */
static int complete_once(struct wal_store *s, struct oc_arena *a, const char *upload_id,
                         const struct wal_part_ref *refs, size_t nrefs, struct wal_meta *meta,
                         struct wal_complete_fail *fail, struct oc_err *err)
{
    struct oc_db *db = wal_reader_get(s, err);
    struct cpart *parts = NULL;
    const struct cpart **used = oc_arena_calloc(a, nrefs, sizeof(*used));
    size_t nparts = 0;
    struct wal_put *p = NULL;
    struct wal_complete_job cj;
    struct wal_waiter w;
    uint64_t total = 0;
    int rc, *nums;
    char (*ids)[WAL_ID_LEN + 1];

    if (!db)
        return OC_EDB;
    rc = oc_db_exec(db, "BEGIN", err);
    if (rc == OC_OK)
        rc = upload_load(db, a, upload_id, meta, NULL, err);
    if (rc == OC_OK)
        rc = parts_load(db, a, upload_id, &parts, &nparts, err);
    wal_reader_put(s, db);
    if (rc == OC_OK)
        rc = complete_validate(refs, nrefs, parts, nparts, used, fail, err);
    if (rc == OC_OK)
        rc = complete_etag(used, nrefs, meta->etag, err);
    if (rc == OC_OK)
        rc = wal_put_open(s, &p, err);
    if (rc)
        return rc;

    for (size_t i = 0; i < nrefs && rc == OC_OK; i++) {
        char rel[WAL_REL_LEN];
        int in;

        wal_rel_path(used[i]->id, rel);
        in = openat(s->objfd, rel, O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            /* Replaced (and unlinked) since the snapshot: start over. */
            rc = errno == ENOENT ? OC_EAGAIN
                                 : oc_err_set(err, OC_EIO, "open objects/%s: %s", rel,
                                              strerror(errno));
            break;
        }
        rc = copy_fd(in, p->fd, used[i]->size, err);
        close(in);
        total += used[i]->size;
    }
    if (rc) {
        wal_put_abort(p);
        return rc;
    }

    nums = oc_arena_calloc(a, nrefs, sizeof(*nums));
    ids = oc_arena_calloc(a, nrefs, sizeof(*ids));
    for (size_t i = 0; i < nrefs; i++) {
        nums[i] = used[i]->number;
        memcpy(ids[i], used[i]->id, sizeof(ids[i]));
    }
    memcpy(meta->id, p->id, sizeof(meta->id));
    p->size = total;
    meta->size = total;
    meta->mtime_ms = wal_now_ms();
    cj.upload_id = upload_id;
    cj.numbers = nums;
    cj.ids = (const char (*)[WAL_ID_LEN + 1])ids;
    cj.n = nrefs;
    cj.meta = meta;
    wal_waiter_init(&w);
    wal_complete_commit_async(p, &cj, wal_waiter_cb, &w);
    return wal_waiter_wait(&w, err);
}

int wal_upload_complete(struct wal_store *s, struct oc_arena *a, const char *upload_id,
                        const struct wal_part_ref *refs, size_t nrefs, struct wal_meta *meta,
                        struct wal_complete_fail *fail, struct oc_err *err)
{
    memset(fail, 0, sizeof(*fail));
    fail->reason = WAL_COMPLETE_OK;
    if (nrefs == 0) {
        fail->reason = WAL_COMPLETE_NO_PARTS;
        return oc_err_set(err, OC_EINVAL, "the part list is empty");
    }
    for (int attempt = 0; attempt < COMPLETE_ATTEMPTS; attempt++) {
        int rc = complete_once(s, a, upload_id, refs, nrefs, meta, fail, err);

        if (rc != OC_EAGAIN)
            return rc;
        oc_info("walrus: parts of upload %s changed during completion, retrying", upload_id);
    }
    return oc_err_set(err, OC_ECONFLICT, "parts of upload %s kept changing", upload_id);
}
