"""TcpLink-only checks: a peer process dying mid-frame, and malformed TCP frames from a peer.
The contract TcpLink shares with GrpcLink (delivery, 20 MB frames both ways, collectives, stats,
failures, timeouts, closing, strangers) is in test_network.py; TLS is in test_tcp_tls.py and
test_tls.py, separate processes in test_link_process.py."""

from __future__ import annotations

import time

import numpy as np
import pytest

from veil.errors import PartyError
from veil.link.tcp import TcpLink
from veil.link.tcp_proto import HEADER, Kind, hello_body
from veil.link.wire import encode_frame

from .helpers import expect_malformed, free_addresses
from .test_tcp_helpers import FakePeer, frame

pytestmark = pytest.mark.timeout(30)


def test_peer_process_gone_is_unreachable_at_once() -> None:
    addrs = free_addresses(range(2))
    link = TcpLink(0, 2, addrs, timeout=10.0, connect_timeout=5.0)
    fake = FakePeer(addrs[0], rank=1)
    try:
        fake.send(frame(Kind.DATA, encode_frame("x", np.arange(3), 1))[:-5])  # dies mid-frame
        fake.close()
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="unreachable: its connection closed without a close message"):
            link.recv(1, "x")
        assert time.monotonic() - t0 < 1.0
    finally:
        link.close()


@pytest.mark.parametrize(
    "case, match",
    [
        ("unknown-kind", "unknown frame kind 200"),
        ("bad-frame", "wire: bad magic"),
        ("oversized", "exceeds the limit"),
        ("second-hello", "unexpected HELLO frame"),
        ("bad-dtype", "dtype '<c8' is not allowed"),
    ],
)
def test_malformed_input_is_a_link_error_naming_the_peer(case: str, match: str) -> None:
    addrs = free_addresses(range(2))
    link = TcpLink(0, 2, addrs, timeout=5.0, connect_timeout=5.0, max_message=1 << 20)
    fake = FakePeer(addrs[0], rank=1)
    good = encode_frame("x", np.arange(100, dtype=np.int64), 1)
    bad = {
        "unknown-kind": bytes([200]) + b"\0" * 8,
        "bad-frame": frame(Kind.DATA, b"NOPE" + good[4:]),
        "oversized": HEADER.pack(Kind.DATA, (1 << 20) + 1),
        "second-hello": frame(Kind.HELLO, hello_body(1, 2, 2)),
        "bad-dtype": frame(Kind.DATA, good.replace(b"\x03\x00<i8", b"\x03\x00<c8")),  # complex: refused
    }[case]
    try:
        fake.send(frame(Kind.HEARTBEAT) + bad)
        expect_malformed(link, match)
        fake.sock.settimeout(2.0)
        assert fake.sock.recv(100) == b""  # and the link hung up on it
    finally:
        fake.close()
        link.close()
