/*
 * httpc.c - the HTTP client on libcurl (see httpc.h).
 *
 * One easy handle per struct oc_httpc, so consecutive calls reuse the
 * keep-alive connection.  Requests are signed here with oc_sigv4_sign: the
 * headers signed are host, content-type (when there is a body) plus the
 * x-amz-date and x-amz-content-sha256 that oc_sigv4_sign adds.  No proxy is
 * ever used: every peer is another Overcast component.
 */
#include "common/httpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/fsutil.h"
#include "common/sigv4.h"

#define HTTPC_MAX_BODY (64u * 1024 * 1024)
#define FORM_TYPE "application/x-www-form-urlencoded; charset=utf-8"

struct oc_httpc {
    CURL *curl;
    char *endpoint;       /* scheme://host[:port] */
    char *host;           /* host[:port], the Host header */
    char *ak, *sk, *region;
    long timeout_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void oc_httpc_resp_free(struct oc_httpc_resp *r)
{
    if (r)
        oc_buf_free(&r->body);
}

void oc_httpc_free(struct oc_httpc *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->endpoint);
    free(c->host);
    free(c->ak);
    if (c->sk) {
        memset(c->sk, 0, strlen(c->sk));
        free(c->sk);
    }
    free(c->region);
    free(c);
}

int oc_httpc_new(const struct oc_httpc_config *cfg, struct oc_httpc **out, struct oc_err *err)
{
    struct oc_httpc *c;
    const char *h, *slash;
    size_t elen;

    if (!cfg || !cfg->endpoint || strncmp(cfg->endpoint, "http", 4) != 0 ||
        !(h = strstr(cfg->endpoint, "://")))
        return oc_err_set(err, OC_EINVAL, "endpoint '%s' is not an http(s) URL",
                          cfg && cfg->endpoint ? cfg->endpoint : "");
    pthread_once(&curl_once, curl_init_once);
    c = calloc(1, sizeof(*c));
    if (!c)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    h += 3;
    slash = strchr(h, '/');
    elen = slash ? (size_t)(slash - cfg->endpoint) : strlen(cfg->endpoint);
    c->endpoint = strndup(cfg->endpoint, elen);
    c->host = strndup(h, slash ? (size_t)(slash - h) : strlen(h));
    c->region = strdup(cfg->region ? cfg->region : "us-east-1");
    if (cfg->access_key_id) {
        c->ak = strdup(cfg->access_key_id);
        c->sk = strdup(cfg->secret_key ? cfg->secret_key : "");
    }
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
    c->curl = curl_easy_init();
    if (!c->endpoint || !c->host || !c->region || !c->curl ||
        (cfg->access_key_id && (!c->ak || !c->sk))) {
        oc_httpc_free(c);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    if (!*c->host) {
        oc_httpc_free(c);
        return oc_err_set(err, OC_EINVAL, "endpoint '%s' has no host", cfg->endpoint);
    }
    *out = c;
    return OC_OK;
}

struct sink {
    struct oc_buf *buf;
    int fd;
    int failed;           /* 1 too big, 2 write error */
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;

    if (s->fd >= 0) {
        size_t off = 0;

        while (off < len) {
            ssize_t w = write(s->fd, data + off, len - off);

            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                s->failed = 2;
                return 0;
            }
            off += (size_t)w;
        }
        return len;
    }
    if (s->buf->len + len > HTTPC_MAX_BODY || oc_buf_append(s->buf, data, len) != OC_OK) {
        s->failed = 1;
        return 0;
    }
    return len;
}

int oc_httpc_request(struct oc_httpc *c, const char *method, const char *service,
                     const char *path, const char *query, const void *body, size_t blen,
                     int out_fd, struct oc_httpc_resp *resp, struct oc_err *err)
{
    struct curl_slist *hl = NULL;
    struct oc_buf url = { 0 }, line = { 0 };
    struct oc_sigv4_signed sig = { 0 };
    struct sink sink = { &resp->body, out_fd, 0 };
    /* A form for Query POSTs; other bodies (S3 PUTs) are opaque bytes. */
    const char *ctype = !body || !blen ? NULL
                        : strcmp(method, "POST") == 0 ? FORM_TYPE : "application/octet-stream";
    char payload[65];
    CURLcode cc;
    int rc = OC_OK;

    resp->status = 0;
    if (!query)
        query = "";
    if (oc_buf_printf(&url, "%s%s%s%s", c->endpoint, path, *query ? "?" : "", query)) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (c->ak) {
        struct oc_http_header hdrs[2] = { { "host", c->host }, { "content-type", ctype } };
        struct oc_sigv4_req req = {
            .method = method, .path = path, .query = query, .headers = hdrs,
            .nheaders = ctype ? 2 : 1, .s3 = strcmp(service, "s3") == 0,
        };
        struct oc_sigv4_client cl = { c->ak, c->sk, c->region, service };

        oc_sha256_hex(body ? body : "", body ? blen : 0, payload);
        rc = oc_sigv4_sign(&cl, &req, payload, time(NULL), &sig, err);
        if (rc)
            goto cleanup;
        if (oc_buf_printf(&line, "Authorization: %s", oc_buf_cstr(&sig.authorization))) {
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
            goto cleanup;
        }
        hl = curl_slist_append(hl, oc_buf_cstr(&line));
        oc_buf_reset(&line);
        if (oc_buf_printf(&line, "x-amz-date: %s", sig.amz_date) == OC_OK)
            hl = curl_slist_append(hl, oc_buf_cstr(&line));
        oc_buf_reset(&line);
        if (oc_buf_printf(&line, "x-amz-content-sha256: %s", sig.content_sha256) == OC_OK)
            hl = curl_slist_append(hl, oc_buf_cstr(&line));
    }
    if (ctype) {
        oc_buf_reset(&line);
        if (oc_buf_printf(&line, "Content-Type: %s", ctype) == OC_OK)
            hl = curl_slist_append(hl, oc_buf_cstr(&line));
    } else {
        /* Not curl's default form type for an empty POSTFIELDS. */
        hl = curl_slist_append(hl, "Content-Type:");
    }
    /* The Host header exactly as signed: curl would drop an explicit
     * default port (":80") from its own. */
    oc_buf_reset(&line);
    if (oc_buf_printf(&line, "Host: %s", c->host) == OC_OK)
        hl = curl_slist_append(hl, oc_buf_cstr(&line));
    /* No "Expect: 100-continue" round trip for small bodies. */
    hl = curl_slist_append(hl, "Expect:");

    curl_easy_reset(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_URL, oc_buf_cstr(&url));
    curl_easy_setopt(c->curl, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 5000 ? c->timeout_ms
                                                                             : 5000L);
    /* A peer that stalls is given up after 30 s under 1 KiB/s, whatever
     * the whole-request timeout (which must allow hour-long image GETs). */
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c->curl, CURLOPT_LOW_SPEED_TIME, 30L);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? blen : 0));
    }
    cc = curl_easy_perform(c->curl);
    if (cc != CURLE_OK) {
        if (sink.failed == 1)
            rc = oc_err_set(err, OC_ETOOBIG, "%s %s: response larger than %u bytes", method,
                            path, HTTPC_MAX_BODY);
        else if (sink.failed == 2)
            rc = oc_err_set(err, OC_EIO, "%s %s: cannot write the response: %s", method,
                            path, strerror(errno));
        else
            rc = oc_err_set(err, OC_EIO, "%s %s%s: %s", method, c->endpoint, path,
                            curl_easy_strerror(cc));
        goto cleanup;
    }
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &resp->status);
cleanup:
    curl_slist_free_all(hl);
    oc_buf_free(&url);
    oc_buf_free(&line);
    oc_sigv4_signed_free(&sig);
    return rc;
}

int oc_httpc_query(struct oc_httpc *c, const char *path, const char *service,
                   const char *action, const char *version, const struct oc_kv *params,
                   size_t n, struct oc_httpc_resp *resp, struct oc_err *err)
{
    struct oc_buf body = { 0 };
    int rc = OC_OK;

    if (oc_buf_puts(&body, "Action=") || oc_uri_encode(action, strlen(action), 0, &body) ||
        oc_buf_puts(&body, "&Version=") ||
        oc_uri_encode(version, strlen(version), 0, &body))
        rc = OC_ENOMEM;
    for (size_t i = 0; rc == OC_OK && i < n; i++) {
        if (oc_buf_putc(&body, '&') ||
            oc_uri_encode(params[i].name, strlen(params[i].name), 0, &body) ||
            oc_buf_putc(&body, '=') ||
            oc_uri_encode(params[i].value, strlen(params[i].value), 0, &body))
            rc = OC_ENOMEM;
    }
    if (rc == OC_OK)
        rc = oc_httpc_request(c, "POST", service, path, NULL, body.data, body.len, -1, resp,
                              err);
    else
        oc_err_set(err, OC_ENOMEM, "out of memory");
    oc_buf_free(&body);
    return rc;
}

/* Value of KEY= in eucarc-style text (export prefix and quotes allowed). */
static char *shell_var(const char *text, size_t len, const char *key)
{
    const char *p = text, *end = text + len;
    size_t klen = strlen(key);

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *q = p, *v, *ve;

        if (!eol)
            eol = end;
        while (q < eol && (*q == ' ' || *q == '\t'))
            q++;
        if ((size_t)(eol - q) > 7 && strncmp(q, "export ", 7) == 0)
            q += 7;
        if ((size_t)(eol - q) > klen && strncmp(q, key, klen) == 0 && q[klen] == '=') {
            v = q + klen + 1;
            ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ve - v >= 2 && (*v == '"' || *v == '\'') && ve[-1] == *v) {
                v++;
                ve--;
            }
            return strndup(v, (size_t)(ve - v));
        }
        p = eol + 1;
    }
    return NULL;
}

int oc_httpc_load_creds(const char *path, char **access_key_id, char **secret_key,
                        struct oc_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = oc_read_file(path, 65536, &data, &len, err);

    if (rc)
        return rc;
    *access_key_id = shell_var(data, len, "AWS_ACCESS_KEY_ID");
    *secret_key = shell_var(data, len, "AWS_SECRET_ACCESS_KEY");
    memset(data, 0, len);
    free(data);
    if (!*access_key_id || !*secret_key || !**access_key_id || !**secret_key) {
        free(*access_key_id);
        free(*secret_key);
        *access_key_id = *secret_key = NULL;
        return oc_err_set(err, OC_EINVAL, "%s has no AWS_ACCESS_KEY_ID and "
                          "AWS_SECRET_ACCESS_KEY", path);
    }
    return OC_OK;
}
