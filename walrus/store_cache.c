/*
 * store_cache.c - in-memory copies of the bucket rows and of recently used
 * object rows, so that a GET or HEAD does not open a SQLite read
 * transaction (each costs a shared lock on the WAL index and fcntl() locks).
 *
 * The store is the only writer of its database (it holds the lock file),
 * so its writers keep the caches exact:
 *
 * Buckets: every row, loaded at open.  Create, delete and set-ACL update
 * the copy while still holding the write lock, after their commit.
 *
 * Objects: a bounded table keyed by (bucket, key), split into shards by
 * hash, each with its own lock and CLOCK eviction.  An entry holds the
 * whole row, or says the key is absent (HEAD and GET of missing keys are
 * common).  A lookup that misses reads SQLite and offers the row back
 * with wal_ocache_fill().  Writers of object rows bracket their commit:
 * wal_ocache_write_begin() drops the key's entry and counts a writer in
 * the shard, wal_ocache_write_end() stores the committed row (or drops
 * it) and uncounts.  Both bump the shard's sequence number.  A fill is
 * accepted only if the shard had no writer when the lookup missed and its
 * sequence has not moved since: otherwise the row read from SQLite may
 * predate a commit and would be stale in the cache.  While a key's commit
 * is under way its lookups go to SQLite, which never goes backwards, so a
 * reader never sees an older row after a newer one.
 *
 * Eviction: new entries start with their reference bit clear, so a burst
 * of one-off keys (a scan, or HEADs of random missing keys) is evicted
 * before entries that were hit since the hand last passed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "walrus/store.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "walrus/store_priv.h"

#define CACHE_MAX_SHARDS 64
/* Shards are added only while each keeps at least this many entries, so
 * that a small cache still evicts in (approximately) global CLOCK order. */
#define CACHE_MIN_PER_SHARD 256
/* Memory budget per entry on average, and per shard on top of that, so
 * that a shard always has room for a few large rows. */
#define CACHE_AVG_BYTES 1024
#define CACHE_SHARD_SLACK (16 * 1024)
/* Far beyond any sensible setting (~64 GiB of rows); keeps sizes from overflowing. */
#define CACHE_MAX_OBJECTS (1 << 26)

/* ---- hashing ---- */

static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t fmix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/*
 * Keys come from clients, so the hash is seeded with random bits per store:
 * nobody can aim many keys at one chain.  (Chains are also bounded by the
 * shard's capacity.)
 */
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
    uint64_t w;

    h ^= n * 0x9e3779b97f4a7c15ULL;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h ^= fmix64(w + 0x9e3779b97f4a7c15ULL);
        h = rotl64(h, 27) * 5 + 0x52dce729;
    }
    w = 0;
    memcpy(&w, p, n);
    h ^= fmix64(w ^ ((uint64_t)n << 56));
    return fmix64(h);
}

static uint64_t seed_new(void)
{
    uint64_t seed;

    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        seed = fmix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uintptr_t)&ts);
    }
    return seed;
}

/*
 * glibc's default rwlock lets a stream of readers starve a writer; here the
 * writer is the committer (holding the store's write lock) or a bucket
 * change, and must not wait behind a busy GET load.
 */
static void cache_rwlock_init(pthread_rwlock_t *l)
{
    pthread_rwlockattr_t attr;

    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(l, &attr);
    pthread_rwlockattr_destroy(&attr);
}

/* ---- buckets ---- */

struct wal_bcache_ent {
    struct wal_bcache_ent *next;
    uint64_t hash;
    struct wal_bucket b;
};

struct wal_bcache {
    /* Writers (create, delete, set-ACL) are rare; lookups are every request. */
    pthread_rwlock_t lock;
    struct wal_bcache_ent **tab;
    size_t mask, n;
    uint64_t seed;
};

int wal_bcache_new(struct wal_store *s, struct oc_err *err)
{
    struct wal_bcache *c = calloc(1, sizeof(*c));

    if (!c)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    c->mask = 63;
    c->tab = calloc(c->mask + 1, sizeof(*c->tab));
    if (!c->tab) {
        free(c);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    c->seed = seed_new();
    cache_rwlock_init(&c->lock);
    s->bcache = c;
    return OC_OK;
}

void wal_bcache_free(struct wal_store *s)
{
    struct wal_bcache *c = s->bcache;

    if (!c)
        return;
    for (size_t i = 0; i <= c->mask; i++) {
        while (c->tab[i]) {
            struct wal_bcache_ent *e = c->tab[i];

            c->tab[i] = e->next;
            free(e);
        }
    }
    free(c->tab);
    pthread_rwlock_destroy(&c->lock);
    free(c);
    s->bcache = NULL;
}

struct wal_bcache_ent *wal_bcache_ent_new(const struct wal_bucket *b)
{
    struct wal_bcache_ent *e = calloc(1, sizeof(*e));

    if (e)
        e->b = *b;
    return e;
}

/* Doubles the table; on allocation failure keeps the old one (longer chains). */
static void bcache_grow(struct wal_bcache *c)
{
    size_t nmask = 2 * c->mask + 1;
    struct wal_bcache_ent **nt = calloc(nmask + 1, sizeof(*nt));

    if (!nt)
        return;
    for (size_t i = 0; i <= c->mask; i++) {
        while (c->tab[i]) {
            struct wal_bcache_ent *e = c->tab[i];

            c->tab[i] = e->next;
            e->next = nt[e->hash & nmask];
            nt[e->hash & nmask] = e;
        }
    }
    free(c->tab);
    c->tab = nt;
    c->mask = nmask;
}

/* The link pointing at name's entry, or at the chain's terminating NULL. */
static struct wal_bcache_ent **bcache_link(struct wal_bcache *c, const char *name, uint64_t h)
{
    struct wal_bcache_ent **l = &c->tab[h & c->mask];

    while (*l && !((*l)->hash == h && strcmp((*l)->b.name, name) == 0))
        l = &(*l)->next;
    return l;
}

void wal_bcache_insert(struct wal_store *s, struct wal_bcache_ent *e)
{
    struct wal_bcache *c = s->bcache;
    struct wal_bcache_ent **l, *old;

    e->hash = hash_bytes(c->seed, e->b.name, strlen(e->b.name));
    pthread_rwlock_wrlock(&c->lock);
    l = bcache_link(c, e->b.name, e->hash);
    old = *l;
    if (old) {
        e->next = old->next;
        *l = e;
    } else {
        e->next = NULL;
        *l = e;
        if (++c->n > c->mask + 1)
            bcache_grow(c);
    }
    pthread_rwlock_unlock(&c->lock);
    free(old);
}

int wal_bcache_get(struct wal_store *s, const char *name, struct wal_bucket *out)
{
    struct wal_bcache *c = s->bcache;
    uint64_t h = hash_bytes(c->seed, name, strlen(name));
    struct wal_bcache_ent *e;
    int rc = OC_ENOTFOUND;

    pthread_rwlock_rdlock(&c->lock);
    e = *bcache_link(c, name, h);
    if (e) {
        *out = e->b;
        rc = OC_OK;
    }
    pthread_rwlock_unlock(&c->lock);
    return rc;
}

void wal_bcache_set_acl(struct wal_store *s, const char *name, const char *acl)
{
    struct wal_bcache *c = s->bcache;
    uint64_t h = hash_bytes(c->seed, name, strlen(name));
    struct wal_bcache_ent *e;

    pthread_rwlock_wrlock(&c->lock);
    e = *bcache_link(c, name, h);
    if (e)
        snprintf(e->b.acl, sizeof(e->b.acl), "%s", acl);
    pthread_rwlock_unlock(&c->lock);
}

void wal_bcache_remove(struct wal_store *s, const char *name)
{
    struct wal_bcache *c = s->bcache;
    uint64_t h = hash_bytes(c->seed, name, strlen(name));
    struct wal_bcache_ent **l, *e;

    pthread_rwlock_wrlock(&c->lock);
    l = bcache_link(c, name, h);
    e = *l;
    if (e) {
        *l = e->next;
        c->n--;
    }
    pthread_rwlock_unlock(&c->lock);
    free(e);
}

/* ---- objects ---- */

struct ocent {
    struct ocent *hnext;           /* hash chain */
    struct ocent *cprev, *cnext;   /* CLOCK ring */
    uint64_t hash;
    size_t charge;                 /* bytes counted against the shard */
    unsigned char ref;             /* CLOCK reference bit */
    unsigned char absent;          /* the key has no row */
    uint32_t blen, klen, dlen;     /* bucket, key, data[] */
    uint32_t hoff[WAL_NHDR];       /* header offsets in data[]; UINT32_MAX = NULL */
    struct wal_meta m;             /* fixed fields; its pointers are unused */
    char data[];                   /* bucket NUL key NUL header NUL ... */
};
#define HOFF_NULL UINT32_MAX

struct wal_ocshard {
    /* Hits take it shared (they only set the reference bit, atomically);
     * misses' fills, writers and eviction take it exclusive. */
    pthread_rwlock_t lock;
    struct ocent **tab;
    size_t mask;
    struct ocent *hand;            /* CLOCK hand; NULL when empty */
    size_t n, cap, bytes, cap_bytes;
    uint64_t seq;                  /* bumped by every write_begin/write_end */
    unsigned writers;              /* commits under way on keys of this shard */
} __attribute__((aligned(64)));

struct wal_ocache {
    uint64_t seed;
    unsigned nshards;
    struct wal_ocshard *shards;
};

int wal_ocache_new(struct wal_store *s, size_t objects, struct oc_err *err)
{
    struct wal_ocache *c;
    size_t per, slots = 8;

    if (!objects)
        return OC_OK;
    if (objects > CACHE_MAX_OBJECTS)
        return oc_err_set(err, OC_EINVAL, "object cache of %zu entries is too large (at most %d)",
                          objects, CACHE_MAX_OBJECTS);
    c = calloc(1, sizeof(*c));
    if (!c)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    c->seed = seed_new();
    c->nshards = 1;
    while (c->nshards < CACHE_MAX_SHARDS && objects / (2 * c->nshards) >= CACHE_MIN_PER_SHARD)
        c->nshards *= 2;
    per = (objects + c->nshards - 1) / c->nshards;
    while (slots < per)
        slots *= 2;
    if (posix_memalign((void **)&c->shards, 64, c->nshards * sizeof(*c->shards)) != 0) {
        free(c);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    memset(c->shards, 0, c->nshards * sizeof(*c->shards));
    s->ocache = c;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct wal_ocshard *sh = &c->shards[i];

        cache_rwlock_init(&sh->lock);
        sh->cap = per;
        sh->cap_bytes = per * CACHE_AVG_BYTES + CACHE_SHARD_SLACK;
        sh->mask = slots - 1;
        sh->tab = calloc(slots, sizeof(*sh->tab));
        if (!sh->tab) {
            c->nshards = i + 1;
            wal_ocache_free(s);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
    }
    return OC_OK;
}

void wal_ocache_free(struct wal_store *s)
{
    struct wal_ocache *c = s->ocache;

    if (!c)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct wal_ocshard *sh = &c->shards[i];

        for (size_t j = 0; sh->tab && j <= sh->mask; j++) {
            while (sh->tab[j]) {
                struct ocent *e = sh->tab[j];

                sh->tab[j] = e->hnext;
                free(e);
            }
        }
        free(sh->tab);
        pthread_rwlock_destroy(&sh->lock);
    }
    free(c->shards);
    free(c);
    s->ocache = NULL;
}

static uint64_t ocache_hash(const struct wal_ocache *c, const char *bucket, size_t bl,
                            const char *key, size_t kl)
{
    return hash_bytes(hash_bytes(c->seed, bucket, bl), key, kl);
}

static struct wal_ocshard *ocache_shard(const struct wal_ocache *c, uint64_t h)
{
    /* Top bits pick the shard, low bits the chain: independent. */
    return &c->shards[(h >> 58) & (c->nshards - 1)];
}

static struct ocent **shard_link(struct wal_ocshard *sh, uint64_t h, const char *bucket,
                                 size_t bl, const char *key, size_t kl)
{
    struct ocent **l = &sh->tab[h & sh->mask];

    for (; *l; l = &(*l)->hnext) {
        const struct ocent *e = *l;

        if (e->hash == h && e->blen == bl && e->klen == kl &&
            memcmp(e->data, bucket, bl) == 0 && memcmp(e->data + bl + 1, key, kl) == 0)
            break;
    }
    return l;
}

/* A key's lengths, hash and shard, computed once per cache call. */
struct ockey {
    const char *bucket, *key;
    size_t bl, kl;
    uint64_t h;
    struct wal_ocshard *sh;
};

static void ockey_of(const struct wal_ocache *c, const char *bucket, const char *key,
                     struct ockey *k)
{
    k->bucket = bucket;
    k->key = key;
    k->bl = strlen(bucket);
    k->kl = strlen(key);
    k->h = ocache_hash(c, bucket, k->bl, key, k->kl);
    k->sh = ocache_shard(c, k->h);
}

static struct ocent **ockey_link(const struct ockey *k)
{
    return shard_link(k->sh, k->h, k->bucket, k->bl, k->key, k->kl);
}

static void ring_insert(struct wal_ocshard *sh, struct ocent *e)
{
    /* Just behind the hand: the last entry it will reach. */
    if (!sh->hand) {
        e->cprev = e->cnext = e;
        sh->hand = e;
        return;
    }
    e->cnext = sh->hand;
    e->cprev = sh->hand->cprev;
    e->cprev->cnext = e;
    sh->hand->cprev = e;
}

static void ring_unlink(struct wal_ocshard *sh, struct ocent *e)
{
    if (e->cnext == e) {
        sh->hand = NULL;
        return;
    }
    e->cprev->cnext = e->cnext;
    e->cnext->cprev = e->cprev;
    if (sh->hand == e)
        sh->hand = e->cnext;
}

/* Unlinks the entry *l points at and frees it. */
static void shard_remove(struct wal_ocshard *sh, struct ocent **l)
{
    struct ocent *e = *l;

    *l = e->hnext;
    ring_unlink(sh, e);
    sh->n--;
    sh->bytes -= e->charge;
    free(e);
}

static void shard_evict_one(struct wal_ocshard *sh)
{
    struct ocent *e;

    /* Ends within one turn: the hand clears every bit it passes. */
    while ((e = sh->hand) != NULL && e->ref) {
        e->ref = 0;
        sh->hand = e->cnext;
    }
    if (e)
        shard_remove(sh, shard_link(sh, e->hash, e->data, e->blen, e->data + e->blen + 1,
                                    e->klen));
}

/* Adds e, which must not be present, evicting to make room. */
static void shard_insert(struct wal_ocshard *sh, struct ocent *e)
{
    struct ocent **head;

    while (sh->hand && (sh->n + 1 > sh->cap || sh->bytes + e->charge > sh->cap_bytes))
        shard_evict_one(sh);
    head = &sh->tab[e->hash & sh->mask];
    e->hnext = *head;
    *head = e;
    ring_insert(sh, e);
    sh->n++;
    sh->bytes += e->charge;
}

/* A new entry for (bucket, key): the row m, or absent when m is NULL.
 * NULL when out of memory or too large to be worth a slot. */
static struct ocent *ent_new(const struct wal_ocshard *sh, uint64_t h, const char *bucket,
                             size_t bl, const char *key, size_t kl, const struct wal_meta *m)
{
    const char *hdrs[WAL_NHDR] = { NULL };
    size_t hl[WAL_NHDR] = { 0 }, dlen = bl + 1 + kl + 1, off;
    struct ocent *e;

    if (m) {
        hdrs[WAL_HDR_CONTENT_TYPE] = m->content_type;
        hdrs[WAL_HDR_CONTENT_ENCODING] = m->content_encoding;
        hdrs[WAL_HDR_CONTENT_DISPOSITION] = m->content_disposition;
        hdrs[WAL_HDR_CONTENT_LANGUAGE] = m->content_language;
        hdrs[WAL_HDR_CACHE_CONTROL] = m->cache_control;
        hdrs[WAL_HDR_EXPIRES] = m->expires;
        hdrs[WAL_HDR_USER_META] = m->user_meta;
    }
    for (int i = 0; i < WAL_NHDR; i++) {
        if (hdrs[i]) {
            hl[i] = strlen(hdrs[i]);
            dlen += hl[i] + 1;
        }
    }
    if (sizeof(*e) + dlen > sh->cap_bytes / 2 || dlen >= HOFF_NULL)
        return NULL;
    e = malloc(sizeof(*e) + dlen);
    if (!e)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->charge = sizeof(*e) + dlen;
    e->blen = (uint32_t)bl;
    e->klen = (uint32_t)kl;
    e->dlen = (uint32_t)dlen;
    memcpy(e->data, bucket, bl);
    e->data[bl] = '\0';
    memcpy(e->data + bl + 1, key, kl);
    e->data[bl + 1 + kl] = '\0';
    off = bl + 1 + kl + 1;
    for (int i = 0; i < WAL_NHDR; i++) {
        if (!hdrs[i]) {
            e->hoff[i] = HOFF_NULL;
            continue;
        }
        e->hoff[i] = (uint32_t)off;
        memcpy(e->data + off, hdrs[i], hl[i] + 1);
        off += hl[i] + 1;
    }
    if (!m) {
        e->absent = 1;
        return e;
    }
    memcpy(e->m.id, m->id, sizeof(e->m.id));
    e->m.size = m->size;
    memcpy(e->m.etag, m->etag, sizeof(e->m.etag));
    e->m.mtime_ms = m->mtime_ms;
    memcpy(e->m.owner, m->owner, sizeof(e->m.owner));
    memcpy(e->m.acl, m->acl, sizeof(e->m.acl));
    return e;
}

/* Fills out from e; strings (bucket and key too) in one arena block. */
static void ent_copy_out(const struct ocent *e, struct oc_arena *a, struct wal_meta *out)
{
    const char **hdrs[WAL_NHDR] = {
        &out->content_type, &out->content_encoding, &out->content_disposition,
        &out->content_language, &out->cache_control, &out->expires, &out->user_meta,
    };
    char *d = oc_arena_alloc(a, e->dlen);

    memcpy(d, e->data, e->dlen);
    *out = e->m;
    out->bucket = d;
    out->key = d + e->blen + 1;
    for (int i = 0; i < WAL_NHDR; i++)
        *hdrs[i] = e->hoff[i] == HOFF_NULL ? NULL : d + e->hoff[i];
}

enum wal_cache_res wal_ocache_get(struct wal_store *s, struct oc_arena *a, const char *bucket,
                                  const char *key, struct wal_meta *out,
                                  struct wal_cache_ticket *t)
{
    struct wal_ocache *c = s->ocache;
    struct wal_ocshard *sh;
    struct ocent *e;
    enum wal_cache_res res;
    struct ockey k;

    t->shard = NULL;
    if (!c)
        return WAL_CACHE_MISS;
    ockey_of(c, bucket, key, &k);
    sh = k.sh;
    pthread_rwlock_rdlock(&sh->lock);
    e = *ockey_link(&k);
    if (e) {
        /* Other hits may hold the lock too; skip the store when set so a
         * hot entry's line is not written on every hit. */
        if (!__atomic_load_n(&e->ref, __ATOMIC_RELAXED))
            __atomic_store_n(&e->ref, 1, __ATOMIC_RELAXED);
        if (e->absent) {
            res = WAL_CACHE_ABSENT;
        } else {
            ent_copy_out(e, a, out);
            res = WAL_CACHE_HIT;
        }
    } else {
        /* With a commit under way in the shard, what SQLite returns may be
         * superseded before it could be inserted: do not offer it. */
        if (!sh->writers) {
            t->shard = sh;
            t->seq = sh->seq;
            t->hash = k.h;
        }
        res = WAL_CACHE_MISS;
    }
    pthread_rwlock_unlock(&sh->lock);
    return res;
}

void wal_ocache_fill(struct wal_store *s, const struct wal_cache_ticket *t, const char *bucket,
                     const char *key, const struct wal_meta *m)
{
    struct wal_ocshard *sh = t->shard;
    size_t bl, kl;
    struct ocent *e;

    (void)s;
    if (!sh)
        return;
    bl = strlen(bucket);
    kl = strlen(key);
    e = ent_new(sh, t->hash, bucket, bl, key, kl, m);
    if (!e)
        return;
    pthread_rwlock_wrlock(&sh->lock);
    /* Unchanged sequence: no commit began or ended in the shard since the
     * miss, so the row read after it is still the committed one.  Another
     * reader may have inserted the same row meanwhile. */
    if (sh->seq == t->seq && !*shard_link(sh, t->hash, bucket, bl, key, kl)) {
        shard_insert(sh, e);
        e = NULL;
    }
    pthread_rwlock_unlock(&sh->lock);
    free(e);
}

void wal_ocache_write_begin(struct wal_store *s, const char *bucket, const char *key)
{
    struct wal_ocache *c = s->ocache;
    struct wal_ocshard *sh;
    struct ocent **l;
    struct ockey k;

    if (!c)
        return;
    ockey_of(c, bucket, key, &k);
    sh = k.sh;
    pthread_rwlock_wrlock(&sh->lock);
    l = ockey_link(&k);
    if (*l)
        shard_remove(sh, l);
    sh->writers++;
    sh->seq++;
    pthread_rwlock_unlock(&sh->lock);
}

void wal_ocache_write_end(struct wal_store *s, const char *bucket, const char *key,
                          enum wal_cache_set how, const struct wal_meta *m)
{
    struct wal_ocache *c = s->ocache;
    struct ocent *e = NULL, **l;
    struct wal_ocshard *sh;
    struct ockey k;

    if (!c)
        return;
    ockey_of(c, bucket, key, &k);
    sh = k.sh;
    if (how != WAL_CACHE_DROP)
        e = ent_new(sh, k.h, bucket, k.bl, key, k.kl, how == WAL_CACHE_SET_ROW ? m : NULL);
    pthread_rwlock_wrlock(&sh->lock);
    /* Present when an earlier job of the same batch wrote the key. */
    l = ockey_link(&k);
    if (*l)
        shard_remove(sh, l);
    if (e)
        shard_insert(sh, e);
    sh->writers--;
    sh->seq++;
    pthread_rwlock_unlock(&sh->lock);
}

void wal_ocache_forget(struct wal_store *s, const char *bucket, const char *key, const char *id)
{
    struct wal_ocache *c = s->ocache;
    struct wal_ocshard *sh;
    struct ocent **l;
    struct ockey k;

    if (!c)
        return;
    ockey_of(c, bucket, key, &k);
    sh = k.sh;
    pthread_rwlock_wrlock(&sh->lock);
    l = ockey_link(&k);
    if (*l && !(*l)->absent && strcmp((*l)->m.id, id) == 0)
        shard_remove(sh, l);
    pthread_rwlock_unlock(&sh->lock);
}

void wal_ocache_purge_bucket(struct wal_store *s, const char *bucket)
{
    struct wal_ocache *c = s->ocache;
    size_t bl = strlen(bucket);

    if (!c)
        return;
    for (unsigned i = 0; i < c->nshards; i++) {
        struct wal_ocshard *sh = &c->shards[i];

        pthread_rwlock_wrlock(&sh->lock);
        for (size_t j = 0; j <= sh->mask; j++) {
            struct ocent **l = &sh->tab[j];

            while (*l) {
                if ((*l)->blen == bl && memcmp((*l)->data, bucket, bl) == 0)
                    shard_remove(sh, l);
                else
                    l = &(*l)->hnext;
            }
        }
        pthread_rwlock_unlock(&sh->lock);
    }
}
