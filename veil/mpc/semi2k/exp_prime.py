"""semi2k 2PC exponential by local exponentiation of shares ("exp prime" class, 3 rounds).

Idea (Kelkar et al., "Secure Poisson Regression", USENIX Security 2022; SPU's `ExpA`): once
the two shares of the exponent add up over the integers rather than mod 2^k, e^x is a product
of two factors that each party computes alone from its own share, and one product of private
values combines them. veil needs no prime field: the odd number 3 generates a cyclic group of
order 2^(k-2) inside Z_2^k, so 3^a * 3^b = 3^(a+b) holds in the ring for any integers a, b, and
3^I is a true integer as long as it stays below 2^k.

Protocol (all arithmetic in Z_2^128; FM64 shares are lifted first, the output reduced back;
both parties first re-randomise their shares with opposite copies of a common PRG mask, since
the conversions below need uniform shares):
1. local: u = (x - L) / ln 3 + off with 64 fraction bits (u_i = x_i c, c = round(2^(64-f) / ln 3),
   party 0 adds off; off = 1 + 2^-20 keeps the integer part >= 0). Party 1 reads its share as the
   negative integer u_1 - 2^128 ("probabilistic conversion": u_0 + u_1 - 2^128 = u exactly
   unless u_0 <= u, probability < 2^-57 for valid x). Each party splits u_i = I_i + F_i
   (I_i = high limb, F_i = low limb / 2^64) and computes G_i = 3^(I_i) mod 2^128 (party 1 times
   the public 3^(-2^64)) and the real factor A_i = round(3^(F_i) 2^32) (party 0 also folds in
   3^-off).
2. round 1, products of private values (dealer pairs u, v, z0 + z1 = uv): V = keep G_0 G_1 =
   (keep_0 G_0) G_1 + G_0 (keep_1 G_1) and A = A_0 A_1. A < 2^66 is truncated locally by 34 bits
   (exact up to the carry unless its shares do not wrap: probability < 2^-62).
3. round 2, Beaver product W = V A' = e^(x - L) 2^30 (V is the exact integer 3^(I_0 + I_1)).
4. round 3, 2PC truncation by T = 32 (stochastic rounding): W / 2^32 = e^x 2^f, error in (-1, 1) LSB
   and unbiased (stochastic rounding).
L = -(f + 2) ln 2 and H (`api.exp_prime_range`) bound the valid inputs: where keep = 0 the
output is exactly 0, whatever x is.
Cost per element: 3 rounds, 84 bytes sent by each party (48 + 32 + 4), 68 offline bytes.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from veil.config import Field
from veil.mpc import ring
from veil.mpc.api import exp_prime_range
from veil.mpc.context import ProtocolContext
from veil.mpc.kernels import Cost, const
from veil.mpc.semi2k import correlations as D
from veil.mpc.semi2k.arithmetic import mul_ss
from veil.mpc.semi2k.costs import REQ
from veil.mpc.semi2k.shares import lead
from veil.mpc.semi2k.truncation import trunc_2pc

TAG_PRIV = "semi2k.exp_prime.priv"
W128 = 128
FRAC = 64  # fraction bits of the exponent u (the low limb)
S_IN = 32  # bits of each party's real factor A_i
S_MID = 30  # bits of A' = (A_0 A_1) >> (2 S_IN - S_MID)
T_OUT = 32  # final truncation (4-byte 2PC truncation)
OFF = 1.0 + 2.0**-20  # exponent offset that keeps I_0 + I_1 >= 0 (see step 1)
WINDOW = 8  # bits per table lookup of the fixed-base exponentiation

COST = Cost(
    const(3),
    lambda e, k, n: n * (n - 1) * e * (48 + 32 + 4),
    lambda e, k, n: 3 * REQ + 68 * e,
    note="2PC only; valid where keep = 1 for x in api.exp_prime_range; error < 1 LSB + ~3e-9 relative",
)


@functools.cache
def _pow3_tables() -> np.ndarray:
    """(8, 256) U128 table: row w, column v = 3^(v 2^(8w)) mod 2^128 (read-only)."""
    mod = 1 << W128
    rows = []
    for w in range(64 // WINDOW):
        base = pow(3, 1 << (WINDOW * w), mod)
        vals, acc = [], 1
        for _ in range(1 << WINDOW):
            vals.append(acc)
            acc = acc * base % mod
        rows.append(vals)
    table = ring.from_pyints(Field.FM128, rows)
    table.setflags(write=False)
    return table


def pow3(e: np.ndarray) -> np.ndarray:
    """3^e mod 2^128 for a uint64 exponent array (fixed-base, 8-bit windows)."""
    tables = _pow3_tables()
    out = tables[0][(e & np.uint64(0xFF)).astype(np.intp)]
    for w in range(1, 64 // WINDOW):
        digit = ((e >> np.uint64(WINDOW * w)) & np.uint64(0xFF)).astype(np.intp)
        out = ring.mul(out, tables[w][digit])
    return out


def _lift(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    """A uniformly re-randomised share in Z_2^128: FM64 shares are widened so that they add up over
    the integers (party 1 subtracts 2^64; exact unless the small secret's shares fail to wrap).

    The conversions need uniform shares (a public value shared as (x, 0) never wraps): both
    parties add opposite copies of a mask from their common PRG stream first (no messages)."""
    a = np.require(a, requirements="C").reshape(-1)
    mask = ctx.prg.pair(1 - ctx.rank).ring(ctx.field, a.shape)
    a = ring.add(a, mask) if lead(ctx) else ring.sub(a, mask)
    if ctx.field is Field.FM128:
        return a
    wide = ring.to_field(a, Field.FM128, signed=False)
    return wide if lead(ctx) else ring.sub(wide, ring.full(Field.FM128, (), 1 << 64))


def _exponent(ctx: ProtocolContext, x: np.ndarray) -> tuple[np.ndarray, float]:
    """This party's share of u = (x - L)/ln 3 + OFF (FRAC fraction bits), and 3^-off for party 0."""
    f = ctx.config.f
    lo, _ = exp_prime_range(ctx.k, f)
    c = round(2.0 ** (FRAC - f) / math.log(3.0))
    u = ring.mul(x, ring.full(Field.FM128, (), c))
    shift = -lo / math.log(3.0) + OFF
    d = round(shift * 2.0**FRAC)
    off = d / 2.0**FRAC + lo / math.log(3.0)  # the offset actually added (~ OFF)
    if lead(ctx):
        u = ring.add(u, ring.full(Field.FM128, (), d))
    return u, off


def _factors(ctx: ProtocolContext, u: np.ndarray, off: float) -> tuple[np.ndarray, np.ndarray]:
    """(G_i = 3^(I_i) mod 2^128, A_i = round(3^(F_i) 2^S_IN) [3^-off folded in at party 0])."""
    g = pow3(np.ascontiguousarray(u["hi"]))
    frac = np.ascontiguousarray(u["lo"]).astype(np.float64) / 2.0**FRAC
    if lead(ctx):
        a = np.rint(np.exp((frac - off) * math.log(3.0)) * 2.0**S_IN)
    else:
        g = ring.mul(g, ring.full(Field.FM128, (), pow(3, -(1 << 64), 1 << W128)))
        a = np.rint(np.exp(frac * math.log(3.0)) * 2.0**S_IN)
    return g, ring.to_field(a.astype(np.uint64), Field.FM128, signed=False)


def mul_private(ctx: ProtocolContext, mine: np.ndarray) -> np.ndarray:
    """Shares of a0 * a1 (mod 2^128) where party 0 holds a0 and party 1 holds a1 (1 round)."""
    u, v, z = ctx.dealer.get(D.TRUNC2, W128, mine.size)
    peer = 1 - ctx.rank
    ctx.link.send(peer, TAG_PRIV, ring.sub(mine, u if lead(ctx) else v))
    theirs = ctx.link.recv(peer, TAG_PRIV)
    return ring.add(ring.mul(mine, theirs) if lead(ctx) else ring.mul(theirs, v), z)


def _trunc_local(ctx: ProtocolContext, a: np.ndarray, m: int) -> np.ndarray:
    """Shares of (a >> m) - {0, 1} for a small nonnegative secret a (shares wrap exactly once)."""
    out = ring.rshift_logical(a, m)
    return out if lead(ctx) else ring.sub(out, ring.full(Field.FM128, (), 1 << (W128 - m)))


def exp_prime_s(ctx: ProtocolContext, x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Shares of keep * exp(x) (FXP with f bits) for FXP x and a 0/1 secret keep (see module doc)."""
    if ctx.world != 2:
        raise ValueError(f"semi2k.exp_prime_s: a 2-party protocol, got {ctx.world} parties")
    shape = x.shape
    u, off = _exponent(ctx, _lift(ctx, x))
    g, a = _factors(ctx, u, off)
    kg = ring.mul(_lift(ctx, keep), g)
    n = g.size
    mine = np.concatenate([kg, g, a]) if lead(ctx) else np.concatenate([g, kg, a])
    prods = mul_private(ctx, mine)
    v = ring.add(prods[:n], prods[n : 2 * n])
    a_mid = _trunc_local(ctx, prods[2 * n :], 2 * S_IN - S_MID)
    wide = dataclasses.replace(ctx, config=ctx.config.with_(field=Field.FM128))
    w = mul_ss(wide, v, a_mid)
    out = trunc_2pc(wide, w, T_OUT)  # stochastic rounding: unbiased, error in (-1, 1) LSB
    if ctx.field is Field.FM64:
        out = ring.to_field(out, Field.FM64)
    return out.reshape(shape)
