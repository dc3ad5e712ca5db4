"""Clients that never read cannot hold the batch: GenerateStream calls on a raw HTTP/2
connection whose flow-control window is never opened (SETTINGS_INITIAL_WINDOW_SIZE = 0) pause
their sequences; a paused sequence gives up its slot while other requests wait (it is parked and
recomputed if its client ever reads), and one paused past `batching.stall_timeout_seconds` ends
with RESOURCE_EXHAUSTED, which the client sees once it reads."""

from __future__ import annotations

import socket
import time

import grpc
import h2.config
import h2.connection
import h2.events
import h2.settings

from interop import RPC_TIMEOUT_S
from rlhfd_client._proto.rlhfd.v1 import common_pb2, policy_pb2, policy_pb2_grpc
from test_batching import start, stop

STREAMS = 6
STALL_TIMEOUT_S = 4


class StalledClient:
    """GenerateStream calls on one HTTP/2 connection that reads nothing until `drain`."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.local_settings = h2.settings.Settings(
            client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0}
        )
        self.conn.initiate_connection()
        self.flush()
        self.status: dict[int, str] = {}
        self.messages: dict[int, int] = {}

    def flush(self) -> None:
        self.sock.sendall(self.conn.data_to_send())

    def open(self, request: policy_pb2.GenerateRequest) -> int:
        stream = self.conn.get_next_available_stream_id()
        self.conn.send_headers(
            stream,
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", "/rlhfd.v1.Policy/GenerateStream"),
                (":authority", "127.0.0.1"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
            ],
        )
        body = request.SerializeToString()
        self.conn.send_data(stream, b"\x00" + len(body).to_bytes(4, "big") + body, end_stream=True)
        self.flush()
        self.messages[stream] = 0
        return stream

    def drain(self, deadline_s: float) -> None:
        """Opens every window and reads until each stream has its status (bounded)."""
        for stream in self.messages:
            self.conn.increment_flow_control_window(1 << 24, stream_id=stream)
        self.conn.increment_flow_control_window(1 << 24)
        self.flush()
        deadline = time.monotonic() + deadline_s
        while len(self.status) < len(self.messages) and time.monotonic() < deadline:
            self.sock.settimeout(max(0.1, deadline - time.monotonic()))
            data = self.sock.recv(1 << 16)
            if not data:
                break
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    self.messages[event.stream_id] += 1
                    self.conn.acknowledge_received_data(
                        event.flow_controlled_length, event.stream_id
                    )
                elif isinstance(
                    event, (h2.events.TrailersReceived, h2.events.ResponseReceived)
                ) and "grpc-status" in dict(event.headers):
                    headers = dict(event.headers)
                    self.status[event.stream_id] = (
                        f"{headers.get('grpc-status')} {headers.get('grpc-message', '')}"
                    )
                elif isinstance(event, h2.events.StreamReset):
                    self.status[event.stream_id] = f"reset {event.error_code}"
            self.flush()

    def close(self) -> None:
        self.sock.close()


def test_clients_that_never_read_cannot_hold_the_batch(rlhfd_bin, tmp_path):
    daemon = start(
        rlhfd_bin,
        tmp_path,
        f"  max_batch_size: 2\n  step_token_budget: 64\n  stall_timeout_seconds: {STALL_TIMEOUT_S}\n",
    )
    client = StalledClient(daemon.port)
    try:
        request = policy_pb2.GenerateRequest(
            prompt="Tell a long story.",
            sampling=common_pb2.SamplingParams(max_new_tokens=150),
        )
        streams = [client.open(request) for _ in range(STREAMS)]
        time.sleep(0.5)  # every batch slot is now taken by a stream nobody reads
        policy = policy_pb2_grpc.PolicyStub(daemon.channel())
        started = time.monotonic()
        response = policy.Generate(
            policy_pb2.GenerateRequest(
                prompt="Hi", sampling=common_pb2.SamplingParams(max_new_tokens=4)
            ),
            timeout=RPC_TIMEOUT_S,
        )
        waited = time.monotonic() - started
        assert len(response.token_ids) == 4
        # Parking takes a second per pair of stalled streams ahead of it at most.
        assert waited < 1.5 * STREAMS / 2 + 3, waited
        # Past the stall timeout every stalled stream has ended; reading shows why.
        time.sleep(STALL_TIMEOUT_S + 1)
        client.drain(20)
        assert set(client.status) == set(streams), client.status
        for stream in streams:
            status = client.status[stream]
            assert status.startswith(f"{grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]} "), status
            assert "stall_timeout_seconds" in status, status
        # The daemon serves on, with every slot free again.
        again = policy.Generate(
            policy_pb2.GenerateRequest(
                prompt="Hi", sampling=common_pb2.SamplingParams(max_new_tokens=4)
            ),
            timeout=RPC_TIMEOUT_S,
        )
        assert list(again.token_ids) == list(response.token_ids)
    finally:
        client.close()
        stop(daemon)
