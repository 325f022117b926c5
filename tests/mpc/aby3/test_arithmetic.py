"""aby3 arithmetic kernels against the ring oracle: sharing, opening, linear ops, products."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import veil.mpc.api as api
from tests.mpc.aby3.common import FIELDS, IDS, assert_ring_equal, run, run_fn, run_many, uniform, with_edges
from tests.mpc.protocol_harness import Arith, Pub
from veil.config import Field
from veil.mpc import matmul as mm
from veil.mpc import ring
from veil.mpc.aby3 import KERNELS, register, shares
from veil.mpc.context import ProtocolContext
from veil.mpc.kernels import KernelTable

pytestmark = pytest.mark.parametrize("field", FIELDS, ids=IDS)


def test_register_covers_the_api(field: Field) -> None:
    """Every kernel the HAL-facing API calls by name is registered, with a cost."""
    table = KernelTable("aby3")
    register(table)
    api_names = {n for n, f in vars(api).items() if getattr(f, "__module__", "") == api.__name__}
    # generic compositions (matmul_ss_cached -> matmul_ss, cube_s -> square_s + mul_ss)
    fallbacks = {"sub_ss", "matmul_ss_cached", "cube_s", "trunc_segments_s", "matmul_ss_many"}
    fallbacks |= {"bit_trunc_s", "bit_trunc_mixed_s", "has_bit_trunc"}  # product + truncation
    # protocol-specific kernels (semi2k 2PC only; the HAL picks another method elsewhere)
    fallbacks |= {"exp_prime_s", "exp_prime_range"}
    wanted = api_names - fallbacks - {n for n in api_names if n.startswith("_")}
    assert wanted <= set(table.names()), wanted - set(table.names())
    assert set(table.names()) == set(KERNELS)
    for name in table.names():
        assert table.lookup(name).cost is not None


def test_share_layout(field: Field) -> None:
    a, b = uniform(np.random.default_rng(0), field, (2, 3)), uniform(np.random.default_rng(1), field, (2, 3))
    s = shares.pack(a, b)
    assert s.dtype == shares.share_dtype(field) and s.shape == (2, 3)
    x, y = shares.unpack(s)
    assert_ring_equal(x, a)
    assert_ring_equal(y, b)
    with pytest.raises(TypeError, match="replicated share"):
        shares.unpack(a)


def test_p2s_s2p_roundtrip(field: Field) -> None:
    x = with_edges(np.random.default_rng(2), field, 50)
    got = run_fn(field, lambda ctx, p: KERNELS["s2p"](ctx, KERNELS["p2s"](ctx, p)), Pub(x), out="public")
    assert_ring_equal(got.result, x)


def test_s2v_only_the_target_learns(field: Field) -> None:
    x = with_edges(np.random.default_rng(3), field, 20).reshape(2, -1)
    for to in range(3):
        res = run(field, "s2v", Arith(x), to, out="raw").result
        assert_ring_equal(res[to], x)
        assert all(res[r] is None for r in range(3) if r != to)


@pytest.mark.parametrize("owner", [0, 1, 2])
def test_v2s_from_each_owner(field: Field, owner: int) -> None:
    x = with_edges(np.random.default_rng(4 + owner), field, 30).reshape(2, -1)

    def fn(ctx: ProtocolContext, p: np.ndarray) -> np.ndarray:
        return KERNELS["v2s"](ctx, p if ctx.rank == owner else None, owner, p.shape)

    assert_ring_equal(run_fn(field, fn, Pub(x)).result, x)


def test_v2s_rejects_bad_owner_value(field: Field) -> None:
    def fn(ctx: ProtocolContext) -> Any:
        return KERNELS["v2s"](ctx, None, 1, (3,))

    with pytest.raises(Exception, match="owns the value but passed None"):
        run_fn(field, fn)


def test_linear_ops(field: Field) -> None:
    rng = np.random.default_rng(5)
    a, b, p = (uniform(rng, field, (4, 5)) for _ in range(3))
    q, r, vec = uniform(rng, field, (5, 3)), uniform(rng, field, (2, 4)), uniform(rng, field, (5,))
    calls = [
        ("add_ss", Arith(a), Arith(b)),
        ("add_sp", Arith(a), Pub(p)),
        ("neg_s", Arith(a)),
        ("sum_s", Arith(a), 0),
        ("sum_s", Arith(a), None),
        ("sum_s", Arith(a), (0, 1)),
        ("mul_sp", Arith(a), Pub(p)),
        ("matmul_sp", Arith(a), Pub(q)),
        ("matmul_ps", Pub(r), Arith(a)),
        ("matmul_sp", Arith(a), Pub(vec)),
        ("matmul_ps", Pub(vec[:4].copy()), Arith(a)),
    ]
    want = [
        ring.add(a, b),
        ring.add(a, p),
        ring.neg(a),
        ring.sum(a, 0),
        ring.sum(a, None),
        ring.sum(a, (0, 1)),
        ring.mul(a, p),
        mm.matmul(a, q),
        mm.matmul(r, a),
    ]
    for (name, *_), got, w in zip(calls, run_many(field, calls), want):
        # io.reconstruct returns 0-d results as shape (1,); the payloads themselves are 0-d
        assert_ring_equal(got.result.reshape(w.shape), w)
        assert got.job.rounds == 0 and got.job.online_bytes == 0, name
    raw = run(field, "sum_s", Arith(a), None, out="raw").result
    assert all(p.shape == () and p.dtype == shares.share_dtype(field) for p in raw)


def test_zero_dim_values(field: Field) -> None:
    """0-d shares survive every communicating kernel with their shape."""
    x = ring.from_pyints(field, [12345])

    def fn(ctx: ProtocolContext, s: np.ndarray) -> list[np.ndarray]:
        s = s.reshape(())  # the harness shares 0-d inputs as shape (1,)
        calls = [
            ("s2p", ()),
            ("mul_ss", (s,)),
            ("mul_trunc_ss", (s, 3)),
            ("trunc_s", (3,)),
            ("msb_s", ()),
            ("eqz_s", ()),
            ("a2b", ()),
            ("b2a", ()),
            ("bit2a", ()),
        ]
        return [KERNELS[name](ctx, s, *rest) for name, rest in calls]

    for party_out in run_fn(field, fn, Arith(x), out="raw").result:
        assert [p.shape for p in party_out] == [()] * 9


def test_products(field: Field) -> None:
    rng = np.random.default_rng(6)
    a, b = with_edges(rng, field, 40), with_edges(rng, field, 40)[::-1].copy()
    x, y = uniform(rng, field, (2, 3, 7)), uniform(rng, field, (2, 7, 4))
    w, v = uniform(rng, field, (7, 5)), uniform(rng, field, (7,))
    calls = [
        ("mul_ss", Arith(a), Arith(b)),
        ("square_s", Arith(a)),
        ("matmul_ss", Arith(x), Arith(y)),
        ("matmul_ss", Arith(x), Arith(w)),
        ("matmul_ss", Arith(v), Arith(w)),
        ("matmul_ss", Arith(w[:, :3].T.copy()), Arith(v)),
    ]
    want = [
        ring.mul(a, b),
        ring.mul(a, a),
        mm.matmul(x, y),
        mm.matmul(x, w),
        mm.matmul(v[None, :], w)[0],
        mm.matmul(w[:, :3].T.copy(), v[:, None])[:, 0],
    ]
    k8 = field.bits // 8
    sizes = [a.size, a.size, 2 * 3 * 4, 2 * 3 * 5, 5, 3]
    for got, wnt, size in zip(run_many(field, calls), want, sizes):
        assert_ring_equal(got.result, wnt)
        assert got.job.rounds == 1
        assert got.job.online_sent == (size * k8,) * 3  # only the result travels, once per party


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_mul_matches_python_ints(field: Field, data: st.DataObject) -> None:
    k = field.bits
    n = data.draw(st.integers(1, 6))
    xs = data.draw(st.lists(st.integers(-(1 << (k - 1)), (1 << (k - 1)) - 1), min_size=n, max_size=n))
    ys = data.draw(st.lists(st.integers(-(1 << (k - 1)), (1 << (k - 1)) - 1), min_size=n, max_size=n))
    got = run(field, "mul_ss", Arith(ring.from_pyints(field, xs)), Arith(ring.from_pyints(field, ys))).result
    assert ring.to_pyints(got) == [(x * y) % (1 << k) for x, y in zip(xs, ys)]
