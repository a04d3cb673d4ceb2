/*
 * images.c - EC2 images: DescribeImages, DeregisterImage and
 * Describe/Modify/ResetImageAttribute, the image row and its visibility
 * (see images.h); RegisterImage lives in images_register.c.
 *
 * An account sees its own images, public ones (launch permission group
 * `all`, is_public) and those with a launch permission for it
 * (image_launch_perms).  Images it cannot see are "not found"; images it
 * sees but does not own cannot be changed (AuthFailure, as EC2 answers
 * "Not authorized for image").
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clc/clusters.h"
#include "clc/identity.h"
#include "clc/images.h"
#include "common/icall.h"
#include "common/ids.h"
#include "common/log.h"

#define IMG_DESC_MAX 255
#define IMG_HYPERVISOR "kvm"

/* Arena-backed growth: doubling keeps the waste linear. */
static void *img_grow(struct oc_arena *a, void *old, size_t n, size_t *cap, size_t size)
{
    void *v;

    if (n < *cap)
        return old;
    *cap = *cap ? *cap * 2 : 8;
    v = oc_arena_calloc(a, *cap, size);
    if (n)
        memcpy(v, old, n * size);
    return v;
}

/* ------------------------------------------------------------------ */
/* ids */

static const struct {
    const char *in, *out;
} id_prefixes[] = {
    { "ami-", "ami-" }, { "aki-", "aki-" }, { "ari-", "ari-" },
    { "emi-", "ami-" }, { "eki-", "aki-" }, { "eri-", "ari-" },
};

const char *clc_image_id_canonical(struct clc_req *r, const char *id)
{
    for (size_t i = 0; i < sizeof(id_prefixes) / sizeof(id_prefixes[0]); i++) {
        const char *tail = id + 4;
        size_t n;
        char *out;

        if (strncmp(id, id_prefixes[i].in, 4) != 0)
            continue;
        n = strlen(tail);
        /* 8 hex digits (older ids, Eucalyptus's uppercase ones) or 17. */
        if ((n != 8 && n != 17) || strspn(tail, "0123456789abcdefABCDEF") != n)
            return NULL;
        out = oc_arena_printf(r->arena, "%s%s", id_prefixes[i].out, tail);
        for (char *c = out + 4; *c; c++)
            if (*c >= 'A' && *c <= 'F')
                *c = (char)(*c - 'A' + 'a');
        return out;
    }
    return NULL;
}

const char *clc_image_id_prefix(const char *type)
{
    if (strcmp(type, "kernel") == 0)
        return "aki";
    if (strcmp(type, "ramdisk") == 0)
        return "ari";
    return "ami";
}

/* ------------------------------------------------------------------ */
/* rows */

#define IMG_COLS                                                                           \
    "id, account_id, type, name, description, location, format, architecture, platform," \
    " root_device_name, root_device_type, virtualization_type, kernel_id, ramdisk_id,"    \
    " state, is_public, size_bytes, created, block_devices, digest, mc_ready"

static const char *img_col(struct oc_arena *a, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    return oc_arena_strdup(a, t ? (const char *)t : "");
}

static void img_from_row(struct oc_arena *a, sqlite3_stmt *st, struct clc_image *m)
{
    m->id = img_col(a, st, 0);
    m->account_id = img_col(a, st, 1);
    m->type = img_col(a, st, 2);
    m->name = img_col(a, st, 3);
    m->description = img_col(a, st, 4);
    m->location = img_col(a, st, 5);
    m->format = img_col(a, st, 6);
    m->architecture = img_col(a, st, 7);
    m->platform = img_col(a, st, 8);
    m->root_device_name = img_col(a, st, 9);
    m->root_device_type = img_col(a, st, 10);
    m->virtualization_type = img_col(a, st, 11);
    m->kernel_id = img_col(a, st, 12);
    m->ramdisk_id = img_col(a, st, 13);
    m->state = img_col(a, st, 14);
    m->is_public = sqlite3_column_int(st, 15);
    m->size_bytes = sqlite3_column_int64(st, 16);
    m->created = (time_t)sqlite3_column_int64(st, 17);
    m->block_devices = img_col(a, st, 18);
    m->digest = img_col(a, st, 19);
    m->mc_ready = img_col(a, st, 20);
}

int clc_image_load_visible(struct clc_req *r, const char *id, struct clc_image *out,
                           struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(
        r->db,
        "SELECT " IMG_COLS " FROM images WHERE id = ?1 AND (account_id = ?2 OR is_public = 1"
        " OR EXISTS (SELECT 1 FROM image_launch_perms p"
        "            WHERE p.image_id = images.id AND p.account_id = ?2))",
        err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->who.account_id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        img_from_row(r->arena, st, out);
        rc = OC_OK;
    } else if (rc == SQLITE_DONE) {
        rc = OC_ENOTFOUND;
    } else {
        rc = oc_db_fail(r->db, err, "load image");
    }
    sqlite3_reset(st);
    return rc;
}

/* Every image the caller (?1) may see with an id after ?2, by id. */
#define IMG_LIST_VISIBLE                                                                   \
    "SELECT " IMG_COLS " FROM images WHERE id > ?2 AND (account_id = ?1 OR is_public = 1" \
    " OR EXISTS (SELECT 1 FROM image_launch_perms p"                                      \
    "            WHERE p.image_id = images.id AND p.account_id = ?1)) ORDER BY id"

/* The accounts with an explicit launch permission, sorted. */
static int img_perms_load(struct clc_req *r, const char *image_id, const char ***out,
                          size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT account_id FROM image_launch_perms"
                                            " WHERE image_id = ? ORDER BY account_id",
                                     err);
    const char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, image_id, -1, SQLITE_TRANSIENT);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        v = img_grow(r->arena, v, cnt, &cap, sizeof(*v));
        v[cnt++] = img_col(r->arena, st, 0);
    }
    rc = rc == SQLITE_DONE ? OC_OK : oc_db_fail(r->db, err, "load launch permissions");
    sqlite3_reset(st);
    *out = v;
    *n = cnt;
    return rc;
}

/* ------------------------------------------------------------------ */
/* shared answers */

int clc_image_not_found(struct clc_req *r, const char *id)
{
    return clc_error(r, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id);
}

int clc_image_not_owner(struct clc_req *r, const char *id)
{
    if (r->dry_run)
        return clc_error(r, "UnauthorizedOperation",
                         "You are not authorized to perform this operation.");
    return clc_error(r, "AuthFailure", "Not authorized for image:%s", id);
}

static int img_malformed(struct clc_req *r, const char *id)
{
    return clc_error(r, "InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")",
                     id);
}

/* ImageId (required): the visible image it names. */
static int img_target(struct clc_req *r, struct clc_image *img)
{
    struct oc_err err = { 0 };
    const char *raw, *id;
    int rc;

    if (clc_param_required(r, "ImageId", &raw))
        return CLC_FAILED;
    id = clc_image_id_canonical(r, raw);
    if (!id)
        return img_malformed(r, raw);
    rc = clc_image_load_visible(r, id, img, &err);
    if (rc == OC_ENOTFOUND)
        return clc_image_not_found(r, raw);
    if (rc)
        return clc_internal(r, &err);
    return CLC_OK;
}

#define IMG_TIME_LEN 40

static const char *img_time_fmt(time_t t, char out[IMG_TIME_LEN])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, IMG_TIME_LEN, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    return out;
}

/* The manifest's mappings as EC2 lists them for instance-store images:
 * ephemeral and swap devices (the root is rootDeviceName). */
static void img_write_bdm(struct clc_req *r, const struct clc_image *m)
{
    struct oc_xmlw *w = r->xml;
    const char *p = m->block_devices;

    oc_xmlw_start(w, "blockDeviceMapping");
    while (*p) {
        const char *nl = strchr(p, '\n'), *eq;
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = oc_arena_strndup(r->arena, p, len);

        p += len + (nl ? 1 : 0);
        eq = strchr(line, '=');
        if (!eq)
            continue;
        line[eq - line] = '\0';
        if (strncmp(line, "ephemeral", 9) != 0 && strcmp(line, "swap") != 0)
            continue;
        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "deviceName", eq[1] == '/' ? eq + 1
                                                   : oc_arena_printf(r->arena, "/dev/%s", eq + 1));
        oc_xmlw_elem(w, "virtualName", line);
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
}

/* ------------------------------------------------------------------ */
/* DescribeImages */

static const char *const img_filter_names[] = {
    "architecture", "block-device-mapping.device-name", "creation-date", "description",
    "hypervisor", "image-id", "image-type", "is-public", "kernel-id", "manifest-location",
    "name", "owner-alias", "owner-id", "platform", "product-code", "ramdisk-id",
    "root-device-name", "root-device-type", "state", "virtualization-type",
    NULL,
};

static void img_attr(void *p, const char *name, struct clc_values *vals)
{
    const struct clc_image *m = p;

    char when[IMG_TIME_LEN];

    if (strcmp(name, "architecture") == 0)
        clc_values_add(vals, m->architecture);
    else if (strcmp(name, "creation-date") == 0)
        clc_values_add(vals, img_time_fmt(m->created, when));
    else if (strcmp(name, "description") == 0)
        clc_values_add(vals, m->description);
    else if (strcmp(name, "hypervisor") == 0)
        clc_values_add(vals, IMG_HYPERVISOR);
    else if (strcmp(name, "image-id") == 0)
        clc_values_add(vals, m->id);
    else if (strcmp(name, "image-type") == 0)
        clc_values_add(vals, m->type);
    else if (strcmp(name, "is-public") == 0)
        clc_values_add(vals, m->is_public ? "true" : "false");
    else if (strcmp(name, "kernel-id") == 0 && *m->kernel_id)
        clc_values_add(vals, m->kernel_id);
    else if (strcmp(name, "manifest-location") == 0)
        clc_values_add(vals, m->location);
    else if (strcmp(name, "name") == 0)
        clc_values_add(vals, m->name);
    else if (strcmp(name, "owner-id") == 0)
        clc_values_add(vals, m->account_id);
    else if (strcmp(name, "platform") == 0 && *m->platform)
        clc_values_add(vals, m->platform);
    else if (strcmp(name, "ramdisk-id") == 0 && *m->ramdisk_id)
        clc_values_add(vals, m->ramdisk_id);
    else if (strcmp(name, "root-device-name") == 0)
        clc_values_add(vals, m->root_device_name);
    else if (strcmp(name, "root-device-type") == 0)
        clc_values_add(vals, m->root_device_type);
    else if (strcmp(name, "state") == 0)
        clc_values_add(vals, m->state);
    else if (strcmp(name, "virtualization-type") == 0)
        clc_values_add(vals, m->virtualization_type);
    else if (strcmp(name, "block-device-mapping.device-name") == 0)
        clc_values_add(vals, m->root_device_name);
    /* owner-alias and product-code: none of our images has one. */
}

static void img_write(struct clc_req *r, const struct clc_image *m,
                      const struct clc_tagset *tags)
{
    struct oc_xmlw *w = r->xml;
    char when[IMG_TIME_LEN];

    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "imageId", m->id);
    oc_xmlw_elem(w, "imageLocation", m->location);
    oc_xmlw_elem(w, "imageState", m->state);
    oc_xmlw_elem(w, "imageOwnerId", m->account_id);
    oc_xmlw_elem(w, "creationDate", img_time_fmt(m->created, when));
    oc_xmlw_elem(w, "isPublic", m->is_public ? "true" : "false");
    oc_xmlw_elem(w, "architecture", m->architecture);
    oc_xmlw_elem(w, "imageType", m->type);
    if (*m->kernel_id)
        oc_xmlw_elem(w, "kernelId", m->kernel_id);
    if (*m->ramdisk_id)
        oc_xmlw_elem(w, "ramdiskId", m->ramdisk_id);
    if (*m->platform)
        oc_xmlw_elem(w, "platform", m->platform);
    oc_xmlw_elem(w, "platformDetails", *m->platform ? "Windows" : "Linux/UNIX");
    oc_xmlw_elem(w, "usageOperation", *m->platform ? "RunInstances:0002" : "RunInstances");
    oc_xmlw_elem(w, "name", m->name);
    if (*m->description)
        oc_xmlw_elem(w, "description", m->description);
    oc_xmlw_elem(w, "rootDeviceType", m->root_device_type);
    oc_xmlw_elem(w, "rootDeviceName", m->root_device_name);
    img_write_bdm(r, m);
    oc_xmlw_elem(w, "virtualizationType", m->virtualization_type);
    clc_tags_write(r, tags);
    oc_xmlw_elem(w, "hypervisor", IMG_HYPERVISOR);
    oc_xmlw_end(w);
}

/* Owner.N: accounts (12 digits or an account name), `self`; `amazon` and
 * `aws-marketplace` name owners that have no images here. */
static int img_owners(struct clc_req *r, const char ***owners, size_t *n)
{
    const char **v;
    size_t cnt;

    if (clc_param_list(r, "Owner", &v, &cnt))
        return CLC_FAILED;
    for (size_t i = 0; i < cnt; i++) {
        struct clc_account acct;
        struct oc_err err = { 0 };
        int rc;

        if (strcmp(v[i], "self") == 0) {
            v[i] = r->who.account_id;
            continue;
        }
        if (strcmp(v[i], "amazon") == 0 || strcmp(v[i], "aws-marketplace") == 0 ||
            (strlen(v[i]) == 12 && strspn(v[i], "0123456789") == 12))
            continue;
        rc = clc_account_find(r->db, v[i], &acct, &err);
        if (rc == OC_ENOTFOUND)
            return clc_error(r, "InvalidUserID.Malformed", "Invalid user id: \"%s\"", v[i]);
        if (rc)
            return clc_internal(r, &err);
        v[i] = oc_arena_strdup(r->arena, acct.id);
    }
    *owners = v;
    *n = cnt;
    return CLC_OK;
}

/* ExecutableBy.N: `self`, `all` or account ids. */
static int img_exec_by(struct clc_req *r, const char ***out, size_t *n)
{
    const char **v;
    size_t cnt;

    if (clc_param_list(r, "ExecutableBy", &v, &cnt))
        return CLC_FAILED;
    for (size_t i = 0; i < cnt; i++) {
        if (strcmp(v[i], "self") == 0)
            v[i] = r->who.account_id;
        else if (strcmp(v[i], "all") != 0 &&
                 !(strlen(v[i]) == 12 && strspn(v[i], "0123456789") == 12))
            return clc_error(r, "InvalidUserID.Malformed", "Invalid user id: \"%s\"", v[i]);
    }
    *out = v;
    *n = cnt;
    return CLC_OK;
}

/* Whether image m is executable by one of `who` (caller's id stands for
 * self: own images and those shared with it). */
static int img_matches_exec(struct clc_req *r, const struct clc_image *m, const char **who,
                            size_t n, int *match)
{
    const char **perms = NULL;
    size_t np = 0;
    struct oc_err err = { 0 };
    int loaded = 0;

    *match = 0;
    for (size_t i = 0; i < n && !*match; i++) {
        if (strcmp(who[i], "all") == 0) {
            *match = m->is_public;
            continue;
        }
        if (strcmp(who[i], r->who.account_id) == 0 &&
            strcmp(m->account_id, r->who.account_id) == 0) {
            *match = 1;
            continue;
        }
        if (!loaded) {
            if (img_perms_load(r, m->id, &perms, &np, &err))
                return clc_internal(r, &err);
            loaded = 1;
        }
        *match = clc_in_list(who[i], perms, np);
    }
    return CLC_OK;
}

/* What DescribeImages keeps besides filters: ids, owners, executable-by. */
struct img_select {
    const char **ids, **owners, **exec;
    size_t nids, nowners, nexec;
};

static const char *img_row_id(const void *row)
{
    return ((const struct clc_image *)row)->id;
}

static int img_keep(struct clc_req *r, const void *row, void *ctx)
{
    const struct clc_image *m = row;
    const struct img_select *sel = ctx;
    int exec_ok = 1;

    if (sel->nids && !clc_in_list(m->id, sel->ids, sel->nids))
        return 0;
    if (sel->nowners && !clc_in_list(m->account_id, sel->owners, sel->nowners))
        return 0;
    if (sel->nexec && img_matches_exec(r, m, sel->exec, sel->nexec, &exec_ok))
        return -1;
    return exec_ok;
}

static void img_write_row(struct clc_req *r, const void *row, const struct clc_tagset *tags,
                          void *ctx)
{
    (void)ctx;
    img_write(r, row, tags);
}

static void img_fill(struct oc_arena *a, sqlite3_stmt *st, void *row)
{
    img_from_row(a, st, row);
}

static int img_describe(struct clc_req *r)
{
    const char **raw_ids = NULL;
    struct img_select sel = { 0 };
    size_t nrows = 0;
    struct clc_filters *filters = NULL;
    struct clc_page page = { 0 };
    struct clc_image *rows = NULL;
    struct oc_err err = { 0 };
    struct clc_describe d = {
        .set_name = "imagesSet", .tag_type = "image", .row_size = sizeof(struct clc_image),
        .id = img_row_id, .keep = img_keep, .attr = img_attr, .page = &page,
        .write = img_write_row,
    };
    int unused;

    if (clc_param_list(r, "ImageId", &raw_ids, &sel.nids) ||
        img_owners(r, &sel.owners, &sel.nowners) || img_exec_by(r, &sel.exec, &sel.nexec) ||
        clc_param_bool(r, "IncludeDeprecated", 0, &unused) ||
        clc_param_bool(r, "IncludeDisabled", 0, &unused))
        return CLC_FAILED;
    sel.ids = oc_arena_calloc(r->arena, sel.nids ? sel.nids : 1, sizeof(*sel.ids));
    for (size_t i = 0; i < sel.nids; i++) {
        sel.ids[i] = clc_image_id_canonical(r, raw_ids[i]);
        if (!sel.ids[i])
            return img_malformed(r, raw_ids[i]);
    }
    if (clc_filters_parse(r, img_filter_names, &filters) ||
        clc_page_parse(r, 5, 1000, sel.nids > 0, &page))
        return CLC_FAILED;
    /* Every image named must be one the caller may see. */
    for (size_t i = 0; i < sel.nids; i++) {
        struct clc_image one;
        int rc = clc_image_load_visible(r, sel.ids[i], &one, &err);

        if (rc == OC_ENOTFOUND)
            return clc_image_not_found(r, raw_ids[i]);
        if (rc)
            return clc_internal(r, &err);
    }
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (clc_describe_rows(r, IMG_LIST_VISIBLE, page.limited ? page.after : NULL, img_fill,
                          sizeof(*rows), (void **)&rows, &nrows))
        return CLC_FAILED;
    d.rows = rows;
    d.nrows = nrows;
    d.filters = filters;
    return clc_describe_run(r, &d, &sel);
}

/* ------------------------------------------------------------------ */
/* DeregisterImage */

static int img_exec(struct clc_req *r, const char *sql, const char *a1, const char *a2,
                    struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(r->db, sql, err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, a1, -1, SQLITE_TRANSIENT);
    if (a2)
        sqlite3_bind_text(st, 2, a2, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? OC_OK : oc_db_fail(r->db, err, "update images");
}

/* Every cluster is told a MacroComponent image is gone (ccDropImage), so
 * its nodes remove the templates no fork uses.  Best effort: a cluster
 * that cannot be reached keeps them (logged). */
static void img_drop_templates(struct clc_req *r, const char *image_id)
{
    struct clc_cluster *cls = NULL;
    size_t ncl = 0;
    struct oc_err err = { 0 };
    struct oc_kv p[] = { { "ImageId", image_id, 1 } };

    if (clc_clusters_list(r->db, r->arena, &cls, &ncl, &err)) {
        oc_log(OC_LOG_WARN, "image %s: clusters: %s", image_id, err.msg);
        return;
    }
    for (size_t k = 0; k < ncl; k++) {
        struct oc_icall res;

        if (clc_cc_call(r->clc, &cls[k], "ccDropImage", p, 1, &res, NULL, &err) == OC_OK)
            oc_icall_free(&res);
        else
            oc_log(OC_LOG_WARN, "image %s: cluster %s keeps its templates: %s", image_id,
                   cls[k].name, err.msg);
    }
}

static int img_deregister(struct clc_req *r)
{
    struct clc_image img;
    struct oc_err err = { 0 };
    int rc;

    if (img_target(r, &img))
        return CLC_FAILED;
    if (strcmp(img.account_id, r->who.account_id) != 0)
        return clc_image_not_owner(r, img.id);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    rc = img_exec(r, "DELETE FROM image_launch_perms WHERE image_id = ?", img.id, NULL, &err);
    if (rc == OC_OK)
        rc = img_exec(r, "DELETE FROM images WHERE id = ?", img.id, NULL, &err);
    if (rc == OC_OK && clc_tags_drop(r, img.id)) {
        oc_db_rollback(r->db);
        return CLC_FAILED;
    }
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    if (*img.mc_ready)
        img_drop_templates(r, img.id);
    return clc_reply_return_true(r);
}

/* ------------------------------------------------------------------ */
/* image attributes */

static void img_write_value(struct clc_req *r, const char *elem, const char *value)
{
    oc_xmlw_start(r->xml, elem);
    if (value && *value)
        oc_xmlw_elem(r->xml, "value", value);
    oc_xmlw_end(r->xml);
}

static int img_describe_attribute(struct clc_req *r)
{
    static const char *const empty_attrs[] = {
        "productCodes", "sriovNetSupport", "bootMode", "tpmSupport", "uefiData",
        "lastLaunchedTime", "imdsSupport", "deregistrationProtection",
    };
    struct clc_image img;
    const char *attr;
    int owner;

    if (clc_param_required(r, "Attribute", &attr) || img_target(r, &img))
        return CLC_FAILED;
    owner = strcmp(img.account_id, r->who.account_id) == 0;
    if (strcmp(attr, "launchPermission") == 0 && !owner)
        return clc_image_not_owner(r, img.id);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (strcmp(attr, "launchPermission") == 0) {
        const char **perms;
        size_t np;
        struct oc_err err = { 0 };

        if (img_perms_load(r, img.id, &perms, &np, &err))
            return clc_internal(r, &err);
        clc_reply_begin(r);
        oc_xmlw_elem(r->xml, "imageId", img.id);
        oc_xmlw_start(r->xml, "launchPermission");
        if (img.is_public) {
            oc_xmlw_start(r->xml, "item");
            oc_xmlw_elem(r->xml, "group", "all");
            oc_xmlw_end(r->xml);
        }
        for (size_t i = 0; i < np; i++) {
            oc_xmlw_start(r->xml, "item");
            oc_xmlw_elem(r->xml, "userId", perms[i]);
            oc_xmlw_end(r->xml);
        }
        oc_xmlw_end(r->xml);
        return CLC_OK;
    }
    if (strcmp(attr, "description") == 0 || strcmp(attr, "kernel") == 0 ||
        strcmp(attr, "ramdisk") == 0) {
        clc_reply_begin(r);
        oc_xmlw_elem(r->xml, "imageId", img.id);
        img_write_value(r, attr, attr[0] == 'd' ? img.description
                                 : attr[0] == 'k' ? img.kernel_id : img.ramdisk_id);
        return CLC_OK;
    }
    if (strcmp(attr, "blockDeviceMapping") == 0) {
        clc_reply_begin(r);
        oc_xmlw_elem(r->xml, "imageId", img.id);
        img_write_bdm(r, &img);
        return CLC_OK;
    }
    if (strcmp(attr, "macroComponent") == 0) {
        clc_reply_begin(r);
        oc_xmlw_elem(r->xml, "imageId", img.id);
        img_write_value(r, attr, *img.mc_ready ? img.mc_ready : "false");
        return CLC_OK;
    }
    for (size_t i = 0; i < sizeof(empty_attrs) / sizeof(empty_attrs[0]); i++)
        if (strcmp(attr, empty_attrs[i]) == 0) {
            clc_reply_begin(r);
            oc_xmlw_elem(r->xml, "imageId", img.id);
            oc_xmlw_start(r->xml, attr);
            oc_xmlw_end(r->xml);
            return CLC_OK;
        }
    return clc_error(r, "InvalidParameterValue",
                     "Value (%s) for parameter attribute is invalid. Unknown attribute.", attr);
}

/* "true" (the default marker), "false" or a ready point, as stored. */
int clc_image_mc_value(struct clc_req *r, const char *type, const char **v)
{
    if (strcmp(type, "machine") != 0)
        return clc_error(r, "InvalidParameterValue",
                         "Only machine images can be MacroComponents");
    if (strcmp(*v, "true") == 0)
        *v = CLC_MC_READY_DEFAULT;
    else if (strcmp(*v, "false") == 0)
        *v = "";
    else if (!oc_valid_mc_ready(*v))
        return clc_error(r, "InvalidParameterValue",
                         "Value (%.64s) for MacroComponent is invalid: true, false, a console "
                         "marker of [A-Za-z0-9_.:-] (at most 63) or +<seconds> (1-3600)", *v);
    return CLC_OK;
}

/* The launch permission changes of one ModifyImageAttribute. */
struct lp_change {
    const char **add, **remove;       /* account ids */
    size_t nadd, nremove, cap_add, cap_remove;
    int add_all, remove_all;
};

static int lp_bad_item(struct clc_req *r, const char *what, const char *value)
{
    return clc_error(r, "InvalidAMIAttributeItemValue",
                     "Invalid attribute item value \"%s\" for %s item type.", value, what);
}

static int lp_add_user(struct clc_req *r, struct lp_change *c, int remove, const char *user)
{
    struct clc_account acct;
    struct oc_err err = { 0 };
    int rc;

    if (strlen(user) != 12 || strspn(user, "0123456789") != 12)
        return lp_bad_item(r, "userId", user);
    rc = clc_account_find(r->db, user, &acct, &err);
    if (rc == OC_ENOTFOUND)
        return lp_bad_item(r, "userId", user);
    if (rc)
        return clc_internal(r, &err);
    if (remove) {
        c->remove = img_grow(r->arena, c->remove, c->nremove, &c->cap_remove, sizeof(char *));
        c->remove[c->nremove++] = user;
    } else {
        c->add = img_grow(r->arena, c->add, c->nadd, &c->cap_add, sizeof(char *));
        c->add[c->nadd++] = user;
    }
    return CLC_OK;
}

static int lp_add_group(struct clc_req *r, struct lp_change *c, int remove, const char *group)
{
    if (strcmp(group, "all") != 0)
        return lp_bad_item(r, "group", group);
    if (remove)
        c->remove_all = 1;
    else
        c->add_all = 1;
    return CLC_OK;
}

/*
 * LaunchPermission.{Add,Remove}.N.{UserId,Group} (awscli, boto3) and the
 * flat Attribute=launchPermission OperationType=add|remove UserId.N
 * UserGroup.N form (boto2, older tools).  *any is set when either appeared.
 */
static int lp_parse(struct clc_req *r, struct lp_change *c, int *any)
{
    const struct oc_query *q = r->params;
    const char *attr = clc_param(r, "Attribute"), *op = clc_param(r, "OperationType");
    const char **users, **groups;
    size_t nusers, ngroups;

    for (size_t i = 0; i < q->n; i++) {
        const char *name = q->items[i].name, *rest, *dot;
        int remove;

        if (strncmp(name, "LaunchPermission.Add.", 21) == 0) {
            rest = name + 21;
            remove = 0;
        } else if (strncmp(name, "LaunchPermission.Remove.", 24) == 0) {
            rest = name + 24;
            remove = 1;
        } else {
            continue;
        }
        *any = 1;
        dot = strchr(rest, '.');
        if (!dot || dot == rest || (size_t)(dot - rest) != strspn(rest, "0123456789"))
            return clc_error(r, "InvalidParameterValue", "The parameter %s is not valid",
                             name);
        if (strcmp(dot, ".UserId") == 0) {
            if (lp_add_user(r, c, remove, q->items[i].value))
                return CLC_FAILED;
        } else if (strcmp(dot, ".Group") == 0) {
            if (lp_add_group(r, c, remove, q->items[i].value))
                return CLC_FAILED;
        } else {
            return clc_error(r, "InvalidParameterValue",
                             "The parameter %s is not supported here (launch permissions "
                             "name accounts or the group all)", name);
        }
    }
    if (clc_param_list(r, "UserId", &users, &nusers) ||
        clc_param_list(r, "UserGroup", &groups, &ngroups))
        return CLC_FAILED;
    if (!(attr && strcmp(attr, "launchPermission") == 0)) {
        if (nusers + ngroups)
            return clc_error(r, "InvalidParameterCombination",
                             "UserId and UserGroup need Attribute=launchPermission");
        return CLC_OK;
    }
    *any = 1;
    if (!op || (strcmp(op, "add") != 0 && strcmp(op, "remove") != 0))
        return clc_error(r, "InvalidParameterValue",
                         "Value (%s) for parameter OperationType is invalid. Expected: 'add' "
                         "or 'remove'.", op ? op : "");
    if (nusers + ngroups == 0)
        return clc_error(r, "MissingParameter",
                         "The request must contain the parameter UserId or UserGroup");
    for (size_t i = 0; i < nusers; i++)
        if (lp_add_user(r, c, op[0] == 'r', users[i]))
            return CLC_FAILED;
    for (size_t i = 0; i < ngroups; i++)
        if (lp_add_group(r, c, op[0] == 'r', groups[i]))
            return CLC_FAILED;
    return CLC_OK;
}

static int lp_apply(struct clc_req *r, const struct clc_image *img, const struct lp_change *c,
                    struct oc_err *err)
{
    int rc = OC_OK;

    for (size_t i = 0; i < c->nadd && rc == OC_OK; i++)
        if (strcmp(c->add[i], img->account_id) != 0)
            rc = img_exec(r, "INSERT OR IGNORE INTO image_launch_perms (image_id, account_id)"
                             " VALUES (?, ?)", img->id, c->add[i], err);
    for (size_t i = 0; i < c->nremove && rc == OC_OK; i++)
        rc = img_exec(r, "DELETE FROM image_launch_perms WHERE image_id = ? AND account_id = ?",
                      img->id, c->remove[i], err);
    if (rc == OC_OK && c->add_all)
        rc = img_exec(r, "UPDATE images SET is_public = 1 WHERE id = ?", img->id, NULL, err);
    if (rc == OC_OK && c->remove_all)
        rc = img_exec(r, "UPDATE images SET is_public = 0 WHERE id = ?", img->id, NULL, err);
    return rc;
}

static int img_modify_attribute(struct clc_req *r)
{
    struct lp_change lp = { 0 };
    struct clc_image img;
    struct oc_err err = { 0 };
    const char *attr = clc_param(r, "Attribute"), *desc = clc_param(r, "Description.Value");
    const char *mc = clc_param(r, "MacroComponent.Value");
    const char **codes;
    size_t ncodes;
    int any = 0, rc;

    if (img_target(r, &img))
        return CLC_FAILED;
    if (attr && strcmp(attr, "description") == 0) {
        desc = clc_param(r, "Value");
        if (!desc)
            return clc_error(r, "MissingParameter", "The request must contain the parameter "
                                                    "Value");
    } else if (attr && strcmp(attr, "macroComponent") == 0) {
        mc = clc_param(r, "Value");
        if (!mc)
            return clc_error(r, "MissingParameter", "The request must contain the parameter "
                                                    "Value");
    } else if (attr && (strcmp(attr, "kernel") == 0 || strcmp(attr, "ramdisk") == 0 ||
                        strcmp(attr, "productCodes") == 0 ||
                        strcmp(attr, "blockDeviceMapping") == 0)) {
        return clc_error(r, "InvalidParameterValue",
                         "The %s attribute of an image cannot be modified", attr);
    } else if (attr && strcmp(attr, "launchPermission") != 0) {
        return clc_error(r, "InvalidParameterValue",
                         "Value (%s) for parameter attribute is invalid. Unknown attribute.",
                         attr);
    }
    if (clc_param_list(r, "ProductCode", &codes, &ncodes))
        return CLC_FAILED;
    if (ncodes)
        return clc_error(r, "InvalidParameterValue", "Product codes are not supported");
    if (lp_parse(r, &lp, &any))
        return CLC_FAILED;
    if (!any && !desc && !mc)
        return clc_error(r, "MissingParameter",
                         "The request must contain the parameter Attribute");
    if (mc && clc_image_mc_value(r, img.type, &mc))
        return CLC_FAILED;
    if (desc && strlen(desc) > IMG_DESC_MAX)
        return clc_error(r, "InvalidParameterValue",
                         "The description is longer than %d characters", IMG_DESC_MAX);
    if (strcmp(img.account_id, r->who.account_id) != 0)
        return clc_image_not_owner(r, img.id);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    rc = lp_apply(r, &img, &lp, &err);
    if (rc == OC_OK && desc)
        rc = img_exec(r, "UPDATE images SET description = ?2 WHERE id = ?1", img.id, desc,
                      &err);
    if (rc == OC_OK && mc)
        rc = img_exec(r, "UPDATE images SET mc_ready = ?2, macrocomponent = (?2 != '')"
                         " WHERE id = ?1", img.id, mc, &err);
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    if (mc && *img.mc_ready && strcmp(mc, img.mc_ready) != 0)
        img_drop_templates(r, img.id);   /* off, or another ready point */
    return clc_reply_return_true(r);
}

static int img_reset_attribute(struct clc_req *r)
{
    struct clc_image img;
    struct oc_err err = { 0 };
    const char *attr;
    int rc;

    if (clc_param_required(r, "Attribute", &attr) || img_target(r, &img))
        return CLC_FAILED;
    if (strcmp(attr, "launchPermission") != 0)
        return clc_error(r, "InvalidParameterValue",
                         "Value (%s) for parameter attribute is invalid. Only "
                         "launchPermission can be reset.", attr);
    if (strcmp(img.account_id, r->who.account_id) != 0)
        return clc_image_not_owner(r, img.id);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    rc = img_exec(r, "DELETE FROM image_launch_perms WHERE image_id = ?", img.id, NULL, &err);
    if (rc == OC_OK)
        rc = img_exec(r, "UPDATE images SET is_public = 0 WHERE id = ?", img.id, NULL, &err);
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    return clc_reply_return_true(r);
}

const struct clc_action clc_image_actions[] = {
    { "RegisterImage", clc_image_register, CLC_ACTION_CALLS_OUT },
    { "DescribeImages", img_describe, CLC_ACTION_CACHEABLE },
    { "DeregisterImage", img_deregister, CLC_ACTION_CALLS_OUT },
    { "DescribeImageAttribute", img_describe_attribute, CLC_ACTION_CACHEABLE },
    { "ModifyImageAttribute", img_modify_attribute, CLC_ACTION_CALLS_OUT },
    { "ResetImageAttribute", img_reset_attribute, 0 },
    { NULL, NULL, 0 },
};
