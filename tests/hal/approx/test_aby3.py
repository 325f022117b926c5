"""Every dispatcher on aby3 (3 parties, replicated shares): the methods are protocol-neutral
(both protocols' truncations round stochastically, with different randomness)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import veil.hal.approx as A
from tests.hal.approx._common import assert_close, cfg_for, errors
from tests.hal.approx._params import _param

ABY3 = [_param("aby3", "FM64")]
POS = np.linspace(0.1, 10.0, 64)
SYM = np.linspace(-5.0, 5.0, 64)
CASES = {  # name: (inputs, reference, atol, rtol, approx config)
    "f_exp": ([SYM], np.exp, 1e-5, 1e-5, {"exp": "pade"}),
    "f_log": ([POS], np.log, 2e-5, 0.0, {}),
    "f_reciprocal": ([POS], lambda v: 1.0 / v, 2e-5, 4e-5, {}),
    "f_div": ([SYM, POS], np.divide, 2e-5, 4e-5, {}),
    "f_sqrt": ([POS], np.sqrt, 2e-5, 6e-6, {}),
    "f_rsqrt": ([POS], lambda v: 1.0 / np.sqrt(v), 2e-5, 6e-6, {}),
    "f_sigmoid": ([SYM], lambda v: 1.0 / (1.0 + np.exp(-v)), 1e-3, 0.0, {}),
    "f_tanh": ([SYM], np.tanh, 2e-3, 0.0, {}),
    "f_erf": ([SYM], np.vectorize(math.erf), 2e-5, 0.0, {}),
    "f_sin": ([SYM * 20], np.sin, 2e-5, 0.0, {}),
    "f_cos": ([SYM * 20], np.cos, 2e-5, 0.0, {}),
}


@pytest.mark.parametrize("proto,field", ABY3)
@pytest.mark.parametrize("name", sorted(CASES))
def test_aby3(proto: str, field: str, name: str) -> None:
    xs, ref, atol, rtol, approx = CASES[name]
    cfg = cfg_for(proto, field, **approx)
    got, want, _ = errors(cfg, lambda c, *v: getattr(A, name)(c, *v), ref, *xs)
    assert_close(got, want, atol=atol, rtol=rtol, what=f"{name} on aby3")
