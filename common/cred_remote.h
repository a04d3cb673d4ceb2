/*
 * cred_remote.h - a credential source that asks the CLC's Identity API
 * (POST /services/Identity, SigV4 service "identity", signed with this
 * component's own key from $OVERCAST_HOME/<component>/clc-credentials).
 *
 * It never sees a secret: GetSigningKey returns the SigV4 signing key of
 * one (key, day, region, service) scope, which is cached for 3 seconds
 * with the principal (so a key made inactive or deleted stops working
 * within 3 s, while a busy server still asks about each key only every
 * 3 s); SignV2 returns the HMAC of one SigV2 string to sign
 * (not cached: it differs per request).  Unknown keys are remembered for 2
 * seconds so a flood of bad keys does not become a flood of CLC calls.  A
 * CLC that cannot be reached fails the check (InternalError), never allows.
 * Thread-safe: one HTTP client per thread.
 */
#ifndef OC_CRED_REMOTE_H
#define OC_CRED_REMOTE_H

#include "common/creds.h"
#include "common/err.h"

#define OC_CRED_REMOTE_TTL_S 3
#define OC_CRED_REMOTE_NEG_TTL_S 2

struct oc_cred_remote;

int oc_cred_remote_new(const char *endpoint, const char *access_key_id, const char *secret,
                       struct oc_cred_remote **out, struct oc_err *err) OC_WUR;
void oc_cred_remote_free(struct oc_cred_remote *r);
/* lookup (principal only: secret_key is empty), sigv4_key and sigv2_sign. */
struct oc_cred_source oc_cred_remote_source(struct oc_cred_remote *r);

#endif
