/*
 * s3.c - the S3 front door: routing, authentication, authorisation of the
 * bucket, the body pipeline and the response helpers every handler uses.
 *
 * One request goes through:
 *   on_request  route (path or virtual host), parse the query, oc_auth_verify,
 *               pick the operation, load the bucket, check the caller's
 *               rights, then either answer at once (GET, HEAD, DELETE, ...)
 *               or install a body sink (PUT object/part to a store writer,
 *               XML bodies to memory).
 *   on_body     pieces of the body go through the aws-chunked decoder when
 *               the payload is streaming-signed, then to the sink.
 *   on_end      integrity checks (x-amz-content-sha256, Content-MD5,
 *               x-amz-decoded-content-length); then the operation finishes,
 *               synchronously or with oc_http_suspend() and an asynchronous
 *               store commit or worker thread that answers and resumes.
 *   on_done     anything still owned (an uncommitted writer) is discarded, so
 *               a failed or abandoned upload never becomes visible.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/codec.h"
#include "common/log.h"
#include "walrus/s3_internal.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SMALL_BODY_LIMIT (64 * 1024)
#define DELETE_BODY_LIMIT (2 * 1024 * 1024)

/* ------------------------------------------------------------------ */
/* service object */

int wal_s3_new(const struct wal_s3_config *cfg, struct wal_store *store,
               const struct oc_cred_source *creds, struct wal_s3 **out, struct oc_err *err)
{
    struct wal_s3 *s3 = calloc(1, sizeof(*s3));
    const char *dom = cfg && cfg->dns_domain && *cfg->dns_domain ? cfg->dns_domain
                                                                 : WAL_S3_DEFAULT_DNS_DOMAIN;
    const char *region = cfg && cfg->region && *cfg->region ? cfg->region
                                                            : WAL_S3_DEFAULT_REGION;

    if (!s3)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    s3->store = store;
    s3->creds = *creds;
    s3->dns_domain = strdup(dom);
    s3->region = strdup(region);
    s3->max_object_size = cfg && cfg->max_object_size ? cfg->max_object_size
                                                      : WAL_S3_DEFAULT_MAX_OBJECT;
    if (!s3->dns_domain || !s3->region) {
        wal_s3_free(s3);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    /* A leading dot in the configured domain would never match a Host. */
    while (s3->dns_domain[0] == '.')
        memmove(s3->dns_domain, s3->dns_domain + 1, strlen(s3->dns_domain));
    pthread_mutex_init(&s3->lock, NULL);
    pthread_cond_init(&s3->idle, NULL);
    *out = s3;
    return OC_OK;
}

void wal_s3_free(struct wal_s3 *s3)
{
    if (!s3)
        return;
    free(s3->dns_domain);
    free(s3->region);
    pthread_mutex_destroy(&s3->lock);
    pthread_cond_destroy(&s3->idle);
    free(s3);
}

uint64_t wal_s3_max_body(const struct wal_s3 *s3)
{
    /* aws-chunked framing adds ~90 bytes per chunk (8 KiB minimum) plus
     * trailers; 1/64 of the size and 1 MiB covers it with room. */
    return s3->max_object_size + s3->max_object_size / 64 + 1024 * 1024;
}

unsigned wal_s3_quiesce(struct wal_s3 *s3, unsigned timeout_ms)
{
    struct timespec until;
    unsigned left;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s3->lock);
    s3->stopping = 1;
    while (s3->inflight > 0)
        if (pthread_cond_timedwait(&s3->idle, &s3->lock, &until) == ETIMEDOUT)
            break;
    left = s3->inflight;
    pthread_mutex_unlock(&s3->lock);
    return left;
}

/* ------------------------------------------------------------------ */
/* routing */

static int s3_decode(struct oc_arena *a, const char *s, size_t len, const char **out)
{
    struct oc_buf b = { 0 };
    int rc = oc_url_decode(s, len, 0, &b);

    if (rc == OC_OK)
        *out = oc_arena_strndup(a, oc_buf_cstr(&b), b.len);
    oc_buf_free(&b);
    return rc;
}

int wal_s3_route_parse(struct oc_arena *a, const char *host, const char *path,
                       const char *dns_domain, struct wal_s3_route *out,
                       enum wal_s3_error *code)
{
    static const char *const prefixes[] = { "/services/objectstorage", "/services/Walrus" };
    const char *p = path ? path : "/", *vbucket = NULL, *keyraw = NULL;
    size_t keylen = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t n = strlen(prefixes[i]);

        if (strncmp(p, prefixes[i], n) == 0 && (p[n] == '/' || p[n] == '\0')) {
            p += n;
            break;
        }
    }
    if (*p == '\0')
        p = "/";
    if (*p != '/') {
        *code = WAL_S3E_INVALID_URI;
        return OC_EINVAL;
    }
    p++;
    if (host && *host != '[' && dns_domain && *dns_domain) {
        const char *colon = strchr(host, ':');
        size_t hlen = colon ? (size_t)(colon - host) : strlen(host);
        size_t dlen = strlen(dns_domain);

        if (hlen && host[hlen - 1] == '.')   /* a fully-qualified "name." */
            hlen--;
        if (hlen > dlen + 1 && host[hlen - dlen - 1] == '.' &&
            strncasecmp(host + hlen - dlen, dns_domain, dlen) == 0) {
            char *b = oc_arena_strndup(a, host, hlen - dlen - 1);

            for (char *c = b; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c - 'A' + 'a');
            vbucket = b;
        }
    }
    if (vbucket) {
        out->bucket = vbucket;
        out->vhost = 1;
        keyraw = p;
        keylen = strlen(p);
    } else {
        const char *slash = strchr(p, '/');
        size_t blen = slash ? (size_t)(slash - p) : strlen(p);

        if (blen == 0) {
            if (slash && slash[1]) {           /* "//key": no bucket but a key */
                *code = WAL_S3E_INVALID_URI;
                return OC_EINVAL;
            }
            return OC_OK;                      /* the service */
        }
        if (s3_decode(a, p, blen, &out->bucket) != OC_OK) {
            *code = WAL_S3E_INVALID_URI;
            return OC_EINVAL;
        }
        if (slash) {
            keyraw = slash + 1;
            keylen = strlen(keyraw);
        }
    }
    if (keyraw && keylen) {
        const char *key;

        if (s3_decode(a, keyraw, keylen, &key) != OC_OK ||
            !wal_s3_utf8_valid(key, strlen(key))) {
            *code = WAL_S3E_INVALID_URI;
            return OC_EINVAL;
        }
        if (strlen(key) > WAL_S3_MAX_KEY_LEN) {
            *code = WAL_S3E_KEY_TOO_LONG;
            return OC_EINVAL;
        }
        out->key = key;
    }
    return OC_OK;
}

/* S3 sub-resources this server does not implement: answered 501. */
static const char *const s3_unsupported[] = {
    "accelerate", "analytics", "attributes", "cors", "encryption", "intelligent-tiering",
    "inventory", "legal-hold", "lifecycle", "logging", "metrics", "notification",
    "object-lock", "ownershipControls", "policy", "policyStatus", "publicAccessBlock",
    "replication", "requestPayment", "restore", "retention", "select", "torrent", "website",
};

int wal_s3_op_select(const char *method, const struct wal_s3_route *rt,
                     const struct oc_query *q, int has_copy_source, enum wal_s3_op *op,
                     enum wal_s3_error *code)
{
    int get = strcmp(method, "GET") == 0, head = strcmp(method, "HEAD") == 0;
    int put = strcmp(method, "PUT") == 0, del = strcmp(method, "DELETE") == 0;
    int post = strcmp(method, "POST") == 0;

    *op = WAL_S3_OP_NONE;
    for (size_t k = 0; k < q->n; k++) {
        const char *name = q->items[k].name;

        /* Every unsupported subresource starts lower-case (X-Amz-* never does). */
        if (name[0] < 'a' || name[0] > 'z')
            continue;
        for (size_t i = 0; i < sizeof(s3_unsupported) / sizeof(s3_unsupported[0]); i++)
            if (strcmp(name, s3_unsupported[i]) == 0) {
                *code = WAL_S3E_NOT_IMPLEMENTED;
                return OC_EINVAL;
            }
    }
    if (!get && !head && !put && !del && !post) {
        *code = WAL_S3E_METHOD_NOT_ALLOWED;
        return OC_EINVAL;
    }
    if (!rt->bucket) {
        if (get) {
            *op = WAL_S3_OP_LIST_BUCKETS;
            return OC_OK;
        }
        *code = WAL_S3E_METHOD_NOT_ALLOWED;
        return OC_EINVAL;
    }
    if (oc_query_has(q, "versioning") && (!get || rt->key)) {
        *code = WAL_S3E_NOT_IMPLEMENTED;
        return OC_EINVAL;
    }
    /* Tags are not stored; reading them answers "none" (aws s3 cp asks). */
    if (oc_query_has(q, "tagging")) {
        if (!get) {
            *code = WAL_S3E_NOT_IMPLEMENTED;
            return OC_EINVAL;
        }
        *op = rt->key ? WAL_S3_OP_GET_OBJECT_TAGGING : WAL_S3_OP_GET_BUCKET_TAGGING;
        return OC_OK;
    }
    if (!rt->key) {
        if (get) {
            const char *lt = oc_query_get(q, "list-type");

            if (oc_query_has(q, "acl"))
                *op = WAL_S3_OP_GET_BUCKET_ACL;
            else if (oc_query_has(q, "location"))
                *op = WAL_S3_OP_GET_LOCATION;
            else if (oc_query_has(q, "uploads"))
                *op = WAL_S3_OP_LIST_UPLOADS;
            else if (oc_query_has(q, "versions"))
                *op = WAL_S3_OP_LIST_VERSIONS;
            else if (oc_query_has(q, "versioning"))
                *op = WAL_S3_OP_GET_VERSIONING;
            else if (lt && strcmp(lt, "2") == 0)
                *op = WAL_S3_OP_LIST_OBJECTS_V2;
            else if (lt) {
                *code = WAL_S3E_INVALID_ARGUMENT;
                return OC_EINVAL;
            } else
                *op = WAL_S3_OP_LIST_OBJECTS;
        } else if (head) {
            *op = WAL_S3_OP_HEAD_BUCKET;
        } else if (put) {
            *op = oc_query_has(q, "acl") ? WAL_S3_OP_PUT_BUCKET_ACL : WAL_S3_OP_CREATE_BUCKET;
        } else if (del) {
            *op = WAL_S3_OP_DELETE_BUCKET;
        } else if (oc_query_has(q, "delete")) {
            *op = WAL_S3_OP_DELETE_OBJECTS;
        } else {
            /* POST to a bucket is the browser form upload. */
            *code = WAL_S3E_NOT_IMPLEMENTED;
            return OC_EINVAL;
        }
        return OC_OK;
    }
    if (get) {
        if (oc_query_has(q, "acl"))
            *op = WAL_S3_OP_GET_OBJECT_ACL;
        else if (oc_query_has(q, "uploadId"))
            *op = WAL_S3_OP_LIST_PARTS;
        else
            *op = WAL_S3_OP_GET_OBJECT;
    } else if (head) {
        *op = WAL_S3_OP_HEAD_OBJECT;
    } else if (put) {
        int has_up = oc_query_has(q, "uploadId"), has_pn = oc_query_has(q, "partNumber");

        if (oc_query_has(q, "acl")) {
            *op = WAL_S3_OP_PUT_OBJECT_ACL;
        } else if (has_up || has_pn) {
            if (!has_up || !has_pn) {
                *code = WAL_S3E_INVALID_REQUEST;
                return OC_EINVAL;
            }
            *op = has_copy_source ? WAL_S3_OP_UPLOAD_PART_COPY : WAL_S3_OP_UPLOAD_PART;
        } else {
            *op = has_copy_source ? WAL_S3_OP_COPY_OBJECT : WAL_S3_OP_PUT_OBJECT;
        }
    } else if (del) {
        *op = oc_query_has(q, "uploadId") ? WAL_S3_OP_ABORT_UPLOAD : WAL_S3_OP_DELETE_OBJECT;
    } else if (oc_query_has(q, "uploads")) {
        *op = WAL_S3_OP_CREATE_UPLOAD;
    } else if (oc_query_has(q, "uploadId")) {
        *op = WAL_S3_OP_COMPLETE_UPLOAD;
    } else {
        *code = WAL_S3E_METHOD_NOT_ALLOWED;
        return OC_EINVAL;
    }
    return OC_OK;
}

const char *wal_s3_op_name(enum wal_s3_op op)
{
    static const char *const names[] = {
        [WAL_S3_OP_NONE] = "None",
        [WAL_S3_OP_LIST_BUCKETS] = "ListBuckets",
        [WAL_S3_OP_CREATE_BUCKET] = "CreateBucket",
        [WAL_S3_OP_HEAD_BUCKET] = "HeadBucket",
        [WAL_S3_OP_DELETE_BUCKET] = "DeleteBucket",
        [WAL_S3_OP_GET_LOCATION] = "GetBucketLocation",
        [WAL_S3_OP_GET_VERSIONING] = "GetBucketVersioning",
        [WAL_S3_OP_LIST_OBJECTS] = "ListObjects",
        [WAL_S3_OP_LIST_OBJECTS_V2] = "ListObjectsV2",
        [WAL_S3_OP_LIST_VERSIONS] = "ListObjectVersions",
        [WAL_S3_OP_LIST_UPLOADS] = "ListMultipartUploads",
        [WAL_S3_OP_DELETE_OBJECTS] = "DeleteObjects",
        [WAL_S3_OP_GET_BUCKET_ACL] = "GetBucketAcl",
        [WAL_S3_OP_PUT_BUCKET_ACL] = "PutBucketAcl",
        [WAL_S3_OP_PUT_OBJECT] = "PutObject",
        [WAL_S3_OP_COPY_OBJECT] = "CopyObject",
        [WAL_S3_OP_GET_OBJECT] = "GetObject",
        [WAL_S3_OP_HEAD_OBJECT] = "HeadObject",
        [WAL_S3_OP_DELETE_OBJECT] = "DeleteObject",
        [WAL_S3_OP_GET_OBJECT_ACL] = "GetObjectAcl",
        [WAL_S3_OP_PUT_OBJECT_ACL] = "PutObjectAcl",
        [WAL_S3_OP_CREATE_UPLOAD] = "CreateMultipartUpload",
        [WAL_S3_OP_UPLOAD_PART] = "UploadPart",
        [WAL_S3_OP_UPLOAD_PART_COPY] = "UploadPartCopy",
        [WAL_S3_OP_LIST_PARTS] = "ListParts",
        [WAL_S3_OP_COMPLETE_UPLOAD] = "CompleteMultipartUpload",
        [WAL_S3_OP_ABORT_UPLOAD] = "AbortMultipartUpload",
        [WAL_S3_OP_GET_OBJECT_TAGGING] = "GetObjectTagging",
        [WAL_S3_OP_GET_BUCKET_TAGGING] = "GetBucketTagging",
    };

    if ((unsigned)op >= sizeof(names) / sizeof(names[0]) || !names[op])
        return "Unknown";
    return names[op];
}

/* ------------------------------------------------------------------ */
/* responses */

static void s3_common_headers(struct oc_http_req *r)
{
    oc_http_add_header(r, "x-amz-request-id", r->request_id);
    oc_http_add_header(r, "Server", "Overcast");
}

static void s3_body_discard(struct wal_s3_req *q)
{
    q->body.failed = 1;
    if (q->body.put) {
        wal_put_abort(q->body.put);
        q->body.put = NULL;
    }
}

/* Writes an AWS error document (no body for HEAD). */
static void s3_respond_error(struct oc_http_req *r, int is_head, const char *code, int status,
                             const char *message)
{
    struct oc_buf b = { 0 };

    if (oc_http_responded(r))
        return;
    if (status == 500)
        oc_error("s3 %s: %s %s -> %d %s: %s", r->request_id, r->method, r->path, status, code,
                 message);
    else
        oc_debug("s3 %s: %s %s -> %d %s: %s", r->request_id, r->method, r->path, status, code,
                 message);
    if (!is_head && wal_s3_error_xml(code, message, r->path, r->request_id, &b) != OC_OK)
        oc_buf_reset(&b);
    if (oc_http_respond_buf(r, status, b.len ? "application/xml" : NULL, &b) != OC_OK)
        oc_error("s3 %s: cannot queue the error response", r->request_id);
    oc_buf_free(&b);
}

void wal_s3_fail(struct wal_s3_req *q, enum wal_s3_error e, const char *message)
{
    const struct wal_s3_errdef *d = wal_s3_error_def(e);

    s3_body_discard(q);
    s3_respond_error(q->r, q->is_head, d->code, d->status, message ? message : d->message);
}

void wal_s3_failf(struct wal_s3_req *q, enum wal_s3_error e, const char *fmt, ...)
{
    struct oc_buf b = { 0 };
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = oc_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    wal_s3_fail(q, e, rc == OC_OK ? oc_buf_cstr(&b) : NULL);
    oc_buf_free(&b);
}

void wal_s3_fail_store(struct wal_s3_req *q, int rc, const struct oc_err *err,
                       enum wal_s3_error nf)
{
    switch (rc) {
    case OC_ENOTFOUND:
        wal_s3_fail(q, nf, NULL);
        return;
    case OC_EEXIST:
        wal_s3_fail(q, WAL_S3E_BUCKET_ALREADY_EXISTS, NULL);
        return;
    case OC_ECONFLICT:
        wal_s3_fail(q, WAL_S3E_BUCKET_NOT_EMPTY, NULL);
        return;
    case OC_ETOOBIG:
        wal_s3_fail(q, WAL_S3E_ENTITY_TOO_LARGE, NULL);
        return;
    case OC_EINVAL:
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, err && err->msg[0] ? err->msg : NULL);
        return;
    default:
        oc_error("s3 %s: %s: store failure: %s (%s)", q->r->request_id,
                 wal_s3_op_name(q->op), err && err->msg[0] ? err->msg : "", oc_err_name(rc));
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
    }
}

void wal_s3_respond_xml(struct wal_s3_req *q, int status, struct oc_xmlw *w)
{
    struct oc_buf b = { 0 };

    if (!w || oc_xmlw_finish(w, &b) != OC_OK) {
        oc_xmlw_free(w);
        oc_buf_free(&b);
        oc_error("s3 %s: %s: cannot build the XML response (bad UTF-8?)", q->r->request_id,
                 wal_s3_op_name(q->op));
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return;
    }
    oc_xmlw_free(w);
    if (oc_http_respond_buf(q->r, status, "application/xml", &b) != OC_OK)
        oc_error("s3 %s: cannot queue the response", q->r->request_id);
    oc_buf_free(&b);
}

void wal_s3_respond_empty(struct wal_s3_req *q, int status)
{
    if (oc_http_respond(q->r, status, NULL, NULL, 0) != OC_OK)
        oc_error("s3 %s: cannot queue the response", q->r->request_id);
}

const char *wal_s3_owner_name(const struct wal_s3_req *q, const char *owner)
{
    if (q->who && owner && strcmp(q->who->account_id, owner) == 0 && q->who->account_name[0])
        return q->who->account_name;
    return owner ? owner : "";
}

void wal_s3_write_owner(struct oc_xmlw *w, const struct wal_s3_req *q, const char *tag,
                        const char *owner)
{
    oc_xmlw_start(w, tag);
    oc_xmlw_elem(w, "ID", owner);
    oc_xmlw_elem(w, "DisplayName", wal_s3_owner_name(q, owner));
    oc_xmlw_end(w);
}

int wal_s3_bucket_allows(const struct wal_s3_req *q, enum wal_s3_perm perm)
{
    return wal_s3_acl_allows(q->bucket.acl, q->bucket.owner, q->who, perm);
}

int wal_s3_object_allows(const struct wal_s3_req *q, const struct wal_meta *m,
                         enum wal_s3_perm perm)
{
    /* The bucket owner controls every object in its bucket (S3's "bucket
     * owner enforced" object ownership). */
    if (q->who && q->have_bucket && strcmp(q->who->account_id, q->bucket.owner) == 0)
        return 1;
    return wal_s3_acl_allows(m->acl, m->owner, q->who, perm);
}

const char *wal_s3_request_acl(struct wal_s3_req *q, const char *def)
{
    const char *h = oc_http_header(q->r, "x-amz-acl"), *c;

    if (!h)
        return def;
    c = wal_s3_canned_acl(h);
    if (!c)
        wal_s3_failf(q, WAL_S3E_INVALID_ARGUMENT, "Unsupported canned ACL '%s'.", h);
    return c;
}

/* ------------------------------------------------------------------ */
/* asynchronous completion */

/*
 * Requests are counted from on_request to on_done (s3->inflight), so
 * wal_s3_quiesce() also waits for suspended ones whose commit or worker
 * has not answered yet.
 */
void wal_s3_async_begin(struct wal_s3_req *q)
{
    oc_http_suspend(q->r);
}

void wal_s3_async_end(struct wal_s3_req *q)
{
    /* After resume the request (and q, in its arena) may be gone. */
    oc_http_resume(q->r);
}

struct s3_job {
    struct wal_s3_req *q;
    void (*fn)(struct wal_s3_req *q);
};

static void *s3_worker(void *arg)
{
    struct s3_job job = *(struct s3_job *)arg;

    free(arg);
    job.fn(job.q);
    return NULL;
}

void wal_s3_offload(struct wal_s3_req *q, void (*fn)(struct wal_s3_req *q))
{
    struct s3_job *job = malloc(sizeof(*job));
    pthread_attr_t attr;
    pthread_t t;
    int rc = -1;

    wal_s3_async_begin(q);
    if (job) {
        job->q = q;
        job->fn = fn;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&t, &attr, s3_worker, job);
        pthread_attr_destroy(&attr);
    }
    if (rc != 0) {
        /* No thread: do the work here; slower for the others, still correct. */
        free(job);
        fn(q);
    }
}

/* ------------------------------------------------------------------ */
/* the body pipeline */

static int s3_sink(void *arg, const char *data, size_t len)
{
    struct wal_s3_req *q = arg;
    struct wal_s3_body *b = &q->body;
    struct oc_err err = { 0 };
    int rc;

    if (len > b->limit || b->decoded > b->limit - len)
        return OC_ETOOBIG;
    b->decoded += len;
    if (!b->to_store)
        return oc_buf_append(&b->mem, data, len);
    rc = wal_put_write(b->put, data, len, &err);
    if (rc)
        oc_error("s3 %s: writing the body: %s", q->r->request_id, err.msg);
    return rc;
}

static int s3_body_start(struct wal_s3_req *q, uint64_t limit)
{
    struct wal_s3_body *b = &q->body;
    enum oc_payload_mode pm = q->auth.payload;
    const char *dcl = oc_http_header(q->r, "x-amz-decoded-content-length");

    b->limit = limit;
    if (pm == OC_PAYLOAD_STREAMING_SIGNED || pm == OC_PAYLOAD_STREAMING_SIGNED_TRAILER ||
        pm == OC_PAYLOAD_STREAMING_UNSIGNED_TRAILER) {
        struct oc_chunked_config cc = {
            .signed_chunks = pm != OC_PAYLOAD_STREAMING_UNSIGNED_TRAILER,
            .trailer = pm != OC_PAYLOAD_STREAMING_SIGNED,
            .signing_key = q->auth.signing_key,
            .amz_date = q->auth.amz_date,
            .scope = q->auth.scope,
            .seed_signature = q->auth.seed_signature,
        };
        unsigned long long d;

        if (dcl && wal_s3_parse_uint(dcl, UINT64_MAX, &d) != 0) {
            wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                        "x-amz-decoded-content-length is not a number");
            return -1;
        }
        if (dcl && d > limit) {
            wal_s3_fail(q, b->to_store ? WAL_S3E_ENTITY_TOO_LARGE
                                       : WAL_S3E_MAX_MESSAGE_LENGTH, NULL);
            return -1;
        }
        b->chunked = oc_chunked_new(&cc);
        if (!b->chunked) {
            wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
            return -1;
        }
    } else if (q->r->content_length > 0 && (uint64_t)q->r->content_length > limit) {
        wal_s3_fail(q, b->to_store ? WAL_S3E_ENTITY_TOO_LARGE : WAL_S3E_MAX_MESSAGE_LENGTH,
                    NULL);
        return -1;
    }
    b->active = 1;
    return 0;
}

int wal_s3_body_to_store(struct wal_s3_req *q, uint64_t limit)
{
    struct oc_err err = { 0 };
    const char *te = oc_http_header(q->r, "transfer-encoding");
    int rc;

    if (q->r->content_length < 0 && !(te && strcasestr(te, "chunked"))) {
        wal_s3_fail(q, WAL_S3E_MISSING_CONTENT_LENGTH, NULL);
        return -1;
    }
    q->body.to_store = 1;
    if (s3_body_start(q, limit))
        return -1;
    rc = wal_put_begin(q->s3->store, &q->body.put, &err);
    if (rc) {
        q->body.put = NULL;
        wal_s3_fail_store(q, rc, &err, WAL_S3E_INTERNAL);
        return -1;
    }
    /* Only a signed payload hash needs SHA-256 of the body; skipping it
     * otherwise leaves MD5 (for the ETag) as the one pass over the bytes. */
    if (q->auth.payload != OC_PAYLOAD_SHA256)
        wal_put_no_sha256(q->body.put);
    return 0;
}

void wal_s3_body_to_memory(struct wal_s3_req *q, uint64_t limit)
{
    q->body.to_store = 0;
    (void)s3_body_start(q, limit);
}

/* Answers for a failure of the body pipeline; rc came from the decoder or sink. */
static void s3_body_fail(struct wal_s3_req *q, int rc, const struct oc_err *err)
{
    struct wal_s3_body *b = &q->body;

    if (b->chunked && rc != OC_ETOOBIG) {
        switch (oc_chunked_failure(b->chunked)) {
        case OC_CHUNKED_MALFORMED:
            wal_s3_fail(q, WAL_S3E_INCOMPLETE_BODY, err->msg[0] ? err->msg : NULL);
            return;
        case OC_CHUNKED_BAD_SIGNATURE:
            wal_s3_fail(q, WAL_S3E_SIGNATURE_MISMATCH, NULL);
            return;
        case OC_CHUNKED_BAD_CHECKSUM:
            wal_s3_fail(q, WAL_S3E_BAD_DIGEST, err->msg[0] ? err->msg : NULL);
            return;
        case OC_CHUNKED_TOO_BIG:
            wal_s3_fail(q, WAL_S3E_ENTITY_TOO_LARGE, NULL);
            return;
        }
    }
    if (rc == OC_ETOOBIG)
        wal_s3_fail(q, b->to_store ? WAL_S3E_ENTITY_TOO_LARGE : WAL_S3E_MAX_MESSAGE_LENGTH,
                    NULL);
    else
        wal_s3_fail_store(q, rc, err, WAL_S3E_INTERNAL);
}

static int s3_hex_equal(const uint8_t *raw, size_t n, const char *hex)
{
    char mine[65];

    if (n > 32)
        return 0;
    oc_hex_encode(raw, n, mine);
    return strlen(hex) == 2 * n && strncasecmp(mine, hex, 2 * n) == 0;
}

/* At the end of the body: the framing is complete, the length and every
 * digest the client gave match.  Answers and returns -1 otherwise. */
static int s3_body_finish(struct wal_s3_req *q)
{
    struct wal_s3_body *b = &q->body;
    struct oc_err err = { 0 };
    const char *dcl = oc_http_header(q->r, "x-amz-decoded-content-length");
    const char *cmd5 = oc_http_header(q->r, "content-md5");
    uint8_t want_md5[16];
    int rc;

    if (!b->active) {
        /* Operations that take no body: only check the signed hash of nothing. */
        if (q->auth.payload == OC_PAYLOAD_SHA256 && q->r->body_received == 0 &&
            strcasecmp(q->auth.payload_sha256, EMPTY_SHA256) != 0) {
            wal_s3_fail(q, WAL_S3E_SHA256_MISMATCH, NULL);
            return -1;
        }
        return 0;
    }
    if (b->chunked) {
        rc = oc_chunked_finish(b->chunked, &err);
        if (rc) {
            s3_body_fail(q, rc, &err);
            return -1;
        }
        if (dcl) {
            unsigned long long d;

            if (wal_s3_parse_uint(dcl, UINT64_MAX, &d) != 0 || d != b->decoded) {
                wal_s3_fail(q, WAL_S3E_INCOMPLETE_BODY,
                            "The decoded body length does not match "
                            "x-amz-decoded-content-length.");
                return -1;
            }
        }
    }
    if (b->to_store) {
        wal_put_digests(b->put, b->md5, b->sha256);
    } else {
        oc_md5(b->mem.data ? b->mem.data : "", b->mem.len, b->md5);
        oc_sha256(b->mem.data ? b->mem.data : "", b->mem.len, b->sha256);
    }
    b->have_digests = 1;
    if (q->auth.payload == OC_PAYLOAD_SHA256 &&
        !s3_hex_equal(b->sha256, 32, q->auth.payload_sha256)) {
        wal_s3_fail(q, WAL_S3E_SHA256_MISMATCH, NULL);
        return -1;
    }
    if (cmd5) {
        if (wal_s3_content_md5_parse(cmd5, want_md5) != 0) {
            wal_s3_fail(q, WAL_S3E_INVALID_DIGEST, NULL);
            return -1;
        }
        if (memcmp(want_md5, b->md5, 16) != 0) {
            wal_s3_fail(q, WAL_S3E_BAD_DIGEST, NULL);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* HTTP callbacks */

static int s3_bodyless_sha_ok(const struct wal_s3_req *q)
{
    if (q->auth.payload != OC_PAYLOAD_SHA256 || q->r->content_length > 0)
        return 1;
    return strcasecmp(q->auth.payload_sha256, EMPTY_SHA256) == 0;
}

/* The right the caller needs on the bucket for op (-1: checked per object). */
static int s3_bucket_perm(enum wal_s3_op op)
{
    switch (op) {
    case WAL_S3_OP_HEAD_BUCKET:
    case WAL_S3_OP_LIST_OBJECTS:
    case WAL_S3_OP_LIST_OBJECTS_V2:
    case WAL_S3_OP_LIST_VERSIONS:
    case WAL_S3_OP_LIST_UPLOADS:
        return WAL_S3_READ;
    case WAL_S3_OP_DELETE_BUCKET:
    case WAL_S3_OP_GET_LOCATION:
    case WAL_S3_OP_GET_VERSIONING:
    case WAL_S3_OP_PUT_BUCKET_ACL:
        return WAL_S3_WRITE_ACP;            /* owner only */
    case WAL_S3_OP_GET_BUCKET_ACL:
        return WAL_S3_READ_ACP;
    case WAL_S3_OP_GET_BUCKET_TAGGING:
        return WAL_S3_WRITE_ACP;            /* owner only */
    case WAL_S3_OP_DELETE_OBJECTS:
    case WAL_S3_OP_PUT_OBJECT:
    case WAL_S3_OP_COPY_OBJECT:
    case WAL_S3_OP_DELETE_OBJECT:
    case WAL_S3_OP_CREATE_UPLOAD:
    case WAL_S3_OP_UPLOAD_PART:
    case WAL_S3_OP_UPLOAD_PART_COPY:
    case WAL_S3_OP_LIST_PARTS:
    case WAL_S3_OP_COMPLETE_UPLOAD:
    case WAL_S3_OP_ABORT_UPLOAD:
        return WAL_S3_WRITE;
    default:
        return -1;
    }
}

static void s3_dispatch_begin(struct wal_s3_req *q)
{
    switch (q->op) {
    case WAL_S3_OP_LIST_BUCKETS: wal_s3_list_buckets(q); break;
    case WAL_S3_OP_CREATE_BUCKET:
        if (!wal_s3_bucket_name_valid(q->rt.bucket)) {
            wal_s3_fail(q, WAL_S3E_INVALID_BUCKET_NAME, NULL);
            break;
        }
        wal_s3_body_to_memory(q, SMALL_BODY_LIMIT);
        break;
    case WAL_S3_OP_HEAD_BUCKET: wal_s3_head_bucket(q); break;
    case WAL_S3_OP_DELETE_BUCKET: wal_s3_delete_bucket(q); break;
    case WAL_S3_OP_GET_LOCATION: wal_s3_get_location(q); break;
    case WAL_S3_OP_GET_VERSIONING: wal_s3_get_versioning(q); break;
    case WAL_S3_OP_LIST_OBJECTS: wal_s3_list_objects(q, 0); break;
    case WAL_S3_OP_LIST_OBJECTS_V2: wal_s3_list_objects(q, 1); break;
    case WAL_S3_OP_LIST_VERSIONS: wal_s3_list_versions(q); break;
    case WAL_S3_OP_LIST_UPLOADS: wal_s3_list_uploads(q); break;
    case WAL_S3_OP_DELETE_OBJECTS: wal_s3_body_to_memory(q, DELETE_BODY_LIMIT); break;
    case WAL_S3_OP_GET_BUCKET_ACL:
    case WAL_S3_OP_GET_OBJECT_ACL: wal_s3_get_acl(q); break;
    case WAL_S3_OP_PUT_BUCKET_ACL:
    case WAL_S3_OP_PUT_OBJECT_ACL: wal_s3_put_acl_begin(q); break;
    case WAL_S3_OP_PUT_OBJECT: wal_s3_put_object_begin(q); break;
    case WAL_S3_OP_COPY_OBJECT: wal_s3_copy_object_begin(q); break;
    case WAL_S3_OP_GET_OBJECT:
    case WAL_S3_OP_HEAD_OBJECT: wal_s3_get_object(q); break;
    case WAL_S3_OP_DELETE_OBJECT: wal_s3_delete_object(q); break;
    case WAL_S3_OP_CREATE_UPLOAD: wal_s3_create_upload(q); break;
    case WAL_S3_OP_UPLOAD_PART:
    case WAL_S3_OP_UPLOAD_PART_COPY: wal_s3_upload_part_begin(q); break;
    case WAL_S3_OP_LIST_PARTS: wal_s3_list_parts(q); break;
    case WAL_S3_OP_COMPLETE_UPLOAD: wal_s3_complete_upload_begin(q); break;
    case WAL_S3_OP_ABORT_UPLOAD: wal_s3_abort_upload(q); break;
    case WAL_S3_OP_GET_OBJECT_TAGGING:
    case WAL_S3_OP_GET_BUCKET_TAGGING: wal_s3_get_tagging(q); break;
    case WAL_S3_OP_NONE: wal_s3_fail(q, WAL_S3E_INTERNAL, NULL); break;
    }
}

/*
 * The path given to signature verification.  SigV2 signs a bucket as
 * "/bucket/" even when the request line says "/bucket" (botocore and boto
 * do this for path-style requests), so that form is what the SigV2
 * canonical resource must see.  SigV4 signs the path exactly as sent.
 */
static const char *s3_auth_path(const struct wal_s3_req *q)
{
    const struct oc_http_req *r = q->r;
    const char *authz = oc_http_header(r, "authorization");
    size_t len = strlen(r->path);
    int v2 = (authz && strncmp(authz, "AWS ", 4) == 0) || strstr(r->query, "AWSAccessKeyId=");

    if (!v2 || q->rt.vhost || !q->rt.bucket || q->rt.key || len < 2 || r->path[len - 1] == '/' ||
        strchr(r->path + 1, '/'))
        return r->path;
    return oc_arena_printf(r->arena, "%s/", r->path);
}

static void s3_on_request(struct oc_http_req *r, void *ctx)
{
    struct wal_s3 *s3 = ctx;
    struct wal_s3_req *q = oc_arena_alloc(r->arena, sizeof(*q));
    struct oc_auth_input in = { 0 };
    struct oc_auth_error aerr = { 0 };
    struct oc_err err = { 0 };
    enum wal_s3_error code = WAL_S3E_INTERNAL;
    const char *vid;
    int stopping, perm, rc;

    q->s3 = s3;
    q->r = r;
    r->data = q;
    q->is_head = strcmp(r->method, "HEAD") == 0;
    s3_common_headers(r);
    pthread_mutex_lock(&s3->lock);
    stopping = s3->stopping;
    if (!stopping) {
        s3->inflight++;
        q->counted = 1;
    }
    pthread_mutex_unlock(&s3->lock);
    if (stopping) {
        wal_s3_fail(q, WAL_S3E_SLOW_DOWN, "The server is shutting down.");
        return;
    }
    if (wal_s3_route_parse(r->arena, oc_http_header(r, "host"), r->path, s3->dns_domain,
                           &q->rt, &code) != OC_OK) {
        wal_s3_fail(q, code, NULL);
        return;
    }
    if (oc_query_parse(r->arena, r->query, strlen(r->query), &q->q, &err) != OC_OK) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, err.msg);
        return;
    }
    in.method = r->method;
    in.path = s3_auth_path(q);
    in.query = r->query;
    in.headers = r->headers;
    in.nheaders = r->nheaders;
    in.vhost_bucket = q->rt.vhost ? q->rt.bucket : NULL;
    in.service = "s3";
    in.now = time(NULL);
    if (oc_auth_verify(&in, &s3->creds, &q->auth, &aerr) != OC_OK) {
        s3_respond_error(r, q->is_head, aerr.code ? aerr.code : "AccessDenied",
                         aerr.status ? aerr.status : 403,
                         aerr.message[0] ? aerr.message : "Access Denied");
        return;
    }
    q->who = q->auth.kind == OC_AUTH_ANONYMOUS ? NULL : &q->auth.who;
    if (wal_s3_op_select(r->method, &q->rt, &q->q,
                         oc_http_header(r, "x-amz-copy-source") != NULL, &q->op,
                         &code) != OC_OK) {
        wal_s3_fail(q, code, NULL);
        return;
    }
    oc_debug("s3 %s: %s %s -> %s (%s, payload mode %d)", r->request_id, r->method, r->path,
             wal_s3_op_name(q->op), q->who ? q->who->access_key_id : "anonymous",
             (int)q->auth.payload);
    vid = oc_query_get(&q->q, "versionId");
    if (vid && strcmp(vid, "null") != 0) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Invalid version id specified");
        return;
    }
    if (!s3_bodyless_sha_ok(q)) {
        wal_s3_fail(q, WAL_S3E_SHA256_MISMATCH, NULL);
        return;
    }
    if (q->op == WAL_S3_OP_LIST_BUCKETS || q->op == WAL_S3_OP_CREATE_BUCKET) {
        if (!q->who) {
            wal_s3_fail(q, WAL_S3E_ACCESS_DENIED, NULL);
            return;
        }
    } else {
        rc = wal_bucket_get(s3->store, q->rt.bucket, &q->bucket, &err);
        if (rc) {
            wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_BUCKET);
            return;
        }
        q->have_bucket = 1;
        perm = s3_bucket_perm(q->op);
        if (perm >= 0 && !wal_s3_bucket_allows(q, (enum wal_s3_perm)perm)) {
            wal_s3_fail(q, WAL_S3E_ACCESS_DENIED, NULL);
            return;
        }
    }
    s3_dispatch_begin(q);
}

static void s3_on_body(struct oc_http_req *r, const char *data, size_t len, void *ctx)
{
    struct wal_s3_req *q = r->data;
    struct oc_err err = { 0 };
    int rc;

    if (!q || !q->body.active || q->body.failed || oc_http_responded(r))
        return;
    if (q->body.chunked)
        rc = oc_chunked_feed(q->body.chunked, data, len, s3_sink, q, &err);
    else
        rc = s3_sink(q, data, len);
    if (rc)
        s3_body_fail(q, rc, &err);
}

static void s3_on_end(struct oc_http_req *r, void *ctx)
{
    struct wal_s3_req *q = r->data;

    if (!q || oc_http_responded(r) || q->body.failed)
        return;
    if (s3_body_finish(q))
        return;
    switch (q->op) {
    case WAL_S3_OP_CREATE_BUCKET: wal_s3_create_bucket_end(q); break;
    case WAL_S3_OP_DELETE_OBJECTS: wal_s3_delete_objects_end(q); break;
    case WAL_S3_OP_PUT_BUCKET_ACL:
    case WAL_S3_OP_PUT_OBJECT_ACL: wal_s3_put_acl_end(q); break;
    case WAL_S3_OP_PUT_OBJECT: wal_s3_put_object_end(q); break;
    case WAL_S3_OP_COPY_OBJECT: wal_s3_copy_object_end(q); break;
    case WAL_S3_OP_UPLOAD_PART: wal_s3_upload_part_end(q); break;
    case WAL_S3_OP_UPLOAD_PART_COPY: wal_s3_upload_part_copy_end(q); break;
    case WAL_S3_OP_COMPLETE_UPLOAD: wal_s3_complete_upload_end(q); break;
    default:
        oc_error("s3 %s: %s reached on_end without an answer", r->request_id,
                 wal_s3_op_name(q->op));
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        break;
    }
}

static void s3_on_done(struct oc_http_req *r, void *ctx, int ok)
{
    struct wal_s3_req *q = r->data;

    if (!q)
        return;
    /* An upload the client abandoned (or that failed) is discarded here. */
    if (q->body.put) {
        wal_put_abort(q->body.put);
        q->body.put = NULL;
    }
    oc_chunked_free(q->body.chunked);
    q->body.chunked = NULL;
    oc_buf_free(&q->body.mem);
    if (!ok)
        oc_debug("s3 %s: %s %s did not complete", r->request_id, r->method, r->path);
    if (q->counted) {
        struct wal_s3 *s3 = q->s3;

        pthread_mutex_lock(&s3->lock);
        if (--s3->inflight == 0)
            pthread_cond_broadcast(&s3->idle);
        pthread_mutex_unlock(&s3->lock);
    }
}

static void s3_on_error(struct oc_http_req *r, void *ctx, int status, const char *aws_code,
                        const char *message)
{
    struct wal_s3_req *q = r->data;
    int is_head = r->method && strcmp(r->method, "HEAD") == 0;

    if (!q)
        s3_common_headers(r);
    else
        s3_body_discard(q);
    s3_respond_error(r, is_head, aws_code ? aws_code : "InternalError", status,
                     message ? message : "");
}

void wal_s3_http_handler(struct wal_s3 *s3, struct oc_http_handler *out)
{
    memset(out, 0, sizeof(*out));
    out->on_request = s3_on_request;
    out->on_body = s3_on_body;
    out->on_end = s3_on_end;
    out->on_done = s3_on_done;
    out->on_error = s3_on_error;
    out->ctx = s3;
}
