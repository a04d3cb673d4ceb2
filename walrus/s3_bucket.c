/*
 * s3_bucket.c - the service and bucket operations: ListBuckets,
 * CreateBucket, HeadBucket, DeleteBucket, GetBucketLocation,
 * GetBucketVersioning (always unversioned), and the bucket-name rules.
 */
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "common/log.h"
#include "walrus/s3_internal.h"

static int64_t s3_now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int s3_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Four dot-separated decimal groups: "192.168.5.4" is not a bucket name. */
static int s3_looks_like_ip(const char *s)
{
    int groups = 0, digits = 0;

    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (++digits > 3)
                return 0;
        } else if (*s == '.') {
            if (!digits)
                return 0;
            groups++;
            digits = 0;
        } else {
            return 0;
        }
    }
    return digits && groups == 3;
}

/*
 * S3's rules for new buckets: 3-63 characters of lowercase letters, digits,
 * '.' and '-', starting and ending with a letter or digit, no "..", no label
 * starting or ending with '-' next to a '.', not an IPv4 address, not the
 * reserved "xn--" prefix or "-s3alias" suffix.  DNS-compatible, so every
 * bucket also works in virtual-host style.
 */
int wal_s3_bucket_name_valid(const char *name)
{
    size_t len;

    if (!name)
        return 0;
    len = strlen(name);
    if (len < 3 || len > 63)
        return 0;
    if (!s3_is_alnum(name[0]) || !s3_is_alnum(name[len - 1]))
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];

        if (!s3_is_alnum(c) && c != '.' && c != '-')
            return 0;
        if (c == '.' && i + 1 < len && (name[i + 1] == '.' || name[i + 1] == '-'))
            return 0;
        if (c == '-' && i + 1 < len && name[i + 1] == '.')
            return 0;
    }
    if (s3_looks_like_ip(name))
        return 0;
    if (strncmp(name, "xn--", 4) == 0)
        return 0;
    if (len >= 8 && strcmp(name + len - 8, "-s3alias") == 0)
        return 0;
    return 1;
}

struct s3_bucket_walk {
    struct oc_xmlw *w;
};

static int s3_list_one(void *arg, const struct wal_bucket *b)
{
    struct s3_bucket_walk *walk = arg;
    char date[WAL_S3_DATE_LEN];

    wal_s3_iso_date(b->created_ms, date);
    oc_xmlw_start(walk->w, "Bucket");
    oc_xmlw_elem(walk->w, "Name", b->name);
    oc_xmlw_elem(walk->w, "CreationDate", date);
    oc_xmlw_end(walk->w);
    return 0;
}

void wal_s3_list_buckets(struct wal_s3_req *q)
{
    struct oc_xmlw *w = oc_xmlw_new("ListAllMyBucketsResult", WAL_S3_NS);
    struct s3_bucket_walk walk = { .w = w };
    struct oc_err err = { 0 };
    int rc;

    if (!w) {
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return;
    }
    wal_s3_write_owner(w, q, "Owner", q->who->account_id);
    oc_xmlw_start(w, "Buckets");
    rc = wal_bucket_list(q->s3->store, q->who->account_id, s3_list_one, &walk, &err);
    if (rc) {
        oc_xmlw_free(w);
        wal_s3_fail_store(q, rc, &err, WAL_S3E_INTERNAL);
        return;
    }
    oc_xmlw_end(w);
    wal_s3_respond_xml(q, 200, w);
}

void wal_s3_create_bucket_end(struct wal_s3_req *q)
{
    struct wal_bucket b, existing;
    struct oc_err err = { 0 };
    const char *acl, *location = "";
    int rc;

    for (size_t i = 0; i < q->r->nheaders; i++)
        if (strncmp(q->r->headers[i].name, "x-amz-grant-", 12) == 0) {
            wal_s3_fail(q, WAL_S3E_NOT_IMPLEMENTED, "Only canned ACLs are supported.");
            return;
        }
    {
        const char *lock = oc_http_header(q->r, "x-amz-bucket-object-lock-enabled");

        if (lock && strcmp(lock, "true") == 0) {
            wal_s3_fail(q, WAL_S3E_NOT_IMPLEMENTED, "Object lock is not supported.");
            return;
        }
    }
    acl = wal_s3_request_acl(q, "private");
    if (!acl)
        return;
    if (q->body.mem.len) {
        if (wal_s3_parse_location(q->r->arena, q->body.mem.data, q->body.mem.len, &location,
                                  &err) != OC_OK) {
            wal_s3_fail(q, WAL_S3E_MALFORMED_XML, NULL);
            return;
        }
    }
    /* us-east-1 is the empty constraint, as in S3. */
    if (strcmp(location, "us-east-1") == 0)
        location = "";
    if (strlen(location) >= sizeof(b.location)) {
        wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT, "The specified location-constraint is not "
                                                 "valid");
        return;
    }
    for (const char *c = location; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-')) {
            wal_s3_fail(q, WAL_S3E_INVALID_ARGUMENT,
                        "The specified location-constraint is not valid");
            return;
        }
    memset(&b, 0, sizeof(b));
    snprintf(b.name, sizeof(b.name), "%s", q->rt.bucket);
    snprintf(b.owner, sizeof(b.owner), "%s", q->who->account_id);
    snprintf(b.acl, sizeof(b.acl), "%s", acl);
    snprintf(b.location, sizeof(b.location), "%s", location);
    b.created_ms = s3_now_ms();
    rc = wal_bucket_create(q->s3->store, &b, &err);
    if (rc == OC_EEXIST) {
        if (wal_bucket_get(q->s3->store, b.name, &existing, &err) == OC_OK &&
            strcmp(existing.owner, q->who->account_id) == 0)
            wal_s3_fail(q, WAL_S3E_BUCKET_ALREADY_OWNED, NULL);
        else
            wal_s3_fail(q, WAL_S3E_BUCKET_ALREADY_EXISTS, NULL);
        return;
    }
    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_INTERNAL);
        return;
    }
    oc_info("s3: bucket %s created by account %s", b.name, b.owner);
    oc_http_add_header(q->r, "Location", oc_arena_printf(q->r->arena, "/%s", b.name));
    wal_s3_respond_empty(q, 200);
}

void wal_s3_head_bucket(struct wal_s3_req *q)
{
    oc_http_add_header(q->r, "x-amz-bucket-region",
                       q->bucket.location[0] ? q->bucket.location : q->s3->region);
    wal_s3_respond_empty(q, 200);
}

void wal_s3_delete_bucket(struct wal_s3_req *q)
{
    struct oc_err err = { 0 };
    int rc = wal_bucket_delete(q->s3->store, q->rt.bucket, &err);

    if (rc) {
        wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_BUCKET);
        return;
    }
    oc_info("s3: bucket %s deleted", q->rt.bucket);
    wal_s3_respond_empty(q, 204);
}

void wal_s3_get_location(struct wal_s3_req *q)
{
    struct oc_buf b = { 0 };
    const char *loc = q->bucket.location;
    int rc;

    /* The writer has no bare-text call; this document is one escaped string. */
    rc = oc_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                         "<LocationConstraint xmlns=\"" WAL_S3_NS "\">");
    if (rc == OC_OK)
        rc = oc_xml_escape(loc, strlen(loc), &b);
    if (rc == OC_OK)
        rc = oc_buf_puts(&b, "</LocationConstraint>\n");
    if (rc != OC_OK) {
        oc_buf_free(&b);
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return;
    }
    if (oc_http_respond_buf(q->r, 200, "application/xml", &b) != OC_OK)
        oc_error("s3 %s: cannot queue the response", q->r->request_id);
    oc_buf_free(&b);
}

void wal_s3_get_versioning(struct wal_s3_req *q)
{
    /* Never versioned: S3 answers an empty configuration for such buckets. */
    wal_s3_respond_xml(q, 200, oc_xmlw_new("VersioningConfiguration", WAL_S3_NS));
}
