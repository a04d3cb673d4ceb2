/*
 * test_qsrv.c - the internal Query API server over real HTTP on loopback:
 * signatures, who may call, actions, errors, limits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/http.h"
#include "common/httpc.h"
#include "common/qsrv.h"
#include "tests/unit/harness.h"

#define Q_CC_AK "AKIAQSRVTESTCC000001"
#define Q_CC_SK "qsrvTestSecretKeyForTheCC000000000000000"
#define Q_OTHER_AK "AKIAQSRVTESTOTHER001"
#define Q_OTHER_SK "qsrvTestSecretKeyForSomeoneElse000000000"

static int q_lookup(void *ctx, const char *akid, struct oc_principal *out, struct oc_err *err)
{
    int cc = strcmp(akid, Q_CC_AK) == 0;

    (void)ctx;
    if (!cc && strcmp(akid, Q_OTHER_AK) != 0)
        return oc_err_set(err, OC_ENOTFOUND, "no such key");
    memset(out, 0, sizeof(*out));
    snprintf(out->account_id, sizeof(out->account_id), "111122223333");
    snprintf(out->user_name, sizeof(out->user_name), "%s", cc ? "cc" : "other");
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", akid);
    snprintf(out->secret_key, sizeof(out->secret_key), "%s", cc ? Q_CC_SK : Q_OTHER_SK);
    out->active = 1;
    return OC_OK;
}

static int q_authorize(void *ctx, const struct oc_principal *who)
{
    (void)ctx;
    return strcmp(who->user_name, "cc") == 0 ? OC_OK : OC_EPERM;
}

static int q_echo(struct oc_qsrv_req *r)
{
    const char *v = oc_qsrv_need(r, "Value");
    long long n;

    if (!v || oc_qsrv_uint(r, "Count", 1, 1, 10, &n))
        return OC_EINVAL;
    oc_xmlw_elem(oc_qsrv_reply(r), "value", v);
    oc_xmlw_elemf(oc_qsrv_reply(r), "count", "%lld", n);
    oc_xmlw_elem(oc_qsrv_reply(r), "caller", r->who.user_name);
    return OC_OK;
}

static int q_missing(struct oc_qsrv_req *r)
{
    return oc_qsrv_error(r, "InvalidThing.NotFound", "no thing %s", "t-1");
}

static int q_forgets(struct oc_qsrv_req *r)
{
    (void)r;
    return OC_EINVAL;   /* fails without saying why: still a clean error */
}

static const struct oc_qsrv_action q_actions[] = {
    { "Echo", q_echo },
    { "Missing", q_missing },
    { "Forgets", q_forgets },
    { NULL, NULL },
};

static long call(const char *url, const char *ak, const char *sk, const char *action,
                 const struct oc_kv *p, size_t n, struct oc_buf *body)
{
    struct oc_httpc_config cfg = { url, ak, sk, NULL, 10000 };
    struct oc_httpc *c = NULL;
    struct oc_httpc_resp resp = { 0 };
    struct oc_err err = { 0 };
    long status = -1;

    if (oc_httpc_new(&cfg, &c, &err) != OC_OK)
        return -1;
    if (oc_httpc_query(c, "/", "nc", action, "2026-11-01", p, n, &resp, &err) == OC_OK) {
        status = resp.status;
        oc_buf_reset(body);
        if (oc_buf_append(body, resp.body.data, resp.body.len) != OC_OK ||
            oc_buf_putc(body, 0) != OC_OK)
            status = -1;
    }
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);
    return status;
}

static int has(const struct oc_buf *b, const char *s)
{
    return b->data && strstr((const char *)b->data, s) != NULL;
}

OC_TEST(qsrv_http_auth_actions_errors)
{
    struct oc_cred_source src = { .lookup = q_lookup };
    struct oc_qsrv_config qc = { "nc", "urn:test", q_actions, &src, q_authorize, NULL, 4096 };
    struct oc_qsrv *qs = NULL;
    struct oc_http_config hc = { .bind_addr = "127.0.0.1", .threads = 2 };
    struct oc_http_handler h;
    struct oc_http_server *srv = NULL;
    struct oc_err err = { 0 };
    struct oc_buf b = { 0 };
    struct oc_kv ok[] = { { "Value", "a<b&c", 1 }, { "Count", "3", 1 } };
    struct oc_kv bad_count[] = { { "Value", "x", 1 }, { "Count", "11", 1 } };
    char url[64], big[6000];
    struct oc_kv big_p[] = { { "Value", big, 1 } };

    CHECK_INT(oc_qsrv_new(&qc, &qs, &err), OC_OK);
    oc_qsrv_handler(qs, &h);
    CHECK_INT(oc_http_start(&hc, &h, &srv, &err), OC_OK);
    if (!srv) {
        oc_qsrv_free(qs);
        return;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)oc_http_port(srv));

    CHECK_INT(call(url, Q_CC_AK, Q_CC_SK, "Echo", ok, 2, &b), 200);
    CHECK(has(&b, "<EchoResponse xmlns=\"urn:test\"><requestId>"));
    CHECK(has(&b, "<value>a&lt;b&amp;c</value>"));
    CHECK(has(&b, "<count>3</count>"));
    CHECK(has(&b, "<caller>cc</caller>"));

    /* Who may call. */
    CHECK_INT(call(url, Q_OTHER_AK, Q_OTHER_SK, "Echo", ok, 2, &b), 403);
    CHECK(has(&b, "<Code>AccessDenied</Code>"));
    CHECK_INT(call(url, Q_CC_AK, Q_OTHER_SK, "Echo", ok, 2, &b), 401);
    CHECK(has(&b, "<Code>AuthFailure</Code>"));
    CHECK_INT(call(url, "AKIANOSUCHKEY0000000", Q_CC_SK, "Echo", ok, 2, &b), 401);
    CHECK_INT(call(url, NULL, NULL, "Echo", ok, 2, &b), 401);

    /* Errors in the EC2 shape with their statuses. */
    CHECK_INT(call(url, Q_CC_AK, Q_CC_SK, "Echo", NULL, 0, &b), 400);
    CHECK(has(&b, "<Response><Errors><Error><Code>MissingParameter</Code>"));
    CHECK(has(&b, "<RequestID>"));
    CHECK_INT(call(url, Q_CC_AK, Q_CC_SK, "Echo", bad_count, 2, &b), 400);
    CHECK(has(&b, "<Code>InvalidParameterValue</Code>"));
    CHECK_INT(call(url, Q_CC_AK, Q_CC_SK, "Missing", NULL, 0, &b), 404);
    CHECK(has(&b, "<Code>InvalidThing.NotFound</Code>"));
    CHECK_INT(call(url, Q_CC_AK, Q_CC_SK, "Forgets", NULL, 0, &b), 500);
    CHECK(has(&b, "<Code>InternalError</Code>"));
    CHECK_INT(call(url, Q_CC_AK, Q_CC_SK, "Nope", NULL, 0, &b), 400);
    CHECK(has(&b, "<Code>InvalidAction</Code>"));

    /* A body over max_body is refused whole. */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    CHECK_INT(call(url, Q_CC_AK, Q_CC_SK, "Echo", big_p, 1, &b), 413);

    /* In-process invocation for tests and fuzzing. */
    {
        struct oc_principal who;
        int status = 0;

        CHECK_INT(q_lookup(NULL, Q_CC_AK, &who, &err), OC_OK);
        oc_buf_reset(&b);
        CHECK_INT(oc_qsrv_invoke(qs, &who, "Action=Echo&Value=%zz", 20, &b, &status), OC_OK);
        CHECK_INT(status, 400);
        oc_buf_reset(&b);
        CHECK_INT(oc_qsrv_invoke(qs, &who, "Action=Echo&Value=v", 19, &b, &status), OC_OK);
        CHECK_INT(status, 200);
    }
    oc_buf_free(&b);
    oc_http_stop(srv);
    oc_qsrv_free(qs);
}
