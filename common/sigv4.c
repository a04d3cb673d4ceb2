/*
 * sigv4.c - AWS Signature Version 4 building blocks (see sigv4.h).
 */
#include "common/sigv4.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/codec.h"

#define SCOPE_TERMINATOR "aws4_request"
#define MAX_QUERY_PARAMS 1000
#define MAX_ACCESS_KEY 128

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int span_eq(struct oc_sigv4_span s, const char *lit)
{
    size_t n = strlen(lit);

    return s.len == n && memcmp(s.p, lit, n) == 0;
}

/* Case-insensitive comparison of a header name with a span. */
static int name_eq(const char *name, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!name[i] || lower(name[i]) != s[i])
            return 0;
    return name[i] == '\0';
}

/* ---------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------- */

int oc_sigv4_parse_credential(const char *s, size_t len, struct oc_sigv4_credential *out,
                              struct oc_err *err)
{
    struct oc_sigv4_span part[5];
    size_t np = 0, start = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/')
            continue;
        if (np == 5)
            return oc_err_set(err, OC_EINVAL, "the Credential has too many '/' parts");
        part[np].p = s + start;
        part[np].len = i - start;
        np++;
        start = i + 1;
    }
    if (np != 5)
        return oc_err_set(err, OC_EINVAL,
                          "the Credential must be AccessKeyId/date/region/service/aws4_request");
    if (part[0].len == 0 || part[0].len > MAX_ACCESS_KEY)
        return oc_err_set(err, OC_EINVAL, "the Credential has a bad access key id");
    for (size_t i = 0; i < part[0].len; i++)
        if ((unsigned char)part[0].p[i] <= ' ' || (unsigned char)part[0].p[i] >= 0x7f)
            return oc_err_set(err, OC_EINVAL, "the Credential has a bad access key id");
    if (part[1].len != 8)
        return oc_err_set(err, OC_EINVAL, "the Credential date must be YYYYMMDD");
    for (size_t i = 0; i < 8; i++)
        if (!is_digit(part[1].p[i]))
            return oc_err_set(err, OC_EINVAL, "the Credential date must be YYYYMMDD");
    if (part[2].len == 0 || part[2].len > OC_SIGV4_MAX_REGION)
        return oc_err_set(err, OC_EINVAL, "the Credential has a bad region");
    for (size_t i = 0; i < part[2].len; i++) {
        char c = part[2].p[i];

        if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
              c == '_' || c == '.'))
            return oc_err_set(err, OC_EINVAL, "the Credential has a bad region");
    }
    if (part[3].len == 0 || part[3].len > OC_SIGV4_MAX_SERVICE)
        return oc_err_set(err, OC_EINVAL, "the Credential has a bad service");
    for (size_t i = 0; i < part[3].len; i++) {
        char c = part[3].p[i];

        if (!(is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '_' || c == '.'))
            return oc_err_set(err, OC_EINVAL, "the Credential has a bad service");
    }
    if (!span_eq(part[4], SCOPE_TERMINATOR))
        return oc_err_set(err, OC_EINVAL,
                          "the Credential must end with aws4_request, not '%.*s'",
                          (int)(part[4].len > 32 ? 32 : part[4].len), part[4].p);
    out->access_key = part[0];
    out->date = part[1];
    out->region = part[2];
    out->service = part[3];
    out->scope.p = part[1].p;
    out->scope.len = (size_t)(part[4].p + part[4].len - part[1].p);
    return OC_OK;
}

static int header_name_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '_' || c == '.' ||
           c == '!' || c == '#' || c == '$' || c == '%' || c == '&' || c == '\'' ||
           c == '*' || c == '+' || c == '^' || c == '`' || c == '|' || c == '~';
}

int oc_sigv4_check_signed_headers(const char *s, size_t len, int *has_host, struct oc_err *err)
{
    const char *prev = NULL;
    size_t prev_len = 0, start = 0;

    *has_host = 0;
    if (len == 0)
        return oc_err_set(err, OC_EINVAL, "SignedHeaders is empty");
    if (len > OC_SIGV4_MAX_SIGNED_HEADERS)
        return oc_err_set(err, OC_EINVAL, "SignedHeaders is too long");
    for (size_t i = 0; i <= len; i++) {
        const char *tok;
        size_t tlen, m;
        int cmp;

        if (i < len && s[i] != ';') {
            if (!header_name_char(s[i]))
                return oc_err_set(err, OC_EINVAL,
                                  "SignedHeaders must be lowercase header names separated "
                                  "by ';'");
            continue;
        }
        tok = s + start;
        tlen = i - start;
        start = i + 1;
        if (tlen == 0)
            return oc_err_set(err, OC_EINVAL, "SignedHeaders has an empty header name");
        /* AWS requires the list sorted; requiring strictly increasing order
         * also rejects repeated names in one pass. */
        if (prev) {
            m = prev_len < tlen ? prev_len : tlen;
            cmp = memcmp(prev, tok, m);
            if (cmp > 0 || (cmp == 0 && prev_len >= tlen))
                return oc_err_set(err, OC_EINVAL,
                                  "SignedHeaders must be sorted and without repeats");
        }
        if (tlen == 4 && memcmp(tok, "host", 4) == 0)
            *has_host = 1;
        prev = tok;
        prev_len = tlen;
    }
    return OC_OK;
}

int oc_sigv4_signed_headers_has(const char *s, size_t len, const char *name)
{
    size_t n = strlen(name), start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != ';')
            continue;
        if (i - start == n && memcmp(s + start, name, n) == 0)
            return 1;
        start = i + 1;
    }
    return 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

int oc_sigv4_parse_authorization(const char *value, struct oc_sigv4_authz *out,
                                 struct oc_err *err)
{
    static const char alg[] = OC_SIGV4_ALGORITHM;
    const char *p = value;
    int seen_cred = 0, seen_sh = 0, seen_sig = 0, has_host;
    struct oc_sigv4_span cred = { 0 };
    int rc;

    memset(out, 0, sizeof(*out));
    if (strncmp(p, alg, sizeof(alg) - 1) != 0 || !is_space(p[sizeof(alg) - 1]))
        return oc_err_set(err, OC_EINVAL, "the algorithm must be AWS4-HMAC-SHA256");
    p += sizeof(alg) - 1;
    for (;;) {
        const char *key, *val;
        size_t klen, vlen;

        while (is_space(*p))
            p++;
        if (!*p)
            break;
        key = p;
        while (*p && *p != '=' && *p != ',' && !is_space(*p))
            p++;
        klen = (size_t)(p - key);
        if (*p != '=' || klen == 0)
            return oc_err_set(err, OC_EINVAL, "the authorization component \"%.*s\" is "
                              "malformed", (int)(klen > 64 ? 64 : klen), key);
        val = ++p;
        while (*p && *p != ',' && !is_space(*p))
            p++;
        vlen = (size_t)(p - val);
        while (is_space(*p))
            p++;
        if (*p == ',') {
            p++;
            while (is_space(*p))
                p++;
            if (!*p)
                return oc_err_set(err, OC_EINVAL, "the authorization header ends with ','");
        } else if (*p) {
            return oc_err_set(err, OC_EINVAL, "authorization components must be separated "
                              "by ','");
        }
        if (klen == 10 && memcmp(key, "Credential", 10) == 0) {
            if (seen_cred++)
                return oc_err_set(err, OC_EINVAL, "Credential is given twice");
            cred.p = val;
            cred.len = vlen;
        } else if (klen == 13 && memcmp(key, "SignedHeaders", 13) == 0) {
            if (seen_sh++)
                return oc_err_set(err, OC_EINVAL, "SignedHeaders is given twice");
            out->signed_headers.p = val;
            out->signed_headers.len = vlen;
        } else if (klen == 9 && memcmp(key, "Signature", 9) == 0) {
            if (seen_sig++)
                return oc_err_set(err, OC_EINVAL, "Signature is given twice");
            out->signature.p = val;
            out->signature.len = vlen;
        } else {
            return oc_err_set(err, OC_EINVAL, "unknown authorization component \"%.*s\"",
                              (int)(klen > 64 ? 64 : klen), key);
        }
    }
    if (!seen_cred)
        return oc_err_set(err, OC_EINVAL, "missing Credential");
    if (!seen_sh)
        return oc_err_set(err, OC_EINVAL, "missing SignedHeaders");
    if (!seen_sig)
        return oc_err_set(err, OC_EINVAL, "missing Signature");
    rc = oc_sigv4_parse_credential(cred.p, cred.len, &out->cred, err);
    if (rc)
        return rc;
    rc = oc_sigv4_check_signed_headers(out->signed_headers.p, out->signed_headers.len,
                                       &has_host, err);
    if (rc)
        return rc;
    if (out->signature.len != OC_SIGV4_SIG_HEX)
        return oc_err_set(err, OC_EINVAL, "the Signature must be 64 hex digits");
    for (size_t i = 0; i < OC_SIGV4_SIG_HEX; i++)
        if (!is_hex(out->signature.p[i]))
            return oc_err_set(err, OC_EINVAL, "the Signature must be 64 hex digits");
    return OC_OK;
}

/* ---------------------------------------------------------------------
 * Canonical request
 * ------------------------------------------------------------------- */

int oc_sigv4_canonical_uri(const char *raw_path, int s3, struct oc_buf *out,
                           struct oc_err *err)
{
    struct oc_buf dec = { 0 };
    size_t len = raw_path ? strlen(raw_path) : 0;
    int rc;

    if (len == 0)
        return oc_buf_putc(out, '/');
    if (!s3)
        return oc_uri_encode(raw_path, len, 1, out);
    if (oc_uri_is_canonical(raw_path, len, 1))
        return oc_buf_append(out, raw_path, len);
    rc = oc_url_decode(raw_path, len, 0, &dec);
    if (rc == OC_OK)
        rc = oc_uri_encode(oc_buf_cstr(&dec), dec.len, 1, out);
    else
        oc_err_set(err, OC_EINVAL, "the request path has a malformed percent-escape");
    oc_buf_free(&dec);
    return rc;
}

struct qparam {
    size_t off;      /* into the scratch buffer: encoded name, '=', encoded value */
    size_t nlen, vlen;
};

static int cmp_qparam(const struct qparam *a, const struct qparam *b, const char *base)
{
    size_t m = a->nlen < b->nlen ? a->nlen : b->nlen;
    int c = memcmp(base + a->off, base + b->off, m);

    if (c)
        return c;
    if (a->nlen != b->nlen)
        return a->nlen < b->nlen ? -1 : 1;
    m = a->vlen < b->vlen ? a->vlen : b->vlen;
    c = memcmp(base + a->off + a->nlen + 1, base + b->off + b->nlen + 1, m);
    if (c)
        return c;
    return a->vlen < b->vlen ? -1 : a->vlen > b->vlen;
}

/* Merge sort: qsort() has no context argument in C11 and a file-scope
 * pointer to the scratch buffer would not be thread-safe. */
static void sort_qparams(struct qparam *v, struct qparam *tmp, size_t n, const char *base)
{
    size_t mid, i, j, k;

    if (n < 2)
        return;
    mid = n / 2;
    sort_qparams(v, tmp, mid, base);
    sort_qparams(v + mid, tmp, n - mid, base);
    i = 0;
    j = mid;
    k = 0;
    while (i < mid && j < n)
        tmp[k++] = cmp_qparam(&v[j], &v[i], base) < 0 ? v[j++] : v[i++];
    while (i < mid)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

/* Decodes s[0..n) and appends its AWS encoding to out. */
static int reencode(const char *s, size_t n, struct oc_buf *dec, struct oc_buf *out)
{
    int rc;

    /* Clients send most queries already in canonical form: keep them. */
    if (oc_uri_is_canonical(s, n, 0))
        return oc_buf_append(out, s, n);
    oc_buf_reset(dec);
    rc = oc_url_decode(s, n, 1, dec);
    if (rc)
        return rc;
    return oc_uri_encode(oc_buf_cstr(dec), dec->len, 0, out);
}

/* Compares name=value segments the way cmp_qparam orders them. */
static int cmp_segment(const char *a, size_t an, size_t alen, const char *b, size_t bn,
                       size_t blen)
{
    struct qparam qa = { 0, an, alen - an - 1 }, qb = { 0, bn, blen - bn - 1 };
    size_t m = an < bn ? an : bn;
    int c = memcmp(a, b, m);

    if (c || an != bn)
        return c ? c : an < bn ? -1 : 1;
    m = qa.vlen < qb.vlen ? qa.vlen : qb.vlen;
    c = memcmp(a + an + 1, b + bn + 1, m);
    if (c)
        return c;
    return qa.vlen < qb.vlen ? -1 : qa.vlen > qb.vlen;
}

/*
 * The common case costs one pass: every parameter is name=value, already
 * canonically encoded, and in canonical order (SDKs presign that way, with
 * X-Amz-Signature last).  Then the canonical query is the raw one without
 * the signature.  Returns 1 when it wrote out, 0 to take the general path.
 */
static int canonical_query_fast(const char *q, size_t len, int exclude_signature,
                                struct oc_buf *out, int *rc)
{
    const char *p = q, *end = q + len, *prev = NULL;
    size_t prev_n = 0, prev_len = 0, mark = out->len;
    int first = 1;

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        size_t n, slen = (size_t)(seg_end - p);

        if (!eq || eq == p)
            goto general;
        n = (size_t)(eq - p);
        if (!(exclude_signature && n == 15 && memcmp(p, "X-Amz-Signature", 15) == 0)) {
            if (!oc_uri_is_canonical(p, n, 0) || !oc_uri_is_canonical(eq + 1, slen - n - 1, 0))
                goto general;
            if (prev && cmp_segment(prev, prev_n, prev_len, p, n, slen) > 0)
                goto general;
            *rc = first ? OC_OK : oc_buf_putc(out, '&');
            if (*rc == OC_OK)
                *rc = oc_buf_append(out, p, slen);
            if (*rc)
                return 1;
            first = 0;
            prev = p;
            prev_n = n;
            prev_len = slen;
        }
        if (!amp)
            break;
        p = amp + 1;
        if (p == end)
            goto general;
    }
    *rc = OC_OK;
    return 1;
general:
    out->len = mark;
    if (out->data)
        out->data[mark] = '\0';
    return 0;
}

int oc_sigv4_canonical_query(const char *raw_query, int exclude_signature, struct oc_buf *out,
                             struct oc_err *err)
{
    size_t qlen = raw_query ? strlen(raw_query) : 0;
    int frc;

    if (qlen && canonical_query_fast(raw_query, qlen, exclude_signature, out, &frc))
        return frc;
    return oc_sigv4_canonical_query_general(raw_query, exclude_signature, out, err);
}

int oc_sigv4_canonical_query_general(const char *raw_query, int exclude_signature,
                                     struct oc_buf *out, struct oc_err *err)
{
    struct oc_buf scratch = { 0 }, dec = { 0 };
    struct qparam *params = NULL, *tmp = NULL;
    size_t n = 0, cap = 0, len = raw_query ? strlen(raw_query) : 0;
    const char *p = raw_query, *end = raw_query + len;
    int rc = OC_OK;

    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        const char *name_end = eq ? eq : seg_end;
        struct qparam q;

        if (seg_end == p)
            goto next;
        if (exclude_signature && name_end - p == 15 && memcmp(p, "X-Amz-Signature", 15) == 0)
            goto next;
        if (exclude_signature && memchr(p, '%', (size_t)(name_end - p))) {
            oc_buf_reset(&dec);
            rc = oc_url_decode(p, (size_t)(name_end - p), 1, &dec);
            if (rc)
                goto bad;
            if (strcmp(oc_buf_cstr(&dec), "X-Amz-Signature") == 0)
                goto next;
        }
        if (n == MAX_QUERY_PARAMS) {
            rc = oc_err_set(err, OC_ETOOBIG, "more than %d query parameters",
                            MAX_QUERY_PARAMS);
            goto cleanup;
        }
        q.off = scratch.len;
        rc = reencode(p, (size_t)(name_end - p), &dec, &scratch);
        if (rc)
            goto bad;
        q.nlen = scratch.len - q.off;
        rc = oc_buf_putc(&scratch, '=');
        if (rc)
            goto cleanup;
        if (eq) {
            rc = reencode(eq + 1, (size_t)(seg_end - eq - 1), &dec, &scratch);
            if (rc)
                goto bad;
        }
        q.vlen = scratch.len - q.off - q.nlen - 1;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct qparam *np = realloc(params, ncap * sizeof(*np));

            if (!np) {
                rc = OC_ENOMEM;
                goto cleanup;
            }
            params = np;
            cap = ncap;
        }
        params[n++] = q;
    next:
        if (!amp)
            break;
        p = amp + 1;
    }
    if (n > 1) {
        tmp = malloc(n * sizeof(*tmp));
        if (!tmp) {
            rc = OC_ENOMEM;
            goto cleanup;
        }
        sort_qparams(params, tmp, n, scratch.data);
    }
    for (size_t i = 0; i < n && rc == OC_OK; i++) {
        if (i)
            rc = oc_buf_putc(out, '&');
        if (rc == OC_OK)
            rc = oc_buf_append(out, scratch.data + params[i].off,
                               params[i].nlen + 1 + params[i].vlen);
    }
    goto cleanup;
bad:
    if (rc == OC_EINVAL)
        oc_err_set(err, OC_EINVAL, "the query string has a malformed percent-escape");
cleanup:
    free(params);
    free(tmp);
    oc_buf_free(&scratch);
    oc_buf_free(&dec);
    return rc;
}

/* Appends v trimmed, with every run of spaces and tabs inside it replaced by
 * one space (botocore's ' '.join(v.split())). */
static int append_trimall(struct oc_buf *out, const char *v)
{
    int pending = 0, any = 0, rc;

    for (; *v; v++) {
        if (is_space(*v) || *v == '\r' || *v == '\n') {
            pending = any;
            continue;
        }
        if (pending) {
            rc = oc_buf_putc(out, ' ');
            if (rc)
                return rc;
            pending = 0;
        }
        rc = oc_buf_putc(out, *v);
        if (rc)
            return rc;
        any = 1;
    }
    return OC_OK;
}

int oc_sigv4_canonical_headers(const struct oc_http_header *headers, size_t n,
                               const char *signed_headers, size_t sh_len, struct oc_buf *out,
                               struct oc_err *err)
{
    size_t start = 0;
    int rc;

    (void)err;
    for (size_t i = 0; i <= sh_len; i++) {
        const char *tok;
        size_t tlen;
        int first = 1;

        if (i < sh_len && signed_headers[i] != ';')
            continue;
        tok = signed_headers + start;
        tlen = i - start;
        start = i + 1;
        if (tlen == 0)
            continue;
        rc = oc_buf_append(out, tok, tlen);
        if (rc == OC_OK)
            rc = oc_buf_putc(out, ':');
        for (size_t h = 0; h < n && rc == OC_OK; h++) {
            if (!headers[h].name || !name_eq(headers[h].name, tok, tlen))
                continue;
            if (!first)
                rc = oc_buf_putc(out, ',');
            if (rc == OC_OK)
                rc = append_trimall(out, headers[h].value ? headers[h].value : "");
            first = 0;
        }
        if (rc == OC_OK)
            rc = oc_buf_putc(out, '\n');
        if (rc)
            return rc;
    }
    return OC_OK;
}

int oc_sigv4_canonical_request(const struct oc_sigv4_req *req, const char *signed_headers,
                               size_t sh_len, const char *payload_hash, int presigned,
                               struct oc_buf *out, struct oc_err *err)
{
    int rc;

    rc = oc_buf_puts(out, req->method ? req->method : "");
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = oc_sigv4_canonical_uri(req->path, req->s3, out, err);
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = oc_sigv4_canonical_query(req->query, presigned, out, err);
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = oc_sigv4_canonical_headers(req->headers, req->nheaders, signed_headers, sh_len,
                                        out, err);
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = oc_buf_append(out, signed_headers, sh_len);
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = oc_buf_puts(out, payload_hash ? payload_hash : OC_SIGV4_EMPTY_SHA256);
    return rc;
}

int oc_sigv4_string_to_sign(const char *amz_date, const char *scope, size_t scope_len,
                            const char *canonical, size_t clen, struct oc_buf *out)
{
    char hex[2 * OC_SHA256_LEN + 1];

    int rc;

    oc_sha256_hex(canonical, clen, hex);
    rc = oc_buf_reserve(out, sizeof(OC_SIGV4_ALGORITHM) + strlen(amz_date) + scope_len +
                                 sizeof(hex) + 3);
    if (rc)
        return rc;
    rc = oc_buf_puts(out, OC_SIGV4_ALGORITHM "\n");
    if (rc == OC_OK)
        rc = oc_buf_puts(out, amz_date);
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = oc_buf_append(out, scope, scope_len);
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = oc_buf_append(out, hex, 2 * OC_SHA256_LEN);
    return rc;
}

/* ---------------------------------------------------------------------
 * Signing keys, with a cache
 * ------------------------------------------------------------------- */

#define KEY_CACHE_SLOTS 256

struct key_slot {
    char *tuple;        /* secret \0 date \0 region \0 service (malloc'd) */
    size_t tlen;
    uint8_t key[32];
};

/* Owned by oc_sigv4_signing_key(); the mutex guards every slot. */
static struct key_slot key_cache[KEY_CACHE_SLOTS];
static pthread_mutex_t key_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void derive_key(const char *secret, size_t slen, const char *date, size_t dlen,
                       const char *region, size_t rlen, const char *service, size_t svlen,
                       uint8_t out[32])
{
    uint8_t k[32];
    char *kin = malloc(slen + 4);

    if (!kin)
        abort();
    memcpy(kin, "AWS4", 4);
    memcpy(kin + 4, secret, slen);
    oc_hmac_sha256(kin, slen + 4, date, dlen, k);
    OPENSSL_cleanse(kin, slen + 4);
    free(kin);
    oc_hmac_sha256(k, 32, region, rlen, k);
    oc_hmac_sha256(k, 32, service, svlen, k);
    oc_hmac_sha256(k, 32, SCOPE_TERMINATOR, sizeof(SCOPE_TERMINATOR) - 1, out);
}

void oc_sigv4_signing_key(const char *secret, size_t slen, const char *date, size_t dlen,
                          const char *region, size_t rlen, const char *service, size_t svlen,
                          uint8_t out[32])
{
    size_t tlen = slen + dlen + rlen + svlen + 3;
    char *tuple = malloc(tlen);
    uint32_t h = 2166136261u;
    struct key_slot *slot;
    char *old = NULL;
    size_t pos = 0;

    if (!tuple) {
        derive_key(secret, slen, date, dlen, region, rlen, service, svlen, out);
        return;
    }
    memcpy(tuple + pos, secret, slen);
    pos += slen;
    tuple[pos++] = '\0';
    memcpy(tuple + pos, date, dlen);
    pos += dlen;
    tuple[pos++] = '\0';
    memcpy(tuple + pos, region, rlen);
    pos += rlen;
    tuple[pos++] = '\0';
    memcpy(tuple + pos, service, svlen);
    for (size_t i = 0; i < tlen; i++)
        h = (h ^ (unsigned char)tuple[i]) * 16777619u;
    slot = &key_cache[h % KEY_CACHE_SLOTS];

    pthread_mutex_lock(&key_cache_lock);
    if (slot->tuple && slot->tlen == tlen && memcmp(slot->tuple, tuple, tlen) == 0) {
        memcpy(out, slot->key, 32);
        pthread_mutex_unlock(&key_cache_lock);
        OPENSSL_cleanse(tuple, tlen);
        free(tuple);
        return;
    }
    pthread_mutex_unlock(&key_cache_lock);

    /* Derive outside the lock; two threads may both derive, which is
     * harmless. */
    derive_key(secret, slen, date, dlen, region, rlen, service, svlen, out);

    pthread_mutex_lock(&key_cache_lock);
    old = slot->tuple;
    if (old)
        OPENSSL_cleanse(old, slot->tlen);
    slot->tuple = tuple;
    slot->tlen = tlen;
    memcpy(slot->key, out, 32);
    pthread_mutex_unlock(&key_cache_lock);
    free(old);
}

void oc_sigv4_hmac_hex(const uint8_t key[32], const char *data, size_t len, char out[65])
{
    uint8_t mac[32];

    oc_hmac_sha256(key, 32, data, len, mac);
    oc_hex_encode(mac, 32, out);
}

void oc_sigv4_chunk_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                              const char *prev_sig, const uint8_t chunk_sha256[32],
                              char out[65])
{
    char hex[65];
    struct oc_buf sts = { 0 };

    oc_hex_encode(chunk_sha256, 32, hex);
    if (oc_buf_printf(&sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" OC_SIGV4_EMPTY_SHA256
                      "\n%s", amz_date, scope, prev_sig, hex) != OC_OK)
        abort();
    oc_sigv4_hmac_hex(key, sts.data, sts.len, out);
    oc_buf_free(&sts);
}

void oc_sigv4_trailer_signature(const uint8_t key[32], const char *amz_date, const char *scope,
                                const char *prev_sig, const char *trailers, size_t tlen,
                                char out[65])
{
    char hex[65];
    struct oc_buf sts = { 0 };

    oc_sha256_hex(trailers, tlen, hex);
    if (oc_buf_printf(&sts, "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", amz_date, scope,
                      prev_sig, hex) != OC_OK)
        abort();
    oc_sigv4_hmac_hex(key, sts.data, sts.len, out);
    oc_buf_free(&sts);
}

/* ---------------------------------------------------------------------
 * Dates
 * ------------------------------------------------------------------- */

static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int oc_sigv4_parse_amz_date(const char *s, time_t *out)
{
    struct tm tm;
    int y, mo, d, h, mi, se;

    if (!s || strlen(s) != OC_SIGV4_AMZ_DATE_LEN || s[8] != 'T' || s[15] != 'Z')
        return -1;
    y = digits(s, 4);
    mo = digits(s + 4, 2);
    d = digits(s + 6, 2);
    h = digits(s + 9, 2);
    mi = digits(s + 11, 2);
    se = digits(s + 13, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || se < 0 || se > 60)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *out = timegm(&tm);
    return 0;
}

void oc_sigv4_format_amz_date(time_t t, char out[OC_SIGV4_AMZ_DATE_LEN + 1])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, OC_SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---------------------------------------------------------------------
 * Client side
 * ------------------------------------------------------------------- */

static int cmp_header_name(const void *a, const void *b)
{
    const struct oc_http_header *x = a, *y = b;

    return strcmp(x->name, y->name);
}

static char *lower_dup(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);

    if (!d)
        return NULL;
    for (size_t i = 0; i <= n; i++)
        d[i] = lower(s[i]);
    return d;
}

int oc_sigv4_sign(const struct oc_sigv4_client *c, const struct oc_sigv4_req *req,
                  const char *payload_hash, time_t now, struct oc_sigv4_signed *out,
                  struct oc_err *err)
{
    struct oc_http_header *h = NULL;
    struct oc_buf signed_headers = { 0 }, canon = { 0 }, scope = { 0 }, sts = { 0 };
    struct oc_sigv4_req r = *req;
    size_t n = req->nheaders + 2;
    uint8_t key[32];
    char sig[65];
    int rc = OC_OK, has_host = 0;

    memset(out, 0, sizeof(*out));
    if (!c->access_key_id || !c->secret_key || !c->region || !c->service)
        return oc_err_set(err, OC_EINVAL, "incomplete client credentials");
    oc_sigv4_format_amz_date(now, out->amz_date);
    snprintf(out->content_sha256, sizeof(out->content_sha256), "%s",
             payload_hash ? payload_hash : OC_SIGV4_EMPTY_SHA256);
    if (payload_hash && strlen(payload_hash) >= sizeof(out->content_sha256))
        return oc_err_set(err, OC_EINVAL, "payload hash is too long");

    h = calloc(n, sizeof(*h));
    if (!h)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (size_t i = 0; i < req->nheaders; i++) {
        h[i].name = lower_dup(req->headers[i].name);
        h[i].value = req->headers[i].value;
        if (!h[i].name) {
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
            goto cleanup;
        }
        if (strcmp(h[i].name, "x-amz-date") == 0 ||
            strcmp(h[i].name, "x-amz-content-sha256") == 0) {
            rc = oc_err_set(err, OC_EINVAL, "%s is set by the signer", h[i].name);
            goto cleanup;
        }
        has_host |= strcmp(h[i].name, "host") == 0;
    }
    if (!has_host) {
        rc = oc_err_set(err, OC_EINVAL, "a signed request needs a host header");
        goto cleanup;
    }
    h[n - 2].name = lower_dup("x-amz-date");
    h[n - 2].value = out->amz_date;
    h[n - 1].name = lower_dup("x-amz-content-sha256");
    h[n - 1].value = out->content_sha256;
    if (!h[n - 2].name || !h[n - 1].name) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    qsort(h, n, sizeof(*h), cmp_header_name);
    for (size_t i = 0; i < n && rc == OC_OK; i++) {
        if (i && strcmp(h[i].name, h[i - 1].name) == 0)
            continue;
        if (i)
            rc = oc_buf_putc(&signed_headers, ';');
        if (rc == OC_OK)
            rc = oc_buf_puts(&signed_headers, h[i].name);
    }
    r.headers = h;
    r.nheaders = n;
    if (rc == OC_OK)
        rc = oc_sigv4_canonical_request(&r, oc_buf_cstr(&signed_headers), signed_headers.len,
                                        out->content_sha256, 0, &canon, err);
    if (rc == OC_OK)
        rc = oc_buf_printf(&scope, "%.8s/%s/%s/" SCOPE_TERMINATOR, out->amz_date, c->region,
                           c->service);
    if (rc == OC_OK)
        rc = oc_sigv4_string_to_sign(out->amz_date, scope.data, scope.len,
                                     oc_buf_cstr(&canon), canon.len, &sts);
    if (rc == OC_OK) {
        oc_sigv4_signing_key(c->secret_key, strlen(c->secret_key), out->amz_date, 8, c->region,
                             strlen(c->region), c->service, strlen(c->service), key);
        oc_sigv4_hmac_hex(key, sts.data, sts.len, sig);
        rc = oc_buf_printf(&out->authorization,
                           OC_SIGV4_ALGORITHM " Credential=%s/%s, SignedHeaders=%s, "
                           "Signature=%s", c->access_key_id, scope.data,
                           oc_buf_cstr(&signed_headers), sig);
    }
    if (rc && err && !err->code)
        oc_err_set(err, rc, "signing failed: %s", oc_err_name(rc));
cleanup:
    if (h)
        for (size_t i = 0; i < n; i++)
            free((char *)h[i].name);
    free(h);
    oc_buf_free(&signed_headers);
    oc_buf_free(&canon);
    oc_buf_free(&scope);
    oc_buf_free(&sts);
    if (rc)
        oc_sigv4_signed_free(out);
    return rc;
}

void oc_sigv4_signed_free(struct oc_sigv4_signed *s)
{
    if (s)
        oc_buf_free(&s->authorization);
}

int oc_sigv4_presign(const struct oc_sigv4_client *c, const char *method, const char *endpoint,
                     const char *path, const char *query, long expires, time_t now,
                     struct oc_buf *url, struct oc_err *err)
{
    struct oc_buf q = { 0 }, canon = { 0 }, scope = { 0 }, sts = { 0 }, host = { 0 };
    struct oc_http_header hh;
    struct oc_sigv4_req r;
    const char *hs, *he;
    char amz_date[OC_SIGV4_AMZ_DATE_LEN + 1], sig[65];
    uint8_t key[32];
    int rc;

    if (!c->access_key_id || !c->secret_key || !c->region || !c->service)
        return oc_err_set(err, OC_EINVAL, "incomplete client credentials");
    if (expires < 1 || expires > 604800)
        return oc_err_set(err, OC_EINVAL, "expiry must be 1..604800 seconds");
    hs = strstr(endpoint, "://");
    if (!hs)
        return oc_err_set(err, OC_EINVAL, "endpoint '%s' has no scheme", endpoint);
    hs += 3;
    he = strchr(hs, '/');
    if (!he)
        he = hs + strlen(hs);
    if (he == hs)
        return oc_err_set(err, OC_EINVAL, "endpoint '%s' has no host", endpoint);
    oc_sigv4_format_amz_date(now, amz_date);

    rc = oc_buf_append(&host, hs, (size_t)(he - hs));
    if (rc == OC_OK)
        rc = oc_buf_printf(&scope, "%.8s/%s/%s/" SCOPE_TERMINATOR, amz_date, c->region,
                           c->service);
    if (rc == OC_OK && query && *query)
        rc = oc_buf_printf(&q, "%s&", query);
    if (rc == OC_OK)
        rc = oc_buf_puts(&q, "X-Amz-Algorithm=" OC_SIGV4_ALGORITHM "&X-Amz-Credential=");
    if (rc == OC_OK)
        rc = oc_uri_encode(c->access_key_id, strlen(c->access_key_id), 0, &q);
    if (rc == OC_OK)
        rc = oc_buf_puts(&q, "%2F");
    if (rc == OC_OK)
        rc = oc_uri_encode(scope.data, scope.len, 0, &q);
    if (rc == OC_OK)
        rc = oc_buf_printf(&q, "&X-Amz-Date=%s&X-Amz-Expires=%ld&X-Amz-SignedHeaders=host",
                           amz_date, expires);
    hh.name = "host";
    hh.value = oc_buf_cstr(&host);
    r.method = method;
    r.path = path;
    r.query = oc_buf_cstr(&q);
    r.headers = &hh;
    r.nheaders = 1;
    r.s3 = strcmp(c->service, "s3") == 0;
    if (rc == OC_OK)
        rc = oc_sigv4_canonical_request(&r, "host", 4, OC_SIGV4_UNSIGNED, 1, &canon, err);
    if (rc == OC_OK)
        rc = oc_sigv4_string_to_sign(amz_date, scope.data, scope.len, oc_buf_cstr(&canon),
                                     canon.len, &sts);
    if (rc == OC_OK) {
        oc_sigv4_signing_key(c->secret_key, strlen(c->secret_key), amz_date, 8, c->region,
                             strlen(c->region), c->service, strlen(c->service), key);
        oc_sigv4_hmac_hex(key, sts.data, sts.len, sig);
        rc = oc_buf_printf(url, "%.*s%s?%s&X-Amz-Signature=%s", (int)(he - endpoint), endpoint,
                           path && *path ? path : "/", q.data, sig);
    }
    if (rc && err && !err->code)
        oc_err_set(err, rc, "presigning failed: %s", oc_err_name(rc));
    oc_buf_free(&q);
    oc_buf_free(&canon);
    oc_buf_free(&scope);
    oc_buf_free(&sts);
    oc_buf_free(&host);
    return rc;
}
