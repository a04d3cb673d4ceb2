/*
 * console.h - the web console's side of the CLC (docs/console.md).
 *
 * The console is static HTML, CSS and JavaScript served from
 * CLC_CONSOLE_DIR at /console.  It calls the same Query APIs as every
 * other client, authenticated by a session instead of a signature:
 *
 *   POST /console/api/login    Account + UserName + Password (an IAM login
 *                              profile), or AccessKeyId + SecretAccessKey;
 *                              sets the HttpOnly cookie oc_session and
 *                              answers the session's CSRF token
 *   GET  /console/api/session  the same answer for a live session
 *   POST /console/api/logout   ends the session
 *
 * A request to any Query API path (or to the S3 proxy at
 * /services/objectstorage, clc/console_s3.c) that carries the cookie and
 * no signature is authenticated by the session, and only if its
 * X-Overcast-Csrf header holds the session's token.  Sessions live in the
 * CLC's memory (a restart logs everyone out); each request checks again
 * that the user, and its login profile or access key, still exist.
 */
#ifndef CLC_CONSOLE_H
#define CLC_CONSOLE_H

#include "common/auth.h"
#include "common/config.h"
#include "common/creds.h"
#include "common/db.h"
#include "common/err.h"
#include "common/http.h"
#include "common/query.h"

struct clc;
struct clc_console;

int clc_console_new(const struct oc_config *conf, struct clc_console **out,
                    struct oc_err *err) OC_WUR;
void clc_console_free(struct clc_console *k);

/* Whether path is /console or below it. */
int clc_console_path(const char *path);
/* Answers a request below /console (static files and /console/api/...);
 * body is the collected form body of a POST. */
void clc_console_serve(struct clc *c, struct oc_http_req *h, const char *body, size_t len);

/*
 * Session authentication of an API request (params already parsed):
 *   0   it carries no session cookie, or a signature: verify that instead;
 *   1   *who is the session's principal (secret empty);
 *  -1   refused (no such session, wrong or missing CSRF token, user
 *       gone): ae says why, as oc_auth_verify would.
 */
int clc_console_auth(struct clc *c, const struct oc_http_req *h, const struct oc_query *params,
                     struct oc_principal *who, struct oc_auth_error *ae);

/* The key a session's requests to Walrus are signed with: the key it
 * logged in with, else the user's first active access key (secret
 * included).  OC_ENOTFOUND when the user has none. */
int clc_console_signer(struct clc *c, const struct oc_principal *who,
                       struct oc_principal *key, struct oc_err *err) OC_WUR;

/* The parsers of this file, exported for the fuzz target and tests:
 * the oc_session token (64 lowercase hex digits) of a Cookie header value
 * (may be NULL) into out, 1 when there is one; whether a path below
 * /console/ may name a file (segments of letters, digits, '-', '_', '.',
 * none empty or starting with '.'). */
int clc_console_cookie(const char *header, char out[65]);
int clc_console_rel_ok(const char *rel);

#endif
