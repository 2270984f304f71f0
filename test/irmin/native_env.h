/* test/irmin/native_env.h: what the native environment adds for the driver and the unit tests. */
#ifndef NATIVE_ENV_H
#define NATIVE_ENV_H

#include <stdint.h>

/* Bytes currently allocated through irmin_env_alloc. */
uint64_t native_env_bytes_in_use(void);

/* The C unit tests (native_tests.c): prints one line per test, returns the number of failures. */
int native_run_unit_tests(void);

#endif
