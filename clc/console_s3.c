/*
 * console_s3.c - the S3 API for console sessions, at /services/objectstorage
 * (Eucalyptus's object-storage path on the CLC).
 *
 * A browser session has a cookie, not an S3 signature, and Walrus is
 * another origin; so the CLC passes the request on to Walrus (WALRUS_URL)
 * signed with the session user's own access key (clc_console_signer): Walrus
 * decides exactly as it would for that user's awscli.  The body is spooled
 * to an unlinked file under $OVERCAST_HOME/clc/tmp as it arrives (at most
 * CLC_CONSOLE_MAX_UPLOAD bytes, default 1 GiB), the answer likewise, and
 * the answer is sent from that file; the call runs on a thread of its own.
 * Only GET, PUT and DELETE pass; signed requests belong at Walrus itself.
 */
#include "clc/console_s3.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clc/api.h"
#include "clc/console.h"
#include "common/fsutil.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/xml.h"

#define DEFAULT_MAX_UPLOAD "1073741824"
#define PROXY_TIMEOUT_MS (3600L * 1000)

struct clc_s3proxy {
    struct clc *c;
    struct oc_http_req *h;
    int fd;                        /* the spooled body, -1 when none */
    uint64_t len;
    uint64_t max;
    int failed;                    /* 1 too big, 2 cannot write */
    struct oc_principal who;
};

static void s3_error(struct oc_http_req *h, int status, const char *code, const char *msg)
{
    struct oc_xmlw *w = oc_xmlw_new("Error", NULL);
    struct oc_buf b = { 0 };

    oc_xmlw_elem(w, "Code", code);
    oc_xmlw_elem(w, "Message", msg);
    oc_xmlw_elem(w, "RequestId", h->request_id);
    if (oc_xmlw_finish(w, &b) == OC_OK)
        oc_http_respond_buf(h, status, "application/xml", &b);
    else
        oc_http_respond(h, 500, NULL, NULL, 0);
    oc_buf_free(&b);
    oc_xmlw_free(w);
}

/* An unlinked file in $OVERCAST_HOME/clc/tmp, or -1. */
static int tmp_file(struct clc *c)
{
    char *dir = NULL, *path = NULL;
    struct oc_err err = { 0 };
    int fd = -1;

    if (asprintf(&dir, "%s/clc/tmp", clc_home_dir(c)) < 0)
        return -1;
    if (oc_mkdirs(dir, 0700, &err) == OC_OK && asprintf(&path, "%s/s3proxy.XXXXXX", dir) >= 0) {
        fd = mkstemp(path);
        if (fd >= 0)
            unlink(path);
        else
            oc_warn("console s3: cannot make a file in %s: %s", dir, strerror(errno));
    }
    free(path);
    free(dir);
    return fd;
}

static void proxy_free(void *arg)
{
    struct clc_s3proxy *p = arg;

    if (p->fd >= 0)
        close(p->fd);
    OPENSSL_cleanse(&p->who, sizeof(p->who));
}

int clc_s3proxy_path(const char *path)
{
    return strncmp(path, CLC_S3PROXY_PREFIX, sizeof(CLC_S3PROXY_PREFIX) - 1) == 0 &&
           (path[sizeof(CLC_S3PROXY_PREFIX) - 1] == '\0' ||
            path[sizeof(CLC_S3PROXY_PREFIX) - 1] == '/');
}

struct clc_s3proxy *clc_s3proxy_open(struct clc *c, struct oc_http_req *h)
{
    struct clc_s3proxy *p;
    const char *max = oc_config_get(clc_config(c), "CLC_CONSOLE_MAX_UPLOAD", DEFAULT_MAX_UPLOAD);

    if (strcmp(h->method, "GET") != 0 && strcmp(h->method, "PUT") != 0 &&
        strcmp(h->method, "DELETE") != 0) {
        s3_error(h, 405, "MethodNotAllowed", "The console's object storage path takes GET, "
                 "PUT and DELETE.");
        return NULL;
    }
    p = oc_arena_alloc(h->arena, sizeof(*p));
    if (!p) {
        s3_error(h, 500, "InternalError", "out of memory");
        return NULL;
    }
    memset(p, 0, sizeof(*p));
    p->c = c;
    p->h = h;
    p->fd = -1;
    p->max = strtoull(max, NULL, 10);
    if (h->content_length > 0 && (uint64_t)h->content_length > p->max) {
        s3_error(h, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed "
                 "size (CLC_CONSOLE_MAX_UPLOAD).");
        return NULL;
    }
    oc_arena_defer(h->arena, proxy_free, p);
    return p;
}

void clc_s3proxy_body(struct clc_s3proxy *p, const char *data, size_t len)
{
    struct oc_err err = { 0 };

    if (p->failed)
        return;
    if (p->len + len > p->max) {
        p->failed = 1;
        return;
    }
    if (p->fd < 0 && (p->fd = tmp_file(p->c)) < 0) {
        p->failed = 2;
        return;
    }
    if (oc_write_all(p->fd, data, len, &err) != OC_OK) {
        oc_warn("console s3: spooling the body: %s", err.msg);
        p->failed = 2;
        return;
    }
    p->len += len;
}

/* What the answer file holds, by a look at its first bytes. */
static const char *answer_type(int fd, long status)
{
    char head[8] = { 0 };

    if (pread(fd, head, sizeof(head) - 1, 0) > 0 && head[0] == '<' &&
        (status >= 300 || strncmp(head, "<?xml", 5) == 0))
        return "application/xml";
    return "application/octet-stream";
}

static void *proxy_main(void *arg)
{
    struct clc_s3proxy *p = arg;
    struct oc_http_req *h = p->h;
    struct oc_principal key;
    struct oc_err err = { 0 };
    struct oc_httpc *hc = NULL;
    struct oc_httpc_resp resp = { 0 };
    const char *path = h->path + sizeof(CLC_S3PROXY_PREFIX) - 1;
    void *body = NULL;
    int out = -1, rc;
    struct stat sb;

    memset(&key, 0, sizeof(key));
    rc = clc_console_signer(p->c, &p->who, &key, &err);
    if (rc) {
        s3_error(h, 403, "AccessDenied", err.msg);
        goto done;
    }
    {
        struct oc_httpc_config cfg = {
            .endpoint = oc_config_get(clc_config(p->c), "WALRUS_URL", "http://127.0.0.1:8780"),
            .access_key_id = key.access_key_id, .secret_key = key.secret_key,
            .region = oc_config_get(clc_config(p->c), "REGION", NULL),
            .timeout_ms = PROXY_TIMEOUT_MS,
        };

        rc = oc_httpc_new(&cfg, &hc, &err);
    }
    if (rc == OC_OK && p->len) {
        body = mmap(NULL, p->len, PROT_READ, MAP_PRIVATE, p->fd, 0);
        if (body == MAP_FAILED) {
            body = NULL;
            rc = oc_err_set(&err, OC_EIO, "cannot map the spooled body: %s", strerror(errno));
        }
    }
    if (rc == OC_OK && (out = tmp_file(p->c)) < 0)
        rc = oc_err_set(&err, OC_EIO, "cannot make a file for the answer");
    if (rc == OC_OK)
        rc = oc_httpc_request(hc, h->method, "s3", *path ? path : "/", h->query, body,
                              (size_t)p->len, out, &resp, &err);
    if (rc) {
        oc_warn("console s3: %s %s: %s", h->method, h->path, err.msg);
        s3_error(h, rc == OC_EIO ? 503 : 500, rc == OC_EIO ? "ServiceUnavailable"
                                                          : "InternalError",
                 "The object store could not be reached.");
        goto done;
    }
    if (fstat(out, &sb) != 0) {
        s3_error(h, 500, "InternalError", "cannot read the answer");
        goto done;
    }
    oc_http_add_header(h, "Content-Type", answer_type(out, resp.status));
    oc_http_add_header(h, "Cache-Control", "no-store");
    if (oc_http_respond_fd(h, (int)resp.status, out, 0, (uint64_t)sb.st_size) == OC_OK)
        out = -1;   /* the response owns it */
    else
        oc_http_respond(h, 500, NULL, NULL, 0);
done:
    if (body)
        munmap(body, p->len);
    if (out >= 0)
        close(out);
    oc_httpc_resp_free(&resp);
    oc_httpc_free(hc);
    OPENSSL_cleanse(&key, sizeof(key));
    oc_http_resume(h);
    return NULL;
}

void clc_s3proxy_end(struct clc_s3proxy *p, const struct oc_principal *who)
{
    struct oc_http_req *h = p->h;
    pthread_attr_t attr;
    pthread_t t;

    if (p->failed) {
        if (p->failed == 1)
            s3_error(h, 400, "EntityTooLarge", "Your proposed upload exceeds the maximum "
                     "allowed size (CLC_CONSOLE_MAX_UPLOAD).");
        else
            s3_error(h, 500, "InternalError", "The upload could not be spooled.");
        return;
    }
    if (!who) {
        s3_error(h, 403, "AccessDenied", "The console's object storage path takes console "
                 "sessions only; signed S3 requests go to Walrus (S3_URL).");
        return;
    }
    p->who = *who;
    oc_http_suspend(h);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, proxy_main, p) != 0) {
        s3_error(h, 503, "SlowDown", "The service is overloaded.");
        oc_http_resume(h);
    }
    pthread_attr_destroy(&attr);
}

void clc_s3proxy_refuse(struct oc_http_req *h, int status, const char *code, const char *msg)
{
    s3_error(h, status, code, msg);
}
