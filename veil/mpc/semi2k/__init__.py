"""semi2k: N >= 2 parties, additive shares over Z_2^k, semi-honest, trusted dealer.

`register(table, world, trunc)` installs every kernel of `veil.mpc.api`; the truncation is
chosen here, visibly, by world size and config (see `veil.mpc.semi2k.truncation`).
"""

from __future__ import annotations

from veil.config import TruncMode
from veil.mpc.kernels import Cost, KernelTable
from veil.mpc.semi2k import (
    arithmetic,
    beaver_cache,
    bit_trunc,
    boolean,
    compare,
    correlations,
    costs,
    exp_prime,
    shares,
    truncation,
)


def pick_trunc(world: int, trunc: TruncMode) -> tuple[truncation.TruncFn, Cost]:
    """(kernel, cost) of trunc_s: local only if asked on 2 parties; 2PC wrap-bit; else Escudero."""
    if trunc is TruncMode.LOCAL and world == 2:
        return truncation.trunc_local, costs.TRUNC_LOCAL
    if world == 2:
        return truncation.trunc_2pc, costs.TRUNC_2PC
    return truncation.trunc_escudero, costs.TRUNC_N


def register(table: KernelTable, world: int, trunc: TruncMode = TruncMode.PROBABILISTIC) -> None:
    """Register semi2k's kernels for `world` compute parties."""
    if world < 2:
        raise ValueError(f"semi2k needs at least 2 compute parties, got world={world}")
    trunc_fn, trunc_cost = pick_trunc(world, trunc)
    S = shares
    entries = [
        ("p2s", S.p2s, costs.LOCAL),
        ("s2p", S.s2p, costs.S2P),
        ("s2v", S.s2v, costs.S2V),
        ("v2s", S.v2s, costs.V2S),
        ("add_ss", S.add_ss, costs.LOCAL),
        ("add_sp", S.add_sp, costs.LOCAL),
        ("neg_s", S.neg_s, costs.LOCAL),
        ("sum_s", S.sum_s, costs.LOCAL),
        ("mul_sp", S.mul_sp, costs.LOCAL),
        ("matmul_sp", S.matmul_sp, costs.LOCAL),
        ("matmul_ps", S.matmul_ps, costs.LOCAL),
        ("mul_ss", arithmetic.mul_ss, costs.MUL),
        ("square_s", arithmetic.square_s, costs.SQUARE),
        ("cube_s", arithmetic.cube_s, costs.CUBE),
        ("matmul_ss", arithmetic.matmul_ss, costs.MATMUL),
        ("matmul_ss_cached", beaver_cache.matmul_ss_cached, beaver_cache.MATMUL_CACHED_COST),
        ("matmul_ss_many", beaver_cache.matmul_ss_many, beaver_cache.MATMUL_MANY_COST),
        ("trunc_s", trunc_fn, trunc_cost),
        ("mul_trunc_ss", truncation.make_mul_trunc(trunc_fn), costs.mul_trunc(trunc_cost)),
        ("msb_s", compare.msb_s, costs.circuit(correlations.MSB)),
        ("eqz_s", compare.eqz_s, costs.circuit(correlations.EQZ)),
        ("a2b", compare.a2b, costs.circuit(correlations.A2B)),
        ("b2a", boolean.b2a, costs.B2A),
        ("bit2a", boolean.bit2a, costs.BIT2A),
        ("and_bb", boolean.and_bb, costs.AND_BB),
        ("xor_bb", S.xor_bb, costs.LOCAL),
        ("and_bp", S.and_bp, costs.LOCAL),
        ("xor_bp", S.xor_bp, costs.LOCAL),
        ("not_b", S.not_b, costs.LOCAL),
        ("lshift_b", S.lshift_b, costs.LOCAL),
        ("rshift_b", S.rshift_b, costs.LOCAL),
        ("rand_bits_s", boolean.rand_bits_s, costs.RAND_BITS),
    ]
    if world == 2 and trunc_fn is truncation.trunc_2pc:  # mixed shifts in one round
        entries.append(("trunc_segments_s", truncation.trunc_2pc_segments, costs.TRUNC_2PC))
        entries.append(("bit_trunc_s", bit_trunc.bit_trunc_2pc, costs.BIT_TRUNC_2PC))  # s * trunc(x), 1 round
        # ... and plain truncations in the same round (cost declared for the selected part)
        entries.append(("bit_trunc_mixed_s", bit_trunc.bit_trunc_mixed_2pc, costs.BIT_TRUNC_2PC))
    if world == 2:  # local exponentiation of shares needs exactly two of them
        entries.append(("exp_prime_s", exp_prime.exp_prime_s, exp_prime.COST))
    for name, fn, cost in entries:
        table.register(name, fn, cost)
