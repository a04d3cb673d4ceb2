/*
 * schema.c - every table of clc.db, as numbered migrations in one place.
 *
 * A migration, once committed, is never edited: a change is a new entry at
 * the end.  Rows that belong to an account carry account_id; ids are the
 * AWS-style resource ids (sg-…, key-…, ami-…), unique across accounts.
 * Text columns that take part in UNIQUE constraints use '' rather than NULL
 * for "none", because SQLite treats NULLs as distinct.
 */
#include "clc/schema.h"

static const char schema_v1[] =
    /* identity: accounts, users, access keys (secrets sealed, see identity.c) */
    "CREATE TABLE accounts ("
    "  id TEXT PRIMARY KEY,"                 /* 12 digits */
    "  name TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL);"
    "CREATE TABLE users ("
    "  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  user_id TEXT NOT NULL UNIQUE,"        /* AIDA… */
    "  path TEXT NOT NULL DEFAULT '/',"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (account_id, name));"
    "CREATE TABLE access_keys ("
    "  id TEXT PRIMARY KEY,"                 /* AKIA… (20) */
    "  account_id TEXT NOT NULL,"
    "  user_name TEXT NOT NULL,"
    "  secret BLOB NOT NULL,"                /* iv || AES-256-GCM ciphertext || tag */
    "  active INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name)"
    "    ON DELETE CASCADE);"
    "CREATE INDEX access_keys_user ON access_keys(account_id, user_name);"
    /* X.509 signing certificates (IAM UploadSigningCertificate): bundle
     * manifests are verified against the registering account's certs */
    "CREATE TABLE signing_certs ("
    "  id TEXT PRIMARY KEY,"
    "  account_id TEXT NOT NULL,"
    "  user_name TEXT NOT NULL,"
    "  pem TEXT NOT NULL,"
    "  active INTEGER NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name)"
    "    ON DELETE CASCADE);"

    /* cloud-wide settings and admin-tunable properties */
    "CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);"

    /* zones: one registered cluster each */
    "CREATE TABLE clusters ("
    "  name TEXT PRIMARY KEY,"
    "  zone TEXT NOT NULL UNIQUE,"
    "  host TEXT NOT NULL,"
    "  port INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'available',"
    "  created INTEGER NOT NULL);"

    /* instance types, admin-changeable */
    "CREATE TABLE instance_types ("
    "  name TEXT PRIMARY KEY,"
    "  vcpus INTEGER NOT NULL,"
    "  memory_mib INTEGER NOT NULL,"
    "  disk_gib INTEGER NOT NULL,"
    "  ord INTEGER NOT NULL);"
    "INSERT INTO instance_types VALUES"
    "  ('t1.micro', 1, 256, 5, 1), ('m1.small', 1, 256, 5, 2),"
    "  ('c1.medium', 1, 512, 10, 3), ('m1.medium', 1, 512, 10, 4),"
    "  ('m1.large', 2, 512, 10, 5), ('m1.xlarge', 2, 1024, 10, 6),"
    "  ('c1.xlarge', 2, 2048, 10, 7), ('m2.xlarge', 2, 2048, 10, 8),"
    "  ('m3.xlarge', 4, 2048, 15, 9), ('m2.2xlarge', 2, 4096, 30, 10),"
    "  ('m3.2xlarge', 4, 4096, 30, 11), ('cc1.4xlarge', 8, 3072, 60, 12),"
    "  ('m2.4xlarge', 8, 4096, 60, 13), ('hi1.4xlarge', 8, 6144, 120, 14),"
    "  ('cc2.8xlarge', 16, 6144, 120, 15), ('cg1.4xlarge', 16, 12288, 200, 16),"
    "  ('cr1.8xlarge', 16, 16384, 240, 17), ('hs1.8xlarge', 48, 119808, 24000, 18),"
    "  ('t2.nano', 1, 512, 5, 19), ('t2.micro', 1, 1024, 10, 20),"
    "  ('t2.small', 1, 2048, 20, 21), ('t2.medium', 2, 4096, 20, 22),"
    "  ('t2.large', 2, 8192, 30, 23);"

    /* key pairs: public halves only; private keys are never stored */
    "CREATE TABLE keypairs ("
    "  id TEXT PRIMARY KEY,"                 /* key-… */
    "  account_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  key_type TEXT NOT NULL,"              /* rsa | ed25519 */
    "  fingerprint TEXT NOT NULL,"
    "  public_key TEXT NOT NULL,"            /* OpenSSH one-line form */
    "  created INTEGER NOT NULL,"
    "  UNIQUE (account_id, name));"

    /* security groups (EC2-Classic style, by name or id) and their rules */
    "CREATE TABLE security_groups ("
    "  id TEXT PRIMARY KEY,"                 /* sg-… */
    "  account_id TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL,"
    "  created INTEGER NOT NULL,"
    "  UNIQUE (account_id, name));"
    "CREATE TABLE sg_rules ("
    "  group_id TEXT NOT NULL REFERENCES security_groups(id) ON DELETE CASCADE,"
    "  egress INTEGER NOT NULL,"             /* 0 ingress, 1 egress */
    "  protocol TEXT NOT NULL,"              /* tcp | udp | icmp | -1 | number */
    "  from_port INTEGER NOT NULL,"          /* -1 when not applicable */
    "  to_port INTEGER NOT NULL,"
    "  cidr TEXT NOT NULL DEFAULT '',"       /* source/destination CIDR, or '' */
    "  src_group_id TEXT NOT NULL DEFAULT ''," /* or the peer group */
    "  src_account_id TEXT NOT NULL DEFAULT '',"
    "  description TEXT NOT NULL DEFAULT '',"
    "  rule_id TEXT NOT NULL UNIQUE,"        /* sgr-… */
    "  UNIQUE (group_id, egress, protocol, from_port, to_port, cidr, src_group_id));"
    "CREATE INDEX sg_rules_src ON sg_rules(src_group_id);"

    /* images: machine, kernel and ramdisk, from Walrus */
    "CREATE TABLE images ("
    "  id TEXT PRIMARY KEY,"                 /* ami-/aki-/ari-… */
    "  account_id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"                  /* machine | kernel | ramdisk */
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  location TEXT NOT NULL,"              /* bucket/key in Walrus */
    "  format TEXT NOT NULL,"                /* bundle | raw | qcow2 */
    "  architecture TEXT NOT NULL,"
    "  platform TEXT NOT NULL DEFAULT '',"
    "  root_device_name TEXT NOT NULL,"
    "  root_device_type TEXT NOT NULL DEFAULT 'instance-store',"
    "  virtualization_type TEXT NOT NULL,"
    "  kernel_id TEXT NOT NULL DEFAULT '',"
    "  ramdisk_id TEXT NOT NULL DEFAULT '',"
    "  state TEXT NOT NULL,"
    "  is_public INTEGER NOT NULL DEFAULT 0,"
    "  size_bytes INTEGER NOT NULL DEFAULT 0,"
    "  digest TEXT NOT NULL DEFAULT '',"     /* manifest image digest or object ETag */
    "  manifest TEXT NOT NULL DEFAULT '',"   /* the bundle manifest XML, for the NC */
    "  block_devices TEXT NOT NULL DEFAULT ''," /* manifest mappings: "virtual=device\n"... */
    "  macrocomponent INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  UNIQUE (account_id, name));"
    "CREATE TABLE image_launch_perms ("
    "  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
    "  account_id TEXT NOT NULL,"
    "  PRIMARY KEY (image_id, account_id));"
    "CREATE INDEX image_launch_perms_acct ON image_launch_perms(account_id);"

    /* tags of every resource kind */
    "CREATE TABLE tags ("
    "  resource_id TEXT NOT NULL,"
    "  resource_type TEXT NOT NULL,"
    "  account_id TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (resource_id, key));"
    "CREATE INDEX tags_account ON tags(account_id, resource_id);";

/* Instances, their reservations and groups, and elastic IPs (the
 * end-to-end issue).  An instance's state is what its cluster last said
 * (events, else the reconciliation poll); its public address is the
 * elastic IP associated with it (addresses.instance_id). */
static const char schema_v2[] =
    "CREATE TABLE reservations ("
    "  id TEXT PRIMARY KEY,"                 /* r-… */
    "  account_id TEXT NOT NULL,"
    "  client_token TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX reservations_token ON reservations(account_id, client_token)"
    "  WHERE client_token <> '';"
    "CREATE TABLE instances ("
    "  id TEXT PRIMARY KEY,"                 /* i-… */
    "  reservation_id TEXT NOT NULL REFERENCES reservations(id),"
    "  account_id TEXT NOT NULL,"
    "  launch_index INTEGER NOT NULL,"
    "  image_id TEXT NOT NULL,"
    "  kernel_id TEXT NOT NULL DEFAULT '',"
    "  ramdisk_id TEXT NOT NULL DEFAULT '',"
    "  instance_type TEXT NOT NULL,"
    "  key_name TEXT NOT NULL DEFAULT '',"
    "  cluster TEXT NOT NULL,"               /* clusters.name = the zone */
    "  node TEXT NOT NULL DEFAULT '',"
    "  node_up INTEGER NOT NULL DEFAULT 1,"
    "  state TEXT NOT NULL,"                 /* EC2 state names */
    "  state_reason TEXT NOT NULL DEFAULT '',"
    "  state_time INTEGER NOT NULL,"
    "  private_ip TEXT NOT NULL DEFAULT '',"
    "  mac TEXT NOT NULL DEFAULT '',"
    "  launch_time INTEGER NOT NULL,"
    "  user_data BLOB,"                      /* decoded; NULL when none */
    "  disable_api_termination INTEGER NOT NULL DEFAULT 0,"
    "  architecture TEXT NOT NULL DEFAULT 'x86_64',"
    "  root_device_type TEXT NOT NULL DEFAULT 'instance-store',"
    "  root_device_name TEXT NOT NULL DEFAULT '/dev/sda1',"
    "  platform TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX instances_account ON instances(account_id, id);"
    "CREATE INDEX instances_cluster ON instances(cluster, state);"
    "CREATE INDEX instances_reservation ON instances(reservation_id);"
    "CREATE TABLE instance_groups ("
    "  instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,"
    "  group_id TEXT NOT NULL,"
    "  group_name TEXT NOT NULL,"
    "  PRIMARY KEY (instance_id, group_id));"
    "CREATE INDEX instance_groups_group ON instance_groups(group_id);"
    "CREATE TABLE addresses ("
    "  public_ip TEXT PRIMARY KEY,"
    "  allocation_id TEXT NOT NULL UNIQUE,"  /* eipalloc-… */
    "  account_id TEXT NOT NULL,"
    "  cluster TEXT NOT NULL,"               /* whose VNET_PUBLICIPS it came from */
    "  instance_id TEXT NOT NULL DEFAULT '',"
    "  association_id TEXT NOT NULL DEFAULT ''," /* eipassoc-… */
    "  created INTEGER NOT NULL);"
    "CREATE INDEX addresses_account ON addresses(account_id);"
    "CREATE INDEX addresses_instance ON addresses(instance_id);";

/* 3: MacroComponent images.  mc_ready is the template's ready point
 * ("" = an ordinary image); v1's macrocomponent flag is kept equal to
 * mc_ready != ''. */
static const char schema_v3[] =
    "ALTER TABLE images ADD COLUMN mc_ready TEXT NOT NULL DEFAULT '';";

/* 4: console passwords (IAM login profiles).  hash is
 * "pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>"; the password itself
 * is never stored. */
static const char schema_v4[] =
    "CREATE TABLE login_profiles ("
    "  account_id TEXT NOT NULL,"
    "  user_name TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  reset_required INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  PRIMARY KEY (account_id, user_name),"
    "  FOREIGN KEY (account_id, user_name) REFERENCES users(account_id, name)"
    "    ON DELETE CASCADE);";

/* 5: indexes in the order the Describe loops read (clc/describe.c): an
 * account's groups by id, and an account's tags of one resource type by
 * resource and key, so neither list needs a sort. */
static const char schema_v5[] =
    "CREATE INDEX security_groups_account ON security_groups(account_id, id);"
    "CREATE INDEX tags_type ON tags(account_id, resource_type, resource_id, key);";

static const struct oc_migration migrations[] = {
    { 1, schema_v1 },
    { 2, schema_v2 },
    { 3, schema_v3 },
    { 4, schema_v4 },
    { 5, schema_v5 },
};

const struct oc_migration *clc_schema(size_t *n)
{
    *n = sizeof(migrations) / sizeof(migrations[0]);
    return migrations;
}
