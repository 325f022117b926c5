"""The circuits semi2k evaluates with `veil.mpc.circuits`: gate formulas and level plans.

msb(x), with x = c - r = c + ~r + 1 and c = x + r public, needs only the carry into bit k-1: a
radix-4 reduction of (generate, propagate) pairs whose first level is direct (local), ending in
an arithmetic level for msb = Q ^ carry. eqz is a radix-4 AND tree of the bits c_j ^ ~r_j. a2b
is a radix-4 Sklansky prefix giving every carry. On 64 bits each has two masked levels.
"""

from __future__ import annotations

import functools

import numpy as np

from veil.mpc.circuits import PAD0, PAD1, Formula, Level, Plan, Poly


def _carry_monomials(radix: int) -> list[tuple[int, ...]]:
    """Group generate G = XOR_i G_i P_{i+1} ... P_{R-1}; variables G_i = 2i, P_i = 2i + 1."""
    return [(2 * i, *(2 * j + 1 for j in range(i + 1, radix))) for i in range(radix)]


@functools.cache
def carry_formula(radix: int, direct: bool, with_p: bool = True) -> Formula:
    """(G, P) of `radix` (generate, propagate) pairs, least significant first (XOR mode).

    G-terms are mutually exclusive (G_i and P_i never both 1), so XOR equals OR here.
    `direct`: G_i and P_i are functions of one data bit (slot i); else every variable is masked.
    """
    g_poly = tuple((1, m) for m in _carry_monomials(radix))
    outs: tuple[Poly, ...] = (g_poly,)
    if with_p:
        outs += (((1, tuple(2 * j + 1 for j in range(radix))),),)
    slots = tuple(v // 2 for v in range(2 * radix)) if direct else tuple(range(2 * radix))
    top = (2 * radix - 2, 2 * radix - 1)[: len(outs)]  # (G, P) of the top member
    return Formula(2 * radix, slots, outs, through=top, through_pads=tuple(range(2 * radix - 2)))


@functools.cache
def msb_final_formula(radix: int) -> Formula:
    """Arithmetic msb = Q ^ carry = Q + carry - 2 Q carry, with Q = c_{k-1} ^ ~r_{k-1} (var 2R).

    carry = sum_i G_i P_{i+1}..P_{R-1} over the integers (the terms are mutually exclusive).
    """
    q = 2 * radix
    poly: list[tuple[int, tuple[int, ...]]] = [(1, (q,))]
    for m in _carry_monomials(radix):
        poly += [(1, m), (-2, (q, *m))]
    return Formula(2 * radix + 1, tuple(range(2 * radix + 1)), (tuple(poly),), arith=True)


@functools.cache
def and_formula(radix: int, arith: bool) -> Formula:
    """AND of `radix` variables (each its own slot)."""
    return Formula(radix, tuple(range(radix)), (((1, tuple(range(radix))),),), arith=arith)


def _pair_src(pos: np.ndarray, n_pos: int, base: int) -> np.ndarray:
    """(groups, R) positions -> (groups, 2R) sources of (G, P) pairs; out-of-range positions pad."""
    ok = (pos >= 0) & (pos < n_pos)
    g = np.where(ok, base + 2 * pos, PAD0)
    p = np.where(ok, base + 2 * pos + 1, PAD1)
    return np.stack([g, p], axis=-1).reshape(pos.shape[0], -1)


def _tree_positions(n: int, radix: int) -> np.ndarray:
    groups = -(-n // radix)
    return np.arange(groups * radix).reshape(groups, radix)


@functools.cache
def msb_plan(k: int) -> Plan:
    """Carry into bit k-1 of c + ~r + 1 (positions 0..k-2), then the arithmetic msb."""
    n = k - 1
    pos = _tree_positions(n, 4)
    levels = [
        Level(carry_formula(4, direct=True), _pair_src(pos, n, 0), 0, 2 * n, tuple(np.arange(2 * n) // 2))
    ]
    n = pos.shape[0]
    while n > 4:
        pos = _tree_positions(n, 4)
        levels.append(Level(carry_formula(4, direct=False), _pair_src(pos, n, 0), 2 * n, 0, ()))
        n = pos.shape[0]
    src = np.concatenate([_pair_src(np.arange(n)[None, :], n, 0), [[2 * n]]], axis=1)
    levels.append(Level(msb_final_formula(n), src, 2 * n, 1, (k - 1,)))
    return Plan(k, tuple(levels))


@functools.cache
def eqz_plan(k: int) -> Plan:
    """AND of the k bits c_j ^ ~r_j (all ones iff x == 0): radix-4 tree, arithmetic last level."""
    pos = _tree_positions(k, 4)
    src = np.where(pos < k, pos, PAD1)
    levels = [Level(and_formula(4, False), src, 0, k, tuple(range(k)))]
    n = pos.shape[0]
    while n > 4:
        pos = _tree_positions(n, 4)
        levels.append(Level(and_formula(4, False), np.where(pos < n, pos, PAD1), n, 0, ()))
        n = pos.shape[0]
    levels.append(Level(and_formula(n, True), np.arange(n)[None, :], n, 0, ()))
    return Plan(k, tuple(levels))


@functools.cache
def a2b_plan(k: int) -> Plan:
    """Radix-4 Sklansky prefix over all k positions: every carry of c + ~r + 1.

    Level l splits positions into blocks of radix sub-blocks of `span` positions; position i in
    sub-block t combines its own prefix with the totals (top positions) of sub-blocks 0..t-1 of
    its block, padded at the low end. Pads make most groups small, and their products vanish.
    """
    levels: list[Level] = []
    span = 1
    while span < k:
        radix = min(4, -(-k // span))
        i = np.arange(k)
        block, t = i // (span * radix), (i % (span * radix)) // span
        s = np.arange(radix)[None, :] - (radix - 1 - t[:, None])  # member sub-block, lowest first
        tops = block[:, None] * span * radix + (s + 1) * span - 1
        pos = np.where(s < 0, -1, np.where(s == t[:, None], i[:, None], tops))
        last = span * radix >= k
        formula = carry_formula(radix, direct=not levels, with_p=not last)
        if not levels:
            levels.append(Level(formula, _pair_src(pos, k, 0), 0, 2 * k, tuple(np.arange(2 * k) // 2)))
        else:
            levels.append(Level(formula, _pair_src(pos, k, 0), 2 * k, 0, ()))
        span *= radix
    return Plan(k, tuple(levels))
