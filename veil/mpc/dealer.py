"""semi2k's trusted dealer: correlated randomness expanded from per-party seeds, plus one adjust.

Party i shares an AES-CTR stream with the dealer (`prg.pair(DEALER)`). For every correlation,
parties 0..n-2 draw all their shares from that stream without talking; the LAST party (n-1)
draws its uniform shares the same way, sends a request (`TAG_REQ`: kind + 7 integer parameters,
64 bytes) and receives ONE adjust array (`TAG_ADJ`, raw bytes) holding its shares of the
*derived* values (c = a*b, ...): the value minus everybody else's shares. The dealer expands
every party's stream in lockstep, so offline traffic is about one element per derived element.

Each correlation is written once, as a `Recipe` over a `Corr`; the same code runs on a client
(own shares only) and on the dealer (all shares and the plain values). The dealer is generic: a
protocol passes its recipe book (semi2k: `veil.mpc.semi2k.correlations.RECIPES`). The request
/ adjust service over the link (`DealerClient`, `serve`) is in `veil.mpc.dealer_service`.

Large correlations can be *row-chunked* (`Corr.given_rows`): a client's share is a `Lazy` array
whose rows are expanded from the stream (or sliced from the adjust) only when read, and the
dealer computes the adjust chunk by chunk straight into the outgoing buffer, so neither side
ever holds a second full-size copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from veil.config import Field
from veil.errors import LinkError
from veil.mpc import ring
from veil.mpc.lazy import Lazy, chunk_rows
from veil.mpc.prg import AesCtrStream

TAG_REQ = "dealer.req"
TAG_ADJ = "dealer.adj"
REQ_WORDS = 8
REQ_BYTES = 8 * REQ_WORDS
U8 = np.dtype(np.uint8)

STOP = 0  # the request kind that ends the dealer loop


# ---------------------------------------------------------------------------- share algebra


def _draw(stream: AesCtrStream, dt: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    if dt == ring.U128:
        return stream.ring(Field.FM128, shape)
    return stream.uint(shape, dt)


def add_shares(a: np.ndarray, b: np.ndarray, xor: bool) -> np.ndarray:
    """a + b (wrapping) or a ^ b, for ring arrays and plain unsigned arrays (integer ufunc
    calls wrap without warnings, also on 0-d arrays: no np.errstate needed)."""
    if a.dtype == ring.U128:
        return ring.xor(a, b) if xor else ring.add(a, b)
    return np.bitwise_xor(a, b) if xor else np.add(a, b, dtype=a.dtype)


def sub_shares(a: np.ndarray, b: np.ndarray, xor: bool) -> np.ndarray:
    if xor:
        return add_shares(a, b, True)
    if a.dtype == ring.U128:
        return ring.sub(a, b)
    return np.subtract(a, b, dtype=a.dtype)


def uint_dtype(bits: int) -> np.dtype:
    """The share container of Z_2^bits for bits in {8, 16, 32, 64, 128}."""
    dt = _UINT_DTYPES.get(bits)
    return dt if dt is not None else np.dtype(f"uint{bits}")  # (an error for other widths)


_UINT_DTYPES = {
    8: np.dtype(np.uint8),
    16: np.dtype(np.uint16),
    32: np.dtype(np.uint32),
    64: np.dtype(np.uint64),
    128: ring.U128,
}


@dataclass
class _Deferred:
    """An adjust part written straight into the outgoing buffer (chunked `given_rows`)."""

    size: int
    write: Callable[[np.ndarray], None]
    align: int = 1  # alignment of its words (the buffer is placed so the largest part gets it)


@dataclass
class Shared:
    """One correlated value: `mine` is this client's share; `value` the plain value (dealer only)."""

    mine: Any = None
    value: Any = None


class Corr:
    """Draws one correlation for a client (own stream) or for the dealer (every party's stream).

    Additive shares live in the given dtype (uint8..uint64 or U128); `xor` variants use XOR.
    """

    def __init__(
        self,
        world: int,
        streams: dict[int, AesCtrStream],
        rank: int,
        adjust: np.ndarray | None = None,
        private: AesCtrStream | None = None,
        store: dict[str, Any] | None = None,
    ) -> None:
        self.n = world
        self.streams = streams
        self.rank = rank  # a compute rank, or `world` for the dealer
        self.is_dealer = rank == world
        self._adj_in = adjust
        self._adj_pos = 0
        self._adj_out: list[np.ndarray | _Deferred] = []
        self._private = private
        # per-run state of stateful recipes (the dealer's Beaver cache); None on clients
        self.store = store

    def _rand(self, dt: np.dtype, shape: tuple[int, ...], xor: bool, parties: range) -> Shared:
        if not self.is_dealer:
            return (
                Shared(mine=_draw(self.streams[self.rank], dt, shape)) if self.rank in parties else Shared()
            )
        shares = [_draw(self.streams[p], dt, shape) for p in parties]
        total = shares[0]
        for s in shares[1:]:
            total = add_shares(total, s, xor)
        return Shared(value=total)

    def rand(self, dt: np.dtype, shape: Any, xor: bool = False) -> Shared:
        """A uniform value whose shares every party draws from its own stream (no adjust)."""
        return self._rand(np.dtype(dt), _shape(shape), xor, range(self.n))

    def private(self, owner: int, dt: np.dtype, shape: Any) -> Shared:
        """A uniform value only `owner` holds (in the clear); others get nothing."""
        return self._rand(np.dtype(dt), _shape(shape), False, range(owner, owner + 1))

    def secret(self, dt: np.dtype, shape: Any) -> Shared:
        """A uniform value only the dealer knows (from its private stream)."""
        if not self.is_dealer:
            return Shared()
        if self._private is None:
            raise LinkError("dealer: Corr.secret needs the dealer's private stream")
        return Shared(value=_draw(self._private, np.dtype(dt), _shape(shape)))

    def given(self, dt: np.dtype, shape: Any, fn: Callable[[], np.ndarray], xor: bool = False) -> Shared:
        """Shares of the dealer-computed value fn(): the last party's share is the adjust."""
        value: list[np.ndarray] = []

        def last_share(others: list[np.ndarray]) -> np.ndarray:
            value.append(np.ascontiguousarray(fn()).astype(dt, copy=False).reshape(_shape(shape)))
            rest = value[0]
            for other in others:
                rest = sub_shares(rest, other, xor)
            return rest

        out = self.given_custom(dt, shape, last_share)
        return Shared(mine=out.mine, value=value[0] if value else None)

    def given_custom(
        self, dt: np.dtype, shape: Any, last_share: Callable[[list[np.ndarray]], np.ndarray]
    ) -> Shared:
        """Parties 0..n-2 draw uniform words; the dealer computes the last party's words as
        last_share(the others' words) and sends them in the adjust."""
        dt, shape = np.dtype(dt), _shape(shape)
        last = self.n - 1
        if not self.is_dealer:
            if self.rank != last:
                return Shared(mine=_draw(self.streams[self.rank], dt, shape))
            return Shared(mine=self._take(dt, shape))
        others = [_draw(self.streams[p], dt, shape) for p in range(last)]
        words = np.ascontiguousarray(last_share(others)).astype(dt, copy=False).reshape(shape)
        self._adj_out.append(words.reshape(-1).view(U8))
        return Shared()

    def given_rows(
        self,
        dt: np.dtype,
        shape: tuple[int, int],
        fn: Callable[[int, int], np.ndarray],
        xor: bool = False,
        align: int = 8,
    ) -> Shared:
        """Like `given` for a (rows, cols) value whose rows [lo, hi) the dealer computes as
        fn(lo, hi) (lo a multiple of `align`). Clients get a `Lazy` share; the dealer writes the
        last party's words chunk by chunk into the adjust buffer (see `adjust_bytes`)."""
        dt, shp = np.dtype(dt), (int(shape[0]), int(shape[1]))
        size = shp[0] * shp[1] * dt.itemsize
        last = self.n - 1
        if not self.is_dealer:
            if self.rank != last:
                return Shared(mine=Lazy.from_stream(self.streams[self.rank].skip(size), dt, shp))
            return Shared(mine=Lazy.from_bytes(self._take_bytes(size), dt, shp))
        others = [Lazy.from_stream(self.streams[p].skip(size), dt, shp) for p in range(last)]
        step = chunk_rows(shp[1] * dt.itemsize, align)
        rb = shp[1] * dt.itemsize

        def write(buf: np.ndarray) -> None:
            aligned = buf.ctypes.data % dt.alignment == 0 and rb % dt.alignment == 0
            for lo in range(0, shp[0], step):
                hi = min(shp[0], lo + step)
                value = fn(lo, hi)
                if dt.kind == "u" and value.dtype == dt and value.shape == (hi - lo, shp[1]):
                    # the last share computed by ufuncs with out=: no contiguous copy of fn's rows
                    # (often a transposed view), and written in place when `buf` is aligned
                    part = buf[lo * rb : hi * rb]
                    out = part.view(dt).reshape(value.shape) if aligned else np.empty(value.shape, dt)
                    _sub_rows_into(out, value, [o.rows(lo, hi) for o in others], xor)
                    if not aligned:
                        part[:] = out.reshape(-1).view(U8)
                    continue
                rest = np.ascontiguousarray(value).astype(dt, copy=False).reshape(hi - lo, shp[1])
                for other in others:
                    rest = sub_shares(rest, other.rows(lo, hi), xor)
                buf[lo * rb : hi * rb] = np.ascontiguousarray(rest).reshape(-1).view(U8)

        self._adj_out.append(_Deferred(size, write, dt.alignment))
        return Shared()

    def _take_bytes(self, size: int) -> np.ndarray:
        if self._adj_in is None:
            raise LinkError(f"party {self.rank}: dealer correlation needs an adjust but none was received")
        chunk = self._adj_in[self._adj_pos : self._adj_pos + size]
        if chunk.size != size:
            raise LinkError(f"party {self.rank}: dealer adjust too short (out of sync with the dealer)")
        self._adj_pos += size
        return chunk

    def _take(self, dt: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
        size = math.prod(shape) * dt.itemsize
        return np.array(self._take_bytes(size)).view(dt).reshape(shape)  # one aligned copy

    def adjust_bytes(self) -> np.ndarray:
        """Dealer: the adjust for the last party, every part written once into one buffer."""
        sizes = [p.size if isinstance(p, _Deferred) else p.nbytes for p in self._adj_out]
        out = _placed_buffer(self._adj_out, sizes)
        pos = 0
        for part, size in zip(self._adj_out, sizes):
            if isinstance(part, _Deferred):
                part.write(out[pos : pos + size])
            else:
                out[pos : pos + size] = part
            pos += size
        self._adj_out.clear()
        return out

    def check_consumed(self) -> None:
        if self._adj_in is not None and self._adj_pos != self._adj_in.size:
            raise LinkError(
                f"party {self.rank}: dealer adjust has {self._adj_in.size - self._adj_pos} unused bytes "
                "(client and dealer disagree on the correlation; same veil version everywhere?)"
            )


def _placed_buffer(parts: list[np.ndarray | _Deferred], sizes: list[int]) -> np.ndarray:
    """An uninitialised uint8 buffer of sum(sizes) bytes, placed in memory so that the largest
    deferred part starts aligned for its words. The bytes are the same wherever the buffer
    starts; on the memory link the client then reads that part in place (no aligned copy of
    the biggest correlation, e.g. an MSB circuit's product shares), and the dealer writes it
    in place. Earlier parts (packed bit planes) have odd sizes, so this needs a placed start."""
    total = sum(sizes)
    deferred = [(size, n) for n, (p, size) in enumerate(zip(parts, sizes)) if isinstance(p, _Deferred)]
    if not deferred:
        return np.empty(total, U8)
    _, big = max(deferred)
    align = parts[big].align  # type: ignore[union-attr]
    if align <= 1:
        return np.empty(total, U8)
    raw = np.empty(total + align - 1, U8)
    off = -(raw.ctypes.data + sum(sizes[:big])) % align
    return raw[off : off + total]


def _sub_rows_into(out: np.ndarray, value: np.ndarray, others: list[np.ndarray], xor: bool) -> None:
    """out = value - sum(others) (wrapping), or value ^ others..., for plain unsigned arrays."""
    op = np.bitwise_xor if xor else np.subtract
    if not others:
        out[...] = value
        return
    op(value, others[0], out=out)
    for other in others[1:]:
        op(out, other, out=out)


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(map(int, shape))


@dataclass(frozen=True)
class Recipe:
    """One correlation kind: fn(corr, *params) -> shares, with `arity` integer parameters."""

    fn: Callable[..., tuple[Any, ...]]
    arity: int


RecipeBook = dict[int, Recipe]
