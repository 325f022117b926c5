"""sqrt and rsqrt: normalisation, minimax polynomial, one scale product."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, cfg_for, errors
from tests.hal.approx._params import WIDE
from veil.hal.approx import f_rsqrt, f_sqrt

# (rtol, atol); measured semi2k: rsqrt rel 2.8e-6 + LSBs, sqrt rel 1.6e-6 + LSBs
TOL = {"FM64": (6e-6, 4 * 2.0**-18), "FM128": (2e-7, 4 * 2.0**-26)}


def _inputs(field: str) -> np.ndarray:
    top = 20 if field == "FM64" else 30
    return np.concatenate([np.geomspace(2.0**-10, 2.0**top, 600), np.linspace(0.1, 10.0, 200)])


@pytest.mark.parametrize("proto,field", WIDE)
def test_rsqrt(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    got, want, _ = errors(cfg, lambda c, v: f_rsqrt(c, v), lambda v: 1.0 / np.sqrt(v), _inputs(field))
    rtol, atol = TOL[field]
    assert_close(got, want, atol=atol, rtol=rtol, what="rsqrt")


@pytest.mark.parametrize("proto,field", WIDE)
def test_sqrt(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    x = np.concatenate([_inputs(field), [0.0, 2.0**-cfg.f]])
    got, want, _ = errors(cfg, lambda c, v: f_sqrt(c, v), np.sqrt, x)
    rtol, atol = TOL[field]
    assert_close(got, want, atol=atol, rtol=rtol, what="sqrt")
    assert abs(got[-2]) <= 2 * 2.0**-cfg.f  # sqrt(0) = 0
