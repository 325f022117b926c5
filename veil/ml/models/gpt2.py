"""GPT-2 in flax.linen, with greedy generation that traces once (for secure inference in veil).

The architecture follows GPT-2: token + position embeddings, pre-LN blocks (causal multi-head
self-attention, GeLU MLP), a final LayerNorm and an LM head tied to the token embedding. Weights
are seeded random (the real checkpoints cannot be downloaded here); `init_params` makes them.

Secret token ids cannot index a secret embedding table (a secret gather), so the model also
accepts one-hot inputs (B, T, vocab): the lookup becomes `one_hot @ wte`, a plain matmul.
`greedy_generate` keeps its whole buffer one-hot, so generated tokens never leave the shares.

    params = init_params(CONFIGS["tiny"], seed=0)
    ids = greedy_generate(params, prompt_ids, n_tokens=4, config=CONFIGS["tiny"])
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from veil.ml.models.layers import (
    GELU_MODES,
    SOFTMAX_MODES,
    attention,
    causal_mask,
    embed,
    gelu,
    layer_norm,
    one_hot,
)

__all__ = ["CONFIGS", "GPT2", "GPT2Config", "greedy_generate", "init_params", "logits", "one_hot"]


@dataclass(frozen=True)
class GPT2Config:
    """Model shape and the nonlinearity variants ("tanh" GeLU is GPT-2's own)."""

    vocab_size: int = 50257
    n_ctx: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    ln_eps: float = 1e-5
    init_std: float = 0.02
    gelu: str = "tanh"
    softmax: str = "exact"

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be a multiple of n_head={self.n_head}")
        if self.gelu not in GELU_MODES:
            raise ValueError(f"gelu={self.gelu!r}: choose one of {GELU_MODES}")
        if self.softmax not in SOFTMAX_MODES:
            raise ValueError(f"softmax={self.softmax!r}: choose one of {SOFTMAX_MODES}")

    def with_(self, **changes: Any) -> GPT2Config:
        """A copy with some fields changed, e.g. `cfg.with_(gelu="puma", softmax="puma")`."""
        return replace(self, **changes)


CONFIGS: dict[str, GPT2Config] = {
    "124M": GPT2Config(),
    # init_std 0.2 spreads the random logits so greedy choices are not decided by 1e-3 noise
    "tiny": GPT2Config(vocab_size=256, n_ctx=32, n_embd=64, n_layer=2, n_head=4, init_std=0.2),
}


class LayerNorm(nn.Module):
    """LayerNorm with learned scale/bias and the two-pass variance (see layers.layer_norm)."""

    eps: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        d = x.shape[-1]
        scale = self.param("scale", nn.initializers.ones, (d,))
        bias = self.param("bias", nn.initializers.zeros, (d,))
        return layer_norm(x, scale, bias, self.eps)


class Block(nn.Module):
    """One pre-LN transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    cfg: GPT2Config

    @nn.compact
    def __call__(self, x: jax.Array, mask: Any) -> jax.Array:
        cfg = self.cfg
        init = nn.initializers.normal(cfg.init_std)
        proj_init = nn.initializers.normal(cfg.init_std / np.sqrt(2 * cfg.n_layer))
        h = LayerNorm(cfg.ln_eps, name="ln_1")(x)
        qkv = nn.Dense(3 * cfg.n_embd, kernel_init=init, name="c_attn")(h)
        q, k, v = jnp.split(qkv, 3, axis=-1)
        a = attention(q, k, v, cfg.n_head, mask, cfg.softmax)
        x = x + nn.Dense(cfg.n_embd, kernel_init=proj_init, name="attn_proj")(a)
        h = LayerNorm(cfg.ln_eps, name="ln_2")(x)
        h = gelu(nn.Dense(4 * cfg.n_embd, kernel_init=init, name="c_fc")(h), cfg.gelu)
        return x + nn.Dense(cfg.n_embd, kernel_init=proj_init, name="mlp_proj")(h)


class GPT2(nn.Module):
    """GPT-2 LM: token ids (B, T) int or one-hot (B, T, vocab) float -> logits (B, T, vocab)."""

    cfg: GPT2Config

    @nn.compact
    def __call__(self, tokens: jax.Array) -> jax.Array:
        cfg = self.cfg
        wte = self.param("wte", nn.initializers.normal(cfg.init_std), (cfg.vocab_size, cfg.n_embd))
        wpe = self.param("wpe", nn.initializers.normal(cfg.init_std / 2), (cfg.n_ctx, cfg.n_embd))
        t = tokens.shape[1]
        if t > cfg.n_ctx:
            raise ValueError(f"sequence length {t} exceeds the context n_ctx={cfg.n_ctx}")
        x = embed(tokens, wte) + wpe[:t]
        mask = causal_mask(t)
        for i in range(cfg.n_layer):
            x = Block(cfg, name=f"h_{i}")(x, mask)
        x = LayerNorm(cfg.ln_eps, name="ln_f")(x)
        return x @ wte.T


def init_params(cfg: GPT2Config, seed: int = 0) -> Any:
    """Seeded random weights (the model owner's secret in the secure examples)."""
    return jax.jit(GPT2(cfg).init)(jax.random.PRNGKey(seed), jnp.zeros((1, 1), jnp.int32))


def logits(params: Any, tokens: jax.Array, cfg: GPT2Config) -> jax.Array:
    """Forward pass: logits for every position."""
    return GPT2(cfg).apply(params, tokens)


def greedy_generate(params: Any, prompt: jax.Array, n_tokens: int, config: GPT2Config) -> jax.Array:
    """Greedy decoding of `n_tokens` tokens after `prompt`; returns the new ids (B, n_tokens).

    `prompt` is ids (B, T0) or one-hot (B, T0, vocab). A fixed-length one-hot buffer
    (B, T0 + n_tokens, vocab) is updated with dynamic_update_slice inside a fori_loop, so the
    step is traced once. Each step recomputes the full buffer (no KV cache): later positions are
    masked by causality, so their content does not matter. The next token is the one-hot of
    `logits == max(logits)` (one max and one comparison per vocabulary entry); exact ties,
    measure-zero in float, would mark several tokens.
    """
    cfg = config
    x0 = prompt if prompt.ndim == 3 else jax.nn.one_hot(prompt, cfg.vocab_size)
    b, t0, v = x0.shape
    total = t0 + n_tokens
    if total > cfg.n_ctx:
        raise ValueError(f"prompt {t0} + {n_tokens} new tokens exceeds n_ctx={cfg.n_ctx}")
    buf = jax.lax.dynamic_update_slice(jnp.zeros((b, total, v), x0.dtype), x0, (0, 0, 0))

    def step(i: jax.Array, buf: jax.Array) -> jax.Array:
        out = logits(params, buf, cfg)
        last = jax.lax.dynamic_slice(out, (0, t0 + i - 1, 0), (b, 1, v))
        nxt = (last >= jnp.max(last, axis=-1, keepdims=True)).astype(buf.dtype)
        return jax.lax.dynamic_update_slice(buf, nxt, (0, t0 + i, 0))

    buf = jax.lax.fori_loop(0, n_tokens, step, buf)
    return (buf[:, t0:] @ jnp.arange(v, dtype=buf.dtype)).astype(jnp.int32)
