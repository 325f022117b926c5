"""semi2k Beaver-triple cache for secret x secret matmuls (as SPU's beaver cache).

A matmul X @ Y opens D = X - A and E = Y - B. When the SAME secret value X (the same payload
object: the data of a training loop, a weight used forward and backward) is multiplied again in
the run, the mask A of its first product is reused: D was opened once and is kept, and the new
product opens only E = Y - B' for a fresh B' (the dealer sends shares of C = T(A) B', T the
operand's transpose). Reusing A for the same value reveals nothing new (D is identical). A is
never reused for a different value: an entry keeps a reference to its source payload and matches
it by identity (so its id cannot be recycled while cached), shape and dtype.

Slots: every party and the dealer keep the same LRU `SlotTable` (bounded by count and elements),
driven by the same sequence of fills and hits, so they agree on slot ids and evictions without
messages; the dealer checks the slot of every request and keeps the plain A per slot. Both
tables live for one run (the party's context, the dealer's serve loop).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from veil.errors import LinkError
from veil.mpc import dealer, ring
from veil.mpc.context import ProtocolContext
from veil.mpc.dealer import Corr, Shared, uint_dtype
from veil.mpc.kernels import Cost, OperandKey
from veil.mpc.matmul import matmul
from veil.mpc.semi2k.shares import beaver_matmul_combine, open_all

MATMUL_CACHED = 11  # correlation kind; `semi2k.correlations.RECIPES` registers `matmul_cached_recipe`
FRESH, FILL, HIT = 0, 1, 2  # per operand: no cache, new entry (open D, keep A), reuse A and D
MAX_SLOTS = 32
MAX_ELEMENTS = 1 << 22  # cached elements per run (A and D per party, plain A at the dealer)
TAG = "semi2k.matmul_cached"
SCRATCH = "semi2k.beaver_cache"  # ctx.scratch (parties) and Corr.store (dealer) key
_MASK32 = (1 << 32) - 1


class SlotTable:
    """LRU slots bounded by count and total elements. Deterministic: the same fills and hits give
    the same slot ids and evictions on every party and on the dealer."""

    def __init__(self, max_slots: int | None = None, max_elements: int | None = None) -> None:
        self.max_slots = MAX_SLOTS if max_slots is None else max_slots
        self.max_elements = MAX_ELEMENTS if max_elements is None else max_elements
        self.values: OrderedDict[int, Any] = OrderedDict()  # slot -> value, least recent first
        self.sizes: dict[int, int] = {}
        self.total = 0

    def fits(self, numel: int) -> bool:
        return 0 < numel <= self.max_elements

    def touch(self, slot: int) -> Any:
        self.values.move_to_end(slot)
        return self.values[slot]

    def admit(self, numel: int, value: Any) -> tuple[int, list[tuple[int, Any]]]:
        """A slot for a new entry of `numel` elements; evicts least recently used entries."""
        evicted = []
        while self.values and (len(self.values) >= self.max_slots or self.total + numel > self.max_elements):
            slot, old = self.values.popitem(last=False)
            self.total -= self.sizes.pop(slot)
            evicted.append((slot, old))
        slot = next(s for s in range(self.max_slots) if s not in self.values)
        self.values[slot] = value
        self.sizes[slot] = numel
        self.total += numel
        return slot, evicted


# ------------------------------------------------------------------------------------ parties


@dataclass(eq=False)
class Entry:
    """One cached mask: the source payload (kept alive), this party's share of A and the opened
    D = X - A, both in the source's shape (None until the filling product has opened D)."""

    source: np.ndarray
    a: np.ndarray | None = None
    d: np.ndarray | None = None


class ClientCache:
    """A party's cache: the slot table of entries plus an index id(source) -> slot."""

    def __init__(self) -> None:
        self.table = SlotTable()
        self.index: dict[int, int] = {}

    def find(self, src: np.ndarray) -> tuple[int, Entry] | None:
        slot = self.index.get(id(src))
        entry = None if slot is None else self.table.values.get(slot)
        if entry is None or entry.source is not src or entry.d is None:
            return None
        if entry.source.shape != src.shape or entry.source.dtype != src.dtype:
            return None
        return slot, entry  # type: ignore[return-value]

    def fill(self, src: np.ndarray) -> tuple[int, Entry]:
        entry = Entry(src)
        slot, evicted = self.table.admit(src.size, entry)
        for old_slot, old in evicted:
            if self.index.get(id(old.source)) == old_slot:
                del self.index[id(old.source)]
        self.index[id(src)] = slot
        return slot, entry


@dataclass
class Side:
    """How one operand gets its mask: mode, its transpose of the source, slot, cache entry."""

    mode: int
    perm: tuple[int, ...] = ()
    slot: int = 0
    entry: Entry | None = None


def encode_side(side: Side) -> int:
    """32-bit request word: mode (2 bits), len(perm) (2), perm (3 x 2), slot (22)."""
    if side.mode == FRESH:
        return FRESH
    code = side.mode | len(side.perm) << 2 | side.slot << 10
    for i, p in enumerate(side.perm):
        code |= p << (4 + 2 * i)
    return code


def decode_side(code: int) -> tuple[int, tuple[int, ...], int]:
    """(mode, perm, slot) of a request word; LinkError if malformed."""
    mode, nd = code & 3, (code >> 2) & 3
    perm = tuple((code >> (4 + 2 * i)) & 3 for i in range(nd))
    if mode not in (FRESH, FILL, HIT) or (mode != FRESH and (nd < 2 or sorted(perm) != list(range(nd)))):
        raise LinkError(f"dealer: malformed cached-matmul operand word {code:#x}")
    return mode, perm, code >> 10


def _source(cache: ClientCache, x: np.ndarray, key: OperandKey | None) -> np.ndarray | None:
    """The key's source if x == transpose(source, perm) can be cached, else None."""
    if key is None or not isinstance(key.source, np.ndarray):
        return None
    src, perm = key.source, tuple(int(p) for p in key.perm)
    if x.ndim not in (2, 3) or src.ndim != x.ndim or src.dtype != x.dtype:
        return None
    if sorted(perm) != list(range(x.ndim)) or tuple(src.shape[p] for p in perm) != x.shape:
        return None
    return src if cache.table.fits(src.size) else None


def _plan(
    cache: ClientCache,
    x: np.ndarray,
    key: OperandKey | None,
    first: Side | None,
    pending: dict[int, Side] | None = None,
) -> Side:
    """Look the operand up: HIT (touch), FILL (new slot) or FRESH (no usable key). `pending`
    holds the fills of earlier products of the same `matmul_ss_many` call (id(source) -> side):
    their D opens in this call's message, so a later product reuses the mask (a HIT whose D is
    known only after the opening)."""
    src = _source(cache, x, key)
    if src is None or (
        first is not None and first.mode == FILL and first.entry is not None and first.entry.source is src
    ):
        return Side(FRESH)  # X @ X^T before X is cached: the fill's D is not open yet
    perm = tuple(int(p) for p in key.perm)  # type: ignore[union-attr]
    filling = None if pending is None else pending.get(id(src))
    if filling is not None and filling.entry is not None and filling.entry.source is src:
        if cache.table.values.get(filling.slot) is filling.entry:  # not evicted since
            cache.table.touch(filling.slot)
            return Side(HIT, perm, filling.slot, filling.entry)
    found = cache.find(src)
    if found is not None:
        cache.table.touch(found[0])
        return Side(HIT, perm, found[0], found[1])
    slot, entry = cache.fill(src)
    side = Side(FILL, perm, slot, entry)
    if pending is not None:
        pending[id(src)] = side
    return side


def _mask(side: Side, drawn: np.ndarray | None, op: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(this party's mask of the promoted operand `op`, the opened difference if already known:
    None for a fresh operand, a fill, and a hit on a fill of the same call)."""
    if side.mode == FRESH:
        return drawn.reshape(op.shape), None  # type: ignore[union-attr]
    entry = side.entry
    if entry is None or (side.mode == HIT and entry.a is None):
        raise ValueError("semi2k.matmul_ss_cached: a cached operand without its entry (internal error)")
    if side.mode == FILL:
        entry.a = drawn
        return np.transpose(drawn, side.perm).reshape(op.shape), None
    a = np.transpose(entry.a, side.perm).reshape(op.shape)
    return a, None if entry.d is None else np.transpose(entry.d, side.perm).reshape(op.shape)


def _keep(side: Side, opened: np.ndarray) -> None:
    """After a fill: keep the opened D in the source's layout."""
    if side.mode == FILL and side.entry is not None:
        inverse = sorted(range(len(side.perm)), key=side.perm.__getitem__)  # (np.argsort would
        side.entry.d = np.transpose(opened, inverse).copy()  # release the GIL for 2-3 ints)


def _promote(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x2 = x[None, :] if x.ndim == 1 else x
    y2 = y[:, None] if y.ndim == 1 else y
    if x2.ndim > 2 and y2.ndim > 2 and x2.shape[:-2] != y2.shape[:-2]:
        raise ValueError(
            f"semi2k.matmul_ss_cached: batch dims must match or be absent on one side, got {x.shape} @ {y.shape}"
        )
    if x2.shape[-1] != y2.shape[-2]:
        raise ValueError(f"semi2k.matmul_ss_cached: inner dimensions differ: {x.shape} @ {y.shape}")
    return x2, y2


def _batch(shape: tuple[int, ...]) -> int:
    return math.prod(shape[:-2]) if len(shape) > 2 else 1


def matmul_ss_cached(
    ctx: ProtocolContext,
    x: np.ndarray,
    y: np.ndarray,
    x_key: OperandKey | None = None,
    y_key: OperandKey | None = None,
) -> np.ndarray:
    """x @ y like matmul_ss; an operand with a key reuses its cached mask (opens nothing for it)."""
    return matmul_ss_many(ctx, x, y, keys=((x_key, y_key),))[0]


@dataclass
class _Product:
    """One product of a `matmul_ss_many` call: promoted operands, sides, masks, openings."""

    x: np.ndarray
    y: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    sides: tuple[Side, Side]
    masks: tuple[np.ndarray, np.ndarray, np.ndarray]
    opened: list[np.ndarray | None]  # D, E: known from the cache, or filled in after the opening
    opens: tuple[bool, bool]  # which of D, E this call's message carries


def matmul_ss_many(
    ctx: ProtocolContext,
    *operands: np.ndarray,
    keys: tuple[tuple[OperandKey | None, OperandKey | None], ...] | None = None,
) -> list[np.ndarray]:
    """[x0 @ y0, x1 @ y1, ...] for operands (x0, y0, x1, y1, ...): the Beaver openings of every
    product travel in ONE message each way (one round for all). `keys[i]` names product i's
    operands for the cache as in `matmul_ss_cached`; fills, hits and dealer requests happen in
    product order, so parties and dealer walk the same slot-table sequence. A value filled by
    an earlier product of this call is a hit for later ones: its D opens once, in this message."""
    if len(operands) % 2:
        raise ValueError(f"semi2k.matmul_ss_many: operands come in pairs, got {len(operands)}")
    count = len(operands) // 2
    keys = tuple(keys) if keys is not None else ((None, None),) * count
    if len(keys) != count:
        raise ValueError(f"semi2k.matmul_ss_many: {len(keys)} key pairs for {count} products")
    cache = ctx.scratch.setdefault(SCRATCH, ClientCache())
    pending: dict[int, Side] = {}
    products = []
    for i in range(count):
        x, y = operands[2 * i], operands[2 * i + 1]
        x2, y2 = _promote(x, y)
        (m, kk), nn = x2.shape[-2:], y2.shape[-1]
        sa = _plan(cache, x, keys[i][0], None, pending)
        sb = _plan(cache, y, keys[i][1], sa, pending)
        desc = encode_side(sa) | encode_side(sb) << 32
        u0, v0, w = ctx.dealer.get(MATMUL_CACHED, ctx.k, _batch(x2.shape), _batch(y2.shape), m, kk, nn, desc)
        u, d = _mask(sa, u0, x2)
        v, e = _mask(sb, v0, y2)
        opens = (d is None and sa.mode != HIT, e is None and sb.mode != HIT)  # hit on a fill: later
        products.append(_Product(x, y, x2, y2, (sa, sb), (u, v, w), [d, e], opens))
    parts = [
        ring.sub(op, mask).reshape(-1)
        for pr in products
        for op, mask, opens in zip((pr.x2, pr.y2), pr.masks[:2], pr.opens)
        if opens
    ]
    flat = open_all(ctx, TAG, np.concatenate(parts)) if parts else None
    start = 0
    for pr in products:
        for j, (side, op) in enumerate(zip(pr.sides, (pr.x2, pr.y2))):
            if pr.opens[j]:
                pr.opened[j] = flat[start : start + op.size].reshape(op.shape)  # type: ignore[index]
                start += op.size
                _keep(side, pr.opened[j])  # type: ignore[arg-type]
    outs = []
    for pr in products:
        for j, (side, op) in enumerate(zip(pr.sides, (pr.x2, pr.y2))):
            if pr.opened[j] is None:  # a hit on a fill of this call: its D is kept by now
                pr.opened[j] = np.transpose(side.entry.d, side.perm).reshape(op.shape)  # type: ignore[union-attr]
        d, e = pr.opened
        outs.append(beaver_matmul_combine(ctx, pr.x.ndim, pr.y.ndim, pr.masks, d, e))
    return outs


# ------------------------------------------------------------------------------------- dealer


def matmul_cached_recipe(
    c: Corr, k: int, ba: int, bb: int, m: int, kk: int, nn: int, desc: int
) -> tuple[Any, ...]:
    """Matrix triple (U, V, W = UV) where a cached operand's U (or V) is T(A) of its slot's A."""
    dt = uint_dtype(k)
    table = None
    if c.is_dealer:
        if c.store is None:
            raise LinkError("dealer: a cached matmul needs the dealer's per-run store")
        table = c.store.setdefault(SCRATCH, SlotTable())
    u, pu = _dealer_side(c, table, dt, desc & _MASK32, (ba, m, kk))
    v, pv = _dealer_side(c, table, dt, desc >> 32, (bb, kk, nn))
    return u, v, c.given(dt, (max(ba, bb), m, nn), lambda: matmul(pu, pv))


def _dealer_side(
    c: Corr, table: SlotTable | None, dt: np.dtype, code: int, target: tuple[int, int, int]
) -> tuple[Shared, np.ndarray | None]:
    """One operand's mask: fresh in the (b, r, c) layout, or a slot's A (drawn now for a fill)."""
    mode, perm, slot = decode_side(code)
    if mode == FRESH:
        s = c.rand(dt, target)
        return s, s.value
    if len(perm) == 2 and target[0] != 1:
        raise LinkError(f"dealer: cached 2-D operand with batch {target[0]} (client out of sync?)")
    op_shape = target if len(perm) == 3 else target[1:]
    orig = [0] * len(perm)
    for i, p in enumerate(perm):
        orig[p] = op_shape[i]
    numel = math.prod(orig)
    if mode == FILL:
        s = c.rand(dt, tuple(orig))
        if table is None:
            return s, None
        got, _ = table.admit(numel, s.value)
        if got != slot:
            raise LinkError(f"dealer: Beaver cache slot {slot} requested, {got} expected (out of sync)")
        return s, np.transpose(s.value, perm).reshape(target)
    if table is None:
        return Shared(), None
    if slot not in table.values or table.values[slot].shape != tuple(orig):
        raise LinkError(f"dealer: Beaver cache slot {slot} is empty or of another shape (out of sync)")
    return Shared(), np.transpose(table.touch(slot), perm).reshape(target)


# --------------------------------------------------------------------------------------- cost


def cached_cost(
    shape_a: tuple[int, ...], shape_b: tuple[int, ...], hit_a: bool, hit_b: bool, k: int, n: int
) -> tuple[int, int, int]:
    """(rounds, online, offline bytes): a hit opens nothing for its operand; offline as matmul_ss."""
    a2 = (1, *shape_a) if len(shape_a) == 1 else tuple(shape_a)
    b2 = (*shape_b, 1) if len(shape_b) == 1 else tuple(shape_b)
    size = math.prod
    opened = (0 if hit_a else size(a2)) + (0 if hit_b else size(b2))
    out = max(size(a2[:-2]), size(b2[:-2])) * a2[-2] * b2[-1]
    return int(opened > 0), n * (n - 1) * opened * k // 8, dealer.REQ_BYTES + out * k // 8


def many_cost(
    shapes: list[tuple[tuple[int, ...], tuple[int, ...]]], hits: list[tuple[bool, bool]], k: int, n: int
) -> tuple[int, int, int]:
    """(rounds, online, offline bytes) of one `matmul_ss_many` call: the products' costs added,
    one round in all (none if every operand hits)."""
    costs = [cached_cost(a, b, ha, hb, k, n) for (a, b), (ha, hb) in zip(shapes, hits, strict=True)]
    return max((c[0] for c in costs), default=0), sum(c[1] for c in costs), sum(c[2] for c in costs)


@dataclass(frozen=True)
class CachedMatmulCost(Cost):
    """Shape-dependent cost; `of_shapes` is a miss (as matmul_ss), `of_hits` says which operands hit."""

    def of_shapes(self, a: tuple[int, ...], b: tuple[int, ...], k: int, n: int) -> tuple[int, int, int]:
        return cached_cost(a, b, False, False, k, n)

    def of_hits(
        self, a: tuple[int, ...], b: tuple[int, ...], hit_a: bool, hit_b: bool, k: int, n: int
    ) -> tuple[int, int, int]:
        return cached_cost(a, b, hit_a, hit_b, k, n)


MATMUL_CACHED_COST = CachedMatmulCost(
    lambda e, k, n: 1,
    lambda e, k, n: n * (n - 1) * e * k // 8,
    note="numel = a.size + b.size on a miss; a cached operand opens nothing (see of_hits)",
)
MATMUL_MANY_COST = CachedMatmulCost(
    lambda e, k, n: 1,
    lambda e, k, n: n * (n - 1) * e * k // 8,
    note="one product as matmul_ss_cached; several: their costs added in one round (see many_cost)",
)
