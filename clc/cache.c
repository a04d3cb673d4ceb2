/*
 * cache.c - the generation of clc.db and the answer cache (cache.h).
 *
 * The generation check reads the WAL-index header: the first 48 bytes of
 * clc.db-shm, which every SQLite connection, ours or anyone's, rewrites
 * when it commits (its change counter, frame count and checksums move;
 * https://www.sqlite.org/walformat.html).  The file is mapped read-only, so
 * the check is a 48-byte compare with no system call and no lock: a torn
 * read during a commit only looks like one more change.  When the mapping
 * cannot be made, the check is `PRAGMA data_version` on a private
 * connection instead: a read transaction, with its fcntl() locks, which
 * cost a tenth of a cached answer.  Either way the watcher connection
 * stays open, so the -shm file is never removed under the mapping.
 *
 * The cache is a hash table with chains plus an LRU list, under one mutex.
 * Chains are cut at RC_CHAIN_MAX entries, so keys chosen to collide (they
 * come from requests) cost a bounded number of comparisons; the hash is
 * seeded at random per process for the same reason.
 */
#include "clc/cache.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/creds.h"
#include "common/db.h"
#include "common/query.h"

#define RC_CHAIN_MAX 8
#define RC_DEFAULT_ENTRIES 4096
/* One answer may take at most this share of the byte budget. */
#define RC_ENTRY_SHARE 4

/* ------------------------------------------------------------------ */
/* generation */

#define WAL_HDR_LEN 48             /* the first copy of WalIndexHdr */

struct clc_dbgen {
    pthread_mutex_t lock;          /* the connection and the fields below */
    struct oc_db *db;
    sqlite3_int64 last_version;
    int have_version;
    uint64_t gen;
    const unsigned char *shm;      /* clc.db-shm mapped read-only, or NULL */
    size_t shm_len;
    unsigned char last_hdr[WAL_HDR_LEN];
};

/* Maps the -shm file of g->db (after a read transaction made it exist). */
static void dbgen_map_shm(struct clc_dbgen *g)
{
    const char *main_path = sqlite3_db_filename(oc_db_handle(g->db), "main");
    char path[4096];
    struct stat st;
    void *m;
    int fd;

    if (!main_path || !*main_path ||
        snprintf(path, sizeof(path), "%s-shm", main_path) >= (int)sizeof(path))
        return;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    if (fstat(fd, &st) != 0 || st.st_size < WAL_HDR_LEN) {
        close(fd);
        return;
    }
    m = mmap(NULL, WAL_HDR_LEN, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return;
    g->shm = m;
    g->shm_len = WAL_HDR_LEN;
    memcpy(g->last_hdr, g->shm, WAL_HDR_LEN);
}

int clc_dbgen_open(const char *db_path, struct clc_dbgen **out, struct oc_err *err)
{
    struct clc_dbgen *g = calloc(1, sizeof(*g));
    int rc;

    if (!g)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = oc_db_open(db_path, NULL, 0, &g->db, err);
    if (rc) {
        free(g);
        return rc;
    }
    pthread_mutex_init(&g->lock, NULL);
    g->gen = 1;
    *out = g;
    /* The first check records the version the file has now (and, in WAL
     * mode, makes the -shm file exist). */
    clc_dbgen_now(g);
    dbgen_map_shm(g);
    return OC_OK;
}

void clc_dbgen_free(struct clc_dbgen *g)
{
    if (!g)
        return;
    if (g->shm)
        munmap((void *)(uintptr_t)g->shm, g->shm_len);
    oc_db_close(g->db);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

uint64_t clc_dbgen_now(struct clc_dbgen *g)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    uint64_t gen = 0;

    if (g->shm) {
        unsigned char hdr[WAL_HDR_LEN];

        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        memcpy(hdr, g->shm, WAL_HDR_LEN);
        pthread_mutex_lock(&g->lock);
        if (memcmp(hdr, g->last_hdr, WAL_HDR_LEN) != 0) {
            memcpy(g->last_hdr, hdr, WAL_HDR_LEN);
            g->gen++;
        }
        gen = g->gen;
        pthread_mutex_unlock(&g->lock);
        return gen;
    }
    pthread_mutex_lock(&g->lock);
    st = oc_db_prepare(g->db, "PRAGMA data_version", &err);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 v = sqlite3_column_int64(st, 0);

        if (g->have_version && v != g->last_version)
            g->gen++;
        g->last_version = v;
        g->have_version = 1;
        gen = g->gen;
    }
    if (st)
        sqlite3_reset(st);
    pthread_mutex_unlock(&g->lock);
    return gen;
}

int clc_dbgen_mapped(const struct clc_dbgen *g)
{
    return g->shm != NULL;
}

/* ------------------------------------------------------------------ */
/* configuration */

static int parse_size(const char *s, size_t len, int suffixes, size_t *out)
{
    unsigned long long v = 0, mult = 1;

    if (len && suffixes) {
        switch (s[len - 1]) {
        case 'k': case 'K': mult = 1024ULL; len--; break;
        case 'm': case 'M': mult = 1024ULL * 1024; len--; break;
        case 'g': case 'G': mult = 1024ULL * 1024 * 1024; len--; break;
        default: break;
        }
    }
    if (len == 0 || len > 12)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long long)(s[i] - '0');
    }
    if (v > SIZE_MAX / mult)
        return -1;
    *out = (size_t)(v * mult);
    return 0;
}

int clc_rcache_conf(const char *text, size_t *max_bytes, size_t *max_entries,
                    struct oc_err *err)
{
    const char *comma = strchr(text, ',');
    size_t blen = comma ? (size_t)(comma - text) : strlen(text);

    *max_bytes = 0;
    *max_entries = RC_DEFAULT_ENTRIES;
    if (parse_size(text, blen, 1, max_bytes) ||
        (comma && parse_size(comma + 1, strlen(comma + 1), 0, max_entries)))
        return oc_err_set(err, OC_EINVAL, "CLC_DESCRIBE_CACHE=\"%.64s\" is not BYTES[,ENTRIES]"
                          " (e.g. \"32M,4096\"; \"0\" turns the cache off)", text);
    if (*max_bytes == 0 || *max_entries == 0)
        *max_bytes = *max_entries = 0;
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* keys */

static int put_str(struct oc_buf *b, const char *s)
{
    uint32_t n = (uint32_t)strlen(s);

    if (oc_buf_append(b, &n, sizeof(n)))
        return OC_ENOMEM;
    return oc_buf_append(b, s, n);
}

/* Parameters that only carry the signature: they change with every
 * request and no handler reads them. */
static int is_auth_param(const char *name)
{
    static const char *const names[] = {
        "AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "Timestamp",
        "Expires", NULL,
    };

    if (strncmp(name, "X-Amz-", 6) == 0)
        return 1;
    for (size_t i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

struct param_ref {
    const struct oc_kv *kv;
    size_t at;                  /* position in the request: keeps the sort stable */
};

static int cmp_param(const void *x, const void *y)
{
    const struct param_ref *a = x, *b = y;
    int c = strcmp(a->kv->name, b->kv->name);

    if (c)
        return c;
    return a->at < b->at ? -1 : a->at > b->at;
}

int clc_rcache_key(int api, const struct oc_principal *who, const struct oc_query *params,
                   struct oc_buf *key)
{
    struct param_ref small[32], *refs = small;
    unsigned char head[2] = { (unsigned char)api, (unsigned char)(who->is_admin != 0) };
    size_t n = 0;
    int rc;

    if (params->n > sizeof(small) / sizeof(small[0])) {
        refs = calloc(params->n, sizeof(*refs));
        if (!refs)
            return OC_ENOMEM;
    }
    for (size_t i = 0; i < params->n; i++) {
        if (is_auth_param(params->items[i].name))
            continue;
        refs[n].kv = &params->items[i];
        refs[n].at = i;
        n++;
    }
    qsort(refs, n, sizeof(*refs), cmp_param);
    rc = oc_buf_append(key, head, sizeof(head));
    if (rc == OC_OK)
        rc = put_str(key, who->account_id);
    if (rc == OC_OK)
        rc = put_str(key, who->user_name);
    for (size_t i = 0; i < n && rc == OC_OK; i++) {
        unsigned char has = (unsigned char)(refs[i].kv->has_value != 0);

        rc = put_str(key, refs[i].kv->name);
        if (rc == OC_OK)
            rc = oc_buf_append(key, &has, 1);
        if (rc == OC_OK)
            rc = put_str(key, refs[i].kv->value);
    }
    if (refs != small)
        free(refs);
    return rc;
}

/* ------------------------------------------------------------------ */
/* the table */

struct rc_entry {
    struct rc_entry *hnext;           /* bucket chain */
    struct rc_entry *prev, *next;     /* LRU list, most recent first */
    uint64_t hash, gen;
    size_t keylen, doclen, cost;
    size_t rid_at, rid_len;           /* the request id inside doc */
    int lent;                         /* doc is being sent by reference */
    int dropped;                      /* out of the table; freed when returned */
    struct clc_rcache *cache;
    char *doc;                        /* after the key, same allocation */
    char key[];
};

struct clc_rcache {
    pthread_mutex_t lock;             /* everything below */
    struct rc_entry **buckets;
    size_t nbuckets;                  /* a power of two */
    struct rc_entry *head, *tail;
    size_t entries, bytes, max_entries, max_bytes;
    uint64_t seed, hits, misses, stores;
};

int clc_rcache_new(size_t max_bytes, size_t max_entries, struct clc_rcache **out,
                   struct oc_err *err)
{
    struct clc_rcache *c;
    size_t nb = 16;

    *out = NULL;
    if (max_bytes == 0 || max_entries == 0)
        return OC_OK;
    while (nb < max_entries && nb < ((size_t)1 << 24))
        nb *= 2;
    c = calloc(1, sizeof(*c));
    if (!c || !(c->buckets = calloc(nb, sizeof(*c->buckets)))) {
        free(c);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&c->lock, NULL);
    c->nbuckets = nb;
    c->max_bytes = max_bytes;
    c->max_entries = max_entries;
    oc_random_bytes((unsigned char *)&c->seed, sizeof(c->seed));
    *out = c;
    return OC_OK;
}

void clc_rcache_free(struct clc_rcache *c)
{
    if (!c)
        return;
    while (c->head) {
        struct rc_entry *e = c->head;

        c->head = e->next;
        free(e);
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* FNV-1a over the key, from a per-process random basis. */
static uint64_t rc_hash(const struct clc_rcache *c, const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 14695981039346656037ULL ^ c->seed;

    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void rc_lru_unlink(struct clc_rcache *c, struct rc_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void rc_lru_push(struct clc_rcache *c, struct rc_entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

/* Unlinks e from its chain and the list and frees it. */
static void rc_drop(struct clc_rcache *c, struct rc_entry *e)
{
    struct rc_entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];

    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = e->hnext;
    rc_lru_unlink(c, e);
    c->entries--;
    c->bytes -= e->cost;
    if (e->lent)
        e->dropped = 1;         /* clc_rcache_return frees it */
    else
        free(e);
}

static struct rc_entry *rc_find(struct clc_rcache *c, uint64_t h, const struct oc_buf *key)
{
    for (struct rc_entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && e->keylen == key->len && memcmp(e->key, key->data, key->len) == 0)
            return e;
    return NULL;
}

int clc_rcache_get(struct clc_rcache *c, const struct oc_buf *key, uint64_t gen,
                   const char *request_id, struct oc_buf *out, struct clc_rcache_lend *lend)
{
    uint64_t h;
    struct rc_entry *e;
    int hit = 0;

    if (!c || !gen || !key->len)
        return 0;
    h = rc_hash(c, key->data, key->len);
    pthread_mutex_lock(&c->lock);
    e = rc_find(c, h, key);
    if (e && e->gen != gen) {
        /* Made before a write: it will never be valid again. */
        rc_drop(c, e);
        e = NULL;
    }
    if (e && lend && !e->lent && e->rid_len == strlen(request_id)) {
        /* Nobody is sending this document: it takes this request's id in
         * place and goes out as it is, no copy (ids are all one length). */
        memcpy(e->doc + e->rid_at, request_id, e->rid_len);
        e->lent = 1;
        lend->doc = e->doc;
        lend->len = e->doclen;
        lend->entry = e;
        rc_lru_unlink(c, e);
        rc_lru_push(c, e);
        hit = 2;
    } else if (e) {
        size_t tail = e->rid_at + e->rid_len;

        /* The copy is made under the lock: an entry may be dropped as
         * soon as it is released.  The answer needs a copy anyway (its
         * requestId differs), so this is the only one. */
        if (oc_buf_reserve(out, e->doclen + strlen(request_id)) == OC_OK &&
            oc_buf_append(out, e->doc, e->rid_at) == OC_OK &&
            oc_buf_puts(out, request_id) == OC_OK &&
            oc_buf_append(out, e->doc + tail, e->doclen - tail) == OC_OK) {
            rc_lru_unlink(c, e);
            rc_lru_push(c, e);
            hit = 1;
        } else {
            oc_buf_reset(out);
        }
    }
    if (hit)
        c->hits++;
    else
        c->misses++;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void clc_rcache_return(void *entry)
{
    struct rc_entry *e = entry;
    struct clc_rcache *c = e->cache;

    pthread_mutex_lock(&c->lock);
    e->lent = 0;
    if (e->dropped)
        free(e);
    pthread_mutex_unlock(&c->lock);
}

void clc_rcache_put(struct clc_rcache *c, const struct oc_buf *key, uint64_t gen,
                    const char *request_id, const char *doc, size_t len)
{
    static const char open[] = "<requestId>", close[] = "</requestId>";
    size_t ridlen = strlen(request_id), cost, chain = 0;
    char *needle;
    const char *at;
    struct rc_entry *e, **pp;
    uint64_t h;

    if (!c || !gen || !key->len || !ridlen)
        return;
    cost = sizeof(*e) + key->len + len;
    if (cost > c->max_bytes / RC_ENTRY_SHARE)
        return;
    needle = malloc(sizeof(open) + ridlen + sizeof(close));
    if (!needle)
        return;
    memcpy(needle, open, sizeof(open) - 1);
    memcpy(needle + sizeof(open) - 1, request_id, ridlen);
    memcpy(needle + sizeof(open) - 1 + ridlen, close, sizeof(close));
    at = memmem(doc, len, needle, strlen(needle));
    free(needle);
    if (!at)
        return;
    e = malloc(sizeof(*e) + key->len + len);
    if (!e)
        return;
    memset(e, 0, sizeof(*e));
    h = rc_hash(c, key->data, key->len);
    e->cache = c;
    e->hash = h;
    e->gen = gen;
    e->keylen = key->len;
    e->doclen = len;
    e->cost = cost;
    e->rid_at = (size_t)(at - doc) + sizeof(open) - 1;
    e->rid_len = ridlen;
    memcpy(e->key, key->data, key->len);
    e->doc = e->key + key->len;
    memcpy(e->doc, doc, len);

    pthread_mutex_lock(&c->lock);
    {
        struct rc_entry *old = rc_find(c, h, key);

        if (old)
            rc_drop(c, old);
    }
    while (c->tail && (c->entries + 1 > c->max_entries || c->bytes + cost > c->max_bytes))
        rc_drop(c, c->tail);
    /* A long chain loses its last (oldest inserted) entry. */
    pp = &c->buckets[h & (c->nbuckets - 1)];
    for (struct rc_entry *x = *pp; x; x = x->hnext)
        chain++;
    if (chain >= RC_CHAIN_MAX) {
        struct rc_entry *last = *pp;

        while (last->hnext)
            last = last->hnext;
        rc_drop(c, last);
    }
    e->hnext = *pp;
    *pp = e;
    rc_lru_push(c, e);
    c->entries++;
    c->bytes += cost;
    c->stores++;
    pthread_mutex_unlock(&c->lock);
}

void clc_rcache_stats(struct clc_rcache *c, struct clc_rcache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    out->hits = c->hits;
    out->misses = c->misses;
    out->stores = c->stores;
    out->entries = c->entries;
    out->bytes = c->bytes;
    out->max_entries = c->max_entries;
    out->max_bytes = c->max_bytes;
    pthread_mutex_unlock(&c->lock);
}
