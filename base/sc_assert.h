/* Always-on assertions and the compiler attributes every module uses.
 * Owns: SC_ASSERT (compiled in every build, release included), SC_DASSERT (debug builds only),
 * SC_ALWAYS/SC_NEVER (defensive branches), SC_MUST_USE. Must never allocate or depend on anything
 * but libc: a failed assertion may be reporting a broken heap. */
#ifndef SC_ASSERT_H
#define SC_ASSERT_H

#include <stdbool.h>

#define SC_MUST_USE     __attribute__((warn_unused_result))
#define SC_NORETURN     __attribute__((noreturn))
#define SC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define SC_LIKELY(x)    __builtin_expect(!!(x), 1)
#define SC_UNLIKELY(x)  __builtin_expect(!!(x), 0)
#define SC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Context printed with a failed assertion: what the current thread had in hand (core id and a
 * short free-form note such as the tenant or segment). Set by the owner of the thread. */
void sc_assert_set_context(int core_id, const char *note);

/* Print the failed expression with file, line and the thread's context, then abort(). */
SC_NORETURN void sc_assert_fail(const char *expr, const char *file, int line, const char *func);

#define SC_ASSERT(x)                                                                               \
    do {                                                                                           \
        if (SC_UNLIKELY(!(x))) sc_assert_fail(#x, __FILE__, __LINE__, __func__);                   \
    } while (0)

/* A branch that cannot be taken; fails like an assertion, with msg as the expression. */
#define SC_UNREACHABLE(msg) sc_assert_fail((msg), __FILE__, __LINE__, __func__)

#ifdef SC_DEBUG
#define SC_DASSERT(x) SC_ASSERT(x)
/* Defensive branch: in debug builds the condition must hold; in release it is just evaluated. */
#define SC_ALWAYS(x) ((x) ? true : (sc_assert_fail(#x, __FILE__, __LINE__, __func__), false))
#define SC_NEVER(x)                                                                                \
    ((x) ? (sc_assert_fail("!(" #x ")", __FILE__, __LINE__, __func__), true) : false)
#else
#define SC_DASSERT(x)                                                                              \
    do {                                                                                           \
        (void)sizeof(x);                                                                           \
    } while (0)
#define SC_ALWAYS(x) (x)
#define SC_NEVER(x)  (x)
#endif

#endif
