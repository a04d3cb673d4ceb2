/*
 * cred_remote.c - the Identity API client behind struct oc_cred_source
 * (see cred_remote.h).
 */
#include "common/cred_remote.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/codec.h"
#include "common/httpc.h"
#include "common/log.h"
#include "common/xml.h"

#define IDENTITY_PATH "/services/Identity"
#define IDENTITY_VERSION "2026-11-01"
#define CACHE_SLOTS 1024

struct slot {
    int used;
    int found;                     /* 0: a remembered "unknown key" */
    time_t at;
    char akid[OC_ACCESS_KEY_LEN + 1];
    char scope[160];               /* date/region/service */
    uint8_t key[32];
    struct oc_principal who;
};

struct oc_cred_remote {
    char *endpoint, *ak, *sk;
    pthread_key_t tls;             /* struct oc_httpc * per thread */
    pthread_mutex_t lock;
    struct slot cache[CACHE_SLOTS];
};

static void httpc_dtor(void *p)
{
    oc_httpc_free(p);
}

int oc_cred_remote_new(const char *endpoint, const char *access_key_id, const char *secret,
                       struct oc_cred_remote **out, struct oc_err *err)
{
    struct oc_cred_remote *r = calloc(1, sizeof(*r));

    if (!r)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    r->endpoint = strdup(endpoint);
    r->ak = strdup(access_key_id);
    r->sk = strdup(secret);
    if (!r->endpoint || !r->ak || !r->sk || pthread_key_create(&r->tls, httpc_dtor) != 0) {
        free(r->endpoint);
        free(r->ak);
        free(r->sk);
        free(r);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&r->lock, NULL);
    *out = r;
    return OC_OK;
}

void oc_cred_remote_free(struct oc_cred_remote *r)
{
    struct oc_httpc *c;

    if (!r)
        return;
    /* This thread's client; other threads' die with their threads. */
    c = pthread_getspecific(r->tls);
    oc_httpc_free(c);
    pthread_key_delete(r->tls);
    pthread_mutex_destroy(&r->lock);
    OPENSSL_cleanse(r->cache, sizeof(r->cache));
    OPENSSL_cleanse(r->sk, strlen(r->sk));
    free(r->endpoint);
    free(r->ak);
    free(r->sk);
    free(r);
}

static struct oc_httpc *client(struct oc_cred_remote *r, struct oc_err *err)
{
    struct oc_httpc *c = pthread_getspecific(r->tls);
    struct oc_httpc_config cfg = {
        .endpoint = r->endpoint, .access_key_id = r->ak, .secret_key = r->sk,
        .timeout_ms = 10000,
    };

    if (c)
        return c;
    if (oc_httpc_new(&cfg, &c, err) != OC_OK)
        return NULL;
    pthread_setspecific(r->tls, c);
    return c;
}

static char *child_text(xmlNodePtr root, const char *name)
{
    xmlNodePtr n = oc_xml_child(root, name);

    return n ? oc_xml_text(n) : NULL;
}

/* Copies an element's text into dst (cap bytes); 0 when absent or too long. */
static int child_copy(xmlNodePtr root, const char *name, char *dst, size_t cap)
{
    char *t = child_text(root, name);
    int ok = t && strlen(t) < cap;

    if (ok)
        memcpy(dst, t, strlen(t) + 1);
    xmlFree(t);
    return ok;
}

/* Calls the Identity API; on success *doc is the parsed answer. */
static int call(struct oc_cred_remote *r, const char *action, const struct oc_kv *params,
                size_t n, xmlDocPtr *doc, struct oc_err *err)
{
    struct oc_err local = { 0 };
    struct oc_httpc *c;
    struct oc_httpc_resp resp = { 0 };
    xmlNodePtr root;
    int rc;

    if (!err)
        err = &local;
    c = client(r, err);
    if (!c)
        return OC_EINTERNAL;
    rc = oc_httpc_query(c, IDENTITY_PATH, "identity", action, IDENTITY_VERSION, params, n,
                        &resp, err);
    if (rc) {
        oc_warn("identity API at %s: %s", r->endpoint, err->msg);
        oc_httpc_resp_free(&resp);
        return OC_EINTERNAL;
    }
    *doc = oc_xml_parse((const char *)resp.body.data, resp.body.len, err);
    oc_httpc_resp_free(&resp);
    if (!*doc)
        return oc_err_set(err, OC_EINTERNAL, "identity API: unreadable answer");
    root = xmlDocGetRootElement(*doc);
    if (resp.status != 200) {
        xmlNodePtr e = oc_xml_child(root, "Errors");
        char *code = NULL;

        e = e ? oc_xml_child(e, "Error") : NULL;
        code = e ? child_text(e, "Code") : NULL;
        rc = code && strcmp(code, "InvalidAccessKeyId") == 0
                 ? oc_err_set(err, OC_ENOTFOUND, "unknown access key")
                 : oc_err_set(err, OC_EINTERNAL, "identity API %s: HTTP %ld %s", action,
                              resp.status, code ? code : "");
        if (rc != OC_ENOTFOUND)
            oc_warn("%s", err->msg);
        xmlFree(code);
        xmlFreeDoc(*doc);
        *doc = NULL;
        return rc;
    }
    return OC_OK;
}

/* The principal of the answer, which must be about the key asked for. */
static int read_principal(xmlNodePtr root, const char *akid, struct oc_principal *who,
                          struct oc_err *err)
{
    char flag[8];

    memset(who, 0, sizeof(*who));
    if (!child_copy(root, "AccessKeyId", who->access_key_id, sizeof(who->access_key_id)) ||
        !child_copy(root, "AccountId", who->account_id, sizeof(who->account_id)) ||
        !child_copy(root, "AccountName", who->account_name, sizeof(who->account_name)) ||
        !child_copy(root, "UserName", who->user_name, sizeof(who->user_name)))
        return oc_err_set(err, OC_EINTERNAL, "identity API: answer lacks the principal");
    if (strcmp(who->access_key_id, akid) != 0)
        return oc_err_set(err, OC_EINTERNAL, "identity API: answer about another key");
    who->is_admin = child_copy(root, "IsAdmin", flag, sizeof(flag)) && !strcmp(flag, "true");
    who->active = child_copy(root, "Active", flag, sizeof(flag)) && !strcmp(flag, "true");
    return OC_OK;
}

static unsigned slot_of(const char *akid, const char *scope)
{
    unsigned h = 2166136261u;

    for (const char *p = akid; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = scope; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % CACHE_SLOTS;
}

static int remote_sigv4_key(void *ctx, const char *akid, const char *date, const char *region,
                            const char *service, uint8_t key[32], struct oc_principal *who,
                            struct oc_err *err)
{
    struct oc_cred_remote *r = ctx;
    struct oc_kv params[4] = {
        { "AccessKeyId", akid, 1 }, { "Date", date, 1 }, { "Region", region, 1 },
        { "Service", service, 1 },
    };
    char scope[160];
    struct slot *s;
    time_t now = time(NULL);
    xmlDocPtr doc = NULL;
    char hex[80];
    int rc;

    if (strlen(akid) > OC_ACCESS_KEY_LEN)
        return oc_err_set(err, OC_ENOTFOUND, "unknown access key");
    if ((size_t)snprintf(scope, sizeof(scope), "%s/%s/%s", date, region, service)
            >= sizeof(scope))
        return oc_err_set(err, OC_EINVAL, "credential scope too long");
    s = &r->cache[slot_of(akid, scope)];
    pthread_mutex_lock(&r->lock);
    if (s->used && strcmp(s->akid, akid) == 0 && strcmp(s->scope, scope) == 0 &&
        now - s->at < (s->found ? OC_CRED_REMOTE_TTL_S : OC_CRED_REMOTE_NEG_TTL_S) &&
        now >= s->at) {
        int found = s->found;

        if (found) {
            memcpy(key, s->key, 32);
            *who = s->who;
        }
        pthread_mutex_unlock(&r->lock);
        return found ? OC_OK : oc_err_set(err, OC_ENOTFOUND, "unknown access key");
    }
    pthread_mutex_unlock(&r->lock);

    rc = call(r, "GetSigningKey", params, 4, &doc, err);
    if (rc == OC_OK) {
        xmlNodePtr root = xmlDocGetRootElement(doc);

        rc = read_principal(root, akid, who, err);
        if (rc == OC_OK && (!child_copy(root, "SigningKey", hex, sizeof(hex)) ||
                            strlen(hex) != 64 || oc_hex_decode(hex, 64, key, 32) != 32))
            rc = oc_err_set(err, OC_EINTERNAL, "identity API: bad SigningKey");
        OPENSSL_cleanse(hex, sizeof(hex));
        xmlFreeDoc(doc);
    }
    if (rc == OC_OK || rc == OC_ENOTFOUND) {
        pthread_mutex_lock(&r->lock);
        s->used = 1;
        s->found = rc == OC_OK;
        s->at = now;
        snprintf(s->akid, sizeof(s->akid), "%s", akid);
        snprintf(s->scope, sizeof(s->scope), "%s", scope);
        if (rc == OC_OK) {
            memcpy(s->key, key, 32);
            s->who = *who;
        }
        pthread_mutex_unlock(&r->lock);
    }
    return rc;
}

static int remote_sigv2_sign(void *ctx, const char *akid, enum oc_cred_hmac alg,
                             const char *data, size_t len, uint8_t mac[32], size_t *maclen,
                             struct oc_principal *who, struct oc_err *err)
{
    struct oc_cred_remote *r = ctx;
    struct oc_buf b64 = { 0 };
    xmlDocPtr doc = NULL;
    char sig[96];
    long n;
    int rc;

    if (strlen(akid) > OC_ACCESS_KEY_LEN)
        return oc_err_set(err, OC_ENOTFOUND, "unknown access key");
    if (oc_base64_encode((const uint8_t *)data, len, &b64))
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    {
        struct oc_kv params[3] = {
            { "AccessKeyId", akid, 1 },
            { "Algorithm", alg == OC_CRED_HMAC_SHA256 ? "HmacSHA256" : "HmacSHA1", 1 },
            { "StringToSign", oc_buf_cstr(&b64), 1 },
        };

        rc = call(r, "SignV2", params, 3, &doc, err);
    }
    oc_buf_free(&b64);
    if (rc)
        return rc;
    rc = read_principal(xmlDocGetRootElement(doc), akid, who, err);
    if (rc == OC_OK) {
        if (!child_copy(xmlDocGetRootElement(doc), "Signature", sig, sizeof(sig)) ||
            (n = oc_base64_decode(sig, strlen(sig), mac, 32)) !=
                (alg == OC_CRED_HMAC_SHA256 ? 32 : 20))
            rc = oc_err_set(err, OC_EINTERNAL, "identity API: bad Signature");
        else
            *maclen = (size_t)n;
    }
    xmlFreeDoc(doc);
    return rc;
}

/* The principal alone: today's s3 signing-key call, from the cache when
 * it is there. */
static int remote_lookup(void *ctx, const char *akid, struct oc_principal *out,
                         struct oc_err *err)
{
    char date[16];
    time_t now = time(NULL);
    struct tm tm;
    uint8_t key[32];
    int rc;

    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y%m%d", &tm);
    rc = remote_sigv4_key(ctx, akid, date, "us-east-1", "s3", key, out, err);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

struct oc_cred_source oc_cred_remote_source(struct oc_cred_remote *r)
{
    struct oc_cred_source src = {
        .lookup = remote_lookup, .sigv4_key = remote_sigv4_key,
        .sigv2_sign = remote_sigv2_sign, .ctx = r,
    };

    return src;
}
