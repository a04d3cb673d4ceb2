/*
 * bundler.h - making a Eucalyptus bundle, exactly what euca2ools'
 * euca-bundle-image makes (the format bundle.h unpacks and manifest.h
 * parses): the image as the one member of a GNU tar (padded to 10240-byte
 * records), gzipped, encrypted with AES-128-CBC under a random key and IV,
 * cut into parts `<prefix>.part.NN`, and `<prefix>.manifest.xml`.
 *
 * The manifest is written as euca2ools 3.x writes it (lxml, no XML
 * declaration, no whitespace): version 2007-10-10, bundler, then
 * machine_configuration (architecture, kernel_id, ramdisk_id,
 * block_device_mapping of mappings sorted by virtual name, each device
 * then virtual, product_codes), then image (name, user, digest
 * algorithm="SHA1" of the tar stream, size, bundled_size, type,
 * ec2_encrypted_key, user_encrypted_key, ec2_encrypted_iv,
 * user_encrypted_iv, parts with filename and SHA-1 digest per part), then
 * the hex RSA-SHA1 signature by the user's key over machine_configuration
 * and image exactly as written.  The key and IV are encrypted as 32
 * lowercase hex characters with RSA PKCS#1 v1.5, for the cloud's and for
 * the user's certificate.
 *
 * Everything is streamed through fixed buffers: the image is read once,
 * whatever its size.  Used by overcast-bundle-image and the unit tests;
 * this module parses nothing it did not write and never talks to a
 * server.
 */
#ifndef EUCA_BUNDLER_H
#define EUCA_BUNDLER_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "euca-compat/manifest.h"

#define EUCA_BUNDLE_PART_SIZE (UINT64_C(10) << 20)   /* euca2ools' default */
#define EUCA_BUNDLE_PREFIX_MAX 200                  /* so part names stay < 255 */

/* What the manifest says about the image.  Strings are not copied. */
struct euca_bundle_spec {
    const char *prefix;           /* image name, tar member, file prefix: no '/' */
    const char *arch;             /* i386 | x86_64 | arm64 | armhf */
    const char *account;          /* the bundling account: 12 digits */
    enum euca_image_type type;
    const char *kernel_id;        /* NULL/"" = none; "true" marks a kernel bundle */
    const char *ramdisk_id;
    /* Machine images only.  nmappings 0 = euca2ools' defaults: ami=sda1,
     * ephemeral0=sda2, root=/dev/sda1, swap=sda3. */
    const struct euca_manifest_mapping *mappings;
    size_t nmappings;
    const char *const *product_codes;
    size_t nproduct_codes;
    uint64_t part_size;           /* 0 = EUCA_BUNDLE_PART_SIZE */
    time_t mtime;                 /* of the tar member */
};

/* PEM text of the three keys a bundle needs. */
struct euca_bundle_keys {
    const char *user_cert;        /* X.509: user_encrypted_key/_iv */
    size_t user_cert_len;
    const char *user_key;         /* RSA private key, unencrypted: the signature */
    size_t user_key_len;
    const char *cloud_cert;       /* X.509: ec2_encrypted_key/_iv */
    size_t cloud_cert_len;
};

/* Called as the image is read: bytes done of total. */
typedef void (*euca_bundle_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct euca_bundle_result {
    char digest[41];              /* SHA-1 of the tar stream */
    uint64_t size;                /* the image */
    uint64_t bundled_size;        /* the parts together */
    size_t nparts;
    char *manifest_path;          /* malloc'd; free with euca_bundle_result_free */
};

/*
 * Bundles size bytes read from image_fd (from its current offset) into
 * dest_dir (which must exist): the parts, then the manifest (written
 * atomically, so a manifest means a complete bundle).  OC_EINVAL for a
 * bad spec or unusable keys (messages name which), OC_EIO for files,
 * OC_ETOOBIG past EUCA_MANIFEST_MAX_PARTS parts.  On failure the parts
 * already written are left behind without a manifest.
 */
int euca_bundle_create(const struct euca_bundle_spec *spec, const struct euca_bundle_keys *keys,
                       int image_fd, uint64_t size, const char *dest_dir,
                       euca_bundle_progress_fn progress, void *progress_ctx,
                       struct euca_bundle_result *res, struct oc_err *err) OC_WUR;

void euca_bundle_result_free(struct euca_bundle_result *res);

/* The euca2ools default mappings of a machine image, in manifest order. */
extern const struct euca_manifest_mapping euca_bundle_default_mappings[4];

#endif
