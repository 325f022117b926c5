"""semi2k additive shares: opening, sharing and the local (message-free) kernels.

A secret x is held as shares x_0 + ... + x_{n-1} = x (mod 2^k); a boolean (XOR) share uses
the same ring container with x_0 ^ ... ^ x_{n-1} = x. Party 0 ("lead") adds public constants.
"""

from __future__ import annotations

import numpy as np

from veil.mpc import ring
from veil.mpc.context import ProtocolContext
from veil.mpc.matmul import matmul
from veil.mpc.ref2k.kernels import mm

TAG_S2P = "semi2k.s2p"
TAG_S2V = "semi2k.s2v"


def lead(ctx: ProtocolContext) -> bool:
    return ctx.rank == 0


def _others(ctx: ProtocolContext) -> list[int]:
    return [r for r in range(ctx.world) if r != ctx.rank]


def open_all(ctx: ProtocolContext, tag: str, share: np.ndarray, xor: bool = False) -> np.ndarray:
    """Every party sends its share to every other (one round) and combines: sum, or XOR if `xor`.

    Works for ring arrays and for any unsigned array (packed bit planes, uint32 words).
    """
    share = ring.c_order(share)
    for peer in _others(ctx):
        ctx.link.send(peer, tag, share)
    total = share
    for peer in _others(ctx):
        got = ctx.link.recv(peer, tag)
        total = combine(total, got, xor)
    return total


def combine(a: np.ndarray, b: np.ndarray, xor: bool) -> np.ndarray:
    """a + b (wrapping) or a ^ b for ring arrays and plain unsigned arrays."""
    if a.dtype == ring.U128:
        return ring.xor(a, b) if xor else ring.add(a, b)
    return np.bitwise_xor(a, b) if xor else np.add(a, b, dtype=a.dtype)  # ufuncs never warn on wrap


def p2s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """Public -> share: party 0 holds x, the others 0."""
    x = ring.c_order(x)
    return x.copy() if lead(ctx) else ring.zeros(ring.field_of(x), x.shape)


def s2p(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    return open_all(ctx, TAG_S2P, x)


def s2v(ctx: ProtocolContext, x: np.ndarray, to: int) -> np.ndarray | None:
    """Reveal to party `to` only: the others send it their shares (one round)."""
    if ctx.rank != to:
        ctx.link.send(to, TAG_S2V, ring.c_order(x))
        return None
    total = ring.c_order(x)
    for peer in _others(ctx):
        total = ring.add(total, ctx.link.recv(peer, TAG_S2V))
    return total


def v2s(ctx: ProtocolContext, x: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
    """The owner shares its plaintext with no message: party j's share comes from the stream it
    shares with the owner; the owner keeps x minus all of them."""
    shape = tuple(shape)
    if ctx.rank != owner:
        return ctx.prg.pair(owner).ring(ctx.field, shape)
    if x is None:
        raise ValueError(f"semi2k.v2s: party {owner} owns the value but passed None")
    x = np.asarray(x)
    if x.shape != shape or x.dtype != ring.ring_dtype(ctx.field):
        raise ValueError(
            f"semi2k.v2s: party {owner} passed {x.dtype}{x.shape}, expected the {ctx.field.name} "
            f"ring dtype with shape {shape}"
        )
    out = x
    for peer in _others(ctx):
        out = ring.sub(out, ctx.prg.pair(peer).ring(ctx.field, shape))
    return out


def add_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ring.add(a, b)


def add_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    if lead(ctx):
        return ring.add(a, p)
    return _copy_as(a, p)


def _copy_as(a: np.ndarray, p: np.ndarray) -> np.ndarray:
    """A fresh copy of share `a` broadcast against the public `p` (what a non-lead party holds)."""
    ps = np.shape(p)
    if ps == a.shape or (len(ps) <= a.ndim and all(d == 1 for d in ps)):  # no broadcasting needed
        return np.array(a, copy=True)
    return np.array(np.broadcast_to(a, np.broadcast_shapes(a.shape, ps)), copy=True)


def neg_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return ring.neg(a)


def sum_s(ctx: ProtocolContext, a: np.ndarray, axis: int | tuple[int, ...] | None) -> np.ndarray:
    return ring.sum(a, axis=axis)


def mul_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    return ring.mul(a, p)


def matmul_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    return mm(a, p)


def matmul_ps(ctx: ProtocolContext, p: np.ndarray, a: np.ndarray) -> np.ndarray:
    return mm(p, a)


def xor_bb(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ring.xor(a, b)


def and_bp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    return ring.and_(a, p)


def xor_bp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    if lead(ctx):
        return ring.xor(a, p)
    return _copy_as(a, p)


def not_b(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return ring.not_(a) if lead(ctx) else np.array(a, copy=True)


def lshift_b(ctx: ProtocolContext, a: np.ndarray, n: int) -> np.ndarray:
    return ring.lshift(a, n)


def rshift_b(ctx: ProtocolContext, a: np.ndarray, n: int) -> np.ndarray:
    return ring.rshift_logical(a, n)


def beaver_matmul_combine(
    ctx: ProtocolContext,
    x_ndim: int,
    y_ndim: int,
    triple: tuple[np.ndarray, np.ndarray, np.ndarray],
    d: np.ndarray,
    e: np.ndarray,
) -> np.ndarray:
    """This party's share of x @ y from a matrix triple (u, v, w = uv) and the opened d = x - u,
    e = y - v (2-D or batched views); restores the 1-D operand shapes of the original call."""
    u, v, w = triple
    out_shape = (d.shape[:-2] if d.ndim > 2 else e.shape[:-2]) + (d.shape[-2], e.shape[-1])
    z = ring.add(w.reshape(out_shape), ring.add(matmul(d, v), matmul(u, e)))
    if lead(ctx):
        z = ring.add(z, matmul(d, e))
    if y_ndim == 1:
        z = z[..., 0]
    if x_ndim == 1:
        z = z[..., 0, :] if z.ndim >= 2 else z[0]
    return z
