"""ABY3 share layout and the no-message randomness every kernel builds on.

A share of x = x0 + x1 + x2 (mod 2^k) at party i is ONE numpy array of the logical shape with
the structured dtype [("s0", ring), ("s1", ring)] holding (x_i, x_{i+1 mod 3}). Component j is
known to parties j and j-1, so it can be drawn from their pairwise PRG without messages:
party i draws component i from `pair(prev)` and component i+1 from `pair(next)`. Boolean
(XOR) shares use the same container; bit-level circuits use `Bits`, pairs of packed bit planes.

Every pair stream is read in the same order by both of its parties: each helper here draws
the same shapes on both sides, which is what keeps replicated randomness consistent.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from veil.config import Field
from veil.mpc import ring
from veil.mpc.context import ProtocolContext
from veil.mpc.prg import AesCtrStream

WORLD = 3


def contig(x: np.ndarray) -> np.ndarray:
    """C-contiguous (copied only if needed), same shape: np.ascontiguousarray turns 0-d into 1-d."""
    x = np.asarray(x)
    return np.ascontiguousarray(x).reshape(x.shape)


def share_dtype(field: Field) -> np.dtype:
    """The structured dtype of one party's replicated share on `field`."""
    rd = ring.ring_dtype(field)
    return np.dtype([("s0", rd), ("s1", rd)])


def pack(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two ring arrays (this party's components i and i+1) -> one share array."""
    a, b = np.asarray(a), np.asarray(b)
    field = ring.field_of(a)
    if ring.field_of(b) is not field:
        raise TypeError(f"aby3.pack: components in different fields ({field.name}, {ring.field_of(b).name})")
    out = np.empty(np.broadcast_shapes(a.shape, b.shape), share_dtype(field))
    out["s0"] = a
    out["s1"] = b
    return out


def unpack(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A share array -> (component i, component i+1) as ring arrays (views)."""
    s = np.asarray(s)
    names = s.dtype.names
    if names != ("s0", "s1"):
        raise TypeError(
            f"aby3: expected a replicated share with fields (s0, s1), got dtype {s.dtype}; "
            "secret payloads of aby3 come from p2s / v2s / the io module"
        )
    return s["s0"], s["s1"]


def check_world(ctx: ProtocolContext, op: str) -> None:
    if ctx.world != WORLD:
        raise ValueError(f"aby3.{op}: party {ctx.rank}: aby3 needs exactly 3 parties, got world={ctx.world}")


def nxt(rank: int) -> int:
    return (rank + 1) % WORLD


def prv(rank: int) -> int:
    return (rank - 1) % WORLD


# ----------------------------------------------------------------------------- ring randomness


def rand_ring(ctx: ProtocolContext, field: Field, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Replicated uniform ring value: (component i from pair(prev), component i+1 from pair(next))."""
    r0 = ctx.prg.pair(prv(ctx.rank)).ring(field, shape)
    r1 = ctx.prg.pair(nxt(ctx.rank)).ring(field, shape)
    return r0, r1


def zero_ring(ctx: ProtocolContext, field: Field, shape: tuple[int, ...]) -> np.ndarray:
    """alpha_i = PRG_next - PRG_prev: three values summing to 0, one per party, no messages."""
    r_prev, r_next = rand_ring(ctx, field, shape)
    return ring.sub(r_next, r_prev)


# ------------------------------------------------------------------------------ bit-plane shares


class Bits(NamedTuple):
    """Replicated XOR sharing of bit planes: (component i, component i+1), each a uint8 array
    of shape (rows, nbytes): one row per bit position, element e at bit e % 8 of byte e // 8.
    Gates are bytewise numpy ops on whole planes; padding bits of the last byte are junk."""

    s0: np.ndarray
    s1: np.ndarray

    def __xor__(self, other: object) -> Bits:
        if not isinstance(other, Bits):
            return NotImplemented
        return Bits(self.s0 ^ other.s0, self.s1 ^ other.s1)

    def rows(self, sl: slice) -> Bits:
        return Bits(self.s0[sl], self.s1[sl])

    @property
    def nrows(self) -> int:
        return int(self.s0.shape[0])


def nbytes_of(numel: int) -> int:
    """Bytes of one bit plane holding `numel` elements."""
    return (int(numel) + 7) // 8


def bits_not(ctx: ProtocolContext, b: Bits) -> Bits:
    """Flip every bit: XOR 1 into component 0 (held by party 0 as s0 and party 2 as s1)."""
    if ctx.rank == 0:
        return Bits(b.s0 ^ np.uint8(0xFF), b.s1)
    if ctx.rank == 2:
        return Bits(b.s0, b.s1 ^ np.uint8(0xFF))
    return b


def rand_planes(stream: AesCtrStream, rows: int, nbytes: int) -> np.ndarray:
    """Uniform random bit planes (every byte is 8 random bits)."""
    return stream.uint((rows, nbytes), np.uint8)


def zero_planes(ctx: ProtocolContext, rows: int, nbytes: int) -> np.ndarray:
    """XOR zero-sharing of bit planes: PRG_next ^ PRG_prev."""
    a = rand_planes(ctx.prg.pair(prv(ctx.rank)), rows, nbytes)
    b = rand_planes(ctx.prg.pair(nxt(ctx.rank)), rows, nbytes)
    return a ^ b


def planes_from_ring(x: np.ndarray) -> np.ndarray:
    """Ring array (any shape) -> its k bit planes (k, nbytes), bit 0 first, elements flattened.

    Works on the (k/8, numel) byte matrix, one shift-and-pack pass per bit of a byte, which
    avoids transposing a (numel, k) bit matrix.
    """
    flat = np.ascontiguousarray(x).reshape(-1)
    kb = flat.dtype.itemsize
    by_byte = np.ascontiguousarray(flat.view(np.uint8).reshape(flat.size, kb).T)  # (kb, numel)
    out = np.empty((kb, 8, nbytes_of(flat.size)), np.uint8)
    for b in range(8):
        out[:, b, :] = np.packbits((by_byte >> b) & 1, axis=-1, bitorder="little")
    return out.reshape(kb * 8, -1)


def ring_from_planes(planes: np.ndarray, numel: int, field: Field) -> np.ndarray:
    """Inverse of `planes_from_ring`: (k, nbytes) -> flat ring array (numel,)."""
    kb = field.bits // 8
    grouped = np.asarray(planes, dtype=np.uint8).reshape(kb, 8, -1)
    by_byte = np.zeros((kb, int(numel)), np.uint8)
    for b in range(8):
        by_byte |= np.unpackbits(grouped[:, b, :], axis=-1, count=int(numel), bitorder="little") << b
    return np.ascontiguousarray(by_byte.T).view(ring.ring_dtype(field)).reshape(int(numel))


def plane_to_bits(plane: np.ndarray, numel: int) -> np.ndarray:
    """One plane (nbytes,) -> uint8 0/1 per element (numel,)."""
    return np.unpackbits(np.asarray(plane, dtype=np.uint8), count=int(numel), bitorder="little")


def bit_to_ring(b: np.ndarray, field: Field) -> np.ndarray:
    """0/1 uint8 values -> ring 0/1 values of the same shape."""
    return ring.from_int64(field, np.asarray(b, dtype=np.int64))
