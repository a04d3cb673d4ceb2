/*
 * admin_cloud.c - overcast-admin's commands about the cloud itself, as
 * euserv-* and euctl do them, through the CLC's admin API
 * (/services/Empyrean, docs/admin.md): services, nodes, their
 * registration, properties; plus get-credentials (a user's credential
 * bundle, as Eucalyptus's euare-... / euca-get-credentials made it) and
 * clone-instances (the EC2 CloneInstances extension).
 *
 * Output is one tab-separated record per line, first field its kind
 * (SERVICE, NODE, INSTANCE, PROPERTY), so scripts and tests can read it.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/eucarc.h"
#include "common/fsutil.h"
#include "common/xml.h"
#include "euca-compat/admin.h"

const char adm_cloud_usage[] =
    "  describe-services [--type T] [--zone Z]  SERVICE type zone name state uri\n"
    "  describe-nodes [ZONE]             NODE zone name host state cores mem(MiB), then\n"
    "                                    INSTANCE lines for the instances on it\n"
    "  register-cluster ZONE HOST [PORT]\n"
    "  deregister-cluster ZONE\n"
    "  register-node ZONE NAME HOST [PORT]\n"
    "  deregister-node ZONE NAME\n"
    "  properties [get] [NAME...]        PROPERTY name value (NAME may be a prefix)\n"
    "  properties set NAME=VALUE         prints PROPERTY name value old-value\n"
    "  get-credentials ACCOUNT USER FILE.zip|DIR\n"
    "                                    a new access key and certificate for the user,\n"
    "                                    with eucarc, aws-config, aws-credentials and\n"
    "                                    cloud-cert.pem, as a zip or in a new directory\n"
    "  clone-instances INSTANCE [COUNT]  forks a running MacroComponent instance\n";

static int cmd_describe_services(struct admin *a, int argc, char **argv)
{
    const char *type = NULL, *zone = NULL;
    struct oc_buf t = { 0 };
    xmlDocPtr doc;
    xmlNodePtr root, it;
    int rc;

    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc)
            return 2;
        if (strcmp(argv[i], "--type") == 0)
            type = argv[i + 1];
        else if (strcmp(argv[i], "--zone") == 0)
            zone = argv[i + 1];
        else
            return 2;
    }
    /* A NULL name ends the parameters: the ones given come first. */
    rc = adm_call(a, API_ADMIN, "DescribeServices", &doc, &root,
                  type ? "ByServiceType" : zone ? "ByPartition" : NULL, type ? type : zone,
                  type && zone ? "ByPartition" : NULL, zone, NULL);
    if (rc)
        return rc;
    for (it = oc_xml_child(oc_xml_child(root, "serviceStatuses"), "item"); it;
         it = oc_xml_next(it, "item")) {
        xmlNodePtr id = oc_xml_child(it, "serviceId");

        printf("SERVICE\t%s", child_text(&t, id, "type"));
        printf("\t%s", child_text(&t, id, "partition"));
        printf("\t%s", child_text(&t, id, "name"));
        printf("\t%s", child_text(&t, it, "localState"));
        printf("\t%s\n", child_text(&t, id, "uri"));
    }
    oc_buf_free(&t);
    xmlFreeDoc(doc);
    return 0;
}

static int cmd_describe_nodes(struct admin *a, const char *zone)
{
    struct oc_buf t = { 0 };
    xmlDocPtr doc;
    xmlNodePtr root, it, in;
    int rc = adm_call(a, API_ADMIN, "DescribeNodeControllers", &doc, &root,
                      zone ? "ByPartition" : NULL, zone, NULL);

    if (rc)
        return rc;
    for (it = oc_xml_child(oc_xml_child(root, "nodeControllers"), "item"); it;
         it = oc_xml_next(it, "item")) {
        printf("NODE\t%s", child_text(&t, it, "partition"));
        printf("\t%s", child_text(&t, it, "name"));
        printf("\t%s", child_text(&t, it, "hostName"));
        printf("\t%s", child_text(&t, it, "state"));
        printf("\t%s/", child_text(&t, it, "coresFree"));
        printf("%s", child_text(&t, it, "coresTotal"));
        printf("\t%s/", child_text(&t, it, "memoryFreeMiB"));
        printf("%s\n", child_text(&t, it, "memoryTotalMiB"));
        for (in = oc_xml_child(oc_xml_child(it, "instances"), "item"); in;
             in = oc_xml_next(in, "item"))
            printf("INSTANCE\t%s\n", child_text(&t, in, "instanceId"));
    }
    oc_buf_free(&t);
    xmlFreeDoc(doc);
    return 0;
}

static int print_properties(xmlNodePtr root)
{
    struct oc_buf t = { 0 };

    for (xmlNodePtr it = oc_xml_child(oc_xml_child(root, "properties"), "item"); it;
         it = oc_xml_next(it, "item")) {
        printf("PROPERTY\t%s", child_text(&t, it, "name"));
        printf("\t%s\n", child_text(&t, it, "value"));
    }
    oc_buf_free(&t);
    return 0;
}

static int cmd_properties(struct admin *a, int argc, char **argv)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    int rc;

    if (argc >= 1 && strcmp(argv[0], "set") == 0) {
        struct oc_buf t = { 0 };
        char *eq, *name;

        if (argc != 2 || !(eq = strchr(argv[1], '=')) || eq == argv[1])
            return 2;
        name = strndup(argv[1], (size_t)(eq - argv[1]));
        if (!name)
            return 1;
        rc = adm_call(a, API_ADMIN, "ModifyPropertyValue", &doc, &root, "Name", name, "Value",
                      eq + 1, NULL);
        free(name);
        if (rc)
            return rc;
        printf("PROPERTY\t%s", child_text(&t, root, "name"));
        printf("\t%s", child_text(&t, root, "value"));
        printf("\t%s\n", child_text(&t, root, "oldValue"));
        oc_buf_free(&t);
        xmlFreeDoc(doc);
        return 0;
    }
    if (argc >= 1 && strcmp(argv[0], "get") == 0) {
        argc--;
        argv++;
    }
    {
        /* Property.N for each name asked. */
        char keys[8][24];
        const char *kv[2 * 8 + 1] = { 0 };

        if (argc > 8) {
            fprintf(stderr, "overcast-admin: properties: at most 8 names at once\n");
            return 2;
        }
        for (int i = 0; i < argc; i++) {
            snprintf(keys[i], sizeof(keys[i]), "Property.%d", i + 1);
            kv[2 * i] = keys[i];
            kv[2 * i + 1] = argv[i];
        }
        rc = adm_call(a, API_ADMIN, "DescribeProperties", &doc, &root, kv[0], kv[1], kv[2],
                      kv[3], kv[4], kv[5], kv[6], kv[7], kv[8], kv[9], kv[10], kv[11], kv[12],
                      kv[13], kv[14], kv[15], NULL);
    }
    if (rc)
        return rc;
    print_properties(root);
    xmlFreeDoc(doc);
    return 0;
}

/* ------------------------------------------------------------------ */
/* get-credentials */

struct bundle_file {
    const char *name;
    struct oc_buf data;
    mode_t mode;
};

static int write_zip(const char *path, struct bundle_file *f, size_t n)
{
    struct archive *ar = archive_write_new();
    int ok = ar && archive_write_set_format_zip(ar) == ARCHIVE_OK &&
             archive_write_open_filename(ar, path) == ARCHIVE_OK;

    for (size_t i = 0; ok && i < n; i++) {
        struct archive_entry *e = archive_entry_new();

        ok = e != NULL;
        if (ok) {
            archive_entry_set_pathname(e, f[i].name);
            archive_entry_set_size(e, (la_int64_t)f[i].data.len);
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, f[i].mode);
            archive_entry_set_mtime(e, time(NULL), 0);
            ok = archive_write_header(ar, e) == ARCHIVE_OK &&
                 archive_write_data(ar, f[i].data.data, f[i].data.len) ==
                     (la_ssize_t)f[i].data.len;
            archive_entry_free(e);
        }
    }
    if (ar && archive_write_close(ar) != ARCHIVE_OK)
        ok = 0;
    if (!ok)
        fprintf(stderr, "overcast-admin: get-credentials: %s: %s\n", path,
                ar ? archive_error_string(ar) : "out of memory");
    archive_write_free(ar);
    if (!ok)
        unlink(path);
    return ok ? 0 : 1;
}

static int write_dir(const char *dir, struct bundle_file *f, size_t n)
{
    struct oc_err err = { 0 };

    if (mkdir(dir, 0700) != 0) {
        fprintf(stderr, "overcast-admin: get-credentials: cannot make %s: %s\n", dir,
                strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        char *path = NULL;
        int rc;

        if (asprintf(&path, "%s/%s", dir, f[i].name) < 0)
            return 1;
        rc = oc_write_file_atomic(path, f[i].data.data ? f[i].data.data : "", f[i].data.len,
                                  f[i].mode, &err);
        free(path);
        if (rc) {
            fprintf(stderr, "overcast-admin: get-credentials: %s\n", err.msg);
            return 1;
        }
    }
    return 0;
}

/* The text of ElementName under node, copied with malloc ("" if none). */
static char *text_dup(xmlNodePtr node, const char *name)
{
    struct oc_buf t = { 0 };
    char *s = strdup(child_text(&t, node, name));

    oc_buf_free(&t);
    return s;
}

/* S3_URL from the environment or the admin's eucarc, else EUARE's host on
 * Walrus's default port. */
static char *s3_url(struct admin *a)
{
    const char *env = getenv("S3_URL");
    char *path = NULL, *text = NULL, *v = NULL, *p;
    size_t len;
    struct oc_err err = { 0 };

    if (env && *env)
        return strdup(env);
    if (asprintf(&path, "%s/admin/eucarc", a->home) >= 0 &&
        oc_read_file(path, 1 << 20, &text, &len, &err) == OC_OK &&
        (p = strstr(text, "export S3_URL=")) != NULL) {
        p += 14;
        v = strndup(p, strcspn(p, "\n\r\" "));
    }
    free(path);
    free(text);
    if (v)
        return v;
    {
        const char *h = strstr(a->endpoint, "://");
        const char *colon = h ? strrchr(h + 3, ':') : NULL;

        if (asprintf(&v, "%.*s:8780", colon ? (int)(colon - a->endpoint)
                                            : (int)strlen(a->endpoint), a->endpoint) < 0)
            v = NULL;
    }
    return v;
}

static int cmd_get_credentials(struct admin *a, const char *account, const char *user,
                               const char *out)
{
    struct bundle_file f[6] = {
        { "eucarc", { 0 }, 0600 }, { "aws-config", { 0 }, 0600 },
        { "aws-credentials", { 0 }, 0600 }, { "cloud-cert.pem", { 0 }, 0644 },
        { NULL, { 0 }, 0644 }, { NULL, { 0 }, 0600 },
    };
    xmlDocPtr kdoc = NULL, cdoc = NULL, adoc = NULL, udoc = NULL;
    xmlNodePtr kres, cres, ares, ures;
    char *akid = NULL, *secret = NULL, *cert = NULL, *cert_id = NULL, *key = NULL;
    char *cloud = NULL, *account_id = NULL, *arn = NULL, *ec2 = NULL, *euare = NULL;
    char *s3 = NULL, *who = NULL, *certf = NULL, *keyf = NULL;
    size_t len = strlen(out);
    int zip = len > 4 && strcmp(out + len - 4, ".zip") == 0;
    int rc;

    if (access(out, F_OK) == 0) {
        fprintf(stderr, "overcast-admin: get-credentials: %s exists; name a new file or "
                "directory\n", out);
        return 1;
    }
    /* The user must exist before anything is made for it. */
    rc = adm_call(a, API_IAM, "GetUser", &udoc, &ures, "DelegateAccount", account, "UserName",
                  user, NULL);
    if (rc == 0) {
        arn = text_dup(oc_xml_child(ures, "User"), "Arn");
        rc = adm_call(a, API_ADMIN, "GetCloudCertificate", &adoc, &ares, NULL);
    }
    if (rc == 0)
        rc = adm_call(a, API_IAM, "CreateAccessKey", &kdoc, &kres, "DelegateAccount", account,
                      "UserName", user, NULL);
    if (rc == 0) {
        rc = adm_call(a, API_IAM, "CreateSigningCertificate", &cdoc, &cres, "DelegateAccount",
                      account, "UserName", user, NULL);
        if (rc) {
            /* Do not leave the new key behind. */
            char *id = text_dup(oc_xml_child(kres, "AccessKey"), "AccessKeyId");

            if (id && adm_call(a, API_IAM, "DeleteAccessKey", NULL, NULL, "DelegateAccount",
                               account, "UserName", user, "AccessKeyId", id, NULL) != 0)
                fprintf(stderr, "overcast-admin: get-credentials: the new access key %s "
                        "could not be deleted\n", id);
            free(id);
        }
    }
    if (rc)
        goto done;
    akid = text_dup(oc_xml_child(kres, "AccessKey"), "AccessKeyId");
    secret = text_dup(oc_xml_child(kres, "AccessKey"), "SecretAccessKey");
    cert = text_dup(oc_xml_child(cres, "Certificate"), "CertificateBody");
    cert_id = text_dup(oc_xml_child(cres, "Certificate"), "CertificateId");
    key = text_dup(cres, "PrivateKey");
    cloud = text_dup(ares, "certificate");
    /* arn:aws:iam::<account id>:user/<path><name> */
    if (arn && strncmp(arn, "arn:aws:iam::", 13) == 0)
        account_id = strndup(arn + 13, strcspn(arn + 13, ":"));
    s3 = s3_url(a);
    rc = 1;
    if (!akid || !*akid || !secret || !*secret || !cert || !*cert || !key || !*key || !cloud ||
        !*cloud || !account_id || !s3 || !cert_id || strlen(cert_id) < 8) {
        fprintf(stderr, "overcast-admin: get-credentials: the CLC's answers lack a key, a "
                "certificate or the account id\n");
        goto done;
    }
    if (asprintf(&ec2, "%s/services/compute", a->endpoint) < 0 ||
        asprintf(&euare, "%s/services/Euare", a->endpoint) < 0 ||
        asprintf(&who, "%s/%s", account, user) < 0 ||
        asprintf(&certf, "euca2-%s-%.8s-cert.pem", user, cert_id) < 0 ||
        asprintf(&keyf, "euca2-%s-%.8s-pk.pem", user, cert_id) < 0)
        goto done;
    {
        struct oc_eucarc e = {
            .who = who, .ec2_url = ec2, .euare_url = euare, .s3_url = s3,
            .access_key_id = akid, .secret_key = secret,
            .region = getenv("AWS_DEFAULT_REGION") ? getenv("AWS_DEFAULT_REGION") : "us-east-1",
            .account_id = account_id, .cert_file = certf, .key_file = keyf,
            .cloud_cert_file = "cloud-cert.pem",
        };

        if (oc_eucarc_render(&e, &f[0].data, &f[1].data, &f[2].data) != OC_OK ||
            oc_buf_puts(&f[3].data, cloud) || oc_buf_puts(&f[4].data, cert) ||
            oc_buf_puts(&f[5].data, key))
            goto done;
    }
    f[4].name = certf;
    f[5].name = keyf;
    rc = zip ? write_zip(out, f, 6) : write_dir(out, f, 6);
    if (rc == 0)
        printf("%s\t%s\t%s\n", out, akid, cert_id);
done:
    for (size_t i = 0; i < 6; i++) {
        if (f[i].data.data)
            OPENSSL_cleanse(f[i].data.data, f[i].data.len);
        oc_buf_free(&f[i].data);
    }
    if (secret)
        OPENSSL_cleanse(secret, strlen(secret));
    if (key)
        OPENSSL_cleanse(key, strlen(key));
    free(akid);
    free(secret);
    free(cert);
    free(cert_id);
    free(key);
    free(cloud);
    free(account_id);
    free(arn);
    free(ec2);
    free(euare);
    free(s3);
    free(who);
    free(certf);
    free(keyf);
    if (kdoc)
        xmlFreeDoc(kdoc);
    if (cdoc)
        xmlFreeDoc(cdoc);
    if (adoc)
        xmlFreeDoc(adoc);
    if (udoc)
        xmlFreeDoc(udoc);
    return rc;
}

static int cmd_clone(struct admin *a, const char *id, const char *count)
{
    struct oc_buf t = { 0 };
    xmlDocPtr doc;
    xmlNodePtr root, it;
    int rc = adm_call(a, API_EC2, "CloneInstances", &doc, &root, "InstanceId", id,
                      count ? "Count" : NULL, count, NULL);

    if (rc)
        return rc;
    for (it = oc_xml_child(oc_xml_child(root, "instancesSet"), "item"); it;
         it = oc_xml_next(it, "item"))
        printf("INSTANCE\t%s\n", child_text(&t, it, "instanceId"));
    oc_buf_free(&t);
    xmlFreeDoc(doc);
    return 0;
}

int adm_cloud_command(struct admin *a, const char *cmd, int argc, char **argv)
{
    if (strcmp(cmd, "describe-services") == 0)
        return cmd_describe_services(a, argc, argv);
    if (strcmp(cmd, "describe-nodes") == 0 && argc <= 1)
        return cmd_describe_nodes(a, argc ? argv[0] : NULL);
    if (strcmp(cmd, "register-cluster") == 0 && (argc == 2 || argc == 3))
        return adm_call(a, API_ADMIN, "RegisterService", NULL, NULL, "Type", "cluster",
                        "Partition", argv[0], "Host", argv[1], argc == 3 ? "Port" : NULL,
                        argv[2], NULL);
    if (strcmp(cmd, "deregister-cluster") == 0 && argc == 1)
        return adm_call(a, API_ADMIN, "DeregisterService", NULL, NULL, "Type", "cluster",
                        "Name", argv[0], NULL);
    if (strcmp(cmd, "register-node") == 0 && (argc == 3 || argc == 4))
        return adm_call(a, API_ADMIN, "RegisterService", NULL, NULL, "Type", "node",
                        "Partition", argv[0], "Name", argv[1], "Host", argv[2],
                        argc == 4 ? "Port" : NULL, argv[3], NULL);
    if (strcmp(cmd, "deregister-node") == 0 && argc == 2)
        return adm_call(a, API_ADMIN, "DeregisterService", NULL, NULL, "Type", "node",
                        "Partition", argv[0], "Name", argv[1], NULL);
    if (strcmp(cmd, "properties") == 0)
        return cmd_properties(a, argc, argv);
    if (strcmp(cmd, "get-credentials") == 0 && argc == 3)
        return cmd_get_credentials(a, argv[0], argv[1], argv[2]);
    if (strcmp(cmd, "clone-instances") == 0 && (argc == 1 || argc == 2))
        return cmd_clone(a, argv[0], argc == 2 ? argv[1] : NULL);
    if (strcmp(cmd, "describe-services") == 0 || strcmp(cmd, "describe-nodes") == 0 ||
        strcmp(cmd, "register-cluster") == 0 || strcmp(cmd, "deregister-cluster") == 0 ||
        strcmp(cmd, "register-node") == 0 || strcmp(cmd, "deregister-node") == 0 ||
        strcmp(cmd, "get-credentials") == 0 || strcmp(cmd, "clone-instances") == 0)
        return 2;
    return -1;
}
