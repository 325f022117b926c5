"""semi2k truncation (signed shift right by m bits) and the fused product + truncation.

All probabilistic variants shift x' = x + 2^(k-2) into [0, 2^(k-1)) first (valid for
|x| < 2^(k-2)), truncate x', then subtract 2^(k-2-m) - 1. The raw shift gives floor(x / 2^m)
or one less, one less with probability 1 - frac(x / 2^m): its mean error is exactly -1 LSB,
and over the thousands of truncations of a training run that bias adds up (the MLP tutorial's
weights drifted 20x further from plaintext than SPU's). The final +1 makes the result
floor(x / 2^m) or one more, one more with probability frac(x / 2^m): stochastic rounding,
unbiased, |error| < 1 LSB, like aby3's truncation.

2 parties (`trunc_2pc`, 1 round, 4 bytes per element per party for m <= 32): with x' = x0 + x1
(mod 2^k) and x' < 2^(k-1), the wrap bit of x0 + x1 over 2^k is w = a OR b = a + b - ab, where
a = msb(x0) and b = msb(x1) are private bits of P0 and P1. Then
    x' >> m = (x0 >> m) + (x1 >> m) - w 2^(k-m) + e,  e in {0, 1} (carry of the low parts),
and only w mod 2^m matters, so [ab] is computed in Z_2^32 with a dealer correlation for a
product of private values: P0 holds (u, z0), P1 holds (v, z1), z0 + z1 = uv; P0 sends
alpha = a - u, P1 sends beta = b - v; [ab]_0 = a beta + z0, [ab]_1 = alpha v + z1.

n parties (`trunc_escudero`, Escudero et al. 2020, eprint 2020/338): dealer gives [r],
[r_{k-1}] and [ceil(r_low / 2^m)] (r_low = r mod 2^(k-1)); open c = x' + r;
b = c_{k-1} XOR r_{k-1} is the carry of x' + r_low into bit k-1, so x' = c_low + b 2^(k-1) - r_low
and y = (c_low >> m) - [ceil(r_low / 2^m)] + [b] 2^(k-1-m) - 2^(k-2-m); the ceiling (instead of
the paper's floor) makes the error -1 or 0 like the 2-party kernel.

`trunc_local` (SecureML, 2PC, opt-in via TruncMode.LOCAL): P0 shifts its share, P1 negates,
shifts and negates; 0 rounds, but a huge error with probability about |x| / 2^(k-1).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from veil.config import Field
from veil.mpc import ring
from veil.mpc.context import ProtocolContext
from veil.mpc.semi2k import correlations as D
from veil.mpc.semi2k.arithmetic import mul_ss
from veil.mpc.semi2k.shares import lead, open_all

TAG_TRUNC2 = "semi2k.trunc2"
TAG_TRUNCN = "semi2k.truncn"


def _check(ctx: ProtocolContext, m: int, name: str) -> int:
    if not isinstance(m, (int, np.integer)) or not 0 < int(m) <= ctx.k - 2:
        raise ValueError(f"semi2k.{name}: shift {m!r} must be an int in 1..{ctx.k - 2} on {ctx.field.name}")
    return int(m)


def _shift_in(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """x' = x + 2^(k-2) (party 0 adds)."""
    if lead(ctx):
        return ring.add(x, ring.full(ctx.field, (), 1 << (ctx.k - 2)))
    return x


def _shift_out(ctx: ProtocolContext, y: np.ndarray, m: int) -> np.ndarray:
    """Undo the 2^(k-2) shift and add 1: stochastic rounding (see the module docstring)."""
    if lead(ctx):
        return ring.sub(y, ring.full(ctx.field, (), (1 << (ctx.k - 2 - m)) - 1))
    return y


def product_width(m: int) -> int:
    """Bits of the ring in which the 2PC wrap product is computed (a multiple of 2^m)."""
    return 32 if m <= 32 else 64 if m <= 64 else 128


def _lift(w: np.ndarray, field: Field) -> np.ndarray:
    """Zero-extend uint32 / uint64 / U128 words into the ring."""
    if w.dtype == ring.U128:
        return w if field is Field.FM128 else ring.to_field(w, Field.FM64)
    w64 = w.astype(np.uint64)
    return w64 if field is Field.FM64 else ring.to_field(w64, Field.FM128, signed=False)


def _to_width(bits01: np.ndarray, dt: np.dtype) -> np.ndarray:
    """A ring 0/1 array as words of the product ring."""
    lo = bits01 if bits01.dtype == np.uint64 else np.ascontiguousarray(bits01["lo"])
    if dt == ring.U128:
        return ring.to_field(lo, Field.FM128, signed=False)
    return lo.astype(dt)


# (integer ufunc calls wrap silently, even on 0-d arrays: no np.errstate, ~3 us a call)
def _wsub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype == ring.U128:
        return ring.sub(a, b)
    return np.subtract(a, b, dtype=a.dtype)


def _wmul_add(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    if a.dtype == ring.U128:
        return ring.add(ring.mul(a, b), c)
    return np.add(np.multiply(a, b, dtype=a.dtype), c, dtype=a.dtype)


def _wrap_bit(ctx: ProtocolContext, xp: np.ndarray, width: int) -> np.ndarray:
    """Ring shares of the wrap bit w = a OR b of x' = x0 + x1 (one round, width/8 bytes each)."""
    dt = D.uint_dtype(width)
    u, v, z = ctx.dealer.get(D.TRUNC2, width, xp.size)
    mine_bit = _to_width(ring.msb(xp), dt)  # a at P0, b at P1
    masked = _wsub(mine_bit, u if lead(ctx) else v)
    peer = 1 - ctx.rank
    ctx.link.send(peer, TAG_TRUNC2, masked)
    theirs = ctx.link.recv(peer, TAG_TRUNC2)
    ab = _wmul_add(mine_bit, theirs, z) if lead(ctx) else _wmul_add(theirs, v, z)
    return _lift(_wsub(mine_bit, ab), ctx.field)  # [w] = [a + b - ab]


def trunc_2pc(ctx: ProtocolContext, x: np.ndarray, m: int) -> np.ndarray:
    m = _check(ctx, m, "trunc_s")
    return trunc_2pc_segments(ctx, x.reshape(-1), ((x.size, m),)).reshape(x.shape)


def trunc_2pc_segments(
    ctx: ProtocolContext, x: np.ndarray, segments: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """Flat x cut into consecutive segments ((count, m), ...), each shifted by its own m: the
    wrap bits of all of them in ONE round (the shift only enters the local part)."""
    ms = [_check(ctx, m, "trunc_segments_s") for _, m in segments]
    counts = [int(c) for c, _ in segments]
    if sum(counts) != x.size or min(counts, default=0) < 0:
        raise ValueError(f"semi2k.trunc_segments_s: segments {segments} do not cover {x.size} elements")
    k = ctx.k
    xp = _shift_in(ctx, x.reshape(-1))
    w = _wrap_bit(ctx, xp, product_width(max(ms, default=1)))
    parts, start = [], 0
    for count, m in zip(counts, ms):
        sl = slice(start, start + count)
        y = ring.sub(ring.rshift_logical(xp[sl], m), ring.lshift(w[sl], k - m))
        parts.append(_shift_out(ctx, y, m))
        start += count
    return np.concatenate(parts) if parts else xp


def trunc_escudero(ctx: ProtocolContext, x: np.ndarray, m: int) -> np.ndarray:
    m = _check(ctx, m, "trunc_s")
    shape, k = x.shape, ctx.k
    xp = _shift_in(ctx, x.reshape(-1))
    r, top, low = ctx.dealer.get(D.TRUNCN, k, xp.size, m)
    c = open_all(ctx, TAG_TRUNCN, ring.add(xp, r))
    c_top = ring.msb(c)
    b = ring.sub(top, ring.mul(ring.lshift(c_top, 1), top))  # [b] minus the public c_top
    y = ring.sub(ring.lshift(b, k - 1 - m), low)
    if lead(ctx):
        c_low = ring.rshift_logical(ring.lshift(c, 1), 1)
        y = ring.add(y, ring.add(ring.rshift_logical(c_low, m), ring.lshift(c_top, k - 1 - m)))
    return _shift_out(ctx, y, m).reshape(shape)


def trunc_local(ctx: ProtocolContext, x: np.ndarray, m: int) -> np.ndarray:
    m = _check(ctx, m, "trunc_s")
    if lead(ctx):
        return ring.rshift_arith(x, m)
    return ring.neg(ring.rshift_arith(ring.neg(x), m))


TruncFn = Callable[[ProtocolContext, np.ndarray, int], np.ndarray]


def make_mul_trunc(trunc: TruncFn) -> Callable[[ProtocolContext, np.ndarray, np.ndarray, int], np.ndarray]:
    """mul_trunc_ss from a trunc kernel: the product, then the truncation (2 rounds)."""

    def mul_trunc_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
        return trunc(ctx, mul_ss(ctx, a, b), bits)

    return mul_trunc_ss
