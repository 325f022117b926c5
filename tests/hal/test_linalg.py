"""dot_general vs numpy einsum: batch dims, contracting order, visibilities, one truncation."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.runner import INT, config, params, public, run, secret
from veil.hal.linalg import dot_general

RNG = np.random.default_rng(6)

CASES = [
    # (lhs shape, rhs shape, contracting, batch, einsum)
    ((3, 5), (5, 4), ((1,), (0,)), ((), ()), "ik,kj->ij"),
    ((5,), (5,), ((0,), (0,)), ((), ()), "k,k->"),
    ((3, 5), (4, 5), ((1,), (1,)), ((), ()), "ik,jk->ij"),
    ((2, 3, 5), (2, 5, 4), ((2,), (1,)), ((0,), (0,)), "bik,bkj->bij"),
    ((2, 5, 3), (4, 2, 5), ((1,), (2,)), ((0,), (1,)), "bki,jbk->bij"),
    ((3,), (4,), ((), ()), ((), ()), "i,j->ij"),
    ((2, 3, 5), (5, 4), ((2,), (0,)), ((), ()), "bik,kj->bij"),
]


@pytest.mark.parametrize("proto,field", params(extra=True))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_dot_general(proto: str, field: str, case: int) -> None:
    ls, rs, contracting, batch, spec = CASES[case]
    a, b = RNG.uniform(-2, 2, ls), RNG.uniform(-2, 2, rs)
    r = run(
        config(proto, field),
        lambda ctx, x, y: dot_general(ctx, x, y, contracting, batch),
        secret(a),
        secret(b),
    )
    np.testing.assert_allclose(r.outputs[0], np.einsum(spec, a, b), atol=1e-4)


@pytest.mark.parametrize("proto,field", params())
def test_dot_public_weight_and_int(proto: str, field: str) -> None:
    a, w = RNG.uniform(-2, 2, (3, 5)), RNG.uniform(-2, 2, (5, 4))
    k = RNG.integers(-3, 3, (5, 4))
    r = run(
        config(proto, field),
        lambda ctx, x, y, z: [dot_general(ctx, x, y, ((1,), (0,))), dot_general(ctx, x, z, ((1,), (0,)))],
        secret(a),
        public(w),
        public(k, INT),
    )
    np.testing.assert_allclose(r.outputs[0], a @ w, atol=1e-4)
    np.testing.assert_allclose(r.outputs[1], a @ k, atol=1e-4)


@pytest.mark.parametrize("proto,field", params())
def test_trunc_bits_zero_keeps_double_scale(proto: str, field: str) -> None:
    cfg = config(proto, field)
    a, b = RNG.uniform(-2, 2, (3, 5)), RNG.uniform(-2, 2, (5, 2))
    r = run(cfg, lambda ctx, x, y: dot_general(ctx, x, y, ((1,), (0,)), trunc_bits=0), secret(a), secret(b))
    assert r.values[0][0].fxp_bits == 2 * cfg.f
    np.testing.assert_allclose(r.outputs[0], a @ b, atol=5e-5)  # input encoding error only
