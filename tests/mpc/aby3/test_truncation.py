"""aby3 probabilistic truncation: trunc_s and the fused mul_trunc_ss.

Contract: for |x| < 2^(k-2) the result is floor(x / 2^m) or floor(x / 2^m) + 1 (never more
than 1 LSB from the arithmetic shift ref2k computes), with no catastrophic error anywhere in
that range; the rounding is stochastic (mean error ~ 0) and trunc(0) is 0 almost always.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.mpc.aby3.common import FIELDS, IDS, bounded, edges, run, run_fn, run_many, signed
from tests.mpc.protocol_harness import Arith
from veil.config import Field
from veil.errors import PartyError
from veil.mpc import ring
from veil.mpc.aby3 import KERNELS
from veil.mpc.context import ProtocolContext

pytestmark = pytest.mark.parametrize("field", FIELDS, ids=IDS)


def _check_within_one(got: np.ndarray, xs: list[int], m: int) -> np.ndarray:
    """Assert got - floor(x / 2^m) is 0 or 1 everywhere; return the differences."""
    diff = np.array([g - (x >> m) for g, x in zip(signed(got), xs)], dtype=object)
    bad = [(x, g) for x, g, d in zip(xs, signed(got), diff) if d not in (0, 1)]
    assert not bad, f"{len(bad)} results off by more than 1 LSB, e.g. x={bad[0][0]} got {bad[0][1]}"
    return diff.astype(np.int64)


def _range_values(rng: np.random.Generator, field: Field, n: int) -> np.ndarray:
    """Values spread over |x| < 2^(k-2), at every magnitude, plus the range edges."""
    k = field.bits
    mags = [bounded(rng, field, (n,), b) for b in (k - 3, k // 2, 20, 3)]
    return np.concatenate([*mags, edges(field, k - 2)])


@pytest.mark.parametrize(
    "bits_of",
    [lambda k: 1, lambda k: 18, lambda k: k // 2, lambda k: k - 2],
    ids=["m=1", "m=18", "m=k/2", "m=k-2"],
)
def test_trunc_within_one_lsb(field: Field, bits_of: object) -> None:
    m = bits_of(field.bits)  # type: ignore[operator]
    x = _range_values(np.random.default_rng(m), field, 500)
    _check_within_one(run(field, "trunc_s", Arith(x), m).result, signed(x), m)


def test_mul_trunc_within_one_lsb(field: Field) -> None:
    k, m = field.bits, 18 if field is Field.FM64 else 26
    rng = np.random.default_rng(7)
    half = (k - 3) // 2  # |a|, |b| < 2^half keeps |a b| < 2^(k-3)
    a = np.concatenate([bounded(rng, field, (1500,), half), edges(field, half)])
    b = np.concatenate([bounded(rng, field, (1500,), half), edges(field, half)[::-1]])
    got = run(field, "mul_trunc_ss", Arith(a), Arith(b), m).result
    _check_within_one(got, [x * y for x, y in zip(signed(a), signed(b))], m)


def test_products_at_the_range_edge(field: Field) -> None:
    """a * b = +-(2^(k-2) - small) and -2^(k-2) exactly: still within 1 LSB."""
    k, m = field.bits, 16
    pairs = [
        (1 << (k - 3), 1),
        (1 << (k - 3), -2),
        (-(1 << (k - 3)), 1),
        ((1 << (k - 2)) - 1, 1),
        (3, 5),
        (0, 7),
    ]
    a = ring.from_pyints(field, [p[0] for p in pairs])
    b = ring.from_pyints(field, [p[1] for p in pairs])
    got = run(field, "mul_trunc_ss", Arith(a), Arith(b), m).result
    _check_within_one(got, [x * y for x, y in pairs], m)


def test_rounding_is_stochastic_and_zero_stays_zero(field: Field) -> None:
    m = 12
    rng = np.random.default_rng(8)
    x = bounded(rng, field, (20000,), 40)
    zeros = ring.zeros(field, (4000,))
    r_x, r_0 = run_many(field, [("trunc_s", Arith(x), m), ("trunc_s", Arith(zeros), m)])
    xs = signed(x)
    exact = np.array([v / 2**m for v in xs])
    err = np.array(signed(r_x.result), dtype=np.float64) - exact
    assert abs(err.mean()) < 0.02  # floor would give -0.5; stochastic rounding is unbiased
    assert np.all(np.abs(err) < 1)
    assert sum(v != 0 for v in signed(r_0.result)) <= 4  # nonzero w.p. 2^-12 each


def test_costs_and_roles(field: Field) -> None:
    """2 rounds; roles X = 2, Y = 0, Z = 1: party 0 sends a k/2-bit word (trunc_s) or a ring
    element plus a word (mul_trunc_ss) per element."""
    k8 = field.bits // 8
    x = bounded(np.random.default_rng(9), field, (64,), 20)
    tr, mt = run_many(field, [("trunc_s", Arith(x), 10), ("mul_trunc_ss", Arith(x), Arith(x), 10)])
    assert tr.job.rounds == 2 and tr.job.online_sent == (64 * k8 // 2, 64 * k8, 64 * (k8 + k8 // 2))
    assert mt.job.rounds == 2 and mt.job.online_sent == (
        64 * (k8 + k8 // 2),
        64 * 2 * k8,
        64 * (k8 + k8 // 2),
    )


@pytest.mark.parametrize("bits", [0, -1, 200, 1.5])
def test_bad_shift_is_rejected(field: Field, bits: object) -> None:
    if bits == 200:
        bits = field.bits - 1

    def fn(ctx: ProtocolContext, s: np.ndarray) -> np.ndarray:
        return KERNELS["trunc_s"](ctx, s, bits)

    # the runner re-raises a party's non-veil exception as PartyError with the message inside
    with pytest.raises(PartyError, match=r"bits=.* must be an int in \[1, "):
        run_fn(field, fn, Arith(ring.zeros(field, (3,))))
