/*
 * secgroups.c - EC2-Classic security groups: CreateSecurityGroup,
 * DeleteSecurityGroup, DescribeSecurityGroups, Authorize/Revoke
 * SecurityGroupIngress/Egress, the `default` group of every account, and the
 * rule view the cluster controller reads (clc/secgroups.h).
 *
 * A rule change is pushed at once to every cluster that runs an instance
 * of the group (clc_net_group_changed, clc/instances.c), ingress and
 * egress; the cluster enforces both.
 *
 * Everything is scoped to the caller's account: another account's groups
 * are "not found", except as a rule's peer named together with its owner's
 * account id (UserId / SourceSecurityGroupOwnerId), as EC2-Classic allowed.
 * A request that changes rules changes all of them or none (one
 * transaction).
 */
#include <ctype.h>
#include <string.h>

#include "clc/clc.h"
#include "clc/instances.h"
#include "clc/secgroups.h"
#include "common/ids.h"

#define SG_GROUPS_PER_ACCOUNT 500     /* AWS's EC2-Classic default quota */
#define SG_RULES_PER_DIRECTION 60     /* AWS's default rules per group and direction */
#define SG_ID_LEN 21                  /* "sg-" + 17 hex + NUL */
#define SG_RULE_ID_LEN 22             /* "sgr-" + 17 hex + NUL */

/* Arena-backed growth: doubling keeps the waste linear. */
static void *sg_grow(struct oc_arena *a, void *old, size_t n, size_t *cap, size_t size)
{
    void *v;

    if (n < *cap)
        return old;
    *cap = *cap ? *cap * 2 : 4;
    v = oc_arena_calloc(a, *cap, size);
    if (n)
        memcpy(v, old, n * size);
    return v;
}

/* ---------------------------------------------------------------------- */
/* Storage helpers (no AWS codes below the handlers)                      */
/* ---------------------------------------------------------------------- */

static const char *sg_col(struct oc_arena *a, sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    return oc_arena_strdup(a, t ? (const char *)t : "");
}

int clc_secgroup_resolve(struct oc_db *db, struct oc_arena *a, const char *account_id,
                         const char *name_or_id, const char **group_id,
                         const char **group_name, struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (clc_sg_id_valid(name_or_id))
        st = oc_db_prepare(db, "SELECT id, name FROM security_groups"
                               " WHERE account_id = ? AND id = ?", err);
    else
        st = oc_db_prepare(db, "SELECT id, name FROM security_groups"
                               " WHERE account_id = ? AND name = ?", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name_or_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (group_id)
            *group_id = sg_col(a, st, 0);
        if (group_name)
            *group_name = sg_col(a, st, 1);
        rc = OC_OK;
    } else if (rc == SQLITE_DONE) {
        rc = oc_err_set(err, OC_ENOTFOUND, "no security group '%s'", name_or_id);
    } else {
        rc = oc_db_fail(db, err, "find security group");
    }
    sqlite3_reset(st);
    return rc;
}

/* Same, but by name only, or by id only (the request said which). */
static int sg_find(struct oc_db *db, struct oc_arena *a, const char *account_id,
                   const char *id, const char *name, const char **out_id,
                   const char **out_name, struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (id)
        st = oc_db_prepare(db, "SELECT id, name FROM security_groups"
                               " WHERE account_id = ? AND id = ?", err);
    else
        st = oc_db_prepare(db, "SELECT id, name FROM security_groups"
                               " WHERE account_id = ? AND name = ?", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id ? id : name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (out_id)
            *out_id = sg_col(a, st, 0);
        if (out_name)
            *out_name = sg_col(a, st, 1);
        rc = OC_OK;
    } else if (rc == SQLITE_DONE) {
        rc = OC_ENOTFOUND;
    } else {
        rc = oc_db_fail(db, err, "find security group");
    }
    sqlite3_reset(st);
    return rc;
}

int clc_secgroup_rules_load(struct oc_db *db, struct oc_arena *a, const char *group_id,
                            struct clc_sg_rule **rules, size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(
        db,
        "SELECT r.egress, r.protocol, r.from_port, r.to_port, r.cidr, r.src_group_id,"
        " r.src_account_id, COALESCE(g.name, ''), r.description, r.rule_id"
        " FROM sg_rules r LEFT JOIN security_groups g"
        " ON r.src_group_id <> '' AND g.id = r.src_group_id"
        " WHERE r.group_id = ? ORDER BY r.egress, r.rowid",
        err);
    struct clc_sg_rule *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct clc_sg_rule *r;

        v = sg_grow(a, v, cnt, &cap, sizeof(*v));
        r = &v[cnt++];
        r->egress = sqlite3_column_int(st, 0);
        r->protocol = sg_col(a, st, 1);
        r->from_port = sqlite3_column_int(st, 2);
        r->to_port = sqlite3_column_int(st, 3);
        r->cidr = sg_col(a, st, 4);
        r->src_group_id = sg_col(a, st, 5);
        r->src_account_id = sg_col(a, st, 6);
        r->src_group_name = sg_col(a, st, 7);
        r->description = sg_col(a, st, 8);
        r->rule_id = sg_col(a, st, 9);
    }
    if (rc != SQLITE_DONE)
        rc = oc_db_fail(db, err, "load security group rules");
    else
        rc = OC_OK;
    sqlite3_reset(st);
    *rules = v;
    *n = cnt;
    return rc;
}

/* Membership of live instances (instance_groups joined with instances). */
int clc_secgroup_in_use_by_instances(struct oc_db *db, const char *group_id, int *in_use,
                                     struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    *in_use = 0;
    st = oc_db_prepare(db, "SELECT 1 FROM instance_groups g JOIN instances i"
                           " ON i.id = g.instance_id WHERE g.group_id = ?"
                           " AND i.state <> 'terminated' LIMIT 1", err);
    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    *in_use = rc == SQLITE_ROW;
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? OC_OK
                                               : oc_db_fail(db, err, "group membership");
    sqlite3_reset(st);
    return rc;
}

/* Another group's rule naming group_id as its peer: the id of that group. */
static int sg_referenced_by(struct oc_db *db, struct oc_arena *a, const char *group_id,
                            const char **other, struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "SELECT group_id FROM sg_rules"
                                         " WHERE src_group_id = ?1 AND group_id <> ?1"
                                         " LIMIT 1", err);
    int rc;

    if (!st)
        return OC_EDB;
    *other = NULL;
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *other = sg_col(a, st, 0);
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? OC_OK : oc_db_fail(db, err, "group references");
    sqlite3_reset(st);
    return rc;
}

/* A rule ready to store or delete. */
struct sg_rule_new {
    int egress;
    const char *protocol;
    int from_port, to_port;
    const char *cidr;            /* "" for a group peer */
    const char *src_group_id;    /* "" for a CIDR peer */
    const char *src_account_id;
    const char *src_group_name;
    const char *description;
    char rule_id[SG_RULE_ID_LEN];
};

/* Inserts one rule; OC_EEXIST when the same rule is already there. */
static int sg_rule_insert(struct oc_db *db, const char *group_id, struct sg_rule_new *nr,
                          struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(
        db,
        "SELECT 1 FROM sg_rules WHERE group_id = ? AND egress = ? AND protocol = ?"
        " AND from_port = ? AND to_port = ? AND cidr = ? AND src_group_id = ?",
        err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, nr->egress);
    sqlite3_bind_text(st, 3, nr->protocol, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, nr->from_port);
    sqlite3_bind_int(st, 5, nr->to_port);
    sqlite3_bind_text(st, 6, nr->cidr, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, nr->src_group_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return oc_err_set(err, OC_EEXIST, "rule exists");
    if (rc != SQLITE_DONE)
        return oc_db_fail(db, err, "find rule");
    st = oc_db_prepare(db,
                       "INSERT INTO sg_rules (group_id, egress, protocol, from_port, to_port,"
                       " cidr, src_group_id, src_account_id, description, rule_id)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       err);
    if (!st)
        return OC_EDB;
    for (int attempt = 0; attempt < 4; attempt++) {
        oc_resource_id("sgr", nr->rule_id);
        sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, nr->egress);
        sqlite3_bind_text(st, 3, nr->protocol, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, nr->from_port);
        sqlite3_bind_int(st, 5, nr->to_port);
        sqlite3_bind_text(st, 6, nr->cidr, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, nr->src_group_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, nr->src_account_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 9, nr->description, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 10, nr->rule_id, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return OC_OK;
        /* The only other UNIQUE column is rule_id: a random collision. */
        if (rc != SQLITE_CONSTRAINT_UNIQUE)
            break;
    }
    return oc_db_fail(db, err, "insert rule");
}

/* Deletes one rule (description ignored, as AWS matches); OC_ENOTFOUND
 * when there is no such rule. */
static int sg_rule_delete(struct oc_db *db, const char *group_id, const struct sg_rule_new *nr,
                          struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(
        db,
        "DELETE FROM sg_rules WHERE group_id = ? AND egress = ? AND protocol = ?"
        " AND from_port = ? AND to_port = ? AND cidr = ? AND src_group_id = ?",
        err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, nr->egress);
    sqlite3_bind_text(st, 3, nr->protocol, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, nr->from_port);
    sqlite3_bind_int(st, 5, nr->to_port);
    sqlite3_bind_text(st, 6, nr->cidr, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, nr->src_group_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return oc_db_fail(db, err, "delete rule");
    return sqlite3_changes(oc_db_handle(db)) ? OC_OK : OC_ENOTFOUND;
}

static long long sg_count(struct oc_db *db, const char *sql, const char *arg, int iarg,
                          struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, sql, err);
    long long v = -1;

    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st) > 1)
        sqlite3_bind_int(st, 2, iarg);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        oc_db_fail(db, err, "count");
    sqlite3_reset(st);
    return v;
}

/* Inserts the group row with a fresh id written to id. */
static int sg_group_insert(struct oc_db *db, const char *account_id, const char *name,
                           const char *description, time_t now, char id[SG_ID_LEN],
                           struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(db, "INSERT INTO security_groups"
                                         " (id, account_id, name, description, created)"
                                         " VALUES (?, ?, ?, ?, ?)", err);
    int rc;

    if (!st)
        return OC_EDB;
    for (int attempt = 0; attempt < 4; attempt++) {
        oc_resource_id("sg", id);
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, account_id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, description, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, (sqlite3_int64)now);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_DONE)
            return OC_OK;
        if (rc == SQLITE_CONSTRAINT_UNIQUE)
            return oc_err_set(err, OC_EEXIST, "security group '%s' already exists", name);
        if (rc != SQLITE_CONSTRAINT_PRIMARYKEY)
            break;
    }
    return oc_db_fail(db, err, "insert security group");
}

/* AWS's default egress: all traffic to anywhere. */
static int sg_add_default_egress(struct oc_db *db, const char *group_id, struct oc_err *err)
{
    struct sg_rule_new nr = {
        .egress = 1, .protocol = "-1", .from_port = -1, .to_port = -1,
        .cidr = "0.0.0.0/0", .src_group_id = "", .src_account_id = "", .description = "",
    };

    return sg_rule_insert(db, group_id, &nr, err);
}

/*
 * The `default` group: all egress, and all traffic from members of the
 * group itself (EC2-Classic's and the default VPC's default group both let
 * their members talk to each other).  Idempotent, so an account that
 * already has one keeps it.
 */
int clc_secgroup_create_default(struct oc_db *db, const char *account_id, struct oc_err *err)
{
    char id[SG_ID_LEN];
    struct sg_rule_new self = {
        .egress = 0, .protocol = "-1", .from_port = -1, .to_port = -1,
        .cidr = "", .src_group_id = id, .src_account_id = account_id, .description = "",
    };
    int rc = sg_group_insert(db, account_id, "default", "default group", time(NULL), id, err);

    if (rc == OC_EEXIST) {
        oc_err_clear(err);
        return OC_OK;
    }
    if (rc == OC_OK)
        rc = sg_add_default_egress(db, id, err);
    if (rc == OC_OK)
        rc = sg_rule_insert(db, id, &self, err);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* Handlers                                                                */
/* ---------------------------------------------------------------------- */

static int sg_fail(struct clc_req *r, const struct clc_sg_perr *pe)
{
    return clc_error(r, pe->code, "%s", pe->msg);
}

static int sg_not_found(struct clc_req *r, const char *what)
{
    return clc_error(r, "InvalidGroup.NotFound", "The security group '%s' does not exist", what);
}

/*
 * The group a request acts on (GroupId or GroupName, caller's account).
 * Sets *id and *name; CLC_FAILED with the error chosen otherwise.
 */
static int sg_target(struct clc_req *r, const char **id, const char **name)
{
    const char *gid = clc_param(r, "GroupId"), *gname = clc_param(r, "GroupName");
    struct oc_err err = { 0 };
    int rc;

    gid = gid && *gid ? gid : NULL;
    gname = gname && *gname ? gname : NULL;
    if (!gid && !gname)
        return clc_error(r, "MissingParameter",
                         "The request must contain the parameter GroupName or GroupId");
    if (gid && gname)
        return clc_error(r, "InvalidParameterCombination",
                         "The parameter GroupName cannot be used with the parameter GroupId");
    if (gid && !clc_sg_id_valid(gid))
        return clc_error(r, "InvalidGroupId.Malformed",
                         "Invalid id: \"%s\" (expecting \"sg-...\")", gid);
    rc = sg_find(r->db, r->arena, r->who.account_id, gid, gname, id, name, &err);
    if (rc == OC_ENOTFOUND)
        return sg_not_found(r, gid ? gid : gname);
    if (rc)
        return clc_internal(r, &err);
    return CLC_OK;
}

static int sg_account_id_valid(const char *s)
{
    if (strlen(s) != OC_ACCOUNT_ID_LEN)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* Resolves a group peer to (group id, owner, name). */
static int sg_peer_resolve(struct clc_req *r, const struct clc_sg_peer *p,
                           struct sg_rule_new *nr)
{
    const char *owner = r->who.account_id;
    struct oc_err err = { 0 };
    int rc;

    if (p->user_id && strcmp(p->user_id, owner) != 0) {
        if (!sg_account_id_valid(p->user_id))
            return clc_error(r, "InvalidUserID.Malformed",
                             "Invalid user ID: \"%s\" (expecting a 12-digit account ID)",
                             p->user_id);
        owner = p->user_id;
    }
    if (p->group_id && !clc_sg_id_valid(p->group_id))
        return clc_error(r, "InvalidGroupId.Malformed",
                         "Invalid id: \"%s\" (expecting \"sg-...\")", p->group_id);
    rc = sg_find(r->db, r->arena, owner, p->group_id, p->group_id ? NULL : p->group_name,
                 &nr->src_group_id, &nr->src_group_name, &err);
    if (rc == OC_ENOTFOUND)
        return sg_not_found(r, p->group_id ? p->group_id : p->group_name);
    if (rc)
        return clc_internal(r, &err);
    nr->src_account_id = oc_arena_strdup(r->arena, owner);
    nr->cidr = "";
    return CLC_OK;
}

/* Parses the permissions of the request and expands them to rules. */
static int sg_request_rules(struct clc_req *r, int egress, struct sg_rule_new **out,
                            size_t *nout)
{
    struct clc_sg_perm *perms = NULL;
    struct clc_sg_perr pe;
    struct sg_rule_new *rules;
    size_t nperms = 0, total = 0, k = 0;

    if (clc_sg_perms_parse(r->arena, r->params, &perms, &nperms, &pe))
        return sg_fail(r, &pe);
    for (size_t i = 0; i < nperms; i++)
        total += perms[i].npeers;
    rules = oc_arena_calloc(r->arena, total, sizeof(*rules));
    for (size_t i = 0; i < nperms; i++) {
        for (size_t j = 0; j < perms[i].npeers; j++) {
            const struct clc_sg_peer *p = &perms[i].peers[j];
            struct sg_rule_new *nr = &rules[k++];

            nr->egress = egress;
            nr->protocol = perms[i].protocol;
            nr->from_port = perms[i].from_port;
            nr->to_port = perms[i].to_port;
            nr->description = p->description ? p->description : "";
            if (p->cidr) {
                nr->cidr = p->cidr;
                nr->src_group_id = nr->src_account_id = nr->src_group_name = "";
            } else if (sg_peer_resolve(r, p, nr)) {
                return CLC_FAILED;
            }
        }
    }
    *out = rules;
    *nout = total;
    return CLC_OK;
}

/* AWS's description of a rule in Duplicate errors. */
static const char *sg_rule_text(struct clc_req *r, const struct sg_rule_new *nr)
{
    const char *proto = strcmp(nr->protocol, "-1") == 0 ? "ALL" : nr->protocol;
    char *up = oc_arena_strdup(r->arena, proto);

    for (char *c = up; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    return oc_arena_printf(r->arena, "peer: %s, %s, from port: %d, to port: %d, ALLOW",
                           *nr->cidr ? nr->cidr : nr->src_group_id, up, nr->from_port,
                           nr->to_port);
}

static void sg_write_rule_set(struct clc_req *r, const char *group_id,
                              const struct sg_rule_new *rules, size_t n)
{
    struct oc_xmlw *w = r->xml;

    oc_xmlw_start(w, "securityGroupRuleSet");
    for (size_t i = 0; i < n; i++) {
        const struct sg_rule_new *nr = &rules[i];
        int v6 = strchr(nr->cidr, ':') != NULL;

        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "securityGroupRuleId", nr->rule_id);
        oc_xmlw_elem(w, "groupId", group_id);
        oc_xmlw_elem(w, "groupOwnerId", r->who.account_id);
        oc_xmlw_elem(w, "isEgress", nr->egress ? "true" : "false");
        oc_xmlw_elem(w, "ipProtocol", nr->protocol);
        oc_xmlw_elemf(w, "fromPort", "%d", nr->from_port);
        oc_xmlw_elemf(w, "toPort", "%d", nr->to_port);
        if (*nr->cidr)
            oc_xmlw_elem(w, v6 ? "cidrIpv6" : "cidrIpv4", nr->cidr);
        if (*nr->src_group_id) {
            oc_xmlw_start(w, "referencedGroupInfo");
            oc_xmlw_elem(w, "groupId", nr->src_group_id);
            oc_xmlw_elem(w, "userId", nr->src_account_id);
            oc_xmlw_end(w);
        }
        if (*nr->description)
            oc_xmlw_elem(w, "description", nr->description);
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
}

/* Authorize/Revoke, Ingress/Egress: one transaction per request. */
static int sg_change_rules(struct clc_req *r, int egress, int revoke)
{
    struct sg_rule_new *rules = NULL;
    const char *gid = NULL, *gname = NULL;
    struct oc_err err = { 0 };
    size_t n = 0;
    int rc = OC_OK;

    if (sg_request_rules(r, egress, &rules, &n))
        return CLC_FAILED;
    if (sg_target(r, &gid, &gname))
        return CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    for (size_t i = 0; i < n && rc == OC_OK; i++) {
        rc = revoke ? sg_rule_delete(r->db, gid, &rules[i], &err)
                    : sg_rule_insert(r->db, gid, &rules[i], &err);
        if (rc == OC_EEXIST) {
            oc_db_rollback(r->db);
            return clc_error(r, "InvalidPermission.Duplicate",
                             "the specified rule \"%s\" already exists",
                             sg_rule_text(r, &rules[i]));
        }
        if (rc == OC_ENOTFOUND) {
            oc_db_rollback(r->db);
            return clc_error(r, "InvalidPermission.NotFound",
                             "The specified rule does not exist in this security group: "
                             "\"%s\"", sg_rule_text(r, &rules[i]));
        }
    }
    if (rc == OC_OK && !revoke) {
        long long cnt = sg_count(r->db, "SELECT count(*) FROM sg_rules"
                                        " WHERE group_id = ? AND egress = ?",
                                 gid, egress, &err);

        if (cnt < 0) {
            rc = OC_EDB;
        } else if (cnt > SG_RULES_PER_DIRECTION) {
            oc_db_rollback(r->db);
            return clc_error(r, "RulesPerSecurityGroupLimitExceeded",
                             "The maximum number of rules per security group has been "
                             "reached (%d per direction)", SG_RULES_PER_DIRECTION);
        }
    }
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    /* Every cluster running an instance of the group gets its rules now
     * (ccConfigureNetwork, both directions): the change is live when the
     * answer comes, or the poller pushes it once the cluster answers. */
    clc_net_group_changed(r, gid);
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "return", "true");
    if (!revoke)
        sg_write_rule_set(r, gid, rules, n);
    return CLC_OK;
}

static int sg_authorize_ingress(struct clc_req *r)
{
    return sg_change_rules(r, 0, 0);
}

static int sg_revoke_ingress(struct clc_req *r)
{
    return sg_change_rules(r, 0, 1);
}

static int sg_authorize_egress(struct clc_req *r)
{
    return sg_change_rules(r, 1, 0);
}

static int sg_revoke_egress(struct clc_req *r)
{
    return sg_change_rules(r, 1, 1);
}

static int sg_create(struct clc_req *r)
{
    const char *name = NULL, *desc = NULL, *vpc = clc_param(r, "VpcId");
    struct clc_sg_perr pe;
    struct clc_tagset tags = { 0 };
    struct oc_err err = { 0 };
    char id[SG_ID_LEN];
    long long cnt;
    int rc;

    if (clc_param_required(r, "GroupName", &name) ||
        clc_param_required(r, "GroupDescription", &desc))
        return CLC_FAILED;
    if (clc_sg_name_check(r->arena, "GroupName", name, &pe) ||
        clc_sg_name_check(r->arena, "GroupDescription", desc, &pe))
        return sg_fail(r, &pe);
    if (strcmp(name, "default") == 0)
        return clc_error(r, "InvalidGroup.Reserved",
                         "The security group name 'default' is reserved");
    if (vpc && *vpc)
        return clc_error(r, "InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", vpc);
    if (clc_tags_check_spec(r, "security-group"))
        return CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    cnt = sg_count(r->db, "SELECT count(*) FROM security_groups WHERE account_id = ?",
                   r->who.account_id, 0, &err);
    if (cnt < 0) {
        rc = OC_EDB;
    } else if (cnt >= SG_GROUPS_PER_ACCOUNT) {
        oc_db_rollback(r->db);
        return clc_error(r, "SecurityGroupLimitExceeded",
                         "You have reached the maximum number of security groups (%d)",
                         SG_GROUPS_PER_ACCOUNT);
    } else {
        rc = sg_group_insert(r->db, r->who.account_id, name, desc, r->now, id, &err);
    }
    if (rc == OC_EEXIST) {
        oc_db_rollback(r->db);
        return clc_error(r, "InvalidGroup.Duplicate",
                         "The security group '%s' already exists", name);
    }
    if (rc == OC_OK)
        rc = sg_add_default_egress(r->db, id, &err);
    if (rc == OC_OK && clc_tags_from_spec(r, "security-group", id)) {
        oc_db_rollback(r->db);
        return CLC_FAILED;
    }
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    if (clc_tags_load(r, id, &tags))
        return CLC_FAILED;
    clc_reply_begin(r);
    oc_xmlw_elem(r->xml, "return", "true");
    oc_xmlw_elem(r->xml, "groupId", id);
    clc_tags_write(r, &tags);
    return CLC_OK;
}

/* DependencyViolation checks of DeleteSecurityGroup; CLC_OK when free. */
static int sg_check_unused(struct clc_req *r, const char *gid)
{
    struct oc_err err = { 0 };
    const char *other;
    int in_use;

    if (sg_referenced_by(r->db, r->arena, gid, &other, &err))
        return clc_internal(r, &err);
    if (other)
        return clc_error(r, "DependencyViolation",
                         "resource %s has a dependent object: a rule of %s refers to it",
                         gid, other);
    if (clc_secgroup_in_use_by_instances(r->db, gid, &in_use, &err))
        return clc_internal(r, &err);
    if (in_use)
        return clc_error(r, "DependencyViolation",
                         "resource %s has a dependent object: instances use it", gid);
    return CLC_OK;
}

static int sg_delete(struct clc_req *r)
{
    const char *gid = NULL, *gname = NULL;
    struct oc_err err = { 0 };
    sqlite3_stmt *st;
    int rc;

    if (sg_target(r, &gid, &gname))
        return CLC_FAILED;
    if (strcmp(gname, "default") == 0)
        return clc_error(r, "CannotDelete",
                         "the specified group: \"%s\" name: \"default\" cannot be deleted "
                         "by user", gid);
    if (sg_check_unused(r, gid))
        return CLC_FAILED;
    if (clc_dry_run(r))
        return CLC_FAILED;
    if (oc_db_begin(r->db, &err))
        return clc_internal(r, &err);
    /* Checked again inside the transaction: a rule may have appeared. */
    if (sg_check_unused(r, gid)) {
        oc_db_rollback(r->db);
        return CLC_FAILED;
    }
    st = oc_db_prepare(r->db, "DELETE FROM sg_rules WHERE group_id = ?", &err);
    rc = st ? OC_OK : OC_EDB;
    if (st) {
        sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = oc_db_fail(r->db, &err, "delete rules");
        sqlite3_reset(st);
    }
    if (rc == OC_OK) {
        st = oc_db_prepare(r->db, "DELETE FROM security_groups WHERE id = ?", &err);
        rc = st ? OC_OK : OC_EDB;
        if (st) {
            sqlite3_bind_text(st, 1, gid, -1, SQLITE_STATIC);
            if (sqlite3_step(st) != SQLITE_DONE)
                rc = oc_db_fail(r->db, &err, "delete group");
            sqlite3_reset(st);
        }
    }
    if (rc == OC_OK && clc_tags_drop(r, gid)) {
        oc_db_rollback(r->db);
        return CLC_FAILED;
    }
    if (rc == OC_OK)
        rc = oc_db_commit(r->db, &err);
    if (rc) {
        oc_db_rollback(r->db);
        return clc_internal(r, &err);
    }
    return clc_reply_return_true(r);
}

/* ---- DescribeSecurityGroups ---- */

struct sg_row {
    const char *id, *name, *description, *account_id;
    struct clc_sg_rule *rules;
    size_t nrules;
};

static const char *const sg_filter_names[] = {
    "description", "group-id", "group-name", "owner-id", "vpc-id",
    "ip-permission.cidr", "ip-permission.from-port", "ip-permission.group-id",
    "ip-permission.group-name", "ip-permission.ipv6-cidr", "ip-permission.prefix-list-id",
    "ip-permission.protocol", "ip-permission.to-port", "ip-permission.user-id",
    "egress.ip-permission.cidr", "egress.ip-permission.from-port",
    "egress.ip-permission.group-id", "egress.ip-permission.group-name",
    "egress.ip-permission.ipv6-cidr", "egress.ip-permission.prefix-list-id",
    "egress.ip-permission.protocol", "egress.ip-permission.to-port",
    "egress.ip-permission.user-id",
    NULL,
};

static void sg_attr(void *p, const char *name, struct clc_values *vals)
{
    const struct sg_row *g = p;
    int egress = 0;

    if (strcmp(name, "description") == 0) {
        clc_values_add(vals, g->description);
        return;
    }
    if (strcmp(name, "group-id") == 0) {
        clc_values_add(vals, g->id);
        return;
    }
    if (strcmp(name, "group-name") == 0) {
        clc_values_add(vals, g->name);
        return;
    }
    if (strcmp(name, "owner-id") == 0) {
        clc_values_add(vals, g->account_id);
        return;
    }
    /* vpc-id: no VPCs in EC2-Classic, so it never matches. */
    if (strncmp(name, "egress.", 7) == 0) {
        egress = 1;
        name += 7;
    }
    if (strncmp(name, "ip-permission.", 14) != 0)
        return;
    name += 14;
    for (size_t i = 0; i < g->nrules; i++) {
        const struct clc_sg_rule *rule = &g->rules[i];
        int v6 = strchr(rule->cidr, ':') != NULL;

        if (rule->egress != egress)
            continue;
        if (strcmp(name, "cidr") == 0 && *rule->cidr && !v6)
            clc_values_add(vals, rule->cidr);
        else if (strcmp(name, "ipv6-cidr") == 0 && *rule->cidr && v6)
            clc_values_add(vals, rule->cidr);
        else if (strcmp(name, "protocol") == 0)
            clc_values_add(vals, rule->protocol);
        else if (strcmp(name, "from-port") == 0 && clc_sg_proto_has_ports(rule->protocol))
            clc_values_addf(vals, "%d", rule->from_port);
        else if (strcmp(name, "to-port") == 0 && clc_sg_proto_has_ports(rule->protocol))
            clc_values_addf(vals, "%d", rule->to_port);
        else if (strcmp(name, "group-id") == 0 && *rule->src_group_id)
            clc_values_add(vals, rule->src_group_id);
        else if (strcmp(name, "group-name") == 0 && *rule->src_group_name)
            clc_values_add(vals, rule->src_group_name);
        else if (strcmp(name, "user-id") == 0 && *rule->src_account_id)
            clc_values_add(vals, rule->src_account_id);
    }
}

/* One ipPermissions/ipPermissionsEgress list: rules sharing protocol and
 * ports form one permission, in the order they first appear. */
static void sg_write_perms(struct clc_req *r, const struct sg_row *g, int egress)
{
    struct oc_xmlw *w = r->xml;
    char *done = oc_arena_calloc(r->arena, g->nrules + 1, 1);

    oc_xmlw_start(w, egress ? "ipPermissionsEgress" : "ipPermissions");
    for (size_t i = 0; i < g->nrules; i++) {
        const struct clc_sg_rule *lead = &g->rules[i];

        if (done[i] || lead->egress != egress)
            continue;
        oc_xmlw_start(w, "item");
        oc_xmlw_elem(w, "ipProtocol", lead->protocol);
        if (clc_sg_proto_has_ports(lead->protocol)) {
            oc_xmlw_elemf(w, "fromPort", "%d", lead->from_port);
            oc_xmlw_elemf(w, "toPort", "%d", lead->to_port);
        }
        /* Three passes over the same permission: groups, IPv4, IPv6. */
        for (int pass = 0; pass < 3; pass++) {
            static const char *const lists[] = { "groups", "ipRanges", "ipv6Ranges" };

            oc_xmlw_start(w, lists[pass]);
            for (size_t j = i; j < g->nrules; j++) {
                const struct clc_sg_rule *x = &g->rules[j];
                int v6 = strchr(x->cidr, ':') != NULL;

                if (x->egress != egress || x->from_port != lead->from_port ||
                    x->to_port != lead->to_port || strcmp(x->protocol, lead->protocol))
                    continue;
                done[j] = 1;
                if (pass == 0 && *x->src_group_id) {
                    oc_xmlw_start(w, "item");
                    oc_xmlw_elem(w, "userId", x->src_account_id);
                    oc_xmlw_elem(w, "groupId", x->src_group_id);
                    if (*x->src_group_name)
                        oc_xmlw_elem(w, "groupName", x->src_group_name);
                    if (*x->description)
                        oc_xmlw_elem(w, "description", x->description);
                    oc_xmlw_end(w);
                } else if (pass > 0 && *x->cidr && v6 == (pass == 2)) {
                    oc_xmlw_start(w, "item");
                    oc_xmlw_elem(w, v6 ? "cidrIpv6" : "cidrIp", x->cidr);
                    if (*x->description)
                        oc_xmlw_elem(w, "description", x->description);
                    oc_xmlw_end(w);
                }
            }
            oc_xmlw_end(w);
        }
        oc_xmlw_start(w, "prefixListIds");
        oc_xmlw_end(w);
        oc_xmlw_end(w);
    }
    oc_xmlw_end(w);
}

static void sg_write_group(struct clc_req *r, const struct sg_row *g,
                           const struct clc_tagset *tags)
{
    struct oc_xmlw *w = r->xml;

    oc_xmlw_start(w, "item");
    oc_xmlw_elem(w, "ownerId", g->account_id);
    oc_xmlw_elem(w, "groupId", g->id);
    oc_xmlw_elem(w, "groupName", g->name);
    oc_xmlw_elem(w, "groupDescription", g->description);
    sg_write_perms(r, g, 0);
    sg_write_perms(r, g, 1);
    clc_tags_write(r, tags);
    oc_xmlw_end(w);
}

static void sg_fill(struct oc_arena *a, sqlite3_stmt *st, void *row)
{
    struct sg_row *g = row;

    g->id = clc_col_text(a, st, 0);
    g->name = clc_col_text(a, st, 1);
    g->description = clc_col_text(a, st, 2);
    g->account_id = clc_col_text(a, st, 3);
}

/*
 * The rules of every group in rows (the account's groups after `after`, by
 * id) with one statement, ordered as clc_secgroup_rules_load() orders one
 * group's; each group gets its slice of one array.
 */
static int sg_rules_attach(struct clc_req *r, const char *after, struct sg_row *rows,
                           size_t nrows)
{
    struct oc_err err = { 0 };
    sqlite3_stmt *st = oc_db_prepare(
        r->db,
        "SELECT r.group_id, r.egress, r.protocol, r.from_port, r.to_port, r.cidr,"
        " r.src_group_id, r.src_account_id, COALESCE(g.name, ''), r.description, r.rule_id"
        " FROM security_groups o JOIN sg_rules r ON r.group_id = o.id"
        " LEFT JOIN security_groups g ON r.src_group_id <> '' AND g.id = r.src_group_id"
        " WHERE o.account_id = ?1 AND o.id > ?2 ORDER BY r.group_id, r.egress, r.rowid",
        &err);
    struct clc_sg_rule *v = NULL;
    size_t cnt = 0, cap = 0, g = 0;
    int rc;

    if (!st)
        return clc_internal(r, &err);
    sqlite3_bind_text(st, 1, r->who.account_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, after ? after : "", -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *gid = (const char *)sqlite3_column_text(st, 0);
        struct clc_sg_rule *x;

        /* Both lists are sorted by group id: advance to this rule's group.
         * (The groups were read in the same transaction, so it is there.) */
        while (g < nrows && strcmp(rows[g].id, gid ? gid : "") < 0)
            g++;
        if (g == nrows || strcmp(rows[g].id, gid ? gid : "") != 0)
            continue;
        v = sg_grow(r->arena, v, cnt, &cap, sizeof(*v));
        x = &v[cnt++];
        x->egress = sqlite3_column_int(st, 1);
        x->protocol = clc_col_text(r->arena, st, 2);
        x->from_port = sqlite3_column_int(st, 3);
        x->to_port = sqlite3_column_int(st, 4);
        x->cidr = clc_col_text(r->arena, st, 5);
        x->src_group_id = clc_col_text(r->arena, st, 6);
        x->src_account_id = clc_col_text(r->arena, st, 7);
        x->src_group_name = clc_col_text(r->arena, st, 8);
        x->description = clc_col_text(r->arena, st, 9);
        x->rule_id = clc_col_text(r->arena, st, 10);
        /* Rules arrive group by group in the groups' order, so each
         * group's rules are one run of v: counting is enough. */
        rows[g].nrules++;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        oc_db_fail(r->db, &err, "load security group rules");
        return clc_internal(r, &err);
    }
    for (size_t i = 0, at = 0; i < nrows; i++) {
        rows[i].rules = rows[i].nrules ? &v[at] : NULL;
        at += rows[i].nrules;
    }
    return CLC_OK;
}

struct sg_named {
    const char **names, **ids;
    size_t nnames, nids;
};

static const char *sg_row_id(const void *row)
{
    return ((const struct sg_row *)row)->id;
}

static int sg_keep(struct clc_req *r, const void *row, void *ctx)
{
    const struct sg_row *g = row;
    const struct sg_named *nm = ctx;

    (void)r;
    return !(nm->nnames + nm->nids) || clc_in_list(g->name, nm->names, nm->nnames) ||
           clc_in_list(g->id, nm->ids, nm->nids);
}

static void sg_write(struct clc_req *r, const void *row, const struct clc_tagset *tags,
                     void *ctx)
{
    (void)ctx;
    sg_write_group(r, row, tags);
}

static int sg_describe(struct clc_req *r)
{
    struct sg_named nm = { 0 };
    size_t nrows = 0;
    struct clc_filters *filters = NULL;
    struct clc_page page = { 0 };
    struct sg_row *rows = NULL;
    struct oc_err err = { 0 };
    struct clc_describe d = {
        .set_name = "securityGroupInfo", .tag_type = "security-group",
        .row_size = sizeof(struct sg_row), .id = sg_row_id, .keep = sg_keep,
        .attr = sg_attr, .page = &page, .write = sg_write,
    };
    const char *after;

    if (clc_param_list(r, "GroupName", &nm.names, &nm.nnames) ||
        clc_param_list(r, "GroupId", &nm.ids, &nm.nids))
        return CLC_FAILED;
    for (size_t i = 0; i < nm.nids; i++)
        if (!clc_sg_id_valid(nm.ids[i]))
            return clc_error(r, "InvalidGroupId.Malformed",
                             "Invalid id: \"%s\" (expecting \"sg-...\")", nm.ids[i]);
    if (clc_filters_parse(r, sg_filter_names, &filters))
        return CLC_FAILED;
    if (clc_page_parse(r, 5, 1000, nm.nnames + nm.nids > 0, &page))
        return CLC_FAILED;
    /* Every group named must exist, as AWS answers NotFound otherwise. */
    for (size_t i = 0; i < nm.nnames + nm.nids; i++) {
        const char *want = i < nm.nnames ? nm.names[i] : nm.ids[i - nm.nnames];
        int rc = sg_find(r->db, r->arena, r->who.account_id, i < nm.nnames ? NULL : want,
                         i < nm.nnames ? want : NULL, NULL, NULL, &err);

        if (rc == OC_ENOTFOUND)
            return sg_not_found(r, want);
        if (rc)
            return clc_internal(r, &err);
    }
    after = page.limited ? page.after : NULL;
    if (clc_describe_rows(r, "SELECT id, name, description, account_id FROM security_groups"
                             " WHERE account_id = ?1 AND id > ?2 ORDER BY id",
                          after, sg_fill, sizeof(*rows), (void **)&rows, &nrows) ||
        sg_rules_attach(r, after, rows, nrows))
        return CLC_FAILED;
    d.rows = rows;
    d.nrows = nrows;
    d.filters = filters;
    return clc_describe_run(r, &d, &nm);
}

const struct clc_action clc_secgroup_actions[] = {
    { "CreateSecurityGroup", sg_create, 0 },
    { "DeleteSecurityGroup", sg_delete, 0 },
    { "DescribeSecurityGroups", sg_describe, CLC_ACTION_CACHEABLE },
    /* Rule changes call the clusters that run the group's instances. */
    { "AuthorizeSecurityGroupIngress", sg_authorize_ingress, CLC_ACTION_CALLS_OUT },
    { "RevokeSecurityGroupIngress", sg_revoke_ingress, CLC_ACTION_CALLS_OUT },
    { "AuthorizeSecurityGroupEgress", sg_authorize_egress, CLC_ACTION_CALLS_OUT },
    { "RevokeSecurityGroupEgress", sg_revoke_egress, CLC_ACTION_CALLS_OUT },
    { NULL, NULL, 0 },
};
