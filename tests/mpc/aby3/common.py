"""Helpers for the aby3 tests: random ring arrays, edge values, plaintext oracles (Python ints)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.mpc.protocol_harness import Run, measure_kernel, measure_kernels, run_protocol
from veil.config import Field
from veil.mpc import ring

FIELDS = [Field.FM64, Field.FM128]
IDS = [f.name for f in FIELDS]


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
    """0, +-1, +-2, powers of two and the extremes: of the ring, or of [-2^bits, 2^bits)."""
    k = field.bits
    top = (1 << (k - 1)) - 1 if bits is None else (1 << bits) - 1
    low = -(1 << (k - 1)) if bits is None else -(1 << bits)
    vals = [0, 1, -1, 2, -2, 3, top, low, top - 1, low + 1, 1 << 20, -(1 << 20), 1 << 40, -(1 << 40)]
    vals = [v for v in vals if low <= v <= top]
    return ring.from_pyints(field, vals)


def with_edges(rng: np.random.Generator, field: Field, n: int, bits: int | None = None) -> np.ndarray:
    """n random values (full ring, or |x| < 2^bits) followed by the edge values."""
    body = uniform(rng, field, (n,)) if bits is None else bounded(rng, field, (n,), bits)
    return np.concatenate([body, edges(field, bits)])


def ints(a: np.ndarray) -> list[int]:
    """Ring elements as unsigned Python ints (flattened)."""
    return [int(v) for v in np.ravel(np.asarray(ring.to_pyints(np.asarray(a)), dtype=object))]


def signed(a: np.ndarray) -> list[int]:
    """Ring elements as signed Python ints (flattened)."""
    k = ring.field_of(a).bits
    return [v - (1 << k) if v >> (k - 1) else v for v in ints(a)]


def assert_ring_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    bad = ~ring.equal(got, want)
    if bad.any():
        i = int(np.argmax(bad.ravel()))
        raise AssertionError(
            f"{int(bad.sum())} of {bad.size} elements differ; first at flat index {i}: "
            f"got {signed(got.ravel()[i : i + 1])}, want {signed(want.ravel()[i : i + 1])}"
        )


def run(field: Field, kernel: str, *inputs: Any, out: str = "arith", **kw: Any) -> Run:
    """One aby3 kernel on 3 parties (see protocol_harness.measure_kernel)."""
    return measure_kernel("aby3", 3, field, kernel, *inputs, out=out, timeout=20.0, **kw)


def run_many(field: Field, calls: list[tuple[Any, ...]], out: str = "arith", **kw: Any) -> list[Run]:
    """Several aby3 kernels in one job, each measured alone."""
    return measure_kernels("aby3", 3, field, calls, out=out, timeout=20.0, **kw)


def run_fn(field: Field, fn: Any, *inputs: Any, out: Any = "arith", **kw: Any) -> Run:
    """Any function fn(ctx, *inputs) on the 3 aby3 parties."""
    return run_protocol("aby3", 3, field, fn, *inputs, out=out, timeout=20.0, **kw)
