/*
 * libFuzzer target: the metadata service's path handling
 * (clc_metadata_render), as the CC's proxy would ask for any path.  The
 * database holds one running instance with a key pair, user data and a
 * group; the input is the path after /services/metadata/ (its first byte
 * picks the caller: the CC user, or a user who must get 403).  Checked:
 * a status among 200, 403, 404; a 200 has a content type; a stranger
 * never gets 200.
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
static struct oc_principal cc, stranger;

static void setup(void)
{
    char tmpl[] = "/tmp/fuzz-md-XXXXXX";
    struct oc_err err = { 0 };
    struct clc_account a, b;
    struct oc_db *db;
    char *home = mkdtemp(tmpl);

    if (!home)
        abort();
    oc_xml_init();
    conf = oc_config_new();
    if (!conf || clc_new(home, conf, &clc, &err) != OC_OK)
        abort();
    db = oc_dbpool_get(clc_pool(clc), &err);
    if (!db || clc_account_create(clc_identity(clc), db, OC_ADMIN_ACCOUNT, &a, &err) ||
        clc_account_create(clc_identity(clc), db, "mdacct", &b, &err) ||
        oc_db_run(db, "INSERT INTO keypairs (id, account_id, name, key_type, fingerprint,"
                      " public_key, created) VALUES ('key-1', ?, 'k', 'rsa', 'f',"
                      " 'ssh-rsa AAAA', 0)", NULL, &err, "s", b.id) ||
        oc_db_run(db, "INSERT INTO reservations (id, account_id, created)"
                      " VALUES ('r-0000000000000000a', ?, 0)", NULL, &err, "s", b.id) ||
        oc_db_run(db, "INSERT INTO instances (id, reservation_id, account_id, launch_index,"
                      " image_id, kernel_id, instance_type, key_name, cluster, state,"
                      " state_time, launch_time, private_ip, mac, user_data) VALUES"
                      " ('i-0000000000000000a', 'r-0000000000000000a', ?, 0, 'ami-1', 'aki-1',"
                      " 'm1.small', 'k', 'zone-a', 'running', 0, 0, '10.101.0.2',"
                      " 'd0:0d:0a:65:00:02', x'2321')", NULL, &err, "s", b.id) ||
        oc_db_run(db, "INSERT INTO instance_groups VALUES ('i-0000000000000000a',"
                      " 'sg-0000000a', 'web')", NULL, &err, "")) {
        fprintf(stderr, "fixtures: %s\n", err.msg);
        abort();
    }
    oc_dbpool_put(clc_pool(clc), db);
    snprintf(cc.account_id, sizeof(cc.account_id), "%s", a.id);
    snprintf(cc.user_name, sizeof(cc.user_name), "cc");
    cc.is_admin = cc.active = 1;
    snprintf(stranger.account_id, sizeof(stranger.account_id), "%s", b.id);
    snprintf(stranger.user_name, sizeof(stranger.user_name), "cc");
    stranger.active = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct oc_arena *a;
    struct oc_buf out = { 0 };
    const char *ctype = NULL;
    char *path;
    int status, as_cc;

    if (!clc)
        setup();
    if (size < 1 || size > 4096)
        return 0;
    as_cc = !(data[0] & 1);
    a = oc_arena_new();
    path = oc_arena_strndup(a, (const char *)data + 1, size - 1);
    status = clc_metadata_render(clc, a, as_cc ? &cc : &stranger, path, &ctype, &out);
    if (status != 200 && status != 403 && status != 404)
        abort();
    if (status == 200 && (!as_cc || !ctype))
        abort();
    if (!as_cc && status != 403)
        abort();
    oc_buf_free(&out);
    oc_arena_free(a);
    return 0;
}
