/* ULID generation and parsing. The generator keeps one 80-bit random value per thread, seeded
 * once from getrandom() and incremented per ULID; no locks, no global state shared by threads. */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/hash.h"
#include "base/ulid.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

typedef struct {
    int seeded;
    uint64_t hi; /* upper 16 of the 80 random bits */
    uint64_t lo; /* lower 64 */
} ulid_state_t;

static _Thread_local ulid_state_t tls_state;

/* Seed from getrandom(); if the kernel refuses (no entropy syscall in a sandbox), fall back to
 * hashing what differs between threads and processes, so ULIDs stay unique in practice. */
static void seed(ulid_state_t *s)
{
    uint8_t b[10];
    size_t got = 0;
    while (got < sizeof(b)) {
        ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    if (got < sizeof(b)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t mix[4] = {(uint64_t)ts.tv_nsec, (uint64_t)ts.tv_sec, (uint64_t)getpid(),
                           (uint64_t)(uintptr_t)s};
        uint64_t h1 = sc_hash64(mix, sizeof(mix));
        uint64_t h2 = sc_hash64_seed(mix, sizeof(mix), h1);
        memcpy(b, &h1, 8);
        memcpy(b + 8, &h2, 2);
    }
    s->hi = (uint64_t)b[0] << 8 | b[1];
    s->lo = 0;
    for (int i = 2; i < 10; i++)
        s->lo = s->lo << 8 | b[i];
    s->seeded = 1;
}

void sc_ulid_new(int64_t unix_ms, char out[SC_ULID_LEN + 1])
{
    SC_ASSERT(unix_ms >= 0);
    SC_ASSERT(unix_ms < (1LL << 48));
    ulid_state_t *s = &tls_state;
    if (!s->seeded) seed(s);
    /* 80-bit increment: carry from the low 64 bits into the high 16. */
    if (++s->lo == 0) s->hi = (s->hi + 1) & 0xffff;
    uint64_t t = (uint64_t)unix_ms;
    /* Time: 10 characters of 5 bits = 50 bits, the top two always 0. */
    for (int i = 9; i >= 0; i--) {
        out[i] = alphabet[t & 31];
        t >>= 5;
    }
    /* Randomness: 16 characters = 80 bits, most significant first. */
    uint64_t hi = s->hi, lo = s->lo;
    for (int i = 25; i >= 10; i--) {
        out[i] = alphabet[lo & 31];
        lo = lo >> 5 | (hi & 31) << 59;
        hi >>= 5;
    }
    out[SC_ULID_LEN] = '\0';
}

/* Value of a Crockford base32 character (either case), or -1. */
static int digit(char c)
{
    if (c >= 'a' && c <= 'z') c = (char)(c - 'a' + 'A');
    const char *p = c ? strchr(alphabet, c) : NULL;
    return p ? (int)(p - alphabet) : -1;
}

int sc_ulid_time_ms(const char *ulid, int64_t *ms)
{
    if (!ulid || strnlen(ulid, SC_ULID_LEN + 1) != SC_ULID_LEN) return -SC_E_INVALID;
    for (int i = 0; i < SC_ULID_LEN; i++) {
        if (digit(ulid[i]) < 0) return -SC_E_INVALID;
    }
    if (digit(ulid[0]) > 7) return -SC_E_INVALID;
    uint64_t t = 0;
    for (int i = 0; i < 10; i++)
        t = t << 5 | (uint64_t)digit(ulid[i]);
    if (t >= (1ULL << 48)) return -SC_E_INVALID;
    *ms = (int64_t)t;
    return 0;
}
