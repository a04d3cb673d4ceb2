/*
 * auth.h - authenticating an incoming request, whatever form its signature
 * takes: SigV4 (Authorization header or presigned X-Amz-* query) and SigV2
 * (S3 `Authorization: AWS AKID:sig`, S3 presigned AWSAccessKeyId/Expires/
 * Signature, and Query-API SignatureVersion=2).  Anonymous requests are
 * reported as such; the caller decides whether anonymity is allowed.
 *
 * Secrets come from a struct oc_cred_source.  Signatures are compared in
 * constant time.  A request time more than 15 minutes from now fails with
 * RequestTimeTooSkewed; an expired presigned URL with AccessDenied.
 *
 * The body is not seen here: the result says how the payload is protected
 * and the server checks it while streaming (payload hash compared at the
 * end, or aws-chunked frames verified by struct oc_chunked).
 */
#ifndef OC_AUTH_H
#define OC_AUTH_H

#include <stdint.h>
#include <time.h>
#include "common/err.h"
#include "common/creds.h"
#include "common/http.h"
#include "common/query.h"

#define OC_AUTH_MAX_SKEW_S (15 * 60)
#define OC_SIGV4_MAX_EXPIRES_S (7 * 24 * 3600)

enum oc_auth_kind {
    OC_AUTH_ANONYMOUS,
    OC_AUTH_SIGV4_HEADER,
    OC_AUTH_SIGV4_QUERY,
    OC_AUTH_SIGV2_HEADER,
    OC_AUTH_SIGV2_QUERY,      /* S3 presigned */
    OC_AUTH_SIGV2_EC2,        /* Query API SignatureVersion=2 */
};

enum oc_payload_mode {
    OC_PAYLOAD_UNCHECKED,                 /* SigV2, anonymous: body not covered */
    OC_PAYLOAD_UNSIGNED,                  /* UNSIGNED-PAYLOAD */
    OC_PAYLOAD_SHA256,                    /* hex in payload_sha256 must match the body */
    OC_PAYLOAD_STREAMING_SIGNED,          /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD */
    OC_PAYLOAD_STREAMING_SIGNED_TRAILER,  /* STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER */
    OC_PAYLOAD_STREAMING_UNSIGNED_TRAILER /* STREAMING-UNSIGNED-PAYLOAD-TRAILER */
};

struct oc_auth_input {
    const char *method;
    const char *path;              /* raw, as sent */
    const char *query;             /* raw, as sent ("" when none) */
    const struct oc_http_header *headers;
    size_t nheaders;
    /* SigV2 for S3 signs "/bucket/key": with virtual-host style the bucket is
     * not in the path, so the caller passes it here (NULL otherwise). */
    const char *vhost_bucket;
    /* For OC_AUTH_SIGV2_EC2 and SigV4 of form POSTs: the parsed parameters
     * (query string or form body). NULL for S3. */
    const struct oc_query *params;
    const char *service;           /* "s3", "ec2", "iam", ... */
    time_t now;
    /* Hex SHA-256 of the whole body when the caller already has it (form
     * POSTs of Query APIs, whose clients do not send x-amz-content-sha256
     * but sign the body hash).  NULL: x-amz-content-sha256 or the empty
     * body's hash is used.  Not used for S3. */
    const char *body_sha256;
};

struct oc_auth_result {
    enum oc_auth_kind kind;
    struct oc_principal who;       /* zeroed when anonymous */
    enum oc_payload_mode payload;
    char payload_sha256[65];       /* for OC_PAYLOAD_SHA256 */
    /* For the streaming modes: what struct oc_chunked needs. */
    uint8_t signing_key[32];
    char amz_date[17];             /* 20130524T000000Z */
    char scope[128];               /* 20130524/us-east-1/s3/aws4_request */
    char seed_signature[65];
};

struct oc_auth_error {
    const char *code;              /* AWS error code, e.g. "SignatureDoesNotMatch" */
    int status;                    /* HTTP status */
    char message[256];
};

/* Returns OC_OK (possibly anonymous) or OC_EAUTH with aerr filled. */
int oc_auth_verify(const struct oc_auth_input *in, const struct oc_cred_source *creds,
                   struct oc_auth_result *out, struct oc_auth_error *aerr) OC_WUR;

/*
 * SigV4 requests repeated byte for byte (same method, path, query, headers,
 * date, scope and signing key) are checked against the signature computed
 * for the first one instead of canonicalising again: a process-wide memo of
 * recently verified signatures (see auth.c).  How many checks it answered.
 */
uint64_t oc_auth_memo_hits(void);

#endif
