"""Transformer building blocks whose nonlinearities are selectable: exact or MPC-friendly (PUMA).

Secure inference spends most of its rounds in GeLU and softmax. PUMA (Dong et al., 2023) replaces
both with forms that cost a few comparisons and low-degree polynomials:

* GeLU ("puma"): 0 below -4; a cubic on [-4, -1.95); a degree-6 even polynomial + 0.5 x on
  [-1.95, 3]; x above 3. The coefficients below are our own least-squares fit to the tanh-GeLU
  (`fit_puma_gelu` reproduces them); max abs error 0.024 (on [-1.95, 3]), 7.5e-4 on the cubic piece.
* softmax ("puma"): exp(x - max) set to 0 where x - max < -14 (exp there is below 1e-6 and the
  Taylor exp is inaccurate far from 0), divided by the row sum.

Every function is plain JAX, so it runs in plaintext and inside `veil.jit` alike.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

GELU_MODES = ("tanh", "erf", "puma")
SOFTMAX_MODES = ("exact", "puma")

# Least-squares fit to the tanh-GeLU (see fit_puma_gelu): cubic c0[i] * x^i on [-4, -1.95);
# 0.5 x + sum c1[j] * x^(2j) on [-1.95, 3].
PUMA_GELU_CUBIC = (-0.5113815237, -0.4282145873, -0.1200128387, -0.01124075269)
PUMA_GELU_EVEN = (0.007455301348, 0.3633538696, -0.03877406725, 0.00189787195)
PUMA_SOFTMAX_CUTOFF = -14.0
MASK_FILL = -30.0  # score given to masked positions before the max (zeroed after exp anyway)


def gelu_tanh_np(x: np.ndarray) -> np.ndarray:
    """The tanh-GeLU (GPT-2's gelu_new) in float64: the function PUMA's pieces approximate."""
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def fit_puma_gelu(points: int = 20001) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coefficients of PUMA's two polynomial pieces (cubic, even degree-6).

    Reproduces PUMA_GELU_CUBIC / PUMA_GELU_EVEN; kept so the constants are auditable.
    """
    x0 = np.linspace(-4.0, -1.95, points)
    a0 = np.stack([x0**i for i in range(4)], axis=1)
    cubic = np.linalg.lstsq(a0, gelu_tanh_np(x0), rcond=None)[0]
    x1 = np.linspace(-1.95, 3.0, points)
    a1 = np.stack([x1 ** (2 * j) for j in range(4)], axis=1)
    even = np.linalg.lstsq(a1, gelu_tanh_np(x1) - 0.5 * x1, rcond=None)[0]
    return cubic, even


def gelu_puma(x: jax.Array) -> jax.Array:
    """PUMA's piecewise-polynomial GeLU: 3 comparisons, a cubic and an even degree-6 polynomial."""
    c0, c1 = PUMA_GELU_CUBIC, PUMA_GELU_EVEN
    x2 = x * x
    x4 = x2 * x2
    cubic = c0[0] + x * (c0[1] + x * (c0[2] + x * c0[3]))
    even = c1[0] + 0.5 * x + c1[1] * x2 + c1[2] * x4 + c1[3] * (x4 * x2)
    below, low, high = x < -4.0, x < -1.95, x > 3.0
    mid = jnp.where(high, x, even)
    return jnp.where(below, 0.0, jnp.where(low, cubic, mid))


def gelu(x: jax.Array, mode: str = "tanh") -> jax.Array:
    """GeLU by mode: "tanh" (GPT-2's), "erf" (BERT's exact), "puma" (piecewise polynomial)."""
    if mode == "tanh":
        return jax.nn.gelu(x, approximate=True)
    if mode == "erf":
        return jax.nn.gelu(x, approximate=False)
    if mode == "puma":
        return gelu_puma(x)
    raise ValueError(f"gelu mode {mode!r}: choose one of {GELU_MODES}")


def softmax(x: jax.Array, mask: Any = None, mode: str = "exact") -> jax.Array:
    """Softmax over the last axis; `mask` (0/1, broadcastable, public) drops positions.

    Masking multiplies by the 0/1 mask instead of adding -inf: fixed point has no infinity and
    exp of a huge negative number is outside the Taylor exp's range. Masked scores are first set
    to MASK_FILL so they never win the max, then their exp is zeroed.
    """
    if mode not in SOFTMAX_MODES:
        raise ValueError(f"softmax mode {mode!r}: choose one of {SOFTMAX_MODES}")
    if mask is not None:
        x = x * mask + (1.0 - mask) * MASK_FILL
    z = x - jax.lax.stop_gradient(jnp.max(x, axis=-1, keepdims=True))
    e = jnp.exp(z)
    if mode == "puma":
        e = jnp.where(z < PUMA_SOFTMAX_CUTOFF, 0.0, e)
    if mask is not None:
        e = e * mask
    return e / jnp.sum(e, axis=-1, keepdims=True)


def layer_norm(x: jax.Array, scale: jax.Array, bias: jax.Array, eps: float) -> jax.Array:
    """LayerNorm over the last axis with the centred (two-pass) variance.

    The two-pass form keeps the squared values small, which matters in fixed point. A tiny eps
    (BERT's 1e-12) encodes to 0 in fixed point; that is harmless while the variance is not ~0.
    """
    mu = jnp.mean(x, axis=-1, keepdims=True)
    xc = x - mu
    var = jnp.mean(xc * xc, axis=-1, keepdims=True)
    return xc * jax.lax.rsqrt(var + eps) * scale + bias


def one_hot(ids: Any, vocab_size: int) -> np.ndarray:
    """Token ids -> float32 one-hot (done by the user before secret-sharing the prompt)."""
    ids = np.asarray(ids)
    return (ids[..., None] == np.arange(vocab_size)).astype(np.float32)


def factored_one_hot(ids: Any, vocab_size: int, base: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Token ids as two small one-hots: id = hi * base + lo -> (one_hot(hi), one_hot(lo)).

    For a large vocabulary (BERT's 30522) a plain one-hot makes the secret lookup a matmul with
    a 30522-long inner dimension; the factored form is two short ones (120 and 256) and shares
    376 numbers per token instead of 30522. `embed` accepts either form.
    """
    ids = np.asarray(ids)
    n_hi = -(-vocab_size // base)
    return one_hot(ids // base, n_hi), one_hot(ids % base, base)


def embed(tokens: Any, table: jax.Array) -> jax.Array:
    """Embedding lookup without a secret gather.

    tokens: integer ids (B, T) -> gather (plaintext only); one-hot (B, T, V) -> `one_hot @ table`;
    or a factored one-hot pair (hi (B, T, H), lo (B, T, L)) with H * L >= V -> the table is
    zero-padded to (H, L * D), `hi @ table` picks a block of L rows, `lo` selects one of them.
    """
    if isinstance(tokens, tuple):
        hi, lo = tokens
        (n_hi, n_lo), (v, d) = (hi.shape[-1], lo.shape[-1]), table.shape
        if n_hi * n_lo < v:
            raise ValueError(f"factored one-hot {n_hi} x {n_lo} cannot address a vocabulary of {v}")
        blocks = jnp.pad(table, ((0, n_hi * n_lo - v), (0, 0))).reshape(n_hi, n_lo * d)
        rows = (hi @ blocks).reshape(*hi.shape[:-1], n_lo, d)
        return jnp.sum(lo[..., None] * rows, axis=-2)
    if tokens.ndim == 3:
        return tokens @ table
    if not jnp.issubdtype(tokens.dtype, jnp.integer):
        raise TypeError("tokens must be integer ids (B, T), one-hot (B, T, V) or a factored (hi, lo) pair")
    return jnp.take(table, tokens, axis=0)


def causal_mask(t: int) -> np.ndarray:
    """(t, t) lower-triangular 0/1 mask (public: it depends only on the sequence length)."""
    return np.tril(np.ones((t, t), dtype=np.float32))


def attention(
    q: jax.Array, k: jax.Array, v: jax.Array, n_head: int, mask: Any, softmax_mode: str
) -> jax.Array:
    """Multi-head scaled dot-product attention on (B, T, D) inputs; mask broadcasts to (B, H, T, T)."""
    b, t, d = q.shape
    hd = d // n_head

    def heads(a: jax.Array) -> jax.Array:
        return a.reshape(b, t, n_head, hd).transpose(0, 2, 1, 3)

    scores = jnp.einsum("bhqd,bhkd->bhqk", heads(q), heads(k)) * (1.0 / math.sqrt(hd))
    probs = softmax(scores, mask, softmax_mode)
    out = jnp.einsum("bhqk,bhkd->bhqd", probs, heads(v))
    return out.transpose(0, 2, 1, 3).reshape(b, t, d)
