"""Secret control flow: a secret cond becomes both branches plus select_n; a secret while is an error."""

from __future__ import annotations

import numpy as np
import pytest

from veil.errors import CompileError
from veil.ir.passes import secret_control, visibility
from veil.ir.program import Builder, Program
from veil.ir.serialize import dumps, loads
from veil.ir.verify import verify

from .irlib import BOOL, FXP, INT, PUB, SEC, Interp, T, const, emit1, ops_of


def _compile(p: Program) -> Program:
    visibility.run(p)
    secret_control.run(p)
    visibility.run(p)
    verify(p, check_flow=True)
    return p


def _switch(index_type, n_branches: int = 2) -> Program:
    """out = switch(index, [x + y, x * y, x - y, ...][:n]); second output passes y through."""
    b = Builder()
    idx = b.param(index_type, "i")
    x = b.param(T((2, 3)), "x")
    y = b.param(T((2, 3), FXP, PUB), "y")
    branches = []
    for k in range(n_branches):
        r = b.open_region([x.type, y.type])
        rx, ry = r.params
        z = emit1(b, ["add", "mul", "sub"][k], [rx, ry], T((2, 3)))
        b.close_region([z, ry])
        branches.append(r)
    outs = b.emit("cond", [idx, x, y], [T((2, 3)), T((2, 3), FXP, PUB)], {}, branches, loc="m.py:4 cond")
    return b.finish(outs)


@pytest.mark.parametrize("index_type, cases", [(T((), BOOL, SEC), [0, 1]), (T((), INT, SEC), [0, 1, 2])])
def test_secret_cond_becomes_select(index_type, cases) -> None:
    p = _switch(index_type, len(cases))
    ref = loads(dumps(p))
    _compile(p)
    ops = ops_of(p)
    assert "cond" not in ops and ops.count("select_n") == 1
    sel = next(op for op in p.walk() if op.opcode == "select_n")
    assert sel.inputs[0].type.shape == (2, 3) and sel.loc == "m.py:4 cond"
    assert p.outputs[1] is p.inputs[2]  # same value in every branch: no select needed
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
    for k in cases:
        want = Interp().run(ref, [np.array(k), x, y])
        got = Interp().run(p, [np.array(k), x, y])
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
        np.testing.assert_allclose(got[1], y)


def test_public_cond_is_kept() -> None:
    p = _compile(_switch(T((), BOOL, PUB)))
    assert ops_of(p).count("cond") == 1 and "select_n" not in ops_of(p)


def test_scalar_output_uses_the_predicate_directly() -> None:
    b = Builder()
    pred = b.param(T((), BOOL, SEC))
    x = b.param(T(()))
    branches = []
    for k in range(2):
        r = b.open_region([x.type])
        b.close_region([emit1(b, "neg", [r.params[0]], x.type) if k else r.params[0]])
        branches.append(r)
    (out,) = b.emit("cond", [pred, x], [x.type], {}, branches)
    p = _compile(b.finish([out]))
    sel = p.body.ops[-1]
    assert sel.opcode == "select_n" and sel.inputs == [pred, x, p.body.ops[0].outputs[0]]


def test_nested_secret_conds_and_cond_in_loop() -> None:
    b = Builder()
    pred = b.param(T((), BOOL, SEC))
    x = b.param(T((3,)))
    body = b.open_region([T((), INT, PUB), x.type, pred.type])
    _, c, bp = body.params
    outer = []
    for k in range(2):
        r = b.open_region([c.type, bp.type])
        rc, rp = r.params
        inner = []
        for j in range(2):
            q = b.open_region([rc.type])
            b.close_region([emit1(b, "add", [q.params[0], const(b, [float(k * 2 + j)] * 3)], rc.type)])
            inner.append(q)
        (z,) = b.emit("cond", [rp, rc], [rc.type], {}, inner)
        b.close_region([z])
        outer.append(r)
    (y,) = b.emit("cond", [bp, c, bp], [c.type], {}, outer)
    b.close_region([y])
    (out,) = b.emit("loop", [x, pred], [x.type], {"trip_count": 2, "n_carries": 1}, [body])
    p = b.finish([out])
    ref = loads(dumps(p))
    _compile(p)
    assert "cond" not in ops_of(p) and ops_of(p).count("select_n") == 3
    for flag in (False, True):
        args = [np.array(flag), np.arange(3.0)]
        np.testing.assert_allclose(Interp().run(p, args)[0], Interp().run(ref, args)[0])
        np.testing.assert_allclose(Interp().run(p, args)[0], np.arange(3.0) + 2 * (3.0 if flag else 0.0))


def _while(pred_vis) -> Program:
    b = Builder()
    acc = b.param(T((), FXP, pred_vis))
    cond = b.open_region([acc.type])
    b.close_region([emit1(b, "lt", [cond.params[0], const(b, 10.0)], T((), BOOL))])
    body = b.open_region([acc.type])
    b.close_region([emit1(b, "add", [body.params[0], const(b, 1.0)], acc.type)])
    outs = b.emit("while", [acc], [acc.type], {"n_carries": 1}, [cond, body], loc="train.py:42 while_loop")
    return b.finish(outs)


def test_secret_while_is_a_compile_error_with_the_fix() -> None:
    p = _while(SEC)
    with pytest.raises(CompileError) as e:
        _compile(p)
    msg = str(e.value)
    assert msg.startswith("while_loop with a secret predicate (at train.py:42 while_loop)")
    assert "fori_loop with Python int bounds" in msg and "fixed number of iterations" in msg


def test_public_while_is_fine() -> None:
    p = _compile(_while(PUB))
    assert ops_of(p).count("while") == 1
    np.testing.assert_allclose(Interp().run(p, [np.array(0.5)])[0], 10.5)
