"""Online cost on 2PC semi2k FM64 against SPU 0.9.5's (REFERENCE.md: party 0's bytes per
element and rounds, 100,000 elements). veil must stay below SPU on both axes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import veil.hal.approx as A
from tests.hal.approx._common import bytes_per_elem, cfg_for, max_rounds
from tests.hal.approx._params import BASE
from tests.hal.runner import run, secret

SEMI2K = [p for p in BASE if p.id == "semi2k-FM64"]
N = 256
POS = np.linspace(0.1, 10.0, N)
SYM = np.linspace(-5.0, 5.0, N)

# name: (function, approx config, inputs, SPU bytes/elem, SPU rounds); veil measured in comments
CASES: dict[str, tuple[Any, dict[str, Any], list[np.ndarray], int, int]] = {
    "exp_taylor": (A.f_exp, {}, [SYM], 100, 17),  # 96 B, 16 rounds
    "exp_pade": (A.f_exp, {"exp": "pade"}, [SYM], 553, 46),  # 242 B, 19
    "log": (A.f_log, {}, [POS], 510, 26),  # 295 B, 16
    "reciprocal": (A.f_reciprocal, {}, [POS], 505, 36),  # 405 B, 16
    "division": (A.f_div, {}, [SYM, POS], 525, 38),  # 425 B, 18
    "sqrt": (A.f_sqrt, {}, [POS], 513, 35),  # 319 B, 18
    "rsqrt": (A.f_rsqrt, {}, [POS], 429, 26),  # 335 B, 18
    "sigmoid": (A.f_sigmoid, {}, [SYM], 605, 53),  # 275 B, 27
    "tanh": (A.f_tanh, {}, [SYM], 324, 36),  # 275 B, 27
}


@pytest.mark.parametrize("proto,field", SEMI2K)
@pytest.mark.parametrize("name", sorted(CASES))
def test_cheaper_than_spu(proto: str, field: str, name: str) -> None:
    fn, approx, xs, spu_bytes, spu_rounds = CASES[name]
    r = run(cfg_for(proto, field, **approx), lambda c, *v: fn(c, *v), *[secret(x) for x in xs])
    assert max_rounds(r) < spu_rounds
    assert bytes_per_elem(r, N) < spu_bytes
