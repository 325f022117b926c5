"""A fake gRPC peer for the GrpcLink tests (generic link helpers are in helpers.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc

from veil.link.grpc_proto import FULL_METHOD, Kind, hello_payload, pack


class FakePeer:
    """A raw gRPC client posing as rank `rank`: sends HELLO then whatever bytes the test wants."""

    def __init__(self, address: str, rank: int, world: int = 2, nranks: int = 2) -> None:
        self.channel = grpc.insecure_channel(address)
        self._items: list[bytes | None] = []
        self._cond = threading.Condition()
        self.hello = pack(Kind.HELLO, rank, 0, hello_payload(world, nranks))
        self.responses: list[bytes] = []
        self.error: grpc.RpcError | None = None
        self._call = self.channel.stream_stream(FULL_METHOD)(self._requests())
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _requests(self) -> Iterator[bytes]:
        yield self.hello
        while True:
            with self._cond:
                while not self._items:
                    self._cond.wait()
                item = self._items.pop(0)
            if item is None:
                return
            yield item

    def _read(self) -> None:
        try:
            for m in self._call:
                self.responses.append(m)
        except grpc.RpcError as e:
            self.error = e

    def send(self, message: bytes | None) -> None:
        """Queue raw bytes (None ends the stream cleanly, i.e. half-close)."""
        with self._cond:
            self._items.append(message)
            self._cond.notify()

    def refusal(self, wait_s: float = 2.0) -> str:
        """Why the link ended this stream with an error ("" if it has not within `wait_s`)."""
        self._reader.join(wait_s)
        return self.error.details() if self.error is not None else ""

    def close(self, join_s: float = 5.0) -> None:
        self.send(None)
        self._reader.join(join_s)
        self._call.cancel()
        self.channel.close()
