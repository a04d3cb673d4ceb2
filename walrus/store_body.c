/*
 * store_body.c - the bytes of small objects kept in memory, by file id.
 *
 * A small GET otherwise pays an openat() (a path walk through objects/xx/),
 * a pread() and a close() for a few KiB: on a keep-alive connection that is
 * a quarter of the request.  A file id names one version of one object and
 * its bytes never change while the id exists (an overwrite commits a new
 * id; a recycled file is renamed to a new random id), so bytes read once
 * stay right for that id without any invalidation.  Entries for ids that
 * were overwritten or deleted are simply never asked for again and age out.
 *
 * Bodies are counted references: the cache holds one, each response being
 * sent holds one, so an entry evicted while it is on the wire stays alive
 * until libmicrohttpd lets go of it.  Shards by id, each with its own lock,
 * byte budget and CLOCK hand; a new entry starts unreferenced, so a scan
 * of one-off objects evicts itself before the hot ones.
 */
#include "walrus/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "walrus/store_priv.h"

#define BODY_SHARDS 16

struct wal_body {
    atomic_uint refs;
    unsigned char ref_bit;        /* hit since the hand last passed */
    size_t len;
    struct wal_body *chain;       /* hash chain in the shard */
    char id[WAL_ID_LEN + 1];
    unsigned char data[];
};

struct body_shard {
    pthread_mutex_t lock;
    struct wal_body **buckets;    /* nbuckets chains */
    size_t nbuckets;
    struct wal_body **ring;       /* CLOCK ring: every entry once, or NULL */
    size_t nring, hand;
    size_t bytes, max_bytes;
};

struct wal_bodies {
    struct body_shard shard[BODY_SHARDS];
};

/* Ids are random hex from oc_random_hex: their leading digits hash well. */
static uint64_t id_hash(const char *id)
{
    uint64_t h = 0;

    for (int i = 0; i < 16 && id[i]; i++) {
        char c = id[i];

        h = h << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return h;
}

const void *wal_body_data(const struct wal_body *b)
{
    return b->data;
}

size_t wal_body_len(const struct wal_body *b)
{
    return b->len;
}

void wal_body_put(struct wal_body *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

static void body_get(struct wal_body *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
}

void wal_bodies_free(struct wal_store *s)
{
    struct wal_bodies *bc = s->bodies;

    if (!bc)
        return;
    for (int i = 0; i < BODY_SHARDS; i++) {
        struct body_shard *sh = &bc->shard[i];

        for (size_t k = 0; k < sh->nring; k++)
            wal_body_put(sh->ring[k]);
        free(sh->ring);
        free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    free(bc);
    s->bodies = NULL;
}

int wal_bodies_new(struct wal_store *s, size_t max_bytes, struct oc_err *err)
{
    struct wal_bodies *bc;
    size_t per = max_bytes / BODY_SHARDS;
    /* Room for a shard full of the smallest bodies we expect (1 KiB). */
    size_t slots = per / 1024 + 16;

    wal_bodies_free(s);
    if (max_bytes == 0)
        return OC_OK;
    if (per < WAL_BODY_MAX)
        return oc_err_set(err, OC_EINVAL, "body cache of %zu bytes is below %d per shard",
                          max_bytes, WAL_BODY_MAX);
    bc = calloc(1, sizeof(*bc));
    if (!bc)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (int i = 0; i < BODY_SHARDS; i++) {
        struct body_shard *sh = &bc->shard[i];

        pthread_mutex_init(&sh->lock, NULL);
        sh->max_bytes = per;
        sh->nbuckets = slots;
        sh->buckets = calloc(slots, sizeof(*sh->buckets));
        sh->ring = calloc(slots, sizeof(*sh->ring));
        if (!sh->buckets || !sh->ring) {
            s->bodies = bc;
            wal_bodies_free(s);
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        }
    }
    s->bodies = bc;
    return OC_OK;
}

static struct body_shard *shard_of(struct wal_bodies *bc, uint64_t h)
{
    return &bc->shard[h % BODY_SHARDS];
}

static struct wal_body **chain_of(struct body_shard *sh, uint64_t h)
{
    return &sh->buckets[(h / BODY_SHARDS) % sh->nbuckets];
}

static void shard_unlink(struct body_shard *sh, struct wal_body *b, uint64_t h)
{
    for (struct wal_body **pp = chain_of(sh, h); *pp; pp = &(*pp)->chain)
        if (*pp == b) {
            *pp = b->chain;
            return;
        }
}

/* Evicts by CLOCK until need more bytes and one more ring slot fit.  Under sh->lock. */
static int shard_make_room(struct body_shard *sh, size_t need)
{
    size_t sweeps = 0;

    while (sh->nring > 0 && (sh->bytes + need > sh->max_bytes || sh->nring == sh->nbuckets)) {
        struct wal_body *b;

        if (sh->hand >= sh->nring)
            sh->hand = 0;
        b = sh->ring[sh->hand];
        if (b->ref_bit && sweeps < 2 * sh->nbuckets) {
            b->ref_bit = 0;
            sh->hand++;
            sweeps++;
            continue;
        }
        shard_unlink(sh, b, id_hash(b->id));
        sh->bytes -= b->len;
        sh->ring[sh->hand] = sh->ring[--sh->nring];
        wal_body_put(b);
    }
    return sh->bytes + need <= sh->max_bytes && sh->nring < sh->nbuckets;
}

static struct wal_body *bodies_lookup(struct wal_bodies *bc, const char *id)
{
    uint64_t h = id_hash(id);
    struct body_shard *sh = shard_of(bc, h);
    struct wal_body *b;

    pthread_mutex_lock(&sh->lock);
    for (b = *chain_of(sh, h); b; b = b->chain)
        if (memcmp(b->id, id, WAL_ID_LEN) == 0) {
            b->ref_bit = 1;
            body_get(b);
            break;
        }
    pthread_mutex_unlock(&sh->lock);
    return b;
}

/* Keeps b (the cache takes a reference of its own) unless the id is already there. */
static void bodies_insert(struct wal_bodies *bc, struct wal_body *b)
{
    uint64_t h = id_hash(b->id);
    struct body_shard *sh = shard_of(bc, h);

    pthread_mutex_lock(&sh->lock);
    for (struct wal_body *o = *chain_of(sh, h); o; o = o->chain)
        if (memcmp(o->id, b->id, WAL_ID_LEN) == 0)
            goto out;
    if (!shard_make_room(sh, b->len))
        goto out;
    body_get(b);
    b->chain = *chain_of(sh, h);
    *chain_of(sh, h) = b;
    sh->ring[sh->nring++] = b;
    sh->bytes += b->len;
out:
    pthread_mutex_unlock(&sh->lock);
}

static struct wal_body *body_new(const char *id, uint64_t size)
{
    struct wal_body *b = malloc(sizeof(*b) + (size_t)size);

    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->ref_bit = 0;
    b->len = (size_t)size;
    b->chain = NULL;
    memcpy(b->id, id, sizeof(b->id));
    return b;
}

/* Reads the whole file; NULL (errno set) when short, unreadable or out of memory. */
static struct wal_body *body_read(int fd, const char *id, uint64_t size)
{
    struct wal_body *b = body_new(id, size);
    size_t got = 0;

    if (!b)
        return NULL;
    while (got < size) {
        ssize_t n = pread(fd, b->data + got, (size_t)size - got, (off_t)got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            free(b);
            if (n == 0)
                errno = EIO;
            return NULL;
        }
        got += (size_t)n;
    }
    return b;
}

/*
 * An inline object (at most WAL_INLINE_MAX <= WAL_BODY_MAX bytes) always
 * comes back as a body: from the cache, else read from its blob.  A blob
 * gone meanwhile means an overwrite or delete committed: look again.
 * OC_EAGAIN when the key now names a file.
 */
static int inline_fetch(struct wal_store *s, struct oc_arena *a, const char *bucket,
                        const char *key, struct wal_meta *out, struct wal_body **body,
                        struct oc_err *err)
{
    for (int attempt = 0;; attempt++) {
        struct wal_body *b;
        int rc;

        if (!wal_id_inline(out->id))
            return OC_EAGAIN;
        if (s->bodies && (*body = bodies_lookup(s->bodies, out->id)) != NULL)
            return OC_OK;
        b = body_new(out->id, out->size);
        if (!b)
            return oc_err_set(err, OC_ENOMEM, "out of memory");
        rc = wal_inline_read(s, out->id, b->data, out->size, err);
        if (rc == OC_OK) {
            if (s->bodies)
                bodies_insert(s->bodies, b);
            *body = b;
            return OC_OK;
        }
        free(b);
        if (rc != OC_ENOTFOUND || attempt == 100)
            return rc;
        wal_ocache_forget(s, bucket, key, out->id);
        rc = wal_object_head(s, a, bucket, key, out, err);
        if (rc)
            return rc;
    }
}

int wal_object_fetch(struct wal_store *s, struct oc_arena *a, const char *bucket,
                     const char *key, struct wal_meta *out, int *fd, struct wal_body **body,
                     struct oc_err *err)
{
    int rc;

    *fd = -1;
    *body = NULL;
    rc = wal_object_head(s, a, bucket, key, out, err);
    if (rc)
        return rc;
    if (wal_id_inline(out->id)) {
        rc = inline_fetch(s, a, bucket, key, out, body, err);
        if (rc != OC_EAGAIN)
            return rc;
    }
    if (s->bodies && out->size <= WAL_BODY_MAX) {
        *body = bodies_lookup(s->bodies, out->id);
        if (*body)
            return OC_OK;
    }
    rc = wal_object_open(s, a, bucket, key, out, fd, err);
    if (rc || !s->bodies || out->size > WAL_BODY_MAX)
        return rc;
    /* A file shorter than its row stays an fd: the caller reports the damage. */
    *body = body_read(*fd, out->id, out->size);
    if (!*body)
        return OC_OK;
    close(*fd);
    *fd = -1;
    bodies_insert(s->bodies, *body);
    return OC_OK;
}

int wal_store_set_body_cache(struct wal_store *s, size_t bytes, struct oc_err *err)
{
    return wal_bodies_new(s, bytes, err);
}
