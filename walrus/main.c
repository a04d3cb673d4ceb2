/*
 * main.c - overcast-walrus: the S3 daemon.
 *
 *   overcast-walrus [--config FILE] [--home DIR] [--port N] [--bind ADDR]
 *
 * OVERCAST_HOME (default /var/lib/overcast, or --home) holds walrus/: the
 * store, and clc-credentials, Walrus's own key for asking the CLC to check
 * signatures (written by `overcast-clc bootstrap`).  The configuration file
 * defaults to $OVERCAST_HOME/etc/overcast.conf when it exists; keys:
 * WALRUS_PORT (8780), WALRUS_BIND (127.0.0.1), WALRUS_THREADS (cores),
 * WALRUS_DNS_DOMAIN (s3.localhost), WALRUS_MAX_OBJECT_SIZE (5 GiB),
 * WALRUS_OBJECT_CACHE (metadata cache entries, 65536; 0 = off),
 * WALRUS_BODY_CACHE_MB (bytes of small objects kept in memory, 64; 0 = off),
 * LOGLEVEL (INFO), REGION (us-east-1), CLC_URL (http://127.0.0.1:8773).
 * Command-line options win.
 *
 * SIGTERM and SIGINT stop it cleanly: new requests are refused, in-flight
 * commits answer, then the HTTP server and the store close.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/cred_remote.h"
#include "common/daemon.h"
#include "common/httpc.h"
#include "common/fsutil.h"
#include "common/http.h"
#include "common/log.h"
#include "common/xml.h"
#include "walrus/s3.h"
#include "walrus/store.h"

#define DEFAULT_PORT 8780

static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-walrus [--config FILE] [--home DIR] [--port N] [--bind ADDR]\n"
            "\n"
            "  --config FILE  overcast.conf (default $OVERCAST_HOME/etc/overcast.conf)\n"
            "  --home DIR     OVERCAST_HOME (default $OVERCAST_HOME or " OC_DEFAULT_HOME ")\n"
            "  --port N       listening port (WALRUS_PORT, default 8780)\n"
            "  --bind ADDR    listening IPv4 address (WALRUS_BIND, default 127.0.0.1)\n");
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);

    if (!p) {
        fprintf(stderr, "overcast-walrus: out of memory\n");
        exit(1);
    }
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

int main(int argc, char **argv)
{
    const char *home;
    char *walrus_dir = NULL, *ak = NULL, *sk = NULL;
    struct oc_daemon d;
    struct oc_config *conf;
    struct oc_cred_remote *creds = NULL;
    struct oc_cred_source source;
    struct wal_store *store = NULL;
    struct wal_s3 *s3 = NULL;
    struct oc_http_server *srv = NULL;
    struct oc_http_handler handler;
    struct wal_s3_config sc = { 0 };
    struct oc_err err = { 0 };
    long long v, cache_entries = 0, body_mb = 0, inline_max = 0;
    int rc = oc_daemon_init(&d, "walrus", argc, argv, 0, usage);

    if (rc >= 0) {
        oc_daemon_end(&d);
        return rc;
    }
    rc = 1;
    conf = d.conf;
    home = d.home;
    if (oc_daemon_listen_config(&d, DEFAULT_PORT))
        goto cleanup;
    if (oc_config_get_int(conf, "WALRUS_MAX_OBJECT_SIZE", (long long)WAL_S3_DEFAULT_MAX_OBJECT,
                          &v, &err) != OC_OK || v <= 0) {
        oc_error("WALRUS_MAX_OBJECT_SIZE: %s", err.msg[0] ? err.msg : "must be positive");
        goto cleanup;
    }
    sc.max_object_size = (uint64_t)v;
    if (oc_config_get_int(conf, "WALRUS_OBJECT_CACHE", 65536, &cache_entries, &err) != OC_OK ||
        cache_entries < 0) {
        oc_error("WALRUS_OBJECT_CACHE: %s", err.msg[0] ? err.msg : "must not be negative");
        goto cleanup;
    }
    if (oc_config_get_int(conf, "WALRUS_BODY_CACHE_MB", 64, &body_mb, &err) != OC_OK ||
        body_mb < 0 || body_mb > 1024 * 1024) {
        oc_error("WALRUS_BODY_CACHE_MB: %s", err.msg[0] ? err.msg : "must be 0 to 1048576");
        goto cleanup;
    }
    if (oc_config_get_int(conf, "WALRUS_INLINE_MAX", WAL_STORE_INLINE_MAX, &inline_max, &err) !=
            OC_OK || inline_max < 0 || inline_max > WAL_STORE_INLINE_MAX) {
        oc_error("WALRUS_INLINE_MAX: %s", err.msg[0] ? err.msg : "must be 0 to 65536");
        goto cleanup;
    }
    sc.dns_domain = oc_config_get(conf, "WALRUS_DNS_DOMAIN", WAL_S3_DEFAULT_DNS_DOMAIN);
    sc.region = oc_config_get(conf, "REGION", WAL_S3_DEFAULT_REGION);

    walrus_dir = path_join(home, "walrus");
    if (oc_daemon_component_key(&d, "walrus", "clc-credentials", &ak, &sk, &creds))
        goto cleanup;
    source = oc_cred_remote_source(creds);
    if (wal_store_open(walrus_dir, &store, &err) != OC_OK) {
        oc_error("store %s: %s", walrus_dir, err.msg);
        goto cleanup;
    }
    if (wal_store_set_inline_max(store, (size_t)inline_max, &err) != OC_OK) {
        oc_error("WALRUS_INLINE_MAX: %s", err.msg);
        goto cleanup;
    }
    if (wal_store_set_cache_size(store, (size_t)cache_entries, &err) != OC_OK)
        oc_warn("object metadata cache disabled: %s", err.msg);
    if (wal_store_set_body_cache(store, (size_t)body_mb * 1024 * 1024, &err) != OC_OK)
        oc_warn("object body cache disabled: %s", err.msg);
    if (wal_s3_new(&sc, store, &source, &s3, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }

    /* Signals are taken synchronously by this thread; every other thread
     * (MHD's, the store's, workers) inherits the blocked mask. */
    oc_daemon_block_signals(&d);

    wal_s3_http_handler(s3, &handler);
    d.http.max_body_bytes = wal_s3_max_body(s3);
    if (oc_http_start(&d.http, &handler, &srv, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }
    oc_info("overcast-walrus listening on %s:%u",
            d.http.bind_addr && *d.http.bind_addr ? d.http.bind_addr : "0.0.0.0",
            (unsigned)oc_http_port(srv));
    oc_daemon_wait(&d);
    {
        unsigned left = wal_s3_quiesce(s3, 5000);

        if (left)
            oc_warn("%u requests still in flight at shutdown", left);
    }
    rc = 0;
cleanup:
    oc_http_stop(srv);
    wal_store_close(store);
    wal_s3_free(s3);
    oc_cred_remote_free(creds);
    oc_daemon_end(&d);
    free(walrus_dir);
    free(ak);
    if (sk) {
        memset(sk, 0, strlen(sk));
        free(sk);
    }
    if (rc == 0)
        oc_info("stopped");
    return rc;
}
