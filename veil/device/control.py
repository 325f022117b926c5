"""Driver <-> node control messages: msgpack maps over one unary gRPC method. Never pickle.

A request is a map {"op": name, ...}; the answer is a map {"ok": True, ...} or
{"ok": False, "error": text, "party": culprit, "kind": error class name}. Arrays travel as
`veil.link.wire` frames (bytes), programs as `veil.ir.serialize` bytes. Ops a node answers:

    ping                              -> {party, rank, role, link_ready}
    run      {job, program, hash, inputs, outputs}   compute node: run a program; dealer: serve the job
    fetch    {ids}                    -> {values: [value map]}  (the node's payloads, e.g. shares)
    send     {job, id, to}            compute node: send its payload of `id` to rank `to` on the link
    gather   {job, id, new_id}        compute node: receive the others' payloads, reconstruct, keep as new_id
    delete   {ids}
    shutdown

The channel is plaintext: bind control addresses to loopback (the local launcher does), or put
them behind a tunnel; the party-to-party link is the one that carries shares between hosts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
import msgpack
import numpy as np

from veil.errors import LinkError
from veil.link.wire import decode_frame, encode_frame

SERVICE = "veil.Control"
METHOD = "Call"
FULL_METHOD = f"/{SERVICE}/{METHOD}"
MAX_MESSAGE = (1 << 31) - 1  # gRPC's limit for one message
_OPTIONS = [("grpc.max_send_message_length", MAX_MESSAGE), ("grpc.max_receive_message_length", MAX_MESSAGE)]

Handler = Callable[[dict[str, Any]], dict[str, Any]]
log = logging.getLogger("veil.control")


def pack(msg: dict[str, Any]) -> bytes:
    """A control message as msgpack bytes."""
    return msgpack.packb(msg, use_bin_type=True)


def unpack(data: bytes) -> dict[str, Any]:
    """Parse a control message; anything but a msgpack map raises LinkError."""
    try:
        msg = msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.ExtraData, msgpack.FormatError, msgpack.StackError) as e:
        raise LinkError(f"control: malformed message ({e})") from None
    if not isinstance(msg, dict):
        raise LinkError(f"control: expected a map, got {type(msg).__name__}")
    return msg


def array_bytes(arr: np.ndarray | None) -> bytes | None:
    """An array as a wire frame (None stays None: a party that holds nothing)."""
    return None if arr is None else encode_frame("", np.asarray(arr))


def bytes_array(data: bytes | None) -> np.ndarray | None:
    """Inverse of `array_bytes`; malformed frames raise LinkError."""
    return None if data is None else decode_frame(data).array


def error_reply(error: BaseException | str, party: str, kind: str | None = None) -> dict[str, Any]:
    """The answer to a failed request; `party` is the culprit (which may not be the answering node)."""
    text = str(error)
    return {"ok": False, "error": text, "party": party, "kind": kind or type(error).__name__}


class ControlServer:
    """Serves control requests with `handler` on `address` (plaintext; see module docstring)."""

    def __init__(self, address: str, handler: Handler, name: str, workers: int = 8) -> None:
        self._handler = handler
        self._name = name
        rpc = grpc.unary_unary_rpc_method_handler(self._serve)
        generic = grpc.method_handlers_generic_handler(SERVICE, {METHOD: rpc})
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"veil-ctl-{name}"),
            handlers=[generic],
            options=[*_OPTIONS, ("grpc.so_reuseport", 0)],
        )
        try:
            port = self._server.add_insecure_port(address)
        except RuntimeError:
            port = 0
        if not port:
            raise LinkError(
                f"party {name}: cannot listen for control on {address}; free the port or change control_address"
            )
        self._server.start()

    def _serve(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            msg = unpack(request)
            return pack(self._handler(msg))
        except Exception as e:  # noqa: BLE001 - every failure becomes an error reply, never a crash
            log.exception("party %s: control request failed", self._name)
            return pack(error_reply(e, self._name))

    def stop(self, grace: float = 0.5) -> None:
        self._server.stop(grace).wait(grace + 1.0)


class ControlClient:
    """The driver's handle on one node's control service."""

    def __init__(self, address: str, name: str) -> None:
        self.address = address
        self.name = name
        self._channel = grpc.insecure_channel(address, options=_OPTIONS)
        self._stub = self._channel.unary_unary(FULL_METHOD)
        self._lock = threading.Lock()

    def call(self, msg: dict[str, Any], timeout: float, wait_for_ready: bool = False) -> dict[str, Any]:
        """Send one request and return the reply map (LinkError if the node cannot be reached)."""
        try:
            return unpack(self._stub(pack(msg), timeout=timeout, wait_for_ready=wait_for_ready))
        except grpc.RpcError as e:
            raise LinkError(f"node {self.name} ({self.address}): {_describe(e)}") from None

    def call_async(self, msg: dict[str, Any], timeout: float) -> grpc.Future:
        """Start a request; the future's result() is the raw reply (use `result_of`)."""
        return self._stub.future(pack(msg), timeout=timeout)

    def result_of(self, fut: grpc.Future, timeout: float | None = None) -> dict[str, Any]:
        try:
            return unpack(fut.result(timeout=timeout))
        except grpc.RpcError as e:
            raise LinkError(f"node {self.name} ({self.address}): {_describe(e)}") from None

    def close(self) -> None:
        self._channel.close()


def _describe(e: grpc.RpcError) -> str:
    if isinstance(e, grpc.Call):
        return f"{e.code().name}: {e.details()}"
    return repr(e)
