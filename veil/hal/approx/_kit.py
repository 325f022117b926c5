"""Shared plumbing for the approximations: the plaintext shortcut, batched products and
truncations, public-weight combinations of comparison bits, and polynomials at a chosen precision.

Working precision. Inside an approximation, bounded intermediates (|v| <= a few) are carried with
more fraction bits than the config's f when the ring has room, and each value records its own
`fxp_bits`. Every raw (untruncated) ring value stays below 2^(k-2) in magnitude, the range in which
the protocols' truncation is exact up to 1 LSB; the helpers check this from stated bounds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from veil.config import ProtocolKind
from veil.dtypes import DType
from veil.hal import ring as hr
from veil.hal import ring_bits as hb
from veil.hal.fxp import constant, decode_public, to_fxp
from veil.hal.layout import concat_flat, split_flat
from veil.hal.value import Value
from veil.mpc.context import ProtocolContext

FXP, INT = DType.FXP, DType.INT


class BudgetError(ValueError):
    """An approximation's bit budget does not fit the ring (a design error, not a user error)."""


def check_budget(ctx: ProtocolContext, log2_max: float, what: str) -> None:
    """Raise BudgetError unless a raw value bounded by 2^log2_max stays below 2^(k-2)."""
    if log2_max >= ctx.k - 2:
        raise BudgetError(
            f"hal.approx: {what} needs {log2_max:.1f} bits but {ctx.field.name} truncates exactly "
            f"only below 2^{ctx.k - 2}; use FM128 or fewer fraction bits"
        )


# ---------------------------------------------------------------------------------------------
# plaintext shortcut and encodings


def plain_map(ctx: ProtocolContext, fn: Callable[..., np.ndarray], *xs: Value) -> Value | None:
    """fn in float64 when no input is secret (PUBLIC, or PRIVATE to one owner); else None.

    Public results are exact up to the encoding and cost nothing; a PRIVATE input is evaluated
    by its owner (others hold None). Non-finite results are clipped into the ring's range.
    """
    owners = {x.owner for x in xs if not x.is_public}
    if any(x.is_secret for x in xs) or len(owners) > 1:
        return None
    shape = tuple(np.broadcast_shapes(*(x.shape for x in xs)))
    f = ctx.config.f
    owner = owners.pop() if owners else None
    if owner is not None and ctx.rank != owner:
        return Value(shape, FXP, hr.PRIVATE, f, None, owner)
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*(decode_public(x) for x in xs)), dtype=np.float64)
    limit = 2.0 ** (ctx.k - 2 - f)
    out = np.clip(np.nan_to_num(out, nan=0.0, posinf=limit, neginf=-limit), -limit, limit)
    res = constant(ctx, out, shape)
    if owner is not None:
        return hr.make(res, res.payload, vis=hr.PRIVATE, owner=owner)
    return res


def as_fxp(ctx: ProtocolContext, x: Value) -> Value:
    """x as FXP with the config's f fraction bits (local unless it carries more bits)."""
    if x.dtype is FXP and x.fxp_bits == ctx.config.f:
        return x
    return to_fxp(ctx, x)


def as_int(x: Value) -> Value:
    """Reinterpret a BOOL/INT/FXP payload as a raw ring integer (no change to the payload)."""
    return hr.make(x, x.payload, dtype=INT, fxp_bits=0)


def with_bits(ctx: ProtocolContext, x: Value, bits: int) -> Value:
    """Re-encode FXP x with `bits` fraction bits: a free left shift, or a truncation."""
    if bits >= x.fxp_bits:
        return hr._lshift(ctx, x, bits - x.fxp_bits, dtype=FXP, fxp_bits=bits)
    return hr._trunc(ctx, x, x.fxp_bits - bits, dtype=FXP, fxp_bits=bits)


def pub_int(ctx: ProtocolContext, ints: Sequence[int] | int, shape: tuple[int, ...] | None = None) -> Value:
    """A PUBLIC INT Value of (possibly big) Python ints taken mod 2^k, reshaped to `shape`.

    The arrays are cached read-only by (field, ints, shape) in the run's `ctx.scratch`:
    approximations ask for the same few weight vectors on every call (LR: ~430 calls per party
    per run, ~20 us each uncached).
    """
    if isinstance(ints, (int, np.integer)):
        key_ints: tuple[int, ...] | None = (int(ints),)
    elif isinstance(ints, (list, tuple)) and all(isinstance(v, (int, np.integer)) for v in ints):
        key_ints = tuple(int(v) for v in ints)
    else:  # nested or unusual input: no cache
        key_ints = None
    key = None if key_ints is None else (ctx.field, key_ints, None if shape is None else tuple(shape))
    cache: dict[Any, np.ndarray] = ctx.scratch.setdefault(_PUB_INT_SCRATCH, {})
    arr = cache.get(key) if key is not None else None
    if arr is None:
        flat = [hr.ring_int(ctx, (), int(v)) for v in np.ravel(np.asarray(ints, dtype=object))]
        arr = np.stack(flat) if flat else hr.ring_int(ctx, (0,), 0)
        arr = arr.reshape(shape if shape is not None else np.shape(ints))
        if key is not None:
            arr.flags.writeable = False  # shared by every caller of this run: never mutated
            if len(cache) >= _PUB_INT_CACHE_MAX:
                cache.clear()
            cache[key] = arr
    return Value(tuple(arr.shape), INT, hr.PUBLIC, 0, arr)


_PUB_INT_SCRATCH = "hal.pub_int"  # ctx.scratch key: one cache per party and run
_PUB_INT_CACHE_MAX = 4096


def pub_fxp(ctx: ProtocolContext, value: float, bits: int) -> Value:
    """A PUBLIC scalar FXP constant with `bits` fraction bits (exact rounding, big ints allowed)."""
    v = pub_int(ctx, round_scaled(value, bits), ())
    return hr.make(v, v.payload, dtype=FXP, fxp_bits=bits)


def round_scaled(value: float, bits: int) -> int:
    """round(value * 2^bits) as an exact Python int (float64 value, any bits >= 0)."""
    m, e = math.frexp(float(value))  # value = m * 2^e, m has 53 significant bits
    mant = int(m * 2.0**53)
    shift = e - 53 + bits
    if shift >= 0:
        return mant << shift
    return (mant + (1 << (-shift - 1))) >> (-shift)


# ---------------------------------------------------------------------------------------------
# batched products and truncations (one kernel call each, whatever the number of operands)


def mul_batch(ctx: ProtocolContext, pairs: Sequence[tuple[Value, Value]]) -> list[Value]:
    """Raw ring products a*b of same-shaped pairs: all secret x secret ones in one round
    (the square kernel when every pair is a square); pairs with a public side are local."""
    out: dict[int, Value] = {}
    remote = []
    for n, (a, b) in enumerate(pairs):
        if a.is_public or b.is_public:
            out[n] = hr._mul(ctx, a, b)
        else:
            remote.append(n)
    if len(remote) == 1:
        a, b = pairs[remote[0]]
        out[remote[0]] = hr._square(ctx, a) if a is b else hr._mul(ctx, a, b)
    elif remote:
        lefts = [hr.to_secret(ctx, pairs[n][0]) for n in remote]
        rights = [hr.to_secret(ctx, pairs[n][1]) for n in remote]
        if all(pairs[n][0] is pairs[n][1] for n in remote):
            prod = hr._square(ctx, concat_flat(lefts))
        else:
            prod = hr._mul(ctx, concat_flat(lefts), concat_flat(rights))
        out.update(zip(remote, split_flat(prod, lefts)))
    return [
        hr.make(out[n], out[n].payload, dtype=_dt(a, b), fxp_bits=a.fxp_bits + b.fxp_bits)
        for n, (a, b) in enumerate(pairs)
    ]


def trunc_batch(ctx: ProtocolContext, values: Sequence[Value], shift: int) -> list[Value]:
    """Each value shifted right by `shift` bits, rounded (one truncation call for all secrets).

    semi2k and aby3 truncations round stochastically (floor or floor + 1, unbiased, |error| < 1
    LSB). ref2k's exact shift is a floor, so there half an output LSB is added first (a free
    public addition) to round to nearest; the protocols get no such offset, which would bias
    them by +1/2 LSB.
    """
    if shift == 0:
        return list(values)
    if ctx.config.protocol is ProtocolKind.REF2K:
        half = pub_int(ctx, 1 << (shift - 1), ())
        values = [hr._add(ctx, v, half, dtype=v.dtype, fxp_bits=v.fxp_bits) for v in values]
    if len(values) == 1:
        v = values[0]
        return [hr._trunc(ctx, v, shift, dtype=v.dtype, fxp_bits=max(0, v.fxp_bits - shift))]
    vals = [hr.to_secret(ctx, v) for v in values]
    out = split_flat(hr._trunc(ctx, concat_flat(vals), shift), vals)
    return [
        hr.make(o, o.payload, dtype=v.dtype, fxp_bits=max(0, v.fxp_bits - shift)) for o, v in zip(out, vals)
    ]


def trunc_mixed(ctx: ProtocolContext, pairs: Sequence[tuple[Value, int]]) -> list[Value]:
    """Each value shifted right by its own number of bits, rounded as `trunc_batch` does: one
    truncation round for all secrets where the protocol truncates mixed shifts at once."""
    shifts = {sh for _, sh in pairs}
    if len(shifts) == 1:
        return trunc_batch(ctx, [v for v, _ in pairs], shifts.pop())
    if 0 in shifts:  # nothing to do for those; the rest in one call
        rest = iter(trunc_mixed(ctx, [(v, sh) for v, sh in pairs if sh]))
        return [v if sh == 0 else next(rest) for v, sh in pairs]
    if ctx.config.protocol is ProtocolKind.REF2K:
        pairs = [
            (hr._add(ctx, v, pub_int(ctx, 1 << (sh - 1), ()), dtype=v.dtype, fxp_bits=v.fxp_bits), sh)
            for v, sh in pairs
        ]
    vals = [hr.to_secret(ctx, v) for v, _ in pairs]
    flat = hr._trunc_segments(ctx, concat_flat(vals), tuple((v.size, sh) for v, (_, sh) in zip(vals, pairs)))
    return [
        hr.make(o, o.payload, dtype=v.dtype, fxp_bits=max(0, v.fxp_bits - sh))
        for o, v, (_, sh) in zip(split_flat(flat, vals), vals, pairs)
    ]


def _dt(a: Value, b: Value) -> DType:
    return FXP if FXP in (a.dtype, b.dtype) else INT


def msb_rows(ctx: ProtocolContext, x: Value, signs: Sequence[int], offsets: Sequence[int]) -> Value:
    """BOOL bits [signs[r] * x + offsets[r] < 0] for every row r, in one MSB call.

    x is read as a raw ring integer; the result has shape (rows, *x.shape).
    """
    rows = len(signs)
    lead = (rows,) + (1,) * len(x.shape)
    arg = hr._add(
        ctx,
        hr._mul(ctx, as_int(x), pub_int(ctx, list(signs), lead), dtype=INT, fxp_bits=0),
        pub_int(ctx, list(offsets), lead),
        dtype=INT,
        fxp_bits=0,
    )
    return hb._msb(ctx, arg)


def row(v: Value, i: int, dtype: DType | None = None) -> Value:
    """Row i of a Value stacked along axis 0 (e.g. one set of bits from `msb_rows`)."""
    payload = None if v.payload is None else v.payload[i]
    return hr.make(v, payload, shape=v.shape[1:], dtype=dtype)


def lincomb(
    ctx: ProtocolContext,
    bits: Value,
    weights: Sequence[int],
    bias: int,
    *,
    fxp_bits: int = 0,
    dtype: DType = INT,
) -> Value:
    """bias + sum_r weights[r] * bits[r] (Python ints, any size, mod 2^k): local."""
    lead = (len(weights),) + (1,) * (len(bits.shape) - 1)
    scaled = hr._mul(ctx, as_int(bits), pub_int(ctx, list(weights), lead), dtype=INT, fxp_bits=0)
    total = hr._add(ctx, hr._sum(ctx, scaled, 0), pub_int(ctx, bias, ()), dtype=INT, fxp_bits=0)
    return hr.make(total, total.payload, dtype=dtype, fxp_bits=fxp_bits)


# ---------------------------------------------------------------------------------------------
# polynomials at a chosen precision


def power_levels(
    degree: int, needed: Sequence[int] | None = None, start: int = 1
) -> list[list[tuple[int, int]]]:
    """Products [(i, j)] -> x^(i+j) per level giving x^2..x^degree in log depth from x..x^start.

    `start` = 3 when x^2 and x^3 come from a cube kernel (then x^6 needs one level, not three).
    With `needed` (the exponents whose coefficients are nonzero), products that feed none of them
    are dropped (an odd polynomial of degree 15 needs 9 products instead of 14).
    """
    levels, top = [], max(1, min(start, degree))
    while top < degree:
        levels.append([(top, j) for j in range(1, min(top, degree - top) + 1)])
        top = min(2 * top, degree)
    if needed is None:
        return levels
    want = {int(n) for n in needed if n > start}
    pruned: list[list[tuple[int, int]]] = []
    for level in reversed(levels):
        keep = [(i, j) for i, j in level if i + j in want]
        for i, j in keep:
            want.update(v for v in (i, j) if v > start)
        pruned.append(keep)
    return [lv for lv in reversed(pruned) if lv]


def _cube_start(ctx: ProtocolContext, b: int, degree: int, bound: float) -> bool:
    """Start from (u, u^2, u^3) by one cube opening when it saves rounds and fits the ring:
    u^3 at 3b bits and u^2 << b must stay below 2^(k-2.5)."""
    if degree < 3 or not hr.has_cube(ctx):
        return False
    return 3 * b + 2 * math.log2(bound) + max(0.0, math.log2(bound)) <= ctx.k - 2.5


def _nonzero(coeffs: Sequence[float]) -> list[int]:
    return [i for i, c in enumerate(coeffs) if c != 0.0]


def _poly_plan(
    ctx: ProtocolContext,
    b: int,
    coeffs: Sequence[float],
    levels: list[list[tuple[int, int]]],
    bound: float,
    out_bits: int,
    total: float,
    raw_last: bool,
) -> int | None:
    """The alignment W of the coefficient sum, or None if this layout cannot meet the precision."""
    degree = len(coeffs) - 1
    last = {i + j for i, j in levels[-1]} if (levels and raw_last) else set()
    bits = {i: (2 * b if i in last else b) for i in range(1, degree + 1)}
    top = max(bits.values(), default=b)
    w_max = ctx.k - 3 - max(0, math.ceil(math.log2(total + 1e-300)))
    # the smallest W whose coefficient rounding stays below the output's (or the powers') LSB
    target = 2.0 ** -min(out_bits + 2, b - 2)
    need = sum(2.0 ** (bits[i] - 1) * bound**i for i in range(1, degree + 1) if coeffs[i] != 0.0)
    W = max(top, out_bits, math.ceil(math.log2(need / target)) if need > 0 else 0)
    return W if W <= w_max else None


def poly_eval(
    ctx: ProtocolContext,
    u: Value,
    coeffs: Sequence[float],
    out_bits: int,
    bound: float,
    extras: Sequence[tuple[Value, float, float]] = (),
) -> Value:
    """sum_i coeffs[i] u^i (+ sum w * v for extras (v, w, |w v| bound)) as FXP with out_bits bits.

    Powers are computed in log depth at u's own fraction bits b; where the protocol has a cube
    kernel, u^2 and u^3 come from one opening (and one truncation), so degree <= 6 needs a
    single product level after it. When the ring has room, the last level's products stay
    untruncated (2b bits); every term is aligned to W bits, summed locally and truncated once.
    Cost: ceil(log2 d) product rounds and as many truncations (one more when the last level
    must be truncated too); with the cube, 2 rounds for u^2, u^3 plus ceil(log2(d / 3)) levels.
    `bound` >= |u|; the sum stays below 2^(k-3).
    """
    b = u.fxp_bits
    degree = max((i for i, c in enumerate(coeffs) if c != 0.0), default=0)
    coeffs = list(coeffs[: degree + 1])
    total = sum(abs(c) * bound**i for i, c in enumerate(coeffs)) + sum(abs(e[2]) for e in extras)
    cube = _cube_start(ctx, b, degree, bound)
    levels = power_levels(degree, _nonzero(coeffs), start=3 if cube else 1)
    raw_last = True
    W = _poly_plan(ctx, b, coeffs, levels, bound, out_bits, total, True)
    if W is None:
        raw_last = False
        W = _poly_plan(ctx, b, coeffs, levels, bound, out_bits, total, False)
    if W is None:
        raise BudgetError(f"hal.approx.poly_eval: degree {degree} at {b} bits does not fit {ctx.field.name}")
    pw: dict[int, Value] = {1: u}
    if cube:  # u^2 << b and u^3 share one truncation by 2b
        u2, u3 = hr._cube(ctx, u)
        u2 = hr._lshift(ctx, u2, b, fxp_bits=3 * b)
        pw[2], pw[3] = trunc_batch(ctx, [u2, u3], 2 * b)
    lb = math.log2(max(bound, 1.0))
    for n, level in enumerate(levels):
        check_budget(ctx, 2 * b + lb * max(i + j for i, j in level), "poly_eval powers")
        prods = mul_batch(ctx, [(pw[i], pw[j]) for i, j in level])
        if n < len(levels) - 1 or not raw_last:
            prods = trunc_batch(ctx, prods, b)
        pw.update({i + j: p for (i, j), p in zip(level, prods)})
    acc = hr._mul(ctx, as_int(u), pub_int(ctx, 0, ()), dtype=FXP, fxp_bits=W)
    terms = [(pw[i], coeffs[i]) for i in range(1, degree + 1) if coeffs[i] != 0.0]
    for v, w in terms + [(v, w) for v, w, _ in extras]:
        term = hr._mul(ctx, v, pub_int(ctx, round_scaled(w, W - v.fxp_bits), ()), dtype=FXP, fxp_bits=W)
        acc = hr._add(ctx, acc, term, dtype=FXP, fxp_bits=W)
    acc = hr._add(ctx, acc, pub_fxp(ctx, coeffs[0] if coeffs else 0.0, W), dtype=FXP, fxp_bits=W)
    return trunc_batch(ctx, [acc], W - out_bits)[0]
