/*
 * tags.c - EC2 tags: CreateTags, DeleteTags and DescribeTags, and the
 * helpers every resource module uses (load a resource's tags, write
 * <tagSet>, TagSpecification.N on create calls, drop tags of a deleted
 * resource).
 *
 * Tags live in the tags table (clc/schema.c), one row per (resource, key),
 * with the resource's AWS type and its owner account.  Only the owner tags
 * a resource (ownership through clc_resource_owner(), clc/resource.c), and
 * a resource's tags are shown only to its account, as EC2 shows tags only
 * to the account that set them.  Limits are EC2's: 50 tags per resource,
 * keys of 1..128 characters not starting with `aws:`, values of 0..256.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clc/clc.h"

#define TAGS_PER_RESOURCE 50
#define TAG_KEY_MAX 128
#define TAG_VALUE_MAX 256

struct tag_in {
    const char *key;      /* NULL when the request gave only a value */
    const char *value;    /* NULL when absent */
    long idx;
};

/* ------------------------------------------------------------------ */
/* parsing */

static long parse_index(const char *s, size_t len)
{
    long v = 0;

    if (len == 0 || len > 9)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= 1 ? v : -1;
}

static int cmp_long(const void *x, const void *y)
{
    long a = *(const long *)x, b = *(const long *)y;

    return a < b ? -1 : a > b;
}

/*
 * Collects `<prefix>.N.Key` / `<prefix>.N.Value` (prefix "Tag" or
 * "TagSpecification.3.Tag") into an arena array ordered by N.  Other
 * sub-fields under `<prefix>.N.` are unknown parameters.
 */
static int tags_parse(struct clc_req *r, const char *prefix, struct tag_in **out, size_t *n)
{
    const struct oc_query *q = r->params;
    size_t plen = strlen(prefix), cnt = 0;
    long *idx = oc_arena_calloc(r->arena, q->n ? q->n : 1, sizeof(*idx));
    struct tag_in *tags;

    for (size_t i = 0; i < q->n; i++) {
        const char *name = q->items[i].name, *s, *dot;
        long k;

        if (strncmp(name, prefix, plen) != 0 || name[plen] != '.')
            continue;
        s = name + plen + 1;
        dot = strchr(s, '.');
        k = dot ? parse_index(s, (size_t)(dot - s)) : -1;
        if (k < 0 || (strcmp(dot, ".Key") != 0 && strcmp(dot, ".Value") != 0))
            return clc_error(r, "UnknownParameter", "The parameter %s is not recognized", name);
        idx[cnt++] = k;
    }
    qsort(idx, cnt, sizeof(*idx), cmp_long);
    tags = oc_arena_calloc(r->arena, cnt ? cnt : 1, sizeof(*tags));
    *n = 0;
    for (size_t i = 0; i < cnt; i++) {
        struct tag_in *t;

        if (i && idx[i] == idx[i - 1])
            continue;
        t = &tags[(*n)++];
        t->idx = idx[i];
        t->key = oc_query_get(q, oc_arena_printf(r->arena, "%s.%ld.Key", prefix, idx[i]));
        t->value = oc_query_get(q, oc_arena_printf(r->arena, "%s.%ld.Value", prefix, idx[i]));
    }
    *out = tags;
    return CLC_OK;
}

/* Characters, not bytes: EC2 counts Unicode characters. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Checks the tags of one resource-to-be: keys present, sizes, reserved
 * prefix, no key twice, at most 50. */
static int tags_check(struct clc_req *r, const struct tag_in *tags, size_t n)
{
    if (n > TAGS_PER_RESOURCE)
        return clc_error(r, "TagLimitExceeded",
                         "The maximum number of tags (%d) for a resource has been exceeded",
                         TAGS_PER_RESOURCE);
    for (size_t i = 0; i < n; i++) {
        const char *key = tags[i].key, *value = tags[i].value ? tags[i].value : "";

        if (!key || !*key)
            return clc_error(r, "InvalidParameterValue", "Tag keys must not be empty");
        if (utf8_len(key) > TAG_KEY_MAX)
            return clc_error(r, "InvalidParameterValue",
                             "Tag key exceeds the maximum length of %d characters", TAG_KEY_MAX);
        if (utf8_len(value) > TAG_VALUE_MAX)
            return clc_error(r, "InvalidParameterValue",
                             "Tag value exceeds the maximum length of %d characters",
                             TAG_VALUE_MAX);
        if (strncasecmp(key, "aws:", 4) == 0)
            return clc_error(r, "InvalidParameterValue",
                             "Tag keys starting with 'aws:' are reserved for internal use");
        for (size_t j = 0; j < i; j++)
            if (strcmp(tags[j].key, key) == 0)
                return clc_error(r, "InvalidParameterValue", "Duplicate tag key '%s' specified",
                                 key);
    }
    return CLC_OK;
}

/* Ids as stored: Eucalyptus's emi-/eki-/eri- name the ami-/aki-/ari- rows. */
static const char *canonical_id(struct clc_req *r, const char *id)
{
    if (strncmp(id, "emi-", 4) == 0 || strncmp(id, "eki-", 4) == 0 ||
        strncmp(id, "eri-", 4) == 0)
        return oc_arena_printf(r->arena, "a%s", id + 1);
    return id;
}

/* ------------------------------------------------------------------ */
/* storage helpers */

static int tag_put(struct clc_req *r, const char *id, const char *type, const char *key,
                   const char *value)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(
        r->db,
        "INSERT INTO tags (resource_id, resource_type, account_id, key, value) "
        "VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (resource_id, key) DO UPDATE SET value = excluded.value",
        &err);
    int rc;

    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->who.account_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, value ? value : "", -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "store a tag");
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

/* Number of tags of id, or -1 after choosing an error. */
static long long tag_count(struct clc_req *r, const char *id)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT count(*) FROM tags WHERE resource_id = ?",
                                     &err);
    long long n;

    if (!st) {
        clc_internal(r, &err);
        return -1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) != SQLITE_ROW) {
        oc_db_fail(r->db, &err, "count tags");
        sqlite3_reset(st);
        clc_internal(r, &err);
        return -1;
    }
    n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

int clc_tags_load(struct clc_req *r, const char *resource_id, struct clc_tagset *out)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db,
                                     "SELECT key, value FROM tags WHERE resource_id = ? "
                                     "AND account_id = ? ORDER BY key",
                                     &err);
    size_t cap = 0;
    int rc;

    out->tags = NULL;
    out->n = 0;
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, resource_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->who.account_id, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct clc_tag *t = oc_arena_calloc(r->arena, ncap, sizeof(*t));

            if (out->n)
                memcpy(t, out->tags, out->n * sizeof(*t));
            out->tags = t;
            cap = ncap;
        }
        out->tags[out->n].key = oc_arena_strdup(r->arena,
                                                (const char *)sqlite3_column_text(st, 0));
        out->tags[out->n].value = oc_arena_strdup(r->arena,
                                                  (const char *)sqlite3_column_text(st, 1));
        out->n++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "load tags");
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

void clc_tags_write(struct clc_req *r, const struct clc_tagset *tags)
{
    struct oc_xmlw *w;

    if (!tags || tags->n == 0)
        return;
    w = clc_reply_begin(r);
    oc_xmlw_start(w, "tagSet");
    for (size_t i = 0; i < tags->n; i++) {
        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "key", tags->tags[i].key);
        oc_xmlw_elem(w, "value", tags->tags[i].value ? tags->tags[i].value : "");
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
}

int clc_tags_drop(struct clc_req *r, const char *resource_id)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, "DELETE FROM tags WHERE resource_id = ?", &err);
    int rc;

    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, resource_id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "drop tags");
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* TagSpecification.N */

struct tag_spec {
    long idx;
    const char *type;
    struct tag_in *tags;
    size_t ntags;
};

/* Every TagSpecification.N of the request, checked for form. */
static int specs_parse(struct clc_req *r, struct tag_spec **out, size_t *n)
{
    const struct oc_query *q = r->params;
    long *idx = oc_arena_calloc(r->arena, q->n ? q->n : 1, sizeof(*idx));
    struct tag_spec *specs;
    size_t cnt = 0;

    for (size_t i = 0; i < q->n; i++) {
        const char *name = q->items[i].name, *s, *dot;
        long k;

        if (strncmp(name, "TagSpecification.", 17) != 0)
            continue;
        s = name + 17;
        dot = strchr(s, '.');
        k = dot ? parse_index(s, (size_t)(dot - s)) : -1;
        if (k < 0 || (strcmp(dot, ".ResourceType") != 0 && strncmp(dot, ".Tag.", 5) != 0))
            return clc_error(r, "UnknownParameter", "The parameter %s is not recognized", name);
        idx[cnt++] = k;
    }
    qsort(idx, cnt, sizeof(*idx), cmp_long);
    specs = oc_arena_calloc(r->arena, cnt ? cnt : 1, sizeof(*specs));
    *n = 0;
    for (size_t i = 0; i < cnt; i++) {
        struct tag_spec *sp;

        if (i && idx[i] == idx[i - 1])
            continue;
        sp = &specs[(*n)++];
        sp->idx = idx[i];
        sp->type = oc_query_get(q, oc_arena_printf(r->arena, "TagSpecification.%ld.ResourceType",
                                                   idx[i]));
        if (tags_parse(r, oc_arena_printf(r->arena, "TagSpecification.%ld.Tag", idx[i]),
                       &sp->tags, &sp->ntags))
            return CLC_FAILED;
    }
    *out = specs;
    return CLC_OK;
}

int clc_tags_check_spec(struct clc_req *r, const char *resource_type)
{
    struct tag_spec *specs;
    size_t n;

    if (specs_parse(r, &specs, &n))
        return CLC_FAILED;
    for (size_t i = 0; i < n; i++) {
        if (!specs[i].type || !*specs[i].type)
            return clc_error(r, "InvalidParameterValue",
                             "Tag specification resource type must have a value");
        if (strcmp(specs[i].type, resource_type) != 0)
            return clc_error(r, "InvalidParameterValue",
                             "'%s' is not a valid taggable resource type for this operation.",
                             specs[i].type);
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[j].type, specs[i].type) == 0)
                return clc_error(r, "InvalidParameterValue",
                                 "The same resource type may not be specified more than once "
                                 "in tag specifications");
        if (specs[i].ntags == 0)
            return clc_error(r, "InvalidParameterValue",
                             "Tag specification must have at least one tag");
        if (tags_check(r, specs[i].tags, specs[i].ntags))
            return CLC_FAILED;
    }
    return CLC_OK;
}

int clc_tags_from_spec(struct clc_req *r, const char *resource_type, const char *resource_id)
{
    struct tag_spec *specs;
    size_t n;

    if (clc_tags_check_spec(r, resource_type) || specs_parse(r, &specs, &n))
        return CLC_FAILED;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(specs[i].type, resource_type) != 0)
            continue;
        for (size_t t = 0; t < specs[i].ntags; t++)
            if (tag_put(r, resource_id, resource_type, specs[i].tags[t].key,
                        specs[i].tags[t].value))
                return CLC_FAILED;
    }
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* CreateTags / DeleteTags */

struct target {
    const char *id;       /* canonical */
    const char *type;
};

/* The NotFound answer for a resource of another account: the same answer
 * as for one that does not exist, so ids of others leak nothing. */
static int foreign(struct clc_req *r, const char *type, const char *id)
{
    if (strcmp(type, "security-group") == 0)
        return clc_error(r, "InvalidGroup.NotFound", "The security group '%s' does not exist",
                         id);
    if (strcmp(type, "key-pair") == 0)
        return clc_error(r, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", id);
    if (strcmp(type, "image") == 0)
        return clc_error(r, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id);
    if (strcmp(type, "instance") == 0)
        return clc_error(r, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
                         id);
    return clc_error(r, "InvalidID", "The ID '%s' is not valid", id);
}

/* ResourceId.N: present, every one existing and the caller's. */
static int targets_resolve(struct clc_req *r, struct target **out, size_t *n)
{
    const char **ids;
    struct target *t;

    if (clc_param_list(r, "ResourceId", &ids, n))
        return CLC_FAILED;
    if (*n == 0)
        return clc_error(r, "MissingParameter",
                         "The request must contain the parameter ResourceId");
    t = oc_arena_calloc(r->arena, *n, sizeof(*t));
    for (size_t i = 0; i < *n; i++) {
        const char *owner = NULL;

        if (!*ids[i])
            return clc_error(r, "InvalidID", "The ID '%s' is not valid", ids[i]);
        if (clc_resource_owner(r, ids[i], &t[i].type, &owner))
            return CLC_FAILED;
        if (!owner || strcmp(owner, r->who.account_id) != 0)
            return foreign(r, t[i].type, ids[i]);
        t[i].id = canonical_id(r, ids[i]);
    }
    *out = t;
    return CLC_OK;
}

static int tags_create(struct clc_req *r)
{
    struct target *targets;
    struct tag_in *tags;
    struct oc_err err = { 0 };
    size_t ntargets, ntags;

    if (targets_resolve(r, &targets, &ntargets) || tags_parse(r, "Tag", &tags, &ntags))
        return CLC_FAILED;
    if (ntags == 0)
        return clc_error(r, "MissingParameter", "The request must contain the parameter Tag");
    if (tags_check(r, tags, ntags))
        return CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    for (size_t i = 0; i < ntargets; i++) {
        long long count;

        for (size_t t = 0; t < ntags; t++)
            if (tag_put(r, targets[i].id, targets[i].type, tags[t].key, tags[t].value))
                goto fail;
        count = tag_count(r, targets[i].id);
        if (count < 0)
            goto fail;
        if (count > TAGS_PER_RESOURCE) {
            clc_error(r, "TagLimitExceeded",
                      "The maximum number of tags (%d) for resource %s has been exceeded",
                      TAGS_PER_RESOURCE, targets[i].id);
            goto fail;
        }
    }
    if (oc_db_commit(r->db, &err)) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    return clc_reply_return_true(r);
fail:
    /* All or nothing: no resource keeps a tag of a refused request. */
    oc_db_rollback(r->db);
    return CLC_FAILED;
}

static int tag_delete(struct clc_req *r, const char *id, const struct tag_in *tag)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    int rc;

    if (!tag)
        st = oc_db_prepare(r->db, "DELETE FROM tags WHERE resource_id = ? AND account_id = ?",
                           &err);
    else if (!tag->value)
        st = oc_db_prepare(r->db,
                           "DELETE FROM tags WHERE resource_id = ? AND account_id = ? "
                           "AND key = ?",
                           &err);
    else
        st = oc_db_prepare(r->db,
                           "DELETE FROM tags WHERE resource_id = ? AND account_id = ? "
                           "AND key = ? AND value = ?",
                           &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->who.account_id, -1, SQLITE_TRANSIENT);
    if (tag)
        sqlite3_bind_text(st, 3, tag->key, -1, SQLITE_TRANSIENT);
    if (tag && tag->value)
        sqlite3_bind_text(st, 4, tag->value, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "delete tags");
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

static int tags_delete(struct clc_req *r)
{
    struct target *targets;
    struct tag_in *tags;
    struct oc_err err = { 0 };
    size_t ntargets, ntags;

    if (targets_resolve(r, &targets, &ntargets) || tags_parse(r, "Tag", &tags, &ntags))
        return CLC_FAILED;
    for (size_t t = 0; t < ntags; t++)
        if (!tags[t].key || !*tags[t].key)
            return clc_error(r, "InvalidParameterValue", "Tag keys must not be empty");
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    for (size_t i = 0; i < ntargets; i++) {
        /* No Tag.N at all: every tag of the resource goes. */
        if (ntags == 0 && tag_delete(r, targets[i].id, NULL))
            goto fail;
        for (size_t t = 0; t < ntags; t++)
            if (tag_delete(r, targets[i].id, &tags[t]))
                goto fail;
    }
    if (oc_db_commit(r->db, &err)) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    return clc_reply_return_true(r);
fail:
    oc_db_rollback(r->db);
    return CLC_FAILED;
}

/* ------------------------------------------------------------------ */
/* DescribeTags */

struct tag_row {
    const char *resource_id;
    const char *resource_type;
    struct clc_tag tag;
};

static const char *const describe_tags_filters[] = {
    "key", "value", "resource-id", "resource-type", NULL,
};

static void tag_row_attr(void *p, const char *name, struct clc_values *vals)
{
    const struct tag_row *row = p;

    if (strcmp(name, "key") == 0)
        clc_values_add(vals, row->tag.key);
    else if (strcmp(name, "value") == 0)
        clc_values_add(vals, row->tag.value);
    else if (strcmp(name, "resource-id") == 0)
        clc_values_add(vals, row->resource_id);
    else if (strcmp(name, "resource-type") == 0)
        clc_values_add(vals, row->resource_type);
}

/* Page keys are "<resource id>|<tag key>": ids never contain '|'. */
static const char *row_page_key(struct clc_req *r, const struct tag_row *row)
{
    return oc_arena_printf(r->arena, "%s|%s", row->resource_id, row->tag.key);
}

static int tags_describe(struct clc_req *r)
{
    struct clc_filters *filters = NULL;
    struct clc_page page;
    struct oc_err err = { 0 };
    const char *after_id = NULL, *after_key = NULL, *last = NULL;
    sqlite3_stmt *st;
    long long shown = 0;
    int rc, more = 0;

    if (clc_filters_parse(r, describe_tags_filters, &filters) ||
        clc_page_parse(r, 5, 1000, 0, &page))
        return CLC_FAILED;
    if (page.limited && page.after) {
        const char *bar = strchr(page.after, '|');

        after_id = bar ? oc_arena_strndup(r->arena, page.after, (size_t)(bar - page.after))
                       : page.after;
        after_key = bar ? bar + 1 : "";
    }
    if (after_id)
        st = oc_db_prepare(r->db,
                           "SELECT resource_id, resource_type, key, value FROM tags "
                           "WHERE account_id = ? AND (resource_id, key) > (?, ?) "
                           "ORDER BY resource_id, key",
                           &err);
    else
        st = oc_db_prepare(r->db,
                           "SELECT resource_id, resource_type, key, value FROM tags "
                           "WHERE account_id = ? ORDER BY resource_id, key",
                           &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_TRANSIENT);
    if (after_id) {
        sqlite3_bind_text(st, 2, after_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, after_key, -1, SQLITE_TRANSIENT);
    }
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "tagSet");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct tag_row row;
        struct clc_tagset one = { &row.tag, 1 };

        row.resource_id = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 0));
        row.resource_type = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 1));
        row.tag.key = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 2));
        row.tag.value = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 3));
        /* tag:<key>, tag-key and tag-value look at the row's own tag. */
        if (!clc_filters_match(filters, tag_row_attr, &row, &one))
            continue;
        if (page.limited && shown == page.max) {
            more = 1;
            break;
        }
        oc_xmlw_start(r->xml, "item");
        oc_xmlw_elem(r->xml, "resourceId", row.resource_id);
        oc_xmlw_elem(r->xml, "resourceType", row.resource_type);
        oc_xmlw_elem(r->xml, "key", row.tag.key);
        oc_xmlw_elem(r->xml, "value", row.tag.value);
        oc_xmlw_end(r->xml);
        last = row_page_key(r, &row);
        shown++;
    }
    sqlite3_reset(st);
    if (!more && rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list tags");
        return clc_internal(r, &err);
    }
    oc_xmlw_end(r->xml);
    if (more)
        clc_page_next(r, last);
    return CLC_OK;
}

const struct clc_action clc_tag_actions[] = {
    { "CreateTags", tags_create, 0 },
    { "DeleteTags", tags_delete, 0 },
    { "DescribeTags", tags_describe, CLC_ACTION_CACHEABLE },
    { NULL, NULL, 0 },
};
