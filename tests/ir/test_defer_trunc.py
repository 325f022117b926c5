"""Deferred truncation: a relu after a product compares the raw product and truncates inside the
select; values stay those of plaintext JAX, and semi2k 2PC saves a round per relu."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import veil
from veil.config import RuntimeConfig
from veil.frontend import to_ir, trace
from veil.ir.passes import PASSES, compile_program
from veil.ir.program import Builder, Program

from .irlib import BOOL, Interp, T, const, emit1, ops_of

CFG = RuntimeConfig()
RNG = np.random.default_rng(7)
X, W, B = RNG.normal(size=(6, 5)), RNG.normal(size=(5, 4)) / 2, RNG.normal(size=4) / 4


def _layer(x, w, b):
    return jax.nn.relu(x @ w + b)


def _compiled(fn, *args, config: RuntimeConfig = CFG, passes=PASSES) -> Program:
    return compile_program(to_ir(trace(fn, args, {})), config, passes=passes)


def _selects(p: Program) -> list:
    return [op for op in p.walk() if op.opcode == "select_n" or op.attrs.get("op") == "select_n"]


def _attrs(op) -> dict:
    return op.attrs if op.opcode == "select_n" else dict(op.attrs["member_attrs"])


def test_relu_layer_compares_the_raw_product_and_truncates_in_the_select() -> None:
    p = _compiled(_layer, X, W, B)
    assert p.meta["truncs_deferred"] == 1
    (sel,) = _selects(p)
    assert _attrs(sel)["trunc_bits"] == CFG.f
    assert "trunc" not in ops_of(p)  # the product's own truncation is gone
    (dot,) = [op for op in p.walk() if op.opcode == "dot_general"]
    assert dot.attrs["trunc_bits"] == 0


def test_relu_backward_mask_is_deferred_too() -> None:
    def loss(w, v, x):
        return jnp.sum(jax.nn.relu(x @ w) @ v) * 0.37

    p = _compiled(jax.grad(loss), W, RNG.normal(size=(4, 2)), X)
    # the mask's sign test reads the raw x @ w; the mask times the cotangent 0.37 v^T truncates late
    assert p.meta["truncs_deferred"] == 2
    assert [_attrs(s).get("trunc_bits") for s in _selects(p)] == [CFG.f]


def test_value_used_elsewhere_keeps_its_truncation() -> None:
    """z also leaves the program: its raw (2f-scaled) value must not escape, so no rewrite."""
    p = _compiled(lambda x, w: (jax.nn.relu(x @ w), x @ w), X, W)
    assert p.meta["truncs_deferred"] == 0
    assert not any(_attrs(s).get("trunc_bits") for s in _selects(p))


def test_comparison_with_a_nonzero_constant_is_left_alone() -> None:
    b = Builder()
    x, y = b.param(T((2, 3))), b.param(T((2, 3)))
    z = emit1(b, "mul", [x, y], x.type, trunc_bits=CFG.f)
    one = const(b, np.ones((2, 3)))
    zero = const(b, np.zeros((2, 3)))
    p_ = emit1(b, "gt", [z, one], T((2, 3), BOOL))
    out = emit1(b, "select_n", [p_, zero, z], x.type)
    prog = b.finish([out])
    ref_args = [RNG.normal(size=(2, 3)) for _ in range(2)]
    from veil.ir.passes import defer_trunc

    defer_trunc.run(prog, CFG)
    assert prog.meta["truncs_deferred"] == 0 and z.id in {o.id for op in prog.body.ops for o in op.outputs}
    assert Interp().run(prog, ref_args)[0].shape == (2, 3)


def test_zero_case_on_either_side_and_either_comparison() -> None:
    b = Builder()
    x, y = b.param(T((2, 3))), b.param(T((2, 3)))
    z = emit1(b, "mul", [x, y], x.type)
    zero = const(b, np.zeros((2, 3)))
    neg = emit1(b, "lt", [z, zero], T((2, 3), BOOL))
    keep_neg = emit1(b, "select_n", [neg, zero, z], x.type)  # min(z, 0)
    prog = b.finish([keep_neg])
    ref = compile_program(prog, CFG, passes=tuple(p for p in PASSES if p[0] != "defer_trunc"))
    b2 = Builder()  # the same program again, through the full pipeline
    x2, y2 = b2.param(T((2, 3))), b2.param(T((2, 3)))
    z2 = emit1(b2, "mul", [x2, y2], x2.type)
    zero2 = const(b2, np.zeros((2, 3)))
    neg2 = emit1(b2, "lt", [z2, zero2], T((2, 3), BOOL))
    got = compile_program(b2.finish([emit1(b2, "select_n", [neg2, z2, zero2], x2.type)]), CFG)
    assert got.meta["truncs_deferred"] == 1
    args = [RNG.normal(size=(2, 3)) for _ in range(2)]
    prod = args[0] * args[1]
    np.testing.assert_allclose(Interp().run(ref, args)[0], np.minimum(prod, 0))
    np.testing.assert_allclose(Interp().run(got, args)[0], np.where(prod < 0, 0, prod))


@pytest.mark.parametrize(
    "protocol,world,field",
    [
        ("ref2k", 1, "FM64"),
        ("semi2k", 2, "FM64"),
        ("semi2k", 2, "FM128"),
        ("semi2k", 3, "FM64"),
        ("aby3", 3, "FM64"),
    ],
)
def test_secure_relu_layer_and_gradient_match_jax(protocol: str, world: int, field: str) -> None:
    def loss(w, b, x):
        return jnp.sum(_layer(x, w, b) ** 2)

    f = veil.jit(jax.value_and_grad(loss, argnums=(0, 1)), protocol=protocol, parties=world, field=field)
    (val, (gw, gb)) = f(W, B, X)
    (pv, (pw, pb)) = jax.value_and_grad(loss, argnums=(0, 1))(W, B, X)
    np.testing.assert_allclose(val, pv, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(gw, pw, atol=3e-3)
    np.testing.assert_allclose(gb, pb, atol=3e-3)


def test_semi2k_relu_layer_saves_a_round() -> None:
    """matmul 1 + sign test 3 + fused select/truncation 1 = 5 rounds (6 with a separate trunc)."""
    f = veil.jit(_layer, protocol="semi2k")
    out = f(X, W, B)
    np.testing.assert_allclose(out, np.maximum(X @ W + B, 0), atol=2e-4)
    assert f.stats.rounds == 5
