"""Elementwise rules: op names, explicit broadcasting, folds, and plaintext equivalence with JAX."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from veil.dtypes import DType, Visibility

from .frontend_eval import check_against_jax, lower, opcodes, ops

RNG = np.random.default_rng(0)
X = RNG.normal(size=(4, 3)).astype(np.float32)
Y = RNG.normal(size=(4, 3)).astype(np.float32)
POS = (np.abs(X) + 0.5).astype(np.float32)


@pytest.mark.parametrize(
    ("fn", "opcode"),
    [
        (jnp.negative, "neg"),
        (jnp.abs, "abs"),
        (jnp.sign, "sign"),
        (jnp.exp, "exp"),
        (jnp.log, "log"),
        (jnp.log1p, "log1p"),
        (jnp.expm1, "expm1"),
        (jnp.tanh, "tanh"),
        (jax.nn.sigmoid, "logistic"),
        (jnp.sqrt, "sqrt"),
        (lax.rsqrt, "rsqrt"),
        (lax.erf, "erf"),
        (jnp.sin, "sin"),
        (jnp.cos, "cos"),
        (jnp.floor, "floor"),
        (jnp.ceil, "ceil"),
        (jnp.round, "round"),
        (jnp.square, "square"),
        (jnp.isfinite, "is_finite"),
    ],
)
def test_unary(fn, opcode) -> None:
    prog = check_against_jax(fn, (POS,))
    (op,) = ops(prog, opcode)
    assert op.inputs[0] is prog.inputs[0] and op.outputs[0].type.shape == (4, 3)
    assert op.outputs[0].type.vis is Visibility.SECRET


@pytest.mark.parametrize(
    ("fn", "opcode"),
    [
        (jnp.add, "add"),
        (jnp.subtract, "sub"),
        (jnp.multiply, "mul"),
        (jnp.divide, "div"),
        (jnp.maximum, "max"),
        (jnp.minimum, "min"),
        (lax.rem, "rem"),
        (jnp.equal, "eq"),
        (jnp.not_equal, "ne"),
        (jnp.less, "lt"),
        (jnp.less_equal, "le"),
        (jnp.greater, "gt"),
        (jnp.greater_equal, "ge"),
    ],
)
def test_binary(fn, opcode) -> None:
    prog = check_against_jax(fn, (X, POS))
    (op,) = ops(prog, opcode)
    assert [v.type.shape for v in op.inputs] == [(4, 3), (4, 3)]
    want = DType.BOOL if opcode in ("eq", "ne", "lt", "le", "gt", "ge") else DType.FXP
    assert op.outputs[0].type.dtype is want


def test_logic_ops_on_bools() -> None:
    prog = check_against_jax(lambda x: ((x > 0) & (x < 1)) | ~(x > 2) ^ (x >= 3), (X,))
    assert {"and", "or", "not", "xor"} <= opcodes(prog)


def test_scalar_literal_is_a_public_const_broadcast() -> None:
    prog = lower(lambda x: x * 2.5, X)
    (mul,) = ops(prog, "mul")
    (bc,) = ops(prog, "broadcast_in_dim")
    (const,) = ops(prog, "const")
    assert mul.inputs[1] is bc.outputs[0] and bc.inputs[0] is const.outputs[0]
    assert bc.attrs == {"shape": (4, 3), "broadcast_dimensions": ()}
    v = const.attrs["value"]
    assert isinstance(v, np.ndarray) and v.dtype == np.float64 and v.shape == () and float(v) == 2.5
    assert const.outputs[0].type.vis is Visibility.PUBLIC and const.outputs[0].type.dtype is DType.FXP


def test_int_and_bool_consts_are_int64_and_bool() -> None:
    prog = lower(lambda n, b: (n + 3, b & True), np.arange(3, dtype=np.int32), np.ones(3, bool))
    values = [op.attrs["value"] for op in ops(prog, "const")]
    assert {v.dtype for v in values} == {np.dtype(np.int64), np.dtype(np.bool_)}


def test_size_one_dims_broadcast_like_numpy() -> None:
    # jax.nn.one_hot compares an (n, 1) array with a (1, k) iota
    prog = check_against_jax(lambda x: jax.nn.one_hot(jnp.argmax(x, 1), 3), (X,))
    (eq,) = ops(prog, "eq")
    assert [v.type.shape for v in eq.inputs] == [(4, 3), (4, 3)]


@pytest.mark.parametrize(
    ("y", "opcodes_"),
    [(2, {"square"}), (3, {"integer_pow"}), (-1, {"reciprocal"}), (-2, {"reciprocal", "square"})],
)
def test_integer_pow(y, opcodes_) -> None:
    prog = check_against_jax(lambda x: lax.integer_pow(x, y), (POS,), rtol=1e-3)
    assert opcodes_ <= opcodes(prog)
    if y == 3:
        assert ops(prog, "integer_pow")[0].attrs == {"y": 3}


def test_pow_with_known_exponents() -> None:
    assert "sqrt" in opcodes(check_against_jax(lambda x: x**0.5, (POS,)))
    assert "rsqrt" in opcodes(check_against_jax(lambda x: jnp.power(x, -0.5), (POS,)))
    assert "square" in opcodes(check_against_jax(lambda x: jnp.power(x, 2.0), (X,)))
    prog = check_against_jax(lambda x: x**1.5, (POS,))
    assert "pow" in opcodes(prog)
    assert "pow" in opcodes(check_against_jax(jnp.power, (POS, X)))


def test_exp2_erfc_tan_rewrites() -> None:
    prog = check_against_jax(jnp.exp2, (X,))
    assert opcodes(prog) >= {"mul", "exp"} and "exp2" not in opcodes(prog)
    consts = [float(op.attrs["value"]) for op in ops(prog, "const")]
    assert any(abs(c - math.log(2.0)) < 1e-12 for c in consts)
    assert {"erf", "sub"} <= opcodes(check_against_jax(lax.erfc, (X,)))
    assert {"sin", "cos", "div"} <= opcodes(check_against_jax(jnp.tan, (X / 4,)))


def test_select_n_and_clamp() -> None:
    prog = check_against_jax(lambda p, x, y: jnp.where(p > 0, x, y), (X, X, Y))
    (sel,) = ops(prog, "select_n")
    assert sel.inputs[0].type.dtype is DType.BOOL and len(sel.inputs) == 3
    prog = check_against_jax(lambda x: lax.clamp(-0.5, x, 0.5), (X,))
    (cl,) = ops(prog, "clamp")
    assert [v.type.shape for v in cl.inputs] == [(4, 3)] * 3
    check_against_jax(
        lambda i, a, b, c: lax.select_n(i, a, b, c),
        (np.array([0, 1, 2, 1], np.int32), X[:, 0], X[:, 1], X[:, 2]),
    )


def test_convert_element_type() -> None:
    prog = check_against_jax(
        lambda x: (x.astype(jnp.int32), (x > 0).astype(jnp.float32), (x > 0).astype(jnp.int32)), (X * 3,)
    )
    dtypes = [op.attrs["dtype"] for op in ops(prog, "convert")]
    assert dtypes == [DType.INT, DType.FXP, DType.INT]
    # same element kind (float32 -> float16 or weak-type changes) is no op
    assert "convert" not in opcodes(lower(lambda x: x.astype(jnp.float16), X))


def test_infinities_are_folded() -> None:
    # softplus's JVP compares with inf; max(x, -inf) appears in softmax
    prog = check_against_jax(jax.grad(lambda x: jax.nn.softplus(x).sum()), (X,))
    assert not (opcodes(prog) & {"eq", "ne", "select_n"})
    prog = lower(lambda x: (jnp.maximum(x, -jnp.inf), jnp.minimum(x, jnp.inf), x < jnp.inf, x != x), X)
    assert not (opcodes(prog) & {"max", "min", "lt", "ne"})
    prog = check_against_jax(lambda x: (x < jnp.inf, x == -jnp.inf, jnp.inf > x, x != x, x == x), (X,))


def test_activation_functions() -> None:
    def f(x):
        return (
            jax.nn.relu(x),
            jax.nn.silu(x),
            jax.nn.gelu(x),
            jax.nn.gelu(x, approximate=False),
            jax.nn.softplus(x),
            jax.nn.log_sigmoid(x),
            jax.nn.relu6(x),
            jax.nn.leaky_relu(x),
        )

    check_against_jax(f, (X,), rtol=1e-4, atol=1e-5)


def test_ops_record_user_location() -> None:
    prog = lower(lambda x: jnp.exp(x), X)
    (op,) = ops(prog, "exp")
    assert op.loc.startswith("exp at ") and "test_elementwise.py:" in op.loc
