"""Control flow: inlined calls, scan -> loop, while -> loop/while, cond -> cond regions."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from veil.dtypes import DType, Visibility
from veil.errors import CompileError
from veil.frontend import public

from .frontend_eval import check_against_jax, lower, opcodes, ops

RNG = np.random.default_rng(3)
X = RNG.normal(size=(5, 3)).astype(np.float32)


def test_calls_are_inlined() -> None:
    @jax.custom_vjp
    def f(x):
        return x * 2

    f.defvjp(lambda x: (f(x), None), lambda r, g: (g * 2,))

    @jax.custom_jvp
    def h(x):
        return jnp.sin(x)

    h.defjvp(lambda p, t: (h(p[0]), jnp.cos(p[0]) * t[0]))

    def g(x, w):
        return jax.jit(lambda z: z * w)(x) + f(x) + h(x) + jax.checkpoint(lambda y: jnp.cos(y) * w)(x)

    prog = check_against_jax(g, (X, X[0]))
    assert not opcodes(prog) & {"jit", "pjit", "custom_vjp_call", "custom_jvp_call", "remat2", "loop", "cond"}
    check_against_jax(jax.grad(lambda x: (jax.checkpoint(jnp.sin)(x) * h(x)).sum()), (X,))
    check_against_jax(jax.grad(lambda x: f(x).sum()), (X,))


def test_identities_emit_nothing() -> None:
    def f(x):
        return (
            lax.stop_gradient(x)
            + lax.reduce_precision(x, exponent_bits=8, mantissa_bits=23)
            + lax.optimization_barrier(x)
        )

    prog = check_against_jax(f, (X,))
    assert opcodes(prog) == {"add"}


def test_scan_becomes_loop_with_sliced_xs_and_stacked_ys() -> None:
    prog = check_against_jax(lambda c, xs: lax.scan(lambda c, x: (c + x, c * x), c, xs), (X[0], X))
    (loop,) = ops(prog, "loop")
    assert loop.attrs == {"trip_count": 5, "n_carries": 2}
    body = loop.regions[0]
    iv = body.params[0]
    assert iv.type.vis is Visibility.PUBLIC and iv.type.dtype is DType.INT and iv.type.shape == ()
    inner = [op.opcode for op in body.ops]
    assert "dynamic_slice" in inner and "dynamic_update_slice" in inner
    ds = next(op for op in body.ops if op.opcode == "dynamic_slice")
    assert ds.inputs[1] is iv and ds.attrs == {"slice_sizes": (1, 3)}
    # carries widened to secret once the body writes secret ys into the zero buffer
    assert [v.type.vis for v in loop.outputs] == [Visibility.SECRET, Visibility.SECRET]
    assert [v.type.vis for v in body.params[1:3]] == [Visibility.SECRET, Visibility.SECRET]


def test_scan_reverse_consts_and_no_ys() -> None:
    prog = check_against_jax(
        lambda c, xs: lax.scan(lambda c, x: (c + x, c * x), c, xs, reverse=True), (X[0], X)
    )
    (loop,) = ops(prog, "loop")
    assert "sub" in [op.opcode for op in loop.regions[0].ops]
    check_against_jax(lambda w, xs: lax.scan(lambda c, x: (c + x * w, None), jnp.zeros(3), xs)[0], (X[1], X))
    check_against_jax(lambda xs: lax.scan(lambda c, x: (c, (x.sum(), x * 2)), 0.0, xs)[1], (X,))


def test_counted_while_becomes_loop() -> None:
    def f(x):
        return lax.while_loop(lambda c: c[0] < 10, lambda c: (c[0] + 1, c[1] * 1.1), (0, x))

    prog = check_against_jax(f, (X,))
    (loop,) = ops(prog, "loop")
    assert loop.attrs["trip_count"] == 10 and "while" not in opcodes(prog)
    prog = check_against_jax(lambda x: lax.fori_loop(2, 7, lambda i, c: c * 2 + i, x), (X,))
    assert ops(prog, "loop")[0].attrs["trip_count"] == 5


def test_public_bound_stays_while() -> None:
    prog = check_against_jax(lambda x, n: lax.fori_loop(0, n, lambda i, c: c * 2, x), (X, 3))
    (w,) = ops(prog, "while")
    assert w.attrs == {"n_carries": 3} and len(w.regions) == 2
    cond = w.regions[0]
    assert cond.results[0].type.dtype is DType.BOOL and cond.results[0].type.vis is Visibility.PUBLIC


def test_while_with_consts() -> None:
    def f(x, lim):
        return lax.while_loop(lambda c: c[0] < lim, lambda c: (c[0] + 1.0, c[1] + lim), (0.0, x))

    prog = check_against_jax(f, (X, 4.0))
    (w,) = ops(prog, "while")
    assert len(w.inputs) == 4  # 2 carries, 2 consts (cond's lim, body's lim)


def test_secret_while_predicate_is_a_compile_error() -> None:
    def f(x):
        return lax.while_loop(lambda c: c.sum() < 10.0, lambda c: c * 2, x)

    with pytest.raises(CompileError, match=r"while_loop predicate is secret .*test_control.py:\d+"):
        lower(f, X)


def test_cond_with_secret_predicate() -> None:
    def f(p, x):
        return lax.cond(p > 0, lambda x: x * 2, lambda x: x - 1, x)

    for p in (np.float32(1.0), np.float32(-1.0)):
        prog = check_against_jax(f, (p, X))
    (c,) = ops(prog, "cond")
    assert len(c.regions) == 2 and c.inputs[0].type.vis is Visibility.SECRET
    assert c.inputs[0].type.dtype is DType.INT and c.outputs[0].type.vis is Visibility.SECRET
    assert [op.opcode for op in c.regions[0].ops][-1] == "sub"  # branch 0 is the false branch


def test_switch_and_public_index() -> None:
    def f(i, x):
        return lax.switch(i, [lambda x: x * 2, lambda x: x - 1, jnp.exp], x)

    prog = check_against_jax(f, (public(np.int32(2)), X))
    (c,) = ops(prog, "cond")
    assert len(c.regions) == 3 and c.inputs[0].type.vis is Visibility.PUBLIC
    # a branch whose result does not depend on secrets: output public only if index and all are
    prog = check_against_jax(lambda i, x: lax.cond(i > 0, lambda: 1.0, lambda: 2.0), (3, X))
    assert "cond" in opcodes(prog) and prog.outputs[0].type.vis is Visibility.PUBLIC


def test_known_index_inlines_the_branch() -> None:
    prog = check_against_jax(lambda x: lax.cond(True, lambda x: x * 2, jnp.exp, x), (X,))
    assert "cond" not in opcodes(prog) and "exp" not in opcodes(prog)


def test_nested_control_flow() -> None:
    def f(xs, p):
        def body(c, x):
            c = lax.cond(p > 0, lambda c: c + x, lambda c: c - x, c)
            return c, jnp.cumsum(c)

        return lax.scan(body, jnp.zeros(3), xs)

    check_against_jax(f, (X, np.float32(0.5)))
    check_against_jax(
        lambda x: lax.fori_loop(0, 3, lambda i, c: lax.fori_loop(0, 2, lambda j, d: d * 1.5, c), x), (X,)
    )
