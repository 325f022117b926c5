"""sigmoid (three modes, two exp modes) and tanh against float64 over the whole line."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, cfg_for, errors
from tests.hal.approx._params import BASE, WIDE
from veil.hal.approx import f_sigmoid, f_tanh


def _sig(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


X = np.concatenate([np.linspace(-8.0, 8.0, 801), np.linspace(-40.0, 40.0, 161), [-1e5, 1e5]])
# max abs error per (mode, exp mode); measured semi2k FM64: 8.6e-4 (SPU: 1e-3), 6.6e-6,
# 1.55e-4, 4.5e-3; FM128: 8.6e-4, 4.6e-8
SIG_TOL = {
    ("exact", "taylor", "FM64"): 1e-3,
    ("exact", "taylor", "FM128"): 1e-3,
    ("exact", "pade", "FM64"): 1.2e-5,
    ("exact", "pade", "FM128"): 1e-7,
    ("polynomial", "taylor", "FM64"): 2e-4,
    ("polynomial", "taylor", "FM128"): 2e-4,
    ("segments", "taylor", "FM64"): 5e-3,
    ("segments", "taylor", "FM128"): 5e-3,
}


@pytest.mark.parametrize("proto,field", WIDE)
@pytest.mark.parametrize(
    "mode,exp", [("exact", "taylor"), ("exact", "pade"), ("polynomial", "taylor"), ("segments", "taylor")]
)
def test_sigmoid(proto: str, field: str, mode: str, exp: str) -> None:
    cfg = cfg_for(proto, field, sigmoid=mode, exp=exp)
    got, want, _ = errors(cfg, lambda c, v: f_sigmoid(c, v), _sig, X)
    assert_close(got, want, atol=SIG_TOL[mode, exp, field], what=f"sigmoid {mode}/{exp}")


@pytest.mark.parametrize("proto,field", BASE)
def test_sigmoid_exact_error_is_small_near_zero(proto: str, field: str) -> None:
    """The exact form with Taylor exp is limited by exp's x^2/512 error: tiny near 0."""
    cfg = cfg_for(proto, field)
    x = np.linspace(-0.25, 0.25, 101)
    got, want, _ = errors(cfg, lambda c, v: f_sigmoid(c, v), _sig, x)
    assert_close(got, want, atol=3e-5, what="sigmoid near 0")


@pytest.mark.parametrize("proto,field", WIDE)
@pytest.mark.parametrize("mode,exp", [("exact", "taylor"), ("exact", "pade"), ("polynomial", "taylor")])
def test_tanh(proto: str, field: str, mode: str, exp: str) -> None:
    """tanh = 2 sigmoid(2x) - 1: twice the sigmoid's error (SPU's tanh: 5e-3)."""
    cfg = cfg_for(proto, field, sigmoid=mode, exp=exp)
    x = np.concatenate([np.linspace(-5.0, 5.0, 401), [-30.0, 30.0]])
    got, want, _ = errors(cfg, lambda c, v: f_tanh(c, v), np.tanh, x)
    assert_close(got, want, atol=2 * SIG_TOL[mode, exp, field] + 2 * 2.0**-cfg.f, what=f"tanh {mode}/{exp}")
