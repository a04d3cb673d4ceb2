/*
 * s3.h - the Walrus S3 REST API: turns HTTP requests into store calls.
 *
 * Owns routing (path-style, virtual-host style, the Eucalyptus
 * /services/objectstorage and /services/Walrus prefixes), authentication
 * through oc_auth_verify, canned-ACL authorisation, payload integrity checks
 * while a body streams, the S3 XML documents and the AWS error format.
 *
 * Called by overcast-walrus's main(): build a struct wal_s3, hand its
 * handler to oc_http_start(), and before stopping the HTTP server call
 * wal_s3_quiesce() so no asynchronous commit still refers to a request.
 * It never touches object bytes itself (the store does) and never chooses
 * where data lives.
 */
#ifndef WAL_S3_H
#define WAL_S3_H

#include <stdint.h>
#include "common/err.h"
#include "common/creds.h"
#include "common/http.h"
#include "walrus/store.h"

#define WAL_S3_DEFAULT_DNS_DOMAIN "s3.localhost"
#define WAL_S3_DEFAULT_REGION "us-east-1"
#define WAL_S3_DEFAULT_MAX_OBJECT (5ULL * 1024 * 1024 * 1024)

struct wal_s3_config {
    const char *dns_domain;        /* virtual-host suffix; NULL = default */
    const char *region;            /* NULL = us-east-1 */
    uint64_t max_object_size;      /* 0 = 5 GiB */
};

struct wal_s3;

/* store and creds must outlive the returned object. */
int wal_s3_new(const struct wal_s3_config *cfg, struct wal_store *store,
               const struct oc_cred_source *creds, struct wal_s3 **out,
               struct oc_err *err) OC_WUR;
void wal_s3_free(struct wal_s3 *s3);
/* The callbacks to pass to oc_http_start(). */
void wal_s3_http_handler(struct wal_s3 *s3, struct oc_http_handler *out);
/* The request body limit the HTTP server should enforce (object size plus
 * aws-chunked framing). */
uint64_t wal_s3_max_body(const struct wal_s3 *s3);
/*
 * Refuses new requests (503 SlowDown) and waits up to timeout_ms for the
 * requests already started (including suspended ones waiting for a commit,
 * a copy or a completion) to finish.  Returns the number of requests still
 * in flight (0 when quiet).
 */
unsigned wal_s3_quiesce(struct wal_s3 *s3, unsigned timeout_ms);

#endif
