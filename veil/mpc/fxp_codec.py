"""Fixed-point encoding: real numbers as ring elements x * 2^fbits in two's complement, and back.

Exact for every value the ring holds (FM128 splits large values into 64-bit limbs without
rounding); out-of-range or non-finite inputs raise ValueError naming the field and the bound.
"""

from __future__ import annotations

import numpy as np

from veil.config import Field
from veil.mpc.ring import _lohi, _pack, _sext, field_of


def _check_fbits(fbits: int, k: int, op: str) -> int:
    if not isinstance(fbits, (int, np.integer)) or not 0 <= int(fbits) < k:
        raise ValueError(f"fxp_codec.{op}: fbits={fbits!r} must be an int in [0, {k})")
    return int(fbits)


@np.errstate(over="ignore", invalid="ignore")  # overflow to inf is reported as a ValueError below
def encode_fxp(field: Field, x: np.ndarray, fbits: int) -> np.ndarray:
    """Round x * 2^fbits to the nearest integer (ties to even) and embed it in two's complement."""
    field = Field(field)
    k = field.bits
    f = _check_fbits(fbits, k, "encode_fxp")
    scaled = np.rint(np.asarray(x, dtype=np.float64) * float(2**f))
    bad = ~np.isfinite(scaled) | (np.abs(scaled) >= float(2 ** (k - 1)))
    if np.any(bad):
        first = np.asarray(x, dtype=np.float64)[bad].ravel()[0]
        raise ValueError(
            f"fxp_codec.encode_fxp: value {first} is not finite or out of range: {field.name} with "
            f"fbits={f} holds |x| < 2^{k - 1 - f}; scale the input or use a larger field"
        )
    small = np.abs(scaled) < float(2**63)
    lo = np.where(small, scaled, 0.0).astype(np.int64).view(np.uint64)
    if k == 64:
        return lo
    big = np.where(small, 0.0, scaled)
    hi_f = np.floor(big * 2.0**-64)  # exact: power-of-two scaling of an integer-valued float
    rest = big - hi_f * 2.0**64  # in [0, 2^64), exactly representable when |big| >= 2^63
    r1 = np.floor(rest * 2.0**-32)
    r0 = rest - r1 * 2.0**32
    big_lo = (r1.astype(np.uint64) << np.uint64(32)) | r0.astype(np.uint64)
    hi = np.where(small, _sext(lo), hi_f.astype(np.int64).view(np.uint64))
    return _pack(np.where(small, lo, big_lo), hi)


def decode_fxp(a: np.ndarray, fbits: int) -> np.ndarray:
    """Read ring elements as two's-complement fixed point with `fbits` fraction bits -> float64."""
    a = np.asarray(a)
    field = field_of(a)
    f = _check_fbits(fbits, field.bits, "decode_fxp")
    scale = 2.0**-f
    if field is Field.FM64:
        return np.asarray(a.view(np.int64).astype(np.float64) * scale)
    lo, hi = _lohi(a)
    fits = hi == _sext(lo)  # value fits in int64: convert exactly-rounded
    small = lo.astype(np.int64).astype(np.float64)
    large = hi.astype(np.int64).astype(np.float64) * 2.0**64 + lo.astype(np.float64)
    return np.asarray(np.where(fits, small, large) * scale)
