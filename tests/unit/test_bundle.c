/*
 * test_bundle.c - bundle extraction (euca-compat/bundle.c) and the node's
 * Walrus fetcher (nc/imgfetch.c).
 *
 * Bundles are made here the way euca2ools makes them: a GNU tar of one
 * file (libarchive), gzip (zlib), AES-128-CBC with a random key and IV
 * (OpenSSL), split into parts with their SHA-1s, the key and IV written
 * as 32 hex characters and RSA-encrypted (PKCS#1 v1.5) for the cloud's
 * key.  Round trips must be bit-exact; every kind of damage must be
 * refused with a message naming it.
 *
 * The fetcher runs against a fake Walrus on 127.0.0.1 (common/http.c)
 * that checks each request's SigV4 signature and serves objects from
 * memory.
 */
#include "tests/unit/harness.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/arena.h"
#include "common/auth.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/http.h"
#include "euca-compat/bundle.h"
#include "euca-compat/manifest.h"
#include "nc/imgcache.h"
#include "nc/imgfetch.h"

/* ------------------------------------------------------------------ */
/* keys */

static EVP_PKEY *rsa_key(int which)
{
    static EVP_PKEY *keys[2];

    if (!keys[which])
        keys[which] = EVP_RSA_gen(2048);
    return keys[which];
}

static char *bio_string(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);

    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

/* PEM of the private key: PKCS#8, or the traditional "RSA PRIVATE KEY"
 * form (what `openssl genrsa` wrote before 3.0). */
static char *key_pem(EVP_PKEY *k, int traditional)
{
    BIO *b = BIO_new(BIO_s_mem());
    char *s;

    if (traditional)
        CHECK(PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    else
        CHECK(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1);
    s = bio_string(b);
    BIO_free(b);
    return s;
}

/* Hex of the RSA PKCS#1 v1.5 encryption of text for k (malloc'd). */
static char *rsa_encrypt_hex(EVP_PKEY *k, const char *text)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    unsigned char ct[1024];
    size_t ctlen = sizeof(ct);
    char *hex;

    CHECK(EVP_PKEY_encrypt_init(ctx) == 1);
    CHECK(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1);
    CHECK(EVP_PKEY_encrypt(ctx, ct, &ctlen, (const unsigned char *)text, strlen(text)) == 1);
    EVP_PKEY_CTX_free(ctx);
    hex = malloc(2 * ctlen + 1);
    oc_hex_encode(ct, ctlen, hex);
    return hex;
}

static void sha1_hex(const void *data, size_t len, char out[41])
{
    struct oc_digest *d = oc_digest_new(OC_DIGEST_SHA1);
    uint8_t raw[20];

    oc_digest_update(d, data, len);
    oc_digest_final(d, raw);
    oc_digest_free(d);
    oc_hex_encode(raw, 20, out);
}

/* ------------------------------------------------------------------ */
/* bundles */

struct bundle_opts {
    size_t part_size;             /* 0 = 64 KiB */
    EVP_PKEY *for_key;            /* whose public key encrypts the AES key; NULL = cloud */
    int two_files;                /* a second file in the tar */
    int symlink_first;            /* a symlink entry before the file */
    int gzip_members;             /* 2: the tar gzipped as two members */
    uint64_t zeros_after;         /* zero bytes after the tar (a bomb) */
    size_t random_after;          /* incompressible bytes after the tar */
    size_t cut_enc;               /* bytes cut off the encrypted stream */
    const char *digest;           /* the manifest's image digest instead of the real one */
    int size_delta;               /* the manifest's size minus the image's */
    int size_zero;                /* the manifest says size 0 */
    const char *key_text;         /* what is RSA-encrypted instead of the key's hex */
};

struct bundle {
    char *manifest;
    size_t nparts;
    struct oc_buf *parts;
    char **names;
    char digest[41];              /* SHA-1 of the tar stream */
};

static void bundle_free(struct bundle *b)
{
    free(b->manifest);
    for (size_t i = 0; i < b->nparts; i++) {
        oc_buf_free(&b->parts[i]);
        free(b->names[i]);
    }
    free(b->parts);
    free(b->names);
    memset(b, 0, sizeof(*b));
}

static la_ssize_t tar_to_buf(struct archive *a, void *ud, const void *data, size_t len)
{
    (void)a;
    return oc_buf_append(ud, data, len) == OC_OK ? (la_ssize_t)len : -1;
}

static void tar_add(struct archive *a, const char *name, const uint8_t *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();

    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, 1700000000, 0);
    CHECK_INT(archive_write_header(a, e), ARCHIVE_OK);
    for (size_t off = 0; off < len;) {
        la_ssize_t n = archive_write_data(a, data + off, len - off);

        CHECK(n > 0);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    archive_entry_free(e);
}

/* A GNU tar of name holding data (padded to 10240 bytes like GNU tar
 * and Python's tarfile). */
static void make_tar(const char *name, const uint8_t *data, size_t len,
                     const struct bundle_opts *o, struct oc_buf *tar)
{
    struct archive *a = archive_write_new();

    CHECK_INT(archive_write_set_format_gnutar(a), ARCHIVE_OK);
    CHECK_INT(archive_write_open(a, tar, NULL, tar_to_buf, NULL), ARCHIVE_OK);
    if (o->symlink_first) {
        struct archive_entry *e = archive_entry_new();

        archive_entry_set_pathname(e, "link");
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, "/etc/passwd");
        archive_entry_set_perm(e, 0777);
        CHECK_INT(archive_write_header(a, e), ARCHIVE_OK);
        archive_entry_free(e);
    }
    tar_add(a, name, data, len);
    if (o->two_files)
        tar_add(a, "second.img", (const uint8_t *)"second file", 11);
    CHECK_INT(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* Deflates len bytes of data (or zeros when data is NULL) into z. */
static void deflate_feed(z_stream *z, const uint8_t *data, uint64_t len, int finish,
                         struct oc_buf *out)
{
    static const uint8_t zeros[65536];
    uint8_t buf[65536];

    do {
        size_t n = len > 65536 ? 65536 : (size_t)len;
        int flush = finish && n == len ? Z_FINISH : Z_NO_FLUSH;
        int zr;

        z->next_in = (Bytef *)(data ? data : zeros);
        z->avail_in = (uInt)n;
        do {
            z->next_out = buf;
            z->avail_out = sizeof(buf);
            zr = deflate(z, flush);
            CHECK(zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR);
            CHECK_INT(oc_buf_append(out, buf, sizeof(buf) - z->avail_out), OC_OK);
        } while (z->avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
        if (data)
            data += n;
        len -= n;
    } while (len > 0);
}

static void gzip_member(const uint8_t *data, size_t len, uint64_t zeros_after,
                        struct oc_buf *out)
{
    z_stream z = { 0 };

    CHECK_INT(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    deflate_feed(&z, data, len, zeros_after == 0, out);
    if (zeros_after)
        deflate_feed(&z, NULL, zeros_after, 1, out);
    deflateEnd(&z);
}

static void aes_encrypt(const uint8_t key[16], const uint8_t iv[16], const struct oc_buf *in,
                        struct oc_buf *out)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;

    CHECK_INT(oc_buf_reserve(out, in->len + 32), OC_OK);
    CHECK(EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv) == 1);
    CHECK(EVP_EncryptUpdate(c, (unsigned char *)out->data, &n, (const unsigned char *)in->data,
                            (int)in->len) == 1);
    out->len = (size_t)n;
    CHECK(EVP_EncryptFinal_ex(c, (unsigned char *)out->data + out->len, &n) == 1);
    out->len += (size_t)n;
    EVP_CIPHER_CTX_free(c);
}

static void make_bundle(const char *name, const uint8_t *image, size_t len,
                        const struct bundle_opts *o, struct bundle *b)
{
    struct oc_buf tar = { 0 }, gz = { 0 }, enc = { 0 }, xml = { 0 };
    size_t psize = o->part_size ? o->part_size : 65536;
    uint8_t key[16], iv[16];
    char key_hex[33], iv_hex[33], *ek, *ei;
    uint64_t msize;

    memset(b, 0, sizeof(*b));
    make_tar(name, image, len, o, &tar);
    sha1_hex(tar.data, tar.len, b->digest);
    if (o->random_after) {
        uint8_t *junk = malloc(o->random_after);

        CHECK(RAND_bytes(junk, (int)o->random_after) == 1);
        CHECK_INT(oc_buf_append(&tar, junk, o->random_after), OC_OK);
        free(junk);
    }
    if (o->gzip_members == 2) {
        gzip_member((uint8_t *)tar.data, tar.len / 2, 0, &gz);
        gzip_member((uint8_t *)tar.data + tar.len / 2, tar.len - tar.len / 2, o->zeros_after,
                    &gz);
    } else {
        gzip_member((uint8_t *)tar.data, tar.len, o->zeros_after, &gz);
    }
    CHECK(RAND_bytes(key, 16) == 1 && RAND_bytes(iv, 16) == 1);
    aes_encrypt(key, iv, &gz, &enc);
    CHECK(enc.len > o->cut_enc);
    enc.len -= o->cut_enc;
    oc_hex_encode(key, 16, key_hex);
    oc_hex_encode(iv, 16, iv_hex);
    ek = rsa_encrypt_hex(o->for_key ? o->for_key : rsa_key(0),
                         o->key_text ? o->key_text : key_hex);
    ei = rsa_encrypt_hex(o->for_key ? o->for_key : rsa_key(0), iv_hex);

    b->nparts = enc.len ? (enc.len + psize - 1) / psize : 1;
    b->parts = calloc(b->nparts, sizeof(*b->parts));
    b->names = calloc(b->nparts, sizeof(*b->names));
    msize = o->size_zero ? 0 : (uint64_t)((int64_t)len + o->size_delta);
    CHECK_INT(oc_buf_printf(&xml,
                            "<manifest><version>2007-10-10</version><bundler><name>euca2ools"
                            "</name><version>3.4.1</version><release>0</release></bundler>"
                            "<machine_configuration><architecture>x86_64</architecture>"
                            "</machine_configuration>"
                            "<image><name>%s</name><user>000123456789</user>"
                            "<digest algorithm=\"SHA1\">%s</digest><size>%llu</size>"
                            "<bundled_size>%zu</bundled_size><type>machine</type>"
                            "<ec2_encrypted_key algorithm=\"AES-128-CBC\">%s"
                            "</ec2_encrypted_key><ec2_encrypted_iv>%s</ec2_encrypted_iv>"
                            "<parts count=\"%zu\">",
                            name, o->digest ? o->digest : b->digest,
                            (unsigned long long)msize, enc.len, ek, ei, b->nparts),
              OC_OK);
    for (size_t i = 0; i < b->nparts; i++) {
        size_t off = i * psize, n = enc.len - off < psize ? enc.len - off : psize;
        char d[41];

        CHECK_INT(oc_buf_append(&b->parts[i], enc.data + off, n), OC_OK);
        CHECK(asprintf(&b->names[i], "%s.part.%02zu", name, i) > 0);
        sha1_hex(enc.data + off, n, d);
        CHECK_INT(oc_buf_printf(&xml,
                                "<part index=\"%zu\"><filename>%s</filename>"
                                "<digest algorithm=\"SHA1\">%s</digest></part>",
                                i, b->names[i], d),
                  OC_OK);
    }
    CHECK_INT(oc_buf_puts(&xml, "</parts></image><signature>00ff</signature></manifest>"),
              OC_OK);
    b->manifest = oc_buf_steal(&xml);
    free(ek);
    free(ei);
    oc_buf_free(&tar);
    oc_buf_free(&gz);
    oc_buf_free(&enc);
}

/* A deterministic image: a random half and a compressible half. */
static uint8_t *make_image(size_t len, unsigned seed)
{
    uint8_t *p = malloc(len ? len : 1);
    uint32_t x = seed * 2654435761u + 1;

    for (size_t i = 0; i < len; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = i < len / 2 ? (uint8_t)(x >> 24) : (uint8_t)(i / 4096);
    }
    return p;
}

/* ------------------------------------------------------------------ */
/* extraction through a source serving the parts from memory */

enum part_damage { DMG_NONE, DMG_FLIP, DMG_TRUNCATE, DMG_SHIFT, DMG_PIPE, DMG_FAIL };

struct mem_src {
    const struct bundle *b;
    enum part_damage damage;
    size_t damage_part;
    unsigned opened;
};

/* A file descriptor holding data: an unlinked temporary at offset 0. */
static int data_fd(const void *data, size_t len)
{
    char path[256];
    int fd;

    snprintf(path, sizeof(path), "%s/part-XXXXXX", oc_test_tmpdir());
    fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    CHECK(len == 0 || write(fd, data, len) == (ssize_t)len);
    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    return fd;
}

static int mem_open_part(void *ctx, const struct euca_manifest_part *p, int *fd,
                         struct oc_err *err)
{
    struct mem_src *s = ctx;
    size_t i = p->index;
    const struct oc_buf *part;

    s->opened++;
    CHECK_STR(p->filename, s->b->names[i]);
    if (s->damage == DMG_SHIFT && i == s->damage_part)
        i = (i + 1) % s->b->nparts;
    part = &s->b->parts[i];
    if (s->damage == DMG_FAIL && i == s->damage_part)
        return oc_err_set(err, OC_ENOTFOUND, "part %zu is not there", i);
    if (s->damage == DMG_PIPE && i == s->damage_part) {
        int pfd[2];

        CHECK(pipe(pfd) == 0);
        CHECK(write(pfd[1], part->data, part->len) == (ssize_t)part->len);
        close(pfd[1]);
        *fd = pfd[0];
        return OC_OK;
    }
    if (s->damage != DMG_NONE && i == s->damage_part) {
        uint8_t *copy = malloc(part->len);
        size_t len = part->len;

        memcpy(copy, part->data, len);
        if (s->damage == DMG_FLIP)
            copy[len / 2] ^= 0x20;
        else if (s->damage == DMG_TRUNCATE)
            len -= 1;
        *fd = data_fd(copy, len);
        free(copy);
        return OC_OK;
    }
    *fd = data_fd(part->data, part->len);
    return OC_OK;
}

struct result {
    int rc;
    struct oc_err err;
    uint64_t size;                /* reported */
    struct oc_buf out;            /* what reached the output file */
    unsigned opened;
};

static void read_all(int fd, struct oc_buf *out)
{
    char buf[65536];
    ssize_t n;

    CHECK(lseek(fd, 0, SEEK_SET) == 0);
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        CHECK_INT(oc_buf_append(out, buf, (size_t)n), OC_OK);
}

static void extract_with(const struct bundle *b, const char *pem, enum part_damage damage,
                         size_t damage_part, struct result *r)
{
    struct oc_arena *a = oc_arena_new();
    struct euca_manifest m;
    struct mem_src ms = { b, damage, damage_part, 0 };
    struct euca_bundle_source src = { mem_open_part, &ms };
    int fd = data_fd(NULL, 0);

    memset(r, 0, sizeof(*r));
    r->size = 12345;
    CHECK_INT(euca_manifest_parse(a, b->manifest, strlen(b->manifest), &m, &r->err), OC_OK);
    r->rc = euca_bundle_extract(&m, pem, strlen(pem), &src, fd, &r->size, &r->err);
    read_all(fd, &r->out);
    r->opened = ms.opened;
    close(fd);
    oc_arena_free(a);
}

static void extract(const struct bundle *b, enum part_damage damage, size_t damage_part,
                    struct result *r)
{
    char *pem = key_pem(rsa_key(0), 0);

    extract_with(b, pem, damage, damage_part, r);
    free(pem);
}

#define CHECK_ERR(r, code, text)                                                   \
    do {                                                                           \
        CHECK_INT((r)->rc, code);                                                  \
        if (!strstr((r)->err.msg, text))                                           \
            oc_test_fail(__FILE__, __LINE__, "message '%s' lacks '%s'", (r)->err.msg, \
                         text);                                                    \
    } while (0)

/* ------------------------------------------------------------------ */

OC_TEST(bundle_round_trip_sizes)
{
    static const size_t sizes[] = { 0, 1, 511, 512, 3 * 1024 * 1024 + 123 };
    struct bundle_opts o = { 0 };

    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint8_t *img = make_image(sizes[k], (unsigned)k);
        struct bundle b;
        struct result r;

        make_bundle("disk.img", img, sizes[k], &o, &b);
        extract(&b, DMG_NONE, 0, &r);
        CHECK_INT(r.rc, OC_OK);
        if (r.rc)
            printf("    size %zu: %s\n", sizes[k], r.err.msg);
        CHECK_INT(r.size, sizes[k]);
        CHECK_INT(r.out.len, sizes[k]);
        CHECK(r.out.len == sizes[k] && (sizes[k] == 0 || memcmp(r.out.data, img, sizes[k]) == 0));
        CHECK_INT(r.opened, b.nparts);
        if (sizes[k] > 1024 * 1024)
            CHECK(b.nparts > 20);
        oc_buf_free(&r.out);
        bundle_free(&b);
        free(img);
    }
}

OC_TEST(bundle_round_trip_variants)
{
    size_t len = 300 * 1000;
    uint8_t *img = make_image(len, 7);
    struct bundle b;
    struct result r;
    char *pem;

    /* The cloud key in the traditional PEM form; odd part size. */
    {
        struct bundle_opts o = { .part_size = 10007 };

        make_bundle("trad.img", img, len, &o, &b);
        pem = key_pem(rsa_key(0), 1);
        CHECK(strstr(pem, "BEGIN RSA PRIVATE KEY") != NULL);
        extract_with(&b, pem, DMG_NONE, 0, &r);
        free(pem);
        CHECK_INT(r.rc, OC_OK);
        CHECK(r.out.len == len && memcmp(r.out.data, img, len) == 0);
        oc_buf_free(&r.out);
        bundle_free(&b);
    }
    /* Two gzip members (gunzip reads them as one stream), one part. */
    {
        struct bundle_opts o = { .gzip_members = 2, .part_size = 10 * 1024 * 1024 };

        make_bundle("members.img", img, len, &o, &b);
        CHECK_INT(b.nparts, 1);
        extract(&b, DMG_NONE, 0, &r);
        CHECK_INT(r.rc, OC_OK);
        CHECK(r.out.len == len && memcmp(r.out.data, img, len) == 0);
        oc_buf_free(&r.out);
        bundle_free(&b);
    }
    /* The part size a multiple of the AES block, the stream ending on a
     * part boundary. */
    {
        struct bundle_opts o = { .part_size = 4096 };

        make_bundle("aligned.img", img, len, &o, &b);
        extract(&b, DMG_NONE, 0, &r);
        CHECK_INT(r.rc, OC_OK);
        CHECK(r.out.len == len && memcmp(r.out.data, img, len) == 0);
        oc_buf_free(&r.out);
        bundle_free(&b);
    }
    free(img);
}

OC_TEST(bundle_wrong_cloud_key)
{
    uint8_t *img = make_image(5000, 1);
    struct bundle_opts o = { 0 };
    struct bundle b;
    struct result r;
    char *other = key_pem(rsa_key(1), 0);

    make_bundle("disk.img", img, 5000, &o, &b);
    extract_with(&b, other, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "cannot decrypt the bundle key with the cloud key");
    /* Refused before any part is fetched. */
    CHECK_INT(r.opened, 0);
    CHECK_INT(r.out.len, 0);
    oc_buf_free(&r.out);
    bundle_free(&b);

    /* Made for another cloud's certificate: the same. */
    o.for_key = rsa_key(1);
    make_bundle("disk.img", img, 5000, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "cannot decrypt the bundle key with the cloud key");
    oc_buf_free(&r.out);
    bundle_free(&b);

    /* The key decrypts, but not to 32 hex characters. */
    o.for_key = NULL;
    o.key_text = "0123456789abcdef0123456789abcdeZ";
    make_bundle("disk.img", img, 5000, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "cannot decrypt the bundle key");
    oc_buf_free(&r.out);
    bundle_free(&b);
    o.key_text = "0123456789abcdef";
    make_bundle("disk.img", img, 5000, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "cannot decrypt the bundle key");
    oc_buf_free(&r.out);
    bundle_free(&b);

    /* A key of the right form but not the bundle's: the padding or the
     * gzip header gives it away. */
    o.key_text = "00112233445566778899aabbccddeeff";
    make_bundle("disk.img", img, 5000, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_INT(r.rc, OC_EINVAL);
    CHECK(strstr(r.err.msg, "gzip") || strstr(r.err.msg, "padding"));
    oc_buf_free(&r.out);
    bundle_free(&b);

    free(other);
    free(img);
}

OC_TEST(bundle_unusable_cloud_keys)
{
    uint8_t *img = make_image(100, 2);
    struct bundle_opts o = { 0 };
    struct bundle b;
    struct result r;
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    char *ec_pem, *enc_pem;

    make_bundle("disk.img", img, 100, &o, &b);
    extract_with(&b, "not a key", DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "not an unencrypted PEM private key");
    oc_buf_free(&r.out);

    CHECK(PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL) == 1);
    ec_pem = bio_string(bio);
    extract_with(&b, ec_pem, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "not an RSA key");
    oc_buf_free(&r.out);

    /* A passphrase-protected key is refused, never prompted for. */
    BIO_reset(bio);
    CHECK(PEM_write_bio_PrivateKey(bio, rsa_key(0), EVP_aes_128_cbc(),
                                   (unsigned char *)"secret", 6, NULL, NULL) == 1);
    enc_pem = bio_string(bio);
    extract_with(&b, enc_pem, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "not an unencrypted PEM private key");
    CHECK_INT(r.opened, 0);
    oc_buf_free(&r.out);

    free(ec_pem);
    free(enc_pem);
    BIO_free(bio);
    EVP_PKEY_free(ec);
    bundle_free(&b);
    free(img);
}

OC_TEST(bundle_tampered_parts)
{
    size_t len = 200 * 1000;
    uint8_t *img = make_image(len, 3);
    struct bundle_opts o = { .part_size = 16384 };
    struct bundle b;
    struct result r;
    char want[128];

    make_bundle("disk.img", img, len, &o, &b);
    CHECK(b.nparts > 4);

    /* A flipped byte in part 3. */
    extract(&b, DMG_FLIP, 3, &r);
    snprintf(want, sizeof(want), "part 3 (%s) digest mismatch", b.names[3]);
    CHECK_ERR(&r, OC_EINVAL, want);
    CHECK_INT(r.opened, 4);
    oc_buf_free(&r.out);

    /* In part 0: nothing at all was decrypted, so nothing written. */
    extract(&b, DMG_FLIP, 0, &r);
    snprintf(want, sizeof(want), "part 0 (%s) digest mismatch", b.names[0]);
    CHECK_ERR(&r, OC_EINVAL, want);
    CHECK_INT(r.out.len, 0);
    oc_buf_free(&r.out);

    /* A part one byte short. */
    extract(&b, DMG_TRUNCATE, 2, &r);
    snprintf(want, sizeof(want), "part 2 (%s) digest mismatch", b.names[2]);
    CHECK_ERR(&r, OC_EINVAL, want);
    oc_buf_free(&r.out);

    /* Parts out of order: part 1's bytes served as part 0. */
    extract(&b, DMG_SHIFT, 0, &r);
    snprintf(want, sizeof(want), "part 0 (%s) digest mismatch", b.names[0]);
    CHECK_ERR(&r, OC_EINVAL, want);
    CHECK_INT(r.out.len, 0);
    oc_buf_free(&r.out);

    /* The source's own error passes through. */
    extract(&b, DMG_FAIL, 1, &r);
    CHECK_ERR(&r, OC_ENOTFOUND, "part 1 is not there");
    oc_buf_free(&r.out);

    /* A pipe cannot be rewound after hashing. */
    extract(&b, DMG_PIPE, 0, &r);
    CHECK_ERR(&r, OC_EIO, "cannot be rewound");
    oc_buf_free(&r.out);

    bundle_free(&b);
    free(img);
}

OC_TEST(bundle_image_digest_and_size)
{
    size_t len = 70 * 1000;
    uint8_t *img = make_image(len, 4);
    struct bundle_opts o = { .digest = "0123456789abcdef0123456789abcdef01234567" };
    struct bundle b;
    struct result r;

    /* The parts are right; the image is not what the manifest says. */
    make_bundle("disk.img", img, len, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "image digest mismatch");
    CHECK(strstr(r.err.msg, b.digest) != NULL);
    oc_buf_free(&r.out);
    bundle_free(&b);

    /* The manifest's size is not the file's. */
    memset(&o, 0, sizeof(o));
    o.size_delta = 1;
    make_bundle("disk.img", img, len, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "the manifest says 70001");
    oc_buf_free(&r.out);
    bundle_free(&b);
    free(img);
}

OC_TEST(bundle_truncated_stream)
{
    size_t len = 50 * 1000;
    uint8_t *img = make_image(len, 5);
    struct bundle_opts o = { .part_size = 8192 };
    struct bundle b;
    struct result r;

    /* Parts consistent with the manifest, but the stream was cut: by
     * whole AES blocks (the padding or gzip fails) or mid-block. */
    for (size_t cut = 16; cut <= 17; cut++) {
        o.cut_enc = cut == 16 ? 4096 : 17;
        make_bundle("disk.img", img, len, &o, &b);
        extract(&b, DMG_NONE, 0, &r);
        CHECK_INT(r.rc, OC_EINVAL);
        CHECK(strstr(r.err.msg, "padding") || strstr(r.err.msg, "truncated"));
        CHECK_INT(r.opened, b.nparts);
        oc_buf_free(&r.out);
        bundle_free(&b);
    }
    free(img);
}

OC_TEST(bundle_tar_contents)
{
    uint8_t *img = make_image(3000, 6);
    struct bundle_opts o = { .two_files = 1 };
    struct bundle b;
    struct result r;

    make_bundle("disk.img", img, 3000, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "more than one file ('disk.img', then 'second.img'), expected one");
    oc_buf_free(&r.out);
    bundle_free(&b);

    memset(&o, 0, sizeof(o));
    o.symlink_first = 1;
    make_bundle("disk.img", img, 3000, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "'link', which is not a regular file");
    CHECK_INT(r.out.len, 0);
    oc_buf_free(&r.out);
    bundle_free(&b);
    free(img);
}

OC_TEST(bundle_gzip_bomb_bounded)
{
    uint8_t *img = make_image(1000, 8);
    struct bundle_opts o = { .zeros_after = 256u << 20 };
    struct bundle b;
    struct result r;
    struct timespec t0, t1;
    size_t enc = 0;

    /* 256 MiB of zeros after the tar: about 250 KiB once compressed. */
    make_bundle("disk.img", img, 1000, &o, &b);
    for (size_t i = 0; i < b.nparts; i++)
        enc += b.parts[i].len;
    CHECK(enc < 2u << 20);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    extract(&b, DMG_NONE, 0, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_ERR(&r, OC_EINVAL, "tar stream is longer than a 1000-byte image allows");
    /* Stopped after about a megabyte, not 256 of them (generous for ASan). */
    CHECK(t1.tv_sec - t0.tv_sec < 5);
    CHECK(r.out.len <= 1000);
    oc_buf_free(&r.out);
    bundle_free(&b);

    /* A part far larger than the manifest's size allows is refused while
     * being hashed, before any of it is used. */
    memset(&o, 0, sizeof(o));
    o.random_after = 3u << 20;
    o.part_size = 8u << 20;
    make_bundle("disk.img", img, 1000, &o, &b);
    CHECK_INT(b.nparts, 1);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "part 0 (disk.img.part.00): the parts are larger than a bundle "
                             "of a 1000-byte image can be");
    CHECK_INT(r.out.len, 0);
    oc_buf_free(&r.out);
    bundle_free(&b);

    /* Spread over parts, the same excess ends the tar stream instead. */
    o.part_size = 1u << 20;
    make_bundle("disk.img", img, 1000, &o, &b);
    extract(&b, DMG_NONE, 0, &r);
    CHECK_ERR(&r, OC_EINVAL, "tar stream is longer than a 1000-byte image allows");
    CHECK(r.opened < b.nparts);
    oc_buf_free(&r.out);
    bundle_free(&b);
    free(img);
}

/* gzip of data (malloc'd into *out). */
static void gzip_buf(const void *data, size_t len, struct oc_buf *out)
{
    gzip_member(data, len, 0, out);
}

OC_TEST(bundle_unpack_mem)
{
    struct bundle_opts o = { 0 };
    struct oc_buf tar = { 0 }, gz = { 0 }, out = { 0 };
    uint8_t *img = make_image(20000, 10);
    char digest[41];
    struct oc_err err = { 0 };
    uint64_t size = 0;
    int fd = data_fd(NULL, 0);

    make_tar("x.img", img, 20000, &o, &tar);
    sha1_hex(tar.data, tar.len, digest);
    gzip_buf(tar.data, tar.len, &gz);
    CHECK_INT(euca_bundle_unpack_mem(gz.data, gz.len, digest, 20000, fd, &size, &err), OC_OK);
    CHECK_INT(size, 20000);
    read_all(fd, &out);
    CHECK(out.len == 20000 && memcmp(out.data, img, 20000) == 0);
    close(fd);

    fd = data_fd(NULL, 0);
    CHECK_INT(euca_bundle_unpack_mem("", 0, digest, 0, fd, NULL, &err), OC_EINVAL);
    CHECK(strstr(err.msg, "empty") != NULL);
    CHECK_INT(euca_bundle_unpack_mem("garbage!", 8, digest, 0, fd, NULL, &err), OC_EINVAL);
    CHECK(strstr(err.msg, "not a valid gzip stream") != NULL);
    /* gzip of something that is not a tar. */
    oc_buf_reset(&gz);
    gzip_buf("hello, this is not a tar archive at all", 39, &gz);
    CHECK_INT(euca_bundle_unpack_mem(gz.data, gz.len, digest, 0, fd, NULL, &err), OC_EINVAL);
    CHECK(strstr(err.msg, "tar") != NULL);
    /* A gzip stream cut short. */
    oc_buf_reset(&gz);
    gzip_buf(tar.data, tar.len, &gz);
    CHECK_INT(euca_bundle_unpack_mem(gz.data, gz.len - 9, digest, 20000, fd, NULL, &err),
              OC_EINVAL);
    CHECK(strstr(err.msg, "truncated") != NULL);
    /* Trailing garbage after the gzip member. */
    CHECK_INT(oc_buf_append(&gz, "junkjunkjunk", 12), OC_OK);
    CHECK_INT(euca_bundle_unpack_mem(gz.data, gz.len, digest, 20000, fd, NULL, &err),
              OC_EINVAL);
    CHECK(strstr(err.msg, "gzip") != NULL);
    CHECK_INT(euca_bundle_unpack_mem(gz.data, gz.len, "xyz", 20000, fd, NULL, &err),
              OC_EINVAL);
    close(fd);

    oc_buf_free(&tar);
    oc_buf_free(&gz);
    oc_buf_free(&out);
    free(img);
}

/* ------------------------------------------------------------------ */
/* the Walrus fetcher against a fake Walrus */

#define W_AK "AKIANODETEST00000001"
#define W_SK "nodeTestSecretKey00000000000000000000000"

struct wobj {
    char *name;                   /* "bucket/key" (decoded) */
    struct oc_buf data;
};

static struct {
    pthread_mutex_t mu;
    struct wobj objs[256];
    size_t n;
    unsigned gets;
} fake = { .mu = PTHREAD_MUTEX_INITIALIZER };

static void fake_put(const char *name, const void *data, size_t len)
{
    pthread_mutex_lock(&fake.mu);
    CHECK(fake.n < 256);
    fake.objs[fake.n].name = strdup(name);
    memset(&fake.objs[fake.n].data, 0, sizeof(fake.objs[fake.n].data));
    CHECK_INT(oc_buf_append(&fake.objs[fake.n].data, data, len), OC_OK);
    fake.n++;
    pthread_mutex_unlock(&fake.mu);
}

static void fake_reset(void)
{
    pthread_mutex_lock(&fake.mu);
    for (size_t i = 0; i < fake.n; i++) {
        free(fake.objs[i].name);
        oc_buf_free(&fake.objs[i].data);
    }
    fake.n = 0;
    fake.gets = 0;
    pthread_mutex_unlock(&fake.mu);
}

static int w_lookup(void *ctx, const char *akid, struct oc_principal *out, struct oc_err *err)
{
    (void)ctx;
    if (strcmp(akid, W_AK) != 0)
        return oc_err_set(err, OC_ENOTFOUND, "no such key");
    memset(out, 0, sizeof(*out));
    snprintf(out->account_id, sizeof(out->account_id), "111122223333");
    snprintf(out->account_name, sizeof(out->account_name), "eucalyptus");
    snprintf(out->user_name, sizeof(out->user_name), "node");
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", W_AK);
    snprintf(out->secret_key, sizeof(out->secret_key), "%s", W_SK);
    out->active = 1;
    return OC_OK;
}

static void w_on_end(struct oc_http_req *r, void *ctx)
{
    struct oc_cred_source src = { .lookup = w_lookup };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result res;
    struct oc_auth_error aerr;
    struct oc_buf name = { 0 }, body = { 0 };

    (void)ctx;
    in.method = r->method;
    in.path = r->path;
    in.query = r->query;
    in.headers = r->headers;
    in.nheaders = r->nheaders;
    in.service = "s3";
    in.now = time(NULL);
    if (oc_auth_verify(&in, &src, &res, &aerr) != OC_OK || res.kind == OC_AUTH_ANONYMOUS) {
        oc_http_respond(r, 403, "application/xml", "<Error><Code>AccessDenied</Code></Error>",
                        40);
        return;
    }
    if (strcmp(r->method, "GET") != 0 ||
        oc_url_decode(r->path + 1, strlen(r->path + 1), 0, &name) != OC_OK) {
        oc_http_respond(r, 400, "text/plain", "bad", 3);
        oc_buf_free(&name);
        return;
    }
    pthread_mutex_lock(&fake.mu);
    fake.gets++;
    for (size_t i = 0; i < fake.n; i++)
        if (strcmp(fake.objs[i].name, oc_buf_cstr(&name)) == 0)
            CHECK_INT(oc_buf_append(&body, fake.objs[i].data.data ? fake.objs[i].data.data : "",
                                    fake.objs[i].data.len),
                      OC_OK);
    pthread_mutex_unlock(&fake.mu);
    if (strstr(oc_buf_cstr(&name), "forbidden"))
        oc_http_respond(r, 403, "application/xml", "<Error><Code>AccessDenied</Code></Error>",
                        40);
    else if (body.len || strstr(oc_buf_cstr(&name), "empty"))
        oc_http_respond_buf(r, 200, "application/octet-stream", &body);
    else
        oc_http_respond(r, 404, "application/xml", "<Error><Code>NoSuchKey</Code></Error>", 37);
    oc_buf_free(&body);
    oc_buf_free(&name);
}

static void w_on_error(struct oc_http_req *r, void *ctx, int status, const char *code,
                       const char *message)
{
    (void)ctx, (void)code, (void)message;
    oc_http_respond(r, status, "text/plain", "error", 5);
}

static struct oc_http_server *fake_start(char *url, size_t urlsz)
{
    struct oc_http_handler h = { NULL, NULL, w_on_end, NULL, w_on_error, NULL };
    struct oc_http_config hc = { .bind_addr = "127.0.0.1", .threads = 2 };
    struct oc_http_server *srv = NULL;
    struct oc_err err = { 0 };

    CHECK_INT(oc_http_start(&hc, &h, &srv, &err), OC_OK);
    snprintf(url, urlsz, "http://127.0.0.1:%u", srv ? oc_http_port(srv) : 0);
    return srv;
}

static char *write_key_file(const char *dir)
{
    char *path = NULL, *pem = key_pem(rsa_key(0), 0);
    int fd;

    CHECK(asprintf(&path, "%s/cloud-pk.pem", dir) > 0);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    CHECK(write(fd, pem, strlen(pem)) == (ssize_t)strlen(pem));
    close(fd);
    free(pem);
    return path;
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int fetch_to(struct nc_img_fetcher *f, const char *id, const char *loc,
                    const char *digest, struct oc_buf *out, struct oc_err *err)
{
    struct nc_image_ref ref = { id, loc, digest };
    int fd = data_fd(NULL, 0), rc;

    rc = f->fetch(f->ctx, &ref, fd, err);
    read_all(fd, out);
    close(fd);
    return rc;
}

static void md5_hex(const void *data, size_t len, char out[33])
{
    uint8_t raw[16];

    oc_md5(data, len, raw);
    oc_hex_encode(raw, 16, out);
}

OC_TEST(imgfetch_from_fake_walrus)
{
    char url[64], dir[256], tmpdir[300], etag[33], bad_etag[33];
    struct oc_http_server *srv = fake_start(url, sizeof(url));
    struct nc_walrus_fetcher_config cfg = { 0 };
    struct nc_walrus_fetcher *w = NULL;
    struct nc_img_fetcher f;
    struct oc_buf out = { 0 };
    struct oc_err err = { 0 };
    struct bundle_opts o = { .part_size = 30000 };
    struct bundle b;
    size_t len = 150 * 1000;
    uint8_t *img = make_image(len, 11);
    char *keyfile, *partname;
    const char *mloc = "img-bucket/my dir/ü+x%.manifest.xml";

    snprintf(dir, sizeof(dir), "%s/fetch", oc_test_tmpdir());
    snprintf(tmpdir, sizeof(tmpdir), "%s/parts", dir);
    CHECK(mkdir(dir, 0700) == 0 && mkdir(tmpdir, 0700) == 0);
    keyfile = write_key_file(dir);

    make_bundle("ü+x%", img, len, &o, &b);
    fake_put("img-bucket/my dir/ü+x%.manifest.xml", b.manifest, strlen(b.manifest));
    for (size_t i = 0; i < b.nparts; i++) {
        CHECK(asprintf(&partname, "img-bucket/my dir/%s", b.names[i]) > 0);
        fake_put(partname, b.parts[i].data, b.parts[i].len);
        free(partname);
    }
    fake_put("img-bucket/plain.raw", img, len);
    md5_hex(img, len, etag);
    fake_put("img-bucket/forbidden.raw", img, len);

    cfg.walrus_url = url;
    cfg.access_key_id = W_AK;
    cfg.secret_key = W_SK;
    cfg.cloud_key_path = keyfile;
    cfg.tmpdir = tmpdir;
    cfg.timeout_ms = 20000;
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_OK);
    f = nc_walrus_fetcher(w);

    /* A bundle under a key that needs encoding: bit-exact, parts gone. */
    CHECK_INT(fetch_to(&f, "emi-0123abcd", mloc, b.digest, &out, &err), OC_OK);
    if (err.msg[0])
        printf("    %s\n", err.msg);
    CHECK(out.len == len && memcmp(out.data, img, len) == 0);
    CHECK_INT(dir_entries(tmpdir), 0);
    CHECK_INT(fake.gets, 1 + b.nparts);
    oc_buf_reset(&out);

    /* The manifest no longer has the registered digest. */
    CHECK_INT(fetch_to(&f, "emi-0123abcd", mloc, "0123456789abcdef0123456789abcdef01234567",
                       &out, &err), OC_EINVAL);
    CHECK(strstr(err.msg, "changed after registration") != NULL);
    oc_buf_reset(&out);

    /* A plain object, its ETag checked. */
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/plain.raw", etag, &out, &err), OC_OK);
    CHECK(out.len == len && memcmp(out.data, img, len) == 0);
    oc_buf_reset(&out);
    snprintf(bad_etag, sizeof(bad_etag), "%s", etag);
    bad_etag[0] = bad_etag[0] == '0' ? '1' : '0';
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/plain.raw", bad_etag, &out, &err),
              OC_EINVAL);
    CHECK(strstr(err.msg, "MD5") != NULL);
    /* Nothing of a refused image stays in the file. */
    CHECK_INT(out.len, 0);
    oc_buf_reset(&out);
    /* A multipart ETag cannot be checked: accepted as transferred. */
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/plain.raw",
                       "0123456789abcdef0123456789abcdef-3", &out, &err),
              OC_OK);
    CHECK_INT(out.len, len);
    oc_buf_reset(&out);
    /* A bundle digest for a plain object is not an ETag. */
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/plain.raw", b.digest, &out, &err),
              OC_EINVAL);
    oc_buf_reset(&out);

    /* Missing, forbidden, malformed. */
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/none.raw", etag, &out, &err),
              OC_ENOTFOUND);
    CHECK(strstr(err.msg, "img-bucket/none.raw is not in Walrus") != NULL);
    CHECK_INT(out.len, 0);
    oc_buf_reset(&out);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/none.manifest.xml", b.digest, &out,
                       &err), OC_ENOTFOUND);
    oc_buf_reset(&out);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/forbidden.raw", etag, &out, &err),
              OC_EAUTH);
    CHECK(strstr(err.msg, "403") != NULL);
    oc_buf_reset(&out);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/a/../plain.raw", etag, &out, &err),
              OC_EINVAL);
    oc_buf_reset(&out);

    /* A part missing from Walrus. */
    pthread_mutex_lock(&fake.mu);
    for (size_t i = 0; i < fake.n; i++)
        if (strstr(fake.objs[i].name, b.names[b.nparts - 1]))
            fake.objs[i].name[0] = '#';
    pthread_mutex_unlock(&fake.mu);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", mloc, b.digest, &out, &err), OC_ENOTFOUND);
    CHECK(strstr(err.msg, b.names[b.nparts - 1]) != NULL);
    CHECK_INT(dir_entries(tmpdir), 0);
    oc_buf_reset(&out);
    nc_walrus_fetcher_free(w);

    /* Without a cloud key, bundles are refused and plain images work. */
    cfg.cloud_key_path = NULL;
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_OK);
    f = nc_walrus_fetcher(w);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", mloc, b.digest, &out, &err), OC_EINVAL);
    CHECK(strstr(err.msg, "no cloud key") != NULL);
    oc_buf_reset(&out);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/plain.raw", etag, &out, &err), OC_OK);
    oc_buf_reset(&out);
    nc_walrus_fetcher_free(w);
    cfg.cloud_key_path = "/nonexistent/cloud-pk.pem";
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_OK);
    f = nc_walrus_fetcher(w);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", mloc, b.digest, &out, &err), OC_EINVAL);
    CHECK(strstr(err.msg, "cannot read the cloud key") != NULL);
    oc_buf_reset(&out);
    nc_walrus_fetcher_free(w);

    /* Wrong credentials: 403. */
    cfg.cloud_key_path = keyfile;
    cfg.secret_key = "wrongwrongwrongwrongwrongwrongwrongwrong";
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_OK);
    f = nc_walrus_fetcher(w);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/plain.raw", etag, &out, &err), OC_EAUTH);
    oc_buf_reset(&out);
    nc_walrus_fetcher_free(w);

    /* Nobody listening: OC_EIO. */
    oc_http_stop(srv);
    cfg.secret_key = W_SK;
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_OK);
    f = nc_walrus_fetcher(w);
    CHECK_INT(fetch_to(&f, "emi-0123abcd", "img-bucket/plain.raw", etag, &out, &err), OC_EIO);
    CHECK(strstr(err.msg, "cannot get img-bucket/plain.raw from Walrus") != NULL);
    oc_buf_reset(&out);
    nc_walrus_fetcher_free(w);

    /* Configuration errors. */
    cfg.walrus_url = "ftp://x";
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_EINVAL);
    cfg.walrus_url = "http://127.0.0.1:1/services/Walrus";
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_EINVAL);
    cfg.walrus_url = url;
    cfg.tmpdir = "/nonexistent-dir";
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_EINVAL);
    cfg.tmpdir = tmpdir;
    cfg.access_key_id = NULL;
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_EINVAL);
    nc_walrus_fetcher_free(NULL);

    fake_reset();
    oc_buf_free(&out);
    bundle_free(&b);
    free(keyfile);
    free(img);
}

/* The fetcher under the cache: a bundled image and a qcow2-looking plain
 * one, each fetched once. */
OC_TEST(imgfetch_into_imgcache)
{
    char url[64], dir[256], cdir[300], tmpdir[300], etag[33];
    struct oc_http_server *srv = fake_start(url, sizeof(url));
    struct nc_walrus_fetcher_config cfg = { 0 };
    struct nc_walrus_fetcher *w = NULL;
    struct nc_img_fetcher f;
    struct nc_imgcache *c = NULL;
    struct nc_cached_image ci;
    struct nc_imgcache_stats st;
    struct oc_err err = { 0 };
    struct bundle_opts o = { 0 };
    struct bundle b;
    struct oc_buf got = { 0 };
    size_t len = 100 * 1000;
    uint8_t *img = make_image(len, 12), *q = make_image(5000, 13);
    char *keyfile, *partname;

    memcpy(q, "QFI\xfb", 4);
    snprintf(dir, sizeof(dir), "%s/fetchcache", oc_test_tmpdir());
    snprintf(cdir, sizeof(cdir), "%s/cache", dir);
    snprintf(tmpdir, sizeof(tmpdir), "%s/parts", dir);
    CHECK(mkdir(dir, 0700) == 0 && mkdir(tmpdir, 0700) == 0);
    keyfile = write_key_file(dir);
    make_bundle("disk.img", img, len, &o, &b);
    fake_put("bk/b/disk.img.manifest.xml", b.manifest, strlen(b.manifest));
    for (size_t i = 0; i < b.nparts; i++) {
        CHECK(asprintf(&partname, "bk/b/%s", b.names[i]) > 0);
        fake_put(partname, b.parts[i].data, b.parts[i].len);
        free(partname);
    }
    fake_put("bk/q.qcow2", q, 5000);
    md5_hex(q, 5000, etag);

    cfg.walrus_url = url;
    cfg.access_key_id = W_AK;
    cfg.secret_key = W_SK;
    cfg.cloud_key_path = keyfile;
    cfg.tmpdir = tmpdir;
    CHECK_INT(nc_walrus_fetcher_new(&cfg, &w, &err), OC_OK);
    f = nc_walrus_fetcher(w);
    CHECK_INT(nc_imgcache_open(cdir, 1u << 30, &f, &c, &err), OC_OK);

    for (int round = 0; round < 2; round++) {
        struct nc_image_ref r1 = { "emi-00000001", "bk/b/disk.img.manifest.xml", b.digest };
        struct nc_image_ref r2 = { "emi-00000002", "bk/q.qcow2", etag };
        int fd;

        CHECK_INT(nc_imgcache_get(c, &r1, &ci, &err), OC_OK);
        CHECK_STR(ci.format, "raw");
        CHECK_INT(ci.size, len);
        fd = open(ci.path, O_RDONLY);
        CHECK(fd >= 0);
        read_all(fd, &got);
        close(fd);
        CHECK(got.len == len && memcmp(got.data, img, len) == 0);
        oc_buf_reset(&got);
        CHECK_INT(nc_imgcache_get(c, &r2, &ci, &err), OC_OK);
        CHECK_STR(ci.format, "qcow2");
        CHECK_INT(ci.size, 5000);
        nc_imgcache_release(c, r1.image_id, r1.digest);
        nc_imgcache_release(c, r2.image_id, r2.digest);
    }
    nc_imgcache_stats(c, &st);
    CHECK_INT(st.fetches, 2);
    CHECK_INT(st.hits, 2);
    CHECK_INT(st.entries, 2);
    CHECK_INT(fake.gets, 1 + b.nparts + 1);

    nc_imgcache_close(c);
    nc_walrus_fetcher_free(w);
    oc_http_stop(srv);
    fake_reset();
    oc_buf_free(&got);
    bundle_free(&b);
    free(keyfile);
    free(img);
    free(q);
}
