"""semi2k boolean kernels and conversions vs the ref2k oracle (bit-exact)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.protocol_harness import Arith, Bool, Pub, run_protocol
from tests.mpc.semi2k.common import GRID, assert_ring_equal, ref, uniform, with_edges
from veil.config import Field
from veil.mpc import api, ring


@pytest.mark.parametrize("field,n", GRID)
def test_bitwise(field: Field, n: int) -> None:
    rng = np.random.default_rng(70 + n)
    x, y, p = with_edges(rng, field, 50), with_edges(rng, field, 50)[::-1].copy(), with_edges(rng, field, 50)

    def fn(ctx, x, y, p):  # type: ignore[no-untyped-def]
        return (
            api.and_bb(ctx, x, y),
            api.xor_bb(ctx, x, y),
            api.and_bp(ctx, x, p),
            api.xor_bp(ctx, x, p),
            api.not_b(ctx, x),
            api.lshift_b(ctx, x, 5),
            api.rshift_b(ctx, x, 7),
        )

    got, _ = run_protocol("semi2k", n, field, fn, Bool(x), Bool(y), Pub(p), out=("bool",) * 7)
    want = [
        ref("and_bb", x, y),
        ref("xor_bb", x, y),
        ref("and_bp", x, p),
        ref("xor_bp", x, p),
        ref("not_b", x),
        ref("lshift_b", x, 5),
        ref("rshift_b", x, 7),
    ]
    for g, w in zip(got, want):
        assert_ring_equal(g, w)


@pytest.mark.parametrize("field,n", GRID)
def test_conversions(field: Field, n: int) -> None:
    rng = np.random.default_rng(80 + n)
    x = with_edges(rng, field, 60).reshape(-1, 1)
    bits = ring.from_int64(field, rng.integers(0, 2, x.shape))
    noisy = ring.xor(bits, ring.lshift(uniform(rng, field, x.shape), 1))  # garbage above bit 0

    def fn(ctx, xb, bb, nb):  # type: ignore[no-untyped-def]
        return (
            api.b2a(ctx, xb),
            api.bit2a(ctx, bb),
            api.bit2a(ctx, nb),
            api.b2a(ctx, api.a2b(ctx, api.p2s(ctx, xb))),
        )

    got, _ = run_protocol(
        "semi2k", n, field, fn, Bool(x), Bool(bits), Bool(noisy), out=("arith",) * 3 + ("raw",)
    )
    assert_ring_equal(got[0], x)
    assert_ring_equal(got[1], bits)
    assert_ring_equal(got[2], bits)  # bit2a reads bit 0 only


@pytest.mark.parametrize("field,n", GRID)
def test_rand_bits(field: Field, n: int) -> None:
    def fn(ctx):  # type: ignore[no-untyped-def]
        return api.rand_bits_s(ctx, (40, 50))

    got, stats = run_protocol("semi2k", n, field, fn)
    vals = ring.to_int64(got)
    assert got.shape == (40, 50) and set(np.unique(vals)) == {0, 1}
    assert abs(vals.mean() - 0.5) < 0.06
    assert all(s.online.msgs_sent == 0 for s in stats)


def test_a2b_then_bitwise_like_hal() -> None:
    """The HAL's bitwise path: a2b, and_bb / xor_bb, b2a on arithmetic shares."""
    rng = np.random.default_rng(9)
    x, y = uniform(rng, Field.FM64, (64,)), uniform(rng, Field.FM64, (64,))

    def fn(ctx, x, y):  # type: ignore[no-untyped-def]
        bx, by = api.a2b(ctx, x), api.a2b(ctx, y)
        return api.b2a(ctx, api.and_bb(ctx, bx, by)), api.b2a(ctx, api.xor_bb(ctx, bx, by))

    (a, o), _ = run_protocol("semi2k", 3, "FM64", fn, Arith(x), Arith(y), out=("arith", "arith"))
    assert_ring_equal(a, ring.and_(x, y))
    assert_ring_equal(o, ring.xor(x, y))
