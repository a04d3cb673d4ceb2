/*
 * driver.h - how the node runs VMs, as a table of functions (Eucalyptus's
 * hypervisor-driver style): the libvirt driver (nc/virt.c) for ordinary
 * instances, the QMP driver (nc/mc.c) for MacroComponent templates and
 * their copy-on-write forks.  node.c sees only this.
 *
 * Drivers report what happens to their VMs through the event function
 * given at open, from a thread of their own.
 */
#ifndef NC_DRIVER_H
#define NC_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "nc/domain.h"
#include "nc/nc.h"

enum nc_vm_event {
    NC_VM_STARTED,
    NC_VM_SHUTDOWN,     /* the guest powered itself off */
    NC_VM_DESTROYED,    /* ended from outside (us, virsh destroy) */
    NC_VM_CRASHED,      /* the guest or QEMU died */
};

typedef void (*nc_vm_event_fn)(void *ctx, const char *id, enum nc_vm_event ev);

struct nc_vm_info {
    char id[NC_ID_MAX];
    int active;
    char *record;       /* the record XML kept with the VM (malloc'd), or NULL */
};

struct nc_driver {
    const char *name;
    void *ctx;
    /* Creates and starts the VM described by the spec. */
    int (*start)(void *ctx, const struct nc_domain_spec *s, struct oc_err *err);
    /* Ends it at once; OC_ENOTFOUND when there is no such VM. */
    int (*destroy)(void *ctx, const char *id, struct oc_err *err);
    /* Asks the guest to power off (ACPI). */
    int (*shutdown)(void *ctx, const char *id, struct oc_err *err);
    /* Hard reset, as a power cycle. */
    int (*reset)(void *ctx, const char *id, struct oc_err *err);
    /* 1 when running, 0 when not (or absent). */
    int (*active)(void *ctx, const char *id);
    /* Every VM whose name is an instance id; free with nc_vm_info_free. */
    int (*list)(void *ctx, struct nc_vm_info **out, size_t *n, struct oc_err *err);
    void (*close)(void *ctx);
    /* Optional (NULL: the instance's configured memory, nothing shared).
     * The MiB an instance really costs, and what the driver holds beside
     * its VMs (template RAM files). */
    uint64_t (*charged_mb)(void *ctx, const char *id, unsigned configured_mb);
    uint64_t (*shared_mb)(void *ctx);
    /* Optional: the image is gone (deregistered, or no longer a
     * MacroComponent); what the driver keeps for it goes once unused. */
    void (*drop_image)(void *ctx, const char *image_id);
};

void nc_vm_info_free(struct nc_vm_info *v, size_t n);

/* The libvirt driver on uri ("qemu:///system", "test:///default"). */
int nc_virt_open(const char *uri, nc_vm_event_fn fn, void *fn_ctx, struct nc_driver *out,
                 struct oc_err *err) OC_WUR;

/* The MacroComponent driver (nc/mc.c). */
struct nc_mc_config {
    const char *dir;             /* $OVERCAST_HOME/nc: templates/, instances/ */
    const char *ram_dir;         /* template RAM files (tmpfs or hugetlbfs) */
    const char *qemu;            /* the QEMU binary ("qemu-system-x86_64") */
    const char *qemu_img;
    unsigned ready_timeout_s;    /* a template that is not ready by then fails */
    unsigned pool;               /* fork QEMUs kept started per template (0: none) */
};

int nc_mc_open(const struct nc_mc_config *cfg, nc_vm_event_fn fn, void *fn_ctx,
               struct nc_driver *out, struct oc_err *err) OC_WUR;

#endif
