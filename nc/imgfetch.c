/*
 * imgfetch.c - images from Walrus for the node's cache (see imgfetch.h):
 * S3 GETs signed with SigV4 by common/httpc, bundles unpacked by
 * euca-compat/bundle.c.
 */
#include "nc/imgfetch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/codec.h"
#include "common/fsutil.h"
#include "common/httpc.h"
#include "common/log.h"
#include "euca-compat/bundle.h"
#include "euca-compat/manifest.h"

#define BUCKET_MAX 255
#define KEY_MAX 1024
#define CLOUD_KEY_MAX (64u * 1024)
#define DEFAULT_TIMEOUT_MS (3600L * 1000)
#define MANIFEST_SUFFIX ".manifest.xml"

struct nc_walrus_fetcher {
    char *endpoint;
    char *ak, *sk;
    char *region;
    char *cloud_key_path;          /* NULL: bundles refused */
    char *tmpdir;
    long timeout_ms;
};

/* ------------------------------------------------------------------ */
/* locations */

static int segment_is_dots(const char *s, size_t n)
{
    return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

int nc_walrus_location_split(const char *location, char **bucket, char **key,
                             struct oc_err *err)
{
    const char *slash, *k, *seg;
    size_t blen;

    *bucket = *key = NULL;
    if (!location || !*location)
        return oc_err_set(err, OC_EINVAL, "the image has no location");
    slash = strchr(location, '/');
    if (!slash)
        return oc_err_set(err, OC_EINVAL, "image location '%.300s' is not bucket/key",
                          location);
    blen = (size_t)(slash - location);
    if (blen == 0 || blen > BUCKET_MAX ||
        strspn(location, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") <
            blen ||
        segment_is_dots(location, blen))
        return oc_err_set(err, OC_EINVAL, "image location '%.300s' has no valid bucket name",
                          location);
    k = slash + 1;
    if (!*k || strlen(k) > KEY_MAX)
        return oc_err_set(err, OC_EINVAL, "image location '%.300s' has an empty key or one "
                                          "over %d bytes", location, KEY_MAX);
    /* curl would squash "/./" and "/../" and ask for another object. */
    for (seg = k;;) {
        const char *end = strchr(seg, '/');
        size_t n = end ? (size_t)(end - seg) : strlen(seg);

        if (segment_is_dots(seg, n))
            return oc_err_set(err, OC_EINVAL, "image location '%.300s' has a '.' or '..' "
                                              "path segment", location);
        if (!end)
            break;
        seg = end + 1;
    }
    *bucket = strndup(location, blen);
    *key = strdup(k);
    if (!*bucket || !*key) {
        free(*bucket);
        free(*key);
        *bucket = *key = NULL;
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    return OC_OK;
}

int nc_walrus_is_manifest(const char *key)
{
    size_t n = key ? strlen(key) : 0, s = strlen(MANIFEST_SUFFIX);

    return n > s && strcmp(key + n - s, MANIFEST_SUFFIX) == 0;
}

int nc_walrus_object_path(const char *bucket, const char *key, struct oc_buf *out)
{
    if (oc_buf_putc(out, '/') || oc_uri_encode(bucket, strlen(bucket), 0, out) ||
        oc_buf_putc(out, '/') || oc_uri_encode(key, strlen(key), 1, out))
        return OC_ENOMEM;
    return OC_OK;
}

char *nc_walrus_part_key(const char *manifest_key, const char *filename)
{
    const char *slash = strrchr(manifest_key, '/');
    size_t dlen = slash ? (size_t)(slash - manifest_key + 1) : 0;
    size_t flen = strlen(filename);
    char *s = malloc(dlen + flen + 1);

    if (!s)
        return NULL;
    memcpy(s, manifest_key, dlen);
    memcpy(s + dlen, filename, flen + 1);
    return s;
}

/* ------------------------------------------------------------------ */
/* HTTP */

static int status_rc(long status, const char *what, struct oc_err *err)
{
    if (status == 200)
        return OC_OK;
    if (status == 404)
        return oc_err_set(err, OC_ENOTFOUND, "%s is not in Walrus (404)", what);
    if (status == 403)
        return oc_err_set(err, OC_EAUTH, "Walrus refused the node access to %s (403): wrong "
                                         "node credentials, or the object is not readable by "
                                         "the node", what);
    return oc_err_set(err, OC_EIO, "Walrus answered %ld for %s", status, what);
}

static int client_new(const struct nc_walrus_fetcher *w, struct oc_httpc **out,
                      struct oc_err *err)
{
    struct oc_httpc_config cfg = {
        .endpoint = w->endpoint,
        .access_key_id = w->ak,
        .secret_key = w->sk,
        .region = w->region,
        .timeout_ms = w->timeout_ms,
    };

    return oc_httpc_new(&cfg, out, err);
}

/* GET bucket/key: to fd when fd >= 0, else to resp->body.  `what` names
 * the object in messages. */
static int walrus_get(struct oc_httpc *c, const char *bucket, const char *key, int fd,
                      const char *what, struct oc_httpc_resp *resp, struct oc_err *err)
{
    struct oc_buf path = { 0 };
    int rc;

    if (nc_walrus_object_path(bucket, key, &path) != OC_OK) {
        oc_buf_free(&path);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    rc = oc_httpc_request(c, "GET", "s3", oc_buf_cstr(&path), NULL, NULL, 0, fd, resp, err);
    oc_buf_free(&path);
    if (rc == OC_EIO && err) {
        char why[sizeof(err->msg)];

        snprintf(why, sizeof(why), "%s", err->msg);
        return oc_err_set(err, OC_EIO, "cannot get %s from Walrus: %s", what, why);
    }
    if (rc)
        return rc;
    return status_rc(resp->status, what, err);
}

/* ------------------------------------------------------------------ */
/* plain objects */

/* MD5 of fd from offset start to its end.  The cache hands a read-write
 * descriptor; a write-only one is reopened through /proc. */
static int md5_of_fd(int fd, off_t start, char hex[2 * OC_MD5_LEN + 1], struct oc_err *err)
{
    struct oc_digest *d = oc_digest_new(OC_DIGEST_MD5);
    uint8_t buf[64 * 1024], raw[OC_MD5_LEN];
    off_t off = start;
    int rfd = fd, rc = OC_OK;

    if (!d)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (;;) {
        ssize_t r = pread(rfd, buf, sizeof(buf), off);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno == EBADF && rfd == fd) {
            char proc[64];

            snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
            rfd = open(proc, O_RDONLY | O_CLOEXEC);
            if (rfd >= 0)
                continue;
            rfd = fd;
            errno = EBADF;
        }
        if (r < 0) {
            rc = oc_err_set(err, OC_EIO, "cannot read the image back: %s", strerror(errno));
            break;
        }
        if (r == 0)
            break;
        oc_digest_update(d, buf, (size_t)r);
        off += r;
    }
    if (rfd != fd)
        close(rfd);
    oc_digest_final(d, raw);
    oc_digest_free(d);
    oc_hex_encode(raw, sizeof(raw), hex);
    return rc;
}

/* "<32 hex>-<parts>": an S3 multipart ETag. */
static int is_multipart_etag(const char *d)
{
    return strlen(d) > 33 && strspn(d, "0123456789abcdef") == 32 && d[32] == '-' &&
           strspn(d + 33, "0123456789") == strlen(d + 33);
}

static int fetch_plain(struct nc_walrus_fetcher *w, const struct nc_image_ref *ref,
                       const char *bucket, const char *key, int fd, struct oc_err *err)
{
    struct oc_httpc *c = NULL;
    struct oc_httpc_resp resp = { 0 };
    char md5[2 * OC_MD5_LEN + 1];
    int plain_etag = strlen(ref->digest) == 32 &&
                     strspn(ref->digest, "0123456789abcdef") == 32;
    off_t start;
    int rc;

    if (!plain_etag && !is_multipart_etag(ref->digest))
        return oc_err_set(err, OC_EINVAL, "image %s: the registered digest '%s' is not an "
                                          "ETag of %s", ref->image_id, ref->digest,
                          ref->location);
    start = lseek(fd, 0, SEEK_CUR);
    if (start < 0)
        return oc_err_set(err, OC_EIO, "image %s: the cache file cannot be used: %s",
                          ref->image_id, strerror(errno));
    rc = client_new(w, &c, err);
    if (rc == OC_OK)
        rc = walrus_get(c, bucket, key, fd, ref->location, &resp, err);
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);
    if (rc == OC_OK && plain_etag) {
        rc = md5_of_fd(fd, start, md5, err);
        if (rc == OC_OK && strcmp(md5, ref->digest) != 0)
            rc = oc_err_set(err, OC_EINVAL, "image %s: %s has MD5 %s, but %s was registered: "
                                            "the object changed after registration",
                            ref->image_id, ref->location, md5, ref->digest);
    }
    /* An error answer's body went to fd: leave it as empty as it came. */
    if (rc && ftruncate(fd, start) != 0)
        oc_warn("image %s: cannot truncate the failed download: %s", ref->image_id,
                strerror(errno));
    return rc;
}

/* ------------------------------------------------------------------ */
/* bundles */

struct part_src {
    struct nc_walrus_fetcher *w;
    struct oc_httpc *c;
    const char *bucket, *manifest_key, *location;
};

static int open_part(void *ctx, const struct euca_manifest_part *p, int *out,
                     struct oc_err *err)
{
    struct part_src *s = ctx;
    struct oc_httpc_resp resp = { 0 };
    char *key = nc_walrus_part_key(s->manifest_key, p->filename);
    char *tmpl = NULL, *what = NULL;
    int fd = -1, rc;

    if (key && asprintf(&tmpl, "%s/.oc-part-XXXXXX", s->w->tmpdir) < 0)
        tmpl = NULL;
    if (key && asprintf(&what, "part %u (%s/%s) of %s", p->index, s->bucket, key,
                        s->location) < 0)
        what = NULL;
    if (!key || !tmpl || !what) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd < 0) {
        rc = oc_err_set(err, OC_EIO, "cannot create a file in %s for %s: %s", s->w->tmpdir,
                        what, strerror(errno));
        goto cleanup;
    }
    /* Anonymous from now on: freed when closed, even after a crash. */
    if (unlink(tmpl) != 0) {
        rc = oc_err_set(err, OC_EIO, "cannot unlink %s: %s", tmpl, strerror(errno));
        goto cleanup;
    }
    rc = walrus_get(s->c, s->bucket, key, fd, what, &resp, err);
    if (rc == OC_OK && lseek(fd, 0, SEEK_SET) != 0)
        rc = oc_err_set(err, OC_EIO, "cannot rewind %s: %s", what, strerror(errno));
    if (rc == OC_OK) {
        *out = fd;
        fd = -1;
    }
cleanup:
    if (fd >= 0)
        close(fd);
    oc_httpc_resp_free(&resp);
    free(key);
    free(tmpl);
    free(what);
    return rc;
}

static int read_cloud_key(const struct nc_walrus_fetcher *w, const struct nc_image_ref *ref,
                          char **pem, size_t *len, struct oc_err *err)
{
    struct oc_err kerr = { 0 };

    if (!w->cloud_key_path)
        return oc_err_set(err, OC_EINVAL, "image %s is a bundle, and this node has no cloud "
                                          "key to decrypt bundles with", ref->image_id);
    if (oc_read_file(w->cloud_key_path, CLOUD_KEY_MAX, pem, len, &kerr) != OC_OK)
        return oc_err_set(err, OC_EINVAL, "image %s is a bundle, and this node cannot read "
                                          "the cloud key to decrypt it: %s", ref->image_id,
                          kerr.msg);
    return OC_OK;
}

static int fetch_bundle(struct nc_walrus_fetcher *w, const struct nc_image_ref *ref,
                        const char *bucket, const char *key, int fd, struct oc_err *err)
{
    struct oc_arena *a = NULL;
    struct oc_httpc *c = NULL;
    struct oc_httpc_resp resp = { 0 };
    struct euca_manifest m;
    struct part_src ps;
    struct euca_bundle_source src = { open_part, &ps };
    struct oc_err merr = { 0 };
    char *pem = NULL;
    size_t pem_len = 0;
    uint64_t size = 0;
    int rc;

    if (strlen(ref->digest) != 40 || strspn(ref->digest, "0123456789abcdef") != 40)
        return oc_err_set(err, OC_EINVAL, "image %s: the registered digest '%s' is not the "
                                          "40-hex SHA-1 of a bundle", ref->image_id,
                          ref->digest);
    rc = read_cloud_key(w, ref, &pem, &pem_len, err);
    if (rc == OC_OK)
        rc = client_new(w, &c, err);
    if (rc == OC_OK)
        rc = walrus_get(c, bucket, key, -1, ref->location, &resp, err);
    if (rc == OC_ETOOBIG || (rc == OC_OK && resp.body.len > EUCA_MANIFEST_MAX_BYTES))
        rc = oc_err_set(err, OC_EINVAL, "image %s: the manifest %s is larger than %u bytes",
                        ref->image_id, ref->location, EUCA_MANIFEST_MAX_BYTES);
    if (rc)
        goto cleanup;
    a = oc_arena_new();
    if (euca_manifest_parse(a, resp.body.data ? resp.body.data : "", resp.body.len, &m,
                            &merr) != OC_OK) {
        rc = oc_err_set(err, OC_EINVAL, "image %s: the manifest %s is not valid: %s",
                        ref->image_id, ref->location, merr.msg);
        goto cleanup;
    }
    oc_httpc_resp_free(&resp);
    /* The CLC checked the signature at registration and recorded the
     * digest; an image digest that still matches proves the bytes. */
    if (strcmp(m.digest, ref->digest) != 0) {
        rc = oc_err_set(err, OC_EINVAL, "image %s: the manifest %s now has image digest %s, "
                                        "but %s was registered: the bundle changed after "
                                        "registration", ref->image_id, ref->location,
                        m.digest, ref->digest);
        goto cleanup;
    }
    ps = (struct part_src){ w, c, bucket, key, ref->location };
    rc = euca_bundle_extract(&m, pem, pem_len, &src, fd, &size, err);
    if (rc && err) {
        char why[sizeof(err->msg)];

        snprintf(why, sizeof(why), "%s", err->msg);
        oc_err_set(err, rc, "image %s (%s): %s", ref->image_id, ref->location, why);
    } else if (rc == OC_OK) {
        oc_debug("image %s: unpacked %llu bytes from bundle %s", ref->image_id,
                 (unsigned long long)size, ref->location);
    }
cleanup:
    if (pem) {
        OPENSSL_cleanse(pem, pem_len);
        free(pem);
    }
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);
    oc_arena_free(a);
    return rc;
}

/* ------------------------------------------------------------------ */

static int walrus_fetch(void *ctx, const struct nc_image_ref *ref, int fd, struct oc_err *err)
{
    struct nc_walrus_fetcher *w = ctx;
    char *bucket = NULL, *key = NULL;
    int rc;

    if (!ref || !ref->image_id || !ref->location || !ref->digest || fd < 0)
        return oc_err_set(err, OC_EINVAL, "image fetch: missing argument");
    rc = nc_walrus_location_split(ref->location, &bucket, &key, err);
    if (rc)
        return rc;
    if (nc_walrus_is_manifest(key))
        rc = fetch_bundle(w, ref, bucket, key, fd, err);
    else
        rc = fetch_plain(w, ref, bucket, key, fd, err);
    free(bucket);
    free(key);
    return rc;
}

struct nc_img_fetcher nc_walrus_fetcher(struct nc_walrus_fetcher *w)
{
    struct nc_img_fetcher f = { walrus_fetch, w };

    return f;
}

void nc_walrus_fetcher_free(struct nc_walrus_fetcher *w)
{
    if (!w)
        return;
    free(w->endpoint);
    free(w->ak);
    if (w->sk) {
        OPENSSL_cleanse(w->sk, strlen(w->sk));
        free(w->sk);
    }
    free(w->region);
    free(w->cloud_key_path);
    free(w->tmpdir);
    free(w);
}

int nc_walrus_fetcher_new(const struct nc_walrus_fetcher_config *cfg,
                          struct nc_walrus_fetcher **out, struct oc_err *err)
{
    struct nc_walrus_fetcher *w;
    const char *url = cfg ? cfg->walrus_url : NULL, *host;
    const char *tmpdir = cfg && cfg->tmpdir ? cfg->tmpdir : "/tmp";
    struct stat st;
    size_t n;

    *out = NULL;
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return oc_err_set(err, OC_EINVAL, "WALRUS_URL '%s' is not an http(s) URL",
                          url ? url : "");
    if (!cfg->access_key_id || !*cfg->access_key_id || !cfg->secret_key || !*cfg->secret_key)
        return oc_err_set(err, OC_EINVAL, "the node has no Walrus credentials");
    if (stat(tmpdir, &st) != 0 || !S_ISDIR(st.st_mode))
        return oc_err_set(err, OC_EINVAL, "the image download directory %s is not a directory",
                          tmpdir);
    w = calloc(1, sizeof(*w));
    if (!w)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    w->endpoint = strdup(url);
    w->ak = strdup(cfg->access_key_id);
    w->sk = strdup(cfg->secret_key);
    w->region = strdup(cfg->region ? cfg->region : "us-east-1");
    w->cloud_key_path = cfg->cloud_key_path ? strdup(cfg->cloud_key_path) : NULL;
    w->tmpdir = strdup(tmpdir);
    w->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : DEFAULT_TIMEOUT_MS;
    if (!w->endpoint || !w->ak || !w->sk || !w->region || !w->tmpdir ||
        (cfg->cloud_key_path && !w->cloud_key_path)) {
        nc_walrus_fetcher_free(w);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    n = strlen(w->endpoint);
    while (n && w->endpoint[n - 1] == '/')
        w->endpoint[--n] = '\0';
    host = strstr(w->endpoint, "://") + 3;
    /* httpc keeps scheme://host[:port] only: a path would be dropped. */
    if (!*host || strchr(host, '/')) {
        nc_walrus_fetcher_free(w);
        return oc_err_set(err, OC_EINVAL, "WALRUS_URL '%s' must be scheme://host[:port]", url);
    }
    *out = w;
    return OC_OK;
}
