"""SecretFlow's neural-network tutorial, unmodified JAX/flax: MLP [30, 15, 8, 1] on breast cancer.

Alice holds 15 feature columns, bob the other 15 and the labels. Training (batch 10, 10 epochs in
a fori_loop, jax.value_and_grad of MSE, SGD 0.01) runs entirely on secret shares.
Run securely:  python examples/mlp_breast_cancer.py
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

FEATURES = (30, 15, 8, 1)


class MLP(nn.Module):
    features: Sequence[int]

    @nn.compact
    def __call__(self, x):
        for feat in self.features[:-1]:
            x = nn.relu(nn.Dense(feat)(x))
        return nn.Dense(self.features[-1])(x)


def predict(params, x):
    return MLP(FEATURES).apply(params, x)


def loss_func(params, x, y):
    pred = predict(params, x)

    def mse(y, pred):
        def squared_error(y, y_pred):
            return jnp.multiply(y - y_pred, y - y_pred) / 2.0

        return jnp.mean(squared_error(y, pred))

    return mse(y, pred)


def train_auto_grad(x1, x2, y, params, n_batch: int = 10, n_epochs: int = 10, step_size: float = 0.01):
    x = jnp.concatenate((x1, x2), axis=1)
    xs = jnp.array_split(x, len(x) / n_batch, axis=0)
    ys = jnp.array_split(y, len(y) / n_batch, axis=0)

    def body_fun(_, loop_carry):
        params = loop_carry
        for x, y in zip(xs, ys):
            _, grads = jax.value_and_grad(loss_func)(params, x, y)
            params = jax.tree_util.tree_map(lambda p, g: p - step_size * g, params, grads)
        return params

    return jax.lax.fori_loop(0, n_epochs, body_fun, params)


def init_params(n_batch: int = 10):
    return MLP(FEATURES).init(jax.random.PRNGKey(1), jnp.ones((n_batch, FEATURES[0])))


if __name__ == "__main__":
    import numpy as np
    from logit_regression import load_breast_cancer_vertical
    from sklearn.metrics import roc_auc_score

    import veil

    x1, x2, y, t1, t2, ty = load_breast_cancer_vertical()
    y = y.reshape(-1, 1)
    params = init_params()
    secure = veil.jit(train_auto_grad, static_argnames=("n_batch", "n_epochs"))
    p_secure = secure(x1, x2, y, params, n_epochs=10)
    p_plain = train_auto_grad(x1, x2, y, params, n_epochs=10)
    xt = np.concatenate([t1, t2], axis=1)
    print("plaintext AUC", roc_auc_score(ty, np.asarray(predict(p_plain, xt)).ravel()))
    print("secure    AUC", roc_auc_score(ty, np.asarray(predict(p_secure, xt)).ravel()))
    print(secure.stats)
