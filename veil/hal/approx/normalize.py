"""Normalisation by the highest set bit: |x| = y * 2^e with y in [0.5, 1], built from comparisons.

The HAL core has no boolean-share primitives (prefix-OR, bit reversal), so the position of the
highest set bit is found with a *thermometer* of sign tests against public powers of two, all
in one batched MSB call: c_t = [|x| >= 2^t]. The one-hot of the bucket is c_t - c_(t+1), so any
function of the bucket with public values -- the normalising factor 2^-e, the exponent e itself,
output scales like 2^(-e/2) -- is a *local* combination of the bits with public weights.

Two stages (default) cut the number of tests: a coarse thermometer every 8 bits (one product to
bring |x| into [1, 256), left untruncated where the protocol truncates mixed shifts in one round),
then a fine one on that. Cost on 2PC semi2k FM64 (|x| < 2^30): 13 sign tests (5 coarse, 8
fine; signed inputs: 19), 2 products and 1 truncation, 9 rounds (10 elsewhere).
One stage (ApproxConfig.normalize_stages = 1): 48 tests (97 signed), 1 product, 1 truncation,
5 rounds. Requested scales S = sign(x)^s * 2^(alpha e) are products of a coarse
and a fine factor, computed in the same round as y.

Inputs are FXP with f fraction bits; x_enc = round(x 2^f). Supported: |x_enc| < 2^(hmax + 1),
hmax = f + 29 on FM64 (|x| < 2^30), f + 39 on FM128. x = 0 maps to y = `y_at_zero`, e = -f.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from veil.config import RuntimeConfig
from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal.approx._kit import (
    BudgetError,
    as_int,
    check_budget,
    lincomb,
    msb_rows,
    mul_batch,
    round_scaled,
    trunc_batch,
    trunc_mixed,
)
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP, INT = DType.FXP, DType.INT
STEP = 8  # bits per coarse bucket (even, so that 2^(e/2) splits exactly)


@dataclass(frozen=True)
class Scale:
    """A requested output scale 2^(alpha e) (times sign(x) if `signed`) with `bits` fraction bits.

    `at_zero`: 0.0 makes the scale 0 for x == 0; None gives it the value of the smallest |x|.
    """

    alpha: float
    bits: int
    signed: bool = False
    at_zero: float | None = 0.0


@dataclass
class Normalized:
    y: Value  # FXP, in [0.5, 1] (y_at_zero for x == 0)
    exponent: Value  # INT e with |x| = y 2^e
    scales: list[Value]  # FXP, one per requested Scale


def hmax_of(config: RuntimeConfig) -> int:
    """Highest bit index of |x_enc| handled (FM64: |x| < 2^30, FM128: |x| < 2^40)."""
    return config.f + (29 if config.ring_bits == 64 else 39)


class _Thermo:
    """Sign tests of one value against thresholds; combines bucket-indexed public weights."""

    def __init__(self, ctx: ProtocolContext, x: Value, thresholds: Sequence[int], signed: bool) -> None:
        self.ctx, self.n, self.signed = ctx, len(thresholds), signed
        signs = [-1] * self.n
        offs = [t - 1 for t in thresholds]  # [T - 1 - x < 0] = [x >= T]
        if signed:
            signs += [1] * self.n + [1]
            offs += [t - 1 for t in thresholds] + [0]  # [x + T - 1 < 0] = [x <= -T]; [x < 0]
        self.bits = msb_rows(ctx, x, signs, offs)

    def comb(
        self, w_pos: Sequence[int], w_neg: Sequence[int] | None = None, bits: int = 0, dtype: DType = INT
    ) -> Value:
        """sum over buckets of onehot * weight (bucket 0 = below the first threshold)."""
        weights = [w_pos[t] - w_pos[t - 1] for t in range(1, self.n + 1)]
        if self.signed:
            wn = w_pos if w_neg is None else w_neg
            weights += [wn[t] - wn[t - 1] for t in range(1, self.n + 1)] + [wn[0] - w_pos[0]]
        return lincomb(self.ctx, self.bits, weights, w_pos[0], fxp_bits=bits, dtype=dtype)


def _pow2(e: float) -> int:
    """round(2^e) as an exact Python int (any size)."""
    ip = math.floor(e)
    return round_scaled(2.0 ** (e - ip), ip)


def normalize(
    ctx: ProtocolContext,
    x: Value,
    *,
    y_bits: int,
    scales: Sequence[Scale] = (),
    signed: bool = False,
    y_at_zero: float = 0.5,
    stages: int | None = None,
) -> Normalized:
    """Split secret FXP x into |x| = y 2^e (see the module docstring); `stages` is 1 or 2
    (default: `ctx.config.approx.normalize_stages`)."""
    if stages is None:
        stages = ctx.config.approx.normalize_stages
    if stages == 1:
        return _one_stage(ctx, x, y_bits, scales, signed, y_at_zero)
    if stages != 2:
        raise ValueError(f"hal.approx.normalize: stages={stages} must be 1 or 2")
    f, s, hmax = ctx.config.f, STEP, hmax_of(ctx.config)
    n_coarse = math.ceil((hmax + 1) / s) - 1
    coarse = _Thermo(ctx, x, [1 << (a * s) for a in range(1, n_coarse + 1)], signed)
    b1 = y_bits
    s1 = max(0, n_coarse * s - b1)
    g1 = [1 << (s1 + b1 - a * s) for a in range(n_coarse + 1)]
    check_budget(ctx, max(hmax + 1 - n_coarse * s, s) + s1 + b1, "normalize stage 1")
    z1 = hr._mul(ctx, as_int(x), coarse.comb(g1, [-g for g in g1]), dtype=FXP, fxp_bits=s1 + b1)
    s2 = max(0, b1 + s - y_bits)
    # Untruncated, z1 = |x_enc| 2^(s1 + b1 - a s) is exact: in [2^(s1+b1), 2^(s1+b1+s)) for x != 0.
    # The fine tests read it as it is and y's product takes the s1 extra bits in its own
    # truncation, in the same round as the scales' (one round fewer), when the ring has room.
    exact = hr.has_trunc_segments(ctx) and s1 + b1 + s + (s2 + y_bits - b1) <= ctx.k - 3
    lift = s1 if exact else 0
    if not exact:  # |x_enc| / 2^(a s) in [1, 2^s) within 1 LSB, b1 fraction bits
        z1 = trunc_batch(ctx, [z1], s1)[0]
    fine = _Thermo(ctx, z1, [1 << (lift + b1 - 1)] + [1 << (lift + j + b1) for j in range(1, s)], False)
    g2 = [0] + [1 << (s2 + y_bits - b1 - j - 1) for j in range(s)]
    pairs = [(z1, fine.comb(g2))]
    for sc in scales:
        pairs.append(_scale_pair(ctx, sc, coarse, fine, n_coarse, s2))
    prods = mul_batch(ctx, pairs)
    outs = trunc_mixed(ctx, [(prods[0], s2 + lift)] + [(p, s2) for p in prods[1:]])
    y0 = fine.comb([round(y_at_zero * 2.0**y_bits)] + [0] * s)
    y = hr._add(ctx, outs[0], y0, dtype=FXP, fxp_bits=y_bits)
    count1 = coarse.comb(list(range(n_coarse + 1)))
    count2 = fine.comb(list(range(s + 1)))
    e = hr._add(
        ctx,
        hr._mul(ctx, count1, hr.public(ctx, hr.ring_int(ctx, (), s), INT), dtype=INT, fxp_bits=0),
        count2,
        dtype=INT,
        fxp_bits=0,
    )
    e = hr._sub(ctx, e, hr.public(ctx, hr.ring_int(ctx, (), f), INT), dtype=INT, fxp_bits=0)
    scaled = [hr.make(o, o.payload, dtype=FXP, fxp_bits=sc.bits) for o, sc in zip(outs[1:], scales)]
    return Normalized(y, e, scaled)


def _scale_pair(
    ctx: ProtocolContext, sc: Scale, coarse: _Thermo, fine: _Thermo, n_coarse: int, s2: int
) -> tuple[Value, Value]:
    """Coarse and fine factors whose product >> s2 is sign^? 2^(alpha e) with sc.bits bits."""
    f, s = ctx.config.f, STEP
    if not float(sc.alpha * s).is_integer():
        raise BudgetError(f"hal.approx.normalize: alpha={sc.alpha} needs alpha*{s} integral")
    q1 = max(0, int(-sc.alpha * n_coarse * s))
    h1 = [1 << int(sc.alpha * a * s + q1) for a in range(n_coarse + 1)]
    exps = [sc.alpha * (j + 1 - f) + sc.bits - q1 + s2 for j in range(s)]
    for ex in exps:  # powers of two must stay integral; irrational factors need ~22 bits
        if (float(ex).is_integer() and ex < 0) or (not float(ex).is_integer() and ex < 22):
            raise BudgetError(
                f"hal.approx.normalize: scale 2^({sc.alpha} e) at {sc.bits} bits loses precision"
            )
    h2 = [_pow2(ex) for ex in exps]
    h2 = [0 if sc.at_zero == 0.0 else h2[0]] + h2
    top = max(sc.alpha * (h + 1 - f) for h in (0, hmax_of(ctx.config))) + sc.bits + s2
    check_budget(ctx, top + 0.5, "normalize scale")
    neg = [-v for v in h1] if sc.signed else None
    return coarse.comb(h1, neg), fine.comb(h2)


def _one_stage(
    ctx: ProtocolContext, x: Value, y_bits: int, scales: Sequence[Scale], signed: bool, y_at_zero: float
) -> Normalized:
    """All thresholds 2^0..2^hmax in one MSB call; scales are local combinations."""
    f, hmax = ctx.config.f, hmax_of(ctx.config)
    th = _Thermo(ctx, x, [1 << h for h in range(hmax + 1)], signed)
    sh = max(0, hmax + 1 - y_bits)
    g = [0] + [1 << (sh + y_bits - h - 1) for h in range(hmax + 1)]
    check_budget(ctx, sh + y_bits + 1, "normalize")
    raw = hr._mul(ctx, as_int(x), th.comb(g, [-v for v in g]), dtype=FXP, fxp_bits=sh + y_bits)
    y = trunc_batch(ctx, [raw], sh)[0]
    y = hr._add(
        ctx, y, th.comb([round(y_at_zero * 2.0**y_bits)] + [0] * (hmax + 1)), dtype=FXP, fxp_bits=y_bits
    )
    e = th.comb([-f] + [h + 1 - f for h in range(hmax + 1)])
    out = []
    for sc in scales:
        w = [_pow2(sc.alpha * (h + 1 - f) + sc.bits) for h in range(hmax + 1)]
        w = [0 if sc.at_zero == 0.0 else w[0]] + w
        out.append(th.comb(w, [-v for v in w] if sc.signed else None, bits=sc.bits, dtype=FXP))
    return Normalized(y, e, out)
