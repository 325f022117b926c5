"""log and log1p against float64 on wide ranges (normalisation + polynomial)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, cfg_for, errors
from tests.hal.approx._params import WIDE
from veil.hal.approx import f_log, f_log1p

# max abs error; measured (semi2k): FM64 8.3e-6 (SPU: 3e-5), FM128 5.1e-8
ATOL = {"FM64": 1.5e-5, "FM128": 1e-7}


def _inputs(field: str) -> np.ndarray:
    top = 20 if field == "FM64" else 30
    return np.concatenate([np.geomspace(2.0**-10, 2.0**top, 700), np.linspace(0.1, 10.0, 300)])


@pytest.mark.parametrize("proto,field", WIDE)
def test_log(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    x = _inputs(field)
    got, want, _ = errors(cfg, lambda c, v: f_log(c, v), np.log, x)
    assert_close(got, want, atol=ATOL[field], what="log")


@pytest.mark.parametrize("proto,field", WIDE)
def test_log_of_tiny_and_zero(proto: str, field: str) -> None:
    """x = 1 LSB is exact to the method; x = 0 gives log(2^-(f+1)) instead of -inf."""
    cfg = cfg_for(proto, field)
    lsb = 2.0**-cfg.f
    got, _, _ = errors(cfg, lambda c, v: f_log(c, v), np.log, np.array([lsb, 2 * lsb, 0.0]))
    np.testing.assert_allclose(got, [math.log(lsb), math.log(2 * lsb), math.log(lsb / 2)], atol=ATOL[field])


@pytest.mark.parametrize("proto,field", WIDE)
def test_log1p(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    x = np.linspace(-0.9, 20.0, 400)
    got, want, _ = errors(cfg, lambda c, v: f_log1p(c, v), np.log1p, x)
    assert_close(got, want, atol=ATOL[field], what="log1p")
