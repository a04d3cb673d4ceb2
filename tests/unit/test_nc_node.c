/*
 * test_nc_node.c - instance lifecycle in nc/node.c, driven through
 * libvirt's test driver (test:///default: domains, events, no VMs), with
 * the real image cache, a fetcher serving bytes from memory, and real
 * qemu-img making the overlays.  Real VMs: tests/integration/test_nc.py.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "nc/domain.h"
#include "nc/driver.h"
#include "nc/imgcache.h"
#include "nc/node.h"
#include "tests/unit/harness.h"

struct fake {
    pthread_mutex_t mu;
    int calls;
    int fail;
    int delay_ms;
};

static int fake_fetch(void *ctx, const struct nc_image_ref *ref, int fd, struct oc_err *err)
{
    struct fake *f = ctx;
    static char block[64 * 1024];
    int fail, delay;

    pthread_mutex_lock(&f->mu);
    f->calls++;
    fail = f->fail;
    delay = f->delay_ms;
    pthread_mutex_unlock(&f->mu);
    if (delay)
        usleep((useconds_t)delay * 1000);
    if (fail)
        return oc_err_set(err, OC_EINVAL, "image %s: part 0 digest mismatch", ref->image_id);
    memset(block, 0x5a, sizeof(block));
    for (int i = 0; i < 16; i++)   /* 1 MiB raw */
        if (oc_write_all(fd, block, sizeof(block), err) != OC_OK)
            return OC_EIO;
    return OC_OK;
}

/* The states reported, per run, as one string "pending running ...". */
struct seen {
    pthread_mutex_t mu;
    char log[4096];
};

static void on_report(void *ctx, const struct nc_instance *s)
{
    struct seen *v = ctx;
    size_t n;

    pthread_mutex_lock(&v->mu);
    n = strlen(v->log);
    snprintf(v->log + n, sizeof(v->log) - n, "%s%s:%s", n ? " " : "", s->id + 16,
             nc_state_name(s->state));
    pthread_mutex_unlock(&v->mu);
}

struct rig {
    char dir[PATH_MAX - 64];
    struct fake fake;
    struct seen seen;
    struct nc_img_fetcher fetcher;
    struct nc_imgcache *cache;
    struct nc_driver drv;
    struct nc_node *node;
};

static int rig_node(struct rig *r, unsigned cores)
{
    struct nc_node_config cfg = { 0 };
    struct oc_err err = { 0 };
    unsigned adopted = 0;

    r->node = nc_node_alloc();
    if (!r->node)
        return -1;
    cfg.dir = r->dir;
    cfg.hypervisor = "qemu";
    cfg.qemu_img = "qemu-img";
    cfg.shutdown_timeout_s = 1;
    cfg.terminated_keep_s = 3600;
    cfg.max_cores = cores;
    cfg.max_mem_mb = 1024;
    cfg.max_disk_gb = 10;
    cfg.report = on_report;
    cfg.report_ctx = &r->seen;
    if (nc_node_init(r->node, &cfg, &r->drv, NULL, r->cache, &err) != OC_OK ||
        nc_node_adopt(r->node, &adopted, &err) != OC_OK) {
        oc_test_fail(__FILE__, __LINE__, "node: %s", err.msg);
        return -1;
    }
    return (int)adopted;
}

static int rig_open(struct rig *r, const char *name, unsigned cores)
{
    char cache_dir[PATH_MAX];
    struct oc_err err = { 0 };

    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->fake.mu, NULL);
    pthread_mutex_init(&r->seen.mu, NULL);
    snprintf(r->dir, sizeof(r->dir), "%s/%s", oc_test_tmpdir(), name);
    snprintf(cache_dir, sizeof(cache_dir), "%s/cache", r->dir);
    r->fetcher.fetch = fake_fetch;
    r->fetcher.ctx = &r->fake;
    if (oc_mkdirs(r->dir, 0700, &err) != OC_OK ||
        nc_imgcache_open(cache_dir, 1 << 30, &r->fetcher, &r->cache, &err) != OC_OK)
        return oc_test_fail(__FILE__, __LINE__, "rig: %s", err.msg), -1;
    /* The node pointer is the event context: allocate it before the driver. */
    r->node = NULL;
    return 0;
}

/* Opens the driver with events going to r->node (set before events flow). */
static struct nc_node *event_target;

static void route_event(void *ctx, const char *id, enum nc_vm_event ev)
{
    (void)ctx;
    if (event_target)
        nc_node_vm_event(event_target, id, ev);
}

static int rig_driver(struct rig *r)
{
    struct oc_err err = { 0 };

    if (nc_virt_open("test:///default", route_event, NULL, &r->drv, &err) != OC_OK)
        return oc_test_fail(__FILE__, __LINE__, "libvirt test driver: %s", err.msg), -1;
    return 0;
}

static void rig_close(struct rig *r)
{
    event_target = NULL;
    if (r->node) {
        nc_node_drain(r->node);
        nc_node_free(r->node);
    }
    if (r->drv.close)
        r->drv.close(r->drv.ctx);
    nc_imgcache_close(r->cache);
}

static void request(struct nc_instance *i, const char *id_tail)
{
    memset(i, 0, sizeof(*i));
    snprintf(i->id, sizeof(i->id), "i-00000000000000%s", id_tail);
    snprintf(i->instance_type, sizeof(i->instance_type), "t2.micro");
    i->vcpus = 1;
    i->mem_mb = 256;
    i->disk_gb = 1;
    snprintf(i->image.id, sizeof(i->image.id), "emi-0000000a");
    snprintf(i->image.location, sizeof(i->image.location), "b/disk.img");
    snprintf(i->image.digest, sizeof(i->image.digest), "0123456789abcdef");
    snprintf(i->mac, sizeof(i->mac), "d0:0d:00:00:00:%s", id_tail + 1);
    snprintf(i->bridge, sizeof(i->bridge), "br0");
}

static enum nc_state wait_state(struct nc_node *n, const char *id, enum nc_state want)
{
    struct nc_instance got;

    for (int k = 0; k < 1000; k++) {   /* up to 20 s */
        if (nc_node_get(n, id, &got) == OC_OK && got.state == want)
            return want;
        usleep(20000);
    }
    return nc_node_get(n, id, &got) == OC_OK ? got.state : (enum nc_state)-1;
}

static int dir_exists(const struct rig *r, const char *id)
{
    char p[PATH_MAX];
    struct stat st;

    snprintf(p, sizeof(p), "%s/instances/%s", r->dir, id);
    return stat(p, &st) == 0;
}

OC_TEST(nc_node_lifecycle)
{
    struct rig r;
    struct nc_instance req, got;
    struct nc_resources res;
    struct nc_imgcache_stats st;
    struct oc_err err = { 0 };
    enum nc_state prev, cur;

    if (rig_open(&r, "node-life", 4) || rig_driver(&r))
        return;
    r.node = NULL;
    CHECK(rig_node(&r, 4) >= 0);
    event_target = r.node;
    request(&req, "101");
    CHECK_INT(nc_node_run(r.node, &req, &got, &err), OC_OK);
    CHECK_INT(got.state, NC_PENDING);
    CHECK_INT(wait_state(r.node, req.id, NC_RUNNING), NC_RUNNING);
    CHECK(r.drv.active(r.drv.ctx, req.id));
    CHECK(dir_exists(&r, req.id));
    nc_node_resources(r.node, &res);
    CHECK_INT(res.cores_total, 4);
    CHECK_INT(res.cores_free, 3);
    CHECK_INT(res.mem_free_mb, 1024 - 256);
    CHECK_INT(res.instances, 1);

    CHECK_INT(nc_node_stop(r.node, req.id, &prev, &cur, &err), OC_OK);
    CHECK_INT(prev, NC_RUNNING);
    CHECK_INT(cur, NC_STOPPING);
    CHECK_INT(wait_state(r.node, req.id, NC_STOPPED), NC_STOPPED);
    CHECK(!r.drv.active(r.drv.ctx, req.id));
    nc_node_resources(r.node, &res);
    CHECK_INT(res.cores_free, 4);          /* stopped gives back cores and memory */
    CHECK_INT(res.disk_free_gb, 10 - 1);   /* but keeps its disk */
    CHECK_INT(nc_node_reboot(r.node, req.id, &err), OC_ECONFLICT);

    /* Started with another size (its type changed while stopped). */
    CHECK_INT(nc_node_start_as(r.node, req.id, 2, 512, &prev, &cur, &err), OC_OK);
    CHECK_INT(cur, NC_PENDING);
    CHECK_INT(wait_state(r.node, req.id, NC_RUNNING), NC_RUNNING);
    CHECK_INT(nc_node_get(r.node, req.id, &got), OC_OK);
    CHECK_INT(got.vcpus, 2);
    CHECK_INT(got.mem_mb, 512);
    nc_node_resources(r.node, &res);
    CHECK_INT(res.cores_free, 2);
    CHECK_INT(res.mem_free_mb, 1024 - 512);
    /* Already running: a size does nothing to it. */
    CHECK_INT(nc_node_start_as(r.node, req.id, 1, 256, &prev, &cur, &err), OC_OK);
    CHECK_INT(cur, NC_RUNNING);
    CHECK_INT(nc_node_get(r.node, req.id, &got), OC_OK);
    CHECK_INT(got.mem_mb, 512);
    CHECK_INT(nc_node_start(r.node, req.id, &prev, &cur, &err), OC_OK);   /* already */
    CHECK_INT(cur, NC_RUNNING);

    CHECK_INT(nc_node_terminate(r.node, req.id, &prev, &cur, &err), OC_OK);
    CHECK_INT(cur, NC_SHUTTING_DOWN);
    CHECK_INT(wait_state(r.node, req.id, NC_TERMINATED), NC_TERMINATED);
    CHECK(!r.drv.active(r.drv.ctx, req.id));
    CHECK(!dir_exists(&r, req.id));
    CHECK_INT(nc_node_terminate(r.node, req.id, &prev, &cur, &err), OC_OK);   /* again */
    CHECK_INT(cur, NC_TERMINATED);
    CHECK_INT(nc_node_start(r.node, req.id, &prev, &cur, &err), OC_ENOTFOUND);
    nc_imgcache_stats(r.cache, &st);
    CHECK_INT(st.pinned, 0);
    CHECK_INT(st.entries, 1);
    CHECK_INT(r.fake.calls, 1);
    CHECK_STR(r.seen.log, "101:pending 101:running 101:stopping 101:stopped 101:pending "
                          "101:running 101:shutting-down 101:terminated");
    rig_close(&r);
}

OC_TEST(nc_node_capacity_idempotence_and_guest_events)
{
    struct rig r;
    struct nc_instance a, b, c, got;
    struct oc_err err = { 0 };
    enum nc_state prev, cur;

    if (rig_open(&r, "node-cap", 2) || rig_driver(&r))
        return;
    CHECK(rig_node(&r, 2) >= 0);
    event_target = r.node;
    request(&a, "201");
    request(&b, "202");
    request(&c, "203");
    CHECK_INT(nc_node_run(r.node, &a, &got, &err), OC_OK);
    CHECK_INT(nc_node_run(r.node, &a, &got, &err), OC_OK);   /* the CC retrying */
    a.image.id[4] = 'b';
    CHECK_INT(nc_node_run(r.node, &a, &got, &err), OC_EEXIST);
    a.image.id[4] = '0';
    CHECK_INT(nc_node_run(r.node, &b, &got, &err), OC_OK);
    CHECK_INT(nc_node_run(r.node, &c, &got, &err), OC_ETOOBIG);
    CHECK(strstr(err.msg, "cores") != NULL);
    c.mac[0] = 'X';
    CHECK_INT(nc_node_run(r.node, &c, &got, &err), OC_EINVAL);
    CHECK_INT(wait_state(r.node, a.id, NC_RUNNING), NC_RUNNING);
    CHECK_INT(wait_state(r.node, b.id, NC_RUNNING), NC_RUNNING);
    CHECK_INT(r.fake.calls, 1);   /* one image, fetched once */

    /* The guest powers itself off: stopped, by its own doing. */
    CHECK_INT(r.drv.shutdown(r.drv.ctx, a.id, &err), OC_OK);
    CHECK_INT(wait_state(r.node, a.id, NC_STOPPED), NC_STOPPED);
    CHECK_INT(nc_node_get(r.node, a.id, &got), OC_OK);
    CHECK(strstr(got.state_reason, "InstanceInitiatedShutdown") != NULL);
    /* Ended from outside: also stopped, saying so. */
    CHECK_INT(r.drv.destroy(r.drv.ctx, b.id, &err), OC_OK);
    CHECK_INT(wait_state(r.node, b.id, NC_STOPPED), NC_STOPPED);
    CHECK_INT(nc_node_get(r.node, b.id, &got), OC_OK);
    CHECK(strstr(got.state_reason, "ForcedShutdown") != NULL);

    CHECK_INT(nc_node_terminate(r.node, a.id, &prev, &cur, &err), OC_OK);
    CHECK_INT(nc_node_terminate(r.node, b.id, &prev, &cur, &err), OC_OK);
    CHECK_INT(wait_state(r.node, a.id, NC_TERMINATED), NC_TERMINATED);
    CHECK_INT(wait_state(r.node, b.id, NC_TERMINATED), NC_TERMINATED);
    rig_close(&r);
}

OC_TEST(nc_node_failed_and_cancelled_launches)
{
    struct rig r;
    struct nc_instance a, b, got;
    struct oc_err err = { 0 };
    enum nc_state prev, cur;

    if (rig_open(&r, "node-fail", 4) || rig_driver(&r))
        return;
    CHECK(rig_node(&r, 4) >= 0);
    event_target = r.node;
    r.fake.fail = 1;
    request(&a, "301");
    CHECK_INT(nc_node_run(r.node, &a, &got, &err), OC_OK);
    CHECK_INT(wait_state(r.node, a.id, NC_TERMINATED), NC_TERMINATED);
    CHECK_INT(nc_node_get(r.node, a.id, &got), OC_OK);
    CHECK(strstr(got.state_reason, "Server.InternalError") == got.state_reason);
    CHECK(strstr(got.state_reason, "digest mismatch") != NULL);
    CHECK(!dir_exists(&r, a.id));
    CHECK(!r.drv.active(r.drv.ctx, a.id));

    /* Terminated while its image is still being fetched. */
    r.fake.fail = 0;
    r.fake.delay_ms = 400;
    request(&b, "302");
    snprintf(b.image.id, sizeof(b.image.id), "emi-0000000c");
    CHECK_INT(nc_node_run(r.node, &b, &got, &err), OC_OK);
    CHECK_INT(nc_node_terminate(r.node, b.id, &prev, &cur, &err), OC_OK);
    CHECK_INT(prev, NC_PENDING);
    CHECK_INT(cur, NC_SHUTTING_DOWN);
    CHECK_INT(wait_state(r.node, b.id, NC_TERMINATED), NC_TERMINATED);
    CHECK(!r.drv.active(r.drv.ctx, b.id));
    CHECK(!dir_exists(&r, b.id));
    rig_close(&r);
}

OC_TEST(nc_node_restart_adopts)
{
    struct rig r;
    struct nc_instance a, b, c, ghost, got;
    struct oc_buf xml = { 0 };
    struct oc_err err = { 0 };
    enum nc_state prev, cur;
    char path[PATH_MAX], away[PATH_MAX];

    if (rig_open(&r, "node-adopt", 4) || rig_driver(&r))
        return;
    CHECK(rig_node(&r, 4) >= 0);
    event_target = r.node;
    request(&a, "401");
    request(&b, "402");
    request(&c, "404");
    CHECK_INT(nc_node_run(r.node, &a, &got, &err), OC_OK);
    CHECK_INT(nc_node_run(r.node, &b, &got, &err), OC_OK);
    CHECK_INT(nc_node_run(r.node, &c, &got, &err), OC_OK);
    CHECK_INT(wait_state(r.node, c.id, NC_RUNNING), NC_RUNNING);
    CHECK_INT(wait_state(r.node, a.id, NC_RUNNING), NC_RUNNING);
    CHECK_INT(wait_state(r.node, b.id, NC_RUNNING), NC_RUNNING);
    CHECK_INT(nc_node_stop(r.node, b.id, &prev, &cur, &err), OC_OK);
    CHECK_INT(wait_state(r.node, b.id, NC_STOPPED), NC_STOPPED);

    /* A launch that never finished: a record saying pending, no domain. */
    request(&ghost, "403");
    ghost.state = NC_PENDING;
    snprintf(path, sizeof(path), "%s/instances/%s", r.dir, ghost.id);
    CHECK_INT(oc_mkdirs(path, 0700, &err), OC_OK);
    snprintf(path, sizeof(path), "%s/instances/%s/instance.xml", r.dir, ghost.id);
    CHECK_INT(nc_record_xml(&ghost, &xml, &err), OC_OK);
    CHECK_INT(oc_write_file_atomic(path, xml.data, xml.len, 0600, &err), OC_OK);
    oc_buf_free(&xml);

    /* a's record file is lost: the copy in its domain's metadata serves. */
    snprintf(path, sizeof(path), "%s/instances/%s/instance.xml", r.dir, a.id);
    CHECK_INT(unlink(path), 0);
    /* c's whole directory is elsewhere, as a VM of another node on the
     * same libvirtd: its metadata alone must not make it ours. */
    snprintf(path, sizeof(path), "%s/instances/%s", r.dir, c.id);
    snprintf(away, sizeof(away), "%s/other-node-%s", r.dir, c.id);
    CHECK_INT(rename(path, away), 0);

    /* The daemon goes away; the VM does not. */
    event_target = NULL;
    nc_node_drain(r.node);
    nc_node_free(r.node);
    r.node = NULL;
    CHECK(r.drv.active(r.drv.ctx, a.id));
    CHECK_INT(rig_node(&r, 4), 2);
    event_target = r.node;
    CHECK_INT(nc_node_get(r.node, a.id, &got), OC_OK);
    CHECK_INT(got.state, NC_RUNNING);
    CHECK_INT(nc_node_get(r.node, b.id, &got), OC_OK);
    CHECK_INT(got.state, NC_STOPPED);
    CHECK_INT(nc_node_get(r.node, ghost.id, &got), OC_ENOTFOUND);
    CHECK(!dir_exists(&r, ghost.id));
    CHECK_INT(nc_node_get(r.node, c.id, &got), OC_ENOTFOUND);
    CHECK(r.drv.active(r.drv.ctx, c.id));          /* left alone, not ours */
    CHECK_INT(r.drv.destroy(r.drv.ctx, c.id, &err), OC_OK);
    CHECK_INT(r.fake.calls, 1);   /* re-pinned from the cache, not fetched */
    CHECK_INT(nc_node_terminate(r.node, a.id, &prev, &cur, &err), OC_OK);
    CHECK_INT(nc_node_terminate(r.node, b.id, &prev, &cur, &err), OC_OK);
    CHECK_INT(wait_state(r.node, a.id, NC_TERMINATED), NC_TERMINATED);
    CHECK_INT(wait_state(r.node, b.id, NC_TERMINATED), NC_TERMINATED);
    CHECK(!r.drv.active(r.drv.ctx, a.id));
    rig_close(&r);
}
