/*
 * creds.h - identities and the narrow lookup interface servers use to find
 * a secret by access key id.
 *
 * struct oc_cred_source is all a server knows.  The store itself (accounts,
 * users, keys, sealed secrets) belongs to the CLC (clc/identity.h); Walrus
 * and the other components ask the CLC through common/cred_remote.h and
 * never hold a secret that is not their own.
 */
#ifndef OC_CREDS_H
#define OC_CREDS_H

#include <stddef.h>
#include <stdint.h>
#include "common/err.h"

#define OC_ACCOUNT_ID_LEN 12
#define OC_ACCESS_KEY_LEN 20
#define OC_SECRET_KEY_LEN 40
#define OC_ADMIN_ACCOUNT "eucalyptus"

struct oc_principal {
    char account_id[OC_ACCOUNT_ID_LEN + 1];
    char account_name[64];
    char user_name[65];      /* IAM allows 64 characters */
    char access_key_id[OC_ACCESS_KEY_LEN + 1];
    char secret_key[OC_SECRET_KEY_LEN + 1];
    int is_admin;      /* member of the eucalyptus account */
    int active;        /* key status Active */
};

/*
 * What a server needs to check signatures.  lookup is required; the two
 * signing callbacks are optional: a source that holds secrets (the CLC's own
 * store) leaves them NULL and oc_cred_sigv4_key()/oc_cred_sigv2_sign()
 * derive from the secret lookup returned; a source that has no secrets
 * (Walrus asking the CLC) implements them and returns principals with an
 * empty secret_key.
 */
enum oc_cred_hmac { OC_CRED_HMAC_SHA1, OC_CRED_HMAC_SHA256 };

struct oc_cred_source {
    /* Returns OC_OK and fills out, OC_ENOTFOUND for an unknown key. Thread-safe. */
    int (*lookup)(void *ctx, const char *access_key_id, struct oc_principal *out,
                  struct oc_err *err);
    /* SigV4 signing key for (date YYYYMMDD, region, service) and the
     * principal; OC_ENOTFOUND for an unknown key. */
    int (*sigv4_key)(void *ctx, const char *access_key_id, const char *date,
                     const char *region, const char *service, uint8_t key[32],
                     struct oc_principal *who, struct oc_err *err);
    /* SigV2: raw HMAC of data under the secret (20 bytes SHA1, 32 SHA256),
     * written to mac with its length in *maclen, and the principal. */
    int (*sigv2_sign)(void *ctx, const char *access_key_id, enum oc_cred_hmac alg,
                      const char *data, size_t len, uint8_t mac[32], size_t *maclen,
                      struct oc_principal *who, struct oc_err *err);
    void *ctx;
};

/* The two operations auth.c needs, through the callbacks when the source
 * has them, else derived locally from lookup's secret (which is wiped). */
int oc_cred_sigv4_key(const struct oc_cred_source *src, const char *access_key_id,
                      const char *date, const char *region, const char *service,
                      uint8_t key[32], struct oc_principal *who, struct oc_err *err) OC_WUR;
int oc_cred_sigv2_sign(const struct oc_cred_source *src, const char *access_key_id,
                       enum oc_cred_hmac alg, const char *data, size_t len, uint8_t mac[32],
                       size_t *maclen, struct oc_principal *who, struct oc_err *err) OC_WUR;

#endif
