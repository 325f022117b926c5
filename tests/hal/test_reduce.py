"""Reductions and scans vs numpy; the max tree takes ceil(log2 n) comparison rounds."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.runner import config, params, run, secret, ulp
from veil.hal import reduce as Rd

RNG = np.random.default_rng(7)
X = np.round(RNG.uniform(-3, 3, (3, 7)), 2)
X[1, 2] = X[1, 5] = X[1].max() + 0.5  # tie on the max: lowest index wins
X[2, 0] = X[2, 6] = X[2].min() - 0.5  # tie on the min


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_reductions(proto: str, field: str) -> None:
    cfg = config(proto, field)

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return [
            Rd.reduce_sum(ctx, x, 1),
            Rd.reduce_sum(ctx, x, None),
            Rd.reduce_max(ctx, x, 1),
            Rd.reduce_min(ctx, x, 0),
            Rd.reduce_max(ctx, x, (0, 1)),
            Rd.argmax(ctx, x, 1),
            Rd.argmin(ctx, x, 1),
            Rd.argmax(ctx, x, 0),
        ]

    r = run(cfg, fn, secret(X))
    wants = [X.sum(1), X.sum(), X.max(1), X.min(0), X.max(), X.argmax(1), X.argmin(1), X.argmax(0)]
    for got, want in zip(r.outputs, wants):
        np.testing.assert_allclose(got, want, atol=4 * ulp(cfg))


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_scans(proto: str, field: str) -> None:
    cfg = config(proto, field)
    r = run(
        cfg,
        lambda ctx, x: [
            Rd.cumsum(ctx, x, 1),
            Rd.cumsum(ctx, x, 0, True),
            Rd.cummax(ctx, x, 1),
            Rd.cummax(ctx, x, 1, True),
        ],
        secret(X),
    )
    np.testing.assert_allclose(r.outputs[0], np.cumsum(X, 1), atol=8 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[1], np.cumsum(X[::-1], 0)[::-1], atol=8 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[2], np.maximum.accumulate(X, 1), atol=ulp(cfg))
    np.testing.assert_allclose(r.outputs[3], np.maximum.accumulate(X[:, ::-1], 1)[:, ::-1], atol=ulp(cfg))


@pytest.mark.parametrize("proto,field", params())
def test_max_tree_rounds(proto: str, field: str) -> None:
    """Max over 64 elements costs 6 times the rounds of one maximum (log2 64), not 63 times."""
    cfg = config(proto, field)
    x = RNG.uniform(-3, 3, (4, 64))
    r = run(cfg, lambda ctx, v: Rd.reduce_max(ctx, v, 1), secret(x))
    np.testing.assert_allclose(r.outputs[0], x.max(1), atol=ulp(cfg))
    one = run(cfg, lambda ctx, v: Rd.reduce_max(ctx, v, 1), secret(x[:, :2]))
    rounds = max(s.rounds for s in r.stats)
    assert rounds <= 6 * max(s.rounds for s in one.stats)
