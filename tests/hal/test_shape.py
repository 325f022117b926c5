"""Shape ops on payloads vs numpy / jax.lax (secret, public and mixed operands)."""

from __future__ import annotations

import numpy as np
import pytest
from jax import lax

from tests.hal.runner import INT, PRIVATE, SECRET, config, params, private, public, run, secret
from veil.hal import shape as S
from veil.hal.fxp import constant

RNG = np.random.default_rng(4)
X = np.round(RNG.uniform(-3, 3, (2, 3, 4)), 3)
TOL = 1e-5


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_basic_shape_ops(proto: str, field: str) -> None:
    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return [
            S.reshape(ctx, x, (6, 4)),
            S.transpose(ctx, x, (2, 0, 1)),
            S.broadcast_in_dim(ctx, S.reshape(ctx, x, (6, 4)), (5, 6, 4), (1, 2)),
            S.squeeze(ctx, S.expand_dims(ctx, x, 0), (0,)),
            S.slice_(ctx, x, (0, 1, 0), (2, 3, 4), (1, 1, 2)),
            S.rev(ctx, x, (0, 2)),
        ]

    r = run(config(proto, field), fn, secret(X))
    wants = [
        X.reshape(6, 4),
        X.transpose(2, 0, 1),
        np.broadcast_to(X.reshape(6, 4), (5, 6, 4)),
        X,
        X[:, 1:3, ::2],
        X[::-1, :, ::-1],
    ]
    for got, want in zip(r.outputs, wants):
        np.testing.assert_allclose(got, want, atol=TOL)


@pytest.mark.parametrize("proto,field", params(extra=True))
def test_concatenate_mixed(proto: str, field: str) -> None:
    ints = np.arange(8).reshape(2, 1, 4)
    r = run(
        config(proto, field),
        lambda ctx, a, b, c: S.concatenate(ctx, [a, b, c], 1),
        secret(X),
        public(X),
        public(ints, INT),
    )
    np.testing.assert_allclose(r.outputs[0], np.concatenate([X, X, ints], 1), atol=TOL)
    assert r.values[0][0].vis is SECRET


@pytest.mark.parametrize("proto,field", params())
def test_concatenate_private_stays_private(proto: str, field: str) -> None:
    r = run(config(proto, field), lambda ctx, a, b: S.concatenate(ctx, [a, b], 0), private(X, 1), public(X))
    np.testing.assert_allclose(r.outputs[0], np.concatenate([X, X], 0), atol=TOL)
    assert r.values[0][0].vis is PRIVATE and r.values[0][0].owner == 1


PADS = [[(1, 0, 0), (0, 2, 1), (-1, 1, 0)], [(0, 0, 0), (2, -1, 2), (1, 1, 0)]]


@pytest.mark.parametrize("proto,field", params(extra=True))
@pytest.mark.parametrize("cfg_pad", PADS)
def test_pad(proto: str, field: str, cfg_pad: list) -> None:  # type: ignore[type-arg]
    def fn(ctx, x, pv):  # type: ignore[no-untyped-def]
        return [S.pad(ctx, x, constant(ctx, 0.0, ()), cfg_pad), S.pad(ctx, x, pv, cfg_pad)]

    r = run(config(proto, field), fn, secret(X), secret(np.float64(1.5)))
    np.testing.assert_allclose(r.outputs[0], np.asarray(lax.pad(X, 0.0, cfg_pad)), atol=TOL)
    np.testing.assert_allclose(r.outputs[1], np.asarray(lax.pad(X, 1.5, cfg_pad)), atol=TOL)


@pytest.mark.parametrize("proto,field", params())
def test_dynamic_slices(proto: str, field: str) -> None:
    upd = np.ones((2, 2, 2))

    def fn(ctx, x, u, i):  # type: ignore[no-untyped-def]
        return [S.dynamic_slice(ctx, x, [i, 1, 3], (1, 2, 2)), S.dynamic_update_slice(ctx, x, u, [0, i, 3])]

    r = run(config(proto, field), fn, secret(X), public(upd), public(np.int64(5), INT))
    np.testing.assert_allclose(r.outputs[0], np.asarray(lax.dynamic_slice(X, (5, 1, 3), (1, 2, 2))), atol=TOL)
    np.testing.assert_allclose(
        r.outputs[1], np.asarray(lax.dynamic_update_slice(X, upd, (0, 5, 3))), atol=TOL
    )


def test_dynamic_slice_secret_index_fails() -> None:
    from veil.errors import UnsupportedOpError

    with pytest.raises(UnsupportedOpError, match="start index is secret"):
        run(
            config("ref2k", world=1),
            lambda ctx, x, i: S.dynamic_slice(ctx, x, [i, 0, 0], (1, 1, 1)),
            secret(X),
            secret(np.int64(1), INT),
        )


def test_iota() -> None:
    r = run(config("ref2k", world=1), lambda ctx: [S.iota(ctx, (2, 3), 1), S.iota(ctx, (2, 3), 0)])
    np.testing.assert_array_equal(r.outputs[0], np.broadcast_to(np.arange(3), (2, 3)))
    np.testing.assert_array_equal(r.outputs[1], np.broadcast_to(np.arange(2)[:, None], (2, 3)))
