"""The gRPC link's stream messages: chunking round trip and rejection of malformed input."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.errors import LinkError
from veil.link.grpc_proto import HEADER_SIZE, MAGIC, Kind, Reassembler, chunks, pack, parse


def _feed_all(reasm: Reassembler, messages: list[bytes]) -> list[bytes]:
    out = []
    for m in messages:
        h, payload = parse(m)
        got = reasm.feed(h, payload)
        if got is not None:
            out.append(bytes(got))
    return out


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=4), st.integers(1, 64))
def test_chunks_reassemble_in_order(frames: list[bytes], max_chunk: int) -> None:
    messages = [m for i, f in enumerate(frames) for m in chunks(3, i, f, max_chunk)]
    assert all(len(m) <= HEADER_SIZE + max_chunk for m in messages)
    reasm = Reassembler(1 << 20)
    assert _feed_all(reasm, messages) == frames
    assert reasm.pending() is None


def test_parse_rejects_malformed_messages() -> None:
    good = pack(Kind.HEARTBEAT, 1, 2)
    with pytest.raises(LinkError, match="shorter than"):
        parse(good[:-1])
    with pytest.raises(LinkError, match="bad magic"):
        parse(b"XXXX" + good[4:])
    with pytest.raises(LinkError, match="version 9"):
        parse(good[:5] + b"\x09" + good[6:])
    with pytest.raises(LinkError, match="unknown message kind"):
        parse(good[:4] + b"\x63" + good[5:])
    bad_count = struct.pack("<4sBBIQIIQ", MAGIC, Kind.CLOSE, 1, 1, 2, 0, 5, 0)
    with pytest.raises(LinkError, match="malformed CLOSE"):
        parse(bad_count)


def test_reassembler_rejects_bad_sequences() -> None:
    msgs = list(chunks(1, 7, b"x" * 100, 30))  # 4 chunks
    other = list(chunks(1, 8, b"y" * 100, 30))
    cases = [
        ([msgs[1]], "starts at chunk 1"),
        ([msgs[0], msgs[2]], "got chunk 2/4 of message 7"),
        ([msgs[0], other[0]], "got chunk 0/4 of message 8"),
    ]
    for seq, match in cases:
        with pytest.raises(LinkError, match=match):
            _feed_all(Reassembler(1 << 20), seq)
    with pytest.raises(LinkError, match="limit 50 bytes"):
        _feed_all(Reassembler(50), msgs)
    reasm = Reassembler(1 << 20)
    _feed_all(reasm, msgs[:2])
    assert "truncated after chunk 2/4" in (reasm.pending() or "")
    with pytest.raises(LinkError, match="HEARTBEAT message came in between"):
        reasm.check_idle(Kind.HEARTBEAT)
    h, payload = parse(msgs[0])
    with pytest.raises(LinkError, match="more bytes than"):
        Reassembler(1 << 20).feed(h._replace(count=1, total=10), payload)
