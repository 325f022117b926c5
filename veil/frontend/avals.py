"""JAX abstract values -> IR element kinds and plaintext constants (shared by translate and rules)."""

from __future__ import annotations

from typing import Any

import numpy as np

from veil.dtypes import DType
from veil.errors import UnsupportedOpError


def dtype_of(np_dtype: Any, where: str = "") -> DType:
    """JAX element type -> IR element kind: floats -> FXP, (u)ints -> INT, bool -> BOOL."""
    dt = np.dtype(np_dtype)
    if dt == np.bool_:
        return DType.BOOL
    if np.issubdtype(dt, np.integer):
        return DType.INT
    if np.issubdtype(dt, np.floating):
        return DType.FXP
    raise UnsupportedOpError(
        f"dtype {dt}", where, "only float, int and bool arrays can be computed on secretly"
    )


def plain_value(x: Any, dtype: DType) -> np.ndarray:
    """A constant as the plaintext array the IR expects: float64, int64 or bool."""
    target = {DType.FXP: np.float64, DType.INT: np.int64, DType.BOOL: np.bool_}[dtype]
    return np.array(np.asarray(x), dtype=target)


def out_shape(eqn: Any, i: int = 0) -> tuple[int, ...]:
    """Shape of the equation's i-th output."""
    return tuple(int(d) for d in eqn.outvars[i].aval.shape)


def out_dtype(eqn: Any, i: int = 0) -> DType:
    """IR element kind of the equation's i-th output."""
    return dtype_of(eqn.outvars[i].aval.dtype, eqn.primitive.name)


def ints(xs: Any) -> tuple[int, ...]:
    """A tuple of plain Python ints (params often hold numpy integers)."""
    return tuple(int(x) for x in xs)
