"""One-round gadgets where party S knows a private value and two receivers hold a choice bit.

Component S+2 of a replicated sharing is held by R1 = S+1 and R2 = S+2 only, so its bits c
can steer both receivers, while S knows components S and S+1. Each receiver is the other's
helper: what S sends to R1 is masked with randomness of (S, R2), what it sends to R2 with
randomness of (S, R1), and each helper sends the correction its partner needs. S receives
nothing; each receiver sees only values masked by randomness it does not know. Both gadgets
use that the wanted value is linear in S's secret with a coefficient the receivers know, so
they need one masked value per receiver instead of an OT's two.

- `adder_inputs` (b2a): generate/propagate bits of A + u (A replicated, u private to party 1):
  g = A & u = (a0 & u) ^ L with L = (a1 ^ a2) & u known to party 1, and c = a0. The masked u
  party 0 receives is also its share of p = A ^ u. One round; party 1 sends k + 3|g| planes,
  parties 0 and 2 |g| each. (`pairs.pair_level` does the same for A = a0 one level further.)
- `bit2a_bits`: arithmetic share of c ^ d = c + (1 - 2c) d for S's bit d. One round, 4 ring
  elements per bit in total (a plain 1-of-2 OT would need 6).
"""

from __future__ import annotations

import numpy as np

from veil.config import Field
from veil.mpc import ring
from veil.mpc.aby3.shares import Bits, bit_to_ring, check_world, contig, pack, rand_planes
from veil.mpc.context import ProtocolContext
from veil.mpc.prg import AesCtrStream

TAG_OT_MSG = "aby3.ot.msg"
TAG_OT_HELP = "aby3.ot.help"
TAG_USHARE = "aby3.ushare"
TAG_B2A_MSG = "aby3.bit2a.msg"
TAG_B2A_HELP = "aby3.bit2a.help"
OWNER_U = 1  # the party that holds x1 + x2 (components 1 and 2)


def _roles(sender: int) -> tuple[int, int]:
    return (sender + 1) % 3, (sender + 2) % 3


def share_private_bits(ctx: ProtocolContext, u: np.ndarray | None, rows: int, nbytes: int) -> Bits:
    """Party 1's private bit planes u as a replicated sharing (0, u ^ t, t): one message to 0."""
    zero = np.zeros((rows, nbytes), np.uint8)
    if ctx.rank == OWNER_U:
        if u is None:
            raise ValueError("aby3.share_private_bits: party 1 must pass its bits")
        t = rand_planes(ctx.prg.pair(2), rows, nbytes)
        ut = u ^ t
        ctx.link.send(0, TAG_USHARE, ut)
        return Bits(ut, t)
    if ctx.rank == 0:
        return Bits(zero, np.asarray(ctx.link.recv(OWNER_U, TAG_USHARE)).reshape(rows, nbytes))
    return Bits(rand_planes(ctx.prg.pair(OWNER_U), rows, nbytes), zero)


def adder_inputs(ctx: ProtocolContext, a: Bits, u: np.ndarray | None, g_rows: int) -> tuple[Bits, Bits]:
    """(g on rows 0..g_rows-1, p on all k rows) = (A & u, A ^ u) for k bit planes, one round.

    `a` is this party's share of A; `u` is party 1's private planes, None elsewhere. With
    c = a0 (held by parties 0 and 2) and L = (a1 ^ a2) & u (known to party 1), g = (c & u) ^ L.
    Output g = (v0, v1, v2) with v1, v2 pair randomness and v0 = g ^ v1 ^ v2: party 0 gets
    U0 = u ^ t (also its share of p) and L ^ tau0 from party 1, H0 = (c & t) ^ v2 ^ tau0 from
    party 2; party 2 gets U2 = u ^ s, L ^ tau2 and H2 = (c & s) ^ v1 ^ tau2 from party 0.
    Each computes v0 = (c & U) ^ (L ^ tau) ^ H ^ v_own.
    """
    k, nb = a.s0.shape
    g = slice(0, g_rows)
    if ctx.rank == OWNER_U:
        if u is None:
            raise ValueError("aby3.adder_inputs: party 1 must pass its private operand")
        v1, s, tau2 = _draws(ctx.prg.pair(0), g_rows, nb)
        v2, t, tau0 = _draws(ctx.prg.pair(2), g_rows, nb, k)
        u0 = u ^ t
        l_bits = (a.s0 ^ a.s1)[g] & u[g]
        ctx.link.send(0, TAG_OT_MSG, np.concatenate([u0, l_bits ^ tau0]))
        ctx.link.send(2, TAG_OT_MSG, np.concatenate([u[g] ^ s, l_bits ^ tau2]))
        return Bits(v1, v2), Bits(a.s0 ^ u0, a.s1 ^ t)
    if ctx.rank == 0:
        c = a.s0[g]
        v1, s, tau2 = _draws(ctx.prg.pair(OWNER_U), g_rows, nb)
        ctx.link.send(2, TAG_OT_HELP, (c & s) ^ v1 ^ tau2)
        got = np.asarray(ctx.link.recv(OWNER_U, TAG_OT_MSG)).reshape(k + g_rows, nb)
        h = np.asarray(ctx.link.recv(2, TAG_OT_HELP)).reshape(g_rows, nb)
        return Bits((c & got[g]) ^ got[k:] ^ h ^ v1, v1), Bits(a.s0, a.s1 ^ got[:k])
    c = a.s1[g]
    v2, t, tau0 = _draws(ctx.prg.pair(OWNER_U), g_rows, nb, k)
    ctx.link.send(0, TAG_OT_HELP, (c & t[g]) ^ v2 ^ tau0)
    got = np.asarray(ctx.link.recv(OWNER_U, TAG_OT_MSG)).reshape(2 * g_rows, nb)
    h = np.asarray(ctx.link.recv(0, TAG_OT_HELP)).reshape(g_rows, nb)
    return Bits(v2, (c & got[g]) ^ got[g_rows:] ^ h ^ v2), Bits(a.s0 ^ t, a.s1)


def _draws(
    stream: AesCtrStream, rows: int, nb: int, mask_rows: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v, mask of u, mask of L) from one pair stream, in a fixed order on both sides."""
    v = rand_planes(stream, rows, nb)
    mask = rand_planes(stream, rows if mask_rows is None else mask_rows, nb)
    return v, mask, rand_planes(stream, rows, nb)


def bit2a_bits(ctx: ProtocolContext, b: Bits, field: Field, sender: int = 2) -> np.ndarray:
    """Arithmetic share of shared bits in one round; here b holds 0/1 uint8 arrays of the
    logical shape (not planes).

    S knows d = b_S ^ b_{S+1}; the receivers know c = b_{S+2}. Output components S and S+1 are
    pair randomness rho_a (S, R2) and rho_b (S, R1); component S+2 is
        y = c + (1 - 2c) d - rho_a - rho_b.
    R1 gets D1 = d + sigma1 from S and H1 = (1 - 2c) sigma1 + rho_a from R2 (sigma1 is S and
    R2's), so y = c + (1 - 2c) D1 - H1 - rho_b; symmetrically for R2.
    """
    check_world(ctx, "bit2a")
    shape = b.s0.shape
    r1, r2 = _roles(sender)
    if ctx.rank == sender:
        rho_a, sigma1 = (ctx.prg.pair(r2).ring(field, shape) for _ in range(2))
        rho_b, sigma2 = (ctx.prg.pair(r1).ring(field, shape) for _ in range(2))
        d = bit_to_ring(b.s0 ^ b.s1, field)
        ctx.link.send(r1, TAG_B2A_MSG, contig(ring.add(d, sigma1)))
        ctx.link.send(r2, TAG_B2A_MSG, contig(ring.add(d, sigma2)))
        return pack(rho_a, rho_b)
    partner = r2 if ctx.rank == r1 else r1
    rho, sigma = (ctx.prg.pair(sender).ring(field, shape) for _ in range(2))  # my pair with S
    c_bits = b.s1 if ctx.rank == r1 else b.s0
    c = np.asarray(c_bits, dtype=bool)
    ctx.link.send(partner, TAG_B2A_HELP, contig(ring.add(_signed(c, sigma), rho)))
    D = np.asarray(ctx.link.recv(sender, TAG_B2A_MSG)).reshape(shape)
    H = np.asarray(ctx.link.recv(partner, TAG_B2A_HELP)).reshape(shape)
    y = ring.sub(ring.sub(ring.add(bit_to_ring(c_bits, field), _signed(c, D)), H), rho)
    return pack(rho, y) if ctx.rank == r1 else pack(y, rho)


def _signed(c: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(1 - 2c) x for bits c: x where c = 0, -x where c = 1."""
    return np.where(c, ring.neg(x), x)
