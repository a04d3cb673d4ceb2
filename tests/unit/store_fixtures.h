/*
 * store_fixtures.h - helpers shared by the store's unit tests.
 */
#ifndef OC_TEST_STORE_FIXTURES_H
#define OC_TEST_STORE_FIXTURES_H

#include <pthread.h>
#include <stddef.h>

#include "walrus/store.h"

#define OWNER "111122223333"

struct async_state {
    pthread_mutex_t m;
    pthread_cond_t c;
    int done, rc;
};

char *store_dir(const char *name);
struct wal_store *open_store(const char *name);
int make_bucket(struct wal_store *s, const char *name);
int put_bytes(struct wal_store *s, const char *bucket, const char *key, const void *data, size_t len, struct wal_meta *meta_out);
int get_bytes(struct wal_store *s, const char *bucket, const char *key, char **out, size_t *len);
int count_files(const char *dir);
/* The integer a query on dir/walrus.db answers, from a read-only
 * connection of its own; -1 on error. */
long long store_db_int(const char *dir, const char *sql);
/* Rows in the blobs table (inline objects' bytes); -1 on error. */
int count_blobs(const char *dir);
void fill_pattern(char *buf, size_t len, unsigned seed);
int collect_bucket(void *arg, const struct wal_bucket *b);
void async_cb(void *arg, int rc, const struct oc_err *err);
int put_part(struct wal_store *s, const char *upload, int num, const char *data, size_t len, char etag[WAL_ETAG_LEN]);
void md5_etag(const void *d, size_t n, char out[WAL_ETAG_LEN]);

#endif
