"""Comparisons and selection on HAL Values (sign tests of differences; products with 0/1 bits).

Costs (secret): less/greater = one MSB; equal = one EQZ; select = one product; maximum/minimum/
relu/abs = one MSB + one product; sign = one batched MSB. Public inputs are computed locally.
Results of comparisons are BOOL Values holding 0/1 ring integers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from veil.config import Field
from veil.dtypes import DType, Visibility
from veil.hal import ring as hr
from veil.hal import ring_bits as hb
from veil.hal.fxp import align, decode_public
from veil.hal.layout import common_vis, concat_flat, split_flat
from veil.hal.value import Value
from veil.mpc import api
from veil.mpc import ring as R
from veil.mpc.context import ProtocolContext

BOOL, INT = DType.BOOL, DType.INT


def unify(ctx: ProtocolContext, values: Sequence[Value]) -> list[Value]:
    """Bring Values to their joined visibility (sharing PUBLIC/PRIVATE ones if the join is SECRET)."""
    vis, owner = common_vis(values)
    if vis is Visibility.SECRET:
        return [hr.to_secret(ctx, v) for v in values]
    if vis is Visibility.PRIVATE:
        held = ctx.rank == owner
        return [hr.make(v, v.payload if held else None, vis=vis, owner=owner) for v in values]
    return list(values)


def msb_many(ctx: ProtocolContext, values: Sequence[Value]) -> list[Value]:
    """Sign bits of several Values with one batched MSB call."""
    vals = unify(ctx, values)
    if len(vals) == 1:
        return [hb._msb(ctx, vals[0])]
    return split_flat(hb._msb(ctx, concat_flat(vals)), vals)


def mul_many(ctx: ProtocolContext, pairs: Sequence[tuple[Value, Value]]) -> list[Value]:
    """Raw ring products of several same-shaped pairs with one batched multiplication."""
    if len(pairs) == 1:
        return [hr._mul(ctx, *pairs[0])]
    lefts = unify(ctx, [a for a, _ in pairs])
    rights = unify(ctx, [b for _, b in pairs])
    prod = hr._mul(ctx, concat_flat(lefts), concat_flat(rights))
    outs = split_flat(prod, rights)
    return [
        hr.make(o, o.payload, dtype=r.dtype, fxp_bits=r.fxp_bits + lft.fxp_bits)
        for o, lft, r in zip(outs, lefts, rights)
    ]


def _not(ctx: ProtocolContext, b: Value) -> Value:
    one = hr.public(ctx, hr.ring_int(ctx, (), 1), BOOL)
    return hr._sub(ctx, one, b, dtype=BOOL, fxp_bits=0)


def _plain_less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact signed a < b of ring arrays (no overflow of the difference), as ring 0/1."""
    field = R.field_of(a)
    if field is Field.FM64:
        lt = a.view(np.int64) < b.view(np.int64)
    else:
        ahi, bhi = a["hi"].view(np.int64), b["hi"].view(np.int64)
        lt = (ahi < bhi) | ((ahi == bhi) & (a["lo"] < b["lo"]))
    return R.from_int64(field, lt.astype(np.int64))


def less(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    """[x < y]: the sign of x - y for secrets (valid while |x - y| < 2^(k-1)), exact when public."""
    x, y = align(ctx, x, y)
    if x.is_public and y.is_public:
        shape = tuple(np.broadcast_shapes(x.shape, y.shape))
        a, b = hr.bcast(x, shape).payload, hr.bcast(y, shape).payload
        return Value(shape, BOOL, Visibility.PUBLIC, 0, _plain_less(np.asarray(a), np.asarray(b)))
    return hb._msb(ctx, hr._sub(ctx, x, y))


def greater(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return less(ctx, y, x)


def less_equal(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return _not(ctx, less(ctx, y, x))


def greater_equal(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return _not(ctx, less(ctx, x, y))


def equal(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    x, y = align(ctx, x, y)
    return hb._eqz(ctx, hr._sub(ctx, x, y))


def not_equal(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return _not(ctx, equal(ctx, x, y))


def select(ctx: ProtocolContext, pred: Value, on_true: Value, on_false: Value) -> Value:
    """pred ? on_true : on_false for a BOOL 0/1 pred; public pred selects locally (no messages)."""
    a, b = align(ctx, on_true, on_false)
    shape = tuple(np.broadcast_shapes(pred.shape, a.shape, b.shape))
    pred, a, b = hr.bcast(pred, shape), hr.bcast(a, shape), hr.bcast(b, shape)
    if pred.is_public:
        a, b = unify(ctx, [a, b])
        if a.payload is None or b.payload is None:
            return hr.make(a, None)
        mask = R.to_int64(pred.payload) != 0
        return hr.make(a, np.where(mask, a.payload, b.payload))
    diff = hr._sub(ctx, a, b)
    picked = hr._mul(ctx, pred, diff, dtype=a.dtype, fxp_bits=a.fxp_bits)
    return hr._add(ctx, b, picked, dtype=a.dtype, fxp_bits=a.fxp_bits)


def _public_zero(v: Value) -> bool:
    return v.is_public and v.payload is not None and not np.any(R.to_int64(v.payload))


def select_trunc(ctx: ProtocolContext, pred: Value, on_true: Value, on_false: Value, bits: int) -> Value:
    """trunc(pred ? on_true : on_false, bits). With a secret pred, a secret case and a public
    zero as the other case this is one fused product + truncation (`api.bit_trunc_s`: one
    round on semi2k 2PC, select then trunc elsewhere), since s * trunc(v) = trunc(s * v)."""
    return select_trunc_many(ctx, [(pred, on_true, on_false)], bits)[0]


def select_trunc_many(
    ctx: ProtocolContext, items: Sequence[tuple[Value, Value, Value]], bits: int
) -> list[Value]:
    """[select_trunc(pred, on_true, on_false, bits) for each item] in the rounds of one call:
    fused selects (secret pred, a public zero case) and plain truncations (a public all-true
    pred, a public zero false case: `veil.ir.passes.batch` writes trunc(x) so) go to one
    `api.bit_trunc_mixed_s`; anything else is a select, then a truncation."""
    sel: list[tuple[int, Value, Value]] = []  # (index, s, x): s ? trunc(x) : 0
    plain: list[tuple[int, Value]] = []
    out: list[Value | None] = [None] * len(items)
    for i, (pred, on_true, on_false) in enumerate(items):
        zero_false, zero_true = _public_zero(on_false), _public_zero(on_true)
        x = on_true if zero_false else on_false
        if zero_false and x.is_secret and pred.is_public and _all_true(pred):
            plain.append((i, x))
        elif zero_false != zero_true and x.is_secret and pred.is_secret and bits > 0:
            shape = tuple(np.broadcast_shapes(pred.shape, on_true.shape, on_false.shape))
            s = hr.bcast(pred, shape)
            if zero_true:  # pred ? 0 : x  =  (1 - pred) ? x : 0
                s = hr._sub(
                    ctx, hr.make(s, R.full(ctx.field, shape, 1), vis=Visibility.PUBLIC, owner=None), s
                )
            sel.append((i, s, hr.bcast(x, shape)))
        else:
            out[i] = hr._trunc(ctx, select(ctx, pred, on_true, on_false), bits)
    xs, ys = [x for _, _, x in sel], [y for _, y in plain]
    s_flat, x_flat, y_flat = (
        concat_flat(vs).payload if vs else None for vs in ([s for _, s, _ in sel], xs, ys)
    )
    if sel and plain:
        got = api.bit_trunc_mixed_s(ctx, s_flat, x_flat, y_flat, bits)
    else:  # one kind only: its own kernel (shares of some protocols cannot be empty arrays)
        got = (
            api.bit_trunc_s(ctx, s_flat, x_flat, bits) if sel else None,
            api.trunc_s(ctx, y_flat, bits) if plain else None,
        )
    for idx, vals, payload in (([i for i, *_ in sel], xs, got[0]), ([i for i, _ in plain], ys, got[1])):
        start = 0
        for i, v in zip(idx, vals):
            piece = payload[start : start + v.size].reshape(v.shape)
            out[i] = hr.make(v, piece, fxp_bits=max(0, v.fxp_bits - bits))
            start += v.size
    return [v for v in out if v is not None]


def _all_true(v: Value) -> bool:
    return v.payload is not None and bool(np.all(R.to_int64(v.payload) != 0))


def maximum(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return select(ctx, less(ctx, x, y), y, x)


def minimum(ctx: ProtocolContext, x: Value, y: Value) -> Value:
    return select(ctx, less(ctx, x, y), x, y)


def _as_int(b: Value) -> Value:
    return hr.make(b, b.payload, dtype=INT, fxp_bits=0)


def abs_(ctx: ProtocolContext, x: Value) -> Value:
    """|x| = x * (1 - 2 [x < 0]): one MSB and one product."""
    s = hr._sub(
        ctx, hr.public(ctx, hr.ring_int(ctx, (), 1), INT), hr._mul_int(ctx, _as_int(hb._msb(ctx, x)), 2)
    )
    return hr._mul(ctx, x, s, dtype=x.dtype, fxp_bits=x.fxp_bits)


def sign(ctx: ProtocolContext, x: Value) -> Value:
    """sign(x) in {-1, 0, 1} (jnp.sign) = [x > 0] - [x < 0]: one batched MSB of (x, -x)."""
    neg_bit, pos_bit = msb_many(ctx, [x, hr._neg(ctx, x)])
    s = hr._sub(ctx, _as_int(pos_bit), _as_int(neg_bit), dtype=INT, fxp_bits=0)
    if x.dtype is DType.FXP:
        return hr._lshift(ctx, s, x.fxp_bits, dtype=DType.FXP, fxp_bits=x.fxp_bits)
    return hr.make(s, s.payload, dtype=x.dtype)


def relu(ctx: ProtocolContext, x: Value) -> Value:
    """max(x, 0) = x * (1 - [x < 0])."""
    keep = _not(ctx, hb._msb(ctx, x))
    return hr._mul(ctx, x, keep, dtype=x.dtype, fxp_bits=x.fxp_bits)


def clamp(ctx: ProtocolContext, x: Value, lo: Value, hi: Value) -> Value:
    """min(max(x, lo), hi) (lax.clamp). Public lo <= hi: one batched MSB and one batched product."""
    if not (lo.is_public and hi.is_public) or np.any(decode_public(lo) > decode_public(hi)):
        return minimum(ctx, maximum(ctx, x, lo), hi)
    x, lo = align(ctx, x, lo)
    x, hi = align(ctx, x, hi)
    lo, hi = hr.bcast(lo, x.shape), hr.bcast(hi, x.shape)
    to_lo, to_hi = hr._sub(ctx, lo, x), hr._sub(ctx, hi, x)
    below, above = msb_many(ctx, [hr._neg(ctx, to_lo), to_hi])  # [x < lo], [hi < x]
    d_lo, d_hi = mul_many(ctx, [(below, to_lo), (above, to_hi)])
    out = hr._add(ctx, hr._add(ctx, x, d_lo), d_hi)
    return hr.make(out, out.payload, dtype=x.dtype, fxp_bits=x.fxp_bits)
