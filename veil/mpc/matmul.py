"""Exact matrix products over Z_2^k computed with float64 BLAS.

numpy's integer matmul is a naive triple loop (~10x slower than BLAS). Instead each operand is
written in base 2^w with balanced signed digits d in [-2^(w-1), 2^(w-1)) held as float64: a
product of two digits has |d d'| <= 2^(2w-2), so a float64 dot product of up to 2^(55-2w) such
terms is exact (every partial sum is an integer of magnitude <= 2^53). Digit products are grouped
by their shift s = i + j (only w * s < k matters mod 2^k): with the digits laid side by side
along the inner dimension, group s is ONE matmul of A[:, digits 0..s] against B[digits s..0, :],
chunked along that axis to stay exact. Results are converted back to integers exactly and
combined with shifts. The default w = 22 needs 3 digits on FM64 (6 GEMMs of the original size,
chunks of 2048 terms) and 6 on FM128 (21 GEMMs); 16-bit limbs would need 10 and 36.

Small FM64 products skip all that: numpy's uint64 matmul is a naive loop, but it wraps mod 2^64
(exact) and has no per-call digit work, so below `SMALL_MACS` multiply-adds it is faster than
the limb GEMMs (measured on 1 BLAS thread: 6x at 10x30x64, 40x at 455x30x1, even at 64^3 and
~1.2x faster at 100^3, 1.3x slower at 128^3).
"""

from __future__ import annotations

import math

import numpy as np

from veil.config import Field
from veil.mpc import ring

LIMB_BITS = 22
SMALL_MACS = 1 << 20  # FM64 products with at most this many multiply-adds use exact uint64 matmul
_FLUSH_CHUNKS = 512  # int64 chunk sums stay exact for 512 * 2^53 < 2^63; flush to the ring then


def max_exact_terms(limb_bits: int = LIMB_BITS) -> int:
    """How many digit products one float64 dot product may sum exactly."""
    return 1 << (55 - 2 * limb_bits)


MAX_EXACT_TERMS = max_exact_terms()


def _check(a: np.ndarray, b: np.ndarray, limb_bits: int, max_terms: int | None) -> tuple[Field, int]:
    """Validate operands and knobs; return the common field and the chunk size."""
    fa, fb = ring.field_of(a), ring.field_of(b)
    if fa is not fb:
        raise TypeError(f"matmul: operands are in different fields ({fa.name}, {fb.name}); use ring.to_field")
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul: need operands with >= 2 dims, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
    if not 2 <= limb_bits <= 26:
        raise ValueError(f"matmul: limb_bits={limb_bits} must be in [2, 26]")
    exact = max_exact_terms(limb_bits)
    cap = exact if max_terms is None else int(max_terms)
    if not 1 <= cap <= exact:
        raise ValueError(f"matmul: max_terms={max_terms} must be in [1, {exact}] to stay exact")
    return fa, cap


def _digits(x: np.ndarray, field: Field, w: int) -> list[np.ndarray]:
    """Balanced base-2^w digits of x (float64, least significant first): x = sum d_i 2^(w i) mod 2^k.

    Adding C = sum 2^(w_i - 1) 2^(w i) first makes every unsigned digit u_i = d_i + 2^(w_i - 1).
    """
    k = field.bits
    n_digits = math.ceil(k / w)
    widths = [w] * (n_digits - 1) + [k - w * (n_digits - 1)]
    offset = sum(1 << (w * i + widths[i] - 1) for i in range(n_digits))
    y = ring.add(x, ring.full(field, (), offset))
    out = []
    for i, width in enumerate(widths):  # loop over digits (<= 6 by default), not elements
        shifted = ring.rshift_logical(y, w * i) if i else y
        word = shifted if field is Field.FM64 else shifted["lo"]
        u = (word & np.uint64((1 << width) - 1)).astype(np.int64)
        out.append((u - (1 << (width - 1))).astype(np.float64))
    return out


def _a_side(a: np.ndarray, field: Field, w: int) -> np.ndarray:
    """A's digits side by side along the inner axis: (..., m, n_digits * n) float64."""
    return np.concatenate(_digits(a, field, w), axis=-1)


def _b_side(b: np.ndarray, field: Field, w: int) -> np.ndarray:
    """B's digits stacked along the inner axis, most significant first: (..., n_digits * n, p)."""
    return np.concatenate(_digits(b, field, w)[::-1], axis=-2)


def _accumulate(acc: np.ndarray, part: np.ndarray, shift: int, field: Field) -> np.ndarray:
    """acc + (part << shift) mod 2^k, for a signed int64 array `part`."""
    words = part.view(np.uint64)
    if field is Field.FM64:
        acc += words << np.uint64(shift)  # in place: acc is our own buffer; uint64 arrays wrap
        return acc
    wide = ring.to_field(words, Field.FM128, signed=True)
    return ring.add(acc, ring.lshift(wide, shift) if shift else wide)


def _macs(a: np.ndarray, b: np.ndarray) -> int:
    """Multiply-adds of a @ b (batch dims broadcast)."""
    batch = 1 if a.ndim == b.ndim == 2 else math.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    return batch * a.shape[-2] * a.shape[-1] * b.shape[-1]


def matmul(
    a: np.ndarray,
    b: np.ndarray,
    max_terms: int | None = None,
    limb_bits: int = LIMB_BITS,
    method: str = "auto",
) -> np.ndarray:
    """Exact a @ b mod 2^k for a (..., m, n) and b (n, p) or (..., n, p).

    `max_terms` caps how many digit products one float64 dot product sums (default: the largest
    exact count); `limb_bits` is the digit width. Change them only to test chunking and digits.
    `method`: "auto" (uint64 matmul for small FM64 products, see `SMALL_MACS`; else limbs),
    "limbs" or "int" (uint64 matmul, FM64 only) to force one.
    """
    a, b = np.asarray(a), np.asarray(b)
    field, cap = _check(a, b, limb_bits, max_terms)
    if method not in ("auto", "limbs", "int"):
        raise ValueError(f"matmul: method={method!r} must be 'auto', 'limbs' or 'int'")
    if method == "int" and field is not Field.FM64:
        raise ValueError("matmul: method='int' needs FM64 operands (uint64 wraps mod 2^64 only)")
    if field is Field.FM64 and (
        method == "int"
        or (method == "auto" and max_terms is None and limb_bits == LIMB_BITS and _macs(a, b) <= SMALL_MACS)
    ):
        return np.matmul(a, b)  # uint64 products and sums wrap mod 2^64: exact
    batch_shape = None
    if b.ndim == 2 and a.ndim > 2:  # fold the batch into rows: one large GEMM instead of many
        batch_shape = a.shape[:-1]
        a = a.reshape(int(np.prod(batch_shape, dtype=np.int64)), a.shape[-1])
    w, n = limb_bits, a.shape[-1]
    n_digits = math.ceil(field.bits / w)
    a_cat, b_rev = _a_side(a, field, w), _b_side(b, field, w)
    out_shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
    acc = ring.zeros(field, out_shape)
    for s in range(n_digits):  # one group per digit shift; chunks keep every float dot exact
        a_s = a_cat[..., : (s + 1) * n]
        b_s = b_rev[..., (n_digits - 1 - s) * n :, :]
        starts = range(0, (s + 1) * n, cap)
        group = np.zeros(out_shape, np.int64)
        for count, lo in enumerate(starts, start=1):
            part = np.matmul(a_s[..., lo : lo + cap], b_s[..., lo : lo + cap, :])
            group += part.astype(np.int64)  # exact: |part| <= 2^53
            if count % _FLUSH_CHUNKS == 0 or count == len(starts):
                acc = _accumulate(acc, group, w * s, field)
                group[...] = 0
    if batch_shape is not None:
        acc = acc.reshape(batch_shape + (acc.shape[-1],))
    return acc
