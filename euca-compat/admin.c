/*
 * admin.c - overcast-admin: accounts, users and access keys, and the
 * bootstrap that gives a new cloud its `eucalyptus` admin account and the
 * credential files users source (eucarc) or point the AWS CLI at.
 *
 * Today it works on the identity store directly (it must run as the user
 * that owns $OVERCAST_HOME).  When the CLC serves IAM, these subcommands
 * become signed IAM calls and the file access goes away.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/creds.h"
#include "common/fsutil.h"

static const char *home;
static const char *s3_url;
static struct oc_config *conf;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: overcast-admin [--home DIR] [--s3-url URL] COMMAND [ARGS]\n"
            "\n"
            "  bootstrap                         create the eucalyptus admin account, user\n"
            "                                    'admin' and a key; write $HOME/admin/eucarc,\n"
            "                                    aws-config and aws-credentials\n"
            "  create-account NAME               prints the new 12-digit account id\n"
            "  create-user ACCOUNT USER          ACCOUNT is a name or an id\n"
            "  create-access-key ACCOUNT USER    prints 'AKID SECRET'\n"
            "  set-key-status AKID Active|Inactive\n"
            "  list-keys                         account, user, key id, status (no secrets)\n"
            "\n"
            "OVERCAST_HOME (default /var/lib/overcast) holds identity/identity.db.\n");
}

static int die(const char *what, const struct oc_err *err)
{
    fprintf(stderr, "overcast-admin: %s: %s\n", what, err->msg);
    return 1;
}

static int open_store(struct oc_credstore **s, struct oc_err *err)
{
    char dir[4096], db[4200], key[4200];

    snprintf(dir, sizeof(dir), "%s/identity", home);
    if (oc_mkdirs(dir, 0700, err))
        return OC_EIO;
    snprintf(db, sizeof(db), "%s/identity.db", dir);
    snprintf(key, sizeof(key), "%s/secret.key", dir);
    return oc_credstore_open(db, key, s, err);
}

/* ACCOUNT may be a 12-digit id or a name. */
static int resolve_account(struct oc_credstore *s, const char *arg,
                           char id[OC_ACCOUNT_ID_LEN + 1], struct oc_err *err)
{
    if (strlen(arg) == OC_ACCOUNT_ID_LEN && strspn(arg, "0123456789") == OC_ACCOUNT_ID_LEN) {
        snprintf(id, OC_ACCOUNT_ID_LEN + 1, "%s", arg);
        return OC_OK;
    }
    return oc_credstore_account_find(s, arg, id, err);
}

static int write_credential_files(const struct oc_principal *p, struct oc_err *err)
{
    struct oc_buf eucarc = { 0 }, cfg = { 0 }, cred = { 0 };
    char dir[4096], path[4200];
    const char *region = oc_config_get(conf, "REGION", "us-east-1");
    int rc;

    snprintf(dir, sizeof(dir), "%s/admin", home);
    rc = oc_mkdirs(dir, 0700, err);
    if (rc)
        return rc;
    rc = oc_buf_printf(&eucarc,
                       "# Overcast credentials for %s/%s: source this file.\n"
                       "export S3_URL=%s\n"
                       "export EC2_ACCESS_KEY=%s\n"
                       "export EC2_SECRET_KEY=%s\n"
                       "export AWS_ACCESS_KEY_ID=%s\n"
                       "export AWS_SECRET_ACCESS_KEY=%s\n"
                       "export AWS_DEFAULT_REGION=%s\n"
                       "export EC2_ACCOUNT_NUMBER=%s\n"
                       "export EC2_USER_ID=%s\n"
                       "# aws --endpoint-url \"$S3_URL\" s3 ls\n",
                       p->account_name, p->user_name, s3_url, p->access_key_id,
                       p->secret_key, p->access_key_id, p->secret_key, region, p->account_id,
                       p->account_id) |
         oc_buf_printf(&cfg,
                       "[profile overcast]\n"
                       "region = %s\n"
                       "endpoint_url = %s\n"
                       "s3 =\n"
                       "    addressing_style = path\n",
                       region, s3_url) |
         oc_buf_printf(&cred, "[overcast]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
                       p->access_key_id, p->secret_key);
    if (rc) {
        rc = oc_err_set(err, OC_ENOMEM, "out of memory");
        goto cleanup;
    }
    snprintf(path, sizeof(path), "%s/eucarc", dir);
    rc = oc_write_file_atomic(path, eucarc.data, eucarc.len, 0600, err);
    if (rc)
        goto cleanup;
    snprintf(path, sizeof(path), "%s/aws-config", dir);
    rc = oc_write_file_atomic(path, cfg.data, cfg.len, 0600, err);
    if (rc)
        goto cleanup;
    snprintf(path, sizeof(path), "%s/aws-credentials", dir);
    rc = oc_write_file_atomic(path, cred.data, cred.len, 0600, err);
cleanup:
    oc_buf_free(&eucarc);
    oc_buf_free(&cfg);
    oc_buf_free(&cred);
    return rc;
}

static int cmd_bootstrap(struct oc_credstore *s, struct oc_err *err)
{
    char id[OC_ACCOUNT_ID_LEN + 1], path[4200];
    struct oc_principal p;
    struct stat stbuf;
    int rc;

    snprintf(path, sizeof(path), "%s/admin/eucarc", home);
    rc = oc_credstore_account_find(s, OC_ADMIN_ACCOUNT, id, err);
    if (rc == OC_OK && stat(path, &stbuf) == 0) {
        printf("%s\n", path);   /* already bootstrapped: keep the existing key */
        return OC_OK;
    }
    if (rc == OC_ENOTFOUND)
        rc = oc_credstore_account_create(s, OC_ADMIN_ACCOUNT, id, err);
    if (rc)
        return rc;
    rc = oc_credstore_user_create(s, id, "admin", err);
    if (rc && rc != OC_EEXIST)
        return rc;
    rc = oc_credstore_key_create(s, id, "admin", &p, err);
    if (rc)
        return rc;
    rc = write_credential_files(&p, err);
    if (rc == OC_OK)
        printf("%s\n", path);
    return rc;
}

struct list_ctx {
    int n;
};

static int print_key(void *arg, const struct oc_principal *p)
{
    struct list_ctx *lc = arg;

    printf("%s\t%s\t%s\t%s\t%s\n", p->account_name, p->account_id, p->user_name,
           p->access_key_id, p->active ? "Active" : "Inactive");
    lc->n++;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "home", required_argument, NULL, 'H' },
        { "s3-url", required_argument, NULL, 'S' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct oc_err err = { 0 };
    struct oc_credstore *s = NULL;
    char id[OC_ACCOUNT_ID_LEN + 1], urlbuf[256], confpath[4200];
    const char *cmd;
    int c, rc = 0;

    home = getenv("OVERCAST_HOME");
    while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': home = optarg; break;
        case 'S': s3_url = optarg; break;
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
    conf = oc_config_new();
    snprintf(confpath, sizeof(confpath), "%s/etc/overcast.conf", home);
    if (oc_config_load(conf, confpath, &err) != OC_OK && err.code != OC_ENOTFOUND)
        return die("configuration", &err);
    if (!s3_url) {
        snprintf(urlbuf, sizeof(urlbuf), "http://127.0.0.1:%s",
                 oc_config_get(conf, "WALRUS_PORT", "8780"));
        s3_url = urlbuf;
    }
    cmd = argv[optind];
    argc -= optind + 1;
    argv += optind + 1;
    if (open_store(&s, &err) != OC_OK)
        return die("identity store", &err);

    if (strcmp(cmd, "bootstrap") == 0 && argc == 0) {
        rc = cmd_bootstrap(s, &err) ? die("bootstrap", &err) : 0;
    } else if (strcmp(cmd, "create-account") == 0 && argc == 1) {
        rc = oc_credstore_account_create(s, argv[0], id, &err);
        rc = rc ? die("create-account", &err) : (printf("%s\n", id), 0);
    } else if (strcmp(cmd, "create-user") == 0 && argc == 2) {
        rc = resolve_account(s, argv[0], id, &err);
        if (rc == OC_OK)
            rc = oc_credstore_user_create(s, id, argv[1], &err);
        rc = rc ? die("create-user", &err) : 0;
    } else if (strcmp(cmd, "create-access-key") == 0 && argc == 2) {
        struct oc_principal p;

        rc = resolve_account(s, argv[0], id, &err);
        if (rc == OC_OK)
            rc = oc_credstore_key_create(s, id, argv[1], &p, &err);
        rc = rc ? die("create-access-key", &err)
                : (printf("%s %s\n", p.access_key_id, p.secret_key), 0);
    } else if (strcmp(cmd, "set-key-status") == 0 && argc == 2 &&
               (strcmp(argv[1], "Active") == 0 || strcmp(argv[1], "Inactive") == 0)) {
        rc = oc_credstore_key_set_active(s, argv[0], strcmp(argv[1], "Active") == 0, &err);
        rc = rc ? die("set-key-status", &err) : 0;
    } else if (strcmp(cmd, "list-keys") == 0 && argc == 0) {
        struct list_ctx lc = { 0 };

        rc = oc_credstore_foreach_key(s, print_key, &lc, &err) ? die("list-keys", &err) : 0;
    } else {
        usage(stderr);
        rc = 2;
    }
    oc_credstore_free(s);
    oc_config_free(conf);
    return rc;
}
