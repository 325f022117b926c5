"""ABY3: 3 parties, 2-out-of-3 replicated secret sharing over Z_2^k, semi-honest, no dealer.

Party i holds (x_i, x_{i+1 mod 3}) as one structured array (see `shares`). Pairwise PRGs give
replicated randomness and zero-sharings without messages. `register(table)` adds every kernel
of `veil.mpc.api` with its declared cost (`costs.COSTS`); it is an explicit call, never an
import side effect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from veil.mpc.aby3 import arithmetic, boolean, conversion, truncation
from veil.mpc.aby3.costs import COSTS
from veil.mpc.kernels import KernelTable

KERNELS: dict[str, Callable[..., Any]] = {
    "p2s": arithmetic.p2s,
    "s2p": arithmetic.s2p,
    "s2v": arithmetic.s2v,
    "v2s": arithmetic.v2s,
    "add_ss": arithmetic.add_ss,
    "add_sp": arithmetic.add_sp,
    "neg_s": arithmetic.neg_s,
    "sum_s": arithmetic.sum_s,
    "mul_sp": arithmetic.mul_sp,
    "matmul_sp": arithmetic.matmul_sp,
    "matmul_ps": arithmetic.matmul_ps,
    "mul_ss": arithmetic.mul_ss,
    "square_s": arithmetic.square_s,
    "matmul_ss": arithmetic.matmul_ss,
    "trunc_s": truncation.trunc_s,
    "mul_trunc_ss": truncation.mul_trunc_ss,
    "msb_s": conversion.msb_s,
    "eqz_s": conversion.eqz_s,
    "a2b": conversion.a2b,
    "b2a": conversion.b2a,
    "bit2a": conversion.bit2a,
    "rand_bits_s": conversion.rand_bits_s,
    "and_bb": boolean.and_bb,
    "xor_bb": boolean.xor_bb,
    "and_bp": boolean.and_bp,
    "xor_bp": boolean.xor_bp,
    "not_b": boolean.not_b,
    "lshift_b": boolean.lshift_b,
    "rshift_b": boolean.rshift_b,
}


def register(table: KernelTable) -> None:
    """Register every ABY3 kernel with its declared cost."""
    for name, fn in KERNELS.items():
        table.register(name, fn, COSTS[name])


__all__ = ["KERNELS", "register"]
