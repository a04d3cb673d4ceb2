/*
 * nlink.h - links through netlink (libnl-route-3), for the cluster
 * controller's data plane: find a link or make a bridge, bring it up.
 * Works in the calling thread's network namespace.
 */
#ifndef OC_NLINK_H
#define OC_NLINK_H

#include "common/err.h"

struct nl_sock;

enum oc_nl_kind { OC_NL_EXISTING, OC_NL_BRIDGE };

struct oc_nl_make {
    enum oc_nl_kind kind;         /* what to make when the link is missing */
};

int oc_nl_open(struct nl_sock **out, struct oc_err *err) OC_WUR;
void oc_nl_close(struct nl_sock *sk);
/* The link's index (> 0), made as `make` says when it is missing (make
 * NULL or OC_NL_EXISTING: it must exist), brought up; its MAC into mac when
 * mac is non-NULL.  0 with err set on failure. */
int oc_nl_link_up(struct nl_sock *sk, const char *name, const struct oc_nl_make *make,
                  unsigned char mac[6], struct oc_err *err);
/* An OC_EIO error naming what failed and libnl's reason. */
int oc_nl_fail(struct oc_err *err, const char *what, int nlerr);

#endif
