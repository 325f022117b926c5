"""Structural and type checks of IR programs; run on the frontend's output and after each pass.

`verify(program)` checks SSA (one definition per value, uses after definitions, closed regions),
op names, arity, required attributes, region signatures of `loop`/`while`/`cond`, shapes (the
per-op rules live in `veil.ir.shape_rules`) and well-formed visibilities. With `check_flow=True`
it also checks what the visibility pass guarantees: no op output is less secret than its inputs,
indices and predicates are public.
Every problem raises `CompileError` naming the op, its source location and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

from veil.errors import CompileError
from veil.ir.ops import CONTROL, INDEX_OPERANDS, MIN_INPUTS, MULTI_OUTPUT, SIGNATURES, required_attrs
from veil.ir.program import Op, Program, Region, Value
from veil.ir.shape_rules import check_shapes, is_int, same_type
from veil.ir.types import DType, TensorType, Visibility, join_vis, vis_leq

__all__ = ["check_shapes", "verify"]


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
    if "trunc_bits" in op.attrs and not is_int(op.attrs["trunc_bits"], lo=0):
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


def _match(op: Op, got: list[Value], want: list[TensorType], what: str) -> None:
    """`got` values must have the shapes/dtypes of `want`."""
    if len(got) != len(want):
        _fail(op, f"{what}: {len(got)} values, want {len(want)}")
    for i, (v, t) in enumerate(zip(got, want, strict=True)):
        if not same_type(v.type, t):
            _fail(op, f"{what}[{i}] is {v.type}, want shape {t.shape} dtype {t.dtype.value}")


def _check_control(op: Op, ctx: _Ctx) -> None:
    if op.opcode == "cond":
        _check_cond(op, ctx)
        return
    nc = op.attrs["n_carries"]
    if not is_int(nc, lo=0) or nc > len(op.inputs):
        _fail(op, f"n_carries={nc!r}: want an int in 0..{len(op.inputs)} (the number of inputs)")
    ins = [v.type for v in op.inputs]
    _match(op, op.outputs, ins[:nc], "outputs (must match the carries)")
    if op.opcode == "loop":
        if not is_int(op.attrs["trip_count"], lo=0):
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
