/*
 * secgroups_parse.c - the pure half of security groups (clc/secgroups.h):
 * CIDR blocks, protocols and ports, group names, and the IpPermissions
 * parameters of Authorize/Revoke in both their current and legacy forms.
 * No database here, so the unit tests drive it with hand-built queries.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clc/secgroups.h"

#define SG_NAME_MAX 255
#define SG_INDEX_MAX 1000             /* N in IpPermissions.N: as many as parameters */

/* ---------------------------------------------------------------------- */
/* Pure parsing                                                            */
/* ---------------------------------------------------------------------- */

static int sg_perr(struct clc_sg_perr *pe, const char *code, const char *msg)
{
    pe->code = code;
    pe->msg = msg;
    return -1;
}

int clc_sg_id_valid(const char *text)
{
    size_t n;

    if (!text || strncmp(text, "sg-", 3) != 0)
        return 0;
    n = strlen(text + 3);
    if (n != 8 && n != 17)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = text[3 + i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

/* Decimal number of at most maxdigits digits, no sign, no leading zeros. */
static int sg_parse_dec(const char *s, size_t len, int maxdigits, long *out)
{
    long v = 0;

    if (len == 0 || (int)len > maxdigits || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static const char *sg_cidr4(struct oc_arena *a, const char *addr, size_t alen, long prefix)
{
    unsigned long ip = 0;
    const char *p = addr, *end = addr + alen;

    if (prefix > 32)
        return NULL;
    for (int octet = 0; octet < 4; octet++) {
        const char *dot = p;
        long v;

        while (dot < end && *dot != '.')
            dot++;
        if ((octet < 3) != (dot < end))
            return NULL;
        if (sg_parse_dec(p, (size_t)(dot - p), 3, &v) || v > 255)
            return NULL;
        ip = (ip << 8) | (unsigned long)v;
        p = dot + 1;
    }
    if (prefix < 32)
        ip &= prefix == 0 ? 0 : (0xfffffffful << (32 - prefix)) & 0xfffffffful;
    return oc_arena_printf(a, "%lu.%lu.%lu.%lu/%ld", (ip >> 24) & 255, (ip >> 16) & 255,
                           (ip >> 8) & 255, ip & 255, prefix);
}

static const char *sg_cidr6(struct oc_arena *a, const char *addr, size_t alen, long prefix)
{
    unsigned char raw[16];
    char text[INET6_ADDRSTRLEN];
    char *copy;

    if (prefix > 128 || alen >= INET6_ADDRSTRLEN)
        return NULL;
    copy = oc_arena_strndup(a, addr, alen);
    if (inet_pton(AF_INET6, copy, raw) != 1)
        return NULL;
    for (int bit = (int)prefix; bit < 128; bit++)
        raw[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    if (!inet_ntop(AF_INET6, raw, text, sizeof(text)))
        return NULL;
    return oc_arena_printf(a, "%s/%ld", text, prefix);
}

const char *clc_sg_cidr_normalize(struct oc_arena *a, const char *text, int *is_ipv6)
{
    const char *slash;
    long prefix;
    int v6;

    if (!text)
        return NULL;
    slash = strchr(text, '/');
    if (!slash || slash == text)
        return NULL;
    if (sg_parse_dec(slash + 1, strlen(slash + 1), 3, &prefix))
        return NULL;
    v6 = memchr(text, ':', (size_t)(slash - text)) != NULL;
    if (is_ipv6)
        *is_ipv6 = v6;
    if (v6)
        return sg_cidr6(a, text, (size_t)(slash - text), prefix);
    return sg_cidr4(a, text, (size_t)(slash - text), prefix);
}

const char *clc_sg_protocol_normalize(struct oc_arena *a, const char *text)
{
    static const struct {
        const char *name;
        long number;
    } named[] = {
        { "tcp", 6 }, { "udp", 17 }, { "icmp", 1 }, { "icmpv6", 58 },
    };
    long v;

    if (!text || !*text)
        return NULL;
    if (strcmp(text, "-1") == 0 || strcasecmp(text, "all") == 0)
        return "-1";
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strcasecmp(text, named[i].name) == 0)
            return named[i].name;
    if (sg_parse_dec(text, strlen(text), 3, &v) || v > 255)
        return NULL;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (v == named[i].number)
            return named[i].name;
    return oc_arena_printf(a, "%ld", v);
}

int clc_sg_proto_has_ports(const char *protocol)
{
    return strcmp(protocol, "tcp") == 0 || strcmp(protocol, "udp") == 0 ||
           strcmp(protocol, "icmp") == 0 || strcmp(protocol, "icmpv6") == 0;
}

/* "-1" or a decimal integer; -2 when malformed. */
static int sg_parse_port(const char *text, long *out)
{
    if (strcmp(text, "-1") == 0) {
        *out = -1;
        return 0;
    }
    return sg_parse_dec(text, strlen(text), 5, out) ? -2 : 0;
}

int clc_sg_ports_parse(struct oc_arena *a, const char *protocol, const char *from,
                       const char *to, int *from_port, int *to_port,
                       struct clc_sg_perr *pe)
{
    int tcpudp = strcmp(protocol, "tcp") == 0 || strcmp(protocol, "udp") == 0;
    long f = -1, t = -1;

    if (from && !*from)
        from = NULL;
    if (to && !*to)
        to = NULL;
    if (!clc_sg_proto_has_ports(protocol)) {
        /* All ports of this protocol, whatever was sent (as AWS). */
        *from_port = *to_port = -1;
        return 0;
    }
    if (from && sg_parse_port(from, &f))
        return sg_perr(pe, "InvalidParameterValue",
                       oc_arena_printf(a, "Invalid value '%s' for fromPort", from));
    if (to && sg_parse_port(to, &t))
        return sg_perr(pe, "InvalidParameterValue",
                       oc_arena_printf(a, "Invalid value '%s' for toPort", to));
    if (tcpudp) {
        if (!from || !to)
            return sg_perr(pe, "InvalidParameterValue",
                           "Invalid value 'Must specify both from and to ports with "
                           "TCP/UDP.' for portRange");
        if (f < 0 || f > 65535 || t < 0 || t > 65535)
            return sg_perr(pe, "InvalidParameterValue",
                           oc_arena_printf(a, "Invalid value '%ld-%ld' for portRange: TCP/UDP "
                                           "ports must be between 0 and 65535", f, t));
        if (f > t)
            return sg_perr(pe, "InvalidParameterValue",
                           oc_arena_printf(a, "Invalid TCP/UDP port range: from port %ld is "
                                           "greater than to port %ld", f, t));
    } else {
        if (f > 255)
            return sg_perr(pe, "InvalidParameterValue",
                           oc_arena_printf(a, "Invalid value '%ld' for ICMP type", f));
        if (t > 255)
            return sg_perr(pe, "InvalidParameterValue",
                           oc_arena_printf(a, "Invalid value '%ld' for ICMP code", t));
        if (f == -1 && t != -1)
            return sg_perr(pe, "InvalidParameterValue",
                           "Invalid ICMP code: all ICMP types (-1) need all codes (-1)");
    }
    *from_port = (int)f;
    *to_port = (int)t;
    return 0;
}

int clc_sg_name_check(struct oc_arena *a, const char *what, const char *value,
                      struct clc_sg_perr *pe)
{
    size_t len = strlen(value);

    if (len == 0)
        return sg_perr(pe, "MissingParameter",
                       oc_arena_printf(a, "The request must contain the parameter %s", what));
    if (len > SG_NAME_MAX)
        return sg_perr(pe, "InvalidParameterValue",
                       oc_arena_printf(a, "Value for parameter %s is too long: at most %d "
                                       "characters", what, SG_NAME_MAX));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)value[i];

        if (c < 0x20 || c > 0x7e)
            return sg_perr(pe, "InvalidParameterValue",
                           oc_arena_printf(a, "Value for parameter %s contains invalid "
                                           "characters: only printable ASCII is allowed",
                                           what));
    }
    if (strcmp(what, "GroupName") == 0 && strncmp(value, "sg-", 3) == 0)
        return sg_perr(pe, "InvalidParameterValue",
                       "Group names may not be in the format sg-*");
    return 0;
}

/* A raw list entry (IpRanges.M, Groups.M, ...) before validation. */
struct sg_raw_sub {
    long m;
    const char *f[4];   /* per kind: cidr, description / id, name, user, description */
};

struct sg_raw_list {
    struct sg_raw_sub *v;
    size_t n, cap;
};

struct sg_raw_perm {
    long n;
    const char *proto, *from, *to;
    struct sg_raw_list ranges, ranges6, groups, prefixes;
};

struct sg_raw {
    struct sg_raw_perm *v;
    size_t n, cap;
};

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

static struct sg_raw_sub *sg_raw_sub_get(struct oc_arena *a, struct sg_raw_list *l, long m)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].m == m)
            return &l->v[i];
    l->v = sg_grow(a, l->v, l->n, &l->cap, sizeof(*l->v));
    memset(&l->v[l->n], 0, sizeof(l->v[0]));
    l->v[l->n].m = m;
    return &l->v[l->n++];
}

static struct sg_raw_perm *sg_raw_perm_get(struct oc_arena *a, struct sg_raw *raw, long n)
{
    for (size_t i = 0; i < raw->n; i++)
        if (raw->v[i].n == n)
            return &raw->v[i];
    raw->v = sg_grow(a, raw->v, raw->n, &raw->cap, sizeof(*raw->v));
    memset(&raw->v[raw->n], 0, sizeof(raw->v[0]));
    raw->v[raw->n].n = n;
    return &raw->v[raw->n++];
}

/* "N." at the start of s: the index and what follows the dot. */
static int sg_index(const char *s, long *n, const char **rest)
{
    const char *dot = strchr(s, '.');
    size_t len = dot ? (size_t)(dot - s) : strlen(s);

    if (sg_parse_dec(s, len, 4, n) || *n < 1 || *n > SG_INDEX_MAX)
        return -1;
    *rest = dot ? dot + 1 : s + len;
    return 0;
}

static int sg_cmp_sub(const void *x, const void *y)
{
    const struct sg_raw_sub *a = x, *b = y;

    return (a->m > b->m) - (a->m < b->m);
}

static void sg_sort_subs(struct sg_raw_list *l)
{
    if (l->n > 1)
        qsort(l->v, l->n, sizeof(*l->v), sg_cmp_sub);
}

static int sg_cmp_perm(const void *x, const void *y)
{
    const struct sg_raw_perm *a = x, *b = y;

    return (a->n > b->n) - (a->n < b->n);
}

/* Files one `IpPermissions.<rest>` parameter into raw. */
static int sg_raw_add(struct oc_arena *a, struct sg_raw *raw, const char *name,
                      const char *rest, const char *value, struct clc_sg_perr *pe)
{
    static const struct {
        const char *list;
        size_t off;
        const char *fields[4];
    } lists[] = {
        { "IpRanges", offsetof(struct sg_raw_perm, ranges),
          { "CidrIp", "Description", NULL, NULL } },
        { "Ipv6Ranges", offsetof(struct sg_raw_perm, ranges6),
          { "CidrIpv6", "Description", NULL, NULL } },
        { "Groups", offsetof(struct sg_raw_perm, groups),
          { "GroupId", "GroupName", "UserId", "Description" } },
        { "PrefixListIds", offsetof(struct sg_raw_perm, prefixes),
          { "PrefixListId", "Description", NULL, NULL } },
    };
    struct sg_raw_perm *p;
    long n, m;

    if (sg_index(rest, &n, &rest) || !*rest)
        return sg_perr(pe, "InvalidParameterValue",
                       oc_arena_printf(a, "The parameter %s is malformed", name));
    p = sg_raw_perm_get(a, raw, n);
    if (strcmp(rest, "IpProtocol") == 0) {
        p->proto = value;
        return 0;
    }
    if (strcmp(rest, "FromPort") == 0) {
        p->from = value;
        return 0;
    }
    if (strcmp(rest, "ToPort") == 0) {
        p->to = value;
        return 0;
    }
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        size_t ll = strlen(lists[i].list);
        struct sg_raw_list *l;
        struct sg_raw_sub *s;

        if (strncmp(rest, lists[i].list, ll) != 0 || rest[ll] != '.')
            continue;
        if (sg_index(rest + ll + 1, &m, &rest) || !*rest)
            return sg_perr(pe, "InvalidParameterValue",
                           oc_arena_printf(a, "The parameter %s is malformed", name));
        l = (struct sg_raw_list *)((char *)p + lists[i].off);
        s = sg_raw_sub_get(a, l, m);
        for (int f = 0; f < 4 && lists[i].fields[f]; f++) {
            if (strcmp(rest, lists[i].fields[f]) == 0) {
                s->f[f] = value;
                return 0;
            }
        }
        /* Other members of the shape (VpcId, PeeringStatus, ...) mean
         * nothing without VPCs: ignored, as unknown members are. */
        return 0;
    }
    return 0;
}

static int sg_desc_check(struct oc_arena *a, const char *desc, struct clc_sg_perr *pe)
{
    if (!desc || !*desc)
        return 0;
    return clc_sg_name_check(a, "Description", desc, pe);
}

/* Turns one raw permission into a checked one. */
static int sg_perm_build(struct oc_arena *a, struct sg_raw_perm *rp, struct clc_sg_perm *out,
                         struct clc_sg_perr *pe)
{
    size_t total, k = 0;

    if (!rp->proto || !*rp->proto)
        return sg_perr(pe, "MissingParameter",
                       oc_arena_printf(a, "The request must contain the parameter "
                                       "IpPermissions.%ld.IpProtocol", rp->n));
    out->protocol = clc_sg_protocol_normalize(a, rp->proto);
    if (!out->protocol)
        return sg_perr(pe, "InvalidParameterValue",
                       oc_arena_printf(a, "Invalid value '%s' for IP protocol. Unknown "
                                       "protocol.", rp->proto));
    if (clc_sg_ports_parse(a, out->protocol, rp->from, rp->to, &out->from_port,
                           &out->to_port, pe))
        return -1;
    if (rp->prefixes.n)
        return sg_perr(pe, "InvalidPrefixListId.NotFound",
                       oc_arena_printf(a, "The prefix list ID '%s' does not exist",
                                       rp->prefixes.v[0].f[0] ? rp->prefixes.v[0].f[0] : ""));
    total = rp->ranges.n + rp->ranges6.n + rp->groups.n;
    if (total == 0)
        return sg_perr(pe, "MissingParameter",
                       oc_arena_printf(a, "IpPermissions.%ld must name at least one of "
                                       "IpRanges, Ipv6Ranges or Groups", rp->n));
    out->peers = oc_arena_calloc(a, total, sizeof(*out->peers));
    sg_sort_subs(&rp->ranges);
    sg_sort_subs(&rp->ranges6);
    sg_sort_subs(&rp->groups);
    for (int v6 = 0; v6 < 2; v6++) {
        struct sg_raw_list *l = v6 ? &rp->ranges6 : &rp->ranges;

        for (size_t i = 0; i < l->n; i++) {
            struct clc_sg_peer *peer = &out->peers[k++];
            const char *text = l->v[i].f[0];
            int is6 = 0;

            if (!text || !*text)
                return sg_perr(pe, "MissingParameter",
                               oc_arena_printf(a, "The request must contain the parameter "
                                               "IpPermissions.%ld.%s.%ld.%s", rp->n,
                                               v6 ? "Ipv6Ranges" : "IpRanges", l->v[i].m,
                                               v6 ? "CidrIpv6" : "CidrIp"));
            peer->cidr = clc_sg_cidr_normalize(a, text, &is6);
            if (!peer->cidr || is6 != v6)
                return sg_perr(pe, "InvalidParameterValue",
                               oc_arena_printf(a, "CIDR block %s is malformed", text));
            peer->ipv6 = v6;
            peer->description = l->v[i].f[1] ? l->v[i].f[1] : "";
            if (sg_desc_check(a, peer->description, pe))
                return -1;
        }
    }
    for (size_t i = 0; i < rp->groups.n; i++) {
        struct clc_sg_peer *peer = &out->peers[k++];
        struct sg_raw_sub *s = &rp->groups.v[i];

        peer->group_id = s->f[0] && *s->f[0] ? s->f[0] : NULL;
        peer->group_name = s->f[1] && *s->f[1] ? s->f[1] : NULL;
        peer->user_id = s->f[2] && *s->f[2] ? s->f[2] : NULL;
        peer->description = s->f[3] ? s->f[3] : "";
        if (!peer->group_id && !peer->group_name)
            return sg_perr(pe, "MissingParameter",
                           oc_arena_printf(a, "IpPermissions.%ld.Groups.%ld needs GroupId or "
                                           "GroupName", rp->n, s->m));
        if (sg_desc_check(a, peer->description, pe))
            return -1;
    }
    out->npeers = k;
    return 0;
}

/* The legacy flat form: IpProtocol, FromPort, ToPort, CidrIp,
 * SourceSecurityGroupName, SourceSecurityGroupOwnerId. */
static int sg_flat_parse(struct oc_arena *a, const struct oc_query *q, struct clc_sg_perm *out,
                         size_t *n, struct clc_sg_perr *pe)
{
    const char *proto = oc_query_get(q, "IpProtocol");
    const char *from = oc_query_get(q, "FromPort");
    const char *to = oc_query_get(q, "ToPort");
    const char *cidr = oc_query_get(q, "CidrIp");
    const char *src = oc_query_get(q, "SourceSecurityGroupName");
    const char *owner = oc_query_get(q, "SourceSecurityGroupOwnerId");
    struct sg_raw_perm rp;

    proto = proto && *proto ? proto : NULL;
    from = from && *from ? from : NULL;
    to = to && *to ? to : NULL;
    cidr = cidr && *cidr ? cidr : NULL;
    src = src && *src ? src : NULL;
    owner = owner && *owner ? owner : NULL;
    *n = 0;
    if (!proto && !from && !to && !cidr && !src && !owner)
        return 0;
    if (owner && !src)
        return sg_perr(pe, "MissingParameter", "The request must contain the parameter "
                       "SourceSecurityGroupName");
    if (src && !proto && !from && !to && !cidr) {
        /* EC2-Classic: a whole group means all of tcp, udp and icmp. */
        static const char *const protos[] = { "tcp", "udp", "icmp" };

        for (int i = 0; i < 3; i++) {
            struct clc_sg_peer *peer = oc_arena_calloc(a, 1, sizeof(*peer));

            peer->group_name = src;
            peer->user_id = owner;
            peer->description = "";
            out[i].protocol = protos[i];
            out[i].from_port = i < 2 ? 0 : -1;
            out[i].to_port = i < 2 ? 65535 : -1;
            out[i].peers = peer;
            out[i].npeers = 1;
        }
        *n = 3;
        return 0;
    }
    memset(&rp, 0, sizeof(rp));
    rp.n = 1;
    rp.proto = proto;
    rp.from = from;
    rp.to = to;
    if (cidr)
        sg_raw_sub_get(a, &rp.ranges, 1)->f[0] = cidr;
    if (src) {
        struct sg_raw_sub *s = sg_raw_sub_get(a, &rp.groups, 1);

        s->f[1] = src;
        s->f[2] = owner;
    }
    if (!proto)
        return sg_perr(pe, "MissingParameter", "The request must contain the parameter "
                       "IpProtocol");
    if (!cidr && !src)
        return sg_perr(pe, "MissingParameter", "The request must contain the parameter "
                       "CidrIp or SourceSecurityGroupName");
    if (sg_perm_build(a, &rp, &out[0], pe))
        return -1;
    *n = 1;
    return 0;
}

int clc_sg_perms_parse(struct oc_arena *a, const struct oc_query *q,
                       struct clc_sg_perm **perms, size_t *n, struct clc_sg_perr *pe)
{
    static const char prefix[] = "IpPermissions.";
    struct sg_raw raw = { 0 };
    struct clc_sg_perm flat[3];
    struct clc_sg_perm *out;
    size_t nflat = 0, k = 0;

    memset(flat, 0, sizeof(flat));
    for (size_t i = 0; i < q->n; i++) {
        const char *name = q->items[i].name;

        if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
            continue;
        if (sg_raw_add(a, &raw, name, name + sizeof(prefix) - 1, q->items[i].value, pe))
            return -1;
    }
    if (sg_flat_parse(a, q, flat, &nflat, pe))
        return -1;
    if (raw.n + nflat == 0)
        return sg_perr(pe, "MissingParameter",
                       "The request must contain the parameter IpPermissions");
    if (raw.n > 1)
        qsort(raw.v, raw.n, sizeof(*raw.v), sg_cmp_perm);
    out = oc_arena_calloc(a, raw.n + nflat, sizeof(*out));
    for (size_t i = 0; i < raw.n; i++)
        if (sg_perm_build(a, &raw.v[i], &out[k++], pe))
            return -1;
    for (size_t i = 0; i < nflat; i++)
        out[k++] = flat[i];
    *perms = out;
    *n = k;
    return 0;
}
