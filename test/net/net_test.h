/*
 * test/net/net_test.h: the small test framework of the network stack's native tests.
 *
 * A group is a table of named test functions; net_tests_run_group runs each, printing
 * "ok N group/name" or "not ok N group/name: why", then "summary passed=P failed=F". A test
 * fails through TEST_FAIL / TEST_ASSERT, which longjmp back to the runner (so one failing test
 * does not stop the others; what it allocated is leaked, which only matters when failing).
 */
#ifndef TEST_NET_TEST_H
#define TEST_NET_TEST_H

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>

#include "base/base.h"

struct test_case {
    const char *name;
    void (*fn)(void);
};

void test_fail(const char *fmt, ...) NORETURN PRINTF_LIKE(1, 2);
#define TEST_ASSERT(cond, ...)              \
    do {                                    \
        if (!(cond)) test_fail(__VA_ARGS__); \
    } while (0)

/* Runs the tests of `group` whose name contains `filter` (NULL: all); returns the failures. */
int net_tests_run_group(const char *group, const struct test_case *cases, size_t count, const char *filter);

/* A test's progress line on stdout (prefixed "# "). */
void test_note(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* An environment variable as a number, or `fallback`. */
uint64_t test_env_number(const char *name, uint64_t fallback);

/* ---- the native environment (net_env_native.c) ---- */
void net_native_seed(uint64_t seed);
void net_native_fail_allocations(uint32_t one_in); /* 0: never */
uint64_t net_native_bytes_in_use(void);
uint64_t net_native_blocks_in_use(void);

/* ---- deterministic randomness for the tests ---- */
static inline uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform in [0, n) (n > 0). */
static inline uint64_t rng_below(uint64_t *state, uint64_t n) { return splitmix64(state) % n; }
/* True with probability per_million / 10^6. */
static inline bool rng_chance(uint64_t *state, uint32_t per_million) { return rng_below(state, 1000000) < per_million; }

/* The test groups. */
extern const struct test_case wire_tests[];
extern const size_t wire_test_count;
extern const struct test_case script_tests[];
extern const size_t script_test_count;
extern const struct test_case link_tests[];
extern const size_t link_test_count;
extern const struct test_case fuzz_tests[];
extern const size_t fuzz_test_count;
extern const struct test_case stack_tests[]; /* ARP, IPv4, reassembly, ICMP, UDP */
extern const size_t stack_test_count;
extern const struct test_case dhcp_tests[];
extern const size_t dhcp_test_count;
extern const struct test_case frame_fuzz_tests[];
extern const size_t frame_fuzz_test_count;
extern const struct test_case ipv6_tests[]; /* IPv6, ICMPv6, NDP, SLAAC (ipv6_tests.c) */
extern const size_t ipv6_test_count;
extern const struct test_case addr_tests[]; /* net/ip_addr.h */
extern const size_t addr_test_count;

#endif
