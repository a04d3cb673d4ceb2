/*
 * sched.c - placement policies (see sched.h).
 */
#include "cc/sched.h"

#include <string.h>
#include <strings.h>

int cc_policy_parse(const char *name, enum cc_policy *out)
{
    if (strcasecmp(name, "GREEDY") == 0)
        *out = CC_GREEDY;
    else if (strcasecmp(name, "ROUNDROBIN") == 0)
        *out = CC_ROUNDROBIN;
    else if (strcasecmp(name, "POWERSAVE") == 0)
        *out = CC_POWERSAVE;
    else
        return -1;
    return 0;
}

const char *cc_policy_name(enum cc_policy p)
{
    return p == CC_GREEDY ? "GREEDY" : p == CC_ROUNDROBIN ? "ROUNDROBIN" : "POWERSAVE";
}

int cc_fits(const struct cc_capacity *c, const struct cc_need *need)
{
    return c->up && c->cores_free >= need->cores && c->mem_free_mb >= need->mem_mb &&
           c->disk_free_gb >= need->disk_gb;
}

int cc_sched_pick(enum cc_policy p, const struct cc_capacity *nodes, size_t n,
                  const struct cc_need *need, size_t *cursor)
{
    int best = -1;

    if (n == 0)
        return -1;
    switch (p) {
    case CC_GREEDY:
        for (size_t i = 0; i < n && best < 0; i++)
            if (cc_fits(&nodes[i], need))
                best = (int)i;
        break;
    case CC_ROUNDROBIN:
        for (size_t k = 1; k <= n && best < 0; k++) {
            size_t i = (*cursor + k) % n;

            if (cc_fits(&nodes[i], need))
                best = (int)i;
        }
        break;
    case CC_POWERSAVE:
        for (size_t i = 0; i < n; i++) {
            if (!cc_fits(&nodes[i], need))
                continue;
            if (best < 0 || nodes[i].cores_free < nodes[best].cores_free ||
                (nodes[i].cores_free == nodes[best].cores_free &&
                 nodes[i].mem_free_mb < nodes[best].mem_free_mb))
                best = (int)i;
        }
        break;
    }
    if (best >= 0)
        *cursor = (size_t)best;
    return best;
}
