"""ABY3 arithmetic kernels: sharing, opening, linear ops and products of replicated shares.

Party i holds (x_i, x_{i+1}). A product's cross terms x_i y_i + x_i y_{i+1} + x_{i+1} y_i are
local; with the zero-sharing alpha_i they form a fresh 3-out-of-3 sharing z, and each party
sends z_i to its previous party (1 round, one ring element per party) to get back to the
replicated form. Public values live in component 0 (party 0's s0, party 2's s1).
"""

from __future__ import annotations

import numpy as np

from veil.mpc import matmul as mm
from veil.mpc import ring
from veil.mpc.aby3.shares import check_world, contig, nxt, pack, prv, unpack, zero_ring
from veil.mpc.context import ProtocolContext

TAG_OPEN = "aby3.open"
TAG_REVEAL = "aby3.reveal"
TAG_SHARE = "aby3.share"
TAG_RESHARE = "aby3.reshare"


def _check_to(ctx: ProtocolContext, who: int, op: str) -> int:
    if not isinstance(who, (int, np.integer)) or not 0 <= int(who) < 3:
        raise ValueError(f"aby3.{op}: party {ctx.rank}: party index {who!r} must be 0, 1 or 2")
    return int(who)


def p2s(ctx: ProtocolContext, p: np.ndarray) -> np.ndarray:
    """Share a public value: it goes into component 0, the others are 0 (no messages)."""
    p = np.asarray(p)
    zero = ring.zeros(ring.field_of(p), p.shape)
    if ctx.rank == 0:
        return pack(p, zero)
    if ctx.rank == 2:
        return pack(zero, p)
    return pack(zero, zero)


def s2p(ctx: ProtocolContext, s: np.ndarray) -> np.ndarray:
    """Open to everyone: each party sends its s0 to the next party (1 round)."""
    check_world(ctx, "s2p")
    a, b = unpack(s)
    ctx.link.send(nxt(ctx.rank), TAG_OPEN, contig(a))
    c = np.asarray(ctx.link.recv(prv(ctx.rank), TAG_OPEN)).reshape(a.shape)
    return ring.add(ring.add(a, b), c)


def s2v(ctx: ProtocolContext, s: np.ndarray, to: int) -> np.ndarray | None:
    """Open to party `to` only: its previous party sends the missing component (1 round)."""
    check_world(ctx, "s2v")
    to = _check_to(ctx, to, "s2v")
    a, b = unpack(s)
    if ctx.rank == prv(to):
        ctx.link.send(to, TAG_REVEAL, contig(a))
        return None
    if ctx.rank == to:
        c = np.asarray(ctx.link.recv(prv(to), TAG_REVEAL)).reshape(a.shape)
        return ring.add(ring.add(a, b), c)
    return None


def v2s(ctx: ProtocolContext, x: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
    """The owner o shares x as (r, x - r, 0) in components (o, o+1, o+2): one message to o+1.

    r comes from the PRG of parties o and o-1, so party o-1 holds (0, r) and party o+1 holds
    (x - r, 0): each non-owner's view is independent of x.
    """
    check_world(ctx, "v2s")
    owner = _check_to(ctx, owner, "v2s")
    shape = tuple(shape)
    field = ctx.field
    if ctx.rank == owner:
        if x is None:
            raise ValueError(f"aby3.v2s: party {owner} owns the value but passed None")
        x = np.asarray(x)
        if x.shape != shape or ring.field_of(x) is not field:
            raise ValueError(
                f"aby3.v2s: party {owner}: value has shape {x.shape} / dtype {x.dtype}, "
                f"expected shape {shape} in {field.name}"
            )
        r = ctx.prg.pair(prv(owner)).ring(field, shape)
        rest = ring.sub(x, r)
        ctx.link.send(nxt(owner), TAG_SHARE, contig(rest))
        return pack(r, rest)
    zero = ring.zeros(field, shape)
    if ctx.rank == prv(owner):
        return pack(zero, ctx.prg.pair(owner).ring(field, shape))
    rest = ctx.link.recv(owner, TAG_SHARE)
    return pack(np.asarray(rest).reshape(shape), zero)


# ---------------------------------------------------------------------------------- local ops


def add_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    (a0, a1), (b0, b1) = unpack(a), unpack(b)
    return pack(ring.add(a0, b0), ring.add(a1, b1))


def add_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Add a public value into component 0."""
    a0, a1 = unpack(a)
    shape = np.broadcast_shapes(a0.shape, np.shape(p))
    a0, a1 = np.broadcast_to(a0, shape), np.broadcast_to(a1, shape)
    if ctx.rank == 0:
        a0 = ring.add(a0, p)
    elif ctx.rank == 2:
        a1 = ring.add(a1, p)
    return pack(a0, a1)


def neg_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    a0, a1 = unpack(a)
    return pack(ring.neg(a0), ring.neg(a1))


def sum_s(ctx: ProtocolContext, a: np.ndarray, axis: int | tuple[int, ...] | None) -> np.ndarray:
    a0, a1 = unpack(a)
    return pack(ring.sum(a0, axis), ring.sum(a1, axis))


def mul_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    a0, a1 = unpack(a)
    return pack(ring.mul(a0, p), ring.mul(a1, p))


def _promote(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy's 1-D matmul rule: a vector on the left is a row, on the right a column."""
    return (a[None, :] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)


def _squeeze(out: np.ndarray, a_ndim: int, b_ndim: int) -> np.ndarray:
    """Drop the axes `_promote` added (works on share arrays and ring arrays alike)."""
    if b_ndim == 1:
        out = out[..., 0]
    if a_ndim == 1:
        out = out[..., 0, :] if out.ndim >= 2 else out[0]
    return np.ascontiguousarray(out) if out.ndim else out.copy()


def matmul_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    a2, p2 = _promote(np.asarray(a), np.asarray(p))
    a0, a1 = unpack(a2)
    return _squeeze(pack(mm.matmul(contig(a0), p2), mm.matmul(contig(a1), p2)), a.ndim, p.ndim)


def matmul_ps(ctx: ProtocolContext, p: np.ndarray, a: np.ndarray) -> np.ndarray:
    p2, a2 = _promote(np.asarray(p), np.asarray(a))
    a0, a1 = unpack(a2)
    return _squeeze(pack(mm.matmul(p2, contig(a0)), mm.matmul(p2, contig(a1))), p.ndim, a.ndim)


# ---------------------------------------------------------------------------------- products


def cross_mul(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """This party's term of a fresh 3-out-of-3 sharing of a * b (no messages)."""
    (a0, a1), (b0, b1) = unpack(a), unpack(b)
    z = ring.add(ring.mul(a0, ring.add(b0, b1)), ring.mul(a1, b0))
    return ring.add(z, zero_ring(ctx, ring.field_of(z), z.shape))


def cross_square(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    """x_i^2 + 2 x_i x_{i+1} + alpha_i: this party's term of a 3-out-of-3 sharing of a^2."""
    a0, a1 = unpack(a)
    z = ring.mul(a0, ring.add(a0, ring.lshift(a1, 1)))
    return ring.add(z, zero_ring(ctx, ring.field_of(z), z.shape))


def cross_matmul(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """x_i @ (y_i + y_{i+1}) + x_{i+1} @ y_i + alpha_i (two ring matmuls, no messages)."""
    (a0, a1), (b0, b1) = unpack(a), unpack(b)
    a0, a1 = contig(a0), contig(a1)
    z = ring.add(mm.matmul(a0, ring.add(b0, b1)), mm.matmul(a1, contig(b0)))
    return ring.add(z, zero_ring(ctx, ring.field_of(z), z.shape))


def reshare(ctx: ProtocolContext, z: np.ndarray) -> np.ndarray:
    """3-out-of-3 term z_i -> replicated (z_i, z_{i+1}): send z_i to the previous party (1 round)."""
    check_world(ctx, "reshare")
    z = contig(z)
    ctx.link.send(prv(ctx.rank), TAG_RESHARE, z)
    z_next = ctx.link.recv(nxt(ctx.rank), TAG_RESHARE)
    return pack(z, np.asarray(z_next).reshape(z.shape))


def mul_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return reshare(ctx, cross_mul(ctx, a, b))


def square_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return reshare(ctx, cross_square(ctx, a))


def matmul_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Secret matmul (1-D operands as in numpy); only the (..., m, n) result is communicated."""
    a2, b2 = _promote(np.asarray(a), np.asarray(b))
    return _squeeze(reshare(ctx, cross_matmul(ctx, a2, b2)), a.ndim, b.ndim)
