/*
 * libFuzzer target: every CLC action's parameter handling.  The input is a
 * Query string (Action=...&...); it runs through the same dispatch as an
 * HTTP request (clc_api_invoke) as a user of an ordinary account and, for
 * inputs whose first byte is odd, as the admin, on a throwaway clc.db.  The
 * answer must be a document with a status; crashes, leaks and sanitizer
 * reports are the failures.  Actions that call other services (Walrus, the
 * cluster "zone-a") fail fast: nothing listens at their addresses.  The
 * database holds one public machine image and one instance of the user,
 * so instance actions get past their lookups; byte 0 also picks the
 * cluster API (clcInstanceEvent), called as the CC user, or the admin
 * API (Empyrean: services, nodes, properties; its cluster does not
 * answer).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clc/api.h"
#include "clc/clc.h"
#include "clc/identity.h"
#include "common/config.h"
#include "common/creds.h"
#include "common/xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct clc *clc;
static struct oc_config *conf;
static struct oc_principal user, admin, cc;

static void setup(void)
{
    char tmpl[] = "/tmp/fuzz-clc-XXXXXX";
    struct oc_err err = { 0 };
    struct clc_account a, b;
    struct oc_db *db;
    char *home = mkdtemp(tmpl);

    if (!home)
        abort();
    oc_xml_init();
    conf = oc_config_new();
    /* Port 9 on loopback: nothing answers, calls to Walrus fail at once. */
    if (!conf || oc_config_set(conf, "WALRUS_URL", "http://127.0.0.1:9") != OC_OK)
        abort();
    if (clc_new(home, conf, &clc, &err) != OC_OK) {
        fprintf(stderr, "clc_new: %s\n", err.msg);
        abort();
    }
    db = oc_dbpool_get(clc_pool(clc), &err);
    if (!db || clc_account_create(clc_identity(clc), db, OC_ADMIN_ACCOUNT, &a, &err) ||
        clc_account_create(clc_identity(clc), db, "fuzzacct", &b, &err)) {
        fprintf(stderr, "accounts: %s\n", err.msg);
        abort();
    }
    if (oc_db_run(db, "INSERT INTO clusters (name, zone, host, port, created)"
                      " VALUES ('zone-a', 'zone-a', '127.0.0.1', 9, 0)", NULL, &err, "") ||
        oc_db_run(db, "INSERT INTO images (id, account_id, type, name, location, format,"
                      " architecture, root_device_name, virtualization_type, state, is_public,"
                      " created) VALUES ('ami-0000000000000000a', ?, 'machine', 'img',"
                      " 'b/k', 'raw', 'x86_64', '/dev/sda1', 'hvm', 'available', 1, 0)",
                  NULL, &err, "s", a.id) ||
        oc_db_run(db, "INSERT INTO reservations (id, account_id, created)"
                      " VALUES ('r-0000000000000000a', ?, 0)", NULL, &err, "s", b.id) ||
        oc_db_run(db, "INSERT INTO instances (id, reservation_id, account_id, launch_index,"
                      " image_id, instance_type, cluster, state, state_time, launch_time,"
                      " private_ip, mac) VALUES ('i-0000000000000000a', 'r-0000000000000000a',"
                      " ?, 0, 'ami-0000000000000000a', 'm1.small', 'zone-a', 'running', 0, 0,"
                      " '10.101.0.2', 'd0:0d:0a:65:00:02')", NULL, &err, "s", b.id) ||
        oc_db_run(db, "INSERT INTO instance_groups VALUES ('i-0000000000000000a',"
                      " 'sg-0000000a', 'default')", NULL, &err, "")) {
        fprintf(stderr, "fixtures: %s\n", err.msg);
        abort();
    }
    oc_dbpool_put(clc_pool(clc), db);
    snprintf(cc.account_id, sizeof(cc.account_id), "%s", a.id);
    snprintf(cc.account_name, sizeof(cc.account_name), "%s", a.name);
    snprintf(cc.user_name, sizeof(cc.user_name), "cc");
    cc.is_admin = cc.active = 1;
    snprintf(admin.account_id, sizeof(admin.account_id), "%s", a.id);
    snprintf(admin.account_name, sizeof(admin.account_name), "%s", a.name);
    snprintf(admin.user_name, sizeof(admin.user_name), "admin");
    admin.is_admin = admin.active = 1;
    snprintf(user.account_id, sizeof(user.account_id), "%s", b.id);
    snprintf(user.account_name, sizeof(user.account_name), "%s", b.name);
    snprintf(user.user_name, sizeof(user.user_name), "user");
    user.active = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_buf out = { 0 };
    int status = 0, api;

    if (!clc)
        setup();
    if (size < 2)
        return 0;
    /* Byte 0: who and which API; the rest is the Query string. */
    api = (data[0] >> 1) % 5;   /* EC2, IAM, Identity, Cluster, admin */
    if (clc_api_invoke(clc, api == 0 ? CLC_API_EC2 : api == 1 ? CLC_API_IAM
                                    : api == 2 ? CLC_API_IDENTITY
                                    : api == 3 ? CLC_API_CLUSTER : CLC_API_ADMIN,
                       api == 3 ? &cc : (data[0] & 1) ? &admin : &user, (const char *)data + 1,
                       size - 1, &out, &status) == OC_OK) {
        if (status < 200 || status > 599 || out.len == 0)
            abort();
    }
    oc_buf_free(&out);
    return 0;
}
