/* <assert.h> for the libos: a failed assertion panics (exit status 253) naming the expression. */
#ifndef LIBOS_ASSERT_H
#define LIBOS_ASSERT_H

__attribute__((noreturn)) void __assert_fail(const char *expr, const char *file, unsigned line, const char *func);

#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __assert_fail(#e, __FILE__, __LINE__, __func__))
#endif

#define static_assert _Static_assert

#endif
