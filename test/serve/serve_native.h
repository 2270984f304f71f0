/* test/serve/serve_native.h: the test suites of the server's native driver (serve_main.c). */
#ifndef SERVE_NATIVE_H
#define SERVE_NATIVE_H

#include <stdint.h>

/* The C unit tests (serve_tests.c): one line per test, returns the number of failures. */
int serve_run_unit_tests(void);

/* The fuzzer (serve_fuzz.c): `cases` random and mutated conversations from `seed`; prints a
 * summary line, returns the number of failed checks. */
int serve_run_fuzz(uint64_t cases, uint64_t seed);

#endif
