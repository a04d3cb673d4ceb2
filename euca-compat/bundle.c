/*
 * bundle.c - streamed bundle extraction (see bundle.h) on OpenSSL (RSA,
 * AES-128-CBC, SHA-1), zlib (gunzip) and libarchive (untar).
 *
 * The pipeline is pulled from its far end: libarchive asks for tar bytes,
 * tar_read() inflates them from decrypted bytes, plain_next() decrypts the
 * parts that enc_read() reads one after the other.  Each stage holds one
 * fixed buffer.  The first error anywhere is kept in the pipe and wins
 * over whatever the later stages (libarchive above all) make of it.
 */
#include "euca-compat/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "common/codec.h"
#include "common/fsutil.h"

#define CHUNK (64u * 1024)
#define AES_BLOCK 16
#define KEY_HEX 32                 /* a 16-byte key or IV as euca2ools encrypts it */
#define ENC_HEX_MAX 4096           /* as manifest.c allows: an RSA-16384 ciphertext */

enum src_kind { SRC_PARTS, SRC_MEM };
enum z_state { Z_NONE, Z_MEMBER, Z_ENDED };

struct pipe {
    enum src_kind kind;
    struct oc_err *err;
    int rc;                        /* first failure, OC_OK while all is well */

    /* SRC_PARTS: the parts, the cipher */
    const struct euca_manifest *m;
    const struct euca_bundle_source *src;
    size_t next_part;
    const struct euca_manifest_part *cur;
    int fd;                        /* the part being read, -1 between parts */
    uint64_t cur_len;              /* its length as hashed on the first read */
    uint64_t cur_read;             /* bytes of it read through the pipeline */
    struct oc_digest *part_sha;    /* the second read's hash */
    uint64_t enc_total, enc_limit;
    EVP_CIPHER_CTX *aes;
    int aes_done;

    /* SRC_MEM: the decrypted stream in memory */
    const uint8_t *mem;
    size_t mem_len, mem_off;

    /* gunzip */
    z_stream zs;
    int z_inited;
    enum z_state z;

    /* the tar stream */
    struct oc_digest *tar_sha;
    uint64_t tar_bytes, tar_limit;
    uint64_t size;                 /* the image's, from the manifest */

    uint8_t enc[CHUNK];
    uint8_t plain[CHUNK + AES_BLOCK];
    uint8_t tarbuf[CHUNK];         /* handed to libarchive */
    uint8_t data[CHUNK];           /* the file's bytes on their way out */
};

/* Records the pipeline's first failure; returns -1 for the stages'
 * "failed" results. */
static int fail(struct pipe *p, int code, const char *fmt, ...) OC_PRINTF(3, 4);
static int fail(struct pipe *p, int code, const char *fmt, ...)
{
    char msg[sizeof(p->err->msg)];
    va_list ap;

    if (p->rc == OC_OK) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        p->rc = oc_err_set(p->err, code, "%s", msg);
    }
    return -1;
}

static void digest_hex(struct oc_digest *d, char out[2 * OC_SHA1_LEN + 1])
{
    uint8_t raw[OC_SHA1_LEN];

    oc_digest_final(d, raw);
    oc_hex_encode(raw, sizeof(raw), out);
}

static int is_hex(const char *s, size_t n)
{
    return s && strlen(s) == n && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* read(2) through EINTR. */
static ssize_t read_some(int fd, void *buf, size_t cap)
{
    ssize_t r;

    do {
        r = read(fd, buf, cap);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* ------------------------------------------------------------------ */
/* the key */

/* Never prompt on a terminal for an encrypted key: it is refused. */
static int no_password(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

/* One of ec2_encrypted_key/_iv: RSA PKCS#1 v1.5, then 32 hex characters. */
static int decrypt_hex16(EVP_PKEY *pk, const char *what, const char *hex, uint8_t out[16],
                         struct oc_err *err)
{
    uint8_t ct[ENC_HEX_MAX / 2];
    unsigned char *pt = NULL;
    size_t hlen = hex ? strlen(hex) : 0, ptlen;
    long ctlen;
    EVP_PKEY_CTX *ctx = NULL;
    int rc;

    if (hlen == 0 || hlen > ENC_HEX_MAX ||
        (ctlen = oc_hex_decode(hex, hlen, ct, sizeof(ct))) <= 0)
        return oc_err_set(err, OC_EINVAL, "the manifest's %s is not hex", what);
    ptlen = (size_t)EVP_PKEY_get_size(pk);
    pt = malloc(ptlen ? ptlen : 1);
    ctx = EVP_PKEY_CTX_new(pk, NULL);
    if (!pt || !ctx) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* A failed decryption, or (OpenSSL >= 3.2, implicit rejection) a
     * random plaintext, is caught either way by the 32-hex rule. */
    if (EVP_PKEY_decrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_decrypt(ctx, pt, &ptlen, ct, (size_t)ctlen) != 1 || ptlen != KEY_HEX ||
        oc_hex_decode((const char *)pt, KEY_HEX, out, 16) != 16) {
        rc = oc_err_set(err, OC_EINVAL, "cannot decrypt the bundle %s with the cloud key "
                                        "(the bundle was made for another cloud's certificate)",
                        what);
        goto cleanup;
    }
    rc = OC_OK;
cleanup:
    if (pt) {
        OPENSSL_cleanse(pt, EVP_PKEY_get_size(pk) > 0 ? (size_t)EVP_PKEY_get_size(pk) : 1);
        free(pt);
    }
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int euca_bundle_decrypt_key(const struct euca_manifest *m, const char *cloud_key_pem,
                            size_t pem_len, uint8_t key[16], uint8_t iv[16],
                            struct oc_err *err)
{
    BIO *bio = NULL;
    EVP_PKEY *pk = NULL;
    int rc;

    if (!cloud_key_pem || pem_len == 0 || pem_len > INT_MAX)
        return oc_err_set(err, OC_EINVAL, "no cloud key to decrypt the bundle with");
    bio = BIO_new_mem_buf(cloud_key_pem, (int)pem_len);
    pk = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL) : NULL;
    if (!pk) {
        rc = oc_err_set(err, OC_EINVAL, "the cloud key is not an unencrypted PEM private key");
        goto cleanup;
    }
    if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA) {
        rc = oc_err_set(err, OC_EINVAL, "the cloud key is not an RSA key");
        goto cleanup;
    }
    rc = decrypt_hex16(pk, "key", m->ec2_encrypted_key, key, err);
    if (rc == OC_OK)
        rc = decrypt_hex16(pk, "iv", m->ec2_encrypted_iv, iv, err);
    if (rc)
        OPENSSL_cleanse(key, 16);
cleanup:
    /* Failures leave entries in this thread's OpenSSL error queue. */
    ERR_clear_error();
    EVP_PKEY_free(pk);
    BIO_free(bio);
    return rc;
}

/* ------------------------------------------------------------------ */
/* parts */

/* Opens the next part and hashes all of it; only a part that matches its
 * digest is rewound for the pipeline. */
static int part_open(struct pipe *p)
{
    const struct euca_manifest_part *part = &p->m->parts[p->next_part];
    struct oc_digest *d;
    char hex[2 * OC_SHA1_LEN + 1];
    struct oc_err perr = { 0 };
    uint64_t len = 0;
    int fd = -1, rc;

    p->cur = part;
    rc = p->src->open_part(p->src->ctx, part, &fd, &perr);
    if (rc != OC_OK || fd < 0) {
        if (fd >= 0)
            close(fd);
        return fail(p, rc != OC_OK ? rc : OC_EINTERNAL, "%s",
                    perr.msg[0] ? perr.msg : "cannot open a part of the bundle");
    }
    p->fd = fd;
    p->next_part++;
    d = oc_digest_new(OC_DIGEST_SHA1);
    if (!d)
        return fail(p, OC_ENOMEM, "out of memory");
    for (;;) {
        ssize_t r = read_some(fd, p->enc, sizeof(p->enc));

        if (r < 0) {
            oc_digest_free(d);
            return fail(p, OC_EIO, "part %u (%s): cannot read: %s", part->index,
                        part->filename, strerror(errno));
        }
        if (r == 0)
            break;
        len += (uint64_t)r;
        if (p->enc_total + len > p->enc_limit) {
            oc_digest_free(d);
            return fail(p, OC_EINVAL, "part %u (%s): the parts are larger than a bundle of a "
                                      "%llu-byte image can be",
                        part->index, part->filename, (unsigned long long)p->size);
        }
        oc_digest_update(d, p->enc, (size_t)r);
    }
    digest_hex(d, hex);
    oc_digest_free(d);
    if (strcasecmp(hex, part->digest ? part->digest : "") != 0)
        return fail(p, OC_EINVAL, "part %u (%s) digest mismatch: its SHA-1 is %s, the manifest "
                                  "says %s",
                    part->index, part->filename, hex, part->digest ? part->digest : "");
    if (lseek(fd, 0, SEEK_SET) != 0)
        return fail(p, OC_EIO, "part %u (%s) cannot be rewound: %s", part->index,
                    part->filename, strerror(errno));
    p->enc_total += len;
    p->cur_len = len;
    p->cur_read = 0;
    oc_digest_free(p->part_sha);
    p->part_sha = oc_digest_new(OC_DIGEST_SHA1);
    if (!p->part_sha)
        return fail(p, OC_ENOMEM, "out of memory");
    return 0;
}

/* The part was read through: it must still be the bytes that were
 * checked (nobody else may write it, but if someone did, fail). */
static int part_close(struct pipe *p)
{
    const struct euca_manifest_part *part = p->cur;
    char hex[2 * OC_SHA1_LEN + 1];

    close(p->fd);
    p->fd = -1;
    digest_hex(p->part_sha, hex);
    oc_digest_free(p->part_sha);
    p->part_sha = NULL;
    if (p->cur_read != p->cur_len || strcasecmp(hex, part->digest) != 0)
        return fail(p, OC_EINVAL, "part %u (%s) changed while it was being read", part->index,
                    part->filename);
    return 0;
}

/* Up to cap encrypted bytes, crossing from part to part; 0 after the
 * last part. */
static ssize_t enc_read(struct pipe *p, uint8_t *buf, size_t cap)
{
    for (;;) {
        ssize_t r;

        if (p->fd < 0) {
            if (p->next_part >= p->m->nparts)
                return 0;
            if (part_open(p))
                return -1;
        }
        r = read_some(p->fd, buf, cap);
        if (r < 0)
            return fail(p, OC_EIO, "part %u (%s): cannot read: %s", p->cur->index,
                        p->cur->filename, strerror(errno));
        if (r > 0) {
            p->cur_read += (uint64_t)r;
            if (p->cur_read > p->cur_len)
                return fail(p, OC_EINVAL, "part %u (%s) changed while it was being read",
                            p->cur->index, p->cur->filename);
            oc_digest_update(p->part_sha, buf, (size_t)r);
            return r;
        }
        if (part_close(p))
            return -1;
    }
}

/* ------------------------------------------------------------------ */
/* decrypted bytes */

/* Points *buf at the next decrypted bytes: 1 when there are some, 0 at
 * the end of the stream, -1 on failure. */
static int plain_next(struct pipe *p, const uint8_t **buf, size_t *len)
{
    if (p->kind == SRC_MEM) {
        size_t n = p->mem_len - p->mem_off;

        if (n == 0)
            return 0;
        if (n > CHUNK)
            n = CHUNK;
        *buf = p->mem + p->mem_off;
        *len = n;
        p->mem_off += n;
        return 1;
    }
    for (;;) {
        ssize_t r;
        int outl = 0;

        if (p->aes_done)
            return 0;
        r = enc_read(p, p->enc, sizeof(p->enc));
        if (r < 0)
            return -1;
        if (r == 0) {
            /* The PKCS#7 padding: a wrong key or a cut stream ends here. */
            if (EVP_DecryptFinal_ex(p->aes, p->plain, &outl) != 1) {
                ERR_clear_error();
                return fail(p, OC_EINVAL, "the bundle does not decrypt: bad padding at the end "
                                          "of its last part (truncated, or a wrong key)");
            }
            p->aes_done = 1;
        } else if (EVP_DecryptUpdate(p->aes, p->plain, &outl, p->enc, (int)r) != 1) {
            ERR_clear_error();
            return fail(p, OC_EINTERNAL, "AES-128-CBC decryption failed");
        }
        if (outl > 0) {
            *buf = p->plain;
            *len = (size_t)outl;
            return 1;
        }
    }
}

/* ------------------------------------------------------------------ */
/* the tar stream */

/* Up to cap bytes of the tar stream (gunzipped), hashed and counted; 0 at
 * its end.  Concatenated gzip members are one stream, as for gunzip. */
static ssize_t tar_read(struct pipe *p, uint8_t *out, size_t cap)
{
    size_t produced = 0;

    if (p->rc)
        return -1;
    while (produced == 0) {
        uInt in_before;
        int zr;

        if (p->zs.avail_in == 0) {
            const uint8_t *in = NULL;
            size_t len = 0;
            int r = plain_next(p, &in, &len);

            if (r < 0)
                return -1;
            if (r == 0) {
                if (p->z == Z_ENDED)
                    return 0;
                return fail(p, OC_EINVAL, p->z == Z_NONE
                                              ? "the bundle is empty once decrypted"
                                              : "the bundle's gzip stream is truncated");
            }
            p->zs.next_in = (Bytef *)in;
            p->zs.avail_in = (uInt)len;
        }
        if (p->z == Z_ENDED && inflateReset(&p->zs) != Z_OK)
            return fail(p, OC_EINTERNAL, "zlib: inflateReset failed");
        p->z = Z_MEMBER;
        p->zs.next_out = out;
        p->zs.avail_out = (uInt)cap;
        in_before = p->zs.avail_in;
        zr = inflate(&p->zs, Z_NO_FLUSH);
        produced = cap - p->zs.avail_out;
        if (zr == Z_STREAM_END) {
            p->z = Z_ENDED;
        } else if (zr == Z_MEM_ERROR) {
            return fail(p, OC_ENOMEM, "out of memory (zlib)");
        } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && p->zs.avail_in == 0)) {
            return fail(p, OC_EINVAL, "the decrypted bundle is not a valid gzip stream (%s)",
                        p->zs.msg ? p->zs.msg : "zlib error");
        } else if (produced == 0 && p->zs.avail_in == in_before && in_before > 0) {
            return fail(p, OC_EINTERNAL, "zlib made no progress");
        }
    }
    p->tar_bytes += produced;
    if (p->tar_bytes > p->tar_limit)
        return fail(p, OC_EINVAL, "the bundle's tar stream is longer than a %llu-byte image "
                                  "allows (over %llu bytes): refused",
                    (unsigned long long)p->size, (unsigned long long)p->tar_limit);
    oc_digest_update(p->tar_sha, out, produced);
    return (ssize_t)produced;
}

static la_ssize_t archive_pull(struct archive *a, void *ud, const void **buf)
{
    struct pipe *p = ud;
    ssize_t n = tar_read(p, p->tarbuf, sizeof(p->tarbuf));

    if (n < 0) {
        archive_set_error(a, EIO, "the bundle stream failed");
        return -1;
    }
    *buf = p->tarbuf;
    return n;
}

/* libarchive's complaint, unless the pipeline failed first (its own
 * message is the real cause). */
static int archive_fail(struct pipe *p, struct archive *a, const char *what)
{
    const char *s = archive_error_string(a);

    return fail(p, OC_EINVAL, "%s: %s", what, s ? s : "libarchive error");
}

/* Exactly one regular file of p->size bytes, written to out_fd. */
static int untar(struct pipe *p, int out_fd, uint64_t *written)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    char first[128] = "";
    unsigned nfiles = 0;
    int r;

    *written = 0;
    if (!a)
        return fail(p, OC_ENOMEM, "out of memory (libarchive)");
    /* tar in all its dialects (ustar, GNU, pax, v7), no filters: we
     * gunzip ourselves so the digest covers the tar stream. */
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_open(a, p, NULL, archive_pull, NULL) != ARCHIVE_OK) {
        archive_fail(p, a, "the bundle is not a tar archive");
        goto done;
    }
    for (;;) {
        const char *name;
        la_int64_t esize;

        r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            archive_fail(p, a, "the bundle is not a valid tar archive");
            goto done;
        }
        name = archive_entry_pathname(e);
        if (!name)
            name = "?";
        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e)) {
            fail(p, OC_EINVAL, "the bundle holds '%.100s', which is not a regular file "
                               "(expected one file)", name);
            goto done;
        }
        if (++nfiles > 1) {
            fail(p, OC_EINVAL, "the bundle holds more than one file ('%s', then '%.100s'), "
                               "expected one", first, name);
            goto done;
        }
        snprintf(first, sizeof(first), "%.100s", name);
        esize = archive_entry_size(e);
        if (!archive_entry_size_is_set(e) || esize < 0 || (uint64_t)esize != p->size) {
            fail(p, OC_EINVAL, "the bundle's file '%s' is %lld bytes, the manifest says %llu",
                 first, (long long)esize, (unsigned long long)p->size);
            goto done;
        }
        for (;;) {
            la_ssize_t n = archive_read_data(a, p->data, sizeof(p->data));
            struct oc_err werr = { 0 };

            if (n == 0)
                break;
            if (n < 0) {
                archive_fail(p, a, "the bundle's tar archive is damaged");
                goto done;
            }
            if (*written + (uint64_t)n > p->size) {
                fail(p, OC_EINVAL, "the bundle's file is longer than %llu bytes",
                     (unsigned long long)p->size);
                goto done;
            }
            if (oc_write_all(out_fd, p->data, (size_t)n, &werr) != OC_OK) {
                fail(p, werr.code ? werr.code : OC_EIO, "cannot write the image: %s",
                     werr.msg);
                goto done;
            }
            *written += (uint64_t)n;
        }
        if (*written != p->size) {
            fail(p, OC_EINVAL, "the bundle's file ends after %llu of %llu bytes",
                 (unsigned long long)*written, (unsigned long long)p->size);
            goto done;
        }
    }
    if (nfiles == 0)
        fail(p, OC_EINVAL, "the bundle holds no file, expected one");
done:
    archive_read_free(a);
    return p->rc ? -1 : 0;
}

/* ------------------------------------------------------------------ */
/* the whole */

static struct pipe *pipe_new(uint64_t size, struct oc_err *err)
{
    struct pipe *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->err = err;
    p->fd = -1;
    p->size = size;
    /* Round the file up to tar blocks, then headers and end padding. */
    p->tar_limit = (size + 511) / 512 * 512 + EUCA_BUNDLE_TAR_OVERHEAD;
    /* deflate grows incompressible data by well under 1/1024; gzip
     * headers, AES padding. */
    p->enc_limit = p->tar_limit + p->tar_limit / 1024 + EUCA_BUNDLE_TAR_OVERHEAD;
    p->tar_sha = oc_digest_new(OC_DIGEST_SHA1);
    /* 16 + MAX_WBITS: a gzip header and trailer, checked (CRC, length). */
    if (!p->tar_sha || inflateInit2(&p->zs, 16 + MAX_WBITS) != Z_OK) {
        oc_digest_free(p->tar_sha);
        free(p);
        return NULL;
    }
    p->z_inited = 1;
    return p;
}

static void pipe_free(struct pipe *p)
{
    if (!p)
        return;
    if (p->fd >= 0)
        close(p->fd);
    if (p->z_inited)
        inflateEnd(&p->zs);
    EVP_CIPHER_CTX_free(p->aes);
    oc_digest_free(p->part_sha);
    oc_digest_free(p->tar_sha);
    OPENSSL_cleanse(p->plain, sizeof(p->plain));
    free(p);
}

/* Untar, read the stream to its end (tar padding after the end-of-archive
 * blocks is in the digest too), check the digest. */
static int pipe_run(struct pipe *p, const char *digest, int out_fd, uint64_t *out_size)
{
    char hex[2 * OC_SHA1_LEN + 1];
    uint64_t written = 0;
    ssize_t n;

    if (untar(p, out_fd, &written))
        return p->rc;
    do {
        n = tar_read(p, p->tarbuf, sizeof(p->tarbuf));
    } while (n > 0);
    if (n < 0)
        return p->rc;
    digest_hex(p->tar_sha, hex);
    oc_digest_free(p->tar_sha);
    p->tar_sha = NULL;
    if (strcasecmp(hex, digest) != 0)
        return oc_err_set(p->err, OC_EINVAL, "image digest mismatch: the bundle's SHA-1 is %s, "
                                             "the manifest says %s", hex, digest);
    if (out_size)
        *out_size = written;
    return OC_OK;
}

int euca_bundle_extract(const struct euca_manifest *m, const char *cloud_key_pem,
                        size_t pem_len, const struct euca_bundle_source *src, int out_fd,
                        uint64_t *out_size, struct oc_err *err)
{
    uint8_t key[16], iv[16];
    struct pipe *p;
    int rc;

    if (!m || !src || !src->open_part || out_fd < 0)
        return oc_err_set(err, OC_EINVAL, "euca_bundle_extract: missing argument");
    if (m->nparts == 0 || !m->parts)
        return oc_err_set(err, OC_EINVAL, "the bundle has no parts");
    if (!is_hex(m->digest, 2 * OC_SHA1_LEN))
        return oc_err_set(err, OC_EINVAL, "the manifest's image digest is not 40 hex digits");
    if (m->size > EUCA_MANIFEST_MAX_IMAGE_SIZE)
        return oc_err_set(err, OC_EINVAL, "the manifest's image size is too large");
    for (size_t i = 0; i < m->nparts; i++)
        if (!m->parts[i].filename || !is_hex(m->parts[i].digest, 2 * OC_SHA1_LEN))
            return oc_err_set(err, OC_EINVAL, "part %zu of the manifest is malformed", i);
    /* Before any part is fetched: a bundle for another cloud fails fast. */
    rc = euca_bundle_decrypt_key(m, cloud_key_pem, pem_len, key, iv, err);
    if (rc)
        return rc;
    p = pipe_new(m->size, err);
    if (!p) {
        OPENSSL_cleanse(key, sizeof(key));
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    p->kind = SRC_PARTS;
    p->m = m;
    p->src = src;
    p->aes = EVP_CIPHER_CTX_new();
    if (!p->aes || EVP_DecryptInit_ex(p->aes, EVP_aes_128_cbc(), NULL, key, iv) != 1) {
        ERR_clear_error();
        rc = oc_err_set(err, OC_EINTERNAL, "cannot set up AES-128-CBC");
    } else {
        rc = pipe_run(p, m->digest, out_fd, out_size);
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(iv, sizeof(iv));
    pipe_free(p);
    return rc;
}

int euca_bundle_unpack_mem(const void *gz, size_t len, const char *digest, uint64_t size,
                           int out_fd, uint64_t *out_size, struct oc_err *err)
{
    struct pipe *p;
    int rc;

    if ((!gz && len) || out_fd < 0)
        return oc_err_set(err, OC_EINVAL, "euca_bundle_unpack_mem: missing argument");
    if (!is_hex(digest, 2 * OC_SHA1_LEN))
        return oc_err_set(err, OC_EINVAL, "the image digest is not 40 hex digits");
    if (size > EUCA_MANIFEST_MAX_IMAGE_SIZE)
        return oc_err_set(err, OC_EINVAL, "the image size is too large");
    p = pipe_new(size, err);
    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    p->kind = SRC_MEM;
    p->mem = gz;
    p->mem_len = len;
    rc = pipe_run(p, digest, out_fd, out_size);
    pipe_free(p);
    return rc;
}
