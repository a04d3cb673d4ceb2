/*
 * imgcache.h - the node's image cache: $OVERCAST_HOME/nc/cache/.
 *
 * Each entry is one image's bytes as a disk base (a raw or qcow2 file),
 * keyed by (image id, digest): the digest is what the CLC recorded for the
 * image (a bundle manifest's image digest, a plain object's ETag), so an
 * image id whose bytes change gets a new entry and never a stale one.
 *
 *   - Filled once: concurrent nc_imgcache_get() calls for one key wait for
 *     the single fetch in flight and share its result (or its error).
 *   - Written to a temporary name in the cache directory, fsynced and
 *     renamed only when the fetcher has verified it; a failed or refused
 *     image leaves nothing behind, and a crash leaves only temporaries that
 *     the next open deletes.
 *   - Evicted least-recently-used when the total exceeds max_bytes, but
 *     never while pinned: nc_imgcache_get() pins the entry for its caller
 *     (an instance whose overlay is backed by it) until
 *     nc_imgcache_release().  The total may exceed max_bytes while every
 *     entry is pinned.
 *
 * Thread-safe.  The fetcher runs without the cache lock held.
 */
#ifndef NC_IMGCACHE_H
#define NC_IMGCACHE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* What the CC asks for: an image id, where it lives in Walrus and its digest. */
struct nc_image_ref {
    const char *image_id;    /* emi-/ami-/eki-/aki-/eri-/ari-<8..17 hex> */
    const char *location;    /* "bucket/key": a *.manifest.xml bundle or a plain object */
    const char *digest;      /* [0-9a-f-]{1,64}: manifest image SHA-1 or object ETag */
};

/*
 * Writes the image's verified bytes to fd (a fresh empty file) and returns
 * OC_OK, or an error with a message fit for the caller's reply: OC_ENOTFOUND
 * when the image is not in Walrus, OC_EINVAL when its bytes are refused (a
 * part digest, the image digest or the decryption does not check out),
 * OC_EIO when Walrus cannot be reached.
 */
struct nc_img_fetcher {
    int (*fetch)(void *ctx, const struct nc_image_ref *ref, int fd, struct oc_err *err);
    void *ctx;
};

struct nc_cached_image {
    char path[PATH_MAX];     /* absolute path of the base file */
    char format[8];          /* "raw" | "qcow2" (from the first bytes) */
    uint64_t size;           /* bytes on disk */
};

struct nc_imgcache;

/* Opens (creating) dir, deletes leftover temporaries and indexes the
 * entries already there (their last use is their mtime). */
int nc_imgcache_open(const char *dir, uint64_t max_bytes, const struct nc_img_fetcher *f,
                     struct nc_imgcache **out, struct oc_err *err) OC_WUR;
void nc_imgcache_close(struct nc_imgcache *c);

/* The entry for ref, fetched when missing; pins it. OC_EINVAL for a
 * malformed id or digest (never reaches the filesystem). */
int nc_imgcache_get(struct nc_imgcache *c, const struct nc_image_ref *ref,
                    struct nc_cached_image *out, struct oc_err *err) OC_WUR;
/* Drops one pin taken by nc_imgcache_get; may evict. */
void nc_imgcache_release(struct nc_imgcache *c, const char *image_id, const char *digest);

struct nc_imgcache_stats {
    uint64_t bytes;          /* total of all entries */
    uint64_t max_bytes;      /* the limit in force */
    unsigned entries;
    unsigned pinned;         /* entries with at least one pin */
    unsigned long fetches;   /* fetcher calls since open */
    unsigned long hits;      /* gets served without a fetch */
};
void nc_imgcache_stats(struct nc_imgcache *c, struct nc_imgcache_stats *out);
/* A new limit (ncSetProperty NC_CACHE_MAX_MB): takes effect at once,
 * evicting unpinned entries beyond it. */
void nc_imgcache_set_max(struct nc_imgcache *c, uint64_t max_bytes);

#endif
