/*
 * api.h - the CLC service object and its HTTP front door.
 *
 * clc_new() opens clc.db (migrations, a connection pool) and the identity
 * store under $OVERCAST_HOME/clc/; clc_http_handler() gives the handler
 * that serves the EC2 Query API ("/", "/services/compute"), IAM
 * ("/services/Euare") and the internal Identity API ("/services/Identity").
 * main.c owns the HTTP server and signals.
 */
#ifndef CLC_API_H
#define CLC_API_H

#include "common/config.h"
#include "common/db.h"
#include "common/err.h"
#include "common/http.h"

struct clc;

/* conf is borrowed and must outlive the service. */
int clc_new(const char *home, const struct oc_config *conf, struct clc **out,
            struct oc_err *err) OC_WUR;
void clc_free(struct clc *c);
void clc_http_handler(struct clc *c, struct oc_http_handler *out);
/* The connection pool of clc.db (bootstrap and tests use it directly). */
struct oc_dbpool *clc_pool(struct clc *c);
struct clc_identity *clc_identity(struct clc *c);
/* $OVERCAST_HOME of this CLC. */
const char *clc_home_dir(struct clc *c);
/* The console's sessions (clc/console.h). */
struct clc_console *clc_console_of(struct clc *c);
const struct oc_config *clc_config(struct clc *c);
/* Counters of the Describe answer cache (all zero when it is off). */
struct clc_rcache_stats;
void clc_cache_stats(struct clc *c, struct clc_rcache_stats *out);

/*
 * Runs one Query request without HTTP: raw is the urlencoded parameter
 * string (Action=...&...), who the already-authenticated caller.  The
 * answer (success or error document) is appended to out with its HTTP
 * status.  Fuzzers and unit tests drive every handler through this.
 */
struct oc_principal;
int clc_api_invoke(struct clc *c, int api, const struct oc_principal *who, const char *raw,
                   size_t len, struct oc_buf *out, int *status) OC_WUR;

/* Largest form body accepted (UserData of 16 KiB base64 and more fit). */
#define CLC_MAX_BODY (1024 * 1024)

#endif
