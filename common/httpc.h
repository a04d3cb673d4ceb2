/*
 * httpc.h - the HTTP client every Overcast component uses to call another
 * (admin tool -> CLC, Walrus -> CLC identity, CLC -> Walrus, CLC -> CC,
 * CC -> NC), on libcurl, with SigV4 signing done by common/sigv4.
 *
 * A struct oc_httpc holds one curl easy handle (keep-alive connection
 * reuse) plus the caller's credentials; it is not thread-safe: use one per
 * thread or guard it.  Calls are synchronous with a timeout.
 *
 * oc_httpc_query() sends an AWS Query API call: a form POST of
 * Action/Version/params to endpoint+path, signed with SigV4 for `service`,
 * and returns the HTTP status and body.  oc_httpc_request() sends any
 * signed request (S3 GET of an object to a buffer or file descriptor).
 */
#ifndef OC_HTTPC_H
#define OC_HTTPC_H

#include <stddef.h>
#include <stdint.h>
#include "common/buf.h"
#include "common/err.h"
#include "common/query.h"

struct oc_httpc;

struct oc_httpc_config {
    const char *endpoint;         /* "http://127.0.0.1:8773" (no trailing slash) */
    const char *access_key_id;    /* NULL: requests go unsigned */
    const char *secret_key;
    const char *region;           /* NULL = "us-east-1" */
    long timeout_ms;              /* whole request; 0 = 30000 */
};

int oc_httpc_new(const struct oc_httpc_config *cfg, struct oc_httpc **out,
                 struct oc_err *err) OC_WUR;
void oc_httpc_free(struct oc_httpc *c);

struct oc_httpc_resp {
    long status;                  /* HTTP status, 0 when no response */
    struct oc_buf body;           /* response body (free with oc_httpc_resp_free) */
};
void oc_httpc_resp_free(struct oc_httpc_resp *r);

/*
 * POST path (e.g. "/services/Euare") with form body Action=action&
 * Version=version plus params (n name/value pairs, encoded here), SigV4 for
 * service ("ec2", "iam", "identity", ...).  OC_OK when an HTTP response
 * arrived (whatever its status); OC_EIO on connection failure or timeout.
 */
int oc_httpc_query(struct oc_httpc *c, const char *path, const char *service,
                   const char *action, const char *version, const struct oc_kv *params,
                   size_t n, struct oc_httpc_resp *resp, struct oc_err *err) OC_WUR;

/*
 * Any signed request: method, raw encoded path and query (may be NULL),
 * body (may be NULL/0).  The response body goes to resp->body, or when
 * out_fd >= 0 is written to that descriptor instead (large objects).
 */
int oc_httpc_request(struct oc_httpc *c, const char *method, const char *service,
                     const char *path, const char *query, const void *body, size_t blen,
                     int out_fd, struct oc_httpc_resp *resp, struct oc_err *err) OC_WUR;

/* Reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (eucarc-style KEY=value
 * lines, optional `export` and quotes) from a credentials file written by
 * the bootstrap.  Strings are malloc'd; free with free(). */
int oc_httpc_load_creds(const char *path, char **access_key_id, char **secret_key,
                        struct oc_err *err) OC_WUR;

#endif
