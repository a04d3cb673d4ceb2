/*
 * harness.h - the unit-test harness.  A test is a function registered with
 * OC_TEST(name); CHECK* macros record failures and keep going.  The runner
 * prints one line per failed check and ends with "N passed, N failed".
 * Run one test with `unit-tests NAME-SUBSTRING`.
 */
#ifndef OC_TEST_HARNESS_H
#define OC_TEST_HARNESS_H

#include <string.h>
#include <stdio.h>

typedef void (*oc_test_fn)(void);
void oc_test_register(const char *name, oc_test_fn fn);
void oc_test_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A scratch directory unique to this run, created on first use. */
const char *oc_test_tmpdir(void);

#define OC_TEST(name)                                                     \
    static void test_##name(void);                                        \
    __attribute__((constructor)) static void register_##name(void)        \
    {                                                                     \
        oc_test_register(#name, test_##name);                             \
    }                                                                     \
    static void test_##name(void)

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond))                                                      \
            oc_test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond);         \
    } while (0)

#define CHECK_INT(a, b)                                                   \
    do {                                                                  \
        long long va_ = (long long)(a), vb_ = (long long)(b);             \
        if (va_ != vb_)                                                   \
            oc_test_fail(__FILE__, __LINE__, "%s == %lld, expected %lld", \
                         #a, va_, vb_);                                   \
    } while (0)

#define CHECK_STR(a, b)                                                   \
    do {                                                                  \
        const char *sa_ = (a), *sb_ = (b);                                \
        if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0)                        \
            oc_test_fail(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", \
                         #a, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
    } while (0)

#endif
