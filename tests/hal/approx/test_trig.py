"""sin and cos: range reduction by a public 1/(2 pi) (exact up to whole periods) + polynomial."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, cfg_for, errors
from tests.hal.approx._params import WIDE
from veil.hal.approx import f_cos, f_sin

# measured semi2k on [-100, 100]: FM64 6.6e-6, FM128 2.3e-8; |x| <= 4000 (FM64): 6.6e-6
ATOL = {"FM64": 1.2e-5, "FM128": 6e-8}
X = np.concatenate([np.linspace(-7.0, 7.0, 401), np.linspace(-100.0, 100.0, 401), [-4000.0, 3999.0]])


@pytest.mark.parametrize("proto,field", WIDE)
@pytest.mark.parametrize("name", ["sin", "cos"])
def test_sin_cos(proto: str, field: str, name: str) -> None:
    cfg = cfg_for(proto, field)
    fn, ref = (f_sin, np.sin) if name == "sin" else (f_cos, np.cos)
    got, want, _ = errors(cfg, lambda c, v: fn(c, v), ref, X)
    assert_close(got, want, atol=ATOL[field], what=name)
