/*
 * addresses.c - elastic IPs, EC2-Classic style (by PublicIp) with
 * allocation and association ids as well.
 *
 * The addresses are the clusters' (VNET_PUBLICIPS of each CC, listed by
 * ccDescribeNetworks); clc.db records which account holds which
 * (`addresses`) and which instance it is associated with.  An address
 * belongs to the cluster it came from and can be associated only with an
 * instance of that cluster.  The CC makes an association real (DNAT and
 * SNAT, docs/cc.md) before clc.db records it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clc/instances.h"
#include "common/ids.h"
#include "common/log.h"
#include "common/xml.h"

struct addr_row {
    const char *ip, *alloc, *account, *cluster, *instance, *assoc;
};

static void addr_fill(struct oc_arena *a, sqlite3_stmt *st, void *row)
{
    struct addr_row *ad = row;

    ad->ip = clc_col_text(a, st, 0);
    ad->alloc = clc_col_text(a, st, 1);
    ad->account = clc_col_text(a, st, 2);
    ad->cluster = clc_col_text(a, st, 3);
    ad->instance = clc_col_text(a, st, 4);
    ad->assoc = clc_col_text(a, st, 5);
}

#define ADDR_COLS "public_ip, allocation_id, account_id, cluster, instance_id, association_id"

/* The caller's address named by PublicIp or AllocationId (one of them). */
static int addr_named(struct clc_req *r, struct addr_row *out)
{
    const char *ip = clc_param(r, "PublicIp"), *alloc = clc_param(r, "AllocationId");
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    int rc;

    if ((!ip || !*ip) && (!alloc || !*alloc))
        return clc_error(r, "MissingParameter",
                         "Either public IP or allocation id must be specified");
    st = oc_db_prepare(r->db, "SELECT " ADDR_COLS " FROM addresses WHERE account_id = ?1 AND"
                              " (public_ip = ?2 OR allocation_id = ?3)", &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ip ? ip : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, alloc ? alloc : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        addr_fill(r->arena, st, out);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return CLC_OK;
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "find address");
        return clc_internal(r, &err);
    }
    if (alloc && *alloc)
        return clc_error(r, "InvalidAllocationID.NotFound",
                         "The allocation ID '%s' does not exist", alloc);
    return clc_error(r, "AuthFailure", "The address '%s' does not belong to you.", ip);
}

/* ccAssignAddress / ccUnassignAddress on the address's cluster. */
static int cc_address(struct clc_req *r, const struct addr_row *ad, const char *instance,
                      struct oc_err *err)
{
    struct clc_cluster cl;
    struct oc_icall res;
    struct oc_kv p[2] = { { "PublicIp", ad->ip, 1 }, { "InstanceId", instance, 1 } };
    char code[64];
    int rc = clc_cluster_get(r->db, r->arena, ad->cluster, &cl, err);

    if (rc)
        return rc;
    rc = clc_cc_call(r->clc, &cl, instance ? "ccAssignAddress" : "ccUnassignAddress", p,
                     instance ? 2 : 1, &res, code, err);
    /* Unassigning what the CC no longer has is done already. */
    if (rc && !instance && strcmp(code, "InvalidAddress.NotFound") == 0)
        return OC_OK;
    if (rc == OC_OK)
        oc_icall_free(&res);
    return rc;
}

static int set_association(struct clc_req *r, const char *ip, const char *instance,
                           const char *assoc)
{
    struct oc_err err = { 0 };
    int rc = oc_db_begin(r->db, &err);

    /* One address per instance: another one of its is let go (the CC
     * replaced it). */
    if (rc == OC_OK && *instance)
        rc = oc_db_run(r->db, "UPDATE addresses SET instance_id = '', association_id = ''"
                              " WHERE instance_id = ?1 AND public_ip <> ?2",
                       NULL, &err, "ss", instance, ip);
    if (rc == OC_OK)
        rc = oc_db_run(r->db, "UPDATE addresses SET instance_id = ?2, association_id = ?3"
                              " WHERE public_ip = ?1",
                       NULL, &err, "sss", ip, instance, assoc);
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

/* ------------------------------------------------------------------ */

/* The first address of a cluster's range nobody holds. */
static int free_address(struct clc_req *r, const struct clc_cluster *cl, char *ip, size_t cap,
                        struct oc_err *err)
{
    struct oc_icall res;
    xmlNodePtr set, it;
    int rc = clc_cc_call(r->clc, cl, "ccDescribeNetworks", NULL, 0, &res, NULL, err);

    ip[0] = '\0';
    if (rc)
        return rc;
    set = oc_xml_child(res.root, "addressSet");
    for (it = set ? oc_xml_child(set, "item") : NULL; it && !ip[0];
         it = oc_xml_next(it, "item")) {
        char cand[64];
        sqlite3_stmt *st;
        int taken;

        oc_icall_text(it, "publicIp", cand, sizeof(cand));
        if (!cand[0])
            continue;
        st = oc_db_prepare(r->db, "SELECT 1 FROM addresses WHERE public_ip = ?", err);
        if (!st) {
            oc_icall_free(&res);
            return OC_EDB;
        }
        sqlite3_bind_text(st, 1, cand, -1, SQLITE_TRANSIENT);
        taken = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_reset(st);
        if (!taken)
            snprintf(ip, cap, "%s", cand);
    }
    oc_icall_free(&res);
    return OC_OK;
}

static int allocate_address(struct clc_req *r)
{
    const char *domain = clc_param(r, "Domain");
    struct clc_cluster *cls;
    size_t ncl;
    struct oc_err err = { 0 };
    char ip[64], alloc[32];

    if (domain && *domain && strcmp(domain, "standard") != 0 && strcmp(domain, "vpc") != 0)
        return clc_error(r, "InvalidParameterValue", "Invalid value '%s' for domain.", domain);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (clc_clusters_list(r->db, r->arena, &cls, &ncl, &err))
        return clc_internal(r, &err);
    for (size_t c = 0; c < ncl; c++) {
        /* Two callers may pick the same address: the primary key decides,
         * and the loser tries the next free one. */
        for (int attempt = 0; attempt < 8; attempt++) {
            int rc;

            if (free_address(r, &cls[c], ip, sizeof(ip), &err)) {
                oc_log(OC_LOG_WARN, "AllocateAddress: %s", err.msg);
                break;
            }
            if (!ip[0])
                break;
            oc_resource_id("eipalloc", alloc);
            rc = oc_db_run(r->db, "INSERT INTO addresses (public_ip, allocation_id, account_id,"
                                  " cluster, created) VALUES (?, ?, ?, ?, ?)",
                           NULL, &err, "ssssi", ip, alloc, r->who.account_id, cls[c].name,
                           (long long)r->now);
            if (rc == OC_EEXIST)
                continue;
            if (rc)
                return clc_internal(r, &err);
            clc_reply_begin(r);
            oc_xmlw_elem(r->xml, "publicIp", ip);
            oc_xmlw_elem(r->xml, "domain", "standard");
            oc_xmlw_elem(r->xml, "allocationId", alloc);
            return CLC_OK;
        }
    }
    return clc_error(r, "AddressLimitExceeded",
                     "Too many addresses allocated: no cluster has a free public address");
}

static int release_address(struct clc_req *r)
{
    struct addr_row ad;
    struct oc_err err = { 0 };

    if (addr_named(r, &ad) || clc_dry_run(r))
        return CLC_FAILED;
    /* EC2-Classic releases an associated address after disassociating it. */
    if (*ad.instance && cc_address(r, &ad, NULL, &err))
        return clc_error(r, "Unavailable", "%s", err.msg);
    if (oc_db_run(r->db, "DELETE FROM addresses WHERE public_ip = ?", NULL, &err, "s", ad.ip))
        return clc_internal(r, &err);
    return clc_reply_return_true(r);
}

static int associate_address(struct clc_req *r)
{
    struct addr_row ad;
    struct clc_instance in;
    const char *iid;
    struct oc_err err = { 0 };
    char assoc[32];
    int rc;

    if (addr_named(r, &ad) || clc_param_required(r, "InstanceId", &iid))
        return CLC_FAILED;
    rc = clc_instance_load(r->db, r->arena, iid, &in, &err);
    if (rc == OC_ENOTFOUND || (rc == OC_OK && strcmp(in.account_id, r->who.account_id) != 0))
        return clc_error(r, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
                         iid);
    if (rc)
        return clc_internal(r, &err);
    if (strcmp(in.state, "running") != 0 && strcmp(in.state, "pending") != 0)
        return clc_error(r, "IncorrectInstanceState",
                         "The instance '%s' is not in a valid state for this operation.", iid);
    if (strcmp(in.cluster, ad.cluster) != 0)
        return clc_error(r, "InvalidParameterCombination",
                         "The address %s belongs to zone %s and the instance %s runs in %s",
                         ad.ip, ad.cluster, iid, in.cluster);
    if (clc_dry_run(r))
        return CLC_FAILED;
    /* EC2-Classic moves an associated address to the new instance. */
    if (*ad.instance && strcmp(ad.instance, iid) != 0 && cc_address(r, &ad, NULL, &err))
        return clc_error(r, "Unavailable", "%s", err.msg);
    if (cc_address(r, &ad, iid, &err))
        return clc_error(r, err.code == OC_EIO ? "Unavailable" : "InvalidParameterValue", "%s",
                         err.msg);
    oc_resource_id("eipassoc", assoc);
    if (set_association(r, ad.ip, iid, assoc))
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "return", "true");
    oc_xmlw_elem(r->xml, "associationId", assoc);
    return CLC_OK;
}

static int disassociate_address(struct clc_req *r)
{
    const char *ip = clc_param(r, "PublicIp"), *assoc = clc_param(r, "AssociationId");
    struct addr_row ad;
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    int rc;

    if ((!ip || !*ip) && (!assoc || !*assoc))
        return clc_error(r, "MissingParameter",
                         "Either public IP or association id must be specified");
    st = oc_db_prepare(r->db, "SELECT " ADDR_COLS " FROM addresses WHERE account_id = ?1 AND"
                              " (public_ip = ?2 OR (association_id = ?3 AND ?3 <> ''))", &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ip ? ip : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, assoc ? assoc : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        addr_fill(r->arena, st, &ad);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return assoc && *assoc ? clc_error(r, "InvalidAssociationID.NotFound",
                                           "The association ID '%s' does not exist", assoc)
                               : clc_error(r, "AuthFailure",
                                           "The address '%s' does not belong to you.", ip);
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (*ad.instance) {
        if (cc_address(r, &ad, NULL, &err))
            return clc_error(r, "Unavailable", "%s", err.msg);
        if (set_association(r, ad.ip, "", ""))
            return CLC_FAILED;
    }
    return clc_reply_return_true(r);
}

/* ------------------------------------------------------------------ */
/* DescribeAddresses */

static const char *const addr_filter_names[] = {
    "public-ip", "allocation-id", "association-id", "instance-id", "domain", NULL,
};

struct addr_ctx {
    const char **ips, **allocs;
    size_t nips, nallocs;
};

static void addr_attr(void *row, const char *name, struct clc_values *vals)
{
    struct addr_row *ad = row;

    if (strcmp(name, "public-ip") == 0)
        clc_values_add(vals, ad->ip);
    else if (strcmp(name, "allocation-id") == 0)
        clc_values_add(vals, ad->alloc);
    else if (strcmp(name, "association-id") == 0)
        clc_values_add(vals, ad->assoc);
    else if (strcmp(name, "instance-id") == 0)
        clc_values_add(vals, ad->instance);
    else if (strcmp(name, "domain") == 0)
        clc_values_add(vals, "standard");
}

static const char *addr_id(const void *row)
{
    return ((const struct addr_row *)row)->alloc;
}

static int addr_keep(struct clc_req *r, const void *row, void *ctx)
{
    const struct addr_row *ad = row;
    const struct addr_ctx *ac = ctx;

    (void)r;
    if (!ac->nips && !ac->nallocs)
        return 1;
    return clc_in_list(ad->ip, ac->ips, ac->nips) ||
           clc_in_list(ad->alloc, ac->allocs, ac->nallocs);
}

static void addr_write(struct clc_req *r, const void *row, const struct clc_tagset *tags,
                       void *ctx)
{
    const struct addr_row *ad = row;

    (void)ctx;
    oc_xmlw_start(r->xml, "item");
    oc_xmlw_elem(r->xml, "publicIp", ad->ip);
    oc_xmlw_elem(r->xml, "allocationId", ad->alloc);
    oc_xmlw_elem(r->xml, "domain", "standard");
    if (*ad->instance) {
        oc_xmlw_elem(r->xml, "instanceId", ad->instance);
        oc_xmlw_elem(r->xml, "associationId", ad->assoc);
    }
    clc_tags_write(r, tags);
    oc_xmlw_end(r->xml);
}

static int describe_addresses(struct clc_req *r)
{
    struct addr_ctx ac = { 0 };
    struct clc_filters *filters = NULL;
    struct addr_row *rows = NULL;
    size_t nrows = 0;
    struct clc_describe d = {
        .set_name = "addressesSet", .tag_type = "elastic-ip", .row_size = sizeof(*rows),
        .id = addr_id, .keep = addr_keep, .attr = addr_attr, .write = addr_write,
    };

    if (clc_param_list(r, "PublicIp", &ac.ips, &ac.nips) ||
        clc_param_list(r, "AllocationId", &ac.allocs, &ac.nallocs) ||
        clc_filters_parse(r, addr_filter_names, &filters))
        return CLC_FAILED;
    if (clc_describe_rows(r, "SELECT " ADDR_COLS " FROM addresses WHERE account_id = ?1"
                             " ORDER BY allocation_id",
                          NULL, addr_fill, sizeof(*rows), (void **)&rows, &nrows))
        return CLC_FAILED;
    for (size_t k = 0; k < ac.nips + ac.nallocs; k++) {
        const char *want = k < ac.nips ? ac.ips[k] : ac.allocs[k - ac.nips];
        size_t j = 0;

        while (j < nrows && strcmp(k < ac.nips ? rows[j].ip : rows[j].alloc, want) != 0)
            j++;
        if (j == nrows)
            return k < ac.nips
                       ? clc_error(r, "InvalidAddress.NotFound",
                                   "Address '%s' not found.", want)
                       : clc_error(r, "InvalidAllocationID.NotFound",
                                   "The allocation ID '%s' does not exist", want);
    }
    d.rows = rows;
    d.nrows = nrows;
    d.filters = filters;
    return clc_describe_run(r, &d, &ac);
}

const struct clc_action clc_address_actions[] = {
    { "AllocateAddress", allocate_address, CLC_ACTION_CALLS_OUT },
    { "ReleaseAddress", release_address, CLC_ACTION_CALLS_OUT },
    { "AssociateAddress", associate_address, CLC_ACTION_CALLS_OUT },
    { "DisassociateAddress", disassociate_address, CLC_ACTION_CALLS_OUT },
    { "DescribeAddresses", describe_addresses, CLC_ACTION_CACHEABLE },
    { NULL, NULL, 0 },
};
