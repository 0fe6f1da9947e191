/* Unit tests of codec/jfr.c and codec/jfr_pprof.c. Synthetic recordings come from a small JFR
 * writer below (metadata, constant pools and events written the way async-profiler lays them
 * out), so every mapping rule of spec §6.8 is checked against numbers computed here; then the
 * shared corpus (SC_CORPUS_DIR): every `jfr` row of MANIFEST.tsv must yield exactly its profile
 * types and totals, and every expected query result (`pprof-expected-jfr`) the same total and
 * the same collapsed stacks. Golden numbers are read from MANIFEST.tsv at run time, never copied
 * here. Broken inputs (bad magic, truncations, corrupted bytes, cycles, dangling references) must
 * fail with -SC_E_MALFORMED and a message, never crash or leak. With SC_JFR_WRITE_SEEDS=<dir>
 * the synthetic recordings are also written there (the fuzz seeds in tests/fuzz/seeds/jfr).
 * Exits 77 after the synthetic tests when the corpus is absent. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/err.h"

#include "codec/jfr.h"
#include "codec/jfr_int.h"
#include "codec/profile.h"

#include "testutil.h"

/* ---- byte writer ------------------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
    bool compressed;
} wb_t;

static void wb_put(wb_t *w, const void *d, size_t n)
{
    if (w->n + n > w->cap) {
        w->cap = (w->n + n) * 2 + 256;
        w->p = realloc(w->p, w->cap);
        assert_non_null(w->p);
    }
    memcpy(w->p + w->n, d, n);
    w->n += n;
}

static void wb_u8(wb_t *w, uint8_t v)
{
    wb_put(w, &v, 1);
}

/* JFR's LEB128: 7 bits a byte, the 9th byte holds the last 8 bits. */
static void wb_var(wb_t *w, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        if (v < 0x80) {
            wb_u8(w, (uint8_t)v);
            return;
        }
        wb_u8(w, (uint8_t)(v | 0x80));
        v >>= 7;
    }
    wb_u8(w, (uint8_t)v);
}

static void wb_be(wb_t *w, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        wb_u8(w, (uint8_t)(v >> (8 * i)));
}

static void wb_int(wb_t *w, uint64_t v)
{
    if (w->compressed)
        wb_var(w, v);
    else
        wb_be(w, v, 4);
}

static void wb_long(wb_t *w, uint64_t v)
{
    if (w->compressed)
        wb_var(w, v);
    else
        wb_be(w, v, 8);
}

static void wb_utf8(wb_t *w, const char *s)
{
    wb_u8(w, 3);
    wb_int(w, strlen(s));
    wb_put(w, s, strlen(s));
}

/* Latin-1 (encoding 5) of an ASCII-or-Latin-1 byte string. */
static void wb_latin1(wb_t *w, const char *s)
{
    wb_u8(w, 5);
    wb_int(w, strlen(s));
    wb_put(w, s, strlen(s));
}

/* UTF-16 chars (encoding 4) of an ASCII string. */
static void wb_utf16(wb_t *w, const char *s)
{
    wb_u8(w, 4);
    wb_int(w, strlen(s));
    for (const char *c = s; *c; c++) {
        if (w->compressed)
            wb_var(w, (uint8_t)*c);
        else
            wb_be(w, (uint8_t)*c, 2);
    }
}

/* ---- a minimal JFR writer ---------------------------------------------------------------- */

enum {
    T_BOOLEAN = 4,
    T_CHAR,
    T_FLOAT,
    T_DOUBLE,
    T_BYTE,
    T_SHORT,
    T_INT,
    T_LONG,
    T_STRING = 20,
    T_CLASS,
    T_THREAD,
    T_STATE,
    T_STACK,
    T_FRAME,
    T_METHOD,
    T_SYMBOL,
    T_LOOP,
    T_LABEL,
    E_EXEC = 101,
    E_TLAB,
    E_OUT,
    E_MONITOR,
    E_PARK,
    E_SETTING,
    E_WALLCLOCK,
    E_LIVE,
    E_MALLOC,
    E_ALLOC_SAMPLE
};

typedef struct {
    const char *name, *type;
    int cpool, array;
} tf_t;

typedef struct {
    uint64_t id;
    const char *name;
    tf_t f[9];
} tc_t;

#define EV_HEAD                                                                                    \
    {                                                                                              \
        "startTime", "long", 0, 0                                                                  \
    }
static const tc_t std_classes[] = {
    {T_BOOLEAN, "boolean", {{0}}},
    {T_CHAR, "char", {{0}}},
    {T_FLOAT, "float", {{0}}},
    {T_DOUBLE, "double", {{0}}},
    {T_BYTE, "byte", {{0}}},
    {T_SHORT, "short", {{0}}},
    {T_INT, "int", {{0}}},
    {T_LONG, "long", {{0}}},
    {T_STRING, "java.lang.String", {{0}}},
    {T_CLASS, "java.lang.Class", {{"name", "jdk.types.Symbol", 1, 0}, {"modifiers", "int", 0, 0}}},
    {T_THREAD,
     "java.lang.Thread",
     {{"osName", "java.lang.String", 0, 0}, {"javaThreadId", "long", 0, 0}}},
    {T_STATE, "jdk.types.ThreadState", {{"name", "java.lang.String", 0, 0}}},
    {T_STACK,
     "jdk.types.StackTrace",
     {{"truncated", "boolean", 0, 0}, {"frames", "jdk.types.StackFrame", 0, 1}}},
    {T_FRAME,
     "jdk.types.StackFrame",
     {{"method", "jdk.types.Method", 1, 0},
      {"lineNumber", "int", 0, 0},
      {"bytecodeIndex", "int", 0, 0},
      {"type", "java.lang.String", 0, 0}}},
    {T_METHOD,
     "jdk.types.Method",
     {{"type", "java.lang.Class", 1, 0},
      {"name", "jdk.types.Symbol", 1, 0},
      {"descriptor", "jdk.types.Symbol", 1, 0},
      {"modifiers", "int", 0, 0},
      {"hidden", "boolean", 0, 0}}},
    {T_SYMBOL, "jdk.types.Symbol", {{"string", "java.lang.String", 0, 0}}},
    {E_EXEC,
     "jdk.ExecutionSample",
     {EV_HEAD,
      {"sampledThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"state", "jdk.types.ThreadState", 1, 0},
      {"contextId", "long", 0, 0},
      {"spanId", "long", 0, 0},
      {"spanName", "long", 0, 0}}},
    {E_TLAB,
     "jdk.ObjectAllocationInNewTLAB",
     {EV_HEAD,
      {"eventThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"objectClass", "java.lang.Class", 1, 0},
      {"allocationSize", "long", 0, 0},
      {"tlabSize", "long", 0, 0},
      {"contextId", "long", 0, 0}}},
    {E_OUT,
     "jdk.ObjectAllocationOutsideTLAB",
     {EV_HEAD,
      {"eventThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"objectClass", "java.lang.Class", 1, 0},
      {"allocationSize", "long", 0, 0},
      {"contextId", "long", 0, 0}}},
    {E_MONITOR,
     "jdk.JavaMonitorEnter",
     {EV_HEAD,
      {"duration", "long", 0, 0},
      {"eventThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"monitorClass", "java.lang.Class", 1, 0},
      {"previousOwner", "java.lang.Thread", 1, 0},
      {"address", "long", 0, 0},
      {"contextId", "long", 0, 0}}},
    {E_PARK,
     "jdk.ThreadPark",
     {EV_HEAD,
      {"duration", "long", 0, 0},
      {"eventThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"parkedClass", "java.lang.Class", 1, 0},
      {"timeout", "long", 0, 0},
      {"until", "long", 0, 0},
      {"address", "long", 0, 0}}},
    {E_SETTING,
     "jdk.ActiveSetting",
     {EV_HEAD,
      {"duration", "long", 0, 0},
      {"eventThread", "java.lang.Thread", 1, 0},
      {"id", "long", 0, 0},
      {"name", "java.lang.String", 0, 0},
      {"value", "java.lang.String", 0, 0}}},
    {E_WALLCLOCK,
     "profiler.WallClockSample",
     {EV_HEAD,
      {"sampledThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"state", "jdk.types.ThreadState", 1, 0},
      {"samples", "int", 0, 0}}},
    {E_LIVE,
     "profiler.LiveObject",
     {EV_HEAD,
      {"eventThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"objectClass", "java.lang.Class", 1, 0},
      {"allocationSize", "long", 0, 0},
      {"allocationTime", "long", 0, 0}}},
    {E_MALLOC,
     "profiler.Malloc",
     {EV_HEAD,
      {"eventThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"address", "long", 0, 0},
      {"size", "long", 0, 0}}},
    {T_LABEL, "jdk.jfr.Label", {{"value", "java.lang.String", 0, 0}}},
    {E_ALLOC_SAMPLE,
     "jdk.ObjectAllocationSample",
     {EV_HEAD,
      {"eventThread", "java.lang.Thread", 1, 0},
      {"stackTrace", "jdk.types.StackTrace", 1, 0},
      {"objectClass", "java.lang.Class", 1, 0},
      {"weight", "long", 0, 0}}},
};

/* Faults a generated recording can carry. */
enum {
    F_NONE = 0,
    F_CYCLE = 1 << 0,          /* a class whose inline field is itself, with a pool of it */
    F_BAD_STACK_REF = 1 << 1,  /* an event refers to a stack trace that no pool holds */
    F_BAD_FIELD_TYPE = 1 << 2, /* a field whose type id is no class */
    F_ZERO_EVENT = 1 << 3,     /* an event of size 0 */
    F_STRING_CYCLE = 1 << 4,   /* a String pool entry that refers to itself */
};

typedef struct {
    bool compressed;
    int chunks;
    const char *event_setting; /* NULL: no ActiveSetting */
    int strings;               /* 0 UTF-8, 1 Latin-1, 2 UTF-16, 3 through the String pool */
    bool wallclock;            /* also profiler.WallClockSample events */
    unsigned faults;
} gen_t;

typedef struct {
    char *s[256];
    int n;
} strtab_t;

static uint64_t intern(strtab_t *t, const char *s)
{
    for (int i = 0; i < t->n; i++) {
        if (strcmp(t->s[i], s) == 0) return (uint64_t)i;
    }
    assert_true(t->n < 256);
    t->s[t->n] = strdup(s);
    return (uint64_t)t->n++;
}

static const char *type_id_str(const tc_t *classes, size_t n, const char *type, char *buf,
                               size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(classes[i].name, type) == 0) {
            snprintf(buf, len, "%" PRIu64, classes[i].id);
            return buf;
        }
    }
    snprintf(buf, len, "%s", type); /* already an id */
    return buf;
}

/* Element: name, attributes (pairs of strings), then the child count (written by the caller). */
static void elem(wb_t *e, strtab_t *t, const char *name, int n_attr, const char *const *attrs)
{
    wb_int(e, intern(t, name));
    wb_int(e, (uint64_t)n_attr);
    for (int i = 0; i < n_attr; i++) {
        wb_int(e, intern(t, attrs[2 * i]));
        wb_int(e, intern(t, attrs[2 * i + 1]));
    }
}

static size_t ev_begin(wb_t *w, uint64_t type)
{
    size_t at = w->n;
    static const uint8_t pad5[5] = {0};
    wb_put(w, pad5, w->compressed ? 5 : 4);
    wb_long(w, type);
    return at;
}

static void ev_end(wb_t *w, size_t at)
{
    uint64_t size = w->n - at;
    if (w->compressed) {
        for (int i = 0; i < 5; i++) {
            w->p[at + (size_t)i] = (uint8_t)(((size >> (7 * i)) & 0x7f) | (i < 4 ? 0x80 : 0));
        }
    } else {
        for (int i = 0; i < 4; i++)
            w->p[at + (size_t)i] = (uint8_t)(size >> (8 * (3 - i)));
    }
}

static void write_metadata(wb_t *w, const gen_t *g)
{
    tc_t classes[SC_ARRAY_LEN(std_classes) + 1];
    size_t n = SC_ARRAY_LEN(std_classes);
    memcpy(classes, std_classes, sizeof(std_classes));
    if (g->faults & F_CYCLE) {
        classes[n++] = (tc_t){T_LOOP, "test.Loop", {{"next", "test.Loop", 0, 0}}};
    }
    strtab_t t = {{0}, 0};
    wb_t e = {.compressed = w->compressed};
    elem(&e, &t, "root", 0, NULL);
    wb_int(&e, 2);
    elem(&e, &t, "metadata", 0, NULL);
    wb_int(&e, n);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "%" PRIu64, classes[i].id);
        const char *super = classes[i].id > 100 ? "jdk.jfr.Event"
                            : strncmp(classes[i].name, "jdk.jfr.", 8) == 0
                                ? "java.lang.annotation.Annotation"
                                : NULL;
        /* Symbol and ThreadState are "simple types" (one field), as async-profiler declares them:
         * the JDK's reader then treats them as their field, which `jfr print` needs. */
        bool simple = classes[i].id == T_SYMBOL || classes[i].id == T_STATE;
        const char *attrs[] = {"id", id, "name", classes[i].name, "superType", super};
        if (simple) {
            attrs[4] = "simpleType";
            attrs[5] = "true";
        }
        elem(&e, &t, "class", super || simple ? 3 : 2, attrs);
        int nf = 0;
        while (nf < 9 && classes[i].f[nf].name)
            nf++;
        wb_int(&e, (uint64_t)nf);
        for (int j = 0; j < nf; j++) {
            const tf_t *f = &classes[i].f[j];
            char tid[32];
            const char *type = type_id_str(classes, n, f->type, tid, sizeof(tid));
            if ((g->faults & F_BAD_FIELD_TYPE) && classes[i].id == T_THREAD) type = "777";
            const char *attrs_f[8] = {"name", f->name, "class", type};
            int na = 2;
            if (f->cpool) {
                attrs_f[2 * na] = "constantPool";
                attrs_f[2 * na + 1] = "true";
                na++;
            }
            if (f->array) {
                attrs_f[2 * na] = "dimension";
                attrs_f[2 * na + 1] = "1";
                na++;
            }
            elem(&e, &t, "field", na, attrs_f);
            bool annotate = strcmp(f->name, "stackTrace") == 0;
            wb_int(&e, annotate ? 1 : 0);
            if (annotate) {
                char lid[32];
                snprintf(lid, sizeof(lid), "%d", T_LABEL);
                const char *attrs_a[] = {"class", lid, "value", "Stack Trace"};
                elem(&e, &t, "annotation", 2, attrs_a);
                wb_int(&e, 0);
            }
        }
    }
    elem(&e, &t, "region", 0, NULL);
    wb_int(&e, 0);
    size_t at = ev_begin(w, 0);
    wb_long(w, 0);
    wb_long(w, 0);
    wb_long(w, 1);
    wb_int(w, (uint64_t)t.n);
    for (int i = 0; i < t.n; i++)
        wb_utf8(w, t.s[i]);
    wb_put(w, e.p, e.n);
    ev_end(w, at);
    free(e.p);
    for (int i = 0; i < t.n; i++)
        free(t.s[i]);
}

/* A pooled symbol or state text in the generator's string mode. */
static void gen_text(wb_t *w, const gen_t *g, uint64_t string_key, const char *s)
{
    switch (g->strings) {
    case 1:
        wb_latin1(w, s);
        break;
    case 2:
        wb_utf16(w, s);
        break;
    case 3:
        wb_u8(w, 2);
        wb_long(w, string_key);
        break;
    default:
        wb_utf8(w, s);
    }
}

static const char *const gen_symbols[] = {"",
                                          "com/example/App",
                                          "main",
                                          "work",
                                          "com/example/App$$Lambda$14/0x0000000800c03000",
                                          "run",
                                          "libjvm.so",
                                          "thread_native_entry",
                                          "()V",
                                          "STATE_RUNNABLE",
                                          "STATE_SLEEPING"};

static void write_pools(wb_t *w, const gen_t *g)
{
    size_t at = ev_begin(w, 1);
    wb_long(w, 0);
    wb_long(w, 0);
    wb_long(w, 0);
    wb_u8(w, 0);
    bool cycle = g->faults & F_CYCLE;
    wb_int(w, cycle ? 8 : 7);
    /* String pool: key i = gen_symbols[i]. */
    wb_long(w, T_STRING);
    wb_int(w, SC_ARRAY_LEN(gen_symbols) - 1);
    for (uint64_t i = 1; i < SC_ARRAY_LEN(gen_symbols); i++) {
        wb_long(w, i);
        if ((g->faults & F_STRING_CYCLE) && i == 2) {
            wb_u8(w, 2);
            wb_long(w, 2);
        } else {
            wb_utf8(w, gen_symbols[i]);
        }
    }
    wb_long(w, T_SYMBOL); /* Symbol i -> gen_symbols[i] */
    wb_int(w, 8);
    for (uint64_t i = 1; i <= 8; i++) {
        wb_long(w, i);
        gen_text(w, g, i, gen_symbols[i]);
    }
    wb_long(w, T_CLASS); /* 1 App, 2 App$$Lambda..., 3 libjvm.so */
    wb_int(w, 3);
    const uint64_t class_sym[] = {0, 1, 4, 6};
    for (uint64_t i = 1; i <= 3; i++) {
        wb_long(w, i);
        wb_long(w, class_sym[i]);
        wb_int(w, 1);
    }
    wb_long(w, T_METHOD); /* 1 main, 2 work, 3 run (lambda), 4 thread_native_entry */
    wb_int(w, 4);
    const uint64_t mclass[] = {0, 1, 1, 2, 3}, mname[] = {0, 2, 3, 5, 7};
    for (uint64_t i = 1; i <= 4; i++) {
        wb_long(w, i);
        wb_long(w, mclass[i]);
        wb_long(w, mname[i]);
        wb_long(w, 8);
        wb_int(w, 1);
        wb_u8(w, 0);
    }
    wb_long(w, T_STACK); /* 1 [work:20, main:10]; 2 [run:0, main:11]; 3 [native] */
    wb_int(w, 3);
    const struct {
        int n;
        uint64_t m[2];
        uint64_t line[2];
    } stacks[] = {{0, {0}, {0}}, {2, {2, 1}, {20, 10}}, {2, {3, 1}, {0, 11}}, {1, {4}, {0}}};
    for (uint64_t i = 1; i <= 3; i++) {
        wb_long(w, i);
        wb_u8(w, 0);
        wb_int(w, (uint64_t)stacks[i].n);
        for (int j = 0; j < stacks[i].n; j++) {
            wb_long(w, stacks[i].m[j]);
            wb_int(w, stacks[i].line[j]);
            wb_int(w, 7);
            wb_utf8(w, "Interpreted");
        }
    }
    wb_long(w, T_STATE); /* 1 RUNNABLE, 2 SLEEPING */
    wb_int(w, 2);
    for (uint64_t i = 1; i <= 2; i++) {
        wb_long(w, i);
        gen_text(w, g, 8 + i, gen_symbols[8 + i]);
    }
    wb_long(w, T_THREAD);
    wb_int(w, 1);
    wb_long(w, 1);
    wb_utf8(w, "main");
    wb_long(w, 1);
    if (cycle) {
        wb_long(w, T_LOOP);
        wb_int(w, 1);
        wb_long(w, 1);
    }
    ev_end(w, at);
}

static void ev_exec(wb_t *w, uint64_t stack, uint64_t state, uint64_t ctx, uint64_t span,
                    uint64_t span_name)
{
    size_t at = ev_begin(w, E_EXEC);
    wb_long(w, 1000);
    wb_long(w, 1);
    wb_long(w, stack);
    wb_long(w, state);
    wb_long(w, ctx);
    wb_long(w, span);
    wb_long(w, span_name);
    ev_end(w, at);
}

/* The events of one chunk; expected values below are per chunk. */
static void write_events(wb_t *w, const gen_t *g)
{
    size_t at;
    if (g->event_setting) {
        const char *names[] = {"version", "event"};
        const char *values[] = {"2.9", g->event_setting};
        for (int i = 0; i < 2; i++) {
            at = ev_begin(w, E_SETTING);
            wb_long(w, 0);
            wb_long(w, 0);
            wb_long(w, 1);
            wb_long(w, 5);
            wb_utf8(w, names[i]);
            wb_utf8(w, values[i]);
            ev_end(w, at);
        }
    }
    for (int i = 0; i < 3; i++)
        ev_exec(w, 1, 1, 0, 0, 0);
    for (int i = 0; i < 2; i++)
        ev_exec(w, 2, 1, 1, 0x1234, 7);
    for (int i = 0; i < 4; i++)
        ev_exec(w, 1, 2, 0, 0, 0); /* sleeping: not CPU */
    ev_exec(w, 0, 1, 0, 0, 0);     /* no stack: counted nowhere */
    if (g->faults & F_BAD_STACK_REF) ev_exec(w, 99, 1, 0, 0, 0);
    const uint64_t tlab[][2] = {{1, 1000}, {1, 1000}, {3, 500}};
    for (int i = 0; i < 3; i++) {
        at = ev_begin(w, E_TLAB);
        wb_long(w, 1);
        wb_long(w, 1);
        wb_long(w, tlab[i][0]);
        wb_long(w, 1);
        wb_long(w, 24);
        wb_long(w, tlab[i][1]);
        wb_long(w, 0);
        ev_end(w, at);
    }
    at = ev_begin(w, E_OUT);
    wb_long(w, 1);
    wb_long(w, 1);
    wb_long(w, 2);
    wb_long(w, 1);
    wb_long(w, 64);
    wb_long(w, 0);
    ev_end(w, at);
    at = ev_begin(w, E_MONITOR);
    wb_long(w, 1);
    wb_long(w, 300);
    wb_long(w, 1);
    wb_long(w, 1);
    wb_long(w, 1);
    wb_long(w, 1);
    wb_long(w, 0xdead);
    wb_long(w, 1);
    ev_end(w, at);
    at = ev_begin(w, E_PARK);
    wb_long(w, 1);
    wb_long(w, 7000);
    wb_long(w, 1);
    wb_long(w, 2);
    wb_long(w, 1);
    wb_long(w, 0);
    wb_long(w, 0);
    wb_long(w, 0);
    ev_end(w, at);
    if (g->wallclock) {
        at = ev_begin(w, E_WALLCLOCK);
        wb_long(w, 1);
        wb_long(w, 1);
        wb_long(w, 1);
        wb_long(w, 1);
        wb_int(w, 5);
        ev_end(w, at);
    }
    at = ev_begin(w, E_LIVE);
    wb_long(w, 1);
    wb_long(w, 1);
    wb_long(w, 3);
    wb_long(w, 1);
    wb_long(w, 48);
    wb_long(w, 2);
    ev_end(w, at);
    at = ev_begin(w, E_MALLOC);
    wb_long(w, 1);
    wb_long(w, 1);
    wb_long(w, 1);
    wb_long(w, 0xbeef);
    wb_long(w, 128);
    ev_end(w, at);
    at = ev_begin(w, E_ALLOC_SAMPLE);
    wb_long(w, 1);
    wb_long(w, 1);
    wb_long(w, 2);
    wb_long(w, 1);
    wb_long(w, 4096);
    ev_end(w, at);
    at = ev_begin(w, 555); /* not in the metadata: skipped */
    wb_long(w, 42);
    ev_end(w, at);
    if (g->faults & F_ZERO_EVENT) wb_u8(w, 0);
}

static uint8_t *gen_recording(const gen_t *g, size_t *len)
{
    wb_t w = {.compressed = g->compressed};
    for (int c = 0; c < (g->chunks ? g->chunks : 1); c++) {
        size_t start = w.n;
        wb_put(&w, "FLR\0", 4);
        wb_be(&w, 2, 2);
        wb_be(&w, 0, 2);
        for (int i = 0; i < 7; i++)
            wb_be(&w, 0, 8);
        wb_be(&w, g->compressed ? 1 : 0, 4);
        size_t meta = w.n - start;
        write_metadata(&w, g);
        size_t pools = w.n - start;
        write_pools(&w, g);
        write_events(&w, g);
        uint8_t *h = w.p + start;
        uint64_t fields[] = {w.n - start,   pools, meta,         1700000000000000000ULL,
                             1000000000ULL, 0,     1000000000ULL};
        for (int i = 0; i < 7; i++) {
            for (int b = 0; b < 8; b++)
                h[8 + 8 * i + b] = (uint8_t)(fields[i] >> (8 * (7 - b)));
        }
    }
    *len = w.n;
    return w.p;
}

/* LabelsSnapshot: context 1 = {thread_name: worker}; strings 10, 11 and span name 7. */
static void pb_key(wb_t *w, int field, int wt)
{
    wb_var(w, (uint64_t)(field << 3 | wt));
}

static void pb_bytes(wb_t *w, int field, const wb_t *sub)
{
    pb_key(w, field, 2);
    wb_var(w, sub->n);
    wb_put(w, sub->p, sub->n);
}

static uint8_t *gen_labels(size_t *len)
{
    wb_t out = {.compressed = true}, ctx = {.compressed = true}, lab = {.compressed = true};
    wb_t ent = {.compressed = true};
    pb_key(&lab, 1, 0);
    wb_var(&lab, 10);
    pb_key(&lab, 2, 0);
    wb_var(&lab, 11);
    pb_bytes(&ctx, 1, &lab);
    pb_key(&ent, 1, 0);
    wb_var(&ent, 1);
    pb_bytes(&ent, 2, &ctx);
    pb_bytes(&out, 1, &ent);
    const struct {
        uint64_t id;
        const char *s;
    } strs[] = {{10, "thread_name"}, {11, "worker"}, {7, "GET /api"}};
    for (size_t i = 0; i < SC_ARRAY_LEN(strs); i++) {
        wb_t e = {.compressed = true};
        pb_key(&e, 1, 0);
        wb_var(&e, strs[i].id);
        pb_key(&e, 2, 2);
        wb_var(&e, strlen(strs[i].s));
        wb_put(&e, strs[i].s, strlen(strs[i].s));
        pb_bytes(&out, 2, &e);
        free(e.p);
    }
    free(ctx.p);
    free(lab.p);
    free(ent.p);
    *len = out.n;
    return out.p;
}

/* ---- looking at results ------------------------------------------------------------------ */

static bool str_is(sc_str_t s, const char *c)
{
    return sc_str_eq(s, c);
}

static void type_id(const sc_jfr_profile_t *jp, uint32_t col, char *buf, size_t len)
{
    const sc_profile_t *p = &jp->profile;
    sc_str_t t = sc_profile_str(p, p->sample_types[col].type);
    sc_str_t u = sc_profile_str(p, p->sample_types[col].unit);
    sc_str_t pt = sc_profile_str(p, p->period_type.type);
    sc_str_t pu = sc_profile_str(p, p->period_type.unit);
    snprintf(buf, len, "%s:%.*s:%.*s:%.*s:%.*s", jp->metric, (int)t.len, t.p, (int)u.len, u.p,
             (int)pt.len, pt.p, (int)pu.len, pu.p);
}

/* Does sample s carry label key=value (NULL key: no filter)? */
static bool sample_has(const sc_profile_t *p, const sc_psample_t *s, const char *key,
                       const char *value)
{
    if (!key) return true;
    for (uint32_t i = 0; i < s->label_count; i++) {
        const sc_plabel_t *l = &p->labels[s->label_off + i];
        if (str_is(sc_profile_str(p, l->key), key) && str_is(sc_profile_str(p, l->str), value)) {
            return true;
        }
    }
    return false;
}

static int64_t column_total(const sc_profile_t *p, uint32_t col, const char *key, const char *value)
{
    int64_t sum = 0;
    for (uint32_t i = 0; i < p->n_samples; i++) {
        if (sample_has(p, &p->samples[i], key, value)) {
            sum += p->values[p->samples[i].value_off + col];
        }
    }
    return sum;
}

static const sc_jfr_profile_t *find_kind(const sc_jfr_result_t *r, sc_jfr_kind_t k)
{
    for (uint32_t i = 0; i < r->n_profiles; i++) {
        if (r->profiles[i].kind == k) return &r->profiles[i];
    }
    fail_msg("no profile of kind %d", (int)k);
    abort();
}

/* Frame name of a location of a builder-made profile (ids are index + 1). */
static sc_str_t loc_name(const sc_profile_t *p, uint64_t loc_id, int64_t *line)
{
    assert_true(loc_id >= 1 && loc_id <= p->n_locations);
    const sc_plocation_t *l = &p->locations[loc_id - 1];
    assert_int_equal(l->id, loc_id);
    assert_int_equal(l->line_count, 1);
    const sc_pline_t *ln = &p->lines[l->line_off];
    assert_true(ln->function_id >= 1 && ln->function_id <= p->n_functions);
    if (line) *line = ln->line;
    return sc_profile_str(p, p->functions[ln->function_id - 1].name);
}

/* A folded stack (root first, ';'-joined names) -> value: the collapsed form upstream compares. */
typedef struct {
    char *stack;
    int64_t value;
} folded_t;

typedef struct {
    folded_t *v;
    size_t n, cap;
} folded_set_t;

static void folded_add(folded_set_t *f, char *stack, int64_t value)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->v = realloc(f->v, f->cap * sizeof(folded_t));
        assert_non_null(f->v);
    }
    f->v[f->n++] = (folded_t){stack, value};
}

static int cmp_folded(const void *a, const void *b)
{
    return strcmp(((const folded_t *)a)->stack, ((const folded_t *)b)->stack);
}

/* Sort and merge equal stacks; zero totals vanish. */
static void folded_merge(folded_set_t *f)
{
    qsort(f->v, f->n, sizeof(folded_t), cmp_folded);
    size_t w = 0;
    for (size_t i = 0; i < f->n; i++) {
        if (w && strcmp(f->v[w - 1].stack, f->v[i].stack) == 0) {
            f->v[w - 1].value += f->v[i].value;
            free(f->v[i].stack);
            continue;
        }
        f->v[w++] = f->v[i];
    }
    f->n = w;
}

static void folded_free(folded_set_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].stack);
    free(f->v);
    memset(f, 0, sizeof(*f));
}

static char *join_names(sc_str_t *names, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += names[i].len + 1;
    char *s = malloc(len), *o = s;
    assert_non_null(s);
    for (size_t i = n; i-- > 0;) { /* names are leaf first */
        memcpy(o, names[i].p, names[i].len);
        o += names[i].len;
        if (i) *o++ = ';';
    }
    *o = '\0';
    return s;
}

static void folded_of(const sc_profile_t *p, uint32_t col, const char *key, const char *value,
                      folded_set_t *out)
{
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        if (!sample_has(p, s, key, value)) continue;
        sc_str_t *names = calloc(s->loc_count + 1, sizeof(sc_str_t));
        assert_non_null(names);
        for (uint32_t j = 0; j < s->loc_count; j++) {
            names[j] = loc_name(p, p->loc_ids[s->loc_off + j], NULL);
        }
        folded_add(out, join_names(names, s->loc_count), p->values[s->value_off + col]);
        free(names);
    }
}

/* ---- files ------------------------------------------------------------------------------- */

/* A corpus file, gunzipped when it starts with 1f 8b. NULL when missing. */
static uint8_t *load_corpus(const char *rel, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", sc_test_corpus_dir(), rel);
    return sc_test_read_gunzip(path, len);
}

/* ---- MANIFEST.tsv ------------------------------------------------------------------------ */

typedef struct {
    sc_manifest_t base;
    int n_rows; /* rows with as many cells as the header, first in base.rows */
    int c_path, c_format, c_totals, c_ptype, c_nsamples, c_selector;
} manifest_t;

static int split(char *line, char sep, char **out, int max)
{
    int n = 0;
    out[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == sep) {
            *p = '\0';
            out[n++] = p + 1;
        }
    }
    return n;
}

static bool manifest_load(manifest_t *m)
{
    memset(m, 0, sizeof(*m));
    if (sc_manifest_load(&m->base) != 0) return false;
    m->c_path = sc_manifest_col(&m->base, "path");
    m->c_format = sc_manifest_col(&m->base, "format");
    m->c_totals = sc_manifest_col(&m->base, "totals");
    m->c_ptype = sc_manifest_col(&m->base, "profile_type");
    m->c_nsamples = sc_manifest_col(&m->base, "n_samples");
    m->c_selector = sc_manifest_col(&m->base, "selector");
    assert_true(m->c_path >= 0 && m->c_format >= 0 && m->c_totals >= 0 && m->c_ptype >= 0);
    assert_true(m->c_nsamples >= 0 && m->c_selector >= 0);
    for (int i = 0; i < m->base.n_rows; i++) {
        if (m->base.rows[i].n == m->base.hdr.n) m->base.rows[m->n_rows++] = m->base.rows[i];
    }
    return true;
}

static void manifest_free(manifest_t *m)
{
    sc_manifest_free(&m->base);
}

static const char *col(const manifest_t *m, int r, int c)
{
    return sc_manifest_cell(&m->base, r, c);
}

/* Directory part of a path (without the slash), into buf. */
static void dir_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    snprintf(buf, len, "%.*s", (int)n, path);
}

/* ---- decoding a corpus recording --------------------------------------------------------- */

typedef struct {
    sc_arena_t arena;
    sc_jfr_result_t res;
    sc_err_t err;
    int rc;
} decoded_t;

/* Decode the recording at row r, with the labels snapshot of its directory when there is one.
 * The corpus README: CPU/wall values are sample counts x 10 ms, i.e. upstream's 100 Hz. */
static void decode_row(const manifest_t *m, int r, decoded_t *d)
{
    const char *rel = col(m, r, m->c_path);
    char dir[512], ldir[512];
    dir_of(rel, dir, sizeof(dir));
    size_t len, llen = 0;
    uint8_t *buf = load_corpus(rel, &len), *labels = NULL;
    assert_non_null(buf);
    for (int i = 0; i < m->n_rows; i++) {
        if (strcmp(col(m, i, m->c_format), "jfr-labels") != 0) continue;
        dir_of(col(m, i, m->c_path), ldir, sizeof(ldir));
        if (strcmp(ldir, dir) == 0) labels = load_corpus(col(m, i, m->c_path), &llen);
    }
    sc_jfr_opts_t opts = {
        .sample_rate_hz = 100, .from_ns = 1700000000000000000LL, .until_ns = 1700000010000000000LL};
    sc_arena_init(&d->arena, SC_MiB(1), 0);
    sc_err_clear(&d->err);
    d->rc = sc_jfr_decode(buf, len, labels, llen, &opts, &d->arena, &d->res, &d->err);
    if (d->rc < 0) fprintf(stderr, "%s: rc %d: %s\n", rel, d->rc, d->err.msg);
    free(buf);
    free(labels);
}

/* The profile and column of a profile type id in a result (the test fails without). */
static const sc_jfr_profile_t *find_type(const sc_jfr_result_t *r, const char *id, uint32_t *col)
{
    char buf[256];
    for (uint32_t i = 0; i < r->n_profiles; i++) {
        for (uint32_t c = 0; c < r->profiles[i].profile.n_sample_types; c++) {
            type_id(&r->profiles[i], c, buf, sizeof(buf));
            if (strcmp(buf, id) == 0) {
                *col = c;
                return &r->profiles[i];
            }
        }
    }
    fail_msg("no profile of type %s", id);
    abort();
}

static void test_corpus_totals(void **state)
{
    manifest_t *m = *state;
    if (!m) skip();
    int rows = 0;
    for (int r = 0; r < m->n_rows; r++) {
        if (strcmp(col(m, r, m->c_format), "jfr") != 0) continue;
        rows++;
        decoded_t d;
        decode_row(m, r, &d);
        assert_int_equal(d.rc, 0);
        char types_buf[2048], totals_buf[1024];
        snprintf(types_buf, sizeof(types_buf), "%s", col(m, r, m->c_ptype));
        snprintf(totals_buf, sizeof(totals_buf), "%s", col(m, r, m->c_totals));
        char *types[32], *totals[32];
        int nt = split(types_buf, ',', types, 32), nv = split(totals_buf, ',', totals, 32);
        assert_int_equal(nt, nv);
        int produced = 0;
        for (uint32_t i = 0; i < d.res.n_profiles; i++) {
            produced += (int)d.res.profiles[i].profile.n_sample_types;
        }
        if (produced != nt) {
            fprintf(stderr, "%s: %d profile types, MANIFEST says %d\n", col(m, r, m->c_path),
                    produced, nt);
        }
        assert_int_equal(produced, nt);
        for (int i = 0; i < nt; i++) {
            uint32_t c;
            const sc_jfr_profile_t *jp = find_type(&d.res, types[i], &c);
            int64_t want = strtoll(totals[i], NULL, 10), got = column_total(&jp->profile, c, 0, 0);
            if (want != got) {
                fprintf(stderr, "%s: %s total %" PRId64 ", MANIFEST says %" PRId64 "\n",
                        col(m, r, m->c_path), types[i], got, want);
            }
            assert_int_equal(got, want);
            assert_true(want != 0);
        }
        sc_arena_free(&d.arena);
    }
    assert_true(rows > 0);
}

/* ---- expected query results (pprof) ------------------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t pos, end;
} pbr_t;

static uint64_t pbr_var(pbr_t *r)
{
    uint64_t v = 0;
    for (int s = 0; s < 64; s += 7) {
        assert_true(r->pos < r->end);
        uint8_t b = r->p[r->pos++];
        v |= (uint64_t)(b & 0x7f) << s;
        if (!(b & 0x80)) return v;
    }
    fail_msg("bad varint");
    return 0;
}

/* Next field of r: its number; LEN fields come back in *sub, varints in *v. */
static int pbr_next(pbr_t *r, uint64_t *v, pbr_t *sub)
{
    uint64_t key = pbr_var(r);
    int wt = (int)(key & 7);
    if (wt == 0) {
        *v = pbr_var(r);
    } else if (wt == 2) {
        uint64_t n = pbr_var(r);
        assert_true(n <= r->end - r->pos);
        *sub = (pbr_t){r->p, r->pos, r->pos + n};
        r->pos += n;
    } else {
        size_t n = wt == 1 ? 8 : 4;
        assert_true(wt == 1 || wt == 5);
        r->pos += n;
    }
    return (int)(key >> 3) * 8 + wt;
}

/* Repeated uint64 field: packed or not. */
static void pbr_u64s(int tag, uint64_t v, pbr_t *sub, uint64_t **out, size_t *n)
{
    if ((tag & 7) == 0) {
        *out = realloc(*out, (*n + 1) * sizeof(uint64_t));
        (*out)[(*n)++] = v;
        return;
    }
    while (sub->pos < sub->end) {
        *out = realloc(*out, (*n + 1) * sizeof(uint64_t));
        (*out)[(*n)++] = pbr_var(sub);
    }
}

typedef struct {
    uint64_t id, fn;
} xloc_t;

/* Collapsed stacks of value column `col` of an (expected) pprof file. */
static void expected_folded(const uint8_t *buf, size_t len, folded_set_t *out, int64_t *total,
                            size_t *n_samples)
{
    pbr_t r = {buf, 0, len}, sub, s2, s3;
    uint64_t v;
    char **strs = NULL;
    size_t n_strs = 0, n_locs = 0, n_fns = 0;
    xloc_t *locs = NULL;
    uint64_t(*fns)[2] = NULL; /* id, name */
    typedef struct {
        uint64_t *loc;
        size_t n_loc;
        uint64_t *val;
        size_t n_val;
    } xs_t;
    xs_t *samples = NULL;
    size_t ns = 0;
    while (r.pos < r.end) {
        int tag = pbr_next(&r, &v, &sub);
        if (tag == (6 << 3 | 2)) {
            strs = realloc(strs, (n_strs + 1) * sizeof(char *));
            strs[n_strs] = strndup((const char *)sub.p + sub.pos, sub.end - sub.pos);
            n_strs++;
        } else if (tag == (2 << 3 | 2)) {
            samples = realloc(samples, (ns + 1) * sizeof(xs_t));
            xs_t *x = &samples[ns++];
            memset(x, 0, sizeof(*x));
            while (sub.pos < sub.end) {
                int t = pbr_next(&sub, &v, &s2);
                if (t >> 3 == 1) pbr_u64s(t, v, &s2, &x->loc, &x->n_loc);
                if (t >> 3 == 2) pbr_u64s(t, v, &s2, &x->val, &x->n_val);
            }
        } else if (tag == (4 << 3 | 2)) {
            xloc_t l = {0, 0};
            while (sub.pos < sub.end) {
                int t = pbr_next(&sub, &v, &s2);
                if (t == (1 << 3)) l.id = v;
                if (t == (4 << 3 | 2)) {
                    while (s2.pos < s2.end) {
                        if (pbr_next(&s2, &v, &s3) == (1 << 3)) l.fn = v;
                    }
                }
            }
            locs = realloc(locs, (n_locs + 1) * sizeof(xloc_t));
            locs[n_locs++] = l;
        } else if (tag == (5 << 3 | 2)) {
            uint64_t f[2] = {0, 0};
            while (sub.pos < sub.end) {
                int t = pbr_next(&sub, &v, &s2);
                if (t == (1 << 3)) f[0] = v;
                if (t == (2 << 3)) f[1] = v;
            }
            fns = realloc(fns, (n_fns + 1) * sizeof(*fns));
            fns[n_fns][0] = f[0];
            fns[n_fns][1] = f[1];
            n_fns++;
        }
    }
    *total = 0;
    *n_samples = ns;
    for (size_t i = 0; i < ns; i++) {
        sc_str_t *names = calloc(samples[i].n_loc + 1, sizeof(sc_str_t));
        for (size_t j = 0; j < samples[i].n_loc; j++) {
            uint64_t fn = 0, name = 0;
            for (size_t k = 0; k < n_locs; k++) {
                if (locs[k].id == samples[i].loc[j]) fn = locs[k].fn;
            }
            for (size_t k = 0; k < n_fns; k++) {
                if (fns[k][0] == fn) name = fns[k][1];
            }
            assert_true(name < n_strs);
            names[j] = (sc_str_t){strs[name], (uint32_t)strlen(strs[name])};
        }
        int64_t value = samples[i].n_val ? (int64_t)samples[i].val[0] : 0;
        *total += value;
        folded_add(out, join_names(names, samples[i].n_loc), value);
        free(names);
        free(samples[i].loc);
        free(samples[i].val);
    }
    for (size_t i = 0; i < n_strs; i++)
        free(strs[i]);
    free(strs);
    free(locs);
    free(fns);
    free(samples);
}

/* The recording row (format jfr) whose directory holds `expected_path`'s expected/ folder. */
static int recording_of(const manifest_t *m, const char *expected_path)
{
    char dir[512], rdir[512];
    dir_of(expected_path, dir, sizeof(dir)); /* .../<name>/expected */
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    for (int i = 0; i < m->n_rows; i++) {
        if (strcmp(col(m, i, m->c_format), "jfr") != 0) continue;
        dir_of(col(m, i, m->c_path), rdir, sizeof(rdir));
        if (strcmp(rdir, dir) == 0) return i;
    }
    return -1;
}

/* Selector "{}" or {key="value"}. */
static void parse_selector(const char *sel, char *key, char *value, size_t len, bool *any)
{
    *any = strcmp(sel, "{}") == 0;
    if (*any) return;
    const char *eq = strchr(sel, '=');
    assert_non_null(eq);
    snprintf(key, len, "%.*s", (int)(eq - sel - 1), sel + 1);
    const char *q = eq + 2, *end = strchr(q, '"');
    assert_non_null(end);
    snprintf(value, len, "%.*s", (int)(end - q), q);
}

static void test_corpus_expected(void **state)
{
    manifest_t *m = *state;
    if (!m) skip();
    int checked = 0;
    for (int r = 0; r < m->n_rows; r++) {
        if (strcmp(col(m, r, m->c_format), "pprof-expected-jfr") != 0) continue;
        const char *path = col(m, r, m->c_path);
        int rec = recording_of(m, path);
        assert_true(rec >= 0);
        decoded_t d;
        decode_row(m, rec, &d);
        assert_int_equal(d.rc, 0);
        char key[128], value[128];
        bool any;
        parse_selector(col(m, r, m->c_selector), key, value, sizeof(key), &any);
        uint32_t c;
        const sc_jfr_profile_t *jp = find_type(&d.res, col(m, r, m->c_ptype), &c);
        folded_set_t ours = {0}, want = {0};
        folded_of(&jp->profile, c, any ? NULL : key, value, &ours);
        folded_merge(&ours);
        size_t len, n_expected;
        int64_t total;
        uint8_t *buf = load_corpus(path, &len);
        assert_non_null(buf);
        expected_folded(buf, len, &want, &total, &n_expected);
        folded_merge(&want);
        int64_t golden = strtoll(col(m, r, m->c_totals), NULL, 10);
        int64_t got = column_total(&jp->profile, c, any ? NULL : key, value);
        if (got != golden || ours.n > (size_t)strtoll(col(m, r, m->c_nsamples), NULL, 10)) {
            fprintf(stderr,
                    "%s: total %" PRId64 " (golden %" PRId64 "), %zu stacks (golden "
                    "n_samples %s)\n",
                    path, got, golden, ours.n, col(m, r, m->c_nsamples));
        }
        assert_int_equal(total, golden);
        assert_int_equal(got, golden);
        assert_true(ours.n <= (size_t)strtoll(col(m, r, m->c_nsamples), NULL, 10));
        /* Same collapsed stacks, value for value (upstream's own comparison). */
        size_t diffs = 0;
        for (size_t i = 0, j = 0; i < ours.n || j < want.n;) {
            int cmp = i == ours.n ? 1 : j == want.n ? -1 : strcmp(ours.v[i].stack, want.v[j].stack);
            bool same = cmp == 0 && ours.v[i].value == want.v[j].value;
            if (!same && diffs++ < 3) {
                fprintf(stderr, "%s: %s %s = %" PRId64 "\n", path, cmp <= 0 ? "ours" : "want",
                        cmp <= 0 ? ours.v[i].stack : want.v[j].stack,
                        cmp <= 0 ? ours.v[i].value : want.v[j].value);
            }
            i += cmp <= 0;
            j += cmp >= 0;
        }
        assert_int_equal(diffs, 0);
        folded_free(&ours);
        folded_free(&want);
        free(buf);
        sc_arena_free(&d.arena);
        checked++;
    }
    assert_true(checked > 0);
}

static void test_corpus_bad_magic(void **state)
{
    manifest_t *m = *state;
    if (!m) skip();
    int seen = 0;
    for (int r = 0; r < m->n_rows; r++) {
        if (strcmp(col(m, r, m->c_format), "malformed-jfr") != 0) continue;
        size_t len;
        uint8_t *buf = load_corpus(col(m, r, m->c_path), &len);
        assert_non_null(buf);
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(64), 0);
        sc_jfr_result_t res;
        sc_err_t err;
        sc_err_clear(&err);
        assert_int_equal(sc_jfr_decode(buf, len, NULL, 0, NULL, &a, &res, &err), -SC_E_MALFORMED);
        assert_non_null(strstr(err.msg, "magic"));
        assert_int_equal(res.n_profiles, 0);
        sc_arena_free(&a);
        free(buf);
        seen++;
    }
    assert_true(seen > 0);
}

/* The smallest jfr recording of the corpus. */
static uint8_t *smallest_recording(const manifest_t *m, size_t *len)
{
    uint8_t *best = NULL;
    for (int r = 0; r < m->n_rows; r++) {
        if (strcmp(col(m, r, m->c_format), "jfr") != 0) continue;
        size_t n;
        uint8_t *b = load_corpus(col(m, r, m->c_path), &n);
        if (b && (!best || n < *len)) {
            free(best);
            best = b;
            *len = n;
        } else {
            free(b);
        }
    }
    return best;
}

static void patch_size(uint8_t *p, uint64_t size)
{
    for (int b = 0; b < 8; b++)
        p[8 + b] = (uint8_t)(size >> (8 * (7 - b)));
}

/* Truncations (as is, and with the chunk size patched to match so the parser goes deeper) and
 * single-byte corruptions at many offsets: an error with a message, or a clean success. */
static void test_corpus_damage(void **state)
{
    manifest_t *m = *state;
    if (!m) skip();
    size_t len = 0;
    uint8_t *orig = smallest_recording(m, &len);
    assert_non_null(orig);
    uint8_t *buf = malloc(len);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(256), SC_MiB(256));
    size_t step = len / 300 + 1;
    int ok = 0, bad = 0;
    for (size_t cut = 0; cut < len; cut += cut < 300 ? 1 : step) {
        for (int patched = 0; patched < 2; patched++) {
            memcpy(buf, orig, cut);
            if (patched && cut >= 16) patch_size(buf, cut);
            sc_jfr_result_t res;
            sc_err_t err;
            sc_err_clear(&err);
            int rc = sc_jfr_decode(buf, cut, NULL, 0, NULL, &a, &res, &err);
            if (!patched || cut < 68) assert_int_equal(rc, -SC_E_MALFORMED);
            assert_true(rc == 0 || rc == -SC_E_MALFORMED);
            if (rc < 0) assert_true(err.msg[0] != '\0');
            rc == 0 ? ok++ : bad++;
            sc_arena_reset(&a);
        }
    }
    const uint8_t junk[] = {0x00, 0xff, 0x80, 0x7f, 0x02};
    for (size_t off = 0; off < len; off += step / 2 + 1) {
        memcpy(buf, orig, len);
        buf[off] = junk[off % SC_ARRAY_LEN(junk)] ^ (buf[off] == junk[off % 5] ? 0x55 : 0);
        sc_jfr_result_t res;
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_jfr_decode(buf, len, NULL, 0, NULL, &a, &res, &err);
        assert_true(rc == 0 || rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE);
        if (rc < 0) assert_true(err.msg[0] != '\0');
        sc_arena_reset(&a);
    }
    assert_true(bad > 0);
    sc_arena_free(&a);
    free(buf);
    free(orig);
}

/* ---- synthetic recordings ---------------------------------------------------------------- */

typedef struct {
    sc_arena_t arena;
    sc_jfr_result_t res;
    sc_err_t err;
    int rc;
} run_t;

static void run_gen(const gen_t *g, bool labels, const sc_jfr_opts_t *opts, run_t *r)
{
    size_t len, llen = 0;
    uint8_t *buf = gen_recording(g, &len), *lb = labels ? gen_labels(&llen) : NULL;
    static const sc_jfr_opts_t defaults = {
        .sample_rate_hz = 100, .from_ns = 1700000000000000000LL, .until_ns = 1700000010000000000LL};
    sc_arena_init(&r->arena, SC_KiB(64), 0);
    sc_err_clear(&r->err);
    r->rc = sc_jfr_decode(buf, len, lb, llen, opts ? opts : &defaults, &r->arena, &r->res, &r->err);
    free(buf);
    free(lb);
}

static void check_types(const sc_jfr_profile_t *jp, const char *const *ids, uint32_t n)
{
    char buf[256];
    assert_int_equal(jp->profile.n_sample_types, n);
    for (uint32_t i = 0; i < n; i++) {
        type_id(jp, i, buf, sizeof(buf));
        assert_string_equal(buf, ids[i]);
    }
}

/* Everything one generated chunk holds, times `chunks`. */
static void check_basic(const sc_jfr_result_t *res, int chunks, int64_t period, bool wall)
{
    static const sc_jfr_kind_t order[] = {SC_JFR_CPU,
                                          SC_JFR_WALL,
                                          SC_JFR_ALLOC_IN_NEW_TLAB,
                                          SC_JFR_ALLOC_OUTSIDE_TLAB,
                                          SC_JFR_ALLOC_SAMPLE,
                                          SC_JFR_LOCK,
                                          SC_JFR_PARK,
                                          SC_JFR_LIVE,
                                          SC_JFR_MALLOC};
    uint32_t k = 0;
    for (size_t i = 0; i < SC_ARRAY_LEN(order); i++) {
        if (order[i] == SC_JFR_WALL && !wall) continue;
        assert_true(k < res->n_profiles);
        assert_int_equal(res->profiles[k].kind, order[i]);
        assert_string_equal(res->profiles[k].metric, sc_jfr_kind_metric(order[i]));
        assert_int_equal(res->profiles[k].profile.time_nanos, 1700000000000000000LL);
        assert_int_equal(res->profiles[k].profile.duration_nanos, 10000000000LL);
        k++;
    }
    assert_int_equal(res->n_profiles, k);
    const sc_jfr_profile_t *cpu = find_kind(res, SC_JFR_CPU);
    static const char *const cpu_ids[] = {"process_cpu:cpu:nanoseconds:cpu:nanoseconds"};
    check_types(cpu, cpu_ids, 1);
    assert_int_equal(cpu->profile.period, period);
    assert_int_equal(column_total(&cpu->profile, 0, NULL, NULL), 5 * period * chunks);
    assert_int_equal(cpu->profile.n_samples, 2); /* merged per stack and context, over chunks */
    const sc_jfr_profile_t *tlab = find_kind(res, SC_JFR_ALLOC_IN_NEW_TLAB);
    static const char *const tlab_ids[] = {"memory:alloc_in_new_tlab_objects:count:space:bytes",
                                           "memory:alloc_in_new_tlab_bytes:bytes:space:bytes"};
    check_types(tlab, tlab_ids, 2);
    assert_int_equal(column_total(&tlab->profile, 0, NULL, NULL), 3 * chunks);
    assert_int_equal(column_total(&tlab->profile, 1, NULL, NULL), 2500 * chunks);
    const sc_jfr_profile_t *out = find_kind(res, SC_JFR_ALLOC_OUTSIDE_TLAB);
    static const char *const out_ids[] = {"memory:alloc_outside_tlab_objects:count:space:bytes",
                                          "memory:alloc_outside_tlab_bytes:bytes:space:bytes"};
    check_types(out, out_ids, 2);
    assert_int_equal(column_total(&out->profile, 1, NULL, NULL), 64 * chunks);
    const sc_jfr_profile_t *lock = find_kind(res, SC_JFR_LOCK);
    static const char *const lock_ids[] = {"mutex:contentions:count:mutex:count",
                                           "mutex:delay:nanoseconds:mutex:count"};
    check_types(lock, lock_ids, 2);
    assert_int_equal(column_total(&lock->profile, 1, NULL, NULL), 300 * chunks);
    const sc_jfr_profile_t *park = find_kind(res, SC_JFR_PARK);
    static const char *const park_ids[] = {"block:contentions:count:block:count",
                                           "block:delay:nanoseconds:block:count"};
    check_types(park, park_ids, 2);
    assert_int_equal(column_total(&park->profile, 0, NULL, NULL), chunks);
    assert_int_equal(column_total(&park->profile, 1, NULL, NULL), 7000 * chunks);
    const sc_jfr_profile_t *live = find_kind(res, SC_JFR_LIVE);
    static const char *const live_ids[] = {"memory:live:count:objects:count"};
    check_types(live, live_ids, 1);
    const sc_jfr_profile_t *mal = find_kind(res, SC_JFR_MALLOC);
    static const char *const mal_ids[] = {"memory:malloc_objects:count::",
                                          "memory:malloc_bytes:bytes::"};
    check_types(mal, mal_ids, 2);
    assert_int_equal(column_total(&mal->profile, 1, NULL, NULL), 128 * chunks);
    const sc_jfr_profile_t *as = find_kind(res, SC_JFR_ALLOC_SAMPLE);
    static const char *const as_ids[] = {"memory:alloc_sample_objects:count:space:bytes",
                                         "memory:alloc_sample_bytes:bytes:space:bytes"};
    check_types(as, as_ids, 2);
    assert_int_equal(column_total(&as->profile, 1, NULL, NULL), 4096 * chunks);
}

/* Frames of the CPU sample on stack 1: work:20 (leaf), main:10. */
static void check_frames(const sc_jfr_result_t *res)
{
    const sc_profile_t *p = &find_kind(res, SC_JFR_CPU)->profile;
    bool seen1 = false, seen2 = false;
    for (uint32_t i = 0; i < p->n_samples; i++) {
        const sc_psample_t *s = &p->samples[i];
        assert_int_equal(s->loc_count, 2);
        int64_t l0, l1;
        sc_str_t leaf = loc_name(p, p->loc_ids[s->loc_off], &l0);
        sc_str_t root = loc_name(p, p->loc_ids[s->loc_off + 1], &l1);
        assert_true(str_is(root, "com/example/App.main"));
        if (str_is(leaf, "com/example/App.work")) {
            assert_int_equal(l0, 20);
            assert_int_equal(l1, 10);
            seen1 = true;
        } else {
            assert_true(str_is(leaf, "com/example/App$$Lambda_.run"));
            assert_int_equal(l0, 0);
            assert_int_equal(l1, 11);
            seen2 = true;
        }
    }
    assert_true(seen1 && seen2);
}

static void test_basic(void **state)
{
    (void)state;
    run_t r;
    gen_t g = {.compressed = true, .event_setting = "itimer"};
    run_gen(&g, false, NULL, &r);
    assert_int_equal(r.rc, 0);
    check_basic(&r.res, 1, 10000000, false);
    check_frames(&r.res);
    assert_true(str_is(r.res.jfr_event, "itimer"));
    assert_true(str_is(r.res.profiles[0].jfr_event, "itimer"));
    assert_int_equal(r.res.chunks_count, 1);
    /* Without a snapshot there are no labels, not even profile_id. */
    const sc_profile_t *p = &find_kind(&r.res, SC_JFR_CPU)->profile;
    assert_int_equal(p->n_labels, 0);
    sc_arena_free(&r.arena);
}

static void test_string_encodings(void **state)
{
    (void)state;
    for (int mode = 0; mode < 4; mode++) {
        for (int compressed = 0; compressed < 2; compressed++) {
            run_t r;
            gen_t g = {.compressed = compressed, .strings = mode, .event_setting = "cpu"};
            run_gen(&g, false, NULL, &r);
            if (r.rc) fprintf(stderr, "mode %d compressed %d: %s\n", mode, compressed, r.err.msg);
            assert_int_equal(r.rc, 0);
            check_basic(&r.res, 1, 10000000, false);
            check_frames(&r.res);
            sc_arena_free(&r.arena);
        }
    }
}

static void test_chunks(void **state)
{
    (void)state;
    run_t r;
    gen_t g = {.compressed = true, .chunks = 3};
    run_gen(&g, false, NULL, &r);
    assert_int_equal(r.rc, 0);
    assert_int_equal(r.res.chunks_count, 3);
    check_basic(&r.res, 3, 10000000, false);
    assert_int_equal(r.res.jfr_event.len, 0);
    sc_arena_free(&r.arena);
}

static void test_wall(void **state)
{
    (void)state;
    run_t r;
    /* event=wall: every ExecutionSample (sleeping too, 9 with a stack) is also wall. */
    gen_t g = {.compressed = true, .event_setting = "wall"};
    run_gen(&g, false, NULL, &r);
    assert_int_equal(r.rc, 0);
    check_basic(&r.res, 1, 10000000, true);
    const sc_jfr_profile_t *wall = find_kind(&r.res, SC_JFR_WALL);
    static const char *const ids[] = {"wall:wall:nanoseconds:wall:nanoseconds"};
    check_types(wall, ids, 1);
    assert_int_equal(column_total(&wall->profile, 0, NULL, NULL), 9 * 10000000LL);
    sc_arena_free(&r.arena);
    /* WallClockSample: its `samples` count times the period. */
    gen_t g2 = {.compressed = true, .wallclock = true};
    run_gen(&g2, false, NULL, &r);
    assert_int_equal(r.rc, 0);
    check_basic(&r.res, 1, 10000000, true);
    wall = find_kind(&r.res, SC_JFR_WALL);
    assert_int_equal(column_total(&wall->profile, 0, NULL, NULL), 5 * 10000000LL);
    sc_arena_free(&r.arena);
}

static void test_sample_rate(void **state)
{
    (void)state;
    run_t r;
    gen_t g = {.compressed = true};
    sc_jfr_opts_t opts = {
        .sample_rate_hz = 0, .from_ns = 1700000000000000000LL, .until_ns = 1700000010000000000LL};
    run_gen(&g, false, &opts, &r);
    assert_int_equal(r.rc, 0);
    check_basic(&r.res, 1, 0, false);
    sc_arena_free(&r.arena);
    opts.sample_rate_hz = 97; /* integer division, as upstream */
    run_gen(&g, false, &opts, &r);
    assert_int_equal(r.rc, 0);
    check_basic(&r.res, 1, 1000000000 / 97, false);
    sc_arena_free(&r.arena);
}

static void test_labels(void **state)
{
    (void)state;
    run_t r;
    gen_t g = {.compressed = true, .event_setting = "cpu"};
    run_gen(&g, true, NULL, &r);
    assert_int_equal(r.rc, 0);
    const sc_profile_t *p = &find_kind(&r.res, SC_JFR_CPU)->profile;
    assert_int_equal(column_total(p, 0, "thread_name", "worker"), 2 * 10000000LL);
    assert_int_equal(column_total(p, 0, "profile_id", "0000000000001234"), 2 * 10000000LL);
    assert_int_equal(column_total(p, 0, "span_name", "GET /api"), 2 * 10000000LL);
    assert_int_equal(p->n_labels, 3);
    /* JavaMonitorEnter carries contextId 1 too. */
    const sc_profile_t *lock = &find_kind(&r.res, SC_JFR_LOCK)->profile;
    assert_int_equal(column_total(lock, 1, "thread_name", "worker"), 300);
    sc_arena_free(&r.arena);
    /* A broken snapshot is malformed input. */
    static const uint8_t broken[] = {0x0a, 0x05, 0x08};
    size_t len;
    uint8_t *buf = gen_recording(&g, &len);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_jfr_result_t res;
    sc_err_t err;
    sc_err_clear(&err);
    assert_int_equal(sc_jfr_decode(buf, len, broken, sizeof(broken), NULL, &a, &res, &err),
                     -SC_E_MALFORMED);
    assert_non_null(strstr(err.msg, "labels"));
    /* An empty snapshot is a snapshot: no labels, but decoding works. */
    assert_int_equal(sc_jfr_decode(buf, len, broken, 0, NULL, &a, &res, &err), 0);
    sc_arena_free(&a);
    free(buf);
}

static void expect_malformed(unsigned faults, const char *needle)
{
    run_t r;
    gen_t g = {.compressed = true, .strings = 3, .faults = faults};
    run_gen(&g, false, NULL, &r);
    if (r.rc != -SC_E_MALFORMED || !strstr(r.err.msg, needle)) {
        fprintf(stderr, "faults %#x: rc %d: %s (want \"%s\")\n", faults, r.rc, r.err.msg, needle);
    }
    assert_int_equal(r.rc, -SC_E_MALFORMED);
    assert_non_null(strstr(r.err.msg, needle));
    assert_int_equal(r.res.n_profiles, 0);
    sc_arena_free(&r.arena);
}

static void test_malformed(void **state)
{
    (void)state;
    expect_malformed(F_CYCLE, "cycle");
    expect_malformed(F_BAD_STACK_REF, "reference 99 to nothing");
    expect_malformed(F_BAD_FIELD_TYPE, "not a class");
    expect_malformed(F_ZERO_EVENT, "size 0");
    expect_malformed(F_STRING_CYCLE, "cycle of string pool references");
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), 0);
    sc_jfr_result_t res;
    sc_err_t err;
    static const uint8_t tiny[] = "FLR";
    assert_int_equal(sc_jfr_decode(tiny, 0, NULL, 0, NULL, &a, &res, &err), -SC_E_MALFORMED);
    assert_int_equal(sc_jfr_decode(tiny, 3, NULL, 0, NULL, &a, &res, &err), -SC_E_MALFORMED);
    assert_non_null(strstr(err.msg, "truncated chunk header"));
    sc_arena_free(&a);
}

static void test_limits(void **state)
{
    (void)state;
    run_t r;
    gen_t g = {.compressed = true};
    sc_jfr_opts_t opts = {.sample_rate_hz = 100, .samples_max = 1};
    run_gen(&g, false, &opts, &r);
    assert_int_equal(r.rc, -SC_E_TOO_LARGE);
    sc_arena_free(&r.arena);
    opts = (sc_jfr_opts_t){.sample_rate_hz = 100, .bytes_max = 100};
    run_gen(&g, false, &opts, &r);
    assert_int_equal(r.rc, -SC_E_TOO_LARGE);
    sc_arena_free(&r.arena);
    opts = (sc_jfr_opts_t){.sample_rate_hz = 100, .scratch_bytes_max = 4096};
    run_gen(&g, false, &opts, &r);
    assert_int_equal(r.rc, -SC_E_TOO_LARGE);
    assert_non_null(strstr(r.err.msg, "working memory"));
    sc_arena_free(&r.arena);
    /* A tiny output arena: -SC_E_NOMEM, never a crash. */
    size_t len;
    uint8_t *buf = gen_recording(&g, &len);
    for (size_t limit = 256; limit < 65536; limit *= 2) {
        sc_arena_t a;
        sc_arena_init(&a, 256, limit);
        sc_jfr_result_t res;
        sc_err_t err;
        int rc = sc_jfr_decode(buf, len, NULL, 0, NULL, &a, &res, &err);
        assert_true(rc == 0 || rc == -SC_E_NOMEM);
        sc_arena_free(&a);
    }
    free(buf);
}

/* Every truncation and every single-byte change of a synthetic recording. */
static void test_synthetic_damage(void **state)
{
    (void)state;
    gen_t g = {.compressed = true, .event_setting = "wall", .wallclock = true, .strings = 3};
    size_t len, llen;
    uint8_t *orig = gen_recording(&g, &len), *lb = gen_labels(&llen);
    uint8_t *buf = malloc(len);
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(64), SC_MiB(64));
    for (size_t off = 0; off < len; off++) {
        for (int v = 0; v < 3; v++) {
            static const uint8_t repl[] = {0x00, 0xff, 0x81};
            memcpy(buf, orig, len);
            buf[off] = repl[v];
            sc_jfr_result_t res;
            sc_err_t err;
            int rc = sc_jfr_decode(buf, len, lb, llen, NULL, &a, &res, &err);
            assert_true(rc == 0 || rc == -SC_E_MALFORMED || rc == -SC_E_TOO_LARGE);
            sc_arena_reset(&a);
        }
        sc_jfr_result_t res;
        sc_err_t err;
        memcpy(buf, orig, off);
        if (off >= 16) patch_size(buf, off);
        int rc = sc_jfr_decode(buf, off, lb, llen, NULL, &a, &res, &err);
        assert_true(rc == 0 || rc == -SC_E_MALFORMED);
        sc_arena_reset(&a);
    }
    for (size_t off = 0; off < llen; off++) { /* truncated snapshots */
        sc_jfr_result_t res;
        sc_err_t err;
        int rc = sc_jfr_decode(orig, len, lb, off, NULL, &a, &res, &err);
        assert_true(rc == 0 || rc == -SC_E_MALFORMED);
        sc_arena_reset(&a);
    }
    sc_arena_free(&a);
    free(buf);
    free(orig);
    free(lb);
}

static void expect_rewrite(const char *in, const char *out)
{
    sc_arena_t a;
    sc_arena_init(&a, SC_KiB(4), 0);
    sc_str_t s = jfr_symbol_rewrite(&a, (sc_str_t){in, (uint32_t)strlen(in)});
    if (!sc_str_eq(s, out)) fprintf(stderr, "%s -> %.*s, want %s\n", in, (int)s.len, s.p, out);
    assert_true(sc_str_eq(s, out));
    sc_arena_free(&a);
}

static void test_symbol_rewrite(void **state)
{
    (void)state;
    expect_rewrite("jdk/internal/reflect/GeneratedMethodAccessor31",
                   "jdk/internal/reflect/GeneratedMethodAccessor_");
    expect_rewrite("jdk/internal/reflect/GeneratedMethodAccessor", "jdk/internal/reflect/"
                                                                   "GeneratedMethodAccessor");
    expect_rewrite("org/example/rideshare/OrderService$$Lambda$669.0x0000000800fd7318",
                   "org/example/rideshare/OrderService$$Lambda_");
    expect_rewrite("Fib$$Lambda.0x00007ffa600c4da0", "Fib$$Lambda_");
    expect_rewrite("App$$Lambda$14/0x0000000800c03000", "App$$Lambda_");
    expect_rewrite("App$$Lambda$14", "App$$Lambda$14");
    expect_rewrite("App$$Lambda14", "App$$Lambda_");
    expect_rewrite("A$$Lambda$$Lambda$1/0xab", "A$$Lambda$$Lambda_");
    expect_rewrite("$$Lambda$1/0xab", "$$Lambda$1/0xab");
    expect_rewrite("App$$Lambda$1/0xAB", "App$$Lambda$1/0xAB");
    expect_rewrite("libzstd-jni-1.5.1-16931311898282279136.so", "libzstd-jni-_.so");
    expect_rewrite("./tmp/libzstd-jni-1.5.1-16931311898282279136.so (deleted)", "libzstd-jni-_.so");
    expect_rewrite("libzstd-jni-1.5-1.so", "libzstd-jni-1.5-1.so");
    expect_rewrite("./tmp/libamazonCorrettoCryptoProvider109b39cf33c563eb.so",
                   "libamazonCorrettoCryptoProvider_.so");
    expect_rewrite("./tmp/amazonCorrettoCryptoProviderNativeLibraries.7382c2f79097f415/"
                   "libcrypto.so (deleted)",
                   "libamazonCorrettoCryptoProvider_.so");
    expect_rewrite("libasyncProfiler-linux-arm64-17b9a1d8156277a98ccc871afa9a8f69215f92.so",
                   "libasyncProfiler-_.so");
    expect_rewrite("/tmp/libasyncProfiler-macos-17b9a1d8156277a98ccc871afa9a8f69215f92.so",
                   "libasyncProfiler-_.so");
    expect_rewrite("libasyncProfiler-linux-x64-0000.so", "libasyncProfiler-linux-x64-0000.so");
    expect_rewrite("java/lang/Thread", "java/lang/Thread");
    expect_rewrite("", "");
}

/* ---- seeds for the fuzz target ----------------------------------------------------------- */

static void write_seeds(const char *dir)
{
    const struct {
        const char *name;
        gen_t g;
    } seeds[] = {
        {"basic.jfr", {.compressed = true, .event_setting = "itimer"}},
        {"wall.jfr", {.compressed = true, .event_setting = "wall", .wallclock = true}},
        {"chunks.jfr", {.compressed = true, .chunks = 2, .strings = 3}},
        {"uncompressed.jfr", {.compressed = false, .strings = 2}},
        {"latin1.jfr", {.compressed = true, .strings = 1}},
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(seeds); i++) {
        char path[1024];
        size_t len;
        uint8_t *buf = gen_recording(&seeds[i].g, &len);
        snprintf(path, sizeof(path), "%s/%s", dir, seeds[i].name);
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(buf, 1, len, fp), len);
        fclose(fp);
        free(buf);
    }
    size_t llen;
    uint8_t *lb = gen_labels(&llen);
    char path[1024];
    snprintf(path, sizeof(path), "%s/labels.pb", dir);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(lb, 1, llen, fp), llen);
    fclose(fp);
    free(lb);
}

static int corpus_setup(void **state)
{
    static manifest_t m;
    *state = manifest_load(&m) ? &m : NULL;
    return 0;
}

static int corpus_teardown(void **state)
{
    if (*state) manifest_free(*state);
    return 0;
}

int main(void)
{
    const char *seeds = getenv("SC_JFR_WRITE_SEEDS");
    if (seeds && *seeds) write_seeds(seeds);
    const struct CMUnitTest synthetic[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_string_encodings),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_wall),
        cmocka_unit_test(test_sample_rate),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_synthetic_damage),
        cmocka_unit_test(test_symbol_rewrite),
    };
    int failed = cmocka_run_group_tests_name("jfr_synthetic", synthetic, NULL, NULL);
    if (failed) return failed;
    manifest_t probe;
    if (!manifest_load(&probe)) {
        fprintf(stderr, "no MANIFEST.tsv under SC_CORPUS_DIR: corpus tests skipped\n");
        return 77;
    }
    manifest_free(&probe);
    const struct CMUnitTest corpus[] = {
        cmocka_unit_test(test_corpus_totals),
        cmocka_unit_test(test_corpus_expected),
        cmocka_unit_test(test_corpus_bad_magic),
        cmocka_unit_test(test_corpus_damage),
    };
    return cmocka_run_group_tests_name("jfr_corpus", corpus, corpus_setup, corpus_teardown);
}
