"""Fixed-point HAL ops vs numpy float64 (tolerances in units of 2^-f)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.runner import FXP, INT, config, params, public, run, secret, ulp
from veil.hal import fxp as F

RNG = np.random.default_rng(1)
X = RNG.uniform(-4, 4, (3, 5))
Y = RNG.uniform(-4, 4, (3, 5))


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_add_sub_mul(proto: str, field: str) -> None:
    cfg = config(proto, field)
    r = run(
        cfg,
        lambda ctx, x, y: [F.f_add(ctx, x, y), F.f_sub(ctx, x, y), F.f_mul(ctx, x, y), F.f_square(ctx, x)],
        secret(X),
        secret(Y),
    )
    add, sub, mul, sq = r.outputs
    np.testing.assert_allclose(add, X + Y, atol=2 * ulp(cfg))
    np.testing.assert_allclose(sub, X - Y, atol=2 * ulp(cfg))
    np.testing.assert_allclose(mul, X * Y, atol=16 * ulp(cfg))
    np.testing.assert_allclose(sq, X * X, atol=16 * ulp(cfg))


@pytest.mark.parametrize("proto,field", params())
def test_mixed_visibility_and_int(proto: str, field: str) -> None:
    cfg = config(proto, field)
    ints = np.arange(15).reshape(3, 5) - 7
    r = run(
        cfg,
        lambda ctx, x, y, i: [F.f_mul(ctx, x, y), F.f_add(ctx, x, i), F.f_mul(ctx, x, i)],
        secret(X),
        public(Y),
        secret(ints, INT),
    )
    np.testing.assert_allclose(r.outputs[0], X * Y, atol=16 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[1], X + ints, atol=2 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[2], X * ints, atol=16 * ulp(cfg))  # exact: no truncation
    assert r.values[0][2].fxp_bits == cfg.f


@pytest.mark.parametrize("proto,field", params())
def test_mul_div_const(proto: str, field: str) -> None:
    cfg = config(proto, field)
    r = run(
        cfg,
        lambda ctx, x: [
            F.f_mul_const(ctx, x, 3),
            F.f_mul_const(ctx, x, 1e-3),
            F.f_div_const(ctx, x, 3.0),
            F.f_mul_const(ctx, x, np.arange(5.0) / 7),
        ],
        secret(X),
    )
    np.testing.assert_allclose(r.outputs[0], X * 3, atol=4 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[1], X * 1e-3, atol=2 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[2], X / 3, atol=4 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[3], X * np.arange(5.0) / 7, atol=4 * ulp(cfg))


ROUNDING = np.array([-3.5, -2.5, -2.0, -1.7, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5, 2.5, 2.7, 3.0])


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_rounding_exact(proto: str, field: str) -> None:
    cfg = config(proto, field)
    r = run(
        cfg,
        lambda ctx, x: [
            F.f_floor(ctx, x),
            F.f_ceil(ctx, x),
            F.f_round(ctx, x),
            F.f_round(ctx, x, to_even=False),
            F.f_trunc(ctx, x),
            F.trunc_int(ctx, x),
        ],
        secret(ROUNDING),
    )
    floor, ceil, even, away, trunc, as_int = r.outputs
    np.testing.assert_array_equal(floor, np.floor(ROUNDING))
    np.testing.assert_array_equal(ceil, np.ceil(ROUNDING))
    np.testing.assert_array_equal(even, np.round(ROUNDING))
    np.testing.assert_array_equal(away, np.sign(ROUNDING) * np.floor(np.abs(ROUNDING) + 0.5))
    np.testing.assert_array_equal(trunc, np.trunc(ROUNDING))
    np.testing.assert_array_equal(as_int, np.trunc(ROUNDING))
    assert r.values[0][5].dtype is INT


@pytest.mark.parametrize("proto,field", params())
def test_rounding_public_is_local(proto: str, field: str) -> None:
    cfg = config(proto, field)
    r = run(cfg, lambda ctx, x: [F.f_floor(ctx, x), F.f_round(ctx, x)], public(ROUNDING))
    np.testing.assert_array_equal(r.outputs[0], np.floor(ROUNDING))
    np.testing.assert_array_equal(r.outputs[1], np.round(ROUNDING))
    assert all(s.online.bytes_sent == 0 for s in r.stats)


def test_constant_and_decode() -> None:
    cfg = config("ref2k", world=1)
    r = run(cfg, lambda ctx: [F.constant(ctx, 1.25, (2, 2)), F.constant(ctx, [3, -4], None, INT)])
    np.testing.assert_array_equal(r.outputs[0], np.full((2, 2), 1.25))
    np.testing.assert_array_equal(r.outputs[1], [3, -4])
    assert r.values[0][0].dtype is FXP and r.values[0][0].is_public
