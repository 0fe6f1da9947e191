/* The embedded default's supervised child: `scorch` with -target=all runs one single-replica
 * `scorch-control` next to the engine (ARCHITECTURE.md §2), restarts it when it dies (with a
 * back-off), and stops it on shutdown (SIGTERM, then SIGKILL after a grace period). Runs on the
 * main thread, which also waits for signals: SIGCHLD is part of the set it waits on. */
#ifndef SC_SUPERVISE_H
#define SC_SUPERVISE_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"

#define SC_CHILD_ARGS_MAX 16

typedef struct sc_child {
    char path[512];
    char *argv[SC_CHILD_ARGS_MAX + 2];
    char args[SC_CHILD_ARGS_MAX][600];
    int argc;
    pid_t pid;        /* 0 when not running */
    int64_t start_ns; /* monotonic time of the last start */
    int64_t backoff_ns;
    int64_t restart_at_ns; /* 0: no restart pending */
    uint32_t restarts;
} sc_child_t;

/* Find the scorch-control binary: explicit (non-empty) path, else next to this executable
 * (`<dir>/scorch-control`, `<dir>/../control/scorch-control`), else on PATH. 0 or -SC_E_CONFIG. */
SC_MUST_USE int sc_child_find(const char *explicit_path, char *out, size_t cap, sc_err_t *err);

/* Prepare c for path with the given arguments (copied). */
void sc_child_init(sc_child_t *c, const char *path, const char *const *args, int n);
/* Start it (fork + exec; the child gets the default signal mask). 0 or -errno. */
SC_MUST_USE int sc_child_start(sc_child_t *c, sc_err_t *err);
/* After SIGCHLD: reap it; when it died, schedule a restart (back-off doubling from 0.5 s to 30 s,
 * reset after 60 s of uptime). Returns 1 when it died, 0 otherwise. */
int sc_child_reap(sc_child_t *c, int64_t now_ns);
/* Restart when one is due; returns the next deadline (monotonic ns) or INT64_MAX. */
int64_t sc_child_tick(sc_child_t *c, int64_t now_ns);
/* Stop: SIGTERM, wait up to grace_ms, then SIGKILL. */
void sc_child_stop(sc_child_t *c, int64_t grace_ms);

#endif
