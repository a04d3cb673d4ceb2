/*
 * s3_list.c - ListObjects (v1 and v2) and ListObjectVersions, which answers
 * as S3 does for a bucket that never had versioning (VersionId "null",
 * IsLatest true).  The store does the ordering, prefix and delimiter work;
 * this file turns parameters into a wal_list_params and the result into XML.
 */
#include <string.h>

#include "walrus/s3_internal.h"

struct s3_list_args {
    const char *prefix;
    const char *delimiter;         /* NULL when absent */
    unsigned max_keys;
    int url;                       /* encoding-type=url */
};

static int s3_list_common(struct wal_s3_req *q, struct s3_list_args *a)
{
    const char *mk = oc_query_get(&q->q, "max-keys");
    const char *enc = oc_query_get(&q->q, "encoding-type");
    unsigned long long v;

    a->prefix = oc_query_get(&q->q, "prefix");
    if (!a->prefix)
        a->prefix = "";
    a->delimiter = oc_query_get(&q->q, "delimiter");
    if (a->delimiter && !*a->delimiter)
        a->delimiter = NULL;
    a->max_keys = WAL_S3_MAX_LIST;
    if (mk) {
        if (wal_s3_parse_uint(mk, 2147483647ULL, &v) != 0) {
            wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                        "Provided max-keys not an integer or within integer range");
            return -1;
        }
        if (v < a->max_keys)
            a->max_keys = (unsigned)v;
    }
    if (enc && strcmp(enc, "url") != 0) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Invalid Encoding Method specified in Request");
        return -1;
    }
    a->url = enc != NULL;
    if (!wal_s3_utf8_valid(a->prefix, strlen(a->prefix)) ||
        (a->delimiter && !wal_s3_utf8_valid(a->delimiter, strlen(a->delimiter)))) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Prefix and delimiter must be UTF-8.");
        return -1;
    }
    return 0;
}

static const char *s3_enc(struct wal_s3_req *q, const struct s3_list_args *a, const char *s)
{
    return a->url ? wal_s3_url_encode(q->r->arena, s) : s;
}

static int s3_list_run(struct wal_s3_req *q, const struct s3_list_args *a, const char *after,
                       struct wal_list_result *res)
{
    struct wal_list_params p = {
        .bucket = q->rt.bucket,
        .prefix = a->prefix,
        .delimiter = a->delimiter,
        .after = after && *after ? after : NULL,
        .max_keys = a->max_keys,
    };
    struct oc_err err = { 0 };
    int rc = wal_object_list(q->s3->store, q->r->arena, &p, res, &err);

    if (rc)
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_BUCKET);
    return rc;
}

static void s3_list_head(struct oc_xmlw *w, struct wal_s3_req *q, const struct s3_list_args *a)
{
    oc_xmlw_elem(w, "Name", q->rt.bucket);
    oc_xmlw_elem(w, "Prefix", s3_enc(q, a, a->prefix));
}

static void s3_list_tail(struct oc_xmlw *w, struct wal_s3_req *q, const struct s3_list_args *a,
                         const struct wal_list_result *res, const char *entry_tag,
                         int versions, int owner)
{
    char date[WAL_S3_DATE_LEN];

    for (size_t i = 0; i < res->n; i++) {
        const struct wal_list_entry *e = &res->entries[i];

        if (e->is_prefix)
            continue;
        oc_xmlw_start(w, entry_tag);
        oc_xmlw_elem(w, "Key", s3_enc(q, a, e->key));
        if (versions) {
            oc_xmlw_elem(w, "VersionId", "null");
            oc_xmlw_elem(w, "IsLatest", "true");
        }
        wal_s3_iso_date(e->mtime_ms, date);
        oc_xmlw_elem(w, "LastModified", date);
        oc_xmlw_elem(w, "ETag", e->etag);
        oc_xmlw_elem_u64(w, "Size", e->size);
        if (owner)
            wal_s3_write_owner(w, q, "Owner", e->owner);
        oc_xmlw_elem(w, "StorageClass", "STANDARD");
        oc_xmlw_end(w);
    }
    for (size_t i = 0; i < res->n; i++) {
        if (!res->entries[i].is_prefix)
            continue;
        oc_xmlw_start(w, "CommonPrefixes");
        oc_xmlw_elem(w, "Prefix", s3_enc(q, a, res->entries[i].key));
        oc_xmlw_end(w);
    }
}

void wal_s3_list_objects(struct wal_s3_req *q, int v2)
{
    struct s3_list_args a;
    struct wal_list_result res;
    struct oc_xmlw *w;
    const char *after = NULL, *token = NULL, *start_after = NULL, *marker = NULL;
    int fetch_owner = 0;

    if (s3_list_common(q, &a))
        return;
    if (v2) {
        const char *fo = oc_query_get(&q->q, "fetch-owner");

        fetch_owner = fo && strcmp(fo, "true") == 0;
        token = oc_query_get(&q->q, "continuation-token");
        start_after = oc_query_get(&q->q, "start-after");
        if (token) {
            after = wal_s3_token_decode(q->r->arena, token);
            if (!after) {
                wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                            "The continuation token provided is incorrect");
                return;
            }
        } else {
            after = start_after;
        }
    } else {
        marker = oc_query_get(&q->q, "marker");
        after = marker;
    }
    if (after && !wal_s3_utf8_valid(after, strlen(after))) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "The marker must be UTF-8.");
        return;
    }
    if (s3_list_run(q, &a, after, &res))
        return;
    w = oc_xmlw_new("ListBucketResult", WAL_S3_NS);
    if (!w) {
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return;
    }
    s3_list_head(w, q, &a);
    if (v2) {
        oc_xmlw_elem_u64(w, "KeyCount", res.n);   /* keys and common prefixes */
        if (token)
            oc_xmlw_elem(w, "ContinuationToken", token);
        if (res.truncated && res.last)
            oc_xmlw_elem(w, "NextContinuationToken",
                         wal_s3_token_encode(q->r->arena, res.last));
        if (start_after)
            oc_xmlw_elem(w, "StartAfter", s3_enc(q, &a, start_after));
    } else {
        oc_xmlw_elem(w, "Marker", s3_enc(q, &a, marker ? marker : ""));
        if (res.truncated && res.last && a.delimiter)
            oc_xmlw_elem(w, "NextMarker", s3_enc(q, &a, res.last));
    }
    oc_xmlw_elem_u64(w, "MaxKeys", a.max_keys);
    if (a.delimiter)
        oc_xmlw_elem(w, "Delimiter", s3_enc(q, &a, a.delimiter));
    if (a.url)
        oc_xmlw_elem(w, "EncodingType", "url");
    oc_xmlw_elem(w, "IsTruncated", res.truncated ? "true" : "false");
    s3_list_tail(w, q, &a, &res, "Contents", 0, !v2 || fetch_owner);
    wal_s3_respond_xml(q, 200, w);
}

void wal_s3_list_versions(struct wal_s3_req *q)
{
    struct s3_list_args a;
    struct wal_list_result res;
    struct oc_xmlw *w;
    const char *key_marker = oc_query_get(&q->q, "key-marker");
    const char *vid_marker = oc_query_get(&q->q, "version-id-marker");

    if (s3_list_common(q, &a))
        return;
    if (vid_marker && *vid_marker && strcmp(vid_marker, "null") != 0) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "Invalid version id specified");
        return;
    }
    if (key_marker && !wal_s3_utf8_valid(key_marker, strlen(key_marker))) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "The marker must be UTF-8.");
        return;
    }
    if (s3_list_run(q, &a, key_marker, &res))
        return;
    w = oc_xmlw_new("ListVersionsResult", WAL_S3_NS);
    if (!w) {
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return;
    }
    s3_list_head(w, q, &a);
    oc_xmlw_elem(w, "KeyMarker", s3_enc(q, &a, key_marker ? key_marker : ""));
    oc_xmlw_elem(w, "VersionIdMarker", vid_marker ? vid_marker : "");
    if (res.truncated && res.last) {
        oc_xmlw_elem(w, "NextKeyMarker", s3_enc(q, &a, res.last));
        oc_xmlw_elem(w, "NextVersionIdMarker", "null");
    }
    oc_xmlw_elem_u64(w, "MaxKeys", a.max_keys);
    if (a.delimiter)
        oc_xmlw_elem(w, "Delimiter", s3_enc(q, &a, a.delimiter));
    if (a.url)
        oc_xmlw_elem(w, "EncodingType", "url");
    oc_xmlw_elem(w, "IsTruncated", res.truncated ? "true" : "false");
    s3_list_tail(w, q, &a, &res, "Version", 1, 1);
    wal_s3_respond_xml(q, 200, w);
}
