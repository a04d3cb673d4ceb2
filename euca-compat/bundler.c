/*
 * bundler.c - making a bundle (see bundler.h) on libarchive (GNU tar),
 * zlib (gzip), OpenSSL (AES-128-CBC, RSA, SHA-1).
 *
 * The pipeline is pushed from its near end: the image is read in chunks
 * and handed to libarchive, whose write callback hashes the tar stream and
 * deflates it; deflate's output is encrypted, and the ciphertext is cut
 * into part files, each hashed as it is written.  Each stage has one fixed
 * buffer.  The first failure is kept in the writer and wins over what the
 * stages above make of it.
 *
 * The manifest is built last, when the digests and sizes are known, and
 * read back with the reader (euca_manifest_parse + euca_manifest_verify)
 * before it is written: a bundle this module makes is one this cloud
 * accepts.
 */
#include "euca-compat/bundler.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/fsutil.h"
#include "common/xml.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define BUNDLER_NAME "overcast"
#define MANIFEST_VERSION "2007-10-10"
#define CHUNK (64u * 1024)
#define AES_BLOCK 16
#define TAR_RECORD 10240           /* GNU tar's and Python tarfile's record */
#define PART_SIZE_MIN 1024
#define PART_SIZE_MAX (UINT64_C(5) << 30)   /* one S3 PUT */
#define SHA1_HEX (2 * OC_SHA1_LEN)

const struct euca_manifest_mapping euca_bundle_default_mappings[4] = {
    { "ami", "sda1" },
    { "ephemeral0", "sda2" },
    { "root", "/dev/sda1" },
    { "swap", "sda3" },
};

void euca_bundle_result_free(struct euca_bundle_result *res)
{
    if (!res)
        return;
    free(res->manifest_path);
    res->manifest_path = NULL;
}

/* ------------------------------------------------------------------ */
/* checks of the spec, before any work */

static int all_of(const char *s, const char *set)
{
    return strspn(s, set) == strlen(s);
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define ALNUM LOWER "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static int is_set(const char *s)
{
    return s && *s;
}

/* "aki-0123abcd" (3 letters, 8-17 hex) or euca2ools' "true". */
static int image_id_ok(const char *s)
{
    size_t tail;

    if (strcmp(s, "true") == 0)
        return 1;
    if (strlen(s) < 5 || s[3] != '-' || strspn(s, LOWER) != 3)
        return 0;
    tail = strlen(s + 4);
    return tail >= 8 && tail <= 17 && all_of(s + 4, "0123456789abcdef");
}

static int spec_check(const struct euca_bundle_spec *s, uint64_t part_size,
                      struct oc_err *err)
{
    static const char *const arches[] = { "i386", "x86_64", "arm64", "armhf" };
    int known = 0;

    if (!is_set(s->prefix) || strlen(s->prefix) > EUCA_BUNDLE_PREFIX_MAX ||
        strchr(s->prefix, '/') || strcmp(s->prefix, ".") == 0 || strcmp(s->prefix, "..") == 0)
        return oc_err_set(err, OC_EINVAL, "the prefix must be a file name of 1 to %d bytes "
                                          "without '/'", EUCA_BUNDLE_PREFIX_MAX);
    for (const char *p = s->prefix; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return oc_err_set(err, OC_EINVAL, "the prefix holds a control character");
    for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++)
        known |= is_set(s->arch) && strcmp(s->arch, arches[i]) == 0;
    if (!known)
        return oc_err_set(err, OC_EINVAL, "architecture '%s' is not one of i386, x86_64, "
                                          "arm64, armhf", s->arch ? s->arch : "");
    if (!is_set(s->account) || strlen(s->account) != 12 || !all_of(s->account, "0123456789"))
        return oc_err_set(err, OC_EINVAL, "the account id '%s' is not 12 digits",
                          s->account ? s->account : "");
    if (is_set(s->kernel_id) && !image_id_ok(s->kernel_id))
        return oc_err_set(err, OC_EINVAL, "kernel '%s' is not an image id (aki-…)",
                          s->kernel_id);
    if (is_set(s->ramdisk_id) && !image_id_ok(s->ramdisk_id))
        return oc_err_set(err, OC_EINVAL, "ramdisk '%s' is not an image id (ari-…)",
                          s->ramdisk_id);
    /* euca2ools' rules: "true" marks the kind of image, and a kernel or
     * ramdisk bundle names no other image. */
    if (s->type == EUCA_IMAGE_KERNEL &&
        ((is_set(s->kernel_id) && strcmp(s->kernel_id, "true") != 0) || is_set(s->ramdisk_id)))
        return oc_err_set(err, OC_EINVAL, "a kernel image names no kernel or ramdisk");
    if (s->type == EUCA_IMAGE_RAMDISK &&
        ((is_set(s->ramdisk_id) && strcmp(s->ramdisk_id, "true") != 0) || is_set(s->kernel_id)))
        return oc_err_set(err, OC_EINVAL, "a ramdisk image names no kernel or ramdisk");
    if (s->type == EUCA_IMAGE_MACHINE &&
        ((is_set(s->kernel_id) && strcmp(s->kernel_id, "true") == 0) ||
         (is_set(s->ramdisk_id) && strcmp(s->ramdisk_id, "true") == 0)))
        return oc_err_set(err, OC_EINVAL, "'true' as a kernel or ramdisk makes a kernel or "
                                          "ramdisk image, not a machine image");
    if (s->type != EUCA_IMAGE_MACHINE && (s->nmappings || s->nproduct_codes))
        return oc_err_set(err, OC_EINVAL, "block device mappings and product codes are for "
                                          "machine images only");
    if (s->nmappings > EUCA_MANIFEST_MAX_MAPPINGS)
        return oc_err_set(err, OC_EINVAL, "more than %d block device mappings",
                          EUCA_MANIFEST_MAX_MAPPINGS);
    for (size_t i = 0; i < s->nmappings; i++) {
        const struct euca_manifest_mapping *m = &s->mappings[i];

        if (!is_set(m->virtual_name) || !is_set(m->device) || strlen(m->virtual_name) > 64 ||
            strlen(m->device) > 64 || !all_of(m->virtual_name, ALNUM "_-") ||
            !all_of(m->device, ALNUM "/_.:-"))
            return oc_err_set(err, OC_EINVAL, "block device mapping '%s=%s' is malformed",
                              m->virtual_name ? m->virtual_name : "",
                              m->device ? m->device : "");
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->mappings[j].virtual_name, m->virtual_name) == 0)
                return oc_err_set(err, OC_EINVAL, "block device '%s' is mapped twice",
                                  m->virtual_name);
    }
    if (s->nproduct_codes > EUCA_MANIFEST_MAX_PRODUCT_CODES)
        return oc_err_set(err, OC_EINVAL, "more than %d product codes",
                          EUCA_MANIFEST_MAX_PRODUCT_CODES);
    for (size_t i = 0; i < s->nproduct_codes; i++)
        if (!is_set(s->product_codes[i]) || strlen(s->product_codes[i]) > 64 ||
            !all_of(s->product_codes[i], ALNUM))
            return oc_err_set(err, OC_EINVAL, "product code '%s' is malformed",
                              s->product_codes[i] ? s->product_codes[i] : "");
    if (part_size < PART_SIZE_MIN || part_size > PART_SIZE_MAX)
        return oc_err_set(err, OC_EINVAL, "the part size must be between %u bytes and 5 GiB",
                          PART_SIZE_MIN);
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* keys */

struct keys {
    X509 *user_cert, *cloud_cert;
    EVP_PKEY *user_key;
};

static void keys_free(struct keys *k)
{
    X509_free(k->user_cert);
    X509_free(k->cloud_cert);
    EVP_PKEY_free(k->user_key);
}

static int rsa_usable(EVP_PKEY *k, const char *what, struct oc_err *err)
{
    if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
        return oc_err_set(err, OC_EINVAL, "the %s is not an RSA key", what);
    if (EVP_PKEY_get_bits(k) < 1024)
        return oc_err_set(err, OC_EINVAL, "the %s is under 1024 bits", what);
    return OC_OK;
}

static int cert_load(const char *pem, size_t len, const char *what, X509 **out,
                     struct oc_err *err)
{
    BIO *bio;

    if (!pem || len == 0 || len > INT_MAX)
        return oc_err_set(err, OC_EINVAL, "no %s", what);
    bio = BIO_new_mem_buf(pem, (int)len);
    *out = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!*out)
        return oc_err_set(err, OC_EINVAL, "the %s is not a PEM X.509 certificate", what);
    return rsa_usable(X509_get0_pubkey(*out), what, err);
}

static int keys_load(const struct euca_bundle_keys *in, struct keys *k, struct oc_err *err)
{
    BIO *bio;
    int rc;

    memset(k, 0, sizeof(*k));
    rc = cert_load(in->user_cert, in->user_cert_len, "user certificate", &k->user_cert, err);
    if (rc == OC_OK)
        rc = cert_load(in->cloud_cert, in->cloud_cert_len, "cloud certificate", &k->cloud_cert,
                       err);
    if (rc)
        goto cleanup;
    if (!in->user_key || in->user_key_len == 0 || in->user_key_len > INT_MAX) {
        rc = oc_err_set(err, OC_EINVAL, "no private key");
        goto cleanup;
    }
    bio = BIO_new_mem_buf(in->user_key, (int)in->user_key_len);
    /* An empty passphrase: an encrypted key is refused, never prompted for. */
    k->user_key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"") : NULL;
    BIO_free(bio);
    if (!k->user_key) {
        rc = oc_err_set(err, OC_EINVAL, "the private key is not an unencrypted PEM private key");
        goto cleanup;
    }
    rc = rsa_usable(k->user_key, "private key", err);
    if (rc == OC_OK && X509_check_private_key(k->user_cert, k->user_key) != 1)
        rc = oc_err_set(err, OC_EINVAL, "the private key is not the user certificate's key");
cleanup:
    /* Failures leave entries in this thread's OpenSSL error queue. */
    ERR_clear_error();
    return rc;
}

/* Appends the hex of bytes to b. */
static int buf_put_hex(struct oc_buf *b, const uint8_t *p, size_t n)
{
    if (oc_buf_reserve(b, 2 * n + 1) != OC_OK)
        return OC_ENOMEM;
    oc_hex_encode(p, n, b->data + b->len);
    b->len += 2 * n;
    return OC_OK;
}

/* Hex of the RSA PKCS#1 v1.5 encryption of text for k, appended to b
 * (what `openssl rsautl -encrypt -pkcs -certin` gives euca2ools). */
static int rsa_encrypt_hex(EVP_PKEY *k, const char *text, size_t len, struct oc_buf *b,
                           struct oc_err *err)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    unsigned char *ct = NULL;
    size_t n = 0;
    int rc = OC_OK;

    if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_encrypt(ctx, NULL, &n, (const unsigned char *)text, len) != 1 ||
        !(ct = malloc(n)) ||
        EVP_PKEY_encrypt(ctx, ct, &n, (const unsigned char *)text, len) != 1)
        rc = oc_err_set(err, OC_EINTERNAL, "RSA encryption of the bundle key failed");
    else if (buf_put_hex(b, ct, n) != OC_OK)
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    ERR_clear_error();
    free(ct);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

/* Hex RSA-SHA1 (PKCS#1 v1.5) signature of data by k, appended to b. */
static int rsa_sign_hex(EVP_PKEY *k, const void *data, size_t len, struct oc_buf *b,
                        struct oc_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig = NULL;
    size_t n = 0;
    int rc = OC_OK;

    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha1(), NULL, k) != 1 ||
        EVP_DigestSign(ctx, NULL, &n, data, len) != 1 || !(sig = malloc(n)) ||
        EVP_DigestSign(ctx, sig, &n, data, len) != 1)
        rc = oc_err_set(err, OC_EINTERNAL, "RSA-SHA1 signing of the manifest failed");
    else if (buf_put_hex(b, sig, n) != OC_OK)
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
    ERR_clear_error();
    free(sig);
    EVP_MD_CTX_free(ctx);
    return rc;
}

/* ------------------------------------------------------------------ */
/* the stream: tar -> SHA-1 -> gzip -> AES -> parts */

struct writer {
    struct oc_err *err;
    int rc;                        /* first failure */

    const char *dir, *prefix;
    uint64_t part_size;

    struct oc_digest *tar_sha;
    uint64_t tar_bytes;
    z_stream zs;
    int z_inited;
    EVP_CIPHER_CTX *aes;

    int fd;                        /* the part being written, -1 between parts */
    uint64_t in_part;
    struct oc_digest *part_sha;
    struct oc_buf path;
    char (*digests)[SHA1_HEX + 1];
    size_t nparts, cap;
    uint64_t bundled;

    uint8_t zout[CHUNK];
    uint8_t enc[CHUNK + AES_BLOCK];
    uint8_t in[CHUNK];
};

/* Records the writer's first failure (later ones are consequences) and
 * returns it. */
#define wfail(w, ...) ((w)->rc ? (w)->rc : ((w)->rc = oc_err_set((w)->err, __VA_ARGS__)))

static int part_path(struct writer *w, size_t index)
{
    oc_buf_reset(&w->path);
    if (oc_buf_printf(&w->path, "%s/%s.part.%02zu", w->dir, w->prefix, index) != OC_OK)
        return wfail(w, OC_ENOMEM, "out of memory");
    return OC_OK;
}

static int part_open(struct writer *w)
{
    if (w->nparts >= EUCA_MANIFEST_MAX_PARTS)
        return wfail(w, OC_ETOOBIG, "the bundle would have more than %d parts (what clouds "
                                    "accept): use a larger part size",
                     EUCA_MANIFEST_MAX_PARTS);
    if (w->nparts == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        void *d = realloc(w->digests, cap * sizeof(*w->digests));

        if (!d)
            return wfail(w, OC_ENOMEM, "out of memory");
        w->digests = d;
        w->cap = cap;
    }
    if (part_path(w, w->nparts))
        return w->rc;
    w->fd = open(oc_buf_cstr(&w->path), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0)
        return wfail(w, OC_EIO, "cannot create %s: %s", oc_buf_cstr(&w->path), strerror(errno));
    w->part_sha = oc_digest_new(OC_DIGEST_SHA1);
    if (!w->part_sha)
        return wfail(w, OC_ENOMEM, "out of memory");
    w->nparts++;
    w->in_part = 0;
    return OC_OK;
}

static int part_close(struct writer *w)
{
    uint8_t raw[OC_SHA1_LEN];
    int fd = w->fd;

    w->fd = -1;
    oc_digest_final(w->part_sha, raw);
    oc_digest_free(w->part_sha);
    w->part_sha = NULL;
    oc_hex_encode(raw, sizeof(raw), w->digests[w->nparts - 1]);
    if (fsync(fd) != 0) {
        close(fd);
        part_path(w, w->nparts - 1);
        return wfail(w, OC_EIO, "cannot fsync %s: %s", oc_buf_cstr(&w->path), strerror(errno));
    }
    if (close(fd) != 0) {
        part_path(w, w->nparts - 1);
        return wfail(w, OC_EIO, "cannot close %s: %s", oc_buf_cstr(&w->path), strerror(errno));
    }
    return OC_OK;
}

/* Ciphertext into parts of part_size bytes, a new part only when there
 * are bytes for it. */
static int parts_write(struct writer *w, const uint8_t *p, size_t len)
{
    while (len > 0) {
        struct oc_err werr = { 0 };
        size_t n;

        if (w->fd < 0 && part_open(w))
            return w->rc;
        n = w->part_size - w->in_part < len ? (size_t)(w->part_size - w->in_part) : len;
        if (oc_write_all(w->fd, p, n, &werr) != OC_OK)
            return wfail(w, werr.code ? werr.code : OC_EIO, "cannot write %s: %s",
                         oc_buf_cstr(&w->path), werr.msg);
        oc_digest_update(w->part_sha, p, n);
        w->in_part += n;
        w->bundled += n;
        p += n;
        len -= n;
        if (w->in_part == w->part_size && part_close(w))
            return w->rc;
    }
    return OC_OK;
}

static int enc_feed(struct writer *w, const uint8_t *p, size_t len)
{
    while (len > 0) {
        size_t n = len > CHUNK ? CHUNK : len;
        int outl = 0;

        if (EVP_EncryptUpdate(w->aes, w->enc, &outl, p, (int)n) != 1) {
            ERR_clear_error();
            return wfail(w, OC_EINTERNAL, "AES-128-CBC encryption failed");
        }
        if (parts_write(w, w->enc, (size_t)outl))
            return w->rc;
        p += n;
        len -= n;
    }
    return OC_OK;
}

/* Deflates len bytes (flush Z_FINISH: the end of the stream). */
static int z_feed(struct writer *w, const void *p, size_t len, int flush)
{
    int zr;

    w->zs.next_in = (Bytef *)p;
    w->zs.avail_in = (uInt)len;
    do {
        w->zs.next_out = w->zout;
        w->zs.avail_out = sizeof(w->zout);
        zr = deflate(&w->zs, flush);
        if (zr == Z_STREAM_ERROR)
            return wfail(w, OC_EINTERNAL, "zlib: deflate failed");
        if (enc_feed(w, w->zout, sizeof(w->zout) - w->zs.avail_out))
            return w->rc;
    } while (w->zs.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
    return OC_OK;
}

/* libarchive's output: the tar stream. */
static la_ssize_t tar_out(struct archive *a, void *ud, const void *buf, size_t len)
{
    struct writer *w = ud;

    (void)a;
    if (w->rc)
        return -1;
    oc_digest_update(w->tar_sha, buf, len);
    w->tar_bytes += len;
    for (size_t off = 0; off < len;) {
        size_t n = len - off > CHUNK ? CHUNK : len - off;

        if (z_feed(w, (const uint8_t *)buf + off, n, Z_NO_FLUSH))
            return -1;
        off += n;
    }
    return (la_ssize_t)len;
}

static int archive_fail(struct writer *w, struct archive *a, const char *what)
{
    const char *s = archive_error_string(a);

    return wfail(w, OC_EINTERNAL, "%s: %s", what, s ? s : "libarchive error");
}

/* The image through tar into the rest of the pipeline. */
static int tar_image(struct writer *w, const struct euca_bundle_spec *s, int fd, uint64_t size,
                     euca_bundle_progress_fn progress, void *pctx)
{
    struct archive *a = archive_write_new();
    struct archive_entry *e = archive_entry_new();
    uint64_t done = 0;

    if (!a || !e) {
        wfail(w, OC_ENOMEM, "out of memory (libarchive)");
        goto done;
    }
    /* GNU tar in 10240-byte records, the last one padded whole: what
     * euca2ools' Python tarfile (GNU_FORMAT, 'w|') writes. */
    if (archive_write_set_format_gnutar(a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(a, TAR_RECORD) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a, 0) != ARCHIVE_OK ||
        archive_write_open(a, w, NULL, tar_out, NULL) != ARCHIVE_OK) {
        archive_fail(w, a, "cannot start the tar stream");
        goto done;
    }
    archive_entry_set_pathname(e, s->prefix);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, s->mtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (archive_write_header(a, e) != ARCHIVE_OK) {
        archive_fail(w, a, "cannot write the tar header");
        goto done;
    }
    if (progress)
        progress(pctx, 0, size);
    while (done < size) {
        size_t want = size - done < sizeof(w->in) ? (size_t)(size - done) : sizeof(w->in);
        ssize_t r = read(fd, w->in, want);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            wfail(w, OC_EIO, "cannot read the image: %s", strerror(errno));
            goto done;
        }
        if (r == 0) {
            wfail(w, OC_EIO, "the image ended after %llu of %llu bytes (did it change while "
                             "it was bundled?)",
                  (unsigned long long)done, (unsigned long long)size);
            goto done;
        }
        for (ssize_t off = 0; off < r;) {
            la_ssize_t n = archive_write_data(a, w->in + off, (size_t)(r - off));

            if (n <= 0) {
                archive_fail(w, a, "cannot write the tar stream");
                goto done;
            }
            off += n;
        }
        done += (uint64_t)r;
        if (progress)
            progress(pctx, done, size);
    }
    if (archive_write_close(a) != ARCHIVE_OK)
        archive_fail(w, a, "cannot end the tar stream");
done:
    archive_entry_free(e);
    if (a)
        archive_write_free(a);
    return w->rc;
}

/* tar_image, then the ends of gzip, AES and the last part. */
static int stream_run(struct writer *w, const struct euca_bundle_spec *s, int fd,
                      uint64_t size, const uint8_t key[16], const uint8_t iv[16],
                      euca_bundle_progress_fn progress, void *pctx)
{
    int outl = 0;

    w->tar_sha = oc_digest_new(OC_DIGEST_SHA1);
    w->aes = EVP_CIPHER_CTX_new();
    if (!w->tar_sha || !w->aes)
        return wfail(w, OC_ENOMEM, "out of memory");
    /* gzip's default level 6, a gzip header and trailer: `gzip -c`. */
    if (deflateInit2(&w->zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return wfail(w, OC_ENOMEM, "out of memory (zlib)");
    w->z_inited = 1;
    if (EVP_EncryptInit_ex(w->aes, EVP_aes_128_cbc(), NULL, key, iv) != 1) {
        ERR_clear_error();
        return wfail(w, OC_EINTERNAL, "cannot set up AES-128-CBC");
    }
    if (tar_image(w, s, fd, size, progress, pctx) || z_feed(w, NULL, 0, Z_FINISH))
        return w->rc;
    /* PKCS#7 padding, as `openssl enc -aes-128-cbc` writes it. */
    if (EVP_EncryptFinal_ex(w->aes, w->enc, &outl) != 1) {
        ERR_clear_error();
        return wfail(w, OC_EINTERNAL, "AES-128-CBC encryption failed");
    }
    if (parts_write(w, w->enc, (size_t)outl))
        return w->rc;
    if (w->fd >= 0 && part_close(w))
        return w->rc;
    return OC_OK;
}

static void writer_free(struct writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->z_inited)
        deflateEnd(&w->zs);
    EVP_CIPHER_CTX_free(w->aes);
    oc_digest_free(w->tar_sha);
    oc_digest_free(w->part_sha);
    oc_buf_free(&w->path);
    free(w->digests);
    OPENSSL_cleanse(w->zout, sizeof(w->zout));
    free(w);
}

/* ------------------------------------------------------------------ */
/* the manifest */

/* <name>escaped text</name> */
static int put_elem(struct oc_buf *b, const char *name, const char *text)
{
    if (oc_buf_printf(b, "<%s>", name) != OC_OK ||
        oc_xml_escape(text, strlen(text), b) != OC_OK ||
        oc_buf_printf(b, "</%s>", name) != OC_OK)
        return OC_ENOMEM;
    return OC_OK;
}

static int cmp_mapping(const void *x, const void *y)
{
    return strcmp(((const struct euca_manifest_mapping *)x)->virtual_name,
                  ((const struct euca_manifest_mapping *)y)->virtual_name);
}

/* <machine_configuration>, as euca2ools' BundleManifest.dump_to_str. */
static int put_machine(struct oc_buf *b, const struct euca_bundle_spec *s)
{
    const struct euca_manifest_mapping *maps = s->mappings;
    struct euca_manifest_mapping *sorted = NULL;
    size_t n = s->nmappings;
    int rc = OC_OK;

    if (s->type == EUCA_IMAGE_MACHINE && n == 0) {
        maps = euca_bundle_default_mappings;
        n = sizeof(euca_bundle_default_mappings) / sizeof(euca_bundle_default_mappings[0]);
    }
    if (s->type != EUCA_IMAGE_MACHINE)
        n = 0;
    if (oc_buf_puts(b, "<machine_configuration>") != OC_OK ||
        put_elem(b, "architecture", s->arch) != OC_OK ||
        (is_set(s->kernel_id) && put_elem(b, "kernel_id", s->kernel_id) != OC_OK) ||
        (is_set(s->ramdisk_id) && put_elem(b, "ramdisk_id", s->ramdisk_id) != OC_OK))
        return OC_ENOMEM;
    if (n) {
        /* sorted(mappings.items()): by virtual name. */
        sorted = malloc(n * sizeof(*sorted));
        if (!sorted)
            return OC_ENOMEM;
        memcpy(sorted, maps, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), cmp_mapping);
        rc = oc_buf_puts(b, "<block_device_mapping>");
        for (size_t i = 0; rc == OC_OK && i < n; i++)
            if (oc_buf_puts(b, "<mapping>") != OC_OK ||
                put_elem(b, "device", sorted[i].device) != OC_OK ||
                put_elem(b, "virtual", sorted[i].virtual_name) != OC_OK ||
                oc_buf_puts(b, "</mapping>") != OC_OK)
                rc = OC_ENOMEM;
        if (rc == OC_OK)
            rc = oc_buf_puts(b, "</block_device_mapping>");
        free(sorted);
    }
    if (rc == OC_OK && s->type == EUCA_IMAGE_MACHINE && s->nproduct_codes) {
        rc = oc_buf_puts(b, "<product_codes>");
        for (size_t i = 0; rc == OC_OK && i < s->nproduct_codes; i++)
            rc = put_elem(b, "product_code", s->product_codes[i]);
        if (rc == OC_OK)
            rc = oc_buf_puts(b, "</product_codes>");
    }
    if (rc == OC_OK)
        rc = oc_buf_puts(b, "</machine_configuration>");
    return rc;
}

/* <image>; key_hex and iv_hex are what is RSA-encrypted. */
static int put_image(struct oc_buf *b, const struct euca_bundle_spec *s, const struct keys *k,
                     const char *key_hex, const char *iv_hex, const struct writer *w,
                     uint64_t size, const char *digest, struct oc_err *err)
{
    EVP_PKEY *cloud = X509_get0_pubkey(k->cloud_cert), *user = X509_get0_pubkey(k->user_cert);
    struct oc_buf fname = { 0 };
    int rc;

    if (oc_buf_puts(b, "<image>") != OC_OK || put_elem(b, "name", s->prefix) != OC_OK || put_elem(b, "user", s->account) != OC_OK ||
        oc_buf_printf(b, "<digest algorithm=\"SHA1\">%s</digest><size>%llu</size>"
                         "<bundled_size>%llu</bundled_size>",
                      digest, (unsigned long long)size, (unsigned long long)w->bundled) ||
        put_elem(b, "type", euca_image_type_name(s->type)) != OC_OK ||
        oc_buf_puts(b, "<ec2_encrypted_key algorithm=\"AES-128-CBC\">") != OC_OK)
        goto nomem;
    rc = rsa_encrypt_hex(cloud, key_hex, 32, b, err);
    if (rc == OC_OK && oc_buf_puts(b, "</ec2_encrypted_key>"
                                      "<user_encrypted_key algorithm=\"AES-128-CBC\">"))
        goto nomem;
    if (rc == OC_OK)
        rc = rsa_encrypt_hex(user, key_hex, 32, b, err);
    if (rc == OC_OK && oc_buf_puts(b, "</user_encrypted_key><ec2_encrypted_iv>"))
        goto nomem;
    if (rc == OC_OK)
        rc = rsa_encrypt_hex(cloud, iv_hex, 32, b, err);
    if (rc == OC_OK && oc_buf_puts(b, "</ec2_encrypted_iv><user_encrypted_iv>"))
        goto nomem;
    if (rc == OC_OK)
        rc = rsa_encrypt_hex(user, iv_hex, 32, b, err);
    if (rc)
        return rc;
    if (oc_buf_printf(b, "</user_encrypted_iv><parts count=\"%zu\">", w->nparts))
        goto nomem;
    for (size_t i = 0; i < w->nparts; i++) {
        oc_buf_reset(&fname);
        if (oc_buf_printf(&fname, "%s.part.%02zu", s->prefix, i) != OC_OK ||
            oc_buf_printf(b, "<part index=\"%zu\">", i) != OC_OK ||
            put_elem(b, "filename", oc_buf_cstr(&fname)) != OC_OK ||
            oc_buf_printf(b, "<digest algorithm=\"SHA1\">%s</digest></part>",
                          w->digests[i]) != OC_OK)
            goto nomem;
    }
    oc_buf_free(&fname);
    if (oc_buf_puts(b, "</parts></image>"))
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    return OC_OK;
nomem:
    oc_buf_free(&fname);
    return oc_err_set(err, OC_ENOMEM, "out of memory");
}

/* The whole document; the signature covers machine_configuration and
 * image as they are written here. */
static int manifest_build(const struct euca_bundle_spec *s, const struct keys *k,
                          const char *key_hex, const char *iv_hex, const struct writer *w,
                          uint64_t size, const char *digest, struct oc_buf *out,
                          struct oc_err *err)
{
    struct oc_buf body = { 0 };
    int rc;

    if (put_machine(&body, s) != OC_OK) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = put_image(&body, s, k, key_hex, iv_hex, w, size, digest, err);
    if (rc)
        goto cleanup;
    if (oc_buf_puts(out, "<manifest>") != OC_OK ||
        put_elem(out, "version", MANIFEST_VERSION) != OC_OK ||
        oc_buf_puts(out, "<bundler>") != OC_OK || put_elem(out, "name", BUNDLER_NAME) != OC_OK ||
        put_elem(out, "version", PACKAGE_VERSION) != OC_OK ||
        put_elem(out, "release", "0") != OC_OK || oc_buf_puts(out, "</bundler>") != OC_OK ||
        oc_buf_append(out, body.data, body.len) != OC_OK ||
        oc_buf_puts(out, "<signature>") != OC_OK) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = rsa_sign_hex(k->user_key, body.data, body.len, out, err);
    if (rc == OC_OK && oc_buf_puts(out, "</signature></manifest>") != OC_OK)
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
cleanup:
    oc_buf_free(&body);
    return rc;
}

/* The reader must take what was written, and the signature must verify
 * against the user's certificate: a bug here must not reach a cloud. */
static int manifest_selfcheck(const struct oc_buf *doc, const struct euca_bundle_keys *keys,
                              struct oc_err *err)
{
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct oc_err perr = { 0 };
    int rc;

    if (!a)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = euca_manifest_parse(a, doc->data, doc->len, &m, &perr);
    if (rc == OC_OK)
        rc = euca_manifest_verify(&m, keys->user_cert, keys->user_cert_len, &perr);
    if (rc)
        rc = oc_err_set(err, OC_EINTERNAL, "the manifest written does not read back: %s",
                        perr.msg);
    oc_arena_free(a);
    return rc;
}

/* ------------------------------------------------------------------ */

int euca_bundle_create(const struct euca_bundle_spec *spec, const struct euca_bundle_keys *keys,
                       int image_fd, uint64_t size, const char *dest_dir,
                       euca_bundle_progress_fn progress, void *progress_ctx,
                       struct euca_bundle_result *res, struct oc_err *err)
{
    struct keys k = { 0 };
    struct writer *w = NULL;
    struct oc_buf doc = { 0 };
    uint8_t key[16], iv[16], raw[OC_SHA1_LEN];
    char key_hex[33], iv_hex[33];
    uint64_t part_size;
    int rc;

    if (!spec || !keys || !res || image_fd < 0 || !is_set(dest_dir))
        return oc_err_set(err, OC_EINVAL, "euca_bundle_create: missing argument");
    memset(res, 0, sizeof(*res));
    part_size = spec->part_size ? spec->part_size : EUCA_BUNDLE_PART_SIZE;
    if (size > EUCA_MANIFEST_MAX_IMAGE_SIZE)
        return oc_err_set(err, OC_EINVAL, "the image is larger than 16 TiB");
    rc = spec_check(spec, part_size, err);
    if (rc == OC_OK)
        rc = keys_load(keys, &k, err);
    if (rc)
        goto cleanup;
    w = calloc(1, sizeof(*w));
    if (!w) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    w->err = err;
    w->fd = -1;
    w->dir = dest_dir;
    w->prefix = spec->prefix;
    w->part_size = part_size;
    /* euca2ools: '{0:0>32x}' of 128 random bits, for key and IV alike. */
    oc_random_bytes(key, sizeof(key));
    oc_random_bytes(iv, sizeof(iv));
    oc_hex_encode(key, sizeof(key), key_hex);
    oc_hex_encode(iv, sizeof(iv), iv_hex);
    rc = stream_run(w, spec, image_fd, size, key, iv, progress, progress_ctx);
    if (rc)
        goto cleanup;
    oc_digest_final(w->tar_sha, raw);
    oc_hex_encode(raw, sizeof(raw), res->digest);
    rc = manifest_build(spec, &k, key_hex, iv_hex, w, size, res->digest, &doc, err);
    if (rc == OC_OK)
        rc = manifest_selfcheck(&doc, keys, err);
    if (rc)
        goto cleanup;
    if (asprintf(&res->manifest_path, "%s/%s.manifest.xml", dest_dir, spec->prefix) < 0) {
        res->manifest_path = NULL;
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = oc_write_file_atomic(res->manifest_path, doc.data, doc.len, 0644, err);
    if (rc)
        goto cleanup;
    res->size = size;
    res->bundled_size = w->bundled;
    res->nparts = w->nparts;
cleanup:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(iv, sizeof(iv));
    OPENSSL_cleanse(key_hex, sizeof(key_hex));
    OPENSSL_cleanse(iv_hex, sizeof(iv_hex));
    if (w)
        writer_free(w);
    keys_free(&k);
    oc_buf_free(&doc);
    if (rc)
        euca_bundle_result_free(res);
    return rc;
}
