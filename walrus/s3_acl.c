/*
 * s3_acl.c - canned ACLs on buckets and objects: who may do what, the
 * AccessControlPolicy documents, and GET/PUT ?acl.
 *
 * Only canned ACLs exist: private, public-read, public-read-write and
 * authenticated-read (bucket-owner-read and bucket-owner-full-control are
 * accepted on objects and stored as private, because the bucket owner can
 * always read objects in its bucket here).  The owner account has full
 * control; the eucalyptus admin account may act on everything, as in
 * Eucalyptus.
 */
#include <string.h>

#include "common/log.h"
#include "walrus/s3_internal.h"

#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"
#define ALL_USERS_URI "http://acs.amazonaws.com/groups/global/AllUsers"
#define AUTH_USERS_URI "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
#define ACL_BODY_LIMIT (64 * 1024)

const char *wal_s3_canned_acl(const char *name)
{
    static const char *const canned[] = { "private", "public-read", "public-read-write",
                                          "authenticated-read" };

    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof(canned) / sizeof(canned[0]); i++)
        if (strcmp(name, canned[i]) == 0)
            return canned[i];
    if (strcmp(name, "bucket-owner-read") == 0 ||
        strcmp(name, "bucket-owner-full-control") == 0)
        return "private";
    return NULL;
}

int wal_s3_acl_allows(const char *acl, const char *owner, const struct oc_principal *who,
                      enum wal_s3_perm perm)
{
    if (who && who->is_admin)
        return 1;
    if (who && owner && owner[0] && strcmp(who->account_id, owner) == 0)
        return 1;
    if (!acl)
        return 0;
    switch (perm) {
    case WAL_S3_READ:
        return strcmp(acl, "public-read") == 0 || strcmp(acl, "public-read-write") == 0 ||
               (who && strcmp(acl, "authenticated-read") == 0);
    case WAL_S3_WRITE:
        return strcmp(acl, "public-read-write") == 0;
    case WAL_S3_READ_ACP:
    case WAL_S3_WRITE_ACP:
        return 0;
    }
    return 0;
}

static void s3_acl_group(struct oc_xmlw *w, const char *uri, const char *perm)
{
    oc_xmlw_start(w, "Grant");
    oc_xmlw_start(w, "Grantee");
    oc_xmlw_attr(w, "xmlns:xsi", XSI_NS);
    oc_xmlw_attr(w, "xsi:type", "Group");
    oc_xmlw_elem(w, "URI", uri);
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "Permission", perm);
    oc_xmlw_end(w);
}

int wal_s3_acl_xml(const char *acl, const char *owner_id, const char *owner_name,
                   struct oc_buf *out)
{
    struct oc_xmlw *w = oc_xmlw_new("AccessControlPolicy", WAL_S3_NS);
    int rc;

    if (!w)
        return OC_ENOMEM;
    oc_xmlw_start(w, "Owner");
    oc_xmlw_elem(w, "ID", owner_id);
    oc_xmlw_elem(w, "DisplayName", owner_name);
    oc_xmlw_end(w);
    oc_xmlw_start(w, "AccessControlList");
    oc_xmlw_start(w, "Grant");
    oc_xmlw_start(w, "Grantee");
    oc_xmlw_attr(w, "xmlns:xsi", XSI_NS);
    oc_xmlw_attr(w, "xsi:type", "CanonicalUser");
    oc_xmlw_elem(w, "ID", owner_id);
    oc_xmlw_elem(w, "DisplayName", owner_name);
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "Permission", "FULL_CONTROL");
    oc_xmlw_end(w);
    if (acl && (strcmp(acl, "public-read") == 0 || strcmp(acl, "public-read-write") == 0))
        s3_acl_group(w, ALL_USERS_URI, "READ");
    if (acl && strcmp(acl, "public-read-write") == 0)
        s3_acl_group(w, ALL_USERS_URI, "WRITE");
    if (acl && strcmp(acl, "authenticated-read") == 0)
        s3_acl_group(w, AUTH_USERS_URI, "READ");
    oc_xmlw_end(w);
    rc = oc_xmlw_finish(w, out);
    oc_xmlw_free(w);
    return rc;
}

void wal_s3_get_acl(struct wal_s3_req *q)
{
    struct oc_buf out = { 0 };
    const char *acl, *owner;
    struct wal_meta m;

    if (q->rt.key) {
        if (wal_s3_object_load(q, WAL_S3_READ_ACP, &m))
            return;
        acl = m.acl;
        owner = m.owner;
    } else {
        acl = q->bucket.acl;
        owner = q->bucket.owner;
    }
    if (wal_s3_acl_xml(acl, owner, wal_s3_owner_name(q, owner), &out) != OC_OK) {
        oc_buf_free(&out);
        wal_s3_fail(q, WAL_S3E_INTERNAL, NULL);
        return;
    }
    oc_http_add_header(q->r, "Content-Type", "application/xml");
    if (oc_http_respond_buf(q->r, 200, NULL, &out) != OC_OK)
        oc_error("s3: cannot queue the ACL response");
    oc_buf_free(&out);
}

static void s3_acl_apply(struct wal_s3_req *q, const char *canned)
{
    struct oc_err err = { 0 };
    int rc;

    if (q->rt.key)
        rc = wal_object_set_acl(q->s3->store, q->rt.bucket, q->rt.key, canned, &err);
    else
        rc = wal_bucket_set_acl(q->s3->store, q->rt.bucket, canned, &err);
    if (rc) {
        wal_s3_fail_store(q, rc, &err,
                          q->rt.key ? WAL_S3E_NO_SUCH_KEY : WAL_S3E_NO_SUCH_BUCKET);
        return;
    }
    wal_s3_respond_empty(q, 200);
}

void wal_s3_put_acl_begin(struct wal_s3_req *q)
{
    struct wal_meta m;
    const char *canned;

    if (q->rt.key) {
        if (wal_s3_object_load(q, WAL_S3_WRITE_ACP, &m))
            return;
    }
    for (size_t i = 0; i < q->r->nheaders; i++)
        if (strncmp(q->r->headers[i].name, "x-amz-grant-", 12) == 0) {
            wal_s3_fail(q, WAL_S3E_NOT_IMPLEMENTED, "Only canned ACLs are supported.");
            return;
        }
    if (oc_http_header(q->r, "x-amz-acl")) {
        canned = wal_s3_request_acl(q, NULL);
        if (canned)
            s3_acl_apply(q, canned);
        return;
    }
    wal_s3_body_to_memory(q, ACL_BODY_LIMIT);
}

void wal_s3_put_acl_end(struct wal_s3_req *q)
{
    struct oc_err err = { 0 };
    const char *canned, *owner;
    struct wal_meta m;
    int rc;

    if (q->body.mem.len == 0) {
        wal_s3_fail(q, WAL_S3E_MISSING_BODY, NULL);
        return;
    }
    owner = q->bucket.owner;
    if (q->rt.key) {
        rc = wal_object_head(q->s3->store, q->r->arena, q->rt.bucket, q->rt.key, &m, &err);
        if (rc) {
            wal_s3_fail_store(q, rc, &err, WAL_S3E_NO_SUCH_KEY);
            return;
        }
        owner = m.owner;
    }
    rc = wal_s3_parse_acl(q->body.mem.data, q->body.mem.len, owner, &canned, &err);
    if (rc == OC_ECONFLICT) {
        wal_s3_fail(q, WAL_S3E_NOT_IMPLEMENTED,
                    "Only ACLs equivalent to a canned ACL (private, public-read, "
                    "public-read-write, authenticated-read) are supported.");
        return;
    }
    if (rc) {
        wal_s3_fail(q, WAL_S3E_MALFORMED_ACL, NULL);
        return;
    }
    s3_acl_apply(q, canned);
}
