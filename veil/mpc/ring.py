"""Pure vectorized arithmetic over the rings Z_2^64 and Z_2^128.

FM64 arrays are plain `uint64`; FM128 arrays use the structured dtype `U128` (little-endian
`lo`, `hi` uint64 limbs), so shape ops stay plain numpy. Every function infers the field from
its arguments' dtype, broadcasts like numpy, never mutates its inputs and wraps mod 2^k.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from veil.config import Field

U64 = np.dtype(np.uint64)
U128 = np.dtype([("lo", "<u8"), ("hi", "<u8")])

_M32 = np.uint64(0xFFFFFFFF)
_DTYPES = {Field.FM64: U64, Field.FM128: U128}
# _BYTE_BITS[v] is a uint64 whose 8 little-endian bytes are the bits of byte v, lowest first
_BYTE_BITS = (
    np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").view("<u8").ravel()
)
_BYTE_BITS.flags.writeable = False
_NOWRAP = np.errstate(over="ignore")  # numpy scalars (0-d results) warn on wrap; rings wrap by design


# ---------------------------------------------------------------------------------------------
# fields and construction


def ring_dtype(field: Field) -> np.dtype:
    """The numpy dtype that holds elements of `field`."""
    return _DTYPES[Field(field)]


def field_of(x: np.ndarray | np.dtype | Any) -> Field:
    """The field of a ring array (or dtype); TypeError for anything else."""
    dt = x if isinstance(x, np.dtype) else getattr(x, "dtype", None)
    if dt is U64:  # the common case, by identity (native uint64 arrays share this descriptor)
        return Field.FM64
    if dt == U64:
        return Field.FM64
    if dt == U128:
        return Field.FM128
    raise TypeError(
        f"ring: expected a ring array (dtype uint64 for FM64 or {U128} for FM128), got dtype {dt}; "
        "convert with ring.from_int64 / fxp_codec.encode_fxp first"
    )


def _field2(a: np.ndarray, b: np.ndarray, op: str) -> Field:
    fa, fb = field_of(a), field_of(b)
    if fa is not fb:
        raise TypeError(
            f"ring.{op}: operands are in different fields ({fa.name}, {fb.name}); use ring.to_field"
        )
    return fa


def _lohi(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a)
    return a["lo"], a["hi"]


def _pack(lo: Any, hi: Any) -> np.ndarray:
    """Build a U128 array from broadcastable uint64 limbs."""
    shape = np.broadcast_shapes(np.shape(lo), np.shape(hi))
    out = np.empty(shape, U128)
    out["lo"] = lo
    out["hi"] = hi
    return out


def _sext(lo: np.ndarray) -> np.ndarray:
    """The high limb that sign-extends a uint64 limb: all ones if its top bit is set."""
    return (np.asarray(lo).view(np.int64) >> 63).view(np.uint64)


def c_order(x: Any) -> np.ndarray:
    """`np.require(x, requirements="C")` without its ~2 us of argument handling when x already
    is a C-contiguous ndarray (the common case: this runs on every opening and shape op)."""
    if type(x) is np.ndarray and x.flags.c_contiguous:
        return x
    return np.require(x, requirements="C")


def zeros(field: Field, shape: int | tuple[int, ...]) -> np.ndarray:
    return np.zeros(shape, ring_dtype(field))


def full(field: Field, shape: int | tuple[int, ...], value: int) -> np.ndarray:
    """An array filled with the Python int `value` mod 2^k (negative values allowed)."""
    v = int(value) % (1 << Field(field).bits)
    if Field(field) is Field.FM64:
        return np.full(shape, v, U64)
    out = np.empty(shape, U128)
    out["lo"] = v & 0xFFFFFFFFFFFFFFFF
    out["hi"] = v >> 64
    return out


def from_int64(field: Field, x: np.ndarray) -> np.ndarray:
    """Embed signed int64 values (two's complement, sign-extended on FM128)."""
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise TypeError(f"ring.from_int64: expected an integer array, got dtype {x.dtype}")
    lo = x.astype(np.int64).view(np.uint64)  # astype copies: never aliases x
    if Field(field) is Field.FM64:
        return lo
    return _pack(lo, _sext(lo))


def to_int64(a: np.ndarray) -> np.ndarray:
    """The low 64 bits of each element, read as signed int64."""
    a = np.asarray(a)
    lo = a if field_of(a) is Field.FM64 else a["lo"]
    return lo.astype(np.int64)


encode_int = from_int64
decode_int = to_int64


def from_pyints(field: Field, obj: Any) -> np.ndarray:
    """Nested lists of Python ints (any sign, taken mod 2^k) -> ring array. For tests and debugging."""
    k = Field(field).bits
    big = np.asarray(np.array(obj, dtype=object) % (1 << k), dtype=object)  # only here: ints > 64 bits
    lo = np.asarray(big & 0xFFFFFFFFFFFFFFFF, dtype=object).astype(np.uint64)
    if k == 64:
        return lo
    return _pack(lo, np.asarray(big >> 64, dtype=object).astype(np.uint64))


def to_pyints(a: np.ndarray) -> Any:
    """Ring array -> nested lists of unsigned Python ints in [0, 2^k), like `a.tolist()`."""
    a = np.asarray(a)
    if field_of(a) is Field.FM64:
        return a.tolist()
    lo, hi = _lohi(a)
    return np.asarray(lo.astype(object) + (hi.astype(object) << 64), dtype=object).tolist()


# ---------------------------------------------------------------------------------------------
# arithmetic


@_NOWRAP
def _add128(alo: Any, ahi: Any, blo: Any, bhi: Any) -> tuple[np.ndarray, np.ndarray]:
    lo = alo + blo
    carry = (lo < alo).astype(np.uint64)
    return lo, ahi + bhi + carry


@_NOWRAP
def _mul64x64(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    """Exact 128-bit products of uint64 arrays via 32-bit halves: (lo, hi)."""
    a0, a1 = a & _M32, a >> np.uint64(32)
    b0, b1 = b & _M32, b >> np.uint64(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> np.uint64(32)) + (p01 & _M32) + (p10 & _M32)
    lo = (p00 & _M32) | (mid << np.uint64(32))
    hi = p11 + (p01 >> np.uint64(32)) + (p10 >> np.uint64(32)) + (mid >> np.uint64(32))
    return lo, hi


def _u64(a: Any, b: Any) -> bool:
    """Both operands are native uint64 arrays (the FM64 fast path: no field lookups)."""
    return getattr(a, "dtype", None) is U64 and getattr(b, "dtype", None) is U64


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if _u64(a, b) or _field2(a, b, "add") is Field.FM64:
        return np.asarray(np.add(a, b))
    return _pack(*_add128(*_lohi(a), *_lohi(b)))


# FM64 paths call ufuncs, which never warn on integer wrap-around; only FM128 limb arithmetic
# (numpy scalars for 0-d inputs) needs errstate, which costs ~2 us a call as a decorator.


def sub(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if _u64(a, b) or _field2(a, b, "sub") is Field.FM64:
        return np.asarray(np.subtract(a, b))
    (alo, ahi), (blo, bhi) = _lohi(a), _lohi(b)
    with np.errstate(over="ignore"):
        return _pack(alo - blo, ahi - bhi - (alo < blo).astype(np.uint64))


def neg(a: np.ndarray) -> np.ndarray:
    if field_of(a) is Field.FM64:
        return np.asarray(np.negative(a))
    lo, hi = _lohi(a)
    with np.errstate(over="ignore"):
        return _pack(np.negative(lo), ~hi + (lo == 0).astype(np.uint64))


def mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if _u64(a, b) or _field2(a, b, "mul") is Field.FM64:
        return np.asarray(np.multiply(a, b))
    (alo, ahi), (blo, bhi) = _lohi(a), _lohi(b)
    lo, hi = _mul64x64(alo, blo)
    with np.errstate(over="ignore"):
        return _pack(lo, hi + alo * bhi + ahi * blo)


@_NOWRAP
def sum(a: np.ndarray, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> np.ndarray:  # noqa: A001
    """Exact sum mod 2^k (FM128 carries are summed exactly from 32-bit halves of the low limb)."""
    a = np.asarray(a)
    if field_of(a) is Field.FM64:
        return np.asarray(np.sum(a, axis=axis, dtype=np.uint64, keepdims=keepdims))
    lo, hi = _lohi(a)
    s0 = np.sum(lo & _M32, axis=axis, dtype=np.uint64, keepdims=keepdims)
    s1 = np.sum(lo >> np.uint64(32), axis=axis, dtype=np.uint64, keepdims=keepdims)
    sh = np.sum(hi, axis=axis, dtype=np.uint64, keepdims=keepdims)
    lo_t, hi_t = _add128(s0, sh, s1 << np.uint64(32), s1 >> np.uint64(32))
    return _pack(lo_t, hi_t)


# ---------------------------------------------------------------------------------------------
# shifts and bits


def _check_shift(n: int, k: int, op: str) -> int:
    if not isinstance(n, (int, np.integer)) or not 0 <= int(n) < k:
        raise ValueError(f"ring.{op}: shift {n!r} must be a Python int in [0, {k})")
    return int(n)


def lshift(a: np.ndarray, n: int) -> np.ndarray:
    field = field_of(a)
    n = _check_shift(n, field.bits, "lshift")
    if field is Field.FM64:
        return np.asarray(np.left_shift(a, np.uint64(n)))
    lo, hi = _lohi(a)
    if n == 0:
        return np.array(a, copy=True)
    if n >= 64:
        return _pack(np.uint64(0), lo << np.uint64(n - 64))
    return _pack(lo << np.uint64(n), (hi << np.uint64(n)) | (lo >> np.uint64(64 - n)))


def rshift_logical(a: np.ndarray, n: int) -> np.ndarray:
    field = field_of(a)
    n = _check_shift(n, field.bits, "rshift_logical")
    if field is Field.FM64:
        return np.asarray(np.right_shift(a, np.uint64(n)))
    lo, hi = _lohi(a)
    if n == 0:
        return np.array(a, copy=True)
    if n >= 64:
        return _pack(hi >> np.uint64(n - 64), np.uint64(0))
    return _pack((lo >> np.uint64(n)) | (hi << np.uint64(64 - n)), hi >> np.uint64(n))


def rshift_arith(a: np.ndarray, n: int) -> np.ndarray:
    """Shift right, copying the sign bit (floor division by 2^n of the signed value)."""
    field = field_of(a)
    n = _check_shift(n, field.bits, "rshift_arith")
    if field is Field.FM64:
        return np.asarray(np.right_shift(np.asarray(a).view(np.int64), n)).view(np.uint64)
    lo, hi = _lohi(a)
    shi = hi.view(np.int64)
    if n == 0:
        return np.array(a, copy=True)
    if n >= 64:
        return _pack((shi >> (n - 64)).view(np.uint64), (shi >> 63).view(np.uint64))
    return _pack((lo >> np.uint64(n)) | (hi << np.uint64(64 - n)), (shi >> n).view(np.uint64))


def _bitwise(ufunc: np.ufunc, a: np.ndarray, b: np.ndarray, op: str) -> np.ndarray:
    if _u64(a, b) or _field2(a, b, op) is Field.FM64:
        return np.asarray(ufunc(a, b))
    (alo, ahi), (blo, bhi) = _lohi(a), _lohi(b)
    return _pack(ufunc(alo, blo), ufunc(ahi, bhi))


def and_(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _bitwise(np.bitwise_and, a, b, "and_")


def or_(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _bitwise(np.bitwise_or, a, b, "or_")


def xor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _bitwise(np.bitwise_xor, a, b, "xor")


def not_(a: np.ndarray) -> np.ndarray:
    if field_of(a) is Field.FM64:
        return np.asarray(np.invert(a))
    lo, hi = _lohi(a)
    return _pack(~lo, ~hi)


def bit(a: np.ndarray, i: int) -> np.ndarray:
    """Bit i of each element as a ring 0/1 value."""
    field = field_of(a)
    i = _check_shift(i, field.bits, "bit")
    if field is Field.FM64:
        return np.asarray((np.asarray(a) >> np.uint64(i)) & np.uint64(1))
    lo, hi = _lohi(a)
    src, j = (lo, i) if i < 64 else (hi, i - 64)
    return _pack((src >> np.uint64(j)) & np.uint64(1), np.uint64(0))


def msb(a: np.ndarray) -> np.ndarray:
    """The top bit (the sign in two's complement) as a ring 0/1 value."""
    return bit(a, field_of(a).bits - 1)


def bit_decompose(a: np.ndarray) -> np.ndarray:
    """uint8 array of shape a.shape + (k,): the bits of each element, least significant first."""
    a = np.asarray(a)
    k = field_of(a).bits
    raw = np.ascontiguousarray(a).reshape(-1).view(np.uint8)  # little-endian bytes, low byte first
    return _BYTE_BITS[raw].view(np.uint8).reshape(a.shape + (k,))  # 8x faster than unpackbits


def bit_compose(bits: np.ndarray, field: Field) -> np.ndarray:
    """Inverse of bit_decompose: bits (..., k) of 0/1 (LSB first) -> ring array of shape (...)."""
    bits = np.asarray(bits)
    k = Field(field).bits
    if bits.ndim == 0 or bits.shape[-1] != k:
        raise ValueError(
            f"ring.bit_compose: last axis must have {k} bits for {Field(field).name}, got shape {bits.shape}"
        )
    flat = np.ascontiguousarray(bits).reshape(-1)
    if flat.dtype.kind not in "ub" or flat.dtype.itemsize != 1:
        flat = flat != 0
    packed = np.packbits(flat, bitorder="little")  # k bits -> k / 8 bytes per element, in order
    return packed.view(ring_dtype(field)).reshape(bits.shape[:-1])


def equal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise equality as a bool array."""
    if _field2(a, b, "equal") is Field.FM64:
        return np.asarray(np.equal(a, b))
    (alo, ahi), (blo, bhi) = _lohi(a), _lohi(b)
    return np.asarray((alo == blo) & (ahi == bhi))


def to_field(a: np.ndarray, field: Field, signed: bool = True) -> np.ndarray:
    """Change ring: widening sign-extends (or zero-extends if not signed), narrowing keeps low bits."""
    a = np.asarray(a)
    src, dst = field_of(a), Field(field)
    if src is dst:
        return a.copy()
    if dst is Field.FM64:
        return a["lo"].copy()  # C-contiguous; keeps 0-d shapes (ascontiguousarray would not)
    return _pack(a, _sext(a) if signed else np.uint64(0))
