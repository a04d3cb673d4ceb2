/*
 * console_s3.h - the S3 API for console sessions (clc/console_s3.c): the
 * CLC passes requests below /services/objectstorage on to Walrus, signed
 * with the session user's key.
 */
#ifndef CLC_CONSOLE_S3_H
#define CLC_CONSOLE_S3_H

#include <stddef.h>

#include "common/creds.h"
#include "common/http.h"

#define CLC_S3PROXY_PREFIX "/services/objectstorage"

struct clc;
struct clc_s3proxy;

/* Whether path is CLC_S3PROXY_PREFIX or below it. */
int clc_s3proxy_path(const char *path);
/* The request's state (in its arena), or NULL with the answer sent. */
struct clc_s3proxy *clc_s3proxy_open(struct clc *c, struct oc_http_req *h);
/* A piece of the request body. */
void clc_s3proxy_body(struct clc_s3proxy *p, const char *data, size_t len);
/* The body is complete: passes it on for who (a console session; NULL
 * refuses the request) from a thread of its own. */
void clc_s3proxy_end(struct clc_s3proxy *p, const struct oc_principal *who);
/* An S3 error document as the answer. */
void clc_s3proxy_refuse(struct oc_http_req *h, int status, const char *code, const char *msg);

#endif
