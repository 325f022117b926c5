"""Sign inference: divisions by provably non-negative values skip the negative-side sign tests."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import veil
from veil.frontend import to_ir, trace
from veil.ir.passes.pipeline import compile_program


def _divisions(fn, *args):  # type: ignore[no-untyped-def]
    p = compile_program(to_ir(trace(fn, args, {})), veil.RuntimeConfig(protocol="ref2k", world_size=1))
    ops = [op for op in p.walk() if op.opcode in ("reciprocal", "div", "div_bcast")]
    ops += [op for op in p.walk() if op.opcode == "batch" and op.attrs["op"] in ("reciprocal", "div")]
    return [(op.opcode, bool(op.attrs.get("nonneg"))) for op in ops]


def test_sigmoid_and_softmax_divisors_are_nonneg() -> None:
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    assert _divisions(lambda v: 1.0 / (1.0 + jnp.exp(-v)), x) == [("reciprocal", True)]
    assert all(nonneg for _, nonneg in _divisions(lambda v: jax.nn.softmax(v, axis=-1), x))
    assert _divisions(lambda v: v / jnp.sum(v * v), x) == [("div_bcast", True)]


def test_divisors_of_unknown_sign_stay_signed() -> None:
    x = np.linspace(-3, 3, 12)
    assert _divisions(lambda v: 1.0 / v, x) == [("reciprocal", False)]
    assert _divisions(lambda v: 1.0 / (1.0 - jnp.exp(v)), x) == [("reciprocal", False)]
    assert _divisions(lambda v, w: v / (w * w + v), x, x) == [("div", False)]


def test_nonneg_division_is_cheaper_and_equal() -> None:
    x = np.linspace(-4, 4, 200)
    sig = veil.jit(lambda v: 1.0 / (1.0 + jnp.exp(-v)))
    unk = veil.jit(lambda v, one: 1.0 / (one + jnp.exp(-v)))  # a secret 1: sign unknown
    got, ref = sig(x), unk(x, np.ones_like(x))
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-x)), atol=2e-3)
    np.testing.assert_allclose(got, ref, atol=1e-4)
    assert sig.stats.online_bytes < 0.9 * unk.stats.online_bytes
