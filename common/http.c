/*
 * http.c - libmicrohttpd glue.
 *
 * Request objects are created in MHD's URI-log callback, which sees the raw
 * request target before MHD decodes anything (MHD turns '+' into ' ' in
 * query arguments, which would break signatures).  The unescape callback is
 * a no-op so MHD never rewrites the path either.
 *
 * MHD only accepts a queued response right after the headers or after the
 * whole body.  When a handler answers in the middle of a body (a bad chunk
 * signature, say), the rest of the body is read and discarded and the
 * answer goes out at the end; a body beyond the configured maximum closes
 * the connection instead.
 */
#include "common/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"

struct http_resp_header {
    struct http_resp_header *next;
    const char *name, *value;
};

struct oc_http_priv {
    struct MHD_Connection *conn;
    struct oc_http_server *srv;
    const char *raw_uri;
    size_t raw_uri_len;
    int started;                  /* on_request has run */
    int ended;                    /* on_end has run */
    int discarding;               /* answered mid-body: drop the rest */
    int queued;                   /* MHD has our response */
    /* Response chosen by the handler, not yet queued. */
    struct MHD_Response *resp;
    unsigned status;
    struct http_resp_header *hdrs;
    /* Suspension handshake between the MHD thread and a completer thread. */
    pthread_mutex_t lock;
    int want_suspend;             /* the handler will answer from elsewhere */
    int suspended;                /* MHD_suspend_connection was called */
    int resumed;                  /* the completer called oc_http_resume */
};

struct oc_http_server {
    struct MHD_Daemon *d;
    struct oc_http_handler h;
    struct oc_http_config cfg;
    uint16_t port;
};

static void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct oc_http_server *srv = cls;
    struct oc_arena *a = oc_arena_new();
    struct oc_http_req *r = oc_arena_alloc(a, sizeof(*r));
    struct oc_http_priv *p = oc_arena_alloc(a, sizeof(*p));
    const union MHD_ConnectionInfo *ci;
    char addr[INET6_ADDRSTRLEN] = "";

    r->arena = a;
    r->priv = p;
    r->content_length = -1;
    oc_request_id(r->request_id);
    p->conn = conn;
    p->srv = srv;
    p->raw_uri_len = strlen(uri);
    p->raw_uri = oc_arena_strndup(a, uri, p->raw_uri_len);
    pthread_mutex_init(&p->lock, NULL);
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;

        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
                      sizeof(addr));
    }
    r->remote_addr = oc_arena_strdup(a, addr);
    return r;
}

static size_t http_unescape_noop(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

struct header_collect {
    struct oc_http_req *r;
    struct oc_http_header *items;
    size_t n, cap;
};

static enum MHD_Result http_collect_header(void *cls, enum MHD_ValueKind kind,
                                           const char *key, const char *value)
{
    struct header_collect *hc = cls;
    char *name;

    if (hc->n == hc->cap) {
        size_t cap = hc->cap ? hc->cap * 2 : 32;
        struct oc_http_header *items = oc_arena_calloc(hc->r->arena, cap, sizeof(*items));

        if (hc->n)
            memcpy(items, hc->items, hc->n * sizeof(*items));
        hc->items = items;
        hc->cap = cap;
    }
    name = oc_arena_strdup(hc->r->arena, key);
    for (char *s = name; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    hc->items[hc->n].name = name;
    hc->items[hc->n].value = oc_arena_strdup(hc->r->arena, value ? value : "");
    hc->n++;
    return MHD_YES;
}

const char *oc_http_header(const struct oc_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void oc_http_add_header(struct oc_http_req *r, const char *name, const char *value)
{
    struct http_resp_header *h = oc_arena_alloc(r->arena, sizeof(*h));
    struct http_resp_header **tail = &r->priv->hdrs;

    h->name = oc_arena_strdup(r->arena, name);
    h->value = oc_arena_strdup(r->arena, value);
    while (*tail)
        tail = &(*tail)->next;
    *tail = h;
}

int oc_http_responded(const struct oc_http_req *r)
{
    return r->priv->resp != NULL || r->priv->queued;
}

/* Installs resp as r's answer; takes the lock because a completer thread may call. */
static int http_set_response(struct oc_http_req *r, unsigned status, struct MHD_Response *resp,
                             const char *content_type)
{
    struct oc_http_priv *p = r->priv;

    if (!resp)
        return OC_ENOMEM;
    if (content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    pthread_mutex_lock(&p->lock);
    if (p->resp || p->queued) {
        pthread_mutex_unlock(&p->lock);
        MHD_destroy_response(resp);
        return OC_EINVAL;
    }
    p->resp = resp;
    p->status = status;
    pthread_mutex_unlock(&p->lock);
    return OC_OK;
}

int oc_http_respond(struct oc_http_req *r, int status, const char *content_type,
                    const void *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);

    return http_set_response(r, (unsigned)status, resp, content_type);
}

int oc_http_respond_buf(struct oc_http_req *r, int status, const char *content_type,
                        struct oc_buf *body)
{
    size_t len = body->len;
    char *data = oc_buf_steal(body);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);

    if (!resp)
        free(data);
    return http_set_response(r, (unsigned)status, resp, content_type);
}

int oc_http_respond_ref(struct oc_http_req *r, int status, const char *content_type,
                        const void *body, size_t len, void (*release)(void *cls), void *cls)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback_cls(
        len, (void *)(uintptr_t)(len ? body : ""), release, cls);

    if (!resp)
        release(cls);
    return http_set_response(r, (unsigned)status, resp, content_type);
}

int oc_http_respond_fd(struct oc_http_req *r, int status, int fd, uint64_t offset, uint64_t len)
{
    struct MHD_Response *resp;

    if (len == 0) {
        /* MHD rejects zero-length fd responses on some versions; send nothing instead. */
        close(fd);
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        resp = MHD_create_response_from_fd_at_offset64(len, fd, offset);
        if (!resp)
            close(fd);
    }
    return http_set_response(r, (unsigned)status, resp, NULL);
}

void oc_http_suspend(struct oc_http_req *r)
{
    r->priv->want_suspend = 1;
}

void oc_http_resume(struct oc_http_req *r)
{
    struct oc_http_priv *p = r->priv;

    /* After this unlock the completer must not touch r again: the MHD
     * thread may complete and free the request at once. */
    pthread_mutex_lock(&p->lock);
    p->resumed = 1;
    if (p->suspended) {
        p->suspended = 0;
        MHD_resume_connection(p->conn);
    }
    pthread_mutex_unlock(&p->lock);
}

/* Hands the chosen response to MHD. Called only on the connection's thread. */
static enum MHD_Result http_queue(struct oc_http_req *r)
{
    struct oc_http_priv *p = r->priv;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    pthread_mutex_lock(&p->lock);
    resp = p->resp;
    pthread_mutex_unlock(&p->lock);
    for (struct http_resp_header *h = p->hdrs; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    ret = MHD_queue_response(p->conn, p->status, resp);
    if (ret == MHD_YES) {
        MHD_destroy_response(resp);
        p->resp = NULL;
        p->queued = 1;
    }
    return ret;
}

static int http_has_body(const struct oc_http_req *r)
{
    return r->content_length > 0 || oc_http_header(r, "transfer-encoding") != NULL;
}

/*
 * Whether to refuse a request before reading its body.  Only when the
 * client is waiting for "100 Continue" (it has sent nothing yet) or the
 * declared body is too big to be worth draining; otherwise the body is
 * drained so the client can read the error (a client that is still writing
 * when the server closes gets EPIPE/ECONNRESET instead of the answer).
 */
#define HTTP_DRAIN_MAX (64ULL * 1024 * 1024)

static int http_answer_early(const struct oc_http_req *r)
{
    const char *expect = oc_http_header(r, "expect");

    if (expect && strcasecmp(expect, "100-continue") == 0)
        return 1;
    return r->content_length > 0 && (uint64_t)r->content_length > HTTP_DRAIN_MAX;
}

static void http_server_error(struct oc_http_req *r, int status, const char *code,
                              const char *msg)
{
    struct oc_http_server *srv = r->priv->srv;

    if (srv->h.on_error)
        srv->h.on_error(r, srv->h.ctx, status, code, msg);
    if (!oc_http_responded(r))
        (void)oc_http_respond(r, status, "text/plain", msg, strlen(msg));
}

static void http_begin(struct oc_http_req *r, struct MHD_Connection *conn, const char *method)
{
    struct oc_http_priv *p = r->priv;
    struct oc_http_server *srv = p->srv;
    struct header_collect hc = { .r = r };
    const char *q = memchr(p->raw_uri, '?', p->raw_uri_len);
    const char *cl;

    r->method = oc_arena_strdup(r->arena, method);
    if (q) {
        r->path = oc_arena_strndup(r->arena, p->raw_uri, (size_t)(q - p->raw_uri));
        r->query = q + 1;
    } else {
        r->path = p->raw_uri;
        r->query = "";
    }
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http_collect_header, &hc);
    r->headers = hc.items;
    r->nheaders = hc.n;
    cl = oc_http_header(r, "content-length");
    if (cl) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(cl, &end, 10);
        if (!errno && end != cl && !*end && cl[0] != '-')
            r->content_length = (int64_t)v;
    }
    p->started = 1;
    if (p->raw_uri_len > srv->cfg.max_url_len) {
        http_server_error(r, 414, "RequestURITooLong", "The request URI is too long.");
        return;
    }
    if (r->content_length > 0 && (uint64_t)r->content_length > srv->cfg.max_body_bytes) {
        http_server_error(r, 400, "EntityTooLarge",
                          "Your proposed upload exceeds the maximum allowed size");
        return;
    }
    if (srv->h.on_request)
        srv->h.on_request(r, srv->h.ctx);
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **con_cls)
{
    struct oc_http_server *srv = cls;
    struct oc_http_req *r = *con_cls;
    struct oc_http_priv *p = r->priv;

    if (p->queued)
        return MHD_YES;
    if (!p->started) {
        http_begin(r, conn, method);
        if (oc_http_responded(r) && http_has_body(r)) {
            if (http_answer_early(r)) {
                /* MHD skips "100 Continue" and the body, and closes the
                 * connection after the answer. */
                if (http_queue(r) == MHD_YES)
                    return MHD_YES;
            }
            /* Read and drop the body, then answer: a client still sending
             * would otherwise see a reset instead of our error. */
            p->discarding = 1;
        }
        /* A bodiless request is answered on MHD's next call: queueing it
         * this early would make MHD close a keep-alive connection. */
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;

        *upload_data_size = 0;
        r->body_received += n;
        if (r->body_received > srv->cfg.max_body_bytes)
            return MHD_NO;   /* unbounded body: drop the connection */
        if (p->discarding)
            return r->body_received > HTTP_DRAIN_MAX ? MHD_NO : MHD_YES;
        if (srv->h.on_body)
            srv->h.on_body(r, upload_data, n, srv->h.ctx);
        if (oc_http_responded(r))
            p->discarding = 1;
        return MHD_YES;
    }
    /* The body is complete (or there was none), or we were resumed. */
    if (!p->ended && !oc_http_responded(r)) {
        p->ended = 1;
        if (srv->h.on_end)
            srv->h.on_end(r, srv->h.ctx);
        /*
         * Suspend until oc_http_resume(), even when the answer is already
         * there: the completer still holds r until resume returns, so the
         * request must not complete (and be freed) before then.
         */
        pthread_mutex_lock(&p->lock);
        if (p->want_suspend && !p->resumed) {
            p->suspended = 1;
            MHD_suspend_connection(conn);
            pthread_mutex_unlock(&p->lock);
            return MHD_YES;
        }
        pthread_mutex_unlock(&p->lock);
    }
    if (p->want_suspend) {
        int resumed;

        pthread_mutex_lock(&p->lock);
        resumed = p->resumed;
        pthread_mutex_unlock(&p->lock);
        if (!resumed)
            return MHD_YES;   /* spurious wake-up; the completer will resume us */
    }
    if (!oc_http_responded(r)) {
        oc_error("handler gave no response to %s %s", r->method, r->path);
        http_server_error(r, 500, "InternalError", "We encountered an internal error.");
    }
    return http_queue(r);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    struct oc_http_server *srv = cls;
    struct oc_http_req *r = *con_cls;

    if (!r)
        return;
    if (srv->h.on_done && r->priv->started)
        srv->h.on_done(r, srv->h.ctx, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
    if (r->priv->resp)
        MHD_destroy_response(r->priv->resp);
    pthread_mutex_destroy(&r->priv->lock);
    oc_arena_free(r->arena);
    *con_cls = NULL;
}

static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    oc_debug("libmicrohttpd: %s", msg);
}

/*
 * The CPUs this process may run on (its affinity mask, as taskset or a
 * cpuset leaves it), not all the machine's: more polling threads than
 * usable CPUs only take turns on the same ones.
 */
static long usable_cores(void)
{
    cpu_set_t set;

    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
}

int oc_http_start(const struct oc_http_config *cfg, const struct oc_http_handler *h,
                  struct oc_http_server **out, struct oc_err *err)
{
    struct oc_http_server *srv = calloc(1, sizeof(*srv));
    struct sockaddr_in sin = { .sin_family = AF_INET };
    const union MHD_DaemonInfo *di;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    struct MHD_OptionItem pool[2] = { { MHD_OPTION_END, 0, NULL },
                                      { MHD_OPTION_END, 0, NULL } };
    long cores;

    if (!srv)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    srv->h = *h;
    srv->cfg = *cfg;
    cores = usable_cores();
    if (!srv->cfg.threads)
        srv->cfg.threads = cores > 0 ? (unsigned)cores : 1;
    if (!srv->cfg.max_connections)
        srv->cfg.max_connections = 1024;
    /* MHD zeroes the unused part of this pool for every request on a
     * keep-alive connection, so it is not free: 32 KiB is MHD's own default
     * and fits S3's 8 KiB header limit with room for the read buffer. */
    if (!srv->cfg.max_header_bytes)
        srv->cfg.max_header_bytes = 32 * 1024;
    if (!srv->cfg.max_url_len)
        srv->cfg.max_url_len = 8 * 1024;
    if (!srv->cfg.max_body_bytes)
        srv->cfg.max_body_bytes = 5ULL * 1024 * 1024 * 1024;
    if (!srv->cfg.timeout_s)
        srv->cfg.timeout_s = 60;
    sin.sin_port = htons(cfg->port);
    if (cfg->bind_addr && *cfg->bind_addr) {
        if (inet_pton(AF_INET, cfg->bind_addr, &sin.sin_addr) != 1) {
            free(srv);
            return oc_err_set(err, OC_EINVAL, "bind address '%s' is not an IPv4 address",
                              cfg->bind_addr);
        }
    } else {
        sin.sin_addr.s_addr = htonl(INADDR_ANY);
    }
    /* One thread is MHD's internal polling thread itself: no pool (MHD
     * warns about a pool of 1). */
    pool[0].option = srv->cfg.threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END;
    pool[0].value = (intptr_t)srv->cfg.threads;
    srv->d = MHD_start_daemon(
        flags, cfg->port, NULL, NULL, http_access, srv,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        /* A socket the caller bound (inside a network namespace): MHD
         * creates none of its own then. */
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)(cfg->listen_fd > 0 ? cfg->listen_fd
                                                                   : MHD_INVALID_SOCKET),
        MHD_OPTION_ARRAY, pool,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)srv->cfg.max_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)srv->cfg.max_header_bytes,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)srv->cfg.timeout_s,
        MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, srv,
        MHD_OPTION_UNESCAPE_CALLBACK, http_unescape_noop, srv,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed, srv,
        MHD_OPTION_EXTERNAL_LOGGER, http_mhd_log, srv,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (!srv->d) {
        int e = errno;
        free(srv);
        return oc_err_set(err, OC_EIO, "cannot listen on %s:%u: %s",
                          cfg->bind_addr ? cfg->bind_addr : "0.0.0.0", cfg->port,
                          e ? strerror(e) : "libmicrohttpd refused the options");
    }
    di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : cfg->port;
    *out = srv;
    return OC_OK;
}

uint16_t oc_http_port(const struct oc_http_server *s)
{
    return s->port;
}

void oc_http_stop(struct oc_http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
