/* libFuzzer target for sc_opts_yaml (codec/opts.c): arbitrary bytes as a config file against a
 * small table of every option type. Must never crash, leak or read out of bounds; when a document
 * is accepted, its YAML dump must read back to the same configuration (dump -> parse -> dump is a
 * fixed point). The input is also fed to each option as a flag value, to reach the value parsers
 * directly. Holds no state between inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    int64_t port;
    char data_dir[32];
    int64_t read_timeout_ms;
    char backend[16];
    int64_t profile_bytes_max;
    bool analytics;
    int64_t series_max;
    int64_t retention_ms;
    int64_t block_bytes;
} fuzz_cfg_t;

static const sc_opt_t table[] = {
    {"server.http-listen-port", SC_OPT_INT, SC_OPT_FIELD(fuzz_cfg_t, port), "4040", 1, 65535, NULL,
     "HTTP listen port."},
    {"storage.data-dir", SC_OPT_STRING, SC_OPT_FIELD(fuzz_cfg_t, data_dir), "./data", 1, 0, NULL,
     "Directory for local data."},
    {"server.http-server-read-timeout", SC_OPT_DURATION, SC_OPT_FIELD(fuzz_cfg_t, read_timeout_ms),
     "30s", 1, 3600000, NULL, "Read timeout."},
    {"storage.backend", SC_OPT_STRING, SC_OPT_FIELD(fuzz_cfg_t, backend), "filesystem", 1, 0,
     "filesystem|s3|gcs", "Object store backend."},
    {"validation.max-profile-size-bytes", SC_OPT_BYTES, SC_OPT_FIELD(fuzz_cfg_t, profile_bytes_max),
     "4MiB", 0, INT64_C(1) << 30, NULL, "Max uncompressed profile."},
    {"analytics.reporting-enabled", SC_OPT_BOOL, SC_OPT_FIELD(fuzz_cfg_t, analytics), "true", 1, 0,
     NULL, "Report anonymous usage."},
    {"limits.max-series", SC_OPT_INT, SC_OPT_FIELD(fuzz_cfg_t, series_max), "0", 1, 0, NULL,
     "Max series; 0 is no limit."},
    {"storage.retention", SC_OPT_DURATION, SC_OPT_FIELD(fuzz_cfg_t, retention_ms), "0", 1, 0, NULL,
     "Delete data older than this; 0 keeps all."},
    {"storage.block.max-bytes", SC_OPT_BYTES, SC_OPT_FIELD(fuzz_cfg_t, block_bytes), "0", 1, 0,
     NULL, "Largest block."},
};

static void defaults(fuzz_cfg_t *c)
{
    sc_err_t err;
    memset(c, 0, sizeof(*c));
    SC_ASSERT(sc_opts_defaults(table, SC_ARRAY_LEN(table), c, &err) == 0);
}

/* Every value through its flag parser: must either fail cleanly or store something. */
static void set_each(const uint8_t *data, size_t size)
{
    char *value = malloc(size + 1);
    if (!value) return;
    memcpy(value, data, size);
    value[size] = '\0';
    fuzz_cfg_t c;
    sc_err_t err;
    defaults(&c);
    for (size_t i = 0; i < SC_ARRAY_LEN(table); i++) {
        sc_err_clear(&err);
        int rc = sc_opts_set(table, SC_ARRAY_LEN(table), &c, table[i].name, value, "flag", &err);
        if (rc < 0) {
            SC_ASSERT(rc == -SC_E_CONFIG);
            SC_ASSERT(err.msg[0] != '\0');
        }
    }
    free(value);
}

/* An accepted document: its dump must read back to a configuration with the same dump. */
static void round_trip(const fuzz_cfg_t *c)
{
    sc_buf_t first, second;
    sc_err_t err;
    fuzz_cfg_t back;
    sc_buf_init(&first, 0);
    sc_buf_init(&second, 0);
    SC_ASSERT(sc_opts_dump_yaml(table, SC_ARRAY_LEN(table), c, 0, &first) == 0);
    defaults(&back);
    int rc = sc_opts_yaml(table, SC_ARRAY_LEN(table), &back, first.data, first.len, "dump", &err);
    SC_ASSERT(rc == 0); /* strings from YAML are UTF-8, so the dump is valid YAML */
    SC_ASSERT(sc_opts_dump_yaml(table, SC_ARRAY_LEN(table), &back, 0, &second) == 0);
    SC_ASSERT(first.len == second.len);
    SC_ASSERT(memcmp(first.data, second.data, first.len) == 0);
    sc_buf_free(&first);
    sc_buf_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cfg_t c;
    sc_err_t err;
    defaults(&c);
    sc_err_clear(&err);
    int rc =
        sc_opts_yaml(table, SC_ARRAY_LEN(table), &c, (const char *)data, size, "fuzz.yaml", &err);
    if (rc == 0) {
        SC_ASSERT(strnlen(c.data_dir, sizeof(c.data_dir)) < sizeof(c.data_dir));
        SC_ASSERT(c.port >= 1);
        SC_ASSERT(c.port <= 65535);
        round_trip(&c);
    } else {
        SC_ASSERT(rc == -SC_E_CONFIG || rc == -SC_E_NOMEM);
        SC_ASSERT(err.msg[0] != '\0');
    }
    if (size <= 256) set_each(data, size);
    return 0;
}
