"""aby3 boolean (XOR-replicated) kernels against the ring oracle, and the packed bit-plane AND."""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.aby3.common import FIELDS, IDS, assert_ring_equal, run_fn, run_many, uniform, with_edges
from tests.mpc.protocol_harness import Bool, Pub
from veil.config import Field
from veil.mpc import ring
from veil.mpc.aby3.boolean import and_bits
from veil.mpc.aby3.shares import Bits, nbytes_of, planes_from_ring, ring_from_planes
from veil.mpc.context import ProtocolContext

pytestmark = pytest.mark.parametrize("field", FIELDS, ids=IDS)


def test_boolean_kernels(field: Field) -> None:
    rng = np.random.default_rng(11)
    a, b = with_edges(rng, field, 60), with_edges(rng, field, 60)[::-1].copy()
    p = uniform(rng, field, a.shape)
    calls = [
        ("and_bb", Bool(a), Bool(b)),
        ("xor_bb", Bool(a), Bool(b)),
        ("and_bp", Bool(a), Pub(p)),
        ("xor_bp", Bool(a), Pub(p)),
        ("not_b", Bool(a)),
        ("lshift_b", Bool(a), 5),
        ("rshift_b", Bool(a), 5),
        ("rshift_b", Bool(a), field.bits - 1),
    ]
    want = [
        ring.and_(a, b),
        ring.xor(a, b),
        ring.and_(a, p),
        ring.xor(a, p),
        ring.not_(a),
        ring.lshift(a, 5),
        ring.rshift_logical(a, 5),
        ring.rshift_logical(a, field.bits - 1),
    ]
    runs = run_many(field, calls, out="bool")
    for (name, *_), got, w in zip(calls, runs, want):
        assert_ring_equal(got.result, w)
        expected_bytes = 3 * a.size * field.bits // 8 if name == "and_bb" else 0
        assert got.job.online_bytes == expected_bytes, name


@pytest.mark.parametrize("numel", [1, 8, 13])
def test_and_bits_on_planes(field: Field, numel: int) -> None:
    """Plane pairs of different heights in one round and one message; padding bits are harmless."""
    rng = np.random.default_rng(numel)
    xs = [uniform(rng, field, (numel,)) for _ in range(4)]
    k = field.bits

    def as_ring(plane: np.ndarray) -> np.ndarray:  # pad missing top rows with zeros
        full = np.concatenate([plane, np.zeros((k - plane.shape[0], plane.shape[1]), np.uint8)])
        return ring_from_planes(full, numel, field)

    def fn(ctx: ProtocolContext, *shares: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        planes = [Bits(planes_from_ring(s["s0"]), planes_from_ring(s["s1"])) for s in shares]
        low = slice(0, 7)
        outs = and_bits(ctx, [(planes[0], planes[1]), (planes[2].rows(low), planes[3].rows(low))])
        assert ctx.link.stats.snapshot().online.bytes_sent == (k + 7) * nbytes_of(numel)
        return [(as_ring(o.s0), as_ring(o.s1)) for o in outs]

    res = run_fn(field, fn, *(Bool(x) for x in xs), out="raw").result
    wants = [ring.and_(xs[0], xs[1]), ring.and_(ring.and_(xs[2], xs[3]), ring.full(field, (), 127))]
    for j, want in enumerate(wants):
        got = ring.xor(ring.xor(res[0][j][0], res[1][j][0]), res[2][j][0])  # component r at party r
        assert_ring_equal(got, want)
        for r in range(3):  # replicated: party r's s1 is party r+1's s0
            assert_ring_equal(res[r][j][1], res[(r + 1) % 3][j][0])
