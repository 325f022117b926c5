"""Division by a broadcast divisor (f_div_bcast): the accuracy of the elementwise division at a
fraction of its bytes, on every protocol; tiny and huge divisors keep relative precision."""

from __future__ import annotations

import numpy as np
import pytest

from tests.hal.approx._common import assert_close, bytes_per_elem, cfg_for, max_rounds
from tests.hal.approx._params import WIDE
from tests.hal.runner import public, run, secret
from veil.hal.approx import f_div
from veil.hal.approx.bdiv import f_div_bcast
from veil.hal.shape import broadcast_in_dim

RNG = np.random.default_rng(3)


def _bdiv(ctx, x, d):  # type: ignore[no-untyped-def]
    return f_div_bcast(ctx, x, d, x.shape, (0, 1))


@pytest.mark.parametrize("proto,field", [*WIDE, pytest.param("aby3", "FM64", id="aby3-FM64")])
def test_matches_division(proto: str, field: str) -> None:
    cfg = cfg_for(proto, field)
    x = RNG.uniform(-3, 3, size=(6, 20))
    d = np.array([[0.01], [0.3], [-2.0], [7.5], [150.0], [-4000.0]])
    res = run(cfg, _bdiv, secret(x), secret(d))
    want = np.round(x * 2.0**cfg.f) / 2.0**cfg.f / (np.round(d * 2.0**cfg.f) / 2.0**cfg.f)
    assert_close(res.outputs[0], want, atol=4 * 2.0**-cfg.f, rtol=4e-5, what=f"div_bcast {proto}-{field}")


def test_public_dividend() -> None:
    cfg = cfg_for("semi2k", "FM64")
    d = np.array([[2.0], [-0.5]])
    res = run(cfg, _bdiv, public(np.ones((2, 5))), secret(d))
    np.testing.assert_allclose(res.outputs[0], np.broadcast_to(1 / d, (2, 5)), rtol=4e-5, atol=1e-5)


def test_cheaper_than_elementwise_division_in_as_many_rounds() -> None:
    """Rows of 100 divided by their sums (softmax): same 17 rounds, a fraction of the bytes."""
    cfg = cfg_for("semi2k", "FM64")
    x = RNG.uniform(0, 1, size=(8, 100))
    s = x.sum(axis=1, keepdims=True)
    fast = run(cfg, _bdiv, secret(x), secret(s))
    slow = run(
        cfg, lambda c, a, b: f_div(c, a, broadcast_in_dim(c, b, a.shape, (0, 1))), secret(x), secret(s)
    )
    np.testing.assert_allclose(fast.outputs[0], slow.outputs[0], atol=4 * 2.0**-cfg.f, rtol=1e-4)
    assert max_rounds(fast) == max_rounds(slow) == 17
    assert bytes_per_elem(fast, x.size) < 0.15 * bytes_per_elem(slow, x.size)
