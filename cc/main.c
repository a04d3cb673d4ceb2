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
#include "common/daemon.h"
#include "common/fsutil.h"
#include "common/http.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/qsrv.h"
#include "common/report.h"
#include "common/xml.h"

#define DEFAULT_PORT 8774

static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-cc [--config FILE] [--home DIR] [--port N] [--bind ADDR]\n"
            "\n"
            "  --config FILE  overcast.conf (default $OVERCAST_HOME/etc/overcast.conf)\n"
            "  --home DIR     OVERCAST_HOME (default $OVERCAST_HOME or " OC_DEFAULT_HOME ")\n"
            "  --port N       listening port (CC_PORT, default 8774)\n"
            "  --bind ADDR    listening IPv4 address (CC_BIND, default 127.0.0.1)\n");
}

static int instance_of(void *ctx, const char *ip, char id[24])
{
    return cc_instance_by_ip(ctx, ip, id);
}

/* Instance state changes, forwarded to the CLC (common/report.c). */
static void forward_state(void *ctx, const struct cc_instance_info *i)
{
    struct oc_report_event e;

    memset(&e, 0, sizeof(e));
    snprintf(e.id, sizeof(e.id), "%s", i->id);
    snprintf(e.state, sizeof(e.state), "%s", i->state);
    snprintf(e.reason, sizeof(e.reason), "%s", i->state_reason);
    e.time = i->state_time;
    snprintf(e.node, sizeof(e.node), "%s", i->node);
    oc_report_push(ctx, &e);
}

static void forget_instance(void *ctx, const char *instance_id)
{
    cc_netstate_forget_instance(ctx, instance_id);
}

int main(int argc, char **argv)
{
    char cc_dir[PATH_MAX - 64];
    char *ak = NULL, *sk = NULL;
    struct oc_daemon d;
    struct oc_config *conf;
    struct oc_cred_remote *creds = NULL;
    struct oc_cred_source source;
    struct cc_config cfg = { 0 };
    struct cc_cluster *cluster = NULL;
    struct cc_netstate *net = NULL;
    struct cc_mdproxy *md = NULL;
    struct cc_dataplane *dp = NULL;
    struct oc_report *events = NULL;
    struct cc_static_addr *static_map = NULL;
    struct cc_dataplane_config dc = { 0 };
    const char *mode;
    struct cc_mdproxy_config mc = { 0 };
    struct cc_api api = { 0 };
    struct oc_qsrv *qs = NULL;
    struct oc_qsrv_config qc = { 0 };
    struct oc_http_server *srv = NULL;
    struct oc_http_handler handler;
    struct oc_err err = { 0 };
    const char *home;
    long long v;
    int rc = oc_daemon_init(&d, "cc", argc, argv, 0, usage);

    if (rc >= 0) {
        oc_daemon_end(&d);
        return rc;
    }
    rc = 1;
    conf = d.conf;
    home = d.home;
    /* Before any thread starts: every thread inherits the mask, and only
     * oc_daemon_wait() takes SIGTERM (a stray default action would skip
     * removing the nftables table). */
    oc_daemon_block_signals(&d);
    if (oc_daemon_listen_config(&d, DEFAULT_PORT))
        goto out;

    snprintf(cc_dir, sizeof(cc_dir), "%s/cc", home);
    if (oc_daemon_component_key(&d, "cc", "clc-credentials", &ak, &sk, &creds))
        goto out;
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
    if (oc_daemon_int(&d, "VNET_ADDRSPERNET", 32, 8, 65536, &v))
        goto out;
    cfg.addrs_per_net = (unsigned)v;
    cfg.bridge = oc_config_get(conf, "VNET_BRIDGE", "ocbr0");
    mode = oc_config_get(conf, "VNET_MODE", "SYSTEM");
    if (strcmp(mode, "STATIC") == 0) {
        /* Addresses come from VNET_MACMAP, not from group networks. */
        struct cc_plan plan;

        if (cc_plan_init(&plan, cfg.subnet, cfg.netmask, cfg.addrs_per_net, &err) != OC_OK ||
            cc_macmap_parse(&plan, oc_config_get(conf, "VNET_MACMAP", ""), &static_map,
                            &cfg.static_n, &err) != OC_OK) {
            oc_error("%s", err.msg);
            goto out;
        }
        if (!cfg.static_n) {
            oc_error("VNET_MODE=STATIC needs VNET_MACMAP (\"MAC=IP MAC=IP ...\")");
            goto out;
        }
        cfg.static_map = static_map;
    }
    if (oc_daemon_int(&d, "CC_POLL_INTERVAL", 5, 1, 3600, &v))
        goto out;
    cfg.poll_s = (unsigned)v;
    if (oc_daemon_int(&d, "CC_NODE_DOWN_AFTER", 3, 1, 1000, &v))
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
    {
        struct oc_report_config ec = { oc_config_get(conf, "CC_EVENT_URL", ""), ak, sk,
                                       cfg.region, "/services/Cluster", "clc",
                                       "clcInstanceEvent", "2026-11-01", "ClusterName",
                                       oc_config_get(conf, "CC_NAME", "cluster1") };

        if (oc_report_new(&ec, &events, &err) != OC_OK) {
            oc_error("%s", err.msg);
            goto out;
        }
    }
    cfg.on_state = forward_state;
    cfg.on_state_ctx = events;
    if (cc_cluster_open(&cfg, &cluster, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    api.cluster = cluster;
    api.net = net;

    /* The data plane: bridge, dnsmasq, nftables (docs/cc.md). */
    if (strcmp(mode, "MANAGED-NOVLAN") == 0 || strcmp(mode, "STATIC") == 0) {
        dc.static_mode = strcmp(mode, "STATIC") == 0;
        dc.router = oc_config_get(conf, "VNET_ROUTER", "");
        dc.dir = cc_dir;
        dc.netns = oc_config_get(conf, "VNET_NETNS", "");
        dc.bridge = cfg.bridge;
        dc.pubif = oc_config_get(conf, "VNET_PUBINTERFACE", "");
        dc.table = oc_config_get(conf, "CC_NFT_TABLE", "overcast");
        dc.subnet = cfg.subnet;
        dc.netmask = cfg.netmask;
        dc.addrs_per_net = cfg.addrs_per_net;
        dc.md_ip = oc_config_get(conf, "VNET_METADATA_IP", "");
        if (oc_daemon_int(&d, "VNET_METADATA_PORT", 8776, 1, 65535, &v))
            goto out;
        dc.md_port = (unsigned)v;
        dc.dnsmasq = oc_config_get(conf, "VNET_DHCPDAEMON", "dnsmasq");
        if (oc_daemon_int(&d, "VNET_DHCP_LEASE", 3600, 120, 86400 * 365, &v))
            goto out;
        dc.lease_s = (unsigned)v;
        dc.interval_s = cfg.poll_s;
        if (cc_dataplane_open(&dc, cluster, net, &dp, &err) != OC_OK) {
            oc_error("data plane: %s", err.msg);
            goto out;
        }
        api.dp = dp;
    } else if (strcmp(mode, "SYSTEM") != 0) {
        oc_error("VNET_MODE=\"%s\" is not supported (SYSTEM, STATIC or MANAGED-NOVLAN;"
                 " MANAGED is not built yet)", mode);
        goto out;
    }

    /* The metadata proxy, where the data plane's redirect sends instances. */
    mc.bind_ip = oc_config_get(conf, "VNET_METADATA_IP", "");
    if (mc.bind_ip[0]) {
        if (oc_daemon_int(&d, "VNET_METADATA_PORT", 8776, 1, 65535, &v))
            goto out;
        mc.port = (unsigned)v;
        mc.netns = oc_config_get(conf, "VNET_NETNS", "");
        mc.upstream = oc_config_get(conf, "CC_METADATA_URL", "");
        if (!mc.upstream[0])
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

    if (oc_http_start(&d.http, &handler, &srv, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    oc_info("cluster controller listening on %s:%u (%s, network %s/%s by %u)", d.http.bind_addr,
            oc_http_port(srv), cc_policy_name(cfg.policy), cfg.subnet, cfg.netmask,
            cfg.addrs_per_net);
    oc_daemon_wait(&d);
    rc = 0;

out:
    oc_http_stop(srv);
    cc_mdproxy_stop(md);
    oc_qsrv_free(qs);
    cc_dataplane_close(dp);
    cc_cluster_close(cluster);
    oc_report_free(events);
    free(static_map);
    cc_netstate_close(net);
    oc_cred_remote_free(creds);
    if (sk)
        memset(sk, 0, strlen(sk));
    free(ak);
    free(sk);
    oc_daemon_end(&d);
    return rc;
}
