/*
 * identity.h - accounts, users and access keys in clc.db: the cloud's one
 * identity store.  The CLC authenticates its own requests through
 * clc_identity_source(); other components ask the CLC over the Identity
 * API (clc/identity_api.c) and never see a secret.
 *
 * Secrets are sealed with AES-256-GCM under the host key file
 * $OVERCAST_HOME/clc/secret.key (mode 0600, created on first use; the
 * access key id is the associated data).  Lookups are cached while clc.db
 * does not change (clc_identity_set_dbgen(); at most two seconds without
 * it), so a key made inactive or deleted stops working at once, whoever
 * changed clc.db.
 *
 * Functions taking a struct oc_db run on the caller's connection (inside
 * its transaction when it has one); the store itself owns only the host key
 * and the cache.
 */
#ifndef CLC_IDENTITY_H
#define CLC_IDENTITY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "common/creds.h"
#include "common/db.h"
#include "common/err.h"

struct clc_identity;

struct clc_account {
    char id[OC_ACCOUNT_ID_LEN + 1];
    char name[65];
    time_t created;
};

struct clc_user {
    char account_id[OC_ACCOUNT_ID_LEN + 1];
    char name[65];
    char user_id[24];            /* AIDA + 17 */
    char path[512];
    time_t created;
};

struct clc_access_key {
    char id[OC_ACCESS_KEY_LEN + 1];
    char account_id[OC_ACCOUNT_ID_LEN + 1];
    char user_name[65];
    int active;
    time_t created;
};

/* Host key at key_path (created on first use); lookups of the source take
 * connections from pool (clc.db). */
int clc_identity_open(const char *key_path, struct oc_dbpool *pool, struct clc_identity **out,
                      struct oc_err *err) OC_WUR;
void clc_identity_free(struct clc_identity *id);
/* The lookup source for oc_auth_verify (thread-safe). */
struct oc_cred_source clc_identity_source(struct clc_identity *id);
/* Forget cached lookups (after a key or account changed). */
void clc_identity_flush(struct clc_identity *id);
/* Ties cached lookups to the generation of clc.db (clc/cache.h; borrowed,
 * must outlive the store): any committed change ends them. */
struct clc_dbgen;
void clc_identity_set_dbgen(struct clc_identity *id, struct clc_dbgen *gen);

/* Names: accounts 3-63 chars [a-z0-9-]; users 1-64 chars [A-Za-z0-9+=,.@_-]. */
int clc_account_create(struct clc_identity *id, struct oc_db *db, const char *name,
                       struct clc_account *out, struct oc_err *err) OC_WUR;
/* By 12-digit id or by name; OC_ENOTFOUND when absent. */
int clc_account_find(struct oc_db *db, const char *id_or_name, struct clc_account *out,
                     struct oc_err *err) OC_WUR;
/* fn returns non-zero to stop. */
int clc_account_foreach(struct oc_db *db, int (*fn)(void *arg, const struct clc_account *a),
                        void *arg, struct oc_err *err) OC_WUR;
/* Deletes the account and (recursive) its users and keys; without recursive
 * OC_ECONFLICT when it still has users.  The eucalyptus account cannot go. */
int clc_account_delete(struct clc_identity *id, struct oc_db *db, const char *account_id,
                       int recursive, struct oc_err *err) OC_WUR;

int clc_user_create(struct oc_db *db, const char *account_id, const char *name,
                    const char *path, struct clc_user *out, struct oc_err *err) OC_WUR;
int clc_user_find(struct oc_db *db, const char *account_id, const char *name,
                  struct clc_user *out, struct oc_err *err) OC_WUR;
int clc_user_foreach(struct oc_db *db, const char *account_id,
                     int (*fn)(void *arg, const struct clc_user *u), void *arg,
                     struct oc_err *err) OC_WUR;
/* OC_ECONFLICT while the user still has access keys (as IAM). */
int clc_user_delete(struct clc_identity *id, struct oc_db *db, const char *account_id,
                    const char *name, struct oc_err *err) OC_WUR;

/* New key for an existing user; the secret is written to secret (41 bytes). */
int clc_key_create(struct clc_identity *id, struct oc_db *db, const char *account_id,
                   const char *user_name, struct clc_access_key *out,
                   char secret[OC_SECRET_KEY_LEN + 1], struct oc_err *err) OC_WUR;
int clc_key_find(struct oc_db *db, const char *key_id, struct clc_access_key *out,
                 struct oc_err *err) OC_WUR;
int clc_key_foreach(struct oc_db *db, const char *account_id, const char *user_name,
                    int (*fn)(void *arg, const struct clc_access_key *k), void *arg,
                    struct oc_err *err) OC_WUR;
int clc_key_set_active(struct clc_identity *id, struct oc_db *db, const char *key_id,
                       int active, struct oc_err *err) OC_WUR;
int clc_key_delete(struct clc_identity *id, struct oc_db *db, const char *key_id,
                   struct oc_err *err) OC_WUR;
/* The principal of a key, secret included (for the Identity API and the
 * local source); OC_ENOTFOUND for unknown keys. */
int clc_key_principal(struct clc_identity *id, struct oc_db *db, const char *key_id,
                      struct oc_principal *out, struct oc_err *err) OC_WUR;

/*
 * Console passwords (IAM login profiles, table login_profiles): only a
 * PBKDF2-HMAC-SHA256 hash with a random salt is kept.  clc_login_set
 * creates (create=1; OC_EEXIST when there is one) or replaces (OC_ENOTFOUND
 * when there is none) the user's password; clc_login_check answers OC_OK
 * for the right password and OC_EAUTH for a wrong one or no profile.
 */
int clc_login_set(struct oc_db *db, const char *account_id, const char *user_name,
                  const char *password, int create, int reset_required,
                  struct oc_err *err) OC_WUR;
int clc_login_get(struct oc_db *db, const char *account_id, const char *user_name,
                  time_t *created, int *reset_required, struct oc_err *err) OC_WUR;
int clc_login_delete(struct oc_db *db, const char *account_id, const char *user_name,
                     struct oc_err *err) OC_WUR;
int clc_login_check(struct oc_db *db, const char *account_id, const char *user_name,
                    const char *password, struct oc_err *err) OC_WUR;
/* Parses a stored hash "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"
 * (iterations 1 to 1000000, salt 1 to 64 bytes, hash 32); OC_EINVAL when
 * it is not one.  Exported for the fuzz target. */
int clc_login_hash_parse(const char *enc, long *iter, uint8_t salt[64], size_t *slen,
                         uint8_t hash[32]) OC_WUR;

#endif
