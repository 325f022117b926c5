"""The algebraic pass shares secret reciprocals: sigmoid's value and gradient need one, not three."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import veil
from veil.frontend import to_ir, trace
from veil.ir.passes.pipeline import compile_program


def _loss(w, x):
    return jnp.sum(1.0 / (1.0 + jnp.exp(-(x @ w))))


def _count(program, opcode: str) -> int:
    return sum(1 for op in program.body.walk() if op.opcode == opcode)


def test_sigmoid_grad_uses_one_reciprocal() -> None:
    w, x = np.ones(3, np.float32) * 0.1, np.ones((4, 3), np.float32)
    raw = to_ir(trace(jax.grad(_loss), (w, x), {}))
    assert _count(raw, "div") + _count(raw, "reciprocal") >= 2
    program = compile_program(raw, veil.RuntimeConfig(protocol="ref2k", world_size=1))
    assert _count(program, "div") == 0
    assert _count(program, "reciprocal") == 1
    assert program.meta["algebraic_rewrites"] >= 1


def test_rewritten_program_matches_jax() -> None:
    rng = np.random.default_rng(0)
    w, x = rng.normal(size=3).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    got = veil.jit(jax.grad(_loss), protocol="semi2k")(w, x)
    np.testing.assert_allclose(got, jax.grad(_loss)(w, x), atol=2e-3)


def test_public_denominator_is_left_alone() -> None:
    def f(x):
        return 2.0 / x

    program = compile_program(
        to_ir(trace(f, (veil.public(np.ones(3, np.float32)),), {})),
        veil.RuntimeConfig(protocol="ref2k", world_size=1),
    )
    assert program.meta.get("algebraic_rewrites", 0) == 0
