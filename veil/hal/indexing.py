"""gather / scatter / scatter_add with PUBLIC indices, following jax.lax semantics exactly.

Index maps are computed in plaintext by JAX itself: `lax.gather` run on an iota of operand
positions (fill value -1) yields, per output element, the flat source position (or -1 where
mode="fill" fills). Scatters use the gather whose dimension numbers mirror the scatter's (the
transpose of scatter_add is gather), giving each update element its flat target position (-1:
dropped). Payloads are then moved with numpy; scatter_add accumulates exactly in the ring.
All of it is local: no messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from veil.dtypes import DType
from veil.errors import UnsupportedOpError
from veil.hal import ring as hr
from veil.hal.compare import unify
from veil.hal.fxp import align, constant
from veil.hal.layout import linear_map
from veil.hal.value import Value
from veil.mpc import ring as R
from veil.mpc.context import ProtocolContext

GATHER_FIELDS = (
    "offset_dims",
    "collapsed_slice_dims",
    "start_index_map",
    "operand_batching_dims",
    "start_indices_batching_dims",
)
SCATTER_FIELDS = (
    "update_window_dims",
    "inserted_window_dims",
    "scatter_dims_to_operand_dims",
    "operand_batching_dims",
    "scatter_indices_batching_dims",
)


def _fields(dn: Any, names: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Dimension numbers given as a jax namedtuple, a dict or a plain tuple, as a dict of int tuples."""
    if isinstance(dn, dict):
        raw = dn
    elif hasattr(dn, "_asdict"):
        raw = dn._asdict()
    else:
        raw = dict(zip(names, dn))
    return {n: tuple(int(d) for d in raw.get(n, ())) for n in names}


def _mode(mode: Any) -> Any:
    from jax import lax

    if isinstance(mode, int) and not isinstance(mode, bool):
        return lax.GatherScatterMode(mode)
    if isinstance(mode, str) and mode.upper() in lax.GatherScatterMode.__members__:
        return lax.GatherScatterMode[mode.upper()]
    return lax.GatherScatterMode.from_any(mode)


def index_array(v: Value, op: str) -> np.ndarray:
    """The int64 plaintext of a PUBLIC index Value (secret indices cannot drive indexing)."""
    if not v.is_public:
        raise UnsupportedOpError(
            op,
            hint="indices are secret: veil gathers/scatters with public indices only; "
            "use a one-hot mask product (jnp.sum(x * (iota == i))) for secret indices",
        )
    ints = R.to_int64(np.asarray(v.payload))
    return ints >> v.fxp_bits if v.dtype is DType.FXP else ints


def _positions(
    shape: Sequence[int],
    idx: np.ndarray,
    gdn: dict[str, tuple[int, ...]],
    slice_sizes: Sequence[int],
    mode: Any,
) -> np.ndarray:
    """Flat operand position of every gathered element (-1 where filled)."""
    import jax.numpy as jnp
    from jax import lax

    n = int(np.prod(shape, dtype=np.int64))
    if n >= 2**31 - 1:
        raise ValueError("hal.gather: operands with >= 2^31 elements are not supported")
    src = np.arange(n, dtype=np.int32).reshape(tuple(shape))
    out = lax.gather(
        jnp.asarray(src),
        jnp.asarray(idx.astype(np.int32)),
        lax.GatherDimensionNumbers(**gdn),
        tuple(int(s) for s in slice_sizes),
        mode=_mode(mode),
        fill_value=-1,
    )
    return np.asarray(out).astype(np.int64)


def gather(
    ctx: ProtocolContext,
    x: Value,
    indices: Value,
    dimension_numbers: Any,
    slice_sizes: Sequence[int],
    mode: Any = None,
    fill_value: float | None = None,
) -> Value:
    """lax.gather with public indices; mode="fill" fills with `fill_value` (None/NaN -> 0)."""
    gdn = _fields(dimension_numbers, GATHER_FIELDS)
    pos = _positions(x.shape, index_array(indices, "gather"), gdn, slice_sizes, mode)
    holes = pos < 0
    safe = np.maximum(pos, 0)

    def take(p: np.ndarray) -> np.ndarray:
        out = np.require(p.reshape(-1)[safe], requirements="C")
        if holes.any():
            out[holes] = np.zeros((), p.dtype)
        return out

    out = hr.make(x, None if x.payload is None else take(x.payload), shape=pos.shape)
    fill = 0.0 if fill_value is None or not np.isfinite(fill_value) else float(fill_value)
    if fill == 0.0 or not holes.any():
        return out
    dt = x.dtype
    fv = constant(
        ctx, np.where(holes, fill, 0.0), pos.shape, dtype=dt, fxp_bits=x.fxp_bits if dt is DType.FXP else None
    )
    return hr._add(ctx, out, fv, dtype=dt, fxp_bits=x.fxp_bits)


def _scatter_positions(
    x: Value, indices: Value, updates: Value, dimension_numbers: Any, mode: Any, op: str
) -> np.ndarray:
    """Flat operand position of every update element (-1: dropped), via the mirrored gather."""
    sdn = _fields(dimension_numbers, SCATTER_FIELDS)
    one = set(sdn["inserted_window_dims"]) | set(sdn["operand_batching_dims"])
    window = iter(updates.shape[d] for d in sdn["update_window_dims"])
    sizes = [1 if i in one else next(window) for i in range(len(x.shape))]
    gdn = dict(zip(GATHER_FIELDS, (sdn[n] for n in SCATTER_FIELDS)))
    pos = _positions(x.shape, index_array(indices, op), gdn, sizes, mode)
    if pos.shape != tuple(updates.shape):
        raise ValueError(f"hal.{op}: updates shape {updates.shape} does not match the scatter ({pos.shape})")
    return pos


def scatter_add(
    ctx: ProtocolContext, x: Value, indices: Value, updates: Value, dimension_numbers: Any, mode: Any = None
) -> Value:
    """lax.scatter_add with public indices: duplicates accumulate exactly mod 2^k."""
    pos = _scatter_positions(x, indices, updates, dimension_numbers, mode, "scatter_add").reshape(-1)
    keep = pos >= 0
    targets, n = pos[keep], x.size

    def accumulate(a: np.ndarray) -> np.ndarray:
        out = np.zeros(n, dtype=np.uint64)
        np.add.at(out, targets, a)
        return out

    x, updates = align(ctx, x, updates)
    p = updates.payload
    acc = (
        None
        if p is None
        else linear_map(np.ascontiguousarray(p.reshape(-1)[keep]), accumulate).reshape(x.shape)
    )
    return hr._add(ctx, x, hr.make(updates, acc, shape=x.shape), dtype=x.dtype, fxp_bits=x.fxp_bits)


def scatter(
    ctx: ProtocolContext, x: Value, indices: Value, updates: Value, dimension_numbers: Any, mode: Any = None
) -> Value:
    """lax.scatter (replace) with public indices; with duplicate targets the last update wins."""
    pos = _scatter_positions(x, indices, updates, dimension_numbers, mode, "scatter").reshape(-1)
    keep = pos >= 0
    x, updates = align(ctx, x, updates)
    x, updates = unify(ctx, [x, updates])
    if x.payload is None or updates.payload is None:
        return hr.make(x, None)
    out = np.array(x.payload, copy=True).reshape(-1)
    out[pos[keep]] = updates.payload.reshape(-1)[keep]
    return hr.make(x, out.reshape(x.shape))
