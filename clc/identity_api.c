/*
 * identity_api.c - the internal Identity API at /services/Identity: how
 * Walrus (and later the CC and NC) check their callers' signatures without
 * ever holding their secrets.  Callers must belong to the eucalyptus
 * account (the front door enforces CLC_ACTION_ADMIN).
 *
 *   GetSigningKey  AccessKeyId, Date (YYYYMMDD), Region, Service
 *                  -> SigningKey (hex of the SigV4 kSigning for that scope)
 *   SignV2         AccessKeyId, Algorithm (HmacSHA1 | HmacSHA256),
 *                  StringToSign (base64)
 *                  -> Signature (base64 of the raw HMAC)
 *
 * Both answer the key's principal too: AccountId, AccountName, UserName,
 * IsAdmin, Active.  An unknown key is InvalidAccessKeyId.  A signing key is
 * scoped to one day, region and service, so a caller may cache it; the
 * secret itself never leaves the CLC.  docs/clc.md documents the protocol.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "clc/clc.h"
#include "clc/identity.h"
#include "common/codec.h"
#include "common/sigv4.h"

#define MAX_STS (64 * 1024)

static int principal_of(struct clc_req *r, const char *akid, struct oc_principal *p)
{
    struct oc_err err = { 0 };
    int rc;

    if (strlen(akid) > OC_ACCESS_KEY_LEN)
        return clc_error(r, "InvalidAccessKeyId", "The access key id %s does not exist", akid);
    rc = clc_key_principal(clc_identity_of(r), r->db, akid, p, &err);
    if (rc == OC_ENOTFOUND)
        return clc_error(r, "InvalidAccessKeyId", "The access key id %s does not exist", akid);
    if (rc)
        return clc_internal(r, &err);
    return CLC_OK;
}

static void write_principal(struct clc_req *r, const struct oc_principal *p)
{
    struct oc_xmlw *w = clc_reply_begin(r);

    oc_xmlw_elem(w, "AccessKeyId", p->access_key_id);
    oc_xmlw_elem(w, "AccountId", p->account_id);
    oc_xmlw_elem(w, "AccountName", p->account_name);
    oc_xmlw_elem(w, "UserName", p->user_name);
    oc_xmlw_elem(w, "IsAdmin", p->is_admin ? "true" : "false");
    oc_xmlw_elem(w, "Active", p->active ? "true" : "false");
}

/* Scope parts: short, and free of '/' (they are joined with it). */
static int scope_part_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    return n > 0 && n <= max && !strchr(s, '/');
}

static int get_signing_key(struct clc_req *r)
{
    const char *akid, *date, *region, *service;
    struct oc_principal p;
    uint8_t key[32];
    char hex[65];

    if (clc_param_required(r, "AccessKeyId", &akid) || clc_param_required(r, "Date", &date) ||
        clc_param_required(r, "Region", &region) || clc_param_required(r, "Service", &service))
        return CLC_FAILED;
    if (strlen(date) != 8 || strspn(date, "0123456789") != 8)
        return clc_error(r, "InvalidParameterValue", "Date must be YYYYMMDD");
    if (!scope_part_ok(region, 63) || !scope_part_ok(service, 63))
        return clc_error(r, "InvalidParameterValue", "Region and Service must be 1 to 63 "
                         "characters without '/'");
    if (principal_of(r, akid, &p))
        return CLC_FAILED;
    oc_sigv4_signing_key(p.secret_key, strlen(p.secret_key), date, 8, region, strlen(region),
                         service, strlen(service), key);
    OPENSSL_cleanse(p.secret_key, sizeof(p.secret_key));
    oc_hex_encode(key, sizeof(key), hex);
    OPENSSL_cleanse(key, sizeof(key));
    write_principal(r, &p);
    oc_xmlw_elem(r->xml, "SigningKey", hex);
    OPENSSL_cleanse(hex, sizeof(hex));
    return CLC_OK;
}

static int sign_v2(struct clc_req *r)
{
    const char *akid, *alg, *b64;
    struct oc_principal p;
    struct oc_buf out = { 0 };
    uint8_t mac[32], *sts;
    long n;
    int sha256;

    if (clc_param_required(r, "AccessKeyId", &akid) ||
        clc_param_required(r, "Algorithm", &alg))
        return CLC_FAILED;
    b64 = clc_param(r, "StringToSign");
    if (!b64)
        return clc_error(r, "MissingParameter", "The request must contain the parameter "
                         "StringToSign");
    if (strcmp(alg, "HmacSHA256") == 0)
        sha256 = 1;
    else if (strcmp(alg, "HmacSHA1") == 0)
        sha256 = 0;
    else
        return clc_error(r, "InvalidParameterValue", "Algorithm must be HmacSHA1 or "
                         "HmacSHA256");
    if (strlen(b64) > MAX_STS * 4 / 3 + 4)
        return clc_error(r, "InvalidParameterValue", "StringToSign is too long");
    sts = oc_arena_alloc(r->arena, strlen(b64) + 1);
    n = oc_base64_decode(b64, strlen(b64), sts, strlen(b64) + 1);
    if (n < 0)
        return clc_error(r, "InvalidParameterValue", "StringToSign is not base64");
    if (principal_of(r, akid, &p))
        return CLC_FAILED;
    if (sha256)
        oc_hmac_sha256(p.secret_key, strlen(p.secret_key), sts, (size_t)n, mac);
    else
        oc_hmac_sha1(p.secret_key, strlen(p.secret_key), sts, (size_t)n, mac);
    OPENSSL_cleanse(p.secret_key, sizeof(p.secret_key));
    if (oc_base64_encode(mac, sha256 ? 32 : 20, &out)) {
        oc_buf_free(&out);
        return clc_error(r, "InternalError", "An internal error has occurred");
    }
    write_principal(r, &p);
    oc_xmlw_elem(r->xml, "Signature", oc_buf_cstr(&out));
    oc_buf_free(&out);
    return CLC_OK;
}

const struct clc_action clc_identity_actions[] = {
    { "GetSigningKey", get_signing_key, CLC_ACTION_ADMIN },
    { "SignV2", sign_v2, CLC_ACTION_ADMIN },
    { NULL, NULL, 0 },
};
