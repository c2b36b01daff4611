// A minimal test harness: CHECK records failures and keeps going; main returns the failure count.
#pragma once

#include <cmath>
#include <cstdio>

namespace dep_test {
inline int & failures() {
    static int n = 0;
    return n;
}
}  // namespace dep_test

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++dep_test::failures();                                                  \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (!(cond)) {                                                               \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            std::fprintf(stderr, __VA_ARGS__);                                       \
            std::fputc('\n', stderr);                                                \
            ++dep_test::failures();                                                  \
        }                                                                            \
    } while (0)

#define TEST_MAIN_RETURN()                                                           \
    do {                                                                             \
        if (dep_test::failures()) std::fprintf(stderr, "%d check(s) failed\n", dep_test::failures()); \
        else std::printf("all checks passed\n");                                     \
        return dep_test::failures() ? 1 : 0;                                         \
    } while (0)
