/*
 * store_fixtures.c - helpers shared by the store's unit tests
 * (test_store.c, test_store_cache.c): scratch stores, buckets, byte
 * round trips, parts and a commit callback to wait on.
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

char *store_dir(const char *name)
{
    static char path[256];

    snprintf(path, sizeof(path), "%s/store-%s", oc_test_tmpdir(), name);
    return path;
}

struct wal_store *open_store(const char *name)
{
    struct wal_store *s = NULL;
    struct oc_err err = { 0 };
    int rc = wal_store_open(store_dir(name), &s, &err);

    if (rc)
        printf("  wal_store_open: %s\n", err.msg);
    CHECK_INT(rc, OC_OK);
    return s;
}

int make_bucket(struct wal_store *s, const char *name)
{
    struct wal_bucket b = { 0 };

    snprintf(b.name, sizeof(b.name), "%s", name);
    snprintf(b.owner, sizeof(b.owner), "%s", OWNER);
    snprintf(b.acl, sizeof(b.acl), "private");
    return wal_bucket_create(s, &b, NULL);
}

int put_bytes(struct wal_store *s, const char *bucket, const char *key, const void *data,
                     size_t len, struct wal_meta *meta_out)
{
    struct wal_put *p;
    struct wal_meta m = { 0 };
    struct oc_err err = { 0 };
    int rc = wal_put_begin(s, &p, &err);

    if (rc)
        return rc;
    /* Write in uneven pieces to exercise the incremental digests. */
    for (size_t off = 0; off < len;) {
        size_t n = len - off < 1000 ? len - off : 1000 - (off % 7);

        rc = wal_put_write(p, (const char *)data + off, n, &err);
        if (rc) {
            wal_put_abort(p);
            return rc;
        }
        off += n;
    }
    m.bucket = bucket;
    m.key = key;
    snprintf(m.owner, sizeof(m.owner), "%s", OWNER);
    rc = wal_put_commit(p, &m, &err);
    if (rc && rc != OC_ENOTFOUND)
        printf("  commit %s: %s\n", key, err.msg);
    if (meta_out)
        *meta_out = m;
    return rc;
}

/* Reads a whole object through its fd into a malloc'd buffer. */
int get_bytes(struct wal_store *s, const char *bucket, const char *key, char **out,
                     size_t *len)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_meta m;
    int fd = -1, rc = wal_object_open(s, a, bucket, key, &m, &fd, NULL);
    char *buf;
    size_t got = 0;

    if (rc) {
        oc_arena_free(a);
        return rc;
    }
    buf = malloc(m.size + 1);
    while (got < m.size) {
        ssize_t n = pread(fd, buf + got, m.size - got, (off_t)got);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    oc_arena_free(a);
    *out = buf;
    *len = got;
    return got == m.size ? OC_OK : OC_EIO;
}

int count_files(const char *dir)
{
    char path[512];
    int n = 0;

    for (int i = 0; i < 256; i++) {
        DIR *d;
        struct dirent *de;

        snprintf(path, sizeof(path), "%s/objects/%02x", dir, i);
        d = opendir(path);
        if (!d)
            continue;
        while ((de = readdir(d)) != NULL)
            if (de->d_name[0] != '.')
                n++;
        closedir(d);
    }
    return n;
}

long long store_db_int(const char *dir, const char *sql)
{
    char path[512];
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    long long n = -1;

    /* A second connection: WAL lets it read beside the store's own. */
    snprintf(path, sizeof(path), "%s/walrus.db", dir);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

int count_blobs(const char *dir)
{
    return (int)store_db_int(dir, "SELECT count(*) FROM blobs");
}

void fill_pattern(char *buf, size_t len, unsigned seed)
{
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char)x;
    }
}

/* ---- buckets ---- */

int collect_bucket(void *arg, const struct wal_bucket *b)
{
    char *names = arg;

    strcat(names, b->name);
    strcat(names, ",");
    return 0;
}


void async_cb(void *arg, int rc, const struct oc_err *err)
{
    struct async_state *st = arg;

    pthread_mutex_lock(&st->m);
    st->rc = rc;
    st->done++;
    pthread_cond_signal(&st->c);
    pthread_mutex_unlock(&st->m);
}

int put_part(struct wal_store *s, const char *upload, int num, const char *data,
                    size_t len, char etag[WAL_ETAG_LEN])
{
    struct wal_put *p;
    int rc = wal_put_begin(s, &p, NULL);

    if (rc)
        return rc;
    rc = wal_put_write(p, data, len, NULL);
    if (rc) {
        wal_put_abort(p);
        return rc;
    }
    return wal_part_commit(p, upload, num, etag, NULL);
}

void md5_etag(const void *d, size_t n, char out[WAL_ETAG_LEN])
{
    uint8_t md5[16];
    char hex[33];

    oc_md5(d, n, md5);
    oc_hex_encode(md5, 16, hex);
    snprintf(out, WAL_ETAG_LEN, "\"%s\"", hex);
}
