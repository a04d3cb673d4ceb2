/*
 * resource.c - which resource an EC2 id names: its kind (from the id's
 * prefix), its AWS resource type as tags report it, and its owner account.
 *
 *   sg-             security_groups   security-group
 *   key-            keypairs          key-pair
 *   ami- aki- ari-  images            image   (emi- eki- eri- accepted)
 *   i-              instances         instance
 *
 * Used by CreateTags/DeleteTags (clc/tags.c) and anything else that must
 * check ownership of a resource it only knows by id.  Errors are answered
 * with the code EC2 gives for that kind of id (InvalidGroup.NotFound,
 * InvalidKeyPair.NotFound, InvalidAMIID.NotFound, InvalidInstanceID.NotFound,
 * InvalidID for ids of no known kind).
 */
#include <string.h>

#include "clc/clc.h"

enum res_kind { RES_GROUP, RES_KEYPAIR, RES_IMAGE, RES_INSTANCE };

static const struct {
    const char *prefix;
    enum res_kind kind;
    const char *canonical;     /* prefix stored in the table */
} prefixes[] = {
    { "sg-", RES_GROUP, "sg-" },
    { "key-", RES_KEYPAIR, "key-" },
    { "ami-", RES_IMAGE, "ami-" },
    { "aki-", RES_IMAGE, "aki-" },
    { "ari-", RES_IMAGE, "ari-" },
    { "emi-", RES_IMAGE, "ami-" },
    { "eki-", RES_IMAGE, "aki-" },
    { "eri-", RES_IMAGE, "ari-" },
    { "i-", RES_INSTANCE, "i-" },
};

#define RES_ID_MAX_TAIL 64

/* The kind of id and its canonical spelling (arena), or -1 when the id has
 * no known prefix or a tail that no id of ours has. */
static int classify(struct clc_req *r, const char *id, const char **canonical)
{
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t plen = strlen(prefixes[i].prefix);
        const char *tail = id + plen;
        size_t tlen;

        if (strncmp(id, prefixes[i].prefix, plen) != 0)
            continue;
        tlen = strlen(tail);
        if (tlen == 0 || tlen > RES_ID_MAX_TAIL ||
            strspn(tail, "0123456789abcdefABCDEF") != tlen)
            return -1;
        *canonical = oc_arena_printf(r->arena, "%s%s", prefixes[i].canonical, tail);
        return (int)prefixes[i].kind;
    }
    return -1;
}

/* Owner of id in one table: 1 found, 0 absent, -1 database failure. */
static int owner_in(struct clc_req *r, const char *sql, const char *id, const char **account)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(r->db, sql, &err);
    int rc;

    if (!st) {
        clc_internal(r, &err);
        return -1;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *account = oc_arena_strdup(r->arena, (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return 1;
    }
    sqlite3_reset(st);
    if (rc == SQLITE_DONE)
        return 0;
    oc_db_fail(r->db, &err, "look up a resource owner");
    clc_internal(r, &err);
    return -1;
}

static int not_found(struct clc_req *r, enum res_kind kind, const char *id)
{
    switch (kind) {
    case RES_GROUP:
        return clc_error(r, "InvalidGroup.NotFound", "The security group '%s' does not exist",
                         id);
    case RES_KEYPAIR:
        return clc_error(r, "InvalidKeyPair.NotFound", "The key pair '%s' does not exist", id);
    case RES_IMAGE:
        return clc_error(r, "InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id);
    case RES_INSTANCE:
    default:
        return clc_error(r, "InvalidInstanceID.NotFound", "The instance ID '%s' does not exist",
                         id);
    }
}

int clc_resource_owner(struct clc_req *r, const char *resource_id,
                       const char **resource_type, const char **account_id)
{
    const char *canon = NULL, *owner = NULL, *type;
    int kind = classify(r, resource_id, &canon);
    int found;

    if (kind < 0)
        return clc_error(r, "InvalidID", "The ID '%s' is not valid", resource_id);
    switch ((enum res_kind)kind) {
    case RES_GROUP:
        type = "security-group";
        found = owner_in(r, "SELECT account_id FROM security_groups WHERE id = ?", canon, &owner);
        break;
    case RES_KEYPAIR:
        type = "key-pair";
        found = owner_in(r, "SELECT account_id FROM keypairs WHERE id = ?", canon, &owner);
        break;
    case RES_IMAGE:
        type = "image";
        found = owner_in(r, "SELECT account_id FROM images WHERE id = ?", canon, &owner);
        break;
    case RES_INSTANCE:
    default:
        type = "instance";
        found = owner_in(r, "SELECT account_id FROM instances WHERE id = ?", canon, &owner);
        break;
    }
    if (found < 0)
        return CLC_FAILED;
    if (found == 0)
        return not_found(r, (enum res_kind)kind, resource_id);
    if (resource_type)
        *resource_type = type;
    if (account_id)
        *account_id = owner;
    return CLC_OK;
}
