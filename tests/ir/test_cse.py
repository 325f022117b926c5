"""Common-subexpression elimination: identical pure ops merge; anything different stays."""

from __future__ import annotations

import numpy as np

from veil.ir.passes import cse
from veil.ir.program import Builder
from veil.ir.verify import verify

from .irlib import FXP, INT, PUB, T, const, emit1, ops_of


def test_duplicates_merge_and_uses_follow() -> None:
    b = Builder()
    x = b.param(T((3,)))
    y = b.param(T((3,)))
    m1 = emit1(b, "mul", [x, y], x.type, trunc_bits=18)
    m2 = emit1(b, "mul", [y, x], x.type, trunc_bits=18)  # commutative: same product
    s = emit1(b, "add", [m1, m2], x.type)
    d1 = emit1(b, "sub", [x, y], x.type)
    d2 = emit1(b, "sub", [y, x], x.type)  # not commutative: stays
    t = emit1(b, "mul", [x, y], x.type, trunc_bits=0)  # different attrs: stays
    p = cse.run(b.finish([s, d1, d2, t, m2]))
    verify(p)
    assert ops_of(p) == ["mul", "add", "sub", "sub", "mul"]
    assert p.body.ops[1].inputs == [m1, m1] and p.outputs[-1] is m1
    assert p.meta["cse_merged"] == 1


def test_constants_merge_by_bytes_dtype_and_shape() -> None:
    b = Builder()
    big = np.linspace(0, 1, 1000)
    cs = [
        const(b, big), const(b, big.copy()), const(b, [1.0, 2.0]), const(b, [1.0, 2.0]), const(b, [1, 2], INT),
        const(b, [1.0, 2.5]), const(b, 0.0), const(b, -0.0),
    ]  # fmt: skip
    p = cse.run(b.finish(cs))
    verify(p)
    ids = [v.id for v in p.outputs]
    assert ids[0] == ids[1] and ids[2] == ids[3]
    assert len(set(ids)) == 6  # int [1, 2], [1, 2.5], 0.0 and -0.0 stay distinct


def test_attribute_types_matter() -> None:
    b = Builder()
    x = b.param(T((2, 3)))
    r1 = emit1(b, "reduce_sum", [x], T((3,)), axes=(0,))
    r2 = emit1(b, "reduce_sum", [x], T((3,)), axes=[0])  # a list, not a tuple: not provably equal
    r3 = emit1(b, "reduce_sum", [x], T((3,)), axes=(0,))
    p = cse.run(b.finish([r1, r2, r3]))
    assert [v.id for v in p.outputs] == [r1.id, r2.id, r1.id]


def test_regions_are_scoped_and_control_ops_never_merge() -> None:
    b = Builder()
    x = b.param(T(()))
    loops = []
    for _ in range(2):
        body = b.open_region([T((), INT, PUB), x.type])
        c = body.params[1]
        n1 = emit1(b, "neg", [c], x.type)
        n2 = emit1(b, "neg", [c], x.type)
        b.close_region([emit1(b, "add", [n1, n2], x.type)])
        (out,) = b.emit("loop", [x], [x.type], {"trip_count": 1, "n_carries": 1}, [body])
        loops.append(out)
    p = cse.run(b.finish(loops))
    verify(p)
    assert ops_of(p) == ["loop", "neg", "add", "loop", "neg", "add"]
    assert ops_of(p).count("loop") == 2 and p.meta["cse_merged"] == 2


def test_visibility_is_part_of_the_key() -> None:
    b = Builder()
    x = b.param(T((3,), FXP, PUB))
    a = emit1(b, "neg", [x], T((3,), FXP, PUB))
    s = emit1(b, "neg", [x], T((3,)))
    p = cse.run(b.finish([a, s]))
    assert len(p.body.ops) == 2
