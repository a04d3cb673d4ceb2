/*
 * qsrv.c - the internal Query API server (see qsrv.h).
 */
#include "common/qsrv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/auth.h"
#include "common/buf.h"
#include "common/codec.h"
#include "common/log.h"

#define QSRV_DEFAULT_MAX_BODY (1u << 20)

struct oc_qsrv {
    struct oc_qsrv_config cfg;
};

/* Per HTTP request, until on_end. */
struct qsrv_state {
    struct oc_buf body;
    int too_big;
};

int oc_qsrv_new(const struct oc_qsrv_config *cfg, struct oc_qsrv **out, struct oc_err *err)
{
    struct oc_qsrv *s;

    if (!cfg->service || !cfg->xmlns || !cfg->actions || !cfg->creds || !cfg->authorize)
        return oc_err_set(err, OC_EINVAL, "qsrv: service, xmlns, actions, creds and "
                                          "authorize are required");
    s = calloc(1, sizeof(*s));
    if (!s)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    s->cfg = *cfg;
    if (!s->cfg.max_body)
        s->cfg.max_body = QSRV_DEFAULT_MAX_BODY;
    *out = s;
    return OC_OK;
}

void oc_qsrv_free(struct oc_qsrv *s)
{
    free(s);
}

/* ------------------------------------------------------------------ */
/* replies */

static int status_of(const char *code)
{
    size_t n = strlen(code);

    if (strcmp(code, "InternalError") == 0 || strcmp(code, "InsufficientInstanceCapacity") == 0)
        return 500;
    if (strcmp(code, "AccessDenied") == 0)
        return 403;
    if (strcmp(code, "AuthFailure") == 0)
        return 401;
    if (strcmp(code, "ServiceUnavailable") == 0)
        return 503;
    if (n > 9 && strcmp(code + n - 9, ".NotFound") == 0)
        return 404;
    return 400;
}

struct oc_xmlw *oc_qsrv_reply(struct oc_qsrv_req *r)
{
    if (!r->xml) {
        r->xml = oc_xmlw_new(oc_arena_printf(r->arena, "%sResponse", r->action), r->xmlns);
        if (r->xml)
            oc_xmlw_elem(r->xml, "requestId", r->request_id);
    }
    return r->xml;
}

int oc_qsrv_error(struct oc_qsrv_req *r, const char *code, const char *fmt, ...)
{
    va_list ap;
    char msg[512];

    if (r->err_code)
        return OC_EINVAL;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    r->err_code = oc_arena_strdup(r->arena, code);
    r->err_message = oc_arena_strdup(r->arena, msg);
    r->err_status = status_of(code);
    return OC_EINVAL;
}

int oc_qsrv_fail(struct oc_qsrv_req *r, int rc, const struct oc_err *err)
{
    static const struct {
        int rc;
        const char *code;
    } map[] = {
        { OC_ENOTFOUND, "InvalidInstanceID.NotFound" },
        { OC_EEXIST, "InvalidInstanceID.Duplicate" },
        { OC_ETOOBIG, "InsufficientInstanceCapacity" },
        { OC_ECONFLICT, "IncorrectInstanceState" },
        { OC_EINVAL, "InvalidParameterValue" },
    };

    for (size_t k = 0; k < sizeof(map) / sizeof(map[0]); k++)
        if (map[k].rc == rc)
            return oc_qsrv_error(r, map[k].code, "%s", err->msg);
    oc_log(OC_LOG_ERROR, "%s %s: %s", r->request_id, r->action ? r->action : "-", err->msg);
    return oc_qsrv_error(r, "InternalError", "%s", err->msg);
}

const char *oc_qsrv_need(struct oc_qsrv_req *r, const char *name)
{
    const char *v = oc_query_get(r->params, name);

    if (!v || !*v) {
        oc_qsrv_error(r, "MissingParameter", "The request must contain the parameter %s", name);
        return NULL;
    }
    return v;
}

int oc_qsrv_copy(struct oc_qsrv_req *r, const char *name, char *dst, size_t cap, int required)
{
    const char *v = required ? oc_qsrv_need(r, name) : oc_query_get(r->params, name);

    dst[0] = 0;
    if (!v)
        return required ? OC_EINVAL : OC_OK;
    if (strlen(v) >= cap)
        return oc_qsrv_error(r, "InvalidParameterValue", "Value for parameter %s is too long",
                             name);
    memcpy(dst, v, strlen(v) + 1);
    return OC_OK;
}

int oc_qsrv_image(struct oc_qsrv_req *r, const char *pfx, char *id, size_t idcap, char *loc,
                  size_t loccap, char *digest, size_t digcap, int required)
{
    char a[32], b[32], c[32];

    snprintf(a, sizeof(a), "%sId", pfx);
    snprintf(b, sizeof(b), "%sLocation", pfx);
    snprintf(c, sizeof(c), "%sDigest", pfx);
    if (oc_qsrv_copy(r, a, id, idcap, required) ||
        oc_qsrv_copy(r, b, loc, loccap, required || id[0]) ||
        oc_qsrv_copy(r, c, digest, digcap, required || id[0]))
        return OC_EINVAL;
    return OC_OK;
}

int oc_qsrv_uint(struct oc_qsrv_req *r, const char *name, long long def, long long min,
                 long long max, long long *out)
{
    const char *v = oc_query_get(r->params, name);
    char *end;
    long long n;

    if (!v || !*v) {
        *out = def;
        return OC_OK;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || *end || v[0] == '-' || v[0] == '+' || n < min || n > max)
        return oc_qsrv_error(r, "InvalidParameterValue",
                             "Value (%.64s) for parameter %s is invalid: expected an integer "
                             "from %lld to %lld", v, name, min, max);
    *out = n;
    return OC_OK;
}

static int error_doc(const char *code, const char *message, const char *request_id,
                     struct oc_buf *b)
{
    struct oc_xmlw *w = oc_xmlw_new("Response", NULL);
    int rc;

    if (!w)
        return OC_ENOMEM;
    oc_xmlw_start(w, "Errors");
    oc_xmlw_start(w, "Error");
    oc_xmlw_elem(w, "Code", code);
    oc_xmlw_elem(w, "Message", message);
    oc_xmlw_end(w);
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "RequestID", request_id);
    rc = oc_xmlw_finish(w, b);
    oc_xmlw_free(w);
    return rc;
}

static void respond_doc(struct oc_http_req *h, int status, struct oc_buf *b)
{
    if (oc_http_respond_buf(h, status, "text/xml;charset=UTF-8", b) != OC_OK)
        oc_http_respond(h, 500, NULL, NULL, 0);
}

static void respond_error(struct oc_http_req *h, int status, const char *code,
                          const char *message)
{
    struct oc_buf b = { 0 };

    if (error_doc(code, message, h->request_id, &b) != OC_OK) {
        oc_buf_free(&b);
        oc_http_respond(h, 500, NULL, NULL, 0);
        return;
    }
    respond_doc(h, status, &b);
}

/* Action lookup, the handler, and the document; returns the HTTP status. */
static int run(struct oc_qsrv *s, struct oc_qsrv_req *r, struct oc_buf *out)
{
    const struct oc_qsrv_action *a = NULL;
    int rc = OC_EINVAL;

    r->xmlns = s->cfg.xmlns;
    r->ctx = s->cfg.ctx;
    r->action = oc_query_get(r->params, "Action");
    if (!r->action || !*r->action) {
        oc_qsrv_error(r, "MissingAction", "The request must contain the parameter Action");
    } else {
        for (const struct oc_qsrv_action *x = s->cfg.actions; x->name; x++)
            if (strcmp(x->name, r->action) == 0)
                a = x;
        if (!a)
            oc_qsrv_error(r, "InvalidAction", "The action %.64s is not valid for this service.",
                          r->action);
        else
            rc = a->fn(r);
    }
    if (rc == OC_OK && !r->err_code && oc_qsrv_reply(r) && oc_xmlw_finish(r->xml, out) == OC_OK) {
        oc_xmlw_free(r->xml);
        r->xml = NULL;
        return 200;
    }
    oc_xmlw_free(r->xml);
    r->xml = NULL;
    oc_buf_reset(out);
    if (!r->err_code) {
        oc_log(OC_LOG_ERROR, "%s %s: handler failed without an error", r->request_id,
               r->action ? r->action : "-");
        oc_qsrv_error(r, "InternalError", "An internal error has occurred");
    }
    if (error_doc(r->err_code, r->err_message, r->request_id, out) != OC_OK)
        return 500;
    return r->err_status;
}

int oc_qsrv_invoke(struct oc_qsrv *s, const struct oc_principal *who, const char *raw,
                   size_t len, struct oc_buf *out, int *status)
{
    struct oc_arena *arena = oc_arena_new();
    struct oc_qsrv_req r = { 0 };
    struct oc_query q;
    struct oc_err err = { 0 };
    char rid[OC_REQUEST_ID_LEN + 1];

    if (!arena)
        return OC_ENOMEM;
    oc_request_id(rid);
    r.arena = arena;
    r.request_id = rid;
    r.now = time(NULL);
    r.who = *who;
    r.params = &q;
    if (oc_query_parse(arena, raw, len, &q, &err) != OC_OK) {
        *status = 400;
        if (error_doc("InvalidParameterValue", err.msg, rid, out) != OC_OK)
            *status = 500;
    } else {
        *status = run(s, &r, out);
    }
    oc_arena_free(arena);
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* HTTP */

static void on_request(struct oc_http_req *h, void *ctx)
{
    struct oc_qsrv *s = ctx;
    struct qsrv_state *st;

    if (strcmp(h->method, "POST") != 0) {
        respond_error(h, 405, "InvalidAction", "Internal APIs accept form POSTs only.");
        return;
    }
    if (h->content_length > (int64_t)s->cfg.max_body) {
        respond_error(h, 413, "RequestEntityTooLarge", "The request body is too large.");
        return;
    }
    st = oc_arena_alloc(h->arena, sizeof(*st));
    if (!st) {
        respond_error(h, 500, "InternalError", "An internal error has occurred");
        return;
    }
    oc_arena_defer(h->arena, (void (*)(void *))oc_buf_free, &st->body);
    h->data = st;
}

static void on_body(struct oc_http_req *h, const char *data, size_t len, void *ctx)
{
    struct oc_qsrv *s = ctx;
    struct qsrv_state *st = h->data;

    if (!st || st->too_big)
        return;
    if (st->body.len + len > s->cfg.max_body || oc_buf_append(&st->body, data, len) != OC_OK)
        st->too_big = 1;
}

static void on_end(struct oc_http_req *h, void *ctx)
{
    struct oc_qsrv *s = ctx;
    struct qsrv_state *st = h->data;
    struct oc_qsrv_req r = { 0 };
    struct oc_query q;
    struct oc_err err = { 0 };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result ar;
    struct oc_auth_error ae = { 0 };
    struct oc_buf out = { 0 };
    const char *ctype = oc_http_header(h, "content-type");
    char body_sha[65];
    int status;

    if (!st || oc_http_responded(h))
        return;
    if (st->too_big) {
        respond_error(h, 413, "RequestEntityTooLarge", "The request body is too large.");
        return;
    }
    if (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0) {
        respond_error(h, 400, "InvalidParameterValue",
                      "POST bodies must be application/x-www-form-urlencoded.");
        return;
    }
    if (oc_query_parse(h->arena, st->body.len ? (const char *)st->body.data : "", st->body.len,
                       &q, &err) != OC_OK) {
        respond_error(h, 400, "InvalidParameterValue", err.msg);
        return;
    }
    oc_sha256_hex(st->body.len ? st->body.data : "", st->body.len, body_sha);
    in.method = h->method;
    in.path = h->path;
    in.query = h->query;
    in.headers = h->headers;
    in.nheaders = h->nheaders;
    in.params = &q;
    in.service = s->cfg.service;
    in.now = time(NULL);
    in.body_sha256 = body_sha;
    if (oc_auth_verify(&in, s->cfg.creds, &ar, &ae) != OC_OK) {
        respond_error(h, strcmp(ae.code, "InternalError") == 0 ? 500 : 401,
                      strcmp(ae.code, "InternalError") == 0 ? "InternalError" : "AuthFailure",
                      ae.message);
        return;
    }
    /* Components sign with SigV4 in the header; nothing else is accepted. */
    if (ar.kind != OC_AUTH_SIGV4_HEADER) {
        respond_error(h, 401, "AuthFailure", "Internal APIs need a SigV4 Authorization header.");
        return;
    }
    if (s->cfg.authorize(s->cfg.ctx, &ar.who) != OC_OK) {
        oc_log(OC_LOG_WARN, "%s: %s/%s (%s) may not call this service", h->request_id,
               ar.who.account_name, ar.who.user_name, ar.who.access_key_id);
        respond_error(h, 403, "AccessDenied", "This key may not call this service.");
        return;
    }
    r.arena = h->arena;
    r.request_id = h->request_id;
    r.now = in.now;
    r.who = ar.who;
    r.params = &q;
    status = run(s, &r, &out);
    respond_doc(h, status, &out);
}

static void on_error(struct oc_http_req *h, void *ctx, int status, const char *aws_code,
                     const char *message)
{
    (void)ctx;
    respond_error(h, status, aws_code ? aws_code : "InternalError", message ? message : "");
}

void oc_qsrv_handler(struct oc_qsrv *s, struct oc_http_handler *out)
{
    memset(out, 0, sizeof(*out));
    out->on_request = on_request;
    out->on_body = on_body;
    out->on_end = on_end;
    out->on_error = on_error;
    out->ctx = s;
}
