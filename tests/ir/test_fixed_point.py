"""Fixed-point typing: trunc_bits on products, small-integer constant factors become ints."""

from __future__ import annotations

import numpy as np
import pytest

from veil.config import RuntimeConfig
from veil.ir.passes import dce, fixed_point
from veil.ir.program import Builder, Op, Program
from veil.ir.verify import verify

from .irlib import BOOL, FXP, INT, PUB, Interp, T, const, emit1

CFG = RuntimeConfig()  # FM64: f = 18


def _product(opcode: str, a_dtype, b_dtype) -> Op:
    b = Builder()
    shape = (2, 2)
    x = b.param(T(shape, a_dtype))
    y = b.param(T(shape, b_dtype))
    attrs = {"contracting": ((1,), (0,)), "batch": ((), ())} if opcode == "dot_general" else {}
    out = emit1(b, opcode, [x, y], T(shape, FXP if FXP in (a_dtype, b_dtype) else a_dtype), **attrs)
    p = fixed_point.run(b.finish([out]), CFG)
    verify(p)
    assert p.meta["fxp_bits"] == 18
    return p.body.ops[-1]


@pytest.mark.parametrize("opcode", ["mul", "dot_general"])
@pytest.mark.parametrize(
    "a, b, bits", [(FXP, FXP, 18), (INT, FXP, 0), (FXP, INT, 0), (BOOL, FXP, 0), (INT, INT, 0)]
)
def test_trunc_bits(opcode: str, a, b, bits: int) -> None:
    assert _product(opcode, a, b).attrs["trunc_bits"] == bits


def test_square_and_field_default() -> None:
    b = Builder()
    x = b.param(T((3,)))
    i = b.param(T((3,), INT))
    sq = emit1(b, "square", [x], x.type)
    isq = emit1(b, "square", [i], i.type)
    m = emit1(b, "mul", [x, x], x.type)
    p = fixed_point.run(b.finish([sq, isq, m]), RuntimeConfig(field="FM128"))
    assert [op.attrs["trunc_bits"] for op in p.body.ops] == [26, 0, 26]


def _times_const(value, shape=(3,), broadcast: bool = False, extra_use: bool = False) -> Program:
    b = Builder()
    x = b.param(T(shape))
    if broadcast:
        c = const(b, value)
        c = emit1(b, "broadcast_in_dim", [c], T(shape, FXP, PUB), shape=shape, broadcast_dimensions=())
    else:
        c = const(b, np.broadcast_to(np.asarray(value, np.float64), shape))
    y = emit1(b, "mul", [c, x], T(shape))
    outs = [y, emit1(b, "add", [x, c], T(shape))] if extra_use else [y]
    return b.finish(outs)


def _mul(p: Program) -> Op:
    return next(op for op in p.walk() if op.opcode == "mul")


@pytest.mark.parametrize("broadcast", [False, True])
def test_small_integer_constant_needs_no_truncation(broadcast: bool) -> None:
    p = fixed_point.run(_times_const([2.0, -3.0, 0.0] if not broadcast else 2.0, broadcast=broadcast), CFG)
    dce.run(p)
    verify(p)
    m = _mul(p)
    assert m.attrs["trunc_bits"] == 0 and m.inputs[0].type.dtype is INT
    consts = [op for op in p.walk() if op.opcode == "const"]
    assert len(consts) == 1 and consts[0].attrs["value"].dtype == np.int64
    x = np.array([0.5, -1.25, 3.0])
    want = x * (np.array([2.0, -3.0, 0.0]) if not broadcast else 2.0)
    np.testing.assert_allclose(Interp().run(p, [x])[0], want)


@pytest.mark.parametrize("value", [2.5, 2.0**20, float("inf")])
def test_other_constants_keep_fixed_point(value: float) -> None:
    p = fixed_point.run(_times_const(value), CFG)
    m = _mul(p)
    assert m.attrs["trunc_bits"] == 18 and m.inputs[0].type.dtype is FXP


def test_constant_shared_with_an_add_stays_fixed_point_there() -> None:
    p = fixed_point.run(_times_const(4.0, extra_use=True), CFG)
    verify(p)
    add = next(op for op in p.walk() if op.opcode == "add")
    assert add.inputs[1].type.dtype is FXP and _mul(p).inputs[0].type.dtype is INT
    x = np.array([1.0, 2.0, 3.0])
    got = Interp().run(p, [x])
    np.testing.assert_allclose(got[0], 4 * x)
    np.testing.assert_allclose(got[1], x + 4)


def test_products_inside_regions() -> None:
    b = Builder()
    x = b.param(T(()))
    body = b.open_region([T((), INT, PUB), x.type])
    y = emit1(b, "mul", [body.params[1], body.params[1]], x.type)
    b.close_region([y])
    (out,) = b.emit("loop", [x], [x.type], {"trip_count": 2, "n_carries": 1}, [body])
    fixed_point.run(b.finish([out]), CFG)
    assert y.id == body.ops[0].outputs[0].id and body.ops[0].attrs["trunc_bits"] == 18
