// A synchronous unary call over a fresh insecure channel, for the daemon's self-probe (the
// systemd watchdog is pinged only while the daemon answers its own health check through the
// listener, so a listener that stopped accepting gets the service restarted). Its own channel,
// completion queue (pluck) and deadline; everything is released before it returns.
#include "cgrpc_shim.h"

#include <string.h>

int cgrpc_probe_unary(const char *target, const char *method, const uint8_t *request,
                      size_t request_len, int timeout_ms, uint8_t *response,
                      size_t response_capacity, size_t *response_len, char *details,
                      size_t details_capacity) {
  *response_len = 0;
  if (details_capacity > 0) details[0] = 0;
  grpc_init();  // reference-counted: the server's runtime holds its own
  // A new subchannel each time (no sharing with an earlier probe's connection).
  grpc_arg args[1] = {{.type = GRPC_ARG_INTEGER,
                       .key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
                       .value.integer = 1}};
  grpc_channel_args channel_args = {.num_args = 1, .args = args};
  grpc_channel_credentials *creds = grpc_insecure_credentials_create();
  grpc_channel *channel = grpc_channel_create(target, creds, &channel_args);
  grpc_channel_credentials_release(creds);
  grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
  gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                       gpr_time_from_millis(timeout_ms, GPR_TIMESPAN));
  grpc_slice method_slice = grpc_slice_from_copied_string(method);
  grpc_call *call = grpc_channel_create_call(channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                             method_slice, NULL, deadline, NULL);
  grpc_slice_unref(method_slice);

  grpc_slice request_slice = grpc_slice_from_copied_buffer((const char *)request, request_len);
  grpc_byte_buffer *send = grpc_raw_byte_buffer_create(&request_slice, 1);
  grpc_slice_unref(request_slice);
  grpc_metadata_array initial, trailing;
  grpc_metadata_array_init(&initial);
  grpc_metadata_array_init(&trailing);
  grpc_byte_buffer *received = NULL;
  grpc_status_code status = GRPC_STATUS_UNKNOWN;
  grpc_slice status_details = grpc_empty_slice();

  grpc_op ops[6];
  memset(ops, 0, sizeof ops);
  ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
  ops[1].op = GRPC_OP_SEND_MESSAGE;
  ops[1].data.send_message.send_message = send;
  ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
  ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
  ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
  ops[4].op = GRPC_OP_RECV_MESSAGE;
  ops[4].data.recv_message.recv_message = &received;
  ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
  ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
  ops[5].data.recv_status_on_client.status = &status;
  ops[5].data.recv_status_on_client.status_details = &status_details;
  int tag = 0;
  grpc_call_error started = grpc_call_start_batch(call, ops, 6, &tag, NULL);
  if (started == GRPC_CALL_OK) {
    // The call's deadline ends it; the extra second only bounds a core that misbehaves.
    gpr_timespec wait = gpr_time_add(deadline, gpr_time_from_seconds(1, GPR_TIMESPAN));
    grpc_event event = grpc_completion_queue_pluck(cq, &tag, wait, NULL);
    if (event.type != GRPC_OP_COMPLETE) {
      grpc_call_cancel(call, NULL);
      grpc_completion_queue_pluck(cq, &tag, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
      status = GRPC_STATUS_DEADLINE_EXCEEDED;
    }
  } else {
    status = GRPC_STATUS_INTERNAL;
  }
  if (received != NULL) {
    *response_len = cgrpc_byte_buffer_copy(received, response, response_capacity);
    grpc_byte_buffer_destroy(received);
  }
  if (details_capacity > 0) {
    size_t n = GRPC_SLICE_LENGTH(status_details);
    if (n >= details_capacity) n = details_capacity - 1;
    memcpy(details, GRPC_SLICE_START_PTR(status_details), n);
    details[n] = 0;
  }
  grpc_slice_unref(status_details);
  grpc_metadata_array_destroy(&initial);
  grpc_metadata_array_destroy(&trailing);
  grpc_byte_buffer_destroy(send);
  grpc_call_unref(call);
  grpc_channel_destroy(channel);
  grpc_completion_queue_shutdown(cq);
  while (grpc_completion_queue_pluck(cq, NULL, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
         GRPC_QUEUE_SHUTDOWN) {
  }
  grpc_completion_queue_destroy(cq);
  grpc_shutdown();
  return (int)status;
}
