"""Declared costs of the semi2k kernels, as functions of (numel, k, n).

online bytes: all compute parties together; opens are all-to-all (n (n - 1) messages).
offline bytes: the 64-byte request of the last party plus the dealer's adjust.
`tests/mpc/test_costs.py` checks every number here against the in-memory link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from veil.mpc import circuits, dealer
from veil.mpc.kernels import ZERO, Cost, CostFn, const
from veil.mpc.semi2k import correlations

REQ = dealer.REQ_BYTES


@dataclass(frozen=True)
class ShapeCost(Cost):
    """A cost that depends on operand shapes, not only numel (matmul).

    `of_shapes(shape_a, shape_b, k, n) -> (rounds, online_bytes, offline_bytes)`; the plain
    numel-based fields read numel as a.size + b.size for online bytes and are exact only there.
    """

    of_shapes: Callable[[tuple[int, ...], tuple[int, ...], int, int], tuple[int, int, int]] | None = None


def _all2all(per_party: Callable[[int, int], int]) -> CostFn:
    """Bytes when every party sends `per_party(numel, k)` bytes to every other party."""
    return lambda numel, k, n: n * (n - 1) * per_party(numel, k)


def _offline(per_elem_bytes: Callable[[int, int], int]) -> CostFn:
    return lambda numel, k, n: REQ + per_elem_bytes(numel, k)


LOCAL = Cost(note="local")
S2P = Cost(const(1), _all2all(lambda e, k: e * k // 8))
S2V = Cost(const(1), lambda e, k, n: (n - 1) * e * k // 8)
V2S = Cost(note="no messages: shares come from pair streams with the owner")
MUL = Cost(const(1), _all2all(lambda e, k: 2 * e * k // 8), _offline(lambda e, k: e * k // 8))
SQUARE = Cost(const(1), _all2all(lambda e, k: e * k // 8), _offline(lambda e, k: e * k // 8))
CUBE = Cost(const(1), _all2all(lambda e, k: e * k // 8), _offline(lambda e, k: 2 * e * k // 8))
AND_BB = MUL
BIT2A = Cost(const(1), _all2all(lambda e, k: circuits.nbytes_of(e)), _offline(lambda e, k: e * k // 8))
B2A = Cost(const(1), _all2all(lambda e, k: e * k // 8), _offline(lambda e, k: e * (k // 2 + 1) * k // 8))
RAND_BITS = Cost(ZERO, ZERO, _offline(lambda e, k: e * k // 8))

TRUNC_2PC = Cost(
    const(1),
    _all2all(lambda e, k: 4 * e),
    _offline(lambda e, k: 4 * e),
    note="floor(x/2^m) or one more (stochastic rounding) for |x| < 2^(k-2); 4 bytes per element for shifts <= 32",
)
TRUNC_N = Cost(
    const(1),
    _all2all(lambda e, k: e * k // 8),
    _offline(lambda e, k: 2 * e * k // 8),
    note="Escudero et al. 2020: floor(x/2^m) or one more (stochastic rounding) for |x| < 2^(k-2)",
)
BIT_TRUNC_2PC = Cost(
    const(1),
    _all2all(lambda e, k: e * (2 * k // 8 + 8)),
    lambda e, k, n: 2 * REQ + e * (2 * k // 8 + 8),
    note="s * trunc(x, m) for a 0/1 secret s: trunc_2pc's error where s = 1, exactly 0 where s = 0; "
    "two ring and two 32-bit openings per element for shifts <= 32 (64-bit ones above)",
)
TRUNC_LOCAL = Cost(note="SecureML local truncation: 0 rounds; huge error with probability ~|x|/2^(k-1)")


def mul_trunc(trunc: Cost) -> Cost:
    return Cost(
        lambda e, k, n: 1 + trunc.rounds(e, k, n),
        lambda e, k, n: MUL.online_bytes(e, k, n) + trunc.online_bytes(e, k, n),
        lambda e, k, n: MUL.offline_bytes(e, k, n) + trunc.offline_bytes(e, k, n),
        note=trunc.note,
    )


def circuit(which: int) -> Cost:
    """Open c (k bits per element), then one packed opening per masked level."""
    plans = correlations.PLANS[which]

    def online(e: int, k: int, n: int) -> int:
        return n * (n - 1) * (e * k // 8 + plans(k).opened_bits() * circuits.nbytes_of(e))

    def offline(e: int, k: int, n: int) -> int:
        total = REQ + e * k // 8  # the arithmetic part of the edaBit
        for lv in plans(k).levels:
            total += lv.n_live * (e * k // 8 if lv.formula.arith else circuits.nbytes_of(e))
        return total

    return Cost(lambda e, k, n: 1 + plans(k).masked_levels, online, offline)


def _matmul_shapes(a: tuple[int, ...], b: tuple[int, ...], k: int, n: int) -> tuple[int, int, int]:
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    numel_a = _prod(a2)
    numel_b = _prod(b2)
    batch = max(_prod(a2[:-2]), _prod(b2[:-2]))
    out = batch * a2[-2] * b2[-1]
    return 1, n * (n - 1) * (numel_a + numel_b) * k // 8, REQ + out * k // 8


def _prod(shape: tuple[int, ...]) -> int:
    total = 1
    for s in shape:
        total *= int(s)
    return total


MATMUL = ShapeCost(
    const(1),
    _all2all(lambda e, k: e * k // 8),
    ZERO,
    note="numel = a.size + b.size; offline depends on the output shape (see of_shapes)",
    of_shapes=_matmul_shapes,
)
