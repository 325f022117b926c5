"""Tracing: pytrees, names, static args, public marking, Python scalars, output trees."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from veil.dtypes import DType, Visibility
from veil.errors import CompileError
from veil.frontend import Public, public, to_ir, trace

from .frontend_eval import check_against_jax, evaluate

S, P = Visibility.SECRET, Visibility.PUBLIC


def test_pytree_inputs_names_and_default_secret() -> None:
    params = {"dense0": {"kernel": np.ones((3, 2), np.float32), "bias": np.zeros(2, np.float32)}}

    def f(params, x):
        return x @ params["dense0"]["kernel"] + params["dense0"]["bias"]

    t = trace(f, (params, np.ones((4, 3), np.float32)), {})
    assert t.names == ["params/dense0/bias", "params/dense0/kernel", "x"]
    assert t.visibility == [S, S, S]
    assert [leaf.shape for leaf in t.leaves] == [(2,), (3, 2), (4, 3)]
    prog = to_ir(t)
    assert prog.input_names == t.names
    assert [v.type.vis for v in prog.inputs] == [S, S, S]
    assert prog.inputs[1].type.shape == (3, 2) and prog.inputs[1].type.dtype is DType.FXP


def test_public_marks_leaf_and_subtree() -> None:
    def f(a, tree, c):
        return a + tree["u"] + tree["v"] * c

    x = np.ones(3, np.float32)
    t = trace(f, (x, public({"u": x, "v": x}), public(x)), {})
    assert t.visibility == [S, P, P, P]
    assert isinstance(public(x), Public) and public(public(x)).value is x
    prog = to_ir(t)
    assert [v.type.vis for v in prog.inputs] == [S, P, P, P]
    # public + public stays public, anything touching the secret is secret
    assert prog.outputs[0].type.vis is S


def test_python_scalars_are_public_and_typed() -> None:
    def f(x, lr, n, flag):
        return x * lr + n, flag

    t = trace(f, (np.ones(2, np.float32), 0.5, 3, True), {})
    assert t.visibility == [S, P, P, P]
    prog = to_ir(t)
    assert [v.type.dtype for v in prog.inputs] == [DType.FXP, DType.FXP, DType.INT, DType.BOOL]
    got = evaluate(prog, t.leaves)
    np.testing.assert_allclose(got[0], np.full(2, 3.5))


def test_static_argnums_and_argnames_are_closed_over() -> None:
    def f(x, k, *, mode):
        return x * k if mode == "mul" else x + k

    x = np.arange(3, dtype=np.float32)
    t = trace(f, (x, 4), {"mode": "mul"}, static_argnums=(1,), static_argnames=("mode",))
    assert t.names == ["x"] and len(t.leaves) == 1
    np.testing.assert_allclose(evaluate(to_ir(t), t.leaves)[0], x * 4)
    t2 = trace(f, (x, 4), {"mode": "add"}, static_argnums=(-1,), static_argnames=("mode",))
    np.testing.assert_allclose(evaluate(to_ir(t2), t2.leaves)[0], x + 4)
    with pytest.raises(CompileError, match="static_argnums"):
        trace(f, (x, 4), {"mode": "add"}, static_argnums=(5,))


def test_kwargs_names_and_outputs_tree() -> None:
    def f(x, *, scale):
        return {"y": x * scale, "aux": (x.sum(), 2.0)}

    x = np.ones(3, np.float32)
    t = trace(f, (x,), {"scale": np.float32(2.0)})
    assert t.names == ["x", "scale"]
    assert t.out_names == ["out/aux/0", "out/aux/1", "out/y"]
    prog = to_ir(t)
    out = jax.tree_util.tree_unflatten(t.out_tree, evaluate(prog, t.leaves))
    np.testing.assert_allclose(out["y"], 2 * x)
    assert float(out["aux"][1]) == 2.0 and prog.outputs[1].type.vis is P  # a literal output


def test_jitted_function_and_identity_outputs() -> None:
    @jax.jit
    def f(x, y):
        return x, jnp.sin(y) + 1.0

    check_against_jax(f, (np.ones(3, np.float32), np.linspace(0, 1, 3).astype(np.float32)))
    prog = to_ir(trace(f, (np.ones(3, np.float32), np.ones(3, np.float32)), {}))
    assert prog.outputs[0] is prog.inputs[0]


def test_varargs_names() -> None:
    def f(*xs):
        return sum(xs)

    t = trace(f, (np.ones(2, np.float32), np.ones(2, np.float32)), {})
    assert t.names == ["xs/0", "xs/1"]
