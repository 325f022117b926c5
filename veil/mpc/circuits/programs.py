"""Compiled evaluation of gate formulas on masked inputs (cached per formula).

XOR mode: each output is XOR over slot sets T of coef_T & secret_T, where coef_T is an XOR of
products of public planes (a of the variables outside T, b of those in T). `xor_program` lists
the distinct products once (each one AND of an earlier product and a plane) and, per output and
T, which products to XOR, so evaluation is a straight run of whole-plane numpy operations.

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
    return XorProgram(formula.nvars, tuple(steps), tuple(outputs))


def run_xor(
    prog: XorProgram,
    a: np.ndarray,
    b: np.ndarray | None,
    singles: np.ndarray,
    prod_share: np.ndarray,
    prod_col: dict[tuple[int, ...], int],
    lead: bool,
) -> np.ndarray:
    """XOR shares of each output, packed (groups, nout, nb), for one chunk of planes.

    a, b: public planes (groups, nvars, nb) (b None: all ones); singles: this party's shares of
    each slot's secret (groups, nslots, nb); prod_share: its shares of the dealer products
    (groups, nsub, nb), column prod_col[T] for slot set T.
    """
    groups, _, nb = a.shape
    nv = prog.nvars
    prods: list[np.ndarray] = []
    for left, f in prog.steps:
        plane = a[:, f] if f < nv else b[:, f - nv]  # type: ignore[index]
        prods.append(plane if left < 0 else prods[left] & plane)
    out = np.zeros((groups, len(prog.outputs), nb), np.uint8)
    for o, entries in enumerate(prog.outputs):
        acc = out[:, o]
        for slots, ids, flip in entries:
            c = prods[ids[0]] if ids else None
            for i in ids[1:]:
                c = c ^ prods[i]
            if flip and c is not None:
                c = ~c
            if not slots:
                if lead:
                    acc ^= c if c is not None else np.uint8(0xFF)
                continue
            sec = singles[:, slots[0]] if len(slots) == 1 else prod_share[:, prod_col[slots]]
            acc ^= sec if c is None else c & sec
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
