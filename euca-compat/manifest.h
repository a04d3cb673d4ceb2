/*
 * manifest.h - Eucalyptus / EC2 bundle manifests (version 2007-10-10, as
 * written by euca-bundle-image and ec2-bundle-image): a strict parser and
 * the signature check.
 *
 * A bundle is an image tarred, gzipped, encrypted with AES-128-CBC and
 * split into parts; its manifest names the parts and their SHA-1 digests,
 * carries the AES key and IV encrypted for the cloud (ec2_encrypted_*) and
 * for the user (user_encrypted_*), and ends with <signature>: the hex
 * RSA-SHA1 (PKCS#1 v1.5) signature, by the bundling user's key, of the
 * text `<machine_configuration>…</machine_configuration><image>…</image>`
 * exactly as those two elements appear in the file (euca2ools signs the
 * serialized elements and writes the same serialization; Eucalyptus's
 * server verified over the text cut out of the file).
 *
 * Every field comes from those signed bytes: the parser cuts them out of
 * the file, and reads machine_configuration and image from them, not from
 * the rest of the document, so nothing outside the signature can change
 * what an image is.  Limits (document size, part count, field lengths) are
 * enforced; types, hex and numbers are checked.
 *
 * Used by the CLC (RegisterImage) and the NC (image fetch).  This module
 * does no I/O: it neither fetches parts nor decrypts them.
 */
#ifndef EUCA_MANIFEST_H
#define EUCA_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/err.h"

#define EUCA_MANIFEST_MAX_BYTES (8u << 20)   /* the whole document */
#define EUCA_MANIFEST_MAX_PARTS 10000
#define EUCA_MANIFEST_MAX_MAPPINGS 64
#define EUCA_MANIFEST_MAX_PRODUCT_CODES 32
#define EUCA_MANIFEST_MAX_IMAGE_SIZE (UINT64_C(1) << 44)   /* 16 TiB */

enum euca_image_type {
    EUCA_IMAGE_MACHINE,
    EUCA_IMAGE_KERNEL,
    EUCA_IMAGE_RAMDISK,
};

struct euca_manifest_part {
    unsigned index;               /* 0 .. nparts-1, parts[] is in index order */
    const char *filename;         /* a plain object name, no '/' */
    const char *digest;           /* 40 lowercase hex: SHA-1 of the part */
};

struct euca_manifest_mapping {
    const char *virtual_name;     /* "ami", "root", "ephemeral0", "swap" */
    const char *device;           /* "sda1", "/dev/sda1" */
};

/* Strings live in the arena given to euca_manifest_parse; "" when an
 * optional element is absent. */
struct euca_manifest {
    const char *version;          /* "2007-10-10" */
    const char *bundler_name;
    const char *bundler_version;
    const char *bundler_release;

    /* machine_configuration */
    const char *architecture;     /* i386 | x86_64 | arm64 | armhf */
    const char *kernel_id;        /* an image id, "true" (Eucalyptus's mark on
                                   * kernel bundles) or "" */
    const char *ramdisk_id;
    struct euca_manifest_mapping *mappings;
    size_t nmappings;
    const char **product_codes;
    size_t nproduct_codes;

    /* image */
    const char *name;
    const char *user;             /* the bundling account */
    enum euca_image_type type;
    const char *type_name;        /* "machine" | "kernel" | "ramdisk" */
    const char *digest;           /* 40 lowercase hex: SHA-1 */
    uint64_t size;                /* the image before bundling */
    uint64_t bundled_size;
    const char *enc_algorithm;    /* "AES-128-CBC" */
    const char *ec2_encrypted_key;    /* lowercase hex */
    const char *ec2_encrypted_iv;
    const char *user_encrypted_key;   /* lowercase hex or "" */
    const char *user_encrypted_iv;
    struct euca_manifest_part *parts;
    size_t nparts;

    const char *signature;        /* lowercase hex */
    /* What the signature covers: machine_configuration then image, as cut
     * from the file (not NUL-terminated inside the document; this copy is). */
    const char *signed_text;
    size_t signed_len;
};

/*
 * Parses a manifest document of len bytes.  OC_EINVAL (with a message fit
 * for an InvalidManifest answer) on anything malformed, OC_ETOOBIG past
 * the limits.  Does not check the signature.
 */
int euca_manifest_parse(struct oc_arena *a, const char *xml, size_t len,
                        struct euca_manifest *out, struct oc_err *err) OC_WUR;

/*
 * Checks the manifest's signature against the RSA public key of one X.509
 * certificate (PEM).  OC_OK when it verifies, OC_EAUTH when it does not,
 * OC_EINVAL when the certificate cannot be used (not PEM, not RSA, a key
 * under 1024 bits).  The certificate's dates are not checked: a bundle
 * stays registrable after its signer's certificate expires, as in
 * Eucalyptus.
 */
int euca_manifest_verify(const struct euca_manifest *m, const char *cert_pem, size_t pem_len,
                         struct oc_err *err) OC_WUR;

/* "machine" | "kernel" | "ramdisk" */
const char *euca_image_type_name(enum euca_image_type t);

#endif
