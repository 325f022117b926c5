"""Round batching: independent elementwise secret ops of one kind become one `batch` op, which
runs with the rounds of one op and gives the same results."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
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


# --------------------------------------------------------------------- dot_general batching


def _dots_program() -> Program:
    """dW = h^T d and dX = d W^T (independent, different dims) and a product that needs dX."""
    b = Builder()
    h, d, w = b.param(T((5, 4))), b.param(T((5, 3))), b.param(T((4, 3)))
    dw = emit1(b, "dot_general", [h, d], T((4, 3)), contracting=((0,), (0,)), batch=((), ()))
    dx = emit1(b, "dot_general", [d, w], T((5, 4)), contracting=((1,), (1,)), batch=((), ()))
    later = emit1(b, "dot_general", [dx, w], T((5, 3)), contracting=((1,), (0,)), batch=((), ()))
    return b.finish([dw, later])


def test_independent_dot_generals_share_one_op() -> None:
    ref, p = _batched(_dots_program())
    # semi2k: dW and dX in one batch (each with its own dims), their truncations in another;
    # the product that needs dX stays apart
    assert ops_of(p) == ["batch", "batch", "dot_general", "trunc"]
    first = p.body.ops[0]
    assert first.attrs["op"] == "dot_general" and len(first.outputs) == 2
    assert [dict(a)["contracting"] for a in first.attrs["each_attrs"]] == [((0,), (0,)), ((1,), (1,))]
    assert p.body.ops[1].attrs["op"] == "trunc"
    rng = np.random.default_rng(2)
    args = [rng.normal(size=v.type.shape) for v in p.inputs]
    for got, want in zip(Interp().run(p, args), Interp().run(ref, args), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    assert program_hash(loads(dumps(p))) == program_hash(p)


def test_dot_generals_with_a_public_operand_or_on_aby3_stay_apart() -> None:
    b = Builder()
    x, y = b.param(T((2, 3))), b.param(T((2, 3)))
    c = b.param(T((3, 4), vis=PUB))
    outs = [
        emit1(b, "dot_general", [v, c], T((2, 4)), contracting=((1,), (0,)), batch=((), ())) for v in (x, y)
    ]
    _, p = _batched(b.finish(outs))  # secret x public: local, nothing to batch
    assert "dot_general" not in [op.attrs.get("op") for op in p.body.ops]
    p = _dots_program()
    fixed_point.run(p, CFG)
    batch.run(p, RuntimeConfig(protocol="aby3", world_size=3))
    assert ops_of(p).count("dot_general") == 3


def _two_products(a: Any, w1: Any, w2: Any) -> tuple[Any, Any]:
    return a @ w1, a.T @ w2  # independent; `a` is an operand of both


@pytest.mark.parametrize(
    "protocol,world,cache",
    [("semi2k", 2, False), ("semi2k", 2, True), ("ref2k", 1, False), ("aby3", 3, False)],
)
def test_dot_batch_end_to_end(
    protocol: str, world: int, cache: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values vs plaintext jax with and without dot batching; semi2k: one round fewer and the same
    bytes (the shared operand opens once either way with the cache); ref2k and aby3 run the
    generic fallback (forced on here: the pass batches dots only on DOT_PROTOCOLS)."""
    from veil.config import ProtocolKind

    rng = np.random.default_rng(3)
    a, w1, w2 = rng.normal(size=(6, 5)), rng.normal(size=(5, 3)), rng.normal(size=(6, 2))
    want = _two_products(a, w1, w2)
    cfg = RuntimeConfig(protocol=protocol, world_size=world, beaver_cache=cache)
    runs = {}
    for dots in (frozenset(ProtocolKind), frozenset()):
        monkeypatch.setattr(batch, "DOT_PROTOCOLS", dots)
        f = veil.jit(_two_products, config=cfg)
        got = f(a, w1, w2)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, atol=1e-3)
        n_dot_batches = f.ir.count("op='dot_general'")
        runs[bool(dots)] = (f.stats.rounds, f.stats.online_bytes, n_dot_batches)
    assert runs[True][2] == 1 and runs[False][2] == 0
    if protocol == "semi2k":
        assert runs[True][0] == runs[False][0] - 1
        assert runs[True][1] == runs[False][1]
    elif protocol == "aby3":
        assert runs[True][0] <= runs[False][0]


def _two_layer_step(w1, w2, x, y):
    """One SGD step of a relu network: the backward pass's masked truncations and the weight
    gradients' truncations are independent."""

    def loss(w1, w2):
        return jnp.sum((jax.nn.relu(x @ w1) @ w2 - y) ** 2) * 0.5

    g1, g2 = jax.grad(loss, argnums=(0, 1))(w1, w2)
    return w1 - 0.1 * g1, w2 - 0.1 * g2


def _step_args() -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(5)
    return (
        rng.normal(size=(4, 6)) / 2,
        rng.normal(size=(6, 2)) / 2,
        rng.normal(size=(5, 4)),
        rng.normal(size=(5, 2)),
    )


def _relu_and_product(x, w, y, v):
    return jax.nn.relu(x * w), y * v


def test_truncations_join_fused_selects_on_semi2k_2pc() -> None:
    """y * v's truncation has slack: it moves onto the level of relu's fused select+truncation
    and runs with it as select_n(true, 0, raw) {trunc_bits}: one bit_trunc_mixed_s round."""
    args = [np.linspace(-1, 1, 6).reshape(2, 3) * k for k in (1.0, 2.0, -1.5, 0.5)]
    p = compile_program(to_ir(trace(_relu_and_product, args, {})), CFG)
    (mixed,) = [op for op in p.walk() if op.opcode == "batch" and op.attrs["op"] == "select_n"]
    preds = mixed.inputs[0 :: mixed.attrs["arity"]]
    assert sorted(v.type.vis.value for v in preds) == ["public", "secret"]
    assert "trunc" not in ops_of(p)
    f = veil.jit(_relu_and_product, protocol="semi2k")
    relu, prod = f(*args)
    np.testing.assert_allclose(relu, np.maximum(args[0] * args[1], 0), atol=1e-4)
    np.testing.assert_allclose(prod, args[2] * args[3], atol=1e-4)
    assert f.stats.rounds == 5  # products 1, sign test 3, [fused relu | trunc] 1
    three = compile_program(to_ir(trace(_relu_and_product, args, {})), RuntimeConfig(world_size=3))
    assert not any(op.opcode == "batch" and op.attrs["op"] == "select_n" for op in three.walk())


@pytest.mark.parametrize("parties", [2, 3])
def test_training_step_with_mixed_truncations_matches_jax(parties: int) -> None:
    args = _step_args()
    f = veil.jit(_two_layer_step, protocol="semi2k", parties=parties)
    got = f(*args)
    for g, w in zip(got, _two_layer_step(*args), strict=True):
        np.testing.assert_allclose(g, w, atol=2e-3)
    if parties == 2:
        # forward: matmul 1, sign 3, fused relu 1, matmul 1, trunc 1; backward: residual
        # product 1, [dW2 | dH] matmuls 1, [mask | dW2 trunc] 1, dW1 matmul 1, trunc 1, update 1
        assert f.stats.rounds <= 13, f.stats.rounds


def test_a_square_joins_the_products_of_its_level() -> None:
    """square(x) next to mul(x, y) runs in the same batch as mul(x, x) on semi2k."""
    b = Builder()
    x, y = b.param(T((4,))), b.param(T((4,)))
    t = x.type
    ref, p = _batched(b.finish([emit1(b, "square", [x], t), emit1(b, "mul", [x, y], t)]))
    (prods,) = [op for op in p.body.ops if op.opcode == "batch" and op.attrs["op"] == "mul"]
    assert [v.id for v in prods.inputs[:2]] in ([x.id, x.id], [x.id, y.id])
    assert "square" not in ops_of(p)
    args = [np.random.default_rng(2).normal(size=4) for _ in range(2)]
    for got, want in zip(Interp().run(p, args), Interp().run(ref, args), strict=True):
        np.testing.assert_allclose(got, want)
    f = veil.jit(lambda a, c: (a * a, a * c), protocol="semi2k")
    sq, pr = f(*args)
    np.testing.assert_allclose(sq, args[0] ** 2, atol=1e-4)
    np.testing.assert_allclose(pr, args[0] * args[1], atol=1e-4)
    assert f.stats.rounds == 2  # one product round, one truncation round
