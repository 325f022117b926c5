"""ABY3 share conversions and comparisons: a2b, b2a, bit2a, rand_bits_s, msb_s, eqz_s.

All of them split x = x0 + (x1 + x2): component x0 is known to parties 0 and 2, so its boolean
sharing is local, and u = x1 + x2 is private to party 1. The first round produces the adder's
first carry level directly (`pairs.pair_level`) instead of a full-adder layer plus two AND
layers; a final bit is made arithmetic by `ot.bit2a_bits` (1 round). Costs on FM64 (bytes per
element, all parties / party 0):
- msb_s: 1 + 5 carry-tree levels + 1 = 7 rounds, 92.8 / 23.0 B (SPU ABY3 'less': 8, 108 / 36)
- eqz_s: 1 (share u) + 6 AND-tree levels + 1 = 8 rounds, 63.6 / 15.9 B
- a2b: 1 + 5 Kogge-Stone levels = 6 rounds, 229.5 B; b2a (A fully shared, so its first round
  gives only g, p: `ot.adder_inputs`): 1 + 6 + 1 (open to parties 0 and 2) = 8 rounds, 276.4 B
"""

from __future__ import annotations

import numpy as np

from veil.mpc import ring
from veil.mpc.aby3.adder import and_tree, carry_tree, sum_bits, with_dummy_row
from veil.mpc.aby3.ot import adder_inputs, bit2a_bits, share_private_bits
from veil.mpc.aby3.pairs import pair_level
from veil.mpc.aby3.shares import (
    Bits,
    bits_not,
    check_world,
    contig,
    nbytes_of,
    nxt,
    pack,
    plane_to_bits,
    planes_from_ring,
    prv,
    ring_from_planes,
    unpack,
)
from veil.mpc.context import ProtocolContext

TAG_B2A_OPEN = "aby3.b2a.open"
BIT2A_SENDER = 2


def _planes0(
    ctx: ProtocolContext, x: np.ndarray, negate0: bool = False
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(bits of component x0 (or -x0) at parties 0 and 2, bits of u = x1 + x2 at party 1)."""
    check_world(ctx, "msb_s")
    s0, s1 = unpack(x)
    if ctx.rank == 1:
        return None, planes_from_ring(ring.add(s0, s1))
    comp0 = s0 if ctx.rank == 0 else s1
    return planes_from_ring(ring.neg(comp0) if negate0 else comp0), None


def _to_bits(b: Bits, shape: tuple[int, ...]) -> Bits:
    """A one-row plane share -> 0/1 arrays of the logical shape (for bit2a)."""
    numel = int(np.prod(shape, dtype=np.int64))
    return Bits(*(plane_to_bits(c[0], numel).reshape(shape) for c in b))


def msb_s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """Arithmetic 0/1 share of the sign bit: carry into bit k-1 of x0 + u, xor p_{k-1}.

    Round 1 gives (G, P) of the spans {0}, {1, 2}, ..., {k-3, k-2} (`pairs.pair_level`), a
    carry tree over those k/2 spans follows, then bit2a.
    """
    k, shape = ctx.k, np.shape(x)
    c, u = _planes0(ctx, x)
    hi = np.arange(0, k - 1, 2)
    g, p_span, p = pair_level(ctx, c, u, hi, hi - 1, 1, nbytes_of(int(np.prod(shape, dtype=np.int64))))
    carry = carry_tree(ctx, g, with_dummy_row(p_span))
    top = p.rows(slice(k - 1, k)) ^ carry
    return bit2a_bits(ctx, _to_bits(top, shape), ctx.field, BIT2A_SENDER)


def eqz_s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """Arithmetic 0/1 share of [x == 0] = AND of the bits of ~((-x0) ^ u)."""
    k, shape = ctx.k, np.shape(x)
    c, u = _planes0(ctx, x, negate0=True)
    nb = nbytes_of(int(np.prod(shape, dtype=np.int64)))
    zero = np.zeros((k, nb), np.uint8)
    a = Bits(zero, zero) if c is None else (Bits(c, zero) if ctx.rank == 0 else Bits(zero, c))
    z = a ^ share_private_bits(ctx, u, k, nb)
    eq = and_tree(ctx, bits_not(ctx, z))
    return bit2a_bits(ctx, _to_bits(eq, shape), ctx.field, BIT2A_SENDER)


def a2b(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    """Arithmetic -> boolean (all k bits): Kogge-Stone adder of x0 and u whose first level
    comes out of round 1 (`pairs.pair_level`); 6 rounds on FM64."""
    k, shape, field = ctx.k, np.shape(x), ctx.field
    numel = int(np.prod(shape, dtype=np.int64))
    c, u = _planes0(ctx, x)
    hi = np.arange(k - 1)
    g, p_span, p = pair_level(ctx, c, u, hi, hi - 1, 1, nbytes_of(numel))
    s = sum_bits(ctx, g, p, gp2=(g, with_dummy_row(p_span)))
    return pack(*(ring_from_planes(comp, numel, field).reshape(shape) for comp in s))


def b2a(ctx: ProtocolContext, b: np.ndarray) -> np.ndarray:
    """Boolean -> arithmetic: output components 1, 2 are pair randomness rho1, rho2; component 0 =
    x - rho1 - rho2 is computed by a boolean adder (u = -(rho1 + rho2) known to party 1) and
    opened to parties 0 and 2 only."""
    check_world(ctx, "b2a")
    field, shape, k, rank = ctx.field, np.shape(b), ctx.k, ctx.rank
    s0, s1 = unpack(b)
    numel = int(s0.size)
    rho_prev = ctx.prg.pair(prv(rank)).ring(field, shape) if rank in (1, 2) else None
    rho_next = ctx.prg.pair(nxt(rank)).ring(field, shape) if rank in (0, 1) else None
    u = None
    if rank == 1 and rho_prev is not None and rho_next is not None:
        u = planes_from_ring(ring.neg(ring.add(rho_prev, rho_next)))
    g, p = adder_inputs(ctx, Bits(planes_from_ring(s0), planes_from_ring(s1)), u, k - 1)
    s = sum_bits(ctx, g, p)
    if rank == 1:
        return pack(np.asarray(rho_prev), np.asarray(rho_next))
    peer = 2 if rank == 0 else 0
    ctx.link.send(peer, TAG_B2A_OPEN, contig(s.s1 if rank == 0 else s.s0))
    missing = np.asarray(ctx.link.recv(peer, TAG_B2A_OPEN)).reshape(s.s0.shape)
    y0 = ring_from_planes(s.s0 ^ s.s1 ^ missing, numel, field).reshape(shape)
    return pack(y0, np.asarray(rho_next)) if rank == 0 else pack(np.asarray(rho_prev), y0)


def bit2a(ctx: ProtocolContext, b: np.ndarray) -> np.ndarray:
    """Boolean share of a single bit (bit 0 of the container) -> arithmetic 0/1 share; 1 round."""
    s0, s1 = unpack(b)
    bits = Bits(*(ring.to_int64(ring.bit(c, 0)).astype(np.uint8) for c in (s0, s1)))
    return bit2a_bits(ctx, bits, ring.field_of(s0), BIT2A_SENDER)


def rand_bits_s(ctx: ProtocolContext, shape: tuple[int, ...]) -> np.ndarray:
    """Arithmetic shares of uniform random bits: free replicated random XOR bits, then bit2a."""
    shape = tuple(shape)
    bits = Bits(ctx.prg.pair(prv(ctx.rank)).bits(shape), ctx.prg.pair(nxt(ctx.rank)).bits(shape))
    return bit2a_bits(ctx, bits, ctx.field, BIT2A_SENDER)
