"""erf: minimax polynomial on the clamped magnitude, odd by the sign bit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, cfg_for, errors
from tests.hal.approx._params import WIDE
from veil.hal.approx import f_erf

# measured semi2k: FM64 7.6e-6 (2 LSB), FM128 1.2e-7
ATOL = {"FM64": 1.2e-5, "FM128": 2e-7}


@pytest.mark.parametrize("proto,field", WIDE)
def test_erf(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    x = np.concatenate([np.linspace(-5.0, 5.0, 1001), [-1e4, 1e4, 0.0]])
    got, want, _ = errors(cfg, lambda c, v: f_erf(c, v), np.vectorize(math.erf), x)
    assert_close(got, want, atol=ATOL[field], what="erf")
