/*
 * store.h - Walrus storage: buckets, objects and multipart uploads.
 *
 * Metadata lives in SQLite ($dir/walrus.db); object bytes live in files under
 * $dir/objects/ named by a random id, never by the client's key, except the
 * bytes of objects of at most 64 KiB, which live in SQLite beside their row
 * ("inline", see store_priv.h).  A PUT
 * streams into a temporary file (an O_TMPFILE in $dir/tmp/, tmp/<id> where
 * that is unsupported, or a replaced file recycled from $dir/free/), hashing
 * as it goes; commit moves the file into objects/, makes it durable (syncfs),
 * and only then commits the metadata row.  An object is visible exactly when its row exists, so an
 * overwrite is atomic for readers and a crash leaves the old object or the
 * new one.  Files with no row (a crash between rename and commit) and
 * everything in tmp/ are removed at open.
 *
 * Commits from concurrent PUTs are grouped: one committer thread makes a
 * whole batch durable with one filesystem sync and one SQLite transaction.
 *
 * The store chooses no S3 error codes; it returns OC_E* codes and, for
 * CompleteMultipartUpload, a struct wal_complete_fail naming the bad part.
 * All functions are thread-safe.
 */
#ifndef WAL_STORE_H
#define WAL_STORE_H

#include <stdint.h>
#include <stddef.h>
#include "common/err.h"
#include "common/arena.h"
#include "common/creds.h"

#define WAL_ID_LEN 32              /* hex chars of object and upload ids */
#define WAL_ETAG_LEN 48            /* quoted etag incl. "-N" suffix, NUL */
#define WAL_MIN_PART_SIZE (5u * 1024 * 1024)
#define WAL_MAX_PARTS 10000

struct wal_store;

int wal_store_open(const char *dir, struct wal_store **out, struct oc_err *err) OC_WUR;
void wal_store_close(struct wal_store *s);
/* Object rows kept in memory so that lookups skip SQLite (default 65536;
 * 0 = none; on failure, none).  Call right after wal_store_open, before any
 * other use of s. */
int wal_store_set_cache_size(struct wal_store *s, size_t objects, struct oc_err *err) OC_WUR;

/* Largest PutObject body kept inline in walrus.db instead of a file of its
 * own (store_priv.h): WAL_STORE_INLINE_MAX by default, 0 = every object is a
 * file.  OC_EINVAL above WAL_STORE_INLINE_MAX.  Call right after
 * wal_store_open, before any request. */
#define WAL_STORE_INLINE_MAX (64 * 1024)
int wal_store_set_inline_max(struct wal_store *s, size_t bytes, struct oc_err *err) OC_WUR;

/* One step of giving the freed pages of walrus.db back to the filesystem
 * (store.c, "Freed pages"); *more says whether another step is due.  The
 * committer calls it while idle; tests call it to run the steps at once. */
int wal_store_reclaim(struct wal_store *s, int *more, struct oc_err *err) OC_WUR;

/* ---- buckets ---- */
struct wal_bucket {
    char name[64];
    char owner[OC_ACCOUNT_ID_LEN + 1];
    char acl[32];                  /* canned ACL name */
    char location[32];             /* LocationConstraint; "" = us-east-1 */
    int64_t created_ms;
};

/* OC_EEXIST when the name is taken (load it to see by whom). */
int wal_bucket_create(struct wal_store *s, const struct wal_bucket *b, struct oc_err *err) OC_WUR;
int wal_bucket_get(struct wal_store *s, const char *name, struct wal_bucket *out,
                   struct oc_err *err) OC_WUR;
/* OC_ECONFLICT when objects remain; pending uploads are aborted with it. */
int wal_bucket_delete(struct wal_store *s, const char *name, struct oc_err *err) OC_WUR;
int wal_bucket_set_acl(struct wal_store *s, const char *name, const char *acl,
                       struct oc_err *err) OC_WUR;
/* Buckets owned by owner (all when owner is NULL), by name. fn returns non-zero to stop. */
int wal_bucket_list(struct wal_store *s, const char *owner,
                    int (*fn)(void *arg, const struct wal_bucket *b), void *arg,
                    struct oc_err *err) OC_WUR;

/* ---- objects ---- */
struct wal_meta {
    const char *bucket;
    const char *key;
    char id[WAL_ID_LEN + 1];       /* file id, set by the store */
    uint64_t size;
    char etag[WAL_ETAG_LEN];       /* with quotes: "\"<md5hex>\"" or "\"<hex>-N\"" */
    int64_t mtime_ms;
    char owner[OC_ACCOUNT_ID_LEN + 1];
    char acl[32];
    /* Standard headers stored and returned as given; NULL when absent. */
    const char *content_type;
    const char *content_encoding;
    const char *content_disposition;
    const char *content_language;
    const char *cache_control;
    const char *expires;
    /* User metadata as "x-amz-meta-name: value\n" lines (names lowercase); NULL = none. */
    const char *user_meta;
};

/* Streaming writer for an object body or a part. */
struct wal_put;
int wal_put_begin(struct wal_store *s, struct wal_put **out, struct oc_err *err) OC_WUR;
int wal_put_write(struct wal_put *p, const void *data, size_t len, struct oc_err *err) OC_WUR;
/* Skips the SHA-256 (a payload that is not signed needs none); call before the
 * first write.  wal_put_digests then leaves sha256 zeroed. */
void wal_put_no_sha256(struct wal_put *p);
uint64_t wal_put_size(const struct wal_put *p);
/* Digests of everything written so far (may be called once, after the last write). */
void wal_put_digests(struct wal_put *p, uint8_t md5[16], uint8_t sha256[32]);
/* Discards the data; frees p. */
void wal_put_abort(struct wal_put *p);

/* Completion callback of the asynchronous commits; runs on the committer thread. */
typedef void (*wal_commit_cb)(void *arg, int rc, const struct oc_err *err);

/*
 * Commits p as object meta->bucket/meta->key (replacing any previous one).
 * The store fills id, size, etag (from the MD5 unless meta->etag is already
 * set) and mtime; meta's strings are copied.  p is consumed in every case.
 * Sync form blocks; async form calls cb exactly once.
 */
int wal_put_commit(struct wal_put *p, struct wal_meta *meta, struct oc_err *err) OC_WUR;
void wal_put_commit_async(struct wal_put *p, struct wal_meta *meta, wal_commit_cb cb, void *arg);

/* Looks up an object and opens its bytes: the fd stays valid across a concurrent
 * overwrite or delete.  Strings are allocated in arena.  OC_ENOTFOUND if absent. */
int wal_object_open(struct wal_store *s, struct oc_arena *a, const char *bucket,
                    const char *key, struct wal_meta *out, int *fd, struct oc_err *err) OC_WUR;
/*
 * Small objects' bytes are kept in memory by file id (store_body.c): a file
 * id's bytes never change, so nothing there is ever stale.  bytes = 0 (the
 * default) keeps none.  Call right after wal_store_open, before any request.
 */
#define WAL_BODY_MAX (64 * 1024)   /* largest object whose bytes are kept */
struct wal_body;
int wal_store_set_body_cache(struct wal_store *s, size_t bytes, struct oc_err *err) OC_WUR;
/*
 * Like wal_object_open, but an object of at most WAL_BODY_MAX bytes may come
 * back as *body, a counted reference to all of its bytes (release it with
 * wal_body_put) with *fd = -1; otherwise *fd is open and *body NULL.
 */
int wal_object_fetch(struct wal_store *s, struct oc_arena *a, const char *bucket,
                     const char *key, struct wal_meta *out, int *fd, struct wal_body **body,
                     struct oc_err *err) OC_WUR;
const void *wal_body_data(const struct wal_body *b);
size_t wal_body_len(const struct wal_body *b);
void wal_body_put(struct wal_body *b);
/* Metadata only. */
int wal_object_head(struct wal_store *s, struct oc_arena *a, const char *bucket,
                    const char *key, struct wal_meta *out, struct oc_err *err) OC_WUR;
/* OC_ENOTFOUND when absent (S3 still answers 204). */
int wal_object_delete(struct wal_store *s, const char *bucket, const char *key,
                      struct oc_err *err) OC_WUR;
int wal_object_set_acl(struct wal_store *s, const char *bucket, const char *key,
                       const char *acl, struct oc_err *err) OC_WUR;

struct wal_list_params {
    const char *bucket;
    const char *prefix;            /* "" for none */
    const char *delimiter;         /* NULL or "" for none */
    const char *after;             /* list keys/prefixes strictly after this; NULL = start */
    unsigned max_keys;             /* 0 returns nothing but still reports truncation */
};
struct wal_list_entry {
    int is_prefix;                 /* a CommonPrefix: only key is set */
    const char *key;
    uint64_t size;
    char etag[WAL_ETAG_LEN];
    int64_t mtime_ms;
    char owner[OC_ACCOUNT_ID_LEN + 1];
};
struct wal_list_result {
    struct wal_list_entry *entries;   /* keys and prefixes in lexical order */
    size_t n;
    int truncated;
    const char *last;              /* last key or prefix returned (NextMarker) */
};
int wal_object_list(struct wal_store *s, struct oc_arena *a, const struct wal_list_params *p,
                    struct wal_list_result *out, struct oc_err *err) OC_WUR;

/* ---- multipart ---- */
/* meta gives bucket, key, owner, acl and the headers to apply on completion. */
int wal_upload_create(struct wal_store *s, const struct wal_meta *meta,
                      char upload_id[WAL_ID_LEN + 1], struct oc_err *err) OC_WUR;
/* Loads an upload's bucket, key and stored headers. OC_ENOTFOUND = NoSuchUpload. */
int wal_upload_get(struct wal_store *s, struct oc_arena *a, const char *upload_id,
                   struct wal_meta *out, int64_t *initiated_ms, struct oc_err *err) OC_WUR;
/* Commits p as part part_number (1..10000) of the upload, replacing an earlier one.
 * etag_out receives the part's quoted ETag.  p is consumed. */
int wal_part_commit(struct wal_put *p, const char *upload_id, int part_number,
                    char etag_out[WAL_ETAG_LEN], struct oc_err *err) OC_WUR;
void wal_part_commit_async(struct wal_put *p, const char *upload_id, int part_number,
                           char etag_out[WAL_ETAG_LEN], wal_commit_cb cb, void *arg);

struct wal_part {
    int number;
    uint64_t size;
    char etag[WAL_ETAG_LEN];
    int64_t mtime_ms;
};
/* Parts with number > marker, up to max; *truncated set when more remain. */
int wal_part_list(struct wal_store *s, struct oc_arena *a, const char *upload_id,
                  int marker, unsigned max, struct wal_part **parts, size_t *n,
                  int *truncated, struct oc_err *err) OC_WUR;

struct wal_part_ref {
    int number;
    const char *etag;              /* as the client sent it, quotes optional */
};
enum wal_complete_reason {
    WAL_COMPLETE_OK,
    WAL_COMPLETE_INVALID_PART,       /* missing part or ETag mismatch */
    WAL_COMPLETE_INVALID_PART_ORDER, /* numbers not strictly ascending */
    WAL_COMPLETE_TOO_SMALL,          /* a part but the last is < 5 MiB */
    WAL_COMPLETE_NO_PARTS,           /* empty list: MalformedXML */
};
struct wal_complete_fail {
    enum wal_complete_reason reason;
    int part_number;
    uint64_t part_size;
};
/*
 * Assembles the listed parts into the object (atomically replacing any
 * previous one), removes the upload, and fills meta (etag "md5-of-md5s-N").
 * On a bad list returns OC_EINVAL with fail filled and changes nothing.
 */
int wal_upload_complete(struct wal_store *s, struct oc_arena *a, const char *upload_id,
                        const struct wal_part_ref *refs, size_t nrefs, struct wal_meta *meta,
                        struct wal_complete_fail *fail, struct oc_err *err) OC_WUR;
int wal_upload_abort(struct wal_store *s, const char *upload_id, struct oc_err *err) OC_WUR;

struct wal_upload_entry {
    const char *key;
    char upload_id[WAL_ID_LEN + 1];
    int64_t initiated_ms;
    char owner[OC_ACCOUNT_ID_LEN + 1];
};
/* Uploads of a bucket ordered by (key, initiated, id) after (key_marker, id_marker). */
int wal_upload_list(struct wal_store *s, struct oc_arena *a, const char *bucket,
                    const char *prefix, const char *key_marker, const char *upload_id_marker,
                    unsigned max, struct wal_upload_entry **out, size_t *n, int *truncated,
                    struct oc_err *err) OC_WUR;

#endif
