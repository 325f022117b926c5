"""semi2k's correlations: one recipe per kind, run by the clients and by the dealer in lockstep.

Offline bytes per correlated element (the last party's adjust): Beaver/square/AND one ring
element; cube two; 2PC truncation one 32-bit word; Escudero truncation two ring elements; b2a k/2 + 1 ring
elements; circuits (msb, eqz, a2b) one ring element plus the live products of their plans.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from veil.config import Field
from veil.mpc import circuits, ring
from veil.mpc.dealer import STOP, U8, Corr, Recipe, RecipeBook, Shared, uint_dtype
from veil.mpc.matmul import matmul
from veil.mpc.semi2k import beaver_cache, plans

__all__ = ["STOP", "RECIPES", "uint_dtype", "pow2_words", "pow2_decode", "PLANS"]

BEAVER, SQUARE, MATMUL, TRUNC2, TRUNCN, BIT, RAND_BITS, AND_WORD, B2A, CIRCUIT = range(1, 11)
CUBE = 12  # (a, a^2, a^3); 11 is beaver_cache.MATMUL_CACHED
MSB, EQZ, A2B = range(3)  # circuit ids (parameter of CIRCUIT)
PLANS = {MSB: plans.msb_plan, EQZ: plans.eqz_plan, A2B: plans.a2b_plan}


def _beaver(c: Corr, k: int, numel: int) -> tuple[Shared, ...]:
    dt = uint_dtype(k)
    a, b = c.rand(dt, numel), c.rand(dt, numel)
    return a, b, c.given(dt, numel, lambda: ring.mul(a.value, b.value))


def _square(c: Corr, k: int, numel: int) -> tuple[Shared, ...]:
    dt = uint_dtype(k)
    a = c.rand(dt, numel)
    return a, c.given(dt, numel, lambda: ring.mul(a.value, a.value))


def _cube(c: Corr, k: int, numel: int) -> tuple[Shared, ...]:
    """Powers of one mask: x^2 and x^3 of a secret x from a single opening of x - a."""
    dt = uint_dtype(k)
    a = c.rand(dt, numel)
    aa = c.given(dt, numel, lambda: ring.mul(a.value, a.value))
    return a, aa, c.given(dt, numel, lambda: ring.mul(aa.value, a.value))


def _matmul(c: Corr, k: int, ba: int, bb: int, m: int, kk: int, nn: int) -> tuple[Shared, ...]:
    dt = uint_dtype(k)
    u, v = c.rand(dt, (ba, m, kk)), c.rand(dt, (bb, kk, nn))
    return u, v, c.given(dt, (max(ba, bb), m, nn), lambda: matmul(u.value, v.value))


def _trunc2(c: Corr, width: int, numel: int) -> tuple[Shared, ...]:
    """Product of private values: P0 holds u, P1 holds v, shares z0 + z1 = u * v (mod 2^width)."""
    dt = uint_dtype(width)
    u, v = c.private(0, dt, numel), c.private(1, dt, numel)
    return u, v, c.given(dt, numel, lambda: mul_any(u.value, v.value))


def _truncn(c: Corr, k: int, numel: int, m: int) -> tuple[Shared, ...]:
    """r uniform, [r_{k-1}] and [ceil((r mod 2^(k-1)) / 2^m)] (Escudero et al. 2020, with a
    ceiling so that both truncations share one error model: floor or one less before the final +1)."""
    dt = uint_dtype(k)
    r = c.rand(dt, numel)
    top = c.given(dt, numel, lambda: ring.msb(r.value))

    def low() -> np.ndarray:
        r_low = ring.rshift_logical(ring.lshift(r.value, 1), 1)
        return ring.rshift_logical(ring.add(r_low, ring.full(Field(k), (), (1 << m) - 1)), m)

    return r, top, c.given(dt, numel, low)


def _bit(c: Corr, k: int, numel: int) -> tuple[Shared, ...]:
    """A random bit per element: packed XOR shares and arithmetic shares."""
    s = c.rand(U8, circuits.nbytes_of(numel), xor=True)
    field = Field(k)
    return s, c.given(
        uint_dtype(k), numel, lambda: circuits.ring_from_bits(circuits.unpack(s.value, numel), field)
    )


def _rand_bits(c: Corr, k: int, numel: int) -> tuple[Shared, ...]:
    s = c.secret(U8, circuits.nbytes_of(numel))
    field = Field(k)
    return (
        c.given(
            uint_dtype(k), numel, lambda: circuits.ring_from_bits(circuits.unpack(s.value, numel), field)
        ),
    )


def _and_word(c: Corr, k: int, numel: int) -> tuple[Shared, ...]:
    dt = uint_dtype(k)
    a, b = c.rand(dt, numel, xor=True), c.rand(dt, numel, xor=True)
    return a, b, c.given(dt, numel, lambda: ring.and_(a.value, b.value), xor=True)


def pow2_words(k: int) -> list[tuple[int, int | None]]:
    """How b2a packs the k shares of t_j = r_j 2^j into k/2 + 1 words: word (lo, hi) holds t_lo
    (whose low `lo` bits are zero) and, in those low bits, the top `lo` bits of t_hi, hi = k - lo."""
    return [(0, None)] + [(j, k - j) for j in range(1, k // 2)] + [(k // 2, None)]


def pow2_decode(w: np.ndarray, lo: int, hi: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """A word -> (share of t_lo, share of t_hi) (each a multiple of 2^lo resp. 2^hi)."""
    t_lo = ring.lshift(ring.rshift_logical(w, lo), lo) if lo else w
    return t_lo, None if hi is None else ring.lshift(w, hi)


def _b2a(c: Corr, k: int, numel: int) -> tuple[Shared, ...]:
    """A random word r: XOR shares of r, and shares of every t_j = r_j 2^j packed by `pow2_words`
    (a share of t_j needs only k - j bits: about k/2 ring elements per element instead of k)."""
    dt = uint_dtype(k)
    r = c.rand(dt, numel, xor=True)

    def last_words(others: list[np.ndarray]) -> np.ndarray:
        out = np.empty((k // 2 + 1, numel), dt)
        for i, (lo, hi) in enumerate(pow2_words(k)):
            want_lo = ring.lshift(ring.bit(r.value, lo), lo)
            want_hi = None if hi is None else ring.lshift(ring.bit(r.value, hi), hi)
            for w in others:
                have_lo, have_hi = pow2_decode(w[i], lo, hi)
                want_lo = ring.sub(want_lo, have_lo)
                if hi is not None:
                    want_hi = ring.sub(want_hi, have_hi)
            out[i] = want_lo if hi is None else ring.or_(want_lo, ring.rshift_logical(want_hi, hi))
        return out

    return r, c.given_custom(dt, (k // 2 + 1, numel), last_words)


def _circuit(c: Corr, k: int, numel: int, which: int) -> tuple[Any, ...]:
    """edaBits (packed bit planes of r, arithmetic r) plus masks and products for every level.

    Products of XOR levels are packed (n_live, nbytes); those of the arithmetic (last) level are
    ring words (numel, n_live), element-major and row-chunked (`Corr.given_rows`): the clients
    expand them lazily and the dealer writes them chunk by chunk into the adjust.
    """
    field, dt, nb = Field(k), uint_dtype(k), circuits.nbytes_of(numel)
    plan = PLANS[which](k)
    r = c.rand(U8, (k, nb), xor=True)
    r_arith = c.given(dt, numel, lambda: circuits.ring_from_planes(r.value, numel, field))
    levels = []
    for lv in plan.levels:
        masks = c.rand(U8, (len(lv.opened), nb), xor=True)
        secrets = _secrets(masks, r)
        if lv.formula.arith:  # packed products once (n_live bits per element), rows per chunk
            packed = _once(lambda lv=lv, secrets=secrets: circuits.dealer_products(lv, secrets(), numel))
            prods = c.given_rows(
                dt,
                (numel, lv.n_live),
                lambda lo, hi, packed=packed: circuits.arith_rows(packed(), lo, hi, field),
            )
        else:
            prods = c.given(
                U8,
                (lv.n_live, nb),
                lambda lv=lv, secrets=secrets: circuits.dealer_products(lv, secrets(), numel),
                xor=True,
            )
        levels.append((masks, prods))
    return r, r_arith, levels


def _once(fn: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    """fn(), computed on the first call and kept."""
    memo: list[np.ndarray] = []

    def get() -> np.ndarray:
        if not memo:
            memo.append(fn())
        return memo[0]

    return get


def _secrets(masks: Shared, r: Shared) -> Callable[[], np.ndarray]:
    """Dealer: a level's secret space [masks | data bits u = ~r | zero], built once on first use."""
    memo: list[np.ndarray] = []

    def get() -> np.ndarray:
        if not memo:
            zero = np.zeros((1, r.value.shape[1]), U8)
            memo.append(np.concatenate([masks.value, ~r.value, zero]))
        return memo[0]

    return get


def mul_any(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.dtype == ring.U128:
        return ring.mul(a, b)
    return np.multiply(a, b, dtype=a.dtype)  # ufunc calls wrap without warnings


RECIPES: RecipeBook = {
    BEAVER: Recipe(_beaver, 2),
    SQUARE: Recipe(_square, 2),
    CUBE: Recipe(_cube, 2),
    MATMUL: Recipe(_matmul, 6),
    TRUNC2: Recipe(_trunc2, 2),
    TRUNCN: Recipe(_truncn, 3),
    BIT: Recipe(_bit, 2),
    RAND_BITS: Recipe(_rand_bits, 2),
    AND_WORD: Recipe(_and_word, 2),
    B2A: Recipe(_b2a, 2),
    CIRCUIT: Recipe(_circuit, 3),
    beaver_cache.MATMUL_CACHED: Recipe(beaver_cache.matmul_cached_recipe, 7),
}
