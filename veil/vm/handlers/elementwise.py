"""Handlers of elementwise, comparison, conversion and constant ops (thin calls into HAL).

Nonlinear functions use `veil.hal.approx` (imported lazily). PUBLIC inputs are evaluated in
float64 plaintext and re-encoded, and a PRIVATE input is evaluated by its owner the same way:
no messages, and exact up to the encoding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from veil.dtypes import DType
from veil.hal import compare as C
from veil.hal import fxp as F
from veil.hal import integer as I
from veil.hal import logic as L
from veil.hal import polymorphic as P
from veil.hal import ring as hr
from veil.hal import ring_bits as hb
from veil.hal.layout import concat_flat, split_flat
from veil.hal.polynomial import powers
from veil.hal.value import Value
from veil.ir.program import Op

FXP, INT, BOOL = DType.FXP, DType.INT, DType.BOOL
Handler = Callable[[Any, Op, list[Value]], list[Value]]


def _erf(x: np.ndarray) -> np.ndarray:
    """erf in float64 (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7, below the fxp resolution)."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


# opcode -> (approx function name, float64 plaintext function)
_NONLINEAR: dict[str, tuple[str, Callable[..., np.ndarray]]] = {
    "exp": ("f_exp", np.exp),
    "log": ("f_log", np.log),
    "log1p": ("f_log1p", np.log1p),
    "expm1": ("f_expm1", np.expm1),
    "reciprocal": ("f_reciprocal", np.reciprocal),
    "sqrt": ("f_sqrt", np.sqrt),
    "rsqrt": ("f_rsqrt", lambda x: 1.0 / np.sqrt(x)),
    "logistic": ("f_sigmoid", lambda x: 0.5 * (1.0 + np.tanh(0.5 * x))),
    "tanh": ("f_tanh", np.tanh),
    "erf": ("f_erf", _erf),
    "sin": ("f_sin", np.sin),
    "cos": ("f_cos", np.cos),
    "pow": ("f_pow", np.power),
}


def _plain_eval(m: Any, fn: Callable[..., np.ndarray], args: list[Value]) -> Value | None:
    """Evaluate in float64 if every input is PUBLIC, or PRIVATE to one owner; else None."""
    owners = {a.owner for a in args if not a.is_public}
    if any(a.is_secret for a in args) or len(owners) > 1:
        return None
    shape = tuple(np.broadcast_shapes(*(a.shape for a in args)))
    if owners:
        owner = owners.pop()
        if m.ctx.rank != owner:
            return Value(shape, FXP, hr.PRIVATE, m.ctx.config.f, None, owner)
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*(F.decode_public(a) for a in args)), dtype=np.float64)
    limit = 2.0 ** (m.ctx.k - 2 - m.ctx.config.f)  # inf saturates, nan becomes 0: fxp has neither
    out = np.clip(np.nan_to_num(out, nan=0.0, posinf=limit, neginf=-limit), -limit, limit)
    res = F.constant(m.ctx, out, shape)
    if owners:
        return hr.make(res, res.payload, vis=hr.PRIVATE, owner=owner)
    return res


def _nonlinear(opcode: str) -> Handler:
    name, plain = _NONLINEAR[opcode]

    def run(m: Any, op: Op, args: list[Value]) -> list[Value]:
        if opcode == "pow" and args[1].is_public and _integral(args[1]):
            return [_int_pow(m, args[0], int(F.decode_public(args[1]).reshape(-1)[0]))]
        local = _plain_eval(m, plain, args)
        if local is not None:
            return [local]
        from veil.hal import approx  # lazy: written in parallel on top of the HAL core

        xs = [F.to_fxp(m.ctx, a) if a.dtype is not FXP else a for a in args]
        if op.attrs.get("nonneg"):  # the sign pass proved the divisor >= 0
            return [getattr(approx, name)(m.ctx, *xs, nonneg=True)]
        return [getattr(approx, name)(m.ctx, *xs)]

    return run


def _integral(y: Value) -> bool:
    v = F.decode_public(y)
    return v.size > 0 and bool(np.all(v == v.reshape(-1)[0])) and float(v.reshape(-1)[0]).is_integer()


def _int_pow(m: Any, x: Value, n: int) -> Value:
    """x^n for a public integer n: log-depth powers; negative n via the reciprocal."""
    if n == 0:
        return F.constant(m.ctx, 1.0, x.shape, dtype=x.dtype if x.dtype is not BOOL else INT)
    if x.dtype is not FXP:
        out = x
        for _ in range(abs(n) - 1):
            out = hr._mul(m.ctx, out, x, dtype=x.dtype, fxp_bits=0)
        return out
    out = x if abs(n) == 1 else powers(m.ctx, x, abs(n))[abs(n)]
    if n > 0:
        return out
    from veil.hal import approx

    return approx.f_reciprocal(m.ctx, out)


def _integer_pow(m: Any, op: Op, args: list[Value]) -> list[Value]:
    return [_int_pow(m, args[0], int(op.attrs["y"]))]


def _mul(m: Any, op: Op, args: list[Value]) -> list[Value]:
    return [P.mul(m.ctx, args[0], args[1], op.attrs.get("trunc_bits"))]


def _square(m: Any, op: Op, args: list[Value]) -> list[Value]:
    bits = op.attrs.get("trunc_bits")
    if bits is None:
        return [F.f_square(m.ctx, args[0])]
    return [hr._trunc(m.ctx, hr._square(m.ctx, args[0]), int(bits))]


def _round(m: Any, op: Op, args: list[Value]) -> list[Value]:
    method = op.attrs.get("rounding_method", 1)
    away = str(method).upper().endswith("AWAY_FROM_ZERO") or method == 0
    return [F.f_round(m.ctx, args[0], to_even=not away)]


def _div_bcast(m: Any, op: Op, args: list[Value]) -> list[Value]:
    """x / broadcast_in_dim(d): a secret d is normalised and inverted at its own (smaller) size."""
    from veil.hal.shape import broadcast_in_dim

    x, d = args
    shape, dims = op.attrs["shape"], op.attrs["broadcast_dimensions"]
    if d.is_secret and (x.dtype is FXP or d.dtype is FXP):
        from veil.hal.approx.bdiv import f_div_bcast

        return [f_div_bcast(m.ctx, x, d, shape, dims, bool(op.attrs.get("nonneg")))]
    return [P.div(m.ctx, x, broadcast_in_dim(m.ctx, d, shape, dims), bool(op.attrs.get("nonneg")))]


def _rem(m: Any, op: Op, args: list[Value]) -> list[Value]:
    x, y = args
    if x.dtype is not FXP and y.dtype is not FXP:
        return [I.i_rem(m.ctx, x, y)]
    q = F.f_trunc(m.ctx, P.div(m.ctx, x, y))  # lax.rem: x - y * trunc(x / y)
    return [F.f_sub(m.ctx, x, F.f_mul(m.ctx, y, q))]


def _select_n(m: Any, op: Op, args: list[Value]) -> list[Value]:
    """select_n(which, *cases) = cases[which]; bool which picks cases[1] when true."""
    which, cases = args[0], args[1:]
    if len(cases) == 1:
        return [cases[0]]
    if len(cases) == 2 and op.attrs.get("trunc_bits"):  # see veil/ir/passes/defer_trunc.py
        return [C.select_trunc(m.ctx, which, cases[1], cases[0], int(op.attrs["trunc_bits"]))]
    if len(cases) == 2:
        return [C.select(m.ctx, which, cases[1], cases[0])]
    diffs = [hr._sub(m.ctx, which, F.constant(m.ctx, i, (), INT)) for i in range(1, len(cases))]
    hits = split_flat(hb._eqz(m.ctx, concat_flat(diffs)), diffs)  # one batched EQZ
    out = cases[0]
    for hit, case in zip(hits, cases[1:]):
        out = C.select(m.ctx, hit, case, out)
    return [out]


def _convert(m: Any, op: Op, args: list[Value]) -> list[Value]:
    dt = op.attrs.get("dtype", op.outputs[0].type.dtype)
    return [P.convert(m.ctx, args[0], dt if isinstance(dt, DType) else DType(dt))]


_CONST_SCRATCH = "vm.const"  # ctx.scratch key: op -> its encoded Value, for this party and run
_CONST_CACHE_MAX = 4096


def _const(m: Any, op: Op, args: list[Value]) -> list[Value]:
    """The op's constant, encoded once per run: a const inside a loop body runs every
    iteration (~75 us to encode). The cached payload is read-only, so nothing can mutate the
    shared array (Values themselves are never mutated: every HAL op builds a new one)."""
    cache: dict[Op, Value] = m.ctx.scratch.setdefault(_CONST_SCRATCH, {})
    out = cache.get(op)
    if out is None:
        t = op.outputs[0].type
        out = F.constant(m.ctx, np.asarray(op.attrs["value"]), tuple(t.shape), dtype=t.dtype)
        if out.payload is not None:
            out.payload.flags.writeable = False
        if len(cache) >= _CONST_CACHE_MAX:  # a context reused across many programs stays bounded
            cache.clear()
        cache[op] = out
    return [out]


def _iota(m: Any, op: Op, args: list[Value]) -> list[Value]:
    from veil.hal.shape import iota

    t = op.outputs[0].type
    return [iota(m.ctx, op.attrs.get("shape", t.shape), int(op.attrs["dimension"]), t.dtype)]


def _is_finite(m: Any, op: Op, args: list[Value]) -> list[Value]:
    return [F.constant(m.ctx, 1, args[0].shape, dtype=BOOL)]  # fixed point has no inf/nan


def _trunc(m: Any, op: Op, args: list[Value]) -> list[Value]:
    return [hr._trunc(m.ctx, args[0], int(op.attrs["bits"]))]


def _one(fn: Callable[..., Value]) -> Handler:
    return lambda m, op, args: [fn(m.ctx, *args)]


HANDLERS: dict[str, Handler] = {
    **{name: _nonlinear(name) for name in _NONLINEAR},
    "neg": _one(P.neg),
    "abs": _one(C.abs_),
    "sign": _one(C.sign),
    "floor": _one(F.f_floor),
    "ceil": _one(F.f_ceil),
    "round": _round,
    "not": _one(L.logical_not),
    "square": _square,
    "is_finite": _is_finite,
    "copy": lambda m, op, args: [args[0]],
    "integer_pow": _integer_pow,
    "add": _one(P.add),
    "sub": _one(P.sub),
    "mul": _mul,
    "div": lambda m, op, args: [P.div(m.ctx, *args, bool(op.attrs.get("nonneg")))],
    "div_bcast": _div_bcast,
    "max": _one(C.maximum),
    "min": _one(C.minimum),
    "and": _one(L.logical_and),
    "or": _one(L.logical_or),
    "xor": _one(L.logical_xor),
    "rem": _rem,
    "eq": _one(C.equal),
    "ne": _one(C.not_equal),
    "lt": _one(C.less),
    "le": _one(C.less_equal),
    "gt": _one(C.greater),
    "ge": _one(C.greater_equal),
    "select_n": _select_n,
    "clamp": lambda m, op, args: [C.clamp(m.ctx, args[1], args[0], args[2])],
    "convert": _convert,
    "trunc": _trunc,
    "const": _const,
    "iota": _iota,
}
