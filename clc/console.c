/*
 * console.c - console sessions, login and static files (see console.h).
 *
 * A session is two random 256-bit values: the cookie token (only its
 * SHA-256 is kept, so the table cannot be replayed from a memory dump of
 * it) and the CSRF token the page sends back in X-Overcast-Csrf.  The
 * table is a fixed array under one mutex; a full table drops its least
 * recently used session.  Sessions end after CLC_SESSION_IDLE seconds
 * unused or CLC_SESSION_MAX seconds in all, at logout, and as soon as the
 * user, its login profile (password sessions) or its key (key sessions)
 * is gone or disabled.
 */
#include "clc/console.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clc/api.h"
#include "clc/clc.h"
#include "clc/identity.h"
#include "common/codec.h"
#include "common/log.h"
#include "common/xml.h"

#ifndef OC_CONSOLE_DIR
#define OC_CONSOLE_DIR "/usr/share/overcast/console"
#endif

#define COOKIE "oc_session"
#define CSRF_HEADER "x-overcast-csrf"
#define TOKEN_BYTES 32
#define TOKEN_HEX (2 * TOKEN_BYTES)
#define MAX_SESSIONS 1024

struct session {
    int used;
    uint8_t token_hash[32];        /* SHA-256 of the cookie's token */
    char csrf[TOKEN_HEX + 1];
    struct oc_principal who;       /* secret always empty */
    int by_key;                    /* logged in with an access key */
    time_t created, last_used;
};

struct clc_console {
    char *dir;
    long idle_s, max_s;
    pthread_mutex_t lock;
    struct session s[MAX_SESSIONS];
};

int clc_console_new(const struct oc_config *conf, struct clc_console **out, struct oc_err *err)
{
    struct clc_console *k = calloc(1, sizeof(*k));
    const char *dir = oc_config_get(conf, "CLC_CONSOLE_DIR", OC_CONSOLE_DIR);

    if (!k || !(k->dir = strdup(dir))) {
        free(k);
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    }
    k->idle_s = atol(oc_config_get(conf, "CLC_SESSION_IDLE", "3600"));
    k->max_s = atol(oc_config_get(conf, "CLC_SESSION_MAX", "43200"));
    if (k->idle_s <= 0 || k->max_s <= 0) {
        free(k->dir);
        free(k);
        return oc_err_set(err, OC_EINVAL, "CLC_SESSION_IDLE and CLC_SESSION_MAX must be "
                          "positive numbers of seconds");
    }
    pthread_mutex_init(&k->lock, NULL);
    *out = k;
    return OC_OK;
}

void clc_console_free(struct clc_console *k)
{
    if (!k)
        return;
    OPENSSL_cleanse(k->s, sizeof(k->s));
    pthread_mutex_destroy(&k->lock);
    free(k->dir);
    free(k);
}

int clc_console_path(const char *path)
{
    return strcmp(path, "/console") == 0 || strncmp(path, "/console/", 9) == 0;
}

/* ------------------------------------------------------------------ */
/* the session table */

int clc_console_cookie(const char *c, char out[65])
{

    while (c && *c) {
        while (*c == ' ' || *c == ';')
            c++;
        if (strncmp(c, COOKIE "=", sizeof(COOKIE)) == 0) {
            const char *v = c + sizeof(COOKIE);
            size_t n = strcspn(v, "; ");

            if (n != TOKEN_HEX || strspn(v, "0123456789abcdef") < TOKEN_HEX)
                return 0;
            memcpy(out, v, TOKEN_HEX);
            out[TOKEN_HEX] = '\0';
            return 1;
        }
        c = strchr(c, ';');
    }
    return 0;
}

/* The session token of the request's Cookie header, or 0. */
static int cookie_token(const struct oc_http_req *h, char out[TOKEN_HEX + 1])
{
    return clc_console_cookie(oc_http_header(h, "cookie"), out);
}

/* The live session of token (lock held), or NULL; expired ones are freed. */
static struct session *find_locked(struct clc_console *k, const char *token, time_t now)
{
    uint8_t hash[32];

    oc_sha256(token, TOKEN_HEX, hash);
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        struct session *s = &k->s[i];

        if (!s->used || !oc_ct_equal(s->token_hash, 32, hash, 32))
            continue;
        if (now - s->last_used > k->idle_s || now - s->created > k->max_s) {
            memset(s, 0, sizeof(*s));
            return NULL;
        }
        return s;
    }
    return NULL;
}

/* A new session for who; token and csrf receive its two values. */
static void session_add(struct clc_console *k, const struct oc_principal *who, int by_key,
                        char token[TOKEN_HEX + 1], char csrf[TOKEN_HEX + 1])
{
    uint8_t rnd[TOKEN_BYTES];
    struct session *slot = NULL;
    time_t now = time(NULL);

    oc_random_bytes(rnd, sizeof(rnd));
    oc_hex_encode(rnd, sizeof(rnd), token);
    oc_random_bytes(rnd, sizeof(rnd));
    oc_hex_encode(rnd, sizeof(rnd), csrf);
    OPENSSL_cleanse(rnd, sizeof(rnd));
    pthread_mutex_lock(&k->lock);
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        struct session *s = &k->s[i];

        if (s->used && (now - s->last_used > k->idle_s || now - s->created > k->max_s))
            memset(s, 0, sizeof(*s));
        if (!s->used) {
            slot = s;
            break;
        }
        if (!slot || s->last_used < slot->last_used)
            slot = s;
    }
    memset(slot, 0, sizeof(*slot));
    slot->used = 1;
    oc_sha256(token, TOKEN_HEX, slot->token_hash);
    memcpy(slot->csrf, csrf, TOKEN_HEX + 1);
    slot->who = *who;
    OPENSSL_cleanse(slot->who.secret_key, sizeof(slot->who.secret_key));
    slot->by_key = by_key;
    slot->created = slot->last_used = now;
    pthread_mutex_unlock(&k->lock);
}

/* Copies the live session of the request's cookie; 0 when there is none. */
static int session_of(struct clc_console *k, const struct oc_http_req *h, struct session *out)
{
    char token[TOKEN_HEX + 1];
    struct session *s;
    int found = 0;

    if (!cookie_token(h, token))
        return 0;
    pthread_mutex_lock(&k->lock);
    s = find_locked(k, token, time(NULL));
    if (s) {
        s->last_used = time(NULL);
        *out = *s;
        found = 1;
    }
    pthread_mutex_unlock(&k->lock);
    return found;
}

static void session_drop(struct clc_console *k, const struct oc_http_req *h)
{
    char token[TOKEN_HEX + 1];
    struct session *s;

    if (!cookie_token(h, token))
        return;
    pthread_mutex_lock(&k->lock);
    s = find_locked(k, token, time(NULL));
    if (s)
        memset(s, 0, sizeof(*s));
    pthread_mutex_unlock(&k->lock);
}

/* Whether the session's user (and its login profile or key) still stands. */
static int session_valid(struct clc *c, const struct session *s)
{
    struct oc_err err = { 0 };
    struct oc_db *db = oc_dbpool_get(clc_pool(c), &err);
    struct oc_principal p;
    struct clc_user u;
    int ok = 0;

    if (!db)
        return 0;
    if (s->by_key) {
        ok = clc_key_principal(clc_identity(c), db, s->who.access_key_id, &p, &err) == OC_OK &&
             p.active;
        OPENSSL_cleanse(&p, sizeof(p));
    } else {
        ok = clc_user_find(db, s->who.account_id, s->who.user_name, &u, &err) == OC_OK &&
             clc_login_get(db, s->who.account_id, s->who.user_name, NULL, NULL, &err) == OC_OK;
    }
    oc_dbpool_put(clc_pool(c), db);
    return ok;
}

static int refuse(struct oc_auth_error *ae, int status, const char *code, const char *msg)
{
    ae->code = code;
    ae->status = status;
    snprintf(ae->message, sizeof(ae->message), "%s", msg);
    return -1;
}

int clc_console_auth(struct clc *c, const struct oc_http_req *h, const struct oc_query *params,
                     struct oc_principal *who, struct oc_auth_error *ae)
{
    char token[TOKEN_HEX + 1];
    const char *csrf;
    struct session s;

    if (!cookie_token(h, token) || oc_http_header(h, "authorization") ||
        oc_query_get(params, "Signature") || oc_query_get(params, "X-Amz-Signature"))
        return 0;
    if (!session_of(clc_console_of(c), h, &s))
        return refuse(ae, 401, "AuthFailure", "The console session has ended; log in again.");
    csrf = oc_http_header(h, CSRF_HEADER);
    if (!csrf || !oc_ct_equal(csrf, strlen(csrf), s.csrf, TOKEN_HEX))
        return refuse(ae, 403, "AccessDenied", "The request lacks the session's CSRF token "
                      "(X-Overcast-Csrf).");
    if (!session_valid(c, &s)) {
        session_drop(clc_console_of(c), h);
        return refuse(ae, 401, "AuthFailure", "The user of this console session no longer "
                      "exists or was disabled; log in again.");
    }
    *who = s.who;
    return 1;
}

struct first_key {
    char id[OC_ACCESS_KEY_LEN + 1];
};

static int take_active(void *arg, const struct clc_access_key *k)
{
    struct first_key *f = arg;

    if (!k->active)
        return 0;
    snprintf(f->id, sizeof(f->id), "%s", k->id);
    return 1;
}

int clc_console_signer(struct clc *c, const struct oc_principal *who, struct oc_principal *key,
                       struct oc_err *err)
{
    struct oc_db *db = oc_dbpool_get(clc_pool(c), err);
    struct first_key f = { { 0 } };
    int rc = OC_OK;

    if (!db)
        return OC_EDB;
    if (who->access_key_id[0])
        snprintf(f.id, sizeof(f.id), "%s", who->access_key_id);
    else
        rc = clc_key_foreach(db, who->account_id, who->user_name, take_active, &f, err);
    if (rc == OC_OK && !f.id[0])
        rc = oc_err_set(err, OC_ENOTFOUND, "user %s has no active access key, which the "
                        "object store needs", who->user_name);
    if (rc == OC_OK)
        rc = clc_key_principal(clc_identity(c), db, f.id, key, err);
    if (rc == OC_OK && !key->active)
        rc = oc_err_set(err, OC_ENOTFOUND, "the access key %s is inactive", f.id);
    oc_dbpool_put(clc_pool(c), db);
    return rc;
}

/* ------------------------------------------------------------------ */
/* answers */

/* The EC2-style error document the console's page reads. */
static void xml_error(struct oc_http_req *h, int status, const char *code, const char *msg)
{
    clc_respond_error(h, CLC_API_EC2, status, code, msg);
}

static void session_answer(struct oc_http_req *h, const struct oc_principal *who,
                           const char *csrf)
{
    struct oc_xmlw *w = oc_xmlw_new("LoginResponse", NULL);
    struct oc_buf b = { 0 };

    oc_xmlw_elem(w, "CsrfToken", csrf);
    oc_xmlw_elem(w, "AccountName", who->account_name);
    oc_xmlw_elem(w, "AccountId", who->account_id);
    oc_xmlw_elem(w, "UserName", who->user_name);
    oc_xmlw_elem(w, "IsAdmin", who->is_admin ? "true" : "false");
    oc_http_add_header(h, "Cache-Control", "no-store");
    if (oc_xmlw_finish(w, &b) == OC_OK)
        oc_http_respond_buf(h, 200, "text/xml;charset=UTF-8", &b);
    else
        oc_http_respond(h, 500, NULL, NULL, 0);
    oc_buf_free(&b);
    oc_xmlw_free(w);
}

/* Who the login form names, or -1 with the answer sent. */
static int login_check(struct clc *c, struct oc_http_req *h, const struct oc_query *q,
                       struct oc_principal *who, int *by_key)
{
    const char *acct = oc_query_get(q, "Account"), *user = oc_query_get(q, "UserName");
    const char *pw = oc_query_get(q, "Password"), *ak = oc_query_get(q, "AccessKeyId");
    const char *sk = oc_query_get(q, "SecretAccessKey");
    struct oc_err err = { 0 };
    struct oc_db *db;
    struct clc_account a;
    int ok = 0;

    memset(who, 0, sizeof(*who));
    if (!(ak && *ak && sk && *sk) && !(acct && *acct && user && *user && pw && *pw)) {
        xml_error(h, 400, "MissingParameter", "Log in with Account, UserName and Password, "
                  "or with AccessKeyId and SecretAccessKey.");
        return -1;
    }
    db = oc_dbpool_get(clc_pool(c), &err);
    if (!db) {
        xml_error(h, 500, "InternalError", "An internal error has occurred");
        return -1;
    }
    if (ak && *ak) {
        *by_key = 1;
        ok = clc_key_principal(clc_identity(c), db, ak, who, &err) == OC_OK && who->active &&
             oc_ct_equal(sk, strlen(sk), who->secret_key, strlen(who->secret_key));
        OPENSSL_cleanse(who->secret_key, sizeof(who->secret_key));
    } else if (clc_account_find(db, acct, &a, &err) == OC_OK &&
               clc_login_check(db, a.id, user, pw, &err) == OC_OK) {
        *by_key = 0;
        snprintf(who->account_id, sizeof(who->account_id), "%s", a.id);
        snprintf(who->account_name, sizeof(who->account_name), "%.63s", a.name);
        snprintf(who->user_name, sizeof(who->user_name), "%s", user);
        who->is_admin = strcmp(a.name, OC_ADMIN_ACCOUNT) == 0;
        who->active = 1;
        ok = 1;
    }
    oc_dbpool_put(clc_pool(c), db);
    if (!ok) {
        oc_info("console: failed login from %s (%s)", h->remote_addr,
                ak && *ak ? "access key" : "password");
        xml_error(h, 403, "AuthFailure", "The account, user name and password (or the access "
                  "key pair) are not valid.");
        return -1;
    }
    return 0;
}

static void set_cookie(struct oc_http_req *h, const char *token, long max_age)
{
    char v[200];

    snprintf(v, sizeof(v), COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld",
             token, max_age);
    oc_http_add_header(h, "Set-Cookie", v);
}

static void api_login(struct clc *c, struct oc_http_req *h, const char *body, size_t len)
{
    struct clc_console *k = clc_console_of(c);
    struct oc_query q;
    struct oc_err err = { 0 };
    struct oc_principal who;
    char token[TOKEN_HEX + 1], csrf[TOKEN_HEX + 1];
    int by_key = 0;

    if (oc_query_parse(h->arena, body ? body : "", len, &q, &err) != OC_OK) {
        xml_error(h, 400, "InvalidParameterValue", err.msg);
        return;
    }
    if (login_check(c, h, &q, &who, &by_key) != 0)
        return;
    /* A new login never reuses the session the browser may still hold. */
    session_drop(k, h);
    session_add(k, &who, by_key, token, csrf);
    oc_info("console: %s/%s logged in from %s", who.account_name, who.user_name,
            h->remote_addr);
    set_cookie(h, token, k->max_s);
    session_answer(h, &who, csrf);
    OPENSSL_cleanse(token, sizeof(token));
}

static void api_session(struct clc *c, struct oc_http_req *h, int logout)
{
    struct clc_console *k = clc_console_of(c);
    struct session s;
    const char *csrf;

    if (!session_of(k, h, &s) || !session_valid(c, &s)) {
        session_drop(k, h);
        xml_error(h, 401, "AuthFailure", "There is no console session; log in.");
        return;
    }
    if (!logout) {
        session_answer(h, &s.who, s.csrf);
        return;
    }
    csrf = oc_http_header(h, CSRF_HEADER);
    if (!csrf || !oc_ct_equal(csrf, strlen(csrf), s.csrf, TOKEN_HEX)) {
        xml_error(h, 403, "AccessDenied", "The request lacks the session's CSRF token "
                  "(X-Overcast-Csrf).");
        return;
    }
    session_drop(k, h);
    set_cookie(h, "", 0);
    oc_http_respond(h, 200, "text/xml;charset=UTF-8", "<LogoutResponse/>", 17);
}

/* ------------------------------------------------------------------ */
/* static files */

static const char *mime_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
        { ".svg", "image/svg+xml" }, { ".png", "image/png" }, { ".ico", "image/x-icon" },
        { ".json", "application/json" }, { ".txt", "text/plain; charset=utf-8" },
    };
    const char *dot = strrchr(path, '.');

    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

int clc_console_rel_ok(const char *rel)
{
    const char *p = rel;

    if (!*rel || strlen(rel) > 200)
        return 0;
    while (*p) {
        size_t n = strcspn(p, "/");

        if (n == 0 || p[0] == '.' ||
            strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") < n)
            return 0;
        p += n;
        if (*p == '/')
            p++;
    }
    return p[-1] != '/';
}

static void serve_file(struct clc_console *k, struct oc_http_req *h, const char *rel)
{
    char *path = NULL;
    struct stat sb;
    int fd;

    if (!clc_console_rel_ok(rel) || asprintf(&path, "%s/%s", k->dir, rel) < 0) {
        free(path);
        oc_http_respond(h, 404, "text/plain", "Not Found\n", 10);
        return;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        else if (errno != ENOENT)
            oc_warn("console: %s: %s", path, strerror(errno));
        free(path);
        oc_http_respond(h, 404, "text/plain", "Not Found\n", 10);
        return;
    }
    free(path);
    oc_http_add_header(h, "Content-Type", mime_of(rel));
    oc_http_add_header(h, "Cache-Control", "no-cache");
    oc_http_add_header(h, "X-Content-Type-Options", "nosniff");
    oc_http_add_header(h, "X-Frame-Options", "DENY");
    oc_http_add_header(h, "Content-Security-Policy",
                       "default-src 'self'; img-src 'self' data: blob:; "
                       "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
    if (oc_http_respond_fd(h, 200, fd, 0, (uint64_t)sb.st_size) != OC_OK)
        oc_http_respond(h, 500, NULL, NULL, 0);
}

void clc_console_serve(struct clc *c, struct oc_http_req *h, const char *body, size_t len)
{
    struct clc_console *k = clc_console_of(c);
    const char *rel = h->path + 8;        /* after "/console" */
    int get = strcmp(h->method, "GET") == 0, post = strcmp(h->method, "POST") == 0;

    if (!*rel) {
        /* Relative links in the page resolve against /console/. */
        oc_http_add_header(h, "Location", "/console/");
        oc_http_respond(h, 301, "text/plain", "Moved\n", 6);
        return;
    }
    rel++;
    if (strncmp(rel, "api/", 4) == 0) {
        rel += 4;
        if (post && strcmp(rel, "login") == 0)
            api_login(c, h, body, len);
        else if (get && strcmp(rel, "session") == 0)
            api_session(c, h, 0);
        else if (post && strcmp(rel, "logout") == 0)
            api_session(c, h, 1);
        else
            xml_error(h, 404, "InvalidAction", "No such console call.");
        return;
    }
    if (!get) {
        oc_http_respond(h, 405, "text/plain", "Method Not Allowed\n", 19);
        return;
    }
    serve_file(k, h, *rel ? rel : "index.html");
}
