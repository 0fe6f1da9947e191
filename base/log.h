/* Leveled key=value logging that never blocks a core.
 * A thread that attaches a buffer (every engine core does) appends whole lines to its own
 * single-producer byte ring; a flusher thread drains the rings to the log fd. When a ring is full
 * the line is dropped and counted, never waited for. Threads without a buffer (start-up, tools)
 * write straight to the fd. The level is checked before any formatting.
 * This is the one process-wide piece of mutable state in base/: a log is a property of the
 * process, as nginx's cycle log is, and threading a pointer into every call site buys nothing. */
#ifndef SC_LOG_H
#define SC_LOG_H

#include <stdint.h>

#include "base/sc_assert.h"

typedef enum { SC_LOG_ERROR = 0, SC_LOG_WARN, SC_LOG_INFO, SC_LOG_DEBUG } sc_log_level_t;

/* Parse "error", "warn", "info", "debug". -1 when unknown. */
int sc_log_level_parse(const char *s);
const char *sc_log_level_name(sc_log_level_t l);

/* Set the threshold and the output fd (default: info, stderr). Call before starting threads. */
void sc_log_configure(sc_log_level_t level, int fd);
int sc_log_enabled(sc_log_level_t level);

/* Start the flusher thread (drains attached buffers every few ms). 0 or -errno. */
SC_MUST_USE int sc_log_start(void);
/* Drain everything and stop the flusher. Attached threads must have stopped logging. */
void sc_log_stop(void);

/* Give the calling thread a ring of ring_bytes (power of two) and a core id for its lines.
 * 0 or -ENOMEM / -ENOSPC (too many threads). The buffer lives until sc_log_stop. */
SC_MUST_USE int sc_log_attach_thread(int core_id, uint32_t ring_bytes);

/* Lines dropped because a ring was full, over all threads. */
uint64_t sc_log_dropped(void);

void sc_log_write(sc_log_level_t level, const char *fmt, ...) SC_PRINTF(2, 3);

/* fmt holds the key=value pairs after ts, level and core, e.g. "event=listen port=%d". */
#define SC_LOG(level, ...)                                                                         \
    do {                                                                                           \
        if (sc_log_enabled(level)) sc_log_write((level), __VA_ARGS__);                             \
    } while (0)
#define SC_LOG_ERROR(...) SC_LOG(SC_LOG_ERROR, __VA_ARGS__)
#define SC_LOG_WARN(...)  SC_LOG(SC_LOG_WARN, __VA_ARGS__)
#define SC_LOG_INFO(...)  SC_LOG(SC_LOG_INFO, __VA_ARGS__)
#define SC_LOG_DEBUG(...) SC_LOG(SC_LOG_DEBUG, __VA_ARGS__)

#endif
