/*
 * clusters.h - the registry of cluster controllers: one per availability
 * zone (table `clusters` in clc.db).  DescribeAvailabilityZones lists it;
 * placement and the cc* calls (later issues) read it.  Registration today
 * is `overcast-clc register-cluster`; the admin API (RegisterService) will
 * call the same function.
 */
#ifndef CLC_CLUSTERS_H
#define CLC_CLUSTERS_H

#include "common/db.h"
#include "common/err.h"

/* Registers (or updates the address of) the cluster serving zone. */
int clc_cluster_register(struct oc_db *db, const char *zone, const char *host, int port,
                         struct oc_err *err) OC_WUR;
/* OC_ENOTFOUND when no such cluster is registered. */
int clc_cluster_deregister(struct oc_db *db, const char *zone, struct oc_err *err) OC_WUR;

#endif
