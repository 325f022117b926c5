"""Compiled evaluation of gate formulas on masked inputs (cached per formula).

XOR mode: each output is XOR over slot sets T of coef_T & secret_T, where coef_T is an XOR of
products of public planes (a of the variables outside T, b of those in T). `xor_program` lists
the distinct products once (each one AND of an earlier product and a plane) and, per output and
T, which products to XOR. Evaluation is vectorized over that list (`_Vector`): products of one
depth are ONE gather-and-AND, coefficients are XORs of padded gathers (one per position, the
longest coefficient has a few products), each output one contiguous XOR-reduce of its terms,
so a program costs ~20 numpy calls instead of one per product and term (hundreds; on small
arrays each call is ~1 us of overhead whatever its size). (`ufunc.reduceat` along axis 0 would
be fewer calls but runs element by element: 4x slower on large planes.)

Arithmetic mode: every variable is v = alpha + beta s with alpha = a and beta = b (1 - 2a), so the
coefficient of each T is a small integer function of the group's public bits. `arith_table`
tabulates it for every assignment of the used variables' (a, b) bits; evaluation gathers one
row per element and takes a dot product with the party's product shares.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from veil.mpc.circuits.plan import PAD0, PAD1, Formula, terms

MAX_TABLE_BITS = 16  # arithmetic tables have 2^bits rows


@dataclass(frozen=True)
class XorProgram:
    """steps[i] = (left, f): product i = factor f AND product `left` (left < 0: factor f alone).
    Factor f < nvars is plane a[f], else b[f - nvars]. outputs[o] = ((slots, product ids, flip), ...):
    the coefficient of `slots` is the XOR of those products, complemented if `flip`."""

    nvars: int
    steps: tuple[tuple[int, int], ...]
    outputs: tuple[tuple[tuple[tuple[int, ...], tuple[int, ...], bool], ...], ...]
    vec: _Vector | None = None  # the same program as whole-array operations (see `_vectorize`)


@dataclass(frozen=True)
class _Entries:
    """The (coefficient, secret) terms that one party evaluates, all outputs concatenated.

    coef_rows[e] (padded with V's zero row) are the rows of V whose XOR is term e's
    coefficient; sec_rows[e] its secret row in S = [singles | product shares | ones];
    out_spans: (output, first term, end) for every output that has terms (others stay zero)."""

    coef_rows: np.ndarray  # (terms, longest coefficient)
    sec_rows: np.ndarray
    out_spans: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True)
class _Vector:
    """V = [a planes | b planes (unless b is trivial) | ones | zero | products of depth >= 2, by depth].

    depth_ops: (lo, hi, left rows, factor rows): V[lo:hi] = V[left] & V[factor]. Entries per
    party role: `lead` also has the public constant terms (secret = ones)."""

    nrows: int
    b_rows: bool
    ones_row: int
    depth_ops: tuple[tuple[int, int, np.ndarray, np.ndarray], ...]
    lead: _Entries
    other: _Entries


@functools.cache
def xor_program(formula: Formula, b_trivial: bool, pads: tuple[int, ...] | None = None) -> XorProgram:
    """Compile an XOR-mode formula (b_trivial: every b plane is all ones and is left out).

    `pads[v]` (PAD0 / PAD1, or 0 for a real input) specialises the program to groups whose
    variable v is a constant: a PAD0 factor kills its terms, a PAD1 factor drops out, and terms
    on a pad's slot (whose secret is the zero bit) vanish, as do b factors of pads (b = 0).
    """
    pads = pads or (0,) * formula.nvars
    dead = [False] * formula.nslots
    for v, slot in enumerate(formula.slot_of):
        dead[slot] = pads[v] < 0  # as `Level.live`: the slot's secret is its last variable's
    ids: dict[tuple[int, ...], int] = {}
    steps: list[tuple[int, int]] = []

    def product(key: tuple[int, ...]) -> int:
        if key not in ids:
            left = product(key[:-1]) if len(key) > 1 else -1
            ids[key] = len(steps)
            steps.append((left, key[-1]))
        return ids[key]

    outputs = []
    for out_terms in terms(formula):
        parity: dict[tuple[int, ...], dict[tuple[int, ...], int]] = {}
        for coef, pub, sub, slots in out_terms:
            if coef % 2 == 0 or any(pads[v] == PAD0 for v in pub) or any(dead[t] for t in slots):
                continue
            if not b_trivial and any(pads[v] < 0 for v in sub):
                continue
            pub_key = tuple(sorted(v for v in pub if pads[v] != PAD1))
            key = pub_key + (() if b_trivial else tuple(formula.nvars + v for v in sorted(sub)))
            par = parity.setdefault(slots, {})
            par[key] = par.get(key, 0) ^ 1
        entries = []
        for slots, par in sorted(parity.items()):
            keys = [k for k, p in par.items() if p]
            flip = () in keys
            prods = tuple(product(k) for k in keys if k)
            if prods or flip:
                entries.append((slots, prods, flip))
        outputs.append(tuple(entries))
    prog = XorProgram(formula.nvars, tuple(steps), tuple(outputs))
    vec = _vectorize(prog, b_trivial, formula.nslots, {sub: i for i, sub in enumerate(formula.subsets)})
    return XorProgram(prog.nvars, prog.steps, prog.outputs, vec)


def _vectorize(prog: XorProgram, b_trivial: bool, nslots: int, col: dict[tuple[int, ...], int]) -> _Vector:
    """Lay `prog` out for `run_xor`: rows of V per product, gathers per depth, reduceat segments."""
    nv = prog.nvars
    n_fac = nv if b_trivial else 2 * nv
    ones = n_fac
    row: list[int] = []  # V row of each product
    depth: list[int] = []
    for left, f in prog.steps:
        depth.append(1 if left < 0 else depth[left] + 1)
        row.append(f if left < 0 else -1)  # single factors are their plane's row; others below
    zero = ones + 1
    nxt = zero + 1
    ops = []
    for d in range(2, max(depth, default=1) + 1):
        ids = [i for i, dd in enumerate(depth) if dd == d]
        for j, i in enumerate(ids):
            row[i] = nxt + j
        lefts = np.array([row[prog.steps[i][0]] for i in ids], np.intp)
        facs = np.array([prog.steps[i][1] for i in ids], np.intp)
        ops.append((nxt, nxt + len(ids), lefts, facs))
        nxt += len(ids)
    s_ones = nslots + len(col)

    def entries(lead: bool) -> _Entries:
        coefs: list[list[int]] = []
        sec: list[int] = []
        spans = []
        for o, ents in enumerate(prog.outputs):
            first = len(sec)
            for slots, ids, flip in ents:
                if not slots and not lead:
                    continue  # a public constant term: the lead party adds it
                coefs.append([row[i] for i in ids] + ([ones] if flip else []))  # flip: + constant 1
                sec.append(s_ones if not slots else slots[0] if len(slots) == 1 else nslots + col[slots])
            if len(sec) > first:
                spans.append((o, first, len(sec)))
        width = max((len(c) for c in coefs), default=1)
        padded = np.array([c + [zero] * (width - len(c)) for c in coefs], np.intp).reshape(len(coefs), width)
        return _Entries(padded, np.array(sec, np.intp), tuple(spans))

    return _Vector(nxt, not b_trivial, ones, tuple(ops), entries(True), entries(False))


def run_xor(
    prog: XorProgram,
    a: np.ndarray,
    b: np.ndarray | None,
    singles: np.ndarray,
    prod_share: np.ndarray,
    lead: bool,
) -> np.ndarray:
    """XOR shares of each output, packed (nout, groups, nb), for one chunk of planes.

    Variable-major layout (every plane one contiguous block): a, b: public planes
    (nvars, groups, nb) (b None: all ones; pass it iff the program was compiled with a
    non-trivial b); singles: this party's shares of each slot's secret (nslots, groups, nb);
    prod_share: its shares of the dealer products (nsub, groups, nb), in `formula.subsets` order.
    """
    vec = prog.vec
    if vec is None:  # pragma: no cover - xor_program always vectorizes
        raise ValueError("circuits.run_xor: program was not compiled by xor_program")
    if vec.b_rows != (b is not None):
        raise ValueError("circuits.run_xor: b planes must be given iff the program uses them")
    rest = a.shape[1:]
    nv = prog.nvars
    v = np.empty((vec.nrows,) + rest, np.uint8)
    v[:nv] = a
    if b is not None:
        v[nv : 2 * nv] = b
    v[vec.ones_row] = 0xFF
    v[vec.ones_row + 1] = 0
    for lo, hi, left, fac in vec.depth_ops:
        np.bitwise_and(v[left], v[fac], out=v[lo:hi])
    ent = vec.lead if lead else vec.other
    out = np.zeros((len(prog.outputs),) + rest, np.uint8)
    if not ent.out_spans:
        return out
    coef = v[ent.coef_rows[:, 0]]
    for j in range(1, ent.coef_rows.shape[1]):
        coef ^= v[ent.coef_rows[:, j]]
    pool = np.concatenate([singles, prod_share, np.full((1,) + rest, 0xFF, np.uint8)])
    terms = np.bitwise_and(coef, pool[ent.sec_rows], out=coef)
    for o, lo, hi in ent.out_spans:
        np.bitwise_xor.reduce(terms[lo:hi], axis=0, out=out[o])
    return out


@functools.cache
def arith_table(formula: Formula, b_trivial: bool) -> np.ndarray:
    """(2^bits, nout, 1 + nsub) int64: per assignment of the used variables' public bits, the
    constant term (column 0) and the coefficient of every dealer product (column 1 + i for
    formula.subsets[i]). Bit j (b_trivial) or bits 2j, 2j+1 (a, b) belong to used_vars[j]."""
    used = formula.used_vars
    per = 1 if b_trivial else 2
    if per * len(used) > MAX_TABLE_BITS:
        raise ValueError(f"circuits: arithmetic formula over {len(used)} variables is too wide to tabulate")
    idx = np.arange(1 << (per * len(used)), dtype=np.int64)
    alpha, beta = {}, {}
    for j, v in enumerate(used):
        alpha[v] = (idx >> (per * j)) & 1
        b = 1 if b_trivial else (idx >> (per * j + 1)) & 1
        beta[v] = b * (1 - 2 * alpha[v])
    col = {s: 1 + i for i, s in enumerate(formula.subsets)}
    col[()] = 0
    table = np.zeros((idx.size, len(formula.outputs), 1 + len(formula.subsets)), np.int64)
    for o, out_terms in enumerate(terms(formula)):
        for coef, pub, sub, slots in out_terms:
            val = np.full(idx.size, coef, np.int64)
            for v in pub:
                val = val * alpha[v]
            for v in sub:
                val = val * beta[v]
            table[:, o, col[slots]] += val
    return table
