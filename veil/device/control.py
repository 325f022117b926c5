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

    progress                          -> {progress: Progress map or None}  (answered while a job runs)

Without TLS the channel is plaintext: bind control addresses to loopback. When the cluster
config has `tls`, the channel uses mutual TLS with the same PKI as the party links: a node
presents its own certificate and accepts only clients whose certificate (signed by the cluster
CA) names the driver (`DRIVER`, the `tls.driver` entry of the config); the local launcher makes
that certificate along with the nodes' when `tls=True`.
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

from veil.errors import ConfigError, LinkError
from veil.link.tls import TlsConfig, channel_credentials, server_credentials
from veil.link.wire import decode_frame, encode_frame

DRIVER = "driver"  # the certificate name of the driver, the only client a node's control service accepts

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
    """Serves control requests with `handler` on `address` (mutual TLS if `tls`; see module docstring)."""

    def __init__(
        self,
        address: str,
        handler: Handler,
        name: str,
        workers: int = 8,
        tls: TlsConfig | None = None,
        clients: frozenset[str] = frozenset({DRIVER}),
    ) -> None:
        self._handler = handler
        self._name = name
        self._tls = tls
        self._clients = {c.encode() for c in clients}
        rpc = grpc.unary_unary_rpc_method_handler(self._serve)
        generic = grpc.method_handlers_generic_handler(SERVICE, {METHOD: rpc})
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"veil-ctl-{name}"),
            handlers=[generic],
            options=[*_OPTIONS, ("grpc.so_reuseport", 0)],
        )
        try:
            if tls is None:
                port = self._server.add_insecure_port(address)
            else:
                port = self._server.add_secure_port(address, server_credentials(tls))
        except RuntimeError:
            port = 0
        if not port:
            raise LinkError(
                f"party {name}: cannot listen for control on {address}; free the port or change control_address"
            )
        self._server.start()

    def _serve(self, request: bytes, context: grpc.ServicerContext) -> bytes:
        if self._tls is not None:
            names = context.auth_context().get("x509_common_name", [])
            if len(names) != 1 or names[0] not in self._clients:
                log.error("party %s: control request from certificate %s refused", self._name, names)
                context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    f"party {self._name}: control requests are accepted from {sorted(self._clients)} only, "
                    f"not from certificate {names}",
                )
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

    def __init__(self, address: str, name: str, tls: TlsConfig | None = None) -> None:
        """`tls`: the driver's certificate files; the node must present a certificate for `name`."""
        self.address = address
        self.name = name
        if tls is None:
            self._channel = grpc.insecure_channel(address, options=_OPTIONS)
        else:
            options = [*_OPTIONS, ("grpc.ssl_target_name_override", name)]
            self._channel = grpc.secure_channel(address, channel_credentials(tls), options=options)
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


def driver_tls(tls: dict[str, TlsConfig] | Any) -> TlsConfig | None:
    """The driver's certificate from a cluster's TLS map (None without TLS); ConfigError if missing."""
    if not tls:
        return None
    cfg = tls.get(DRIVER)
    if cfg is None:
        raise ConfigError(
            f"cluster config: tls has no {DRIVER!r} entry; with TLS on, the driver needs its own certificate "
            "(signed by the cluster CA) to talk to the nodes' control services"
        )
    return cfg
