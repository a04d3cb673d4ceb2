/*
 * chunked.c - aws-chunked body decoder (see chunked.h).
 *
 * A state machine over bytes: input may arrive in any split, down to one
 * byte at a time.  Chunk data is hashed and handed to the sink as it
 * arrives; only the short header and trailer lines are buffered, each with
 * a hard length limit, and sizes are bounded, so hostile input can neither
 * make the decoder allocate without bound nor loop.
 */
#include "common/chunked.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/sigv4.h"

#define MAX_LINE 512                       /* a chunk header or trailer line */
#define MAX_TRAILER_LINES 16
#define MAX_CHUNK_SIZE (5ULL << 30)        /* S3's largest single PUT */
#define MAX_TOTAL_SIZE (5ULL << 40)        /* S3's largest object */
#define MAX_HEX_DIGITS 16
#define SIG_PREFIX ";chunk-signature="

enum state {
    ST_HEADER,       /* reading "hex-size[;chunk-signature=sig]\r\n" */
    ST_DATA,         /* chunk bytes */
    ST_DATA_CR,      /* "\r\n" after the data */
    ST_DATA_LF,
    ST_TRAILER,      /* after the final chunk: trailer lines, then "\r\n" */
    ST_MAYBE_END,    /* trailer form, empty line seen before any trailer */
    ST_DONE,
    ST_FAILED,
};

enum cksum { CK_CRC32, CK_CRC32C, CK_CRC64NVME, CK_SHA1, CK_SHA256, CK_COUNT };

static const struct {
    const char *name;
    size_t len;      /* raw digest length */
} cksums[CK_COUNT] = {
    [CK_CRC32] = { "x-amz-checksum-crc32", 4 },
    [CK_CRC32C] = { "x-amz-checksum-crc32c", 4 },
    [CK_CRC64NVME] = { "x-amz-checksum-crc64nvme", 8 },
    [CK_SHA1] = { "x-amz-checksum-sha1", 20 },
    [CK_SHA256] = { "x-amz-checksum-sha256", 32 },
};

struct oc_chunked {
    int signed_chunks, trailer;
    uint8_t key[32];
    char *amz_date, *scope;
    char prev_sig[OC_SIGV4_SIG_HEX + 1];
    char chunk_sig[OC_SIGV4_SIG_HEX + 1];   /* the current chunk's claimed signature */

    enum state st;
    struct oc_buf line;
    uint64_t remaining, decoded;
    EVP_MD_CTX *chunk_md;                   /* SHA-256 of the current chunk */

    unsigned want, declared, received;      /* bit masks over enum cksum */
    uint32_t crc32, crc32c;
    uint64_t crc64;
    EVP_MD_CTX *sha1, *sha256;

    struct oc_buf trailers;                 /* canonical "name:value\n" lines */
    int ntrailers, have_trailer_sig;
    char trailer_sig[OC_SIGV4_SIG_HEX + 1];

    enum oc_chunked_failure failure;
    int fail_rc;
};

/* ---------------------------------------------------------------------
 * CRC-32C and CRC-64/NVME: no library we use provides them.  Tables are
 * built once.
 * ------------------------------------------------------------------- */

static uint32_t crc32c_table[8][256];
static uint64_t crc64_table[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        uint64_t d = i;

        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            d = (d & 1) ? (d >> 1) ^ 0x9A6C9329AC4BC9B5ull : d >> 1;
        }
        crc32c_table[0][i] = c;
        crc64_table[i] = d;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc32c_table[t][i] = (crc32c_table[t - 1][i] >> 8) ^
                                 crc32c_table[0][crc32c_table[t - 1][i] & 0xff];
}

/* Slicing-by-8 over the running (already inverted) value. */
static uint32_t crc32c_update(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n && ((uintptr_t)p & 7)) {
        crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint32_t lo = crc ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                             (uint32_t)p[3] << 24);
        uint32_t hi = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 |
                      (uint32_t)p[7] << 24;

        crc = crc32c_table[7][lo & 0xff] ^ crc32c_table[6][(lo >> 8) & 0xff] ^
              crc32c_table[5][(lo >> 16) & 0xff] ^ crc32c_table[4][lo >> 24] ^
              crc32c_table[3][hi & 0xff] ^ crc32c_table[2][(hi >> 8) & 0xff] ^
              crc32c_table[1][(hi >> 16) & 0xff] ^ crc32c_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = crc32c_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

static uint64_t crc64_update(uint64_t crc, const unsigned char *p, size_t n)
{
    while (n--)
        crc = crc64_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

/* ---------------------------------------------------------------------
 * Set-up
 * ------------------------------------------------------------------- */

static int cksum_by_name(const char *s, size_t len)
{
    for (int i = 0; i < CK_COUNT; i++)
        if (strlen(cksums[i].name) == len && strncasecmp(cksums[i].name, s, len) == 0)
            return i;
    return -1;
}

static unsigned parse_declared(const char *s)
{
    unsigned mask = 0;

    while (*s) {
        const char *e;
        int k;

        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        e = s;
        while (*e && *e != ',' && *e != ' ' && *e != '\t')
            e++;
        k = cksum_by_name(s, (size_t)(e - s));
        if (k >= 0)
            mask |= 1u << k;
        s = e;
    }
    return mask;
}

struct oc_chunked *oc_chunked_new(const struct oc_chunked_config *cfg)
{
    struct oc_chunked *c;

    pthread_once(&tables_once, build_tables);
    c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->signed_chunks = cfg->signed_chunks;
    c->trailer = cfg->trailer;
    if (c->signed_chunks) {
        if (!cfg->signing_key || !cfg->amz_date || !cfg->scope || !cfg->seed_signature ||
            strlen(cfg->seed_signature) != OC_SIGV4_SIG_HEX)
            goto fail;
        memcpy(c->key, cfg->signing_key, 32);
        c->amz_date = strdup(cfg->amz_date);
        c->scope = strdup(cfg->scope);
        if (!c->amz_date || !c->scope)
            goto fail;
        for (int i = 0; i < OC_SIGV4_SIG_HEX; i++) {
            char ch = cfg->seed_signature[i];

            c->prev_sig[i] = (ch >= 'A' && ch <= 'F') ? (char)(ch - 'A' + 'a') : ch;
        }
        c->chunk_md = EVP_MD_CTX_new();
        if (!c->chunk_md)
            goto fail;
    }
    if (c->trailer) {
        c->declared = cfg->declared_trailer ? parse_declared(cfg->declared_trailer) : 0;
        c->want = cfg->declared_trailer ? c->declared : (1u << CK_COUNT) - 1;
    }
    c->crc32 = (uint32_t)crc32(0L, Z_NULL, 0);
    c->crc32c = 0xffffffffu;
    c->crc64 = ~0ull;
    if (c->want & (1u << CK_SHA1)) {
        c->sha1 = EVP_MD_CTX_new();
        if (!c->sha1 || !EVP_DigestInit_ex(c->sha1, EVP_sha1(), NULL))
            goto fail;
    }
    if (c->want & (1u << CK_SHA256)) {
        c->sha256 = EVP_MD_CTX_new();
        if (!c->sha256 || !EVP_DigestInit_ex(c->sha256, EVP_sha256(), NULL))
            goto fail;
    }
    c->st = ST_HEADER;
    return c;
fail:
    oc_chunked_free(c);
    return NULL;
}

void oc_chunked_free(struct oc_chunked *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c->key, sizeof(c->key));
    free(c->amz_date);
    free(c->scope);
    EVP_MD_CTX_free(c->chunk_md);
    EVP_MD_CTX_free(c->sha1);
    EVP_MD_CTX_free(c->sha256);
    oc_buf_free(&c->line);
    oc_buf_free(&c->trailers);
    free(c);
}

enum oc_chunked_failure oc_chunked_failure(const struct oc_chunked *c)
{
    return c->failure;
}

uint64_t oc_chunked_decoded_len(const struct oc_chunked *c)
{
    return c->decoded;
}

/* Records the first failure; the decoder refuses everything after it. */
static int fail(struct oc_chunked *c, enum oc_chunked_failure why, struct oc_err *err,
                const char *fmt, ...) OC_PRINTF(4, 5);

static int fail(struct oc_chunked *c, enum oc_chunked_failure why, struct oc_err *err,
                const char *fmt, ...)
{
    int rc = why == OC_CHUNKED_BAD_SIGNATURE ? OC_EAUTH : OC_EINVAL;
    va_list ap;

    c->st = ST_FAILED;
    c->failure = why;
    c->fail_rc = rc;
    if (err) {
        err->code = rc;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Copies 64 hex digits lowercased; -1 when s is not exactly that. */
static int take_sig(const char *s, size_t len, char out[OC_SIGV4_SIG_HEX + 1])
{
    if (len != OC_SIGV4_SIG_HEX)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = hexval(s[i]);

        if (v < 0)
            return -1;
        out[i] = "0123456789abcdef"[v];
    }
    out[OC_SIGV4_SIG_HEX] = '\0';
    return 0;
}

/* Verifies the current chunk's signature given the SHA-256 of its data and
 * moves the chain forward. */
static int check_chunk_sig(struct oc_chunked *c, const uint8_t sha[32], struct oc_err *err)
{
    char expect[OC_SIGV4_SIG_HEX + 1];

    oc_sigv4_chunk_signature(c->key, c->amz_date, c->scope, c->prev_sig, sha, expect);
    if (!oc_ct_equal(expect, OC_SIGV4_SIG_HEX, c->chunk_sig, OC_SIGV4_SIG_HEX))
        return fail(c, OC_CHUNKED_BAD_SIGNATURE, err,
                    "the chunk signature after %llu decoded bytes does not match",
                    (unsigned long long)c->decoded);
    memcpy(c->prev_sig, c->chunk_sig, sizeof(c->prev_sig));
    return OC_OK;
}

static int start_chunk_md(struct oc_chunked *c, struct oc_err *err)
{
    if (!EVP_DigestInit_ex(c->chunk_md, EVP_sha256(), NULL))
        return fail(c, OC_CHUNKED_MALFORMED, err, "SHA-256 initialisation failed");
    return OC_OK;
}

/* "hex-size[;chunk-signature=<64 hex>]" without its line ending. */
static int header_line(struct oc_chunked *c, const char *s, size_t len, struct oc_err *err)
{
    uint64_t size = 0;
    size_t i = 0;
    int rc;

    while (i < len && hexval(s[i]) >= 0) {
        if (i == MAX_HEX_DIGITS)
            return fail(c, OC_CHUNKED_TOO_BIG, err, "a chunk size has more than %d digits",
                        MAX_HEX_DIGITS);
        size = size << 4 | (uint64_t)hexval(s[i]);
        i++;
    }
    if (i == 0)
        return fail(c, OC_CHUNKED_MALFORMED, err, "a chunk header does not start with a "
                    "hexadecimal size");
    if (size > MAX_CHUNK_SIZE)
        return fail(c, OC_CHUNKED_TOO_BIG, err, "a chunk of %llu bytes is over the limit",
                    (unsigned long long)size);
    if (c->decoded + size > MAX_TOTAL_SIZE)
        return fail(c, OC_CHUNKED_TOO_BIG, err, "the decoded body is over the limit");
    if (c->signed_chunks) {
        size_t plen = sizeof(SIG_PREFIX) - 1;

        if (len - i < plen || memcmp(s + i, SIG_PREFIX, plen) != 0 ||
            take_sig(s + i + plen, len - i - plen, c->chunk_sig) != 0)
            return fail(c, OC_CHUNKED_MALFORMED, err, "a chunk header lacks a valid "
                        "chunk-signature");
    } else if (i < len && s[i] != ';') {
        return fail(c, OC_CHUNKED_MALFORMED, err, "malformed chunk header");
    }
    if (size == 0) {
        if (c->signed_chunks) {
            uint8_t empty[32];

            oc_sha256("", 0, empty);
            rc = check_chunk_sig(c, empty, err);
            if (rc)
                return rc;
        }
        c->st = ST_TRAILER;
        return OC_OK;
    }
    if (c->signed_chunks) {
        rc = start_chunk_md(c, err);
        if (rc)
            return rc;
    }
    c->remaining = size;
    c->st = ST_DATA;
    return OC_OK;
}

static void cksum_final(struct oc_chunked *c, int k, uint8_t *out)
{
    unsigned int n = 0;
    uint64_t v;

    switch (k) {
    case CK_CRC32:
    case CK_CRC32C:
        v = k == CK_CRC32 ? c->crc32 : (uint32_t)~c->crc32c;
        for (int i = 0; i < 4; i++)
            out[i] = (uint8_t)(v >> (24 - 8 * i));
        break;
    case CK_CRC64NVME:
        v = ~c->crc64;
        for (int i = 0; i < 8; i++)
            out[i] = (uint8_t)(v >> (56 - 8 * i));
        break;
    case CK_SHA1:
        EVP_DigestFinal_ex(c->sha1, out, &n);
        break;
    case CK_SHA256:
        EVP_DigestFinal_ex(c->sha256, out, &n);
        break;
    }
}

static int is_token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
           ch == '.';
}

/* One "name:value" trailer line (no line ending). */
static int trailer_line(struct oc_chunked *c, const char *s, size_t len, struct oc_err *err)
{
    const char *colon = memchr(s, ':', len), *v, *ve;
    char name[64];
    size_t nlen;
    int k, rc;

    if (!c->trailer)
        return fail(c, OC_CHUNKED_MALFORMED, err, "data after the final chunk");
    if (c->have_trailer_sig)
        return fail(c, OC_CHUNKED_MALFORMED, err, "a trailer follows x-amz-trailer-signature");
    nlen = colon ? (size_t)(colon - s) : 0;
    if (!colon || nlen == 0 || nlen >= sizeof(name))
        return fail(c, OC_CHUNKED_MALFORMED, err, "malformed trailer line");
    for (size_t i = 0; i < nlen; i++) {
        char ch = s[i];

        name[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
        if (!is_token_char(name[i]))
            return fail(c, OC_CHUNKED_MALFORMED, err, "malformed trailer name");
    }
    name[nlen] = '\0';
    v = colon + 1;
    ve = s + len;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;

    if (strcmp(name, "x-amz-trailer-signature") == 0) {
        if (!c->signed_chunks)
            return fail(c, OC_CHUNKED_MALFORMED, err, "x-amz-trailer-signature in an "
                        "unsigned body");
        if (take_sig(v, (size_t)(ve - v), c->trailer_sig) != 0)
            return fail(c, OC_CHUNKED_MALFORMED, err, "malformed x-amz-trailer-signature");
        c->have_trailer_sig = 1;
        return OC_OK;
    }
    if (++c->ntrailers > MAX_TRAILER_LINES)
        return fail(c, OC_CHUNKED_MALFORMED, err, "too many trailers");
    rc = oc_buf_printf(&c->trailers, "%s:%.*s\n", name, (int)(ve - v), v);
    if (rc)
        return fail(c, OC_CHUNKED_MALFORMED, err, "out of memory");

    k = cksum_by_name(name, nlen);
    if (k < 0) {
        if (strncmp(name, "x-amz-checksum-", 15) == 0)
            return fail(c, OC_CHUNKED_MALFORMED, err, "unsupported checksum trailer %s", name);
        return OC_OK;    /* another trailer: signed (if signed) but not interpreted */
    }
    if (c->received & (1u << k))
        return fail(c, OC_CHUNKED_MALFORMED, err, "%s is given twice", name);
    if (!(c->want & (1u << k)))
        return fail(c, OC_CHUNKED_MALFORMED, err, "%s was not announced in x-amz-trailer",
                    name);
    c->received |= 1u << k;
    {
        uint8_t got[32], expect[32];
        long n = oc_base64_decode(v, (size_t)(ve - v), got, sizeof(got));

        if (n != (long)cksums[k].len)
            return fail(c, OC_CHUNKED_MALFORMED, err, "the value of %s is not a valid "
                        "checksum", name);
        cksum_final(c, k, expect);
        if (!oc_ct_equal(got, (size_t)n, expect, cksums[k].len))
            return fail(c, OC_CHUNKED_BAD_CHECKSUM, err, "the %s checksum does not match "
                        "the payload", name + 15);
    }
    return OC_OK;
}

/* The body is complete: check what the trailer section promised. */
static int finish_trailers(struct oc_chunked *c, struct oc_err *err)
{
    if (c->trailer) {
        unsigned missing = c->declared & ~c->received;

        for (int k = 0; k < CK_COUNT; k++)
            if (missing & (1u << k))
                return fail(c, OC_CHUNKED_MALFORMED, err, "the announced trailer %s is "
                            "missing", cksums[k].name);
        if (c->signed_chunks && c->ntrailers > 0) {
            char expect[OC_SIGV4_SIG_HEX + 1];

            if (!c->have_trailer_sig)
                return fail(c, OC_CHUNKED_MALFORMED, err, "x-amz-trailer-signature is "
                            "missing");
            oc_sigv4_trailer_signature(c->key, c->amz_date, c->scope, c->prev_sig,
                                       oc_buf_cstr(&c->trailers), c->trailers.len, expect);
            if (!oc_ct_equal(expect, OC_SIGV4_SIG_HEX, c->trailer_sig, OC_SIGV4_SIG_HEX))
                return fail(c, OC_CHUNKED_BAD_SIGNATURE, err, "the trailer signature does "
                            "not match");
        }
    }
    c->st = ST_DONE;
    return OC_OK;
}

static int line_done(struct oc_chunked *c, struct oc_err *err)
{
    const char *s = oc_buf_cstr(&c->line);
    size_t len = c->line.len;

    /* Lines end with CRLF; a bare LF is tolerated. */
    if (len && s[len - 1] == '\r')
        len--;
    if (c->st == ST_HEADER)
        return header_line(c, s, len, err);
    if (len == 0) {
        if (c->trailer && c->st == ST_TRAILER && c->ntrailers == 0 && !c->have_trailer_sig) {
            /* Either the end of a body without trailers, or the blank
             * line some clients put between the final chunk and the
             * trailers: more input decides. */
            c->st = ST_MAYBE_END;
            return OC_OK;
        }
        return finish_trailers(c, err);
    }
    c->st = ST_TRAILER;
    return trailer_line(c, s, len, err);
}

static void update_checksums(struct oc_chunked *c, const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;

    if (c->want & (1u << CK_CRC32)) {
        const unsigned char *q = u;
        size_t left = n;

        /* zlib takes uInt lengths; feed at most 1 GiB at a time. */
        while (left) {
            uInt part = left > (1u << 30) ? (1u << 30) : (uInt)left;

            c->crc32 = (uint32_t)crc32(c->crc32, q, part);
            q += part;
            left -= part;
        }
    }
    if (c->want & (1u << CK_CRC32C))
        c->crc32c = crc32c_update(c->crc32c, u, n);
    if (c->want & (1u << CK_CRC64NVME))
        c->crc64 = crc64_update(c->crc64, u, n);
    if (c->sha1)
        EVP_DigestUpdate(c->sha1, p, n);
    if (c->sha256)
        EVP_DigestUpdate(c->sha256, p, n);
}

int oc_chunked_feed(struct oc_chunked *c, const char *data, size_t len, oc_chunked_sink sink,
                    void *arg, struct oc_err *err)
{
    size_t i = 0;
    int rc;

    if (c->st == ST_FAILED)
        return oc_err_set(err, c->fail_rc ? c->fail_rc : OC_EINVAL,
                          "the aws-chunked body already failed");
    while (i < len) {
        switch (c->st) {
        case ST_HEADER:
        case ST_TRAILER:
        case ST_MAYBE_END: {
            const char *nl = memchr(data + i, '\n', len - i);
            size_t take = nl ? (size_t)(nl - (data + i)) : len - i;

            if (c->line.len + take > MAX_LINE)
                return fail(c, OC_CHUNKED_MALFORMED, err, "a chunk header or trailer line "
                            "is longer than %d bytes", MAX_LINE);
            if (take && oc_buf_append(&c->line, data + i, take) != OC_OK)
                return fail(c, OC_CHUNKED_MALFORMED, err, "out of memory");
            i += take;
            if (!nl)
                break;
            i++;    /* the '\n' */
            rc = line_done(c, err);
            oc_buf_reset(&c->line);
            if (rc)
                return rc;
            break;
        }
        case ST_DATA: {
            size_t n = len - i;

            if ((uint64_t)n > c->remaining)
                n = (size_t)c->remaining;
            if (c->signed_chunks)
                EVP_DigestUpdate(c->chunk_md, data + i, n);
            update_checksums(c, data + i, n);
            c->decoded += n;
            c->remaining -= n;
            rc = sink ? sink(arg, data + i, n) : OC_OK;
            if (rc) {
                c->st = ST_FAILED;
                c->fail_rc = rc;
                return rc;
            }
            i += n;
            if (c->remaining == 0) {
                if (c->signed_chunks) {
                    uint8_t sha[32];
                    unsigned int dl = 0;

                    EVP_DigestFinal_ex(c->chunk_md, sha, &dl);
                    rc = check_chunk_sig(c, sha, err);
                    if (rc)
                        return rc;
                }
                c->st = ST_DATA_CR;
            }
            break;
        }
        case ST_DATA_CR:
            if (data[i] == '\r') {
                c->st = ST_DATA_LF;
                i++;
                break;
            }
            /* A bare LF is tolerated. */
            __attribute__((fallthrough));
        case ST_DATA_LF:
            if (data[i] != '\n')
                return fail(c, OC_CHUNKED_MALFORMED, err, "chunk data is not followed by "
                            "CRLF");
            i++;
            c->st = ST_HEADER;
            break;
        case ST_DONE:
            return fail(c, OC_CHUNKED_MALFORMED, err, "data after the end of the "
                        "aws-chunked body");
        case ST_FAILED:
            return c->fail_rc;
        }
    }
    return OC_OK;
}

int oc_chunked_finish(struct oc_chunked *c, struct oc_err *err)
{
    switch (c->st) {
    case ST_DONE:
        return OC_OK;
    case ST_MAYBE_END:
        if (c->line.len == 0)
            return finish_trailers(c, err);
        break;
    case ST_FAILED:
        return oc_err_set(err, c->fail_rc ? c->fail_rc : OC_EINVAL,
                          "the aws-chunked body already failed");
    default:
        break;
    }
    return fail(c, OC_CHUNKED_MALFORMED, err, "the aws-chunked body ended early, after %llu "
                "decoded bytes", (unsigned long long)c->decoded);
}
