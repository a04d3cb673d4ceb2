/*
 * eucarc.h - the credential files a user sources or points the AWS CLI
 * at, in Eucalyptus's layout: `eucarc` (shell variables for euca2ools and
 * the AWS CLI, plus an `aws` function that fills in --endpoint-url for
 * CLIs older than 2.13), `aws-config` and `aws-credentials` (a profile
 * named "overcast").  `overcast-clc bootstrap` writes the admin's;
 * `overcast-admin get-credentials` writes any user's bundle.
 */
#ifndef OC_EUCARC_H
#define OC_EUCARC_H

#include "common/buf.h"
#include "common/err.h"

struct oc_eucarc {
    const char *who;              /* "account/user", for the comment line */
    const char *ec2_url, *euare_url, *s3_url;
    const char *access_key_id, *secret_key;
    const char *region;
    const char *account_id;
    /* File names beside the eucarc, or NULL when the bundle has none. */
    const char *cert_file, *key_file, *cloud_cert_file;
};

/* Appends each file's text to its buffer (any may be NULL). */
int oc_eucarc_render(const struct oc_eucarc *e, struct oc_buf *eucarc, struct oc_buf *config,
                     struct oc_buf *credentials) OC_WUR;

#endif
