"""Sorting networks and tournaments on HAL Values: sort / argsort / top-k and radix-4 max / min.

Secret keys are sorted by Batcher's odd-even merge sort. Every comparator of that network puts
the minimum on its lower wire, so the network for 2^m wires restricted to the first n wires
sorts n values (a padding wire would hold +inf, and a comparator touching it never swaps).
Each layer is ONE batched sign test of all its pairs and ONE batched product round (the swap
bit times the difference, for every carried operand): m (m + 1) / 2 layers for n <= 2^m, each
msb + 1 product (4 rounds on semi2k FM64 2PC, 5 on FM128); n = 100: 28 layers, 112 rounds.
Several operands are permuted together (jax.lax.sort with num_keys = 1; argsort carries an
iota). With more than one operand the sort is stable like JAX's: the comparison is on
(key, original index), computed as the sign of (k_b - k_a) 2^B + (i_b - i_a), B = ceil(log2 n);
this needs |key| < 2^(k - 3 - B) as a ring integer (FM64, f = 18, n = 128: |key| < 2^36).
top_k on secrets with k well below n uses a selection network instead (`selection_layers`:
sorted blocks of 2^ceil(log2 k) merged pairwise, keeping the smaller half): rows of 100, k = 5:
22 layers, 88 rounds (the full sort: 28 layers, 112 rounds) and about a third fewer comparators.
Public keys are sorted in plaintext (stable) and the permutation is applied locally; keys
private to one party are sorted by their owner when every operand is visible to it.

Tournaments (reduce_max / reduce_min on secrets): groups of 4 compare all 6 pairs in one batch;
the winner's one-hot (product of 3 bits) times the values, summed, in 2 product rounds: 5 rounds
per level for a factor 4 (binary trees: 8). Rows of 100: 19 rounds instead of 28.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from veil.config import Field
from veil.dtypes import DType, Visibility
from veil.errors import UnsupportedOpError
from veil.hal import ring as hr
from veil.hal import ring_bits as hb
from veil.hal.compare import msb_many, mul_many, unify
from veil.hal.layout import common_vis
from veil.hal.shape import iota, reshape, slice_, transpose
from veil.hal.value import Value
from veil.mpc import ring as R
from veil.mpc.context import ProtocolContext

INT = DType.INT
Layer = tuple[np.ndarray, np.ndarray]


@functools.cache
def oddeven_layers(n: int) -> tuple[Layer, ...]:
    """Comparator layers (lower wires, upper wires) of Batcher's odd-even merge sort on n wires."""
    size = 1 << max(0, math.ceil(math.log2(max(n, 1))))
    layers: list[Layer] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            lo, hi = [], []
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * p) == b // (2 * p) and b < n:
                        lo.append(a)
                        hi.append(b)
            if lo:
                pair = (np.array(lo, dtype=np.intp), np.array(hi, dtype=np.intp))
                for arr in pair:
                    arr.setflags(write=False)
                layers.append(pair)
            k //= 2
        p *= 2
    return tuple(layers)


# ---------------------------------------------------------------------------------------------
# layout helpers


def _to_last(ctx: ProtocolContext, x: Value, axis: int) -> Value:
    nd = len(x.shape)
    perm = [d for d in range(nd) if d != axis] + [axis]
    return transpose(ctx, x, perm) if axis != nd - 1 else x


def _from_last(ctx: ProtocolContext, x: Value, axis: int) -> Value:
    nd = len(x.shape)
    if axis == nd - 1:
        return x
    perm = [d for d in range(nd) if d != axis] + [axis]
    return transpose(ctx, x, list(np.argsort(perm)))


def _take(v: Value, idx: np.ndarray) -> Value:
    """v[..., idx] (local)."""
    payload = None if v.payload is None else v.payload[..., idx]
    return hr.make(v, payload, shape=(*v.shape[:-1], len(idx)))


def _ring_order(p: np.ndarray, descending: bool) -> np.ndarray:
    """Stable argsort of ring values (signed) along the last axis."""
    if descending:
        p = R.neg(p)
    if R.field_of(p) is Field.FM64:
        return np.argsort(p.view(np.int64), axis=-1, kind="stable")
    lo, hi = np.ascontiguousarray(p["lo"]), np.ascontiguousarray(p["hi"]).view(np.int64)
    return np.lexsort((lo, hi), axis=-1)


def _permute(v: Value, order: np.ndarray | None) -> Value:
    if v.payload is None or order is None:
        return hr.make(v, None)
    return hr.make(v, np.take_along_axis(v.payload, order, axis=-1))


def _is_iota(v: Value) -> bool:
    """A PUBLIC integer 0, 1, ..., n-1 along the last axis (argsort's second operand)."""
    if not v.is_public or v.dtype is not INT or v.payload is None:
        return False
    return bool(np.all(R.to_int64(v.payload) == np.arange(v.shape[-1])))


# ---------------------------------------------------------------------------------------------
# sort / top-k


def sort(
    ctx: ProtocolContext,
    operands: Sequence[Value],
    dimension: int,
    num_keys: int = 1,
    descending: bool = False,
) -> list[Value]:
    """jax.lax.sort along `dimension` by operands[0], permuting every operand the same way."""
    if num_keys != 1:
        raise UnsupportedOpError(
            "sort", hint=f"num_keys={num_keys}: veil sorts by one key; combine the keys into one first"
        )
    shape = operands[0].shape
    if any(v.shape != shape for v in operands):
        raise ValueError(f"hal.sort: operand shapes differ: {[v.shape for v in operands]}")
    if not shape or shape[dimension % len(shape)] <= 1:
        return list(operands)
    axis = dimension % len(shape)
    vals = [_to_last(ctx, v, axis) for v in operands]
    key = vals[0]
    vis, owner = common_vis(vals)
    if key.is_public or vis is not Visibility.SECRET:
        order = None if key.payload is None else _ring_order(key.payload, descending)
        outs = [_permute(v, order) for v in vals]
        if vis is Visibility.PRIVATE:
            outs = [hr.make(o, o.payload if ctx.rank == owner else None, vis=vis, owner=owner) for o in outs]
    else:
        outs = _sort_secret(ctx, vals, descending)
    return [_from_last(ctx, o, axis) for o in outs]


def _sort_secret(ctx: ProtocolContext, vals: list[Value], descending: bool) -> list[Value]:
    """The odd-even merge network on secret data; stable via an index operand when it matters."""
    n = vals[0].shape[-1]
    tie = next((i for i in range(1, len(vals)) if _is_iota(vals[i])), None)
    hidden = tie is None and len(vals) > 1
    if hidden:
        vals = [*vals, iota(ctx, vals[0].shape, len(vals[0].shape) - 1, INT)]
        tie = len(vals) - 1
    vals = unify(ctx, vals)
    if descending:
        vals[0] = hr._neg(ctx, vals[0])
    outs = _run_layers(ctx, vals, oddeven_layers(n), tie)
    if descending:
        outs[0] = hr._neg(ctx, outs[0])
    return outs[:-1] if hidden else outs


def _run_layers(
    ctx: ProtocolContext, vals: list[Value], layers: Sequence[Layer], tie: int | None
) -> list[Value]:
    """Apply comparator layers (min to the lower wire) to unified secret operands; the key is
    vals[0], ties broken by operand `tie` (an index) when given. One sign-test batch and one
    product round per layer."""
    n = vals[0].shape[-1]
    pays = [np.array(v.payload, copy=True) for v in vals]
    shift = max(1, math.ceil(math.log2(n)))
    for lo, hi in layers:
        cur = [hr.make(v, p) for v, p in zip(vals, pays)]
        a, b = [_take(v, lo) for v in cur], [_take(v, hi) for v in cur]
        diffs = [hr._sub(ctx, bv, av, dtype=av.dtype, fxp_bits=av.fxp_bits) for av, bv in zip(a, b)]
        d = hr.make(diffs[0], diffs[0].payload, dtype=INT, fxp_bits=0)
        if tie is not None:
            d = hr._add(ctx, hr._lshift(ctx, d, shift, fxp_bits=0), diffs[tie], dtype=INT, fxp_bits=0)
        swap = hb._msb(ctx, d)  # [b < a]: the pair is out of order
        moves = mul_many(ctx, [(swap, df) for df in diffs])
        for p, av, bv, t in zip(pays, a, b, moves):
            p[..., lo] = hr._add(ctx, av, t, dtype=av.dtype, fxp_bits=av.fxp_bits).payload
            p[..., hi] = hr._sub(ctx, bv, t, dtype=bv.dtype, fxp_bits=bv.fxp_bits).payload
    return [hr.make(v, p) for v, p in zip(vals, pays)]


@functools.cache
def selection_layers(n: int, k: int) -> tuple[Layer, ...]:
    """Comparator layers leaving the k smallest of n wires sorted on wires 0..k-1.

    Blocks of b = 2^ceil(log2 k) wires are sorted by the odd-even network; then pairs of sorted
    blocks (A, B) merge: A_i vs B_(b-1-i) keeps the b smallest in A as a bitonic sequence, and a
    bitonic merge (log2 b layers) sorts it. Depth m(m+1)/2 + ceil(log2(n/b)) (m + 1), m = log2 b:
    n = 100, k = 5: 22 layers instead of the full sort's 28. Wires >= n are +inf, so comparators
    touching them are dropped.
    """
    b = 1 << max(0, math.ceil(math.log2(max(k, 1))))
    layers: list[tuple[list[int], list[int]]] = []
    starts = list(range(0, n, b))
    for lo, hi in oddeven_layers(b):
        pairs = [(s + i, s + j) for s in starts for i, j in zip(lo, hi) if s + j < n]
        layers.append(([p for p, _ in pairs], [q for _, q in pairs]))
    while len(starts) > 1:
        merged = [(starts[i], starts[i + 1]) for i in range(0, len(starts) - 1, 2)]
        pairs = [(a + i, c + b - 1 - i) for a, c in merged for i in range(b) if c + b - 1 - i < n]
        layers.append(([p for p, _ in pairs], [q for _, q in pairs]))
        stride = b // 2
        while stride >= 1:
            pairs = [(a + i, a + i + stride) for a, _ in merged for i in range(b) if not i & stride]
            layers.append(([p for p, _ in pairs], [q for _, q in pairs]))
            stride //= 2
        starts = starts[::2]
    out = []
    for lo, hi in layers:
        if lo:
            pair = (np.array(lo, dtype=np.intp), np.array(hi, dtype=np.intp))
            for arr in pair:
                arr.setflags(write=False)
            out.append(pair)
    return tuple(out)


def top_k(ctx: ProtocolContext, x: Value, k: int, axis: int = -1) -> tuple[Value, Value]:
    """jax.lax.top_k: the k largest along `axis`, descending, and their indices (lowest first on
    ties). Secret x with k well below n: a selection network (`selection_layers`) on (-x, index);
    otherwise a stable descending sort carrying an iota, then a slice."""
    nd = len(x.shape)
    axis = axis % nd
    n = x.shape[axis]
    if not 0 <= k <= n:
        raise ValueError(f"hal.top_k: k={k} must be in 0..{n}")
    start, limit = [0] * nd, list(x.shape)
    limit[axis] = k
    idx = iota(ctx, x.shape, axis, INT)
    width = 1 << max(0, math.ceil(math.log2(max(k, 1))))
    if x.is_secret and 2 * width < n:
        vals = unify(ctx, [hr._neg(ctx, _to_last(ctx, x, axis)), _to_last(ctx, idx, axis)])
        outs = _run_layers(ctx, vals, selection_layers(n, k), tie=1)
        vals_k, idx_k = (_from_last(ctx, o, axis) for o in outs)
        return hr._neg(ctx, slice_(ctx, vals_k, start, limit)), slice_(ctx, idx_k, start, limit)
    vals, idx = sort(ctx, [x, idx], axis, descending=True)
    return slice_(ctx, vals, start, limit), slice_(ctx, idx, start, limit)


# ---------------------------------------------------------------------------------------------
# tournaments


def tournament(ctx: ProtocolContext, x: Value, axes: int | Sequence[int] | None, take_max: bool) -> Value:
    """Max (or min) over `axes` of a secret Value by radix-4 tournaments (see module doc)."""
    nd = len(x.shape)
    ax = list(range(nd)) if axes is None else [axes] if isinstance(axes, int) else list(axes)
    ax = sorted({int(a) % max(nd, 1) for a in ax})
    rest = [d for d in range(nd) if d not in ax]
    rest_shape = tuple(x.shape[d] for d in rest)
    n = int(np.prod([x.shape[d] for d in ax], dtype=np.int64))
    if n == 0:
        raise ValueError("hal.tournament: empty reduction has no identity in fixed point")
    v = reshape(ctx, transpose(ctx, x, rest + ax), (*rest_shape, n))
    while v.shape[-1] > 1:
        v = _tournament_level(ctx, v, take_max)
    return reshape(ctx, v, rest_shape)


def _tournament_level(ctx: ProtocolContext, v: Value, take_max: bool) -> Value:
    """One level: groups of g = min(4, n) (the last group padded with copies of its first
    element, which never win a tie), winner = sum over members of one-hot * value."""
    n = v.shape[-1]
    g = min(4, n)
    groups = -(-n // g)
    src = np.arange(groups * g)
    src = np.where(src < n, src, (n // g) * g)  # pad: the first member of the partial group
    members = [_take(v, src[i::g]) for i in range(g)]  # member i of every group: (..., groups)
    pairs = [(i, j) for i in range(g) for j in range(i + 1, g)]
    diffs = [
        hr._sub(ctx, members[i], members[j]) if take_max else hr._sub(ctx, members[j], members[i])
        for i, j in pairs
    ]
    beats = dict(zip(pairs, msb_many(ctx, diffs)))  # (i, j): member j beats member i
    one = hr.public(ctx, hr.ring_int(ctx, (), 1), INT)
    factors = []
    for i in range(g):
        bits = [hr._sub(ctx, one, beats[i, j], dtype=INT, fxp_bits=0) for j in range(i + 1, g)]
        bits += [hr.make(beats[j, i], beats[j, i].payload, dtype=INT) for j in range(i)]
        factors.append([*bits, members[i]])
    while len(factors[0]) > 1:
        todo = [(f[2 * t], f[2 * t + 1]) for f in factors for t in range(len(f) // 2)]
        prods = iter(mul_many(ctx, todo))
        factors = [[next(prods) for _ in range(len(f) // 2)] + f[len(f) - len(f) % 2 :] for f in factors]
    total = factors[0][0]
    for f in factors[1:]:
        total = hr._add(ctx, total, f[0], dtype=total.dtype, fxp_bits=total.fxp_bits)
    return total
