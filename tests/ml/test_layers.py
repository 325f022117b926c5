"""Selectable nonlinearities (veil.ml.models.layers) against float64 / JAX references."""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from veil.ml.models import layers


def test_puma_constants_are_the_least_squares_fit() -> None:
    cubic, even = layers.fit_puma_gelu()
    np.testing.assert_allclose(cubic, layers.PUMA_GELU_CUBIC, atol=1e-8)
    np.testing.assert_allclose(even, layers.PUMA_GELU_EVEN, atol=1e-8)


def test_puma_gelu_error_bound() -> None:
    x = np.linspace(-10, 10, 40001).astype(np.float32)
    err = np.abs(np.asarray(layers.gelu_puma(jnp.asarray(x))) - layers.gelu_tanh_np(x.astype(np.float64)))
    assert err.max() < 0.025  # the degree-6 piece's worst point (measured 0.0241)
    assert err[np.abs(x) > 4.0].max() < 1e-3  # exact 0 / x outside, up to the tanh-GeLU tail


@pytest.mark.parametrize("mode", ["tanh", "erf"])
def test_gelu_modes_match_jax(mode: str) -> None:
    x = jnp.linspace(-5, 5, 101)
    ref = jax.nn.gelu(x, approximate=mode == "tanh")
    np.testing.assert_allclose(layers.gelu(x, mode), ref, atol=1e-6)
    with pytest.raises(ValueError, match="gelu mode"):
        layers.gelu(x, "relu")


@pytest.mark.parametrize("mode", ["exact", "puma"])
def test_softmax_modes(mode: str) -> None:
    x = jnp.asarray(np.random.default_rng(0).normal(scale=3.0, size=(4, 9)), jnp.float32)
    np.testing.assert_allclose(layers.softmax(x, mode=mode), jax.nn.softmax(x), atol=1e-6)


def test_softmax_puma_cutoff_drops_tiny_terms() -> None:
    x = jnp.asarray([[0.0, -20.0, -1.0]])
    out = np.asarray(layers.softmax(x, mode="puma"))
    assert out[0, 1] == 0.0 and abs(out.sum() - 1.0) < 1e-6


def test_softmax_mask_equals_minus_inf_masking() -> None:
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 5, 5)), jnp.float32)
    mask = layers.causal_mask(5)
    ref = jax.nn.softmax(jnp.where(mask > 0, x, -jnp.inf), axis=-1)
    np.testing.assert_allclose(layers.softmax(x, mask), ref, atol=1e-6)


def test_layer_norm_matches_flax() -> None:
    x = jnp.asarray(np.random.default_rng(2).normal(loc=3.0, size=(3, 16)), jnp.float32)
    scale, bias = jnp.linspace(0.5, 1.5, 16), jnp.linspace(-1, 1, 16)
    ln = nn.LayerNorm(epsilon=1e-5)
    ref = ln.apply({"params": {"scale": scale, "bias": bias}}, x)
    np.testing.assert_allclose(layers.layer_norm(x, scale, bias, 1e-5), ref, atol=1e-5)
