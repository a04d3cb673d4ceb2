/*
 * s3_object.c - object operations: PutObject (streamed into a store writer,
 * committed asynchronously so group commit can batch it), GetObject and
 * HeadObject (sendfile, Range, conditional requests, response-* overrides),
 * DeleteObject, CopyObject (streamed through a new writer on a worker
 * thread, never held in memory) and DeleteObjects.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/log.h"
#include "common/range.h"
#include "walrus/s3_internal.h"

#define COPY_CHUNK (1024 * 1024)

static const char *s3_dup_header(struct wal_s3_req *q, const char *name)
{
    const char *v = oc_http_header(q->r, name);

    return v ? oc_arena_strdup(q->r->arena, v) : NULL;
}

/* Content-Encoding without the aws-chunked transfer coding SDKs add. */
static const char *s3_content_encoding(struct wal_s3_req *q)
{
    const char *v = oc_http_header(q->r, "content-encoding");
    struct oc_buf b = { 0 };
    const char *out = NULL;

    if (!v)
        return NULL;
    while (*v) {
        const char *comma = strchr(v, ',');
        const char *s = v, *e = comma ? comma : v + strlen(v);

        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s && !((size_t)(e - s) == 11 && strncasecmp(s, "aws-chunked", 11) == 0)) {
            if ((b.len && oc_buf_putc(&b, ',') != OC_OK) ||
                oc_buf_append(&b, s, (size_t)(e - s)) != OC_OK)
                break;
        }
        if (!comma)
            break;
        v = comma + 1;
    }
    if (b.len)
        out = oc_arena_strndup(q->r->arena, b.data, b.len);
    oc_buf_free(&b);
    return out;
}

int wal_s3_meta_from_request(struct wal_s3_req *q, struct wal_meta *m)
{
    const char *acl, *ct;
    int rc;

    memset(m, 0, sizeof(*m));
    for (size_t i = 0; i < q->r->nheaders; i++)
        if (strncmp(q->r->headers[i].name, "x-amz-grant-", 12) == 0) {
            wal_s3_fail(q, WAL_S3E_NOT_IMPLEMENTED, "Only canned ACLs are supported.");
            return -1;
        }
    acl = wal_s3_request_acl(q, "private");
    if (!acl)
        return -1;
    m->bucket = q->rt.bucket;
    m->key = q->rt.key;
    /* An anonymous write (public-read-write bucket) belongs to the bucket owner. */
    snprintf(m->owner, sizeof(m->owner), "%s", q->who ? q->who->account_id : q->bucket.owner);
    snprintf(m->acl, sizeof(m->acl), "%s", acl);
    ct = oc_http_header(q->r, "content-type");
    m->content_type = oc_arena_strdup(q->r->arena,
                                      ct && *ct ? ct : WAL_S3_DEFAULT_CONTENT_TYPE);
    m->content_encoding = s3_content_encoding(q);
    m->content_disposition = s3_dup_header(q, "content-disposition");
    m->content_language = s3_dup_header(q, "content-language");
    m->cache_control = s3_dup_header(q, "cache-control");
    m->expires = s3_dup_header(q, "expires");
    rc = wal_s3_user_meta(q->r->arena, q->r->headers, q->r->nheaders, &m->user_meta);
    if (rc == OC_ETOOBIG) {
        wal_s3_fail(q, WAL_S3E_METADATA_TOO_LARGE, NULL);
        return -1;
    }
    if (rc) {
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return -1;
    }
    return 0;
}

/* ---- PutObject ---- */

void wal_s3_put_object_begin(struct wal_s3_req *q)
{
    if (wal_s3_meta_from_request(q, &q->meta))
        return;
    (void)wal_s3_body_to_store(q, q->s3->max_object_size);
}

static void s3_put_done(void *arg, int rc, const struct oc_err *err)
{
    struct wal_s3_req *q = arg;

    if (rc) {
        wal_s3_fail_store(q, rc, err, WAL_S3E_NO_SUCH_BUCKET);
    } else {
        oc_http_add_header(q->r, "ETag", q->meta.etag);
        wal_s3_respond_empty(q, 200);
    }
    wal_s3_async_end(q);
}

void wal_s3_put_object_end(struct wal_s3_req *q)
{
    struct wal_put *p = q->body.put;

    q->body.put = NULL;
    wal_s3_async_begin(q);
    wal_put_commit_async(p, &q->meta, s3_put_done, q);
}

/* ---- GetObject / HeadObject ---- */

static void s3_add_if(struct oc_http_req *r, const char *name, const char *value)
{
    if (value && *value)
        oc_http_add_header(r, name, value);
}

static int s3_has_overrides(const struct wal_s3_req *q)
{
    for (size_t i = 0; i < q->q.n; i++)
        if (strncmp(q->q.items[i].name, "response-", 9) == 0)
            return 1;
    return 0;
}

static void s3_object_headers(struct wal_s3_req *q, const struct wal_meta *m)
{
    static const struct {
        const char *param, *header;
    } overrides[] = {
        { "response-content-type", "Content-Type" },
        { "response-content-language", "Content-Language" },
        { "response-expires", "Expires" },
        { "response-cache-control", "Cache-Control" },
        { "response-content-disposition", "Content-Disposition" },
        { "response-content-encoding", "Content-Encoding" },
    };
    const char *stored[] = { m->content_type ? m->content_type : WAL_S3_DEFAULT_CONTENT_TYPE,
                             m->content_language, m->expires, m->cache_control,
                             m->content_disposition, m->content_encoding };
    char date[WAL_S3_DATE_LEN];
    struct oc_http_req *r = q->r;

    oc_http_add_header(r, "ETag", m->etag);
    wal_s3_http_date(m->mtime_ms, date);
    oc_http_add_header(r, "Last-Modified", date);
    oc_http_add_header(r, "Accept-Ranges", "bytes");
    int any = s3_has_overrides(q);

    for (size_t i = 0; i < sizeof(overrides) / sizeof(overrides[0]); i++) {
        const char *o = any ? oc_query_get(&q->q, overrides[i].param) : NULL;

        s3_add_if(r, overrides[i].header, o ? o : stored[i]);
    }
    /* Stored as "x-amz-meta-name: value\n" lines. */
    for (const char *l = m->user_meta; l && *l;) {
        const char *nl = strchr(l, '\n'), *colon;
        size_t len = nl ? (size_t)(nl - l) : strlen(l);

        colon = memchr(l, ':', len);
        if (colon) {
            const char *v = colon + 1;
            char *name = oc_arena_strndup(r->arena, l, (size_t)(colon - l));

            while (*v == ' ' && v < l + len)
                v++;
            oc_http_add_header(r, name, oc_arena_strndup(r->arena, v, (size_t)(l + len - v)));
        }
        l += len + (nl ? 1 : 0);
    }
}


/*
 * Small bodies are read and sent from memory: libmicrohttpd then writes the
 * headers and body with one system call instead of a send and a sendfile,
 * which is most of the cost of a small GET.  Larger ones go out with
 * sendfile.  Either way a file shorter than its recorded size (damage made
 * outside Overcast) is an InternalError, never a response that stalls.
 */
#define S3_SMALL_BODY (64 * 1024)

static void s3_body_release(void *cls)
{
    wal_body_put(cls);
}

static int s3_respond_bytes(struct wal_s3_req *q, int status, int fd, struct wal_body *body,
                            uint64_t off, uint64_t len, uint64_t size)
{
    struct stat st;

    if (body) {
        /* The object's bytes in memory (store_body.c): no copy, no system call. */
        return oc_http_respond_ref(q->r, status, NULL, (const char *)wal_body_data(body) + off,
                                   (size_t)len, s3_body_release, body);
    }
    if (len <= S3_SMALL_BODY && strcmp(q->r->method, "HEAD") != 0) {
        char *buf = len ? oc_arena_alloc(q->r->arena, (size_t)len) : NULL;
        ssize_t n = len ? pread(fd, buf, (size_t)len, (off_t)off) : 0;

        close(fd);
        if (n < 0 || (uint64_t)n != len) {
            oc_error("s3 %s: object %s/%s is shorter on disk than its %llu bytes",
                     q->r->request_id, q->rt.bucket, q->rt.key, (unsigned long long)size);
            wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
            return OC_OK;
        }
        return oc_http_respond(q->r, status, NULL, buf, len);
    }
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < size) {
        close(fd);
        oc_error("s3 %s: object %s/%s is shorter on disk than its %llu bytes",
                 q->r->request_id, q->rt.bucket, q->rt.key, (unsigned long long)size);
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return OC_OK;
    }
    return oc_http_respond_fd(q->r, status, fd, off, len);
}

/* Lets go of what wal_object_fetch gave: the open file or the bytes in memory. */
static void s3_fetch_drop(int fd, struct wal_body *body)
{
    if (fd >= 0)
        close(fd);
    wal_body_put(body);
}

void wal_s3_get_object(struct wal_s3_req *q)
{
    struct oc_err err = { 0 };
    struct wal_meta m;
    const char *pn = oc_query_get(&q->q, "partNumber");
    uint64_t first = 0, last = 0;
    enum oc_range_result rr;
    enum wal_s3_cond cond;
    struct wal_body *body = NULL;
    char cr[80];
    int fd = -1, rc;

    if (pn && strcmp(pn, "1") != 0) {
        wal_s3_fail(q, WAL_S3E_NOT_IMPLEMENTED, "GET by partNumber is not supported.");
        return;
    }
    if (s3_has_overrides(q) && !q->who) {
        wal_s3_fail(q, WAL_S3E_INVALID_REQUEST,
                    "Request specific response headers cannot be used for anonymous GET "
                    "requests.");
        return;
    }
    rc = wal_object_fetch(q->s3->store, q->r->arena, q->rt.bucket, q->rt.key, &m, &fd, &body,
                          &err);
    if (rc == OC_ENOTFOUND && !wal_s3_bucket_allows(q, WAL_S3_READ)) {
        /* As S3: who may not list the bucket cannot learn which keys exist. */
        wal_s3_fail(q, WAL_S3E_ACCESS_DENIED, NULL);
        return;
    }
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_KEY);
        return;
    }
    if (!wal_s3_object_allows(q, &m, WAL_S3_READ)) {
        s3_fetch_drop(fd, body);
        wal_s3_fail(q, WAL_S3E_ACCESS_DENIED, NULL);
        return;
    }
    if (pn && strchr(m.etag, '-')) {
        /* Part 1 of a multipart object is not the whole object. */
        s3_fetch_drop(fd, body);
        wal_s3_fail(q, WAL_S3E_NOT_IMPLEMENTED, "GET by partNumber is not supported.");
        return;
    }
    cond = wal_s3_conditions(oc_http_header(q->r, "if-match"),
                             oc_http_header(q->r, "if-none-match"),
                             oc_http_header(q->r, "if-modified-since"),
                             oc_http_header(q->r, "if-unmodified-since"), m.etag, m.mtime_ms);
    if (cond == WAL_S3_COND_FAILED) {
        s3_fetch_drop(fd, body);
        wal_s3_fail(q, WAL_S3E_PRECONDITION_FAILED, NULL);
        return;
    }
    if (cond == WAL_S3_COND_NOT_MODIFIED) {
        char date[WAL_S3_DATE_LEN];

        s3_fetch_drop(fd, body);
        oc_http_add_header(q->r, "ETag", m.etag);
        wal_s3_http_date(m.mtime_ms, date);
        oc_http_add_header(q->r, "Last-Modified", date);
        wal_s3_respond_empty(q, 304);
        return;
    }
    rr = oc_range_parse(oc_http_header(q->r, "range"), m.size, &first, &last);
    if (rr == OC_RANGE_UNSATISFIABLE) {
        s3_fetch_drop(fd, body);
        wal_s3_content_range(1, 0, m.size, cr);
        oc_http_add_header(q->r, "Content-Range", cr);
        wal_s3_fail(q, WAL_S3E_INVALID_RANGE, NULL);
        return;
    }
    s3_object_headers(q, &m);
    if (rr == OC_RANGE_OK) {
        wal_s3_content_range(first, last, m.size, cr);
        oc_http_add_header(q->r, "Content-Range", cr);
    } else {
        first = 0;
        last = m.size ? m.size - 1 : 0;
    }
    rc = s3_respond_bytes(q, rr == OC_RANGE_OK ? 206 : 200, fd, body, first,
                          m.size ? last - first + 1 : 0, m.size);
    if (rc != OC_OK)
        oc_error("s3 %s: cannot queue the object response", q->r->request_id);
}

int wal_s3_object_load(struct wal_s3_req *q, enum wal_s3_perm perm, struct wal_meta *m)
{
    struct oc_err err = { 0 };
    int rc = wal_object_head(q->s3->store, q->r->arena, q->rt.bucket, q->rt.key, m, &err);

    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_KEY);
        return -1;
    }
    if (!wal_s3_object_allows(q, m, perm)) {
        wal_s3_fail(q, WAL_S3E_ACCESS_DENIED, NULL);
        return -1;
    }
    return 0;
}

/* ---- Get{Object,Bucket}Tagging: tags are not stored, so there are none ---- */

void wal_s3_get_tagging(struct wal_s3_req *q)
{
    struct oc_xmlw *w;
    struct wal_meta m;

    if (!q->rt.key) {
        wal_s3_fail(q, WAL_S3E_NO_SUCH_TAG_SET, NULL);
        return;
    }
    if (wal_s3_object_load(q, WAL_S3_READ, &m))
        return;
    w = oc_xmlw_new("Tagging", WAL_S3_NS);
    if (w) {
        oc_xmlw_start(w, "TagSet");
        oc_xmlw_end(w);
    }
    wal_s3_respond_xml(q, 200, w);
}

/* ---- DeleteObject ---- */

void wal_s3_delete_object(struct wal_s3_req *q)
{
    struct oc_err err = { 0 };
    int rc = wal_object_delete(q->s3->store, q->rt.bucket, q->rt.key, &err);

    if (rc && rc != OC_ENOTFOUND) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_KEY);
        return;
    }
    wal_s3_respond_empty(q, 204);
}

/* ---- CopyObject ---- */

int wal_s3_copy_source(struct wal_s3_req *q)
{
    const char *h = oc_http_header(q->r, "x-amz-copy-source");
    const char *qm = strchr(h, '?'), *s, *slash;
    struct oc_buf b = { 0 };
    size_t rawlen = qm ? (size_t)(qm - h) : strlen(h);

    if (qm) {
        struct oc_query vq;
        const char *vid;

        if (oc_query_parse(q->r->arena, qm + 1, strlen(qm + 1), &vq, NULL) != OC_OK) {
            wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Invalid copy source.");
            return -1;
        }
        vid = oc_query_get(&vq, "versionId");
        if (vid && strcmp(vid, "null") != 0) {
            wal_s3_fail(q, WAL_S3E_NO_SUCH_VERSION, NULL);
            return -1;
        }
    }
    if (oc_url_decode(h, rawlen, 0, &b) != OC_OK) {
        oc_buf_free(&b);
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Invalid copy source encoding.");
        return -1;
    }
    s = oc_arena_strndup(q->r->arena, oc_buf_cstr(&b), b.len);
    oc_buf_free(&b);
    if (*s == '/')
        s++;
    slash = strchr(s, '/');
    if (!slash || slash == s || !slash[1]) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                    "Copy Source must mention the source bucket and key: "
                    "sourcebucket/sourcekey");
        return -1;
    }
    q->src_bucket = oc_arena_strndup(q->r->arena, s, (size_t)(slash - s));
    q->src_key = slash + 1;
    if (strlen(q->src_key) > WAL_S3_MAX_KEY_LEN) {
        wal_s3_fail(q, WAL_S3E_KEY_TOO_LONG, NULL);
        return -1;
    }
    if (!wal_s3_utf8_valid(q->src_key, strlen(q->src_key))) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Invalid copy source encoding.");
        return -1;
    }
    return 0;
}

int wal_s3_copy_conditions(struct wal_s3_req *q, const struct wal_meta *src)
{
    enum wal_s3_cond c;

    c = wal_s3_conditions(oc_http_header(q->r, "x-amz-copy-source-if-match"),
                          oc_http_header(q->r, "x-amz-copy-source-if-none-match"),
                          oc_http_header(q->r, "x-amz-copy-source-if-modified-since"),
                          oc_http_header(q->r, "x-amz-copy-source-if-unmodified-since"),
                          src->etag, src->mtime_ms);
    if (c != WAL_S3_COND_OK) {
        wal_s3_fail(q, WAL_S3E_PRECONDITION_FAILED, NULL);
        return -1;
    }
    return 0;
}

/* Loads the source bucket and object metadata and checks the caller may read
 * it; answers and returns non-zero otherwise. */
static int s3_copy_source_check(struct wal_s3_req *q, struct wal_meta *src)
{
    struct wal_bucket sb;
    struct oc_err err = { 0 };
    int rc;

    rc = wal_bucket_get(q->s3->store, q->src_bucket, &sb, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_BUCKET);
        return -1;
    }
    rc = wal_object_head(q->s3->store, q->r->arena, q->src_bucket, q->src_key, src, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_KEY);
        return -1;
    }
    if (!(q->who && strcmp(q->who->account_id, sb.owner) == 0) &&
        !wal_s3_acl_allows(src->acl, src->owner, q->who, WAL_S3_READ)) {
        wal_s3_fail(q, WAL_S3E_ACCESS_DENIED, NULL);
        return -1;
    }
    return wal_s3_copy_conditions(q, src);
}

static int s3_directive_replace(struct wal_s3_req *q, int *replace)
{
    const char *d = oc_http_header(q->r, "x-amz-metadata-directive");

    *replace = 0;
    if (!d || strcmp(d, "COPY") == 0)
        return 0;
    if (strcmp(d, "REPLACE") == 0) {
        *replace = 1;
        return 0;
    }
    wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Unknown metadata directive.");
    return -1;
}

void wal_s3_copy_object_begin(struct wal_s3_req *q)
{
    struct wal_meta src;
    int replace;

    if (wal_s3_copy_source(q) || s3_directive_replace(q, &replace))
        return;
    if (!replace && strcmp(q->src_bucket, q->rt.bucket) == 0 &&
        strcmp(q->src_key, q->rt.key) == 0) {
        wal_s3_fail(q, WAL_S3E_INVALID_REQUEST,
                    "This copy request is illegal because it is trying to copy an object to "
                    "itself without changing the object's metadata, storage class, website "
                    "redirect location or encryption attributes.");
        return;
    }
    if (s3_copy_source_check(q, &src))
        return;
    /* The destination's ACL and (with REPLACE) headers come from this request. */
    (void)wal_s3_meta_from_request(q, &q->meta);
}

int wal_s3_copy_bytes(int fd, uint64_t off, uint64_t len, struct wal_put *put,
                      struct oc_err *err)
{
    char *buf = malloc(COPY_CHUNK);
    int rc = OC_OK;

    if (!buf)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    while (len > 0 && rc == OC_OK) {
        size_t want = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;
        ssize_t n = pread(fd, buf, want, (off_t)off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = oc_err_set(err, OC_EIO, "reading the copy source: %s", strerror(errno));
            break;
        }
        if (n == 0) {
            rc = oc_err_set(err, OC_EIO, "the copy source is shorter than its metadata says");
            break;
        }
        rc = wal_put_write(put, buf, (size_t)n, err);
        off += (uint64_t)n;
        len -= (uint64_t)n;
    }
    free(buf);
    return rc;
}

static void s3_copy_done(void *arg, int rc, const struct oc_err *err)
{
    struct wal_s3_req *q = arg;
    char date[WAL_S3_DATE_LEN];
    struct oc_xmlw *w;

    if (rc) {
        wal_s3_fail_store(q, rc, err, WAL_S3E_NO_SUCH_BUCKET);
    } else {
        w = oc_xmlw_new("CopyObjectResult", WAL_S3_NS);
        wal_s3_iso_date(q->meta.mtime_ms, date);
        if (w) {
            oc_xmlw_elem(w, "LastModified", date);
            oc_xmlw_elem(w, "ETag", q->meta.etag);
        }
        wal_s3_respond_xml(q, 200, w);
    }
    wal_s3_async_end(q);
}

/* Worker thread: stream the source into a new writer, then commit. */
static void s3_copy_work(struct wal_s3_req *q)
{
    struct oc_err err = { 0 };
    struct wal_meta src;
    struct wal_put *put = NULL;
    int fd = -1, rc, replace = 0;

    rc = wal_object_open(q->s3->store, q->r->arena, q->src_bucket, q->src_key, &src, &fd,
                         &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_KEY);
        goto fail;
    }
    (void)s3_directive_replace(q, &replace);
    if (!replace) {
        q->meta.content_type = src.content_type;
        q->meta.content_encoding = src.content_encoding;
        q->meta.content_disposition = src.content_disposition;
        q->meta.content_language = src.content_language;
        q->meta.cache_control = src.cache_control;
        q->meta.expires = src.expires;
        q->meta.user_meta = src.user_meta;
    }
    rc = wal_put_begin(q->s3->store, &put, &err);
    if (rc == OC_OK)
        rc = wal_s3_copy_bytes(fd, 0, src.size, put, &err);
    close(fd);
    if (rc) {
        if (put)
            wal_put_abort(put);
        wal_s3_fail_store(q, rc, &err, WAL_S3E_INTERNAL);
        goto fail;
    }
    wal_put_commit_async(put, &q->meta, s3_copy_done, q);
    return;
fail:
    wal_s3_async_end(q);
}

void wal_s3_copy_object_end(struct wal_s3_req *q)
{
    wal_s3_offload(q, s3_copy_work);
}

/* ---- DeleteObjects ---- */

/* S3 requires an integrity check on this body: Content-MD5 (verified with
 * the body) or an x-amz-checksum-* header, or a trailing checksum. */
static int s3_delete_checksum(struct wal_s3_req *q)
{
    static const char *const algs[] = { "crc32", "crc32c", "sha1", "sha256" };

    if (oc_http_header(q->r, "content-md5"))
        return 0;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        const char *name = oc_arena_printf(q->r->arena, "x-amz-checksum-%s", algs[i]);
        const char *v = oc_http_header(q->r, name);
        int ok;

        if (!v)
            continue;
        ok = wal_s3_checksum_verify(algs[i], v, q->body.mem.data ? q->body.mem.data : "",
                                    q->body.mem.len);
        if (ok < 0) {
            wal_s3_failf(q, WAL_S3E_INVALID_REQUEST, "Value for %s header is invalid.", name);
            return -1;
        }
        if (!ok) {
            wal_s3_failf(q, WAL_S3E_BAD_DIGEST,
                         "The %s you specified did not match the calculated checksum.",
                         algs[i]);
            return -1;
        }
        return 0;
    }
    if (q->body.chunked && oc_http_header(q->r, "x-amz-trailer"))
        return 0;
    wal_s3_fail(q, WAL_S3E_INVALID_REQUEST,
                "Missing required header for this request: Content-MD5");
    return -1;
}

static void s3_delete_error(struct oc_xmlw *w, const char *key, enum wal_s3_error e,
                            const char *msg)
{
    const struct wal_s3_errdef *d = wal_s3_error_def(e);

    oc_xmlw_start(w, "Error");
    oc_xmlw_elem(w, "Key", key);
    oc_xmlw_elem(w, "Code", d->code);
    oc_xmlw_elem(w, "Message", msg ? msg : d->message);
    oc_xmlw_end(w);
}

static void s3_delete_objects_work(struct wal_s3_req *q)
{
    struct wal_s3_delete_req dr;
    struct oc_err err = { 0 };
    struct oc_xmlw *w;
    int rc;

    rc = wal_s3_parse_delete(q->r->arena, q->body.mem.data ? q->body.mem.data : "",
                             q->body.mem.len, &dr, &err);
    if (rc) {
        wal_s3_fail(q, WAL_S3E_MALFORMED_XML, NULL);
        goto done;
    }
    w = oc_xmlw_new("DeleteResult", WAL_S3_NS);
    if (!w) {
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        goto done;
    }
    for (size_t i = 0; i < dr.n; i++) {
        const char *key = dr.keys[i], *vid = dr.version_ids[i];
        size_t klen = strlen(key);

        if (klen == 0 || !wal_s3_utf8_valid(key, klen)) {
            s3_delete_error(w, key, WAL_S3E_INVALID_ARGUMENT, "Invalid key.");
            continue;
        }
        if (klen > WAL_S3_MAX_KEY_LEN) {
            s3_delete_error(w, key, WAL_S3E_KEY_TOO_LONG, NULL);
            continue;
        }
        if (vid && strcmp(vid, "null") != 0) {
            s3_delete_error(w, key, WAL_S3E_NO_SUCH_VERSION, NULL);
            continue;
        }
        rc = wal_object_delete(q->s3->store, q->rt.bucket, key, &err);
        if (rc && rc != OC_ENOTFOUND) {
            oc_error("s3 %s: DeleteObjects %s: %s", q->r->request_id, key, err.msg);
            s3_delete_error(w, key, WAL_S3E_INTERNAL, NULL);
            continue;
        }
        if (!dr.quiet) {
            oc_xmlw_start(w, "Deleted");
            oc_xmlw_elem(w, "Key", key);
            if (vid)
                oc_xmlw_elem(w, "VersionId", vid);
            oc_xmlw_end(w);
        }
    }
    wal_s3_respond_xml(q, 200, w);
done:
    wal_s3_async_end(q);
}

void wal_s3_delete_objects_end(struct wal_s3_req *q)
{
    if (s3_delete_checksum(q))
        return;
    wal_s3_offload(q, s3_delete_objects_work);
}
