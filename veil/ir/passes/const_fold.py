"""Constant folding: ops whose inputs are all public constants become constants.

Only a safe set is folded (elementwise arithmetic/compare/logic, selects, conversions and shape
ops), evaluated in float64/int64/bool numpy with JAX's semantics (float -> int conversion and
integer division truncate toward zero). Results that are not finite, or larger than 1e6
elements, are left to the VM; a fold may not blow a small constant up to more than 1024
elements (a broadcast of a scalar is cheaper to ship than its result).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from veil.config import RuntimeConfig
from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import DType, TensorType, Visibility

__all__ = ["run", "MAX_ELEMENTS", "MAX_GROWTH"]

MAX_ELEMENTS = 1_000_000
MAX_GROWTH = 1024
_NP_DTYPE = {DType.FXP: np.float64, DType.INT: np.int64, DType.BOOL: np.bool_}

_Args = list[np.ndarray]
_Attrs = dict[str, Any]
_Folder = Callable[[_Args, _Attrs], np.ndarray]


def run(program: Program, config: RuntimeConfig | None = None) -> Program:
    """Fold constants in place, in every region."""
    _fold_region(program.body)
    return program


def _fold_region(region: Region) -> None:
    known: dict[int, np.ndarray] = {}
    mapping: dict[int, Value] = {}  # outputs of selects with a constant choice -> the chosen case
    for op in region.ops:
        op.inputs = [mapping.get(v.id, v) for v in op.inputs]
        for r in op.regions:
            _fold_region(r)
        if op.opcode == "const":
            known[op.outputs[0].id] = np.asarray(op.attrs["value"])
            continue
        value = _try_fold(op, known)
        if value is not None:
            out = op.outputs[0]
            op.opcode, op.inputs, op.attrs, op.regions = "const", [], {"value": value}, []
            out.type = out.type.with_vis(Visibility.PUBLIC)
            known[out.id] = value
        elif op.opcode == "select_n":
            chosen = _constant_choice(op, known)
            if chosen is not None:
                mapping[op.outputs[0].id] = chosen  # the select is now dead; DCE drops it
    region.results = [mapping.get(v.id, v) for v in region.results]


def _constant_choice(op: Op, known: dict[int, np.ndarray]) -> Value | None:
    """The case a select_n always picks when its selector is a constant with one value.

    This also removes untaken NaN/inf defaults (e.g. of `jnp.var`) that fixed point cannot encode.
    """
    which = known.get(op.inputs[0].id)
    cases = op.inputs[1:]
    if which is None or which.size == 0 or not np.all(which == which.flat[0]):
        return None
    k = int(which.flat[0])
    if not 0 <= k < len(cases) or cases[k].type.shape != op.outputs[0].type.shape:
        return None
    return cases[k]


def _try_fold(op: Op, known: dict[int, np.ndarray]) -> np.ndarray | None:
    fn = _FOLDERS.get(op.opcode)
    if fn is None or op.regions or len(op.outputs) != 1:
        return None
    args = [known.get(v.id) for v in op.inputs]
    if any(a is None for a in args):
        return None
    out = op.outputs[0].type
    in_size = sum(a.size for a in args if a is not None)
    if out.size > MAX_ELEMENTS or (out.size > MAX_GROWTH and out.size > in_size):
        return None
    if op.opcode in _FLOAT_ONLY and out.dtype is not DType.FXP:
        return None
    try:
        with np.errstate(all="ignore"):
            value = fn([a for a in args if a is not None], op.attrs)
    except (ValueError, TypeError, IndexError, ZeroDivisionError, OverflowError):
        return None
    return _canonical(np.asarray(value), out)


def _canonical(value: np.ndarray, out: TensorType) -> np.ndarray | None:
    """`value` in the plaintext dtype of `out` (float64/int64/bool), or None if not foldable."""
    if value.shape != out.shape or value.dtype.kind not in "biuf":
        return None
    if value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        return None
    if out.dtype is DType.INT and value.dtype.kind == "f":
        return None  # an int result computed in floats: leave it to the VM
    return np.array(value, dtype=_NP_DTYPE[out.dtype], order="C")


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return np.divide(a, b)
    if np.any(b == 0):
        raise ZeroDivisionError("integer division by zero is left to the VM")
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


def _rem(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype.kind != "f" and np.any(b == 0):
        raise ZeroDivisionError("integer remainder by zero is left to the VM")
    return np.fmod(a, b)


def _broadcast(x: np.ndarray, attrs: _Attrs) -> np.ndarray:
    shape = tuple(attrs["shape"])
    expanded = [1] * len(shape)
    for i, d in enumerate(attrs["broadcast_dimensions"]):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape).copy()


def _convert(x: np.ndarray, attrs: _Attrs) -> np.ndarray:
    target = attrs["dtype"]
    if target is DType.INT and x.dtype.kind == "f":
        return np.trunc(x).astype(np.int64)
    return x.astype(_NP_DTYPE[target])


def _slice(x: np.ndarray, attrs: _Attrs) -> np.ndarray:
    strides = attrs["strides"] or (1,) * x.ndim
    index = zip(attrs["start_indices"], attrs["limit_indices"], strides, strict=True)
    return x[tuple(slice(a, b, s) for a, b, s in index)]


def _iota(attrs: _Attrs) -> np.ndarray:
    shape = tuple(attrs["shape"])
    d = attrs["dimension"]
    line = np.arange(shape[d]).reshape([-1 if i == d else 1 for i in range(len(shape))])
    return np.broadcast_to(line, shape).copy()


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> _Folder:
    return lambda args, attrs: fn(args[0])


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> _Folder:
    return lambda args, attrs: fn(args[0], args[1])


def _reduce(fn: Callable[..., np.ndarray]) -> _Folder:
    return lambda args, attrs: fn(args[0], axis=tuple(attrs["axes"]))


_FLOAT_ONLY = frozenset(
    {"exp", "log", "log1p", "expm1", "tanh", "logistic", "sqrt", "rsqrt", "reciprocal", "sin", "cos", "pow"}
)
_FOLDERS: dict[str, _Folder] = {
    "neg": _unary(np.negative),
    "abs": _unary(np.abs),
    "sign": _unary(np.sign),
    "floor": _unary(np.floor),
    "ceil": _unary(np.ceil),
    "exp": _unary(np.exp),
    "log": _unary(np.log),
    "log1p": _unary(np.log1p),
    "expm1": _unary(np.expm1),
    "tanh": _unary(np.tanh),
    "logistic": _unary(lambda x: 1.0 / (1.0 + np.exp(-x))),
    "sqrt": _unary(np.sqrt),
    "rsqrt": _unary(lambda x: 1.0 / np.sqrt(x)),
    "reciprocal": _unary(lambda x: 1.0 / x),
    "sin": _unary(np.sin),
    "cos": _unary(np.cos),
    "square": _unary(np.square),
    "not": _unary(np.invert),
    "is_finite": _unary(np.isfinite),
    "copy": _unary(np.copy),
    "integer_pow": lambda args, attrs: np.power(args[0], attrs["y"]),
    "add": _binary(np.add),
    "sub": _binary(np.subtract),
    "mul": _binary(np.multiply),
    "div": _binary(_int_div),
    "rem": _binary(_rem),
    "pow": _binary(np.power),
    "max": _binary(np.maximum),
    "min": _binary(np.minimum),
    "and": _binary(np.bitwise_and),
    "or": _binary(np.bitwise_or),
    "xor": _binary(np.bitwise_xor),
    "eq": _binary(np.equal),
    "ne": _binary(np.not_equal),
    "lt": _binary(np.less),
    "le": _binary(np.less_equal),
    "gt": _binary(np.greater),
    "ge": _binary(np.greater_equal),
    "select_n": lambda args, attrs: np.choose(args[0].astype(np.int64), args[1:]),
    "clamp": lambda args, attrs: np.minimum(np.maximum(args[1], args[0]), args[2]),
    "convert": lambda args, attrs: _convert(args[0], attrs),
    "reshape": lambda args, attrs: np.reshape(args[0], tuple(attrs["new_sizes"])),
    "broadcast_in_dim": lambda args, attrs: _broadcast(args[0], attrs),
    "transpose": lambda args, attrs: np.transpose(args[0], tuple(attrs["permutation"])),
    "squeeze": lambda args, attrs: np.squeeze(args[0], axis=tuple(attrs["dimensions"])),
    "rev": lambda args, attrs: np.flip(args[0], axis=tuple(attrs["dimensions"])),
    "slice": lambda args, attrs: _slice(args[0], attrs),
    "concatenate": lambda args, attrs: np.concatenate(args, axis=attrs["dimension"]),
    "reduce_sum": _reduce(np.sum),
    "reduce_max": _reduce(np.max),
    "reduce_min": _reduce(np.min),
    "iota": lambda args, attrs: _iota(attrs),
}
