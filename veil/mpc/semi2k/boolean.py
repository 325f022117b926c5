"""semi2k boolean kernels: AND of XOR-shared words, bit/word conversions to arithmetic, random bits.

and_bb: word Beaver triple (A, B, C = A & B), XOR-shared; open D = x ^ A, E = y ^ B in one
message; x & y = C ^ (D & B) ^ (E & A) ^ (D & E).
bit2a: dealer bit s (XOR and arithmetic shares); open c = b ^ s as packed bits (1 bit per
element); b = c + s - 2 c s.
b2a: dealer word r (XOR shares) with arithmetic shares of t_j = r_j 2^j for every bit, packed
two per ring word (a share of t_j needs only k - j bits); open c = x ^ r;
x = c + sum_j (1 - 2 c_j) [t_j].
"""

from __future__ import annotations

import numpy as np

from veil.mpc import circuits, ring
from veil.mpc.context import ProtocolContext
from veil.mpc.semi2k import correlations as D
from veil.mpc.semi2k.shares import lead, open_all

TAG_AND = "semi2k.and"
TAG_BIT2A = "semi2k.bit2a"
TAG_B2A = "semi2k.b2a"


def and_bb(ctx: ProtocolContext, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x, y = np.broadcast_arrays(x, y)
    shape, numel = x.shape, x.size
    a, b, c = ctx.dealer.get(D.AND_WORD, ctx.k, numel)
    opened = open_all(
        ctx, TAG_AND, np.concatenate([ring.xor(x.reshape(-1), a), ring.xor(y.reshape(-1), b)]), xor=True
    )
    d, e = opened[:numel], opened[numel:]
    z = ring.xor(c, ring.xor(ring.and_(d, b), ring.and_(e, a)))
    if lead(ctx):
        z = ring.xor(z, ring.and_(d, e))
    return z.reshape(shape)


def _low_bits(x: np.ndarray) -> np.ndarray:
    """Bit 0 of each share as uint8 0/1 (flat)."""
    lo = x.reshape(-1) if x.dtype == np.uint64 else np.ascontiguousarray(x["lo"]).reshape(-1)
    return (lo & np.uint64(1)).astype(np.uint8)


def bit2a(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """Arithmetic share of bit 0 of a boolean-shared value (the other bits are ignored)."""
    numel = x.size
    s, s_arith = ctx.dealer.get(D.BIT, ctx.k, numel)
    c = open_all(ctx, TAG_BIT2A, circuits.pack(_low_bits(x)) ^ s, xor=True)
    cbits = circuits.unpack(c, numel).astype(np.int64)
    out = ring.mul(ring.from_int64(ctx.field, 1 - 2 * cbits), s_arith)
    if lead(ctx):
        out = ring.add(out, ring.from_int64(ctx.field, cbits))
    return out.reshape(x.shape)


def b2a(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """Arithmetic share of the full k-bit value of a boolean-shared word."""
    numel, k = x.size, ctx.k
    r, words = ctx.dealer.get(D.B2A, k, numel)
    c = open_all(ctx, TAG_B2A, ring.xor(x.reshape(-1), r), xor=True)
    cbits = ring.bit_decompose(c).astype(bool)  # (numel, k)
    out = c if lead(ctx) else ring.zeros(ctx.field, (numel,))
    for w, (lo, hi) in zip(words, D.pow2_words(k)):  # x = c + sum_j (1 - 2 c_j) t_j
        t_lo, t_hi = D.pow2_decode(w, lo, hi)
        out = ring.add(out, _neg_where(cbits[:, lo], t_lo))
        if hi is not None:
            out = ring.add(out, _neg_where(cbits[:, hi], t_hi))
    return out.reshape(x.shape)


def _neg_where(cond: np.ndarray, t: np.ndarray) -> np.ndarray:
    """-t where cond, else t."""
    neg = ring.neg(t)
    if t.dtype == np.uint64:
        return np.where(cond, neg, t)
    out = np.empty_like(t)
    out["lo"], out["hi"] = np.where(cond, neg["lo"], t["lo"]), np.where(cond, neg["hi"], t["hi"])
    return out


def rand_bits_s(ctx: ProtocolContext, shape: tuple[int, ...]) -> np.ndarray:
    shape = tuple(shape)
    (bits,) = ctx.dealer.get(D.RAND_BITS, ctx.k, int(np.prod(shape, dtype=np.int64)))
    return bits.reshape(shape)
