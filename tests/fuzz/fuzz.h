/* What the libFuzzer harnesses in tests/fuzz share: the entry point libFuzzer
 * calls, and the oracle's way out, which says what was expected before
 * abort() so that a crash file comes with its reason. Header only: each
 * harness is one file linked against libwarpd.a. */
#ifndef WARPD_FUZZ_H
#define WARPD_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An oracle failure: the message, where, then abort() (libFuzzer saves the
 * input as a crash file). */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: oracle: ", __FILE__, __LINE__);                                \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A copy of data[0..n) in a block of exactly n bytes, so that AddressSanitizer
 * catches a read one byte past the end (libFuzzer's own buffer may be larger
 * than the part handed to the code under test). */
static inline char *
fuzz_dup(const void *data, size_t n)
{
    char *p = malloc(n > 0 ? n : 1);

    if (p == NULL)
        abort();
    if (n > 0)
        memcpy(p, data, n);
    return p;
}

#endif
