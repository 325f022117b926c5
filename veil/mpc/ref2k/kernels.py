"""ref2k kernels: the "shares" are the plaintext ring arrays, identical on every party.

The oracle every other protocol is tested against (bit-exact where results are deterministic).
Everything is local; the only message is `v2s`, where the owner sends its plaintext to the
others when there is more than one party.
"""

from __future__ import annotations

import numpy as np

from veil.mpc import circuits, ring
from veil.mpc.context import ProtocolContext
from veil.mpc.matmul import matmul

TAG_V2S = "ref2k.v2s"


def mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Ring matmul with numpy's rules for 1-D operands (vector @ matrix, matrix @ vector)."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    out = matmul(a2, b2)
    if b.ndim == 1:
        out = out[..., 0]
    if a.ndim == 1:
        out = out[..., 0, :] if out.ndim >= 2 else out[0]
    return out


def p2s(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    return np.array(x, copy=True)


def s2p(ctx: ProtocolContext, x: np.ndarray) -> np.ndarray:
    return np.array(x, copy=True)


def s2v(ctx: ProtocolContext, x: np.ndarray, to: int) -> np.ndarray | None:
    return np.array(x, copy=True) if ctx.rank == to else None


def v2s(ctx: ProtocolContext, x: np.ndarray | None, owner: int, shape: tuple[int, ...]) -> np.ndarray:
    """The owner's plaintext becomes the public-to-all "share" (owner sends it when world > 1)."""
    if ctx.rank == owner:
        if x is None:
            raise ValueError(f"ref2k.v2s: party {owner} owns the value but passed None")
        for peer in range(ctx.world):
            if peer != owner:
                ctx.link.send(peer, TAG_V2S, np.require(x, requirements="C"))
        return np.array(x, copy=True).reshape(shape)
    return ctx.link.recv(owner, TAG_V2S).reshape(shape)


def add_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ring.add(a, b)


def neg_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return ring.neg(a)


def sum_s(ctx: ProtocolContext, a: np.ndarray, axis: int | tuple[int, ...] | None) -> np.ndarray:
    return ring.sum(a, axis=axis)


def mul_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ring.mul(a, b)


def square_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return ring.mul(a, a)


def cube_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    sq = ring.mul(a, a)
    return np.stack([sq, ring.mul(sq, a)])


def matmul_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return mm(a, b)


def matmul_ps(ctx: ProtocolContext, p: np.ndarray, a: np.ndarray) -> np.ndarray:
    return mm(p, a)


def trunc_s(ctx: ProtocolContext, a: np.ndarray, bits: int) -> np.ndarray:
    """Exact floor(x / 2^bits) of the signed value (other protocols may be 1 LSB lower)."""
    return ring.rshift_arith(a, bits)


def mul_trunc_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    return ring.rshift_arith(ring.mul(a, b), bits)


def msb_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return ring.msb(a)


def eqz_s(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    f = ring.field_of(a)
    return circuits.ring_from_bits(ring.equal(a, ring.zeros(f, a.shape)), f)


def identity(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    """a2b, b2a: a value's boolean share is the value itself."""
    return np.array(a, copy=True)


def bit2a(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return ring.bit(a, 0)


def and_bb(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ring.and_(a, b)


def xor_bb(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ring.xor(a, b)


def not_b(ctx: ProtocolContext, a: np.ndarray) -> np.ndarray:
    return ring.not_(a)


def lshift_b(ctx: ProtocolContext, a: np.ndarray, n: int) -> np.ndarray:
    return ring.lshift(a, n)


def rshift_b(ctx: ProtocolContext, a: np.ndarray, n: int) -> np.ndarray:
    return ring.rshift_logical(a, n)


def rand_bits_s(ctx: ProtocolContext, shape: tuple[int, ...]) -> np.ndarray:
    """Public-stream bits: every party draws the same values."""
    return circuits.ring_from_bits(ctx.prg.public.bits(tuple(shape)), ctx.field)
