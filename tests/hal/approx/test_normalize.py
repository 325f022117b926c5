"""Normalisation |x| = y 2^e by a thermometer of sign tests: y, e and the requested scales."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hal.approx._common import cfg_for
from tests.hal.approx._params import BASE, WIDE
from tests.hal.runner import run, secret
from veil.hal.approx.normalize import Scale, hmax_of, normalize


def _norm(stages: int, signed: bool):  # type: ignore[no-untyped-def]
    def fn(ctx, x):  # type: ignore[no-untyped-def]
        f = ctx.config.f
        b_inv, b_half = (f + 4, f + 5) if ctx.k == 64 else (f + 14, f + 14)
        nz = normalize(
            ctx,
            x,
            y_bits=f + 2,
            signed=signed,
            stages=stages,
            scales=[Scale(-1.0, b_inv, signed=signed), Scale(0.5, b_half, at_zero=0.0)],
        )
        return [nz.y, nz.exponent, *nz.scales]

    return fn


def _check(cfg, x: np.ndarray, outs: list[np.ndarray], signed: bool) -> None:  # type: ignore[no-untyped-def]
    f = cfg.f
    xe = np.round(x * 2.0**f)
    y, e, inv, half = outs
    nz = xe != 0
    mag = np.abs(xe[nz]) * 2.0**-f
    assert np.all((y[nz] >= 0.5 - 2.0 ** -(f + 1)) & (y[nz] <= 1.0))
    np.testing.assert_allclose(y[nz] * 2.0 ** e[nz], mag, rtol=2.0**-f)  # 2 LSB of y (f + 2 bits)
    # e = bit length - f; at a power of two, a truncation's last-bit error may move |x| into
    # the neighbouring bucket (y then sits at the other end of [0.5, 1])
    assert np.all(np.isin(e[nz] - (np.frexp(np.abs(xe[nz]))[1] - f), [-1, 0, 1]))
    sgn = np.sign(x[nz]) if signed else 1.0
    np.testing.assert_allclose(inv[nz], sgn * 2.0 ** -e[nz], rtol=1e-6, atol=2.0 ** -(f + 3))
    np.testing.assert_allclose(half[nz], 2.0 ** (e[nz] / 2), rtol=1e-6, atol=2.0 ** -(f + 4))
    assert np.all(y[~nz] == 0.5) and np.all(np.abs(half[~nz]) <= 2.0 ** -(f + 4)) and np.all(e[~nz] == -f)


@pytest.mark.parametrize("proto,field", WIDE)
@pytest.mark.parametrize("stages", [1, 2])
def test_normalize_edges(proto: str, field: str, stages: int) -> None:
    """Powers of two on and next to every threshold, 1 LSB, the top of the range, zero."""
    cfg = cfg_for(proto, field)
    f, top = cfg.f, hmax_of(cfg)
    bits = np.arange(0, top + 1)
    below = bits[bits < 52]  # 2^(b+1) - 1 is exact in float64 only up to 2^53
    x = np.concatenate([2.0 ** (bits - f), (2.0 ** (below + 1) - 1) * 2.0**-f, [0.0, 2.0**-f, 3 * 2.0**-f]])
    x = np.concatenate([x, -x[::5]])
    r = run(cfg, _norm(stages, True), secret(x))
    _check(cfg, x, r.outputs, signed=True)


@pytest.mark.parametrize("proto,field", BASE)
def test_normalize_unsigned(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    x = np.geomspace(2.0**-cfg.f, 2.0**29, 300)
    r = run(cfg, _norm(2, False), secret(x))
    _check(cfg, x, r.outputs, signed=False)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(-(2**47) + 1, 2**47 - 1), min_size=1, max_size=30))
def test_normalize_property_ref2k(raw: list[int]) -> None:
    """Any nonzero encoded value in range: y in [0.5, 1], y 2^e = |x|, e = bit length - f."""
    cfg = cfg_for("ref2k", "FM64")
    x = np.asarray(raw, dtype=np.float64) * 2.0**-cfg.f
    r = run(cfg, _norm(2, True), secret(x))
    _check(cfg, x, r.outputs, signed=True)
