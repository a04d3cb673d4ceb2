/*
 * daemon.c - the common start and end of a daemon (see daemon.h).
 */
#include "common/daemon.h"

#include <ctype.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cred_remote.h"
#include "common/fsutil.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/xml.h"

int oc_daemon_init(struct oc_daemon *d, const char *component, int argc, char **argv,
                   int max_args, void (*usage)(FILE *))
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "home", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },   { "bind", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *lvl;
    enum oc_log_level level = OC_LOG_INFO;
    struct oc_err err = { 0 };
    int c;

    memset(d, 0, sizeof(*d));
    d->component = component;
    d->home = getenv("OVERCAST_HOME");
    while ((c = getopt_long(argc, argv, "c:H:p:b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config_path = optarg; break;
        case 'H': d->home = optarg; break;
        case 'p': d->port_arg = optarg; break;
        case 'b': d->bind_arg = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    d->args = argv + optind;
    d->nargs = argc - optind;
    if (d->nargs > max_args) {
        usage(stderr);
        return 2;
    }
    if (!d->home || !*d->home)
        d->home = OC_DEFAULT_HOME;
    d->conf = oc_config_new();
    if (!d->conf || asprintf(&d->default_conf, "%s/etc/overcast.conf", d->home) < 0) {
        d->default_conf = NULL;
        fprintf(stderr, "overcast-%s: out of memory\n", component);
        return 1;
    }
    if (!config_path && access(d->default_conf, R_OK) == 0)
        config_path = d->default_conf;
    if (config_path && oc_config_load(d->conf, config_path, &err) != OC_OK) {
        fprintf(stderr, "overcast-%s: %s: %s\n", component, config_path, err.msg);
        return 1;
    }
    lvl = oc_config_get(d->conf, "LOGLEVEL", "INFO");
    if (oc_log_level_parse(lvl, &level) != OC_OK) {
        fprintf(stderr, "overcast-%s: LOGLEVEL '%s' is not DEBUG, INFO, WARN or ERROR\n",
                component, lvl);
        return 1;
    }
    oc_log_init(component, level);
    oc_xml_init();
    return -1;
}

int oc_daemon_int(const struct oc_daemon *d, const char *key, long long def, long long min,
                  long long max, long long *out)
{
    struct oc_err err = { 0 };

    if (oc_config_get_int(d->conf, key, def, out, &err) != OC_OK || *out < min || *out > max) {
        oc_error("%s: %s", key, err.msg[0] ? err.msg : "out of range");
        return -1;
    }
    return 0;
}

int oc_daemon_listen_config(struct oc_daemon *d, uint16_t default_port)
{
    char key[48], pfx[16];
    long long v;
    size_t i;

    for (i = 0; d->component[i] && i < sizeof(pfx) - 1; i++)
        pfx[i] = (char)toupper((unsigned char)d->component[i]);
    pfx[i] = 0;
    snprintf(key, sizeof(key), "%s_BIND", pfx);
    d->http.bind_addr = d->bind_arg ? d->bind_arg : oc_config_get(d->conf, key, "127.0.0.1");
    if (d->port_arg) {
        if (oc_parse_port(d->port_arg, &d->http.port) != 0) {
            oc_error("--port '%s' is not a port number", d->port_arg);
            return -1;
        }
    } else {
        snprintf(key, sizeof(key), "%s_PORT", pfx);
        if (oc_daemon_int(d, key, default_port, 0, 65535, &v))
            return -1;
        d->http.port = (uint16_t)v;
    }
    snprintf(key, sizeof(key), "%s_THREADS", pfx);
    if (oc_daemon_int(d, key, 0, 0, 1024, &v))
        return -1;
    d->http.threads = (unsigned)v;
    return 0;
}

int oc_daemon_component_key(struct oc_daemon *d, const char *sub, const char *file, char **ak,
                            char **sk, struct oc_cred_remote **creds)
{
    struct oc_err err = { 0 };
    char *dir = NULL, *path = NULL;
    int rc = -1;

    if (asprintf(&dir, "%s/%s", d->home, sub) < 0 || asprintf(&path, "%s/%s", dir, file) < 0) {
        oc_error("out of memory");
        goto out;
    }
    if (oc_mkdirs(dir, 0700, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    if (oc_httpc_load_creds(path, ak, sk, &err) != OC_OK) {
        oc_error("%s (run `overcast-clc --home %s bootstrap` first)", err.msg, d->home);
        goto out;
    }
    if (creds && oc_cred_remote_new(oc_config_get(d->conf, "CLC_URL", "http://127.0.0.1:8773"),
                                    *ak, *sk, creds, &err) != OC_OK) {
        oc_error("CLC_URL: %s", err.msg);
        goto out;
    }
    rc = 0;
out:
    free(dir);
    free(path);
    return rc;
}

void oc_daemon_block_signals(struct oc_daemon *d)
{
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&d->sigs);
    sigaddset(&d->sigs, SIGTERM);
    sigaddset(&d->sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &d->sigs, NULL);
}

int oc_daemon_wait(struct oc_daemon *d)
{
    int sig = 0;

    while (sigwait(&d->sigs, &sig) != 0)
        ;
    oc_info("signal %d: stopping", sig);
    return sig;
}

void oc_daemon_end(struct oc_daemon *d)
{
    oc_config_free(d->conf);
    free(d->default_conf);
    d->conf = NULL;
    d->default_conf = NULL;
}
