"""Payload plumbing shared by HAL modules: flat batching and exact linear maps on any payload.

Payloads follow the invariant in `veil.hal.value`: ring arrays (uint64 or U128 = (lo, hi)) or
structured share pairs (s0, s1) of those. `linear_map` applies a linear uint64 map (cumsum,
scatter-add, ...) exactly to every ring component of such a payload.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from veil.dtypes import Visibility
from veil.hal.value import Value
from veil.mpc import ring as R

_M32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


def _pack128(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    out = np.empty(np.shape(lo), R.U128)
    out["lo"] = lo
    out["hi"] = hi
    return out


def linear_map(p: np.ndarray, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply `fn` exactly mod 2^k to each ring component of payload `p`.

    `fn` must be linear with non-negative integer coefficients summing fewer than 2^32 terms per
    output (sums, cumulative sums, scatter-adds, gathers): FM128 limbs are split into 32-bit
    halves so that uint64 accumulation is exact, then recombined with carries.
    """
    dt = p.dtype
    if dt == R.U64:
        with np.errstate(over="ignore"):
            return np.asarray(fn(p), dtype=np.uint64)
    if dt == R.U128:
        lo, hi = np.asarray(p["lo"]), np.asarray(p["hi"])
        with np.errstate(over="ignore"):
            a = np.asarray(fn(lo & _M32), dtype=np.uint64)
            b = np.asarray(fn(lo >> _S32), dtype=np.uint64)
            h = np.asarray(fn(hi), dtype=np.uint64)
        return R.add(_pack128(a, h), _pack128(b << _S32, b >> _S32))
    if dt.names:
        parts = {n: linear_map(np.require(p[n], requirements="C"), fn) for n in dt.names}
        first = next(iter(parts.values()))
        out = np.empty(first.shape, dt)
        for n, part in parts.items():
            out[n] = part
        return out
    raise TypeError(f"hal.linear_map: payload dtype {dt} is not a ring or share dtype")


def concat_flat(values: Sequence[Value]) -> Value:
    """Flatten and concatenate Values of one visibility into a 1-D Value (for batched kernels)."""
    first = values[0]
    n = sum(v.size for v in values)
    if any(v.payload is None for v in values):
        payload = None
    else:
        payload = np.concatenate([np.asarray(v.payload).reshape(-1) for v in values])
    return Value((n,), first.dtype, first.vis, first.fxp_bits, payload, first.owner)


def split_flat(v: Value, likes: Sequence[Value]) -> list[Value]:
    """Undo `concat_flat`: pieces shaped like `likes` (dtype/fxp_bits taken from `v`)."""
    out, start = [], 0
    for like in likes:
        n = like.size
        piece = None if v.payload is None else v.payload[start : start + n].reshape(like.shape)
        out.append(Value(tuple(like.shape), v.dtype, v.vis, v.fxp_bits, piece, v.owner))
        start += n
    return out


def common_vis(values: Sequence[Value]) -> tuple[Visibility, int | None]:
    """Join of visibilities: PUBLIC < PRIVATE(one owner) < SECRET."""
    owners = {v.owner for v in values if v.vis is Visibility.PRIVATE}
    if any(v.is_secret for v in values) or len(owners) > 1:
        return Visibility.SECRET, None
    if owners:
        return Visibility.PRIVATE, owners.pop()
    return Visibility.PUBLIC, None
