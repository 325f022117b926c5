"""Dead code elimination, including dead regions, unused cond outputs and unused loop constants."""

from __future__ import annotations

import numpy as np

from veil.ir.passes import dce
from veil.ir.program import Builder
from veil.ir.serialize import dumps, loads
from veil.ir.verify import verify

from .irlib import FXP, INT, PUB, Interp, T, const, emit1, ops_of


def test_unused_chains_and_loops_go() -> None:
    b = Builder()
    x = b.param(T((3,)))
    keep = emit1(b, "neg", [x], x.type)
    dead = emit1(b, "exp", [emit1(b, "mul", [x, const(b, [1.0] * 3)], x.type)], x.type)
    body = b.open_region([T((), INT, PUB), x.type])
    b.close_region([emit1(b, "add", [body.params[1], body.params[1]], x.type)])
    b.emit("loop", [dead], [x.type], {"trip_count": 2, "n_carries": 1}, [body])
    p = dce.run(b.finish([keep]))
    verify(p)
    assert ops_of(p) == ["neg"]
    assert p.meta["dce_removed"] == 5  # const, mul, exp, loop and the add in its body


def test_dead_ops_inside_regions_and_unused_loop_consts() -> None:
    b = Builder()
    x = b.param(T((3,)))
    k1 = b.param(T((3,), FXP, PUB))
    k2 = b.param(T((3,), FXP, PUB))
    body = b.open_region([T((), INT, PUB), x.type, k1.type, k2.type])
    _, c, bk1, bk2 = body.params
    emit1(b, "mul", [c, bk2], x.type)  # dead: the only reader of k2
    b.close_region([emit1(b, "add", [c, bk1], x.type)])
    (out,) = b.emit("loop", [x, k1, k2], [x.type], {"trip_count": 2, "n_carries": 1}, [body])
    p = dce.run(b.finish([out]))
    verify(p)
    loop = p.body.ops[0]
    assert [v.id for v in loop.inputs] == [x.id, k1.id]
    assert [v.id for v in body.params] == [body.params[0].id, c.id, bk1.id]
    assert ops_of(p) == ["loop", "add"]
    args = [np.arange(3.0), np.ones(3), np.zeros(3)]
    np.testing.assert_allclose(Interp().run(p, args)[0], np.arange(3.0) + 2)


def test_cond_unused_outputs_and_operands_are_pruned() -> None:
    b = Builder()
    i = b.param(T((), INT, PUB))
    x = b.param(T((2,)))
    y = b.param(T((2,)))
    branches = []
    for k in range(2):
        r = b.open_region([x.type, y.type])
        rx, ry = r.params
        b.close_region([emit1(b, "neg" if k else "abs", [rx], x.type), emit1(b, "exp", [ry], x.type)])
        branches.append(r)
    first, _unused = b.emit("cond", [i, x, y], [x.type, x.type], {}, branches)
    p = b.finish([first])
    ref = loads(dumps(p))
    dce.run(p)
    verify(p)
    cond = p.body.ops[0]
    assert len(cond.outputs) == 1 and [v.id for v in cond.inputs] == [i.id, x.id]
    assert all(len(r.params) == 1 and len(r.results) == 1 for r in cond.regions)
    assert "exp" not in ops_of(p)
    for k in (0, 1):
        args = [np.array(k), np.array([-1.0, 2.0]), np.zeros(2)]
        np.testing.assert_allclose(Interp().run(p, args)[0], Interp().run(ref, args)[0])


def test_nothing_to_remove() -> None:
    b = Builder()
    x = b.param(T((3,)))
    p = dce.run(b.finish([emit1(b, "neg", [x], x.type)]))
    assert ops_of(p) == ["neg"] and p.meta["dce_removed"] == 0
