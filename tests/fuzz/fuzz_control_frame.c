/* libFuzzer target for the control API's frame and request decoder (codec/ctl_frame.c), the
 * code every byte a peer sends to scorch-control goes through: arbitrary bytes as a request
 * stream, framed, each whole frame decoded into its request message in a bounded arena (as the
 * server does) and checked; an error answer packed for each failure. The same bytes are then read
 * as a response stream (the client's side). Must never crash, leak, read outside the input or
 * fail with anything but the documented errors. Holds no state between inputs. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/sc_assert.h"

#include "codec/ctl_frame.h"
#include "codec/proto/control_api.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void answer(const sc_ctl_frame_t *f, int rc, const sc_err_t *err)
{
    Scorch__Control__Api__V1__ApiError e;
    scorch__control__api__v1__api_error__init(&e);
    e.message = (char *)(uintptr_t)sc_err_message(err, rc);
    uint8_t *out = NULL;
    size_t len = 0;
    SC_ASSERT(sc_ctl_pack_response(f->method, f->id, (uint8_t)sc_ctl_status_of(rc), &e.base, &out,
                                   &len, NULL) == 0);
    sc_ctl_frame_t back;
    SC_ASSERT(sc_ctl_frame_parse(out, len, true, &back, NULL) == 0);
    SC_ASSERT(back.frame_bytes == len);
    SC_ASSERT(back.id == f->id && back.method == f->method);
    free(out);
}

static void request_stream(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        sc_ctl_frame_t f;
        sc_err_t err;
        sc_err_clear(&err);
        int rc = sc_ctl_frame_parse(data + off, size - off, false, &f, &err);
        if (rc == -SC_AGAIN) return;
        if (rc < 0) {
            SC_ASSERT(rc == -SC_E_TOO_LARGE || rc == -SC_E_MALFORMED);
            answer(&f, rc, &err);
            return;
        }
        SC_ASSERT(f.frame_bytes >= SC_CTL_REQ_HDR && f.frame_bytes <= size - off);
        SC_ASSERT(f.payload == data + off + SC_CTL_REQ_HDR);
        sc_arena_t a;
        sc_arena_init(&a, SC_KiB(4), (size_t)f.payload_len * SC_CTL_ARENA_MULT + SC_KiB(64));
        ProtobufCMessage *m = NULL;
        rc = sc_ctl_request_decode(&f, &a, &m, &err);
        if (rc == 0) {
            SC_ASSERT(m);
            SC_ASSERT(m->descriptor == sc_ctl_request_desc(f.method));
            SC_ASSERT(sc_ctl_request_check(f.method, m, NULL) == 0);
            /* What decodes packs again within the frame limit. */
            SC_ASSERT(protobuf_c_message_get_packed_size(m) <= SC_CTL_FRAME_MAX);
        } else {
            SC_ASSERT(rc == -SC_E_METHOD || rc == -SC_E_MALFORMED || rc == -SC_E_INVALID ||
                      rc == -SC_E_NOMEM);
            SC_ASSERT(err.msg[0] != '\0');
            answer(&f, rc, &err);
        }
        sc_arena_free(&a);
        off += f.frame_bytes;
    }
}

static void response_stream(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        sc_ctl_frame_t f;
        int rc = sc_ctl_frame_parse(data + off, size - off, true, &f, NULL);
        if (rc < 0) return;
        SC_ASSERT(f.frame_bytes >= SC_CTL_RESP_HDR && f.frame_bytes <= size - off);
        const ProtobufCMessageDescriptor *d =
            f.status == 0 ? sc_ctl_response_desc(f.method)
                          : &scorch__control__api__v1__api_error__descriptor;
        if (d) {
            ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, f.payload_len, f.payload);
            if (m) protobuf_c_message_free_unpacked(m, NULL);
        }
        off += f.frame_bytes;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    request_stream(data, size);
    response_stream(data, size);
    return 0;
}
