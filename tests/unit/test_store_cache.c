/*
 * test_store_cache.c - the store's in-memory metadata cache (store_cache.c):
 * exactness against SQLite, writes visible at once, eviction, and readers
 * racing writers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/codec.h"
#include "common/db.h"
#include "tests/unit/harness.h"
#include "walrus/store.h"
#include "tests/unit/store_fixtures.h"

/* ---- the metadata cache (store_cache.c) ---- */

/*
 * Changes walrus.db behind the store's back.  What the store then returns
 * shows where its answer came from: the old value means its cache, the new
 * one means SQLite.
 */
static int sneak_sql(const char *name, const char *sql)
{
    char path[512];
    struct oc_db *db = NULL;
    struct oc_err err = { 0 };
    int rc;

    snprintf(path, sizeof(path), "%s/walrus.db", store_dir(name));
    rc = oc_db_open(path, NULL, 0, &db, &err);
    if (rc == OC_OK)
        rc = oc_db_exec(db, sql, &err);
    if (rc)
        printf("  sneak_sql: %s\n", err.msg);
    oc_db_close(db);
    return rc;
}

static struct wal_store *open_store_cache(const char *name, size_t objects)
{
    struct wal_store *s = open_store(name);

    if (s)
        CHECK_INT(wal_store_set_cache_size(s, objects, NULL), OC_OK);
    return s;
}

/* PUT with the headers and ACL of tmpl. */
static int put_meta(struct wal_store *s, const char *bucket, const char *key, const char *data,
                    const struct wal_meta *tmpl, struct wal_meta *out)
{
    struct wal_put *p;
    struct wal_meta m = *tmpl;
    int rc = wal_put_begin(s, &p, NULL);

    if (rc)
        return rc;
    rc = wal_put_write(p, data, strlen(data), NULL);
    if (rc) {
        wal_put_abort(p);
        return rc;
    }
    m.bucket = bucket;
    m.key = key;
    m.id[0] = m.etag[0] = '\0';
    if (!m.owner[0])
        snprintf(m.owner, sizeof(m.owner), OWNER);
    rc = wal_put_commit(p, &m, NULL);
    if (out)
        *out = m;
    return rc;
}

static int str_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Every field, telling NULL from "", reported at the caller's line. */
#define CHECK_META(a, b) check_meta(__LINE__, (a), (b))
static void check_meta(int line, const struct wal_meta *a, const struct wal_meta *b)
{
    const char *as[] = { a->bucket, a->key, a->id, a->etag, a->owner, a->acl,
                         a->content_type, a->content_encoding, a->content_disposition,
                         a->content_language, a->cache_control, a->expires, a->user_meta };
    const char *bs[] = { b->bucket, b->key, b->id, b->etag, b->owner, b->acl,
                         b->content_type, b->content_encoding, b->content_disposition,
                         b->content_language, b->cache_control, b->expires, b->user_meta };

    for (size_t i = 0; i < sizeof(as) / sizeof(as[0]); i++)
        if (!str_same(as[i], bs[i]))
            oc_test_fail(__FILE__, line, "meta field %zu: \"%s\" vs \"%s\"", i,
                         as[i] ? as[i] : "(null)", bs[i] ? bs[i] : "(null)");
    if (a->size != b->size || a->mtime_ms != b->mtime_ms)
        oc_test_fail(__FILE__, line, "meta size/mtime differ");
}

static int bytes_are(struct wal_store *s, const char *bucket, const char *key, const char *want)
{
    char *back = NULL;
    size_t len = 0;
    int ok = get_bytes(s, bucket, key, &back, &len) == OC_OK && len == strlen(want) &&
             memcmp(back, want, len) == 0;

    free(back);
    return ok;
}

#define NCM 4
OC_TEST(store_cache_matches_sqlite)
{
    static const char *const keys[NCM] = { "plain", "full", "empty", "\xc3\xa9/k\xc3\xa9y" };
    struct wal_meta tm[NCM], wt[NCM], sq[NCM], got;
    struct wal_store *s = open_store("cmatch");
    struct oc_arena *a = oc_arena_new();
    struct wal_bucket b;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    memset(tm, 0, sizeof(tm));
    tm[1].content_type = "text/html; charset=utf-8";
    tm[1].content_encoding = "gzip";
    tm[1].content_disposition = "attachment; filename=\"x.html\"";
    tm[1].content_language = "fr";
    tm[1].cache_control = "no-cache";
    tm[1].expires = "Thu, 01 Dec 1994 16:00:00 GMT";
    tm[1].user_meta = "x-amz-meta-a: 1\nx-amz-meta-b: two words\n";
    snprintf(tm[1].acl, sizeof(tm[1].acl), "public-read");
    tm[2].content_type = tm[2].content_encoding = tm[2].content_disposition = "";
    tm[2].content_language = tm[2].cache_control = tm[2].expires = tm[2].user_meta = "";
    tm[3].user_meta = "x-amz-meta-\xc3\xa9: \xc3\xa9\n";
    snprintf(tm[3].owner, sizeof(tm[3].owner), "999988887777");
    for (int i = 0; i < NCM; i++) {
        CHECK_INT(put_meta(s, "b", keys[i], keys[i], &tm[i], NULL), OC_OK);
        /* Written through by the committer: the first lookup is a hit. */
        CHECK_INT(wal_object_head(s, a, "b", keys[i], &wt[i], NULL), OC_OK);
    }
    CHECK_STR(wt[2].content_type, "");
    CHECK(wt[0].content_type == NULL && wt[0].user_meta == NULL);
    wal_store_close(s);

    /* The same rows straight from SQLite. */
    s = open_store_cache("cmatch", 0);
    if (!s)
        return;
    for (int i = 0; i < NCM; i++) {
        CHECK_INT(wal_object_head(s, a, "b", keys[i], &sq[i], NULL), OC_OK);
        CHECK_META(&wt[i], &sq[i]);
    }
    wal_store_close(s);

    /* A fresh cache: a miss fills, the hit after it returns the same. */
    s = open_store("cmatch");
    if (!s)
        return;
    for (int i = 0; i < NCM; i++) {
        CHECK_INT(wal_object_head(s, a, "b", keys[i], &got, NULL), OC_OK);
        CHECK_META(&got, &sq[i]);
        CHECK_INT(wal_object_head(s, a, "b", keys[i], &got, NULL), OC_OK);
        CHECK_META(&got, &sq[i]);
        CHECK(bytes_are(s, "b", keys[i], keys[i]));
    }
    /* ...and it really is the cache answering. */
    CHECK_INT(sneak_sql("cmatch", "UPDATE objects SET content_type = 'sneaky'"), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "full", &got, NULL), OC_OK);
    CHECK_STR(got.content_type, "text/html; charset=utf-8");

    /* Absent keys are cached too. */
    CHECK_INT(wal_object_head(s, a, "b", "nokey", &got, NULL), OC_ENOTFOUND);
    CHECK_INT(sneak_sql("cmatch", "INSERT INTO objects (bucket, key, id, size, etag, mtime_ms,"
                                  " owner, acl) VALUES ('b', 'nokey',"
                                  " '0123456789abcdef0123456789abcdef', 1, '\"x\"', 1, 'o',"
                                  " 'private')"), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "nokey", &got, NULL), OC_ENOTFOUND);
    /* A store write replaces the absent entry. */
    CHECK_INT(put_meta(s, "b", "nokey", "now here", &tm[0], NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "nokey", &got, NULL), OC_OK);
    CHECK_INT(got.size, 8);
    CHECK(bytes_are(s, "b", "nokey", "now here"));

    /* Buckets: answered from memory, updated by the store's own writes. */
    CHECK_INT(sneak_sql("cmatch", "UPDATE buckets SET acl = 'sneaky'"), OC_OK);
    CHECK_INT(wal_bucket_get(s, "b", &b, NULL), OC_OK);
    CHECK_STR(b.acl, "private");
    CHECK_INT(wal_bucket_set_acl(s, "b", "public-read", NULL), OC_OK);
    CHECK_INT(wal_bucket_get(s, "b", &b, NULL), OC_OK);
    CHECK_STR(b.acl, "public-read");
    CHECK_STR(b.owner, OWNER);
    wal_store_close(s);

    /* Reopening loads the bucket rows (and sees the sneaked object rows). */
    s = open_store("cmatch");
    if (!s)
        return;
    CHECK_INT(wal_bucket_get(s, "b", &b, NULL), OC_OK);
    CHECK_STR(b.acl, "public-read");
    CHECK_INT(wal_object_head(s, a, "b", "full", &got, NULL), OC_OK);
    CHECK_STR(got.content_type, "sneaky");
    oc_arena_free(a);
    wal_store_close(s);
}

struct cb_head {
    struct wal_store *s;
    struct async_state st;
    char etag[WAL_ETAG_LEN];
    int rc;
};

/* Runs on the committer thread: the new row must already be what lookups see. */
static void cb_head_cb(void *arg, int rc, const struct oc_err *err)
{
    struct cb_head *h = arg;
    struct oc_arena *a = oc_arena_new();
    struct wal_meta m;

    h->rc = wal_object_head(h->s, a, "b", "k", &m, NULL);
    if (h->rc == OC_OK)
        snprintf(h->etag, sizeof(h->etag), "%s", m.etag);
    oc_arena_free(a);
    async_cb(&h->st, rc, err);
}

OC_TEST(store_cache_writes_visible)
{
    struct wal_store *s = open_store("cvis");
    struct oc_arena *a = oc_arena_new();
    struct wal_meta none = { 0 }, m, got;
    char exp[WAL_ETAG_LEN], up[WAL_ID_LEN + 1], pe[WAL_ETAG_LEN];
    struct wal_complete_fail fail;
    struct wal_bucket b;
    int fd = -1;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    CHECK_INT(put_meta(s, "b", "k", "one", &none, NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "k", &got, NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "k", &got, NULL), OC_OK);

    /* Overwrite. */
    CHECK_INT(put_meta(s, "b", "k", "two!!", &none, &m), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "k", &got, NULL), OC_OK);
    md5_etag("two!!", 5, exp);
    CHECK_STR(got.etag, exp);
    CHECK_INT(got.size, 5);
    CHECK_STR(got.id, m.id);
    CHECK(bytes_are(s, "b", "k", "two!!"));

    /* ACL change. */
    CHECK_INT(wal_object_set_acl(s, "b", "k", "public-read", NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "k", &got, NULL), OC_OK);
    CHECK_STR(got.acl, "public-read");
    CHECK_INT(wal_object_open(s, a, "b", "k", &got, &fd, NULL), OC_OK);
    CHECK_STR(got.acl, "public-read");
    close(fd);

    /* Delete, and PUT again. */
    CHECK_INT(wal_object_delete(s, "b", "k", NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "k", &got, NULL), OC_ENOTFOUND);
    CHECK_INT(wal_object_open(s, a, "b", "k", &got, &fd, NULL), OC_ENOTFOUND);
    CHECK_INT(put_meta(s, "b", "k", "three", &none, NULL), OC_OK);
    CHECK(bytes_are(s, "b", "k", "three"));
    CHECK_INT(wal_object_head(s, a, "b", "k", &got, NULL), OC_OK);
    CHECK_STR(got.acl, "private");

    /* The committer updates the cache before the callback runs. */
    {
        struct cb_head h = { s, { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -99 },
                             "", -99 };
        struct wal_put *p;

        m = none;
        m.bucket = "b";
        m.key = "k";
        CHECK_INT(wal_put_begin(s, &p, NULL), OC_OK);
        CHECK_INT(wal_put_write(p, "four", 4, NULL), OC_OK);
        wal_put_commit_async(p, &m, cb_head_cb, &h);
        pthread_mutex_lock(&h.st.m);
        while (!h.st.done)
            pthread_cond_wait(&h.st.c, &h.st.m);
        pthread_mutex_unlock(&h.st.m);
        CHECK_INT(h.st.rc, OC_OK);
        CHECK_INT(h.rc, OC_OK);
        md5_etag("four", 4, exp);
        CHECK_STR(h.etag, exp);
    }

    /* Two PUTs of one key queued together: the later one is what stays. */
    {
        struct async_state st = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -99 };
        struct wal_meta m2[2];
        static const char *const bodies[2] = { "first", "second" };

        for (int i = 0; i < 2; i++) {
            struct wal_put *p;

            m2[i] = none;
            m2[i].bucket = "b";
            m2[i].key = "k";
            CHECK_INT(wal_put_begin(s, &p, NULL), OC_OK);
            CHECK_INT(wal_put_write(p, bodies[i], strlen(bodies[i]), NULL), OC_OK);
            wal_put_commit_async(p, &m2[i], async_cb, &st);
        }
        pthread_mutex_lock(&st.m);
        while (st.done < 2)
            pthread_cond_wait(&st.c, &st.m);
        pthread_mutex_unlock(&st.m);
        CHECK(bytes_are(s, "b", "k", "second"));
        CHECK_INT(wal_object_head(s, a, "b", "k", &got, NULL), OC_OK);
        CHECK_STR(got.id, m2[1].id);
    }

    /* Multipart completion over a cached object and over a cached absence. */
    CHECK_INT(wal_object_head(s, a, "b", "mp", &got, NULL), OC_ENOTFOUND);
    for (int round = 0; round < 2; round++) {
        const char *key = round ? "k" : "mp";
        struct wal_meta um = { 0 }, om = { 0 };
        struct wal_part_ref ref = { 1, pe };

        um.bucket = "b";
        um.key = key;
        um.content_type = "application/x-mp";
        snprintf(um.owner, sizeof(um.owner), OWNER);
        CHECK_INT(wal_upload_create(s, &um, up, NULL), OC_OK);
        CHECK_INT(put_part(s, up, 1, "partbytes", 9, pe), OC_OK);
        CHECK_INT(wal_upload_complete(s, a, up, &ref, 1, &om, &fail, NULL), OC_OK);
        CHECK_INT(wal_object_head(s, a, "b", key, &got, NULL), OC_OK);
        CHECK_STR(got.etag, om.etag);
        CHECK(strstr(got.etag, "-1\"") != NULL);
        CHECK_STR(got.content_type, "application/x-mp");
        CHECK(bytes_are(s, "b", key, "partbytes"));
    }

    /* Bucket delete and re-create. */
    CHECK_INT(make_bucket(s, "gone"), OC_OK);
    CHECK_INT(wal_object_head(s, a, "gone", "x", &got, NULL), OC_ENOTFOUND);
    CHECK_INT(wal_bucket_delete(s, "gone", NULL), OC_OK);
    CHECK_INT(wal_bucket_get(s, "gone", &b, NULL), OC_ENOTFOUND);
    CHECK_INT(put_meta(s, "gone", "x", "nope", &none, NULL), OC_ENOTFOUND);
    CHECK_INT(wal_object_head(s, a, "gone", "x", &got, NULL), OC_ENOTFOUND);
    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "gone");
    snprintf(b.owner, sizeof(b.owner), "999988887777");
    snprintf(b.acl, sizeof(b.acl), "public-read");
    CHECK_INT(wal_bucket_create(s, &b, NULL), OC_OK);
    memset(&b, 0, sizeof(b));
    CHECK_INT(wal_bucket_get(s, "gone", &b, NULL), OC_OK);
    CHECK_STR(b.owner, "999988887777");
    CHECK_STR(b.acl, "public-read");
    CHECK(b.created_ms > 0);
    CHECK_INT(wal_object_head(s, a, "gone", "x", &got, NULL), OC_ENOTFOUND);
    CHECK_INT(put_meta(s, "gone", "x", "back", &none, NULL), OC_OK);
    CHECK(bytes_are(s, "gone", "x", "back"));
    oc_arena_free(a);
    wal_store_close(s);
}

OC_TEST(store_cache_eviction)
{
    struct wal_store *s = open_store_cache("cevict", 1);
    struct oc_arena *a = oc_arena_new();
    struct wal_meta none = { 0 }, big = { 0 }, got;
    char bodies[40][32], *um;
    uint32_t x = 777;

    if (!s)
        return;
    CHECK_INT(wal_store_set_cache_size(s, SIZE_MAX, NULL), OC_EINVAL);
    CHECK_INT(wal_store_set_cache_size(s, 1, NULL), OC_OK);
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    /* One slot: B's entry pushes out A's, and A's pushes out B's. */
    CHECK_INT(put_meta(s, "b", "A", "a", &none, NULL), OC_OK);
    CHECK_INT(put_meta(s, "b", "B", "b", &none, NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "B", &got, NULL), OC_OK);
    CHECK_INT(sneak_sql("cevict", "UPDATE objects SET content_type = 'sneaky'"), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "B", &got, NULL), OC_OK);
    CHECK(got.content_type == NULL);            /* B is cached */
    CHECK_INT(wal_object_head(s, a, "b", "A", &got, NULL), OC_OK);
    CHECK_STR(got.content_type, "sneaky");      /* A was not */
    CHECK_INT(wal_object_head(s, a, "b", "B", &got, NULL), OC_OK);
    CHECK_STR(got.content_type, "sneaky");      /* and now B is not */

    /* Many keys through a tiny cache against a model. */
    for (int i = 0; i < 40; i++) {
        char key[16];

        snprintf(key, sizeof(key), "k%d", i);
        snprintf(bodies[i], sizeof(bodies[i]), "body %d v0", i);
        CHECK_INT(put_meta(s, "b", key, bodies[i], &none, NULL), OC_OK);
    }
    for (int round = 1; round < 300; round++) {
        char key[16];
        int i, op;

        x = x * 1103515245u + 12345u;
        i = (int)((x >> 16) % 40);
        op = (int)((x >> 8) % 8);
        snprintf(key, sizeof(key), "k%d", i);
        if (op == 0) {
            snprintf(bodies[i], sizeof(bodies[i]), "body %d v%d", i, round);
            CHECK_INT(put_meta(s, "b", key, bodies[i], &none, NULL), OC_OK);
        } else if (op == 1) {
            CHECK_INT(wal_object_delete(s, "b", key, NULL), bodies[i][0] ? OC_OK : OC_ENOTFOUND);
            bodies[i][0] = '\0';
        } else if (bodies[i][0]) {
            CHECK(bytes_are(s, "b", key, bodies[i]));
        } else {
            CHECK_INT(wal_object_head(s, a, "b", key, &got, NULL), OC_ENOTFOUND);
        }
    }
    /* A row too large for a slot is served from SQLite, whole. */
    um = malloc(100000);
    memset(um, 'm', 99999);
    um[99999] = '\0';
    memcpy(um, "x-amz-meta-big: ", 16);
    big.user_meta = um;
    CHECK_INT(put_meta(s, "b", "big", "x", &big, NULL), OC_OK);
    for (int i = 0; i < 2; i++) {
        CHECK_INT(wal_object_head(s, a, "b", "big", &got, NULL), OC_OK);
        CHECK(got.user_meta && strcmp(got.user_meta, um) == 0);
    }
    free(um);
    oc_arena_free(a);
    wal_store_close(s);
}

/*
 * Readers against writers on a few keys.  Each key has one writer, whose
 * op number v (1, 2, ...) fixes what it does: v%4 == 1 PUT body v, 2 make
 * it public-read, 3 PUT body v, 0 DELETE.  So every state a reader can see
 * names its op number: present with body v (and the ACL) or absent.  The
 * writer publishes v once the call returned.  A reader checks that what it
 * sees is whole, no older than what was published before it looked, no
 * newer than one op past what was published after, and never older than
 * what the same reader saw before.
 */
#define CS_KEYS 3
#define CS_READERS 3
#define CS_OPS 300

struct cs_shared {
    struct wal_store *s;
    int published[CS_KEYS];
    int writers_left;
    int failures;
    long reads, hits_present;
};

static size_t cs_body(char *buf, int k, int v)
{
    size_t len = 20 + ((size_t)v * 37 + (size_t)k * 11) % 900;
    int h = snprintf(buf, 32, "%d:%d:", k, v);

    fill_pattern(buf + h, len - (size_t)h, (unsigned)(k * 100000 + v));
    return len;
}

static void cs_fail(struct cs_shared *sh, const char *what, int k, int v, int lo, int hi,
                    int last)
{
    if (__atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED) <= 10)
        printf("  stress key %d: %s (op %d, window %d..%d, last seen %d)\n", k, what, v, lo, hi,
               last);
}

struct cs_writer_arg {
    struct cs_shared *sh;
    int k;
};

static void *cs_writer(void *p)
{
    struct cs_writer_arg *wa = p;
    struct cs_shared *sh = wa->sh;
    struct oc_arena *a = oc_arena_new();
    char key[16], body[1024];
    int k = wa->k;

    snprintf(key, sizeof(key), "key%d", k);
    for (int v = 1; v <= CS_OPS; v++) {
        struct wal_meta m = { 0 }, got;
        char um[64];
        int rc;

        if (v % 4 == 1 || v % 4 == 3) {
            size_t len = cs_body(body, k, v);

            snprintf(um, sizeof(um), "x-amz-meta-v: %d\n", v);
            m.user_meta = um;
            body[len] = '\0';
            /* put_meta takes a C string: the pattern may hold NULs, so use the raw API. */
            {
                struct wal_put *wp;

                rc = wal_put_begin(sh->s, &wp, NULL);
                if (rc == OC_OK && (rc = wal_put_write(wp, body, len, NULL)) != OC_OK)
                    wal_put_abort(wp);
                if (rc == OC_OK) {
                    m.bucket = "b";
                    m.key = key;
                    snprintf(m.owner, sizeof(m.owner), OWNER);
                    rc = wal_put_commit(wp, &m, NULL);
                }
            }
        } else if (v % 4 == 2) {
            rc = wal_object_set_acl(sh->s, "b", key, "public-read", NULL);
        } else {
            rc = wal_object_delete(sh->s, "b", key, NULL);
        }
        if (rc != OC_OK)
            cs_fail(sh, "write failed", k, v, 0, 0, 0);
        /* Read-your-writes on the writer's own thread. */
        rc = wal_object_head(sh->s, a, "b", key, &got, NULL);
        if (v % 4 == 0 ? rc != OC_ENOTFOUND
                       : rc != OC_OK || !got.user_meta ||
                             atoi(got.user_meta + 14) != (v % 4 == 2 ? v - 1 : v) ||
                             strcmp(got.acl, v % 4 == 2 ? "public-read" : "private") != 0)
            cs_fail(sh, "writer does not see its own write", k, v, 0, 0, 0);
        __atomic_store_n(&sh->published[k], v, __ATOMIC_RELEASE);
    }
    oc_arena_free(a);
    __atomic_sub_fetch(&sh->writers_left, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *cs_reader(void *p)
{
    struct cs_shared *sh = p;
    int last[CS_KEYS] = { 0 };
    char body[1024], buf[1024];
    long reads = 0, present = 0;

    for (unsigned n = 0; __atomic_load_n(&sh->writers_left, __ATOMIC_ACQUIRE) > 0; n++) {
        struct oc_arena *a = oc_arena_new();
        int k = (int)(n % CS_KEYS), lo, hi, v = 0, sv, rc, fd = -1;
        struct wal_meta m;
        char key[16];

        snprintf(key, sizeof(key), "key%d", k);
        lo = __atomic_load_n(&sh->published[k], __ATOMIC_ACQUIRE);
        if (n % 2)
            rc = wal_object_open(sh->s, a, "b", key, &m, &fd, NULL);
        else
            rc = wal_object_head(sh->s, a, "b", key, &m, NULL);
        hi = __atomic_load_n(&sh->published[k], __ATOMIC_ACQUIRE) + 1;
        reads++;
        if (rc == OC_ENOTFOUND) {
            /* The earliest deletion (or "never written") not before what was seen. */
            sv = last[k] > lo ? last[k] : lo;
            sv = (sv + 3) / 4 * 4;
            if (sv > hi)
                cs_fail(sh, "absent when it should not be", k, sv, lo, hi, last[k]);
        } else if (rc != OC_OK || !m.user_meta) {
            cs_fail(sh, "lookup failed", k, rc, lo, hi, last[k]);
            sv = last[k];
        } else {
            char exp[WAL_ETAG_LEN];
            size_t len;

            present++;
            v = atoi(m.user_meta + 14);
            len = cs_body(body, k, v);
            md5_etag(body, len, exp);
            if (v % 4 == 1)
                sv = strcmp(m.acl, "public-read") == 0 ? v + 1 : v;
            else
                sv = v;
            if ((v % 4 != 1 && v % 4 != 3) || (v % 4 == 3 && strcmp(m.acl, "private") != 0))
                cs_fail(sh, "a state no writer made", k, v, lo, hi, last[k]);
            if (m.size != len || strcmp(m.etag, exp) != 0)
                cs_fail(sh, "size or etag of another version", k, v, lo, hi, last[k]);
            if (fd >= 0 && (pread(fd, buf, sizeof(buf), 0) != (ssize_t)len ||
                            memcmp(buf, body, len) != 0))
                cs_fail(sh, "bytes of another version", k, v, lo, hi, last[k]);
            if (sv < lo || sv > hi)
                cs_fail(sh, "version outside the window", k, sv, lo, hi, last[k]);
        }
        if (sv < last[k])
            cs_fail(sh, "older than a version seen before", k, sv, lo, hi, last[k]);
        last[k] = sv > last[k] ? sv : last[k];
        if (fd >= 0)
            close(fd);
        oc_arena_free(a);
    }
    __atomic_add_fetch(&sh->reads, reads, __ATOMIC_RELAXED);
    __atomic_add_fetch(&sh->hits_present, present, __ATOMIC_RELAXED);
    return NULL;
}

static void cache_stress(const char *name, size_t objects)
{
    struct cs_shared sh = { 0 };
    struct cs_writer_arg wa[CS_KEYS];
    pthread_t wt[CS_KEYS], rt[CS_READERS];

    sh.s = open_store_cache(name, objects);
    if (!sh.s)
        return;
    CHECK_INT(make_bucket(sh.s, "b"), OC_OK);
    sh.writers_left = CS_KEYS;
    for (int i = 0; i < CS_READERS; i++)
        pthread_create(&rt[i], NULL, cs_reader, &sh);
    for (int k = 0; k < CS_KEYS; k++) {
        wa[k].sh = &sh;
        wa[k].k = k;
        pthread_create(&wt[k], NULL, cs_writer, &wa[k]);
    }
    for (int k = 0; k < CS_KEYS; k++)
        pthread_join(wt[k], NULL);
    for (int i = 0; i < CS_READERS; i++)
        pthread_join(rt[i], NULL);
    CHECK_INT(sh.failures, 0);
    /* The readers did overlap the writers, and saw objects present. */
    CHECK(sh.reads > CS_KEYS * CS_OPS);
    CHECK(sh.hits_present > 0);
    wal_store_close(sh.s);
}

OC_TEST(store_cache_stress)
{
    cache_stress("cstress", 65536);
    /* Fewer slots than keys: misses and fills race with the commits. */
    cache_stress("cstress-tiny", 2);
}

/* Reads bucket/key through wal_object_fetch into buf; returns the length or -1. */
static long fetch_bytes(struct wal_store *s, struct oc_arena *a, const char *key, char *buf,
                        size_t cap, int *from_memory, struct wal_meta *m)
{
    struct wal_body *body = NULL;
    int fd = -1;
    long n = -1;

    if (wal_object_fetch(s, a, "b", key, m, &fd, &body, NULL) != OC_OK)
        return -1;
    *from_memory = body != NULL;
    if (body) {
        if (wal_body_len(body) <= cap) {
            memcpy(buf, wal_body_data(body), wal_body_len(body));
            n = (long)wal_body_len(body);
        }
        wal_body_put(body);
    } else if (fd >= 0) {
        n = pread(fd, buf, cap, 0);
        close(fd);
    }
    return n;
}

/* A small object that is a file, not inline: a one-part multipart upload. */
static int put_file_object(struct wal_store *s, struct oc_arena *a, const char *key,
                           const char *data, size_t len)
{
    struct wal_meta um = { 0 }, om = { 0 };
    struct wal_complete_fail fail;
    char up[WAL_ID_LEN + 1], e1[WAL_ETAG_LEN];
    struct wal_part_ref ref = { 1, e1 };
    int rc;

    um.bucket = "b";
    um.key = key;
    snprintf(um.owner, sizeof(um.owner), OWNER);
    rc = wal_upload_create(s, &um, up, NULL);
    if (rc == OC_OK)
        rc = put_part(s, up, 1, data, len, e1);
    if (rc == OC_OK)
        rc = wal_upload_complete(s, a, up, &ref, 1, &om, &fail, NULL);
    return rc;
}

OC_TEST(store_body_cache)
{
    struct wal_store *s = open_store("bodies");
    struct oc_arena *a = oc_arena_new();
    static char big[WAL_BODY_MAX + 1], buf[WAL_BODY_MAX + 16];
    struct wal_meta m;
    char key[32];
    int mem = 0;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    /* Off by default: a small file's bytes come from the file; an inline
     * object's from its blob, in memory (kept nowhere). */
    CHECK_INT(put_file_object(s, a, "kf", "file!", 5), OC_OK);
    CHECK_INT(fetch_bytes(s, a, "kf", buf, sizeof(buf), &mem, &m), 5);
    CHECK_INT(mem, 0);
    CHECK(m.id[0] != 'i');
    CHECK_INT(put_bytes(s, "b", "k", "hello", 5, NULL), OC_OK);
    CHECK_INT(fetch_bytes(s, a, "k", buf, sizeof(buf), &mem, &m), 5);
    CHECK_INT(mem, 1);
    CHECK(m.id[0] == 'i');
    CHECK(memcmp(buf, "hello", 5) == 0);
    /* Below one object per shard: refused. */
    CHECK(wal_store_set_body_cache(s, 1024, NULL) != OC_OK);
    CHECK_INT(wal_store_set_body_cache(s, 16 * (WAL_BODY_MAX + 1024), NULL), OC_OK);
    CHECK_INT(fetch_bytes(s, a, "k", buf, sizeof(buf), &mem, &m), 5);
    CHECK_INT(mem, 1);
    CHECK(memcmp(buf, "hello", 5) == 0);
    /* A small file is now kept in memory too. */
    CHECK_INT(fetch_bytes(s, a, "kf", buf, sizeof(buf), &mem, &m), 5);
    CHECK_INT(mem, 1);
    CHECK(memcmp(buf, "file!", 5) == 0);
    /* An overwrite is a new file id: the new bytes, never the cached old ones. */
    CHECK_INT(put_bytes(s, "b", "k", "world!", 6, NULL), OC_OK);
    CHECK_INT(fetch_bytes(s, a, "k", buf, sizeof(buf), &mem, &m), 6);
    CHECK(memcmp(buf, "world!", 6) == 0);
    CHECK_INT(fetch_bytes(s, a, "k", buf, sizeof(buf), &mem, &m), 6);
    CHECK_INT(mem, 1);
    CHECK(memcmp(buf, "world!", 6) == 0);
    /* A body that is held survives its eviction. */
    {
        struct wal_body *held = NULL;
        int fd = -1;

        CHECK_INT(wal_object_fetch(s, a, "b", "k", &m, &fd, &held, NULL), OC_OK);
        CHECK(held != NULL);
        for (int i = 0; i < 200; i++) {
            fill_pattern(big, WAL_BODY_MAX, (unsigned)i);
            snprintf(key, sizeof(key), "f%d", i);
            CHECK_INT(put_bytes(s, "b", key, big, WAL_BODY_MAX, NULL), OC_OK);
            CHECK_INT(fetch_bytes(s, a, key, buf, sizeof(buf), &mem, &m), WAL_BODY_MAX);
            CHECK(memcmp(buf, big, WAL_BODY_MAX) == 0);
        }
        if (held) {
            CHECK(memcmp(wal_body_data(held), "world!", 6) == 0);
            wal_body_put(held);
        }
        /* The early ones were evicted (the budget holds ~16), and read again right. */
        fill_pattern(big, WAL_BODY_MAX, 0);
        CHECK_INT(fetch_bytes(s, a, "f0", buf, sizeof(buf), &mem, &m), WAL_BODY_MAX);
        CHECK(memcmp(buf, big, WAL_BODY_MAX) == 0);
    }
    /* Larger than WAL_BODY_MAX: always the file. */
    fill_pattern(big, sizeof(big), 7);
    CHECK_INT(put_bytes(s, "b", "huge", big, sizeof(big), NULL), OC_OK);
    CHECK_INT(fetch_bytes(s, a, "huge", buf, sizeof(buf), &mem, &m), (long)sizeof(big));
    CHECK_INT(mem, 0);
    CHECK(memcmp(buf, big, sizeof(big)) == 0);
    /* A deleted object is not found, whatever is cached. */
    CHECK_INT(wal_object_delete(s, "b", "k", NULL), OC_OK);
    CHECK_INT(fetch_bytes(s, a, "k", buf, sizeof(buf), &mem, &m), -1);
    oc_arena_free(a);
    wal_store_close(s);
}
