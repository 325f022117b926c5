"""semi2k 2PC `bit_trunc_s`: s * trunc(x, m) for a secret 0/1 bit s in ONE round.

Why: relu and its backward mask are select(bit, trunc(raw), 0): a truncation (1 round) and a
Beaver product (1 round). For a bit s, s * trunc(x) is linear in s, and every term of the 2PC
truncation (`veil.mpc.semi2k.truncation`) is a sum of products "P0-private x P1-private", so
the product and the truncation fit into a single exchange.

Notation as in `trunc_2pc`: x' = x + 2^(k-2) = x0 + x1 (mod 2^k), L_i = x_i >> m (logical),
a = msb(x0) (P0), b = msb(x1) (P1), w = a + b - ab, C = 2^(k-2-m) - 1 and
t = L0 + L1 - w 2^(k-m) - C (the trunc_2pc result). With s = s0 + s1 (mod 2^k):

    s t = s0 L0 + s1 L1 + [s0 L1] + [L0 s1] - 2^(k-m) (s w mod 2^m) - C (s0 + s1)      (mod 2^k)
    s w = s0 a + s1 b + [s0 (1 - a) . b] + [a . s1 (1 - b)]                          (mod 2^W)

(expand (s0 + s1)(a + b - ab)), W = product_width(m) >= m. Each [p . q], p at P0 and q at P1,
uses one dealer product correlation (`D.TRUNC2`: u at P0, v at P1, z0 + z1 = u v): P0 opens
p - u, P1 opens q - v, [pq]_0 = p (q - v) + z0, [pq]_1 = (p - u) v + z1. Two products in Z_2^k
and two in Z_2^W; the four openings travel in one message each way (1 round).

Where s = 1 the shares add up to exactly trunc_2pc's result for the same x shares (stochastic
rounding, floor(x / 2^m) or one more, valid for |x| < 2^(k-2)); where s = 0 every term has the
factor s0 + s1 = 0, so the output is exactly 0.
Cost per element and party: 2 k/8 + 2 W/8 bytes sent (24 on FM64, 40 on FM128 for m <= 32),
the same offline (two dealer requests per call).
"""

from __future__ import annotations

import numpy as np

from veil.config import Field
from veil.mpc import ring
from veil.mpc.context import ProtocolContext
from veil.mpc.dealer import add_shares
from veil.mpc.semi2k import correlations as D
from veil.mpc.semi2k.shares import lead
from veil.mpc.semi2k.truncation import (
    _check,
    _lift,
    _shift_in,
    _shift_out,
    _to_width,
    _wmul_add,
    _wsub,
    product_width,
)

TAG_BIT_TRUNC = "semi2k.bit_trunc"


def _add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return add_shares(a, b, xor=False)


def _words(a: np.ndarray, dt: np.dtype) -> np.ndarray:
    """Ring elements reduced mod 2^W, as words of the width-W product ring."""
    if dt == ring.U128:
        return a if a.dtype == ring.U128 else ring.to_field(a, Field.FM128, signed=False)
    lo = a if a.dtype == np.uint64 else np.ascontiguousarray(a["lo"])
    return lo.astype(dt)


def _zeros(dt: np.dtype, n: int) -> np.ndarray:
    return ring.zeros(Field.FM128, (n,)) if dt == ring.U128 else np.zeros(n, dt)


def _pack(*parts: np.ndarray) -> np.ndarray:
    """Arrays of mixed dtypes as one byte message (the receiver knows the layout)."""
    return np.concatenate([np.ascontiguousarray(p).reshape(-1).view(np.uint8) for p in parts])


def _unpack(raw: np.ndarray, layout: list[tuple[np.dtype, int]]) -> list[np.ndarray]:
    out, start = [], 0
    for dt, n in layout:
        size = dt.itemsize * n
        out.append(np.ascontiguousarray(raw[start : start + size]).view(dt))
        start += size
    if start != raw.size:
        raise ValueError(f"semi2k.bit_trunc_s: message of {raw.size} bytes, expected {start}")
    return out


def bit_trunc_2pc(ctx: ProtocolContext, s: np.ndarray, x: np.ndarray, m: int) -> np.ndarray:
    """Shares of s * trunc(x, m) for a 0/1 secret s and |x| < 2^(k-2) (see the module doc)."""
    if s.shape != x.shape:
        raise ValueError(f"semi2k.bit_trunc_s: s {s.shape} and x {x.shape} differ in shape")
    out, _ = bit_trunc_mixed_2pc(ctx, s, x, x[:0], m)
    return out


def bit_trunc_mixed_2pc(
    ctx: ProtocolContext, s: np.ndarray, x: np.ndarray, y: np.ndarray, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """(s * trunc(x, m), trunc(y, m)) in ONE round: the plain truncations of y ride in the same
    message as trunc_2pc's wrap-bit product (one width-W product [a . b] per element of y)."""
    if ctx.world != 2:
        raise ValueError(f"semi2k.bit_trunc_s: a 2-party protocol, got {ctx.world} parties")
    if s.size != x.size:
        raise ValueError(f"semi2k.bit_trunc_s: s {s.shape} and x {x.shape} differ in size")
    m = _check(ctx, m, "bit_trunc_s")
    k, n, n_plain = ctx.k, x.size, y.size
    p0 = lead(ctx)
    si = np.ascontiguousarray(s).reshape(-1)
    xp = _shift_in(
        ctx, np.concatenate([np.ascontiguousarray(x).reshape(-1), np.ascontiguousarray(y).reshape(-1)])
    )
    low = ring.rshift_logical(xp, m)  # L_i
    dk, dw = D.uint_dtype(k), D.uint_dtype(product_width(m))
    uk, vk, zk = ctx.dealer.get(D.TRUNC2, k, 2 * n)
    uw, vw, zw = ctx.dealer.get(D.TRUNC2, product_width(m), 2 * n + n_plain)
    top = ring.msb(xp)  # a at P0, b at P1
    top_w = _to_width(top, dw)
    is_top = (top if top.dtype == np.uint64 else top["lo"])[:n] != 0
    s_w = _words(si, dw)
    s_top = np.where(is_top, s_w, _zeros(dw, n))  # s0 a at P0, s1 b at P1
    s_not_top = np.where(is_top, _zeros(dw, n), s_w)  # s0 (1 - a) at P0, s1 (1 - b) at P1
    # products: ring [s0 . L1, L0 . s1]; width W [s0 (1 - a) . b, a . s1 (1 - b), a . b (plain)]
    ring_ops = np.concatenate([si, low[:n]] if p0 else [low[:n], si])
    word_ops = np.concatenate([s_not_top, top_w[:n]] if p0 else [top_w[:n], s_not_top])
    word_ops = np.concatenate([word_ops, top_w[n:]])
    mask_k, mask_w = (uk, uw) if p0 else (vk, vw)
    peer = 1 - ctx.rank
    ctx.link.send(peer, TAG_BIT_TRUNC, _pack(_wsub(ring_ops, mask_k), _wsub(word_ops, mask_w)))
    raw = ctx.link.recv(peer, TAG_BIT_TRUNC)
    their_k, their_w = _unpack(raw, [(np.dtype(dk), 2 * n), (np.dtype(dw), 2 * n + n_plain)])
    # [pq]_0 = p (q - v) + z0 at P0, [pq]_1 = (p - u) v + z1 at P1
    pk = _wmul_add(ring_ops, their_k, zk) if p0 else _wmul_add(their_k, vk, zk)
    pw = _wmul_add(word_ops, their_w, zw) if p0 else _wmul_add(their_w, vw, zw)
    sw = _add(s_top, _add(pw[:n], pw[n : 2 * n]))  # [s w] mod 2^W
    c = ring.full(ctx.field, (), (1 << (k - 2 - m)) - 1)
    sel = ring.add(ring.mul(si, ring.sub(low[:n], c)), ring.add(pk[:n], pk[n:]))  # s_i (L_i - C) + products
    sel = ring.sub(sel, ring.lshift(_lift(sw, ctx.field), k - m))
    w_plain = _lift(_wsub(top_w[n:], pw[2 * n :]), ctx.field)  # [w] = [a + b - ab]
    plain = _shift_out(ctx, ring.sub(low[n:], ring.lshift(w_plain, k - m)), m)
    return sel.reshape(x.shape), plain.reshape(y.shape)
