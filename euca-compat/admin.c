/*
 * admin.c - overcast-admin: accounts, users and access keys for the cloud
 * administrator, as signed calls to the CLC's IAM API (/services/Euare),
 * like any other client.  It never opens the CLC's database.
 *
 * Credentials and endpoint: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * EUARE_URL from the environment, else from $OVERCAST_HOME/admin/eucarc
 * (written by `overcast-clc bootstrap`); --url overrides the endpoint.
 * Accounts other than the caller's are reached with Eucalyptus's
 * DelegateAccount parameter, which only the eucalyptus account may use.
 *
 * Output is parsed by scripts and tests: keep each command's format.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fsutil.h"
#include "common/httpc.h"
#include "common/query.h"
#include "common/xml.h"
#include "euca-compat/admin.h"

#define IAM_VERSION "2010-05-08"
#define IAM_PATH "/services/Euare"
#define MAX_PARAMS 8


static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-admin [--home DIR] [--url URL] COMMAND [ARGS]\n"
            "\n"
            "  create-account NAME               prints the new 12-digit account id\n"
            "  list-accounts                     name, id\n"
            "  delete-account NAME [--recursive] NAME is a name or an id\n"
            "  create-user ACCOUNT USER          ACCOUNT is a name or an id\n"
            "  list-users ACCOUNT                user, user id, ARN\n"
            "  delete-user ACCOUNT USER\n"
            "  create-access-key ACCOUNT USER    prints 'AKID SECRET'\n"
            "  set-key-status AKID Active|Inactive\n"
            "  delete-access-key AKID\n"
            "  list-keys                         account, account id, user, key id, status\n"
            "%s"
            "\n"
            "Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and EUARE_URL from the\n"
            "environment, else from $OVERCAST_HOME/admin/eucarc (default home\n"
            "/var/lib/overcast), written by `overcast-clc bootstrap`.\n",
            adm_cloud_usage);
}

/* ------------------------------------------------------------------ */
/* configuration */

/* The value of KEY in eucarc-style text (`export KEY="value"`), or NULL. */
static char *shell_var(const char *text, const char *key)
{
    size_t klen = strlen(key);
    const char *line = text;

    while (line && *line) {
        const char *end = strchr(line, '\n');
        const char *p = line;
        size_t n;

        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
            p += 6;
            while (*p == ' ' || *p == '\t')
                p++;
        }
        if (strncmp(p, key, klen) == 0 && p[klen] == '=') {
            p += klen + 1;
            n = end ? (size_t)(end - p) : strlen(p);
            while (n && (p[n - 1] == '\r' || p[n - 1] == ' ' || p[n - 1] == '\t'))
                n--;
            if (n >= 2 && (p[0] == '"' || p[0] == '\'') && p[n - 1] == p[0]) {
                p++;
                n -= 2;
            }
            return strndup(p, n);
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

/* Splits "http://host:port/services/Euare" into endpoint and path. */
static int split_url(const char *url, char **endpoint, char **path)
{
    const char *hostpart = strstr(url, "://");
    const char *slash;
    size_t n;

    if (!hostpart || !hostpart[3])
        return -1;
    slash = strchr(hostpart + 3, '/');
    n = slash ? (size_t)(slash - url) : strlen(url);
    *endpoint = strndup(url, n);
    *path = strdup(slash && slash[1] ? slash : IAM_PATH);
    /* A trailing slash is not part of the service path. */
    if (*path && strlen(*path) > 1 && (*path)[strlen(*path) - 1] == '/')
        (*path)[strlen(*path) - 1] = '\0';
    return *endpoint && *path ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* calls */

static const char *xml_text_at(struct oc_buf *tmp, xmlNodePtr node)
{
    char *t = node ? oc_xml_text(node) : NULL;

    oc_buf_reset(tmp);
    if (t && oc_buf_puts(tmp, t) != OC_OK) {
        xmlFree(t);
        return "";
    }
    xmlFree(t);
    return oc_buf_cstr(tmp);
}

/* Prints an IAM (or EC2-style) error document as "CODE: message". */
static void print_error(struct admin *a, const struct oc_httpc_resp *resp)
{
    struct oc_err err = { 0 };
    xmlDocPtr doc = oc_xml_parse(resp->body.data ? resp->body.data : "", resp->body.len, &err);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    xmlNodePtr e = NULL;
    struct oc_buf code = { 0 }, msg = { 0 };

    if (root && strcmp((const char *)root->name, "ErrorResponse") == 0)
        e = oc_xml_child(root, "Error");
    else if (root && strcmp((const char *)root->name, "Response") == 0)
        e = oc_xml_child(oc_xml_child(root, "Errors"), "Error");
    if (e) {
        xml_text_at(&code, oc_xml_child(e, "Code"));
        xml_text_at(&msg, oc_xml_child(e, "Message"));
        fprintf(stderr, "overcast-admin: %s: %s: %s\n", a->cmd, oc_buf_cstr(&code),
                oc_buf_cstr(&msg));
    } else {
        fprintf(stderr, "overcast-admin: %s: HTTP %ld from the CLC\n", a->cmd, resp->status);
    }
    oc_buf_free(&code);
    oc_buf_free(&msg);
    if (doc)
        xmlFreeDoc(doc);
}

static const struct {
    const char *path, *service, *version;
} apis[] = {
    [API_IAM] = { NULL, "iam", IAM_VERSION },
    [API_ADMIN] = { "/services/Empyrean", "euca", "eucalyptus" },
    [API_EC2] = { "/services/compute", "ec2", "2016-11-15" },
};

/*
 * One Query call; params are name/value pairs ending with NULL (a NULL
 * name ends them early).  On success *result is the <ActionResult> element
 * (IAM) or the root element (the others) of *doc (free with xmlFreeDoc);
 * with doc NULL the answer is only checked for success.
 */
static int vcall(struct admin *a, enum api api, const char *action, xmlDocPtr *doc,
                 xmlNodePtr *result, va_list ap)
{
    struct oc_kv kv[MAX_PARAMS];
    struct oc_httpc_resp resp = { 0 };
    struct oc_err err = { 0 };
    const char *name;
    size_t n = 0;
    char *rname = NULL;
    int rc;

    for (;;) {
        name = va_arg(ap, const char *);
        if (!name || n == MAX_PARAMS)
            break;
        kv[n].name = name;
        kv[n].value = va_arg(ap, const char *);
        kv[n].has_value = 1;
        n++;
    }
    if (doc)
        *doc = NULL;
    rc = oc_httpc_query(a->http, apis[api].path ? apis[api].path : a->path, apis[api].service,
                        action, apis[api].version, kv, n, &resp, &err);
    if (rc != OC_OK) {
        fprintf(stderr, "overcast-admin: %s: cannot reach the CLC: %s\n", a->cmd, err.msg);
        oc_httpc_resp_free(&resp);
        return 1;
    }
    if (resp.status != 200) {
        print_error(a, &resp);
        oc_httpc_resp_free(&resp);
        return 1;
    }
    if (!doc) {
        oc_httpc_resp_free(&resp);
        return 0;
    }
    *doc = oc_xml_parse(resp.body.data ? resp.body.data : "", resp.body.len, &err);
    oc_httpc_resp_free(&resp);
    if (!*doc) {
        fprintf(stderr, "overcast-admin: %s: unreadable answer: %s\n", a->cmd, err.msg);
        return 1;
    }
    if (api != API_IAM) {
        *result = xmlDocGetRootElement(*doc);
        return 0;
    }
    if (asprintf(&rname, "%sResult", action) < 0) {
        xmlFreeDoc(*doc);
        *doc = NULL;
        return 1;
    }
    *result = oc_xml_child(xmlDocGetRootElement(*doc), rname);
    free(rname);
    if (!*result) {
        fprintf(stderr, "overcast-admin: %s: the answer has no %sResult\n", a->cmd, action);
        xmlFreeDoc(*doc);
        *doc = NULL;
        return 1;
    }
    return 0;
}

/* An IAM call: *result is its <ActionResult>. */
#define iam_call(a, action, doc, result, ...) \
    adm_call((a), API_IAM, (action), (doc), (result), __VA_ARGS__)

int adm_call(struct admin *a, enum api api, const char *action, xmlDocPtr *doc,
             xmlNodePtr *result, ...)
{
    va_list ap;
    int rc;

    va_start(ap, result);
    rc = vcall(a, api, action, doc, result, ap);
    va_end(ap);
    return rc;
}

const char *child_text(struct oc_buf *tmp, xmlNodePtr node, const char *name)
{
    return xml_text_at(tmp, node ? oc_xml_child(node, name) : NULL);
}

/* ------------------------------------------------------------------ */
/* walking the cloud: accounts, their users, their keys */

/* Called for every key; returns non-zero to stop the walk. */
typedef int (*key_fn)(void *arg, const char *account_name, const char *account_id,
                      const char *user, const char *key_id, const char *status);

static int walk_user_keys(struct admin *a, const char *acct_name, const char *acct_id,
                          const char *user, key_fn fn, void *arg, int *stop)
{
    struct oc_buf id = { 0 }, st = { 0 }, marker = { 0 };
    xmlDocPtr doc;
    xmlNodePtr res, m;
    int rc = 0, more = 1;

    while (more && !*stop && rc == 0) {
        rc = iam_call(a, "ListAccessKeys", &doc, &res, "DelegateAccount", acct_id,
                      "UserName", user, marker.len ? "Marker" : NULL, oc_buf_cstr(&marker),
                      NULL);
        if (rc)
            break;
        for (m = oc_xml_child(oc_xml_child(res, "AccessKeyMetadata"), "member");
             m && !*stop; m = oc_xml_next(m, "member")) {
            child_text(&id, m, "AccessKeyId");
            child_text(&st, m, "Status");
            *stop = fn(arg, acct_name, acct_id, user, oc_buf_cstr(&id), oc_buf_cstr(&st));
        }
        more = strcmp(child_text(&st, res, "IsTruncated"), "true") == 0;
        child_text(&marker, res, "Marker");
        if (more && !marker.len)
            more = 0;
        xmlFreeDoc(doc);
    }
    oc_buf_free(&id);
    oc_buf_free(&st);
    oc_buf_free(&marker);
    return rc;
}

/* Every user of one account, page by page; fn_user gets each name. */
static int walk_users(struct admin *a, const char *acct, int (*fn_user)(void *arg, xmlNodePtr u),
                      void *arg, int *stop)
{
    struct oc_buf marker = { 0 }, tmp = { 0 };
    xmlDocPtr doc;
    xmlNodePtr res, m;
    int rc = 0, more = 1;

    while (more && !*stop && rc == 0) {
        rc = iam_call(a, "ListUsers", &doc, &res, "DelegateAccount", acct,
                      marker.len ? "Marker" : NULL, oc_buf_cstr(&marker), NULL);
        if (rc)
            break;
        for (m = oc_xml_child(oc_xml_child(res, "Users"), "member"); m && !*stop && rc == 0;
             m = oc_xml_next(m, "member"))
            rc = fn_user(arg, m);
        more = strcmp(child_text(&tmp, res, "IsTruncated"), "true") == 0;
        child_text(&marker, res, "Marker");
        if (more && !marker.len)
            more = 0;
        xmlFreeDoc(doc);
    }
    oc_buf_free(&marker);
    oc_buf_free(&tmp);
    return rc;
}

struct key_walk {
    struct admin *a;
    const char *acct_name;
    const char *acct_id;
    key_fn fn;
    void *arg;
    int stop;
};

static int key_walk_user(void *arg, xmlNodePtr u)
{
    struct key_walk *w = arg;
    struct oc_buf name = { 0 };
    int rc;

    child_text(&name, u, "UserName");
    rc = walk_user_keys(w->a, w->acct_name, w->acct_id, oc_buf_cstr(&name), w->fn, w->arg,
                        &w->stop);
    oc_buf_free(&name);
    return rc;
}

/* Every key of every user of every account, until fn says stop. */
static int walk_keys(struct admin *a, key_fn fn, void *arg)
{
    struct oc_buf name = { 0 }, id = { 0 };
    struct key_walk w = { .a = a, .fn = fn, .arg = arg };
    xmlDocPtr doc;
    xmlNodePtr res, m;
    int rc = iam_call(a, "ListAccounts", &doc, &res, NULL);

    if (rc)
        return rc;
    for (m = oc_xml_child(oc_xml_child(res, "Accounts"), "member"); m && !w.stop && rc == 0;
         m = oc_xml_next(m, "member")) {
        child_text(&name, m, "AccountName");
        child_text(&id, m, "AccountId");
        w.acct_name = oc_buf_cstr(&name);
        w.acct_id = oc_buf_cstr(&id);
        rc = walk_users(a, w.acct_id, key_walk_user, &w, &w.stop);
    }
    xmlFreeDoc(doc);
    oc_buf_free(&name);
    oc_buf_free(&id);
    return rc;
}

static int print_key(void *arg, const char *account_name, const char *account_id,
                     const char *user, const char *key_id, const char *status)
{
    (void)arg;
    printf("%s\t%s\t%s\t%s\t%s\n", account_name, account_id, user, key_id, status);
    return 0;
}

/* Where a key lives: found by walking, as the admin sees every account. */
struct key_owner {
    const char *key_id;
    char *account_id;
    char *user;
};

static int match_key(void *arg, const char *account_name, const char *account_id,
                     const char *user, const char *key_id, const char *status)
{
    struct key_owner *o = arg;

    (void)account_name;
    (void)status;
    if (strcmp(key_id, o->key_id) != 0)
        return 0;
    o->account_id = strdup(account_id);
    o->user = strdup(user);
    return 1;
}

static int find_key_owner(struct admin *a, struct key_owner *o)
{
    int rc = walk_keys(a, match_key, o);

    if (rc == 0 && (!o->account_id || !o->user)) {
        fprintf(stderr, "overcast-admin: %s: NoSuchEntity: The Access Key with id %s cannot "
                "be found.\n", a->cmd, o->key_id);
        rc = 1;
    }
    return rc;
}

static void key_owner_free(struct key_owner *o)
{
    free(o->account_id);
    free(o->user);
}

/* ------------------------------------------------------------------ */
/* commands */

static int cmd_create_account(struct admin *a, const char *name)
{
    struct oc_buf id = { 0 };
    xmlDocPtr doc;
    xmlNodePtr res;
    int rc = iam_call(a, "CreateAccount", &doc, &res, "AccountName", name, NULL);

    if (rc)
        return rc;
    child_text(&id, oc_xml_child(res, "Account"), "AccountId");
    if (id.len)
        printf("%s\n", oc_buf_cstr(&id));
    else {
        fprintf(stderr, "overcast-admin: %s: the answer has no AccountId\n", a->cmd);
        rc = 1;
    }
    oc_buf_free(&id);
    xmlFreeDoc(doc);
    return rc;
}

static int cmd_list_accounts(struct admin *a)
{
    struct oc_buf name = { 0 }, id = { 0 };
    xmlDocPtr doc;
    xmlNodePtr res, m;
    int rc = iam_call(a, "ListAccounts", &doc, &res, NULL);

    if (rc)
        return rc;
    for (m = oc_xml_child(oc_xml_child(res, "Accounts"), "member"); m;
         m = oc_xml_next(m, "member")) {
        child_text(&name, m, "AccountName");
        child_text(&id, m, "AccountId");
        printf("%s\t%s\n", oc_buf_cstr(&name), oc_buf_cstr(&id));
    }
    oc_buf_free(&name);
    oc_buf_free(&id);
    xmlFreeDoc(doc);
    return 0;
}

static int print_user(void *arg, xmlNodePtr u)
{
    struct oc_buf t = { 0 };

    (void)arg;
    printf("%s\t", child_text(&t, u, "UserName"));
    printf("%s\t", child_text(&t, u, "UserId"));
    printf("%s\n", child_text(&t, u, "Arn"));
    oc_buf_free(&t);
    return 0;
}

static int cmd_create_access_key(struct admin *a, const char *account, const char *user)
{
    struct oc_buf id = { 0 }, secret = { 0 };
    xmlDocPtr doc;
    xmlNodePtr res, k;
    int rc = iam_call(a, "CreateAccessKey", &doc, &res, "DelegateAccount", account,
                      "UserName", user, NULL);

    if (rc)
        return rc;
    k = oc_xml_child(res, "AccessKey");
    child_text(&id, k, "AccessKeyId");
    child_text(&secret, k, "SecretAccessKey");
    if (id.len && secret.len) {
        printf("%s %s\n", oc_buf_cstr(&id), oc_buf_cstr(&secret));
    } else {
        fprintf(stderr, "overcast-admin: %s: the answer has no key\n", a->cmd);
        rc = 1;
    }
    oc_buf_free(&id);
    oc_buf_free(&secret);
    xmlFreeDoc(doc);
    return rc;
}

static int cmd_key_change(struct admin *a, const char *key_id, const char *status)
{
    struct key_owner o = { .key_id = key_id };
    int rc = find_key_owner(a, &o);

    if (rc == 0 && status)
        rc = iam_call(a, "UpdateAccessKey", NULL, NULL, "DelegateAccount", o.account_id, "UserName",
                         o.user, "AccessKeyId", key_id, "Status", status, NULL);
    else if (rc == 0)
        rc = iam_call(a, "DeleteAccessKey", NULL, NULL, "DelegateAccount", o.account_id, "UserName",
                         o.user, "AccessKeyId", key_id, NULL);
    key_owner_free(&o);
    return rc;
}

/* ------------------------------------------------------------------ */

/* Fills the client from --url, the environment and the eucarc. */
static int admin_open(struct admin *a, const char *home, const char *url_opt)
{
    struct oc_err err = { 0 };
    struct oc_httpc_config cfg = { 0 };
    char *path = NULL, *text = NULL, *akid = NULL, *secret = NULL, *url = NULL;
    char *endpoint = NULL, *svc_path = NULL;
    const char *env_ak = getenv("AWS_ACCESS_KEY_ID");
    const char *env_sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *env_url = getenv("EUARE_URL");
    size_t len;
    int rc = 1;

    if (asprintf(&path, "%s/admin/eucarc", home) < 0) {
        path = NULL;
        goto cleanup;
    }
    if (env_ak && *env_ak && env_sk && *env_sk) {
        akid = strdup(env_ak);
        secret = strdup(env_sk);
    } else if (oc_httpc_load_creds(path, &akid, &secret, &err) != OC_OK) {
        fprintf(stderr, "overcast-admin: credentials: %s (run `overcast-clc bootstrap`, or "
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)\n", err.msg);
        goto cleanup;
    }
    if (url_opt)
        url = strdup(url_opt);
    else if (env_url && *env_url)
        url = strdup(env_url);
    else if (oc_read_file(path, 1 << 20, &text, &len, &err) == OC_OK)
        url = shell_var(text, "EUARE_URL");
    if (!url) {
        fprintf(stderr, "overcast-admin: no IAM endpoint: set EUARE_URL in %s or the "
                "environment, or pass --url\n", path);
        goto cleanup;
    }
    if (split_url(url, &endpoint, &svc_path) != 0) {
        fprintf(stderr, "overcast-admin: '%s' is not an http(s) URL\n", url);
        goto cleanup;
    }
    cfg.endpoint = endpoint;
    cfg.access_key_id = akid;
    cfg.secret_key = secret;
    if (oc_httpc_new(&cfg, &a->http, &err) != OC_OK) {
        fprintf(stderr, "overcast-admin: %s\n", err.msg);
        goto cleanup;
    }
    a->path = svc_path;
    svc_path = NULL;
    a->endpoint = endpoint;
    endpoint = NULL;
    a->home = home;
    rc = 0;
cleanup:
    if (secret)
        memset(secret, 0, strlen(secret));
    if (text)
        memset(text, 0, strlen(text));
    free(path);
    free(text);
    free(akid);
    free(secret);
    free(url);
    free(endpoint);
    free(svc_path);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "url", required_argument, NULL, 'U' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct admin a = { 0 };
    const char *home = getenv("OVERCAST_HOME"), *url = NULL, *cmd;
    int c, rc;

    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': home = optarg; break;
        case 'U': url = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!home || !*home)
        home = "/var/lib/overcast";
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    cmd = argv[optind];
    argc -= optind + 1;
    argv += optind + 1;
    if (strcmp(cmd, "bootstrap") == 0) {
        fprintf(stderr, "overcast-admin: the bootstrap is `overcast-clc bootstrap` now\n");
        return 2;
    }
    a.cmd = cmd;
    oc_xml_init();
    if (admin_open(&a, home, url) != 0)
        return 1;

    if (strcmp(cmd, "create-account") == 0 && argc == 1) {
        rc = cmd_create_account(&a, argv[0]);
    } else if (strcmp(cmd, "list-accounts") == 0 && argc == 0) {
        rc = cmd_list_accounts(&a);
    } else if (strcmp(cmd, "delete-account") == 0 &&
               (argc == 1 || (argc == 2 && strcmp(argv[1], "--recursive") == 0))) {
        rc = iam_call(&a, "DeleteAccount", NULL, NULL, "AccountName", argv[0], "Recursive",
                         argc == 2 ? "true" : "false", NULL);
    } else if (strcmp(cmd, "create-user") == 0 && argc == 2) {
        rc = iam_call(&a, "CreateUser", NULL, NULL, "DelegateAccount", argv[0], "UserName", argv[1],
                         NULL);
    } else if (strcmp(cmd, "list-users") == 0 && argc == 1) {
        int stop = 0;

        rc = walk_users(&a, argv[0], print_user, NULL, &stop);
    } else if (strcmp(cmd, "delete-user") == 0 && argc == 2) {
        rc = iam_call(&a, "DeleteUser", NULL, NULL, "DelegateAccount", argv[0], "UserName", argv[1],
                         NULL);
    } else if (strcmp(cmd, "create-access-key") == 0 && argc == 2) {
        rc = cmd_create_access_key(&a, argv[0], argv[1]);
    } else if (strcmp(cmd, "set-key-status") == 0 && argc == 2 &&
               (strcmp(argv[1], "Active") == 0 || strcmp(argv[1], "Inactive") == 0)) {
        rc = cmd_key_change(&a, argv[0], argv[1]);
    } else if (strcmp(cmd, "delete-access-key") == 0 && argc == 1) {
        rc = cmd_key_change(&a, argv[0], NULL);
    } else if (strcmp(cmd, "list-keys") == 0 && argc == 0) {
        rc = walk_keys(&a, print_key, NULL);
    } else if ((rc = adm_cloud_command(&a, cmd, argc, argv)) < 0 || rc == 2) {
        usage(stderr);
        rc = 2;
    }
    oc_httpc_free(a.http);
    free((char *)a.path);
    free((char *)a.endpoint);
    if (fflush(stdout) != 0 && rc == 0)
        rc = 1;
    return rc;
}
