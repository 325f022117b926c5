"""Visibility dispatch for raw ring ops on HAL Values. The ring layer (this module and `ring_bits`,
its sign-bit / zero-test / bitwise part) is the only HAL code that calls `veil.mpc.api`.

Raw (`_`-prefixed) ops do not check dtypes: they compute in Z_2^k and label the result with a
dtype and fraction-bit count derived from the inputs (overridable by keyword). Dispatch rules:
- PUBLIC x PUBLIC: local ring arithmetic (every party computes the same thing);
- PRIVATE operands of one owner (possibly with PUBLIC ones): the owner computes in plaintext
  ring arithmetic, others hold None, the result stays PRIVATE;
- anything else: PRIVATE operands are secret-shared by their owner (`v2s`) and the secret
  kernels run (`*_sp` for public x secret, `*_ss` for secret x secret).
Binary ops broadcast like numpy (payloads are broadcast before a kernel sees them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from veil.dtypes import DType, Visibility
from veil.hal.value import Value
from veil.mpc import api
from veil.mpc import ring as R
from veil.mpc.context import ProtocolContext

PUBLIC, SECRET, PRIVATE = Visibility.PUBLIC, Visibility.SECRET, Visibility.PRIVATE
RingFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


# ---------------------------------------------------------------------------------------------
# small helpers


def make(
    x: Value,
    payload: np.ndarray | None,
    *,
    shape: Sequence[int] | None = None,
    dtype: DType | None = None,
    fxp_bits: int | None = None,
    vis: Visibility | None = None,
    owner: int | None = -1,
) -> Value:
    """A Value like `x` with a new payload and any fields overridden."""
    return Value(
        tuple(x.shape if shape is None else shape),
        x.dtype if dtype is None else dtype,
        x.vis if vis is None else vis,
        x.fxp_bits if fxp_bits is None else fxp_bits,
        payload,
        x.owner if owner == -1 else owner,
    )


def public(ctx: ProtocolContext, payload: np.ndarray, dtype: DType, fxp_bits: int = 0) -> Value:
    """Wrap a ring array that every party holds identically."""
    payload = np.asarray(payload)
    return Value(tuple(payload.shape), dtype, PUBLIC, fxp_bits, payload)


def ring_int(ctx: ProtocolContext, shape: Sequence[int], value: int) -> np.ndarray:
    """A public ring array filled with the Python int `value` (mod 2^k)."""
    return R.full(ctx.field, tuple(shape), int(value))


def bcast_payload(p: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Broadcast a payload to `shape` as a contiguous array (kernels expect equal shapes)."""
    if p is None or p.shape == shape:
        return p
    return np.require(np.broadcast_to(p, shape), requirements=["C", "W"])


def bcast(x: Value, shape: Sequence[int]) -> Value:
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return make(x, bcast_payload(x.payload, shape), shape=shape)


def _sum_dtype(x: Value, y: Value) -> DType:
    if DType.FXP in (x.dtype, y.dtype):
        return DType.FXP
    return DType.INT


def _prod_dtype(x: Value, y: Value) -> DType:
    if DType.FXP in (x.dtype, y.dtype):
        return DType.FXP
    if x.dtype is DType.BOOL and y.dtype is DType.BOOL:
        return DType.BOOL
    return DType.INT


def _private_owner(*xs: Value) -> int | None:
    """The common owner if every non-public operand is PRIVATE to one party, else None."""
    owners = {x.owner for x in xs if not x.is_public}
    if any(x.is_secret for x in xs) or len(owners) != 1:
        return None
    return owners.pop()


def to_secret(ctx: ProtocolContext, x: Value) -> Value:
    """Share a value: p2s for PUBLIC (no messages), v2s for PRIVATE (the owner sends shares)."""
    if x.is_secret:
        return x
    if x.is_public:
        return make(x, api.p2s(ctx, R.c_order(x.payload)), vis=SECRET, owner=None)
    if x.owner is None:
        raise ValueError("hal.to_secret: PRIVATE value without an owner")
    return make(x, api.v2s(ctx, x.payload, x.owner, x.shape), vis=SECRET, owner=None)


def reveal(ctx: ProtocolContext, x: Value) -> Value:
    """Open a value to every compute party (s2p); PRIVATE values are shared then opened."""
    if x.is_public:
        return x
    s = to_secret(ctx, x)
    return make(s, api.s2p(ctx, s.payload), vis=PUBLIC, owner=None)


def reveal_to(ctx: ProtocolContext, x: Value, rank: int) -> Value:
    """Open a value to party `rank` only: the result is PRIVATE(rank)."""
    if x.vis is PRIVATE and x.owner == rank:
        return x
    if x.is_public:
        return make(x, x.payload if ctx.rank == rank else None, vis=PRIVATE, owner=rank)
    s = to_secret(ctx, x)
    return make(s, api.s2v(ctx, s.payload, rank), vis=PRIVATE, owner=rank)


# ---------------------------------------------------------------------------------------------
# binary dispatch


def _binary(
    ctx: ProtocolContext,
    x: Value,
    y: Value,
    plain: RingFn,
    ss: RingFn,
    sp: RingFn,
    ps: RingFn,
    dtype: DType,
    fxp_bits: int,
    shape: tuple[int, ...] | None = None,
) -> Value:
    """Run a binary op by visibility; `shape` defaults to the broadcast shape (elementwise ops)."""
    if shape is None:
        if x.shape == y.shape:  # the common case: no broadcasting (np.broadcast_shapes ~2 us)
            shape = tuple(x.shape)
        else:
            shape = tuple(np.broadcast_shapes(x.shape, y.shape))
            x, y = bcast(x, shape), bcast(y, shape)
    if x.is_public and y.is_public:
        return Value(shape, dtype, PUBLIC, fxp_bits, plain(x.payload, y.payload))
    owner = _private_owner(x, y)
    if owner is not None:
        out = plain(x.payload, y.payload) if ctx.rank == owner else None
        return Value(shape, dtype, PRIVATE, fxp_bits, out, owner)
    if not x.is_public:
        x = to_secret(ctx, x)
    if not y.is_public:
        y = to_secret(ctx, y)
    if x.is_secret and y.is_secret:
        out = ss(x.payload, y.payload)
    elif x.is_secret:
        out = sp(x.payload, y.payload)
    else:
        out = ps(x.payload, y.payload)
    return Value(shape, dtype, SECRET, fxp_bits, out)


def _unary(
    ctx: ProtocolContext,
    x: Value,
    plain: Callable[[np.ndarray], np.ndarray],
    secret: Callable[[np.ndarray], np.ndarray],
    **over: object,
) -> Value:
    """Run a unary op: plaintext for PUBLIC (and at a PRIVATE owner), the kernel for SECRET."""
    if x.is_secret:
        return make(x, secret(x.payload), **over)  # type: ignore[arg-type]
    held = x.payload is not None
    return make(x, plain(x.payload) if held else None, **over)  # type: ignore[arg-type]


def _add(
    ctx: ProtocolContext, x: Value, y: Value, *, dtype: DType | None = None, fxp_bits: int | None = None
) -> Value:
    """x + y mod 2^k (no encoding checks; result fxp_bits = max of the inputs')."""
    return _binary(
        ctx,
        x,
        y,
        R.add,
        lambda a, b: api.add_ss(ctx, a, b),
        lambda a, p: api.add_sp(ctx, a, p),
        lambda p, a: api.add_sp(ctx, a, p),
        dtype or _sum_dtype(x, y),
        max(x.fxp_bits, y.fxp_bits) if fxp_bits is None else fxp_bits,
    )


def _neg(ctx: ProtocolContext, x: Value) -> Value:
    return _unary(ctx, x, R.neg, lambda a: api.neg_s(ctx, a))


def _sub(
    ctx: ProtocolContext, x: Value, y: Value, *, dtype: DType | None = None, fxp_bits: int | None = None
) -> Value:
    """x - y mod 2^k."""
    return _binary(
        ctx,
        x,
        y,
        R.sub,
        lambda a, b: api.sub_ss(ctx, a, b),
        lambda a, p: api.add_sp(ctx, a, R.neg(p)),
        lambda p, a: api.add_sp(ctx, api.neg_s(ctx, a), p),
        dtype or _sum_dtype(x, y),
        max(x.fxp_bits, y.fxp_bits) if fxp_bits is None else fxp_bits,
    )


def _mul(
    ctx: ProtocolContext, x: Value, y: Value, *, dtype: DType | None = None, fxp_bits: int | None = None
) -> Value:
    """Raw ring product, no truncation: fxp_bits add up (public x secret is local)."""
    return _binary(
        ctx,
        x,
        y,
        R.mul,
        lambda a, b: api.mul_ss(ctx, a, b),
        lambda a, p: api.mul_sp(ctx, a, p),
        lambda p, a: api.mul_sp(ctx, a, p),
        dtype or _prod_dtype(x, y),
        x.fxp_bits + y.fxp_bits if fxp_bits is None else fxp_bits,
    )


def _square(ctx: ProtocolContext, x: Value) -> Value:
    """x * x mod 2^k (fxp_bits double); the protocol's square kernel when secret."""
    if x.is_secret:
        return make(x, api.square_s(ctx, x.payload), fxp_bits=2 * x.fxp_bits)
    return _mul(ctx, x, x)


def _cube(ctx: ProtocolContext, x: Value) -> tuple[Value, Value]:
    """(x^2, x^3) mod 2^k (fxp_bits doubled, tripled); one opening where the protocol has a
    cube kernel (semi2k), a square and a product elsewhere."""
    if x.is_secret:
        both = api.cube_s(ctx, x.payload)
        return make(x, both[0], fxp_bits=2 * x.fxp_bits), make(x, both[1], fxp_bits=3 * x.fxp_bits)
    sq = _mul(ctx, x, x)
    return sq, _mul(ctx, sq, x)


def has_cube(ctx: ProtocolContext) -> bool:
    """True when x^2 and x^3 cost one round together (the protocol has a cube kernel)."""
    return ctx.table.has("cube_s")


def _mul_int(ctx: ProtocolContext, x: Value, c: int) -> Value:
    """x * c for a public Python int c (local; the encoding of x is kept)."""
    cv = public(ctx, ring_int(ctx, (), c), DType.INT)
    return _mul(ctx, x, cv, dtype=x.dtype, fxp_bits=x.fxp_bits)


def _lshift(
    ctx: ProtocolContext, x: Value, bits: int, *, dtype: DType | None = None, fxp_bits: int | None = None
) -> Value:
    """x * 2^bits (local); fxp_bits grow by `bits` unless overridden."""
    fb = x.fxp_bits + bits if fxp_bits is None else fxp_bits
    if bits == 0:
        return make(x, x.payload, dtype=dtype, fxp_bits=fb)
    if x.is_secret:
        out = api.mul_sp(ctx, x.payload, ring_int(ctx, x.shape, 1 << bits))
        return make(x, out, dtype=dtype, fxp_bits=fb)
    return _unary(ctx, x, lambda a: R.lshift(a, bits), lambda a: a, dtype=dtype, fxp_bits=fb)


def _trunc(
    ctx: ProtocolContext, x: Value, bits: int, *, dtype: DType | None = None, fxp_bits: int | None = None
) -> Value:
    """Arithmetic shift right by `bits` (fxp_bits shrink by `bits`, floored at 0).

    Public and private values shift exactly; secret values use the protocol's truncation
    (probabilistic: at most 1 LSB error, exact semantics for |x| < 2^(k-2)).
    """
    if bits < 0:
        raise ValueError(f"hal._trunc: bits={bits} must be >= 0")
    fb = max(0, x.fxp_bits - bits) if fxp_bits is None else fxp_bits
    if bits == 0:
        return make(x, x.payload, dtype=dtype, fxp_bits=fb)
    return _unary(
        ctx,
        x,
        lambda a: R.rshift_arith(a, bits),
        lambda a: api.trunc_s(ctx, a, bits),
        dtype=dtype,
        fxp_bits=fb,
    )


def _trunc_segments(ctx: ProtocolContext, x: Value, segments: tuple[tuple[int, int], ...]) -> Value:
    """Flat x cut into consecutive ((count, bits), ...) segments, each shifted by its own bits
    (fxp_bits unchanged: the caller sets them); one round where `has_trunc_segments`."""
    pieces = np.cumsum([0] + [c for c, _ in segments])

    def plain(a: np.ndarray) -> np.ndarray:
        parts = zip(pieces[:-1], pieces[1:], segments)
        return np.concatenate([R.rshift_arith(a[lo:hi], m) for lo, hi, (_, m) in parts])

    return _unary(ctx, x, plain, lambda a: api.trunc_segments_s(ctx, a, segments))


def has_trunc_segments(ctx: ProtocolContext) -> bool:
    """True when truncations by different shifts share one round (semi2k 2PC)."""
    return ctx.table.has("trunc_segments_s")


def _mul_trunc(ctx: ProtocolContext, x: Value, y: Value, bits: int, *, dtype: DType | None = None) -> Value:
    """(x * y) >> bits, fused into one kernel for secret x secret when the protocol has one."""
    shape = tuple(np.broadcast_shapes(x.shape, y.shape))
    if x.is_secret and y.is_secret and bits > 0:
        x, y = bcast(x, shape), bcast(y, shape)
        out = api.mul_trunc_ss(ctx, x.payload, y.payload, bits)
        fb = max(0, x.fxp_bits + y.fxp_bits - bits)
        return Value(shape, dtype or _prod_dtype(x, y), SECRET, fb, out)
    return _trunc(ctx, _mul(ctx, x, y, dtype=dtype), bits)


def _sum(ctx: ProtocolContext, x: Value, axes: int | Sequence[int] | None) -> Value:
    """Sum over `axes` (local for every visibility)."""
    ax = None if axes is None else (axes if isinstance(axes, int) else tuple(int(a) for a in axes))
    norm = tuple(range(len(x.shape))) if ax is None else ((ax,) if isinstance(ax, int) else ax)
    norm = tuple(a % max(1, len(x.shape)) for a in norm)
    shape = tuple(d for i, d in enumerate(x.shape) if i not in norm)
    if x.is_secret:
        return make(x, api.sum_s(ctx, x.payload, ax), shape=shape)
    out = None if x.payload is None else np.asarray(R.sum(x.payload, axis=ax))
    return make(x, out, shape=shape)


def _plain_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact ring matmul of public arrays (batched like np.matmul)."""
    from veil.mpc import matmul as mm  # lazy: the BLAS limb-split lands in parallel

    return np.asarray(mm.matmul(a, b))


def _matmul(
    ctx: ProtocolContext, x: Value, y: Value, *, dtype: DType | None = None, keys: tuple = ()
) -> Value:
    """Ring matmul x (..., m, k) @ y (..., k, n) or (k, n); no truncation; keys: see hal.linalg."""
    if len(x.shape) < 2 or len(y.shape) < 2 or x.shape[-1] != y.shape[-2]:
        raise ValueError(
            f"hal._matmul: shapes {x.shape} @ {y.shape} do not chain; reshape to (..., m, k) @ (..., k, n)"
        )
    lead = x.shape[:-2] if len(x.shape) >= len(y.shape) else y.shape[:-2]
    if len(x.shape) < len(y.shape):
        x = bcast(x, (*lead, *x.shape[-2:]))
    shape = (*lead, x.shape[-2], y.shape[-1])
    return _binary(
        ctx,
        x,
        y,
        _plain_matmul,
        lambda a, b: api.matmul_ss_cached(ctx, a, b, *keys) if keys else api.matmul_ss(ctx, a, b),
        lambda a, p: api.matmul_sp(ctx, a, p),
        lambda p, a: api.matmul_ps(ctx, p, a),
        dtype or _prod_dtype(x, y),
        x.fxp_bits + y.fxp_bits,
        shape=shape,
    )


# ---------------------------------------------------------------------------------------------
# fused protocol functions


def exp_prime_range(ctx: ProtocolContext) -> tuple[float, float]:
    """(L, H): where `_exp_prime` is valid for this ring and fixed point (see mpc.api)."""
    return api.exp_prime_range(ctx.k, ctx.config.f)


def _exp_prime(ctx: ProtocolContext, x: Value, keep: Value) -> Value:
    """keep * exp(x) for a secret FXP x with the config's f bits and a secret 0/1 keep (semi2k
    2PC kernel `exp_prime_s`); valid where keep = 1 for x in exp_prime_range(ctx)."""
    if not (x.is_secret and keep.is_secret) or x.shape != keep.shape:
        raise ValueError("hal._exp_prime: needs secret x and keep of one shape")
    out = api.exp_prime_s(ctx, x.payload, keep.payload)
    return Value(x.shape, DType.FXP, SECRET, ctx.config.f, out)
