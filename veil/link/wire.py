"""Frame format for arrays on a link: a small binary header plus the raw C-order bytes. No pickle.

Layout (all integers little-endian):
    magic b"VL1\\0" | u16 version | u16 tag_len, tag (utf-8) | u32 depth (Lamport round stamp)
    | u16 dtype_len, dtype description (ascii) | u8 ndim | u64 * ndim dims | u64 payload_len
    | payload (exactly payload_len bytes, nothing after)

The dtype description is numpy's `dtype.str` for plain dtypes and a canonical JSON of
`dtype.descr` for structured ones (e.g. FM128 `[["lo","<u8"],["hi","<u8"]]`). Only the bases in
`ALLOWED_BASES` and packed (possibly nested) records of them pass, so a peer cannot make us build
object arrays or giant dtypes. Every malformed frame raises `LinkError`.
"""

from __future__ import annotations

import functools
import json
import math
import struct
from typing import Any, NamedTuple

import numpy as np

from veil.errors import LinkError

MAGIC = b"VL1\0"
VERSION = 1
MAX_NDIM = 32
MAX_FIELDS = 64  # total fields over all nesting levels of a structured dtype
MAX_NESTING = 4
ALLOWED_BASES = frozenset({"|b1", "|u1", "<u2", "<u4", "<u8", "|i1", "<i2", "<i4", "<i8", "<f4", "<f8"})

_HEAD = struct.Struct("<4sHH")  # magic, version, tag_len
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class Frame(NamedTuple):
    """A decoded frame: the tag, an owned writable array, and the sender's depth stamp."""

    tag: str
    array: np.ndarray
    depth: int


# ----------------------------------------------------------------------------- dtype description


def _plain_str(dt: np.dtype, swap_ok: bool = True) -> str:
    """Little-endian numpy type string of a plain dtype, or LinkError if not allowed.

    `swap_ok`: a big-endian top-level array is converted on encode; record fields are not.
    """
    if dt.fields is None and dt.subdtype is None and dt.kind in "buif":
        s = dt.newbyteorder("<").str if dt.byteorder == ">" and swap_ok else dt.str
        if s in ALLOWED_BASES:
            return s
    raise LinkError(
        f"wire: dtype {dt} cannot be sent; allowed are {sorted(ALLOWED_BASES)} and packed "
        "structured records of them (convert the array first)"
    )


def _descr_of(dt: np.dtype, level: int, count: list[int]) -> list[Any] | str:
    """JSON-able description: a base string, or [[name, descr], ...] for a packed record."""
    if dt.fields is None:
        return _plain_str(dt, swap_ok=False)
    if level >= MAX_NESTING:
        raise LinkError(f"wire: structured dtype nested deeper than {MAX_NESTING} levels")
    out: list[Any] = []
    offset = 0
    for name in dt.names or ():
        sub, off = dt.fields[name][:2]
        if off != offset:
            raise LinkError(f"wire: structured dtype {dt} has padding; use a packed dtype")
        count[0] += 1
        out.append([name, _descr_of(sub, level + 1, count)])
        offset += sub.itemsize
    if not out or offset != dt.itemsize or count[0] > MAX_FIELDS:
        raise LinkError(f"wire: structured dtype {dt} is empty, padded or too large")
    return out


def dtype_description(dt: np.dtype) -> str:
    """The canonical description of an allowed dtype (see module docstring)."""
    if dt.fields is None:
        return _plain_str(dt)
    return json.dumps(_descr_of(dt, 0, [0]), separators=(",", ":"))


def _dtype_from_json(obj: Any, level: int, count: list[int]) -> Any:
    """Rebuild the np.dtype spec from parsed JSON, validating shape, names and bases."""
    if isinstance(obj, str):
        if obj not in ALLOWED_BASES:
            raise LinkError(f"wire: dtype base {obj!r} is not allowed")
        return obj
    if not isinstance(obj, list) or not obj or level >= MAX_NESTING:
        raise LinkError("wire: structured dtype description must be a non-empty, shallow list")
    fields = []
    for item in obj:
        count[0] += 1
        if count[0] > MAX_FIELDS:
            raise LinkError(f"wire: structured dtype has more than {MAX_FIELDS} fields")
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and item[0]):
            raise LinkError(f"wire: bad structured dtype field {item!r}; expected [name, dtype]")
        fields.append((item[0], _dtype_from_json(item[1], level + 1, count)))
    return fields


@functools.lru_cache(maxsize=256)
def parse_dtype(desc: str) -> np.dtype:
    """Inverse of `dtype_description`; raises LinkError for anything not allowed (memoized)."""
    if not desc.startswith("["):
        if desc not in ALLOWED_BASES:
            raise LinkError(f"wire: dtype {desc!r} is not allowed")
        return np.dtype(desc)
    try:
        obj = json.loads(desc)
    except (ValueError, RecursionError) as e:
        raise LinkError(f"wire: bad structured dtype JSON {desc[:80]!r}: {e}") from None
    spec = _dtype_from_json(obj, 0, [0])
    try:
        return np.dtype(spec)
    except (TypeError, ValueError) as e:
        raise LinkError(f"wire: invalid structured dtype {desc[:80]!r}: {e}") from None


# ----------------------------------------------------------------------------- frames


def encode_frame(tag: str, array: np.ndarray, depth: int = 0) -> bytes:
    """Serialize `array` (any allowed dtype and shape, 0-d and empty included) under `tag`."""
    arr = np.asarray(array)
    desc = dtype_description(arr.dtype).encode("ascii")
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("<"))
    try:
        tag_b = tag.encode("utf-8")
    except (UnicodeEncodeError, AttributeError):
        raise LinkError(f"wire: tag {tag!r} must be a str encodable as utf-8") from None
    if len(tag_b) > 0xFFFF:
        raise LinkError(f"wire: tag {tag[:40]!r}... is longer than 65535 bytes")
    if not 0 <= depth <= 0xFFFFFFFF:
        raise LinkError(f"wire: depth {depth} does not fit in u32")
    if arr.ndim > MAX_NDIM:
        raise LinkError(f"wire: array has {arr.ndim} dims; at most {MAX_NDIM} are supported")
    raw = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    header = b"".join(
        [
            _HEAD.pack(MAGIC, VERSION, len(tag_b)),
            tag_b,
            _U32.pack(depth),
            _U16.pack(len(desc)),
            desc,
            bytes([arr.ndim]),
            struct.pack(f"<{arr.ndim}Q", *arr.shape),
            _U64.pack(raw.nbytes),
        ]
    )
    return b"".join([header, raw.data])


class _Reader:
    """Bounds-checked cursor over a frame buffer; every overrun is a LinkError."""

    def __init__(self, buf: bytes | bytearray | memoryview) -> None:
        self.view = memoryview(buf).cast("B")
        self.pos = 0

    def take(self, n: int, what: str) -> memoryview:
        end = self.pos + n
        if end > len(self.view):
            raise LinkError(
                f"wire: truncated frame: {what} needs {n} bytes at offset {self.pos}, "
                f"frame has {len(self.view)}"
            )
        out = self.view[self.pos : end]
        self.pos = end
        return out

    def unpack(self, st: struct.Struct, what: str) -> Any:
        return st.unpack(self.take(st.size, what))


def _decode_text(raw: memoryview, what: str, codec: str) -> str:
    try:
        return bytes(raw).decode(codec)
    except UnicodeDecodeError:
        raise LinkError(f"wire: {what} is not valid {codec}") from None


def decode_frame(buf: bytes | bytearray | memoryview) -> Frame:
    """Parse one frame; the array is an owned, writable copy. Malformed input raises LinkError."""
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise LinkError(f"wire: expected bytes, got {type(buf).__name__}")
    r = _Reader(buf)
    magic, version, tag_len = r.unpack(_HEAD, "header")
    if magic != MAGIC:
        raise LinkError(f"wire: bad magic {magic!r}; the peer is not speaking veil link frames")
    if version != VERSION:
        raise LinkError(f"wire: frame version {version} unsupported (this side speaks {VERSION})")
    tag = _decode_text(r.take(tag_len, "tag"), "tag", "utf-8")
    (depth,) = r.unpack(_U32, "depth")
    (desc_len,) = r.unpack(_U16, "dtype length")
    dt = parse_dtype(_decode_text(r.take(desc_len, "dtype"), "dtype", "ascii"))
    ndim = r.take(1, "ndim")[0]
    if ndim > MAX_NDIM:
        raise LinkError(f"wire: frame claims {ndim} dims; at most {MAX_NDIM} are supported")
    shape = struct.unpack(f"<{ndim}Q", r.take(8 * ndim, "shape"))
    if any(d >= 1 << 62 for d in shape):
        raise LinkError(f"wire: frame shape {shape} has an impossible dimension")
    (payload_len,) = r.unpack(_U64, "payload length")
    expected = math.prod(shape) * dt.itemsize
    if payload_len != expected:
        raise LinkError(
            f"wire: payload length {payload_len} does not match shape {shape} of {dt} ({expected} bytes)"
        )
    if len(r.view) - r.pos != payload_len:
        raise LinkError(
            f"wire: frame '{tag}' carries {len(r.view) - r.pos} payload bytes, header says "
            f"{payload_len} (truncated or trailing data)"
        )
    data = bytearray(r.take(payload_len, "payload"))
    if dt == np.bool_ and payload_len and np.frombuffer(data, np.uint8).max() > 1:
        raise LinkError(f"wire: frame '{tag}' has bool bytes other than 0/1")
    try:
        array = np.frombuffer(data, dtype=dt).reshape(shape) if payload_len else np.zeros(shape, dt)
    except ValueError as e:
        raise LinkError(f"wire: cannot build array of shape {shape} and dtype {dt}: {e}") from None
    return Frame(tag, array, depth)
