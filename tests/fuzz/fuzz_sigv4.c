/*
 * libFuzzer target: the SigV4 canonical-request builder, the SigV4 and
 * SigV2 Authorization parsers, the SigV2 string-to-sign builders and
 * oc_auth_verify() with a fixed in-memory credential source.
 *
 * The input is split on '\n' into: method, path, query, Authorization
 * value, then any number of "name:value" headers.  The clock is fixed at
 * the AWS examples' date so seeds built from them verify and reach the
 * deepest paths.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/auth.h"
#include "common/sigv2.h"
#include "common/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS 64

static int lookup(void *ctx, const char *akid, struct oc_principal *out, struct oc_err *err)
{
    (void)ctx;
    if (strcmp(akid, "AKIAIOSFODNN7EXAMPLE") != 0 && strcmp(akid, "AKIDEXAMPLE") != 0)
        return oc_err_set(err, OC_ENOTFOUND, "unknown");
    memset(out, 0, sizeof(*out));
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", akid);
    snprintf(out->secret_key, sizeof(out->secret_key), "%s",
             akid[4] == 'I' ? "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
                            : "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    out->active = 1;
    return OC_OK;
}

static void run_auth(const struct oc_auth_input *base, const char *service, time_t now,
                     const struct oc_query *params)
{
    struct oc_cred_source src = { lookup, NULL };
    struct oc_auth_input in = *base;
    struct oc_auth_result res;
    struct oc_auth_error aerr;

    in.service = service;
    in.now = now;
    in.params = params;
    if (oc_auth_verify(&in, &src, &res, &aerr) == OC_EAUTH) {
        if (!aerr.code || aerr.status < 400 || aerr.status > 599)
            abort();
        (void)strlen(aerr.message);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1), *field[4] = { "", "", "", "" }, *p;
    struct oc_http_header h[MAX_HEADERS + 1];
    size_t nh = 0, nf = 0;
    struct oc_sigv4_authz az;
    struct oc_sigv2_authz az2;
    struct oc_sigv4_req req;
    struct oc_auth_input in;
    struct oc_buf out = { 0 };
    struct oc_err err;
    struct oc_arena *a;
    struct oc_query q;
    int rc = OC_OK;

    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    p = buf;
    while (p) {
        char *nl = strchr(p, '\n');

        if (nl)
            *nl = '\0';
        if (nf < 4) {
            field[nf++] = p;
        } else if (nh < MAX_HEADERS) {
            char *colon = strchr(p, ':');

            if (colon) {
                *colon = '\0';
                h[nh].name = p;
                h[nh].value = colon + 1 + (colon[1] == ' ');
                nh++;
            }
        }
        p = nl ? nl + 1 : NULL;
    }
    if (*field[3] && nh < MAX_HEADERS + 1) {
        h[nh].name = "authorization";
        h[nh].value = field[3];
        nh++;
    }

    req.method = field[0];
    req.path = field[1];
    req.query = field[2];
    req.headers = h;
    req.nheaders = nh;
    /* The one-pass shortcut and the general path agree on every query. */
    for (int excl = 0; excl < 2; excl++) {
        struct oc_buf g = { 0 };
        int rf = oc_sigv4_canonical_query(field[2], excl, &out, &err);
        int rg = oc_sigv4_canonical_query_general(field[2], excl, &g, &err);

        if (rf != rg || (rf == OC_OK && strcmp(oc_buf_cstr(&out), oc_buf_cstr(&g)) != 0))
            abort();
        oc_buf_free(&g);
        oc_buf_reset(&out);
    }
    for (req.s3 = 0; req.s3 < 2; req.s3++) {
        rc = oc_sigv4_canonical_request(&req, "host;x-amz-date", 15, NULL, req.s3, &out, &err);
        oc_buf_reset(&out);
    }
    if (oc_sigv4_parse_authorization(field[3], &az, &err) == OC_OK) {
        req.s3 = 1;
        rc = oc_sigv4_canonical_request(&req, az.signed_headers.p, az.signed_headers.len,
                                        OC_SIGV4_UNSIGNED, 0, &out, &err);
        oc_buf_reset(&out);
    }
    if (oc_sigv2_parse_authorization(field[3], &az2, &err) == OC_OK)
        (void)strlen(az2.access_key);
    rc = oc_sigv2_s3_string_to_sign(field[0], field[1], field[2], "bucket", h, nh, NULL, &out,
                                    &err);
    oc_buf_reset(&out);

    memset(&in, 0, sizeof(in));
    in.method = field[0];
    in.path = field[1];
    in.query = field[2];
    in.headers = h;
    in.nheaders = nh;
    run_auth(&in, "s3", 1369353600, NULL);
    in.vhost_bucket = "johnsmith";
    run_auth(&in, "s3", 1175024202, NULL);
    in.vhost_bucket = NULL;
    a = oc_arena_new();
    if (oc_query_parse(a, field[2], strlen(field[2]), &q, &err) == OC_OK) {
        rc = oc_sigv2_ec2_string_to_sign(field[0], "Host", field[1], q.items, q.n, &out, &err);
        run_auth(&in, "ec2", 1317655170, &q);
        run_auth(&in, "iam", 1440938160, &q);
    }
    oc_arena_free(a);
    oc_buf_free(&out);
    free(buf);
    (void)rc;    /* errors are expected; crashes and sanitizer reports are the findings */
    return 0;
}
