"""GrpcLink-only checks: malformed gRPC messages from a peer (garbage, bad chunks, a wrong sender),
and the bounded outbox.
The contract GrpcLink shares with TcpLink (delivery, chunked 20 MB arrays, collectives, stats,
failures, timeouts, closing, strangers) is in test_network.py, TLS in test_tls.py."""

from __future__ import annotations

import time

import numpy as np
import pytest

from veil.errors import LinkTimeoutError, PartyError
from veil.link.grpc import GrpcLink
from veil.link.grpc_peer import Item, Outbox
from veil.link.grpc_proto import Kind, chunks, pack
from veil.link.wire import encode_frame

from .helpers import expect_malformed, free_addresses
from .test_grpc_helpers import FakePeer

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize(
    "case, match",
    [
        ("garbage", "bad magic"),
        ("bad-frame", "wire: bad magic"),
        ("truncated", "truncated after chunk 1/3"),
        ("short-chunk", "last chunk arrived short"),
        ("wrong-sender", "claims sender 0"),
    ],
)
def test_malformed_input_is_a_link_error_naming_the_peer(case: str, match: str) -> None:
    addrs = free_addresses(range(2))
    link = GrpcLink(0, 2, addrs, timeout=5.0, connect_timeout=5.0)
    fake = FakePeer(addrs[0], rank=1)
    frame = encode_frame("x", np.arange(100, dtype=np.int64), 1)
    msgs = list(chunks(1, 5, frame, 300))
    bad = {
        "garbage": [b"\x00garbage" * 10],
        "bad-frame": list(chunks(1, 5, b"NOPE" + frame[4:], 10_000)),
        "truncated": msgs[:1],
        "short-chunk": [*msgs[:2], msgs[2][:-8]],
        "wrong-sender": [pack(Kind.HEARTBEAT, 0, 1)],
    }[case]
    try:
        fake.send(pack(Kind.HEARTBEAT, 1, 1))
        for m in bad:
            fake.send(m)
        fake.send(None)  # end the stream (a truncated message is only detectable at its end)
        expect_malformed(link, match)
        assert "malformed" in fake.refusal()  # and the link ended the stream
    finally:
        fake.close()
        link.close()


def test_outbox_holds_back_data_over_its_limit() -> None:
    """DATA waits for room (one item always fits an empty outbox); control messages never wait;
    a peer that never drains it makes the sender fail by `check` or by the deadline."""
    box = Outbox("party 0: send to party 1", max_bytes=100)
    box.put(Item(Kind.DATA, 1, b"x" * 150))  # larger than the limit, but the outbox was empty
    box.put(Item(Kind.CLOSE, 2), urgent=True)  # control: never held back
    with pytest.raises(LinkTimeoutError, match="party 0: send to party 1: 150 bytes still queued"):
        box.put(Item(Kind.DATA, 3, b"y"), deadline=time.monotonic() + 0.2)

    def gone() -> None:
        raise PartyError(1, "unreachable: silent for 3 heartbeats")

    with pytest.raises(PartyError, match="unreachable"):
        box.put(Item(Kind.DATA, 4, b"y"), check=gone, deadline=time.monotonic() + 5)
    assert box.get() is not None and box.get() is not None  # CLOSE, then the big item: room again
    box.put(Item(Kind.DATA, 5, b"z" * 60), deadline=time.monotonic() + 0.2)
