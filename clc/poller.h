/*
 * poller.h - the CLC's reconciliation loop (clc/poller.c).
 *
 * Events from the clusters (clc/events.c) keep clc.db current; this loop
 * is the safety net.  Every CLC_POLL_INTERVAL seconds, for every
 * registered cluster, it asks ccDescribeInstances and:
 *   - records each instance's state, node, node health and address as
 *     the cluster reports them (a lost event is repaired here);
 *   - an instance clc.db wants gone (shutting-down) that the cluster
 *     still runs is terminated again;
 *   - an instance clc.db holds as live that the cluster does not know,
 *     past CLC_LAUNCH_GRACE seconds after its launch, is recorded
 *     terminated with the reason (nothing is silently dropped);
 *   - an instance the cluster runs that clc.db does not know (a
 *     RunInstances whose answer was lost) is terminated;
 *   - the groups of a cluster that missed a rule change are pushed again.
 * Terminated instances older than CLC_TERMINATED_KEEP seconds are deleted.
 */
#ifndef CLC_POLLER_H
#define CLC_POLLER_H

#include "common/err.h"

struct clc;
struct clc_poller;

int clc_poller_start(struct clc *c, struct oc_err *err) OC_WUR;
void clc_poller_stop(struct clc_poller *p);
/* Called by clc_poller_start / stop (the service owns the poller). */
void clc_set_poller(struct clc *c, struct clc_poller *p);
struct clc_poller *clc_poller_of(struct clc *c);
/* A cluster missed a rule change: the next round pushes its groups. */
void clc_poller_net_dirty(struct clc *c, const char *cluster);
/* One round now (tests, and after RunInstances' lost answers). */
void clc_poller_round(struct clc *c);

#endif
