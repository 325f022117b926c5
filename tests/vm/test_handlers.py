"""Op handlers through the VM: one-op programs vs numpy / jax.lax, incl. attrs the frontend sets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from tests.hal.runner import BOOL, FXP, INT, Arg, config, params, private, public, run, secret, ulp
from veil.dtypes import DType, Visibility
from veil.ir.ops import SIGNATURES
from veil.ir.program import Builder
from veil.ir.types import TensorType
from veil.vm.dispatch import table
from veil.vm.interpreter import run_program

RNG = np.random.default_rng(9)


def _type(a: Arg) -> TensorType:
    return TensorType(tuple(np.shape(a.value)), a.dtype, a.vis, a.owner)


def one_op(
    cfg: Any,
    opcode: str,
    args: Sequence[Arg],
    out: Sequence[tuple[tuple[int, ...], DType, Visibility]],
    attrs: dict[str, Any] | None = None,
) -> Any:
    b = Builder()
    params_ = [b.param(_type(a)) for a in args]
    outs = b.emit(opcode, params_, [TensorType(s, d, v) for s, d, v in out], attrs or {})
    prog = b.finish(outs)
    return run(cfg, lambda ctx, *vals: run_program(prog, list(vals), ctx), *args)


SEC, PUB = Visibility.SECRET, Visibility.PUBLIC


def test_every_ir_op_has_a_handler() -> None:
    assert set(SIGNATURES) <= set(table())


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_elementwise_ops(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x, y = RNG.uniform(-3, 3, 6), RNG.uniform(-3, 3, 6)
    cases = [
        ("add", x + y),
        ("sub", x - y),
        ("mul", x * y),
        ("max", np.maximum(x, y)),
        ("min", np.minimum(x, y)),
    ]
    for opcode, want in cases:
        r = one_op(cfg, opcode, [secret(x), secret(y)], [((6,), FXP, SEC)])
        np.testing.assert_allclose(r.outputs[0], want, atol=8 * ulp(cfg), err_msg=opcode)
    for opcode, want in [
        ("neg", -x),
        ("abs", np.abs(x)),
        ("sign", np.sign(x)),
        ("square", x * x),
        ("floor", np.floor(x)),
        ("ceil", np.ceil(x)),
        ("round", np.round(x)),
        ("copy", x),
    ]:
        r = one_op(cfg, opcode, [secret(x)], [((6,), FXP, SEC)])
        np.testing.assert_allclose(r.outputs[0], want, atol=8 * ulp(cfg), err_msg=opcode)
    for opcode, fn in [
        ("lt", np.less),
        ("le", np.less_equal),
        ("gt", np.greater),
        ("ge", np.greater_equal),
        ("eq", np.equal),
        ("ne", np.not_equal),
    ]:
        r = one_op(cfg, opcode, [secret(x), secret(np.where(x > 0, x, y))], [((6,), BOOL, SEC)])
        np.testing.assert_array_equal(r.outputs[0], fn(x, np.where(x > 0, x, y)), err_msg=opcode)


@pytest.mark.parametrize("proto,field", params())
def test_select_n_clamp_convert_pow(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x, y, z = (RNG.uniform(-3, 3, 5) for _ in range(3))
    which = np.array([0, 1, 2, 1, 0])
    r = one_op(cfg, "select_n", [secret(which, INT), secret(x), secret(y), secret(z)], [((5,), FXP, SEC)])
    np.testing.assert_allclose(r.outputs[0], np.asarray(lax.select_n(which, x, y, z)), atol=ulp(cfg))
    pred = (x > 0).astype(np.int64)
    r = one_op(cfg, "select_n", [secret(pred, BOOL), secret(x), secret(y)], [((5,), FXP, SEC)])
    np.testing.assert_allclose(r.outputs[0], np.where(pred, y, x), atol=ulp(cfg))
    r = one_op(
        cfg, "clamp", [public(np.float64(-1.0)), secret(x), public(np.float64(0.5))], [((5,), FXP, SEC)]
    )
    np.testing.assert_allclose(r.outputs[0], np.clip(x, -1.0, 0.5), atol=ulp(cfg))
    r = one_op(cfg, "convert", [secret(x)], [((5,), INT, SEC)], {"dtype": DType.INT})
    np.testing.assert_array_equal(r.outputs[0], np.trunc(x))
    r = one_op(cfg, "integer_pow", [secret(x)], [((5,), FXP, SEC)], {"y": 3})
    np.testing.assert_allclose(r.outputs[0], x**3, atol=1e-3)
    r = one_op(cfg, "pow", [secret(x), public(np.full(5, 2.0))], [((5,), FXP, SEC)])
    np.testing.assert_allclose(r.outputs[0], x**2, atol=1e-3)
    r = one_op(cfg, "round", [secret(np.array([0.5, 1.5, -2.5]))], [((3,), FXP, SEC)], {"rounding_method": 0})
    np.testing.assert_array_equal(r.outputs[0], [1.0, 2.0, -3.0])


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_int_and_bool_ops(proto: str, field: str) -> None:
    cfg = config(proto, field)
    a, b = RNG.integers(-20, 20, 6), np.array([3, -4, 5, 7, 2, -3])
    for opcode, want in [
        ("add", a + b),
        ("mul", a * b),
        ("div", np.trunc(a / b)),
        ("rem", np.fmod(a, b)),
        ("and", a & b),
        ("or", a | b),
        ("xor", a ^ b),
    ]:
        r = one_op(cfg, opcode, [secret(a, INT), public(b, INT)], [((6,), INT, SEC)])
        np.testing.assert_array_equal(r.outputs[0], want, err_msg=opcode)
    p, q = (a > 0).astype(np.int64), (b > 0).astype(np.int64)
    for opcode, want in [("and", p & q), ("or", p | q), ("xor", p ^ q)]:
        r = one_op(cfg, opcode, [secret(p, BOOL), secret(q, BOOL)], [((6,), BOOL, SEC)])
        np.testing.assert_array_equal(r.outputs[0], want, err_msg=opcode)
    r = one_op(cfg, "not", [secret(p, BOOL)], [((6,), BOOL, SEC)])
    np.testing.assert_array_equal(r.outputs[0], 1 - p)


def test_const_iota_is_finite() -> None:
    cfg = config("ref2k", world=1)
    b = Builder()
    outs = [
        *b.emit("const", [], [TensorType((2, 2), FXP, PUB)], {"value": np.array([[1.5, 2.0], [0.0, -1.0]])}),
        *b.emit("iota", [], [TensorType((2, 3), INT, PUB)], {"shape": (2, 3), "dimension": 1}),
    ]
    (fin,) = b.emit("is_finite", [outs[0]], [TensorType((2, 2), BOOL, PUB)])
    prog = b.finish([*outs, fin])
    r = run(cfg, lambda ctx: run_program(prog, [], ctx))
    np.testing.assert_array_equal(r.outputs[0], [[1.5, 2.0], [0.0, -1.0]])
    np.testing.assert_array_equal(r.outputs[1], [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(r.outputs[2], np.ones((2, 2)))


@pytest.mark.parametrize("proto,field", params())
def test_linalg_shape_reduce_handlers(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x, w = RNG.uniform(-2, 2, (3, 4)), RNG.uniform(-2, 2, (4, 2))
    r = one_op(
        cfg,
        "dot_general",
        [secret(x), secret(w)],
        [((3, 2), FXP, SEC)],
        {"contracting": ((1,), (0,)), "batch": ((), ())},
    )
    np.testing.assert_allclose(r.outputs[0], x @ w, atol=1e-4)
    checks = [
        ("transpose", {"permutation": (1, 0)}, x.T),
        ("reshape", {"new_sizes": (2, 6)}, x.reshape(2, 6)),
        ("rev", {"dimensions": (1,)}, x[:, ::-1]),
        ("slice", {"start_indices": (1, 0), "limit_indices": (3, 4), "strides": (1, 2)}, x[1:3, ::2]),
        (
            "broadcast_in_dim",
            {"shape": (2, 3, 4), "broadcast_dimensions": (1, 2)},
            np.broadcast_to(x, (2, 3, 4)),
        ),
        ("reduce_sum", {"axes": (1,)}, x.sum(1)),
        ("reduce_max", {"axes": (0,)}, x.max(0)),
        ("reduce_min", {"axes": (0, 1)}, x.min()),
        ("cumsum", {"axis": 1, "reverse": False}, np.cumsum(x, 1)),
        ("cummax", {"axis": 0, "reverse": False}, np.maximum.accumulate(x, 0)),
    ]
    for opcode, attrs, want in checks:
        r = one_op(cfg, opcode, [secret(x)], [(np.shape(want), FXP, SEC)], attrs)
        np.testing.assert_allclose(r.outputs[0], want, atol=8 * ulp(cfg), err_msg=opcode)
    r = one_op(cfg, "argmax", [secret(x)], [((3,), INT, SEC)], {"axis": 1})
    np.testing.assert_array_equal(r.outputs[0], x.argmax(1))


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_indexing_handlers(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x = RNG.uniform(-2, 2, (4, 3))
    dn = lax.GatherDimensionNumbers(offset_dims=(1,), collapsed_slice_dims=(0,), start_index_map=(0,))
    idx = np.array([[2], [0], [2]])
    attrs = {"dimension_numbers": dn, "slice_sizes": (1, 3), "mode": "promise_in_bounds", "fill_value": None}
    r = one_op(cfg, "gather", [secret(x), public(idx, INT)], [((3, 3), FXP, SEC)], attrs)
    np.testing.assert_allclose(r.outputs[0], x[[2, 0, 2]], atol=ulp(cfg))
    sdn = lax.ScatterDimensionNumbers(
        update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,)
    )
    u = RNG.uniform(-2, 2, (3, 3))
    r = one_op(
        cfg,
        "scatter_add",
        [secret(x), public(idx, INT), secret(u)],
        [((4, 3), FXP, SEC)],
        {"dimension_numbers": sdn, "mode": "fill"},
    )
    np.testing.assert_allclose(
        r.outputs[0], np.asarray(jnp.asarray(x).at[jnp.array([2, 0, 2])].add(u)), atol=4 * ulp(cfg)
    )
    r = one_op(
        cfg,
        "dynamic_slice",
        [secret(x), public(np.int64(3), INT), public(np.int64(1), INT)],
        [((2, 2), FXP, SEC)],
        {"slice_sizes": (2, 2)},
    )
    np.testing.assert_allclose(r.outputs[0], x[2:4, 1:3], atol=ulp(cfg))
    r = one_op(
        cfg,
        "pad",
        [secret(x), public(np.float64(0.0))],
        [((5, 5), FXP, SEC)],
        {"padding_config": ((1, 0, 0), (0, 2, 0))},
    )
    np.testing.assert_allclose(r.outputs[0], np.pad(x, ((1, 0), (0, 2))), atol=ulp(cfg))


@pytest.mark.parametrize("proto,field", params())
def test_nonlinear_public_and_private_are_local(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x = RNG.uniform(0.5, 2, 5)
    for opcode, fn in [
        ("exp", np.exp),
        ("log", np.log),
        ("tanh", np.tanh),
        ("logistic", lambda v: 1 / (1 + np.exp(-v))),
        ("rsqrt", lambda v: v**-0.5),
        ("erf", None),
    ]:
        r = one_op(cfg, opcode, [public(x)], [((5,), FXP, PUB)])
        want = fn(x) if fn is not None else np.asarray(lax.erf(x))
        np.testing.assert_allclose(r.outputs[0], want, rtol=1e-5, atol=2 * ulp(cfg), err_msg=opcode)
        assert sum(s.online.bytes_sent for s in r.stats) == 0
    b = Builder()
    p = b.param(TensorType((5,), FXP, Visibility.PRIVATE, 1))
    (e,) = b.emit("exp", [p], [TensorType((5,), FXP, Visibility.PRIVATE, 1)])
    prog = b.finish([e])
    r = run(cfg, lambda ctx, v: run_program(prog, [v], ctx), private(x, 1))
    np.testing.assert_allclose(r.outputs[0], np.exp(x), atol=4 * ulp(cfg))
    assert r.values[0][0].payload is None and sum(s.online.bytes_sent for s in r.stats) == 0


SECRET_NONLINEAR = [
    ("exp", "f_exp", np.exp, (-2.0, 1.5), 2e-2),
    ("log", "f_log", np.log, (0.2, 5.0), 1e-2),
    ("reciprocal", "f_reciprocal", np.reciprocal, (0.3, 5.0), 1e-2),
    ("sqrt", "f_sqrt", np.sqrt, (0.2, 5.0), 1e-2),
    ("rsqrt", "f_rsqrt", lambda v: v**-0.5, (0.2, 5.0), 1e-2),
    ("logistic", "f_sigmoid", lambda v: 1 / (1 + np.exp(-v)), (-4.0, 4.0), 1e-2),
    ("tanh", "f_tanh", np.tanh, (-3.0, 3.0), 1e-2),
]


@pytest.mark.parametrize("opcode,name,fn,rng,tol", SECRET_NONLINEAR, ids=[c[0] for c in SECRET_NONLINEAR])
def test_secret_nonlinear_calls_approx(
    opcode: str, name: str, fn: Any, rng: tuple[float, float], tol: float
) -> None:
    import veil.hal.approx as approx

    if not hasattr(approx, name):
        pytest.skip(f"veil.hal.approx.{name} not landed yet")
    cfg = config("semi2k")
    x = np.linspace(*rng, 9)
    r = one_op(cfg, opcode, [secret(x)], [((9,), FXP, SEC)])
    np.testing.assert_allclose(r.outputs[0], fn(x), atol=tol, rtol=tol)
    assert sum(s.online.bytes_sent for s in r.stats) > 0
