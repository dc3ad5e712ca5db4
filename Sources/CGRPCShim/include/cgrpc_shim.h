// C memory for the gRPC C core whose lifetime is tied to a completion event, plus wrappers for
// what Swift cannot import (function-like macros, variadic channel args). Every symbol is
// prefixed `cgrpc_`. Only GRPCBridge uses this target.
#ifndef CGRPC_SHIM_H
#define CGRPC_SHIM_H

#include "../../CGRPC/cgrpc_prelude.h"
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#define CGRPC_MAX_METADATA 16

// MARK: - Server, credentials, completion queue

/// Creates a server with integer and string channel args (keys are copied by the core).
grpc_server *cgrpc_server_create(const char *const *int_keys, const int *int_values, size_t n_int);

/// Insecure when key_pem is NULL; TLS otherwise. `client_ca_pem` (may be NULL) enables client
/// certificates; `require_client_cert` makes them mandatory (mTLS).
grpc_server_credentials *cgrpc_server_credentials_create(const char *key_pem, const char *cert_pem,
                                                         const char *client_ca_pem,
                                                         int require_client_cert);

/// Certificates that can change while the server runs (tls_reload.c): a source per listening
/// port; the core asks it for news at every new TLS handshake, so a pair offered with
/// cgrpc_tls_source_offer serves the next connections while open ones keep theirs.
typedef struct cgrpc_tls_source cgrpc_tls_source;

/// A source holding a first pair (copied). Never freed: the core may ask it until the port's
/// security connector goes, which it does not announce (a few bytes per port and server).
cgrpc_tls_source *cgrpc_tls_source_create(const char *key_pem, const char *cert_pem,
                                          const char *client_ca_pem);

/// Offers a new key, certificate chain and client CA bundle (NULL: none), copied; the next
/// handshake takes it. A pair the core rejects then is logged by the core and the old one stays.
void cgrpc_tls_source_offer(cgrpc_tls_source *source, const char *key_pem, const char *cert_pem,
                            const char *client_ca_pem);

/// How many offers the core has taken (the first pair included).
uint64_t cgrpc_tls_source_taken(cgrpc_tls_source *source);

/// 1 when the core accepts the pair (and client CAs) for a TLS port: checked by binding a
/// throwaway server to `address` (an unused unix-abstract name) and shutting it down.
int cgrpc_tls_check(const char *key_pem, const char *cert_pem, const char *client_ca_pem,
                    const char *address);

/// TLS server credentials fetching from `source`; `client_ca` (0/1) and `require_client_cert`
/// as in cgrpc_server_credentials_create, fixed for the server's life.
grpc_server_credentials *cgrpc_server_credentials_create_reloadable(cgrpc_tls_source *source,
                                                                    int client_ca,
                                                                    int require_client_cert);

/// Blocks for the next event. Returns 1 with *tag and *success set for an operation, 0 when the
/// queue is shut down and drained.
int cgrpc_cq_next(grpc_completion_queue *cq, void **tag, int *success);

/// Names the calling thread (pthread_setname_np needs _GNU_SOURCE, hidden from Swift).
void cgrpc_set_thread_name(const char *name);

/// Remaining time beyond which a deadline counts as none (100 years, in seconds).
#define CGRPC_DEADLINE_UNBOUNDED_AFTER_S (100LL * 365 * 24 * 3600)

/// Nanoseconds from now until `deadline` on the monotonic clock (negative once it passed);
/// INT64_MAX for an infinite deadline or one more than CGRPC_DEADLINE_UNBOUNDED_AFTER_S away.
int64_t cgrpc_deadline_remaining_ns(gpr_timespec deadline);

/// 1 when the message just received on `call` has the compressed flag set but was not
/// decompressed, because the call has no `grpc-encoding` (or `identity`); the gRPC spec makes
/// that an error, which core 1.51 does not raise. 0 otherwise, or when the core cannot tell.
int cgrpc_call_last_message_compressed(grpc_call *call);

// MARK: - Slices and byte buffers

size_t cgrpc_slice_length(const grpc_slice *slice);
const uint8_t *cgrpc_slice_start(const grpc_slice *slice);

/// Length of the payload after decompression.
size_t cgrpc_byte_buffer_payload_length(grpc_byte_buffer *bb);
/// Copies at most `capacity` payload bytes into `dst`; returns the number copied.
size_t cgrpc_byte_buffer_copy(grpc_byte_buffer *bb, uint8_t *dst, size_t capacity);

// MARK: - A call waiting to be accepted (generic request_call)

typedef struct cgrpc_call_slot {
  grpc_call *call;
  grpc_call_details details;   // generic calls: method, host, deadline
  grpc_metadata_array metadata;
  gpr_timespec deadline;       // registered calls
  grpc_byte_buffer *payload;   // registered calls whose request is read with the call
} cgrpc_call_slot;

cgrpc_call_slot *cgrpc_call_slot_create(void);
/// Releases details and metadata, then unrefs the call (which cancels it if unfinished).
void cgrpc_call_slot_destroy(cgrpc_call_slot *slot);
grpc_call_error cgrpc_call_slot_request(cgrpc_call_slot *slot, grpc_server *server,
                                        grpc_completion_queue *cq, void *tag);
/// Arms a request for a call to a method registered with cgrpc_server_register_method.
grpc_call_error cgrpc_call_slot_request_registered(cgrpc_call_slot *slot, grpc_server *server,
                                                   void *method, int reads_payload,
                                                   grpc_completion_queue *cq, void *tag);
/// Registers `path` ("/pkg.Service/Method"); with `read_payload`, the first request message
/// arrives with the call (for methods whose request is a single message). NULL on failure.
void *cgrpc_server_register_method(grpc_server *server, const char *path, int read_payload);
/// Copies the call's peer ("ipv4:127.0.0.1:5000") into `buf` (NUL-terminated, truncated).
void cgrpc_call_peer(grpc_call *call, char *buf, size_t capacity);

// MARK: - A batch of operations on one call

typedef struct cgrpc_batch {
  grpc_op ops[6];
  size_t nops;
  grpc_metadata initial[CGRPC_MAX_METADATA];
  size_t n_initial;
  grpc_metadata trailing[CGRPC_MAX_METADATA];
  size_t n_trailing;
  grpc_byte_buffer *send_buffer;
  grpc_byte_buffer *recv_buffer;
  grpc_slice status_details;
  int has_status_details;
  int cancelled;
} cgrpc_batch;

cgrpc_batch *cgrpc_batch_create(void);
/// Frees everything the batch owns, including a received message not taken.
void cgrpc_batch_destroy(cgrpc_batch *batch);

/// Adds a metadata entry; returns 0, or -1 when the batch already holds CGRPC_MAX_METADATA.
int cgrpc_batch_add_initial_metadata(cgrpc_batch *b, const char *key, size_t key_len,
                                     const uint8_t *value, size_t value_len);
int cgrpc_batch_add_trailing_metadata(cgrpc_batch *b, const char *key, size_t key_len,
                                      const uint8_t *value, size_t value_len);

void cgrpc_batch_send_initial_metadata(cgrpc_batch *b);
void cgrpc_batch_send_message(cgrpc_batch *b, const uint8_t *bytes, size_t len);
void cgrpc_batch_send_status(cgrpc_batch *b, grpc_status_code code, const char *details,
                             size_t details_len);
void cgrpc_batch_recv_message(cgrpc_batch *b);
void cgrpc_batch_recv_close(cgrpc_batch *b);

grpc_call_error cgrpc_batch_start(grpc_call *call, cgrpc_batch *b, void *tag);

/// The received message, or NULL when the client half-closed. Stays owned by the batch.
grpc_byte_buffer *cgrpc_batch_received(const cgrpc_batch *b);

// MARK: - Thread-sanitizer hand-off of tags through the core (no-ops in normal builds)

void cgrpc_tsan_release(void *addr);
void cgrpc_tsan_acquire(void *addr);

// MARK: - Self-probe (probe.c)

/// One unary call to `method` at `target` over a new insecure channel, waiting at most
/// `timeout_ms`. Returns the status code; the response message (up to `response_capacity`
/// bytes) and the status details (NUL-terminated, truncated) are copied out.
int cgrpc_probe_unary(const char *target, const char *method, const uint8_t *request,
                      size_t request_len, int timeout_ms, uint8_t *response,
                      size_t response_capacity, size_t *response_len, char *details,
                      size_t details_capacity);

#endif
