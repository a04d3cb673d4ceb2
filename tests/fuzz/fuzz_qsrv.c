/*
 * libFuzzer target: the internal Query API server's request path
 * (common/qsrv.c: form parsing, action dispatch, parameter helpers, reply
 * and error documents) with a table of actions that use every helper.
 * Every answer must be a complete document with a status.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/qsrv.h"
#include "common/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int f_echo(struct oc_qsrv_req *r)
{
    const char *v = oc_qsrv_need(r, "Value");
    const char **list = NULL;
    size_t n = 0;
    long long k;
    struct oc_err err = { 0 };

    if (!v || oc_qsrv_uint(r, "Count", 1, 0, 1000, &k))
        return OC_EINVAL;
    if (oc_query_list(r->arena, r->params, "Item", &list, &n, &err) != OC_OK)
        return oc_qsrv_error(r, "InvalidParameterValue", "%s", err.msg);
    oc_xmlw_elem(oc_qsrv_reply(r), "value", v);
    for (size_t i = 0; i < n; i++)
        oc_xmlw_elem(oc_qsrv_reply(r), "item", list[i]);
    return OC_OK;
}

static int f_fail(struct oc_qsrv_req *r)
{
    return oc_qsrv_error(r, oc_query_get(r->params, "Code") ? "Thing.NotFound" : "InternalError",
                         "%s", oc_query_get(r->params, "Message") ? "m" : "");
}

static const struct oc_qsrv_action actions[] = {
    { "Echo", f_echo }, { "Fail", f_fail }, { NULL, NULL },
};

static int deny(void *ctx, const struct oc_principal *who)
{
    (void)ctx;
    (void)who;
    return OC_EPERM;
}

static int lookup(void *ctx, const char *ak, struct oc_principal *out, struct oc_err *err)
{
    (void)ctx;
    (void)ak;
    (void)out;
    return oc_err_set(err, OC_ENOTFOUND, "none");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct oc_qsrv *qs;
    static struct oc_cred_source src = { .lookup = lookup };
    struct oc_principal who = { .user_name = "cc", .active = 1 };
    struct oc_buf out = { 0 };
    int status = 0;

    if (!qs) {
        struct oc_qsrv_config qc = { "nc", "urn:fuzz", actions, &src, deny, NULL, 0 };
        struct oc_err err = { 0 };

        oc_xml_init();
        if (oc_qsrv_new(&qc, &qs, &err) != OC_OK)
            abort();
    }
    if (oc_qsrv_invoke(qs, &who, (const char *)data, size, &out, &status) != OC_OK)
        abort();
    if (status < 200 || status > 599 || out.len == 0 ||
        (status == 200) != (memmem(out.data, out.len, "<requestId>", 11) != NULL))
        abort();
    oc_buf_free(&out);
    return 0;
}
