"""Frame round trips for every allowed dtype/shape, and fuzzing: malformed frames give LinkError."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from veil.errors import LinkError
from veil.link.wire import ALLOWED_BASES, decode_frame, dtype_description, encode_frame, parse_dtype

U128 = np.dtype([("lo", "<u8"), ("hi", "<u8")])
PAIR128 = np.dtype([("s0", U128), ("s1", U128)])
PAIR64 = np.dtype([("s0", "<u8"), ("s1", "<u8")])
DTYPES = [np.dtype(s) for s in sorted(ALLOWED_BASES)] + [U128, PAIR128, PAIR64]

shapes = st.lists(st.integers(0, 4), min_size=0, max_size=4).map(tuple)


def _random_array(rng: np.random.Generator, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    raw = rng.integers(0, 256, size=int(np.prod(shape)) * dtype.itemsize, dtype=np.uint8)
    if dtype == np.bool_:
        raw &= 1
    return raw.view(dtype).reshape(shape) if raw.size else np.zeros(shape, dtype)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@given(
    dtype=st.sampled_from(DTYPES),
    shape=shapes,
    seed=st.integers(0, 2**32 - 1),
    tag=st.text(max_size=20),
    depth=st.integers(0, 2**32 - 1),
)
@settings(max_examples=150, deadline=None)
def test_round_trip(dtype: np.dtype, shape: tuple[int, ...], seed: int, tag: str, depth: int) -> None:
    arr = _random_array(np.random.default_rng(seed), dtype, shape)
    frame = decode_frame(encode_frame(tag, arr, depth))
    assert frame.tag == tag and frame.depth == depth
    assert _same(frame.array, arr)
    assert frame.array.flags.writeable and frame.array.flags.c_contiguous
    assert not np.shares_memory(frame.array, arr)


def test_zero_d_empty_and_non_contiguous() -> None:
    for arr in [np.array(7, np.int64), np.zeros((0, 3), PAIR128), np.arange(12.0).reshape(3, 4).T]:
        out = decode_frame(encode_frame("t", arr)).array
        assert out.shape == arr.shape and np.array_equal(out, arr)
    big_endian = np.arange(5, dtype=">i4")
    out = decode_frame(encode_frame("t", big_endian)).array
    assert out.dtype == np.dtype("<i4") and np.array_equal(out, big_endian)


def test_decoded_array_is_independent_copy() -> None:
    buf = bytearray(encode_frame("t", np.arange(4, dtype=np.uint64)))
    out = decode_frame(buf).array
    out[0] = 99
    buf[-8:] = b"\xff" * 8
    assert out.tolist() == [99, 1, 2, 3]


def test_structured_description_is_canonical_json() -> None:
    assert dtype_description(U128) == '[["lo","<u8"],["hi","<u8"]]'
    assert parse_dtype(dtype_description(PAIR128)) == PAIR128


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros(2, np.complex64),
        np.zeros(2, np.float16),
        np.array(["a"]),
        np.array([object()], dtype=object),
        np.zeros(2, np.dtype([("a", ">u8")])),
        np.zeros(2, np.dtype({"names": ["a"], "formats": ["<u4"], "itemsize": 8})),
        np.zeros(2, np.dtype([("a", "<u4", (2,))])),
    ],
)
def test_disallowed_dtypes_raise(arr: np.ndarray) -> None:
    with pytest.raises(LinkError, match="wire"):
        encode_frame("t", arr)


def _frame(
    desc: bytes, shape: tuple[int, ...], payload: bytes, magic: bytes = b"VL1\0", ver: int = 1
) -> bytes:
    return b"".join(
        [
            struct.pack("<4sHH", magic, ver, 1),
            b"t",
            struct.pack("<I", 0),
            struct.pack("<H", len(desc)),
            desc,
            bytes([len(shape)]),
            struct.pack(f"<{len(shape)}Q", *shape),
            struct.pack("<Q", len(payload)),
            payload,
        ]
    )


@pytest.mark.parametrize(
    ("buf", "match"),
    [
        (_frame(b"<u8", (1,), b"\0" * 8, magic=b"XXXX"), "magic"),
        (_frame(b"<u8", (1,), b"\0" * 8, ver=9), "version"),
        (_frame(b"<u8", (2,), b"\0" * 8), "payload length"),
        (_frame(b"<u8", (1,), b"\0" * 8) + b"extra", "trailing"),
        (_frame(b"|O8", (1,), b"\0" * 8), "not allowed"),
        (_frame(b"<c8", (1,), b"\0" * 8), "not allowed"),
        (_frame(b'[["a",', (1,), b"\0" * 8), "JSON"),
        (_frame(b'[["a","<u8"],["a","<u8"]]', (1,), b"\0" * 16), "invalid structured"),
        (_frame(b'[["a","|O8"]]', (1,), b"\0" * 8), "not allowed"),
        (_frame(b"[]", (1,), b""), "non-empty"),
        (_frame(b'[["a",5]]', (1,), b"\0" * 8), "non-empty"),
        (_frame(b"|b1", (1,), b"\x07"), "bool"),
        (_frame(b"<u8", (0, 2**61, 2**61), b""), "impossible|cannot build"),
        (_frame(b"<u8", (1,) * 200, b"\0" * 8), "dims"),
        (b"VL1\0\x01", "truncated"),
        (b"", "truncated"),
    ],
)
def test_malformed_frames_raise_link_error(buf: bytes, match: str) -> None:
    with pytest.raises(LinkError, match=match):
        decode_frame(buf)


def test_non_bytes_input() -> None:
    with pytest.raises(LinkError, match="expected bytes"):
        decode_frame("not bytes")  # type: ignore[arg-type]


_VALID = [
    encode_frame("tag", np.arange(6, dtype=np.uint64).reshape(2, 3), 5),
    encode_frame("x", np.ones((2, 2), PAIR128), 1),
    encode_frame("", np.array(True)),
    encode_frame("é", np.zeros((0, 4), np.float32)),
]


@given(
    which=st.integers(0, len(_VALID) - 1),
    cut=st.integers(0, 400),
    flips=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 7)), max_size=4),
)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fuzz_truncation_and_bit_flips(which: int, cut: int, flips: list[tuple[int, int]]) -> None:
    buf = bytearray(_VALID[which])
    for pos, bit in flips:
        if pos < len(buf):
            buf[pos] ^= 1 << bit
    buf = buf[: len(buf) - cut % (len(buf) + 1)]
    try:
        frame = decode_frame(bytes(buf))
    except LinkError:
        return
    assert frame.array.nbytes == int(np.prod(frame.array.shape)) * frame.array.dtype.itemsize


def test_bad_tag_and_depth() -> None:
    with pytest.raises(LinkError, match="tag"):
        encode_frame("\ud800", np.zeros(1))
    with pytest.raises(LinkError, match="depth"):
        encode_frame("t", np.zeros(1), 2**32)
