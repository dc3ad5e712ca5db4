"""Raw HTTP/2 for the tests of protocol edge cases that no gRPC client sends: frames are built
with hyperframe and headers with hpack (both come with the `h2` package). Nothing here answers
the server on its own (no SETTINGS ACK, no PING ACK, no WINDOW_UPDATE) unless asked to, so a
test can play a silent or misbehaving client. Every read is bounded by a timeout."""

from __future__ import annotations

import socket
import struct
import time
from typing import Iterable, Optional

import hpack
from hyperframe.frame import (
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    SettingsFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
MAX_CONCURRENT_STREAMS = SettingsFrame.MAX_CONCURRENT_STREAMS


def grpc_message(payload: bytes, compressed: bool = False) -> bytes:
    """A gRPC length-prefixed message: the compressed flag, the length, the bytes."""
    return struct.pack(">BI", 1 if compressed else 0, len(payload)) + payload


class RawConnection:
    """One HTTP/2 connection to 127.0.0.1:`port`; sends the preface and an empty SETTINGS."""

    def __init__(self, port: int, *, preface: bool = True, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buffer = b""
        self.closed = False
        self.frames: list[Frame] = []
        if preface:
            self.sock.sendall(PREFACE + SettingsFrame(0).serialize())

    def close(self) -> None:
        self.sock.close()

    def send(self, frame: Frame) -> None:
        self.sock.sendall(frame.serialize())

    def ack_settings(self) -> None:
        self.send(SettingsFrame(0, flags=["ACK"]))

    def start_call(
        self,
        stream_id: int,
        path: str,
        messages: Iterable[bytes] = (),
        *,
        metadata: Iterable[tuple[str, str]] = (),
        half_close: bool = True,
    ) -> None:
        """HEADERS for a gRPC call, one DATA frame per item of `messages` (each already framed
        with `grpc_message`, or several concatenated), END_STREAM on the last with `half_close`."""
        headers = HeadersFrame(stream_id)
        headers.data = self.encoder.encode(
            [
                (":method", "POST"),
                (":scheme", "http"),
                (":path", path),
                (":authority", "localhost"),
                ("content-type", "application/grpc"),
                ("te", "trailers"),
                *metadata,
            ]
        )
        headers.flags.add("END_HEADERS")
        messages = list(messages)
        if not messages and half_close:
            headers.flags.add("END_STREAM")
        self.send(headers)
        for index, message in enumerate(messages):
            data = DataFrame(stream_id)
            data.data = message
            if half_close and index == len(messages) - 1:
                data.flags.add("END_STREAM")
            self.send(data)

    def read(self, timeout: float, until=None) -> list[Frame]:
        """Frames that arrive within `timeout` s; stops early when the connection closes or when
        `until(frames_so_far)` is true. Also kept in `self.frames`."""
        received: list[Frame] = []
        deadline = time.monotonic() + timeout
        while True:
            while len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
                self.buffer = self.buffer[9 + length :]
                if isinstance(frame, HeadersFrame):
                    frame.headers = dict(self.decoder.decode(frame.data))
                received.append(frame)
                self.frames.append(frame)
            if until is not None and until(received):
                break
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                break
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                self.closed = True
            self.buffer += chunk
        return received

    def status(self, stream_id: int, timeout: float = 5.0) -> tuple[Optional[str], str]:
        """Waits for the call's trailers: (grpc-status, grpc-message); (None, why) when the
        stream was reset or the connection closed first."""

        def ended(frames):
            return any(
                frame.stream_id == stream_id
                and ("END_STREAM" in frame.flags or isinstance(frame, RstStreamFrame))
                for frame in self.frames
                if isinstance(frame, (HeadersFrame, DataFrame, RstStreamFrame))
            )

        if not ended(self.frames):
            self.read(timeout, until=ended)
        for frame in self.frames:
            if frame.stream_id != stream_id:
                continue
            if isinstance(frame, HeadersFrame) and "grpc-status" in frame.headers:
                return frame.headers["grpc-status"], frame.headers.get("grpc-message", "")
            if isinstance(frame, RstStreamFrame):
                return None, f"RST_STREAM {frame.error_code}"
        return None, "closed" if self.closed else "no status in time"

    def goaway(self) -> Optional[GoAwayFrame]:
        return next((f for f in self.frames if isinstance(f, GoAwayFrame)), None)

    def server_settings(self, timeout: float = 2.0) -> dict:
        """The server's first SETTINGS (read until it arrives)."""

        def first(frames):
            return any(isinstance(f, SettingsFrame) and "ACK" not in f.flags for f in self.frames)

        self.read(timeout, until=first)
        settings = [f for f in self.frames if isinstance(f, SettingsFrame) and "ACK" not in f.flags]
        return dict(settings[0].settings)
