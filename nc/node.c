/*
 * node.c - the node's instances and their lifecycle (see node.h).
 *
 * One mutex guards the instance list and every record in it; a condition
 * variable wakes stop operations waiting for their VM to end and
 * nc_node_free waiting for operations.  Slow steps (image fetch, qemu-img,
 * libvirt calls) always run with the mutex released, on the instance's
 * operation thread; `busy` says an operation owns the instance.
 */
#include "nc/node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "nc/disk.h"
#include "nc/domain.h"

#define PIN_IMAGE 1
#define PIN_KERNEL 2
#define PIN_RAMDISK 4

struct inst {
    struct nc_instance rec;
    int busy;                 /* an operation thread owns it */
    int terminate_wanted;     /* asked while busy: the owner terminates next */
    int vm_ended;             /* the driver reported the VM gone */
    unsigned pins;
    char base_format[8];
    char base[PATH_MAX], kernel[PATH_MAX], ramdisk[PATH_MAX];
    struct inst *next;
};

struct nc_node {
    struct nc_node_config cfg;
    char *dir, *inst_dir, *cmdline, *hypervisor, *dac_label, *qemu_img;
    struct nc_driver drv;     /* libvirt: ordinary instances */
    struct nc_driver mc;      /* MacroComponent forks; .start NULL = none */
    struct nc_imgcache *cache;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct inst *list;
    unsigned ops;             /* operation threads alive */
    int ready;
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

/* $dir/instances/<id>[/name] */
static void inst_path(const struct nc_node *n, const char *id, const char *name, char *out,
                      size_t cap)
{
    if (name)
        snprintf(out, cap, "%s/%s/%s", n->inst_dir, id, name);
    else
        snprintf(out, cap, "%s/%s", n->inst_dir, id);
}

/* The driver that runs the instance's VM. */
static const struct nc_driver *drv_of(const struct nc_node *n, const struct inst *in)
{
    return in->rec.mc_ready[0] ? &n->mc : &n->drv;
}

static struct inst *find(struct nc_node *n, const char *id)
{
    for (struct inst *i = n->list; i; i = i->next)
        if (strcmp(i->rec.id, id) == 0)
            return i;
    return NULL;
}

/* Locked.  Writes the record file (when the instance still has its
 * directory) and reports the change. */
static void persist(struct nc_node *n, struct inst *in)
{
    struct oc_buf b = { 0 };
    struct oc_err err = { 0 };
    char path[PATH_MAX], dir[PATH_MAX];
    struct stat st;

    inst_path(n, in->rec.id, NULL, dir, sizeof(dir));
    if (stat(dir, &st) == 0) {
        inst_path(n, in->rec.id, "instance.xml", path, sizeof(path));
        if (nc_record_xml(&in->rec, &b, &err) != OC_OK ||
            oc_write_file_atomic(path, b.data, b.len, 0600, &err) != OC_OK)
            oc_log(OC_LOG_ERROR, "%s: cannot save the record: %s", in->rec.id, err.msg);
        oc_buf_free(&b);
    }
    if (n->cfg.report)
        n->cfg.report(n->cfg.report_ctx, &in->rec);
}

static void set_state(struct nc_node *n, struct inst *in, enum nc_state s, const char *reason)
{
    if (in->rec.state != s)
        oc_log(OC_LOG_INFO, "%s: %s -> %s%s%s", in->rec.id, nc_state_name(in->rec.state),
               nc_state_name(s), reason && *reason ? ": " : "", reason ? reason : "");
    in->rec.state = s;
    snprintf(in->rec.state_reason, sizeof(in->rec.state_reason), "%s", reason ? reason : "");
    in->rec.state_time = now_s();
    persist(n, in);
}

/* Removes the instance's directory (flat: disks, console, record). */
static void remove_files(struct nc_node *n, const char *id)
{
    char dir[PATH_MAX], path[PATH_MAX + 256];
    DIR *d;
    struct dirent *e;

    inst_path(n, id, NULL, dir, sizeof(dir));
    d = opendir(dir);
    if (!d)
        return;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) != 0)
                oc_log(OC_LOG_WARN, "%s: cannot remove %s: %s", id, path, strerror(errno));
        }
    closedir(d);
    if (rmdir(dir) != 0)
        oc_log(OC_LOG_WARN, "%s: cannot remove %s: %s", id, dir, strerror(errno));
}

static void unpin(struct nc_node *n, struct inst *in)
{
    if (in->pins & PIN_IMAGE)
        nc_imgcache_release(n->cache, in->rec.image.id, in->rec.image.digest);
    if (in->pins & PIN_KERNEL)
        nc_imgcache_release(n->cache, in->rec.kernel.id, in->rec.kernel.digest);
    if (in->pins & PIN_RAMDISK)
        nc_imgcache_release(n->cache, in->rec.ramdisk.id, in->rec.ramdisk.digest);
    in->pins = 0;
}

/* Pins every image of the instance and learns where they are.  Not
 * locked: the instance is owned by the caller (busy, or adoption). */
static int pin(struct nc_node *n, struct inst *in, struct oc_err *err)
{
    struct {
        const struct nc_image_spec *spec;
        unsigned bit;
        char *path;
    } want[] = {
        { &in->rec.image, PIN_IMAGE, in->base },
        { &in->rec.kernel, PIN_KERNEL, in->kernel },
        { &in->rec.ramdisk, PIN_RAMDISK, in->ramdisk },
    };

    for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
        struct nc_image_ref ref = { want[k].spec->id, want[k].spec->location,
                                    want[k].spec->digest };
        struct nc_cached_image ci;
        int rc;

        if (!want[k].spec->id[0] || (in->pins & want[k].bit))
            continue;
        rc = nc_imgcache_get(n->cache, &ref, &ci, err);
        if (rc)
            return rc;
        pthread_mutex_lock(&n->mu);
        in->pins |= want[k].bit;
        snprintf(want[k].path, PATH_MAX, "%s", ci.path);
        if (want[k].bit == PIN_IMAGE)
            snprintf(in->base_format, sizeof(in->base_format), "%s", ci.format);
        pthread_mutex_unlock(&n->mu);
    }
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* operations */

enum op_kind { OP_LAUNCH, OP_START, OP_STOP, OP_TERMINATE };

struct op {
    struct nc_node *n;
    struct inst *in;
    enum op_kind kind;
};

static int wants_terminate(struct nc_node *n, struct inst *in)
{
    int t;

    pthread_mutex_lock(&n->mu);
    t = in->terminate_wanted;
    pthread_mutex_unlock(&n->mu);
    return t;
}

/* What the driver needs to start the VM: its record and files. */
struct vm_paths {
    char root[PATH_MAX], eph[PATH_MAX], swap[PATH_MAX], console[PATH_MAX];
};

static void vm_spec(struct nc_node *n, struct inst *in, struct vm_paths *p,
                    struct nc_domain_spec *sp)
{
    struct nc_domain_spec s = { 0 };

    inst_path(n, in->rec.id, "root.qcow2", p->root, sizeof(p->root));
    inst_path(n, in->rec.id, "ephemeral.qcow2", p->eph, sizeof(p->eph));
    inst_path(n, in->rec.id, "swap.qcow2", p->swap, sizeof(p->swap));
    inst_path(n, in->rec.id, "console.log", p->console, sizeof(p->console));
    s.inst = &in->rec;
    s.hypervisor = n->hypervisor;
    s.root_path = p->root;
    s.ephemeral_path = in->rec.ephemeral_gb ? p->eph : NULL;
    s.swap_path = in->rec.swap_mb ? p->swap : NULL;
    s.kernel_path = in->rec.kernel.id[0] ? in->kernel : NULL;
    s.ramdisk_path = in->rec.ramdisk.id[0] ? in->ramdisk : NULL;
    s.cmdline = n->cmdline;
    s.console_path = p->console;
    s.dac_label = n->dac_label;
    s.base_path = in->base;
    s.base_format = in->base_format;
    *sp = s;
}

/* Images, disks and the domain of a new instance. */
static int launch(struct nc_node *n, struct inst *in, struct oc_err *err)
{
    char path[PATH_MAX];
    int rc;

    if ((rc = pin(n, in, err)))
        return rc;
    /* A MacroComponent's disk is an overlay on its template's, made by
     * its driver with the fork. */
    if (wants_terminate(n, in) || in->rec.mc_ready[0])
        return OC_OK;
    inst_path(n, in->rec.id, "root.qcow2", path, sizeof(path));
    if ((rc = nc_disk_overlay(n->qemu_img, in->base, in->base_format, path,
                              (uint64_t)in->rec.disk_gb << 30, err)))
        return rc;
    if (in->rec.ephemeral_gb) {
        inst_path(n, in->rec.id, "ephemeral.qcow2", path, sizeof(path));
        if ((rc = nc_disk_blank(n->qemu_img, path, (uint64_t)in->rec.ephemeral_gb << 30, err)))
            return rc;
    }
    if (in->rec.swap_mb) {
        inst_path(n, in->rec.id, "swap.qcow2", path, sizeof(path));
        if ((rc = nc_disk_blank(n->qemu_img, path, (uint64_t)in->rec.swap_mb << 20, err)))
            return rc;
    }
    return OC_OK;
}

static int boot(struct nc_node *n, struct inst *in, struct oc_err *err)
{
    const struct nc_driver *d = drv_of(n, in);
    struct vm_paths *p;
    struct nc_domain_spec s;
    int rc;

    if (wants_terminate(n, in))
        return OC_OK;
    p = malloc(sizeof(*p));
    if (!p)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    vm_spec(n, in, p, &s);
    pthread_mutex_lock(&n->mu);
    in->vm_ended = 0;
    pthread_mutex_unlock(&n->mu);
    rc = d->start(d->ctx, &s, err);
    free(p);
    return rc;
}

/* Ends the VM and everything it had. */
static void terminate_now(struct nc_node *n, struct inst *in, const char *reason)
{
    struct oc_err err = { 0 };
    const struct nc_driver *d = drv_of(n, in);
    int rc = d->destroy(d->ctx, in->rec.id, &err);

    if (rc != OC_OK && rc != OC_ENOTFOUND)
        oc_log(OC_LOG_ERROR, "%s: %s", in->rec.id, err.msg);
    pthread_mutex_lock(&n->mu);
    unpin(n, in);
    pthread_mutex_unlock(&n->mu);
    remove_files(n, in->rec.id);
    pthread_mutex_lock(&n->mu);
    set_state(n, in, NC_TERMINATED, reason);
    pthread_mutex_unlock(&n->mu);
}

/* Waits (locked) up to timeout_s for the driver to report the VM ended. */
static void wait_ended(struct nc_node *n, struct inst *in, unsigned timeout_s)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_s;
    while (!in->vm_ended)
        if (pthread_cond_timedwait(&n->cv, &n->mu, &until) != 0)
            break;
}

static void *op_main(void *arg)
{
    struct op *op = arg;
    struct nc_node *n = op->n;
    struct inst *in = op->in;
    struct oc_err err = { 0 };
    char reason[sizeof(in->rec.state_reason)];
    int rc = OC_OK;

    switch (op->kind) {
    case OP_LAUNCH: {
        double t0 = oc_mono_ms(), t1;

        rc = launch(n, in, &err);
        t1 = oc_mono_ms();
        if (rc == OC_OK)
            rc = boot(n, in, &err);
        oc_debug("%s: launch %.1f ms (images and disks %.1f, VM start %.1f)", in->rec.id,
                 oc_mono_ms() - t0, t1 - t0, oc_mono_ms() - t1);
        break;
    }
    case OP_START:
        rc = pin(n, in, &err);
        if (rc == OC_OK)
            rc = boot(n, in, &err);
        break;
    case OP_STOP:
        rc = n->drv.shutdown(n->drv.ctx, in->rec.id, &err);   /* never a fork */
        pthread_mutex_lock(&n->mu);
        if (rc == OC_OK)
            wait_ended(n, in, n->cfg.shutdown_timeout_s);
        pthread_mutex_unlock(&n->mu);
        /* A guest that ignores ACPI is powered off. */
        rc = n->drv.destroy(n->drv.ctx, in->rec.id, &err);
        if (rc == OC_ENOTFOUND)
            rc = OC_OK;
        break;
    case OP_TERMINATE:
        terminate_now(n, in, "");
        break;
    }

    pthread_mutex_lock(&n->mu);
    if (op->kind != OP_TERMINATE) {
        if (in->terminate_wanted) {
            pthread_mutex_unlock(&n->mu);
            terminate_now(n, in, "");
            pthread_mutex_lock(&n->mu);
        } else if (rc != OC_OK) {
            snprintf(reason, sizeof(reason), "Server.InternalError: %.220s", err.msg);
            oc_log(OC_LOG_ERROR, "%s: %s", in->rec.id, err.msg);
            if (op->kind == OP_LAUNCH) {
                pthread_mutex_unlock(&n->mu);
                terminate_now(n, in, reason);
                pthread_mutex_lock(&n->mu);
            } else {
                set_state(n, in, op->kind == OP_STOP ? NC_RUNNING : NC_STOPPED, reason);
            }
        } else if (op->kind == OP_STOP) {
            set_state(n, in, NC_STOPPED, "Client.UserInitiatedShutdown: User initiated shutdown");
        } else if (in->vm_ended) {
            /* It died between start and now: the event handler saw a
             * busy instance and left it to us. */
            set_state(n, in, NC_CRASHED, "Server.InternalError: the VM ended while starting");
        } else {
            set_state(n, in, NC_RUNNING, "");
        }
    }
    in->busy = 0;
    n->ops--;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    free(op);
    return NULL;
}

/* Locked: hands the instance to a new operation thread. */
static int spawn(struct nc_node *n, struct inst *in, enum op_kind kind, struct oc_err *err)
{
    struct op *op = calloc(1, sizeof(*op));
    pthread_attr_t attr;
    pthread_t t;
    int rc;

    if (!op)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    op->n = n;
    op->in = in;
    op->kind = kind;
    in->busy = 1;
    n->ops++;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, op_main, op);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        in->busy = 0;
        n->ops--;
        free(op);
        return oc_err_set(err, OC_EAGAIN, "cannot start a thread: %s", strerror(rc));
    }
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* capacity */

static void totals(struct nc_node *n, struct nc_resources *r)
{
    struct sysinfo si;
    struct statvfs vs;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    memset(r, 0, sizeof(*r));
    r->cores_total = n->cfg.max_cores ? n->cfg.max_cores : (unsigned)(cpus > 0 ? cpus : 1);
    if (n->cfg.max_mem_mb)
        r->mem_total_mb = n->cfg.max_mem_mb;
    else if (sysinfo(&si) == 0)
        r->mem_total_mb = (uint64_t)si.totalram * si.mem_unit >> 20;
    if (n->cfg.max_disk_gb)
        r->disk_total_gb = n->cfg.max_disk_gb;
    else if (statvfs(n->dir, &vs) == 0)
        r->disk_total_gb = (uint64_t)vs.f_blocks * vs.f_frsize >> 30;
}

static uint64_t disk_of(const struct nc_instance *i)
{
    return (uint64_t)i->disk_gb + i->ephemeral_gb + (i->swap_mb + 1023) / 1024;
}

/* Locked. What is left once every live instance has what it was given:
 * stopped ones keep their disks but give back cores and memory. */
static void resources_locked(struct nc_node *n, struct nc_resources *r)
{
    unsigned cores = 0;
    uint64_t mem = 0, disk = 0;

    totals(n, r);
    for (struct inst *i = n->list; i; i = i->next) {
        if (i->rec.state == NC_TERMINATED)
            continue;
        r->instances++;
        disk += disk_of(&i->rec);
        if (i->rec.state != NC_STOPPED) {
            const struct nc_driver *d = drv_of(n, i);

            cores += i->rec.vcpus;
            mem += d->charged_mb ? d->charged_mb(d->ctx, i->rec.id, i->rec.mem_mb)
                                 : i->rec.mem_mb;
        }
    }
    if (n->mc.shared_mb)
        mem += n->mc.shared_mb(n->mc.ctx);
    r->cores_free = cores >= r->cores_total ? 0 : r->cores_total - cores;
    r->mem_free_mb = mem >= r->mem_total_mb ? 0 : r->mem_total_mb - mem;
    r->disk_free_gb = disk >= r->disk_total_gb ? 0 : r->disk_total_gb - disk;
}

void nc_node_drop_image(struct nc_node *n, const char *image_id)
{
    if (n->mc.drop_image)
        n->mc.drop_image(n->mc.ctx, image_id);
}

void nc_node_resources(struct nc_node *n, struct nc_resources *out)
{
    pthread_mutex_lock(&n->mu);
    resources_locked(n, out);
    pthread_mutex_unlock(&n->mu);
}

/* Locked: forgets terminated instances older than the keep time. */
static void purge(struct nc_node *n)
{
    int64_t cutoff = now_s() - (int64_t)n->cfg.terminated_keep_s;

    for (struct inst **p = &n->list; *p;) {
        struct inst *i = *p;

        if (i->rec.state == NC_TERMINATED && !i->busy && i->rec.state_time <= cutoff) {
            *p = i->next;
            free(i);
        } else {
            p = &i->next;
        }
    }
}

/* ------------------------------------------------------------------ */
/* the API's calls */

int nc_node_run(struct nc_node *n, const struct nc_instance *req, struct nc_instance *out,
                struct oc_err *err)
{
    struct nc_resources r;
    struct inst *in;
    char dir[PATH_MAX];
    int rc;

    if ((rc = nc_instance_check(req, err)))
        return rc;
    if (req->mc_ready[0] && !n->mc.start)
        return oc_err_set(err, OC_EINVAL, "this node runs no MacroComponents (NC_MC_ENABLE)");
    pthread_mutex_lock(&n->mu);
    purge(n);
    if (req->clone_of[0] && !find(n, req->id)) {
        struct inst *src = find(n, req->clone_of);

        if (!src || src->rec.state == NC_TERMINATED) {
            pthread_mutex_unlock(&n->mu);
            return oc_err_set(err, OC_ENOTFOUND, "no instance %s on this node", req->clone_of);
        }
        if (src->rec.state != NC_RUNNING || !src->rec.mc_ready[0]) {
            pthread_mutex_unlock(&n->mu);
            return oc_err_set(err, OC_ECONFLICT, "instance %s is not a running MacroComponent",
                              req->clone_of);
        }
    }
    in = find(n, req->id);
    if (in) {
        int same = in->rec.state != NC_TERMINATED &&
                   strcmp(in->rec.image.id, req->image.id) == 0 &&
                   strcmp(in->rec.instance_type, req->instance_type) == 0 &&
                   strcmp(in->rec.mac, req->mac) == 0;

        if (same)
            *out = in->rec;
        pthread_mutex_unlock(&n->mu);
        return same ? OC_OK : oc_err_set(err, OC_EEXIST, "instance %s already exists", req->id);
    }
    resources_locked(n, &r);
    if (req->vcpus > r.cores_free || req->mem_mb > r.mem_free_mb ||
        disk_of(req) > r.disk_free_gb) {
        pthread_mutex_unlock(&n->mu);
        return oc_err_set(err, OC_ETOOBIG, "the node has %u cores, %llu MiB and %llu GiB free; "
                                           "%s needs %u, %u and %llu",
                          r.cores_free, (unsigned long long)r.mem_free_mb,
                          (unsigned long long)r.disk_free_gb, req->id, req->vcpus, req->mem_mb,
                          (unsigned long long)disk_of(req));
    }
    in = calloc(1, sizeof(*in));
    if (!in) {
        pthread_mutex_unlock(&n->mu);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    in->rec = *req;
    if (req->mc_ready[0]) {
        /* A fork has exactly its template's devices: the root disk. */
        in->rec.ephemeral_gb = 0;
        in->rec.swap_mb = 0;
    }
    in->rec.state = NC_PENDING;
    in->rec.state_reason[0] = 0;
    in->rec.launch_time = in->rec.state_time = now_s();
    inst_path(n, req->id, NULL, dir, sizeof(dir));
    if ((rc = oc_mkdirs(dir, 0700, err)) || (rc = spawn(n, in, OP_LAUNCH, err))) {
        pthread_mutex_unlock(&n->mu);
        rmdir(dir);
        free(in);
        return rc;
    }
    in->next = n->list;
    n->list = in;
    persist(n, in);
    *out = in->rec;
    pthread_mutex_unlock(&n->mu);
    return OC_OK;
}

int nc_node_terminate(struct nc_node *n, const char *id, enum nc_state *prev, enum nc_state *cur,
                      struct oc_err *err)
{
    struct inst *in;
    int rc = OC_OK;

    pthread_mutex_lock(&n->mu);
    in = find(n, id);
    if (!in) {
        pthread_mutex_unlock(&n->mu);
        return oc_err_set(err, OC_ENOTFOUND, "no instance %s on this node", id);
    }
    *prev = in->rec.state;
    if (in->rec.state == NC_TERMINATED || in->rec.state == NC_SHUTTING_DOWN) {
        /* Already on its way: asking again changes nothing. */
    } else if (in->busy) {
        in->terminate_wanted = 1;
        set_state(n, in, NC_SHUTTING_DOWN, "");
    } else if ((rc = spawn(n, in, OP_TERMINATE, err)) == OC_OK) {
        set_state(n, in, NC_SHUTTING_DOWN, "");
    }
    *cur = in->rec.state;
    pthread_mutex_unlock(&n->mu);
    return rc;
}

/* stop and start: a state check, then an operation.  A start with a size
 * (vcpus and mem_mb non-zero) writes it into the record first. */
static int transition(struct nc_node *n, const char *id, enum nc_state from, enum nc_state via,
                      enum op_kind kind, unsigned vcpus, unsigned mem_mb, enum nc_state *prev,
                      enum nc_state *cur, struct oc_err *err)
{
    struct inst *in;
    int rc = OC_OK;

    pthread_mutex_lock(&n->mu);
    in = find(n, id);
    if (!in || in->rec.state == NC_TERMINATED) {
        pthread_mutex_unlock(&n->mu);
        return oc_err_set(err, OC_ENOTFOUND, "no instance %s on this node", id);
    }
    *prev = in->rec.state;
    if (in->rec.state == via || (kind == OP_STOP && in->rec.state == NC_STOPPED) ||
        (kind == OP_START && in->rec.state == NC_RUNNING)) {
        /* Already there or on the way. */
    } else if (in->rec.mc_ready[0]) {
        rc = oc_err_set(err, OC_ECONFLICT, "instance %s is a MacroComponent fork: its memory "
                        "lives only while it runs, so it cannot stop or start; terminate it", id);
    } else if (in->busy || (in->rec.state != from &&
                            !(kind == OP_START && in->rec.state == NC_CRASHED) &&
                            !(kind == OP_STOP && in->rec.state == NC_CRASHED))) {
        rc = oc_err_set(err, OC_ECONFLICT, "instance %s is %s", id,
                        nc_state_name(in->rec.state));
    } else if (kind == OP_STOP && in->rec.state == NC_CRASHED) {
        set_state(n, in, NC_STOPPED, "");
    } else {
        if (vcpus && mem_mb && (in->rec.vcpus != vcpus || in->rec.mem_mb != mem_mb)) {
            oc_log(OC_LOG_INFO, "%s: %u vCPUs, %u MiB -> %u vCPUs, %u MiB", id, in->rec.vcpus,
                   in->rec.mem_mb, vcpus, mem_mb);
            in->rec.vcpus = vcpus;
            in->rec.mem_mb = mem_mb;   /* saved with the state change below */
        }
        if ((rc = spawn(n, in, kind, err)) == OC_OK)
            set_state(n, in, via, "");
    }
    *cur = in->rec.state;
    pthread_mutex_unlock(&n->mu);
    return rc;
}

int nc_node_stop(struct nc_node *n, const char *id, enum nc_state *prev, enum nc_state *cur,
                 struct oc_err *err)
{
    return transition(n, id, NC_RUNNING, NC_STOPPING, OP_STOP, 0, 0, prev, cur, err);
}

int nc_node_start(struct nc_node *n, const char *id, enum nc_state *prev, enum nc_state *cur,
                  struct oc_err *err)
{
    return transition(n, id, NC_STOPPED, NC_PENDING, OP_START, 0, 0, prev, cur, err);
}

int nc_node_start_as(struct nc_node *n, const char *id, unsigned vcpus, unsigned mem_mb,
                     enum nc_state *prev, enum nc_state *cur, struct oc_err *err)
{
    return transition(n, id, NC_STOPPED, NC_PENDING, OP_START, vcpus, mem_mb, prev, cur, err);
}

int nc_node_reboot(struct nc_node *n, const char *id, struct oc_err *err)
{
    struct inst *in;
    int running;

    pthread_mutex_lock(&n->mu);
    in = find(n, id);
    running = in && in->rec.state == NC_RUNNING && !in->busy;
    pthread_mutex_unlock(&n->mu);
    if (!in)
        return oc_err_set(err, OC_ENOTFOUND, "no instance %s on this node", id);
    if (!running)
        return oc_err_set(err, OC_ECONFLICT, "instance %s is not running", id);
    return drv_of(n, in)->reset(drv_of(n, in)->ctx, id, err);
}

int nc_node_console(struct nc_node *n, const char *id, size_t max, struct oc_buf *out,
                    struct oc_err *err)
{
    char path[PATH_MAX];
    struct stat st;
    off_t from;
    ssize_t got;
    int fd, rc;

    pthread_mutex_lock(&n->mu);
    rc = find(n, id) ? OC_OK : OC_ENOTFOUND;
    pthread_mutex_unlock(&n->mu);
    if (rc)
        return oc_err_set(err, rc, "no instance %s on this node", id);
    inst_path(n, id, "console.log", path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? OC_OK : oc_err_set(err, OC_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || oc_buf_reserve(out, max) != OC_OK) {
        close(fd);
        return oc_err_set(err, OC_EIO, "cannot read the console of %s", id);
    }
    from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
    got = pread(fd, out->data + out->len, (size_t)(st.st_size - from), from);
    close(fd);
    if (got < 0)
        return oc_err_set(err, OC_EIO, "cannot read the console of %s", id);
    out->len += (size_t)got;
    return OC_OK;
}

int nc_node_get(struct nc_node *n, const char *id, struct nc_instance *out)
{
    struct inst *in;

    pthread_mutex_lock(&n->mu);
    in = find(n, id);
    if (in)
        *out = in->rec;
    pthread_mutex_unlock(&n->mu);
    return in ? OC_OK : OC_ENOTFOUND;
}

int nc_node_list(struct nc_node *n, struct nc_instance **out, size_t *count)
{
    size_t k = 0, total = 0;

    pthread_mutex_lock(&n->mu);
    purge(n);
    for (struct inst *i = n->list; i; i = i->next)
        total++;
    *out = calloc(total + 1, sizeof(**out));
    if (!*out) {
        pthread_mutex_unlock(&n->mu);
        return OC_ENOMEM;
    }
    for (struct inst *i = n->list; i; i = i->next)
        (*out)[k++] = i->rec;
    pthread_mutex_unlock(&n->mu);
    *count = k;
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* events from the driver */

void nc_node_vm_event(void *node, const char *id, enum nc_vm_event ev)
{
    struct nc_node *n = node;
    struct inst *in;

    pthread_mutex_lock(&n->mu);
    in = n->ready ? find(n, id) : NULL;
    if (!in) {
        pthread_mutex_unlock(&n->mu);
        return;
    }
    if (ev == NC_VM_STARTED) {
        in->vm_ended = 0;
    } else {
        in->vm_ended = 1;
        pthread_cond_broadcast(&n->cv);
        /* An operation in flight reads vm_ended itself; otherwise the
         * guest or something outside us ended a running VM. */
        if (!in->busy && (in->rec.state == NC_RUNNING || in->rec.state == NC_PENDING)) {
            if (ev == NC_VM_SHUTDOWN)
                set_state(n, in, NC_STOPPED,
                          "Client.InstanceInitiatedShutdown: Instance initiated shutdown");
            else if (ev == NC_VM_DESTROYED)
                set_state(n, in, NC_STOPPED,
                          "Server.ForcedShutdown: the VM was ended outside the node controller");
            else
                set_state(n, in, NC_CRASHED, "Server.InternalError: the guest crashed");
        }
    }
    pthread_mutex_unlock(&n->mu);
}

/* ------------------------------------------------------------------ */
/* life of the node */

struct nc_node *nc_node_alloc(void)
{
    struct nc_node *n = calloc(1, sizeof(*n));

    if (n) {
        pthread_mutex_init(&n->mu, NULL);
        pthread_cond_init(&n->cv, NULL);
    }
    return n;
}

static char *dup_or(const char *s, const char *def)
{
    return strdup(s && *s ? s : def);
}

int nc_node_init(struct nc_node *n, const struct nc_node_config *cfg, const struct nc_driver *drv,
                 const struct nc_driver *mc, struct nc_imgcache *cache, struct oc_err *err)
{
    int rc;

    n->cfg = *cfg;
    n->drv = *drv;
    if (mc)
        n->mc = *mc;
    n->cache = cache;
    n->dir = strdup(cfg->dir);
    n->hypervisor = dup_or(cfg->hypervisor, "qemu");
    n->cmdline = dup_or(cfg->cmdline, "console=ttyS0");
    n->dac_label = strdup(cfg->dac_label ? cfg->dac_label : "");
    n->qemu_img = dup_or(cfg->qemu_img, "qemu-img");
    if (!n->dir || !n->hypervisor || !n->cmdline || !n->dac_label || !n->qemu_img ||
        asprintf(&n->inst_dir, "%s/instances", cfg->dir) < 0) {
        n->inst_dir = NULL;
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    if ((rc = oc_mkdirs(n->inst_dir, 0700, err)))
        return rc;
    return OC_OK;
}

void nc_node_drain(struct nc_node *n)
{
    pthread_mutex_lock(&n->mu);
    while (n->ops)
        pthread_cond_wait(&n->cv, &n->mu);
    pthread_mutex_unlock(&n->mu);
}

void nc_node_free(struct nc_node *n)
{
    if (!n)
        return;
    nc_node_drain(n);
    pthread_mutex_lock(&n->mu);
    for (struct inst *i = n->list, *next; i; i = next) {
        next = i->next;
        unpin(n, i);
        free(i);
    }
    n->list = NULL;
    pthread_mutex_unlock(&n->mu);
    free(n->dir);
    free(n->inst_dir);
    free(n->hypervisor);
    free(n->cmdline);
    free(n->dac_label);
    free(n->qemu_img);
    pthread_mutex_destroy(&n->mu);
    pthread_cond_destroy(&n->cv);
    free(n);
}

static int read_record(struct nc_node *n, const char *id, struct nc_instance *out)
{
    char path[PATH_MAX];
    char *text = NULL;
    size_t len = 0;
    struct oc_err err = { 0 };
    int rc;

    inst_path(n, id, "instance.xml", path, sizeof(path));
    rc = oc_read_file(path, 1 << 16, &text, &len, &err);
    if (rc == OC_OK)
        rc = nc_record_parse(text, len, out, &err);
    if (rc == OC_OK && strcmp(out->id, id) != 0)
        rc = oc_err_set(&err, OC_EINVAL, "the record is for %s", out->id);
    if (rc)
        oc_log(OC_LOG_WARN, "%s: unreadable record left alone: %s", path, err.msg);
    free(text);
    return rc;
}

static void adopt_one(struct nc_node *n, const struct nc_instance *rec, int active,
                      unsigned *adopted)
{
    struct inst *in = calloc(1, sizeof(*in));
    struct oc_err err = { 0 };

    if (!in)
        return;
    in->rec = *rec;
    if (active) {
        in->rec.state = NC_RUNNING;
        in->rec.state_reason[0] = 0;
    } else if (rec->state != NC_STOPPED && rec->state != NC_CRASHED) {
        in->rec.state = NC_STOPPED;
        snprintf(in->rec.state_reason, sizeof(in->rec.state_reason), "%s",
                 "Server.InternalError: the VM was not running when the node controller "
                 "started");
    }
    if (pin(n, in, &err) != OC_OK)
        oc_log(OC_LOG_WARN, "%s: its images are not in the cache: %s", rec->id, err.msg);
    pthread_mutex_lock(&n->mu);
    in->next = n->list;
    n->list = in;
    in->rec.state_time = now_s();
    persist(n, in);
    pthread_mutex_unlock(&n->mu);
    oc_log(OC_LOG_INFO, "%s: adopted (%s)", rec->id, nc_state_name(in->rec.state));
    (*adopted)++;
}

/*
 * What runs (libvirt) and what was recorded (files) are put together:
 *   a running VM with a record (file, else the one in its metadata): running
 *   a record without a VM: stopped stays stopped; one that was running is
 *     now stopped (its disks are intact and it can start again); one that
 *     never finished launching (pending) or was terminating, or a
 *     MacroComponent fork (its memory died with its QEMU), is removed
 *   a VM without any record of ours: left alone, not ours
 */
static int inst_dir_exists(struct nc_node *n, const char *id)
{
    char path[PATH_MAX];
    struct stat sb;

    if (!nc_valid_instance_id(id) ||
        snprintf(path, sizeof(path), "%s/%s", n->inst_dir, id) >= (int)sizeof(path))
        return 0;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int adopt_running(struct nc_node *n, const struct nc_driver *drv, unsigned *adopted,
                         struct oc_err *err)
{
    struct nc_vm_info *vms = NULL;
    size_t nvms = 0;
    int rc;

    if (!drv->list)
        return OC_OK;
    if ((rc = drv->list(drv->ctx, &vms, &nvms, err)))
        return rc;
    for (size_t k = 0; k < nvms; k++) {
        struct nc_instance rec;
        struct oc_err perr = { 0 };

        /* The copy of the record in the domain's metadata serves only for a
         * VM whose instance directory is in this node's home: another
         * node on the same libvirtd (or host) owns the rest. */
        if (read_record(n, vms[k].id, &rec) != OC_OK &&
            (!vms[k].record || !inst_dir_exists(n, vms[k].id) ||
             nc_record_parse(vms[k].record, strlen(vms[k].record), &rec, &perr) != OC_OK ||
             strcmp(rec.id, vms[k].id) != 0))
            continue;
        if (vms[k].active && !!rec.mc_ready[0] == (drv == &n->mc))
            adopt_one(n, &rec, 1, adopted);
    }
    nc_vm_info_free(vms, nvms);
    return OC_OK;
}

int nc_node_adopt(struct nc_node *n, unsigned *adopted, struct oc_err *err)
{
    DIR *d;
    struct dirent *e;
    int rc;

    *adopted = 0;
    if ((rc = adopt_running(n, &n->drv, adopted, err)) ||
        (rc = adopt_running(n, &n->mc, adopted, err)))
        return rc;
    d = opendir(n->inst_dir);
    if (!d)
        return oc_err_set(err, OC_EIO, "%s: %s", n->inst_dir, strerror(errno));
    while ((e = readdir(d))) {
        struct nc_instance rec;
        int known;

        if (!nc_valid_instance_id(e->d_name))
            continue;
        pthread_mutex_lock(&n->mu);
        known = find(n, e->d_name) != NULL;
        pthread_mutex_unlock(&n->mu);
        if (known || read_record(n, e->d_name, &rec) != OC_OK)
            continue;
        /* A fork whose QEMU is gone cannot come back: its memory is lost. */
        if (rec.state == NC_PENDING || rec.state == NC_SHUTTING_DOWN ||
            rec.state == NC_TERMINATED || rec.mc_ready[0]) {
            oc_log(OC_LOG_INFO, "%s: was %s with no VM: removing its files", rec.id,
                   nc_state_name(rec.state));
            remove_files(n, rec.id);
            if (n->cfg.report) {
                rec.state = NC_TERMINATED;
                rec.state_time = now_s();
                n->cfg.report(n->cfg.report_ctx, &rec);
            }
            continue;
        }
        adopt_one(n, &rec, 0, adopted);
    }
    closedir(d);
    pthread_mutex_lock(&n->mu);
    n->ready = 1;
    pthread_mutex_unlock(&n->mu);
    return OC_OK;
}
