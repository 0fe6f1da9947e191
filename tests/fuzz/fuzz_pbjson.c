/* libFuzzer target for sc_pbjson_decode/sc_pbjson_encode (codec/pbjson.c): arbitrary bytes as the
 * JSON of push.v1.PushRequest and of the test message covering every field type. Must never
 * crash, leak or read out of bounds; a refusal must be -SC_E_MALFORMED or -SC_E_INVALID with a
 * printable message. An accepted document must encode to JSON that jansson reads, that decodes
 * again (through the heap and through an arena) and re-encodes to the same bytes, and that
 * survives protobuf-c's binary pack/unpack unchanged. Holds no state between inputs. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/pbjson.h"
#include "codec/proto/push.pb-c.h"
#include "codec/proto/test_pbjson.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void *arena_alloc(void *a, size_t n)
{
    return sc_arena_alloc(a, n, 16);
}

static void arena_free(void *a, void *p)
{
    (void)a;
    (void)p;
}

static void encode(const ProtobufCMessage *m, sc_buf_t *out)
{
    sc_buf_init(out, 0);
    SC_ASSERT(sc_pbjson_encode(m, out) == 0);
    SC_ASSERT(out->len >= 2);
}

static void same(const sc_buf_t *a, const sc_buf_t *b)
{
    SC_ASSERT(a->len == b->len);
    SC_ASSERT(memcmp(a->data, b->data, a->len) == 0);
}

/* The encoding of an accepted message: valid JSON, and a fixed point of decode -> encode. */
static void check_encoding(const ProtobufCMessageDescriptor *d, const sc_buf_t *first,
                           ProtobufCAllocator *alloc)
{
    json_error_t jerr;
    json_t *j = json_loadb(first->data, first->len, JSON_DECODE_INT_AS_REAL, &jerr);
    SC_ASSERT(j != NULL);
    SC_ASSERT(json_is_object(j));
    json_decref(j);

    ProtobufCMessage *m = NULL;
    sc_err_t err;
    SC_ASSERT(sc_pbjson_decode(d, first->data, first->len, alloc, &m, &err) == 0);
    sc_buf_t second;
    encode(m, &second);
    same(first, &second);
    sc_buf_free(&second);
    protobuf_c_message_free_unpacked(m, alloc);
}

/* protobuf-c's binary codec must carry every value the JSON held. */
static void check_binary(const ProtobufCMessageDescriptor *d, const ProtobufCMessage *m,
                         const sc_buf_t *first)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    uint8_t *bin = malloc(n ? n : 1);
    SC_ASSERT(bin);
    SC_ASSERT(protobuf_c_message_pack(m, bin) == n);
    ProtobufCMessage *back = protobuf_c_message_unpack(d, NULL, n, bin);
    SC_ASSERT(back);
    sc_buf_t again;
    encode(back, &again);
    same(first, &again);
    sc_buf_free(&again);
    protobuf_c_message_free_unpacked(back, NULL);
    free(bin);
}

static void one(const ProtobufCMessageDescriptor *d, const uint8_t *data, size_t size,
                sc_arena_t *arena)
{
    ProtobufCMessage *m = (ProtobufCMessage *)1;
    sc_err_t err;
    sc_err_clear(&err);
    int rc = sc_pbjson_decode(d, (const char *)data, size, NULL, &m, &err);
    if (rc < 0) {
        SC_ASSERT(rc == -SC_E_MALFORMED || rc == -SC_E_INVALID);
        SC_ASSERT(m == NULL);
        SC_ASSERT(err.code == rc);
        SC_ASSERT(err.msg[0] != '\0');
        for (const char *c = err.msg; *c; c++) {
            SC_ASSERT(*c >= 0x20 && *c < 0x7f);
        }
        return;
    }
    SC_ASSERT(m != NULL);
    sc_buf_t first;
    encode(m, &first);
    check_encoding(d, &first, NULL);
    ProtobufCAllocator alloc = {arena_alloc, arena_free, arena};
    check_encoding(d, &first, &alloc);
    sc_arena_reset(arena);
    check_binary(d, m, &first);
    sc_buf_free(&first);
    protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sc_arena_t arena;
    sc_arena_init(&arena, SC_KiB(16), 0);
    one(&push__v1__push_request__descriptor, data, size, &arena);
    one(&pbjson__test__all__descriptor, data, size, &arena);
    sc_arena_free(&arena);
    return 0;
}
