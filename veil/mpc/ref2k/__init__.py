"""ref2k: plaintext ring arithmetic with the same fixed-point behaviour; the oracle in tests."""

from __future__ import annotations

from veil.mpc.kernels import Cost, KernelTable
from veil.mpc.ref2k import kernels as K


def _v2s_cost() -> Cost:
    return Cost(
        rounds=lambda numel, k, n: 1 if n > 1 else 0,
        online_bytes=lambda numel, k, n: (n - 1) * numel * k // 8,
        note="the owner sends its plaintext to the others (ref2k is not secure)",
    )


def register(table: KernelTable) -> None:
    """Register every kernel of veil.mpc.api; all are local except v2s (see its cost)."""
    free = Cost(note="local, plaintext")
    local = {
        "p2s": K.p2s,
        "s2p": K.s2p,
        "s2v": K.s2v,
        "add_ss": K.add_ss,
        "add_sp": K.add_ss,
        "neg_s": K.neg_s,
        "sum_s": K.sum_s,
        "mul_sp": K.mul_ss,
        "matmul_sp": K.matmul_ss,
        "matmul_ps": K.matmul_ps,
        "mul_ss": K.mul_ss,
        "square_s": K.square_s,
        "cube_s": K.cube_s,
        "matmul_ss": K.matmul_ss,
        "trunc_s": K.trunc_s,
        "mul_trunc_ss": K.mul_trunc_ss,
        "msb_s": K.msb_s,
        "eqz_s": K.eqz_s,
        "a2b": K.identity,
        "b2a": K.identity,
        "bit2a": K.bit2a,
        "and_bb": K.and_bb,
        "xor_bb": K.xor_bb,
        "and_bp": K.and_bb,
        "xor_bp": K.xor_bb,
        "not_b": K.not_b,
        "lshift_b": K.lshift_b,
        "rshift_b": K.rshift_b,
        "rand_bits_s": K.rand_bits_s,
    }
    for name, fn in local.items():
        table.register(name, fn, free)
    table.register("v2s", K.v2s, _v2s_cost())
