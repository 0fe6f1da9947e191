/* scorch: the dataplane engine's entry point. Loads the configuration, starts the engine cores
 * and waits for SIGINT/SIGTERM, then drains in-flight requests and exits 0. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "net/app.h"
#include "net/inspect.h"
#include "net/supervise.h"

/* The embedded default's single-replica scorch-control, with the engine's object store (whose
 * dlq/ records it replays). */
static int start_control(const sc_config_t *cfg, sc_child_t *control, sc_err_t *err)
{
    char path[512];
    int rc = sc_child_find(cfg->control_binary, path, sizeof(path), err);
    if (rc < 0) return rc;
    char a_dir[600], a_addr[200], a_api[200], a_store[600], a_log[64];
    snprintf(a_dir, sizeof(a_dir), "-data-dir=%s", cfg->control_dir);
    snprintf(a_addr, sizeof(a_addr), "-address=%s", cfg->control_raft_addr);
    snprintf(a_api, sizeof(a_api), "-api-address=%s", cfg->control_api_addr);
    snprintf(a_store, sizeof(a_store), "-storage.filesystem.dir=%s", cfg->storage_dir);
    snprintf(a_log, sizeof(a_log), "-log.level=%s", cfg->log_level);
    const char *args[] = {a_dir, a_addr, a_api, a_log, a_store};
    sc_child_init(control, path, args, (int)SC_ARRAY_LEN(args));
    return sc_child_start(control, err);
}
#include "net/sc_build_info.h"

int main(int argc, char **argv, char **envp)
{
    if (argc > 1 && strcmp(argv[1], "inspect") == 0) return sc_inspect_main(argc - 1, argv + 1);
    static sc_app_t app;
    sc_err_t err;
    sc_err_clear(&err);
    sc_opts_result_t res;
    memset(&res, 0, sizeof(res));
    if (sc_config_load(&app.cfg, argc, argv, envp, &res, &err) < 0) {
        fprintf(stderr, "scorch: %s\n", err.msg);
        return 2;
    }
    if (res.help) {
        sc_opts_print_help(sc_config_opts, sc_config_opts_count, stdout, "scorch");
        return 0;
    }
    if (res.version) {
        printf("scorch, version %s (revision %s, branch %s, built %s)\n", SC_VERSION, SC_REVISION,
               SC_BRANCH, SC_BUILD_DATE);
        return 0;
    }
    if (res.markdown) {
        sc_opts_print_markdown(sc_config_opts, sc_config_opts_count, stdout,
                               "scorch configuration reference");
        return 0;
    }
    sc_log_configure((sc_log_level_t)sc_log_level_parse(app.cfg.log_level), STDERR_FILENO);

    /* Signals are taken synchronously by this thread only; cores inherit the blocked mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    int embedded = strcmp(app.cfg.target, "all") == 0;
    if (embedded) sigaddset(&sigs, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = sc_log_start();
    if (rc < 0) {
        fprintf(stderr, "scorch: cannot start the log flusher: %s\n", strerror(-rc));
        return 1;
    }
    if (sc_app_init(&app, &err) < 0 || sc_app_start(&app, &err) < 0) {
        SC_LOG_ERROR("event=start_failed err=\"%s\"", err.msg);
        sc_app_fini(&app);
        sc_log_stop();
        return 1;
    }
    static sc_child_t control;
    if (embedded && start_control(&app.cfg, &control, &err) < 0) {
        SC_LOG_ERROR("event=start_failed err=\"%s\"", err.msg);
        sc_app_stop(&app);
        sc_app_fini(&app);
        sc_log_stop();
        return 1;
    }
    SC_LOG_INFO("event=started version=%s cores=%u port=%lld target=%s storage=%s dir=\"%s\"",
                SC_VERSION, sc_engine_cores(app.engine), (long long)app.cfg.listen_port,
                app.cfg.target, app.cfg.storage_backend, app.cfg.storage_dir);
    int sig = 0;
    if (!embedded) {
        while (sigwait(&sigs, &sig) != 0) {
        }
    } else {
        /* Wait for SIGINT/SIGTERM while supervising the embedded scorch-control: SIGCHLD reaps
         * it, and a restart is due at the child's back-off deadline. */
        for (;;) {
            int64_t now = sc_clock_mono_ns();
            int64_t next = sc_child_tick(&control, now);
            int64_t wait_ns = next == INT64_MAX ? 3600 * SC_NS_PER_SEC : next - now;
            if (wait_ns < SC_NS_PER_MS) wait_ns = SC_NS_PER_MS;
            struct timespec ts = sc_clock_ts(wait_ns);
            int s = sigtimedwait(&sigs, NULL, &ts);
            if (s == SIGCHLD) {
                sc_child_reap(&control, sc_clock_mono_ns());
            } else if (s == SIGINT || s == SIGTERM) {
                sig = s;
                break;
            }
        }
    }
    SC_LOG_INFO("event=shutdown signal=%s drain_timeout_ms=%lld",
                sig == SIGINT ? "SIGINT" : "SIGTERM", (long long)app.cfg.shutdown_timeout_ms);
    sc_app_stop(&app);
    if (embedded) sc_child_stop(&control, 10000);
    sc_app_fini(&app);
    SC_LOG_INFO("event=stopped");
    sc_log_stop();
    return 0;
}
