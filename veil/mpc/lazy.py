"""Lazy share arrays: (rows, cols) shares produced chunk by chunk when read.

The dealer's row-chunked correlations (`veil.mpc.dealer.Corr.given_rows`) hand clients a `Lazy`
instead of a full array: rows come from a `StreamSlice` (uniform shares) or from a slice of the
received adjust, so a consumer that walks the rows in chunks holds one chunk at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from veil.mpc.prg import StreamSlice

CHUNK_BYTES = 1 << 18  # working-set target of chunked expansion (dealer adjust, lazy reads);
# 256 KB, not 1 MB: buffers above glibc's mmap threshold are mapped and page-faulted afresh on
# every chunk (LR example: ~28K fewer minor faults per run, ~0.1 s of system time)


class Lazy:
    """A (rows, cols) share array whose rows are produced on demand by `read(lo, hi)`.

    Reading rows [lo, hi) returns a fresh (hi - lo, cols) array; nothing is cached, so a
    consumer that walks the rows in chunks holds one chunk at a time.
    """

    def __init__(self, dt: np.dtype, shape: tuple[int, int], read: Callable[[int, int], np.ndarray]) -> None:
        self.dtype, self.shape, self._read = np.dtype(dt), shape, read

    @property
    def row_bytes(self) -> int:
        return int(self.shape[1]) * self.dtype.itemsize

    def rows(self, lo: int, hi: int) -> np.ndarray:
        return self._read(lo, hi)

    @staticmethod
    def from_stream(sl: StreamSlice, dt: np.dtype, shape: tuple[int, int]) -> Lazy:
        """Rows of a uniform array drawn (lazily) from a stream, in `_draw`'s byte layout."""
        rb = int(shape[1]) * dt.itemsize
        return Lazy(
            dt, shape, lambda lo, hi: sl.read(lo * rb, (hi - lo) * rb).view(dt).reshape(hi - lo, shape[1])
        )

    @staticmethod
    def from_bytes(buf: np.ndarray, dt: np.dtype, shape: tuple[int, int]) -> Lazy:
        """Rows of an array stored as raw bytes (e.g. a slice of a received adjust): no copy.

        Rows read are a read-only view of `buf` when it is aligned for `dt` (the adjust is this
        party's own buffer, never written after it arrived), else one aligned copy."""
        rb = int(shape[1]) * dt.itemsize
        aligned = buf.ctypes.data % dt.alignment == 0 and rb % dt.alignment == 0
        return Lazy(
            dt, shape, lambda lo, hi: bytes_as(buf[lo * rb : hi * rb], dt, (hi - lo, shape[1]), aligned)
        )


def bytes_as(raw: np.ndarray, dt: np.dtype, shape: tuple[int, ...], aligned: bool) -> np.ndarray:
    """uint8 bytes `raw` read as a `dt` array of `shape`: a read-only view if `aligned`, else an
    aligned copy (numpy runs misaligned arrays through slow buffered loops)."""
    if aligned:
        out = raw.view(dt).reshape(shape)
        out.flags.writeable = False
        return out
    return np.array(raw).view(dt).reshape(shape)


def rows_of(x: np.ndarray | Lazy, lo: int, hi: int) -> np.ndarray:
    """Rows [lo, hi) of a plain or lazy share array."""
    return x.rows(lo, hi) if isinstance(x, Lazy) else x[lo:hi]


def chunk_rows(row_bytes: int, align: int = 8) -> int:
    """Rows per chunk so that a chunk is about CHUNK_BYTES (a multiple of `align`, at least `align`)."""
    return max(align, CHUNK_BYTES // max(1, row_bytes) // align * align)
