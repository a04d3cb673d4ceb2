/*
 * ids.h - identifiers: request ids (uppercase hex, unique per process run),
 * random lowercase hex ids for objects and uploads, and AWS-style resource
 * ids (`i-` + 17 hex digits) for later components.
 */
#ifndef OC_IDS_H
#define OC_IDS_H

#include <stddef.h>

#define OC_REQUEST_ID_LEN 16
/* out holds OC_REQUEST_ID_LEN + 1 bytes. */
void oc_request_id(char *out);
/* nbytes random bytes as 2*nbytes lowercase hex; out holds 2*nbytes + 1. */
void oc_random_hex(char *out, size_t nbytes);
/* AWS-style: prefix-xxxxxxxxxxxxxxxxx (17 hex). out holds strlen(prefix)+19. */
void oc_resource_id(const char *prefix, char *out);
/* A MacroComponent image's ready point, as the CLC stores it and the NC
 * waits for it: a console marker of [A-Za-z0-9_.:-]{1,63}, or "+N"
 * (N = 1..3600 seconds after the template starts). */
int oc_valid_mc_ready(const char *s);

#endif
