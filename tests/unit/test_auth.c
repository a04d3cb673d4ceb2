/*
 * test_auth.c - oc_auth_verify() end to end: every signature form verified
 * with AWS's documented example requests (so the expected signatures are
 * AWS's, not ours), and the refusals with their AWS codes and statuses:
 * wrong secret, unknown and inactive keys, clock skew, expiry, malformed
 * and conflicting authorization.
 */
#include "tests/unit/harness.h"

#include <ctype.h>
#include <stdlib.h>

#include "common/arena.h"
#include "common/auth.h"
#include "common/chunked.h"
#include "common/codec.h"
#include "common/sigv2.h"
#include "common/sigv4.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DATE "20130524T000000Z"
#define T_20130524 1369353600
#define EMPTY OC_SIGV4_EMPTY_SHA256
#define NH(a) (sizeof(a) / sizeof((a)[0]))

struct fake_key {
    const char *akid, *secret;
    int active;
};

static const struct fake_key keys[] = {
    { AKID, SECRET, 1 },
    { "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1 },
    { "AKIDINACTIVE00000000", SECRET, 0 },
};

static const struct fake_key wrong_keys[] = {
    { AKID, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ", 1 },
};

static int fake_lookup(void *ctx, const char *akid, struct oc_principal *out, struct oc_err *err)
{
    const struct fake_key *k = ctx;

    for (; k->akid; k++) {
        if (strcmp(k->akid, akid) != 0)
            continue;
        memset(out, 0, sizeof(*out));
        snprintf(out->account_id, sizeof(out->account_id), "123456789012");
        snprintf(out->account_name, sizeof(out->account_name), "eucalyptus");
        snprintf(out->user_name, sizeof(out->user_name), "admin");
        snprintf(out->access_key_id, sizeof(out->access_key_id), "%s", k->akid);
        snprintf(out->secret_key, sizeof(out->secret_key), "%s", k->secret);
        out->is_admin = 1;
        out->active = k->active;
        return OC_OK;
    }
    return oc_err_set(err, OC_ENOTFOUND, "no such key");
}

static struct fake_key table[NH(keys) + 1], wrong_table[NH(wrong_keys) + 1];

static struct oc_cred_source source(int wrong)
{
    struct oc_cred_source s = { 0 };

    memcpy(table, keys, sizeof(keys));
    memcpy(wrong_table, wrong_keys, sizeof(wrong_keys));
    s.lookup = fake_lookup;
    s.ctx = wrong ? wrong_table : table;
    return s;
}

/*
 * A source shaped like Walrus's (common/cred_remote.c): lookup returns the
 * principal without its secret, and only the two callbacks, standing in
 * for the CLC, ever use the secret.  If auth.c reached for the secret
 * itself, every check made through this source would fail.
 */
static int remote_calls;

static int secretless_lookup(void *ctx, const char *akid, struct oc_principal *out,
                             struct oc_err *err)
{
    int rc = fake_lookup(ctx, akid, out, err);

    memset(out->secret_key, 0, sizeof(out->secret_key));
    return rc;
}

static int cb_sigv4_key(void *ctx, const char *akid, const char *date, const char *region,
                        const char *service, uint8_t key[32], struct oc_principal *who,
                        struct oc_err *err)
{
    int rc = fake_lookup(ctx, akid, who, err);

    remote_calls++;
    if (rc == OC_OK)
        oc_sigv4_signing_key(who->secret_key, strlen(who->secret_key), date, strlen(date),
                             region, strlen(region), service, strlen(service), key);
    memset(who->secret_key, 0, sizeof(who->secret_key));
    return rc;
}

static int cb_sigv2_sign(void *ctx, const char *akid, enum oc_cred_hmac alg, const char *data,
                         size_t len, uint8_t mac[32], size_t *maclen, struct oc_principal *who,
                         struct oc_err *err)
{
    int rc = fake_lookup(ctx, akid, who, err);

    remote_calls++;
    if (rc == OC_OK && alg == OC_CRED_HMAC_SHA1) {
        oc_hmac_sha1(who->secret_key, strlen(who->secret_key), data, len, mac);
        *maclen = 20;
    } else if (rc == OC_OK) {
        oc_hmac_sha256(who->secret_key, strlen(who->secret_key), data, len, mac);
        *maclen = 32;
    }
    memset(who->secret_key, 0, sizeof(who->secret_key));
    return rc;
}

static struct oc_cred_source secretless_source(int wrong)
{
    struct oc_cred_source s = source(wrong);

    s.lookup = secretless_lookup;
    s.sigv4_key = cb_sigv4_key;
    s.sigv2_sign = cb_sigv2_sign;
    return s;
}

/*
 * Verifies and, when want_code is set, checks the refusal.  Every case runs
 * twice: through the lookup-only source (secrets derived in creds.c) and
 * through the callbacks-only source; both must answer the same.
 */
static int verify(const struct oc_auth_input *in, int wrong, struct oc_auth_result *res,
                  const char *want_code, int want_status)
{
    struct oc_cred_source src = source(wrong), cb = secretless_source(wrong);
    struct oc_auth_result cres;
    struct oc_auth_error aerr, caerr;
    int crc = oc_auth_verify(in, &cb, &cres, &caerr);
    int rc = oc_auth_verify(in, &src, res, &aerr);

    CHECK_INT(crc, rc);
    if (crc == OC_EAUTH && rc == OC_EAUTH) {
        CHECK_STR(caerr.code, aerr.code);
        CHECK_INT(caerr.status, aerr.status);
    }
    if (crc == OC_OK && rc == OC_OK) {
        CHECK_INT(cres.kind, res->kind);
        CHECK_INT(cres.payload, res->payload);
        CHECK_STR(cres.who.access_key_id, res->who.access_key_id);
        CHECK_STR(cres.who.account_id, res->who.account_id);
        CHECK_STR(cres.who.secret_key, "");
        CHECK_STR(res->who.secret_key, "");
        CHECK(memcmp(cres.signing_key, res->signing_key, 32) == 0);
    }

    if (want_code) {
        CHECK_INT(rc, OC_EAUTH);
        if (rc == OC_EAUTH && strcmp(aerr.code, want_code) != 0)
            printf("  refused with: %s %s\n", aerr.code, aerr.message);
        if (rc == OC_EAUTH) {
            CHECK_STR(aerr.code, want_code);
            CHECK_INT(aerr.status, want_status);
        }
    } else {
        if (rc != OC_OK)
            printf("  refused: %s %d %s\n", aerr.code, aerr.status, aerr.message);
        CHECK_INT(rc, OC_OK);
    }
    return rc;
}

/* The GET Object example exactly as the S3 documentation prints it. */
static struct oc_http_header get_h[] = {
    { "host", "examplebucket.s3.amazonaws.com" },
    { "range", "bytes=0-9" },
    { "x-amz-content-sha256", EMPTY },
    { "x-amz-date", DATE },
    { "authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
      "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature="
      "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41" },
};

static struct oc_auth_input get_input(void)
{
    struct oc_auth_input in = { 0 };

    in.method = "GET";
    in.path = "/test.txt";
    in.query = "";
    in.headers = get_h;
    in.nheaders = NH(get_h);
    in.service = "s3";
    in.now = T_20130524 + 60;
    return in;
}

OC_TEST(auth_v4_header_aws_get_object)
{
    struct oc_auth_input in = get_input();
    struct oc_auth_result r;

    if (verify(&in, 0, &r, NULL, 0) == OC_OK) {
        CHECK_INT(r.kind, OC_AUTH_SIGV4_HEADER);
        CHECK_STR(r.who.access_key_id, AKID);
        CHECK_STR(r.who.account_id, "123456789012");
        CHECK_STR(r.who.secret_key, "");          /* never handed out */
        CHECK_INT(r.payload, OC_PAYLOAD_SHA256);
        CHECK_STR(r.payload_sha256, EMPTY);
    }
    verify(&in, 1, &r, "SignatureDoesNotMatch", 403);
    /* A changed signed header or path breaks the signature. */
    get_h[1].value = "bytes=0-10";
    verify(&in, 0, &r, "SignatureDoesNotMatch", 403);
    get_h[1].value = "bytes=0-9";
    in.path = "/test.txT";
    verify(&in, 0, &r, "SignatureDoesNotMatch", 403);
}

OC_TEST(auth_v4_header_clock_and_keys)
{
    struct oc_auth_input in = get_input();
    struct oc_auth_result r;
    struct oc_http_header h[NH(get_h)];
    char authz[512];

    in.now = T_20130524 + 14 * 60;
    verify(&in, 0, &r, NULL, 0);
    in.now = T_20130524 + 16 * 60;
    verify(&in, 0, &r, "RequestTimeTooSkewed", 403);
    in.now = T_20130524 - 16 * 60;
    verify(&in, 0, &r, "RequestTimeTooSkewed", 403);
    in.now = T_20130524;

    memcpy(h, get_h, sizeof(h));
    in.headers = h;
    snprintf(authz, sizeof(authz), "%s", get_h[4].value);
    memcpy(strstr(authz, AKID), "AKIAIOSFODNN7EXAMPLF", 20);
    h[4].value = authz;
    verify(&in, 0, &r, "InvalidAccessKeyId", 403);
    memcpy(strstr(authz, "AKIAIOSFODNN7EXAMPLF"), "AKIDINACTIVE00000000", 20);
    verify(&in, 0, &r, "InvalidAccessKeyId", 403);

    /* No usable date. */
    memcpy(h, get_h, sizeof(h));
    h[3].value = "2013-05-24";
    verify(&in, 0, &r, "AccessDenied", 403);
    /* x-amz-date of another day than the credential scope. */
    h[3].value = "20130525T000000Z";
    in.now = T_20130524 + 86400;
    verify(&in, 0, &r, "AuthorizationHeaderMalformed", 400);
}

OC_TEST(auth_v4_header_refusals)
{
    struct oc_auth_input in = get_input();
    struct oc_auth_result r;
    struct oc_http_header h[NH(get_h) + 1];

    memcpy(h, get_h, sizeof(get_h));
    in.headers = h;
    h[4].value = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                 "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date";
    verify(&in, 0, &r, "AuthorizationHeaderMalformed", 400);
    h[4].value = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/ec2/"
                 "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                 "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    verify(&in, 0, &r, "AuthorizationHeaderMalformed", 400);
    h[4].value = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
                 "aws4_request,SignedHeaders=range;x-amz-content-sha256;x-amz-date,"
                 "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
    verify(&in, 0, &r, "AuthorizationHeaderMalformed", 400);   /* host not signed */
    h[4].value = "Bearer abc";
    verify(&in, 0, &r, "InvalidArgument", 400);

    /* S3 requires x-amz-content-sha256 with SigV4. */
    memcpy(h, get_h, sizeof(get_h));
    h[2].name = "x-other";
    verify(&in, 0, &r, "InvalidRequest", 400);
    h[2].name = "x-amz-content-sha256";
    h[2].value = "not-a-hash";
    verify(&in, 0, &r, "InvalidArgument", 400);
    /* An x-amz-* header outside the signature. */
    memcpy(h, get_h, sizeof(get_h));
    h[5].name = "x-amz-acl";
    h[5].value = "public-read";
    in.nheaders = NH(get_h) + 1;
    verify(&in, 0, &r, "AccessDenied", 403);
    /* Header and query auth at once. */
    in.nheaders = NH(get_h);
    in.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
    verify(&in, 0, &r, "InvalidArgument", 400);
}

static const char chunk_body_hdr1[] =
    "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n";
static const char chunk_body_hdr2[] =
    "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n";
static const char chunk_body_end[] =
    "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
    "\r\n\r\n";

static int count_sink(void *arg, const char *data, size_t len)
{
    (void)data;
    *(size_t *)arg += len;
    return OC_OK;
}

/* The chunk-signed upload example: the request authenticates with its seed
 * signature, and the result drives the decoder through the documented
 * chunk signatures. */
OC_TEST(auth_v4_streaming_example)
{
    static const struct oc_http_header h[] = {
        { "host", "s3.amazonaws.com" },
        { "x-amz-date", DATE },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
        { "authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
          "us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;"
          "x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"
          "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9" },
        { "x-amz-content-sha256", OC_SIGV4_STREAMING },
        { "content-encoding", "aws-chunked" },
        { "x-amz-decoded-content-length", "66560" },
        { "content-length", "66824" },
    };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result r;
    struct oc_chunked_config cfg = { 0 };
    struct oc_chunked *c;
    struct oc_err err = { 0 };
    uint8_t key[32];
    char *a = malloc(65536);
    size_t got = 0;

    in.method = "PUT";
    in.path = "/examplebucket/chunkObject.txt";
    in.query = "";
    in.headers = h;
    in.nheaders = NH(h);
    in.service = "s3";
    in.now = T_20130524;
    if (verify(&in, 0, &r, NULL, 0) != OC_OK) {
        free(a);
        return;
    }
    CHECK_INT(r.payload, OC_PAYLOAD_STREAMING_SIGNED);
    CHECK_STR(r.amz_date, DATE);
    CHECK_STR(r.scope, "20130524/us-east-1/s3/aws4_request");
    CHECK_STR(r.seed_signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, "us-east-1", 9, "s3", 2, key);
    CHECK(memcmp(key, r.signing_key, 32) == 0);

    cfg.signed_chunks = 1;
    cfg.signing_key = r.signing_key;
    cfg.amz_date = r.amz_date;
    cfg.scope = r.scope;
    cfg.seed_signature = r.seed_signature;
    c = oc_chunked_new(&cfg);
    CHECK(c != NULL);
    memset(a, 'a', 65536);
    if (c) {
        CHECK_INT(oc_chunked_feed(c, chunk_body_hdr1, strlen(chunk_body_hdr1), count_sink, &got,
                                  &err), OC_OK);
        CHECK_INT(oc_chunked_feed(c, a, 65536, count_sink, &got, &err), OC_OK);
        CHECK_INT(oc_chunked_feed(c, chunk_body_hdr2, strlen(chunk_body_hdr2), count_sink, &got,
                                  &err), OC_OK);
        CHECK_INT(oc_chunked_feed(c, a, 1024, count_sink, &got, &err), OC_OK);
        CHECK_INT(oc_chunked_feed(c, chunk_body_end, strlen(chunk_body_end), count_sink, &got,
                                  &err), OC_OK);
        CHECK_INT(oc_chunked_finish(c, &err), OC_OK);
        CHECK_INT((long long)got, 66560);
        oc_chunked_free(c);
    }
    free(a);
}

#define PRESIGNED_Q                                                                        \
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F"  \
    "us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"         \
    "&X-Amz-SignedHeaders=host"
#define PRESIGNED_SIG "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

OC_TEST(auth_v4_presigned_example)
{
    static const struct oc_http_header h[] = { { "host", "examplebucket.s3.amazonaws.com" } };
    static const struct oc_http_header acl[] = {
        { "host", "examplebucket.s3.amazonaws.com" }, { "x-amz-acl", "public-read" },
    };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result r;

    in.method = "GET";
    in.path = "/test.txt";
    in.query = PRESIGNED_Q "&X-Amz-Signature=" PRESIGNED_SIG;
    in.headers = h;
    in.nheaders = NH(h);
    in.service = "s3";
    in.now = T_20130524 + 3600;
    if (verify(&in, 0, &r, NULL, 0) == OC_OK) {
        CHECK_INT(r.kind, OC_AUTH_SIGV4_QUERY);
        CHECK_INT(r.payload, OC_PAYLOAD_UNSIGNED);
        CHECK_STR(r.who.access_key_id, AKID);
    }
    in.now = T_20130524 + 86400;
    verify(&in, 0, &r, NULL, 0);
    in.now = T_20130524 + 86401;
    if (verify(&in, 0, &r, "AccessDenied", 403) == OC_EAUTH) {
        struct oc_cred_source src = source(0);
        struct oc_auth_error aerr;

        CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_EAUTH);
        CHECK_STR(aerr.message, "Request has expired");
    }
    in.now = T_20130524 - 3600;
    verify(&in, 0, &r, "AccessDenied", 403);       /* not valid yet */
    in.now = T_20130524 + 60;
    verify(&in, 1, &r, "SignatureDoesNotMatch", 403);
    in.path = "/test.txu";
    verify(&in, 0, &r, "SignatureDoesNotMatch", 403);
    in.path = "/test.txt";
    in.method = "PUT";
    verify(&in, 0, &r, "SignatureDoesNotMatch", 403);
    in.method = "GET";
    in.headers = acl;
    in.nheaders = NH(acl);
    verify(&in, 0, &r, "AccessDenied", 403);       /* unsigned x-amz-acl */
    in.headers = h;
    in.nheaders = NH(h);

    in.query = PRESIGNED_Q;                          /* no signature */
    verify(&in, 0, &r, "AuthorizationQueryParametersError", 400);
    in.query = "X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
               "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
               "&X-Amz-SignedHeaders=host&X-Amz-Signature=" PRESIGNED_SIG;
    verify(&in, 0, &r, "AuthorizationQueryParametersError", 400);
    in.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
               "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=604801"
               "&X-Amz-SignedHeaders=host&X-Amz-Signature=" PRESIGNED_SIG;
    verify(&in, 0, &r, "AuthorizationQueryParametersError", 400);
    in.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
               "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=-5"
               "&X-Amz-SignedHeaders=host&X-Amz-Signature=" PRESIGNED_SIG;
    verify(&in, 0, &r, "AuthorizationQueryParametersError", 400);
    in.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
               "%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
               "&X-Amz-SignedHeaders=range&X-Amz-Signature=" PRESIGNED_SIG;
    verify(&in, 0, &r, "AuthorizationQueryParametersError", 400);   /* host not signed */
}

/* A request repeated byte for byte is answered from the memo of verified
 * signatures; anything that differs, the key included, is computed again. */
OC_TEST(auth_v4_memo)
{
    static const struct oc_http_header h[] = { { "host", "examplebucket.s3.amazonaws.com" } };
    static const struct oc_http_header ua[] = {
        { "host", "examplebucket.s3.amazonaws.com" }, { "user-agent", "curl/7.88" },
    };
    struct oc_cred_source src = source(0), wrong = source(1);
    struct oc_auth_input in = { 0 };
    struct oc_auth_result r;
    struct oc_auth_error aerr;
    uint64_t h0;

    in.method = "GET";
    in.path = "/test.txt";
    in.query = PRESIGNED_Q "&X-Amz-Signature=" PRESIGNED_SIG;
    in.headers = h;
    in.nheaders = NH(h);
    in.service = "s3";
    in.now = T_20130524 + 60;
    CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_OK);
    h0 = oc_auth_memo_hits();
    CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_OK);
    CHECK_INT(oc_auth_memo_hits(), h0 + 1);
    CHECK_STR(r.who.access_key_id, AKID);
    /* Another secret for the same key id: same inputs, other signing key. */
    CHECK_INT(oc_auth_verify(&in, &wrong, &r, &aerr), OC_EAUTH);
    CHECK_STR(aerr.code, "SignatureDoesNotMatch");
    CHECK_INT(oc_auth_memo_hits(), h0 + 1);
    /* Checks before the signature still run on a repeat: expiry. */
    in.now = T_20130524 + 86401;
    CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_EAUTH);
    CHECK_STR(aerr.message, "Request has expired");
    in.now = T_20130524 + 60;
    /* An extra unsigned header: other inputs, computed again, still valid. */
    in.headers = ua;
    in.nheaders = NH(ua);
    CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_OK);
    CHECK_INT(oc_auth_memo_hits(), h0 + 1);
    /* A signature in upper case is the same signature, but other bytes. */
    in.headers = h;
    in.nheaders = NH(h);
    {
        char q[1024], sig[] = PRESIGNED_SIG;

        for (char *c = sig; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        snprintf(q, sizeof(q), "%s&X-Amz-Signature=%s", PRESIGNED_Q, sig);
        in.query = q;
        CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_OK);
        CHECK_INT(oc_auth_memo_hits(), h0 + 1);
        /* One wrong digit, same slot of the memo (the slot is chosen by the
         * first 8 characters). */
        q[strlen(q) - 1] = q[strlen(q) - 1] == '0' ? '1' : '0';
        CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_EAUTH);
        CHECK_STR(aerr.code, "SignatureDoesNotMatch");
    }
}

/* Our own signer and presigner round-trip through the verifier. */
OC_TEST(auth_v4_client_roundtrip)
{
    struct oc_sigv4_client c = { AKID, SECRET, "overcast", "s3" };
    struct oc_http_header h[4] = {
        { "host", "127.0.0.1:8780" }, { "x-amz-meta-a", "b  c" },
    };
    struct oc_sigv4_req req = { "PUT", "/bucket/some%20key+x", "uploadId=u1&partNumber=2", h,
                                2, 1 };
    struct oc_sigv4_signed s;
    struct oc_auth_input in = { 0 };
    struct oc_auth_result r;
    struct oc_buf url = { 0 };
    struct oc_err err = { 0 };
    const char *q;
    time_t now = 1700000000;

    CHECK_INT(oc_sigv4_sign(&c, &req, OC_SIGV4_STREAMING_UNSIGNED_TRAILER, now, &s, &err),
              OC_OK);
    h[2].name = "x-amz-date";
    h[2].value = s.amz_date;
    h[3].name = "x-amz-content-sha256";
    h[3].value = s.content_sha256;
    {
        struct oc_http_header all[5];

        memcpy(all, h, sizeof(h));
        all[4].name = "authorization";
        all[4].value = oc_buf_cstr(&s.authorization);
        in.method = "PUT";
        in.path = req.path;
        in.query = req.query;
        in.headers = all;
        in.nheaders = 5;
        in.service = "s3";
        in.now = now + 5;
        if (verify(&in, 0, &r, NULL, 0) == OC_OK)
            CHECK_INT(r.payload, OC_PAYLOAD_STREAMING_UNSIGNED_TRAILER);
    }
    oc_sigv4_signed_free(&s);

    CHECK_INT(oc_sigv4_presign(&c, "GET", "http://127.0.0.1:8780", "/bucket/k%C3%A9y",
                               "versionId=1", 300, now, &url, &err), OC_OK);
    q = strchr(oc_buf_cstr(&url), '?');
    CHECK(q != NULL);
    if (q) {
        in.method = "GET";
        in.path = "/bucket/k%C3%A9y";
        in.query = q + 1;
        in.headers = h;
        in.nheaders = 1;
        in.now = now + 299;
        if (verify(&in, 0, &r, NULL, 0) == OC_OK)
            CHECK_INT(r.kind, OC_AUTH_SIGV4_QUERY);
        in.now = now + 301;
        verify(&in, 0, &r, "AccessDenied", 403);
    }
    oc_buf_free(&url);
}

/* The IAM ListUsers example: a non-S3 service, no x-amz-content-sha256, the
 * path encoded again. */
OC_TEST(auth_v4_iam_example)
{
    static const struct oc_http_header h[] = {
        { "content-type", "application/x-www-form-urlencoded; charset=utf-8" },
        { "host", "iam.amazonaws.com" },
        { "x-amz-date", "20150830T123600Z" },
        { "authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
          "aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="
          "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7" },
    };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result r;

    in.method = "GET";
    in.path = "/";
    in.query = "Action=ListUsers&Version=2010-05-08";
    in.headers = h;
    in.nheaders = NH(h);
    in.service = "iam";
    in.now = 1440938160;
    if (verify(&in, 0, &r, NULL, 0) == OC_OK)
        CHECK_STR(r.who.access_key_id, "AKIDEXAMPLE");
    /* A body hash that does not match the signed one. */
    in.body_sha256 = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    verify(&in, 0, &r, "SignatureDoesNotMatch", 403);
    in.body_sha256 = NULL;
    in.now = 1440938160 + 3600;
    verify(&in, 0, &r, "RequestExpired", 400);
}

OC_TEST(auth_v2_s3_header_and_query)
{
    static const struct oc_http_header get[] = {
        { "host", "johnsmith.s3.amazonaws.com" },
        { "date", "Tue, 27 Mar 2007 19:36:42 +0000" },
        { "authorization", "AWS " AKID ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=" },
    };
    static const struct oc_http_header nodate[] = {
        { "host", "johnsmith.s3.amazonaws.com" },
        { "authorization", "AWS " AKID ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=" },
    };
    static const struct oc_http_header host[] = { { "host", "johnsmith.s3.amazonaws.com" } };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result r;

    in.method = "GET";
    in.path = "/photos/puppy.jpg";
    in.query = "";
    in.headers = get;
    in.nheaders = NH(get);
    in.vhost_bucket = "johnsmith";
    in.service = "s3";
    in.now = 1175024202 + 30;
    if (verify(&in, 0, &r, NULL, 0) == OC_OK) {
        CHECK_INT(r.kind, OC_AUTH_SIGV2_HEADER);
        CHECK_INT(r.payload, OC_PAYLOAD_UNCHECKED);
    }
    verify(&in, 1, &r, "SignatureDoesNotMatch", 403);
    in.vhost_bucket = NULL;                 /* resource would lack /johnsmith */
    verify(&in, 0, &r, "SignatureDoesNotMatch", 403);
    in.vhost_bucket = "johnsmith";
    in.now = 1175024202 + 16 * 60;
    verify(&in, 0, &r, "RequestTimeTooSkewed", 403);
    in.headers = nodate;
    in.nheaders = NH(nodate);
    verify(&in, 0, &r, "AccessDenied", 403);

    /* Presigned: the documented URL, valid until its Expires. */
    in.headers = host;
    in.nheaders = NH(host);
    in.query = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
               "&Expires=1175139620";
    in.now = 1175139620;
    if (verify(&in, 0, &r, NULL, 0) == OC_OK)
        CHECK_INT(r.kind, OC_AUTH_SIGV2_QUERY);
    /* A client that leaves '+' unescaped in the signature. */
    in.query = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM+WFzoENXmpNDUsSn8%3D"
               "&Expires=1175139620";
    verify(&in, 0, &r, NULL, 0);
    in.now = 1175139621;
    verify(&in, 0, &r, "AccessDenied", 403);
    in.now = 1175139000;
    in.query = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D"
               "&Expires=1175139621";
    verify(&in, 0, &r, "SignatureDoesNotMatch", 403);
    in.query = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D";
    verify(&in, 0, &r, "AccessDenied", 403);
}

OC_TEST(auth_v2_ec2_example)
{
    static const char q[] =
        "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Action=DescribeJobFlows&SignatureMethod=HmacSHA256"
        "&SignatureVersion=2&Timestamp=2011-10-03T15%3A19%3A30&Version=2009-03-31"
        "&Signature=i91nKc4PWAt0JJIdXwz9HxZCJDdiy6cf%2FMj6vPxyYIs%3D";
    static const struct oc_http_header h[] = { { "host", "elasticmapreduce.amazonaws.com" } };
    static const struct oc_http_header local[] = { { "host", "127.0.0.1:8773" } };
    static const struct oc_kv action[] = {
        { "Action", "DescribeInstances", 1 }, { "Version", "2014-06-15", 1 },
        { "InstanceId.1", "i-0123 45+/", 1 },
    };
    struct oc_arena *a = oc_arena_new();
    struct oc_query params;
    struct oc_auth_input in = { 0 };
    struct oc_auth_result r;
    struct oc_buf body = { 0 };
    struct oc_err err = { 0 };

    CHECK_INT(oc_query_parse(a, q, strlen(q), &params, &err), OC_OK);
    in.method = "GET";
    in.path = "/";
    in.query = q;
    in.headers = h;
    in.nheaders = NH(h);
    in.params = &params;
    in.service = "ec2";
    in.now = 1317655170 + 60;
    if (verify(&in, 0, &r, NULL, 0) == OC_OK)
        CHECK_INT(r.kind, OC_AUTH_SIGV2_EC2);
    verify(&in, 1, &r, "SignatureDoesNotMatch", 403);
    in.now = 1317655170 + 16 * 60;
    verify(&in, 0, &r, "RequestExpired", 400);

    /* Our Query-API signer, as a form body over loopback. */
    CHECK_INT(oc_sigv2_ec2_sign(AKID, SECRET, OC_SIGV2_HMAC_SHA1, "POST", "127.0.0.1:8773", "/",
                                action, NH(action), 1700000000, &body, &err), OC_OK);
    CHECK_INT(oc_query_parse(a, body.data, body.len, &params, &err), OC_OK);
    in.method = "POST";
    in.query = "";
    in.headers = local;
    in.nheaders = NH(local);
    in.now = 1700000000;
    verify(&in, 0, &r, NULL, 0);
    for (size_t i = 0; i < params.n; i++)
        if (strcmp(params.items[i].name, "Action") == 0)
            params.items[i].value = "DescribeImages";
    verify(&in, 0, &r, "SignatureDoesNotMatch", 403);
    oc_buf_free(&body);
    oc_arena_free(a);
}

OC_TEST(auth_anonymous)
{
    static const struct oc_http_header none[] = { { "host", "h" } };
    static const struct oc_http_header chunked[] = {
        { "host", "h" }, { "x-amz-content-sha256", OC_SIGV4_STREAMING_UNSIGNED_TRAILER },
    };
    static const struct oc_http_header signed_chunks[] = {
        { "host", "h" }, { "x-amz-content-sha256", OC_SIGV4_STREAMING },
    };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result r;

    in.method = "GET";
    in.path = "/b/k";
    in.query = "";
    in.headers = none;
    in.nheaders = NH(none);
    in.service = "s3";
    if (verify(&in, 0, &r, NULL, 0) == OC_OK) {
        CHECK_INT(r.kind, OC_AUTH_ANONYMOUS);
        CHECK_INT(r.payload, OC_PAYLOAD_UNCHECKED);
        CHECK_STR(r.who.access_key_id, "");
    }
    in.headers = chunked;
    in.nheaders = NH(chunked);
    if (verify(&in, 0, &r, NULL, 0) == OC_OK)
        CHECK_INT(r.payload, OC_PAYLOAD_STREAMING_UNSIGNED_TRAILER);
    in.headers = signed_chunks;
    verify(&in, 0, &r, "InvalidRequest", 400);
}

static int down_sigv4_key(void *ctx, const char *akid, const char *date, const char *region,
                          const char *service, uint8_t key[32], struct oc_principal *who,
                          struct oc_err *err)
{
    (void)ctx, (void)akid, (void)date, (void)region, (void)service, (void)who;
    memset(key, 0, 32);
    return oc_err_set(err, OC_EINTERNAL, "identity API: connection refused");
}

static int down_sigv2_sign(void *ctx, const char *akid, enum oc_cred_hmac alg,
                           const char *data, size_t len, uint8_t mac[32], size_t *maclen,
                           struct oc_principal *who, struct oc_err *err)
{
    (void)ctx, (void)akid, (void)alg, (void)data, (void)len, (void)who;
    memset(mac, 0, 32);
    *maclen = 0;
    return oc_err_set(err, OC_EINTERNAL, "identity API: connection refused");
}

/*
 * A source without secrets: the checks go through its callbacks (counted),
 * one that cannot reach its CLC fails with InternalError, never allows, and
 * a secretless lookup without callbacks is refused rather than compared
 * against an empty secret.
 */
OC_TEST(auth_secretless_source)
{
    static const struct oc_http_header v2[] = {
        { "host", "johnsmith.s3.amazonaws.com" },
        { "date", "Tue, 27 Mar 2007 19:36:42 +0000" },
        { "authorization", "AWS " AKID ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=" },
    };
    struct oc_auth_input in = get_input(), in2 = { 0 };
    struct oc_auth_result r;
    struct oc_auth_error aerr;
    struct oc_cred_source src = secretless_source(0);
    int before = remote_calls;

    in2.method = "GET";
    in2.path = "/photos/puppy.jpg";
    in2.query = "";
    in2.headers = v2;
    in2.nheaders = NH(v2);
    in2.vhost_bucket = "johnsmith";
    in2.service = "s3";
    in2.now = 1175024202 + 30;

    CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_OK);
    CHECK_INT(remote_calls, before + 1);
    CHECK_STR(r.who.user_name, "admin");
    CHECK_INT(oc_auth_verify(&in2, &src, &r, &aerr), OC_OK);
    CHECK_INT(remote_calls, before + 2);
    CHECK_INT(r.kind, OC_AUTH_SIGV2_HEADER);

    /* The CLC holds a different secret: the signature does not match. */
    src = secretless_source(1);
    CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_EAUTH);
    CHECK_STR(aerr.code, "SignatureDoesNotMatch");

    /* The CLC does not answer. */
    src.sigv4_key = down_sigv4_key;
    src.sigv2_sign = down_sigv2_sign;
    CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_EAUTH);
    CHECK_STR(aerr.code, "InternalError");
    CHECK_INT(aerr.status, 500);
    CHECK_INT(oc_auth_verify(&in2, &src, &r, &aerr), OC_EAUTH);
    CHECK_STR(aerr.code, "InternalError");
    CHECK_INT(aerr.status, 500);

    /* No secret and no callbacks: refused, not checked against "". */
    src = secretless_source(0);
    src.sigv4_key = NULL;
    src.sigv2_sign = NULL;
    CHECK_INT(oc_auth_verify(&in, &src, &r, &aerr), OC_EAUTH);
    CHECK_STR(aerr.code, "InternalError");
    CHECK_INT(oc_auth_verify(&in2, &src, &r, &aerr), OC_EAUTH);
    CHECK_STR(aerr.code, "InternalError");
}
