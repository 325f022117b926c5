"""Helpers for the semi2k tests: random ring arrays, edge values, plaintext oracles (Python ints)."""

from __future__ import annotations

import numpy as np
import pytest

from veil.config import Field
from veil.mpc import ring

FIELDS = [Field.FM64, Field.FM128]
WORLDS = [2, 3, 4]
GRID = [pytest.param(f, n, id=f"{f.name}-n{n}") for f in FIELDS for n in WORLDS]


def uniform(rng: np.random.Generator, field: Field, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform ring elements."""
    lo = rng.integers(0, 2**64, size=shape, dtype=np.uint64)
    if field is Field.FM64:
        return lo
    out = np.empty(shape, ring.U128)
    out["lo"], out["hi"] = lo, rng.integers(0, 2**64, size=shape, dtype=np.uint64)
    return out


def bounded(rng: np.random.Generator, field: Field, shape: tuple[int, ...], bits: int) -> np.ndarray:
    """Uniform signed values in [-2^bits, 2^bits)."""
    return ring.rshift_arith(uniform(rng, field, shape), field.bits - 1 - bits)


def edges(field: Field, bits: int | None = None) -> np.ndarray:
    """0, +-1, +-2, and the extremes: of the ring, or of the range |x| < 2^bits if given."""
    k = field.bits
    top = (1 << (k - 1)) - 1 if bits is None else (1 << bits) - 1
    low = -(1 << (k - 1)) if bits is None else -top
    vals = [0, 1, -1, 2, -2, top, low, top - 1, low + 1, 1 << 20, -(1 << 20)]
    return ring.from_pyints(field, vals)


def with_edges(rng: np.random.Generator, field: Field, n: int, bits: int | None = None) -> np.ndarray:
    """n random values (full ring, or |x| < 2^bits) followed by the edge values."""
    body = uniform(rng, field, (n,)) if bits is None else bounded(rng, field, (n,), bits)
    return np.concatenate([body, edges(field, bits)])


def signed(a: np.ndarray) -> list[int]:
    """Ring elements as signed Python ints."""
    k = ring.field_of(a).bits
    return [
        v - (1 << k) if v >> (k - 1) else v for v in np.ravel(np.asarray(ring.to_pyints(a), dtype=object))
    ]


def assert_ring_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    bad = ~ring.equal(got, want)
    if bad.any():
        i = int(np.argmax(bad.ravel()))
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} elements differ; first at flat index {i}: "
            f"got {signed(got.ravel()[i : i + 1])}, want {signed(want.ravel()[i : i + 1])}"
        )


def bits01(field: Field, cond: np.ndarray) -> np.ndarray:
    return ring.from_int64(field, np.asarray(cond).astype(np.int64))


def ref(kernel: str, *args: object) -> np.ndarray:
    """The ref2k oracle for a context-free kernel, on plain ring arrays."""
    from veil.mpc import ref2k
    from veil.mpc.kernels import KernelTable

    table = KernelTable("ref2k")
    ref2k.register(table)
    return table.lookup(kernel).fn(None, *args)
