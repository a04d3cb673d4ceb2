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
#include "common/httpc.h"
#include "common/fsutil.h"
#include "common/http.h"
#include "common/log.h"
#include "common/xml.h"
#include "walrus/s3.h"
#include "walrus/store.h"

#define DEFAULT_HOME "/var/lib/overcast"
#define DEFAULT_PORT 8780
#define DEFAULT_BIND "127.0.0.1"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-walrus [--config FILE] [--home DIR] [--port N] [--bind ADDR]\n"
            "\n"
            "  --config FILE  overcast.conf (default $OVERCAST_HOME/etc/overcast.conf)\n"
            "  --home DIR     OVERCAST_HOME (default $OVERCAST_HOME or " DEFAULT_HOME ")\n"
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
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "home", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *home = getenv("OVERCAST_HOME"), *port_arg = NULL;
    const char *bind_arg = NULL, *lvl;
    char *walrus_dir = NULL, *cred_file = NULL, *ak = NULL, *sk = NULL;
    char *default_conf = NULL;
    struct oc_config *conf = NULL;
    struct oc_cred_remote *creds = NULL;
    struct oc_cred_source source;
    struct wal_store *store = NULL;
    struct wal_s3 *s3 = NULL;
    struct oc_http_server *srv = NULL;
    struct oc_http_config hc = { 0 };
    struct oc_http_handler handler;
    struct wal_s3_config sc = { 0 };
    struct oc_err err = { 0 };
    enum oc_log_level level = OC_LOG_INFO;
    long long v, cache_entries = 0;
    sigset_t sigs;
    int sig = 0, c, rc = 1;

    while ((c = getopt_long(argc, argv, "c:H:p:b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'H': home = optarg; break;
        case 'p': port_arg = optarg; break;
        case 'b': bind_arg = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!home || !*home)
        home = DEFAULT_HOME;

    conf = oc_config_new();
    if (!conf) {
        fprintf(stderr, "overcast-walrus: out of memory\n");
        return 1;
    }
    default_conf = path_join(home, "etc/overcast.conf");
    if (!config_path && access(default_conf, R_OK) == 0)
        config_path = default_conf;
    if (config_path && oc_config_load(conf, config_path, &err) != OC_OK) {
        fprintf(stderr, "overcast-walrus: %s: %s\n", config_path, err.msg);
        goto cleanup;
    }
    lvl = oc_config_get(conf, "LOGLEVEL", "INFO");
    if (oc_log_level_parse(lvl, &level) != OC_OK) {
        fprintf(stderr, "overcast-walrus: LOGLEVEL '%s' is not DEBUG, INFO, WARN or ERROR\n",
                lvl);
        goto cleanup;
    }
    oc_log_init("walrus", level);
    oc_xml_init();

    hc.bind_addr = bind_arg ? bind_arg : oc_config_get(conf, "WALRUS_BIND", DEFAULT_BIND);
    if (port_arg) {
        if (oc_parse_port(port_arg, &hc.port) != 0) {
            oc_error("--port '%s' is not a port number", port_arg);
            goto cleanup;
        }
    } else {
        if (oc_config_get_int(conf, "WALRUS_PORT", DEFAULT_PORT, &v, &err) != OC_OK ||
            v < 0 || v > 65535) {
            oc_error("WALRUS_PORT: %s", err.msg[0] ? err.msg : "not a port number");
            goto cleanup;
        }
        hc.port = (uint16_t)v;
    }
    if (oc_config_get_int(conf, "WALRUS_THREADS", 0, &v, &err) != OC_OK || v < 0 ||
        v > 1024) {
        oc_error("WALRUS_THREADS: %s", err.msg[0] ? err.msg : "out of range");
        goto cleanup;
    }
    hc.threads = (unsigned)v;
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
    sc.dns_domain = oc_config_get(conf, "WALRUS_DNS_DOMAIN", WAL_S3_DEFAULT_DNS_DOMAIN);
    sc.region = oc_config_get(conf, "REGION", WAL_S3_DEFAULT_REGION);

    walrus_dir = path_join(home, "walrus");
    cred_file = path_join(walrus_dir, "clc-credentials");
    if (oc_mkdirs(walrus_dir, 0700, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }
    if (oc_httpc_load_creds(cred_file, &ak, &sk, &err) != OC_OK) {
        oc_error("%s (run `overcast-clc --home %s bootstrap` first)", err.msg, home);
        goto cleanup;
    }
    if (oc_cred_remote_new(oc_config_get(conf, "CLC_URL", "http://127.0.0.1:8773"), ak, sk,
                           &creds, &err) != OC_OK) {
        oc_error("CLC_URL: %s", err.msg);
        goto cleanup;
    }
    source = oc_cred_remote_source(creds);
    if (wal_store_open(walrus_dir, &store, &err) != OC_OK) {
        oc_error("store %s: %s", walrus_dir, err.msg);
        goto cleanup;
    }
    if (wal_store_set_cache_size(store, (size_t)cache_entries, &err) != OC_OK)
        oc_warn("object metadata cache disabled: %s", err.msg);
    if (wal_s3_new(&sc, store, &source, &s3, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }

    /* Signals are taken synchronously by this thread; every other thread
     * (MHD's, the store's, workers) inherits the blocked mask. */
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    wal_s3_http_handler(s3, &handler);
    hc.max_body_bytes = wal_s3_max_body(s3);
    if (oc_http_start(&hc, &handler, &srv, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }
    oc_info("overcast-walrus listening on %s:%u", hc.bind_addr && *hc.bind_addr ? hc.bind_addr
                                                                                : "0.0.0.0",
            (unsigned)oc_http_port(srv));

    while (sigwait(&sigs, &sig) != 0)
        ;
    oc_info("signal %d: stopping", sig);
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
    oc_config_free(conf);
    free(default_conf);
    free(walrus_dir);
    free(cred_file);
    free(ak);
    if (sk) {
        memset(sk, 0, strlen(sk));
        free(sk);
    }
    if (rc == 0)
        oc_info("stopped");
    return rc;
}
