"""semi2k `bit_trunc_s`: s * trunc(x, m) for a secret bit s in one round (2PC), fallback elsewhere.

Contract: where s = 1, floor(x / 2^m) or one more (stochastic rounding, unbiased) for
|x| < 2^(k-2), like trunc_s; where s = 0, exactly 0. 2PC: 1 round, one message each way of
2 k/8 + 2 W/8 bytes per element (W = 32 for m <= 32, else 64).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.mpc.protocol_harness import Arith, Pub, declared, run_protocol
from tests.mpc.semi2k.common import signed, with_edges
from tests.mpc.semi2k.test_security import N, Recorder, assert_uniform
from veil.config import Field, TruncMode
from veil.mpc import api, ring
from veil.mpc.semi2k import bit_trunc
from veil.mpc.semi2k.truncation import product_width

SHIFTS = [1, 18, 26, 36]
K = 8  # small ring for the exhaustive model check


def _err(got: np.ndarray, s: np.ndarray, x: np.ndarray, m: int) -> np.ndarray:
    """got - s * floor(x / 2^m) as signed ints."""
    return np.array(signed(ring.sub(got, ring.mul(s, ring.rshift_arith(x, m)))), dtype=object)


def _check(got: np.ndarray, s: np.ndarray, x: np.ndarray, m: int) -> None:
    err = _err(got, s, x, m)
    on = np.array(signed(s), dtype=object) == 1
    assert set(err[on]) <= {0, 1}, (m, set(err[on]))
    assert set(err[~on]) <= {0}, (m, set(err[~on]))  # exactly 0 where s = 0


def _bits(rng: np.random.Generator, field: Field, n: int) -> np.ndarray:
    return ring.from_int64(field, rng.integers(0, 2, n))


def _bit_trunc(ctx, s, x, m):  # type: ignore[no-untyped-def]
    return api.bit_trunc_s(ctx, s, x, m)


@pytest.mark.parametrize("m", range(1, K - 1))
def test_derivation_exhaustive(m: int) -> None:
    """The module doc's formulas on an 8-bit ring, W = 16: every valid x, every split x0, both
    bits with random splits of s and of every private product: s * (floor or floor + 1)."""
    mod, wmod, rng = 1 << K, 1 << 16, np.random.default_rng(m)
    x = np.arange(-(1 << (K - 2)) + 1, 1 << (K - 2))[:, None]
    x0 = np.arange(mod)[None, :]
    xp = (x + (1 << (K - 2))) % mod
    x1 = (xp - x0) % mod
    a, b, low0, low1 = x0 >> (K - 1), x1 >> (K - 1), x0 >> m, x1 >> m
    t_ok = {}
    for s in (0, 1):
        s0 = rng.integers(0, mod, x1.shape)
        s1 = (s - s0) % mod

        def split(v, md):  # type: ignore[no-untyped-def]
            r = rng.integers(0, md, v.shape)
            return r, (v - r) % md

        c01, c10 = split(s0 * low1 % mod, mod), split(low0 * s1 % mod, mod)
        d0 = split((s0 % wmod) * (1 - a) * b % wmod, wmod)
        d1 = split(a * (s1 % wmod) * (1 - b) % wmod, wmod)
        sw0 = (s0 * a + d0[0] + d1[0]) % wmod
        sw1 = (s1 * b + d0[1] + d1[1]) % wmod
        lift = lambda v: ((v % (1 << m)) << (K - m)) % mod  # noqa: E731
        c = (1 << (K - 2 - m)) - 1
        y0 = s0 * low0 + c01[0] + c10[0] - lift(sw0) - c * s0
        y1 = s1 * low1 + c01[1] + c10[1] - lift(sw1) - c * s1
        err = ((y0 + y1) - s * (x >> m)) % mod
        t_ok[s] = set(np.unique(err))
    assert t_ok[0] == {0}
    assert t_ok[1] <= {0, 1}


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_kernel_all_shifts_one_round_each(field: Field) -> None:
    rng = np.random.default_rng(11)
    k = field.bits
    x = with_edges(rng, field, 400, bits=k - 2)
    s = _bits(rng, field, x.size)
    s[-11:] = ring.from_int64(field, np.array([1] * 6 + [0] * 5))  # edges with both bits

    def fn(ctx, s, x):  # type: ignore[no-untyped-def]
        outs = []
        for m in SHIFTS:
            before = ctx.link.stats.snapshot()
            outs.append(api.bit_trunc_s(ctx, s, x, m))
            outs.append(ctx.link.stats.snapshot() - before)
        return tuple(outs)

    got, _ = run_protocol("semi2k", 2, field, fn, Arith(s), Arith(x), out="raw")
    for i, m in enumerate(SHIFTS):
        _check(ring.add(got[0][2 * i], got[1][2 * i]), s, x, m)
        width = product_width(m)
        for party in got:
            st_ = party[2 * i + 1]
            assert st_.rounds == 1 and st_.online.msgs_sent == 1, (m, st_)
            assert st_.online.bytes_sent == x.size * (2 * k + 2 * width) // 8, (m, st_)
    assert product_width(18) == 32 and product_width(36) == 64  # 24 / 32 B per element on FM64


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from([Field.FM64, Field.FM128]),
    st.sampled_from(SHIFTS),
    st.lists(st.tuples(st.integers(-(2**61), 2**61 - 1), st.integers(0, 1)), min_size=1, max_size=16),
)
def test_kernel_property(field: Field, m: int, pairs: list[tuple[int, int]]) -> None:
    """|x| < 2^61 (about 2^(k-3) on FM64; the same values on FM128)."""
    x = ring.from_pyints(field, [p[0] for p in pairs])
    s = ring.from_pyints(field, [p[1] for p in pairs])
    got, _ = run_protocol("semi2k", 2, field, _bit_trunc, Arith(s), Arith(x), m, timeout=20.0)
    _check(got, s, x, m)


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_adversarial_splits(field: Field) -> None:
    """Shares of x and s at the wrap boundaries (the harness's random sharing rarely hits them)."""
    k = field.bits
    xs = [0, 1, -1, (1 << (k - 2)) - 1, -(1 << (k - 2)) + 1, 12345, -12345]
    x0s = [0, 1, (1 << (k - 1)) - 1, 1 << (k - 1), (1 << k) - 1, 1 << (k - 2)]
    s0s = [0, 1, (1 << k) - 1, 1 << (k - 1)]
    rows = [(x, a, b, s0) for x in xs for a in x0s for b in (0, 1) for s0 in s0s]
    x = ring.from_pyints(field, [r[0] for r in rows])
    x0 = ring.from_pyints(field, [r[1] - (1 << (k - 2)) for r in rows])  # share of x' is x0 + 2^(k-2)
    s = ring.from_pyints(field, [r[2] for r in rows])
    s0 = ring.from_pyints(field, [r[3] for r in rows])
    x1, s1 = ring.sub(x, x0), ring.sub(s, s0)

    def fn(ctx, x0, x1, s0, s1):  # type: ignore[no-untyped-def]
        mine = (s0, x0) if ctx.rank == 0 else (s1, x1)
        return bit_trunc.bit_trunc_2pc(ctx, *mine, 7)

    got, _ = run_protocol("semi2k", 2, field, fn, Pub(x0), Pub(x1), Pub(s0), Pub(s1), out="raw")
    _check(ring.add(got[0], got[1]), s, x, 7)


@pytest.mark.parametrize("frac", [0.0, 0.3, 0.75])
def test_unbiased_for_one_value(frac: float) -> None:
    """Many sharings of ONE x: mean of s * trunc(x) is x / 2^m (stochastic rounding, no -1/2 LSB bias)."""
    m, count = 18, 20_000
    xv = -(123 << m) + int(frac * (1 << m))
    x = ring.full(Field.FM64, (count,), xv)
    s = ring.full(Field.FM64, (count,), 1)
    got, _ = run_protocol("semi2k", 2, Field.FM64, _bit_trunc, Arith(s), Arith(x), m)
    err = got.astype(np.int64) - xv / 2.0**m
    assert err.min() > -1.0 and err.max() <= 1.0  # floor or floor + 1: +1 exactly when frac = 0
    assert abs(err.mean()) < 0.02  # 6 sigma of a mean of 20000 Bernoulli(frac) is <= 0.021


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
def test_declared_cost(field: Field) -> None:
    rng = np.random.default_rng(3)
    x = with_edges(rng, field, 50, bits=field.bits - 2)
    s = _bits(rng, field, x.size)
    run = run_protocol("semi2k", 2, field, _bit_trunc, Arith(s), Arith(x), 18)
    job = run.job
    assert (job.rounds, job.online_bytes, job.offline_bytes) == declared(
        "semi2k", 2, field, "bit_trunc_s", x.size
    )
    assert job.online_sent == (x.size * (2 * field.bits // 8 + 8),) * 2  # FM64: 24 B per element


@pytest.mark.parametrize("world,trunc", [(3, TruncMode.PROBABILISTIC), (2, TruncMode.LOCAL)])
def test_fallback_matches_contract(world: int, trunc: TruncMode) -> None:
    """Without the kernel (3 parties; 2PC with local truncation): trunc then product, 2 rounds."""
    rng = np.random.default_rng(world)
    field = Field.FM64
    x = with_edges(rng, field, 300, bits=40)
    s = _bits(rng, field, x.size)

    def fn(ctx, s, x):  # type: ignore[no-untyped-def]
        assert not api.has_bit_trunc(ctx)
        before = ctx.link.stats.snapshot()
        got = api.bit_trunc_s(ctx, s, x, 18)
        rounds = (ctx.link.stats.snapshot() - before).rounds
        return got, api.trunc_s(ctx, x, 18), rounds

    (got, plain, rounds), _ = run_protocol(
        "semi2k", world, field, fn, Arith(s), Arith(x), out=("arith", "arith", "public"), trunc=trunc
    )
    assert rounds == (2 if trunc is TruncMode.PROBABILISTIC else 1)  # local truncation: 0 rounds
    if trunc is TruncMode.PROBABILISTIC:
        _check(got, s, x, 18)
    on = np.array(signed(s), dtype=object) == 1
    assert set(np.array(signed(got), dtype=object)[~on]) == {0}  # exactly 0 where s = 0
    # where s = 1: the 2PC kernel and the 3-party fallback agree within the 1-LSB rounding
    assert set(np.abs(np.array(signed(ring.sub(got, plain)), dtype=object)[on])) <= {0, 1}


def test_registered_only_for_2pc_probabilistic() -> None:
    from tests.mpc.protocol_harness import make_config
    from veil.mpc.protocols import build_table

    assert build_table(make_config("semi2k", 2, "FM64")).has("bit_trunc_s")
    assert not build_table(make_config("semi2k", 3, "FM64")).has("bit_trunc_s")
    assert not build_table(make_config("semi2k", 2, "FM64", trunc=TruncMode.LOCAL)).has("bit_trunc_s")


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
@pytest.mark.parametrize("bit", [0, 1])
def test_messages_uniform(field: Field, bit: int) -> None:
    """For a FIXED (s, x), each of the four masked openings a party receives looks uniform."""
    x = ring.full(field, (N,), 5 << 18)
    s = ring.full(field, (N,), bit)

    def fn(ctx, s, x):  # type: ignore[no-untyped-def]
        rec = Recorder(ctx.link)
        ctx.link = rec
        api.bit_trunc_s(ctx, s, x, 18)
        return rec.got[bit_trunc.TAG_BIT_TRUNC][0]

    got, _ = run_protocol("semi2k", 2, field, fn, Arith(s), Arith(x), out="raw")
    dk, dw = ring.ring_dtype(field), np.dtype(np.uint32)
    for rank, raw in enumerate(got):
        parts = bit_trunc._unpack(raw, [(dk, 2 * N), (dw, 2 * N)])
        for j, arr in enumerate((parts[0][:N], parts[0][N:], parts[1][:N], parts[1][N:])):
            assert_uniform(arr, f"party {rank} received opening {j}")


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
@pytest.mark.parametrize("m", [18, 36])
def test_mixed_selected_and_plain_truncations_in_one_round(field: Field, m: int) -> None:
    """bit_trunc_mixed_s: s * trunc(x) and trunc(y) in one message each way; the plain part
    costs trunc_2pc's W/8 bytes per element on top of the selected part's bytes."""
    rng = np.random.default_rng(m)
    k = field.bits
    x = with_edges(rng, field, 300, bits=k - 2)
    y = with_edges(rng, field, 170, bits=k - 2)
    s = _bits(rng, field, x.size)

    def fn(ctx, s, x, y):  # type: ignore[no-untyped-def]
        before = ctx.link.stats.snapshot()
        sel, plain = api.bit_trunc_mixed_s(ctx, s, x, y, m)
        return sel, plain, ctx.link.stats.snapshot() - before

    got, _ = run_protocol("semi2k", 2, field, fn, Arith(s), Arith(x), Arith(y), out="raw")
    _check(ring.add(got[0][0], got[1][0]), s, x, m)
    plain_err = signed(ring.sub(ring.add(got[0][1], got[1][1]), ring.rshift_arith(y, m)))
    assert set(np.array(plain_err, dtype=object)) <= {0, 1}
    width = product_width(m)
    for party in got:
        st_ = party[2]
        assert st_.rounds == 1 and st_.online.msgs_sent == 1, st_
        assert st_.online.bytes_sent == x.size * (2 * k + 2 * width) // 8 + y.size * width // 8, st_


def test_mixed_fallback_on_three_parties() -> None:
    rng = np.random.default_rng(3)
    field = Field.FM64
    x, y = with_edges(rng, field, 50, bits=40), with_edges(rng, field, 20, bits=40)
    s = _bits(rng, field, x.size)

    def fn(ctx, s, x, y):  # type: ignore[no-untyped-def]
        return api.bit_trunc_mixed_s(ctx, s, x, y, 18)

    (sel, plain), _ = run_protocol(
        "semi2k", 3, field, fn, Arith(s), Arith(x), Arith(y), out=("arith", "arith")
    )
    _check(sel, s, x, 18)
    assert set(np.array(signed(ring.sub(plain, ring.rshift_arith(y, 18))), dtype=object)) <= {0, 1}
