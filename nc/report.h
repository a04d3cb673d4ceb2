/*
 * report.h - the node's instance state changes to its cluster controller:
 * Action=ccNodeEvent, signed with the node's key (docs/nc.md), through
 * common/report.c (queued, ordered, retried while the CC is away).
 */
#ifndef NC_REPORT_H
#define NC_REPORT_H

#include "common/err.h"
#include "common/report.h"
#include "nc/nc.h"

/* cc_url NULL or "": changes are only counted (a node without a CC yet). */
int nc_report_new(const char *cc_url, const char *access_key_id, const char *secret,
                  const char *region, const char *node_name, struct oc_report **out,
                  struct oc_err *err) OC_WUR;
/* node.c's report function (ctx = struct oc_report). */
void nc_report_change(void *ctx, const struct nc_instance *snapshot);

#endif
