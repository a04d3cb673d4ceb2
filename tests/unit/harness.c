#include "tests/unit/harness.h"

#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 1024

static struct {
    const char *name;
    oc_test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int cur_failed;

void oc_test_register(const char *name, oc_test_fn fn)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "harness: too many tests\n");
        abort();
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
}

void oc_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stdout, "  FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    cur_failed++;
}

const char *oc_test_tmpdir(void)
{
    static char dir[64];

    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/oc-unit-XXXXXX");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;

    for (int i = 0; i < ntests; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1]))
            continue;
        cur_failed = 0;
        tests[i].fn();
        if (cur_failed) {
            printf("FAIL %s\n", tests[i].name);
            failed++;
        } else {
            printf("ok   %s\n", tests[i].name);
            passed++;
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed\n", passed, failed);
    /* LeakSanitizer may end the process from an exit handler before stdio
     * is flushed: flush now so the closing line is never lost. */
    fflush(stdout);
    return failed ? 1 : 0;
}
