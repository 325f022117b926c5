"""Secure linear models on vertically partitioned data vs scikit-learn.

Logistic regression: breast cancer, alice holds 15 feature columns, bob the other 15 and the
labels; trained by secure mini-batch SGD (veil.ml.linear.SSLogisticRegression), compared with
sklearn's LogisticRegression by test AUC. Poisson GLM: a synthetic Poisson dataset, compared with
sklearn's PoissonRegressor by mean Poisson deviance.

Run:  python examples/linear_models.py [--protocol semi2k] [--field FM64] [--sigmoid exact]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression, PoissonRegressor
from sklearn.metrics import mean_poisson_deviance, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from veil.ml.linear import SSGLM, SSLogisticRegression


def logistic(args: argparse.Namespace) -> None:
    x, y = load_breast_cancer(return_X_y=True)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.2, random_state=42)
    sc = StandardScaler().fit(xtr)
    xtr, xte = sc.transform(xtr), sc.transform(xte)
    sk = LogisticRegression(C=1.0).fit(xtr, ytr)
    model = SSLogisticRegression(
        epochs=args.epochs, batch_size=64, learning_rate=0.3, l2=1.0 / len(ytr), sigmoid=args.sigmoid,
        strategy=args.strategy, protocol=args.protocol, field=args.field,
    )  # fmt: skip
    start = time.perf_counter()
    model.fit([xtr[:, :15], xtr[:, 15:]], ytr)
    wall = time.perf_counter() - start
    auc = roc_auc_score(yte, model.predict_proba([xte[:, :15], xte[:, 15:]])[:, 1])
    print(
        f"logistic  sklearn AUC {roc_auc_score(yte, sk.decision_function(xte)):.4f}  secure AUC {auc:.4f}  ({wall:.1f} s)"
    )
    print(f"          fit: {model.fit_stats_}")


def poisson(args: argparse.Namespace) -> None:
    gen = np.random.default_rng(0)
    x = gen.normal(size=(1200, 6))
    y = gen.poisson(np.exp(x @ gen.normal(scale=0.3, size=6) + 0.5)).astype(np.float64)
    sk = PoissonRegressor(alpha=1e-3).fit(x[:900], y[:900])
    model = SSGLM(
        epochs=4, batch_size=100, learning_rate=0.05, l2=1e-3, protocol=args.protocol, field=args.field
    )
    start = time.perf_counter()
    model.fit([x[:900, :3], x[:900, 3:]], y[:900])
    wall = time.perf_counter() - start
    dev = mean_poisson_deviance(y[900:], model.predict([x[900:, :3], x[900:, 3:]]))
    print(
        f"poisson   sklearn deviance {mean_poisson_deviance(y[900:], sk.predict(x[900:])):.4f}  secure {dev:.4f}  ({wall:.1f} s)"
    )
    print(f"          fit: {model.fit_stats_}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocol", default="semi2k", choices=["ref2k", "semi2k", "aby3"])
    ap.add_argument("--field", default="FM64", choices=["FM64", "FM128"])
    ap.add_argument("--sigmoid", default="exact", choices=["exact", "segments", "polynomial"])
    ap.add_argument("--strategy", default="naive_sgd", choices=["naive_sgd", "policy_sgd"])
    ap.add_argument("--epochs", type=int, default=6)
    args = ap.parse_args()
    logistic(args)
    poisson(args)


if __name__ == "__main__":
    main()
