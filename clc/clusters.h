/*
 * clusters.h - the registry of cluster controllers: one per availability
 * zone (table `clusters` in clc.db).  DescribeAvailabilityZones lists it;
 * placement and the cc* calls (later issues) read it.  Registration today
 * is `overcast-clc register-cluster`; the admin API (RegisterService) will
 * call the same function.
 */
#ifndef CLC_CLUSTERS_H
#define CLC_CLUSTERS_H

#include <stddef.h>

#include "common/arena.h"
#include "common/db.h"
#include "common/err.h"
#include "common/icall.h"

struct clc;

/* The internal API version the CLC speaks to its clusters (docs/cc.md). */
#define CLC_CC_VERSION "2026-11-01"

/* Registers (or updates the address of) the cluster serving zone. */
int clc_cluster_register(struct oc_db *db, const char *zone, const char *host, int port,
                         struct oc_err *err) OC_WUR;
/* OC_ENOTFOUND when no such cluster is registered. */
int clc_cluster_deregister(struct oc_db *db, const char *zone, struct oc_err *err) OC_WUR;


/* A registered cluster: its name (= its zone) and where its CC answers. */
struct clc_cluster {
    const char *name;
    const char *endpoint;         /* "http://host:port" */
};
/* Every registered cluster, by name. */
int clc_clusters_list(struct oc_db *db, struct oc_arena *a, struct clc_cluster **out,
                      size_t *n, struct oc_err *err) OC_WUR;
/* One cluster by name; OC_ENOTFOUND when none serves it. */
int clc_cluster_get(struct oc_db *db, struct oc_arena *a, const char *name,
                    struct clc_cluster *out, struct oc_err *err) OC_WUR;

/*
 * One cc* call to a cluster, signed with the CLC's key.  OC_OK only for a
 * 2xx answer (out holds it; free with oc_icall_free); otherwise code (64
 * bytes, may be NULL) receives the CC's AWS code ("" when the CC could not
 * be reached: OC_EIO) and err the whole story.
 */
int clc_cc_call(struct clc *c, const struct clc_cluster *cl, const char *action,
                const struct oc_kv *p, size_t n, struct oc_icall *out, char *code,
                struct oc_err *err) OC_WUR;

#endif
