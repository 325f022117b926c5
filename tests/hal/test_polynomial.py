"""Polynomial evaluation: accuracy and round count (log depth)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.runner import config, params, public, run, secret
from veil.hal.polynomial import polynomial, powers

X = np.linspace(-1.5, 1.5, 31)
COEFFS = [0.5, -1.0, 0.25, 0.125, -0.0625, 0.03125, 0.0, -0.01]


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_polynomial_accuracy(proto: str, field: str) -> None:
    cfg = config(proto, field)
    r = run(cfg, lambda ctx, x: polynomial(ctx, x, COEFFS), secret(X))
    want = np.polynomial.polynomial.polyval(X, COEFFS)
    np.testing.assert_allclose(r.outputs[0], want, atol=2e-4)


@pytest.mark.parametrize("proto,field", params())
def test_polynomial_public_is_local(proto: str, field: str) -> None:
    r = run(config(proto, field), lambda ctx, x: polynomial(ctx, x, COEFFS), public(X))
    np.testing.assert_allclose(r.outputs[0], np.polynomial.polynomial.polyval(X, COEFFS), atol=1e-5)
    assert r.values[0][0].is_public


@pytest.mark.parametrize("proto,field", params())
def test_powers_log_depth(proto: str, field: str) -> None:
    """Degree 7 needs 3 product rounds; each round is one batched mul+trunc."""
    cfg = config(proto, field)

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        pw = powers(ctx, x, 7)
        return [pw[i] for i in range(1, 8)]

    r = run(cfg, fn, secret(X))
    for i, got in enumerate(r.outputs, start=1):
        np.testing.assert_allclose(got, X**i, atol=1e-4 * i)
    if proto == "semi2k":
        one = run(cfg, lambda ctx, x: powers(ctx, x, 2)[2], secret(X))
        assert max(s.rounds for s in r.stats) <= 3 * max(s.rounds for s in one.stats)
