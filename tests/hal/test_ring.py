"""Visibility dispatch of the raw ring ops (hal.ring): results, visibilities and message counts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.runner import INT, PRIVATE, PUBLIC, SECRET, config, params, private, public, run, secret, ulp
from veil.hal import ring as hr
from veil.hal import ring_bits as hb

RNG = np.random.default_rng(2)
A = RNG.integers(-1000, 1000, (4, 3))
B = RNG.integers(-1000, 1000, (4, 3))


def _bytes(r) -> int:  # type: ignore[no-untyped-def]
    return sum(s.online.bytes_sent for s in r.stats)


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_add_sub_mul_ints(proto: str, field: str) -> None:
    cfg = config(proto, field)

    def fns(ctx, a, b):  # type: ignore[no-untyped-def]
        return [
            hr._add(ctx, a, b),
            hr._sub(ctx, a, b),
            hr._mul(ctx, a, b),
            hr._neg(ctx, a),
            hr._square(ctx, a),
        ]

    for va, vb in [(secret, secret), (secret, public), (public, secret)]:
        r = run(cfg, fns, va(A, INT), vb(B, INT))
        for got, want in zip(r.outputs, [A + B, A - B, A * B, -A, A * A]):
            np.testing.assert_array_equal(got, want)
        assert all(v.vis is SECRET for v in r.values[0][:3])


@pytest.mark.parametrize("proto,field", params())
def test_public_public_is_local(proto: str, field: str) -> None:
    r = run(
        config(proto, field),
        lambda ctx, a, b: [hr._mul(ctx, a, b), hr._add(ctx, a, b)],
        public(A, INT),
        public(B, INT),
    )
    np.testing.assert_array_equal(r.outputs[0], A * B)
    assert all(v.vis is PUBLIC for v in r.values[0]) and _bytes(r) == 0


@pytest.mark.parametrize("proto,field", params())
def test_private_same_owner_stays_private(proto: str, field: str) -> None:
    r = run(
        config(proto, field),
        lambda ctx, a, b, c: [hr._mul(ctx, a, b), hr._add(ctx, a, c)],
        private(A, 1, INT),
        private(B, 1, INT),
        public(B, INT),
    )
    np.testing.assert_array_equal(r.outputs[0], A * B)
    np.testing.assert_array_equal(r.outputs[1], A + B)
    assert r.values[0][0].vis is PRIVATE and r.values[0][0].payload is None and r.values[1][0].owner == 1
    assert _bytes(r) == 0


@pytest.mark.parametrize("proto,field", params())
def test_private_mixing_becomes_secret(proto: str, field: str) -> None:
    r = run(
        config(proto, field), lambda ctx, a, b: hr._mul(ctx, a, b), private(A, 0, INT), private(B, 1, INT)
    )
    np.testing.assert_array_equal(r.outputs[0], A * B)
    assert r.values[0][0].vis is SECRET


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_reveal_and_reveal_to(proto: str, field: str) -> None:
    r = run(config(proto, field), lambda ctx, a: [hr.reveal(ctx, a), hr.reveal_to(ctx, a, 1)], secret(A, INT))
    np.testing.assert_array_equal(r.outputs[0], A)
    np.testing.assert_array_equal(r.outputs[1], A)
    assert (
        r.values[0][0].vis is PUBLIC and r.values[0][1].payload is None and r.values[1][1].payload is not None
    )


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_msb_eqz_trunc_sum(proto: str, field: str) -> None:
    cfg = config(proto, field)
    a = A.copy()
    a[0, 0] = 0
    r = run(
        cfg,
        lambda ctx, x: [
            hb._msb(ctx, x),
            hb._eqz(ctx, x),
            hr._trunc(ctx, x, 4),
            hr._sum(ctx, x, 0),
            hr._sum(ctx, x, None),
        ],
        secret(a, INT),
    )
    msb, eqz, tr, s0, s_all = r.outputs
    np.testing.assert_array_equal(msb, a < 0)
    np.testing.assert_array_equal(eqz, a == 0)
    assert np.max(np.abs(tr - np.floor(a / 16))) <= 1
    np.testing.assert_array_equal(s0, a.sum(0))
    np.testing.assert_array_equal(s_all, a.sum())


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_matmul_visibilities(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x = RNG.integers(-50, 50, (2, 3, 4))
    w = RNG.integers(-50, 50, (4, 5))
    for vx, vw in [(secret, secret), (secret, public), (public, secret), (public, public)]:
        r = run(cfg, lambda ctx, a, b: hr._matmul(ctx, a, b), vx(x, INT), vw(w, INT))
        np.testing.assert_array_equal(r.outputs[0], x @ w)


@pytest.mark.parametrize("proto,field", params())
def test_mul_trunc_and_lshift(proto: str, field: str) -> None:
    cfg = config(proto, field)
    x = RNG.uniform(-3, 3, 6)
    r = run(
        cfg, lambda ctx, a, b: [hr._mul_trunc(ctx, a, b, cfg.f), hr._lshift(ctx, a, 3)], secret(x), secret(x)
    )
    np.testing.assert_allclose(r.outputs[0], x * x, atol=8 * ulp(cfg))
    np.testing.assert_allclose(r.outputs[1], x, atol=ulp(cfg))  # fxp_bits grew with the shift
    assert r.values[0][1].fxp_bits == cfg.f + 3
