/*
 * bundle.h - unpacking a Eucalyptus bundle (euca-bundle-image,
 * ec2-bundle-image) into the image it was made from, as a stream: parts
 * -> SHA-1 checked -> AES-128-CBC decrypt -> gunzip -> SHA-1 of the tar
 * stream checked -> untar the one file -> out_fd.  Memory use is a few
 * fixed buffers whatever the image size.
 *
 * The manifest comes from euca_manifest_parse (this module never parses
 * one).  The AES key and IV are the manifest's ec2_encrypted_key/_iv: RSA
 * PKCS#1 v1.5 encryptions, for the cloud's certificate, of the key and IV
 * written as 32 hex characters (what euca2ools encrypts).
 *
 * Part digests: each part is read and hashed in full before any of its
 * bytes is decrypted, then rewound and read again through the pipeline
 * (hashed again: a part that changes between the two reads fails too).
 * So no byte that fails its manifest digest ever reaches AES, zlib or
 * libarchive.  open_part must therefore hand back a seekable file (a
 * downloaded temporary, a local file), never a pipe or socket.
 *
 * Any failure (a digest, the key, the padding, the gzip or tar stream, a
 * size) is an error, and whatever was already written to out_fd must be
 * discarded by the caller: success is known only when the image digest,
 * checked over the whole tar stream, matches at the end.
 *
 * Bounds: the tar stream may not exceed the image size plus tar overhead
 * (EUCA_BUNDLE_TAR_OVERHEAD), so a gzip bomb stops there; the parts
 * together may not exceed that plus gzip/AES overhead; the tar must hold
 * exactly one regular file whose size is the manifest's <size>.
 */
#ifndef EUCA_BUNDLE_H
#define EUCA_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "euca-compat/manifest.h"

/* Tar headers (long names, pax records) and padding allowed on top of the
 * file's own bytes. */
#define EUCA_BUNDLE_TAR_OVERHEAD (UINT64_C(1) << 20)

struct euca_bundle_source {
    /* Sets *fd to a readable, seekable descriptor at offset 0 holding
     * part p's bytes (the extractor closes it), or returns an error. Called
     * once per part, in index order, only after the previous part is
     * consumed. */
    int (*open_part)(void *ctx, const struct euca_manifest_part *p, int *fd,
                     struct oc_err *err);
    void *ctx;
};

/*
 * Writes the bundle's image to out_fd (at its current offset) and its
 * length to *out_size (may be NULL).  cloud_key_pem is the cloud's RSA
 * private key (PEM, unencrypted).  OC_EINVAL when the bundle is refused,
 * with a message naming what did not check out; errors of open_part are
 * passed through; OC_EIO when out_fd cannot be written.
 */
int euca_bundle_extract(const struct euca_manifest *m, const char *cloud_key_pem,
                        size_t pem_len, const struct euca_bundle_source *src, int out_fd,
                        uint64_t *out_size, struct oc_err *err) OC_WUR;

/* The AES key and IV of m, decrypted with the cloud key.  OC_EINVAL when
 * the key is not a usable RSA private key or does not decrypt them. */
int euca_bundle_decrypt_key(const struct euca_manifest *m, const char *cloud_key_pem,
                            size_t pem_len, uint8_t key[16], uint8_t iv[16],
                            struct oc_err *err) OC_WUR;

/*
 * The stages after decryption alone (tests, the fuzzer): gz is a gzip
 * stream of a tar; its tar stream must have SHA-1 digest (40 hex) and hold
 * one regular file of size bytes, written to out_fd.
 */
int euca_bundle_unpack_mem(const void *gz, size_t len, const char *digest, uint64_t size,
                           int out_fd, uint64_t *out_size, struct oc_err *err) OC_WUR;

#endif
