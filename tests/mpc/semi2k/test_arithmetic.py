"""semi2k sharing, local kernels and Beaver products vs the ref2k oracle (bit-exact)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.protocol_harness import Arith, Pub, measure_kernel, run_protocol
from tests.mpc.semi2k.common import GRID, assert_ring_equal, ref, uniform, with_edges
from veil.config import Field
from veil.errors import PartyError
from veil.mpc import api, ring


@pytest.mark.parametrize("field,n", GRID)
def test_products(field: Field, n: int) -> None:
    rng = np.random.default_rng(n)
    x, y = with_edges(rng, field, 60), with_edges(rng, field, 60)[::-1].copy()
    bx, by = uniform(rng, field, (3, 1, 4)), uniform(rng, field, (1, 5, 4))

    def fn(ctx, x, y, bx, by):  # type: ignore[no-untyped-def]
        return api.mul_ss(ctx, x, y), api.square_s(ctx, x), api.mul_ss(ctx, bx, by), api.cube_s(ctx, bx)

    (xy, xx, bxy, cube), _ = run_protocol(
        "semi2k", n, field, fn, Arith(x), Arith(y), Arith(bx), Arith(by), out=("arith",) * 4
    )
    assert_ring_equal(xy, ref("mul_ss", x, y))
    assert_ring_equal(xx, ref("square_s", x))
    assert_ring_equal(cube, ref("cube_s", bx))
    assert_ring_equal(cube[1], ring.mul(ring.mul(bx, bx), bx))
    assert_ring_equal(bxy, ref("mul_ss", bx, by))


MATMUL_SHAPES = [
    ((3, 4), (4, 5)),
    ((2, 3, 4), (4, 5)),
    ((2, 3, 4), (2, 4, 5)),
    ((4,), (4, 5)),
    ((3, 4), (4,)),
    ((1, 1), (1, 1)),
]


@pytest.mark.parametrize("field,n", GRID)
def test_matmul(field: Field, n: int) -> None:
    rng = np.random.default_rng(10 + n)
    args = []
    for sa, sb in MATMUL_SHAPES:
        args += [Arith(uniform(rng, field, sa)), Arith(uniform(rng, field, sb))]

    def fn(ctx, *xs):  # type: ignore[no-untyped-def]
        return tuple(api.matmul_ss(ctx, xs[i], xs[i + 1]) for i in range(0, len(xs), 2))

    got, _ = run_protocol("semi2k", n, field, fn, *args, out=("arith",) * len(MATMUL_SHAPES))
    for i, g in enumerate(got):
        assert_ring_equal(g, ref("matmul_ss", args[2 * i].x, args[2 * i + 1].x))


@pytest.mark.parametrize("field,n", GRID)
def test_local_kernels(field: Field, n: int) -> None:
    rng = np.random.default_rng(20 + n)
    x, p = uniform(rng, field, (3, 4)), uniform(rng, field, (3, 4))
    m = uniform(rng, field, (4, 2))

    def fn(ctx, x, p, m):  # type: ignore[no-untyped-def]
        return (
            api.add_ss(ctx, x, x),
            api.add_sp(ctx, x, p),
            api.neg_s(ctx, x),
            api.sum_s(ctx, x, 1),
            api.sum_s(ctx, x, None),
            api.mul_sp(ctx, x, p),
            api.matmul_sp(ctx, x, m),
            api.matmul_ps(ctx, m.T.copy(), x.T.copy()),
            api.p2s(ctx, p),
            api.sub_ss(ctx, x, x),
        )

    got, stats = run_protocol("semi2k", n, field, fn, Arith(x), Pub(p), Pub(m), out=("arith",) * 10)
    want = [
        ref("add_ss", x, x),
        ref("add_sp", x, p),
        ref("neg_s", x),
        ring.sum(x, 1),
        ring.sum(x),
        ref("mul_sp", x, p),
        ref("matmul_sp", x, m),
        ref("matmul_ps", m.T.copy(), x.T.copy()),
        p,
        ring.zeros(field, x.shape),
    ]
    for g, w in zip(got, want):
        assert_ring_equal(g, w)
    assert all(s.online.msgs_sent == 0 and s.offline.msgs_sent == 0 for s in stats)


@pytest.mark.parametrize("field,n", GRID)
def test_open_and_share(field: Field, n: int) -> None:
    rng = np.random.default_rng(30 + n)
    x = uniform(rng, field, (5, 3))

    def fn(ctx, x, plain):  # type: ignore[no-untyped-def]
        owner = n - 1
        mine = plain if ctx.rank == owner else None
        shared = api.v2s(ctx, mine, owner, plain.shape)
        return api.s2p(ctx, x), api.s2v(ctx, x, 1), shared

    (pub, priv, shared), stats = run_protocol(
        "semi2k", n, field, fn, Arith(x), Pub(x), out=("raw", "raw", "arith")
    )
    assert all(ring.equal(p, x).all() for p in pub)  # everyone learns x
    assert ring.equal(priv[1], x).all() and all(priv[r] is None for r in range(n) if r != 1)
    assert_ring_equal(shared, x)


def test_v2s_checks_owner_input() -> None:
    def fn(ctx):  # type: ignore[no-untyped-def]
        return api.v2s(ctx, None, 0, (2,))

    with pytest.raises(PartyError, match="owns the value but passed None"):
        run_protocol("semi2k", 2, "FM64", fn, out="raw", timeout=5.0)


def test_matmul_rejects_mismatched_batches() -> None:
    a, b = ring.zeros(Field.FM64, (2, 3, 4)), ring.zeros(Field.FM64, (3, 4, 5))
    with pytest.raises(PartyError, match="batch dims"):
        measure_kernel("semi2k", 2, "FM64", "matmul_ss", Arith(a), Arith(b), timeout=5.0)
