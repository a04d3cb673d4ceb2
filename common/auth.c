/*
 * auth.c - request authentication: picks the signature form, looks the
 * secret up, checks clocks and signatures, and says how the body is
 * protected (see auth.h).  Error codes, messages and statuses are the ones
 * S3 (and, for the Query API, EC2) answer with.
 */
#include "common/auth.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/sigv2.h"
#include "common/sigv4.h"

#define MSG_SIG_MISMATCH                                                                  \
    "The request signature we calculated does not match the signature you provided. "    \
    "Check your key and signing method."
#define MSG_NO_KEY "The AWS Access Key Id you provided does not exist in our records."
#define MSG_NO_DATE "AWS authentication requires a valid Date or x-amz-date header"
#define MSG_SKEWED "The difference between the request time and the current time is too large."
#define MSG_CONTENT_SHA                                                                   \
    "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, " \
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a " \
    "valid sha256 value."
#define MSG_V4_QUERY_PARAMS                                                               \
    "Query-string authentication version 4 requires the X-Amz-Algorithm, "                \
    "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and "            \
    "X-Amz-Expires parameters."

static int deny(struct oc_auth_error *a, const char *code, int status, const char *fmt, ...)
    OC_PRINTF(4, 5);

static int deny(struct oc_auth_error *a, const char *code, int status, const char *fmt, ...)
{
    va_list ap;

    if (a) {
        a->code = code;
        a->status = status;
        va_start(ap, fmt);
        vsnprintf(a->message, sizeof(a->message), fmt, ap);
        va_end(ap);
    }
    return OC_EAUTH;
}

static int is_s3(const struct oc_auth_input *in)
{
    return !in->service || strcmp(in->service, "s3") == 0;
}

static const char *header(const struct oc_auth_input *in, const char *name)
{
    for (size_t i = 0; i < in->nheaders; i++)
        if (in->headers[i].name && strcasecmp(in->headers[i].name, name) == 0)
            return in->headers[i].value ? in->headers[i].value : "";
    return NULL;
}

/* The clock-skew answer: S3 says RequestTimeTooSkewed; the Query APIs say
 * RequestExpired. */
static int skewed(const struct oc_auth_input *in, struct oc_auth_error *aerr)
{
    if (is_s3(in))
        return deny(aerr, "RequestTimeTooSkewed", 403, MSG_SKEWED);
    return deny(aerr, "RequestExpired", 400, "Request has expired. The request time differs "
                "from the server time by more than 15 minutes.");
}

static int too_far(time_t t, time_t now)
{
    return t > now + OC_AUTH_MAX_SKEW_S || t < now - OC_AUTH_MAX_SKEW_S;
}

/* ---------------------------------------------------------------------
 * Raw query lookups (the request's own query string, still encoded)
 * ------------------------------------------------------------------- */

/* The request's query string decoded once: a presigned request is looked
 * at for half a dozen parameters, and a server verifying tens of thousands
 * of requests a second should not decode the string each time. */
struct rq_item {
    const char *name, *value;     /* decoded ('+' is a space) */
    const char *raw;              /* the value as sent */
    size_t raw_len;
};

struct rawq {
    struct rq_item *items;
    size_t n;
    struct oc_buf text;           /* every decoded name and value */
};

#define MAX_AUTH_QUERY_PARAMS 1000

/* Best effort: a parameter with a malformed escape is left out (the
 * canonical query of a signed request then fails on it). */
static int rawq_parse(const char *raw, struct rawq *q)
{
    size_t len = raw ? strlen(raw) : 0, count = 1, *off;
    const char *p = raw, *end = raw + len;

    memset(q, 0, sizeof(*q));
    if (!len)
        return OC_OK;
    for (size_t i = 0; i < len; i++)
        count += raw[i] == '&';
    if (count > MAX_AUTH_QUERY_PARAMS)
        count = MAX_AUTH_QUERY_PARAMS;
    q->items = calloc(count, sizeof(*q->items));
    off = calloc(2 * count, sizeof(*off));
    if (!q->items || !off || oc_buf_reserve(&q->text, len + 2 * count) != OC_OK) {
        free(off);
        return OC_ENOMEM;
    }
    while (p < end && q->n < count) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        const char *ne = eq ? eq : seg_end;
        size_t mark = q->text.len, voff = 0;
        int rc = OC_EINVAL;

        if (seg_end != p) {
            rc = oc_url_decode(p, (size_t)(ne - p), 1, &q->text);
            if (rc == OC_OK)
                rc = oc_buf_putc(&q->text, '\0');
            voff = q->text.len;
            if (rc == OC_OK)
                rc = oc_url_decode(eq ? eq + 1 : ne, eq ? (size_t)(seg_end - eq - 1) : 0, 1,
                                   &q->text);
            if (rc == OC_OK)
                rc = oc_buf_putc(&q->text, '\0');
        }
        if (rc == OC_OK) {
            off[2 * q->n] = mark;
            off[2 * q->n + 1] = voff;
            q->items[q->n].raw = eq ? eq + 1 : ne;
            q->items[q->n].raw_len = eq ? (size_t)(seg_end - eq - 1) : 0;
            q->n++;
        } else {
            q->text.len = mark;
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    /* The buffer no longer moves: resolve the offsets. */
    for (size_t i = 0; i < q->n; i++) {
        q->items[i].name = q->text.data + off[2 * i];
        q->items[i].value = q->text.data + off[2 * i + 1];
    }
    free(off);
    return OC_OK;
}

static void rawq_free(struct rawq *q)
{
    free(q->items);
    oc_buf_free(&q->text);
}

static const struct rq_item *rawq_find(const struct rawq *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->items[i].name, name) == 0)
            return &q->items[i];
    return NULL;
}

static const char *rawq_get(const struct rawq *q, const char *name)
{
    const struct rq_item *it = rawq_find(q, name);

    return it ? it->value : NULL;
}

/* ---------------------------------------------------------------------
 * Dates
 * ------------------------------------------------------------------- */

static int num(const char **p, int ndig, int *out)
{
    int v = 0;

    for (int i = 0; i < ndig; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += ndig;
    *out = v;
    return 0;
}

static int make_time(int y, int mo, int d, int h, int mi, int s, long off, time_t *out)
{
    struct tm tm;

    if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        s > 60)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    *out = timegm(&tm) - off;
    return 0;
}

/* "+hhmm", "-hh:mm", "Z", "GMT", "UTC", or nothing (UTC). */
static int parse_zone(const char *p, long *off)
{
    int h, m, sign;

    while (*p == ' ')
        p++;
    *off = 0;
    if (!*p || strcmp(p, "Z") == 0 || strcmp(p, "GMT") == 0 || strcmp(p, "UTC") == 0)
        return 0;
    if (*p != '+' && *p != '-')
        return -1;
    sign = *p++ == '-' ? -1 : 1;
    if (num(&p, 2, &h))
        return -1;
    if (*p == ':')
        p++;
    if (num(&p, 2, &m) || *p || h > 23 || m > 59)
        return -1;
    *off = sign * (h * 3600L + m * 60L);
    return 0;
}

/* RFC 1123 ("Tue, 27 Mar 2007 19:36:42 +0000", "... GMT"), the weekday
 * optional; also the ISO 8601 basic form some clients put in x-amz-date. */
static int parse_http_date(const char *s, time_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    const char *p = s;
    int d, mo = 0, y, h, mi, sec;
    long off;

    if (oc_sigv4_parse_amz_date(s, out) == 0)
        return 0;
    while (*p == ' ')
        p++;
    if (isalpha((unsigned char)*p)) {
        while (isalpha((unsigned char)*p))
            p++;
        if (*p++ != ',')
            return -1;
    }
    while (*p == ' ')
        p++;
    if (num(&p, 2, &d) || *p++ != ' ')
        return -1;
    for (int i = 0; i < 12; i++)
        if (strncmp(p, months + 3 * i, 3) == 0)
            mo = i + 1;
    if (!mo || p[3] != ' ')
        return -1;
    p += 4;
    if (num(&p, 4, &y) || *p++ != ' ' || num(&p, 2, &h) || *p++ != ':' || num(&p, 2, &mi) ||
        *p++ != ':' || num(&p, 2, &sec))
        return -1;
    if (parse_zone(p, &off))
        return -1;
    return make_time(y, mo, d, h, mi, sec, off, out);
}

/* ISO 8601 extended, as the Query API sends Timestamp and Expires:
 * 2011-10-03T15:19:30[.123][Z|+hh:mm] (no zone means UTC). */
static int parse_iso8601(const char *s, time_t *out)
{
    const char *p = s;
    int y, mo, d, h, mi, sec;
    long off;

    if (num(&p, 4, &y) || *p++ != '-' || num(&p, 2, &mo) || *p++ != '-' || num(&p, 2, &d) ||
        *p++ != 'T' || num(&p, 2, &h) || *p++ != ':' || num(&p, 2, &mi) || *p++ != ':' ||
        num(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (parse_zone(p, &off))
        return -1;
    return make_time(y, mo, d, h, mi, sec, off, out);
}

/* ---------------------------------------------------------------------
 * Shared steps
 * ------------------------------------------------------------------- */

/* A credential-source failure in AWS's words.  AWS answers an inactive key
 * exactly as an unknown one. */
static int cred_failed(int rc, struct oc_auth_error *aerr)
{
    if (rc == OC_ENOTFOUND)
        return deny(aerr, "InvalidAccessKeyId", 403, MSG_NO_KEY);
    return deny(aerr, "InternalError", 500, "We encountered an internal error. "
                "Please try again.");
}

/* Copies a span into buf (cap bytes); 0 when it does not fit. */
static int span_copy(char *buf, size_t cap, const char *p, size_t len)
{
    if (len == 0 || len >= cap)
        return 0;
    memcpy(buf, p, len);
    buf[len] = '\0';
    return 1;
}

/* The SigV4 signing key of the credential's scope and the principal. */
static int v4_key(const struct oc_cred_source *creds, const struct oc_sigv4_credential *c,
                  struct oc_principal *who, uint8_t key[32], struct oc_auth_error *aerr)
{
    char akid[129], date[16], region[64], service[64];
    struct oc_err err = { 0 };
    int rc;

    if (!span_copy(akid, sizeof(akid), c->access_key.p, c->access_key.len))
        return deny(aerr, "InvalidAccessKeyId", 403, MSG_NO_KEY);
    if (!span_copy(date, sizeof(date), c->date.p, c->date.len) ||
        !span_copy(region, sizeof(region), c->region.p, c->region.len) ||
        !span_copy(service, sizeof(service), c->service.p, c->service.len))
        return deny(aerr, "AuthorizationHeaderMalformed", 400, "The authorization header is "
                    "malformed; the credential scope is invalid.");
    rc = oc_cred_sigv4_key(creds, akid, date, region, service, key, who, &err);
    OPENSSL_cleanse(who->secret_key, sizeof(who->secret_key));
    if (rc)
        return cred_failed(rc, aerr);
    if (!who->active) {
        OPENSSL_cleanse(key, 32);
        return deny(aerr, "InvalidAccessKeyId", 403, MSG_NO_KEY);
    }
    return OC_OK;
}

/* The result never carries the secret: the signing key is all the body
 * checks need. */
static void set_who(struct oc_auth_result *out, struct oc_principal *who)
{
    out->who = *who;
    memset(out->who.secret_key, 0, sizeof(out->who.secret_key));
    OPENSSL_cleanse(who->secret_key, sizeof(who->secret_key));
}

static int is_hex64(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++)
        if (!isxdigit((unsigned char)s[i]))
            return 0;
    return i == 64;
}

static void lower_copy(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[n] = '\0';
}

/* Classifies an x-amz-content-sha256 value; -1 when it is none of them. */
static int payload_mode_of(const char *v, enum oc_payload_mode *mode)
{
    if (strcmp(v, OC_SIGV4_UNSIGNED) == 0)
        *mode = OC_PAYLOAD_UNSIGNED;
    else if (strcmp(v, OC_SIGV4_STREAMING) == 0)
        *mode = OC_PAYLOAD_STREAMING_SIGNED;
    else if (strcmp(v, OC_SIGV4_STREAMING_TRAILER) == 0)
        *mode = OC_PAYLOAD_STREAMING_SIGNED_TRAILER;
    else if (strcmp(v, OC_SIGV4_STREAMING_UNSIGNED_TRAILER) == 0)
        *mode = OC_PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    else if (is_hex64(v))
        *mode = OC_PAYLOAD_SHA256;
    else
        return -1;
    return 0;
}

static void set_payload(struct oc_auth_result *out, enum oc_payload_mode mode, const char *v)
{
    out->payload = mode;
    if (mode == OC_PAYLOAD_SHA256)
        lower_copy(out->payload_sha256, v, 64);
}

/* For requests whose signature does not cover the body (anonymous, SigV2):
 * a declared hash is still checked, and an unsigned aws-chunked body must
 * still be decoded; signed chunks cannot be verified without SigV4. */
static int unsigned_payload(const struct oc_auth_input *in, struct oc_auth_result *out,
                            struct oc_auth_error *aerr)
{
    const char *v = header(in, "x-amz-content-sha256");
    enum oc_payload_mode mode = OC_PAYLOAD_UNCHECKED;

    out->payload = OC_PAYLOAD_UNCHECKED;
    if (!v || !is_s3(in))
        return OC_OK;
    if (payload_mode_of(v, &mode))
        return deny(aerr, "InvalidArgument", 400, MSG_CONTENT_SHA);
    if (mode == OC_PAYLOAD_STREAMING_SIGNED || mode == OC_PAYLOAD_STREAMING_SIGNED_TRAILER)
        return deny(aerr, "InvalidRequest", 400, "%s requires AWS Signature Version 4 in "
                    "the Authorization header", v);
    set_payload(out, mode, v);
    return OC_OK;
}

/* S3 refuses x-amz-* headers the signature does not cover. */
static int unsigned_amz_header(const struct oc_auth_input *in, const char *sh, size_t sh_len)
{
    char name[128];

    for (size_t i = 0; i < in->nheaders; i++) {
        const char *n = in->headers[i].name;
        size_t len;

        if (!n || strncasecmp(n, "x-amz-", 6) != 0)
            continue;
        len = strlen(n);
        if (len >= sizeof(name))
            return 1;
        lower_copy(name, n, len);
        if (!oc_sigv4_signed_headers_has(sh, sh_len, name))
            return 1;
    }
    return 0;
}

static int signed_payload_hash(const struct oc_auth_input *in, const char **hash,
                               enum oc_payload_mode *mode, struct oc_auth_error *aerr)
{
    const char *v = header(in, "x-amz-content-sha256");

    if (v) {
        if (payload_mode_of(v, mode))
            return deny(aerr, "InvalidArgument", 400, MSG_CONTENT_SHA);
        *hash = v;
        return OC_OK;
    }
    if (is_s3(in))
        return deny(aerr, "InvalidRequest", 400, "Missing required header for this request: "
                    "x-amz-content-sha256");
    *hash = in->body_sha256 && is_hex64(in->body_sha256) ? in->body_sha256
                                                         : OC_SIGV4_EMPTY_SHA256;
    *mode = OC_PAYLOAD_SHA256;
    return OC_OK;
}

/* Computes the SigV4 signature of the request and compares it. */
/*
 * Memo of verified SigV4 signatures.  A client that sends the very same
 * signed request again (a presigned URL fetched many times, a poller
 * replaying one signed Describe) would otherwise pay for the whole
 * canonicalisation each time.  A signature is a function of exactly these
 * inputs: method, raw path, raw query, the headers, the signed-header list,
 * payload hash, the presigned flag, the S3 flag, date, scope and signing
 * key.  An entry holds all of them byte for byte (every header, not only
 * the signed ones, so no selection rule has to be repeated here) and the
 * signature they produce; a request whose inputs are identical to an entry's
 * gets that entry's signature to compare against, in constant time, as it
 * would get a freshly computed one.  Only verified signatures are kept, so
 * filling the memo takes valid credentials.  Clocks, expiry, key status and
 * everything else are checked before, on every request, as without it.
 */
#define MEMO_SLOTS 4096
#define MEMO_LOCKS 64
#define MEMO_MAX_BLOB 4096

struct memo_ent {
    unsigned char *blob;           /* NULL: empty */
    size_t len;
    uint8_t key[32];
    char sig[64];
};

static struct memo_ent memo[MEMO_SLOTS];
static uint64_t memo_hits;
static pthread_mutex_t memo_locks[MEMO_LOCKS] = {
    [0 ... MEMO_LOCKS - 1] = PTHREAD_MUTEX_INITIALIZER
};

struct memo_key {
    unsigned char b[MEMO_MAX_BLOB];
    size_t len;
    int ok;                        /* fits */
};

static void memo_put_field(struct memo_key *k, const char *p, size_t n)
{
    uint32_t n32 = (uint32_t)n;

    if (!k->ok || n > MEMO_MAX_BLOB || k->len + 4 + n > MEMO_MAX_BLOB) {
        k->ok = 0;
        return;
    }
    memcpy(k->b + k->len, &n32, 4);
    if (n)
        memcpy(k->b + k->len + 4, p, n);
    k->len += 4 + n;
}

static void memo_put_str(struct memo_key *k, const char *s)
{
    memo_put_field(k, s ? s : "", s ? strlen(s) : 0);
}

static void memo_key_build(struct memo_key *k, const struct oc_auth_input *in,
                           const struct oc_sigv4_credential *cred, const char *amz_date,
                           struct oc_sigv4_span sh, const char *payload_hash, int presigned)
{
    char flags[2] = { presigned ? 'p' : 'h', is_s3(in) ? 's' : 'q' };

    k->len = 0;
    k->ok = 1;
    memo_put_field(k, flags, 2);
    memo_put_str(k, in->method);
    memo_put_str(k, in->path);
    memo_put_str(k, in->query);
    memo_put_field(k, sh.p, sh.len);
    memo_put_str(k, payload_hash);
    memo_put_str(k, amz_date);
    memo_put_field(k, cred->scope.p, cred->scope.len);
    for (size_t i = 0; i < in->nheaders; i++) {
        memo_put_str(k, in->headers[i].name);
        memo_put_str(k, in->headers[i].value);
    }
}

static size_t memo_slot(const char *given)
{
    size_t h = 0;

    for (int i = 0; i < 8; i++)
        h = h * 31 + (unsigned char)given[i];
    return h % MEMO_SLOTS;
}

/* 1 and the signature these inputs produce, when an entry has exactly them. */
static int memo_find(const struct memo_key *k, const uint8_t key[32], size_t slot,
                     char sig[64])
{
    struct memo_ent *e = &memo[slot];
    int hit = 0;

    pthread_mutex_lock(&memo_locks[slot % MEMO_LOCKS]);
    if (e->blob && e->len == k->len && CRYPTO_memcmp(e->blob, k->b, k->len) == 0 &&
        CRYPTO_memcmp(e->key, key, 32) == 0) {
        memcpy(sig, e->sig, 64);
        hit = 1;
        __atomic_add_fetch(&memo_hits, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&memo_locks[slot % MEMO_LOCKS]);
    return hit;
}

static void memo_store(const struct memo_key *k, const uint8_t key[32], size_t slot,
                       const char sig[64])
{
    struct memo_ent *e = &memo[slot];
    unsigned char *copy = malloc(k->len), *old;

    if (!copy)
        return;
    memcpy(copy, k->b, k->len);
    pthread_mutex_lock(&memo_locks[slot % MEMO_LOCKS]);
    old = e->blob;
    e->blob = copy;
    e->len = k->len;
    memcpy(e->key, key, 32);
    memcpy(e->sig, sig, 64);
    pthread_mutex_unlock(&memo_locks[slot % MEMO_LOCKS]);
    free(old);
}

uint64_t oc_auth_memo_hits(void)
{
    return __atomic_load_n(&memo_hits, __ATOMIC_RELAXED);
}

static int v4_check(const struct oc_auth_input *in, const struct oc_sigv4_credential *cred,
                    const char *amz_date, struct oc_sigv4_span sh, const char *payload_hash,
                    int presigned, const char *given_sig, size_t given_len,
                    const uint8_t key[32], struct oc_auth_error *aerr)
{
    struct memo_key mk;
    size_t slot;
    char msig[64];
    struct oc_buf canon = { 0 }, sts = { 0 };
    struct oc_sigv4_req req = {
        .method = in->method, .path = in->path, .query = in->query,
        .headers = in->headers, .nheaders = in->nheaders, .s3 = is_s3(in),
    };
    struct oc_err err = { 0 };
    char sig[65], given[65];
    int rc;

    if (given_len != 64)
        return deny(aerr, "SignatureDoesNotMatch", 403, MSG_SIG_MISMATCH);
    lower_copy(given, given_sig, 64);
    slot = memo_slot(given);
    memo_key_build(&mk, in, cred, amz_date, sh, payload_hash, presigned);
    if (mk.ok && memo_find(&mk, key, slot, msig)) {
        if (!oc_ct_equal(msig, 64, given, 64))
            return deny(aerr, "SignatureDoesNotMatch", 403, MSG_SIG_MISMATCH);
        return OC_OK;
    }
    rc = oc_sigv4_canonical_request(&req, sh.p, sh.len, payload_hash, presigned, &canon, &err);
    if (rc == OC_OK)
        rc = oc_sigv4_string_to_sign(amz_date, cred->scope.p, cred->scope.len,
                                     oc_buf_cstr(&canon), canon.len, &sts);
    if (rc) {
        oc_buf_free(&canon);
        oc_buf_free(&sts);
        if (rc == OC_ENOMEM)
            return deny(aerr, "InternalError", 500, "We encountered an internal error. "
                        "Please try again.");
        return deny(aerr, "InvalidURI", 400, "Couldn't parse the specified URI: %s", err.msg);
    }
    oc_sigv4_hmac_hex(key, sts.data, sts.len, sig);
    oc_buf_free(&canon);
    oc_buf_free(&sts);
    if (!oc_ct_equal(sig, 64, given, 64))
        return deny(aerr, "SignatureDoesNotMatch", 403, MSG_SIG_MISMATCH);
    if (mk.ok)
        memo_store(&mk, key, slot, sig);
    return OC_OK;
}

static int check_service(const struct oc_auth_input *in, const struct oc_sigv4_credential *c,
                         const char *code, struct oc_auth_error *aerr)
{
    const char *want = in->service ? in->service : "s3";

    if (c->service.len != strlen(want) || memcmp(c->service.p, want, c->service.len) != 0)
        return deny(aerr, code, 400, "Credential should be scoped to correct service: '%s'.",
                    want);
    return OC_OK;
}

/* ---------------------------------------------------------------------
 * SigV4, Authorization header
 * ------------------------------------------------------------------- */

static int verify_v4_header(const struct oc_auth_input *in, const char *authz,
                            const struct oc_cred_source *creds, struct oc_auth_result *out,
                            struct oc_auth_error *aerr)
{
    struct oc_sigv4_authz az;
    struct oc_principal who = { 0 };
    struct oc_err err = { 0 };
    const char *xd = header(in, "x-amz-date"), *hash = NULL;
    char amz_date[OC_SIGV4_AMZ_DATE_LEN + 1];
    enum oc_payload_mode mode = OC_PAYLOAD_UNCHECKED;
    uint8_t key[32];
    time_t t;
    int has_host = 0, rc;

    if (oc_sigv4_parse_authorization(authz, &az, &err) != OC_OK)
        return deny(aerr, "AuthorizationHeaderMalformed", 400,
                    "The authorization header is malformed; %s.", err.msg);
    if (oc_sigv4_check_signed_headers(az.signed_headers.p, az.signed_headers.len, &has_host,
                                      &err) != OC_OK || !has_host)
        return deny(aerr, "AuthorizationHeaderMalformed", 400, "The authorization header is "
                    "malformed; the host header must be signed.");
    rc = check_service(in, &az.cred, "AuthorizationHeaderMalformed", aerr);
    if (rc)
        return rc;
    if (xd) {
        if (oc_sigv4_parse_amz_date(xd, &t) != 0)
            return deny(aerr, "AccessDenied", 403, MSG_NO_DATE);
        memcpy(amz_date, xd, sizeof(amz_date));
    } else {
        const char *d = header(in, "date");

        if (!d || parse_http_date(d, &t) != 0)
            return deny(aerr, "AccessDenied", 403, MSG_NO_DATE);
        oc_sigv4_format_amz_date(t, amz_date);
    }
    if (memcmp(az.cred.date.p, amz_date, 8) != 0)
        return deny(aerr, "AuthorizationHeaderMalformed", 400, "The authorization header is "
                    "malformed; Invalid credential date \"%.8s\". This date is not the same "
                    "as X-Amz-Date: \"%.8s\".", az.cred.date.p, amz_date);
    if (too_far(t, in->now))
        return skewed(in, aerr);
    rc = signed_payload_hash(in, &hash, &mode, aerr);
    if (rc)
        return rc;
    if (is_s3(in) && unsigned_amz_header(in, az.signed_headers.p, az.signed_headers.len))
        return deny(aerr, "AccessDenied", 403, "There were headers present in the request "
                    "which were not signed");
    rc = v4_key(creds, &az.cred, &who, key, aerr);
    if (rc)
        return rc;
    rc = v4_check(in, &az.cred, amz_date, az.signed_headers, hash, 0, az.signature.p,
                  az.signature.len, key, aerr);
    if (rc) {
        OPENSSL_cleanse(key, sizeof(key));
        return rc;
    }
    out->kind = OC_AUTH_SIGV4_HEADER;
    set_who(out, &who);
    set_payload(out, mode, hash);
    if (mode == OC_PAYLOAD_STREAMING_SIGNED || mode == OC_PAYLOAD_STREAMING_SIGNED_TRAILER) {
        memcpy(out->signing_key, key, 32);
        memcpy(out->amz_date, amz_date, sizeof(out->amz_date));
        /* The scope is at most 8+64+32+12+3 bytes (credential parser limits). */
        snprintf(out->scope, sizeof(out->scope), "%.*s", (int)az.cred.scope.len,
                 az.cred.scope.p);
        lower_copy(out->seed_signature, az.signature.p, 64);
    }
    OPENSSL_cleanse(key, sizeof(key));
    return OC_OK;
}

/* ---------------------------------------------------------------------
 * SigV4, presigned query
 * ------------------------------------------------------------------- */

static int parse_expires(const char *s, long *out)
{
    long v = 0;

    if (!*s)
        return -1;
    if (*s == '-')
        return -2;
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        if (v > 100000000L)
            return -3;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

enum { QP_ALG, QP_CRED, QP_DATE, QP_EXPIRES, QP_SH, QP_SIG, QP_COUNT };

static int verify_v4_query(const struct oc_auth_input *in, const struct rawq *rq,
                           const struct oc_cred_source *creds, struct oc_auth_result *out,
                           struct oc_auth_error *aerr)
{
    static const char *const names[QP_COUNT] = {
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
        "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature",
    };
    const char *v[QP_COUNT], *csha;
    struct oc_sigv4_credential cred;
    struct oc_principal who = { 0 };
    struct oc_err err = { 0 };
    struct oc_sigv4_span sh;
    enum oc_payload_mode mode = OC_PAYLOAD_UNSIGNED;
    const char *hash;
    uint8_t key[32];
    long expires = 0;
    time_t t;
    int has_host = 0, rc = OC_OK, e;

    for (int i = 0; i < QP_COUNT && rc == OC_OK; i++) {
        v[i] = rawq_get(rq, names[i]);
        if (!v[i])
            rc = deny(aerr, "AuthorizationQueryParametersError", 400, MSG_V4_QUERY_PARAMS);
    }
    if (rc)
        goto cleanup;
    if (strcmp(v[QP_ALG], OC_SIGV4_ALGORITHM) != 0) {
        rc = deny(aerr, "AuthorizationQueryParametersError", 400,
                  "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
        goto cleanup;
    }
    if (oc_sigv4_parse_credential(v[QP_CRED], strlen(v[QP_CRED]), &cred, &err)) {
        rc = deny(aerr, "AuthorizationQueryParametersError", 400,
                  "Error parsing the X-Amz-Credential parameter; %s.", err.msg);
        goto cleanup;
    }
    if (oc_sigv4_parse_amz_date(v[QP_DATE], &t) != 0) {
        rc = deny(aerr, "AuthorizationQueryParametersError", 400, "X-Amz-Date must be in the "
                  "ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
        goto cleanup;
    }
    e = parse_expires(v[QP_EXPIRES], &expires);
    if (e == -1) {
        rc = deny(aerr, "AuthorizationQueryParametersError", 400,
                  "X-Amz-Expires should be a number");
        goto cleanup;
    }
    if (e == -2 || (e == 0 && expires < 1)) {
        rc = deny(aerr, "AuthorizationQueryParametersError", 400,
                  "X-Amz-Expires must be non-negative");
        goto cleanup;
    }
    if (e == -3 || expires > OC_SIGV4_MAX_EXPIRES_S) {
        rc = deny(aerr, "AuthorizationQueryParametersError", 400, "X-Amz-Expires must be less "
                  "than a week (in seconds) that is 604800");
        goto cleanup;
    }
    sh.p = v[QP_SH];
    sh.len = strlen(v[QP_SH]);
    if (oc_sigv4_check_signed_headers(sh.p, sh.len, &has_host, &err) != OC_OK || !has_host) {
        rc = deny(aerr, "AuthorizationQueryParametersError", 400, "X-Amz-SignedHeaders must "
                  "be a sorted list of lowercase header names that includes host");
        goto cleanup;
    }
    if (memcmp(cred.date.p, v[QP_DATE], 8) != 0) {
        rc = deny(aerr, "AuthorizationQueryParametersError", 400, "Invalid credential date. "
                  "Date is not the same as X-Amz-Date.");
        goto cleanup;
    }
    rc = check_service(in, &cred, "AuthorizationQueryParametersError", aerr);
    if (rc)
        goto cleanup;
    if (t > in->now + OC_AUTH_MAX_SKEW_S) {
        rc = deny(aerr, "AccessDenied", 403, "Request is not valid yet");
        goto cleanup;
    }
    if (in->now > t + expires) {
        rc = deny(aerr, "AccessDenied", 403, "Request has expired");
        goto cleanup;
    }
    if (is_s3(in) && unsigned_amz_header(in, sh.p, sh.len)) {
        rc = deny(aerr, "AccessDenied", 403, "There were headers present in the request "
                  "which were not signed");
        goto cleanup;
    }
    /* Presigned S3 URLs leave the body unsigned unless the URL itself
     * carries a hash. */
    csha = rawq_get(rq, "X-Amz-Content-Sha256");
    if (csha) {
        if (payload_mode_of(csha, &mode) != 0 ||
            (mode != OC_PAYLOAD_SHA256 && mode != OC_PAYLOAD_UNSIGNED)) {
            rc = deny(aerr, "InvalidArgument", 400, MSG_CONTENT_SHA);
            goto cleanup;
        }
        hash = csha;
    } else if (is_s3(in)) {
        hash = OC_SIGV4_UNSIGNED;
    } else {
        hash = in->body_sha256 && is_hex64(in->body_sha256) ? in->body_sha256
                                                            : OC_SIGV4_EMPTY_SHA256;
        mode = OC_PAYLOAD_SHA256;
    }
    rc = v4_key(creds, &cred, &who, key, aerr);
    if (rc)
        goto cleanup;
    rc = v4_check(in, &cred, v[QP_DATE], sh, hash, 1, v[QP_SIG], strlen(v[QP_SIG]), key, aerr);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc)
        goto cleanup;
    out->kind = OC_AUTH_SIGV4_QUERY;
    set_who(out, &who);
    set_payload(out, mode, hash);
cleanup:
    return rc;
}

/* ---------------------------------------------------------------------
 * SigV2
 * ------------------------------------------------------------------- */

/* Asks the source for HMAC(secret, string-to-sign) of key akid (len bytes)
 * and compares its base64 with the signature given; fills who. */
static int v2_compare(const struct oc_cred_source *creds, const char *akid, size_t len,
                      enum oc_sigv2_hmac alg, const struct oc_buf *sts, const char *given,
                      size_t glen, struct oc_principal *who, struct oc_auth_error *aerr)
{
    struct oc_buf sig = { 0 };
    struct oc_err err = { 0 };
    uint8_t mac[32];
    size_t maclen = 0;
    char id[129];
    int rc, ok;

    if (!span_copy(id, sizeof(id), akid, len))
        return deny(aerr, "InvalidAccessKeyId", 403, MSG_NO_KEY);
    rc = oc_cred_sigv2_sign(creds, id, alg == OC_SIGV2_HMAC_SHA256 ? OC_CRED_HMAC_SHA256
                                                                   : OC_CRED_HMAC_SHA1,
                            sts->data ? (const char *)sts->data : "", sts->len, mac, &maclen,
                            who, &err);
    OPENSSL_cleanse(who->secret_key, sizeof(who->secret_key));
    if (rc)
        return cred_failed(rc, aerr);
    if (!who->active)
        return deny(aerr, "InvalidAccessKeyId", 403, MSG_NO_KEY);
    if (oc_base64_encode(mac, maclen, &sig)) {
        oc_buf_free(&sig);
        return deny(aerr, "InternalError", 500, "We encountered an internal error. "
                    "Please try again.");
    }
    ok = oc_ct_equal(oc_buf_cstr(&sig), sig.len, given, glen);
    oc_buf_free(&sig);
    return ok ? OC_OK : deny(aerr, "SignatureDoesNotMatch", 403, MSG_SIG_MISMATCH);
}

static int verify_v2_header(const struct oc_auth_input *in, const char *authz,
                            const struct oc_cred_source *creds, struct oc_auth_result *out,
                            struct oc_auth_error *aerr)
{
    struct oc_sigv2_authz az;
    struct oc_principal who = { 0 };
    struct oc_buf sts = { 0 };
    struct oc_err err = { 0 };
    const char *d = header(in, "x-amz-date");
    time_t t;
    int rc;

    if (oc_sigv2_parse_authorization(authz, &az, &err) != OC_OK)
        return deny(aerr, "InvalidArgument", 400, "%s", err.msg);
    if (!d)
        d = header(in, "date");
    if (!d || parse_http_date(d, &t) != 0)
        return deny(aerr, "AccessDenied", 403, MSG_NO_DATE);
    if (too_far(t, in->now))
        return skewed(in, aerr);
    rc = unsigned_payload(in, out, aerr);
    if (rc)
        return rc;
    rc = oc_sigv2_s3_string_to_sign(in->method, in->path, in->query, in->vhost_bucket,
                                    in->headers, in->nheaders, NULL, &sts, &err);
    if (rc)
        rc = deny(aerr, "InvalidURI", 400, "Couldn't parse the specified URI: %s", err.msg);
    else
        rc = v2_compare(creds, az.access_key, az.access_key_len, OC_SIGV2_HMAC_SHA1, &sts,
                        az.signature, az.signature_len, &who, aerr);
    oc_buf_free(&sts);
    if (rc)
        return rc;
    out->kind = OC_AUTH_SIGV2_HEADER;
    set_who(out, &who);
    return OC_OK;
}

static int verify_v2_query(const struct oc_auth_input *in, const struct rawq *rq,
                           const struct oc_cred_source *creds, struct oc_auth_result *out,
                           struct oc_auth_error *aerr)
{
    const struct rq_item *akid = rawq_find(rq, "AWSAccessKeyId");
    const struct rq_item *signature = rawq_find(rq, "Signature");
    const char *exp = rawq_get(rq, "Expires");
    struct oc_buf sig = { 0 }, sts = { 0 };
    struct oc_principal who = { 0 };
    struct oc_err err = { 0 };
    long long e = 0;
    const char *s;
    int rc = OC_OK;

    if (!akid || !signature || !exp) {
        rc = deny(aerr, "AccessDenied", 403, "Query-string authentication requires the "
                  "Signature, Expires and AWSAccessKeyId parameters");
        goto cleanup;
    }
    s = exp;
    if (!*s || strlen(exp) > 12) {
        rc = deny(aerr, "AccessDenied", 403, "Invalid date (should be seconds since epoch): "
                  "%.32s", s);
        goto cleanup;
    }
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s)) {
            rc = deny(aerr, "AccessDenied", 403, "Invalid date (should be seconds since "
                      "epoch): %.32s", exp);
            goto cleanup;
        }
        e = e * 10 + (*s - '0');
    }
    if ((long long)in->now > e) {
        rc = deny(aerr, "AccessDenied", 403, "Request has expired");
        goto cleanup;
    }
    rc = unsigned_payload(in, out, aerr);
    if (rc)
        goto cleanup;
    /* The signature is base64: a raw '+' in it is a plus, not a space. */
    if (oc_url_decode(signature->raw, signature->raw_len, 0, &sig) != OC_OK) {
        rc = deny(aerr, "SignatureDoesNotMatch", 403, MSG_SIG_MISMATCH);
        goto cleanup;
    }
    rc = oc_sigv2_s3_string_to_sign(in->method, in->path, in->query, in->vhost_bucket,
                                    in->headers, in->nheaders, exp, &sts, &err);
    if (rc)
        rc = deny(aerr, "InvalidURI", 400, "Couldn't parse the specified URI: %s", err.msg);
    else
        rc = v2_compare(creds, akid->value, strlen(akid->value), OC_SIGV2_HMAC_SHA1, &sts,
                        oc_buf_cstr(&sig), sig.len, &who, aerr);
    if (rc == OC_OK) {
        out->kind = OC_AUTH_SIGV2_QUERY;
        set_who(out, &who);
    }
cleanup:
    OPENSSL_cleanse(who.secret_key, sizeof(who.secret_key));
    oc_buf_free(&sig);
    oc_buf_free(&sts);
    return rc;
}

static int verify_v2_ec2(const struct oc_auth_input *in, const struct oc_cred_source *creds,
                         struct oc_auth_result *out, struct oc_auth_error *aerr)
{
    static const char *const required[] = {
        "AWSAccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
    };
    const struct oc_query *q = in->params;
    const char *ver, *method, *ts, *ex, *akid, *given;
    struct oc_principal who = { 0 };
    struct oc_buf sts = { 0 }, sig = { 0 };
    struct oc_err err = { 0 };
    enum oc_sigv2_hmac alg;
    time_t t;
    int rc;

    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (!oc_query_get(q, required[i]))
            return deny(aerr, "MissingParameter", 400, "The request must contain the "
                        "parameter %s", required[i]);
    ver = oc_query_get(q, "SignatureVersion");
    if (strcmp(ver, "2") != 0)
        return deny(aerr, "InvalidParameterValue", 400, "Value (%.16s) for parameter "
                    "SignatureVersion is invalid. Valid version is 2.", ver);
    method = oc_query_get(q, "SignatureMethod");
    if (strcmp(method, "HmacSHA256") == 0)
        alg = OC_SIGV2_HMAC_SHA256;
    else if (strcmp(method, "HmacSHA1") == 0)
        alg = OC_SIGV2_HMAC_SHA1;
    else
        return deny(aerr, "InvalidParameterValue", 400, "Value (%.32s) for parameter "
                    "SignatureMethod is invalid. Valid values are HmacSHA256 and HmacSHA1.",
                    method);
    ts = oc_query_get(q, "Timestamp");
    ex = oc_query_get(q, "Expires");
    if (ts && ex)
        return deny(aerr, "InvalidParameterCombination", 400, "Parameter Timestamp cannot be "
                    "used with parameter Expires");
    if (!ts && !ex)
        return deny(aerr, "MissingParameter", 400, "The request must contain either a valid "
                    "(unexpired) Timestamp or Expires parameter.");
    if (parse_iso8601(ts ? ts : ex, &t) != 0)
        return deny(aerr, "InvalidParameterValue", 400, "Value (%.40s) for parameter %s is "
                    "invalid.", ts ? ts : ex, ts ? "Timestamp" : "Expires");
    if (ts ? too_far(t, in->now) : in->now > t)
        return deny(aerr, "RequestExpired", 400, "Request has expired. %s date is %.40s",
                    ts ? "Timestamp" : "Expires", ts ? ts : ex);
    akid = oc_query_get(q, "AWSAccessKeyId");
    rc = oc_sigv2_ec2_string_to_sign(in->method, header(in, "host"), in->path, q->items, q->n,
                                     &sts, &err);
    /* The form decoder turned '+' into ' '; base64 has no spaces. */
    given = oc_query_get(q, "Signature");
    if (rc == OC_OK)
        rc = oc_buf_puts(&sig, given);
    for (size_t i = 0; rc == OC_OK && i < sig.len; i++)
        if (sig.data[i] == ' ')
            sig.data[i] = '+';
    if (rc)
        rc = deny(aerr, "InternalError", 500, "We encountered an internal error. "
                  "Please try again.");
    else
        rc = v2_compare(creds, akid, strlen(akid), alg, &sts, oc_buf_cstr(&sig), sig.len,
                        &who, aerr);
    oc_buf_free(&sts);
    oc_buf_free(&sig);
    if (rc)
        return rc;
    out->kind = OC_AUTH_SIGV2_EC2;
    out->payload = OC_PAYLOAD_UNCHECKED;
    set_who(out, &who);
    return OC_OK;
}

/* ---------------------------------------------------------------------
 * Dispatch
 * ------------------------------------------------------------------- */

static int dispatch(const struct oc_auth_input *in, const struct rawq *rq, const char *authz,
                    const struct oc_cred_source *creds, struct oc_auth_result *out,
                    struct oc_auth_error *aerr)
{
    int q_v4 = rawq_find(rq, "X-Amz-Algorithm") || rawq_find(rq, "X-Amz-Credential") ||
               rawq_find(rq, "X-Amz-Signature");
    int q_v2 = is_s3(in) && (rawq_find(rq, "AWSAccessKeyId") || rawq_find(rq, "Signature"));

    if (authz && (q_v4 || q_v2))
        return deny(aerr, "InvalidArgument", 400, "Only one auth mechanism allowed; only the "
                    "X-Amz-Algorithm query parameter, Signature query string parameter or the "
                    "Authorization header should be specified");
    if (authz) {
        if (strncmp(authz, OC_SIGV4_ALGORITHM " ", sizeof(OC_SIGV4_ALGORITHM)) == 0)
            return verify_v4_header(in, authz, creds, out, aerr);
        if (strncmp(authz, "AWS ", 4) == 0)
            return verify_v2_header(in, authz, creds, out, aerr);
        return deny(aerr, "InvalidArgument", 400, "Unsupported Authorization Type");
    }
    if (q_v4)
        return verify_v4_query(in, rq, creds, out, aerr);
    if (!is_s3(in) && in->params && oc_query_has(in->params, "SignatureVersion"))
        return verify_v2_ec2(in, creds, out, aerr);
    if (q_v2)
        return verify_v2_query(in, rq, creds, out, aerr);
    out->kind = OC_AUTH_ANONYMOUS;
    return unsigned_payload(in, out, aerr);
}

int oc_auth_verify(const struct oc_auth_input *in, const struct oc_cred_source *creds,
                   struct oc_auth_result *out, struct oc_auth_error *aerr)
{
    const char *authz = header(in, "authorization");
    struct rawq rq;
    int rc;

    memset(out, 0, sizeof(*out));
    if (aerr) {
        aerr->code = NULL;
        aerr->status = 0;
        aerr->message[0] = '\0';
    }
    if (rawq_parse(in->query, &rq) != OC_OK) {
        rawq_free(&rq);
        return deny(aerr, "InternalError", 500, "We encountered an internal error. "
                    "Please try again.");
    }
    rc = dispatch(in, &rq, authz, creds, out, aerr);
    rawq_free(&rq);
    return rc;
}
