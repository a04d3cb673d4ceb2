/*
 * mhd_hello.c - the cheapest libmicrohttpd server we can write, so that
 * tests/bench/s3.sh can show the load generator's own ceiling: the same wrk
 * load that drives overcast-walrus, pointed at a server that does no work.
 *
 * GET answers a fixed 4 KiB body from memory; PUT/POST read and discard
 * the body and answer 200 with an empty body.  Keep-alive as MHD does it.
 *
 * Usage: mhd_hello PORT [THREADS]   (binds 127.0.0.1; SIGTERM/SIGINT stop it)
 * Built by s3.sh: gcc -O2 mhd_hello.c $(pkg-config --cflags --libs libmicrohttpd)
 */
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY_SIZE 4096

static char body[BODY_SIZE];
static struct MHD_Response *get_resp;
static struct MHD_Response *put_resp;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version,
                              const char *upload_data, size_t *upload_size, void **state)
{
    static int marker;

    (void)cls;
    (void)url;
    (void)version;
    (void)upload_data;
    if (*state == NULL) {
        /* First call: headers only.  Answer on a later call so bodies are read. */
        *state = &marker;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;       /* discard this piece of the body */
        return MHD_YES;
    }
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
        return MHD_queue_response(conn, MHD_HTTP_OK, get_resp);
    return MHD_queue_response(conn, MHD_HTTP_OK, put_resp);
}

int main(int argc, char **argv)
{
    struct sockaddr_in addr;
    struct MHD_Daemon *d;
    unsigned threads;

    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [THREADS]\n", argv[0]);
        return 2;
    }
    threads = argc > 2 ? (unsigned)atoi(argv[2]) : 1;
    memset(body, 'x', sizeof(body));
    get_resp = MHD_create_response_from_buffer(sizeof(body), body, MHD_RESPMEM_PERSISTENT);
    put_resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (get_resp == NULL || put_resp == NULL)
        return 1;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(argv[1]));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                         handle, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_THREAD_POOL_SIZE, threads,
                         MHD_OPTION_CONNECTION_LIMIT, 10000u,
                         MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd_hello: cannot start on port %s\n", argv[1]);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("mhd_hello listening on 127.0.0.1:%s\n", argv[1]);
    fflush(stdout);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    MHD_destroy_response(get_resp);
    MHD_destroy_response(put_resp);
    return 0;
}
