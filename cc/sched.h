/*
 * sched.h - choosing a node for an instance, as Eucalyptus's cluster
 * controller did (SCHEDPOLICY in overcast.conf):
 *   GREEDY      the first node (in registration order) that fits
 *   ROUNDROBIN  the first node that fits after the one used last
 *   POWERSAVE   pack onto the fewest nodes: the fitting node with the least
 *               free cores (then least free memory), so busy nodes fill up
 *               before idle ones are used
 * Nodes that are down never fit.  Pure functions: cluster.c calls them
 * under its lock and reserves the capacity at once, so concurrent requests
 * never overcommit a node.
 */
#ifndef CC_SCHED_H
#define CC_SCHED_H

#include <stddef.h>
#include <stdint.h>

enum cc_policy { CC_GREEDY, CC_ROUNDROBIN, CC_POWERSAVE };

struct cc_capacity {
    int up;
    unsigned cores_free;
    uint64_t mem_free_mb;
    uint64_t disk_free_gb;
};

struct cc_need {
    unsigned cores;
    uint64_t mem_mb;
    uint64_t disk_gb;
};

int cc_policy_parse(const char *name, enum cc_policy *out);
const char *cc_policy_name(enum cc_policy p);
int cc_fits(const struct cc_capacity *c, const struct cc_need *need);
/* The chosen node's index, or -1 when none fits.  *cursor is the index of
 * the node used last (ROUNDROBIN), updated on success. */
int cc_sched_pick(enum cc_policy p, const struct cc_capacity *nodes, size_t n,
                  const struct cc_need *need, size_t *cursor);

#endif
