/*
 * ca.h - the CLC as a certificate authority for its users.
 *
 * The cloud's RSA key and self-signed certificate ($OVERCAST_HOME/clc/
 * cloud-pk.pem, cloud-cert.pem, made by `overcast-clc bootstrap`) are the
 * CA: bundles are encrypted for the certificate, and user certificates
 * (Euare CreateSigningCertificate, the credential bundle of
 * `overcast-admin get-credentials` and of the console) are issued by the
 * key.  A user certificate is RSA 2048, subject
 * O=<account id>, OU=<account name>, CN=<user>, valid five years, with a
 * random 128-bit serial, signed with SHA-256.
 */
#ifndef CLC_CA_H
#define CLC_CA_H

#include "common/err.h"

/* New key pair and certificate for the user; both PEM, malloc'd. */
int clc_ca_issue(const char *home, const char *account_id, const char *account_name,
                 const char *user_name, char **key_pem, char **cert_pem,
                 struct oc_err *err) OC_WUR;
/* X.509v3 extensions: a CA (basicConstraints CA:TRUE, keyCertSign,
 * cRLSign) or a user (CA:FALSE, digitalSignature, keyEncipherment), with
 * subject and authority key identifiers; issuer may be x itself. */
struct x509_st;
int clc_ca_extensions(struct x509_st *x, struct x509_st *issuer, int ca) OC_WUR;
/* The cloud certificate (PEM, malloc'd). */
int clc_ca_cert(const char *home, char **pem, struct oc_err *err) OC_WUR;

#endif
