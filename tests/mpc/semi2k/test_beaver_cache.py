"""semi2k Beaver cache (matmul_ss_cached): exact vs ref2k, X - A opened once, no hit for another
value of the same shape, X^T reuse, uniform openings, LRU eviction, dealer sync checks, HAL keys
and the logistic-regression job with the cache on and off."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.hal.runner import config as hal_config
from tests.hal.runner import run as hal_run
from tests.hal.runner import secret
from tests.mpc.protocol_harness import Arith, run_protocol
from tests.mpc.semi2k.common import GRID, assert_ring_equal, ref, uniform
from tests.mpc.semi2k.test_security import Recorder, assert_uniform
from veil.config import Field
from veil.errors import LinkError
from veil.hal.linalg import dot_general
from veil.mpc import ring
from veil.mpc.api import matmul_ss_cached
from veil.mpc.dealer import Corr
from veil.mpc.kernels import OperandKey
from veil.mpc.prg import AesCtrStream
from veil.mpc.semi2k import beaver_cache as bc

K = OperandKey


def _job(snaps: list[Any]) -> tuple[int, int, int]:
    """(rounds, online bytes sent by all, offline bytes) of one call from per-party snapshots."""
    return (
        max(s.rounds for s in snaps),
        sum(s.online.bytes_sent for s in snaps),
        sum(s.offline.bytes_sent + s.offline.bytes_recv for s in snaps),
    )


def _calls(ctx: Any, x: Any, y1: Any, y2: Any, lhs: Any, x2: Any, b: Any, c: Any, g: Any) -> list[Any]:
    """(a, b, a_key, b_key) of a deterministic sequence; the comments say what each should do."""
    xt, xc = np.transpose(x), x.copy()
    return [
        (x, y1, K(x, (0, 1)), None),  # fill X
        (x, y2, K(x, (0, 1)), None),  # hit X
        (lhs, xt, None, K(x, (1, 0))),  # hit X^T, on the right
        (xt, x, K(x, (1, 0)), K(x, (0, 1))),  # both hit: no message at all
        (x2, y1, K(x2, (0, 1)), None),  # another value, same shape: fill
        (xc, y1, K(xc, (0, 1)), None),  # the same value in another array: fill
        (x, y1, K(x, (0, 1)), None),  # X is still cached
        (b, c, K(b, (0, 1, 2)), K(c, (0, 1, 2))),  # batched: fill both
        (np.transpose(c, (0, 2, 1)), np.transpose(b, (0, 2, 1)), K(c, (0, 2, 1)), K(b, (0, 2, 1))),
        (g, g.T, K(g, (0, 1)), K(g, (1, 0))),  # G @ G^T before G is cached: fill a, fresh b
        (g, g.T, K(g, (0, 1)), K(g, (1, 0))),  # both hit
    ]


HITS = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 0), (0, 0), (1, 0), (0, 0), (1, 1), (0, 0), (1, 1)]


@pytest.mark.parametrize("field,n", GRID)
def test_sequence_exact_and_costs(field: Field, n: int) -> None:
    rng = np.random.default_rng(n)
    shapes = [(5, 4), (4, 3), (4, 3), (2, 4), (5, 4), (2, 3, 4), (2, 4, 5), (3, 3)]
    plain = [uniform(rng, field, s) for s in shapes]

    def fn(ctx: Any, *xs: Any) -> tuple[Any, ...]:
        outs, snaps = [], []
        for a, b_, ka, kb in _calls(ctx, *xs):
            ctx.link.stats.reset()
            outs.append(matmul_ss_cached(ctx, a, b_, ka, kb))
            snaps.append(ctx.link.stats.snapshot())
        return (*outs, snaps)

    res, _ = run_protocol("semi2k", n, field, fn, *map(Arith, plain), out=("arith",) * len(HITS) + ("raw",))
    calls = _calls(None, *plain)
    snaps = res[-1]
    for i, (a, b_, _, _) in enumerate(calls):
        assert_ring_equal(res[i], ref("matmul_ss", np.ascontiguousarray(a), np.ascontiguousarray(b_)))
        got = _job([party[i] for party in snaps])
        want = bc.cached_cost(a.shape, b_.shape, bool(HITS[i][0]), bool(HITS[i][1]), field.bits, n)
        assert got == want, f"call {i}: measured {got}, declared {want}"


def test_x_opened_once_over_a_loop() -> None:
    """Ten products with the same X open X - A once: bytes = 1 X + 10 Y, vs 10 (X + Y) without."""
    rng = np.random.default_rng(1)
    x, ys = uniform(rng, Field.FM64, (40, 30)), [uniform(rng, Field.FM64, (30, 1)) for _ in range(10)]

    def fn(ctx: Any, x: Any, *ys: Any) -> tuple[Any, ...]:
        return tuple(matmul_ss_cached(ctx, x, y, K(x, (0, 1)), None) for y in ys)

    def plain_fn(ctx: Any, x: Any, *ys: Any) -> tuple[Any, ...]:
        return tuple(matmul_ss_cached(ctx, x, y, None, None) for y in ys)

    args = [Arith(x), *map(Arith, ys)]
    cached = run_protocol("semi2k", 2, "FM64", fn, *args, out=("arith",) * 10)
    plain = run_protocol("semi2k", 2, "FM64", plain_fn, *args, out=("arith",) * 10)
    for got, y in zip(cached.result, ys):
        assert_ring_equal(got, ref("matmul_ss", x, y))
    assert cached.job.online_bytes == 2 * 8 * (x.size + 10 * 30)
    assert plain.job.online_bytes == 2 * 8 * 10 * (x.size + 30)
    assert cached.job.rounds == plain.job.rounds == 10


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_openings_uniform_and_hits_open_nothing_for_x(field: Field) -> None:
    """For fixed X, Y: the fill opens X - A and Y - B (uniform); a hit opens only a fresh Y - B'."""
    x, y = ring.full(field, (64, 64), 7), ring.full(field, (64, 64), -3)

    def fn(ctx: Any, x: Any, y: Any) -> Any:
        rec = Recorder(ctx.link)
        ctx.link = rec
        matmul_ss_cached(ctx, x, y, K(x, (0, 1)), None)
        matmul_ss_cached(ctx, x, y.copy(), K(x, (0, 1)), None)
        return rec.got[bc.TAG]

    got = run_protocol("semi2k", 2, field, fn, Arith(x), Arith(y), out="raw").result
    fill, hit = got[1]  # what party 1 received from party 0
    assert fill.size == x.size + y.size and hit.size == y.size
    assert_uniform(fill[: x.size].reshape(-1, 1), "opened D = X - A")
    assert_uniform(fill[x.size :].reshape(-1, 1), "opened E = Y - B")
    assert_uniform(hit.reshape(-1, 1), "opened E' = Y - B' of a hit")
    assert not ring.equal(fill[x.size :], hit).any()  # B' is fresh


def test_eviction_and_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two slots: a third operand evicts the least recent; too-large operands are never cached."""
    monkeypatch.setattr(bc, "MAX_SLOTS", 2)
    monkeypatch.setattr(bc, "MAX_ELEMENTS", 30)
    rng = np.random.default_rng(3)
    xs = [uniform(rng, Field.FM64, (3, 4)) for _ in range(3)]
    big, y = uniform(rng, Field.FM64, (8, 4)), uniform(rng, Field.FM64, (4, 2))
    order = [0, 1, 0, 2, 0, 1, 3, 3]  # 3 = big (32 elements > 30)
    hits = [0, 0, 1, 0, 1, 0, 0, 0]  # x2 evicts x1 (x0 was used more recently); big never hits

    def fn(ctx: Any, x0: Any, x1: Any, x2: Any, bg: Any, y: Any) -> tuple[Any, ...]:
        ops, outs, sent = [x0, x1, x2, bg], [], []
        for i in order:
            ctx.link.stats.reset()
            outs.append(matmul_ss_cached(ctx, ops[i], y, K(ops[i], (0, 1)), None))
            sent.append(ctx.link.stats.snapshot().online.bytes_sent)
        return (*outs, sent)

    res, _ = run_protocol(
        "semi2k", 2, "FM64", fn, *map(Arith, [*xs, big, y]), out=("arith",) * len(order) + ("raw",)
    )
    ops = [*xs, big]
    for j, i in enumerate(order):
        assert_ring_equal(res[j], ref("matmul_ss", ops[i], y))
        opened = y.size + (0 if hits[j] else ops[i].size)
        assert res[-1][0][j] == 8 * opened, f"call {j}"


def test_dealer_refuses_out_of_sync_requests() -> None:
    streams = {r: AesCtrStream(bytes([r]) * 32) for r in range(2)}
    corr = Corr(2, streams, 2, store={})
    hit = bc.encode_side(bc.Side(bc.HIT, (0, 1), 5))
    with pytest.raises(LinkError, match="slot 5"):
        bc.matmul_cached_recipe(corr, 64, 1, 1, 3, 4, 2, hit)
    fill = bc.encode_side(bc.Side(bc.FILL, (0, 1), 7))  # the dealer would pick slot 0
    with pytest.raises(LinkError, match="out of sync"):
        bc.matmul_cached_recipe(Corr(2, streams, 2, store={}), 64, 1, 1, 3, 4, 2, fill)
    with pytest.raises(LinkError, match="malformed"):
        bc.decode_side(bc.HIT | 3 << 2)


@pytest.mark.parametrize("protocol,world", [("ref2k", 1), ("semi2k", 2)])
def test_hal_dot_general_keys(protocol: str, world: int) -> None:
    """With config.beaver_cache, X @ w, g @ X and X^T @ h reuse X's mask (semi2k); same values."""
    rng = np.random.default_rng(4)
    x, w, g, h = (
        rng.uniform(-1, 1, (20, 6)),
        rng.uniform(-1, 1, (6, 1)),
        rng.uniform(-1, 1, (3, 20)),
        rng.uniform(-1, 1, (20, 2)),
    )

    def fn(ctx: Any, x: Any, w: Any, g: Any, h: Any) -> list[Any]:
        return [
            dot_general(ctx, x, w, ((1,), (0,))),
            dot_general(ctx, g, x, ((1,), (0,))),
            dot_general(ctx, x, h, ((0,), (0,))),
        ]

    runs = {}
    for cache in (False, True):
        cfg = hal_config(protocol, "FM64", world).with_(beaver_cache=cache)
        runs[cache] = r = hal_run(cfg, fn, secret(x), secret(w), secret(g), secret(h))
        for got, want in zip(r.outputs, [x @ w, g @ x, x.T @ h]):
            np.testing.assert_allclose(got, want, atol=2e-4)
    sent = {c: sum(s.online.bytes_sent for s in runs[c].stats) for c in runs}
    saved = 2 * 2 * 8 * x.size if protocol == "semi2k" else 0  # X opened once instead of 3 times
    assert sent[False] - sent[True] == saved


def test_logistic_regression_same_weights_fewer_bytes() -> None:
    """The LR job (10 epochs): the same weights within 1e-3 with the cache on and off, fewer bytes."""
    import veil

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
    import logit_regression as lr

    x1, x2, y, *_ = lr.load_breast_cancer_vertical()
    out, stats = {}, {}
    for cache in (False, True):
        cfg = veil.RuntimeConfig(protocol="semi2k", field="FM64", world_size=2, beaver_cache=cache)
        f = veil.jit(lr.train, static_argnames="n_epochs", config=cfg)
        out[cache], stats[cache] = f(x1, x2, y, n_epochs=10), f.stats
    np.testing.assert_allclose(out[True][0], out[False][0], atol=1e-3)
    np.testing.assert_allclose(out[True][1], out[False][1], atol=1e-3)
    x_bytes = 2 * 8 * 455 * 30
    assert stats[False].online_bytes - stats[True].online_bytes >= 8 * x_bytes  # 19 of 20 opens of X saved
    assert stats[True].rounds <= stats[False].rounds


def test_protocols_without_the_kernel_ignore_keys() -> None:
    """ref2k has no matmul_ss_cached: the API runs matmul_ss (keys ignored)."""
    rng = np.random.default_rng(5)
    x, y = uniform(rng, Field.FM64, (3, 4)), uniform(rng, Field.FM64, (4, 2))

    def fn(ctx: Any, x: Any, y: Any) -> tuple[Any, ...]:
        assert not ctx.table.has("matmul_ss_cached")
        return tuple(matmul_ss_cached(ctx, x, y, K(x, (0, 1)), K(y, (0, 1))) for _ in range(2))

    res, _ = run_protocol("ref2k", 1, "FM64", fn, Arith(x), Arith(y), out=("arith", "arith"))
    for got in res:
        assert_ring_equal(got, ref("matmul_ss", x, y))
