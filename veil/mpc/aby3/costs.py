"""Declared costs of every ABY3 kernel: rounds and online bytes (all 3 parties) per call.

Functions of (numel, k, n) as `veil.mpc.kernels.Cost` expects; circuit costs are built from
the same gate schedules the circuits run; a bit plane of n elements takes ceil(n/8) bytes.
Truncation assumes bits <= k/2 (its two OT words then take k/2 bits; larger shifts send full
ring elements for them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from veil.mpc.aby3.adder import and_tree_gates, carry_tree_gates, kogge_stone_gates
from veil.mpc.kernels import ZERO, Cost, CostFn, const


@dataclass(frozen=True)
class ShapeCost(Cost):
    """A cost that depends on operand shapes (matmul): `of_shapes(shape_a, shape_b, k, n)`
    returns (rounds, online_bytes, offline_bytes); the numel fields read numel as result size."""

    of_shapes: Callable[[tuple[int, ...], tuple[int, ...], int, int], tuple[int, int, int]] | None = None


def _matmul_shapes(a: tuple[int, ...], b: tuple[int, ...], k: int, n: int) -> tuple[int, int, int]:
    """Only the (..., m, n) result travels: 3 ring elements per result element."""
    a2 = (1, *a) if len(a) == 1 else tuple(a)
    b2 = (*b, 1) if len(b) == 1 else tuple(b)
    batch = max(_prod(a2[:-2]), _prod(b2[:-2]))
    return 1, 3 * batch * a2[-2] * b2[-1] * (k // 8), 0


def _prod(shape: tuple[int, ...]) -> int:
    total = 1
    for s in shape:
        total *= int(s)
    return total


def _planes(numel: int, rows: int) -> int:
    """Bytes of `rows` bit planes of `numel` elements (8 elements per byte, rounded up)."""
    return rows * ((numel + 7) // 8)


def _ring(per_elem: int) -> CostFn:
    """`per_elem` ring elements per element of the operand, over all parties."""
    return lambda numel, k, n: per_elem * numel * (k // 8)


def _adder_inputs_bytes(numel: int, k: int) -> int:
    """ot.adder_inputs with g on rows 0..k-2: party 1 sends masked u (k planes) and L to party 0,
    masked u and L on the g rows to party 2; parties 0 and 2 send one correction plane per g row."""
    ng = k - 1
    return _planes(numel, k + ng) + _planes(numel, 2 * ng) + 2 * _planes(numel, ng)


def _pair_level_bytes(numel: int, k: int, n_g: int, n_p: int, n_q: int) -> int:
    """pairs.pair_level: party 1 sends masked u (k planes to party 0, k - 1 to party 2) and
    n_q masked products to each; parties 0 and 2 send n_g + n_p corrections each."""
    return _planes(numel, 2 * k - 1 + 2 * n_q) + 2 * _planes(numel, n_g + n_p)


def _levels_bytes(numel: int, gates: list[int]) -> int:
    return sum(3 * _planes(numel, g) for g in gates)


def _msb_bytes(numel: int, k: int, n: int) -> int:
    half = k // 2  # spans {0}, {1, 2}, ..., {k-3, k-2}
    return (
        _pair_level_bytes(numel, k, half, half - 1, half - 1)
        + _levels_bytes(numel, carry_tree_gates(half))
        + 4 * numel * (k // 8)
    )


def _eqz_bytes(numel: int, k: int, n: int) -> int:
    return _planes(numel, k) + _levels_bytes(numel, and_tree_gates(k)) + 4 * numel * (k // 8)


def _a2b_bytes(numel: int, k: int, n: int) -> int:
    return _pair_level_bytes(numel, k, k - 1, k - 2, k - 2) + _levels_bytes(
        numel, kogge_stone_gates(k - 1, start=2)
    )


def _b2a_bytes(numel: int, k: int, n: int) -> int:
    return (
        _adder_inputs_bytes(numel, k) + _levels_bytes(numel, kogge_stone_gates(k - 1)) + 2 * _planes(numel, k)
    )


def _trunc_bytes(numel: int, k: int, n: int) -> int:
    return numel * (k // 8 + k // 16 + k // 16 + k // 8)  # X: y_XY + M1, Y: W, Z: tau - rho2


def _mul_trunc_bytes(numel: int, k: int, n: int) -> int:
    return _trunc_bytes(numel, k, n) + 2 * numel * (k // 8)  # + Y and Z swap product terms


ONE = const(1)
TWO = const(2)

COSTS: dict[str, Cost] = {
    "p2s": Cost(),
    "s2p": Cost(ONE, _ring(3)),
    "s2v": Cost(ONE, _ring(1)),
    "v2s": Cost(ONE, _ring(1)),
    "add_ss": Cost(),
    "add_sp": Cost(),
    "neg_s": Cost(),
    "sum_s": Cost(),
    "mul_sp": Cost(),
    "matmul_sp": Cost(),
    "matmul_ps": Cost(),
    "mul_ss": Cost(ONE, _ring(3)),
    "square_s": Cost(ONE, _ring(3)),
    "matmul_ss": ShapeCost(
        ONE, _ring(3), ZERO, "numel = elements of the (..., m, n) result", of_shapes=_matmul_shapes
    ),
    "trunc_s": Cost(
        TWO, _trunc_bytes, ZERO, "<= 1 LSB (floor or floor + 1); exact range |x| < 2^(k-2); bits <= k/2"
    ),
    "mul_trunc_ss": Cost(
        TWO, _mul_trunc_bytes, ZERO, "<= 1 LSB (floor or floor + 1); exact range |a b| < 2^(k-2); bits <= k/2"
    ),
    "msb_s": Cost(lambda numel, k, n: 2 + len(carry_tree_gates(k // 2)), _msb_bytes),
    "eqz_s": Cost(lambda numel, k, n: 2 + len(and_tree_gates(k)), _eqz_bytes),
    "a2b": Cost(lambda numel, k, n: 1 + len(kogge_stone_gates(k - 1, start=2)), _a2b_bytes),
    "b2a": Cost(lambda numel, k, n: 2 + len(kogge_stone_gates(k - 1)), _b2a_bytes),
    "bit2a": Cost(ONE, _ring(4)),
    "rand_bits_s": Cost(ONE, _ring(4)),
    "and_bb": Cost(ONE, _ring(3)),
    "xor_bb": Cost(),
    "and_bp": Cost(),
    "xor_bp": Cost(),
    "not_b": Cost(),
    "lshift_b": Cost(),
    "rshift_b": Cost(),
}
