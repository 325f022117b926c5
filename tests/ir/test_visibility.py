"""Visibility inference: joins, public consts, loop/while fixed points, cond joins, public indices."""

from __future__ import annotations

import pytest

from veil.errors import CompileError
from veil.ir.passes import visibility
from veil.ir.program import Builder, Program, Value
from veil.ir.types import TensorType
from veil.ir.verify import verify

from .irlib import BOOL, FXP, INT, PRIV, PUB, SEC, T, const, emit1


def _vis(v: Value) -> str:
    t = v.type
    return f"private@{t.owner}" if t.vis is PRIV else t.vis.value


def _run(p: Program) -> Program:
    visibility.run(p)
    verify(p, check_flow=True)
    return p


def test_joins_and_consts() -> None:
    b = Builder()
    pub = b.param(T((3,), FXP, PUB))
    a0 = b.param(T((3,), FXP, PRIV, 0))
    a0b = b.param(T((3,), FXP, PRIV, 0))
    a1 = b.param(T((3,), FXP, PRIV, 1))
    sec = b.param(T((3,), FXP, SEC))
    c = const(b, [1.0, 2.0, 3.0])
    # the frontend's guesses are overwritten: everything below starts out marked SECRET
    out = {
        "pp": emit1(b, "add", [pub, c], T((3,))),
        "private_same_owner": emit1(b, "mul", [a0, a0b], T((3,))),
        "private_and_public": emit1(b, "sub", [a0, pub], T((3,))),
        "two_owners": emit1(b, "add", [a0, a1], T((3,))),
        "secret": emit1(b, "add", [sec, pub], T((3,))),
        "compare": emit1(b, "lt", [pub, c], T((3,), BOOL)),
        "iota": emit1(b, "iota", [], T((3,), INT), shape=(3,), dimension=0),
    }
    c.type = c.type.with_vis(SEC)  # even a const marked secret becomes public again
    _run(b.finish(list(out.values())))
    assert {k: _vis(v) for k, v in out.items()} == {
        "pp": "public",
        "private_same_owner": "private@0",
        "private_and_public": "private@0",
        "two_owners": "secret",
        "secret": "secret",
        "compare": "public",
        "iota": "public",
    }
    assert _vis(c) == "public"


def _chain_loop(x_vis, s_vis) -> tuple[Program, list[Value], list[Value]]:
    """carries (a, b, c): a' = b, b' = c, c' = c + s. A secret s reaches a only on round 3."""
    b = Builder()
    a0 = b.param(T((2,), FXP, PUB))
    s = b.param(T((2,), FXP, s_vis, 0 if s_vis is PRIV else None))
    x = b.param(T((2,), FXP, x_vis))
    body = b.open_region([T((), INT, PUB), T((2,)), T((2,)), T((2,)), T((2,))])
    _, ca, cb, cc, cs = body.params
    c2 = emit1(b, "add", [cc, cs], T((2,)))
    b.close_region([cb, cc, c2])
    outs = b.emit("loop", [a0, a0, x, s], [T((2,))] * 3, {"trip_count": 4, "n_carries": 3}, [body])
    return b.finish(outs), body.params, outs


def test_loop_fixed_point_propagates_through_carries() -> None:
    p, params, outs = _chain_loop(PUB, SEC)
    _run(p)
    assert [_vis(v) for v in outs] == ["secret"] * 3
    assert [_vis(v) for v in params] == ["public", "secret", "secret", "secret", "secret"]


def test_loop_stays_public_and_private() -> None:
    p, params, outs = _chain_loop(PUB, PUB)
    _run(p)
    assert [_vis(v) for v in outs + params] == ["public"] * 8
    p, params, outs = _chain_loop(PUB, PRIV)
    _run(p)
    assert [_vis(v) for v in outs] == ["private@0"] * 3


def test_nested_loop_fixed_point() -> None:
    b = Builder()
    x = b.param(T((), FXP, PUB))
    s = b.param(T((), FXP, SEC))
    outer = b.open_region([T((), INT, PUB), T(()), T(())])
    _, oc, os = outer.params
    inner = b.open_region([T((), INT, PUB), T(()), T(())])
    _, ic, is_ = inner.params
    b.close_region([emit1(b, "mul", [ic, is_], T(()))])
    (r,) = b.emit("loop", [oc, os], [T(())], {"trip_count": 2, "n_carries": 1}, [inner])
    b.close_region([r])
    (out,) = b.emit("loop", [x, s], [T((), FXP, PUB)], {"trip_count": 2, "n_carries": 1}, [outer])
    _run(b.finish([out]))
    assert _vis(out) == "secret" and _vis(oc) == "secret" and _vis(ic) == "secret"


def _while(pred_from_secret: bool) -> tuple[Program, Value]:
    b = Builder()
    i = b.param(T((), INT, PUB))
    acc = b.param(T((), FXP, PUB))
    s = b.param(T((), FXP, SEC))
    cond = b.open_region([i.type, acc.type, s.type])
    ci, cacc, cs = cond.params
    if pred_from_secret:
        b.close_region([emit1(b, "lt", [cacc, cs], T((), BOOL))])
    else:
        b.close_region([emit1(b, "lt", [ci, const(b, 3, INT)], T((), BOOL))])
    body = b.open_region([i.type, acc.type, s.type])
    bi, bacc, bs = body.params
    ni = emit1(b, "add", [bi, const(b, 1, INT)], T((), INT))
    b.close_region([ni, emit1(b, "add", [bacc, bs], T(()))])
    outs = b.emit("while", [i, acc, s], [T((), INT, PUB), T((), FXP, PUB)], {"n_carries": 2}, [cond, body])
    return b.finish(outs), cond.results[0]


def test_while_fixed_point() -> None:
    p, pred = _while(pred_from_secret=False)
    _run(p)
    assert [_vis(v) for v in p.outputs] == ["public", "secret"]
    assert _vis(pred) == "public"


def test_while_secret_predicate_taints_every_carry() -> None:
    p, pred = _while(pred_from_secret=True)
    visibility.run(p)
    assert _vis(pred) == "secret"
    assert [_vis(v) for v in p.outputs] == ["secret", "secret"]  # the trip count leaks into i


def _cond(pred_vis, branch_secret: bool) -> tuple[Program, Value]:
    b = Builder()
    pred = b.param(T((), BOOL, pred_vis))
    x = b.param(T((2,), FXP, PUB))
    s = b.param(T((2,), FXP, SEC))
    branches = []
    for k in range(2):
        r = b.open_region([x.type, s.type])
        rx, rs = r.params
        b.close_region([emit1(b, "add", [rx, rs], T((2,))) if k and branch_secret else rx])
        branches.append(r)
    (out,) = b.emit("cond", [pred, x, s], [T((2,), FXP, SEC)], {}, branches)
    return b.finish([out]), out


def test_cond_joins_branches_and_predicate() -> None:
    p, out = _cond(PUB, branch_secret=False)
    _run(p)
    assert _vis(out) == "public"
    p, out = _cond(PUB, branch_secret=True)
    _run(p)
    assert _vis(out) == "secret"
    p, out = _cond(SEC, branch_secret=False)
    visibility.run(p)
    assert _vis(out) == "secret"


def _indexing(opcode: str, index_type: TensorType, operand_type: TensorType) -> Program:
    b = Builder()
    x = b.param(operand_type)
    i = b.param(index_type)
    if opcode == "gather":
        dn = {"offset_dims": (), "collapsed_slice_dims": (0,), "start_index_map": (0,),
              "operand_batching_dims": (), "start_indices_batching_dims": ()}  # fmt: skip
        y = emit1(b, "gather", [x, i], T((1,)), dimension_numbers=dn, slice_sizes=(1,), mode="clip",
                  fill_value=None)  # fmt: skip
    else:
        y = emit1(b, "dynamic_slice", [x, i], T((2,)), slice_sizes=(2,))
    b.current.ops[-1].loc = "model.py:5 x[i]"
    return b.finish([y])


@pytest.mark.parametrize("opcode", ["gather", "dynamic_slice"])
def test_secret_index_is_a_compile_error_with_fix(opcode: str) -> None:
    shape = (1, 1) if opcode == "gather" else ()
    p = _indexing(opcode, T(shape, INT, SEC), T((4,), FXP, PUB))
    with pytest.raises(
        CompileError, match=rf"secret index in {opcode} \(at model.py:5 x\[i\]\).*one-hot matmul"
    ):
        visibility.run(p)


def test_private_index_ok_only_when_everything_is_private_to_its_owner() -> None:
    p = _indexing("dynamic_slice", T((), INT, PRIV, 1), T((4,), FXP, PRIV, 1))
    _run(p)
    assert _vis(p.outputs[0]) == "private@1"
    p = _indexing("dynamic_slice", T((), INT, PRIV, 1), T((4,), FXP, SEC))
    with pytest.raises(CompileError, match="private to party 1"):
        visibility.run(p)
    p = _indexing("dynamic_slice", T((), INT, PUB), T((4,), FXP, SEC))
    _run(p)
    assert _vis(p.outputs[0]) == "secret"
