/*
 * images_register.c - RegisterImage from an object in Walrus.
 *
 * ImageLocation=bucket/key names either
 *   (a) a bundle manifest (key ending in ".manifest.xml"): fetched, parsed
 *       (euca-compat/manifest.h), its signature checked against the active
 *       signing certificates of the caller's account (IAM
 *       UploadSigningCertificate), and every part object checked to exist
 *       beside it; the manifest text is stored for the node controllers; or
 *   (b) a plain disk image, an Overcast extension: raw or qcow2 (told by
 *       the qcow2 magic "QFI\xfb" in its first bytes).
 * Either way the caller must own the bucket or the object, or be granted
 * READ on it (the eucalyptus account may use any object, as Walrus lets it).
 *
 * Parameters as EC2: Name (required for plain objects, else the manifest's
 * image name), Description, Architecture (i386 | x86_64 | arm64; default
 * the manifest's or x86_64), KernelId / RamdiskId (registered kernel and
 * ramdisk images the caller may launch; default the manifest's),
 * RootDeviceName (/dev/sda1), VirtualizationType (paravirtual with a
 * kernel, else hvm), TagSpecification.N.  Overcast extension: ImageType=
 * machine | kernel | ramdisk says what a plain object is (default
 * machine); for a bundle it must agree with the manifest.
 */
#include <string.h>

#include "clc/images.h"
#include "common/ids.h"
#include "euca-compat/manifest.h"

#define REG_NAME_MIN 3
#define REG_NAME_MAX 128
#define REG_DESC_MAX 255
#define REG_LOCATION_MAX 1100

struct reg {
    const char *location, *bucket, *key;
    int bundle;
    const char *name, *description, *architecture, *type, *kernel_id, *ramdisk_id;
    const char *root_device_name, *virtualization_type, *format, *digest;
    const char *manifest_text, *block_devices;
    const char *mc_ready;      /* MacroComponent ready point, NULL = ordinary */
    long long size;
};

/* ------------------------------------------------------------------ */
/* parameter checks */

static int reg_name_ok(const char *name)
{
    size_t n = strlen(name);

    return n >= REG_NAME_MIN && n <= REG_NAME_MAX &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                        "()[] ./-'@_") == n;
}

static int reg_one_of(const char *v, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(v, *set) == 0)
            return 1;
    return 0;
}

static const char *const reg_arches[] = { "i386", "x86_64", "arm64", NULL };
static const char *const reg_types[] = { "machine", "kernel", "ramdisk", NULL };
static const char *const reg_virt[] = { "paravirtual", "hvm", NULL };

static int reg_bad_value(struct clc_req *r, const char *param, const char *value,
                         const char *expected)
{
    return clc_error(r, "InvalidParameterValue",
                     "Value (%s) for parameter %s is invalid. %s", value, param, expected);
}

static int reg_params(struct clc_req *r, struct reg *g)
{
    const char *loc, *slash, *rdn, *bdm = NULL;

    if (clc_param_required(r, "ImageLocation", &loc))
        return CLC_FAILED;
    for (size_t i = 0; i < r->params->n; i++)
        if (strncmp(r->params->items[i].name, "BlockDeviceMapping.", 19) == 0)
            bdm = r->params->items[i].name;
    if (bdm)
        return clc_error(r, "InvalidParameterCombination",
                         "BlockDeviceMapping is not supported: images registered from Walrus "
                         "are instance-store images (%s)", bdm);
    while (*loc == '/')
        loc++;
    slash = strchr(loc, '/');
    if (strlen(loc) > REG_LOCATION_MAX || !slash || slash == loc || !slash[1])
        return reg_bad_value(r, "ImageLocation", loc, "Expected: bucket/key of an object.");
    g->location = loc;
    g->bucket = oc_arena_strndup(r->arena, loc, (size_t)(slash - loc));
    g->key = slash + 1;
    g->bundle = strlen(g->key) > 13 &&
                strcmp(g->key + strlen(g->key) - 13, ".manifest.xml") == 0;

    g->name = clc_param(r, "Name");
    if (g->name && !reg_name_ok(g->name))
        return clc_error(r, "InvalidAMIName.Malformed",
                         "AMI names must be between 3 and 128 characters long, and may contain "
                         "letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', '@', '\\'' "
                         "and spaces");
    if (!g->name && !g->bundle)
        return clc_error(r, "MissingParameter", "The request must contain the parameter Name");
    g->description = clc_param(r, "Description");
    if (g->description && strlen(g->description) > REG_DESC_MAX)
        return clc_error(r, "InvalidParameterValue",
                         "The description is longer than %d characters", REG_DESC_MAX);
    g->architecture = clc_param(r, "Architecture");
    if (g->architecture && !reg_one_of(g->architecture, reg_arches))
        return reg_bad_value(r, "Architecture", g->architecture,
                             "Expected: i386, x86_64 or arm64.");
    g->type = clc_param(r, "ImageType");
    if (g->type && !reg_one_of(g->type, reg_types))
        return reg_bad_value(r, "ImageType", g->type, "Expected: machine, kernel or ramdisk.");
    g->virtualization_type = clc_param(r, "VirtualizationType");
    if (g->virtualization_type && !reg_one_of(g->virtualization_type, reg_virt))
        return reg_bad_value(r, "VirtualizationType", g->virtualization_type,
                             "Expected: paravirtual or hvm.");
    rdn = clc_param(r, "RootDeviceName");
    if (rdn && (strncmp(rdn, "/dev/", 5) != 0 || strlen(rdn) > 32 || !rdn[5] ||
                strspn(rdn + 5, "abcdefghijklmnopqrstuvwxyz0123456789") != strlen(rdn + 5)))
        return reg_bad_value(r, "RootDeviceName", rdn, "Expected a device such as /dev/sda1.");
    g->root_device_name = rdn ? rdn : "/dev/sda1";
    g->kernel_id = clc_param(r, "KernelId");
    g->ramdisk_id = clc_param(r, "RamdiskId");
    if (g->kernel_id && !*g->kernel_id)
        g->kernel_id = NULL;
    if (g->ramdisk_id && !*g->ramdisk_id)
        g->ramdisk_id = NULL;
    /* Overcast's extension: MacroComponent=true|false|<ready point>, and
     * MacroComponentReady=<ready point> (which implies true). */
    g->mc_ready = clc_param(r, "MacroComponentReady");
    if (!g->mc_ready)
        g->mc_ready = clc_param(r, "MacroComponent");
    if (g->mc_ready && clc_image_mc_value(r, g->type ? g->type : "machine", &g->mc_ready))
        return CLC_FAILED;
    return clc_tags_check_spec(r, "image");
}

/* KernelId / RamdiskId: a registered image of that type the caller may
 * launch; *id becomes its canonical id. */
static int reg_boot_image(struct clc_req *r, const char *param, const char *want_type,
                          const char **id)
{
    const char *canon = clc_image_id_canonical(r, *id);
    struct clc_image img;
    struct oc_err err = { 0 };
    int rc;

    if (!canon)
        return reg_bad_value(r, param, *id, "Expected an image id.");
    rc = clc_image_load_visible(r, canon, &img, &err);
    if (rc == OC_ENOTFOUND)
        return clc_image_not_found(r, *id);
    if (rc)
        return clc_internal(r, &err);
    if (strcmp(img.type, want_type) != 0)
        return reg_bad_value(r, param, *id,
                             oc_arena_printf(r->arena, "The image is a %s image, not a %s "
                                                       "image.", img.type, want_type));
    *id = canon;
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* Walrus */

static int reg_walrus_fail(struct clc_req *r, const struct reg *g, int rc,
                           const struct oc_err *err)
{
    if (rc == OC_ENOTFOUND)
        return g->bundle ? clc_error(r, "InvalidManifest",
                                     "The manifest %s does not exist", g->location)
                         : clc_error(r, "InvalidParameterValue",
                                     "The object %s does not exist", g->location);
    return clc_internal(r, err);
}

/* The caller may read the object (or is the eucalyptus account). */
static int reg_check_access(struct clc_req *r, struct clc_walrus *w, const struct reg *g)
{
    struct oc_err err = { 0 };
    int allowed = 0, rc;

    if (clc_is_admin(r))
        return CLC_OK;
    rc = clc_walrus_may_read(w, g->bucket, g->key, r->who.account_id, &allowed, &err);
    if (rc)
        return reg_walrus_fail(r, g, rc, &err);
    if (!allowed) {
        if (r->dry_run)
            return clc_error(r, "UnauthorizedOperation",
                             "You are not authorized to perform this operation.");
        return clc_error(r, "AuthFailure", "Not authorized to read %s: the bucket and the "
                                           "object belong to another account", g->location);
    }
    return CLC_OK;
}

/* The active signing certificates of the caller's account, one at a time,
 * until one verifies the manifest: CLC_OK or an InvalidManifest answer. */
static int reg_verify(struct clc_req *r, const struct euca_manifest *m)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT pem FROM signing_certs"
                                            " WHERE account_id = ? AND active = 1"
                                            " ORDER BY created, id",
                                     &err);
    int rc = SQLITE_DONE, ok = 0, ncerts = 0;

    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_TRANSIENT);
    while (!ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *pem = (const char *)sqlite3_column_text(st, 0);
        struct oc_err verr = { 0 };

        ncerts++;
        if (pem && euca_manifest_verify(m, pem, strlen(pem), &verr) == OC_OK)
            ok = 1;
    }
    if (!ok && rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list signing certificates");
        sqlite3_reset(st);
        return clc_internal(r, &err);
    }
    sqlite3_reset(st);
    if (ok)
        return CLC_OK;
    if (ncerts == 0)
        return clc_error(r, "InvalidManifest",
                         "The manifest signature cannot be checked: account %s has no active "
                         "signing certificate (iam upload-signing-certificate)",
                         r->who.account_id);
    return clc_error(r, "InvalidManifest",
                     "The manifest signature does not verify against any active signing "
                     "certificate of account %s", r->who.account_id);
}

/* "virtual=device\n" lines of the manifest's mappings. */
static const char *reg_mappings(struct clc_req *r, const struct euca_manifest *m)
{
    const char *s = "";

    for (size_t i = 0; i < m->nmappings; i++)
        s = oc_arena_printf(r->arena, "%s%s=%s\n", s, m->mappings[i].virtual_name,
                            m->mappings[i].device);
    return s;
}

static int reg_bundle(struct clc_req *r, struct clc_walrus *w, struct reg *g,
                      const struct clc_walrus_object *obj)
{
    struct oc_buf text = { 0 };
    struct euca_manifest m;
    struct oc_err err = { 0 };
    const char *slash = strrchr(g->key, '/');
    const char *dir = slash ? oc_arena_strndup(r->arena, g->key, (size_t)(slash - g->key + 1))
                            : "";
    int rc;

    if (obj->size > EUCA_MANIFEST_MAX_BYTES)
        return clc_error(r, "InvalidManifest", "The manifest %s is larger than %u bytes",
                         g->location, EUCA_MANIFEST_MAX_BYTES);
    rc = clc_walrus_get(w, g->bucket, g->key, EUCA_MANIFEST_MAX_BYTES, &text, &err);
    if (rc) {
        oc_buf_free(&text);
        if (rc == OC_ETOOBIG)
            return clc_error(r, "InvalidManifest", "%s", err.msg);
        return reg_walrus_fail(r, g, rc, &err);
    }
    g->manifest_text = oc_arena_strndup(r->arena, oc_buf_cstr(&text), text.len);
    rc = euca_manifest_parse(r->arena, text.data ? text.data : "", text.len, &m, &err);
    oc_buf_free(&text);
    if (rc)
        return clc_error(r, "InvalidManifest", "The manifest %s is not valid: %s", g->location,
                         err.msg);
    if (reg_verify(r, &m))
        return CLC_FAILED;
    for (size_t i = 0; i < m.nparts; i++) {
        const char *part = oc_arena_printf(r->arena, "%s%s", dir, m.parts[i].filename);

        rc = clc_walrus_exists(w, g->bucket, part, &err);
        if (rc == OC_ENOTFOUND)
            return clc_error(r, "InvalidManifest", "Part %u of the bundle (%s/%s) does not "
                                                   "exist", m.parts[i].index, g->bucket, part);
        if (rc)
            return clc_internal(r, &err);
    }
    if (g->type && strcmp(g->type, m.type_name) != 0)
        return clc_error(r, "InvalidParameterCombination",
                         "ImageType %s does not match the manifest's image type %s", g->type,
                         m.type_name);
    g->type = m.type_name;
    if (!g->architecture) {
        if (!reg_one_of(m.architecture, reg_arches))
            return clc_error(r, "InvalidManifest", "The manifest's architecture %s is not "
                                                   "supported", m.architecture);
        g->architecture = m.architecture;
    }
    /* "true" marks kernel and ramdisk bundles in Eucalyptus; ids are defaults. */
    if (!g->kernel_id && m.type == EUCA_IMAGE_MACHINE && strchr(m.kernel_id, '-'))
        g->kernel_id = m.kernel_id;
    if (!g->ramdisk_id && m.type == EUCA_IMAGE_MACHINE && strchr(m.ramdisk_id, '-'))
        g->ramdisk_id = m.ramdisk_id;
    if (!g->name) {
        if (!reg_name_ok(m.name))
            return clc_error(r, "InvalidAMIName.Malformed",
                             "The manifest's image name '%s' is not a valid AMI name: give "
                             "Name", m.name);
        g->name = m.name;
    }
    g->format = "bundle";
    g->size = (long long)m.size;
    g->digest = m.digest;
    g->block_devices = reg_mappings(r, &m);
    return CLC_OK;
}

static int reg_plain(struct clc_req *r, struct reg *g, const struct clc_walrus_object *obj)
{
    static const unsigned char qcow2_magic[4] = { 'Q', 'F', 'I', 0xfb };

    if (obj->size == 0)
        return clc_error(r, "InvalidParameterValue", "The object %s is empty", g->location);
    g->format = obj->head_len >= 4 && memcmp(obj->head, qcow2_magic, 4) == 0 ? "qcow2" : "raw";
    if (!g->type)
        g->type = "machine";
    if (!g->architecture)
        g->architecture = "x86_64";
    g->size = (long long)obj->size;
    g->digest = obj->etag ? obj->etag : "";
    g->manifest_text = "";
    g->block_devices = "";
    return CLC_OK;
}

/* ------------------------------------------------------------------ */

static int reg_name_taken(struct clc_req *r, const char *name, const char **other)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT id FROM images"
                                            " WHERE account_id = ? AND name = ?", &err);
    int rc;

    *other = NULL;
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *other = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "look up an image name");
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

static int reg_duplicate(struct clc_req *r, const char *name, const char *other)
{
    return clc_error(r, "InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s",
                     name, other ? other : "another image");
}

static int reg_insert(struct clc_req *r, const struct reg *g, const char *id,
                      struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(
        r->db,
        "INSERT INTO images (id, account_id, type, name, description, location, format,"
        " architecture, platform, root_device_name, root_device_type, virtualization_type,"
        " kernel_id, ramdisk_id, state, is_public, size_bytes, digest, manifest, block_devices,"
        " created, mc_ready, macrocomponent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', ?9,"
        " 'instance-store', ?10, ?11, ?12, 'available', 0, ?13, ?14, ?15, ?16, ?17, ?18,"
        " ?18 != '')",
        err);
    const char *text[] = {
        id, r->who.account_id, g->type, g->name, g->description ? g->description : "",
        g->location, g->format, g->architecture, g->root_device_name, g->virtualization_type,
        g->kernel_id ? g->kernel_id : "", g->ramdisk_id ? g->ramdisk_id : "",
    };
    int rc;

    if (!st)
        return OC_EDB;
    for (int i = 0; i < (int)(sizeof(text) / sizeof(text[0])); i++)
        sqlite3_bind_text(st, i + 1, text[i], -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 13, g->size);
    sqlite3_bind_text(st, 14, g->digest, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 15, g->manifest_text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 16, g->block_devices, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 17, (sqlite3_int64)r->now);
    sqlite3_bind_text(st, 18, g->mc_ready ? g->mc_ready : "", -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return OC_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT)
        return oc_err_set(err, OC_EEXIST, "image name taken");
    return oc_db_fail(r->db, err, "insert image");
}

int clc_image_register(struct clc_req *r)
{
    struct reg g = { 0 };
    struct clc_walrus *w = NULL;
    struct clc_walrus_object obj;
    struct oc_err err = { 0 };
    const char *other = NULL;
    char id[32];
    int rc;

    if (reg_params(r, &g))
        return CLC_FAILED;
    if (g.name && (reg_name_taken(r, g.name, &other) || other))
        return other ? reg_duplicate(r, g.name, other) : CLC_FAILED;
    if (clc_walrus_open(r, &w, &err))
        return clc_internal(r, &err);
    if (reg_check_access(r, w, &g))
        return CLC_FAILED;
    rc = clc_walrus_stat(w, g.bucket, g.key, &obj, &err);
    if (rc)
        return reg_walrus_fail(r, &g, rc, &err);
    if (g.bundle ? reg_bundle(r, w, &g, &obj) : reg_plain(r, &g, &obj))
        return CLC_FAILED;
    if (g.mc_ready && *g.mc_ready && strcmp(g.type, "machine") != 0)
        return clc_error(r, "InvalidParameterValue",
                         "Only machine images can be MacroComponents");
    if (strcmp(g.type, "machine") != 0 && (g.kernel_id || g.ramdisk_id)) {
        if (clc_param(r, "KernelId") || clc_param(r, "RamdiskId"))
            return clc_error(r, "InvalidParameterCombination",
                             "KernelId and RamdiskId apply to machine images only");
        g.kernel_id = g.ramdisk_id = NULL;
    }
    if (g.kernel_id && reg_boot_image(r, "KernelId", "kernel", &g.kernel_id))
        return CLC_FAILED;
    if (g.ramdisk_id && reg_boot_image(r, "RamdiskId", "ramdisk", &g.ramdisk_id))
        return CLC_FAILED;
    if (!g.virtualization_type)
        g.virtualization_type = g.kernel_id ? "paravirtual" : "hvm";
    if (!clc_param(r, "Name") && (reg_name_taken(r, g.name, &other) || other))
        return other ? reg_duplicate(r, g.name, other) : CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;

    oc_resource_id(clc_image_id_prefix(g.type), id);
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    rc = reg_insert(r, &g, id, &err);
    if (rc == OC_EEXIST) {
        oc_db_rollback(r->db);
        return reg_duplicate(r, g.name, NULL);
    }
    if (rc == OC_OK && clc_tags_from_spec(r, "image", id)) {
        oc_db_rollback(r->db);
        return CLC_FAILED;
    }
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "imageId", id);
    return CLC_OK;
}
