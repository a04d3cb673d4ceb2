/*
 * keypairs.c - EC2 key pairs: CreateKeyPair, ImportKeyPair,
 * DescribeKeyPairs, DeleteKeyPair (see keypairs.h for fingerprints).
 *
 * CreateKeyPair generates the key with OpenSSL and returns the private key
 * once: RSA as a PKCS#1 PEM ("BEGIN RSA PRIVATE KEY", as EC2 does), ED25519
 * in the OpenSSH private key format (as EC2 does), or either as a PuTTY
 * file with KeyFormat=ppk.  Only the public half is stored.  Names are unique per account; every row belongs to one account
 * and no other account can see or delete it.
 */
#include "clc/keypairs.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clc/clc.h"
#include "common/codec.h"
#include "common/ids.h"

#define MAX_PUBKEY_TEXT 16384

/* ------------------------------------------------------------------ */
/* OpenSSH wire format: uint32 length-prefixed strings and mpints */

static int put_u32(struct oc_buf *b, uint32_t v)
{
    uint8_t x[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };

    return oc_buf_append(b, x, 4);
}

static int put_string(struct oc_buf *b, const void *p, size_t n)
{
    return put_u32(b, (uint32_t)n) || oc_buf_append(b, p, n);
}

static int put_mpint(struct oc_buf *b, const BIGNUM *bn)
{
    int n = BN_num_bytes(bn);
    uint8_t *tmp = malloc((size_t)n + 1);
    int rc;

    if (!tmp)
        return OC_ENOMEM;
    tmp[0] = 0;
    BN_bn2bin(bn, tmp + 1);
    /* A leading zero keeps a high first bit from reading as negative. */
    rc = (n > 0 && (tmp[1] & 0x80)) ? put_string(b, tmp, (size_t)n + 1)
                                    : put_string(b, tmp + 1, (size_t)n);
    free(tmp);
    return rc;
}

struct reader {
    const uint8_t *p;
    size_t left;
};

static int get_string(struct reader *r, const uint8_t **s, size_t *n)
{
    uint32_t len;

    if (r->left < 4)
        return -1;
    len = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    if (len > r->left - 4)
        return -1;
    *s = r->p + 4;
    *n = len;
    r->p += 4 + len;
    r->left -= 4 + len;
    return 0;
}

/* The OpenSSH public key blob of pkey. */
static int pubkey_blob(EVP_PKEY *pkey, struct oc_buf *out)
{
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
        uint8_t raw[32];
        size_t n = sizeof(raw);

        if (EVP_PKEY_get_raw_public_key(pkey, raw, &n) != 1 || n != 32)
            return OC_EINTERNAL;
        return put_string(out, "ssh-ed25519", 11) || put_string(out, raw, 32) ? OC_ENOMEM
                                                                               : OC_OK;
    } else {
        BIGNUM *n = NULL, *e = NULL;
        int rc = OC_EINTERNAL;

        if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
            EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) == 1)
            rc = put_string(out, "ssh-rsa", 7) || put_mpint(out, e) || put_mpint(out, n)
                     ? OC_ENOMEM : OC_OK;
        BN_free(n);
        BN_free(e);
        return rc;
    }
}

int clc_pubkey_openssh(EVP_PKEY *pkey, struct oc_buf *out)
{
    const char *type = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? "ssh-ed25519 "
                                                                       : "ssh-rsa ";
    struct oc_buf blob = { 0 };
    int rc = pubkey_blob(pkey, &blob);

    if (rc == OC_OK && (oc_buf_puts(out, type) ||
                        oc_base64_encode((const uint8_t *)blob.data, blob.len, out)))
        rc = OC_ENOMEM;
    oc_buf_free(&blob);
    return rc;
}

static int colon_hex(const uint8_t *d, size_t n, struct oc_buf *out)
{
    for (size_t i = 0; i < n; i++)
        if (oc_buf_printf(out, "%s%02x", i ? ":" : "", d[i]))
            return OC_ENOMEM;
    return OC_OK;
}

int clc_pubkey_fingerprint(EVP_PKEY *pkey, struct oc_buf *out)
{
    uint8_t md[32];

    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
        struct oc_buf blob = { 0 };
        int rc = pubkey_blob(pkey, &blob);

        if (rc == OC_OK) {
            oc_sha256(blob.data, blob.len, md);
            rc = oc_base64_encode(md, 32, out) ? OC_ENOMEM : OC_OK;
        }
        oc_buf_free(&blob);
        return rc;
    } else {
        uint8_t *der = NULL;
        int n = i2d_PUBKEY(pkey, &der);

        if (n <= 0)
            return OC_EINTERNAL;
        oc_md5(der, (size_t)n, md);
        OPENSSL_free(der);
        return colon_hex(md, 16, out);
    }
}

int clc_privkey_fingerprint(EVP_PKEY *pkey, struct oc_buf *out)
{
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
    uint8_t *der = NULL, md[20];
    int n = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, &der) : -1;
    int rc;

    PKCS8_PRIV_KEY_INFO_free(p8);
    if (n <= 0)
        return OC_EINTERNAL;
    EVP_Digest(der, (size_t)n, md, NULL, EVP_sha1(), NULL);
    OPENSSL_clear_free(der, (size_t)n);
    rc = colon_hex(md, 20, out);
    return rc;
}

/* ------------------------------------------------------------------ */
/* parsing imported keys
 *
 * AWS documents three forms for ImportKeyPair: the OpenSSH one-line form,
 * base64-encoded DER, and the RFC 4716 SSH2 file.  PEM (SubjectPublicKeyInfo
 * or PKCS#1 "RSA PUBLIC KEY", what `ssh-keygen -e -m PKCS8|PEM` writes) and
 * binary DER are accepted too.  Only RSA and ED25519 keys are kept.
 */

static EVP_PKEY *rsa_from_ne(const uint8_t *e, size_t elen, const uint8_t *n, size_t nlen)
{
    BIGNUM *bn = BN_bin2bn(n, (int)nlen, NULL), *be = BN_bin2bn(e, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;

    if (bn && be && bld && ctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) &&
        (params = OSSL_PARAM_BLD_to_param(bld)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
        pkey = NULL;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(bn);
    BN_free(be);
    return pkey;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Base64 with any whitespace in it (wrapped lines); malloc'd bytes in *out. */
static long b64_decode_loose(const char *in, size_t len, uint8_t **out)
{
    char *clean = malloc(len + 1);
    size_t n = 0;
    long got = -1;

    *out = NULL;
    if (!clean)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!is_space(in[i]))
            clean[n++] = in[i];
    *out = malloc(n + 1);
    if (*out && n > 0)
        got = oc_base64_decode(clean, n, *out, n + 1);
    free(clean);
    if (got <= 0) {
        free(*out);
        *out = NULL;
        return -1;
    }
    return got;
}

/* An OpenSSH key blob: string type, then e and n (RSA) or the 32-byte key.
 * want is the type named outside the blob (the OpenSSH line's first word)
 * or NULL. */
static int parse_blob(const uint8_t *blob, size_t len, const char *want, size_t wantlen,
                      struct clc_pubkey *out, struct oc_err *err)
{
    struct reader rd = { blob, len };
    const uint8_t *t, *s2, *s3;
    size_t tlen, n2, n3;

    if (get_string(&rd, &t, &tlen))
        return oc_err_set(err, OC_EINVAL, "the key body is not an OpenSSH key blob");
    if (want && (tlen != wantlen || memcmp(t, want, tlen) != 0))
        return oc_err_set(err, OC_EINVAL, "the key's type and body do not agree");
    if (tlen == 7 && memcmp(t, "ssh-rsa", 7) == 0) {
        out->type = "rsa";
        /* mpints are positive here: a set top bit would be a negative e or n */
        if (get_string(&rd, &s2, &n2) || get_string(&rd, &s3, &n3) || rd.left || !n2 ||
            !n3 || (s2[0] & 0x80) || (s3[0] & 0x80) ||
            !(out->pkey = rsa_from_ne(s2, n2, s3, n3)))
            return oc_err_set(err, OC_EINVAL, "malformed ssh-rsa key");
        return OC_OK;
    }
    if (tlen == 11 && memcmp(t, "ssh-ed25519", 11) == 0) {
        out->type = "ed25519";
        if (get_string(&rd, &s2, &n2) || n2 != 32 || rd.left ||
            !(out->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, s2, 32)))
            return oc_err_set(err, OC_EINVAL, "malformed ssh-ed25519 key");
        return OC_OK;
    }
    return oc_err_set(err, OC_EINVAL, "key type '%.*s' is not supported (ssh-rsa and "
                      "ssh-ed25519 are)", (int)(tlen > 32 ? 32 : tlen), (const char *)t);
}

/* DER SubjectPublicKeyInfo (RSA or ED25519) or PKCS#1 RSAPublicKey. */
static int parse_der(const uint8_t *der, size_t len, struct clc_pubkey *out,
                     struct oc_err *err)
{
    const unsigned char *p = der;
    int id;

    if (len > LONG_MAX)
        return oc_err_set(err, OC_EINVAL, "the key is too long");
    out->pkey = d2i_PUBKEY(NULL, &p, (long)len);
    if (!out->pkey || p != der + len) {
        EVP_PKEY_free(out->pkey);
        p = der;
        out->pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)len);
        if (!out->pkey || p != der + len)
            return oc_err_set(err, OC_EINVAL, "not a DER public key");
    }
    id = EVP_PKEY_get_base_id(out->pkey);
    if (id == EVP_PKEY_RSA)
        out->type = "rsa";
    else if (id == EVP_PKEY_ED25519)
        out->type = "ed25519";
    else
        return oc_err_set(err, OC_EINVAL, "only RSA and ED25519 keys are supported");
    return OC_OK;
}

static int parse_pem(const char *text, size_t len, struct clc_pubkey *out,
                     struct oc_err *err)
{
    BIO *bio = BIO_new_mem_buf(text, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long n = 0;
    int rc;

    if (!bio)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    if (PEM_read_bio(bio, &name, &header, &data, &n) != 1 || n <= 0)
        rc = oc_err_set(err, OC_EINVAL, "malformed PEM");
    else if (strcmp(name, "PUBLIC KEY") != 0 && strcmp(name, "RSA PUBLIC KEY") != 0)
        rc = oc_err_set(err, OC_EINVAL, "PEM '%.40s' is not a public key", name);
    else
        rc = parse_der(data, (size_t)n, out, err);
    if (rc == OC_OK && strcmp(name, "RSA PUBLIC KEY") == 0 && strcmp(out->type, "rsa") != 0)
        rc = oc_err_set(err, OC_EINVAL, "malformed RSA PUBLIC KEY");
    if (data)
        OPENSSL_free(data);
    OPENSSL_free(name);
    OPENSSL_free(header);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

static int starts(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);

    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

/* RFC 4716: a BEGIN line, "Tag: value" headers (continued by a trailing
 * backslash), base64 body lines, an END line. */
static int parse_rfc4716(const char *text, size_t len, struct clc_pubkey *out,
                         struct oc_err *err)
{
    const char *p = text, *end = text + len;
    struct oc_buf body = { 0 };
    int in_header = 1, cont = 0, done = 0, rc;
    uint8_t *blob = NULL;
    long n;

    p = memchr(p, '\n', (size_t)(end - p));     /* past the BEGIN line */
    while (p && p < end && !done) {
        const char *line = p + 1, *eol = memchr(line, '\n', (size_t)(end - line));
        const char *le = eol ? eol : end;

        while (le > line && is_space(le[-1]))
            le--;
        if (starts(line, le, "---- END SSH2 PUBLIC KEY ----")) {
            done = 1;
        } else if (cont) {
            cont = le > line && le[-1] == '\\';
        } else if (in_header && memchr(line, ':', (size_t)(le - line))) {
            cont = le > line && le[-1] == '\\';
        } else {
            in_header = 0;
            if (oc_buf_append(&body, line, (size_t)(le - line))) {
                oc_buf_free(&body);
                return oc_err_set(err, OC_ENOMEM, "out of memory");
            }
        }
        p = eol;
    }
    if (!done) {
        oc_buf_free(&body);
        return oc_err_set(err, OC_EINVAL, "RFC 4716 key without its END line");
    }
    n = b64_decode_loose(body.data ? body.data : "", body.len, &blob);
    rc = n > 0 ? parse_blob(blob, (size_t)n, NULL, 0, out, err)
               : oc_err_set(err, OC_EINVAL, "the RFC 4716 key body is not base64");
    free(blob);
    oc_buf_free(&body);
    return rc;
}

/* "type base64 [comment]" */
static int parse_openssh(const char *text, size_t len, struct clc_pubkey *out,
                         struct oc_err *err)
{
    const char *end = text + len, *t = text, *b64, *bend;
    uint8_t *blob = NULL;
    size_t tlen;
    long n;
    int rc;

    while (t < end && !is_space(*t))
        t++;
    tlen = (size_t)(t - text);
    b64 = t;
    while (b64 < end && (*b64 == ' ' || *b64 == '\t'))
        b64++;
    bend = b64;
    while (bend < end && !is_space(*bend))
        bend++;
    if (bend == b64)
        return oc_err_set(err, OC_EINVAL, "not an OpenSSH public key");
    n = b64_decode_loose(b64, (size_t)(bend - b64), &blob);
    if (n <= 0)
        return oc_err_set(err, OC_EINVAL, "the key body is not base64");
    rc = parse_blob(blob, (size_t)n, text, tlen, out, err);
    free(blob);
    return rc;
}

static int is_b64_text(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_space(p[i]) && !(p[i] >= 'A' && p[i] <= 'Z') && !(p[i] >= 'a' && p[i] <= 'z') &&
            !(p[i] >= '0' && p[i] <= '9') && p[i] != '+' && p[i] != '/' && p[i] != '=')
            return 0;
    return 1;
}

/*
 * AWS takes RSA keys of 1024 to 4096 bits.  Beyond the size, only what
 * makes a key unusable is refused (even modulus, even or tiny exponent):
 * OpenSSL's SP 800-56B check would also refuse old keys with e = 35.
 */
static int rsa_check(EVP_PKEY *pkey, struct oc_err *err)
{
    BIGNUM *n = NULL, *e = NULL;
    int bits = EVP_PKEY_get_bits(pkey), rc = OC_OK;

    if (bits < 1024 || bits > 4096)
        return oc_err_set(err, OC_EINVAL, "RSA keys must be 1024 to 4096 bits, not %d", bits);
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
        rc = oc_err_set(err, OC_EINVAL, "the RSA key has no modulus or exponent");
    else if (!BN_is_odd(n) || !BN_is_odd(e) || BN_is_one(e) || BN_cmp(e, n) >= 0)
        rc = oc_err_set(err, OC_EINVAL, "the RSA key's modulus or exponent is not valid");
    BN_free(n);
    BN_free(e);
    return rc;
}

int clc_pubkey_parse(const char *text, size_t len, struct clc_pubkey *out, struct oc_err *err)
{
    const char *end;
    int rc;

    memset(out, 0, sizeof(*out));
    while (len && is_space(*text)) {
        text++;
        len--;
    }
    if (len > MAX_PUBKEY_TEXT)
        return oc_err_set(err, OC_EINVAL, "the key is too long");
    /* Binary DER first, before trailing bytes that look like spaces go. */
    if (len && (unsigned char)text[0] == 0x30 && !is_b64_text(text, len)) {
        rc = parse_der((const uint8_t *)text, len, out, err);
        goto checks;
    }
    while (len && is_space(text[len - 1]))
        len--;
    end = text + len;
    if (len == 0)
        return oc_err_set(err, OC_EINVAL, "the key is empty");
    if (starts(text, end, "-----BEGIN ")) {
        rc = parse_pem(text, len, out, err);
    } else if (starts(text, end, "---- BEGIN SSH2 PUBLIC KEY ----")) {
        rc = parse_rfc4716(text, len, out, err);
    } else if (is_b64_text(text, len)) {
        /* Base64 DER (AWS's second documented form), or a bare key blob. */
        uint8_t *bin = NULL;
        long n = b64_decode_loose(text, len, &bin);

        if (n <= 0)
            rc = oc_err_set(err, OC_EINVAL, "not a supported public key format");
        else if (bin[0] == 0x30)
            rc = parse_der(bin, (size_t)n, out, err);
        else
            rc = parse_blob(bin, (size_t)n, NULL, 0, out, err);
        free(bin);
    } else {
        rc = parse_openssh(text, len, out, err);
    }
checks:
    ERR_clear_error();
    if (rc == OC_OK && strcmp(out->type, "rsa") == 0)
        rc = rsa_check(out->pkey, err);
    if (rc) {
        EVP_PKEY_free(out->pkey);
        out->pkey = NULL;
        out->type = NULL;
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* private key formats */

static int rsa_private_pem(EVP_PKEY *pkey, struct oc_buf *out)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long n;
    int rc = OC_EINTERNAL;

    if (bio && PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0, NULL, NULL)) {
        n = BIO_get_mem_data(bio, &data);
        rc = oc_buf_append(out, data, (size_t)n) ? OC_ENOMEM : OC_OK;
        OPENSSL_cleanse(data, (size_t)n);
    }
    BIO_free(bio);
    return rc;
}

/* Base64 of data in lines of width characters. */
static int b64_lines(const void *data, size_t len, size_t width, struct oc_buf *out,
                     size_t *nlines)
{
    struct oc_buf b64 = { 0 };
    int rc = OC_ENOMEM;

    *nlines = 0;
    if (oc_base64_encode(data, len, &b64))
        goto cleanup;
    for (size_t i = 0; i < b64.len; i += width, (*nlines)++)
        if (oc_buf_append(out, b64.data + i, b64.len - i < width ? b64.len - i : width) ||
            oc_buf_putc(out, '\n'))
            goto cleanup;
    rc = OC_OK;
cleanup:
    if (b64.data)
        OPENSSL_cleanse(b64.data, b64.len);
    oc_buf_free(&b64);
    return rc;
}

static void buf_clear_free(struct oc_buf *b)
{
    if (b->data)
        OPENSSL_cleanse(b->data, b->len);
    oc_buf_free(b);
}

/* The "openssh-key-v1" format, unencrypted, as ssh-keygen writes it. */
static int ed25519_private_openssh(EVP_PKEY *pkey, struct oc_buf *out)
{
    struct oc_buf blob = { 0 }, priv = { 0 }, all = { 0 };
    uint8_t seed[32], pub[32], both[64], check[4];
    size_t sn = 32, pn = 32, nlines;
    int rc = OC_ENOMEM;

    if (EVP_PKEY_get_raw_private_key(pkey, seed, &sn) != 1 || sn != 32 ||
        EVP_PKEY_get_raw_public_key(pkey, pub, &pn) != 1 || pn != 32)
        return OC_EINTERNAL;
    memcpy(both, seed, 32);
    memcpy(both + 32, pub, 32);
    oc_random_bytes(check, sizeof(check));
    if (pubkey_blob(pkey, &blob) || oc_buf_append(&priv, check, 4) ||
        oc_buf_append(&priv, check, 4) || put_string(&priv, "ssh-ed25519", 11) ||
        put_string(&priv, pub, 32) || put_string(&priv, both, 64) || put_string(&priv, "", 0))
        goto cleanup;
    for (uint8_t pad = 1; priv.len % 8; pad++)
        if (oc_buf_putc(&priv, (char)pad))
            goto cleanup;
    if (oc_buf_append(&all, "openssh-key-v1", 15) || put_string(&all, "none", 4) ||
        put_string(&all, "none", 4) || put_string(&all, "", 0) || put_u32(&all, 1) ||
        put_string(&all, blob.data, blob.len) || put_string(&all, priv.data, priv.len) ||
        oc_buf_puts(out, "-----BEGIN OPENSSH PRIVATE KEY-----\n") ||
        b64_lines(all.data, all.len, 70, out, &nlines))
        goto cleanup;
    rc = oc_buf_puts(out, "-----END OPENSSH PRIVATE KEY-----\n") ? OC_ENOMEM : OC_OK;
cleanup:
    OPENSSL_cleanse(seed, sizeof(seed));
    OPENSSL_cleanse(both, sizeof(both));
    buf_clear_free(&priv);
    buf_clear_free(&all);
    oc_buf_free(&blob);
    return rc;
}

/* PuTTY's private blob: d, p, q, iqmp (q^-1 mod p, OpenSSL's coefficient)
 * for RSA; the 32-byte seed for ED25519. */
static int ppk_private_blob(EVP_PKEY *pkey, struct oc_buf *out)
{
    static const char *const names[] = {
        OSSL_PKEY_PARAM_RSA_D, OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    int rc = OC_OK;

    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
        uint8_t seed[32];
        size_t sn = 32;

        if (EVP_PKEY_get_raw_private_key(pkey, seed, &sn) != 1 || sn != 32)
            return OC_EINTERNAL;
        rc = put_string(out, seed, 32) ? OC_ENOMEM : OC_OK;
        OPENSSL_cleanse(seed, sizeof(seed));
        return rc;
    }
    for (size_t i = 0; rc == OC_OK && i < sizeof(names) / sizeof(names[0]); i++) {
        BIGNUM *bn = NULL;

        if (EVP_PKEY_get_bn_param(pkey, names[i], &bn) != 1)
            rc = OC_EINTERNAL;
        else if (put_mpint(out, bn))
            rc = OC_ENOMEM;
        BN_clear_free(bn);
    }
    return rc;
}

/*
 * PuTTY's key file, version 2 (read by every PuTTY; version 3 only by 0.75
 * and later), unencrypted: the MAC is HMAC-SHA-1 under SHA-1 of
 * "putty-private-key-file-mac-key" and the empty passphrase, over the
 * algorithm, encryption, comment, public blob and private blob as strings.
 */
static int ppk_private(EVP_PKEY *pkey, const char *comment, struct oc_buf *out)
{
    static const char mackey_text[] = "putty-private-key-file-mac-key";
    const char *alg = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? "ssh-ed25519"
                                                                    : "ssh-rsa";
    struct oc_buf pub = { 0 }, priv = { 0 }, macdata = { 0 }, body = { 0 };
    uint8_t mackey[20], mac[20];
    char hex[41];
    size_t npub, npriv;
    int rc = OC_ENOMEM;

    if (pubkey_blob(pkey, &pub) || (rc = ppk_private_blob(pkey, &priv)) != OC_OK)
        goto cleanup;
    rc = OC_ENOMEM;
    if (put_string(&macdata, alg, strlen(alg)) || put_string(&macdata, "none", 4) ||
        put_string(&macdata, comment, strlen(comment)) ||
        put_string(&macdata, pub.data, pub.len) || put_string(&macdata, priv.data, priv.len))
        goto cleanup;
    EVP_Digest(mackey_text, strlen(mackey_text), mackey, NULL, EVP_sha1(), NULL);
    oc_hmac_sha1(mackey, sizeof(mackey), macdata.data, macdata.len, mac);
    oc_hex_encode(mac, sizeof(mac), hex);
    if (b64_lines(pub.data, pub.len, 64, &body, &npub) ||
        oc_buf_printf(out, "PuTTY-User-Key-File-2: %s\nEncryption: none\nComment: %s\n"
                      "Public-Lines: %zu\n", alg, comment, npub) ||
        oc_buf_append(out, body.data, body.len))
        goto cleanup;
    oc_buf_reset(&body);
    if (b64_lines(priv.data, priv.len, 64, &body, &npriv) ||
        oc_buf_printf(out, "Private-Lines: %zu\n", npriv) ||
        oc_buf_append(out, body.data, body.len) ||
        oc_buf_printf(out, "Private-MAC: %s\n", hex))
        goto cleanup;
    rc = OC_OK;
cleanup:
    buf_clear_free(&priv);
    buf_clear_free(&macdata);
    buf_clear_free(&body);
    oc_buf_free(&pub);
    return rc;
}

int clc_privkey_material(EVP_PKEY *pkey, const char *format, const char *comment,
                         struct oc_buf *out)
{
    if (format && strcmp(format, "ppk") == 0)
        return ppk_private(pkey, comment ? comment : "", out);
    return EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? ed25519_private_openssh(pkey, out)
                                                          : rsa_private_pem(pkey, out);
}

/* ------------------------------------------------------------------ */
/* storage */

struct kp_row {
    const char *id, *name, *type, *fingerprint, *public_key;
    time_t created;
};

static int name_ok(struct clc_req *r, const char *name)
{
    size_t n = strlen(name);

    if (n == 0 || n > 255)
        return clc_error(r, "InvalidParameterValue", "Key pair names must be 1 to 255 "
                         "characters");
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        if (*c < 0x20 || *c > 0x7e)
            return clc_error(r, "InvalidParameterValue", "Key pair names may hold only "
                             "printable ASCII characters");
    return CLC_OK;
}

static char *col(struct clc_req *r, sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return oc_arena_strdup(r->arena, t ? (const char *)t : "");
}

/* Inserts the key pair and its tags in one transaction, then answers. */
static int kp_store(struct clc_req *r, const char *name, const char *type, const char *fp,
                    const char *pub, const char *material)
{
    char id[32];
    struct oc_err err = { 0 };
    struct clc_tagset tags = { 0 };
    sqlite3_stmt *st;
    int rc;

    oc_resource_id("key", id);
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    st = oc_db_prepare(r->db, "INSERT INTO keypairs (id, account_id, name, key_type,"
                              " fingerprint, public_key, created) VALUES (?,?,?,?,?,?,?)", &err);
    if (!st) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, r->who.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, fp, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, pub, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)r->now);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        oc_db_rollback(r->db);
        return clc_error(r, "InvalidKeyPair.Duplicate", "The keypair '%s' already exists.",
                         name);
    }
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "insert key pair");
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    if (clc_tags_from_spec(r, "key-pair", id)) {
        oc_db_rollback(r->db);
        return CLC_FAILED;
    }
    if (oc_db_commit(r->db, &err)) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    if (clc_tags_load(r, id, &tags))
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "keyName", name);
    oc_xmlw_elem(r->xml, "keyFingerprint", fp);
    if (material)
        oc_xmlw_elem(r->xml, "keyMaterial", material);
    oc_xmlw_elem(r->xml, "keyPairId", id);
    clc_tags_write(r, &tags);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* actions */

static int kp_create(struct clc_req *r)
{
    const char *name, *type = clc_param(r, "KeyType"), *fmt = clc_param(r, "KeyFormat");
    struct oc_buf fp = { 0 }, pub = { 0 }, priv = { 0 };
    EVP_PKEY *pkey = NULL;
    int rc, ed;

    if (clc_param_required(r, "KeyName", &name) || name_ok(r, name))
        return CLC_FAILED;
    if (!type || !*type)
        type = "rsa";
    if (strcmp(type, "rsa") != 0 && strcmp(type, "ed25519") != 0)
        return clc_error(r, "InvalidParameterValue", "Value (%s) for parameter KeyType is "
                         "invalid. Expected: 'rsa' or 'ed25519'.", type);
    if (!fmt || !*fmt)
        fmt = "pem";
    if (strcmp(fmt, "pem") != 0 && strcmp(fmt, "ppk") != 0)
        return clc_error(r, "InvalidParameterValue", "Value (%s) for parameter KeyFormat is "
                         "invalid. Expected: 'pem' or 'ppk'.", fmt);
    if (clc_tags_check_spec(r, "key-pair") || clc_dry_run(r))
        return CLC_FAILED;
    ed = strcmp(type, "ed25519") == 0;
    pkey = ed ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
              : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    if (!pkey)
        return clc_error(r, "InternalError", "An internal error has occurred");
    rc = clc_pubkey_openssh(pkey, &pub);
    if (rc == OC_OK)
        rc = ed ? clc_pubkey_fingerprint(pkey, &fp) : clc_privkey_fingerprint(pkey, &fp);
    if (rc == OC_OK)
        rc = clc_privkey_material(pkey, fmt, name, &priv);
    EVP_PKEY_free(pkey);
    if (rc)
        rc = clc_error(r, "InternalError", "An internal error has occurred");
    else
        rc = kp_store(r, name, type, oc_buf_cstr(&fp), oc_buf_cstr(&pub), oc_buf_cstr(&priv));
    if (priv.data)
        OPENSSL_cleanse(priv.data, priv.len);
    oc_buf_free(&priv);
    oc_buf_free(&pub);
    oc_buf_free(&fp);
    return rc;
}

static int kp_import(struct clc_req *r)
{
    const char *name, *material;
    struct oc_buf fp = { 0 }, pub = { 0 };
    struct clc_pubkey key;
    struct oc_err err = { 0 };
    uint8_t *text = NULL;
    long n;
    int rc;

    if (clc_param_required(r, "KeyName", &name) || name_ok(r, name) ||
        clc_param_required(r, "PublicKeyMaterial", &material))
        return CLC_FAILED;
    if (strlen(material) > MAX_PUBKEY_TEXT * 2)
        return clc_error(r, "InvalidKey.Format", "Key is not in valid OpenSSH public key "
                         "format");
    /*
     * Clients send the key file base64-encoded (awscli fileb://, boto3,
     * boto2).  A key sent as plain text (an OpenSSH line, PEM, RFC 4716) is
     * not valid base64, so it is taken as it is.
     */
    n = b64_decode_loose(material, strlen(material), &text);
    rc = n > 0 ? clc_pubkey_parse((const char *)text, (size_t)n, &key, &err)
               : clc_pubkey_parse(material, strlen(material), &key, &err);
    free(text);
    if (rc != OC_OK)
        return clc_error(r, "InvalidKey.Format", "Key is not in valid OpenSSH public key "
                         "format%s%s", err.msg[0] ? ": " : "", err.msg);
    if (clc_tags_check_spec(r, "key-pair") || clc_dry_run(r)) {
        EVP_PKEY_free(key.pkey);
        return CLC_FAILED;
    }
    rc = clc_pubkey_openssh(key.pkey, &pub);
    if (rc == OC_OK)
        rc = clc_pubkey_fingerprint(key.pkey, &fp);
    rc = rc ? clc_error(r, "InternalError", "An internal error has occurred")
            : kp_store(r, name, key.type, oc_buf_cstr(&fp), oc_buf_cstr(&pub), NULL);
    EVP_PKEY_free(key.pkey);
    oc_buf_free(&pub);
    oc_buf_free(&fp);
    return rc;
}

static const char *const kp_filter_names[] = {
    "key-pair-id", "key-name", "fingerprint", "key-type", NULL,
};

static void kp_attr(void *row, const char *name, struct clc_values *vals)
{
    struct kp_row *k = row;

    if (strcmp(name, "key-pair-id") == 0)
        clc_values_add(vals, k->id);
    else if (strcmp(name, "key-name") == 0)
        clc_values_add(vals, k->name);
    else if (strcmp(name, "fingerprint") == 0)
        clc_values_add(vals, k->fingerprint);
    else if (strcmp(name, "key-type") == 0)
        clc_values_add(vals, k->type);
}

struct kp_named {
    const char **names, **ids;
    size_t nnames, nids;
    int with_pub;
};

static void kp_fill(struct oc_arena *a, sqlite3_stmt *st, void *row)
{
    struct kp_row *k = row;

    k->id = clc_col_text(a, st, 0);
    k->name = clc_col_text(a, st, 1);
    k->type = clc_col_text(a, st, 2);
    k->fingerprint = clc_col_text(a, st, 3);
    k->public_key = clc_col_text(a, st, 4);
    k->created = (time_t)sqlite3_column_int64(st, 5);
}

static const char *kp_row_id(const void *row)
{
    return ((const struct kp_row *)row)->id;
}

static int kp_keep(struct clc_req *r, const void *row, void *ctx)
{
    const struct kp_row *k = row;
    const struct kp_named *nm = ctx;

    (void)r;
    return !(nm->nnames + nm->nids) || clc_in_list(k->name, nm->names, nm->nnames) ||
           clc_in_list(k->id, nm->ids, nm->nids);
}

static void kp_write(struct clc_req *r, const void *row, const struct clc_tagset *tags,
                     void *ctx)
{
    const struct kp_row *k = row;
    const struct kp_named *nm = ctx;
    char when[32];
    struct tm tm;

    gmtime_r(&k->created, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    oc_xmlw_start(r->xml, "item");
    oc_xmlw_elem(r->xml, "keyPairId", k->id);
    oc_xmlw_elem(r->xml, "keyName", k->name);
    oc_xmlw_elem(r->xml, "keyFingerprint", k->fingerprint);
    oc_xmlw_elem(r->xml, "keyType", k->type);
    clc_tags_write(r, tags);
    if (nm->with_pub)
        oc_xmlw_elem(r->xml, "publicKey", k->public_key);
    oc_xmlw_elem(r->xml, "createTime", when);
    oc_xmlw_end(r->xml);
}

static int kp_describe(struct clc_req *r)
{
    struct kp_named nm = { 0 };
    size_t nrows = 0;
    struct clc_filters *filters = NULL;
    struct kp_row *rows = NULL;
    struct clc_describe d = {
        .set_name = "keySet", .tag_type = "key-pair", .row_size = sizeof(struct kp_row),
        .id = kp_row_id, .keep = kp_keep, .attr = kp_attr, .write = kp_write,
    };

    if (clc_param_list(r, "KeyName", &nm.names, &nm.nnames) ||
        clc_param_list(r, "KeyPairId", &nm.ids, &nm.nids) ||
        clc_param_bool(r, "IncludePublicKey", 0, &nm.with_pub) ||
        clc_filters_parse(r, kp_filter_names, &filters))
        return CLC_FAILED;
    /* Not paginated: key pairs are listed by name, whatever their ids. */
    if (clc_describe_rows(r, "SELECT id, name, key_type, fingerprint, public_key, created"
                             " FROM keypairs WHERE account_id = ?1 ORDER BY name",
                          NULL, kp_fill, sizeof(*rows), (void **)&rows, &nrows))
        return CLC_FAILED;
    /* Every key named must exist in the caller's account. */
    for (size_t i = 0; i < nm.nnames + nm.nids; i++) {
        const char *want = i < nm.nnames ? nm.names[i] : nm.ids[i - nm.nnames];
        size_t j = 0;

        while (j < nrows && strcmp(i < nm.nnames ? rows[j].name : rows[j].id, want) != 0)
            j++;
        if (j == nrows)
            return clc_error(r, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist",
                             want);
    }
    d.rows = rows;
    d.nrows = nrows;
    d.filters = filters;
    return clc_describe_run(r, &d, &nm);
}

static int kp_delete(struct clc_req *r)
{
    const char *name = clc_param(r, "KeyName"), *id = clc_param(r, "KeyPairId");
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    char *found = NULL;
    int rc;

    if ((!name || !*name) && (!id || !*id))
        return clc_error(r, "MissingParameter", "The request must contain the parameter "
                         "KeyName or KeyPairId");
    st = oc_db_prepare(r->db, "SELECT id FROM keypairs WHERE account_id = ?1 AND"
                              " (name = ?2 OR id = ?3)", &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id ? id : "", -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        found = col(r, st, 0);
    sqlite3_reset(st);
    /* AWS answers an unknown name with success; an unknown id is an error. */
    if (!found && id && *id && (!name || !*name))
        return clc_error(r, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", id);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (found) {
        if (oc_db_begin(r->db, &err))
            return clc_internal(r, &err);
        st = oc_db_prepare(r->db, "DELETE FROM keypairs WHERE id = ?", &err);
        if (!st) {
            oc_db_rollback(r->db);
            return clc_internal(r, &err);
        }
        sqlite3_bind_text(st, 1, found, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE || clc_tags_drop(r, found)) {
            if (rc != SQLITE_DONE)
                oc_db_fail(r->db, &err, "delete key pair");
            oc_db_rollback(r->db);
            return r->err_code ? CLC_FAILED : clc_internal(r, &err);
        }
        if (oc_db_commit(r->db, &err)) {
            oc_db_rollback(r->db);
            return clc_internal(r, &err);
        }
    }
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "return", "true");
    if (found)
        oc_xmlw_elem(r->xml, "keyPairId", found);
    return CLC_OK;
}

const struct clc_action clc_keypair_actions[] = {
    { "CreateKeyPair", kp_create, 0 },
    { "ImportKeyPair", kp_import, 0 },
    { "DescribeKeyPairs", kp_describe, CLC_ACTION_CACHEABLE },
    { "DeleteKeyPair", kp_delete, 0 },
    { NULL, NULL, 0 },
};
