/*
 * mdproxy.c - the instance metadata proxy (see mdproxy.h).
 */
#include "cc/mdproxy.h"

#include "cc/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/http.h"
#include "common/httpc.h"
#include "common/log.h"

#define MD_MAX_PATH 1024

struct cc_mdproxy {
    struct cc_mdproxy_config cfg;
    char *upstream, *ak, *sk, *region;
    struct oc_http_server *srv;
};

/* ------------------------------------------------------------------ */
/* a socket inside a namespace */

struct listen_job {
    const char *ip;
    unsigned port;
    int fd;
};

static int listen_here(void *arg, struct oc_err *err)
{
    struct listen_job *j = arg;
    struct sockaddr_in sin = { 0 };
    int one = 1, fd;

    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)j->port);
    if (inet_pton(AF_INET, j->ip, &sin.sin_addr) != 1)
        return oc_err_set(err, OC_EINVAL, "'%.40s' is not an IPv4 address", j->ip);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 || listen(fd, 256) != 0) {
        int e = errno;

        if (fd >= 0)
            close(fd);
        return oc_err_set(err, OC_EIO, "cannot listen on %s:%u: %s", j->ip, j->port,
                          strerror(e));
    }
    j->fd = fd;
    return OC_OK;
}

int cc_listen_in_netns(const char *netns, const char *ip, unsigned port, int *fd,
                       struct oc_err *err)
{
    struct listen_job j = { ip, port, -1 };
    int rc;

    if (port > 65535)
        return oc_err_set(err, OC_EINVAL, "port %u is out of range", port);
    rc = cc_netns_run(netns, listen_here, &j, err);
    if (rc)
        return rc;
    *fd = j.fd;
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* requests */

static void reply(struct oc_http_req *r, int status, const char *text)
{
    oc_http_respond(r, status, "text/plain", text, strlen(text));
}

/* A plain path: /, then safe characters, no dot segments, bounded. */
static int plain_path(const char *p)
{
    size_t n = strlen(p);

    if (n < 1 || n > MD_MAX_PATH || p[0] != '/')
        return 0;
    if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./") != n)
        return 0;
    return !strstr(p, "/../") && !strstr(p, "/./") && !strstr(p, "//") &&
           (n < 3 || strcmp(p + n - 3, "/..") != 0) && (n < 2 || strcmp(p + n - 2, "/.") != 0);
}

static void md_on_request(struct oc_http_req *r, void *ctx)
{
    struct cc_mdproxy *p = ctx;
    char id[24], path[MD_MAX_PATH + 64];
    struct oc_httpc_config hc = { p->upstream, p->ak, p->sk, p->region, 10000 };
    struct oc_httpc *h = NULL;
    struct oc_httpc_resp resp = { 0 };
    struct oc_err err = { 0 };

    if (strcmp(r->method, "GET") != 0) {
        reply(r, 405, "the metadata service answers GET only\n");
        return;
    }
    if (!plain_path(r->path) || r->query[0]) {
        reply(r, 400, "bad path\n");
        return;
    }
    if (!r->remote_addr || p->cfg.instance_of(p->cfg.ctx, r->remote_addr, id) != OC_OK) {
        oc_log(OC_LOG_INFO, "metadata: %s is no instance's address",
               r->remote_addr ? r->remote_addr : "?");
        reply(r, 403, "not an instance of this cluster\n");
        return;
    }
    snprintf(path, sizeof(path), "/services/metadata/%s%s", id, r->path);
    if (oc_httpc_new(&hc, &h, &err) != OC_OK ||
        oc_httpc_request(h, "GET", "metadata", path, NULL, NULL, 0, -1, &resp, &err) != OC_OK) {
        oc_log(OC_LOG_WARN, "metadata for %s: %s", id, err.msg);
        oc_httpc_free(h);
        oc_httpc_resp_free(&resp);
        reply(r, 502, "the metadata service cannot be reached\n");
        return;
    }
    oc_httpc_free(h);
    if (oc_http_respond(r, (int)resp.status, "text/plain", resp.body.data, resp.body.len) !=
        OC_OK)
        reply(r, 500, "internal error\n");
    oc_httpc_resp_free(&resp);
}

static void md_on_end(struct oc_http_req *r, void *ctx)
{
    (void)ctx;
    if (!oc_http_responded(r))
        reply(r, 400, "bad request\n");
}

static void md_on_error(struct oc_http_req *r, void *ctx, int status, const char *aws_code,
                        const char *message)
{
    (void)ctx;
    (void)aws_code;
    (void)message;
    reply(r, status, "bad request\n");
}

int cc_mdproxy_start(const struct cc_mdproxy_config *cfg, struct cc_mdproxy **out,
                     struct oc_err *err)
{
    struct cc_mdproxy *p;
    struct oc_http_config hc = { 0 };
    struct oc_http_handler h = { 0 };
    int fd = -1, rc;

    if (!cfg->instance_of || !cfg->upstream || !cfg->bind_ip)
        return oc_err_set(err, OC_EINVAL, "metadata proxy: bind_ip, upstream and instance_of "
                                          "are required");
    p = calloc(1, sizeof(*p));
    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    p->cfg = *cfg;
    p->upstream = strdup(cfg->upstream);
    p->ak = strdup(cfg->access_key_id ? cfg->access_key_id : "");
    p->sk = strdup(cfg->secret_key ? cfg->secret_key : "");
    p->region = strdup(cfg->region ? cfg->region : "us-east-1");
    if (!p->upstream || !p->ak || !p->sk || !p->region) {
        cc_mdproxy_stop(p);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    if ((rc = cc_listen_in_netns(cfg->netns, cfg->bind_ip, cfg->port, &fd, err))) {
        cc_mdproxy_stop(p);
        return rc;
    }
    hc.listen_fd = fd;
    hc.threads = cfg->threads ? cfg->threads : 4;
    hc.max_body_bytes = 1;          /* GETs have no body */
    hc.max_url_len = MD_MAX_PATH + 64;
    hc.timeout_s = 15;
    h.on_request = md_on_request;
    h.on_end = md_on_end;
    h.on_error = md_on_error;
    h.ctx = p;
    if ((rc = oc_http_start(&hc, &h, &p->srv, err))) {
        close(fd);
        cc_mdproxy_stop(p);
        return rc;
    }
    *out = p;
    return OC_OK;
}

uint16_t cc_mdproxy_port(const struct cc_mdproxy *p)
{
    return oc_http_port(p->srv);
}

void cc_mdproxy_stop(struct cc_mdproxy *p)
{
    if (!p)
        return;
    oc_http_stop(p->srv);
    free(p->upstream);
    free(p->ak);
    if (p->sk)
        memset(p->sk, 0, strlen(p->sk));
    free(p->sk);
    free(p->region);
    free(p);
}
