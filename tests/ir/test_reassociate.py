"""Reassociation: in a product chain the late operand (an rsqrt, a tanh) is multiplied last, so
the other products run while it is computed; values stay those of plaintext JAX."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import HealthCheck, given, settings

import veil
from veil.config import RuntimeConfig
from veil.frontend import to_ir, trace
from veil.ir.passes import PASSES, compile_program, reassociate
from veil.ir.program import Builder, Program
from veil.ir.serialize import dumps, loads

from .irlib import Interp, T, emit1, random_programs

RNG = np.random.default_rng(3)
X, G = RNG.normal(size=(4, 8)), RNG.normal(size=8)


def _norm(x, g):
    """LayerNorm without the bias: (x - mean) * rsqrt(var) * gamma."""
    c = x - x.mean(-1, keepdims=True)
    return c * jax.lax.rsqrt((c * c).mean(-1, keepdims=True) + 1e-5) * g


def _program(fn, *args) -> Program:
    return to_ir(trace(fn, args, {}))


def test_late_operand_moves_last() -> None:
    b = Builder()
    a, x, c = b.param(T((3,))), b.param(T((3,))), b.param(T((3,)))
    late = emit1(b, "exp", [emit1(b, "exp", [x], x.type)], x.type)  # two nonlinear ops deep
    out = emit1(b, "mul", [emit1(b, "mul", [a, late], a.type), c], a.type)
    p = b.finish([out])
    ref = loads(dumps(p))
    reassociate.run(p)
    assert p.meta["reassociated"] == 1
    final = p.body.ops[-1]
    assert final.opcode == "mul" and late.id in [v.id for v in final.inputs]
    args = [RNG.normal(size=3) for _ in range(3)]
    np.testing.assert_allclose(Interp().run(p, args)[0], Interp().run(ref, args)[0])


def test_through_a_negation() -> None:
    """-(a * late) * c -> -((a * c) * late): the logistic-regression gradient's shape."""
    b = Builder()
    a, x, c = b.param(T((3,))), b.param(T((3,))), b.param(T((3,)))
    late = emit1(b, "tanh", [emit1(b, "exp", [x], x.type)], x.type)
    neg = emit1(b, "neg", [emit1(b, "mul", [a, late], a.type)], a.type)
    p = b.finish([emit1(b, "mul", [neg, c], a.type)])
    ref = loads(dumps(p))
    reassociate.run(p)
    assert p.meta["reassociated"] == 1 and [op.opcode for op in p.body.ops[-3:]] == ["mul", "mul", "neg"]
    args = [RNG.normal(size=3) for _ in range(3)]
    np.testing.assert_allclose(Interp().run(p, args)[0], Interp().run(ref, args)[0])


def test_common_factor_is_pulled_out() -> None:
    """l * a - l * b -> l * (a - b): one product fewer (the logistic-regression gradient)."""
    b = Builder()
    l_, a, c = b.param(T((3,))), b.param(T((3,))), b.param(T((3,)))
    p1, p2 = emit1(b, "mul", [l_, a], a.type), emit1(b, "mul", [c, l_], a.type)
    p = b.finish([emit1(b, "sub", [emit1(b, "neg", [p1], a.type), p2], a.type)])
    ref = loads(dumps(p))
    reassociate.run(p)
    live = compile_program(p, RuntimeConfig(protocol="ref2k", world_size=1))
    assert [op.opcode for op in live.body.ops].count("mul") == 1
    args = [RNG.normal(size=3) for _ in range(3)]
    np.testing.assert_allclose(Interp().run(p, args)[0], Interp().run(ref, args)[0])


def test_no_rewrite_when_it_would_not_help() -> None:
    """Every operand ready at once, or the inner product used twice: left alone."""
    b = Builder()
    a, x, c = b.param(T((3,))), b.param(T((3,))), b.param(T((3,)))
    ax = emit1(b, "mul", [a, x], a.type)
    p = b.finish([emit1(b, "mul", [ax, c], a.type)])
    assert reassociate.run(p).meta["reassociated"] == 0
    b = Builder()
    a, x, c = b.param(T((3,))), b.param(T((3,))), b.param(T((3,)))
    ax = emit1(b, "mul", [a, emit1(b, "tanh", [x], x.type)], a.type)
    p = b.finish([emit1(b, "mul", [ax, c], a.type), ax])
    assert reassociate.run(p).meta["reassociated"] == 0


def test_layer_norm_saves_a_product_round_on_semi2k(monkeypatch) -> None:
    f = veil.jit(_norm, protocol="semi2k")
    np.testing.assert_allclose(f(X, G), _norm(X, G), atol=5e-3)
    assert compile_program(_program(_norm, X, G), RuntimeConfig()).meta["reassociated"] == 1
    import veil.device.private as private

    no_pass = tuple(q for q in PASSES if q[0] != "reassociate")
    monkeypatch.setattr(private, "compile_program", lambda p, c: compile_program(p, c, passes=no_pass))
    g = veil.jit(_norm, protocol="semi2k")
    np.testing.assert_allclose(g(X, G), _norm(X, G), atol=5e-3)
    # without the pass the last two products (and their truncations) both wait for the rsqrt
    assert f.stats.rounds == g.stats.rounds - 2, (f.stats.rounds, g.stats.rounds)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_programs())
def test_random_programs_keep_their_meaning(p: Program) -> None:
    ref = loads(dumps(p))
    reassociate.run(p)
    rng = np.random.default_rng(0)
    args = [rng.uniform(-1, 1, size=v.type.shape) for v in p.inputs]
    for got, want in zip(Interp().run(p, args), Interp().run(ref, args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_gelu_tanh_chain_matches_jax_on_aby3() -> None:
    x = np.linspace(-3, 3, 24).reshape(4, 6)
    f = veil.jit(lambda v: jax.nn.gelu(v, approximate=True), protocol="aby3")
    np.testing.assert_allclose(f(x), jax.nn.gelu(x, approximate=True), atol=2e-3)
    assert jnp.asarray(x).shape == (4, 6)
