/* ULIDs (github.com/ulid/spec): a 48-bit Unix time in milliseconds followed by 80 random bits,
 * written as 26 characters of Crockford base32 (time first, so ULIDs sort by time as strings).
 * Segment and block objects are named by one. Owns the text form and the per-thread generator
 * state; never allocates, never blocks (the random seed is read once per thread). */
#ifndef SC_ULID_H
#define SC_ULID_H

#include <stdint.h>

#include "base/sc_assert.h"

#define SC_ULID_LEN 26

/* Write a new ULID for time unix_ms (0 <= unix_ms < 2^48) into out, NUL-terminated. Unique: the
 * 80-bit random part comes from a per-thread seed (getrandom() on the thread's first call)
 * plus a per-thread counter, so one thread never repeats a ULID and two threads collide only if
 * their seeds do. ULIDs of one thread within one millisecond sort in creation order. */
void sc_ulid_new(int64_t unix_ms, char out[SC_ULID_LEN + 1]);

/* The time part of a ULID string (exactly 26 Crockford base32 characters, either case, then NUL):
 * 0 with *ms set, or -SC_E_INVALID (wrong length, a character outside the alphabet, or a first
 * character above '7', which would overflow 128 bits). */
SC_MUST_USE int sc_ulid_time_ms(const char *ulid, int64_t *ms);

#endif
