"""Structural and type checks of IR programs; run on the frontend's output and after each pass.

`verify(program)` checks SSA (one definition per value, uses after definitions, closed regions),
op names, arity, required attributes, region signatures of `loop`/`while`/`cond`, shapes and
well-formed visibilities. With `check_flow=True` it also checks what the visibility pass
guarantees: no op output is less secret than its inputs, indices and predicates are public.
Every problem raises `CompileError` naming the op, its source location and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NoReturn

import numpy as np

from veil.errors import CompileError
from veil.ir.ops import CONTROL, INDEX_OPERANDS, MIN_INPUTS, MULTI_OUTPUT, SIGNATURES, required_attrs
from veil.ir.program import Op, Program, Region, Value
from veil.ir.types import DType, TensorType, Visibility, join_vis, vis_leq

__all__ = ["verify"]


@dataclass
class _Ctx:
    program: Program
    check_flow: bool
    defined: dict[int, Value] = field(default_factory=dict)


def _where(op: Op) -> str:
    outs = ", ".join(f"%{v.id}" for v in op.outputs)
    head = f"op '{op.opcode}'" + (f" -> {outs}" if outs else "")
    return f"{head} at {op.loc or '<unknown loc>'}"


def _fail(op: Op, problem: str) -> NoReturn:
    raise CompileError(f"invalid IR: {_where(op)}: {problem}")


def verify(program: Program, *, check_flow: bool = False) -> None:
    """Raise CompileError on the first structural, type or visibility problem of `program`."""
    if not isinstance(program, Program):
        raise CompileError(f"invalid IR: expected a Program, got {type(program).__name__}")
    body = program.body
    if len(program.input_names) != len(body.params):
        raise CompileError(
            f"invalid IR: {len(program.input_names)} input names for {len(body.params)} program inputs"
        )
    if len(program.output_names) != len(body.results):
        raise CompileError(
            f"invalid IR: {len(program.output_names)} output names for {len(body.results)} program outputs"
        )
    _check_region(body, _Ctx(program, check_flow), "program")


def _check_type(v: Value, where: str) -> None:
    t = v.type
    if not isinstance(t, TensorType):
        raise CompileError(f"invalid IR: %{v.id} ({where}) has type {t!r}, expected a TensorType")
    if not isinstance(t.shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in t.shape):
        raise CompileError(
            f"invalid IR: %{v.id} ({where}) has bad shape {t.shape!r}: want a tuple of ints >= 0"
        )
    if not isinstance(t.dtype, DType) or not isinstance(t.vis, Visibility):
        raise CompileError(f"invalid IR: %{v.id} ({where}) has bad dtype/visibility {t.dtype!r}/{t.vis!r}")
    private = t.vis is Visibility.PRIVATE
    if private != (t.owner is not None):
        raise CompileError(
            f"invalid IR: %{v.id} ({where}) is {t.vis.value} with owner={t.owner}: "
            "an owner must be set exactly for private values"
        )
    if private and (not isinstance(t.owner, int) or t.owner < 0):
        raise CompileError(f"invalid IR: %{v.id} ({where}) has bad owner {t.owner!r}: want a party rank >= 0")


def _define(v: Value, ctx: _Ctx, scope: set[int], where: str) -> None:
    if not isinstance(v, Value):
        raise CompileError(f"invalid IR: {where} defines {v!r}, which is not a Value")
    if v.id in ctx.defined:
        raise CompileError(f"invalid IR: %{v.id} is defined twice (again by {where}); SSA needs unique ids")
    if not 0 <= v.id < ctx.program.next_id:
        raise CompileError(
            f"invalid IR: %{v.id} ({where}) is outside the program's id range [0, {ctx.program.next_id})"
        )
    _check_type(v, where)
    ctx.defined[v.id] = v
    scope.add(v.id)


def _use(v: Value, ctx: _Ctx, scope: set[int], where: str) -> None:
    if not isinstance(v, Value):
        raise CompileError(f"invalid IR: {where} uses {v!r}, which is not a Value")
    if v.id not in scope:
        if v.id in ctx.defined:
            raise CompileError(
                f"invalid IR: {where} uses %{v.id}, defined in another region "
                "(regions are closed: pass outer values in as operands)"
            )
        raise CompileError(f"invalid IR: {where} uses %{v.id} before it is defined")
    if ctx.defined[v.id].type != v.type:
        raise CompileError(
            f"invalid IR: {where} uses %{v.id} as {v.type}, but it is defined as {ctx.defined[v.id].type}"
        )


def _check_region(region: Region, ctx: _Ctx, where: str) -> None:
    scope: set[int] = set()
    for p in region.params:
        _define(p, ctx, scope, f"a param of {where}")
    for op in region.ops:
        if not isinstance(op, Op):
            raise CompileError(f"invalid IR: {where} holds {op!r}, which is not an Op")
        for v in op.inputs:
            _use(v, ctx, scope, _where(op))
        _check_op(op, ctx)
        for v in op.outputs:
            _define(v, ctx, scope, _where(op))
    for v in region.results:
        _use(v, ctx, scope, f"the results of {where}")


def _check_op(op: Op, ctx: _Ctx) -> None:
    sig = SIGNATURES.get(op.opcode)
    if sig is None:
        _fail(op, "no such IR op (see veil/ir/ops.py for the list)")
    n = len(op.inputs)
    if sig.n_in >= 0 and n != sig.n_in:
        _fail(op, f"takes {sig.n_in} inputs, got {n}")
    if sig.n_in < 0 and n < MIN_INPUTS.get(op.opcode, 0):
        _fail(op, f"takes at least {MIN_INPUTS[op.opcode]} inputs, got {n}")
    missing = [a for a in required_attrs(op.opcode) if a not in op.attrs]
    if missing:
        _fail(op, f"missing attribute(s) {', '.join(missing)}")
    if "trunc_bits" in op.attrs and not _is_int(op.attrs["trunc_bits"], lo=0):
        _fail(op, f"trunc_bits={op.attrs['trunc_bits']!r}: want an int >= 0")
    if sig.n_regions >= 0 and len(op.regions) != sig.n_regions:
        _fail(op, f"has {len(op.regions)} regions, want {sig.n_regions}")
    if sig.n_regions < 0 and not op.regions:
        _fail(op, "needs at least one region")
    if op.opcode in CONTROL:
        _check_control(op, ctx)
        return
    if op.regions:
        _fail(op, "only loop/while/cond carry regions")
    if len(op.outputs) != 1 and op.opcode not in MULTI_OUTPUT:
        _fail(op, f"has {len(op.outputs)} outputs, want 1")
    problem = check_shapes(op)
    if problem:
        _fail(op, problem)
    if ctx.check_flow:
        _check_flow(op)


def _is_int(x: object, lo: int | None = None) -> bool:
    ok = isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)
    return ok and (lo is None or int(x) >= lo)  # type: ignore[call-overload]


def _same(a: TensorType, b: TensorType) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _match(op: Op, got: list[Value], want: list[TensorType], what: str) -> None:
    """`got` values must have the shapes/dtypes of `want`."""
    if len(got) != len(want):
        _fail(op, f"{what}: {len(got)} values, want {len(want)}")
    for i, (v, t) in enumerate(zip(got, want, strict=True)):
        if not _same(v.type, t):
            _fail(op, f"{what}[{i}] is {v.type}, want shape {t.shape} dtype {t.dtype.value}")


def _check_control(op: Op, ctx: _Ctx) -> None:
    if op.opcode == "cond":
        _check_cond(op, ctx)
        return
    nc = op.attrs["n_carries"]
    if not _is_int(nc, lo=0) or nc > len(op.inputs):
        _fail(op, f"n_carries={nc!r}: want an int in 0..{len(op.inputs)} (the number of inputs)")
    ins = [v.type for v in op.inputs]
    _match(op, op.outputs, ins[:nc], "outputs (must match the carries)")
    if op.opcode == "loop":
        if not _is_int(op.attrs["trip_count"], lo=0):
            _fail(op, f"trip_count={op.attrs['trip_count']!r}: want a public int >= 0")
        body = op.regions[0]
        if not body.params or body.params[0].type.shape != () or body.params[0].type.dtype is not DType.INT:
            _fail(op, "body's first param must be the induction variable, an int scalar")
        _match(op, body.params[1:], ins, "body params after the induction variable (carries, consts)")
        _match(op, body.results, ins[:nc], "body results (must match the carries)")
        _check_region(body, ctx, f"the body of {_where(op)}")
    else:
        cond, body = op.regions
        _match(op, cond.params, ins, "cond params (carries, consts)")
        _match(op, body.params, ins, "body params (carries, consts)")
        _match(op, cond.results, [TensorType((), DType.BOOL)], "cond results (one bool scalar)")
        _match(op, body.results, ins[:nc], "body results (must match the carries)")
        _check_region(cond, ctx, f"the cond region of {_where(op)}")
        _check_region(body, ctx, f"the body of {_where(op)}")
    if ctx.check_flow:
        _check_loop_flow(op)


def _check_cond(op: Op, ctx: _Ctx) -> None:
    index = op.inputs[0].type
    if index.shape != () or index.dtype not in (DType.INT, DType.BOOL):
        _fail(op, f"index is {index}, want an int or bool scalar")
    if index.dtype is DType.BOOL and len(op.regions) != 2:
        _fail(op, f"a bool predicate needs exactly 2 branches, got {len(op.regions)}")
    operands = [v.type for v in op.inputs[1:]]
    outs = [v.type for v in op.outputs]
    for k, branch in enumerate(op.regions):
        _match(op, branch.params, operands, f"branch {k} params (the operands)")
        _match(op, branch.results, outs, f"branch {k} results (the outputs)")
        _check_region(branch, ctx, f"branch {k} of {_where(op)}")
        if ctx.check_flow:
            for i, (r, o) in enumerate(zip(branch.results, op.outputs, strict=True)):
                if not vis_leq(r.type, o.type):
                    _fail(op, f"branch {k} result {i} is {r.type.vis.value} but the output is {o.type}")
    if ctx.check_flow:
        if index.vis is not Visibility.PUBLIC:
            _fail(op, f"index is {index.vis.value}: run the secret_control pass (it turns this into selects)")
        for i, v in enumerate(op.inputs[1:]):
            _flow_edge(op, v, [b.params[i] for b in op.regions], f"operand {i}")


def _flow_edge(op: Op, src: Value, dsts: list[Value], what: str) -> None:
    for d in dsts:
        if not vis_leq(src.type, d.type):
            _fail(op, f"{what} is {src.type} but flows into %{d.id}: {d.type} (run the visibility pass)")


def _check_loop_flow(op: Op) -> None:
    nc = op.attrs["n_carries"]
    regions = op.regions
    first = 1 if op.opcode == "loop" else 0
    if op.opcode == "loop" and regions[0].params[0].type.vis is not Visibility.PUBLIC:
        _fail(op, "the induction variable must be public")
    if op.opcode == "while" and regions[0].results[0].type.vis is not Visibility.PUBLIC:
        _fail(op, "the loop predicate is not public: veil cannot branch on secret data")
    body = regions[-1]
    for i, v in enumerate(op.inputs):
        params = [r.params[first + i] for r in regions]
        _flow_edge(op, v, params, f"input {i}")
        if i < nc:
            _flow_edge(op, body.results[i], params + [op.outputs[i]], f"body result {i}")
            _flow_edge(op, params[-1], [op.outputs[i]], f"carry {i}")


def _check_flow(op: Op) -> None:
    for out in op.outputs:
        _check_flow_out(op, out)


def _check_flow_out(op: Op, out: Value) -> None:
    if op.opcode in ("const", "iota"):
        if out.type.vis is not Visibility.PUBLIC:
            _fail(op, f"a {op.opcode} is public, but its output is {out.type}")
        return
    vis, owner = join_vis(*(v.type for v in op.inputs))
    joined = out.type.with_vis(vis, owner)
    if not vis_leq(joined, out.type):
        _fail(op, f"output is {out.type} but its inputs join to {vis.value} (run the visibility pass)")
    index_slice = INDEX_OPERANDS.get(op.opcode)
    if index_slice is not None:
        for v in op.inputs[index_slice]:
            if v.type.vis is not Visibility.PUBLIC and not (v.type.vis is out.type.vis is Visibility.PRIVATE):
                _fail(op, f"index %{v.id} is {v.type.vis.value}: indices must be public")


# ---- shape rules: one checker per op (or op kind); each returns a problem or None ----


def check_shapes(op: Op) -> str | None:
    """Check the output shape/dtype of a non-control op against its inputs and attributes."""
    multi = _MULTI_RULES.get(op.opcode)
    if multi is not None:
        try:
            return multi([v.type for v in op.inputs], [o.type for o in op.outputs], op.attrs)
        except (TypeError, ValueError, IndexError, KeyError) as e:
            return f"malformed attributes {op.attrs!r} ({e})"
    rule = _RULES.get(op.opcode)
    if rule is None:
        rule = _KIND_RULES.get(SIGNATURES[op.opcode].kind.value)
    if rule is None:
        return None
    try:
        return rule([v.type for v in op.inputs], op.outputs[0].type, op.attrs)
    except (TypeError, ValueError, IndexError, KeyError) as e:
        return f"malformed attributes {op.attrs!r} ({e})"


_Attrs = dict[str, Any]


def _want(out: TensorType, shape: tuple[int, ...] | list[int]) -> str | None:
    shape = tuple(int(d) for d in shape)
    return None if out.shape == shape else f"output shape {out.shape}, expected {shape}"


def _unary(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    return _want(out, ins[0].shape)


def _binary(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if ins[0].shape != ins[1].shape:
        return f"operand shapes differ: {ins[0].shape} vs {ins[1].shape} (broadcast explicitly first)"
    return _want(out, ins[0].shape)


def _compare(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if out.dtype is not DType.BOOL:
        return f"a comparison yields bool, not {out.dtype.value}"
    return _binary(ins, out, attrs)


def _is_finite(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    return _compare([ins[0], ins[0]], out, attrs)


def _select_n(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    which, cases = ins[0], ins[1:]
    if which.dtype is DType.FXP or which.shape not in ((), out.shape):
        return f"selector is {which}: want a bool/int scalar or an array of the output shape"
    if which.dtype is DType.BOOL and len(cases) != 2:
        return f"a bool selector needs 2 cases, got {len(cases)}"
    bad = [c for c in cases if c.shape != out.shape]
    return f"case shapes {[c.shape for c in cases]} differ from output {out.shape}" if bad else None


def _clamp(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    lo, x, hi = ins
    if lo.shape not in ((), x.shape) or hi.shape not in ((), x.shape):
        return f"clamp bounds {lo.shape}/{hi.shape} must be scalars or shaped like x {x.shape}"
    return _want(out, x.shape)


def _convert(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if not isinstance(attrs["dtype"], DType) or attrs["dtype"] is not out.dtype:
        return f"dtype={attrs['dtype']!r} must be the DType of the output ({out.dtype.value})"
    return _want(out, ins[0].shape)


def _trunc(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if not _is_int(attrs["bits"], lo=0):
        return f"bits={attrs['bits']!r}: want an int >= 0"
    return _want(out, ins[0].shape)


def _const(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    value = attrs["value"]
    if not isinstance(value, np.ndarray | np.generic) or value.dtype.kind not in "biuf":
        return f"value must be a numpy bool/int/float array, got {type(value).__name__}"
    return _want(out, value.shape)


def _iota(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    shape = tuple(attrs["shape"])
    if not 0 <= attrs["dimension"] < max(len(shape), 1):
        return f"dimension={attrs['dimension']} out of range for shape {shape}"
    return _want(out, shape)


def _dot_general(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    lhs, rhs = ins[0].shape, ins[1].shape
    (lc, rc), (lb, rb) = attrs["contracting"], attrs["batch"]
    if len(lc) != len(rc) or len(lb) != len(rb):
        return "contracting/batch dims of lhs and rhs differ in number"
    for a, b in (*zip(lc, rc, strict=True), *zip(lb, rb, strict=True)):
        if lhs[a] != rhs[b]:
            return f"lhs dim {a} ({lhs[a]}) != rhs dim {b} ({rhs[b]})"
    lfree = [lhs[d] for d in range(len(lhs)) if d not in (*lc, *lb)]
    rfree = [rhs[d] for d in range(len(rhs)) if d not in (*rc, *rb)]
    return _want(out, [lhs[d] for d in lb] + lfree + rfree)


def _broadcast(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    shape, dims = tuple(attrs["shape"]), tuple(attrs["broadcast_dimensions"])
    src = ins[0].shape
    if len(dims) != len(src) or any(s not in (1, shape[d]) for s, d in zip(src, dims, strict=True)):
        return f"cannot broadcast {src} to {shape} along {dims}"
    return _want(out, shape)


def _reshape(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    new = tuple(attrs["new_sizes"])
    if int(np.prod(new)) != ins[0].size:
        return f"cannot reshape {ins[0].shape} to {new}"
    return _want(out, new)


def _transpose(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    perm = tuple(attrs["permutation"])
    if sorted(perm) != list(range(ins[0].ndim)):
        return f"permutation {perm} is not a permutation of {ins[0].ndim} dims"
    return _want(out, [ins[0].shape[p] for p in perm])


def _drop_axes(shape: tuple[int, ...], axes: tuple[int, ...]) -> str | list[int]:
    if any(not 0 <= a < len(shape) for a in axes) or len(set(axes)) != len(axes):
        return f"axes {axes} invalid for shape {shape}"
    return [d for i, d in enumerate(shape) if i not in axes]


def _reduce(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    kept = _drop_axes(ins[0].shape, tuple(attrs["axes"]))
    return kept if isinstance(kept, str) else _want(out, kept)


def _argmax(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    if out.dtype is not DType.INT:
        return f"an index result is int, not {out.dtype.value}"
    kept = _drop_axes(ins[0].shape, (attrs["axis"],))
    return kept if isinstance(kept, str) else _want(out, kept)


def _squeeze(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    dims = tuple(attrs["dimensions"])
    kept = _drop_axes(ins[0].shape, dims)
    if isinstance(kept, str) or any(ins[0].shape[d] != 1 for d in dims):
        return f"cannot squeeze dims {dims} of {ins[0].shape}"
    return _want(out, kept)


def _concatenate(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    d = attrs["dimension"]
    first = ins[0].shape
    for t in ins:
        if len(t.shape) != len(first) or any(
            a != b for i, (a, b) in enumerate(zip(t.shape, first)) if i != d
        ):
            return f"cannot concatenate shapes {[t.shape for t in ins]} along {d}"
    return _want(out, first[:d] + (sum(t.shape[d] for t in ins),) + first[d + 1 :])


def _slice(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    start, limit = attrs["start_indices"], attrs["limit_indices"]
    strides = attrs["strides"] or (1,) * len(start)
    src = ins[0].shape
    if not len(start) == len(limit) == len(strides) == len(src):
        return f"slice of rank {len(src)} needs {len(src)} starts/limits/strides"
    if any(not 0 <= a <= b <= n for a, b, n in zip(start, limit, src, strict=True)):
        return f"slice [{start}, {limit}) out of bounds for {src}"
    return _want(out, [-(-(b - a) // s) for a, b, s in zip(start, limit, strides, strict=True)])


def _pad(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    cfg = attrs["padding_config"]
    if ins[1].shape != () or len(cfg) != ins[0].ndim:
        return "pad needs a scalar pad value and one (lo, hi, interior) per dim"
    shape = [lo + hi + n + max(n - 1, 0) * it for n, (lo, hi, it) in zip(ins[0].shape, cfg, strict=True)]
    return _want(out, shape)


def _dynamic_slice(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    starts = ins[1:]
    if len(starts) != ins[0].ndim or any(s.shape != () or s.dtype is DType.FXP for s in starts):
        return f"needs {ins[0].ndim} int scalar start indices"
    return _want(out, attrs["slice_sizes"])


def _dynamic_update_slice(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    starts = ins[2:]
    if len(starts) != ins[0].ndim or any(s.shape != () or s.dtype is DType.FXP for s in starts):
        return f"needs {ins[0].ndim} int scalar start indices"
    if ins[1].ndim != ins[0].ndim:
        return f"update rank {ins[1].ndim} != operand rank {ins[0].ndim}"
    return _want(out, ins[0].shape)


def _scatter(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    return _want(out, ins[0].shape)


def _sort(ins: list[TensorType], outs: list[TensorType], attrs: _Attrs) -> str | None:
    """lax.sort: operands of one shape, one output per operand with its shape and dtype."""
    shape = ins[0].shape
    if any(t.shape != shape for t in ins):
        return f"sort operands differ in shape: {[t.shape for t in ins]}"
    if not _is_int(attrs["dimension"], lo=0) or attrs["dimension"] >= max(len(shape), 1):
        return f"dimension={attrs['dimension']!r} out of range for shape {shape}"
    if attrs["num_keys"] != 1:
        return f"num_keys={attrs['num_keys']!r}: veil sorts by one key"
    if len(outs) != len(ins) or any(not _same(o, i) for o, i in zip(outs, ins, strict=True)):
        return "sort outputs must match its operands (shape and dtype), one per operand"
    return None


def _top_k(ins: list[TensorType], outs: list[TensorType], attrs: _Attrs) -> str | None:
    """lax.top_k: (values of x's dtype, int indices), axis `axis` cut to k."""
    x, k, axis = ins[0], attrs["k"], attrs["axis"]
    if not _is_int(axis, lo=0) or axis >= x.ndim or not _is_int(k, lo=0) or k > x.shape[axis]:
        return f"k={k!r}, axis={axis!r} invalid for shape {x.shape}"
    shape = x.shape[:axis] + (k,) + x.shape[axis + 1 :]
    want = [TensorType(shape, x.dtype), TensorType(shape, DType.INT)]
    if len(outs) != 2 or any(not _same(o, w) for o, w in zip(outs, want, strict=True)):
        return f"top_k outputs must be ({shape} {x.dtype.value}, {shape} int)"
    return None


def _div_bcast(ins: list[TensorType], out: TensorType, attrs: _Attrs) -> str | None:
    """x / broadcast_in_dim(d): x has the output shape, d broadcasts to it."""
    problem = _broadcast([ins[1]], out, attrs)
    if problem is None and ins[0].shape != out.shape:
        problem = f"dividend shape {ins[0].shape} differs from the output {out.shape}"
    return problem


def _batch(ins: list[TensorType], outs: list[TensorType], attrs: _Attrs) -> str | None:
    """Each member's operands and output must pass the member op's own rule."""
    op, arity = attrs["op"], attrs["arity"]
    sig = SIGNATURES.get(op)
    if sig is None or sig.kind.value not in _KIND_RULES and op != "trunc":
        return f"op={op!r} is not a batchable elementwise op"
    if not _is_int(arity, lo=1) or (sig.n_in >= 0 and arity != sig.n_in) or len(ins) != arity * len(outs):
        return f"arity={arity!r} does not split {len(ins)} inputs over {len(outs)} members"
    rule = _RULES.get(op) or _KIND_RULES[sig.kind.value]
    member_attrs = dict(attrs["member_attrs"])
    for i, out in enumerate(outs):
        problem = rule(ins[i * arity : (i + 1) * arity], out, member_attrs)
        if problem:
            return f"member {i} ({op}): {problem}"
    return None


_KIND_RULES = {"unary": _unary, "binary": _binary, "compare": _compare}
_RULES = {
    "is_finite": _is_finite, "select_n": _select_n, "clamp": _clamp, "convert": _convert,
    "trunc": _trunc, "const": _const, "iota": _iota, "dot_general": _dot_general,
    "broadcast_in_dim": _broadcast, "reshape": _reshape, "transpose": _transpose,
    "reduce_sum": _reduce, "reduce_max": _reduce, "reduce_min": _reduce, "argmax": _argmax,
    "argmin": _argmax, "cumsum": _unary, "cummax": _unary, "rev": _unary, "squeeze": _squeeze,
    "concatenate": _concatenate, "slice": _slice, "pad": _pad, "dynamic_slice": _dynamic_slice,
    "dynamic_update_slice": _dynamic_update_slice, "scatter": _scatter, "scatter_add": _scatter,
    "div_bcast": _div_bcast,
}  # fmt: skip
_MULTI_RULES = {"sort": _sort, "top_k": _top_k, "batch": _batch}
