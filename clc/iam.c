/*
 * iam.c - the IAM Query API (Eucalyptus "Euare", /services/Euare): users,
 * access keys and signing certificates, plus Eucalyptus's account actions
 * (CreateAccount, ListAccounts, DeleteAccount) for the cloud administrator.
 *
 * Scope: every action works on one account.  It is the caller's own, or,
 * for the eucalyptus (admin) account only, the one named by Eucalyptus's
 * `DelegateAccount=<name or id>` parameter, as euca2ools' `--as-account`
 * sends it.  A delegated call that omits UserName acts on that account's
 * `admin` user, as Eucalyptus does; an undelegated one on the caller.
 *
 * Permissions: there are no IAM policies yet, so every user of an account
 * may manage that account's users, keys and certificates.  When policies
 * arrive, the check belongs in iam_scope_load().
 *
 * Accounts, users and keys live in clc/identity.c; this file validates
 * parameters, checks scope, keeps the limits IAM documents (two access keys
 * and two signing certificates per user), owns the signing_certs table and
 * writes IAM's documents.  List markers are the last name or id returned:
 * lists are ordered by it, so a marker stays valid while entries change.
 */
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clc/ca.h"
#include "clc/clc.h"
#include "clc/identity.h"
#include "common/codec.h"

#define IAM_MAX_ITEMS 1000
#define IAM_DEFAULT_ITEMS 100
#define IAM_KEYS_PER_USER 2
#define IAM_CERTS_PER_USER 2
#define IAM_CERT_ID_LEN 32
#define IAM_CERT_BODY_MAX 16384
#define IAM_DELEGATE_USER "admin"

/* The account an action works on. */
struct iam_scope {
    struct clc_account acct;
    int delegated;                /* another account than the caller's */
};

/* ------------------------------------------------------------------ */
/* helpers */

static const char *iam_date(struct clc_req *r, time_t t)
{
    struct tm tm;
    char buf[32];

    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return oc_arena_strdup(r->arena, buf);
}

/* An identity-store failure in IAM's words. */
static int iam_fail(struct clc_req *r, int rc, const struct oc_err *err)
{
    switch (rc) {
    case OC_ENOTFOUND:
        return clc_error(r, "NoSuchEntity", "%s", err->msg);
    case OC_EEXIST:
        return clc_error(r, "EntityAlreadyExists", "%s", err->msg);
    case OC_ECONFLICT:
        return clc_error(r, "DeleteConflict", "%s", err->msg);
    case OC_EINVAL:
        return clc_error(r, "ValidationError", "%s", err->msg);
    case OC_EPERM:
        return clc_error(r, "AccessDenied", "%s", err->msg);
    default:
        return clc_internal(r, err);
    }
}

static int iam_denied(struct clc_req *r)
{
    return clc_error(r, "AccessDenied", "User: arn:aws:iam::%s:user/%s is not authorized to "
                     "perform: iam:%s", r->who.account_id, r->who.user_name, r->action);
}

/* AWS's wording for a constraint a parameter fails. */
static int iam_invalid(struct clc_req *r, const char *field, const char *value,
                       const char *constraint)
{
    return clc_error(r, "ValidationError", "1 validation error detected: Value '%s' at '%s' "
                     "failed to satisfy constraint: Member %s", value, field, constraint);
}

/* IAM's user name pattern [\w+=,.@-]+, 1 to 64 characters. */
static int iam_check_user_name(struct clc_req *r, const char *field, const char *name)
{
    if (!*name)
        return iam_invalid(r, field, name, "must have length greater than or equal to 1");
    if (strlen(name) > 64)
        return iam_invalid(r, field, name, "must have length less than or equal to 64");
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                     "_+=,.@-") != strlen(name))
        return iam_invalid(r, field, name,
                           "must satisfy regular expression pattern: [\\w+=,.@-]+");
    return CLC_OK;
}

/* Access key and certificate ids: [\w]+ of min..max characters. */
static int iam_check_id(struct clc_req *r, const char *field, const char *id, size_t min,
                        size_t max)
{
    size_t n = strlen(id);

    if (n < min)
        return clc_error(r, "ValidationError", "1 validation error detected: Value '%s' at "
                         "'%s' failed to satisfy constraint: Member must have length greater "
                         "than or equal to %zu", id, field, min);
    if (n > max)
        return clc_error(r, "ValidationError", "1 validation error detected: Value '%s' at "
                         "'%s' failed to satisfy constraint: Member must have length less "
                         "than or equal to %zu", id, field, max);
    if (strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n)
        return iam_invalid(r, field, id, "must satisfy regular expression pattern: [\\w]+");
    return CLC_OK;
}

/* Paths and path prefixes: begin with '/', printable ASCII, at most 512. */
static int iam_check_path(struct clc_req *r, const char *field, const char *path, int prefix)
{
    const char *pattern = prefix
        ? "must satisfy regular expression pattern: \\u002F[\\u0021-\\u007F]*"
        : "must satisfy regular expression pattern: "
          "(\\u002F)|(\\u002F[\\u0021-\\u007F]+\\u002F)";

    if (!*path)
        return iam_invalid(r, field, path, "must have length greater than or equal to 1");
    if (strlen(path) > 512)
        return iam_invalid(r, field, path, "must have length less than or equal to 512");
    for (const char *c = path; *c; c++)
        if ((unsigned char)*c < 0x21 || (unsigned char)*c > 0x7e)
            return iam_invalid(r, field, path, pattern);
    if (path[0] != '/' || (!prefix && path[strlen(path) - 1] != '/'))
        return iam_invalid(r, field, path, pattern);
    return CLC_OK;
}

/* Active|Inactive, as IAM's StatusType. */
static int iam_status_param(struct clc_req *r, int *active)
{
    const char *s;

    if (clc_param_required(r, "Status", &s) != CLC_OK)
        return CLC_FAILED;
    if (strcmp(s, "Active") == 0)
        *active = 1;
    else if (strcmp(s, "Inactive") == 0)
        *active = 0;
    else
        return iam_invalid(r, "status", s, "must satisfy enum value set: [Active, Inactive]");
    return CLC_OK;
}

/* "true"/"false" in any case; absent = def. */
static int iam_bool_param(struct clc_req *r, const char *name, int def, int *out)
{
    const char *v = clc_param(r, name);

    *out = def;
    if (!v || !*v)
        return CLC_OK;
    if (strcasecmp(v, "true") == 0)
        *out = 1;
    else if (strcasecmp(v, "false") == 0)
        *out = 0;
    else
        return clc_error(r, "ValidationError", "Value '%s' for %s must be true or false", v,
                         name);
    return CLC_OK;
}

/*
 * The account this call works on: DelegateAccount (admin only, or the
 * caller's own account named explicitly), else the caller's.
 */
static int iam_scope_load(struct clc_req *r, struct iam_scope *s)
{
    const char *delegate = clc_param(r, "DelegateAccount");
    struct oc_err err = { 0 };
    int rc;

    memset(s, 0, sizeof(*s));
    if (delegate && *delegate && strcmp(delegate, r->who.account_id) != 0 &&
        strcmp(delegate, r->who.account_name) != 0) {
        if (!clc_is_admin(r))
            return iam_denied(r);
        rc = clc_account_find(r->db, delegate, &s->acct, &err);
        if (rc == OC_ENOTFOUND)
            return clc_error(r, "NoSuchEntity", "The account %s cannot be found.", delegate);
        if (rc)
            return clc_internal(r, &err);
        s->delegated = strcmp(s->acct.id, r->who.account_id) != 0;
        return CLC_OK;
    }
    rc = clc_account_find(r->db, r->who.account_id, &s->acct, &err);
    if (rc)
        return clc_internal(r, &err);   /* the caller's account vanished under it */
    return CLC_OK;
}

/* UserName, or the user the call implicitly names (see the header). */
static int iam_user_param(struct clc_req *r, const struct iam_scope *s, const char **out)
{
    const char *name = clc_param(r, "UserName");

    if (name && iam_check_user_name(r, "userName", name) != CLC_OK)
        return CLC_FAILED;
    if (!name)
        name = s->delegated ? IAM_DELEGATE_USER : r->who.user_name;
    *out = name;
    return CLC_OK;
}

/* The user must exist in the scope's account (NoSuchEntity otherwise). */
static int iam_user_load(struct clc_req *r, const struct iam_scope *s, const char *name,
                         struct clc_user *u)
{
    struct oc_err err = { 0 };
    int rc = clc_user_find(r->db, s->acct.id, name, u, &err);

    if (rc == OC_ENOTFOUND)
        return clc_error(r, "NoSuchEntity", "The user with name %s cannot be found.", name);
    return rc ? iam_fail(r, rc, &err) : CLC_OK;
}

struct iam_page {
    const char *marker;           /* last name/id of the previous page, or NULL */
    size_t max;
};

/* Marker and MaxItems (1..1000, default 100). */
static int iam_page_parse(struct clc_req *r, struct iam_page *p)
{
    const char *mi = clc_param(r, "MaxItems");
    const char *mk = clc_param(r, "Marker");
    char *end;
    long long v;

    p->max = IAM_DEFAULT_ITEMS;
    p->marker = NULL;
    if (mi) {
        v = strtoll(mi, &end, 10);
        if (!*mi || *end)
            return clc_error(r, "ValidationError", "Invalid value '%s' for MaxItems", mi);
        if (v < 1)
            return iam_invalid(r, "maxItems", mi, "must have value greater than or equal to 1");
        if (v > IAM_MAX_ITEMS)
            return iam_invalid(r, "maxItems", mi,
                               "must have value less than or equal to 1000");
        p->max = (size_t)v;
    }
    if (mk) {
        if (!*mk)
            return iam_invalid(r, "marker", mk, "must have length greater than or equal to 1");
        if (strlen(mk) > 320)
            return iam_invalid(r, "marker", mk, "must have length less than or equal to 320");
        p->marker = mk;
    }
    return CLC_OK;
}

/* Closes a listing: IsTruncated, and Marker when there is more. */
static void iam_page_end(struct oc_xmlw *w, int truncated, const char *last)
{
    oc_xmlw_elem(w, "IsTruncated", truncated ? "true" : "false");
    if (truncated)
        oc_xmlw_elem(w, "Marker", last);
}

/* Grows an arena array of fixed-size elements by one slot. */
static void *iam_grow(struct clc_req *r, void **v, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        void *nv = oc_arena_calloc(r->arena, ncap, size);

        if (*n)
            memcpy(nv, *v, *n * size);
        *v = nv;
        *cap = ncap;
    }
    return (char *)*v + (*n)++ * size;
}

/* ------------------------------------------------------------------ */
/* accounts (Eucalyptus extensions, admin only) */

static void iam_write_account(struct oc_xmlw *w, const char *elem, const struct clc_account *a)
{
    oc_xmlw_start(w, elem);
    oc_xmlw_elem(w, "AccountName", a->name);
    oc_xmlw_elem(w, "AccountId", a->id);
    oc_xmlw_end(w);
}

static int iam_create_account(struct clc_req *r)
{
    struct oc_err err = { 0 };
    struct clc_account a;
    const char *name;
    int rc;

    if (!clc_is_admin(r))
        return iam_denied(r);
    if (clc_param_required(r, "AccountName", &name) != CLC_OK)
        return CLC_FAILED;
    rc = clc_account_create(clc_identity_of(r), r->db, name, &a, &err);
    if (rc == OC_EEXIST)
        return clc_error(r, "EntityAlreadyExists", "Account %s already exists.", name);
    if (rc)
        return iam_fail(r, rc, &err);
    iam_write_account(clc_reply_begin(r), "Account", &a);
    return CLC_OK;
}

struct account_list {
    struct clc_req *r;
    struct clc_account *v;
    size_t n, cap;
};

static int collect_account(void *arg, const struct clc_account *a)
{
    struct account_list *l = arg;

    *(struct clc_account *)iam_grow(l->r, (void **)&l->v, &l->n, &l->cap, sizeof(*a)) = *a;
    return 0;
}

static int iam_list_accounts(struct clc_req *r)
{
    struct account_list l = { .r = r };
    struct oc_err err = { 0 };
    struct oc_xmlw *w;
    int rc;

    if (!clc_is_admin(r))
        return iam_denied(r);
    rc = clc_account_foreach(r->db, collect_account, &l, &err);
    if (rc)
        return iam_fail(r, rc, &err);
    w = clc_reply_begin(r);
    oc_xmlw_start(w, "Accounts");
    for (size_t i = 0; i < l.n; i++)
        iam_write_account(w, "member", &l.v[i]);
    oc_xmlw_end(w);
    oc_xmlw_elem(w, "IsTruncated", "false");
    return CLC_OK;
}

static int iam_delete_account(struct clc_req *r)
{
    struct oc_err err = { 0 };
    struct clc_account a;
    const char *name;
    int recursive, rc;

    if (!clc_is_admin(r))
        return iam_denied(r);
    if (clc_param_required(r, "AccountName", &name) != CLC_OK ||
        iam_bool_param(r, "Recursive", 0, &recursive) != CLC_OK)
        return CLC_FAILED;
    rc = clc_account_find(r->db, name, &a, &err);
    if (rc == OC_ENOTFOUND)
        return clc_error(r, "NoSuchEntity", "The account %s cannot be found.", name);
    if (rc)
        return iam_fail(r, rc, &err);
    if (strcmp(a.name, OC_ADMIN_ACCOUNT) == 0)
        return clc_error(r, "DeleteConflict", "The %s account cannot be deleted.",
                         OC_ADMIN_ACCOUNT);
    rc = clc_account_delete(clc_identity_of(r), r->db, a.id, recursive, &err);
    if (rc == OC_ECONFLICT)
        return clc_error(r, "DeleteConflict", "Cannot delete account %s: it still has users "
                         "(use Recursive=true).", a.name);
    if (rc)
        return iam_fail(r, rc, &err);
    clc_identity_flush(clc_identity_of(r));
    clc_reply_begin(r);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* users */

static void iam_write_user(struct clc_req *r, struct oc_xmlw *w, const char *elem,
                           const struct clc_user *u)
{
    oc_xmlw_start(w, elem);
    oc_xmlw_elem(w, "Path", u->path);
    oc_xmlw_elem(w, "UserName", u->name);
    oc_xmlw_elem(w, "UserId", u->user_id);
    oc_xmlw_elemf(w, "Arn", "arn:aws:iam::%s:user%s%s", u->account_id, u->path, u->name);
    oc_xmlw_elem(w, "CreateDate", iam_date(r, u->created));
    oc_xmlw_end(w);
}

/* IAM user names are unique without regard to case. */
struct user_clash {
    const char *name;
    const char *found;
};

static int find_clash(void *arg, const struct clc_user *u)
{
    struct user_clash *c = arg;

    if (strcasecmp(u->name, c->name) == 0) {
        c->found = "";
        return 1;
    }
    return 0;
}

static int iam_create_user(struct clc_req *r)
{
    struct iam_scope s;
    struct oc_err err = { 0 };
    struct clc_user u;
    struct user_clash clash = { 0 };
    const char *name, *path;
    int rc;

    if (clc_param_required(r, "UserName", &name) != CLC_OK ||
        iam_check_user_name(r, "userName", name) != CLC_OK)
        return CLC_FAILED;
    path = clc_param(r, "Path");
    if (path && iam_check_path(r, "path", path, 0) != CLC_OK)
        return CLC_FAILED;
    if (iam_scope_load(r, &s) != CLC_OK)
        return CLC_FAILED;
    rc = oc_db_begin(r->db, &err);
    if (rc)
        return clc_internal(r, &err);
    clash.name = name;
    rc = clc_user_foreach(r->db, s.acct.id, find_clash, &clash, &err);
    if (rc == OC_OK && clash.found)
        rc = oc_err_set(&err, OC_EEXIST, "User with name %s already exists.", name);
    if (rc == OC_OK)
        rc = clc_user_create(r->db, s.acct.id, name, path ? path : "/", &u, &err);
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return iam_fail(r, rc, &err);
    }
    iam_write_user(r, clc_reply_begin(r), "User", &u);
    return CLC_OK;
}

static int iam_get_user(struct clc_req *r)
{
    struct iam_scope s;
    struct clc_user u;
    const char *name;

    if (iam_scope_load(r, &s) != CLC_OK || iam_user_param(r, &s, &name) != CLC_OK ||
        iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    iam_write_user(r, clc_reply_begin(r), "User", &u);
    return CLC_OK;
}

struct user_list {
    struct clc_req *r;
    const char *prefix;
    const char *after;
    size_t limit;                 /* collect one more than a page to know */
    struct clc_user *v;
    size_t n, cap;
};

static int collect_user(void *arg, const struct clc_user *u)
{
    struct user_list *l = arg;

    /* clc_user_foreach orders by name (binary), the marker's order. */
    if (l->after && strcmp(u->name, l->after) <= 0)
        return 0;
    if (l->prefix && strncmp(u->path, l->prefix, strlen(l->prefix)) != 0)
        return 0;
    *(struct clc_user *)iam_grow(l->r, (void **)&l->v, &l->n, &l->cap, sizeof(*u)) = *u;
    return l->n >= l->limit;
}

static int iam_list_users(struct clc_req *r)
{
    struct iam_scope s;
    struct iam_page p;
    struct user_list l = { .r = r };
    struct oc_err err = { 0 };
    struct oc_xmlw *w;
    const char *prefix = clc_param(r, "PathPrefix");
    size_t shown;
    int rc;

    if (prefix && iam_check_path(r, "pathPrefix", prefix, 1) != CLC_OK)
        return CLC_FAILED;
    if (iam_page_parse(r, &p) != CLC_OK || iam_scope_load(r, &s) != CLC_OK)
        return CLC_FAILED;
    l.prefix = prefix;
    l.after = p.marker;
    l.limit = p.max + 1;
    rc = clc_user_foreach(r->db, s.acct.id, collect_user, &l, &err);
    if (rc)
        return iam_fail(r, rc, &err);
    shown = l.n > p.max ? p.max : l.n;
    w = clc_reply_begin(r);
    oc_xmlw_start(w, "Users");
    for (size_t i = 0; i < shown; i++)
        iam_write_user(r, w, "member", &l.v[i]);
    oc_xmlw_end(w);
    iam_page_end(w, l.n > p.max, shown ? l.v[shown - 1].name : NULL);
    return CLC_OK;
}

static int iam_delete_user(struct clc_req *r)
{
    struct iam_scope s;
    struct oc_err err = { 0 };
    struct clc_user u;
    const char *name;
    int rc;

    if (clc_param_required(r, "UserName", &name) != CLC_OK ||
        iam_check_user_name(r, "userName", name) != CLC_OK || iam_scope_load(r, &s) != CLC_OK ||
        iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    rc = oc_db_begin(r->db, &err);
    if (rc)
        return clc_internal(r, &err);
    rc = clc_user_delete(clc_identity_of(r), r->db, s.acct.id, name, &err);
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return iam_fail(r, rc, &err);
    }
    clc_identity_flush(clc_identity_of(r));
    clc_reply_begin(r);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* access keys */

struct key_list {
    struct clc_req *r;
    struct clc_access_key *v;
    size_t n, cap;
};

static int collect_key(void *arg, const struct clc_access_key *k)
{
    struct key_list *l = arg;

    *(struct clc_access_key *)iam_grow(l->r, (void **)&l->v, &l->n, &l->cap, sizeof(*k)) = *k;
    return 0;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(((const struct clc_access_key *)a)->id,
                  ((const struct clc_access_key *)b)->id);
}

static int iam_create_access_key(struct clc_req *r)
{
    struct iam_scope s;
    struct key_list l = { .r = r };
    struct oc_err err = { 0 };
    struct clc_access_key k;
    struct clc_user u;
    struct oc_xmlw *w;
    char secret[OC_SECRET_KEY_LEN + 1];
    const char *name;
    int rc;

    if (iam_scope_load(r, &s) != CLC_OK || iam_user_param(r, &s, &name) != CLC_OK ||
        iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    /* The count and the insert in one IMMEDIATE transaction: two racing
     * calls cannot both see one key and make a third. */
    rc = oc_db_begin(r->db, &err);
    if (rc)
        return clc_internal(r, &err);
    rc = clc_key_foreach(r->db, s.acct.id, u.name, collect_key, &l, &err);
    if (rc == OC_OK && l.n >= IAM_KEYS_PER_USER) {
        oc_db_rollback(r->db);
        return clc_error(r, "LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: %d",
                         IAM_KEYS_PER_USER);
    }
    if (rc == OC_OK)
        rc = clc_key_create(clc_identity_of(r), r->db, s.acct.id, u.name, &k, secret, &err);
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return iam_fail(r, rc, &err);
    }
    clc_identity_flush(clc_identity_of(r));
    w = clc_reply_begin(r);
    oc_xmlw_start(w, "AccessKey");
    oc_xmlw_elem(w, "UserName", k.user_name);
    oc_xmlw_elem(w, "AccessKeyId", k.id);
    oc_xmlw_elem(w, "Status", k.active ? "Active" : "Inactive");
    oc_xmlw_elem(w, "SecretAccessKey", secret);
    oc_xmlw_elem(w, "CreateDate", iam_date(r, k.created));
    oc_xmlw_end(w);
    OPENSSL_cleanse(secret, sizeof(secret));
    return CLC_OK;
}

static int iam_list_access_keys(struct clc_req *r)
{
    struct iam_scope s;
    struct iam_page p;
    struct key_list l = { .r = r };
    struct oc_err err = { 0 };
    struct clc_user u;
    struct oc_xmlw *w;
    const char *name, *last = NULL;
    size_t shown = 0, i;
    int rc;

    if (iam_page_parse(r, &p) != CLC_OK || iam_scope_load(r, &s) != CLC_OK ||
        iam_user_param(r, &s, &name) != CLC_OK || iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    rc = clc_key_foreach(r->db, s.acct.id, u.name, collect_key, &l, &err);
    if (rc)
        return iam_fail(r, rc, &err);
    if (l.n > 1)
        qsort(l.v, l.n, sizeof(*l.v), key_cmp);
    i = 0;
    if (p.marker)
        while (i < l.n && strcmp(l.v[i].id, p.marker) <= 0)
            i++;
    w = clc_reply_begin(r);
    oc_xmlw_start(w, "AccessKeyMetadata");
    for (; i < l.n && shown < p.max; i++, shown++) {
        oc_xmlw_start(w, "member");
        oc_xmlw_elem(w, "UserName", l.v[i].user_name);
        oc_xmlw_elem(w, "AccessKeyId", l.v[i].id);
        oc_xmlw_elem(w, "Status", l.v[i].active ? "Active" : "Inactive");
        oc_xmlw_elem(w, "CreateDate", iam_date(r, l.v[i].created));
        oc_xmlw_end(w);
        last = l.v[i].id;
    }
    oc_xmlw_end(w);
    iam_page_end(w, i < l.n, last);
    return CLC_OK;
}

/* AccessKeyId, which must belong to the user the call names. */
static int iam_key_load(struct clc_req *r, struct iam_scope *s, struct clc_access_key *k)
{
    struct oc_err err = { 0 };
    struct clc_user u;
    const char *id, *name;
    int rc;

    if (clc_param_required(r, "AccessKeyId", &id) != CLC_OK ||
        iam_check_id(r, "accessKeyId", id, 16, 128) != CLC_OK || iam_scope_load(r, s) != CLC_OK ||
        iam_user_param(r, s, &name) != CLC_OK || iam_user_load(r, s, name, &u) != CLC_OK)
        return CLC_FAILED;
    rc = clc_key_find(r->db, id, k, &err);
    if (rc == OC_OK && (strcmp(k->account_id, s->acct.id) != 0 ||
                        strcmp(k->user_name, u.name) != 0))
        rc = OC_ENOTFOUND;    /* another user's key is not there for this caller */
    if (rc == OC_ENOTFOUND)
        return clc_error(r, "NoSuchEntity", "The Access Key with id %s cannot be found.", id);
    return rc ? iam_fail(r, rc, &err) : CLC_OK;
}

static int iam_update_access_key(struct clc_req *r)
{
    struct iam_scope s;
    struct clc_access_key k;
    struct oc_err err = { 0 };
    int active, rc;

    if (iam_status_param(r, &active) != CLC_OK || iam_key_load(r, &s, &k) != CLC_OK)
        return CLC_FAILED;
    rc = clc_key_set_active(clc_identity_of(r), r->db, k.id, active, &err);
    if (rc)
        return iam_fail(r, rc, &err);
    clc_identity_flush(clc_identity_of(r));
    clc_reply_begin(r);
    return CLC_OK;
}

static int iam_delete_access_key(struct clc_req *r)
{
    struct iam_scope s;
    struct clc_access_key k;
    struct oc_err err = { 0 };
    int rc;

    if (iam_key_load(r, &s, &k) != CLC_OK)
        return CLC_FAILED;
    rc = clc_key_delete(clc_identity_of(r), r->db, k.id, &err);
    if (rc)
        return iam_fail(r, rc, &err);
    clc_identity_flush(clc_identity_of(r));
    clc_reply_begin(r);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* signing certificates (X.509; bundle manifests are checked against them) */

struct iam_cert {
    const char *id;
    const char *user_name;
    const char *pem;
    int active;
    time_t created;
};

static void iam_write_cert(struct clc_req *r, struct oc_xmlw *w, const char *elem,
                           const struct iam_cert *c)
{
    oc_xmlw_start(w, elem);
    oc_xmlw_elem(w, "UserName", c->user_name);
    oc_xmlw_elem(w, "CertificateId", c->id);
    oc_xmlw_elem(w, "CertificateBody", c->pem);
    oc_xmlw_elem(w, "Status", c->active ? "Active" : "Inactive");
    oc_xmlw_elem(w, "UploadDate", iam_date(r, c->created));
    oc_xmlw_end(w);
}

static const char *col_text(struct clc_req *r, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    return oc_arena_strdup(r->arena, t ? (const char *)t : "");
}

/*
 * Parses one PEM certificate and re-encodes it, so the same certificate
 * always has the same text (the duplicate check compares it) and anything
 * around the PEM block is dropped.  NULL with the IAM error chosen.
 */
static const char *iam_cert_canonical(struct clc_req *r, const char *body)
{
    BIO *in = BIO_new_mem_buf(body, (int)strlen(body));
    BIO *out = BIO_new(BIO_s_mem());
    X509 *x = in ? PEM_read_bio_X509(in, NULL, NULL, NULL) : NULL;
    const char *pem = NULL;
    char *data = NULL;
    long n = 0;

    if (!in || !out) {
        clc_error(r, "ServiceFailure", "The certificate could not be processed.");
    } else if (!x) {
        clc_error(r, "MalformedCertificate", "Unable to parse the certificate body as an "
                  "X.509 certificate in PEM format.");
    } else if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
        clc_error(r, "MalformedCertificate", "The certificate has expired.");
    } else {
        if (PEM_write_bio_X509(out, x))
            n = BIO_get_mem_data(out, &data);
        if (n > 0)
            pem = oc_arena_strndup(r->arena, data, (size_t)n);
        else
            clc_error(r, "ServiceFailure", "The certificate could not be processed.");
    }
    /* A failed parse leaves entries on this thread's OpenSSL error queue. */
    ERR_clear_error();
    X509_free(x);
    BIO_free(in);
    BIO_free(out);
    return pem;
}

/* IAM-style id: uppercase letters and digits. */
static void iam_cert_id(char out[IAM_CERT_ID_LEN + 1])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char rnd[64];
    size_t n = 0;

    while (n < IAM_CERT_ID_LEN) {
        oc_random_bytes(rnd, sizeof(rnd));
        for (size_t i = 0; i < sizeof(rnd) && n < IAM_CERT_ID_LEN; i++)
            if (rnd[i] < 252)     /* 252 = 7 * 36: no bias */
                out[n++] = alphabet[rnd[i] % 36];
    }
    out[n] = '\0';
}

static long long iam_count(struct clc_req *r, const char *sql, const char *a1,
                           const char *a2, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(r->db, sql, err);
    long long n = -1;

    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        oc_db_fail(r->db, err, "count signing certificates");
    sqlite3_reset(st);
    return n;
}

/* Stores pem (canonical) as a new active certificate of user u in the
 * scope's account: IAM's duplicate and per-user limits, then the row.
 * c is filled for the answer. */
static int iam_cert_store(struct clc_req *r, const struct iam_scope *s,
                          const struct clc_user *u, const char *pem, struct iam_cert *c)
{
    struct oc_err err = { 0 };
    char id[IAM_CERT_ID_LEN + 1];
    long long n;
    int rc;

    rc = oc_db_begin(r->db, &err);
    if (rc)
        return clc_internal(r, &err);
    n = iam_count(r, "SELECT count(*) FROM signing_certs WHERE account_id = ? AND pem = ?",
                  s->acct.id, pem, &err);
    if (n > 0) {
        oc_db_rollback(r->db);
        return clc_error(r, "DuplicateCertificate", "The same certificate is already "
                         "associated with a user of this account.");
    }
    if (n == 0)
        n = iam_count(r, "SELECT count(*) FROM signing_certs WHERE account_id = ?"
                         " AND user_name = ?", s->acct.id, u->name, &err);
    if (n >= IAM_CERTS_PER_USER) {
        oc_db_rollback(r->db);
        return clc_error(r, "LimitExceeded", "Cannot exceed quota for "
                         "SigningCertificatesPerUser: %d", IAM_CERTS_PER_USER);
    }
    if (n < 0) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    iam_cert_id(id);
    c->id = oc_arena_strdup(r->arena, id);
    c->user_name = oc_arena_strdup(r->arena, u->name);
    c->pem = pem;
    c->active = 1;
    c->created = time(NULL);
    rc = oc_db_run(r->db, "INSERT INTO signing_certs (id, account_id, user_name, pem,"
                          " active, created) VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                   NULL, &err, "ssssi", c->id, s->acct.id, u->name, pem,
                   (long long)c->created);
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    return CLC_OK;
}

static int iam_upload_signing_certificate(struct clc_req *r)
{
    struct iam_scope s;
    struct clc_user u;
    struct iam_cert c = { 0 };
    const char *name, *body, *pem;

    if (clc_param_required(r, "CertificateBody", &body) != CLC_OK)
        return CLC_FAILED;
    if (strlen(body) > IAM_CERT_BODY_MAX)
        return clc_error(r, "ValidationError", "1 validation error detected: Value at "
                         "'certificateBody' failed to satisfy constraint: Member must have "
                         "length less than or equal to %d", IAM_CERT_BODY_MAX);
    if (iam_scope_load(r, &s) != CLC_OK || iam_user_param(r, &s, &name) != CLC_OK ||
        iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    pem = iam_cert_canonical(r, body);
    if (!pem || iam_cert_store(r, &s, &u, pem, &c) != CLC_OK)
        return CLC_FAILED;
    iam_write_cert(r, clc_reply_begin(r), "Certificate", &c);
    return CLC_OK;
}

/*
 * Eucalyptus's CreateSigningCertificate: the cloud CA (clc/ca.h) makes a
 * key pair and a certificate for the user; the certificate is stored like
 * an uploaded one, and the private key is returned once and never kept.
 */
static int iam_create_signing_certificate(struct clc_req *r)
{
    struct iam_scope s;
    struct clc_user u;
    struct iam_cert c = { 0 };
    struct oc_err err = { 0 };
    struct oc_xmlw *w;
    const char *name, *pem;
    char *key = NULL, *cert = NULL;

    if (iam_scope_load(r, &s) != CLC_OK || iam_user_param(r, &s, &name) != CLC_OK ||
        iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (clc_ca_issue(clc_home(r), s.acct.id, s.acct.name, u.name, &key, &cert, &err))
        return clc_internal(r, &err);
    pem = iam_cert_canonical(r, cert);
    free(cert);
    if (!pem || iam_cert_store(r, &s, &u, pem, &c) != CLC_OK) {
        OPENSSL_cleanse(key, strlen(key));
        free(key);
        return CLC_FAILED;
    }
    w = clc_reply_begin(r);
    iam_write_cert(r, w, "Certificate", &c);
    oc_xmlw_elem(w, "PrivateKey", key);
    OPENSSL_cleanse(key, strlen(key));
    free(key);
    return CLC_OK;
}

/* ------------------------------------------------------------------ */
/* login profiles (console passwords; clc/identity.h keeps the hashes) */

#define IAM_PASSWORD_MIN 8
#define IAM_PASSWORD_MAX 128

static int iam_password_param(struct clc_req *r, const char **out)
{
    if (clc_param_required(r, "Password", out) != CLC_OK)
        return CLC_FAILED;
    if (strlen(*out) < IAM_PASSWORD_MIN || strlen(*out) > IAM_PASSWORD_MAX)
        return clc_error(r, "PasswordPolicyViolation", "Password should have a minimum "
                         "length of %d and at most %d characters.", IAM_PASSWORD_MIN,
                         IAM_PASSWORD_MAX);
    return CLC_OK;
}

static void iam_write_login(struct clc_req *r, const char *user, time_t created, int reset)
{
    struct oc_xmlw *w = clc_reply_begin(r);

    oc_xmlw_start(w, "LoginProfile");
    oc_xmlw_elem(w, "UserName", user);
    oc_xmlw_elem(w, "CreateDate", iam_date(r, created));
    oc_xmlw_elem(w, "PasswordResetRequired", reset ? "true" : "false");
    oc_xmlw_end(w);
}

static int iam_login_change(struct clc_req *r, int create)
{
    struct iam_scope s;
    struct clc_user u;
    struct oc_err err = { 0 };
    const char *name, *password;
    int reset, rc;
    time_t created = 0;

    if (iam_scope_load(r, &s) != CLC_OK || iam_user_param(r, &s, &name) != CLC_OK ||
        iam_user_load(r, &s, name, &u) != CLC_OK || iam_password_param(r, &password) ||
        iam_bool_param(r, "PasswordResetRequired", 0, &reset) != CLC_OK)
        return CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;
    rc = clc_login_set(r->db, s.acct.id, u.name, password, create, reset, &err);
    if (rc == OC_OK && create)
        rc = clc_login_get(r->db, s.acct.id, u.name, &created, &reset, &err);
    if (rc)
        return iam_fail(r, rc, &err);
    if (create)
        iam_write_login(r, u.name, created, reset);
    return CLC_OK;
}

static int iam_create_login_profile(struct clc_req *r)
{
    return iam_login_change(r, 1);
}

static int iam_update_login_profile(struct clc_req *r)
{
    return iam_login_change(r, 0);
}

static int iam_get_login_profile(struct clc_req *r)
{
    struct iam_scope s;
    struct clc_user u;
    struct oc_err err = { 0 };
    const char *name;
    time_t created;
    int reset, rc;

    if (iam_scope_load(r, &s) != CLC_OK || iam_user_param(r, &s, &name) != CLC_OK ||
        iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    rc = clc_login_get(r->db, s.acct.id, u.name, &created, &reset, &err);
    if (rc)
        return iam_fail(r, rc, &err);
    iam_write_login(r, u.name, created, reset);
    return CLC_OK;
}

static int iam_delete_login_profile(struct clc_req *r)
{
    struct iam_scope s;
    struct clc_user u;
    struct oc_err err = { 0 };
    const char *name;
    int rc;

    if (iam_scope_load(r, &s) != CLC_OK || iam_user_param(r, &s, &name) != CLC_OK ||
        iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;
    rc = clc_login_delete(r->db, s.acct.id, u.name, &err);
    return rc ? iam_fail(r, rc, &err) : CLC_OK;
}

static int iam_list_signing_certificates(struct clc_req *r)
{
    struct iam_scope s;
    struct iam_page p;
    struct oc_err err = { 0 };
    struct clc_user u;
    struct oc_xmlw *w;
    const char *name, *last = NULL;
    sqlite3_stmt *st;
    size_t shown = 0;
    int rc, more = 0;

    if (iam_page_parse(r, &p) != CLC_OK || iam_scope_load(r, &s) != CLC_OK ||
        iam_user_param(r, &s, &name) != CLC_OK || iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    st = oc_db_prepare(r->db, "SELECT id, user_name, pem, active, created FROM signing_certs"
                              " WHERE account_id = ?1 AND user_name = ?2"
                              " AND (?3 IS NULL OR id > ?3) ORDER BY id", &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, s.acct.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, u.name, -1, SQLITE_STATIC);
    if (p.marker)
        sqlite3_bind_text(st, 3, p.marker, -1, SQLITE_STATIC);
    w = clc_reply_begin(r);
    oc_xmlw_start(w, "Certificates");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct iam_cert c;

        if (shown == p.max) {
            more = 1;
            break;
        }
        c.id = col_text(r, st, 0);
        c.user_name = col_text(r, st, 1);
        c.pem = col_text(r, st, 2);
        c.active = sqlite3_column_int(st, 3);
        c.created = (time_t)sqlite3_column_int64(st, 4);
        iam_write_cert(r, w, "member", &c);
        last = c.id;
        shown++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "list signing certificates");
        sqlite3_reset(st);
        return clc_internal(r, &err);
    }
    sqlite3_reset(st);
    oc_xmlw_end(w);
    iam_page_end(w, more, last);
    return CLC_OK;
}

/* Runs an UPDATE/DELETE of one certificate of the named user. */
static int iam_cert_change(struct clc_req *r, int del)
{
    struct iam_scope s;
    struct oc_err err = { 0 };
    struct clc_user u;
    const char *id, *name;
    sqlite3_stmt *st;
    int active = 0, rc;

    if (clc_param_required(r, "CertificateId", &id) != CLC_OK ||
        iam_check_id(r, "certificateId", id, 24, 128) != CLC_OK ||
        (!del && iam_status_param(r, &active) != CLC_OK) || iam_scope_load(r, &s) != CLC_OK ||
        iam_user_param(r, &s, &name) != CLC_OK || iam_user_load(r, &s, name, &u) != CLC_OK)
        return CLC_FAILED;
    st = del ? oc_db_prepare(r->db, "DELETE FROM signing_certs WHERE id = ?1"
                                    " AND account_id = ?2 AND user_name = ?3", &err)
             : oc_db_prepare(r->db, "UPDATE signing_certs SET active = ?4 WHERE id = ?1"
                                    " AND account_id = ?2 AND user_name = ?3", &err);
    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, s.acct.id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, u.name, -1, SQLITE_STATIC);
    if (!del)
        sqlite3_bind_int(st, 4, active);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "change signing certificate");
        return clc_internal(r, &err);
    }
    if (sqlite3_changes(oc_db_handle(r->db)) == 0)
        return clc_error(r, "NoSuchEntity", "The Certificate with id %s cannot be found.", id);
    clc_reply_begin(r);
    return CLC_OK;
}

static int iam_update_signing_certificate(struct clc_req *r)
{
    return iam_cert_change(r, 0);
}

static int iam_delete_signing_certificate(struct clc_req *r)
{
    return iam_cert_change(r, 1);
}

/* ------------------------------------------------------------------ */

const struct clc_action clc_iam_actions[] = {
    { "CreateAccount", iam_create_account, CLC_ACTION_ADMIN },
    { "ListAccounts", iam_list_accounts, CLC_ACTION_ADMIN },
    { "DeleteAccount", iam_delete_account, CLC_ACTION_ADMIN },
    { "CreateUser", iam_create_user, 0 },
    { "GetUser", iam_get_user, 0 },
    { "ListUsers", iam_list_users, 0 },
    { "DeleteUser", iam_delete_user, 0 },
    { "CreateAccessKey", iam_create_access_key, 0 },
    { "ListAccessKeys", iam_list_access_keys, 0 },
    { "UpdateAccessKey", iam_update_access_key, 0 },
    { "DeleteAccessKey", iam_delete_access_key, 0 },
    { "UploadSigningCertificate", iam_upload_signing_certificate, 0 },
    { "ListSigningCertificates", iam_list_signing_certificates, 0 },
    { "UpdateSigningCertificate", iam_update_signing_certificate, 0 },
    { "DeleteSigningCertificate", iam_delete_signing_certificate, 0 },
    { "CreateSigningCertificate", iam_create_signing_certificate, 0 },
    { "CreateLoginProfile", iam_create_login_profile, 0 },
    { "UpdateLoginProfile", iam_update_login_profile, 0 },
    { "GetLoginProfile", iam_get_login_profile, 0 },
    { "DeleteLoginProfile", iam_delete_login_profile, 0 },
    { NULL, NULL, 0 },
};
