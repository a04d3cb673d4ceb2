/*
 * creds.c - the SQLite identity store behind struct oc_cred_source.
 *
 * Secrets are sealed with AES-256-GCM under the host key (random 12-byte
 * IV, the access key id as associated data), stored as iv || ciphertext ||
 * tag.  Lookups are cached for a couple of seconds so a busy server does
 * not decrypt on every request; a key made inactive stops working within
 * that time.
 */
#include "common/creds.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/codec.h"
#include "common/db.h"
#include "common/fsutil.h"

#define HOST_KEY_LEN 32
#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16
#define CACHE_SLOTS 64
#define CACHE_TTL_S 2

struct cache_slot {
    struct oc_principal p;
    time_t at;
    int used;
};

struct oc_credstore {
    struct oc_db *db;
    pthread_mutex_t lock;
    uint8_t key[HOST_KEY_LEN];
    struct cache_slot cache[CACHE_SLOTS];
};

static const struct oc_migration creds_migrations[] = {
    { 1,
      "CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
      "  created INTEGER NOT NULL);"
      "CREATE TABLE users (account_id TEXT NOT NULL REFERENCES accounts(id),"
      "  name TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY (account_id, name));"
      "CREATE TABLE access_keys (id TEXT PRIMARY KEY, account_id TEXT NOT NULL,"
      "  user_name TEXT NOT NULL, secret BLOB NOT NULL, active INTEGER NOT NULL,"
      "  created INTEGER NOT NULL,"
      "  FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name));" },
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
        return OC_OK;
    }
    if (rc)
        return rc;
    while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        len--;
    if (oc_hex_decode(data, len, key, HOST_KEY_LEN) != HOST_KEY_LEN)
        rc = oc_err_set(err, OC_EINVAL, "%s is not a 64-hex-digit key", path);
    free(data);
    return rc;
}

static int seal(const struct oc_credstore *s, const char *aad, const char *plain,
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

static int unseal(const struct oc_credstore *s, const char *aad, const uint8_t *in,
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

int oc_credstore_open(const char *db_path, const char *key_path, struct oc_credstore **out,
                      struct oc_err *err)
{
    struct oc_credstore *s = calloc(1, sizeof(*s));
    int rc;

    if (!s)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    rc = load_host_key(key_path, s->key, err);
    if (rc == OC_OK)
        rc = oc_db_open(db_path, creds_migrations,
                        sizeof(creds_migrations) / sizeof(creds_migrations[0]), &s->db, err);
    if (rc) {
        free(s);
        return rc;
    }
    chmod(db_path, 0600);
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return OC_OK;
}

void oc_credstore_free(struct oc_credstore *s)
{
    if (!s)
        return;
    oc_db_close(s->db);
    pthread_mutex_destroy(&s->lock);
    OPENSSL_cleanse(s->key, sizeof(s->key));
    OPENSSL_cleanse(s->cache, sizeof(s->cache));
    free(s);
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

int oc_credstore_account_create(struct oc_credstore *s, const char *name,
                                char account_id[OC_ACCOUNT_ID_LEN + 1], struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc = OC_OK;

    if (!*name || strlen(name) > 63)
        return oc_err_set(err, OC_EINVAL, "account name must be 1 to 63 characters");
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'))
            return oc_err_set(err, OC_EINVAL,
                              "account name '%s' may hold only a-z, 0-9 and '-'", name);
    pthread_mutex_lock(&s->lock);
    for (int attempt = 0; attempt < 8; attempt++) {
        random_chars(account_id, 1, "123456789");
        random_chars(account_id + 1, OC_ACCOUNT_ID_LEN - 1, "0123456789");
        st = oc_db_prepare(s->db, "INSERT INTO accounts (id, name, created) VALUES (?, ?, ?)",
                           err);
        if (!st) {
            rc = OC_EDB;
            break;
        }
        sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
        int r = sqlite3_step(st);
        if (r == SQLITE_DONE) {
            rc = OC_OK;
            break;
        }
        if (r == SQLITE_CONSTRAINT_UNIQUE || r == SQLITE_CONSTRAINT_PRIMARYKEY) {
            char other[OC_ACCOUNT_ID_LEN + 1];
            struct oc_err e2;

            pthread_mutex_unlock(&s->lock);
            if (oc_credstore_account_find(s, name, other, &e2) == OC_OK)
                return oc_err_set(err, OC_EEXIST, "account '%s' already exists", name);
            pthread_mutex_lock(&s->lock);
            rc = OC_EEXIST;
            continue;   /* id collision: try another id */
        }
        rc = oc_db_fail(s->db, err, "create account");
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int oc_credstore_account_find(struct oc_credstore *s, const char *name,
                              char account_id[OC_ACCOUNT_ID_LEN + 1], struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    pthread_mutex_lock(&s->lock);
    st = oc_db_prepare(s->db, "SELECT id FROM accounts WHERE name = ?", err);
    if (!st) {
        pthread_mutex_unlock(&s->lock);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(account_id, OC_ACCOUNT_ID_LEN + 1, "%s", sqlite3_column_text(st, 0));
        rc = OC_OK;
    } else if (rc == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "no account named '%s'", name);
    } else {
        rc = oc_db_fail(s->db, err, "find account");
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int oc_credstore_user_create(struct oc_credstore *s, const char *account_id,
                             const char *user_name, struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (!*user_name || strlen(user_name) > 63)
        return oc_err_set(err, OC_EINVAL, "user name must be 1 to 63 characters");
    for (const char *c = user_name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || strchr("+=,.@_-", *c)))
            return oc_err_set(err, OC_EINVAL, "user name '%s' has invalid characters",
                              user_name);
    pthread_mutex_lock(&s->lock);
    st = oc_db_prepare(s->db, "INSERT INTO users (account_id, name, created) VALUES (?, ?, ?)",
                       err);
    if (!st) {
        pthread_mutex_unlock(&s->lock);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, user_name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        rc = OC_OK;
    else if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        rc = oc_err_set(err, OC_EEXIST, "user '%s' already exists", user_name);
    else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        rc = oc_err_set(err, OC_ENOTFOUND, "no account %s", account_id);
    else
        rc = oc_db_fail(s->db, err, "create user");
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Fills p from a row: id, account_id, user_name, secret, active, account name. */
static int principal_from_row(struct oc_credstore *s, sqlite3_stmt *st, struct oc_principal *p)
{
    const uint8_t *blob = sqlite3_column_blob(st, 3);
    int blen = sqlite3_column_bytes(st, 3);

    memset(p, 0, sizeof(*p));
    snprintf(p->access_key_id, sizeof(p->access_key_id), "%s", sqlite3_column_text(st, 0));
    snprintf(p->account_id, sizeof(p->account_id), "%s", sqlite3_column_text(st, 1));
    snprintf(p->user_name, sizeof(p->user_name), "%s", sqlite3_column_text(st, 2));
    p->active = sqlite3_column_int(st, 4);
    snprintf(p->account_name, sizeof(p->account_name), "%s", sqlite3_column_text(st, 5));
    p->is_admin = strcmp(p->account_name, OC_ADMIN_ACCOUNT) == 0;
    return unseal(s, p->access_key_id, blob, (size_t)blen, p->secret_key, sizeof(p->secret_key));
}

#define KEY_SELECT                                                               \
    "SELECT k.id, k.account_id, k.user_name, k.secret, k.active, a.name"         \
    " FROM access_keys k JOIN accounts a ON a.id = k.account_id"

int oc_credstore_key_create(struct oc_credstore *s, const char *account_id,
                            const char *user_name, struct oc_principal *out,
                            struct oc_err *err)
{
    char akid[OC_ACCESS_KEY_LEN + 1], secret[OC_SECRET_KEY_LEN + 1];
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
    pthread_mutex_lock(&s->lock);
    st = oc_db_prepare(s->db,
                       "INSERT INTO access_keys (id, account_id, user_name, secret, active,"
                       " created) VALUES (?, ?, ?, ?, 1, ?)", err);
    if (!st) {
        pthread_mutex_unlock(&s->lock);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, akid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, user_name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, sealed, (int)slen, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        return oc_err_set(err, OC_ENOTFOUND, "no user '%s' in account %s", user_name,
                          account_id);
    if (rc != SQLITE_DONE)
        return oc_db_fail(s->db, err, "create access key");
    OPENSSL_cleanse(secret, sizeof(secret));
    return oc_credstore_lookup(s, akid, out, err);
}

int oc_credstore_key_set_active(struct oc_credstore *s, const char *access_key_id, int active,
                                struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    pthread_mutex_lock(&s->lock);
    st = oc_db_prepare(s->db, "UPDATE access_keys SET active = ? WHERE id = ?", err);
    if (!st) {
        pthread_mutex_unlock(&s->lock);
        return OC_EDB;
    }
    sqlite3_bind_int(st, 1, active ? 1 : 0);
    sqlite3_bind_text(st, 2, access_key_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE && sqlite3_changes(oc_db_handle(s->db)) == 0)
        rc = oc_err_set(err, OC_ENOTFOUND, "no access key %s", access_key_id);
    else if (rc == SQLITE_DONE)
        rc = OC_OK;
    else
        rc = oc_db_fail(s->db, err, "update access key");
    memset(s->cache, 0, sizeof(s->cache));
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static unsigned cache_slot_of(const char *akid)
{
    unsigned h = 2166136261u;

    for (; *akid; akid++)
        h = (h ^ (unsigned char)*akid) * 16777619u;
    return h % CACHE_SLOTS;
}

int oc_credstore_lookup(struct oc_credstore *s, const char *access_key_id,
                        struct oc_principal *out, struct oc_err *err)
{
    struct cache_slot *slot = &s->cache[cache_slot_of(access_key_id)];
    time_t now = time(NULL);
    sqlite3_stmt *st;
    int rc;

    if (strlen(access_key_id) > OC_ACCESS_KEY_LEN)
        return oc_err_set(err, OC_ENOTFOUND, "unknown access key");
    pthread_mutex_lock(&s->lock);
    if (slot->used && now - slot->at < CACHE_TTL_S &&
        strcmp(slot->p.access_key_id, access_key_id) == 0) {
        *out = slot->p;
        pthread_mutex_unlock(&s->lock);
        return OC_OK;
    }
    st = oc_db_prepare(s->db, KEY_SELECT " WHERE k.id = ?", err);
    if (!st) {
        pthread_mutex_unlock(&s->lock);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, access_key_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = principal_from_row(s, st, out);
        if (rc)
            rc = oc_err_set(err, OC_EINTERNAL, "the secret of %s cannot be decrypted with"
                            " this host key", access_key_id);
        else {
            slot->p = *out;
            slot->at = now;
            slot->used = 1;
        }
    } else if (rc == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "unknown access key");
    } else {
        rc = oc_db_fail(s->db, err, "look up access key");
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int oc_credstore_foreach_key(struct oc_credstore *s,
                             int (*fn)(void *arg, const struct oc_principal *p), void *arg,
                             struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    pthread_mutex_lock(&s->lock);
    st = oc_db_prepare(s->db, KEY_SELECT " ORDER BY a.name, k.user_name, k.created", err);
    if (!st) {
        pthread_mutex_unlock(&s->lock);
        return OC_EDB;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct oc_principal p;

        if (principal_from_row(s, st, &p) != OC_OK)
            continue;
        if (fn(arg, &p))
            break;
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&s->lock);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? OC_OK : oc_db_fail(s->db, err, "list keys");
}

static int creds_source_lookup(void *ctx, const char *access_key_id, struct oc_principal *out,
                               struct oc_err *err)
{
    return oc_credstore_lookup(ctx, access_key_id, out, err);
}

struct oc_cred_source oc_credstore_source(struct oc_credstore *s)
{
    struct oc_cred_source src = { creds_source_lookup, s };

    return src;
}
