"""Truncation fusion: one trunc after a sum of products, only when no 2f-scaled value escapes.

Every case is also run through the scale-tracking interpreter, which raises if a value at
scale 2f were added to one at scale f or returned.
"""

from __future__ import annotations

import numpy as np

from veil.config import RuntimeConfig
from veil.ir.passes import fixed_point, fuse_trunc
from veil.ir.program import Builder, Program, Value
from veil.ir.serialize import dumps, loads
from veil.ir.verify import verify

from .irlib import FXP, INT, PUB, Interp, T, const, emit1, ops_of

CFG = RuntimeConfig()


def _fuse(p: Program) -> tuple[Program, Program]:
    """(reference copy, fused program); products get trunc_bits from the fixed-point pass."""
    ref = loads(dumps(p))
    fixed_point.run(p, CFG)
    fuse_trunc.run(p, CFG)
    verify(p)
    return ref, p


def _check_same(ref: Program, p: Program, n_inputs: int, shape=(2, 3)) -> None:
    rng = np.random.default_rng(7)
    args = [rng.normal(size=shape) for _ in range(n_inputs)]
    for got, want in zip(Interp().run(p, args), Interp().run(ref, args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def _trunc_bits(p: Program) -> list[int]:
    return [op.attrs["trunc_bits"] for op in p.walk() if op.opcode in ("mul", "dot_general")]


def _inputs(b: Builder, n: int, shape=(2, 3)) -> list[Value]:
    return [b.param(T(shape)) for _ in range(n)]


def test_sum_of_three_products_truncates_once() -> None:
    b = Builder()
    x, y, z = _inputs(b, 3)
    t = x.type
    acc = emit1(b, "add", [emit1(b, "mul", [x, y], t), emit1(b, "neg", [emit1(b, "mul", [y, z], t)], t)], t)
    acc = emit1(b, "sub", [acc, emit1(b, "mul", [x, z], t)], t)
    ref, p = _fuse(b.finish([acc]))
    assert _trunc_bits(p) == [0, 0, 0]
    assert ops_of(p).count("trunc") == 1 and p.meta["truncs_saved"] == 2
    trunc = p.body.ops[-1]
    assert trunc.opcode == "trunc" and trunc.attrs == {"bits": 18} and trunc.outputs[0] is acc
    _check_same(ref, p, 3)


def test_matmul_sum_and_reduce() -> None:
    b = Builder()
    x, w1, w2 = b.param(T((2, 3))), b.param(T((3, 4))), b.param(T((3, 4)))
    dims = {"contracting": ((1,), (0,)), "batch": ((), ())}
    h = emit1(b, "add", [emit1(b, "dot_general", [x, w1], T((2, 4)), **dims),
                         emit1(b, "dot_general", [x, w2], T((2, 4)), **dims)], T((2, 4)))  # fmt: skip
    r = emit1(b, "reduce_sum", [emit1(b, "mul", [x, x], x.type)], T((2,)), axes=(1,))
    ref, p = _fuse(b.finish([h, r]))
    assert _trunc_bits(p) == [0, 0, 0] and ops_of(p).count("trunc") == 2
    assert p.meta["truncs_saved"] == 1 and p.meta["trunc_elements_saved"] == (8 + 8 - 8) + (6 - 2)
    rng = np.random.default_rng(3)
    args = [rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(3, 4))]
    for got, want in zip(Interp().run(p, args), Interp().run(ref, args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_no_fusion_when_a_product_escapes_or_a_term_is_not_a_product() -> None:
    b = Builder()
    x, y, z = _inputs(b, 3)
    t = x.type
    shared = emit1(b, "mul", [x, y], t)
    s1 = emit1(b, "add", [shared, emit1(b, "mul", [y, z], t)], t)  # `shared` is also returned
    s2 = emit1(b, "add", [emit1(b, "mul", [x, z], t), z], t)  # z is at scale f, not 2f
    lone = emit1(b, "neg", [emit1(b, "mul", [z, z], t)], t)  # one product, no reduce: nothing to gain
    twice = emit1(b, "mul", [x, x], t)
    s3 = emit1(b, "add", [twice, twice], t)  # same product twice: used twice
    ref, p = _fuse(b.finish([s1, shared, s2, lone, s3]))
    assert ops_of(p).count("trunc") == 0 and p.meta["truncs_saved"] == 0
    assert set(_trunc_bits(p)) == {18}
    _check_same(ref, p, 3)


def test_integer_factor_products_are_not_leaves() -> None:
    b = Builder()
    x, y = _inputs(b, 2)
    t = x.type
    three = emit1(
        b, "broadcast_in_dim", [const(b, 3.0)], T((2, 3), FXP, PUB), shape=(2, 3), broadcast_dimensions=()
    )
    s = emit1(b, "add", [emit1(b, "mul", [x, three], t), emit1(b, "mul", [x, y], t)], t)
    ref, p = _fuse(b.finish([s]))
    assert ops_of(p).count("trunc") == 0 and sorted(_trunc_bits(p)) == [0, 18]
    assert any(op.opcode == "const" and op.outputs[0].type.dtype is INT for op in p.walk())
    _check_same(ref, p, 2)


def test_partial_tree_inside_a_loop_body() -> None:
    b = Builder()
    x, y = _inputs(b, 2)
    t = x.type
    body = b.open_region([T((), INT, PUB), t, t])
    _, c, k = body.params
    inner = emit1(b, "add", [emit1(b, "mul", [c, k], t), emit1(b, "mul", [k, k], t)], t)
    b.close_region([emit1(b, "add", [inner, c], t)])  # the outer add mixes in c: not fused
    (out,) = b.emit("loop", [x, y], [t], {"trip_count": 3, "n_carries": 1}, [body])
    ref, p = _fuse(b.finish([out]))
    assert ops_of(p) == ["loop", "mul", "mul", "add", "trunc", "add"]
    assert p.meta["truncs_saved"] == 1
    rng = np.random.default_rng(5)
    args = [rng.normal(size=(2, 3)) * 0.3, rng.normal(size=(2, 3)) * 0.3]
    np.testing.assert_allclose(Interp().run(p, args)[0], Interp().run(ref, args)[0], rtol=1e-12)


def test_sum_of_squares_truncates_after_the_reduction() -> None:
    b = Builder()
    (x,) = _inputs(b, 1)
    r = emit1(b, "reduce_sum", [emit1(b, "square", [x], x.type)], T((2,)), axes=(1,))
    ref, p = _fuse(b.finish([r]))
    sq = next(op for op in p.walk() if op.opcode == "square")
    assert sq.attrs["trunc_bits"] == 0 and ops_of(p) == ["square", "reduce_sum", "trunc"]
    _check_same(ref, p, 1)
