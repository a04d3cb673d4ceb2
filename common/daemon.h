/*
 * daemon.h - what every Overcast daemon does before and after its own work:
 * the command line (--config FILE --home DIR --port N --bind ADDR --help,
 * then positional arguments for subcommands), $OVERCAST_HOME, overcast.conf
 * ($OVERCAST_HOME/etc/overcast.conf when it exists), LOGLEVEL, libxml2,
 * the listening address from <PFX>_BIND / <PFX>_PORT / <PFX>_THREADS (PFX
 * is the component in capitals: WALRUS, CLC, CC, NC; the command line
 * wins), and SIGTERM/SIGINT taken synchronously by the main thread.
 */
#ifndef OC_DAEMON_H
#define OC_DAEMON_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/http.h"

#define OC_DEFAULT_HOME "/var/lib/overcast"

struct oc_daemon {
    const char *component;       /* "nc" */
    const char *home;
    struct oc_config *conf;
    struct oc_http_config http;  /* filled by oc_daemon_listen_config */
    char **args;                 /* positional arguments (subcommands) */
    int nargs;
    /* private */
    char *default_conf;
    const char *port_arg, *bind_arg;
    sigset_t sigs;
};

/*
 * Parses argv, loads the configuration and starts logging.  Returns -1 to
 * go on, or the status main should exit with (0 after --help, 2 for a
 * usage error, 1 for a bad configuration), having printed why.
 * max_args bounds the positional arguments (0 for a daemon without
 * subcommands).
 */
int oc_daemon_init(struct oc_daemon *d, const char *component, int argc, char **argv,
                   int max_args, void (*usage)(FILE *));
/* <PFX>_BIND (127.0.0.1), <PFX>_PORT (default_port), <PFX>_THREADS into
 * d->http; 0 or -1 after logging the bad key. */
int oc_daemon_listen_config(struct oc_daemon *d, uint16_t default_port);
/* An integer key in [min, max]; 0, or -1 after logging. */
int oc_daemon_int(const struct oc_daemon *d, const char *key, long long def, long long min,
                  long long max, long long *out);
struct oc_cred_remote;
/*
 * The component's own key, $OVERCAST_HOME/<sub>/<file> (written by
 * `overcast-clc bootstrap`; the directory is made 0700 when missing), and a
 * credential source that asks the CLC at CLC_URL to check callers'
 * signatures with it.  0, or -1 after logging.  *ak and *sk are malloc'd.
 */
int oc_daemon_component_key(struct oc_daemon *d, const char *sub, const char *file, char **ak,
                            char **sk, struct oc_cred_remote **creds);

/* Blocks SIGTERM and SIGINT (call before any thread starts, so every
 * thread inherits the mask) and ignores SIGPIPE. */
void oc_daemon_block_signals(struct oc_daemon *d);
/* Waits for SIGTERM or SIGINT; returns it. */
int oc_daemon_wait(struct oc_daemon *d);
void oc_daemon_end(struct oc_daemon *d);

#endif
