"""First carry level of x0 + u in one round, without any AND layer (used by msb_s and a2b).

x0's bits c are known to parties 0 and 2 (component 0), u = x1 + x2 to party 1. For a pair of
positions (l, h), with g = c & u and p = c ^ u, the first level's generate and propagate are

    G = g_h ^ p_h g_l = c_h U_h ^ (c_h c_l) U_l ^ c_l Q
    P = p_h p_l       = c_h c_l ^ c_l U_h ^ c_h U_l ^ Q            (U = u bits, Q = u_h u_l),

linear in party 1's bits (U_h, U_l, Q) with coefficients the receivers (0 and 2) know. So
party 1 sends each receiver U and Q masked with randomness of (1, other receiver), and the
other receiver, who knows those masks and c, sends the correction plus its share randomness:
    party 0 gets U0 = u ^ t, Q ^ sq from 1 and HG = c_h t_h ^ c_h c_l t_l ^ c_l sq ^ v2 from 2,
    and computes G ^ v1 ^ v2 = c_h U0_h ^ c_h c_l U0_l ^ c_l Q0 ^ HG ^ v1   (same for P);
party 2 symmetrically with masks of (0, 1) and its helper party 0. Each receiver sees values
masked by randomness it does not know. U0 doubles as party 0's share of p = c ^ u.

A virtual lower position (lo = -1: c_l = 0, U_l = 0, Q = 0) gives G = g_h for a single
position. Rows before `p_from` get no P (the lowest span never needs one).
"""

from __future__ import annotations

import numpy as np

from veil.mpc.aby3.ot import OWNER_U
from veil.mpc.aby3.shares import Bits, rand_planes
from veil.mpc.context import ProtocolContext
from veil.mpc.prg import AesCtrStream

TAG_PAIR_MSG = "aby3.pair.msg"
TAG_PAIR_HELP = "aby3.pair.help"


def _take(planes: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows idx of planes; row -1 (virtual) reads as zeros."""
    out = planes[np.maximum(idx, 0)]
    out[idx < 0] = 0
    return out


def _expand_q(q_real: np.ndarray, real: np.ndarray, nb: int) -> np.ndarray:
    q = np.zeros((real.size, nb), np.uint8)
    q[real] = q_real
    return q


def _linear(
    c: np.ndarray, ub: np.ndarray, q: np.ndarray, hi: np.ndarray, lo: np.ndarray, p_from: int, const: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(G, P) with `ub` in place of u and `q` in place of u_h u_l (P rows from p_from).

    const=False drops P's constant term c_h c_l: that is the helper's correction, the part
    of the receiver's (G, P) that comes from the masks.
    """
    ch, cl = c[hi], _take(c, lo)
    uh, ul = ub[hi], _take(ub, lo)
    chl = ch & cl
    g = (ch & uh) ^ (chl & ul) ^ (cl & q)
    s = slice(p_from, None)
    p = (cl[s] & uh[s]) ^ (ch[s] & ul[s]) ^ q[s]
    return g, (p ^ chl[s] if const else p)


def _draws(stream: AesCtrStream, n_g: int, n_p: int, n_u: int, n_q: int, nb: int) -> list[np.ndarray]:
    """(vG, vP, mask of u, mask of Q) from one pair stream, in the same order on both sides."""
    return [rand_planes(stream, n, nb) for n in (n_g, n_p, n_u, n_q)]


def pair_level(
    ctx: ProtocolContext,
    c: np.ndarray | None,
    u: np.ndarray | None,
    hi: np.ndarray,
    lo: np.ndarray,
    p_from: int,
    nb: int,
) -> tuple[Bits, Bits, Bits]:
    """(G rows, P rows from p_from, p = c ^ u on all k rows) as replicated bit planes; one round.

    `c` (parties 0 and 2) and `u` (party 1) are (k, nb) planes; positions in hi/lo are < k - 1.
    """
    planes = c if c is not None else u
    if planes is None or hi.size == 0 or int(hi.max()) >= planes.shape[0] - 1 or np.any(lo >= hi):
        raise ValueError(f"aby3.pair_level: party {ctx.rank}: need bit planes and positions lo < hi < k - 1")
    k = planes.shape[0]
    real = lo >= 0
    n_g, n_p, n_q = hi.size, hi.size - p_from, int(real.sum())
    rank = ctx.rank
    if rank == OWNER_U:
        if u is None:
            raise ValueError("aby3.pair_level: party 1 must pass its bits")
        v1g, v1p, s, sq2 = _draws(ctx.prg.pair(0), n_g, n_p, k - 1, n_q, nb)
        v2g, v2p, t, sq0 = _draws(ctx.prg.pair(2), n_g, n_p, k, n_q, nb)
        q = u[hi[real]] & u[lo[real]]
        u0 = u ^ t
        ctx.link.send(0, TAG_PAIR_MSG, np.concatenate([u0, q ^ sq0]))
        ctx.link.send(2, TAG_PAIR_MSG, np.concatenate([u[: k - 1] ^ s, q ^ sq2]))
        return Bits(v1g, v2g), Bits(v1p, v2p), Bits(u0, t)
    if c is None:
        raise ValueError(f"aby3.pair_level: party {rank} must pass the bits of component 0")
    partner = 2 if rank == 0 else 0
    own_g, own_p, mask, mask_q = _draws(ctx.prg.pair(OWNER_U), n_g, n_p, k - 1 if rank == 0 else k, n_q, nb)
    # my masks are the ones party 1 used for my partner: I am its helper
    hg, hp = _linear(c, mask, _expand_q(mask_q, real, nb), hi, lo, p_from, const=False)
    ctx.link.send(partner, TAG_PAIR_HELP, np.concatenate([hg ^ own_g, hp ^ own_p]))
    n_u = k if rank == 0 else k - 1
    got = np.asarray(ctx.link.recv(OWNER_U, TAG_PAIR_MSG)).reshape(n_u + n_q, nb)
    help_ = np.asarray(ctx.link.recv(partner, TAG_PAIR_HELP)).reshape(n_g + n_p, nb)
    g, p = _linear(c, got[:n_u], _expand_q(got[n_u:], real, nb), hi, lo, p_from, const=True)
    v0g, v0p = g ^ help_[:n_g] ^ own_g, p ^ help_[n_g:] ^ own_p
    if rank == 0:
        return Bits(v0g, own_g), Bits(v0p, own_p), Bits(c, got[:k])
    return Bits(own_g, v0g), Bits(own_p, v0p), Bits(mask, c)
