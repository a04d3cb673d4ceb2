/*
 * api.c - the CLC front door: which API a path belongs to, the Query
 * parameters (query string or form body), authentication, the action
 * tables, and the success and error documents of each API.
 *
 * One request goes through:
 *   on_request  pick the API from the path; a GET is answered at once,
 *               a POST collects its form body (at most CLC_MAX_BODY).
 *   on_end      parse the parameters, verify the signature (SigV4 with the
 *               API's service name, or Query SigV2), find the action, check
 *               admin-only actions, take a pooled clc.db connection, run the
 *               handler and answer with its document or its error.
 *
 * Handlers run on the HTTP server's threads; each has its own connection.
 *
 * Read-only actions (CLC_ACTION_CACHEABLE: the Describe* calls whose answer
 * is a function of clc.db, the configuration, the caller and the
 * parameters) run inside one read transaction, and their success documents
 * are kept in the answer cache (clc/cache.h) for as long as clc.db does not
 * change.  CLC_DESCRIBE_CACHE sizes it; "0" turns it off.
 */
#include "clc/api.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>

#include "clc/cache.h"
#include "clc/clc.h"
#include "clc/console.h"
#include "clc/console_s3.h"
#include "clc/identity.h"
#include "clc/schema.h"
#include "clc/poller.h"
#include "common/auth.h"
#include "common/codec.h"
#include "common/fsutil.h"
#include "common/httpc.h"
#include "common/log.h"

#define EC2_DEFAULT_VERSION "2016-11-15"
#define IAM_NS "https://iam.amazonaws.com/doc/2010-05-08/"
#define EMPYREAN_NS "http://www.eucalyptus.com/ns/empyrean/2012-10-01/"

struct clc {
    char *home;
    const struct oc_config *conf;
    struct oc_dbpool *pool;
    struct clc_identity *ident;
    struct oc_cred_source creds;
    struct clc_dbgen *gen;        /* the generation of clc.db */
    struct clc_rcache *cache;     /* answers of CLC_ACTION_CACHEABLE; NULL when off */
    /* The CLC's own key (clc/component-credentials), read on first use:
     * cc* calls are signed with it. */
    pthread_mutex_t key_lock;
    char *ak, *sk;
    struct clc_poller *poller;    /* NULL unless clc_poller_start() ran */
    struct clc_console *console;  /* console sessions */
};

/* Per-request state while the body arrives. */
struct clc_http_state {
    enum clc_api api;
    struct oc_buf body;
    int too_big;
    struct clc_s3proxy *proxy;    /* CLC_API_OBJECTSTORAGE */
};

/* ------------------------------------------------------------------ */
/* service */

int clc_new(const char *home, const struct oc_config *conf, struct clc **out,
            struct oc_err *err)
{
    struct clc *c = calloc(1, sizeof(*c));
    char *dir = NULL, *db = NULL, *key = NULL;
    const struct oc_migration *migs;
    size_t nmigs;
    int rc;

    if (!c)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    c->conf = conf;
    c->home = strdup(home);
    pthread_mutex_init(&c->key_lock, NULL);
    if (asprintf(&dir, "%s/clc", home) < 0 || asprintf(&db, "%s/clc/clc.db", home) < 0 ||
        asprintf(&key, "%s/clc/secret.key", home) < 0 || !c->home) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = oc_mkdirs(dir, 0700, err);
    if (rc)
        goto cleanup;
    migs = clc_schema(&nmigs);
    rc = oc_dbpool_new(db, migs, nmigs, &c->pool, err);
    if (rc)
        goto cleanup;
    /* Sealed secrets live here: only the CLC's user reads it (SQLite gives
     * the -wal and -shm files the same mode). */
    chmod(db, 0600);
    rc = clc_identity_open(key, c->pool, &c->ident, err);
    if (rc)
        goto cleanup;
    rc = clc_console_new(conf, &c->console, err);
    if (rc)
        goto cleanup;
    c->creds = clc_identity_source(c->ident);
    rc = clc_dbgen_open(db, &c->gen, err);
    if (rc)
        goto cleanup;
    clc_identity_set_dbgen(c->ident, c->gen);
    {
        size_t max_bytes, max_entries;

        rc = clc_rcache_conf(oc_config_get(conf, "CLC_DESCRIBE_CACHE", CLC_RCACHE_DEFAULT),
                             &max_bytes, &max_entries, err);
        if (rc == OC_OK)
            rc = clc_rcache_new(max_bytes, max_entries, &c->cache, err);
        if (rc)
            goto cleanup;
    }
    /* Describe calls run in read transactions: the key their NextTokens
     * are signed with must exist before any of them needs it. */
    {
        struct oc_db *h = oc_dbpool_get(c->pool, err);

        rc = h ? clc_page_key_init(h, err) : OC_EDB;
        oc_dbpool_put(c->pool, h);
        if (rc)
            goto cleanup;
    }
cleanup:
    free(dir);
    free(db);
    free(key);
    if (rc) {
        clc_free(c);
        return rc;
    }
    *out = c;
    return OC_OK;
}

void clc_free(struct clc *c)
{
    if (!c)
        return;
    clc_poller_stop(c->poller);
    clc_rcache_free(c->cache);
    clc_dbgen_free(c->gen);
    clc_identity_free(c->ident);
    clc_console_free(c->console);
    oc_dbpool_free(c->pool);
    pthread_mutex_destroy(&c->key_lock);
    free(c->ak);
    if (c->sk)
        OPENSSL_cleanse(c->sk, strlen(c->sk));
    free(c->sk);
    free(c->home);
    free(c);
}

struct oc_dbpool *clc_pool(struct clc *c)
{
    return c->pool;
}

const struct oc_config *clc_config(struct clc *c)
{
    return c->conf;
}

struct clc *clc_of(const struct clc_req *r)
{
    return r->clc;
}

void clc_set_poller(struct clc *c, struct clc_poller *p)
{
    c->poller = p;
}

struct clc_poller *clc_poller_of(struct clc *c)
{
    return c->poller;
}

int clc_component_key(struct clc *c, const char **ak, const char **sk, struct oc_err *err)
{
    int rc = OC_OK;

    pthread_mutex_lock(&c->key_lock);
    if (!c->ak) {
        char *path = NULL;

        if (asprintf(&path, "%s/clc/component-credentials", c->home) < 0)
            rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        else
            rc = oc_httpc_load_creds(path, &c->ak, &c->sk, err);
        free(path);
    }
    *ak = c->ak;
    *sk = c->sk;
    pthread_mutex_unlock(&c->key_lock);
    return rc;
}

struct clc_identity *clc_identity(struct clc *c)
{
    return c->ident;
}

const char *clc_home_dir(struct clc *c)
{
    return c->home;
}

struct clc_console *clc_console_of(struct clc *c)
{
    return c->console;
}

void clc_cache_stats(struct clc *c, struct clc_rcache_stats *out)
{
    clc_rcache_stats(c->cache, out);
}

const char *clc_conf(const struct clc_req *r, const char *key, const char *def)
{
    return oc_config_get(r->clc->conf, key, def);
}

const char *clc_home(const struct clc_req *r)
{
    return r->clc->home;
}

struct clc_identity *clc_identity_of(const struct clc_req *r)
{
    return r->clc->ident;
}

/* ------------------------------------------------------------------ */
/* answers */

struct code_status {
    const char *code;
    int status;
};

/* Codes whose HTTP status is not 400. */
static const struct code_status statuses[] = {
    { "AuthFailure", 401 },
    { "UnauthorizedOperation", 403 },
    { "Blocked", 403 },
    { "OptInRequired", 403 },
    { "AccessDenied", 403 },
    { "InvalidClientTokenId", 403 },
    { "SignatureDoesNotMatch", 403 },
    { "MissingAuthenticationToken", 403 },
    { "InvalidAccessKeyId", 403 },
    { "NoSuchEntity", 404 },
    { "EntityAlreadyExists", 409 },
    { "DeleteConflict", 409 },
    { "LimitExceeded", 409 },
    { "DuplicateCertificate", 409 },
    { "ConcurrentModification", 409 },
    { "DryRunOperation", 412 },
    { "InternalError", 500 },
    { "InternalFailure", 500 },
    { "ServiceFailure", 500 },
    { "Unavailable", 503 },
    { "ServiceUnavailable", 503 },
    { "RequestLimitExceeded", 503 },
    { "InsufficientInstanceCapacity", 500 },
};

static int status_of(const char *code)
{
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
        if (strcmp(statuses[i].code, code) == 0)
            return statuses[i].status;
    return 400;
}

int clc_error(struct clc_req *r, const char *code, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    /* The first error chosen wins: helpers may report, callers pass it on. */
    if (!r->err_code) {
        r->err_code = oc_arena_strdup(r->arena, code);
        r->err_message = oc_arena_strdup(r->arena, msg ? msg : "");
        r->err_status = status_of(code);
    }
    free(msg);
    return CLC_FAILED;
}

int clc_internal(struct clc_req *r, const struct oc_err *err)
{
    oc_error("clc %s: %s: internal error: %s", r->request_id,
             r->action ? r->action : "-", err ? err->msg : "(no detail)");
    return clc_error(r, "InternalError", "An internal error has occurred");
}

int clc_dry_run(struct clc_req *r)
{
    if (!r->dry_run)
        return 0;
    clc_error(r, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
    return 1;
}

int clc_is_admin(const struct clc_req *r)
{
    return r->who.is_admin;
}

struct oc_xmlw *clc_reply_begin(struct clc_req *r)
{
    char *root = oc_arena_printf(r->arena, "%sResponse", r->action);

    if (r->xml)
        return r->xml;
    if (r->api == CLC_API_IAM) {
        r->xml = oc_xmlw_new(root, IAM_NS);
        oc_xmlw_start(r->xml, oc_arena_printf(r->arena, "%sResult", r->action));
    } else if (r->api == CLC_API_ADMIN) {
        r->xml = oc_xmlw_new(root, EMPYREAN_NS);
        oc_xmlw_elem(r->xml, "requestId", r->request_id);
    } else {
        r->xml = oc_xmlw_new(root, oc_arena_printf(r->arena, "http://ec2.amazonaws.com/doc/%s/",
                                                   r->version));
        oc_xmlw_elem(r->xml, "requestId", r->request_id);
    }
    return r->xml;
}

int clc_reply_return_true(struct clc_req *r)
{
    oc_xmlw_elem(clc_reply_begin(r), "return", "true");
    return CLC_OK;
}

/* The error document of the API, appended to b. */
static int error_doc(enum clc_api api, int status, const char *code, const char *message,
                     const char *request_id, struct oc_buf *b)
{
    struct oc_xmlw *w;
    int rc;

    if (api == CLC_API_IAM) {
        w = oc_xmlw_new("ErrorResponse", IAM_NS);
        oc_xmlw_start(w, "Error");
        oc_xmlw_elem(w, "Type", status >= 500 ? "Receiver" : "Sender");
        oc_xmlw_elem(w, "Code", code);
        oc_xmlw_elem(w, "Message", message);
        oc_xmlw_end(w);
        oc_xmlw_elem(w, "RequestId", request_id);
    } else {
        w = oc_xmlw_new("Response", NULL);
        oc_xmlw_start(w, "Errors");
        oc_xmlw_start(w, "Error");
        oc_xmlw_elem(w, "Code", code);
        oc_xmlw_elem(w, "Message", message);
        oc_xmlw_end(w);
        oc_xmlw_end(w);
        oc_xmlw_elem(w, "RequestID", request_id);
    }
    rc = w ? oc_xmlw_finish(w, b) : OC_ENOMEM;
    oc_xmlw_free(w);
    return rc;
}

static void respond_xml(struct oc_http_req *h, int status, struct oc_buf *b)
{
    if (oc_http_respond_buf(h, status, "text/xml;charset=UTF-8", b) != OC_OK)
        oc_http_respond(h, 500, NULL, NULL, 0);
}

void clc_respond_error(struct oc_http_req *h, enum clc_api api, int status,
                       const char *code, const char *message)
{
    struct oc_buf b = { 0 };

    if (error_doc(api, status, code, message, h->request_id, &b) != OC_OK) {
        oc_buf_free(&b);
        oc_http_respond(h, 500, NULL, NULL, 0);
        return;
    }
    respond_xml(h, status, &b);
}

/* ------------------------------------------------------------------ */
/* routing */

static const struct clc_action *const ec2_tables[] = {
    clc_ec2_misc_actions, clc_keypair_actions, clc_secgroup_actions, clc_image_actions,
    clc_tag_actions, clc_instance_actions, clc_address_actions, NULL,
};
static const struct clc_action *const cluster_tables[] = { clc_cluster_actions, NULL };
static const struct clc_action *const iam_tables[] = { clc_iam_actions, NULL };
static const struct clc_action *const identity_tables[] = { clc_identity_actions, NULL };
static const struct clc_action *const admin_tables[] = { clc_admin_actions, NULL };

static const struct clc_action *find_action(enum clc_api api, const char *name)
{
    const struct clc_action *const *tables = api == CLC_API_IAM ? iam_tables
                                           : api == CLC_API_IDENTITY ? identity_tables
                                           : api == CLC_API_CLUSTER ? cluster_tables
                                           : api == CLC_API_ADMIN ? admin_tables
                                           : ec2_tables;

    for (size_t t = 0; tables[t]; t++)
        for (const struct clc_action *a = tables[t]; a->name; a++)
            if (strcmp(a->name, name) == 0)
                return a;
    return NULL;
}

/* Path -> API; -1 for paths nobody serves. */
static int api_of_path(const char *path)
{
    size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 1 && path[0] == '/')
        return CLC_API_EC2;
#define IS(p) (n == sizeof(p) - 1 && strncmp(path, p, n) == 0)
    if (IS("/services/compute") || IS("/services/Eucalyptus"))
        return CLC_API_EC2;
    if (IS("/services/Euare"))
        return CLC_API_IAM;
    if (IS("/services/Identity"))
        return CLC_API_IDENTITY;
    if (IS("/services/Cluster"))
        return CLC_API_CLUSTER;
    if (IS("/services/Empyrean") || IS("/services/Properties"))
        return CLC_API_ADMIN;
#undef IS
    if (clc_console_path(path))
        return CLC_API_CONSOLE;
    if (clc_s3proxy_path(path))
        return CLC_API_OBJECTSTORAGE;
    if (strncmp(path, CLC_METADATA_PREFIX, sizeof(CLC_METADATA_PREFIX) - 1) == 0)
        return CLC_API_METADATA;
    return -1;
}

static const char *service_of(enum clc_api api)
{
    switch (api) {
    case CLC_API_IAM:
        return "iam";
    case CLC_API_IDENTITY:
        return "identity";
    case CLC_API_ADMIN:
        return "euca";
    case CLC_API_CLUSTER:
        return "clc";
    case CLC_API_METADATA:
        return "metadata";
    case CLC_API_EC2:
    default:
        return "ec2";
    }
}

/* The auth error in this API's words. */
static void auth_failed(struct oc_http_req *h, enum clc_api api, const struct oc_auth_error *ae)
{
    const char *code = ae->code;
    int status = ae->status;

    if (strcmp(code, "RequestTimeTooSkewed") == 0 || strcmp(code, "AccessDenied") == 0) {
        /* Skewed clocks and expired presigned requests. */
        code = api == CLC_API_IAM ? "RequestExpired" : "RequestExpired";
        status = 400;
    } else if (strcmp(code, "InternalError") == 0) {
        status = 500;
    } else if (api == CLC_API_IAM) {
        if (strcmp(code, "InvalidAccessKeyId") == 0)
            code = "InvalidClientTokenId";
        else if (strcmp(code, "SignatureDoesNotMatch") != 0)
            code = "IncompleteSignature";
        status = 403;
    } else {
        code = "AuthFailure";
        status = 401;
    }
    clc_respond_error(h, api, status, code, ae->message);
}

static void clc_on_request(struct oc_http_req *h, void *ctx)
{
    struct clc *c = ctx;
    struct clc_http_state *st;
    int api = api_of_path(h->path);

    if (api < 0) {
        clc_respond_error(h, CLC_API_EC2, 404, "InvalidAction", "There is no service at this path.");
        return;
    }
    if (api == CLC_API_CONSOLE && strcmp(h->method, "POST") != 0) {
        clc_console_serve(c, h, NULL, 0);
        return;
    }
    if (api == CLC_API_OBJECTSTORAGE) {
        st = oc_arena_alloc(h->arena, sizeof(*st));
        if (!st) {
            clc_s3proxy_refuse(h, 500, "InternalError", "out of memory");
            return;
        }
        memset(st, 0, sizeof(*st));
        st->api = CLC_API_OBJECTSTORAGE;
        st->proxy = clc_s3proxy_open(c, h);
        if (st->proxy)
            h->data = st;
        return;
    }
    if (api == CLC_API_METADATA && strcmp(h->method, "GET") != 0) {
        oc_http_respond(h, 405, "text/plain", "Method Not Allowed\n", 19);
        return;
    }
    if (strcmp(h->method, "GET") != 0 && strcmp(h->method, "POST") != 0) {
        clc_respond_error(h, api, 405, "InvalidAction", "The Query API accepts GET and POST only.");
        return;
    }
    if (h->content_length > CLC_MAX_BODY) {
        clc_respond_error(h, api, 413, "RequestEntityTooLarge", "The request body is too large.");
        return;
    }
    st = oc_arena_alloc(h->arena, sizeof(*st));
    if (!st) {
        clc_respond_error(h, api, 500, "InternalError", "An internal error has occurred");
        return;
    }
    st->api = (enum clc_api)api;
    oc_arena_defer(h->arena, (void (*)(void *))oc_buf_free, &st->body);
    h->data = st;
}

static void clc_on_body(struct oc_http_req *h, const char *data, size_t len, void *ctx)
{
    struct clc_http_state *st = h->data;

    (void)ctx;
    if (st && st->proxy) {
        clc_s3proxy_body(st->proxy, data, len);
        return;
    }
    if (!st || st->too_big)
        return;
    if (st->body.len + len > CLC_MAX_BODY || oc_buf_append(&st->body, data, len) != OC_OK)
        st->too_big = 1;
}

/* Runs the handler with a pooled connection; the document goes to b. */
static int run_action(struct clc_req *r, const struct clc_action *a, struct oc_buf *b)
{
    struct oc_err err = { 0 };
    int rc;

    r->db = oc_dbpool_get(r->clc->pool, &err);
    if (!r->db) {
        clc_internal(r, &err);
        rc = CLC_FAILED;
    } else if ((a->flags & CLC_ACTION_CACHEABLE) && oc_db_exec(r->db, "BEGIN", &err)) {
        rc = clc_internal(r, &err);
        oc_dbpool_put(r->clc->pool, r->db);
        r->db = NULL;
    } else {
        /* A read-only action sees one snapshot of clc.db throughout; the
         * pool ends its transaction (nothing to commit). */
        rc = a->fn(r);
        oc_dbpool_put(r->clc->pool, r->db);
        r->db = NULL;
    }
    if (rc == CLC_OK && !r->err_code) {
        clc_reply_begin(r);
        if (r->api == CLC_API_IAM) {
            oc_xmlw_end(r->xml);   /* XResult */
            oc_xmlw_start(r->xml, "ResponseMetadata");
            oc_xmlw_elem(r->xml, "RequestId", r->request_id);
            oc_xmlw_end(r->xml);
        }
        if (oc_xmlw_finish(r->xml, b) == OC_OK) {
            oc_xmlw_free(r->xml);
            r->xml = NULL;
            return 200;
        }
        oc_buf_reset(b);
        clc_error(r, "InternalError", "An internal error has occurred");
    }
    if (!r->err_code)
        clc_error(r, "InternalError", "An internal error has occurred");
    oc_xmlw_free(r->xml);
    r->xml = NULL;
    if (error_doc(r->api, r->err_status, r->err_code, r->err_message, r->request_id, b))
        return 500;
    return r->err_status;
}

/*
 * run_action() through the answer cache.  The generation is read before
 * the handler opens its snapshot, and the answer is stored under it: see
 * clc/cache.h for why that order is the whole argument.  Only 200 answers
 * are stored; errors and DryRun calls always run.
 */
static int run_cached(struct clc_req *r, const struct clc_action *a, struct oc_buf *b)
{
    struct oc_buf key = { 0 };
    uint64_t gen = clc_dbgen_now(r->clc->gen);
    int status;

    if (gen && clc_rcache_key(r->api, &r->who, r->params, &key) == OC_OK &&
        clc_rcache_get(r->clc->cache, &key, gen, r->request_id, b, r->lend)) {
        oc_buf_free(&key);
        return 200;
    }
    status = run_action(r, a, b);
    if (status == 200 && !r->err_code && key.len)
        clc_rcache_put(r->clc->cache, &key, gen, r->request_id, b->data, b->len);
    oc_buf_free(&key);
    return status;
}

/* What follows authentication: action, version, admin check, DryRun, run. */
static int dispatch(struct clc_req *r, struct oc_buf *b)
{
    const struct clc_action *a;
    const char *dry;

    r->action = oc_query_get(r->params, "Action");
    if (!r->action || !*r->action)
        return clc_error(r, "MissingAction", "The request must contain the parameter Action");
    r->version = oc_query_get(r->params, "Version");
    if (!r->version || !*r->version)
        r->version = EC2_DEFAULT_VERSION;
    /* The version becomes a namespace URI: keep it to what versions look like. */
    if (strlen(r->version) > 32 || strspn(r->version, "0123456789-abcdefghijklmnopqrstuvwxyz")
                                       != strlen(r->version)) {
        r->version = EC2_DEFAULT_VERSION;
        return clc_error(r, "InvalidParameterValue", "Invalid Version");
    }
    a = find_action(r->api, r->action);
    if (!a)
        return clc_error(r, "InvalidAction", "%s",
                         r->api == CLC_API_IAM ? "Could not find operation"
                                               : "The action is not valid for this web service.");
    if ((a->flags & CLC_ACTION_ADMIN) && !r->who.is_admin) {
        if (r->api == CLC_API_IAM || r->api == CLC_API_IDENTITY || r->api == CLC_API_CLUSTER ||
            r->api == CLC_API_ADMIN)
            return clc_error(r, "AccessDenied", "Only the eucalyptus account may call %s.",
                             r->action);
        return clc_error(r, "UnauthorizedOperation",
                         "You are not authorized to perform this operation.");
    }
    dry = oc_query_get(r->params, "DryRun");
    if (dry && strcasecmp(dry, "true") == 0)
        r->dry_run = 1;
    else if (dry && strcasecmp(dry, "false") != 0)
        return clc_error(r, "InvalidParameterValue",
                         "Value for parameter DryRun must be true or false");
    if (r->clc->cache && (a->flags & CLC_ACTION_CACHEABLE) && !r->dry_run)
        return run_cached(r, a, b);
    return run_action(r, a, b);
}

/* dispatch() with its early errors turned into documents. */
static int answer(struct clc_req *r, struct oc_buf *b)
{
    int status = dispatch(r, b);

    if (status == CLC_FAILED) {
        if (error_doc(r->api, r->err_status, r->err_code, r->err_message, r->request_id, b))
            return 500;
        return r->err_status;
    }
    return status;
}

int clc_api_invoke(struct clc *c, int api, const struct oc_principal *who, const char *raw,
                   size_t len, struct oc_buf *out, int *status)
{
    struct oc_arena *arena = oc_arena_new();
    struct clc_req *r;
    struct oc_query *q;
    struct oc_err err = { 0 };
    char rid[OC_REQUEST_ID_LEN + 1];

    if (!arena)
        return OC_ENOMEM;
    r = oc_arena_alloc(arena, sizeof(*r));
    q = oc_arena_alloc(arena, sizeof(*q));
    if (!r || !q) {
        oc_arena_free(arena);
        return OC_ENOMEM;
    }
    oc_request_id(rid);
    r->clc = c;
    r->arena = arena;
    r->api = (enum clc_api)api;
    r->request_id = rid;
    r->now = time(NULL);
    r->params = q;
    r->who = *who;
    if (oc_query_parse(arena, raw, len, q, &err) != OC_OK) {
        r->version = EC2_DEFAULT_VERSION;
        clc_error(r, "InvalidParameterValue", "%s", err.msg);
        *status = error_doc(r->api, r->err_status, r->err_code, r->err_message, rid, out)
                      ? 500 : r->err_status;
    } else {
        *status = answer(r, out);
    }
    oc_arena_free(arena);
    return OC_OK;
}

/* CLC_ACTION_CALLS_OUT: the request is suspended and answered from a
 * thread of its own, which resumes it (the arena stays the request's). */
static void *calls_out_main(void *arg)
{
    struct clc_req *r = arg;
    struct oc_http_req *h = r->http;
    struct oc_buf b = { 0 };
    int status = answer(r, &b);

    respond_xml(h, status, &b);
    oc_http_resume(h);
    return NULL;
}

static int calls_out(struct clc_req *r)
{
    const char *name = oc_query_get(r->params, "Action");
    const struct clc_action *a = name ? find_action(r->api, name) : NULL;
    pthread_attr_t attr;
    pthread_t t;
    int rc;

    if (!a || !(a->flags & CLC_ACTION_CALLS_OUT))
        return 0;
    oc_http_suspend(r->http);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&t, &attr, calls_out_main, r);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        clc_respond_error(r->http, r->api, 503, "Unavailable", "The service is overloaded");
        oc_http_resume(r->http);
    }
    return 1;
}

static void clc_on_end(struct oc_http_req *h, void *ctx)
{
    struct clc *c = ctx;
    struct clc_http_state *st = h->data;
    struct clc_req *r;
    struct oc_query *q;
    struct oc_err err = { 0 };
    struct oc_auth_input in = { 0 };
    struct oc_auth_result ar;
    struct oc_auth_error ae = { 0 };
    const char *ctype;
    char body_sha[65];
    int is_post, sess;
    struct oc_query qs3;

    if (!st || oc_http_responded(h))
        return;
    if (st->too_big) {
        clc_respond_error(h, st->api, 413, "RequestEntityTooLarge", "The request body is too large.");
        return;
    }
    if (st->api == CLC_API_CONSOLE) {
        clc_console_serve(c, h, (const char *)st->body.data, st->body.len);
        return;
    }
    if (st->api == CLC_API_OBJECTSTORAGE) {
        struct oc_principal who;

        if (oc_query_parse(h->arena, h->query, strlen(h->query), &qs3, &err) != OC_OK) {
            clc_s3proxy_refuse(h, 400, "InvalidArgument", err.msg);
            return;
        }
        sess = clc_console_auth(c, h, &qs3, &who, &ae);
        if (sess < 0)
            clc_s3proxy_refuse(h, 403, "AccessDenied", ae.message);
        else
            clc_s3proxy_end(st->proxy, sess ? &who : NULL);
        return;
    }
    r = oc_arena_alloc(h->arena, sizeof(*r));
    q = oc_arena_alloc(h->arena, sizeof(*q));
    if (!r || !q) {
        clc_respond_error(h, st->api, 500, "InternalError", "An internal error has occurred");
        return;
    }
    r->clc = c;
    r->http = h;
    r->request_id = h->request_id;
    r->arena = h->arena;
    r->api = st->api;
    r->now = time(NULL);
    r->params = q;

    is_post = strcmp(h->method, "POST") == 0;
    ctype = oc_http_header(h, "content-type");
    if (is_post && st->body.len &&
        (!ctype || strncasecmp(ctype, "application/x-www-form-urlencoded", 33) != 0)) {
        clc_respond_error(h, r->api, 400, "InvalidParameterValue",
                      "POST bodies must be application/x-www-form-urlencoded.");
        return;
    }
    if (is_post && st->body.len) {
        if (oc_query_parse(h->arena, (const char *)st->body.data, st->body.len, q, &err)) {
            clc_respond_error(h, r->api, 400, "InvalidParameterValue", err.msg);
            return;
        }
    } else if (oc_query_parse(h->arena, h->query, strlen(h->query), q, &err)) {
        clc_respond_error(h, r->api, 400, "InvalidParameterValue", err.msg);
        return;
    }
    oc_sha256_hex(st->body.len ? st->body.data : "", st->body.len, body_sha);

    in.method = h->method;
    in.path = h->path;
    in.query = h->query;
    in.headers = h->headers;
    in.nheaders = h->nheaders;
    in.params = q;
    in.service = service_of(r->api);
    in.now = r->now;
    in.body_sha256 = body_sha;
    /* The console's session stands for a signature (clc/console.h). */
    sess = r->api == CLC_API_EC2 || r->api == CLC_API_IAM || r->api == CLC_API_ADMIN
               ? clc_console_auth(c, h, q, &ar.who, &ae) : 0;
    if (sess < 0) {
        clc_respond_error(h, r->api, ae.status,
                      r->api == CLC_API_IAM || r->api == CLC_API_ADMIN ? "AccessDenied"
                                                                        : ae.code,
                      ae.message);
        return;
    }
    if (sess == 0 && oc_auth_verify(&in, &c->creds, &ar, &ae) != OC_OK) {
        auth_failed(h, r->api, &ae);
        return;
    }
    if (sess == 0 && ar.kind == OC_AUTH_ANONYMOUS) {
        if (r->api == CLC_API_IAM)
            clc_respond_error(h, r->api, 403, "MissingAuthenticationToken",
                          "Request is missing Authentication Token");
        else
            clc_respond_error(h, r->api, 401, "AuthFailure",
                          "AWS was not able to validate the provided access credentials");
        return;
    }
    r->who = ar.who;
    if (r->api == CLC_API_METADATA) {
        clc_metadata_serve(r);
        return;
    }
    if (calls_out(r))
        return;

    {
        struct oc_buf b = { 0 };
        struct clc_rcache_lend lend = { 0 };
        int status;

        r->lend = &lend;
        status = answer(r, &b);
        r->lend = NULL;
        if (!lend.entry) {
            respond_xml(h, status, &b);
        } else if (oc_http_respond_ref(h, status, "text/xml;charset=UTF-8", lend.doc, lend.len,
                                       clc_rcache_return, lend.entry) != OC_OK) {
            oc_http_respond(h, 500, NULL, NULL, 0);
        }
        oc_buf_free(&b);
    }
}

static void clc_on_error(struct oc_http_req *h, void *ctx, int status, const char *aws_code,
                         const char *message)
{
    (void)ctx;
    clc_respond_error(h, CLC_API_EC2, status, aws_code ? aws_code : "InternalError",
                  message ? message : "");
}

void clc_http_handler(struct clc *c, struct oc_http_handler *out)
{
    memset(out, 0, sizeof(*out));
    out->on_request = clc_on_request;
    out->on_body = clc_on_body;
    out->on_end = clc_on_end;
    out->on_error = clc_on_error;
    out->ctx = c;
}
