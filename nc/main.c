/*
 * main.c - overcast-nc: the node controller daemon.
 *
 *   overcast-nc [--config FILE] [--home DIR] [--port N] [--bind ADDR]
 *
 * $OVERCAST_HOME/nc/ holds clc-credentials (the node's own key, written by
 * `overcast-clc bootstrap`: it asks the CLC to check callers' signatures,
 * reads images from Walrus and reports to the CC), cloud-pk.pem (the
 * cloud's private key, for bundle decryption), cache/ and instances/.
 * Configuration keys are listed in docs/nc.md and etc/overcast.conf.
 *
 * SIGTERM/SIGINT stop the daemon but never the VMs: they keep running and
 * the next start re-adopts them.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/cred_remote.h"
#include "common/daemon.h"
#include "common/fsutil.h"
#include "common/http.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/qsrv.h"
#include "common/xml.h"
#include "nc/api.h"
#include "nc/driver.h"
#include "nc/hyp.h"
#include "nc/imgcache.h"
#include "nc/imgfetch.h"
#include "nc/node.h"
#include "nc/report.h"

#define DEFAULT_PORT 8775

static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-nc [--config FILE] [--home DIR] [--port N] [--bind ADDR]\n"
            "\n"
            "  --config FILE  overcast.conf (default $OVERCAST_HOME/etc/overcast.conf)\n"
            "  --home DIR     OVERCAST_HOME (default $OVERCAST_HOME or " OC_DEFAULT_HOME ")\n"
            "  --port N       listening port (NC_PORT, default 8775)\n"
            "  --bind ADDR    listening IPv4 address (NC_BIND, default 127.0.0.1)\n");
}

int main(int argc, char **argv)
{
    char nc_dir[PATH_MAX - 64], path[PATH_MAX], cache_dir[PATH_MAX], tmp_dir[PATH_MAX];
    char host[256], why[256];
    char *ak = NULL, *sk = NULL;
    const char *region;
    struct oc_daemon d;
    struct oc_config *conf;
    struct oc_cred_remote *creds = NULL;
    struct oc_cred_source source;
    struct nc_walrus_fetcher *wf = NULL;
    struct nc_walrus_fetcher_config wc = { 0 };
    struct nc_img_fetcher fetcher;
    struct nc_imgcache *cache = NULL;
    struct oc_report *report = NULL;
    struct nc_node *node = NULL;
    struct nc_driver drv = { 0 }, mc = { 0 };
    struct nc_mc_config mcc = { 0 };
    struct nc_node_config nc = { 0 };
    struct nc_api api = { 0 };
    struct oc_qsrv *qs = NULL;
    struct oc_qsrv_config qc = { 0 };
    struct oc_http_server *srv = NULL;
    struct oc_http_handler handler;
    struct oc_err err = { 0 };
    const char *home;
    long long v;
    unsigned adopted = 0;
    int rc = oc_daemon_init(&d, "nc", argc, argv, 0, usage);

    if (rc >= 0) {
        oc_daemon_end(&d);
        return rc;
    }
    rc = 1;
    conf = d.conf;
    home = d.home;
    region = oc_config_get(conf, "REGION", "us-east-1");
    if (oc_daemon_listen_config(&d, DEFAULT_PORT))
        goto out;

    /* Identity: our key, who may call us */
    snprintf(nc_dir, sizeof(nc_dir), "%s/nc", home);
    if (oc_daemon_component_key(&d, "nc", "clc-credentials", &ak, &sk, &creds))
        goto out;
    source = oc_cred_remote_source(creds);
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = 0;
    snprintf(api.node_name, sizeof(api.node_name), "%s", oc_config_get(conf, "NC_NAME", host));
    snprintf(api.cc_access_key, sizeof(api.cc_access_key), "%s",
             oc_config_get(conf, "NC_CC_ACCESS_KEY_ID", ""));
    snprintf(api.cc_user, sizeof(api.cc_user), "%s", oc_config_get(conf, "NC_CC_USER", "cc"));
    snprintf(api.bridge, sizeof(api.bridge), "%s", oc_config_get(conf, "NC_BRIDGE", ""));

    /* Hypervisor */
    if (nc_hyp_choose(oc_config_get(conf, "HYPERVISOR", "auto"), "/proc/cpuinfo", "/dev/kvm",
                      api.hypervisor, why, sizeof(why), &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    oc_info("hypervisor %s: %s", api.hypervisor, why);
    if (nc_hyp_kvm_dev_slow("/dev/kvm", why, sizeof(why)))
        oc_warn("%s", why);

    /* Images */
    snprintf(cache_dir, sizeof(cache_dir), "%s/cache", nc_dir);
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/tmp", nc_dir);
    snprintf(path, sizeof(path), "%s/cloud-pk.pem", nc_dir);
    if (oc_mkdirs(tmp_dir, 0700, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    wc.walrus_url = oc_config_get(conf, "WALRUS_URL", "http://127.0.0.1:8780");
    wc.access_key_id = ak;
    wc.secret_key = sk;
    wc.region = region;
    wc.cloud_key_path = oc_config_get(conf, "NC_CLOUD_KEY", path);
    wc.tmpdir = tmp_dir;
    if (nc_walrus_fetcher_new(&wc, &wf, &err) != OC_OK) {
        oc_error("WALRUS_URL: %s", err.msg);
        goto out;
    }
    fetcher = nc_walrus_fetcher(wf);
    if (oc_daemon_int(&d, "NC_CACHE_MAX_MB", 20480, 1, 1LL << 40, &v))
        goto out;
    if (nc_imgcache_open(cache_dir, (uint64_t)v << 20, &fetcher, &cache, &err) != OC_OK) {
        oc_error("image cache %s: %s", cache_dir, err.msg);
        goto out;
    }

    /* Reporting to the CC */
    if (nc_report_new(oc_config_get(conf, "CC_URL", ""), ak, sk, region, api.node_name, &report,
                      &err) != OC_OK) {
        oc_error("CC_URL: %s", err.msg);
        goto out;
    }

    /* The node and its VMs */
    node = nc_node_alloc();
    if (!node) {
        oc_error("out of memory");
        goto out;
    }
    nc.dir = nc_dir;
    nc.hypervisor = api.hypervisor;
    nc.cmdline = oc_config_get(conf, "NC_KERNEL_CMDLINE",
                                   "console=ttyS0 root=/dev/vda no_timer_check");
    nc.dac_label = oc_config_get(conf, "NC_QEMU_DAC_LABEL", "+0:+0");
    nc.qemu_img = oc_config_get(conf, "NC_QEMU_IMG", "qemu-img");
    if (oc_daemon_int(&d, "NC_SHUTDOWN_TIMEOUT", 30, 0, 3600, &v))
        goto out;
    nc.shutdown_timeout_s = (unsigned)v;
    if (oc_daemon_int(&d, "NC_TERMINATED_KEEP", 3600, 0, 86400 * 7, &v))
        goto out;
    nc.terminated_keep_s = (unsigned)v;
    if (oc_daemon_int(&d, "NC_MAX_CORES", 0, 0, 4096, &v))
        goto out;
    nc.max_cores = (unsigned)v;
    if (oc_daemon_int(&d, "NC_MAX_MEM_MB", 0, 0, 1LL << 32, &v))
        goto out;
    nc.max_mem_mb = (uint64_t)v;
    if (oc_daemon_int(&d, "NC_MAX_DISK_GB", 0, 0, 1LL << 30, &v))
        goto out;
    nc.max_disk_gb = (uint64_t)v;
    nc.report = nc_report_change;
    nc.report_ctx = report;
    if (nc_virt_open(oc_config_get(conf, "LIBVIRT_URI", "qemu:///system"), nc_node_vm_event,
                     node, &drv, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    /* MacroComponents: templates and forks driven over QMP (docs/nc.md). */
    if (oc_daemon_int(&d, "NC_MC_ENABLE", 1, 0, 1, &v))
        goto out;
    if (v) {
        mcc.dir = nc_dir;
        mcc.ram_dir = oc_config_get(conf, "NC_MC_RAM_DIR", "/dev/shm/overcast-mc");
        mcc.qemu = oc_config_get(conf, "NC_MC_QEMU", "qemu-system-x86_64");
        mcc.qemu_img = nc.qemu_img;
        if (oc_daemon_int(&d, "NC_MC_READY_TIMEOUT", 300, 5, 3600, &v))
            goto out;
        mcc.ready_timeout_s = (unsigned)v;
        if (oc_daemon_int(&d, "NC_MC_POOL", 1, 0, 16, &v))
            goto out;
        mcc.pool = (unsigned)v;
        if (nc_mc_open(&mcc, nc_node_vm_event, node, &mc, &err) != OC_OK) {
            oc_error("MacroComponents: %s", err.msg);
            goto out;
        }
    }
    if (nc_node_init(node, &nc, &drv, mc.start ? &mc : NULL, cache, &err) != OC_OK ||
        nc_node_adopt(node, &adopted, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    oc_info("%u instance(s) adopted", adopted);
    api.node = node;
    api.cache = cache;

    /* The API */
    qc.service = "nc";
    qc.xmlns = NC_API_XMLNS;
    qc.actions = nc_api_actions;
    qc.creds = &source;
    qc.authorize = nc_api_authorize;
    qc.ctx = &api;
    if (oc_qsrv_new(&qc, &qs, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    oc_qsrv_handler(qs, &handler);

    oc_daemon_block_signals(&d);
    if (oc_http_start(&d.http, &handler, &srv, &err) != OC_OK) {
        oc_error("%s", err.msg);
        goto out;
    }
    oc_info("node %s listening on %s:%u (libvirt driver, %s)", api.node_name, d.http.bind_addr,
            oc_http_port(srv), api.hypervisor);
    oc_daemon_wait(&d);
    oc_info("VMs keep running");
    rc = 0;

out:
    oc_http_stop(srv);
    oc_qsrv_free(qs);
    /* Operations in flight finish, then events stop, then the node goes. */
    if (node)
        nc_node_drain(node);
    if (drv.close)
        drv.close(drv.ctx);
    if (mc.close)
        mc.close(mc.ctx);
    nc_node_free(node);
    oc_report_free(report);
    nc_imgcache_close(cache);
    nc_walrus_fetcher_free(wf);
    oc_cred_remote_free(creds);
    if (sk)
        memset(sk, 0, strlen(sk));
    free(ak);
    free(sk);
    oc_daemon_end(&d);
    return rc;
}
