/*
 * virt.c - the libvirt driver (see driver.h).
 *
 * One connection, shared by every thread (libvirt connections are
 * thread-safe), plus libvirt's default event loop on a thread of its own
 * for domain lifecycle events.  Domains are transient (virDomainCreateXML):
 * the node's own record, not libvirt's persistent config, is what
 * survives; a stopped instance is its files, not an inactive domain.
 */
#include "nc/driver.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "common/log.h"
#include "nc/domain.h"

struct virt {
    virConnectPtr conn;
    int cb_id;
    nc_vm_event_fn fn;
    void *fn_ctx;
    pthread_t loop;
    atomic_int stop;
    int wake_timer;
};

static pthread_once_t event_once = PTHREAD_ONCE_INIT;
static int event_impl_rc;

static void register_event_impl(void)
{
    event_impl_rc = virEventRegisterDefaultImpl();
}

/* libvirt prints errors to stderr by default; ours go to our log, once. */
static void quiet(void *ud, virErrorPtr e)
{
    (void)ud;
    (void)e;
}

static int verr(struct oc_err *err, int code, const char *what, const char *id)
{
    virErrorPtr e = virGetLastError();

    return oc_err_set(err, code, "%s %s: %s", what, id ? id : "",
                      e && e->message ? e->message : "libvirt error");
}

static void *loop_main(void *arg)
{
    struct virt *v = arg;

    while (!atomic_load(&v->stop))
        if (virEventRunDefaultImpl() < 0)
            oc_log(OC_LOG_WARN, "libvirt event loop: %s",
                   virGetLastErrorMessage() ? virGetLastErrorMessage() : "error");
    return NULL;
}

static void wake(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct virt *v = opaque;
    const char *name = virDomainGetName(dom);
    enum nc_vm_event ev;

    (void)conn;
    if (!name || !nc_valid_instance_id(name))
        return 0;
    switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
        ev = NC_VM_STARTED;
        break;
    case VIR_DOMAIN_EVENT_STOPPED:
        if (detail == VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN)
            ev = NC_VM_SHUTDOWN;
        else if (detail == VIR_DOMAIN_EVENT_STOPPED_DESTROYED)
            ev = NC_VM_DESTROYED;
        else
            ev = NC_VM_CRASHED;
        break;
    case VIR_DOMAIN_EVENT_CRASHED:
        ev = NC_VM_CRASHED;
        break;
    default:
        return 0;
    }
    v->fn(v->fn_ctx, name, ev);
    return 0;
}

static virDomainPtr lookup(struct virt *v, const char *id)
{
    return virDomainLookupByName(v->conn, id);
}

static int v_start(void *ctx, const struct nc_domain_spec *s, struct oc_err *err)
{
    struct virt *v = ctx;
    struct oc_buf xml = { 0 };
    virDomainPtr d;
    int rc = nc_domain_xml(s, &xml, err);

    if (rc)
        return rc;
    d = virDomainCreateXML(v->conn, (const char *)xml.data, VIR_DOMAIN_NONE);
    oc_buf_free(&xml);
    if (!d)
        return verr(err, OC_EIO, "cannot start", s->inst->id);
    virDomainFree(d);
    return OC_OK;
}

static int v_destroy(void *ctx, const char *id, struct oc_err *err)
{
    struct virt *v = ctx;
    virDomainPtr d = lookup(v, id);
    int rc = OC_OK;

    if (!d)
        return oc_err_set(err, OC_ENOTFOUND, "no domain %s", id);
    if (virDomainDestroy(d) < 0) {
        /* It may have ended between the lookup and the destroy. */
        rc = virDomainIsActive(d) == 1 ? verr(err, OC_EIO, "cannot destroy", id) : OC_OK;
    }
    virDomainFree(d);
    return rc;
}

static int v_shutdown(void *ctx, const char *id, struct oc_err *err)
{
    struct virt *v = ctx;
    virDomainPtr d = lookup(v, id);
    int rc = OC_OK;

    if (!d)
        return oc_err_set(err, OC_ENOTFOUND, "no domain %s", id);
    if (virDomainShutdown(d) < 0)
        rc = verr(err, OC_EIO, "cannot shut down", id);
    virDomainFree(d);
    return rc;
}

static int v_reset(void *ctx, const char *id, struct oc_err *err)
{
    struct virt *v = ctx;
    virDomainPtr d = lookup(v, id);
    int rc = OC_OK;

    if (!d)
        return oc_err_set(err, OC_ENOTFOUND, "no domain %s", id);
    if (virDomainReset(d, 0) < 0)
        rc = verr(err, OC_EIO, "cannot reset", id);
    virDomainFree(d);
    return rc;
}

static int v_active(void *ctx, const char *id)
{
    struct virt *v = ctx;
    virDomainPtr d = lookup(v, id);
    int a;

    if (!d)
        return 0;
    a = virDomainIsActive(d) == 1;
    virDomainFree(d);
    return a;
}

static int v_list(void *ctx, struct nc_vm_info **out, size_t *n, struct oc_err *err)
{
    struct virt *v = ctx;
    virDomainPtr *doms = NULL;
    struct nc_vm_info *info;
    int count = virConnectListAllDomains(v->conn, &doms, 0);
    size_t k = 0;

    *out = NULL;
    *n = 0;
    if (count < 0)
        return verr(err, OC_EIO, "cannot list domains", NULL);
    info = calloc((size_t)count + 1, sizeof(*info));
    if (!info) {
        for (int i = 0; i < count; i++)
            virDomainFree(doms[i]);
        free(doms);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    for (int i = 0; i < count; i++) {
        const char *name = virDomainGetName(doms[i]);

        if (name && nc_valid_instance_id(name)) {
            snprintf(info[k].id, sizeof(info[k].id), "%s", name);
            info[k].active = virDomainIsActive(doms[i]) == 1;
            info[k].record = virDomainGetMetadata(doms[i], VIR_DOMAIN_METADATA_ELEMENT,
                                                  NC_RECORD_NS, VIR_DOMAIN_AFFECT_LIVE);
            k++;
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    *out = info;
    *n = k;
    return OC_OK;
}

static void v_close(void *ctx)
{
    struct virt *v = ctx;

    if (!v)
        return;
    if (v->cb_id >= 0)
        virConnectDomainEventDeregisterAny(v->conn, v->cb_id);
    atomic_store(&v->stop, 1);
    /* A timer that fires at once makes the loop return and see stop. */
    if (v->wake_timer >= 0)
        virEventUpdateTimeout(v->wake_timer, 0);
    pthread_join(v->loop, NULL);
    if (v->wake_timer >= 0)
        virEventRemoveTimeout(v->wake_timer);
    virConnectClose(v->conn);
    free(v);
}

void nc_vm_info_free(struct nc_vm_info *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i].record);
    free(v);
}

int nc_virt_open(const char *uri, nc_vm_event_fn fn, void *fn_ctx, struct nc_driver *out,
                 struct oc_err *err)
{
    struct virt *v;

    pthread_once(&event_once, register_event_impl);
    if (event_impl_rc < 0)
        return oc_err_set(err, OC_EINTERNAL, "libvirt event loop registration failed");
    virSetErrorFunc(NULL, quiet);
    v = calloc(1, sizeof(*v));
    if (!v)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    v->cb_id = -1;
    v->wake_timer = -1;
    v->fn = fn;
    v->fn_ctx = fn_ctx;
    v->conn = virConnectOpen(uri);
    if (!v->conn) {
        free(v);
        return verr(err, OC_EIO, "cannot connect to libvirt at", uri);
    }
    v->wake_timer = virEventAddTimeout(-1, wake, NULL, NULL);
    v->cb_id = virConnectDomainEventRegisterAny(v->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL);
    if (v->cb_id < 0 || v->wake_timer < 0 || pthread_create(&v->loop, NULL, loop_main, v) != 0) {
        int rc = verr(err, OC_EIO, "cannot watch domain events on", uri);

        if (v->cb_id >= 0)
            virConnectDomainEventDeregisterAny(v->conn, v->cb_id);
        if (v->wake_timer >= 0)
            virEventRemoveTimeout(v->wake_timer);
        virConnectClose(v->conn);
        free(v);
        return rc;
    }
    memset(out, 0, sizeof(*out));
    out->name = "libvirt";
    out->ctx = v;
    out->start = v_start;
    out->destroy = v_destroy;
    out->shutdown = v_shutdown;
    out->reset = v_reset;
    out->active = v_active;
    out->list = v_list;
    out->close = v_close;
    return OC_OK;
}
