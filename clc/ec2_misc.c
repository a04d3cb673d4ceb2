/*
 * ec2_misc.c - the describe calls about the cloud itself rather than a
 * user's resources: DescribeRegions (this CLC is one region),
 * DescribeAvailabilityZones (one zone per registered cluster, with
 * Eucalyptus's `verbose` capacity listing for admins), DescribeInstanceTypes
 * (the admin-changeable instance_types table, in AWS's shape) and
 * DescribeAccountAttributes (EC2-Classic style account limits).
 *
 * Nothing here changes state; admins change clusters and instance types
 * through the admin API (clc/admin.c).  The verbose zone listing asks each
 * cluster for its nodes' free and total capacity at the time of the call.
 */
#include <stdio.h>
#include <string.h>

#include "clc/clc.h"
#include "clc/clusters.h"
#include "common/icall.h"
#include "common/xml.h"

#define DEFAULT_REGION "us-east-1"

static const char *region_name(const struct clc_req *r)
{
    return clc_conf(r, "REGION", DEFAULT_REGION);
}

static int in_list(const char *s, const char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* DescribeRegions */

struct region_row {
    const char *name;
    const char *endpoint;
};

static const char *const region_filters[] = {
    "endpoint", "region-name", "opt-in-status", NULL,
};

static void region_attr(void *p, const char *name, struct clc_values *vals)
{
    const struct region_row *row = p;

    if (strcmp(name, "endpoint") == 0)
        clc_values_add(vals, row->endpoint);
    else if (strcmp(name, "region-name") == 0)
        clc_values_add(vals, row->name);
    else if (strcmp(name, "opt-in-status") == 0)
        clc_values_add(vals, "opt-in-not-required");
}

/* Where clients reach this region: EC2_ENDPOINT from the configuration,
 * else the Host the client used, else the default listener. */
static const char *region_endpoint(const struct clc_req *r)
{
    const char *e = clc_conf(r, "EC2_ENDPOINT", NULL);

    if (e && *e)
        return e;
    if (r->http) {
        e = oc_http_header(r->http, "host");
        if (e && *e)
            return e;
    }
    return "127.0.0.1:8773";
}

static int regions_describe(struct clc_req *r)
{
    const char **names;
    size_t nnames;
    struct clc_filters *filters = NULL;
    struct region_row row = { region_name(r), region_endpoint(r) };
    int all;

    if (clc_param_list(r, "RegionName", &names, &nnames) ||
        clc_param_bool(r, "AllRegions", 0, &all) ||
        clc_filters_parse(r, region_filters, &filters))
        return CLC_FAILED;
    for (size_t i = 0; i < nnames; i++)
        if (strcmp(names[i], row.name) != 0)
            return clc_error(r, "InvalidParameterValue", "Invalid region: [%s]", names[i]);
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "regionInfo");
    if (clc_filters_match(filters, region_attr, &row, NULL)) {
        oc_xmlw_start(r->xml, "item");
        oc_xmlw_elem(r->xml, "regionName", row.name);
        oc_xmlw_elem(r->xml, "regionEndpoint", row.endpoint);
        oc_xmlw_elem(r->xml, "optInStatus", "opt-in-not-required");
        oc_xmlw_end(r->xml);
    }
    oc_xmlw_end(r->xml);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* DescribeAvailabilityZones */

struct zone_row {
    const char *name;          /* cluster name */
    const char *zone;
    const char *host;
    int port;
    const char *state;
    const char *region;
    const char *zone_id;
};

static const char *const zone_filters[] = {
    "zone-name", "zone-id", "state", "region-name", "zone-type", "opt-in-status",
    "group-name", "network-border-group", "message", NULL,
};

static void zone_attr(void *p, const char *name, struct clc_values *vals)
{
    const struct zone_row *z = p;

    if (strcmp(name, "zone-name") == 0)
        clc_values_add(vals, z->zone);
    else if (strcmp(name, "zone-id") == 0)
        clc_values_add(vals, z->zone_id);
    else if (strcmp(name, "state") == 0)
        clc_values_add(vals, z->state);
    else if (strcmp(name, "region-name") == 0 || strcmp(name, "group-name") == 0 ||
             strcmp(name, "network-border-group") == 0)
        clc_values_add(vals, z->region);
    else if (strcmp(name, "zone-type") == 0)
        clc_values_add(vals, "availability-zone");
    else if (strcmp(name, "opt-in-status") == 0)
        clc_values_add(vals, "opt-in-not-required");
    /* message: zones carry no messages, so nothing matches. */
}

/*
 * Zone ids in AWS's form: the region abbreviated ("us-east-1" -> "use1":
 * the first part whole, then the initial of each middle part, then the
 * last part) and "-az" with the zone's position in registration order.
 */
static const char *zone_id_of(struct clc_req *r, const char *region, long n)
{
    char *abbr = oc_arena_alloc(r->arena, strlen(region) + 1);
    const char *first_dash = strchr(region, '-'), *last_dash = strrchr(region, '-');
    size_t k = 0;

    if (!first_dash) {
        strcpy(abbr, region);
    } else {
        memcpy(abbr, region, (size_t)(first_dash - region));
        k = (size_t)(first_dash - region);
        for (const char *p = first_dash; p && p < last_dash; p = strchr(p + 1, '-'))
            if (p[1] && p[1] != '-')
                abbr[k++] = p[1];
        strcpy(abbr + k, last_dash + 1);
    }
    return oc_arena_printf(r->arena, "%s-az%ld", abbr, n);
}

static int zones_load(struct clc_req *r, struct zone_row **out, size_t *n)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db,
                                     "SELECT name, zone, host, state, port FROM clusters "
                                     "ORDER BY created, zone",
                                     &err);
    struct zone_row *rows = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    if (!st)
        return clc_internal(r, &err);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct zone_row *v = oc_arena_calloc(r->arena, ncap, sizeof(*v));

            if (cnt)
                memcpy(v, rows, cnt * sizeof(*v));
            rows = v;
            cap = ncap;
        }
        rows[cnt].name = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 0));
        rows[cnt].zone = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 1));
        rows[cnt].host = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 2));
        rows[cnt].state = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 3));
        rows[cnt].port = sqlite3_column_int(st, 4);
        rows[cnt].region = region_name(r);
        rows[cnt].zone_id = zone_id_of(r, rows[cnt].region, (long)cnt + 1);
        cnt++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list clusters");
        return clc_internal(r, &err);
    }
    *out = rows;
    *n = cnt;
    return CLC_OK;
}

/* What the zone's nodes have: from its CC's ccDescribeNodes, now. */
struct zone_cap {
    size_t n;
    struct {
        unsigned long long cores_free, cores, mem_free, mem, disk_free, disk;
    } *node;
};

static int zone_cap_load(struct clc_req *r, const struct zone_row *z, struct zone_cap *cap)
{
    struct clc_cluster cl = { z->name, oc_arena_printf(r->arena, "http://%s:%d", z->host,
                                                       z->port) };
    struct oc_icall ans;
    struct oc_err err = { 0 };
    xmlNodePtr set, it;
    size_t n = 0;

    memset(cap, 0, sizeof(*cap));
    /* A cluster that does not answer has no capacity to offer (0 / 0). */
    if (clc_cc_call(clc_of(r), &cl, "ccDescribeNodes", NULL, 0, &ans, NULL, &err) != OC_OK)
        return CLC_OK;
    set = oc_xml_child(ans.root, "nodeSet");
    for (it = set ? oc_xml_child(set, "item") : NULL; it; it = oc_xml_next(it, "item"))
        n++;
    cap->node = oc_arena_calloc(r->arena, n ? n : 1, sizeof(*cap->node));
    for (it = set ? oc_xml_child(set, "item") : NULL; it && cap->node;
         it = oc_xml_next(it, "item")) {
        char state[16];

        oc_icall_text(it, "state", state, sizeof(state));
        if (strcmp(state, "up") != 0)
            continue;
        cap->node[cap->n].cores_free = oc_icall_num(it, "coresFree");
        cap->node[cap->n].cores = oc_icall_num(it, "coresTotal");
        cap->node[cap->n].mem_free = oc_icall_num(it, "memoryFreeMiB");
        cap->node[cap->n].mem = oc_icall_num(it, "memoryTotalMiB");
        cap->node[cap->n].disk_free = oc_icall_num(it, "diskFreeGiB");
        cap->node[cap->n].disk = oc_icall_num(it, "diskTotalGiB");
        cap->n++;
    }
    oc_icall_free(&ans);
    return CLC_OK;
}

static unsigned long long fits(unsigned long long cores, unsigned long long mem,
                               unsigned long long disk, long long v, long long m, long long d)
{
    unsigned long long k = v > 0 ? cores / (unsigned long long)v : 0;

    if (m > 0 && mem / (unsigned long long)m < k)
        k = mem / (unsigned long long)m;
    if (d > 0 && disk / (unsigned long long)d < k)
        k = disk / (unsigned long long)d;
    return k;
}

/* Free and total instances of one type in one zone: per node that is up,
 * how many fit in its free and in its whole cores, memory and disk. */
static void zone_type_capacity(const struct zone_cap *cap, long long vcpus, long long mem,
                               long long disk, long long *free_n, long long *max_n)
{
    *free_n = *max_n = 0;
    for (size_t i = 0; i < cap->n; i++) {
        *free_n += (long long)fits(cap->node[i].cores_free, cap->node[i].mem_free,
                                   cap->node[i].disk_free, vcpus, mem, disk);
        *max_n += (long long)fits(cap->node[i].cores, cap->node[i].mem, cap->node[i].disk,
                                  vcpus, mem, disk);
    }
}

static void zone_item(struct clc_req *r, const char *name, const char *state,
                      const char *region)
{
    oc_xmlw_start(r->xml, "item");
    oc_xmlw_elem(r->xml, "zoneName", name);
    oc_xmlw_elem(r->xml, "zoneState", state);
    if (region)
        oc_xmlw_elem(r->xml, "regionName", region);
    oc_xmlw_end(r->xml);
}

/* Eucalyptus's admin listing: the zone, then one line per instance type
 * with its free / max capacity, vCPUs, memory (MiB) and disk (GiB). */
static int zone_write_verbose(struct clc_req *r, const struct zone_row *z)
{
    struct oc_err err = { 0 };
    struct zone_cap cap;
    sqlite3_stmt *st;
    int rc = SQLITE_DONE;

    zone_cap_load(r, z, &cap);
    zone_item(r, z->zone,
              oc_arena_printf(r->arena, "%s arn:euca:eucalyptus:%s:cluster:%s/", z->host,
                              z->zone, z->name),
              z->region);
    zone_item(r, "|- vm types", "free / max   cpu   ram  disk", NULL);
    st = oc_db_prepare(r->db,
                       "SELECT name, vcpus, memory_mib, disk_gib FROM instance_types "
                       "ORDER BY ord, name",
                       &err);
    if (!st)
        return clc_internal(r, &err);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        long long free_n, max_n;

        zone_type_capacity(&cap, sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2),
                           sqlite3_column_int64(st, 3), &free_n, &max_n);
        zone_item(r, oc_arena_printf(r->arena, "|- %s", type),
                  oc_arena_printf(r->arena, "%04lld / %04lld  %2lld   %4lld  %4lld", free_n,
                                  max_n, (long long)sqlite3_column_int64(st, 1),
                                  (long long)sqlite3_column_int64(st, 2),
                                  (long long)sqlite3_column_int64(st, 3)),
                  NULL);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list instance types");
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

static void zone_write(struct clc_req *r, const struct zone_row *z)
{
    oc_xmlw_start(r->xml, "item");
    oc_xmlw_elem(r->xml, "zoneName", z->zone);
    oc_xmlw_elem(r->xml, "zoneState", z->state);
    oc_xmlw_elem(r->xml, "regionName", z->region);
    oc_xmlw_start(r->xml, "messageSet");
    oc_xmlw_end(r->xml);
    oc_xmlw_elem(r->xml, "optInStatus", "opt-in-not-required");
    oc_xmlw_elem(r->xml, "zoneId", z->zone_id);
    oc_xmlw_elem(r->xml, "groupName", z->region);
    oc_xmlw_elem(r->xml, "networkBorderGroup", z->region);
    oc_xmlw_elem(r->xml, "zoneType", "availability-zone");
    oc_xmlw_end(r->xml);
}

static int zones_describe(struct clc_req *r)
{
    const char **names, **ids;
    size_t nnames = 0, nids = 0, nzones = 0;
    struct clc_filters *filters = NULL;
    struct zone_row *zones = NULL;
    int all, verbose;

    if (clc_param_list(r, "ZoneName", &names, &nnames) ||
        clc_param_list(r, "ZoneId", &ids, &nids) ||
        clc_param_bool(r, "AllAvailabilityZones", 0, &all) ||
        clc_filters_parse(r, zone_filters, &filters) || zones_load(r, &zones, &nzones))
        return CLC_FAILED;
    /* `ZoneName.1=verbose` is Eucalyptus's admin listing; for everyone
     * else it is just a zone that does not exist, as on AWS. */
    verbose = nnames > 0 && strcmp(names[0], "verbose") == 0 && clc_is_admin(r);
    if (verbose) {
        names++;
        nnames--;
    }
    for (size_t i = 0; i < nnames; i++) {
        int found = 0;

        for (size_t z = 0; z < nzones && !found; z++)
            found = strcmp(zones[z].zone, names[i]) == 0;
        if (!found)
            return clc_error(r, "InvalidParameterValue", "Invalid availability zone: [%s]",
                             names[i]);
    }
    for (size_t i = 0; i < nids; i++) {
        int found = 0;

        for (size_t z = 0; z < nzones && !found; z++)
            found = strcmp(zones[z].zone_id, ids[i]) == 0;
        if (!found)
            return clc_error(r, "InvalidParameterValue", "Invalid availability zone: [%s]",
                             ids[i]);
    }
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "availabilityZoneInfo");
    for (size_t z = 0; z < nzones; z++) {
        const struct zone_row *zr = &zones[z];

        if ((nnames || nids) && !in_list(zr->zone, names, nnames) &&
            !in_list(zr->zone_id, ids, nids))
            continue;
        if (!clc_filters_match(filters, zone_attr, (void *)zr, NULL))
            continue;
        if (!verbose)
            zone_write(r, zr);
        else if (zone_write_verbose(r, zr))
            return CLC_FAILED;
    }
    oc_xmlw_end(r->xml);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* DescribeInstanceTypes */

struct itype_row {
    const char *name;
    long long vcpus, memory_mib, disk_gib;
    int current, free_tier;
};

static const char *const itype_filters[] = {
    "instance-type",
    "current-generation",
    "free-tier-eligible",
    "bare-metal",
    "hypervisor",
    "burstable-performance-supported",
    "vcpu-info.default-vcpus",
    "vcpu-info.default-cores",
    "vcpu-info.default-threads-per-core",
    "memory-info.size-in-mib",
    "instance-storage-supported",
    "instance-storage-info.total-size-in-gb",
    "instance-storage-info.disk.count",
    "instance-storage-info.disk.size-in-gb",
    "instance-storage-info.disk.type",
    "processor-info.supported-architecture",
    "supported-root-device-type",
    "supported-usage-class",
    "supported-virtualization-type",
    "network-info.ipv6-supported",
    NULL,
};

#define ITYPE_HYPERVISOR "kvm"

/* Families AWS lists as previous generation; every other is current. */
static int itype_current(const char *name)
{
    static const char *const previous[] = {
        "t1", "m1", "m2", "m3", "c1", "c3", "cc1", "cc2", "cg1", "cr1", "hi1", "hs1",
        "g2", "i2", "r3", NULL,
    };
    const char *dot = strchr(name, '.');
    size_t flen = dot ? (size_t)(dot - name) : strlen(name);

    for (size_t i = 0; previous[i]; i++)
        if (strlen(previous[i]) == flen && strncmp(previous[i], name, flen) == 0)
            return 0;
    return 1;
}

static void itype_attr(void *p, const char *name, struct clc_values *vals)
{
    const struct itype_row *t = p;

    if (strcmp(name, "instance-type") == 0)
        clc_values_add(vals, t->name);
    else if (strcmp(name, "current-generation") == 0)
        clc_values_add(vals, t->current ? "true" : "false");
    else if (strcmp(name, "free-tier-eligible") == 0)
        clc_values_add(vals, t->free_tier ? "true" : "false");
    else if (strcmp(name, "bare-metal") == 0 || strcmp(name, "network-info.ipv6-supported") == 0 ||
             strcmp(name, "burstable-performance-supported") == 0)
        clc_values_add(vals, "false");
    else if (strcmp(name, "hypervisor") == 0)
        clc_values_add(vals, ITYPE_HYPERVISOR);
    else if (strcmp(name, "vcpu-info.default-vcpus") == 0 ||
             strcmp(name, "vcpu-info.default-cores") == 0)
        clc_values_addf(vals, "%lld", t->vcpus);
    else if (strcmp(name, "vcpu-info.default-threads-per-core") == 0)
        clc_values_add(vals, "1");
    else if (strcmp(name, "memory-info.size-in-mib") == 0)
        clc_values_addf(vals, "%lld", t->memory_mib);
    else if (strcmp(name, "instance-storage-supported") == 0)
        clc_values_add(vals, t->disk_gib > 0 ? "true" : "false");
    else if (strcmp(name, "instance-storage-info.total-size-in-gb") == 0 ||
             strcmp(name, "instance-storage-info.disk.size-in-gb") == 0)
        clc_values_addf(vals, "%lld", t->disk_gib);
    else if (strcmp(name, "instance-storage-info.disk.count") == 0)
        clc_values_add(vals, "1");
    else if (strcmp(name, "instance-storage-info.disk.type") == 0)
        clc_values_add(vals, "hdd");
    else if (strcmp(name, "processor-info.supported-architecture") == 0) {
        clc_values_add(vals, "i386");
        clc_values_add(vals, "x86_64");
    } else if (strcmp(name, "supported-root-device-type") == 0)
        clc_values_add(vals, "instance-store");
    else if (strcmp(name, "supported-usage-class") == 0)
        clc_values_add(vals, "on-demand");
    else if (strcmp(name, "supported-virtualization-type") == 0) {
        clc_values_add(vals, "hvm");
        clc_values_add(vals, "paravirtual");
    }
}

static void list_elem(struct clc_req *r, const char *name, const char *const *items)
{
    oc_xmlw_start(r->xml, name);
    for (size_t i = 0; items[i]; i++)
        oc_xmlw_elem(r->xml, "item", items[i]);
    oc_xmlw_end(r->xml);
}

static void itype_write(struct clc_req *r, const struct itype_row *t)
{
    static const char *const usage[] = { "on-demand", NULL };
    static const char *const roots[] = { "instance-store", NULL };
    static const char *const virt[] = { "hvm", "paravirtual", NULL };
    static const char *const arch[] = { "i386", "x86_64", NULL };
    struct oc_xmlw *w = r->xml;

    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "instanceType", t->name);
    oc_xmlw_elem(w, "currentGeneration", t->current ? "true" : "false");
    oc_xmlw_elem(w, "freeTierEligible", t->free_tier ? "true" : "false");
    list_elem(r, "supportedUsageClasses", usage);
    list_elem(r, "supportedRootDeviceTypes", roots);
    list_elem(r, "supportedVirtualizationTypes", virt);
    oc_xmlw_elem(w, "bareMetal", "false");
    oc_xmlw_elem(w, "hypervisor", ITYPE_HYPERVISOR);
    oc_xmlw_start(w, "processorInfo");
    list_elem(r, "supportedArchitectures", arch);
    oc_xmlw_end(w);
    oc_xmlw_start(w, "vCpuInfo");
    oc_xmlw_elemf(w, "defaultVCpus", "%lld", t->vcpus);
    oc_xmlw_elemf(w, "defaultCores", "%lld", t->vcpus);
    oc_xmlw_elem(w, "defaultThreadsPerCore", "1");
    oc_xmlw_end(w);
    oc_xmlw_start(w, "memoryInfo");
    oc_xmlw_elemf(w, "sizeInMiB", "%lld", t->memory_mib);
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "instanceStorageSupported", t->disk_gib > 0 ? "true" : "false");
    if (t->disk_gib > 0) {
        oc_xmlw_start(w, "instanceStorageInfo");
        oc_xmlw_elemf(w, "totalSizeInGB", "%lld", t->disk_gib);
        oc_xmlw_start(w, "disks");
        oc_xmlw_start(w, "item");
        oc_xmlw_elemf(w, "sizeInGB", "%lld", t->disk_gib);
        oc_xmlw_elem(w, "count", "1");
        oc_xmlw_elem(w, "type", "hdd");
        oc_xmlw_end(w);
        oc_xmlw_end(w);
        oc_xmlw_end(w);
    }
    oc_xmlw_start(w, "ebsInfo");
    oc_xmlw_elem(w, "ebsOptimizedSupport", "unsupported");
    oc_xmlw_elem(w, "encryptionSupport", "unsupported");
    oc_xmlw_end(w);
    oc_xmlw_start(w, "networkInfo");
    oc_xmlw_elem(w, "networkPerformance", "Low to Moderate");
    oc_xmlw_elem(w, "maximumNetworkInterfaces", "1");
    oc_xmlw_elem(w, "ipv4AddressesPerInterface", "1");
    oc_xmlw_elem(w, "ipv6AddressesPerInterface", "0");
    oc_xmlw_elem(w, "ipv6Supported", "false");
    oc_xmlw_elem(w, "enaSupport", "unsupported");
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "hibernationSupported", "false");
    oc_xmlw_elem(w, "burstablePerformanceSupported", "false");
    oc_xmlw_elem(w, "dedicatedHostsSupported", "false");
    oc_xmlw_elem(w, "autoRecoverySupported", "false");
    oc_xmlw_end(w);
}

/* Whether every named type exists; InvalidInstanceType lists those that
 * do not, as EC2 does. */
static int itypes_check(struct clc_req *r, const char **names, size_t n)
{
    struct oc_err err = { 0 };
    const char *missing = NULL;

    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *st = oc_db_prepare(r->db, "SELECT 1 FROM instance_types WHERE name = ?",
                                         &err);
        int rc;

        if (!st)
            return clc_internal(r, &err);
        sqlite3_bind_text(st, 1, names[i], -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            missing = missing ? oc_arena_printf(r->arena, "%s, %s", missing, names[i])
                              : names[i];
        else if (rc != SQLITE_ROW) {
            oc_db_fail(r->db, &err, "look up an instance type");
            return clc_internal(r, &err);
        }
    }
    if (missing)
        return clc_error(r, "InvalidInstanceType",
                         "The following supplied instance types do not exist: [%s]", missing);
    return CLC_OK;
}

static int itypes_describe(struct clc_req *r)
{
    const char **names;
    size_t nnames;
    struct clc_filters *filters = NULL;
    struct clc_page page;
    struct oc_err err = { 0 };
    const char *last = NULL;
    sqlite3_stmt *st;
    long long shown = 0;
    int rc, more = 0;

    if (clc_param_list(r, "InstanceType", &names, &nnames) ||
        clc_filters_parse(r, itype_filters, &filters) ||
        clc_page_parse(r, 5, 100, 0, &page) || itypes_check(r, names, nnames))
        return CLC_FAILED;
    if (page.limited && page.after)
        st = oc_db_prepare(r->db,
                           "SELECT name, vcpus, memory_mib, disk_gib FROM instance_types "
                           "WHERE name > ? ORDER BY name",
                           &err);
    else
        st = oc_db_prepare(r->db,
                           "SELECT name, vcpus, memory_mib, disk_gib FROM instance_types "
                           "ORDER BY name",
                           &err);
    if (!st)
        return clc_internal(r, &err);
    if (page.limited && page.after)
        sqlite3_bind_text(st, 1, page.after, -1, SQLITE_TRANSIENT);
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "instanceTypeSet");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct itype_row t;

        t.name = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 0));
        t.vcpus = sqlite3_column_int64(st, 1);
        t.memory_mib = sqlite3_column_int64(st, 2);
        t.disk_gib = sqlite3_column_int64(st, 3);
        t.current = itype_current(t.name);
        t.free_tier = strcmp(t.name, "t2.micro") == 0 || strcmp(t.name, "t1.micro") == 0;
        if (nnames && !in_list(t.name, names, nnames))
            continue;
        if (!clc_filters_match(filters, itype_attr, &t, NULL))
            continue;
        if (page.limited && shown == page.max) {
            more = 1;
            break;
        }
        itype_write(r, &t);
        last = t.name;
        shown++;
    }
    sqlite3_reset(st);
    if (!more && rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list instance types");
        return clc_internal(r, &err);
    }
    oc_xmlw_end(r->xml);
    if (more)
        clc_page_next(r, last);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* DescribeAccountAttributes */

struct account_attr {
    const char *name;
    const char *conf_key;      /* NULL: fixed value */
    const char *value;         /* fixed value or configuration default */
};

/* EC2-Classic style: no default VPC, the platform is EC2. */
static const struct account_attr account_attrs[] = {
    { "supported-platforms", NULL, "EC2" },
    { "default-vpc", NULL, "none" },
    { "max-instances", "MAX_INSTANCES_PER_ACCOUNT", "20" },
    { "vpc-max-security-groups-per-interface", NULL, "5" },
    { "max-elastic-ips", "MAX_ELASTIC_IPS_PER_ACCOUNT", "5" },
    { "vpc-max-elastic-ips", "MAX_ELASTIC_IPS_PER_ACCOUNT", "5" },
};

#define N_ACCOUNT_ATTRS (sizeof(account_attrs) / sizeof(account_attrs[0]))

static int account_attrs_describe(struct clc_req *r)
{
    const char **names;
    size_t nnames;

    if (clc_param_list(r, "AttributeName", &names, &nnames))
        return CLC_FAILED;
    for (size_t i = 0; i < nnames; i++) {
        int found = 0;

        for (size_t k = 0; k < N_ACCOUNT_ATTRS && !found; k++)
            found = strcmp(account_attrs[k].name, names[i]) == 0;
        if (!found)
            return clc_error(r, "InvalidParameterValue",
                             "Value (%s) for parameter attributeName is invalid. Unknown "
                             "attribute name.", names[i]);
    }
    clc_reply_begin(r);
    oc_xmlw_start(r->xml, "accountAttributeSet");
    for (size_t k = 0; k < N_ACCOUNT_ATTRS; k++) {
        const struct account_attr *a = &account_attrs[k];

        if (nnames && !in_list(a->name, names, nnames))
            continue;
        oc_xmlw_start(r->xml, "item");
        oc_xmlw_elem(r->xml, "attributeName", a->name);
        oc_xmlw_start(r->xml, "attributeValueSet");
        oc_xmlw_start(r->xml, "item");
        oc_xmlw_elem(r->xml, "attributeValue",
                     a->conf_key ? clc_conf(r, a->conf_key, a->value) : a->value);
        oc_xmlw_end(r->xml);
        oc_xmlw_end(r->xml);
        oc_xmlw_end(r->xml);
    }
    oc_xmlw_end(r->xml);
    return CLC_OK;
}

/* DescribeRegions answers with the Host the client used, and the verbose
 * zone listing will carry the clusters' live capacity: neither is a
 * function of clc.db alone, so neither is CLC_ACTION_CACHEABLE. */
const struct clc_action clc_ec2_misc_actions[] = {
    { "DescribeRegions", regions_describe, 0 },
    /* The verbose listing asks the clusters for their nodes' capacity. */
    { "DescribeAvailabilityZones", zones_describe, CLC_ACTION_CALLS_OUT },
    { "DescribeInstanceTypes", itypes_describe, CLC_ACTION_CACHEABLE },
    { "DescribeAccountAttributes", account_attrs_describe, CLC_ACTION_CACHEABLE },
    { NULL, NULL, 0 },
};
