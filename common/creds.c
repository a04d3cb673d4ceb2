/*
 * creds.c - the two signature operations servers need from a credential
 * source, whether it holds secrets (the CLC's identity store) or asks
 * someone who does (Walrus asking the CLC, common/cred_remote.c).
 */
#include "common/creds.h"

#include <openssl/crypto.h>
#include <string.h>

#include "common/codec.h"
#include "common/sigv4.h"

static int lookup_active(const struct oc_cred_source *src, const char *akid,
                         struct oc_principal *who, struct oc_err *err)
{
    int rc;

    if (!src || !src->lookup)
        return oc_err_set(err, OC_ENOTFOUND, "no credential source");
    rc = src->lookup(src->ctx, akid, who, err);
    if (rc == OC_OK && !who->secret_key[0])
        rc = oc_err_set(err, OC_EINTERNAL, "the credential source gave no secret");
    return rc;
}

int oc_cred_sigv4_key(const struct oc_cred_source *src, const char *akid, const char *date,
                      const char *region, const char *service, uint8_t key[32],
                      struct oc_principal *who, struct oc_err *err)
{
    int rc;

    if (src && src->sigv4_key)
        return src->sigv4_key(src->ctx, akid, date, region, service, key, who, err);
    rc = lookup_active(src, akid, who, err);
    if (rc == OC_OK)
        oc_sigv4_signing_key(who->secret_key, strlen(who->secret_key), date, strlen(date),
                             region, strlen(region), service, strlen(service), key);
    OPENSSL_cleanse(who->secret_key, sizeof(who->secret_key));
    return rc;
}

int oc_cred_sigv2_sign(const struct oc_cred_source *src, const char *akid,
                       enum oc_cred_hmac alg, const char *data, size_t len, uint8_t mac[32],
                       size_t *maclen, struct oc_principal *who, struct oc_err *err)
{
    int rc;

    if (src && src->sigv2_sign)
        return src->sigv2_sign(src->ctx, akid, alg, data, len, mac, maclen, who, err);
    rc = lookup_active(src, akid, who, err);
    if (rc == OC_OK) {
        size_t klen = strlen(who->secret_key);

        if (alg == OC_CRED_HMAC_SHA1) {
            oc_hmac_sha1(who->secret_key, klen, data, len, mac);
            *maclen = 20;
        } else {
            oc_hmac_sha256(who->secret_key, klen, data, len, mac);
            *maclen = 32;
        }
    }
    OPENSSL_cleanse(who->secret_key, sizeof(who->secret_key));
    return rc;
}
