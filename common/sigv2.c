/*
 * sigv2.c - AWS Signature Version 2 builders and client signers (sigv2.h).
 */
#include "common/sigv2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/codec.h"

#define MAX_PARAMS 1000

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

int oc_sigv2_parse_authorization(const char *value, struct oc_sigv2_authz *out,
                                 struct oc_err *err)
{
    const char *p, *colon, *end;

    memset(out, 0, sizeof(*out));
    if (strncmp(value, "AWS ", 4) != 0)
        return oc_err_set(err, OC_EINVAL, "AWS authorization header is invalid.  Expected "
                          "AwsAccessKeyId:signature");
    p = value + 4;
    while (is_space(*p))
        p++;
    colon = strchr(p, ':');
    end = p + strlen(p);
    while (end > p && is_space(end[-1]))
        end--;
    if (!colon || colon == p || colon + 1 >= end)
        return oc_err_set(err, OC_EINVAL, "AWS authorization header is invalid.  Expected "
                          "AwsAccessKeyId:signature");
    for (const char *q = p; q < end; q++)
        if ((unsigned char)*q <= ' ' || (unsigned char)*q >= 0x7f)
            return oc_err_set(err, OC_EINVAL, "AWS authorization header is invalid.  "
                              "Expected AwsAccessKeyId:signature");
    if (colon - p > 128 || end - colon - 1 > 128)
        return oc_err_set(err, OC_EINVAL, "AWS authorization header is invalid.  Expected "
                          "AwsAccessKeyId:signature");
    out->access_key = p;
    out->access_key_len = (size_t)(colon - p);
    out->signature = colon + 1;
    out->signature_len = (size_t)(end - colon - 1);
    return OC_OK;
}

/* The sub-resources S3 includes in the SigV2 resource: the documented list
 * plus the ones botocore and s3cmd sign (cors, restore, ...), so requests
 * from those clients verify.  Sorted for bsearch. */
static const char *const subresources[] = {
    "accelerate", "acl", "analytics", "cors", "delete", "inventory", "lifecycle",
    "location", "logging", "metrics", "notification", "object-lock", "partNumber",
    "policy", "replication", "requestPayment", "response-cache-control",
    "response-content-disposition", "response-content-encoding",
    "response-content-language", "response-content-type", "response-expires", "restore",
    "select", "select-type", "tagging", "torrent", "uploadId", "uploads", "versionId",
    "versioning", "versions", "website",
};

int oc_sigv2_s3_is_subresource(const char *name, size_t len)
{
    size_t lo = 0, hi = sizeof(subresources) / sizeof(subresources[0]);

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *s = subresources[mid];
        size_t sl = strlen(s), m = sl < len ? sl : len;
        int c = memcmp(name, s, m);

        if (c == 0)
            c = len < sl ? -1 : len > sl;
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

struct span {
    const char *p;
    size_t len;
    const char *v;      /* raw value or NULL when there was no '=' */
    size_t vlen;
};

static int cmp_span_name(const struct span *a, const struct span *b)
{
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->p, b->p, m);

    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len;
}

int oc_sigv2_s3_canonical_resource(const char *raw_path, const char *raw_query,
                                   const char *vhost_bucket, struct oc_buf *out,
                                   struct oc_err *err)
{
    struct span subs[64];
    size_t nsub = 0, len = raw_query ? strlen(raw_query) : 0;
    const char *p = raw_query, *end = raw_query + len;
    int rc = OC_OK;

    if (vhost_bucket && *vhost_bucket) {
        rc = oc_buf_putc(out, '/');
        if (rc == OC_OK)
            rc = oc_buf_puts(out, vhost_bucket);
    }
    if (rc == OC_OK)
        rc = oc_buf_puts(out, raw_path && *raw_path ? raw_path : "/");
    if (rc)
        return rc;
    /* Collect the signed sub-resources; S3 knows about thirty, so a request
     * naming more than the table holds is not one S3 would accept. */
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *seg_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(seg_end - p));
        size_t nlen = (size_t)((eq ? eq : seg_end) - p);

        if (nlen && oc_sigv2_s3_is_subresource(p, nlen)) {
            size_t i;

            if (nsub == sizeof(subs) / sizeof(subs[0]))
                return oc_err_set(err, OC_ETOOBIG, "too many sub-resources");
            /* Insertion keeps equal names in their original order, as
             * botocore's stable sort does. */
            i = nsub++;
            subs[i].p = p;
            subs[i].len = nlen;
            subs[i].v = eq ? eq + 1 : NULL;
            subs[i].vlen = eq ? (size_t)(seg_end - eq - 1) : 0;
            while (i > 0 && cmp_span_name(&subs[i], &subs[i - 1]) < 0) {
                struct span t = subs[i];

                subs[i] = subs[i - 1];
                subs[i - 1] = t;
                i--;
            }
        }
        if (!amp)
            break;
        p = amp + 1;
    }
    for (size_t i = 0; i < nsub && rc == OC_OK; i++) {
        rc = oc_buf_putc(out, i ? '&' : '?');
        if (rc == OC_OK)
            rc = oc_buf_append(out, subs[i].p, subs[i].len);
        if (rc == OC_OK && subs[i].v) {
            rc = oc_buf_putc(out, '=');
            if (rc == OC_OK)
                rc = oc_url_decode(subs[i].v, subs[i].vlen, 0, out);
            if (rc == OC_EINVAL)
                return oc_err_set(err, OC_EINVAL, "malformed percent-escape in '%.*s'",
                                  (int)subs[i].len, subs[i].p);
        }
    }
    return rc;
}

static const char *find_header(const struct oc_http_header *h, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name && strcasecmp(h[i].name, name) == 0)
            return h[i].value ? h[i].value : "";
    return NULL;
}

static int append_trimmed(struct oc_buf *out, const char *v)
{
    const char *e;

    while (is_space(*v))
        v++;
    e = v + strlen(v);
    while (e > v && is_space(e[-1]))
        e--;
    return oc_buf_append(out, v, (size_t)(e - v));
}

static int is_amz(const char *name)
{
    return strncasecmp(name, "x-amz-", 6) == 0;
}

static int cmp_ci_names(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = lower(*a), y = lower(*b);

        if (x != y || !x)
            return (unsigned char)x - (unsigned char)y;
    }
}

/* x-amz-* headers, lowercased, sorted, repeats joined with ',': one
 * "name:value\n" line each. */
static int amz_headers(const struct oc_http_header *h, size_t n, struct oc_buf *out)
{
    const char *last = NULL;
    int rc = OC_OK;

    /* Selection by repeated minimum: n is small (the HTTP layer bounds the
     * header block) and this needs no allocation. */
    for (;;) {
        const char *next = NULL;
        int first = 1;

        for (size_t i = 0; i < n; i++) {
            if (!h[i].name || !is_amz(h[i].name))
                continue;
            if (last && cmp_ci_names(h[i].name, last) <= 0)
                continue;
            if (!next || cmp_ci_names(h[i].name, next) < 0)
                next = h[i].name;
        }
        if (!next)
            break;
        for (const char *c = next; *c && rc == OC_OK; c++)
            rc = oc_buf_putc(out, lower(*c));
        if (rc == OC_OK)
            rc = oc_buf_putc(out, ':');
        for (size_t i = 0; i < n && rc == OC_OK; i++) {
            if (!h[i].name || cmp_ci_names(h[i].name, next) != 0)
                continue;
            if (!first)
                rc = oc_buf_putc(out, ',');
            if (rc == OC_OK)
                rc = append_trimmed(out, h[i].value ? h[i].value : "");
            first = 0;
        }
        if (rc == OC_OK)
            rc = oc_buf_putc(out, '\n');
        if (rc)
            return rc;
        last = next;
    }
    return rc;
}

int oc_sigv2_s3_string_to_sign(const char *method, const char *raw_path, const char *raw_query,
                               const char *vhost_bucket, const struct oc_http_header *headers,
                               size_t n, const char *expires, struct oc_buf *out,
                               struct oc_err *err)
{
    const char *md5 = find_header(headers, n, "content-md5");
    const char *type = find_header(headers, n, "content-type");
    const char *date;
    int rc;

    if (expires)
        date = expires;
    else if (find_header(headers, n, "x-amz-date"))
        date = "";
    else
        date = find_header(headers, n, "date");
    rc = oc_buf_puts(out, method ? method : "");
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = append_trimmed(out, md5 ? md5 : "");
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = append_trimmed(out, type ? type : "");
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = append_trimmed(out, date ? date : "");
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = amz_headers(headers, n, out);
    if (rc == OC_OK)
        rc = oc_sigv2_s3_canonical_resource(raw_path, raw_query, vhost_bucket, out, err);
    return rc;
}

static int cmp_kv_ptr(const struct oc_kv *a, const struct oc_kv *b)
{
    int c = strcmp(a->name, b->name);

    return c ? c : strcmp(a->value, b->value);
}

static void sort_kv(const struct oc_kv **v, const struct oc_kv **tmp, size_t n)
{
    size_t mid, i, j, k;

    if (n < 2)
        return;
    mid = n / 2;
    sort_kv(v, tmp, mid);
    sort_kv(v + mid, tmp, n - mid);
    i = 0;
    j = mid;
    k = 0;
    while (i < mid && j < n)
        tmp[k++] = cmp_kv_ptr(v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < mid)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof(*v));
}

/* name=value&... over params (Signature skipped), sorted, AWS-encoded. */
static int ec2_params(const struct oc_kv *params, size_t n, struct oc_buf *out,
                      struct oc_err *err)
{
    const struct oc_kv **v, **tmp;
    size_t m = 0;
    int rc = OC_OK;

    if (n > MAX_PARAMS)
        return oc_err_set(err, OC_ETOOBIG, "more than %d parameters", MAX_PARAMS);
    v = calloc(n ? n : 1, sizeof(*v));
    tmp = calloc(n ? n : 1, sizeof(*tmp));
    if (!v || !tmp) {
        free(v);
        free(tmp);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        if (params[i].name && params[i].value && strcmp(params[i].name, "Signature") != 0)
            v[m++] = &params[i];
    sort_kv(v, tmp, m);
    for (size_t i = 0; i < m && rc == OC_OK; i++) {
        if (i)
            rc = oc_buf_putc(out, '&');
        if (rc == OC_OK)
            rc = oc_uri_encode(v[i]->name, strlen(v[i]->name), 0, out);
        if (rc == OC_OK)
            rc = oc_buf_putc(out, '=');
        if (rc == OC_OK)
            rc = oc_uri_encode(v[i]->value, strlen(v[i]->value), 0, out);
    }
    free(v);
    free(tmp);
    return rc;
}

int oc_sigv2_ec2_string_to_sign(const char *method, const char *host, const char *path,
                                const struct oc_kv *params, size_t n, struct oc_buf *out,
                                struct oc_err *err)
{
    int rc = oc_buf_puts(out, method ? method : "");

    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    for (const char *c = host ? host : ""; *c && rc == OC_OK; c++)
        rc = oc_buf_putc(out, lower(*c));
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = oc_buf_puts(out, path && *path ? path : "/");
    if (rc == OC_OK)
        rc = oc_buf_putc(out, '\n');
    if (rc == OC_OK)
        rc = ec2_params(params, n, out, err);
    return rc;
}

int oc_sigv2_sign(const char *secret, enum oc_sigv2_hmac alg, const char *data, size_t len,
                  struct oc_buf *out)
{
    uint8_t mac[32];
    size_t mlen;

    if (alg == OC_SIGV2_HMAC_SHA256) {
        oc_hmac_sha256(secret, strlen(secret), data, len, mac);
        mlen = OC_SHA256_LEN;
    } else {
        oc_hmac_sha1(secret, strlen(secret), data, len, mac);
        mlen = OC_SHA1_LEN;
    }
    return oc_base64_encode(mac, mlen, out);
}

int oc_sigv2_s3_authorization(const char *access_key, const char *secret, const char *method,
                              const char *raw_path, const char *raw_query,
                              const char *vhost_bucket, const struct oc_http_header *headers,
                              size_t n, struct oc_buf *out, struct oc_err *err)
{
    struct oc_buf sts = { 0 };
    int rc;

    if (!find_header(headers, n, "date") && !find_header(headers, n, "x-amz-date"))
        return oc_err_set(err, OC_EINVAL, "a SigV2 request needs Date or x-amz-date");
    rc = oc_sigv2_s3_string_to_sign(method, raw_path, raw_query, vhost_bucket, headers, n,
                                    NULL, &sts, err);
    if (rc == OC_OK)
        rc = oc_buf_printf(out, "AWS %s:", access_key);
    if (rc == OC_OK)
        rc = oc_sigv2_sign(secret, OC_SIGV2_HMAC_SHA1, oc_buf_cstr(&sts), sts.len, out);
    oc_buf_free(&sts);
    return rc;
}

int oc_sigv2_s3_presign(const char *access_key, const char *secret, const char *method,
                        const char *endpoint, const char *raw_path, const char *raw_query,
                        const char *vhost_bucket, time_t expires, struct oc_buf *url,
                        struct oc_err *err)
{
    struct oc_buf sts = { 0 }, sig = { 0 };
    char exp[32];
    int rc;

    snprintf(exp, sizeof(exp), "%lld", (long long)expires);
    rc = oc_sigv2_s3_string_to_sign(method, raw_path, raw_query, vhost_bucket, NULL, 0, exp,
                                    &sts, err);
    if (rc == OC_OK)
        rc = oc_sigv2_sign(secret, OC_SIGV2_HMAC_SHA1, oc_buf_cstr(&sts), sts.len, &sig);
    if (rc == OC_OK)
        rc = oc_buf_printf(url, "%s%s?%s%sAWSAccessKeyId=", endpoint,
                           raw_path && *raw_path ? raw_path : "/",
                           raw_query && *raw_query ? raw_query : "",
                           raw_query && *raw_query ? "&" : "");
    if (rc == OC_OK)
        rc = oc_uri_encode(access_key, strlen(access_key), 0, url);
    if (rc == OC_OK)
        rc = oc_buf_printf(url, "&Expires=%s&Signature=", exp);
    if (rc == OC_OK)
        rc = oc_uri_encode(oc_buf_cstr(&sig), sig.len, 0, url);
    oc_buf_free(&sts);
    oc_buf_free(&sig);
    return rc;
}

int oc_sigv2_ec2_sign(const char *access_key, const char *secret, enum oc_sigv2_hmac alg,
                      const char *method, const char *host, const char *path,
                      const struct oc_kv *params, size_t n, time_t now, struct oc_buf *out,
                      struct oc_err *err)
{
    struct oc_kv *all;
    struct oc_buf sts = { 0 }, sig = { 0 };
    char ts[32];
    struct tm tm;
    int rc;

    if (n > MAX_PARAMS)
        return oc_err_set(err, OC_ETOOBIG, "more than %d parameters", MAX_PARAMS);
    all = calloc(n + 4, sizeof(*all));
    if (!all)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    gmtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
    memcpy(all, params, n * sizeof(*all));
    all[n].name = "AWSAccessKeyId";
    all[n].value = access_key;
    all[n + 1].name = "SignatureMethod";
    all[n + 1].value = alg == OC_SIGV2_HMAC_SHA256 ? "HmacSHA256" : "HmacSHA1";
    all[n + 2].name = "SignatureVersion";
    all[n + 2].value = "2";
    all[n + 3].name = "Timestamp";
    all[n + 3].value = ts;
    for (size_t i = 0; i < n + 4; i++)
        all[i].has_value = 1;
    rc = oc_sigv2_ec2_string_to_sign(method, host, path, all, n + 4, &sts, err);
    if (rc == OC_OK)
        rc = oc_sigv2_sign(secret, alg, oc_buf_cstr(&sts), sts.len, &sig);
    if (rc == OC_OK)
        rc = ec2_params(all, n + 4, out, err);
    if (rc == OC_OK)
        rc = oc_buf_puts(out, "&Signature=");
    if (rc == OC_OK)
        rc = oc_uri_encode(oc_buf_cstr(&sig), sig.len, 0, out);
    free(all);
    oc_buf_free(&sts);
    oc_buf_free(&sig);
    return rc;
}
