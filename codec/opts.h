/* Table-driven configuration. A process declares each option once, in an sc_opt_t table (flag
 * name, type, field, default, range, help), and everything else is derived from that table:
 * defaults, the YAML file named by -config.file, environment variables and flags (applied in that
 * order, later sources winning), the -help text, the markdown reference in docs/config.md and a
 * YAML dump of the effective configuration. Owns no state: every call works on the caller's table
 * and struct, and nothing it allocates (the config file's bytes, libyaml's parser) outlives the
 * call. Must never keep globals, start threads, or write anywhere but the FILE or buffer handed in.
 *
 * Field types: BOOL -> bool; INT -> int64_t; DURATION -> int64_t milliseconds; BYTES -> int64_t;
 * STRING -> char[size], always NUL-terminated. Every function below requires a valid table
 * (sc_opts_check); sc_opts_defaults and sc_opts_load check it themselves. */
#ifndef SC_OPTS_H
#define SC_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

typedef enum {
    SC_OPT_BOOL,
    SC_OPT_INT,
    SC_OPT_STRING,
    SC_OPT_DURATION,
    SC_OPT_BYTES
} sc_opt_type_t;

typedef struct sc_opt {
    const char *name; /* flag name, e.g. "server.http-listen-port": [a-z0-9-] words joined by '.' */
    sc_opt_type_t type;
    size_t offset;   /* offsetof the field in the caller's config struct */
    size_t size;     /* sizeof the field; for STRING a char[size] array, NUL-terminated */
    const char *def; /* default in flag syntax ("4040", "2m", "true", "./data"); NULL = zero */
    int64_t min,
        max; /* inclusive range for INT, DURATION (in ms) and BYTES; ignored if min > max */
    const char *choices; /* STRING only: "a|b|c" allowed values, or NULL for any */
    const char *help;    /* one sentence */
} sc_opt_t;

/* offset and size of a field, for a table row: {"name", SC_OPT_INT, SC_OPT_FIELD(cfg_t, port), ...}
 */
#define SC_OPT_FIELD(type, field) offsetof(type, field), sizeof(((type *)0)->field)

#define SC_OPTS_NAME_MAX   128 /* longest option name, NUL included; also the longest YAML path */
#define SC_OPTS_DEPTH_MAX  8   /* most '.'-separated words in a name: YAML nesting is bounded */
#define SC_OPTS_FILE_MAX   (1 << 20) /* largest config file read by sc_opts_load */
#define SC_OPTS_ENV_PREFIX "SCORCH_" /* prefix that sc_opts_print_markdown documents */

typedef struct sc_opts_result {
    int help;     /* -help / -h / --help given */
    int version;  /* -version / --version given */
    int markdown; /* -config.markdown given: caller prints the markdown reference and exits */
    char config_file[512]; /* -config.file value (flag, else env PREFIX_CONFIG_FILE), "" if none */
} sc_opts_result_t;

/* Check a table: names well formed ([a-z0-9-] words joined by '.', at most SC_OPTS_DEPTH_MAX words,
 * shorter than SC_OPTS_NAME_MAX), unique (also once turned into environment names), none both a
 * value and a YAML section ("a" and "a.b"), none reserved (help, h, version, config.file,
 * config.markdown); field sizes match the types; choices only on STRING; help set.
 * Borrows t. Returns 0 or -SC_E_CONFIG naming the bad row. Does not parse the defaults. */
SC_MUST_USE int sc_opts_check(const sc_opt_t *t, size_t n, sc_err_t *err);

/* The row named name (exact flag name, no dashes), or NULL. Borrows t and name. */
const sc_opt_t *sc_opts_find(const sc_opt_t *t, size_t n, const char *name);

/* Environment variable of an option: prefix + name uppercased, '.' and '-' turned to '_'
 * ("SCORCH_" + "server.http-listen-port" -> "SCORCH_SERVER_HTTP_LISTEN_PORT"). Writes a
 * NUL-terminated string to out[cap]. Returns 0, or -SC_E_TOO_LARGE if it does not fit. */
SC_MUST_USE int sc_opts_env_name(const char *prefix, const char *name, char *out, size_t cap);

/* Fill cfg from defaults -> YAML file (-config.file) -> environment (env_prefix + NAME) -> flags.
 * argv[0] is the program and is skipped; flags are Go style (-name=value, -name value, --name...;
 * a BOOL flag alone means true) and positional arguments are refused. -help, -h, -version and
 * -config.markdown set the matching field of res and stop: cfg then holds the defaults only, and
 * no file is read. env_prefix or envp may be NULL (no environment); unknown env_prefix variables
 * are ignored. The config file (at most SC_OPTS_FILE_MAX bytes) is read and freed within the call.
 * Borrows everything; writes cfg and res. Returns 0 or -SC_E_CONFIG with err naming the option, the
 * source and what is wanted (-SC_E_NOMEM if libyaml or the file buffer cannot get memory). On error
 * cfg is partly filled and must not be used. */
SC_MUST_USE int sc_opts_load(const sc_opt_t *table, size_t n, void *cfg, int argc, char **argv,
                             char **envp, const char *env_prefix, sc_opts_result_t *res,
                             sc_err_t *err);

/* Lower-level pieces sc_opts_load is built from (also used by tests). */

/* Check the table (sc_opts_check), then set every field of cfg to its default (NULL def: false, 0
 * or ""). Returns 0 or -SC_E_CONFIG (bad table, or a default that does not parse, source
 * "default"). */
SC_MUST_USE int sc_opts_defaults(const sc_opt_t *t, size_t n, void *cfg, sc_err_t *err);

/* Parse value (flag syntax) for the option name and store it in cfg. source names where the value
 * came from, for the error message ("flag", "env SCORCH_X"). Borrows all pointers. Returns 0 or
 * -SC_E_CONFIG (unknown option, or invalid value: cfg is then unchanged). */
SC_MUST_USE int sc_opts_set(const sc_opt_t *t, size_t n, void *cfg, const char *name,
                            const char *value, const char *source, sc_err_t *err);

/* Apply a YAML document (text[len], need not be NUL-terminated) to cfg. Nested mappings follow the
 * dots of the names; keys may spell '-' as '_' (server: {http_listen_port: 4040}); scalars are
 * parsed like flag values; a plain null (empty, ~, null) leaves the value or section unchanged.
 * source is the file path used in messages ("config file PATH:LINE"); NULL means "<yaml>". Refuses
 * unknown keys, a mapping or list where a value is wanted and vice versa, dots inside keys, aliases
 * and more than one document; an empty text is fine. Returns 0, -SC_E_CONFIG, or -SC_E_NOMEM. */
SC_MUST_USE int sc_opts_yaml(const sc_opt_t *t, size_t n, void *cfg, const char *text, size_t len,
                             const char *source, sc_err_t *err);

/* Current value of o in cfg in flag syntax ("true", "4040", "1h30m", "4MiB", strings as they are),
 * truncated to fit out[cap] (cap > 0). */
void sc_opts_format_value(const sc_opt_t *o, const void *cfg, char *out, size_t cap);

/* Go-style usage text: "Usage of prog:", then -config.file, -config.markdown, -help, -version and
 * one block per option in table order: "  -name type\n    \tHelp text. (default X)\n". */
void sc_opts_print_help(const sc_opt_t *t, size_t n, FILE *out, const char *prog);

/* Markdown reference: "# title", a sentence on the precedence, then a table
 * | flag | YAML path | env | type | default | description |, one row per option in table order.
 * Environment names use SC_OPTS_ENV_PREFIX; sc_opts_print_markdown_env takes another prefix. */
void sc_opts_print_markdown(const sc_opt_t *t, size_t n, FILE *out, const char *title);
void sc_opts_print_markdown_env(const sc_opt_t *t, size_t n, FILE *out, const char *title,
                                const char *env_prefix);

/* Append YAML of the effective configuration to out, nested as in the config file (keys with '_',
 * strings double-quoted, durations and sizes as "1h30m", "4MiB"); sc_opts_yaml reads it back to
 * the same values. only_changed: only values that differ from their defaults ("{}" if none).
 * Returns 0 or the first sc_buf error (-ENOMEM, -SC_E_TOO_LARGE; out->failed is then set). */
int sc_opts_dump_yaml(const sc_opt_t *t, size_t n, const void *cfg, int only_changed,
                      sc_buf_t *out);

#endif
