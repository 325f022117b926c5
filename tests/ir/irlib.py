"""Test helpers for the IR: type shorthands, a plaintext interpreter that tracks fixed-point
scales, and a hypothesis strategy for random small programs.

The interpreter computes real values in float64 and, for every value, the number of fraction
bits its ring encoding would carry: fxp inputs and consts carry f, ints/bools 0, a product
carries sa + sb - trunc_bits, `trunc(bits)` removes bits. Ops that HAL aligns (add, sub,
comparisons, select_n) take the larger scale, as HAL does; other ops mixing scales, or returning
a value at a non-canonical scale, raise: that catches wrong truncation plumbing.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from hypothesis import strategies as st

from veil.ir.program import Builder, Op, Program, Region, Value
from veil.ir.types import DType, TensorType, Visibility

F = 18
FXP, INT, BOOL = DType.FXP, DType.INT, DType.BOOL
PUB, SEC, PRIV = Visibility.PUBLIC, Visibility.SECRET, Visibility.PRIVATE


def T(
    shape: tuple[int, ...], dtype: DType = FXP, vis: Visibility = SEC, owner: int | None = None
) -> TensorType:
    return TensorType(tuple(shape), dtype, vis, owner if vis is PRIV else None)


def const(b: Builder, value: Any, dtype: DType = FXP) -> Value:
    arr = np.asarray(value, dtype={FXP: np.float64, INT: np.int64, BOOL: np.bool_}[dtype])
    (v,) = b.emit("const", [], [T(arr.shape, dtype, PUB)], {"value": arr})
    return v


def emit1(b: Builder, opcode: str, inputs: list[Value], t: TensorType, **attrs: Any) -> Value:
    (v,) = b.emit(opcode, inputs, [t], attrs)
    return v


def ops_of(program: Program) -> list[str]:
    return [op.opcode for op in program.walk()]


class ScaleError(AssertionError):
    """The interpreter met inconsistent fixed-point scales."""


class Interp:
    """Evaluate a program on float64 reals while checking fixed-point scale bookkeeping."""

    def __init__(self, f: int = F) -> None:
        self.f = f

    def canon(self, t: TensorType) -> int:
        return self.f if t.dtype is FXP else 0

    def run(self, program: Program, inputs: list[np.ndarray]) -> list[np.ndarray]:
        args = [
            (np.asarray(x, np.float64), self.canon(p.type))
            for p, x in zip(program.inputs, inputs, strict=True)
        ]
        outs = self.region(program.body, args)
        for (_, scale), v in zip(outs, program.outputs, strict=True):
            if scale != self.canon(v.type):
                raise ScaleError(f"output %{v.id} has scale {scale}, want {self.canon(v.type)}")
        return [val for val, _ in outs]

    def region(self, region: Region, args: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, int]]:
        env = {p.id: a for p, a in zip(region.params, args, strict=True)}
        for op in region.ops:
            outs = self.op(op, [env[v.id] for v in op.inputs])
            env.update({o.id: r for o, r in zip(op.outputs, outs, strict=True)})
        return [env[v.id] for v in region.results]

    def op(self, op: Op, ins: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, int]]:
        name, a = op.opcode, op.attrs
        vals = [x for x, _ in ins]
        scales = [s for _, s in ins]
        out_t = op.outputs[0].type if op.outputs else None
        if name == "loop":
            return self.loop(op, ins)
        if name == "while":
            return self.while_(op, ins)
        if name == "cond":
            return self.cond(op, ins)
        if name == "batch":  # the members one by one (dot_general: each with its own attrs)
            k = a["arity"]
            each = a.get("each_attrs") or (a["member_attrs"],) * len(op.outputs)
            return [
                self.op(
                    Op(a["op"], op.inputs[i * k : (i + 1) * k], [o], dict(each[i])),
                    ins[i * k : (i + 1) * k],
                )[0]
                for i, o in enumerate(op.outputs)
            ]
        assert out_t is not None
        canon = self.canon(out_t)
        if name == "const":
            return [(np.asarray(a["value"], np.float64), canon)]
        if name == "iota":
            shape, d = a["shape"], a["dimension"]
            line = np.arange(shape[d], dtype=np.float64).reshape(
                [-1 if i == d else 1 for i in range(len(shape))]
            )
            return [(np.broadcast_to(line, shape).copy(), canon)]
        if name in ("mul", "dot_general", "square"):
            if "trunc_bits" in a:
                scale = sum(scales) + (scales[0] if name == "square" else 0) - a["trunc_bits"]
            else:
                scale = canon
            if name == "mul":
                return [(vals[0] * vals[1], scale)]
            if name == "square":
                return [(vals[0] * vals[0], scale)]
            return [(dot_general(vals[0], vals[1], a["contracting"], a["batch"]), scale)]
        if name == "trunc":
            return [(vals[0], scales[0] - a["bits"])]
        if name in _SAME_SCALE:
            data = ins[1:] if name == "select_n" else ins
            if len({s for _, s in data}) != 1 and name not in _ALIGNING:
                raise ScaleError(f"{name} mixes scales {[s for _, s in data]}")
            scale = 0 if out_t.dtype is BOOL else max(s for _, s in data) - a.get("trunc_bits", 0)
            return [(np.asarray(_SAME_SCALE[name](vals, a), np.float64), scale)]
        if name in _CANONICAL:
            for (_, s), v in zip(ins, op.inputs, strict=True):
                if s != self.canon(v.type):
                    raise ScaleError(f"{name} input %{v.id} has scale {s}, want {self.canon(v.type)}")
            return [(np.asarray(_CANONICAL[name](vals, a), np.float64), canon)]
        raise NotImplementedError(name)

    def loop(self, op: Op, ins: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, int]]:
        n = op.attrs["n_carries"]
        carries, consts = ins[:n], ins[n:]
        for i in range(op.attrs["trip_count"]):
            new = self.region(op.regions[0], [(np.float64(i), 0), *carries, *consts])
            self.same_scales(carries, new, "loop carry")
            carries = new
        return carries

    def while_(self, op: Op, ins: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, int]]:
        n = op.attrs["n_carries"]
        carries, consts = ins[:n], ins[n:]
        for _ in range(10_000):
            ((pred, _s),) = self.region(op.regions[0], [*carries, *consts])
            if not bool(pred):
                return carries
            new = self.region(op.regions[1], [*carries, *consts])
            self.same_scales(carries, new, "while carry")
            carries = new
        raise RuntimeError("while did not stop")

    def cond(self, op: Op, ins: list[tuple[np.ndarray, int]]) -> list[tuple[np.ndarray, int]]:
        k = int(np.clip(ins[0][0], 0, len(op.regions) - 1))
        outs = [self.region(r, ins[1:]) for r in op.regions]  # all branches: check scales agree
        for other in outs:
            self.same_scales(outs[0], other, "cond branch")
        return outs[k]

    @staticmethod
    def same_scales(a: list[tuple[np.ndarray, int]], b: list[tuple[np.ndarray, int]], what: str) -> None:
        if [s for _, s in a] != [s for _, s in b]:
            raise ScaleError(f"{what} scales differ: {[s for _, s in a]} vs {[s for _, s in b]}")


def dot_general(x: np.ndarray, y: np.ndarray, contracting: Any, batch: Any) -> np.ndarray:
    (lc, rc), (lb, rb) = contracting, batch
    letters = iter(string.ascii_letters)
    lhs = [next(letters) for _ in range(x.ndim)]
    rhs = [""] * y.ndim
    for a, b in (*zip(lc, rc), *zip(lb, rb)):
        rhs[b] = lhs[a]
    rhs = [r or next(letters) for r in rhs]
    out = [lhs[d] for d in lb] + [lhs[d] for d in range(x.ndim) if d not in (*lc, *lb)]
    out += [rhs[d] for d in range(y.ndim) if d not in (*rc, *rb)]
    return np.einsum(f"{''.join(lhs)},{''.join(rhs)}->{''.join(out)}", x, y)


def _broadcast(x: np.ndarray, a: dict[str, Any]) -> np.ndarray:
    shape = tuple(a["shape"])
    expanded = [1] * len(shape)
    for i, d in enumerate(a["broadcast_dimensions"]):
        expanded[d] = x.shape[i]
    return np.broadcast_to(x.reshape(expanded), shape).copy()


# ops whose HAL implementation aligns its operands to the larger scale (veil.hal.fxp.align)
_ALIGNING = frozenset({"add", "sub", "gt", "ge", "lt", "le", "eq", "ne", "select_n"})
_SAME_SCALE: dict[str, Any] = {
    "add": lambda v, a: v[0] + v[1],
    "sub": lambda v, a: v[0] - v[1],
    "neg": lambda v, a: -v[0],
    "abs": lambda v, a: np.abs(v[0]),
    "copy": lambda v, a: v[0],
    "max": lambda v, a: np.maximum(v[0], v[1]),
    "min": lambda v, a: np.minimum(v[0], v[1]),
    "eq": lambda v, a: v[0] == v[1],
    "lt": lambda v, a: v[0] < v[1],
    "gt": lambda v, a: v[0] > v[1],
    "select_n": lambda v, a: np.choose(v[0].astype(np.int64), v[1:]),
    "reduce_sum": lambda v, a: np.sum(v[0], axis=tuple(a["axes"])),
    "reduce_max": lambda v, a: np.max(v[0], axis=tuple(a["axes"])),
    "broadcast_in_dim": lambda v, a: _broadcast(v[0], a),
    "reshape": lambda v, a: np.reshape(v[0], a["new_sizes"]),
    "transpose": lambda v, a: np.transpose(v[0], a["permutation"]),
    "slice": lambda v, a: v[0][tuple(slice(s, e) for s, e in zip(a["start_indices"], a["limit_indices"]))],
    "concatenate": lambda v, a: np.concatenate(v, axis=a["dimension"]),
}
_CANONICAL: dict[str, Any] = {
    "exp": lambda v, a: np.exp(v[0]),
    "tanh": lambda v, a: np.tanh(v[0]),
    "logistic": lambda v, a: 1 / (1 + np.exp(-v[0])),
    "convert": lambda v, a: (
        np.trunc(v[0]) if a["dtype"] is INT else (v[0] != 0 if a["dtype"] is BOOL else v[0])
    ),
    "dynamic_slice": lambda v, a: v[0][
        tuple(slice(int(s), int(s) + n) for s, n in zip(v[1:], a["slice_sizes"]))
    ],
}


# ---------------------------------------------------------------- random programs

SHAPE = (2, 3)


@st.composite
def random_programs(draw: st.DrawFn, max_ops: int = 10) -> Program:
    """A random valid program on (2, 3) fxp values with consts, products, sums, selects,
    reductions, matmuls and optionally a loop and a cond (public or secret predicate)."""
    b = Builder()
    pool: list[Value] = []
    for i in range(draw(st.integers(1, 3))):
        vis = draw(st.sampled_from([SEC, PUB, PRIV]))
        pool.append(b.param(T(SHAPE, FXP, vis, 0 if vis is PRIV else None), f"x{i}"))
    for _ in range(draw(st.integers(1, max_ops))):
        kind = draw(st.sampled_from(_KINDS))
        pool.append(kind(draw, b, pool))
    outs = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2))
    return b.finish([pool[-1], *outs])


def _pick(draw: st.DrawFn, pool: list[Value]) -> Value:
    return draw(st.sampled_from(pool))


def _res(x: Value, y: Value | None = None) -> TensorType:
    """Result type: joined visibility, shape SHAPE, fxp."""
    from veil.ir.types import join_vis

    vis, owner = join_vis(x.type, *([y.type] if y is not None else []))
    return T(SHAPE, FXP, vis, owner)


def _k_const(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    small_int = draw(st.booleans())
    elems = st.integers(-4, 4).map(float) if small_int else st.floats(-2, 2, allow_nan=False, width=32)
    if draw(st.booleans()):
        c = const(b, draw(elems))
        return emit1(b, "broadcast_in_dim", [c], T(SHAPE, FXP, PUB), shape=SHAPE, broadcast_dimensions=())
    values = draw(st.lists(elems, min_size=6, max_size=6))
    return const(b, np.reshape(values, SHAPE))


def _k_binary(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    x, y = _pick(draw, pool), _pick(draw, pool)
    return emit1(b, draw(st.sampled_from(["add", "sub", "mul", "mul", "max"])), [x, y], _res(x, y))


def _k_unary(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    x = _pick(draw, pool)
    return emit1(b, draw(st.sampled_from(["neg", "tanh", "square"])), [x], _res(x))


def _k_select(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    x, y = _pick(draw, pool), _pick(draw, pool)
    vis = _res(x, y)
    p = emit1(b, "lt", [x, y], vis.with_dtype(BOOL))
    return emit1(b, "select_n", [p, x, y], vis)


def _k_relu(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    """relu(x * y + z) as jax writes it: a sign test against a zero const and a zero select
    (the pattern of veil/ir/passes/defer_trunc.py)."""
    x, y, z = _pick(draw, pool), _pick(draw, pool), _pick(draw, pool)
    prod = emit1(b, "mul", [x, y], _res(x, y))
    s = emit1(b, "add", [prod, z], _res(prod, z))
    zero = const(b, np.zeros(SHAPE))
    p = emit1(b, draw(st.sampled_from(["gt", "lt"])), [s, zero], _res(s).with_dtype(BOOL))
    return emit1(b, "select_n", [p, zero, s] if draw(st.booleans()) else [p, s, zero], _res(s))


def _k_reduce(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    x = _pick(draw, pool)
    r = emit1(b, "reduce_sum", [x], _res(x).with_shape((2,)), axes=(1,))
    return emit1(b, "broadcast_in_dim", [r], _res(x), shape=SHAPE, broadcast_dimensions=(0,))


def _k_matmul(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    x, y = _pick(draw, pool), _pick(draw, pool)
    yt = emit1(b, "transpose", [y], _res(y).with_shape((3, 2)), permutation=(1, 0))
    m = emit1(
        b, "dot_general", [x, yt], _res(x, y).with_shape((2, 2)), contracting=((1,), (0,)), batch=((), ())
    )
    s = emit1(
        b, "slice", [x], _res(x).with_shape((2, 1)), start_indices=(0, 0), limit_indices=(2, 1), strides=None
    )
    return emit1(b, "concatenate", [m, s], _res(x, y), dimension=1)


def _k_loop(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    x, y = _pick(draw, pool), _pick(draw, pool)
    body = b.open_region([T((), INT, PUB), x.type, y.type])
    _, c, k = body.params
    prod = emit1(b, "mul", [c, k], _res(c, k))
    half = emit1(b, "mul", [prod, const_bcast(b, 0.5)], _res(c, k))
    res = emit1(b, "add", [half, k], _res(c, k))
    b.close_region([res])
    (out,) = b.emit("loop", [x, y], [x.type], {"trip_count": draw(st.integers(0, 3)), "n_carries": 1}, [body])
    return out


def const_bcast(b: Builder, value: float) -> Value:
    c = const(b, value)
    return emit1(b, "broadcast_in_dim", [c], T(SHAPE, FXP, PUB), shape=SHAPE, broadcast_dimensions=())


def _k_cond(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    x, y = _pick(draw, pool), _pick(draw, pool)
    s = emit1(b, "reduce_sum", [x], _res(x).with_shape(()), axes=(0, 1))
    zero = const(b, 0.0)
    p = emit1(b, "gt", [s, zero], _res(x).with_shape(()).with_dtype(BOOL))
    idx = emit1(b, "convert", [p], p.type.with_dtype(INT), dtype=INT)
    branches = []
    for k in range(2):
        r = b.open_region([x.type, y.type])
        bx, by = r.params
        out = emit1(b, "mul" if k else "sub", [bx, by], _res(x, y))
        b.close_region([out if k else bx])
        branches.append(r)
    (out,) = b.emit("cond", [idx, x, y], [_res(x, y)], {}, branches)
    return out


def _k_sum_of_products(draw: st.DrawFn, b: Builder, pool: list[Value]) -> Value:
    terms = []
    for _ in range(draw(st.integers(2, 3))):
        x, y = _pick(draw, pool), _pick(draw, pool)
        t = emit1(b, "mul", [x, y], _res(x, y))
        terms.append(emit1(b, "neg", [t], t.type) if draw(st.booleans()) else t)
    acc = terms[0]
    for t in terms[1:]:
        acc = emit1(b, draw(st.sampled_from(["add", "sub"])), [acc, t], _res(acc, t))
    return acc


_KINDS = [
    _k_const,
    _k_binary,
    _k_binary,
    _k_unary,
    _k_select,
    _k_relu,
    _k_reduce,
    _k_matmul,
    _k_loop,
    _k_cond,
    _k_sum_of_products,
    _k_sum_of_products,
]
