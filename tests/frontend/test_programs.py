"""Whole programs that must translate: LR gradient steps, a flax MLP trained with fori_loop,
a transformer block, cond/scan/cumsum/gather/scatter. Each is checked against JAX in plaintext."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from jax import lax

from veil.dtypes import Visibility
from veil.frontend import public, to_ir, trace

from .frontend_eval import check_against_jax, opcodes, ops

RNG = np.random.default_rng(4)


def _init(model: nn.Module, x: np.ndarray) -> dict:
    """Random parameters of the right shapes (eval_shape: no slow compiled flax init)."""
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    return jax.tree_util.tree_map(lambda s: (RNG.normal(size=s.shape) * 0.3).astype(np.float32), shapes)


def _lr_data(n: int = 16, d: int = 4) -> tuple[np.ndarray, ...]:
    w = RNG.normal(size=d).astype(np.float32) * 0.1
    x = RNG.normal(size=(n, d)).astype(np.float32)
    y = (RNG.random(n) > 0.5).astype(np.float32)
    return w, x, y


def test_logistic_regression_step_log_sigmoid() -> None:
    def step(w, x, y):
        def loss(w):
            p = jax.nn.sigmoid(x @ w)
            return -jnp.mean(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))

        return w - 0.5 * jax.grad(loss)(w)

    prog = check_against_jax(step, _lr_data())
    assert {"logistic", "dot_general"} <= opcodes(prog)


def test_logistic_regression_step_optax() -> None:
    def step(w, b, x, y, lr):
        def loss(w, b):
            return jnp.mean(optax.sigmoid_binary_cross_entropy(x @ w + b, y))

        gw, gb = jax.grad(loss, argnums=(0, 1))(w, b)
        return w - lr * gw, b - lr * gb

    w, x, y = _lr_data()
    prog = check_against_jax(step, (w, np.float32(0.1), x, y, 0.5))
    assert prog.inputs[-1].type.vis is Visibility.PUBLIC  # Python scalar learning rate


class MLP(nn.Module):
    features: tuple[int, ...] = (30, 15, 8, 1)

    @nn.compact
    def __call__(self, x):
        for i, f in enumerate(self.features):
            x = nn.Dense(f)(x)
            if i < len(self.features) - 1:
                x = nn.relu(x)
        return x


def test_flax_mlp_trained_with_fori_loop() -> None:
    model = MLP()
    x = RNG.normal(size=(64, 10)).astype(np.float32)
    y = RNG.normal(size=(64, 1)).astype(np.float32)
    params = _init(model, x[:8])

    def train(params, x, y):
        def body(i, p):
            xb = lax.dynamic_slice_in_dim(x, i * 8, 8)
            yb = lax.dynamic_slice_in_dim(y, i * 8, 8)
            _, g = jax.value_and_grad(lambda p: jnp.mean((model.apply(p, xb) - yb) ** 2))(p)
            return jax.tree_util.tree_map(lambda a, b: a - 0.05 * b, p, g)

        return lax.fori_loop(0, 8, body, params)

    prog = check_against_jax(train, (params, x, y), rtol=1e-3, atol=1e-4)
    (loop,) = ops(prog, "loop")
    assert loop.attrs["trip_count"] == 8
    ds = [op for op in loop.regions[0].walk() if op.opcode == "dynamic_slice"]
    assert len(ds) == 2 and all(v.type.vis is Visibility.PUBLIC for op in ds for v in op.inputs[1:])
    assert prog.input_names[:2] == ["params/params/Dense_0/bias", "params/params/Dense_0/kernel"]
    assert prog.output_names[0] == "out/params/Dense_0/bias"
    assert all(".py:" in op.loc for op in prog.body.walk())  # every op knows its source line


class Block(nn.Module):
    heads: int = 2
    approximate: bool = True

    @nn.compact
    def __call__(self, x):
        h = nn.MultiHeadDotProductAttention(num_heads=self.heads)(nn.LayerNorm()(x))
        x = x + h
        h = jax.nn.gelu(nn.Dense(16)(nn.LayerNorm()(x)), approximate=self.approximate)
        x = x + nn.Dense(8)(h)
        logits = nn.Dense(5)(x)
        return jnp.argmax(logits, axis=-1), jax.nn.softmax(logits)


@pytest.mark.parametrize("approximate", [True, False])
def test_transformer_block(approximate: bool) -> None:
    block = Block(approximate=approximate)
    x = RNG.normal(size=(2, 4, 8)).astype(np.float32)
    params = _init(block, x)
    prog = check_against_jax(block.apply, (params, x), rtol=1e-3, atol=1e-4)
    names = opcodes(prog)
    assert {"rsqrt", "exp", "reduce_max", "argmax", "dot_general"} <= names
    assert ("tanh" in names) if approximate else ("erf" in names)
    infinite = {op.outputs[0].id for op in ops(prog, "const") if np.isinf(op.attrs["value"]).any()}
    assert not any(v.id in infinite for op in prog.body.walk() for v in op.inputs)  # folded away


def test_cond_scan_cumsum_gather_scatter() -> None:
    x = RNG.normal(size=(6, 3)).astype(np.float32)
    idx = np.array([5, 0, 2])

    def f(p, x, i):
        y = lax.cond(p > 0, lambda v: v * 2.0, lambda v: -v, x)
        c, ys = lax.scan(lambda c, r: (c + r, c * r), jnp.zeros(3), y)
        z = jnp.cumsum(ys, axis=0)[idx] + x[i]
        return z, jnp.zeros_like(x).at[idx].add(z), c

    check_against_jax(f, (np.float32(-0.3), x, public(np.array([1, 1, 4]))))
    t = trace(f, (np.float32(0.3), x, public(idx)), {})
    prog = to_ir(t)
    assert {"cond", "loop", "cumsum", "gather", "scatter_add"} <= opcodes(prog)
