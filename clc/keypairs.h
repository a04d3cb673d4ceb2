/*
 * keypairs.h - EC2 key pairs (clc/keypairs.c): the action table is in
 * clc/clc.h; these are the key handling pieces, exposed for unit tests.
 *
 * Only public keys are stored, in OpenSSH one-line form.  Fingerprints are
 * computed the way AWS documents them:
 *   RSA made by CreateKeyPair   SHA-1 of the DER PKCS#8 private key, colon hex
 *   RSA imported                MD5 of the DER SubjectPublicKeyInfo, colon hex
 *   ED25519 (either)            base64 of SHA-256 of the OpenSSH key blob
 */
#ifndef CLC_KEYPAIRS_H
#define CLC_KEYPAIRS_H

#include <openssl/evp.h>
#include "common/buf.h"
#include "common/err.h"

/* A parsed public key: type "rsa" or "ed25519" and the OpenSSL key. */
struct clc_pubkey {
    const char *type;
    EVP_PKEY *pkey;
};

/*
 * Parses an imported public key (the bytes after the transport base64):
 * an OpenSSH line ("ssh-rsa AAAA... comment", "ssh-ed25519 ..."), an RFC 4716
 * SSH2 file, base64 or binary DER (SubjectPublicKeyInfo or PKCS#1), or PEM
 * "PUBLIC KEY" / "RSA PUBLIC KEY".  RSA (1024 to 4096 bits) and ED25519
 * only; anything else is OC_EINVAL with err saying why, and no key.  Free
 * pkey with EVP_PKEY_free.
 */
int clc_pubkey_parse(const char *text, size_t len, struct clc_pubkey *out,
                     struct oc_err *err) OC_WUR;
/* "ssh-rsa AAAA..." / "ssh-ed25519 AAAA..." (no comment), appended to out. */
int clc_pubkey_openssh(EVP_PKEY *pkey, struct oc_buf *out) OC_WUR;
/* The fingerprint of an imported key (MD5 for RSA, SHA-256 for ED25519). */
int clc_pubkey_fingerprint(EVP_PKEY *pkey, struct oc_buf *out) OC_WUR;
/* The fingerprint of an RSA key pair AWS generated: SHA-1 of PKCS#8 DER. */
int clc_privkey_fingerprint(EVP_PKEY *pkey, struct oc_buf *out) OC_WUR;
/*
 * The private key as CreateKeyPair returns it, appended to out.  format
 * "pem" (or NULL): RSA as PKCS#1 PEM ("BEGIN RSA PRIVATE KEY"), ED25519 in
 * OpenSSH's own format, as EC2 does.  "ppk": PuTTY's key file, version 2,
 * unencrypted, with comment.  The caller wipes out after use.
 */
int clc_privkey_material(EVP_PKEY *pkey, const char *format, const char *comment,
                         struct oc_buf *out) OC_WUR;

#endif
