/*
 * main.c - overcast-clc: the cloud controller daemon.
 *
 *   overcast-clc [--config FILE] [--home DIR] [--port N] [--bind ADDR]
 *   overcast-clc [--config FILE] [--home DIR] bootstrap
 *   overcast-clc [--home DIR] register-cluster ZONE HOST PORT
 *   overcast-clc [--home DIR] deregister-cluster ZONE
 *
 * OVERCAST_HOME (default /var/lib/overcast, or --home) holds clc/ (clc.db
 * and the host key that seals secrets).  The configuration file defaults to
 * $OVERCAST_HOME/etc/overcast.conf when it exists; keys: CLC_PORT (8773),
 * CLC_BIND (127.0.0.1), CLC_THREADS (cores), REGION (us-east-1),
 * WALRUS_URL (http://127.0.0.1:8780), LOGLEVEL (INFO).  Command-line
 * options win.  `bootstrap` creates the admin account and the component
 * credentials (clc/bootstrap.h) and exits.
 *
 * SIGTERM and SIGINT stop it cleanly.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clc/api.h"
#include "clc/bootstrap.h"
#include "clc/clusters.h"
#include "common/config.h"
#include "common/http.h"
#include "common/log.h"
#include "common/xml.h"

#define DEFAULT_HOME "/var/lib/overcast"
#define DEFAULT_PORT 8773
#define DEFAULT_BIND "127.0.0.1"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-clc [--config FILE] [--home DIR] [--port N] [--bind ADDR]\n"
            "       overcast-clc [--config FILE] [--home DIR] bootstrap\n"
            "       overcast-clc [--home DIR] register-cluster ZONE HOST PORT\n"
            "       overcast-clc [--home DIR] deregister-cluster ZONE\n"
            "\n"
            "  --config FILE  overcast.conf (default $OVERCAST_HOME/etc/overcast.conf)\n"
            "  --home DIR     OVERCAST_HOME (default $OVERCAST_HOME or " DEFAULT_HOME ")\n"
            "  --port N       listening port (CLC_PORT, default 8773)\n"
            "  --bind ADDR    listening IPv4 address (CLC_BIND, default 127.0.0.1)\n"
            "  bootstrap      create the eucalyptus admin account and component keys,\n"
            "                 write $OVERCAST_HOME/admin/eucarc, then exit\n"
            "  register-cluster    record the cluster controller serving a zone\n");
}

/* register-cluster ZONE HOST PORT | deregister-cluster ZONE on clc.db. */
static int cluster_command(struct clc *clc, const char *cmd, char **args, struct oc_err *err)
{
    struct oc_db *db = oc_dbpool_get(clc_pool(clc), err);
    int rc;

    if (!db)
        return 1;
    if (strcmp(cmd, "register-cluster") == 0) {
        char *end;
        long port = strtol(args[2], &end, 10);

        rc = *end ? oc_err_set(err, OC_EINVAL, "'%s' is not a port number", args[2])
                  : clc_cluster_register(db, args[0], args[1], (int)port, err);
    } else {
        rc = clc_cluster_deregister(db, args[0], err);
    }
    oc_dbpool_put(clc_pool(clc), db);
    return rc ? 1 : 0;
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
    const char *bind_arg = NULL, *lvl, *cmd = NULL;
    char *default_conf = NULL;
    struct oc_config *conf = NULL;
    struct clc *clc = NULL;
    struct oc_http_server *srv = NULL;
    struct oc_http_config hc = { 0 };
    struct oc_http_handler handler;
    struct oc_err err = { 0 };
    enum oc_log_level level = OC_LOG_INFO;
    long long v;
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
    if (optind < argc)
        cmd = argv[optind++];
    if (cmd && !((strcmp(cmd, "bootstrap") == 0 && optind == argc) ||
                 (strcmp(cmd, "register-cluster") == 0 && argc - optind == 3) ||
                 (strcmp(cmd, "deregister-cluster") == 0 && argc - optind == 1))) {
        usage(stderr);
        return 2;
    }
    if (!cmd && optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!home || !*home)
        home = DEFAULT_HOME;

    conf = oc_config_new();
    if (!conf || asprintf(&default_conf, "%s/etc/overcast.conf", home) < 0) {
        fprintf(stderr, "overcast-clc: out of memory\n");
        return 1;
    }
    if (!config_path && access(default_conf, R_OK) == 0)
        config_path = default_conf;
    if (config_path && oc_config_load(conf, config_path, &err) != OC_OK) {
        fprintf(stderr, "overcast-clc: %s: %s\n", config_path, err.msg);
        goto cleanup;
    }
    lvl = oc_config_get(conf, "LOGLEVEL", "INFO");
    if (oc_log_level_parse(lvl, &level) != OC_OK) {
        fprintf(stderr, "overcast-clc: LOGLEVEL '%s' is not DEBUG, INFO, WARN or ERROR\n", lvl);
        goto cleanup;
    }
    oc_log_init("clc", level);
    oc_xml_init();

    if (clc_new(home, conf, &clc, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }
    if (cmd && strcmp(cmd, "bootstrap") == 0) {
        if (clc_bootstrap(clc, home, conf, &err) != OC_OK) {
            oc_error("bootstrap: %s", err.msg);
            goto cleanup;
        }
        printf("%s/admin/eucarc\n", home);
        rc = 0;
        goto cleanup;
    }
    if (cmd) {
        rc = cluster_command(clc, cmd, argv + optind, &err);
        if (rc)
            oc_error("%s: %s", cmd, err.msg);
        goto cleanup;
    }

    hc.bind_addr = bind_arg ? bind_arg : oc_config_get(conf, "CLC_BIND", DEFAULT_BIND);
    if (port_arg) {
        if (oc_parse_port(port_arg, &hc.port) != 0) {
            oc_error("--port '%s' is not a port number", port_arg);
            goto cleanup;
        }
    } else {
        if (oc_config_get_int(conf, "CLC_PORT", DEFAULT_PORT, &v, &err) != OC_OK || v < 0 ||
            v > 65535) {
            oc_error("CLC_PORT: %s", err.msg[0] ? err.msg : "not a port number");
            goto cleanup;
        }
        hc.port = (uint16_t)v;
    }
    if (oc_config_get_int(conf, "CLC_THREADS", 0, &v, &err) != OC_OK || v < 0 || v > 1024) {
        oc_error("CLC_THREADS: %s", err.msg[0] ? err.msg : "out of range");
        goto cleanup;
    }
    hc.threads = (unsigned)v;
    hc.max_body_bytes = CLC_MAX_BODY;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    clc_http_handler(clc, &handler);
    if (oc_http_start(&hc, &handler, &srv, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }
    oc_info("overcast-clc listening on %s:%u",
            hc.bind_addr && *hc.bind_addr ? hc.bind_addr : "0.0.0.0",
            (unsigned)oc_http_port(srv));
    while (sigwait(&sigs, &sig) != 0)
        ;
    oc_info("signal %d: stopping", sig);
    rc = 0;
cleanup:
    oc_http_stop(srv);
    clc_free(clc);
    oc_config_free(conf);
    free(default_conf);
    if (rc == 0 && !cmd)
        oc_info("stopped");
    return rc;
}
