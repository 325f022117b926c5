"""x ** y: exp(y log x) for secret or public non-integral y; log-depth powers for public integers."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, cfg_for, quantize
from tests.hal.approx._params import BASE
from tests.hal.runner import public, run, secret
from veil.hal.approx import f_pow

X = np.linspace(0.5, 4.0, 201)
Y = np.linspace(-2.0, 2.0, 201)


@pytest.mark.parametrize("proto,field", BASE)
def test_pow_exp_log(proto: str, field: str) -> None:
    """Accuracy follows exp's mode: PADE gives relative ~3e-5 (measured 2.6e-5)."""
    cfg = cfg_for(proto, field, exp="pade")
    r = run(cfg, lambda c, a, b: f_pow(c, a, b), secret(X), secret(Y))
    assert_close(r.outputs[0], np.power(quantize(cfg, X), quantize(cfg, Y)), atol=1e-5, rtol=6e-5, what="pow")
    r = run(cfg, lambda c, a, b: f_pow(c, a, b), secret(X), public(np.full(X.shape, 0.5)))
    assert_close(r.outputs[0], np.sqrt(quantize(cfg, X)), atol=1e-5, rtol=6e-5, what="pow 0.5")


@pytest.mark.parametrize("proto,field", BASE)
@pytest.mark.parametrize("n", [0, 1, 3, -2])
def test_pow_public_integer(proto: str, field: str, n: int) -> None:
    """Integral public exponents work for any sign of x (no log)."""
    cfg = cfg_for(proto, field)
    x = np.concatenate([-X[::4], X[::4]])
    r = run(cfg, lambda c, a, b: f_pow(c, a, b), secret(x), public(np.full(x.shape, float(n))))
    want = np.power(quantize(cfg, x), float(n))
    assert_close(r.outputs[0], want, atol=4e-5 * max(1, abs(n)), rtol=6e-5, what=f"pow n={n}")
    assert r.values[0][0].is_secret
