/* Monotonic and wall clocks. Monotonic time orders deadlines and measures durations; wall time
 * stamps logs and profiles. Both in nanoseconds. Never used by codec/ (which is clock-free). */
#ifndef SC_CLOCK_H
#define SC_CLOCK_H

#include <stdint.h>
#include <time.h>

#define SC_NS_PER_MS  1000000LL
#define SC_NS_PER_SEC 1000000000LL

static inline int64_t sc_clock_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SC_NS_PER_SEC + ts.tv_nsec;
}

static inline int64_t sc_clock_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * SC_NS_PER_SEC + ts.tv_nsec;
}

static inline struct timespec sc_clock_ts(int64_t ns)
{
    struct timespec ts = {.tv_sec = ns / SC_NS_PER_SEC, .tv_nsec = ns % SC_NS_PER_SEC};
    return ts;
}

#endif
