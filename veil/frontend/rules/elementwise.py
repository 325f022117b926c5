"""Elementwise rules: arithmetic, nonlinear functions, comparisons, logic, select, clamp, convert.

Operands are broadcast explicitly to the output shape (jaxprs leave scalar operands and
size-1 dimensions implicit). A few identities that fixed point cannot express as JAX does
are folded here: comparisons with +-inf, `x != x` (NaN tests), `max(x, -inf)`, `min(x, inf)`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from veil.dtypes import DType
from veil.frontend.avals import dtype_of, out_dtype, out_shape
from veil.frontend.rules.common import Rule
from veil.ir.program import Value

if TYPE_CHECKING:
    from veil.frontend.translate import Lowering

_UNARY = (
    "neg", "abs", "sign", "exp", "log", "log1p", "expm1", "tanh", "logistic", "sqrt", "rsqrt",
    "erf", "sin", "cos", "floor", "ceil", "round", "not", "square", "is_finite",
)  # fmt: skip
_BINARY = {
    "add": "add", "add_any": "add", "sub": "sub", "mul": "mul", "div": "div", "max": "max",
    "min": "min", "pow": "pow", "and": "and", "or": "or", "xor": "xor", "rem": "rem",
}  # fmt: skip
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt,
    "le": operator.le, "gt": operator.gt, "ge": operator.ge,
}  # fmt: skip


def _elementwise(opcode: str) -> Rule:
    def rule(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
        shape = out_shape(eqn)
        args = [ctx.broadcast_to(v, shape) for v in ins]
        return [ctx.emit1(opcode, args, shape, out_dtype(eqn))]

    return rule


def _infinite(ctx: Lowering, v: Value) -> float | None:
    """+inf / -inf if `v` is a known constant whose every element is that infinity."""
    k = ctx.known.get(v.id)
    if k is None or k.dtype != np.float64 or k.size == 0:
        return None
    first = float(k.flat[0])
    return first if math.isinf(first) and bool(np.all(k == first)) else None


def _compare(name: str) -> Rule:
    fn = _COMPARE[name]
    generic = _elementwise(name)

    def rule(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
        a, b = ins
        shape = out_shape(eqn)
        if a is b:  # x op x: fixed point has no NaN
            return [ctx.full(bool(fn(0, 0)), shape, DType.BOOL)]
        inf_a, inf_b = _infinite(ctx, a), _infinite(ctx, b)
        if inf_b is not None and a.type.dtype is DType.FXP and inf_a is None:
            return [ctx.full(bool(fn(0.0, inf_b)), shape, DType.BOOL)]
        if inf_a is not None and b.type.dtype is DType.FXP and inf_b is None:
            return [ctx.full(bool(fn(inf_a, 0.0)), shape, DType.BOOL)]
        return generic(ctx, eqn, ins)

    return rule


def _extremum(name: str, neutral: float) -> Rule:
    """max(x, -inf) = x and min(x, +inf) = x: drop infinities fixed point cannot encode."""
    generic = _elementwise(name)

    def rule(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
        a, b = ins
        if _infinite(ctx, b) == neutral:
            return [ctx.broadcast_to(a, out_shape(eqn))]
        if _infinite(ctx, a) == neutral:
            return [ctx.broadcast_to(b, out_shape(eqn))]
        return generic(ctx, eqn, ins)

    return rule


def _broadcast_source(
    ctx: Lowering, d: Value, shape: tuple[int, ...]
) -> tuple[Value, tuple[int, ...]] | None:
    """(source, broadcast_dimensions) if `d` is a smaller value broadcast to `shape`: an implicit
    (numpy-style) broadcast, or the output of a broadcast_in_dim op of the current region."""
    if d.type.shape != shape:
        r = d.type.ndim
        return d, tuple(range(len(shape) - r, len(shape)))
    for op in reversed(ctx.builder.current.ops[-64:]):  # producers are usually recent
        if any(o.id == d.id for o in op.outputs):
            if op.opcode == "broadcast_in_dim":
                return op.inputs[0], tuple(int(a) for a in op.attrs["broadcast_dimensions"])
            return None
    return None


def _div(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """x / d. A fixed-point divisor broadcast from a smaller value (softmax's row sums, a norm)
    becomes `div_bcast`: the divisor is normalised and inverted once per source element, not
    once per element of the result."""
    shape, dt = out_shape(eqn), out_dtype(eqn)
    found = _broadcast_source(ctx, ins[1], tuple(shape)) if dt is DType.FXP else None
    if found is not None and found[0].type.size < int(np.prod(shape, dtype=np.int64)):
        src, dims = found
        x = ctx.broadcast_to(ins[0], shape)
        return [ctx.emit1("div_bcast", [x, src], shape, dt, shape=tuple(shape), broadcast_dimensions=dims)]
    return _elementwise("div")(ctx, eqn, ins)


def _power(ctx: Lowering, x: Value, y: int, dt: DType) -> Value:
    """x ** y for an integer y: square / integer_pow / reciprocal."""
    shape = x.type.shape
    if y == 0:
        return ctx.full(1, shape, dt)
    if y == 1:
        return x
    if y == 2:
        return ctx.emit1("square", [x], shape, dt)
    if y > 0:
        return ctx.emit1("integer_pow", [x], shape, dt, y=y)
    return ctx.emit1("reciprocal", [_power(ctx, x, -y, dt)], shape, dt)


def _integer_pow(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    return [_power(ctx, ins[0], int(eqn.params["y"]), out_dtype(eqn))]


def _pow(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """x ** y; a known scalar exponent becomes square/integer_pow/sqrt/rsqrt/reciprocal."""
    shape, dt = out_shape(eqn), out_dtype(eqn)
    x, y = ins
    k = ctx.known.get(y.id)
    if k is not None and k.size > 0 and bool(np.all(k == k.flat[0])) and x.type.shape == shape:
        e = float(k.flat[0])
        if e.is_integer() and abs(e) <= 64:
            return [_power(ctx, x, int(e), dt)]
        if e in (0.5, -0.5):
            return [ctx.emit1("sqrt" if e > 0 else "rsqrt", [x], shape, dt)]
    return _elementwise("pow")(ctx, eqn, ins)


def _exp2(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """2**x = exp(x * ln 2)."""
    shape, dt = out_shape(eqn), out_dtype(eqn)
    scaled = ctx.emit1("mul", [ins[0], ctx.full(math.log(2.0), shape, dt)], shape, dt)
    return [ctx.emit1("exp", [scaled], shape, dt)]


def _erfc(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """erfc(x) = 1 - erf(x)."""
    shape, dt = out_shape(eqn), out_dtype(eqn)
    e = ctx.emit1("erf", [ins[0]], shape, dt)
    return [ctx.emit1("sub", [ctx.full(1.0, shape, dt), e], shape, dt)]


def _tan(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """tan(x) = sin(x) / cos(x)."""
    shape, dt = out_shape(eqn), out_dtype(eqn)
    s = ctx.emit1("sin", ins, shape, dt)
    c = ctx.emit1("cos", ins, shape, dt)
    return [ctx.emit1("div", [s, c], shape, dt)]


def _select_n(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """select_n(which, *cases); a known scalar `which` picks its case at compile time."""
    shape, dt = out_shape(eqn), out_dtype(eqn)
    which, cases = ins[0], ins[1:]
    k = ctx.known.get(which.id)
    if k is not None and k.size > 0 and bool(np.all(k == k.flat[0])):
        return [ctx.broadcast_to(cases[int(k.flat[0])], shape)]
    if len(cases) == 1:
        return [ctx.broadcast_to(cases[0], shape)]
    args = [ctx.broadcast_to(v, shape) for v in ins]
    return [ctx.emit1("select_n", args, shape, dt)]


def _clamp(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    shape = out_shape(eqn)
    args = [ctx.broadcast_to(v, shape) for v in ins]
    return [ctx.emit1("clamp", args, shape, out_dtype(eqn))]


def _convert(ctx: Lowering, eqn: Any, ins: list[Value]) -> list[Value]:
    """convert_element_type: a `convert` op only when the IR element kind changes."""
    target = dtype_of(eqn.params["new_dtype"], ctx.where())
    x = ins[0]
    if x.type.dtype is target:
        return [x]
    k = ctx.known.get(x.id)
    if k is not None and k.ndim == 0:
        return [ctx.const(_convert_plain(k, target), target)]
    return [ctx.emit1("convert", [x], x.type.shape, target, dtype=target)]


def _convert_plain(k: np.ndarray, target: DType) -> np.ndarray:
    """Constant-fold a conversion with JAX's semantics (float -> int truncates toward zero)."""
    if target is DType.INT:
        return np.trunc(k).astype(np.int64) if k.dtype == np.float64 else k.astype(np.int64)
    return k.astype({DType.FXP: np.float64, DType.BOOL: np.bool_}[target])


RULES: dict[str, Rule] = {
    **{n: _elementwise(n) for n in _UNARY},
    **{n: _elementwise(op) for n, op in _BINARY.items()},
    **{n: _compare(n) for n in _COMPARE},
    "div": _div,
    "max": _extremum("max", -math.inf),
    "min": _extremum("min", math.inf),
    "integer_pow": _integer_pow,
    "pow": _pow,
    "exp2": _exp2,
    "erfc": _erfc,
    "tan": _tan,
    "select_n": _select_n,
    "clamp": _clamp,
    "convert_element_type": _convert,
}
