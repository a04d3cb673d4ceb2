/*
 * images.h - what the image handlers share: the image row and who may see
 * it (clc/images.c), RegisterImage (clc/images_register.c) and the small
 * Walrus client that reads image objects, their ACLs and manifests
 * (clc/images_walrus.c).
 *
 * Visibility: an account sees its own images, public ones and those with
 * a launch permission for it; only the owner changes or deregisters one.
 * Ids are ami-/aki-/ari- plus 17 hex digits; emi-/eki-/eri- (and the old
 * 8-digit forms) are accepted on input and stored under the AWS prefix.
 */
#ifndef CLC_IMAGES_H
#define CLC_IMAGES_H

#include <stdint.h>

#include "clc/clc.h"

struct clc_image {
    const char *id, *account_id, *type, *name, *description, *location, *format;
    const char *architecture, *platform, *root_device_name, *root_device_type;
    const char *virtualization_type, *kernel_id, *ramdisk_id, *state, *block_devices;
    const char *digest;           /* what the NC checks its cached copy against */
    const char *mc_ready;         /* MacroComponent ready point; "" = ordinary */
    int is_public;
    long long size_bytes;
    time_t created;
};

/* The canonical id (arena) of an image id in any accepted spelling, or
 * NULL when it is not one. */
const char *clc_image_id_canonical(struct clc_req *r, const char *id);
/* The prefix of new ids of an image type ("ami", "aki", "ari"), as
 * oc_resource_id() takes it. */
const char *clc_image_id_prefix(const char *type);

/* The image `id` (canonical) if the caller may see it: OC_OK, OC_ENOTFOUND
 * (absent or invisible), OC_EDB. */
int clc_image_load_visible(struct clc_req *r, const char *id, struct clc_image *out,
                           struct oc_err *err) OC_WUR;

/* Error answers shared by the handlers (always CLC_FAILED). */
int clc_image_not_found(struct clc_req *r, const char *id);
int clc_image_not_owner(struct clc_req *r, const char *id);

/* MacroComponent=<v> of RegisterImage and ModifyImageAttribute: *v
 * becomes the stored ready point ("true" = CLC_MC_READY_DEFAULT, "false"
 * = ""); CLC_FAILED (answered) when bad or the image is not a machine. */
#define CLC_MC_READY_DEFAULT "MC-READY"
int clc_image_mc_value(struct clc_req *r, const char *type, const char **v);

/* RegisterImage (clc/images_register.c). */
int clc_image_register(struct clc_req *r);

/* ---- Walrus (clc/images_walrus.c) ---- */

struct clc_walrus;

/* A client with the CLC's component credentials, freed with the request. */
int clc_walrus_open(struct clc_req *r, struct clc_walrus **out, struct oc_err *err) OC_WUR;

struct clc_walrus_object {
    uint64_t size;
    const char *etag;             /* without quotes */
    unsigned char head[64];       /* the first bytes */
    size_t head_len;
};
/* Size, ETag and first bytes of an object (one ranged GET).  OC_ENOTFOUND
 * when the bucket or the object does not exist, OC_EIO otherwise. */
int clc_walrus_stat(struct clc_walrus *w, const char *bucket, const char *key,
                    struct clc_walrus_object *out, struct oc_err *err) OC_WUR;
/* Whether an object exists (HEAD): OC_OK, OC_ENOTFOUND, OC_EIO. */
int clc_walrus_exists(struct clc_walrus *w, const char *bucket, const char *key,
                      struct oc_err *err) OC_WUR;
/* The whole object into out (at most max bytes, else OC_ETOOBIG). */
int clc_walrus_get(struct clc_walrus *w, const char *bucket, const char *key, size_t max,
                   struct oc_buf *out, struct oc_err *err) OC_WUR;
/* Whether account may read bucket/key by the ACLs: owner of the bucket or
 * the object, or a READ / FULL_CONTROL grant to it, to all users or to
 * authenticated users.  *allowed is 0 or 1. */
int clc_walrus_may_read(struct clc_walrus *w, const char *bucket, const char *key,
                        const char *account_id, int *allowed, struct oc_err *err) OC_WUR;

#endif
