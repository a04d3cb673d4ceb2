/*
 * main.c - overcast-cc: the cluster controller daemon, one per cluster
 * (availability zone).
 *
 *   overcast-cc [--config FILE] [--home DIR] [--port N] [--bind ADDR]
 *
 * $OVERCAST_HOME/cc/ holds clc-credentials (the CC's own key, written by
 * `overcast-clc bootstrap`: it asks the CLC to check callers' signatures
 * and signs its calls to nodes) and cc.db (nodes, instances, networks).
 * Configuration keys are listed in docs/cc.md and etc/overcast.conf.
 */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc/api.h"
#include "cc/cluster.h"
#include "cc/mdproxy.h"
#include "cc/netstate.h"
#include "common/config.h"
#include "common/cred_remote.h"
#include "common/fsutil.h"
#include "common/http.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/qsrv.h"
#include "common/xml.h"

#define DEFAULT_HOME "/var/lib/overcast"
#define DEFAULT_PORT 8774
#define DEFAULT_BIND "127.0.0.1"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-cc [--config FILE] [--home DIR] [--port N] [--bind ADDR]\n"
            "\n"
            "  --config FILE  overcast.conf (default $OVERCAST_HOME/etc/overcast.conf)\n"
            "  --home DIR     OVERCAST_HOME (default $OVERCAST_HOME or " DEFAULT_HOME ")\n"
            "  --port N       listening port (CC_PORT, default 8774)\n"
            "  --bind ADDR    listening IPv4 address (CC_BIND, default 127.0.0.1)\n");
}

static int conf_int(const struct oc_config *c, const char *key, long long def, long long min,
                    long long max, long long *out)
{
    struct oc_err err = { 0 };

    if (oc_config_get_int(c, key, def, out, &err) != OC_OK || *out < min || *out > max) {
        oc_error("%s: %s", key, err.msg[0] ? err.msg : "out of range");
        return -1;
    }
    return 0;
}

static int instance_of(void *ctx, const char *ip, char id[24])
{
    return cc_instance_by_ip(ctx, ip, id);
}

static void forget_instance(void *ctx, const char *instance_id)
{
    cc_netstate_forget_instance(ctx, instance_id);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' }, { "home", required_argument, NULL, 'H' },
        { "port", required_argument, NULL, 'p' },   { "bind", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *home = getenv("OVERCAST_HOME"), *port_arg = NULL;
    const char *bind_arg = NULL, *lvl;
    char cc_dir[PATH_MAX - 64], path[PATH_MAX];
    char *ak = NULL, *sk = NULL;
    struct oc_config *conf = NULL;
    struct oc_cred_remote *creds = NULL;
    struct oc_cred_source source;
    struct cc_config cfg = { 0 };
    struct cc_cluster *cluster = NULL;
    struct cc_netstate *net = NULL;
    struct cc_mdproxy *md = NULL;
    struct cc_mdproxy_config mc = { 0 };
    struct cc_api api = { 0 };
    struct oc_qsrv *qs = NULL;
    struct oc_qsrv_config qc = { 0 };
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
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (!home || !*home)
        home = DEFAULT_HOME;
    conf = oc_config_new();
    if (!conf) {
        fprintf(stderr, "overcast-cc: out of memory\n");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/etc/overcast.conf", home);
    if (!config_path && access(path, R_OK) == 0)
        config_path = path;
    if (config_path && oc_config_load(conf, config_path, &err) != OC_OK) {
        fprintf(stderr, "overcast-cc: %s: %s\n", config_path, err.msg);
        goto out;
    }
    lvl = oc_config_get(conf, "LOGLEVEL", "INFO");
    if (oc_log_level_parse(lvl, &level) != OC_OK) {
        fprintf(stderr, "overcast-cc: LOGLEVEL '%s' is not DEBUG, INFO, WARN or ERROR\n", lvl);
        goto out;
    }
    oc_log_init("cc", level);
    oc_xml_init();

    hc.bind_addr = bind_arg ? bind_arg : oc_config_get(conf, "CC_BIND", DEFAULT_BIND);
    if (port_arg) {
        if (oc_parse_port(port_arg, &hc.port) != 0) {
            oc_error("--port '%s' is not a port number", port_arg);
            goto out;
        }
    } else {
        if (conf_int(conf, "CC_PORT", DEFAULT_PORT, 0, 65535, &v))
            goto out;
        hc.port = (uint16_t)v;
    }
    if (conf_int(conf, "CC_THREADS", 0, 0, 1024, &v))
        goto out;
    hc.threads = (unsigned)v;

    snprintf(cc_dir, sizeof(cc_dir), "%s/cc", home);
    if (oc_mkdirs(cc_dir, 0700, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/clc-credentials", cc_dir);
    if (oc_httpc_load_creds(path, &ak, &sk, &err) != OC_OK) {
        oc_error("%s (run `overcast-clc --home %s bootstrap` first)", err.msg, home);
        goto out;
    }
    if (oc_cred_remote_new(oc_config_get(conf, "CLC_URL", "http://127.0.0.1:8773"), ak, sk,
                           &creds, &err) != OC_OK) {
        oc_error("CLC_URL: %s", err.msg);
        goto out;
    }
    source = oc_cred_remote_source(creds);
    snprintf(api.clc_access_key, sizeof(api.clc_access_key), "%s",
             oc_config_get(conf, "CC_CLC_ACCESS_KEY_ID", ""));
    snprintf(api.clc_user, sizeof(api.clc_user), "%s", oc_config_get(conf, "CC_CLC_USER", "clc"));
    snprintf(api.nc_user, sizeof(api.nc_user), "%s", oc_config_get(conf, "CC_NC_USER", "nc"));

    cfg.dir = cc_dir;
    if (cc_policy_parse(oc_config_get(conf, "SCHEDPOLICY", "ROUNDROBIN"), &cfg.policy) != 0) {
        oc_error("SCHEDPOLICY must be GREEDY, ROUNDROBIN or POWERSAVE");
        goto out;
    }
    cfg.subnet = oc_config_get(conf, "VNET_SUBNET", "10.101.0.0");
    cfg.netmask = oc_config_get(conf, "VNET_NETMASK", "255.255.0.0");
    if (conf_int(conf, "VNET_ADDRSPERNET", 32, 8, 65536, &v))
        goto out;
    cfg.addrs_per_net = (unsigned)v;
    cfg.bridge = oc_config_get(conf, "VNET_BRIDGE", "ocbr0");
    if (conf_int(conf, "CC_POLL_INTERVAL", 5, 1, 3600, &v))
        goto out;
    cfg.poll_s = (unsigned)v;
    if (conf_int(conf, "CC_NODE_DOWN_AFTER", 3, 1, 1000, &v))
        goto out;
    cfg.down_after = (unsigned)v;
    cfg.access_key_id = ak;
    cfg.secret_key = sk;
    cfg.region = oc_config_get(conf, "REGION", "us-east-1");
    if (cc_netstate_open(cc_dir, oc_config_get(conf, "VNET_PUBLICIPS", ""), &net, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    cfg.on_terminated = forget_instance;
    cfg.on_terminated_ctx = net;
    if (cc_cluster_open(&cfg, &cluster, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    api.cluster = cluster;
    api.net = net;

    /* The metadata proxy, where the data plane's redirect sends instances. */
    mc.bind_ip = oc_config_get(conf, "VNET_METADATA_IP", "");
    if (mc.bind_ip[0]) {
        if (conf_int(conf, "VNET_METADATA_PORT", 8776, 1, 65535, &v))
            goto out;
        mc.port = (unsigned)v;
        mc.netns = oc_config_get(conf, "VNET_NETNS", "");
        mc.upstream = oc_config_get(conf, "CLC_URL", "http://127.0.0.1:8773");
        mc.access_key_id = ak;
        mc.secret_key = sk;
        mc.region = cfg.region;
        mc.instance_of = instance_of;
        mc.ctx = cluster;
        if (cc_mdproxy_start(&mc, &md, &err) != OC_OK) {
            oc_error("metadata proxy: %s", err.msg);
            goto out;
        }
        oc_info("metadata proxy on %s:%u%s%s", mc.bind_ip, (unsigned)cc_mdproxy_port(md),
                mc.netns[0] ? " in network namespace " : "", mc.netns);
    }

    qc.service = "cc";
    qc.xmlns = CC_API_XMLNS;
    qc.actions = cc_api_actions;
    qc.creds = &source;
    qc.authorize = cc_api_authorize;
    qc.ctx = &api;
    if (oc_qsrv_new(&qc, &qs, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    oc_qsrv_handler(qs, &handler);

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if (oc_http_start(&hc, &handler, &srv, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    oc_info("cluster controller listening on %s:%u (%s, network %s/%s by %u)", hc.bind_addr,
            oc_http_port(srv), cc_policy_name(cfg.policy), cfg.subnet, cfg.netmask,
            cfg.addrs_per_net);
    while (sigwait(&sigs, &sig) != 0)
        ;
    oc_info("signal %d: stopping", sig);
    rc = 0;

out:
    oc_http_stop(srv);
    cc_mdproxy_stop(md);
    oc_qsrv_free(qs);
    cc_cluster_close(cluster);
    cc_netstate_close(net);
    oc_cred_remote_free(creds);
    if (sk)
        memset(sk, 0, strlen(sk));
    free(ak);
    free(sk);
    oc_config_free(conf);
    return rc;
}
