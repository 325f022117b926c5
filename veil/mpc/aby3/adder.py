"""Boolean carry circuits on packed bit shares: carry reduction (msb), AND tree (eqz), Kogge-Stone.

Each level is one `and_bits` call, i.e. one round and one packed message per party. The
`*_gates` functions give the AND gates per level for L input rows; the kernels' declared
costs are built from them, so cost and code cannot drift apart.

Generate/propagate algebra: (G, P) of a span hi:lo is (G_hi ^ (P_hi & G_lo), P_hi & P_lo);
G_hi and P_hi & G_lo are never both 1, so XOR is OR. The P of a span that starts at bit 0 is
never needed (there is no carry-in), which saves one gate per level.
"""

from __future__ import annotations

import numpy as np

from veil.mpc.aby3.boolean import and_bits
from veil.mpc.aby3.shares import Bits
from veil.mpc.context import ProtocolContext


def _vcat(*parts: Bits) -> Bits:
    return Bits(np.concatenate([p.s0 for p in parts]), np.concatenate([p.s1 for p in parts]))


def _zero_rows(like: Bits, rows: int) -> Bits:
    z = np.zeros((rows, like.s0.shape[1]), np.uint8)
    return Bits(z, z)


# ------------------------------------------------------------------------------- gate counts


def carry_tree_gates(width: int) -> list[int]:
    """AND gates per level of the carry reduction over `width` (G, P) rows."""
    out = []
    while width > 1:
        half = width // 2
        out.append(half + max(half - 1, 0))
        width -= half
    return out


def and_tree_gates(width: int) -> list[int]:
    """AND gates per level of an AND-reduction over `width` rows."""
    out = []
    while width > 1:
        half = width // 2
        out.append(half)
        width -= half
    return out


def kogge_stone_gates(width: int, start: int = 1) -> list[int]:
    """AND gates per level of a Kogge-Stone prefix over `width` (G, P) rows, from span `start`."""
    out = []
    d = start
    while d < width:
        out.append((width - d) + max(width - 2 * d, 0))
        d *= 2
    return out


# ---------------------------------------------------------------------------------- circuits


def carry_tree(ctx: ProtocolContext, g: Bits, p: Bits) -> Bits:
    """Carry out of the top of L (g, p) rows -> 1 row. Row 0 of p is never read."""
    while g.nrows > 1:
        width = g.nrows
        half = width // 2
        even, odd = slice(0, 2 * half, 2), slice(1, 2 * half, 2)
        g_lo, g_hi, p_lo, p_hi = g.rows(even), g.rows(odd), p.rows(even), p.rows(odd)
        rest = slice(1, None)
        pg, pp = and_bits(ctx, [(p_hi, g_lo), (p_hi.rows(rest), p_lo.rows(rest))])
        new_g, new_p = g_hi ^ pg, _vcat(_zero_rows(g, 1), pp)
        if width % 2:
            top = slice(width - 1, None)
            new_g, new_p = _vcat(new_g, g.rows(top)), _vcat(new_p, p.rows(top))
        g, p = new_g, new_p
    return g


def and_tree(ctx: ProtocolContext, z: Bits) -> Bits:
    """AND of all L rows -> 1 row."""
    while z.nrows > 1:
        width = z.nrows
        half = width // 2
        (prod,) = and_bits(ctx, [(z.rows(slice(0, 2 * half, 2)), z.rows(slice(1, 2 * half, 2)))])
        z = _vcat(prod, z.rows(slice(width - 1, None))) if width % 2 else prod
    return z


def kogge_stone(ctx: ProtocolContext, g: Bits, p: Bits, start: int = 1) -> Bits:
    """Prefix generates: row i of the result is G[i:0] (the carry into bit i + 1).

    `start` = d means row i already holds (G, P) of the span i..i-d+1 (1: single bits).
    """
    width = g.nrows
    d = start
    while d < width:
        pg, pp = and_bits(
            ctx,
            [
                (p.rows(slice(d, None)), g.rows(slice(0, width - d))),
                (p.rows(slice(2 * d, None)), p.rows(slice(d, width - d))),
            ],
        )
        g = _vcat(g.rows(slice(0, d)), g.rows(slice(d, None)) ^ pg)
        p = _vcat(p.rows(slice(0, 2 * d)), pp)
        d *= 2
    return g


def sum_bits(ctx: ProtocolContext, g: Bits, p: Bits, gp2: tuple[Bits, Bits] | None = None) -> Bits:
    """Sum bits (k rows) of two operands: from g on rows 0..k-2 and p on all k rows, or from
    the first level gp2 = (G, P) of spans (i, i-1) on rows 0..k-2 (P row 0 unused) and p."""
    k = p.nrows
    if gp2 is None:
        carries = kogge_stone(ctx, g, p.rows(slice(0, k - 1)))
    else:
        carries = kogge_stone(ctx, gp2[0], gp2[1], start=2)
    return p ^ _vcat(_zero_rows(p, 1), carries)


def with_dummy_row(p: Bits) -> Bits:
    """Prepend a zero row (for P planes that start at row 1)."""
    return _vcat(_zero_rows(p, 1), p)
