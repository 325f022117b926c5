"""ABY3 probabilistic truncation, standalone (trunc_s) and fused with a product (mul_trunc_ss).

Roles are fixed (deterministic costs): X = party 2, Y = party 0, Z = party 1 (what matters is
Y = X + 1, Z = X + 2 mod 3; this choice gives party 0 the lightest load). With
x' = x + 2^(k-2) in [0, 2^(k-1)) (valid for |x| < 2^(k-2)), the value is split 2-out-of-2 as
x' = A + B mod 2^k, A known to X only and B known to both Y and Z. Because x' < 2^(k-1), the wrap bit of A + B is
w = a OR b = a + b - ab with a = msb(A), b = msb(B), and

    x' >> m = (A >> m) + (B >> m) - w 2^(k-m) + c,   c in {0, 1} (carry of the low m bits).

We drop c and add 1, so the result is floor(x / 2^m) or one more (stochastic rounding: never
more than 1 LSB off, E[error] ~ 2^-m LSB, trunc(0) = 0 except with probability 2^-m).

ab (needed mod 2^m only) comes from a 3-party OT: X sends M1 = a - w0 + w1 to Z, Y (the
helper, who knows b) sends W = w_b to Z, where (w0, w1) is X and Y's pairwise randomness. Z
gets b M1 - W = ab - w0 and X keeps w0. The result is re-shared into the components held by
the pairs (X, Y), (Y, Z), (Z, X):
    y_XY = t_X - rho1,   y_YZ = rho2 - W 2^(k-m),   y_ZX = tau_Z + rho1 - rho2,
with rho1 from the (Z, X) PRG and rho2 from the (Y, Z) PRG, so each message is masked by
randomness its receiver does not know. M1 and W travel in k/2-bit words when m <= k/2.

trunc_s: A = X's two components, B = the third (Y's s1, Z's s0): 2 rounds, 3k/8 bytes/elem
(FM64: X 12, Y 4, Z 8 bytes). mul_trunc_ss: A = z_X, B = z_Y + z_Z after Y and Z swap their
3-out-of-3 product terms in the first round: 2 rounds, 5k/8 bytes/elem (FM64: X 12, Y 12, Z 16).
"""

from __future__ import annotations

import numpy as np

from veil.config import Field
from veil.mpc import ring
from veil.mpc.aby3.arithmetic import cross_mul
from veil.mpc.aby3.shares import check_world, contig, pack, unpack
from veil.mpc.context import ProtocolContext

X, Y, Z = 2, 0, 1
TAG_XY = "aby3.tr.y_xy"
TAG_M1 = "aby3.tr.m1"
TAG_W = "aby3.tr.w"
TAG_TAU = "aby3.tr.tau"
TAG_SWAP = "aby3.tr.swap"


def check_bits(ctx: ProtocolContext, bits: int, op: str) -> int:
    k = ctx.k
    if not isinstance(bits, (int, np.integer)) or not 1 <= int(bits) <= k - 2:
        raise ValueError(f"aby3.{op}: party {ctx.rank}: bits={bits!r} must be an int in [1, {k - 2}]")
    return int(bits)


# ------------------------------------------------------------------ words of m bits on the wire


def wire_dtype(field: Field, bits: int) -> np.dtype:
    """k/2-bit words when they hold m bits, else full ring elements."""
    if bits <= field.bits // 2:
        return np.dtype(np.uint32 if field is Field.FM64 else np.uint64)
    return ring.ring_dtype(field)


def _draw_words(stream: object, field: Field, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    dt = wire_dtype(field, bits)
    if dt == ring.ring_dtype(field):
        return stream.ring(field, shape)  # type: ignore[attr-defined]
    return stream.uint(shape, dt)  # type: ignore[attr-defined]


def _to_ring(w: np.ndarray, field: Field) -> np.ndarray:
    """Zero-extend words to ring elements (identity if they already are)."""
    w = np.asarray(w)
    if w.dtype == ring.ring_dtype(field):
        return w
    lo = w.astype(np.uint64)
    if field is Field.FM64:
        return lo
    out = np.zeros(w.shape, ring.U128)
    out["lo"] = lo
    return out


def _to_words(r: np.ndarray, field: Field, bits: int) -> np.ndarray:
    """The low bits of ring elements as wire words."""
    dt = wire_dtype(field, bits)
    if dt == ring.ring_dtype(field):
        return contig(r)
    lo = r if field is Field.FM64 else r["lo"]
    return contig(lo.astype(dt))


def _wrap_term(v: np.ndarray, k: int, m: int) -> np.ndarray:
    """v * 2^(k-m) mod 2^k."""
    return ring.lshift(v, k - m)


# ------------------------------------------------------------------------------------ roles


def _role_x(ctx: ProtocolContext, A: np.ndarray, m: int) -> np.ndarray:
    field, k = ctx.field, ctx.k
    shape = A.shape
    w = _to_ring(_draw_words(ctx.prg.pair(Y), field, m, (2, *shape)), field)
    rho1 = ctx.prg.pair(Z).ring(field, shape)
    a = ring.msb(A)
    t = ring.sub(ring.rshift_logical(A, m), _wrap_term(ring.sub(a, w[0]), k, m))
    t = ring.add(t, ring.full(field, (), 1 - (1 << (k - 2 - m))))
    y_xy = ring.sub(t, rho1)
    ctx.link.send(Y, TAG_XY, contig(y_xy))
    ctx.link.send(Z, TAG_M1, _to_words(ring.add(ring.sub(a, w[0]), w[1]), field, m))
    d = np.asarray(ctx.link.recv(Z, TAG_TAU)).reshape(shape)
    return pack(ring.add(d, rho1), y_xy)


def _role_y(ctx: ProtocolContext, B: np.ndarray, m: int) -> np.ndarray:
    field, k = ctx.field, ctx.k
    shape = B.shape
    w = _draw_words(ctx.prg.pair(X), field, m, (2, *shape))
    rho2 = ctx.prg.pair(Z).ring(field, shape)
    b = ring.to_int64(ring.msb(B)).astype(bool)
    W = contig(np.where(b, w[1], w[0]))
    ctx.link.send(Z, TAG_W, W)
    y_xy = np.asarray(ctx.link.recv(X, TAG_XY)).reshape(shape)
    y_yz = ring.sub(rho2, _wrap_term(_to_ring(W, field), k, m))
    return pack(y_xy, y_yz)


def _role_z(ctx: ProtocolContext, B: np.ndarray, m: int) -> np.ndarray:
    field, k = ctx.field, ctx.k
    shape = B.shape
    rho1 = ctx.prg.pair(X).ring(field, shape)
    rho2 = ctx.prg.pair(Y).ring(field, shape)
    M1 = _to_ring(np.asarray(ctx.link.recv(X, TAG_M1)).reshape(shape), field)
    b = ring.msb(B)
    tau = ring.sub(ring.rshift_logical(B, m), _wrap_term(ring.sub(b, ring.mul(b, M1)), k, m))
    ctx.link.send(X, TAG_TAU, contig(ring.sub(tau, rho2)))
    W = _to_ring(np.asarray(ctx.link.recv(Y, TAG_W)).reshape(shape), field)
    y_yz = ring.sub(rho2, _wrap_term(W, k, m))
    return pack(y_yz, ring.sub(ring.add(tau, rho1), rho2))


def _offset(field: Field) -> np.ndarray:
    return ring.full(field, (), 1 << (field.bits - 2))


# ---------------------------------------------------------------------------------- kernels


def trunc_s(ctx: ProtocolContext, a: np.ndarray, bits: int) -> np.ndarray:
    """Signed shift right by `bits` with <= 1 LSB error, exact range |x| < 2^(k-2); 2 rounds."""
    check_world(ctx, "trunc_s")
    m = check_bits(ctx, bits, "trunc_s")
    s0, s1 = unpack(a)
    if ctx.rank == X:
        return _role_x(ctx, ring.add(ring.add(s0, s1), _offset(ctx.field)), m)
    if ctx.rank == Y:
        return _role_y(ctx, contig(s1), m)
    return _role_z(ctx, contig(s0), m)


def mul_trunc_ss(ctx: ProtocolContext, a: np.ndarray, b: np.ndarray, bits: int) -> np.ndarray:
    """(a * b) >> bits fused: the product's re-sharing round doubles as the 2-of-2 split; 2 rounds."""
    check_world(ctx, "mul_trunc_ss")
    m = check_bits(ctx, bits, "mul_trunc_ss")
    z = cross_mul(ctx, a, b)
    if ctx.rank == X:
        return _role_x(ctx, ring.add(z, _offset(ctx.field)), m)
    peer = Z if ctx.rank == Y else Y
    ctx.link.send(peer, TAG_SWAP, contig(z))
    B = ring.add(z, np.asarray(ctx.link.recv(peer, TAG_SWAP)).reshape(z.shape))
    if ctx.rank == Y:
        return _role_y(ctx, B, m)
    return _role_z(ctx, B, m)
