"""semi2k msb, eqz and a2b across 2-4 parties vs the ref2k oracle (bit-exact, any x)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.protocol_harness import Arith, run_protocol
from tests.mpc.semi2k.common import GRID, assert_ring_equal, bits01, edges, ref, uniform, with_edges
from veil.config import Field
from veil.mpc import api, ring


@pytest.mark.parametrize("field,n", GRID)
def test_msb_eqz_a2b(field: Field, n: int) -> None:
    rng = np.random.default_rng(60 + n)
    x = with_edges(rng, field, 300)
    x[:30] = ring.zeros(field, 30)
    x = x.reshape(-1, 1)

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return api.msb_s(ctx, x), api.eqz_s(ctx, x), api.a2b(ctx, x)

    (msb, eqz, xb), stats = run_protocol("semi2k", n, field, fn, Arith(x), out=("arith", "arith", "bool"))
    assert_ring_equal(msb, ref("msb_s", x))
    assert_ring_equal(eqz, ref("eqz_s", x))
    assert_ring_equal(xb, x)


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_msb_near_every_power_of_two(field: Field) -> None:
    """x = +-2^j + {-1, 0, 1} for every j: exercises every carry chain length."""
    k = field.bits
    vals = [s * (1 << j) + d for j in range(k - 1) for s in (1, -1) for d in (-1, 0, 1)]
    x = ring.from_pyints(field, vals)
    x = np.concatenate([x, edges(field)])

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return api.msb_s(ctx, x), api.eqz_s(ctx, ring.sub(x, ring.full(field, (), 1)) if ctx.rank == 0 else x)

    (msb, eqz1), _ = run_protocol("semi2k", 2, field, fn, Arith(x), out=("arith", "arith"))
    assert_ring_equal(msb, ring.msb(x))
    assert_ring_equal(eqz1, bits01(field, ring.equal(x, ring.full(field, x.shape, 1))))


@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (2, 3, 5)])
def test_shapes(shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(8)
    x = uniform(rng, Field.FM64, shape)

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return api.msb_s(ctx, x), api.a2b(ctx, x)

    (msb, xb), _ = run_protocol("semi2k", 2, "FM64", fn, Arith(x), out=("arith", "bool"))
    assert msb.shape == shape and xb.shape == shape
    assert_ring_equal(msb, ring.msb(x))
    assert_ring_equal(xb, x)
