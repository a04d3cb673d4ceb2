/*
 * mc.c - the MacroComponent driver (driver.h): template VMs and their
 * copy-on-write forks, QEMU started with a fixed argv and driven over QMP
 * (nc/qmp.c).  libvirt cannot express any of it: no per-domain RAM file
 * shared with other processes, no x-ignore-shared, and it issues
 * migrate-incoming itself.
 *
 * A template is one immutable unit, named by the SHA-256 of its identity:
 * the QEMU binary (path, size, mtime), the argv with per-VM paths left as
 * placeholders (machine, memory, CPUs, kernel, initrd, command line, base
 * image, devices) and the ready point.  Anything that changes the argv or
 * the binary names a new template, so a fork never meets mismatched state.
 *
 *   $dir/templates/<key>/argv       the identity text, checked before a fork
 *                       /root.qcow2 the template's disk (an overlay on the
 *                                   cached base), frozen at the ready point
 *                       /state      device state (migrate to a file)
 *                       /console.log  the template's boot
 *                       /family     image and size: a newer template of the
 *                                   same family supersedes this one
 *   $ram_dir/<key>.ram              guest RAM (share=on in the template,
 *                                   share=off, i.e. MAP_PRIVATE, in forks)
 *
 * Building: boot with share=on, wait for the ready point (a console
 * marker, or N seconds), `stop`, x-ignore-shared, `migrate` the device
 * state to a file descriptor passed over QMP, `quit`: a template never
 * runs again, or its writes would show through in forks.  Built in
 * templates/<key>.tmp and renamed into place when whole.
 *
 * Forking: the same argv with share=off, `-incoming defer -S` (started
 * ahead by the pool, mc_pool.c, when it can); over QMP x-ignore-shared,
 * `migrate-incoming` from the state file's descriptor; the fork's own NIC
 * (its MAC, on its bridge or tap) is hot-plugged while it is paused;
 * `cont`.  Its guest sees the new NIC, sets its clock, reseeds its RNG from
 * the virtio-rng every template has (fed by each QEMU from the host's
 * /dev/urandom) and takes its own address by DHCP.  Its disk is an overlay on
 * the template's frozen disk, consistent with the page cache in its
 * memory.  Clones of a running fork: mc_clone.c.
 *
 * QEMU daemonizes: forks outlive the node controller and are re-adopted
 * from instances/<id>/qemu.pid.  A monitor thread notices forks that end
 * and measures what each really costs (its private pages).  Template RAM
 * files are never truncated (that would kill the forks mapping them);
 * unlinking one is safe.
 */
#include "nc/mc_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/codec.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/proc.h"
#include "nc/qmp.h"

/* ------------------------------------------------------------------ */
/* small things */

long long mci_now_ms(void)
{
    return (long long)oc_mono_ms();
}

void mci_sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* 1 when pid is a live QEMU whose command line names `name` (a recycled
 * pid, or a zombie, is not).  A fork's name is its instance id, or the
 * pool slot's name it was started under (instances/<id>/qemu.name). */
int mci_qemu_alive(pid_t pid, const char *name)
{
    char path[64], buf[4096], want[NAME_MAX_LEN + 16], st[512];
    ssize_t n;
    int fd;
    char *p;

    if (pid <= 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, st, sizeof(st) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    st[n] = 0;
    p = strrchr(st, ')');
    if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X')
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    for (ssize_t i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = ' ';
    snprintf(want, sizeof(want), "guest=%s,", name);
    return strstr(buf, want) != NULL;
}

/* A small file's text (trailing newline dropped); 0 when unreadable. */
int mci_read_small(const char *path, char *out, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, out, cap - 1);
    close(fd);
    if (n <= 0)
        return 0;
    out[n] = 0;
    if (out[n - 1] == '\n')
        out[n - 1] = 0;
    return 1;
}

pid_t mci_read_pid(const char *path)
{
    char buf[32];

    return mci_read_small(path, buf, sizeof(buf)) ? (pid_t)atoi(buf) : -1;
}

/* Kills a QEMU we started and waits (bounded) for it to be gone. */
void mci_kill_qemu(pid_t pid, const char *name)
{
    if (!mci_qemu_alive(pid, name))
        return;
    kill(pid, SIGKILL);
    for (int i = 0; i < 500 && mci_qemu_alive(pid, name); i++)
        mci_sleep_ms(10);
}

void mci_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[PATH_MAX + 256];

    if (!d)
        return;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
    rmdir(dir);
}

/* ------------------------------------------------------------------ */
/* the argv */

static void add(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct argv *a, const char *fmt, ...)
{
    va_list ap;
    char *s;

    if (a->oom || a->n >= ARGV_MAX) {
        a->oom = 1;
        return;
    }
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) {
        a->oom = 1;
        s = NULL;
    }
    va_end(ap);
    a->v[a->n++] = s;
}

void mci_argv_free(struct argv *a)
{
    for (int i = 0; i < a->n; i++)
        free(a->v[i]);
    a->n = 0;
}

void mci_build_argv(struct mc *m, const struct nc_domain_spec *s, const struct vm_files *f,
                       struct argv *a)
{
    const struct nc_instance *i = s->inst;
    int kvm = strcmp(s->hypervisor, "kvm") == 0;

    add(a, "%s", m->qemu);
    add(a, "-name");
    add(a, "guest=%s,debug-threads=off", f->name);
    add(a, "-accel");
    if (kvm)
        add(a, "kvm");
    else
        add(a, "tcg,tb-size=%u", MC_TCG_TB_MB);
    if (kvm) {
        add(a, "-cpu");
        add(a, "host");
    }
    add(a, "-machine");
    add(a, "pc,memory-backend=mem");
    add(a, "-m");
    add(a, "%uM", i->mem_mb);
    add(a, "-smp");
    add(a, "%u", i->vcpus);
    add(a, "-object");
    add(a, "memory-backend-file,id=mem,size=%uM,mem-path=%s,share=%s", i->mem_mb, f->ram,
        f->share ? "on" : "off");
    add(a, "-nodefaults");
    add(a, "-no-user-config");
    add(a, "-display");
    add(a, "none");
    if (s->kernel_path) {
        add(a, "-kernel");
        add(a, "%s", s->kernel_path);
        if (s->ramdisk_path) {
            add(a, "-initrd");
            add(a, "%s", s->ramdisk_path);
        }
        /* oc.mc tells the guest it is a template (tests/guest/init).
         * init_on_free=1: the guest kernel zeroes what it frees, so the
         * template's free memory is zeros, punched out of its RAM file
         * (build_template), and it need not zero the pages it allocates
         * (init_on_alloc, on in distribution kernels, is then skipped for
         * pages): a fork no longer copies a zero page to write zeros over
         * it (a hot-plugged NIC's receive buffers alone were ~100 pages).
         * Memory is cleared when freed rather than when reused: the guest
         * is no less hardened.  The price: its boot zeroes, so touches,
         * all of the template's memory once, until the punch.  First on
         * the line, so that NC_KERNEL_CMDLINE can say otherwise. */
        add(a, "-append");
        add(a, "init_on_free=1 %s oc.mc", s->cmdline ? s->cmdline : "console=ttyS0");
    }
    add(a, "-chardev");
    add(a, "file,id=con,path=%s", f->console);
    add(a, "-serial");
    add(a, "chardev:con");
    add(a, "-drive");
    add(a, "file=%s,if=none,id=vda,format=qcow2", f->disk);
    add(a, "-device");
    add(a, "virtio-blk-pci,drive=vda,id=vda-dev,bootindex=1");
    /* The RNG is there from the template's boot, not hot-plugged into
     * each fork: a fork's bytes still come from its own QEMU (the host's
     * /dev/urandom; a request the template left pending is answered by
     * the fork), and the guest's driver is bound once, in the template.
     * Hot-plugged next to the NIC it cost every fork ~0.2 MiB of private
     * guest pages (~0.8 MiB alone: ACPI event, PCI rescan, probe). */
    add(a, "-object");
    add(a, "rng-random,id=rng0,filename=/dev/urandom");
    add(a, "-device");
    add(a, "virtio-rng-pci,rng=rng0,id=rng0dev,addr=" RNG_ADDR);
    if (f->clone_mac) {
        /* The source's NIC, on a tap of its own that is on no bridge
         * (a tap: the saved NIC has vnet_hdr features a hub lacks); it is
         * unplugged as the clone starts and a NIC of its own takes its
         * place. */
        size_t nl = strlen(f->name);

        add(a, "-netdev");
        add(a, "tap,id=net0,ifname=ocx%s,script=no,downscript=no,vnet_hdr=on",
            f->name + (nl > 12 ? nl - 12 : 0));
        add(a, "-device");
        add(a, "virtio-net-pci,netdev=net0,id=nic0,addr=" NIC_ADDR ",mac=%s", f->clone_mac);
    }
    add(a, "-qmp");
    add(a, "unix:%s,server=on,wait=off", f->qmp);
    add(a, "-daemonize");
    add(a, "-pidfile");
    add(a, "%s", f->pid);
    if (f->incoming) {
        add(a, "-incoming");
        add(a, "defer");
        add(a, "-S");
    }
}

/* The template's identity text and its key. */
static int identity(struct mc *m, const struct nc_domain_spec *s, struct oc_buf *text,
                    char key[KEY_LEN + 1], struct oc_err *err)
{
    static const struct vm_files ph = { "@NAME", "@RAM", "@DISK", "@CONSOLE", "@QMP", "@PID",
                                        1, 0, NULL };
    struct argv a = { 0 };
    struct stat st;
    char hex[2 * OC_SHA256_LEN + 1];
    char path[PATH_MAX];
    int rc = OC_OK;

    /* The binary: by what PATH finds, then its size and mtime. */
    snprintf(path, sizeof(path), "%s", m->qemu);
    if (stat(path, &st) != 0)
        return oc_err_set(err, OC_EIO, "%s: %s (NC_MC_QEMU)", m->qemu, strerror(errno));
    mci_build_argv(m, s, &ph, &a);
    if (a.oom) {
        mci_argv_free(&a);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    rc = oc_buf_printf(text, "qemu %s %lld %lld.%09ld\nready %s\nbase %s\n", m->qemu,
                       (long long)st.st_size, (long long)st.st_mtim.tv_sec,
                       st.st_mtim.tv_nsec, s->inst->mc_ready, s->base_path);
    for (int k = 0; rc == OC_OK && k < a.n; k++)
        rc = oc_buf_printf(text, "%s\n", a.v[k]);
    mci_argv_free(&a);
    if (rc)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    oc_sha256_hex(text->data, text->len, hex);
    memcpy(key, hex, KEY_LEN);
    key[KEY_LEN] = 0;
    return OC_OK;
}

/* Runs QEMU with argv; it daemonizes once it is set up.  *pid from its
 * pidfile. */
int mci_spawn_qemu(struct argv *a, const char *pidfile, pid_t *pid, struct oc_err *err)
{
    int rc;

    if (a->oom)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    unlink(pidfile);
    a->v[a->n] = NULL;
    rc = oc_run((const char *const *)a->v, NULL, err);
    if (rc)
        return rc;
    *pid = mci_read_pid(pidfile);
    if (*pid <= 0)
        return oc_err_set(err, OC_EIO, "QEMU left no pid in %s", pidfile);
    return OC_OK;
}

json_t *mci_ignore_shared_caps(void)
{
    return json_pack("{s:[{s:s,s:b},{s:s,s:b}]}", "capabilities", "capability", "x-ignore-shared",
                     "state", 1, "capability", "events", "state", 1);
}

/* Polls query-migrate until it is completed (or failed, or too slow). */
int mci_wait_migration(struct nc_qmp *q, int timeout_ms, struct oc_err *err)
{
    long long until = mci_now_ms() + timeout_ms;

    for (;;) {
        json_t *r = NULL;
        const char *st;
        int rc = nc_qmp_call(q, "query-migrate", NULL, -1, &r, QMP_TIMEOUT_MS, err);

        if (rc)
            return rc;
        st = json_string_value(json_object_get(r, "status"));
        if (st && strcmp(st, "completed") == 0) {
            json_decref(r);
            return OC_OK;
        }
        if (st && (strcmp(st, "failed") == 0 || strcmp(st, "cancelled") == 0)) {
            const char *why = json_string_value(json_object_get(r, "error-desc"));

            rc = oc_err_set(err, OC_EIO, "migration %s: %s", st, why ? why : "no reason given");
            json_decref(r);
            return rc;
        }
        json_decref(r);
        if (mci_now_ms() > until)
            return oc_err_set(err, OC_EAGAIN, "migration did not complete in %d ms", timeout_ms);
        mci_sleep_ms(2);
    }
}

/* migrate (out) or migrate-incoming (in) through a file, its descriptor
 * passed over QMP (no shell, no path QEMU must open); out is fsync'd. */
int mci_migrate_file(struct nc_qmp *q, const char *path, int out, struct oc_err *err)
{
    int fd = out ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
                 : open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return oc_err_set(err, OC_EIO, "%s: %s", path, strerror(errno));
    rc = nc_qmp_call(q, "getfd", json_pack("{s:s}", "fdname", "mig"), fd, NULL, QMP_TIMEOUT_MS,
                     err);
    if (rc == OC_OK)
        rc = nc_qmp_call(q, out ? "migrate" : "migrate-incoming",
                         json_pack("{s:s}", "uri", "fd:mig"), -1, NULL, QMP_TIMEOUT_MS, err);
    if (rc == OC_OK)
        rc = mci_wait_migration(q, MIGRATE_TIMEOUT_MS, err);
    if (rc == OC_OK && out && fsync(fd) != 0)
        rc = oc_err_set(err, OC_EIO, "%s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

/* Gives a template's RAM file back its holes: pages of zeros take no
 * memory.  Safe at any time once no QEMU maps the file shared: nothing
 * writes it any more (forks map it MAP_PRIVATE), and a fork that reads a
 * punched page reads zeros, as before.  Runs of zero pages are punched in
 * one call; holes are skipped (SEEK_DATA).  Returns the bytes punched. */
uint64_t mci_punch_zero_pages(const char *path)
{
    static const char zero[4096];
    char *buf = malloc(1 << 20);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    off_t off = 0, run = -1;
    uint64_t punched = 0;

    if (!buf || fd < 0) {
        free(buf);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    for (;;) {
        off_t data = lseek(fd, off, SEEK_DATA);
        ssize_t n;

        if (data < 0)
            break;   /* ENXIO: no data past off */
        if (data != off && run >= 0) {
            if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, run, off - run) == 0)
                punched += (uint64_t)(off - run);
            run = -1;
        }
        off = data & ~(off_t)4095;
        {
            /* Read up to the next hole only: holes are neither read nor
             * punched (nor counted) again. */
            off_t hole = lseek(fd, off, SEEK_HOLE);
            size_t want = hole > off && hole - off < (off_t)(1 << 20) ? (size_t)(hole - off)
                                                                      : (size_t)1 << 20;

            n = pread(fd, buf, want, off);
        }
        if (n <= 0)
            break;
        for (ssize_t k = 0; k + 4096 <= n; k += 4096) {
            int z = memcmp(buf + k, zero, 4096) == 0;

            if (z && run < 0) {
                run = off + k;
            } else if (!z && run >= 0) {
                if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, run,
                              off + k - run) == 0)
                    punched += (uint64_t)(off + k - run);
                run = -1;
            }
        }
        off += n;
    }
    if (run >= 0 && off > run &&
        fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, run, off - run) == 0)
        punched += (uint64_t)(off - run);
    close(fd);
    free(buf);
    return punched;
}

/* ------------------------------------------------------------------ */
/* templates */

/* Paths that do not fit are cut short, and then name nothing of ours. */
void mci_tpath(struct mc *m, const char *key, const char *suffix, const char *name, char *out,
                  size_t cap)
{
    if (snprintf(out, cap, "%s/%s%s%s%s", m->tdir, key, suffix, name ? "/" : "",
                 name ? name : "") >= (int)cap)
        out[0] = 0;
}

/* Waits for the ready point in the template's console. */
static int wait_ready(struct mc *m, const char *ready, const char *console, pid_t pid,
                      const char *name, struct oc_err *err)
{
    long long until = mci_now_ms() + (long long)m->ready_timeout_s * 1000;

    if (ready[0] == '+') {
        long long at = mci_now_ms() + atoll(ready + 1) * 1000;

        while (mci_now_ms() < at) {
            if (!mci_qemu_alive(pid, name))
                return oc_err_set(err, OC_EIO, "the template's QEMU ended while booting");
            mci_sleep_ms(50);
        }
        return OC_OK;
    }
    for (;;) {
        char *text = NULL;
        size_t len = 0;
        struct oc_err rerr = { 0 };
        int found = 0;

        if (oc_read_file(console, 16 << 20, &text, &len, &rerr) == OC_OK) {
            /* A marker counts at the start of a line. */
            size_t ml = strlen(ready);

            for (size_t k = 0; !found && k + ml <= len; k++)
                found = (k == 0 || text[k - 1] == '\n') && memcmp(text + k, ready, ml) == 0;
        }
        free(text);
        if (found)
            return OC_OK;
        if (!mci_qemu_alive(pid, name))
            return oc_err_set(err, OC_EIO, "the template's QEMU ended while booting");
        if (mci_now_ms() > until)
            return oc_err_set(err, OC_EAGAIN, "the template printed no \"%s\" in %u s", ready,
                              m->ready_timeout_s);
        mci_sleep_ms(20);
    }
}

/* Boots the template, snapshots it at its ready point, and moves it into
 * place.  Called with build_mu held. */
static int build_template(struct mc *m, const struct nc_domain_spec *s, const char *key,
                          const struct oc_buf *ident, struct oc_err *err)
{
    char tmp[PATH_MAX], disk[PATH_MAX + 32], console[PATH_MAX + 32], qmp[PATH_MAX + 32],
        pidf[PATH_MAX + 32], state[PATH_MAX + 32], ram[PATH_MAX], final[PATH_MAX], name[32],
        fam[128];
    struct vm_files f = { 0 };
    struct argv a = { 0 };
    struct nc_qmp *q = NULL;
    pid_t pid = -1;
    int rc;
    long long t0 = mci_now_ms();
    uint64_t punched;

    mci_tpath(m, key, ".tmp", NULL, tmp, sizeof(tmp));
    mci_tpath(m, key, "", NULL, final, sizeof(final));
    snprintf(ram, sizeof(ram), "%s/%s.ram", m->ram_dir, key);
    snprintf(name, sizeof(name), "mc-%s", key);
    mci_rm_tree(tmp);
    unlink(ram);   /* never truncated: a stale file is replaced, not reused */
    if ((rc = oc_mkdirs(tmp, 0700, err)) || (rc = oc_mkdirs(m->ram_dir, 0700, err)))
        return rc;
    snprintf(disk, sizeof(disk), "%s/root.qcow2", tmp);
    snprintf(console, sizeof(console), "%s/console.log", tmp);
    snprintf(qmp, sizeof(qmp), "%s/qmp.sock", tmp);
    snprintf(pidf, sizeof(pidf), "%s/qemu.pid", tmp);
    snprintf(state, sizeof(state), "%s/state", tmp);
    {
        const char *img[] = { m->qemu_img, "create", "-q", "-f", "qcow2", "-F",
                              s->base_format && s->base_format[0] ? s->base_format : "raw",
                              "-b", s->base_path, disk, NULL, NULL };
        char size[32];

        snprintf(size, sizeof(size), "%uG", s->inst->disk_gb);
        img[10] = size;
        if ((rc = oc_run(img, NULL, err)))
            goto fail;
    }
    f.name = name;
    f.ram = ram;
    f.disk = disk;
    f.console = console;
    f.qmp = qmp;
    f.pid = pidf;
    f.share = 1;
    mci_build_argv(m, s, &f, &a);
    oc_log(OC_LOG_INFO, "template %s: booting for %s (%s)", key, s->inst->image.id,
           s->inst->mc_ready);
    if ((rc = mci_spawn_qemu(&a, pidf, &pid, err)) ||
        (rc = wait_ready(m, s->inst->mc_ready, console, pid, name, err)) ||
        (rc = nc_qmp_open(qmp, QMP_TIMEOUT_MS, &q, err)) ||
        (rc = nc_qmp_call(q, "stop", NULL, -1, NULL, QMP_TIMEOUT_MS, err)) ||
        (rc = nc_qmp_call(q, "migrate-set-capabilities", mci_ignore_shared_caps(), -1, NULL,
                          QMP_TIMEOUT_MS, err)))
        goto fail;
    if ((rc = mci_migrate_file(q, state, 1, err)))
        goto fail;
    /* It must never run again: its writes would show through in forks. */
    if (nc_qmp_call(q, "quit", NULL, -1, NULL, QMP_TIMEOUT_MS, err) != OC_OK)
        oc_log(OC_LOG_DEBUG, "template %s: quit: %s", key, err->msg);
    nc_qmp_close(q);
    q = NULL;
    mci_kill_qemu(pid, name);
    unlink(qmp);
    unlink(pidf);
    /* The guest's free memory is zeros (init_on_free, mci_build_argv):
     * it goes from the RAM file, which then holds what the guest uses
     * (the boot had zeroed, so allocated, all of it). */
    punched = mci_punch_zero_pages(ram);
    snprintf(fam, sizeof(fam), "%s %uM %u %uG\n", s->inst->image.id, s->inst->mem_mb,
             s->inst->vcpus, s->inst->disk_gb);
    snprintf(disk, sizeof(disk), "%s/argv", tmp);
    if ((rc = oc_write_file_atomic(disk, ident->data, ident->len, 0600, err)))
        goto fail;
    snprintf(disk, sizeof(disk), "%s/family", tmp);
    if ((rc = oc_write_file_atomic(disk, fam, strlen(fam), 0600, err)))
        goto fail;
    mci_rm_tree(final);
    if (rename(tmp, final) != 0) {
        rc = oc_err_set(err, OC_EIO, "rename %s: %s", tmp, strerror(errno));
        goto fail;
    }
    mci_argv_free(&a);
    oc_log(OC_LOG_INFO, "template %s: ready and saved in %lld ms (%llu MiB of zero pages "
           "given back)", key, mci_now_ms() - t0, (unsigned long long)(punched >> 20));
    return OC_OK;
fail:
    nc_qmp_close(q);
    mci_kill_qemu(pid, name);
    mci_argv_free(&a);
    mci_rm_tree(tmp);
    unlink(ram);
    return rc;
}

/* The template for s, built when there is none or its identity differs. */
static int ensure_template(struct mc *m, const struct nc_domain_spec *s, char key[KEY_LEN + 1],
                           struct oc_err *err)
{
    struct oc_buf ident = { 0 };
    char path[PATH_MAX], ram[PATH_MAX];
    char *have = NULL;
    size_t len = 0;
    struct oc_err rerr = { 0 };
    struct stat st;
    int rc;

    if ((rc = identity(m, s, &ident, key, err)))
        return rc;
    pthread_mutex_lock(&m->build_mu);
    mci_tpath(m, key, "", "argv", path, sizeof(path));
    snprintf(ram, sizeof(ram), "%s/%s.ram", m->ram_dir, key);
    rc = oc_read_file(path, 1 << 20, &have, &len, &rerr);
    if (rc == OC_OK && len == ident.len && memcmp(have, ident.data, len) == 0) {
        /* A MacroComponent again (its image was turned off and on): the
         * same identity, the same valid template. */
        mci_tpath(m, key, "", "doomed", path, sizeof(path));
        unlink(path);
    }
    if (rc != OC_OK || len != ident.len || memcmp(have, ident.data, len) != 0 ||
        stat(ram, &st) != 0) {
        if (rc == OC_OK)
            oc_log(OC_LOG_WARN, "template %s: its argv or RAM file does not match: rebuilding",
                   key);
        rc = build_template(m, s, key, &ident, err);
    }
    pthread_mutex_unlock(&m->build_mu);
    free(have);
    oc_buf_free(&ident);
    return rc;
}

static struct fork *find_fork(struct mc *m, const char *id)
{
    for (struct fork *f = m->forks; f; f = f->next)
        if (strcmp(f->id, id) == 0)
            return f;
    return NULL;
}

void mci_ipath(struct mc *m, const char *id, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/%s", m->idir, id, name);
}

/* The fork's NIC: a tap QEMU makes (bridge mode, then put on the bridge)
 * or the CC's tap; then a virtio NIC with its MAC. */
static int plug(struct mc *m, struct nc_qmp *q, const struct nc_instance *i, int clone,
                struct oc_err *err)
{
    char tap[NC_IFNAME_MAX];
    int rc;

    (void)m;
    if (clone) {
        /* The source's NIC goes first (the guest ejects it: it must run). */
        long long until = mci_now_ms() + 20000;

        rc = nc_qmp_call(q, "device_del", json_pack("{s:s}", "id", "nic0"), -1, NULL,
                         QMP_TIMEOUT_MS, err);
        while (rc == OC_OK) {
            json_t *data = NULL;
            const char *dev;
            int done, left = (int)(until - mci_now_ms());

            if (left <= 0) {
                rc = oc_err_set(err, OC_EAGAIN, "the guest did not release its source's NIC");
                break;
            }
            if ((rc = nc_qmp_wait_event(q, "DEVICE_DELETED", left, &data, err)))
                break;
            dev = json_string_value(json_object_get(data, "device"));
            done = dev && strcmp(dev, "nic0") == 0;
            json_decref(data);
            if (done)
                break;
        }
        if (rc == OC_OK)
            rc = nc_qmp_call(q, "netdev_del", json_pack("{s:s}", "id", "net0"), -1, NULL,
                             QMP_TIMEOUT_MS, err);
        if (rc)
            return rc;
    }
    if (i->tap[0]) {
        snprintf(tap, sizeof(tap), "%s", i->tap);
    } else {
        /* "oc" + the id's last 13 characters: unique enough, 15 long. */
        size_t n = strlen(i->id);

        snprintf(tap, sizeof(tap), "oc%s", i->id + (n > 13 ? n - 13 : 0));
    }
    rc = nc_qmp_call(q, "netdev_add",
                     json_pack("{s:s,s:s,s:s,s:s,s:s}", "type", "tap", "id", "net0", "ifname",
                               tap, "script", "no", "downscript", "no"),
                     -1, NULL, QMP_TIMEOUT_MS, err);
    if (rc == OC_OK && i->bridge[0]) {
        const char *ip[] = { "ip", "link", "set", "dev", tap, "master", i->bridge, "up", NULL };

        rc = oc_run(ip, NULL, err);
    }
    if (rc == OC_OK)
        rc = nc_qmp_call(q, "device_add",
                         json_pack("{s:s,s:s,s:s,s:s,s:s}", "driver", "virtio-net-pci",
                                   "netdev", "net0", "mac", i->mac, "id", "nic0", "addr",
                                   NIC_ADDR),
                         -1, NULL, QMP_TIMEOUT_MS, err);
    /* The RNG is in every argv (mci_build_argv): the guest reseeds from
     * it when it sees its new NIC. */
    return rc;
}

static int mc_start(void *ctx, const struct nc_domain_spec *s, struct oc_err *err)
{
    struct mc *m = ctx;
    const struct nc_instance *i = s->inst;
    char key[KEY_LEN + 1], tdisk[PATH_MAX], tstate[PATH_MAX], ram[PATH_MAX], qmp[PATH_MAX],
        pidf[PATH_MAX], tkey[PATH_MAX], namef[PATH_MAX], name[NAME_MAX_LEN],
        slot_dir[PATH_MAX] = "";
    struct vm_files f = { 0 };
    struct argv a = { 0 };
    struct nc_qmp *q = NULL;
    struct fork *fk;
    pid_t pid = -1;
    int rc, clone = i->clone_of[0] != 0;
    char clone_mac[32] = "";
    long long t0 = mci_now_ms(), t_qemu, t_restore;

    if (!s->base_path || !s->base_path[0] || !i->mc_ready[0])
        return oc_err_set(err, OC_EINVAL, "%s is not a MacroComponent", i->id);
    if ((rc = clone ? mci_clone_template(m, s, key, err) : ensure_template(m, s, key, err)))
        return rc;
    mci_template_mac(m, key, clone_mac);
    mci_tpath(m, key, "", "root.qcow2", tdisk, sizeof(tdisk));
    mci_tpath(m, key, "", "state", tstate, sizeof(tstate));
    snprintf(ram, sizeof(ram), "%s/%s.ram", m->ram_dir, key);
    mci_ipath(m, i->id, "qmp.sock", qmp, sizeof(qmp));
    mci_ipath(m, i->id, "qemu.pid", pidf, sizeof(pidf));
    mci_ipath(m, i->id, "template", tkey, sizeof(tkey));
    mci_ipath(m, i->id, "qemu.name", namef, sizeof(namef));
    unlink(s->root_path);
    unlink(s->console_path);
    unlink(qmp);
    if ((rc = oc_write_file_atomic(tkey, key, KEY_LEN, 0600, err)))
        return rc;
    if (!clone_mac[0]) {
        pthread_mutex_lock(&m->mu);
        mci_recipe_note(m, key, s);
        pthread_mutex_unlock(&m->mu);
    }
    if (!mci_slot_claim(m, key, s, qmp, pidf, &pid, name, slot_dir)) {
        const char *img[] = { m->qemu_img, "create", "-q", "-f", "qcow2", "-F", "qcow2",
                              "-b", tdisk, s->root_path, NULL };

        if ((rc = oc_run(img, NULL, err)))
            return rc;
        snprintf(name, sizeof(name), "%s", i->id);
        f.name = i->id;
        f.ram = ram;
        f.disk = s->root_path;
        f.console = s->console_path;
        f.qmp = qmp;
        f.pid = pidf;
        f.incoming = 1;
        f.clone_mac = clone_mac[0] ? clone_mac : NULL;
        mci_build_argv(m, s, &f, &a);
        rc = mci_spawn_qemu(&a, pidf, &pid, err);
        mci_argv_free(&a);
        if (rc)
            return rc;
    }
    if ((rc = oc_write_file_atomic(namef, name, strlen(name), 0600, err)))
        goto fail;
    t_qemu = mci_now_ms();
    if ((rc = nc_qmp_open(qmp, QMP_TIMEOUT_MS, &q, err)) ||
        (rc = nc_qmp_call(q, "migrate-set-capabilities", mci_ignore_shared_caps(), -1, NULL,
                          QMP_TIMEOUT_MS, err)))
        goto fail;
    if ((rc = mci_migrate_file(q, tstate, 0, err)))
        goto fail;
    t_restore = mci_now_ms();
    /* The fork's own hardware goes in while it is still paused: the
     * hot-plug event waits for the guest, which handles it as it resumes.
     * A clone first gives back its source's NIC, which needs the guest
     * running. */
    if (!clone_mac[0] && (rc = plug(m, q, i, 0, err)))
        goto fail;
    /* The incoming side may still be finishing: "Migration is not
     * finalized yet" for a moment. */
    for (long long until = mci_now_ms() + 5000;;) {
        rc = nc_qmp_call(q, "cont", NULL, -1, NULL, QMP_TIMEOUT_MS, err);
        if (rc != OC_ECONFLICT || mci_now_ms() > until)
            break;
        mci_sleep_ms(2);
    }
    if (rc || (clone_mac[0] && (rc = plug(m, q, i, 1, err))))
        goto fail;
    if (slot_dir[0]) {
        char disk[PATH_MAX + 16];

        snprintf(disk, sizeof(disk), "%s/root.qcow2", slot_dir);
        if (symlink(disk, s->root_path) != 0) {
            rc = oc_err_set(err, OC_EIO, "symlink %s: %s", s->root_path, strerror(errno));
            goto fail;
        }
    }
    nc_qmp_close(q);
    fk = calloc(1, sizeof(*fk));
    if (!fk) {
        q = NULL;
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(fk->id, sizeof(fk->id), "%s", i->id);
    snprintf(fk->name, sizeof(fk->name), "%s", name);
    fk->pid = pid;
    pthread_mutex_lock(&m->mu);
    fk->next = m->forks;
    m->forks = fk;
    pthread_mutex_unlock(&m->mu);
    oc_log(OC_LOG_INFO, "%s: forked from %stemplate %s in %lld ms (pid %d, %s in %lld ms, "
           "restored in %lld ms, NIC plugged and running in %lld ms)", i->id,
           clone_mac[0] ? "clone " : "", key, mci_now_ms() - t0,
           (int)pid, strcmp(name, i->id) ? "QEMU from the pool" : "QEMU started",
           t_qemu - t0, t_restore - t_qemu, mci_now_ms() - t_restore);
    return OC_OK;
fail:
    nc_qmp_close(q);
    mci_kill_qemu(pid, name);
    if (slot_dir[0])
        mci_rm_tree(slot_dir);
    return rc;
}

/* A fork taken from the pool keeps its disk in the slot's directory:
 * gone with it. */
static void drop_slot_dir(struct mc *m, const char *name)
{
    char dir[PATH_MAX + 64];

    if (strncmp(name, "mcpool-", 7) != 0 || strchr(name, '/'))
        return;
    snprintf(dir, sizeof(dir), "%s/%s", m->pdir, name);
    mci_rm_tree(dir);
}

/* The fork's QEMU from its files: pid and the name it runs under. */
static pid_t fork_files(struct mc *m, const char *id, char name[NAME_MAX_LEN])
{
    char path[PATH_MAX];

    mci_ipath(m, id, "qemu.name", path, sizeof(path));
    if (!mci_read_small(path, name, NAME_MAX_LEN))
        snprintf(name, NAME_MAX_LEN, "%s", id);
    mci_ipath(m, id, "qemu.pid", path, sizeof(path));
    return mci_read_pid(path);
}

/* Takes the fork out of the list, marked as ended by us. */
static pid_t take_fork(struct mc *m, const char *id, char name[NAME_MAX_LEN])
{
    pid_t pid = -1;

    pthread_mutex_lock(&m->mu);
    for (struct fork **p = &m->forks; *p; p = &(*p)->next)
        if (strcmp((*p)->id, id) == 0) {
            struct fork *f = *p;

            pid = f->pid;
            snprintf(name, NAME_MAX_LEN, "%s", f->name);
            *p = f->next;
            free(f);
            break;
        }
    pthread_mutex_unlock(&m->mu);
    return pid;
}

static int mc_destroy(void *ctx, const char *id, struct oc_err *err)
{
    struct mc *m = ctx;
    char name[NAME_MAX_LEN];
    pid_t pid = take_fork(m, id, name);

    /* Not adopted (yet): its files still say where it is. */
    if (pid <= 0 && !mci_qemu_alive(pid = fork_files(m, id, name), name))
        return oc_err_set(err, OC_ENOTFOUND, "no fork %s", id);
    mci_kill_qemu(pid, name);
    if (mci_qemu_alive(pid, name))
        return oc_err_set(err, OC_EIO, "fork %s (pid %d) does not die", id, (int)pid);
    drop_slot_dir(m, name);
    return OC_OK;
}

/* One QMP command to a running fork. */
static int fork_cmd(struct mc *m, const char *id, const char *cmd, struct oc_err *err)
{
    char qmp[PATH_MAX];
    struct nc_qmp *q;
    int rc;

    pthread_mutex_lock(&m->mu);
    rc = find_fork(m, id) ? OC_OK : OC_ENOTFOUND;
    pthread_mutex_unlock(&m->mu);
    if (rc)
        return oc_err_set(err, rc, "no fork %s", id);
    mci_ipath(m, id, "qmp.sock", qmp, sizeof(qmp));
    if ((rc = nc_qmp_open(qmp, QMP_TIMEOUT_MS, &q, err)))
        return rc;
    rc = nc_qmp_call(q, cmd, NULL, -1, NULL, QMP_TIMEOUT_MS, err);
    nc_qmp_close(q);
    return rc;
}

static int mc_shutdown(void *ctx, const char *id, struct oc_err *err)
{
    return fork_cmd(ctx, id, "system_powerdown", err);
}

static int mc_reset(void *ctx, const char *id, struct oc_err *err)
{
    return fork_cmd(ctx, id, "system_reset", err);
}

static int mc_active(void *ctx, const char *id)
{
    struct mc *m = ctx;
    struct fork *f;
    char name[NAME_MAX_LEN] = "";
    pid_t pid;

    pthread_mutex_lock(&m->mu);
    f = find_fork(m, id);
    pid = f ? f->pid : -1;
    if (f)
        snprintf(name, sizeof(name), "%s", f->name);
    pthread_mutex_unlock(&m->mu);
    return mci_qemu_alive(pid, name);
}

/* Every fork whose QEMU runs, from the pid files; they are (re)adopted. */
static int mc_list(void *ctx, struct nc_vm_info **out, size_t *n, struct oc_err *err)
{
    struct mc *m = ctx;
    DIR *d = opendir(m->idir);
    struct dirent *e;
    struct nc_vm_info *info = NULL;
    size_t k = 0, cap = 0;

    *out = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? OC_OK : oc_err_set(err, OC_EIO, "%s: %s", m->idir,
                                                    strerror(errno));
    while ((e = readdir(d))) {
        char name[NAME_MAX_LEN];
        pid_t pid;

        if (!nc_valid_instance_id(e->d_name))
            continue;
        pid = fork_files(m, e->d_name, name);
        if (!mci_qemu_alive(pid, name))
            continue;
        if (k == cap) {
            struct nc_vm_info *grown = realloc(info, (cap = cap ? cap * 2 : 16) * sizeof(*info));

            if (!grown) {
                closedir(d);
                nc_vm_info_free(info, k);
                return oc_err_set(err, OC_ENOMEM, "out of memory");
            }
            info = grown;
        }
        memset(&info[k], 0, sizeof(info[k]));
        snprintf(info[k].id, sizeof(info[k].id), "%.23s", e->d_name);
        info[k].active = 1;
        k++;
        pthread_mutex_lock(&m->mu);
        if (!find_fork(m, e->d_name)) {
            struct fork *f = calloc(1, sizeof(*f));

            if (f) {
                snprintf(f->id, sizeof(f->id), "%.23s", e->d_name);
                snprintf(f->name, sizeof(f->name), "%s", name);
                f->pid = pid;
                f->next = m->forks;
                m->forks = f;
            }
        }
        pthread_mutex_unlock(&m->mu);
    }
    closedir(d);
    *out = info;
    *n = k;
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* memory, and templates no fork needs */

/* Private pages (QEMU's own and the guest pages it wrote), in MiB. */
static uint64_t private_mb(pid_t pid)
{
    char path[64], line[256];
    FILE *f;
    uint64_t kb = 0;

    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long v;

        if (sscanf(line, "Private_Clean: %llu kB", &v) == 1 ||
            sscanf(line, "Private_Dirty: %llu kB", &v) == 1)
            kb += v;
    }
    fclose(f);
    return (kb + 1023) / 1024;
}

static uint64_t mc_charged_mb(void *ctx, const char *id, unsigned configured_mb)
{
    struct mc *m = ctx;
    struct fork *f;
    uint64_t mb = 0;

    pthread_mutex_lock(&m->mu);
    f = find_fork(m, id);
    if (f)
        mb = f->private_mb;
    pthread_mutex_unlock(&m->mu);
    /* Not measured yet (starting): QEMU's own overhead, about 64 MiB. */
    if (!mb)
        mb = configured_mb < 64 ? configured_mb : 64;
    return mb;
}

static uint64_t mc_shared_mb(void *ctx)
{
    struct mc *m = ctx;
    uint64_t mb;

    pthread_mutex_lock(&m->mu);
    mb = m->shared_mb;
    pthread_mutex_unlock(&m->mu);
    return mb;
}

/* Marks every template of the image doomed: the sweep removes it once no
 * fork uses it. */
static void mc_drop_image(void *ctx, const char *image_id)
{
    struct mc *m = ctx;
    DIR *d;
    struct dirent *e;
    size_t idl = strlen(image_id);

    pthread_mutex_lock(&m->build_mu);
    d = opendir(m->tdir);
    while (d && (e = readdir(d))) {
        char path[PATH_MAX];
        char *fam = NULL;
        size_t len = 0;
        struct oc_err err = { 0 };

        if (strlen(e->d_name) != KEY_LEN)
            continue;
        mci_tpath(m, e->d_name, "", "family", path, sizeof(path));
        if (oc_read_file(path, 127, &fam, &len, &err) == OC_OK && len > idl &&
            memcmp(fam, image_id, idl) == 0 && fam[idl] == ' ') {
            mci_tpath(m, e->d_name, "", "doomed", path, sizeof(path));
            if (oc_write_file_atomic(path, "", 0, 0600, &err) != OC_OK)
                oc_log(OC_LOG_WARN, "template %s: %s", e->d_name, err.msg);
            else
                oc_log(OC_LOG_INFO, "template %s: its image %s is gone; it goes when unused",
                       e->d_name, image_id);
        }
        free(fam);
    }
    if (d)
        closedir(d);
    /* Clone templates of a doomed template go with it (once unused). */
    d = opendir(m->tdir);
    while (d && (e = readdir(d))) {
        char path[PATH_MAX], parent[KEY_LEN + 1], pdoom[PATH_MAX];
        struct oc_err err = { 0 };

        if (strlen(e->d_name) != KEY_LEN)
            continue;
        mci_tpath(m, e->d_name, "", "parent", path, sizeof(path));
        if (!mci_read_small(path, parent, sizeof(parent)) || strlen(parent) != KEY_LEN)
            continue;
        mci_tpath(m, parent, "", "doomed", pdoom, sizeof(pdoom));
        mci_tpath(m, e->d_name, "", "doomed", path, sizeof(path));
        if (access(pdoom, F_OK) == 0 &&
            oc_write_file_atomic(path, "", 0, 0600, &err) != OC_OK)
            oc_log(OC_LOG_WARN, "template %s: %s", e->d_name, err.msg);
    }
    if (d)
        closedir(d);
    pthread_mutex_unlock(&m->build_mu);
    pthread_mutex_lock(&m->mu);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* Keys of templates some fork (live or recorded) uses. */
/* A file holding exactly key. */
static int file_is_key(const char *path, const char *key)
{
    char buf[KEY_LEN + 1] = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC), is;

    if (fd < 0)
        return 0;
    is = read(fd, buf, KEY_LEN) == KEY_LEN && strcmp(buf, key) == 0;
    close(fd);
    return is;
}

/* Whether a fork (instances/<id>/template) or a clone template
 * (templates/<key>/parent: its disk stands on this one's) uses key. */
static int key_in_use(struct mc *m, const char *key)
{
    const char *dirs[] = { m->idir, m->tdir };
    int used = 0;

    for (int k = 0; k < 2 && !used; k++) {
        DIR *d = opendir(dirs[k]);
        struct dirent *e;

        while (d && !used && (e = readdir(d))) {
            char path[PATH_MAX + 300];

            if (k == 0 ? !nc_valid_instance_id(e->d_name) : strlen(e->d_name) != KEY_LEN)
                continue;
            snprintf(path, sizeof(path), "%s/%s/%s", dirs[k], e->d_name,
                     k == 0 ? "template" : "parent");
            used = file_is_key(path, key);
        }
        if (d)
            closedir(d);
    }
    return used;
}

/* Removes templates that no fork uses and that a newer template of the
 * same family (image and size) has replaced or whose image is gone;
 * counts what the rest hold. */
static void sweep_templates(struct mc *m)
{
    DIR *d;
    struct dirent *e;
    uint64_t bytes = 0;
    struct t {
        char key[KEY_LEN + 1];
        char family[128];
        time_t built;
        int doomed;
    } ts[256];
    size_t nt = 0;

    if (pthread_mutex_trylock(&m->build_mu) != 0)
        return;   /* a build is under way: next time */
    d = opendir(m->tdir);
    if (!d) {
        pthread_mutex_unlock(&m->build_mu);
        return;
    }
    while ((e = readdir(d)) && nt < sizeof(ts) / sizeof(ts[0])) {
        char path[PATH_MAX];
        struct stat st;
        char *fam = NULL;
        size_t len = 0;
        struct oc_err err = { 0 };

        if (strlen(e->d_name) != KEY_LEN || strspn(e->d_name, "0123456789abcdef") != KEY_LEN)
            continue;
        mci_tpath(m, e->d_name, "", "family", path, sizeof(path));
        if (stat(path, &st) != 0 || oc_read_file(path, 127, &fam, &len, &err) != OC_OK) {
            /* A clone template: its own family, superseded by nothing;
             * unused for a while, it goes. */
            mci_tpath(m, e->d_name, "", "parent", path, sizeof(path));
            if (stat(path, &st) != 0)
                continue;
            snprintf(ts[nt].key, sizeof(ts[nt].key), "%s", e->d_name);
            snprintf(ts[nt].family, sizeof(ts[nt].family), "clone %s", e->d_name);
            ts[nt].built = st.st_mtime;
            ts[nt].doomed = time(NULL) - st.st_mtime > CLONE_UNUSED_KEEP_S;
            mci_tpath(m, e->d_name, "", "doomed", path, sizeof(path));
            ts[nt].doomed |= stat(path, &st) == 0;
            nt++;
            continue;
        }
        snprintf(ts[nt].key, sizeof(ts[nt].key), "%s", e->d_name);
        snprintf(ts[nt].family, sizeof(ts[nt].family), "%.*s", (int)len, fam);
        ts[nt].built = st.st_mtime;
        mci_tpath(m, e->d_name, "", "doomed", path, sizeof(path));
        ts[nt].doomed = stat(path, &st) == 0;
        nt++;
        free(fam);
    }
    closedir(d);
    for (size_t k = 0; k < nt; k++) {
        char path[PATH_MAX];
        struct stat st;
        int superseded = 0;

        for (size_t j = 0; j < nt; j++)
            superseded |= j != k && strcmp(ts[j].family, ts[k].family) == 0 &&
                          ts[j].built > ts[k].built;
        if ((superseded || ts[k].doomed) && !key_in_use(m, ts[k].key)) {
            oc_log(OC_LOG_INFO, "template %s: %s and unused: removed", ts[k].key,
                   strncmp(ts[k].family, "clone ", 6) == 0 ? "a clone template"
                   : ts[k].doomed                         ? "its image is gone"
                                                          : "superseded");
            mci_drop_pool(m, ts[k].key);
            if (snprintf(path, sizeof(path), "%s/%s.ram", m->ram_dir, ts[k].key) <
                (int)sizeof(path))
                unlink(path);
            mci_tpath(m, ts[k].key, "", NULL, path, sizeof(path));
            mci_rm_tree(path);
            continue;
        }
        if (snprintf(path, sizeof(path), "%s/%s.ram", m->ram_dir, ts[k].key) <
                (int)sizeof(path) && stat(path, &st) == 0)
            bytes += (uint64_t)st.st_blocks * 512;
    }
    pthread_mutex_unlock(&m->build_mu);
    pthread_mutex_lock(&m->mu);
    m->shared_mb = (bytes + (1 << 20) - 1) >> 20;
    pthread_mutex_unlock(&m->mu);
}

static void *monitor_main(void *arg)
{
    struct mc *m = arg;
    unsigned tick = 0;

    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec until;
        char gone[32][NC_ID_MAX];
        size_t ngone = 0;

        for (struct fork **p = &m->forks; *p;) {
            struct fork *f = *p;

            if (!mci_qemu_alive(f->pid, f->name)) {
                if (ngone < 32)
                    snprintf(gone[ngone++], NC_ID_MAX, "%s", f->id);
                drop_slot_dir(m, f->name);
                *p = f->next;
                free(f);
                continue;
            }
            f->private_mb = private_mb(f->pid);
            p = &f->next;
        }
        pthread_mutex_unlock(&m->mu);
        for (size_t k = 0; k < ngone; k++) {
            oc_log(OC_LOG_WARN, "%s: its QEMU ended", gone[k]);
            m->fn(m->fn_ctx, gone[k], NC_VM_CRASHED);
        }
        if (tick++ % 10 == 0)
            sweep_templates(m);
        pthread_mutex_lock(&m->mu);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 500 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!m->stop && pthread_cond_timedwait(&m->cv, &m->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* life */

/* What nc_mc_open allocated, and the driver itself. */
static void mc_free(struct mc *m)
{
    free(m->dir);
    free(m->tdir);
    free(m->idir);
    free(m->pdir);
    free(m->ram_dir);
    free(m->qemu);
    free(m->qemu_img);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->build_mu);
    pthread_cond_destroy(&m->cv);
    free(m);
}

static void mc_close(void *ctx)
{
    struct mc *m = ctx;

    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->monitor, NULL);
    if (m->pool)
        pthread_join(m->filler, NULL);
    /* Forks keep running: a restarted node adopts them; the pool does not
     * (it holds nothing). */
    mci_drop_pool(m, NULL);
    while (m->forks) {
        struct fork *f = m->forks;

        m->forks = f->next;
        free(f);
    }
    mc_free(m);
}

/* The QEMU binary by absolute path (the identity is its file). */
static char *find_binary(const char *name)
{
    const char *path = getenv("PATH");
    char *copy, *save = NULL;

    if (strchr(name, '/'))
        return strdup(name);
    copy = strdup(path && *path ? path : "/usr/bin:/bin");
    if (!copy)
        return NULL;
    for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        char full[PATH_MAX];

        snprintf(full, sizeof(full), "%s/%s", d, name);
        if (access(full, X_OK) == 0) {
            free(copy);
            return strdup(full);
        }
    }
    free(copy);
    return NULL;
}

int nc_mc_open(const struct nc_mc_config *cfg, nc_vm_event_fn fn, void *fn_ctx,
               struct nc_driver *out, struct oc_err *err)
{
    struct mc *m = calloc(1, sizeof(*m));
    int rc;

    if (!m)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->build_mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    m->fn = fn;
    m->fn_ctx = fn_ctx;
    m->ready_timeout_s = cfg->ready_timeout_s ? cfg->ready_timeout_s : 300;
    m->pool = cfg->pool;
    m->dir = strdup(cfg->dir);
    m->ram_dir = strdup(cfg->ram_dir);
    m->qemu_img = strdup(cfg->qemu_img && *cfg->qemu_img ? cfg->qemu_img : "qemu-img");
    m->qemu = find_binary(cfg->qemu && *cfg->qemu ? cfg->qemu : "qemu-system-x86_64");
    if (!m->dir || !m->ram_dir || !m->qemu_img || asprintf(&m->tdir, "%s/templates", cfg->dir) < 0 ||
        asprintf(&m->idir, "%s/instances", cfg->dir) < 0 ||
        asprintf(&m->pdir, "%s/mcpool", cfg->dir) < 0) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto fail;
    }
    if (!m->qemu) {
        rc = oc_err_set(err, OC_ENOTFOUND, "%s is not in PATH (NC_MC_QEMU)",
                        cfg->qemu && *cfg->qemu ? cfg->qemu : "qemu-system-x86_64");
        goto fail;
    }
    /* The RAM directory is made by the first template build: a node that
     * never runs a MacroComponent leaves nothing on tmpfs. */
    if ((rc = oc_mkdirs(m->tdir, 0700, err)) || (rc = oc_mkdirs(m->idir, 0700, err)) ||
        (rc = oc_mkdirs(m->pdir, 0700, err)))
        goto fail;
    mci_clear_stale_pool(m);
    if (pthread_create(&m->monitor, NULL, monitor_main, m) != 0) {
        rc = oc_err_set(err, OC_EINTERNAL, "cannot start the fork monitor");
        goto fail;
    }
    if (m->pool && pthread_create(&m->filler, NULL, mci_filler_main, m) != 0) {
        pthread_mutex_lock(&m->mu);
        m->stop = 1;
        pthread_cond_broadcast(&m->cv);
        pthread_mutex_unlock(&m->mu);
        pthread_join(m->monitor, NULL);
        rc = oc_err_set(err, OC_EINTERNAL, "cannot start the pool filler");
        goto fail;
    }
    memset(out, 0, sizeof(*out));
    out->name = "macrocomponent";
    out->ctx = m;
    out->start = mc_start;
    out->destroy = mc_destroy;
    out->shutdown = mc_shutdown;
    out->reset = mc_reset;
    out->active = mc_active;
    out->list = mc_list;
    out->close = mc_close;
    out->charged_mb = mc_charged_mb;
    out->shared_mb = mc_shared_mb;
    out->drop_image = mc_drop_image;
    return OC_OK;
fail:
    mc_free(m);
    return rc;
}
