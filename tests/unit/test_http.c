/* Unit tests for the HTTP server (common/http.c), driven by libcurl over loopback. */
#include "tests/unit/harness.h"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/http.h"

struct test_state {
    uint64_t bytes;
    unsigned pieces;
    struct oc_digest *sha;
};

static atomic_int done_calls, error_calls;
static char fd_path[256];

static void t_on_request(struct oc_http_req *r, void *ctx)
{
    if (strcmp(r->path, "/deny") == 0) {
        oc_http_respond(r, 403, "text/plain", "denied", 6);
        return;
    }
    if (strcmp(r->path, "/hello") == 0) {
        char body[512];
        const char *hx = oc_http_header(r, "X-Test");

        snprintf(body, sizeof(body), "method=%s path=%s query=%s x-test=%s", r->method, r->path,
                 r->query, hx ? hx : "-");
        oc_http_add_header(r, "x-amz-request-id", r->request_id);
        oc_http_respond(r, 200, "text/plain", body, strlen(body));
        return;
    }
    if (strcmp(r->path, "/file") == 0) {
        int fd = open(fd_path, O_RDONLY);

        oc_http_respond_fd(r, 206, fd, 3, 5);
        return;
    }
    if (strcmp(r->path, "/upload") == 0 || strcmp(r->path, "/late-error") == 0) {
        struct test_state *st = oc_arena_alloc(r->arena, sizeof(*st));

        st->sha = oc_digest_new(OC_DIGEST_SHA256);
        r->data = st;
    }
}

static void t_on_body(struct oc_http_req *r, const char *data, size_t len, void *ctx)
{
    struct test_state *st = r->data;

    if (!st)
        return;
    st->bytes += len;
    st->pieces++;
    oc_digest_update(st->sha, data, len);
    if (strcmp(r->path, "/late-error") == 0 && st->bytes > 100000)
        oc_http_respond(r, 400, "text/plain", "bad body", 8);
}

static void *t_completer(void *arg)
{
    struct oc_http_req *r = arg;

    usleep(50 * 1000);
    oc_http_respond(r, 200, "text/plain", "later", 5);
    oc_http_resume(r);
    return NULL;
}

static void t_on_end(struct oc_http_req *r, void *ctx)
{
    struct test_state *st = r->data;

    if (st) {
        uint8_t d[32];
        char hex[65], body[200];

        oc_digest_final(st->sha, d);
        oc_hex_encode(d, 32, hex);
        snprintf(body, sizeof(body), "%llu %u %s", (unsigned long long)st->bytes, st->pieces,
                 hex);
        oc_http_respond(r, 200, "text/plain", body, strlen(body));
        return;
    }
    if (strcmp(r->path, "/async") == 0) {
        pthread_t t;

        oc_http_suspend(r);
        pthread_create(&t, NULL, t_completer, r);
        pthread_detach(t);
        return;
    }
    oc_http_respond(r, 404, "text/plain", "nope", 4);
}

static void t_on_done(struct oc_http_req *r, void *ctx, int ok)
{
    struct test_state *st = r->data;

    if (st)
        oc_digest_free(st->sha);
    atomic_fetch_add(&done_calls, 1);
}

static void t_on_error(struct oc_http_req *r, void *ctx, int status, const char *code,
                       const char *msg)
{
    char body[256];

    atomic_fetch_add(&error_calls, 1);
    snprintf(body, sizeof(body), "<Error><Code>%s</Code></Error>", code);
    oc_http_respond(r, status, "application/xml", body, strlen(body));
}

struct sink {
    char data[4096];
    size_t len;
};

static size_t t_write(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t k = size * n;

    if (s->len + k < sizeof(s->data)) {
        memcpy(s->data + s->len, p, k);
        s->len += k;
        s->data[s->len] = '\0';
    }
    return k;
}

struct source {
    size_t left;
    unsigned seed;
};

static size_t t_read(char *p, size_t size, size_t n, void *arg)
{
    struct source *s = arg;
    size_t k = size * n < s->left ? size * n : s->left;

    for (size_t i = 0; i < k; i++)
        p[i] = (char)(s->seed = s->seed * 1103515245 + 12345) >> 16;
    s->left -= k;
    return k;
}

static long t_request(CURL *c, const char *url, const char *method, struct sink *out,
                      struct source *body, long body_len)
{
    long status = 0;
    struct curl_slist *h = curl_slist_append(NULL, "X-Test: yes");

    out->len = 0;
    out->data[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, t_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_UPLOAD, body ? 1L : 0L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_READFUNCTION, t_read);
        curl_easy_setopt(c, CURLOPT_READDATA, body);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)body_len);
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

/* Sends a PUT with a body of len bytes in full (blocking writes, no Expect),
 * then reads the response.  Returns bytes read, or -1 if a write failed. */
static long raw_put_then_read(uint16_t port, const char *path, size_t len, char *resp,
                              size_t cap)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char hdr[256], chunk[65536];
    size_t sent = 0, got = 0;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
        return -1;
    snprintf(hdr, sizeof(hdr), "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
             path, len);
    if (send(fd, hdr, strlen(hdr), MSG_NOSIGNAL) < 0) {
        close(fd);
        return -1;
    }
    memset(chunk, 'a', sizeof(chunk));
    while (sent < len) {
        size_t k = len - sent < sizeof(chunk) ? len - sent : sizeof(chunk);
        ssize_t w = send(fd, chunk, k, MSG_NOSIGNAL);

        if (w <= 0) {
            close(fd);
            return -1;
        }
        sent += (size_t)w;
    }
    while (got + 1 < cap) {
        ssize_t r = recv(fd, resp + got, cap - 1 - got, 0);

        if (r <= 0)
            break;
        got += (size_t)r;
        resp[got] = '\0';
        if (strstr(resp, "denied"))
            break;
    }
    close(fd);
    return (long)got;
}

OC_TEST(http_server_end_to_end)
{
    struct oc_http_handler h = { t_on_request, t_on_body, t_on_end, t_on_done, t_on_error, NULL };
    struct oc_http_config cfg = { .bind_addr = "127.0.0.1", .port = 0, .threads = 2,
                                  .max_url_len = 512, .max_body_bytes = 64 << 20 };
    struct oc_http_server *srv;
    struct oc_err err = { 0 };
    struct sink out;
    char url[1024], base[64];
    CURL *c;
    long connects = -1;
    int fd;

    snprintf(fd_path, sizeof(fd_path), "%s/http-file", oc_test_tmpdir());
    fd = open(fd_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    CHECK_INT(write(fd, "0123456789", 10), 10);
    close(fd);

    CHECK_INT(oc_http_start(&cfg, &h, &srv, &err), 0);
    if (err.code)
        return;
    CHECK(oc_http_port(srv) != 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%u", oc_http_port(srv));
    c = curl_easy_init();

    /* Raw path and query reach the handler undecoded ('+' stays '+'). */
    snprintf(url, sizeof(url), "%s/hello?a=b+c&d%%2Fe", base);
    CHECK_INT(t_request(c, url, "GET", &out, NULL, 0), 200);
    CHECK_STR(out.data, "method=GET path=/hello query=a=b+c&d%2Fe x-test=yes");

    /* Keep-alive: the second request reuses the connection. */
    CHECK_INT(t_request(c, url, "GET", &out, NULL, 0), 200);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    CHECK_INT(connects, 0);

    /* A 10 MiB body arrives in many pieces and hashes the same as sent. */
    {
        struct source src = { 10 << 20, 42 }, copy = { 10 << 20, 42 };
        struct oc_digest *d = oc_digest_new(OC_DIGEST_SHA256);
        char buf[65536], hex[65], expect[128];
        uint8_t dg[32];
        unsigned pieces = 0;

        while (copy.left) {
            size_t k = t_read(buf, 1, sizeof(buf), &copy);
            oc_digest_update(d, buf, k);
        }
        oc_digest_final(d, dg);
        oc_digest_free(d);
        oc_hex_encode(dg, 32, hex);
        snprintf(url, sizeof(url), "%s/upload", base);
        CHECK_INT(t_request(c, url, "PUT", &out, &src, 10 << 20), 200);
        snprintf(expect, sizeof(expect), "%d ", 10 << 20);
        CHECK(strncmp(out.data, expect, strlen(expect)) == 0);
        CHECK(strstr(out.data, hex) != NULL);
        sscanf(out.data, "%*s %u", &pieces);
        CHECK(pieces > 1);
    }

    /* Responses from a file descriptor, at an offset. */
    snprintf(url, sizeof(url), "%s/file", base);
    CHECK_INT(t_request(c, url, "GET", &out, NULL, 0), 206);
    CHECK_STR(out.data, "34567");

    /* Suspended request completed from another thread. */
    snprintf(url, sizeof(url), "%s/async", base);
    CHECK_INT(t_request(c, url, "GET", &out, NULL, 0), 200);
    CHECK_STR(out.data, "later");

    /* Early refusal of an upload. */
    {
        struct source src = { 1 << 20, 1 };
        snprintf(url, sizeof(url), "%s/deny", base);
        CHECK_INT(t_request(c, url, "PUT", &out, &src, 1 << 20), 403);
        CHECK_STR(out.data, "denied");
    }

    /* Early refusal without "Expect: 100-continue" (curl sends none below
     * 1 MiB): the body is drained so the client reads the answer. */
    {
        /* A naive client: writes the whole body before reading anything. */
        char resp[512];
        long n = raw_put_then_read(oc_http_port(srv), "/deny", 8 << 20, resp, sizeof(resp));

        CHECK(n > 0);
        CHECK(strncmp(resp, "HTTP/1.1 403", 12) == 0);
        CHECK(strstr(resp, "denied") != NULL);
    }

    /* Refusal in the middle of a body goes out after the body. */
    {
        struct source src = { 1 << 20, 1 };
        snprintf(url, sizeof(url), "%s/late-error", base);
        CHECK_INT(t_request(c, url, "PUT", &out, &src, 1 << 20), 400);
        CHECK_STR(out.data, "bad body");
    }

    /* Limits: URL length and declared body size go through on_error. */
    {
        int before = atomic_load(&error_calls);
        struct source src = { 100, 1 };

        snprintf(url, sizeof(url), "%s/hello?", base);
        memset(url + strlen(url), 'x', 600);
        url[strlen(base) + 7 + 600] = '\0';
        CHECK_INT(t_request(c, url, "GET", &out, NULL, 0), 414);
        CHECK(strstr(out.data, "RequestURITooLong") != NULL);
        snprintf(url, sizeof(url), "%s/upload", base);
        CHECK_INT(t_request(c, url, "PUT", &out, &src, (long)(65 << 20)), 400);
        CHECK(strstr(out.data, "EntityTooLarge") != NULL);
        CHECK_INT(atomic_load(&error_calls) - before, 2);
    }

    /* Header larger than the per-connection memory: MHD refuses it. */
    {
        struct curl_slist *hl = NULL;
        char *big = malloc(128 * 1024);
        long status = 0;
        CURL *c2 = curl_easy_init();

        memcpy(big, "X-Big: ", 7);
        memset(big + 7, 'a', 128 * 1024 - 8);
        big[128 * 1024 - 1] = '\0';
        hl = curl_slist_append(hl, big);
        snprintf(url, sizeof(url), "%s/hello", base);
        curl_easy_setopt(c2, CURLOPT_URL, url);
        curl_easy_setopt(c2, CURLOPT_HTTPHEADER, hl);
        curl_easy_setopt(c2, CURLOPT_WRITEFUNCTION, t_write);
        curl_easy_setopt(c2, CURLOPT_WRITEDATA, &out);
        if (curl_easy_perform(c2) == CURLE_OK)
            curl_easy_getinfo(c2, CURLINFO_RESPONSE_CODE, &status);
        CHECK(status == 0 || status >= 400);
        CHECK(status != 200);
        curl_slist_free_all(hl);
        curl_easy_cleanup(c2);
        free(big);
    }

    curl_easy_cleanup(c);
    oc_http_stop(srv);
    /* Every request that reached a handler was completed exactly once. */
    CHECK(atomic_load(&done_calls) >= 9);
}
