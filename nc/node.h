/*
 * node.h - the node's instances: their records, their lifecycle and the
 * node's capacity.  The API layer (nc/api.c) calls these; the VM driver
 * (driver.h) and the image cache (imgcache.h) do the work.
 *
 * Lifecycle (EC2's names):
 *   run        pending -> running            (image fetch, disks, VM start on
 *                                             a worker; failure -> terminated
 *                                             with the reason)
 *   terminate  * -> shutting-down -> terminated (VM destroyed, files removed,
 *                                             image pins dropped)
 *   stop       running -> stopping -> stopped (ACPI power-off, destroyed after
 *                                             the shutdown timeout; the disks
 *                                             stay, images stay pinned)
 *   start      stopped -> pending -> running
 *   reboot     running (a hard reset)
 *   guest powers off: running -> stopped; guest or QEMU dies: -> crashed
 * Every change is persisted to nc/instances/<id>/instance.xml and handed
 * to the report function (the CC), in order.
 *
 * Calls answer at once with the state they moved the instance to; slow
 * work runs on a thread per operation.  At most one operation runs per
 * instance; a terminate during a launch is honoured at the launch's next
 * step.
 */
#ifndef NC_NODE_H
#define NC_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "nc/driver.h"
#include "nc/imgcache.h"
#include "nc/nc.h"

struct nc_node_config {
    const char *dir;               /* $OVERCAST_HOME/nc */
    const char *hypervisor;        /* "kvm" | "qemu" */
    const char *cmdline;           /* kernel command line for direct boot */
    const char *dac_label;         /* see domain.h; NULL/"" = libvirt's default */
    const char *qemu_img;          /* "qemu-img" */
    unsigned shutdown_timeout_s;   /* stop: ACPI, then destroy after this */
    unsigned terminated_keep_s;    /* terminated instances stay described */
    unsigned max_cores;            /* 0 = online CPUs */
    uint64_t max_mem_mb;           /* 0 = physical memory */
    uint64_t max_disk_gb;          /* 0 = size of the filesystem holding dir */
    /* Called with every state change, in order, from any thread; must not
     * call back into the node. NULL = none. */
    void (*report)(void *ctx, const struct nc_instance *snapshot);
    void *report_ctx;
};

struct nc_resources {
    unsigned cores_total, cores_free;
    uint64_t mem_total_mb, mem_free_mb;
    uint64_t disk_total_gb, disk_free_gb;
    unsigned instances;            /* not terminated */
};

struct nc_node;

/* The driver is opened by the caller with nc_node_vm_event as its event
 * function and the node pointer from nc_node_alloc as its context. */
struct nc_node *nc_node_alloc(void);
/* mc: the MacroComponent driver, or NULL when the node runs none. */
int nc_node_init(struct nc_node *n, const struct nc_node_config *cfg, const struct nc_driver *drv,
                 const struct nc_driver *mc, struct nc_imgcache *cache, struct oc_err *err) OC_WUR;
/* Waits for operations in flight (call before closing the driver). */
void nc_node_drain(struct nc_node *n);
void nc_node_free(struct nc_node *n);
void nc_node_vm_event(void *node, const char *id, enum nc_vm_event ev);

/* Re-adopts what runs and what was recorded (see node.c); call once after
 * init, before serving. Reports how many instances it adopted. */
int nc_node_adopt(struct nc_node *n, unsigned *adopted, struct oc_err *err) OC_WUR;

/* OC_EEXIST when the id is taken by a different request (the same request
 * again returns the instance as it is); OC_ETOOBIG when it does not fit. */
int nc_node_run(struct nc_node *n, const struct nc_instance *req, struct nc_instance *out,
                struct oc_err *err) OC_WUR;
/* prev/cur states; OC_ENOTFOUND, or OC_ECONFLICT when the state forbids it. */
int nc_node_terminate(struct nc_node *n, const char *id, enum nc_state *prev,
                      enum nc_state *cur, struct oc_err *err) OC_WUR;
int nc_node_stop(struct nc_node *n, const char *id, enum nc_state *prev, enum nc_state *cur,
                 struct oc_err *err) OC_WUR;
/* nc_node_start with the size it starts with (its type changed while it
 * was stopped): written into its record before its VM is defined. */
int nc_node_start_as(struct nc_node *n, const char *id, unsigned vcpus, unsigned mem_mb,
                     enum nc_state *prev, enum nc_state *cur, struct oc_err *err) OC_WUR;
int nc_node_start(struct nc_node *n, const char *id, enum nc_state *prev, enum nc_state *cur,
                  struct oc_err *err) OC_WUR;
int nc_node_reboot(struct nc_node *n, const char *id, struct oc_err *err) OC_WUR;
/* The last max bytes of the serial console. */
int nc_node_console(struct nc_node *n, const char *id, size_t max, struct oc_buf *out,
                    struct oc_err *err) OC_WUR;
int nc_node_get(struct nc_node *n, const char *id, struct nc_instance *out);
/* Every instance (terminated ones while they are kept); free() the array. */
int nc_node_list(struct nc_node *n, struct nc_instance **out, size_t *count) OC_WUR;
void nc_node_resources(struct nc_node *n, struct nc_resources *out);
/* The image was deregistered: its MacroComponent templates go as soon as
 * no fork uses them. */
void nc_node_drop_image(struct nc_node *n, const char *image_id);

#endif
