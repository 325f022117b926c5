"""Regression: 0-d payloads keep their shape through reshape/dynamic_slice inside loops.

np.ascontiguousarray promotes 0-d arrays to shape (1,); a scalar divisor sliced from a scan's
input then broke `div`. The VM now also checks every payload's shape against its value's shape.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import veil


@pytest.mark.parametrize("protocol,parties", [("ref2k", 1), ("semi2k", 2)])
def test_scalar_from_scan_input_divides(protocol: str, parties: int) -> None:
    def f(x):
        cnt = jnp.asarray(np.array([2.0, 4.0], np.float32))
        return jax.lax.scan(lambda c, a: (c + jnp.sum(a[0]) / a[1], None), jnp.zeros(()), (x, cnt))[0]

    x = np.ones((2, 3), np.float32)
    got = veil.jit(f, protocol=protocol, parties=parties)(x)
    assert np.shape(got) == ()
    np.testing.assert_allclose(got, f(x), atol=1e-3)
