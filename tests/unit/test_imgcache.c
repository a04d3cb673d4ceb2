/*
 * test_imgcache.c - the node's image cache (nc/imgcache.c) with a fake
 * fetcher that counts its calls, can be slowed down or made to fail, and
 * writes bytes derived from the image id; and the Walrus fetcher's
 * location helpers (nc/imgfetch.c).  The fetcher itself against a fake
 * Walrus is in test_bundle.c, next to the bundle builder.
 */
#include "tests/unit/harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "nc/imgcache.h"
#include "nc/imgfetch.h"

#define DIGEST1 "0123456789abcdef0123456789abcdef"
#define DIGEST2 "fedcba9876543210fedcba9876543210fedcba98"

struct fake_fetcher {
    pthread_mutex_t mu;
    unsigned calls;
    unsigned sleep_ms;
    int fail_rc;                  /* returned (after writing junk) when set */
    size_t size;                  /* bytes written per image */
    int qcow2;                    /* start with the qcow2 magic */
};

static int fake_fetch(void *ctx, const struct nc_image_ref *ref, int fd, struct oc_err *err)
{
    struct fake_fetcher *f = ctx;
    uint8_t buf[4096];
    size_t size;
    int fail_rc, qcow2;

    pthread_mutex_lock(&f->mu);
    f->calls++;
    size = f->size;
    fail_rc = f->fail_rc;
    qcow2 = f->qcow2;
    pthread_mutex_unlock(&f->mu);
    if (f->sleep_ms)
        usleep(f->sleep_ms * 1000);
    for (size_t off = 0; off < size; off += sizeof(buf)) {
        size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);

        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)(ref->image_id[4 + (off + i) % 8] + (off + i) / 7);
        if (off == 0 && qcow2 && n >= 4)
            memcpy(buf, "QFI\xfb", 4);
        if (oc_write_all(fd, buf, n, err) != OC_OK)
            return err ? err->code : OC_EIO;
    }
    if (fail_rc)
        return oc_err_set(err, fail_rc, "image %s: refused by the fake", ref->image_id);
    return OC_OK;
}

static void fake_init(struct fake_fetcher *f, size_t size)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    f->size = size;
}

static unsigned fake_calls(struct fake_fetcher *f)
{
    unsigned n;

    pthread_mutex_lock(&f->mu);
    n = f->calls;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* A fresh cache directory for one test. */
static const char *cache_dir(const char *name)
{
    static char dir[512];

    snprintf(dir, sizeof(dir), "%s/imgcache-%s", oc_test_tmpdir(), name);
    return dir;
}

static int file_exists(const char *dir, const char *name)
{
    char path[1024];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Names in dir starting with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static int get(struct nc_imgcache *c, const char *id, const char *digest,
               struct nc_cached_image *out, struct oc_err *err)
{
    struct nc_image_ref ref = { id, "bucket/key.img", digest };

    return nc_imgcache_get(c, &ref, out, err);
}

/* ------------------------------------------------------------------ */

struct getter {
    struct nc_imgcache *c;
    int rc;
    struct nc_cached_image ci;
    struct oc_err err;
};

static void *getter_run(void *arg)
{
    struct getter *g = arg;

    g->rc = get(g->c, "emi-abcdef01", DIGEST1, &g->ci, &g->err);
    return NULL;
}

OC_TEST(imgcache_single_flight)
{
    struct fake_fetcher f;
    struct nc_img_fetcher nf = { fake_fetch, &f };
    struct nc_imgcache *c = NULL;
    struct nc_imgcache_stats st;
    struct oc_err err = { 0 };
    struct getter g[10];
    pthread_t t[10];
    struct stat sb;

    fake_init(&f, 100000);
    f.sleep_ms = 300;
    CHECK_INT(nc_imgcache_open(cache_dir("flight"), 1u << 30, &nf, &c, &err), OC_OK);
    for (int i = 0; i < 10; i++) {
        memset(&g[i], 0, sizeof(g[i]));
        g[i].c = c;
        CHECK_INT(pthread_create(&t[i], NULL, getter_run, &g[i]), 0);
    }
    for (int i = 0; i < 10; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(fake_calls(&f), 1);
    for (int i = 0; i < 10; i++) {
        CHECK_INT(g[i].rc, OC_OK);
        CHECK_STR(g[i].ci.path, g[0].ci.path);
        CHECK_STR(g[i].ci.format, "raw");
        CHECK_INT(g[i].ci.size, 100000);
    }
    CHECK(g[0].ci.path[0] == '/');
    CHECK(strstr(g[0].ci.path, "/emi-abcdef01-" DIGEST1 ".img") != NULL);
    CHECK(stat(g[0].ci.path, &sb) == 0 && sb.st_size == 100000);
    /* Bases are read-only. */
    CHECK_INT(sb.st_mode & 0777, 0444);
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.fetches, 1);
    CHECK_INT(st.hits, 9);
    CHECK_INT(st.entries, 1);
    CHECK_INT(st.pinned, 1);
    CHECK_INT(st.bytes, 100000);
    CHECK_INT(count_prefix(cache_dir("flight"), ".tmp-"), 0);
    for (int i = 0; i < 10; i++)
        nc_imgcache_release(c, "emi-abcdef01", DIGEST1);
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.pinned, 0);
    CHECK_INT(st.entries, 1);
    nc_imgcache_close(c);
}

OC_TEST(imgcache_fetch_error_retries)
{
    const char *dir = cache_dir("error");
    struct fake_fetcher f;
    struct nc_img_fetcher nf = { fake_fetch, &f };
    struct nc_imgcache *c = NULL;
    struct nc_cached_image ci;
    struct nc_imgcache_stats st;
    struct oc_err err = { 0 };
    struct getter g[5];
    pthread_t t[5];

    fake_init(&f, 50000);
    f.fail_rc = OC_EINVAL;
    CHECK_INT(nc_imgcache_open(dir, 1u << 30, &nf, &c, &err), OC_OK);
    CHECK_INT(get(c, "emi-abcdef01", DIGEST1, &ci, &err), OC_EINVAL);
    CHECK(strstr(err.msg, "refused by the fake") != NULL);
    /* Nothing left behind: neither the entry nor the temporary. */
    CHECK_INT(count_prefix(dir, ""), 2);   /* "." and ".." */
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.entries, 0);
    CHECK_INT(st.bytes, 0);

    /* Waiters share the one failed fetch and its error. */
    f.sleep_ms = 200;
    for (int i = 0; i < 5; i++) {
        memset(&g[i], 0, sizeof(g[i]));
        g[i].c = c;
        CHECK_INT(pthread_create(&t[i], NULL, getter_run, &g[i]), 0);
    }
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    CHECK_INT(fake_calls(&f), 2);
    for (int i = 0; i < 5; i++) {
        CHECK_INT(g[i].rc, OC_EINVAL);
        CHECK(strstr(g[i].err.msg, "refused by the fake") != NULL);
    }
    CHECK_INT(count_prefix(dir, ""), 2);

    /* The next get tries again, and succeeds. */
    f.fail_rc = OC_OK;
    f.sleep_ms = 0;
    CHECK_INT(get(c, "emi-abcdef01", DIGEST1, &ci, &err), OC_OK);
    CHECK_INT(fake_calls(&f), 3);
    CHECK_INT(ci.size, 50000);
    CHECK(file_exists(dir, "emi-abcdef01-" DIGEST1 ".img"));
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.fetches, 3);
    CHECK_INT(st.hits, 0);
    nc_imgcache_release(c, "emi-abcdef01", DIGEST1);
    nc_imgcache_close(c);
}

OC_TEST(imgcache_lru_eviction)
{
    const char *dir = cache_dir("lru");
    struct fake_fetcher f;
    struct nc_img_fetcher nf = { fake_fetch, &f };
    struct nc_imgcache *c = NULL;
    struct nc_cached_image ci;
    struct nc_imgcache_stats st;
    struct oc_err err = { 0 };
    static const char *ids[] = { "emi-0000000a", "emi-0000000b", "emi-0000000c",
                                 "emi-0000000d" };

    fake_init(&f, 1000);
    CHECK_INT(nc_imgcache_open(dir, 3000, &nf, &c, &err), OC_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_INT(get(c, ids[i], DIGEST1, &ci, &err), OC_OK);
        nc_imgcache_release(c, ids[i], DIGEST1);
    }
    /* a is used again: b is now the least recently used. */
    CHECK_INT(get(c, ids[0], DIGEST1, &ci, &err), OC_OK);
    nc_imgcache_release(c, ids[0], DIGEST1);
    CHECK_INT(get(c, ids[3], DIGEST1, &ci, &err), OC_OK);
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.entries, 3);
    CHECK_INT(st.bytes, 3000);
    CHECK(file_exists(dir, "emi-0000000a-" DIGEST1 ".img"));
    CHECK(!file_exists(dir, "emi-0000000b-" DIGEST1 ".img"));
    CHECK(file_exists(dir, "emi-0000000c-" DIGEST1 ".img"));
    CHECK(file_exists(dir, "emi-0000000d-" DIGEST1 ".img"));
    nc_imgcache_release(c, ids[3], DIGEST1);

    /* b again: fetched anew, and c (now the oldest) goes. */
    CHECK_INT(get(c, ids[1], DIGEST1, &ci, &err), OC_OK);
    CHECK_INT(fake_calls(&f), 5);
    CHECK(!file_exists(dir, "emi-0000000c-" DIGEST1 ".img"));
    CHECK(file_exists(dir, "emi-0000000a-" DIGEST1 ".img"));
    nc_imgcache_release(c, ids[1], DIGEST1);

    /* The same id with another digest is another entry. */
    CHECK_INT(get(c, ids[1], DIGEST2, &ci, &err), OC_OK);
    CHECK(strstr(ci.path, DIGEST2) != NULL);
    CHECK_INT(fake_calls(&f), 6);
    nc_imgcache_release(c, ids[1], DIGEST2);
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.entries, 3);
    CHECK_INT(st.bytes, 3000);
    nc_imgcache_close(c);
}

OC_TEST(imgcache_pinned_never_evicted)
{
    const char *dir = cache_dir("pinned");
    struct fake_fetcher f;
    struct nc_img_fetcher nf = { fake_fetch, &f };
    struct nc_imgcache *c = NULL;
    struct nc_cached_image ci;
    struct nc_imgcache_stats st;
    struct oc_err err = { 0 };

    fake_init(&f, 1000);
    CHECK_INT(nc_imgcache_open(dir, 1500, &nf, &c, &err), OC_OK);
    CHECK_INT(get(c, "ami-0000000a", DIGEST1, &ci, &err), OC_OK);
    CHECK_INT(get(c, "ami-0000000b", DIGEST1, &ci, &err), OC_OK);
    CHECK_INT(get(c, "ami-0000000b", DIGEST1, &ci, &err), OC_OK);
    /* Over the limit, but both pinned: both stay. */
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.entries, 2);
    CHECK_INT(st.pinned, 2);
    CHECK_INT(st.bytes, 2000);
    CHECK(file_exists(dir, "ami-0000000a-" DIGEST1 ".img"));
    CHECK(file_exists(dir, "ami-0000000b-" DIGEST1 ".img"));
    /* b has two pins: one release keeps it. */
    nc_imgcache_release(c, "ami-0000000b", DIGEST1);
    CHECK(file_exists(dir, "ami-0000000b-" DIGEST1 ".img"));
    /* The last pin of b goes: b is the only candidate, though a is older. */
    nc_imgcache_release(c, "ami-0000000b", DIGEST1);
    CHECK(!file_exists(dir, "ami-0000000b-" DIGEST1 ".img"));
    CHECK(file_exists(dir, "ami-0000000a-" DIGEST1 ".img"));
    nc_imgcache_release(c, "ami-0000000a", DIGEST1);
    CHECK(file_exists(dir, "ami-0000000a-" DIGEST1 ".img"));
    /* Releasing what is not pinned changes nothing. */
    nc_imgcache_release(c, "ami-0000000a", DIGEST1);
    nc_imgcache_release(c, "ami-0000000f", DIGEST1);
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.entries, 1);
    CHECK_INT(st.pinned, 0);
    CHECK_INT(st.bytes, 1000);

    /* An image larger than the whole cache is served while pinned. */
    f.size = 4000;
    CHECK_INT(get(c, "ami-0000000c", DIGEST1, &ci, &err), OC_OK);
    CHECK(file_exists(dir, "ami-0000000c-" DIGEST1 ".img"));
    CHECK(!file_exists(dir, "ami-0000000a-" DIGEST1 ".img"));
    nc_imgcache_release(c, "ami-0000000c", DIGEST1);
    CHECK(!file_exists(dir, "ami-0000000c-" DIGEST1 ".img"));
    nc_imgcache_close(c);
}

static void set_mtime(const char *dir, const char *name, time_t t)
{
    char path[1024];
    struct timespec ts[2] = { { t, 0 }, { t, 0 } };

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
}

static void write_file(const char *dir, const char *name, const char *data)
{
    char path[1024];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(write(fd, data, strlen(data)) == (ssize_t)strlen(data));
    close(fd);
}

OC_TEST(imgcache_restart)
{
    const char *dir = cache_dir("restart");
    struct fake_fetcher f;
    struct nc_img_fetcher nf = { fake_fetch, &f };
    struct nc_imgcache *c = NULL;
    struct nc_cached_image ci;
    struct nc_imgcache_stats st;
    struct oc_err err = { 0 };
    time_t now = time(NULL);

    fake_init(&f, 1000);
    CHECK_INT(nc_imgcache_open(dir, 10000, &nf, &c, &err), OC_OK);
    CHECK_INT(get(c, "emi-0000000a", DIGEST1, &ci, &err), OC_OK);
    f.qcow2 = 1;
    CHECK_INT(get(c, "emi-0000000b", DIGEST1, &ci, &err), OC_OK);
    CHECK_INT(get(c, "emi-0000000c", DIGEST2, &ci, &err), OC_OK);
    nc_imgcache_close(c);
    c = NULL;

    /* A crash's leftovers and files that are not ours. */
    write_file(dir, ".tmp-emi-0000000d-" DIGEST1 "-0011223344556677", "partial");
    write_file(dir, "notes.txt", "mine");
    write_file(dir, "emi-123-" DIGEST1 ".img", "bad id");
    /* a is the most recently used, then c, then b. */
    set_mtime(dir, "emi-0000000a-" DIGEST1 ".img", now - 10);
    set_mtime(dir, "emi-0000000b-" DIGEST1 ".img", now - 300);
    set_mtime(dir, "emi-0000000c-" DIGEST2 ".img", now - 200);

    CHECK_INT(nc_imgcache_open(dir, 10000, &nf, &c, &err), OC_OK);
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.entries, 3);
    CHECK_INT(st.bytes, 3000);
    CHECK_INT(st.pinned, 0);
    CHECK_INT(count_prefix(dir, ".tmp-"), 0);
    CHECK(file_exists(dir, "notes.txt"));
    CHECK(file_exists(dir, "emi-123-" DIGEST1 ".img"));
    CHECK_INT(get(c, "emi-0000000b", DIGEST1, &ci, &err), OC_OK);
    CHECK_STR(ci.format, "qcow2");
    CHECK_INT(ci.size, 1000);
    CHECK_INT(get(c, "emi-0000000a", DIGEST1, &ci, &err), OC_OK);
    CHECK_STR(ci.format, "raw");
    CHECK_INT(fake_calls(&f), 3);
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.hits, 2);
    CHECK_INT(st.fetches, 0);
    nc_imgcache_release(c, "emi-0000000a", DIGEST1);
    nc_imgcache_release(c, "emi-0000000b", DIGEST1);
    nc_imgcache_close(c);
    c = NULL;

    /* Reopened smaller: the least recently used go first (by mtime). */
    set_mtime(dir, "emi-0000000a-" DIGEST1 ".img", now - 10);
    set_mtime(dir, "emi-0000000b-" DIGEST1 ".img", now - 300);
    set_mtime(dir, "emi-0000000c-" DIGEST2 ".img", now - 200);
    CHECK_INT(nc_imgcache_open(dir, 1500, &nf, &c, &err), OC_OK);
    CHECK(!file_exists(dir, "emi-0000000b-" DIGEST1 ".img"));
    CHECK(!file_exists(dir, "emi-0000000c-" DIGEST2 ".img"));
    CHECK(file_exists(dir, "emi-0000000a-" DIGEST1 ".img"));
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.entries, 1);
    CHECK_INT(st.bytes, 1000);
    nc_imgcache_close(c);

    /* A file deleted behind the cache's back is fetched again. */
    CHECK_INT(nc_imgcache_open(dir, 1500, &nf, &c, &err), OC_OK);
    {
        char path[1024];

        snprintf(path, sizeof(path), "%s/emi-0000000a-" DIGEST1 ".img", dir);
        CHECK(unlink(path) == 0);
    }
    CHECK_INT(get(c, "emi-0000000a", DIGEST1, &ci, &err), OC_OK);
    CHECK_INT(fake_calls(&f), 4);
    CHECK(file_exists(dir, "emi-0000000a-" DIGEST1 ".img"));
    nc_imgcache_release(c, "emi-0000000a", DIGEST1);
    nc_imgcache_close(c);
}

OC_TEST(imgcache_refuses_bad_ids_and_digests)
{
    const char *dir = cache_dir("bad");
    struct fake_fetcher f;
    struct nc_img_fetcher nf = { fake_fetch, &f };
    struct nc_imgcache *c = NULL;
    struct nc_cached_image ci;
    struct oc_err err = { 0 };
    static const char *bad_ids[] = {
        "", "emi-", "emi-1234567", "emi-123456789abcdef012", "EMI-12345678", "emi-1234567G",
        "emi-ABCDEF01", "i-12345678", "xmi-12345678", "emi-12345678/x", "emi-12345678 ",
        "../emi-12345678", "emi-12345678\n", ".tmp-emi-12345678",
    };
    static const char *bad_digests[] = {
        "", "../x", "ABCDEF", "abc/def", "abc.def", "abc def", "abc\n",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
    };
    struct nc_image_ref ref = { NULL, "bucket/key", DIGEST1 };

    fake_init(&f, 10);
    CHECK_INT(nc_imgcache_open(dir, 1u << 20, &nf, &c, &err), OC_OK);
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        ref.image_id = bad_ids[i];
        ref.digest = DIGEST1;
        CHECK_INT(nc_imgcache_get(c, &ref, &ci, &err), OC_EINVAL);
        CHECK(strstr(err.msg, "malformed") != NULL);
    }
    for (size_t i = 0; i < sizeof(bad_digests) / sizeof(bad_digests[0]); i++) {
        ref.image_id = "emi-12345678";
        ref.digest = bad_digests[i];
        CHECK_INT(nc_imgcache_get(c, &ref, &ci, &err), OC_EINVAL);
    }
    ref.image_id = NULL;
    CHECK_INT(nc_imgcache_get(c, &ref, &ci, &err), OC_EINVAL);
    ref.image_id = "emi-12345678";
    ref.digest = NULL;
    CHECK_INT(nc_imgcache_get(c, &ref, &ci, &err), OC_EINVAL);
    ref.digest = DIGEST1;
    ref.location = NULL;
    CHECK_INT(nc_imgcache_get(c, &ref, &ci, &err), OC_EINVAL);
    CHECK_INT(fake_calls(&f), 0);
    CHECK_INT(count_prefix(dir, ""), 2);

    /* The edges that are fine: 8 and 17 hex digits, every prefix, a
     * multipart ETag, a 64-character digest. */
    ref.location = "bucket/key";
    ref.image_id = "aki-0123456789abcdef0";
    ref.digest = "0123456789abcdef0123456789abcdef-12";
    CHECK_INT(nc_imgcache_get(c, &ref, &ci, &err), OC_OK);
    ref.image_id = "eri-01234567";
    ref.digest = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    CHECK_INT(nc_imgcache_get(c, &ref, &ci, &err), OC_OK);
    CHECK_INT(fake_calls(&f), 2);
    nc_imgcache_close(c);

    CHECK_INT(nc_imgcache_open(dir, 1u << 20, NULL, &c, &err), OC_EINVAL);
}

OC_TEST(imgcache_format_detection)
{
    const char *dir = cache_dir("format");
    struct fake_fetcher f;
    struct nc_img_fetcher nf = { fake_fetch, &f };
    struct nc_imgcache *c = NULL;
    struct nc_cached_image ci;
    struct oc_err err = { 0 };

    fake_init(&f, 65536);
    f.qcow2 = 1;
    CHECK_INT(nc_imgcache_open(dir, 1u << 30, &nf, &c, &err), OC_OK);
    CHECK_INT(get(c, "emi-0000000a", DIGEST1, &ci, &err), OC_OK);
    CHECK_STR(ci.format, "qcow2");
    f.qcow2 = 0;
    CHECK_INT(get(c, "emi-0000000b", DIGEST1, &ci, &err), OC_OK);
    CHECK_STR(ci.format, "raw");
    /* Too short for the magic: raw; empty: raw. */
    f.size = 3;
    f.qcow2 = 1;
    CHECK_INT(get(c, "emi-0000000c", DIGEST1, &ci, &err), OC_OK);
    CHECK_STR(ci.format, "raw");
    f.size = 0;
    CHECK_INT(get(c, "emi-0000000d", DIGEST1, &ci, &err), OC_OK);
    CHECK_STR(ci.format, "raw");
    CHECK_INT(ci.size, 0);
    nc_imgcache_close(c);
}

/* ------------------------------------------------------------------ */
/* the Walrus fetcher's location helpers */

OC_TEST(imgfetch_location_helpers)
{
    static const char *bad[] = {
        "", "nobucket", "/key", "bucket/", "bu cket/key", "b/ucket/../x", "bucket/./x",
        "bucket/a/..", "../key", "./key", "bucket/..", "b\x01/key",
    };
    struct oc_err err = { 0 };
    struct oc_buf path = { 0 };
    char *bucket = NULL, *key = NULL, *pk;
    char longkey[1100];

    CHECK_INT(nc_walrus_location_split("my-bucket/dir one/img.manifest.xml", &bucket, &key,
                                       &err), OC_OK);
    CHECK_STR(bucket, "my-bucket");
    CHECK_STR(key, "dir one/img.manifest.xml");
    CHECK(nc_walrus_is_manifest(key));
    CHECK_INT(nc_walrus_object_path(bucket, key, &path), OC_OK);
    CHECK_STR(oc_buf_cstr(&path), "/my-bucket/dir%20one/img.manifest.xml");
    free(bucket);
    free(key);
    oc_buf_reset(&path);

    /* Everything but unreserved characters and the key's slashes encoded. */
    CHECK_INT(nc_walrus_location_split("B_1.x/a+b/c%d/\xc3\xbc~?#&=..x", &bucket, &key, &err),
              OC_OK);
    CHECK_INT(nc_walrus_object_path(bucket, key, &path), OC_OK);
    CHECK_STR(oc_buf_cstr(&path), "/B_1.x/a%2Bb/c%25d/%C3%BC~%3F%23%26%3D..x");
    CHECK(!nc_walrus_is_manifest(key));
    free(bucket);
    free(key);
    oc_buf_free(&path);

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(nc_walrus_location_split(bad[i], &bucket, &key, &err), OC_EINVAL);
        CHECK(bucket == NULL && key == NULL);
    }
    CHECK_INT(nc_walrus_location_split(NULL, &bucket, &key, &err), OC_EINVAL);
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    memcpy(longkey, "bucket/", 7);
    CHECK_INT(nc_walrus_location_split(longkey, &bucket, &key, &err), OC_EINVAL);

    CHECK(!nc_walrus_is_manifest(".manifest.xml"));
    CHECK(!nc_walrus_is_manifest("x.manifest.xml.gz"));
    CHECK(nc_walrus_is_manifest("a.manifest.xml"));

    pk = nc_walrus_part_key("dir/sub/img.manifest.xml", "img.part.00");
    CHECK_STR(pk, "dir/sub/img.part.00");
    free(pk);
    pk = nc_walrus_part_key("img.manifest.xml", "img.part.00");
    CHECK_STR(pk, "img.part.00");
    free(pk);
}
