/*
 * sigv4.h - AWS Signature Version 4: the pieces both sides of a signed
 * request need.
 *
 * Server side (used by auth.c): canonical request (URI, query string,
 * headers), string to sign, signing-key derivation with a small thread-safe
 * cache, strict parsing of the Authorization header and of the credential
 * scope, and the chunk / trailer signatures of aws-chunked bodies.
 *
 * Client side (internal component calls, tests): sign a request (the
 * Authorization, x-amz-date and x-amz-content-sha256 values) and build a
 * presigned URL.
 *
 * Canonical URI: for S3 the raw path is percent-decoded, then encoded again
 * with AWS rules keeping '/', without dot-segment normalisation.  For other
 * services the raw (already encoded) path is encoded once more, as AWS
 * documents for every service but S3.
 *
 * Nothing here looks up secrets, reads clocks or chooses AWS error codes:
 * that is auth.c's job.  Signatures are compared by the caller with
 * oc_ct_equal().
 */
#ifndef OC_SIGV4_H
#define OC_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "common/err.h"
#include "common/buf.h"
#include "common/http.h"

#define OC_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define OC_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define OC_SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"
#define OC_SIGV4_STREAMING "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define OC_SIGV4_STREAMING_TRAILER "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
#define OC_SIGV4_STREAMING_UNSIGNED_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

#define OC_SIGV4_SIG_HEX 64      /* hex characters in a signature */
#define OC_SIGV4_AMZ_DATE_LEN 16 /* 20130524T000000Z */
/* Upper bounds on credential-scope parts, so a hostile header cannot make
 * the server hash megabytes or overflow fixed result fields. */
#define OC_SIGV4_MAX_REGION 64
#define OC_SIGV4_MAX_SERVICE 32
#define OC_SIGV4_MAX_SIGNED_HEADERS 4096

/* A piece of a longer string (not NUL-terminated). */
struct oc_sigv4_span {
    const char *p;
    size_t len;
};

/* AKID/20130524/us-east-1/s3/aws4_request */
struct oc_sigv4_credential {
    struct oc_sigv4_span access_key;
    struct oc_sigv4_span date;        /* 8 digits */
    struct oc_sigv4_span region;
    struct oc_sigv4_span service;
    struct oc_sigv4_span scope;       /* date/region/service/aws4_request */
};

/* The parsed value of `Authorization: AWS4-HMAC-SHA256 ...`; spans point
 * into the header value. */
struct oc_sigv4_authz {
    struct oc_sigv4_credential cred;
    struct oc_sigv4_span signed_headers;   /* "host;range;x-amz-date" */
    struct oc_sigv4_span signature;        /* 64 lowercase hex */
};

/* What a canonical request is computed over. */
struct oc_sigv4_req {
    const char *method;
    const char *path;        /* raw, as sent; "" is taken as "/" */
    const char *query;       /* raw, as sent; NULL or "" when none */
    const struct oc_http_header *headers;  /* names compared case-insensitively */
    size_t nheaders;
    int s3;                  /* S3 URI rules (decode then encode once) */
};

/* Strict parse of the whole Authorization value.  Fails with OC_EINVAL and a
 * message suitable for AuthorizationHeaderMalformed. */
int oc_sigv4_parse_authorization(const char *value, struct oc_sigv4_authz *out,
                                 struct oc_err *err) OC_WUR;
/* Parses "AKID/date/region/service/aws4_request". */
int oc_sigv4_parse_credential(const char *s, size_t len, struct oc_sigv4_credential *out,
                              struct oc_err *err) OC_WUR;
/* Checks a SignedHeaders list: lowercase tokens separated by ';', no empty
 * or repeated names.  *has_host tells whether "host" is in it. */
int oc_sigv4_check_signed_headers(const char *s, size_t len, int *has_host,
                                  struct oc_err *err) OC_WUR;
/* Whether `name` (lowercase) is in a valid SignedHeaders list. */
int oc_sigv4_signed_headers_has(const char *s, size_t len, const char *name);

/* The parts of the canonical request; each appends to out. */
int oc_sigv4_canonical_uri(const char *raw_path, int s3, struct oc_buf *out,
                           struct oc_err *err) OC_WUR;
/* Decodes every parameter, encodes it again, sorts by name then value.
 * With exclude_signature the X-Amz-Signature parameter is left out. */
int oc_sigv4_canonical_query(const char *raw_query, int exclude_signature, struct oc_buf *out,
                             struct oc_err *err) OC_WUR;
/* The general path of oc_sigv4_canonical_query alone (decode, re-encode,
 * sort), without its one-pass shortcut for queries already canonical: for
 * tests and fuzzers that check the two agree. */
int oc_sigv4_canonical_query_general(const char *raw_query, int exclude_signature,
                                     struct oc_buf *out, struct oc_err *err) OC_WUR;
/* "name:value\n" for each signed header, values trimmed with inner spaces
 * collapsed and repeated headers joined with ','.  A signed header that is
 * absent contributes an empty value. */
int oc_sigv4_canonical_headers(const struct oc_http_header *headers, size_t n,
                               const char *signed_headers, size_t sh_len, struct oc_buf *out,
                               struct oc_err *err) OC_WUR;
/* METHOD\nURI\nQUERY\nHEADERS\nSIGNED-HEADERS\nPAYLOAD-HASH, appended to out. */
int oc_sigv4_canonical_request(const struct oc_sigv4_req *req, const char *signed_headers,
                               size_t sh_len, const char *payload_hash, int presigned,
                               struct oc_buf *out, struct oc_err *err) OC_WUR;
/* AWS4-HMAC-SHA256\nAMZ-DATE\nSCOPE\nhex(sha256(canonical)), appended to out. */
int oc_sigv4_string_to_sign(const char *amz_date, const char *scope, size_t scope_len,
                            const char *canonical, size_t clen, struct oc_buf *out) OC_WUR;

/*
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, date), region), service),
 * "aws4_request").  Results are cached per (secret, date, region, service)
 * in a small process-wide table guarded by a mutex: a busy server derives
 * the same few keys tens of thousands of times a second.
 */
void oc_sigv4_signing_key(const char *secret, size_t slen, const char *date, size_t dlen,
                          const char *region, size_t rlen, const char *service, size_t svlen,
                          uint8_t out[32]);
/* Hex HMAC-SHA256 of data under key. */
void oc_sigv4_hmac_hex(const uint8_t key[32], const char *data, size_t len, char out[65]);

/* Per-chunk signature of an aws-chunked body:
 * HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" prev "\n"
 *           hex(sha256("")) "\n" hex(chunk_sha256)). */
void oc_sigv4_chunk_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                              const char *prev_sig, const uint8_t chunk_sha256[32],
                              char out[65]);
/* Trailer signature: HMAC(key, "AWS4-HMAC-SHA256-TRAILER\n" date "\n" scope
 * "\n" prev "\n" hex(sha256(canonical_trailers))), where the canonical
 * trailers are "name:value\n" for each trailing header. */
void oc_sigv4_trailer_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                                const char *prev_sig, const char *trailers, size_t tlen,
                                char out[65]);

/* YYYYMMDDTHHMMSSZ <-> time_t (UTC).  Parse returns 0 or -1. */
int oc_sigv4_parse_amz_date(const char *s, time_t *out);
void oc_sigv4_format_amz_date(time_t t, char out[OC_SIGV4_AMZ_DATE_LEN + 1]);

/* ---- client side ---- */

struct oc_sigv4_client {
    const char *access_key_id;
    const char *secret_key;
    const char *region;           /* "us-east-1" */
    const char *service;          /* "s3", "ec2", ... */
};

struct oc_sigv4_signed {
    char amz_date[OC_SIGV4_AMZ_DATE_LEN + 1];  /* send as x-amz-date */
    char content_sha256[65];                  /* send as x-amz-content-sha256 */
    struct oc_buf authorization;              /* send as Authorization */
};

/*
 * Signs req (whose headers must include host) at time now.  Every header in
 * req is signed, plus x-amz-date and x-amz-content-sha256, which the caller
 * must send with the values in out (and must not also pass in req).
 * payload_hash is the hex SHA-256 of the body, UNSIGNED-PAYLOAD or a
 * STREAMING-* value; NULL means an empty body.  Free out with
 * oc_sigv4_signed_free().
 */
int oc_sigv4_sign(const struct oc_sigv4_client *c, const struct oc_sigv4_req *req,
                  const char *payload_hash, time_t now, struct oc_sigv4_signed *out,
                  struct oc_err *err) OC_WUR;
void oc_sigv4_signed_free(struct oc_sigv4_signed *s);

/*
 * Presigned URL: endpoint is "http://host[:port]" (the Host header the
 * request will carry is taken from it), path the raw encoded path, query an
 * optional raw query to keep ("" or NULL).  Only host is signed; the
 * payload is UNSIGNED-PAYLOAD.  expires is 1..604800 seconds.  The URL is
 * appended to url.
 */
int oc_sigv4_presign(const struct oc_sigv4_client *c, const char *method, const char *endpoint,
                     const char *path, const char *query, long expires, time_t now,
                     struct oc_buf *url, struct oc_err *err) OC_WUR;

#endif
