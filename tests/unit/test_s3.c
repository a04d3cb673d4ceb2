/*
 * test_s3.c - the pure parts of the S3 layer: error table, bucket-name
 * rules, routing (path, virtual host, Eucalyptus prefixes), operation
 * selection, request-body parsers (including hostile bodies), ACL rules and
 * the formatting helpers behind ETag, Range and date headers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/buf.h"
#include "common/codec.h"
#include "tests/unit/harness.h"
#include "walrus/s3_internal.h"

/* ---- errors ---- */

OC_TEST(s3_error_table)
{
    struct oc_buf b = { 0 };
    const struct wal_s3_errdef *d;

    for (int i = 0; i < WAL_S3E__COUNT; i++) {
        d = wal_s3_error_def((enum wal_s3_error)i);
        CHECK_INT(d->id, i);
        CHECK(d->code && d->code[0]);
        CHECK(d->status >= 300 && d->status < 600);
        CHECK(wal_s3_error_find(d->code) == d);
    }
    d = wal_s3_error_find("NoSuchKey");
    CHECK(d != NULL);
    CHECK_INT(d ? d->status : 0, 404);
    CHECK_INT(wal_s3_error_def(WAL_S3E_BUCKET_NOT_EMPTY)->status, 409);
    CHECK_STR(wal_s3_error_def(WAL_S3E_BUCKET_NOT_EMPTY)->code, "BucketNotEmpty");
    CHECK_INT(wal_s3_error_def(WAL_S3E_INVALID_RANGE)->status, 416);
    CHECK_INT(wal_s3_error_def(WAL_S3E_PRECONDITION_FAILED)->status, 412);
    CHECK_INT(wal_s3_error_def(WAL_S3E_METHOD_NOT_ALLOWED)->status, 405);
    CHECK_INT(wal_s3_error_def(WAL_S3E_NOT_IMPLEMENTED)->status, 501);
    CHECK_STR(wal_s3_error_def(WAL_S3E_SHA256_MISMATCH)->code, "XAmzContentSHA256Mismatch");
    CHECK(wal_s3_error_find("NoSuchThing") == NULL);
    /* Out-of-range ids fall back to InternalError instead of reading past the table. */
    CHECK_STR(wal_s3_error_def((enum wal_s3_error)9999)->code, "InternalError");

    CHECK_INT(wal_s3_error_xml("NoSuchKey", "a <b> & c", "/bkt/k", "ABCDEF0123456789", &b),
              OC_OK);
    CHECK(strstr(oc_buf_cstr(&b), "<Error><Code>NoSuchKey</Code>") != NULL);
    CHECK(strstr(oc_buf_cstr(&b), "<Message>a &lt;b&gt; &amp; c</Message>") != NULL);
    CHECK(strstr(oc_buf_cstr(&b), "<Resource>/bkt/k</Resource>") != NULL);
    CHECK(strstr(oc_buf_cstr(&b), "<RequestId>ABCDEF0123456789</RequestId></Error>") != NULL);
    oc_buf_free(&b);
}

/* ---- bucket names ---- */

OC_TEST(s3_bucket_names)
{
    char longest[64], too_long[65];

    memset(longest, 'a', 63);
    longest[63] = '\0';
    memset(too_long, 'a', 64);
    too_long[64] = '\0';
    CHECK(wal_s3_bucket_name_valid("abc"));
    CHECK(wal_s3_bucket_name_valid("my-bucket.example.com"));
    CHECK(wal_s3_bucket_name_valid("1bucket9"));
    CHECK(wal_s3_bucket_name_valid("a.b.c"));
    CHECK(wal_s3_bucket_name_valid(longest));
    CHECK(wal_s3_bucket_name_valid("192.168.1.1a"));
    CHECK(wal_s3_bucket_name_valid("1.2.3"));
    CHECK(!wal_s3_bucket_name_valid(too_long));
    CHECK(!wal_s3_bucket_name_valid("ab"));
    CHECK(!wal_s3_bucket_name_valid(""));
    CHECK(!wal_s3_bucket_name_valid(NULL));
    CHECK(!wal_s3_bucket_name_valid("MyBucket"));
    CHECK(!wal_s3_bucket_name_valid("-abc"));
    CHECK(!wal_s3_bucket_name_valid("abc-"));
    CHECK(!wal_s3_bucket_name_valid(".abc"));
    CHECK(!wal_s3_bucket_name_valid("abc."));
    CHECK(!wal_s3_bucket_name_valid("a..b"));
    CHECK(!wal_s3_bucket_name_valid("a.-b"));
    CHECK(!wal_s3_bucket_name_valid("a-.b"));
    CHECK(!wal_s3_bucket_name_valid("a_b"));
    CHECK(!wal_s3_bucket_name_valid("a b"));
    CHECK(!wal_s3_bucket_name_valid("a/b"));
    CHECK(!wal_s3_bucket_name_valid("192.168.1.1"));
    CHECK(!wal_s3_bucket_name_valid("10.0.0.255"));
    CHECK(!wal_s3_bucket_name_valid("xn--bucket"));
    CHECK(!wal_s3_bucket_name_valid("mybucket-s3alias"));
}

/* ---- routing ---- */

static int route(struct oc_arena *a, const char *host, const char *path,
                 struct wal_s3_route *rt, enum wal_s3_error *code)
{
    return wal_s3_route_parse(a, host, path, "s3.localhost", rt, code);
}

OC_TEST(s3_route_path_style)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_s3_route rt;
    enum wal_s3_error code = WAL_S3E__COUNT;

    CHECK_INT(route(a, "127.0.0.1:8780", "/", &rt, &code), OC_OK);
    CHECK(rt.bucket == NULL && rt.key == NULL && !rt.vhost);

    CHECK_INT(route(a, "127.0.0.1:8780", "/bkt", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK(rt.key == NULL);
    CHECK_INT(route(a, "127.0.0.1", "/bkt/", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK(rt.key == NULL);

    CHECK_INT(route(a, "127.0.0.1", "/bkt/dir/a%20b%2Fc+d", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK_STR(rt.key, "dir/a b/c+d");       /* '+' is literal in a path */
    CHECK(!rt.vhost);

    CHECK_INT(route(a, "127.0.0.1", "/bkt//lead", &rt, &code), OC_OK);
    CHECK_STR(rt.key, "/lead");

    CHECK_INT(route(a, NULL, "/bkt/%E2%9C%93", &rt, &code), OC_OK);
    CHECK_STR(rt.key, "\xE2\x9C\x93");

    /* The domain itself is not a bucket. */
    CHECK_INT(route(a, "s3.localhost:8780", "/bkt/k", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK_STR(rt.key, "k");
    CHECK(!rt.vhost);
    /* A host that merely ends with the domain's text is not a subdomain. */
    CHECK_INT(route(a, "xs3.localhost", "/bkt/k", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK(!rt.vhost);
    oc_arena_free(a);
}

OC_TEST(s3_route_vhost)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_s3_route rt;
    enum wal_s3_error code = WAL_S3E__COUNT;

    CHECK_INT(route(a, "bkt.s3.localhost:8780", "/a%2Fb/c", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK_STR(rt.key, "a/b/c");
    CHECK(rt.vhost);

    CHECK_INT(route(a, "My.Dotted.Bucket.S3.LOCALHOST", "/", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "my.dotted.bucket");
    CHECK(rt.key == NULL);
    CHECK(rt.vhost);

    CHECK_INT(route(a, "bkt.s3.localhost.", "/k", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK_STR(rt.key, "k");

    CHECK_INT(route(a, "[::1]:8780", "/bkt/k", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK(!rt.vhost);
    oc_arena_free(a);
}

OC_TEST(s3_route_eucalyptus_prefix)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_s3_route rt;
    enum wal_s3_error code = WAL_S3E__COUNT;

    CHECK_INT(route(a, "127.0.0.1", "/services/objectstorage/bkt/k/x", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK_STR(rt.key, "k/x");
    CHECK_INT(route(a, "127.0.0.1", "/services/Walrus/bkt", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "bkt");
    CHECK(rt.key == NULL);
    CHECK_INT(route(a, "127.0.0.1", "/services/objectstorage", &rt, &code), OC_OK);
    CHECK(rt.bucket == NULL);
    CHECK_INT(route(a, "127.0.0.1", "/services/Walrus/", &rt, &code), OC_OK);
    CHECK(rt.bucket == NULL);
    /* Only a whole path segment is a prefix. */
    CHECK_INT(route(a, "127.0.0.1", "/services/objectstoragex/k", &rt, &code), OC_OK);
    CHECK_STR(rt.bucket, "services");
    CHECK_STR(rt.key, "objectstoragex/k");
    oc_arena_free(a);
}

OC_TEST(s3_route_errors)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_s3_route rt;
    enum wal_s3_error code = WAL_S3E__COUNT;
    char *path = malloc(2000);

    CHECK_INT(route(a, "127.0.0.1", "/bkt/%ZZ", &rt, &code), OC_EINVAL);
    CHECK_INT(code, WAL_S3E_INVALID_URI);
    code = WAL_S3E__COUNT;
    CHECK_INT(route(a, "127.0.0.1", "/bkt/a%00b", &rt, &code), OC_EINVAL);
    CHECK_INT(code, WAL_S3E_INVALID_URI);
    code = WAL_S3E__COUNT;
    CHECK_INT(route(a, "127.0.0.1", "/bkt/%C3%28", &rt, &code), OC_EINVAL);   /* bad UTF-8 */
    CHECK_INT(code, WAL_S3E_INVALID_URI);
    code = WAL_S3E__COUNT;
    CHECK_INT(route(a, "127.0.0.1", "*", &rt, &code), OC_EINVAL);
    CHECK_INT(code, WAL_S3E_INVALID_URI);

    /* 1024 bytes is the longest key; counted after decoding. */
    strcpy(path, "/bkt/");
    memset(path + 5, 'k', 1024);
    path[5 + 1024] = '\0';
    CHECK_INT(route(a, "127.0.0.1", path, &rt, &code), OC_OK);
    CHECK_INT(strlen(rt.key), 1024);
    strcat(path, "k");
    code = WAL_S3E__COUNT;
    CHECK_INT(route(a, "127.0.0.1", path, &rt, &code), OC_EINVAL);
    CHECK_INT(code, WAL_S3E_KEY_TOO_LONG);
    /* 1024 decoded bytes written as %XX escapes are fine. */
    strcpy(path, "/bkt/");
    for (int i = 0; i < 340; i++)
        strcat(path, "%41");
    CHECK_INT(route(a, "127.0.0.1", path, &rt, &code), OC_OK);
    CHECK_INT(strlen(rt.key), 340);
    free(path);
    oc_arena_free(a);
}

/* ---- operation selection ---- */

static int pick(const char *method, const char *bucket, const char *key, const char *query,
                int copy, enum wal_s3_op *op, enum wal_s3_error *code)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_s3_route rt = { .bucket = bucket, .key = key };
    struct oc_query q;
    int rc = oc_query_parse(a, query, strlen(query), &q, NULL);

    if (rc == OC_OK)
        rc = wal_s3_op_select(method, &rt, &q, copy, op, code);
    oc_arena_free(a);
    return rc;
}

static enum wal_s3_op op_of(const char *method, const char *bucket, const char *key,
                            const char *query, int copy)
{
    enum wal_s3_op op = WAL_S3_OP_NONE;
    enum wal_s3_error code;

    if (pick(method, bucket, key, query, copy, &op, &code) != OC_OK)
        return WAL_S3_OP_NONE;
    return op;
}

static enum wal_s3_error err_of(const char *method, const char *bucket, const char *key,
                                const char *query)
{
    enum wal_s3_op op;
    enum wal_s3_error code = WAL_S3E__COUNT;

    if (pick(method, bucket, key, query, 0, &op, &code) == OC_OK)
        return WAL_S3E__COUNT;
    return code;
}

OC_TEST(s3_op_select)
{
    CHECK_INT(op_of("GET", NULL, NULL, "", 0), WAL_S3_OP_LIST_BUCKETS);
    CHECK_INT(op_of("PUT", "b", NULL, "", 0), WAL_S3_OP_CREATE_BUCKET);
    CHECK_INT(op_of("HEAD", "b", NULL, "", 0), WAL_S3_OP_HEAD_BUCKET);
    CHECK_INT(op_of("DELETE", "b", NULL, "", 0), WAL_S3_OP_DELETE_BUCKET);
    CHECK_INT(op_of("GET", "b", NULL, "location", 0), WAL_S3_OP_GET_LOCATION);
    CHECK_INT(op_of("GET", "b", NULL, "versioning", 0), WAL_S3_OP_GET_VERSIONING);
    CHECK_INT(op_of("GET", "b", NULL, "prefix=a&max-keys=3", 0), WAL_S3_OP_LIST_OBJECTS);
    CHECK_INT(op_of("GET", "b", NULL, "list-type=2&prefix=a", 0), WAL_S3_OP_LIST_OBJECTS_V2);
    CHECK_INT(op_of("GET", "b", NULL, "versions", 0), WAL_S3_OP_LIST_VERSIONS);
    CHECK_INT(op_of("GET", "b", NULL, "uploads", 0), WAL_S3_OP_LIST_UPLOADS);
    CHECK_INT(op_of("POST", "b", NULL, "delete", 0), WAL_S3_OP_DELETE_OBJECTS);
    CHECK_INT(op_of("GET", "b", NULL, "acl", 0), WAL_S3_OP_GET_BUCKET_ACL);
    CHECK_INT(op_of("PUT", "b", NULL, "acl", 0), WAL_S3_OP_PUT_BUCKET_ACL);
    CHECK_INT(op_of("PUT", "b", "k", "", 0), WAL_S3_OP_PUT_OBJECT);
    CHECK_INT(op_of("PUT", "b", "k", "", 1), WAL_S3_OP_COPY_OBJECT);
    CHECK_INT(op_of("GET", "b", "k", "", 0), WAL_S3_OP_GET_OBJECT);
    CHECK_INT(op_of("GET", "b", "k", "response-content-type=x%2Fy&x-id=GetObject", 0),
              WAL_S3_OP_GET_OBJECT);
    CHECK_INT(op_of("HEAD", "b", "k", "", 0), WAL_S3_OP_HEAD_OBJECT);
    CHECK_INT(op_of("DELETE", "b", "k", "", 0), WAL_S3_OP_DELETE_OBJECT);
    CHECK_INT(op_of("GET", "b", "k", "acl", 0), WAL_S3_OP_GET_OBJECT_ACL);
    CHECK_INT(op_of("PUT", "b", "k", "acl", 0), WAL_S3_OP_PUT_OBJECT_ACL);
    CHECK_INT(op_of("POST", "b", "k", "uploads", 0), WAL_S3_OP_CREATE_UPLOAD);
    CHECK_INT(op_of("PUT", "b", "k", "partNumber=1&uploadId=x", 0), WAL_S3_OP_UPLOAD_PART);
    CHECK_INT(op_of("PUT", "b", "k", "partNumber=1&uploadId=x", 1),
              WAL_S3_OP_UPLOAD_PART_COPY);
    CHECK_INT(op_of("GET", "b", "k", "uploadId=x&max-parts=2", 0), WAL_S3_OP_LIST_PARTS);
    CHECK_INT(op_of("POST", "b", "k", "uploadId=x", 0), WAL_S3_OP_COMPLETE_UPLOAD);
    CHECK_INT(op_of("DELETE", "b", "k", "uploadId=x", 0), WAL_S3_OP_ABORT_UPLOAD);
    /* Presigned query parameters do not change the operation. */
    CHECK_INT(op_of("GET", "b", "k", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab", 0),
              WAL_S3_OP_GET_OBJECT);

    CHECK_INT(err_of("GET", "b", NULL, "cors"), WAL_S3E_NOT_IMPLEMENTED);
    CHECK_INT(op_of("GET", "b", "k", "tagging", 0), WAL_S3_OP_GET_OBJECT_TAGGING);
    CHECK_INT(op_of("GET", "b", NULL, "tagging", 0), WAL_S3_OP_GET_BUCKET_TAGGING);
    CHECK_INT(err_of("PUT", "b", "k", "tagging"), WAL_S3E_NOT_IMPLEMENTED);
    CHECK_INT(err_of("DELETE", "b", NULL, "tagging"), WAL_S3E_NOT_IMPLEMENTED);
    CHECK_INT(err_of("PUT", "b", NULL, "lifecycle"), WAL_S3E_NOT_IMPLEMENTED);
    CHECK_INT(err_of("PUT", "b", NULL, "versioning"), WAL_S3E_NOT_IMPLEMENTED);
    CHECK_INT(err_of("POST", "b", NULL, ""), WAL_S3E_NOT_IMPLEMENTED);
    CHECK_INT(err_of("PATCH", "b", "k", ""), WAL_S3E_METHOD_NOT_ALLOWED);
    CHECK_INT(err_of("OPTIONS", "b", NULL, ""), WAL_S3E_METHOD_NOT_ALLOWED);
    CHECK_INT(err_of("PUT", NULL, NULL, ""), WAL_S3E_METHOD_NOT_ALLOWED);
    CHECK_INT(err_of("DELETE", NULL, NULL, ""), WAL_S3E_METHOD_NOT_ALLOWED);
    CHECK_INT(err_of("POST", "b", "k", ""), WAL_S3E_METHOD_NOT_ALLOWED);
    CHECK_INT(err_of("PUT", "b", "k", "uploadId=x"), WAL_S3E_INVALID_REQUEST);
    CHECK_INT(err_of("GET", "b", NULL, "list-type=3"), WAL_S3E_INVALID_ARGUMENT);
    CHECK_STR(wal_s3_op_name(WAL_S3_OP_COMPLETE_UPLOAD), "CompleteMultipartUpload");
    CHECK_STR(wal_s3_op_name((enum wal_s3_op)999), "Unknown");
}

/* ---- request bodies ---- */

OC_TEST(s3_parse_delete)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_s3_delete_req d;
    struct oc_err err = { 0 };
    struct oc_buf big = { 0 };
    const char *good =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
        "  <Quiet> true </Quiet>\n"
        "  <Object><Key>a &amp; b</Key></Object>\n"
        "  <Object><Key>dir/\xE2\x9C\x93</Key><VersionId>null</VersionId></Object>\n"
        "</Delete>";
    int rc;

    CHECK_INT(wal_s3_parse_delete(a, good, strlen(good), &d, &err), OC_OK);
    CHECK_INT(d.quiet, 1);
    CHECK_INT(d.n, 2);
    CHECK_STR(d.n > 0 ? d.keys[0] : NULL, "a & b");
    CHECK(d.n > 0 && d.version_ids[0] == NULL);
    CHECK_STR(d.n > 1 ? d.keys[1] : NULL, "dir/\xE2\x9C\x93");
    CHECK_STR(d.n > 1 ? d.version_ids[1] : NULL, "null");

    const char *noquiet = "<Delete><Object><Key>x</Key></Object></Delete>";
    CHECK_INT(wal_s3_parse_delete(a, noquiet, strlen(noquiet), &d, &err), OC_OK);
    CHECK_INT(d.quiet, 0);
    CHECK_INT(d.n, 1);

    static const char *const bad[] = {
        "",
        "not xml",
        "<Delete><Object><Key>x</Key></Object>",            /* unclosed */
        "<Delete></Delete>",                                /* no objects */
        "<Delete><Object><VersionId>1</VersionId></Object></Delete>",  /* no key */
        "<Delete><Quiet>maybe</Quiet><Object><Key>x</Key></Object></Delete>",
        "<Remove><Object><Key>x</Key></Object></Remove>",   /* wrong root */
        "<Delete><Object><Key>&undefined;</Key></Object></Delete>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rc = wal_s3_parse_delete(a, bad[i], strlen(bad[i]), &d, &err);
        if (rc != OC_EINVAL)
            oc_test_fail(__FILE__, __LINE__, "bad body %zu accepted", i);
        CHECK_INT(d.n, 0);
    }

    /* 1000 keys are allowed, 1001 are not. */
    CHECK_INT(oc_buf_puts(&big, "<Delete>"), OC_OK);
    for (int i = 0; i < 1000; i++)
        CHECK_INT(oc_buf_printf(&big, "<Object><Key>k%d</Key></Object>", i), OC_OK);
    CHECK_INT(oc_buf_puts(&big, "</Delete>"), OC_OK);
    CHECK_INT(wal_s3_parse_delete(a, big.data, big.len, &d, &err), OC_OK);
    CHECK_INT(d.n, 1000);
    CHECK_STR(d.n == 1000 ? d.keys[999] : NULL, "k999");
    big.len -= strlen("</Delete>");
    CHECK_INT(oc_buf_puts(&big, "<Object><Key>one-more</Key></Object></Delete>"), OC_OK);
    CHECK_INT(wal_s3_parse_delete(a, big.data, big.len, &d, &err), OC_EINVAL);
    oc_buf_free(&big);
    oc_arena_free(a);
}

OC_TEST(s3_parse_xxe_rejected)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_s3_delete_req d;
    struct wal_part_ref *refs;
    size_t n = 0;
    struct oc_err err = { 0 };
    const char *xxe =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE Delete [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
        "<Delete><Object><Key>&xxe;</Key></Object></Delete>";
    const char *laughs =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE C [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n"
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&b;</ETag></Part>"
        "</CompleteMultipartUpload>";
    const char *param =
        "<?xml version=\"1.0\"?>\n"
        "<!DOCTYPE Delete SYSTEM \"http://127.0.0.1:1/evil.dtd\">\n"
        "<Delete><Object><Key>x</Key></Object></Delete>";

    CHECK_INT(wal_s3_parse_delete(a, xxe, strlen(xxe), &d, &err), OC_EINVAL);
    CHECK_INT(d.n, 0);
    CHECK_INT(wal_s3_parse_complete(a, laughs, strlen(laughs), &refs, &n, &err), OC_EINVAL);
    CHECK_INT(n, 0);
    CHECK_INT(wal_s3_parse_delete(a, param, strlen(param), &d, &err), OC_EINVAL);
    oc_arena_free(a);
}

OC_TEST(s3_parse_complete)
{
    struct oc_arena *a = oc_arena_new();
    struct wal_part_ref *refs = NULL;
    size_t n = 0;
    struct oc_err err = { 0 };
    struct oc_buf big = { 0 };
    const char *good =
        "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Part><ETag>\"0123456789abcdef0123456789abcdef\"</ETag>"
        "<PartNumber>1</PartNumber></Part>"
        "<Part>\n  <PartNumber> 3 </PartNumber>\n  <ETag>&quot;ffff&quot;</ETag>\n"
        "  <ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>"
        "</CompleteMultipartUpload>";

    CHECK_INT(wal_s3_parse_complete(a, good, strlen(good), &refs, &n, &err), OC_OK);
    CHECK_INT(n, 2);
    CHECK_INT(n == 2 ? refs[0].number : 0, 1);
    CHECK_STR(n == 2 ? refs[0].etag : NULL, "\"0123456789abcdef0123456789abcdef\"");
    CHECK_INT(n == 2 ? refs[1].number : 0, 3);
    CHECK_STR(n == 2 ? refs[1].etag : NULL, "\"ffff\"");

    /* Order is the store's business (InvalidPartOrder names the part). */
    const char *desc = "<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag>"
                       "</Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part>"
                       "</CompleteMultipartUpload>";
    CHECK_INT(wal_s3_parse_complete(a, desc, strlen(desc), &refs, &n, &err), OC_OK);
    CHECK_INT(n, 2);

    static const char *const bad[] = {
        "<CompleteMultipartUpload></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>a</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1x</PartNumber><ETag>a</ETag></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>99999999999999999999</PartNumber>"
        "<ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
        "</CompleteMultipartUpload>",
        "<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>",
        "<Complete><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Complete>",
        "<CompleteMultipartUpload><Part>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (wal_s3_parse_complete(a, bad[i], strlen(bad[i]), &refs, &n, &err) != OC_EINVAL ||
            n != 0)
            oc_test_fail(__FILE__, __LINE__, "bad complete body %zu accepted", i);

    CHECK_INT(oc_buf_puts(&big, "<CompleteMultipartUpload>"), OC_OK);
    for (int i = 1; i <= 10000; i++)
        CHECK_INT(oc_buf_printf(&big, "<Part><PartNumber>%d</PartNumber><ETag>e</ETag></Part>",
                                i), OC_OK);
    CHECK_INT(oc_buf_puts(&big, "</CompleteMultipartUpload>"), OC_OK);
    CHECK_INT(wal_s3_parse_complete(a, big.data, big.len, &refs, &n, &err), OC_OK);
    CHECK_INT(n, 10000);
    big.len -= strlen("</CompleteMultipartUpload>");
    CHECK_INT(oc_buf_puts(&big, "<Part><PartNumber>1</PartNumber><ETag>e</ETag></Part>"
                                "</CompleteMultipartUpload>"), OC_OK);
    CHECK_INT(wal_s3_parse_complete(a, big.data, big.len, &refs, &n, &err), OC_EINVAL);
    oc_buf_free(&big);
    oc_arena_free(a);
}

OC_TEST(s3_parse_location)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_err err = { 0 };
    const char *loc = NULL;
    const char *body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
                       "2006-03-01/\"><LocationConstraint>eu-west-1</LocationConstraint>"
                       "</CreateBucketConfiguration>";
    const char *empty = "<CreateBucketConfiguration/>";

    CHECK_INT(wal_s3_parse_location(a, body, strlen(body), &loc, &err), OC_OK);
    CHECK_STR(loc, "eu-west-1");
    CHECK_INT(wal_s3_parse_location(a, empty, strlen(empty), &loc, &err), OC_OK);
    CHECK_STR(loc, "");
    CHECK_INT(wal_s3_parse_location(a, "<Other/>", 8, &loc, &err), OC_EINVAL);
    CHECK_INT(wal_s3_parse_location(a, "<<", 2, &loc, &err), OC_EINVAL);
    oc_arena_free(a);
}

static const char *acl_doc(struct oc_buf *b, const char *grants)
{
    oc_buf_reset(b);
    if (oc_buf_printf(b,
                      "<AccessControlPolicy xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                      "<Owner><ID>111122223333</ID></Owner><AccessControlList>"
                      "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
                      "xsi:type=\"CanonicalUser\"><ID>111122223333</ID></Grantee>"
                      "<Permission>FULL_CONTROL</Permission></Grant>%s"
                      "</AccessControlList></AccessControlPolicy>",
                      grants) != OC_OK)
        return "";
    return oc_buf_cstr(b);
}

#define GROUP(uri, perm)                                                                   \
    "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "             \
    "xsi:type=\"Group\"><URI>http://acs.amazonaws.com/groups/global/" uri "</URI>"       \
    "</Grantee><Permission>" perm "</Permission></Grant>"

OC_TEST(s3_parse_acl)
{
    struct oc_buf b = { 0 };
    struct oc_err err = { 0 };
    const char *canned = NULL, *doc;

    doc = acl_doc(&b, "");
    CHECK_INT(wal_s3_parse_acl(doc, strlen(doc), "111122223333", &canned, &err), OC_OK);
    CHECK_STR(canned, "private");
    doc = acl_doc(&b, GROUP("AllUsers", "READ"));
    CHECK_INT(wal_s3_parse_acl(doc, strlen(doc), "111122223333", &canned, &err), OC_OK);
    CHECK_STR(canned, "public-read");
    doc = acl_doc(&b, GROUP("AllUsers", "READ") GROUP("AllUsers", "WRITE"));
    CHECK_INT(wal_s3_parse_acl(doc, strlen(doc), "111122223333", &canned, &err), OC_OK);
    CHECK_STR(canned, "public-read-write");
    doc = acl_doc(&b, GROUP("AuthenticatedUsers", "READ"));
    CHECK_INT(wal_s3_parse_acl(doc, strlen(doc), "111122223333", &canned, &err), OC_OK);
    CHECK_STR(canned, "authenticated-read");
    /* Not expressible as a canned ACL. */
    doc = acl_doc(&b, GROUP("AllUsers", "WRITE"));
    CHECK_INT(wal_s3_parse_acl(doc, strlen(doc), "111122223333", &canned, &err), OC_ECONFLICT);
    doc = acl_doc(&b, GROUP("AllUsers", "READ_ACP"));
    CHECK_INT(wal_s3_parse_acl(doc, strlen(doc), "111122223333", &canned, &err), OC_ECONFLICT);
    doc = acl_doc(&b, "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
                      " xsi:type=\"CanonicalUser\"><ID>999988887777</ID></Grantee>"
                      "<Permission>READ</Permission></Grant>");
    CHECK_INT(wal_s3_parse_acl(doc, strlen(doc), "111122223333", &canned, &err), OC_ECONFLICT);
    /* Malformed. */
    doc = acl_doc(&b, GROUP("AllUsers", "EVERYTHING"));
    CHECK_INT(wal_s3_parse_acl(doc, strlen(doc), "111122223333", &canned, &err), OC_EINVAL);
    CHECK_INT(wal_s3_parse_acl("<AccessControlPolicy/>", 22, "1", &canned, &err), OC_EINVAL);
    CHECK_INT(wal_s3_parse_acl("junk", 4, "1", &canned, &err), OC_EINVAL);
    oc_buf_free(&b);
}

/* ---- ACL rules ---- */

OC_TEST(s3_acl_rules)
{
    struct oc_principal owner = { .account_id = "111122223333" };
    struct oc_principal other = { .account_id = "999988887777" };
    struct oc_principal admin = { .account_id = "000000000001", .is_admin = 1 };
    struct oc_buf b = { 0 };

    CHECK_STR(wal_s3_canned_acl("private"), "private");
    CHECK_STR(wal_s3_canned_acl("public-read"), "public-read");
    CHECK_STR(wal_s3_canned_acl("public-read-write"), "public-read-write");
    CHECK_STR(wal_s3_canned_acl("authenticated-read"), "authenticated-read");
    CHECK_STR(wal_s3_canned_acl("bucket-owner-full-control"), "private");
    CHECK(wal_s3_canned_acl("Public-Read") == NULL);
    CHECK(wal_s3_canned_acl("log-delivery-write") == NULL);
    CHECK(wal_s3_canned_acl(NULL) == NULL);

    CHECK(wal_s3_acl_allows("private", "111122223333", &owner, WAL_S3_WRITE_ACP));
    CHECK(!wal_s3_acl_allows("private", "111122223333", &other, WAL_S3_READ));
    CHECK(!wal_s3_acl_allows("private", "111122223333", NULL, WAL_S3_READ));
    CHECK(wal_s3_acl_allows("private", "111122223333", &admin, WAL_S3_WRITE));
    CHECK(wal_s3_acl_allows("public-read", "111122223333", NULL, WAL_S3_READ));
    CHECK(!wal_s3_acl_allows("public-read", "111122223333", NULL, WAL_S3_WRITE));
    CHECK(!wal_s3_acl_allows("public-read", "111122223333", &other, WAL_S3_READ_ACP));
    CHECK(wal_s3_acl_allows("public-read-write", "111122223333", NULL, WAL_S3_WRITE));
    CHECK(!wal_s3_acl_allows("public-read-write", "111122223333", NULL, WAL_S3_WRITE_ACP));
    CHECK(wal_s3_acl_allows("authenticated-read", "111122223333", &other, WAL_S3_READ));
    CHECK(!wal_s3_acl_allows("authenticated-read", "111122223333", NULL, WAL_S3_READ));
    CHECK(!wal_s3_acl_allows("authenticated-read", "111122223333", &other, WAL_S3_WRITE));

    CHECK_INT(wal_s3_acl_xml("public-read-write", "111122223333", "alice", &b), OC_OK);
    CHECK(strstr(oc_buf_cstr(&b), "<Owner><ID>111122223333</ID>"
                                  "<DisplayName>alice</DisplayName></Owner>") != NULL);
    CHECK(strstr(oc_buf_cstr(&b), "xsi:type=\"CanonicalUser\"") != NULL);
    CHECK(strstr(oc_buf_cstr(&b), "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"") !=
          NULL);
    CHECK(strstr(oc_buf_cstr(&b), "<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>"
                                  "</Grantee><Permission>WRITE</Permission>") != NULL);
    CHECK(strstr(oc_buf_cstr(&b), "<Permission>FULL_CONTROL</Permission>") != NULL);
    oc_buf_reset(&b);
    CHECK_INT(wal_s3_acl_xml("private", "111122223333", "alice", &b), OC_OK);
    CHECK(strstr(oc_buf_cstr(&b), "Group") == NULL);
    oc_buf_reset(&b);
    CHECK_INT(wal_s3_acl_xml("authenticated-read", "111122223333", "alice", &b), OC_OK);
    CHECK(strstr(oc_buf_cstr(&b), "AuthenticatedUsers</URI></Grantee><Permission>READ") !=
          NULL);
    oc_buf_free(&b);
}

/* ---- formatting helpers ---- */

OC_TEST(s3_dates)
{
    char d[WAL_S3_DATE_LEN];
    time_t t = 0;

    wal_s3_http_date(0, d);
    CHECK_STR(d, "Thu, 01 Jan 1970 00:00:00 GMT");
    wal_s3_http_date(784111777999LL, d);
    CHECK_STR(d, "Sun, 06 Nov 1994 08:49:37 GMT");
    wal_s3_iso_date(1255369830123LL, d);
    CHECK_STR(d, "2009-10-12T17:50:30.123Z");
    wal_s3_iso_date(0, d);
    CHECK_STR(d, "1970-01-01T00:00:00.000Z");

    CHECK_INT(wal_s3_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    CHECK_INT(t, 784111777);
    t = 0;
    CHECK_INT(wal_s3_parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    CHECK_INT(t, 784111777);
    t = 0;
    CHECK_INT(wal_s3_parse_http_date("Sun Nov  6 08:49:37 1994", &t), 0);
    CHECK_INT(t, 784111777);
    CHECK_INT(wal_s3_parse_http_date("Sun, 06 Nov 1994 08:49:37", &t), -1);
    CHECK_INT(wal_s3_parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT junk", &t), -1);
    CHECK_INT(wal_s3_parse_http_date("Sun, 06 Foo 1994 08:49:37 GMT", &t), -1);
    CHECK_INT(wal_s3_parse_http_date("Sun, 36 Nov 1994 08:49:37 GMT", &t), -1);
    CHECK_INT(wal_s3_parse_http_date("yesterday", &t), -1);
    CHECK_INT(wal_s3_parse_http_date("", &t), -1);
    CHECK_INT(wal_s3_parse_http_date(NULL, &t), -1);
}

OC_TEST(s3_content_range_and_etags)
{
    char cr[80];

    wal_s3_content_range(0, 99, 1000, cr);
    CHECK_STR(cr, "bytes 0-99/1000");
    wal_s3_content_range(900, 999, 1000, cr);
    CHECK_STR(cr, "bytes 900-999/1000");
    wal_s3_content_range(1, 0, 1000, cr);
    CHECK_STR(cr, "bytes */1000");
    wal_s3_content_range(1, 0, 0, cr);
    CHECK_STR(cr, "bytes */0");

    CHECK(wal_s3_etag_matches("\"abc\"", "\"abc\""));
    CHECK(wal_s3_etag_matches("abc", "\"abc\""));
    CHECK(wal_s3_etag_matches("W/\"abc\"", "\"abc\""));
    CHECK(wal_s3_etag_matches("\"x\", \"abc\"", "\"abc\""));
    CHECK(wal_s3_etag_matches("*", "\"abc\""));
    CHECK(!wal_s3_etag_matches("\"abcd\"", "\"abc\""));
    CHECK(!wal_s3_etag_matches("\"ab\"", "\"abc\""));
    CHECK(!wal_s3_etag_matches("", "\"abc\""));
    CHECK(!wal_s3_etag_matches("\"\"", "\"abc\""));
}

OC_TEST(s3_conditions)
{
    const char *e = "\"0123\"";
    int64_t mt = 784111777000LL;          /* Sun, 06 Nov 1994 08:49:37 GMT */
    const char *before = "Sun, 06 Nov 1994 08:49:36 GMT";
    const char *same = "Sun, 06 Nov 1994 08:49:37 GMT";
    const char *after = "Sun, 06 Nov 1994 08:49:38 GMT";

    CHECK_INT(wal_s3_conditions(NULL, NULL, NULL, NULL, e, mt), WAL_S3_COND_OK);
    CHECK_INT(wal_s3_conditions("\"0123\"", NULL, NULL, NULL, e, mt), WAL_S3_COND_OK);
    CHECK_INT(wal_s3_conditions("\"9\"", NULL, NULL, NULL, e, mt), WAL_S3_COND_FAILED);
    CHECK_INT(wal_s3_conditions(NULL, "\"0123\"", NULL, NULL, e, mt),
              WAL_S3_COND_NOT_MODIFIED);
    CHECK_INT(wal_s3_conditions(NULL, "*", NULL, NULL, e, mt), WAL_S3_COND_NOT_MODIFIED);
    CHECK_INT(wal_s3_conditions(NULL, "\"9\"", NULL, NULL, e, mt), WAL_S3_COND_OK);
    CHECK_INT(wal_s3_conditions(NULL, NULL, same, NULL, e, mt), WAL_S3_COND_NOT_MODIFIED);
    CHECK_INT(wal_s3_conditions(NULL, NULL, after, NULL, e, mt), WAL_S3_COND_NOT_MODIFIED);
    CHECK_INT(wal_s3_conditions(NULL, NULL, before, NULL, e, mt), WAL_S3_COND_OK);
    CHECK_INT(wal_s3_conditions(NULL, NULL, "garbage", NULL, e, mt), WAL_S3_COND_OK);
    CHECK_INT(wal_s3_conditions(NULL, NULL, NULL, before, e, mt), WAL_S3_COND_FAILED);
    CHECK_INT(wal_s3_conditions(NULL, NULL, NULL, same, e, mt), WAL_S3_COND_OK);
    /* If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since. */
    CHECK_INT(wal_s3_conditions(e, NULL, NULL, before, e, mt), WAL_S3_COND_OK);
    CHECK_INT(wal_s3_conditions(NULL, "\"9\"", after, NULL, e, mt), WAL_S3_COND_OK);
    /* A failed If-Match is 412 even when If-None-Match would say 304. */
    CHECK_INT(wal_s3_conditions("\"9\"", e, NULL, NULL, e, mt), WAL_S3_COND_FAILED);
}

OC_TEST(s3_content_md5)
{
    uint8_t md5[16], want[16];

    oc_md5("hello", 5, want);
    /* base64 of md5("hello") */
    CHECK_INT(wal_s3_content_md5_parse("XUFAKrxLKna5cZ2REBfFkg==", md5), 0);
    CHECK(memcmp(md5, want, 16) == 0);
    CHECK_INT(wal_s3_content_md5_parse(" XUFAKrxLKna5cZ2REBfFkg== ", md5), 0);
    CHECK_INT(wal_s3_content_md5_parse("XUFAKrxLKna5cZ2REBfF", md5), -1);
    CHECK_INT(wal_s3_content_md5_parse("XUFAKrxLKna5cZ2REBfFkgAA", md5), -1);  /* 18 bytes */
    CHECK_INT(wal_s3_content_md5_parse("not base64 at all!!!", md5), -1);
    CHECK_INT(wal_s3_content_md5_parse("", md5), -1);
    CHECK_INT(wal_s3_content_md5_parse(NULL, md5), -1);
}

OC_TEST(s3_tokens_and_encoding)
{
    struct oc_arena *a = oc_arena_new();
    char *tok;

    tok = wal_s3_token_encode(a, "dir/key with space/\xE2\x9C\x93");
    CHECK(tok != NULL);
    CHECK(tok && strchr(tok, ' ') == NULL);
    CHECK_STR(tok ? wal_s3_token_decode(a, tok) : NULL, "dir/key with space/\xE2\x9C\x93");
    CHECK(wal_s3_token_decode(a, "") == NULL);
    CHECK(wal_s3_token_decode(a, "!!!!") == NULL);
    CHECK(wal_s3_token_decode(a, "abc") == NULL);          /* not a multiple of 4 */
    CHECK(wal_s3_token_decode(a, "AA==") == NULL);         /* decodes to a NUL byte */
    CHECK(wal_s3_token_decode(a, "wyg=") == NULL);         /* decodes to bad UTF-8 */

    CHECK_STR(wal_s3_url_encode(a, "a b/c+d&e=f~g.h_i-j"), "a%20b/c%2Bd%26e%3Df~g.h_i-j");
    CHECK_STR(wal_s3_url_encode(a, "\xE2\x9C\x93"), "%E2%9C%93");
    CHECK_STR(wal_s3_url_encode(a, ""), "");

    CHECK(wal_s3_utf8_valid("plain", 5));
    CHECK(wal_s3_utf8_valid("\xE2\x9C\x93", 3));
    CHECK(wal_s3_utf8_valid("\xF0\x9F\x98\x80", 4));
    CHECK(!wal_s3_utf8_valid("\xC3\x28", 2));
    CHECK(!wal_s3_utf8_valid("\xC0\xAF", 2));              /* overlong '/' */
    CHECK(!wal_s3_utf8_valid("\xED\xA0\x80", 3));          /* surrogate */
    CHECK(!wal_s3_utf8_valid("\xE2\x9C", 2));              /* truncated */
    CHECK(!wal_s3_utf8_valid("\xFF", 1));
    oc_arena_free(a);
}

OC_TEST(s3_parse_uint)
{
    unsigned long long v = 0;

    CHECK_INT(wal_s3_parse_uint("0", 10, &v), 0);
    CHECK_INT(v, 0);
    CHECK_INT(wal_s3_parse_uint("1000", 1000, &v), 0);
    CHECK_INT(v, 1000);
    CHECK_INT(wal_s3_parse_uint("1001", 1000, &v), -1);
    CHECK_INT(wal_s3_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
    CHECK(v == UINT64_MAX);
    CHECK_INT(wal_s3_parse_uint("18446744073709551616", UINT64_MAX, &v), -1);
    CHECK_INT(wal_s3_parse_uint("-1", 10, &v), -1);
    CHECK_INT(wal_s3_parse_uint("+1", 10, &v), -1);
    CHECK_INT(wal_s3_parse_uint(" 1", 10, &v), -1);
    CHECK_INT(wal_s3_parse_uint("", 10, &v), -1);
    CHECK_INT(wal_s3_parse_uint(NULL, 10, &v), -1);
}

OC_TEST(s3_user_meta)
{
    struct oc_arena *a = oc_arena_new();
    struct oc_http_header h[] = {
        { "content-type", "text/plain" },
        { "x-amz-meta-color", "blue" },
        { "x-amz-acl", "private" },
        { "x-amz-meta-empty", "" },
        { "x-amz-meta-", "no name" },
    };
    struct oc_http_header big[2];
    char *v = malloc(3000);
    const char *out = NULL;

    CHECK_INT(wal_s3_user_meta(a, h, 5, &out), OC_OK);
    CHECK_STR(out, "x-amz-meta-color: blue\nx-amz-meta-empty: \n");
    CHECK_INT(wal_s3_user_meta(a, h, 1, &out), OC_OK);
    CHECK(out == NULL);

    memset(v, 'v', 2047);
    v[2047] = '\0';
    big[0].name = "x-amz-meta-a";
    big[0].value = v;                       /* 1 + 2047 = 2048 bytes: the limit */
    CHECK_INT(wal_s3_user_meta(a, big, 1, &out), OC_OK);
    big[1].name = "x-amz-meta-b";
    big[1].value = "";
    CHECK_INT(wal_s3_user_meta(a, big, 2, &out), OC_ETOOBIG);
    free(v);
    oc_arena_free(a);
}

OC_TEST(s3_checksums)
{
    const char *check = "123456789";
    char body[] = "<Delete><Object><Key>k</Key></Object></Delete>";
    uint8_t sha[32];
    uint32_t c;
    uint8_t be[4];
    struct oc_buf b64 = { 0 };

    CHECK(wal_s3_crc32(check, 9) == 0xCBF43926u);
    CHECK(wal_s3_crc32c(check, 9) == 0xE3069283u);
    CHECK(wal_s3_crc32("", 0) == 0);

    c = wal_s3_crc32(body, strlen(body));
    be[0] = (uint8_t)(c >> 24);
    be[1] = (uint8_t)(c >> 16);
    be[2] = (uint8_t)(c >> 8);
    be[3] = (uint8_t)c;
    CHECK_INT(oc_base64_encode(be, 4, &b64), OC_OK);
    CHECK_INT(wal_s3_checksum_verify("crc32", oc_buf_cstr(&b64), body, strlen(body)), 1);
    CHECK_INT(wal_s3_checksum_verify("crc32", oc_buf_cstr(&b64), body, strlen(body) - 1), 0);
    CHECK_INT(wal_s3_checksum_verify("crc32c", oc_buf_cstr(&b64), body, strlen(body)), 0);
    oc_buf_reset(&b64);
    oc_sha256(body, strlen(body), sha);
    CHECK_INT(oc_base64_encode(sha, 32, &b64), OC_OK);
    CHECK_INT(wal_s3_checksum_verify("sha256", oc_buf_cstr(&b64), body, strlen(body)), 1);
    CHECK_INT(wal_s3_checksum_verify("sha1", oc_buf_cstr(&b64), body, strlen(body)), -1);
    CHECK_INT(wal_s3_checksum_verify("md4", oc_buf_cstr(&b64), body, strlen(body)), -1);
    CHECK_INT(wal_s3_checksum_verify("crc32", "%%%", body, strlen(body)), -1);
    oc_buf_free(&b64);
}
