/*
 * s3_internal.h - what the walrus/s3_*.c files share, and the pure helpers
 * the unit tests and fuzzers call directly (libvirt's *priv.h idea).
 *
 *   s3.c            router, dispatch, auth glue, body pipeline, responses
 *   s3_errors.c     the one table of S3 error codes -> HTTP status/message
 *   s3_format.c     dates, ETag conditions, Range headers, tokens, metadata
 *   s3_bucket.c     service and bucket operations, bucket-name rules
 *   s3_list.c       ListObjects v1/v2, ListObjectVersions
 *   s3_object.c     Put/Get/Head/Delete/Copy object, DeleteObjects
 *   s3_multipart.c  multipart uploads
 *   s3_acl.c        canned ACLs: checks, AccessControlPolicy documents
 *   s3_xmlreq.c     parsers of request bodies (fuzzed)
 *
 * Nothing here is used outside walrus/ and its tests.
 */
#ifndef WAL_S3_INTERNAL_H
#define WAL_S3_INTERNAL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "common/arena.h"
#include "common/auth.h"
#include "common/buf.h"
#include "common/chunked.h"
#include "common/creds.h"
#include "common/http.h"
#include "common/query.h"
#include "common/xml.h"
#include "walrus/s3.h"
#include "walrus/store.h"

#define WAL_S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define WAL_S3_MAX_KEY_LEN 1024
#define WAL_S3_MAX_LIST 1000
#define WAL_S3_MAX_DELETE 1000
#define WAL_S3_MAX_USER_META 2048
#define WAL_S3_DEFAULT_CONTENT_TYPE "binary/octet-stream"

/* ---- errors (s3_errors.c) ---- */
enum wal_s3_error {
    WAL_S3E_ACCESS_DENIED,
    WAL_S3E_BAD_DIGEST,
    WAL_S3E_BUCKET_ALREADY_EXISTS,
    WAL_S3E_BUCKET_ALREADY_OWNED,
    WAL_S3E_BUCKET_NOT_EMPTY,
    WAL_S3E_ENTITY_TOO_LARGE,
    WAL_S3E_ENTITY_TOO_SMALL,
    WAL_S3E_INCOMPLETE_BODY,
    WAL_S3E_INTERNAL,
    WAL_S3E_INVALID_ARGUMENT,
    WAL_S3E_INVALID_BUCKET_NAME,
    WAL_S3E_INVALID_DIGEST,
    WAL_S3E_INVALID_PART,
    WAL_S3E_INVALID_PART_ORDER,
    WAL_S3E_INVALID_RANGE,
    WAL_S3E_INVALID_REQUEST,
    WAL_S3E_INVALID_URI,
    WAL_S3E_KEY_TOO_LONG,
    WAL_S3E_MALFORMED_ACL,
    WAL_S3E_MALFORMED_XML,
    WAL_S3E_MAX_MESSAGE_LENGTH,
    WAL_S3E_METADATA_TOO_LARGE,
    WAL_S3E_METHOD_NOT_ALLOWED,
    WAL_S3E_MISSING_CONTENT_LENGTH,
    WAL_S3E_MISSING_BODY,
    WAL_S3E_NO_SUCH_BUCKET,
    WAL_S3E_NO_SUCH_KEY,
    WAL_S3E_NO_SUCH_TAG_SET,
    WAL_S3E_NO_SUCH_UPLOAD,
    WAL_S3E_NO_SUCH_VERSION,
    WAL_S3E_NOT_IMPLEMENTED,
    WAL_S3E_PRECONDITION_FAILED,
    WAL_S3E_SIGNATURE_MISMATCH,
    WAL_S3E_SLOW_DOWN,
    WAL_S3E_SHA256_MISMATCH,
    WAL_S3E__COUNT
};

struct wal_s3_errdef {
    enum wal_s3_error id;
    const char *code;
    int status;
    const char *message;
};

const struct wal_s3_errdef *wal_s3_error_def(enum wal_s3_error e);
/* By AWS code name; NULL when unknown. */
const struct wal_s3_errdef *wal_s3_error_find(const char *code);
/* <Error><Code/><Message/><Resource/><RequestId/></Error> */
int wal_s3_error_xml(const char *code, const char *message, const char *resource,
                     const char *request_id, struct oc_buf *out) OC_WUR;

/* ---- routing (s3.c) ---- */
struct wal_s3_route {
    const char *bucket;            /* NULL: the service (ListBuckets) */
    const char *key;               /* NULL: a bucket-level request */
    int vhost;                     /* the bucket came from the Host header */
};

/*
 * Splits Host and the raw path into bucket and key.  Host
 * "<bucket>.<dns_domain>[:port]" selects virtual-host style; the path
 * prefixes /services/objectstorage and /services/Walrus are stripped.  The
 * key is percent-decoded.  On failure returns OC_EINVAL with *code set
 * (InvalidURI, KeyTooLongError).
 */
int wal_s3_route_parse(struct oc_arena *a, const char *host, const char *path,
                       const char *dns_domain, struct wal_s3_route *out,
                       enum wal_s3_error *code) OC_WUR;

enum wal_s3_op {
    WAL_S3_OP_NONE,
    WAL_S3_OP_LIST_BUCKETS,
    WAL_S3_OP_CREATE_BUCKET,
    WAL_S3_OP_HEAD_BUCKET,
    WAL_S3_OP_DELETE_BUCKET,
    WAL_S3_OP_GET_LOCATION,
    WAL_S3_OP_GET_VERSIONING,
    WAL_S3_OP_LIST_OBJECTS,
    WAL_S3_OP_LIST_OBJECTS_V2,
    WAL_S3_OP_LIST_VERSIONS,
    WAL_S3_OP_LIST_UPLOADS,
    WAL_S3_OP_DELETE_OBJECTS,
    WAL_S3_OP_GET_BUCKET_ACL,
    WAL_S3_OP_PUT_BUCKET_ACL,
    WAL_S3_OP_PUT_OBJECT,
    WAL_S3_OP_COPY_OBJECT,
    WAL_S3_OP_GET_OBJECT,
    WAL_S3_OP_HEAD_OBJECT,
    WAL_S3_OP_DELETE_OBJECT,
    WAL_S3_OP_GET_OBJECT_ACL,
    WAL_S3_OP_PUT_OBJECT_ACL,
    WAL_S3_OP_CREATE_UPLOAD,
    WAL_S3_OP_UPLOAD_PART,
    WAL_S3_OP_UPLOAD_PART_COPY,
    WAL_S3_OP_LIST_PARTS,
    WAL_S3_OP_COMPLETE_UPLOAD,
    WAL_S3_OP_ABORT_UPLOAD,
    WAL_S3_OP_GET_OBJECT_TAGGING,
    WAL_S3_OP_GET_BUCKET_TAGGING,
};

/* Picks the operation from method, route and sub-resources.  Returns OC_OK
 * or OC_EINVAL with *code (MethodNotAllowed, NotImplemented, ...). */
int wal_s3_op_select(const char *method, const struct wal_s3_route *rt,
                     const struct oc_query *q, int has_copy_source, enum wal_s3_op *op,
                     enum wal_s3_error *code) OC_WUR;
const char *wal_s3_op_name(enum wal_s3_op op);

/* ---- formatting helpers (s3_format.c) ---- */
#define WAL_S3_DATE_LEN 80
/* RFC 1123 GMT: "Sun, 06 Nov 1994 08:49:37 GMT" */
void wal_s3_http_date(int64_t ms, char out[WAL_S3_DATE_LEN]);
/* ISO 8601 with milliseconds: "2009-10-12T17:50:30.000Z" */
void wal_s3_iso_date(int64_t ms, char out[WAL_S3_DATE_LEN]);
/* RFC 1123, RFC 850 and asctime forms; 0 on success. */
int wal_s3_parse_http_date(const char *s, time_t *out);
/* "bytes a-b/size"; with first > last: "bytes *\/size" (unsatisfiable). */
void wal_s3_content_range(uint64_t first, uint64_t last, uint64_t size, char out[80]);
/* Whether the If-Match style list ("*", "\"e1\", W/\"e2\"") names etag. */
int wal_s3_etag_matches(const char *list, const char *etag);

enum wal_s3_cond { WAL_S3_COND_OK, WAL_S3_COND_NOT_MODIFIED, WAL_S3_COND_FAILED };
/* RFC 9110 order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since. */
enum wal_s3_cond wal_s3_conditions(const char *if_match, const char *if_none_match,
                                   const char *if_modified_since,
                                   const char *if_unmodified_since, const char *etag,
                                   int64_t mtime_ms);
/* Content-MD5 (base64 of 16 bytes); 0 or -1 when malformed. */
int wal_s3_content_md5_parse(const char *hdr, uint8_t out[16]);
/* ListObjectsV2 continuation tokens: opaque base64 of the last key. */
char *wal_s3_token_encode(struct oc_arena *a, const char *key);
/* NULL when the token is not one of ours. */
char *wal_s3_token_decode(struct oc_arena *a, const char *token);
int wal_s3_utf8_valid(const char *s, size_t len);
/* encoding-type=url form of a listing string (UTF-8 percent-encoded, '/' kept). */
const char *wal_s3_url_encode(struct oc_arena *a, const char *s);
/* Parses a non-negative decimal <= max; 0 on success. */
int wal_s3_parse_uint(const char *s, unsigned long long max, unsigned long long *out);
/* x-amz-meta-* request headers as the store's "name: value\n" lines; NULL when
 * none.  OC_ETOOBIG when over 2 KiB. */
int wal_s3_user_meta(struct oc_arena *a, const struct oc_http_header *h, size_t n,
                     const char **out) OC_WUR;
/* crc32 (zlib polynomial) and crc32c (Castagnoli) of a buffer. */
uint32_t wal_s3_crc32(const void *data, size_t len);
uint32_t wal_s3_crc32c(const void *data, size_t len);
/* Checks an x-amz-checksum-<alg> header against data: 1 match, 0 mismatch,
 * -1 unknown algorithm or malformed value. */
int wal_s3_checksum_verify(const char *alg, const char *b64, const void *data, size_t len);

/* ---- bucket names (s3_bucket.c) ---- */
int wal_s3_bucket_name_valid(const char *name);

/* ---- ACLs (s3_acl.c) ---- */
enum wal_s3_perm { WAL_S3_READ, WAL_S3_WRITE, WAL_S3_READ_ACP, WAL_S3_WRITE_ACP };
/* The canonical stored name of a canned ACL, or NULL when unknown. */
const char *wal_s3_canned_acl(const char *name);
/* Whether who (NULL = anonymous) may do perm on a resource owned by owner
 * carrying the canned acl. */
int wal_s3_acl_allows(const char *acl, const char *owner, const struct oc_principal *who,
                      enum wal_s3_perm perm);
/* AccessControlPolicy document for a canned ACL. */
int wal_s3_acl_xml(const char *acl, const char *owner_id, const char *owner_name,
                   struct oc_buf *out) OC_WUR;

/* ---- request bodies (s3_xmlreq.c) ---- */
struct wal_s3_delete_req {
    int quiet;
    size_t n;
    const char **keys;
    const char **version_ids;      /* entries NULL when absent */
};
/* <Delete><Quiet/>?<Object><Key/><VersionId/>?</Object>{1,1000}</Delete> */
int wal_s3_parse_delete(struct oc_arena *a, const char *body, size_t len,
                        struct wal_s3_delete_req *out, struct oc_err *err) OC_WUR;
/* <CompleteMultipartUpload><Part><PartNumber/><ETag/></Part>+</...> */
int wal_s3_parse_complete(struct oc_arena *a, const char *body, size_t len,
                          struct wal_part_ref **refs, size_t *n, struct oc_err *err) OC_WUR;
/* <LocationConstraint> of CreateBucketConfiguration ("" when absent). */
int wal_s3_parse_location(struct oc_arena *a, const char *body, size_t len,
                          const char **location, struct oc_err *err) OC_WUR;
/*
 * An AccessControlPolicy that is exactly a canned ACL's grants: OC_OK with
 * *canned set; OC_EINVAL when malformed; OC_ECONFLICT when well-formed but
 * not expressible as a canned ACL.
 */
int wal_s3_parse_acl(const char *body, size_t len, const char *owner_id,
                     const char **canned, struct oc_err *err) OC_WUR;

/* ---- the service and one request ---- */
struct wal_s3 {
    struct wal_store *store;
    struct oc_cred_source creds;
    char *dns_domain;
    char *region;
    uint64_t max_object_size;
    pthread_mutex_t lock;          /* guards inflight and stopping */
    pthread_cond_t idle;
    unsigned inflight;             /* requests between on_request and on_done */
    int stopping;
};

struct wal_s3_body {
    int to_store;                  /* decoded bytes go to put, else to mem */
    int active;                    /* a sink is installed */
    int failed;                    /* an error response was chosen */
    struct wal_put *put;           /* owned until committed or aborted */
    struct oc_buf mem;
    uint64_t limit;                /* decoded bytes allowed */
    uint64_t decoded;
    struct oc_chunked *chunked;    /* aws-chunked bodies */
    int have_digests;
    uint8_t md5[16];
    uint8_t sha256[32];
};

struct wal_s3_req {
    struct wal_s3 *s3;
    struct oc_http_req *r;
    enum wal_s3_op op;
    struct wal_s3_route rt;
    struct oc_query q;
    struct oc_auth_result auth;
    const struct oc_principal *who;  /* NULL when anonymous */
    struct wal_bucket bucket;        /* loaded for bucket and object operations */
    int have_bucket;
    int is_head;
    int counted;                     /* included in s3->inflight */
    struct wal_s3_body body;
    /* PUT object / part / complete */
    struct wal_meta meta;
    const char *upload_id;
    int part_number;
    char part_etag[WAL_ETAG_LEN];
    /* CopyObject / UploadPartCopy source */
    const char *src_bucket;
    const char *src_key;
    uint64_t copy_first, copy_last;
    int copy_has_range;
    int64_t async_mtime_ms;
};

/* Responses (s3.c).  Every response carries x-amz-request-id and Server. */
void wal_s3_fail(struct wal_s3_req *q, enum wal_s3_error e, const char *message);
void wal_s3_failf(struct wal_s3_req *q, enum wal_s3_error e, const char *fmt, ...)
    OC_PRINTF(3, 4);
/* Maps a store failure (NoSuchBucket for OC_ENOTFOUND when nf is given). */
void wal_s3_fail_store(struct wal_s3_req *q, int rc, const struct oc_err *err,
                       enum wal_s3_error nf);
void wal_s3_respond_xml(struct wal_s3_req *q, int status, struct oc_xmlw *w);
void wal_s3_respond_empty(struct wal_s3_req *q, int status);
/* Runs fn on a worker thread with the request suspended; fn (or a commit
 * callback it starts) must respond and then call wal_s3_async_end(). */
void wal_s3_offload(struct wal_s3_req *q, void (*fn)(struct wal_s3_req *q));
void wal_s3_async_begin(struct wal_s3_req *q);
void wal_s3_async_end(struct wal_s3_req *q);
/* The caller's display name for an owner account id. */
const char *wal_s3_owner_name(const struct wal_s3_req *q, const char *owner);
void wal_s3_write_owner(struct oc_xmlw *w, const struct wal_s3_req *q, const char *tag,
                        const char *owner);
/* Whether the caller has perm on the loaded bucket / on an object of it. */
int wal_s3_bucket_allows(const struct wal_s3_req *q, enum wal_s3_perm perm);
int wal_s3_object_allows(const struct wal_s3_req *q, const struct wal_meta *m,
                         enum wal_s3_perm perm);
/* Loads the request's object into m and checks perm; on failure answers
 * (NoSuchKey, AccessDenied, ...) and returns -1. */
int wal_s3_object_load(struct wal_s3_req *q, enum wal_s3_perm perm, struct wal_meta *m);
/* Installs a body sink: decoded bytes to a new store writer or to memory. */
int wal_s3_body_to_store(struct wal_s3_req *q, uint64_t limit);
void wal_s3_body_to_memory(struct wal_s3_req *q, uint64_t limit);
/* The x-amz-acl header as a canned name (default when absent); NULL after
 * answering InvalidArgument. */
const char *wal_s3_request_acl(struct wal_s3_req *q, const char *def);

/* Operation handlers.  *_begin run in on_request (and may answer at once);
 * *_end run in on_end once the body is complete and verified. */
void wal_s3_list_buckets(struct wal_s3_req *q);
void wal_s3_create_bucket_end(struct wal_s3_req *q);
void wal_s3_head_bucket(struct wal_s3_req *q);
void wal_s3_delete_bucket(struct wal_s3_req *q);
void wal_s3_get_location(struct wal_s3_req *q);
void wal_s3_get_versioning(struct wal_s3_req *q);
void wal_s3_list_objects(struct wal_s3_req *q, int v2);
void wal_s3_list_versions(struct wal_s3_req *q);
void wal_s3_delete_objects_end(struct wal_s3_req *q);
void wal_s3_get_acl(struct wal_s3_req *q);
void wal_s3_put_acl_begin(struct wal_s3_req *q);
void wal_s3_put_acl_end(struct wal_s3_req *q);
void wal_s3_put_object_begin(struct wal_s3_req *q);
void wal_s3_put_object_end(struct wal_s3_req *q);
void wal_s3_copy_object_begin(struct wal_s3_req *q);
void wal_s3_copy_object_end(struct wal_s3_req *q);
void wal_s3_get_object(struct wal_s3_req *q);
void wal_s3_get_tagging(struct wal_s3_req *q);
void wal_s3_delete_object(struct wal_s3_req *q);
void wal_s3_create_upload(struct wal_s3_req *q);
void wal_s3_upload_part_begin(struct wal_s3_req *q);
void wal_s3_upload_part_end(struct wal_s3_req *q);
void wal_s3_upload_part_copy_end(struct wal_s3_req *q);
void wal_s3_list_parts(struct wal_s3_req *q);
void wal_s3_list_uploads(struct wal_s3_req *q);
void wal_s3_complete_upload_begin(struct wal_s3_req *q);
void wal_s3_complete_upload_end(struct wal_s3_req *q);
void wal_s3_abort_upload(struct wal_s3_req *q);

/* Shared by CopyObject and UploadPartCopy (s3_object.c): parses
 * x-amz-copy-source into q->src_bucket/src_key; answers on failure. */
int wal_s3_copy_source(struct wal_s3_req *q);
/* Streams len bytes of fd from off into put; OC_OK or the store's error. */
int wal_s3_copy_bytes(int fd, uint64_t off, uint64_t len, struct wal_put *put,
                      struct oc_err *err) OC_WUR;
/* Checks x-amz-copy-source-if-* against the source; answers 412 and
 * returns non-zero when one fails. */
int wal_s3_copy_conditions(struct wal_s3_req *q, const struct wal_meta *src);
/* Store-side metadata (standard headers and x-amz-meta-*) from the request;
 * answers and returns non-zero on failure. */
int wal_s3_meta_from_request(struct wal_s3_req *q, struct wal_meta *m);

#endif
