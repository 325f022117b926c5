"""Constant folding: safe ops on constants become constants with JAX semantics; the rest stays."""

from __future__ import annotations

import numpy as np
import pytest

from veil.ir.passes import const_fold
from veil.ir.program import Builder, Program, Value
from veil.ir.verify import verify

from .irlib import BOOL, FXP, INT, PUB, T, const, emit1, ops_of


def _fold(b: Builder, outs: list[Value]) -> Program:
    p = const_fold.run(b.finish(outs))
    verify(p, check_flow=True)
    return p


def _value(p: Program, v: Value) -> np.ndarray:
    op = next(op for op in p.walk() if v in op.outputs)
    assert op.opcode == "const", f"%{v.id} was not folded: {op.opcode}"
    return op.attrs["value"]


def test_arithmetic_chain_and_shapes() -> None:
    b = Builder()
    a = const(b, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    c = const(b, [[0.5] * 3] * 2)
    s = emit1(b, "add", [a, c], T((2, 3), FXP, PUB))
    m = emit1(b, "mul", [s, s], T((2, 3), FXP, PUB), trunc_bits=18)
    t = emit1(b, "transpose", [m], T((3, 2), FXP, PUB), permutation=(1, 0))
    r = emit1(b, "reshape", [t], T((6,), FXP, PUB), new_sizes=(6,))
    sl = emit1(b, "slice", [r], T((3,), FXP, PUB), start_indices=(1,), limit_indices=(6,), strides=(2,))
    cat = emit1(b, "concatenate", [sl, sl], T((6,), FXP, PUB), dimension=0)
    red = emit1(b, "reduce_sum", [a], T((3,), FXP, PUB), axes=(0,))
    cmp = emit1(b, "lt", [red, const(b, [5.0, 7.0, 10.0])], T((3,), BOOL, PUB))
    p = _fold(b, [cat, cmp])
    assert set(ops_of(p)) == {"const"}
    want = (np.array([[1, 2, 3], [4, 5, 6]]) + 0.5) ** 2
    np.testing.assert_allclose(_value(p, cat), np.tile(want.T.reshape(6)[1::2], 2))
    np.testing.assert_array_equal(_value(p, cmp), [False, False, True])
    assert _value(p, cat).dtype == np.float64 and _value(p, cmp).dtype == np.bool_


def test_jax_semantics_of_conversion_and_integer_division() -> None:
    b = Builder()
    f = const(b, [-2.7, 2.7, -0.5])
    i = emit1(b, "convert", [f], T((3,), INT, PUB), dtype=INT)
    q = emit1(b, "div", [const(b, [-7, 7, -7], INT), const(b, [2, -2, -2], INT)], T((3,), INT, PUB))
    r = emit1(b, "rem", [const(b, [-7, 7, -7], INT), const(b, [2, -2, -2], INT)], T((3,), INT, PUB))
    bo = emit1(b, "convert", [f], T((3,), BOOL, PUB), dtype=BOOL)
    p = _fold(b, [i, q, r, bo])
    np.testing.assert_array_equal(_value(p, i), [-2, 2, 0])
    np.testing.assert_array_equal(_value(p, q), [-3, -3, 3])
    np.testing.assert_array_equal(_value(p, r), [-1, 1, -1])
    assert _value(p, i).dtype == np.int64 and _value(p, bo).all()


def test_unsafe_folds_are_left_to_the_vm() -> None:
    b = Builder()
    zero_div = emit1(b, "div", [const(b, [1], INT), const(b, [0], INT)], T((1,), INT, PUB))
    log_neg = emit1(b, "log", [const(b, [-1.0])], T((1,), FXP, PUB))
    huge = emit1(
        b,
        "broadcast_in_dim",
        [const(b, 1.0)],
        T((300, 300), FXP, PUB),
        shape=(300, 300),
        broadcast_dimensions=(),
    )
    big_iota = emit1(b, "iota", [], T((100_000,), INT, PUB), shape=(100_000,), dimension=0)
    p = _fold(b, [zero_div, log_neg, huge, big_iota])
    assert ops_of(p).count("const") == 4  # only the inputs; nothing folded
    assert {"div", "log", "broadcast_in_dim", "iota"} <= set(ops_of(p))


def test_small_iota_and_broadcast_fold() -> None:
    b = Builder()
    io = emit1(b, "iota", [], T((2, 3), INT, PUB), shape=(2, 3), dimension=1)
    bc = emit1(b, "broadcast_in_dim", [const(b, [1.0, 2.0])], T((2, 3), FXP, PUB), shape=(2, 3),
               broadcast_dimensions=(0,))  # fmt: skip
    sel = emit1(b, "select_n", [const(b, [True, False, True], BOOL), const(b, [1, 2, 3], INT),
                                const(b, [4, 5, 6], INT)], T((3,), INT, PUB))  # fmt: skip
    p = _fold(b, [io, bc, sel])
    np.testing.assert_array_equal(_value(p, io), [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(_value(p, bc), [[1, 1, 1], [2, 2, 2]])
    np.testing.assert_array_equal(_value(p, sel), [4, 2, 6])


def test_ops_with_a_secret_input_stay_and_regions_fold() -> None:
    b = Builder()
    x = b.param(T((2,)))
    two = emit1(b, "add", [const(b, [1.0, 1.0]), const(b, [1.0, 1.0])], T((2,), FXP, PUB))
    y = emit1(b, "mul", [x, two], T((2,)))
    body = b.open_region([T((), INT, PUB), T((2,))])
    k = emit1(b, "exp", [const(b, [0.0, 1.0])], T((2,), FXP, PUB))
    b.close_region([emit1(b, "add", [body.params[1], k], T((2,)))])
    (out,) = b.emit("loop", [y], [T((2,))], {"trip_count": 1, "n_carries": 1}, [body])
    p = _fold(b, [out])
    np.testing.assert_allclose(_value(p, two), [2.0, 2.0])
    np.testing.assert_allclose(_value(p, k), [1.0, np.e])
    assert "mul" in ops_of(p) and "add" in ops_of(p)


@pytest.mark.parametrize("opcode", ["neg", "abs", "floor", "tanh", "logistic", "sqrt", "reciprocal"])
def test_unary_float_ops(opcode: str) -> None:
    x = np.array([0.25, 1.5, 4.0])
    ref = {"neg": -x, "abs": x, "floor": np.floor(x), "tanh": np.tanh(x), "logistic": 1 / (1 + np.exp(-x)),
           "sqrt": np.sqrt(x), "reciprocal": 1 / x}[opcode]  # fmt: skip
    b = Builder()
    y = emit1(b, opcode, [const(b, x)], T((3,), FXP, PUB))
    np.testing.assert_allclose(_value(_fold(b, [y]), y), ref)


def test_select_with_a_constant_selector_picks_its_case() -> None:
    """jnp.var's `where(count > 0, var, nan)`: the NaN default must vanish, not reach the VM."""
    b = Builder()
    x = b.param(T((4,)))
    nan = emit1(b, "broadcast_in_dim", [const(b, float("nan"))], T((4,), FXP, PUB), shape=(4,),
                broadcast_dimensions=())  # fmt: skip
    ok = emit1(b, "gt", [const(b, 5.0), const(b, 0.0)], T((), BOOL, PUB))
    y = emit1(b, "select_n", [ok, nan, x], x.type)
    z = emit1(b, "neg", [y], x.type)
    mixed = emit1(b, "select_n", [const(b, [True, False, True, True], BOOL), nan, x], x.type)
    p = _fold(b, [y, z, mixed])
    neg = next(op for op in p.walk() if op.opcode == "neg")
    assert p.outputs[0] is x and neg.inputs == [x]  # uses follow the chosen case
    assert p.outputs[2] is mixed  # a mixed selector stays a select
