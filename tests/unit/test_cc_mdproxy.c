/*
 * test_cc_mdproxy.c - the metadata proxy on loopback: it names the
 * instance by source address, forwards a SigV4-signed GET to the
 * upstream (checked here by a real verifier), passes statuses through,
 * and refuses what is not a plain GET from an instance.  Inside a network
 * namespace, with the nftables redirect: tests/integration/test_cc.py.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cc/mdproxy.h"
#include "common/auth.h"
#include "common/http.h"
#include "tests/unit/harness.h"

#define M_AK "AKIAMDPROXYTESTCC001"
#define M_SK "mdproxyTestSecretKeyForTheCC000000000000"

static int m_lookup(void *ctx, const char *akid, struct oc_principal *out, struct oc_err *err)
{
    (void)ctx;
    if (strcmp(akid, M_AK) != 0)
        return oc_err_set(err, OC_ENOTFOUND, "no such key");
    memset(out, 0, sizeof(*out));
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", M_AK);
    snprintf(out->secret_key, sizeof(out->secret_key), "%s", M_SK);
    snprintf(out->user_name, sizeof(out->user_name), "cc");
    out->active = 1;
    return OC_OK;
}

/* The upstream: verifies the signature, echoes the path. */
static void up_on_request(struct oc_http_req *r, void *ctx)
{
    struct oc_cred_source src = { .lookup = m_lookup };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result ar;
    struct oc_auth_error ae = { 0 };
    char body[1200];

    (void)ctx;
    in.method = r->method;
    in.path = r->path;
    in.query = r->query;
    in.headers = r->headers;
    in.nheaders = r->nheaders;
    in.service = "metadata";
    in.now = time(NULL);
    if (oc_auth_verify(&in, &src, &ar, &ae) != OC_OK || ar.kind != OC_AUTH_SIGV4_HEADER) {
        oc_http_respond(r, 401, "text/plain", "unsigned", 8);
        return;
    }
    if (strstr(r->path, "/missing")) {
        oc_http_respond(r, 404, "text/plain", "none", 4);
        return;
    }
    snprintf(body, sizeof(body), "upstream saw %s", r->path);
    oc_http_respond(r, 200, "text/plain", body, strlen(body));
}

static void up_on_end(struct oc_http_req *r, void *ctx)
{
    (void)r;
    (void)ctx;
}

static int only_loopback(void *ctx, const char *ip, char id[24])
{
    int *allow = ctx;

    if (!*allow || strcmp(ip, "127.0.0.1") != 0)
        return OC_ENOTFOUND;
    snprintf(id, 24, "i-0123456789abcdef0");
    return OC_OK;
}

static size_t sink(char *p, size_t s, size_t n, void *ud)
{
    struct oc_buf *b = ud;

    return oc_buf_append(b, p, s * n) == OC_OK ? s * n : 0;
}

static long get(unsigned port, const char *path, const char *method, struct oc_buf *out)
{
    CURL *c = curl_easy_init();
    char url[512];
    long status = -1;

    snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
    oc_buf_reset(out);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    if (method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (oc_buf_putc(out, 0) != OC_OK)
        return -1;
    return status;
}

OC_TEST(cc_mdproxy_forwards_signed_and_refuses)
{
    struct oc_http_config uc = { .bind_addr = "127.0.0.1", .threads = 1 };
    struct oc_http_handler uh = { .on_request = up_on_request, .on_end = up_on_end };
    struct oc_http_server *up = NULL;
    struct cc_mdproxy_config mc = { 0 };
    struct cc_mdproxy *p = NULL;
    struct oc_err err = { 0 };
    struct oc_buf b = { 0 };
    char upurl[64];
    int allow = 1;
    unsigned port;

    CHECK_INT(oc_http_start(&uc, &uh, &up, &err), OC_OK);
    if (!up)
        return;
    snprintf(upurl, sizeof(upurl), "http://127.0.0.1:%u", (unsigned)oc_http_port(up));
    mc.bind_ip = "127.0.0.1";
    mc.upstream = upurl;
    mc.access_key_id = M_AK;
    mc.secret_key = M_SK;
    mc.instance_of = only_loopback;
    mc.ctx = &allow;
    CHECK_INT(cc_mdproxy_start(&mc, &p, &err), OC_OK);
    if (!p) {
        oc_http_stop(up);
        return;
    }
    port = cc_mdproxy_port(p);
    CHECK(port != 0);

    CHECK_INT(get(port, "/latest/meta-data/instance-id", NULL, &b), 200);
    CHECK_STR((const char *)b.data,
              "upstream saw /services/metadata/i-0123456789abcdef0/latest/meta-data/instance-id");
    CHECK_INT(get(port, "/latest/meta-data/missing", NULL, &b), 404);
    CHECK_INT(get(port, "/latest/../../etc", NULL, &b), 400);
    CHECK_INT(get(port, "/latest/meta-data?x=1", NULL, &b), 400);
    CHECK_INT(get(port, "/latest/user-data", "POST", &b), 405);
    allow = 0;   /* an address that is no instance's */
    CHECK_INT(get(port, "/latest/meta-data/instance-id", NULL, &b), 403);
    allow = 1;

    /* A wrong key is refused upstream, and the proxy says so. */
    cc_mdproxy_stop(p);
    mc.secret_key = "x";
    CHECK_INT(cc_mdproxy_start(&mc, &p, &err), OC_OK);
    if (p) {
        CHECK_INT(get(cc_mdproxy_port(p), "/latest/meta-data/", NULL, &b), 401);
        cc_mdproxy_stop(p);
    }
    /* The upstream gone: 502. */
    mc.secret_key = M_SK;
    mc.upstream = "http://127.0.0.1:1";
    CHECK_INT(cc_mdproxy_start(&mc, &p, &err), OC_OK);
    if (p) {
        CHECK_INT(get(cc_mdproxy_port(p), "/latest/meta-data/", NULL, &b), 502);
        cc_mdproxy_stop(p);
    }
    CHECK_INT(cc_listen_in_netns("no/such", "127.0.0.1", 0, (int[]){ 0 }, &err), OC_EINVAL);
    CHECK_INT(cc_listen_in_netns(NULL, "not-an-ip", 0, (int[]){ 0 }, &err), OC_EINVAL);
    oc_buf_free(&b);
    oc_http_stop(up);
}
