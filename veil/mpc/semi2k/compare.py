"""semi2k sign, zero test and arithmetic-to-boolean conversion with dealer-assisted circuits.

All three open c = x + r for a dealer edaBit r (arithmetic shares of r plus XOR shares of its
bit planes). With c public, x = c - r = c + ~r + 1, and every input bit of the circuit is an
affine function of one bit of u = ~r, so the first gate level is local; later levels open masked
bits (see `veil.mpc.circuits`). Rounds: 3 on FM64 and 4 on FM128 for all three; bytes per element
per party on FM64 2PC: msb 12.9, eqz 10.5, a2b 33.3.
"""

from __future__ import annotations

import numpy as np

from veil.mpc import circuits as C
from veil.mpc import ring
from veil.mpc.context import ProtocolContext
from veil.mpc.semi2k import correlations as D
from veil.mpc.semi2k.shares import lead, open_all

TAG_OPEN_C = "semi2k.circ.c"
TAG_LEVEL = "semi2k.circ.level"


def _carry_inputs(cp: np.ndarray, n_pos: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) planes of the direct inputs (G_j, P_j), j < n_pos: G_j = c_j & u_j, P_j = c_j ^ u_j,
    and G_0 = c_0 | u_0 (the carry-in 1 of c + ~r + 1 folded in)."""
    nb = cp.shape[1]
    a = np.zeros((n_pos, 2, nb), np.uint8)
    b = np.zeros((n_pos, 2, nb), np.uint8)
    b[:, 0] = cp[:n_pos]
    a[:, 1] = cp[:n_pos]
    b[:, 1] = C.ONES
    a[0, 0], b[0, 0] = cp[0], ~cp[0]
    return a.reshape(2 * n_pos, nb), b.reshape(2 * n_pos, nb)


def _run(ctx: ProtocolContext, x: np.ndarray, which: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Open c, then evaluate the plan. Returns (c planes, u shares, output of the last level)."""
    numel, k = x.size, ctx.k
    plan = D.PLANS[which](k)
    r_planes, r_arith, levels = ctx.dealer.get(D.CIRCUIT, k, numel, which)
    c = open_all(ctx, TAG_OPEN_C, ring.add(x.reshape(-1), r_arith))
    cp = C.planes_from_ring(c)
    u = r_planes ^ C.ONES if lead(ctx) else r_planes

    def open_xor(planes: np.ndarray) -> np.ndarray:
        return open_all(ctx, TAG_LEVEL, planes, xor=True)

    out: np.ndarray | None = None
    for i, level in enumerate(plan.levels):
        extra = _extra_inputs(which, level, cp, k) if level.n_extra else None
        masks, prods = levels[i]
        out = C.run_level(
            level, out, extra, u, C.LevelShares(masks, prods), open_xor, lead(ctx), numel, ctx.field
        )
    if out is None:  # pragma: no cover - every plan has levels
        raise ValueError(f"semi2k: empty circuit plan for kind {which}")
    return cp, u, out


def _extra_inputs(which: int, level: C.Level, cp: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    if level.n_prev == 0 and which in (D.MSB, D.A2B):
        return _carry_inputs(cp, level.n_extra // 2)
    if level.n_prev == 0:  # eqz: z_j = c_j ^ u_j (= NOT(c_j ^ r_j))
        return cp, np.full_like(cp, C.ONES)
    return cp[k - 1 : k], np.full_like(cp[:1], C.ONES)  # msb's Q = c_{k-1} ^ u_{k-1}


def msb_s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """Arithmetic 0/1 share of the sign bit."""
    _, _, out = _run(ctx, x, D.MSB)
    return out.reshape(x.shape)


def eqz_s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """Arithmetic 0/1 share of [x == 0]."""
    _, _, out = _run(ctx, x, D.EQZ)
    return out.reshape(x.shape)


def a2b(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """XOR shares of the k-bit value: bit j = c_j ^ u_j ^ carry_j (carry_0 = 1)."""
    cp, u, g = _run(ctx, x, D.A2B)  # g: prefix generate of positions 0..k-1
    bits = u.copy()
    if lead(ctx):
        bits ^= cp
        bits[0] ^= C.ONES
    bits[1:] ^= g[:-1]
    return C.ring_from_planes(bits, x.size, ctx.field).reshape(x.shape)
