"""Round batching: independent elementwise secret ops of one kind become one `batch` op, which
runs with the rounds of one op and gives the same results."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings

import veil
from veil.config import RuntimeConfig
from veil.frontend import to_ir, trace
from veil.ir.passes import PASSES, batch, compile_program, fixed_point
from veil.ir.program import Builder, Program
from veil.ir.serialize import dumps, loads, program_hash
from veil.ir.verify import verify

from .irlib import INT, PUB, Interp, T, emit1, ops_of, random_programs

CFG = RuntimeConfig()


def _batched(p: Program) -> tuple[Program, Program]:
    fixed_point.run(p, CFG)
    ref = loads(dumps(p))
    batch.run(p, CFG)
    verify(p)
    return ref, p


def test_independent_products_share_one_op() -> None:
    b = Builder()
    x, y, z = (b.param(T((2, 3))) for _ in range(3))
    t = x.type
    xy, yz = emit1(b, "mul", [x, y], t), emit1(b, "mul", [y, z], t)
    dep = emit1(b, "mul", [xy, z], t)  # depends on xy: a later level
    ref, p = _batched(b.finish([dep, yz]))
    # semi2k: each product splits into a raw product and a trunc; the independent ones pair up
    assert ops_of(p) == ["batch", "batch", "mul", "trunc"]
    assert [op.attrs.get("op") for op in p.body.ops[:2]] == ["mul", "trunc"]
    assert p.meta["batched_ops"] == 2
    args = [np.random.default_rng(1).normal(size=(2, 3)) for _ in range(3)]
    for got, want in zip(Interp().run(p, args), Interp().run(ref, args), strict=True):
        np.testing.assert_allclose(got, want)
    assert loads(dumps(p)) is not None and program_hash(loads(dumps(p))) == program_hash(p)


def test_aby3_keeps_products_whole() -> None:
    """aby3 fuses the truncation into the product's round: no split, one batched mul."""
    b = Builder()
    x, y, z = (b.param(T((2, 3))) for _ in range(3))
    t = x.type
    p = b.finish([emit1(b, "mul", [x, y], t), emit1(b, "mul", [y, z], t)])
    fixed_point.run(p, CFG)
    batch.run(p, RuntimeConfig(protocol="aby3", world_size=3))
    assert ops_of(p) == ["batch"] and p.body.ops[0].attrs["member_attrs"] == (("trunc_bits", 18),)


def test_updates_needed_only_at_the_end_batch_late() -> None:
    """ALAP levels: truncations whose results only leave the region line up at its end."""
    b = Builder()
    x = b.param(T((3,)))
    c = b.param(T((3,), vis=PUB))
    t = x.type
    a1 = emit1(b, "exp", [x], t)
    a2 = emit1(b, "exp", [emit1(b, "exp", [a1], t)], t)  # a longer chain
    outs = [emit1(b, "mul", [a1, c], t), emit1(b, "mul", [a2, c], t)]  # public factor: a trunc each
    _, p = _batched(b.finish(outs))
    assert ops_of(p).count("batch") == 1 and ops_of(p)[-1] == "batch"


def test_public_factors_and_different_attributes_stay_apart() -> None:
    b = Builder()
    x, y = b.param(T((3,))), b.param(T((3,)))
    c = b.param(T((3,), INT, PUB))
    t = x.type
    local = emit1(b, "mul", [x, c], t)  # an int public factor: no truncation, local
    other = emit1(b, "mul", [y, c], t)
    e1, e2 = emit1(b, "exp", [x], t), emit1(b, "tanh", [y], t)
    _, p = _batched(b.finish([local, other, e1, e2]))
    assert "batch" not in ops_of(p)
    assert [op.attrs.get("trunc_bits") for op in p.body.ops if op.opcode == "mul"] == [0, 0]


@settings(max_examples=60, deadline=None)
@given(random_programs())
def test_batching_keeps_semantics(p: Program) -> None:
    ref, p = _batched(p)
    rng = np.random.default_rng(0)
    args = [rng.normal(size=v.type.shape) for v in p.inputs]
    for got, want in zip(Interp().run(p, args), Interp().run(ref, args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_two_exps_cost_the_rounds_of_one() -> None:
    x, y = np.linspace(-3, 3, 50), np.linspace(-2, 2, 50)
    f = veil.jit(lambda a, b: (jnp.exp(a), jnp.exp(b) * a))
    ea, eb = f(x, y)
    np.testing.assert_allclose(ea, np.exp(x), rtol=0.02, atol=1e-3)
    np.testing.assert_allclose(eb, np.exp(y) * x, rtol=0.02, atol=1e-3)
    one = veil.jit(jnp.exp)
    one(x)
    assert f.stats.rounds <= one.stats.rounds + 2  # + the product's rounds
    assert "batch" in str(f.ir)


def test_pipeline_without_batching_is_still_valid() -> None:
    """The pass is the pipeline's last step; dropping it leaves a valid, unbatched program."""
    raw = to_ir(trace(lambda a, b: (jnp.exp(a), jnp.exp(b)), (np.ones(3), np.ones(3)), {}))
    passes = tuple(p for p in PASSES if p[0] != "batch")
    p = compile_program(raw, RuntimeConfig(protocol="ref2k", world_size=1), passes=passes)
    assert "batch" not in ops_of(p) and ops_of(p).count("exp") == 2


def test_relu_forward_and_derivative_share_one_comparison() -> None:
    def loss(w, x):
        return jnp.sum(jax.nn.relu(x @ w) ** 2)

    w, x = np.linspace(-1, 1, 4), np.linspace(-2, 2, 12).reshape(3, 4)
    raw = to_ir(trace(jax.grad(loss), (w, x), {}))
    assert ops_of(raw).count("max") == 1 and ops_of(raw).count("gt") == 1
    p = compile_program(raw, RuntimeConfig(protocol="ref2k", world_size=1))
    names = [op.opcode for op in p.walk()] + [op.attrs.get("op") for op in p.walk()]
    assert names.count("max") == 0 and names.count("gt") == 1
    got = veil.jit(jax.grad(loss))(w, x)
    np.testing.assert_allclose(got, jax.grad(loss)(w, x), atol=1e-3)
