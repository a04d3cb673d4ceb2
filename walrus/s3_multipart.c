/*
 * s3_multipart.c - multipart uploads: Create, UploadPart (streamed, committed
 * asynchronously like PutObject), UploadPartCopy (worker thread), ListParts,
 * ListMultipartUploads, Complete (worker thread: assembling parts is long
 * work for the store) and Abort.  The store checks the part list; this file
 * turns its verdict into InvalidPart / InvalidPartOrder / EntityTooSmall
 * naming the offending part.
 */
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/log.h"
#include "walrus/s3_internal.h"

#define COMPLETE_BODY_LIMIT (4 * 1024 * 1024)

/* Loads the upload named by ?uploadId= and checks it belongs to this
 * bucket and key; answers NoSuchUpload otherwise. */
static int s3_upload_load(struct wal_s3_req *q, struct wal_meta *um, int64_t *initiated)
{
    struct oc_err err = { 0 };
    const char *id = oc_query_get(&q->q, "uploadId");
    int rc;

    if (!id || !*id) {
        wal_s3_fail(q, WAL_S3E_NO_SUCH_UPLOAD, NULL);
        return -1;
    }
    rc = wal_upload_get(q->s3->store, q->r->arena, id, um, initiated, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_UPLOAD);
        return -1;
    }
    if (!um->bucket || !um->key || strcmp(um->bucket, q->rt.bucket) != 0 ||
        strcmp(um->key, q->rt.key) != 0) {
        wal_s3_fail(q, WAL_S3E_NO_SUCH_UPLOAD, NULL);
        return -1;
    }
    q->upload_id = id;
    return 0;
}

void wal_s3_create_upload(struct wal_s3_req *q)
{
    struct wal_meta m;
    struct oc_err err = { 0 };
    char id[WAL_ID_LEN + 1];
    struct oc_xmlw *w;
    int rc;

    if (wal_s3_meta_from_request(q, &m))
        return;
    rc = wal_upload_create(q->s3->store, &m, id, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_BUCKET);
        return;
    }
    w = oc_xmlw_new("InitiateMultipartUploadResult", WAL_S3_NS);
    if (w) {
        oc_xmlw_elem(w, "Bucket", q->rt.bucket);
        oc_xmlw_elem(w, "Key", q->rt.key);
        oc_xmlw_elem(w, "UploadId", id);
    }
    wal_s3_respond_xml(q, 200, w);
}

/* x-amz-copy-source-range: exactly "bytes=first-last". */
static int s3_parse_copy_range(const char *h, uint64_t *first, uint64_t *last)
{
    const char *dash;
    unsigned long long a, b;
    char *num;
    size_t n;

    if (strncmp(h, "bytes=", 6) != 0)
        return -1;
    h += 6;
    dash = strchr(h, '-');
    if (!dash)
        return -1;
    n = (size_t)(dash - h);
    num = strndup(h, n);
    if (!num)
        return -1;
    if (wal_s3_parse_uint(num, UINT64_MAX, &a) != 0 ||
        wal_s3_parse_uint(dash + 1, UINT64_MAX, &b) != 0 || a > b) {
        free(num);
        return -1;
    }
    free(num);
    *first = a;
    *last = b;
    return 0;
}

void wal_s3_upload_part_begin(struct wal_s3_req *q)
{
    struct wal_meta um, src;
    struct wal_bucket sb;
    struct oc_err err = { 0 };
    unsigned long long pn;
    int64_t initiated;
    int rc;

    if (wal_s3_parse_uint(oc_query_get(&q->q, "partNumber"), WAL_MAX_PARTS, &pn) != 0 ||
        pn < 1) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                    "Part number must be an integer between 1 and 10000, inclusive");
        return;
    }
    q->part_number = (int)pn;
    if (s3_upload_load(q, &um, &initiated))
        return;
    if (q->op == WAL_S3_OP_UPLOAD_PART) {
        (void)wal_s3_body_to_store(q, q->s3->max_object_size);
        return;
    }
    /* UploadPartCopy: check the source now so errors come before any work. */
    if (wal_s3_copy_source(q))
        return;
    rc = wal_bucket_get(q->s3->store, q->src_bucket, &sb, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_BUCKET);
        return;
    }
    rc = wal_object_head(q->s3->store, q->r->arena, q->src_bucket, q->src_key, &src, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_KEY);
        return;
    }
    if (!(q->who && strcmp(q->who->account_id, sb.owner) == 0) &&
        !wal_s3_acl_allows(src.acl, src.owner, q->who, WAL_S3_READ)) {
        wal_s3_fail(q, WAL_S3E_ACCESS_DENIED, NULL);
        return;
    }
    if (wal_s3_copy_conditions(q, &src))
        return;
    {
        const char *range = oc_http_header(q->r, "x-amz-copy-source-range");

        if (range) {
            if (s3_parse_copy_range(range, &q->copy_first, &q->copy_last) != 0) {
                wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                            "The x-amz-copy-source-range value must be of the form "
                            "bytes=first-last where first and last are the zero-based offsets "
                            "of the first and last bytes to copy");
                return;
            }
            if (q->copy_last >= src.size) {
                wal_s3_failf(q, WAL_S3E_INVALID_ARGUMENT,
                             "Range specified is not valid for source object of size: %llu",
                             (unsigned long long)src.size);
                return;
            }
            q->copy_has_range = 1;
        }
    }
}

static void s3_part_done(void *arg, int rc, const struct oc_err *err)
{
    struct wal_s3_req *q = arg;

    if (rc) {
        wal_s3_fail_store(q, rc, err, WAL_S3E_NO_SUCH_UPLOAD);
    } else {
        oc_http_add_header(q->r, "ETag", q->part_etag);
        wal_s3_respond_empty(q, 200);
    }
    wal_s3_async_end(q);
}

void wal_s3_upload_part_end(struct wal_s3_req *q)
{
    struct wal_put *p = q->body.put;

    q->body.put = NULL;
    wal_s3_async_begin(q);
    wal_part_commit_async(p, q->upload_id, q->part_number, q->part_etag, s3_part_done, q);
}

static void s3_part_copy_done(void *arg, int rc, const struct oc_err *err)
{
    struct wal_s3_req *q = arg;
    char date[WAL_S3_DATE_LEN];
    struct oc_xmlw *w;

    if (rc) {
        wal_s3_fail_store(q, rc, err, WAL_S3E_NO_SUCH_UPLOAD);
    } else {
        w = oc_xmlw_new("CopyPartResult", WAL_S3_NS);
        wal_s3_iso_date(q->async_mtime_ms, date);
        if (w) {
            oc_xmlw_elem(w, "LastModified", date);
            oc_xmlw_elem(w, "ETag", q->part_etag);
        }
        wal_s3_respond_xml(q, 200, w);
    }
    wal_s3_async_end(q);
}

static void s3_part_copy_work(struct wal_s3_req *q)
{
    struct oc_err err = { 0 };
    struct wal_meta src;
    struct wal_put *put = NULL;
    struct timeval tv;
    uint64_t first = 0, len;
    int fd = -1, rc;

    rc = wal_object_open(q->s3->store, q->r->arena, q->src_bucket, q->src_key, &src, &fd,
                         &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_KEY);
        goto fail;
    }
    len = src.size;
    if (q->copy_has_range) {
        /* The source may have been replaced since the request was checked. */
        if (q->copy_last >= src.size) {
            close(fd);
            wal_s3_failf(q, WAL_S3E_INVALID_ARGUMENT,
                         "Range specified is not valid for source object of size: %llu",
                         (unsigned long long)src.size);
            goto fail;
        }
        first = q->copy_first;
        len = q->copy_last - q->copy_first + 1;
    }
    rc = wal_put_begin(q->s3->store, &put, &err);
    if (rc == OC_OK)
        rc = wal_s3_copy_bytes(fd, first, len, put, &err);
    close(fd);
    if (rc) {
        if (put)
            wal_put_abort(put);
        wal_s3_fail_store(q, rc, &err, WAL_S3E_INTERNAL);
        goto fail;
    }
    gettimeofday(&tv, NULL);
    q->async_mtime_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    wal_part_commit_async(put, q->upload_id, q->part_number, q->part_etag, s3_part_copy_done,
                          q);
    return;
fail:
    wal_s3_async_end(q);
}

void wal_s3_upload_part_copy_end(struct wal_s3_req *q)
{
    wal_s3_offload(q, s3_part_copy_work);
}

void wal_s3_list_parts(struct wal_s3_req *q)
{
    struct wal_meta um;
    struct oc_err err = { 0 };
    const char *mp = oc_query_get(&q->q, "max-parts");
    const char *pm = oc_query_get(&q->q, "part-number-marker");
    unsigned long long max = WAL_S3_MAX_LIST, marker = 0;
    struct wal_part *parts = NULL;
    size_t n = 0;
    int64_t initiated;
    int truncated = 0, rc;
    struct oc_xmlw *w;
    char date[WAL_S3_DATE_LEN];

    if (mp && wal_s3_parse_uint(mp, 2147483647ULL, &max) != 0) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                    "Provided max-parts not an integer or within integer range");
        return;
    }
    if (max > WAL_S3_MAX_LIST)
        max = WAL_S3_MAX_LIST;
    if (pm && *pm && wal_s3_parse_uint(pm, 2147483647ULL, &marker) != 0) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                    "Provided part-number-marker not an integer or within integer range");
        return;
    }
    if (s3_upload_load(q, &um, &initiated))
        return;
    rc = wal_part_list(q->s3->store, q->r->arena, q->upload_id,
                       marker > WAL_MAX_PARTS ? WAL_MAX_PARTS : (int)marker, (unsigned)max,
                       &parts, &n, &truncated, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_UPLOAD);
        return;
    }
    w = oc_xmlw_new("ListPartsResult", WAL_S3_NS);
    if (!w) {
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return;
    }
    oc_xmlw_elem(w, "Bucket", q->rt.bucket);
    oc_xmlw_elem(w, "Key", q->rt.key);
    oc_xmlw_elem(w, "UploadId", q->upload_id);
    wal_s3_write_owner(w, q, "Initiator", um.owner);
    wal_s3_write_owner(w, q, "Owner", um.owner);
    oc_xmlw_elem(w, "StorageClass", "STANDARD");
    oc_xmlw_elem_u64(w, "PartNumberMarker", marker);
    oc_xmlw_elem_u64(w, "NextPartNumberMarker", n ? (uint64_t)parts[n - 1].number : 0);
    oc_xmlw_elem_u64(w, "MaxParts", max);
    oc_xmlw_elem(w, "IsTruncated", truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        oc_xmlw_start(w, "Part");
        oc_xmlw_elem_u64(w, "PartNumber", (uint64_t)parts[i].number);
        wal_s3_iso_date(parts[i].mtime_ms, date);
        oc_xmlw_elem(w, "LastModified", date);
        oc_xmlw_elem(w, "ETag", parts[i].etag);
        oc_xmlw_elem_u64(w, "Size", parts[i].size);
        oc_xmlw_end(w);
    }
    wal_s3_respond_xml(q, 200, w);
}

void wal_s3_list_uploads(struct wal_s3_req *q)
{
    struct oc_err err = { 0 };
    const char *prefix = oc_query_get(&q->q, "prefix");
    const char *key_marker = oc_query_get(&q->q, "key-marker");
    const char *id_marker = oc_query_get(&q->q, "upload-id-marker");
    const char *mu = oc_query_get(&q->q, "max-uploads");
    const char *enc = oc_query_get(&q->q, "encoding-type");
    const char *delim = oc_query_get(&q->q, "delimiter");
    unsigned long long max = WAL_S3_MAX_LIST;
    struct wal_upload_entry *ups = NULL;
    size_t n = 0;
    int truncated = 0, rc, url;
    struct oc_xmlw *w;
    char date[WAL_S3_DATE_LEN];

    if (mu && wal_s3_parse_uint(mu, 2147483647ULL, &max) != 0) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                    "Provided max-uploads not an integer or within integer range");
        return;
    }
    if (max > WAL_S3_MAX_LIST)
        max = WAL_S3_MAX_LIST;
    if (enc && strcmp(enc, "url") != 0) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
        return;
    }
    if (delim && *delim) {
        wal_s3_fail(q, WAL_S3E_NOT_IMPLEMENTED,
                    "A delimiter is not supported when listing multipart uploads.");
        return;
    }
    url = enc != NULL;
    rc = wal_upload_list(q->s3->store, q->r->arena, q->rt.bucket, prefix ? prefix : "",
                         key_marker && *key_marker ? key_marker : NULL,
                         id_marker && *id_marker ? id_marker : NULL, (unsigned)max, &ups, &n,
                         &truncated, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_BUCKET);
        return;
    }
    w = oc_xmlw_new("ListMultipartUploadsResult", WAL_S3_NS);
    if (!w) {
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return;
    }
#define ENC(s) (url ? wal_s3_url_encode(q->r->arena, (s)) : (s))
    oc_xmlw_elem(w, "Bucket", q->rt.bucket);
    oc_xmlw_elem(w, "KeyMarker", ENC(key_marker ? key_marker : ""));
    oc_xmlw_elem(w, "UploadIdMarker", id_marker ? id_marker : "");
    if (truncated && n) {
        oc_xmlw_elem(w, "NextKeyMarker", ENC(ups[n - 1].key));
        oc_xmlw_elem(w, "NextUploadIdMarker", ups[n - 1].upload_id);
    }
    oc_xmlw_elem(w, "Prefix", ENC(prefix ? prefix : ""));
    if (url)
        oc_xmlw_elem(w, "EncodingType", "url");
    oc_xmlw_elem_u64(w, "MaxUploads", max);
    oc_xmlw_elem(w, "IsTruncated", truncated ? "true" : "false");
    for (size_t i = 0; i < n; i++) {
        oc_xmlw_start(w, "Upload");
        oc_xmlw_elem(w, "Key", ENC(ups[i].key));
        oc_xmlw_elem(w, "UploadId", ups[i].upload_id);
        wal_s3_write_owner(w, q, "Initiator", ups[i].owner);
        wal_s3_write_owner(w, q, "Owner", ups[i].owner);
        oc_xmlw_elem(w, "StorageClass", "STANDARD");
        wal_s3_iso_date(ups[i].initiated_ms, date);
        oc_xmlw_elem(w, "Initiated", date);
        oc_xmlw_end(w);
    }
#undef ENC
    wal_s3_respond_xml(q, 200, w);
}

void wal_s3_complete_upload_begin(struct wal_s3_req *q)
{
    struct wal_meta um;
    int64_t initiated;

    if (s3_upload_load(q, &um, &initiated))
        return;
    wal_s3_body_to_memory(q, COMPLETE_BODY_LIMIT);
}

static void s3_complete_fail(struct wal_s3_req *q, const struct wal_complete_fail *f,
                             const struct oc_err *err)
{
    switch (f->reason) {
    case WAL_COMPLETE_INVALID_PART:
        wal_s3_failf(q, WAL_S3E_INVALID_PART,
                     "One or more of the specified parts could not be found.  The part may "
                     "not have been uploaded, or the specified entity tag may not match the "
                     "part's entity tag. (part %d)", f->part_number);
        return;
    case WAL_COMPLETE_INVALID_PART_ORDER:
        wal_s3_failf(q, WAL_S3E_INVALID_PART_ORDER,
                     "The list of parts was not in ascending order. Parts list must be "
                     "specified in order by part number. (part %d)", f->part_number);
        return;
    case WAL_COMPLETE_TOO_SMALL:
        wal_s3_failf(q, WAL_S3E_ENTITY_TOO_SMALL,
                     "Your proposed upload is smaller than the minimum allowed object size. "
                     "Part %d is %llu bytes; every part but the last must be at least %u "
                     "bytes.", f->part_number, (unsigned long long)f->part_size,
                     (unsigned)WAL_MIN_PART_SIZE);
        return;
    case WAL_COMPLETE_NO_PARTS:
        wal_s3_fail(q, WAL_S3E_MALFORMED_XML, NULL);
        return;
    case WAL_COMPLETE_OK:
        break;
    }
    wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, err->msg[0] ? err->msg : NULL);
}

static void s3_complete_work(struct wal_s3_req *q)
{
    struct wal_part_ref *refs = NULL;
    struct wal_complete_fail fail;
    struct oc_err err = { 0 };
    struct oc_xmlw *w;
    const char *host = oc_http_header(q->r, "host"), *loc;
    size_t n = 0;
    int rc;

    rc = wal_s3_parse_complete(q->r->arena, q->body.mem.data ? q->body.mem.data : "",
                               q->body.mem.len, &refs, &n, &err);
    if (rc) {
        wal_s3_fail(q, WAL_S3E_MALFORMED_XML, NULL);
        goto done;
    }
    memset(&fail, 0, sizeof(fail));
    memset(&q->meta, 0, sizeof(q->meta));
    rc = wal_upload_complete(q->s3->store, q->r->arena, q->upload_id, refs, n, &q->meta,
                             &fail, &err);
    if (rc == OC_EINVAL) {
        s3_complete_fail(q, &fail, &err);
        goto done;
    }
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_UPLOAD);
        goto done;
    }
    if (!host || !*host)
        host = "localhost";
    if (q->rt.vhost)
        loc = oc_arena_printf(q->r->arena, "http://%s/%s", host,
                              wal_s3_url_encode(q->r->arena, q->rt.key));
    else
        loc = oc_arena_printf(q->r->arena, "http://%s/%s/%s", host, q->rt.bucket,
                              wal_s3_url_encode(q->r->arena, q->rt.key));
    w = oc_xmlw_new("CompleteMultipartUploadResult", WAL_S3_NS);
    if (w) {
        oc_xmlw_elem(w, "Location", loc);
        oc_xmlw_elem(w, "Bucket", q->rt.bucket);
        oc_xmlw_elem(w, "Key", q->rt.key);
        oc_xmlw_elem(w, "ETag", q->meta.etag);
    }
    wal_s3_respond_xml(q, 200, w);
done:
    wal_s3_async_end(q);
}

void wal_s3_complete_upload_end(struct wal_s3_req *q)
{
    wal_s3_offload(q, s3_complete_work);
}

void wal_s3_abort_upload(struct wal_s3_req *q)
{
    struct wal_meta um;
    struct oc_err err = { 0 };
    int64_t initiated;
    int rc;

    if (s3_upload_load(q, &um, &initiated))
        return;
    rc = wal_upload_abort(q->s3->store, q->upload_id, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_UPLOAD);
        return;
    }
    wal_s3_respond_empty(q, 204);
}
