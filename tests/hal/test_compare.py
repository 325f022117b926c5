"""Comparisons, select, max/min, abs/sign/relu/clamp and logic vs numpy."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.runner import BOOL, INT, config, params, public, run, secret, ulp
from veil.hal import compare as C
from veil.hal import logic as L

RNG = np.random.default_rng(3)
X = np.round(RNG.uniform(-4, 4, 12), 2)
Y = np.round(RNG.uniform(-4, 4, 12), 2)
Y[:3] = X[:3]  # ties


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_comparisons(proto: str, field: str) -> None:
    fns = [C.less, C.greater, C.less_equal, C.greater_equal, C.equal, C.not_equal]
    r = run(config(proto, field), lambda ctx, x, y: [f(ctx, x, y) for f in fns], secret(X), secret(Y))
    for got, want in zip(r.outputs, [X < Y, X > Y, X <= Y, X >= Y, X == Y, X != Y]):
        np.testing.assert_array_equal(got, want)
    assert all(v.dtype is BOOL for v in r.values[0])


@pytest.mark.parametrize("proto,field", params())
def test_compare_public_and_int(proto: str, field: str) -> None:
    a = RNG.integers(-5, 5, 10)
    r = run(
        config(proto, field),
        lambda ctx, x, y, i: [C.less(ctx, x, y), C.equal(ctx, i, i), C.less(ctx, x, i)],
        secret(X[:10]),
        public(Y[:10]),
        secret(a, INT),
    )
    np.testing.assert_array_equal(r.outputs[0], X[:10] < Y[:10])
    np.testing.assert_array_equal(r.outputs[1], np.ones(10))
    np.testing.assert_array_equal(r.outputs[2], X[:10] < a)


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_select_max_min(proto: str, field: str) -> None:
    cfg = config(proto, field)
    r = run(
        cfg,
        lambda ctx, x, y: [
            C.select(ctx, C.less(ctx, x, y), x, y),
            C.maximum(ctx, x, y),
            C.minimum(ctx, x, y),
        ],
        secret(X),
        secret(Y),
    )
    np.testing.assert_allclose(r.outputs[0], np.where(X < Y, X, Y), atol=ulp(cfg))
    np.testing.assert_allclose(r.outputs[1], np.maximum(X, Y), atol=ulp(cfg))
    np.testing.assert_allclose(r.outputs[2], np.minimum(X, Y), atol=ulp(cfg))


@pytest.mark.parametrize("proto,field", params())
def test_select_public_pred_is_free(proto: str, field: str) -> None:
    pred = (X > 0).astype(np.int64)
    r = run(
        config(proto, field),
        lambda ctx, p, x, y: C.select(ctx, p, x, y),
        public(pred, BOOL),
        secret(X),
        public(Y),
    )
    np.testing.assert_allclose(r.outputs[0], np.where(pred, X, Y), atol=1e-5)
    assert sum(s.online.bytes_sent for s in r.stats) == 0


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_abs_sign_relu_clamp(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x = X.copy()
    x[0] = 0.0
    lo, hi = np.float64(-1.0), np.float64(1.5)
    r = run(
        cfg,
        lambda ctx, v, a, b: [
            C.abs_(ctx, v),
            C.sign(ctx, v),
            C.relu(ctx, v),
            C.clamp(ctx, v, a, b),
            C.clamp(ctx, v, C.hr.to_secret(ctx, a), b),
        ],
        secret(x),
        public(lo),
        public(hi),
    )
    np.testing.assert_allclose(r.outputs[0], np.abs(x), atol=ulp(cfg))
    np.testing.assert_array_equal(r.outputs[1], np.sign(x))
    np.testing.assert_allclose(r.outputs[2], np.maximum(x, 0), atol=ulp(cfg))
    np.testing.assert_allclose(r.outputs[3], np.clip(x, lo, hi), atol=ulp(cfg))
    np.testing.assert_allclose(r.outputs[4], np.clip(x, lo, hi), atol=ulp(cfg))


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_logic(proto: str, field: str) -> None:
    a = (X > 0).astype(np.int64)
    b = (Y > 0).astype(np.int64)
    fns = [L.logical_and, L.logical_or, L.logical_xor]
    r = run(
        config(proto, field),
        lambda ctx, p, q: [f(ctx, p, q) for f in fns] + [L.logical_not(ctx, p)],
        secret(a, BOOL),
        secret(b, BOOL),
    )
    for got, want in zip(r.outputs, [a & b, a | b, a ^ b, 1 - a]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("proto,field", params())
def test_bitwise_ints(proto: str, field: str) -> None:
    a = RNG.integers(-100, 100, 8)
    b = RNG.integers(-100, 100, 8)
    fns = [L.logical_and, L.logical_or, L.logical_xor]
    r = run(
        config(proto, field),
        lambda ctx, p, q, pq: (
            [f(ctx, p, q) for f in fns] + [L.logical_not(ctx, p)] + [f(ctx, p, pq) for f in fns]
        ),
        secret(a, INT),
        secret(b, INT),
        public(b, INT),
    )
    for got, want in zip(r.outputs, [a & b, a | b, a ^ b, ~a, a & b, a | b, a ^ b]):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("field", ["FM64", "FM128"])
def test_public_less_is_exact_for_far_apart_ints(field: str) -> None:
    a = np.array([-(2**62), 2**62, -5, 7, 3])
    b = np.array([2**62, -(2**62), -5, -7, 3])
    r = run(
        config("ref2k", field, world=1),
        lambda ctx, x, y: [C.less(ctx, x, y), C.greater_equal(ctx, x, y)],
        public(a, INT),
        public(b, INT),
    )
    np.testing.assert_array_equal(r.outputs[0], a < b)
    np.testing.assert_array_equal(r.outputs[1], a >= b)
