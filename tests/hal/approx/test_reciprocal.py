"""Reciprocal (Goldschmidt after normalisation) and division, both signs and wide ranges."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, cfg_for, errors
from tests.hal.approx._params import BASE, WIDE
from tests.hal.runner import public, run, secret
from veil.hal.approx import f_div, f_reciprocal

# relative error: |e0|^(2^n) (2.7e-5 for n = 2) plus the working precision (FM64 ~3e-6);
# measured semi2k: n = 2 rel 2.9e-5, n = 3 rel 2.4e-6 (FM64) / 1e-8 (FM128)
RTOL = {(2, "FM64"): 4e-5, (2, "FM128"): 4e-5, (3, "FM64"): 5e-6, (3, "FM128"): 1e-7}
LSB4 = {"FM64": 4 * 2.0**-18, "FM128": 4 * 2.0**-26}


def _inputs(field: str) -> np.ndarray:
    top = 5 if field == "FM64" else 8
    pos = np.concatenate([np.geomspace(1e-3, 10.0**top, 600), np.linspace(0.1, 10.0, 200)])
    return np.concatenate([pos, -pos[::3]])


@pytest.mark.parametrize("proto,field", WIDE)
@pytest.mark.parametrize("iters", [2, 3])
def test_reciprocal(proto: str, field: str, iters: int) -> None:
    cfg = cfg_for(proto, field, reciprocal_iters=iters)
    x = _inputs(field)
    got, want, _ = errors(cfg, lambda c, v: f_reciprocal(c, v), lambda v: 1.0 / v, x)
    assert_close(got, want, atol=LSB4[field], rtol=RTOL[iters, field], what=f"reciprocal n={iters}")


@pytest.mark.parametrize("proto,field", BASE)
def test_reciprocal_one_stage_normalisation(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field, normalize_stages=1)
    x = _inputs(field)
    got, want, _ = errors(cfg, lambda c, v: f_reciprocal(c, v), lambda v: 1.0 / v, x)
    assert_close(got, want, atol=LSB4[field], rtol=RTOL[2, field], what="reciprocal, 1 stage")


@pytest.mark.parametrize("proto,field", WIDE)
def test_reciprocal_edges(proto: str, field: str) -> None:
    """1 LSB, powers of two (threshold boundaries), huge |x| (underflow to 0) and 0 (-> 0)."""
    cfg = cfg_for(proto, field)
    lsb = 2.0**-cfg.f
    x = np.array([lsb, -lsb, 2 * lsb, 2.0**-8, 1.0, 2.0, 256.0, -256.0, 2.0**24, 0.0])
    got, _, _ = errors(cfg, lambda c, v: f_reciprocal(c, v), lambda v: v, x)
    want = np.where(x == 0, 0.0, 1.0 / np.where(x == 0, 1.0, x))
    assert_close(got, want, atol=4 * lsb, rtol=RTOL[2, field], what="reciprocal edges")


@pytest.mark.parametrize("proto,field", WIDE)
def test_div(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    rng = np.random.default_rng(7)
    a = rng.uniform(-50, 50, 400)
    b = rng.choice([-1.0, 1.0], 400) * rng.uniform(0.05, 100, 400)
    got, want, _ = errors(cfg, lambda c, u, v: f_div(c, u, v), np.divide, a, b)
    assert_close(got, want, atol=8 * 2.0**-cfg.f, rtol=RTOL[2, field], what="div")


@pytest.mark.parametrize("proto,field", BASE)
def test_div_public_operands(proto: str, field: str) -> None:
    """A public divisor is a constant division; a public numerator multiplies the reciprocal."""
    cfg = cfg_for(proto, field)
    a, b = np.linspace(-5, 5, 101), np.linspace(0.5, 3, 101)
    r1 = run(cfg, lambda c, u, v: f_div(c, u, v), secret(a), public(b))
    r2 = run(cfg, lambda c, u, v: f_div(c, u, v), public(a), secret(b))
    r3 = run(cfg, lambda c, u, v: f_div(c, u, v), public(a), public(b))
    for r in (r1, r2, r3):
        np.testing.assert_allclose(r.outputs[0], a / b, atol=3e-4)
    assert r3.values[0][0].is_public and r1.values[0][0].is_secret
