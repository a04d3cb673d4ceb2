/*
 * codec.h - encodings and digests shared by every component: hex, base64,
 * AWS URI encoding, percent-decoding, and thin OpenSSL EVP wrappers for
 * MD5, SHA-1, SHA-256 and HMAC.  Also constant-time comparison.
 */
#ifndef OC_CODEC_H
#define OC_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include "common/err.h"
#include "common/buf.h"

/* out must hold 2*len+1 bytes; lowercase. */
void oc_hex_encode(const uint8_t *in, size_t len, char *out);
/* Returns number of bytes decoded or -1 on bad input / overflow of outcap. */
long oc_hex_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap);

int oc_base64_encode(const uint8_t *in, size_t len, struct oc_buf *out) OC_WUR;
/* Strict standard base64 (padding required); -1 on bad input. */
long oc_base64_decode(const char *in, size_t inlen, uint8_t *out, size_t outcap);

/*
 * AWS SigV4 URI encoding: unreserved (A-Za-z0-9-._~) kept, everything else %XX
 * uppercase; '/' kept when keep_slash is set.
 */
/* Whether in is exactly what oc_uri_encode(decode(in), keep_slash) would give
 * (so it can be used as is): unreserved bytes and upper-case escapes of the
 * others, no '+', no %00. */
int oc_uri_is_canonical(const char *in, size_t len, int keep_slash);
int oc_uri_encode(const char *in, size_t len, int keep_slash, struct oc_buf *out) OC_WUR;
/*
 * Percent-decoding of a URL component.  plus_is_space turns '+' into ' '
 * (form and query values).  Rejects malformed %XX escapes and embedded NUL.
 * out receives a NUL-terminated string.
 */
int oc_url_decode(const char *in, size_t len, int plus_is_space, struct oc_buf *out) OC_WUR;
/* The same into caller memory of at least len + 1 bytes; *outlen excludes the NUL. */
int oc_url_decode_raw(const char *in, size_t len, int plus_is_space, char *out,
                      size_t *outlen) OC_WUR;

#define OC_MD5_LEN 16
#define OC_SHA1_LEN 20
#define OC_SHA256_LEN 32

void oc_md5(const void *data, size_t len, uint8_t out[OC_MD5_LEN]);
void oc_sha256(const void *data, size_t len, uint8_t out[OC_SHA256_LEN]);
void oc_sha256_hex(const void *data, size_t len, char out[2 * OC_SHA256_LEN + 1]);
void oc_hmac_sha256(const void *key, size_t klen, const void *data, size_t dlen,
                    uint8_t out[OC_SHA256_LEN]);
void oc_hmac_sha1(const void *key, size_t klen, const void *data, size_t dlen,
                  uint8_t out[OC_SHA1_LEN]);

/* Incremental digest (MD5 or SHA-256) over a stream. */
enum oc_digest_kind { OC_DIGEST_MD5, OC_DIGEST_SHA256, OC_DIGEST_SHA1 };
struct oc_digest;
struct oc_digest *oc_digest_new(enum oc_digest_kind kind);
void oc_digest_update(struct oc_digest *d, const void *data, size_t len);
/* Writes the raw digest (16, 20 or 32 bytes) and returns its length. */
size_t oc_digest_final(struct oc_digest *d, uint8_t *out);
void oc_digest_free(struct oc_digest *d);

/* Constant-time equality of two byte strings (lengths compared openly). */
int oc_ct_equal(const void *a, size_t alen, const void *b, size_t blen);

/* Cryptographically random bytes; aborts if the RNG fails. */
void oc_random_bytes(void *out, size_t len);

#endif
