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
#include "clc/poller.h"
#include "common/config.h"
#include "common/daemon.h"
#include "common/http.h"
#include "common/log.h"
#include "common/xml.h"

#define DEFAULT_PORT 8773

static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-clc [--config FILE] [--home DIR] [--port N] [--bind ADDR]\n"
            "       overcast-clc [--config FILE] [--home DIR] bootstrap\n"
            "       overcast-clc [--home DIR] register-cluster ZONE HOST PORT\n"
            "       overcast-clc [--home DIR] deregister-cluster ZONE\n"
            "\n"
            "  --config FILE  overcast.conf (default $OVERCAST_HOME/etc/overcast.conf)\n"
            "  --home DIR     OVERCAST_HOME (default $OVERCAST_HOME or " OC_DEFAULT_HOME ")\n"
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
    const char *home, *cmd = NULL;
    struct oc_daemon d;
    struct oc_config *conf;
    struct clc *clc = NULL;
    struct oc_http_server *srv = NULL;
    struct oc_http_handler handler;
    struct oc_err err = { 0 };
    int rc = oc_daemon_init(&d, "clc", argc, argv, 4, usage);

    if (rc >= 0) {
        oc_daemon_end(&d);
        return rc;
    }
    if (d.nargs > 0)
        cmd = d.args[0];
    if (cmd && !((strcmp(cmd, "bootstrap") == 0 && d.nargs == 1) ||
                 (strcmp(cmd, "register-cluster") == 0 && d.nargs == 4) ||
                 (strcmp(cmd, "deregister-cluster") == 0 && d.nargs == 2))) {
        usage(stderr);
        oc_daemon_end(&d);
        return 2;
    }
    rc = 1;
    conf = d.conf;
    home = d.home;

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
        rc = cluster_command(clc, cmd, d.args + 1, &err);
        if (rc)
            oc_error("%s: %s", cmd, err.msg);
        goto cleanup;
    }

    if (oc_daemon_listen_config(&d, DEFAULT_PORT))
        goto cleanup;
    /* Query bodies stop at CLC_MAX_BODY in clc/api.c; the console's
     * uploads to /services/objectstorage may be larger. */
    {
        long long up;

        if (oc_daemon_int(&d, "CLC_CONSOLE_MAX_UPLOAD", 1LL << 30, CLC_MAX_BODY, 5LL << 30, &up))
            goto cleanup;
        d.http.max_body_bytes = (uint64_t)up;
    }
    oc_daemon_block_signals(&d);

    clc_http_handler(clc, &handler);
    if (oc_http_start(&d.http, &handler, &srv, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }
    if (clc_poller_start(clc, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto cleanup;
    }
    oc_info("overcast-clc listening on %s:%u",
            d.http.bind_addr && *d.http.bind_addr ? d.http.bind_addr : "0.0.0.0",
            (unsigned)oc_http_port(srv));
    oc_daemon_wait(&d);
    rc = 0;
cleanup:
    oc_http_stop(srv);
    clc_free(clc);
    oc_daemon_end(&d);
    if (rc == 0 && !cmd)
        oc_info("stopped");
    return rc;
}
