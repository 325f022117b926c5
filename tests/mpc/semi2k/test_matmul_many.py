"""semi2k matmul_ss_many: several independent products, every Beaver opening in one message.

Exact vs ref2k; one round for all; bytes = the products' cached costs added (a value filled by
one product of the call is a hit for the later ones, so it opens once, as in a sequence of
matmul_ss_cached calls); the cache stays in sync with the dealer across calls; the API's
fallback on protocols without the kernel gives the same products."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.mpc.protocol_harness import Arith, run_protocol
from tests.mpc.semi2k.common import GRID, assert_ring_equal, ref, uniform
from veil.config import Field
from veil.mpc.api import matmul_ss_cached, matmul_ss_many
from veil.mpc.kernels import OperandKey as K
from veil.mpc.semi2k import beaver_cache as bc


def _products(x: Any, y: Any, w: Any, g: Any, b: Any) -> list[tuple[Any, Any, Any]]:
    """(a, b, keys) of one call; the comments say what each operand should do."""
    return [
        (x, y, (K(x, (0, 1)), K(y, (0, 1)))),  # fill X, fill Y
        (w, np.transpose(x), (None, K(x, (1, 0)))),  # fresh W; X^T hits X's fill of this call
        (g, g.T, (K(g, (0, 1)), K(g, (1, 0)))),  # G @ G^T: fill G, fresh G^T (as matmul_ss_cached)
        (np.transpose(y), b, (K(y, (1, 0)), None)),  # Y^T hits; fresh B
    ]


HITS = [(False, False), (False, True), (False, False), (True, False)]
SHAPES = [(5, 4), (4, 3), (2, 4), (3, 3), (4, 6)]


@pytest.mark.parametrize("field,n", GRID)
def test_many_exact_one_round_and_cached_bytes(field: Field, n: int) -> None:
    rng = np.random.default_rng(n)
    plain = [uniform(rng, field, s) for s in SHAPES]

    def fn(ctx: Any, *xs: Any) -> tuple[Any, ...]:
        calls = _products(*xs)
        ctx.link.stats.reset()
        outs = matmul_ss_many(ctx, [(a, b_) for a, b_, _ in calls], [k for _, _, k in calls])
        first = ctx.link.stats.snapshot()
        ctx.link.stats.reset()  # a later call hits X and Y: their D were kept by the batched call
        again = matmul_ss_cached(ctx, xs[0], xs[1], K(xs[0], (0, 1)), K(xs[1], (0, 1)))
        return (*outs, again, [first, ctx.link.stats.snapshot()])

    res, _ = run_protocol("semi2k", n, field, fn, *map(Arith, plain), out=("arith",) * 5 + ("raw",))
    calls = _products(*plain)
    for got, (a, b_, _) in zip(res, calls):
        assert_ring_equal(got, ref("matmul_ss", np.ascontiguousarray(a), np.ascontiguousarray(b_)))
    assert_ring_equal(res[4], ref("matmul_ss", plain[0], plain[1]))
    first = [party[0] for party in res[-1]]
    again = [party[1] for party in res[-1]]
    got = (max(s.rounds for s in first), sum(s.online.bytes_sent for s in first))
    want = bc.many_cost([(a.shape, b_.shape) for a, b_, _ in calls], HITS, field.bits, n)
    assert got == want[:2] and got[0] == 1
    assert max(s.rounds for s in again) == 0 and sum(s.online.bytes_sent for s in again) == 0


def test_many_bytes_equal_a_sequence_of_cached_products() -> None:
    """The same products one by one (matmul_ss_cached): same bytes, one round each."""
    rng = np.random.default_rng(7)
    plain = [uniform(rng, Field.FM64, s) for s in SHAPES]

    def many(ctx: Any, *xs: Any) -> list[Any]:
        calls = _products(*xs)
        return matmul_ss_many(ctx, [(a, b_) for a, b_, _ in calls], [k for _, _, k in calls])

    def seq(ctx: Any, *xs: Any) -> list[Any]:
        return [matmul_ss_cached(ctx, a, b_, *k) for a, b_, k in _products(*xs)]

    one = run_protocol("semi2k", 2, "FM64", many, *map(Arith, plain), out="raw")
    each = run_protocol("semi2k", 2, "FM64", seq, *map(Arith, plain), out="raw")
    assert one.job.online_bytes == each.job.online_bytes
    assert (one.job.rounds, each.job.rounds) == (1, 4)
    assert one.job.offline_bytes == each.job.offline_bytes


@pytest.mark.parametrize("protocol,world", [("ref2k", 1), ("aby3", 3), ("semi2k", 3)])
def test_api_fallback_and_no_keys(protocol: str, world: int) -> None:
    """Protocols without the kernel loop over matmul_ss(_cached); keys may be omitted."""
    rng = np.random.default_rng(world)
    plain = [uniform(rng, Field.FM64, s) for s in SHAPES]

    def fn(ctx: Any, *xs: Any) -> tuple[Any, ...]:
        calls = _products(*xs)
        keyed = matmul_ss_many(ctx, [(a, b_) for a, b_, _ in calls], [k for _, _, k in calls])
        plain_ = matmul_ss_many(ctx, [(a, b_) for a, b_, _ in calls])
        return (*keyed, *plain_)

    res = run_protocol(protocol, world, "FM64", fn, *map(Arith, plain), out=("arith",) * 8).result
    for i, (a, b_, _) in enumerate(_products(*plain)):
        want = ref("matmul_ss", np.ascontiguousarray(a), np.ascontiguousarray(b_))
        assert_ring_equal(res[i], want)
        assert_ring_equal(res[4 + i], want)
