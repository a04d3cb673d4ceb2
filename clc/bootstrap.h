/*
 * bootstrap.h - a new cloud's first identities, made once by
 * `overcast-clc bootstrap` on the CLC's host:
 *
 *   - the `eucalyptus` admin account and its user `admin` with a key,
 *     written to $OVERCAST_HOME/admin/{eucarc,aws-config,aws-credentials};
 *   - one component user per internal caller in the eucalyptus account
 *     (walrus, clc, cc, nc), each with a key written to
 *     $OVERCAST_HOME/<component>/clc-credentials (the CLC's own:
 *     clc/component-credentials), mode 0600;
 *   - the cloud's RSA key and self-signed certificate,
 *     clc/cloud-pk.pem and clc/cloud-cert.pem: bundles are encrypted for
 *     the certificate; the node decrypts them with nc/cloud-pk.pem (a
 *     copy; other nodes' hosts get theirs copied by the administrator).
 *
 * Running it again keeps every identity whose credentials file exists and
 * fills in what is missing.
 */
#ifndef CLC_BOOTSTRAP_H
#define CLC_BOOTSTRAP_H

#include "common/config.h"
#include "common/err.h"

struct clc;

int clc_bootstrap(struct clc *c, const char *home, const struct oc_config *conf,
                  struct oc_err *err) OC_WUR;

#endif
