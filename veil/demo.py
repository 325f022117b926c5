"""The main demo: secure training on vertically partitioned breast-cancer data.

Alice holds 15 feature columns, bob the other 15 and the labels; neither sees the other's data.
The training program is ordinary JAX; veil runs it on secret shares and reveals only the model.

    python -m veil.demo [--job lr|mlp] [--protocol semi2k|aby3|ref2k] [--field FM64|FM128]
"""

from __future__ import annotations

import argparse
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np


def _data() -> tuple[np.ndarray, ...]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=42)
    return x_tr[:, :15], x_tr[:, 15:], y_tr.astype(np.float64), x_te[:, :15], x_te[:, 15:], y_te


def _lr_loss(w, b, x, y):
    logits = x @ w + b
    prob = jax.nn.sigmoid(logits)
    return -jnp.mean(y * jnp.log(prob + 1e-4) + (1 - y) * jnp.log(1 - prob + 1e-4))


def train_lr(x_alice, x_bob, y, epochs: int = 10, lr: float = 1.0):
    """Full-batch gradient descent on the log loss, jax.grad inside a fori_loop."""
    x = jnp.concatenate([x_alice, x_bob], axis=1)

    def epoch(_, wb):
        gw, gb = jax.grad(_lr_loss, argnums=(0, 1))(wb[0], wb[1], x, y)
        return wb[0] - lr * gw, wb[1] - lr * gb

    return jax.lax.fori_loop(0, epochs, epoch, (jnp.zeros(x.shape[1]), jnp.zeros(())))


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def main(argv: list[str] | None = None) -> int:
    import veil

    parser = argparse.ArgumentParser(prog="veil demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--job", choices=["lr"], default="lr")
    parser.add_argument("--protocol", default="semi2k", choices=["semi2k", "aby3", "ref2k"])
    parser.add_argument("--field", default="FM64", choices=["FM64", "FM128"])
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args(argv)

    xa, xb, y, ta, tb, ty = _data()
    print(f"veil demo: secure logistic regression, {args.protocol} {args.field}, "
          f"alice {xa.shape[1]} features, bob {xb.shape[1]} features + labels, {len(y)} training rows")
    print("  (simulation: parties run as threads in this process over the in-memory link)")
    secure = veil.jit(train_lr, protocol=args.protocol, field=args.field, static_argnames=("epochs",))
    t0 = time.perf_counter()
    w, b = secure(xa, xb, y, epochs=args.epochs)
    secure_s = time.perf_counter() - t0
    w0, b0 = train_lr(xa, xb, y, epochs=args.epochs)
    xt = np.concatenate([ta, tb], axis=1)
    auc_plain = _auc(ty, xt @ np.asarray(w0) + float(b0))
    auc_secure = _auc(ty, xt @ np.asarray(w) + float(b))
    st = secure.stats
    print(f"  plaintext AUC {auc_plain:.4f}   secure AUC {auc_secure:.4f}   "
          f"max |w - w_plain| {float(np.max(np.abs(np.asarray(w) - np.asarray(w0)))):.2e}")
    print(f"  time {secure_s:.2f} s (compile {st.compile_s:.2f} s)   online {st.online_bytes / 1e6:.2f} MB   "
          f"rounds {st.rounds}   offline (dealer) {st.offline_bytes / 1e6:.2f} MB")
    print("  most expensive ops:")
    for line in st.table().splitlines()[:6]:
        print("    " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
