/*
 * qsrv.h - the internal Query API server: what the CC and NC answer on
 * (Action=ncRunInstance&..., form POSTs signed with SigV4 by the calling
 * component, replies in XML).  The user-facing CLC has its own front door
 * (clc/api.c: IAM shapes, SigV2, calls out); this is the same machinery cut
 * down to what component-to-component calls need.
 *
 * Per request: the form body is buffered (bounded: max_body), parsed,
 * the SigV4 signature verified against creds (anonymous requests refused),
 * authorize() decides whether this principal may call this server at all
 * (a CC accepts only its CLC, an NC only its CC), then the action's
 * handler runs on the server thread.  Handlers must not block for long:
 * slow work (image fetch, VM boot) goes to a worker and the reply says
 * "pending".
 *
 * Replies: <{Action}Response xmlns="{xmlns}"><requestId>…</requestId>…
 * Errors, as EC2: <Response><Errors><Error><Code>…</Code><Message>…
 * </Message></Error></Errors><RequestID>…</RequestID></Response>.
 */
#ifndef OC_QSRV_H
#define OC_QSRV_H

#include <stddef.h>
#include <time.h>

#include "common/arena.h"
#include "common/creds.h"
#include "common/err.h"
#include "common/http.h"
#include "common/query.h"
#include "common/xml.h"

struct oc_qsrv_req {
    struct oc_arena *arena;
    const char *request_id;
    const char *action;
    const struct oc_query *params;
    struct oc_principal who;
    time_t now;
    void *ctx;                 /* the server's ctx */
    /* private */
    struct oc_xmlw *xml;
    const char *xmlns;
    const char *err_code;
    const char *err_message;
    int err_status;
};

/* A handler returns OC_OK after writing its reply with oc_qsrv_reply(),
 * or the result of oc_qsrv_error(). */
struct oc_qsrv_action {
    const char *name;
    int (*fn)(struct oc_qsrv_req *r);
};

struct oc_qsrv_config {
    const char *service;                  /* SigV4 service, e.g. "nc" */
    const char *xmlns;                    /* reply namespace */
    const struct oc_qsrv_action *actions; /* ends with { NULL, NULL } */
    const struct oc_cred_source *creds;
    /* OC_OK to let who in; anything else answers AccessDenied (403). */
    int (*authorize)(void *ctx, const struct oc_principal *who);
    void *ctx;
    size_t max_body;                      /* 0 = 1 MiB */
};

struct oc_qsrv;

int oc_qsrv_new(const struct oc_qsrv_config *cfg, struct oc_qsrv **out,
                struct oc_err *err) OC_WUR;
void oc_qsrv_free(struct oc_qsrv *s);
/* The handler to give oc_http_start. */
void oc_qsrv_handler(struct oc_qsrv *s, struct oc_http_handler *out);

/* The reply document, begun on first call with the requestId. */
struct oc_xmlw *oc_qsrv_reply(struct oc_qsrv_req *r);
/* Records an error (the first one wins) and returns OC_EINVAL.  Status
 * 400 unless the code says otherwise (InternalError 500,
 * InsufficientInstanceCapacity 500, AccessDenied 403, ...NotFound 404). */
int oc_qsrv_error(struct oc_qsrv_req *r, const char *code, const char *fmt, ...)
    OC_PRINTF(3, 4);
/* The internal APIs' words for an OC_E* code about an instance:
 * ENOTFOUND InvalidInstanceID.NotFound, EEXIST InvalidInstanceID.Duplicate,
 * ETOOBIG InsufficientInstanceCapacity, ECONFLICT IncorrectInstanceState,
 * EINVAL InvalidParameterValue, anything else InternalError (logged). */
int oc_qsrv_fail(struct oc_qsrv_req *r, int rc, const struct oc_err *err);
/* A required parameter; NULL after recording MissingParameter. */
const char *oc_qsrv_need(struct oc_qsrv_req *r, const char *name);
/* Copies a parameter into dst (cap bytes): "" when absent and optional;
 * MissingParameter when required and absent, InvalidParameterValue when
 * too long (OC_EINVAL after recording either). */
int oc_qsrv_copy(struct oc_qsrv_req *r, const char *name, char *dst, size_t cap, int required);
/* The image triple <pfx>Id, <pfx>Location, <pfx>Digest of the internal
 * APIs: all three required when required, else location and digest are
 * required once the id is given. */
int oc_qsrv_image(struct oc_qsrv_req *r, const char *pfx, char *id, size_t idcap, char *loc,
                  size_t loccap, char *digest, size_t digcap, int required);
/* An optional non-negative integer parameter in [min, max]; OC_OK (with
 * *out = def when absent) or the InvalidParameterValue error. */
int oc_qsrv_uint(struct oc_qsrv_req *r, const char *name, long long def, long long min,
                 long long max, long long *out);

/* Runs one request without HTTP or signatures (tests, fuzzing): raw is a
 * form body; the document goes to out and its status to *status. */
int oc_qsrv_invoke(struct oc_qsrv *s, const struct oc_principal *who, const char *raw,
                   size_t len, struct oc_buf *out, int *status) OC_WUR;

#endif
