/* Unit tests of codec/opts.c: the value parsers, the four sources and their precedence, the error
 * messages (option, source, expectation), and the help, markdown and YAML writers, against a small
 * sample table declared here. Writes only temporary files it removes itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/buf.h"
#include "base/err.h"

#include "codec/opts.h"

typedef struct {
    int64_t port;
    char data_dir[32];
    int64_t read_timeout_ms;
    char backend[16];
    int64_t profile_bytes_max;
    bool analytics;
    bool debug;
    int64_t series_max;
    int64_t retention_ms;
} test_cfg_t;

/* Sections interleaved on purpose (server, storage, server again) to test the YAML dump. */
static const sc_opt_t table[] = {
    {"server.http-listen-port", SC_OPT_INT, SC_OPT_FIELD(test_cfg_t, port), "4040", 1, 65535, NULL,
     "HTTP listen port."},
    {"storage.data-dir", SC_OPT_STRING, SC_OPT_FIELD(test_cfg_t, data_dir), "./data", 1, 0, NULL,
     "Directory for local data."},
    {"server.http-server-read-timeout", SC_OPT_DURATION, SC_OPT_FIELD(test_cfg_t, read_timeout_ms),
     "30s", 1, 3600000, NULL, "Read timeout."},
    {"storage.backend", SC_OPT_STRING, SC_OPT_FIELD(test_cfg_t, backend), "filesystem", 1, 0,
     "filesystem|s3|gcs", "Object store backend."},
    {"validation.max-profile-size-bytes", SC_OPT_BYTES, SC_OPT_FIELD(test_cfg_t, profile_bytes_max),
     "4MiB", 0, INT64_C(1) << 30, NULL, "Max uncompressed profile."},
    {"analytics.reporting-enabled", SC_OPT_BOOL, SC_OPT_FIELD(test_cfg_t, analytics), "true", 1, 0,
     NULL, "Report anonymous usage."},
    {"debug", SC_OPT_BOOL, SC_OPT_FIELD(test_cfg_t, debug), NULL, 1, 0, NULL, "Debug logging."},
    {"limits.max-series", SC_OPT_INT, SC_OPT_FIELD(test_cfg_t, series_max), "0", 1, 0, NULL,
     "Max series; 0 is no limit."},
    {"storage.retention", SC_OPT_DURATION, SC_OPT_FIELD(test_cfg_t, retention_ms), "0", 1, 0, NULL,
     "Delete data older than this; 0 keeps all."},
};
#define N SC_ARRAY_LEN(table)

/* ---- helpers ----------------------------------------------------------------------------- */

static void defaults(test_cfg_t *c)
{
    sc_err_t err;
    memset(c, 0, sizeof(*c));
    assert_int_equal(sc_opts_defaults(table, N, c, &err), 0);
}

static int set(test_cfg_t *c, const char *name, const char *value, sc_err_t *err)
{
    sc_err_clear(err);
    return sc_opts_set(table, N, c, name, value, "flag", err);
}

static int yaml(test_cfg_t *c, const char *text, sc_err_t *err)
{
    sc_err_clear(err);
    return sc_opts_yaml(table, N, c, text, strlen(text), "test.yaml", err);
}

#define ASSERT_HAS(haystack, needle)                                                               \
    do {                                                                                           \
        if (!strstr((haystack), (needle))) fail_msg("\"%s\" lacks \"%s\"", (haystack), (needle));  \
    } while (0)

/* A set that must fail with a message naming the option, the source and the expectation. */
static void set_fails(const char *name, const char *value, const char *want)
{
    test_cfg_t c;
    sc_err_t err;
    defaults(&c);
    test_cfg_t before = c;
    assert_int_equal(set(&c, name, value, &err), -SC_E_CONFIG);
    assert_int_equal(err.code, -SC_E_CONFIG);
    char opt[160];
    (void)snprintf(opt, sizeof(opt), " for -%s (flag): ", name);
    ASSERT_HAS(err.msg, opt);
    ASSERT_HAS(err.msg, want);
    assert_memory_equal(&c, &before, sizeof(c)); /* a failed set leaves the field alone */
}

static int64_t set_int(const char *name, const char *value)
{
    test_cfg_t c;
    sc_err_t err;
    defaults(&c);
    if (set(&c, name, value, &err) != 0) fail_msg("%s=%s: %s", name, value, err.msg);
    const sc_opt_t *o = sc_opts_find(table, N, name);
    assert_non_null(o);
    int64_t v;
    memcpy(&v, (const char *)&c + o->offset, sizeof(v));
    return v;
}

static int load(test_cfg_t *c, char **argv, char **envp, sc_opts_result_t *res, sc_err_t *err)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    memset(c, 0xab, sizeof(*c)); /* defaults must overwrite everything */
    sc_err_clear(err);
    return sc_opts_load(table, N, c, argc, argv, envp, "SCORCH_", res, err);
}

/* A temporary YAML file with text; the caller unlinks path. */
static void write_temp(char path[64], const char *text)
{
    (void)snprintf(path, 64, "/tmp/test_opts_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* ---- defaults and the table -------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    test_cfg_t c;
    memset(&c, 0xab, sizeof(c));
    sc_err_t err;
    assert_int_equal(sc_opts_defaults(table, N, &c, &err), 0);
    assert_int_equal(c.port, 4040);
    assert_string_equal(c.data_dir, "./data");
    assert_int_equal(c.read_timeout_ms, 30000);
    assert_string_equal(c.backend, "filesystem");
    assert_int_equal(c.profile_bytes_max, 4194304);
    assert_true(c.analytics);
    assert_false(c.debug);
    assert_int_equal(c.series_max, 0);
    assert_int_equal(c.retention_ms, 0);
}

static void bad_table(const sc_opt_t *t, size_t n, const char *want)
{
    struct {
        int64_t a, b;
        char s[4];
    } c;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_opts_defaults(t, n, &c, &err), -SC_E_CONFIG);
    ASSERT_HAS(err.msg, want);
}

static void test_table_checks(void **state)
{
    (void)state;
    typedef struct {
        int64_t a, b;
        char s[4];
    } c_t;
    const sc_opt_t dup[] = {
        {"a.b", SC_OPT_INT, SC_OPT_FIELD(c_t, a), "1", 1, 0, NULL, "A."},
        {"a-b", SC_OPT_INT, SC_OPT_FIELD(c_t, b), "1", 1, 0, NULL, "B."},
    };
    bad_table(dup, 2, "options -a.b and -a-b: same name or env name");
    const sc_opt_t section[] = {
        {"a", SC_OPT_INT, SC_OPT_FIELD(c_t, a), "1", 1, 0, NULL, "A."},
        {"a.b", SC_OPT_INT, SC_OPT_FIELD(c_t, b), "1", 1, 0, NULL, "B."},
    };
    bad_table(section, 2, "options -a and -a.b: one is a YAML section of the other");
    const sc_opt_t reserved[] = {{"help", SC_OPT_INT, SC_OPT_FIELD(c_t, a), "1", 1, 0, NULL, "A."}};
    bad_table(reserved, 1, "option -help: the name is reserved");
    const sc_opt_t size[] = {{"a", SC_OPT_BOOL, SC_OPT_FIELD(c_t, a), "1", 1, 0, NULL, "A."}};
    bad_table(size, 1, "option -a: field size 8 does not fit its type");
    const sc_opt_t name[] = {{"Bad_Name", SC_OPT_INT, SC_OPT_FIELD(c_t, a), "1", 1, 0, NULL, "A."}};
    bad_table(name, 1, "option table row 0: name \"Bad_Name\"");
    const sc_opt_t def[] = {{"a", SC_OPT_INT, SC_OPT_FIELD(c_t, a), "9", 1, 5, NULL, "A."}};
    bad_table(def, 1, "invalid value \"9\" for -a (default): want an integer in [1, 5]");
    const sc_opt_t str[] = {{"s", SC_OPT_STRING, SC_OPT_FIELD(c_t, s), "long", 1, 0, NULL, "S."}};
    bad_table(str, 1, "invalid value \"long\" for -s (default): want at most 3 bytes");
    const sc_opt_t choices[] = {{"a", SC_OPT_INT, SC_OPT_FIELD(c_t, a), "1", 1, 0, "x|y", "A."}};
    bad_table(choices, 1, "option -a: choices only on non-empty STRING lists");
}

/* ---- values ------------------------------------------------------------------------------ */

static void test_int(void **state)
{
    (void)state;
    assert_int_equal(set_int("server.http-listen-port", "1"), 1);
    assert_int_equal(set_int("server.http-listen-port", "65535"), 65535);
    assert_int_equal(set_int("server.http-listen-port", "+8080"), 8080);
    const char *want = "want an integer in [1, 65535]";
    set_fails("server.http-listen-port", "0", want);
    set_fails("server.http-listen-port", "65536", want);
    set_fails("server.http-listen-port", "-1", want);
    set_fails("server.http-listen-port", "abc", want);
    set_fails("server.http-listen-port", "", want);
    set_fails("server.http-listen-port", "80 ", want);
    set_fails("server.http-listen-port", "1e3", want);
    set_fails("server.http-listen-port", "99999999999999999999", want);
    test_cfg_t c;
    sc_err_t err;
    defaults(&c);
    assert_int_equal(set(&c, "server.http-listen-port", "abc", &err), -SC_E_CONFIG);
    assert_string_equal(err.msg, "invalid value \"abc\" for -server.http-listen-port (flag): want "
                                 "an integer in [1, 65535]");

    /* No range: the whole int64 range, with overflow detection. */
    assert_int_equal(set_int("limits.max-series", "9223372036854775807"), INT64_MAX);
    assert_int_equal(set_int("limits.max-series", "-9223372036854775808"), INT64_MIN);
    assert_int_equal(set_int("limits.max-series", "-42"), -42);
    set_fails("limits.max-series", "9223372036854775808", "want a 64-bit integer");
    set_fails("limits.max-series", "-9223372036854775809", "want a 64-bit integer");
    set_fails("limits.max-series", "-", "want a 64-bit integer");
}

static void test_duration(void **state)
{
    (void)state;
    const char *t = "server.http-server-read-timeout";
    assert_int_equal(set_int(t, "30s"), 30000);
    assert_int_equal(set_int(t, "2m"), 120000);
    assert_int_equal(set_int(t, "1h"), 3600000);
    assert_int_equal(set_int(t, "1m30s"), 90000);
    assert_int_equal(set_int(t, "500ms"), 500);
    assert_int_equal(set_int(t, "1.5s"), 1500);
    assert_int_equal(set_int(t, ".25s"), 250);
    assert_int_equal(set_int(t, "1000us"), 1);
    assert_int_equal(set_int(t, "1000\xc2\xb5s"), 1);
    assert_int_equal(set_int(t, "2000000ns"), 2);
    assert_int_equal(set_int(t, "0.5m"), 30000);
    const char *want = "want a duration like 30s, 1h30m or 500ms in [1ms, 1h]";
    set_fails(t, "30", want); /* a bare integer is not seconds */
    set_fails(t, "0", want);  /* valid syntax, below the range */
    set_fails(t, "1h0m1s", want);
    set_fails(t, "1us", want); /* not whole milliseconds */
    set_fails(t, "30x", want);
    set_fails(t, "s", want);
    set_fails(t, ".s", want);
    set_fails(t, "1.5", want);
    set_fails(t, "", want);
    set_fails(t, " 1s", want);

    /* No range: zero, signs, the int64 nanosecond limit of Go. */
    const char *r = "storage.retention";
    assert_int_equal(set_int(r, "0"), 0);
    assert_int_equal(set_int(r, "-0"), 0);
    assert_int_equal(set_int(r, "1h30m"), 5400000);
    assert_int_equal(set_int(r, "-1.5s"), -1500);
    assert_int_equal(set_int(r, "+2h"), 7200000);
    assert_int_equal(set_int(r, "720h"), 2592000000);
    assert_int_equal(set_int(r, "2562047h"), INT64_C(2562047) * 3600000);
    set_fails(r, "2562048h", "want a duration like 30s, 1h30m or 500ms");
    set_fails(r, "99999999999999999999s", "want a duration like 30s");
    set_fails(r, "7", "want a duration like 30s");
}

static void test_bytes(void **state)
{
    (void)state;
    const char *b = "validation.max-profile-size-bytes";
    assert_int_equal(set_int(b, "0"), 0);
    assert_int_equal(set_int(b, "12"), 12);
    assert_int_equal(set_int(b, "12B"), 12);
    assert_int_equal(set_int(b, "512KB"), 512000);
    assert_int_equal(set_int(b, "512KiB"), 524288);
    assert_int_equal(set_int(b, "4MB"), 4000000);
    assert_int_equal(set_int(b, "4MiB"), 4194304);
    assert_int_equal(set_int(b, "1GB"), 1000000000);
    assert_int_equal(set_int(b, "1GiB"), 1073741824);
    const char *want = "want a byte size like 4MiB, 512KB or 1048576 in [0, 1GiB]";
    set_fails(b, "1025MiB", want);
    set_fails(b, "2GB", want);
    set_fails(b, "4mb", want);
    set_fails(b, "1.5GB", want);
    set_fails(b, "-1", want);
    set_fails(b, "MiB", want);
    set_fails(b, "4 MiB", want);
    set_fails(b, "9223372036854775807KiB", want);
    set_fails(b, "9223372036854775808", want);
}

static void test_bool(void **state)
{
    (void)state;
    const char *yes[] = {"true", "TRUE", "True", "t", "1", "yes", "YES", "on"};
    const char *no[] = {"false", "FALSE", "f", "F", "0", "no", "No", "off"};
    test_cfg_t c;
    sc_err_t err;
    for (size_t i = 0; i < SC_ARRAY_LEN(yes); i++) {
        defaults(&c);
        assert_int_equal(set(&c, "debug", yes[i], &err), 0);
        assert_true(c.debug);
        assert_int_equal(set(&c, "debug", no[i], &err), 0);
        assert_false(c.debug);
    }
    set_fails("debug", "maybe", "want true or false");
    set_fails("debug", "", "want true or false");
    set_fails("debug", "2", "want true or false");
}

static void test_string(void **state)
{
    (void)state;
    test_cfg_t c;
    sc_err_t err;
    defaults(&c);
    assert_int_equal(set(&c, "storage.data-dir", "/var/lib/scorch", &err), 0);
    assert_string_equal(c.data_dir, "/var/lib/scorch");
    assert_int_equal(set(&c, "storage.data-dir", "", &err), 0);
    assert_string_equal(c.data_dir, "");
    char max[32];
    memset(max, 'x', 31);
    max[31] = '\0';
    assert_int_equal(set(&c, "storage.data-dir", max, &err), 0);
    assert_string_equal(c.data_dir, max);
    set_fails("storage.data-dir", "/a/path/that/is/longer/than/31/bytes", "want at most 31 bytes");
    assert_int_equal(set(&c, "storage.backend", "s3", &err), 0);
    assert_string_equal(c.backend, "s3");
    assert_int_equal(set(&c, "storage.backend", "gcs", &err), 0);
    assert_string_equal(c.backend, "gcs");
    set_fails("storage.backend", "S3", "want one of filesystem|s3|gcs");
    set_fails("storage.backend", "s", "want one of filesystem|s3|gcs");
    set_fails("storage.backend", "", "want one of filesystem|s3|gcs");
    set_fails("storage.backend", "filesystems", "want one of filesystem|s3|gcs");

    assert_int_equal(set(&c, "storage.nope", "x", &err), -SC_E_CONFIG);
    assert_string_equal(err.msg, "unknown option -storage.nope (flag)");
}

static void test_format_value(void **state)
{
    (void)state;
    test_cfg_t c;
    sc_err_t err;
    char v[64];
    defaults(&c);
    sc_opts_format_value(sc_opts_find(table, N, "storage.retention"), &c, v, sizeof(v));
    assert_string_equal(v, "0s");
    sc_opts_format_value(sc_opts_find(table, N, "server.http-server-read-timeout"), &c, v,
                         sizeof(v));
    assert_string_equal(v, "30s");
    assert_int_equal(set(&c, "storage.retention", "90m0.5s", &err), 0);
    sc_opts_format_value(sc_opts_find(table, N, "storage.retention"), &c, v, sizeof(v));
    assert_string_equal(v, "1h30m500ms");
    assert_int_equal(set(&c, "storage.retention", "-25h1ms", &err), 0);
    sc_opts_format_value(sc_opts_find(table, N, "storage.retention"), &c, v, sizeof(v));
    assert_string_equal(v, "-25h1ms");
    sc_opts_format_value(sc_opts_find(table, N, "validation.max-profile-size-bytes"), &c, v,
                         sizeof(v));
    assert_string_equal(v, "4MiB");
    assert_int_equal(set(&c, "validation.max-profile-size-bytes", "3000KB", &err), 0);
    sc_opts_format_value(sc_opts_find(table, N, "validation.max-profile-size-bytes"), &c, v,
                         sizeof(v));
    assert_string_equal(v, "3MB");
    assert_int_equal(set(&c, "validation.max-profile-size-bytes", "1023", &err), 0);
    sc_opts_format_value(sc_opts_find(table, N, "validation.max-profile-size-bytes"), &c, v,
                         sizeof(v));
    assert_string_equal(v, "1023");
    assert_int_equal(set(&c, "limits.max-series", "-7", &err), 0);
    sc_opts_format_value(sc_opts_find(table, N, "limits.max-series"), &c, v, sizeof(v));
    assert_string_equal(v, "-7");
    sc_opts_format_value(sc_opts_find(table, N, "analytics.reporting-enabled"), &c, v, sizeof(v));
    assert_string_equal(v, "true");
    sc_opts_format_value(sc_opts_find(table, N, "storage.data-dir"), &c, v, 4);
    assert_string_equal(v, "./d");
    char env[64];
    assert_int_equal(sc_opts_env_name("SCORCH_", "server.http-listen-port", env, sizeof(env)), 0);
    assert_string_equal(env, "SCORCH_SERVER_HTTP_LISTEN_PORT");
    assert_int_equal(sc_opts_env_name("SCORCH_", "server.http-listen-port", env, 30),
                     -SC_E_TOO_LARGE);
}

/* ---- YAML -------------------------------------------------------------------------------- */

static void test_yaml_nested(void **state)
{
    (void)state;
    test_cfg_t c;
    sc_err_t err;
    defaults(&c);
    assert_int_equal(yaml(&c,
                          "# comment\n"
                          "server:\n"
                          "  http_listen_port: 5000\n"
                          "  http-server-read-timeout: 1m\n"
                          "storage:\n"
                          "  data_dir: \"/srv/scorch\"\n"
                          "  backend: s3\n"
                          "validation: {max_profile_size_bytes: 1MiB}\n"
                          "analytics:\n"
                          "  reporting-enabled: false\n"
                          "debug: yes\n",
                          &err),
                     0);
    assert_int_equal(c.port, 5000);
    assert_int_equal(c.read_timeout_ms, 60000);
    assert_string_equal(c.data_dir, "/srv/scorch");
    assert_string_equal(c.backend, "s3");
    assert_int_equal(c.profile_bytes_max, 1048576);
    assert_false(c.analytics);
    assert_true(c.debug);
    assert_int_equal(c.series_max, 0);

    /* Quoted scalars parse like flag values; plain nulls leave values and sections alone. */
    assert_int_equal(yaml(&c,
                          "server:\n  http_listen_port: '6000'\n  http_server_read_timeout:\n"
                          "storage: ~\nlimits:\n",
                          &err),
                     0);
    assert_int_equal(c.port, 6000);
    assert_int_equal(c.read_timeout_ms, 60000);
    assert_int_equal(yaml(&c, "storage: {data_dir: \"\"}\n", &err), 0);
    assert_string_equal(c.data_dir, "");

    /* Empty documents are fine and change nothing. */
    const char *empty[] = {"", "\n", "# only a comment\n", "---\n", "--- ~\n", "{}\n", "null\n"};
    for (size_t i = 0; i < SC_ARRAY_LEN(empty); i++) {
        test_cfg_t before = c;
        assert_int_equal(yaml(&c, empty[i], &err), 0);
        assert_memory_equal(&c, &before, sizeof(c));
    }
    assert_int_equal(sc_opts_yaml(table, N, &c, NULL, 0, NULL, &err), 0);
}

static void yaml_fails(const char *text, const char *want)
{
    test_cfg_t c;
    sc_err_t err;
    defaults(&c);
    assert_int_equal(yaml(&c, text, &err), -SC_E_CONFIG);
    ASSERT_HAS(err.msg, want);
}

static void test_yaml_errors(void **state)
{
    (void)state;
    yaml_fails("server:\n  http_lisen_port: 1\n", "unknown key server.http_lisen_port "
                                                  "(config file test.yaml:2)");
    yaml_fails("nope: 1\n", "unknown key nope (config file test.yaml:1)");
    yaml_fails("server:\n  http_listen_port: 1\n  tls:\n    cert: x\n",
               "unknown key server.tls (config file test.yaml:3)");
    yaml_fails("server:\n  http_listen_port: 70000\n",
               "invalid value \"70000\" for -server.http-listen-port (config file test.yaml:2): "
               "want an integer in [1, 65535]");
    yaml_fails("storage:\n  retention: 30\n",
               "for -storage.retention (config file test.yaml:2): want a duration like 30s");
    yaml_fails("server:\n  http_listen_port:\n    a: 1\n",
               "key server.http_listen_port (config file test.yaml:3): want a scalar value, not a "
               "mapping");
    yaml_fails("server: 5\n", "key server (config file test.yaml:1): want a mapping, not a scalar");
    yaml_fails("server: [1, 2]\n", "key server (config file test.yaml:1): want a mapping, not a "
                                   "list");
    yaml_fails("debug: [true]\n", "key debug (config file test.yaml:1): want a scalar value, not "
                                  "a list");
    yaml_fails("server.http_listen_port: 5\n", "want a non-empty name without dots");
    yaml_fails("debug: &x true\nstorage:\n  data_dir: *x\n", "aliases are not supported");
    yaml_fails("? [a]\n: 1\n", "want a scalar key");
    yaml_fails("- 1\n- 2\n", "want a mapping at the top level");
    yaml_fails("hello\n", "want a mapping at the top level");
    yaml_fails("debug: true\n---\ndebug: false\n", "want one YAML document, found more");
    yaml_fails("server:\n  http_listen_port: 1\n bad indent: 2\n", "config file test.yaml:3: "
                                                                   "invalid YAML: ");
    yaml_fails("server: {http_listen_port: 1\n", "invalid YAML");
    yaml_fails("storage:\n  data_dir: \"a\\0b\"\n", "contains a NUL byte");
}

/* ---- flags, environment, precedence ------------------------------------------------------ */

static void test_flags(void **state)
{
    (void)state;
    test_cfg_t c;
    sc_err_t err;
    sc_opts_result_t res;
    char *argv[] = {"scorch",
                    "-server.http-listen-port=81",
                    "--storage.data-dir",
                    "/d1",
                    "-storage.backend",
                    "gcs",
                    "--limits.max-series=-5",
                    "-debug",
                    "-analytics.reporting-enabled=false",
                    "-storage.retention",
                    "-1h",
                    "--",
                    NULL};
    assert_int_equal(load(&c, argv, NULL, &res, &err), 0);
    assert_int_equal(c.port, 81);
    assert_string_equal(c.data_dir, "/d1");
    assert_string_equal(c.backend, "gcs");
    assert_int_equal(c.series_max, -5);
    assert_true(c.debug);
    assert_false(c.analytics);
    assert_int_equal(c.retention_ms, -3600000);
    assert_int_equal(c.read_timeout_ms, 30000); /* untouched: default */
    assert_int_equal(res.help, 0);
    assert_int_equal(res.version, 0);
    assert_int_equal(res.markdown, 0);
    assert_string_equal(res.config_file, "");

    /* The last of a repeated flag wins; a bool flag alone means true. */
    char *again[] = {"scorch", "-debug=false", "-server.http-listen-port",
                     "1",      "--debug",      "-server.http-listen-port=2",
                     NULL};
    assert_int_equal(load(&c, again, NULL, &res, &err), 0);
    assert_true(c.debug);
    assert_int_equal(c.port, 2);
}

static void flags_fail(char **argv, const char *want)
{
    test_cfg_t c;
    sc_err_t err;
    sc_opts_result_t res;
    assert_int_equal(load(&c, argv, NULL, &res, &err), -SC_E_CONFIG);
    if (strcmp(err.msg, want) != 0) fail_msg("got \"%s\", want \"%s\"", err.msg, want);
}

static void test_flag_errors(void **state)
{
    (void)state;
    char *unknown[] = {"scorch", "-debug", "-x", NULL};
    flags_fail(unknown, "unknown flag -x (see -help)");
    char *unknown2[] = {"scorch", "--server.http-listen-portt=1", NULL};
    flags_fail(unknown2, "unknown flag -server.http-listen-portt (see -help)");
    char *positional[] = {"scorch", "serve", NULL};
    flags_fail(positional, "unexpected argument \"serve\": flags take the form -name=value "
                           "(see -help)");
    char *bool_value[] = {"scorch", "-debug", "false", NULL}; /* Go: bools take only =value */
    flags_fail(bool_value, "unexpected argument \"false\": flags take the form -name=value "
                           "(see -help)");
    char *dash[] = {"scorch", "-", NULL};
    flags_fail(dash, "unexpected argument \"-\": flags take the form -name=value (see -help)");
    char *after_end[] = {"scorch", "--", "-debug", NULL};
    flags_fail(after_end, "unexpected argument \"-debug\": flags take the form -name=value "
                          "(see -help)");
    char *no_value[] = {"scorch", "-server.http-listen-port", NULL};
    flags_fail(no_value, "flag needs an argument: -server.http-listen-port (see -help)");
    char *syntax[] = {"scorch", "---debug", NULL};
    flags_fail(syntax, "bad flag syntax: ---debug (see -help)");
    char *value[] = {"scorch", "-server.http-listen-port", "http", NULL};
    flags_fail(value, "invalid value \"http\" for -server.http-listen-port (flag): want an "
                      "integer in [1, 65535]");
    char *bool_bad[] = {"scorch", "-debug=maybe", NULL};
    flags_fail(bool_bad, "invalid value \"maybe\" for -debug (flag): want true or false");
}

static void test_actions(void **state)
{
    (void)state;
    test_cfg_t c;
    sc_err_t err;
    sc_opts_result_t res;
    char *help[] = {"scorch", "-h", NULL};
    assert_int_equal(load(&c, help, NULL, &res, &err), 0);
    assert_int_equal(res.help, 1);
    assert_int_equal(c.port, 4040);
    char *help2[] = {"scorch", "--help", NULL};
    assert_int_equal(load(&c, help2, NULL, &res, &err), 0);
    assert_int_equal(res.help, 1);
    char *help3[] = {"scorch", "-help", NULL};
    assert_int_equal(load(&c, help3, NULL, &res, &err), 0);
    assert_int_equal(res.help, 1);
    assert_int_equal(res.version, 0);
    /* Stops at the action flag: no file read, no flag applied, later flags not checked. */
    char *help4[] = {"scorch", "-config.file=/nonexistent/scorch.yaml", "-debug", "-help", "-x",
                     NULL};
    assert_int_equal(load(&c, help4, NULL, &res, &err), 0);
    assert_int_equal(res.help, 1);
    assert_false(c.debug);
    char *help_off[] = {"scorch", "-help=false", NULL};
    assert_int_equal(load(&c, help_off, NULL, &res, &err), 0);
    assert_int_equal(res.help, 0);
    char *version[] = {"scorch", "--version", NULL};
    assert_int_equal(load(&c, version, NULL, &res, &err), 0);
    assert_int_equal(res.version, 1);
    assert_int_equal(res.help, 0);
    char *version2[] = {"scorch", "-version", NULL};
    assert_int_equal(load(&c, version2, NULL, &res, &err), 0);
    assert_int_equal(res.version, 1);
    char *md[] = {"scorch", "-config.markdown", NULL};
    assert_int_equal(load(&c, md, NULL, &res, &err), 0);
    assert_int_equal(res.markdown, 1);
    char *bad_first[] = {"scorch", "-x", "-help", NULL};
    assert_int_equal(load(&c, bad_first, NULL, &res, &err), -SC_E_CONFIG);
    assert_string_equal(err.msg, "unknown flag -x (see -help)");
}

static void test_env(void **state)
{
    (void)state;
    test_cfg_t c;
    sc_err_t err;
    sc_opts_result_t res;
    char *argv[] = {"scorch", NULL};
    char *envp[] = {"HOME=/root",
                    "SCORCH_SERVER_HTTP_LISTEN_PORT=9090",
                    "SCORCH_STORAGE_BACKEND=s3",
                    "SCORCH_DEBUG=1",
                    "SCORCH_UNKNOWN_THING=ignored",
                    "SCORCH_NOEQUALS",
                    "OTHER_DEBUG=0",
                    "scorch_debug=0",
                    NULL};
    assert_int_equal(load(&c, argv, envp, &res, &err), 0);
    assert_int_equal(c.port, 9090);
    assert_string_equal(c.backend, "s3");
    assert_true(c.debug);
    assert_int_equal(c.read_timeout_ms, 30000);

    char *bad[] = {"SCORCH_SERVER_HTTP_SERVER_READ_TIMEOUT=10", NULL};
    assert_int_equal(load(&c, argv, bad, &res, &err), -SC_E_CONFIG);
    assert_string_equal(err.msg, "invalid value \"10\" for -server.http-server-read-timeout (env "
                                 "SCORCH_SERVER_HTTP_SERVER_READ_TIMEOUT): want a duration like "
                                 "30s, 1h30m or 500ms in [1ms, 1h]");

    /* No prefix: the environment is not read. */
    memset(&c, 0, sizeof(c));
    assert_int_equal(sc_opts_load(table, N, &c, 1, argv, envp, NULL, &res, &err), 0);
    assert_int_equal(c.port, 4040);
}

static void test_precedence(void **state)
{
    (void)state;
    test_cfg_t c;
    sc_err_t err;
    sc_opts_result_t res;
    char path[64];
    write_temp(path, "server:\n  http_listen_port: 5000\n  http_server_read_timeout: 5s\n"
                     "storage:\n  data-dir: /yaml\n  backend: gcs\n");
    char flag_file[128];
    (void)snprintf(flag_file, sizeof(flag_file), "-config.file=%s", path);

    char *only_default[] = {"scorch", NULL};
    assert_int_equal(load(&c, only_default, NULL, &res, &err), 0);
    assert_int_equal(c.port, 4040);

    char *with_yaml[] = {"scorch", flag_file, NULL};
    assert_int_equal(load(&c, with_yaml, NULL, &res, &err), 0);
    assert_string_equal(res.config_file, path);
    assert_int_equal(c.port, 5000);
    assert_int_equal(c.read_timeout_ms, 5000);
    assert_string_equal(c.data_dir, "/yaml");
    assert_string_equal(c.backend, "gcs");

    char *envp[] = {"SCORCH_SERVER_HTTP_LISTEN_PORT=6000", "SCORCH_STORAGE_DATA_DIR=/env", NULL};
    assert_int_equal(load(&c, with_yaml, envp, &res, &err), 0);
    assert_int_equal(c.port, 6000);
    assert_string_equal(c.data_dir, "/env");
    assert_int_equal(c.read_timeout_ms, 5000); /* from YAML */

    char *with_flags[] = {"scorch", "-server.http-listen-port=7000", flag_file, NULL};
    assert_int_equal(load(&c, with_flags, envp, &res, &err), 0);
    assert_int_equal(c.port, 7000);
    assert_string_equal(c.data_dir, "/env");
    assert_string_equal(c.backend, "gcs");
    assert_int_equal(c.read_timeout_ms, 5000);
    assert_int_equal(c.profile_bytes_max, 4194304); /* from the default */
    assert_int_equal(unlink(path), 0);
}

static void test_config_file(void **state)
{
    (void)state;
    test_cfg_t c;
    sc_err_t err;
    sc_opts_result_t res;
    char path[64], other[64];
    write_temp(path, "server:\n  http_listen_port: 5001\n");
    write_temp(other, "server:\n  http_listen_port: 5002\n");
    char env_file[128];
    (void)snprintf(env_file, sizeof(env_file), "SCORCH_CONFIG_FILE=%s", path);
    char *envp[] = {env_file, NULL};

    char *none[] = {"scorch", NULL};
    assert_int_equal(load(&c, none, envp, &res, &err), 0);
    assert_string_equal(res.config_file, path);
    assert_int_equal(c.port, 5001);

    char *flag[] = {"scorch", "--config.file", other, NULL}; /* the flag beats the env */
    assert_int_equal(load(&c, flag, envp, &res, &err), 0);
    assert_string_equal(res.config_file, other);
    assert_int_equal(c.port, 5002);

    char *missing[] = {"scorch", "-config.file", "/nonexistent/scorch.yaml", NULL};
    assert_int_equal(load(&c, missing, envp, &res, &err), -SC_E_CONFIG);
    assert_string_equal(err.msg, "cannot read -config.file \"/nonexistent/scorch.yaml\" (flag): "
                                 "No such file or directory");
    char *missing_env[] = {"SCORCH_CONFIG_FILE=/nonexistent/x.yaml", NULL};
    assert_int_equal(load(&c, none, missing_env, &res, &err), -SC_E_CONFIG);
    assert_string_equal(err.msg, "cannot read -config.file \"/nonexistent/x.yaml\" (env "
                                 "SCORCH_CONFIG_FILE): No such file or directory");
    char *no_arg[] = {"scorch", "-config.file", NULL};
    assert_int_equal(load(&c, no_arg, NULL, &res, &err), -SC_E_CONFIG);
    assert_string_equal(err.msg, "flag needs an argument: -config.file (see -help)");

    /* Errors inside the file name the file and the line. */
    assert_int_equal(unlink(other), 0);
    write_temp(other, "debug: true\nserver:\n  http_listen_port: x\n");
    char *bad[] = {"scorch", "-config.file", other, NULL};
    assert_int_equal(load(&c, bad, NULL, &res, &err), -SC_E_CONFIG);
    char want[256];
    (void)snprintf(want, sizeof(want),
                   "invalid value \"x\" for -server.http-listen-port (config file %s:3): want an "
                   "integer in [1, 65535]",
                   other);
    assert_string_equal(err.msg, want);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(unlink(other), 0);

    /* A file past SC_OPTS_FILE_MAX is refused; one at the limit is read. */
    char *big = malloc(SC_OPTS_FILE_MAX + 2);
    assert_non_null(big);
    memset(big, '#', SC_OPTS_FILE_MAX + 1);
    big[SC_OPTS_FILE_MAX + 1] = '\0';
    write_temp(path, big);
    char *too_big[] = {"scorch", "-config.file", path, NULL};
    assert_int_equal(load(&c, too_big, NULL, &res, &err), -SC_E_CONFIG);
    ASSERT_HAS(err.msg, "(flag): want at most 1048576 bytes");
    big[SC_OPTS_FILE_MAX - 1] = '\n';
    big[SC_OPTS_FILE_MAX] = '\0';
    write_temp(other, big);
    char *at_limit[] = {"scorch", "-config.file", other, "-debug", NULL};
    assert_int_equal(load(&c, at_limit, NULL, &res, &err), 0);
    assert_true(c.debug);
    free(big);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(unlink(other), 0);
}

/* ---- writers ----------------------------------------------------------------------------- */

static void test_dump_yaml(void **state)
{
    (void)state;
    test_cfg_t c, back;
    sc_err_t err;
    sc_buf_t b;
    sc_buf_init(&b, 0);
    defaults(&c);
    assert_int_equal(sc_opts_dump_yaml(table, N, &c, 1, &b), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "{}\n", 3);

    assert_int_equal(set(&c, "server.http-server-read-timeout", "1h", &err), 0);
    assert_int_equal(set(&c, "storage.backend", "s3", &err), 0);
    assert_int_equal(set(&c, "debug", "true", &err), 0);
    assert_int_equal(set(&c, "storage.data-dir", "a \"q\"\\", &err), 0);
    sc_buf_clear(&b);
    assert_int_equal(sc_opts_dump_yaml(table, N, &c, 1, &b), 0);
    const char *changed = "server:\n"
                          "  http_server_read_timeout: 1h\n"
                          "storage:\n"
                          "  data_dir: \"a \\\"q\\\"\\\\\"\n"
                          "  backend: \"s3\"\n"
                          "debug: true\n";
    assert_int_equal(b.len, strlen(changed));
    assert_memory_equal(b.data, changed, b.len);

    sc_buf_clear(&b);
    assert_int_equal(sc_opts_dump_yaml(table, N, &c, 0, &b), 0);
    const char *full = "server:\n"
                       "  http_listen_port: 4040\n"
                       "  http_server_read_timeout: 1h\n"
                       "storage:\n"
                       "  data_dir: \"a \\\"q\\\"\\\\\"\n"
                       "  backend: \"s3\"\n"
                       "  retention: 0s\n"
                       "validation:\n"
                       "  max_profile_size_bytes: 4MiB\n"
                       "analytics:\n"
                       "  reporting_enabled: true\n"
                       "debug: true\n"
                       "limits:\n"
                       "  max_series: 0\n";
    assert_int_equal(b.len, strlen(full));
    assert_memory_equal(b.data, full, b.len);

    /* The dump reads back to the same values. */
    defaults(&back);
    assert_int_equal(sc_opts_yaml(table, N, &back, b.data, b.len, "dump", &err), 0);
    assert_int_equal(back.read_timeout_ms, 3600000);
    assert_string_equal(back.data_dir, "a \"q\"\\");
    assert_string_equal(back.backend, "s3");
    assert_true(back.debug);

    /* A capped buffer reports the sc_buf error. */
    sc_buf_t small;
    sc_buf_init(&small, 16);
    assert_int_equal(sc_opts_dump_yaml(table, N, &c, 0, &small), -SC_E_TOO_LARGE);
    assert_true(small.failed);
    sc_buf_free(&small);
    sc_buf_free(&b);
}

static char *capture_help(void (*fn)(FILE *), size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    assert_non_null(f);
    fn(f);
    assert_int_equal(fclose(f), 0);
    return text;
}

static void print_help(FILE *f)
{
    sc_opts_print_help(table, N, f, "scorch");
}

static void print_markdown(FILE *f)
{
    sc_opts_print_markdown(table, N, f, "Scorch configuration");
}

static void test_help(void **state)
{
    (void)state;
    size_t len;
    char *text = capture_help(print_help, &len);
    const char *head =
        "Usage of scorch:\n"
        "  -config.file string\n"
        "    \tConfiguration file to load (YAML); the environment and flags override "
        "it.\n"
        "  -config.markdown\n"
        "    \tPrint the configuration reference in markdown and exit.\n"
        "  -help\n"
        "    \tPrint this help and exit.\n"
        "  -version\n"
        "    \tPrint the version and exit.\n"
        "  -server.http-listen-port int\n"
        "    \tHTTP listen port. (default 4040)\n"
        "  -storage.data-dir string\n"
        "    \tDirectory for local data. (default \"./data\")\n";
    assert_int_equal(strncmp(text, head, strlen(head)), 0);
    ASSERT_HAS(text, "  -storage.backend string\n    \tObject store backend. One of: "
                     "filesystem|s3|gcs. (default \"filesystem\")\n");
    ASSERT_HAS(text, "  -debug\n    \tDebug logging.\n  -limits.max-series int\n    \tMax series; "
                     "0 is no limit.\n  -storage.retention duration\n");
    free(text);
}

static void test_markdown(void **state)
{
    (void)state;
    size_t len;
    char *text = capture_help(print_markdown, &len);
    const char *head = "# Scorch configuration\n\n";
    assert_int_equal(strncmp(text, head, strlen(head)), 0);
    ASSERT_HAS(text, "increasing precedence: its default, then the YAML file named by "
                     "`-config.file` (or `SCORCH_CONFIG_FILE`), then its environment variable, "
                     "then its command-line flag.\n");
    ASSERT_HAS(text, "\n| flag | YAML path | env | type | default | description |\n"
                     "| --- | --- | --- | --- | --- | --- |\n"
                     "| `-server.http-listen-port` | `server.http_listen_port` | "
                     "`SCORCH_SERVER_HTTP_LISTEN_PORT` | int | `4040` | HTTP listen port. Range: 1 "
                     "to 65535. |\n");
    ASSERT_HAS(text,
               "| `-storage.backend` | `storage.backend` | `SCORCH_STORAGE_BACKEND` | string "
               "| `\"filesystem\"` | Object store backend. One of: `filesystem\\|s3\\|gcs`. |\n");
    ASSERT_HAS(text, "| `-debug` | `debug` | `SCORCH_DEBUG` | bool | `false` | Debug logging. |\n");
    size_t rows = 0;
    for (const char *p = text; (p = strstr(p, "\n| `-")) != NULL; p++)
        rows++;
    assert_int_equal(rows, N);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),    cmocka_unit_test(test_table_checks),
        cmocka_unit_test(test_int),         cmocka_unit_test(test_duration),
        cmocka_unit_test(test_bytes),       cmocka_unit_test(test_bool),
        cmocka_unit_test(test_string),      cmocka_unit_test(test_format_value),
        cmocka_unit_test(test_yaml_nested), cmocka_unit_test(test_yaml_errors),
        cmocka_unit_test(test_flags),       cmocka_unit_test(test_flag_errors),
        cmocka_unit_test(test_actions),     cmocka_unit_test(test_env),
        cmocka_unit_test(test_precedence),  cmocka_unit_test(test_config_file),
        cmocka_unit_test(test_dump_yaml),   cmocka_unit_test(test_help),
        cmocka_unit_test(test_markdown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
