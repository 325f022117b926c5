"""The protocol-neutral MPC API that HAL calls: one function per kernel name.

Each function looks the kernel up in the context's `KernelTable` and calls it; where a protocol
has no kernel of that name, a generic composition from other kernels is used if one exists,
otherwise `KernelMissingError(protocol, kernel)` is raised.

Naming: `s` secret arithmetic share, `p` public ring array, `v` private (one party's plaintext),
`b` boolean (XOR) share held in the same ring container. Shares and public arrays are numpy
arrays of the logical shape (see `veil.hal.value`); FM128 ring arrays use `ring.U128`.

Semantics (all arithmetic mod 2^k, k = ctx.k; "bit" results are 0/1 ring values):
- p2s(p) -> s              share a public value (no messages)
- s2p(s) -> p              reveal to every compute party
- s2v(s, to) -> p | None   reveal to party `to` only (others get None)
- v2s(x | None, owner, shape) -> s   the owner secret-shares its plaintext
- add_ss, add_sp, neg_s, sum_s(s, axis)             local
- mul_sp(s, p), matmul_sp(s, p), matmul_ps(p, s)    local ring products (no truncation)
- mul_ss(a, b), square_s(a), cube_s(a)              ring products (no truncation)
- matmul_ss(a, b)        a (..., m, k) @ b (..., k, n), leading batch dims equal or absent on b
- matmul_ss_cached(a, b, a_key, b_key)   matmul_ss; an operand named by an `OperandKey` may
                         reuse its Beaver mask from an earlier product of the same value (semi2k)
- matmul_ss_many(pairs, keys)   [a @ b for (a, b) in pairs], all openings in one round where the
                         protocol has the kernel (semi2k); else one matmul_ss(_cached) each
- trunc_s(s, bits)       signed arithmetic shift right, probabilistic: <= 1 LSB error, exact
                         semantics for |x| < 2^(k-2) (or the protocol's declared range)
- mul_trunc_ss(a, b, bits)   fused product + truncation (optional kernel)
- bit_trunc_s(s, x, bits)    s * trunc_s(x, bits) for a 0/1 secret s, exactly 0 where s = 0 (optional kernel)
- bit_trunc_mixed_s(s, x, y, bits) -> (s * trunc_s(x), trunc_s(y)) in the rounds of one (optional)
- trunc_segments_s(s, ((count, bits), ...))   consecutive segments, each its own shift, one round
                             where the protocol has the kernel (optional)
- msb_s(s) -> s          arithmetic share of the sign bit of x
- eqz_s(s) -> s          arithmetic share of [x == 0]
- a2b(s) -> b, b2a(b) -> s   (b2a: full k-bit value), bit2a(b) -> s for single-bit values
- and_bb, xor_bb, and_bp, xor_bp, not_b, lshift_b(b, n), rshift_b(b, n)   boolean shares
- rand_bits_s(shape) -> s    arithmetic shares of uniform random bits
- exp_prime_s(x, keep) -> s  keep * exp(x) for FXP x (config f bits) and a 0/1 secret keep, by
                         local exponentiation of shares (semi2k 2PC only); valid where keep = 1
                         for x in exp_prime_range(k, f), exactly 0 where keep = 0
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from veil.mpc.context import ProtocolContext
from veil.mpc.kernels import OperandKey


def _call(ctx: ProtocolContext, name: str, *args: Any, **kwargs: Any) -> Any:
    return ctx.table.lookup(name).fn(ctx, *args, **kwargs)


def p2s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    return _call(ctx, "p2s", x)


def s2p(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    return _call(ctx, "s2p", x)


def s2v(ctx: ProtocolContext, x: np.ndarray, to: int) -> np.ndarray | None:
    return _call(ctx, "s2v", x, to)


def v2s(ctx: ProtocolContext, x: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
    return _call(ctx, "v2s", x, owner, tuple(shape))


def add_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _call(ctx, "add_ss", a, b)


def add_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _call(ctx, "add_sp", a, p)


def neg_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return _call(ctx, "neg_s", a)


def sub_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return add_ss(ctx, a, neg_s(ctx, b))


def sum_s(ctx: ProtocolContext, a: np.ndarray, axis: int | tuple[int, ...] | None) -> np.ndarray:
    return _call(ctx, "sum_s", a, axis)


def mul_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _call(ctx, "mul_sp", a, p)


def mul_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _call(ctx, "mul_ss", a, b)


def square_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    if ctx.table.has("square_s"):
        return _call(ctx, "square_s", a)
    return mul_ss(ctx, a, a)


def cube_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    """(a^2, a^3) stacked on a new leading axis: one round where the protocol has a cube
    kernel (semi2k: one opening), else a square and a product (two rounds)."""
    if ctx.table.has("cube_s"):
        return _call(ctx, "cube_s", a)
    sq = square_s(ctx, a)
    return np.stack([sq, mul_ss(ctx, sq, a)])


def matmul_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _call(ctx, "matmul_ss", a, b)


def matmul_ss_cached(
    ctx: ProtocolContext, a: np.ndarray, b: np.ndarray, a_key: OperandKey | None, b_key: OperandKey | None
) -> np.ndarray:
    """matmul_ss that may reuse the mask of an operand seen before (keys name the operands);
    protocols without the kernel run plain matmul_ss."""
    if ctx.table.has("matmul_ss_cached"):
        return _call(ctx, "matmul_ss_cached", a, b, a_key, b_key)
    return matmul_ss(ctx, a, b)


def matmul_sp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _call(ctx, "matmul_sp", a, p)


def matmul_ps(ctx: ProtocolContext, p: np.ndarray, a: np.ndarray) -> np.ndarray:
    return _call(ctx, "matmul_ps", p, a)


def trunc_s(ctx: ProtocolContext, a: np.ndarray, bits: int) -> np.ndarray:
    if bits == 0:
        return a
    return _call(ctx, "trunc_s", a, bits)


def trunc_segments_s(
    ctx: ProtocolContext, a: np.ndarray, segments: tuple[tuple[int, int], ...]
) -> np.ndarray:
    """Flat `a` cut into consecutive segments ((count, bits), ...), each truncated by its own
    bits: one round where the protocol has the kernel (semi2k 2PC), else one trunc_s each."""
    shifts = {int(m) for _, m in segments}
    if len(shifts) == 1:
        return trunc_s(ctx, a, shifts.pop())
    if ctx.table.has("trunc_segments_s"):
        return _call(ctx, "trunc_segments_s", a, tuple((int(c), int(m)) for c, m in segments))
    parts, start = [], 0
    for count, m in segments:
        parts.append(trunc_s(ctx, a[start : start + count], int(m)))
        start += count
    return np.concatenate(parts)


def mul_trunc_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    if ctx.table.has("mul_trunc_ss") and bits > 0:
        return _call(ctx, "mul_trunc_ss", a, b, bits)
    return trunc_s(ctx, mul_ss(ctx, a, b), bits)


def msb_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return _call(ctx, "msb_s", a)


def eqz_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return _call(ctx, "eqz_s", a)


def a2b(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return _call(ctx, "a2b", a)


def b2a(ctx: ProtocolContext, b: np.ndarray) -> np.ndarray:
    return _call(ctx, "b2a", b)


def bit2a(ctx: ProtocolContext, b: np.ndarray) -> np.ndarray:
    return _call(ctx, "bit2a", b)


def and_bb(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _call(ctx, "and_bb", a, b)


def xor_bb(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _call(ctx, "xor_bb", a, b)


def and_bp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _call(ctx, "and_bp", a, p)


def xor_bp(ctx: ProtocolContext, a: np.ndarray, p: np.ndarray) -> np.ndarray:
    return _call(ctx, "xor_bp", a, p)


def not_b(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return _call(ctx, "not_b", a)


def lshift_b(ctx: ProtocolContext, a: np.ndarray, n: int) -> np.ndarray:
    return _call(ctx, "lshift_b", a, n)


def rshift_b(ctx: ProtocolContext, a: np.ndarray, n: int) -> np.ndarray:
    return _call(ctx, "rshift_b", a, n)


def rand_bits_s(ctx: ProtocolContext, shape: tuple[int, ...]) -> np.ndarray:
    return _call(ctx, "rand_bits_s", tuple(shape))


def exp_prime_range(k: int, f: int) -> tuple[float, float]:
    """(L, H): the inputs for which `exp_prime_s` is valid with ring bits k and f fraction bits.

    L = -(f + 2) ln 2 (e^L is a quarter of the output LSB); H keeps e^H 2^f below 2^(k-3) and the
    kernel's internal product e^(H - L) 2^30 below 2^124 (FM128: 45.75, FM64: 29.75)."""
    lo = -(f + 2) * math.log(2.0)
    hi = min((k - 3 - f) * math.log(2.0), 94 * math.log(2.0) + lo)
    return lo, math.floor(hi * 4.0) / 4.0


def exp_prime_s(ctx: ProtocolContext, x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return _call(ctx, "exp_prime_s", x, keep)


def has_bit_trunc(ctx: ProtocolContext) -> bool:
    """True where `bit_trunc_s` is one fused round (semi2k 2PC), not a product and a truncation."""
    return ctx.table.has("bit_trunc_s")


def bit_trunc_s(ctx: ProtocolContext, s: np.ndarray, x: np.ndarray, bits: int) -> np.ndarray:
    """s * trunc_s(x, bits) for a secret 0/1 bit s (same shape as x): relu and its mask.

    One round where the protocol has the kernel (semi2k 2PC); else the truncation, then a
    product (two rounds). Both are exactly 0 where s = 0 and trunc_s(x, bits) where s = 1."""
    if bits == 0:
        return mul_ss(ctx, s, x)
    if has_bit_trunc(ctx):
        return _call(ctx, "bit_trunc_s", s, x, int(bits))
    return mul_ss(ctx, s, trunc_s(ctx, x, bits))


def bit_trunc_mixed_s(
    ctx: ProtocolContext, s: np.ndarray, x: np.ndarray, y: np.ndarray, bits: int
) -> tuple[np.ndarray, np.ndarray]:
    """(s * trunc_s(x, bits), trunc_s(y, bits)): selected and plain truncations in one round
    where the protocol has the kernel (semi2k 2PC), else one call each."""
    if bits > 0 and has_bit_trunc(ctx) and ctx.table.has("bit_trunc_mixed_s"):
        return _call(ctx, "bit_trunc_mixed_s", s, x, y, int(bits))
    return bit_trunc_s(ctx, s, x, bits), (trunc_s(ctx, y, bits) if bits > 0 else y)


def matmul_ss_many(
    ctx: ProtocolContext,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    keys: list[tuple[OperandKey | None, OperandKey | None] | None] | None = None,
) -> list[np.ndarray]:
    """[a @ b for (a, b) in pairs]: independent secret x secret products, one round for all where
    the protocol has the kernel (semi2k); else one `matmul_ss_cached` (or `matmul_ss`) each.
    keys[i]: product i's operand keys (as matmul_ss_cached) or None."""
    keys = list(keys) if keys is not None else [None] * len(pairs)
    if ctx.table.has("matmul_ss_many"):
        flat = [x for pair in pairs for x in pair]
        return list(_call(ctx, "matmul_ss_many", *flat, keys=tuple(k or (None, None) for k in keys)))
    return [
        matmul_ss_cached(ctx, a, b, *key) if key else matmul_ss(ctx, a, b)
        for (a, b), key in zip(pairs, keys, strict=True)
    ]
