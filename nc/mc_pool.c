/*
 * mc_pool.c - fork QEMUs started ahead of need (NC_MC_POOL), so a fork
 * pays only the restore (see mc.c and docs/nc.md, MacroComponents, Pool).
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
/* the pool: fork QEMUs started ahead, so a fork pays only the restore */

static void recipe_free(struct recipe *r)
{
    if (!r)
        return;
    free(r->kernel);
    free(r->ramdisk);
    free(r->cmdline);
    free(r);
}

/* Locked.  Remembers how to start forks of key (once). */
void mci_recipe_note(struct mc *m, const char *key, const struct nc_domain_spec *s)
{
    struct recipe *r;

    if (!m->pool)
        return;
    for (r = m->recipes; r; r = r->next)
        if (strcmp(r->key, key) == 0)
            return;
    r = calloc(1, sizeof(*r));
    if (!r)
        return;
    snprintf(r->key, sizeof(r->key), "%s", key);
    snprintf(r->hypervisor, sizeof(r->hypervisor), "%s", s->hypervisor);
    r->kernel = s->kernel_path ? strdup(s->kernel_path) : NULL;
    r->ramdisk = s->ramdisk_path ? strdup(s->ramdisk_path) : NULL;
    r->cmdline = s->cmdline ? strdup(s->cmdline) : NULL;
    r->mem_mb = s->inst->mem_mb;
    r->vcpus = s->inst->vcpus;
    if ((s->kernel_path && !r->kernel) || (s->ramdisk_path && !r->ramdisk) ||
        (s->cmdline && !r->cmdline)) {
        recipe_free(r);
        return;
    }
    r->next = m->recipes;
    m->recipes = r;
    pthread_cond_broadcast(&m->cv);
}

/* Starts one slot for the recipe (not locked). */
static int slot_start(struct mc *m, const struct recipe *r, unsigned seq, struct slot **out,
                      struct oc_err *err)
{
    struct nc_instance inst = { 0 };
    struct nc_domain_spec s = { 0 };
    struct vm_files f = { 0 };
    struct argv a = { 0 };
    char tdisk[PATH_MAX], ram[PATH_MAX], disk[PATH_MAX + 16], console[PATH_MAX + 16],
        qmp[PATH_MAX + 16], pidf[PATH_MAX + 16];
    struct slot *sl = calloc(1, sizeof(*sl));
    int rc;

    if (!sl)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    snprintf(sl->key, sizeof(sl->key), "%s", r->key);
    snprintf(sl->name, sizeof(sl->name), "mcpool-%s-%u", r->key, seq);
    if (snprintf(sl->dir, sizeof(sl->dir), "%s/%s", m->pdir, sl->name) >= (int)sizeof(sl->dir)) {
        free(sl);
        return oc_err_set(err, OC_EINVAL, "pool path too long");
    }
    mci_tpath(m, r->key, "", "root.qcow2", tdisk, sizeof(tdisk));
    snprintf(ram, sizeof(ram), "%s/%s.ram", m->ram_dir, r->key);
    snprintf(disk, sizeof(disk), "%s/root.qcow2", sl->dir);
    snprintf(console, sizeof(console), "%s/console.log", sl->dir);
    snprintf(qmp, sizeof(qmp), "%s/qmp.sock", sl->dir);
    snprintf(pidf, sizeof(pidf), "%s/qemu.pid", sl->dir);
    mci_rm_tree(sl->dir);
    if ((rc = oc_mkdirs(sl->dir, 0700, err)))
        goto fail;
    {
        const char *img[] = { m->qemu_img, "create", "-q", "-f", "qcow2", "-F", "qcow2",
                              "-b", tdisk, disk, NULL };

        if ((rc = oc_run(img, NULL, err)))
            goto fail;
    }
    inst.mem_mb = r->mem_mb;
    inst.vcpus = r->vcpus;
    s.inst = &inst;
    s.hypervisor = r->hypervisor;
    s.kernel_path = r->kernel;
    s.ramdisk_path = r->ramdisk;
    s.cmdline = r->cmdline;
    f.name = sl->name;
    f.ram = ram;
    f.disk = disk;
    f.console = console;
    f.qmp = qmp;
    f.pid = pidf;
    f.incoming = 1;
    mci_build_argv(m, &s, &f, &a);
    rc = mci_spawn_qemu(&a, pidf, &sl->pid, err);
    mci_argv_free(&a);
    if (rc)
        goto fail;
    *out = sl;
    return OC_OK;
fail:
    mci_rm_tree(sl->dir);
    free(sl);
    return rc;
}

static void slot_kill(struct slot *sl)
{
    mci_kill_qemu(sl->pid, sl->name);
    mci_rm_tree(sl->dir);
    free(sl);
}

/* Keeps m->pool slots started for every recipe whose template exists. */
void *mci_filler_main(void *arg)
{
    struct mc *m = arg;

    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct recipe *want = NULL;
        struct timespec until;

        for (struct recipe *r = m->recipes; r && !want; r = r->next) {
            unsigned have = 0;

            for (struct slot *sl = m->slots; sl; sl = sl->next)
                have += strcmp(sl->key, r->key) == 0;
            if (have < m->pool)
                want = r;
        }
        if (want && mci_now_ms() - m->last_claim_ms < POOL_REFILL_DELAY_MS) {
            long long at = m->last_claim_ms + POOL_REFILL_DELAY_MS;

            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += (at - mci_now_ms()) / 1000;
            until.tv_nsec += ((at - mci_now_ms()) % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&m->cv, &m->mu, &until);
            continue;
        }
        if (want) {
            struct recipe copy = *want;
            unsigned seq = ++m->slot_seq;
            char *kernel = want->kernel ? strdup(want->kernel) : NULL,
                 *ramdisk = want->ramdisk ? strdup(want->ramdisk) : NULL,
                 *cmdline = want->cmdline ? strdup(want->cmdline) : NULL;
            struct slot *sl = NULL;
            struct oc_err err = { 0 };
            char argvf[PATH_MAX];
            struct stat st;
            int rc;

            /* A copy: the sweep may drop the recipe meanwhile. */
            copy.kernel = kernel;
            copy.ramdisk = ramdisk;
            copy.cmdline = cmdline;
            pthread_mutex_unlock(&m->mu);
            pthread_mutex_lock(&m->build_mu);
            mci_tpath(m, copy.key, "", "argv", argvf, sizeof(argvf));
            rc = stat(argvf, &st) == 0 ? slot_start(m, &copy, seq, &sl, &err)
                                       : oc_err_set(&err, OC_ENOTFOUND, "template gone");
            pthread_mutex_unlock(&m->build_mu);
            free(kernel);
            free(ramdisk);
            free(cmdline);
            pthread_mutex_lock(&m->mu);
            if (rc == OC_OK && m->stop) {
                pthread_mutex_unlock(&m->mu);
                slot_kill(sl);
                pthread_mutex_lock(&m->mu);
            } else if (rc == OC_OK) {
                sl->next = m->slots;
                m->slots = sl;
                continue;
            } else {
                oc_log(OC_LOG_WARN, "template %s: cannot start a pool QEMU: %s", copy.key,
                       err.msg);
                /* Drop the recipe: the next fork of it notes it again. */
                for (struct recipe **p = &m->recipes; *p; p = &(*p)->next)
                    if (strcmp((*p)->key, copy.key) == 0) {
                        struct recipe *r = *p;

                        *p = r->next;
                        recipe_free(r);
                        break;
                    }
            }
        }
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 2;
        if (!m->stop)
            pthread_cond_timedwait(&m->cv, &m->mu, &until);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* Takes a live slot of key, its console, QMP socket and pid file moved to
 * the instance's paths.  Its disk stays where QEMU opened it, in the slot's
 * directory, for as long as the fork lives (QEMU reopens images by path:
 * when an incoming VM is activated, when a migration ends); the
 * instance's root.qcow2 is a link to it. */
int mci_slot_claim(struct mc *m, const char *key, const struct nc_domain_spec *s,
                      const char *qmp, const char *pidf, pid_t *pid, char name[NAME_MAX_LEN],
                      char slot_dir[PATH_MAX])
{
    struct slot *sl = NULL;
    char from[PATH_MAX + 16];
    int ok;

    pthread_mutex_lock(&m->mu);
    for (struct slot **p = &m->slots; *p; p = &(*p)->next)
        if (strcmp((*p)->key, key) == 0) {
            sl = *p;
            *p = sl->next;
            break;
        }
    /* The filler starts another, but not while this fork's guest and its
     * first moments compete with it for the CPU. */
    m->last_claim_ms = mci_now_ms();
    pthread_mutex_unlock(&m->mu);
    if (!sl)
        return 0;
    ok = mci_qemu_alive(sl->pid, sl->name);
#define MOVE(file, to)                                                              \
    (snprintf(from, sizeof(from), "%s/" file, sl->dir), rename(from, to) == 0)
    ok = ok && MOVE("console.log", s->console_path) && MOVE("qmp.sock", qmp) &&
         MOVE("qemu.pid", pidf);
#undef MOVE
    if (!ok) {
        slot_kill(sl);
        return 0;
    }
    *pid = sl->pid;
    snprintf(name, NAME_MAX_LEN, "%s", sl->name);
    snprintf(slot_dir, PATH_MAX, "%s", sl->dir);
    free(sl);
    return 1;
}

/* Forgets the key's recipe and kills its slots (NULL: every key). */
void mci_drop_pool(struct mc *m, const char *key)
{
    struct slot *gone = NULL;

    pthread_mutex_lock(&m->mu);
    for (struct recipe **p = &m->recipes; *p;) {
        struct recipe *r = *p;

        if (!key || strcmp(r->key, key) == 0) {
            *p = r->next;
            recipe_free(r);
        } else {
            p = &r->next;
        }
    }
    for (struct slot **p = &m->slots; *p;) {
        struct slot *sl = *p;

        if (!key || strcmp(sl->key, key) == 0) {
            *p = sl->next;
            sl->next = gone;
            gone = sl;
        } else {
            p = &sl->next;
        }
    }
    pthread_mutex_unlock(&m->mu);
    while (gone) {
        struct slot *sl = gone;

        gone = sl->next;
        slot_kill(sl);
    }
}

/* The pid of the fork running under a pool slot's name, from the
 * instances' files (-1 when none). */
static pid_t find_pool_fork(struct mc *m, const char *name)
{
    DIR *d = opendir(m->idir);
    struct dirent *e;
    pid_t pid = -1;

    while (d && pid < 0 && (e = readdir(d))) {
        char path[PATH_MAX + 300], got[NAME_MAX_LEN];

        if (!nc_valid_instance_id(e->d_name))
            continue;
        snprintf(path, sizeof(path), "%s/%s/qemu.name", m->idir, e->d_name);
        if (mci_read_small(path, got, sizeof(got)) && strcmp(got, name) == 0) {
            snprintf(path, sizeof(path), "%s/%s/qemu.pid", m->idir, e->d_name);
            pid = mci_read_pid(path);
        }
    }
    if (d)
        closedir(d);
    return pid;
}

/* Pool QEMUs a node that was killed left behind: killed, removed. */
void mci_clear_stale_pool(struct mc *m)
{
    DIR *d = opendir(m->pdir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char path[PATH_MAX + 300];

        if (strncmp(e->d_name, "mcpool-", 7) != 0 || strlen(e->d_name) >= NAME_MAX_LEN)
            continue;
        snprintf(path, sizeof(path), "%s/%s/qemu.pid", m->pdir, e->d_name);
        if (access(path, F_OK) != 0) {
            /* Taken by a fork: its disk lives here; gone when the fork is
             * (a fork that ended while the node was down: gone now). */
            if (!mci_qemu_alive(find_pool_fork(m, e->d_name), e->d_name)) {
                snprintf(path, sizeof(path), "%s/%s", m->pdir, e->d_name);
                mci_rm_tree(path);
            }
            continue;
        }
        mci_kill_qemu(mci_read_pid(path), e->d_name);
        snprintf(path, sizeof(path), "%s/%s", m->pdir, e->d_name);
        mci_rm_tree(path);
    }
    closedir(d);
}

