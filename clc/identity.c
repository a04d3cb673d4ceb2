/*
 * identity.c - accounts, users and access keys in clc.db.
 *
 * Secrets are sealed with AES-256-GCM under the host key (random 12-byte
 * IV, the access key id as associated data), stored as iv || ciphertext ||
 * tag.  Principals are cached so a busy server does not query and decrypt
 * on every request.  A cached principal is used only while clc.db has not
 * changed since it was read (the generation of clc/cache.h, which sees
 * commits of every connection and process), so a key deleted or made
 * inactive, here or by another process, stops working with the next
 * request; the two-second lifetime is a backstop, and the only bound when
 * no generation is attached (clc_identity_set_dbgen()).
 */
#include "clc/identity.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clc/cache.h"
#include "clc/clc.h"
#include "common/codec.h"
#include "common/fsutil.h"

#define HOST_KEY_LEN 32
#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16
#define CACHE_SLOTS 256
#define CACHE_TTL_S 2

struct cache_slot {
    struct oc_principal p;
    time_t at;
    uint64_t gen;                    /* generation of clc.db it was read in */
    int used;
};

struct clc_identity {
    struct oc_dbpool *pool;
    struct clc_dbgen *gen;           /* borrowed; NULL: the lifetime alone */
    pthread_mutex_t lock;            /* the cache */
    uint8_t key[HOST_KEY_LEN];
    struct cache_slot cache[CACHE_SLOTS];
};

static int load_host_key(const char *path, uint8_t key[HOST_KEY_LEN], struct oc_err *err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = oc_read_file(path, 4096, &data, &len, err);

    if (rc == OC_ENOTFOUND) {
        uint8_t k[HOST_KEY_LEN];
        char hex[2 * HOST_KEY_LEN + 2];

        oc_random_bytes(k, sizeof(k));
        oc_hex_encode(k, sizeof(k), hex);
        strcat(hex, "\n");
        rc = oc_write_file_atomic(path, hex, strlen(hex), 0600, err);
        if (rc)
            return rc;
        memcpy(key, k, HOST_KEY_LEN);
        OPENSSL_cleanse(k, sizeof(k));
        OPENSSL_cleanse(hex, sizeof(hex));
        return OC_OK;
    }
    if (rc)
        return rc;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (oc_hex_decode(data, len, key, HOST_KEY_LEN) != HOST_KEY_LEN)
        rc = oc_err_set(err, OC_EINVAL, "%s is not a 64-hex-digit key", path);
    OPENSSL_cleanse(data, len);
    free(data);
    return rc;
}

static int seal(const struct clc_identity *s, const char *aad, const char *plain,
                uint8_t *out, size_t *outlen)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok, plen = (int)strlen(plain);

    oc_random_bytes(out, GCM_IV_LEN);
    ok = c && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, s->key, out) &&
         EVP_EncryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) &&
         EVP_EncryptUpdate(c, out + GCM_IV_LEN, &n, (const uint8_t *)plain, plen) &&
         EVP_EncryptFinal_ex(c, out + GCM_IV_LEN + n, &n) &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, out + GCM_IV_LEN + plen);
    EVP_CIPHER_CTX_free(c);
    *outlen = (size_t)(GCM_IV_LEN + plen + GCM_TAG_LEN);
    return ok ? OC_OK : OC_EINTERNAL;
}

static int unseal(const struct clc_identity *s, const char *aad, const uint8_t *in,
                  size_t inlen, char *out, size_t outcap)
{
    EVP_CIPHER_CTX *c;
    int n = 0, n2 = 0, ok;
    size_t clen;

    if (inlen < GCM_IV_LEN + GCM_TAG_LEN)
        return OC_EINVAL;
    clen = inlen - GCM_IV_LEN - GCM_TAG_LEN;
    if (clen + 1 > outcap)
        return OC_EINVAL;
    c = EVP_CIPHER_CTX_new();
    ok = c && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, s->key, in) &&
         EVP_DecryptUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) &&
         EVP_DecryptUpdate(c, (uint8_t *)out, &n, in + GCM_IV_LEN, (int)clen) &&
         EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
                             (void *)(in + GCM_IV_LEN + clen)) &&
         EVP_DecryptFinal_ex(c, (uint8_t *)out + n, &n2) > 0;
    EVP_CIPHER_CTX_free(c);
    if (!ok)
        return OC_EAUTH;
    out[n + n2] = '\0';
    return OC_OK;
}

static void random_chars(char *out, size_t n, const char *alphabet)
{
    size_t alen = strlen(alphabet);
    uint8_t r[64];

    while (n) {
        size_t k = n < sizeof(r) ? n : sizeof(r);

        oc_random_bytes(r, k);
        for (size_t i = 0; i < k; i++) {
            /* Rejection sampling keeps every character equally likely. */
            if (r[i] >= 256 - 256 % alen)
                continue;
            *out++ = alphabet[r[i] % alen];
            n--;
            if (!n)
                break;
        }
    }
    *out = '\0';
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* ---- the store ---- */

int clc_identity_open(const char *key_path, struct oc_dbpool *pool, struct clc_identity **out,
                      struct oc_err *err)
{
    struct clc_identity *s = calloc(1, sizeof(*s));
    int rc;

    if (!s)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = load_host_key(key_path, s->key, err);
    if (rc) {
        free(s);
        return rc;
    }
    s->pool = pool;
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return OC_OK;
}

void clc_identity_free(struct clc_identity *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    OPENSSL_cleanse(s->key, sizeof(s->key));
    OPENSSL_cleanse(s->cache, sizeof(s->cache));
    free(s);
}

void clc_identity_set_dbgen(struct clc_identity *s, struct clc_dbgen *gen)
{
    s->gen = gen;
    clc_identity_flush(s);
}

void clc_identity_flush(struct clc_identity *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    OPENSSL_cleanse(s->cache, sizeof(s->cache));
    pthread_mutex_unlock(&s->lock);
}

/*
 * Runs a one-row SELECT bound to up to two text parameters; fill() reads
 * the row.  OC_ENOTFOUND (with the message given) when there is none.
 */
static int find_row(struct oc_db *db, const char *sql, const char *a1, const char *a2,
                    void (*fill)(sqlite3_stmt *st, void *out), void *out,
                    const char *what, const char *missing, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, sql, err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
    if (a2)
        sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        fill(st, out);
        rc = OC_OK;
    } else if (rc == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "%s", missing);
    } else {
        rc = oc_db_fail(db, err, what);
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- accounts ---- */

static int account_name_ok(const char *name, struct oc_err *err)
{
    size_t n = strlen(name);

    if (n < 3 || n > 63)
        return oc_err_set(err, OC_EINVAL, "account name must be 3 to 63 characters");
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return oc_err_set(err, OC_EINVAL,
                              "account name '%s' may hold only a-z, 0-9 and '-'", name);
    if (name[0] == '-' || name[n - 1] == '-')
        return oc_err_set(err, OC_EINVAL, "account name '%s' may not start or end with '-'",
                          name);
    return OC_OK;
}

static void account_from_row(sqlite3_stmt *st, void *out)
{
    struct clc_account *a = out;

    memset(a, 0, sizeof(*a));
    copy_col(a->id, sizeof(a->id), st, 0);
    copy_col(a->name, sizeof(a->name), st, 1);
    a->created = (time_t)sqlite3_column_int64(st, 2);
}

int clc_account_create(struct clc_identity *s, struct oc_db *db, const char *name,
                       struct clc_account *out, struct oc_err *err)
{
    char id[OC_ACCOUNT_ID_LEN + 1];
    struct clc_account other;
    sqlite3_stmt *st;
    int rc = OC_OK;

    (void)s;
    rc = account_name_ok(name, err);
    if (rc)
        return rc;
    if (clc_account_find(db, name, &other, NULL) == OC_OK)
        return oc_err_set(err, OC_EEXIST, "account '%s' already exists", name);
    rc = oc_db_begin(db, err);
    if (rc)
        return rc;
    for (int attempt = 0; attempt < 8; attempt++) {
        random_chars(id, 1, "123456789");
        random_chars(id + 1, OC_ACCOUNT_ID_LEN - 1, "0123456789");
        st = oc_db_prepare(db, "INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)", err);
        if (!st) {
            rc = OC_EDB;
            break;
        }
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE) {
            rc = OC_OK;
            break;
        }
        if (rc == SQLITE_CONSTRAINT_UNIQUE) {
            rc = oc_err_set(err, OC_EEXIST, "account '%s' already exists", name);
            break;
        }
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
            rc = OC_EEXIST;
            continue;   /* id collision: try another id */
        }
        rc = oc_db_fail(db, err, "create account");
        break;
    }
    if (rc == OC_OK)
        rc = clc_secgroup_create_default(db, id, err);
    if (rc == OC_OK)
        rc = oc_db_commit(db, err);
    if (rc) {
        oc_db_rollback(db);
        return rc;
    }
    return clc_account_find(db, id, out, err);
}

int clc_account_find(struct oc_db *db, const char *id_or_name, struct clc_account *out,
                     struct oc_err *err)
{
    char missing[160];

    snprintf(missing, sizeof(missing), "no account '%.100s'", id_or_name);
    return find_row(db, "SELECT id, name, created FROM accounts WHERE id = ?1 OR name = ?1",
                    id_or_name, NULL, account_from_row, out, "find account", missing, err);
}

int clc_account_foreach(struct oc_db *db, int (*fn)(void *arg, const struct clc_account *a),
                        void *arg, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT id, name, created FROM accounts"
                                         " ORDER BY name", err);
    int rc;

    if (!st)
        return OC_EDB;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct clc_account a;

        account_from_row(st, &a);
        if (fn(arg, &a))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, "list accounts");
}

/* Runs one statement with one text parameter; OC_OK when it succeeded. */
static int exec1(struct oc_db *db, const char *sql, const char *a1, const char *a2,
                 struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, sql, err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
    if (a2)
        sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? OC_OK : oc_db_fail(db, err, "update");
}

static long long count1(struct oc_db *db, const char *sql, const char *a1, const char *a2,
                        struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, sql, err);
    long long n = -1;

    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, a1, -1, SQLITE_STATIC);
    if (a2)
        sqlite3_bind_text(st, 2, a2, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        oc_db_fail(db, err, "count");
    sqlite3_reset(st);
    return n;
}

/*
 * The account's resources in every table that has an account_id.  Tables
 * added by later issues (instances, addresses, ...) are listed when they
 * exist, so deleting an account never leaves rows without an owner.
 */
static const char *const account_tables[] = {
    "tags", "keypairs", "security_groups", "images", "image_launch_perms",
    "signing_certs", NULL,
};

int clc_account_delete(struct clc_identity *s, struct oc_db *db, const char *account_id,
                       int recursive, struct oc_err *err)
{
    struct clc_account a;
    long long users;
    int rc = clc_account_find(db, account_id, &a, err);

    if (rc)
        return rc;
    if (strcmp(a.name, OC_ADMIN_ACCOUNT) == 0)
        return oc_err_set(err, OC_EPERM, "the %s account cannot be deleted", OC_ADMIN_ACCOUNT);
    rc = oc_db_begin(db, err);
    if (rc)
        return rc;
    users = count1(db, "SELECT count(*) FROM users WHERE account_id = ?", a.id, NULL, err);
    if (users < 0) {
        rc = OC_EDB;
    } else if (users > 0 && !recursive) {
        rc = oc_err_set(err, OC_ECONFLICT, "account '%s' still has %lld users", a.name, users);
    } else {
        for (size_t i = 0; rc == OC_OK && account_tables[i]; i++) {
            char sql[160];
            sqlite3_stmt *st;

            /* Table names come from the constant list above, never input. */
            snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE account_id = ?",
                     account_tables[i]);
            if (sqlite3_prepare_v2(oc_db_handle(db), sql, -1, &st, NULL) != SQLITE_OK) {
                rc = oc_db_fail(db, err, "delete account resources");
                break;
            }
            sqlite3_bind_text(st, 1, a.id, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = oc_db_fail(db, err, "delete account resources");
            sqlite3_finalize(st);
        }
        if (rc == OC_OK)
            rc = exec1(db, "DELETE FROM access_keys WHERE account_id = ?", a.id, NULL, err);
        if (rc == OC_OK)
            rc = exec1(db, "DELETE FROM users WHERE account_id = ?", a.id, NULL, err);
        if (rc == OC_OK)
            rc = exec1(db, "DELETE FROM accounts WHERE id = ?", a.id, NULL, err);
    }
    if (rc == OC_OK)
        rc = oc_db_commit(db, err);
    if (rc)
        oc_db_rollback(db);
    clc_identity_flush(s);
    return rc;
}

/* ---- users ---- */

static int user_name_ok(const char *name, struct oc_err *err)
{
    if (!*name || strlen(name) > 64)
        return oc_err_set(err, OC_EINVAL, "user name must be 1 to 64 characters");
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || strchr("+=,.@_-", *c)))
            return oc_err_set(err, OC_EINVAL, "user name '%s' has invalid characters", name);
    return OC_OK;
}

static void user_from_row(sqlite3_stmt *st, void *out)
{
    struct clc_user *u = out;

    memset(u, 0, sizeof(*u));
    copy_col(u->account_id, sizeof(u->account_id), st, 0);
    copy_col(u->name, sizeof(u->name), st, 1);
    copy_col(u->user_id, sizeof(u->user_id), st, 2);
    copy_col(u->path, sizeof(u->path), st, 3);
    u->created = (time_t)sqlite3_column_int64(st, 4);
}

int clc_user_create(struct oc_db *db, const char *account_id, const char *name,
                    const char *path, struct clc_user *out, struct oc_err *err)
{
    char uid[24];
    sqlite3_stmt *st;
    int rc = user_name_ok(name, err);

    if (rc)
        return rc;
    if (!path || !*path)
        path = "/";
    if (path[0] != '/' || path[strlen(path) - 1] != '/' || strlen(path) > 512)
        return oc_err_set(err, OC_EINVAL, "path '%s' must begin and end with '/'", path);
    memcpy(uid, "AIDA", 4);
    random_chars(uid + 4, 17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    st = oc_db_prepare(db, "INSERT INTO users (account_id, name, user_id, path, created)"
                           " VALUES (?, ?, ?, ?, ?)", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, uid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, path, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return oc_err_set(err, OC_EEXIST, "User with name %s already exists.", name);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return oc_err_set(err, OC_ENOTFOUND, "no account %s", account_id);
    if (rc != SQLITE_DONE)
        return oc_db_fail(db, err, "create user");
    return out ? clc_user_find(db, account_id, name, out, err) : OC_OK;
}

int clc_user_find(struct oc_db *db, const char *account_id, const char *name,
                  struct clc_user *out, struct oc_err *err)
{
    char missing[160];

    snprintf(missing, sizeof(missing), "The user with name %.80s cannot be found.", name);
    return find_row(db, "SELECT account_id, name, user_id, path, created FROM users"
                        " WHERE account_id = ? AND name = ?", account_id, name, user_from_row,
                    out, "find user", missing, err);
}

int clc_user_foreach(struct oc_db *db, const char *account_id,
                     int (*fn)(void *arg, const struct clc_user *u), void *arg,
                     struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT account_id, name, user_id, path, created"
                                         " FROM users WHERE account_id = ? ORDER BY name", err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct clc_user u;

        user_from_row(st, &u);
        if (fn(arg, &u))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, "list users");
}

int clc_user_delete(struct clc_identity *s, struct oc_db *db, const char *account_id,
                    const char *name, struct oc_err *err)
{
    struct clc_user u;
    long long keys, certs, logins;
    int rc = clc_user_find(db, account_id, name, &u, err);

    if (rc)
        return rc;
    keys = count1(db, "SELECT count(*) FROM access_keys WHERE account_id = ? AND user_name = ?",
                  account_id, name, err);
    certs = count1(db, "SELECT count(*) FROM signing_certs WHERE account_id = ?"
                       " AND user_name = ?", account_id, name, err);
    logins = count1(db, "SELECT count(*) FROM login_profiles WHERE account_id = ?"
                        " AND user_name = ?", account_id, name, err);
    if (keys < 0 || certs < 0 || logins < 0)
        return OC_EDB;
    if (keys + certs + logins > 0)
        return oc_err_set(err, OC_ECONFLICT, "Cannot delete entity, must delete %s first.",
                          keys ? "access keys" : certs ? "signing certificates"
                                                       : "login profile");
    rc = exec1(db, "DELETE FROM users WHERE account_id = ? AND name = ?", account_id, name,
               err);
    clc_identity_flush(s);
    return rc;
}

/* ---- keys ---- */

static void key_from_row(sqlite3_stmt *st, void *out)
{
    struct clc_access_key *k = out;

    memset(k, 0, sizeof(*k));
    copy_col(k->id, sizeof(k->id), st, 0);
    copy_col(k->account_id, sizeof(k->account_id), st, 1);
    copy_col(k->user_name, sizeof(k->user_name), st, 2);
    k->active = sqlite3_column_int(st, 3);
    k->created = (time_t)sqlite3_column_int64(st, 4);
}

int clc_key_create(struct clc_identity *s, struct oc_db *db, const char *account_id,
                   const char *user_name, struct clc_access_key *out,
                   char secret[OC_SECRET_KEY_LEN + 1], struct oc_err *err)
{
    char akid[OC_ACCESS_KEY_LEN + 1];
    uint8_t sealed[GCM_IV_LEN + OC_SECRET_KEY_LEN + GCM_TAG_LEN];
    size_t slen;
    sqlite3_stmt *st;
    int rc;

    memcpy(akid, "AKIA", 4);
    random_chars(akid + 4, OC_ACCESS_KEY_LEN - 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567");
    random_chars(secret, OC_SECRET_KEY_LEN,
                 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    if (seal(s, akid, secret, sealed, &slen) != OC_OK)
        return oc_err_set(err, OC_EINTERNAL, "cannot encrypt the secret key");
    st = oc_db_prepare(db, "INSERT INTO access_keys (id, account_id, user_name, secret, active,"
                           " created) VALUES (?, ?, ?, ?, 1, ?)", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, akid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, user_name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, sealed, (int)slen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return oc_err_set(err, OC_ENOTFOUND, "The user with name %s cannot be found.",
                          user_name);
    if (rc != SQLITE_DONE)
        return oc_db_fail(db, err, "create access key");
    return clc_key_find(db, akid, out, err);
}

int clc_key_find(struct oc_db *db, const char *key_id, struct clc_access_key *out,
                 struct oc_err *err)
{
    char missing[160];

    snprintf(missing, sizeof(missing), "The Access Key with id %.80s cannot be found.",
             key_id);
    return find_row(db, "SELECT id, account_id, user_name, active, created FROM access_keys"
                        " WHERE id = ?", key_id, NULL, key_from_row, out, "find access key",
                    missing, err);
}

int clc_key_foreach(struct oc_db *db, const char *account_id, const char *user_name,
                    int (*fn)(void *arg, const struct clc_access_key *k), void *arg,
                    struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT id, account_id, user_name, active, created"
                                         " FROM access_keys WHERE (?1 IS NULL OR account_id = ?1)"
                                         " AND (?2 IS NULL OR user_name = ?2)"
                                         " ORDER BY account_id, user_name, created, id", err);
    int rc;

    if (!st)
        return OC_EDB;
    if (account_id)
        sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
    if (user_name)
        sqlite3_bind_text(st, 2, user_name, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct clc_access_key k;

        key_from_row(st, &k);
        if (fn(arg, &k))
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, "list keys");
}

/* Steps a prepared change of one access key (bound by the caller); a key
 * that no row matched is OC_ENOTFOUND.  Cached lookups are flushed. */
static int key_change(struct clc_identity *s, struct oc_db *db, sqlite3_stmt *st,
                      const char *key_id, const char *what, struct oc_err *err)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        rc = oc_db_fail(db, err, what);
    else if (sqlite3_changes(oc_db_handle(db)) == 0)
        rc = oc_err_set(err, OC_ENOTFOUND, "The Access Key with id %s cannot be found.",
                        key_id);
    else
        rc = OC_OK;
    clc_identity_flush(s);
    return rc;
}

int clc_key_set_active(struct clc_identity *s, struct oc_db *db, const char *key_id,
                       int active, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "UPDATE access_keys SET active = ? WHERE id = ?", err);

    if (!st)
        return OC_EDB;
    sqlite3_bind_int(st, 1, active ? 1 : 0);
    sqlite3_bind_text(st, 2, key_id, -1, SQLITE_STATIC);
    return key_change(s, db, st, key_id, "update access key", err);
}

int clc_key_delete(struct clc_identity *s, struct oc_db *db, const char *key_id,
                   struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "DELETE FROM access_keys WHERE id = ?", err);

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
    return key_change(s, db, st, key_id, "delete access key", err);
}

int clc_key_principal(struct clc_identity *s, struct oc_db *db, const char *key_id,
                      struct oc_principal *out, struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (strlen(key_id) > OC_ACCESS_KEY_LEN)
        return oc_err_set(err, OC_ENOTFOUND, "unknown access key");
    st = oc_db_prepare(db, "SELECT k.id, k.account_id, k.user_name, k.secret, k.active, a.name"
                           " FROM access_keys k JOIN accounts a ON a.id = k.account_id"
                           " WHERE k.id = ?", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, key_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const uint8_t *blob = sqlite3_column_blob(st, 3);
        int blen = sqlite3_column_bytes(st, 3);

        memset(out, 0, sizeof(*out));
        copy_col(out->access_key_id, sizeof(out->access_key_id), st, 0);
        copy_col(out->account_id, sizeof(out->account_id), st, 1);
        copy_col(out->user_name, sizeof(out->user_name), st, 2);
        out->active = sqlite3_column_int(st, 4);
        copy_col(out->account_name, sizeof(out->account_name), st, 5);
        out->is_admin = strcmp(out->account_name, OC_ADMIN_ACCOUNT) == 0;
        rc = unseal(s, out->access_key_id, blob, (size_t)blen, out->secret_key,
                    sizeof(out->secret_key));
        if (rc)
            rc = oc_err_set(err, OC_EINTERNAL, "the secret of %s cannot be decrypted with"
                            " this host key", key_id);
    } else if (rc == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "unknown access key");
    } else {
        rc = oc_db_fail(db, err, "look up access key");
    }
    sqlite3_reset(st);
    return rc;
}

/* ---- the lookup source ---- */

static unsigned cache_slot_of(const char *akid)
{
    unsigned h = 2166136261u;

    for (; *akid; akid++)
        h = (h ^ (unsigned char)*akid) * 16777619u;
    return h % CACHE_SLOTS;
}

static int source_lookup(void *ctx, const char *key_id, struct oc_principal *out,
                         struct oc_err *err)
{
    struct clc_identity *s = ctx;
    struct cache_slot *slot = &s->cache[cache_slot_of(key_id)];
    time_t now = time(NULL);
    /* Read before the lookup below, as the answer cache does: a change
     * committed after this moves the generation past the slot's. */
    uint64_t gen = s->gen ? clc_dbgen_now(s->gen) : 0;
    struct oc_db *db;
    int rc;

    pthread_mutex_lock(&s->lock);
    if (slot->used && now - slot->at < CACHE_TTL_S && (!s->gen || (gen && slot->gen == gen)) &&
        strcmp(slot->p.access_key_id, key_id) == 0) {
        *out = slot->p;
        pthread_mutex_unlock(&s->lock);
        return OC_OK;
    }
    pthread_mutex_unlock(&s->lock);
    db = oc_dbpool_get(s->pool, err);
    if (!db)
        return OC_EDB;
    rc = clc_key_principal(s, db, key_id, out, err);
    oc_dbpool_put(s->pool, db);
    if (rc == OC_OK) {
        pthread_mutex_lock(&s->lock);
        slot->p = *out;
        slot->at = now;
        slot->gen = gen;
        slot->used = 1;
        pthread_mutex_unlock(&s->lock);
    }
    return rc;
}

struct oc_cred_source clc_identity_source(struct clc_identity *s)
{
    struct oc_cred_source src = { .lookup = source_lookup, .ctx = s };

    return src;
}

/* ---- console passwords (login profiles) ---- */

#define PW_ITERATIONS 100000
#define PW_SALT 16
#define PW_HASH 32
#define PW_ITER_MAX 1000000       /* 10x what is made: a bound on the work */

static int pw_derive(const char *password, const uint8_t *salt, size_t slen, int iter,
                     uint8_t out[PW_HASH])
{
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)slen, iter,
                             EVP_sha256(), PW_HASH, out) == 1 ? OC_OK : OC_EINTERNAL;
}

int clc_login_set(struct oc_db *db, const char *account_id, const char *user_name,
                  const char *password, int create, int reset_required, struct oc_err *err)
{
    uint8_t salt[PW_SALT], hash[PW_HASH];
    char salt_hex[2 * PW_SALT + 1], hash_hex[2 * PW_HASH + 1], *enc = NULL;
    int changes = 0, rc;

    oc_random_bytes(salt, sizeof(salt));
    if (pw_derive(password, salt, sizeof(salt), PW_ITERATIONS, hash) != OC_OK)
        return oc_err_set(err, OC_EINTERNAL, "cannot hash the password");
    oc_hex_encode(salt, sizeof(salt), salt_hex);
    oc_hex_encode(hash, sizeof(hash), hash_hex);
    OPENSSL_cleanse(hash, sizeof(hash));
    if (asprintf(&enc, "pbkdf2-sha256$%d$%s$%s", PW_ITERATIONS, salt_hex, hash_hex) < 0)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    if (create)
        rc = oc_db_run(db, "INSERT INTO login_profiles (account_id, user_name, hash,"
                           " reset_required, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                       &changes, err, "sssii", account_id, user_name, enc,
                       (long long)reset_required, (long long)time(NULL));
    else
        rc = oc_db_run(db, "UPDATE login_profiles SET hash = ?3, reset_required = ?4"
                           " WHERE account_id = ?1 AND user_name = ?2",
                       &changes, err, "sssi", account_id, user_name, enc,
                       (long long)reset_required);
    free(enc);
    if (rc == OC_EEXIST)
        return oc_err_set(err, OC_EEXIST, "Login Profile for user %s already exists.",
                          user_name);
    if (rc == OC_OK && changes == 0)
        return oc_err_set(err, OC_ENOTFOUND, "Login Profile for User %s cannot be found.",
                          user_name);
    return rc;
}

/* The user's login_profiles row: SELECT hash, created, reset_required;
 * SQLITE_ROW with *st on it (reset it), SQLITE_DONE, or an error. */
static int login_row(struct oc_db *db, const char *account_id, const char *user_name,
                     sqlite3_stmt **st, struct oc_err *err)
{
    *st = oc_db_prepare(db, "SELECT hash, created, reset_required FROM login_profiles"
                            " WHERE account_id = ? AND user_name = ?", err);
    if (!*st)
        return SQLITE_ERROR;
    sqlite3_bind_text(*st, 1, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(*st, 2, user_name, -1, SQLITE_STATIC);
    return sqlite3_step(*st);
}

int clc_login_get(struct oc_db *db, const char *account_id, const char *user_name,
                  time_t *created, int *reset_required, struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc = login_row(db, account_id, user_name, &st, err);

    if (!st)
        return OC_EDB;
    if (rc == SQLITE_ROW) {
        if (created)
            *created = (time_t)sqlite3_column_int64(st, 1);
        if (reset_required)
            *reset_required = sqlite3_column_int(st, 2);
        rc = OC_OK;
    } else if (rc == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "Login Profile for User %s cannot be found.",
                        user_name);
    } else {
        rc = oc_db_fail(db, err, "read login profile");
    }
    sqlite3_reset(st);
    return rc;
}

int clc_login_delete(struct oc_db *db, const char *account_id, const char *user_name,
                     struct oc_err *err)
{
    int changes = 0;
    int rc = oc_db_run(db, "DELETE FROM login_profiles WHERE account_id = ?1 AND user_name = ?2",
                       &changes, err, "ss", account_id, user_name);

    if (rc == OC_OK && changes == 0)
        return oc_err_set(err, OC_ENOTFOUND, "Login Profile for User %s cannot be found.",
                          user_name);
    return rc;
}

int clc_login_hash_parse(const char *enc, long *iter, uint8_t salt[64], size_t *slen,
                         uint8_t hash[32])
{
    const char *p = enc, *s2, *h;
    long n, hl;
    char *end;

    if (strncmp(p, "pbkdf2-sha256$", 14) != 0)
        return OC_EINVAL;
    p += 14;
    if (*p < '1' || *p > '9')
        return OC_EINVAL;
    *iter = strtol(p, &end, 10);
    if (*end != '$' || *iter < 1 || *iter > PW_ITER_MAX)
        return OC_EINVAL;
    s2 = end + 1;
    h = strchr(s2, '$');
    if (!h)
        return OC_EINVAL;
    n = oc_hex_decode(s2, (size_t)(h - s2), salt, 64);
    hl = oc_hex_decode(h + 1, strlen(h + 1), hash, 32);
    if (n <= 0 || (size_t)(h - s2) != 2 * (size_t)n || hl != PW_HASH ||
        strlen(h + 1) != 2 * PW_HASH)
        return OC_EINVAL;
    *slen = (size_t)n;
    return OC_OK;
}

/* The stored hash against password, in constant time once parsed. */
static int pw_matches(const char *enc, const char *password)
{
    uint8_t salt[64], want[PW_HASH], got[PW_HASH];
    size_t slen;
    long iter;
    int ok;

    if (clc_login_hash_parse(enc, &iter, salt, &slen, want) != OC_OK)
        return 0;
    if (pw_derive(password, salt, slen, (int)iter, got) != OC_OK)
        return 0;
    ok = oc_ct_equal(got, sizeof(got), want, sizeof(want));
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

int clc_login_check(struct oc_db *db, const char *account_id, const char *user_name,
                    const char *password, struct oc_err *err)
{
    sqlite3_stmt *st;
    char *enc = NULL;
    int rc = login_row(db, account_id, user_name, &st, err);

    if (!st)
        return OC_EDB;
    if (rc == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);

        enc = strdup(t ? (const char *)t : "");
        rc = enc ? OC_OK : oc_err_set(err, OC_ENOMEM, "out of memory");
    } else if (rc == SQLITE_DONE) {
        rc = oc_err_set(err, OC_EAUTH, "no login profile");
    } else {
        rc = oc_db_fail(db, err, "read login profile");
    }
    sqlite3_reset(st);
    if (rc == OC_OK && !pw_matches(enc, password))
        rc = oc_err_set(err, OC_EAUTH, "wrong password");
    free(enc);
    return rc;
}
