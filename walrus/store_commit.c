/*
 * store_commit.c - streaming PUT files and the group committer.
 *
 * A PUT writes into a file recycled from free/ (see wal_file_retire), or
 * else an unnamed O_TMPFILE in tmp/ (tmp/<id> where the filesystem lacks
 * O_TMPFILE), hashing as it goes.  Commits are queued; one
 * committer thread takes every queued commit at once and:
 *   1. links (or renames) each batch file to objects/xx/<id>;
 *   2. calls syncfs() once, which makes the data and the new names durable;
 *   3. runs one SQLite transaction applying every row of the batch, and
 *      brings the object cache (store_cache.c) up to date with it;
 *   4. recycles or unlinks files of replaced or deleted objects and parts;
 *   5. calls every callback.
 * One syncfs suffices for data and names together because nothing refers to
 * a file before its row commits, and recovery deletes files with no row.
 * Object deletes go through the same queue so that a client's PUT-then-
 * DELETE, or DELETE-then-PUT, is applied in order and in one transaction.
 *
 * A PutObject body stays in memory until it outgrows WAL_INLINE_MAX; one
 * that never does is committed inline: its bytes are a row of the blobs
 * table, written in step 3 with its object row, and it skips steps 1 and 2.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "walrus/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/fsutil.h"
#include "common/ids.h"
#include "common/log.h"
#include "walrus/store_priv.h"

#define PUT_FLUSH_CHUNK (8u * 1024 * 1024)

enum job_kind { JOB_PUT, JOB_PART, JOB_DELETE, JOB_COMPLETE };

struct wal_job {
    struct wal_job *next;
    enum job_kind kind;
    struct wal_put *p;             /* data file (consumed), NULL for deletes */
    int linked;                    /* p's file is now objects/xx/<id> */

    /* Object row (PUT, COMPLETE) or key (DELETE). */
    char *bucket, *key, *hdr[WAL_NHDR];
    char id[WAL_ID_LEN + 1];
    uint64_t size;
    char etag[WAL_ETAG_LEN];
    int64_t mtime_ms;
    char owner[OC_ACCOUNT_ID_LEN + 1];
    char acl[32];

    /* PART and COMPLETE */
    char upload_id[WAL_ID_LEN + 1];
    int part_number;
    int *cnums;                    /* COMPLETE: parts assembled, with their file ids */
    char (*cids)[WAL_ID_LEN + 1];
    size_t ncparts;

    wal_commit_cb cb;
    void *arg;
    int rc;
    struct oc_err err;
    int cache_open;                /* wal_ocache_write_begin called for bucket/key */

    int dropped_blob;              /* an inline blob was deleted: pages freed */

    /* Files to unlink once the batch has committed. */
    char (*gone)[WAL_ID_LEN + 1];
    size_t ngone, capgone;
};

/* ---- PUT files ---- */

/* Gives p its data file: one recycled from free/, else a new temporary one. */
static int put_create_file(struct wal_put *p, struct oc_err *err)
{
    struct wal_store *s = p->s;

    if (wal_pool_take(s, p->src, &p->fd) == 0)
        p->recycled = 1;
    else if (s->use_tmpfile)
        p->fd = openat(s->tmpfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    else
        p->fd = openat(s->tmpfd, p->id, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
    if (p->fd < 0)
        return oc_err_set(err, OC_EIO, "create tmp file: %s", strerror(errno));
    return OC_OK;
}

static struct wal_put *put_alloc(struct wal_store *s)
{
    struct wal_put *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->s = s;
    p->fd = -1;
    oc_random_hex(p->id, WAL_ID_LEN / 2);
    return p;
}

int wal_put_open(struct wal_store *s, struct wal_put **out, struct oc_err *err)
{
    struct wal_put *p = put_alloc(s);
    int rc;

    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = put_create_file(p, err);
    if (rc) {
        free(p);
        return rc;
    }
    *out = p;
    return OC_OK;
}

/*
 * Moves the bytes held in memory into a data file (the body outgrew
 * WAL_INLINE_MAX, or it is a part, which is always a file).
 */
static int put_spill(struct wal_put *p, struct oc_err *err)
{
    int rc;

    if (!p->in_mem)
        return OC_OK;
    rc = put_create_file(p, err);
    if (rc == OC_OK)
        rc = oc_write_all(p->fd, p->mem, (size_t)p->size, err);
    if (rc) {
        p->failed = 1;
        return rc;
    }
    p->in_mem = 0;
    free(p->mem);
    p->mem = NULL;
    p->memcap = 0;
    return OC_OK;
}

/* Appends to the bytes in memory; 1 when they would outgrow s->inline_max. */
static int put_mem_append(struct wal_put *p, const void *data, size_t len)
{
    size_t need = (size_t)p->size + len;

    if (need > p->s->inline_max)
        return 1;
    if (need > p->memcap) {
        size_t cap = p->memcap ? p->memcap : 4096;
        unsigned char *m;

        while (cap < need)
            cap *= 2;
        if (cap > p->s->inline_max)
            cap = p->s->inline_max;
        m = realloc(p->mem, cap);
        if (!m)
            return 1;          /* the file takes it from here */
        p->mem = m;
        p->memcap = cap;
    }
    if (len)
        memcpy(p->mem + p->size, data, len);
    return 0;
}

int wal_put_begin(struct wal_store *s, struct wal_put **out, struct oc_err *err)
{
    struct wal_put *p = put_alloc(s);

    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    /* No file until the body outgrows s->inline_max (at once when it is 0:
     * even an empty object is then a file). */
    if (s->inline_max > 0) {
        p->in_mem = 1;
    } else {
        int rc = put_create_file(p, err);

        if (rc) {
            free(p);
            return rc;
        }
    }
    p->md5 = oc_digest_new(OC_DIGEST_MD5);
    p->sha256 = oc_digest_new(OC_DIGEST_SHA256);
    if (!p->md5 || !p->sha256) {
        wal_put_abort(p);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    *out = p;
    return OC_OK;
}

void wal_put_no_sha256(struct wal_put *p)
{
    oc_digest_free(p->sha256);
    p->sha256 = NULL;
    p->no_sha256 = 1;
}

int wal_put_write(struct wal_put *p, const void *data, size_t len, struct oc_err *err)
{
    int rc;

    if (p->failed)
        return oc_err_set(err, OC_EIO, "an earlier write to this object failed");
    if (p->finalized)
        return oc_err_set(err, OC_EINVAL, "write after the digests were taken");
    if (p->in_mem && put_mem_append(p, data, len) == 0) {
        rc = OC_OK;
    } else {
        rc = put_spill(p, err);
        if (rc == OC_OK)
            rc = oc_write_all(p->fd, data, len, err);
    }
    if (rc) {
        p->failed = 1;
        return rc;
    }
    if (p->md5)
        oc_digest_update(p->md5, data, len);
    if (p->sha256)
        oc_digest_update(p->sha256, data, len);
    p->size += len;
    /*
     * Start writeback of what is written so far so that the disk works while
     * we hash the rest and the commit's syncfs has little left to wait for.
     * A hint only: a failure here shows up again at syncfs, which is checked.
     */
    if (p->fd >= 0 && p->size - p->flushed >= PUT_FLUSH_CHUNK) {
        (void)sync_file_range(p->fd, (off64_t)p->flushed, (off64_t)(p->size - p->flushed),
                              SYNC_FILE_RANGE_WRITE);
        p->flushed = p->size;
    }
    return OC_OK;
}

uint64_t wal_put_size(const struct wal_put *p)
{
    return p->size;
}

void wal_put_finish(struct wal_put *p)
{
    if (p->finalized)
        return;
    p->finalized = 1;
    if (p->md5)
        oc_digest_final(p->md5, p->md5_out);
    if (p->sha256)
        oc_digest_final(p->sha256, p->sha256_out);
}

void wal_put_digests(struct wal_put *p, uint8_t md5[16], uint8_t sha256[32])
{
    wal_put_finish(p);
    if (md5)
        memcpy(md5, p->md5_out, sizeof(p->md5_out));
    if (sha256)
        memcpy(sha256, p->sha256_out, sizeof(p->sha256_out));
}

/* Frees p; unused says the file never reached objects/ and must be disposed of. */
static void put_free(struct wal_put *p, int unused)
{
    if (!p)
        return;
    if (p->fd >= 0)
        close(p->fd);
    if (p->in_mem)
        ;                      /* never had a file */
    else if (unused && p->recycled)
        wal_pool_return(p->s, p->src);
    else if (unused && !p->s->use_tmpfile && unlinkat(p->s->tmpfd, p->id, 0) != 0 &&
             errno != ENOENT)
        oc_warn("walrus: unlink tmp/%s: %s", p->id, strerror(errno));
    free(p->mem);
    oc_digest_free(p->md5);
    oc_digest_free(p->sha256);
    free(p);
}

void wal_put_abort(struct wal_put *p)
{
    put_free(p, 1);
}

/* ---- jobs and the queue ---- */

static void job_free(struct wal_job *j)
{
    if (!j)
        return;
    free(j->bucket);
    free(j->key);
    for (int i = 0; i < WAL_NHDR; i++)
        free(j->hdr[i]);
    free(j->cnums);
    free(j->cids);
    free(j->gone);
    free(j);
}

static int job_strdup(struct wal_job *j, char **dst, const char *src)
{
    if (!src)
        return OC_OK;
    *dst = strdup(src);
    if (!*dst)
        return oc_err_set(&j->err, OC_ENOMEM, "out of memory");
    return OC_OK;
}

static int job_gone(struct wal_job *j, const char *id)
{
    if (j->ngone == j->capgone) {
        size_t cap = j->capgone ? 2 * j->capgone : 4;
        char (*n)[WAL_ID_LEN + 1] = realloc(j->gone, cap * sizeof(*n));

        if (!n)
            return oc_err_set(&j->err, OC_ENOMEM, "out of memory");
        j->gone = n;
        j->capgone = cap;
    }
    snprintf(j->gone[j->ngone++], WAL_ID_LEN + 1, "%s", id);
    return OC_OK;
}

/*
 * Queues j.  Jobs that already failed are queued too, so that every
 * callback runs on the committer thread as the header promises.
 */
static void job_enqueue(struct wal_store *s, struct wal_job *j)
{
    pthread_mutex_lock(&s->qlock);
    *s->qtail = j;
    s->qtail = &j->next;
    pthread_cond_signal(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
}

static struct wal_job *job_new(enum job_kind kind, struct wal_put *p, wal_commit_cb cb,
                               void *arg)
{
    struct wal_job *j = calloc(1, sizeof(*j));

    if (!j) {
        /* Nothing to queue: report on the caller's thread. */
        struct oc_err e;

        put_free(p, 1);
        oc_err_set(&e, OC_ENOMEM, "out of memory");
        if (cb)
            cb(arg, OC_ENOMEM, &e);
        return NULL;
    }
    j->kind = kind;
    j->p = p;
    j->cb = cb;
    j->arg = arg;
    return j;
}

static void etag_from_md5(const uint8_t md5[16], char out[WAL_ETAG_LEN])
{
    char hex[33];

    oc_hex_encode(md5, 16, hex);
    snprintf(out, WAL_ETAG_LEN, "\"%s\"", hex);
}

/* Fills the object-row part of j from meta (strings copied). */
static int job_set_meta(struct wal_job *j, const struct wal_meta *meta)
{
    const char *hdrs[WAL_NHDR] = {
        meta->content_type, meta->content_encoding, meta->content_disposition,
        meta->content_language, meta->cache_control, meta->expires, meta->user_meta,
    };
    int rc;

    if (!meta->bucket || !meta->key || !*meta->bucket || !*meta->key)
        return oc_err_set(&j->err, OC_EINVAL, "bucket and key are required");
    rc = wal_copy_field(j->owner, sizeof(j->owner), meta->owner, "owner", &j->err);
    if (rc == OC_OK)
        rc = wal_copy_field(j->acl, sizeof(j->acl), meta->acl[0] ? meta->acl : "private",
                            "acl", &j->err);
    if (rc == OC_OK)
        rc = job_strdup(j, &j->bucket, meta->bucket);
    if (rc == OC_OK)
        rc = job_strdup(j, &j->key, meta->key);
    for (int i = 0; i < WAL_NHDR && rc == OC_OK; i++)
        rc = job_strdup(j, &j->hdr[i], hdrs[i]);
    return rc;
}

void wal_put_commit_async(struct wal_put *p, struct wal_meta *meta, wal_commit_cb cb, void *arg)
{
    struct wal_store *s = p->s;
    struct wal_job *j = job_new(JOB_PUT, p, cb, arg);

    if (!j)
        return;
    wal_put_finish(p);
    if (p->failed)
        j->rc = oc_err_set(&j->err, OC_EIO, "a write to this object failed");
    if (j->rc == OC_OK)
        j->rc = job_set_meta(j, meta);
    if (j->rc == OC_OK && meta->etag[0] &&
        strnlen(meta->etag, sizeof(meta->etag)) == sizeof(meta->etag))
        j->rc = oc_err_set(&j->err, OC_EINVAL, "etag is not terminated");
    if (j->rc == OC_OK) {
        if (p->in_mem)
            wal_inline_id(s, p->id);
        memcpy(meta->id, p->id, sizeof(meta->id));
        meta->size = p->size;
        if (!meta->etag[0])
            etag_from_md5(p->md5_out, meta->etag);
        meta->mtime_ms = wal_now_ms();
        memcpy(j->id, meta->id, sizeof(j->id));
        j->size = meta->size;
        memcpy(j->etag, meta->etag, sizeof(j->etag));
        j->mtime_ms = meta->mtime_ms;
    }
    job_enqueue(s, j);
}

void wal_part_commit_async(struct wal_put *p, const char *upload_id, int part_number,
                           char etag_out[WAL_ETAG_LEN], wal_commit_cb cb, void *arg)
{
    struct wal_store *s = p->s;
    struct wal_job *j = job_new(JOB_PART, p, cb, arg);

    if (!j)
        return;
    wal_put_finish(p);
    if (!p->failed && put_spill(p, &j->err) != OC_OK)
        j->rc = j->err.code;
    else if (p->failed)
        j->rc = oc_err_set(&j->err, OC_EIO, "a write to this part failed");
    else if (part_number < 1 || part_number > WAL_MAX_PARTS)
        j->rc = oc_err_set(&j->err, OC_EINVAL, "part number %d is out of range", part_number);
    else
        j->rc = wal_copy_field(j->upload_id, sizeof(j->upload_id), upload_id, "upload id",
                               &j->err);
    if (j->rc == OC_OK) {
        j->part_number = part_number;
        memcpy(j->id, p->id, sizeof(j->id));
        j->size = p->size;
        etag_from_md5(p->md5_out, j->etag);
        j->mtime_ms = wal_now_ms();
        memcpy(etag_out, j->etag, WAL_ETAG_LEN);
    }
    job_enqueue(s, j);
}

void wal_complete_commit_async(struct wal_put *p, const struct wal_complete_job *cj,
                               wal_commit_cb cb, void *arg)
{
    struct wal_store *s = p->s;
    struct wal_job *j = job_new(JOB_COMPLETE, p, cb, arg);

    if (!j)
        return;
    j->rc = job_set_meta(j, cj->meta);
    if (j->rc == OC_OK)
        j->rc = wal_copy_field(j->upload_id, sizeof(j->upload_id), cj->upload_id,
                               "upload id", &j->err);
    if (j->rc == OC_OK) {
        j->cnums = malloc(cj->n * sizeof(*j->cnums));
        j->cids = malloc(cj->n * sizeof(*j->cids));
        if (!j->cnums || !j->cids)
            j->rc = oc_err_set(&j->err, OC_ENOMEM, "out of memory");
    }
    if (j->rc == OC_OK) {
        memcpy(j->cnums, cj->numbers, cj->n * sizeof(*j->cnums));
        memcpy(j->cids, cj->ids, cj->n * sizeof(*j->cids));
        j->ncparts = cj->n;
        memcpy(j->id, p->id, sizeof(j->id));
        j->size = cj->meta->size;
        memcpy(j->etag, cj->meta->etag, sizeof(j->etag));
        j->mtime_ms = cj->meta->mtime_ms;
    }
    job_enqueue(s, j);
}

/* ---- sync wrappers ---- */

void wal_waiter_init(struct wal_waiter *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->m, NULL);
    pthread_cond_init(&w->c, NULL);
}

void wal_waiter_cb(void *arg, int rc, const struct oc_err *err)
{
    struct wal_waiter *w = arg;

    pthread_mutex_lock(&w->m);
    w->rc = rc;
    if (rc && err)
        w->err = *err;
    w->done = 1;
    pthread_cond_signal(&w->c);
    pthread_mutex_unlock(&w->m);
}

int wal_waiter_wait(struct wal_waiter *w, struct oc_err *err)
{
    int rc;

    pthread_mutex_lock(&w->m);
    while (!w->done)
        pthread_cond_wait(&w->c, &w->m);
    rc = w->rc;
    pthread_mutex_unlock(&w->m);
    pthread_mutex_destroy(&w->m);
    pthread_cond_destroy(&w->c);
    if (rc && err)
        *err = w->err;
    return rc;
}

int wal_put_commit(struct wal_put *p, struct wal_meta *meta, struct oc_err *err)
{
    struct wal_waiter w;

    wal_waiter_init(&w);
    wal_put_commit_async(p, meta, wal_waiter_cb, &w);
    return wal_waiter_wait(&w, err);
}

int wal_part_commit(struct wal_put *p, const char *upload_id, int part_number,
                    char etag_out[WAL_ETAG_LEN], struct oc_err *err)
{
    struct wal_waiter w;

    wal_waiter_init(&w);
    wal_part_commit_async(p, upload_id, part_number, etag_out, wal_waiter_cb, &w);
    return wal_waiter_wait(&w, err);
}

int wal_object_delete(struct wal_store *s, const char *bucket, const char *key,
                      struct oc_err *err)
{
    struct wal_waiter w;
    struct wal_job *j;

    wal_waiter_init(&w);
    j = job_new(JOB_DELETE, NULL, wal_waiter_cb, &w);
    if (!j)
        return wal_waiter_wait(&w, err);
    j->rc = job_strdup(j, &j->bucket, bucket);
    if (j->rc == OC_OK)
        j->rc = job_strdup(j, &j->key, key);
    job_enqueue(s, j);
    return wal_waiter_wait(&w, err);
}

/* ---- the committer ---- */

/* Moves j's file into objects/ and closes it. */
static void batch_link(struct wal_store *s, struct wal_job *j)
{
    char rel[WAL_REL_LEN];
    int rc;

    wal_rel_path(j->p->id, rel);
    if (j->p->recycled) {
        /* The old contents may run past the new end. */
        if (ftruncate(j->p->fd, (off_t)j->p->size) != 0) {
            j->rc = oc_err_set(&j->err, OC_EIO, "truncate free/%s: %s", j->p->src,
                               strerror(errno));
            return;
        }
        rc = renameat(s->freefd, j->p->src, s->objfd, rel);
    } else if (s->use_tmpfile) {
        char proc[64];

        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", j->p->fd);
        rc = linkat(AT_FDCWD, proc, s->objfd, rel, AT_SYMLINK_FOLLOW);
    } else {
        rc = renameat(s->tmpfd, j->p->id, s->objfd, rel);
    }
    if (rc != 0) {
        j->rc = oc_err_set(&j->err, OC_EIO, "link objects/%s: %s", rel, strerror(errno));
        return;
    }
    j->linked = 1;
    rc = close(j->p->fd);
    j->p->fd = -1;
    if (rc != 0)
        j->rc = oc_err_set(&j->err, OC_EIO, "close objects/%s: %s", rel, strerror(errno));
}

/* Steps a statement expecting no row; OC_EDB on failure. */
static int step_done(struct oc_db *db, sqlite3_stmt *st, struct oc_err *err, const char *what)
{
    int src = sqlite3_step(st);

    sqlite3_reset(st);
    return src == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, what);
}

/* Runs a lookup with text parameters; *found and id (if non-NULL) receive the result. */
static int lookup(struct oc_db *db, const char *sql, const char *a1, const char *a2, int i2,
                  int *found, char id[WAL_ID_LEN + 1], struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, sql, err);
    int src;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
    if (a2)
        sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
    else if (i2)
        sqlite3_bind_int(st, 2, i2);
    src = sqlite3_step(st);
    *found = src == SQLITE_ROW;
    if (*found && id)
        wal_col_copy(id, WAL_ID_LEN + 1, st, 0);
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        return oc_db_fail(db, err, "lookup");
    return OC_OK;
}

/*
 * The bytes of a replaced or deleted object: an inline object's blob goes in
 * this transaction; a file is noted for retirement after the commit.
 */
static int drop_old(struct oc_db *db, struct wal_job *j, const char *old, struct oc_err *err)
{
    sqlite3_stmt *st;

    if (!wal_id_inline(old))
        return job_gone(j, old) ? oc_err_set(err, OC_ENOMEM, "out of memory") : OC_OK;
    st = oc_db_prepare(db, "DELETE FROM blobs WHERE n = ?1", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_int64(st, 1, wal_inline_n(old));
    j->dropped_blob = 1;
    return step_done(db, st, err, "delete blob");
}

/* Stores the bytes of an inline PUT under its id. */
static int put_blob(struct oc_db *db, struct wal_job *j, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "INSERT INTO blobs (n, id, data) VALUES (?1, ?2, ?3)",
                                     err);

    if (!st)
        return OC_EDB;
    sqlite3_bind_int64(st, 1, wal_inline_n(j->id));
    sqlite3_bind_text(st, 2, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, j->p->mem ? (const void *)j->p->mem : "", (int)j->p->size,
                      SQLITE_STATIC);
    return step_done(db, st, err, "write blob");
}

static int apply_object_row(struct oc_db *db, struct wal_job *j, struct oc_err *err)
{
    sqlite3_stmt *st;
    char old[WAL_ID_LEN + 1];
    int found, rc;

    rc = lookup(db, "SELECT 1 FROM buckets WHERE name = ?1", j->bucket, NULL, 0, &found,
                NULL, err);
    if (rc)
        return rc;
    if (!found) {
        j->rc = oc_err_set(&j->err, OC_ENOTFOUND, "no bucket %s", j->bucket);
        return OC_OK;
    }
    rc = lookup(db, "SELECT id FROM objects WHERE bucket = ?1 AND key = ?2", j->bucket, j->key,
                0, &found, old, err);
    if (rc == OC_OK && found)
        rc = drop_old(db, j, old, err);
    if (rc == OC_OK && j->p && j->p->in_mem)
        rc = put_blob(db, j, err);
    if (rc)
        return rc;
    st = oc_db_prepare(db, "INSERT OR REPLACE INTO objects (bucket, key, id, size, etag,"
                           " mtime_ms, owner, acl, " WAL_HDR_COLS ") VALUES (?1, ?2, ?3, ?4,"
                           " ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, j->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)j->size);
    sqlite3_bind_text(st, 5, j->etag, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, j->mtime_ms);
    sqlite3_bind_text(st, 7, j->owner, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, j->acl, -1, SQLITE_STATIC);
    for (int i = 0; i < WAL_NHDR; i++) {
        if (j->hdr[i])
            sqlite3_bind_text(st, 9 + i, j->hdr[i], -1, SQLITE_STATIC);
    }
    return step_done(db, st, err, "write object row");
}

static int apply_part(struct oc_db *db, struct wal_job *j, struct oc_err *err)
{
    sqlite3_stmt *st;
    char old[WAL_ID_LEN + 1];
    int found, rc;

    rc = lookup(db, "SELECT 1 FROM uploads WHERE id = ?1", j->upload_id, NULL, 0, &found,
                NULL, err);
    if (rc)
        return rc;
    if (!found) {
        j->rc = oc_err_set(&j->err, OC_ENOTFOUND, "no upload %s", j->upload_id);
        return OC_OK;
    }
    rc = lookup(db, "SELECT id FROM parts WHERE upload = ?1 AND number = ?2", j->upload_id,
                NULL, j->part_number, &found, old, err);
    if (rc)
        return rc;
    if (found && job_gone(j, old))
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    st = oc_db_prepare(db, "INSERT OR REPLACE INTO parts (upload, number, id, size, etag,"
                           " mtime_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, j->upload_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, j->part_number);
    sqlite3_bind_text(st, 3, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)j->size);
    sqlite3_bind_text(st, 5, j->etag, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, j->mtime_ms);
    return step_done(db, st, err, "write part row");
}

static int apply_delete(struct oc_db *db, struct wal_job *j, struct oc_err *err)
{
    sqlite3_stmt *st;
    char old[WAL_ID_LEN + 1];
    int found, rc;

    rc = lookup(db, "SELECT id FROM objects WHERE bucket = ?1 AND key = ?2", j->bucket, j->key,
                0, &found, old, err);
    if (rc)
        return rc;
    if (!found) {
        j->rc = oc_err_set(&j->err, OC_ENOTFOUND, "no object %s/%s", j->bucket, j->key);
        return OC_OK;
    }
    rc = drop_old(db, j, old, err);
    if (rc)
        return rc;
    st = oc_db_prepare(db, "DELETE FROM objects WHERE bucket = ?1 AND key = ?2", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, j->bucket, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->key, -1, SQLITE_STATIC);
    return step_done(db, st, err, "delete object row");
}

static int apply_complete(struct oc_db *db, struct wal_job *j, struct oc_err *err)
{
    sqlite3_stmt *st;
    int found, rc;

    rc = lookup(db, "SELECT 1 FROM uploads WHERE id = ?1", j->upload_id, NULL, 0, &found,
                NULL, err);
    if (rc)
        return rc;
    if (!found) {
        j->rc = oc_err_set(&j->err, OC_ENOTFOUND, "no upload %s", j->upload_id);
        return OC_OK;
    }
    /* A part replaced while we assembled: the caller starts over. */
    for (size_t i = 0; i < j->ncparts; i++) {
        char cur[WAL_ID_LEN + 1];

        rc = lookup(db, "SELECT id FROM parts WHERE upload = ?1 AND number = ?2", j->upload_id,
                    NULL, j->cnums[i], &found, cur, err);
        if (rc)
            return rc;
        if (!found || strcmp(cur, j->cids[i]) != 0) {
            j->rc = oc_err_set(&j->err, OC_EAGAIN, "part %d changed during completion",
                               j->cnums[i]);
            return OC_OK;
        }
    }
    /* Every part file goes, listed or not. */
    st = oc_db_prepare(db, "SELECT id FROM parts WHERE upload = ?1", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, j->upload_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (job_gone(j, (const char *)sqlite3_column_text(st, 0))) {
            sqlite3_reset(st);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return oc_db_fail(db, err, "list parts");
    rc = apply_object_row(db, j, err);
    if (rc || j->rc)
        return rc;
    st = oc_db_prepare(db, "DELETE FROM parts WHERE upload = ?1", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, j->upload_id, -1, SQLITE_STATIC);
    rc = step_done(db, st, err, "delete parts");
    if (rc)
        return rc;
    st = oc_db_prepare(db, "DELETE FROM uploads WHERE id = ?1", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, j->upload_id, -1, SQLITE_STATIC);
    return step_done(db, st, err, "delete upload");
}

/* Applies every live job in one transaction.  A non-zero return fails the batch. */
static int batch_apply(struct wal_store *s, struct wal_job *batch, struct oc_err *err)
{
    int rc = oc_db_begin(s->wdb, err);

    if (rc)
        return rc;
    for (struct wal_job *j = batch; j && rc == OC_OK; j = j->next) {
        if (j->rc)
            continue;
        switch (j->kind) {
        case JOB_PUT:
            rc = apply_object_row(s->wdb, j, err);
            break;
        case JOB_PART:
            rc = apply_part(s->wdb, j, err);
            break;
        case JOB_DELETE:
            rc = apply_delete(s->wdb, j, err);
            break;
        case JOB_COMPLETE:
            rc = apply_complete(s->wdb, j, err);
            break;
        }
        /* A job refused after noting files to unlink must not unlink them. */
        if (j->rc)
            j->ngone = 0;
    }
    /* From the COMMIT until batch_cache_end, these keys are read from SQLite. */
    for (struct wal_job *j = batch; j && rc == OC_OK; j = j->next) {
        if (j->rc == OC_OK && j->kind != JOB_PART) {
            wal_ocache_write_begin(s, j->bucket, j->key);
            j->cache_open = 1;
        }
    }
    if (rc == OC_OK)
        rc = oc_db_commit(s->wdb, err);
    if (rc)
        oc_db_rollback(s->wdb);
    return rc;
}

/* Records in the object cache what the batch committed (in batch order, so
 * the last write of a key wins, as in SQLite); committed 0 forgets the keys. */
static void batch_cache_end(struct wal_store *s, struct wal_job *batch, int committed)
{
    for (struct wal_job *j = batch; j; j = j->next) {
        struct wal_meta m;

        if (!j->cache_open)
            continue;
        j->cache_open = 0;
        if (!committed || j->rc) {
            wal_ocache_write_end(s, j->bucket, j->key, WAL_CACHE_DROP, NULL);
        } else if (j->kind == JOB_DELETE) {
            wal_ocache_write_end(s, j->bucket, j->key, WAL_CACHE_SET_ABSENT, NULL);
        } else {
            /* The row as apply_object_row wrote it. */
            memset(&m, 0, sizeof(m));
            m.bucket = j->bucket;
            m.key = j->key;
            memcpy(m.id, j->id, sizeof(m.id));
            m.size = j->size;
            memcpy(m.etag, j->etag, sizeof(m.etag));
            m.mtime_ms = j->mtime_ms;
            memcpy(m.owner, j->owner, sizeof(m.owner));
            memcpy(m.acl, j->acl, sizeof(m.acl));
            m.content_type = j->hdr[WAL_HDR_CONTENT_TYPE];
            m.content_encoding = j->hdr[WAL_HDR_CONTENT_ENCODING];
            m.content_disposition = j->hdr[WAL_HDR_CONTENT_DISPOSITION];
            m.content_language = j->hdr[WAL_HDR_CONTENT_LANGUAGE];
            m.cache_control = j->hdr[WAL_HDR_CACHE_CONTROL];
            m.expires = j->hdr[WAL_HDR_EXPIRES];
            m.user_meta = j->hdr[WAL_HDR_USER_META];
            wal_ocache_write_end(s, j->bucket, j->key, WAL_CACHE_SET_ROW, &m);
        }
    }
}

static void batch_run(struct wal_store *s, struct wal_job *batch)
{
    struct oc_err berr = { 0 };
    int any_data = 0, rc;

    for (struct wal_job *j = batch; j; j = j->next) {
        if (j->rc == OC_OK && j->p && !j->p->in_mem) {
            batch_link(s, j);
            any_data |= j->linked;
        }
    }
    if (any_data && syncfs(s->objfd) != 0) {
        oc_err_set(&berr, OC_EIO, "syncfs: %s", strerror(errno));
        for (struct wal_job *j = batch; j; j = j->next) {
            if (j->rc == OC_OK && j->p && !j->p->in_mem) {
                j->rc = berr.code;
                j->err = berr;
            }
        }
    }

    pthread_mutex_lock(&s->wlock);
    rc = batch_apply(s, batch, &berr);
    /* Before any replaced file is retired: a reader holding its old id
     * must find the file gone only once the cache names the new one. */
    batch_cache_end(s, batch, rc == OC_OK);
    pthread_mutex_unlock(&s->wlock);
    if (rc) {
        oc_error("walrus: commit of %s failed: %s", "a batch", berr.msg);
        for (struct wal_job *j = batch; j; j = j->next) {
            if (j->rc == OC_OK) {
                j->rc = rc;
                j->err = berr;
            }
            j->ngone = 0;
        }
    }

    while (batch) {
        struct wal_job *j = batch;

        batch = j->next;
        if (j->rc == OC_OK) {
            s->reclaim_due |= j->dropped_blob;
            for (size_t i = 0; i < j->ngone; i++)
                wal_file_retire(s, j->gone[i]);
        } else if (j->linked) {
            wal_file_unlink(s, j->p->id);
        }
        if (j->p)
            put_free(j->p, !j->linked);
        if (j->cb)
            j->cb(j->arg, j->rc, j->rc ? &j->err : NULL);
        job_free(j);
    }
}

static void *committer_main(void *arg)
{
    struct wal_store *s = arg;

    for (;;) {
        struct wal_job *batch;
        int stop;

        pthread_mutex_lock(&s->qlock);
        while (!s->qhead && !s->stopping && !s->reclaim_due)
            pthread_cond_wait(&s->qcond, &s->qlock);
        batch = s->qhead;
        s->qhead = NULL;
        s->qtail = &s->qhead;
        stop = s->stopping;
        pthread_mutex_unlock(&s->qlock);
        if (batch) {
            batch_run(s, batch);
        } else if (stop) {
            break;
        } else {
            /* Idle with blobs dropped: one step of giving pages back. */
            struct oc_err err = { 0 };

            if (wal_store_reclaim(s, &s->reclaim_due, &err) != OC_OK)
                oc_warn("walrus: giving freed pages of walrus.db back: %s", err.msg);
        }
    }
    return NULL;
}

int wal_committer_start(struct wal_store *s, struct oc_err *err)
{
    int e = pthread_create(&s->committer, NULL, committer_main, s);

    if (e)
        return oc_err_set(err, OC_EINTERNAL, "start committer: %s", strerror(e));
    s->committer_started = 1;
    return OC_OK;
}

void wal_committer_stop(struct wal_store *s)
{
    if (!s->committer_started)
        return;
    pthread_mutex_lock(&s->qlock);
    s->stopping = 1;
    pthread_cond_signal(&s->qcond);
    pthread_mutex_unlock(&s->qlock);
    pthread_join(s->committer, NULL);
    s->committer_started = 0;
}
