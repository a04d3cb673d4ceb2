/*
 * domain.c - libvirt domain XML and the instance record (see domain.h).
 */
#include "nc/domain.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/xml.h"

static const char *const state_names[] = {
    [NC_PENDING] = "pending",        [NC_RUNNING] = "running",
    [NC_SHUTTING_DOWN] = "shutting-down", [NC_TERMINATED] = "terminated",
    [NC_STOPPING] = "stopping",      [NC_STOPPED] = "stopped",
    [NC_CRASHED] = "crashed",
};

const char *nc_state_name(enum nc_state s)
{
    if ((unsigned)s < sizeof(state_names) / sizeof(state_names[0]) && state_names[s])
        return state_names[s];
    return "unknown";
}

int nc_state_parse(const char *name, enum nc_state *out)
{
    for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++)
        if (state_names[i] && strcmp(state_names[i], name) == 0) {
            *out = (enum nc_state)i;
            return OC_OK;
        }
    return OC_EINVAL;
}

/* ------------------------------------------------------------------ */
/* shapes */

static int all_of(const char *s, size_t n, const char *set)
{
    return strlen(s) == n && strspn(s, set) == n;
}

static int hex_id(const char *s, size_t prefix)
{
    size_t n = strlen(s);

    return (n == prefix + 8 || n == prefix + 17) &&
           strspn(s + prefix, "0123456789abcdef") == n - prefix;
}

int nc_valid_instance_id(const char *s)
{
    return strncmp(s, "i-", 2) == 0 && hex_id(s, 2);
}

int nc_valid_image_id(const char *s, int kind)
{
    static const char *const m[] = { "ami-", "emi-" }, *const k[] = { "aki-", "eki-" },
                             *const r[] = { "ari-", "eri-" };
    const char *const *p = kind == 'k' ? k : kind == 'r' ? r : m;

    return (strncmp(s, p[0], 4) == 0 || strncmp(s, p[1], 4) == 0) && hex_id(s, 4);
}

int nc_valid_mac(const char *s)
{
    if (strlen(s) != 17)
        return 0;
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdef", s[i]) || !s[i])
            return 0;
    }
    /* A unicast address: the guest's NIC must be able to own it. */
    return (strtol((char[]){ s[0], s[1], 0 }, NULL, 16) & 1) == 0;
}

int nc_valid_ifname(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n < NC_IFNAME_MAX &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n &&
           strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int nc_valid_location(const char *s)
{
    const char *slash = strchr(s, '/');
    size_t n = strlen(s);

    if (!slash || slash == s || n >= NC_LOCATION_MAX || slash - s > 63 || !slash[1])
        return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

int nc_valid_digest(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n < 65 && strspn(s, "0123456789abcdef-") == n;
}

static int check_image(const struct nc_image_spec *im, int kind, const char *what,
                       struct oc_err *err)
{
    if (!im->id[0] && kind != 'm' && !im->location[0] && !im->digest[0])
        return OC_OK;
    if (!nc_valid_image_id(im->id, kind))
        return oc_err_set(err, OC_EINVAL, "%s id '%.32s' is not a %s image id", what, im->id,
                          what);
    if (!nc_valid_location(im->location))
        return oc_err_set(err, OC_EINVAL, "%s location must be bucket/key", what);
    if (!nc_valid_digest(im->digest))
        return oc_err_set(err, OC_EINVAL, "%s digest must be 1-64 of [0-9a-f-]", what);
    return OC_OK;
}

int nc_instance_check(const struct nc_instance *i, struct oc_err *err)
{
    int rc;

    if (!nc_valid_instance_id(i->id))
        return oc_err_set(err, OC_EINVAL, "instance id '%.24s' is malformed", i->id);
    if (i->reservation_id[0] && !(strncmp(i->reservation_id, "r-", 2) == 0 &&
                                  hex_id(i->reservation_id, 2)))
        return oc_err_set(err, OC_EINVAL, "reservation id is malformed");
    if (i->owner_id[0] && !all_of(i->owner_id, 12, "0123456789"))
        return oc_err_set(err, OC_EINVAL, "owner id must be 12 digits");
    if (!i->instance_type[0] || strspn(i->instance_type, "abcdefghijklmnopqrstuvwxyz0123456789.-")
                                    != strlen(i->instance_type))
        return oc_err_set(err, OC_EINVAL, "instance type is malformed");
    if (i->vcpus < 1 || i->vcpus > 64)
        return oc_err_set(err, OC_EINVAL, "vcpus must be 1-64");
    if (i->mem_mb < 32 || i->mem_mb > 1024 * 1024)
        return oc_err_set(err, OC_EINVAL, "memory must be 32 MiB - 1 TiB");
    if (i->disk_gb < 1 || i->disk_gb > 16384 || i->ephemeral_gb > 16384 ||
        i->swap_mb > 1024 * 1024)
        return oc_err_set(err, OC_EINVAL, "disk sizes are out of range");
    if ((rc = check_image(&i->image, 'm', "machine", err)) ||
        (rc = check_image(&i->kernel, 'k', "kernel", err)) ||
        (rc = check_image(&i->ramdisk, 'r', "ramdisk", err)))
        return rc;
    if (i->ramdisk.id[0] && !i->kernel.id[0])
        return oc_err_set(err, OC_EINVAL, "a ramdisk needs a kernel");
    if (!nc_valid_mac(i->mac))
        return oc_err_set(err, OC_EINVAL, "MAC '%.18s' is not a unicast xx:xx:xx:xx:xx:xx "
                                          "(lowercase)", i->mac);
    if (!!i->bridge[0] == !!i->tap[0])
        return oc_err_set(err, OC_EINVAL, "exactly one of bridge and tap is needed");
    if ((i->bridge[0] && !nc_valid_ifname(i->bridge)) || (i->tap[0] && !nc_valid_ifname(i->tap)))
        return oc_err_set(err, OC_EINVAL, "interface name is malformed");
    if (i->clone_of[0] && (!i->mc_ready[0] || !nc_valid_instance_id(i->clone_of) ||
                           strcmp(i->clone_of, i->id) == 0))
        return oc_err_set(err, OC_EINVAL, "a clone needs a MacroComponent source instance id "
                                          "other than its own");
    if (i->mc_ready[0] && !oc_valid_mc_ready(i->mc_ready))
        return oc_err_set(err, OC_EINVAL, "MacroComponent ready point must be a marker of "
                                          "[A-Za-z0-9_.:-] or +<seconds> (1-3600)");
    return OC_OK;
}

/* ------------------------------------------------------------------ */
/* the record */

/* Element names with an optional prefix ("oc:" inside domain metadata). */
static void elem(struct oc_xmlw *w, const char *pfx, const char *name, const char *text)
{
    char n[64];

    snprintf(n, sizeof(n), "%s%s", pfx, name);
    oc_xmlw_elem(w, n, text);
}

static void elem_u(struct oc_xmlw *w, const char *pfx, const char *name, int64_t v)
{
    char t[32];

    snprintf(t, sizeof(t), "%" PRId64, v);
    elem(w, pfx, name, t);
}

static void write_image(struct oc_xmlw *w, const char *pfx, const char *name,
                        const struct nc_image_spec *im)
{
    char n[64];

    if (!im->id[0])
        return;
    snprintf(n, sizeof(n), "%s%s", pfx, name);
    oc_xmlw_start(w, n);
    elem(w, pfx, "id", im->id);
    elem(w, pfx, "location", im->location);
    elem(w, pfx, "digest", im->digest);
    oc_xmlw_end(w);
}

static void write_record(struct oc_xmlw *w, const char *pfx, const struct nc_instance *i)
{
    elem(w, pfx, "id", i->id);
    elem(w, pfx, "reservationId", i->reservation_id);
    elem(w, pfx, "ownerId", i->owner_id);
    elem_u(w, pfx, "launchIndex", i->launch_index);
    elem(w, pfx, "instanceType", i->instance_type);
    elem_u(w, pfx, "vcpus", i->vcpus);
    elem_u(w, pfx, "memoryMiB", i->mem_mb);
    elem_u(w, pfx, "diskGiB", i->disk_gb);
    elem_u(w, pfx, "ephemeralGiB", i->ephemeral_gb);
    elem_u(w, pfx, "swapMiB", i->swap_mb);
    write_image(w, pfx, "image", &i->image);
    write_image(w, pfx, "kernel", &i->kernel);
    write_image(w, pfx, "ramdisk", &i->ramdisk);
    elem(w, pfx, "mac", i->mac);
    if (i->bridge[0])
        elem(w, pfx, "bridge", i->bridge);
    if (i->tap[0])
        elem(w, pfx, "tap", i->tap);
    if (i->mc_ready[0])
        elem(w, pfx, "mcReady", i->mc_ready);
    if (i->clone_of[0])
        elem(w, pfx, "cloneOf", i->clone_of);
    elem(w, pfx, "state", nc_state_name(i->state));
    elem(w, pfx, "stateReason", i->state_reason);
    elem_u(w, pfx, "launchTime", i->launch_time);
    elem_u(w, pfx, "stateTime", i->state_time);
}

int nc_record_xml(const struct nc_instance *i, struct oc_buf *out, struct oc_err *err)
{
    struct oc_xmlw *w = oc_xmlw_new("instance", NC_RECORD_NS);
    int rc;

    if (!w)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    write_record(w, "", i);
    rc = oc_xmlw_finish(w, out);
    oc_xmlw_free(w);
    return rc ? oc_err_set(err, rc, "cannot write the instance record") : OC_OK;
}

/* Copies the text of child `name` into dst (cap bytes); absent = "". */
static int get_text(xmlNodePtr parent, const char *name, char *dst, size_t cap,
                    struct oc_err *err)
{
    xmlNodePtr n = parent ? oc_xml_child(parent, name) : NULL;
    char *t;
    int rc = OC_OK;

    dst[0] = 0;
    if (!n)
        return OC_OK;
    t = oc_xml_text(n);
    if (!t)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    if (strlen(t) >= cap)
        rc = oc_err_set(err, OC_EINVAL, "record field %s is too long", name);
    else
        memcpy(dst, t, strlen(t) + 1);
    xmlFree(t);
    return rc;
}

static int get_num(xmlNodePtr parent, const char *name, int64_t max, int64_t *out,
                   struct oc_err *err)
{
    char t[32], *end;
    long long v;
    int rc = get_text(parent, name, t, sizeof(t), err);

    if (rc)
        return rc;
    if (!t[0]) {
        *out = 0;
        return OC_OK;
    }
    v = strtoll(t, &end, 10);
    if (*end || v < 0 || v > max)
        return oc_err_set(err, OC_EINVAL, "record field %s is not a number in range", name);
    *out = v;
    return OC_OK;
}

static int get_image(xmlNodePtr root, const char *name, struct nc_image_spec *im,
                     struct oc_err *err)
{
    xmlNodePtr n = oc_xml_child(root, name);
    int rc;

    memset(im, 0, sizeof(*im));
    if (!n)
        return OC_OK;
    if ((rc = get_text(n, "id", im->id, sizeof(im->id), err)) ||
        (rc = get_text(n, "location", im->location, sizeof(im->location), err)) ||
        (rc = get_text(n, "digest", im->digest, sizeof(im->digest), err)))
        return rc;
    return OC_OK;
}

int nc_record_parse(const char *xml, size_t len, struct nc_instance *out, struct oc_err *err)
{
    xmlDocPtr doc = oc_xml_parse(xml, len, err);
    xmlNodePtr root;
    char state[32];
    int64_t v[7];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!doc)
        return err && err->code ? err->code : OC_EINVAL;
    root = xmlDocGetRootElement(doc);
    if (!root || strcmp((const char *)root->name, "instance") != 0) {
        xmlFreeDoc(doc);
        return oc_err_set(err, OC_EINVAL, "not an instance record");
    }
    if ((rc = get_text(root, "id", out->id, sizeof(out->id), err)) ||
        (rc = get_text(root, "reservationId", out->reservation_id, sizeof(out->reservation_id),
                       err)) ||
        (rc = get_text(root, "ownerId", out->owner_id, sizeof(out->owner_id), err)) ||
        (rc = get_text(root, "instanceType", out->instance_type, sizeof(out->instance_type),
                       err)) ||
        (rc = get_num(root, "launchIndex", 100000, &v[0], err)) ||
        (rc = get_num(root, "vcpus", 64, &v[1], err)) ||
        (rc = get_num(root, "memoryMiB", 1024 * 1024, &v[2], err)) ||
        (rc = get_num(root, "diskGiB", 16384, &v[3], err)) ||
        (rc = get_num(root, "ephemeralGiB", 16384, &v[4], err)) ||
        (rc = get_num(root, "swapMiB", 1024 * 1024, &v[5], err)) ||
        (rc = get_image(root, "image", &out->image, err)) ||
        (rc = get_image(root, "kernel", &out->kernel, err)) ||
        (rc = get_image(root, "ramdisk", &out->ramdisk, err)) ||
        (rc = get_text(root, "mac", out->mac, sizeof(out->mac), err)) ||
        (rc = get_text(root, "bridge", out->bridge, sizeof(out->bridge), err)) ||
        (rc = get_text(root, "tap", out->tap, sizeof(out->tap), err)) ||
        (rc = get_text(root, "mcReady", out->mc_ready, sizeof(out->mc_ready), err)) ||
        (rc = get_text(root, "cloneOf", out->clone_of, sizeof(out->clone_of), err)) ||
        (rc = get_text(root, "state", state, sizeof(state), err)) ||
        (rc = get_text(root, "stateReason", out->state_reason, sizeof(out->state_reason), err)) ||
        (rc = get_num(root, "launchTime", INT64_MAX, &out->launch_time, err)) ||
        (rc = get_num(root, "stateTime", INT64_MAX, &v[6], err))) {
        xmlFreeDoc(doc);
        return rc;
    }
    xmlFreeDoc(doc);
    out->launch_index = (unsigned)v[0];
    out->vcpus = (unsigned)v[1];
    out->mem_mb = (unsigned)v[2];
    out->disk_gb = (unsigned)v[3];
    out->ephemeral_gb = (unsigned)v[4];
    out->swap_mb = (unsigned)v[5];
    out->state_time = v[6];
    if (nc_state_parse(state, &out->state) != OC_OK)
        return oc_err_set(err, OC_EINVAL, "record state '%.31s' is unknown", state);
    return nc_instance_check(out, err);
}

/* ------------------------------------------------------------------ */
/* domains */

static void disk(struct oc_xmlw *w, const char *path, const char *dev)
{
    oc_xmlw_start(w, "disk");
    oc_xmlw_attr(w, "type", "file");
    oc_xmlw_attr(w, "device", "disk");
    oc_xmlw_start(w, "driver");
    oc_xmlw_attr(w, "name", "qemu");
    oc_xmlw_attr(w, "type", "qcow2");
    oc_xmlw_end(w);
    oc_xmlw_start(w, "source");
    oc_xmlw_attr(w, "file", path);
    oc_xmlw_end(w);
    oc_xmlw_start(w, "target");
    oc_xmlw_attr(w, "dev", dev);
    oc_xmlw_attr(w, "bus", "virtio");
    oc_xmlw_end(w);
    oc_xmlw_end(w);
}

static void empty(struct oc_xmlw *w, const char *name, const char *attr, const char *value)
{
    oc_xmlw_start(w, name);
    if (attr)
        oc_xmlw_attr(w, attr, value);
    oc_xmlw_end(w);
}

int nc_domain_xml(const struct nc_domain_spec *s, struct oc_buf *out, struct oc_err *err)
{
    const struct nc_instance *i = s->inst;
    struct oc_xmlw *w;
    int kvm, rc;

    if ((rc = nc_instance_check(i, err)))
        return rc;
    if (!s->hypervisor || (strcmp(s->hypervisor, "kvm") && strcmp(s->hypervisor, "qemu")))
        return oc_err_set(err, OC_EINVAL, "hypervisor must be kvm or qemu");
    if (!s->root_path || !s->console_path)
        return oc_err_set(err, OC_EINVAL, "the root disk and console paths are required");
    if (!s->kernel_path != !i->kernel.id[0] || !s->ramdisk_path != !i->ramdisk.id[0])
        return oc_err_set(err, OC_EINVAL, "kernel and ramdisk paths must match the record");
    kvm = strcmp(s->hypervisor, "kvm") == 0;
    w = oc_xmlw_new("domain", NULL);
    if (!w)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    oc_xmlw_attr(w, "type", s->hypervisor);
    oc_xmlw_elem(w, "name", i->id);

    /* The record travels with the domain: a restarted NC re-adopts from it. */
    oc_xmlw_start(w, "metadata");
    oc_xmlw_start(w, "oc:instance");
    oc_xmlw_attr(w, "xmlns:oc", NC_RECORD_NS);
    write_record(w, "oc:", i);
    oc_xmlw_end(w);
    oc_xmlw_end(w);

    oc_xmlw_start(w, "memory");
    oc_xmlw_attr(w, "unit", "MiB");
    {
        char m[16];

        snprintf(m, sizeof(m), "%u", i->mem_mb);
        oc_xmlw_text(w, m);
    }
    oc_xmlw_end(w);
    oc_xmlw_elemf(w, "vcpu", "%u", i->vcpus);

    oc_xmlw_start(w, "os");
    oc_xmlw_start(w, "type");
    oc_xmlw_attr(w, "arch", "x86_64");
    oc_xmlw_attr(w, "machine", "pc");
    oc_xmlw_text(w, "hvm");
    oc_xmlw_end(w);
    if (s->kernel_path) {
        oc_xmlw_elem(w, "kernel", s->kernel_path);
        if (s->ramdisk_path)
            oc_xmlw_elem(w, "initrd", s->ramdisk_path);
        oc_xmlw_elem(w, "cmdline", s->cmdline ? s->cmdline : "console=ttyS0");
    } else {
        empty(w, "boot", "dev", "hd");
    }
    oc_xmlw_end(w);
    oc_xmlw_start(w, "features");
    empty(w, "acpi", NULL, NULL);
    empty(w, "apic", NULL, NULL);
    oc_xmlw_end(w);
    if (kvm)
        empty(w, "cpu", "mode", "host-passthrough");
    empty(w, "clock", "offset", "utc");
    /* A guest that powers off or crashes ends its domain; node.c decides
     * what that means for the instance (stopped, crashed). */
    oc_xmlw_elem(w, "on_poweroff", "destroy");
    oc_xmlw_elem(w, "on_reboot", "restart");
    oc_xmlw_elem(w, "on_crash", "destroy");

    oc_xmlw_start(w, "devices");
    disk(w, s->root_path, "vda");
    if (s->ephemeral_path)
        disk(w, s->ephemeral_path, "vdb");
    if (s->swap_path)
        disk(w, s->swap_path, "vdc");
    oc_xmlw_start(w, "interface");
    if (i->bridge[0]) {
        oc_xmlw_attr(w, "type", "bridge");
        empty(w, "source", "bridge", i->bridge);
    } else {
        /* A tap the CC made; libvirt must neither create nor delete it. */
        oc_xmlw_attr(w, "type", "ethernet");
        oc_xmlw_start(w, "target");
        oc_xmlw_attr(w, "dev", i->tap);
        oc_xmlw_attr(w, "managed", "no");
        oc_xmlw_end(w);
    }
    empty(w, "mac", "address", i->mac);
    empty(w, "model", "type", "virtio");
    oc_xmlw_end(w);
    /* Appended, so the console survives a stop and start. */
    oc_xmlw_start(w, "serial");
    oc_xmlw_attr(w, "type", "file");
    oc_xmlw_start(w, "source");
    oc_xmlw_attr(w, "path", s->console_path);
    oc_xmlw_attr(w, "append", "on");
    oc_xmlw_end(w);
    empty(w, "target", "port", "0");
    oc_xmlw_end(w);
    oc_xmlw_start(w, "console");
    oc_xmlw_attr(w, "type", "file");
    oc_xmlw_start(w, "source");
    oc_xmlw_attr(w, "path", s->console_path);
    oc_xmlw_attr(w, "append", "on");
    oc_xmlw_end(w);
    oc_xmlw_start(w, "target");
    oc_xmlw_attr(w, "type", "serial");
    oc_xmlw_attr(w, "port", "0");
    oc_xmlw_end(w);
    oc_xmlw_end(w);
    empty(w, "memballoon", "model", "none");
    oc_xmlw_end(w);   /* devices */

    if (s->dac_label && s->dac_label[0]) {
        oc_xmlw_start(w, "seclabel");
        oc_xmlw_attr(w, "type", "static");
        oc_xmlw_attr(w, "model", "dac");
        oc_xmlw_attr(w, "relabel", "no");
        oc_xmlw_elem(w, "label", s->dac_label);
        oc_xmlw_end(w);
    }
    rc = oc_xmlw_finish(w, out);
    oc_xmlw_free(w);
    return rc ? oc_err_set(err, rc, "cannot write the domain XML") : OC_OK;
}
