/*
 * clc.h - the cloud controller's request contract: what every action
 * handler (key pairs, security groups, images, tags, IAM, ...) receives and
 * the helpers it answers with.
 *
 * The front door (clc/api.c) authenticates the request, parses the Query
 * parameters (query string or form body), takes a pooled SQLite connection,
 * finds the action in the module tables and calls its handler with a
 * struct clc_req.  A handler either
 *
 *   - writes its answer with clc_reply_begin() and the oc_xmlw_* calls on
 *     r->xml and returns CLC_OK, or
 *   - returns clc_error(r, "InvalidKeyPair.NotFound", "The key pair '%s' does
 *     not exist", name): the front door writes the API's error document
 *     (EC2 `<Response><Errors>`, IAM `<ErrorResponse>`) with the status the
 *     code maps to.
 *
 * Everything allocated for the request comes from r->arena.  Mutating
 * handlers validate, check ownership, then call clc_dry_run() before they
 * change anything.  AWS error codes are chosen here, in the API layer.
 */
#ifndef CLC_CLC_H
#define CLC_CLC_H

#include <stdint.h>
#include <time.h>

#include "common/arena.h"
#include "common/creds.h"
#include "common/db.h"
#include "common/err.h"
#include "common/http.h"
#include "common/query.h"
#include "common/xml.h"

#define CLC_OK 0
#define CLC_FAILED (-1)   /* an error document has been chosen */

enum clc_api {
    CLC_API_EC2,          /* "/" and "/services/compute" */
    CLC_API_IAM,          /* "/services/Euare" */
    CLC_API_ADMIN,        /* "/services/Empyrean", "/services/Properties" */
    CLC_API_IDENTITY,     /* "/services/Identity": components only (Walrus) */
    CLC_API_CLUSTER,      /* "/services/Cluster": events from cluster controllers */
    CLC_API_METADATA,     /* "/services/metadata/<instance>/...": the CCs' proxies */
    CLC_API_CONSOLE,      /* "/console/...": the web console's files and login */
    CLC_API_OBJECTSTORAGE, /* "/services/objectstorage/...": S3 for console sessions */
};

#define CLC_METADATA_PREFIX "/services/metadata/"

struct clc;

struct clc_rcache_lend;

struct clc_req {
    struct clc *clc;
    struct oc_http_req *http;         /* NULL when run by clc_api_invoke */
    const char *request_id;
    struct oc_arena *arena;
    struct oc_db *db;                 /* pooled connection, this request only */
    enum clc_api api;
    const struct oc_query *params;    /* decoded Query parameters */
    const char *action;               /* "DescribeKeyPairs" */
    const char *version;              /* the request's Version, echoed */
    struct oc_principal who;          /* the caller (secret zeroed) */
    int dry_run;                      /* DryRun=true */
    time_t now;
    struct oc_xmlw *xml;              /* set by clc_reply_begin */
    /* Non-NULL on the front door's own thread: an answer from the cache may
     * come back lent instead of copied into the reply buffer (cache.h). */
    struct clc_rcache_lend *lend;
    /* Set by clc_error (front door use). */
    const char *err_code;
    const char *err_message;
    int err_status;
};

typedef int (*clc_action_fn)(struct clc_req *r);

#define CLC_ACTION_ADMIN 0x1      /* only the eucalyptus account may call it */
/* The handler calls another component (Walrus, a CC) that may call back
 * into the CLC (Walrus authenticates through the Identity API): it runs
 * on a thread of its own, not on an HTTP worker, whose keep-alive
 * connections (such as Walrus's) it would otherwise hold up. */
#define CLC_ACTION_CALLS_OUT 0x2
/* Read-only, and the answer is a function of clc.db, the configuration,
 * the caller and the Query parameters alone (not of the clock, the HTTP
 * headers or another component): the handler runs in one read transaction
 * and its success documents may be served again from the answer cache
 * until clc.db changes (clc/cache.h). */
#define CLC_ACTION_CACHEABLE 0x4

struct clc_action {
    const char *name;             /* NULL terminates a table */
    clc_action_fn fn;
    unsigned flags;
};

/* Action tables, one per module, NULL-terminated. */
extern const struct clc_action clc_ec2_misc_actions[];   /* regions, zones, types */
extern const struct clc_action clc_keypair_actions[];
extern const struct clc_action clc_secgroup_actions[];
extern const struct clc_action clc_image_actions[];
extern const struct clc_action clc_tag_actions[];
extern const struct clc_action clc_iam_actions[];
extern const struct clc_action clc_identity_actions[];
extern const struct clc_action clc_instance_actions[];   /* clc/instances.c */
extern const struct clc_action clc_address_actions[];    /* clc/addresses.c */
extern const struct clc_action clc_cluster_actions[];    /* clc/events.c */
extern const struct clc_action clc_admin_actions[];      /* clc/admin.c */

/* The metadata service (clc/metadata.c): answers r->http, already
 * authenticated, whose path starts with CLC_METADATA_PREFIX. */
void clc_metadata_serve(struct clc_req *r);
/* Its answer without HTTP (the fuzz target): path is what follows the
 * prefix ("<instance-id>/latest/..."); returns the status (200, 403, 404,
 * 500) and on 200 the body in out (free it) and its type. */
int clc_metadata_render(struct clc *c, struct oc_arena *arena, const struct oc_principal *who,
                        const char *path, const char **ctype, struct oc_buf *out);

/* ---- the service ---- */

/* Configuration value (overcast.conf / OVERCAST_<KEY>), or def. */
const char *clc_conf(const struct clc_req *r, const char *key, const char *def);
/* $OVERCAST_HOME of this CLC. */
const char *clc_home(const struct clc_req *r);
/* The identity store (clc/identity.h). */
struct clc_identity *clc_identity_of(const struct clc_req *r);
/* The service a request belongs to. */
struct clc *clc_of(const struct clc_req *r);
/* The CLC's own access key (clc/component-credentials): cc* calls are
 * signed with it.  The strings live as long as the service. */
int clc_component_key(struct clc *c, const char **ak, const char **sk,
                      struct oc_err *err) OC_WUR;

/* ---- answering ---- */

/*
 * Starts the success document for r->action: EC2 `<XResponse xmlns=
 * "http://ec2.amazonaws.com/doc/<Version>/"><requestId>…`, IAM `<XResponse
 * xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><XResult>` (the front
 * door closes XResult and adds ResponseMetadata).  Returns r->xml.
 */
struct oc_xmlw *clc_reply_begin(struct clc_req *r);

/* Chooses the error answer; always returns CLC_FAILED.  The HTTP status
 * comes from the code (AuthFailure 401, UnauthorizedOperation 403,
 * DryRunOperation 412, InternalError 500, *.NotFound 400, ...). */
int clc_error(struct clc_req *r, const char *code, const char *fmt, ...) OC_PRINTF(3, 4);
/* Answers h at once with the API's error document (front door and
 * console use). */
void clc_respond_error(struct oc_http_req *h, enum clc_api api, int status, const char *code,
                       const char *message);

/* InternalError for an unexpected oc_err (logged, not shown to the user). */
int clc_internal(struct clc_req *r, const struct oc_err *err);

/* Call after validation and permission checks of a mutating action:
 * returns 1 (and has chosen DryRunOperation) when DryRun=true, else 0. */
int clc_dry_run(struct clc_req *r);

/* Whether the caller belongs to the eucalyptus (admin) account. */
int clc_is_admin(const struct clc_req *r);

/* <return>true</return>, the EC2 answer of most mutating actions. */
int clc_reply_return_true(struct clc_req *r);

/* ---- parameters (names as sent: "KeyName", "GroupId.1", ...) ---- */

const char *clc_param(const struct clc_req *r, const char *name);
/* MissingParameter ("The request must contain the parameter %s") when absent
 * or empty; returns CLC_OK or CLC_FAILED. */
int clc_param_required(struct clc_req *r, const char *name, const char **out);
/* `prefix.1`, `prefix.2`, ...; InvalidParameterValue on malformed indexes. */
int clc_param_list(struct clc_req *r, const char *prefix, const char ***out, size_t *n);
/* "true"/"false" (absent = def); anything else InvalidParameterValue. */
int clc_param_bool(struct clc_req *r, const char *name, int def, int *out);
/* Decimal integer within [min, max] (absent = def); else InvalidParameterValue. */
int clc_param_int(struct clc_req *r, const char *name, long long min, long long max,
                  long long def, long long *out);

/* ---- filters (clc/filter.c) ----
 *
 * Describe handlers accept the AWS filter names of their resource.  Values
 * match case-sensitively with `*` and `?` wildcards; a resource matches when
 * every filter has at least one value that matches one of the resource's
 * values for that name.  `tag:<key>`, `tag-key` and `tag-value` are handled
 * here from the resource's tag set and are always allowed.
 */
struct clc_filters;

struct clc_values {
    struct oc_arena *arena;
    const char **v;
    size_t n, cap;
};
void clc_values_add(struct clc_values *vals, const char *value);
void clc_values_addf(struct clc_values *vals, const char *fmt, ...) OC_PRINTF(2, 3);

/* Fills vals with the row's values for filter `name` (one of `known`). */
typedef void (*clc_attr_fn)(void *row, const char *name, struct clc_values *vals);

struct clc_tag {
    const char *key;
    const char *value;
};
struct clc_tagset {
    struct clc_tag *tags;
    size_t n;
};

/* Parses Filter.N.Name/Value.M; names outside `known` (NULL-terminated)
 * fail with InvalidParameterValue "The filter 'x' is invalid".  *out is
 * NULL-safe: no filters means everything matches. */
int clc_filters_parse(struct clc_req *r, const char *const *known, struct clc_filters **out);
int clc_filters_match(const struct clc_filters *f, clc_attr_fn fn, void *row,
                      const struct clc_tagset *tags);
/* AWS wildcard match of one pattern against one value. */
int clc_wildcard_match(const char *pattern, const char *value);

/* ---- pagination (clc/filter.c) ----
 *
 * Describe handlers list their rows ordered by a stable unique key (the
 * resource id), skip keys <= page.after, and stop after page.max matches;
 * clc_page_next() then writes <nextToken>.  Tokens are opaque, bound to the
 * action and account, and tamper-evident (HMAC under a CLC key).
 */
struct clc_page {
    int limited;            /* MaxResults given (or NextToken) */
    long long max;          /* results per page when limited */
    const char *after;      /* last key of the previous page, or NULL */
};
/* min/max: AWS's MaxResults range for this action.  ids_given: the request
 * named resources explicitly, which AWS refuses together with MaxResults
 * (InvalidParameterCombination).  Bad tokens: InvalidParameterValue. */
int clc_page_parse(struct clc_req *r, long long min, long long max, int ids_given,
                   struct clc_page *page);
/* Writes <nextToken> for a page that stopped after last_key. */
void clc_page_next(struct clc_req *r, const char *last_key);
/* Creates the key tokens are signed with unless it exists (at start-up, so
 * Describe calls never write). */
int clc_page_key_init(struct oc_db *db, struct oc_err *err) OC_WUR;

/* ---- tags (clc/tags.c) ---- */

/* The tags of one resource (empty set when none). */
int clc_tags_load(struct clc_req *r, const char *resource_id, struct clc_tagset *out);
/* Writes <tagSet> (nothing when the set is empty, as EC2 does). */
void clc_tags_write(struct clc_req *r, const struct clc_tagset *tags);
/* Applies TagSpecification.N for resource_type to a resource being created
 * (call inside the creating transaction, after validation). */
int clc_tags_from_spec(struct clc_req *r, const char *resource_type, const char *resource_id);
/* Validates TagSpecification.N before anything is created. */
int clc_tags_check_spec(struct clc_req *r, const char *resource_type);
/* Removes every tag of a resource being deleted. */
int clc_tags_drop(struct clc_req *r, const char *resource_id);

/* ---- describing many resources (clc/describe.c) ---- */

/* The tags of many resources of one type, loaded with one query. */
struct clc_tagmap {
    const char **ids;             /* sorted (strcmp) */
    struct clc_tagset *sets;
    size_t n;
};
/* The caller's tags on resources of resource_type ("security-group") whose
 * id sorts after `after` (NULL: all). */
int clc_tagmap_load(struct clc_req *r, const char *resource_type, const char *after,
                    struct clc_tagmap *out);
/* The tags of one id (an empty set when it has none). */
const struct clc_tagset *clc_tagmap_get(const struct clc_tagmap *m, const char *id);

/* Fills one row (an element of row_size bytes, zeroed) from a result row. */
typedef void (*clc_row_fill_fn)(struct oc_arena *a, sqlite3_stmt *st, void *row);
/*
 * Runs sql with ?1 bound to the caller's account and ?2 (when the SQL has
 * it) to `after` ("" when NULL) and collects every result row into an
 * arena array.  Owner scoping
 * lives in the SQL: ?1 is the only account a Describe may see by default.
 */
int clc_describe_rows(struct clc_req *r, const char *sql, const char *after,
                      clc_row_fill_fn fill, size_t row_size, void **rows, size_t *n);
/* A text column as an arena string ("" for NULL). */
const char *clc_col_text(struct oc_arena *a, sqlite3_stmt *st, int col);
/* Whether s is one of list[0..n). */
int clc_in_list(const char *s, const char *const *list, size_t n);

/*
 * One Describe answer: rows (sorted by their page key when paginated) go
 * through keep (named resources, owners, ...: 1 keep, 0 skip, -1 an error
 * was chosen), then the filters with the row's tags, then the page; each
 * kept row is written inside <set_name>, and <nextToken> follows when the
 * page ended early.
 */
struct clc_describe {
    const char *set_name;         /* "securityGroupInfo" */
    const char *tag_type;         /* "security-group" */
    const void *rows;
    size_t nrows, row_size;
    const char *(*id)(const void *row);   /* resource id: tags and page key */
    int (*keep)(struct clc_req *r, const void *row, void *ctx);   /* NULL: all */
    const struct clc_filters *filters;
    clc_attr_fn attr;
    const struct clc_page *page;  /* NULL: not paginated */
    void (*write)(struct clc_req *r, const void *row, const struct clc_tagset *tags,
                  void *ctx);
    /* Optional: the page key when it is not the id (rows sorted by it),
     * and a call after the last row, before the set closes (to close
     * elements write() left open, such as a reservation). */
    const char *(*page_key)(const void *row);
    void (*end)(struct clc_req *r, void *ctx);
};
int clc_describe_run(struct clc_req *r, const struct clc_describe *d, void *ctx);

/* ---- resource ownership ---- */

/*
 * The resource kinds tags and ids know about.  Tag and ownership checks go
 * through clc_resource_owner(), which finds a resource by id in its table.
 */
int clc_resource_owner(struct clc_req *r, const char *resource_id,
                       const char **resource_type, const char **account_id);

/* ---- accounts (clc/identity.c) ---- */

/* Hook run inside the transaction that creates an account: makes its
 * `default` security group (clc/secgroups.c). */
int clc_secgroup_create_default(struct oc_db *db, const char *account_id, struct oc_err *err);

#endif
