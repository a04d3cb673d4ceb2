/*
 * arena.c - bump allocator in growing blocks.  Large allocations get their
 * own block so a single big string does not waste a whole standard block.
 */
#include "common/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16

struct arena_block {
    struct arena_block *next;
    size_t used, size;
    _Alignas(ARENA_ALIGN) unsigned char mem[];
};

struct arena_defer {
    struct arena_defer *next;
    void (*fn)(void *);
    void *arg;
};

struct oc_arena {
    struct arena_block *blocks;
    struct arena_defer *defers;
};

static void arena_oom(void)
{
    fprintf(stderr, "overcast: out of memory\n");
    abort();
}

struct oc_arena *oc_arena_new(void)
{
    struct oc_arena *a = calloc(1, sizeof(*a));

    if (!a)
        arena_oom();
    return a;
}

void oc_arena_free(struct oc_arena *a)
{
    if (!a)
        return;
    while (a->defers) {
        struct arena_defer *d = a->defers;
        a->defers = d->next;
        d->fn(d->arg);
    }
    while (a->blocks) {
        struct arena_block *b = a->blocks;
        a->blocks = b->next;
        free(b);
    }
    free(a);
}

void *oc_arena_alloc(struct oc_arena *a, size_t n)
{
    struct arena_block *b = a->blocks;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    void *p;

    if (n > SIZE_MAX / 2)
        arena_oom();
    if (need == 0)
        need = ARENA_ALIGN;
    if (!b || b->size - b->used < need) {
        size_t size = need > ARENA_BLOCK / 4 ? need : ARENA_BLOCK;
        struct arena_block *nb = malloc(sizeof(*nb) + size);

        if (!nb)
            arena_oom();
        nb->size = size;
        nb->used = 0;
        if (size == need && b) {
            /* Big block: keep the current block first so it is still used. */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->blocks = nb;
        }
        b = nb;
    }
    p = b->mem + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

void *oc_arena_calloc(struct oc_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        arena_oom();
    return oc_arena_alloc(a, n * size);
}

char *oc_arena_strndup(struct oc_arena *a, const char *s, size_t n)
{
    char *p = oc_arena_alloc(a, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *oc_arena_strdup(struct oc_arena *a, const char *s)
{
    return s ? oc_arena_strndup(a, s, strlen(s)) : NULL;
}

char *oc_arena_printf(struct oc_arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return oc_arena_strdup(a, "");
    p = oc_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void oc_arena_defer(struct oc_arena *a, void (*fn)(void *), void *arg)
{
    struct arena_defer *d = oc_arena_alloc(a, sizeof(*d));

    d->fn = fn;
    d->arg = arg;
    d->next = a->defers;
    a->defers = d;
}
