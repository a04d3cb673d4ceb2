/*
 * arena.h - a memory pool owned by one request (nginx's ngx_pool_t idea):
 * everything allocated while serving a request dies together when the HTTP
 * layer frees the arena after MHD completes the request.
 * Allocation failure aborts the process (out of memory is not recoverable
 * for a server that must stay consistent); sizes are checked for overflow.
 */
#ifndef OC_ARENA_H
#define OC_ARENA_H

#include <stddef.h>
#include <stdarg.h>
#include "common/err.h"

struct oc_arena;

struct oc_arena *oc_arena_new(void);
void oc_arena_free(struct oc_arena *a);
void *oc_arena_alloc(struct oc_arena *a, size_t n);   /* zeroed */
void *oc_arena_calloc(struct oc_arena *a, size_t n, size_t size);
char *oc_arena_strdup(struct oc_arena *a, const char *s);
char *oc_arena_strndup(struct oc_arena *a, const char *s, size_t n);
char *oc_arena_printf(struct oc_arena *a, const char *fmt, ...) OC_PRINTF(2, 3);
/* Registers fn(arg) to run when the arena is freed (closing fds, etc.). */
void oc_arena_defer(struct oc_arena *a, void (*fn)(void *), void *arg);

#endif
