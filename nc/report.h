/*
 * report.h - pushing instance state changes to the cluster controller as
 * they happen: Action=ccNodeEvent, signed with the node's key (docs/nc.md).
 *
 * Changes queue in order and a thread sends them; when the CC cannot be
 * reached they wait (the oldest are dropped past a bound) and sending
 * resumes when it answers.  Nothing depends on every event arriving: the
 * CC's periodic ncDescribeInstances repairs what was missed.
 */
#ifndef NC_REPORT_H
#define NC_REPORT_H

#include "common/err.h"
#include "nc/nc.h"

#define NC_REPORT_QUEUE_MAX 4096

struct nc_report;

/* cc_url NULL or "": changes are only counted (a node without a CC yet). */
int nc_report_new(const char *cc_url, const char *access_key_id, const char *secret,
                  const char *region, const char *node_name, struct nc_report **out,
                  struct oc_err *err) OC_WUR;
void nc_report_free(struct nc_report *r);
/* node.c's report function (ctx = struct nc_report). */
void nc_report_change(void *ctx, const struct nc_instance *snapshot);

#endif
