/*
 * images_walrus.c - the CLC reading image objects from Walrus: existence
 * (HEAD), manifests (GET), ACLs (GET ?acl) through common/httpc, and one
 * ranged GET for an object's size, ETag and first bytes.
 *
 * The CLC calls Walrus as its `clc` component user of the eucalyptus
 * account (credentials written by `overcast-clc bootstrap`), which Walrus
 * lets read every object; whether the *caller* may use an object is
 * decided here from the object's and bucket's ACLs.
 *
 * The ranged GET is made with libcurl directly, signed by common/sigv4,
 * because the httpc interface carries neither request nor response
 * headers; it moves into httpc once httpc has them.
 */
#include <curl/curl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clc/images.h"
#include "common/codec.h"
#include "common/httpc.h"
#include "common/sigv4.h"

#define WALRUS_DEFAULT_URL "http://127.0.0.1:8780"
#define WALRUS_TIMEOUT_MS 30000L
#define STAT_BODY_LIMIT (64 * 1024)
#define ACL_MAX (256 * 1024)
#define ALL_USERS_URI "http://acs.amazonaws.com/groups/global/AllUsers"
#define AUTH_USERS_URI "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

struct clc_walrus {
    struct clc_req *r;
    struct oc_httpc *http;
    const char *endpoint;         /* "http://host:port" */
    const char *host;             /* "host:port" */
    const char *region;
    char *access_key_id;          /* malloc'd by oc_httpc_load_creds */
    char *secret_key;
};

static void walrus_free(void *arg)
{
    struct clc_walrus *w = arg;

    oc_httpc_free(w->http);
    if (w->secret_key) {
        OPENSSL_cleanse(w->secret_key, strlen(w->secret_key));
        free(w->secret_key);
    }
    free(w->access_key_id);
}

int clc_walrus_open(struct clc_req *r, struct clc_walrus **out, struct oc_err *err)
{
    struct clc_walrus *w = oc_arena_alloc(r->arena, sizeof(*w));
    const char *url = clc_conf(r, "WALRUS_URL", WALRUS_DEFAULT_URL);
    const char *creds = oc_arena_printf(r->arena, "%s/clc/component-credentials", clc_home(r));
    struct oc_httpc_config cfg = { 0 };
    char *endpoint, *host, *slash;
    size_t n;
    int rc;

    w->r = r;
    w->region = clc_conf(r, "REGION", "us-east-1");
    endpoint = oc_arena_strdup(r->arena, url);
    n = strlen(endpoint);
    while (n && endpoint[n - 1] == '/')
        endpoint[--n] = '\0';
    if (strncmp(endpoint, "http://", 7) == 0)
        host = oc_arena_strdup(r->arena, endpoint + 7);
    else if (strncmp(endpoint, "https://", 8) == 0)
        host = oc_arena_strdup(r->arena, endpoint + 8);
    else
        return oc_err_set(err, OC_EINVAL, "WALRUS_URL '%s' is not an http(s) URL", url);
    slash = strchr(host, '/');
    if (slash)
        return oc_err_set(err, OC_EINVAL, "WALRUS_URL '%s' must not have a path", url);
    w->endpoint = endpoint;
    w->host = host;
    rc = oc_httpc_load_creds(creds, &w->access_key_id, &w->secret_key, err);
    if (rc)
        return rc;
    oc_arena_defer(r->arena, walrus_free, w);
    cfg.endpoint = endpoint;
    cfg.access_key_id = w->access_key_id;
    cfg.secret_key = w->secret_key;
    cfg.region = w->region;
    cfg.timeout_ms = WALRUS_TIMEOUT_MS;
    rc = oc_httpc_new(&cfg, &w->http, err);
    if (rc)
        return rc;
    *out = w;
    return OC_OK;
}

/* "/bucket/key" with both parts URI-encoded (slashes of the key kept). */
static const char *object_path(struct clc_walrus *w, const char *bucket, const char *key)
{
    struct oc_buf b = { 0 };
    const char *path;

    if (oc_buf_putc(&b, '/') || oc_uri_encode(bucket, strlen(bucket), 0, &b) ||
        (key && (oc_buf_putc(&b, '/') || oc_uri_encode(key, strlen(key), 1, &b)))) {
        oc_buf_free(&b);
        return NULL;
    }
    path = oc_arena_strdup(w->r->arena, oc_buf_cstr(&b));
    oc_buf_free(&b);
    return path;
}

static int status_rc(long status, const char *what, struct oc_err *err)
{
    if (status == 200 || status == 206)
        return OC_OK;
    if (status == 404)
        return oc_err_set(err, OC_ENOTFOUND, "%s: not found in Walrus", what);
    if (status == 403)
        return oc_err_set(err, OC_EPERM, "%s: Walrus refused the CLC (403)", what);
    return oc_err_set(err, OC_EIO, "%s: Walrus answered %ld", what, status);
}

int clc_walrus_exists(struct clc_walrus *w, const char *bucket, const char *key,
                      struct oc_err *err)
{
    const char *path = object_path(w, bucket, key);
    struct oc_httpc_resp resp = { 0 };
    int rc;

    if (!path)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = oc_httpc_request(w->http, "HEAD", "s3", path, NULL, NULL, 0, -1, &resp, err);
    if (rc == OC_OK)
        rc = status_rc(resp.status, key, err);
    oc_httpc_resp_free(&resp);
    return rc;
}

int clc_walrus_get(struct clc_walrus *w, const char *bucket, const char *key, size_t max,
                   struct oc_buf *out, struct oc_err *err)
{
    const char *path = object_path(w, bucket, key);
    struct oc_httpc_resp resp = { 0 };
    int rc;

    if (!path)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = oc_httpc_request(w->http, "GET", "s3", path, NULL, NULL, 0, -1, &resp, err);
    if (rc == OC_OK)
        rc = status_rc(resp.status, key, err);
    if (rc == OC_OK && resp.body.len > max)
        rc = oc_err_set(err, OC_ETOOBIG, "%s is larger than %zu bytes", key, max);
    if (rc == OC_OK)
        rc = oc_buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len);
    oc_httpc_resp_free(&resp);
    return rc;
}

/* ------------------------------------------------------------------ */
/* ACLs */

struct acl_info {
    const char *owner;
    int readable_by_all;          /* AllUsers READ/FULL_CONTROL */
    int readable_by_auth;         /* AuthenticatedUsers READ/FULL_CONTROL */
    const char **readers;         /* canonical ids granted READ/FULL_CONTROL */
    size_t nreaders;
};

static char *node_text(struct oc_arena *a, xmlNodePtr n)
{
    char *t = oc_xml_text(n);
    char *s = oc_arena_strdup(a, t ? t : "");

    xmlFree(t);
    return s;
}

static int acl_parse(struct oc_arena *a, const char *xml, size_t len, struct acl_info *out,
                     struct oc_err *err)
{
    xmlDocPtr doc = oc_xml_parse(xml, len, err);
    xmlNodePtr root, list;
    size_t cap = 0;

    memset(out, 0, sizeof(*out));
    if (!doc)
        return OC_EIO;
    root = xmlDocGetRootElement(doc);
    out->owner = node_text(a, oc_xml_child(oc_xml_child(root, "Owner"), "ID"));
    list = oc_xml_child(root, "AccessControlList");
    for (xmlNodePtr g = oc_xml_child(list, "Grant"); g; g = oc_xml_next(g, "Grant")) {
        xmlNodePtr grantee = oc_xml_child(g, "Grantee");
        const char *perm = node_text(a, oc_xml_child(g, "Permission"));
        xmlNodePtr id = oc_xml_child(grantee, "ID"), uri = oc_xml_child(grantee, "URI");

        if (strcmp(perm, "READ") != 0 && strcmp(perm, "FULL_CONTROL") != 0)
            continue;
        if (uri) {
            const char *u = node_text(a, uri);

            out->readable_by_all |= strcmp(u, ALL_USERS_URI) == 0;
            out->readable_by_auth |= strcmp(u, AUTH_USERS_URI) == 0;
        } else if (id) {
            if (out->nreaders == cap) {
                const char **v = oc_arena_calloc(a, cap ? cap * 2 : 4, sizeof(*v));

                if (out->nreaders)
                    memcpy(v, out->readers, out->nreaders * sizeof(*v));
                out->readers = v;
                cap = cap ? cap * 2 : 4;
            }
            out->readers[out->nreaders++] = node_text(a, id);
        }
    }
    xmlFreeDoc(doc);
    return OC_OK;
}

static int acl_get(struct clc_walrus *w, const char *bucket, const char *key,
                   struct acl_info *out, struct oc_err *err)
{
    const char *path = object_path(w, bucket, key);
    struct oc_httpc_resp resp = { 0 };
    int rc;

    if (!path)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = oc_httpc_request(w->http, "GET", "s3", path, "acl", NULL, 0, -1, &resp, err);
    if (rc == OC_OK)
        rc = status_rc(resp.status, key ? key : bucket, err);
    if (rc == OC_OK && resp.body.len > ACL_MAX)
        rc = oc_err_set(err, OC_EIO, "the ACL of %s is too large", key ? key : bucket);
    if (rc == OC_OK)
        rc = acl_parse(w->r->arena, resp.body.data ? resp.body.data : "", resp.body.len, out,
                       err);
    oc_httpc_resp_free(&resp);
    return rc;
}

int clc_walrus_may_read(struct clc_walrus *w, const char *bucket, const char *key,
                        const char *account_id, int *allowed, struct oc_err *err)
{
    struct acl_info acl;
    int rc;

    *allowed = 0;
    rc = acl_get(w, bucket, NULL, &acl, err);
    if (rc)
        return rc;
    /* Walrus lets a bucket's owner read every object in it. */
    if (strcmp(acl.owner, account_id) == 0) {
        *allowed = 1;
        return OC_OK;
    }
    rc = acl_get(w, bucket, key, &acl, err);
    if (rc)
        return rc;
    if (strcmp(acl.owner, account_id) == 0 || acl.readable_by_all || acl.readable_by_auth) {
        *allowed = 1;
        return OC_OK;
    }
    for (size_t i = 0; i < acl.nreaders; i++)
        if (strcmp(acl.readers[i], account_id) == 0)
            *allowed = 1;
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* one ranged GET: size, ETag, first bytes */

struct stat_ctx {
    struct clc_walrus_object *obj;
    size_t body_seen;
    char etag[256];
    uint64_t range_total;
    int have_range_total;
    uint64_t content_length;
    int have_content_length;
};

static size_t stat_body(char *p, size_t size, size_t n, void *arg)
{
    struct stat_ctx *s = arg;
    size_t len = size * n, room = sizeof(s->obj->head) - s->obj->head_len;

    if (len && room)
        memcpy(s->obj->head + s->obj->head_len, p, len < room ? len : room);
    s->obj->head_len += len < room ? len : room;
    s->body_seen += len;
    /* A Walrus that ignored Range would send the whole object: stop. */
    return s->body_seen > STAT_BODY_LIMIT ? 0 : len;
}

static int parse_dec(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (!len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static size_t stat_header(char *p, size_t size, size_t n, void *arg)
{
    struct stat_ctx *s = arg;
    size_t len = size * n, vlen;
    const char *colon = memchr(p, ':', len), *v;

    if (!colon)
        return len;
    v = colon + 1;
    while (v < p + len && (*v == ' ' || *v == '\t'))
        v++;
    vlen = (size_t)(p + len - v);
    while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    if ((size_t)(colon - p) == 4 && strncasecmp(p, "etag", 4) == 0) {
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
            v++;
            vlen -= 2;
        }
        if (vlen < sizeof(s->etag)) {
            memcpy(s->etag, v, vlen);
            s->etag[vlen] = '\0';
        }
    } else if ((size_t)(colon - p) == 13 && strncasecmp(p, "content-range", 13) == 0) {
        const char *slash = memchr(v, '/', vlen);

        if (slash && parse_dec(slash + 1, (size_t)(v + vlen - slash - 1), &s->range_total) == 0)
            s->have_range_total = 1;
    } else if ((size_t)(colon - p) == 14 && strncasecmp(p, "content-length", 14) == 0) {
        if (parse_dec(v, vlen, &s->content_length) == 0)
            s->have_content_length = 1;
    }
    return len;
}

int clc_walrus_stat(struct clc_walrus *w, const char *bucket, const char *key,
                    struct clc_walrus_object *out, struct oc_err *err)
{
    const char *path = object_path(w, bucket, key);
    struct oc_sigv4_client cl = { w->access_key_id, w->secret_key, w->region, "s3" };
    struct oc_http_header host = { "host", w->host };
    struct oc_sigv4_req req = { 0 };
    struct oc_sigv4_signed sig = { 0 };
    struct curl_slist *hdrs = NULL;
    struct stat_ctx s;
    CURL *curl = NULL;
    CURLcode cc;
    long status = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&s, 0, sizeof(s));
    s.obj = out;
    if (!path)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    req.method = "GET";
    req.path = path;
    req.headers = &host;
    req.nheaders = 1;
    req.s3 = 1;
    rc = oc_sigv4_sign(&cl, &req, NULL, time(NULL), &sig, err);
    if (rc)
        return rc;
    curl = curl_easy_init();
    if (!curl) {
        rc = oc_err_set(err, OC_ENOMEM, "cannot make a curl handle");
        goto cleanup;
    }
    hdrs = curl_slist_append(hdrs, oc_arena_printf(w->r->arena, "Host: %s", w->host));
    hdrs = curl_slist_append(hdrs, oc_arena_printf(w->r->arena, "x-amz-date: %s",
                                                   sig.amz_date));
    hdrs = curl_slist_append(hdrs, oc_arena_printf(w->r->arena, "x-amz-content-sha256: %s",
                                                   sig.content_sha256));
    hdrs = curl_slist_append(hdrs, oc_arena_printf(w->r->arena, "Authorization: %s",
                                                   oc_buf_cstr(&sig.authorization)));
    if (!hdrs) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    curl_easy_setopt(curl, CURLOPT_URL, oc_arena_printf(w->r->arena, "%s%s", w->endpoint, path));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(curl, CURLOPT_RANGE, "0-63");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, WALRUS_TIMEOUT_MS);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, stat_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, stat_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &s);
    cc = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && status == 200)) {
        rc = oc_err_set(err, OC_EIO, "GET %s from Walrus: %s", path, curl_easy_strerror(cc));
        goto cleanup;
    }
    if (status == 416) {
        /* Nothing to return from byte 0: the object is empty. */
        out->size = 0;
        out->head_len = 0;
    } else if (status == 206 && s.have_range_total) {
        out->size = s.range_total;
    } else if (status == 200 && s.have_content_length) {
        out->size = s.content_length;
    } else {
        rc = status_rc(status == 200 || status == 206 ? 502 : status, key, err);
        goto cleanup;
    }
    out->etag = oc_arena_strdup(w->r->arena, s.etag);
    rc = OC_OK;
cleanup:
    curl_slist_free_all(hdrs);
    if (curl)
        curl_easy_cleanup(curl);
    oc_sigv4_signed_free(&sig);
    return rc;
}
