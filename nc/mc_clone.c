/*
 * mc_clone.c - templates of running forks, for CloneInstances (see mc.c
 * for the driver and docs/nc.md, MacroComponents, Clones).
 */
#include "nc/mc_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/proc.h"

/* ------------------------------------------------------------------ */
/* forks */

/* The source MAC a clone template's state holds ("" for an ordinary
 * template). */
void mci_template_mac(struct mc *m, const char *key, char mac[32])
{
    char path[PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    struct oc_err err = { 0 };

    mac[0] = 0;
    mci_tpath(m, key, "", "clone-mac", path, sizeof(path));
    if (oc_read_file(path, 31, &text, &len, &err) == OC_OK && len == 17) {
        memcpy(mac, text, len);
        mac[len] = 0;
    }
    free(text);
}

/* Copies a (small) file: a qcow2 overlay. */
static int copy_file(const char *from, const char *to, struct oc_err *err)
{
    char buf[1 << 16];
    int in = open(from, O_RDONLY | O_CLOEXEC), out;
    ssize_t n = 0;

    if (in < 0)
        return oc_err_set(err, OC_EIO, "%s: %s", from, strerror(errno));
    out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return oc_err_set(err, OC_EIO, "%s: %s", to, strerror(errno));
    }
    while ((n = read(in, buf, sizeof(buf))) > 0)
        if (write(out, buf, (size_t)n) != n) {
            n = -1;
            break;
        }
    if (n == 0 && fsync(out) != 0)
        n = -1;
    close(in);
    close(out);
    return n == 0 ? OC_OK : oc_err_set(err, OC_EIO, "copy %s: %s", from, strerror(errno));
}

static int full_caps(struct nc_qmp *q, struct oc_err *err)
{
    return nc_qmp_call(q, "migrate-set-capabilities",
                       json_pack("{s:[{s:s,s:b},{s:s,s:b}]}", "capabilities", "capability",
                                 "x-ignore-shared", "state", 0, "capability", "events", "state",
                                 1),
                       -1, NULL, QMP_TIMEOUT_MS, err);
}


/*
 * A template of a running fork as it is now (CloneInstances, SnowFlock
 * style): its device state and whole memory are saved (it is paused
 * meanwhile) with its disk; a loader QEMU with a new shared RAM file takes
 * that stream in, never runs, and saves its device state with
 * x-ignore-shared: the same shape as any template, plus the source's NIC.
 * Clones asked within CLONE_REUSE_MS of each other share one
 * snapshot.
 */
int mci_clone_template(struct mc *m, const struct nc_domain_spec *s, char key[KEY_LEN + 1],
                          struct oc_err *err)
{
    const char *src = s->inst->clone_of;
    char sdir[PATH_MAX], sqmp[PATH_MAX + 16], sdisk[PATH_MAX + 16], pkey[KEY_LEN + 1] = "",
        tmp[PATH_MAX], final[PATH_MAX], full[PATH_MAX + 16], ram[PATH_MAX], name[32],
        path[PATH_MAX + 16], hex[2 * OC_SHA256_LEN + 1], mac[32] = "";
    struct nc_qmp *q = NULL, *lq = NULL;
    struct vm_files f = { 0 };
    struct argv a = { 0 };
    char *text = NULL;
    size_t len = 0;
    pid_t lpid = -1;
    int rc, stopped = 0;
    long long t0 = mci_now_ms();

    pthread_mutex_lock(&m->build_mu);
    if (strcmp(m->recent_src, src) == 0 && mci_now_ms() - m->recent_ms < CLONE_REUSE_MS) {
        mci_tpath(m, m->recent_key, "", "state", path, sizeof(path));
        if (access(path, R_OK) == 0) {
            memcpy(key, m->recent_key, KEY_LEN + 1);
            pthread_mutex_unlock(&m->build_mu);
            return OC_OK;
        }
    }
    snprintf(sdir, sizeof(sdir), "%s/%s", m->idir, src);
    snprintf(sqmp, sizeof(sqmp), "%s/qmp.sock", sdir);
    snprintf(sdisk, sizeof(sdisk), "%s/root.qcow2", sdir);
    snprintf(path, sizeof(path), "%s/template", sdir);
    if (oc_read_file(path, KEY_LEN, &text, &len, err) != OC_OK || len != KEY_LEN) {
        free(text);
        pthread_mutex_unlock(&m->build_mu);
        return oc_err_set(err, OC_ENOTFOUND, "%s is not a fork on this node", src);
    }
    memcpy(pkey, text, KEY_LEN);
    free(text);
    {
        char seed[128];

        snprintf(seed, sizeof(seed), "clone %s of %s at %lld", src, pkey, mci_now_ms());
        oc_sha256_hex(seed, strlen(seed), hex);
        memcpy(key, hex, KEY_LEN);
        key[KEY_LEN] = 0;
    }
    mci_tpath(m, key, ".tmp", NULL, tmp, sizeof(tmp));
    mci_tpath(m, key, "", NULL, final, sizeof(final));
    snprintf(ram, sizeof(ram), "%s/%s.ram", m->ram_dir, key);
    snprintf(name, sizeof(name), "mc-%s", key);
    snprintf(full, sizeof(full), "%s/full.state", tmp);
    mci_rm_tree(tmp);
    if ((rc = oc_mkdirs(tmp, 0700, err)) || (rc = oc_mkdirs(m->ram_dir, 0700, err)))
        goto out;

    /* 1. The source, paused: its state and memory, its disk. */
    if ((rc = nc_qmp_open(sqmp, QMP_TIMEOUT_MS, &q, err)))
        goto out;
    {
        json_t *v = NULL;

        rc = nc_qmp_call(q, "qom-get",
                         json_pack("{s:s,s:s}", "path", "/machine/peripheral/nic0", "property",
                                   "mac"),
                         -1, &v, QMP_TIMEOUT_MS, err);
        if (rc == OC_OK && json_is_string(v) && strlen(json_string_value(v)) == 17)
            snprintf(mac, sizeof(mac), "%s", json_string_value(v));
        else if (rc == OC_OK)
            rc = oc_err_set(err, OC_EIO, "%s has no NIC to clone", src);
        json_decref(v);
    }
    if (rc || (rc = nc_qmp_call(q, "stop", NULL, -1, NULL, QMP_TIMEOUT_MS, err)))
        goto out;
    stopped = 1;
    snprintf(path, sizeof(path), "%s/root.qcow2", tmp);
    if ((rc = full_caps(q, err)) || (rc = mci_migrate_file(q, full, 1, err)) ||
        (rc = copy_file(sdisk, path, err)))
        goto out;
    rc = nc_qmp_call(q, "cont", NULL, -1, NULL, QMP_TIMEOUT_MS, err);
    stopped = 0;
    if (rc)
        goto out;

    /* 2. The loader: in from the whole stream, out with x-ignore-shared. */
    snprintf(path, sizeof(path), "%s/root.qcow2", tmp);
    f.name = name;
    f.ram = ram;
    f.disk = path;
    {
        char console[PATH_MAX + 16], lqmp[PATH_MAX + 16], lpidf[PATH_MAX + 16];

        snprintf(console, sizeof(console), "%s/console.log", tmp);
        snprintf(lqmp, sizeof(lqmp), "%s/qmp.sock", tmp);
        snprintf(lpidf, sizeof(lpidf), "%s/qemu.pid", tmp);
        f.console = console;
        f.qmp = lqmp;
        f.pid = lpidf;
        f.share = 1;
        f.incoming = 1;
        f.clone_mac = mac;
        unlink(ram);
        mci_build_argv(m, s, &f, &a);
        rc = mci_spawn_qemu(&a, lpidf, &lpid, err);
        mci_argv_free(&a);
        if (rc || (rc = nc_qmp_open(lqmp, QMP_TIMEOUT_MS, &lq, err)) ||
            (rc = full_caps(lq, err)) || (rc = mci_migrate_file(lq, full, 0, err)) ||
            (rc = nc_qmp_call(lq, "migrate-set-capabilities", mci_ignore_shared_caps(), -1, NULL,
                              QMP_TIMEOUT_MS, err)))
            goto out;
        snprintf(path, sizeof(path), "%s/state", tmp);
        if ((rc = mci_migrate_file(lq, path, 1, err)))
            goto out;
        if (nc_qmp_call(lq, "quit", NULL, -1, NULL, QMP_TIMEOUT_MS, err) != OC_OK)
            oc_log(OC_LOG_DEBUG, "clone template %s: quit: %s", key, err->msg);
        nc_qmp_close(lq);
        lq = NULL;
        mci_kill_qemu(lpid, name);
        unlink(lqmp);
        unlink(lpidf);
    }
    unlink(full);
    /* Loading a full stream reads, so allocates, every page. */
    mci_punch_zero_pages(ram);

    /* 3. Its files: it stands on its source's template (whose disk backs
     * its own), and goes when no clone uses it. */
    snprintf(path, sizeof(path), "%s/clone-mac", tmp);
    if ((rc = oc_write_file_atomic(path, mac, strlen(mac), 0600, err)))
        goto out;
    snprintf(path, sizeof(path), "%s/parent", tmp);
    if ((rc = oc_write_file_atomic(path, pkey, KEY_LEN, 0600, err)))
        goto out;
    if (rename(tmp, final) != 0) {
        rc = oc_err_set(err, OC_EIO, "rename %s: %s", tmp, strerror(errno));
        goto out;
    }
    snprintf(m->recent_src, sizeof(m->recent_src), "%s", src);
    memcpy(m->recent_key, key, KEY_LEN + 1);
    m->recent_ms = mci_now_ms();
    oc_log(OC_LOG_INFO, "clone template %s of %s (template %s) made in %lld ms", key, src, pkey,
           mci_now_ms() - t0);
out:
    if (stopped && nc_qmp_call(q, "cont", NULL, -1, NULL, QMP_TIMEOUT_MS, err) != OC_OK)
        oc_log(OC_LOG_ERROR, "%s: could not be resumed after its snapshot", src);
    nc_qmp_close(q);
    nc_qmp_close(lq);
    if (rc) {
        mci_kill_qemu(lpid, name);
        mci_rm_tree(tmp);
        unlink(ram);
    }
    pthread_mutex_unlock(&m->build_mu);
    return rc;
}

