#include "common/codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

void oc_hex_encode(const uint8_t *in, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long oc_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap)
{
    if (inlen % 2 || inlen / 2 > outcap)
        return -1;
    for (size_t i = 0; i < inlen / 2; i++) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (long)(inlen / 2);
}

int oc_base64_encode(const uint8_t *in, size_t len, struct oc_buf *out)
{
    size_t need = 4 * ((len + 2) / 3);
    int rc = oc_buf_reserve(out, need);

    if (rc)
        return rc;
    EVP_EncodeBlock((unsigned char *)out->data + out->len, in, (int)len);
    out->len += need;
    out->data[out->len] = '\0';
    return OC_OK;
}

static int b64val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long oc_base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap)
{
    size_t o = 0;

    if (inlen % 4)
        return -1;
    for (size_t i = 0; i < inlen; i += 4) {
        int v[4], pad = 0;

        for (int j = 0; j < 4; j++) {
            if (in[i + j] == '=' && i + 4 == inlen && j >= 2) {
                v[j] = 0;
                pad++;
            } else {
                if (pad)
                    return -1;
                v[j] = b64val(in[i + j]);
                if (v[j] < 0)
                    return -1;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 |
                     (uint32_t)v[3];
        for (int j = 0; j < 3 - pad; j++) {
            if (o >= outcap)
                return -1;
            out[o++] = (uint8_t)(w >> (16 - 8 * j));
        }
    }
    return (long)o;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int oc_uri_encode(const char *in, size_t len, int keep_slash, struct oc_buf *out)
{
    static const char up[] = "0123456789ABCDEF";
    int rc = oc_buf_reserve(out, len * 3);

    if (rc)
        return rc;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];

        if (unreserved(c) || (keep_slash && c == '/')) {
            out->data[out->len++] = (char)c;
        } else {
            out->data[out->len++] = '%';
            out->data[out->len++] = up[c >> 4];
            out->data[out->len++] = up[c & 15];
        }
    }
    out->data[out->len] = '\0';
    return OC_OK;
}

int oc_uri_is_canonical(const char *in, size_t len, int keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        int hi, lo;

        if (unreserved(c) || (keep_slash && c == '/'))
            continue;
        if (c != '%' || len - i < 3)
            return 0;
        /* Upper-case hex only, and only for a byte that must be escaped. */
        if (in[i + 1] >= 'a' || in[i + 2] >= 'a')
            return 0;
        hi = hexval(in[i + 1]);
        lo = hexval(in[i + 2]);
        if (hi < 0 || lo < 0)
            return 0;
        c = (unsigned char)(hi << 4 | lo);
        if (c == 0 || unreserved(c) || (keep_slash && c == '/'))
            return 0;
        i += 2;
    }
    return 1;
}

int oc_url_decode_raw(const char *in, size_t len, int plus_is_space, char *out,
                      size_t *outlen)
{
    size_t o = 0, i = 0;

    while (i < len) {
        /* Copy the run up to the next byte that needs work in one go. */
        size_t run = 0;

        while (i + run < len && in[i + run] != '%' && (in[i + run] != '+' || !plus_is_space) &&
               in[i + run] != '\0')
            run++;
        memcpy(out + o, in + i, run);
        o += run;
        i += run;
        if (i == len)
            break;
        if (in[i] == '\0')
            return OC_EINVAL;
        if (in[i] == '+') {
            out[o++] = ' ';
            i++;
            continue;
        }
        {
            int hi, lo;

            if (len - i < 3)
                return OC_EINVAL;
            hi = hexval(in[i + 1]);
            lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return OC_EINVAL;
            out[o++] = (char)(hi << 4 | lo);
            i += 3;
        }
    }
    out[o] = '\0';
    *outlen = o;
    return OC_OK;
}

int oc_url_decode(const char *in, size_t len, int plus_is_space, struct oc_buf *out)
{
    size_t n = 0;
    int rc = oc_buf_reserve(out, len);

    if (rc)
        return rc;
    rc = oc_url_decode_raw(in, len, plus_is_space, out->data + out->len, &n);
    if (rc) {
        out->data[out->len] = '\0';
        return rc;
    }
    out->len += n;
    return OC_OK;
}

/*
 * OpenSSL 3 looks algorithms up by name ("fetches") on every use of the
 * legacy EVP_sha256()-style handles, which costs more than hashing a short
 * string.  Fetch each algorithm once for the process and reuse it.
 */
static EVP_MD *md_md5, *md_sha1, *md_sha256;
static EVP_MAC *mac_hmac;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void)
{
    md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!md_md5 || !md_sha1 || !md_sha256 || !mac_hmac) {
        fprintf(stderr, "overcast: OpenSSL lacks MD5, SHA-1, SHA-256 or HMAC\n");
        abort();
    }
}

static const EVP_MD *md_get(enum oc_digest_kind kind)
{
    pthread_once(&fetch_once, fetch_algorithms);
    return kind == OC_DIGEST_MD5 ? md_md5 : kind == OC_DIGEST_SHA1 ? md_sha1 : md_sha256;
}

static void digest_once(const EVP_MD *md, const void *data, size_t len, uint8_t *out)
{
    unsigned int n = 0;

    if (!EVP_Digest(data, len, out, &n, md, NULL)) {
        fprintf(stderr, "overcast: EVP_Digest failed\n");
        abort();
    }
}

void oc_md5(const void *data, size_t len, uint8_t out[OC_MD5_LEN])
{
    digest_once(md_get(OC_DIGEST_MD5), data, len, out);
}

void oc_sha256(const void *data, size_t len, uint8_t out[OC_SHA256_LEN])
{
    digest_once(md_get(OC_DIGEST_SHA256), data, len, out);
}

void oc_sha256_hex(const void *data, size_t len, char out[2 * OC_SHA256_LEN + 1])
{
    uint8_t d[OC_SHA256_LEN];

    oc_sha256(data, len, d);
    oc_hex_encode(d, sizeof(d), out);
}

/*
 * HMAC through EVP_MAC with the pre-fetched algorithms.  Each thread keeps
 * one context per digest, so a MAC costs an init, an update and a final,
 * with no allocation and no name lookups.
 */
struct hmac_tls {
    EVP_MAC_CTX *sha1, *sha256;
};
static pthread_key_t hmac_key;

static void hmac_tls_free(void *p)
{
    struct hmac_tls *t = p;

    EVP_MAC_CTX_free(t->sha1);
    EVP_MAC_CTX_free(t->sha256);
    free(t);
}

static void hmac_key_create(void)
{
    if (pthread_key_create(&hmac_key, hmac_tls_free) != 0)
        abort();
}

static void hmac_once(enum oc_digest_kind kind, const void *key, size_t klen,
                      const void *data, size_t dlen, uint8_t *out, size_t outlen)
{
    static pthread_once_t key_once = PTHREAD_ONCE_INIT;
    struct hmac_tls *t;
    EVP_MAC_CTX **ctxp;
    size_t n = 0;

    md_get(kind);
    pthread_once(&key_once, hmac_key_create);
    t = pthread_getspecific(hmac_key);
    if (!t) {
        /* Freed by the key's destructor when the thread exits. */
        t = calloc(1, sizeof(*t));
        if (!t || pthread_setspecific(hmac_key, t) != 0)
            abort();
    }
    ctxp = kind == OC_DIGEST_SHA1 ? &t->sha1 : &t->sha256;
    if (!*ctxp) {
        OSSL_PARAM params[2];

        *ctxp = EVP_MAC_CTX_new(mac_hmac);
        params[0] = OSSL_PARAM_construct_utf8_string(
            "digest", (char *)(kind == OC_DIGEST_SHA1 ? "SHA1" : "SHA256"), 0);
        params[1] = OSSL_PARAM_construct_end();
        if (!*ctxp || !EVP_MAC_CTX_set_params(*ctxp, params))
            abort();
    }
    if (!EVP_MAC_init(*ctxp, key, klen, NULL) || !EVP_MAC_update(*ctxp, data, dlen) ||
        !EVP_MAC_final(*ctxp, out, &n, outlen) || n != outlen)
        abort();
}

void oc_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen,
                    uint8_t out[OC_SHA256_LEN])
{
    hmac_once(OC_DIGEST_SHA256, key, klen, data, dlen, out, OC_SHA256_LEN);
}

void oc_hmac_sha1(const void *key, size_t klen, const void *data, size_t dlen,
                  uint8_t out[OC_SHA1_LEN])
{
    hmac_once(OC_DIGEST_SHA1, key, klen, data, dlen, out, OC_SHA1_LEN);
}

struct oc_digest {
    EVP_MD_CTX *ctx;
};

struct oc_digest *oc_digest_new(enum oc_digest_kind kind)
{
    const EVP_MD *md = md_get(kind);
    struct oc_digest *d = malloc(sizeof(*d));

    if (!d)
        return NULL;
    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx || !EVP_DigestInit_ex(d->ctx, md, NULL)) {
        EVP_MD_CTX_free(d->ctx);
        free(d);
        return NULL;
    }
    return d;
}

void oc_digest_update(struct oc_digest *d, const void *data, size_t len)
{
    if (len)
        EVP_DigestUpdate(d->ctx, data, len);
}

size_t oc_digest_final(struct oc_digest *d, uint8_t *out)
{
    unsigned int n = 0;

    EVP_DigestFinal_ex(d->ctx, out, &n);
    return n;
}

void oc_digest_free(struct oc_digest *d)
{
    if (!d)
        return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}

int oc_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return 0;
    return CRYPTO_memcmp(a, b, alen) == 0;
}

void oc_random_bytes(void *out, size_t len)
{
    if (RAND_bytes(out, (int)len) != 1) {
        fprintf(stderr, "overcast: RAND_bytes failed\n");
        abort();
    }
}
