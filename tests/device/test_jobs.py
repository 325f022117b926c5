"""End-to-end jobs from the field under veil.jit, compared with plaintext JAX.

- the seed's logistic regression (jax.grad of a log loss, 3 epochs): weights within 1e-2;
- SecretFlow's flax MLP tutorial [30, 15, 8, 1], batch 10, 10 epochs in a fori_loop: AUC within 0.005.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import veil

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
import logit_regression as lr  # noqa: E402
import mlp_breast_cancer as mlp  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return lr.load_breast_cancer_vertical()


@pytest.mark.parametrize(
    "protocol,field,parties",
    [
        ("semi2k", "FM64", 2),
        pytest.param("aby3", "FM64", 3, marks=pytest.mark.slow),
        pytest.param("semi2k", "FM128", 3, marks=pytest.mark.slow),
    ],
)
def test_logistic_regression_matches_plaintext(data, protocol: str, field: str, parties: int) -> None:
    x1, x2, y, t1, t2, ty = data
    secure = veil.jit(lr.train, protocol=protocol, field=field, parties=parties, static_argnames="n_epochs")
    w, b = secure(x1, x2, y, n_epochs=3)
    w0, b0 = lr.train(x1, x2, y, n_epochs=3)
    np.testing.assert_allclose(w, np.asarray(w0), atol=1e-2)
    np.testing.assert_allclose(b, float(b0), atol=1e-2)
    assert secure.stats.rounds > 0 and secure.stats.online_bytes > 0


@pytest.mark.slow
def test_mlp_tutorial_auc(data) -> None:
    x1, x2, y, t1, t2, ty = data
    y = y.reshape(-1, 1)
    params = mlp.init_params()
    secure = veil.jit(mlp.train_auto_grad, static_argnames=("n_batch", "n_epochs"))
    p_secure = secure(x1, x2, y, params, n_epochs=10)
    p_plain = mlp.train_auto_grad(x1, x2, y, params, n_epochs=10)
    xt = np.concatenate([t1, t2], axis=1)
    auc_plain = roc_auc_score(ty, np.asarray(mlp.predict(p_plain, xt)).ravel())
    auc_secure = roc_auc_score(ty, np.asarray(mlp.predict(p_secure, xt)).ravel())
    assert abs(auc_secure - auc_plain) <= 0.005, (auc_secure, auc_plain)
