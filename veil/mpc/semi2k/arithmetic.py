"""semi2k products with Beaver correlations from the dealer (one round each).

mul_ss: triple (a, b, c = ab); open d = x - a, e = y - b in ONE message; xy = c + d b + e a + d e.
square_s: pair (a, a^2); open d = x - a only; x^2 = a^2 + 2 d a + d^2.
cube_s: tuple (a, a^2, a^3); open d = x - a only; x^2 as above, x^3 = a^3 + 3 d a^2 + 3 d^2 a + d^3.
matmul_ss: matrix triple (U, V, W = UV); open D = X - U, E = Y - V; XY = W + DV + UE + DE.
"""

from __future__ import annotations

import numpy as np

from veil.mpc import ring
from veil.mpc.context import ProtocolContext
from veil.mpc.semi2k import correlations as D
from veil.mpc.semi2k.shares import beaver_matmul_combine, lead, open_all

TAG_MUL = "semi2k.mul"
TAG_SQUARE = "semi2k.square"
TAG_MATMUL = "semi2k.matmul"
TAG_CUBE = "semi2k.cube"


def mul_ss(ctx: ProtocolContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elementwise product of two secrets (numpy broadcasting; the triple has the output's size)."""
    if x.shape != y.shape:  # (np.broadcast_arrays costs ~10 us even when shapes agree)
        x, y = np.broadcast_arrays(x, y)
    shape, numel = x.shape, x.size
    a, b, c = ctx.dealer.get(D.BEAVER, ctx.k, numel)
    opened = open_all(ctx, TAG_MUL, np.concatenate([ring.sub(x.reshape(-1), a), ring.sub(y.reshape(-1), b)]))
    d, e = opened[:numel], opened[numel:]
    z = ring.add(c, ring.add(ring.mul(d, b), ring.mul(e, a)))
    if lead(ctx):
        z = ring.add(z, ring.mul(d, e))
    return z.reshape(shape)


def square_s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    a, aa = ctx.dealer.get(D.SQUARE, ctx.k, x.size)
    d = open_all(ctx, TAG_SQUARE, ring.sub(x.reshape(-1), a))
    z = ring.add(aa, ring.lshift(ring.mul(d, a), 1))
    if lead(ctx):
        z = ring.add(z, ring.mul(d, d))
    return z.reshape(x.shape)


def cube_s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """(x^2, x^3) stacked on a new leading axis, from one opening (1 round, one ring element)."""
    a, aa, aaa = ctx.dealer.get(D.CUBE, ctx.k, x.size)
    d = open_all(ctx, TAG_CUBE, ring.sub(x.reshape(-1), a))
    da = ring.mul(d, a)
    sq = ring.add(aa, ring.lshift(da, 1))
    three = ring.full(ctx.field, (), 3)
    cu = ring.add(aaa, ring.mul(three, ring.add(ring.mul(d, aa), ring.mul(d, da))))
    if lead(ctx):
        dd = ring.mul(d, d)
        sq = ring.add(sq, dd)
        cu = ring.add(cu, ring.mul(dd, d))
    return np.stack([sq.reshape(x.shape), cu.reshape(x.shape)])


def _batch(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[:-2], dtype=np.int64)) if len(shape) > 2 else 1


def matmul_ss(ctx: ProtocolContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x (..., m, k) @ y (..., k, n); 1-D operands follow numpy (promoted, then squeezed)."""
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    if x2.ndim > 2 and y2.ndim > 2 and x2.shape[:-2] != y2.shape[:-2]:
        raise ValueError(
            f"semi2k.matmul_ss: batch dims must match or be absent on one side, got {x.shape} @ {y.shape}"
        )
    if x2.shape[-1] != y2.shape[-2]:
        raise ValueError(f"semi2k.matmul_ss: inner dimensions differ: {x.shape} @ {y.shape}")
    (m, kk), nn = x2.shape[-2:], y2.shape[-1]
    u, v, w = ctx.dealer.get(D.MATMUL, ctx.k, _batch(x2.shape), _batch(y2.shape), m, kk, nn)
    u, v = u.reshape(x2.shape), v.reshape(y2.shape)
    opened = open_all(
        ctx, TAG_MATMUL, np.concatenate([ring.sub(x2, u).reshape(-1), ring.sub(y2, v).reshape(-1)])
    )
    d, e = opened[: x2.size].reshape(x2.shape), opened[x2.size :].reshape(y2.shape)
    return beaver_matmul_combine(ctx, x.ndim, y.ndim, (u, v, w), d, e)
