"""semi2k truncation: derivations checked exhaustively on an 8-bit ring, kernels vs floor(x/2^m).

Error contract: |x| < 2^(k-2) gives floor(x / 2^m) or one more, for every world size, one more
with probability frac(x / 2^m) (stochastic rounding: unbiased); no other error.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.protocol_harness import Arith, Pub, run_protocol
from tests.mpc.semi2k.common import GRID, bounded, signed, with_edges
from veil.config import DEFAULT_FXP_BITS, Field, TruncMode
from veil.mpc import api, ring
from veil.mpc.kernels import KernelTable
from veil.mpc.semi2k import register, truncation

K = 8  # small ring for the exhaustive model checks


def _floor_err(got: np.ndarray, x: np.ndarray, m: int) -> np.ndarray:
    """got - floor(x / 2^m) as signed ints."""
    return np.array(signed(ring.sub(got, ring.rshift_arith(x, m))), dtype=object)


@pytest.mark.parametrize("m", range(1, K - 1))
def test_2pc_derivation_exhaustive(m: int) -> None:
    """Every valid x, every split x0 + x1, random splits of [w] mod 2^32: floor or floor - 1."""
    mod, rng = 1 << K, np.random.default_rng(m)
    x = np.arange(-(1 << (K - 2)) + 1, 1 << (K - 2))[:, None]
    x0 = np.arange(mod)[None, :]
    xp = (x + (1 << (K - 2))) % mod
    x1 = (xp - x0) % mod
    a, b = x0 >> (K - 1), x1 >> (K - 1)
    w = a + b - a * b
    w0 = rng.integers(0, 1 << 32, w.shape)  # any split of w in Z_2^32
    w1 = (w - w0) % (1 << 32)
    lift = lambda s: ((s % (1 << m)) << (K - m)) % mod  # noqa: E731
    y = ((x0 >> m) - lift(w0) + (x1 >> m) - lift(w1) - (1 << (K - 2 - m))) % mod
    err = (y - (x >> m)) % mod
    assert set(np.unique(err)) <= {0, mod - 1}


@pytest.mark.parametrize("m", range(1, K - 1))
def test_escudero_derivation_exhaustive(m: int) -> None:
    mod, half = 1 << K, 1 << (K - 1)
    x = np.arange(-(1 << (K - 2)) + 1, 1 << (K - 2))[:, None]
    r = np.arange(mod)[None, :]
    c = (x + (1 << (K - 2)) + r) % mod
    b = (c >> (K - 1)) ^ (r >> (K - 1))
    r_low_ceil = ((r % half) + (1 << m) - 1) >> m
    y = (((c % half) >> m) - r_low_ceil + (b << (K - 1 - m)) - (1 << (K - 2 - m))) % mod
    assert set(np.unique((y - (x >> m)) % mod)) <= {0, mod - 1}


@pytest.mark.parametrize("field,n", GRID)
def test_trunc_kernel(field: Field, n: int) -> None:
    rng = np.random.default_rng(40 + n)
    k = field.bits
    shifts = [1, DEFAULT_FXP_BITS[field], 40, k - 2]
    x = with_edges(rng, field, 400, bits=k - 2)

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return tuple(api.trunc_s(ctx, x, m) for m in shifts)

    got, stats = run_protocol("semi2k", n, field, fn, Arith(x), out=("arith",) * len(shifts))
    allowed = {0, 1}  # floor or one more (stochastic rounding), for every world size
    for m, g in zip(shifts, got):
        err = set(_floor_err(g, x, m))
        assert err <= allowed, (m, err)
    assert max(s.rounds for s in stats) == len(shifts)  # one round each


@pytest.mark.parametrize("field,n", GRID)
def test_mul_trunc(field: Field, n: int) -> None:
    rng = np.random.default_rng(50 + n)
    f = DEFAULT_FXP_BITS[field]
    bits = (field.bits - 2) // 2 - 1  # |xy| < 2^(k-2)
    x, y = bounded(rng, field, (300,), bits), bounded(rng, field, (300,), bits)

    def fn(ctx, x, y):  # type: ignore[no-untyped-def]
        return api.mul_trunc_ss(ctx, x, y, f)

    got, stats = run_protocol("semi2k", n, field, fn, Arith(x), Arith(y))
    assert set(_floor_err(got, ring.mul(x, y), f)) <= {0, 1}
    assert max(s.rounds for s in stats) == 2


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_2pc_adversarial_splits(field: Field) -> None:
    """Shares at the wrap boundaries: x0 in {0, 2^(k-1) - 1, 2^(k-1), 2^k - 1, ...}."""
    k = field.bits
    xs = [0, 1, -1, (1 << (k - 2)) - 1, -(1 << (k - 2)) + 1, 12345, -12345]
    x0s = [0, 1, (1 << (k - 1)) - 1, 1 << (k - 1), (1 << k) - 1, 1 << (k - 2), 3 << (k - 2)]
    pairs = [(x, s) for x in xs for s in x0s]
    x = ring.from_pyints(field, [p[0] for p in pairs])
    x0 = ring.from_pyints(field, [p[1] - (1 << (k - 2)) for p in pairs])  # share of x' is x0 + 2^(k-2)
    x1 = ring.sub(x, x0)

    def fn(ctx, x0, x1):  # type: ignore[no-untyped-def]
        return truncation.trunc_2pc(ctx, x0 if ctx.rank == 0 else x1, 7)

    got, _ = run_protocol("semi2k", 2, field, fn, Pub(x0), Pub(x1), out="raw")
    assert set(_floor_err(ring.add(got[0], got[1]), x, 7)) <= {0, 1}


def test_local_trunc_opt_in() -> None:
    rng = np.random.default_rng(5)
    x = bounded(rng, Field.FM64, (500,), 30)

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return api.trunc_s(ctx, x, 18)

    got, stats = run_protocol("semi2k", 2, "FM64", fn, Arith(x), trunc=TruncMode.LOCAL)
    assert set(_floor_err(got, x, 18)) <= {-1, 0, 1}
    assert all(s.online.msgs_sent == 0 for s in stats)


def test_trunc_choice_by_world() -> None:
    picks = {}
    for world, mode in [
        (2, TruncMode.PROBABILISTIC),
        (3, TruncMode.PROBABILISTIC),
        (2, TruncMode.LOCAL),
        (3, TruncMode.LOCAL),
    ]:
        table = KernelTable("semi2k")
        register(table, world, mode)
        picks[(world, mode)] = table.lookup("trunc_s").fn
    assert picks[(2, TruncMode.PROBABILISTIC)] is truncation.trunc_2pc
    assert picks[(3, TruncMode.PROBABILISTIC)] is truncation.trunc_escudero
    assert picks[(2, TruncMode.LOCAL)] is truncation.trunc_local
    assert picks[(3, TruncMode.LOCAL)] is truncation.trunc_escudero  # SecureML is 2PC only


def test_trunc_rejects_bad_shift() -> None:
    from veil.errors import PartyError

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return api.trunc_s(ctx, x, 63)

    with pytest.raises(PartyError, match="shift 63"):
        run_protocol("semi2k", 2, "FM64", fn, Arith(ring.zeros(Field.FM64, (2,))), timeout=5.0)


@pytest.mark.parametrize("n", [2, 3])
def test_trunc_is_unbiased(n: int) -> None:
    """Mean error over many values is 0, not -1 LSB: biased truncation drifts a long training
    run (each of thousands of updates loses half an LSB on average)."""
    rng = np.random.default_rng(60 + n)
    x = rng.integers(-(2**40), 2**40, size=100_000).astype(np.int64)
    (y,), _ = run_protocol(
        "semi2k",
        n,
        Field.FM64,
        lambda ctx, a: (api.trunc_s(ctx, a, 18),),
        Arith(x.astype(np.uint64)),
        out=("arith",),
    )
    err = y.astype(np.int64) - x / 2.0**18
    assert abs(err.mean()) < 0.01
    assert err.min() > -1.0 and err.max() < 1.0


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128])
def test_segments_truncate_each_part_by_its_own_shift_in_one_round(field: Field) -> None:
    rng = np.random.default_rng(70)
    k = field.bits
    x = with_edges(rng, field, 300, bits=k - 2)
    segments = ((100, 7), (150, DEFAULT_FXP_BITS[field]), (x.size - 250, 30))

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        return (api.trunc_segments_s(ctx, x, segments),)

    (got,), stats = run_protocol("semi2k", 2, field, fn, Arith(x), out=("arith",))
    start = 0
    for count, m in segments:
        part = slice(start, start + count)
        assert set(_floor_err(got[part], x[part], m)) <= {0, 1}, m
        start += count
    assert max(s.rounds for s in stats) == 1
