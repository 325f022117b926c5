"""What the in-memory link checks and sizes instead of encoding frames (see `veil.link.memory`).

`owned_copy` gives exactly what `wire.decode_frame(wire.encode_frame(tag, arr))` would: the same
validation errors (dtype, ndim, tag) and an owned little-endian C-order copy, for the price of
one copy; `frame_size` is the encoded frame's length, for a shaper. Checks are memoized per tag
and dtype: a send costs a few dict lookups instead of building and parsing a byte frame.
"""

from __future__ import annotations

import functools

import numpy as np

from veil.errors import LinkError
from veil.link.wire import MAX_NDIM, dtype_description

_FIXED_HEADER = 4 + 2 + 2 + 4 + 2 + 1 + 8  # magic, version, tag_len, depth, dtype_len, ndim, payload_len


@functools.lru_cache(maxsize=1024)
def _tag_bytes(tag: str) -> int:
    """utf-8 length of a tag; LinkError (as `encode_frame`) for a tag the wire cannot carry."""
    try:
        n = len(tag.encode("utf-8"))
    except (UnicodeEncodeError, AttributeError):
        raise LinkError(f"wire: tag {tag!r} must be a str encodable as utf-8") from None
    if n > 0xFFFF:
        raise LinkError(f"wire: tag {tag[:40]!r}... is longer than 65535 bytes")
    return n


@functools.lru_cache(maxsize=256)
def _wire_dtype(dt: np.dtype) -> tuple[np.dtype, int]:
    """(little-endian dtype to send, length of its wire description); LinkError if not sendable."""
    desc_len = len(dtype_description(dt))
    return (dt.newbyteorder("<") if dt.byteorder == ">" else dt), desc_len


def frame_size(tag: str, arr: np.ndarray) -> int:
    """Bytes of `wire.encode_frame(tag, arr)` (header + payload), without encoding it."""
    _, desc_len = _wire_dtype(arr.dtype)
    return _FIXED_HEADER + _tag_bytes(tag) + desc_len + 8 * arr.ndim + arr.nbytes


def owned_copy(tag: str, arr: np.ndarray, donated: bool = False) -> np.ndarray:
    """What `decode_frame(encode_frame(tag, arr))` yields: validated, one little-endian C copy.

    `donated`: the caller hands `arr` over and never touches it again (nor the rest of the
    buffer it may be a view of), so an array that already is what the copy would be (C-order,
    writable, little-endian data) is passed as is.
    """
    if not isinstance(tag, str):
        raise LinkError(f"wire: tag {tag!r} must be a str encodable as utf-8")
    _tag_bytes(tag)
    dt, _ = _wire_dtype(arr.dtype)
    if arr.ndim > MAX_NDIM:
        raise LinkError(f"wire: array has {arr.ndim} dims; at most {MAX_NDIM} are supported")
    if donated and arr.dtype == dt and arr.flags.c_contiguous and arr.flags.writeable:
        return arr
    return np.array(arr, dtype=dt, order="C", copy=True)
