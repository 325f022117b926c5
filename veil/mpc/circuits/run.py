"""Running a level: the dealer's plain products, and one party's evaluation.

All local work runs in element chunks (`planes.CHUNK`), while each level still opens all of its
masked inputs in ONE message before the chunk loop: rounds and bytes do not depend on chunking.
Products with a pad slot ("dead") are never materialised: the live ones are addressed through
`Level.live_pos`, a missing one reads as a zero share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from veil.config import Field
from veil.mpc import ring
from veil.mpc.circuits import programs as Pg
from veil.mpc.circuits.plan import Level
from veil.mpc.circuits.planes import CHUNK, ONES, chunks, nbytes_of, ring_from_bits, ring_from_small, unpack
from veil.mpc.lazy import Lazy, rows_of

ARITH_CHUNK = 1 << 11  # elements per chunk of an arithmetic level (its working set is ~50 words each:
# ~800 KB a chunk; 4096 elements made ~1.6 MB temporaries, each one fresh mmapped pages)


# ---------------------------------------------------------------------------- dealer products


def _packed_products(level: Level, secrets: np.ndarray, blo: int, bhi: int) -> np.ndarray:
    """Packed plain products of every live (group, subset) for bytes [blo, bhi): (n_live, nbc)."""
    sv = secrets[:, blo:bhi][level.slot_index(secrets.shape[0] - len(level.opened) - 1)]  # (G, nslots, nbc)
    done: dict[tuple[int, ...], np.ndarray] = {(s,): sv[:, s] for s in range(sv.shape[1])}
    full = np.empty((level.groups, len(level.formula.subsets), bhi - blo), np.uint8)
    for i, sub in enumerate(level.formula.subsets):  # sorted by size: every prefix is ready
        if sub not in done:
            done[sub] = done[sub[:-1]] & sv[:, sub[-1]]
        full[:, i] = done[sub]
    return full[level.live]


def dealer_products(level: Level, secrets: np.ndarray, numel: int) -> np.ndarray:
    """XOR mode: packed plain products (n_live, nbytes) of the level's secret bits.

    secrets: (nsec, nbytes) packed plain bits [masks | data | zero].
    """
    nb = secrets.shape[1]
    out = np.empty((level.n_live, nb), np.uint8)
    for lo, hi in chunks(numel, CHUNK):
        blo, bhi = lo // 8, nbytes_of(hi)
        out[:, blo:bhi] = _packed_products(level, secrets, blo, bhi)
    return out


def dealer_arith_rows(level: Level, secrets: np.ndarray, lo: int, hi: int, field: Field) -> np.ndarray:
    """Arithmetic mode: plain products of elements [lo, hi) as ring (hi - lo, n_live), element-major."""
    packed = _packed_products(level, secrets, lo // 8, nbytes_of(hi))
    return ring_from_bits(unpack(packed, hi - lo).T, field)


def arith_rows(packed: np.ndarray, lo: int, hi: int, field: Field) -> np.ndarray:
    """Rows [lo, hi) (lo a multiple of 8) of an arithmetic level's plain products from all of
    its packed products (n_live, nbytes) (`dealer_products`): ring (hi - lo, n_live). The same
    as `dealer_arith_rows`, for a dealer that computes the (small, packed) products once and
    expands them chunk by chunk."""
    return ring_from_bits(unpack(packed[:, lo // 8 : nbytes_of(hi)], hi - lo).T, field)


# --------------------------------------------------------------------------------- evaluation


@dataclass
class LevelShares:
    """One party's correlated randomness for one level: mask shares and product shares."""

    masks: np.ndarray  # (len(opened), nbytes) packed XOR shares
    prods: Any  # XOR: (n_live, nbytes) packed; arith: ring (numel, n_live), an array or a `Lazy`


OpenFn = Callable[[np.ndarray], np.ndarray]  # XOR shares of packed planes -> public planes


def run_level(
    level: Level,
    prev: np.ndarray | None,
    extra_ab: tuple[np.ndarray, np.ndarray] | None,
    data: np.ndarray,
    sh: LevelShares,
    open_xor: OpenFn,
    lead: bool,
    numel: int,
    field: Field,
) -> np.ndarray:
    """Evaluate one level for this party.

    prev: XOR shares of the previous outputs (n_prev, nbytes); extra_ab: public (a, b) planes of
    the extra inputs, each (n_extra, nbytes); data: XOR shares of the k data bits (k, nbytes).
    Returns packed XOR shares (groups * nout, nbytes), or ring shares (groups, nout, numel).
    """
    nb = data.shape[1]
    n_in = level.n_in
    a_in = np.zeros((n_in + 2, nb), np.uint8)
    b_in = np.zeros((n_in + 2, nb), np.uint8)
    a_in[n_in + 1] = ONES  # PAD1
    if level.opened:
        if prev is None:
            raise ValueError("circuits.run_level: a masked level needs the previous level's outputs")
        idx = list(level.opened)
        a_in[idx] = open_xor(prev[idx] ^ sh.masks)  # one message for the whole level
        b_in[idx] = ONES
    if level.n_extra:
        if extra_ab is None:
            raise ValueError("circuits.run_level: this level needs the (a, b) planes of its extra inputs")
        a_in[level.n_prev : n_in], b_in[level.n_prev : n_in] = extra_ab
    # b is needed only where it is not all ones: a pad's secret is the zero bit, so its b = 0
    # may be taken as 1 (every product with the zero bit is 0)
    trivial_b = level.n_prev > 0 and bool((b_in[level.n_prev : n_in] == ONES).all())
    if level.formula.arith:
        return _run_arith(level, a_in, None if trivial_b else b_in, sh.prods, lead, numel, field)
    return _run_xor(level, a_in, None if trivial_b else b_in, prev, data, sh, lead, numel)


def _pad_patterns(level: Level) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Groups that are evaluated (not identity groups) by pad pattern: [(pads per variable,
    group indices)], so each pattern runs a program specialised to its constants (cached)."""
    cache = level.__dict__.get("_pad_patterns_cache")
    if cache is None:
        codes = np.where(level.src < 0, level.src, 0)
        by: dict[tuple[int, ...], list[int]] = {}
        for g in np.flatnonzero(~level.through):
            by.setdefault(tuple(int(c) for c in codes[g]), []).append(int(g))
        cache = [(pat, np.asarray(gs, np.intp)) for pat, gs in by.items()]
        level.__dict__["_pad_patterns_cache"] = cache
    return cache


def _run_xor(
    level: Level,
    a_in: np.ndarray,
    b_in: np.ndarray | None,
    prev: np.ndarray | None,
    data: np.ndarray,
    sh: LevelShares,
    lead: bool,
    numel: int,
) -> np.ndarray:
    f, nb = level.formula, data.shape[1]
    slot_idx, live_pos = level.slot_index(data.shape[0]), level.live_pos
    # index arrays transposed (variable-major): gathering with them gives the contiguous
    # (variable, group, byte) blocks `run_xor` wants, in the same single fancy-indexing copy
    patterns = [
        (Pg.xor_program(f, b_in is None, pat), gs, level.resolved_src[gs].T, slot_idx[gs].T, live_pos[gs].T)
        for pat, gs in _pad_patterns(level)
    ]
    out = np.empty((level.groups, len(f.outputs), nb), np.uint8)
    for lo, hi in chunks(numel, CHUNK):
        blo, bhi = lo // 8, nbytes_of(hi)
        a_all = a_in[:, blo:bhi]
        b_all = None if b_in is None else b_in[:, blo:bhi]
        secrets = np.concatenate([sh.masks[:, blo:bhi], data[:, blo:bhi], np.zeros((1, bhi - blo), np.uint8)])
        live = np.concatenate([sh.prods[:, blo:bhi], np.zeros((1, bhi - blo), np.uint8)])
        for prog, gs, src_t, sidx_t, lpos_t in patterns:
            b = None if b_all is None else b_all[src_t]
            # dead products (-1) read the appended zero row of `live`
            res = Pg.run_xor(prog, a_all[src_t], b, secrets[sidx_t], live[lpos_t], lead)
            out[gs, :, blo:bhi] = res.transpose(1, 0, 2)
    if level.through.any():  # identity groups: forward the input shares, nothing was opened
        out[level.through] = prev[level.src[level.through][:, list(f.through)]]  # type: ignore[index]
    return out.reshape(out.shape[0] * out.shape[1], nb)


def _group_tables(level: Level, b_trivial: bool) -> list[np.ndarray]:
    """Per group: the formula's coefficient table restricted to the constant and the group's live
    products, contiguous (2^bits, nout, 1 + live of g) (cached on the level)."""
    cache = level.__dict__.setdefault("_group_tables_cache", {})
    if b_trivial not in cache:
        table = Pg.arith_table(level.formula, b_trivial)
        cache[b_trivial] = [
            np.ascontiguousarray(table[:, :, np.concatenate([[0], 1 + np.flatnonzero(live)])])
            for live in level.live
        ]
    return cache[b_trivial]


def _run_arith(
    level: Level,
    a_in: np.ndarray,
    b_in: np.ndarray | None,
    prods: np.ndarray | Lazy,
    lead: bool,
    numel: int,
    field: Field,
) -> np.ndarray:
    f = level.formula
    tables = _group_tables(level, b_in is None)
    used = list(f.used_vars)
    per = 1 if b_in is None else 2
    out = ring.zeros(field, (level.groups, len(f.outputs), numel))
    starts = np.concatenate([[0], np.cumsum(level.live.sum(axis=1))])
    for lo, hi in chunks(numel, ARITH_CHUNK):
        blo, bhi = lo // 8, nbytes_of(hi)
        rows = rows_of(prods, lo, hi)  # (chunk, n_live) this party's product shares
        for g in range(level.groups):
            src = level.resolved_src[g, used]
            index = np.zeros(hi - lo, np.intp)
            for j, bit in enumerate(unpack(a_in[src, blo:bhi], hi - lo)):
                index |= bit.astype(np.intp) << (per * j)
            if b_in is not None:
                for j, bit in enumerate(unpack(b_in[src, blo:bhi], hi - lo)):
                    index |= bit.astype(np.intp) << (per * j + 1)
            coef = np.take(tables[g], index, axis=0)  # (chunk, nout, 1 + live of g)
            mine = rows[:, starts[g] : starts[g + 1]]
            for o in range(len(f.outputs)):
                out[g, o, lo:hi] = _dot(coef[:, o], mine, lead, field)
    return out


def _dot(coef: np.ndarray, shares: np.ndarray, lead: bool, field: Field) -> np.ndarray:
    """sum_T coef[:, 1 + T] * shares[:, T] (+ coef[:, 0] on the lead party), in Z_2^k."""
    if field is Field.FM64:
        with np.errstate(over="ignore"):
            acc = np.einsum("ij,ij->i", coef[:, 1:].view(np.uint64), shares)
            return acc + coef[:, 0].view(np.uint64) if lead else acc
    acc = (
        ring_from_small(np.ascontiguousarray(coef[:, 0]), field) if lead else ring.zeros(field, coef.shape[0])
    )
    for t in range(shares.shape[1]):
        acc = ring.add(
            acc, ring.mul(ring_from_small(np.ascontiguousarray(coef[:, 1 + t]), field), shares[:, t])
        )
    return acc
