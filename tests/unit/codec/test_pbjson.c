/* Tests of codec/pbjson.c: exact JSON for the test proto (every field type and label) and for
 * push.v1.PushRequest; decoding of mixed names, unknown fields and enum names, 64-bit strings,
 * base64 variants and every refusal with its message; round trips; decoding through an arena and
 * through an allocator that fails at each allocation in turn (nothing may leak). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"

#include "codec/pbjson.h"
#include "codec/proto/push.pb-c.h"
#include "codec/proto/test_pbjson.pb-c.h"

typedef Pbjson__Test__All all_t;
typedef Pbjson__Test__Inner inner_t;

/* ---- helpers ---- */

static char *encode(const ProtobufCMessage *m)
{
    sc_buf_t b;
    sc_buf_init(&b, 0);
    assert_int_equal(sc_pbjson_encode(m, &b), 0);
    char *s = malloc(b.len + 1);
    assert_non_null(s);
    memcpy(s, b.data, b.len);
    s[b.len] = '\0';
    sc_buf_free(&b);
    /* Whatever we write, an independent parser must read. */
    json_error_t jerr;
    json_t *j = json_loads(s, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!j) fail_msg("encoder output is not JSON (%s): %s", jerr.text, s);
    json_decref(j);
    return s;
}

static void assert_encodes(const ProtobufCMessage *m, const char *want)
{
    char *got = encode(m);
    assert_string_equal(got, want);
    free(got);
}

static ProtobufCMessage *decode_ok(const ProtobufCMessageDescriptor *d, const char *json)
{
    ProtobufCMessage *m = NULL;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_pbjson_decode(d, json, strlen(json), NULL, &m, &err);
    if (rc != 0) fail_msg("decode failed (%d: %s) for %s", rc, err.msg, json);
    assert_non_null(m);
    return m;
}

/* Decode, re-encode, compare with want (NULL: the input itself), free. */
static void assert_reencodes(const ProtobufCMessageDescriptor *d, const char *json,
                             const char *want)
{
    ProtobufCMessage *m = decode_ok(d, json);
    assert_encodes(m, want ? want : json);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void assert_refused(const ProtobufCMessageDescriptor *d, const char *json, size_t len,
                           int code, const char *msg)
{
    ProtobufCMessage *m = (ProtobufCMessage *)0x1;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_pbjson_decode(d, json, len, NULL, &m, &err);
    if (rc != code) fail_msg("want %d, got %d (%s) for %s", code, rc, err.msg, json);
    assert_null(m);
    assert_int_equal(err.code, code);
    if (msg && strcmp(err.msg, msg) != 0) {
        fail_msg("message \"%s\", want \"%s\", for %s", err.msg, msg, json);
    }
}

static void refused(const char *json, int code, const char *msg)
{
    assert_refused(&pbjson__test__all__descriptor, json, strlen(json), code, msg);
}

/* ---- encode ---- */

static void test_encode_push(void **state)
{
    (void)state;
    Types__V1__LabelPair lp;
    types__v1__label_pair__init(&lp);
    lp.name = "__name__";
    lp.value = "process_cpu";
    Types__V1__LabelPair *lps[] = {&lp};
    uint8_t raw[] = {0xaa, 0xbb, 0xcc, 0xdd};
    Push__V1__RawSample rs;
    push__v1__raw_sample__init(&rs);
    rs.raw_profile.data = raw;
    rs.raw_profile.len = sizeof(raw);
    Push__V1__RawSample *rss[] = {&rs};
    Push__V1__RawProfileSeries ser;
    push__v1__raw_profile_series__init(&ser);
    ser.n_labels = 1;
    ser.labels = lps;
    ser.n_samples = 1;
    ser.samples = rss;
    Push__V1__RawProfileSeries *sers[] = {&ser};
    Push__V1__PushRequest req;
    push__v1__push_request__init(&req);
    req.n_series = 1;
    req.series = sers;
    const char *want =
        "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":\"process_cpu\"}],"
        "\"samples\":[{\"rawProfile\":\"qrvM3Q==\"}]}]}";
    assert_encodes(&req.base, want);
    assert_reencodes(&push__v1__push_request__descriptor, want, NULL);

    Push__V1__PushResponse resp;
    push__v1__push_response__init(&resp);
    assert_encodes(&resp.base, "{}");
    Push__V1__PushRequest empty;
    push__v1__push_request__init(&empty);
    assert_encodes(&empty.base, "{}");
}

/* Every field of All set to something that is not its default. */
typedef struct {
    all_t a;
    inner_t in, kid, r0, r1, bid;
    inner_t *rin[2];
    int32_t ri32[3];
    int64_t ri64[2];
    uint64_t ru64[1];
    double rdbl[7];
    float rflt[2];
    protobuf_c_boolean rflag[2];
    char *rstr[2];
    ProtobufCBinaryData rraw[2];
    Pbjson__Test__Color rcolor[3];
    Pbjson__Test__All__AttrsEntry at0, at1;
    Pbjson__Test__All__AttrsEntry *at[2];
    Pbjson__Test__All__ByIdEntry bi0, bi1;
    Pbjson__Test__All__ByIdEntry *bi[2];
    Pbjson__Test__All__ByFlagEntry bf0, bf1;
    Pbjson__Test__All__ByFlagEntry *bf[2];
    Pbjson__Test__All__ByU32Entry bu0;
    Pbjson__Test__All__ByU32Entry *bu[1];
} full_t;

static uint8_t raw4[] = {0xaa, 0xbb, 0xcc, 0xdd};
static uint8_t ff[] = {0xff};
static uint8_t hi[] = {'h', 'i'};

static void fill_scalars(all_t *a)
{
    a->i32 = -5;
    a->i64 = INT64_MIN;
    a->u32 = UINT32_MAX;
    a->u64 = UINT64_MAX;
    a->s32 = INT32_MIN;
    a->s64 = 42;
    a->f32 = 7;
    a->f64 = 8;
    a->sf32 = -9;
    a->sf64 = -10;
    a->dbl = 0.1;
    a->flt = 1.1f;
    a->flag = 1;
    a->str = "h\xc3\xa9llo \"q\"\n";
    a->raw.data = raw4;
    a->raw.len = sizeof(raw4);
    a->color = PBJSON__TEST__COLOR__COLOR_NEGATIVE;
    a->choice_case = PBJSON__TEST__ALL__CHOICE_CHOICE_I64;
    a->choice_i64 = 0;
    a->snake_case_name = "s";
    a->profile_typeid = "p";
    a->id = "i";
    a->x__y_ = -1;
}

static void fill_repeated(full_t *f)
{
    all_t *a = &f->a;
    f->r1.name = "x";
    f->rin[0] = &f->r0;
    f->rin[1] = &f->r1;
    int32_t ri32[] = {0, -1, 2};
    memcpy(f->ri32, ri32, sizeof(ri32));
    f->ri64[0] = 0;
    f->ri64[1] = 1;
    f->ru64[0] = UINT64_MAX;
    double rdbl[] = {NAN, INFINITY, -INFINITY, -0.0, 1e21, 1e-7, 1.5};
    memcpy(f->rdbl, rdbl, sizeof(rdbl));
    f->rflt[0] = 0.1f;
    f->rflt[1] = 3.4028235e38f;
    f->rflag[0] = 1;
    f->rflag[1] = 0;
    f->rstr[0] = "";
    f->rstr[1] = "a";
    f->rraw[1].data = ff;
    f->rraw[1].len = 1;
    f->rcolor[0] = PBJSON__TEST__COLOR__COLOR_UNSPECIFIED;
    f->rcolor[1] = PBJSON__TEST__COLOR__COLOR_RED;
    f->rcolor[2] = (Pbjson__Test__Color)7;
    a->n_r_i32 = 3, a->r_i32 = f->ri32;
    a->n_r_i64 = 2, a->r_i64 = f->ri64;
    a->n_r_u64 = 1, a->r_u64 = f->ru64;
    a->n_r_dbl = 7, a->r_dbl = f->rdbl;
    a->n_r_flt = 2, a->r_flt = f->rflt;
    a->n_r_flag = 2, a->r_flag = f->rflag;
    a->n_r_str = 2, a->r_str = f->rstr;
    a->n_r_raw = 2, a->r_raw = f->rraw;
    a->n_r_color = 3, a->r_color = f->rcolor;
    a->n_r_inner = 2, a->r_inner = f->rin;
}

static void fill_maps(full_t *f)
{
    all_t *a = &f->a;
    f->at0.key = "k";
    f->at0.value = "v";
    f->at[0] = &f->at0;
    f->at[1] = &f->at1;
    a->n_attrs = 2, a->attrs = f->at;
    f->bi0.key = -1;
    f->bi0.value = &f->bid;
    f->bi1.key = 5;
    f->bi[0] = &f->bi0;
    f->bi[1] = &f->bi1;
    a->n_by_id = 2, a->by_id = f->bi;
    f->bf0.key = 1;
    f->bf0.value = PBJSON__TEST__COLOR__COLOR_RED;
    f->bf[0] = &f->bf0;
    f->bf[1] = &f->bf1;
    a->n_by_flag = 2, a->by_flag = f->bf;
    f->bu0.key = UINT32_MAX;
    f->bu0.value.data = hi;
    f->bu0.value.len = 2;
    f->bu[0] = &f->bu0;
    a->n_by_u32 = 1, a->by_u32 = f->bu;
}

static void fill_full(full_t *f)
{
    memset(f, 0, sizeof(*f));
    pbjson__test__all__init(&f->a);
    inner_t init;
    pbjson__test__inner__init(&init);
    f->in = f->kid = f->r0 = f->r1 = f->bid = init;
    Pbjson__Test__All__AttrsEntry ae;
    pbjson__test__all__attrs_entry__init(&ae);
    f->at0 = f->at1 = ae;
    Pbjson__Test__All__ByIdEntry be;
    pbjson__test__all__by_id_entry__init(&be);
    f->bi0 = f->bi1 = be;
    Pbjson__Test__All__ByFlagEntry fe;
    pbjson__test__all__by_flag_entry__init(&fe);
    f->bf0 = f->bf1 = fe;
    Pbjson__Test__All__ByU32Entry ue;
    pbjson__test__all__by_u32_entry__init(&ue);
    f->bu0 = ue;
    fill_scalars(&f->a);
    f->in.name = "in";
    f->in.count = 3;
    f->in.child = &f->kid;
    f->kid.name = "kid";
    f->a.inner = &f->in;
    fill_repeated(f);
    fill_maps(f);
}

static const char full_json[] =
    "{\"i32\":-5,\"i64\":\"-9223372036854775808\",\"u32\":4294967295,"
    "\"u64\":\"18446744073709551615\",\"s32\":-2147483648,\"s64\":\"42\",\"f32\":7,\"f64\":\"8\","
    "\"sf32\":-9,\"sf64\":\"-10\",\"dbl\":0.1,\"flt\":1.1,\"flag\":true,"
    "\"str\":\"h\xc3\xa9llo \\\"q\\\"\\n\",\"raw\":\"qrvM3Q==\",\"color\":\"COLOR_NEGATIVE\","
    "\"inner\":{\"name\":\"in\",\"count\":\"3\",\"child\":{\"name\":\"kid\"}},"
    "\"rI32\":[0,-1,2],\"rI64\":[\"0\",\"1\"],\"rU64\":[\"18446744073709551615\"],"
    "\"rDbl\":[\"NaN\",\"Infinity\",\"-Infinity\",-0,1e+21,1e-7,1.5],"
    "\"rFlt\":[0.1,3.4028235e+38],\"rFlag\":[true,false],\"rStr\":[\"\",\"a\"],"
    "\"rRaw\":[\"\",\"/w==\"],\"rColor\":[\"COLOR_UNSPECIFIED\",\"COLOR_RED\",7],"
    "\"rInner\":[{},{\"name\":\"x\"}],\"attrs\":{\"k\":\"v\",\"\":\"\"},"
    "\"byId\":{\"-1\":{},\"5\":{}},\"byFlag\":{\"true\":\"COLOR_RED\",\"false\":"
    "\"COLOR_UNSPECIFIED\"},\"byU32\":{\"4294967295\":\"aGk=\"},\"choiceI64\":\"0\","
    "\"snakeCaseName\":\"s\",\"profileTypeID\":\"p\",\"ID\":\"i\",\"xY\":-1}";

static void test_encode_all(void **state)
{
    (void)state;
    full_t *f = malloc(sizeof(*f));
    assert_non_null(f);
    fill_full(f);
    assert_encodes(&f->a.base, full_json);
    free(f);

    all_t empty;
    pbjson__test__all__init(&empty);
    assert_encodes(&empty.base, "{}");
    /* A present but empty sub-message is written; an unset oneof is not. */
    inner_t in;
    pbjson__test__inner__init(&in);
    empty.inner = &in;
    assert_encodes(&empty.base, "{\"inner\":{}}");
    empty.inner = NULL;
    empty.choice_case = PBJSON__TEST__ALL__CHOICE_CHOICE_STR;
    empty.choice_str = "";
    assert_encodes(&empty.base, "{\"choiceStr\":\"\"}");
    empty.choice_case = PBJSON__TEST__ALL__CHOICE_CHOICE_INNER;
    empty.choice_inner = NULL;
    assert_encodes(&empty.base, "{\"choiceInner\":{}}");
    empty.choice_case = PBJSON__TEST__ALL__CHOICE_CHOICE_COLOR;
    empty.choice_color = 0;
    assert_encodes(&empty.base, "{\"choiceColor\":\"COLOR_UNSPECIFIED\"}");
}

static void assert_double(double v, const char *want)
{
    all_t a;
    pbjson__test__all__init(&a);
    a.dbl = v;
    char buf[128];
    snprintf(buf, sizeof(buf), "{\"dbl\":%s}", want);
    assert_encodes(&a.base, buf);
    assert_reencodes(&pbjson__test__all__descriptor, buf, NULL);
}

static void assert_float(float v, const char *want)
{
    all_t a;
    pbjson__test__all__init(&a);
    a.flt = v;
    char buf[128];
    snprintf(buf, sizeof(buf), "{\"flt\":%s}", want);
    assert_encodes(&a.base, buf);
    assert_reencodes(&pbjson__test__all__descriptor, buf, NULL);
}

/* Shortest round-trip digits, laid out as Go's protojson does (strconv 'f' or 'e', ES6 limits). */
static void test_encode_floats(void **state)
{
    (void)state;
    assert_double(1, "1");
    assert_double(-3, "-3");
    assert_double(0.5, "0.5");
    assert_double(1.0 / 3, "0.3333333333333333");
    assert_double(2.0 / 3, "0.6666666666666666");
    assert_double(0.1 + 0.2, "0.30000000000000004");
    assert_double(123456.789, "123456.789");
    assert_double(1e15, "1000000000000000");
    assert_double(1e20, "100000000000000000000");
    assert_double(123456789012345678901.0, "123456789012345680000");
    assert_double(1e21, "1e+21");
    assert_double(-1.5e300, "-1.5e+300");
    assert_double(0.000001, "0.000001");
    assert_double(0.0000012345, "0.0000012345");
    assert_double(1e-7, "1e-7");
    assert_double(1.25e-10, "1.25e-10");
    assert_double(5e-324, "5e-324");
    assert_double(1.7976931348623157e308, "1.7976931348623157e+308");
    assert_double(9007199254740993.0, "9007199254740992");
    assert_double(-0.0, "-0");
    assert_double(NAN, "\"NaN\"");
    assert_double(-INFINITY, "\"-Infinity\"");
    assert_float(0.1f, "0.1");
    assert_float(1.1f, "1.1");
    assert_float(16777216.0f, "16777216");
    assert_float(16777218.0f, "16777218");
    assert_float(3.4028235e38f, "3.4028235e+38");
    assert_float(1e-7f, "1e-7");
    assert_float(1.4e-45f, "1e-45");
    assert_float(-0.0f, "-0");
    assert_float(INFINITY, "\"Infinity\"");
}

/* Significant digits of a decimal in text: mantissa digits without leading or trailing zeros. */
static void sig_digits(const char *t, char *out)
{
    size_t n = 0;
    for (; *t && *t != 'e'; t++) {
        if (*t >= '0' && *t <= '9' && (n > 0 || *t != '0')) out[n++] = *t;
    }
    while (n > 0 && out[n - 1] == '0')
        n--;
    out[n] = '\0';
}

/* Reference shortest digits: the first p whose rounding reads back, by brute force. */
static void naive_shortest(double v, bool is32, char *out)
{
    char tmp[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, v);
        if (is32 ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v) break;
    }
    sig_digits(tmp, out);
}

static uint64_t rng_next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Random bit patterns and random literals against glibc's snprintf/strtod: the encoder's digits
 * are the shortest that read back (and the nearest such), the decoder's values are strtod's. */
static void test_float_differential(void **state)
{
    (void)state;
    uint64_t x = 0x9e3779b97f4a7c15u;
    sc_buf_t b;
    sc_buf_init(&b, 0);
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = rng_next(&x);
        bool is32 = i % 4 == 3;
        double v;
        if (is32) {
            uint32_t fb = (uint32_t)bits;
            float f;
            memcpy(&f, &fb, sizeof(f));
            v = f;
        } else if (i % 4 == 2) {
            double div = 1; /* short decimals: n / 10^k, k < 16 */
            for (uint64_t k = bits >> 60; k > 0; k--)
                div *= 10;
            v = (double)(bits % 100000000) / div;
        } else {
            memcpy(&v, &bits, sizeof(v));
        }
        if (!isfinite(v)) continue;
        all_t a;
        pbjson__test__all__init(&a);
        if (is32) {
            a.flt = (float)v;
        } else {
            a.dbl = v;
        }
        if (v == 0) continue;
        sc_buf_clear(&b);
        assert_int_equal(sc_pbjson_encode(&a.base, &b), 0);
        assert_int_equal(sc_buf_append(&b, "", 1), 0);
        const char *num = strchr(b.data, ':') + 1;
        char got[32], want[32];
        sig_digits(num, got);
        naive_shortest(fabs(v), is32, want);
        if (strcmp(got, want) != 0)
            fail_msg("%.17g (%s): wrote %s, shortest %s", v, is32 ? "float" : "double", num, want);
        double back = is32 ? (double)strtof(num, NULL) : strtod(num, NULL);
        assert_true(back == v);
        /* And the decoder reads a random-precision literal exactly as strtod does. */
        char lit[64];
        snprintf(lit, sizeof(lit), "{\"dbl\":%.*e}", (int)(rng_next(&x) % 20), v);
        double want_v = strtod(lit + 7, NULL);
        if (isinf(want_v)) continue; /* rounded past DBL_MAX: refused, as tested elsewhere */
        all_t *d = (all_t *)decode_ok(&pbjson__test__all__descriptor, lit);
        if (memcmp(&d->dbl, &want_v, sizeof(want_v)) != 0) fail_msg("%s: read %.17g", lit, d->dbl);
        protobuf_c_message_free_unpacked(&d->base, NULL);
    }
    sc_buf_free(&b);
}

static void test_encode_strings(void **state)
{
    (void)state;
    all_t a;
    pbjson__test__all__init(&a);
    /* Controls (short forms where JSON has them), quote, backslash; DEL, multi-byte UTF-8 and
     * U+FFFD itself pass through; each byte of invalid UTF-8 becomes U+FFFD. */
    a.str = "\x01\x08\x09\x0a\x0c\x0d\x1f\"\\/\x7f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xef\xbf\xbd"
            "|\xff|\xc3|\xed\xa0\x80|\xc0\xaf|\xf4\x90\x80\x80";
    assert_encodes(&a.base,
                   "{\"str\":\"\\u0001\\b\\t\\n\\f\\r\\u001f\\\"\\\\/\x7f\xc3\xa9\xe2\x82\xac"
                   "\xf0\x9f\x98\x80\xef\xbf\xbd|\xef\xbf\xbd|\xef\xbf\xbd|"
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}");
    /* Bytes: every padding case. */
    uint8_t b[] = {'f', 'o', 'o', 'b', 'a'};
    a.str = "";
    a.raw.data = b;
    a.raw.len = 1;
    assert_encodes(&a.base, "{\"raw\":\"Zg==\"}");
    a.raw.len = 2;
    assert_encodes(&a.base, "{\"raw\":\"Zm8=\"}");
    a.raw.len = 3;
    assert_encodes(&a.base, "{\"raw\":\"Zm9v\"}");
    a.raw.len = 5;
    assert_encodes(&a.base, "{\"raw\":\"Zm9vYmE=\"}");
}

static void test_encode_limits(void **state)
{
    (void)state;
    full_t *f = malloc(sizeof(*f));
    assert_non_null(f);
    fill_full(f);
    /* Over the buffer's cap: refused, nothing appended. */
    sc_buf_t b;
    sc_buf_init(&b, 64);
    assert_int_equal(sc_buf_append(&b, "xy", 2), 0);
    assert_int_equal(sc_pbjson_encode(&f->a.base, &b), -SC_E_TOO_LARGE);
    assert_int_equal(b.len, 2);
    sc_buf_free(&b);
    free(f);

    /* Appends after what the buffer holds. */
    sc_buf_init(&b, 0);
    assert_int_equal(sc_buf_append(&b, "xy", 2), 0);
    all_t a;
    pbjson__test__all__init(&a);
    a.i32 = 1;
    assert_int_equal(sc_pbjson_encode(&a.base, &b), 0);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.data, "xy{\"i32\":1}", 11);
    sc_buf_free(&b);

    /* Nesting: a chain of Inner messages is exactly as deep as its JSON. */
    inner_t chain[SC_PBJSON_DEPTH_MAX + 1];
    for (int i = 0; i <= SC_PBJSON_DEPTH_MAX; i++) {
        pbjson__test__inner__init(&chain[i]);
        chain[i].child = i < SC_PBJSON_DEPTH_MAX ? &chain[i + 1] : NULL;
    }
    sc_buf_init(&b, 0);
    assert_int_equal(sc_pbjson_encode(&chain[1].base, &b), 0); /* DEPTH_MAX objects */
    assert_int_equal(b.len, 10 * (SC_PBJSON_DEPTH_MAX - 1) + 2);
    sc_buf_clear(&b);
    assert_int_equal(sc_pbjson_encode(&chain[0].base, &b), -SC_E_INVALID);
    assert_int_equal(b.len, 0);
    sc_buf_free(&b);
}

/* ---- LABEL_OPTIONAL: proto2 / proto3 `optional` layout (Debian's protoc-c cannot generate
 * proto3 optional, so the descriptor is written by hand, as protoc-c lays it out). ---- */

typedef struct {
    ProtobufCMessage base;
    protobuf_c_boolean has_oi;
    int32_t oi;
    char *os;
    protobuf_c_boolean has_ob;
    ProtobufCBinaryData ob;
    Pbjson__Test__Inner *om;
    protobuf_c_boolean has_oc;
    Pbjson__Test__Color oc;
    protobuf_c_boolean has_od;
    double od;
    protobuf_c_boolean has_ou;
    uint64_t ou;
} opt_t;

static const ProtobufCMessageDescriptor opt_desc;

static const ProtobufCFieldDescriptor opt_fields[] = {
    {"oi", 1, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32, offsetof(opt_t, has_oi),
     offsetof(opt_t, oi), NULL, NULL, 0, 0, NULL, NULL},
    {"os", 2, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_STRING, 0, offsetof(opt_t, os), NULL, NULL,
     0, 0, NULL, NULL},
    {"ob", 3, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_BYTES, offsetof(opt_t, has_ob),
     offsetof(opt_t, ob), NULL, NULL, 0, 0, NULL, NULL},
    {"om", 4, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_MESSAGE, 0, offsetof(opt_t, om),
     &pbjson__test__inner__descriptor, NULL, 0, 0, NULL, NULL},
    {"oc", 5, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_ENUM, offsetof(opt_t, has_oc),
     offsetof(opt_t, oc), &pbjson__test__color__descriptor, NULL, 0, 0, NULL, NULL},
    {"od", 6, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_DOUBLE, offsetof(opt_t, has_od),
     offsetof(opt_t, od), NULL, NULL, 0, 0, NULL, NULL},
    {"o_u", 7, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_UINT64, offsetof(opt_t, has_ou),
     offsetof(opt_t, ou), NULL, NULL, 0, 0, NULL, NULL},
};
static const unsigned opt_by_name[] = {6, 2, 4, 5, 0, 3, 1}; /* o_u ob oc od oi om os */
static const ProtobufCIntRange opt_ranges[] = {{1, 0}, {0, 7}};

static void opt_init(ProtobufCMessage *m)
{
    opt_t *o = (opt_t *)m;
    memset(o, 0, sizeof(*o));
    o->base.descriptor = &opt_desc;
}

static const ProtobufCMessageDescriptor opt_desc = {PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
                                                    "pbjson.test.Opt",
                                                    "Opt",
                                                    "Pbjson__Test__Opt",
                                                    "pbjson.test",
                                                    sizeof(opt_t),
                                                    SC_ARRAY_LEN(opt_fields),
                                                    opt_fields,
                                                    opt_by_name,
                                                    1,
                                                    opt_ranges,
                                                    opt_init,
                                                    NULL,
                                                    NULL,
                                                    NULL};

static void test_optional(void **state)
{
    (void)state;
    opt_t o;
    opt_init(&o.base);
    assert_encodes(&o.base, "{}");
    /* Set to defaults: written, because they are present. */
    o.has_oi = o.has_ob = o.has_oc = o.has_od = o.has_ou = 1;
    o.os = "";
    inner_t in;
    pbjson__test__inner__init(&in);
    o.om = &in;
    const char *zeros = "{\"oi\":0,\"os\":\"\",\"ob\":\"\",\"om\":{},\"oc\":\"COLOR_UNSPECIFIED\","
                        "\"od\":0,\"oU\":\"0\"}";
    assert_encodes(&o.base, zeros);
    /* Decoding restores presence. */
    opt_t *d = (opt_t *)decode_ok(&opt_desc, zeros);
    assert_true(d->has_oi && d->has_ob && d->has_oc && d->has_od && d->has_ou);
    assert_non_null(d->os);
    assert_string_equal(d->os, "");
    assert_non_null(d->om);
    assert_encodes(&d->base, zeros);
    protobuf_c_message_free_unpacked(&d->base, NULL);
    /* Absent, null and unknown enum names leave presence unset. */
    d = (opt_t *)decode_ok(&opt_desc, "{\"oi\":null,\"oc\":\"NOPE\",\"o_u\":\"7\"}");
    assert_false(d->has_oi);
    assert_false(d->has_oc);
    assert_true(d->has_ou);
    assert_null(d->os);
    assert_encodes(&d->base, "{\"oU\":\"7\"}");
    protobuf_c_message_free_unpacked(&d->base, NULL);
}

/* ---- decode ---- */

static void test_decode_names(void **state)
{
    (void)state;
    /* Proto and JSON names mixed in one object, and at every level. */
    assert_reencodes(&push__v1__push_request__descriptor,
                     "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":\"x\"}],"
                     "\"samples\":[{\"raw_profile\":\"qrvM3Q==\",\"ID\":\"u\"},"
                     "{\"rawProfile\":\"qrvM3Q\"}]}]}",
                     "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":\"x\"}],"
                     "\"samples\":[{\"rawProfile\":\"qrvM3Q==\",\"ID\":\"u\"},"
                     "{\"rawProfile\":\"qrvM3Q==\"}]}]}");
    assert_reencodes(&pbjson__test__all__descriptor,
                     "{\"r_i32\":[1],\"rI64\":[\"2\"],\"snake_case_name\":\"a\","
                     "\"profile_typeID\":\"b\",\"ID\":\"c\",\"x__y_\":3,\"by_id\":{\"1\":{}},"
                     "\"choice_str\":\"d\"}",
                     "{\"rI32\":[1],\"rI64\":[\"2\"],\"byId\":{\"1\":{}},\"choiceStr\":\"d\","
                     "\"snakeCaseName\":\"a\",\"profileTypeID\":\"b\",\"ID\":\"c\",\"xY\":3}");
    /* Names are case-sensitive and JSON names are exact: these are unknown, so ignored. */
    assert_reencodes(&pbjson__test__all__descriptor,
                     "{\"Str\":\"a\",\"snakecasename\":\"b\",\"profileTypeId\":\"c\",\"id\":\"d\","
                     "\"rI_32\":[1],\"xy\":1}",
                     "{}");
    /* An escaped key is still that key. */
    assert_reencodes(&pbjson__test__all__descriptor, "{\"s\\u0074r\":\"a\"}", "{\"str\":\"a\"}");
}

static void test_decode_unknown(void **state)
{
    (void)state;
    assert_reencodes(&pbjson__test__all__descriptor,
                     "{\"zz\":{\"a\":[1,2.5e3,{\"b\":null}],\"c\":\"\\u00e9\"},\"i32\":1,"
                     "\"yy\":18446744073709551616999,\"xx\":[[[]]],\"ww\":true,\"vv\":-0.0e-0}",
                     "{\"i32\":1}");
    /* Unknown enum names: singular left at default, elements and map entries left out, a oneof
     * left unset; numbers are kept even when the enum does not define them. */
    assert_reencodes(
        &pbjson__test__all__descriptor,
        "{\"color\":\"PROFILE_FORMAT_FUNCTIONS\",\"rColor\":[\"COLOR_RED\",\"NEW\",2,-7],"
        "\"byFlag\":{\"true\":\"NEW\",\"false\":\"COLOR_GREEN\"},\"choiceColor\":\"NEW\"}",
        "{\"rColor\":[\"COLOR_RED\",\"COLOR_GREEN\",-7],\"byFlag\":{\"false\":\"COLOR_GREEN\"}}");
    assert_reencodes(&pbjson__test__all__descriptor, "{\"color\":\"COLOR_NEGATIVE\"}", NULL);
    assert_reencodes(&pbjson__test__all__descriptor, "{\"color\":-3}",
                     "{\"color\":\"COLOR_NEGATIVE\"}");
    assert_reencodes(&pbjson__test__all__descriptor, "{\"color\":\"1\"}", "{}");
    assert_reencodes(&pbjson__test__all__descriptor, "{\"choiceColor\":\"COLOR_RED\"}", NULL);
}

static void test_decode_null_and_defaults(void **state)
{
    (void)state;
    assert_reencodes(&pbjson__test__all__descriptor,
                     "{\"i32\":null,\"str\":null,\"inner\":null,\"rI32\":null,\"attrs\":null,"
                     "\"choiceStr\":null,\"raw\":null,\"color\":null,\"flag\":null}",
                     "{}");
    /* Explicit defaults decode to defaults, which are not written back. */
    assert_reencodes(&pbjson__test__all__descriptor,
                     "{\"i32\":0,\"i64\":\"0\",\"str\":\"\",\"raw\":\"\",\"flag\":false,"
                     "\"color\":\"COLOR_UNSPECIFIED\",\"dbl\":0,\"rI32\":[],\"attrs\":{}}",
                     "{}");
    /* A null member of a oneof does not claim it. */
    assert_reencodes(&pbjson__test__all__descriptor, "{\"choiceStr\":null,\"choiceI64\":5}",
                     "{\"choiceI64\":\"5\"}");
    /* Whitespace everywhere JSON allows it. */
    assert_reencodes(
        &pbjson__test__all__descriptor,
        " \t\r\n{ \"rI32\" : [ 1 , 2 ] , \"inner\" : { } , \"attrs\" : { \"a\" : \"b\" "
        "} }\n",
        "{\"inner\":{},\"rI32\":[1,2],\"attrs\":{\"a\":\"b\"}}");
}

static void test_decode_integers(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &pbjson__test__all__descriptor;
    assert_reencodes(d,
                     "{\"i32\":\"-2147483648\",\"i64\":-9223372036854775808,\"u32\":\"4294967295\","
                     "\"u64\":18446744073709551615,\"s64\":\"9223372036854775807\","
                     "\"f64\":\"18446744073709551615\",\"sf64\":-1}",
                     "{\"i32\":-2147483648,\"i64\":\"-9223372036854775808\",\"u32\":4294967295,"
                     "\"u64\":\"18446744073709551615\",\"s64\":\"9223372036854775807\","
                     "\"f64\":\"18446744073709551615\",\"sf64\":\"-1\"}");
    /* Exponents and zero fractions are integers too (protojson); -0 is 0. */
    assert_reencodes(d,
                     "{\"i32\":1e3,\"i64\":\"1.5e1\",\"u32\":100e-2,\"u64\":\"0.0\",\"s32\":-0,"
                     "\"sf32\":2.000,\"rI64\":[\"1E+2\",0e99999999999]}",
                     "{\"i32\":1000,\"i64\":\"15\",\"u32\":1,\"sf32\":2,\"rI64\":[\"100\",\"0\"]}");
    assert_reencodes(d, "{\"i32\":\"\\u0031\\u0032\"}", "{\"i32\":12}");
}

static void test_decode_floats(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &pbjson__test__all__descriptor;
    assert_reencodes(d,
                     "{\"rDbl\":[\"NaN\",\"Infinity\",\"-Infinity\",\"1.5\",2,-0,1E2,1e-400],"
                     "\"rFlt\":[\"NaN\",0.1,\"-1e-3\",1e-50]}",
                     "{\"rDbl\":[\"NaN\",\"Infinity\",\"-Infinity\",1.5,2,-0,100,0],"
                     "\"rFlt\":[\"NaN\",0.1,-0.001,0]}");
    /* Long literals: correctly rounded. */
    assert_reencodes(d,
                     "{\"dbl\":0.1000000000000000055511151231257827021181583404541015625000000000"
                     "000000000000000000000000000000000000000000001}",
                     "{\"dbl\":0.1}");
}

static void test_decode_bytes(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &pbjson__test__all__descriptor;
    const char *want = "{\"rRaw\":[\"+/+/\",\"+/+/\",\"+/8=\",\"+/8=\",\"+w==\",\"+w==\",\"\"]}";
    assert_reencodes(d, "{\"rRaw\":[\"+/+/\",\"-_-_\",\"+/8=\",\"-_8\",\"+w==\",\"-w\",\"\"]}",
                     want);
    /* CR/LF ignored (Go's decoder), escapes decoded first. */
    assert_reencodes(d, "{\"raw\":\"qrvM\\n3Q\",\"rRaw\":[\"\\u002b\\/8=\"]}",
                     "{\"raw\":\"qrvM3Q==\",\"rRaw\":[\"+/8=\"]}");
    const char *bad[] = {"\"qrvM3Q=\"", "\"q\"",          "\"qrvM3\"",
                         "\"+-==\"",    "\"qrvM3Q==x\"",  "\"qr=M\"",
                         "\"====\"",    "\"qrv\\u00e9\"", "\"qrvM3Q===\""};
    for (size_t i = 0; i < SC_ARRAY_LEN(bad); i++) {
        char json[64];
        snprintf(json, sizeof(json), "{\"raw\":%s}", bad[i]);
        refused(json, -SC_E_INVALID, "raw: invalid base64");
    }
}

static void test_decode_strings(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &pbjson__test__all__descriptor;
    assert_reencodes(
        d, "{\"str\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\\ud83d\\ude00\\u007f\"}",
        "{\"str\":\"\\\"\\\\/\\b\\f\\n\\r\\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"}");
    assert_reencodes(d, "{\"str\":\"\xf4\x8f\xbf\xbf \xe2\x80\xa8\"}", NULL);
    assert_reencodes(d, "{\"attrs\":{\"\\u00e9\":\"\",\"a\\nb\":\"c\"}}",
                     "{\"attrs\":{\"\xc3\xa9\":\"\",\"a\\nb\":\"c\"}}");
}

static void test_decode_errors(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *push = &push__v1__push_request__descriptor;
    assert_refused(push, "", 0, -SC_E_INVALID, "zero-length payload is not a valid JSON object");
    assert_refused(push, NULL, 0, -SC_E_INVALID, "zero-length payload is not a valid JSON object");
    const char *p = "{\"series\":[{\"labels\":[{\"name\":\"a\"},{\"name\":1}]}]}";
    assert_refused(push, p, strlen(p), -SC_E_INVALID, "series[0].labels[1].name: want a string");
    p = "{\"series\":[{},{\"samples\":[{\"rawProfile\":\"*\"}]}]}";
    assert_refused(push, p, strlen(p), -SC_E_INVALID,
                   "series[1].samples[0].rawProfile: invalid base64");

    refused("[]", -SC_E_INVALID, "want a JSON object");
    refused("null", -SC_E_INVALID, "want a JSON object");
    refused("\"x\"", -SC_E_INVALID, "want a JSON object");
    refused("{\"i32\":2147483648}", -SC_E_INVALID, "i32: 2147483648 out of range for int32");
    refused("{\"i32\":-2147483649}", -SC_E_INVALID, "i32: -2147483649 out of range for int32");
    refused("{\"i32\":1.5}", -SC_E_INVALID, "i32: want an integer, not 1.5");
    refused("{\"i32\":1e-1}", -SC_E_INVALID, "i32: want an integer, not 1e-1");
    refused("{\"i32\":\"1 \"}", -SC_E_INVALID, "i32: want an integer");
    refused("{\"i32\":\"0x10\"}", -SC_E_INVALID, "i32: want an integer");
    refused("{\"i32\":true}", -SC_E_INVALID, "i32: want an integer");
    refused("{\"u32\":-1}", -SC_E_INVALID, "u32: -1 out of range for uint32");
    refused("{\"u32\":4294967296}", -SC_E_INVALID, "u32: 4294967296 out of range for uint32");
    refused("{\"i64\":\"9223372036854775808\"}", -SC_E_INVALID,
            "i64: 9223372036854775808 out of range for int64");
    refused("{\"u64\":\"18446744073709551616\"}", -SC_E_INVALID,
            "u64: 18446744073709551616 out of range for uint64");
    refused("{\"u64\":1e20}", -SC_E_INVALID, "u64: 1e20 out of range for uint64");
    refused("{\"rU64\":[\"-1\"]}", -SC_E_INVALID, "rU64[0]: -1 out of range for uint64");
    refused("{\"color\":2147483648}", -SC_E_INVALID, "color: 2147483648 out of range for enum");
    refused("{\"color\":{}}", -SC_E_INVALID, "color: want an enum name or number");
    refused("{\"dbl\":1e400}", -SC_E_INVALID, "dbl: 1e400 out of range for double");
    refused("{\"flt\":1e39}", -SC_E_INVALID, "flt: 1e39 out of range for float");
    refused("{\"dbl\":\"nan\"}", -SC_E_INVALID, "dbl: want a number");
    refused("{\"dbl\":[]}", -SC_E_INVALID, "dbl: want a number");
    refused("{\"flag\":\"true\"}", -SC_E_INVALID, "flag: want a boolean");
    refused("{\"flag\":1}", -SC_E_INVALID, "flag: want a boolean");
    refused("{\"str\":5}", -SC_E_INVALID, "str: want a string");
    refused("{\"str\":\"a\\u0000b\"}", -SC_E_INVALID, "str: string holds NUL (\\u0000)");
    refused("{\"raw\":[1]}", -SC_E_INVALID, "raw: want a base64 string");
    refused("{\"inner\":[]}", -SC_E_INVALID, "inner: want an object");
    refused("{\"inner\":{\"child\":{\"count\":\"x\"}}}", -SC_E_INVALID,
            "inner.child.count: want an integer");
    refused("{\"rI32\":1}", -SC_E_INVALID, "rI32: want an array");
    refused("{\"rStr\":[\"a\",null]}", -SC_E_INVALID, "rStr[1]: want a string");
    refused("{\"rInner\":[{},{\"name\":{}}]}", -SC_E_INVALID, "rInner[1].name: want a string");
    refused("{\"attrs\":[]}", -SC_E_INVALID, "attrs: want an object");
    refused("{\"attrs\":{\"k\":null}}", -SC_E_INVALID, "attrs[k]: want a string");
    refused("{\"byId\":{\"x\":{}}}", -SC_E_INVALID, "byId[x]: want a map key in range of int64");
    refused("{\"byId\":{\"1\":{\"name\":2}}}", -SC_E_INVALID, "byId[1].name: want a string");
    refused("{\"byFlag\":{\"yes\":1}}", -SC_E_INVALID,
            "byFlag[yes]: want a map key \"true\" or \"false\"");
    refused("{\"byU32\":{\"-1\":\"\"}}", -SC_E_INVALID,
            "byU32[-1]: want a map key in range of uint32");
    refused("{\"byU32\":{\"4294967296\":\"\"}}", -SC_E_INVALID,
            "byU32[4294967296]: want a map key in range of uint32");
    refused("{\"str\":\"a\",\"str\":\"b\"}", -SC_E_INVALID, "str: duplicate field");
    refused("{\"snakeCaseName\":\"a\",\"snake_case_name\":\"b\"}", -SC_E_INVALID,
            "snakeCaseName: duplicate field");
    refused("{\"rI32\":[],\"r_i32\":null}", -SC_E_INVALID, "rI32: duplicate field");
    refused("{\"choiceStr\":\"a\",\"choiceI64\":\"1\"}", -SC_E_INVALID,
            "choiceI64: another field of its oneof is already set");
}

static void test_decode_syntax(void **state)
{
    (void)state;
    const char *bad[] = {
        "   ",
        "{",
        "{\"i32\":}",
        "{\"i32\":1,}",
        "{\"i32\" 1}",
        "{,}",
        "{\"i32\":01}",
        "{\"i32\":1.}",
        "{\"i32\":-}",
        "{\"i32\":+1}",
        "{\"i32\":1e}",
        "{} x",
        "{}{}",
        "{\"str\":\"\x01\"}",
        "{\"str\":\"\\q\"}",
        "{\"str\":\"\\u12\"}",
        "{\"str\":\"\\ud800\"}",
        "{\"str\":\"\\udc00\"}",
        "{\"str\":\"\\ud800\\u0041\"}",
        "{\"str\":\"\xc3\"}",
        "{\"str\":\"\xed\xa0\x80\"}",
        "{\"str\":\"\xc0\xaf\"}",
        "{\"str\":\"abc",
        "{\"zz\":[1,]}",
        "{\"zz\":tru}",
        "{\"zz\":nul}",
        "{\"zz\":{\"a\"}}",
        "{\"zz\":[}",
        "{i32:1}",
        "\xef\xbb\xbf{}",
        "{\"flag\":truex}",
        "{\"str\":'a'}",
        "{\"rI32\":[1 2]}",
        "{\"attrs\":{\"a\":\"b\",}}",
    };
    for (size_t i = 0; i < SC_ARRAY_LEN(bad); i++) {
        ProtobufCMessage *m = (ProtobufCMessage *)0x1;
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_pbjson_decode(&pbjson__test__all__descriptor, bad[i], strlen(bad[i]), NULL, &m,
                                  &err);
        if (rc != -SC_E_MALFORMED) fail_msg("want MALFORMED, got %d (%s): %s", rc, err.msg, bad[i]);
        assert_null(m);
        assert_non_null(strstr(err.msg, "invalid JSON at offset "));
    }
    /* The offset points at the trouble. */
    assert_refused(&pbjson__test__all__descriptor, "{\"i32\":1,x}", 11, -SC_E_MALFORMED,
                   "invalid JSON at offset 9: want a field name");
    assert_refused(&pbjson__test__all__descriptor, "{\"rI32\":[1,2", 12, -SC_E_MALFORMED,
                   "rI32: invalid JSON at offset 12: want ',' or ']'");
    /* Input is not NUL-terminated: a length stops the parser. */
    assert_refused(&pbjson__test__all__descriptor, "{\"i32\":12}", 9, -SC_E_MALFORMED, NULL);
    ProtobufCMessage *m = NULL;
    sc_err_t err;
    assert_int_equal(
        sc_pbjson_decode(&pbjson__test__all__descriptor, "{\"i32\":12}xyz", 10, NULL, &m, &err), 0);
    assert_int_equal(((all_t *)m)->i32, 12);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void nest(char *buf, int objects, const char *open, const char *mid, const char *close)
{
    buf[0] = '\0';
    for (int i = 0; i < objects; i++)
        strcat(buf, open);
    strcat(buf, mid);
    for (int i = 0; i < objects; i++)
        strcat(buf, close);
}

static void test_decode_depth(void **state)
{
    (void)state;
    static char buf[32 * 1024];
    const ProtobufCMessageDescriptor *d = &pbjson__test__inner__descriptor;
    /* Outer object plus DEPTH_MAX-1 children: the limit exactly, and a round trip. */
    strcpy(buf, "{");
    nest(buf + 1, SC_PBJSON_DEPTH_MAX - 1, "\"child\":{", "", "}");
    strcat(buf, "}");
    assert_reencodes(d, buf, NULL);
    strcpy(buf, "{");
    nest(buf + 1, SC_PBJSON_DEPTH_MAX, "\"child\":{", "", "}");
    strcat(buf, "}");
    assert_refused(d, buf, strlen(buf), -SC_E_INVALID, NULL);
    /* Skipped values count too. */
    strcpy(buf, "{\"x\":");
    nest(buf + 5, 1000, "[", "", "]");
    strcat(buf, "}");
    ProtobufCMessage *m = NULL;
    sc_err_t err;
    assert_int_equal(sc_pbjson_decode(d, buf, strlen(buf), NULL, &m, &err), -SC_E_INVALID);
    assert_string_equal(err.msg, "JSON nested deeper than 64 levels");
    /* A long error path is cut, not overflowed. */
    strcpy(buf, "{");
    nest(buf + 1, SC_PBJSON_DEPTH_MAX - 2, "\"child\":{", "\"name\":1", "}");
    strcat(buf, "}");
    assert_int_equal(sc_pbjson_decode(d, buf, strlen(buf), NULL, &m, &err), -SC_E_INVALID);
    assert_memory_equal(err.msg, "...", 3);
    assert_non_null(strstr(err.msg, "child.child.name: want a string"));
    assert_true(strlen(err.msg) < 240);
}

/* ---- round trips ---- */

static void test_round_trip(void **state)
{
    (void)state;
    full_t *f = malloc(sizeof(*f));
    assert_non_null(f);
    fill_full(f);
    char *first = encode(&f->a.base);
    ProtobufCMessage *m = decode_ok(&pbjson__test__all__descriptor, first);
    char *second = encode(m);
    assert_string_equal(first, second);
    /* Same message through the binary codec: protobuf-c agrees on every value. */
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *bin = malloc(n);
    assert_non_null(bin);
    assert_int_equal(protobuf_c_message_pack(m, bin), n);
    ProtobufCMessage *back =
        protobuf_c_message_unpack(&pbjson__test__all__descriptor, NULL, n, bin);
    assert_non_null(back);
    char *third = encode(back);
    assert_string_equal(first, third);
    protobuf_c_message_free_unpacked(back, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
    free(bin);
    free(first);
    free(second);
    free(third);
    free(f);

    /* An empty string that selects a oneof member survives protobuf-c's packer, which skips a
     * member pointing at the shared default (found by fuzzing). */
    m = decode_ok(&pbjson__test__all__descriptor, "{\"choiceStr\":\"\"}");
    n = protobuf_c_message_get_packed_size(m);
    assert_int_equal(n, 3);
    uint8_t tiny[3];
    assert_int_equal(protobuf_c_message_pack(m, tiny), 3);
    back = protobuf_c_message_unpack(&pbjson__test__all__descriptor, NULL, 3, tiny);
    assert_non_null(back);
    assert_encodes(back, "{\"choiceStr\":\"\"}");
    protobuf_c_message_free_unpacked(back, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

/* ---- allocators ---- */

static void *arena_alloc(void *a, size_t n)
{
    return sc_arena_alloc(a, n, 16);
}

static void arena_free(void *a, void *p)
{
    (void)a;
    (void)p;
}

static void test_arena(void **state)
{
    (void)state;
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(4), 0);
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &arena};
    ProtobufCMessage *m = NULL;
    sc_err_t err;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(sc_pbjson_decode(&pbjson__test__all__descriptor, full_json,
                                          strlen(full_json), &alloc, &m, &err),
                         0);
        assert_encodes(m, full_json);
        /* A failure deep inside leaves everything in the arena too. */
        const char *bad = "{\"rInner\":[{\"name\":\"a\"},{\"child\":{\"count\":[]}}]}";
        assert_int_equal(
            sc_pbjson_decode(&pbjson__test__all__descriptor, bad, strlen(bad), &alloc, &m, &err),
            -SC_E_INVALID);
        assert_null(m);
        assert_true(arena.used_bytes > 0);
        sc_arena_reset(&arena);
    }
    /* An arena at its limit: out of memory, reported as such. */
    sc_arena_t small;
    sc_arena_init(&small, 256, 512);
    ProtobufCAllocator salloc = {arena_alloc, arena_free, &small};
    assert_int_equal(sc_pbjson_decode(&pbjson__test__all__descriptor, full_json, strlen(full_json),
                                      &salloc, &m, &err),
                     -SC_E_NOMEM);
    assert_non_null(strstr(err.msg, "out of memory decoding JSON"));
    sc_arena_free(&small);
    sc_arena_free(&arena);
}

/* Heap allocator that fails after `left` allocations and counts what is outstanding. */
typedef struct {
    long left;
    long live;
    long total;
} countdown_t;

static void *cd_alloc(void *p, size_t n)
{
    countdown_t *c = p;
    if (c->left-- <= 0) return NULL;
    void *r = malloc(n);
    assert_non_null(r);
    c->live++;
    c->total++;
    return r;
}

static void cd_free(void *p, void *q)
{
    countdown_t *c = p;
    assert_non_null(q);
    c->live--;
    free(q);
}

static void sweep(const ProtobufCMessageDescriptor *d, const char *json)
{
    countdown_t c = {.left = 1L << 30};
    ProtobufCAllocator alloc = {cd_alloc, cd_free, &c};
    ProtobufCMessage *m = NULL;
    sc_err_t err;
    assert_int_equal(sc_pbjson_decode(d, json, strlen(json), &alloc, &m, &err), 0);
    long total = c.total;
    assert_true(total > 1);
    protobuf_c_message_free_unpacked(m, &alloc);
    assert_int_equal(c.live, 0);
    for (long k = 0; k < total; k++) {
        c = (countdown_t){.left = k};
        int rc = sc_pbjson_decode(d, json, strlen(json), &alloc, &m, &err);
        assert_int_equal(rc, -SC_E_NOMEM);
        assert_null(m);
        if (c.live != 0) fail_msg("allocation %ld failing leaks %ld blocks", k, c.live);
    }
}

static void test_alloc_failures(void **state)
{
    (void)state;
    sweep(&pbjson__test__all__descriptor, full_json);
    sweep(&pbjson__test__all__descriptor,
          "{\"rStr\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"\\u00e9\"],\"rRaw\":[\"\\u0041Q==\"],"
          "\"dbl\":1.00000000000000000000000000000000000000000000000000000000000000000000001,"
          "\"choiceInner\":{\"name\":\"n\"},\"byId\":{\"1\":{\"child\":{}}}}");
    sweep(&push__v1__push_request__descriptor,
          "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":\"process_cpu\"}],"
          "\"samples\":[{\"rawProfile\":\"qrvM3Q==\"}]}]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode_push),     cmocka_unit_test(test_encode_all),
        cmocka_unit_test(test_encode_floats),   cmocka_unit_test(test_float_differential),
        cmocka_unit_test(test_encode_strings),  cmocka_unit_test(test_encode_limits),
        cmocka_unit_test(test_optional),        cmocka_unit_test(test_decode_names),
        cmocka_unit_test(test_decode_unknown),  cmocka_unit_test(test_decode_null_and_defaults),
        cmocka_unit_test(test_decode_integers), cmocka_unit_test(test_decode_floats),
        cmocka_unit_test(test_decode_bytes),    cmocka_unit_test(test_decode_strings),
        cmocka_unit_test(test_decode_errors),   cmocka_unit_test(test_decode_syntax),
        cmocka_unit_test(test_decode_depth),    cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_arena),           cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
