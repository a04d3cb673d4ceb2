/*
 * Unit tests for the HTTP client (common/httpc.c) and the remote credential
 * source (common/cred_remote.c): against a bare oc_http server that checks
 * every request with oc_auth_verify and a two-key in-memory source, and
 * against an in-process CLC front door (clc/api.c + clc/identity_api.c), all
 * on loopback ports.
 */
#include "tests/unit/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clc/api.h"
#include "clc/identity.h"
#include "common/codec.h"
#include "common/config.h"
#include "common/cred_remote.h"
#include "common/fsutil.h"
#include "common/httpc.h"
#include "common/sigv4.h"
#include "common/auth.h"
#include "common/http.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

struct tclc {
    struct oc_config *conf;
    struct clc *clc;
    struct oc_http_server *srv;
    char url[64];
    /* an admin-account component key and an ordinary user's key */
    char comp_ak[OC_ACCESS_KEY_LEN + 1], comp_sk[OC_SECRET_KEY_LEN + 1];
    char user_ak[OC_ACCESS_KEY_LEN + 1], user_sk[OC_SECRET_KEY_LEN + 1];
};

/* ---------------------------------------------------------------------
 * A bare server: verifies each request's signature and echoes what it saw.
 * ------------------------------------------------------------------- */

#define T_AK "AKIAHTTPCTEST0000001"
#define T_SK "httpcTestSecretKey0000000000000000000000"
#define BIG_LEN (64u * 1024 * 1024 + 1)
#define OBJ_LEN (200u * 1024)

static char big_path[256];

static int t_lookup(void *ctx, const char *akid, struct oc_principal *out, struct oc_err *err)
{
    (void)ctx;
    if (strcmp(akid, T_AK) != 0)
        return oc_err_set(err, OC_ENOTFOUND, "no such key");
    memset(out, 0, sizeof(*out));
    snprintf(out->account_id, sizeof(out->account_id), "111122223333");
    snprintf(out->account_name, sizeof(out->account_name), "acct");
    snprintf(out->user_name, sizeof(out->user_name), "tester");
    snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", T_AK);
    snprintf(out->secret_key, sizeof(out->secret_key), "%s", T_SK);
    out->active = 1;
    return OC_OK;
}

/* Byte i of the test object. */
static uint8_t obj_byte(size_t i)
{
    return (uint8_t)((i * 7 + i / 251) & 0xff);
}

static void b_on_request(struct oc_http_req *r, void *ctx)
{
    struct oc_buf *body = calloc(1, sizeof(*body));

    (void)ctx;
    r->data = body;
    if (strcmp(r->path, "/big") == 0) {
        int fd = open(big_path, O_RDONLY);

        oc_http_respond_fd(r, 200, fd, 0, BIG_LEN);
    }
}

static void b_on_body(struct oc_http_req *r, const char *data, size_t len, void *ctx)
{
    (void)ctx;
    if (oc_buf_append(r->data, data, len) != OC_OK)
        oc_http_respond(r, 500, "text/plain", "oom", 3);
}

static void *b_late(void *arg)
{
    struct oc_http_req *r = arg;

    usleep(800 * 1000);
    oc_http_respond(r, 200, "text/plain", "late", 4);
    oc_http_resume(r);
    return NULL;
}

static pthread_t late_thread;
static int late_started;

static void b_on_end(struct oc_http_req *r, void *ctx)
{
    struct oc_cred_source src = { .lookup = t_lookup };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result res;
    struct oc_auth_error aerr;
    struct oc_query q = { 0 };
    struct oc_buf *body = r->data, out = { 0 };
    char sha[65];
    int query_api = strncmp(r->path, "/services/", 10) == 0;

    (void)ctx;
    if (strcmp(r->path, "/slow") == 0) {
        oc_http_suspend(r);
        late_started = pthread_create(&late_thread, NULL, b_late, r) == 0;
        return;
    }
    oc_sha256_hex(body->data ? body->data : "", body->len, sha);
    in.method = r->method;
    in.path = r->path;
    in.query = r->query;
    in.headers = r->headers;
    in.nheaders = r->nheaders;
    in.service = query_api ? "identity" : "s3";
    in.now = time(NULL);
    if (query_api) {
        if (oc_query_parse(r->arena, body->data ? (const char *)body->data : "", body->len, &q,
                           NULL) != OC_OK) {
            oc_http_respond(r, 400, "text/plain", "bad form", 8);
            return;
        }
        in.params = &q;
        in.body_sha256 = sha;
    }
    if (oc_auth_verify(&in, &src, &res, &aerr) != OC_OK) {
        (void)!oc_buf_printf(&out, "code=%s", aerr.code);
        oc_http_respond_buf(r, aerr.status, "text/plain", &out);
        oc_buf_free(&out);
        return;
    }
    if (res.kind == OC_AUTH_ANONYMOUS) {
        oc_http_respond(r, 403, "text/plain", "anonymous", 9);
        return;
    }
    if (res.payload == OC_PAYLOAD_SHA256 && strcmp(res.payload_sha256, sha) != 0) {
        oc_http_respond(r, 400, "text/plain", "payload hash", 12);
        return;
    }
    if (strcmp(r->method, "GET") == 0 && strncmp(r->path, "/bucket/obj", 11) == 0) {
        for (size_t i = 0; i < OBJ_LEN; i++)
            (void)!oc_buf_putc(&out, (char)obj_byte(i));
        oc_http_respond_buf(r, 200, "application/octet-stream", &out);
        oc_buf_free(&out);
        return;
    }
    (void)!oc_buf_printf(&out, "user=%s method=%s path=%s len=%zu ctype=%s", res.who.user_name,
                         r->method, r->path, body->len,
                         oc_http_header(r, "content-type") ? oc_http_header(r, "content-type")
                                                           : "-");
    if (query_api)
        (void)!oc_buf_printf(&out, " action=%s p=%s", oc_query_get(&q, "Action"),
                             oc_query_get(&q, "Odd.1") ? oc_query_get(&q, "Odd.1") : "-");
    oc_http_respond_buf(r, 200, "text/plain", &out);
    oc_buf_free(&out);
}

static void b_on_done(struct oc_http_req *r, void *ctx, int ok)
{
    (void)ctx, (void)ok;
    if (r->data) {
        oc_buf_free(r->data);
        free(r->data);
        r->data = NULL;
    }
}

static void b_on_error(struct oc_http_req *r, void *ctx, int status, const char *code,
                       const char *message)
{
    (void)ctx, (void)code, (void)message;
    oc_http_respond(r, status, "text/plain", "error", 5);
}

OC_TEST(httpc_requests_verified_by_the_server)
{
    struct oc_http_handler h = { b_on_request, b_on_body, b_on_end, b_on_done, b_on_error,
                                 NULL };
    struct oc_http_config hc = { .bind_addr = "127.0.0.1", .threads = 2 };
    struct oc_http_server *srv = NULL;
    struct oc_httpc_config cfg = { 0 };
    struct oc_httpc *c = NULL;
    struct oc_httpc_resp resp = { 0 };
    struct oc_err err = { 0 };
    struct oc_kv p[2] = { { "Odd.1", "a b+c/=&%~*\xc3\xbc", 1 }, { "Empty", "", 1 } };
    char url[64], want[256], fpath[256];
    uint8_t bin[300];
    int fd, ok;

    snprintf(big_path, sizeof(big_path), "%s/httpc-big", oc_test_tmpdir());
    fd = open(big_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK(fd >= 0 && ftruncate(fd, BIG_LEN) == 0);          /* sparse */
    close(fd);
    CHECK_INT(oc_http_start(&hc, &h, &srv, &err), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)oc_http_port(srv));
    cfg.endpoint = url;
    cfg.access_key_id = T_AK;
    cfg.secret_key = T_SK;
    CHECK_INT(oc_httpc_new(&cfg, &c, &err), 0);

    /* A Query call: form-encoded by AWS's rules, signed for "identity". */
    CHECK_INT(oc_httpc_query(c, "/services/Identity", "identity", "Test Action", "2026-11-01",
                             p, 2, &resp, &err), 0);
    CHECK_INT(resp.status, 200);
    CHECK(strstr(oc_buf_cstr(&resp.body), "user=tester method=POST path=/services/Identity"));
    CHECK(strstr(oc_buf_cstr(&resp.body), "ctype=application/x-www-form-urlencoded"));
    CHECK(strstr(oc_buf_cstr(&resp.body), " action=Test Action p=a b+c/=&%~*\xc3\xbc"));
    oc_httpc_resp_free(&resp);

    /* The same handle again (keep-alive), S3 GET with an encoded query. */
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "GET", "s3", "/bucket/obj%20x", "list-type=2&prefix=a%20b",
                               NULL, 0, -1, &resp, &err), 0);
    CHECK_INT(resp.status, 200);
    CHECK_INT(resp.body.len, OBJ_LEN);
    ok = resp.body.len == OBJ_LEN;
    for (size_t i = 0; ok && i < OBJ_LEN; i++)
        ok = (uint8_t)resp.body.data[i] == obj_byte(i);
    CHECK(ok);
    oc_httpc_resp_free(&resp);

    /* Body to a descriptor. */
    snprintf(fpath, sizeof(fpath), "%s/httpc-obj", oc_test_tmpdir());
    fd = open(fpath, O_CREAT | O_TRUNC | O_RDWR, 0600);
    CHECK(fd >= 0);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "GET", "s3", "/bucket/obj", NULL, NULL, 0, fd, &resp, &err),
              0);
    CHECK_INT(resp.status, 200);
    CHECK_INT(resp.body.len, 0);
    {
        struct stat st;

        CHECK(fstat(fd, &st) == 0 && st.st_size == (off_t)OBJ_LEN);
        ok = 1;
        for (size_t i = 0; ok && i < 1000; i++) {
            uint8_t b;

            ok = pread(fd, &b, 1, (off_t)(i * 200)) == 1 && b == obj_byte(i * 200);
        }
        CHECK(ok);
    }
    close(fd);
    oc_httpc_resp_free(&resp);

    /* PUT of binary bytes, signed payload hash; HEAD; DELETE. */
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (uint8_t)(255 - i);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "PUT", "s3", "/bucket/k%2Bx", NULL, bin, sizeof(bin), -1,
                               &resp, &err), 0);
    CHECK_INT(resp.status, 200);
    snprintf(want, sizeof(want), "user=tester method=PUT path=/bucket/k%%2Bx len=%zu "
             "ctype=application/octet-stream", sizeof(bin));
    CHECK_STR(oc_buf_cstr(&resp.body), want);
    oc_httpc_resp_free(&resp);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "HEAD", "s3", "/bucket/k", NULL, NULL, 0, -1, &resp, &err),
              0);
    CHECK_INT(resp.status, 200);
    CHECK_INT(resp.body.len, 0);
    oc_httpc_resp_free(&resp);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "DELETE", "s3", "/bucket/k", NULL, NULL, 0, -1, &resp,
                               &err), 0);
    CHECK_INT(resp.status, 200);
    CHECK_STR(oc_buf_cstr(&resp.body), "user=tester method=DELETE path=/bucket/k len=0 ctype=-");
    oc_httpc_resp_free(&resp);

    /* Over the in-memory limit: an error; to a descriptor: fine. */
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "GET", "s3", "/big", NULL, NULL, 0, -1, &resp, &err),
              OC_ETOOBIG);
    oc_httpc_resp_free(&resp);
    fd = open("/dev/null", O_WRONLY);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "GET", "s3", "/big", NULL, NULL, 0, fd, &resp, &err), 0);
    CHECK_INT(resp.status, 200);
    close(fd);
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);

    /* Timeout: the whole request, then OC_EIO. */
    cfg.timeout_ms = 200;
    CHECK_INT(oc_httpc_new(&cfg, &c, &err), 0);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "GET", "s3", "/slow", NULL, NULL, 0, -1, &resp, &err),
              OC_EIO);
    CHECK_INT(resp.status, 0);
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);
    cfg.timeout_ms = 0;

    /* A wrong secret and an unknown key are refused by the server. */
    cfg.secret_key = "wrongSecretKey00000000000000000000000000";
    CHECK_INT(oc_httpc_new(&cfg, &c, &err), 0);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "GET", "s3", "/bucket/k", NULL, NULL, 0, -1, &resp, &err),
              0);
    CHECK_INT(resp.status, 403);
    CHECK_STR(oc_buf_cstr(&resp.body), "code=SignatureDoesNotMatch");
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);
    cfg.access_key_id = "AKIANOSUCHKEY0000000";
    CHECK_INT(oc_httpc_new(&cfg, &c, &err), 0);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_query(c, "/services/Identity", "identity", "X", "1", NULL, 0, &resp,
                             &err), 0);
    CHECK_INT(resp.status, 403);
    CHECK_STR(oc_buf_cstr(&resp.body), "code=InvalidAccessKeyId");
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);

    /* No credentials: unsigned. */
    cfg.access_key_id = NULL;
    cfg.secret_key = NULL;
    CHECK_INT(oc_httpc_new(&cfg, &c, &err), 0);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_request(c, "GET", "s3", "/bucket/k", NULL, NULL, 0, -1, &resp, &err),
              0);
    CHECK_INT(resp.status, 403);
    CHECK_STR(oc_buf_cstr(&resp.body), "anonymous");
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);

    if (late_started)
        pthread_join(late_thread, NULL);
    oc_http_stop(srv);
    unlink(big_path);
}

static int tclc_start(struct tclc *t, const char *name)
{
    char home[256];
    struct oc_err err = { 0 };
    struct oc_http_config hc = { .bind_addr = "127.0.0.1", .threads = 2 };
    struct oc_http_handler h;
    struct clc_account a, b;
    struct clc_access_key k;
    struct oc_db *db;

    memset(t, 0, sizeof(*t));
    snprintf(home, sizeof(home), "%s/%s", oc_test_tmpdir(), name);
    t->conf = oc_config_new();
    if (oc_mkdirs(home, 0700, &err) || clc_new(home, t->conf, &t->clc, &err))
        return -1;
    db = oc_dbpool_get(clc_pool(t->clc), &err);
    if (!db || clc_account_create(clc_identity(t->clc), db, OC_ADMIN_ACCOUNT, &a, &err) ||
        clc_user_create(db, a.id, "walrus", NULL, NULL, &err) ||
        clc_key_create(clc_identity(t->clc), db, a.id, "walrus", &k, t->comp_sk, &err))
        return -1;
    memcpy(t->comp_ak, k.id, sizeof(t->comp_ak));
    if (clc_account_create(clc_identity(t->clc), db, "someone", &b, &err) ||
        clc_user_create(db, b.id, "u", NULL, NULL, &err) ||
        clc_key_create(clc_identity(t->clc), db, b.id, "u", &k, t->user_sk, &err))
        return -1;
    memcpy(t->user_ak, k.id, sizeof(t->user_ak));
    oc_dbpool_put(clc_pool(t->clc), db);
    clc_http_handler(t->clc, &h);
    if (oc_http_start(&hc, &h, &t->srv, &err))
        return -1;
    snprintf(t->url, sizeof(t->url), "http://127.0.0.1:%u", (unsigned)oc_http_port(t->srv));
    return 0;
}

static void tclc_stop(struct tclc *t)
{
    oc_http_stop(t->srv);
    clc_free(t->clc);
    oc_config_free(t->conf);
}

OC_TEST(httpc_signed_query_reaches_the_clc)
{
    struct tclc t;
    struct oc_httpc *c = NULL;
    struct oc_httpc_config cfg = { 0 };
    struct oc_httpc_resp resp = { 0 };
    struct oc_err err = { 0 };
    struct oc_kv p[1] = { { "RegionName.1", "us-east-1", 1 } };

    CHECK_INT(tclc_start(&t, "httpc1"), 0);
    cfg.endpoint = t.url;
    cfg.access_key_id = t.user_ak;
    cfg.secret_key = t.user_sk;
    CHECK_INT(oc_httpc_new(&cfg, &c, &err), 0);
    /* A signed call gets past authentication to the dispatcher. */
    CHECK_INT(oc_httpc_query(c, "/", "ec2", "NoSuchAction", "2016-11-15", p, 1, &resp, &err), 0);
    CHECK_INT(resp.status, 400);
    CHECK(resp.body.len && strstr(oc_buf_cstr(&resp.body), "<Code>InvalidAction</Code>"));
    oc_httpc_resp_free(&resp);
    memset(&resp, 0, sizeof(resp));
    /* The Identity API refuses a caller outside the eucalyptus account. */
    CHECK_INT(oc_httpc_query(c, "/services/Identity", "identity", "GetSigningKey",
                             "2026-11-01", p, 1, &resp, &err), 0);
    CHECK_INT(resp.status, 403);
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);

    /* A wrong secret is refused. */
    cfg.secret_key = "0000000000000000000000000000000000000000";
    CHECK_INT(oc_httpc_new(&cfg, &c, &err), 0);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_query(c, "/", "ec2", "DescribeRegions", "2016-11-15", NULL, 0, &resp,
                             &err), 0);
    CHECK_INT(resp.status, 401);
    CHECK(resp.body.len && strstr(oc_buf_cstr(&resp.body), "<Code>AuthFailure</Code>"));
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);

    /* Nothing listening: an error, not a status. */
    cfg.endpoint = "http://127.0.0.1:9";
    CHECK_INT(oc_httpc_new(&cfg, &c, &err), 0);
    memset(&resp, 0, sizeof(resp));
    CHECK_INT(oc_httpc_query(c, "/", "ec2", "DescribeRegions", "2016-11-15", NULL, 0, &resp,
                             &err), OC_EIO);
    oc_httpc_resp_free(&resp);
    oc_httpc_free(c);
    CHECK_INT(oc_httpc_new(&(struct oc_httpc_config){ .endpoint = "ftp://x" }, &c, &err),
              OC_EINVAL);
    tclc_stop(&t);
}

OC_TEST(cred_remote_matches_local_derivation)
{
    struct tclc t;
    struct oc_cred_remote *rem = NULL;
    struct oc_cred_source src;
    struct oc_principal who;
    struct oc_err err = { 0 };
    uint8_t key[32], want[32], mac[32];
    size_t maclen = 0;
    const char *sts = "GET\n\n\n1234\n/bucket/key";

    CHECK_INT(tclc_start(&t, "httpc2"), 0);
    CHECK_INT(oc_cred_remote_new(t.url, t.comp_ak, t.comp_sk, &rem, &err), 0);
    src = oc_cred_remote_source(rem);
    CHECK_INT(oc_cred_sigv4_key(&src, t.user_ak, "20261122", "us-east-1", "s3", key, &who,
                                &err), 0);
    oc_sigv4_signing_key(t.user_sk, strlen(t.user_sk), "20261122", 8, "us-east-1", 9, "s3", 2,
                         want);
    CHECK(memcmp(key, want, 32) == 0);
    CHECK_STR(who.account_name, "someone");
    CHECK_STR(who.user_name, "u");
    CHECK_INT(who.is_admin, 0);
    CHECK_INT(who.active, 1);
    CHECK_INT(who.secret_key[0], 0);
    /* Cached: the same answer again. */
    memset(key, 0, sizeof(key));
    CHECK_INT(oc_cred_sigv4_key(&src, t.user_ak, "20261122", "us-east-1", "s3", key, &who,
                                &err), 0);
    CHECK(memcmp(key, want, 32) == 0);

    CHECK_INT(oc_cred_sigv2_sign(&src, t.user_ak, OC_CRED_HMAC_SHA1, sts, strlen(sts), mac,
                                 &maclen, &who, &err), 0);
    CHECK_INT(maclen, 20);
    oc_hmac_sha1(t.user_sk, strlen(t.user_sk), sts, strlen(sts), want);
    CHECK(memcmp(mac, want, 20) == 0);
    CHECK_INT(oc_cred_sigv2_sign(&src, t.user_ak, OC_CRED_HMAC_SHA256, sts, strlen(sts), mac,
                                 &maclen, &who, &err), 0);
    CHECK_INT(maclen, 32);
    oc_hmac_sha256(t.user_sk, strlen(t.user_sk), sts, strlen(sts), want);
    CHECK(memcmp(mac, want, 32) == 0);

    CHECK_INT(oc_cred_sigv4_key(&src, "AKIANOSUCHKEY0000000", "20261122", "us-east-1", "s3",
                                key, &who, &err), OC_ENOTFOUND);
    CHECK_INT(oc_cred_sigv2_sign(&src, "AKIANOSUCHKEY0000000", OC_CRED_HMAC_SHA1, "x", 1, mac,
                                 &maclen, &who, &err), OC_ENOTFOUND);
    CHECK_INT(src.lookup(src.ctx, t.user_ak, &who, &err), 0);
    CHECK_STR(who.account_name, "someone");
    oc_cred_remote_free(rem);

    /* A component key outside the eucalyptus account is refused by the CLC:
     * the check fails closed. */
    CHECK_INT(oc_cred_remote_new(t.url, t.user_ak, t.user_sk, &rem, &err), 0);
    src = oc_cred_remote_source(rem);
    CHECK(oc_cred_sigv4_key(&src, t.comp_ak, "20261122", "us-east-1", "s3", key, &who, &err)
          != OC_OK);
    oc_cred_remote_free(rem);
    tclc_stop(&t);
}

OC_TEST(httpc_load_creds)
{
    char path[256];
    char *ak = NULL, *sk = NULL;
    struct oc_err err = { 0 };
    const char *text = "# comment\nexport AWS_ACCESS_KEY_ID=\"AKIAEXAMPLE\"\n"
                       "AWS_SECRET_ACCESS_KEY='abc/def+ghi'\r\n";

    snprintf(path, sizeof(path), "%s/creds-file", oc_test_tmpdir());
    CHECK_INT(oc_write_file_atomic(path, text, strlen(text), 0600, &err), 0);
    CHECK_INT(oc_httpc_load_creds(path, &ak, &sk, &err), 0);
    CHECK_STR(ak, "AKIAEXAMPLE");
    CHECK_STR(sk, "abc/def+ghi");
    free(ak);
    free(sk);
    CHECK_INT(oc_write_file_atomic(path, "AWS_ACCESS_KEY_ID=x\n", 20, 0600, &err), 0);
    CHECK_INT(oc_httpc_load_creds(path, &ak, &sk, &err), OC_EINVAL);
    snprintf(path, sizeof(path), "%s/no-such-file", oc_test_tmpdir());
    CHECK_INT(oc_httpc_load_creds(path, &ak, &sk, &err), OC_ENOTFOUND);
}

/*
 * The cache: a signing key and an unknown-key answer are served from memory
 * while the CLC is away, for their TTLs only; after that the check fails
 * closed (not OC_OK, not OC_ENOTFOUND).
 */
OC_TEST(cred_remote_cache_lifetimes)
{
    struct tclc t;
    struct oc_cred_remote *rem = NULL;
    struct oc_cred_source src;
    struct oc_principal who;
    struct oc_err err = { 0 };
    uint8_t key[32], want[32], mac[32];
    size_t maclen;
    const char *nokey = "AKIANOSUCHKEY0000001";

    CHECK_INT(tclc_start(&t, "httpc3"), 0);
    CHECK_INT(oc_cred_remote_new(t.url, t.comp_ak, t.comp_sk, &rem, &err), 0);
    src = oc_cred_remote_source(rem);
    CHECK_INT(oc_cred_sigv4_key(&src, t.user_ak, "20261122", "us-east-1", "s3", key, &who,
                                &err), 0);
    memcpy(want, key, 32);
    CHECK_INT(oc_cred_sigv4_key(&src, nokey, "20261122", "us-east-1", "s3", key, &who, &err),
              OC_ENOTFOUND);

    /* The CLC goes away. */
    oc_http_stop(t.srv);
    t.srv = NULL;
    memset(key, 0, sizeof(key));
    CHECK_INT(oc_cred_sigv4_key(&src, t.user_ak, "20261122", "us-east-1", "s3", key, &who,
                                &err), 0);
    CHECK(memcmp(key, want, 32) == 0);
    CHECK_STR(who.user_name, "u");
    CHECK_INT(oc_cred_sigv4_key(&src, nokey, "20261122", "us-east-1", "s3", key, &who, &err),
              OC_ENOTFOUND);
    /* Another scope, and SigV2, were never cached. */
    CHECK_INT(oc_cred_sigv4_key(&src, t.user_ak, "20261122", "us-east-1", "ec2", key, &who,
                                &err), OC_EINTERNAL);
    CHECK_INT(oc_cred_sigv2_sign(&src, t.user_ak, OC_CRED_HMAC_SHA1, "x", 1, mac, &maclen, &who,
                                 &err), OC_EINTERNAL);

    sleep(OC_CRED_REMOTE_TTL_S + 1);
    CHECK_INT(oc_cred_sigv4_key(&src, t.user_ak, "20261122", "us-east-1", "s3", key, &who,
                                &err), OC_EINTERNAL);
    CHECK_INT(oc_cred_sigv4_key(&src, nokey, "20261122", "us-east-1", "s3", key, &who, &err),
              OC_EINTERNAL);
    oc_cred_remote_free(rem);
    tclc_stop(&t);
}
