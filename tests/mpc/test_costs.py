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

from tests.mpc.protocol_harness import Arith, Bool, Pub, declared, make_config, measure_kernels
from veil.config import DEFAULT_FXP_BITS, Field
from veil.mpc import ring
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
        ("matmul_ss", Arith(u(numel, INNER)), Arith(u(INNER, COLS))),
        ("trunc_s", Arith(small), f),
        ("mul_trunc_ss", Arith(small), Arith(small), f),
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
