"""dtype dispatch (FXP / INT / BOOL), conversions with JAX semantics, integer division."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.runner import BOOL, FXP, INT, config, params, public, run, secret, ulp
from veil.hal import integer as I
from veil.hal import polymorphic as P

RNG = np.random.default_rng(8)
A = RNG.integers(-60, 60, 12)
D = np.array([7, -3, 5, 1, -1, 2, 9, -8, 4, 3, 6, -5])


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_int_division_by_public(proto: str, field: str) -> None:
    r = run(
        config(proto, field),
        lambda ctx, a, d, s: [I.i_div(ctx, a, d), I.i_rem(ctx, a, d), I.i_div(ctx, a, s)],
        secret(A, INT),
        public(D, INT),
        public(np.int64(4), INT),
    )
    np.testing.assert_array_equal(r.outputs[0], np.trunc(A / D))
    np.testing.assert_array_equal(r.outputs[1], np.fmod(A, D))
    np.testing.assert_array_equal(r.outputs[2], np.trunc(A / 4))


def test_int_division_public_public_and_secret_divisor() -> None:
    from veil.errors import UnsupportedOpError

    cfg = config("ref2k", world=1)
    r = run(cfg, lambda ctx, a, d: [I.i_div(ctx, a, d), I.i_rem(ctx, a, d)], public(A, INT), public(D, INT))
    np.testing.assert_array_equal(r.outputs[0], np.trunc(A / D))
    np.testing.assert_array_equal(r.outputs[1], np.fmod(A, D))
    with pytest.raises(UnsupportedOpError, match="secret divisor"):
        run(cfg, lambda ctx, a, d: I.i_div(ctx, a, d), secret(A, INT), secret(D, INT))


@pytest.mark.parametrize("proto,field", params())
def test_dispatch_and_convert(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x = np.array([-2.7, -1.0, -0.3, 0.0, 0.4, 1.5, 2.99])
    ints = np.array([-3, -1, 0, 0, 2, 5, 1])
    bools = (ints > 0).astype(np.int64)

    def fn(ctx, v, i, b):  # type: ignore[no-untyped-def]
        return [
            P.add(ctx, v, i),
            P.mul(ctx, v, i),
            P.mul(ctx, i, i),
            P.sub(ctx, i, v),
            P.mul(ctx, b, b),
            P.convert(ctx, v, INT),
            P.convert(ctx, v, BOOL),
            P.convert(ctx, i, BOOL),
            P.convert(ctx, b, FXP),
            P.convert(ctx, b, INT),
            P.neg(ctx, v),
            P.convert(ctx, i, FXP),
        ]

    r = run(cfg, fn, secret(x), secret(ints, INT), secret(bools, BOOL))
    wants = [
        x + ints,
        x * ints,
        ints * ints,
        ints - x,
        bools,
        np.trunc(x),
        x != 0,
        ints != 0,
        bools,
        bools,
        -x,
        ints,
    ]
    for got, want in zip(r.outputs, wants):
        np.testing.assert_allclose(got, want, atol=4 * ulp(cfg))
    dtypes = [v.dtype for v in r.values[0]]
    assert dtypes == [FXP, FXP, INT, FXP, BOOL, INT, BOOL, BOOL, FXP, INT, FXP, FXP]


@pytest.mark.parametrize("proto,field", params())
def test_div_by_public(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x = RNG.uniform(-4, 4, 8)
    d = RNG.uniform(0.5, 3, 8)
    r = run(
        cfg,
        lambda ctx, v, w, i: [P.div(ctx, v, w), P.div(ctx, v, i)],
        secret(x),
        public(d),
        public(np.int64(3), INT),
    )
    np.testing.assert_allclose(r.outputs[0], x / d, atol=8 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[1], x / 3, atol=8 * ulp(cfg))
