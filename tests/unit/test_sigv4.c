/*
 * test_sigv4.c - SigV4 building blocks against the examples AWS publishes:
 * the S3 header-form examples (GET Object with Range, PUT Object, GET Bucket
 * Lifecycle, GET Bucket list), the S3 presigned URL example, the chunked
 * upload examples (plain and with a CRC-32C trailer) and the IAM ListUsers
 * example of the general SigV4 documentation.  Expected values are the
 * documented ones.
 */
#include "tests/unit/harness.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/codec.h"
#include "common/sigv4.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define EMPTY OC_SIGV4_EMPTY_SHA256
#define NH(a) (sizeof(a) / sizeof((a)[0]))

/* Canonical request -> its SHA-256 (as the docs print) -> signature. */
static void check_vector(const struct oc_sigv4_req *req, const char *sh, const char *payload,
                         int presigned, const char *secret, const char *amz_date,
                         const char *scope, const char *date8, const char *region,
                         const char *service, const char *canon_sha, const char *sig)
{
    struct oc_buf canon = { 0 }, sts = { 0 };
    struct oc_err err = { 0 };
    char hex[65], got[65];
    uint8_t key[32];

    CHECK_INT(oc_sigv4_canonical_request(req, sh, strlen(sh), payload, presigned, &canon, &err),
              OC_OK);
    oc_sha256_hex(canon.data, canon.len, hex);
    CHECK_STR(hex, canon_sha);
    CHECK_INT(oc_sigv4_string_to_sign(amz_date, scope, strlen(scope), canon.data, canon.len,
                                      &sts), OC_OK);
    oc_sigv4_signing_key(secret, strlen(secret), date8, 8, region, strlen(region), service,
                         strlen(service), key);
    oc_sigv4_hmac_hex(key, sts.data, sts.len, got);
    CHECK_STR(got, sig);
    oc_buf_free(&canon);
    oc_buf_free(&sts);
}

OC_TEST(sigv4_aws_get_object_range)
{
    static const struct oc_http_header h[] = {
        { "host", "examplebucket.s3.amazonaws.com" },
        { "range", "bytes=0-9" },
        { "x-amz-content-sha256", EMPTY },
        { "x-amz-date", DATE },
    };
    struct oc_sigv4_req req = { "GET", "/test.txt", "", h, NH(h), 1 };
    struct oc_buf canon = { 0 };
    struct oc_err err = { 0 };

    CHECK_INT(oc_sigv4_canonical_request(&req, "host;range;x-amz-content-sha256;x-amz-date", 42,
                                         EMPTY, 0, &canon, &err), OC_OK);
    CHECK_STR(oc_buf_cstr(&canon),
              "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
              "x-amz-content-sha256:" EMPTY "\nx-amz-date:" DATE "\n\n"
              "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY);
    oc_buf_free(&canon);
    check_vector(&req, "host;range;x-amz-content-sha256;x-amz-date", EMPTY, 0, SECRET, DATE,
                 SCOPE, "20130524", "us-east-1", "s3",
                 "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
                 "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

OC_TEST(sigv4_aws_put_object)
{
    static const char body[] = "Welcome to Amazon S3.";
    static const struct oc_http_header h[] = {
        { "date", "Fri, 24 May 2013 00:00:00 GMT" },
        { "host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-content-sha256",
          "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072" },
        { "x-amz-date", DATE },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
    };
    /* The key is "test$file.text"; sent raw or encoded it signs the same. */
    struct oc_sigv4_req raw = { "PUT", "/test$file.text", "", h, NH(h), 1 };
    struct oc_sigv4_req enc = { "PUT", "/test%24file.text", "", h, NH(h), 1 };
    char hex[65];

    oc_sha256_hex(body, strlen(body), hex);
    CHECK_STR(hex, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    for (int i = 0; i < 2; i++)
        check_vector(i ? &enc : &raw,
                     "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class", hex, 0,
                     SECRET, DATE, SCOPE, "20130524", "us-east-1", "s3",
                     "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
                     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

OC_TEST(sigv4_aws_get_bucket_lifecycle_and_list)
{
    static const struct oc_http_header h[] = {
        { "host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-content-sha256", EMPTY },
        { "x-amz-date", DATE },
    };
    struct oc_sigv4_req lc = { "GET", "/", "lifecycle", h, NH(h), 1 };
    /* Deliberately out of order: the canonical query sorts. */
    struct oc_sigv4_req ls = { "GET", "/", "prefix=J&max-keys=2", h, NH(h), 1 };

    check_vector(&lc, "host;x-amz-content-sha256;x-amz-date", EMPTY, 0, SECRET, DATE, SCOPE,
                 "20130524", "us-east-1", "s3",
                 "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
                 "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    check_vector(&ls, "host;x-amz-content-sha256;x-amz-date", EMPTY, 0, SECRET, DATE, SCOPE,
                 "20130524", "us-east-1", "s3",
                 "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
                 "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

OC_TEST(sigv4_aws_presigned_url)
{
    static const struct oc_http_header h[] = { { "host", "examplebucket.s3.amazonaws.com" } };
    struct oc_sigv4_req req = {
        "GET", "/test.txt",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AKID "%2F20130524%2Fus-east-1%2F"
        "s3%2Faws4_request&X-Amz-Date=" DATE "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
        h, NH(h), 1,
    };
    struct oc_sigv4_client c = { AKID, SECRET, "us-east-1", "s3" };
    struct oc_buf url = { 0 };
    struct oc_err err = { 0 };

    check_vector(&req, "host", OC_SIGV4_UNSIGNED, 1, SECRET, DATE, SCOPE, "20130524",
                 "us-east-1", "s3",
                 "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04",
                 "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    CHECK_INT(oc_sigv4_presign(&c, "GET", "https://examplebucket.s3.amazonaws.com", "/test.txt",
                               NULL, 86400, 1369353600, &url, &err), OC_OK);
    CHECK_STR(oc_buf_cstr(&url),
              "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
              "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
              "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
              "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    oc_buf_reset(&url);
    CHECK(oc_sigv4_presign(&c, "GET", "https://h", "/x", NULL, 604801, 0, &url, &err) != 0);
    CHECK(oc_sigv4_presign(&c, "GET", "https://h", "/x", NULL, 0, 0, &url, &err) != 0);
    oc_buf_free(&url);
}

static void sign_chunks(const uint8_t key[32], const char *seed, const char *const want[3])
{
    static const size_t sizes[3] = { 65536, 1024, 0 };
    char prev[65], sig[65];
    char *data = malloc(65536);
    uint8_t sha[32];

    memset(data, 'a', 65536);
    snprintf(prev, sizeof(prev), "%s", seed);
    for (int i = 0; i < 3; i++) {
        oc_sha256(data, sizes[i], sha);
        oc_sigv4_chunk_signature(key, DATE, SCOPE, prev, sha, sig);
        CHECK_STR(sig, want[i]);
        memcpy(prev, sig, sizeof(prev));
    }
    free(data);
}

OC_TEST(sigv4_aws_streaming_seed_and_chunks)
{
    static const struct oc_http_header h[] = {
        { "content-encoding", "aws-chunked" },
        { "content-length", "66824" },
        { "host", "s3.amazonaws.com" },
        { "x-amz-content-sha256", OC_SIGV4_STREAMING },
        { "x-amz-date", DATE },
        { "x-amz-decoded-content-length", "66560" },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
    };
    static const char *const chunks[3] = {
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    };
    struct oc_sigv4_req req = { "PUT", "/examplebucket/chunkObject.txt", "", h, NH(h), 1 };
    char *a1k = malloc(1024), hex[65];
    uint8_t key[32];

    check_vector(&req, "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                 "x-amz-decoded-content-length;x-amz-storage-class", OC_SIGV4_STREAMING, 0,
                 SECRET, DATE, SCOPE, "20130524", "us-east-1", "s3",
                 "cee3fed04b70f867d036f722359b0b1f2f0e5dc0efadbc082b76c4c60e316455",
                 "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    /* The docs print the hash of the second (1 KiB) chunk in its
     * string to sign. */
    memset(a1k, 'a', 1024);
    oc_sha256_hex(a1k, 1024, hex);
    CHECK_STR(hex, "2edc986847e209b4016e141a6dc8716d3207350f416969382d431539bf292e4a");
    free(a1k);
    oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, "us-east-1", 9, "s3", 2, key);
    sign_chunks(key, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                chunks);
}

OC_TEST(sigv4_aws_streaming_trailer)
{
    static const struct oc_http_header h[] = {
        { "content-encoding", "aws-chunked" },
        { "host", "s3.amazonaws.com" },
        { "x-amz-content-sha256", OC_SIGV4_STREAMING_TRAILER },
        { "x-amz-date", DATE },
        { "x-amz-decoded-content-length", "66560" },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
        { "x-amz-trailer", "x-amz-checksum-crc32c" },
    };
    static const char *const chunks[3] = {
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    };
    struct oc_sigv4_req req = { "PUT", "/examplebucket/chunkObject.txt", "", h, NH(h), 1 };
    static const char trailers[] = "x-amz-checksum-crc32c:sOO8/Q==\n";
    char sig[65];
    uint8_t key[32];

    check_vector(&req, "content-encoding;host;x-amz-content-sha256;x-amz-date;"
                 "x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
                 OC_SIGV4_STREAMING_TRAILER, 0, SECRET, DATE, SCOPE, "20130524", "us-east-1",
                 "s3", "44d48b8c2f70eae815a0198cc73d7a546a73a93359c070abbaa5e6c7de112559",
                 "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e");
    oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, "us-east-1", 9, "s3", 2, key);
    sign_chunks(key, "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
                chunks);
    oc_sigv4_trailer_signature(key, DATE, SCOPE, chunks[2], trailers, strlen(trailers), sig);
    CHECK_STR(sig, "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435");
}

OC_TEST(sigv4_aws_iam_list_users)
{
    static const char secret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    static const struct oc_http_header h[] = {
        { "content-type", "application/x-www-form-urlencoded; charset=utf-8" },
        { "host", "iam.amazonaws.com" },
        { "x-amz-date", "20150830T123600Z" },
    };
    struct oc_sigv4_req req = { "GET", "/", "Action=ListUsers&Version=2010-05-08", h, NH(h), 0 };
    uint8_t key[32];
    char hex[65];

    oc_sigv4_signing_key(secret, strlen(secret), "20150830", 8, "us-east-1", 9, "iam", 3, key);
    oc_hex_encode(key, 32, hex);
    CHECK_STR(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
    check_vector(&req, "content-type;host;x-amz-date", EMPTY, 0, secret, "20150830T123600Z",
                 "20150830/us-east-1/iam/aws4_request", "20150830", "us-east-1", "iam",
                 "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59",
                 "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
}

/* The client signer reproduces the documented Authorization values. */
OC_TEST(sigv4_client_sign_matches_aws)
{
    static const struct oc_http_header get_h[] = {
        { "Host", "examplebucket.s3.amazonaws.com" }, { "Range", "bytes=0-9" },
    };
    static const struct oc_http_header put_h[] = {
        { "Date", "Fri, 24 May 2013 00:00:00 GMT" },
        { "Host", "examplebucket.s3.amazonaws.com" },
        { "x-amz-storage-class", "REDUCED_REDUNDANCY" },
    };
    static const struct oc_http_header list_h[] = { { "host", "examplebucket.s3.amazonaws.com" } };
    struct oc_sigv4_client c = { AKID, SECRET, "us-east-1", "s3" };
    struct oc_sigv4_req get = { "GET", "/test.txt", NULL, get_h, NH(get_h), 1 };
    struct oc_sigv4_req put = { "PUT", "/test%24file.text", NULL, put_h, NH(put_h), 1 };
    struct oc_sigv4_req list = { "GET", "/", "max-keys=2&prefix=J", list_h, NH(list_h), 1 };
    struct oc_sigv4_signed s;
    struct oc_err err = { 0 };

    CHECK_INT(oc_sigv4_sign(&c, &get, NULL, 1369353600, &s, &err), OC_OK);
    CHECK_STR(s.amz_date, DATE);
    CHECK_STR(s.content_sha256, EMPTY);
    CHECK_STR(oc_buf_cstr(&s.authorization),
              "AWS4-HMAC-SHA256 Credential=" AKID "/" SCOPE ", SignedHeaders=host;range;"
              "x-amz-content-sha256;x-amz-date, Signature="
              "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    oc_sigv4_signed_free(&s);
    CHECK_INT(oc_sigv4_sign(&c, &put,
                            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
                            1369353600, &s, &err), OC_OK);
    CHECK(strstr(oc_buf_cstr(&s.authorization),
                 "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"));
    oc_sigv4_signed_free(&s);
    CHECK_INT(oc_sigv4_sign(&c, &list, NULL, 1369353600, &s, &err), OC_OK);
    CHECK(strstr(oc_buf_cstr(&s.authorization),
                 "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"));
    oc_sigv4_signed_free(&s);
    /* No host, or a header the signer owns: refused. */
    get.nheaders = 1;
    get.headers = get_h + 1;
    CHECK(oc_sigv4_sign(&c, &get, NULL, 0, &s, &err) != OC_OK);
}

OC_TEST(sigv4_parse_authorization)
{
    struct oc_sigv4_authz a;
    struct oc_err err = { 0 };
    static const char good[] =
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-date,"
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";
    static const char *const bad[] = {
        "",
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA1 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        /* missing Signature */
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host",
        /* short signature */
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=fe5f",
        /* bad credential: four parts, wrong terminator, bad date */
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3, SignedHeaders=host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws5_request, SignedHeaders=host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        "AWS4-HMAC-SHA256 Credential=A/2013052x/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        /* repeated component, unknown component, trailing comma */
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "SignedHeaders=host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Foo=bar, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024,",
        /* signed headers unsorted, uppercase, empty name */
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=x-amz-date;host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, SignedHeaders=Host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;;x, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
        /* components glued without a comma */
        "AWS4-HMAC-SHA256 Credential=A/20130524/us-east-1/s3/aws4_request SignedHeaders=host, "
        "Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
    };

    CHECK_INT(oc_sigv4_parse_authorization(good, &a, &err), OC_OK);
    CHECK_INT((int)a.cred.access_key.len, 20);
    CHECK(memcmp(a.cred.access_key.p, AKID, 20) == 0);
    CHECK(a.cred.scope.len == strlen(SCOPE) &&
          memcmp(a.cred.scope.p, SCOPE, a.cred.scope.len) == 0);
    CHECK(a.cred.region.len == 9 && memcmp(a.cred.region.p, "us-east-1", 9) == 0);
    CHECK(a.signed_headers.len == 21);
    CHECK(oc_sigv4_signed_headers_has(a.signed_headers.p, a.signed_headers.len, "range"));
    CHECK(!oc_sigv4_signed_headers_has(a.signed_headers.p, a.signed_headers.len, "rang"));
    for (size_t i = 0; i < NH(bad); i++) {
        int rc = oc_sigv4_parse_authorization(bad[i], &a, &err);

        if (rc == OC_OK)
            printf("  accepted bad authorization #%zu\n", i);
        CHECK_INT(rc, OC_EINVAL);
    }
}

OC_TEST(sigv4_canonical_parts)
{
    struct oc_buf b = { 0 };
    struct oc_err err = { 0 };
    static const struct oc_http_header h[] = {
        { "x-multi", "  a   b  " }, { "X-Multi", "c\td" }, { "empty", "" },
    };

    /* S3: decode then encode once, '/' kept, no dot-segment removal. */
    CHECK_INT(oc_sigv4_canonical_uri("/b/a%20b/./c+d~e%2F", 1, &b, &err), OC_OK);
    CHECK_STR(oc_buf_cstr(&b), "/b/a%20b/./c%2Bd~e/");
    oc_buf_reset(&b);
    /* Other services: the raw path is encoded again. */
    CHECK_INT(oc_sigv4_canonical_uri("/a%20b", 0, &b, &err), OC_OK);
    CHECK_STR(oc_buf_cstr(&b), "/a%2520b");
    oc_buf_reset(&b);
    CHECK_INT(oc_sigv4_canonical_uri("", 1, &b, &err), OC_OK);
    CHECK_STR(oc_buf_cstr(&b), "/");
    oc_buf_reset(&b);
    CHECK_INT(oc_sigv4_canonical_uri("/bad%zz", 1, &b, &err), OC_EINVAL);
    oc_buf_reset(&b);

    CHECK_INT(oc_sigv4_canonical_query("b=2&a=x+y&a=1&c&a-b=%7e&X-Amz-Signature=zz", 1, &b,
                                       &err), OC_OK);
    CHECK_STR(oc_buf_cstr(&b), "a=1&a=x%20y&a-b=~&b=2&c=");
    oc_buf_reset(&b);
    CHECK_INT(oc_sigv4_canonical_query("X-Amz-Signature=zz&&", 0, &b, &err), OC_OK);
    CHECK_STR(oc_buf_cstr(&b), "X-Amz-Signature=zz");
    oc_buf_reset(&b);
    CHECK_INT(oc_sigv4_canonical_query("a=%4", 0, &b, &err), OC_EINVAL);
    oc_buf_reset(&b);
    /* Queries already canonical take a one-pass shortcut; anything else the
     * general path.  Both must give what the general path gives. */
    {
        static const char *const qs[] = {
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20150830%2Fus-east-1"
            "%2Fs3%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60"
            "&X-Amz-SignedHeaders=host&X-Amz-Signature=abc",
            "b=1&a=2", "a=2&a=1", "a=1&a=2", "a=%7e", "a=%7E", "a=%2f", "a=%2F", "a=%00",
            "a=x+y", "a", "a=1&", "&a=1", "a=1&&b=2", "=1", "a=%zz", "a=%2", "ab=1&a=2",
            "a=1&ab=2", "a-b=1&a=2", "X-Amz-Signature=1&a=2", "a=%C3%A9&b=%c3%a9",
        };

        for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
            for (int excl = 0; excl < 2; excl++) {
                struct oc_buf g = { 0 };
                int rf = oc_sigv4_canonical_query(qs[i], excl, &b, &err);
                int rg = oc_sigv4_canonical_query_general(qs[i], excl, &g, &err);

                CHECK_INT(rf, rg);
                if (rf == OC_OK && rg == OC_OK)
                    CHECK_STR(oc_buf_cstr(&b), oc_buf_cstr(&g));
                oc_buf_free(&g);
                oc_buf_reset(&b);
            }
        CHECK_INT(oc_sigv4_canonical_query(qs[0], 1, &b, &err), OC_OK);
        CHECK_STR(oc_buf_cstr(&b), "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F"
                  "20150830%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20150830T123600Z"
                  "&X-Amz-Expires=60&X-Amz-SignedHeaders=host");
        oc_buf_reset(&b);
    }

    CHECK_INT(oc_sigv4_canonical_headers(h, NH(h), "empty;missing;x-multi", 21, &b, &err),
              OC_OK);
    CHECK_STR(oc_buf_cstr(&b), "empty:\nmissing:\nx-multi:a b,c d\n");
    oc_buf_free(&b);
}

OC_TEST(sigv4_amz_date)
{
    time_t t;
    char s[17];

    CHECK_INT(oc_sigv4_parse_amz_date("20130524T000000Z", &t), 0);
    CHECK_INT((long long)t, 1369353600);
    oc_sigv4_format_amz_date(1440938160, s);
    CHECK_STR(s, "20150830T123600Z");
    CHECK_INT(oc_sigv4_parse_amz_date("20130524T000000", &t), -1);
    CHECK_INT(oc_sigv4_parse_amz_date("20131324T000000Z", &t), -1);
    CHECK_INT(oc_sigv4_parse_amz_date("2013-05-24T00:00:00Z", &t), -1);
}

/* Derived keys come from the cache on the second call and stay correct
 * when different tuples collide or rotate through the table. */
OC_TEST(sigv4_key_cache)
{
    uint8_t a[32], b[32];
    char region[16];

    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 600; i++) {
            snprintf(region, sizeof(region), "r%d", i);
            oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, region, strlen(region),
                                 "s3", 2, a);
            oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, region, strlen(region),
                                 "s3", 2, b);
            if (memcmp(a, b, 32) != 0) {
                CHECK(!"cached key differs");
                return;
            }
        }
    oc_sigv4_signing_key(SECRET, strlen(SECRET), "20150830", 8, "us-east-1", 9, "iam", 3, a);
    oc_sigv4_signing_key("x", 1, "20150830", 8, "us-east-1", 9, "iam", 3, b);
    CHECK(memcmp(a, b, 32) != 0);
}

/* Several threads derive overlapping keys at once; every result must equal
 * the single-threaded one (the cache's lock and slot replacement). */
static void *key_worker(void *arg)
{
    const uint8_t *want = arg;
    uint8_t got[32];
    char region[16];
    long bad = 0;

    for (int i = 0; i < 3000; i++) {
        snprintf(region, sizeof(region), "r%d", i % 700);
        oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, region, strlen(region),
                             "s3", 2, got);
        oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, "us-east-1", 9, "s3", 2,
                             got);
        bad += memcmp(got, want, 32) != 0;
    }
    return (void *)bad;
}

OC_TEST(sigv4_key_cache_threads)
{
    pthread_t t[4];
    uint8_t want[32];
    char hex[65];

    oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, "us-east-1", 9, "s3", 2, want);
    oc_hex_encode(want, 32, hex);
    /* Derived by hand from the documented secret, date, region, service. */
    CHECK_STR(hex, "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378");
    for (int i = 0; i < 4; i++)
        CHECK_INT(pthread_create(&t[i], NULL, key_worker, want), 0);
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;

        pthread_join(t[i], &bad);
        CHECK_INT((long)bad, 0);
    }
}
