"""A plaintext reference evaluator of veil IR for frontend tests (float32 numpy; lax for gather/scatter).

It follows the attribute conventions the frontend emits, so running a translated program and
comparing with the original JAX function checks the translation end to end. It also checks
that every produced value has the shape and element kind its IR type declares.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.scipy.special as jsp
import numpy as np
from jax import lax

from veil.dtypes import DType
from veil.ir.program import Op, Program, Region, Value

_NP = {DType.FXP: np.float32, DType.INT: np.int32, DType.BOOL: np.bool_}


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Integer division truncating toward zero (lax.div)."""
    q = np.abs(a) // np.maximum(np.abs(b), 1)
    return (q * np.sign(a) * np.sign(b)).astype(a.dtype)


def _erf(x: np.ndarray) -> np.ndarray:
    return np.asarray(jsp.erf(x))


_UNARY = {
    "neg": np.negative, "abs": np.abs, "sign": np.sign, "exp": np.exp, "log": np.log,
    "log1p": np.log1p, "expm1": np.expm1, "tanh": np.tanh, "logistic": lambda x: 1 / (1 + np.exp(-x)),
    "sqrt": np.sqrt, "rsqrt": lambda x: 1 / np.sqrt(x), "reciprocal": lambda x: 1 / x, "erf": _erf,
    "sin": np.sin, "cos": np.cos, "floor": np.floor, "ceil": np.ceil, "round": np.round,
    "square": np.square, "is_finite": np.isfinite, "copy": lambda x: x,
    "not": lambda x: np.logical_not(x) if x.dtype == np.bool_ else np.invert(x),
}  # fmt: skip
_BINARY = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "max": np.maximum,
    "min": np.minimum, "pow": np.power, "and": np.bitwise_and, "or": np.bitwise_or,
    "xor": np.bitwise_xor, "rem": np.fmod, "eq": np.equal, "ne": np.not_equal,
    "lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal,
    "div": lambda a, b: _int_div(a, b) if a.dtype.kind in "iu" else a / b,
}  # fmt: skip


def _dot_general(a: np.ndarray, b: np.ndarray, contracting: Any, batch: Any) -> np.ndarray:
    """lax.dot_general via einsum: out = batch dims, lhs free, rhs free."""
    (lc, rc), (lb, rb) = contracting, batch
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    ls = [next(letters) for _ in range(a.ndim)]
    rs = [next(letters) for _ in range(b.ndim)]
    for i, j in (*zip(lc, rc), *zip(lb, rb)):
        rs[j] = ls[i]
    out = [ls[i] for i in lb]
    out += [ls[i] for i in range(a.ndim) if i not in (*lc, *lb)]
    out += [rs[j] for j in range(b.ndim) if j not in (*rc, *rb)]
    return np.einsum(f"{''.join(ls)},{''.join(rs)}->{''.join(out)}", a, b).astype(a.dtype)


def _broadcast_in_dim(x: np.ndarray, shape: Sequence[int], dims: Sequence[int]) -> np.ndarray:
    expanded = [1] * len(shape)
    for src, dst in enumerate(dims):
        expanded[dst] = x.shape[src]
    return np.broadcast_to(x.reshape(expanded), tuple(shape))


def _starts(x: np.ndarray, starts: list[Any], sizes: Sequence[int]) -> list[int]:
    """Start indices clamped so the window fits (lax semantics)."""
    return [int(np.clip(int(s), 0, n - k)) for s, n, k in zip(starts, x.shape, sizes)]


def _dynamic_slice(x: np.ndarray, starts: list[Any], sizes: Sequence[int]) -> np.ndarray:
    st = _starts(x, starts, sizes)
    return x[tuple(slice(s, s + k) for s, k in zip(st, sizes))]


def _dynamic_update_slice(x: np.ndarray, u: np.ndarray, starts: list[Any]) -> np.ndarray:
    st = _starts(x, starts, u.shape)
    out = x.copy()
    out[tuple(slice(s, s + k) for s, k in zip(st, u.shape))] = u
    return out


def _other(op: Op, x: list[Any]) -> list[Any]:
    a = op.attrs
    name = op.opcode
    t = op.outputs[0].type if op.outputs else None
    if name == "const":
        return [np.asarray(a["value"], _NP[t.dtype])]
    if name == "iota":
        ramp = np.arange(a["shape"][a["dimension"]], dtype=_NP[t.dtype])
        return [_broadcast_in_dim(ramp, a["shape"], (a["dimension"],))]
    if name == "integer_pow":
        return [x[0] ** a["y"]]
    if name == "select_n":
        which = x[0].astype(np.int32)
        return [np.choose(which, x[1:]) if which.ndim else x[1 + int(which)]]
    if name == "clamp":
        return [np.minimum(np.maximum(x[1], x[0]), x[2])]
    if name == "convert":
        target = _NP[a["dtype"]]
        v = np.trunc(x[0]) if target == np.int32 and x[0].dtype == np.float32 else x[0]
        return [v.astype(target)]
    if name == "dot_general":
        return [_dot_general(x[0], x[1], a["contracting"], a["batch"])]
    if name == "broadcast_in_dim":
        return [_broadcast_in_dim(x[0], a["shape"], a["broadcast_dimensions"])]
    if name == "reshape":
        return [np.reshape(x[0], a["new_sizes"])]
    if name == "transpose":
        return [np.transpose(x[0], a["permutation"])]
    if name == "squeeze":
        return [np.squeeze(x[0], axis=tuple(a["dimensions"]))]
    if name == "concatenate":
        return [np.concatenate(x, axis=a["dimension"])]
    if name == "slice":
        sl = tuple(slice(s, e, st) for s, e, st in zip(a["start_indices"], a["limit_indices"], a["strides"]))
        return [x[0][sl]]
    if name == "dynamic_slice":
        return [_dynamic_slice(x[0], x[1:], a["slice_sizes"])]
    if name == "dynamic_update_slice":
        return [_dynamic_update_slice(x[0], x[1], x[2:])]
    if name == "pad":
        return [np.asarray(lax.pad(x[0], x[1], a["padding_config"]))]
    if name == "rev":
        return [np.flip(x[0], axis=tuple(a["dimensions"]))]
    return _indexing_and_reductions(op, x)


_MODES = {"clip": lax.GatherScatterMode.CLIP, "fill": lax.GatherScatterMode.FILL_OR_DROP,
          "promise_in_bounds": lax.GatherScatterMode.PROMISE_IN_BOUNDS}  # fmt: skip


def _cumulative(fn: Any, x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    if reverse:
        return np.flip(fn(np.flip(x, axis), axis=axis), axis)
    return fn(x, axis=axis)


def _indexing_and_reductions(op: Op, x: list[Any]) -> list[Any]:
    a = op.attrs
    name = op.opcode
    if name == "gather":
        dn = lax.GatherDimensionNumbers(**a["dimension_numbers"])
        out = lax.gather(x[0], x[1], dn, a["slice_sizes"], mode=_MODES[a["mode"]], fill_value=a["fill_value"])
        return [np.asarray(out)]
    if name in ("scatter", "scatter_add"):
        dn = lax.ScatterDimensionNumbers(**a["dimension_numbers"])
        fn = lax.scatter if name == "scatter" else lax.scatter_add
        return [np.asarray(fn(x[0], x[1], x[2], dn, mode=_MODES[a["mode"]]))]
    if name in ("reduce_sum", "reduce_max", "reduce_min"):
        fn = {"reduce_sum": np.sum, "reduce_max": np.max, "reduce_min": np.min}[name]
        return [np.asarray(fn(x[0], axis=tuple(a["axes"]))).astype(x[0].dtype)]
    if name in ("argmax", "argmin"):
        fn = np.argmax if name == "argmax" else np.argmin
        return [np.asarray(fn(x[0], axis=a["axis"])).astype(np.int32)]
    if name == "cumsum":
        return [
            _cumulative(lambda v, axis: np.cumsum(v, axis=axis, dtype=v.dtype), x[0], a["axis"], a["reverse"])
        ]
    if name == "cummax":
        return [_cumulative(np.maximum.accumulate, x[0], a["axis"], a["reverse"])]
    if name == "div_bcast":
        return [x[0] / _broadcast_in_dim(x[1], a["shape"], a["broadcast_dimensions"])]
    if name == "sort":
        return [np.asarray(v) for v in lax.sort(tuple(x), dimension=a["dimension"], num_keys=a["num_keys"])]
    if name == "top_k":
        vals, idx = lax.top_k(np.moveaxis(x[0], a["axis"], -1), a["k"])
        return [np.moveaxis(np.asarray(vals), -1, a["axis"]), np.moveaxis(np.asarray(idx), -1, a["axis"])]
    raise NotImplementedError(f"ir_eval: no handler for IR op '{name}'")


def _control(op: Op, x: list[Any]) -> list[Any]:
    a = op.attrs
    if op.opcode == "loop":
        n = a["n_carries"]
        carries, consts = x[:n], x[n:]
        for i in range(a["trip_count"]):
            carries = run_region(op.regions[0], [np.asarray(i, np.int32), *carries, *consts])
        return carries
    if op.opcode == "while":
        n = a["n_carries"]
        carries, consts = x[:n], x[n:]
        while bool(run_region(op.regions[0], [*carries, *consts])[0]):
            carries = run_region(op.regions[1], [*carries, *consts])
        return carries
    index = int(np.clip(int(x[0]), 0, len(op.regions) - 1))
    return run_region(op.regions[index], x[1:])


def _check(v: Value, arr: Any, op: Op) -> None:
    if tuple(arr.shape) != v.type.shape or arr.dtype != _NP[v.type.dtype]:
        raise AssertionError(f"{op.opcode} ({op.loc}): produced {arr.dtype}{arr.shape}, IR type is {v.type}")


def run_region(region: Region, args: Sequence[Any]) -> list[Any]:
    env: dict[int, Any] = {p.id: np.asarray(a) for p, a in zip(region.params, args)}
    for op in region.ops:
        x = [env[v.id] for v in op.inputs]
        if op.opcode in ("loop", "while", "cond"):
            outs = _control(op, x)
        elif op.opcode in _UNARY:
            outs = [_UNARY[op.opcode](x[0])]
        elif op.opcode in _BINARY:
            outs = [_BINARY[op.opcode](x[0], x[1])]
        else:
            outs = _other(op, x)
        for v, o in zip(op.outputs, outs):
            o = np.asarray(o)
            _check(v, o, op)
            env[v.id] = o
    return [env[v.id] for v in region.results]


def evaluate(program: Program, inputs: Sequence[Any]) -> list[np.ndarray]:
    """Run `program` on plaintext inputs; returns numpy outputs."""
    args = [np.asarray(a).astype(_NP[p.type.dtype]) for a, p in zip(inputs, program.inputs)]
    return [np.asarray(o) for o in run_region(program.body, args)]


def check_against_jax(
    fn: Any,
    args: Sequence[Any],
    kwargs: dict[str, Any] | None = None,
    static_argnums: Sequence[int] = (),
    static_argnames: Sequence[str] = (),
    rtol: float = 1e-4,
    atol: float = 1e-5,
) -> Program:
    """Trace + translate `fn`, evaluate the IR in plaintext and compare with calling `fn` in JAX."""
    from veil.frontend import to_ir, trace
    from veil.frontend.trace import Public

    traced = trace(fn, args, kwargs or {}, static_argnums, static_argnames)
    program = to_ir(traced)
    verify_if_available(program)
    got = evaluate(program, traced.leaves)

    def strip(t):
        return jax.tree_util.tree_map(
            lambda x: x.value if isinstance(x, Public) else x, t, is_leaf=lambda x: isinstance(x, Public)
        )

    want = jax.tree_util.tree_leaves(fn(*strip(tuple(args)), **strip(dict(kwargs or {}))))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64), rtol=rtol, atol=atol)
    return program


def verify_if_available(program: Program) -> None:
    """Run veil.ir.verify.verify when the IR verifier exists (it is written in parallel)."""
    try:
        from veil.ir.verify import verify
    except ImportError:
        return
    verify(program)
    has_secret_cond = any(
        op.opcode == "cond" and op.inputs[0].type.vis.value != "public" for op in program.body.walk()
    )
    if not has_secret_cond:
        verify(program, check_flow=True)


def lower(fn: Any, *args: Any, **kwargs: Any) -> Program:
    """trace + to_ir with no static args (for structure tests)."""
    from veil.frontend import to_ir, trace

    program = to_ir(trace(fn, args, kwargs))
    verify_if_available(program)
    return program


def ops(program: Program, opcode: str) -> list[Op]:
    """All ops named `opcode`, nested regions included, in program order."""
    return [op for op in program.body.walk() if op.opcode == opcode]


def opcodes(program: Program) -> set[str]:
    return {op.opcode for op in program.body.walk()}
