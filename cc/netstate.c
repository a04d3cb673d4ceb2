/*
 * netstate.c - security-group rules and elastic IPs (see netstate.h),
 * in $OVERCAST_HOME/cc/net.db.
 */
#include "cc/netstate.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc/addr.h"
#include "common/db.h"

struct cc_netstate {
    struct oc_db *db;
    pthread_mutex_t mu;
    uint32_t *pub;          /* the public range, sorted */
    size_t npub;
    uint64_t generation;
};

static const struct oc_migration migrations[] = {
    { 1, "CREATE TABLE rules (group_id TEXT NOT NULL, seq INTEGER NOT NULL,"
         "  proto TEXT NOT NULL, from_port INTEGER NOT NULL, to_port INTEGER NOT NULL,"
         "  cidr TEXT NOT NULL, src_group TEXT NOT NULL, PRIMARY KEY (group_id, seq));"
         "CREATE TABLE eips (public_ip TEXT PRIMARY KEY, instance_id TEXT NOT NULL UNIQUE,"
         "  private_ip TEXT NOT NULL);" },
    /* Egress rules, and whether a group's egress is filtered at all (a
     * group absent here, or configured before, is not). */
    { 2, "ALTER TABLE rules ADD COLUMN egress INTEGER NOT NULL DEFAULT 0;"
         "CREATE TABLE groups (group_id TEXT PRIMARY KEY,"
         "  egress_filtered INTEGER NOT NULL);" },
};

static int valid_group(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* "a.b.c.d/n" with no host bits, re-printed canonically into out. */
static int canon_cidr(const char *in, char out[20])
{
    char addr[16];
    const char *slash = strchr(in, '/');
    char *end;
    long bits;
    uint32_t ip, mask;

    if (!slash || (size_t)(slash - in) >= sizeof(addr))
        return OC_EINVAL;
    memcpy(addr, in, (size_t)(slash - in));
    addr[slash - in] = 0;
    errno = 0;
    bits = strtol(slash + 1, &end, 10);
    if (errno || *end || slash[1] == 0 || bits < 0 || bits > 32 || cc_ip_parse(addr, &ip))
        return OC_EINVAL;
    mask = bits ? ~(uint32_t)0 << (32 - bits) : 0;
    if (ip & ~mask)
        return OC_EINVAL;
    cc_ip_str(ip, addr);
    snprintf(out, 20, "%s/%ld", addr, bits);
    return OC_OK;
}

/* "0".."255" without sign, spaces or leading zeros. */
static int proto_number(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 3 || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0'))
        return -1;
    return atoi(s) <= 255 ? atoi(s) : -1;
}

static int check_rule(const struct cc_rule *r, struct cc_rule *out, size_t k, struct oc_err *err)
{
    *out = *r;
    out->egress = !!r->egress;
    if (strcmp(r->proto, "tcp") && strcmp(r->proto, "udp") && strcmp(r->proto, "icmp") &&
        strcmp(r->proto, "all") && proto_number(r->proto) < 0)
        return oc_err_set(err, OC_EINVAL, "rule %zu: protocol must be tcp, udp, icmp, all or "
                          "a number 0-255", k + 1);
    if (!strcmp(r->proto, "tcp") || !strcmp(r->proto, "udp")) {
        if (r->from_port < 0 || r->to_port > 65535 || r->from_port > r->to_port)
            return oc_err_set(err, OC_EINVAL, "rule %zu: ports must be 0-65535, from <= to",
                              k + 1);
    } else if (!strcmp(r->proto, "icmp")) {
        if (r->from_port < -1 || r->from_port > 255 || r->to_port < -1 || r->to_port > 255)
            return oc_err_set(err, OC_EINVAL, "rule %zu: icmp type and code must be -1..255",
                              k + 1);
    } else {
        out->from_port = out->to_port = -1;
    }
    if (!!r->cidr[0] == !!r->src_group[0])
        return oc_err_set(err, OC_EINVAL, "rule %zu: exactly one of a CIDR and a source group",
                          k + 1);
    if (r->cidr[0] && canon_cidr(r->cidr, out->cidr) != OC_OK)
        return oc_err_set(err, OC_EINVAL, "rule %zu: '%.19s' is not an IPv4 CIDR", k + 1,
                          r->cidr);
    if (r->src_group[0] && !valid_group(r->src_group))
        return oc_err_set(err, OC_EINVAL, "rule %zu: source group id is malformed", k + 1);
    return OC_OK;
}

int cc_netstate_configure(struct cc_netstate *ns, const char *group_id,
                          const struct cc_rule *rules, size_t n, int egress_filtered,
                          struct oc_err *err)
{
    sqlite3_stmt *st;
    int rc;

    if (!valid_group(group_id))
        return oc_err_set(err, OC_EINVAL, "group id is malformed");
    if (n > CC_NETSTATE_MAX_RULES)
        return oc_err_set(err, OC_EINVAL, "at most %d rules per group", CC_NETSTATE_MAX_RULES);
    for (size_t k = 0; k < n; k++) {
        struct cc_rule c;

        if ((rc = check_rule(&rules[k], &c, k, err)))
            return rc;
    }
    pthread_mutex_lock(&ns->mu);
    if ((rc = oc_db_begin(ns->db, err)))
        goto out;
    st = oc_db_prepare(ns->db, "DELETE FROM rules WHERE group_id = ?1", err);
    if (!st) {
        rc = OC_EDB;
        goto fail;
    }
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? OC_OK : oc_db_fail(ns->db, err, "rules");
    sqlite3_reset(st);
    if (!rc) {
        st = oc_db_prepare(ns->db, "INSERT OR REPLACE INTO groups VALUES (?1, ?2)", err);
        if (!st) {
            rc = OC_EDB;
            goto fail;
        }
        sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, !!egress_filtered);
        rc = sqlite3_step(st) == SQLITE_DONE ? OC_OK : oc_db_fail(ns->db, err, "groups");
        sqlite3_reset(st);
    }
    for (size_t k = 0; k < n && !rc; k++) {
        struct cc_rule c;

        (void)check_rule(&rules[k], &c, k, err);
        st = oc_db_prepare(ns->db, "INSERT INTO rules (group_id, seq, proto, from_port,"
                                   " to_port, cidr, src_group, egress)"
                                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", err);
        if (!st) {
            rc = OC_EDB;
            break;
        }
        sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, (int)k);
        sqlite3_bind_text(st, 3, c.proto, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, c.from_port);
        sqlite3_bind_int(st, 5, c.to_port);
        sqlite3_bind_text(st, 6, c.cidr, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 7, c.src_group, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 8, c.egress);
        rc = sqlite3_step(st) == SQLITE_DONE ? OC_OK : oc_db_fail(ns->db, err, "rules");
        sqlite3_reset(st);
    }
fail:
    if (rc)
        oc_db_rollback(ns->db);
    else if ((rc = oc_db_commit(ns->db, err)) == OC_OK)
        ns->generation++;
out:
    pthread_mutex_unlock(&ns->mu);
    return rc;
}

int cc_netstate_rules(struct cc_netstate *ns, const char *group_id, struct cc_rule **out,
                      size_t *n, int *egress_filtered, struct oc_err *err)
{
    sqlite3_stmt *st;
    size_t cap = 16;

    *n = 0;
    if (egress_filtered)
        *egress_filtered = 0;
    *out = calloc(cap, sizeof(**out));
    if (!*out)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_lock(&ns->mu);
    st = oc_db_prepare(ns->db, "SELECT egress_filtered FROM groups WHERE group_id = ?1", err);
    if (!st) {
        pthread_mutex_unlock(&ns->mu);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && egress_filtered)
        *egress_filtered = sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    st = oc_db_prepare(ns->db, "SELECT proto, from_port, to_port, cidr, src_group, egress"
                               " FROM rules WHERE group_id = ?1 ORDER BY egress, seq", err);
    if (!st) {
        pthread_mutex_unlock(&ns->mu);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, group_id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct cc_rule *r;

        if (*n == cap) {
            struct cc_rule *m = realloc(*out, cap * 2 * sizeof(*m));

            if (!m)
                break;
            *out = m;
            cap *= 2;
        }
        r = &(*out)[(*n)++];
        memset(r, 0, sizeof(*r));
        snprintf(r->proto, sizeof(r->proto), "%s", sqlite3_column_text(st, 0));
        r->from_port = sqlite3_column_int(st, 1);
        r->to_port = sqlite3_column_int(st, 2);
        snprintf(r->cidr, sizeof(r->cidr), "%s", sqlite3_column_text(st, 3));
        snprintf(r->src_group, sizeof(r->src_group), "%s", sqlite3_column_text(st, 4));
        r->egress = sqlite3_column_int(st, 5) != 0;
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&ns->mu);
    return OC_OK;
}

int cc_netstate_groups(struct cc_netstate *ns, char (**ids)[64], size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st;
    size_t cap = 16;

    *n = 0;
    *ids = calloc(cap, sizeof(**ids));
    if (!*ids)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_lock(&ns->mu);
    st = oc_db_prepare(ns->db, "SELECT group_id FROM rules UNION SELECT group_id FROM groups"
                               " ORDER BY group_id", err);
    if (!st) {
        pthread_mutex_unlock(&ns->mu);
        return OC_EDB;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (*n == cap) {
            char(*m)[64] = realloc(*ids, cap * 2 * sizeof(*m));

            if (!m)
                break;
            *ids = m;
            cap *= 2;
        }
        snprintf((*ids)[(*n)++], 64, "%s", sqlite3_column_text(st, 0));
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&ns->mu);
    return OC_OK;
}

static int in_range(const struct cc_netstate *ns, uint32_t ip)
{
    size_t lo = 0, hi = ns->npub;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (ns->pub[mid] == ip)
            return 1;
        if (ns->pub[mid] < ip)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

int cc_netstate_is_public(struct cc_netstate *ns, uint32_t ip)
{
    return in_range(ns, ip);
}

int cc_netstate_assign(struct cc_netstate *ns, const char *public_ip, const char *instance_id,
                       const char *private_ip, struct oc_err *err)
{
    sqlite3_stmt *st;
    uint32_t ip, priv;
    char holder[24] = "";
    int rc;

    if (cc_ip_parse(public_ip, &ip) || !in_range(ns, ip))
        return oc_err_set(err, OC_EINVAL, "%.16s is not in the cluster's public range",
                          public_ip);
    if (cc_ip_parse(private_ip, &priv) || strlen(instance_id) >= sizeof(holder) ||
        strncmp(instance_id, "i-", 2) != 0)
        return oc_err_set(err, OC_EINVAL, "instance id or private address is malformed");
    pthread_mutex_lock(&ns->mu);
    st = oc_db_prepare(ns->db, "SELECT instance_id FROM eips WHERE public_ip = ?1", err);
    if (!st) {
        pthread_mutex_unlock(&ns->mu);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, public_ip, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(holder, sizeof(holder), "%s", sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    if (holder[0]) {
        pthread_mutex_unlock(&ns->mu);
        return strcmp(holder, instance_id) == 0
                   ? OC_OK
                   : oc_err_set(err, OC_EEXIST, "%s is assigned to %s", public_ip, holder);
    }
    /* An instance has one elastic IP: a new one replaces the old. */
    st = oc_db_prepare(ns->db, "INSERT OR REPLACE INTO eips VALUES (?1, ?2, ?3)", err);
    if (!st) {
        pthread_mutex_unlock(&ns->mu);
        return OC_EDB;
    }
    sqlite3_bind_text(st, 1, public_ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, instance_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, private_ip, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? OC_OK : oc_db_fail(ns->db, err, "assigning");
    sqlite3_reset(st);
    if (!rc)
        ns->generation++;
    pthread_mutex_unlock(&ns->mu);
    return rc;
}

static int delete_where(struct cc_netstate *ns, const char *sql, const char *value,
                        struct oc_err *err)
{
    sqlite3_stmt *st = oc_db_prepare(ns->db, sql, err);
    int rc;

    if (!st)
        return OC_EDB;
    sqlite3_bind_text(st, 1, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? OC_OK : oc_db_fail(ns->db, err, "deleting");
    sqlite3_reset(st);
    if (rc == OC_OK && sqlite3_changes(oc_db_handle(ns->db)) == 0)
        return OC_ENOTFOUND;
    if (rc == OC_OK)
        ns->generation++;
    return rc;
}

int cc_netstate_unassign(struct cc_netstate *ns, const char *public_ip, struct oc_err *err)
{
    int rc;

    pthread_mutex_lock(&ns->mu);
    rc = delete_where(ns, "DELETE FROM eips WHERE public_ip = ?1", public_ip, err);
    pthread_mutex_unlock(&ns->mu);
    if (rc == OC_ENOTFOUND)
        oc_err_set(err, rc, "%.16s is not assigned", public_ip);
    return rc;
}

void cc_netstate_forget_instance(struct cc_netstate *ns, const char *instance_id)
{
    struct oc_err err = { 0 };

    pthread_mutex_lock(&ns->mu);
    (void)delete_where(ns, "DELETE FROM eips WHERE instance_id = ?1", instance_id, &err);
    pthread_mutex_unlock(&ns->mu);
}

int cc_netstate_eips(struct cc_netstate *ns, struct cc_eip **out, size_t *n, struct oc_err *err)
{
    sqlite3_stmt *st;

    *n = 0;
    *out = calloc(ns->npub + 1, sizeof(**out));
    if (!*out)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (size_t k = 0; k < ns->npub; k++)
        cc_ip_str(ns->pub[k], (*out)[k].public_ip);
    *n = ns->npub;
    pthread_mutex_lock(&ns->mu);
    st = oc_db_prepare(ns->db, "SELECT public_ip, instance_id, private_ip FROM eips", err);
    if (!st) {
        pthread_mutex_unlock(&ns->mu);
        return OC_EDB;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint32_t ip;

        if (cc_ip_parse((const char *)sqlite3_column_text(st, 0), &ip))
            continue;
        for (size_t k = 0; k < ns->npub; k++)
            if (ns->pub[k] == ip) {
                snprintf((*out)[k].instance_id, sizeof((*out)[k].instance_id), "%s",
                         sqlite3_column_text(st, 1));
                snprintf((*out)[k].private_ip, sizeof((*out)[k].private_ip), "%s",
                         sqlite3_column_text(st, 2));
            }
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&ns->mu);
    return OC_OK;
}

int cc_netstate_assigned(struct cc_netstate *ns, struct cc_eip **out, size_t *n,
                         struct oc_err *err)
{
    sqlite3_stmt *st;
    size_t cap = 16;
    int rc = OC_OK;

    *n = 0;
    *out = calloc(cap, sizeof(**out));
    if (!*out)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_lock(&ns->mu);
    st = oc_db_prepare(ns->db, "SELECT public_ip, instance_id, private_ip FROM eips", err);
    if (!st) {
        pthread_mutex_unlock(&ns->mu);
        return OC_EDB;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct cc_eip *e;

        if (*n == cap) {
            struct cc_eip *more = realloc(*out, 2 * cap * sizeof(**out));

            if (!more) {
                rc = oc_err_set(err, OC_ENOMEM, "out of memory");
                break;
            }
            *out = more;
            cap *= 2;
        }
        e = &(*out)[(*n)++];
        memset(e, 0, sizeof(*e));
        snprintf(e->public_ip, sizeof(e->public_ip), "%s", sqlite3_column_text(st, 0));
        snprintf(e->instance_id, sizeof(e->instance_id), "%s", sqlite3_column_text(st, 1));
        snprintf(e->private_ip, sizeof(e->private_ip), "%s", sqlite3_column_text(st, 2));
    }
    sqlite3_reset(st);
    pthread_mutex_unlock(&ns->mu);
    return rc;
}

uint64_t cc_netstate_generation(struct cc_netstate *ns)
{
    uint64_t g;

    pthread_mutex_lock(&ns->mu);
    g = ns->generation;
    pthread_mutex_unlock(&ns->mu);
    return g;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* VNET_PUBLICIPS: "a.b.c.d a.b.c.e-a.b.c.f,..." */
static int parse_public(struct cc_netstate *ns, const char *spec, struct oc_err *err)
{
    char *copy = strdup(spec ? spec : ""), *save = NULL, *tok;
    int rc = OC_OK;

    if (!copy)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    for (tok = strtok_r(copy, " ,\t", &save); tok && !rc; tok = strtok_r(NULL, " ,\t", &save)) {
        char *dash = strchr(tok, '-');
        uint32_t a, b;

        if (dash)
            *dash = 0;
        if (cc_ip_parse(tok, &a) || cc_ip_parse(dash ? dash + 1 : tok, &b) || b < a ||
            ns->npub + (b - a + 1) > CC_NETSTATE_MAX_PUBLIC) {
            rc = oc_err_set(err, OC_EINVAL, "VNET_PUBLICIPS: '%.40s' is not an address or "
                                            "range (at most %d addresses)", tok,
                            CC_NETSTATE_MAX_PUBLIC);
            break;
        }
        for (uint64_t ip = a; ip <= b; ip++) {
            uint32_t *m = realloc(ns->pub, (ns->npub + 1) * sizeof(*m));

            if (!m) {
                rc = oc_err_set(err, OC_ENOMEM, "out of memory");
                break;
            }
            ns->pub = m;
            ns->pub[ns->npub++] = (uint32_t)ip;
        }
    }
    free(copy);
    if (!rc && ns->npub) {
        size_t w = 1;

        qsort(ns->pub, ns->npub, sizeof(*ns->pub), cmp_u32);
        for (size_t k = 1; k < ns->npub; k++)
            if (ns->pub[k] != ns->pub[w - 1])
                ns->pub[w++] = ns->pub[k];
        ns->npub = w;
    }
    return rc;
}

int cc_netstate_open(const char *dir, const char *public_ips, struct cc_netstate **out,
                     struct oc_err *err)
{
    struct cc_netstate *ns = calloc(1, sizeof(*ns));
    char path[4200];
    int rc;

    if (!ns)
        return oc_err_set(err, OC_ENOMEM, "out of memory");
    pthread_mutex_init(&ns->mu, NULL);
    snprintf(path, sizeof(path), "%s/net.db", dir);
    if ((rc = parse_public(ns, public_ips, err)) ||
        (rc = oc_db_open(path, migrations, sizeof(migrations) / sizeof(migrations[0]), &ns->db,
                         err))) {
        cc_netstate_close(ns);
        return rc;
    }
    ns->generation = 1;
    *out = ns;
    return OC_OK;
}

void cc_netstate_close(struct cc_netstate *ns)
{
    if (!ns)
        return;
    oc_db_close(ns->db);
    free(ns->pub);
    pthread_mutex_destroy(&ns->mu);
    free(ns);
}
