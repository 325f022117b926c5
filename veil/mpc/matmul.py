"""Exact matrix products over Z_2^k computed with float64 BLAS.

numpy's integer matmul is a naive triple loop (~10x slower than BLAS). Instead each operand is
split into 16-bit limbs held as float64; a product of two limbs is < 2^32, so a float64 dot
product of up to 2^21 such terms is exact (every partial sum is an integer < 2^53). Limb
products are grouped by their shift s = i + j (only 16 * s < k matters mod 2^k): with the limbs
laid side by side along the inner dimension, group s is ONE matmul of A[:, limbs 0..s] against
B[limbs s..0, :]. Results are converted back to integers exactly and combined with shifts.
FM64 costs 10 float64 GEMMs of the original size, FM128 36.
"""

from __future__ import annotations

import numpy as np

from veil.config import Field
from veil.mpc import ring

LIMB_BITS = 16
_LIMB_MAX = (1 << LIMB_BITS) - 1
MAX_EXACT_TERMS = ((1 << 53) - 1) // (_LIMB_MAX * _LIMB_MAX)  # ~2^21 limb products per float dot


def _check(a: np.ndarray, b: np.ndarray) -> Field:
    """Validate shapes and fields; return the common field."""
    fa, fb = ring.field_of(a), ring.field_of(b)
    if fa is not fb:
        raise TypeError(f"matmul: operands are in different fields ({fa.name}, {fb.name}); use ring.to_field")
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul: need operands with >= 2 dims, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
    return fa


def _limbs_u64(a: np.ndarray, field: Field) -> list[np.ndarray]:
    """The uint64 words of a ring array, least significant first."""
    if field is Field.FM64:
        return [a]
    return [a["lo"], a["hi"]]


def _a_limbs(a: np.ndarray, field: Field, n_limbs: int) -> np.ndarray:
    """A's 16-bit limbs side by side along the inner axis: shape (..., m, n_limbs * n) float64."""
    n = a.shape[-1]
    out = np.empty(a.shape[:-1] + (n_limbs * n,), np.float64)
    per_word = 64 // LIMB_BITS
    for idx in range(n_limbs):  # loop over limbs (<= 8), not elements
        word = _limbs_u64(a, field)[idx // per_word]
        shift = np.uint64(LIMB_BITS * (idx % per_word))
        out[..., idx * n : (idx + 1) * n] = (word >> shift) & np.uint64(_LIMB_MAX)
    return out


def _b_limbs_reversed(b: np.ndarray, field: Field, n_limbs: int) -> np.ndarray:
    """B's limbs stacked along the inner axis, most significant first: (..., n_limbs * n, p)."""
    n = b.shape[-2]
    out = np.empty(b.shape[:-2] + (n_limbs * n, b.shape[-1]), np.float64)
    per_word = 64 // LIMB_BITS
    for idx in range(n_limbs):
        word = _limbs_u64(b, field)[idx // per_word]
        shift = np.uint64(LIMB_BITS * (idx % per_word))
        row = n_limbs - 1 - idx
        out[..., row * n : (row + 1) * n, :] = (word >> shift) & np.uint64(_LIMB_MAX)
    return out


def _accumulate(acc: np.ndarray, part: np.ndarray, shift: int, field: Field) -> np.ndarray:
    """acc + (part << shift) mod 2^k, where part holds exact non-negative integers < 2^53."""
    words = part.astype(np.uint64)
    if field is Field.FM64:
        acc += words << np.uint64(shift)  # in place: acc is our own buffer; uint64 arrays wrap
        return acc
    return ring.add(acc, ring.lshift(ring.to_field(words, Field.FM128, signed=False), shift))


def matmul(a: np.ndarray, b: np.ndarray, max_terms: int | None = None) -> np.ndarray:
    """Exact a @ b mod 2^k for a (..., m, n) and b (n, p) or (..., n, p).

    `max_terms` caps how many limb products one float64 dot product sums (default: the largest
    exact count, ~2^21); the inner axis is chunked to respect it. Lower it only to test chunking.
    """
    a, b = np.asarray(a), np.asarray(b)
    field = _check(a, b)
    cap = MAX_EXACT_TERMS if max_terms is None else int(max_terms)
    if not 1 <= cap <= MAX_EXACT_TERMS:
        raise ValueError(f"matmul: max_terms={max_terms} must be in [1, {MAX_EXACT_TERMS}] to stay exact")
    batch_shape = None
    if b.ndim == 2 and a.ndim > 2:  # fold the batch into rows: one large GEMM instead of many
        batch_shape = a.shape[:-1]
        a = a.reshape(-1, a.shape[-1])
    n_limbs = field.bits // LIMB_BITS
    n = a.shape[-1]
    a_cat = _a_limbs(a, field, n_limbs)
    b_rev = _b_limbs_reversed(b, field, n_limbs)
    out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    acc = ring.zeros(field, out_shape)
    for s in range(n_limbs):  # one group per limb shift; chunks keep every float dot exact
        a_s = a_cat[..., : (s + 1) * n]
        b_s = b_rev[..., (n_limbs - 1 - s) * n :, :]
        for lo in range(0, (s + 1) * n, cap):
            hi = min(lo + cap, (s + 1) * n)
            part = np.matmul(a_s[..., lo:hi], b_s[..., lo:hi, :])
            acc = _accumulate(acc, part, LIMB_BITS * s, field)
    if batch_shape is not None:
        acc = acc.reshape(batch_shape + (acc.shape[-1],))
    return acc
