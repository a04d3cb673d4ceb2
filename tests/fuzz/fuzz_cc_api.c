/*
 * libFuzzer target: the cluster controller's API (cc/api.c through
 * common/qsrv.c) with a real cluster (SQLite in a tmpfs directory, no
 * nodes, no poller) and real netstate.  ccRegisterNode is left out: it
 * would call whatever host the input names.  Every answer must be a whole
 * document with a status; no input may crash or hang it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc/api.h"
#include "cc/cluster.h"
#include "cc/netstate.h"
#include "common/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct oc_qsrv *qs;
static struct cc_api api;
static struct oc_qsrv_action actions[32];

static char tmpdir[64];

/* The databases go with the process. */
static void cleanup(void)
{
    static const char *const names[] = { "cc.db", "cc.db-wal", "cc.db-shm", "net.db",
                                         "net.db-wal", "net.db-shm" };
    char path[128];

    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[k]);
        unlink(path);
    }
    rmdir(tmpdir);
}

static int lookup(void *ctx, const char *ak, struct oc_principal *out, struct oc_err *err)
{
    (void)ctx;
    (void)ak;
    (void)out;
    return oc_err_set(err, OC_ENOTFOUND, "none");
}

static void setup(void)
{
    static struct oc_cred_source src = { .lookup = lookup };
    char dir[] = "/dev/shm/fuzz-cc-XXXXXX";
    struct cc_config cfg = { 0 };
    struct oc_qsrv_config qc = { 0 };
    struct oc_err err = { 0 };
    size_t k = 0;

    oc_xml_init();
    if (!mkdtemp(dir))
        abort();
    snprintf(tmpdir, sizeof(tmpdir), "%s", dir);
    atexit(cleanup);
    cfg.dir = dir;
    cfg.policy = CC_ROUNDROBIN;
    cfg.subnet = "10.101.0.0";
    cfg.netmask = "255.255.0.0";
    cfg.addrs_per_net = 32;
    cfg.bridge = "ocbr0";
    if (cc_netstate_open(dir, "192.0.2.10-192.0.2.20", &api.net, &err) != OC_OK ||
        cc_cluster_open(&cfg, &api.cluster, &err) != OC_OK) {
        fprintf(stderr, "setup: %s\n", err.msg);
        abort();
    }
    snprintf(api.clc_user, sizeof(api.clc_user), "clc");
    snprintf(api.nc_user, sizeof(api.nc_user), "nc");
    for (const struct oc_qsrv_action *a = cc_api_actions; a->name && k < 31; a++)
        if (strcmp(a->name, "ccRegisterNode") != 0)
            actions[k++] = *a;
    qc.service = "cc";
    qc.xmlns = CC_API_XMLNS;
    qc.actions = actions;
    qc.creds = &src;
    qc.authorize = cc_api_authorize;
    qc.ctx = &api;
    if (oc_qsrv_new(&qc, &qs, &err) != OC_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the caller: the CLC or a node. */
    struct oc_principal who = { .is_admin = 1, .active = 1 };
    struct oc_buf out = { 0 };
    int status = 0;

    if (!qs)
        setup();
    if (size < 1)
        return 0;
    snprintf(who.user_name, sizeof(who.user_name), "%s", data[0] & 1 ? "nc" : "clc");
    if (oc_qsrv_invoke(qs, &who, (const char *)data + 1, size - 1, &out, &status) != OC_OK)
        abort();
    if (status < 200 || status > 599 || out.len == 0 ||
        (status == 200) != (memmem(out.data, out.len, "<requestId>", 11) != NULL))
        abort();
    oc_buf_free(&out);
    return 0;
}
