/*
 * http.h - the HTTP server every Overcast daemon uses, on libmicrohttpd.
 *
 * MHD runs an epoll thread pool sized to the cores.  For each request the
 * server creates a struct oc_http_req with its own arena (freed when MHD
 * completes the request) and a request id, then drives the handler:
 *
 *   on_request  headers are complete.  The handler may respond at once (an
 *               error, a GET, a HEAD); any body is then discarded.
 *   on_body     zero or more times with pieces of the body, as they arrive;
 *               the body is never buffered whole.  Responding stops it.
 *   on_end      the body is complete (also called for bodiless requests
 *               that were not answered in on_request).  The handler must
 *               respond, or call oc_http_suspend() and respond later from
 *               any thread followed by oc_http_resume().
 *   on_done     exactly once, when MHD is finished with the request; ok is
 *               1 when a response was queued and the request completed.
 *   on_error    the server itself refuses a request (URL too long, body
 *               over the limit, malformed framing): the handler writes the
 *               error in its API's format.
 *
 * The path and query are passed raw (still percent-encoded) because
 * signatures are computed over what the client sent.
 */
#ifndef OC_HTTP_H
#define OC_HTTP_H

#include <stdint.h>
#include <stddef.h>
#include "common/err.h"
#include "common/arena.h"
#include "common/buf.h"
#include "common/ids.h"

struct oc_http_header {
    const char *name;    /* lowercase */
    const char *value;
};

struct oc_http_priv;

struct oc_http_req {
    struct oc_arena *arena;
    char request_id[OC_REQUEST_ID_LEN + 1];
    const char *method;          /* "GET", "PUT", ... */
    const char *path;            /* raw path, e.g. "/bucket/a%20b" */
    const char *query;           /* raw query after '?', "" when none */
    const struct oc_http_header *headers;
    size_t nheaders;
    const char *remote_addr;     /* numeric address of the peer */
    int64_t content_length;      /* -1 when the request had none */
    uint64_t body_received;      /* bytes delivered to on_body so far */
    void *data;                  /* the handler's own per-request state */
    struct oc_http_priv *priv;
};

struct oc_http_handler {
    void (*on_request)(struct oc_http_req *r, void *ctx);
    void (*on_body)(struct oc_http_req *r, const char *data, size_t len, void *ctx);
    void (*on_end)(struct oc_http_req *r, void *ctx);
    void (*on_done)(struct oc_http_req *r, void *ctx, int ok);
    void (*on_error)(struct oc_http_req *r, void *ctx, int status, const char *aws_code,
                     const char *message);
    void *ctx;
};

struct oc_http_config {
    const char *bind_addr;       /* "127.0.0.1", "0.0.0.0"; NULL = any */
    uint16_t port;               /* 0 = pick a free port (see oc_http_port) */
    unsigned threads;            /* 0 = CPUs in the affinity mask */
    unsigned max_connections;    /* 0 = 1024 */
    size_t max_header_bytes;     /* per-connection memory for headers; 0 = 32 KiB */
    size_t max_url_len;          /* 0 = 8 KiB */
    uint64_t max_body_bytes;     /* 0 = 5 GiB */
    unsigned timeout_s;          /* idle connection timeout; 0 = 60 */
    int listen_fd;               /* > 0: an already bound, listening socket the
                                  * server takes over (one opened inside a
                                  * network namespace); bind_addr and port
                                  * are then not used */
};

struct oc_http_server;

int oc_http_start(const struct oc_http_config *cfg, const struct oc_http_handler *h,
                  struct oc_http_server **out, struct oc_err *err) OC_WUR;
uint16_t oc_http_port(const struct oc_http_server *s);
void oc_http_stop(struct oc_http_server *s);

/* Case-insensitive request header lookup; NULL when absent. */
const char *oc_http_header(const struct oc_http_req *r, const char *name);

/* Adds a response header (call before or after choosing the body). */
void oc_http_add_header(struct oc_http_req *r, const char *name, const char *value);
/* Responds with a copy of body (may be NULL with len 0). */
int oc_http_respond(struct oc_http_req *r, int status, const char *content_type,
                    const void *body, size_t len);
/* Responds with the buffer's bytes; the buffer is emptied (ownership moves). */
int oc_http_respond_buf(struct oc_http_req *r, int status, const char *content_type,
                        struct oc_buf *body);
/* Responds with len bytes of fd from offset, sent with sendfile; the fd is
 * owned by the response from now on and closed by it. */
int oc_http_respond_fd(struct oc_http_req *r, int status, int fd, uint64_t offset,
                       uint64_t len);
/* Responds with len bytes at body without copying them: release(cls) is
 * called once the response is done with them (at once if it fails). */
int oc_http_respond_ref(struct oc_http_req *r, int status, const char *content_type,
                        const void *body, size_t len, void (*release)(void *cls), void *cls);
/* Whether a response has been chosen for r. */
int oc_http_responded(const struct oc_http_req *r);

/* Asynchronous completion: call in on_end, respond later, then resume. */
void oc_http_suspend(struct oc_http_req *r);
void oc_http_resume(struct oc_http_req *r);

#endif
