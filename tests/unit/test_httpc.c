/*
 * Unit tests for the HTTP client (common/httpc.c) and the remote credential
 * source (common/cred_remote.c), against an in-process CLC front door
 * (clc/api.c + clc/identity_api.c) on a loopback port.
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

struct tclc {
    struct oc_config *conf;
    struct clc *clc;
    struct oc_http_server *srv;
    char url[64];
    /* an admin-account component key and an ordinary user's key */
    char comp_ak[OC_ACCESS_KEY_LEN + 1], comp_sk[OC_SECRET_KEY_LEN + 1];
    char user_ak[OC_ACCESS_KEY_LEN + 1], user_sk[OC_SECRET_KEY_LEN + 1];
};

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
