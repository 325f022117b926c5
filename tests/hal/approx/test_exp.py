"""exp / expm1: SPU's Taylor form (checked against its closed form and SPU's error) and the
accurate PADE mode (checked against float64 over its whole range)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, cfg_for, errors
from tests.hal.approx._params import WIDE
from veil.errors import ConfigError, PartyError
from veil.hal.approx import f_exp, f_expm1
from veil.hal.approx.exp import exp_pade, exp_range, exp_taylor

X5 = np.linspace(-5.0, 5.0, 401)
# (rtol, atol) of exp_pade against float64 on [lo, hi]; measured: FM64 rel 2.6e-6, FM128 2e-7
PADE_TOL = {"FM64": (1e-5, 8e-6), "FM128": (1e-6, 5e-8)}


@pytest.mark.parametrize("proto,field", WIDE)
def test_exp_taylor_is_the_closed_form(proto: str, field: str) -> None:
    """(1 + x/N)^N: N = 2^8, or 3^4 4 = 324 where cubes are one opening and the ring is wide."""
    cfg = cfg_for(proto, field)
    big_n = 324.0 if (proto, field) == ("semi2k", "FM128") else 256.0
    x = np.concatenate([X5, np.linspace(-60.0, 17.0, 200)])
    got, want, _ = errors(cfg, exp_taylor, lambda v: (1.0 + v / big_n) ** big_n, x)
    assert_close(got, want, atol=4 * 2.0**-cfg.f, rtol=2e-5, what=f"exp_taylor vs (1+x/{big_n:g})^{big_n:g}")


@pytest.mark.parametrize("proto,field", WIDE)
def test_exp_taylor_error_as_spu(proto: str, field: str) -> None:
    """The method's own error near x = 5 is at most SPU's 7.1 (5.6 with N = 324); small inputs
    are accurate."""
    cfg = cfg_for(proto, field)
    got, want, _ = errors(cfg, lambda c, v: f_exp(c, v), np.exp, X5)
    err = np.abs(got - want)
    lo, hi = (5.0, 6.0) if (proto, field) == ("semi2k", "FM128") else (6.5, 7.1)  # N = 324 vs 256
    assert lo < err.max() < hi
    assert_close(got, want, atol=1e-5, rtol=1e-4, mask=np.abs(X5) <= 0.2, what="exp taylor, |x| <= 0.2")


@pytest.mark.parametrize("proto,field", WIDE)
def test_exp_taylor_iters_knob(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field, exp_taylor_iters=4)
    big_n = 36.0 if (proto, field) == ("semi2k", "FM128") else 16.0  # 3^2 4 >= 2^4 with cubes
    got, want, _ = errors(cfg, lambda c, v: f_exp(c, v), lambda v: (1.0 + v / big_n) ** big_n, X5)
    assert_close(got, want, atol=4 * 2.0**-cfg.f, rtol=2e-5, what="exp_taylor n=4")


@pytest.mark.parametrize("proto,field", WIDE)
def test_exp_pade_accurate_over_its_range(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field, exp="pade")
    lo, hi = exp_range(cfg)
    x = np.concatenate([X5, np.linspace(lo, hi - 0.01, 601)])
    got, want, _ = errors(cfg, lambda c, v: f_exp(c, v), np.exp, x)
    rtol, atol = PADE_TOL[field]
    assert_close(got, want, atol=atol, rtol=rtol, what="exp_pade")


@pytest.mark.parametrize("proto,field", WIDE)
def test_exp_pade_saturates_outside(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    x = np.array([-1e4, -40.0, -25.0, 60.0, 1e4])
    got, _, _ = errors(cfg, exp_pade, np.exp, x)
    hi = exp_range(cfg)[1]
    assert np.all(np.abs(got[:3]) <= 2 * 2.0**-cfg.f)
    big = 60.0 if field == "FM128" else hi
    np.testing.assert_allclose(got[3:], np.exp(np.minimum(big, hi)), rtol=1e-4)


@pytest.mark.parametrize("proto,field", WIDE)
def test_expm1(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field, exp="pade")
    x = np.linspace(-3.0, 3.0, 201)
    got, want, _ = errors(cfg, lambda c, v: f_expm1(c, v), np.expm1, x)
    assert_close(got, want, atol=2e-5 if field == "FM64" else 2e-7, rtol=1e-5, what="expm1")


def test_exp_prime_mode_is_a_clear_error() -> None:
    cfg = cfg_for("ref2k", "FM64", exp="prime")
    with pytest.raises((ConfigError, PartyError), match="prime"):
        errors(cfg, lambda c, v: f_exp(c, v), np.exp, X5)
