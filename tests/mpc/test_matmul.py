"""veil.mpc.matmul: bit-exact against uint64 einsum (FM64) and Python ints (FM128)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veil.config import Field
from veil.mpc import ring
from veil.mpc.matmul import LIMB_BITS, MAX_EXACT_TERMS, SMALL_MACS, matmul

pytestmark = pytest.mark.filterwarnings("error")

FIELDS = [Field.FM64, Field.FM128]
M64 = (1 << 64) - 1


def random_ring(
    rng: np.random.Generator, field: Field, shape: tuple[int, ...], edges: bool = False
) -> np.ndarray:
    """Full-range random ring values; with `edges`, mostly 0, 1, 2^(k-1), 2^k - 1 and friends."""
    words = [rng.integers(0, 2**64, size=shape, dtype=np.uint64) for _ in range(field.bits // 64)]
    if edges:
        pool = np.array([0, 1, M64, 1 << 63, (1 << 63) - 1, 0xFFFF, 1 << 16], dtype=np.uint64)
        words = [np.where(rng.random(shape) < 0.8, rng.choice(pool, size=shape), w) for w in words]
    if field is Field.FM64:
        return words[0]
    out = np.empty(shape, ring.U128)
    out["lo"], out["hi"] = words
    return out


def reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact a @ b mod 2^k: uint64 einsum for FM64 (wraps exactly), Python ints for FM128."""
    if a.dtype == np.uint64:
        return np.asarray(np.einsum("...mn,...np->...mp", a, b))
    ao = np.array(ring.to_pyints(a), dtype=object).reshape(a.shape)
    bo = np.array(ring.to_pyints(b), dtype=object).reshape(b.shape)
    return ring.from_pyints(Field.FM128, np.asarray(np.matmul(ao, bo) % (1 << 128), dtype=object).tolist())


def assert_ring_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape
    assert ring.equal(got, want).all()


@pytest.mark.parametrize("field", FIELDS)
@settings(max_examples=40, deadline=None)
@given(
    m=st.integers(1, 5),
    n=st.integers(0, 9),
    p=st.integers(1, 5),
    batch=st.sampled_from([(), (2,), (2, 3)]),
    b_batched=st.booleans(),
    edges=st.booleans(),
    cap=st.one_of(st.none(), st.integers(1, 12)),
    limb_bits=st.sampled_from([LIMB_BITS, 16, 21, 13, 26]),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_reference(
    field: Field,
    m: int,
    n: int,
    p: int,
    batch: tuple[int, ...],
    b_batched: bool,
    edges: bool,
    cap: int | None,
    limb_bits: int,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    a = random_ring(rng, field, batch + (m, n), edges)
    b = random_ring(rng, field, (batch if b_batched else ()) + (n, p), edges)
    a0, b0 = a.copy(), b.copy()
    got = matmul(
        a, b, max_terms=None if cap is None else min(cap, 2 ** (55 - 2 * limb_bits)), limb_bits=limb_bits
    )
    assert_ring_equal(got, reference(a, b if b_batched or not batch else np.broadcast_to(b, batch + (n, p))))
    assert np.array_equal(a, a0) and np.array_equal(b, b0)


@pytest.mark.parametrize("field", FIELDS)
def test_all_ones_worst_case(field: Field) -> None:
    """Every limb 0xFFFF: the largest float partial sums; also forces chunking at the exact cap."""
    n = 64
    a = ring.full(field, (3, n), -1)
    b = ring.full(field, (n, 2), -1)
    want = ring.full(field, (3, 2), n)  # (-1) * (-1) summed n times
    assert_ring_equal(matmul(a, b), want)
    assert_ring_equal(matmul(a, b, method="limbs"), want)
    assert_ring_equal(matmul(a, b, max_terms=7), want)


def extreme_digit_values(
    rng: np.random.Generator, field: Field, shape: tuple[int, ...], sign: int
) -> np.ndarray:
    """Ring values whose balanced digits are odd, within 16 of sign * 2^(w-1) (sign 0: random)."""
    w, k = LIMB_BITS, field.bits
    out = ring.zeros(field, shape)
    for i in range(-(-k // w)):
        width = min(w, k - w * i)
        mag = (1 << (width - 1)) - 1 - 2 * rng.integers(0, 8, size=shape)  # odd, near the extreme
        if i == 0:
            mag[..., 0] -= 1  # one even digit: the exact dot products become odd, > 2^53 if too long
        signs = np.where(rng.random(shape) < 0.5, -1, 1) if sign == 0 else sign
        out = ring.add(out, ring.lshift(ring.from_int64(field, signs * mag), w * i))
    return out


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize(("sa", "sb"), [(1, 1), (-1, 1), (-1, -1), (0, 0)])
def test_extreme_digits_at_exact_cap(field: Field, sa: int, sb: int) -> None:
    """Full chunks of near-extreme digit products of one sign: each chunk sums to just under 2^53
    and is odd, so letting one float dot product sum more terms than the cap would round."""
    rng = np.random.default_rng(7)
    n = MAX_EXACT_TERMS
    a = extreme_digit_values(rng, field, (2, n), sa)
    b = extreme_digit_values(rng, field, (n, 3), sb)
    assert_ring_equal(matmul(a, b, method="limbs"), reference(a, b))


def test_large_inner_dim_fm64() -> None:
    rng = np.random.default_rng(1)
    a = random_ring(rng, Field.FM64, (2, 3000))
    b = random_ring(rng, Field.FM64, (3000, 2))
    assert_ring_equal(matmul(a, b), reference(a, b))
    assert_ring_equal(matmul(a, b, method="limbs"), reference(a, b))
    assert_ring_equal(matmul(a, b, max_terms=1000), reference(a, b))


def test_non_contiguous_inputs() -> None:
    rng = np.random.default_rng(2)
    for field in FIELDS:
        a = random_ring(rng, field, (6, 8))[:, ::2]
        b = random_ring(rng, field, (5, 4)).T
        want = reference(np.ascontiguousarray(a), np.ascontiguousarray(b))
        assert_ring_equal(matmul(a, b), want)
        assert_ring_equal(matmul(a, b, method="limbs"), want)


def test_errors() -> None:
    a = np.zeros((2, 3), np.uint64)
    with pytest.raises(ValueError, match="inner dimensions"):
        matmul(a, np.zeros((2, 3), np.uint64))
    with pytest.raises(ValueError, match=">= 2 dims"):
        matmul(a, np.zeros(3, np.uint64))
    with pytest.raises(TypeError, match="different fields"):
        matmul(a, ring.zeros(Field.FM128, (3, 2)))
    with pytest.raises(TypeError):
        matmul(a.astype(np.int64), np.zeros((3, 2), np.int64))
    with pytest.raises(ValueError, match="max_terms"):
        matmul(a, np.zeros((3, 2), np.uint64), max_terms=MAX_EXACT_TERMS + 1)


@pytest.mark.parametrize("method", ["auto", "limbs", "int"])
def test_methods_agree_around_the_small_threshold(method: str) -> None:
    """Both sides of SMALL_MACS (and both forced paths), batched and not, match the reference."""
    rng = np.random.default_rng(3)
    side = round(SMALL_MACS ** (1 / 3))  # side^3 ~ SMALL_MACS
    for a_shape, b_shape in [
        ((side, side - 1), (side - 1, side)),  # just below: uint64 under "auto"
        ((side + 8, side + 8), (side + 8, side + 8)),  # above: limbs under "auto"
        ((2, 10, 30), (2, 30, 64)),  # batched both
        ((3, 10, 30), (30, 64)),  # batched a only
        ((455, 30), (30, 1)),
    ]:
        a = random_ring(rng, Field.FM64, a_shape, edges=True)
        b = random_ring(rng, Field.FM64, b_shape, edges=True)
        b_full = b if b.ndim == a.ndim else np.broadcast_to(b, a.shape[:-2] + b.shape)
        assert_ring_equal(matmul(a, b, method=method), reference(a, b_full))


def test_method_errors() -> None:
    with pytest.raises(ValueError, match="method"):
        matmul(np.zeros((2, 3), np.uint64), np.zeros((3, 2), np.uint64), method="blas")
    with pytest.raises(ValueError, match="FM64"):
        matmul(ring.zeros(Field.FM128, (2, 3)), ring.zeros(Field.FM128, (3, 2)), method="int")
