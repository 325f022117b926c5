"""ref2k: every kernel equals plain arithmetic mod 2^k (Python ints), on 1 and 2 parties."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.protocol_harness import Arith, Bool, Pub, run_protocol
from veil.config import Field
from veil.mpc import api, ring


def _rand(rng: np.random.Generator, field: Field, shape: tuple[int, ...]) -> np.ndarray:
    vals = [int(v) for v in rng.integers(0, 2**63, size=int(np.prod(shape)), dtype=np.int64)]
    vals = [(v << (field.bits - 63)) ^ int(w) for v, w in zip(vals, rng.integers(0, 2**62, len(vals)))]
    return ring.from_pyints(field, np.array(vals, dtype=object).reshape(shape).tolist())


def _ints(a: np.ndarray) -> np.ndarray:
    return np.array(ring.to_pyints(a), dtype=object)


def _signed(a: np.ndarray, k: int) -> np.ndarray:
    v = _ints(a)
    return np.where(v >> (k - 1), v - (1 << k), v)


FIELDS = pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)


@FIELDS
@pytest.mark.parametrize("world", [1, 2])
def test_arithmetic(field: Field, world: int) -> None:
    rng = np.random.default_rng(world)
    k, mod = field.bits, 1 << field.bits
    x, y = _rand(rng, field, (4, 3)), _rand(rng, field, (4, 3))
    x[0, 0] = ring.zeros(field, ())
    m = _rand(rng, field, (3, 2))

    def fn(ctx, x, y, m):  # type: ignore[no-untyped-def]
        return (
            api.add_ss(ctx, x, y),
            api.neg_s(ctx, x),
            api.sum_s(ctx, x, 0),
            api.mul_ss(ctx, x, y),
            api.square_s(ctx, x),
            api.matmul_ss(ctx, x, m),
            api.trunc_s(ctx, x, 5),
            api.mul_trunc_ss(ctx, x, y, 7),
            api.msb_s(ctx, x),
            api.eqz_s(ctx, x),
            api.add_sp(ctx, x, y),
            api.mul_sp(ctx, x, y),
            api.matmul_ps(ctx, m.T.copy(), x.T.copy()),
        )

    got, stats = run_protocol("ref2k", world, field, fn, Arith(x), Arith(y), Pub(m), out=("arith",) * 13)
    X, Y, M = _ints(x), _ints(y), _ints(m)
    sx = _signed(x, k)
    want = [
        (X + Y) % mod,
        (-X) % mod,
        X.sum(0) % mod,
        X * Y % mod,
        X * X % mod,
        X.dot(M) % mod,
        (sx >> 5) % mod,
        (_signed(ring.mul(x, y), k) >> 7) % mod,
        (sx < 0).astype(int),
        (X == 0).astype(int),
        (X + Y) % mod,
        X * Y % mod,
        M.T.dot(X.T) % mod,
    ]
    for i, (g, w) in enumerate(zip(got, want)):
        assert (_ints(g) == w).all(), i
    assert all(s.online.msgs_sent == 0 for s in stats)


@FIELDS
def test_boolean(field: Field) -> None:
    rng = np.random.default_rng(3)
    mod = 1 << field.bits
    x, y = _rand(rng, field, (9,)), _rand(rng, field, (9,))

    def fn(ctx, x, y):  # type: ignore[no-untyped-def]
        return (
            api.and_bb(ctx, x, y),
            api.xor_bb(ctx, x, y),
            api.not_b(ctx, x),
            api.lshift_b(ctx, x, 3),
            api.rshift_b(ctx, x, 3),
            api.and_bp(ctx, x, y),
            api.xor_bp(ctx, x, y),
            api.b2a(ctx, x),
            api.bit2a(ctx, x),
            api.a2b(ctx, x),
        )

    got, _ = run_protocol("ref2k", 1, field, fn, Bool(x), Bool(y), out=("bool",) * 10)
    X, Y = _ints(x), _ints(y)
    want = [X & Y, X ^ Y, (mod - 1) ^ X, (X << 3) % mod, X >> 3, X & Y, X ^ Y, X, X & 1, X]
    for i, (g, w) in enumerate(zip(got, want)):
        assert (_ints(g) == w).all(), i


def test_sharing_and_public_randomness() -> None:
    field = Field.FM64
    x = _rand(np.random.default_rng(4), field, (5,))

    def fn(ctx, x):  # type: ignore[no-untyped-def]
        shared = api.v2s(ctx, x if ctx.rank == 1 else None, 1, x.shape)
        return api.s2p(ctx, shared), api.s2v(ctx, shared, 0), api.p2s(ctx, x), api.rand_bits_s(ctx, (200,))

    (pub, priv, ps, bits), stats = run_protocol("ref2k", 2, field, fn, Pub(x), out=("raw",) * 4)
    assert all(ring.equal(p, x).all() for p in pub + ps)
    assert ring.equal(priv[0], x).all() and priv[1] is None
    assert ring.equal(bits[0], bits[1]).all()  # public randomness: the same on every party
    assert set(np.unique(ring.to_int64(bits[0]))) == {0, 1}
    assert stats[1].online.msgs_sent == 1 and stats[0].online.msgs_sent == 0  # v2s: owner sends
