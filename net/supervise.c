/* Supervision of the embedded scorch-control child (see supervise.h). */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "net/supervise.h"

#define BACKOFF_MIN_NS (500 * SC_NS_PER_MS)
#define BACKOFF_MAX_NS (30 * SC_NS_PER_SEC)
#define HEALTHY_NS     (60 * SC_NS_PER_SEC)

static int executable(const char *p)
{
    return access(p, X_OK) == 0;
}

int sc_child_find(const char *explicit_path, char *out, size_t cap, sc_err_t *err)
{
    if (explicit_path && *explicit_path) {
        if (!executable(explicit_path)) {
            return sc_errf(err, -SC_E_CONFIG, "-control.binary \"%s\" is not an executable file",
                           explicit_path);
        }
        snprintf(out, cap, "%s", explicit_path);
        return 0;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *dir = dirname(self);
        const char *rel[] = {"scorch-control", "../control/scorch-control"};
        for (size_t i = 0; i < SC_ARRAY_LEN(rel); i++) {
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof(cand), "%s/%s", dir, rel[i]);
            if (executable(cand)) {
                snprintf(out, cap, "%s", cand);
                return 0;
            }
        }
    }
    const char *path = getenv("PATH");
    if (path) {
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", path);
        char *save = NULL;
        for (char *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
            char cand[PATH_MAX];
            snprintf(cand, sizeof(cand), "%s/scorch-control", d);
            if (executable(cand)) {
                snprintf(out, cap, "%s", cand);
                return 0;
            }
        }
    }
    return sc_errf(err, -SC_E_CONFIG,
                   "scorch-control not found next to scorch nor on PATH: build it (cmake --build "
                   "<dir> --target scorch-control), pass -control.binary, or run -target=engine");
}

void sc_child_init(sc_child_t *c, const char *path, const char *const *args, int n)
{
    SC_ASSERT(n >= 0 && n <= SC_CHILD_ARGS_MAX);
    memset(c, 0, sizeof(*c));
    snprintf(c->path, sizeof(c->path), "%s", path);
    c->argv[0] = c->path;
    for (int i = 0; i < n; i++) {
        snprintf(c->args[i], sizeof(c->args[i]), "%s", args[i]);
        c->argv[i + 1] = c->args[i];
    }
    c->argv[n + 1] = NULL;
    c->argc = n + 1;
    c->backoff_ns = BACKOFF_MIN_NS;
}

int sc_child_start(sc_child_t *c, sc_err_t *err)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return sc_errf(err, -errno, "fork for %s: %s", c->path, strerror(errno));
    if (pid == 0) {
        /* The child must not outlive scorch when scorch dies without stopping it (a crash, kill
         * -9): the kernel sends SIGTERM (a graceful control shutdown) when the forking thread,
         * scorch's main thread, exits. Checked once more in case it already has. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent) _exit(1);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        signal(SIGPIPE, SIG_DFL);
        execv(c->path, c->argv);
        fprintf(stderr, "scorch: exec %s: %s\n", c->path, strerror(errno));
        _exit(127);
    }
    c->pid = pid;
    c->start_ns = sc_clock_mono_ns();
    c->restart_at_ns = 0;
    SC_LOG_INFO("event=control_started pid=%d path=\"%s\"", (int)pid, c->path);
    return 0;
}

int sc_child_reap(sc_child_t *c, int64_t now_ns)
{
    if (!c->pid) return 0;
    int status = 0;
    pid_t r = waitpid(c->pid, &status, WNOHANG);
    if (r != c->pid) return 0;
    if (now_ns - c->start_ns > HEALTHY_NS) c->backoff_ns = BACKOFF_MIN_NS;
    SC_LOG_WARN("event=control_exited pid=%d status=%d signal=%d restart_in_ms=%lld", (int)c->pid,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                WIFSIGNALED(status) ? WTERMSIG(status) : 0,
                (long long)(c->backoff_ns / SC_NS_PER_MS));
    c->pid = 0;
    c->restart_at_ns = now_ns + c->backoff_ns;
    c->backoff_ns = c->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : c->backoff_ns * 2;
    return 1;
}

int64_t sc_child_tick(sc_child_t *c, int64_t now_ns)
{
    if (c->pid || !c->restart_at_ns) return INT64_MAX;
    if (now_ns < c->restart_at_ns) return c->restart_at_ns;
    sc_err_t err;
    sc_err_clear(&err);
    c->restarts++;
    if (sc_child_start(c, &err) < 0) {
        SC_LOG_ERROR("event=control_restart_failed err=\"%s\"", err.msg);
        c->restart_at_ns = now_ns + c->backoff_ns;
        return c->restart_at_ns;
    }
    return INT64_MAX;
}

void sc_child_stop(sc_child_t *c, int64_t grace_ms)
{
    c->restart_at_ns = 0;
    if (!c->pid) return;
    kill(c->pid, SIGTERM);
    int64_t end = sc_clock_mono_ns() + grace_ms * SC_NS_PER_MS;
    struct timespec nap = {.tv_sec = 0, .tv_nsec = 10 * 1000 * 1000};
    int status = 0;
    while (waitpid(c->pid, &status, WNOHANG) == 0) {
        if (sc_clock_mono_ns() > end) {
            SC_LOG_WARN("event=control_killed pid=%d grace_ms=%lld", (int)c->pid,
                        (long long)grace_ms);
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            break;
        }
        nanosleep(&nap, NULL);
    }
    SC_LOG_INFO("event=control_stopped pid=%d", (int)c->pid);
    c->pid = 0;
}
