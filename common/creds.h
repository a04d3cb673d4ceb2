/*
 * creds.h - identities and the narrow lookup interface servers use to find
 * a secret by access key id.
 *
 * struct oc_cred_source is all a server knows: one function that maps an
 * access key id to a principal (account, user, secret).  Today Walrus uses
 * the SQLite store below; when the CLC owns identity, Walrus plugs in a
 * source that asks the CLC instead, and nothing else changes.
 *
 * The store keeps accounts (12-digit id, unique name), users (name unique in
 * the account) and access keys (20-char id, 40-char secret).  Secrets are
 * kept encrypted with AES-256-GCM under a 32-byte host key file created with
 * mode 0600 on first use; they are never logged.
 */
#ifndef OC_CREDS_H
#define OC_CREDS_H

#include <stdint.h>
#include "common/err.h"

#define OC_ACCOUNT_ID_LEN 12
#define OC_ACCESS_KEY_LEN 20
#define OC_SECRET_KEY_LEN 40
#define OC_ADMIN_ACCOUNT "eucalyptus"

struct oc_principal {
    char account_id[OC_ACCOUNT_ID_LEN + 1];
    char account_name[64];
    char user_name[64];
    char access_key_id[OC_ACCESS_KEY_LEN + 1];
    char secret_key[OC_SECRET_KEY_LEN + 1];
    int is_admin;      /* member of the eucalyptus account */
    int active;        /* key status Active */
};

struct oc_cred_source {
    /* Returns OC_OK and fills out, OC_ENOTFOUND for an unknown key. Thread-safe. */
    int (*lookup)(void *ctx, const char *access_key_id, struct oc_principal *out,
                  struct oc_err *err);
    void *ctx;
};

struct oc_credstore;

/* Opens or creates the store at db_path with the host key at key_path. */
int oc_credstore_open(const char *db_path, const char *key_path,
                      struct oc_credstore **out, struct oc_err *err) OC_WUR;
void oc_credstore_free(struct oc_credstore *s);
/* A source backed by this store (valid while the store lives). */
struct oc_cred_source oc_credstore_source(struct oc_credstore *s);

int oc_credstore_account_create(struct oc_credstore *s, const char *name,
                                char account_id[OC_ACCOUNT_ID_LEN + 1], struct oc_err *err) OC_WUR;
int oc_credstore_account_find(struct oc_credstore *s, const char *name,
                              char account_id[OC_ACCOUNT_ID_LEN + 1], struct oc_err *err) OC_WUR;
int oc_credstore_user_create(struct oc_credstore *s, const char *account_id,
                             const char *user_name, struct oc_err *err) OC_WUR;
/* Creates a key for the user; key id and secret are written out. */
int oc_credstore_key_create(struct oc_credstore *s, const char *account_id,
                            const char *user_name, struct oc_principal *out,
                            struct oc_err *err) OC_WUR;
int oc_credstore_key_set_active(struct oc_credstore *s, const char *access_key_id,
                                int active, struct oc_err *err) OC_WUR;
int oc_credstore_lookup(struct oc_credstore *s, const char *access_key_id,
                        struct oc_principal *out, struct oc_err *err) OC_WUR;

/* Iteration for listings: fn returns non-zero to stop. */
int oc_credstore_foreach_key(struct oc_credstore *s,
                             int (*fn)(void *arg, const struct oc_principal *p),
                             void *arg, struct oc_err *err) OC_WUR;

#endif
