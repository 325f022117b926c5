"""Every kernel's declared Cost equals what the in-memory link measures.

For each protocol available (ref2k on 1 and 2 parties, semi2k on 2, 3 and 4, aby3 on 3 if the
package exists), each field and a few sizes, every registered kernel runs over link/memory and
its measured (rounds = max over parties, online bytes sent by all parties, offline bytes to and
from the dealer) must equal the declaration in its KernelTable.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest

from tests.mpc.protocol_harness import Arith, Bool, Pub, declared, make_config, measure_kernels, run_protocol
from veil.config import DEFAULT_FXP_BITS, Field
from veil.mpc import ring
from veil.mpc.kernels import OperandKey
from veil.mpc.protocols import build_table

CONFIGS = [("ref2k", 1), ("ref2k", 2), ("semi2k", 2), ("semi2k", 3), ("semi2k", 4)]
if importlib.util.find_spec("veil.mpc.aby3") is not None and hasattr(
    importlib.import_module("veil.mpc.aby3"), "register"
):
    CONFIGS.append(("aby3", 3))
SIZES = [1, 13, 64]
INNER, COLS = 3, 4


def _uniform(rng: np.random.Generator, field: Field, shape: tuple[int, ...]) -> np.ndarray:
    lo = rng.integers(0, 2**64, size=shape, dtype=np.uint64)
    if field is Field.FM64:
        return lo
    out = np.empty(shape, ring.U128)
    out["lo"], out["hi"] = lo, rng.integers(0, 2**64, size=shape, dtype=np.uint64)
    return out


def calls_for(field: Field, numel: int, world: int) -> list[tuple[Any, ...]]:
    """One call per kernel name of veil.mpc.api, on inputs of `numel` elements."""
    rng = np.random.default_rng(numel)
    shape = (numel,)
    u = lambda *s: _uniform(rng, field, s)  # noqa: E731
    small = ring.rshift_arith(u(numel), field.bits // 2)  # |x| < 2^(k/2 - 1): valid for trunc
    f = DEFAULT_FXP_BITS[field]
    a, b, p = Arith(u(numel)), Bool(u(numel)), Pub(u(numel))
    return [
        ("p2s", p),
        ("s2p", a),
        ("s2v", a, min(1, world - 1)),
        ("v2s", p, 0, shape),
        ("add_ss", a, a),
        ("add_sp", a, p),
        ("neg_s", a),
        ("sum_s", a, 0),
        ("mul_sp", a, p),
        ("matmul_sp", Arith(u(numel, INNER)), Pub(u(INNER, COLS))),
        ("matmul_ps", Pub(u(COLS, numel)), Arith(u(numel, INNER))),
        ("mul_ss", a, Arith(u(numel))),
        ("square_s", a),
        ("cube_s", a),
        ("matmul_ss", Arith(u(numel, INNER)), Arith(u(INNER, COLS))),
        ("matmul_ss_cached", Arith(u(numel, INNER)), Arith(u(INNER, COLS)), None, None),  # a miss
        ("matmul_ss_many", Arith(u(numel, INNER)), Arith(u(INNER, COLS))),  # one product, no keys
        ("trunc_s", Arith(small), f),
        ("trunc_segments_s", Arith(small), ((numel // 2, f), (numel - numel // 2, f + 5))),  # semi2k 2PC
        ("mul_trunc_ss", Arith(small), Arith(small), f),
        (
            "bit_trunc_s",
            Arith(ring.from_int64(field, rng.integers(0, 2, numel))),
            Arith(small),
            f,
        ),  # semi2k 2PC
        (
            "bit_trunc_mixed_s",
            Arith(ring.from_int64(field, rng.integers(0, 2, numel))),
            Arith(small),
            Arith(small[:0]),
            f,
        ),
        ("msb_s", a),
        ("eqz_s", a),
        ("a2b", a),
        ("b2a", b),
        ("bit2a", b),
        ("and_bb", b, Bool(u(numel))),
        ("xor_bb", b, b),
        ("and_bp", b, p),
        ("xor_bp", b, p),
        ("not_b", b),
        ("lshift_b", b, 3),
        ("rshift_b", b, 3),
        ("rand_bits_s", shape),
        ("exp_prime_s", a, Arith(u(numel))),  # semi2k 2PC only
    ]


def _shapes(call: tuple[Any, ...]) -> tuple[tuple[int, ...], ...]:
    return tuple(arg.x.shape for arg in call[1:3] if hasattr(arg, "x"))


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
@pytest.mark.parametrize("protocol,world", CONFIGS, ids=[f"{p}-n{w}" for p, w in CONFIGS])
def test_declared_costs_match_measured(protocol: str, world: int, field: Field) -> None:
    table = build_table(make_config(protocol, world, field))
    names = set(table.names())
    for numel in SIZES:
        calls = calls_for(field, numel, world)
        assert names <= {c[0] for c in calls}, (
            f"kernels without a cost check: {names - {c[0] for c in calls}}"
        )
        calls = [c for c in calls if c[0] in names]
        runs = measure_kernels(protocol, world, field, calls, timeout=20.0)
        for call, run in zip(calls, runs):
            job = run.job
            want = declared(protocol, world, field, call[0], numel, shapes=_shapes(call))
            got = (job.rounds, job.online_bytes, job.offline_bytes)
            assert got == want, (
                f"{protocol} n={world} {field.name} {call[0]} numel={numel}: measured {got}, declared {want}"
            )


@pytest.mark.parametrize("field", [Field.FM64, Field.FM128], ids=lambda f: f.name)
@pytest.mark.parametrize("world", [2, 3])
def test_beaver_cache_hit_costs(world: int, field: Field) -> None:
    """matmul_ss_cached's cost depends on its cache: a fixed sequence (fill X and Y, hit X,
    hit X^T and Y) measured against the declared `of_hits`."""
    rng = np.random.default_rng(world)
    x, y, z = (
        _uniform(rng, field, (13, INNER)),
        _uniform(rng, field, (INNER, COLS)),
        _uniform(rng, field, (INNER, 2)),
    )
    seq = [("x", "y", False, False), ("x", "z", True, False), ("yt", "xt", True, True)]

    def fn(ctx, x, y, z):  # type: ignore[no-untyped-def]
        ops = {
            "x": (x, OperandKey(x, (0, 1))),
            "y": (y, OperandKey(y, (0, 1))),
            "z": (z, None),
            "xt": (x.T, OperandKey(x, (1, 0))),
            "yt": (y.T, OperandKey(y, (1, 0))),
        }
        snaps = []
        for a, b, _, _ in seq:
            ctx.link.stats.reset()
            ctx.table.lookup("matmul_ss_cached").fn(ctx, ops[a][0], ops[b][0], ops[a][1], ops[b][1])
            snaps.append(ctx.link.stats.snapshot())
        return snaps

    run = run_protocol("semi2k", world, field, fn, Arith(x), Arith(y), Arith(z), out="raw")
    cost = build_table(make_config("semi2k", world, field)).lookup("matmul_ss_cached").cost
    shapes = {"x": x.shape, "y": y.shape, "z": z.shape, "xt": x.T.shape, "yt": y.T.shape}
    for i, (a, b, hit_a, hit_b) in enumerate(seq):
        snaps = [party[i] for party in run.result]
        got = (
            max(s.rounds for s in snaps),
            sum(s.online.bytes_sent for s in snaps),
            sum(s.offline.bytes_sent + s.offline.bytes_recv for s in snaps),
        )
        assert got == cost.of_hits(shapes[a], shapes[b], hit_a, hit_b, field.bits, world), f"call {i}"
