"""The seed's logistic regression (SPU's `jax_lr` example), unmodified JAX: jax.grad of a log loss.

Run securely:  python examples/logit_regression.py
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def sigmoid(x):
    return 1 / (1 + jnp.exp(-x))


def predict(x, w, b):
    return sigmoid(jnp.matmul(x, w) + b)


def loss(x, y, w, b):
    pred = predict(x, w, b)
    label_probs = pred * y + (1 - pred) * (1 - y)
    return -jnp.sum(jnp.log(label_probs))


class LogitRegression:
    """Full-batch (n_iters=1) or mini-batch gradient descent with jax.grad, epochs in a fori_loop."""

    def __init__(self, n_epochs: int = 3, n_iters: int = 1, step_size: float = 0.01) -> None:
        self.n_epochs = n_epochs
        self.n_iters = n_iters
        self.step_size = step_size

    def fit_auto_grad(self, feature, label):
        w = jnp.zeros(feature.shape[1])
        b = 0.0
        xs = jnp.array_split(feature, self.n_iters, axis=0)
        ys = jnp.array_split(label, self.n_iters, axis=0)

        def body_fun(_, loop_carry):
            w_, b_ = loop_carry
            for x, y in zip(xs, ys):
                grad = jax.grad(loss, argnums=(2, 3))(x, y, w_, b_)
                w_ -= grad[0] * self.step_size
                b_ -= grad[1] * self.step_size
            return w_, b_

        return jax.lax.fori_loop(0, self.n_epochs, body_fun, (w, b))


def load_breast_cancer_vertical() -> tuple[
    np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:
    """Breast cancer, min-max scaled, 80/20 split (random_state=42), features split 15/15 (alice/bob)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.min()) / (x.max() - x.min())
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=42)
    return (
        x_train[:, :15],
        x_train[:, 15:],
        y_train.astype(np.float64),
        x_test[:, :15],
        x_test[:, 15:],
        y_test,
    )


def train(x1, x2, y, n_epochs: int = 3):
    """Joint training on alice's and bob's columns; both halves stay secret inside veil."""
    x = jnp.concatenate([x1, x2], axis=1)
    return LogitRegression(n_epochs=n_epochs).fit_auto_grad(x, y)


if __name__ == "__main__":
    from sklearn.metrics import roc_auc_score

    import veil

    x1, x2, y, t1, t2, ty = load_breast_cancer_vertical()
    secure = veil.jit(train, protocol="semi2k", field="FM64", static_argnames="n_epochs")
    w, b = secure(x1, x2, y, n_epochs=3)
    w0, b0 = train(x1, x2, y, n_epochs=3)
    xt = np.concatenate([t1, t2], axis=1)
    print("plaintext AUC", roc_auc_score(ty, xt @ np.asarray(w0) + float(b0)))
    print("secure    AUC", roc_auc_score(ty, xt @ w + float(b)))
    print("max |w - w_plain|", float(np.max(np.abs(w - np.asarray(w0)))))
    print(secure.stats)
