/*
 * store_priv.h - internals shared by the Walrus store's files (store.c,
 * store_commit.c, store_list.c, store_multipart.c).  Nothing outside
 * walrus/store*.c includes it.
 *
 * Connections: one writer connection (s->wdb) used only under s->wlock, by
 * the committer thread and by the few direct writes (buckets, ACLs, upload
 * create/abort); a pool of reader connections so that readers on MHD's
 * threads never queue behind a writer (WAL lets them read a snapshot).
 *
 * Caches (store_cache.c): bucket rows and recently used object rows live in
 * memory so that GET and HEAD skip SQLite.  Every writer of those rows keeps
 * them exact: buckets are updated after their commit under s->wlock; object
 * writers call wal_ocache_write_begin() just before their commit and
 * wal_ocache_write_end() right after it, still under s->wlock, and before
 * any replaced file is retired or any callback runs.
 */
#ifndef WAL_STORE_PRIV_H
#define WAL_STORE_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "common/db.h"
#include "walrus/store.h"

/* Standard headers and user metadata, in the order of the table columns. */
enum {
    WAL_HDR_CONTENT_TYPE,
    WAL_HDR_CONTENT_ENCODING,
    WAL_HDR_CONTENT_DISPOSITION,
    WAL_HDR_CONTENT_LANGUAGE,
    WAL_HDR_CACHE_CONTROL,
    WAL_HDR_EXPIRES,
    WAL_HDR_USER_META,
    WAL_NHDR
};
/* Column list matching the enum above, for SQL text. */
#define WAL_HDR_COLS "content_type, content_encoding, content_disposition, " \
                     "content_language, cache_control, expires, user_meta"

/* "xx/<id>": the path of a data file relative to objects/. */
#define WAL_REL_LEN (3 + WAL_ID_LEN + 1)

struct wal_job;
struct wal_bcache;
struct wal_bodies;
struct wal_ocache;
struct wal_ocshard;

struct wal_store {
    char *dir;
    int objfd;                 /* objects/ */
    int tmpfd;                 /* tmp/ */
    int freefd;                /* free/: replaced files kept for reuse */
    int lockfd;                /* flock: one process per store */
    int use_tmpfile;           /* O_TMPFILE + linkat instead of tmp/<id> */

    pthread_mutex_t rlock;     /* guards the idle reader pool */
    struct oc_db **ridle;
    size_t nidle, capidle;

    pthread_mutex_t wlock;     /* guards wdb */
    struct oc_db *wdb;

    pthread_mutex_t plock;     /* guards the recycle pool (names in free/) */
    char (*pool)[WAL_ID_LEN + 1];
    size_t npool;

    pthread_mutex_t qlock;     /* guards the commit queue */
    pthread_cond_t qcond;
    struct wal_job *qhead, **qtail;
    int stopping;
    int committer_started;
    pthread_t committer;

    struct wal_bcache *bcache; /* every bucket row */
    struct wal_ocache *ocache; /* recent object rows; NULL when disabled */
    struct wal_bodies *bodies; /* small objects' bytes by id; NULL when disabled */
    uint64_t next_blob;        /* row number of the next inline blob (atomic) */
    size_t inline_max;         /* largest inline body (0..WAL_INLINE_MAX; 0 = none) */

    /* Freed pages of walrus.db (wal_store_reclaim). */
    int reclaim_ok;            /* walrus.db has incremental auto-vacuum */
    int reclaim_due;           /* committer only: blobs were dropped, check when idle */
    int reclaiming;            /* under wlock: emptying the freelist */
};

struct wal_put {
    struct wal_store *s;
    int fd;                    /* -1 while the bytes are in mem */
    int in_mem;                /* bytes in mem, no file yet (may become inline) */
    unsigned char *mem;        /* the first s->inline_max bytes, before any file */
    size_t memcap;
    int failed;                /* a write failed: commit refuses */
    int no_sha256;
    int finalized;
    int recycled;              /* fd is free/<src>, rewritten from offset 0 */
    char src[WAL_ID_LEN + 1];
    char id[WAL_ID_LEN + 1];
    uint64_t size;
    uint64_t flushed;          /* writeback started up to here */
    struct oc_digest *md5, *sha256;
    uint8_t md5_out[16], sha256_out[32];
};

/*
 * Inline objects: a PutObject body of at most s->inline_max bytes
 * (WAL_INLINE_MAX unless wal_store_set_inline_max lowers it) is not
 * given a file.  Its bytes go into the blobs table in the same transaction
 * as its row, so one WAL fdatasync makes a whole batch of small PUTs
 * durable, with no file created, renamed or synced.  The id of an inline
 * object starts with 'i' (file ids are all hex), so every holder of an id
 * knows where its bytes are.  Parts and assembled objects are always files.
 */
#define WAL_INLINE_MAX WAL_STORE_INLINE_MAX
#define WAL_INLINE_MARK 'i'
static inline int wal_id_inline(const char *id)
{
    return id[0] == WAL_INLINE_MARK;
}
/* An inline id is 'i', its blob's row number n in 16 hex digits, then 15
 * of the random hex digits it had; n comes from s->next_blob, so it is
 * never handed out twice by one process. */
void wal_inline_id(struct wal_store *s, char id[WAL_ID_LEN + 1]);
int64_t wal_inline_n(const char *id);

/* ---- store.c ---- */
/* Reads the bytes of inline object id (exactly size of them) into buf with a
 * reader connection.  OC_ENOTFOUND when the id has no blob (an overwrite or
 * delete committed since its row was read). */
int wal_inline_read(struct wal_store *s, const char *id, void *buf, uint64_t size,
                    struct oc_err *err) OC_WUR;
struct oc_db *wal_reader_get(struct wal_store *s, struct oc_err *err);
void wal_reader_put(struct wal_store *s, struct oc_db *db);
int64_t wal_now_ms(void);
void wal_rel_path(const char *id, char out[WAL_REL_LEN]);
/* Copies src into a fixed field, failing when it does not fit. */
int wal_copy_field(char *dst, size_t cap, const char *src, const char *what,
                   struct oc_err *err) OC_WUR;
/* Column text duplicated into the arena; NULL stays NULL. */
char *wal_col_dup(struct oc_arena *a, sqlite3_stmt *st, int col);
/* Copies column text into a fixed field (truncating; fields come from us). */
void wal_col_copy(char *dst, size_t cap, sqlite3_stmt *st, int col);
/* Removes objects/xx/<id>; errors other than ENOENT are logged. */
void wal_file_unlink(struct wal_store *s, const char *id);
/*
 * Disposes of the file of a replaced or deleted object or part after the
 * commit that dropped its row: small files nobody holds open go to free/
 * for reuse by a later PUT, the rest are unlinked.
 */
void wal_file_retire(struct wal_store *s, const char *id);
/* Takes a file from free/ for rewriting; 0 and sets src when one was there. */
int wal_pool_take(struct wal_store *s, char src[WAL_ID_LEN + 1], int *fd);
/* Returns a taken file unused (an aborted PUT). */
void wal_pool_return(struct wal_store *s, const char *src);

/* Files larger than this are unlinked, not recycled: their inode is cheap next
 * to their bytes, and free/ should not hoard disk space. */
#define WAL_RECYCLE_MAX_SIZE (1024 * 1024)
#define WAL_RECYCLE_MAX_FILES 1024
/* Strips one pair of surrounding quotes: returns start, sets *len. */
const char *wal_etag_bare(const char *etag, size_t *len);

/* ---- store_commit.c ---- */
int wal_committer_start(struct wal_store *s, struct oc_err *err) OC_WUR;
void wal_committer_stop(struct wal_store *s);
/* Creates an unnamed (or tmp/<id>) data file for a PUT or an assembly. */
int wal_put_open(struct wal_store *s, struct wal_put **out, struct oc_err *err) OC_WUR;
/* Finalizes the digests once; later calls return the cached values. */
void wal_put_finish(struct wal_put *p);

/* Sync helper around an asynchronous commit. */
struct wal_waiter {
    pthread_mutex_t m;
    pthread_cond_t c;
    int done, rc;
    struct oc_err err;
};
void wal_waiter_init(struct wal_waiter *w);
void wal_waiter_cb(void *arg, int rc, const struct oc_err *err);
int wal_waiter_wait(struct wal_waiter *w, struct oc_err *err);

/* A multipart completion for the committer: links p as the object and
 * removes the upload, provided every listed part still has the file id
 * that was assembled.  rc OC_EAGAIN means a part changed meanwhile. */
struct wal_complete_job {
    const char *upload_id;
    const int *numbers;
    const char (*ids)[WAL_ID_LEN + 1];
    size_t n;
    /* Object row: bucket/key/owner/acl/headers from the upload row. */
    const struct wal_meta *meta;
};
void wal_complete_commit_async(struct wal_put *p, const struct wal_complete_job *cj,
                               wal_commit_cb cb, void *arg);

/* ---- store_body.c ---- */
/* max_bytes = 0 leaves s->bodies NULL. */
int wal_bodies_new(struct wal_store *s, size_t max_bytes, struct oc_err *err) OC_WUR;
void wal_bodies_free(struct wal_store *s);

/* ---- store_cache.c ---- */
#define WAL_CACHE_DEFAULT_OBJECTS 65536

int wal_bcache_new(struct wal_store *s, struct oc_err *err) OC_WUR;
void wal_bcache_free(struct wal_store *s);
/* Allocated ahead of the write that creates the bucket, so that recording a
 * committed row cannot fail; wal_bcache_insert takes ownership (free() it
 * if unused). */
struct wal_bcache_ent *wal_bcache_ent_new(const struct wal_bucket *b);
void wal_bcache_insert(struct wal_store *s, struct wal_bcache_ent *e);
/* OC_OK or OC_ENOTFOUND; sets no error text. */
int wal_bcache_get(struct wal_store *s, const char *name, struct wal_bucket *out) OC_WUR;
void wal_bcache_set_acl(struct wal_store *s, const char *name, const char *acl);
void wal_bcache_remove(struct wal_store *s, const char *name);

/* objects = 0 leaves s->ocache NULL: every lookup goes to SQLite. */
int wal_ocache_new(struct wal_store *s, size_t objects, struct oc_err *err) OC_WUR;
void wal_ocache_free(struct wal_store *s);

enum wal_cache_res { WAL_CACHE_HIT, WAL_CACHE_ABSENT, WAL_CACHE_MISS };
/* What a miss needs to offer the row it then reads from SQLite. */
struct wal_cache_ticket {
    struct wal_ocshard *shard;     /* NULL: do not offer */
    uint64_t seq, hash;
};
/* HIT fills out (strings in a); ABSENT means the key has no row; MISS fills t. */
enum wal_cache_res wal_ocache_get(struct wal_store *s, struct oc_arena *a, const char *bucket,
                                  const char *key, struct wal_meta *out,
                                  struct wal_cache_ticket *t);
/* Offers what SQLite returned after a miss (m NULL: no row).  Ignored when a
 * commit on the shard began or ended since the miss. */
void wal_ocache_fill(struct wal_store *s, const struct wal_cache_ticket *t, const char *bucket,
                     const char *key, const struct wal_meta *m);

enum wal_cache_set {
    WAL_CACHE_DROP,            /* forget the key (commit failed, or row unknown) */
    WAL_CACHE_SET_ABSENT,      /* the commit deleted the row */
    WAL_CACHE_SET_ROW,         /* the commit wrote m */
};
/* Bracket every commit that writes or deletes an object row, under s->wlock:
 * begin before the COMMIT, end after it (whatever its outcome), before the
 * replaced file is retired.  Calls for one key must pair up. */
void wal_ocache_write_begin(struct wal_store *s, const char *bucket, const char *key);
void wal_ocache_write_end(struct wal_store *s, const char *bucket, const char *key,
                          enum wal_cache_set how, const struct wal_meta *m);
/* Drops the key's entry if it names file id (which turned out to be gone). */
void wal_ocache_forget(struct wal_store *s, const char *bucket, const char *key,
                       const char *id);
/* Drops every entry of a deleted bucket (they are absent-entries; memory only). */
void wal_ocache_purge_bucket(struct wal_store *s, const char *bucket);

#endif
