"""Secure linear models (veil.ml.linear) against scikit-learn on real data.

Plaintext runs (`secure=False`, the identical JAX program) check the algorithm; secure runs check
that veil's fixed point keeps its quality: AUC within 0.01 of sklearn's LogisticRegression,
Poisson deviance within 5% of sklearn's PoissonRegressor, weights close to plaintext SGD.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge, TweedieRegressor
from sklearn.metrics import mean_poisson_deviance, mean_tweedie_deviance, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from veil.ml.linear import SSGLM, SSLinearRegression, SSLogisticRegression, batch_layout, lr_schedule


def _split(x: np.ndarray, at: int) -> list[np.ndarray]:
    return [x[:, :at], x[:, at:]]  # alice's and bob's columns


@pytest.fixture(scope="module")
def cancer():
    x, y = load_breast_cancer(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=42)
    sc = StandardScaler().fit(xtr)
    xtr, xte = sc.transform(xtr), sc.transform(xte)
    sk_auc = roc_auc_score(yte, LogisticRegression(C=1.0).fit(xtr, ytr).decision_function(xte))
    return _split(xtr, 15), ytr.astype(np.float64), _split(xte, 15), yte, sk_auc


@pytest.fixture(scope="module")
def poisson():
    gen = np.random.default_rng(0)
    x = gen.normal(size=(1200, 6))
    y = gen.poisson(np.exp(x @ gen.normal(scale=0.3, size=6) + 0.5)).astype(np.float64)
    xtr, xte, ytr, yte = x[:900], x[900:], y[:900], y[900:]
    sk = PoissonRegressor(alpha=1e-3).fit(xtr, ytr)
    return _split(xtr, 3), ytr, _split(xte, 3), yte, xte, sk


def _lr(**kw) -> SSLogisticRegression:
    args = dict(epochs=6, batch_size=64, learning_rate=0.3, l2=1.0 / 455)
    return SSLogisticRegression(**{**args, **kw})


# ---- schedule and layout ----------------------------------------------------------------------


def test_lr_schedule_and_batch_layout() -> None:
    np.testing.assert_allclose(lr_schedule(7, 0.4, 0.5, 3), [0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1])
    pad, weight = batch_layout(10, 4)
    assert pad == 2 and weight.shape == (3, 4)
    np.testing.assert_allclose(weight[-1], [0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(weight.sum(axis=1), 1.0)


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="list of 2-D arrays"):
        _lr().fit(np.ones((4, 2)), np.ones(4))
    with pytest.raises(ValueError, match="same number of rows"):
        _lr().fit([np.ones((4, 2)), np.ones((5, 2))], np.ones(4))
    with pytest.raises(ValueError, match="y has 3 rows"):
        _lr().fit([np.ones((4, 2))], np.ones(3))
    with pytest.raises(ValueError, match="sigmoid"):
        SSLogisticRegression(sigmoid="tanh")
    with pytest.raises(ValueError, match="not fitted"):
        _lr().predict([np.ones((4, 2))])


def test_runtime_config_carries_the_approximation_choice() -> None:
    import veil

    cfg = _lr(sigmoid="segments", protocol="aby3")._runtime_config()
    assert cfg.approx.sigmoid.value == "segments" and cfg.world_size == 3
    user = veil.RuntimeConfig(protocol="semi2k", field="FM128")
    glm = SSGLM(config=user, exp="taylor")._runtime_config()
    assert glm.field.name == "FM128" and glm.approx.exp.value == "taylor"


# ---- plaintext runs of the same program ---------------------------------------------------------


@pytest.mark.parametrize("strategy", ["naive_sgd", "policy_sgd"])
def test_logistic_plaintext_auc_matches_sklearn(cancer, strategy: str) -> None:
    xtr, ytr, xte, yte, sk_auc = cancer
    m = _lr(strategy=strategy).fit(xtr, ytr, secure=False)
    assert roc_auc_score(yte, m.decision_function(xte, secure=False)) >= sk_auc - 0.01
    assert m.predict_proba(xte, secure=False).shape == (len(yte), 2)


def test_policy_sgd_default_decay() -> None:
    m = SSLogisticRegression(strategy="policy_sgd")
    assert (m.decay_rate, m.decay_epoch) == (0.5, 5)
    with pytest.raises(ValueError, match="decay_rate"):
        lr_schedule(3, 0.1, 1.5, 2)


def test_linear_regression_plaintext_matches_ridge() -> None:
    x, y = load_diabetes(return_X_y=True)
    x, y = StandardScaler().fit_transform(x), (y - y.mean()) / y.std()
    m = SSLinearRegression(epochs=30, batch_size=32, learning_rate=0.05).fit(_split(x, 5), y, secure=False)
    ref = Ridge(alpha=1e-6).fit(x, y)
    r2 = 1 - np.mean((m.predict(_split(x, 5), secure=False) - y) ** 2) / np.var(y)
    assert r2 >= ref.score(x, y) - 0.02


def test_poisson_plaintext_deviance_matches_sklearn(poisson) -> None:
    xtr, ytr, xte, yte, xte_full, sk = poisson
    m = SSGLM(epochs=4, batch_size=100, learning_rate=0.05, l2=1e-3).fit(xtr, ytr, secure=False)
    dev, sk_dev = (
        mean_poisson_deviance(yte, m.predict(xte, secure=False)),
        mean_poisson_deviance(yte, sk.predict(xte_full)),
    )
    assert dev <= 1.05 * sk_dev


def test_tweedie_plaintext_deviance_matches_sklearn() -> None:
    gen = np.random.default_rng(3)
    x = gen.normal(size=(800, 4))
    mu = np.exp(x @ np.array([0.3, -0.2, 0.1, 0.25]) + 0.3)
    y = gen.poisson(mu) * gen.gamma(2.0, 0.5, size=800)  # compound Poisson-gamma
    sk = TweedieRegressor(power=1.5, link="log", alpha=1e-3).fit(x[:600], y[:600])
    m = SSGLM(power=1.5, epochs=8, batch_size=50, learning_rate=0.1, l2=1e-3).fit(
        _split(x[:600], 2), y[:600], secure=False
    )
    dev = mean_tweedie_deviance(y[600:], m.predict(_split(x[600:], 2), secure=False), power=1.5)
    assert dev <= 1.05 * mean_tweedie_deviance(y[600:], sk.predict(x[600:]), power=1.5)


def test_reveal_false_keeps_model_secret_and_predicts_the_same(cancer) -> None:
    xtr, ytr, xte, _, _ = cancer
    revealed = _lr(epochs=2).fit(xtr, ytr, secure=False)
    hidden = _lr(epochs=2).fit(xtr, ytr, reveal=False, secure=False)
    assert hidden.coef_ is None and hidden.intercept_ is None
    np.testing.assert_allclose(
        hidden.decision_function(xte, secure=False), revealed.decision_function(xte, secure=False), atol=1e-4
    )


# ---- secure runs ------------------------------------------------------------------------------


def test_linear_regression_secure_matches_plaintext() -> None:
    x, y = load_diabetes(return_X_y=True)
    x, y = StandardScaler().fit_transform(x), (y - y.mean()) / y.std()
    m = SSLinearRegression(epochs=3, batch_size=64, learning_rate=0.1)
    plain = m.fit(_split(x, 5), y, secure=False).coef_
    secure = m.fit(_split(x, 5), y).coef_
    np.testing.assert_allclose(secure, plain, atol=1e-3)
    assert m.stats_.rounds > 0


@pytest.mark.parametrize("sigmoid", ["exact", "segments"])
def test_logistic_secure_auc_matches_sklearn(cancer, sigmoid: str) -> None:
    xtr, ytr, xte, yte, sk_auc = cancer
    m = _lr(sigmoid=sigmoid).fit(xtr, ytr)
    assert roc_auc_score(yte, m.decision_function(xte, secure=False)) >= sk_auc - 0.01
    assert roc_auc_score(yte, m.predict_proba(xte)[:, 1]) >= sk_auc - 0.01  # secure predict


def test_logistic_secure_policy_sgd_aby3(cancer) -> None:
    xtr, ytr, xte, yte, sk_auc = cancer
    m = _lr(strategy="policy_sgd", protocol="aby3").fit(xtr, ytr)
    assert roc_auc_score(yte, m.decision_function(xte, secure=False)) >= sk_auc - 0.01


def test_poisson_secure_deviance_matches_sklearn(poisson) -> None:
    xtr, ytr, xte, yte, xte_full, sk = poisson
    m = SSGLM(epochs=4, batch_size=100, learning_rate=0.05, l2=1e-3).fit(xtr, ytr)
    dev = mean_poisson_deviance(yte, m.predict(xte, secure=False))
    assert dev <= 1.05 * mean_poisson_deviance(yte, sk.predict(xte_full))
