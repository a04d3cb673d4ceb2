/*
 * s3_xmlreq.c - parsers of the S3 request bodies: DeleteObjects,
 * CompleteMultipartUpload, CreateBucketConfiguration and a canned-only
 * AccessControlPolicy.  Pure functions of the bytes (no request, no store),
 * so tests/fuzz/fuzz_s3_xml.c can drive them.  The XML reader is
 * oc_xml_parse(): no entity expansion, no DTD, no network.
 */
#include <string.h>
#include <strings.h>

#include "walrus/s3_internal.h"

#define ALL_USERS_URI "http://acs.amazonaws.com/groups/global/AllUsers"
#define AUTH_USERS_URI "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

static int s3_is_elem(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, BAD_CAST name) == 0;
}

/* The text of the first child element `name` copied into the arena; NULL
 * when the element is absent. */
static const char *s3_child_text(struct oc_arena *a, xmlNodePtr parent, const char *name)
{
    xmlNodePtr c = oc_xml_child(parent, name);
    char *t;
    const char *out;

    if (!c)
        return NULL;
    t = oc_xml_text(c);
    out = oc_arena_strdup(a, t ? t : "");
    xmlFree(t);
    return out;
}

/* Trims XML whitespace in place (values such as PartNumber may be indented). */
static const char *s3_trim(struct oc_arena *a, const char *s)
{
    size_t len;

    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
        s++;
    len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
                   s[len - 1] == '\n'))
        len--;
    return oc_arena_strndup(a, s, len);
}

static xmlNodePtr s3_root(xmlDocPtr doc, const char *name, struct oc_err *err)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);

    if (!s3_is_elem(root, name)) {
        oc_err_set(err, OC_EINVAL, "the root element must be %s", name);
        return NULL;
    }
    return root;
}

int wal_s3_parse_delete(struct oc_arena *a, const char *body, size_t len,
                        struct wal_s3_delete_req *out, struct oc_err *err)
{
    xmlDocPtr doc;
    xmlNodePtr root, n;
    size_t count = 0, i = 0;
    int rc = OC_OK;

    memset(out, 0, sizeof(*out));
    doc = oc_xml_parse(body, len, err);
    if (!doc)
        return OC_EINVAL;
    root = s3_root(doc, "Delete", err);
    if (!root) {
        rc = OC_EINVAL;
        goto cleanup;
    }
    for (n = root->children; n; n = n->next) {
        if (s3_is_elem(n, "Object")) {
            if (++count > WAL_S3_MAX_DELETE) {
                rc = oc_err_set(err, OC_EINVAL, "more than %d objects to delete",
                                WAL_S3_MAX_DELETE);
                goto cleanup;
            }
        } else if (s3_is_elem(n, "Quiet")) {
            char *t = oc_xml_text(n);
            const char *v = s3_trim(a, t ? t : "");

            xmlFree(t);
            if (strcasecmp(v, "true") == 0) {
                out->quiet = 1;
            } else if (strcasecmp(v, "false") != 0) {
                rc = oc_err_set(err, OC_EINVAL, "Quiet must be true or false");
                goto cleanup;
            }
        }
    }
    if (count == 0) {
        rc = oc_err_set(err, OC_EINVAL, "no Object to delete");
        goto cleanup;
    }
    out->keys = oc_arena_calloc(a, count, sizeof(*out->keys));
    out->version_ids = oc_arena_calloc(a, count, sizeof(*out->version_ids));
    for (n = root->children; n; n = n->next) {
        if (!s3_is_elem(n, "Object"))
            continue;
        out->keys[i] = s3_child_text(a, n, "Key");
        if (!out->keys[i]) {
            rc = oc_err_set(err, OC_EINVAL, "an Object has no Key");
            goto cleanup;
        }
        out->version_ids[i] = s3_child_text(a, n, "VersionId");
        i++;
    }
    out->n = i;
cleanup:
    xmlFreeDoc(doc);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}

int wal_s3_parse_complete(struct oc_arena *a, const char *body, size_t len,
                          struct wal_part_ref **refs, size_t *n, struct oc_err *err)
{
    xmlDocPtr doc;
    xmlNodePtr root, p;
    size_t count = 0, i = 0;
    struct wal_part_ref *out = NULL;
    int rc = OC_OK;

    *refs = NULL;
    *n = 0;
    doc = oc_xml_parse(body, len, err);
    if (!doc)
        return OC_EINVAL;
    root = s3_root(doc, "CompleteMultipartUpload", err);
    if (!root) {
        rc = OC_EINVAL;
        goto cleanup;
    }
    for (p = root->children; p; p = p->next)
        if (s3_is_elem(p, "Part") && ++count > WAL_MAX_PARTS) {
            rc = oc_err_set(err, OC_EINVAL, "more than %d parts", WAL_MAX_PARTS);
            goto cleanup;
        }
    if (count == 0) {
        rc = oc_err_set(err, OC_EINVAL, "no Part is listed");
        goto cleanup;
    }
    out = oc_arena_calloc(a, count, sizeof(*out));
    for (p = root->children; p; p = p->next) {
        const char *num, *etag;
        unsigned long long v;

        if (!s3_is_elem(p, "Part"))
            continue;
        num = s3_child_text(a, p, "PartNumber");
        etag = s3_child_text(a, p, "ETag");
        if (!num || !etag) {
            rc = oc_err_set(err, OC_EINVAL, "a Part lacks PartNumber or ETag");
            goto cleanup;
        }
        if (wal_s3_parse_uint(s3_trim(a, num), WAL_MAX_PARTS, &v) != 0 || v < 1) {
            rc = oc_err_set(err, OC_EINVAL, "PartNumber must be between 1 and %d",
                            WAL_MAX_PARTS);
            goto cleanup;
        }
        out[i].number = (int)v;
        out[i].etag = s3_trim(a, etag);
        i++;
    }
    *refs = out;
    *n = i;
cleanup:
    xmlFreeDoc(doc);
    return rc;
}

int wal_s3_parse_location(struct oc_arena *a, const char *body, size_t len,
                          const char **location, struct oc_err *err)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    const char *loc;
    int rc = OC_OK;

    *location = "";
    doc = oc_xml_parse(body, len, err);
    if (!doc)
        return OC_EINVAL;
    root = s3_root(doc, "CreateBucketConfiguration", err);
    if (!root) {
        rc = OC_EINVAL;
    } else {
        loc = s3_child_text(a, root, "LocationConstraint");
        *location = loc ? s3_trim(a, loc) : "";
    }
    xmlFreeDoc(doc);
    return rc;
}

enum acl_grantee { GRANTEE_OWNER, GRANTEE_ALL, GRANTEE_AUTH, GRANTEE_OTHER };

static enum acl_grantee s3_grantee(xmlNodePtr g, const char *owner_id)
{
    const char *type = NULL;
    xmlChar *attr = NULL;
    xmlNodePtr c;
    enum acl_grantee who = GRANTEE_OTHER;

    for (xmlAttrPtr p = g->properties; p; p = p->next)
        if (xmlStrcmp(p->name, BAD_CAST "type") == 0) {
            attr = xmlNodeGetContent((xmlNodePtr)p);
            type = (const char *)attr;
        }
    if ((c = oc_xml_child(g, "ID")) && (!type || strcmp(type, "CanonicalUser") == 0)) {
        char *t = oc_xml_text(c);

        if (t && owner_id && strcmp(t, owner_id) == 0)
            who = GRANTEE_OWNER;
        xmlFree(t);
    } else if ((c = oc_xml_child(g, "URI")) && (!type || strcmp(type, "Group") == 0)) {
        char *t = oc_xml_text(c);

        if (t && strcmp(t, ALL_USERS_URI) == 0)
            who = GRANTEE_ALL;
        else if (t && strcmp(t, AUTH_USERS_URI) == 0)
            who = GRANTEE_AUTH;
        xmlFree(t);
    }
    xmlFree(attr);
    return who;
}

int wal_s3_parse_acl(const char *body, size_t len, const char *owner_id,
                     const char **canned, struct oc_err *err)
{
    xmlDocPtr doc;
    xmlNodePtr root, list;
    int all_read = 0, all_write = 0, auth_read = 0, other = 0;
    int rc = OC_OK;

    *canned = NULL;
    doc = oc_xml_parse(body, len, err);
    if (!doc)
        return OC_EINVAL;
    root = s3_root(doc, "AccessControlPolicy", err);
    list = root ? oc_xml_child(root, "AccessControlList") : NULL;
    if (!list) {
        rc = root ? oc_err_set(err, OC_EINVAL, "AccessControlList is missing") : OC_EINVAL;
        goto cleanup;
    }
    for (xmlNodePtr g = list->children; g; g = g->next) {
        xmlNodePtr grantee, perm;
        char *p;
        enum acl_grantee who;

        if (g->type != XML_ELEMENT_NODE)
            continue;
        if (!s3_is_elem(g, "Grant")) {
            rc = oc_err_set(err, OC_EINVAL, "unexpected element %s in AccessControlList",
                            (const char *)g->name);
            goto cleanup;
        }
        grantee = oc_xml_child(g, "Grantee");
        perm = oc_xml_child(g, "Permission");
        if (!grantee || !perm) {
            rc = oc_err_set(err, OC_EINVAL, "a Grant lacks Grantee or Permission");
            goto cleanup;
        }
        p = oc_xml_text(perm);
        who = s3_grantee(grantee, owner_id);
        if (!p || !(strcmp(p, "FULL_CONTROL") == 0 || strcmp(p, "READ") == 0 ||
                    strcmp(p, "WRITE") == 0 || strcmp(p, "READ_ACP") == 0 ||
                    strcmp(p, "WRITE_ACP") == 0)) {
            xmlFree(p);
            rc = oc_err_set(err, OC_EINVAL, "unknown Permission");
            goto cleanup;
        }
        /* The owner always keeps full control here; its grants add nothing. */
        if (who == GRANTEE_ALL && strcmp(p, "READ") == 0)
            all_read = 1;
        else if (who == GRANTEE_ALL && strcmp(p, "WRITE") == 0)
            all_write = 1;
        else if (who == GRANTEE_AUTH && strcmp(p, "READ") == 0)
            auth_read = 1;
        else if (who != GRANTEE_OWNER)
            other = 1;
        xmlFree(p);
    }
    if (other || (auth_read && (all_read || all_write)) || (all_write && !all_read))
        rc = oc_err_set(err, OC_ECONFLICT, "only canned ACLs are supported");
    else if (all_write)
        *canned = "public-read-write";
    else if (all_read)
        *canned = "public-read";
    else if (auth_read)
        *canned = "authenticated-read";
    else
        *canned = "private";
cleanup:
    xmlFreeDoc(doc);
    return rc;
}
