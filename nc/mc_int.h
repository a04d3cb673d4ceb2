/*
 * mc_int.h - what the MacroComponent driver's files share (nc/mc.c: the
 * driver, templates, forks, memory, cleanup; nc/mc_pool.c: QEMUs started
 * ahead; nc/mc_clone.c: templates of running forks).  Not an interface:
 * only these three include it.
 */
#ifndef NC_MC_INT_H
#define NC_MC_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/err.h"
#include "nc/driver.h"
#include "nc/qmp.h"

#define KEY_LEN 16
#define QMP_TIMEOUT_MS 10000
#define MIGRATE_TIMEOUT_MS 120000
#define ARGV_MAX 64
#define POOL_REFILL_DELAY_MS 1000
#define CLONE_REUSE_MS 5000
#define CLONE_UNUSED_KEEP_S 60

#define NAME_MAX_LEN 48

/* TCG's translation cache per QEMU, MiB.  QEMU's default, 1 GiB, is
 * touched only as it fills, but a fork fills ~26 MiB with what it runs
 * once as it resumes (hot-plug, DHCP) and keeps it; 16 MiB costs a fork
 * three flushes and ~0.5 s of CPU as it starts, then its idle loop fits.
 * It also bounds what a busy fork's cache can grow to.  KVM has none. */
#define MC_TCG_TB_MB 16

struct fork {
    char id[NC_ID_MAX];
    char name[NAME_MAX_LEN];  /* guest=<name> in its command line */
    pid_t pid;
    uint64_t private_mb;      /* measured by the monitor */
    struct fork *next;
};

/* A pre-started fork QEMU waiting in -incoming defer (the pool). */
struct slot {
    char key[KEY_LEN + 1];
    char name[NAME_MAX_LEN];
    char dir[PATH_MAX];
    pid_t pid;
    struct slot *next;
};

/* What the pool needs to start forks of a template: its argv's parts. */
struct recipe {
    char key[KEY_LEN + 1];
    char hypervisor[8];
    char *kernel, *ramdisk, *cmdline;
    unsigned mem_mb, vcpus;
    struct recipe *next;
};

struct mc {
    char *dir, *tdir, *idir, *pdir, *ram_dir, *qemu, *qemu_img;
    unsigned ready_timeout_s;
    unsigned pool;            /* slots kept per template */
    unsigned slot_seq;
    long long last_claim_ms;  /* the pool refills a while after a claim */
    nc_vm_event_fn fn;
    void *fn_ctx;
    pthread_mutex_t mu;       /* forks, shared_mb, stop */
    pthread_cond_t cv;
    pthread_mutex_t build_mu; /* one template build at a time */
    struct fork *forks;
    struct slot *slots;
    struct recipe *recipes;
    uint64_t shared_mb;
    int stop;
    pthread_t monitor, filler;
    /* The last clone template (build_mu): clones of one source asked
     * together share it. */
    char recent_src[NC_ID_MAX], recent_key[KEY_LEN + 1];
    long long recent_ms;
};

struct argv {
    char *v[ARGV_MAX + 1];
    int n;
    int oom;
};

/* Per-VM paths: placeholders in the identity, real in a QEMU's argv. */
struct vm_files {
    const char *name, *ram, *disk, *console, *qmp, *pid;
    int share;       /* the template: share=on */
    int incoming;    /* a fork: -incoming defer -S */
    /* A clone template's state holds its source's NIC (this MAC): every
     * QEMU that loads it has it from the start. NULL: none. */
    const char *clone_mac;
};

/* Fixed slots: the NIC a fork is given (so a clone's argv can name the
 * one its source's state holds) and the RNG every template has. */
#define NIC_ADDR "0x10"
#define RNG_ADDR "0x11"

/* ---- mc.c: small things, argv, QEMU, paths ---- */
long long mci_now_ms(void);
void mci_sleep_ms(unsigned ms);
int mci_qemu_alive(pid_t pid, const char *name);
int mci_read_small(const char *path, char *out, size_t cap);
pid_t mci_read_pid(const char *path);
void mci_kill_qemu(pid_t pid, const char *name);
void mci_rm_tree(const char *dir);
void mci_argv_free(struct argv *a);
void mci_build_argv(struct mc *m, const struct nc_domain_spec *s, const struct vm_files *f,
                    struct argv *a);
int mci_spawn_qemu(struct argv *a, const char *pidfile, pid_t *pid, struct oc_err *err);
json_t *mci_ignore_shared_caps(void);
int mci_wait_migration(struct nc_qmp *q, int timeout_ms, struct oc_err *err);
int mci_migrate_file(struct nc_qmp *q, const char *path, int out, struct oc_err *err);
uint64_t mci_punch_zero_pages(const char *path);
void mci_tpath(struct mc *m, const char *key, const char *suffix, const char *name, char *out,
               size_t cap);
void mci_ipath(struct mc *m, const char *id, const char *name, char *out, size_t cap);

/* ---- mc_pool.c ---- */
void mci_recipe_note(struct mc *m, const char *key, const struct nc_domain_spec *s);
int mci_slot_claim(struct mc *m, const char *key, const struct nc_domain_spec *s,
                   const char *qmp, const char *pidf, pid_t *pid, char name[NAME_MAX_LEN],
                   char slot_dir[PATH_MAX]);
void mci_drop_pool(struct mc *m, const char *key);
void mci_clear_stale_pool(struct mc *m);
void *mci_filler_main(void *arg);

/* ---- mc_clone.c ---- */
int mci_clone_template(struct mc *m, const struct nc_domain_spec *s, char key[KEY_LEN + 1],
                       struct oc_err *err);
void mci_template_mac(struct mc *m, const char *key, char mac[32]);

#endif
