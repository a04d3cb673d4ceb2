/*
 * test_chunked.c - the aws-chunked decoder: AWS's chunk-signed upload
 * examples (with and without a CRC-32C trailer) fed whole, one byte at a
 * time and in random pieces; unsigned trailer bodies with each checksum;
 * and the ways a body can be wrong (bad chunk or trailer signature, bad
 * checksum, truncation, oversized fields, junk).
 */
#include "tests/unit/harness.h"

#include <stdlib.h>

#include "common/buf.h"
#include "common/chunked.h"
#include "common/codec.h"
#include "common/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define DATE "20130524T000000Z"
#define SCOPE "20130524/us-east-1/s3/aws4_request"
#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define SEED_TRAILER "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"

struct sinkbuf {
    struct oc_buf out;
    int fail_after;     /* >0: return OC_EIO once this many bytes arrived */
};

static int sink(void *arg, const char *data, size_t len)
{
    struct sinkbuf *s = arg;

    if (oc_buf_append(&s->out, data, len) != OC_OK)
        return OC_ENOMEM;
    if (s->fail_after > 0 && s->out.len >= (size_t)s->fail_after)
        return OC_EIO;
    return OC_OK;
}

static void example_key(uint8_t key[32])
{
    oc_sigv4_signing_key(SECRET, strlen(SECRET), "20130524", 8, "us-east-1", 9, "s3", 2, key);
}

/* The documented wire form of the chunk-signed example. */
static void aws_body(struct oc_buf *b, int trailer, int blank_before_trailer)
{
    char *a = malloc(65536);

    memset(a, 'a', 65536);
    if (!trailer) {
        CHECK_INT(oc_buf_puts(b, "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e"
                              "2307b0ade35a65485a288648\r\n"), OC_OK);
        CHECK_INT(oc_buf_append(b, a, 65536), OC_OK);
        CHECK_INT(oc_buf_puts(b, "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575"
                              "bbb81b612b7d234b86a503ef5497\r\n"), OC_OK);
        CHECK_INT(oc_buf_append(b, a, 1024), OC_OK);
        CHECK_INT(oc_buf_puts(b, "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea7"
                              "24fed81ceb9323e279d449df9\r\n\r\n"), OC_OK);
    } else {
        CHECK_INT(oc_buf_puts(b, "10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672ce"
                              "e1c953b3010fb58501ef5aa2\r\n"), OC_OK);
        CHECK_INT(oc_buf_append(b, a, 65536), OC_OK);
        CHECK_INT(oc_buf_puts(b, "\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e"
                              "373826ccbbe2c1d40a8cae51e5c7\r\n"), OC_OK);
        CHECK_INT(oc_buf_append(b, a, 1024), OC_OK);
        CHECK_INT(oc_buf_puts(b, "\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd7"
                              "7a3a99e6e65d5c9f85863f992\r\n"), OC_OK);
        if (blank_before_trailer)
            CHECK_INT(oc_buf_puts(b, "\r\n"), OC_OK);
        CHECK_INT(oc_buf_puts(b, "x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:"
                              "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
                              "\r\n\r\n"), OC_OK);
    }
    free(a);
}

/* Feeds body in pieces: piece 0 = whole, 1 = one byte at a time, otherwise
 * pseudo-random sizes from that seed.  Returns the first non-OK code. */
static int decode(const struct oc_chunked_config *cfg, const char *body, size_t len,
                  unsigned piece, struct sinkbuf *out, enum oc_chunked_failure *why)
{
    struct oc_chunked *c = oc_chunked_new(cfg);
    struct oc_err err = { 0 };
    unsigned seed = piece;
    size_t off = 0;
    int rc = OC_OK;

    if (!c)
        return OC_ENOMEM;
    while (off < len && rc == OC_OK) {
        size_t n = piece == 0 ? len : piece == 1 ? 1 : (size_t)(rand_r(&seed) % 9000) + 1;

        if (n > len - off)
            n = len - off;
        rc = oc_chunked_feed(c, body + off, n, sink, out, &err);
        off += n;
    }
    if (rc == OC_OK)
        rc = oc_chunked_finish(c, &err);
    if (why)
        *why = oc_chunked_failure(c);
    if (rc == OC_OK)
        CHECK_INT((long long)oc_chunked_decoded_len(c), (long long)out->out.len);
    oc_chunked_free(c);
    return rc;
}

static int all_a(const struct oc_buf *b, size_t n)
{
    if (b->len != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (b->data[i] != 'a')
            return 0;
    return 1;
}

OC_TEST(chunked_aws_example_any_split)
{
    uint8_t key[32];
    struct oc_chunked_config cfg = { 1, 0, key, DATE, SCOPE, SEED, NULL };
    struct oc_buf body = { 0 };
    static const unsigned pieces[] = { 0, 1, 2, 3, 17, 4242 };

    example_key(key);
    aws_body(&body, 0, 0);
    CHECK_INT((long long)body.len, 66824);   /* the documented Content-Length */
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        struct sinkbuf out = { { 0 }, 0 };

        CHECK_INT(decode(&cfg, body.data, body.len, pieces[i], &out, NULL), OC_OK);
        CHECK(all_a(&out.out, 66560));
        oc_buf_free(&out.out);
    }
    oc_buf_free(&body);
}

OC_TEST(chunked_aws_trailer_example)
{
    uint8_t key[32];
    struct oc_chunked_config cfg = { 1, 1, key, DATE, SCOPE, SEED_TRAILER,
                                     "x-amz-checksum-crc32c" };
    struct oc_chunked_config any = cfg;

    any.declared_trailer = NULL;
    example_key(key);
    for (int blank = 0; blank < 2; blank++) {
        struct oc_buf body = { 0 };

        aws_body(&body, 1, blank);
        for (unsigned piece = 0; piece < 4; piece++) {
            struct sinkbuf out = { { 0 }, 0 };

            CHECK_INT(decode(piece & 1 ? &any : &cfg, body.data, body.len, piece, &out, NULL),
                      OC_OK);
            CHECK(all_a(&out.out, 66560));
            oc_buf_free(&out.out);
        }
        oc_buf_free(&body);
    }
}

OC_TEST(chunked_bad_chunk_signature)
{
    uint8_t key[32];
    struct oc_chunked_config cfg = { 1, 0, key, DATE, SCOPE, SEED, NULL };
    struct oc_buf body = { 0 };
    struct sinkbuf out = { { 0 }, 0 };
    enum oc_chunked_failure why = 0;
    char *p;

    example_key(key);
    aws_body(&body, 0, 0);
    /* One data byte changed: the first chunk's signature fails. */
    body.data[100] = 'b';
    CHECK_INT(decode(&cfg, body.data, body.len, 1, &out, &why), OC_EAUTH);
    CHECK_INT(why, OC_CHUNKED_BAD_SIGNATURE);
    oc_buf_free(&out.out);
    body.data[100] = 'a';
    /* The final chunk's signature changed. */
    p = strstr(body.data + 66000, "0;chunk-signature=b6c6");
    CHECK(p != NULL);
    if (p)
        p[20] = 'd';
    CHECK_INT(decode(&cfg, body.data, body.len, 7, &out, &why), OC_EAUTH);
    CHECK_INT(why, OC_CHUNKED_BAD_SIGNATURE);
    oc_buf_free(&out.out);
    /* A different seed (another request's signature) fails the chain. */
    if (p)
        p[20] = 'c';
    cfg.seed_signature = SEED_TRAILER;
    CHECK_INT(decode(&cfg, body.data, body.len, 0, &out, &why), OC_EAUTH);
    oc_buf_free(&out.out);
    oc_buf_free(&body);
}

OC_TEST(chunked_bad_trailer_signature_and_checksum)
{
    uint8_t key[32];
    struct oc_chunked_config cfg = { 1, 1, key, DATE, SCOPE, SEED_TRAILER, NULL };
    struct oc_buf body = { 0 };
    struct sinkbuf out = { { 0 }, 0 };
    enum oc_chunked_failure why = 0;
    char *p;

    example_key(key);
    aws_body(&body, 1, 0);
    p = strstr(body.data + 66000, "x-amz-trailer-signature:d81f");
    CHECK(p != NULL);
    if (!p)
        return;
    p[25] = '0';
    CHECK_INT(decode(&cfg, body.data, body.len, 1, &out, &why), OC_EAUTH);
    CHECK_INT(why, OC_CHUNKED_BAD_SIGNATURE);
    oc_buf_free(&out.out);
    p[25] = '8';
    /* A wrong CRC-32C is a bad checksum, whatever the signature says. */
    p = strstr(body.data + 66000, "sOO8/Q==");
    p[0] = 't';
    CHECK_INT(decode(&cfg, body.data, body.len, 3, &out, &why), OC_EINVAL);
    CHECK_INT(why, OC_CHUNKED_BAD_CHECKSUM);
    oc_buf_free(&out.out);
    oc_buf_free(&body);
}

/* Unsigned chunks with one trailing checksum over "123456789". */
static int unsigned_trailer(const char *trailer, const char *declared, unsigned piece,
                            enum oc_chunked_failure *why)
{
    struct oc_chunked_config cfg = { 0, 1, NULL, NULL, NULL, NULL, declared };
    struct oc_buf body = { 0 };
    struct sinkbuf out = { { 0 }, 0 };
    int rc;

    CHECK_INT(oc_buf_printf(&body, "4\r\n1234\r\n5\r\n56789\r\n0\r\n%s\r\n", trailer), OC_OK);
    rc = decode(&cfg, body.data, body.len, piece, &out, why);
    if (rc == OC_OK)
        CHECK_STR(oc_buf_cstr(&out.out), "123456789");
    oc_buf_free(&body);
    oc_buf_free(&out.out);
    return rc;
}

OC_TEST(chunked_unsigned_trailer_checksums)
{
    /* Check values of the standard "123456789" input. */
    static const char *const good[][2] = {
        { "x-amz-checksum-crc32:y/Q5Jg==\r\n", "x-amz-checksum-crc32" },
        { "x-amz-checksum-crc32c:4waSgw==\r\n", "x-amz-checksum-crc32c" },
        { "x-amz-checksum-crc64nvme:rosUhgp5mIg=\r\n", "x-amz-checksum-crc64nvme" },
        { "x-amz-checksum-sha1:98O8HYCOBHMq32eZZczDTKeuNEE=\r\n", "x-amz-checksum-sha1" },
        { "x-amz-checksum-sha256:FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=\r\n",
          "x-amz-checksum-sha256" },
        { "X-Amz-Checksum-Crc32: y/Q5Jg==\r\n", NULL },
        { "x-amz-checksum-crc32:y/Q5Jg==\nx-amz-meta-other:1\n", NULL },
    };
    static const char *const bad[] = {
        "x-amz-checksum-crc32:y/Q6Jg==\r\n",
        "x-amz-checksum-crc32c:4waTgw==\r\n",
        "x-amz-checksum-sha256:GeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=\r\n",
    };
    enum oc_chunked_failure why = 0;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        for (unsigned piece = 0; piece < 3; piece++) {
            int rc = unsigned_trailer(good[i][0], good[i][1], piece, &why);

            if (rc != OC_OK)
                printf("  trailer #%zu piece %u failed (%d)\n", i, piece, why);
            CHECK_INT(rc, OC_OK);
        }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_INT(unsigned_trailer(bad[i], NULL, 1, &why), OC_EINVAL);
        CHECK_INT(why, OC_CHUNKED_BAD_CHECKSUM);
    }
    /* Announced but not sent; sent but not announced; unknown algorithm;
     * undecodable value; a trailer signature in an unsigned body. */
    CHECK_INT(unsigned_trailer("", "x-amz-checksum-crc32", 0, &why), OC_EINVAL);
    CHECK_INT(why, OC_CHUNKED_MALFORMED);
    CHECK_INT(unsigned_trailer("x-amz-checksum-crc32c:4waSgw==\r\n", "x-amz-checksum-crc32", 0,
                               &why), OC_EINVAL);
    CHECK_INT(unsigned_trailer("x-amz-checksum-md7:AAAA\r\n", NULL, 0, &why), OC_EINVAL);
    CHECK_INT(unsigned_trailer("x-amz-checksum-crc32:!!!!\r\n", NULL, 0, &why), OC_EINVAL);
    CHECK_INT(why, OC_CHUNKED_MALFORMED);
    CHECK_INT(unsigned_trailer("x-amz-trailer-signature:" SEED "\r\n", NULL, 0, &why),
              OC_EINVAL);
    /* No trailers at all is a complete body. */
    CHECK_INT(unsigned_trailer("", NULL, 1, &why), OC_OK);
}

static int feed_str(const struct oc_chunked_config *cfg, const char *s,
                    enum oc_chunked_failure *why)
{
    struct sinkbuf out = { { 0 }, 0 };
    int rc = decode(cfg, s, strlen(s), 1, &out, why);

    oc_buf_free(&out.out);
    return rc;
}

OC_TEST(chunked_malformed_and_limits)
{
    struct oc_chunked_config plain = { 0, 0, NULL, NULL, NULL, NULL, NULL };
    struct oc_chunked_config trail = { 0, 1, NULL, NULL, NULL, NULL, NULL };
    enum oc_chunked_failure why = 0;
    struct oc_buf longline = { 0 };

    CHECK_INT(feed_str(&plain, "3\r\nabc\r\n0\r\n\r\n", &why), OC_OK);
    /* Truncated anywhere: finish fails. */
    CHECK_INT(feed_str(&plain, "3\r\nabc\r\n0\r\n", &why), OC_EINVAL);
    CHECK_INT(why, OC_CHUNKED_MALFORMED);
    CHECK_INT(feed_str(&plain, "3\r\nab", &why), OC_EINVAL);
    CHECK_INT(feed_str(&plain, "", &why), OC_EINVAL);
    CHECK_INT(feed_str(&trail, "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:y/Q5", &why), OC_EINVAL);
    /* Framing errors. */
    CHECK_INT(feed_str(&plain, "3\r\nabcd\r\n0\r\n\r\n", &why), OC_EINVAL);
    CHECK_INT(why, OC_CHUNKED_MALFORMED);
    CHECK_INT(feed_str(&plain, "x\r\n", &why), OC_EINVAL);
    CHECK_INT(feed_str(&plain, "3 \r\nabc\r\n0\r\n\r\n", &why), OC_EINVAL);
    CHECK_INT(feed_str(&plain, "3\r\nabc\r\n0\r\n\r\nmore", &why), OC_EINVAL);
    CHECK_INT(feed_str(&plain, "3\r\nabc\r\n0\r\nx-amz-checksum-crc32:y/Q5Jg==\r\n\r\n", &why),
              OC_EINVAL);
    /* Size limits: 17 hex digits, above 5 GiB. */
    CHECK_INT(feed_str(&plain, "10000000000000000\r\n", &why), OC_EINVAL);
    CHECK_INT(why, OC_CHUNKED_TOO_BIG);
    CHECK_INT(feed_str(&plain, "140000001\r\n", &why), OC_EINVAL);
    CHECK_INT(why, OC_CHUNKED_TOO_BIG);
    /* A header line without an end. */
    CHECK_INT(oc_buf_puts(&longline, "1;"), OC_OK);
    for (int i = 0; i < 600; i++)
        CHECK_INT(oc_buf_putc(&longline, 'x'), OC_OK);
    CHECK_INT(feed_str(&plain, longline.data, &why), OC_EINVAL);
    CHECK_INT(why, OC_CHUNKED_MALFORMED);
    oc_buf_free(&longline);
}

OC_TEST(chunked_sink_error_and_sticky_failure)
{
    struct oc_chunked_config plain = { 0, 0, NULL, NULL, NULL, NULL, NULL };
    struct oc_chunked *c = oc_chunked_new(&plain);
    struct sinkbuf out = { { 0 }, 5 };
    struct oc_err err = { 0 };
    static const char body[] = "a\r\n0123456789\r\n0\r\n\r\n";

    CHECK(c != NULL);
    if (!c)
        return;
    CHECK_INT(oc_chunked_feed(c, body, sizeof(body) - 1, sink, &out, &err), OC_EIO);
    CHECK(oc_chunked_feed(c, "0", 1, sink, &out, &err) != OC_OK);
    CHECK(oc_chunked_finish(c, &err) != OC_OK);
    oc_chunked_free(c);
    oc_buf_free(&out.out);
    /* A signed decoder without its key material is refused. */
    plain.signed_chunks = 1;
    CHECK(oc_chunked_new(&plain) == NULL);
    oc_chunked_free(NULL);
}
