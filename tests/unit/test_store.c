/*
 * test_store.c - the Walrus store: buckets, object round trips, overwrite
 * and delete, listing against a naive model, multipart success and every
 * failure reason, recovery at reopen, concurrent writers and readers, and
 * the in-memory metadata cache (exactness, eviction, readers racing writers).
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
#include "walrus/store_priv.h"
#include "tests/unit/store_fixtures.h"


/* ---- helpers ---- */

OC_TEST(store_buckets)
{
    struct wal_store *s = open_store("buckets");
    struct wal_bucket b = { 0 }, got;
    char names[256] = "";

    if (!s)
        return;
    snprintf(b.name, sizeof(b.name), "zeta");
    snprintf(b.owner, sizeof(b.owner), OWNER);
    snprintf(b.acl, sizeof(b.acl), "public-read");
    snprintf(b.location, sizeof(b.location), "eu-west-1");
    b.created_ms = 1234567;
    CHECK_INT(wal_bucket_create(s, &b, NULL), OC_OK);
    CHECK_INT(wal_bucket_create(s, &b, NULL), OC_EEXIST);
    snprintf(b.name, sizeof(b.name), "alpha");
    snprintf(b.owner, sizeof(b.owner), "999988887777");
    CHECK_INT(wal_bucket_create(s, &b, NULL), OC_OK);

    CHECK_INT(wal_bucket_get(s, "zeta", &got, NULL), OC_OK);
    CHECK_STR(got.name, "zeta");
    CHECK_STR(got.owner, OWNER);
    CHECK_STR(got.acl, "public-read");
    CHECK_STR(got.location, "eu-west-1");
    CHECK_INT(got.created_ms, 1234567);
    CHECK_INT(wal_bucket_get(s, "nope", &got, NULL), OC_ENOTFOUND);

    CHECK_INT(wal_bucket_list(s, NULL, collect_bucket, names, NULL), OC_OK);
    CHECK_STR(names, "alpha,zeta,");
    names[0] = '\0';
    CHECK_INT(wal_bucket_list(s, OWNER, collect_bucket, names, NULL), OC_OK);
    CHECK_STR(names, "zeta,");

    CHECK_INT(wal_bucket_set_acl(s, "zeta", "private", NULL), OC_OK);
    CHECK_INT(wal_bucket_get(s, "zeta", &got, NULL), OC_OK);
    CHECK_STR(got.acl, "private");
    CHECK_INT(wal_bucket_set_acl(s, "nope", "private", NULL), OC_ENOTFOUND);

    CHECK_INT(wal_bucket_delete(s, "zeta", NULL), OC_OK);
    CHECK_INT(wal_bucket_get(s, "zeta", &got, NULL), OC_ENOTFOUND);
    CHECK_INT(wal_bucket_delete(s, "zeta", NULL), OC_ENOTFOUND);
    wal_store_close(s);
}

/* ---- objects ---- */

OC_TEST(store_put_get_roundtrip)
{
    struct wal_store *s = open_store("roundtrip");
    struct oc_arena *a = oc_arena_new();
    struct wal_put *p;
    struct wal_meta m = { 0 }, h;
    uint8_t md5[16], sha[32];
    char hex[65], *data, *back = NULL;
    size_t len = 300000, blen = 0;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);

    /* Known digests: ETag is the quoted MD5, SHA-256 as published. */
    CHECK_INT(wal_put_begin(s, &p, NULL), OC_OK);
    CHECK_INT(wal_put_write(p, "hello ", 6, NULL), OC_OK);
    CHECK_INT(wal_put_write(p, "world", 5, NULL), OC_OK);
    CHECK_INT(wal_put_size(p), 11);
    wal_put_digests(p, md5, sha);
    oc_hex_encode(md5, 16, hex);
    CHECK_STR(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    oc_hex_encode(sha, 32, hex);
    CHECK_STR(hex, "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
    m.bucket = "b";
    m.key = "greeting";
    snprintf(m.owner, sizeof(m.owner), OWNER);
    snprintf(m.acl, sizeof(m.acl), "public-read");
    m.content_type = "text/plain";
    m.cache_control = "max-age=60";
    m.user_meta = "x-amz-meta-color: blue\nx-amz-meta-size: 3\n";
    CHECK_INT(wal_put_commit(p, &m, NULL), OC_OK);
    CHECK_STR(m.etag, "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
    CHECK_INT(m.size, 11);
    CHECK_INT(strlen(m.id), WAL_ID_LEN);

    CHECK_INT(wal_object_head(s, a, "b", "greeting", &h, NULL), OC_OK);
    CHECK_STR(h.etag, "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"");
    CHECK_STR(h.key, "greeting");
    CHECK_STR(h.bucket, "b");
    CHECK_STR(h.owner, OWNER);
    CHECK_STR(h.acl, "public-read");
    CHECK_STR(h.content_type, "text/plain");
    CHECK_STR(h.cache_control, "max-age=60");
    CHECK(h.content_encoding == NULL);
    CHECK(h.expires == NULL);
    CHECK_STR(h.user_meta, "x-amz-meta-color: blue\nx-amz-meta-size: 3\n");
    CHECK_INT(h.size, 11);
    CHECK_INT(h.mtime_ms, m.mtime_ms);
    CHECK_STR(h.id, m.id);
    CHECK_INT(wal_object_set_acl(s, "b", "greeting", "private", NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "greeting", &h, NULL), OC_OK);
    CHECK_STR(h.acl, "private");
    CHECK_INT(wal_object_set_acl(s, "b", "nokey", "private", NULL), OC_ENOTFOUND);

    /* Empty object: the MD5 of nothing. */
    CHECK_INT(put_bytes(s, "b", "empty", "", 0, &m), OC_OK);
    CHECK_STR(m.etag, "\"d41d8cd98f00b204e9800998ecf8427e\"");
    CHECK_INT(get_bytes(s, "b", "empty", &back, &blen), OC_OK);
    CHECK_INT(blen, 0);
    free(back);

    /* A larger body, bit-exact through the fd. */
    data = malloc(len);
    fill_pattern(data, len, 7);
    CHECK_INT(put_bytes(s, "b", "dir/big", data, len, &m), OC_OK);
    CHECK_INT(get_bytes(s, "b", "dir/big", &back, &blen), OC_OK);
    CHECK_INT(blen, len);
    CHECK(back && memcmp(back, data, len) == 0);
    oc_md5(data, len, md5);
    oc_hex_encode(md5, 16, hex);
    CHECK(strstr(m.etag, hex) != NULL);
    free(back);
    free(data);

    /* A key of 1024 bytes of UTF-8. */
    {
        char key[1025];

        for (int i = 0; i < 1024; i += 2) {
            key[i] = (char)0xc3;
            key[i + 1] = (char)0xa9;
        }
        key[1024] = '\0';
        CHECK_INT(put_bytes(s, "b", key, "x", 1, NULL), OC_OK);
        CHECK_INT(wal_object_head(s, a, "b", key, &h, NULL), OC_OK);
        CHECK_INT(strlen(h.key), 1024);
    }

    /* Into a missing bucket. */
    CHECK_INT(put_bytes(s, "nobucket", "k", "x", 1, NULL), OC_ENOTFOUND);
    CHECK_INT(wal_object_head(s, a, "b", "missing", &h, NULL), OC_ENOTFOUND);

    /* Abort leaves nothing behind. */
    CHECK_INT(wal_put_begin(s, &p, NULL), OC_OK);
    CHECK_INT(wal_put_write(p, "zzz", 3, NULL), OC_OK);
    wal_put_abort(p);
    /* dir/big is a file; greeting, empty and the long key are inline. */
    CHECK_INT(count_files(store_dir("roundtrip")), 1);
    CHECK_INT(count_blobs(store_dir("roundtrip")), 3);

    /* Without SHA-256 the MD5 is still right. */
    CHECK_INT(wal_put_begin(s, &p, NULL), OC_OK);
    wal_put_no_sha256(p);
    CHECK_INT(wal_put_write(p, "hello world", 11, NULL), OC_OK);
    wal_put_digests(p, md5, sha);
    oc_hex_encode(md5, 16, hex);
    CHECK_STR(hex, "5eb63bbbe01eeed093cb22bb8f5acdc3");
    wal_put_abort(p);

    oc_arena_free(a);
    wal_store_close(s);
}

OC_TEST(store_overwrite_and_delete)
{
    const char *dir = store_dir("overwrite");
    struct wal_store *s = open_store("overwrite");
    struct oc_arena *a = oc_arena_new();
    struct wal_meta m, m2, h;
    char buf[16] = { 0 }, *back = NULL;
    size_t blen;
    int fd = -1;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    CHECK_INT(put_bytes(s, "b", "k", "version-one", 11, &m), OC_OK);
    CHECK_INT(wal_object_open(s, a, "b", "k", &h, &fd, NULL), OC_OK);
    CHECK_INT(put_bytes(s, "b", "k", "version-two!", 12, &m2), OC_OK);
    CHECK(strcmp(m.id, m2.id) != 0);
    /* The reader's fd still holds the old bytes; the old file is gone. */
    CHECK_INT(pread(fd, buf, sizeof(buf), 0), 11);
    CHECK_STR(buf, "version-one");
    close(fd);
    CHECK_INT(count_files(dir), 0);
    CHECK_INT(count_blobs(dir), 1);
    CHECK_INT(get_bytes(s, "b", "k", &back, &blen), OC_OK);
    CHECK(blen == 12 && memcmp(back, "version-two!", 12) == 0);
    free(back);

    /* Bucket with an object cannot go. */
    CHECK_INT(wal_bucket_delete(s, "b", NULL), OC_ECONFLICT);

    /* PUT then DELETE from one client ends deleted; DELETE then PUT ends present. */
    CHECK_INT(wal_object_delete(s, "b", "k", NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "k", &h, NULL), OC_ENOTFOUND);
    CHECK_INT(wal_object_delete(s, "b", "k", NULL), OC_ENOTFOUND);
    CHECK_INT(count_files(dir), 0);
    CHECK_INT(count_blobs(dir), 0);
    CHECK_INT(put_bytes(s, "b", "k", "again", 5, NULL), OC_OK);
    CHECK_INT(wal_object_head(s, a, "b", "k", &h, NULL), OC_OK);
    CHECK_INT(wal_object_delete(s, "b", "k", NULL), OC_OK);
    CHECK_INT(wal_bucket_delete(s, "b", NULL), OC_OK);
    oc_arena_free(a);
    wal_store_close(s);
}

static int count_dir(const char *dir, const char *sub)
{
    char path[512];
    DIR *d;
    struct dirent *de;
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, sub);
    d = opendir(path);
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Bodies up to WAL_INLINE_MAX are stored in the database with their row;
 * one byte more and they are files.  Either way round, an overwrite leaves
 * one copy. */
OC_TEST(store_inline_objects)
{
    const char *dir = store_dir("inline");
    struct wal_store *s = open_store("inline");
    struct oc_arena *a = oc_arena_new();
    static char at[WAL_INLINE_MAX], over[WAL_INLINE_MAX + 1];
    char *back = NULL, buf[8];
    struct wal_meta m;
    size_t blen;
    int64_t n2;
    int fd = -1;

    if (!s)
        return;
    fill_pattern(at, sizeof(at), 11);
    fill_pattern(over, sizeof(over), 12);
    CHECK_INT(make_bucket(s, "b"), OC_OK);

    CHECK_INT(put_bytes(s, "b", "k", at, sizeof(at), &m), OC_OK);
    CHECK(wal_id_inline(m.id));
    CHECK_INT(count_files(dir), 0);
    CHECK_INT(count_blobs(dir), 1);
    CHECK_INT(get_bytes(s, "b", "k", &back, &blen), OC_OK);
    CHECK(blen == sizeof(at) && memcmp(back, at, blen) == 0);
    free(back);

    /* Inline -> file: the blob goes in the same commit. */
    CHECK_INT(wal_object_open(s, a, "b", "k", &m, &fd, NULL), OC_OK);
    CHECK_INT(put_bytes(s, "b", "k", over, sizeof(over), &m), OC_OK);
    CHECK(!wal_id_inline(m.id));
    CHECK_INT(count_files(dir), 1);
    CHECK_INT(count_blobs(dir), 0);
    /* The reader that opened the inline version keeps its bytes. */
    memset(buf, 0, sizeof(buf));
    CHECK_INT(pread(fd, buf, sizeof(buf), 0), (long)sizeof(buf));
    CHECK(memcmp(buf, at, sizeof(buf)) == 0);
    close(fd);
    CHECK_INT(get_bytes(s, "b", "k", &back, &blen), OC_OK);
    CHECK(blen == sizeof(over) && memcmp(back, over, blen) == 0);
    free(back);

    /* File -> inline (empty): the file is retired after the commit. */
    CHECK_INT(put_bytes(s, "b", "k", "", 0, &m), OC_OK);
    CHECK(wal_id_inline(m.id));
    CHECK_INT(count_files(dir), 0);
    CHECK_INT(count_blobs(dir), 1);
    CHECK_INT(get_bytes(s, "b", "k", &back, &blen), OC_OK);
    CHECK_INT(blen, 0);
    free(back);

    /* Delete of an inline object removes its blob; the reopened store keeps
     * the others. */
    CHECK_INT(put_bytes(s, "b", "k2", "two", 3, &m), OC_OK);
    n2 = wal_inline_n(m.id);
    CHECK(n2 > 0);
    CHECK_INT(wal_object_delete(s, "b", "k", NULL), OC_OK);
    CHECK_INT(count_blobs(dir), 1);
    wal_store_close(s);
    s = open_store("inline");
    if (!s)
        goto out;
    CHECK_INT(count_blobs(dir), 1);
    CHECK_INT(get_bytes(s, "b", "k2", &back, &blen), OC_OK);
    CHECK(blen == 3 && memcmp(back, "two", 3) == 0);
    free(back);
    /* Blob numbers go on after the largest in use. */
    CHECK_INT(put_bytes(s, "b", "k3", "three", 5, &m), OC_OK);
    CHECK(wal_inline_n(m.id) == n2 + 1);
    wal_store_close(s);
out:
    oc_arena_free(a);
}

/* WALRUS_INLINE_MAX: bodies up to the limit are inline, one byte more is a
 * file; 0 makes every object a file, the empty one too. */
OC_TEST(store_inline_limit)
{
    const char *dir = store_dir("inlinemax");
    struct wal_store *s = open_store("inlinemax");
    struct oc_err err = { 0 };
    char at[100], over[101], *back = NULL;
    struct wal_meta m;
    size_t blen;

    if (!s)
        return;
    fill_pattern(at, sizeof(at), 21);
    fill_pattern(over, sizeof(over), 22);
    CHECK_INT(wal_store_set_inline_max(s, WAL_STORE_INLINE_MAX + 1, &err), OC_EINVAL);
    CHECK_INT(wal_store_set_inline_max(s, sizeof(at), &err), OC_OK);
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    CHECK_INT(put_bytes(s, "b", "at", at, sizeof(at), &m), OC_OK);
    CHECK(wal_id_inline(m.id));
    CHECK_INT(put_bytes(s, "b", "over", over, sizeof(over), &m), OC_OK);
    CHECK(!wal_id_inline(m.id));
    CHECK_INT(count_blobs(dir), 1);
    CHECK_INT(count_files(dir), 1);

    CHECK_INT(wal_store_set_inline_max(s, 0, &err), OC_OK);
    CHECK_INT(put_bytes(s, "b", "small", "abc", 3, &m), OC_OK);
    CHECK(!wal_id_inline(m.id));
    CHECK_INT(put_bytes(s, "b", "empty", "", 0, &m), OC_OK);
    CHECK(!wal_id_inline(m.id));
    /* Overwriting the inline object with a file drops its blob. */
    CHECK_INT(put_bytes(s, "b", "at", at, sizeof(at), &m), OC_OK);
    CHECK(!wal_id_inline(m.id));
    CHECK_INT(count_blobs(dir), 0);
    CHECK_INT(count_files(dir), 4);
    CHECK_INT(get_bytes(s, "b", "small", &back, &blen), OC_OK);
    CHECK(blen == 3 && memcmp(back, "abc", 3) == 0);
    free(back);
    CHECK_INT(get_bytes(s, "b", "empty", &back, &blen), OC_OK);
    CHECK_INT(blen, 0);
    free(back);
    CHECK_INT(get_bytes(s, "b", "at", &back, &blen), OC_OK);
    CHECK(blen == sizeof(at) && memcmp(back, at, blen) == 0);
    free(back);
    wal_store_close(s);
}

static long long file_bytes(const char *dir, const char *name)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static int set_auto_vacuum_none(const char *dir)
{
    char path[512];
    sqlite3 *db = NULL;
    int rc;

    snprintf(path, sizeof(path), "%s/walrus.db", dir);
    rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA auto_vacuum=NONE; VACUUM;", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* Deleted inline objects give their space back: once most of walrus.db is
 * free, the reclaim steps empty the freelist, the file and its WAL shrink,
 * and the objects kept (moved by the vacuum) read back exactly, also after
 * a reopen.  A walrus.db made without auto-vacuum is converted at open. */
#define RECLAIM_N 200
#define RECLAIM_SIZE 60000
OC_TEST(store_reclaims_freed_pages)
{
    const char *dir = store_dir("reclaim");
    struct wal_store *s = open_store("reclaim");
    static char body[RECLAIM_SIZE];
    struct oc_err err = { 0 };
    char key[16], *back = NULL;
    long long full, pages;
    size_t blen;
    int more = 0, steps;

    if (!s)
        return;
    CHECK_INT(store_db_int(dir, "PRAGMA auto_vacuum"), 2);
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    for (int i = 0; i < RECLAIM_N; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        fill_pattern(body, sizeof(body), 300 + i);
        CHECK_INT(put_bytes(s, "b", key, body, sizeof(body), NULL), OC_OK);
    }
    full = store_db_int(dir, "PRAGMA page_count");
    CHECK(full * 4096 >= (long long)RECLAIM_N * RECLAIM_SIZE);
    /* Nothing is free yet: a step does nothing. */
    CHECK_INT(wal_store_reclaim(s, &more, &err), OC_OK);
    CHECK_INT(more, 0);
    CHECK_INT(store_db_int(dir, "PRAGMA page_count"), full);

    /* Keep every tenth object. */
    for (int i = 0; i < RECLAIM_N; i++) {
        snprintf(key, sizeof(key), "k%03d", i);
        if (i % 10)
            CHECK_INT(wal_object_delete(s, "b", key, NULL), OC_OK);
    }
    more = 1;
    for (steps = 0; more && steps < 10000; steps++)
        CHECK_INT(wal_store_reclaim(s, &more, &err), OC_OK);
    CHECK_INT(more, 0);
    CHECK_INT(store_db_int(dir, "PRAGMA freelist_count"), 0);
    pages = store_db_int(dir, "PRAGMA page_count");
    CHECK(pages > 0 && pages * 10 < full * 2);
    /* On disk too: the file is truncated and the WAL emptied. */
    CHECK(file_bytes(dir, "walrus.db") + file_bytes(dir, "walrus.db-wal") <=
          pages * 4096 + 1024 * 1024);
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < RECLAIM_N; i += 10) {
            snprintf(key, sizeof(key), "k%03d", i);
            fill_pattern(body, sizeof(body), 300 + i);
            CHECK_INT(get_bytes(s, "b", key, &back, &blen), OC_OK);
            CHECK(back && blen == sizeof(body) && memcmp(back, body, blen) == 0);
            free(back);
            back = NULL;
        }
        wal_store_close(s);
        if (pass == 0) {
            /* A store from before auto-vacuum is rewritten once at open. */
            CHECK_INT(set_auto_vacuum_none(dir), SQLITE_OK);
            CHECK_INT(store_db_int(dir, "PRAGMA auto_vacuum"), 0);
        }
        s = open_store("reclaim");
        if (!s)
            return;
        CHECK_INT(store_db_int(dir, "PRAGMA auto_vacuum"), 2);
    }
    CHECK_INT(count_blobs(dir), RECLAIM_N / 10);
    wal_store_close(s);
}

/* Replaced files are reused for later PUTs: contents and sizes stay exact.
 * Objects here are just above WAL_INLINE_MAX, so each one is a file. */
#define RC_BASE (WAL_INLINE_MAX + 1)
OC_TEST(store_recycles_replaced_files)
{
    const char *dir = store_dir("recycle");
    struct wal_store *s = open_store("recycle");
    struct oc_arena *a = oc_arena_new();
    static char big[RC_BASE + 5000], mid1[RC_BASE + 5], mid2[RC_BASE + 10], mid3[RC_BASE + 12];
    char *back = NULL, buf[8];
    struct wal_meta h;
    size_t blen;
    int fd = -1;

    if (!s)
        return;
    fill_pattern(big, sizeof(big), 5);
    fill_pattern(mid1, sizeof(mid1), 6);
    fill_pattern(mid2, sizeof(mid2), 7);
    fill_pattern(mid3, sizeof(mid3), 8);
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    CHECK_INT(put_bytes(s, "b", "k1", big, sizeof(big), NULL), OC_OK);
    CHECK_INT(put_bytes(s, "b", "k1", mid1, sizeof(mid1), NULL), OC_OK);
    CHECK_INT(count_dir(dir, "free"), 1);
    /* k2 reuses the larger file: the stale tail must not show. */
    CHECK_INT(put_bytes(s, "b", "k2", mid2, sizeof(mid2), NULL), OC_OK);
    CHECK_INT(count_dir(dir, "free"), 0);
    CHECK_INT(get_bytes(s, "b", "k2", &back, &blen), OC_OK);
    CHECK(blen == sizeof(mid2) && memcmp(back, mid2, sizeof(mid2)) == 0);
    free(back);
    CHECK_INT(get_bytes(s, "b", "k1", &back, &blen), OC_OK);
    CHECK(blen == sizeof(mid1) && memcmp(back, mid1, sizeof(mid1)) == 0);
    free(back);
    CHECK_INT(count_files(dir), 2);
    CHECK_INT(count_blobs(dir), 0);

    /* A file a reader holds is not reused: the reader keeps its bytes. */
    CHECK_INT(wal_object_open(s, a, "b", "k2", &h, &fd, NULL), OC_OK);
    CHECK_INT(wal_object_delete(s, "b", "k2", NULL), OC_OK);
    CHECK_INT(count_dir(dir, "free"), 0);
    CHECK_INT(put_bytes(s, "b", "k3", mid3, sizeof(mid3), NULL), OC_OK);
    memset(buf, 0, sizeof(buf));
    CHECK_INT(pread(fd, buf, 4, 0), 4);
    CHECK(memcmp(buf, mid2, 4) == 0);
    close(fd);

    /* Files in free/ are not objects: reopening empties it. */
    CHECK_INT(wal_object_delete(s, "b", "k3", NULL), OC_OK);
    CHECK_INT(count_dir(dir, "free"), 1);
    wal_store_close(s);
    s = open_store("recycle");
    CHECK_INT(count_dir(dir, "free"), 0);
    CHECK_INT(count_files(dir), 1);
    oc_arena_free(a);
    wal_store_close(s);
}

OC_TEST(store_async_commit)
{
    struct wal_store *s = open_store("async");
    struct async_state st = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, -99 };
    struct wal_meta m[8];
    struct oc_arena *a = oc_arena_new();

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    for (int i = 0; i < 8; i++) {
        struct wal_put *p;
        char key[16];

        memset(&m[i], 0, sizeof(m[i]));
        snprintf(key, sizeof(key), "k%d", i);
        CHECK_INT(wal_put_begin(s, &p, NULL), OC_OK);
        CHECK_INT(wal_put_write(p, key, strlen(key), NULL), OC_OK);
        m[i].bucket = "b";
        m[i].key = oc_arena_strdup(a, key);
        snprintf(m[i].owner, sizeof(m[i].owner), OWNER);
        wal_put_commit_async(p, &m[i], async_cb, &st);
    }
    pthread_mutex_lock(&st.m);
    while (st.done < 8)
        pthread_cond_wait(&st.c, &st.m);
    pthread_mutex_unlock(&st.m);
    CHECK_INT(st.rc, OC_OK);
    for (int i = 0; i < 8; i++) {
        struct wal_meta h;

        CHECK_INT(wal_object_head(s, a, "b", m[i].key, &h, NULL), OC_OK);
        CHECK_INT(h.size, 2);
    }
    oc_arena_free(a);
    wal_store_close(s);
}

/* ---- listing ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The model: every key in byte order, filtered by prefix, rolled up at the
 * delimiter, deduplicated, strictly after the marker, cut at max_keys.
 */
static size_t naive_list(char **keys, size_t nkeys, const char *prefix, const char *delim,
                         const char *after, unsigned max, char **out, int *is_prefix,
                         int *truncated)
{
    size_t n = 0, plen = strlen(prefix);
    char *lastcp = NULL;

    *truncated = 0;
    for (size_t i = 0; i < nkeys; i++) {
        char *k = keys[i], *entry = k, *d;
        int isp = 0;

        if (strncmp(k, prefix, plen) != 0)
            continue;
        if (delim && (d = strstr(k + plen, delim)) != NULL) {
            size_t cplen = (size_t)(d - k) + strlen(delim);

            entry = strndup(k, cplen);
            isp = 1;
            if (lastcp && strcmp(lastcp, entry) == 0) {
                free(entry);
                continue;
            }
            free(lastcp);
            lastcp = strdup(entry);
        }
        if (after && strcmp(entry, after) <= 0) {
            if (isp)
                free(entry);
            continue;
        }
        if (n == max) {
            *truncated = 1;
            if (isp)
                free(entry);
            break;
        }
        out[n] = isp ? entry : strdup(entry);
        is_prefix[n] = isp;
        n++;
    }
    free(lastcp);
    return n;
}

static int check_listing(struct wal_store *s, char **keys, size_t nkeys, const char *prefix,
                         const char *delim, const char *after, unsigned max)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_list_params p = { "lb", prefix, delim, after, max };
    struct wal_list_result r;
    char **exp = calloc(nkeys + 1, sizeof(*exp));
    int *isp = calloc(nkeys + 1, sizeof(*isp)), trunc, bad = 0;
    size_t n = naive_list(keys, nkeys, prefix, delim, after, max, exp, isp, &trunc);

    if (wal_object_list(s, a, &p, &r, NULL) != OC_OK) {
        bad = 1;
    } else {
        if (r.n != n || r.truncated != trunc)
            bad = 1;
        for (size_t i = 0; !bad && i < n; i++)
            if (strcmp(r.entries[i].key, exp[i]) != 0 || r.entries[i].is_prefix != isp[i])
                bad = 1;
        if (!bad && n && strcmp(r.last, exp[n - 1]) != 0)
            bad = 1;
        if (!bad && !n && r.last)
            bad = 1;
    }
    if (bad)
        oc_test_fail(__FILE__, __LINE__, "listing prefix='%s' delim='%s' after='%s' max=%u:"
                     " got %zu entries (truncated %d), expected %zu (truncated %d)",
                     prefix, delim ? delim : "", after ? after : "(null)", max, r.n,
                     r.truncated, n, trunc);
    /* Walk the remaining pages with NextMarker, each against the model. */
    if (!bad && r.truncated && max > 0) {
        char *next = strdup(r.last);

        oc_arena_free(a);
        for (size_t i = 0; i < n; i++)
            free(exp[i]);
        free(exp);
        free(isp);
        bad = check_listing(s, keys, nkeys, prefix, delim, next, max);
        free(next);
        return bad;
    }
    for (size_t i = 0; i < n; i++)
        free(exp[i]);
    free(exp);
    free(isp);
    oc_arena_free(a);
    return bad;
}

OC_TEST(store_list_against_model)
{
    static const char *const parts[] = { "a", "b", "/", "\xc3\xa9", "-", "z", "//" };
    struct wal_store *s = open_store("list");
    char *keys[400];
    size_t nkeys = 0;
    uint32_t x = 12345;
    int bad = 0;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "lb"), OC_OK);
    CHECK_INT(make_bucket(s, "other"), OC_OK);
    CHECK_INT(put_bytes(s, "other", "a", "x", 1, NULL), OC_OK);
    /* Random keys over a small alphabet so prefixes and delimiters collide often. */
    while (nkeys < 300) {
        char k[64] = "";
        int len = 1 + (int)(x % 6), dup = 0;

        for (int i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            strcat(k, parts[(x >> 16) % 7]);
        }
        x = x * 1103515245u + 12345u;
        for (size_t i = 0; i < nkeys; i++)
            dup |= strcmp(keys[i], k) == 0;
        if (dup)
            continue;
        keys[nkeys++] = strdup(k);
    }
    for (size_t i = 0; i < nkeys; i++)
        CHECK_INT(put_bytes(s, "lb", keys[i], keys[i], strlen(keys[i]), NULL), OC_OK);
    qsort(keys, nkeys, sizeof(keys[0]), cmp_str);

    {
        static const char *const prefixes[] = { "", "a", "a/", "b/", "\xc3\xa9", "zz", "q" };
        static const char *const delims[] = { NULL, "/", "//", "-", "\xc3\xa9" };
        static const unsigned maxes[] = { 1000, 1, 3, 7, 0 };

        for (size_t pi = 0; pi < 7; pi++)
            for (size_t di = 0; di < 5; di++)
                for (size_t mi = 0; mi < 5; mi++)
                    bad |= check_listing(s, keys, nkeys, prefixes[pi], delims[di], NULL,
                                         maxes[mi]);
        /* Markers that are not keys, before and after the prefix, and prefixes. */
        static const char *const afters[] = { "a", "a/", "a/b", "b", "b-", "zzzzzzzzzzzz",
                                              "", "\xc3\xa9/", "\xff" };
        for (size_t ai = 0; ai < 9; ai++)
            for (size_t di = 0; di < 5; di++)
                bad |= check_listing(s, keys, nkeys, "", delims[di], afters[ai], 5);
        for (size_t ai = 0; ai < 9; ai++)
            bad |= check_listing(s, keys, nkeys, "a", "/", afters[ai], 2);
    }
    CHECK(!bad);

    {
        struct oc_arena *a = oc_arena_new();
        struct wal_list_params p = { "nobucket", "", NULL, NULL, 10 };
        struct wal_list_result r;

        CHECK_INT(wal_object_list(s, a, &p, &r, NULL), OC_ENOTFOUND);
        oc_arena_free(a);
    }
    for (size_t i = 0; i < nkeys; i++)
        free(keys[i]);
    wal_store_close(s);
}

/* A directory with many keys costs a seek: check the result on a big fan-out. */
OC_TEST(store_list_skips_common_prefixes)
{
    struct wal_store *s = open_store("listskip");
    struct oc_arena *a = oc_arena_new();
    struct wal_list_params p = { "b", "", "/", NULL, 10 };
    struct wal_list_result r;
    char key[64];

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    for (int d = 0; d < 3; d++)
        for (int i = 0; i < 40; i++) {
            snprintf(key, sizeof(key), "dir%d/f%03d", d, i);
            CHECK_INT(put_bytes(s, "b", key, "x", 1, NULL), OC_OK);
        }
    CHECK_INT(put_bytes(s, "b", "top", "x", 1, NULL), OC_OK);
    CHECK_INT(wal_object_list(s, a, &p, &r, NULL), OC_OK);
    CHECK_INT(r.n, 4);
    if (r.n == 4) {
        CHECK_STR(r.entries[0].key, "dir0/");
        CHECK(r.entries[0].is_prefix);
        CHECK_STR(r.entries[2].key, "dir2/");
        CHECK_STR(r.entries[3].key, "top");
        CHECK(!r.entries[3].is_prefix);
        CHECK_INT(r.entries[3].size, 1);
        CHECK_STR(r.entries[3].etag, "\"9dd4e461268c8034f5c8564e155c67a6\"");
        CHECK_STR(r.entries[3].owner, OWNER);
    }
    CHECK(!r.truncated);
    p.after = "dir1/";
    CHECK_INT(wal_object_list(s, a, &p, &r, NULL), OC_OK);
    CHECK_INT(r.n, 2);
    p.after = "dir1/f005";
    CHECK_INT(wal_object_list(s, a, &p, &r, NULL), OC_OK);
    CHECK_INT(r.n, 2);
    if (r.n == 2)
        CHECK_STR(r.entries[0].key, "dir2/");
    oc_arena_free(a);
    wal_store_close(s);
}

/* ---- multipart ---- */

OC_TEST(store_multipart_happy_path)
{
    const char *dir = store_dir("mpu");
    struct wal_store *s = open_store("mpu");
    struct oc_arena *a = oc_arena_new();
    size_t big = WAL_MIN_PART_SIZE, tail = 1234;
    char *d1 = malloc(big), *d2 = malloc(big + 10), *d3 = malloc(tail), *back = NULL;
    char up[WAL_ID_LEN + 1], e1[WAL_ETAG_LEN], e2[WAL_ETAG_LEN], e3[WAL_ETAG_LEN],
        e4[WAL_ETAG_LEN], exp[WAL_ETAG_LEN];
    struct wal_meta um = { 0 }, got, om;
    struct wal_complete_fail fail;
    struct wal_part *parts;
    size_t n, blen;
    int trunc;
    int64_t init;

    if (!s)
        return;
    fill_pattern(d1, big, 1);
    fill_pattern(d2, big + 10, 2);
    fill_pattern(d3, tail, 3);
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    um.bucket = "b";
    um.key = "assembled";
    snprintf(um.owner, sizeof(um.owner), OWNER);
    snprintf(um.acl, sizeof(um.acl), "public-read");
    um.content_type = "application/x-test";
    um.user_meta = "x-amz-meta-a: 1\n";
    CHECK_INT(wal_upload_create(s, &um, up, NULL), OC_OK);
    CHECK_INT(strlen(up), WAL_ID_LEN);
    CHECK_INT(wal_upload_get(s, a, up, &got, &init, NULL), OC_OK);
    CHECK_STR(got.bucket, "b");
    CHECK_STR(got.key, "assembled");
    CHECK_STR(got.content_type, "application/x-test");
    CHECK(init > 0);

    /* Part 1 written twice: the first file must go. */
    CHECK_INT(put_part(s, up, 1, d3, tail, e1), OC_OK);
    CHECK_INT(put_part(s, up, 1, d1, big, e1), OC_OK);
    md5_etag(d1, big, exp);
    CHECK_STR(e1, exp);
    CHECK_INT(put_part(s, up, 2, d2, big + 10, e2), OC_OK);
    CHECK_INT(put_part(s, up, 3, d3, tail, e3), OC_OK);
    CHECK_INT(put_part(s, up, 4, "unused", 6, e4), OC_OK);   /* not listed: discarded */
    CHECK_INT(count_files(dir), 4);
    CHECK_INT(put_part(s, up, 0, "x", 1, e4), OC_EINVAL);
    CHECK_INT(put_part(s, up, WAL_MAX_PARTS + 1, "x", 1, e4), OC_EINVAL);

    CHECK_INT(wal_part_list(s, a, up, 0, 2, &parts, &n, &trunc, NULL), OC_OK);
    CHECK_INT(n, 2);
    CHECK(trunc);
    if (n == 2) {
        CHECK_INT(parts[0].number, 1);
        CHECK_INT(parts[0].size, big);
        CHECK_STR(parts[0].etag, e1);
    }
    CHECK_INT(wal_part_list(s, a, up, 2, 100, &parts, &n, &trunc, NULL), OC_OK);
    CHECK_INT(n, 2);
    CHECK(!trunc);
    if (n == 2)
        CHECK_INT(parts[0].number, 3);

    {
        /* ETags with and without quotes are both accepted. */
        char bare2[WAL_ETAG_LEN];
        struct wal_part_ref refs[3] = { { 1, e1 }, { 2, bare2 }, { 3, e3 } };
        uint8_t md5s[48], md5[16];
        char hex[33], want[WAL_ETAG_LEN];

        snprintf(bare2, sizeof(bare2), "%.*s", (int)strlen(e2) - 2, e2 + 1);
        memset(&om, 0, sizeof(om));
        CHECK_INT(wal_upload_complete(s, a, up, refs, 3, &om, &fail, NULL), OC_OK);
        CHECK_INT(fail.reason, WAL_COMPLETE_OK);
        oc_md5(d1, big, md5s);
        oc_md5(d2, big + 10, md5s + 16);
        oc_md5(d3, tail, md5s + 32);
        oc_md5(md5s, 48, md5);
        oc_hex_encode(md5, 16, hex);
        snprintf(want, sizeof(want), "\"%s-3\"", hex);
        CHECK_STR(om.etag, want);
        CHECK_INT(om.size, 2 * big + 10 + tail);
    }
    CHECK_INT(wal_object_head(s, a, "b", "assembled", &got, NULL), OC_OK);
    CHECK_STR(got.etag, om.etag);
    CHECK_STR(got.content_type, "application/x-test");
    CHECK_STR(got.user_meta, "x-amz-meta-a: 1\n");
    CHECK_STR(got.acl, "public-read");
    CHECK_INT(get_bytes(s, "b", "assembled", &back, &blen), OC_OK);
    CHECK_INT(blen, 2 * big + 10 + tail);
    CHECK(back && blen == 2 * big + 10 + tail && memcmp(back, d1, big) == 0 &&
          memcmp(back + big, d2, big + 10) == 0 && memcmp(back + 2 * big + 10, d3, tail) == 0);
    free(back);
    /* Upload and every part file gone; only the object's file remains. */
    CHECK_INT(wal_upload_get(s, a, up, &got, NULL, NULL), OC_ENOTFOUND);
    CHECK_INT(count_files(dir), 1);
    CHECK_INT(put_part(s, up, 1, "x", 1, e4), OC_ENOTFOUND);
    CHECK_INT(count_files(dir), 1);

    free(d1);
    free(d2);
    free(d3);
    oc_arena_free(a);
    wal_store_close(s);
}

OC_TEST(store_multipart_failures)
{
    const char *dir = store_dir("mpufail");
    struct wal_store *s = open_store("mpufail");
    struct oc_arena *a = oc_arena_new();
    size_t big = WAL_MIN_PART_SIZE;
    char *d = malloc(big), up[WAL_ID_LEN + 1], e1[WAL_ETAG_LEN], e2[WAL_ETAG_LEN],
         e3[WAL_ETAG_LEN];
    struct wal_meta um = { 0 }, om, got;
    struct wal_complete_fail fail;

    if (!s)
        return;
    fill_pattern(d, big, 9);
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    um.bucket = "b";
    um.key = "k";
    snprintf(um.owner, sizeof(um.owner), OWNER);
    CHECK_INT(wal_upload_create(s, &um, up, NULL), OC_OK);
    CHECK_INT(put_part(s, up, 1, "small", 5, e1), OC_OK);
    CHECK_INT(put_part(s, up, 2, d, big, e2), OC_OK);
    CHECK_INT(put_part(s, up, 3, "tail", 4, e3), OC_OK);

    {
        struct wal_part_ref r[2] = { { 1, e1 }, { 2, e2 } };

        CHECK_INT(wal_upload_complete(s, a, up, r, 0, &om, &fail, NULL), OC_EINVAL);
        CHECK_INT(fail.reason, WAL_COMPLETE_NO_PARTS);
        CHECK_INT(wal_upload_complete(s, a, up, r, 2, &om, &fail, NULL), OC_EINVAL);
        CHECK_INT(fail.reason, WAL_COMPLETE_TOO_SMALL);
        CHECK_INT(fail.part_number, 1);
        CHECK_INT(fail.part_size, 5);
    }
    {
        struct wal_part_ref r[3] = { { 2, e2 }, { 3, e3 }, { 3, e3 } };

        CHECK_INT(wal_upload_complete(s, a, up, r, 3, &om, &fail, NULL), OC_EINVAL);
        CHECK_INT(fail.reason, WAL_COMPLETE_INVALID_PART_ORDER);
        CHECK_INT(fail.part_number, 3);
    }
    {
        struct wal_part_ref r[2] = { { 3, e3 }, { 2, e2 } };

        CHECK_INT(wal_upload_complete(s, a, up, r, 2, &om, &fail, NULL), OC_EINVAL);
        CHECK_INT(fail.reason, WAL_COMPLETE_INVALID_PART_ORDER);
        CHECK_INT(fail.part_number, 2);
    }
    {
        struct wal_part_ref r[2] = { { 2, e2 }, { 7, e3 } };

        CHECK_INT(wal_upload_complete(s, a, up, r, 2, &om, &fail, NULL), OC_EINVAL);
        CHECK_INT(fail.reason, WAL_COMPLETE_INVALID_PART);
        CHECK_INT(fail.part_number, 7);
    }
    {
        struct wal_part_ref r[2] = { { 2, e2 }, { 3, "\"00000000000000000000000000000000\"" } };

        CHECK_INT(wal_upload_complete(s, a, up, r, 2, &om, &fail, NULL), OC_EINVAL);
        CHECK_INT(fail.reason, WAL_COMPLETE_INVALID_PART);
        CHECK_INT(fail.part_number, 3);
    }
    /* Nothing changed by the failures. */
    CHECK_INT(wal_object_head(s, a, "b", "k", &got, NULL), OC_ENOTFOUND);
    CHECK_INT(wal_upload_get(s, a, up, &got, NULL, NULL), OC_OK);
    CHECK_INT(count_files(dir), 3);
    {
        /* A single small part is fine: it is the last. */
        struct wal_part_ref r[2] = { { 2, e2 }, { 3, e3 } };

        CHECK_INT(wal_upload_complete(s, a, up, r, 2, &om, &fail, NULL), OC_OK);
        CHECK_INT(om.size, big + 4);
        CHECK(strstr(om.etag, "-2\"") != NULL);
        CHECK_INT(wal_upload_complete(s, a, up, r, 2, &om, &fail, NULL), OC_ENOTFOUND);
    }
    CHECK_INT(count_files(dir), 1);

    /* Abort removes rows and files; later parts are refused. */
    CHECK_INT(wal_upload_create(s, &um, up, NULL), OC_OK);
    CHECK_INT(put_part(s, up, 1, "abc", 3, e1), OC_OK);
    CHECK_INT(put_part(s, up, 2, "def", 3, e2), OC_OK);
    CHECK_INT(count_files(dir), 3);
    CHECK_INT(wal_upload_abort(s, up, NULL), OC_OK);
    CHECK_INT(count_files(dir), 1);
    CHECK_INT(wal_upload_abort(s, up, NULL), OC_ENOTFOUND);
    CHECK_INT(put_part(s, up, 3, "ghi", 3, e3), OC_ENOTFOUND);
    CHECK_INT(count_files(dir), 1);
    {
        struct wal_part *parts;
        size_t n;
        int trunc;

        CHECK_INT(wal_part_list(s, a, up, 0, 10, &parts, &n, &trunc, NULL), OC_ENOTFOUND);
    }

    /* Deleting the bucket takes pending uploads with it (once it is empty). */
    CHECK_INT(wal_upload_create(s, &um, up, NULL), OC_OK);
    CHECK_INT(put_part(s, up, 1, "abc", 3, e1), OC_OK);
    CHECK_INT(wal_bucket_delete(s, "b", NULL), OC_ECONFLICT);
    CHECK_INT(wal_object_delete(s, "b", "k", NULL), OC_OK);
    CHECK_INT(wal_bucket_delete(s, "b", NULL), OC_OK);
    CHECK_INT(wal_upload_get(s, a, up, &got, NULL, NULL), OC_ENOTFOUND);
    CHECK_INT(count_files(dir), 0);
    free(d);
    oc_arena_free(a);
    wal_store_close(s);
}

OC_TEST(store_upload_list)
{
    struct wal_store *s = open_store("uplist");
    struct oc_arena *a = oc_arena_new();
    struct wal_meta um = { 0 };
    struct wal_upload_entry *e;
    char ids[5][WAL_ID_LEN + 1];
    static const char *const keys[5] = { "x/a", "x/b", "x/b", "y", "x/c" };
    size_t n;
    int trunc;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    um.bucket = "b";
    snprintf(um.owner, sizeof(um.owner), OWNER);
    for (int i = 0; i < 5; i++) {
        um.key = keys[i];
        CHECK_INT(wal_upload_create(s, &um, ids[i], NULL), OC_OK);
        usleep(2000);   /* distinct initiation times */
    }
    CHECK_INT(wal_upload_list(s, a, "b", "x/", NULL, NULL, 1000, &e, &n, &trunc, NULL), OC_OK);
    CHECK_INT(n, 4);
    CHECK(!trunc);
    if (n == 4) {
        CHECK_STR(e[0].key, "x/a");
        CHECK_STR(e[1].upload_id, ids[1]);
        CHECK_STR(e[2].upload_id, ids[2]);
        CHECK_STR(e[3].key, "x/c");
    }
    CHECK_INT(wal_upload_list(s, a, "b", "", NULL, NULL, 2, &e, &n, &trunc, NULL), OC_OK);
    CHECK_INT(n, 2);
    CHECK(trunc);
    /* Resume after the first x/b upload. */
    CHECK_INT(wal_upload_list(s, a, "b", "", "x/b", ids[1], 2, &e, &n, &trunc, NULL), OC_OK);
    CHECK_INT(n, 2);
    if (n == 2) {
        CHECK_STR(e[0].upload_id, ids[2]);
        CHECK_STR(e[1].key, "x/c");
    }
    CHECK(trunc);
    CHECK_INT(wal_upload_list(s, a, "b", "", "x/b", NULL, 10, &e, &n, &trunc, NULL), OC_OK);
    CHECK_INT(n, 2);
    if (n == 2)
        CHECK_STR(e[0].key, "x/c");
    CHECK_INT(wal_upload_list(s, a, "nob", "", NULL, NULL, 10, &e, &n, &trunc, NULL),
              OC_ENOTFOUND);
    oc_arena_free(a);
    wal_store_close(s);
}

/* ---- recovery ---- */

OC_TEST(store_recovery_removes_orphans)
{
    const char *dir = store_dir("recovery");
    struct wal_store *s = open_store("recovery");
    char path[512], *back = NULL;
    struct wal_meta m;
    size_t blen;
    int fd;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    CHECK_INT(put_bytes(s, "b", "keep", "durable bytes", 13, &m), OC_OK);
    {
        static char big[WAL_INLINE_MAX + 1];

        fill_pattern(big, sizeof(big), 3);
        CHECK_INT(put_bytes(s, "b", "keep-file", big, sizeof(big), NULL), OC_OK);
    }
    /* A second open of a live store is refused. */
    {
        struct wal_store *s2 = NULL;

        CHECK_INT(wal_store_open(dir, &s2, NULL), OC_ECONFLICT);
        wal_store_close(s2);
    }
    wal_store_close(s);

    /* Debris of a crash: an unfinished upload and files with no row. */
    snprintf(path, sizeof(path), "%s/tmp/0123456789abcdef0123456789abcdef", dir);
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0 && write(fd, "partial", 7) == 7);
    close(fd);
    snprintf(path, sizeof(path), "%s/objects/ab/ab23456789abcdef0123456789abcdef", dir);
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0 && write(fd, "orphan", 6) == 6);
    close(fd);
    snprintf(path, sizeof(path), "%s/objects/cd/not-an-id", dir);
    fd = open(path, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    close(fd);
    CHECK_INT(count_files(dir), 3);
    /* A blob no row names (cannot happen through the store: rows and blobs
     * commit together). */
    {
        sqlite3 *db = NULL;

        snprintf(path, sizeof(path), "%s/walrus.db", dir);
        CHECK(sqlite3_open(path, &db) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "INSERT INTO blobs (n, id, data) VALUES"
                               " (999, 'i00000000000003e700000000000000', x'00')",
                           NULL, NULL, NULL) == SQLITE_OK);
        sqlite3_close(db);
    }
    CHECK_INT(count_blobs(dir), 2);

    s = open_store("recovery");
    if (!s)
        return;
    snprintf(path, sizeof(path), "%s/tmp/0123456789abcdef0123456789abcdef", dir);
    CHECK(access(path, F_OK) != 0);
    snprintf(path, sizeof(path), "%s/objects/ab/ab23456789abcdef0123456789abcdef", dir);
    CHECK(access(path, F_OK) != 0);
    CHECK_INT(count_files(dir), 1);
    CHECK_INT(count_blobs(dir), 1);
    CHECK_INT(get_bytes(s, "b", "keep", &back, &blen), OC_OK);
    CHECK(blen == 13 && memcmp(back, "durable bytes", 13) == 0);
    free(back);
    wal_store_close(s);
}

/* ---- concurrency ---- */

#define CW_THREADS 4
#define CW_ROUNDS 40
/* Rounds alternate between an inline body and a file body. */
#define CW_SIZE 3000
#define CW_BIG (WAL_INLINE_MAX + 3000)
#define CW_LEN(round) ((round) % 2 ? CW_BIG : CW_SIZE)

struct cw_arg {
    struct wal_store *s;
    int tid;
    int failures;
};

/* A body that names its writer in the first bytes, so a reader can verify it. */
static size_t cw_body(char *buf, int tid, int round)
{
    char head[16];

    snprintf(head, sizeof(head), "%03d:%04d:", tid, round);
    memcpy(buf, head, 9);
    fill_pattern(buf + 9, CW_LEN(round) - 9, (unsigned)(tid * 10000 + round));
    return CW_LEN(round);
}

static int cw_verify(const char *buf, size_t len)
{
    char *exp;
    int tid, round, ok;

    if (len < 9 || sscanf(buf, "%3d:%4d:", &tid, &round) != 2 || len != CW_LEN(round))
        return 0;
    exp = malloc(CW_BIG);
    ok = exp && cw_body(exp, tid, round) == len && memcmp(exp, buf, len) == 0;
    free(exp);
    return ok;
}

static void *cw_writer(void *p)
{
    struct cw_arg *arg = p;
    char *body = malloc(CW_BIG), key[32];

    snprintf(key, sizeof(key), "own-%d", arg->tid);
    for (int r = 0; r < CW_ROUNDS; r++) {
        size_t len = cw_body(body, arg->tid, r);

        if (put_bytes(arg->s, "b", "shared", body, len, NULL) != OC_OK)
            arg->failures++;
        if (put_bytes(arg->s, "b", key, body, len, NULL) != OC_OK)
            arg->failures++;
    }
    free(body);
    return NULL;
}

static void *cw_reader(void *p)
{
    struct cw_arg *arg = p;

    for (int r = 0; r < CW_ROUNDS * 2; r++) {
        char *buf = NULL;
        size_t len;
        int rc = get_bytes(arg->s, "b", "shared", &buf, &len);

        if (rc == OC_OK && !cw_verify(buf, len))
            arg->failures++;
        else if (rc != OC_OK && rc != OC_ENOTFOUND)
            arg->failures++;
        free(buf);
    }
    return NULL;
}

OC_TEST(store_concurrent_puts)
{
    const char *dir = store_dir("concurrent");
    struct wal_store *s = open_store("concurrent");
    pthread_t th[CW_THREADS + 2];
    struct cw_arg args[CW_THREADS + 2];
    char *buf = NULL;
    size_t len;

    if (!s)
        return;
    CHECK_INT(make_bucket(s, "b"), OC_OK);
    for (int i = 0; i < CW_THREADS + 2; i++) {
        args[i].s = s;
        args[i].tid = i;
        args[i].failures = 0;
        pthread_create(&th[i], NULL, i < CW_THREADS ? cw_writer : cw_reader, &args[i]);
    }
    for (int i = 0; i < CW_THREADS + 2; i++) {
        pthread_join(th[i], NULL);
        CHECK_INT(args[i].failures, 0);
    }
    CHECK_INT(get_bytes(s, "b", "shared", &buf, &len), OC_OK);
    CHECK(buf && cw_verify(buf, len));
    free(buf);
    for (int i = 0; i < CW_THREADS; i++) {
        char key[32];
        static char exp[CW_BIG];
        size_t elen = cw_body(exp, i, CW_ROUNDS - 1);

        snprintf(key, sizeof(key), "own-%d", i);
        CHECK_INT(get_bytes(s, "b", key, &buf, &len), OC_OK);
        CHECK(buf && len == elen && memcmp(buf, exp, elen) == 0);
        free(buf);
    }
    /* Every replaced file was unlinked and every replaced blob deleted:
     * one copy of the bytes per key. */
    CHECK_INT(count_files(dir) + count_blobs(dir), CW_THREADS + 1);
    wal_store_close(s);
}

/* ---- crash: kill -9 a writer mid-flight, reopen, check ---- */

#include <signal.h>
#include <sys/wait.h>

#define CR_THREADS 4
#define CR_KEYS 5           /* per thread */
#define CR_MAX (256 * 1024)

struct cr_ack {
    int tid, key, seq;
};

struct cr_arg {
    struct wal_store *s;
    int tid, pipefd, base;
};

/* Self-describing body: "tid:key:seq:len:" then a pattern seeded by all four. */
static size_t cr_body(char *buf, int tid, int key, int seq)
{
    size_t len = 64 + ((size_t)seq * 7919 + (size_t)key * 104729 + (size_t)tid * 31) %
                          (CR_MAX - 64);
    int h = snprintf(buf, 64, "%d:%d:%d:%zu:", tid, key, seq, len);

    fill_pattern(buf + h, len - (size_t)h,
                 (unsigned)tid * 1000003u + (unsigned)key * 1009u + (unsigned)seq);
    return len;
}

static int cr_verify(const char *buf, size_t len, int *tid, int *key, int *seq)
{
    static char exp[CR_MAX];
    size_t elen;

    if (len < 16 || sscanf(buf, "%d:%d:%d:", tid, key, seq) != 3)
        return 0;
    elen = cr_body(exp, *tid, *key, *seq);
    return elen == len && memcmp(exp, buf, len) == 0;
}

static void *cr_writer(void *p)
{
    struct cr_arg *arg = p;
    char *buf = malloc(CR_MAX), key[32];

    /* Sequences grow across rounds so that a newer write always has a larger one. */
    for (int seq = arg->base + 1;; seq++) {
        int k = seq % CR_KEYS;
        size_t len = cr_body(buf, arg->tid, k, seq);
        struct cr_ack ack = { arg->tid, k, seq };

        snprintf(key, sizeof(key), "t%d/k%d", arg->tid, k);
        if (put_bytes(arg->s, "b", key, buf, len, NULL) != OC_OK)
            _exit(3);
        /* Acknowledged: from here on the object must survive. */
        if (write(arg->pipefd, &ack, sizeof(ack)) != (ssize_t)sizeof(ack))
            _exit(4);
    }
    return NULL;
}

static void cr_child(const char *name, int pipefd, int base)
{
    struct wal_store *s = NULL;
    pthread_t th[CR_THREADS];
    struct cr_arg args[CR_THREADS];

    if (wal_store_open(store_dir(name), &s, NULL) != OC_OK)
        _exit(2);
    (void)!make_bucket(s, "b");
    for (int i = 0; i < CR_THREADS; i++) {
        args[i].s = s;
        args[i].tid = i;
        args[i].pipefd = pipefd;
        args[i].base = base;
        pthread_create(&th[i], NULL, cr_writer, &args[i]);
    }
    pthread_join(th[0], NULL);
    _exit(0);
}

OC_TEST(store_crash_kill9)
{
    const char *dir = store_dir("crash");
    int acked[CR_THREADS][CR_KEYS];

    memset(acked, 0, sizeof(acked));
    for (int round = 0; round < 4; round++) {
        struct cr_ack ack;
        struct wal_store *s;
        int fds[2], status, nacks = 0, present = 0;
        pid_t pid;

        CHECK(pipe(fds) == 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            cr_child("crash", fds[1], (round + 1) * 1000000);
        }
        close(fds[1]);
        usleep(150000 + 100000 * (unsigned)round);
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status));
        while (read(fds[0], &ack, sizeof(ack)) == (ssize_t)sizeof(ack)) {
            if (ack.seq > acked[ack.tid][ack.key])
                acked[ack.tid][ack.key] = ack.seq;
            nacks++;
        }
        close(fds[0]);
        CHECK(nacks > 0);

        s = open_store("crash");
        if (!s)
            return;
        for (int t = 0; t < CR_THREADS; t++) {
            for (int k = 0; k < CR_KEYS; k++) {
                char key[32], *buf = NULL;
                size_t len;
                int rt, rk, rs, rc;

                snprintf(key, sizeof(key), "t%d/k%d", t, k);
                rc = get_bytes(s, "b", key, &buf, &len);
                if (rc == OC_ENOTFOUND) {
                    /* Only a key never acknowledged may be absent. */
                    CHECK_INT(acked[t][k], 0);
                    continue;
                }
                CHECK_INT(rc, OC_OK);
                present++;
                /* Whole, and at least as new as the last acknowledged write. */
                CHECK(buf && cr_verify(buf, len, &rt, &rk, &rs));
                CHECK(rt == t && rk == k && rs >= acked[t][k]);
                if (rs > acked[t][k])
                    acked[t][k] = rs;   /* committed, just not acknowledged in time */
                free(buf);
            }
        }
        /* Recovery left exactly one file or blob per object and nothing in
         * tmp/ or free/; bodies up to WAL_INLINE_MAX are blobs. */
        CHECK_INT(count_files(dir) + count_blobs(dir), present);
        CHECK_INT(count_dir(dir, "tmp"), 0);
        CHECK_INT(count_dir(dir, "free"), 0);
        wal_store_close(s);
    }
}
