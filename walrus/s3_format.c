/*
 * s3_format.c - small pure helpers of the S3 layer: HTTP and ISO dates,
 * conditional-request evaluation, Content-Range and Content-MD5, listing
 * tokens and url encoding, user metadata, request checksums.
 * Everything here is deterministic and unit-tested.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <zlib.h>

#include "common/codec.h"
#include "walrus/s3_internal.h"

static const char *const s3_days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const s3_months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

static void s3_gmtime(int64_t ms, struct tm *tm)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);

    memset(tm, 0, sizeof(*tm));
    gmtime_r(&t, tm);
}

void wal_s3_http_date(int64_t ms, char out[WAL_S3_DATE_LEN])
{
    struct tm tm;
    char *o = out;
    int y;

    /* "Sun, 06 Nov 1994 08:49:37 GMT" by hand: strftime's %a and %b follow
     * the locale, and snprintf costs more than the rest of a small GET's
     * headers together.  Our own clock sets the times; years are clamped to four digits anyway. */
    s3_gmtime(ms, &tm);
    y = tm.tm_year + 1900;
    y = y < 0 ? 0 : y > 9999 ? 9999 : y;
    memcpy(o, s3_days[tm.tm_wday % 7], 3);
    o += 3;
    *o++ = ',';
    *o++ = ' ';
    *o++ = (char)('0' + tm.tm_mday / 10);
    *o++ = (char)('0' + tm.tm_mday % 10);
    *o++ = ' ';
    memcpy(o, s3_months[tm.tm_mon % 12], 3);
    o += 3;
    *o++ = ' ';
    *o++ = (char)('0' + y / 1000 % 10);
    *o++ = (char)('0' + y / 100 % 10);
    *o++ = (char)('0' + y / 10 % 10);
    *o++ = (char)('0' + y % 10);
    *o++ = ' ';
    *o++ = (char)('0' + tm.tm_hour / 10);
    *o++ = (char)('0' + tm.tm_hour % 10);
    *o++ = ':';
    *o++ = (char)('0' + tm.tm_min / 10);
    *o++ = (char)('0' + tm.tm_min % 10);
    *o++ = ':';
    *o++ = (char)('0' + tm.tm_sec / 10);
    *o++ = (char)('0' + tm.tm_sec % 10);
    memcpy(o, " GMT", 5);
}

void wal_s3_iso_date(int64_t ms, char out[WAL_S3_DATE_LEN])
{
    struct tm tm;
    int frac = (int)(ms >= 0 ? ms % 1000 : (1000 + ms % 1000) % 1000);

    s3_gmtime(ms, &tm);
    snprintf(out, WAL_S3_DATE_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int s3_lookup_name(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (strncasecmp(s, names[i], 3) == 0)
            return i;
    return -1;
}

static int s3_digits(const char **p, int min, int max, int *out)
{
    int v = 0, n = 0;

    while (**p >= '0' && **p <= '9' && n < max) {
        v = v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n < min)
        return -1;
    *out = v;
    return 0;
}

static int s3_expect(const char **p, char c)
{
    if (**p != c)
        return -1;
    (*p)++;
    return 0;
}

static void s3_skip_spaces(const char **p)
{
    while (**p == ' ')
        (*p)++;
}

static int s3_hms(const char **p, struct tm *tm)
{
    if (s3_digits(p, 2, 2, &tm->tm_hour) || s3_expect(p, ':') ||
        s3_digits(p, 2, 2, &tm->tm_min) || s3_expect(p, ':') ||
        s3_digits(p, 2, 2, &tm->tm_sec))
        return -1;
    return 0;
}

/*
 * Hand-written rather than strptime(): strptime depends on the locale and
 * silently accepts partial input.  Accepts the three forms of RFC 9110.
 */
int wal_s3_parse_http_date(const char *s, time_t *out)
{
    struct tm tm;
    const char *p = s, *comma;
    int mon;

    if (!s)
        return -1;
    memset(&tm, 0, sizeof(tm));
    s3_skip_spaces(&p);
    comma = strchr(p, ',');
    if (comma) {
        p = comma + 1;
        s3_skip_spaces(&p);
        if (s3_digits(&p, 1, 2, &tm.tm_mday))
            return -1;
        if (*p == '-') {                         /* RFC 850: 06-Nov-94 */
            p++;
            if ((mon = s3_lookup_name(p, s3_months, 12)) < 0)
                return -1;
            p += 3;
            if (s3_expect(&p, '-') || s3_digits(&p, 2, 4, &tm.tm_year))
                return -1;
            if (tm.tm_year < 100)
                tm.tm_year += tm.tm_year < 70 ? 2000 : 1900;
        } else {                                 /* RFC 1123: 06 Nov 1994 */
            s3_skip_spaces(&p);
            if ((mon = s3_lookup_name(p, s3_months, 12)) < 0)
                return -1;
            p += 3;
            s3_skip_spaces(&p);
            if (s3_digits(&p, 4, 4, &tm.tm_year))
                return -1;
        }
        s3_skip_spaces(&p);
        if (s3_hms(&p, &tm))
            return -1;
        s3_skip_spaces(&p);
        if (strncmp(p, "GMT", 3) != 0 && strncmp(p, "UTC", 3) != 0)
            return -1;
        p += 3;
    } else {                                     /* asctime: Sun Nov  6 08:49:37 1994 */
        if (s3_lookup_name(p, s3_days, 7) < 0)
            return -1;
        p += 3;
        s3_skip_spaces(&p);
        if ((mon = s3_lookup_name(p, s3_months, 12)) < 0)
            return -1;
        p += 3;
        s3_skip_spaces(&p);
        if (s3_digits(&p, 1, 2, &tm.tm_mday))
            return -1;
        s3_skip_spaces(&p);
        if (s3_hms(&p, &tm))
            return -1;
        s3_skip_spaces(&p);
        if (s3_digits(&p, 4, 4, &tm.tm_year))
            return -1;
    }
    s3_skip_spaces(&p);
    if (*p)
        return -1;
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return -1;
    tm.tm_mon = mon;
    tm.tm_year -= 1900;
    *out = timegm(&tm);
    return 0;
}

void wal_s3_content_range(uint64_t first, uint64_t last, uint64_t size, char out[80])
{
    if (first > last)
        snprintf(out, 80, "bytes */%llu", (unsigned long long)size);
    else
        snprintf(out, 80, "bytes %llu-%llu/%llu", (unsigned long long)first,
                 (unsigned long long)last, (unsigned long long)size);
}

/* The etag without quotes or a weak marker: [*s, *e). */
static void s3_etag_core(const char **s, const char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t'))
        (*e)--;
    if (*e - *s >= 2 && strncmp(*s, "W/", 2) == 0)
        *s += 2;
    if (*e - *s >= 2 && **s == '"' && (*e)[-1] == '"') {
        (*s)++;
        (*e)--;
    }
}

int wal_s3_etag_matches(const char *list, const char *etag)
{
    const char *es = etag, *ee = etag + strlen(etag);

    s3_etag_core(&es, &ee);
    while (list && *list) {
        const char *comma = strchr(list, ',');
        const char *s = list, *e = comma ? comma : list + strlen(list);

        s3_etag_core(&s, &e);
        if (e - s == 1 && *s == '*')
            return 1;
        if (e - s == ee - es && e > s && memcmp(s, es, (size_t)(e - s)) == 0)
            return 1;
        if (!comma)
            break;
        list = comma + 1;
    }
    return 0;
}

enum wal_s3_cond wal_s3_conditions(const char *if_match, const char *if_none_match,
                                   const char *if_modified_since,
                                   const char *if_unmodified_since, const char *etag,
                                   int64_t mtime_ms)
{
    time_t mtime = (time_t)(mtime_ms / 1000), t;

    if (if_match) {
        if (!wal_s3_etag_matches(if_match, etag))
            return WAL_S3_COND_FAILED;
    } else if (if_unmodified_since && wal_s3_parse_http_date(if_unmodified_since, &t) == 0) {
        if (mtime > t)
            return WAL_S3_COND_FAILED;
    }
    if (if_none_match) {
        if (wal_s3_etag_matches(if_none_match, etag))
            return WAL_S3_COND_NOT_MODIFIED;
    } else if (if_modified_since && wal_s3_parse_http_date(if_modified_since, &t) == 0) {
        if (mtime <= t)
            return WAL_S3_COND_NOT_MODIFIED;
    }
    return WAL_S3_COND_OK;
}

int wal_s3_content_md5_parse(const char *hdr, uint8_t out[16])
{
    const char *s = hdr, *e;
    long n;

    if (!hdr)
        return -1;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    n = oc_base64_decode(s, (size_t)(e - s), out, 16);
    return n == 16 ? 0 : -1;
}

char *wal_s3_token_encode(struct oc_arena *a, const char *key)
{
    struct oc_buf b = { 0 };
    char *out;

    if (oc_base64_encode((const uint8_t *)key, strlen(key), &b) != OC_OK) {
        oc_buf_free(&b);
        return NULL;
    }
    out = oc_arena_strdup(a, oc_buf_cstr(&b));
    oc_buf_free(&b);
    return out;
}

char *wal_s3_token_decode(struct oc_arena *a, const char *token)
{
    size_t len = strlen(token), cap = len / 4 * 3 + 1;
    char *out;
    long n;

    if (len == 0 || len > 4 * ((WAL_S3_MAX_KEY_LEN + 2) / 3))
        return NULL;
    out = oc_arena_alloc(a, cap + 1);
    n = oc_base64_decode(token, len, (uint8_t *)out, cap);
    if (n <= 0 || memchr(out, '\0', (size_t)n) || !wal_s3_utf8_valid(out, (size_t)n))
        return NULL;
    out[n] = '\0';
    return out;
}

int wal_s3_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str, *e = s + len;

    while (s < e) {
        unsigned c = *s;
        size_t need;
        unsigned cp;

        if (c < 0x80) {
            s++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if ((size_t)(e - s) <= need)
            return 0;
        for (size_t i = 1; i <= need; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        s += need + 1;
    }
    return 1;
}

const char *wal_s3_url_encode(struct oc_arena *a, const char *s)
{
    struct oc_buf b = { 0 };
    const char *out;

    if (!s)
        return NULL;
    if (oc_uri_encode(s, strlen(s), 1, &b) != OC_OK) {
        oc_buf_free(&b);
        return s;
    }
    out = oc_arena_strdup(a, oc_buf_cstr(&b));
    oc_buf_free(&b);
    return out;
}

int wal_s3_parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    unsigned long long v = 0;

    if (!s || !*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (max - (unsigned long long)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned long long)(*s - '0');
    }
    *out = v;
    return 0;
}

int wal_s3_user_meta(struct oc_arena *a, const struct oc_http_header *h, size_t n,
                     const char **out)
{
    static const char prefix[] = "x-amz-meta-";
    struct oc_buf b = { 0 };
    size_t total = 0;
    int rc = OC_OK;

    *out = NULL;
    for (size_t i = 0; i < n && rc == OC_OK; i++) {
        const char *name = h[i].name, *v = h[i].value;

        if (strncasecmp(name, prefix, sizeof(prefix) - 1) != 0 ||
            !name[sizeof(prefix) - 1])
            continue;
        /* Header values cannot hold line breaks, but be sure: they would
         * forge extra lines in the stored form. */
        if (strpbrk(name, "\r\n:") || strpbrk(v, "\r\n"))
            continue;
        total += strlen(name) - (sizeof(prefix) - 1) + strlen(v);
        if (total > WAL_S3_MAX_USER_META)
            rc = OC_ETOOBIG;
        else
            rc = oc_buf_printf(&b, "%s: %s\n", name, v);
    }
    if (rc == OC_OK && b.len)
        *out = oc_arena_strndup(a, b.data, b.len);
    oc_buf_free(&b);
    return rc;
}

uint32_t wal_s3_crc32(const void *data, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    const Bytef *p = data;

    while (len) {
        uInt n = len > 1u << 30 ? 1u << 30 : (uInt)len;

        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}

uint32_t wal_s3_crc32c(const void *data, size_t len)
{
    uint32_t table[256], c = 0xFFFFFFFFu;
    const uint8_t *p = data;

    /* Only small request bodies (DeleteObjects) are checked this way. */
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t v = i;

        for (int k = 0; k < 8; k++)
            v = v & 1 ? (v >> 1) ^ 0x82F63B78u : v >> 1;
        table[i] = v;
    }
    for (size_t i = 0; i < len; i++)
        c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

int wal_s3_checksum_verify(const char *alg, const char *b64, const void *data, size_t len)
{
    uint8_t want[32], got[32];
    size_t glen;
    long n;

    n = oc_base64_decode(b64, strlen(b64), want, sizeof(want));
    if (n < 0)
        return -1;
    if (strcasecmp(alg, "crc32") == 0 || strcasecmp(alg, "crc32c") == 0) {
        uint32_t c = strcasecmp(alg, "crc32") == 0 ? wal_s3_crc32(data, len)
                                                    : wal_s3_crc32c(data, len);

        got[0] = (uint8_t)(c >> 24);
        got[1] = (uint8_t)(c >> 16);
        got[2] = (uint8_t)(c >> 8);
        got[3] = (uint8_t)c;
        glen = 4;
    } else if (strcasecmp(alg, "sha256") == 0) {
        oc_sha256(data, len, got);
        glen = 32;
    } else if (strcasecmp(alg, "sha1") == 0) {
        struct oc_digest *d = oc_digest_new(OC_DIGEST_SHA1);

        if (!d)
            return -1;
        oc_digest_update(d, data, len);
        glen = oc_digest_final(d, got);
        oc_digest_free(d);
    } else {
        return -1;
    }
    if ((size_t)n != glen)
        return -1;
    return memcmp(want, got, glen) == 0;
}
