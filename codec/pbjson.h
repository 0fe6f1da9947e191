/* Protobuf canonical JSON (spec §3.3, as connect-go's protojson does it) for any protobuf-c
 * message, driven by its ProtobufCMessageDescriptor: one generic decoder and one generic encoder,
 * never code per message. Owns the JSON text format only: it must never validate semantics (label
 * rules, limits) and never allocate a message other than through the caller's allocator.
 *
 * JSON names: the lowerCamelCase name protoc derives (each `_x` becomes `X`, nothing else
 * changes, spec §9.0); json_name options are not in protobuf-c descriptors and so not honoured.
 * Maps (map<K,V>, repeated K/V entry messages in protobuf-c) are JSON objects. Well-known types
 * (google.protobuf.Timestamp, Any, Struct, wrappers) get no special mapping. */
#ifndef SC_PBJSON_H
#define SC_PBJSON_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/sc_assert.h"

/* Deepest nesting of JSON objects and arrays either direction accepts (the decoder counts values
 * it skips too). Bounds the recursion, and so the stack, on hostile input. */
#define SC_PBJSON_DEPTH_MAX 64

/* Decode the JSON text json[0 .. len) into a new message of type d.
 *
 * Borrows d, json (need not be NUL-terminated; may be NULL when len is 0) and err; alloc is
 * borrowed too and may be NULL (then malloc/free). On success *out is an owned message built
 * entirely through alloc: release it with protobuf_c_message_free_unpacked(*out, alloc), or, when
 * alloc is an arena whose free does nothing, by resetting the arena. Bound memory with the
 * allocator (an arena limit): n input bytes may ask for about n/3 messages ("[{},{},...]").
 *
 * Rules (spec §3.3, and protojson where the spec is silent): keys may be JSON or proto names, and
 * naming a field twice (under either) is an error, as is setting a second member of one oneof;
 * unknown keys are ignored, and so are unknown enum names (the field, repeated element or map
 * entry is left out); null means absent (but is refused as a repeated element or map value);
 * integers may be numbers or decimal strings, with exponents ("1e3") or zero fractions ("1.0"),
 * range-checked for their type; float/double take numbers, numeric strings, "NaN", "Infinity",
 * "-Infinity"; bytes take standard or URL-safe base64 (padding needed when the length is a
 * multiple of 4, refused otherwise, as Go decodes); enums take names or int32 numbers; map keys
 * are strings holding the key's decimal, "true"/"false" or text (duplicate keys are kept, in
 * order). Strings must be valid UTF-8 without NUL (a protobuf-c string cannot hold one);
 * \u escapes must pair surrogates.
 *
 * Returns 0, or (with *out NULL and everything allocated released through alloc):
 *  -SC_E_MALFORMED  not JSON: syntax error, invalid UTF-8, lone surrogate, trailing data; err
 *                   gives the byte offset;
 *  -SC_E_INVALID    JSON that does not fit d: len 0 ("zero-length payload is not a valid JSON
 *                   object"), top level not an object, a value of the wrong JSON type, an integer
 *                   out of range or not integral, a float out of range, bad base64, NUL in a
 *                   string, a duplicate field, a second oneof member, nesting deeper than
 *                   SC_PBJSON_DEPTH_MAX; err names the field path first, e.g.
 *                   "series[0].labels[1].name: want a string" (printable ASCII only);
 *  -SC_E_NOMEM      alloc returned NULL. */
SC_MUST_USE int sc_pbjson_decode(const ProtobufCMessageDescriptor *d, const char *json, size_t len,
                                 ProtobufCAllocator *alloc, ProtobufCMessage **out, sc_err_t *err);

/* Append the canonical JSON of m to out (borrows both). Fields in descriptor (field-number) order
 * under their JSON names; proto3 defaults (0, "", false, empty repeated or map, enum 0, NULL
 * message) omitted, fields with presence (proto2/proto3 `optional`, oneof members) written when
 * set; 64-bit integers as decimal strings, 32-bit as numbers, float and double as numbers in the
 * shortest form that reads back exactly (NaN and infinities as strings); enums as names (numbers
 * when not in the descriptor); bytes as padded standard base64; strings escaped as protojson
 * does, with invalid UTF-8 replaced by U+FFFD. Unknown fields are dropped. An empty message is {}.
 * Returns 0, or (with nothing appended):
 *  -SC_E_INVALID    messages nested deeper than SC_PBJSON_DEPTH_MAX;
 *  -SC_E_TOO_LARGE  over out->cap_max;  -ENOMEM  realloc failed. */
SC_MUST_USE int sc_pbjson_encode(const ProtobufCMessage *m, sc_buf_t *out);

#endif
