"""ABY3 boolean (XOR-replicated) kernels, and the packed bit-level AND used by the circuits.

Boolean shares of the API live in the ring container (k bits per element, same layout as
arithmetic shares). and_bb is the replicated product with XOR in place of +: local cross terms,
an XOR zero-sharing, then one message to the previous party (1 round, k bits per party).

Circuits (msb, eqz, a2b, b2a) work on `Bits` (packed bit planes) instead, so that a gate
layer sends exactly its live bit positions, 8 elements per byte.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veil.mpc import ring
from veil.mpc.aby3.shares import Bits, check_world, contig, nxt, pack, prv, unpack, zero_planes
from veil.mpc.context import ProtocolContext

TAG_AND = "aby3.and"
TAG_ANDB = "aby3.andb"


def _ring_zero_xor(ctx: ProtocolContext, like: np.ndarray) -> np.ndarray:
    """XOR zero-sharing of ring words: PRG_next ^ PRG_prev."""
    field = ring.field_of(like)
    a = ctx.prg.pair(prv(ctx.rank)).ring(field, like.shape)
    b = ctx.prg.pair(nxt(ctx.rank)).ring(field, like.shape)
    return ring.xor(a, b)


def and_bb(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bitwise AND of two boolean shares (1 round, one ring word per party)."""
    check_world(ctx, "and_bb")
    (a0, a1), (b0, b1) = unpack(a), unpack(b)
    z = ring.xor(ring.and_(a0, ring.xor(b0, b1)), ring.and_(a1, b0))
    z = contig(ring.xor(z, _ring_zero_xor(ctx, z)))
    ctx.link.send(prv(ctx.rank), TAG_AND, z)
    z_next = ctx.link.recv(nxt(ctx.rank), TAG_AND)
    return pack(z, np.asarray(z_next).reshape(z.shape))


def xor_bb(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (a0, a1), (b0, b1) = unpack(a), unpack(b)
    return pack(ring.xor(a0, b0), ring.xor(a1, b1))


def and_bp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    a0, a1 = unpack(a)
    return pack(ring.and_(a0, p), ring.and_(a1, p))


def xor_bp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """XOR a public value into component 0 (party 0's s0, party 2's s1)."""
    a0, a1 = unpack(a)
    shape = np.broadcast_shapes(a0.shape, np.shape(p))
    a0, a1 = np.broadcast_to(a0, shape), np.broadcast_to(a1, shape)
    if ctx.rank == 0:
        a0 = ring.xor(a0, p)
    elif ctx.rank == 2:
        a1 = ring.xor(a1, p)
    return pack(a0, a1)


def not_b(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    a0, a1 = unpack(a)
    if ctx.rank == 0:
        a0 = ring.not_(a0)
    elif ctx.rank == 2:
        a1 = ring.not_(a1)
    return pack(a0, a1)


def lshift_b(ctx: ProtocolContext, a: np.ndarray, n: int) -> np.ndarray:
    a0, a1 = unpack(a)
    return pack(ring.lshift(a0, n), ring.lshift(a1, n))


def rshift_b(ctx: ProtocolContext, a: np.ndarray, n: int) -> np.ndarray:
    """Logical shift right of each component (the XOR-shared value shifts the same way)."""
    a0, a1 = unpack(a)
    return pack(ring.rshift_logical(a0, n), ring.rshift_logical(a1, n))


# ------------------------------------------------------------------------------ bit planes


def and_bits(ctx: ProtocolContext, pairs: Sequence[tuple[Bits, Bits]]) -> list[Bits]:
    """AND of several (x, y) bit-plane pairs in ONE round and ONE message per party.

    All planes have the same nbytes; the message is the stacked output planes of this party,
    i.e. (total rows) * nbytes bytes.
    """
    check_world(ctx, "and_bits")
    rows = [x.nrows for x, _ in pairs]
    x0, x1, y0, y1 = (np.concatenate([p[j // 2][j % 2] for p in pairs]) for j in range(4))
    z = (x0 & (y0 ^ y1)) ^ (x1 & y0) ^ zero_planes(ctx, *x0.shape)
    ctx.link.send(prv(ctx.rank), TAG_ANDB, z)
    z_next = np.asarray(ctx.link.recv(nxt(ctx.rank), TAG_ANDB)).reshape(z.shape)
    out: list[Bits] = []
    start = 0
    for n in rows:
        out.append(Bits(z[start : start + n], z_next[start : start + n]))
        start += n
    return out
