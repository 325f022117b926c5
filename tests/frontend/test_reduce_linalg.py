"""Reductions, arg-reductions, cumulative ops and dot_general."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from veil.dtypes import DType
from veil.errors import UnsupportedOpError

from .frontend_eval import check_against_jax, lower, opcodes, ops

RNG = np.random.default_rng(2)
X = RNG.normal(size=(5, 3)).astype(np.float32)


def test_reductions() -> None:
    prog = check_against_jax(lambda x: (jnp.sum(x, 0), jnp.max(x), jnp.min(x, 1), jnp.mean(x)), (X,))
    assert [op.attrs for op in ops(prog, "reduce_sum")] == [{"axes": (0,)}, {"axes": (0, 1)}]
    assert ops(prog, "reduce_max")[0].attrs == {"axes": (0, 1)}
    assert ops(prog, "reduce_min")[0].attrs == {"axes": (1,)}


def test_bool_reductions_become_min_max() -> None:
    prog = check_against_jax(lambda x: (jnp.any(x > 0, 0), jnp.all(x > -1), jnp.sum(x > 0)), (X,))
    assert "reduce_and" not in opcodes(prog) and "reduce_or" not in opcodes(prog)
    (rmax,) = ops(prog, "reduce_max")
    (rmin,) = ops(prog, "reduce_min")
    assert rmax.inputs[0].type.dtype is DType.BOOL and rmin.inputs[0].type.dtype is DType.BOOL
    assert ops(prog, "reduce_sum")[0].outputs[0].type.dtype is DType.INT


def test_bitwise_int_reduction_is_unsupported() -> None:
    with pytest.raises(UnsupportedOpError, match="reduce_or"):
        lower(lambda n: lax.reduce_or(n, (0,)), np.arange(4, dtype=np.int32))


def test_argmax_argmin() -> None:
    prog = check_against_jax(lambda x: (jnp.argmax(x, axis=1), jnp.argmin(x, axis=0)), (X,))
    (am,) = ops(prog, "argmax")
    assert am.attrs == {"axis": 1} and am.outputs[0].type.dtype is DType.INT
    assert ops(prog, "argmin")[0].attrs == {"axis": 0}


def test_cumulative() -> None:
    prog = check_against_jax(lambda x: (jnp.cumsum(x, axis=0), lax.cumsum(x, axis=1, reverse=True)), (X,))
    assert [op.attrs for op in ops(prog, "cumsum")] == [
        {"axis": 0, "reverse": False},
        {"axis": 1, "reverse": True},
    ]
    prog = check_against_jax(lambda x: (lax.cummax(x, axis=1), lax.cummin(x, axis=0, reverse=True)), (X,))
    assert [op.attrs for op in ops(prog, "cummax")] == [
        {"axis": 1, "reverse": False},
        {"axis": 0, "reverse": True},
    ]
    with pytest.raises(UnsupportedOpError, match="cumprod"):
        lower(lambda x: lax.cumprod(x, axis=0), X)


def test_dot_general_matmul_and_batched() -> None:
    w = RNG.normal(size=(3, 4)).astype(np.float32)
    prog = check_against_jax(lambda x, w: x @ w, (X, w))
    (dg,) = ops(prog, "dot_general")
    assert dg.attrs == {"contracting": ((1,), (0,)), "batch": ((), ())}
    assert dg.outputs[0].type.shape == (5, 4) and dg.outputs[0].type.dtype is DType.FXP
    a = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    b = RNG.normal(size=(2, 4, 3)).astype(np.float32)
    prog = check_against_jax(lambda a, b: jnp.einsum("bik,bjk->bij", a, b), (a, b))
    (dg,) = ops(prog, "dot_general")
    assert dg.attrs == {"contracting": ((2,), (2,)), "batch": ((0,), (0,))}
    check_against_jax(lambda x: jnp.vdot(x, x), (X,))
    check_against_jax(lambda x, v: jnp.matmul(x, v), (X, X[0]))


def test_int_matmul() -> None:
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    prog = check_against_jax(lambda a: a @ a.T, (a,))
    assert ops(prog, "dot_general")[0].outputs[0].type.dtype is DType.INT
