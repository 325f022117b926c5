"""veil.mpc.ring against Python int arithmetic mod 2^k, on both fields, with broadcasting."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, mutually_broadcastable_shapes

from veil.config import Field
from veil.mpc import ring

pytestmark = pytest.mark.filterwarnings("error")  # a wrap must never warn (0-d numpy scalars do)

FIELDS = [Field.FM64, Field.FM128]
M64 = (1 << 64) - 1
SETTINGS = settings(max_examples=60, deadline=None)


def edge_values(k: int) -> list[int]:
    h = 1 << (k - 1)
    vals = [0, 1, 2, h - 1, h, h + 1, (1 << k) - 1, (1 << k) - 2, M64 >> 32, (M64 >> 32) + 1]
    if k == 128:
        vals += [M64, M64 + 1, M64 - 1, (1 << 63), (1 << 63) - 1, M64 << 64]
    return vals


def elems(k: int) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(edge_values(k)), st.integers(0, (1 << k) - 1))


def make(field: Field, values: list[int] | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Ring array from Python ints, built limb by limb (independent of ring.from_pyints)."""
    flat = [int(v) % (1 << field.bits) for v in np.asarray(values, dtype=object).ravel()]
    lo = np.array([v & M64 for v in flat], dtype=np.uint64).reshape(shape)
    if field is Field.FM64:
        return lo
    out = np.empty(shape, ring.U128)
    out["lo"] = lo
    out["hi"] = np.array([v >> 64 for v in flat], dtype=np.uint64).reshape(shape)
    return out


def read(a: np.ndarray) -> np.ndarray:
    """Ring array -> object array of unsigned Python ints (independent of ring.to_pyints)."""
    a = np.asarray(a)
    if a.dtype == np.uint64:
        flat = [int(v) for v in a.ravel()]
    else:
        assert a.dtype == ring.U128
        flat = [int(lo) | (int(hi) << 64) for lo, hi in zip(a["lo"].ravel(), a["hi"].ravel())]
    return np.array(flat + [None], dtype=object)[:-1].reshape(a.shape)


def signed(v: int, k: int) -> int:
    return v - (1 << k) if v >> (k - 1) else v


@st.composite
def arrays(draw: st.DrawFn, field: Field, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(ring array, object array of the same Python ints)."""
    n = math.prod(shape)
    vals = draw(st.lists(elems(field.bits), min_size=n, max_size=n))
    obj = np.array(vals + [None], dtype=object)[:-1].reshape(shape)
    return make(field, vals, shape), obj


@st.composite
def pairs(draw: st.DrawFn, field: Field) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    shapes = draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4)).input_shapes
    a, ao = draw(arrays(field, shapes[0]))
    b, bo = draw(arrays(field, shapes[1]))
    return a, ao, b, bo


def check(got: np.ndarray, want: np.ndarray, field: Field) -> None:
    want = np.asarray(np.asarray(want, dtype=object) % (1 << field.bits), dtype=object)
    assert isinstance(got, np.ndarray)
    assert got.dtype == ring.ring_dtype(field)
    assert got.shape == want.shape
    assert (read(got) == want).all(), (read(got), want)


# --- dtypes and construction -----------------------------------------------------------------


def test_dtypes_and_field_of() -> None:
    assert ring.ring_dtype(Field.FM64) == np.uint64 and ring.U64 == np.uint64
    assert ring.ring_dtype(Field.FM128) == ring.U128 and ring.U128.itemsize == 16
    assert ring.field_of(np.zeros(3, np.uint64)) is Field.FM64
    assert ring.field_of(ring.U128) is Field.FM128
    for bad in (
        np.zeros(3, np.int64),
        np.zeros(2, np.float64),
        [1, 2],
        np.dtype([("s0", "<u8"), ("s1", "<u8")]),
    ):
        with pytest.raises(TypeError, match="ring array"):
            ring.field_of(bad)
    with pytest.raises(TypeError, match="different fields"):
        ring.add(np.zeros(2, np.uint64), ring.zeros(Field.FM128, 2))
    with pytest.raises(TypeError):
        ring.mul(np.zeros(2, np.int64), np.zeros(2, np.int64))


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_zeros_full(field: Field, data: st.DataObject) -> None:
    shape = data.draw(array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3))
    value = data.draw(st.one_of(st.integers(-(1 << 200), 1 << 200), st.sampled_from(edge_values(field.bits))))
    check(ring.zeros(field, shape), np.zeros(shape, dtype=object), field)
    check(ring.full(field, shape, value), np.full(shape, value % (1 << field.bits), dtype=object), field)


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_int64_roundtrip(field: Field, data: st.DataObject) -> None:
    shape = data.draw(array_shapes(min_dims=0, max_dims=2, max_side=4))
    n = math.prod(shape)
    vals = data.draw(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=n, max_size=n))
    x = np.array(vals, dtype=np.int64).reshape(shape)
    a = ring.from_int64(field, x)
    check(a, np.array(vals + [None], dtype=object)[:-1].reshape(shape), field)
    back = ring.to_int64(a)
    assert back.dtype == np.int64 and np.array_equal(back, x)
    assert np.array_equal(ring.decode_int(ring.encode_int(field, x)), x)


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_to_int64_keeps_low_bits(field: Field, data: st.DataObject) -> None:
    a, ao = data.draw(arrays(field, (5,)))
    want = [signed(int(v) & M64, 64) for v in ao]
    assert ring.to_int64(a).tolist() == want


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_pyints_roundtrip(field: Field, data: st.DataObject) -> None:
    shape = data.draw(array_shapes(min_dims=0, max_dims=3, max_side=3))
    n = math.prod(shape)
    vals = data.draw(st.lists(st.integers(-(1 << 130), 1 << 130), min_size=n, max_size=n))
    obj = np.array(vals + [None], dtype=object)[:-1].reshape(shape)
    a = ring.from_pyints(field, obj.tolist())
    check(a, obj, field)
    assert ring.to_pyints(a) == np.asarray(obj % (1 << field.bits), dtype=object).tolist()


# --- arithmetic -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_add_sub_mul(field: Field, data: st.DataObject) -> None:
    a, ao, b, bo = data.draw(pairs(field))
    ac, bc = a.copy(), b.copy()
    check(ring.add(a, b), ao + bo, field)
    check(ring.sub(a, b), ao - bo, field)
    check(ring.mul(a, b), ao * bo, field)
    check(ring.neg(a), -ao, field)
    assert np.array_equal(a, ac) and np.array_equal(b, bc)  # inputs untouched


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_sum(field: Field, data: st.DataObject) -> None:
    shape = data.draw(array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4))
    a, ao = data.draw(arrays(field, shape))
    axis = data.draw(st.one_of(st.none(), st.integers(0, len(shape) - 1), st.just(tuple(range(len(shape))))))
    keep = data.draw(st.booleans())
    want = (
        np.sum(ao, axis=axis, keepdims=keep)
        if ao.size
        else np.zeros(np.sum(np.zeros(shape), axis=axis, keepdims=keep).shape, dtype=object)
    )
    check(ring.sum(a, axis=axis, keepdims=keep), want, field)


@pytest.mark.parametrize("field", FIELDS)
def test_sum_many_carries(field: Field) -> None:
    k = field.bits
    n = 5000
    vals = [(1 << k) - 1 - 3 * i for i in range(n)]
    a = make(field, vals, (n,))
    check(ring.sum(a), np.array(sum(vals)), field)
    check(
        ring.sum(a.reshape(50, 100), axis=0),
        np.sum(np.array(vals, dtype=object).reshape(50, 100), axis=0),
        field,
    )


# --- shifts and bits ------------------------------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_shifts(field: Field, data: st.DataObject) -> None:
    k = field.bits
    shape = data.draw(array_shapes(min_dims=0, max_dims=2, max_side=4))
    a, ao = data.draw(arrays(field, shape))
    n = data.draw(st.one_of(st.integers(0, k - 1), st.sampled_from([0, 1, 31, 32, 63, k - 1, k // 2])))
    mod = 1 << k
    check(ring.lshift(a, n), ao * (1 << n), field)
    check(ring.rshift_logical(a, n), np.vectorize(lambda v: v >> n, otypes=[object])(ao), field)
    check(
        ring.rshift_arith(a, n), np.vectorize(lambda v: (signed(v, k) >> n) % mod, otypes=[object])(ao), field
    )


@pytest.mark.parametrize("field", FIELDS)
def test_shift_range(field: Field) -> None:
    a = ring.zeros(field, 3)
    for fn in (ring.lshift, ring.rshift_logical, ring.rshift_arith, ring.bit):
        for bad in (-1, field.bits, 1.0):
            with pytest.raises(ValueError, match=r"\[0, "):
                fn(a, bad)  # type: ignore[operator]


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_bitwise(field: Field, data: st.DataObject) -> None:
    a, ao, b, bo = data.draw(pairs(field))
    check(ring.and_(a, b), ao & bo, field)
    check(ring.or_(a, b), ao | bo, field)
    check(ring.xor(a, b), ao ^ bo, field)
    check(ring.not_(a), np.vectorize(lambda v: v ^ ((1 << field.bits) - 1), otypes=[object])(ao), field)
    eq = ring.equal(a, b)
    assert eq.dtype == np.bool_ and np.array_equal(eq, np.asarray(ao == bo, dtype=bool))
    assert ring.equal(a, a).all()


@pytest.mark.parametrize("field", FIELDS)
@SETTINGS
@given(data=st.data())
def test_bits(field: Field, data: st.DataObject) -> None:
    k = field.bits
    shape = data.draw(array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4))
    a, ao = data.draw(arrays(field, shape))
    i = data.draw(st.integers(0, k - 1))
    check(ring.bit(a, i), np.vectorize(lambda v: (v >> i) & 1, otypes=[object])(ao), field)
    check(ring.msb(a), np.vectorize(lambda v: v >> (k - 1), otypes=[object])(ao), field)
    bits = ring.bit_decompose(a)
    assert bits.dtype == np.uint8 and bits.shape == shape + (k,)
    for idx in np.ndindex(shape):
        assert bits[idx].tolist() == [(int(ao[idx]) >> j) & 1 for j in range(k)]
    back = ring.bit_compose(bits, field)
    check(back, ao, field)


@pytest.mark.parametrize("field", FIELDS)
def test_bit_compose_shape_error(field: Field) -> None:
    with pytest.raises(ValueError, match="last axis"):
        ring.bit_compose(np.zeros((2, 8), np.uint8), field)
    strided = np.zeros((3, 2 * field.bits), np.uint8)[:, ::2]  # non-contiguous input works
    strided[1, 0] = 1
    check(ring.bit_compose(strided, field), np.array([0, 1, 0], dtype=object), field)


@pytest.mark.parametrize("src", FIELDS)
@pytest.mark.parametrize("dst", FIELDS)
@SETTINGS
@given(data=st.data())
def test_to_field(src: Field, dst: Field, data: st.DataObject) -> None:
    shape = data.draw(array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=3))
    a, ao = data.draw(arrays(src, shape))
    ks, kd = src.bits, dst.bits
    sgn = np.vectorize(lambda v: signed(v, ks), otypes=[object])(ao)
    check(ring.to_field(a, dst), sgn, dst)  # widening sign-extends; narrowing keeps low bits
    check(ring.to_field(a, dst, signed=False), ao % (1 << min(ks, kd)), dst)


@pytest.mark.parametrize("field", FIELDS)
def test_strided_and_zero_dim_inputs(field: Field) -> None:
    vals = [(1 << field.bits) - 1 - i * 977 for i in range(12)]
    a = make(field, vals, (3, 4))
    ao = np.array(vals, dtype=object).reshape(3, 4)
    check(ring.mul(a.T, a[:, ::-1].T), ao.T * ao[:, ::-1].T, field)
    s = a[1, 2][()]  # numpy scalar / void
    check(ring.add(np.asarray(s), np.asarray(s)), np.array(2 * ao[1, 2]), field)
    check(ring.lshift(a[0, 0:1].reshape(()), 3), np.array(ao[0, 0] * 8), field)
