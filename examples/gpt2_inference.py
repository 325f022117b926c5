"""Secure GPT-2 inference: the model owner's weights and the user's prompt are both secret.

The tiny GPT-2 config (seeded random weights: real checkpoints cannot be downloaded here) runs
under veil.jit. The prompt enters as one-hot rows (a secret gather is not supported; `one_hot @
wte` is a matmul). We compare the secure logits with plaintext JAX (tolerance LOGIT_ATOL) and
generate a few tokens greedily on secret shares: only the final token ids are revealed.

Run:  python examples/gpt2_inference.py [--protocol semi2k] [--field FM64] [--puma] [--tokens 3]
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

import veil
from veil.ml.models import gpt2

LOGIT_ATOL = 0.05  # max |secure - plaintext| on logits of scale ~3 (fixed-point LN/softmax/GeLU)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="semi2k", choices=["ref2k", "semi2k", "aby3"])
    ap.add_argument("--field", default="FM64", choices=["FM64", "FM128"])
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=3, help="tokens to generate")
    ap.add_argument("--puma", action="store_true", help="PUMA GeLU and softmax")
    args = ap.parse_args()

    cfg = gpt2.CONFIGS["tiny"].with_(n_layer=args.layers)
    if args.puma:
        cfg = cfg.with_(gelu="puma", softmax="puma")
    params = gpt2.init_params(cfg, seed=0)  # the model owner's secret
    prompt = np.array([[17, 42, 3, 99, 250, 8]])  # the user's secret
    onehot = gpt2.one_hot(prompt, cfg.vocab_size)

    plain = np.asarray(jax.jit(gpt2.logits, static_argnums=2)(params, prompt, cfg))
    secure = veil.jit(lambda p, x: gpt2.logits(p, x, cfg), protocol=args.protocol, field=args.field)
    out = secure(params, onehot)
    err = float(np.abs(out - plain).max())
    print(f"config: {cfg}")
    print(
        f"logits  max |secure - plaintext| = {err:.2e} (tolerance {LOGIT_ATOL}), scale {np.abs(plain).max():.2f}"
    )
    print(f"        {secure.stats}")
    if args.puma:
        exact = np.asarray(
            jax.jit(gpt2.logits, static_argnums=2)(params, prompt, cfg.with_(gelu="tanh", softmax="exact"))
        )
        print(
            f"        PUMA approximation itself (plaintext): max |puma - exact| = {np.abs(plain - exact).max():.2e}"
        )

    gen = veil.jit(
        lambda p, x: gpt2.greedy_generate(p, x, args.tokens, cfg), protocol=args.protocol, field=args.field
    )
    start = time.perf_counter()
    tokens = np.asarray(gen(params, onehot))
    wall = time.perf_counter() - start
    ref = np.asarray(gpt2.greedy_generate(params, prompt, args.tokens, cfg))
    print(
        f"greedy  secure {tokens.tolist()} plaintext {ref.tolist()} -> {'equal' if (tokens == ref).all() else 'DIFFERENT'}"
    )
    print(f"        {gen.stats} ({wall:.1f} s)")
    if err > LOGIT_ATOL or not (tokens == ref).all():
        raise SystemExit("secure inference disagrees with plaintext beyond the stated tolerance")


if __name__ == "__main__":
    main()
