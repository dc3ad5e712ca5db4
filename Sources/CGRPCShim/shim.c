// See cgrpc_shim.h. Ownership rules: a batch owns its metadata copies, its send buffer, its
// status-details slice and its received buffer until cgrpc_batch_destroy; a call slot owns its
// call reference. Both are freed by the Swift side only after their completion event arrived.
#include "cgrpc_shim.h"

#include <grpc/support/alloc.h>

// Declared by <pthread.h> only under _GNU_SOURCE, which the prelude must not define.
extern int pthread_setname_np(pthread_t thread, const char *name);

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CGRPC_TSAN 1
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#endif
#endif

// MARK: - Server, credentials, completion queue

grpc_server *cgrpc_server_create(const char *const *int_keys, const int *int_values,
                                 size_t n_int) {
  grpc_arg *args = calloc(n_int ? n_int : 1, sizeof(grpc_arg));
  for (size_t i = 0; i < n_int; i++) {
    args[i].type = GRPC_ARG_INTEGER;
    args[i].key = (char *)int_keys[i];  // the core copies args in grpc_server_create
    args[i].value.integer = int_values[i];
  }
  grpc_channel_args channel_args = {.num_args = n_int, .args = args};
  grpc_server *server = grpc_server_create(&channel_args, NULL);
  free(args);
  return server;
}

grpc_server_credentials *cgrpc_server_credentials_create(const char *key_pem, const char *cert_pem,
                                                         const char *client_ca_pem,
                                                         int require_client_cert) {
  if (key_pem == NULL) return grpc_insecure_server_credentials_create();
  grpc_ssl_pem_key_cert_pair pair = {.private_key = key_pem, .cert_chain = cert_pem};
  grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  if (client_ca_pem != NULL) {
    request = require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                  : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc_ssl_server_credentials_create_ex(client_ca_pem, &pair, 1, request, NULL);
}

int cgrpc_cq_next(grpc_completion_queue *cq, void **tag, int *success) {
  for (;;) {
    grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    switch (ev.type) {
      case GRPC_OP_COMPLETE:
        cgrpc_tsan_acquire(ev.tag);
        *tag = ev.tag;
        *success = ev.success;
        return 1;
      case GRPC_QUEUE_SHUTDOWN:
        return 0;
      case GRPC_QUEUE_TIMEOUT:
        continue;  // cannot happen with an infinite deadline
    }
  }
}

void cgrpc_set_thread_name(const char *name) { pthread_setname_np(pthread_self(), name); }

int64_t cgrpc_deadline_remaining_ns(gpr_timespec deadline) {
  gpr_timespec mono = gpr_convert_clock_type(deadline, GPR_CLOCK_MONOTONIC);
  if (gpr_time_cmp(mono, gpr_inf_future(GPR_CLOCK_MONOTONIC)) == 0) return INT64_MAX;
  gpr_timespec left = gpr_time_sub(mono, gpr_now(GPR_CLOCK_MONOTONIC));
  // grpc-timeout allows up to 99999999H (~11,000 years), which the core keeps as a finite
  // deadline: seconds × 10^9 would overflow. Anything past the bound is no deadline at all.
  if (left.tv_sec >= CGRPC_DEADLINE_UNBOUNDED_AFTER_S) return INT64_MAX;
  if (left.tv_sec <= -CGRPC_DEADLINE_UNBOUNDED_AFTER_S) return -1;  // long past
  return left.tv_sec * 1000000000LL + left.tv_nsec;
}

// The core (surface/call.cc) keeps the flags of the last received message, including the
// compressed flag, which its decompression filter clears once it decompressed the message. Only
// this test hook exports them (a C++ symbol of libgrpc 1.51); weak, so a core without it links
// and the check is skipped.
extern uint32_t cgrpc_core_message_flags(grpc_call *call) __asm__(
    "_Z37grpc_call_test_only_get_message_flagsP9grpc_call") __attribute__((weak));

// GRPC_WRITE_INTERNAL_COMPRESS of the core's src/core/lib/transport/transport.h.
#define CGRPC_WRITE_INTERNAL_COMPRESS 0x80000000u

int cgrpc_call_last_message_compressed(grpc_call *call) {
  if (cgrpc_core_message_flags == NULL) return 0;
  return (cgrpc_core_message_flags(call) & CGRPC_WRITE_INTERNAL_COMPRESS) != 0;
}

// MARK: - Slices and byte buffers

size_t cgrpc_slice_length(const grpc_slice *slice) { return GRPC_SLICE_LENGTH(*slice); }
const uint8_t *cgrpc_slice_start(const grpc_slice *slice) { return GRPC_SLICE_START_PTR(*slice); }

size_t cgrpc_byte_buffer_payload_length(grpc_byte_buffer *bb) {
  if (bb->data.raw.compression == GRPC_COMPRESS_NONE) return grpc_byte_buffer_length(bb);
  return cgrpc_byte_buffer_copy(bb, NULL, 0);
}

size_t cgrpc_byte_buffer_copy(grpc_byte_buffer *bb, uint8_t *dst, size_t capacity) {
  grpc_byte_buffer_reader reader;
  if (!grpc_byte_buffer_reader_init(&reader, bb)) return 0;
  size_t total = 0;
  grpc_slice slice;
  while (grpc_byte_buffer_reader_next(&reader, &slice)) {
    size_t len = GRPC_SLICE_LENGTH(slice);
    if (dst != NULL) {
      size_t n = total + len <= capacity ? len : (total < capacity ? capacity - total : 0);
      if (n > 0) memcpy(dst + total, GRPC_SLICE_START_PTR(slice), n);
    }
    total += len;
    grpc_slice_unref(slice);
  }
  grpc_byte_buffer_reader_destroy(&reader);
  return dst != NULL && total > capacity ? capacity : total;
}

// MARK: - Call slots

cgrpc_call_slot *cgrpc_call_slot_create(void) {
  cgrpc_call_slot *slot = calloc(1, sizeof(cgrpc_call_slot));
  grpc_call_details_init(&slot->details);
  grpc_metadata_array_init(&slot->metadata);
  return slot;
}

void cgrpc_call_slot_destroy(cgrpc_call_slot *slot) {
  if (slot == NULL) return;
  if (slot->payload != NULL) grpc_byte_buffer_destroy(slot->payload);
  grpc_metadata_array_destroy(&slot->metadata);
  grpc_call_details_destroy(&slot->details);
  if (slot->call != NULL) grpc_call_unref(slot->call);
  free(slot);
}

grpc_call_error cgrpc_call_slot_request(cgrpc_call_slot *slot, grpc_server *server,
                                        grpc_completion_queue *cq, void *tag) {
  cgrpc_tsan_release(tag);
  return grpc_server_request_call(server, &slot->call, &slot->details, &slot->metadata, cq, cq,
                                  tag);
}

grpc_call_error cgrpc_call_slot_request_registered(cgrpc_call_slot *slot, grpc_server *server,
                                                   void *method, int reads_payload,
                                                   grpc_completion_queue *cq, void *tag) {
  cgrpc_tsan_release(tag);
  return grpc_server_request_registered_call(server, method, &slot->call, &slot->deadline,
                                             &slot->metadata,
                                             reads_payload ? &slot->payload : NULL, cq, cq, tag);
}

void *cgrpc_server_register_method(grpc_server *server, const char *path, int read_payload) {
  return grpc_server_register_method(
      server, path, NULL,
      read_payload ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER : GRPC_SRM_PAYLOAD_NONE, 0);
}

void cgrpc_call_peer(grpc_call *call, char *buf, size_t capacity) {
  char *peer = grpc_call_get_peer(call);
  if (capacity == 0) return;
  buf[0] = 0;
  if (peer != NULL) {
    strncpy(buf, peer, capacity - 1);
    buf[capacity - 1] = 0;
    gpr_free(peer);
  }
}

// MARK: - Batches

cgrpc_batch *cgrpc_batch_create(void) { return calloc(1, sizeof(cgrpc_batch)); }

static void release_metadata(grpc_metadata *md, size_t n) {
  for (size_t i = 0; i < n; i++) {
    grpc_slice_unref(md[i].key);
    grpc_slice_unref(md[i].value);
  }
}

void cgrpc_batch_destroy(cgrpc_batch *b) {
  if (b == NULL) return;
  release_metadata(b->initial, b->n_initial);
  release_metadata(b->trailing, b->n_trailing);
  if (b->send_buffer != NULL) grpc_byte_buffer_destroy(b->send_buffer);
  if (b->recv_buffer != NULL) grpc_byte_buffer_destroy(b->recv_buffer);
  if (b->has_status_details) grpc_slice_unref(b->status_details);
  free(b);
}

static int add_metadata(grpc_metadata *md, size_t *n, const char *key, size_t key_len,
                        const uint8_t *value, size_t value_len) {
  if (*n >= CGRPC_MAX_METADATA) return -1;
  md[*n].key = grpc_slice_from_copied_buffer(key, key_len);
  md[*n].value = grpc_slice_from_copied_buffer((const char *)value, value_len);
  *n += 1;
  return 0;
}

int cgrpc_batch_add_initial_metadata(cgrpc_batch *b, const char *key, size_t key_len,
                                     const uint8_t *value, size_t value_len) {
  return add_metadata(b->initial, &b->n_initial, key, key_len, value, value_len);
}

int cgrpc_batch_add_trailing_metadata(cgrpc_batch *b, const char *key, size_t key_len,
                                      const uint8_t *value, size_t value_len) {
  return add_metadata(b->trailing, &b->n_trailing, key, key_len, value, value_len);
}

static grpc_op *next_op(cgrpc_batch *b, grpc_op_type type) {
  grpc_op *op = &b->ops[b->nops++];
  memset(op, 0, sizeof(*op));
  op->op = type;
  return op;
}

void cgrpc_batch_send_initial_metadata(cgrpc_batch *b) {
  grpc_op *op = next_op(b, GRPC_OP_SEND_INITIAL_METADATA);
  op->data.send_initial_metadata.count = b->n_initial;
  op->data.send_initial_metadata.metadata = b->initial;
}

void cgrpc_batch_send_message(cgrpc_batch *b, const uint8_t *bytes, size_t len) {
  grpc_slice slice = grpc_slice_from_copied_buffer((const char *)bytes, len);
  b->send_buffer = grpc_raw_byte_buffer_create(&slice, 1);
  grpc_slice_unref(slice);  // the buffer holds its own reference
  next_op(b, GRPC_OP_SEND_MESSAGE)->data.send_message.send_message = b->send_buffer;
}

void cgrpc_batch_send_status(cgrpc_batch *b, grpc_status_code code, const char *details,
                             size_t details_len) {
  grpc_op *op = next_op(b, GRPC_OP_SEND_STATUS_FROM_SERVER);
  op->data.send_status_from_server.status = code;
  op->data.send_status_from_server.trailing_metadata_count = b->n_trailing;
  op->data.send_status_from_server.trailing_metadata = b->trailing;
  if (details_len > 0) {
    b->status_details = grpc_slice_from_copied_buffer(details, details_len);
    b->has_status_details = 1;
    op->data.send_status_from_server.status_details = &b->status_details;
  }
}

void cgrpc_batch_recv_message(cgrpc_batch *b) {
  next_op(b, GRPC_OP_RECV_MESSAGE)->data.recv_message.recv_message = &b->recv_buffer;
}

void cgrpc_batch_recv_close(cgrpc_batch *b) {
  next_op(b, GRPC_OP_RECV_CLOSE_ON_SERVER)->data.recv_close_on_server.cancelled = &b->cancelled;
}

grpc_call_error cgrpc_batch_start(grpc_call *call, cgrpc_batch *b, void *tag) {
  cgrpc_tsan_release(tag);
  return grpc_call_start_batch(call, b->ops, b->nops, tag, NULL);
}

grpc_byte_buffer *cgrpc_batch_received(const cgrpc_batch *b) { return b->recv_buffer; }

// MARK: - TSan

void cgrpc_tsan_release(void *addr) {
#ifdef CGRPC_TSAN
  __tsan_release(addr);
#else
  (void)addr;
#endif
}

void cgrpc_tsan_acquire(void *addr) {
#ifdef CGRPC_TSAN
  __tsan_acquire(addr);
#else
  (void)addr;
#endif
}
