"""Packed bit planes: uint8 arrays (..., nbytes), element e at bit (e % 8) of byte e // 8.

Conversions between ring arrays and their k bit planes run in element chunks so that the
(numel, k) byte-per-bit intermediate never exists at full size.
"""

from __future__ import annotations

import numpy as np

from veil.config import Field
from veil.mpc import ring

ONES = np.uint8(0xFF)
CHUNK = 1 << 15  # elements per chunk of local circuit work (a multiple of 8)


def nbytes_of(numel: int) -> int:
    """Bytes of one packed plane holding `numel` bits."""
    return (int(numel) + 7) // 8


def chunks(numel: int, size: int = CHUNK) -> list[tuple[int, int]]:
    """Element ranges [lo, hi) of at most `size` elements, every lo a multiple of 8."""
    return [(lo, min(int(numel), lo + size)) for lo in range(0, int(numel), size)] or [(0, 0)]


def pack(bits: np.ndarray) -> np.ndarray:
    """0/1 array (..., numel) -> packed planes (..., nbytes)."""
    return np.packbits(np.asarray(bits, dtype=np.uint8), axis=-1, bitorder="little")


def unpack(planes: np.ndarray, numel: int) -> np.ndarray:
    """Packed planes (..., nbytes) -> uint8 0/1 array (..., numel)."""
    return np.unpackbits(planes, axis=-1, count=int(numel), bitorder="little")


def _transpose8(x: np.ndarray) -> np.ndarray:
    """Transpose the 8x8 bit matrix in each uint64 (bit 8 r + c <-> bit 8 c + r), in place."""
    for shift, mask in ((7, 0x00AA00AA00AA00AA), (14, 0x0000CCCC0000CCCC), (28, 0x00000000F0F0F0F0)):
        t = (x ^ (x >> np.uint64(shift))) & np.uint64(mask)
        x ^= t ^ (t << np.uint64(shift))
    return x


def planes_from_ring(x: np.ndarray) -> np.ndarray:
    """Ring array (any shape) -> its k bit planes (k, nbytes), bit 0 first, elements flattened.

    Each block of 8 elements and byte position B is an 8x8 bit matrix (element, bit); its
    transpose is the block's byte in planes 8B..8B+7, so 3 word operations do 64 bits. All byte
    positions go through one `_transpose8` call (few numpy calls: this runs per comparison).
    """
    flat = np.ascontiguousarray(x).reshape(-1)
    kb = ring.field_of(flat).bits // 8
    nb = nbytes_of(flat.size)
    raw = flat.view(np.uint8)
    if flat.size % 8:
        raw = np.concatenate([raw, np.zeros((nb * 8 - flat.size) * kb, np.uint8)])
    # (block, element, byte) -> (byte, block, element): one uint64 word per (byte, block)
    # (always a copy: `_transpose8` works in place, and with nb == 1 the view may look contiguous)
    words = np.array(raw.reshape(nb, 8, kb).transpose(2, 0, 1), order="C").view(np.uint64).reshape(kb, nb)
    bits = _transpose8(words).view(np.uint8).reshape(kb, nb, 8)  # (byte, block, bit of that byte)
    return np.ascontiguousarray(bits.transpose(0, 2, 1)).reshape(8 * kb, nb)


def ring_from_planes(planes: np.ndarray, numel: int, field: Field) -> np.ndarray:
    """Inverse of `planes_from_ring`: (k, nbytes) -> flat ring array (numel,)."""
    kb = Field(field).bits // 8
    nb = nbytes_of(numel)
    # (byte, bit, block) -> (byte, block, bit): one uint64 word per (byte, block)
    grid = planes[: 8 * kb, :nb].reshape(kb, 8, nb).transpose(0, 2, 1)
    words = np.array(grid, order="C").view(np.uint64).reshape(kb, nb)  # a copy: never touch `planes`
    elems = _transpose8(words).view(np.uint8).reshape(kb, nb, 8)  # (byte, block, element)
    out = np.ascontiguousarray(elems.transpose(1, 2, 0))  # (block, element, byte)
    return out.reshape(-1).view(ring.ring_dtype(field))[: int(numel)]


def ring_from_bits(bits: np.ndarray, field: Field) -> np.ndarray:
    """Non-negative small integers (0/1 bits) -> ring elements of the same shape (one copy)."""
    lo = np.asarray(bits).astype(np.uint64)
    if field is Field.FM64:
        return lo
    out = np.empty(lo.shape, ring.U128)
    out["lo"], out["hi"] = lo, 0
    return out


def ring_from_small(c: np.ndarray, field: Field) -> np.ndarray:
    """Signed int64 -> ring elements (a zero-copy view on FM64)."""
    if field is Field.FM64:
        return c.view(np.uint64)
    return ring.from_int64(field, c)
