/*
 * sigv2.h - AWS Signature Version 2 in its three shapes:
 *
 *   S3 header form     Authorization: AWS AKID:base64(hmac-sha1(secret, sts))
 *   S3 presigned       ?AWSAccessKeyId=..&Expires=<epoch>&Signature=..
 *   Query API (EC2)    SignatureVersion=2, SignatureMethod=HmacSHA256|HmacSHA1
 *
 * For S3 the string to sign is
 *   METHOD \n Content-MD5 \n Content-Type \n Date \n x-amz-headers resource
 * where Date is empty when x-amz-date is sent (x-amz-date is then one of the
 * canonicalized x-amz-* headers) and is the Expires value for presigned
 * URLs; the resource is /bucket/key as sent (the bucket comes from the Host
 * for virtual-host style) plus the sorted sub-resources S3 signs.
 *
 * For the Query API it is METHOD \n host \n path \n sorted-encoded-params
 * (every parameter but Signature).
 *
 * Builders and client-side signers only: auth.c looks secrets up, checks
 * clocks and chooses error codes.
 */
#ifndef OC_SIGV2_H
#define OC_SIGV2_H

#include <stddef.h>
#include <time.h>
#include "common/err.h"
#include "common/buf.h"
#include "common/http.h"
#include "common/query.h"

enum oc_sigv2_hmac { OC_SIGV2_HMAC_SHA1, OC_SIGV2_HMAC_SHA256 };

/* `AWS AKID:signature`; the pointers point into the header value. */
struct oc_sigv2_authz {
    const char *access_key;
    size_t access_key_len;
    const char *signature;     /* base64 */
    size_t signature_len;
};

int oc_sigv2_parse_authorization(const char *value, struct oc_sigv2_authz *out,
                                 struct oc_err *err) OC_WUR;

/* Whether S3 includes the sub-resource `name` in the canonicalized resource. */
int oc_sigv2_s3_is_subresource(const char *name, size_t len);

/* /bucket/key?sub-resources, appended to out.  raw_path is the path as sent;
 * vhost_bucket is the bucket named by the Host header (NULL for path style). */
int oc_sigv2_s3_canonical_resource(const char *raw_path, const char *raw_query,
                                   const char *vhost_bucket, struct oc_buf *out,
                                   struct oc_err *err) OC_WUR;
/* The whole S3 string to sign, appended to out.  expires is NULL for the
 * header form and the Expires parameter for presigned URLs. */
int oc_sigv2_s3_string_to_sign(const char *method, const char *raw_path, const char *raw_query,
                               const char *vhost_bucket, const struct oc_http_header *headers,
                               size_t n, const char *expires, struct oc_buf *out,
                               struct oc_err *err) OC_WUR;

/* Query-API string to sign; params are decoded names and values (query
 * string and form body), Signature is skipped. */
int oc_sigv2_ec2_string_to_sign(const char *method, const char *host, const char *path,
                                const struct oc_kv *params, size_t n, struct oc_buf *out,
                                struct oc_err *err) OC_WUR;

/* base64(HMAC(secret, data)), appended to out. */
int oc_sigv2_sign(const char *secret, enum oc_sigv2_hmac alg, const char *data, size_t len,
                  struct oc_buf *out) OC_WUR;

/* ---- client side ---- */

/* Appends "AWS AKID:signature" for an S3 request; headers must carry Date or
 * x-amz-date. */
int oc_sigv2_s3_authorization(const char *access_key, const char *secret, const char *method,
                              const char *raw_path, const char *raw_query,
                              const char *vhost_bucket, const struct oc_http_header *headers,
                              size_t n, struct oc_buf *out, struct oc_err *err) OC_WUR;
/* Appends endpoint + path + ?[query&]AWSAccessKeyId=..&Expires=..&Signature=..
 * to url.  vhost_bucket as above. */
int oc_sigv2_s3_presign(const char *access_key, const char *secret, const char *method,
                        const char *endpoint, const char *raw_path, const char *raw_query,
                        const char *vhost_bucket, time_t expires, struct oc_buf *url,
                        struct oc_err *err) OC_WUR;
/*
 * Query-API request: adds AWSAccessKeyId, SignatureMethod, SignatureVersion=2
 * and Timestamp to params, signs, and appends the whole encoded parameter
 * string (with Signature) to out, ready as a query string or a form body.
 */
int oc_sigv2_ec2_sign(const char *access_key, const char *secret, enum oc_sigv2_hmac alg,
                      const char *method, const char *host, const char *path,
                      const struct oc_kv *params, size_t n, time_t now, struct oc_buf *out,
                      struct oc_err *err) OC_WUR;

#endif
