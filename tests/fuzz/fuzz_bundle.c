/*
 * libFuzzer target: bundle extraction (euca-compat/bundle.c).
 *
 * Input: byte 0 chooses the path, bytes 1-2 are the image size the
 * manifest declares (big-endian), the rest is the decrypted stream (what
 * should be a gzipped tar).
 *   - byte 0 even: the stream goes straight to the gunzip + untar stage
 *     (euca_bundle_unpack_mem).
 *   - byte 0 odd: the stream is encrypted with a fixed AES key whose
 *     RSA-encrypted form is in a manifest made once at start, split into
 *     1-4 parts ((byte 0 >> 1) & 3) with their SHA-1s, and extracted
 *     through euca_bundle_extract as a node would.
 * The image digest given is the SHA-1 of the stream's gunzipped bytes when
 * the harness can gunzip it (so success is reachable), else a fixed one.
 * Checked: no crash, no leak, no hang; success only with exactly the
 * declared size written.
 */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "common/codec.h"
#include "euca-compat/bundle.h"
#include "euca-compat/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 4
#define GUNZIP_MAX (2u << 20)

static char *key_pem;
static size_t key_pem_len;
static char *enc_key_hex, *enc_iv_hex;
static uint8_t aes_key[16], aes_iv[16];
static int null_fd = -1;

static char *rsa_encrypt_hex(EVP_PKEY *k, const char *text)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
    unsigned char ct[512];
    size_t ctlen = sizeof(ct);
    char *hex;

    if (!ctx || EVP_PKEY_encrypt_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_encrypt(ctx, ct, &ctlen, (const unsigned char *)text, strlen(text)) != 1)
        abort();
    EVP_PKEY_CTX_free(ctx);
    hex = malloc(2 * ctlen + 1);
    if (!hex)
        abort();
    oc_hex_encode(ct, ctlen, hex);
    return hex;
}

static void init(void)
{
    /* 1024 bits: the RSA decryption runs on every input. */
    EVP_PKEY *k = EVP_RSA_gen(1024);
    BIO *b = BIO_new(BIO_s_mem());
    char hex[33], *p;
    long n;

    if (!k || !b || PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1)
        abort();
    n = BIO_get_mem_data(b, &p);
    key_pem = malloc((size_t)n);
    if (!key_pem)
        abort();
    memcpy(key_pem, p, (size_t)n);
    key_pem_len = (size_t)n;
    for (int i = 0; i < 16; i++) {
        aes_key[i] = (uint8_t)(i * 17 + 3);
        aes_iv[i] = (uint8_t)(255 - i * 7);
    }
    oc_hex_encode(aes_key, 16, hex);
    enc_key_hex = rsa_encrypt_hex(k, hex);
    oc_hex_encode(aes_iv, 16, hex);
    enc_iv_hex = rsa_encrypt_hex(k, hex);
    BIO_free(b);
    EVP_PKEY_free(k);
    null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null_fd < 0)
        abort();
}

static void sha1_hex(const void *d, size_t len, char out[41])
{
    uint8_t raw[20];
    struct oc_digest *g = oc_digest_new(OC_DIGEST_SHA1);

    oc_digest_update(g, d, len);
    oc_digest_final(g, raw);
    oc_digest_free(g);
    oc_hex_encode(raw, 20, out);
}

/* SHA-1 of the gunzipped stream (members concatenated), when it is one. */
static int gunzip_sha1(const uint8_t *gz, size_t len, char out[41])
{
    static uint8_t buf[65536];
    struct oc_digest *g = oc_digest_new(OC_DIGEST_SHA1);
    z_stream z = { 0 };
    uint8_t raw[20];
    size_t total = 0;
    int ok = 0, zr = Z_OK;

    if (len == 0 || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
        oc_digest_free(g);
        return 0;
    }
    z.next_in = (Bytef *)gz;
    z.avail_in = (uInt)len;
    for (;;) {
        z.next_out = buf;
        z.avail_out = sizeof(buf);
        zr = inflate(&z, Z_NO_FLUSH);
        oc_digest_update(g, buf, sizeof(buf) - z.avail_out);
        total += sizeof(buf) - z.avail_out;
        if (total > GUNZIP_MAX)
            break;
        if (zr == Z_STREAM_END) {
            if (z.avail_in == 0) {
                ok = 1;
                break;
            }
            if (inflateReset(&z) != Z_OK)
                break;
            continue;
        }
        if (zr != Z_OK)
            break;
    }
    inflateEnd(&z);
    oc_digest_final(g, raw);
    oc_digest_free(g);
    oc_hex_encode(raw, 20, out);
    return ok;
}

struct parts {
    uint8_t *enc;
    size_t off[MAX_PARTS + 1];
};

static int open_part(void *ctx, const struct euca_manifest_part *p, int *fd,
                     struct oc_err *err)
{
    struct parts *ps = ctx;
    size_t len = ps->off[p->index + 1] - ps->off[p->index];
    int m = memfd_create("part", MFD_CLOEXEC);

    if (m < 0)
        return oc_err_set(err, OC_EIO, "memfd_create failed");
    if (len && write(m, ps->enc + ps->off[p->index], len) != (ssize_t)len) {
        close(m);
        return oc_err_set(err, OC_EIO, "memfd write failed");
    }
    lseek(m, 0, SEEK_SET);
    *fd = m;
    return OC_OK;
}

static int run_bundle(const uint8_t *plain, size_t len, unsigned nparts, uint64_t isize,
                      const char *digest, uint64_t *out_size, struct oc_err *err)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    struct euca_manifest m;
    struct euca_manifest_part parts[MAX_PARTS];
    char names[MAX_PARTS][16], digests[MAX_PARTS][41];
    struct parts ps = { 0 };
    struct euca_bundle_source src = { open_part, &ps };
    size_t enc_len = 0;
    int n = 0, rc;

    ps.enc = malloc(len + 32);
    if (!c || !ps.enc || EVP_EncryptInit_ex(c, EVP_aes_128_cbc(), NULL, aes_key, aes_iv) != 1 ||
        EVP_EncryptUpdate(c, ps.enc, &n, plain, (int)len) != 1)
        abort();
    enc_len = (size_t)n;
    if (EVP_EncryptFinal_ex(c, ps.enc + enc_len, &n) != 1)
        abort();
    enc_len += (size_t)n;
    EVP_CIPHER_CTX_free(c);

    memset(&m, 0, sizeof(m));
    for (unsigned i = 0; i <= nparts; i++)
        ps.off[i] = enc_len * i / nparts;
    for (unsigned i = 0; i < nparts; i++) {
        snprintf(names[i], sizeof(names[i]), "f.part.%u", i);
        sha1_hex(ps.enc + ps.off[i], ps.off[i + 1] - ps.off[i], digests[i]);
        parts[i].index = i;
        parts[i].filename = names[i];
        parts[i].digest = digests[i];
    }
    m.digest = digest;
    m.size = isize;
    m.bundled_size = enc_len;
    m.enc_algorithm = "AES-128-CBC";
    m.ec2_encrypted_key = enc_key_hex;
    m.ec2_encrypted_iv = enc_iv_hex;
    m.parts = parts;
    m.nparts = nparts;
    rc = euca_bundle_extract(&m, key_pem, key_pem_len, &src, null_fd, out_size, err);
    free(ps.enc);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    struct oc_err err = { 0 };
    char digest[41];
    uint64_t isize, out = UINT64_MAX;
    const uint8_t *plain;
    size_t plen;
    int rc;

    if (!ready) {
        init();
        ready = 1;
    }
    if (size < 3 || size > (1u << 20))
        return 0;
    isize = (uint64_t)data[1] << 8 | data[2];
    plain = data + 3;
    plen = size - 3;
    if (!gunzip_sha1(plain, plen, digest))
        snprintf(digest, sizeof(digest), "%s", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    if (lseek(null_fd, 0, SEEK_SET) < 0)
        abort();
    if (data[0] & 1)
        rc = run_bundle(plain, plen, 1 + ((data[0] >> 1) & 3), isize, digest, &out, &err);
    else
        rc = euca_bundle_unpack_mem(plain, plen, digest, isize, null_fd, &out, &err);
    if (rc == OC_OK && out != isize)
        abort();
    if (rc != OC_OK && (err.code != rc || !err.msg[0]))
        abort();
    return 0;
}
